//! Properties of observation processing and pattern names.

use std::collections::BTreeMap;

use kato_core::{
    Event, Observation, ObserveSettings, Pattern, PatternName, Stm, SymbolOrder, observe,
};
use proptest::prelude::*;

use crate::fixed_seed_config;

/// Symbols mixing ASCII, quotes, backslashes, control and non-ASCII characters.
fn symbol() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,3}",
        "[ -~]{0,8}",
        "[a'\"\\\\\t\n\u{0}\u{7f}\u{85}é日😀\u{200b}]{0,6}",
    ]
}

fn events() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec(symbol(), 0..5), 0..6)
}

fn pattern_of(events: &[Vec<String>]) -> Pattern {
    events
        .iter()
        .map(|symbols| symbols.iter().map(String::as_str).collect::<Event>())
        .collect()
}

fn emotives() -> impl Strategy<Value = BTreeMap<String, f64>> {
    prop::collection::btree_map("[a-z]{1,4}", -1.0..1.0f64, 0..3)
}

proptest! {
    #![proptest_config(fixed_seed_config(256))]

    /// Learning the same events gives the same name whatever emotives and metadata came along,
    /// and the name of the learned pattern is the name of its events.
    #[test]
    fn name_depends_only_on_the_events(
        strings in prop::collection::vec(prop::collection::vec(symbol(), 1..4), 2..5),
        first_emotives in prop::collection::vec(emotives(), 4),
        second_emotives in prop::collection::vec(emotives(), 4),
    ) {
        let learn = |all_emotives: &[BTreeMap<String, f64>]| {
            let mut stm = Stm::new();
            for (strings, emotives) in strings.iter().zip(all_emotives.iter().cycle()) {
                let observation = Observation {
                    strings: strings.clone(),
                    emotives: emotives.clone(),
                    metadata: emotives
                        .keys()
                        .map(|key| (key.clone(), serde_json::json!(key)))
                        .collect(),
                    ..Observation::default()
                };
                stm = observe(stm, &observation, ObserveSettings::default()).unwrap().stm;
            }
            stm.learn().pattern_to_learn.expect("at least two symbols")
        };
        let first = learn(&first_emotives);
        let second = learn(&second_emotives);
        prop_assert_eq!(first.name(), second.name());
        prop_assert_eq!(first.name(), PatternName::of_events(first.events()));
    }

    /// Different events give different names, and a name survives printing and parsing.
    #[test]
    fn different_events_give_different_names(left in events(), right in events()) {
        let (left, right) = (pattern_of(&left), pattern_of(&right));
        prop_assert_eq!(left == right, left.name() == right.name());
        let name = left.name();
        prop_assert_eq!(name.to_string().parse::<PatternName>().unwrap(), name);
        prop_assert_eq!(name.as_hex().parse::<PatternName>().unwrap(), name);
    }

    /// Sorting keeps every symbol (duplicates included), orders by code point, and sorting an
    /// already sorted event changes nothing.
    #[test]
    fn sorting_is_idempotent(strings in prop::collection::vec(symbol(), 1..12)) {
        let observe_strings = |strings: Vec<String>| {
            Observation { strings, ..Observation::default() }
                .to_event(SymbolOrder::Sorted)
                .unwrap()
                .expect("strings make an event")
        };
        let once = observe_strings(strings.clone());
        let texts: Vec<String> = once.iter().map(|s| s.as_str().to_owned()).collect();
        let twice = observe_strings(texts.clone());
        prop_assert_eq!(&once, &twice);

        let mut expected = strings;
        expected.sort_by(|a, b| a.chars().cmp(b.chars()));
        prop_assert_eq!(texts, expected);
    }

    /// Without sorting the event is the strings as observed.
    #[test]
    fn unsorted_events_keep_observed_order(strings in prop::collection::vec(symbol(), 1..12)) {
        let event = Observation { strings: strings.clone(), ..Observation::default() }
            .to_event(SymbolOrder::AsObserved)
            .unwrap()
            .expect("strings make an event");
        let texts: Vec<&str> = event.iter().map(|s| s.as_str()).collect();
        prop_assert_eq!(texts, strings.iter().map(String::as_str).collect::<Vec<_>>());
    }
}
