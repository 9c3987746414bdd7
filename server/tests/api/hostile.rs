//! A property-based sweep of hostile input over every `/api/` endpoint: arbitrary,
//! missing, repeated, oversized and wrongly-encoded parameters, from every kind of
//! caller (anonymous, invitee, coworker, admin), for every endpoint, `sign_out`
//! included. Whatever arrives, the answer is never a 5xx, the server keeps serving, and
//! a refused request stores nothing: no row in any table, no state changed, and no
//! rate-limit key made from its input.

use crate::helpers::*;
use proptest::prelude::*;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE};

/// Every endpoint the server registers, so a new one is swept without being named here.
fn endpoints() -> Vec<String> {
    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    paths.sort();
    paths
}

/// The parameter names the endpoints know, plus nonsense.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "email", "name", "message", "expires_in", "status", "q", "cursor", "id", "token",
            "destination", "session_lifetime", "renewal", "session", "role", "before",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,80}",                                      // any printable text, any script
        "[\\x00-\\x1f\\x7f]{0,12}",                        // control characters, CR/LF
        "[A-Za-z0-9_-]{43}",                               // shaped like a token
        "[A-Za-z0-9_=+/-]{40,46}",                         // almost shaped like a token
        "[a-z]{1,8}@[a-z]{1,8}\\.(com|org|example)",       // shaped like an address
        "[a-z]{0,4}\\r\\n(Bcc|To|Subject): [a-z@.]{0,20}", // header injection
        prop::sample::select(vec!["15m", "1h", "24h", "7d", "0", "-1", "1e9", "NaN"])
            .prop_map(str::to_owned),
        "-?[0-9]{1,25}",                               // ids, in and out of range
        (0usize..200_000).prop_map(|n| "a".repeat(n)), // up to 3x the body limit
    ]
}

#[derive(Debug, Clone)]
enum Body {
    Form(Vec<(String, String)>),
    Json(Vec<(String, String)>),
    /// Not UTF-8, declared as a form.
    Bytes(Vec<u8>),
    /// Parameters in the query string of a GET.
    Get(Vec<(String, String)>),
}

fn body() -> impl Strategy<Value = Body> {
    let pairs = || prop::collection::vec((key(), value()), 0..5);
    prop_oneof![
        6 => pairs().prop_map(Body::Form),
        1 => pairs().prop_map(Body::Json),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Body::Bytes),
        1 => pairs().prop_map(Body::Get),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    Invitee,
    Coworker,
    Admin,
}

/// The sweep's seed: `LATCHKEY_HOSTILE_SEED` (64 hex digits) to replay a run, or a fresh
/// one, printed so a failure can be replayed.
fn seed() -> [u8; 32] {
    let hex = std::env::var("LATCHKEY_HOSTILE_SEED").unwrap_or_else(|_| {
        (0..32)
            .map(|_| format!("{:02x}", rand_byte()))
            .collect::<String>()
    });
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .expect("LATCHKEY_HOSTILE_SEED must be 64 hex digits");
    }
    eprintln!("hostile input sweep: LATCHKEY_HOSTILE_SEED={hex}");
    seed
}

fn rand_byte() -> u8 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    hasher.finish() as u8
}

/// A new session of `caller`'s kind, as its cookie: a new sign-in of the coworker or
/// the admin, or a new invitation (issued by `admin`) redeemed.
async fn fresh_session(app: &TestApp, caller: Caller, admin: &Client) -> Option<String> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let token = match caller {
        Caller::Anonymous => return None,
        Caller::Invitee => {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut admin = admin.clone();
            app.invite(&mut admin, &format!("leaving{n}@example.com"))
                .await
                .1
        }
        Caller::Coworker | Caller::Admin => {
            let email = match caller {
                Caller::Admin => "ada@example.com",
                _ => "cora@example.com",
            };
            let address = app::server::email::EmailAddress::parse("email", email).unwrap();
            let (url, _, _) = app::server::links::create_signin(&app.db, &app.base, 900, &address)
                .await
                .unwrap()
                .unwrap();
            token_in(&url)
        }
    };
    let mut client = Client::default();
    let answer = app
        .call(&mut client, "redeem_link", &[("token", &token)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    client.cookie
}

/// The rate-limit keys the callers' own requests charge, refused or not: their network's
/// (every request here comes from 127.0.0.1) and each coworker's issuing budget. Any
/// other key comes from a request's input.
async fn own_rate_limit_keys(app: &TestApp) -> Vec<String> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM coworkers")
        .fetch_all(&app.db)
        .await
        .unwrap();
    ["link 127.0.0.1".to_owned(), "signin 127.0.0.1".to_owned()]
        .into_iter()
        .chain(ids.into_iter().map(|id| format!("issue {id}")))
        .collect()
}

/// Bodies tried for each endpoint and kind of caller.
const CASES_PER_PAIR: u32 = 10;

