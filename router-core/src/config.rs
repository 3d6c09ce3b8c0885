//! Every limit the router enforces, in one place.
//!
//! The defaults are those of the protocol's limits table. [`Config::LIMITS`]
//! lists every limit with its help text and how to read and set it, so that
//! the server's command-line flags (each field's name in kebab case), its
//! start log line and its error messages derive from the one list: a new
//! limit is a field, its default, and one line there.

use std::fmt;
use std::time::Duration;

use crate::ids::IdLayout;
use crate::peer::wire::{FRAME_OVERHEAD, HEADER_LEN};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: usize = 1024 * MIB;

/// What the router does with a frame whose destination's queue is above
/// [`Config::outbound_high_water`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Hold the frame and stop reading from its sender until the destination
    /// drains below [`Config::outbound_low_water`]. Nothing is lost, but the
    /// paused sender's frames to *other* destinations wait too, because its byte
    /// stream is ordered.
    #[default]
    Pause,
    /// Drop the frame and count it ([`DropCause::DestinationFull`]). Senders are
    /// never paused, so one slow destination cannot slow a sender's other traffic,
    /// at the price of losing frames to that destination.
    ///
    /// [`DropCause::DestinationFull`]: crate::DropCause::DestinationFull
    Drop,
}

/// The router's limits. Memory is bounded by these, never by the clients'
/// behaviour: per connection at most about
/// `max_frame_bytes + outbound_high_water + max_frame_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest payload (terminator excluded) a frame may carry. A longer frame is
    /// a protocol violation that closes its sender. Also bounds the inbound buffer
    /// of a connection. Default 1 MiB.
    pub max_frame_bytes: usize,
    /// Queued bytes for one destination above which frames to it pause their
    /// sender (or are dropped, per [`overflow_policy`](Self::overflow_policy)).
    /// Default 1 MiB.
    pub outbound_high_water: usize,
    /// Queued bytes below which a destination's paused senders resume.
    /// Default 256 KiB.
    pub outbound_low_water: usize,
    /// Pause the sender or drop the frame when a destination is full.
    /// Default [`OverflowPolicy::Pause`].
    pub overflow_policy: OverflowPolicy,
    /// How long a destination may hold queued bytes without accepting any of
    /// them before it is closed as a slow consumer. Default 30 s.
    pub write_stall_timeout: Duration,
    /// Close a connection that has sent nothing and had nothing queued for this
    /// long. Default off (`None`).
    pub idle_timeout: Option<Duration>,
    /// Connections open at once; further ones are refused without an ID.
    /// Default 100 000.
    pub max_connections: usize,
    /// On shutdown, how long queued bytes may take to flush before every
    /// connection is closed anyway. Default 5 s.
    pub drain_timeout: Duration,
    /// How long accepting pauses after the listener fails for want of a
    /// resource (`EMFILE`: out of file descriptors; `ENFILE`, `ENOBUFS`,
    /// `ENOMEM`), which retrying at once would not cure: long enough not to
    /// spin, short enough that clients waiting in the kernel's backlog barely
    /// notice once the resource frees up. Open connections are served
    /// meanwhile. Default 100 ms.
    pub accept_pause: Duration,
    /// Which bits of an ID name the shard and node that own it. Default: none,
    /// so a single router uses all 32 bits for its sequence.
    pub id_layout: IdLayout,
    /// Heap bytes all connections' buffers and queues may hold together:
    /// partial frames, frames buffered while a sender is paused, held frames,
    /// and queues. Over it, the router stops taking memory from those who
    /// hold the most without losing what it accepted for delivery: it closes
    /// the connections with the largest unfinished frames first (counted as
    /// [`CloseCause::MemoryBudget`]), and while that is not enough, frames for
    /// a destination that already has bytes queued wait (their sender is
    /// paused) or are dropped ([`DropCause::MemoryBudget`]) per
    /// [`overflow_policy`](Self::overflow_policy). Past the bound, what remains
    /// is whole frames: a sender paused there holds at most one frame and the
    /// rest of one read, a destination at most one frame beyond its queue.
    /// At least `max_frame_bytes`.
    /// Default 1 GiB (the core cannot read the machine's memory; the `router`
    /// server defaults to a quarter of it).
    ///
    /// [`CloseCause::MemoryBudget`]: crate::CloseCause::MemoryBudget
    /// [`DropCause::MemoryBudget`]: crate::DropCause::MemoryBudget
    pub max_buffered_bytes: usize,
    /// Bytes in flight from this core to one peer core: forwarded and not yet
    /// acknowledged, payloads plus 9 bytes per frame. A sender to a peer whose
    /// window is full is paused (or, under [`OverflowPolicy::Drop`], its frame
    /// dropped), so each peer link holds at most this much here, or one frame
    /// when a frame is larger. It also bounds how far a full destination's
    /// queue may overshoot its high-water mark per peer: frames already in
    /// flight when it filled. Default 1 MiB, for shards and cluster nodes
    /// alike: measured over NATS (16 pairs crossing two nodes, 256 KiB to
    /// 8 MiB), larger windows gained nothing at 64 B frames and at most a
    /// few percent, within the noise, at 1 KiB once the bridge stopped
    /// faulting in a fresh buffer per batch, while each window is memory per
    /// pair of cores and per full destination (README, "Cluster").
    pub peer_window: usize,
    /// How long a peer may be silent (it is sent something at least every
    /// third of this) before it counts as unreachable: frames for it are
    /// dropped as [`DropCause::NoRoute`] and senders waiting on it resume.
    /// Default 3 s.
    ///
    /// [`DropCause::NoRoute`]: crate::DropCause::NoRoute
    pub peer_timeout: Duration,
    /// This run of this core, as its peers see it: a core that restarts must
    /// come back with another value (the start time in milliseconds, say), so
    /// that its peers discard what they knew of its previous run. It is also
    /// where the core's ID sequence starts (modulo its ID space), so that a
    /// run started in the `router` server's way, with its start time in
    /// milliseconds, hands out no ID of its previous run as long as that
    /// run handed out fewer IDs than milliseconds passed between the two
    /// starts, within one turn of the space. Default 0.
    pub incarnation: u64,
    /// Largest batch, header included, this core hands a peer link. A link
    /// that carries whole messages of bounded size (a NATS server refuses
    /// one above its `max_payload`) says so here; what does not fit waits
    /// for the next batch. At least one frame of `max_frame_bytes` must fit.
    /// Default: no bound (the in-process rings take any batch).
    pub max_batch_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_bytes: MIB,
            outbound_high_water: MIB,
            outbound_low_water: 256 * KIB,
            overflow_policy: OverflowPolicy::Pause,
            write_stall_timeout: Duration::from_secs(30),
            idle_timeout: None,
            max_connections: 100_000,
            drain_timeout: Duration::from_secs(5),
            accept_pause: Duration::from_millis(100),
            id_layout: IdLayout::SINGLE,
            max_buffered_bytes: GIB,
            peer_window: MIB,
            peer_timeout: Duration::from_secs(3),
            incarnation: 0,
            max_batch_bytes: usize::MAX,
        }
    }
}

