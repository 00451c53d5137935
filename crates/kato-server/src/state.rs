//! What every request shares: the knowledge base, the session store, the settings and the
//! telemetry.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kato_clickhouse::BatchObserver;
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, SessionConfig};
use kato_redis::{RedisConfig, SessionStore, SessionStoreConfig};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{ApiToken, Limits, ServerArgs};
use crate::error::{ApiError, Store};
use crate::events::Events;
use crate::monitor::{self, Monitor};
use crate::node::kb_id_for_node;
use crate::telemetry::Telemetry;

/// Settings resolved at start.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The defaults every session's overrides apply over.
    pub defaults: SessionConfig,
    /// Sliding TTL of new sessions.
    pub session_ttl: u64,
    /// kb id suffix.
    pub service_name: String,
    /// What one request may carry.
    pub limits: Limits,
    /// The Redis URL without credentials, for `/status`.
    pub redis_url_public: String,
    /// `KATO_INDEX_MEMORY_BYTES`, for `/status`.
    pub index_memory_bytes: usize,
    /// The bearer token every route but `/health` requires, when set.
    pub api_token: Option<ApiToken>,
}

/// Shared by every request; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    kb: KnowledgeBase,
    sessions: SessionStore,
    settings: ServerSettings,
    /// One permit per session change running (`KATO_MAX_IN_FLIGHT`).
    in_flight: Arc<Semaphore>,
    telemetry: Arc<Telemetry>,
    /// The reference's JSON monitoring store, sampled by a task that ends with the state.
    monitor: Arc<Monitor>,
    /// The WebSocket event clients, fed by a relay task that ends with the state.
    events: Arc<Events>,
    started: Instant,
    started_at: SystemTime,
}

impl AppState {
    /// Checks the settings, connects to both stores and ensures the ClickHouse schema.
    pub async fn connect(args: &ServerArgs) -> Result<Self, ApiError> {
        let args = &args.with_secret_files().map_err(ApiError::InvalidSetting)?;
        let defaults = args.session_defaults().map_err(ApiError::InvalidSetting)?;
        let limits = args.limits().map_err(ApiError::InvalidSetting)?;
        kb_id_for_node("default_node", &args.service_name).map_err(|error| {
            ApiError::InvalidSetting(format!(
                "invalid SERVICE_NAME {:?}: it must make valid kb ids ({error})",
                args.service_name
            ))
        })?;
        let telemetry = Arc::new(Telemetry::new());
        let mut config = KnowledgeBaseConfig::new(&args.clickhouse_url, &args.redis_url);
        config
            .clickhouse_database
            .clone_from(&args.clickhouse_database);
        config.clickhouse_topology = args
            .clickhouse_topology()
            .map_err(ApiError::InvalidSetting)?;
        // A hung ClickHouse must not hold the work requests leave behind forever. Twice the
        // deadline: a request waiting on one call answers at its deadline first (with the
        // deadline's message), and a batch that was only slow still gets to commit.
        config.clickhouse_timeout = limits.request_timeout * 2;
        config.resident.memory_budget = args.index_memory_bytes;
        let observed = Arc::clone(&telemetry);
        config.learn_batch_observer = Some(BatchObserver::new(move |size| {
            observed.observe_learn_batch(size);
        }));
        let kb = KnowledgeBase::connect(config).await?;
        let connection = kato_redis::connect(&args.redis_url, &RedisConfig::default()).await?;
        let mut session_config = SessionStoreConfig::default();
        // A writer waiting for a busy session gives up (409) well within the deadline, leaving
        // it the other half for its own work.
        session_config.wait = session_config.wait.min(limits.request_timeout / 2);
        let sessions = SessionStore::new(connection, session_config);
        let monitor = Arc::new(Monitor::default());
        // The first sample at start (without CPU, which needs an interval).
        monitor.prime_cpu();
        monitor.sample_host();
        spawn_host_sampler(Arc::downgrade(&monitor));
        let events = Arc::new(Events::new(args.max_ws_connections));
        let state = Self {
            inner: Arc::new(Inner {
                kb,
                sessions,
                settings: ServerSettings {
                    defaults,
                    session_ttl: args.session_ttl,
                    service_name: args.service_name.clone(),
                    limits,
                    redis_url_public: kato_redis::without_password(&args.redis_url),
                    index_memory_bytes: args.index_memory_bytes,
                    api_token: args.api_token.clone(),
                },
                in_flight: Arc::new(Semaphore::new(limits.max_in_flight as usize)),
                telemetry,
                monitor,
                events,
                started: Instant::now(),
                started_at: SystemTime::now(),
            }),
        };
        crate::events::spawn_relay(&state, args.redis_url.clone());
        Ok(state)
    }

