//! What observe and learn do to a session (spec `api-and-storage.md` sections 2 and 3, with
//! DESIGN.md section 8): the session's own settings apply everywhere, and a learned STM takes
//! its emotives and metadata with it and resets the accumulators, auto-learn included.

use kato_core::{AutoLearn, KbId, Pattern, StmMode, SymbolOrder};
use kato_kb::{
    DEFAULT_PERSISTENCE, LearnContext, ObservedVector, SessionConfig, validate_emotives,
};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::requests::ObservationData;
use crate::session::{Percept, SessionState};
use crate::state::AppState;

/// What `cognition-data` predicts from: the STM as the last observe left it before any
/// auto-learn (the reference computes those predictions inside observe; here they are
/// computed when asked, from the same STM).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) enum PredictionSource {
    /// Nothing to predict from (no observe since the last clear, or predictions off).
    #[default]
    Nothing,
    /// The session's current STM.
    CurrentStm,
    /// The STM before an auto-learn changed it.
    Snapshot(kato_core::Stm),
}

/// The outcome of one observe.
#[derive(Debug)]
pub(crate) struct Observed {
    /// `PTRN|...` when the observe auto-learned a stored pattern.
    pub(crate) auto_learned: Option<String>,
}

/// Applies one observation to `session`, learning into its kb when auto-learn is due.
pub(crate) async fn observe(
    app: &AppState,
    session: &mut SessionState,
    data: ObservationData,
) -> Result<Observed, ApiError> {
    let config = session.effective_config(&app.settings().defaults);
    let order = SymbolOrder::from_sort_symbols(config.sort_symbols.unwrap_or(true));
    let (observation, metadata) = data.into_parts();
    validate_emotives(&observation.emotives).map_err(|error| {
        ApiError::invalid_field(
            vec!["body".into(), "emotives".into()],
            "value_error",
            error.to_string(),
            serde_json::Value::Null,
        )
    })?;
    let observed_vector = observed_vector(&observation.vectors)?;
    let neighbours = match &observed_vector {
        Some(vector) => neighbours(app, session, vector).await?,
        None => Vec::new(),
    };
    let event = observation
        .to_event_with_neighbours(order, &neighbours)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    if let Some(vector) = observed_vector
        && !session
            .pending_vectors
            .iter()
            .any(|pending| pending.name == vector.name)
    {
        session.pending_vectors.push(vector);
    }
    let kato_core::Observation {
        mut strings,
        vectors,
        emotives,
        ..
    } = observation;
    if !emotives.is_empty() {
        session.emotives_accumulator.push(emotives);
    }
    if !metadata.is_empty() {
        session.metadata_accumulator.push(metadata.clone());
    }
    let mut auto_learned = None;
    if let Some(event) = event {
        session.stm.push(event);
        let rule = AutoLearn {
            max_pattern_length: usize::try_from(config.max_pattern_length.unwrap_or(0))
                .unwrap_or(usize::MAX),
            mode: StmMode::from_reference_name(config.stm_mode.as_deref().unwrap_or("CLEAR")),
        };
        let predictions_on = config.process_predictions.unwrap_or(true);
        if rule.is_due(&session.stm) {
            session.prediction_source = if predictions_on {
                PredictionSource::Snapshot(session.stm.clone())
            } else {
                PredictionSource::Nothing
            };
            let step = rule.apply(std::mem::take(&mut session.stm));
            session.stm = step.stm;
            learn_vectors(app, session).await?;
            // A due auto-learn resets the accumulators whether or not it stores a pattern.
            let context = learn_context(session, &config);
            if let Some(pattern) = step.pattern_to_learn {
                auto_learned = Some(learn_pattern(app, &session.kb_id, &pattern, &context).await?);
            }
        } else {
            session.prediction_source = if predictions_on {
                PredictionSource::CurrentStm
            } else {
                PredictionSource::Nothing
            };
        }
    }
    session.time += 1;
    if order == SymbolOrder::Sorted {
        strings.sort_unstable();
    }
    session.percept = Some(Percept {
        strings,
        vectors,
        metadata,
    });
    Ok(Observed { auto_learned })
}

/// Learns the session's STM (manual learn): `PTRN|...`, or `""` when it held fewer than two
/// symbols. The STM and the accumulators end empty.
pub(crate) async fn learn(app: &AppState, session: &mut SessionState) -> Result<String, ApiError> {
    let config = session.effective_config(&app.settings().defaults);
    if session.prediction_source == PredictionSource::CurrentStm {
        // Learning empties the STM; cognition-data keeps showing the last observe's predictions.
        session.prediction_source = PredictionSource::Snapshot(session.stm.clone());
    }
    learn_vectors(app, session).await?;
    let step = std::mem::take(&mut session.stm).learn();
    let context = learn_context(session, &config);
    let name = match step.pattern_to_learn {
        Some(pattern) => learn_pattern(app, &session.kb_id, &pattern, &context).await?,
        None => String::new(),
    };
    session.stm = step.stm;
    Ok(name)
}

/// The k of the reference's nearest-vector search.
const NEAREST_VECTORS: usize = 3;