/// Why a [`Config`] cannot be used. Each message names the field to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A size or count that must be positive is zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The offending field.
        field: &'static str,
    },
    /// A duration that must be positive is zero.
    #[error("{field} must be longer than zero")]
    ZeroDuration {
        /// The offending field.
        field: &'static str,
    },
    /// The low-water mark is above the high-water mark, so paused senders
    /// would resume while the destination is still full.
    #[error("outbound_low_water ({low}) must not exceed outbound_high_water ({high})")]
    LowWaterAboveHighWater {
        /// The configured low-water mark.
        low: usize,
        /// The configured high-water mark.
        high: usize,
    },
    /// The frame limit does not fit the `u32` arithmetic of the wire format.
    #[error("max_frame_bytes ({0}) must be below 4 GiB")]
    FrameLimitTooLarge(usize),
    /// More connections are allowed than the ID space can tell apart.
    #[error("max_connections ({max}) exceeds the {space} IDs the id_layout leaves to one router")]
    MoreConnectionsThanIds {
        /// The configured connection limit.
        max: usize,
        /// IDs available to this router under its layout.
        space: u64,
    },
    /// The memory budget cannot hold even one frame of the largest size.
    #[error("max_buffered_bytes ({budget}) must be at least max_frame_bytes ({frame})")]
    BudgetBelowFrameLimit {
        /// The configured budget.
        budget: usize,
        /// The configured frame limit.
        frame: usize,
    },
    /// A batch of `max_batch_bytes` cannot carry a frame of
    /// `max_frame_bytes`, so frames that size could never reach a peer.
    #[error(
        "max_frame_bytes ({frame}) does not fit a peer batch of max_batch_bytes ({batch}): \
         at most {fits} does"
    )]
    FrameAboveBatch {
        /// The configured frame limit.
        frame: usize,
        /// The configured batch bound.
        batch: usize,
        /// The largest frame limit that fits it.
        fits: usize,
    },
    /// The ID layout itself is inconsistent.
    #[error(transparent)]
    IdLayout(#[from] crate::ids::IdLayoutError),
}

