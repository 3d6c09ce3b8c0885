//! The reference model: what every delivery must agree with.
//!
//! The model of a router is tiny: which tracked frames each sender handed it,
//! and in which order. Every payload a client receives is checked against it as
//! it arrives (sent, whole, to this destination, after the pair's previous
//! frame), and at the end the router's counters must account for every frame
//! that was not delivered.

use std::collections::HashMap;

use router_core::frame::HEADER_LEN;

use crate::payload::{self, MARKER, Stamp};

/// Records what was sent and checks what is delivered.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Tracked frames the router has read whole: `(sender, seq)` to their
    /// destination, and whether it was open when the router read them.
    sent: HashMap<(u32, u32), (u32, bool)>,
    /// Per `(sender, dest)`: frames owed, frames delivered, last sequence delivered.
    pairs: HashMap<(u32, u32), PairLog>,
    /// Payloads delivered, tracked or not.
    delivered_frames: u64,
    /// Whether any client sent raw bytes, the only source of untracked payloads.
    garbage_sent: bool,
}

#[derive(Debug, Default, Clone, Copy)]
struct PairLog {
    /// Frames read while the destination was open: each must reach it
    /// unless it closes or the drop policy drops (and counts) the frame.
    owed: u64,
    delivered: u64,
    last_seq: Option<u32>,
}

impl Oracle {
    /// The router has read the last byte of this tracked frame, addressed to
    /// `dest`. Only a frame read while `dest` is open (connected, and not
    /// past its EOF) is owed to it; one to an ID not (or not yet) handed out,
    /// or to a closing client, must be dropped, even if a client gets that
    /// ID later.
    pub fn record_sent(&mut self, stamp: Stamp, dest: u32, dest_open: bool) {
        self.sent
            .insert((stamp.sender, stamp.seq), (dest, dest_open));
        if dest_open {
            self.pairs.entry((stamp.sender, dest)).or_default().owed += 1;
        }
    }

    /// A client sent raw bytes: untracked payloads may now be delivered.
    pub fn record_garbage(&mut self) {
        self.garbage_sent = true;
    }

    /// Checks a payload (terminator excluded) delivered to `dest`.
    pub fn check_delivered(
        &mut self,
        dest: u32,
        payload: &[u8],
        max_frame_bytes: usize,
    ) -> Result<(), String> {
        self.delivered_frames += 1;
        if payload.len() > max_frame_bytes {
            return Err(format!(
                "delivered {} bytes to {dest}, over max_frame_bytes {max_frame_bytes}",
                payload.len()
            ));
        }
        if payload.first() != Some(&MARKER) {
            return if self.garbage_sent {
                Ok(())
            } else {
                Err(format!(
                    "untracked payload delivered to {dest}: {payload:?}"
                ))
            };
        }
        let stamp = match payload::decode(payload) {
            Ok(stamp) => stamp,
            Err(_) if self.garbage_sent && self.is_misparsed_frame(payload) => return Ok(()),
            Err(error) => return Err(format!("delivered to {dest}: {error}")),
        };
        match self.sent.get(&(stamp.sender, stamp.seq)) {
            Some(&(to, true)) if to == dest => {}
            Some(&(to, false)) if to == dest => {
                return Err(format!(
                    "{stamp:?} delivered to {dest}, which was not open when the router read it"
                ));
            }
            Some(&(to, _)) => {
                return Err(format!("{stamp:?} was sent to {to}, delivered to {dest}"));
            }
            None => return Err(format!("{stamp:?} delivered to {dest} was never sent")),
        }
        let pair = self.pairs.entry((stamp.sender, dest)).or_default();
        if pair.last_seq.is_some_and(|last| stamp.seq <= last) {
            return Err(format!(
                "{stamp:?} delivered to {dest} after seq {:?}: out of order or duplicated",
                pair.last_seq
            ));
        }
        pair.last_seq = Some(stamp.seq);
        pair.delivered += 1;
        Ok(())
    }

