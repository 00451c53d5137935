//! Short-term memory and the rules that turn it into patterns (reference spec sections 2.2 and
//! 3.2 to 3.4), as pure functions: each takes the STM by value and returns what to learn together
//! with the STM that follows.

use serde::{Deserialize, Serialize};

use crate::error::CoreError;
use crate::event::Event;
use crate::observation::{Observation, SymbolOrder};
use crate::pattern::Pattern;

/// Short-term memory: the events observed since the STM was last learned or cleared, oldest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stm(Vec<Event>);

impl Stm {
    /// An empty STM.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.0
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the STM holds no event.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total number of symbols over all events, duplicates included.
    pub fn symbol_count(&self) -> usize {
        self.0.iter().map(Event::len).sum()
    }

    /// Appends an event.
    pub fn push(&mut self, event: Event) {
        self.0.push(event);
    }

    /// Unwraps the events.
    pub fn into_events(self) -> Vec<Event> {
        self.0
    }

    /// A manual learn: the whole STM becomes the pattern to store, if it holds at least
    /// [`crate::MIN_PATTERN_LENGTH`] symbols, and the STM is cleared either way.
    pub fn learn(self) -> LearnStep {
        LearnStep {
            pattern_to_learn: storable(Pattern::new(self.0)),
            stm: Self::new(),
        }
    }
}

impl From<Vec<Event>> for Stm {
    fn from(events: Vec<Event>) -> Self {
        Self(events)
    }
}

fn storable(pattern: Pattern) -> Option<Pattern> {
    pattern.is_storable().then_some(pattern)
}

/// What a learn step decided: the pattern to store, if any, and the STM that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnStep {
    /// The pattern to store, or `None` when nothing is stored (not due, or fewer than
    /// [`crate::MIN_PATTERN_LENGTH`] symbols).
    pub pattern_to_learn: Option<Pattern>,
    /// The STM after the step.
    pub stm: Stm,
}

/// What happens to the STM when it is auto-learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StmMode {
    /// The STM is emptied (the reference default).
    #[default]
    Clear,
    /// The newest `max_pattern_length - 1` events stay, so consecutive patterns overlap.
    Rolling,
}

impl StmMode {
    /// The mode the reference selects for a configured name: exactly `"ROLLING"` is
    /// [`StmMode::Rolling`]; anything else, unknown names included, is [`StmMode::Clear`].
    pub fn from_reference_name(name: &str) -> Self {
        if name == "ROLLING" {
            Self::Rolling
        } else {
            Self::Clear
        }
    }

    /// The reference's name for the mode (`"CLEAR"` or `"ROLLING"`).
    pub fn reference_name(self) -> &'static str {
        match self {
            Self::Clear => "CLEAR",
            Self::Rolling => "ROLLING",
        }
    }
}

/// The auto-learn rule of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AutoLearn {
    /// Learn once the STM holds this many events; 0 turns auto-learn off (the default).
    pub max_pattern_length: usize,
    /// What remains of the STM after an auto-learn.
    pub mode: StmMode,
}

impl AutoLearn {
    /// Whether the rule ever fires.
    pub fn is_enabled(&self) -> bool {
        self.max_pattern_length > 0
    }

    /// Whether `stm` is due to be learned: auto-learn is on and the STM holds at least
    /// `max_pattern_length` events.
    pub fn is_due(&self, stm: &Stm) -> bool {
        self.is_enabled() && stm.len() >= self.max_pattern_length
    }

    /// Applies the rule after an event was appended. When due, the whole STM is the pattern to
    /// store (if big enough) and the STM becomes empty ([`StmMode::Clear`]) or its newest
    /// `max_pattern_length - 1` events ([`StmMode::Rolling`]). When not due, nothing is learned
    /// and the STM is returned unchanged.
    pub fn apply(&self, stm: Stm) -> LearnStep {
        if !self.is_due(&stm) {
            return LearnStep {
                pattern_to_learn: None,
                stm,
            };
        }
        let kept = match self.mode {
            StmMode::Clear => Vec::new(),
            StmMode::Rolling => {
                let keep = self.max_pattern_length - 1;
                stm.0[stm.len() - keep..].to_vec()
            }
        };
        LearnStep {
            pattern_to_learn: storable(Pattern::new(stm.0)),
            stm: Stm(kept),
        }
    }
}

/// The session settings one observe step needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ObserveSettings {
    /// How the symbols of the new event are ordered.
    pub symbol_order: SymbolOrder,
    /// The auto-learn rule.
    pub auto_learn: AutoLearn,
}

/// The result of one observe step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserveStep {
    /// Whether the observation appended an event (it carried strings or vectors). When it did
    /// not, the reference computes no predictions and checks no auto-learn.
    pub appended_event: bool,
    /// The pattern auto-learn decided to store, if any.
    pub pattern_to_learn: Option<Pattern>,
    /// The STM after the step.
    pub stm: Stm,
}

