//! Start-up configuration: flags with environment fallbacks (the reference's variable names
//! where it has one), checked before anything starts.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use clap::builder::BoolishValueParser;
use kato_clickhouse::Topology;
use kato_kb::{KbError, SessionConfig};
use serde_json::Value;

use crate::error::ApiError;

/// The KATO-compatible HTTP service.
#[derive(Debug, Clone, Parser)]
#[command(name = "kato-server", version, about)]
pub struct ServerArgs {
    /// Address of the API listener.
    #[arg(
        long,
        env = "KATO_LISTEN",
        value_name = "KATO_LISTEN",
        default_value = "127.0.0.1:8000"
    )]
    pub listen: SocketAddr,
    /// Address of the admin listener (Prometheus metrics at `/metrics`); none when unset.
    #[arg(long, env = "KATO_ADMIN_LISTEN", value_name = "KATO_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// ClickHouse HTTP URL.
    #[arg(
        long,
        env = "KATO_CLICKHOUSE_URL",
        value_name = "KATO_CLICKHOUSE_URL",
        default_value = "http://127.0.0.1:8123"
    )]
    pub clickhouse_url: String,
    /// ClickHouse database (created with the schema at start).
    #[arg(
        long,
        env = "KATO_CLICKHOUSE_DATABASE",
        value_name = "KATO_CLICKHOUSE_DATABASE",
        default_value = "kato"
    )]
    pub clickhouse_database: String,
    /// The ClickHouse cluster (in the servers' `remote_servers`) whose replicated, distributed
    /// tables to use; unset for one server. See docs/operations.md, "Scaling out".
    #[arg(
        long,
        env = "KATO_CLICKHOUSE_CLUSTER",
        value_name = "KATO_CLICKHOUSE_CLUSTER"
    )]
    pub clickhouse_cluster: Option<String>,
    /// Redis URL; a comma-separated list of nodes for a Redis Cluster.
    #[arg(
        long,
        env = "KATO_REDIS_URL",
        value_name = "KATO_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Suffix of every kb id (`{node}_{service}`), as the reference's `SERVICE_NAME`.
    #[arg(
        long,
        env = "SERVICE_NAME",
        value_name = "SERVICE_NAME",
        default_value = "kato"
    )]
    pub service_name: String,
    /// Sliding session TTL in seconds (60..=86400).
    #[arg(long, env = "SESSION_TTL", value_name = "SESSION_TTL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub session_ttl: u64,
    /// Largest request body in bytes; bigger ones get 413.
    #[arg(
        long,
        env = "KATO_MAX_BODY_BYTES",
        value_name = "KATO_MAX_BODY_BYTES",
        default_value_t = 10 * 1024 * 1024
    )]
    pub max_body_bytes: usize,
    /// Most observations per observe-sequence and sequences per learn-sequences request.
    #[arg(
        long,
        env = "KATO_MAX_ITEMS_PER_REQUEST",
        value_name = "KATO_MAX_ITEMS_PER_REQUEST",
        default_value_t = 10_000
    )]
    pub max_items_per_request: usize,
    /// Most symbols in one event.
    #[arg(
        long,
        env = "KATO_MAX_SYMBOLS_PER_EVENT",
        value_name = "KATO_MAX_SYMBOLS_PER_EVENT",
        default_value_t = 1_000
    )]
    pub max_symbols_per_event: usize,
    /// Longest symbol, in bytes of UTF-8.
    #[arg(
        long,
        env = "KATO_MAX_SYMBOL_BYTES",
        value_name = "KATO_MAX_SYMBOL_BYTES",
        default_value_t = 4_096
    )]
    pub max_symbol_bytes: usize,
    /// Longest node id, in bytes of UTF-8.
    #[arg(
        long,
        env = "KATO_MAX_NODE_ID_BYTES",
        value_name = "KATO_MAX_NODE_ID_BYTES",
        default_value_t = 1024
    )]
    pub max_node_id_bytes: usize,
    /// How long a request may take, in milliseconds; one still running then answers 503.
    /// ClickHouse calls give up after twice this time.
    #[arg(
        long,
        env = "KATO_REQUEST_TIMEOUT_MS",
        value_name = "KATO_REQUEST_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub request_timeout_ms: u64,
    /// Most session changes (observe, learn, ...) running at once, counting those that go on
    /// after their request answered at the deadline; one more answers 503 at once.
    #[arg(
        long,
        env = "KATO_MAX_IN_FLIGHT",
        value_name = "KATO_MAX_IN_FLIGHT",
        default_value_t = 256
    )]
    pub max_in_flight: u32,
    /// Events a session's STM keeps (and entries each of its accumulators keeps): the newest
    /// ones, older ones slide out, as in the reference (whose window is 1000).
    #[arg(
        long,
        env = "KATO_MAX_STM_EVENTS",
        value_name = "KATO_MAX_STM_EVENTS",
        default_value_t = 1_000
    )]
    pub max_stm_events: usize,
    /// Largest stored session state, in bytes of JSON; a change that would store more is
    /// refused (422) and changes nothing of the session.
    #[arg(
        long,
        env = "KATO_MAX_SESSION_BYTES",
        value_name = "KATO_MAX_SESSION_BYTES",
        default_value_t = 16 * 1024 * 1024
    )]
    pub max_session_bytes: usize,
    /// Memory for the resident indexes predictions search, in bytes, for every kb together
    /// (about 200 bytes per pattern): past it the least recently searched kbs are evicted
    /// and reloaded when searched again; a kb that alone needs more answers 503.
    #[arg(
        long,
        env = "KATO_INDEX_MEMORY_BYTES",
        value_name = "KATO_INDEX_MEMORY_BYTES",
        default_value_t = 4 * 1024 * 1024 * 1024
    )]
    pub index_memory_bytes: usize,
    /// Most WebSocket event clients (`/ws/events`, `/ws`) at once; one more answers 503.
    #[arg(
        long,
        env = "KATO_MAX_WS_CONNECTIONS",
        value_name = "KATO_MAX_WS_CONNECTIONS",
        default_value_t = 1_000
    )]
    pub max_ws_connections: usize,
    /// Default auto-learn threshold in events (0 = off).
    #[arg(
        long,
        env = "MAX_PATTERN_LENGTH",
        value_name = "MAX_PATTERN_LENGTH",
        default_value_t = 0
    )]
    pub max_pattern_length: u64,
    /// Default emotive window per pattern (1..=100).
    #[arg(
        long,
        env = "PERSISTENCE",
        value_name = "PERSISTENCE",
        default_value_t = 5
    )]
    pub persistence: u32,
    /// Default prediction similarity cut-off (0..=1).
    #[arg(
        long,
        env = "RECALL_THRESHOLD",
        value_name = "RECALL_THRESHOLD",
        default_value_t = 0.1
    )]
    pub recall_threshold: f64,
    /// Default auto-learn mode, `CLEAR` or `ROLLING`.
    #[arg(long, env = "STM_MODE", value_name = "STM_MODE", default_value = "CLEAR",
          value_parser = ["CLEAR", "ROLLING"])]
    pub stm_mode: String,
    /// Accepted for compatibility: `VI`, `LSH`, `ANNOY` or `FAISS`.
    #[arg(
        long,
        env = "INDEXER_TYPE",
        value_name = "INDEXER_TYPE",
        default_value = "VI"
    )]
    pub indexer_type: String,
    /// Default number of predictions (1..=10000).
    #[arg(
        long,
        env = "MAX_PREDICTIONS",
        value_name = "MAX_PREDICTIONS",
        default_value_t = 100
    )]
    pub max_predictions: u32,
    /// Sort the symbols of an event by default.
    #[arg(long, env = "SORT_SYMBOLS", value_name = "SORT_SYMBOLS", default_value = "true",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub sort_symbols: bool,
    /// Keep what predictions need at each observe by default (`cognition-data`).
    #[arg(long, env = "PROCESS_PREDICTIONS", value_name = "PROCESS_PREDICTIONS", default_value = "true",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub process_predictions: bool,
    /// Token matching (true) or character matching (false) by default.
    #[arg(long, env = "USE_TOKEN_MATCHING", value_name = "USE_TOKEN_MATCHING", default_value = "true",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub use_token_matching: bool,
    /// Default fuzzy token threshold (0..=1); unset means exact tokens.
    #[arg(
        long,
        env = "FUZZY_TOKEN_THRESHOLD",
        value_name = "FUZZY_TOKEN_THRESHOLD"
    )]
    pub fuzzy_token_threshold: Option<f64>,
    /// When set, every route except `/health` (and the admin listener's) requires
    /// `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "KATO_API_TOKEN",
        value_name = "KATO_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<ApiToken>,
    /// A file holding the ClickHouse URL (a mounted secret, say); when set it replaces
    /// `KATO_CLICKHOUSE_URL`. Surrounding whitespace is ignored.
    #[arg(
        long,
        env = "KATO_CLICKHOUSE_URL_FILE",
        value_name = "KATO_CLICKHOUSE_URL_FILE"
    )]
    pub clickhouse_url_file: Option<std::path::PathBuf>,
    /// A file holding the Redis URL; when set it replaces `KATO_REDIS_URL`.
    #[arg(long, env = "KATO_REDIS_URL_FILE", value_name = "KATO_REDIS_URL_FILE")]
    pub redis_url_file: Option<std::path::PathBuf>,
    /// A file holding the API token; when set it replaces `KATO_API_TOKEN`.
    #[arg(long, env = "KATO_API_TOKEN_FILE", value_name = "KATO_API_TOKEN_FILE")]
    pub api_token_file: Option<std::path::PathBuf>,
    /// Default ranking key.
    #[arg(
        long,
        env = "RANK_SORT_ALGO",
        value_name = "RANK_SORT_ALGO",
        default_value = "potential"
    )]
    pub rank_sort_algo: String,
}

