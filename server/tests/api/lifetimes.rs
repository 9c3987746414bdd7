//! Session lifetimes (idle and absolute, per kind of session) and the housekeeping sweep.
//! Time passes by moving the stored times back, not by waiting.

use crate::helpers::*;
use app::server::config::Config;
use app::server::housekeeping::{sweep, Swept};
use app::server::now;

const HOUR: i64 = 3600;

/// The defaults the server runs with in these tests (2 h coworker idle, 24 h invitee
/// idle, 30 days retention).
fn defaults() -> Config {
    Config::from_lookup(|_| None).unwrap()
}

#[tokio::test]
async fn idle_limits_differ_for_coworkers_and_invitees() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (_, token) = app.invite(&mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    app.call(&mut alice, "redeem_link", &[("token", &token)])
        .await;

    // Three hours without a request: past the coworker's 2 hours, within the invitee's 24.
    app.idle_sessions(SessionsOf::Coworkers, 3 * HOUR).await;
    app.idle_sessions(SessionsOf::Invitees, 3 * HOUR).await;
    assert_eq!(app.role(&mut bob).await, "anonymous");
    assert_eq!(app.role(&mut alice).await, "invitee");

    // A day and more: the invitee's session has gone idle too.
    app.idle_sessions(SessionsOf::Invitees, 25 * HOUR).await;
    assert_eq!(app.role(&mut alice).await, "anonymous");
    assert_eq!(
        app.count("SELECT count(*) FROM auth_sessions WHERE ended_at IS NULL")
            .await,
        0,
        "a session found idle is ended on the spot"
    );
}

#[tokio::test]
async fn the_absolute_limit_holds_however_busy_the_session_is() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    assert_eq!(app.role(&mut bob).await, "coworker");
    // The browser keeps its cookie and the store its record; only the end time passed.
    app.end_sessions_sooner(SessionsOf::Coworkers, 13 * HOUR)
        .await;
    assert_eq!(app.role(&mut bob).await, "anonymous");
}

#[tokio::test]
async fn the_sweep_ends_stale_sessions_and_later_forgets_them_and_dead_token_hashes() {
    let app = spawn_app().await;
    let config = defaults();
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (used_id, used) = app.invite(&mut bob, "alice@example.com").await;
    let (live_id, live) = app.invite(&mut bob, "carol@example.com").await;
    let mut alice = Client::default();
    app.call(&mut alice, "redeem_link", &[("token", &used)])
        .await;

    // Now: nothing is stale, nothing is old enough to forget.
    assert_eq!(
        sweep(&app.db, &config, now()).await.unwrap(),
        Swept::default()
    );

    // Three hours on: the coworker's session is idle and gets ended.
    let swept = sweep(&app.db, &config, now() + 3 * HOUR).await.unwrap();
    assert_eq!(swept.sessions_ended, 1);
    assert_eq!(swept.token_hashes_forgotten, 0);

    // 31 days on: alice's session is past its absolute limit and is ended; bob's, ended
    // more than the retention ago, is forgotten. The used link and the coworker's
    // sign-in link forget their hashes, and so does the invitation that expired after
    // 24 hours. The link rows stay.
    let swept = sweep(&app.db, &config, now() + 31 * 24 * HOUR)
        .await
        .unwrap();
    assert_eq!(
        swept.sessions_ended, 1,
        "alice's session, past its absolute limit"
    );
    assert_eq!(swept.sessions_forgotten, 1);
    assert_eq!(swept.token_hashes_forgotten, 3);
    assert_eq!(app.count("SELECT count(*) FROM magic_links").await, 3);
    for id in [used_id, live_id] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM magic_links WHERE id = {id} AND token_hash IS NULL"
            ))
            .await,
            1
        );
    }
    // A forgotten token matches nothing.
    let mut stranger = Client::default();
    for token in [&used, &live] {
        let answer = app
            .call(&mut stranger, "peek_link", &[("token", token)])
            .await;
        assert_eq!((answer.status, answer.error()), (404, "link_unknown"));
    }
    // The dashboard still lists both invitations.
    let mut bob_again = app.coworker_client("bob2@example.com", "Bob").await;
    let list = app.call(&mut bob_again, "list_links", &[]).await;
    assert_eq!(
        list.body["links"].as_array().unwrap().len(),
        2,
        "{}",
        list.body
    );
}

