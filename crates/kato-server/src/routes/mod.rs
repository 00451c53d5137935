//! Every route, collected with its OpenAPI description.

mod memory;
mod monitoring;
mod node;
pub(crate) mod sessions;
mod system;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "kato",
        description = "The KATO-compatible pattern learning and prediction API. Any request \
            still running after KATO_REQUEST_TIMEOUT_MS answers 503 (a session change it made \
            may still take effect), and so does a session change while KATO_MAX_IN_FLIGHT \
            others run."
    ),
    components(schemas(crate::error::VectorDimensionBody)),
    tags(
        (name = "system", description = "Service status and metrics"),
        (name = "sessions", description = "Session lifecycle and configuration"),
        (name = "memory", description = "Observe, learn and predict in a session"),
        (name = "node", description = "Read a node's knowledge base"),
    )
)]
struct ApiDoc;

/// The API routes (without middleware) and their OpenAPI document.
// The reference's deprecated routes are `#[deprecated]` so the document marks them.
#[allow(deprecated)]
pub(crate) fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::root))
        .routes(routes!(system::health))
        .routes(routes!(system::status))
        .routes(routes!(monitoring::metrics))
        .routes(routes!(monitoring::stats))
        .routes(routes!(monitoring::metric))
        .routes(routes!(monitoring::concurrency))
        .routes(routes!(sessions::create_session))
        .routes(routes!(sessions::count_sessions))
        .routes(routes!(sessions::get_session, sessions::delete_session))
        .routes(routes!(sessions::session_exists))
        .routes(routes!(sessions::extend_session))
        .routes(routes!(sessions::get_config, sessions::update_config))
        .routes(routes!(memory::observe))
        .routes(routes!(memory::observe_sequence))
        .routes(routes!(memory::get_stm))
        .routes(routes!(memory::learn))
        .routes(routes!(memory::learn_sequences))
        .routes(routes!(memory::clear_stm))
        .routes(routes!(memory::clear_all))
        .routes(routes!(memory::predictions))
        .routes(routes!(memory::percept_data))
        .routes(routes!(memory::cognition_data))
        .routes(routes!(memory::finalize_training))
        .routes(routes!(node::get_pattern))
        .routes(routes!(node::symbol_stats))
        .routes(routes!(node::all_affinities))
        .routes(routes!(node::symbol_affinity))
        .routes(routes!(node::node_percept_data))
        .routes(routes!(node::node_cognition_data))
        .routes(routes!(monitoring::connection_pools))
        .routes(routes!(monitoring::cache_stats))
        .routes(routes!(monitoring::cache_invalidate))
        .routes(routes!(monitoring::distributed_stm_stats))
        .split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    add_document_routes(&mut document);
    add_common_responses(&mut document);
    // A vector of another dimension than the node's is the reference's own 400 body.
    for (path, other) in [
        ("/sessions/{session_id}/observe", "Detail"),
        (
            "/sessions/{session_id}/observe-sequence",
            "InvalidObservationBody",
        ),
    ] {
        add_alternative_body(&mut document, path, "400", other, "VectorDimensionBody");
    }
    let text: Arc<str> = document
        .to_json()
        .expect("the OpenAPI document serializes")
        .into();
    let router = router
        .route(
            "/openapi.json",
            get(move || {
                let text = Arc::clone(&text);
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        text.to_string(),
                    )
                        .into_response()
                }
            }),
        )
        .route("/ws/events", get(crate::events::events_socket))
        .route("/ws", get(crate::events::events_socket))
        .route("/docs", get(system::docs))
        .route("/docs/swagger-ui-bundle.js", get(system::swagger_ui_bundle))
        .route("/docs/swagger-ui.css", get(system::swagger_ui_css));
    (router, document)
}

