//! Raft's log: entries, their stored form, and the in-memory copy a node keeps.

use crate::kv::Fnv;
use dsys_node::{Op, RequestId, decode_u64};
use std::hash::{Hash, Hasher};

/// What one log entry carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Command {
    /// The entry a new leader appends so that it commits something in its own term
    /// (only then does it know which entries are committed).
    Noop,
    /// A new voter set (single-server membership change): bit `i` set means node `i`
    /// votes. It takes effect on every node as soon as it is in the node's log.
    Config {
        /// The voters, as a bit set over node ids.
        voters: u64,
    },
    /// A client's update, tagged with its request id so a retry applies once.
    Client {
        /// The request.
        request: RequestId,
        /// The operation.
        op: Op,
    },
}

/// One log entry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Entry {
    /// The term of the leader that appended it.
    pub term: u64,
    /// What it does.
    pub command: Command,
}

/// Big-endian words as bytes: the stored forms of entries and snapshots.
pub(super) fn to_bytes(words: impl IntoIterator<Item = u64>) -> Vec<u8> {
    words.into_iter().flat_map(u64::to_be_bytes).collect()
}

/// Bytes as big-endian words; `None` unless the length is a whole number of words.
pub(super) fn to_words(bytes: &[u8]) -> Option<Vec<u64>> {
    if bytes.len() % 8 != 0 {
        return None;
    }
    bytes.chunks_exact(8).map(decode_u64).collect()
}

/// The stored form: term, then a tag and the command's words.
pub fn encode(e: &Entry) -> Vec<u8> {
    let words: Vec<u64> = match e.command {
        Command::Noop => vec![0],
        Command::Config { voters } => vec![7, voters],
        Command::Client { request, op } => {
            let (tag, key, a, b) = match op {
                Op::Read { key } => (1, key, 0, 0),
                Op::Write { key, value } => (2, key, value, 0),
                Op::Cas { key, expected, new } => (3, key, expected, new),
                Op::Increment { key, delta } => (4, key, delta as u64, 0),
                Op::Insert { key, element } => (5, key, element, 0),
                Op::Remove { key, element } => (6, key, element, 0),
            };
            vec![tag, request.client, request.seq, key, a, b]
        }
    };
    to_bytes(std::iter::once(e.term).chain(words))
}

/// Parse the stored form; `None` if it is malformed.
pub fn decode(bytes: &[u8]) -> Option<Entry> {
    let words = to_words(bytes)?;
    let command = match words.as_slice() {
        [_, 0] => Command::Noop,
        [_, 7, voters] => Command::Config { voters: *voters },
        [_, tag, client, seq, key, a, b] => {
            let (key, a, b) = (*key, *a, *b);
            let op = match tag {
                1 => Op::Read { key },
                2 => Op::Write { key, value: a },
                3 => Op::Cas {
                    key,
                    expected: a,
                    new: b,
                },
                4 => Op::Increment {
                    key,
                    delta: a as i64,
                },
                5 => Op::Insert { key, element: a },
                6 => Op::Remove { key, element: a },
                _ => return None,
            };
            Command::Client {
                request: RequestId {
                    client: *client,
                    seq: *seq,
                },
                op,
            }
        }
        _ => return None,
    };
    Some(Entry {
        term: *words.first()?,
        command,
    })
}

/// A node's log, 1-based as in the Raft paper (index 0 is the empty prefix, term 0).
///
/// Beside each entry the log keeps a *prefix hash*: a hash chained over every entry up to
/// and including it. Two logs with the same prefix hash at an index hold the same
/// entries up to it (barring collisions), which is what lets the simulation check Log
/// Matching and "committed entries never change" in constant time per step.
///
/// Entries up to the *snapshot index* may have been compacted away: the log then keeps
/// only that index's term and prefix hash, so a follower can still be matched against
/// it and the prefix-hash chain goes on unbroken past it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// The last index folded into a snapshot (0: none).
    base: u64,
    /// The term of the entry at `base`.
    base_term: u64,
    /// The prefix hash at `base`.
    base_hash: u64,
    /// The entries after `base`.
    entries: Vec<Entry>,
    /// `prefix[i]` is the prefix hash of the entry at index `base + i + 1`.
    prefix: Vec<u64>,
}

