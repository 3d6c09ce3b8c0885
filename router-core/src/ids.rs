//! Client IDs: how they are laid out and handed out.
//!
//! An ID is a `u32`. Its high bits may name the node and the shard that own the
//! connection, so that a router split across cores or machines can find a
//! destination's owner from its ID alone; the remaining low bits are a sequence
//! local to one router core:
//!
//! ```text
//!  31                                                        0
//! +-------------+--------------+------------------------------+
//! | node_bits   | shard_bits   | sequence (32 - node - shard) |
//! +-------------+--------------+------------------------------+
//! ```
//!
//! A single router reserves no bits ([`IdLayout::SINGLE`]): its IDs are the
//! sequence itself, starting at 0.

/// Which high bits of an ID name the node and shard that own it, and which node
/// and shard this router core is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdLayout {
    node_bits: u8,
    node: u32,
    shard_bits: u8,
    shard: u32,
}

/// Where a destination ID lives, relative to this router core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// This core owns the ID: the destination, if live, is one of its connections.
    Local,
    /// Another shard or node owns the ID.
    Remote {
        /// The owning node's index.
        node: u32,
        /// The owning shard's index within that node.
        shard: u32,
    },
}

/// Why an [`IdLayout`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdLayoutError {
    /// Too many bits are reserved, leaving too small a sequence for live IDs.
    #[error("id_layout reserves {0} bits for node and shard; at most 16 may be reserved")]
    TooManyBits(u32),
    /// The node or shard index does not fit its bits.
    #[error("{what} index {index} does not fit in {bits} bits")]
    IndexTooLarge {
        /// `"node"` or `"shard"`.
        what: &'static str,
        /// The configured index.
        index: u32,
        /// The bits reserved for it.
        bits: u8,
    },
}

/// At most this many bits go to node and shard, so that each core keeps at least
/// 65 536 IDs of its own to hand out.
const MAX_RESERVED_BITS: u32 = 16;

impl IdLayout {
    /// A lone router: no bits reserved, every ID is local.
    pub const SINGLE: IdLayout = IdLayout {
        node_bits: 0,
        node: 0,
        shard_bits: 0,
        shard: 0,
    };

    /// A layout reserving `node_bits` for the node index and `shard_bits` for the
    /// shard index, for the core that is shard `shard` of node `node`.
    /// [`Config::validate`](crate::Config::validate) checks that it is consistent.
    pub const fn new(node_bits: u8, node: u32, shard_bits: u8, shard: u32) -> Self {
        IdLayout {
            node_bits,
            node,
            shard_bits,
            shard,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), IdLayoutError> {
        let reserved = self.reserved_bits();
        if reserved > MAX_RESERVED_BITS {
            return Err(IdLayoutError::TooManyBits(reserved));
        }
        for (what, index, bits) in [
            ("node", self.node, self.node_bits),
            ("shard", self.shard, self.shard_bits),
        ] {
            if u64::from(index) >= 1u64 << bits {
                return Err(IdLayoutError::IndexTooLarge { what, index, bits });
            }
        }
        Ok(())
    }

    /// The node and shard bits, which every core of a router must share.
    pub(crate) fn bits(&self) -> (u8, u8) {
        (self.node_bits, self.shard_bits)
    }

    /// This core's node and shard indexes.
    pub(crate) fn owner(&self) -> (u32, u32) {
        (self.node, self.shard)
    }

    /// Whether a core with these indexes can exist under this layout.
    pub(crate) fn holds(&self, node: u32, shard: u32) -> bool {
        u64::from(node) < 1u64 << self.node_bits && u64::from(shard) < 1u64 << self.shard_bits
    }

    fn reserved_bits(&self) -> u32 {
        u32::from(self.node_bits) + u32::from(self.shard_bits)
    }

    fn sequence_bits(&self) -> u32 {
        32 - self.reserved_bits()
    }

    /// How many IDs this core can hand out: `2^(32 - node_bits - shard_bits)`.
    pub fn local_id_space(&self) -> u64 {
        1u64 << self.sequence_bits()
    }

    /// The owner bits of this core, already shifted into place.
    fn prefix(&self) -> u32 {
        let node = u64::from(self.node) << (32 - u32::from(self.node_bits));
        let shard = u64::from(self.shard) << self.sequence_bits();
        // A zero-width field shifts by 32 and lands above bit 31: the u64 keeps
        // that from overflowing, and the truncation drops it.
        ((node | shard) & u64::from(u32::MAX)) as u32
    }

    /// The full ID for local sequence number `sequence`.
    fn compose(&self, sequence: u64) -> u32 {
        self.prefix() | sequence as u32
    }

    /// Which core owns `id`.
    pub fn owner_of(&self, id: u32) -> Owner {
        let reserved_mask = !((self.local_id_space() - 1) as u32);
        if id & reserved_mask == self.prefix() {
            return Owner::Local;
        }
        let id = u64::from(id);
        let node = (id >> (32 - u32::from(self.node_bits))) as u32 & mask(self.node_bits);
        let shard = (id >> self.sequence_bits()) as u32 & mask(self.shard_bits);
        Owner::Remote { node, shard }
    }
}

fn mask(bits: u8) -> u32 {
    ((1u64 << bits) - 1) as u32
}

/// Hands out this core's IDs in sequence, skipping IDs still live after a wrap,
/// so that an ID comes back only after every other ID of the space was handed out.
#[derive(Debug)]
pub(crate) struct IdAllocator {
    layout: IdLayout,
    next_sequence: u64,
}

impl IdAllocator {
    /// Hands out IDs from sequence number `start` (modulo the space) on.
    pub(crate) fn new(layout: IdLayout, start: u64) -> Self {
        IdAllocator {
            layout,
            next_sequence: start % layout.local_id_space(),
        }
    }

