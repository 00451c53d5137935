//! Criterion benchmarks of MinHash signatures (10-token sets, 100 permutations) and LSH bands.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kato_core::MinHasher;

fn token_sets(count: usize, tokens_per_set: usize) -> Vec<Vec<String>> {
    (0..count)
        .map(|set| {
            (0..tokens_per_set)
                .map(|token| format!("sym{}", set * 7 + token * 13))
                .collect()
        })
        .collect()
}

fn signatures(c: &mut Criterion) {
    let hasher = MinHasher::shared_default();
    let sets = token_sets(1024, 10);
    let mut group = c.benchmark_group("minhash");
    group.throughput(Throughput::Elements(sets.len() as u64));
    group.bench_function("signature_10_tokens_100_perms", |b| {
        let mut signature = vec![0u32; hasher.config().permutations()];
        b.iter(|| {
            for set in &sets {
                hasher
                    .signature_into(black_box(set), &mut signature)
                    .expect("buffer fits the configuration");
                black_box(&signature);
            }
        });
    });
    let signature = hasher.signature(&sets[0]);
    group.throughput(Throughput::Elements(1));
    group.bench_function("band_hashes_20x5", |b| {
        let mut bands = vec![0u64; hasher.config().bands()];
        b.iter(|| {
            hasher
                .band_hashes_into(black_box(&signature), &mut bands)
                .expect("buffers fit the configuration");
            black_box(&bands);
        });
    });
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