/// The summed vector of an observation with its `VCTR|` name; `None` without vectors. Vectors
/// of different lengths are a 400; a component that is not a finite float32 (the reference's
/// vector store keeps float32) is a 422 naming `vectors`.
fn observed_vector(vectors: &[Vec<f64>]) -> Result<Option<ObservedVector>, ApiError> {
    if vectors.is_empty() {
        return Ok(None);
    }
    let components =
        kato_core::sum_vectors(vectors).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    if components.iter().any(|x| x.abs() > f64::from(f32::MAX)) {
        return Err(ApiError::invalid_field(
            vec!["body".into(), "vectors".into()],
            "finite_number",
            format!(
                "vector components (summed) must be finite float32 values, at most {:e} in magnitude",
                f32::MAX
            ),
            serde_json::Value::Null,
        ));
    }
    let name = kato_core::vector_symbol(vectors)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    Ok(Some(ObservedVector {
        name: name.as_str().to_owned(),
        components,
    }))
}

/// The names of the kb's learned vectors nearest `vector`; a 400 `VectorDimensionError` when
/// its dimension is not the kb's. While the kb has no vector any dimension is observed, as in
/// the reference: the session's first learned vector then locks it, and the others are not
/// stored.
async fn neighbours(
    app: &AppState,
    session: &SessionState,
    vector: &ObservedVector,
) -> Result<Vec<String>, ApiError> {
    let found = app
        .kb()
        .nearest_vectors(&session.kb_id, &vector.components, NEAREST_VECTORS)
        .await?;
    match found.dimension {
        Some(expected) if expected != vector.components.len() => Err(ApiError::VectorDimension {
            expected,
            actual: vector.components.len(),
            name: vector.name.clone(),
            observation_index: None,
        }),
        _ => Ok(found.names),
    }
}

/// Stores the vectors the session observed since its last learn (the reference stores them
/// when a learn happens, whether or not it stores a pattern).
async fn learn_vectors(app: &AppState, session: &mut SessionState) -> Result<(), ApiError> {
    if session.pending_vectors.is_empty() {
        return Ok(());
    }
    let learned = app
        .kb()
        .learn_vectors(&session.kb_id, &session.pending_vectors)
        .await?;
    if learned.refused > 0 {
        // Another session locked the kb's dimension differently since these were observed.
        tracing::warn!(
            kb = %session.kb_id,
            refused = learned.refused,
            "vectors of another dimension than the kb's were not stored"
        );
    }
    session.pending_vectors.clear();
    Ok(())
}

/// What a learn of the session's STM carries: the accumulators, taken (learning resets them;
/// a failed request is never saved, so the session keeps them then).
fn learn_context(session: &mut SessionState, config: &SessionConfig) -> LearnContext {
    LearnContext {
        emotives: std::mem::take(&mut session.emotives_accumulator),
        metadata: std::mem::take(&mut session.metadata_accumulator),
        persistence: config.persistence.unwrap_or(DEFAULT_PERSISTENCE),
    }
}

async fn learn_pattern(
    app: &AppState,
    kb_id: &KbId,
    pattern: &Pattern,
    context: &LearnContext,
) -> Result<String, ApiError> {
    let learned = app.kb().learn(kb_id, pattern, context).await?;
    app.telemetry().observe_learned();
    Ok(learned.map_or_else(String::new, |learned| learned.name.to_string()))
}

/// Learns each sequence as a pattern into the session's kb, as observing its events (strings
/// only, ordered by the session's `sort_symbols`) and learning would, without touching the
/// session's STM: `PTRN|...` or `""` (under two symbols) per sequence.
pub(crate) async fn learn_sequences(
    app: &AppState,
    session: &SessionState,
    sequences: Vec<Vec<Vec<String>>>,
) -> Result<Vec<String>, ApiError> {
    let config = session.effective_config(&app.settings().defaults);
    let order = SymbolOrder::from_sort_symbols(config.sort_symbols.unwrap_or(true));
    let mut patterns = Vec::with_capacity(sequences.len());
    for sequence in sequences {
        let mut events = Vec::with_capacity(sequence.len());
        for strings in sequence {
            let observation = kato_core::Observation {
                strings,
                ..kato_core::Observation::default()
            };
            if let Some(event) = observation
                .to_event(order)
                .map_err(|error| ApiError::BadRequest(error.to_string()))?
            {
                events.push(event);
            }
        }
        patterns.push(Pattern::new(events));
    }
    let context = LearnContext {
        persistence: config.persistence.unwrap_or(DEFAULT_PERSISTENCE),
        ..LearnContext::default()
    };
    let learned = app
        .kb()
        .learn_many(&session.kb_id, &patterns, &context)
        .await?;
    Ok(learned
        .into_iter()
        .map(|learned| {
            learned.map_or_else(String::new, |learned| {
                app.telemetry().observe_learned();
                learned.name.to_string()
            })
        })
        .collect())
}

/// An STM as kato-kb's prediction input.
pub(crate) fn stm_symbols(stm: &kato_core::Stm) -> Vec<Vec<String>> {
    stm.events()
        .iter()
        .map(|event| {
            event
                .iter()
                .map(|symbol| symbol.as_str().to_owned())
                .collect()
        })
        .collect()
}

/// Predictions for `stm` with `config`, as the reference's prediction list and future
/// potentials.
pub(crate) async fn predict(
    app: &AppState,
    kb_id: &KbId,
    stm: &kato_core::Stm,
    config: &SessionConfig,
) -> Result<kato_core::predict::Predictions, ApiError> {
    let settings = config.prediction_settings()?;
    let predictions = app
        .kb()
        .predict(kb_id, &stm_symbols(stm), &settings)
        .await?;
    app.telemetry().observe_prediction();
    Ok(predictions)
}
