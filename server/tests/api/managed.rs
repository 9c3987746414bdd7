//! Links as managed objects: the audit trail, delivery status and resend, self-service
//! renewal, per-link options, sessions a coworker can end, and counts per state.

use crate::helpers::*;
use app::model::events::EventKind;
use serde_json::Value;
use std::collections::BTreeMap;
use testkit::catcher;

/// Link `id`'s whole trail as the coworker sees it, oldest first.
async fn trail(app: &TestApp, coworker: &mut Client, id: i64) -> Vec<Value> {
    let mut events = app.whole_trail(coworker, id).await;
    events.reverse();
    events
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn tally(events: &[Value]) -> BTreeMap<&str, usize> {
    let mut tally = BTreeMap::new();
    for kind in kinds(events) {
        *tally.entry(kind).or_default() += 1;
    }
    tally
}

/// Marks link `id` unused and redeems it in a new browser, for one more session.
async fn redeem_again(app: &TestApp, id: i64, token: &str) -> Client {
    app.mark_unused(id).await;
    let mut client = Client::default();
    let answer = app
        .call(&mut client, "redeem_link", &[("token", token)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    client
}

/// The test that checks each kind of event on a trail: its file and its name. A new kind
/// does not compile until it is given one.
fn asserted_in(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::Issued
        | EventKind::MailSent
        | EventKind::Opened
        | EventKind::Redeemed
        | EventKind::RedeemRefused
        | EventKind::SessionEnded
        | EventKind::RenewalChanged
        | EventKind::Revoked => (
            "managed.rs",
            "the_redeem_and_session_events_and_every_way_a_session_ends_land_on_the_trail_exactly_once",
        ),
        EventKind::MailFailed | EventKind::Resent => (
            "managed.rs",
            "a_failed_delivery_is_marked_and_resend_then_delivers",
        ),
        EventKind::Renewed => (
            "managed.rs",
            "renewal_sends_to_the_original_address_only_once_per_interval",
        ),
        EventKind::Reached => (
            "gate.rs",
            "the_first_request_to_each_application_goes_on_the_trail_once",
        ),
        EventKind::AccessChanged => (
            "gate.rs",
            "narrowing_an_invitation_is_seen_at_once_and_widening_is_on_its_timeline",
        ),
    }
}

/// Every kind of event is checked on a trail by the test [`asserted_in`] names: that test
/// exists and names the kind's stored form.
#[test]
fn every_kind_of_event_is_checked_on_a_trail_by_a_named_test() {
    let sources = [
        ("managed.rs", include_str!("managed.rs")),
        ("gate.rs", include_str!("gate.rs")),
    ];
    for kind in EventKind::ALL {
        let (file, test) = asserted_in(kind);
        let source = sources.iter().find(|(name, _)| *name == file).unwrap().1;
        let start = source
            .find(&format!("async fn {test}("))
            .unwrap_or_else(|| panic!("{file} has no test {test} (for {kind:?})"));
        let body = &source[start..];
        let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
        assert!(
            body.contains(&format!("\"{}\"", kind.code())),
            "{file}::{test} does not check {kind:?} (\"{}\")",
            kind.code()
        );
    }
}

/// The trail of one invitation through every step of its life but delivery failure,
/// renewal, resend, reaching an application and a change of access, which
/// [`asserted_in`] says where to find.
#[tokio::test]
async fn the_redeem_and_session_events_and_every_way_a_session_ends_land_on_the_trail_exactly_once()
{
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob Builder").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;
    assert_eq!(
        kinds(&trail(&app, &mut bob, id).await),
        ["issued", "mail_sent"]
    );

    let mut alice = Client {
        user_agent: Some("AliceBrowser/1.0".into()),
        ..Client::default()
    };
    let peek = app
        .call(&mut alice, "peek_link", &[("token", &token)])
        .await;
    assert_eq!(peek.status, 200);
    let redeem = app
        .call(&mut alice, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeem.status, 200);
    let again = app
        .call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(again.status, 410);
    let signed_out = app.call(&mut alice, "sign_out", &[]).await;
    assert_eq!(signed_out.status, 200);

    // A second session, ended by the coworker from the details page.
    let mut phone = redeem_again(&app, id, &token).await;
    let details = app
        .call(&mut bob, "show_link", &[("id", &id.to_string())])
        .await;
    let live: Vec<&Value> = details.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ended_at"].is_null())
        .collect();
    assert_eq!(live.len(), 1, "{}", details.body);
    let number = live[0]["number"].as_i64().unwrap().to_string();
    let end = app
        .call(&mut bob, "end_session", &[("session", &number)])
        .await;
    assert_eq!(end.status, 200, "{}", end.body);
    assert_eq!(app.role(&mut phone).await, "anonymous");
    // Ending it again is fine and records nothing more.
    let end = app
        .call(&mut bob, "end_session", &[("session", &number)])
        .await;
    assert_eq!(end.status, 200, "{}", end.body);

    let off = app
        .call(
            &mut bob,
            "set_renewal",
            &[("id", &id.to_string()), ("renewal", "off")],
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    // Setting what is already set records nothing.
    app.call(
        &mut bob,
        "set_renewal",
        &[("id", &id.to_string()), ("renewal", "off")],
    )
    .await;

    // A third session, replaced when its browser signs in with another link.
    let mut laptop = redeem_again(&app, id, &token).await;
    let (_, other) = app.invite(&mut bob, "alice.other@example.com").await;
    let replaced = app
        .call(&mut laptop, "redeem_link", &[("token", &other)])
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);

    // A fourth, left idle past the invitee's limit (24 hours) and found expired.
    let mut tablet = redeem_again(&app, id, &token).await;
    app.idle_sessions(SessionsOf::Link(id), 25 * 3600).await;
    assert_eq!(app.role(&mut tablet).await, "anonymous");

    // A fifth, ended by the revoke.
    redeem_again(&app, id, &token).await;
    let revoke = app
        .call(&mut bob, "revoke_link", &[("id", &id.to_string())])
        .await;
    assert_eq!(revoke.status, 200);

    let events = trail(&app, &mut bob, id).await;
    let expected: BTreeMap<&str, usize> = [
        ("issued", 1),
        ("mail_sent", 1),
        ("opened", 1),
        ("redeemed", 5),
        ("redeem_refused", 1),
        ("session_ended", 5),
        ("renewal_changed", 1),
        ("revoked", 1),
    ]
    .into();
    assert_eq!(tally(&events), expected, "{events:#?}");

    let find = |kind: &str| events.iter().find(|e| e["kind"] == kind).unwrap();
    assert_eq!(find("issued")["actor"], "Bob Builder");
    assert_eq!(find("opened")["ip"], "127.0.0.1");
    assert_eq!(find("opened")["user_agent"], "AliceBrowser/1.0");
    assert_eq!(find("redeemed")["user_agent"], "AliceBrowser/1.0");
    assert_eq!(find("redeem_refused")["detail"], "already used");
    assert_eq!(find("revoked")["actor"], "Bob Builder");
    let endings: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["kind"] == "session_ended")
        .map(|e| {
            (
                e["detail"].as_str().unwrap(),
                e["actor"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        endings,
        [
            ("signed_out", "-"),
            ("ended_by_coworker", "Bob Builder"),
            ("replaced", "-"),
            ("expired", "-"),
            ("link_revoked", "Bob Builder"),
        ]
    );

    // The trail is append-only, and holds no token anywhere.
    for statement in [
        "UPDATE link_events SET detail = 'edited'",
        "DELETE FROM link_events",
    ] {
        let refused = sqlx::query(statement).execute(&app.db).await.unwrap_err();
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    let dump: Vec<(String,)> = sqlx::query_as(
        "SELECT coalesce(detail, '') || coalesce(user_agent, '') || coalesce(ip, '') FROM link_events",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert!(dump.iter().all(|(row,)| !row.contains(&token)));
}

#[tokio::test]
async fn a_failed_delivery_is_marked_and_resend_then_delivers() {
    // The mail server is down: nothing listens on its port.
    let (port, down) = refusing_port();
    let app = spawn_app_with(Setup {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        ..Setup::default()
    })
    .await;
    let mut bob = app.coworker_without_mail("bob@example.com", "Bob").await;

    let issued = app.issue(&mut bob, "alice@example.com").await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.body["delivery"], "failed");
    let error = issued.body["delivery_error"].as_str().unwrap();
    assert!(
        error.starts_with("The mail server did not accept the message"),
        "{error}"
    );
    let old_id = issued.body["id"].as_i64().unwrap();
    let old_token = token_in(issued.body["url"].as_str().unwrap());
    // The link is kept: still pending, marked failed.
    let list = app.call(&mut bob, "list_links", &[]).await;
    assert_eq!(list.body["links"][0]["delivery"], "failed");
    assert_eq!(list.body["links"][0]["state"], "pending");
    let events = trail(&app, &mut bob, old_id).await;
    assert_eq!(kinds(&events), ["issued", "mail_failed"]);
    assert!(events[1]["detail"]
        .as_str()
        .unwrap()
        .starts_with("The mail server"));

    // The mail server is back, on the port held for it.
    drop(down);
    let catcher = catcher::start_on(port).await.unwrap();
    let resent = app
        .call(&mut bob, "resend_link", &[("id", &old_id.to_string())])
        .await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    assert_eq!(resent.body["delivery"], "sent");
    assert_eq!(resent.body["email"], "alice@example.com");
    let new_id = resent.body["id"].as_i64().unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(catcher.delivered(), 1);

    // The old token is dead, the new one works, and both trails say what happened.
    let old = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &old_token)],
        )
        .await;
    assert_eq!((old.status, old.error()), (410, "link_revoked"));
    let new_token = token_in(resent.body["url"].as_str().unwrap());
    let new = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &new_token)],
        )
        .await;
    assert_eq!(new.status, 200, "{}", new.body);
    let old_events = trail(&app, &mut bob, old_id).await;
    assert_eq!(
        kinds(&old_events),
        ["issued", "mail_failed", "resent", "redeem_refused"]
    );
    assert_eq!(old_events[2]["other_link"], new_id);
    let new_events = trail(&app, &mut bob, new_id).await;
    assert_eq!(kinds(&new_events), ["issued", "mail_sent", "redeemed"]);
    assert_eq!(new_events[0]["other_link"], old_id);
    let details = app
        .call(&mut bob, "show_link", &[("id", &old_id.to_string())])
        .await;
    assert_eq!(details.body["replaced_by"], new_id);

    // A used or revoked link is not resent.
    for (id, error) in [(new_id, "link_used"), (old_id, "link_revoked")] {
        let again = app
            .call(&mut bob, "resend_link", &[("id", &id.to_string())])
            .await;
        assert_eq!((again.status, again.error()), (410, error));
    }
    let missing = app.call(&mut bob, "resend_link", &[("id", "999999")]).await;
    assert_eq!((missing.status, missing.error()), (404, "not_found"));
    assert_eq!(catcher.delivered(), 1);
}

