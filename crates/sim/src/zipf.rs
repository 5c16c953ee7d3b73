//! Zipf-distributed keys: key `k` (from 0) drawn with probability proportional to
//! `1 / (k + 1)^exponent`, so a few hot keys take much of the traffic. The simulator's
//! workload and `dsys partition`'s key streams draw from this one generator.
//!
//! The cumulative distribution is built once (one `f64` per key) and each draw is one
//! binary search. Powers come from `libm`, so a seed draws the same keys on every machine.

use dsys_node::DetRng;

/// Keys `0..universe` with Zipf weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cdf[k]`: the probability of drawing a key no greater than `k`.
    cdf: Vec<f64>,
}

impl Zipf {
    /// Keys `0..universe` (at least one) with skew `exponent` (0: uniform; 1: classic
    /// Zipf). The exponent is assumed finite and non-negative (the parsers check it).
    pub fn new(universe: u64, exponent: f64) -> Self {
        let weights: Vec<f64> = (0..universe.max(1))
            .map(|k| 1.0 / libm::pow((k + 1) as f64, exponent))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut below = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                below += w / total;
                below
            })
            .collect();
        Zipf { cdf }
    }

    /// One key.
    pub fn sample(&self, rng: &mut DetRng) -> u64 {
        let u = rng.unit_f64();
        // Rounding can leave the last cumulative value a hair under 1: clamp to the last key.
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_keys_take_their_share() {
        let zipf = Zipf::new(100, 1.0);
        let mut rng = DetRng::from_seed(3);
        let mut counts = [0u64; 100];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng) as usize] += 1;
        }
        // Harmonic number H(100) ~ 5.187: key 0 takes about 19%, key 1 about 9.6%.
        let share = |k: usize| counts[k] as f64 / 100_000.0;
        assert!((share(0) - 0.193).abs() < 0.01, "{}", share(0));
        assert!((share(1) - 0.096).abs() < 0.01, "{}", share(1));
        assert!(counts.iter().all(|&c| c > 0));
    }

    #[test]
    fn exponent_zero_is_uniform_and_one_key_is_always_drawn() {
        let zipf = Zipf::new(4, 0.0);
        let mut rng = DetRng::from_seed(1);
        let mut counts = [0u64; 4];
        for _ in 0..40_000 {
            counts[zipf.sample(&mut rng) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
        let one = Zipf::new(0, 2.0);
        assert_eq!(one.sample(&mut rng), 0);
    }
}
