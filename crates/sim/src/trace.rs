//! The trace hash: a 64-bit fingerprint of everything that happened in a run.
//!
//! Two runs with the same seed and configuration must produce the same trace hash; a
//! difference means nondeterminism crept in (a wall-clock read, unordered iteration).
//! The hasher is written out (FxHash's multiply-rotate step plus a SplitMix finaliser)
//! so its output never changes with a dependency upgrade.

use std::hash::Hasher;

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// A fast, stable, non-cryptographic hasher for the trace.
#[derive(Clone, Debug, Default)]
pub struct TraceHasher {
    state: u64,
}

impl TraceHasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        TraceHasher { state: 0 }
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(K);
    }

    /// The fingerprint so far, finalised (SplitMix64's mixer spreads the low bits).
    pub fn digest(&self) -> u64 {
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Hasher for TraceHasher {
    fn finish(&self) -> u64 {
        self.digest()
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        // Fixed width so 32- and 64-bit builds agree.
        self.mix(i as u64);
    }
}

/// Format a digest the way reports print it: 16 lowercase hex digits.
pub fn hex(digest: u64) -> String {
    format!("{digest:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    #[test]
    fn order_and_content_matter() {
        let h = |xs: &[u64]| {
            let mut t = TraceHasher::new();
            xs.hash(&mut t);
            t.digest()
        };
        assert_eq!(h(&[1, 2, 3]), h(&[1, 2, 3]));
        assert_ne!(h(&[1, 2, 3]), h(&[3, 2, 1]));
        assert_ne!(h(&[1, 2]), h(&[1, 2, 0]));
    }

    #[test]
    fn short_byte_tails_are_distinguished() {
        let h = |b: &[u8]| {
            let mut t = TraceHasher::new();
            t.write(b);
            t.digest()
        };
        assert_ne!(h(b"a"), h(b"a\0"));
        assert_eq!(hex(0xab), "00000000000000ab");
    }
}