/// One observe step (reference spec section 2.2, steps 3 to 5 and 7): the observation's event,
/// if any, is appended to `stm`, then the auto-learn rule is applied.
pub fn observe(
    mut stm: Stm,
    observation: &Observation,
    settings: ObserveSettings,
) -> Result<ObserveStep, CoreError> {
    let Some(event) = observation.to_event(settings.symbol_order)? else {
        return Ok(ObserveStep {
            appended_event: false,
            pattern_to_learn: None,
            stm,
        });
    };
    stm.push(event);
    let LearnStep {
        pattern_to_learn,
        stm,
    } = settings.auto_learn.apply(stm);
    Ok(ObserveStep {
        appended_event: true,
        pattern_to_learn,
        stm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(symbols: &[&str]) -> Event {
        symbols.iter().copied().collect()
    }

    fn stm(events: &[&[&str]]) -> Stm {
        Stm::from(
            events
                .iter()
                .map(|symbols| event(symbols))
                .collect::<Vec<_>>(),
        )
    }

    fn strings(strings: &[&str]) -> Observation {
        Observation {
            strings: strings.iter().map(|s| (*s).to_owned()).collect(),
            ..Observation::default()
        }
    }

    fn rule(max_pattern_length: usize, mode: StmMode) -> ObserveSettings {
        ObserveSettings {
            symbol_order: SymbolOrder::Sorted,
            auto_learn: AutoLearn {
                max_pattern_length,
                mode,
            },
        }
    }

    #[test]
    fn manual_learn_stores_two_or_more_symbols_and_always_clears() {
        let step = stm(&[&["a"], &["b"]]).learn();
        assert_eq!(
            step.pattern_to_learn,
            Some(Pattern::new(stm(&[&["a"], &["b"]]).into_events()))
        );
        assert!(step.stm.is_empty());

        let step = stm(&[&["a", "b"]]).learn();
        assert!(step.pattern_to_learn.is_some());

        let step = stm(&[&["a"]]).learn();
        assert_eq!(step.pattern_to_learn, None);
        assert!(step.stm.is_empty());
    }

    #[test]
    fn auto_learn_off_by_default() {
        let settings = ObserveSettings::default();
        let mut memory = Stm::new();
        for symbol in ["a", "b", "c", "d", "e"] {
            let step = observe(memory, &strings(&[symbol]), settings).unwrap();
            assert_eq!(step.pattern_to_learn, None);
            memory = step.stm;
        }
        assert_eq!(memory.len(), 5);
    }

    #[test]
    fn clear_mode_learns_and_empties_at_the_threshold() {
        let settings = rule(2, StmMode::Clear);
        let step = observe(Stm::new(), &strings(&["a"]), settings).unwrap();
        assert_eq!((step.pattern_to_learn.clone(), step.stm.len()), (None, 1));
        let step = observe(step.stm, &strings(&["b"]), settings).unwrap();
        assert_eq!(
            step.pattern_to_learn,
            Some(Pattern::new(stm(&[&["a"], &["b"]]).into_events()))
        );
        assert!(step.stm.is_empty());
    }

    #[test]
    fn rolling_mode_worked_example() {
        // Spec 3.3: N=3, observe A,B,C → learns [[A],[B],[C]], STM [[B],[C]]; observe D →
        // learns [[B],[C],[D]], STM [[C],[D]].
        let settings = rule(3, StmMode::Rolling);
        let mut memory = Stm::new();
        for symbol in ["A", "B"] {
            let step = observe(memory, &strings(&[symbol]), settings).unwrap();
            assert_eq!(step.pattern_to_learn, None);
            memory = step.stm;
        }
        let step = observe(memory, &strings(&["C"]), settings).unwrap();
        assert_eq!(
            step.pattern_to_learn,
            Some(Pattern::new(stm(&[&["A"], &["B"], &["C"]]).into_events()))
        );
        assert_eq!(step.stm, stm(&[&["B"], &["C"]]));
        let step = observe(step.stm, &strings(&["D"]), settings).unwrap();
        assert_eq!(
            step.pattern_to_learn,
            Some(Pattern::new(stm(&[&["B"], &["C"], &["D"]]).into_events()))
        );
        assert_eq!(step.stm, stm(&[&["C"], &["D"]]));
    }

    #[test]
    fn threshold_one_learns_each_event_alone_in_both_modes() {
        for mode in [StmMode::Clear, StmMode::Rolling] {
            let step = observe(Stm::new(), &strings(&["a"]), rule(1, mode)).unwrap();
            assert_eq!(step.pattern_to_learn, None, "one symbol is too small");
            assert!(step.stm.is_empty());
            let step = observe(Stm::new(), &strings(&["a", "b"]), rule(1, mode)).unwrap();
            assert_eq!(
                step.pattern_to_learn,
                Some(Pattern::new(vec![event(&["a", "b"])]))
            );
            assert!(step.stm.is_empty());
        }
    }

    #[test]
    fn rolling_keeps_the_newest_events_when_the_stm_outgrew_the_threshold() {
        let step = AutoLearn {
            max_pattern_length: 2,
            mode: StmMode::Rolling,
        }
        .apply(stm(&[&["a"], &["b"], &["c"], &["d"]]));
        assert_eq!(step.pattern_to_learn.map(|p| p.events().len()), Some(4));
        assert_eq!(step.stm, stm(&[&["d"]]));
    }

    #[test]
    fn empty_observation_appends_nothing_and_does_not_learn() {
        let settings = rule(1, StmMode::Clear);
        let step = observe(stm(&[&["a"]]), &Observation::default(), settings).unwrap();
        assert!(!step.appended_event);
        assert_eq!(step.pattern_to_learn, None);
        assert_eq!(step.stm, stm(&[&["a"]]));
    }

    #[test]
    fn mode_names_follow_the_reference() {
        assert_eq!(StmMode::from_reference_name("ROLLING"), StmMode::Rolling);
        assert_eq!(StmMode::from_reference_name("CLEAR"), StmMode::Clear);
        assert_eq!(StmMode::from_reference_name("SOMETHING"), StmMode::Clear);
        assert_eq!(StmMode::Rolling.reference_name(), "ROLLING");
        assert_eq!(StmMode::Clear.reference_name(), "CLEAR");
    }
}