#[tokio::test]
async fn an_expired_link_is_resent_with_the_same_options() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let issued = app
        .call(
            &mut bob,
            "issue_link",
            &[
                ("email", "alice@example.com"),
                ("expires_in", "1h"),
                ("destination", "/projects/42"),
                ("session_lifetime", "8h"),
                ("renewal", "off"),
            ],
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let id = issued.body["id"].as_i64().unwrap();
    app.expire_link(id).await;
    // Another coworker resends it: the invitation still comes from Bob.
    let mut cora = app.coworker_client("cora@example.com", "Cora").await;
    let resent = app
        .call(&mut cora, "resend_link", &[("id", &id.to_string())])
        .await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    let new_id = resent.body["id"].as_i64().unwrap();
    let mails = app.mails();
    let mail = mails
        .iter()
        .find(|m| m.contains(&token_in(resent.body["url"].as_str().unwrap())))
        .expect("the new link was mailed");
    assert!(
        mail.contains("Bob (bob@example.com) has invited you"),
        "{mail}"
    );
    let old_events = trail(&app, &mut bob, id).await;
    let resend = old_events.iter().find(|e| e["kind"] == "resent").unwrap();
    assert_eq!(resend["actor"], "Cora");
    let details = app
        .call(&mut bob, "show_link", &[("id", &new_id.to_string())])
        .await;
    assert_eq!(details.body["destination"], "/projects/42");
    assert_eq!(details.body["session_minutes"], 480);
    assert_eq!(details.body["renewal_allowed"], false);
    assert_eq!(details.body["replaces"], id);
    assert_eq!(details.body["link"]["issued_by"], "Bob");
    let lifetime = details.body["link"]["expires_at"].as_i64().unwrap()
        - details.body["link"]["created_at"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
}

#[tokio::test]
async fn renewal_sends_to_the_original_address_only_once_per_interval() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;
    let mut stranger = Client::default();

    // A live link is not renewed: it still works.
    let early = app
        .call(&mut stranger, "renew_link", &[("token", &token)])
        .await;
    assert_eq!((early.status, early.error()), (400, "invalid_input"));

    app.expire_link(id).await;
    let peek = app
        .call(&mut stranger, "peek_link", &[("token", &token)])
        .await;
    assert_eq!(peek.body["state"], "expired");
    assert_eq!(peek.body["can_renew"], true);

    let mails_before = app.mails().len();
    let renewing = std::time::Instant::now();
    // Whatever address the requester adds, the new link goes to the invitation's own.
    let renewed = app
        .call(
            &mut stranger,
            "renew_link",
            &[("token", &token), ("email", "mallory@evil.example")],
        )
        .await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.body["sent_to"], "a…@example.com");
    // One invitation to Alice and one notice to Bob; nothing to anyone else.
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = app.mails();
        if mails.len() >= mails_before + 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(mails.len(), mails_before + 2);
    assert!(mails.iter().all(|m| !m.contains("mallory")));
    let to_alice: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("<alice@example.com>") && m.contains("invited you"))
        .collect();
    assert_eq!(to_alice.len(), 2, "the first invitation and the renewal");
    let notice = mails
        .iter()
        .find(|m| m.contains("Subject: Alice Example (alice@example.com) asked for a new link"))
        .expect("the inviter is told");
    assert!(notice.contains("bob@example.com"));
    assert!(tokens_in(notice).is_empty(), "the notice carries no link");

    let new_token = to_alice
        .iter()
        .flat_map(|m| tokens_in(m))
        .find(|t| *t != token)
        .unwrap();
    let redeem = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &new_token)],
        )
        .await;
    assert_eq!(redeem.status, 200, "{}", redeem.body);

    // Once per ten minutes per link.
    let again = app
        .call(&mut stranger, "renew_link", &[("token", &token)])
        .await;
    assert_eq!((again.status, again.error()), (429, "rate_limited"));
    // Ten minutes from the renewal, less the time since (the server counts in whole
    // seconds, hence the one second of slack).
    let wait: u64 = again.retry_after.unwrap().parse().unwrap();
    let since = renewing.elapsed().as_secs();
    assert!(
        (600u64.saturating_sub(since + 1)..=600).contains(&wait),
        "Retry-After {wait} s, {since} s after the renewal"
    );

    let events = trail(&app, &mut bob, id).await;
    assert_eq!(tally(&events).get("renewed"), Some(&1));
    let new_id = events.iter().find(|e| e["kind"] == "renewed").unwrap()["other_link"]
        .as_i64()
        .unwrap();
    let new_events = trail(&app, &mut bob, new_id).await;
    assert_eq!(kinds(&new_events)[..2], ["issued", "mail_sent"]);
    assert_eq!(new_events[0]["detail"], "renewal requested by the invitee");
}