impl Config {
    /// Checks that the limits are consistent. [`Router::new`] calls it, so a
    /// router never runs with a configuration that could not bound its memory.
    ///
    /// [`Router::new`]: crate::Router::new
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("max_frame_bytes", self.max_frame_bytes),
            ("outbound_high_water", self.outbound_high_water),
            ("outbound_low_water", self.outbound_low_water),
            ("max_connections", self.max_connections),
            ("peer_window", self.peer_window),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero { field });
            }
        }
        for (field, value) in [
            ("write_stall_timeout", Some(self.write_stall_timeout)),
            ("idle_timeout", self.idle_timeout),
            ("drain_timeout", Some(self.drain_timeout)),
            ("accept_pause", Some(self.accept_pause)),
            ("peer_timeout", Some(self.peer_timeout)),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(ConfigError::ZeroDuration { field });
            }
        }
        if self.outbound_low_water > self.outbound_high_water {
            return Err(ConfigError::LowWaterAboveHighWater {
                low: self.outbound_low_water,
                high: self.outbound_high_water,
            });
        }
        if u32::try_from(self.max_frame_bytes).is_err() {
            return Err(ConfigError::FrameLimitTooLarge(self.max_frame_bytes));
        }
        if self.max_buffered_bytes < self.max_frame_bytes {
            return Err(ConfigError::BudgetBelowFrameLimit {
                budget: self.max_buffered_bytes,
                frame: self.max_frame_bytes,
            });
        }
        let fits = largest_frame_in_batch(self.max_batch_bytes);
        if self.max_frame_bytes > fits {
            return Err(ConfigError::FrameAboveBatch {
                frame: self.max_frame_bytes,
                batch: self.max_batch_bytes,
                fits,
            });
        }
        self.id_layout.validate()?;
        let space = self.id_layout.local_id_space();
        if self.max_connections as u64 > space {
            return Err(ConfigError::MoreConnectionsThanIds {
                max: self.max_connections,
                space,
            });
        }
        Ok(())
    }
}

/// The largest `max_frame_bytes` whose frames fit one peer batch of
/// `max_batch_bytes`: the batch header, and a frame record with the frame's
/// terminator.
pub fn largest_frame_in_batch(max_batch_bytes: usize) -> usize {
    max_batch_bytes.saturating_sub(HEADER_LEN + FRAME_OVERHEAD + 1)
}

/// One limit of a [`Config`]: its name (the field's), a one-line help text,
/// and how to read and set it, for tools that list every limit: a command
/// line, a log line, a settings file.
#[derive(Clone, Copy)]
pub struct Limit {
    /// The field's name.
    pub name: &'static str,
    /// What it bounds, in one line.
    pub help: &'static str,
    /// What kind of value it takes.
    pub kind: LimitKind,
    get: fn(&Config) -> LimitValue,
    set: fn(&mut Config, LimitValue) -> bool,
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limit")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The kinds of value a [`Limit`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// A size in bytes.
    Bytes,
    /// A number of things.
    Count,
    /// A length of time.
    Duration,
    /// A length of time, or off.
    OptionalDuration,
    /// An [`OverflowPolicy`].
    Policy,
}

/// A [`Limit`]'s value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// [`LimitKind::Bytes`].
    Bytes(usize),
    /// [`LimitKind::Count`].
    Count(usize),
    /// [`LimitKind::Duration`].
    Duration(Duration),
    /// [`LimitKind::OptionalDuration`]: `None` is off.
    OptionalDuration(Option<Duration>),
    /// [`LimitKind::Policy`].
    Policy(OverflowPolicy),
}

