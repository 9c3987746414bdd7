//! The invitee's plain HTML forms (`POST /link`, `POST /link/renew`): what a browser
//! without the WASM gets, answer by answer, and that each acts exactly like its server
//! function.

use crate::helpers::{http, spawn_app, spawn_app_with, token_in, Client, Page, Setup};

/// The /link page's answer carries no hydration (the answer exists only on the server),
/// is never stored, and has the page policy.
fn assert_static_answer(page: &Page) {
    assert!(
        !page.html.contains("hydrate"),
        "an answer page must not hydrate"
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page
        .header("content-security-policy")
        .is_some_and(|csp| csp.contains("script-src 'self' 'nonce-")));
}

#[tokio::test]
async fn continue_signs_in_and_redirects_where_the_link_leads() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (id, token) = app.invite(&mut ada, "alice@example.com").await;
    let mut alice = Client::default();
    let page = app
        .post_form(&mut alice, "/link", &[("token", &token)])
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(page.header("location"), Some("/welcome"));
    assert!(page
        .header("set-cookie")
        .is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")));
    assert_eq!(app.role(&mut alice).await, "invitee");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM magic_links WHERE id = {id} AND redeemed_at IS NOT NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_coworkers_sign_in_link_continues_to_the_dashboard() {
    let app = spawn_app().await;
    app.add_coworker("ada@example.com", "Ada").await;
    let mut ada = Client::default();
    app.call(&mut ada, "request_signin", &[("email", "ada@example.com")])
        .await;
    let token = token_in(&app.mail_to("ada@example.com").await);
    let page = app.post_form(&mut ada, "/link", &[("token", &token)]).await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/dashboard"));
    assert_eq!(app.role(&mut ada).await, "coworker");
}

#[tokio::test]
async fn each_refusal_reads_as_on_the_page_with_the_wasm() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (_, used) = app.invite(&mut ada, "used@example.com").await;
    app.post_form(&mut Client::default(), "/link", &[("token", &used)])
        .await;
    let (expired_id, expired) = app.invite(&mut ada, "expired@example.com").await;
    app.expire_link(expired_id).await;
    let (revoked_id, revoked) = app.invite(&mut ada, "revoked@example.com").await;
    let id = revoked_id.to_string();
    assert_eq!(
        app.call(&mut ada, "revoke_link", &[("id", &id)])
            .await
            .status,
        200
    );
    let unknown = "A".repeat(43);

    let cases: [(&str, &str, u16, &str, bool); 6] = [
        ("used", &used, 410, "This link has already been used", true),
        ("expired", &expired, 410, "This link has expired", true),
        ("revoked", &revoked, 410, "This link was revoked", false),
        ("unknown", &unknown, 404, "This link is not valid", false),
        (
            "malformed",
            "not-a-token",
            404,
            "This link is not valid",
            false,
        ),
        ("empty", "", 404, "This link is not valid", false),
    ];
    for (case, token, status, heading, renewable) in cases {
        let before = app.table_counts().await;
        let mut browser = Client::default();
        let page = app
            .post_form(&mut browser, "/link", &[("token", token)])
            .await;
        assert_eq!(page.status, status, "{case}: {}", page.html);
        assert!(
            page.html.contains(&format!("<h1>{heading}</h1>")),
            "{case}: {}",
            page.html
        );
        assert_static_answer(&page);
        assert!(page.header("set-cookie").is_none(), "{case}: no session");
        // The renewal form carries the token back, and only where a new link may be had.
        let renewal = page.html.contains(r#"action="/link/renew""#);
        assert_eq!(renewal, renewable, "{case}");
        if renewable {
            assert!(page.html.contains(&format!(r#"value="{token}""#)), "{case}");
        }
        // A refusal writes nothing but its line on the trail.
        let after = app.table_counts().await;
        for (table, count) in &after {
            if !table.contains("event") {
                assert_eq!(before[table], *count, "{case}: {table} changed");
            }
        }
    }
    // The server function gives the same reason (the page writes it with the same words:
    // both render the error's Display).
    let answer = app
        .call(
            &mut Client::default(),
            "redeem_link",
            &[("token", &revoked)],
        )
        .await;
    assert_eq!((answer.status, answer.error()), (410, "link_revoked"));
}

#[tokio::test]
async fn a_form_without_its_field_is_an_invalid_link_not_an_error() {
    let app = spawn_app().await;
    let page = app.post_form(&mut Client::default(), "/link", &[]).await;
    assert_eq!(page.status, 404);
    assert!(page.html.contains("This link is not valid"));
}

#[tokio::test]
async fn send_me_a_new_link_mails_the_invitations_own_address() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (_, token) = app.invite(&mut ada, "alice@example.com").await;
    app.post_form(&mut Client::default(), "/link", &[("token", &token)])
        .await;
    let page = app
        .post_form(&mut Client::default(), "/link/renew", &[("token", &token)])
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("A new link is on its way to"),
        "{}",
        page.html
    );
    assert!(
        page.html.contains("<strong>a…@example.com</strong>"),
        "{}",
        page.html
    );
    assert_static_answer(&page);
    assert_eq!(app.mails_to("alice@example.com").len(), 2);
    let fresh = token_in(&app.mails_to("alice@example.com")[1]);
    assert_ne!(fresh, token);

    // Asking again at once is refused with the wait, as the server function says.
    let again = app
        .post_form(&mut Client::default(), "/link/renew", &[("token", &token)])
        .await;
    assert_eq!(again.status, 429);
    assert!(again.header("retry-after").is_some());
    assert!(again.html.contains("Too many attempts"));
    // A live link is not renewed: Continue is the answer.
    let live = app
        .post_form(&mut Client::default(), "/link/renew", &[("token", &fresh)])
        .await;
    assert_eq!(live.status, 400);
    assert!(live.html.contains("This link still works"));
}

#[tokio::test]
async fn the_forms_share_the_link_attempt_budget_with_the_server_functions() {
    let app = spawn_app_with(Setup {
        env: vec![("LATCHKEY_RATE_LINKS_PER_MINUTE", "3".to_owned())],
        ..Setup::default()
    })
    .await;
    let unknown = "A".repeat(43);
    let mut browser = Client::default();
    for _ in 0..2 {
        let page = app
            .post_form(&mut browser, "/link", &[("token", &unknown)])
            .await;
        assert_eq!(page.status, 404);
    }
    let answer = app
        .call(&mut browser, "peek_link", &[("token", &unknown)])
        .await;
    assert_eq!(answer.status, 404);
    let page = app
        .post_form(&mut browser, "/link", &[("token", &unknown)])
        .await;
    assert_eq!(page.status, 429, "{}", page.html);
    assert!(page.header("retry-after").is_some());
    assert!(page.html.contains("<h1>Too many attempts"));
}

#[tokio::test]
async fn the_link_page_moves_the_token_with_a_script_the_policy_allows() {
    let app = spawn_app().await;
    let response = http()
        .get(format!("{}/link", app.base))
        .send()
        .await
        .unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = response.text().await.unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    assert!(
        html.contains(r#"<form id="continue" method="post" action="/link">"#),
        "{html}"
    );
    let script = html
        .split(&format!(r#"<script nonce="{nonce}">"#))
        .nth(1)
        .expect("an inline script with the response's nonce")
        .split("</script>")
        .next()
        .unwrap();
    assert!(script.contains("location.hash"));
    assert!(script.contains("history.replaceState"));
    assert!(!csp.contains("unsafe-inline"));
}

#[tokio::test]
async fn another_site_cannot_post_the_forms() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (id, token) = app.invite(&mut ada, "alice@example.com").await;
    // Login CSRF: another site posting its own link would sign this browser in as
    // someone else. `Origin: null` (a sandboxed frame, a `no-referrer` page) is never
    // believed, even beside `Sec-Fetch-Site: same-origin`.
    let foreign: [&[(&str, &str)]; 6] = [
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "same-origin"),
        ],
    ];
    for path in ["/link", "/link/renew", "/code"] {
        for headers in foreign {
            let mut request = http()
                .post(format!("{}{path}", app.base))
                .form(&[("token", &token)]);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 403, "{path} {headers:?}");
            assert!(response.headers().get("set-cookie").is_none());
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM magic_links WHERE id = {id} AND redeemed_at IS NULL"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn continue_to_an_application_moves_on_by_itself() {
    // A redirect to another origin after a form post is refused by the page's
    // `form-action 'self'` (browsers check a form post's redirects too): signed in, the
    // answer is a page that refreshes to the application, without script.
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let added = app
        .call(
            &mut ada,
            "add_application",
            &[("name", "Wiki"), ("url", "https://wiki.example.com")],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let (_, token) = app.invite(&mut ada, "alice@example.com").await;
    let mut alice = Client::default();
    let page = app
        .post_form(&mut alice, "/link", &[("token", &token)])
        .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html
            .contains(r#"<meta http-equiv="refresh" content="0;url=https://wiki.example.com/">"#),
        "{}",
        page.html
    );
    assert!(page
        .html
        .contains(r#"<a href="https://wiki.example.com/">"#));
    assert_static_answer(&page);
    assert_eq!(app.role(&mut alice).await, "invitee");
}
