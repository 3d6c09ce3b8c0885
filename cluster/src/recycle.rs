//! The buffers a core's batches are copied into for `async-nats`, used
//! again once it has written them.
//!
//! A core lends its batch only for the length of a call, so the bridge
//! copies it. A fresh allocation per batch is what costs: a batch is
//! hundreds of KiB once frames are 1 KiB, the allocator hands memory that
//! large back to the kernel when it is freed, and every 4 KiB page of the
//! next one is then faulted in and zeroed again (a quarter of a node's CPU
//! in the profile of issue 16's 1 KiB run). Buffers that come back here
//! keep their pages.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

/// Buffers free for the next batches, bounded in bytes.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Free>,
    /// Capacity the free buffers may hold together: beyond it a buffer
    /// written is released rather than kept.
    max_kept: usize,
}

#[derive(Debug, Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    capacity: usize,
}

impl BufferPool {
    /// A pool keeping at most `max_kept` bytes of free buffers: the outbox's
    /// bound is enough, as no more than that is ever waiting to be written.
    pub(crate) fn new(max_kept: usize) -> Arc<Self> {
        Arc::new(BufferPool {
            free: Mutex::new(Free::default()),
            max_kept,
        })
    }

    /// A copy of `batch`, in a free buffer if there is one, which comes back
    /// here once the copy and every clone of it are dropped.
    pub(crate) fn copy(self: &Arc<Self>, batch: &[u8]) -> Bytes {
        let mut buffer = {
            let mut free = self.free.lock().expect("buffer pool lock");
            let buffer = free.buffers.pop().unwrap_or_default();
            free.capacity -= buffer.capacity();
            buffer
        };
        buffer.clear();
        buffer.extend_from_slice(batch);
        Bytes::from_owner(Lent {
            buffer,
            pool: self.clone(),
        })
    }

    fn give_back(&self, buffer: Vec<u8>) {
        let mut free = self.free.lock().expect("buffer pool lock");
        if free.capacity + buffer.capacity() <= self.max_kept {
            free.capacity += buffer.capacity();
            free.buffers.push(buffer);
        }
    }

    #[cfg(test)]
    fn kept(&self) -> (usize, usize) {
        let free = self.free.lock().expect("buffer pool lock");
        (free.buffers.len(), free.capacity)
    }
}

/// A buffer out of the pool, behind a [`Bytes`].
struct Lent {
    buffer: Vec<u8>,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_buffer_is_used_again_for_the_next_batch() {
        let pool = BufferPool::new(1 << 20);
        let first = pool.copy(&[7; 1000]);
        assert_eq!(&first[..], &[7; 1000][..]);
        let address = first.as_ptr();
        let clone = first.clone();
        drop(first);
        assert_eq!(pool.kept().0, 0, "a clone still reads it");
        drop(clone);
        assert_eq!(pool.kept().0, 1);
        let second = pool.copy(&[9; 600]);
        assert_eq!(second.as_ptr(), address, "the same allocation");
        assert_eq!(&second[..], &[9; 600][..]);
        assert_eq!(pool.kept(), (0, 0));
    }

    #[test]
    fn what_the_pool_keeps_is_bounded_in_bytes() {
        let pool = BufferPool::new(3000);
        let lent: Vec<Bytes> = (0..4).map(|_| pool.copy(&[1; 1000])).collect();
        drop(lent);
        let (count, capacity) = pool.kept();
        assert!(capacity <= 3000, "{capacity} bytes kept");
        assert!(count < 4, "{count} buffers kept");
    }
}
