//! Coworker sign-in, sessions, sign-out and removal.

use crate::helpers::*;
use crate::timing::{Interleaved, Tolerance};

#[tokio::test]
async fn a_coworker_signs_in_by_mail_and_an_unknown_address_gets_the_same_answer() {
    let app = spawn_app().await;
    app.add_coworker("bob@example.com", "Bob").await;
    let mut bob = Client::default();
    let known = app
        .call(&mut bob, "request_signin", &[("email", "Bob@Example.com")])
        .await;
    let unknown = app
        .call(
            &mut Client::default(),
            "request_signin",
            &[("email", "mallory@example.com")],
        )
        .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    assert_eq!(known.status, 200);

    let mail = app.mail_to("bob@example.com").await;
    assert!(mail.contains("Your sign-in link for Acme"));
    let token = token_in(&mail);
    let peek = app.call(&mut bob, "peek_link", &[("token", &token)]).await;
    assert_eq!(peek.body["purpose"], "signin");
    let redeem = app
        .call(&mut bob, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeem.body["redirect_to"], "/dashboard");
    assert_eq!(app.role(&mut bob).await, "coworker");

    // Both requests worked to the end: mallory's sent nothing.
    app.signins_settled(2).await;
    assert!(
        app.mails()
            .iter()
            .all(|m| !m.contains("mallory@example.com")),
        "no mail to a stranger"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE recipient_email = 'mallory@example.com'")
            .await,
        0
    );
    let bad = app
        .call(
            &mut Client::default(),
            "request_signin",
            &[("email", "nope")],
        )
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("email"))
    );
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let stolen = bob.clone();
    let answer = app.call(&mut bob, "sign_out", &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        app.role(&mut stolen.clone()).await,
        "anonymous",
        "the old cookie is dead"
    );
    let refused = app.call(&mut stolen.clone(), "list_links", &[]).await;
    assert_eq!(refused.status, 401);
}

#[tokio::test]
async fn redeeming_cycles_the_session_id_and_replaces_the_old_session() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (_, token) = app.invite(&mut bob, "alice@example.com").await;
    let before = bob.clone();
    let mut browser = bob.clone();
    let redeem = app
        .call(&mut browser, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeem.status, 200);
    assert_ne!(browser.cookie, before.cookie, "a new session id");
    assert_eq!(app.role(&mut browser).await, "invitee");
    assert_eq!(
        app.role(&mut before.clone()).await,
        "anonymous",
        "the previous session ended"
    );
}

#[tokio::test]
async fn removing_a_coworker_ends_their_sessions_and_sign_in_links() {
    let app = spawn_app().await;
    app.add_coworker("ada@example.com", "Ada, the admin").await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let email = app::server::email::EmailAddress::parse("email", "bob@example.com").unwrap();
    let (url, _, _) = app::server::links::create_signin(&app.db, &app.base, 900, &email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app::server::coworkers::remove(&app.db, &email)
            .await
            .unwrap(),
        app::server::coworkers::Changed::Done
    );
    assert_eq!(app.role(&mut bob).await, "anonymous");
    let redeem = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &token_in(&url))],
        )
        .await;
    assert_eq!((redeem.status, redeem.error()), (410, "link_revoked"));
}

#[tokio::test]
async fn the_first_coworker_is_an_admin() {
    let app = spawn_app().await;
    app.add_coworker("first@example.com", "First").await;
    app.add_coworker("second@example.com", "Second").await;
    let list = app::server::coworkers::list(&app.db).await.unwrap();
    assert_eq!(
        list.iter().map(|c| c.is_admin).collect::<Vec<_>>(),
        [true, false]
    );
}

#[tokio::test]
async fn a_sign_in_link_lives_fifteen_minutes_and_says_so() {
    let app = spawn_app().await;
    app.add_coworker("bob@example.com", "Bob").await;
    let asked = app::server::now();
    app.call(
        &mut Client::default(),
        "request_signin",
        &[("email", "bob@example.com")],
    )
    .await;
    let mail = app.mail_to("bob@example.com").await;
    assert!(mail.contains("15 minutes"), "{mail}");
    let (created, expires): (i64, i64) =
        sqlx::query_as("SELECT created_at, expires_at FROM magic_links WHERE purpose = 'signin'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(expires - created, 15 * 60);
    assert!(created >= asked && created <= app::server::now());
}

#[tokio::test]
async fn the_signin_link_command_prints_a_link_or_exits_1_for_an_unknown_address() {
    let app = spawn_app().await;
    app.add_coworker("bob@example.com", "Bob").await;
    // Run without blocking this test's runtime, which the server shares.
    let latchkey = |email: &str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(["signin-link", email])
            .env("LATCHKEY_DATABASE_URL", &app.db_url)
            .env("LATCHKEY_PUBLIC_URL", &app.base)
            .output()
    };
    let known = latchkey("bob@example.com").await.unwrap();
    assert!(known.status.success(), "{known:?}");
    let url = String::from_utf8(known.stdout).unwrap();
    assert!(url.starts_with(&format!("{}/link#", app.base)), "{url}");
    assert_eq!(url.trim_end().len(), app.base.len() + "/link#".len() + 43);

    let unknown = latchkey("stranger@example.com").await.unwrap();
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "nothing on stdout");
    let message = String::from_utf8(unknown.stderr).unwrap();
    assert!(message.contains("is not a coworker"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coworker_and_a_stranger_get_their_answer_in_the_same_time() {
    const ROUNDS: usize = 200;
    let app = spawn_app().await;
    for i in 0..ROUNDS {
        app.add_coworker(&format!("staff{i}@example.com"), "Staff")
            .await;
    }
    // Warm up: the first calls of a server pay for what later ones find ready.
    for email in ["warm@example.com", "staff0@example.com"] {
        app.call(
            &mut Client::default(),
            "request_signin",
            &[("email", email)],
        )
        .await;
    }
    // Interleaved, so drift on a busy machine falls on both alike.
    let mut timing = Interleaved::new("a coworker", "a stranger");
    let mut asked = [0; 2];
    for case in Interleaved::sequence(ROUNDS) {
        let n = asked[case];
        asked[case] += 1;
        let email = match case {
            0 => format!("staff{n}@example.com"),
            _ => format!("stranger{n}@example.com"),
        };
        let started = std::time::Instant::now();
        let answer = app
            .call(
                &mut Client::default(),
                "request_signin",
                &[("email", &email)],
            )
            .await;
        timing.record(case, started.elapsed());
        assert_eq!(answer.status, 200);
    }
    // The lookup and the mail happen after the answer, so the two take the same path;
    // a lookup or a mail on the request path would move both quantiles by far more.
    timing.assert_same(Tolerance {
        floor: std::time::Duration::from_micros(250),
        share: 0.05,
    });
    app.signins_settled(2 * ROUNDS as u64 + 2).await;
}