    pub(crate) fn layout(&self) -> &IdLayout {
        &self.layout
    }

    /// The next ID for which `is_live` is false. The caller guarantees that fewer
    /// IDs are live than the space holds ([`Config::validate`] checks
    /// `max_connections` against it), so the search ends.
    ///
    /// [`Config::validate`]: crate::Config::validate
    pub(crate) fn allocate(&mut self, is_live: impl Fn(u32) -> bool) -> u32 {
        let space = self.layout.local_id_space();
        loop {
            let id = self.layout.compose(self.next_sequence);
            self.next_sequence = (self.next_sequence + 1) % space;
            if !is_live(id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_layout_hands_out_the_sequence_and_owns_everything() {
        let mut ids = IdAllocator::new(IdLayout::SINGLE, 0);
        assert_eq!(ids.allocate(|_| false), 0);
        assert_eq!(ids.allocate(|_| false), 1);
        assert_eq!(IdLayout::SINGLE.owner_of(u32::MAX), Owner::Local);
        assert_eq!(IdLayout::SINGLE.local_id_space(), 1 << 32);
    }

    #[test]
    fn wraps_and_skips_live_ids() {
        let layout = IdLayout::new(8, 0, 8, 0);
        let mut ids = IdAllocator::new(layout, 0);
        ids.next_sequence = layout.local_id_space() - 1;
        assert_eq!(ids.allocate(|_| false), 0xFFFF);
        // After the wrap, 0 and 1 are still live: skipped.
        assert_eq!(ids.allocate(|id| id < 2), 2);
    }

    #[test]
    fn the_sequence_starts_where_it_is_told_modulo_the_space() {
        let layout = IdLayout::new(8, 1, 8, 0);
        let mut ids = IdAllocator::new(layout, layout.local_id_space() + 5);
        assert_eq!(ids.allocate(|_| false), 0x0100_0005);
    }

    #[test]
    fn owner_bits_round_trip() {
        let layout = IdLayout::new(4, 3, 4, 5);
        assert_eq!(layout.validate(), Ok(()));
        let mut ids = IdAllocator::new(layout, 0);
        let id = ids.allocate(|_| false);
        assert_eq!(id, 0x3500_0000);
        assert_eq!(layout.owner_of(id), Owner::Local);
        assert_eq!(
            layout.owner_of(0x7200_0001),
            Owner::Remote { node: 7, shard: 2 }
        );
        let shard_only = IdLayout::new(0, 0, 2, 1);
        assert_eq!(
            shard_only.owner_of(0xC000_0000),
            Owner::Remote { node: 0, shard: 3 }
        );
    }

    #[test]
    fn rejects_bad_layouts() {
        assert_eq!(
            IdLayout::new(10, 0, 10, 0).validate(),
            Err(IdLayoutError::TooManyBits(20))
        );
        assert!(matches!(
            IdLayout::new(2, 4, 0, 0).validate(),
            Err(IdLayoutError::IndexTooLarge { what: "node", .. })
        ));
    }
}