/// What one request may carry and take; each limit answers 413 (the body), 422 or 503 (time
/// and work) naming its variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `KATO_MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `KATO_MAX_ITEMS_PER_REQUEST`.
    pub max_items_per_request: usize,
    /// `KATO_MAX_SYMBOLS_PER_EVENT`.
    pub max_symbols_per_event: usize,
    /// `KATO_MAX_SYMBOL_BYTES`.
    pub max_symbol_bytes: usize,
    /// `KATO_MAX_NODE_ID_BYTES`.
    pub max_node_id_bytes: usize,
    /// `KATO_REQUEST_TIMEOUT_MS`.
    pub request_timeout: Duration,
    /// `KATO_MAX_IN_FLIGHT`.
    pub max_in_flight: u32,
    /// `KATO_MAX_STM_EVENTS`.
    pub max_stm_events: usize,
    /// `KATO_MAX_SESSION_BYTES`.
    pub max_session_bytes: usize,
}

impl Limits {
    /// At most `max_items_per_request` items in the list at `loc`.
    pub(crate) fn check_items(&self, loc: &[&str], count: usize) -> Result<(), ApiError> {
        let limit = self.max_items_per_request;
        if count > limit {
            return Err(too_long(
                loc.iter().map(|part| Value::from(*part)).collect(),
                format!(
                    "{count} items; the limit is {limit} per request (KATO_MAX_ITEMS_PER_REQUEST)"
                ),
            ));
        }
        Ok(())
    }

