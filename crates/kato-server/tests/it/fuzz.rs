//! 10,000 generated requests (seeded) to every route: odd JSON of every shape, deep nesting,
//! long and odd unicode, control characters, SQL and Redis glob metacharacters in symbols,
//! node ids of every character class the reference accepts, session ids and pattern ids.
//! Nothing may answer 5xx, every answer must be one the document gives its route, with a body
//! that fits the documented schema, and what one node learned must stay invisible to every
//! other. Then generated WebSocket frames to `/ws/events`: the server answers `ping` and
//! nothing else, closes on what the protocol ends on, and frees every connection.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::openapi::{assert_documented, document};
use crate::support::{TestServer, node};

const REQUESTS: usize = 10_000;

/// Strings that have broken services before.
const NASTY: [&str; 16] = [
    "",
    " ",
    "'; DROP TABLE patterns_data; --",
    "\" OR 1=1 --",
    "*",
    "?",
    "[a-z]",
    "{kb}",
    "kato:{other}:frequency:*",
    "\\",
    "\u{0000}",
    "\u{0007}\u{001b}[31m",
    "\u{202e}evil",
    "日本語🎉",
    "%00%2F..%2F",
    "PTRN|0000000000000000000000000000000000000000",
];

struct Generator(Xoshiro256PlusPlus);

impl Generator {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn string(&mut self) -> String {
        match self.below(5) {
            0 => NASTY[self.below(NASTY.len() as u64) as usize].to_owned(),
            1 if self.chance(5) => "x".repeat(5_000),
            1 => "x".repeat(self.below(300) as usize),
            2 => (0..self.below(20))
                .map(|_| char::from_u32(self.below(0x11_0000) as u32).unwrap_or('?'))
                .collect(),
            _ => format!("s{}", self.below(50)),
        }
    }

    /// A node id of one of the character classes the reference accepts (and some it
    /// refuses): pytest-style ids, brackets, braces, `%'+=,@#`, non-ASCII, glob characters,
    /// the reference's 300-character MD5 cut, control characters, empty.
    fn node_id(&mut self) -> String {
        const CLASSES: [&str; 12] = [
            "test_threshold[0.1-True]_1763040555614_9ea384e2",
            "{kb}",
            "100%'+=,@#",
            "ünïcødé_節点",
            "*",
            "n?[a-z]*",
            "kato:{other}:frequency:*",
            "a b",
            "",
            "\u{0007}",
            "x%2Fy",
            "PTRN|0000000000000000000000000000000000000000",
        ];
        match self.below(4) {
            0 => "n".repeat(300 + self.below(3) as usize),
            1 => self.string(),
            _ => CLASSES[self.below(CLASSES.len() as u64) as usize].to_owned(),
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        let leaf = depth >= 4 || self.chance(40);
        if leaf {
            return match self.below(7) {
                0 => Value::Null,
                1 => Value::Bool(self.chance(50)),
                2 => json!(self.below(u64::MAX) as i64),
                3 => json!(f64::from_bits(self.0.next_u64()).clamp(-1e300, 1e300)),
                4 => json!(1e200),
                _ => Value::String(self.string()),
            };
        }
        if self.chance(50) {
            let len = if self.chance(1) { 2_000 } else { self.below(5) };
            Value::Array((0..len).map(|_| self.value(depth + 1)).collect())
        } else {
            let mut map = Map::new();
            for _ in 0..self.below(5) {
                let key = self.string();
                map.insert(key, self.value(depth + 1));
            }
            Value::Object(map)
        }
    }

    /// A body shaped like the route's, with fields of any type, or any JSON at all, under 1 MiB
    /// (larger bodies are refused with 413 before they are read, which `bad_input` tests).
    fn body(&mut self) -> String {
        loop {
            let body = self.any_body();
            if body.len() < 1 << 20 {
                return body;
            }
        }
    }

    fn any_body(&mut self) -> String {
        let fields = [
            "node_id",
            "strings",
            "vectors",
            "emotives",
            "metadata",
            "observations",
            "sequences",
            "config",
            "ttl_seconds",
            "learn_at_end",
            "recall_threshold",
            "max_predictions",
            "filter_pipeline",
            "unique_id",
        ];
        match self.below(10) {
            0 => "[".repeat(300),
            1 => format!("{}1{}", "[".repeat(200), "]".repeat(200)),
            2 => "{not json".to_owned(),
            3 => String::new(),
            4 => self.value(0).to_string(),
            _ => {
                let mut map = Map::new();
                for _ in 0..self.below(4) + 1 {
                    let field = fields[self.below(fields.len() as u64) as usize];
                    let value = if field == "strings" && self.chance(50) {
                        Value::Array(
                            (0..self.below(4))
                                .map(|_| Value::String(self.string()))
                                .collect(),
                        )
                    } else if field == "node_id" && self.chance(70) {
                        Value::String(self.node_id())
                    } else {
                        self.value(1)
                    };
                    map.insert(field.to_owned(), value);
                }
                Value::Object(map).to_string()
            }
        }
    }
}

/// Percent-encodes everything but unreserved characters, so any string fits in a path.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_get_documented_answers_and_nodes_stay_apart() {
    let Some(server) = TestServer::start("generated_requests_get_documented_answers").await else {
        return;
    };
    // A secret only node A knows; nothing in the fuzzing may reveal it elsewhere.
    let node_a = node("fuzz_secret");
    let a = server.create_session(&node_a).await;
    server
        .observe_all(&a, &[&["secret_one"], &["secret_two"]])
        .await;
    let secret = server.learn(&a).await;
    let fuzz_node = node("fuzz");
    let mut session = server.create_session(&fuzz_node).await;

