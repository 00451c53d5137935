//! Live session events over WebSocket (spec `monitoring-and-events.md` section 6), delivered
//! to the clients of every instance.
//!
//! An event is published on a Redis channel (`SessionStore::events_channel`); each instance
//! subscribes to it and hands every message to its own clients through a bounded broadcast
//! queue. A client that does not keep up misses the events its queue could not hold (they are
//! counted, `kato_ws_events_dropped_total`), so no client ever holds up a request: publishing
//! is one Redis PUBLISH, never a send to a socket. When the PUBLISH fails, the event still
//! reaches this instance's clients. Sessions that expire by their Redis TTL are found by a
//! sweep each instance runs every [`SWEEP_EVERY`]; the instance whose sweep removes the
//! session's index entry announces `session.destroyed` (reason `expired`), so each expiry is
//! announced once.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kato_redis::{EventSubscription, SessionStore};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::state::AppState;
use crate::time::{iso_naive, iso_utc_offset};

/// Events queued for one client before it misses some.
const CLIENT_QUEUE: usize = 1024;

/// How often each instance looks for sessions that expired.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// This instance's event clients.
#[derive(Debug)]
pub(crate) struct Events {
    local: broadcast::Sender<Arc<str>>,
    connections: AtomicUsize,
    max_connections: usize,
    dropped: AtomicU64,
    /// Session events this instance published, and received from the channel.
    published: AtomicU64,
    relayed: AtomicU64,
    /// Session states this instance wrote to Redis (every instance reads them).
    session_writes: AtomicU64,
}

/// What this instance did to keep sessions shared (`/distributed-stm/stats`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SharingFigures {
    pub(crate) published: u64,
    pub(crate) relayed: u64,
    pub(crate) session_writes: u64,
}

impl Events {
    pub(crate) fn new(max_connections: usize) -> Self {
        Self {
            local: broadcast::channel(CLIENT_QUEUE).0,
            connections: AtomicUsize::new(0),
            max_connections,
            dropped: AtomicU64::new(0),
            published: AtomicU64::new(0),
            relayed: AtomicU64::new(0),
            session_writes: AtomicU64::new(0),
        }
    }

    /// A session state was written.
    pub(crate) fn count_session_write(&self) {
        self.session_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sharing(&self) -> SharingFigures {
        SharingFigures {
            published: self.published.load(Ordering::Relaxed),
            relayed: self.relayed.load(Ordering::Relaxed),
            session_writes: self.session_writes.load(Ordering::Relaxed),
        }
    }

    /// (clients connected now, events clients missed because their queue was full).
    pub(crate) fn figures(&self) -> (usize, u64) {
        (
            self.connections.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }

    fn deliver(&self, frame: Arc<str>) {
        // No receiver is no error: nobody listens here.
        let _ = self.local.send(frame);
    }
}

/// `{"event_type": ..., "timestamp": ..., "data": ...}` as the reference writes it (Python's
/// `json.dumps`: `", "` and `": "` separators, non-ASCII escaped).
fn frame(event_type: &str, timestamp: String, data: Value) -> String {
    python_json(&json!({
        "event_type": event_type,
        "timestamp": timestamp,
        "data": data,
    }))
}

/// Publishes an event to the clients of every instance.
pub(crate) async fn publish(app: &AppState, event_type: &str, data: Value) {
    let frame = frame(event_type, iso_utc_offset(SystemTime::now()), data);
    app.events().published.fetch_add(1, Ordering::Relaxed);
    if let Err(error) = app.sessions().publish_event(&frame).await {
        tracing::warn!(%error, event_type, "publishing an event failed; only this instance's clients get it");
        app.events().deliver(frame.into());
    }
}

/// `session.created` for `session_id` of `node_id`, created at `created_at`.
pub(crate) async fn session_created(
    app: &AppState,
    session_id: &str,
    node_id: &str,
    created_at: SystemTime,
) {
    let data = json!({
        "session_id": session_id,
        "node_id": node_id,
        "created_at": iso_utc_offset(created_at),
    });
    publish(app, "session.created", data).await;
}

/// `session.destroyed` for `session_id`, `reason` being `explicit_delete` or `expired`.
pub(crate) async fn session_destroyed(app: &AppState, session_id: &str, reason: &str) {
    let data = json!({
        "session_id": session_id,
        "destroyed_at": iso_utc_offset(SystemTime::now()),
        "reason": reason,
    });
    publish(app, "session.destroyed", data).await;
}

/// Relays the events channel to this instance's clients and sweeps for expired sessions,
/// until `events` is gone (its `AppState` dropped).
pub(crate) fn spawn_relay(app: &AppState, redis_url: String) {
    let sessions = app.sessions().clone();
    let weak = Arc::downgrade(app.events_arc());
    tokio::spawn(relay(weak.clone(), sessions.clone(), redis_url));
    let app = app.clone_weak();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        loop {
            ticks.tick().await;
            let Some(app) = app.upgrade() else {
                return;
            };
            match app.sessions().sweep().await {
                Ok(expired) => {
                    for id in expired {
                        session_destroyed(&app, &id, "expired").await;
                    }
                }
                Err(error) => tracing::debug!(%error, "the session sweep failed; trying again"),
            }
        }
    });
}

