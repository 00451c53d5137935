//! The rows kato writes, one struct per table (field names are column names).

use clickhouse::Row;
use serde::{Deserialize, Serialize};

/// A `patterns_data` row: the body of one pattern in one kb.
#[derive(Debug, Clone, PartialEq, Eq, Row, Serialize, Deserialize)]
pub struct PatternRow {
    /// The kb (validated by `KbId` before it gets here).
    pub kb_id: String,
    /// The bare 40-hex name.
    pub name: String,
    /// The events as learned.
    pub pattern_data: Vec<Vec<String>>,
    /// Symbols counted with duplicates.
    pub length: u32,
    /// Distinct symbols, sorted.
    pub token_set: Vec<String>,
    /// Number of distinct symbols.
    pub token_count: u32,
    /// The MinHash signature of `token_set`.
    pub minhash_sig: Vec<u32>,
    /// One LSH hash per band, band `i` at index `i`.
    pub lsh_bands: Vec<u64>,
    /// The first symbol of the first event (`""` when there is none).
    pub first_token: String,
    /// The last symbol of the last event (`""` when there is none).
    pub last_token: String,
}

/// Bytes of a pattern name: the SHA-1 digest a bare name spells in hex.
pub const NAME_BYTES: usize = 20;

/// The 20 bytes of a bare 40-hex pattern name; `None` if `name` is not 40 lowercase hex
/// digits. The writer refuses a name this does not decode (every stored name is one), and a
/// compact index can keep names as these bytes.
pub fn name_bytes(name: &str) -> Option<[u8; NAME_BYTES]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let hex = name.as_bytes();
    if hex.len() != 2 * NAME_BYTES {
        return None;
    }
    let mut bytes = [0; NAME_BYTES];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(bytes)
}

/// A `learn_log` row: one learn, enough to replay its Redis update exactly.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct LearnLogRow {
    /// The kb.
    pub kb_id: String,
    /// Commit order: increasing across every learn this writer committed.
    pub seq: u64,
    /// The bare pattern name.
    pub name: String,
    /// This learn's emotives, one canonical JSON object per observation.
    pub emotives: Vec<String>,
    /// This learn's metadata as (key, value) pairs.
    pub metadata: Vec<(String, String)>,
    /// The emotive window kept for the pattern.
    pub persistence: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_bytes_decode_lowercase_hex_only() {
        let name = "00ff10a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6";
        let bytes = name_bytes(name).unwrap();
        assert_eq!(bytes[..3], [0x00, 0xff, 0x10]);
        assert_eq!(bytes[19], 0xe6);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, name);
        for bad in [
            "",
            "00ff",
            &name.to_uppercase(),
            &format!("{}g", &name[..39]),
            &format!("{name}00"),
        ] {
            assert_eq!(name_bytes(bad), None, "{bad}");
        }
    }
}

/// A `vectors` row: one learned vector of one kb.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct VectorRow {
    /// The kb.
    pub kb_id: String,
    /// `VCTR|<sha1>` of the vector's NumPy text.
    pub name: String,
    /// The components, as the reference's vector store keeps them (float32).
    pub components: Vec<f32>,
}
