//! Raft's state machine and its snapshots: the key-value data with each client's session,
//! frozen at a log index so the entries up to it can be dropped (log compaction) and a
//! follower too far behind can be brought up to date in one message.

use super::log::{to_bytes, to_words};
use crate::kv::KvData;
use dsys_node::{Op, RequestId, Response, Value};
use std::collections::BTreeMap;

/// The state machine: key-value data plus each client's latest request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct StateMachine {
    pub(super) data: KvData,
    /// Per client: the latest sequence number applied and its answer.
    pub(super) sessions: BTreeMap<u64, (u64, Response)>,
}

impl StateMachine {
    /// Apply one client update; `None` for a stale duplicate (an older request of a
    /// client that has moved on: it gave up on it, so it need not happen).
    pub(super) fn apply(&mut self, request: RequestId, op: Op) -> Option<Response> {
        if let Some((seq, answer)) = self.sessions.get(&request.client) {
            if request.seq == *seq {
                return Some(answer.clone());
            }
            if request.seq < *seq {
                return None;
            }
        }
        let (response, write) = self.data.decide(op);
        if let Some((key, value)) = write {
            self.data.set(key, value);
        }
        self.sessions
            .insert(request.client, (request.seq, response.clone()));
        Some(response)
    }
}

/// The state machine after applying every entry up to `index`, with what a log needs to
/// go on from there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The last log index it includes.
    pub(super) index: u64,
    /// The term of that entry.
    pub(super) term: u64,
    /// The log's prefix hash at `index` (see [`super::Log::prefix_hash`]).
    pub(super) prefix_hash: u64,
    /// The latest voter set at or before `index` and where it was set; `None`: the
    /// initial one.
    pub(super) config: Option<(u64, u64)>,
    pub(super) state: StateMachine,
}

impl Snapshot {
    /// The last log index it includes.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The term of the entry at [`Snapshot::index`].
    pub fn term(&self) -> u64 {
        self.term
    }
}

/// The first word of the stored form: format and version.
const FORMAT: u64 = u64::from_be_bytes(*b"rsnap\0\0\x01");

/// Words before the data: format, index, term, prefix hash, config index, voters, keys.
const HEADER_WORDS: usize = 7;

/// A session answer as two words. Registers are the only data the state machine holds,
/// so the answers are those of reads, writes and compare-and-sets; anything else is
/// stored as `Indeterminate`, which is always a true answer to a retry ("it may or may
/// not have happened").
fn answer_words(answer: &Response) -> [u64; 2] {
    match answer {
        Response::ReadOk(None) => [0, 0],
        Response::ReadOk(Some(v)) => [1, *v],
        Response::WriteOk => [2, 0],
        Response::CasOk => [3, 0],
        Response::CasMismatch => [4, 0],
        Response::Unavailable => [5, 0],
        Response::UpdateOk => [7, 0],
        Response::ReadCount(c) => [8, *c as u64],
        Response::Indeterminate
        | Response::ReadSet(_)
        | Response::ReadSiblings(_)
        | Response::Redirect { .. } => [6, 0],
    }
}

fn answer_from(tag: u64, value: Value) -> Option<Response> {
    Some(match (tag, value) {
        (0, 0) => Response::ReadOk(None),
        (1, v) => Response::ReadOk(Some(v)),
        (2, 0) => Response::WriteOk,
        (3, 0) => Response::CasOk,
        (4, 0) => Response::CasMismatch,
        (5, 0) => Response::Unavailable,
        (6, 0) => Response::Indeterminate,
        (7, 0) => Response::UpdateOk,
        (8, c) => Response::ReadCount(c as i64),
        _ => return None,
    })
}

/// The stored form: big-endian words — the header, then each key and value, the number
/// of sessions, and each client, sequence number and answer (tag and value).
pub fn encode(s: &Snapshot) -> Vec<u8> {
    let (config_index, voters) = s.config.unwrap_or((0, 0));
    let data = &s.state.data;
    let mut words =
        Vec::with_capacity(HEADER_WORDS + 2 * data.len() + 1 + 4 * s.state.sessions.len());
    words.extend([
        FORMAT,
        s.index,
        s.term,
        s.prefix_hash,
        config_index,
        voters,
        data.len() as u64,
    ]);
    for (key, value) in data.entries() {
        words.extend([key, value]);
    }
    words.push(s.state.sessions.len() as u64);
    for (&client, (seq, answer)) in &s.state.sessions {
        let [tag, value] = answer_words(answer);
        words.extend([client, *seq, tag, value]);
    }
    to_bytes(words)
}

