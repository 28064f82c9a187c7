//! Stable hashing shared by the modules: FNV-1a 64, with its offset basis and prime defined once,
//! and the splitmix64 finaliser that turns a seed into well-spread bits.
//! Used wherever a hash must be the same on every run, build and platform: feed jitter seeds
//! ([`crate::schedule::seed_for`]), the word sets that compare story lines, and the tagger's
//! feature ids (which the trained model depends on, so these constants never change).

/// FNV-1a 64 offset basis.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The splitmix64 finaliser: spreads the bits of `x` (a seed, a hash) over the whole word.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A number in `[0, 1)` drawn from `seed` (deterministic).
pub fn unit_interval(seed: u64) -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    (splitmix64(seed) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(super::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(super::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(super::fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn unit_interval_stays_in_range_and_spreads() {
        let us: Vec<f64> = (0..1000).map(super::unit_interval).collect();
        assert!(us.iter().all(|u| (0.0..1.0).contains(u)));
        let low = us.iter().filter(|&&u| u < 0.5).count();
        assert!((400..600).contains(&low), "{low}");
    }
}
