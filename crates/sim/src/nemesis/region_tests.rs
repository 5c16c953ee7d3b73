//! Region faults: a region's nodes crashed and restarted together, or cut off whole.

use super::action::{FaultAction, TimedFault};
use super::generator::{Generator, NemesisTiming};
use super::spec::NemesisSpec;
use dsys_node::{DetRng, NodeId};

/// Five nodes in three regions: {0, 1}, {2, 3}, {4}.
const REGION_OF: [u32; 5] = [0, 0, 1, 1, 2];

fn faults(spec: &str, seed: u64, limit: usize) -> Vec<TimedFault> {
    let spec: NemesisSpec = spec.parse().unwrap_or_default();
    let mut g = Generator::with_regions(
        &spec,
        REGION_OF.len(),
        &REGION_OF,
        NemesisTiming::default(),
        DetRng::from_seed(seed),
    );
    std::iter::from_fn(|| g.next_fault()).take(limit).collect()
}

fn region(nodes: &[NodeId]) -> Option<u32> {
    let first = REGION_OF[nodes.first()?.index()];
    nodes
        .iter()
        .all(|n| REGION_OF[n.index()] == first)
        .then_some(first)
}

#[test]
fn a_region_outage_crashes_a_whole_region_then_restarts_it_at_once() {
    for seed in 0..20 {
        let f = faults("region-outage", seed, 40);
        let mut i = 0;
        while i < f.len() {
            // A wave: crashes (or restarts) of one region's nodes, all at one instant.
            let at = f[i].at;
            let wave: Vec<&TimedFault> = f[i..].iter().take_while(|x| x.at == at).collect();
            let crashes: Vec<NodeId> = wave
                .iter()
                .filter_map(|x| match x.action {
                    FaultAction::Crash { node } => Some(node),
                    _ => None,
                })
                .collect();
            let restarts: Vec<NodeId> = wave
                .iter()
                .filter_map(|x| match x.action {
                    FaultAction::Restart { node } => Some(node),
                    _ => None,
                })
                .collect();
            assert!(
                crashes.is_empty() != restarts.is_empty(),
                "seed {seed}: {wave:?}"
            );
            let nodes = if crashes.is_empty() {
                &restarts
            } else {
                &crashes
            };
            let r = region(nodes).unwrap_or_else(|| panic!("seed {seed}: mixed regions {nodes:?}"));
            let size = REGION_OF.iter().filter(|&&x| x == r).count();
            assert_eq!(nodes.len(), size, "seed {seed}: part of region {r}");
            i += wave.len();
        }
    }
    // Every region goes down at some seed.
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..20 {
        for f in faults("region-outage", seed, 4) {
            if let FaultAction::Crash { node } = f.action {
                seen.insert(REGION_OF[node.index()]);
            }
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn isolate_region_blocks_exactly_the_links_across_its_border() {
    for seed in 0..10 {
        for f in faults("isolate-region", seed, 6) {
            let FaultAction::Partition { blocked, .. } = f.action else {
                assert_eq!(f.action, FaultAction::HealPartition);
                continue;
            };
            for (a, b) in &blocked {
                assert_ne!(REGION_OF[a.index()], REGION_OF[b.index()], "{blocked:?}");
            }
            // One region is on one side of every blocked link: the isolated one, cut
            // from every other node in both directions.
            let of = |n: &NodeId| REGION_OF[n.index()];
            let isolated: Vec<u32> = (0..3)
                .filter(|r| blocked.iter().all(|(a, b)| of(a) == *r || of(b) == *r))
                .collect();
            assert_eq!(isolated.len(), 1, "seed {seed}: {blocked:?}");
            let size = REGION_OF.iter().filter(|&&x| x == isolated[0]).count();
            assert_eq!(
                blocked.len(),
                2 * size * (REGION_OF.len() - size),
                "seed {seed}"
            );
        }
    }
}

#[test]
fn region_faults_are_named_and_not_drawn_by_swarm() {
    let spec: NemesisSpec = "region-outage+isolate-region".parse().unwrap_or_default();
    assert_eq!(spec.to_string(), "region-outage+isolate-region");
    for seed in 0..30 {
        let g = Generator::new(
            &"swarm".parse().unwrap_or_default(),
            5,
            NemesisTiming::default(),
            DetRng::from_seed(seed),
        );
        let drawn = g.effective_spec().to_string();
        assert!(!drawn.contains("region"), "{drawn}");
    }
}