    /// One event's symbols at `loc`: at most `max_symbols_per_event`, each at most
    /// `max_symbol_bytes` long.
    pub(crate) fn check_event(&self, loc: Vec<Value>, symbols: &[String]) -> Result<(), ApiError> {
        if symbols.len() > self.max_symbols_per_event {
            return Err(too_long(
                loc,
                format!(
                    "{} symbols in one event; the limit is {} (KATO_MAX_SYMBOLS_PER_EVENT)",
                    symbols.len(),
                    self.max_symbols_per_event
                ),
            ));
        }
        if let Some(index) = symbols
            .iter()
            .position(|symbol| symbol.len() > self.max_symbol_bytes)
        {
            let mut loc = loc;
            loc.push(Value::from(index));
            return Err(too_long(
                loc,
                format!(
                    "a symbol of {} bytes; the limit is {} (KATO_MAX_SYMBOL_BYTES)",
                    symbols[index].len(),
                    self.max_symbol_bytes
                ),
            ));
        }
        Ok(())
    }

    /// A session state of `bytes` bytes of JSON at most `max_session_bytes` long.
    pub(crate) fn check_session_size(&self, bytes: usize) -> Result<(), ApiError> {
        if bytes > self.max_session_bytes {
            return Err(too_long(
                vec![Value::from("body")],
                format!(
                    "the session would hold {bytes} bytes; the limit is {} \
                     (KATO_MAX_SESSION_BYTES): the session was not updated, learns made by this \
                     request stay learned",
                    self.max_session_bytes
                ),
            ));
        }
        Ok(())
    }