#[tokio::test]
async fn renewal_is_refused_for_revoked_links_sign_in_links_and_when_turned_off() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let mut holder = Client::default();

    let (revoked_id, revoked_token) = app.invite(&mut bob, "carol@example.com").await;
    app.expire_link(revoked_id).await;
    app.call(&mut bob, "revoke_link", &[("id", &revoked_id.to_string())])
        .await;
    let answer = app
        .call(&mut holder, "renew_link", &[("token", &revoked_token)])
        .await;
    assert_eq!((answer.status, answer.error()), (410, "link_revoked"));

    let (off_id, off_token) = app.invite(&mut bob, "dave@example.com").await;
    app.call(
        &mut bob,
        "set_renewal",
        &[("id", &off_id.to_string()), ("renewal", "off")],
    )
    .await;
    app.expire_link(off_id).await;
    let peek = app
        .call(&mut holder, "peek_link", &[("token", &off_token)])
        .await;
    assert_eq!(peek.body["can_renew"], false);
    let answer = app
        .call(&mut holder, "renew_link", &[("token", &off_token)])
        .await;
    assert_eq!((answer.status, answer.error()), (403, "renewal_off"));

    let email = app::server::email::EmailAddress::parse("email", "bob@example.com").unwrap();
    let (url, signin_id, _) = app::server::links::create_signin(&app.db, &app.base, 900, &email)
        .await
        .unwrap()
        .unwrap();
    app.expire_link(signin_id).await;
    let answer = app
        .call(&mut holder, "renew_link", &[("token", &token_in(&url))])
        .await;
    assert_eq!((answer.status, answer.error()), (400, "invalid_input"));

    let unknown = app
        .call(&mut holder, "renew_link", &[("token", &"A".repeat(43))])
        .await;
    assert_eq!((unknown.status, unknown.error()), (404, "link_unknown"));
    // Nothing was issued by any of it.
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE replaces IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn destinations_outside_the_site_are_refused() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let before = app.count("SELECT count(*) FROM magic_links").await;
    for destination in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%2F%2Fevil.example",
        "/%5cevil.example",
        "evil.example/path",
        "/ok\r\nLocation: https://evil.example",
        "/tab\there",
    ] {
        let answer = app
            .call(
                &mut bob,
                "issue_link",
                &[
                    ("email", "alice@example.com"),
                    ("expires_in", "24h"),
                    ("destination", destination),
                ],
            )
            .await;
        assert_eq!(
            (answer.status, answer.body["field"].as_str()),
            (400, Some("destination")),
            "{destination:?}: {}",
            answer.body
        );
        assert!(answer.body["message"]
            .as_str()
            .unwrap()
            .contains("path on this site"));
    }
    assert_eq!(app.count("SELECT count(*) FROM magic_links").await, before);

    let issued = app
        .call(
            &mut bob,
            "issue_link",
            &[
                ("email", "alice@example.com"),
                ("expires_in", "24h"),
                ("destination", "/projects/42?tab=files#top"),
            ],
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let token = token_in(issued.body["url"].as_str().unwrap());
    let redeem = app
        .call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeem.body["redirect_to"], "/projects/42?tab=files#top");
}

