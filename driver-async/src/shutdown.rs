//! Starting a graceful shutdown from any thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// Starts a [`Server`](crate::Server)'s graceful shutdown from any thread,
/// before or while it runs: new connections are refused, reading stops,
/// what is queued is flushed for up to `drain_timeout`, and
/// [`Server::run`](crate::Server::run) returns.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(Arc<Signal>);

#[derive(Debug, Default)]
struct Signal {
    requested: AtomicBool,
    /// The router task, woken by the request.
    task: AtomicWaker,
}

impl ShutdownHandle {
    /// Asks the server to drain and return. Returns at once; calling it
    /// again, or after the server has stopped, does nothing.
    pub fn shutdown(&self) {
        self.0.requested.store(true, Ordering::Release);
        self.0.task.wake();
    }

    /// `Ready` once [`shutdown`](Self::shutdown) was called; otherwise
    /// registers `cx`'s waker for it.
    pub(crate) fn poll_requested(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.requested.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.0.task.register(cx.waker());
        // A request between the load and the registration woke nobody.
        if self.0.requested.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