/// `/openapi.json` and `/docs` (with its assets) serve the document itself, so they are
/// described by hand; the WebSocket routes answer 101 and then speak frames, not a body.
fn add_document_routes(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::response::ResponseBuilder;
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, Type};
    const EVENTS: &str = "WebSocket of session events: a state.snapshot, then session.created \
        and session.destroyed (explicit_delete or expired) of every instance; the text ping is \
        answered by pong. With KATO_API_TOKEN set, the bearer header or a token query \
        parameter; more than KATO_MAX_WS_CONNECTIONS clients: 503";
    for (path, summary, status, body) in [
        (
            "/openapi.json",
            "This OpenAPI document",
            "200",
            Some(("application/json", Type::Object)),
        ),
        (
            "/docs",
            "Interactive docs over /openapi.json",
            "200",
            Some(("text/html", Type::String)),
        ),
        (
            "/docs/swagger-ui-bundle.js",
            "The docs page's script (Swagger UI)",
            "200",
            Some(("text/javascript", Type::String)),
        ),
        (
            "/docs/swagger-ui.css",
            "The docs page's style sheet (Swagger UI)",
            "200",
            Some(("text/css", Type::String)),
        ),
        ("/ws/events", EVENTS, "101", None),
        ("/ws", "The same WebSocket as /ws/events", "101", None),
    ] {
        let mut response = ResponseBuilder::new().description(summary);
        if let Some((media_type, kind)) = body {
            let schema = ObjectBuilder::new().schema_type(kind).build();
            response = response.content(
                media_type,
                ContentBuilder::new().schema(Some(schema)).build(),
            );
        }
        let operation = OperationBuilder::new()
            .summary(Some(summary))
            .tag("system")
            .response(status, response.build())
            .build();
        document
            .paths
            .paths
            .insert(path.to_owned(), PathItem::new(HttpMethod::Get, operation));
    }
}

/// The answers any route may give from the layers around it, added to each operation that
/// does not describe them itself: 401 without the token (`KATO_API_TOKEN`; `/health` is
/// exempt), 413 for a body over `KATO_MAX_BODY_BYTES` (routes that take one), 503 for a store
/// failure, a request past its deadline, a full limit or a shutdown.
fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::response::ResponseBuilder;
    use utoipa::openapi::{ContentBuilder, Ref};
    let detail = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Detail")))
                    .build(),
            )
            .build()
    };
    for (path, item) in &mut document.paths.paths {
        for operation in [&mut item.get, &mut item.post, &mut item.delete]
            .into_iter()
            .flatten()
        {
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| detail(description).into());
            };
            if path != "/health" {
                add(
                    "401",
                    "KATO_API_TOKEN is set and the request does not carry it",
                );
            }
            if operation.request_body.is_some() {
                add("413", "The body is larger than KATO_MAX_BODY_BYTES");
            }
            add(
                "503",
                "A store is unavailable, the request passed KATO_REQUEST_TIMEOUT_MS, a limit \
                 is full, or the server is shutting down",
            );
        }
    }
}

/// Makes the JSON body of `path`'s POST answering `status` one of the schemas `first` and
/// `second` (utoipa gives one body per status).
fn add_alternative_body(
    document: &mut utoipa::openapi::OpenApi,
    path: &str,
    status: &str,
    first: &str,
    second: &str,
) {
    use utoipa::openapi::{ContentBuilder, OneOfBuilder, Ref, RefOr};
    let response = document
        .paths
        .paths
        .get_mut(path)
        .and_then(|item| item.post.as_mut())
        .and_then(|operation| operation.responses.responses.get_mut(status))
        .expect("the route documents the status");
    let RefOr::T(response) = response else {
        panic!("{path} {status} is a reference");
    };
    let one_of = OneOfBuilder::new()
        .item(Ref::from_schema_name(first))
        .item(Ref::from_schema_name(second))
        .build();
    response.content.insert(
        "application/json".to_owned(),
        ContentBuilder::new()
            .schema(Some(utoipa::openapi::Schema::OneOf(one_of)))
            .build(),
    );
}
