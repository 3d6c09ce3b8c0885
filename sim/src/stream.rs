//! One simulated client's two byte streams: the frames it has written and
//! the router has not read yet, and what it receives, which the oracle
//! checks as it arrives. The single-router world and the cluster keep one
//! per client.

use std::collections::VecDeque;

use crate::oracle::Oracle;
use crate::payload::{self, MIN_LEN, Stamp};

#[derive(Debug, Default)]
pub(crate) struct ClientStream {
    /// Bytes written to the socket that the router has not read yet.
    unread: Vec<u8>,
    /// Tracked frames in `unread`: where each ends, what it is, and its
    /// destination.
    frames_in_flight: VecDeque<(usize, Stamp, u32)>,
    next_seq: u32,
    /// What the client has received: its ID first, then a partial payload.
    id_bytes: Vec<u8>,
    partial_payload: Vec<u8>,
}

impl ClientStream {
    /// Writes a tracked frame from `sender` to `dest`, its payload `len`
    /// bytes long (at least the tracked minimum).
    pub(crate) fn write_frame(&mut self, sender: u32, dest: u32, len: u16) {
        let stamp = Stamp {
            sender,
            seq: self.next_seq,
            len: u32::from(len).max(MIN_LEN as u32),
        };
        self.next_seq += 1;
        router_client::encode_frame(dest, &payload::encode(stamp), &mut self.unread)
            .expect("a tracked payload holds no 0x00");
        self.frames_in_flight
            .push_back((self.unread.len(), stamp, dest));
    }

    /// Writes raw bytes; `0xFF`, which only starts tracked payloads, becomes
    /// `0xFE`.
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) {
        self.unread.extend(
            bytes
                .iter()
                .map(|&b| if b == payload::MARKER { b - 1 } else { b }),
        );
    }

    /// Bytes written and not yet read by the router.
    pub(crate) fn unread_len(&self) -> usize {
        self.unread.len()
    }

    /// The router reads the first `n` unread bytes: returns them, and the
    /// tracked frames they complete with their destinations.
    pub(crate) fn read(&mut self, n: usize) -> (Vec<u8>, Vec<(Stamp, u32)>) {
        let n = n.min(self.unread.len());
        let chunk: Vec<u8> = self.unread.drain(..n).collect();
        let complete = self
            .frames_in_flight
            .partition_point(|&(end, _, _)| end <= n);
        let read_whole = self
            .frames_in_flight
            .drain(..complete)
            .map(|(_, stamp, dest)| (stamp, dest))
            .collect();
        for (end, _, _) in &mut self.frames_in_flight {
            *end -= n;
        }
        (chunk, read_whole)
    }

    /// The client closed its sending side: what it wrote and the router did
    /// not read is abandoned.
    pub(crate) fn abandon_unread(&mut self) {
        self.unread.clear();
        self.frames_in_flight.clear();
    }

    /// Client `id` received `bytes`: its ID first, then payloads, each
    /// checked by the oracle as its terminator arrives. Panics on a bad
    /// delivery.
    pub(crate) fn receive(
        &mut self,
        id: u32,
        mut bytes: &[u8],
        oracle: &mut Oracle,
        max_frame_bytes: usize,
    ) {
        if self.id_bytes.len() < 4 {
            let take = (4 - self.id_bytes.len()).min(bytes.len());
            self.id_bytes.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.id_bytes.len() == 4 {
                assert_eq!(
                    self.id_bytes,
                    id.to_be_bytes(),
                    "first 4 bytes are not the ID"
                );
            }
        }
        for &byte in bytes {
            if byte == 0 {
                let payload = std::mem::take(&mut self.partial_payload);
                if let Err(error) = oracle.check_delivered(id, &payload, max_frame_bytes) {
                    panic!("bad delivery: {error}");
                }
            } else {
                self.partial_payload.push(byte);
            }
        }
    }
}
