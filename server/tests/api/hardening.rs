//! Response headers and rate limits.

use crate::helpers::*;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn pages_allow_only_their_own_nonced_scripts() {
    let app = spawn_app().await;
    // The dashboard as a signed-in coworker sees it (anonymously it would be /login).
    let bob = app.coworker_client("bob@example.com", "Bob").await;
    for (path, cookie) in [
        ("/login", None),
        ("/link", None),
        ("/welcome", None),
        ("/dashboard", bob.cookie.clone()),
    ] {
        let mut request = http().get(format!("{}{path}", app.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let policy = header(&response, "content-security-policy").to_owned();
        assert_eq!(header(&response, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "same-origin");
        assert_eq!(header(&response, "x-frame-options"), "DENY", "{path}");
        assert_eq!(
            header(&response, "cross-origin-opener-policy"),
            "same-origin",
            "{path}"
        );
        assert!(header(&response, "x-robots-tag").contains("noindex"));
        let html = response.text().await.unwrap();
        if path == "/dashboard" {
            assert!(
                html.contains("Send magic link"),
                "the dashboard itself was checked"
            );
        }

        assert!(!policy.contains("unsafe-inline"), "{policy}");
        for directive in [
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
            "form-action 'self'",
            "'wasm-unsafe-eval'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        // Every inline script of the page carries the policy's nonce, and it is fresh.
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("the policy names a nonce");
        assert!(nonce.len() >= 16, "{nonce}");
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path} has the hydration script");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script carries the nonce"
        );
    }
    let first = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let second = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_ne!(
        header(&first, "content-security-policy"),
        header(&second, "content-security-policy"),
        "a new nonce per page"
    );
}

/// Pages and files requested at the same moment each keep their own policy. (Leptos' own
/// file handler once let a file's answer take the headers of a page rendering beside it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_and_files_served_together_keep_their_own_policies() {
    let app = spawn_app().await;
    std::fs::write(app.site_root.join("favicon.svg"), "<svg/>").unwrap();
    let bob = app.coworker_client("bob@example.com", "Bob").await;
    let cookie = bob.cookie.unwrap();
    let requests = (0..200).map(|i| {
        let path = ["/dashboard", "/favicon.svg", "/welcome", "/login"][i % 4];
        let request = http()
            .get(format!("{}{path}", app.base))
            .header("cookie", cookie.clone());
        tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let policy = header(&response, "content-security-policy").to_owned();
            (path, response.status(), policy)
        })
    });
    for answer in futures::future::join_all(requests).await {
        let (path, status, policy) = answer.unwrap();
        assert_eq!(status, 200, "{path}");
        if path == "/favicon.svg" {
            assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
        } else {
            assert!(policy.contains("'nonce-"), "{path}: {policy}");
        }
    }
}