    /// A handle that does not keep the state alive (for background tasks).
    pub(crate) fn clone_weak(&self) -> WeakAppState {
        WeakAppState(Arc::downgrade(&self.inner))
    }

    /// The WebSocket event clients.
    pub(crate) fn events(&self) -> &Events {
        &self.inner.events
    }

    pub(crate) fn events_arc(&self) -> &Arc<Events> {
        &self.inner.events
    }

    /// The JSON monitoring store.
    pub(crate) fn monitor(&self) -> &Monitor {
        &self.inner.monitor
    }

    /// The knowledge base.
    pub fn kb(&self) -> &KnowledgeBase {
        &self.inner.kb
    }

    /// The session store.
    pub fn sessions(&self) -> &SessionStore {
        &self.inner.sessions
    }

    /// The settings.
    pub fn settings(&self) -> &ServerSettings {
        &self.inner.settings
    }

    /// A permit for one session change, held until the change is done (even past its
    /// request's deadline); 503 at once when `KATO_MAX_IN_FLIGHT` are running.
    pub(crate) fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        Arc::clone(&self.inner.in_flight)
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded {
                limit: self.inner.settings.limits.max_in_flight,
            })
    }

    /// Waits until every session change has finished, those whose request already answered
    /// at its deadline included (each ends within the store timeouts).
    pub async fn finish_in_flight(&self) {
        let all = self.inner.settings.limits.max_in_flight;
        // The semaphore is never closed, so this only waits.
        let _ = self.inner.in_flight.acquire_many(all).await;
    }

    /// Pings both stores at once, each given `patience`: what is wrong with each store, `None`
    /// for one that answered. `/health` reports them; a request past its deadline names the
    /// first store that did not answer.
    pub(crate) async fn store_issues(&self, patience: Duration) -> [(Store, Option<String>); 2] {
        self.store_checks(patience)
            .await
            .map(|(store, issue, _)| (store, issue))
    }

    /// [`Self::store_issues`] with how long each ping took, in milliseconds.
    pub(crate) async fn store_checks(
        &self,
        patience: Duration,
    ) -> [(Store, Option<String>, f64); 2] {
        async fn check<E: std::fmt::Display>(
            patience: Duration,
            ping: impl Future<Output = Result<(), E>>,
        ) -> (Option<String>, f64) {
            let started = Instant::now();
            let issue = match tokio::time::timeout(patience, ping).await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(format!("unreachable: {error}")),
                Err(_) => Some(format!("did not answer within {} ms", patience.as_millis())),
            };
            (issue, started.elapsed().as_secs_f64() * 1000.0)
        }
        let ((clickhouse, clickhouse_ms), (redis, redis_ms)) = tokio::join!(
            check(patience, self.kb().clickhouse().ping()),
            check(patience, self.kb().redis().ping()),
        );
        [
            (Store::ClickHouse, clickhouse, clickhouse_ms),
            (Store::Redis, redis, redis_ms),
        ]
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// Seconds since start.
    pub fn uptime_seconds(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    /// When the server started.
    pub fn started_at(&self) -> SystemTime {
        self.inner.started_at
    }
}

/// Samples the host into `monitor` 100 ms after start (the first CPU figure), then every
/// [`monitor::SAMPLE_EVERY`], until the state that owns it is gone.
fn spawn_host_sampler(monitor: std::sync::Weak<Monitor>) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut ticks = tokio::time::interval(monitor::SAMPLE_EVERY);
        loop {
            ticks.tick().await;
            let Some(monitor) = monitor.upgrade() else {
                return;
            };
            // /proc reads and one statvfs: short, but blocking.
            let _ = tokio::task::spawn_blocking(move || monitor.sample_host()).await;
        }
    });
}

/// An [`AppState`] that background tasks hold without keeping it alive.
#[derive(Debug, Clone)]
pub(crate) struct WeakAppState(std::sync::Weak<Inner>);

impl WeakAppState {
    /// The state, while something else still holds it.
    pub(crate) fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(|inner| AppState { inner })
    }
}
