//! MinHash signatures and LSH band hashes: kato's own scheme (DESIGN.md section 6), versioned by
//! [`MINHASH_SCHEME_VERSION`].
//!
//! # Scheme, version 1
//! - Token key: the 64-bit [`token_hash`] (XXH64, seed 0, of the UTF-8 bytes) folded to 32 bits,
//!   `key = (h ^ (h >> 32)) as u32`. Duplicates and order of tokens do not matter; two distinct
//!   tokens share a key with probability 2^-32 and then count as one.
//! - Permutation `i` has parameters `a_i` (odd) and `b_i`, the 64-bit words number `2i` (with the
//!   lowest bit set) and `2i + 1` drawn from `Xoshiro256PlusPlus::from_seed(PARAMETER_SEED)`. The
//!   parameters of permutation `i` do not depend on how many permutations are configured, so a
//!   signature of `k` values is a prefix of every longer one.
//! - Signature value `i` = `min` over the tokens of `((a_i * key + b_i) mod 2^64) >> 32`, a `u32`;
//!   `u32::MAX` for an empty token set. This is Dietzfelbinger's multiply-add-shift hash of a
//!   32-bit key to 32 bits with 64-bit `a` and `b`, a strongly universal family (`a` is forced odd
//!   as DESIGN.md asks), and it needs only 32x32-bit multiplies, which keeps the hot loop
//!   vectorizable on baseline x86-64 (SSE2). The tests check that the Jaccard estimate is unbiased
//!   with the binomial spread of truly independent permutations.
//! - LSH: band `j` covers signature values `[j * rows, (j + 1) * rows)`; its hash is XXH64 with
//!   seed [`BAND_HASH_SEED`] of the little-endian bytes of `j as u32` followed by the band's
//!   values, so equal values in different bands give different band hashes (barring a 64-bit
//!   collision).
//!
//! Any change to a stored value (signature or band hash) must bump [`MINHASH_SCHEME_VERSION`].

use std::sync::OnceLock;

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use crate::error::CoreError;
use crate::token_hash::{token_hash, xxh64};

/// Version of the MinHash/LSH scheme; stored values are comparable only within one version.
pub const MINHASH_SCHEME_VERSION: u32 = 1;
/// Smallest supported number of permutations.
pub const MIN_PERMUTATIONS: usize = 10;
/// Largest supported number of permutations.
pub const MAX_PERMUTATIONS: usize = 256;
/// Default number of permutations (signature values).
pub const DEFAULT_PERMUTATIONS: usize = 100;
/// Default number of LSH bands.
pub const DEFAULT_BANDS: usize = 20;
/// Default number of signature values per LSH band.
pub const DEFAULT_ROWS: usize = 5;

/// Seed of the permutation parameters (32 ASCII bytes).
pub const PARAMETER_SEED: [u8; 32] = *b"kato minhash scheme 1 parameters";
/// XXH64 seed of LSH band hashes.
pub const BAND_HASH_SEED: u64 = 0x6b61_746f_4c53_4842; // "katoLSHB"

/// Permutations computed side by side; eight `u64` lanes keep the inner loop in SIMD registers.
const LANES: usize = 8;
/// Token keys hashed ahead of the permutation loop, on the stack (no allocation per token).
const KEY_CHUNK: usize = 64;
/// Adding 2^63 to `b` flips the top bit of every value, so a signed `i32` minimum orders the
/// values as unsigned; SSE2 has a signed but no unsigned 32-bit compare.
const SIGN_BIT: u32 = 1 << 31;

/// A validated MinHash/LSH configuration: `permutations` in
/// [`MIN_PERMUTATIONS`]`..=`[`MAX_PERMUTATIONS`], at least one band of at least one row, and
/// `bands * rows <= permutations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MinHashConfig {
    permutations: usize,
    bands: usize,
    rows: usize,
}

impl MinHashConfig {
    /// Validates a configuration.
    pub fn new(permutations: usize, bands: usize, rows: usize) -> Result<Self, CoreError> {
        if !(MIN_PERMUTATIONS..=MAX_PERMUTATIONS).contains(&permutations) {
            return Err(CoreError::PermutationsOutOfRange {
                permutations,
                min: MIN_PERMUTATIONS,
                max: MAX_PERMUTATIONS,
            });
        }
        let fits = bands
            .checked_mul(rows)
            .is_some_and(|needed| needed > 0 && needed <= permutations);
        if !fits {
            return Err(CoreError::InvalidBanding {
                bands,
                rows,
                permutations,
            });
        }
        Ok(Self {
            permutations,
            bands,
            rows,
        })
    }

