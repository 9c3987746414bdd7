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

#[tokio::test]
async fn admins_add_and_deactivate_coworkers_and_deactivation_ends_their_sessions() {
    let app = spawn_app().await;
    // The first coworker is an admin.
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    assert_eq!(
        app.call(&mut ada, "current_user", &[]).await.body["is_admin"],
        true
    );
    let added = app
        .call(
            &mut ada,
            "add_coworker",
            &[
                ("email", "Cora@Example.com"),
                ("name", "Cora"),
                ("role", "coworker"),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let again = app
        .call(&mut ada, "add_coworker", &[("email", "cora@example.com")])
        .await;
    assert_eq!(
        (again.status, again.body["field"].as_str()),
        (400, Some("email"))
    );
    for (form, field) in [
        (vec![("email", "not an address")], "email"),
        (vec![("email", "x@example.com"), ("role", "owner")], "role"),
        (
            vec![("email", "x@example.com"), ("name", "two\nlines")],
            "name",
        ),
    ] {
        let refused = app.call(&mut ada, "add_coworker", &form).await;
        assert_eq!(
            (refused.status, refused.body["field"].as_str()),
            (400, Some(field)),
            "{form:?}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM coworkers WHERE email = 'x@example.com'")
            .await,
        0
    );

    // Cora signs in (by mail, as any coworker) and is not an admin.
    let mut cora = Client::default();
    app.call(
        &mut cora,
        "request_signin",
        &[("email", "cora@example.com")],
    )
    .await;
    let token = token_in(&app.mail_to("cora@example.com").await);
    assert_eq!(
        app.call(&mut cora, "redeem_link", &[("token", &token)])
            .await
            .status,
        200
    );
    let listed = app.call(&mut cora, "list_coworkers", &[]).await;
    assert_eq!((listed.status, listed.error()), (403, "forbidden"));

    let people = app.call(&mut ada, "list_coworkers", &[]).await;
    let cora_id = people
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "cora@example.com")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let ada_id = people.body[0]["id"].as_i64().unwrap();
    let own = app
        .call(
            &mut ada,
            "deactivate_coworker",
            &[("id", &ada_id.to_string())],
        )
        .await;
    assert_eq!((own.status, own.body["field"].as_str()), (400, Some("id")));

    let gone = app
        .call(
            &mut ada,
            "deactivate_coworker",
            &[("id", &cora_id.to_string())],
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(app.role(&mut cora).await, "anonymous");
    let twice = app
        .call(
            &mut ada,
            "deactivate_coworker",
            &[("id", &cora_id.to_string())],
        )
        .await;
    assert_eq!((twice.status, twice.error()), (404, "not_found"));
    let people = app.call(&mut ada, "list_coworkers", &[]).await;
    let cora = people
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == "cora@example.com")
        .unwrap()
        .clone();
    assert!(cora["deactivated_at"].is_i64(), "{cora}");
    assert_eq!(app.role(&mut ada).await, "coworker");
}
