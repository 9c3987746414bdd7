//! One-time codes: another device's way in (`POST /code`), consumed with the link, locked
//! after 5 wrong tries, limited per network, and silent about which addresses are invited.

use crate::helpers::{
    code_in, http, spawn_app, spawn_app_with, token_in, Client, Page, Setup, TestApp,
};
use crate::timing::{Interleaved, Tolerance};
use app::model::codes::{CODE_LOCKED, WRONG_CODE};

/// What a refusal of the code form says: its status and its message, and nothing else
/// that differs (the address typed is filled in again; the nonce changes per page).
fn refusal(page: &Page) -> (u16, String) {
    let alert = page
        .html
        .split(r#"class="error">"#)
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("")
        .to_owned();
    (page.status, alert)
}

async fn type_code(app: &TestApp, browser: &mut Client, email: &str, code: &str) -> Page {
    app.post_form(browser, "/code", &[("email", email), ("code", code)])
        .await
}

const REFUSED: &str = "That code does not match.";

/// A well-formed code that is not `code`.
fn wrong_code(code: &str) -> &'static str {
    if code == "0000-0000" {
        "1111-1111"
    } else {
        "0000-0000"
    }
}

/// A coworker (Ada) and her invitation to `email`: its id, token and code.
async fn invitation(app: &TestApp, email: &str) -> (Client, i64, String, String) {
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (id, token) = app.invite(&mut ada, email).await;
    let code = code_in(&app.mail_to(email).await);
    (ada, id, token, code)
}

#[tokio::test]
async fn a_code_signs_in_as_the_link_would_and_then_both_are_used() {
    let app = spawn_app().await;
    let (mut ada, id, token, code) = invitation(&app, "alice@example.com").await;
    assert_eq!(code.len(), 9, "{code}");

    // Typed as people type: any case, no hyphen, the address in capitals.
    let typed = code.replace('-', "").to_lowercase();
    let mut laptop = Client::default();
    let page = type_code(&app, &mut laptop, "Alice@Example.com", &typed).await;
    assert_eq!(page.status, 303, "{typed}: {}", page.html);
    assert_eq!(page.header("location"), Some("/welcome"));
    assert_eq!(app.role(&mut laptop).await, "invitee");
    let trail = app.whole_trail(&mut ada, id).await;
    assert!(trail.iter().any(|e| e["kind"] == "redeemed"), "{trail:?}");

    // The link is used with it, and the code with the link.
    let answer = app
        .call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(answer.error(), "link_used");
    let again = type_code(&app, &mut Client::default(), "alice@example.com", &code).await;
    assert_eq!(refusal(&again).0, 400);
    assert!(refusal(&again).1.starts_with(REFUSED), "{}", again.html);
}

#[tokio::test]
async fn the_link_uses_up_the_code() {
    let app = spawn_app().await;
    let (_, _, token, code) = invitation(&app, "alice@example.com").await;
    let answer = app
        .call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(answer.status, 200);
    let page = type_code(&app, &mut Client::default(), "alice@example.com", &code).await;
    assert_eq!(page.status, 400);
    assert!(page.header("set-cookie").is_none());
}

