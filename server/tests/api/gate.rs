//! The gate (`/gate/auth-request` for nginx, `/gate/forward-auth` for Caddy and
//! Traefik): its whole decision table, from one list of cases that names every one,
//! asked through both endpoints exactly as the proxies ask.

use crate::helpers::{http, spawn_app, spawn_app_with, Client, SessionsOf, Setup, TestApp};
use app::server::applications;
use reqwest::header::{HeaderMap, ACCEPT, COOKIE};

const WIKI: &str = "https://wiki.example.com";
const GRAFANA: &str = "https://grafana.example.com";

/// Which endpoint, asked the way its proxy asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// nginx `auth_request`: `X-Original-URL`, `X-Original-Method`.
    AuthRequest,
    /// Traefik `forwardAuth` (and Caddy `forward_auth`): the `X-Forwarded-*` set.
    ForwardAuth,
}

/// One gated request as a proxy relays it.
struct Gated<'a> {
    url: &'a str,
    method: &'a str,
    cookie: Option<&'a str>,
    accept: &'a str,
    /// Headers the client sent that the proxy passed along.
    extra: Vec<(&'static str, &'a str)>,
}

impl<'a> Gated<'a> {
    fn get(url: &'a str, client: &'a Client) -> Self {
        Self {
            url,
            method: "GET",
            cookie: client.cookie.as_deref(),
            accept: "text/html,application/xhtml+xml",
            extra: Vec::new(),
        }
    }
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn ask(app: &TestApp, endpoint: Endpoint, gated: &Gated<'_>) -> Answer {
    let url = url::Url::parse(gated.url).unwrap();
    let mut request = match endpoint {
        Endpoint::AuthRequest => http()
            .get(format!("{}/gate/auth-request", app.base))
            .header("x-original-url", gated.url)
            .header("x-original-method", gated.method),
        Endpoint::ForwardAuth => {
            let host = match url.port() {
                Some(port) => format!("{}:{port}", url.host_str().unwrap()),
                None => url.host_str().unwrap().to_owned(),
            };
            let uri = match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            };
            // Exactly what Traefik's forwardAuth sends: the original request's headers,
            // and these, describing it.
            http()
                .get(format!("{}/gate/forward-auth", app.base))
                .header("x-forwarded-method", gated.method)
                .header("x-forwarded-proto", url.scheme())
                .header("x-forwarded-host", host)
                .header("x-forwarded-uri", uri)
                .header("x-forwarded-for", "203.0.113.9")
                .header(
                    "x-forwarded-port",
                    url.port_or_known_default().unwrap().to_string(),
                )
                .header("x-forwarded-server", "traefik-1")
                .header("x-real-ip", "203.0.113.9")
        }
    };
    request = request.header(ACCEPT, gated.accept);
    if let Some(cookie) = gated.cookie {
        request = request.header(COOKIE, cookie);
    }
    for (name, value) in &gated.extra {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn register(app: &TestApp) {
    applications::add(&app.db, "Wiki", WIKI).await.unwrap();
    applications::add(&app.db, "Grafana", GRAFANA)
        .await
        .unwrap();
}

/// An admin, and an invitee signed in by an invitation issued with the default access.
async fn admin_and_invitee(app: &TestApp) -> (Client, i64, Client) {
    let mut admin = app.coworker_client("ada@example.com", "Ada").await;
    let (link, token) = app.invite(&mut admin, "guest@example.com").await;
    let mut invitee = Client::default();
    let redeemed = app
        .call(&mut invitee, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    (admin, link, invitee)
}

/// The status the gate answers `client` for `url`.
async fn status(app: &TestApp, endpoint: Endpoint, url: &str, client: &Client) -> u16 {
    ask(app, endpoint, &Gated::get(url, client)).await.status
}

/// The details of link `link`'s events of `kind`, newest first.
async fn details_of(app: &TestApp, admin: &mut Client, link: i64, kind: &str) -> Vec<String> {
    app.whole_trail(admin, link)
        .await
        .into_iter()
        .filter(|event| event["kind"] == kind)
        .map(|event| event["detail"].as_str().unwrap().to_owned())
        .collect()
}

/// Every case of the decision table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    NoCookie,
    BadCookie,
    /// Latchkey's own session cookie alone: it opens nothing at the gate.
    SessionCookieOnly,
    Invitee,
    Coworker,
    Admin,
    Expired,
    Idle,
    Revoked,
    SignedOut,
    RemovedCoworker,
    NotInInvitation,
    OutsideEveryApplication,
    UntrustedPeer,
    SpoofedIdentity,
    Head,
    HeadSignedOut,
    Post,
    PostSignedOut,
    JsonSignedOut,
}

impl Case {
    const ALL: [Self; 20] = [
        Self::NoCookie,
        Self::BadCookie,
        Self::SessionCookieOnly,
        Self::Invitee,
        Self::Coworker,
        Self::Admin,
        Self::Expired,
        Self::Idle,
        Self::Revoked,
        Self::SignedOut,
        Self::RemovedCoworker,
        Self::NotInInvitation,
        Self::OutsideEveryApplication,
        Self::UntrustedPeer,
        Self::SpoofedIdentity,
        Self::Head,
        Self::HeadSignedOut,
        Self::Post,
        Self::PostSignedOut,
        Self::JsonSignedOut,
    ];
}

/// What the gate must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 200 with these groups; an invitee's answer names the link.
    Allow(&'static str),
    /// Not signed in: sign in at /login (302 for a browser's navigation through
    /// forward-auth, 401 otherwise), coming back to the URL.
    SignIn,
    /// An invitee whose session ended: the ended page, likewise.
    Ended,
    /// A request that cannot be redirected (not a navigation): 401 with `Location`.
    Unauthorized,
    Forbidden,
}

fn expected(case: Case, endpoint: Endpoint) -> Expect {
    let navigation = |expect| match endpoint {
        Endpoint::ForwardAuth => expect,
        // nginx cannot pass a redirect from an auth subrequest: always 401 + Location.
        Endpoint::AuthRequest => Expect::Unauthorized,
    };
    match case {
        // A browser that signed out holds no session at all any more.
        Case::NoCookie
        | Case::BadCookie
        | Case::SessionCookieOnly
        | Case::RemovedCoworker
        | Case::HeadSignedOut
        | Case::SignedOut => navigation(Expect::SignIn),
        Case::Expired | Case::Idle | Case::Revoked => navigation(Expect::Ended),
        Case::Invitee | Case::SpoofedIdentity | Case::Head | Case::Post => Expect::Allow("invitee"),
        Case::Coworker => Expect::Allow("coworker"),
        Case::Admin => Expect::Allow("coworker,admin"),
        Case::NotInInvitation | Case::OutsideEveryApplication | Case::UntrustedPeer => {
            Expect::Forbidden
        }
        Case::PostSignedOut | Case::JsonSignedOut => Expect::Unauthorized,
    }
}

/// Sets up `case` on a fresh server and asks the gate once through `endpoint`.
async fn run(case: Case, endpoint: Endpoint) -> (Answer, Option<i64>, &'static str) {
    let app = if case == Case::UntrustedPeer {
        spawn_app_with(Setup {
            env: vec![("LATCHKEY_TRUSTED_PROXIES", "10.0.0.0/8".to_owned())],
            ..Setup::default()
        })
        .await
    } else {
        spawn_app().await
    };
    register(&app).await;
    let mut admin = app.coworker_client("ada@example.com", "Ada").await;
    let signed_out = Client::default();
    let (link, token) = app.invite(&mut admin, "guest@example.com").await;
    let mut invitee = Client::default();
    let redeemed = app
        .call(&mut invitee, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    assert_eq!(
        redeemed.body["redirect_to"], "https://wiki.example.com/",
        "an invitee lands on the first application"
    );
    let page = "https://wiki.example.com/pages/42?edit=1";
    let mut gated = Gated::get(page, &invitee);
    let session_cookie;
    match case {
        Case::NoCookie | Case::JsonSignedOut | Case::PostSignedOut | Case::HeadSignedOut => {
            gated.cookie = signed_out.cookie.as_deref();
        }
        Case::BadCookie => gated.cookie = Some("latchkey_gate=not-a-gate-token-at-all"),
        Case::SessionCookieOnly => {
            session_cookie = invitee.session_cookie();
            gated.cookie = session_cookie.as_deref();
        }
        Case::Invitee | Case::UntrustedPeer => {}
        Case::Coworker | Case::RemovedCoworker => {
            let bob = app.coworker_client("bob@example.com", "Bob").await;
            let cookie = bob.cookie.clone().unwrap();
            if case == Case::RemovedCoworker {
                let email =
                    app::server::email::EmailAddress::parse("e", "bob@example.com").unwrap();
                app::server::coworkers::remove(&app.db, &email)
                    .await
                    .unwrap();
            }
            let answer = ask(
                &app,
                endpoint,
                &Gated {
                    cookie: Some(&cookie),
                    ..Gated::get(page, &invitee)
                },
            )
            .await;
            return (answer, Some(link), page_name(case));
        }
        Case::Admin => gated.cookie = admin.cookie.as_deref(),
        Case::Expired => {
            app.end_sessions_sooner(SessionsOf::Link(link), 40 * 86_400)
                .await;
        }
        Case::Idle => app.idle_sessions(SessionsOf::Link(link), 2 * 86_400).await,
        Case::Revoked => {
            let answer = app
                .call(&mut admin, "revoke_link", &[("id", &link.to_string())])
                .await;
            assert_eq!(answer.status, 200);
        }
        Case::SignedOut => {
            // Signed out in another tab: the row ends; this copy of the cookie is stale.
            let mut copy = invitee.clone();
            assert_eq!(app.call(&mut copy, "sign_out", &[]).await.status, 200);
        }
        Case::NotInInvitation => gated.url = "https://grafana.example.com/d/home",
        Case::OutsideEveryApplication => gated.url = "https://intranet.example.com/",
        Case::SpoofedIdentity => {
            gated.extra = vec![
                ("remote-user", "ada@example.com"),
                ("remote-email", "ada@example.com"),
                ("remote-groups", "coworker,admin"),
            ];
        }
        Case::Head => gated.method = "HEAD",
        Case::Post => gated.method = "POST",
    }
    if matches!(case, Case::PostSignedOut) {
        gated.method = "POST";
    }
    if matches!(case, Case::HeadSignedOut) {
        gated.method = "HEAD";
    }
    if matches!(case, Case::JsonSignedOut) {
        gated.accept = "application/json";
    }
    let answer = ask(&app, endpoint, &gated).await;
    (answer, Some(link), page_name(case))
}

/// The URL each case asks about, for the `rd` a refusal carries.
fn page_name(case: Case) -> &'static str {
    match case {
        Case::NotInInvitation => "https://grafana.example.com/d/home",
        Case::OutsideEveryApplication => "https://intranet.example.com/",
        _ => "https://wiki.example.com/pages/42?edit=1",
    }
}

fn rd_of(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(key, _)| key == "rd")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_case_of_the_decision_table_through_both_endpoints() {
    for endpoint in [Endpoint::AuthRequest, Endpoint::ForwardAuth] {
        for case in Case::ALL {
            let (answer, link, asked) = run(case, endpoint).await;
            let what = format!("{case:?} through {endpoint:?}");
            match expected(case, endpoint) {
                Expect::Allow(groups) => {
                    assert_eq!(answer.status, 200, "{what}: {}", answer.body);
                    assert_eq!(answer.header("remote-groups"), Some(groups), "{what}");
                    let email = if groups == "invitee" {
                        "guest@example.com"
                    } else if groups.contains("admin") {
                        "ada@example.com"
                    } else {
                        "bob@example.com"
                    };
                    assert_eq!(answer.header("remote-user"), Some(email), "{what}");
                    assert_eq!(answer.header("remote-email"), Some(email), "{what}");
                    let link_header = answer.header("remote-link").map(str::to_owned);
                    if groups == "invitee" {
                        assert_eq!(
                            answer.header("remote-name"),
                            Some("Alice Example"),
                            "{what}"
                        );
                        assert_eq!(link_header, link.map(|id| id.to_string()), "{what}");
                    } else {
                        assert_eq!(link_header, None, "{what}");
                    }
                }
                Expect::SignIn | Expect::Ended | Expect::Unauthorized => {
                    let status = match expected(case, endpoint) {
                        Expect::Unauthorized => 401,
                        _ => 302,
                    };
                    assert_eq!(answer.status, status, "{what}: {}", answer.body);
                    let location = answer
                        .header("location")
                        .unwrap_or_else(|| panic!("{what}: no Location"));
                    let ended = matches!(case, Case::Expired | Case::Idle | Case::Revoked);
                    let page = if ended { "/welcome?rd=" } else { "/login?rd=" };
                    assert!(location.contains(page), "{what}: {location}");
                    assert_eq!(rd_of(location), asked, "{what}");
                    assert!(answer.header("remote-user").is_none(), "{what}");
                }
                Expect::Forbidden => {
                    assert_eq!(answer.status, 403, "{what}: {}", answer.body);
                    assert!(answer.header("remote-user").is_none(), "{what}");
                    assert!(answer.header("location").is_none(), "{what}");
                    if case == Case::NotInInvitation {
                        assert!(
                            answer.body.contains("does not open Grafana"),
                            "{what}: {}",
                            answer.body
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn a_revoke_is_seen_by_the_very_next_gated_request() {
    let app = spawn_app().await;
    register(&app).await;
    let (mut admin, link, invitee) = admin_and_invitee(&app).await;
    let page = "https://wiki.example.com/";
    for endpoint in [Endpoint::AuthRequest, Endpoint::ForwardAuth] {
        assert_eq!(status(&app, endpoint, page, &invitee).await, 200);
    }
    app.call(&mut admin, "revoke_link", &[("id", &link.to_string())])
        .await;
    for endpoint in [Endpoint::AuthRequest, Endpoint::ForwardAuth] {
        let answer = ask(&app, endpoint, &Gated::get(page, &invitee)).await;
        assert_ne!(
            answer.status, 200,
            "{endpoint:?} let a revoked session through"
        );
        assert!(answer.header("location").unwrap().contains("/welcome?rd="));
    }
}

#[tokio::test]
async fn the_first_request_to_each_application_goes_on_the_trail_once() {
    let app = spawn_app().await;
    register(&app).await;
    let mut admin = app.coworker_client("ada@example.com", "Ada").await;
    let answer = app
        .call(
            &mut admin,
            "issue_link",
            &[
                ("email", "guest@example.com"),
                ("expires_in", "24h"),
                ("applications", "1,2"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let link = answer.body["id"].as_i64().unwrap();
    let token = crate::helpers::token_in(&app.mail_to("guest@example.com").await);
    let mut invitee = Client::default();
    app.call(&mut invitee, "redeem_link", &[("token", &token)])
        .await;
    for _ in 0..5 {
        for url in [
            "https://wiki.example.com/a",
            "https://grafana.example.com/b",
        ] {
            assert_eq!(
                status(&app, Endpoint::ForwardAuth, url, &invitee).await,
                200
            );
        }
    }
    app.gate_uses_written().await;
    let reached = details_of(&app, &mut admin, link, "reached").await;
    assert_eq!(reached, ["Grafana", "Wiki"], "newest first, once each");
    assert_eq!(
        app.count("SELECT count(*) FROM link_events WHERE kind = 'reached'")
            .await,
        2
    );
}

#[tokio::test]
async fn gated_requests_record_use_at_most_once_a_minute() {
    let app = spawn_app().await;
    register(&app).await;
    let (_admin, link, invitee) = admin_and_invitee(&app).await;
    let last_seen = "SELECT last_seen_at FROM auth_sessions WHERE link_id IS NOT NULL";
    app.idle_sessions(SessionsOf::Link(link), 30).await;
    let before = app.count(last_seen).await;
    for _ in 0..10 {
        let answer = ask(&app, Endpoint::AuthRequest, &Gated::get(WIKI, &invitee)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    app.gate_uses_written().await;
    assert_eq!(
        app.count(last_seen).await,
        before,
        "used within the minute: not rewritten"
    );
    app.idle_sessions(SessionsOf::Link(link), 31).await;
    let answer = ask(&app, Endpoint::AuthRequest, &Gated::get(WIKI, &invitee)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.gate_uses_written().await;
    assert!(
        app.count(last_seen).await > before,
        "a minute later, recorded once more"
    );
}

#[tokio::test]
async fn narrowing_an_invitation_is_seen_at_once_and_widening_is_on_its_timeline() {
    let app = spawn_app().await;
    register(&app).await;
    let (mut admin, link, invitee) = admin_and_invitee(&app).await;
    let id = link.to_string();
    assert_eq!(
        status(&app, Endpoint::ForwardAuth, GRAFANA, &invitee).await,
        403
    );
    // Widen to both, then narrow to Grafana: each holds from the next request.
    for (access, url, now) in [("1,2", GRAFANA, 200), ("2", WIKI, 403)] {
        let changed = app
            .call(
                &mut admin,
                "set_link_access",
                &[("id", &id), ("applications", access)],
            )
            .await;
        assert_eq!(changed.status, 200, "{}", changed.body);
        assert_eq!(
            status(&app, Endpoint::ForwardAuth, url, &invitee).await,
            now,
            "{url} after access {access}"
        );
    }
    let changes = details_of(&app, &mut admin, link, "access_changed").await;
    assert_eq!(
        changes,
        ["narrowed: removed Wiki", "widened: added Grafana"]
    );
    let shown = app.call(&mut admin, "show_link", &[("id", &id)]).await;
    assert_eq!(shown.body["applications"][0]["name"], "Grafana");
    assert_eq!(
        shown.body["link"]["applications"],
        serde_json::json!(["Grafana"])
    );
    let unknown = app
        .call(
            &mut admin,
            "set_link_access",
            &[("id", &id), ("applications", "9")],
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["field"], "applications");
}

#[tokio::test]
async fn a_coworker_sent_to_sign_in_comes_back_to_the_application_and_open_redirects_are_refused() {
    let app = spawn_app().await;
    register(&app).await;
    app.add_coworker("bob@example.com", "Bob").await;
    let mut browser = Client::default();
    let asked = "https://wiki.example.com/pages/7";
    let answer = ask(&app, Endpoint::ForwardAuth, &Gated::get(asked, &browser)).await;
    let rd = rd_of(answer.header("location").unwrap());
    let sent = app
        .call(
            &mut browser,
            "request_signin",
            &[("email", "bob@example.com"), ("rd", &rd)],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let token = crate::helpers::token_in(&app.mail_to("bob@example.com").await);
    let redeemed = app
        .call(&mut browser, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(redeemed.body["redirect_to"], asked);
    assert_eq!(
        ask(&app, Endpoint::ForwardAuth, &Gated::get(asked, &browser))
            .await
            .status,
        200
    );

    for bypass in [
        "//evil.test/",
        "\\\\evil.test\\",
        "https://wiki.example.com.evil.test/",
        "https://wiki.example.com@evil.test/",
        "https://user@wiki.example.com/",
        "http://wiki.example.com/",
        "https://evil.test/%2e%2e/",
        "javascript:alert(1)",
    ] {
        let refused = app
            .call(
                &mut Client::default(),
                "request_signin",
                &[("email", "bob@example.com"), ("rd", bypass)],
            )
            .await;
        assert_eq!(refused.status, 400, "{bypass:?}: {}", refused.body);
        assert_eq!(refused.body["field"], "rd", "{bypass:?}");
        let shown = app
            .call(&mut Client::default(), "return_to", &[("rd", bypass)])
            .await;
        assert_eq!(shown.body["url"], serde_json::Value::Null, "{bypass:?}");
    }
}

#[tokio::test]
async fn the_gate_cookie_covers_sibling_hosts_latchkeys_own_stays_host_only_and_a_bad_domain_is_refused_at_start(
) {
    let app = spawn_app_with(Setup {
        env: vec![
            (
                "LATCHKEY_PUBLIC_URL",
                "http://login.latchkey.test".to_owned(),
            ),
            ("LATCHKEY_COOKIE_DOMAIN", "latchkey.test".to_owned()),
        ],
        ..Setup::default()
    })
    .await;
    let mut client = Client::default();
    app.add_coworker("bob@example.com", "Bob").await;
    app.call(
        &mut client,
        "request_signin",
        &[("email", "bob@example.com")],
    )
    .await;
    let token = crate::helpers::token_in(&app.mail_to("bob@example.com").await);
    let redeemed = app
        .call(&mut client, "redeem_link", &[("token", &token)])
        .await;
    let cookie = redeemed.set_cookie.unwrap();
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    assert!(
        !cookie.contains("Domain="),
        "Latchkey's own cookie is host-only: {cookie}"
    );
    let set_gate = redeemed.set_gate_cookie.unwrap();
    assert!(
        set_gate.contains("Domain=latchkey.test")
            && set_gate.contains("HttpOnly")
            && set_gate.contains("SameSite=Lax"),
        "{set_gate}"
    );
    let gate = client.gate_cookie().expect("a gate cookie");
    assert!(gate.starts_with("latchkey_gate="), "{gate}");
    assert_ne!(
        gate.split_once('=').unwrap().1,
        cookie.split(';').next().unwrap().split_once('=').unwrap().1,
        "two credentials, not one value twice"
    );
    // Signing out clears both.
    let out = app.call(&mut client, "sign_out", &[]).await;
    assert_eq!(out.status, 200);
    assert_eq!(client.cookie, None, "both cookies deleted");

    let config = |public: &str, domain: &str| {
        app::server::config::Config::from_lookup(|key| match key {
            "LATCHKEY_PUBLIC_URL" => Some(public.to_owned()),
            "LATCHKEY_COOKIE_DOMAIN" => Some(domain.to_owned()),
            _ => None,
        })
    };
    let https = config("https://login.example.com", "example.com").unwrap();
    assert_eq!(https.session_cookie_name(), "__Host-latchkey_session");
    assert_eq!(
        app::server::gate::cookie::name(&https),
        "__Secure-latchkey_gate"
    );
    assert_eq!(https.cookie_domain.as_deref(), Some("example.com"));
    for (public, domain) in [
        ("https://login.example.com", "com"),
        ("https://login.example.com", "other.test"),
        ("https://login.example.com", "ample.com"),
        ("http://127.0.0.1:3000", "127.0.0.1"),
    ] {
        let error = config(public, domain).err().unwrap().to_string();
        assert!(
            error.contains("LATCHKEY_COOKIE_DOMAIN"),
            "{domain}: {error}"
        );
    }
}
