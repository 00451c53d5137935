//! MinHash throughput on one thread: 10-token sets, 100 permutations.
//!
//! `cargo run --release -p kato-core --example minhash_throughput -- [--sets N]` prints one JSON
//! line: `{"bench":"minhash","num_perm":100,"tokens_per_set":10,"sets":N,"sets_per_sec":X}`.
//! Token strings are made before timing; the timed loop hashes every token and computes every
//! signature value, writing into one reused buffer.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use kato_core::{MinHashConfig, MinHasher};

const TOKENS_PER_SET: usize = 10;
const DEFAULT_SETS: usize = 1_000_000;
/// Distinct sets generated; the timed loop cycles through them (sized to stay in cache, like a
/// batch of patterns being learned).
const DISTINCT_SETS: usize = 4096;

fn parse_sets() -> Result<usize, String> {
    let mut args = std::env::args().skip(1);
    let mut sets = DEFAULT_SETS;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sets" => {
                let value = args.next().ok_or("--sets needs a value")?;
                sets = value
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("--sets wants a positive integer, got {value:?}"))?;
                if sets == 0 {
                    return Err("--sets must be at least 1".to_owned());
                }
            }
            other => return Err(format!("unknown argument {other:?} (usage: [--sets N])")),
        }
    }
    Ok(sets)
}

/// Deterministic, pattern-like token sets: ten distinct short symbols per set.
fn token_sets() -> Vec<Vec<String>> {
    (0..DISTINCT_SETS)
        .map(|set| {
            (0..TOKENS_PER_SET)
                .map(|token| format!("sym{}", (set * 7919 + token * 104_729) % 1_000_003))
                .collect()
        })
        .collect()
}

fn main() -> ExitCode {
    let sets = match parse_sets() {
        Ok(sets) => sets,
        Err(message) => {
            eprintln!("minhash_throughput: {message}");
            return ExitCode::from(2);
        }
    };
    let config = MinHashConfig::default();
    let hasher = MinHasher::new(config);
    let token_sets = token_sets();
    let mut signature = vec![0u32; config.permutations()];
    let mut checksum = 0u32;

    let started = Instant::now();
    for set in token_sets.iter().cycle().take(sets) {
        hasher
            .signature_into(black_box(set), &mut signature)
            .expect("buffer sized from the configuration");
        checksum ^= black_box(&signature)[0];
    }
    let seconds = started.elapsed().as_secs_f64();
    black_box(checksum);

    let sets_per_sec = (sets as f64 / seconds).round();
    println!(
        "{{\"bench\":\"minhash\",\"num_perm\":{},\"tokens_per_set\":{},\"sets\":{},\"sets_per_sec\":{}}}",
        config.permutations(),
        TOKENS_PER_SET,
        sets,
        sets_per_sec
    );
    ExitCode::SUCCESS
}
