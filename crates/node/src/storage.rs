//! What a node's stable storage held when it booted.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A read-only view of stable storage: ordered byte keys to byte values.
///
/// Nodes write storage only through [`crate::Effect::Persist`]; they read it only at
/// [`crate::Node::boot`]. (This is raft-rs's split: storage is read by the node, written
/// by the driver as the node instructs.)
///
/// Drivers store a checksum beside every entry, as a storage engine frames its records,
/// and check it on reading: an entry that fails (torn by a crash mid-write, or read back
/// corrupted) is not handed to the node as data; its key is listed in
/// [`Storage::damaged`] so the node can decide whether it can start at all
/// ([`crate::Node::check_storage`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    damaged: BTreeMap<Vec<u8>, Damage>,
}

/// How a stored entry failed its checksum.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Damage {
    /// Shorter than its record says: a write cut short by a crash. A synced write
    /// completes before anything after it happens, so a torn one was never acknowledged.
    Torn,
    /// Whole, but its bytes do not match their checksum: corrupted after it was written
    /// (or while being read), so it may have been acknowledged.
    Corrupt,
}

impl Storage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// The value under `key` read as a big-endian `u64`, if present and 8 bytes long.
    pub fn get_u64(&self, key: &[u8]) -> Option<u64> {
        self.get(key).and_then(decode_u64)
    }

    /// Every entry whose key starts with `prefix`, in key order.
    pub fn scan_prefix<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.entries
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose stored checksum did not match what was read, in key order.
    pub fn damaged(&self) -> impl Iterator<Item = (&[u8], Damage)> + '_ {
        self.damaged.iter().map(|(k, d)| (k.as_slice(), *d))
    }

    /// How many entries failed their checksums.
    pub fn damaged_len(&self) -> usize {
        self.damaged.len()
    }

    /// Record that the entry under `key` failed its checksum: it is dropped from the
    /// data and listed in [`Storage::damaged`]. Drivers call this; nodes do not.
    pub fn mark_damaged(&mut self, key: Vec<u8>, damage: Damage) {
        self.entries.remove(&key);
        self.damaged.insert(key, damage);
    }

    /// Set or (with `None`) delete one entry. Drivers call this; nodes do not.
    pub fn apply(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        match value {
            Some(v) => {
                self.entries.insert(key, v);
            }
            None => {
                self.entries.remove(&key);
            }
        }
    }
}

/// Decode an 8-byte big-endian `u64`.
pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_prefix_returns_only_matching_keys_in_order() {
        let mut s = Storage::new();
        s.apply(b"kv/b".to_vec(), Some(vec![2]));
        s.apply(b"kv/a".to_vec(), Some(vec![1]));
        s.apply(b"kw".to_vec(), Some(vec![3]));
        s.apply(b"k".to_vec(), Some(vec![0]));
        let got: Vec<_> = s
            .scan_prefix(b"kv/")
            .map(|(k, v)| (k.to_vec(), v[0]))
            .collect();
        assert_eq!(got, vec![(b"kv/a".to_vec(), 1), (b"kv/b".to_vec(), 2)]);
        s.apply(b"kv/a".to_vec(), None);
        assert_eq!(s.scan_prefix(b"kv/").count(), 1);
    }

    #[test]
    fn a_damaged_entry_is_listed_once_and_is_not_data() {
        let mut s = Storage::new();
        s.apply(b"b".to_vec(), Some(vec![1]));
        s.mark_damaged(b"b".to_vec(), Damage::Corrupt);
        s.mark_damaged(b"a".to_vec(), Damage::Torn);
        s.mark_damaged(b"b".to_vec(), Damage::Corrupt);
        assert_eq!(s.get(b"b"), None);
        let damaged: Vec<_> = s.damaged().collect();
        assert_eq!(
            damaged,
            vec![(&b"a"[..], Damage::Torn), (&b"b"[..], Damage::Corrupt)]
        );
        assert_eq!(s.damaged_len(), 2);
    }

    #[test]
    fn nodes_start_over_torn_entries_and_refuse_corrupt_ones() {
        let mut s = Storage::new();
        s.mark_damaged(b"t".to_vec(), Damage::Torn);
        assert_eq!(crate::refuse_corruption(&s), Ok(()));
        s.mark_damaged(b"c".to_vec(), Damage::Corrupt);
        s.mark_damaged(b"d".to_vec(), Damage::Corrupt);
        assert_eq!(
            crate::refuse_corruption(&s),
            Err("2 stored entries failed their checksums".to_string())
        );
    }

    #[test]
    fn get_u64_rejects_wrong_lengths() {
        let mut s = Storage::new();
        s.apply(b"x".to_vec(), Some(7u64.to_be_bytes().to_vec()));
        s.apply(b"y".to_vec(), Some(vec![1, 2, 3]));
        assert_eq!(s.get_u64(b"x"), Some(7));
        assert_eq!(s.get_u64(b"y"), None);
        assert_eq!(s.get_u64(b"z"), None);
    }
}