#[tokio::test]
async fn a_link_keeps_its_hash_while_live_and_for_the_retention_after_it_dies() {
    let app = spawn_app().await;
    let config = defaults();
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (_, live) = app.invite(&mut bob, "alice@example.com").await;
    let (revoked_id, revoked) = app.invite(&mut bob, "carol@example.com").await;
    let answer = app
        .call(&mut bob, "revoke_link", &[("id", &revoked_id.to_string())])
        .await;
    assert_eq!(answer.status, 200);

    // The live link expires in 24 hours; the revoked one and bob's sign-in link died now.
    // Within the 30-day retention nothing is forgotten.
    for days in [0, 1, 29] {
        let swept = sweep(&app.db, &config, now() + days * 24 * HOUR)
            .await
            .unwrap();
        assert_eq!(swept.token_hashes_forgotten, 0, "after {days} days");
    }
    // Just past it, the two that died now are forgotten; the one that expired a day
    // later is not yet.
    let swept = sweep(&app.db, &config, now() + 30 * 24 * HOUR + HOUR)
        .await
        .unwrap();
    assert_eq!(swept.token_hashes_forgotten, 2);
    let mut stranger = Client::default();
    let answer = app
        .call(&mut stranger, "peek_link", &[("token", &revoked)])
        .await;
    assert_eq!((answer.status, answer.error()), (404, "link_unknown"));
    let answer = app
        .call(&mut stranger, "peek_link", &[("token", &live)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// The `Max-Age` of a `Set-Cookie` value, in seconds.
fn max_age(set_cookie: &str) -> i64 {
    set_cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("no Max-Age in {set_cookie}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_session_in_use_lasts_until_its_absolute_limit_and_an_idle_one_ends_at_its_idle_limit() {
    let app = spawn_app_with(Setup {
        env: vec![
            ("LATCHKEY_COWORKER_IDLE_MINUTES", "60".to_owned()),
            ("LATCHKEY_INVITEE_IDLE_MINUTES", "60".to_owned()),
        ],
        ..Setup::default()
    })
    .await;
    app.add_coworker("bob@example.com", "Bob").await;
    let mut bob = Client::default();
    app.call(&mut bob, "request_signin", &[("email", "bob@example.com")])
        .await;
    let token = token_in(&app.mail_to("bob@example.com").await);
    let signed_in = app
        .call(&mut bob, "redeem_link", &[("token", &token)])
        .await;
    // The cookie lives as long as the session may (12 hours), not one idle period.
    let cookie_life = max_age(signed_in.set_cookie.as_deref().unwrap());
    assert!(
        (12 * HOUR - 60..=12 * HOUR).contains(&cookie_life),
        "{cookie_life}"
    );
    let (_, token) = app.invite(&mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    let redeemed = app
        .call(&mut alice, "redeem_link", &[("token", &token)])
        .await;
    let cookie_life = max_age(redeemed.set_cookie.as_deref().unwrap());
    assert!(
        (7 * 24 * HOUR - 60..=7 * 24 * HOUR).contains(&cookie_life),
        "the invitation's 7-day session: {cookie_life}"
    );

    // Both use their sessions every 20 minutes, well within the 60-minute idle limit:
    // bob's lasts until its 12-hour absolute limit, alice's (7 days) beyond.
    for step in 1..=40 {
        app.age_sessions(20 * 60).await;
        let expected = if step * 20 < 12 * 60 {
            "coworker"
        } else {
            "anonymous"
        };
        assert_eq!(
            app.role(&mut bob).await,
            expected,
            "bob after {} minutes",
            step * 20
        );
        assert_eq!(
            app.role(&mut alice).await,
            "invitee",
            "alice after {} minutes",
            step * 20
        );
    }

    // Left alone for just over the idle limit, alice's session ends.
    app.age_sessions(61 * 60).await;
    assert_eq!(app.role(&mut alice).await, "anonymous");
}
