//! What can happen to a router, as data: the simulation's and the fuzzer's input.
//!
//! Client indexes are taken modulo the number of clients still connected (or,
//! for [`Target::Any`], that ever connected), so every sequence of operations
//! is meaningful, whatever produced it.

use arbitrary::{Arbitrary, Unstructured};

/// One thing that happens in the simulated world.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Op {
    /// A new client connects.
    Connect,
    /// A client queues a tracked frame in its socket (not yet read by the router).
    Send {
        /// The sender.
        from: u8,
        /// Its destination.
        to: Target,
        /// Payload length, clamped to at least the tracked minimum. Lengths over
        /// `max_frame_bytes` are protocol violations.
        #[arbitrary(with = arbitrary_frame_len)]
        len: u16,
    },
    /// A client queues raw bytes: garbage, which may or may not parse as frames.
    Garbage {
        /// The sender.
        from: u8,
        /// The bytes (any `0xFF` is turned into `0xFE`: only tracked payloads
        /// start with it).
        bytes: Vec<u8>,
    },
    /// The router reads up to `max` bytes of what a client has queued, if it
    /// wants to read that client.
    RouterReads {
        /// The client.
        client: u8,
        /// At most this many bytes (at least one).
        max: u16,
    },
    /// A client's receive window opens by `bytes`: the router may write that much
    /// more to it.
    Read {
        /// The client.
        client: u8,
        /// Window bytes added.
        bytes: u16,
    },
    /// A client stops reading (its window stays as it is, and opens only with
    /// [`Op::Read`]), or starts again (it then takes everything at once).
    /// Clients start out reading.
    ToggleReading {
        /// The client.
        client: u8,
    },
    /// A client closes its sending side: bytes it queued but the router has not
    /// read are abandoned, and the router sees EOF.
    Eof {
        /// The client.
        client: u8,
    },
    /// A client's connection is reset.
    Reset {
        /// The client.
        client: u8,
    },
    /// Time passes.
    Advance {
        /// Milliseconds.
        millis: u16,
    },
    /// The router is asked to shut down.
    Shutdown,
    /// The listener's `accept` fails: for want of a resource (`EMFILE`: the
    /// listener's own failure, which pauses accepting), or because the
    /// client gave up before it was accepted (one connection's failure).
    AcceptFails {
        /// `EMFILE` rather than `ECONNABORTED`.
        out_of_descriptors: bool,
    },
}

/// A frame's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Target {
    /// The ID of a connected client.
    Live(u8),
    /// The ID of any client that ever connected, perhaps closed since.
    Any(u8),
    /// Any ID at all, most likely never assigned.
    Raw(u32),
}

/// A frame length for the fuzzer, spread evenly over the scales of
/// [`small_config`](crate::small_config)'s `max_frame_bytes` (32 to 1024 bytes),
/// with some lengths just over each: uniform `u16`s would almost all be
/// protocol violations, and a run would rarely fill a queue.
fn arbitrary_frame_len(u: &mut Unstructured<'_>) -> arbitrary::Result<u16> {
    let scale: u16 = 1 << u.int_in_range(4..=10)?;
    u.int_in_range(0..=scale + scale / 8)
}

impl Op {
    /// A random operation, weighted towards traffic, for seeded simulations.
    /// Never [`Op::Shutdown`], which would end the run early: [`run_seed`]
    /// shuts down at the end of half the runs instead.
    ///
    /// [`run_seed`]: crate::run_seed
    /// Frames are mostly within `max_frame_bytes`, with now and then one just
    /// over it; destinations favour the first few clients, so that queues
    /// fill and senders pause.
    pub fn random(rng: &mut fastrand::Rng, max_frame_bytes: usize) -> Op {
        let client = rng.u8(..);
        let max_len = |rng: &mut fastrand::Rng| {
            let limit = if rng.u8(0..40) == 0 {
                max_frame_bytes + max_frame_bytes / 8
            } else {
                max_frame_bytes
            };
            u16::try_from(limit).unwrap_or(u16::MAX)
        };
        match rng.u32(0..1000) {
            0..=39 => Op::Connect,
            40..=489 => Op::Send {
                from: client,
                to: match rng.u8(0..50) {
                    0 => Target::Raw(rng.u32(..)),
                    1..=3 => Target::Any(rng.u8(..)),
                    4..=30 => Target::Live(rng.u8(0..2)),
                    _ => Target::Live(rng.u8(..)),
                },
                len: {
                    let max = max_len(rng);
                    rng.u16(0..=max)
                },
            },
            490..=494 => Op::Garbage {
                from: client,
                bytes: (0..rng.usize(1..24)).map(|_| rng.u8(..)).collect(),
            },
            495..=694 => Op::RouterReads {
                client,
                max: rng.u16(1..=8192),
            },
            695..=894 => Op::Read {
                client,
                bytes: rng.u16(0..=1024),
            },
            895..=899 => Op::Eof { client },
            900..=904 => Op::ToggleReading { client },
            905..=914 => Op::Reset { client },
            915..=919 => Op::AcceptFails {
                out_of_descriptors: rng.bool(),
            },
            920.. => Op::Advance {
                millis: if rng.u8(0..10) == 0 {
                    rng.u16(0..=2000)
                } else {
                    rng.u16(0..=100)
                },
            },
        }
    }
}
