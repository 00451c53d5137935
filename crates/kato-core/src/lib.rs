//! kato-core: the pure part of kato. It models observations, events, the short-term memory (STM)
//! and patterns; decides what to learn; names patterns exactly as the reference KATO does;
//! computes MinHash signatures and LSH band hashes; and matches patterns against an STM and
//! computes every prediction metric and the ranking. It does no I/O, keeps no global mutable
//! state, and gives the same output for the same input on every platform.
//!
//! ```
//! use kato_core::{
//!     estimated_jaccard, MinHasher, Observation, ObserveSettings, PatternName, Stm, SymbolOrder,
//!     observe,
//! };
//!
//! // Observations become events: strings sorted by code point, vectors summed into one symbol.
//! let hello = Observation { strings: vec!["hello".into()], ..Observation::default() };
//! let world = Observation { strings: vec!["world".into()], ..Observation::default() };
//! let settings = ObserveSettings::default(); // sorted symbols, auto-learn off
//! let step = observe(Stm::new(), &hello, settings)?;
//! let step = observe(step.stm, &world, settings)?;
//!
//! // A manual learn takes the whole STM (at least two symbols are needed) and clears it.
//! let learned = step.stm.learn();
//! let pattern = learned.pattern_to_learn.expect("two symbols are enough");
//! assert!(learned.stm.is_empty());
//!
//! // The name is the reference's: SHA-1 of Python's repr, `[['hello'], ['world']]`.
//! let name = pattern.name();
//! assert_eq!(name.to_string(), "PTRN|7d0678ba6305341ce0d25133ab086208656a562f");
//! assert_eq!(name, "7d0678ba6305341ce0d25133ab086208656a562f".parse::<PatternName>()?);
//!
//! // MinHash over the pattern's symbols, and its LSH bands (100 values, 20 bands by default).
//! let hasher = MinHasher::shared_default();
//! let signature = hasher.signature(pattern.symbols());
//! let bands = hasher.band_hashes(&signature)?;
//! assert_eq!((signature.len(), bands.len()), (100, 20));
//!
//! // Signatures of overlapping token sets estimate their Jaccard similarity.
//! let same = hasher.signature(["world", "hello", "hello"]);
//! assert_eq!(estimated_jaccard(&signature, &same)?, 1.0);
//! let other = hasher.signature(["goodbye", "world"]);
//! let estimate = estimated_jaccard(&signature, &other)?; // true Jaccard: 1/3
//! assert!(estimate > 0.0 && estimate < 1.0);
//!
//! // Symbol order inside an event is decided once, when the event is made.
//! let unsorted = Observation { strings: vec!["b".into(), "a".into()], ..Observation::default() };
//! let event = unsorted.to_event(SymbolOrder::AsObserved)?.expect("strings make an event");
//! assert_eq!(event.symbols()[0], "b");
//! # Ok::<(), kato_core::CoreError>(())
//! ```
//!
//! Modules, from the atoms up: [`Symbol`] and [`Event`]; [`Observation`] (→ event, with
//! `VCTR|…` vector symbols); [`Stm`] with the learn rules ([`AutoLearn`], [`observe`]);
//! [`Pattern`] with its storage columns and [`PatternName`]; [`minhash`] for signatures and LSH;
//! [`KbId`] for knowledge-base ids; [`matching`] (alignment, similarity, fuzzy tokens) and
//! [`predict`] (metrics, pruning, ranking) for the read side. Every fallible function returns
//! [`CoreError`].

mod error;
mod event;
pub mod fast_hash;
mod kb_id;
pub mod matching;
pub mod minhash;
mod numpy_print;
mod observation;
mod pattern;
mod pattern_name;
pub mod predict;
mod python_repr;
mod python_value;
mod sha1_hex;
mod stm;
mod token_hash;

pub use error::CoreError;
pub use event::{Event, Symbol};
pub use kb_id::KbId;
pub use minhash::{MINHASH_SCHEME_VERSION, MinHashConfig, MinHasher, estimated_jaccard};
pub use observation::{Observation, SymbolOrder, VECTOR_SYMBOL_PREFIX, sum_vectors, vector_symbol};
pub use pattern::{MIN_PATTERN_LENGTH, Pattern, PatternColumns};
pub use pattern_name::{PATTERN_NAME_PREFIX, PatternName};
pub use python_value::{python_float_repr, python_str};
pub use stm::{AutoLearn, LearnStep, ObserveSettings, ObserveStep, Stm, StmMode, observe};
pub use token_hash::token_hash;
