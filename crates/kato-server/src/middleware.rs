//! Cross-cutting request handling, outermost first: trace id, bearer token, deadline, the
//! session guard, telemetry.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::{ApiError, StoreFailure};
use crate::state::AppState;

/// `X-Trace-ID`.
pub(crate) static TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
/// `X-Session-ID`.
pub(crate) static SESSION_ID: HeaderName = HeaderName::from_static("x-session-id");

/// Echoes the request's `X-Trace-ID` or gives the request a new one (`kato-<uuid hex>`), and
/// runs the request in a span carrying it.
pub(crate) async fn trace_id(request: Request, next: Next) -> Response {
    let trace_id = request
        .headers()
        .get(&TRACE_ID)
        .cloned()
        .unwrap_or_else(|| {
            let id = format!("kato-{}", uuid::Uuid::new_v4().simple());
            HeaderValue::from_str(&id).expect("a uuid is a valid header value")
        });
    let span = tracing::info_span!(
        "request",
        trace_id = trace_id.to_str().unwrap_or("<binary>"),
        method = %request.method(),
        path = request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(TRACE_ID.clone(), trace_id);
    response
}

/// Feeds the JSON monitoring store: every request in flight, and each answer (method, path
/// without the query, status, seconds) once it is given.
pub(crate) async fn monitor(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let response = {
        let _in_flight = app.monitor().enter();
        next.run(request).await
    };
    app.monitor().record_request(
        &method,
        &path,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Counts requests and their latency per route, and store failures per store.
pub(crate) async fn telemetry(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    app.telemetry()
        .observe_request(&method, &route, status, elapsed);
    if let Some(StoreFailure(store)) = response.extensions().get::<StoreFailure>() {
        app.telemetry().observe_store_error(*store);
    }
    tracing::debug!(status, elapsed_ms = elapsed * 1e3, "request done");
    response
}

/// Answers 503 for a request still running after `KATO_REQUEST_TIMEOUT_MS`, so requests
/// waiting on a store that hangs do not pile up. The request's future is dropped: a read
/// stops there; a session change goes on in its own task (`to_completion`). The detail names
/// a store that then does not answer a ping within a quarter of the deadline (at most 1 s),
/// when one does not.
/// These answers are counted under the route `deadline` (the route's own telemetry was
/// dropped with it).
pub(crate) async fn deadline(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let deadline = app.settings().limits.request_timeout;
    let started = Instant::now();
    let method = request.method().to_string();
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            // A quarter of the deadline, at most a second, to find a store that does not
            // answer: the 503 comes at most that much after the deadline.
            let patience = (deadline / 4).min(Duration::from_secs(1));
            let error = ApiError::DeadlineExceeded {
                deadline,
                stalled: app
                    .store_issues(patience)
                    .await
                    .into_iter()
                    .find_map(|(store, issue)| issue.map(|_| (store, patience))),
            };
            let response = error.into_response();
            observe_unrouted(&app, &method, "deadline", started, &response);
            response
        }
    }
}

/// Counts an answer given outside the routes (whose telemetry layer did not see it).
fn observe_unrouted(
    app: &AppState,
    method: &str,
    route: &str,
    started: Instant,
    response: &Response,
) {
    let telemetry = app.telemetry();
    telemetry.observe_request(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(StoreFailure(store)) = response.extensions().get::<StoreFailure>() {
        telemetry.observe_store_error(*store);
    }
}

/// With `KATO_API_TOKEN` set, every request but `GET /health` must carry
/// `Authorization: Bearer <token>`; others get 401 before anything else runs.
pub(crate) async fn require_token(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &app.settings().api_token else {
        return next.run(request).await;
    };
    // The event sockets check the token themselves: browsers can only send it as a query
    // parameter there.
    if matches!(request.uri().path(), "/health" | "/ws" | "/ws/events") {
        return next.run(request).await;
    }
    let offered = bearer(request.headers());
    if offered.is_some_and(|offered| token.matches(offered)) {
        next.run(request).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// A session id the service could have issued: anything else cannot exist.
fn plausible_session_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The reference's session middleware: any `/sessions/{id}/...` request names a session that
/// must exist before the route runs (the route then reads it, sliding its TTL), except
/// `GET /sessions/{id}`, `GET /sessions/{id}/exists` and `GET /sessions/count`; otherwise 404
/// `SESSION_NOT_FOUND`. Responses of checked paths carry `X-Session-ID`. Its own answers are
/// counted under the route `session_guard` (the telemetry layer only sees routed requests).
pub(crate) async fn session_guard(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let segments: Vec<&str> = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .collect();
    let session_id = match segments.as_slice() {
        // An empty id is checked too: it can name no session (and would make an empty Redis
        // hash tag, splitting the session's keys over cluster slots).
        ["sessions", id, rest @ ..] => {
            let exempt = request.method() == Method::GET && (rest.is_empty() || rest == ["exists"]);
            (!exempt).then(|| (*id).to_owned())
        }
        _ => None,
    };
    let Some(session_id) = session_id else {
        return next.run(request).await;
    };
    let started = Instant::now();
    let method = request.method().to_string();
    let refused = if !plausible_session_id(&session_id) {
        Some(ApiError::SessionNotFound(session_id.clone()))
    } else {
        match app.sessions().exists(&session_id).await {
            Ok(true) => None,
            Ok(false) => Some(ApiError::SessionNotFound(session_id.clone())),
            Err(error) => Some(ApiError::from(error)),
        }
    };
    if let Some(error) = refused {
        let response = error.into_response();
        observe_unrouted(&app, &method, "session_guard", started, &response);
        return response;
    }
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&session_id) {
        response.headers_mut().insert(SESSION_ID.clone(), value);
    }
    response
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}
