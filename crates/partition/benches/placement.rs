//! Lookup cost of each placement, with the published peer crates in the same run:
//! `jump-consistent-hash` for jump, `hashring` for the ring.
//!
//! cargo bench -p dsys-partition --bench placement

use divan::Bencher;
use dsys_partition::{Anchor, Jump, Maglev, Nodes, Placement, Rendezvous, Ring, mix};

fn main() {
    divan::main();
}

/// Keys looked up, cycled through: random positions, more than any cache line pattern.
const KEYS: usize = 1 << 20;

fn keys() -> Vec<u64> {
    (0..KEYS as u64).map(|i| mix(i ^ 0x5eed)).collect()
}

/// Look up key after key, each independent of the last (as a server's requests are).
fn lookups(bencher: Bencher, locate: impl Fn(u64) -> usize + Sync) {
    let keys = keys();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) & (KEYS - 1);
        locate(divan::black_box(keys[i]))
    });
}

#[divan::bench(args = [10, 100, 1_000], sample_size = 10_000)]
fn jump_dsys(bencher: Bencher, nodes: usize) {
    let jump = Jump::new(Nodes::uniform(nodes, 1).expect("nodes")).expect("jump");
    lookups(bencher, |k| jump.locate(k));
}

#[divan::bench(args = [10, 100, 1_000], sample_size = 10_000)]
fn jump_peer_jump_consistent_hash(bencher: Bencher, nodes: usize) {
    lookups(bencher, |k| jump_consistent_hash::hash(k, nodes) as usize);
}

/// Jump over a batch of 64 keys at a time (`Jump::locate_batch`); divan's item rate is
/// per key.
#[divan::bench(args = [10, 100, 1_000], sample_size = 100)]
fn jump_batch_of_64_dsys(bencher: Bencher, nodes: usize) {
    let jump = Jump::new(Nodes::uniform(nodes, 1).expect("nodes")).expect("jump");
    let keys = keys();
    let mut out = Vec::with_capacity(64);
    let mut i = 0usize;
    bencher
        .counter(divan::counter::ItemsCount::new(64usize))
        .bench_local(|| {
            i = (i + 64) & (KEYS - 1);
            jump.locate_batch(divan::black_box(&keys[i..i + 64]), &mut out);
            out.len()
        });
}

#[divan::bench(args = [10, 100, 1_000], sample_size = 10_000)]
fn maglev_dsys(bencher: Bencher, nodes: usize) {
    let maglev = Maglev::new(Nodes::uniform(nodes, 1).expect("nodes")).expect("maglev");
    lookups(bencher, |k| maglev.locate(k));
}

#[divan::bench(args = [10, 100, 1_000], sample_size = 10_000)]
fn ring_dsys(bencher: Bencher, nodes: usize) {
    let ring = Ring::new(Nodes::uniform(nodes, 1).expect("nodes"), 100).expect("ring");
    lookups(bencher, |k| ring.locate(k));
}

/// hashring with the same 100 points per node; it hashes the key itself (SipHash),
/// which the figure includes.
#[divan::bench(args = [10, 100, 1_000], sample_size = 10_000)]
fn ring_peer_hashring(bencher: Bencher, nodes: usize) {
    #[derive(Clone, Debug, Hash, PartialEq)]
    struct Point(u32, u32);
    let mut ring = hashring::HashRing::new();
    for node in 0..nodes as u32 {
        for v in 0..100 {
            ring.add(Point(node, v));
        }
    }
    lookups(bencher, |k| ring.get(&k).map_or(0, |p| p.0 as usize));
}

#[divan::bench(args = [10, 100], sample_size = 10_000)]
fn rendezvous_dsys(bencher: Bencher, nodes: usize) {
    let hrw = Rendezvous::new(Nodes::uniform(nodes, 1).expect("nodes")).expect("hrw");
    lookups(bencher, |k| hrw.locate(k));
}

/// AnchorHash with every bucket working, and with a tenth of them removed.
#[divan::bench(args = [1_000, 1_000_000], sample_size = 10_000)]
fn anchor_dsys(bencher: Bencher, nodes: usize) {
    let anchor = Anchor::new(Nodes::uniform(nodes, 1).expect("nodes"), nodes).expect("anchor");
    lookups(bencher, |k| anchor.bucket(k) as usize);
}

#[divan::bench(args = [1_000, 1_000_000], sample_size = 10_000)]
fn anchor_tenth_removed_dsys(bencher: Bencher, nodes: usize) {
    let mut anchor = Anchor::new(Nodes::uniform(nodes, 1).expect("nodes"), nodes).expect("anchor");
    for i in (0..nodes).step_by(10) {
        anchor.remove(&format!("node-{i}")).expect("present");
    }
    lookups(bencher, |k| anchor.bucket(k) as usize);
}

/// Planning node 100's join into 100 nodes (rendezvous, 3 replicas, 2 transfers per node
/// at once): the planner's cost grows with the copies it schedules, not their square.
#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 3, sample_size = 1)]
fn plan_join_dsys(bencher: Bencher, shards: u64) {
    use dsys_partition::planner::{Throttle, hash_changes, plan};
    let before = Rendezvous::new(Nodes::uniform(100, 1).expect("nodes")).expect("before");
    let after = Rendezvous::new(Nodes::uniform(101, 1).expect("nodes")).expect("after");
    let sizes: Vec<(u64, u64)> = (0..shards).map(|i| (mix(i), 1 << 26)).collect();
    let changes = hash_changes(&before, &after, &sizes, 3).expect("changes");
    let throttle = Throttle {
        per_node: 2,
        wave_bytes: None,
    };
    bencher.bench_local(|| plan(divan::black_box(&changes), throttle).expect("plan"));
}