    let mut generator = Generator(Xoshiro256PlusPlus::seed_from_u64(20_261_124));
    let session_routes = [
        ("POST", "observe"),
        ("POST", "observe-sequence"),
        ("POST", "learn-sequences"),
        ("POST", "config"),
        ("POST", "extend"),
        ("POST", "learn"),
        ("POST", "clear-stm"),
        ("GET", "predictions"),
        ("GET", "stm"),
        ("GET", "config"),
        ("GET", "percept-data"),
        ("GET", "cognition-data"),
        ("GET", ""),
        ("GET", "exists"),
        ("POST", "finalize-training"),
        ("DELETE", ""),
    ];
    let document = document(&server).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for request in 0..REQUESTS {
        // Keeps the session's STM small, so each request costs about the same.
        if request % 50 == 0 {
            server.post(&format!("/sessions/{session}/clear-stm")).await;
        }
        let (method, template, path, body) = match generator.below(4) {
            0 | 1 => {
                let (method, route) =
                    session_routes[generator.below(session_routes.len() as u64) as usize];
                // Deleting the session is rare, so the others mostly find it.
                if method == "DELETE" && !generator.chance(10) {
                    continue;
                }
                let id = if generator.chance(80) {
                    session.clone()
                } else {
                    encode(&generator.string())
                };
                let mut path = format!("/sessions/{id}");
                if !route.is_empty() {
                    path = format!("{path}/{route}");
                }
                if route == "extend" {
                    path = format!("{path}?ttl_seconds={}", encode(&generator.string()));
                }
                let template = if route.is_empty() {
                    "/sessions/{session_id}".to_owned()
                } else {
                    format!("/sessions/{{session_id}}/{route}")
                };
                (method, template, path, generator.body())
            }
            2 => (
                "POST",
                "/sessions".to_owned(),
                "/sessions".to_owned(),
                generator.body(),
            ),
            _ => {
                let node = encode(&generator.node_id());
                let (template, path) = match generator.below(10) {
                    0 => (
                        "/pattern/{pattern_id}",
                        format!("/pattern/{}?node_id={node}", encode(&generator.string())),
                    ),
                    1 => ("/symbols/stats", format!("/symbols/stats?node_id={node}")),
                    2 => (
                        "/symbols/affinity",
                        format!("/symbols/affinity?node_id={node}"),
                    ),
                    3 => (
                        "/stats",
                        format!("/stats?minutes={}", encode(&generator.string())),
                    ),
                    4 => (
                        "/metrics/{metric_name}",
                        format!(
                            "/metrics/{}?minutes={}",
                            encode(&generator.string()),
                            encode(&generator.string())
                        ),
                    ),
                    5 => {
                        let route = [
                            "/metrics",
                            "/cache/stats",
                            "/distributed-stm/stats",
                            "/concurrency",
                            "/connection-pools",
                            "/",
                            "/status",
                            "/health",
                            "/sessions/count",
                        ][generator.below(9) as usize];
                        (route, route.to_owned())
                    }
                    6 => ("/percept-data", format!("/percept-data?node_id={node}")),
                    7 => ("/cognition-data", format!("/cognition-data?node_id={node}")),
                    8 => {
                        let query = format!("?session_id={}", encode(&generator.string()));
                        let query = if generator.chance(50) {
                            query
                        } else {
                            String::new()
                        };
                        let path = format!("/cache/invalidate{query}");
                        let reply = server.post(&path).await;
                        *statuses.entry(reply.status).or_default() += 1;
                        assert_documented(&document, "/cache/invalidate", "post", &reply);
                        continue;
                    }
                    _ => (
                        "/symbols/{symbol}/affinity",
                        format!(
                            "/symbols/{}/affinity?node_id={node}",
                            encode(&generator.string())
                        ),
                    ),
                };
                ("GET", template.to_owned(), path, String::new())
            }
        };
        let builder = match method {
            "POST" => server
                .client
                .post(server.url(&path))
                .header("content-type", "application/json")
                .body(body.clone()),
            "DELETE" => server.client.delete(server.url(&path)),
            _ => server.client.get(server.url(&path)),
        };
        let reply = server.send(builder).await;
        *statuses.entry(reply.status).or_default() += 1;
        let route_path = path.split('?').next().unwrap_or_default();
        let routed = route_path == "/" || !(route_path.contains("//") || route_path.ends_with('/'));
        // An empty id can leave a path no route matches: the fallback's 404, or the session
        // middleware's (an empty session id names no session).
        let unrouted = reply.status == 404
            && (reply.body == json!({"detail": "Not Found"})
                || reply.body["error"]["code"] == "SESSION_NOT_FOUND");
        if !routed && unrouted {
            continue;
        }
        let described = std::panic::catch_unwind(|| {
            assert_documented(&document, &template, &method.to_lowercase(), &reply);
        });
        assert!(
            described.is_ok(),
            "request {request}: {method} {path:.200} with {body:.200}: the answer above is not \
             the documented one"
        );
        // A generated `extend` may have shortened the session's TTL: make a new one.
        if reply.status == 404 && path.starts_with(&format!("/sessions/{session}")) {
            session = server.create_session(&fuzz_node).await;
        }
    }
    // Skipped deletes are not counted.
    assert!(statuses.values().sum::<usize>() > REQUESTS * 9 / 10);
    eprintln!("fuzz: answers by status: {statuses:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&422).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );

    // Node A's pattern and symbols are visible from A only.
    let secret_path = secret.replace('|', "%7C");
    for other in [fuzz_node.as_str(), "default_node", "s1", "kato"] {
        let reply = server
            .get(&format!("/pattern/{secret_path}?node_id={}", encode(other)))
            .await;
        assert_eq!(reply.expect(200)["pattern"]["status"], "error", "{other}");
        let reply = server
            .get(&format!("/symbols/stats?node_id={}", encode(other)))
            .await;
        let symbols = reply.expect(200)["symbols"].clone();
        assert!(symbols.get("secret_one").is_none(), "{other}: {symbols}");
    }
    let reply = server
        .get(&format!("/pattern/{secret_path}?node_id={node_a}"))
        .await;
    assert_eq!(reply.expect(200)["pattern"]["status"], "okay");
    server.clear_all(&a).await;
    server.stop().await;
}

/// One generated client frame, and whether the server ends the connection on it.
fn ws_frame(generator: &mut Generator) -> (Message, bool) {
    match generator.below(10) {
        0 => (Message::text("ping"), false),
        1 => (
            Message::Ping(vec![0xAB; generator.below(126) as usize].into()),
            false,
        ),
        2 => (Message::Pong(Vec::new().into()), false),
        3 => (
            Message::binary(vec![0u8; generator.below(2_000) as usize]),
            true,
        ),
        4 => {
            let code = [1000, 1001, 1008, 4000, 4999][generator.below(5) as usize];
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: generator
                    .string()
                    .chars()
                    .take(30)
                    .collect::<String>()
                    .into(),
            };
            (Message::Close(Some(frame)), true)
        }
        5 => (Message::text("x".repeat(200_000)), false),
        6 => (Message::text(generator.value(0).to_string()), false),
        _ => (Message::text(generator.string()), false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_websocket_frames_leave_the_event_socket_working() {
    let Some(server) = TestServer::start_with("generated_websocket_frames", |args| {
        // Few slots: a connection the server failed to free would soon turn clients away.
        args.max_ws_connections = 3;
    })
    .await
    else {
        return;
    };
    let mut generator = Generator(Xoshiro256PlusPlus::seed_from_u64(20_261_207));
    let url = server.ws_url("/ws/events");
    let mut clients = 0;
    let mut frames = 0;
    while frames < 600 {
        let (mut socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .unwrap_or_else(|error| panic!("client {clients}: {error}"));
        clients += 1;
        loop {
            let (message, ends) = ws_frame(&mut generator);
            let asks_pong = matches!(&message, Message::Text(text) if text.as_str() == "ping");
            frames += 1;
            socket.send(message).await.expect("the server reads frames");
            if ends {
                // The server closes: the stream ends (after any frames still in flight).
                let closed = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Some(Ok(message)) = socket.next().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                })
                .await;
                assert!(
                    closed.is_ok(),
                    "client {clients}: the server kept the socket"
                );
                break;
            }
            if asks_pong {
                let pong = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Some(Ok(message)) = socket.next().await {
                        if matches!(&message, Message::Text(text) if text.as_str() == "pong") {
                            return true;
                        }
                    }
                    false
                })
                .await;
                assert_eq!(pong, Ok(true), "client {clients}: ping got no pong");
            }
        }
    }
    // Every connection was freed: as many clients as the limit allows connect at once and
    // each hears a session being created.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sockets = Vec::new();
    for slot in 0..3 {
        let (socket, _) = tokio_tungstenite::connect_async(&url)
            .await
            .unwrap_or_else(|error| panic!("slot {slot} after {clients} clients: {error}"));
        sockets.push(socket);
    }
    let id = server.create_session(&node("ws_fuzz")).await;
    for socket in &mut sockets {
        let heard = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message
                    && text.as_str().contains(&id)
                {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(heard, Ok(true), "a client missed session.created");
    }
    eprintln!("websocket fuzz: {frames} frames over {clients} clients");
    server.stop().await;
}
