//! Observe, learn, clear, and what a session's memory shows (spec `api-and-storage.md`
//! sections 1.3 and 2).

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use kato_core::predict::keywise_means;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidPath};
use crate::memory::{self, PredictionSource};
use crate::requests::{LearnSequences, ObservationData, ObserveSequence};
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
        (status = 200, description = "`{status, session_id, processor_id, stm_length, time, unique_id, auto_learned_pattern}`"),
        (status = 400, description = "Vectors of different lengths"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 422, description = "A field of the wrong type"),
        (status = 503, description = "A store is unavailable (auto-learn)"),
    ))]
pub(crate) async fn observe(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(data): ValidJson<ObservationData>,
) -> Result<Json<Value>, ApiError> {
    app.settings()
        .limits
        .check_event(vec!["body".into(), "strings".into()], &data.strings)?;
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let outcome = memory::observe(&app, &mut locked.state, data).await;
        let (session, observed) = locked.finish(&app, outcome).await?;
        Ok(Json(json!({
            "status": "okay",
            "session_id": id,
            "processor_id": session.node_id,
            "stm_length": session.stm.len(),
            "time": session.time,
            "unique_id": observation_id("obs"),
            "auto_learned_pattern": observed.auto_learned,
        })))
    })
    .await
}

/// Observes a list of events in one request, optionally learning after each or at the end.
#[utoipa::path(post, path = "/sessions/{session_id}/observe-sequence", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    request_body = ObserveSequence,
    responses(
        (status = 200, description = "`{status: \"completed\", observations_processed, results, auto_learned_patterns, final_learned_pattern, ...}`"),
        (status = 400, description = "Vectors of different lengths (with `observation_index`)"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 422, description = "A field of the wrong type"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn observe_sequence(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(request): ValidJson<ObserveSequence>,
) -> Result<Json<Value>, ApiError> {
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
        Ok(Json(json!({
            "status": "completed",
            "processor_id": session.node_id,
            "observations_processed": results.len(),
            "initial_stm_length": initial_stm_length,
            "final_stm_length": session.stm.len(),
            "results": results,
            "auto_learned_patterns": learned,
            "final_learned_pattern": final_learned,
            "isolated": isolated,
        })))
    })
    .await
}

type SequenceOutcome = (Vec<Value>, Vec<String>, Option<String>);

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
                other => other,
            })?;
        if request.learn_after_each.0 && !session.stm.is_empty() {
            learned.push(memory::learn(app, session).await?);
        }
        learned.extend(observed.auto_learned.clone());
        results.push(json!({
            "status": "okay",
            "sequence_position": index,
            "stm_length": session.stm.len(),
            "time": session.time,
            "unique_id": unique_id,
            "auto_learned_pattern": observed.auto_learned,
        }));
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
        (status = 200, description = "`{status: \"learned\", session_id, pattern_names}`: one name per sequence, \"\" for one under two symbols"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 413, description = "The body is over the size limit"),
        (status = 422, description = "`sequences` is not a list of lists of lists of strings"),
        (status = 503, description = "A store is unavailable; some sequences may have been learned"),
    ))]
pub(crate) async fn learn_sequences(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
    ValidJson(request): ValidJson<LearnSequences>,
) -> Result<Json<Value>, ApiError> {
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
        Ok(Json(json!({
            "status": "learned",
            "session_id": id,
            "pattern_names": names,
        })))
    })
    .await
}

/// The session's short-term memory.
#[utoipa::path(get, path = "/sessions/{session_id}/stm", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, description = "`{stm, session_id, length}`"), (status = 404, description = "SESSION_NOT_FOUND")))]
pub(crate) async fn get_stm(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    Ok(Json(json!({
        "stm": session.stm,
        "session_id": id,
        "length": session.stm.len(),
    })))
}

/// Learns the STM as a pattern; the STM and the emotive/metadata accumulators end empty.
#[utoipa::path(post, path = "/sessions/{session_id}/learn", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`{status: \"learned\", pattern_name, session_id, processor_id, message}`; `pattern_name` is \"\" for fewer than two symbols"),
        (status = 400, description = "The STM is empty"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 503, description = "A store is unavailable; nothing was learned"),
    ))]
pub(crate) async fn learn(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
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
        Ok(Json(json!({
            "status": "learned",
            "pattern_name": name,
            "session_id": id,
            "processor_id": Value::Null,
            "message": format!("Learned pattern {name} from {} events", session.stm.len()),
        })))
    })
    .await
}

