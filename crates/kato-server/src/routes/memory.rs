//! Observe, learn, clear, and what a session's memory shows (spec `api-and-storage.md`
//! sections 1.3 and 2).

use std::time::Instant;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use kato_core::Stm;
use kato_core::predict::{FuturePotential, Prediction, keywise_means};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{
    ApiError, Detail, InvalidObservationBody, SessionNotFoundBody, ValidationFailed,
};
use crate::extract::{ValidJson, ValidPath};
use crate::memory::{self, PredictionSource};
use crate::requests::{LearnSequences, ObservationData, ObserveSequence};
use crate::routes::sessions::SessionStatus;
use crate::session::{LockedSession, read_session, to_completion};
use crate::state::AppState;

fn observation_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Observes one event (strings, vectors, emotives, metadata) into the session's STM.
#[utoipa::path(post, path = "/sessions/{session_id}/observe", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    request_body = ObservationData,
    responses(
        (status = 200, description = "The event is in the STM", body = Observed),
        (status = 400, description = "Vectors of different lengths, or a vector whose dimension is not the node's (VectorDimensionError)", body = Detail),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
        (status = 422, description = "A field of the wrong type", body = ValidationFailed),
        (status = 503, description = "A store is unavailable (auto-learn)", body = Detail),
    ))]
pub(crate) async fn observe(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(data): ValidJson<ObservationData>,
) -> Result<Json<Observed>, ApiError> {
    app.settings()
        .limits
        .check_event(vec!["body".into(), "strings".into()], &data.strings)?;
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let outcome = memory::observe(&app, &mut locked.state, data).await;
        let (session, observed) = locked.finish(&app, outcome).await?;
        Ok(Json(Observed {
            status: "okay",
            session_id: id,
            processor_id: session.node_id,
            stm_length: session.stm.len(),
            time: session.time,
            unique_id: observation_id("obs"),
            auto_learned_pattern: observed.auto_learned,
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/observe`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Observed {
    /// `okay`.
    status: &'static str,
    session_id: String,
    /// The session's node id.
    processor_id: String,
    stm_length: usize,
    /// Observations since the last clear.
    time: u64,
    unique_id: String,
    /// The pattern auto-learned by this observation (`max_pattern_length`), if any.
    auto_learned_pattern: Option<String>,
}

/// Observes a list of events in one request, optionally learning after each or at the end.
#[utoipa::path(post, path = "/sessions/{session_id}/observe-sequence", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    request_body = ObserveSequence,
    responses(
        (status = 200, description = "Every observation is in the STM", body = SequenceObserved),
        (status = 400, description = "Vectors of different lengths, or a vector whose dimension is not the node's (VectorDimensionError), with `observation_index`", body = InvalidObservationBody),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
        (status = 422, description = "A field of the wrong type", body = ValidationFailed),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn observe_sequence(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(request): ValidJson<ObserveSequence>,
) -> Result<Json<SequenceObserved>, ApiError> {
    let limits = app.settings().limits;
    limits.check_items(&["body", "observations"], request.observations.len())?;
    for (index, observation) in request.observations.iter().enumerate() {
        limits.check_event(
            vec![
                "body".into(),
                "observations".into(),
                index.into(),
                "strings".into(),
            ],
            &observation.strings,
        )?;
    }
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let initial_stm_length = locked.state.stm.len();
        let isolated = request.clear_stm_between.0;
        let outcome = run_sequence(&app, &mut locked.state, request).await;
        let (session, (results, learned, final_learned)) = locked.finish(&app, outcome).await?;
        Ok(Json(SequenceObserved {
            status: "completed",
            processor_id: session.node_id,
            observations_processed: results.len(),
            initial_stm_length,
            final_stm_length: session.stm.len(),
            results,
            auto_learned_patterns: learned,
            final_learned_pattern: final_learned,
            isolated,
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/observe-sequence`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SequenceObserved {
    /// `completed`.
    status: &'static str,
    /// The session's node id.
    processor_id: String,
    observations_processed: usize,
    initial_stm_length: usize,
    final_stm_length: usize,
    /// One per observation, in order.
    results: Vec<SequenceStep>,
    /// Every pattern learned by the request, in order (after each, auto-learn, at end).
    auto_learned_patterns: Vec<String>,
    /// The pattern `learn_at_end` learned, if any.
    final_learned_pattern: Option<String>,
    /// `clear_stm_between`.
    isolated: bool,
}

/// One observation of an observe-sequence.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SequenceStep {
    /// `okay`.
    status: &'static str,
    sequence_position: usize,
    stm_length: usize,
    time: u64,
    /// The observation's `unique_id`, or a generated one.
    unique_id: String,
    auto_learned_pattern: Option<String>,
}

type SequenceOutcome = (Vec<SequenceStep>, Vec<String>, Option<String>);

async fn run_sequence(
    app: &AppState,
    session: &mut crate::session::SessionState,
    request: ObserveSequence,
) -> Result<SequenceOutcome, ApiError> {
    let mut results = Vec::with_capacity(request.observations.len());
    let mut learned = Vec::new();
    for (index, mut data) in request.observations.into_iter().enumerate() {
        let unique_id = data
            .unique_id
            .take()
            .unwrap_or_else(|| observation_id("seq-obs"));
        if request.clear_stm_between.0 && index > 0 {
            session.stm = kato_core::Stm::new();
        }
        let observed = memory::observe(app, session, data)
            .await
            .map_err(|error| match error {
                ApiError::BadRequest(message) => ApiError::InvalidObservation { index, message },
                ApiError::VectorDimension {
                    expected,
                    actual,
                    name,
                    observation_index: None,
                } => ApiError::VectorDimension {
                    expected,
                    actual,
                    name,
                    observation_index: Some(index),
                },
                other => other,
            })?;
        if request.learn_after_each.0 && !session.stm.is_empty() {
            learned.push(memory::learn(app, session).await?);
        }
        learned.extend(observed.auto_learned.clone());
        results.push(SequenceStep {
            status: "okay",
            sequence_position: index,
            stm_length: session.stm.len(),
            time: session.time,
            unique_id,
            auto_learned_pattern: observed.auto_learned,
        });
    }
    let mut final_learned = None;
    if request.learn_at_end.0 && !session.stm.is_empty() {
        let name = memory::learn(app, session).await?;
        learned.push(name.clone());
        final_learned = Some(name);
    }
    Ok((results, learned, final_learned))
}

/// Learns many sequences in one request (not in the reference; its per-event routes cost a
/// request per event). Each sequence is learned as observing its events and learning would;
/// the session's STM and accumulators are not touched.
#[utoipa::path(post, path = "/sessions/{session_id}/learn-sequences", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    request_body = LearnSequences,
    responses(
        (status = 200, description = "One name per sequence, \"\" for one under two symbols", body = LearnedSequences),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 413, description = "The body is over the size limit", body = Detail),
        (status = 422, description = "`sequences` is not a list of lists of lists of strings", body = ValidationFailed),
        (status = 503, description = "A store is unavailable; some sequences may have been learned", body = Detail),
    ))]
