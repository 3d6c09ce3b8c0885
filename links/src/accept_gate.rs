//! Taking turns at one listener shared by several cores.

/// Which of the cores sharing one listening socket accepts the next
/// connection: the placement of connections over the shards of a process.
///
/// Every core registers the listener with its own poller, so each hears of
/// every connection; only the core whose turn it is accepts, and passes the
/// turn on with each connection it accepts or refuses (to the least-loaded
/// core, say),
/// ringing that core's [`Doorbell`](crate::Doorbell) so that it looks at the
/// listener even if no new connection comes to wake it. A driver whose core
/// has a gate treats its turn coming as news when it is about to sleep.
pub trait AcceptGate: Send + std::fmt::Debug {
    /// Whether this core accepts the next connection.
    fn my_turn(&self) -> bool;

    /// This core accepted a connection, or refused it (at its
    /// `max_connections`), and now holds `open` of them: the turn passes on.
    fn took_turn(&self, open: u64);

    /// This core holds `open` connections: called once per turn of its
    /// loop, so that the gate knows every core's load.
    fn load(&self, open: u64);
}
