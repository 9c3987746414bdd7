//! Roles: anonymous and invitee callers get nothing from coworker functions; cross-site
//! requests are refused.

use crate::helpers::*;

#[tokio::test]
async fn anonymous_and_invitee_callers_are_refused_by_every_coworker_function() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (id, token) = app.invite(&mut bob, "alice@example.com").await;
    let mut alice = Client::default();
    assert_eq!(
        app.call(&mut alice, "redeem_link", &[("token", &token)])
            .await
            .status,
        200
    );
    let id = id.to_string();

    let calls: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "issue_link",
            vec![("email", "eve@example.com"), ("expires_in", "24h")],
        ),
        ("list_links", vec![]),
        ("revoke_link", vec![("id", &id)]),
    ];
    for (endpoint, form) in &calls {
        let anonymous = app.call(&mut Client::default(), endpoint, form).await;
        assert_eq!(
            (anonymous.status, anonymous.error()),
            (401, "not_signed_in"),
            "{endpoint}"
        );
        let invitee = app.call(&mut alice, endpoint, form).await;
        assert_eq!(
            (invitee.status, invitee.error()),
            (403, "forbidden"),
            "{endpoint}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE revoked_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(app.role(&mut alice).await, "invitee");
}

#[tokio::test]
async fn cross_origin_posts_are_refused_before_any_work() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let http = reqwest::Client::new();
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let response = http
            .post(format!("{}/api/issue_link", app.base))
            .header("cookie", bob.cookie.clone().unwrap())
            .header(header, value)
            .form(&[("email", "eve@example.com"), ("expires_in", "24h")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{header}: {value}");
    }
    let same = http
        .post(format!("{}/api/list_links", app.base))
        .header("cookie", bob.cookie.clone().unwrap())
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .await,
        0
    );
    assert_eq!(app.role(&mut bob).await, "coworker");
}

#[tokio::test]
async fn health_check_answers_when_the_database_does() {
    let app = spawn_app().await;
    let response = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(response.status(), 200);
    app.db.close().await;
    let response = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(response.status(), 503);
}