pub(crate) async fn learn_sequences(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(request): ValidJson<LearnSequences>,
) -> Result<Json<LearnedSequences>, ApiError> {
    let limits = app.settings().limits;
    limits.check_items(&["body", "sequences"], request.sequences.len())?;
    for (index, sequence) in request.sequences.iter().enumerate() {
        for (event_index, event) in sequence.iter().enumerate() {
            limits.check_event(
                vec![
                    "body".into(),
                    "sequences".into(),
                    index.into(),
                    event_index.into(),
                ],
                event,
            )?;
        }
    }
    to_completion(app.admit()?, async move {
        let (session, _) = read_session(&app, &id).await?;
        let names = memory::learn_sequences(&app, &session, request.sequences).await?;
        Ok(Json(LearnedSequences {
            status: "learned",
            session_id: id,
            pattern_names: names,
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/learn-sequences`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LearnedSequences {
    /// `learned`.
    status: &'static str,
    session_id: String,
    /// `PTRN|<hex>` per sequence, in order; "" for a sequence under two symbols.
    pattern_names: Vec<String>,
}

/// The session's short-term memory.
#[utoipa::path(get, path = "/sessions/{session_id}/stm", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "The STM, oldest event first", body = StmResponse),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
    ))]
pub(crate) async fn get_stm(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<StmResponse>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    Ok(Json(StmResponse {
        length: session.stm.len(),
        stm: session.stm,
        session_id: id,
    }))
}

/// `GET /sessions/{session_id}/stm`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StmResponse {
    /// Events of symbols.
    #[schema(value_type = Vec<Vec<String>>)]
    stm: Stm,
    session_id: String,
    /// Events in the STM.
    length: usize,
}

/// Learns the STM as a pattern; the STM and the emotive/metadata accumulators end empty.
#[utoipa::path(post, path = "/sessions/{session_id}/learn", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "Learned; `pattern_name` is \"\" for fewer than two symbols", body = Learned),
        (status = 400, description = "The STM is empty", body = Detail),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
        (status = 503, description = "A store is unavailable; nothing was learned", body = Detail),
    ))]
pub(crate) async fn learn(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Learned>, ApiError> {
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let outcome = if locked.state.stm.is_empty() {
            Err(ApiError::BadRequest(
                "Cannot learn from empty STM".to_owned(),
            ))
        } else {
            memory::learn(&app, &mut locked.state).await
        };
        let (session, name) = locked.finish(&app, outcome).await?;
        Ok(Json(Learned {
            status: "learned",
            message: format!("Learned pattern {name} from {} events", session.stm.len()),
            pattern_name: name,
            session_id: id,
            processor_id: None,
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/learn`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Learned {
    /// `learned`.
    status: &'static str,
    /// `PTRN|<hex>`, or "" when the STM held fewer than two symbols.
    pattern_name: String,
    session_id: String,
    /// Always null, as the reference's.
    processor_id: Option<String>,
    message: String,
}

/// Empties the STM and the accumulators.
#[utoipa::path(post, path = "/sessions/{session_id}/clear-stm", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`status` is `cleared`", body = SessionStatus),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
    ))]
pub(crate) async fn clear_stm(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionStatus>, ApiError> {
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        locked.state.clear_stm();
        locked.save(&app).await?;
        Ok(Json(SessionStatus {
            status: "cleared",
            session_id: id,
        }))
    })
    .await
}

/// Wipes the node's whole knowledge base (every session of the node sees it), then clears
/// this session's STM.
#[utoipa::path(post, path = "/sessions/{session_id}/clear-all", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`status` is `cleared`, `scope` is `all`", body = ClearedAll),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 409, description = "Another request held the session's lock too long, or took it before this one saved: the session is as it was (patterns learned stay learned)", body = Detail),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn clear_all(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<ClearedAll>, ApiError> {
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let kb_id = locked.state.kb_id.clone();
        let outcome = app.kb().clear_all(&kb_id).await.map_err(ApiError::from);
        locked.state.clear_stm();
        // The kb's vectors are gone; so are the ones waiting for this session's learn.
        locked.state.pending_vectors.clear();
        locked.finish(&app, outcome).await?;
        Ok(Json(ClearedAll {
            status: "cleared",
            session_id: id,
            scope: "all",
        }))
    })
    .await
}

