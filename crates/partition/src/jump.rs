//! Jump consistent hash (Lamping and Veach, 2014): no table at all, a key's bucket
//! computed in `O(ln n)` steps, perfectly even and moving exactly `1 / (n + 1)` of the
//! keys when a bucket is added. Buckets are numbered: node `i` in the set is bucket `i`,
//! so nodes can only be added or removed at the end of the list, and weights are not
//! supported.

use crate::placement::Placement;
use crate::{Nodes, PartitionError};

/// The bucket in `0..buckets` (at least 1) of `key`: the published algorithm's bucket,
/// bit for bit.
pub fn jump(key: u64, buckets: u32) -> u32 {
    // The published algorithm: a linear congruential step per jump, each jump from
    // bucket `b` to `(b + 1) / u` for a uniform u in (0, 1]; the last bucket landed on
    // before a jump passes the end is the answer. In floating point (the reference):
    //     j = ((b + 1) as f64 * (2^31 as f64 / ((key >> 33) + 1) as f64)) as i64
    //
    // Why not that line: each jump waits on the last, and that line puts an integer to
    // float conversion, a multiply and a float to integer conversion between them. Here
    // the chain is a shift, an add and one integer multiply. The reciprocal `r` is
    // computed as the reference computes it (it depends only on the key, off the chain)
    // and taken in fixed point, `q = floor(r * 2^32)`; then the high word of
    // `((b + 1) * 2^32) * q` is `floor(y)`, with `y` short of `x = (b + 1) * r` by at most
    // `(b + 1) / 2^32`. So `floor(y)` is the reference's jump unless `x` lies just above an
    // integer that `y` falls below (then y's fraction is above `1 - (b + 1) / 2^32`), or
    // the reference's rounding of `x` to a double lifts it over an integer (then `x` is
    // within half an ulp, under 2^-22 while `x < 2^31`, below it, and y's fraction is
    // above `1 - (b + 1 + 2^9) / 2^32`). Either way y's fraction is within `(b + 1 +
    // 2^10) / 2^32` of 1, and that case — about once in four million jumps at a
    // thousand buckets — recomputes the jump as the reference does.
    let n = u64::from(buckets);
    let mut b = 0u64;
    // The first step outside the loop, where `b = 0` is known: its multiply folds to a
    // shift, a few cycles off the start of every lookup.
    let mut step = Step::from(key, b);
    loop {
        if !step.settled {
            return finish_as_published(step.key, b, step.r_scaled / 4_294_967_296.0, buckets);
        }
        if step.j >= n {
            return b as u32;
        }
        b = step.j;
        step = Step::from(step.key, b);
    }
}

/// One jump from bucket `b`, in fixed point (see [`jump`] for why it is exact).
struct Step {
    /// The key state after this jump's generator step.
    key: u64,
    /// The bucket jumped to, `floor(y)`.
    j: u64,
    /// Whether `j` is certainly the reference's jump; if not, it must be recomputed.
    settled: bool,
    /// The reference's reciprocal times 2^32, for that recomputation.
    r_scaled: f64,
}

impl Step {
    #[inline(always)]
    fn from(key: u64, b: u64) -> Step {
        let key = key.wrapping_mul(LCG_MULTIPLIER).wrapping_add(1);
        // `r * 2^32`, computed directly: scaling by a power of two commutes with
        // rounding, so this is exactly the reference's `r` times 2^32 (and one multiply
        // shorter). It is at most 2^63; truncated, saturating at 2^63 - 1 for the one
        // key step where r = 2^31 — still at most one unit short.
        let r_scaled = (1u64 << 63) as f64 / ((key >> 33) + 1) as f64;
        let q = r_scaled as i64 as u64;
        // b < 2^31, so neither shift overflows.
        let product = u128::from((b + 1) << 32) * u128::from(q);
        Step {
            key,
            j: (product >> 64) as u64,
            settled: (product as u64).checked_add((b + 1 + 1024) << 32).is_some(),
            r_scaled,
        }
    }
}