#[test]
fn hostile_input_never_gets_a_5xx_and_a_refusal_stores_nothing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, invitee, coworker, admin) = runtime.block_on(async {
        let app = spawn_app().await;
        // The first coworker is an admin; the second is not.
        let mut ada = app.coworker_client("ada@example.com", "Ada").await;
        let cora = app.coworker_client("cora@example.com", "Cora").await;
        assert_eq!(
            app.call(&mut ada, "current_user", &[]).await.body["is_admin"],
            true
        );
        let (_, token) = app.invite(&mut ada, "alice@example.com").await;
        let mut alice = Client::default();
        let answer = app
            .call(&mut alice, "redeem_link", &[("token", &token)])
            .await;
        assert_eq!(answer.status, 200);
        (app, alice, cora, ada)
    });

    // Failing cases are kept (relative to the server crate) and tried first next time.
    // Every endpoint is swept as every kind of caller, each pair with bodies of its own,
    // drawn by a runner of its own seeded from the sweep's seed and the pair's number.
    let seed = seed();
    let runner = |pair: usize| {
        let mut seed = seed;
        for (byte, from) in seed.iter_mut().zip(pair.to_le_bytes()) {
            *byte ^= from;
        }
        TestRunner::new_with_rng(
            Config {
                cases: CASES_PER_PAIR,
                failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                    "tests/api/hostile.proptest-regressions",
                ))),
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        )
    };
    let callers = [
        Caller::Anonymous,
        Caller::Invitee,
        Caller::Coworker,
        Caller::Admin,
    ];
    let pairs: Vec<(String, Caller)> = endpoints()
        .into_iter()
        .flat_map(|endpoint| callers.map(|caller| (endpoint.clone(), caller)))
        .collect();
    let swept = std::cell::RefCell::new(std::collections::BTreeMap::new());
    for (pair, (endpoint, caller)) in pairs.into_iter().enumerate() {
        let strategy = (Just(endpoint), Just(caller), body());
        let result = runner(pair).run(&strategy, |(endpoint, caller, body)| {
            *swept
                .borrow_mut()
                .entry((endpoint.clone(), format!("{caller:?}")))
                .or_insert(0u32) += 1;
            runtime.block_on(async {
                let cookie = match (caller, endpoint.as_str()) {
                    (Caller::Anonymous, _) => None,
                    // Signing out ends the session it is sent with: a session of the same
                    // kind made for this case, so the shared ones the other cases use stay.
                    (_, "/api/sign_out") => fresh_session(&app, caller, &admin).await,
                    (Caller::Invitee, _) => invitee.cookie.clone(),
                    (Caller::Coworker, _) => coworker.cookie.clone(),
                    (Caller::Admin, _) => admin.cookie.clone(),
                };
                let own = own_rate_limit_keys(&app).await;
                let before = app.table_counts().await;
                let keys_before = app.rate_limit_keys(&own).await;
                let url = format!("{}{endpoint}", app.base);
                let mut request = match &body {
                    Body::Form(pairs) => http().post(&url).form(pairs),
                    Body::Json(pairs) => {
                        let object: serde_json::Map<String, serde_json::Value> = pairs
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect();
                        http().post(&url).json(&object)
                    }
                    Body::Bytes(bytes) => http()
                        .post(&url)
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(bytes.clone()),
                    Body::Get(pairs) => http().get(&url).query(pairs),
                }
                .header(ACCEPT, "application/json");
                if let Some(cookie) = cookie {
                    request = request.header(COOKIE, cookie);
                }
                let response = match request.send().await {
                    Ok(response) => response,
                    // reqwest would not build it (say, a URL too long for it): not our input.
                    Err(error) if error.is_builder() => return Ok(()),
                    Err(error) => return Err(TestCaseError::fail(format!("no answer: {error}"))),
                };
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                prop_assert!(
                    status < 500,
                    "{endpoint} as {caller:?} answered {status}: {text}"
                );
                if status >= 400 {
                    let after = app.table_counts().await;
                    prop_assert_eq!(
                        &after,
                        &before,
                        "{} as {:?} was refused ({}) and changed the database",
                        endpoint,
                        caller,
                        status
                    );
                    let keys = app.rate_limit_keys(&own).await;
                    prop_assert!(
                        keys <= keys_before,
                        "{} as {:?} was refused ({}) and added rate-limit keys ({} to {})",
                        endpoint,
                        caller,
                        status,
                        keys_before,
                        keys
                    );
                }
                Ok(())
            })
        });
        if let Err(error) = result {
            panic!("{error}");
        }
    }
    // Every endpoint was swept as every kind of caller, with as many bodies each.
    let swept = swept.into_inner();
    assert_eq!(swept.len(), endpoints().len() * callers.len(), "{swept:?}");
    assert!(
        swept.values().all(|&cases| cases >= CASES_PER_PAIR),
        "{swept:?}"
    );
    eprintln!("hostile input sweep: {} cases", swept.values().sum::<u32>());
    // Still serving, and still knows who everyone is.
    runtime.block_on(async {
        let mut coworker = coworker.clone();
        let mut admin = admin.clone();
        let mut invitee = invitee.clone();
        assert_eq!(app.role(&mut coworker).await, "coworker");
        assert_eq!(app.role(&mut admin).await, "coworker");
        assert_eq!(app.role(&mut invitee).await, "invitee");
    });
}