/// `POST /sessions/{session_id}/clear-all`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClearedAll {
    status: &'static str,
    session_id: String,
    scope: &'static str,
}

/// Predictions for the session's STM, computed now with the session's configuration.
#[utoipa::path(get, path = "/sessions/{session_id}/predictions", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "Ranked predictions and the futures they share", body = PredictionsResponse),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn predictions(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<PredictionsResponse>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let config = session.effective_config(&app.settings().defaults);
    let found = memory::predict(&app, &session.kb_id, &session.stm, &config).await?;
    Ok(Json(PredictionsResponse {
        count: found.predictions.len(),
        predictions: found.predictions,
        future_potentials: found.future_potentials,
        session_id: id,
        processor_id: None,
        time: None,
        unique_id: None,
    }))
}

/// `GET /sessions/{session_id}/predictions`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PredictionsResponse {
    /// Ranked, at most `max_predictions`.
    predictions: Vec<Prediction>,
    /// One group per distinct future; empty on the single-symbol path.
    future_potentials: Vec<FuturePotential>,
    session_id: String,
    /// Always null, as the reference's.
    processor_id: Option<String>,
    count: usize,
    /// Always null, as the reference's.
    time: Option<u64>,
    /// Always null, as the reference's.
    unique_id: Option<String>,
}

/// What the last observation carried.
#[utoipa::path(get, path = "/sessions/{session_id}/percept-data", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "The last observation (`percept_data` is empty before the first)", body = SessionPercept),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
    ))]