    /// Number of permutations, i.e. signature values.
    pub fn permutations(&self) -> usize {
        self.permutations
    }

    /// Number of LSH bands.
    pub fn bands(&self) -> usize {
        self.bands
    }

    /// Signature values per band.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl Default for MinHashConfig {
    /// 100 permutations, 20 bands of 5 rows.
    fn default() -> Self {
        Self {
            permutations: DEFAULT_PERMUTATIONS,
            bands: DEFAULT_BANDS,
            rows: DEFAULT_ROWS,
        }
    }
}

/// Permutation parameters for [`LANES`] consecutive permutations.
#[derive(Debug, Clone)]
struct ParameterBlock {
    multipliers: [u64; LANES],
    /// `b` plus 2^63 (see [`SIGN_BIT`]).
    biased_offsets: [u64; LANES],
}

/// Computes signatures and band hashes for one configuration. Building one draws the permutation
/// tables once; keep it and reuse it (it is `Send + Sync`), or use [`MinHasher::shared_default`].
#[derive(Debug, Clone)]
pub struct MinHasher {
    config: MinHashConfig,
    blocks: Vec<ParameterBlock>,
}

impl MinHasher {
    /// Draws the permutation tables for `config`.
    pub fn new(config: MinHashConfig) -> Self {
        let mut rng = Xoshiro256PlusPlus::from_seed(PARAMETER_SEED);
        let mut blocks = Vec::with_capacity(config.permutations.div_ceil(LANES));
        for first in (0..config.permutations).step_by(LANES) {
            // Lanes past the configured count only pad the last block; their values are dropped.
            let mut block = ParameterBlock {
                multipliers: [1; LANES],
                biased_offsets: [0; LANES],
            };
            let used = LANES.min(config.permutations - first);
            for lane in 0..used {
                block.multipliers[lane] = rng.next_u64() | 1;
                block.biased_offsets[lane] = rng.next_u64() ^ (1 << 63);
            }
            blocks.push(block);
        }
        Self { config, blocks }
    }