/// The published floating-point loop, continued from bucket `b` with next jump `j` and
/// key state `key`: from the start (`0, 0`) it is the reference implementation, which
/// [`jump`] matches bucket for bucket.
fn published_from(mut key: u64, mut b: i64, mut j: i64, buckets: u32) -> u32 {
    while j < i64::from(buckets) {
        b = j;
        (key, j) = published_step(key, b);
    }
    b as u32
}

/// One step of the published loop from bucket `b`: the next key state and jump.
#[inline(always)]
fn published_step(key: u64, b: i64) -> (u64, i64) {
    let key = key.wrapping_mul(LCG_MULTIPLIER).wrapping_add(1);
    let j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    (key, j)
}

/// The rest of [`jump`] from bucket `b`, whose next jump (key state `key`, reciprocal
/// `r`) the fixed point could not settle, computed as the reference computes it. Out of
/// line, and reached by a tail call, so the common path neither carries it nor saves
/// registers for it.
#[cold]
#[inline(never)]
fn finish_as_published(key: u64, b: u64, r: f64, buckets: u32) -> u32 {
    let b = b as i64;
    published_from(key, b, ((b + 1) as f64 * r) as i64, buckets)
}

/// The multiplier of the published algorithm's linear congruential generator.
const LCG_MULTIPLIER: u64 = 2_862_933_555_777_941_757;

/// Lanes [`jump_batch`] runs at once.
const LANES: usize = 4;

/// [`jump`] for several keys at once, the same buckets, into `out` (cleared first).
///
/// Why: one key's jumps form a chain, each waiting on the last, and the loop's end is
/// mispredicted on almost every key; the processor idles. Four keys stepped together are
/// four independent chains it can overlap, and a key that has finished is frozen by
/// selection, not by branching, so the only unpredictable branch is once per four keys.
pub fn jump_batch(keys: &[u64], buckets: u32, out: &mut Vec<u32>) {
    out.clear();
    out.reserve(keys.len());
    let mut chunks = keys.chunks_exact(LANES);
    for chunk in &mut chunks {
        let mut lanes = [0u64; LANES];
        lanes.copy_from_slice(chunk);
        out.extend_from_slice(&jump_lanes(lanes, buckets));
    }
    out.extend(chunks.remainder().iter().map(|&k| jump(k, buckets)));
}

/// [`jump`] of each key in `keys`, stepped together in the published floating point:
/// with four chains to overlap, throughput counts, not latency, and the published step
/// is fewer instructions than the fixed point with its check.
fn jump_lanes(mut key: [u64; LANES], buckets: u32) -> [u32; LANES] {
    let n = i64::from(buckets);
    let mut b = [0i64; LANES];
    let mut j = [0i64; LANES];
    loop {
        let mut going_any = 0i64;
        for l in 0..LANES {
            // All ones while this key's published loop would still run, else zeros.
            let going = -i64::from(j[l] < n);
            going_any |= going;
            let (next_key, next_j) = published_step(key[l], j[l]);
            b[l] = (j[l] & going) | (b[l] & !going);
            key[l] = (next_key & going as u64) | (key[l] & !going as u64);
            j[l] = (next_j & going) | (j[l] & !going);
        }
        if going_any == 0 {
            break;
        }
    }
    b.map(|b| b as u32)
}

/// Jump consistent hash over a node set of equal weights.
#[derive(Clone, Debug)]
pub struct Jump {
    nodes: Nodes,
    buckets: u32,
}

impl Jump {
    /// Over `nodes` (equal weights; at most 2^31 nodes).
    pub fn new(nodes: Nodes) -> Result<Jump, PartitionError> {
        if !nodes.uniform_weights() {
            return Err(PartitionError::Unsupported {
                algorithm: "jump",
                what: "weights (give every node the same weight)",
            });
        }
        let buckets = u32::try_from(nodes.len())
            .ok()
            .filter(|&b| b <= 1 << 31)
            .ok_or(PartitionError::OutOfRange {
                name: "nodes",
                value: nodes.len() as u64,
                expected: "at most 2^31 for jump",
            })?;
        Ok(Jump { nodes, buckets })
    }
}

