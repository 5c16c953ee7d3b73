//! Tags: invalidate every entry tagged `user:123` at once, with the same guarantee as a
//! delete: no fill of a value read before the invalidation gets in afterwards.
//!
//! A key's tags are known only once its value is loaded, so a lease cannot name them.
//! Instead every invalidation of a tag takes the next number of one epoch counter, and a
//! load notes the epoch before it reads the source. Its fill is refused if any tag of the
//! value was invalidated after that epoch. The fill checks and indexes the key under its
//! tags while holding the key's lease stripe, and an invalidation invalidates each key
//! through the same stripe, so a key is either indexed before the invalidation looks
//! (and then invalidated) or refused.
//!
//! Memory stays bounded: the invalidation records kept are the most recent
//! [`RECORDS`]; older ones are folded into a floor below which every tagged fill is
//! refused (a refusal is always safe: the next read loads again). Keys whose entries have
//! gone are pruned from the index now and then.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Invalidation records kept before the oldest fold into the floor.
pub const RECORDS: usize = 4_096;

#[derive(Debug)]
struct Index<K> {
    epoch: u64,
    /// Per tag, the epoch of its last invalidation (the most recent [`RECORDS`]).
    invalidated: BTreeMap<String, u64>,
    /// Tagged fills from leases older than this are refused.
    floor: u64,
    /// Per tag, the keys filled with it.
    keys: BTreeMap<String, BTreeSet<K>>,
    /// Where the last pruning sample ended: the next one goes on from there.
    cursor: Option<(String, K)>,
}

/// The tag index of one cache.
#[derive(Debug)]
pub(crate) struct Tags<K> {
    index: Mutex<Index<K>>,
}

impl<K: Ord + Clone> Tags<K> {
    pub(crate) fn new() -> Self {
        Tags {
            index: Mutex::new(Index {
                epoch: 0,
                invalidated: BTreeMap::new(),
                floor: 0,
                keys: BTreeMap::new(),
                cursor: None,
            }),
        }
    }

    fn index(&self) -> MutexGuard<'_, Index<K>> {
        // Every change to the index is whole before the lock is let go.
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The epoch a load notes before it reads the source.
    pub(crate) fn epoch(&self) -> u64 {
        self.index().epoch
    }

    /// Whether a value tagged `tags`, read by a load that noted `epoch`, may be filled
    /// under `key`; if so, `key` is indexed under its tags. Call it holding the key's
    /// lease stripe.
    pub(crate) fn admit(&self, key: &K, tags: &[String], epoch: u64) -> bool {
        if tags.is_empty() {
            return true;
        }
        let mut index = self.index();
        let stale = epoch < index.floor
            || tags
                .iter()
                .any(|t| index.invalidated.get(t).is_some_and(|&at| at > epoch));
        if stale {
            return false;
        }
        for t in tags {
            index.keys.entry(t.clone()).or_default().insert(key.clone());
        }
        true
    }

    /// Record an invalidation of `tag`; the keys filled with it, to invalidate each
    /// through its stripe.
    pub(crate) fn invalidate(&self, tag: &str) -> BTreeSet<K> {
        let mut index = self.index();
        index.epoch += 1;
        let epoch = index.epoch;
        index.invalidated.insert(tag.to_string(), epoch);
        if index.invalidated.len() > RECORDS {
            // Fold the oldest record into the floor.
            let oldest = index
                .invalidated
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (t.clone(), *at));
            if let Some((t, at)) = oldest {
                index.invalidated.remove(&t);
                index.floor = index.floor.max(at);
            }
        }
        index.keys.remove(tag).unwrap_or_default()
    }

    /// Index entries to look at when pruning: (tag, key), at most `max`, going on from
    /// where the last sample ended (and round again from the start), so every entry is
    /// looked at in turn.
    pub(crate) fn sample(&self, max: usize) -> Vec<(String, K)> {
        let mut index = self.index();
        let all = index
            .keys
            .iter()
            .flat_map(|(t, keys)| keys.iter().map(move |k| (t, k)));
        let after: Vec<(String, K)> = match &index.cursor {
            Some(cursor) => all
                .filter(|(t, k)| (*t, *k) > (&cursor.0, &cursor.1))
                .take(max)
                .map(|(t, k)| (t.clone(), k.clone()))
                .collect(),
            None => all.take(max).map(|(t, k)| (t.clone(), k.clone())).collect(),
        };
        index.cursor = after.last().cloned();
        after
    }

    /// Forget that `key` is tagged `tag` (its entry is gone). Call it holding the key's
    /// lease stripe.
    pub(crate) fn forget(&self, tag: &str, key: &K) {
        let mut index = self.index();
        if let Some(keys) = index.keys.get_mut(tag) {
            keys.remove(key);
            if keys.is_empty() {
                index.keys.remove(tag);
            }
        }
    }

    /// (tag, key) pairs indexed.
    pub(crate) fn indexed(&self) -> usize {
        self.index().keys.values().map(BTreeSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn a_fill_read_before_an_invalidation_of_its_tag_is_refused() {
        let index: Tags<u32> = Tags::new();
        let before = index.epoch();
        assert!(index.admit(&1, &tags(&["user:1"]), before));
        let keys = index.invalidate("user:1");
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), [1]);
        assert!(
            !index.admit(&2, &tags(&["user:1", "x"]), before),
            "read before"
        );
        assert!(
            index.admit(&2, &tags(&["x"]), before),
            "other tags are untouched"
        );
        assert!(
            index.admit(&2, &tags(&["user:1"]), index.epoch()),
            "read after"
        );
        assert!(
            index.admit(&3, &[], before),
            "untagged fills are the lease's business"
        );
    }

    #[test]
    fn old_records_fold_into_a_floor_that_only_refuses() {
        let index: Tags<u32> = Tags::new();
        let ancient = index.epoch();
        for t in 0..=RECORDS {
            let _ = index.invalidate(&format!("t{t}"));
        }
        assert!(index.index().invalidated.len() <= RECORDS);
        assert!(
            !index.admit(&1, &tags(&["unrelated"]), ancient),
            "below the floor"
        );
        assert!(index.admit(&1, &tags(&["unrelated"]), index.epoch()));
        index.forget("unrelated", &1);
        assert_eq!(index.indexed(), 0);
    }
}