    /// The process-wide hasher for the default configuration, built on first use.
    pub fn shared_default() -> &'static Self {
        static SHARED: OnceLock<MinHasher> = OnceLock::new();
        SHARED.get_or_init(|| Self::new(MinHashConfig::default()))
    }

    /// The configuration.
    pub fn config(&self) -> MinHashConfig {
        self.config
    }

    /// The signature of a token set (order and duplicates do not matter).
    pub fn signature<I>(&self, tokens: I) -> Vec<u32>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut signature = vec![0; self.config.permutations];
        self.fill_signature(tokens, &mut signature);
        signature
    }

    /// Writes the signature of a token set into `out`, which must hold exactly
    /// `config().permutations()` values. Allocates nothing.
    pub fn signature_into<I>(&self, tokens: I, out: &mut [u32]) -> Result<(), CoreError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        if out.len() != self.config.permutations {
            return Err(CoreError::SignatureLengthMismatch {
                expected: self.config.permutations,
                found: out.len(),
            });
        }
        self.fill_signature(tokens, out);
        Ok(())
    }

    fn fill_signature<I>(&self, tokens: I, out: &mut [u32])
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        out.fill(u32::MAX);
        let mut tokens = tokens.into_iter();
        let mut keys = [0u32; KEY_CHUNK];
        loop {
            let mut filled = 0;
            // `zip` asks `keys` first, so no token is consumed once the chunk is full.
            for (key, token) in keys.iter_mut().zip(&mut tokens) {
                *key = token_key(token.as_ref());
                filled += 1;
            }
            if filled == 0 {
                return;
            }
            self.absorb(&keys[..filled], out);
            if filled < KEY_CHUNK {
                return;
            }
        }
    }

    /// Lowers `out` to the minimum over `keys` of every permutation.
    fn absorb(&self, keys: &[u32], out: &mut [u32]) {
        let full_blocks = out.len() / LANES;
        let mut chunks = out.chunks_exact_mut(LANES);
        for (minima, block) in (&mut chunks).zip(&self.blocks) {
            let minima: &mut [u32; LANES] = minima.try_into().expect("chunk of LANES values");
            absorb_block(keys, block, minima);
        }
        let tail = chunks.into_remainder();
        if let Some(block) = self.blocks.get(full_blocks) {
            let mut minima = [u32::MAX; LANES];
            minima[..tail.len()].copy_from_slice(tail);
            absorb_block(keys, block, &mut minima);
            tail.copy_from_slice(&minima[..tail.len()]);
        }
    }

    /// The LSH band hashes of a signature of this configuration.
    pub fn band_hashes(&self, signature: &[u32]) -> Result<Vec<u64>, CoreError> {
        let mut hashes = vec![0; self.config.bands];
        self.band_hashes_into(signature, &mut hashes)?;
        Ok(hashes)
    }

    /// Writes the LSH band hashes of `signature` into `out`, which must hold exactly
    /// `config().bands()` slots. Allocates nothing.
    pub fn band_hashes_into(&self, signature: &[u32], out: &mut [u64]) -> Result<(), CoreError> {
        if signature.len() != self.config.permutations {
            return Err(CoreError::SignatureLengthMismatch {
                expected: self.config.permutations,
                found: signature.len(),
            });
        }
        if out.len() != self.config.bands {
            return Err(CoreError::BandBufferLengthMismatch {
                expected: self.config.bands,
                found: out.len(),
            });
        }
        let mut bytes = [0u8; 4 * (1 + MAX_PERMUTATIONS)];
        let used = 4 * (1 + self.config.rows);
        for (band_index, (hash, values)) in out
            .iter_mut()
            .zip(signature.chunks_exact(self.config.rows))
            .enumerate()
        {
            let band_index = u32::try_from(band_index).expect("at most 256 bands");
            bytes[..4].copy_from_slice(&band_index.to_le_bytes());
            for (slot, value) in bytes[4..used].chunks_exact_mut(4).zip(values) {
                slot.copy_from_slice(&value.to_le_bytes());
            }
            *hash = xxh64(&bytes[..used], BAND_HASH_SEED);
        }
        Ok(())
    }
}

/// The 32-bit permutation input of a token (see the module docs).
pub fn token_key(token: &str) -> u32 {
    let hash = token_hash(token);
    (hash ^ (hash >> 32)) as u32
}

/// The hot loop: for each key, eight multiply-add-shift values and eight minima. Written over
/// fixed-size arrays so the compiler keeps the minima in registers and vectorizes the lanes.
#[inline]
fn absorb_block(keys: &[u32], block: &ParameterBlock, minima: &mut [u32; LANES]) {
    let mut biased: [i32; LANES] = minima.map(|value| (value ^ SIGN_BIT) as i32);
    for &key in keys {
        let key = u64::from(key);
        let lanes = block.multipliers.iter().zip(&block.biased_offsets);
        for (minimum, (&a, &b)) in biased.iter_mut().zip(lanes) {
            let value = (a.wrapping_mul(key).wrapping_add(b) >> 32) as u32 as i32;
            *minimum = (*minimum).min(value);
        }
    }
    *minima = biased.map(|value| value as u32 ^ SIGN_BIT);
}

