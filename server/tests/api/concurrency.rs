//! Races: many browsers redeeming one token at once, and a revoke racing a redeem. The
//! server runs on a multi-threaded runtime so the requests really overlap.

use crate::helpers::*;

const ROUNDS: usize = 50;
const RACERS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_redeems_open_exactly_one_session_fifty_times_over() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for round in 0..ROUNDS {
        let (id, token) = app
            .invite(&mut bob, &format!("alice-{round}@example.com"))
            .await;
        let attempts = (0..RACERS).map(|_| {
            let base = app.base.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let app = TestAppRef { base };
                app.redeem(&token).await
            })
        });
        let mut won = 0;
        let mut used = 0;
        for attempt in futures::future::join_all(attempts).await {
            match attempt.unwrap() {
                (200, _) => won += 1,
                (410, error) if error == "link_used" => used += 1,
                other => panic!("round {round}: unexpected answer {other:?}"),
            }
        }
        assert_eq!((won, used), (1, RACERS - 1), "round {round}");
        let sessions = app
            .count(&format!(
                "SELECT count(*) FROM auth_sessions WHERE link_id = {id}"
            ))
            .await;
        assert_eq!(sessions, 1, "round {round}");
    }
}

/// One revoke and one redeem of a fresh invitation; `together` sends them at once,
/// otherwise the redeem goes first when `redeem_first`. Asserts what each order must
/// leave behind and answers whether the redeem won.
async fn revoke_and_redeem(app: &TestApp, bob: &Client, round: usize, order: Order) -> bool {
    let mut bob = bob.clone();
    let (id, token) = app
        .invite(&mut bob, &format!("alice-{round}@example.com"))
        .await;
    let mut alice = Client::default();
    let id_text = id.to_string();
    let redeem_form = [("token", token.as_str())];
    let revoke_form = [("id", id_text.as_str())];
    let mut revoker = bob.clone();
    let (redeem, revoke) = match order {
        Order::Together => tokio::join!(
            app.call(&mut alice, "redeem_link", &redeem_form),
            app.call(&mut revoker, "revoke_link", &revoke_form),
        ),
        Order::RedeemFirst => {
            let redeem = app.call(&mut alice, "redeem_link", &redeem_form).await;
            (
                redeem,
                app.call(&mut revoker, "revoke_link", &revoke_form).await,
            )
        }
        Order::RevokeFirst => {
            let revoke = app.call(&mut revoker, "revoke_link", &revoke_form).await;
            (
                app.call(&mut alice, "redeem_link", &redeem_form).await,
                revoke,
            )
        }
    };
    assert_eq!(revoke.status, 200, "round {round}: {}", revoke.body);
    let sessions = |condition: &str| {
        let sql =
            format!("SELECT count(*) FROM auth_sessions WHERE link_id = {id} AND {condition}");
        async move { app.count(&sql).await }
    };
    let redeem_won = match (redeem.status, redeem.error()) {
        (200, _) => {
            // The redeem committed first: the revoke ended the session it opened.
            assert_eq!(
                sessions("ended_at IS NOT NULL AND end_reason = 'link_revoked'").await,
                1,
                "round {round}: the revoke did not end the session the redeem opened"
            );
            true
        }
        (410, "link_revoked") => {
            assert_eq!(
                sessions("TRUE").await,
                0,
                "round {round}: a refused redeem opened a session"
            );
            false
        }
        other => panic!("round {round}: unexpected redeem answer {other:?}"),
    };
    assert_eq!(
        sessions("ended_at IS NULL").await,
        0,
        "round {round}: a session outlived its revoked link"
    );
    assert_eq!(app.role(&mut alice).await, "anonymous", "round {round}");
    redeem_won
}

