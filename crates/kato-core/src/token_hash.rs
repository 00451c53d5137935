//! The stable 64-bit token hash behind MinHash: XXH64 with seed 0 over the token's UTF-8 bytes.
//!
//! XXH64 is a published, versioned algorithm with reference test vectors, defined on bytes
//! (little-endian reads), so its values are the same on every platform and across Rust and crate
//! versions; it is written out here rather than taken from a dependency so that nothing outside
//! this file can change a stored value.

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;

/// The stable 64-bit hash of a token: XXH64(seed 0) of its UTF-8 bytes.
pub fn token_hash(token: &str) -> u64 {
    xxh64(token.as_bytes(), 0)
}

/// XXH64 of `input` with `seed` (the reference algorithm, version 0.8).
pub(crate) fn xxh64(input: &[u8], seed: u64) -> u64 {
    let mut rest = input;
    let mut hash = if input.len() >= 32 {
        let mut lanes = [
            seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
            seed.wrapping_add(PRIME_2),
            seed,
            seed.wrapping_sub(PRIME_1),
        ];
        while rest.len() >= 32 {
            let (stripe, tail) = rest.split_at(32);
            for (lane, word) in lanes.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = round(*lane, read_u64(word));
            }
            rest = tail;
        }
        let [l1, l2, l3, l4] = lanes;
        let mut hash = l1
            .rotate_left(1)
            .wrapping_add(l2.rotate_left(7))
            .wrapping_add(l3.rotate_left(12))
            .wrapping_add(l4.rotate_left(18));
        for lane in lanes {
            hash = (hash ^ round(0, lane))
                .wrapping_mul(PRIME_1)
                .wrapping_add(PRIME_4);
        }
        hash
    } else {
        seed.wrapping_add(PRIME_5)
    };
    hash = hash.wrapping_add(input.len() as u64);

    let mut words = rest.chunks_exact(8);
    for word in &mut words {
        hash ^= round(0, read_u64(word));
        hash = hash
            .rotate_left(27)
            .wrapping_mul(PRIME_1)
            .wrapping_add(PRIME_4);
    }
    let mut rest = words.remainder();
    if rest.len() >= 4 {
        let (word, tail) = rest.split_at(4);
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        hash ^= u64::from(word).wrapping_mul(PRIME_1);
        hash = hash
            .rotate_left(23)
            .wrapping_mul(PRIME_2)
            .wrapping_add(PRIME_3);
        rest = tail;
    }
    for &byte in rest {
        hash ^= u64::from(byte).wrapping_mul(PRIME_5);
        hash = hash.rotate_left(11).wrapping_mul(PRIME_1);
    }

    hash ^= hash >> 33;
    hash = hash.wrapping_mul(PRIME_2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(PRIME_3);
    hash ^ (hash >> 32)
}

fn round(accumulator: u64, input: u64) -> u64 {
    accumulator
        .wrapping_add(input.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from the reference implementation (python-xxhash 3.x, xxHash 0.8).
    #[test]
    fn reference_vectors() {
        let hundred_bytes: Vec<u8> = (0..100).collect();
        let cases: [(&[u8], u64, u64); 11] = [
            (b"", 0, 0xef46_db37_51d8_e999),
            (b"a", 0, 0xd24e_c4f1_a98c_6e5b),
            (b"abc", 0, 0x44bc_2cf5_ad77_0999),
            (b"hello", 0, 0x26c7_827d_889f_6da3),
            (b"12345678", 0, 0xd2d0_2f08_cf7c_fd4a),
            (b"123456789abc", 0, 0xa5b5_c36f_9984_8384),
            (b"0123456789abcdef0123456789abcde", 0, 0x1fdf_c63f_ebac_fde7),
            (
                b"0123456789abcdef0123456789abcdef",
                0,
                0x642a_9495_8e71_e6c5,
            ),
            (&hundred_bytes, 0, 0x6ac1_e580_3216_6597),
            (b"abc", 1, 0xbea9_ca81_9932_8908),
            (&hundred_bytes, 0x9e37_79b9_7f4a_7c15, 0x3b97_d91e_ba03_e785),
        ];
        for (input, seed, expected) in cases {
            assert_eq!(xxh64(input, seed), expected, "{input:?} seed {seed}");
        }
    }

    #[test]
    fn token_hash_is_xxh64_of_utf8() {
        assert_eq!(token_hash("café"), 0x9a40_a9b9_74d8_5a6a);
        assert_eq!(token_hash(""), 0xef46_db37_51d8_e999);
    }
}
