//! Matching one pattern against the STM: the matching-level values of the golden examples (spec
//! `predictions.md` section 8), the misaligned-events invariants, and the single-symbol path.

use kato_core::matching::{Anomaly, MatchConfig, PatternMatch, match_pattern, match_single_symbol};
use proptest::prelude::*;

use crate::fixed_seed_config;

fn events(list: &[&[&str]]) -> Vec<Vec<String>> {
    list.iter()
        .map(|event| event.iter().map(|symbol| (*symbol).to_owned()).collect())
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|symbol| (*symbol).to_owned()).collect()
}

fn token(recall_threshold: f64) -> MatchConfig {
    MatchConfig {
        recall_threshold,
        use_token_matching: true,
        fuzzy_token_threshold: 0.0,
    }
}

/// Asserts a value the spec rounds to four places.
#[track_caller]
fn close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-4,
        "{actual} is not {expected} to four places"
    );
}

/// The event lists of a match, as the spec writes them.
struct Regions<'a> {
    matches: &'a [&'a str],
    past: &'a [&'a [&'a str]],
    present: &'a [&'a [&'a str]],
    future: &'a [&'a [&'a str]],
    missing: &'a [&'a [&'a str]],
    extras: &'a [&'a [&'a str]],
}

#[track_caller]
fn assert_regions(found: &PatternMatch, expected: &Regions<'_>) {
    assert_eq!(found.matches, strings(expected.matches), "matches");
    assert_eq!(found.past, events(expected.past), "past");
    assert_eq!(found.present, events(expected.present), "present");
    assert_eq!(found.future, events(expected.future), "future");
    assert_eq!(found.missing, events(expected.missing), "missing");
    assert_eq!(found.extras, events(expected.extras), "extras");
}

/// Ex 1: past and present.
#[test]
fn ex1_past_and_present() {
    let pattern = events(&[&["beginning"], &["middle"], &["end"]]);
    let stm = events(&[&["middle"], &["end"]]);
    let found = match_pattern(&pattern, &stm, &token(0.3)).expect("similarity 0.8");
    assert_regions(
        &found,
        &Regions {
            matches: &["middle", "end"],
            past: &[&["beginning"]],
            present: &[&["middle"], &["end"]],
            future: &[],
            missing: &[&[], &[]],
            extras: &[&[], &[]],
        },
    );
    assert_eq!(found.similarity, 0.8);
    close(found.evidence, 0.6667);
    assert_eq!(found.confidence, 1.0);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 0.0);
    assert!(found.anomalies.is_empty());
}

/// Ex 2: event-aligned missing; the similarity shows the percentage round trip of spec 3.1.
#[test]
fn ex2_event_aligned_missing() {
    let pattern = events(&[&["hello", "world"], &["bar", "foo"]]);
    let stm = events(&[&["hello"], &["foo"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 2/3");
    assert_regions(
        &found,
        &Regions {
            matches: &["hello", "foo"],
            past: &[],
            present: &[&["hello", "world"], &["bar", "foo"]],
            future: &[],
            missing: &[&["world"], &["bar"]],
            extras: &[&[], &[]],
        },
    );
    assert_eq!(found.similarity, 0.666_666_666_666_666_5);
    assert_eq!(found.evidence, 0.5);
    assert_eq!(found.confidence, 0.5);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 1.0);
}

/// Ex 3: missing plus extras; snr from the two flat extras.
#[test]
fn ex3_missing_and_extras() {
    let pattern = events(&[&["a", "b"], &["c", "d"]]);
    let stm = events(&[&["a", "x"], &["c", "y"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 0.5");
    assert_regions(
        &found,
        &Regions {
            matches: &["a", "c"],
            past: &[],
            present: &[&["a", "b"], &["c", "d"]],
            future: &[],
            missing: &[&["b"], &["d"]],
            extras: &[&["x"], &["y"]],
        },
    );
    assert_eq!(found.similarity, 0.5);
    assert_eq!(found.evidence, 0.5);
    assert_eq!(found.confidence, 0.5);
    close(found.snr, 0.3333);
    assert_eq!(found.fragmentation, 1.0);
}

/// Ex 4: a future, and a partially matched multi-symbol event.
#[test]
fn ex4_future_and_partial_event() {
    let pattern = events(&[&["a", "b"], &["c", "d"], &["e", "f"]]);
    let stm = events(&[&["a"], &["c"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 0.5");
    assert_regions(
        &found,
        &Regions {
            matches: &["a", "c"],
            past: &[],
            present: &[&["a", "b"], &["c", "d"]],
            future: &[&["e", "f"]],
            missing: &[&["b"], &["d"]],
            extras: &[&[], &[]],
        },
    );
    assert_eq!(found.similarity, 0.5);
    close(found.evidence, 0.3333);
    assert_eq!(found.confidence, 0.5);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 1.0);
}

/// Ex 6: a misaligned STM and a negative snr.
#[test]
fn ex6_misaligned_stm_negative_snr() {
    let pattern = events(&[
        &["p1"],
        &["p2"],
        &["p3"],
        &["shared_symbol"],
        &["p5"],
        &["p6"],
    ]);
    let stm = events(&[&["s1"], &["s2"], &["shared_symbol"], &["s4"], &["s5"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 2/11");
    assert_regions(
        &found,
        &Regions {
            matches: &["shared_symbol"],
            past: &[&["p1"], &["p2"], &["p3"]],
            present: &[&["shared_symbol"]],
            future: &[&["p5"], &["p6"]],
            missing: &[&[]],
            extras: &[&["s1"], &["s2"], &[], &["s4"], &["s5"]],
        },
    );
    close(found.similarity, 0.1818);
    close(found.evidence, 0.1667);
    assert_eq!(found.confidence, 1.0);
    close(found.snr, -0.3333);
    assert_eq!(found.fragmentation, 0.0);
}

/// Ex 7: threshold 0 keeps an unrelated pattern; 0.1 drops it.
#[test]
fn ex7_threshold_zero_unrelated() {
    let pattern = events(&[&["known"], &["pattern"], &["here"]]);
    let stm = events(&[&["unknown1"], &["unknown2"]]);
    let found = match_pattern(&pattern, &stm, &token(0.0)).expect("threshold 0 keeps it");
    assert_regions(
        &found,
        &Regions {
            matches: &[],
            past: &[],
            present: &[&["known"], &["pattern"], &["here"]],
            future: &[],
            missing: &[&["known"], &["pattern"], &["here"]],
            extras: &[&["unknown1"], &["unknown2"]],
        },
    );
    assert_eq!(found.similarity, 0.0);
    assert_eq!(found.evidence, 0.0);
    assert_eq!(found.confidence, 0.0);
    assert_eq!(found.snr, -1.0);
    assert_eq!(found.fragmentation, -1.0);
    assert_eq!(match_pattern(&pattern, &stm, &token(0.1)), None);
}

/// Ex 8: the STM equals the pattern.
#[test]
fn ex8_identical() {
    let pattern = events(&[&["identical"], &["pattern"]]);
    let found = match_pattern(&pattern, &pattern, &token(0.1)).expect("similarity 1");
    assert_regions(
        &found,
        &Regions {
            matches: &["identical", "pattern"],
            past: &[],
            present: &[&["identical"], &["pattern"]],
            future: &[],
            missing: &[&[], &[]],
            extras: &[&[], &[]],
        },
    );
    assert_eq!(found.similarity, 1.0);
    assert_eq!(found.evidence, 1.0);
    assert_eq!(found.confidence, 1.0);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 0.0);
}

/// Ex 9: the single-symbol path, with flat lists.
#[test]
fn ex9_single_symbol() {
    let pattern = events(&[&["a"], &["b"], &["c"], &["d"]]);
    let found = match_single_symbol(&pattern, "a").expect("first symbol");
    assert_eq!(found.matches, strings(&["a"]));
    assert_eq!(found.past, strings(&[]));
    assert_eq!(found.present, strings(&["a"]));
    assert_eq!(found.future, strings(&["b", "c", "d"]));
    assert_eq!(found.missing, strings(&[]));
    assert_eq!(found.extras, strings(&[]));
    assert_eq!(found.similarity, 0.4);
    assert_eq!(found.evidence, 0.25);
    assert_eq!(found.confidence, 1.0);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 0);
    assert_eq!(found.potential, 2.25);

    let shorter = events(&[&["a"], &["b"], &["c"]]);
    let found = match_single_symbol(&shorter, "a").expect("first symbol");
    assert_eq!(found.similarity, 0.5);
    close(found.evidence, 0.3333);
    close(found.potential, 2.3333);

    assert_eq!(match_single_symbol(&pattern, "b"), None);
}

/// The single-symbol path looks at the first symbol of the first event only, and takes the
/// earliest copy of the symbol as the block.
#[test]
fn single_symbol_first_symbol_only() {
    let pattern = events(&[&["a", "b"], &["a"]]);
    let found = match_single_symbol(&pattern, "a").expect("first symbol");
    assert_eq!(found.present, strings(&["a"]));
    assert_eq!(found.future, strings(&["b", "a"]));
    assert_eq!(found.similarity, 2.0 / 4.0);
    assert_eq!(match_single_symbol(&pattern, "b"), None);
    assert_eq!(match_single_symbol(&[], "a"), None);
    assert_eq!(match_single_symbol(&[vec![]], "a"), None);
}

/// Ex 10: the LCS similarity and the difflib blocks disagree.
#[test]
fn ex10_lcs_versus_blocks() {
    let pattern = events(&[&["a"], &["c"], &["a"]]);
    let stm = events(&[&["c"], &["d"], &["a"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 2/3");
    assert_regions(
        &found,
        &Regions {
            matches: &["a"],
            past: &[],
            present: &[&["a"]],
            future: &[&["c"], &["a"]],
            missing: &[&[]],
            extras: &[&["c"], &["d"], &[]],
        },
    );
    close(found.similarity, 0.6667);
    close(found.evidence, 0.3333);
    assert_eq!(found.confidence, 1.0);
    assert_eq!(found.snr, 0.0);
    assert_eq!(found.fragmentation, 0.0);
}

/// Ex 11: a duplicate STM symbol; the event-aligned extras are empty but the snr counts the flat
/// extra.
#[test]
fn ex11_duplicate_stm_symbol() {
    let pattern = events(&[&["a"], &["b"], &["c"]]);
    let stm = events(&[&["a"], &["a"], &["b"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 2/3");
    assert_regions(
        &found,
        &Regions {
            matches: &["a", "b"],
            past: &[],
            present: &[&["a"], &["b"]],
            future: &[&["c"]],
            missing: &[&[], &[]],
            extras: &[&[], &[], &[]],
        },
    );
    assert_eq!(found.snr, 0.6);
    close(found.evidence, 0.6667);
    assert_eq!(found.confidence, 1.0);
    assert_eq!(found.fragmentation, 0.0);
}

/// Ex 12: fuzzy tokens at 0.85; fuzzily matched symbols show in missing and extras too.
#[test]
fn ex12_fuzzy_tokens() {
    let pattern = events(&[&["apple", "banana", "cherry", "date", "elderberry"]]);
    let stm = events(&[&["apple", "bannana", "chery"]]);
    let config = MatchConfig {
        fuzzy_token_threshold: 0.85,
        ..token(0.1)
    };
    let found = match_pattern(&pattern, &stm, &config).expect("similarity 0.25");
    assert_regions(
        &found,
        &Regions {
            matches: &["apple", "bannana", "chery"],
            past: &[],
            present: &[&["apple", "banana", "cherry", "date", "elderberry"]],
            future: &[],
            missing: &[&["banana", "cherry", "date", "elderberry"]],
            extras: &[&["bannana", "chery"]],
        },
    );
    assert_eq!(found.similarity, 0.25);
    assert_eq!(found.anomalies.len(), 2);
    let expected = [("bannana", "banana", 0.9231), ("chery", "cherry", 0.9091)];
    for (anomaly, (observed, expected, similarity)) in found.anomalies.iter().zip(expected) {
        assert_eq!(anomaly.observed, observed);
        assert_eq!(anomaly.expected, expected);
        close(anomaly.similarity, similarity);
    }
    assert_eq!(found.evidence, 0.6);
    assert_eq!(found.confidence, 0.6);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 0.0);
}

/// Fuzzy mode still needs an exact block when the threshold is above 0.
#[test]
fn fuzzy_without_exact_block_is_dropped() {
    let pattern = events(&[&["banana", "cherry"]]);
    let stm = events(&[&["bannana", "chery"]]);
    let config = MatchConfig {
        fuzzy_token_threshold: 0.85,
        ..token(0.0)
    };
    let found = match_pattern(&pattern, &stm, &config).expect("threshold 0 keeps it");
    assert_eq!(found.matches, strings(&["bannana", "chery"]));
    assert_eq!(found.fragmentation, -1.0);
    assert_eq!(found.snr, 1.0);
    let anomaly = Anomaly {
        observed: "bannana".into(),
        expected: "banana".into(),
        similarity: 0.923_076_923_076_923,
    };
    assert_eq!(found.anomalies[0], anomaly);
    let config = MatchConfig {
        recall_threshold: 0.1,
        ..config
    };
    assert_eq!(match_pattern(&pattern, &stm, &config), None);
}

/// Ex 13: character mode.
#[test]
fn ex13_character_mode() {
    let pattern = events(&[&["apple", "banana", "cherry"]]);
    let stm = events(&[&["apple", "banana"]]);
    let config = MatchConfig {
        use_token_matching: false,
        ..token(0.1)
    };
    let found = match_pattern(&pattern, &stm, &config).expect("similarity 24/31");
    assert_regions(
        &found,
        &Regions {
            matches: &["apple", "banana"],
            past: &[],
            present: &[&["apple", "banana", "cherry"]],
            future: &[],
            missing: &[&["cherry"]],
            extras: &[&[]],
        },
    );
    close(found.similarity, 0.7742);
    // RapidFuzz's `fuzz.ratio(...) / 100`, to the last bit.
    assert_eq!(found.similarity, 0.774_193_548_387_096_8);
    close(found.evidence, 0.6667);
    close(found.confidence, 0.6667);
    assert_eq!(found.snr, 1.0);
    assert_eq!(found.fragmentation, 0.0);
}

/// Deliberate difference (DESIGN.md section 8): character mode with threshold 0 keeps every
/// pattern, where the reference's RapidFuzz rejected the negative cutoff and returned nothing.
#[test]
fn character_mode_threshold_zero_keeps_every_pattern() {
    let pattern = events(&[&["known"], &["pattern"], &["here"]]);
    let stm = events(&[&["zzz"], &["qqq"]]);
    let config = MatchConfig {
        use_token_matching: false,
        ..token(0.0)
    };
    let found = match_pattern(&pattern, &stm, &config).expect("threshold 0 keeps it");
    // Only a space of the joined strings is shared: RapidFuzz computes `1 - 23/25`.
    assert_eq!(found.similarity, 0.079_999_999_999_999_96);
    assert_eq!(found.fragmentation, -1.0);
    assert_eq!(found.present, pattern);
}

/// On the cutoff, character mode decides as the reference's RapidFuzz does: the score 68.0 is
/// `1 - 16/50 = 0.6799999999999999` inside RapidFuzz, so a threshold of 0.68 drops it.
#[test]
fn character_mode_cutoff_as_rapidfuzz() {
    let pattern = events(&[&["xxxxxxxxxxxxxxxaaaaaaaa"], &["k"]]);
    let stm = events(&[&["xxxxxxxxxxxxxxxbbbbbbbb"], &["k"]]);
    let config = |recall_threshold| MatchConfig {
        recall_threshold,
        use_token_matching: false,
        fuzzy_token_threshold: 0.0,
    };
    assert_eq!(match_pattern(&pattern, &stm, &config(0.68)), None);
    let found = match_pattern(&pattern, &stm, &config(0.67)).expect("0.68 passes 0.67");
    assert_eq!(found.similarity, 0.68);
    assert_eq!(found.matches, strings(&["k"]));
}

/// Spec 3.5 step 6: the tail fix is a plain membership test.
#[test]
fn tail_fix_moves_the_last_past_event() {
    let pattern = events(&[&["x"], &["x"], &["y"]]);
    let stm = events(&[&["x"], &["y"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 0.8");
    assert_eq!(found.past, events(&[]));
    assert_eq!(found.present, pattern);
    assert_eq!(found.missing, events(&[&[], &[], &[]]));
    assert_eq!(found.confidence, 2.0 / 3.0);
}

/// An event holding past and present symbols moves to the present when it holds the first match.
#[test]
fn straddling_event_joins_the_present() {
    let pattern = events(&[&["a", "b"], &["c"], &["d"]]);
    let stm = events(&[&["b"], &["c"]]);
    let found = match_pattern(&pattern, &stm, &token(0.1)).expect("similarity 4/7");
    assert_eq!(found.past, events(&[]));
    assert_eq!(found.present, events(&[&["a", "b"], &["c"]]));
    assert_eq!(found.future, events(&[&["d"]]));
    assert_eq!(found.missing, events(&[&["a"], &[]]));
}

/// Sorted events of one or two symbols from a small alphabet, as `sort_symbols` stores them.
fn sorted_events(max_events: usize) -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(
        prop::collection::vec("[a-f]", 1..3).prop_map(|mut event| {
            event.sort();
            event
        }),
        1..max_events,
    )
}

/// The longest common subsequence by the textbook table.
fn naive_lcs(x: &[&String], y: &[&String]) -> usize {
    let mut table = vec![vec![0; y.len() + 1]; x.len() + 1];
    for i in 0..x.len() {
        for j in 0..y.len() {
            table[i + 1][j + 1] = if x[i] == y[j] {
                table[i][j] + 1
            } else {
                table[i][j + 1].max(table[i + 1][j])
            };
        }
    }
    table[x.len()][y.len()]
}

/// The misaligned-events invariants of spec 3.5 and the shape of every match.
fn check_invariants(
    pattern: &[Vec<String>],
    stm: &[Vec<String>],
    found: &PatternMatch,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(found.missing.len(), found.present.len());
    prop_assert_eq!(found.extras.len(), stm.len());
    let present: Vec<&String> = found.present.iter().flatten().collect();
    for symbol in found.missing.iter().flatten() {
        prop_assert!(
            !found.matches.contains(symbol),
            "{} is matched and missing",
            symbol
        );
        prop_assert!(
            present.contains(&symbol),
            "{} is missing but not present",
            symbol
        );
    }
    for (extras, event) in found.extras.iter().zip(stm) {
        for symbol in extras {
            prop_assert!(event.contains(symbol) && !present.contains(&symbol));
        }
    }
    let regions: Vec<Vec<String>> = [&found.past, &found.present, &found.future]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    prop_assert_eq!(regions.as_slice(), pattern);
    prop_assert!((-1.0..=1.0).contains(&found.snr));
    prop_assert!((0.0..=1.0).contains(&found.similarity));
    Ok(())
}

proptest! {
    #![proptest_config(fixed_seed_config(500))]

    /// Exact token mode with threshold 0: every pattern is kept, the invariants hold, and the
    /// similarity is the LCS ratio with the percentage round trip.
    #[test]
    fn exact_mode_invariants(pattern in sorted_events(6), stm in sorted_events(5)) {
        let found = match_pattern(&pattern, &stm, &token(0.0)).expect("threshold 0 keeps all");
        check_invariants(&pattern, &stm, &found)?;
        let p: Vec<&String> = pattern.iter().flatten().collect();
        let s: Vec<&String> = stm.iter().flatten().collect();
        let expected = (2.0 * naive_lcs(&p, &s) as f64 / (p.len() + s.len()) as f64) * 100.0 / 100.0;
        prop_assert_eq!(found.similarity, expected);
        prop_assert_eq!(found.evidence, found.matches.len() as f64 / p.len() as f64);
        // Exact matches are state symbols; no block means no match.
        prop_assert!(found.matches.iter().all(|symbol| s.contains(&symbol)));
        prop_assert_eq!(found.matches.is_empty(), found.fragmentation == -1.0);
        prop_assert!(found.anomalies.is_empty());
    }

    /// Fuzzy mode keeps the same invariants; above 0 the threshold holds.
    #[test]
    fn fuzzy_mode_invariants(pattern in sorted_events(6), stm in sorted_events(5)) {
        let config = MatchConfig { fuzzy_token_threshold: 0.5, ..token(0.2) };
        if let Some(found) = match_pattern(&pattern, &stm, &config) {
            check_invariants(&pattern, &stm, &found)?;
            prop_assert!(found.similarity >= 0.2);
            prop_assert!(found.fragmentation >= 0.0);
            for anomaly in &found.anomalies {
                prop_assert!(anomaly.observed != anomaly.expected);
                prop_assert!(anomaly.similarity >= 0.5);
            }
        }
    }

    /// Character mode keeps the same invariants.
    #[test]
    fn character_mode_invariants(pattern in sorted_events(6), stm in sorted_events(5)) {
        let config = MatchConfig { use_token_matching: false, ..token(0.0) };
        let found = match_pattern(&pattern, &stm, &config).expect("threshold 0 keeps all");
        check_invariants(&pattern, &stm, &found)?;
    }
}
