//! What can happen in a world of several routers, as data: the seeded
//! simulation's and the fuzzer's input.
//!
//! Router, client and link indexes are taken modulo how many there are, so
//! every sequence of operations means something.

use arbitrary::Arbitrary;

use crate::ops::Target;

/// One thing that happens in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum ClusterOp {
    /// A new client connects to router `router`.
    Connect {
        /// The router.
        router: u8,
    },
    /// A client queues a tracked frame in its socket; [`Target`] indexes
    /// clients of the whole cluster, so most frames cross routers.
    Send {
        /// The sender.
        from: u8,
        /// Its destination.
        to: Target,
        /// Payload length (clamped to the tracked minimum).
        len: u16,
    },
    /// The sender's router reads up to `max` bytes of what a client queued.
    Deliver {
        /// The client.
        client: u8,
        /// At most this many bytes.
        max: u16,
    },
    /// A client's receive window opens by `bytes`.
    Read {
        /// The client.
        client: u8,
        /// Window bytes added.
        bytes: u16,
    },
    /// A client stops reading, or starts again.
    ToggleReading {
        /// The client.
        client: u8,
    },
    /// A client closes its sending side.
    Eof {
        /// The client.
        client: u8,
    },
    /// A client's connection is reset.
    Reset {
        /// The client.
        client: u8,
    },
    /// A link carries up to `batches` batches, in order, to their router.
    Carry {
        /// The link: `from * routers + to`, modulo the links.
        link: u8,
        /// Most batches delivered.
        batches: u8,
    },
    /// A link stops carrying (it keeps what it holds), or starts again.
    ToggleStall {
        /// The link.
        link: u8,
    },
    /// A link's driver stops taking batches (a full ring), or starts again.
    ToggleRefusing {
        /// The link.
        link: u8,
    },
    /// The pair of links between two routers goes down (both ends are told,
    /// what they carried is lost), or comes back up.
    ToggleDown {
        /// The link; its pair is affected.
        link: u8,
    },
    /// Every link of a router goes down (it is cut off), or comes back up.
    TogglePartition {
        /// The router.
        router: u8,
    },
    /// Bytes that are not a batch of that link arrive at a router: random
    /// bytes, perhaps behind the format's magic.
    PeerGarbage {
        /// The receiving router.
        router: u8,
        /// Start with the magic, to get past the first check.
        magic: bool,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The last batch a link carried arrives again: a replay, refused.
    Replay {
        /// The link.
        link: u8,
    },
    /// Time passes.
    Advance {
        /// Milliseconds.
        millis: u16,
    },
}

impl ClusterOp {
    /// A random operation, weighted towards traffic and carrying.
    pub fn random(rng: &mut fastrand::Rng, max_frame_bytes: usize) -> ClusterOp {
        let client = rng.u8(..);
        let link = rng.u8(..);
        match rng.u32(0..1000) {
            0..=49 => ClusterOp::Connect { router: rng.u8(..) },
            50..=399 => ClusterOp::Send {
                from: client,
                to: match rng.u8(0..50) {
                    0 => Target::Raw(rng.u32(..)),
                    1..=3 => Target::Any(rng.u8(..)),
                    4..=25 => Target::Live(rng.u8(0..2)),
                    _ => Target::Live(rng.u8(..)),
                },
                len: rng.u16(0..=u16::try_from(max_frame_bytes).unwrap_or(u16::MAX)),
            },
            400..=549 => ClusterOp::Deliver {
                client,
                max: rng.u16(1..=8192),
            },
            550..=679 => ClusterOp::Read {
                client,
                bytes: rng.u16(0..=1024),
            },
            680..=684 => ClusterOp::ToggleReading { client },
            685..=689 => ClusterOp::Eof { client },
            690..=694 => ClusterOp::Reset { client },
            695..=884 => ClusterOp::Carry {
                link,
                batches: rng.u8(1..=4),
            },
            885..=894 => ClusterOp::ToggleStall { link },
            895..=904 => ClusterOp::ToggleRefusing { link },
            905..=910 => ClusterOp::ToggleDown { link },
            911..=913 => ClusterOp::TogglePartition { router: rng.u8(..) },
            914..=920 => ClusterOp::PeerGarbage {
                router: rng.u8(..),
                magic: rng.bool(),
                bytes: (0..rng.usize(0..120)).map(|_| rng.u8(..)).collect(),
            },
            921..=925 => ClusterOp::Replay { link },
            926.. => ClusterOp::Advance {
                millis: if rng.u8(0..10) == 0 {
                    rng.u16(0..=4000)
                } else {
                    rng.u16(0..=100)
                },
            },
        }
    }
}
