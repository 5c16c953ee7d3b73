//! What the replicated protocols share about their cluster: peers, majorities, election
//! timers, and the stored forms of terms, votes and index-keyed sequences.

use dsys_node::{Context, Durability, Duration, NodeId, Storage, TimerId, decode_u64};

/// Every node of an `n`-node cluster but `id`.
pub(crate) fn peers(id: NodeId, n: usize) -> impl Iterator<Item = NodeId> {
    (0..n as u32).map(NodeId).filter(move |&p| p != id)
}

/// The smallest majority of `n` nodes.
pub(crate) fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Arm `timer` to fire after a random time in `[base, 2 * base)`, so that candidates
/// rarely collide.
pub(crate) fn arm_election<M>(ctx: &mut Context<'_, M>, timer: TimerId, base: Duration) {
    let jitter = ctx.rng().below(dsys_node::duration_nanos(base).max(1));
    ctx.set_timer(timer, base + Duration::from_nanos(jitter));
}

/// Persist a term (or epoch) and the vote cast in it, synced: a node must not forget
/// either across a crash, or it could vote twice in one term.
pub(crate) fn persist_term_and_vote<M>(
    ctx: &mut Context<'_, M>,
    (term_key, term): (&[u8], u64),
    (vote_key, voted_for): (&[u8], Option<NodeId>),
) {
    ctx.persist(
        term_key.to_vec(),
        term.to_be_bytes().to_vec(),
        Durability::Synced,
    );
    let vote = voted_for.map_or(u64::MAX, |v| u64::from(v.0));
    ctx.persist(
        vote_key.to_vec(),
        vote.to_be_bytes().to_vec(),
        Durability::Synced,
    );
}

/// The vote stored by [`persist_term_and_vote`], if one was cast.
pub(crate) fn load_vote(storage: &Storage, vote_key: &[u8]) -> Option<NodeId> {
    storage
        .get_u64(vote_key)
        .and_then(|v| u32::try_from(v).ok())
        .map(NodeId)
}

/// The storage key of item `index` under `prefix`: big-endian, so keys sort by index.
pub(crate) fn indexed_key(prefix: &[u8], index: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The items stored under `prefix` at indices 1, 2, 3, ..., decoded in order up to the
/// first gap or malformed one (`decode` is given the index and the bytes).
pub(crate) fn load_sequence<T>(
    storage: &Storage,
    prefix: &[u8],
    decode: impl Fn(u64, &[u8]) -> Option<T>,
) -> Vec<T> {
    load_sequence_from(storage, prefix, 1, decode)
}

/// As [`load_sequence`], from index `first` on (items before it are skipped).
pub(crate) fn load_sequence_from<T>(
    storage: &Storage,
    prefix: &[u8],
    first: u64,
    decode: impl Fn(u64, &[u8]) -> Option<T>,
) -> Vec<T> {
    let mut items = Vec::new();
    let from_first = storage
        .scan_prefix(prefix)
        .skip_while(|(k, _)| decode_u64(&k[prefix.len()..]).is_some_and(|i| i < first));
    for (expected, (k, v)) in (first..).zip(from_first) {
        match decode_u64(&k[prefix.len()..]).filter(|&i| i == expected) {
            Some(index) => match decode(index, v) {
                Some(item) => items.push(item),
                None => break,
            },
            None => break,
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_stops_at_the_first_gap_or_malformed_item() {
        let mut storage = Storage::new();
        for i in [1u64, 2, 3, 5] {
            storage.apply(indexed_key(b"log/", i), Some(vec![i as u8]));
        }
        storage.apply(b"other".to_vec(), Some(vec![9]));
        let decode = |_: u64, v: &[u8]| (v != [2]).then(|| v[0]);
        assert_eq!(
            load_sequence(&storage, b"log/", |_, v| Some(v[0])),
            vec![1, 2, 3]
        );
        assert_eq!(load_sequence(&storage, b"log/", decode), vec![1]);
    }

    #[test]
    fn no_vote_loads_as_none() {
        let mut storage = Storage::new();
        assert_eq!(load_vote(&storage, b"vote"), None);
        storage.apply(b"vote".to_vec(), Some(u64::MAX.to_be_bytes().to_vec()));
        assert_eq!(load_vote(&storage, b"vote"), None);
        storage.apply(b"vote".to_vec(), Some(3u64.to_be_bytes().to_vec()));
        assert_eq!(load_vote(&storage, b"vote"), Some(NodeId(3)));
        assert_eq!(majority(5), 3);
        assert_eq!(
            peers(NodeId(1), 3).collect::<Vec<_>>(),
            [NodeId(0), NodeId(2)]
        );
    }
}