/// Subscribes to the events channel (again after any failure) and hands each message on.
async fn relay(events: Weak<Events>, sessions: SessionStore, redis_url: String) {
    let channel = sessions.events_channel();
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        if events.strong_count() == 0 {
            return;
        }
        let mut subscription = match EventSubscription::subscribe(&redis_url, &channel).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::debug!(%error, "subscribing to session events failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                message = subscription.next() => {
                    let Some(message) = message else { break };
                    let Some(events) = events.upgrade() else { return };
                    events.relayed.fetch_add(1, Ordering::Relaxed);
                    events.deliver(message.into());
                }
                _ = check.tick() => {
                    if events.strong_count() == 0 {
                        return;
                    }
                }
            }
        }
    }
}

/// The `token` query parameter a browser (which cannot set headers on a WebSocket) may use.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// `/ws/events` (and `/ws`): the snapshot, then every session event; `ping` is answered by
/// `pong`. With `KATO_API_TOKEN` set, the bearer header or the `token` query parameter must
/// carry it. More than `KATO_MAX_WS_CONNECTIONS` clients at once: 503.
pub(crate) async fn events_socket(
    State(app): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Some(token) = &app.settings().api_token {
        let offered = crate::middleware::bearer(&headers).or(query.token.as_deref());
        if !offered.is_some_and(|offered| token.matches(offered)) {
            return ApiError::Unauthorized.into_response();
        }
    }
    let events = Arc::clone(app.events_arc());
    let admitted = events
        .connections
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            (now < events.max_connections).then_some(now + 1)
        })
        .is_ok();
    if !admitted {
        return ApiError::Unavailable(format!(
            "{} event clients are connected, the most KATO_MAX_WS_CONNECTIONS allows",
            events.max_connections
        ))
        .into_response();
    }
    // Subscribed before the upgrade: no event published after this answer is missed.
    let receiver = events.local.subscribe();
    upgrade.on_upgrade(move |socket| async move {
        serve_client(&app, socket, receiver).await;
        events.connections.fetch_sub(1, Ordering::AcqRel);
    })
}

async fn serve_client(
    app: &AppState,
    mut socket: WebSocket,
    mut receiver: broadcast::Receiver<Arc<str>>,
) {
    if let Ok(active) = app.sessions().count().await {
        let snapshot = frame(
            "state.snapshot",
            iso_naive(SystemTime::now()),
            json!({"active_sessions": active, "system_status": "healthy"}),
        );
        if socket.send(Message::Text(snapshot.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            event = receiver.recv() => match event {
                Ok(frame) => {
                    if socket.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    app.events().dropped.fetch_add(missed, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if text.as_str() == "ping"
                        && socket.send(Message::Text("pong".into())).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                // A binary frame, a close, an error or the end: the client is gone.
                _ => return,
            },
        }
    }
}

/// JSON as Python's `json.dumps` writes it by default.
fn python_json(value: &Value) -> String {
    use serde::Serialize;
    let mut bytes = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, PythonFormatter);
    value
        .serialize(&mut serializer)
        .expect("a JSON value serializes");
    String::from_utf8(bytes).expect("the formatter writes ASCII")
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_written_as_python_writes_them() {
        let text = frame(
            "session.created",
            "2026-04-27T10:11:12.345678+00:00".to_owned(),
            json!({"session_id": "s", "node_id": "ü🎉", "n": [1, 2]}),
        );
        assert_eq!(
            text,
            "{\"event_type\": \"session.created\", \"timestamp\": \
             \"2026-04-27T10:11:12.345678+00:00\", \"data\": {\"session_id\": \"s\", \
             \"node_id\": \"\\u00fc\\ud83c\\udf89\", \"n\": [1, 2]}}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["data"]["node_id"], "ü🎉");
    }
}