impl fmt::Display for LimitValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitValue::Bytes(bytes) => write!(f, "{bytes}B"),
            LimitValue::Count(count) => write!(f, "{count}"),
            LimitValue::Duration(duration) | LimitValue::OptionalDuration(Some(duration)) => {
                write!(f, "{duration:?}")
            }
            LimitValue::OptionalDuration(None) => f.write_str("off"),
            LimitValue::Policy(OverflowPolicy::Pause) => f.write_str("pause"),
            LimitValue::Policy(OverflowPolicy::Drop) => f.write_str("drop"),
        }
    }
}

/// A [`LimitValue`] of the wrong kind for the [`Limit`] it was given to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{limit} takes a value of kind {kind:?}, not {value:?}")]
pub struct WrongKind {
    /// The limit's name.
    pub limit: &'static str,
    /// The kind it takes.
    pub kind: LimitKind,
    /// What it was given.
    pub value: LimitValue,
}

impl Limit {
    /// Its value in `config`.
    pub fn get(&self, config: &Config) -> LimitValue {
        (self.get)(config)
    }

    /// Sets it in `config` to `value`, which must be of its kind.
    /// [`Config::validate`] checks the result as a whole.
    pub fn set(&self, config: &mut Config, value: LimitValue) -> Result<(), WrongKind> {
        if (self.set)(config, value) {
            Ok(())
        } else {
            Err(WrongKind {
                limit: self.name,
                kind: self.kind,
                value,
            })
        }
    }
}

/// A [`Limit`] entry for field `$field` of kind `$kind`.
macro_rules! limit {
    ($field:ident, $kind:ident, $help:literal) => {
        Limit {
            name: stringify!($field),
            help: $help,
            kind: LimitKind::$kind,
            get: |config| LimitValue::$kind(config.$field),
            set: |config, value| match value {
                LimitValue::$kind(value) => {
                    config.$field = value;
                    true
                }
                _ => false,
            },
        }
    };
}

impl Config {
    /// Every limit, in the order the server lists them. Each field of
    /// `Config` but the [`id_layout`](Config::id_layout), the
    /// [`incarnation`](Config::incarnation) and the
    /// [`max_batch_bytes`](Config::max_batch_bytes), which say where and when
    /// a router sits in a cluster and what its links carry rather than what
    /// it may hold, is here.
    pub const LIMITS: &[Limit] = &[
        limit!(
            max_frame_bytes,
            Bytes,
            "Largest payload a frame may carry; a longer frame closes its sender."
        ),
        limit!(
            outbound_high_water,
            Bytes,
            "Bytes queued for one destination above which frames to it pause their sender (or are dropped, per the overflow policy)."
        ),
        limit!(
            outbound_low_water,
            Bytes,
            "Bytes queued below which a destination's paused senders resume."
        ),
        limit!(
            overflow_policy,
            Policy,
            "What to do with a frame for a destination above its high-water mark: pause its sender, or drop it."
        ),
        limit!(
            write_stall_timeout,
            Duration,
            "How long a client may leave queued bytes unread before it is closed."
        ),
        limit!(
            idle_timeout,
            OptionalDuration,
            "Close a client that sent nothing and had nothing queued for this long, or off."
        ),
        limit!(
            max_connections,
            Count,
            "Connections open at once; further ones are closed without an ID."
        ),
        limit!(
            drain_timeout,
            Duration,
            "On shutdown, how long queued bytes may take to flush before every connection is closed anyway."
        ),
        limit!(
            accept_pause,
            Duration,
            "How long to stop accepting after accept fails for want of a resource (out of file descriptors)."
        ),
        limit!(
            max_buffered_bytes,
            Bytes,
            "Bytes all connections' buffers and queues may hold together. Over it, the senders of the largest unfinished frames are closed, and frames for destinations with bytes queued wait (or are dropped, per the overflow policy)."
        ),
        limit!(
            peer_window,
            Bytes,
            "Bytes in flight from this core to one peer shard or node before senders to it wait (or, under drop, frames are dropped)."
        ),
        limit!(
            peer_timeout,
            Duration,
            "How long a peer shard or node may be silent before it counts as unreachable."
        ),
    ];