/// The estimated Jaccard similarity of the two token sets behind two signatures: the fraction of
/// positions holding equal values. Two empty signatures estimate 0.
pub fn estimated_jaccard(left: &[u32], right: &[u32]) -> Result<f64, CoreError> {
    if left.len() != right.len() {
        return Err(CoreError::SignatureLengthMismatch {
            expected: left.len(),
            found: right.len(),
        });
    }
    if left.is_empty() {
        return Ok(0.0);
    }
    let equal = left.iter().zip(right).filter(|(l, r)| l == r).count();
    Ok(equal as f64 / left.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward definition, for checking the blocked kernel.
    fn naive_signature(tokens: &[&str], permutations: usize) -> Vec<u32> {
        let mut rng = Xoshiro256PlusPlus::from_seed(PARAMETER_SEED);
        (0..permutations)
            .map(|_| {
                let a = rng.next_u64() | 1;
                let b = rng.next_u64();
                tokens
                    .iter()
                    .map(|token| {
                        let key = u64::from(token_key(token));
                        (a.wrapping_mul(key).wrapping_add(b) >> 32) as u32
                    })
                    .min()
                    .unwrap_or(u32::MAX)
            })
            .collect()
    }

    #[test]
    fn kernel_matches_the_definition_for_every_tail_length() {
        let tokens: Vec<String> = (0..150).map(|i| format!("token-{i}")).collect();
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        for permutations in [10, 16, 17, 100, 255, 256] {
            let hasher = MinHasher::new(MinHashConfig::new(permutations, 1, 1).unwrap());
            for count in [0, 1, 2, 63, 64, 65, 150] {
                assert_eq!(
                    hasher.signature(&tokens[..count]),
                    naive_signature(&tokens[..count], permutations),
                    "{permutations} permutations, {count} tokens"
                );
            }
        }
    }

    #[test]
    fn shorter_configurations_are_prefixes() {
        let tokens = ["a", "b", "c"];
        let long = MinHasher::new(MinHashConfig::new(256, 1, 1).unwrap()).signature(tokens);
        let short = MinHasher::shared_default().signature(tokens);
        assert_eq!(short[..], long[..100]);
    }

    #[test]
    fn empty_set_is_all_max() {
        let signature = MinHasher::shared_default().signature(std::iter::empty::<&str>());
        assert!(signature.iter().all(|&value| value == u32::MAX));
    }

    #[test]
    fn config_validation() {
        assert_eq!(
            MinHashConfig::default(),
            MinHashConfig::new(100, 20, 5).unwrap()
        );
        assert!(MinHashConfig::new(10, 2, 5).is_ok());
        assert!(MinHashConfig::new(256, 16, 16).is_ok());
        assert_eq!(
            MinHashConfig::new(9, 1, 1),
            Err(CoreError::PermutationsOutOfRange {
                permutations: 9,
                min: 10,
                max: 256
            })
        );
        assert!(matches!(
            MinHashConfig::new(257, 1, 1),
            Err(CoreError::PermutationsOutOfRange { .. })
        ));
        for (bands, rows) in [(0, 5), (20, 0), (21, 5), (usize::MAX, 2)] {
            assert_eq!(
                MinHashConfig::new(100, bands, rows),
                Err(CoreError::InvalidBanding {
                    bands,
                    rows,
                    permutations: 100
                })
            );
        }
    }

    #[test]
    fn buffers_of_the_wrong_length_are_rejected() {
        let hasher = MinHasher::shared_default();
        let mut short = [0u32; 99];
        assert_eq!(
            hasher.signature_into(["a"], &mut short),
            Err(CoreError::SignatureLengthMismatch {
                expected: 100,
                found: 99
            })
        );
        assert!(hasher.band_hashes(&short).is_err());
        let signature = hasher.signature(["a"]);
        let mut bands = [0u64; 19];
        assert_eq!(
            hasher.band_hashes_into(&signature, &mut bands),
            Err(CoreError::BandBufferLengthMismatch {
                expected: 20,
                found: 19
            })
        );
        assert!(estimated_jaccard(&signature, &short).is_err());
    }

    #[test]
    fn band_hash_definition() {
        let hasher = MinHasher::new(MinHashConfig::new(10, 2, 3).unwrap());
        let signature: Vec<u32> = (1..=10).collect();
        let bands = hasher.band_hashes(&signature).unwrap();
        let bytes = |index: u32, values: &[u32]| -> Vec<u8> {
            std::iter::once(index)
                .chain(values.iter().copied())
                .flat_map(u32::to_le_bytes)
                .collect()
        };
        assert_eq!(bands[0], xxh64(&bytes(0, &[1, 2, 3]), BAND_HASH_SEED));
        assert_eq!(bands[1], xxh64(&bytes(1, &[4, 5, 6]), BAND_HASH_SEED));
    }

    #[test]
    fn jaccard_estimate_counts_equal_positions() {
        assert_eq!(estimated_jaccard(&[1, 2, 3, 4], &[1, 0, 3, 0]), Ok(0.5));
        assert_eq!(estimated_jaccard(&[], &[]), Ok(0.0));
    }
}
