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

/// Open-addressing index from 64-bit hashes to `u32` values (linear probing, power-of-two
/// size, at most half full): one or two cache lines per lookup.
#[derive(Default)]
pub struct HashIndex {
    keys: Vec<u64>,
    vals: Vec<u32>,
    mask: usize,
}

impl HashIndex {
    /// Builds the index; a repeated key keeps its last value. Key 0 is stored as 1.
    pub fn new(pairs: impl ExactSizeIterator<Item = (u64, u32)>) -> HashIndex {
        let cap = (pairs.len() * 2).next_power_of_two().max(16);
        let mut ix = HashIndex {
            keys: vec![0; cap],
            vals: vec![0; cap],
            mask: cap - 1,
        };
        for (k, v) in pairs {
            let k = k.max(1);
            let mut i = mix(k) as usize & ix.mask;
            while ix.keys[i] != 0 && ix.keys[i] != k {
                i = (i + 1) & ix.mask;
            }
            ix.keys[i] = k;
            ix.vals[i] = v;
        }
        ix
    }

    /// The value of key `k`.
    #[inline]
    pub fn get(&self, k: u64) -> Option<u32> {
        if self.keys.is_empty() {
            return None;
        }
        let k = k.max(1);
        let mut i = mix(k) as usize & self.mask;
        loop {
            let s = self.keys[i];
            if s == k {
                return Some(self.vals[i]);
            }
            if s == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }
}