/// Parse the stored form; `None` if it is malformed (wrong format or length, keys or
/// clients out of order, an unknown answer).
pub fn decode(bytes: &[u8]) -> Option<Snapshot> {
    let words = to_words(bytes)?;
    let (header, rest) = words.split_at_checked(HEADER_WORDS)?;
    let &[format, index, term, prefix_hash, config_index, voters, keys] = header else {
        return None;
    };
    if format != FORMAT || (config_index == 0 && voters != 0) || config_index > index {
        return None;
    }
    let data_words = usize::try_from(keys).ok()?.checked_mul(2)?;
    let (pairs, rest) = rest.split_at_checked(data_words)?;
    let (&clients, sessions) = rest.split_first()?;
    if sessions.len() as u64 != clients.checked_mul(4)? {
        return None;
    }
    let mut data = KvData::default();
    let mut previous = None;
    for pair in pairs.chunks_exact(2) {
        let [key, value] = [pair[0], pair[1]];
        if previous.is_some_and(|p| p >= key) {
            return None;
        }
        previous = Some(key);
        data.set(key, value);
    }
    let mut state = StateMachine {
        data,
        sessions: BTreeMap::new(),
    };
    let mut previous = None;
    for session in sessions.chunks_exact(4) {
        let [client, seq, tag, value] = [session[0], session[1], session[2], session[3]];
        if previous.is_some_and(|p| p >= client) {
            return None;
        }
        previous = Some(client);
        state
            .sessions
            .insert(client, (seq, answer_from(tag, value)?));
    }
    Some(Snapshot {
        index,
        term,
        prefix_hash,
        config: (config_index != 0).then_some((config_index, voters)),
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_answer() -> impl Strategy<Value = Response> {
        prop_oneof![
            any::<Option<u64>>().prop_map(Response::ReadOk),
            Just(Response::WriteOk),
            Just(Response::CasOk),
            Just(Response::CasMismatch),
            Just(Response::Unavailable),
            Just(Response::Indeterminate),
            Just(Response::UpdateOk),
            any::<i64>().prop_map(Response::ReadCount),
        ]
    }

    prop_compose! {
        fn arb_snapshot()(
            index in 1u64..1_000,
            term: u64,
            prefix_hash: u64,
            config in proptest::option::of((1u64..1_000, 1u64..)),
            data in proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..20),
            sessions in proptest::collection::btree_map(any::<u64>(), (any::<u64>(), arb_answer()), 0..20),
        ) -> Snapshot {
            let mut kv = KvData::default();
            for (k, v) in data {
                kv.set(k, v);
            }
            let config = config.map(|(at, voters)| (at.min(index), voters));
            Snapshot { index, term, prefix_hash, config, state: StateMachine { data: kv, sessions } }
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode_is_identity(s in arb_snapshot()) {
            prop_assert_eq!(decode(&encode(&s)), Some(s));
        }

        #[test]
        fn damaged_bytes_never_panic(s in arb_snapshot(), cut: usize, flip: usize, extra in proptest::collection::vec(any::<u8>(), 0..20)) {
            let bytes = encode(&s);
            prop_assert_eq!(decode(&bytes[..cut % bytes.len()]), None);
            let mut flipped = bytes.clone();
            let at = flip % flipped.len();
            flipped[at] ^= 0x80;
            let _ = decode(&flipped);
            let mut longer = bytes;
            longer.extend(extra);
            let _ = decode(&longer);
        }
    }

    fn sample() -> Snapshot {
        let mut state = StateMachine::default();
        state.data.set(3, 30);
        state.data.set(1, 10);
        state.sessions.insert(7, (2, Response::CasMismatch));
        state.sessions.insert(9, (5, Response::WriteOk));
        Snapshot {
            index: 40,
            term: 3,
            prefix_hash: 0xfeed,
            config: Some((12, 0b111)),
            state,
        }
    }

    #[test]
    fn malformed_snapshots_are_refused() {
        let good = encode(&sample());
        assert!(decode(&good).is_some());
        let word = |bytes: &mut Vec<u8>, i: usize, value: u64| {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&value.to_be_bytes());
        };
        // Wrong format word; a config after the snapshot's own index; voters without a
        // config index; a key count past the end; keys out of order; an unknown answer.
        for (i, value) in [(0, 1), (4, 41), (4, 0), (6, u64::MAX), (7, 5), (12 + 3, 99)] {
            let mut bad = good.clone();
            word(&mut bad, i, value);
            assert_eq!(decode(&bad), None, "word {i} = {value}");
        }
        assert_eq!(decode(&good[..good.len() - 1]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn answers_outside_the_register_model_are_kept_as_indeterminate() {
        let mut s = sample();
        s.state
            .sessions
            .insert(11, (1, Response::Redirect { leader: None }));
        let back = decode(&encode(&s)).unwrap();
        assert_eq!(back.state.sessions[&11], (1, Response::Indeterminate));
    }

    #[test]
    fn a_retry_gets_the_first_answer_and_a_stale_request_none() {
        let mut sm = StateMachine::default();
        let req = |seq| RequestId { client: 1, seq };
        let write = |value| Op::Write { key: 5, value };
        assert_eq!(sm.apply(req(2), write(1)), Some(Response::WriteOk));
        let cas = Op::Cas {
            key: 5,
            expected: 9,
            new: 2,
        };
        assert_eq!(sm.apply(req(3), cas), Some(Response::CasMismatch));
        // Retried after the data changed: still the first answer, and no second effect.
        sm.data.set(5, 9);
        assert_eq!(sm.apply(req(3), cas), Some(Response::CasMismatch));
        assert_eq!(sm.data.get(5), Some(9));
        assert_eq!(sm.apply(req(2), write(7)), None);
        assert_eq!(sm.data.get(5), Some(9));
    }
}