#[tokio::test]
async fn api_answers_may_load_nothing_and_are_not_stored() {
    let app = spawn_app().await;
    let response = http()
        .post(format!("{}/api/current_user", app.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let policy = header(&response, "content-security-policy");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
}

fn tight(var: &'static str, value: &str) -> Setup {
    Setup {
        env: vec![(var, value.to_owned())],
        ..Setup::default()
    }
}

#[tokio::test]
async fn looking_up_links_is_limited_per_client_with_retry_after() {
    let app = spawn_app_with(tight("LATCHKEY_RATE_LINKS_PER_MINUTE", "3")).await;
    let mut client = Client::default();
    let unknown = "A".repeat(43);
    for _ in 0..3 {
        let answer = app
            .call(&mut client, "peek_link", &[("token", &unknown)])
            .await;
        assert_eq!(answer.status, 404, "{}", answer.body);
    }
    // Redeeming draws on the same budget: guessing cannot switch endpoints.
    let answer = app
        .call(&mut client, "redeem_link", &[("token", &unknown)])
        .await;
    assert_eq!((answer.status, answer.error()), (429, "rate_limited"));
    let wait: u64 = answer.retry_after.as_deref().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "Retry-After: {wait}");
    assert_eq!(answer.body["retry_after_secs"].as_u64(), Some(wait));
    assert_eq!(
        app.count("SELECT count(*) FROM auth_sessions").await,
        0,
        "nothing was stored"
    );
}

#[tokio::test]
async fn sign_in_is_limited_per_address_the_same_for_coworkers_and_strangers() {
    let app = spawn_app_with(tight("LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR", "2")).await;
    app.add_coworker("bob@example.com", "Bob").await;
    let mut answers = Vec::new();
    for address in ["bob@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let answer = app
                .call(
                    &mut Client::default(),
                    "request_signin",
                    &[("email", address)],
                )
                .await;
            seen.push((answer.status, answer.body.clone()));
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "no difference between the addresses"
    );
    assert_eq!(answers[0][1].0, 200);
    assert_eq!(answers[0][2].0, 429);
    // The budget is per address: another address still gets through.
    let other = app
        .call(
            &mut Client::default(),
            "request_signin",
            &[("email", "carol@example.com")],
        )
        .await;
    assert_eq!(other.status, 200);
}

/// Sign-in requests for distinct addresses, each with the given `X-Forwarded-For`.
async fn signin_statuses(app: &TestApp, forwarded: &[&str]) -> Vec<u16> {
    let mut statuses = Vec::new();
    for (i, ip) in forwarded.iter().enumerate() {
        let mut client = Client {
            forwarded_for: Some((*ip).to_owned()),
            ..Client::default()
        };
        let email = format!("someone{i}@example.com");
        let answer = app
            .call(&mut client, "request_signin", &[("email", &email)])
            .await;
        statuses.push(answer.status);
    }
    statuses
}

#[tokio::test]
async fn sign_in_is_limited_per_client_and_forwarded_for_only_counts_when_trusted() {
    // Not trusted: every caller here is 127.0.0.1, whatever the header says.
    let app = spawn_app_with(tight("LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE", "2")).await;
    assert_eq!(
        signin_statuses(&app, &["192.0.2.1", "192.0.2.2", "192.0.2.3"]).await,
        [200, 200, 429]
    );

    let mut setup = tight("LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE", "2");
    setup
        .env
        .push(("LATCHKEY_TRUST_FORWARDED_FOR", "true".to_owned()));
    let app = spawn_app_with(setup).await;
    // Trusted: the last entry (the one the proxy appended) is the client.
    assert_eq!(
        signin_statuses(
            &app,
            &[
                "10.0.0.1, 192.0.2.1",
                "10.0.0.1, 192.0.2.1",
                "10.0.0.1, 192.0.2.1",
                "192.0.2.9"
            ]
        )
        .await,
        [200, 200, 429, 200]
    );
}

#[tokio::test]
async fn issuing_is_limited_per_coworker_and_a_refusal_stores_nothing() {
    let app = spawn_app_with(tight("LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE", "2")).await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let mut carol = app.coworker_client("carol@example.com", "Carol").await;
    for i in 0..2 {
        let answer = app.issue(&mut bob, &format!("guest{i}@example.com")).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let refused = app.issue(&mut bob, "guest2@example.com").await;
    assert_eq!((refused.status, refused.error()), (429, "rate_limited"));
    assert!(refused.retry_after.is_some());
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE recipient_email = 'guest2@example.com'")
            .await,
        0
    );
    assert_eq!(
        app.issue(&mut carol, "guest2@example.com").await.status,
        200
    );
}

#[tokio::test]
async fn the_welcome_page_keeps_its_policy_after_a_second_sign_in() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    let (_, first) = app.invite(&mut bob, "first@example.com").await;
    let (_, second) = app.invite(&mut bob, "second@example.com").await;
    let mut browser = Client::default();
    for token in [&first, &second] {
        let answer = app
            .call(&mut browser, "redeem_link", &[("token", token)])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let response = http()
            .get(format!("{}/welcome", app.base))
            .header("cookie", browser.cookie.clone().unwrap())
            .send()
            .await
            .unwrap();
        let policy = header(&response, "content-security-policy").to_owned();
        let html = response.text().await.unwrap();
        assert!(policy.contains("'nonce-"), "{policy}\n{html}");
    }
}

#[tokio::test]
async fn behind_https_the_cookie_is_host_prefixed_and_secure_and_hsts_is_sent() {
    let app = spawn_app_with(Setup {
        env: vec![("LATCHKEY_PUBLIC_URL", "https://access.example.com".into())],
        ..Setup::default()
    })
    .await;
    app.add_coworker("bob@example.com", "Bob").await;
    let mut bob = Client::default();
    let answer = app
        .call(&mut bob, "request_signin", &[("email", "bob@example.com")])
        .await;
    assert_eq!(answer.status, 200);
    let mail = app.mail_to("bob@example.com").await;
    assert!(mail.contains("https://access.example.com/link#"));
    let answer = app
        .call(&mut bob, "redeem_link", &[("token", &token_in(&mail))])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.set_cookie.expect("a session cookie");
    assert!(cookie.starts_with("__Host-latchkey_session="), "{cookie}");
    let attributes: Vec<&str> = cookie.split(';').skip(1).map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} missing: {cookie}");
    }
    assert!(
        !attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "{cookie}"
    );

    let page = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&page, "strict-transport-security"),
        "max-age=63072000; includeSubDomains"
    );
}

