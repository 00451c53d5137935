//! Lowercase hex SHA-1, the digest behind pattern names and vector symbols.

use sha1::{Digest, Sha1};

/// Length of a SHA-1 digest in hex digits.
pub(crate) const SHA1_HEX_LEN: usize = 40;

/// The lowercase hex SHA-1 of `bytes`, as ASCII.
pub(crate) fn sha1_lower_hex(bytes: &[u8]) -> [u8; SHA1_HEX_LEN] {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; SHA1_HEX_LEN];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(Sha1::digest(bytes)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0F)];
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            &sha1_lower_hex(b""),
            b"da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(
            &sha1_lower_hex(b"abc"),
            b"a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
