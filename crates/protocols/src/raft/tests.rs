//! One node at a time, driven by hand: snapshots taken, sent, installed and booted from.
//! (The whole protocol under faults is tested in the lab's `raft_evidence`.)

use super::*;
use dsys_node::{DetRng, Effect};

const EVERY: u64 = 4;

fn config() -> RaftConfig {
    RaftConfig {
        snapshot_every: EVERY,
        ..RaftConfig::default()
    }
}

/// Run `f` on `node` in a fresh context; the effects it had.
fn step(
    node: &mut RaftNode,
    f: impl FnOnce(&mut RaftNode, &mut Context<'_, Msg>),
) -> Vec<Effect<Msg>> {
    let mut rng = DetRng::from_seed(7);
    let mut effects = Vec::new();
    let mut ctx = Context::new(node.id, Instant::ZERO, &mut rng, &mut effects);
    f(node, &mut ctx);
    effects
}

/// Carry out the storage effects, as a driver would.
fn persist(storage: &mut Storage, effects: &[Effect<Msg>]) {
    for e in effects {
        if let Effect::Persist { key, value, .. } = e {
            storage.apply(key.clone(), value.clone());
        }
    }
}

fn sent(effects: &[Effect<Msg>]) -> Vec<(NodeId, Msg)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn write(term: u64, seq: u64) -> Entry {
    Entry {
        term,
        command: Command::Client {
            request: RequestId { client: 1, seq },
            op: Op::Write {
                key: seq % 3,
                value: seq,
            },
        },
    }
}

/// Node `id` of 3 in `term`, booted from `storage`, holding `entries` of which the first
/// `commit` are committed and applied; then it handles a timer, which compacts if due.
/// Returns the node and its storage after all that.
fn node_with(
    id: u32,
    term: u64,
    entries: &[Entry],
    commit: u64,
    mut storage: Storage,
) -> (RaftNode, Storage) {
    let mut node = RaftNode::boot(&config(), NodeId(id), 3, &storage);
    node.term = term;
    let effects = step(&mut node, |node, ctx| {
        for &e in entries {
            node.append_local(ctx, e);
        }
        node.commit = commit;
        node.apply_committed(ctx);
    });
    persist(&mut storage, &effects);
    let effects = step(&mut node, |node, ctx| node.on_timer(ctx, HEARTBEAT));
    persist(&mut storage, &effects);
    (node, storage)
}

fn writes(term: u64, seqs: std::ops::RangeInclusive<u64>) -> Vec<Entry> {
    seqs.map(|seq| write(term, seq)).collect()
}

#[test]
fn a_node_compacts_once_enough_is_applied_and_deletes_the_entries_in_one_batch() {
    let mut node = RaftNode::boot(&config(), NodeId(0), 3, &Storage::new());
    node.term = 1;
    step(&mut node, |node, ctx| {
        for e in writes(1, 1..=6) {
            node.append_local(ctx, e);
        }
        node.commit = 3;
        node.apply_committed(ctx);
    });
    // Three applied: not yet due.
    assert!(step(&mut node, |n, ctx| n.compact_if_due(ctx)).is_empty());
    step(&mut node, |node, ctx| {
        node.commit = 5;
        node.apply_committed(ctx);
    });
    let effects = step(&mut node, |n, ctx| n.compact_if_due(ctx));
    assert_eq!(node.log.snapshot_index(), 5);
    assert_eq!((node.log.last_index(), node.applied), (6, 5));
    assert_eq!(node.stats.snapshots_taken, 1);
    // The snapshot is written synced first; then entries 1..=5 go, synced at the end.
    let writes: Vec<_> = effects
        .iter()
        .map(|e| match e {
            Effect::Persist {
                key,
                value,
                durability,
            } => (key.clone(), value.is_some(), *durability),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(writes[0], (SNAPSHOT_KEY.to_vec(), true, Durability::Synced));
    let deleted: Vec<_> = (1..=5).map(log_key).collect();
    assert_eq!(
        writes[1..].iter().map(|w| w.0.clone()).collect::<Vec<_>>(),
        deleted
    );
    assert!(
        writes[1..5]
            .iter()
            .all(|w| !w.1 && w.2 == Durability::Buffered)
    );
    assert_eq!(writes[5].2, Durability::Synced);
    let snapshot = node.snapshot.as_ref().unwrap();
    assert_eq!(snapshot.state, node.state);
    assert_eq!(
        snapshot::decode(&snapshot::encode(snapshot)).as_ref(),
        Some(&**snapshot)
    );
}

#[test]
fn a_restarted_node_resumes_from_its_snapshot_and_the_entries_after_it() {
    let (node, mut storage) = node_with(0, 2, &writes(1, 1..=7), 6, Storage::new());
    assert_eq!(node.log.snapshot_index(), 6);
    // A crash that lost the buffered deletes leaves entries before the snapshot behind:
    // they are skipped.
    storage.apply(log_key(2), Some(encode(&write(1, 2))));
    let back = RaftNode::boot(&config(), NodeId(0), 3, &storage);
    assert_eq!(back.log, node.log);
    assert_eq!((back.commit, back.applied), (6, 6));
    assert_eq!(back.state, node.state);
}

#[test]
fn an_unreadable_snapshot_is_counted_at_boot_not_a_panic() {
    let (_, mut storage) = node_with(0, 1, &writes(1, 1..=5), 5, Storage::new());
    let mut damaged = storage.get(SNAPSHOT_KEY).unwrap().to_vec();
    damaged.truncate(damaged.len() - 3);
    storage.apply(SNAPSHOT_KEY.to_vec(), Some(damaged));
    let node = RaftNode::boot(&config(), NodeId(0), 3, &storage);
    assert_eq!(node.log.last_index(), 0);
    assert!(
        node.metrics()
            .contains(&("unreadable snapshots at boot", 1))
    );
}

/// The leader's log: entries 1..=3 of term 1, then of term 3 up to `last`.
fn leader_log(last: u64) -> Vec<Entry> {
    let mut entries = writes(1, 1..=3);
    entries.extend(writes(3, 4..=last));
    entries
}

/// A leader of term 3 whose log up to 8 is compacted, and its snapshot.
fn leader_and_its_snapshot() -> (RaftNode, Arc<Snapshot>) {
    let (mut leader, _) = node_with(0, 3, &leader_log(8), 8, Storage::new());
    step(&mut leader, |l, ctx| l.become_leader(ctx));
    let snapshot = Arc::clone(leader.snapshot.as_ref().unwrap());
    assert_eq!((snapshot.index(), snapshot.term()), (8, 3));
    (leader, snapshot)
}

fn install(node: &mut RaftNode, term: u64, snapshot: &Arc<Snapshot>) -> Vec<Effect<Msg>> {
    step(node, |n, ctx| {
        n.on_message(
            ctx,
            NodeId(0),
            Msg::InstallSnapshot {
                term,
                snapshot: Arc::clone(snapshot),
                round: 3,
            },
        );
    })
}

fn reply_to_leader(effects: &[Effect<Msg>]) -> (u64, bool, u64) {
    match sent(effects).as_slice() {
        [
            (
                NodeId(0),
                Msg::AppendReply {
                    term,
                    success,
                    index,
                    round: 3,
                },
            ),
        ] => (*term, *success, *index),
        other => panic!("expected one reply, sent {other:?}"),
    }
}

#[test]
fn a_leader_sends_its_snapshot_to_a_follower_behind_it() {
    let (mut leader, snapshot) = leader_and_its_snapshot();
    let effects = step(&mut leader, |l, ctx| {
        if let Role::Leader(lead) = &mut l.role {
            lead.next[1] = 3;
        }
        l.send_entries(ctx, NodeId(1));
    });
    match sent(&effects).as_slice() {
        [
            (
                NodeId(1),
                Msg::InstallSnapshot {
                    term: 3,
                    snapshot: s,
                    ..
                },
            ),
        ] => {
            assert_eq!(s, &snapshot);
        }
        other => panic!("expected a snapshot, sent {other:?}"),
    }
    assert_eq!(leader.stats.snapshots_sent, 1);
    // The next send assumes it arrived: entries after the snapshot.
    let effects = step(&mut leader, |l, ctx| l.send_entries(ctx, NodeId(1)));
    assert!(matches!(
        sent(&effects).as_slice(),
        [(
            NodeId(1),
            Msg::Append(AppendEntries {
                prev_index: 8,
                prev_term: 3,
                ..
            })
        )]
    ));
}

#[test]
fn a_follower_with_a_conflicting_log_takes_the_snapshot_and_survives_a_crash() {
    let (_, snapshot) = leader_and_its_snapshot();
    // Entries 1..=3 agree, 4..=9 are of term 2, which never committed.
    let mut entries = writes(1, 1..=3);
    entries.extend(writes(2, 4..=9));
    let (mut follower, mut storage) = node_with(1, 2, &entries, 2, Storage::new());
    let effects = install(&mut follower, 3, &snapshot);
    persist(&mut storage, &effects);
    assert_eq!(reply_to_leader(&effects), (3, true, 8));
    assert_eq!(
        (follower.log.snapshot_index(), follower.log.last_index()),
        (8, 8)
    );
    assert_eq!((follower.commit, follower.applied), (8, 8));
    assert_eq!(follower.state, snapshot.state);
    assert_eq!(follower.stats.snapshots_installed, 1);
    assert_eq!(follower.stats.truncated, 1);
    // Every stored entry is gone (the one past the snapshot included); a restart comes
    // back to the snapshot.
    assert_eq!(storage.scan_prefix(LOG_PREFIX).count(), 0);
    let back = RaftNode::boot(&config(), NodeId(1), 3, &storage);
    assert_eq!(back.log, follower.log);
    assert_eq!(back.state, snapshot.state);
}

#[test]
fn a_follower_whose_log_agrees_keeps_the_entries_after_the_snapshot() {
    let (_, snapshot) = leader_and_its_snapshot();
    let (mut follower, _) = node_with(1, 3, &leader_log(10), 1, Storage::new());
    let effects = install(&mut follower, 3, &snapshot);
    assert_eq!(reply_to_leader(&effects), (3, true, 8));
    assert_eq!(
        (follower.log.snapshot_index(), follower.log.last_index()),
        (8, 10)
    );
    assert_eq!(follower.stats.truncated, 0);
    // An append overlapping the snapshot skips what it covers.
    let effects = step(&mut follower, |f, ctx| {
        f.on_message(
            ctx,
            NodeId(0),
            Msg::Append(AppendEntries {
                term: 3,
                prev_index: 5,
                prev_term: 3,
                entries: leader_log(11)[5..].to_vec(),
                commit: 11,
                round: 3,
            }),
        );
    });
    assert_eq!(reply_to_leader(&effects), (3, true, 11));
    assert_eq!((follower.log.last_index(), follower.commit), (11, 11));
}

#[test]
fn a_snapshot_from_a_stale_term_or_behind_the_commit_index_changes_nothing() {
    let (_, snapshot) = leader_and_its_snapshot();
    let (mut follower, _) = node_with(1, 4, &writes(1, 1..=3), 0, Storage::new());
    let before = follower.log.clone();
    let effects = install(&mut follower, 3, &snapshot);
    assert_eq!(reply_to_leader(&effects), (4, false, 0));
    assert_eq!(follower.log, before);

    let (mut ahead, _) = node_with(1, 3, &leader_log(10), 10, Storage::new());
    let before = (ahead.log.clone(), ahead.state.clone());
    let effects = install(&mut ahead, 3, &snapshot);
    assert_eq!(reply_to_leader(&effects), (3, true, 8));
    assert_eq!((ahead.log.clone(), ahead.state.clone()), before);
    assert_eq!(ahead.stats.snapshots_installed, 0);
}