    /// A node id at `loc` at most `max_node_id_bytes` long.
    pub(crate) fn check_node_id(&self, loc: Vec<Value>, node_id: &str) -> Result<(), ApiError> {
        if node_id.len() > self.max_node_id_bytes {
            return Err(too_long(
                loc,
                format!(
                    "a node id of {} bytes; the limit is {} (KATO_MAX_NODE_ID_BYTES)",
                    node_id.len(),
                    self.max_node_id_bytes
                ),
            ));
        }
        Ok(())
    }
}

fn too_long(loc: Vec<Value>, msg: String) -> ApiError {
    ApiError::invalid_field(loc, "too_long", msg, Value::Null)
}

/// A bearer token; never printed (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Whether `offered` is this token, comparing every byte (no early exit on a mismatch).
    pub fn matches(&self, offered: &str) -> bool {
        let (expected, offered) = (self.0.as_bytes(), offered.as_bytes());
        expected.len() == offered.len()
            && expected
                .iter()
                .zip(offered)
                .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    }
}

impl std::str::FromStr for ApiToken {
    type Err = String;

    fn from_str(token: &str) -> Result<Self, String> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "a token is one or more printable ASCII characters without spaces".to_owned(),
            );
        }
        Ok(Self(token.to_owned()))
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl ServerArgs {
    /// The request limits; each must be at least 1 (the error names the variable).
    pub fn limits(&self) -> Result<Limits, String> {
        for (variable, value) in [
            ("KATO_MAX_BODY_BYTES", self.max_body_bytes as u64),
            (
                "KATO_MAX_ITEMS_PER_REQUEST",
                self.max_items_per_request as u64,
            ),
            (
                "KATO_MAX_SYMBOLS_PER_EVENT",
                self.max_symbols_per_event as u64,
            ),
            ("KATO_MAX_SYMBOL_BYTES", self.max_symbol_bytes as u64),
            ("KATO_MAX_NODE_ID_BYTES", self.max_node_id_bytes as u64),
            ("KATO_REQUEST_TIMEOUT_MS", self.request_timeout_ms),
            ("KATO_MAX_IN_FLIGHT", u64::from(self.max_in_flight)),
            ("KATO_MAX_STM_EVENTS", self.max_stm_events as u64),
            ("KATO_MAX_SESSION_BYTES", self.max_session_bytes as u64),
            ("KATO_INDEX_MEMORY_BYTES", self.index_memory_bytes as u64),
            ("KATO_MAX_WS_CONNECTIONS", self.max_ws_connections as u64),
        ] {
            if value == 0 {
                return Err(format!("invalid {variable}: must be at least 1"));
            }
        }
        Ok(Limits {
            max_body_bytes: self.max_body_bytes,
            max_items_per_request: self.max_items_per_request,
            max_symbols_per_event: self.max_symbols_per_event,
            max_symbol_bytes: self.max_symbol_bytes,
            max_node_id_bytes: self.max_node_id_bytes,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_in_flight: self.max_in_flight,
            max_stm_events: self.max_stm_events,
            max_session_bytes: self.max_session_bytes,
        })
    }

    /// These arguments with the secrets of the `*_FILE` settings read in; an unreadable file
    /// or a bad token names its variable, never the file's content.
    pub fn with_secret_files(&self) -> Result<Self, String> {
        fn read(variable: &str, path: &std::path::Path) -> Result<String, String> {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|error| format!("cannot read {variable} {}: {error}", path.display()))
        }
        let mut args = self.clone();
        if let Some(path) = &self.clickhouse_url_file {
            args.clickhouse_url = read("KATO_CLICKHOUSE_URL_FILE", path)?;
        }
        if let Some(path) = &self.redis_url_file {
            args.redis_url = read("KATO_REDIS_URL_FILE", path)?;
        }
        if let Some(path) = &self.api_token_file {
            let token = read("KATO_API_TOKEN_FILE", path)?;
            args.api_token = Some(
                token
                    .parse()
                    .map_err(|error| format!("invalid KATO_API_TOKEN_FILE: {error}"))?,
            );
        }
        Ok(args)
    }

    /// The ClickHouse topology `KATO_CLICKHOUSE_CLUSTER` names.
    pub fn clickhouse_topology(&self) -> Result<Topology, String> {
        match self.clickhouse_cluster.as_deref() {
            None | Some("") => Ok(Topology::Single),
            Some(name) => Topology::cluster(name)
                .map_err(|error| format!("invalid KATO_CLICKHOUSE_CLUSTER: {error}")),
        }
    }

    /// The arguments with every default, for the stores at the given URLs (tests, embedding).
    pub fn for_stores(clickhouse_url: &str, clickhouse_database: &str, redis_url: &str) -> Self {
        let mut args = Self::parse_from(["kato-server"]);
        args.clickhouse_url = clickhouse_url.to_owned();
        args.clickhouse_database = clickhouse_database.to_owned();
        args.redis_url = redis_url.to_owned();
        args
    }

    /// The defaults every session starts from; errors name the environment variable.
    pub fn session_defaults(&self) -> Result<SessionConfig, String> {
        let defaults = SessionConfig {
            max_pattern_length: Some(self.max_pattern_length),
            persistence: Some(self.persistence),
            recall_threshold: Some(self.recall_threshold),
            stm_mode: Some(self.stm_mode.clone()),
            indexer_type: Some(self.indexer_type.clone()),
            max_predictions: Some(self.max_predictions),
            sort_symbols: Some(self.sort_symbols),
            process_predictions: Some(self.process_predictions),
            use_token_matching: Some(self.use_token_matching),
            fuzzy_token_threshold: self.fuzzy_token_threshold,
            rank_sort_algo: Some(self.rank_sort_algo.clone()),
            ..SessionConfig::reference_filter_defaults()
        };
        defaults.validate().map_err(|error| match error {
            KbError::InvalidInput { field, reason } => {
                format!("invalid {}: {reason}", field.to_ascii_uppercase())
            }
            other => other.to_string(),
        })?;
        Ok(defaults)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_or_in_flight_limit_of_zero_or_no_number_is_refused_by_name() {
        for (flag, variable) in [
            ("--request-timeout-ms", "KATO_REQUEST_TIMEOUT_MS"),
            ("--max-in-flight", "KATO_MAX_IN_FLIGHT"),
        ] {
            let zero = ServerArgs::try_parse_from(["kato-server", flag, "0"]).unwrap();
            let refused = zero.limits().unwrap_err();
            assert!(refused.contains(variable), "{refused}");
            let garbled = ServerArgs::try_parse_from(["kato-server", flag, "soon"]).unwrap_err();
            assert!(garbled.to_string().contains(variable), "{garbled}");
        }
        let limits = ServerArgs::try_parse_from(["kato-server"])
            .unwrap()
            .limits()
            .unwrap();
        assert_eq!(limits.request_timeout, Duration::from_secs(10));
        assert_eq!(limits.max_in_flight, 256);
    }

    #[test]
    fn secrets_come_from_files_that_replace_the_variables() {
        let dir = std::env::temp_dir().join(format!("kato-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let clickhouse = write("clickhouse", "http://kato:s3cret@db:8123\n");
        let redis = write("redis", "redis://:pw@cache:6379\n");
        let token = write("token", "t0ken\n");
        let args = ServerArgs::try_parse_from([
            "kato-server",
            "--clickhouse-url-file",
            &clickhouse,
            "--redis-url-file",
            &redis,
            "--api-token-file",
            &token,
        ])
        .unwrap()
        .with_secret_files()
        .unwrap();
        assert_eq!(args.clickhouse_url, "http://kato:s3cret@db:8123");
        assert_eq!(args.redis_url, "redis://:pw@cache:6379");
        assert!(args.api_token.unwrap().matches("t0ken"));

        let bad_token = write("bad", "two words");
        let missing = dir.join("missing").display().to_string();
        for (flag, path, variable) in [
            ("--api-token-file", &bad_token, "KATO_API_TOKEN_FILE"),
            ("--redis-url-file", &missing, "KATO_REDIS_URL_FILE"),
        ] {
            let refused = ServerArgs::try_parse_from(["kato-server", flag, path])
                .unwrap()
                .with_secret_files()
                .unwrap_err();
            assert!(refused.contains(variable), "{refused}");
            assert!(!refused.contains("two words"), "{refused}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_clickhouse_cluster_name_is_an_identifier_or_refused_by_name() {
        let parse = |args: &[&str]| {
            ServerArgs::try_parse_from([&["kato-server"], args].concat())
                .unwrap()
                .clickhouse_topology()
        };
        assert_eq!(parse(&[]), Ok(Topology::Single));
        assert_eq!(
            parse(&["--clickhouse-cluster", "kato_cluster"]),
            Ok(Topology::Cluster("kato_cluster".to_owned()))
        );
        let refused = parse(&["--clickhouse-cluster", "a b"]).unwrap_err();
        assert!(refused.contains("KATO_CLICKHOUSE_CLUSTER"), "{refused}");
    }
}