    /// Whether `payload` is what raw bytes legitimately make of a tracked
    /// frame: raw bytes shift the stream, so the decoder may take the frame's
    /// header to start a payload. Its destination ID, which may hold `0xFF`,
    /// is then followed by the whole tracked payload, which must have been
    /// sent, unless a zero byte later in that same ID ends the payload first
    /// (an ID of `0x0000FF00` shifted by two bytes delivers `[0xFF]`): a
    /// payload shorter than a header is such a piece of one. (A tracked
    /// payload interleaved with another is never of either form; one cut to
    /// under four bytes would pass, but only where raw bytes were sent, and
    /// the worlds without them still catch every cut.)
    fn is_misparsed_frame(&self, payload: &[u8]) -> bool {
        if payload.len() < HEADER_LEN {
            return true;
        }
        (1..=HEADER_LEN).any(|header_tail| {
            payload.get(header_tail..).is_some_and(|rest| {
                payload::decode(rest)
                    .is_ok_and(|stamp| self.sent.contains_key(&(stamp.sender, stamp.seq)))
            })
        })
    }

    /// Payloads delivered so far, tracked or not.
    pub fn delivered_frames(&self) -> u64 {
        self.delivered_frames
    }

    /// Tracked frames owed by `sender` to `dest` but not delivered.
    pub fn missing(&self, sender: u32, dest: u32) -> u64 {
        self.pairs
            .get(&(sender, dest))
            .map_or(0, |pair| pair.owed - pair.delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sender: u32, seq: u32) -> Stamp {
        Stamp {
            sender,
            seq,
            len: 20,
        }
    }

    #[test]
    fn accepts_in_order_and_rejects_reorder_duplicates_and_strangers() {
        let mut oracle = Oracle::default();
        oracle.record_sent(stamp(1, 0), 2, true);
        oracle.record_sent(stamp(1, 1), 2, true);
        let first = payload::encode(stamp(1, 0));
        let second = payload::encode(stamp(1, 1));
        assert_eq!(oracle.missing(1, 2), 2);
        assert!(oracle.check_delivered(2, &second, 64).is_ok());
        assert!(oracle.check_delivered(2, &first, 64).is_err(), "reordered");
        assert!(
            oracle.check_delivered(2, &second, 64).is_err(),
            "duplicated"
        );
        assert!(
            oracle.check_delivered(3, &first, 64).is_err(),
            "wrong destination"
        );
        let unsent = payload::encode(stamp(9, 0));
        assert!(
            oracle.check_delivered(2, &unsent, 64).is_err(),
            "never sent"
        );
        assert!(oracle.check_delivered(2, b"junk", 64).is_err(), "untracked");
        assert!(
            oracle.check_delivered(2, &second, 10).is_err(),
            "over the limit"
        );
        assert_eq!(oracle.missing(1, 2), 1);
    }

    #[test]
    fn frames_to_a_destination_not_open_are_not_owed_and_must_not_arrive() {
        let mut oracle = Oracle::default();
        oracle.record_sent(stamp(1, 0), 2, false);
        assert_eq!(oracle.missing(1, 2), 0, "owed to nobody");
        let early = payload::encode(stamp(1, 0));
        assert!(
            oracle.check_delivered(2, &early, 64).is_err(),
            "delivered to whoever got the ID later"
        );
    }

    #[test]
    fn a_frame_shifted_by_raw_bytes_passes_only_after_garbage() {
        let mut oracle = Oracle::default();
        oracle.record_sent(stamp(1, 0), 0xFFFF, true);
        // Raw bytes `00 00` then the frame to 0x0000FFFF: the decoder reads
        // header 0, and the payload starts with the ID's `FF FF`.
        let mut shifted = vec![0xFF, 0xFF];
        shifted.extend(payload::encode(stamp(1, 0)));
        assert!(oracle.check_delivered(0, &shifted, 64).is_err());
        oracle.record_garbage();
        assert!(oracle.check_delivered(0, &shifted, 64).is_ok());
        let cut = &shifted[..shifted.len() - 1];
        assert!(oracle.check_delivered(0, cut, 64).is_err(), "cut");
        let mut unsent = vec![0xFF];
        unsent.extend(payload::encode(stamp(2, 0)));
        assert!(
            oracle.check_delivered(0, &unsent, 64).is_err(),
            "never sent"
        );
    }
}
