//! The index alone, without stores: builds a kb of synthetic patterns (`bench predict`'s shape:
//! 3 to 8 events of 1 to 3 Zipf symbols over a vocabulary of 50,000) and times searches for
//! STMs of 2 to 3 events cut from learned patterns, at threshold 0.1 and 100 predictions.
//!
//! `cargo run --release -p kato-index --example search_latency -- [patterns] [queries] [shards]`
//! prints one JSON line.

use std::time::Instant;

use kato_core::matching::MatchConfig;
use kato_core::{Event, Pattern, Symbol};
use kato_index::{KbIndex, Query};

/// xorshift64*: enough randomness for a workload, fixed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.next() % (high - low + 1) as u64) as usize
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number"))
        .collect();
    let patterns = args.first().copied().unwrap_or(100_000);
    let queries = args.get(1).copied().unwrap_or(1_000);
    let shards = args
        .get(2)
        .copied()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let vocabulary = 50_000;
    let mut total = 0.0;
    let cumulative: Vec<f64> = (1..=vocabulary)
        .map(|rank| {
            total += 1.0 / f64::from(rank);
            total
        })
        .collect();
    let mut rng = Rng(0x6b61_746f_0000_0001);
    let zipf = |rng: &mut Rng| {
        let target = rng.unit() * total;
        format!(
            "s{}",
            cumulative
                .partition_point(|&c| c < target)
                .min(vocabulary as usize - 1)
        )
    };
    let mut bodies: Vec<Vec<Vec<String>>> = Vec::with_capacity(patterns);
    let mut index = KbIndex::new(shards);
    let started = Instant::now();
    while bodies.len() < patterns {
        let events: Vec<Vec<String>> = (0..rng.between(3, 8))
            .map(|_| {
                let mut event: Vec<String> =
                    (0..rng.between(1, 3)).map(|_| zipf(&mut rng)).collect();
                event.sort();
                event
            })
            .collect();
        let pattern: Pattern = events
            .iter()
            .map(|event| Event::new(event.iter().map(|s| Symbol::new(s.clone())).collect()))
            .collect();
        if index
            .insert(pattern.name().as_hex(), &events)
            .expect("a valid name")
        {
            bodies.push(events);
        }
    }
    index.shrink_to_fit();
    let build_ms = started.elapsed().as_secs_f64() * 1000.0;
    let matching = MatchConfig {
        recall_threshold: 0.1,
        use_token_matching: true,
        fuzzy_token_threshold: 0.0,
    };
    let mut latencies = Vec::with_capacity(queries);
    let (mut candidates, mut matched) = (0, 0);
    for _ in 0..queries {
        let body = &bodies[rng.between(0, bodies.len() - 1)];
        let size = rng.between(2, 3).min(body.len());
        let start = rng.between(0, body.len() - size);
        let stm = body[start..start + size].to_vec();
        let query = Query {
            stm: &stm,
            matching: &matching,
            max_predictions: 100,
            filters: &[],
        };
        let started = Instant::now();
        let search = index.search(&query);
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        candidates += search.candidates;
        matched += search.matched;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    println!(
        "{{\"example\":\"search_latency\",\"patterns\":{patterns},\"shards\":{shards},\"build_ms\":{build_ms:.0},\"bytes_per_pattern\":{:.0},\"p50_ms\":{:.2},\"p99_ms\":{:.2},\"mean_candidates\":{},\"mean_matched\":{}}}",
        index.bytes() as f64 / patterns as f64,
        at(50),
        at(99),
        candidates / queries,
        matched / queries
    );
}