#[tokio::test]
async fn over_plain_http_there_is_no_hsts_and_no_secure_cookie() {
    let app = spawn_app().await;
    let page = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert!(page.headers().get("strict-transport-security").is_none());

    // Signing in over http: the cookie has its plain name and no Secure, or the browser
    // would never send it back.
    app.add_coworker("bob@example.com", "Bob").await;
    let mut bob = Client::default();
    app.call(&mut bob, "request_signin", &[("email", "bob@example.com")])
        .await;
    let token = token_in(&app.mail_to("bob@example.com").await);
    let answer = app
        .call(&mut bob, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let cookie = answer.set_cookie.expect("a session cookie");
    assert!(cookie.starts_with("latchkey_session="), "{cookie}");
    let attributes: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(!attributes.contains(&"secure".to_owned()), "{cookie}");
    assert!(attributes.contains(&"httponly".to_owned()), "{cookie}");
    assert_eq!(app.role(&mut bob).await, "coworker", "the cookie works");
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413_and_stores_nothing() {
    let app = spawn_app().await;
    let bob = app.coworker_client("bob@example.com", "Bob").await;
    let message = "x".repeat(100 * 1024);
    let response = http()
        .post(format!("{}/api/issue_link", app.base))
        .header("accept", "application/json")
        .header("cookie", bob.cookie.unwrap())
        .form(&[
            ("email", "alice@example.com"),
            ("expires_in", "24h"),
            ("message", &message),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        app.count("SELECT count(*) FROM magic_links WHERE purpose = 'invite'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_front_end_is_served_precompressed_and_revalidated() {
    let app = spawn_app().await;
    // A binary that carries the front end (`make test` builds one) serves that one; a
    // binary that does not serves the site on disk, here a WASM written for the test.
    let carried = server::assets::carried::files().map(|files| {
        server::assets::carried::find(files, "/pkg/latchkey.wasm")
            .expect("the carried site has its WASM")
            .raw
            .to_vec()
    });
    let wasm = carried.unwrap_or_else(|| {
        let pkg = app.site_root.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        let wasm = b"\0asm\x01\0\0\0".repeat(4096);
        std::fs::write(pkg.join("latchkey.wasm"), &wasm).unwrap();
        // The server's own start-up pass may get there first; either way the siblings exist.
        server::assets::precompress(&pkg).unwrap();
        assert!(pkg.join("latchkey.wasm.br").exists() && pkg.join("latchkey.wasm.gz").exists());
        wasm
    });

    for (accept, encoding) in [
        ("br, gzip", Some("br")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let response = http()
            .get(format!("{}/pkg/latchkey.wasm", app.base))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{accept}");
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accept}"
        );
        assert_eq!(header(&response, "content-type"), "application/wasm");
        assert_eq!(header(&response, "vary"), "accept-encoding");
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let body = response.bytes().await.unwrap();
        let mut decoded = Vec::new();
        match encoding {
            Some("br") => {
                brotli::BrotliDecompress(&mut &body[..], &mut decoded).unwrap();
            }
            Some(_) => {
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut decoded,
                )
                .unwrap();
            }
            None => decoded = body.to_vec(),
        }
        assert!(decoded == wasm, "{accept}: not the WASM once decoded");
        if encoding.is_some() {
            assert!(
                body.len() < wasm.len() / 2,
                "{accept}: {} bytes",
                body.len()
            );
        }
    }
    // Pages are never cached.
    let page = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&page, "cache-control"), "no-store");
}

#[tokio::test]
async fn pages_load_the_front_end_from_a_versioned_path_cached_for_good() {
    let app = spawn_app().await;
    let html = http()
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("/pkg/").expect("the page names its stylesheet") + "/pkg/".len();
    let version = &html[start..start + 16];
    assert!(version.bytes().all(|b| b.is_ascii_hexdigit()), "{version}");
    assert!(html.contains(&format!("/pkg/{version}/latchkey.css")));
    assert!(
        html.contains(&format!("/pkg/{version}/latchkey.js")),
        "the hydration script"
    );

    let pkg = app.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("latchkey.css"), "body {}").unwrap();
    let versioned = http()
        .get(format!("{}/pkg/{version}/latchkey.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(versioned.status(), 200);
    assert_eq!(
        header(&versioned, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    let plain = http()
        .get(format!("{}/pkg/latchkey.css", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(header(&plain, "cache-control"), "no-cache");
}

#[tokio::test]
async fn a_fault_is_an_opaque_500_and_its_cause_stays_on_the_server() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    // Break the database under the running server: the list's query now fails.
    sqlx::query("ALTER TABLE magic_links RENAME TO magic_links_gone")
        .execute(&app.db)
        .await
        .unwrap();
    let answer = app.call(&mut bob, "list_links", &[]).await;
    assert_eq!(answer.status, 500, "{}", answer.body);
    assert_eq!(answer.body, serde_json::json!({ "error": "internal" }));
    let text = answer.body.to_string().to_ascii_lowercase();
    for driver_word in ["no such", "magic_links", "sqlite", "sqlx", "table"] {
        assert!(!text.contains(driver_word), "{driver_word} in {text}");
    }
}

#[tokio::test]
async fn a_refused_sign_in_says_when_to_try_again() {
    let app = spawn_app_with(tight("LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR", "1")).await;
    let form = [("email", "anyone@example.com")];
    assert_eq!(
        app.call(&mut Client::default(), "request_signin", &form)
            .await
            .status,
        200
    );
    let refused = app
        .call(&mut Client::default(), "request_signin", &form)
        .await;
    assert_eq!((refused.status, refused.error()), (429, "rate_limited"));
    let wait: u64 = refused.retry_after.as_deref().unwrap().parse().unwrap();
    // One request an hour: the next one is an hour away, less the moment since.
    assert!((3590..=3600).contains(&wait), "Retry-After: {wait}");
    assert_eq!(refused.body["retry_after_secs"].as_u64(), Some(wait));
}