#[derive(Clone, Copy)]
enum Order {
    Together,
    RedeemFirst,
    RevokeFirst,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoke_racing_a_redeem_never_leaves_a_session_alive() {
    let app = spawn_app().await;
    let bob = app.coworker_client("bob@example.com", "Bob").await;
    // Raced until both orders have been seen (or for a bounded number of rounds)...
    let (mut redeem_won, mut revoke_won) = (0, 0);
    for round in 0..ROUNDS * 6 {
        if revoke_and_redeem(&app, &bob, round, Order::Together).await {
            redeem_won += 1;
        } else {
            revoke_won += 1;
        }
        if round + 1 >= ROUNDS && redeem_won > 0 && revoke_won > 0 {
            break;
        }
    }
    eprintln!("raced: the redeem won {redeem_won} times, the revoke {revoke_won} times");
    // ...and each order forced as well, so both are always checked.
    assert!(revoke_and_redeem(&app, &bob, 10_000, Order::RedeemFirst).await);
    assert!(!revoke_and_redeem(&app, &bob, 10_001, Order::RevokeFirst).await);
}

/// Just enough of a client to redeem from a spawned task.
struct TestAppRef {
    base: String,
}

impl TestAppRef {
    async fn redeem(&self, token: &str) -> (u16, String) {
        let response = http()
            .post(format!("{}/api/redeem_link", self.base))
            .header("accept", "application/json")
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        (status, body["error"].as_str().unwrap_or("").to_owned())
    }
}

/// Redeems of different links that arrive together share a transaction (group commit);
/// each must still open its own session, and each browser must be signed in as its own
/// invitee.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_links_redeemed_at_once_each_sign_in_their_own_invitee() {
    let app = spawn_app().await;
    let mut bob = app.coworker_client("bob@example.com", "Bob").await;
    for round in 0..5 {
        let mut invitations = Vec::new();
        for i in 0..48 {
            let email = format!("guest-{round}-{i}@example.com");
            let (id, token) = app.invite(&mut bob, &email).await;
            invitations.push((id, email, token));
        }
        let redeems = invitations.into_iter().map(|(id, email, token)| {
            let app_base = app.base.clone();
            tokio::spawn(async move {
                let mut invitee = Client::default();
                let answer =
                    TestApp::call_at(&app_base, &mut invitee, "redeem_link", &[("token", &token)])
                        .await;
                (id, email, invitee, answer)
            })
        });
        for redeemed in futures::future::join_all(redeems).await {
            let (id, email, mut invitee, answer) = redeemed.unwrap();
            assert_eq!(answer.status, 200, "{email}: {}", answer.body);
            assert!(invitee.cookie.is_some(), "{email}: no session cookie");
            let sessions = app
                .count(&format!(
                    "SELECT count(*) FROM auth_sessions WHERE link_id = {id}"
                ))
                .await;
            assert_eq!(sessions, 1, "{email}");
            let me = app.call(&mut invitee, "current_user", &[]).await;
            assert_eq!(me.body["email"], email.as_str(), "{}", me.body);
        }
    }
}

/// Issues that arrive together share a transaction too: each answer names its own link,
/// each link holds its own address, and each has exactly one `issued` and one
/// `mail_sent` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_links_issued_at_once_each_get_their_own_row_and_events() {
    let app = spawn_app().await;
    let bob = app.coworker_client("bob@example.com", "Bob").await;
    let issues = (0..48).map(|i| {
        let (base, mut bob) = (app.base.clone(), bob.clone());
        tokio::spawn(async move {
            let email = format!("batch-{i}@example.com");
            let form = [("email", email.as_str()), ("expires_in", "24h")];
            let answer = TestApp::call_at(&base, &mut bob, "issue_link", &form).await;
            (email, answer)
        })
    });
    let mut ids = std::collections::HashSet::new();
    for issued in futures::future::join_all(issues).await {
        let (email, answer) = issued.unwrap();
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
        assert_eq!(answer.body["email"], email.as_str());
        assert_eq!(answer.body["delivery"], "sent");
        let id = answer.body["id"].as_i64().unwrap();
        assert!(ids.insert(id), "link {id} answered twice");
        let stored = app
            .count(&format!(
                "SELECT count(*) FROM magic_links WHERE id = {id} AND recipient_email = '{email}'
                   AND delivery = 'sent'"
            ))
            .await;
        assert_eq!(stored, 1, "{email}");
        for kind in ["issued", "mail_sent"] {
            let events = app
                .count(&format!(
                    "SELECT count(*) FROM link_events WHERE link_id = {id} AND kind = '{kind}'"
                ))
                .await;
            assert_eq!(events, 1, "{email}: {kind}");
        }
    }
}

