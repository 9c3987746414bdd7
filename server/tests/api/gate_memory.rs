//! The gate's memory never changes an answer: random interleavings of gated requests and
//! of every writer that can change a decision, with the server's own gate (which
//! remembers sessions) and a second gate over the same database that reads it for every
//! decision (`LATCHKEY_GATE_CACHE=off`) asked the same question at every step. On SQLite,
//! and on PostgreSQL in the suite's PostgreSQL pass.

use crate::helpers::{spawn_app, Client, SessionsOf, TestApp};
use app::server::config::CacheMode;
use app::server::config::Config;
use app::server::gate::cookie;
use app::server::gate::request::ProxiedUrl;
use app::server::gate::{Decision, Gate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;

const APPS: [(&str, &str); 3] = [
    ("Wiki", "https://wiki.example.com"),
    ("Grafana", "https://grafana.example.com"),
    ("Docs", "https://apps.example.com/docs"),
];
/// Three inside the applications, then two outside every one.
const URLS: [&str; 5] = [
    "https://wiki.example.com/a",
    "https://grafana.example.com/b?x=1",
    "https://apps.example.com/docs/page",
    "https://apps.example.com/other",
    "https://intranet.example.com/",
];

/// A browser in the run: its cookies, and the invitation it holds (none: a coworker).
struct Holder {
    client: Client,
    link: Option<i64>,
    email: String,
}

struct Run {
    app: TestApp,
    admin: Client,
    read_through: Arc<Gate>,
    holders: Vec<Holder>,
    rng: StdRng,
    steps: Vec<String>,
}

impl Run {
    /// The admin's own browser (not one of the holders), signed in again when a step
    /// ended its session (its lifetime or idle limit moved, say).
    async fn admin(&mut self) {
        if self.app.role(&mut self.admin).await == "anonymous" {
            self.admin = self
                .app
                .coworker_without_mail("ada@example.com", "Ada")
                .await;
        }
    }

    /// The ids of the applications registered now.
    async fn registered(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM applications ORDER BY id")
            .fetch_all(&self.app.db)
            .await
            .unwrap()
    }

    async fn ask_both(&mut self, holder: usize, url: &str) {
        let cookies = cookie::read(
            &self.app.config,
            self.holders[holder]
                .client
                .cookie
                .iter()
                .map(String::as_bytes),
        );
        let url = ProxiedUrl::from_original(url).unwrap();
        let remembered = self.app.gate.decide(&cookies, &url).await.unwrap();
        let read = self.read_through.decide(&cookies, &url).await.unwrap();
        self.steps.push(format!(
            "ask {} {} -> {}",
            self.holders[holder].email,
            url.url,
            short(&remembered)
        ));
        assert_eq!(
            remembered,
            read,
            "the remembered answer differs from the database's after:\n{}",
            self.steps.join("\n")
        );
        // Uses are written behind; write them now, so that what one gate queued is what
        // the other reads.
        self.app.gate_uses_written().await;
        self.read_through.write_behind().await.unwrap();
    }

    async fn invite(&mut self, email: &str) {
        let registered = self.registered().await;
        let Some(first) = registered.first() else {
            return;
        };
        let apps: Vec<String> = registered
            .iter()
            .filter(|_| self.rng.random_bool(0.5))
            .map(ToString::to_string)
            .collect();
        let apps = if apps.is_empty() {
            first.to_string()
        } else {
            apps.join(",")
        };
        self.admin().await;
        let answer = self
            .app
            .call(
                &mut self.admin,
                "issue_link",
                &[
                    ("email", email),
                    ("expires_in", "24h"),
                    ("applications", &apps),
                ],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let link = answer.body["id"].as_i64().unwrap();
        let token = crate::helpers::token_in(&self.app.mail_to(email).await);
        let mut client = Client::default();
        let redeemed = self
            .app
            .call(&mut client, "redeem_link", &[("token", &token)])
            .await;
        assert_eq!(redeemed.status, 200, "{}", redeemed.body);
        self.steps.push(format!("invite {email} to {apps}"));
        self.holders.push(Holder {
            client,
            link: Some(link),
            email: email.to_owned(),
        });
    }

    async fn step(&mut self, n: usize) {
        let holder = self.rng.random_range(0..self.holders.len());
        let link = self.holders[holder].link;
        let id = |link: i64| link.to_string();
        match self.rng.random_range(0..40) {
            0..=19 => {
                // Mostly inside an application; now and then outside every one.
                let url = if self.rng.random_bool(0.1) {
                    URLS[3 + self.rng.random_range(0..2)]
                } else {
                    URLS[self.rng.random_range(0..3)]
                };
                self.ask_both(holder, url).await;
                if self.rng.random_bool(0.3) {
                    self.ask_both(holder, url).await;
                }
            }
            20..=22 => {
                if let Some(link) = link {
                    self.admin().await;
                    self.app
                        .call(&mut self.admin, "revoke_link", &[("id", &id(link))])
                        .await;
                    self.steps.push(format!("revoke {link}"));
                }
            }
            23..=25 => {
                let mut client = self.holders[holder].client.clone();
                self.app.call(&mut client, "sign_out", &[]).await;
                self.steps
                    .push(format!("sign out {}", self.holders[holder].email));
            }
            26..=29 => {
                if let Some(link) = link {
                    let registered = self.registered().await;
                    let apps: Vec<String> = registered
                        .iter()
                        .filter(|_| self.rng.random_bool(0.5))
                        .map(ToString::to_string)
                        .collect();
                    self.admin().await;
                    self.app
                        .call(
                            &mut self.admin,
                            "set_link_access",
                            &[("id", &id(link)), ("applications", &apps.join(","))],
                        )
                        .await;
                    self.steps.push(format!("access {link} = {apps:?}"));
                }
            }
            30..=32 => {
                let whose = match link {
                    Some(link) => SessionsOf::Link(link),
                    None => SessionsOf::Coworkers,
                };
                if self.rng.random_bool(0.5) {
                    self.app.idle_sessions(whose, 40 * 86_400).await;
                    self.steps.push(format!("idle {whose:?}"));
                } else {
                    self.app.end_sessions_sooner(whose, 40 * 86_400).await;
                    self.steps.push(format!("lifetime over {whose:?}"));
                }
            }
            33..=35 => {
                let email = format!("guest{n}@example.com");
                self.invite(&email).await;
            }
            36..=38 => {
                // A coworker's role changes, or the coworker is removed (and added back
                // later with a new sign-in).
                let email = self.holders[holder].email.clone();
                if link.is_none() && email != "ada@example.com" {
                    let parsed = app::server::email::EmailAddress::parse("e", &email).unwrap();
                    if self.rng.random_bool(0.5) {
                        app::server::coworkers::remove(&self.app.db, &parsed)
                            .await
                            .unwrap();
                        self.steps.push(format!("remove coworker {email}"));
                    } else {
                        let id: i64 =
                            sqlx::query_scalar("SELECT id FROM coworkers WHERE email = $1")
                                .bind(&email)
                                .fetch_one(&self.app.db)
                                .await
                                .unwrap();
                        let role = if self.rng.random_bool(0.5) {
                            app::server::coworkers::Role::Admin
                        } else {
                            app::server::coworkers::Role::Coworker
                        };
                        app::server::coworkers::set_role(&self.app.db, id, role)
                            .await
                            .unwrap();
                        self.steps.push(format!("{email} becomes {role:?}"));
                    }
                }
            }
            _ => {
                // The applications change: one removed (while others are left), or
                // registered (again).
                let (name, url) = APPS[self.rng.random_range(0..APPS.len())];
                if self.rng.random_bool(0.5) && self.registered().await.len() > 1 {
                    let _ = app::server::applications::remove(&self.app.writer, name).await;
                    self.steps.push(format!("remove application {name}"));
                } else {
                    let _ = app::server::applications::add(&self.app.writer, name, url).await;
                    self.steps.push(format!("add application {name}"));
                }
            }
        }
    }
}

fn short(decision: &Decision) -> String {
    match decision {
        Decision::Allow(identity) => format!("allow {}", identity.groups.join(",")),
        Decision::SignIn { .. } => "sign in".into(),
        Decision::Ended { .. } => "ended".into(),
        Decision::Forbidden { application } => format!("forbidden {application:?}"),
    }
}

#[tokio::test]
async fn the_remembered_answer_is_the_databases_at_every_step_of_random_interleavings() {
    let seed = std::env::var("GATE_MEMORY_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("gate memory interleavings: GATE_MEMORY_SEED={seed}");
    let app = spawn_app().await;
    for (name, url) in APPS {
        app::server::applications::add(&app.writer, name, url)
            .await
            .unwrap();
    }
    // Ada's browser among the holders, and another of hers for the admin's own calls.
    let ada = app.coworker_client("ada@example.com", "Ada").await;
    let admin = app.coworker_without_mail("ada@example.com", "Ada").await;
    let config = Config {
        gate_cache: CacheMode::Off,
        ..(*app.config).clone()
    };
    let read_through = Gate::start(app.db.clone(), app.writer.clone(), Arc::new(config))
        .await
        .unwrap();
    let mut run = Run {
        admin,
        read_through,
        holders: vec![Holder {
            client: ada,
            link: None,
            email: "ada@example.com".into(),
        }],
        rng: StdRng::seed_from_u64(seed),
        steps: vec![format!("seed {seed}")],
        app,
    };
    for (email, name) in [("bob@example.com", "Bob"), ("cy@example.com", "Cy")] {
        let client = run.app.coworker_client(email, name).await;
        run.holders.push(Holder {
            client,
            link: None,
            email: email.into(),
        });
    }
    for email in ["g1@example.com", "g2@example.com", "g3@example.com"] {
        run.invite(email).await;
    }
    let mut asked = 0;
    for n in 0..600 {
        let before = run.steps.len();
        run.step(n).await;
        asked += run.steps[before..]
            .iter()
            .filter(|step| step.starts_with("ask "))
            .count();
    }
    assert!(asked > 200, "the run asked the gates {asked} times");
    assert!(
        run.app.gate.remembered() > 0,
        "the server's gate remembered sessions"
    );
}