#[tokio::test]
async fn five_wrong_tries_lock_the_code_the_link_still_works_and_the_trail_says_why() {
    let app = spawn_app().await;
    let (mut ada, id, token, code) = invitation(&app, "alice@example.com").await;
    let wrong = wrong_code(&code);

    // Four wrong tries leave the code working...
    for _ in 0..4 {
        let page = type_code(&app, &mut Client::default(), "alice@example.com", wrong).await;
        assert_eq!(refusal(&page).0, 400);
    }
    assert_eq!(
        app.count(&format!(
            "SELECT code_failures FROM magic_links WHERE id = {id}"
        ))
        .await,
        4
    );
    // ...a fifth locks it: the right code is refused as a wrong one would be.
    type_code(&app, &mut Client::default(), "alice@example.com", wrong).await;
    let locked = type_code(&app, &mut Client::default(), "alice@example.com", &code).await;
    assert_eq!(locked.status, 400);
    assert!(locked.header("set-cookie").is_none());
    let trail = app.whole_trail(&mut ada, id).await;
    let refused: Vec<(&str, i64)> = trail
        .iter()
        .filter(|e| e["kind"] == "redeem_refused")
        .map(|e| {
            (
                e["detail"].as_str().unwrap(),
                e["repeats"].as_i64().unwrap_or(1),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [("code locked after 5 wrong tries", 1), ("wrong code", 4)],
        "{trail:?}"
    );
    // The right code after the lock counts nothing more: the lock is the last word.
    assert_eq!(
        app.count(&format!(
            "SELECT code_failures FROM magic_links WHERE id = {id}"
        ))
        .await,
        5
    );
    // The link in the mail still signs in.
    let answer = app
        .call(&mut Client::default(), "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn four_wrong_tries_then_the_right_code_signs_in() {
    let app = spawn_app().await;
    let (_, _, _, code) = invitation(&app, "alice@example.com").await;
    let wrong = wrong_code(&code);
    for _ in 0..4 {
        type_code(&app, &mut Client::default(), "alice@example.com", wrong).await;
    }
    let page = type_code(&app, &mut Client::default(), "alice@example.com", &code).await;
    assert_eq!(page.status, 303, "{}", page.html);
}

#[tokio::test]
async fn no_answer_tells_whether_an_address_is_invited() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    app.invite(&mut ada, "invited@example.com").await;
    app.invite(&mut ada, "locked@example.com").await;
    let locked_code = code_in(&app.mail_to("locked@example.com").await);
    for _ in 0..5 {
        type_code(
            &app,
            &mut Client::default(),
            "locked@example.com",
            "2222-2222",
        )
        .await;
    }
    let (_, used) = app.invite(&mut ada, "used@example.com").await;
    let used_code = code_in(&app.mail_to("used@example.com").await);
    app.call(&mut Client::default(), "redeem_link", &[("token", &used)])
        .await;

    let answers = [
        (
            "nobody",
            type_code(
                &app,
                &mut Client::default(),
                "nobody@example.com",
                "2222-2222",
            )
            .await,
        ),
        (
            "wrong code",
            type_code(
                &app,
                &mut Client::default(),
                "invited@example.com",
                "2222-2222",
            )
            .await,
        ),
        (
            "locked, right code",
            type_code(
                &app,
                &mut Client::default(),
                "locked@example.com",
                &locked_code,
            )
            .await,
        ),
        (
            "used, right code",
            type_code(&app, &mut Client::default(), "used@example.com", &used_code).await,
        ),
        (
            "coworker",
            type_code(&app, &mut Client::default(), "ada@example.com", "2222-2222").await,
        ),
    ];
    let (first_case, first) = &answers[0];
    for (case, page) in &answers {
        assert_eq!(
            refusal(page),
            refusal(first),
            "{case} differs from {first_case}"
        );
        assert!(
            refusal(page).1.starts_with(REFUSED),
            "{case}: {}",
            page.html
        );
        assert!(page.header("set-cookie").is_none(), "{case}");
        // The address comes back in the form, and nothing more about it.
        assert!(!page.html.contains("invited you"), "{case}");
    }
}

#[tokio::test]
async fn malformed_input_is_refused_by_name_and_changes_nothing() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (id, _) = app.invite(&mut ada, "alice@example.com").await;
    let before = app.table_counts().await;
    for (email, code, message) in [
        (
            "alice@example.com",
            "K7Q4-MX2",
            "A code is 8 letters and digits",
        ),
        (
            "alice@example.com",
            "K7Q4-MX2U",
            "A code is 8 letters and digits",
        ),
        ("alice@example.com", "", "A code is 8 letters and digits"),
        ("", "K7Q4-MX2P", "Enter an email address."),
        ("alice", "K7Q4-MX2P", "An email address needs an @"),
    ] {
        let page = type_code(&app, &mut Client::default(), email, code).await;
        assert_eq!(page.status, 400, "{email} {code}");
        assert!(
            refusal(&page).1.starts_with(message),
            "{email} {code}: {}",
            page.html
        );
        // What was typed as the address comes back; the code never does.
        assert!(
            page.html.contains(&format!(r#"value="{email}""#)),
            "{}",
            page.html
        );
        if !code.is_empty() {
            assert!(!page.html.contains(code), "the code came back");
        }
    }
    assert_eq!(app.table_counts().await, before);
    assert_eq!(
        app.count(&format!(
            "SELECT code_failures FROM magic_links WHERE id = {id}"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn codes_share_the_per_network_attempt_budget_with_links() {
    let app = spawn_app_with(Setup {
        env: vec![("LATCHKEY_RATE_LINKS_PER_MINUTE", "3".to_owned())],
        ..Setup::default()
    })
    .await;
    let mut browser = Client::default();
    type_code(&app, &mut browser, "nobody@example.com", "2222-2222").await;
    app.call(&mut browser, "peek_link", &[("token", &"A".repeat(43))])
        .await;
    type_code(&app, &mut browser, "nobody@example.com", "2222-2222").await;
    let page = type_code(&app, &mut browser, "nobody@example.com", "2222-2222").await;
    assert_eq!(page.status, 429, "{}", page.html);
    assert!(page.header("retry-after").is_some());
    assert!(refusal(&page).1.starts_with("Too many attempts"));
}

#[tokio::test]
async fn a_resend_mails_a_new_code_and_the_old_one_stops_working() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    let (id, _) = app.invite(&mut ada, "alice@example.com").await;
    let old = code_in(&app.mail_to("alice@example.com").await);
    let id = id.to_string();
    let resent = app.call(&mut ada, "resend_link", &[("id", &id)]).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    let mails = app.mails_to("alice@example.com");
    assert_eq!(mails.len(), 2);
    let new = code_in(&mails[1]);
    assert_ne!(new, old);
    let page = type_code(&app, &mut Client::default(), "alice@example.com", &old).await;
    assert_eq!(page.status, 400);
    let page = type_code(&app, &mut Client::default(), "alice@example.com", &new).await;
    assert_eq!(page.status, 303);
}

#[tokio::test]
async fn a_coworkers_sign_in_mail_carries_a_code_that_signs_in() {
    let app = spawn_app().await;
    app.add_coworker("ada@example.com", "Ada").await;
    let mut phone = Client::default();
    app.call(
        &mut phone,
        "request_signin",
        &[("email", "ada@example.com")],
    )
    .await;
    let mail = app.mail_to("ada@example.com").await;
    assert!(mail.contains("Open the link on this device, or type the code at"));
    let mut laptop = Client::default();
    let page = type_code(&app, &mut laptop, "ada@example.com", &code_in(&mail)).await;
    assert_eq!(page.status, 303, "{}", page.html);
    assert_eq!(page.header("location"), Some("/dashboard"));
    assert_eq!(app.role(&mut laptop).await, "coworker");
    // The link of the same mail is used with it.
    let answer = app
        .call(&mut phone, "redeem_link", &[("token", &token_in(&mail))])
        .await;
    assert_eq!(answer.error(), "link_used");
}

/// Link `id`'s wrong tries as its trail holds them: every refused code counted once,
/// folded or not.
async fn wrong_tries_on_the_trail(app: &TestApp, id: i64) -> i64 {
    app.count(&format!(
        "SELECT CAST(coalesce(sum(repeats), 0) AS BIGINT) FROM link_events
          WHERE link_id = {id} AND kind = 'redeem_refused'
            AND detail IN ('{WRONG_CODE}', '{CODE_LOCKED}')"
    ))
    .await
}

/// Types `wrong` 50 times at once for `email`, and `right` among them (after the first
/// `right_after` have been sent) or, with `None`, once all 50 have been answered. Answers
/// whether `right` signed in.
async fn guesses(
    app: &TestApp,
    email: &str,
    wrong: &str,
    right: &str,
    right_after: Option<usize>,
) -> bool {
    let type_at = |code: String| {
        let (base, email) = (app.base.clone(), email.to_owned());
        async move {
            let response = http()
                .post(format!("{base}/code"))
                .header("origin", &base)
                .header(reqwest::header::ACCEPT, "text/html")
                .form(&[("email", email.as_str()), ("code", code.as_str())])
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }
    };
    let mut wrongs = Vec::new();
    let mut right_one = None;
    for i in 0..50 {
        if right_after == Some(i) {
            right_one = Some(tokio::spawn(type_at(right.to_owned())));
        }
        wrongs.push(tokio::spawn(type_at(wrong.to_owned())));
    }
    for wrong in wrongs {
        assert_eq!(wrong.await.unwrap(), 400);
    }
    let status = match right_one {
        Some(task) => task.await.unwrap(),
        None => type_at(right.to_owned()).await,
    };
    assert!(matches!(status, 303 | 400), "{status}");
    status == 303
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_wrong_codes_at_once_are_checked_at_most_five_times_all_on_the_trail() {
    let app = spawn_app().await;
    let mut ada = app.coworker_client("ada@example.com", "Ada").await;
    // The right code once the budget is spent: refused, though typed just after.
    let (id, _) = app.invite(&mut ada, "alice@example.com").await;
    let code = code_in(&app.mail_to("alice@example.com").await);
    let signed_in = guesses(&app, "alice@example.com", wrong_code(&code), &code, None).await;
    assert!(!signed_in, "the right code signed in after 50 wrong ones");
    let failures = format!("SELECT code_failures FROM magic_links WHERE id = {id}");
    assert_eq!(app.count(&failures).await, 5);
    assert_eq!(wrong_tries_on_the_trail(&app, id).await, 5);

    // The right code among them, typed after some: checked in turn with them, so it signs
    // in only if fewer than 5 wrong ones came before it, and none is counted after it.
    for (n, right_after) in [1, 3, 10, 25].into_iter().enumerate() {
        let email = format!("bob{n}@example.com");
        let (id, _) = app.invite(&mut ada, &email).await;
        let code = code_in(&app.mail_to(&email).await);
        let signed_in = guesses(&app, &email, wrong_code(&code), &code, Some(right_after)).await;
        let failures = app
            .count(&format!(
                "SELECT code_failures FROM magic_links WHERE id = {id}"
            ))
            .await;
        assert_eq!(
            wrong_tries_on_the_trail(&app, id).await,
            failures,
            "every wrong code checked is on the trail"
        );
        if signed_in {
            assert!(
                failures < 5,
                "the right code signed in after {failures} wrong ones (sent after {right_after})"
            );
        } else {
            assert_eq!(
                failures, 5,
                "refused with budget left (sent after {right_after})"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_with_live_codes_is_answered_in_the_same_time_as_one_without() {
    let app = spawn_app().await;
    let (_, id, _, code) = invitation(&app, "invited@example.com").await;
    let wrong = wrong_code(&code);
    // Warm up: the first calls of a server pay for what later ones find ready.
    for email in ["invited@example.com", "stranger@example.com"] {
        type_code(&app, &mut Client::default(), email, wrong).await;
    }
    let mut timing = Interleaved::new("an invited address", "an address never invited");
    for case in Interleaved::sequence(200) {
        // The invited address keeps a live code: its budget is given back, untimed.
        app.forget_wrong_codes(id).await;
        let email = ["invited@example.com", "stranger@example.com"][case];
        let started = std::time::Instant::now();
        let page = type_code(&app, &mut Client::default(), email, wrong).await;
        timing.record(case, started.elapsed());
        assert_eq!(refusal(&page).0, 400, "{}", page.html);
    }
    timing.assert_same(Tolerance {
        floor: std::time::Duration::from_micros(250),
        share: 0.05,
    });
}
