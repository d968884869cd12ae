//! The fixed pseudo-random sequence generated data is drawn from, so that every run makes the
//! same data (apart from ids).

/// A well-mixed 64-bit value for `n` (SplitMix64), so the data is the same on every run.
pub fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A number in [0, 1) drawn for account `n` and purpose `salt`.
pub fn draw(n: u64, salt: u64) -> f64 {
    (mix(n.wrapping_mul(8).wrapping_add(salt)) >> 11) as f64 / (1u64 << 53) as f64
}
