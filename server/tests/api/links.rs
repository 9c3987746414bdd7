//! Invitations: issue, mail, look, redeem, replay, expiry, revocation, concurrency.

use crate::helpers::*;

#[tokio::test]
async fn an_invitation_is_mailed_and_redeemed_once() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob Builder").await;

    let answer = app.issue(&mut bob, "alice@example.com").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["email"], "alice@example.com");
    assert_eq!(answer.body["delivery"], "sent");
    let shown_url = answer.body["url"].as_str().unwrap().to_owned();

    let mail = app.mail_to("alice@example.com").await;
    assert!(mail.contains("Bob Builder"), "the mail names the inviter");
    assert!(mail.contains("Alice Example"), "the mail names the invitee");
    assert!(
        mail.contains("expires at"),
        "the mail says when the link expires"
    );
    assert!(mail.contains("multipart/alternative") && mail.contains("text/html"));
    let token = token_in(&mail);
    assert_eq!(shown_url, format!("{}/link#{token}", app.base));

    let mut alice = Client {
        user_agent: Some("AliceBrowser/1.0".into()),
        ..Client::default()
    };
    let peek = app
        .call(&mut alice, "peek_link", &[("token", &token)])
        .await;
    assert_eq!(peek.status, 200, "{}", peek.body);
    assert_eq!(peek.body["email"], "alice@example.com");
    assert_eq!(peek.body["inviter_name"], "Bob Builder");
    assert_eq!(peek.body["state"], "pending");
    assert_eq!(
        app.role(&mut alice).await,
        "anonymous",
        "looking consumes nothing"
    );

    let redeem = app
        .call(&mut alice, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeem.status, 200, "{}", redeem.body);
    assert_eq!(redeem.body["redirect_to"], "/welcome");
    let cookie = redeem.set_cookie.unwrap();
    assert!(cookie.starts_with("latchkey_session="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/")
    );
    assert!(!cookie.contains("Domain"));
    let me = app.call(&mut alice, "current_user", &[]).await;
    assert_eq!(me.body["role"], "invitee");
    assert_eq!(me.body["email"], "alice@example.com");
    assert_eq!(me.body["inviter_name"], "Bob Builder");
    assert_eq!(me.body["message"], "Welcome aboard");

    let mut replayer = Client::default();
    let replay = app
        .call(&mut replayer, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!((replay.status, replay.error()), (410, "link_used"));
    assert_eq!(app.role(&mut replayer).await, "anonymous");
    let peek = app
        .call(&mut replayer, "peek_link", &[("token", &token)])
        .await;
    assert_eq!(peek.body["state"], "redeemed");

    let list = app.call(&mut bob, "list_links", &[]).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let row = &list.body["links"][0];
    assert_eq!(row["email"], "alice@example.com");
    assert_eq!(row["state"], "redeemed");
    assert_eq!(row["issued_by"], "Bob Builder");
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;
    app.expire_link(id).await;

    let mut alice = Client::default();
    let redeem = app
        .call(&mut alice, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!((redeem.status, redeem.error()), (410, "link_expired"));
    assert_eq!(app.role(&mut alice).await, "anonymous");
    let list = app
        .call(&mut bob, "list_links", &[("status", "expired")])
        .await;
    assert_eq!(list.body["links"][0]["id"], id);
}

#[tokio::test]
async fn a_revoked_link_is_refused_and_revoking_a_used_link_ends_its_session() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;

    let (pending_id, pending_token) = app.invite(&mut bob, "carol@example.com").await;
    let revoke = app
        .call(&mut bob, "revoke_link", &[("id", &pending_id.to_string())])
        .await;
    assert_eq!(revoke.status, 200, "{}", revoke.body);
    assert_eq!(revoke.body["state"], "revoked");
    let mut carol = Client::default();
    let redeem = app
        .call(&mut carol, "redeem_link", &[("token", &pending_token)])
        .await;
    assert_eq!((redeem.status, redeem.error()), (410, "link_revoked"));

    let (used_id, used_token) = app.invite(&mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    assert_eq!(
        app.call(&mut alice, "redeem_link", &[("token", &used_token)])
            .await
            .status,
        200
    );
    assert_eq!(app.role(&mut alice).await, "invitee");

    app.call(&mut bob, "revoke_link", &[("id", &used_id.to_string())])
        .await;
    assert_eq!(
        app.role(&mut alice).await,
        "anonymous",
        "the next request is signed out"
    );
    let again = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &used_token)],
        )
        .await;
    assert_eq!(
        (again.status, again.error()),
        (410, "link_revoked"),
        "revoked wins over used"
    );
    let revoked_by: i64 = app
        .count(&format!(
            "SELECT count(*) FROM magic_links WHERE id = {used_id} AND revoked_by IS NOT NULL"
        ))
        .await;
    assert_eq!(revoked_by, 1);
}

#[tokio::test]
async fn unknown_and_malformed_tokens_are_refused() {
    let app = spawn_app().await;
    let mut anyone = Client::default();
    let unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for endpoint in ["peek_link", "redeem_link"] {
        for token in [
            unknown,
            "",
            "short",
            "not a token at all, with spaces and more than 43 chars",
        ] {
            let answer = app.call(&mut anyone, endpoint, &[("token", token)]).await;
            assert_eq!(
                (answer.status, answer.error()),
                (404, "link_unknown"),
                "{endpoint} {token:?}"
            );
        }
        let missing = app.call(&mut anyone, endpoint, &[]).await;
        assert_eq!(
            (
                missing.status,
                missing.error(),
                missing.body["field"].as_str()
            ),
            (400, "invalid_input", Some("token")),
            "{endpoint} without a token"
        );
    }
}