#[tokio::test]
async fn the_session_lifetime_is_chosen_per_link_within_the_servers_limit() {
    let app = spawn_app_with(Setup {
        env: vec![(
            "LATCHKEY_INVITEE_SESSION_MINUTES",
            (7 * 24 * 60).to_string(),
        )],
        ..Setup::default()
    })
    .await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for (choice, minutes) in [("8h", 480_i64), ("7d", 10_080)] {
        let issued = app
            .call(
                &mut bob,
                "issue_link",
                &[
                    ("email", "alice@example.com"),
                    ("expires_in", "24h"),
                    ("session_lifetime", choice),
                ],
            )
            .await;
        assert_eq!(issued.status, 200, "{}", issued.body);
        let id = issued.body["id"].as_i64().unwrap();
        let token = token_in(issued.body["url"].as_str().unwrap());
        app.call(&mut Client::default(), "redeem_link", &[("token", &token)])
            .await;
        let lifetime = app
            .count(&format!(
                "SELECT expires_at - created_at FROM auth_sessions WHERE link_id = {id}"
            ))
            .await;
        assert_eq!(lifetime, minutes * 60, "{choice}");
    }
    for (choice, message) in [
        ("30d", "longer than this server allows"),
        ("1y", "Choose a session lifetime"),
    ] {
        let refused = app
            .call(
                &mut bob,
                "issue_link",
                &[
                    ("email", "alice@example.com"),
                    ("expires_in", "24h"),
                    ("session_lifetime", choice),
                ],
            )
            .await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert_eq!(refused.body["field"], "session_lifetime");
        assert!(refused.body["message"].as_str().unwrap().contains(message));
    }
}