/// Empties the STM and the accumulators.
#[utoipa::path(post, path = "/sessions/{session_id}/clear-stm", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, description = "`{status: \"cleared\", session_id}`"), (status = 404, description = "SESSION_NOT_FOUND")))]
pub(crate) async fn clear_stm(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        locked.state.clear_stm();
        locked.save(&app).await?;
        Ok(Json(json!({ "status": "cleared", "session_id": id })))
    })
    .await
}

/// Wipes the node's whole knowledge base (every session of the node sees it), then clears
/// this session's STM.
#[utoipa::path(post, path = "/sessions/{session_id}/clear-all", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`{status: \"cleared\", session_id, scope: \"all\"}`"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn clear_all(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    to_completion(app.admit()?, async move {
        let mut locked = LockedSession::acquire(&app, &id).await?;
        let kb_id = locked.state.kb_id.clone();
        let outcome = app.kb().clear_all(&kb_id).await.map_err(ApiError::from);
        locked.state.clear_stm();
        locked.finish(&app, outcome).await?;
        Ok(Json(
            json!({ "status": "cleared", "session_id": id, "scope": "all" }),
        ))
    })
    .await
}

/// Predictions for the session's STM, computed now with the session's configuration.
#[utoipa::path(get, path = "/sessions/{session_id}/predictions", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`{predictions, future_potentials, session_id, processor_id, count, time, unique_id}`"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn predictions(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let config = session.effective_config(&app.settings().defaults);
    let found = memory::predict(&app, &session.kb_id, &session.stm, &config).await?;
    Ok(Json(json!({
        "predictions": found.predictions,
        "future_potentials": found.future_potentials,
        "session_id": id,
        "processor_id": Value::Null,
        "count": found.predictions.len(),
        "time": Value::Null,
        "unique_id": Value::Null,
    })))
}

/// What the last observation carried.
#[utoipa::path(get, path = "/sessions/{session_id}/percept-data", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses((status = 200, description = "`{percept_data, session_id, node_id}`"), (status = 404, description = "SESSION_NOT_FOUND")))]
pub(crate) async fn percept_data(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    let (session, _) = read_session(&app, &id).await?;
    let percept = match &session.percept {
        Some(percept) => json!({
            "strings": percept.strings,
            "vectors": percept.vectors,
            "emotives": keywise_means(&session.emotives_accumulator)
                .into_iter()
                .map(|(key, mean)| (key, Value::from(mean)))
                .collect::<Map<String, Value>>(),
            "path": [],
            "metadata": percept.metadata,
        }),
        None => json!({}),
    };
    Ok(Json(json!({
        "percept_data": percept,
        "session_id": id,
        "node_id": session.node_id,
    })))
}

/// The session's cognition: predictions from the last observe, emotives, STM and time.
#[utoipa::path(get, path = "/sessions/{session_id}/cognition-data", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`{cognition_data, session_id, node_id}`"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn cognition_data(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
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
    let symbols: Vec<&str> = session
        .stm
        .events()
        .iter()
        .flat_map(|event| event.iter().map(|symbol| symbol.as_str()))
        .collect();
    Ok(Json(json!({
        "cognition_data": {
            "predictions": predictions,
            "emotives": session.emotives_accumulator.last().cloned().unwrap_or_default(),
            "symbols": symbols,
            "command": "",
            "metadata": {},
            "path": [],
            "strings": [],
            "vectors": [],
            "short_term_memory": session.stm,
            "time": session.time,
        },
        "session_id": id,
        "node_id": session.node_id,
    })))
}

/// The reference's post-training step. Learns here are durable and every statistic is kept
/// up to date as they happen, so there is nothing to flush or precompute: this reports the
/// node's pattern count.
#[utoipa::path(post, path = "/sessions/{session_id}/finalize-training", tag = "memory",
    params(("session_id" = String, Path, description = "The session")),
    responses(
        (status = 200, description = "`{status: \"completed\", patterns_processed, time_ms, session_id, node_id, message}`"),
        (status = 404, description = "SESSION_NOT_FOUND"),
        (status = 503, description = "A store is unavailable"),
    ))]
pub(crate) async fn finalize_training(
    State(app): State<AppState>,
    ValidPath(id): ValidPath<String>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let (session, _) = read_session(&app, &id).await?;
    let patterns = app.kb().count_patterns(&session.kb_id).await?;
    let time_ms = (started.elapsed().as_secs_f64() * 1e5).round() / 100.0;
    Ok(Json(json!({
        "status": "completed",
        "patterns_processed": patterns,
        "time_ms": time_ms,
        "session_id": id,
        "node_id": session.node_id,
        "message": format!("Training finalized: {patterns} patterns ready"),
    })))
}
