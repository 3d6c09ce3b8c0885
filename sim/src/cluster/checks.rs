//! What must hold of the cluster after every step, and once it settles.

use router_core::peer::wire::HEADER_LEN;
use router_core::{DropCause, FrameCount, Stats};

use super::world::Cluster;

/// Most rounds settling may take.
const MAX_SETTLE_ROUNDS: usize = 10_000;

/// What one peer may have in flight, in bytes: its window and one frame
/// over (a frame larger than the window goes alone). As in the core.
fn allowance(stats_config: &router_core::Config) -> u64 {
    (stats_config.peer_window + stats_config.max_frame_bytes + 1 + 9) as u64
}

impl Cluster {
    /// Checks every router's gauges, memory bounds and own books, and the
    /// world's books so far.
    pub(super) fn check_invariants(&self) {
        let config = self.routers[0].config();
        let allowance = allowance(config);
        let peers = self.routers.len() - 1;
        let queue_bound =
            config.outbound_high_water + config.max_frame_bytes + 1 + peers * allowance as usize;
        let buffer_bound = config.max_frame_bytes + 4 + self.max_read;
        let batch_bound = HEADER_LEN + 2 * allowance as usize + 5 * config.max_connections;
        let mut in_world = Books::default();
        for (r, router) in self.routers.iter().enumerate() {
            let stats = router.stats();
            let (mut queued, mut paused, mut live) = (0, 0, 0);
            for c in self.clients.iter().filter(|c| c.router == r) {
                let info = router.connection_info(c.conn);
                if c.closed {
                    assert!(info.is_none(), "{} closed but still known", c.conn);
                    continue;
                }
                let info = info.unwrap_or_else(|| panic!("{} live but unknown", c.conn));
                live += 1;
                queued += info.queued_bytes as u64;
                paused += u64::from(info.paused);
                assert!(
                    info.queued_bytes <= queue_bound,
                    "{} has {} bytes queued, over {queue_bound}",
                    c.conn,
                    info.queued_bytes
                );
                assert!(
                    info.buffered_bytes <= buffer_bound,
                    "{} has {} bytes buffered, over {buffer_bound}",
                    c.conn,
                    info.buffered_bytes
                );
            }
            assert_eq!(stats.connections_open, live, "router {r}: connections_open");
            assert_eq!(stats.bytes_queued, queued, "router {r}: bytes_queued");
            assert_eq!(stats.senders_paused, paused, "router {r}: senders_paused");
            let (mut in_flight, mut batched) = (0, 0);
            for peer in router.peers() {
                let info = router.peer_info(peer).expect("listed");
                assert!(
                    info.bytes_in_flight <= allowance,
                    "router {r} has {} bytes in flight to {peer}, over {allowance}",
                    info.bytes_in_flight
                );
                assert!(
                    info.batch_bytes <= batch_bound,
                    "router {r} batched {} bytes for {peer}, over {batch_bound}",
                    info.batch_bytes
                );
                in_flight += info.bytes_in_flight;
                batched += info.frames_batched;
            }
            assert_eq!(
                stats.peer_bytes_in_flight, in_flight,
                "router {r}: peer_bytes_in_flight"
            );
            // Every frame a router took, from a client or a peer, was queued
            // to a client, forwarded, dropped, or is held or batched. (A
            // frame queued and then dropped with its closed destination
            // counts twice on the right, hence no equality per router.)
            // Frames it counted lost in transit it never took.
            let took = stats.received.frames
                + stats.from_peers.frames
                + stats.dropped(DropCause::InTransit).frames;
            let gave = stats.routed.frames
                + stats.forwarded.frames
                + stats.dropped_whole().frames
                + stats.senders_paused
                + batched;
            assert!(
                took <= gave,
                "router {r}: {took} frames taken, {gave} routed, forwarded, dropped, held or batched; {stats:?}"
            );
            in_world.add(stats, batched);
        }
        let in_links = self.frames_in_links();
        let accounted = self.oracle.delivered_frames() + in_world.dropped + in_world.held;
        assert!(
            in_world.received >= accounted,
            "{} frames read from clients, but {accounted} delivered, dropped or held",
            in_world.received
        );
        assert!(
            in_world.forwarded >= in_world.from_peers + in_world.in_transit + in_links,
            "{} frames forwarded, but {} received by peers, {} counted lost, {in_links} in links",
            in_world.forwarded,
            in_world.from_peers,
            in_world.in_transit
        );
    }

