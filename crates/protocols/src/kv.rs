//! The replicated key-value data every reference protocol keeps, and how it is stored.

use dsys_node::{Key, Op, Response, Storage, Value, decode_u64};
use std::collections::BTreeMap;
use std::hash::Hasher;

const KV_PREFIX: &[u8] = b"kv/";

/// The storage key of a data key.
pub fn storage_key(key: Key) -> Vec<u8> {
    crate::cluster::indexed_key(KV_PREFIX, key)
}

/// What `op` answers when its key currently holds `current`, and the write it makes.
pub fn decide(op: Op, current: Option<Value>) -> (Response, Option<(Key, Value)>) {
    match op {
        Op::Read { .. } => (Response::ReadOk(current), None),
        Op::Write { key, value } => (Response::WriteOk, Some((key, value))),
        Op::Cas { key, expected, new } if current == Some(expected) => {
            (Response::CasOk, Some((key, new)))
        }
        Op::Cas { .. } => (Response::CasMismatch, None),
        // Registers only: counters and sets are kept by `multi-leader` (the lab pairs the
        // counter and set workloads with it alone), so elsewhere they are refused.
        Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {
            (Response::Unavailable, None)
        }
    }
}

/// An in-memory key-value map, rebuilt from storage at boot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvData {
    map: BTreeMap<Key, Value>,
    /// The wrapping sum of [`entry_hash`] over the entries: the digest, kept up to date
    /// as the map changes so that reading it is free (the Raft monitor reads it after
    /// every apply).
    digest: u64,
}

/// One entry's share of [`KvData::digest`].
fn entry_hash(key: Key, value: Value) -> u64 {
    crate::merkle::mix(crate::merkle::mix(key).wrapping_add(value))
}

impl KvData {
    /// Load every `kv/` entry of `storage`; malformed entries are skipped.
    pub fn load(storage: &Storage) -> Self {
        let mut data = KvData::default();
        for (k, v) in storage.scan_prefix(KV_PREFIX) {
            if let (Some(key), Some(value)) = (decode_u64(&k[KV_PREFIX.len()..]), decode_u64(v)) {
                data.set(key, value);
            }
        }
        data
    }

    /// The value of `key`.
    pub fn get(&self, key: Key) -> Option<Value> {
        self.map.get(&key).copied()
    }

    /// Every key and its value, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (Key, Value)> + '_ {
        self.map.iter().map(|(&k, &v)| (k, v))
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key holds a value.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Set `key`.
    pub fn set(&mut self, key: Key, value: Value) {
        if let Some(old) = self.map.insert(key, value) {
            self.digest = self.digest.wrapping_sub(entry_hash(key, old));
        }
        self.digest = self.digest.wrapping_add(entry_hash(key, value));
    }

    /// What `op` answers against this data, and the write it makes, if any. The caller
    /// carries the write out its own way (persist, log, replicate) before replying.
    pub fn decide(&self, op: Op) -> (Response, Option<(Key, Value)>) {
        decide(op, self.get(op.key()))
    }

    /// A digest that is equal on two replicas exactly when their data is (barring
    /// hash collisions); independent of the order the entries were set in.
    pub fn digest(&self) -> u64 {
        self.digest
    }
}

/// FNV-1a, 64-bit: small and stable, enough to compare replicas.
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_skips_malformed_entries() {
        let mut s = Storage::new();
        s.apply(storage_key(1), Some(9u64.to_be_bytes().to_vec()));
        s.apply(b"kv/short".to_vec(), Some(vec![0; 8]));
        s.apply(storage_key(2), Some(vec![1, 2]));
        let kv = KvData::load(&s);
        assert_eq!(kv.get(1), Some(9));
        assert_eq!(kv.get(2), None);
    }

    #[test]
    fn decide_answers_each_operation() {
        let mut kv = KvData::default();
        assert_eq!(
            kv.decide(Op::Read { key: 1 }),
            (Response::ReadOk(None), None)
        );
        assert_eq!(
            kv.decide(Op::Write { key: 1, value: 5 }),
            (Response::WriteOk, Some((1, 5)))
        );
        kv.set(1, 5);
        assert_eq!(
            kv.decide(Op::Cas {
                key: 1,
                expected: 5,
                new: 6
            }),
            (Response::CasOk, Some((1, 6)))
        );
        assert_eq!(
            kv.decide(Op::Cas {
                key: 1,
                expected: 4,
                new: 6
            }),
            (Response::CasMismatch, None)
        );
        assert_eq!(
            kv.decide(Op::Cas {
                key: 2,
                expected: 4,
                new: 6
            }),
            (Response::CasMismatch, None)
        );
    }

    #[test]
    fn digest_tracks_content() {
        let mut a = KvData::default();
        let mut b = KvData::default();
        a.set(1, 2);
        b.set(1, 2);
        assert_eq!(a.digest(), b.digest());
        b.set(1, 3);
        assert_ne!(a.digest(), b.digest());
        // Overwriting back, and setting in another order, give equal digests.
        b.set(1, 2);
        b.set(5, 6);
        a.set(5, 0);
        a.set(5, 6);
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), KvData::default().digest());
    }
}
