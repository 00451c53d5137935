//! A session's state as stored in Redis, and the lock-read-write cycle every change goes
//! through.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use kato_core::{KbId, Stm};
use kato_kb::{ObservedVector, SessionConfig};
use kato_redis::{SaveOutcome, SessionLock};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::OwnedSemaphorePermit;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::memory::PredictionSource;
use crate::state::AppState;
use crate::time::iso_utc;

/// What the last observation carried, for `percept-data`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Percept {
    pub(crate) strings: Vec<String>,
    pub(crate) vectors: Vec<Vec<f64>>,
    #[serde(default)]
    pub(crate) metadata: Map<String, Value>,
}

/// Everything the service keeps of one session. Fields a newer version adds must default
/// (`#[serde(default)]`), and unknown fields are ignored, so instances of two versions can
/// share sessions during a rolling deploy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionState {
    pub(crate) session_id: String,
    pub(crate) node_id: String,
    pub(crate) kb_id: KbId,
    pub(crate) created_at: SystemTime,
    /// The sliding TTL.
    pub(crate) ttl_seconds: u64,
    /// The client's metadata from creation.
    #[serde(default)]
    pub(crate) metadata: Map<String, Value>,
    /// The session's configuration overrides.
    #[serde(default)]
    pub(crate) config: SessionConfig,
    #[serde(default)]
    pub(crate) stm: Stm,
    #[serde(default)]
    pub(crate) emotives_accumulator: Vec<BTreeMap<String, f64>>,
    #[serde(default)]
    pub(crate) metadata_accumulator: Vec<Map<String, Value>>,
    /// Observations since the last clear.
    #[serde(default)]
    pub(crate) time: u64,
    #[serde(default)]
    pub(crate) percept: Option<Percept>,
    /// What `cognition-data` predicts from.
    #[serde(default)]
    pub(crate) prediction_source: PredictionSource,
    /// Vectors observed since the last learn, stored as learned when the session learns
    /// (per session, so no session's vectors reach another's learn).
    #[serde(default)]
    pub(crate) pending_vectors: Vec<ObservedVector>,
}

impl SessionState {
    pub(crate) fn new(
        session_id: String,
        node_id: String,
        kb_id: KbId,
        metadata: Map<String, Value>,
        config: SessionConfig,
        ttl_seconds: u64,
    ) -> Self {
        Self {
            session_id,
            node_id,
            kb_id,
            created_at: SystemTime::now(),
            ttl_seconds,
            metadata,
            config,
            stm: Stm::new(),
            emotives_accumulator: Vec::new(),
            metadata_accumulator: Vec::new(),
            time: 0,
            percept: None,
            prediction_source: PredictionSource::Nothing,
            pending_vectors: Vec::new(),
        }
    }

    pub(crate) fn from_json(text: &str) -> Result<Self, ApiError> {
        serde_json::from_str(text).map_err(|e| ApiError::CorruptSession(e.to_string()))
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("session state serializes")
    }

    /// The session's overrides over the server's defaults.
    pub(crate) fn effective_config(&self, defaults: &SessionConfig) -> SessionConfig {
        self.config.merged_over(defaults)
    }

    /// Forgets the STM, the accumulators and what the last observation left (clear-stm).
    pub(crate) fn clear_stm(&mut self) {
        self.stm = Stm::new();
        self.reset_accumulators();
        self.time = 0;
        self.percept = None;
        self.prediction_source = PredictionSource::Nothing;
    }

    /// Forgets the emotives and metadata gathered since the last learn or clear.
    pub(crate) fn reset_accumulators(&mut self) {
        self.emotives_accumulator.clear();
        self.metadata_accumulator.clear();
    }

    /// Keeps the newest `kept` entries of the STM and of each accumulator only, as the
    /// reference does (with 1000) on every save.
    pub(crate) fn trim(&mut self, kept: usize) {
        fn keep_newest<T>(list: &mut Vec<T>, kept: usize) {
            if list.len() > kept {
                list.drain(..list.len() - kept);
            }
        }
        if self.stm.len() > kept {
            let events = std::mem::take(&mut self.stm).into_events();
            self.stm = Stm::from(events[events.len() - kept..].to_vec());
        }
        keep_newest(&mut self.emotives_accumulator, kept);
        keep_newest(&mut self.metadata_accumulator, kept);
        keep_newest(&mut self.pending_vectors, kept);
    }

    /// The reference's `SessionResponse`, with the session expiring `ttl_seconds` from now.
    pub(crate) fn response(&self, defaults: &SessionConfig, ttl_seconds: u64) -> SessionResponse {
        let expires = SystemTime::now() + Duration::from_secs(ttl_seconds);
        SessionResponse {
            session_id: self.session_id.clone(),
            node_id: self.node_id.clone(),
            created_at: iso_utc(self.created_at),
            expires_at: iso_utc(expires),
            ttl_seconds,
            metadata: self.metadata.clone(),
            session_config: self.effective_config(defaults),
        }
    }
}

