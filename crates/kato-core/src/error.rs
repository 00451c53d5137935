//! The one error type of kato-core.

use thiserror::Error;

/// Everything that can go wrong in kato-core. Every variant is a caller mistake (bad input or bad
/// configuration); kato-core does no I/O, so there is nothing transient to retry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoreError {
    /// The text is not a knowledge-base id (1 to 512 bytes).
    #[error("invalid kb id {input:?}: expected 1 to 512 bytes")]
    InvalidKbId {
        /// The rejected text.
        input: String,
    },

    /// The text is neither `PTRN|<40 lowercase hex digits>` nor the 40 digits alone.
    #[error(
        "invalid pattern name {input:?}: expected PTRN| followed by 40 lowercase hex digits, or the 40 digits alone"
    )]
    InvalidPatternName {
        /// The rejected text, cut to its first 100 characters.
        input: String,
    },

    /// The vectors of one observation cannot be summed element-wise.
    #[error("vector {index} of the observation has {found} elements, but vector 0 has {expected}")]
    VectorLengthMismatch {
        /// Position of the offending vector within the observation.
        index: usize,
        /// Length of the first vector.
        expected: usize,
        /// Length of the offending vector.
        found: usize,
    },

    /// The MinHash permutation count is outside the supported range.
    #[error("minhash permutations must be within {min}..={max}, got {permutations}")]
    PermutationsOutOfRange {
        /// The requested number of permutations.
        permutations: usize,
        /// Smallest supported number.
        min: usize,
        /// Largest supported number.
        max: usize,
    },

    /// LSH bands or rows are zero, or need more signature values than there are permutations.
    #[error("lsh banding of {bands} bands x {rows} rows does not fit {permutations} permutations")]
    InvalidBanding {
        /// The requested number of bands.
        bands: usize,
        /// The requested number of rows per band.
        rows: usize,
        /// The number of permutations (signature values) available.
        permutations: usize,
    },

    /// A signature (or an output buffer for one) has the wrong number of values.
    #[error("minhash signature has {found} values, expected {expected}")]
    SignatureLengthMismatch {
        /// The number of values required.
        expected: usize,
        /// The number of values given.
        found: usize,
    },

    /// An output buffer for LSH band hashes has the wrong length.
    #[error("lsh band buffer has {found} slots, expected {expected}")]
    BandBufferLengthMismatch {
        /// The number of bands of the configuration.
        expected: usize,
        /// The number of slots given.
        found: usize,
    },
}
