//! Properties of the auto-learn rules.

use kato_core::{
    AutoLearn, Event, Observation, ObserveSettings, Pattern, Stm, StmMode, SymbolOrder, observe,
};
use proptest::prelude::*;

use crate::fixed_seed_config;

/// Feeds observations of one or more symbols through `observe`; returns the learned patterns and
/// the final STM, with the events that were appended.
fn run(
    observations: &[Vec<String>],
    max_pattern_length: usize,
    mode: StmMode,
) -> (Vec<Event>, Vec<Pattern>, Stm) {
    let settings = ObserveSettings {
        symbol_order: SymbolOrder::Sorted,
        auto_learn: AutoLearn {
            max_pattern_length,
            mode,
        },
    };
    let mut stm = Stm::new();
    let mut appended = Vec::new();
    let mut learned = Vec::new();
    for strings in observations {
        let observation = Observation {
            strings: strings.clone(),
            ..Observation::default()
        };
        appended.push(observation.to_event(SymbolOrder::Sorted).unwrap().unwrap());
        let step = observe(stm, &observation, settings).unwrap();
        learned.extend(step.pattern_to_learn);
        stm = step.stm;
    }
    (appended, learned, stm)
}

fn observations() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec("[a-e]{1,2}", 1..3), 0..25)
}

proptest! {
    #![proptest_config(fixed_seed_config(256))]

    /// ROLLING never loses an event: the learned patterns are exactly the consecutive windows of
    /// `max_pattern_length` events, and the STM keeps what is not yet learned or still overlaps.
    #[test]
    fn rolling_never_loses_an_event(observations in observations(), max_pattern_length in 2usize..7) {
        let (appended, learned, stm) = run(&observations, max_pattern_length, StmMode::Rolling);
        let windows: Vec<Pattern> = appended
            .windows(max_pattern_length)
            .map(|window| Pattern::new(window.to_vec()))
            .collect();
        prop_assert_eq!(&learned, &windows);
        let kept = if appended.len() >= max_pattern_length { max_pattern_length - 1 } else { appended.len() };
        prop_assert_eq!(stm.events(), &appended[appended.len() - kept..]);
        // Hence every appended event is in a learned pattern (pattern `s` holds events `s..s+N`)
        // or still in the STM.
        for index in 0..appended.len() {
            let in_pattern = (0..learned.len()).any(|start| (start..start + max_pattern_length).contains(&index));
            let in_stm = index >= appended.len() - kept;
            prop_assert!(in_pattern || in_stm, "event {} lost", index);
        }
    }

    /// CLEAR cuts the observed events into consecutive, non-overlapping patterns of
    /// `max_pattern_length` events; the rest stays in the STM.
    #[test]
    fn clear_partitions_the_events(observations in observations(), max_pattern_length in 2usize..7) {
        let (appended, learned, stm) = run(&observations, max_pattern_length, StmMode::Clear);
        let chunks: Vec<Pattern> = appended
            .chunks_exact(max_pattern_length)
            .map(|chunk| Pattern::new(chunk.to_vec()))
            .collect();
        prop_assert_eq!(&learned, &chunks);
        prop_assert_eq!(stm.events(), appended.chunks_exact(max_pattern_length).remainder());
    }

    /// With auto-learn off the STM is every appended event and nothing is learned.
    #[test]
    fn auto_learn_off_keeps_everything(observations in observations()) {
        let (appended, learned, stm) = run(&observations, 0, StmMode::Rolling);
        prop_assert!(learned.is_empty());
        prop_assert_eq!(stm.events(), &appended[..]);
    }
}
