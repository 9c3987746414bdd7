//! Coworker sign-in, sessions, sign-out and removal.

use crate::helpers::*;

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
