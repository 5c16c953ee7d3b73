//! The randomness jitter needs: SplitMix64 (Steele, Lea and Flood, 2014) over a counter
//! that callers advance by [`GAMMA`], plain or atomically, so runs are reproducible from
//! a seed.

use crate::sync::{AtomicU64, Ordering};

/// What a SplitMix64 counter advances by per draw.
pub(crate) const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The next uniform number in `[0, 1)` from a counter shared between threads.
pub(crate) fn draw(counter: &AtomicU64) -> f64 {
    let previous = counter.fetch_add(GAMMA, Ordering::Relaxed);
    unit(previous.wrapping_add(GAMMA))
}

/// The uniform number in `[0, 1)` that counter value `z` draws.
pub(crate) fn unit(mut z: u64) -> f64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Uniform draws in `[0, 1)` shared between threads, reproducible from a seed: for
/// jitter and probabilistic choices in code that runs on real threads.
#[derive(Debug)]
pub struct Draws {
    counter: AtomicU64,
}

impl Draws {
    /// Draws from `seed`.
    pub fn seeded(seed: u64) -> Self {
        Draws {
            counter: AtomicU64::new(seed),
        }
    }

    /// The next draw.
    pub fn next(&self) -> f64 {
        draw(&self.counter)
    }
}
