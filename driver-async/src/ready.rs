//! Which connections the runtime woke, recorded by their own wakers.
//!
//! Each connection has one [`Waker`] for its whole life. The router task
//! passes it to the runtime whenever it polls that socket's readiness; when
//! the socket becomes ready, the runtime wakes it, which appends the
//! connection to the [`ReadyQueue`] and wakes the router task. The task then
//! services exactly the connections in the queue: work in proportion to the
//! sockets that became ready, however many others sit idle.
//!
//! This is how `FuturesUnordered` finds its woken futures, keyed by connection
//! instead of by future. The difference matters at close: a readiness future
//! would own (a reference to) its socket until it resolved, which for an idle
//! or stalled peer is never, whereas here no one but the router task holds a
//! socket, and dropping it closes it at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Wake, Waker};

use router_core::ConnHandle;
use router_tls::PendingId;

/// What a waker queues: a client's connection, or a socket the TLS layer
/// holds (handshaking, or lingering after its close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// A client the router gave an ID.
    Conn(ConnHandle),
    /// A socket keyed by the TLS layer.
    Pending(PendingId),
}

/// Connections woken since the router task last looked, each listed once.
#[derive(Debug, Default)]
pub(crate) struct ReadyQueue {
    state: Mutex<QueueState>,
}

#[derive(Debug, Default)]
struct QueueState {
    woken: VecDeque<Arc<ConnWaker>>,
    /// The router task's own waker, taken by the wake that finds it waiting.
    task: Option<Waker>,
}

impl ReadyQueue {
    /// A waker for `conn` that queues it here.
    pub(crate) fn waker(self: &Arc<Self>, conn: Woken) -> Waker {
        Waker::from(Arc::new(ConnWaker {
            conn,
            queued: AtomicBool::new(false),
            queue: Arc::downgrade(self),
        }))
    }

    /// `Ready` when a connection is queued; otherwise registers the router
    /// task's waker for the next connection that is.
    pub(crate) fn poll_woken(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if !state.woken.is_empty() {
            return Poll::Ready(());
        }
        if !state
            .task
            .as_ref()
            .is_some_and(|task| task.will_wake(cx.waker()))
        {
            state.task = Some(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The connection woken longest ago. A wake that comes after this call
    /// queues it again, so the caller services it only after this returns.
    pub(crate) fn pop(&self) -> Option<Woken> {
        let woken = self.lock().woken.pop_front()?;
        woken.queued.store(false, Ordering::Release);
        Some(woken.conn)
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Nothing panics while holding the lock but allocation: the state is
        // consistent even if poisoned.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One connection's waker.
#[derive(Debug)]
struct ConnWaker {
    conn: Woken,
    /// Listed in the queue: a connection woken for reading and for writing
    /// before the task gets to it is listed once.
    queued: AtomicBool,
    /// Weak, so that a waker a runtime still holds keeps nothing alive once
    /// the router task is gone.
    queue: Weak<ReadyQueue>,
}

impl Wake for ConnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(queue) = self.queue.upgrade() else {
            return;
        };
        let task = {
            let mut state = queue.lock();
            state.woken.push_back(Arc::clone(self));
            state.task.take()
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how often the router task is woken.
    #[derive(Default)]
    struct TaskWakes(std::sync::atomic::AtomicUsize);

    impl Wake for TaskWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn queues_each_woken_connection_once_and_wakes_the_task() {
        let queue = Arc::new(ReadyQueue::default());
        let wakes = Arc::new(TaskWakes::default());
        let task = Waker::from(Arc::clone(&wakes));
        let (a, b) = (
            queue.waker(Woken::Conn(ConnHandle(1))),
            queue.waker(Woken::Conn(ConnHandle(2))),
        );

        assert_eq!(
            queue.poll_woken(&mut Context::from_waker(&task)),
            Poll::Pending
        );
        a.wake_by_ref();
        b.wake_by_ref();
        a.wake_by_ref();
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "one wake per wait");
        assert_eq!(
            queue.poll_woken(&mut Context::from_waker(&task)),
            Poll::Ready(())
        );
        assert_eq!(queue.pop(), Some(Woken::Conn(ConnHandle(1))));
        assert_eq!(queue.pop(), Some(Woken::Conn(ConnHandle(2))));
        assert_eq!(queue.pop(), None);

        // Popped, so a new wake lists it again.
        a.wake_by_ref();
        assert_eq!(queue.pop(), Some(Woken::Conn(ConnHandle(1))));
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn a_waker_outliving_its_queue_does_nothing() {
        let queue = Arc::new(ReadyQueue::default());
        let waker = queue.waker(Woken::Conn(ConnHandle(7)));
        drop(queue);
        waker.wake();
    }
}
