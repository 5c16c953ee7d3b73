//! What a node's stable storage held when it booted.

use std::collections::BTreeMap;
use std::ops::Bound;

/// A read-only view of stable storage: ordered byte keys to byte values.
///
/// Nodes write storage only through [`crate::Effect::Persist`]; they read it only at
/// [`crate::Node::boot`]. (This is raft-rs's split: storage is read by the node, written
/// by the driver as the node instructs.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Storage {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
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
    fn get_u64_rejects_wrong_lengths() {
        let mut s = Storage::new();
        s.apply(b"x".to_vec(), Some(7u64.to_be_bytes().to_vec()));
        s.apply(b"y".to_vec(), Some(vec![1, 2, 3]));
        assert_eq!(s.get_u64(b"x"), Some(7));
        assert_eq!(s.get_u64(b"y"), None);
        assert_eq!(s.get_u64(b"z"), None);
    }
}
