//! kato-server end to end: a server in the test process on `127.0.0.1:0` over the real
//! ClickHouse and Redis, driven over HTTP with reqwest.
//!
//! Every test uses its own node id (`test_<label>_...`), so tests never see each other's
//! patterns, and tests that learn wipe their node with `clear-all` at the end. Without
//! `KATO_TEST_CLICKHOUSE_URL` / `KATO_TEST_REDIS_URL` the tests skip (and fail when
//! `KATO_REQUIRE_SERVICES=1`).
//!
//! - `system`: `/`, `/health`, `/status`, `/metrics`, `/openapi.json`, `/docs`, trace ids,
//!   unknown routes and methods.
//! - `sessions`: the session lifecycle, configuration and the session middleware's 404s.
//! - `memory`: observe, observe-sequence, learn, clear, predictions, percept and cognition
//!   data, auto-learn, sorting, emotives, metadata, persistence.
//! - `node`: `/pattern/{id}` and the symbol routes with the node resolution order.
//! - `golden`: the 13 golden prediction examples through HTTP.
//! - `bad_input`: every kind of bad request gets its documented 4xx, never a 500.
//! - `instances`: two servers sharing one session.
//! - `outage`: a store cut off answers 503 naming it, and the server recovers by itself.
//! - `bulk`: the bulk learn route.
//! - `resident`: the resident index across instances, its budget and its metrics.
//! - `auth`: the optional bearer token.
//! - `fuzz`: 10,000 generated requests, documented answers only, nodes kept apart.
//! - `vectors`: learned vectors, their nearest neighbours and their dimension.
//! - `openapi`: every documented answer of every route, validated against the document.
//! - `events`: the session events WebSocket.

mod auth;
mod bad_input;
mod bulk;
mod events;
mod fuzz;
mod golden;
mod instances;
mod memory;
mod node;
mod openapi;
mod outage;
mod resident;
mod sessions;
mod support;
mod system;
mod vectors;
