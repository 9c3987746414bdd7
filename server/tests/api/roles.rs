//! Roles: anonymous and invitee callers get nothing from coworker functions; cross-site
//! requests are refused.

use crate::helpers::*;

#[tokio::test]
async fn anonymous_and_invitee_callers_cannot_issue_list_or_revoke() {
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
async fn cross_origin_posts_are_refused_before_any_work_on_every_endpoint() {
    let app = spawn_app().await;
    // An admin (the first coworker), an invitee, and something for every endpoint to act on.
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let mut invitee = Client::default();
    let (_, used) = app.invite(&mut ada, "alice@example.com").await;
    assert_eq!(
        app.call(&mut invitee, "redeem_link", &[("token", &used)])
            .await
            .status,
        200
    );
    let (pending_id, pending) = app.invite(&mut ada, "carol@example.com").await;
    app.add_coworker("vic@example.com", "Vic").await;
    let victim = app
        .count("SELECT id FROM coworkers WHERE email = 'vic@example.com'")
        .await
        .to_string();
    let session = app
        .count("SELECT rowid FROM auth_sessions WHERE link_id IS NOT NULL")
        .await
        .to_string();
    let pending_id = pending_id.to_string();
    let form = |endpoint: &str| -> Vec<(&str, &str)> {
        match endpoint {
            "request_signin" => vec![("email", "ada@example.com")],
            "issue_link" => vec![("email", "eve@example.com"), ("expires_in", "24h")],
            "show_link" | "revoke_link" | "resend_link" => vec![("id", &pending_id)],
            "set_renewal" => vec![("id", &pending_id), ("renewal", "off")],
            "end_session" => vec![("session", &session)],
            // Login CSRF: another site signing the browser in as someone else.
            "redeem_link" | "peek_link" => vec![("token", &pending)],
            "renew_link" => vec![("token", &used)],
            "add_coworker" => vec![("email", "mallory@example.com"), ("role", "admin")],
            "deactivate_coworker" => vec![("id", &victim)],
            "set_coworker_role" => vec![("id", &victim), ("role", "admin")],
            _ => vec![],
        }
    };
    let other_port = {
        let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
        format!("http://127.0.0.1:{}", port.wrapping_add(1))
    };
    let foreign: [(&str, &str); 5] = [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", &other_port),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    let mut endpoints: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_owned())
        .collect();
    endpoints.sort();
    assert!(endpoints.len() >= 18, "{endpoints:?}");
    let before = app.table_counts().await;
    for endpoint in &endpoints {
        for (header, value) in foreign {
            for cookie in [&ada.cookie, &invitee.cookie] {
                let response = http()
                    .post(format!("{}/api/{endpoint}", app.base))
                    .header("cookie", cookie.clone().unwrap())
                    .header("accept", "application/json")
                    .header(header, value)
                    .form(&form(endpoint))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 403, "{endpoint} with {header}: {value}");
            }
        }
    }
    assert_eq!(
        app.table_counts().await,
        before,
        "a refused request did some work"
    );
    assert_eq!(app.role(&mut ada).await, "coworker");
    assert_eq!(app.role(&mut invitee).await, "invitee");

    // Served: the site itself, a navigation typed into the address bar
    // (`Sec-Fetch-Site: none`), and scripts that send neither header.
    for headers in [
        vec![
            ("origin", app.base.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        vec![("sec-fetch-site", "none")],
        vec![],
    ] {
        let mut request = http()
            .post(format!("{}/api/list_links", app.base))
            .header("cookie", ada.cookie.clone().unwrap())
            .header("accept", "application/json");
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        assert_eq!(request.send().await.unwrap().status(), 200, "{headers:?}");
    }
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

/// The id of the coworker with `email`, as an admin's list shows it.
async fn coworker_id(app: &TestApp, admin: &mut Client, email: &str) -> String {
    let people = app.call(admin, "list_coworkers", &[]).await;
    people
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {}", people.body))["id"]
        .as_i64()
        .unwrap()
        .to_string()
}

async fn is_admin(app: &TestApp, email: &str) -> bool {
    app.count(&format!(
        "SELECT CASE WHEN is_admin THEN 1 ELSE 0 END FROM coworkers
          WHERE email = '{email}' AND deactivated_at IS NULL"
    ))
    .await
        == 1
}

#[tokio::test]
async fn a_reactivated_coworker_gets_the_role_given_not_the_one_they_had() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let adder = ada.clone();
    let add = |email: &'static str, role: &'static str| {
        let app = &app;
        let mut ada = adder.clone();
        async move {
            let answer = app
                .call(
                    &mut ada,
                    "add_coworker",
                    &[("email", email), ("role", role)],
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        }
    };
    add("eve@example.com", "admin").await;
    assert!(is_admin(&app, "eve@example.com").await);
    let eve = coworker_id(&app, &mut ada, "eve@example.com").await;
    let gone = app
        .call(&mut ada, "deactivate_coworker", &[("id", &eve)])
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);

    add("eve@example.com", "coworker").await;
    assert!(
        !is_admin(&app, "eve@example.com").await,
        "re-added as a plain coworker"
    );
}

#[tokio::test]
async fn admins_change_roles_but_never_leave_the_organisation_without_an_admin() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let mut cora = app.coworker_client("cora@example.com", "Cora").await;
    let ada_id = coworker_id(&app, &mut ada, "ada@example.com").await;
    let cora_id = coworker_id(&app, &mut ada, "cora@example.com").await;

    // A plain coworker cannot change roles, not even their own.
    let refused = app
        .call(
            &mut cora,
            "set_coworker_role",
            &[("id", &cora_id), ("role", "admin")],
        )
        .await;
    assert_eq!((refused.status, refused.error()), (403, "forbidden"));
    // Bad input is named and changes nothing.
    for (form, field) in [
        (vec![("id", cora_id.as_str()), ("role", "owner")], "role"),
        (vec![("id", "x"), ("role", "admin")], "id"),
    ] {
        let bad = app.call(&mut ada, "set_coworker_role", &form).await;
        assert_eq!(
            (bad.status, bad.body["field"].as_str()),
            (400, Some(field)),
            "{form:?}"
        );
    }
    assert!(!is_admin(&app, "cora@example.com").await);

    // Ada, the only admin, cannot step down or be deactivated, by anyone.
    let alone = app
        .call(
            &mut ada,
            "set_coworker_role",
            &[("id", &ada_id), ("role", "coworker")],
        )
        .await;
    assert_eq!(
        (alone.status, alone.body["field"].as_str()),
        (400, Some("id"))
    );
    assert!(alone.body["message"]
        .as_str()
        .unwrap()
        .contains("last active admin"));
    let ada_email = app::server::email::EmailAddress::parse("email", "ada@example.com").unwrap();
    assert_eq!(
        app::server::coworkers::remove(&app.db, &ada_email)
            .await
            .unwrap(),
        app::server::coworkers::Changed::LastAdmin
    );
    assert!(is_admin(&app, "ada@example.com").await);

    // Cora made an admin can use admin functions at once; then Ada may step down.
    let promoted = app
        .call(
            &mut ada,
            "set_coworker_role",
            &[("id", &cora_id), ("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(app.call(&mut cora, "list_coworkers", &[]).await.status, 200);
    let stepped_down = app
        .call(
            &mut ada,
            "set_coworker_role",
            &[("id", &ada_id), ("role", "coworker")],
        )
        .await;
    assert_eq!(stepped_down.status, 200, "{}", stepped_down.body);
    assert_eq!(
        app.call(&mut ada, "list_coworkers", &[]).await.status,
        403,
        "no longer an admin, from the next request"
    );
    // Now Cora is the last admin.
    let last = app
        .call(
            &mut cora,
            "set_coworker_role",
            &[("id", &cora_id), ("role", "coworker")],
        )
        .await;
    assert_eq!(last.status, 400, "{}", last.body);
    let unknown = app
        .call(
            &mut cora,
            "set_coworker_role",
            &[("id", "999"), ("role", "admin")],
        )
        .await;
    assert_eq!((unknown.status, unknown.error()), (404, "not_found"));
}
