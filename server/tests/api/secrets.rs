//! Tokens never at rest in any readable form, never in a log line: not as the text the
//! mail carries, not as the 32 bytes it encodes, not as their hex.

use crate::helpers::*;
use crate::process::{call, Server};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Every form a token could leak in: its text, the 32 bytes it encodes, their hex (lower
/// and upper case).
fn forms(token: &str) -> Vec<(&'static str, Vec<u8>)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap_or_else(|e| panic!("a mailed token is not base64url: {e}"));
    assert_eq!(raw.len(), 32);
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        ("text", token.as_bytes().to_vec()),
        ("raw bytes", raw),
        ("hex", hex.clone().into_bytes()),
        ("HEX", hex.to_uppercase().into_bytes()),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Fails if `haystack` holds any form of any of `tokens`, or a link.
fn assert_no_token_in(haystack: &[u8], tokens: &[String], what: &str) {
    for token in tokens {
        for (form, bytes) in forms(token) {
            assert!(!contains(haystack, &bytes), "a token's {form} is in {what}");
        }
    }
    assert!(!contains(haystack, b"/link#"), "a link is in {what}");
}

#[tokio::test]
async fn each_mailed_token_is_stored_as_its_sha256_and_in_no_other_form() {
    crate::sqlite_only!("reads the SQLite files byte by byte");
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for i in 0..5 {
        app.invite(&mut bob, &format!("guest{i}@example.com")).await;
    }
    let tokens = distinct_tokens(&app.mails());
    assert_eq!(tokens.len(), 6, "bob's sign-in link and five invitations");
    app.call(
        &mut Client::default(),
        "redeem_link",
        &[("token", &tokens[1])],
    )
    .await;

    // What is stored for each token is the SHA-256 of its text, computed here
    // independently of the server's code.
    for token in &tokens {
        let hash = Sha256::digest(token.as_bytes()).to_vec();
        let stored: i64 =
            sqlx::query_scalar("SELECT count(*) FROM magic_links WHERE token_hash = $1")
                .bind(&hash)
                .fetch_one(&app.db)
                .await
                .unwrap();
        assert_eq!(
            stored, 1,
            "a mailed token's SHA-256 is its link's token_hash"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE length(token_hash) <> 32")
            .await,
        0
    );

    // Every file of the database, the write-ahead log included.
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", app.db_path.display());
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    assert!(
        std::fs::metadata(format!("{}-wal", app.db_path.display())).is_ok(),
        "the WAL was read"
    );
    assert!(bytes.len() > 4096, "the database was read");
    assert_no_token_in(&bytes, &tokens, "the database");
    // Nor any mailed one-time code, as mailed or as typed (without its hyphen).
    let codes: Vec<String> = app.mails().iter().map(|mail| code_in(mail)).collect();
    assert_eq!(codes.len(), 6);
    assert_no_code_in(&bytes, &codes, "the database");
}

/// Fails if `haystack` holds any of `codes`, with or without its hyphen.
fn assert_no_code_in(haystack: &[u8], codes: &[String], what: &str) {
    for code in codes {
        for form in [code.clone(), code.replace('-', "")] {
            assert!(!contains(haystack, form.as_bytes()), "a code is in {what}");
        }
    }
}

#[test]
fn the_scan_finds_each_form_of_a_token() {
    let token = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    for (form, bytes) in forms(token) {
        let mut haystack = b"before ".to_vec();
        haystack.extend(&bytes);
        let found = std::panic::catch_unwind(|| {
            assert_no_token_in(&haystack, &[token.to_owned()], "the haystack");
        });
        assert!(found.is_err(), "the {form} form went unnoticed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_line_holds_a_token_a_link_or_a_session_id() {
    no_secret_in_the_log_or_the_metrics("text").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_json_log_line_holds_a_token_a_link_or_a_session_id() {
    no_secret_in_the_log_or_the_metrics("json").await;
}

/// Runs every flow that handles a token, a code or a session id on a server logging in
/// `format` at debug level with its metrics on, then scans the log and the metrics.
async fn no_secret_in_the_log_or_the_metrics(format: &str) {
    // A server of its own, so its log holds this flow and nothing else.
    let dir = tempfile::tempdir().unwrap();
    let mut env = Server::env(dir.path(), None);
    env.retain(|(key, _)| key != "RUST_LOG");
    env.push(("RUST_LOG".into(), "debug".into()));
    env.push(("LATCHKEY_LOG_FORMAT".into(), format.into()));
    env.push(("LATCHKEY_METRICS".into(), "true".into()));
    let log = dir.path().join("log");
    let server = Server::start(env, log.clone()).await;
    let mut bob = server.coworker("bob@example.com").await;
    let issued = call(
        &server.base,
        &mut bob,
        "issue_link",
        &[("email", "alice@example.com"), ("expires_in", "24h")],
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let id = issued.body["id"].as_i64().unwrap().to_string();
    let token = token_in(issued.body["url"].as_str().unwrap());
    let mut alice = Client::default();
    let mut stranger = Client::default();
    for (who, endpoint, form, status) in [
        ("alice", "peek_link", ("token", token.as_str()), 200),
        ("alice", "redeem_link", ("token", token.as_str()), 200),
        ("stranger", "redeem_link", ("token", token.as_str()), 410),
        ("bob", "revoke_link", ("id", id.as_str()), 200),
        ("stranger", "redeem_link", ("token", token.as_str()), 410),
    ] {
        let client = match who {
            "alice" => &mut alice,
            "bob" => &mut bob,
            _ => &mut stranger,
        };
        let answer = call(&server.base, client, endpoint, &[form]).await;
        assert_eq!(answer.status, status, "{endpoint}: {}", answer.body);
    }
    // Every token this server ever made: bob's sign-in link (printed by the CLI) and
    // the invitation, both read back from where they went.
    let outbox = dir.path().join("outbox");
    let mails: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|mail| {
            decode_quoted_printable(&std::fs::read_to_string(mail.unwrap().path()).unwrap())
        })
        .collect();
    let mut tokens = distinct_tokens(&mails);
    assert_eq!(
        tokens.as_slice(),
        std::slice::from_ref(&token),
        "the invitation's mail"
    );

    // A second invitation, typed in by its code: once wrong, once right.
    let issued = call(
        &server.base,
        &mut bob,
        "issue_link",
        &[("email", "carol@example.com"), ("expires_in", "24h")],
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let carol_mail = loop {
        let found = std::fs::read_dir(&outbox).unwrap().find_map(|mail| {
            let text =
                decode_quoted_printable(&std::fs::read_to_string(mail.unwrap().path()).unwrap());
            addressed_to(&text, "carol@example.com").then_some(text)
        });
        if let Some(mail) = found {
            break mail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail to carol@example.com reached the outbox within 10 seconds"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let code = code_in(&carol_mail);
    for (typed, status) in [("2222-2222", 400), (code.as_str(), 303)] {
        let response = http()
            .post(format!("{}/code", server.base))
            .form(&[("email", "carol@example.com"), ("code", typed)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
    }

    let metrics = http()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("latchkey_links_redeemed_total"),
        "{metrics}"
    );
    let mut logs = std::fs::read(&log).unwrap();
    if format == "json" {
        let lines = String::from_utf8_lossy(&logs);
        let first = lines.lines().next().unwrap_or_default();
        assert!(first.starts_with('{'), "not a JSON log: {first}");
    }
    // The metrics are scanned with the log: what is said of the one holds for both.
    logs.extend(metrics.as_bytes());
    let text = String::from_utf8_lossy(&logs);
    assert_no_code_in(&logs, &[code], "the log or the metrics");
    // The flow was logged, at debug level, by this server.
    for line in ["link redeemed", "redeem refused", "link revoked"] {
        assert!(text.contains(line), "{line:?} is not in the log:\n{text}");
    }
    tokens.push(token_in(&carol_mail));
    assert_no_token_in(&logs, &tokens, "the log or the metrics");
    for client in [&bob, &alice] {
        let cookie = client.cookie.as_deref().expect("a session to look for");
        let id = cookie.split_once('=').unwrap().1;
        assert!(id.len() >= 16, "{cookie}");
        assert!(
            !text.contains(id),
            "a session id reached the log or the metrics"
        );
    }
}

/// A mail server that refuses every recipient the way real ones do, quoting the address
/// back (`550 5.1.1 <alice@example.com>: Recipient address rejected`): it speaks just
/// enough SMTP for lettre to reach RCPT. Its port and its task.
async fn refusing_mail_server() -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 refuser ESMTP\r\n").await.ok();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply = match verb.as_str() {
                        "EHLO" | "HELO" => "250 refuser".to_owned(),
                        "RCPT" => {
                            let to = line.split_once(':').map_or("", |(_, to)| to.trim());
                            format!("550 5.1.1 {to}: Recipient address rejected: User unknown")
                        }
                        "QUIT" => "221 bye".to_owned(),
                        _ => "250 OK".to_owned(),
                    };
                    if write
                        .write_all(format!("{reply}\r\n").as_bytes())
                        .await
                        .is_err()
                        || verb == "QUIT"
                    {
                        break;
                    }
                }
            });
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_mail_servers_refusal_is_logged_with_the_address_masked() {
    let (port, _refuser) = refusing_mail_server().await;
    let dir = tempfile::tempdir().unwrap();
    let env = Server::env(dir.path(), Some(format!("smtp://127.0.0.1:{port}")));
    let log = dir.path().join("log");
    let server = Server::start(env, log.clone()).await;
    let mut bob = server.coworker("bob@example.com").await;
    let issued = call(
        &server.base,
        &mut bob,
        "issue_link",
        &[("email", "alice.smith@example.com"), ("expires_in", "24h")],
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    // The coworker who sent it is told the mail server's words whole...
    assert_eq!(issued.body["delivery"], "failed", "{}", issued.body);
    let told = issued.body["delivery_error"].as_str().unwrap();
    assert!(told.contains("<alice.smith@example.com>"), "{told}");
    // ...and the log says what happened without the address.
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("mail delivery failed"), "{text}");
    assert!(text.contains("<a…@example.com>"), "{text}");
    assert!(
        !text.contains("alice.smith@"),
        "the full address is in the log:\n{text}"
    );
}
