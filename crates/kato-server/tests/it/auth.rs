//! `KATO_API_TOKEN`: when set, every route but `/health` wants `Authorization: Bearer <token>`.

use kato_server::ApiToken;

use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_route_but_health() {
    let Some(server) = TestServer::start_with("a_token_guards_every_route_but_health", |args| {
        args.api_token = Some("s3cret-token".parse::<ApiToken>().unwrap());
    })
    .await
    else {
        return;
    };
    assert_eq!(server.get("/health").await.status, 200);
    for path in [
        "/",
        "/status",
        "/sessions/count",
        "/openapi.json",
        "/symbols/stats",
    ] {
        let reply = server.get(path).await;
        assert_eq!(reply.status, 401, "{path}: {}", reply.text);
        assert!(reply.body["detail"].as_str().unwrap().contains("bearer"));
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
    // A session route answers 401 before the session check could say whether it exists.
    let reply = server.post("/sessions/no-such-session/learn").await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    for wrong in [
        "Bearer s3cret-toke",
        "Bearer s3cret-token2",
        "s3cret-token",
        "Basic s3cret-token",
    ] {
        let reply = server
            .send(
                server
                    .client
                    .get(server.url("/"))
                    .header("authorization", wrong),
            )
            .await;
        assert_eq!(reply.status, 401, "{wrong}");
    }
    let reply = server
        .send(
            server
                .client
                .get(server.url("/"))
                .header("authorization", "Bearer s3cret-token"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The 401 is the one the document gives every guarded route.
    let document = server
        .send(
            server
                .client
                .get(server.url("/openapi.json"))
                .header("authorization", "Bearer s3cret-token"),
        )
        .await;
    let refused = server.get("/status").await;
    crate::openapi::assert_documented(document.expect(200), "/status", "get", &refused);
    server.stop().await;
}

#[test]
fn tokens_are_never_printed_and_must_be_printable() {
    let token: ApiToken = "abc".parse().unwrap();
    assert!(!format!("{token:?}").contains("abc"));
    assert!("".parse::<ApiToken>().is_err());
    assert!("has space".parse::<ApiToken>().is_err());
}