fn chain(previous: u64, entry: &Entry) -> u64 {
    let mut h = Fnv::default();
    h.write_u64(previous);
    entry.hash(&mut h);
    h.finish()
}

impl Log {
    /// A log holding `entries` (index 1 first).
    pub fn from_entries(entries: Vec<Entry>) -> Self {
        Self::after_snapshot(0, 0, 0, entries)
    }

    /// A log whose entries up to `index` (of `term`, with prefix hash `hash`) are in a
    /// snapshot, holding `entries` after it.
    pub fn after_snapshot(index: u64, term: u64, hash: u64, entries: Vec<Entry>) -> Self {
        let mut log = Log {
            base: index,
            base_term: term,
            base_hash: hash,
            ..Log::default()
        };
        for entry in entries {
            log.push(entry);
        }
        log
    }

    /// The last index folded into a snapshot (0: none); entries up to it are gone.
    pub fn snapshot_index(&self) -> u64 {
        self.base
    }

    /// The offset into `entries` of `index`, if the log holds that entry.
    fn position(&self, index: u64) -> Option<usize> {
        index
            .checked_sub(self.base + 1)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < self.entries.len())
    }

    /// The prefix hash at `index` (0 for the empty prefix); `None` past the end or
    /// before the snapshot index.
    pub fn prefix_hash(&self, index: u64) -> Option<u64> {
        if index == self.base {
            return Some(self.base_hash);
        }
        self.position(index).map(|i| self.prefix[i])
    }

    /// The last index (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    /// The term of the last entry (0 when empty).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The term of the entry at `index` (0 for index 0); `None` past the end or before
    /// the snapshot index.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.base {
            return Some(self.base_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`, unless compacted or past the end.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        self.position(index).map(|i| &self.entries[i])
    }

    /// Up to `max` entries from `from` on; none if `from` is compacted.
    pub fn slice(&self, from: u64, max: usize) -> Vec<Entry> {
        match self.position(from) {
            Some(start) => {
                let end = start.saturating_add(max).min(self.entries.len());
                self.entries[start..end].to_vec()
            }
            None => Vec::new(),
        }
    }

    /// Append one entry; returns its index.
    pub fn push(&mut self, entry: Entry) -> u64 {
        let previous = self.prefix.last().copied().unwrap_or(self.base_hash);
        self.prefix.push(chain(previous, &entry));
        self.entries.push(entry);
        self.last_index()
    }

    /// Drop every entry from `index` on (never the snapshot: it is committed); returns
    /// how many were dropped.
    pub fn truncate_from(&mut self, index: u64) -> u64 {
        let keep = index.saturating_sub(1).max(self.base) - self.base;
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        let dropped = self.entries.len().saturating_sub(keep);
        self.entries.truncate(keep);
        self.prefix.truncate(keep);
        dropped as u64
    }

    /// Fold the entries up to `index` into a snapshot: drop them, keeping the term and
    /// prefix hash at `index`. Does nothing unless the log holds `index`.
    pub fn compact_to(&mut self, index: u64) {
        let Some(i) = self.position(index) else {
            return;
        };
        self.base_term = self.entries[i].term;
        self.base_hash = self.prefix[i];
        self.base = index;
        self.entries.drain(..=i);
        self.prefix.drain(..=i);
    }

    /// The first index of the term of the entry at `index` (for conflict back-off); never
    /// below the first entry the log holds.
    pub fn first_index_of_term_at(&self, index: u64) -> u64 {
        let Some(term) = self.get(index).map(|e| e.term) else {
            return self.last_index() + 1;
        };
        let mut first = index;
        while first > self.base + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The latest voter set among the entries up to `index` and its index, if they hold
    /// one (entries folded into a snapshot are not searched).
    pub fn latest_config_through(&self, index: u64) -> Option<(u64, u64)> {
        let end = index
            .saturating_sub(self.base)
            .min(self.entries.len() as u64) as usize;
        self.entries[..end]
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, e)| match e.command {
                Command::Config { voters } => Some((self.base + i as u64 + 1, voters)),
                _ => None,
            })
    }

    /// Whether a candidate whose log ends at `(last_term, last_index)` is at least as up
    /// to date as this log (Raft §5.4.1).
    pub fn candidate_up_to_date(&self, last_term: u64, last_index: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_op() -> impl Strategy<Value = Op> {
        (0u8..6, 0u64..50, any::<u64>(), any::<u64>()).prop_map(|(t, key, a, b)| match t {
            0 => Op::Read { key },
            1 => Op::Write { key, value: a },
            2 => Op::Cas {
                key,
                expected: a,
                new: b,
            },
            3 => Op::Increment {
                key,
                delta: a as i64,
            },
            4 => Op::Insert { key, element: a },
            _ => Op::Remove { key, element: a },
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(term: u64, client: u64, seq: u64, op in arb_op(), kind in 0u8..3) {
            let command = match kind {
                0 => Command::Noop,
                1 => Command::Config { voters: client },
                _ => Command::Client { request: RequestId { client, seq }, op },
            };
            let e = Entry { term, command };
            prop_assert_eq!(decode(&encode(&e)), Some(e));
        }

        #[test]
        fn truncated_or_extended_bytes_never_panic(term: u64, op in arb_op(), cut in 0usize..60, extra in proptest::collection::vec(any::<u8>(), 0..20)) {
            let e = Entry { term, command: Command::Client { request: RequestId { client: 1, seq: 2 }, op } };
            let bytes = encode(&e);
            let _ = decode(&bytes[..cut.min(bytes.len())]);
            let mut longer = bytes.clone();
            longer.extend(extra);
            let _ = decode(&longer);
        }
    }

    proptest! {
        /// A log compacted at any index answers exactly as the full log for every index
        /// after it, before and after more entries are appended and a suffix truncated.
        #[test]
        fn a_compacted_log_agrees_with_the_full_one_after_its_snapshot(
            terms in proptest::collection::vec(1u64..4, 1..40),
            at: prop::sample::Index,
            more in proptest::collection::vec(4u64..6, 0..5),
            cut: prop::sample::Index,
        ) {
            let entries: Vec<Entry> = terms.iter().map(|&t| noop(t)).collect();
            let mut full = Log::from_entries(entries);
            let index = at.index(terms.len()) as u64 + 1;
            let mut compacted = full.clone();
            compacted.compact_to(index);
            prop_assert_eq!(compacted.snapshot_index(), index);
            for log in [&mut full, &mut compacted] {
                for &t in &more {
                    log.push(noop(t));
                }
            }
            let same = |full: &Log, compacted: &Log| -> Result<(), TestCaseError> {
                prop_assert_eq!(full.last_index(), compacted.last_index());
                prop_assert_eq!(full.last_term(), compacted.last_term());
                for i in index..=full.last_index() + 1 {
                    prop_assert_eq!(full.prefix_hash(i), compacted.prefix_hash(i));
                    prop_assert_eq!(full.term_at(i), compacted.term_at(i));
                    prop_assert_eq!(full.slice(i + 1, 3), compacted.slice(i + 1, 3));
                    if i > index {
                        prop_assert_eq!(full.get(i), compacted.get(i));
                        prop_assert_eq!(full.first_index_of_term_at(i).max(index + 1), compacted.first_index_of_term_at(i));
                    }
                }
                for i in 0..index {
                    prop_assert_eq!(compacted.get(i), None);
                    prop_assert_eq!(compacted.term_at(i), None);
                    prop_assert_eq!(compacted.prefix_hash(i), None);
                }
                Ok(())
            };
            same(&full, &compacted)?;
            // Truncate a suffix after the snapshot (a compacted log never drops its snapshot).
            let from = index + 1 + cut.index((full.last_index() - index + 1) as usize) as u64;
            prop_assert_eq!(full.truncate_from(from), compacted.truncate_from(from));
            same(&full, &compacted)?;
            // A log rebuilt from the snapshot's term and hash plus the entries after it.
            let rebuilt = Log::after_snapshot(
                index,
                full.term_at(index).unwrap(),
                full.prefix_hash(index).unwrap(),
                full.slice(index + 1, usize::MAX),
            );
            prop_assert_eq!(rebuilt, compacted);
        }
    }

    fn noop(term: u64) -> Entry {
        Entry {
            term,
            command: Command::Noop,
        }
    }

    #[test]
    fn a_compacted_log_never_gives_up_its_snapshot() {
        let mut log = Log::from_entries(vec![noop(1), noop(1), noop(2), noop(2)]);
        log.compact_to(3);
        assert_eq!(log.truncate_from(2), 1);
        assert_eq!((log.snapshot_index(), log.last_index()), (3, 3));
        assert_eq!(log.term_at(3), Some(2));
        // Compacting to an index the log does not hold does nothing.
        log.compact_to(2);
        log.compact_to(9);
        assert_eq!(log.snapshot_index(), 3);
        // Conflict back-off stops at the first entry held.
        log.push(noop(2));
        assert_eq!(log.first_index_of_term_at(4), 4);
        assert_eq!(log.slice(3, 5), vec![]);
        assert_eq!(log.slice(4, 5), vec![noop(2)]);
    }

    #[test]
    fn the_latest_config_is_searched_up_to_an_index_and_after_the_snapshot() {
        let config = |voters| Entry {
            term: 1,
            command: Command::Config { voters },
        };
        let mut log = Log::from_entries(vec![config(0b11), noop(1), config(0b111), noop(1)]);
        assert_eq!(log.latest_config_through(4), Some((3, 0b111)));
        assert_eq!(log.latest_config_through(2), Some((1, 0b11)));
        assert_eq!(log.latest_config_through(0), None);
        assert_eq!(log.latest_config_through(99), Some((3, 0b111)));
        log.compact_to(2);
        assert_eq!(log.latest_config_through(2), None);
        assert_eq!(log.latest_config_through(4), Some((3, 0b111)));
    }

    #[test]
    fn bad_tags_are_rejected() {
        let mut bytes = encode(&Entry {
            term: 1,
            command: Command::Noop,
        });
        bytes[15] = 9;
        assert_eq!(decode(&bytes), None);
    }

    #[test]
    fn conflict_back_off_jumps_to_the_first_index_of_the_term() {
        let e = |term| Entry {
            term,
            command: Command::Noop,
        };
        let log = Log::from_entries(vec![e(1), e(1), e(2), e(2), e(2), e(3)]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.first_index_of_term_at(2), 1);
        assert_eq!(log.first_index_of_term_at(9), 7);
        assert!(log.candidate_up_to_date(3, 6));
        assert!(log.candidate_up_to_date(4, 1));
        assert!(!log.candidate_up_to_date(3, 5));
        let mut l = log.clone();
        assert_eq!(l.truncate_from(4), 3);
        assert_eq!((l.last_index(), l.last_term()), (3, 2));
        assert_eq!(log.slice(5, 10).len(), 2);
        assert_eq!(log.slice(8, 10).len(), 0);
    }

    #[test]
    fn prefix_hashes_agree_exactly_on_equal_prefixes() {
        let e = |term| Entry {
            term,
            command: Command::Noop,
        };
        let a = Log::from_entries(vec![e(1), e(1), e(2), e(3)]);
        let mut b = Log::from_entries(vec![e(1), e(1), e(2), e(2)]);
        assert_eq!(a.prefix_hash(0), Some(0));
        assert_eq!(a.prefix_hash(3), b.prefix_hash(3));
        assert_ne!(a.prefix_hash(4), b.prefix_hash(4));
        assert_eq!(a.prefix_hash(5), None);
        // Truncating and re-appending restores the chain.
        b.truncate_from(4);
        b.push(e(3));
        assert_eq!(a.prefix_hash(4), b.prefix_hash(4));
        // An earlier difference shows at every later index.
        let c = Log::from_entries(vec![e(1), e(2), e(2), e(3)]);
        assert_ne!(a.prefix_hash(4), c.prefix_hash(4));
    }
}
