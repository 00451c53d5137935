//! 10,000 generated requests (seeded) to every route: odd JSON of every shape, deep nesting,
//! long and odd unicode, control characters, SQL and Redis glob metacharacters in symbols,
//! node ids, session ids and pattern ids. Nothing may answer 5xx, every answer must be one of
//! the documented statuses, and what one node learned must stay invisible to every other.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

use crate::support::{TestServer, node};

const REQUESTS: usize = 10_000;
/// Statuses the API documents.
const DOCUMENTED: [u16; 7] = [200, 400, 404, 405, 409, 413, 422];

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
    ];
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for request in 0..REQUESTS {
        // Keeps the session's STM small, so each request costs about the same.
        if request % 50 == 0 {
            server.post(&format!("/sessions/{session}/clear-stm")).await;
        }
        let (method, path, body) = match generator.below(4) {
            0 | 1 => {
                let (method, route) =
                    session_routes[generator.below(session_routes.len() as u64) as usize];
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
                (method, path, generator.body())
            }
            2 => ("POST", "/sessions".to_owned(), generator.body()),
            _ => {
                let node = encode(&generator.string());
                let path = match generator.below(8) {
                    0 => format!("/pattern/{}?node_id={node}", encode(&generator.string())),
                    1 => format!("/symbols/stats?node_id={node}"),
                    2 => format!("/symbols/affinity?node_id={node}"),
                    3 => format!("/stats?minutes={}", encode(&generator.string())),
                    4 => format!(
                        "/metrics/{}?minutes={}",
                        encode(&generator.string()),
                        encode(&generator.string())
                    ),
                    5 => ["/metrics", "/cache/stats", "/distributed-stm/stats"]
                        [generator.below(3) as usize]
                        .to_owned(),
                    6 => ["/concurrency", "/connection-pools", "/percept-data"]
                        [generator.below(3) as usize]
                        .to_owned(),
                    _ => format!(
                        "/symbols/{}/affinity?node_id={node}",
                        encode(&generator.string())
                    ),
                };
                ("GET", path, String::new())
            }
        };
        let builder = match method {
            "POST" => server
                .client
                .post(server.url(&path))
                .header("content-type", "application/json")
                .body(body.clone()),
            _ => server.client.get(server.url(&path)),
        };
        let reply = server.send(builder).await;
        *statuses.entry(reply.status).or_default() += 1;
        assert!(
            DOCUMENTED.contains(&reply.status),
            "request {request}: {method} {path:.200} with {body:.200} answered {}: {:.300}",
            reply.status,
            reply.text
        );
        if reply.status >= 400 {
            let shaped = reply.body.get("detail").is_some() || reply.body.get("error").is_some();
            assert!(
                shaped,
                "request {request}: an error without detail: {:.300}",
                reply.text
            );
        }
        // A generated `extend` may have shortened the session's TTL: make a new one.
        if reply.status == 404 && path.starts_with(&format!("/sessions/{session}")) {
            session = server.create_session(&fuzz_node).await;
        }
    }
    assert_eq!(statuses.values().sum::<usize>(), REQUESTS);
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