#[tokio::test]
async fn thirty_two_concurrent_redeems_open_exactly_one_session() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;

    let attempts = (0..32).map(|_| {
        let app = &app;
        let token = token.clone();
        async move {
            app.call(&mut Client::default(), "redeem_link", &[("token", &token)])
                .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let won = answers.iter().filter(|a| a.status == 200).count();
    let used = answers
        .iter()
        .filter(|a| a.status == 410 && a.error() == "link_used")
        .count();
    assert_eq!((won, used), (1, 31));
    let sessions = app
        .count(&format!(
            "SELECT count(*) FROM auth_sessions WHERE link_id = {id}"
        ))
        .await;
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn bad_input_is_refused_with_its_field_and_stores_nothing() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("email", "not-an-email"), ("expires_in", "24h")], "email"),
        (
            &[
                ("email", "a@example.com\r\nBcc: x@example.com"),
                ("expires_in", "24h"),
            ],
            "email",
        ),
        (
            &[("email", "a@example.com"), ("expires_in", "2y")],
            "expires_in",
        ),
        (
            &[
                ("email", "a@example.com"),
                ("expires_in", "24h"),
                ("name", &"n".repeat(101)),
            ],
            "name",
        ),
        (
            &[
                ("email", "a@example.com"),
                ("expires_in", "24h"),
                ("name", "A\u{0}B"),
            ],
            "name",
        ),
        (&[("email", "a@example.com")], "expires_in"),
        (&[("expires_in", "24h")], "email"),
    ];
    for (form, field) in cases {
        let answer = app.call(&mut bob, "issue_link", form).await;
        assert_eq!(answer.status, 400, "{form:?}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{form:?}");
        assert!(!answer.body["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .await,
        0
    );
    let bad = app
        .call(&mut bob, "list_links", &[("status", "sideways")])
        .await;
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("status"))
    );
    let bad = app.call(&mut bob, "revoke_link", &[("id", "seven")]).await;
    assert_eq!((bad.status, bad.body["field"].as_str()), (400, Some("id")));
    let missing = app.call(&mut bob, "revoke_link", &[("id", "999")]).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
}

#[tokio::test]
async fn an_outbox_that_cannot_be_written_is_a_failed_delivery() {
    let app = spawn_app().await;
    let mut bob = app.coworker_without_mail("bob@example.com", "Bob").await;
    std::fs::remove_dir_all(&app.outbox).unwrap();

    let answer = app.issue(&mut bob, "alice@example.com").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["delivery"], "failed");
    let error = answer.body["delivery_error"].as_str().unwrap();
    assert!(
        error.starts_with("The outbox could not write the mail file"),
        "{error}"
    );
    assert!(
        !error.contains(&app.outbox.display().to_string()),
        "no paths: {error}"
    );

    // Once the directory is back, Resend delivers.
    std::fs::create_dir_all(&app.outbox).unwrap();
    let id = answer.body["id"].as_i64().unwrap().to_string();
    let resent = app.call(&mut bob, "resend_link", &[("id", &id)]).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    app.mail_to("alice@example.com").await;
}

#[tokio::test]
async fn the_list_filters_by_status_and_address_and_pages_newest_first() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for i in 0..55 {
        let answer = app.issue(&mut bob, &format!("guest{i}@example.com")).await;
        assert_eq!(answer.status, 200);
    }
    let first = app.call(&mut bob, "list_links", &[]).await;
    let links = first.body["links"].as_array().unwrap();
    assert_eq!(links.len(), 50);
    assert_eq!(links[0]["email"], "guest54@example.com");
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .call(&mut bob, "list_links", &[("cursor", &cursor)])
        .await;
    assert_eq!(second.body["links"].as_array().unwrap().len(), 5);
    assert!(second.body["next_cursor"].is_null());

    let search = app.call(&mut bob, "list_links", &[("q", "GUEST5")]).await;
    let found: Vec<&str> = search.body["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        found,
        [
            "guest54@example.com",
            "guest53@example.com",
            "guest52@example.com",
            "guest51@example.com",
            "guest50@example.com",
            "guest5@example.com"
        ]
    );
    let none = app
        .call(&mut bob, "list_links", &[("status", "redeemed")])
        .await;
    assert_eq!(none.body["links"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_server_caps_how_long_a_link_may_live() {
    let app = spawn_app_with(Setup {
        env: vec![("LATCHKEY_MAX_LINK_MINUTES", "60".to_owned())],
        ..Setup::default()
    })
    .await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for (expires_in, status) in [("15m", 200), ("1h", 200), ("24h", 400), ("7d", 400)] {
        let answer = app
            .call(
                &mut bob,
                "issue_link",
                &[("email", "alice@example.com"), ("expires_in", expires_in)],
            )
            .await;
        assert_eq!(answer.status, status, "{expires_in}: {}", answer.body);
        if status == 400 {
            assert_eq!(answer.body["field"], "expires_in");
        }
    }
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .await,
        2
    );
}
