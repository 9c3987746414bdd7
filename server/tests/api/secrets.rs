//! Tokens never at rest in plaintext, never in a log line.

use crate::helpers::*;

#[tokio::test]
async fn the_database_file_never_holds_a_plaintext_token() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let mut tokens = Vec::new();
    for i in 0..5 {
        let (_, token) = app.invite(&mut bob, &format!("guest{i}@example.com")).await;
        tokens.push(token);
    }
    app.call(
        &mut Client::default(),
        "redeem_link",
        &[("token", &tokens[0])],
    )
    .await;
    tokens.extend(app.mails().iter().flat_map(|m| tokens_in(m)));

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", app.db_path.display());
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    assert!(bytes.len() > 4096, "the database was read");
    let haystack = String::from_utf8_lossy(&bytes);
    for token in &tokens {
        assert!(
            !haystack.contains(token.as_str()),
            "a plaintext token is in the database"
        );
    }
    assert!(!haystack.contains("/link#"));
}

#[tokio::test]
async fn no_log_line_holds_a_token_or_a_link() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    app.call(&mut alice, "peek_link", &[("token", &token)])
        .await;
    app.call(&mut alice, "redeem_link", &[("token", &token)])
        .await;
    app.call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    app.call(&mut bob, "revoke_link", &[("id", &id.to_string())])
        .await;
    app.call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;

    let logs = captured_logs();
    assert!(logs.contains("link redeemed"), "the flow was logged");
    for mail_token in app.mails().iter().flat_map(|m| tokens_in(m)) {
        assert!(!logs.contains(&mail_token), "a token reached the logs");
    }
    assert!(!logs.contains("/link#"), "a link reached the logs");
    // Nor the session cookies' values (the session ids).
    for client in [&bob, &alice] {
        if let Some(cookie) = &client.cookie {
            let id = cookie.split_once('=').unwrap().1;
            assert!(id.len() >= 16, "{cookie}");
            assert!(!logs.contains(id), "a session id reached the logs");
        }
    }
    assert!(bob.cookie.is_some(), "the coworker kept a session to check");
}
