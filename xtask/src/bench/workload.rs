//! Deterministic synthetic workloads: Zipf-distributed symbols drawn from a seeded generator.

use std::collections::HashSet;

use kato_core::{Event, Pattern, Symbol};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

/// Draws ranks 0..vocabulary with probability proportional to 1/(rank+1) (Zipf, s = 1).
#[derive(Debug)]
pub(crate) struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(vocabulary: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=vocabulary.max(1))
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { cumulative }
    }

    pub(crate) fn sample(&self, rng: &mut Workload) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c < target)
            .min(self.cumulative.len() - 1)
    }
}

/// A seeded random source for workloads.
#[derive(Debug)]
pub(crate) struct Workload {
    rng: Xoshiro256PlusPlus,
}

impl Workload {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `low..=high`.
    pub(crate) fn between(&mut self, low: usize, high: usize) -> usize {
        low + (self.rng.next_u64() % (high - low + 1) as u64) as usize
    }
}

/// `count` distinct patterns, each made of the events `draw` returns (duplicates are drawn
/// again).
pub(crate) fn distinct_patterns(
    count: usize,
    seed: u64,
    mut draw: impl FnMut(&mut Workload) -> Vec<Vec<String>>,
) -> Vec<Pattern> {
    let mut rng = Workload::new(seed);
    let mut seen = HashSet::new();
    let mut patterns = Vec::with_capacity(count);
    while patterns.len() < count {
        let pattern: Pattern = draw(&mut rng)
            .into_iter()
            .map(|event| Event::new(event.into_iter().map(Symbol::new).collect()))
            .collect();
        if seen.insert(pattern.name()) {
            patterns.push(pattern);
        }
    }
    patterns
}

/// A symbol name for a vocabulary rank.
pub(crate) fn symbol(rank: usize) -> String {
    format!("s{rank}")
}

/// A sequence of events holding `total` symbols in events of 1 to 3 symbols each.
pub(crate) fn events_with(total: usize, zipf: &Zipf, rng: &mut Workload) -> Vec<Vec<String>> {
    let mut events = Vec::new();
    let mut left = total;
    while left > 0 {
        let size = rng.between(1, 3).min(left);
        let mut event: Vec<String> = (0..size).map(|_| symbol(zipf.sample(rng))).collect();
        event.sort();
        events.push(event);
        left -= size;
    }
    events
}

/// `count` events of 1 to 3 symbols each, each event sorted (as the STM stores them).
pub(crate) fn events(count: usize, zipf: &Zipf, rng: &mut Workload) -> Vec<Vec<String>> {
    (0..count)
        .map(|_| {
            let size = rng.between(1, 3);
            let mut event: Vec<String> = (0..size).map(|_| symbol(zipf.sample(rng))).collect();
            event.sort();
            event
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_workload() {
        let zipf = Zipf::new(100);
        let draw = |seed| {
            let mut rng = Workload::new(seed);
            (0..50)
                .map(|_| events_with(7, &zipf, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn zipf_favours_low_ranks_and_stays_in_range() {
        let zipf = Zipf::new(1000);
        let mut rng = Workload::new(1);
        let draws: Vec<usize> = (0..20_000).map(|_| zipf.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&r| r < 1000));
        let rank0 = draws.iter().filter(|&&r| r == 0).count();
        let rank99 = draws.iter().filter(|&&r| r == 99).count();
        // P(0) / P(99) = 100 under Zipf(1); allow generous sampling noise.
        assert!(rank0 > 20 * rank99.max(1), "rank0 {rank0} rank99 {rank99}");
    }

    #[test]
    fn events_hold_exactly_the_requested_symbols() {
        let zipf = Zipf::new(50);
        let mut rng = Workload::new(3);
        for total in 1..30 {
            let events = events_with(total, &zipf, &mut rng);
            assert_eq!(events.iter().map(Vec::len).sum::<usize>(), total);
            assert!(events.iter().all(|e| (1..=3).contains(&e.len())));
        }
    }
}