    /// Liveness: once nothing moves anywhere (every link up, carrying and
    /// empty, no batch waiting, no byte queued to any client, nothing
    /// unread), no sender may still be paused, wherever its destination
    /// lives: it would wait forever.
    pub(super) fn check_quiet_world_has_no_paused_sender(&self) {
        let quiet = self.links.iter().all(|l| l.queue.is_empty())
            && self.routers.iter().all(|router| {
                router.peers().all(|peer| {
                    router
                        .peer_info(peer)
                        .is_some_and(|info| info.reachable && info.batch_bytes == 0)
                })
            })
            && self.clients.iter().filter(|c| !c.closed).all(|c| {
                let info = self.routers[c.router]
                    .connection_info(c.conn)
                    .expect("live");
                info.queued_bytes == 0
            });
        if !quiet {
            return;
        }
        for c in self.clients.iter().filter(|c| !c.closed) {
            let info = self.routers[c.router]
                .connection_info(c.conn)
                .expect("live");
            assert!(
                !info.paused,
                "{} (router {}) paused in a quiet world: it would wait forever",
                c.conn, c.router
            );
        }
    }

    /// Heals every link, lets every client send and read everything and
    /// every link carry everything, then checks that every frame read is
    /// accounted for across the cluster, nothing is left waiting, and no
    /// frame between connected clients went missing uncounted.
    pub fn settle_and_check(&mut self) {
        self.heal();
        for _ in 0..MAX_SETTLE_ROUNDS {
            let before = self.progress();
            self.unblock_clients();
            self.drive();
            for link in 0..self.links.len() {
                self.carry(link, usize::MAX);
            }
            self.drive();
            self.check_invariants();
            if self.progress() == before {
                break;
            }
        }
        assert!(
            self.links.iter().all(|l| l.queue.is_empty()),
            "links not drained"
        );
        for c in self.clients.iter().filter(|c| !c.closed) {
            let info = self.routers[c.router]
                .connection_info(c.conn)
                .expect("live");
            assert_eq!(
                info.queued_bytes, 0,
                "{} has bytes queued after settling",
                c.conn
            );
            assert!(!info.paused, "{} still paused after settling", c.conn);
            assert!(c.idle(), "{} still has unread bytes", c.conn);
        }
        let mut world = Books::default();
        for router in &self.routers {
            world.add(router.stats(), 0);
        }
        assert_eq!(world.held, 0, "held frames after settling");
        assert_eq!(
            world.forwarded,
            world.from_peers + world.in_transit,
            "frames forwarded = received by peers + lost in transit"
        );
        assert_eq!(
            world.received,
            self.oracle.delivered_frames() + world.dropped,
            "frames read = delivered + dropped, across the cluster"
        );
        self.check_live_pairs_complete(&world);
    }

    /// Between clients still connected, frames are missing only as many as
    /// were counted dropped for a cause that can hit them.
    fn check_live_pairs_complete(&self, world: &Books) {
        let live: Vec<u32> = self
            .clients
            .iter()
            .filter(|c| !c.closed && !c.eof)
            .map(|c| c.conn.id())
            .collect();
        let missing: u64 = live
            .iter()
            .flat_map(|&from| live.iter().map(move |&to| (from, to)))
            .map(|(from, to)| self.oracle.missing(from, to))
            .sum();
        assert!(
            missing <= world.lossy,
            "{missing} frames between live clients lost, {} dropped for causes that may",
            world.lossy
        );
    }

    fn frames_in_links(&self) -> u64 {
        let max_frame = self.routers[0].config().max_frame_bytes;
        self.links
            .iter()
            .flat_map(|l| &l.queue)
            .map(|batch| {
                router_core::peer::wire::decode(batch, max_frame)
                    .map_or(0, |batch| batch.frames.frames)
            })
            .sum()
    }

    /// A number that grows whenever anything moves.
    fn progress(&self) -> (u64, u64, u64, u64) {
        let sum = |f: fn(&Stats) -> u64| self.routers.iter().map(|r| f(r.stats())).sum();
        (
            sum(|s| s.bytes_written),
            sum(|s| s.received.bytes),
            sum(|s| s.peer_batches_received),
            self.oracle.delivered_frames(),
        )
    }
}

/// The cluster's frame counts, summed over routers.
#[derive(Debug, Default)]
struct Books {
    received: u64,
    dropped: u64,
    held: u64,
    forwarded: u64,
    from_peers: u64,
    in_transit: u64,
    /// Drops that may hit a frame between two connected clients.
    lossy: u64,
}

impl Books {
    fn add(&mut self, stats: &Stats, batched: u64) {
        let frames = |count: FrameCount| count.frames;
        self.received += stats.received.frames;
        self.dropped += stats.dropped_whole().frames;
        self.held += stats.senders_paused + batched;
        self.forwarded += stats.forwarded.frames;
        self.from_peers += stats.from_peers.frames;
        self.in_transit += frames(stats.dropped(DropCause::InTransit));
        self.lossy += [
            DropCause::DestinationFull,
            DropCause::PeerCongested,
            DropCause::NoRoute,
            DropCause::InTransit,
        ]
        .into_iter()
        .map(|cause| stats.dropped(cause).frames)
        .sum::<u64>();
    }
}