/// Pages render Suspense boundaries over shared resources. Rendered across the threads of
/// the multi-threaded runtime, Leptos' reactive graph could take two of its locks in
/// opposite orders on two threads and stop every worker for good (leptos issue 4673): a
/// few hundred dashboards at once did it within seconds, after which not even
/// `/healthz` answered. Every page must come back whole, and the server stay up.
///
/// The server runs on a runtime of its own and the browsers on another, so a server
/// whose every thread is stuck makes this test fail instead of hang.
#[test]
fn many_pages_rendered_at_once_all_come_back_whole() {
    const PAGES: usize = 5000;
    const AT_ONCE: usize = 32;
    // Not a speed limit: no page at all for this long means the server stopped answering
    // (on a busy machine all of them together take minutes).
    const HUNG: std::time::Duration = std::time::Duration::from_secs(30);

    let runtime = |threads| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
    };
    let server = runtime(4);
    let (app, coworker, paths, invitee) = server.block_on(async {
        let app = spawn_app().await;
        let mut bob = app.coworker_client("bob@example.com", "Bob").await;
        let mut paths = vec!["/dashboard".to_owned(), "/dashboard/coworkers".to_owned()];
        let mut tokens = Vec::new();
        for n in 0..3 {
            let (id, token) = app
                .invite(&mut bob, &format!("guest-{n}@example.com"))
                .await;
            paths.push(format!("/dashboard/links/{id}"));
            tokens.push(token);
        }
        let mut guest = Client::default();
        let redeemed = app
            .call(&mut guest, "redeem_link", &[("token", &tokens[0])])
            .await;
        assert_eq!(redeemed.status, 200, "{}", redeemed.body);
        (app, bob.cookie.unwrap(), paths, guest.cookie.unwrap())
    });
    // A coworker's pages and an invitee's, at the same time.
    let welcome = ["/welcome".to_owned()];
    let outcome = runtime(2).block_on(async {
        let (coworker, invitee) = futures::future::join(
            browse(&app.base, &coworker, &paths, PAGES, AT_ONCE, HUNG),
            browse(&app.base, &invitee, &welcome, PAGES / 5, AT_ONCE / 4, HUNG),
        )
        .await;
        coworker.and(invitee)
    });
    // A stuck runtime cannot be waited for.
    server.shutdown_background();
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// `pages` GETs of `paths` in turn as the holder of `cookie`, `at_once` at a time, then
/// `/healthz`: `Err` says what went wrong.
async fn browse(
    base: &str,
    cookie: &str,
    paths: &[String],
    pages: usize,
    at_once: usize,
    hung: std::time::Duration,
) -> Result<(), String> {
    let at_once = std::sync::Arc::new(tokio::sync::Semaphore::new(at_once));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let requests = (0..pages).map(|n| {
        let url = format!("{base}{}", paths[n % paths.len()]);
        let cookie = cookie.to_owned();
        let at_once = at_once.clone();
        let answered = answered.clone();
        tokio::spawn(async move {
            let _turn = at_once.acquire_owned().await.unwrap();
            let response = http()
                .get(&url)
                .header(reqwest::header::COOKIE, cookie)
                .send()
                .await
                .map_err(|error| format!("{url}: {error}"))?;
            let status = response.status().as_u16();
            let body = response
                .text()
                .await
                .map_err(|error| format!("{url}: {error}"))?;
            answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match status {
                200 if body.contains("</html>") => Ok(()),
                _ => Err(format!("{url}: {status}, ending {:?}", tail(&body))),
            }
        })
    });
    // Hung means no page came back for `hung`, however long all of them take on a busy
    // machine.
    let stalled = {
        let answered = answered.clone();
        async move {
            let mut seen = 0;
            let mut since = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                let now = answered.load(std::sync::atomic::Ordering::Relaxed);
                if now != seen {
                    (seen, since) = (now, tokio::time::Instant::now());
                } else if since.elapsed() >= hung {
                    return now;
                }
            }
        }
    };
    let answers = tokio::select! {
        answers = futures::future::join_all(requests) => answers,
        stuck_at = stalled => {
            return Err(format!(
                "{stuck_at} of {pages} pages came back, then none for {hung:?}; the server stopped answering"
            ));
        }
    };
    let failed: Vec<String> = answers
        .into_iter()
        .filter_map(|answer| answer.unwrap().err())
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "{} of {pages} pages failed, e.g. {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        ));
    }
    match tokio::time::timeout(hung, http().get(format!("{base}/healthz")).send()).await {
        Ok(Ok(health)) if health.status() == 200 => Ok(()),
        other => Err(format!("/healthz after the pages: {other:?}")),
    }
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(120);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}