    /// The limit named `name`, if there is one.
    pub fn limit(name: &str) -> Option<&'static Limit> {
        Config::LIMITS.iter().find(|limit| limit.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_but_the_id_layout_incarnation_and_batch_bound_is_a_listed_limit() {
        let fields = format!("{:?}", Config::default());
        // `Config { a: .., b: .. }`: one `: ` per field at the top level, and
        // `IdLayout { .. }` adds its own four.
        let field_count = fields.matches(": ").count() - 4;
        assert_eq!(Config::LIMITS.len() + 3, field_count, "{fields}");
        for limit in Config::LIMITS {
            assert!(
                fields.contains(&format!("{}: ", limit.name)),
                "{}",
                limit.name
            );
        }
    }

    #[test]
    fn limits_read_and_write_their_own_field() {
        let mut config = Config::default();
        let limit = Config::limit("max_connections").unwrap();
        assert_eq!(limit.get(&config), LimitValue::Count(100_000));
        limit.set(&mut config, LimitValue::Count(7)).unwrap();
        assert_eq!(config.max_connections, 7);
        let wrong = limit.set(&mut config, LimitValue::Bytes(7)).unwrap_err();
        assert_eq!(wrong.limit, "max_connections");
        let idle = Config::limit("idle_timeout").unwrap();
        assert_eq!(idle.get(&config).to_string(), "off");
        assert_eq!(
            Config::limit("drain_timeout")
                .unwrap()
                .get(&config)
                .to_string(),
            "5s"
        );
    }

    #[test]
    fn defaults_match_the_protocol_table_and_validate() {
        let config = Config::default();
        assert_eq!(config.max_frame_bytes, 1 << 20);
        assert_eq!(config.outbound_high_water, 1 << 20);
        assert_eq!(config.outbound_low_water, 256 << 10);
        assert_eq!(config.overflow_policy, OverflowPolicy::Pause);
        assert_eq!(config.write_stall_timeout, Duration::from_secs(30));
        assert_eq!(config.idle_timeout, None);
        assert_eq!(config.max_connections, 100_000);
        assert_eq!(config.drain_timeout, Duration::from_secs(5));
        assert_eq!(config.accept_pause, Duration::from_millis(100));
        assert_eq!(config.max_buffered_bytes, 1 << 30);
        assert_eq!(config.peer_window, 1 << 20);
        assert_eq!(config.peer_timeout, Duration::from_secs(3));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn rejects_inconsistent_limits() {
        let bad = Config {
            outbound_low_water: 2 << 20,
            ..Config::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(ConfigError::LowWaterAboveHighWater { .. })
        ));
        let zero = Config {
            max_frame_bytes: 0,
            ..Config::default()
        };
        assert_eq!(
            zero.validate(),
            Err(ConfigError::Zero {
                field: "max_frame_bytes"
            })
        );
        let zero_idle = Config {
            idle_timeout: Some(Duration::ZERO),
            ..Config::default()
        };
        assert_eq!(
            zero_idle.validate(),
            Err(ConfigError::ZeroDuration {
                field: "idle_timeout"
            })
        );
        let no_pause = Config {
            accept_pause: Duration::ZERO,
            ..Config::default()
        };
        assert_eq!(
            no_pause.validate(),
            Err(ConfigError::ZeroDuration {
                field: "accept_pause"
            })
        );
        let tiny_budget = Config {
            max_buffered_bytes: (1 << 20) - 1,
            ..Config::default()
        };
        assert!(matches!(
            tiny_budget.validate(),
            Err(ConfigError::BudgetBelowFrameLimit { .. })
        ));
        let no_window = Config {
            peer_window: 0,
            ..Config::default()
        };
        assert_eq!(
            no_window.validate(),
            Err(ConfigError::Zero {
                field: "peer_window"
            })
        );
        let small_space = Config {
            id_layout: IdLayout::new(8, 0, 8, 0),
            max_connections: (1 << 16) + 1,
            ..Config::default()
        };
        assert!(matches!(
            small_space.validate(),
            Err(ConfigError::MoreConnectionsThanIds { .. })
        ));
    }
}
