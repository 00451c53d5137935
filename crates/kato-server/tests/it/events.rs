//! The `/ws/events` WebSocket: the snapshot, ping and pong, session events delivered to the
//! clients of every instance (explicit deletes and expiry, each announced once), the token,
//! the connection bound, and a client that never reads.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kato_server::ApiToken;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TestServer, node};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|error| panic!("connecting {url}: {error}"))
        .0
}

/// The next text frame within a few seconds.
async fn next_text(socket: &mut Socket) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return text.as_str().to_owned();
        }
    }
}

/// The next event about `session_id` (other tests' sessions make events too).
async fn event_about(socket: &mut Socket, session_id: &str) -> Value {
    loop {
        let event: Value = serde_json::from_str(&next_text(socket).await).expect("JSON");
        if event["data"]["session_id"] == session_id {
            return event;
        }
    }
}

/// The snapshot every client gets first.
async fn snapshot(socket: &mut Socket) -> Value {
    let snapshot: Value = serde_json::from_str(&next_text(socket).await).expect("JSON");
    assert_eq!(snapshot["event_type"], "state.snapshot", "{snapshot}");
    assert!(snapshot["data"]["active_sessions"].is_u64(), "{snapshot}");
    assert_eq!(snapshot["data"]["system_status"], "healthy");
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_events_reach_the_clients_of_every_instance() {
    let test = "session_events_reach_the_clients_of_every_instance";
    let Some(a) = TestServer::start(test).await else {
        return;
    };
    let Some(b) = TestServer::start(test).await else {
        return;
    };
    let mut on_b = connect(&b.ws_url("/ws/events")).await;
    let mut on_a = connect(&a.ws_url("/ws")).await;
    snapshot(&mut on_b).await;
    snapshot(&mut on_a).await;
    on_b.send(Message::text("ping")).await.unwrap();
    // Other tests' session events may come first; `pong` is the one frame that is no JSON.
    loop {
        let text = next_text(&mut on_b).await;
        if text == "pong" {
            break;
        }
        assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text}");
    }

    let node = node("events");
    let session = a.create_session(&node).await;
    for socket in [&mut on_b, &mut on_a] {
        let created = event_about(socket, &session).await;
        assert_eq!(created["event_type"], "session.created", "{created}");
        assert_eq!(created["data"]["node_id"], node.as_str());
        let at = created["data"]["created_at"].as_str().unwrap();
        assert!(at.ends_with("+00:00"), "{created}");
        assert!(created["timestamp"].as_str().unwrap().ends_with("+00:00"));
    }
    a.delete(&format!("/sessions/{session}")).await.expect(200);
    for socket in [&mut on_b, &mut on_a] {
        let destroyed = event_about(socket, &session).await;
        assert_eq!(destroyed["event_type"], "session.destroyed", "{destroyed}");
        assert_eq!(destroyed["data"]["reason"], "explicit_delete");
        assert!(destroyed["data"]["destroyed_at"].is_string());
    }
    a.stop().await;
    b.stop().await;
}

/// A session gone by its Redis TTL (simulated: the key deleted and its recorded expiry moved
/// into the past, as a TTL leaves them) is announced by exactly one instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_announced_once() {
    let test = "an_expired_session_is_announced_once";
    let Some(a) = TestServer::start(test).await else {
        return;
    };
    let Some(b) = TestServer::start(test).await else {
        return;
    };
    let mut on_a = connect(&a.ws_url("/ws/events")).await;
    let mut on_b = connect(&b.ws_url("/ws/events")).await;
    snapshot(&mut on_a).await;
    snapshot(&mut on_b).await;
    let session = a.create_session(&node("expiry")).await;
    for socket in [&mut on_a, &mut on_b] {
        assert_eq!(
            event_about(socket, &session).await["event_type"],
            "session.created"
        );
    }
    let redis_url = kato_test_support::redis_url(test).expect("services");
    let mut redis = kato_redis::connect(&redis_url, &kato_redis::RedisConfig::default())
        .await
        .expect("redis");
    // kato-redis's session layout under the default prefix `kato`.
    let _: u64 = redis::cmd("DEL")
        .arg(format!("kato:session:{{{session}}}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: u64 = redis::cmd("ZADD")
        .arg("kato:sessions:index")
        .arg(1)
        .arg(&session)
        .query_async(&mut redis)
        .await
        .unwrap();
    for socket in [&mut on_a, &mut on_b] {
        let destroyed = event_about(socket, &session).await;
        assert_eq!(destroyed["event_type"], "session.destroyed", "{destroyed}");
        assert_eq!(destroyed["data"]["reason"], "expired");
    }
    // No second announcement: both sweepers have run several times meanwhile.
    let again = tokio::time::timeout(Duration::from_secs(3), event_about(&mut on_a, &session));
    assert!(again.await.is_err(), "the expiry was announced twice");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_socket_wants_the_token_and_is_bounded() {
    let Some(server) =
        TestServer::start_with("the_event_socket_wants_the_token_and_is_bounded", |args| {
            args.api_token = Some("s3cret-token".parse::<ApiToken>().unwrap());
            args.max_ws_connections = 1;
        })
        .await
    else {
        return;
    };
    let refused = tokio_tungstenite::connect_async(server.ws_url("/ws/events")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("a socket without the token: {other:?}"),
    }
    let wrong = tokio_tungstenite::connect_async(server.ws_url("/ws/events?token=nope")).await;
    assert!(wrong.is_err(), "a wrong token");
    let mut first = connect(&server.ws_url("/ws/events?token=s3cret-token")).await;
    snapshot(&mut first).await;
    match tokio_tungstenite::connect_async(server.ws_url("/ws?token=s3cret-token")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("a second socket over the bound of one: {other:?}"),
    }
    first.close(None).await.unwrap();
    drop(first);
    // The slot frees once the server sees the close.
    let mut admitted = None;
    for _ in 0..50 {
        if let Ok((socket, _)) =
            tokio_tungstenite::connect_async(server.ws_url("/ws?token=s3cret-token")).await
        {
            admitted = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut again = admitted.expect("a socket after the first closed");
    snapshot(&mut again).await;
    server.stop().await;
}

/// A client that never reads holds up no request: sessions are created and observed while it
/// is connected, every one answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_up_nothing() {
    let Some(server) = TestServer::start("a_client_that_never_reads_holds_up_nothing").await else {
        return;
    };
    let _idle = connect(&server.ws_url("/ws/events")).await;
    let node = node("idle_client");
    for _ in 0..60 {
        let session = server.create_session(&node).await;
        server.observe(&session, &["a"]).await;
        server
            .delete(&format!("/sessions/{session}"))
            .await
            .expect(200);
    }
    server.stop().await;
}
