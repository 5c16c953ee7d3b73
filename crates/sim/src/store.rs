//! A simulated disk: synced writes survive a crash, buffered writes may not.

use dsys_node::{Durability, Storage};

/// One node's stable storage with an OS write buffer in front of it.
///
/// A buffered write sits in the buffer; a synced write flushes the whole buffer in order
/// and then itself (fsync semantics). A crash empties the buffer, so what survives is
/// always a prefix of the writes in the order the node made them.
#[derive(Clone, Debug, Default)]
pub struct SimStore {
    durable: Storage,
    buffered: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    lost_on_crash: u64,
}

impl SimStore {
    /// Apply one write with the given durability.
    pub fn write(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, durability: Durability) {
        match durability {
            Durability::Buffered => self.buffered.push((key, value)),
            Durability::Synced => {
                for (k, v) in self.buffered.drain(..) {
                    self.durable.apply(k, v);
                }
                self.durable.apply(key, value);
            }
        }
    }

    /// The node crashed: buffered writes are gone.
    pub fn crash(&mut self) {
        self.lost_on_crash += self.buffered.len() as u64;
        self.buffered.clear();
    }

    /// What a node booting now would find.
    pub fn durable(&self) -> &Storage {
        &self.durable
    }

    /// Writes not yet synced.
    pub fn buffered_len(&self) -> usize {
        self.buffered.len()
    }

    /// Buffered writes lost to crashes so far.
    pub fn lost_on_crash(&self) -> u64 {
        self.lost_on_crash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_keeps_synced_and_loses_buffered() {
        let mut s = SimStore::default();
        s.write(b"a".to_vec(), Some(vec![1]), Durability::Buffered);
        s.write(b"b".to_vec(), Some(vec![2]), Durability::Synced); // flushes a too
        s.write(b"c".to_vec(), Some(vec![3]), Durability::Buffered);
        s.crash();
        assert_eq!(s.durable().get(b"a"), Some(&[1u8][..]));
        assert_eq!(s.durable().get(b"b"), Some(&[2u8][..]));
        assert_eq!(s.durable().get(b"c"), None);
        assert_eq!(s.lost_on_crash(), 1);
    }

    #[test]
    fn a_synced_delete_flushes_earlier_writes_first() {
        let mut s = SimStore::default();
        s.write(b"a".to_vec(), Some(vec![1]), Durability::Buffered);
        s.write(b"a".to_vec(), None, Durability::Synced);
        assert_eq!(s.durable().get(b"a"), None);
        assert_eq!(s.buffered_len(), 0);
    }
}
