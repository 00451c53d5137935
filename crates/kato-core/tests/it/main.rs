//! Integration tests of kato-core: golden values from the reference and properties.

mod bound;
mod golden;
mod matching;
mod minhash_properties;
mod naming_properties;
mod predict;
mod stm_properties;

use proptest::test_runner::{Config, RngSeed};

/// Property-test settings with a fixed seed, so every run checks the same cases and a pass or a
/// failure reproduces exactly.
pub(crate) fn fixed_seed_config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x6b61_746f_636f_7265),
        failure_persistence: None,
        ..Config::default()
    }
}