impl Jump {
    /// The owners of `keys`, as [`Placement::locate`] gives them, computed several at a
    /// time ([`jump_batch`]): for routing many keys at once, as a multi-get does.
    pub fn locate_batch(&self, keys: &[u64], out: &mut Vec<u32>) {
        jump_batch(keys, self.buckets, out);
    }
}

impl Placement for Jump {
    fn name(&self) -> &'static str {
        "jump"
    }

    fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    fn locate(&self, key: u64) -> usize {
        jump(key, self.buckets) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation: the published loop from its start.
    fn published(key: u64, buckets: u32) -> u32 {
        published_from(key, 0, 0, buckets)
    }

    proptest::proptest! {
        #[test]
        fn the_fixed_point_gives_the_published_buckets(
            key in proptest::prelude::any::<u64>(),
            buckets in 1u32..=1 << 31,
        ) {
            proptest::prop_assert_eq!(jump(key, buckets), published(key, buckets));
        }

        #[test]
        fn batches_give_the_same_buckets(
            keys in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..40),
            buckets in 1u32..=1 << 31,
        ) {
            let mut out = Vec::new();
            jump_batch(&keys, buckets, &mut out);
            let one_by_one: Vec<u32> = keys.iter().map(|&k| published(k, buckets)).collect();
            proptest::prop_assert_eq!(out, one_by_one);
        }
    }

    #[test]
    fn the_published_examples() {
        // From the reference implementation's documentation.
        assert_eq!([jump(0, 60), jump(1, 60), jump(2, 60)], [0, 55, 46]);
    }

    #[test]
    fn keys_match_the_reference_at_small_and_huge_bucket_counts() {
        // At 2^31 buckets a quarter of the late jumps are unsettled, so the recomputation
        // runs thousands of times here; at 1,000 the fast path answers nearly alone.
        for buckets in [1, 2, 1_000, 65_537, 1 << 31] {
            let keys: Vec<u64> = (0..250_000u64)
                .map(|i| crate::mix(i ^ u64::from(buckets)))
                .collect();
            let mut batched = Vec::new();
            jump_batch(&keys, buckets, &mut batched);
            for (&key, &in_batch) in keys.iter().zip(&batched) {
                let expected = published(key, buckets);
                assert_eq!(jump(key, buckets), expected, "key {key}, {buckets} buckets");
                assert_eq!(in_batch, expected, "key {key}, {buckets} buckets, batched");
            }
        }
    }

    #[test]
    fn unsettled_jumps_occur_and_are_recomputed() {
        // Far from the start, where `b` is large, the margin is wide: find steps the fixed
        // point leaves unsettled, so the recomputation is known to be exercised.
        let b = (1u64 << 31) - 2;
        let unsettled = (0..10_000u64)
            .filter(|&i| !Step::from(crate::mix(i), b).settled)
            .count();
        assert!(unsettled > 1_000, "{unsettled} unsettled of 10,000");
    }

    #[test]
    fn the_step_where_the_reciprocal_is_largest() {
        // `(key >> 33) + 1 == 1` gives r = 2^31, where `r * 2^32` saturates. Keys whose
        // next generator state is below 2^33: key = (state - 1) / multiplier (mod 2^64).
        let mut inverse = LCG_MULTIPLIER;
        for _ in 0..6 {
            inverse = inverse.wrapping_mul(2u64.wrapping_sub(LCG_MULTIPLIER.wrapping_mul(inverse)));
        }
        assert_eq!(LCG_MULTIPLIER.wrapping_mul(inverse), 1);
        for state in [1u64, 2, 12_345, (1 << 33) - 1] {
            let key = (state - 1).wrapping_mul(inverse);
            assert_eq!(key.wrapping_mul(LCG_MULTIPLIER).wrapping_add(1), state);
            for buckets in [1, 7, 1_000, 1 << 20, 1 << 31] {
                assert_eq!(jump(key, buckets), published(key, buckets), "state {state}");
            }
        }
    }
}
