//! The buffers a core's batches travel in to `async-nats`, used again once
//! it has written them.
//!
//! The bridge takes the buffer a core hands it, batch and all, and leaves a
//! free one from here in its place; `async-nats` drops a batch once it is
//! written, and the buffer comes back here. A fresh allocation per batch is
//! what this avoids: a batch is hundreds of KiB once frames are 1 KiB, the
//! allocator hands memory that large back to the kernel when it is freed,
//! and every 4 KiB page of the next one is then faulted in and zeroed again
//! (a quarter of a node's CPU in the profile of issue 16's 1 KiB run).
//! Buffers that come back here keep their pages.

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

    /// Takes `batch`'s buffer, leaving a free one (empty) or nothing in its
    /// place; the buffer taken comes back here once the [`Bytes`] and every
    /// clone of it are dropped.
    pub(crate) fn take(self: &Arc<Self>, batch: &mut Vec<u8>) -> Bytes {
        let mut spare = {
            let mut free = self.free.lock().expect("buffer pool lock");
            let spare = free.buffers.pop().unwrap_or_default();
            free.capacity -= spare.capacity();
            spare
        };
        spare.clear();
        Bytes::from_owner(Lent {
            buffer: std::mem::replace(batch, spare),
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
        let mut batch = vec![7; 1000];
        let address = batch.as_ptr();
        let first = pool.take(&mut batch);
        assert_eq!(&first[..], &[7; 1000][..]);
        assert_eq!(first.as_ptr(), address, "taken, not copied");
        assert_eq!(batch.capacity(), 0, "nothing free to leave in its place");
        let clone = first.clone();
        drop(first);
        assert_eq!(pool.kept().0, 0, "a clone still reads it");
        drop(clone);
        assert_eq!(pool.kept().0, 1);
        let second = pool.take(&mut batch);
        assert!(second.is_empty());
        assert_eq!(
            batch.as_ptr(),
            address,
            "the same allocation, for the next batch"
        );
        assert!(batch.is_empty() && batch.capacity() >= 1000);
        assert_eq!(pool.kept(), (0, 0));
    }

    #[test]
    fn what_the_pool_keeps_is_bounded_in_bytes() {
        let pool = BufferPool::new(3000);
        let lent: Vec<Bytes> = (0..4).map(|_| pool.take(&mut vec![1; 1000])).collect();
        drop(lent);
        let (count, capacity) = pool.kept();
        assert!(capacity <= 3000, "{capacity} bytes kept");
        assert!(count < 4, "{count} buffers kept");
    }
}