pub(crate) async fn percept_data(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionPercept>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let percept_data = match session.percept {
        Some(percept) => PerceptData {
            strings: Some(percept.strings),
            vectors: Some(percept.vectors),
            emotives: Some(keywise_means(&session.emotives_accumulator)),
            path: Some(Vec::new()),
            metadata: Some(percept.metadata),
        },
        None => PerceptData::default(),
    };
    Ok(Json(SessionPercept {
        percept_data,
        session_id: id,
        node_id: session.node_id,
    }))
}

/// `GET /sessions/{session_id}/percept-data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionPercept {
    percept_data: PerceptData,
    session_id: String,
    node_id: String,
}

/// What the last observation carried; every field is absent before the first observation.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct PerceptData {
    #[serde(skip_serializing_if = "Option::is_none")]
    strings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vectors: Option<Vec<Vec<f64>>>,
    /// Key-wise means of the emotives gathered since the last learn or clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    emotives: Option<BTreeMap<String, f64>>,
    /// Always empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
}

/// The session's cognition: predictions from the last observe, emotives, STM and time.
#[utoipa::path(get, path = "/sessions/{session_id}/cognition-data", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "Predictions from the last observe, emotives, STM and time", body = SessionCognition),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn cognition_data(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<SessionCognition>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let config = session.effective_config(&app.settings().defaults);
    let source = match &session.prediction_source {
        PredictionSource::Nothing => None,
        PredictionSource::CurrentStm => Some(&session.stm),
        PredictionSource::Snapshot(stm) => Some(stm),
    };
    let predictions = match source {
        Some(stm) => {
            memory::predict(&app, &session.kb_id, stm, &config)
                .await?
                .predictions
        }
        None => Vec::new(),
    };
    let symbols: Vec<String> = session
        .stm
        .events()
        .iter()
        .flat_map(|event| event.iter().map(|symbol| symbol.as_str().to_owned()))
        .collect();
    Ok(Json(SessionCognition {
        cognition_data: CognitionData {
            predictions,
            emotives: session
                .emotives_accumulator
                .last()
                .cloned()
                .unwrap_or_default(),
            symbols,
            command: "",
            metadata: Map::new(),
            path: Vec::new(),
            strings: Vec::new(),
            vectors: Vec::new(),
            short_term_memory: session.stm,
            time: session.time,
        },
        session_id: id,
        node_id: session.node_id,
    }))
}

/// `GET /sessions/{session_id}/cognition-data`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionCognition {
    cognition_data: CognitionData,
    session_id: String,
    node_id: String,
}

/// The reference's cognition data of a session.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CognitionData {
    /// Predictions from the STM the last observation left.
    predictions: Vec<Prediction>,
    /// The last observation's emotives.
    emotives: BTreeMap<String, f64>,
    /// The STM's symbols, flat.
    symbols: Vec<String>,
    /// Always "".
    command: &'static str,
    /// Always empty.
    #[schema(value_type = Object)]
    metadata: Map<String, Value>,
    /// Always empty.
    path: Vec<String>,
    /// Always empty.
    strings: Vec<String>,
    /// Always empty.
    vectors: Vec<Vec<f64>>,
    #[schema(value_type = Vec<Vec<String>>)]
    short_term_memory: Stm,
    time: u64,
}

/// The reference's post-training step. Learns here are durable and every statistic is kept
/// up to date as they happen, so there is nothing to flush or precompute: this reports the
/// node's pattern count.
#[utoipa::path(post, path = "/sessions/{session_id}/finalize-training", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "The node's pattern count", body = TrainingFinalized),
        (status = 404, description = "SESSION_NOT_FOUND", body = SessionNotFoundBody),
        (status = 503, description = "A store is unavailable", body = Detail),
    ))]
pub(crate) async fn finalize_training(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<TrainingFinalized>, ApiError> {
    let started = Instant::now();
    let (session, _) = read_session(&app, &id).await?;
    let patterns = app.kb().count_patterns(&session.kb_id).await?;
    let time_ms = (started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
    Ok(Json(TrainingFinalized {
        status: "completed",
        patterns_processed: patterns,
        time_ms,
        session_id: id,
        node_id: session.node_id,
        message: format!("Training finalized: {patterns} patterns ready"),
    }))
}

/// `POST /sessions/{session_id}/finalize-training`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrainingFinalized {
    /// `completed`.
    status: &'static str,
    /// Patterns in the node's kb.
    patterns_processed: u64,
    time_ms: f64,
    session_id: String,
    node_id: String,
    message: String,
}
