//! How good a placement is: how evenly it spreads keys, and how many move on a change.

use crate::Placement;

/// Peak over average: the most loaded node's keys over its fair share (by weight) —
/// 1.0 is perfect. `keys` are key positions; each counts once.
pub fn balance(placement: &dyn Placement, keys: impl IntoIterator<Item = u64>) -> f64 {
    let nodes = placement.nodes();
    let mut count = vec![0u64; nodes.len()];
    let mut total = 0u64;
    for key in keys {
        count[placement.locate(key)] += 1;
        total += 1;
    }
    peak_over_share(placement, &count, total)
}

/// Peak over fair share for per-node `count`s adding up to `total`.
pub fn peak_over_share(placement: &dyn Placement, count: &[u64], total: u64) -> f64 {
    let nodes = placement.nodes();
    let weight = nodes.total_weight() as f64;
    (0..nodes.len())
        .map(|i| {
            let share = total as f64 * f64::from(nodes.node(i).weight) / weight;
            if share > 0.0 {
                count[i] as f64 / share
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// The fraction of `keys` whose owner (by node id) differs between `before` and `after`.
pub fn moved(
    before: &dyn Placement,
    after: &dyn Placement,
    keys: impl IntoIterator<Item = u64>,
) -> f64 {
    let (mut changed, mut total) = (0u64, 0u64);
    for key in keys {
        let was = &before.nodes().node(before.locate(key)).id;
        let is = &after.nodes().node(after.locate(key)).id;
        changed += u64::from(was != is);
        total += 1;
    }
    if total == 0 {
        0.0
    } else {
        changed as f64 / total as f64
    }
}