/// The reference's `SessionResponse` (create and get).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionResponse {
    session_id: String,
    node_id: String,
    /// ISO 8601, UTC.
    created_at: String,
    /// ISO 8601, UTC: now plus the TTL.
    expires_at: String,
    ttl_seconds: u64,
    /// The client's metadata from creation.
    #[schema(value_type = Object)]
    metadata: Map<String, Value>,
    /// The effective configuration: the session's keys over the server's defaults.
    session_config: SessionConfig,
}

/// A session held under its write lock: read fresh after locking, written back by
/// [`LockedSession::save`], released by [`LockedSession::release`] on every path.
#[derive(Debug)]
pub(crate) struct LockedSession {
    lock: SessionLock,
    pub(crate) state: SessionState,
}

impl LockedSession {
    /// Locks session `id` and reads it.
    pub(crate) async fn acquire(app: &AppState, id: &str) -> Result<Self, ApiError> {
        let sessions = app.sessions();
        let Some((lock, stored)) = sessions.lock(id).await? else {
            return Err(ApiError::SessionNotFound(id.to_owned()));
        };
        match SessionState::from_json(&stored.state) {
            Ok(state) => Ok(Self { lock, state }),
            Err(error) => {
                sessions.unlock(lock).await?;
                Err(error)
            }
        }
    }

    /// Writes the state back (only while this request still holds the lock) and unlocks.
    pub(crate) async fn save(mut self, app: &AppState) -> Result<SessionState, ApiError> {
        let limits = app.settings().limits;
        self.state.trim(limits.max_stm_events);
        let json = self.state.to_json();
        if let Err(too_big) = limits.check_session_size(json.len()) {
            self.release(app).await;
            return Err(too_big);
        }
        let outcome = app
            .sessions()
            .save(self.lock, &json, self.state.ttl_seconds)
            .await?;
        match outcome {
            SaveOutcome::Saved => {
                app.events().count_session_write();
                Ok(self.state)
            }
            SaveOutcome::Gone => Err(ApiError::SessionNotFound(self.state.session_id)),
            SaveOutcome::LockLost => Err(ApiError::LeaseLost(format!(
                "session {} lost its lock before this request could save it: the session was not \
                 updated, learns made by this request stay learned",
                self.state.session_id
            ))),
        }
    }

    /// Unlocks without writing (the request failed; the session stays as it was).
    pub(crate) async fn release(self, app: &AppState) {
        if let Err(error) = app.sessions().unlock(self.lock).await {
            tracing::warn!(%error, "could not release a session lock; its lease will expire");
        }
    }

    /// Runs the request's outcome through: saves on success, releases on failure.
    pub(crate) async fn finish<R>(
        self,
        app: &AppState,
        outcome: Result<R, ApiError>,
    ) -> Result<(SessionState, R), ApiError> {
        match outcome {
            Ok(value) => Ok((self.save(app).await?, value)),
            Err(error) => {
                self.release(app).await;
                Err(error)
            }
        }
    }
}

/// Runs a change of session state to the end even if the client goes away or the request
/// answers at its deadline: a dropped request would otherwise stop between a learn and the
/// save that records it. The change holds its permit ([`AppState::admit`]) until it ends,
/// so changes left running by a hung store cannot pile up.
pub(crate) async fn to_completion<T: Send + 'static>(
    permit: OwnedSemaphorePermit,
    work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let outcome = work.await;
        drop(permit);
        if let Err(outcome) = answer.send(outcome) {
            // Nobody waits any more: the request answered at its deadline, or its client
            // went away.
            match outcome {
                Ok(_) => tracing::info!("a session change finished after its request answered"),
                Err(error) => {
                    tracing::warn!(%error, "a session change failed after its request answered");
                }
            }
        }
    });
    match answered.await {
        Ok(outcome) => outcome,
        // The task ended without answering: it panicked, or the runtime is shutting down.
        Err(_) => match task.await {
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            _ => Err(ApiError::ShuttingDown),
        },
    }
}

/// A session read without its lock (read-only routes), with its sliding TTL.
pub(crate) async fn read_session(
    app: &AppState,
    id: &str,
) -> Result<(SessionState, u64), ApiError> {
    match app.sessions().touch(id).await? {
        Some(stored) => Ok((SessionState::from_json(&stored.state)?, stored.ttl_seconds)),
        None => Err(ApiError::SessionNotFound(id.to_owned())),
    }
}