#[tokio::test]
async fn counts_per_state_follow_every_change() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (a, token_a) = app.invite(&mut bob, "a@example.com").await;
    let (b, _) = app.invite(&mut bob, "b@example.com").await;
    let (c, _) = app.invite(&mut bob, "c@example.com").await;
    app.invite(&mut bob, "d@example.com").await;
    app.call(
        &mut Client::default(),
        "redeem_link",
        &[("token", &token_a)],
    )
    .await;
    app.call(&mut bob, "revoke_link", &[("id", &b.to_string())])
        .await;
    app.expire_link(c).await;
    let counts = app.call(&mut bob, "count_links", &[]).await;
    assert_eq!(counts.status, 200);
    assert_eq!(
        counts.body,
        serde_json::json!({"pending": 1, "redeemed": 1, "expired": 1, "revoked": 1})
    );
    // A revoked link counts as revoked even after it was used.
    app.call(&mut bob, "revoke_link", &[("id", &a.to_string())])
        .await;
    let counts = app.call(&mut bob, "count_links", &[]).await;
    assert_eq!(counts.body["redeemed"], 0);
    assert_eq!(counts.body["revoked"], 2);
}

#[tokio::test]
async fn ending_an_unknown_or_a_coworkers_session_is_not_found() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let own: i64 = app
        .count("SELECT rowid FROM auth_sessions WHERE coworker_id IS NOT NULL")
        .await;
    for number in [own.to_string(), "424242".to_owned()] {
        let answer = app
            .call(&mut bob, "end_session", &[("session", &number)])
            .await;
        assert_eq!((answer.status, answer.error()), (404, "not_found"));
    }
    assert_eq!(app.role(&mut bob).await, "coworker");
    for bad in ["0", "-3", "x", ""] {
        let answer = app.call(&mut bob, "end_session", &[("session", bad)]).await;
        assert_eq!(answer.status, 400, "{bad:?}: {}", answer.body);
    }
}
