//! Hashing keys to 64-bit positions, the same in every process and release.

/// The position of a key given as bytes: XXH3, 64 bits.
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// The position of a key that is already a number (a user id, a sequence number): its
/// bits mixed, so that neighbouring numbers land far apart.
pub fn mix(mut z: u64) -> u64 {
    // SplitMix64's finaliser: a bijection, so distinct numbers keep distinct positions.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A second, independent position for `key` under `salt` (a node, a replica number).
pub(crate) fn salted(key: u64, salt: u64) -> u64 {
    salted_by(key, prepare(salt))
}

/// The part of [`salted`] that depends on the salt alone, computed once per node.
pub(crate) fn prepare(salt: u64) -> u64 {
    mix(salt.wrapping_add(0x9e37_79b9_7f4a_7c15))
}

/// [`salted`] with a salt already [`prepare`]d.
pub(crate) fn salted_by(key: u64, prepared: u64) -> u64 {
    mix(key ^ prepared)
}

/// `x` scaled into `0..n` by its high bits (a multiply and a shift, not a division).
pub(crate) fn scale(x: u64, n: u64) -> u64 {
    ((u128::from(x) * u128::from(n)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_are_fixed() {
        // XXH3-64 of the empty input and of "a", as published; a change here would move
        // every key in every deployment.
        assert_eq!(key_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_ne!(key_hash(b"a"), key_hash(b"b"));
        assert_eq!(mix(0), 0);
        assert_ne!(mix(1), mix(2));
    }

    #[test]
    fn scaling_stays_in_range() {
        for n in [1u64, 2, 7, 1_000, u64::MAX] {
            for x in [0u64, 1, u64::MAX / 2, u64::MAX] {
                assert!(scale(x, n) < n);
            }
        }
    }
}
