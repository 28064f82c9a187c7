//! Small, fast, deterministic hashing used for feature ids and token-sequence keys
//! (no allocation per feature; identical results on every platform and run).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::hash::{FNV_OFFSET, FNV_PRIME};

/// 64-bit finaliser (splitmix64).
#[inline]
pub fn mix(x: u64) -> u64 {
    crate::hash::splitmix64(x)
}

/// Hash of a byte string (FNV-style over 8-byte words, then finalised).
#[inline]
pub fn hash_bytes(b: &[u8]) -> u64 {
    let mut h: u64 = FNV_OFFSET ^ (b.len() as u64);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(FNV_PRIME).rotate_left(29);
    }
    for &x in chunks.remainder() {
        h = (h ^ x as u64).wrapping_mul(FNV_PRIME);
    }
    mix(h)
}

/// Hash of a string.
#[inline]
pub fn hash_str(s: &str) -> u64 {
    hash_bytes(s.as_bytes())
}

/// Hasher for keys that are already hashes.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by precomputed 64-bit hashes.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
