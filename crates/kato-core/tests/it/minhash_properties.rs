//! Properties of MinHash signatures, LSH band hashes and the Jaccard estimate.

use kato_core::{MinHashConfig, MinHasher, estimated_jaccard};
use proptest::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use crate::fixed_seed_config;

fn tokens() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z0-9|é]{0,8}", 0..40)
}

/// Two token sets with exactly `shared` common tokens and `only_left` / `only_right` tokens of
/// their own, so their Jaccard similarity is `shared / (shared + only_left + only_right)`.
fn sets_with_known_jaccard(
    shared: usize,
    only_left: usize,
    only_right: usize,
    salt: u64,
) -> (Vec<String>, Vec<String>, f64) {
    let token = |kind: &str, index: usize| format!("{kind}-{salt}-{index}");
    let common = (0..shared).map(|i| token("shared", i));
    let left: Vec<String> = common
        .clone()
        .chain((0..only_left).map(|i| token("left", i)))
        .collect();
    let right: Vec<String> = common
        .chain((0..only_right).map(|i| token("right", i)))
        .collect();
    let jaccard = shared as f64 / (shared + only_left + only_right) as f64;
    (left, right, jaccard)
}

/// Each signature position of two sets holds equal values with probability `J` (the minimum over
/// the union falls in the intersection), so with `k` positions the estimate is a binomial
/// proportion with standard deviation `sqrt(J (1 - J) / k)`. The permutations come from a
/// strongly universal family rather than truly min-wise independent permutations, which can bias
/// that probability slightly; 0.02 covers it. 4.5 standard deviations puts a failure of an
/// unbiased estimator below 1e-5 per case (binomial tails are thinner still for mid-range J).
fn jaccard_tolerance(jaccard: f64, permutations: usize) -> f64 {
    4.5 * (jaccard * (1.0 - jaccard) / permutations as f64).sqrt() + 0.02
}

proptest! {
    #![proptest_config(fixed_seed_config(256))]

    /// Order and duplicates of the tokens do not change the signature.
    #[test]
    fn signature_ignores_order_and_duplicates(tokens in tokens(), seed in any::<u64>()) {
        let hasher = MinHasher::shared_default();
        let mut shuffled: Vec<&String> = tokens.iter().chain(tokens.iter().step_by(2)).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for i in (1..shuffled.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(hasher.signature(&tokens), hasher.signature(shuffled));
    }

    /// Identical sets give identical signatures and band hashes, for any configuration and
    /// through either entry point.
    #[test]
    fn identical_sets_give_identical_signatures_and_bands(
        tokens in tokens(),
        permutations in 10usize..=256,
        rows in 1usize..=10,
    ) {
        let bands = (permutations / rows).max(1);
        let rows = rows.min(permutations);
        let hasher = MinHasher::new(MinHashConfig::new(permutations, bands, rows).unwrap());
        let first = hasher.signature(&tokens);
        let mut second = vec![0; permutations];
        hasher.signature_into(tokens.clone(), &mut second).unwrap();
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(hasher.band_hashes(&first).unwrap(), hasher.band_hashes(&second).unwrap());
        prop_assert_eq!(estimated_jaccard(&first, &second).unwrap(), 1.0);
    }

    /// A band hash depends on its index: the same values give the same hash at the same index
    /// and a different hash at any other index.
    #[test]
    fn band_hashes_match_only_at_the_same_index(
        left in prop::collection::vec(any::<u32>(), 100),
        right in prop::collection::vec(any::<u32>(), 100),
        from in 0usize..20,
        to in 0usize..20,
    ) {
        let hasher = MinHasher::shared_default();
        let rows = hasher.config().rows();
        let mut right = right;
        right[to * rows..(to + 1) * rows].copy_from_slice(&left[from * rows..(from + 1) * rows]);
        let left_bands = hasher.band_hashes(&left).unwrap();
        let right_bands = hasher.band_hashes(&right).unwrap();
        prop_assert_eq!(left_bands[from] == right_bands[to], from == to);
    }

    /// The estimate of a known Jaccard similarity stays within the binomial tolerance.
    #[test]
    fn estimate_tracks_known_jaccard(
        shared in 0usize..40,
        only_left in 0usize..40,
        only_right in 0usize..40,
        salt in any::<u64>(),
        wide in any::<bool>(),
    ) {
        prop_assume!(shared + only_left + only_right > 0);
        let permutations = if wide { 256 } else { 100 };
        let hasher = MinHasher::new(MinHashConfig::new(permutations, 1, 1).unwrap());
        let (left, right, jaccard) = sets_with_known_jaccard(shared, only_left, only_right, salt);
        let estimate = estimated_jaccard(&hasher.signature(&left), &hasher.signature(&right)).unwrap();
        prop_assert!(
            (estimate - jaccard).abs() <= jaccard_tolerance(jaccard, permutations),
            "J = {}, estimate = {}", jaccard, estimate
        );
    }
}

/// Over many pairs the standardized errors `z = (estimate - J) / sigma` of an unbiased estimator
/// with independent positions have mean 0 and mean square 1. With n = 400 pairs the mean of z has
/// standard deviation 1/sqrt(n) = 0.05, and the mean of z^2 about sqrt(2/n) = 0.07; the bounds
/// below allow about five of those plus the small bias allowed per case above. A family whose
/// permutations were correlated would inflate the mean square far beyond them.
#[test]
fn estimate_errors_are_centered_with_binomial_spread() {
    let hasher = MinHasher::shared_default();
    let permutations = hasher.config().permutations() as f64;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x4a61_6363_6172_6421);
    let mut pick = |below: u64| (rng.next_u64() % below) as usize;
    let (mut sum, mut sum_of_squares, mut count) = (0.0, 0.0, 0.0);
    while count < 400.0 {
        let (shared, only_left, only_right) = (pick(30) + 1, pick(30), pick(30));
        if only_left + only_right == 0 {
            continue;
        }
        let (left, right, jaccard) =
            sets_with_known_jaccard(shared, only_left, only_right, count as u64);
        let estimate =
            estimated_jaccard(&hasher.signature(&left), &hasher.signature(&right)).unwrap();
        let z = (estimate - jaccard) / (jaccard * (1.0 - jaccard) / permutations).sqrt();
        sum += z;
        sum_of_squares += z * z;
        count += 1.0;
    }
    let (mean, mean_square) = (sum / count, sum_of_squares / count);
    assert!(mean.abs() < 0.3, "mean standardized error {mean}");
    assert!(
        (0.6..1.4).contains(&mean_square),
        "mean squared standardized error {mean_square}"
    );
}
