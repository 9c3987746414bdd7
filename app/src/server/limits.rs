//! Rate limits (GCRA). Clients are keyed by their network (see [`super::network`]): an
//! IPv4 address, an IPv6 /64.
//!
//! - looking up and redeeming links: per client network;
//! - sign-in requests: per client network, and per address *from* that network. The
//!   per-address budget counts every address, coworker or not, so a refusal says nothing
//!   about who is a coworker; and keyed by network too, nobody elsewhere can spend a
//!   coworker's budget and lock them out of signing in;
//! - sign-in mails: per address, from anywhere, so no one can flood a coworker's inbox.
//!   This one is silent: the request is answered as usual and the mail not sent;
//! - issuing links: per coworker.
//!
//! Where the budgets are kept follows the engine: on SQLite, whose one instance is the
//! only one, in memory (`governor`); on PostgreSQL, in the database
//! ([`super::store::rate_limits`]), so that every instance spends the same budget.
//!
//! A refusal is [`AppError::RateLimited`], answered as 429 with `Retry-After`.

use super::config::RateConfig;
use super::db::Engine;
use super::store::rate_limits;
use super::OrInternal;
use crate::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use sqlx::AnyPool;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// One budget: `count` requests per `period`, all of which may come at once.
#[derive(Debug, Clone, Copy)]
struct Budget {
    count: u32,
    period: Duration,
}

impl Budget {
    fn new(count: u32, period_secs: u64) -> Self {
        Self {
            count: count.max(1),
            period: Duration::from_secs(period_secs),
        }
    }

    fn quota(self) -> Quota {
        let count = NonZeroU32::new(self.count).expect("at least one");
        Quota::with_period(self.period / count.get())
            .expect("a non-zero period")
            .allow_burst(count)
    }

    /// Milliseconds each request uses, and the whole budget's.
    fn millis(self) -> (i64, i64) {
        let interval = (self.period.as_millis() / u128::from(self.count)).max(1) as i64;
        (interval, interval * i64::from(self.count))
    }
}

pub struct Limits {
    links: Budget,
    signin_by_network: Budget,
    signin_by_address: Budget,
    signin_mails: Budget,
    issue_by_coworker: Budget,
    kept: Kept,
}

enum Kept {
    Memory(Box<InMemory>),
    Database(AnyPool),
}

struct InMemory {
    links: DefaultKeyedRateLimiter<IpAddr>,
    signin_by_network: DefaultKeyedRateLimiter<IpAddr>,
    signin_by_address: DefaultKeyedRateLimiter<(String, IpAddr)>,
    signin_mails: DefaultKeyedRateLimiter<String>,
    issue_by_coworker: DefaultKeyedRateLimiter<i64>,
}

impl Limits {
    /// The limits of `config`, kept where `writer`'s engine keeps them (see the module).
    pub fn new(config: &RateConfig, writer: &AnyPool) -> Self {
        let links = Budget::new(config.links_per_minute, 60);
        let signin_by_network = Budget::new(config.signin_per_ip_per_minute, 60);
        let signin_by_address = Budget::new(config.signin_per_address_per_hour, 3600);
        let signin_mails = Budget::new(config.signin_mails_per_address_per_hour, 3600);
        let issue_by_coworker = Budget::new(config.issue_per_coworker_per_minute, 60);
        let kept = match Engine::of(writer) {
            Engine::Sqlite => Kept::Memory(Box::new(InMemory {
                links: DefaultKeyedRateLimiter::keyed(links.quota()),
                signin_by_network: DefaultKeyedRateLimiter::keyed(signin_by_network.quota()),
                signin_by_address: DefaultKeyedRateLimiter::keyed(signin_by_address.quota()),
                signin_mails: DefaultKeyedRateLimiter::keyed(signin_mails.quota()),
                issue_by_coworker: DefaultKeyedRateLimiter::keyed(issue_by_coworker.quota()),
            })),
            Engine::Postgres => Kept::Database(writer.clone()),
        };
        Self {
            links,
            signin_by_network,
            signin_by_address,
            signin_mails,
            issue_by_coworker,
            kept,
        }
    }

    /// One look-up (`peek_link`), redemption (`redeem_link`) or renewal from `network`.
    pub async fn link_attempt(&self, network: IpAddr) -> Result<(), AppError> {
        match &self.kept {
            Kept::Memory(memory) => check(&memory.links, &network),
            Kept::Database(pool) => charge(pool, self.links, &format!("link {network}")).await,
        }
    }

    /// One sign-in request for `address` from `network`; both limits are charged.
    pub async fn signin_request(&self, network: IpAddr, address: &str) -> Result<(), AppError> {
        match &self.kept {
            Kept::Memory(memory) => {
                check(&memory.signin_by_network, &network)?;
                check(&memory.signin_by_address, &(address.to_owned(), network))
            }
            Kept::Database(pool) => {
                charge(pool, self.signin_by_network, &format!("signin {network}")).await?;
                let key = format!("signin {network} {address}");
                charge(pool, self.signin_by_address, &key).await
            }
        }
    }

    /// Whether one more sign-in mail may go to `address` this hour. (A database that
    /// cannot answer sends no mail.)
    pub async fn signin_mail(&self, address: &str) -> bool {
        match &self.kept {
            Kept::Memory(memory) => check(&memory.signin_mails, &address.to_owned()).is_ok(),
            Kept::Database(pool) => {
                let key = format!("mail {address}");
                charge(pool, self.signin_mails, &key).await.is_ok()
            }
        }
    }

    /// One link issued by the coworker `coworker_id`.
    pub async fn issue(&self, coworker_id: i64) -> Result<(), AppError> {
        match &self.kept {
            Kept::Memory(memory) => check(&memory.issue_by_coworker, &coworker_id),
            Kept::Database(pool) => {
                let key = format!("issue {coworker_id}");
                charge(pool, self.issue_by_coworker, &key).await
            }
        }
    }

    /// Forgets keys whose budget is full again, so what is kept follows recent traffic.
    pub async fn forget_idle_keys(&self) {
        match &self.kept {
            Kept::Memory(memory) => {
                memory.links.retain_recent();
                memory.signin_by_network.retain_recent();
                memory.signin_by_address.retain_recent();
                memory.signin_mails.retain_recent();
                memory.issue_by_coworker.retain_recent();
            }
            Kept::Database(pool) => {
                if let Err(error) = rate_limits::forget_full(pool, now_millis()).await {
                    tracing::warn!(%error, "forgetting full rate-limit budgets failed");
                }
            }
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

fn check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), AppError> {
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        AppError::RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    })
}

async fn charge(pool: &AnyPool, budget: Budget, key: &str) -> Result<(), AppError> {
    let (interval, window) = budget.millis();
    match rate_limits::charge(pool, key, now_millis(), interval, window)
        .await
        .or_internal("checking a rate limit")?
    {
        None => Ok(()),
        Some(wait_ms) => Err(AppError::RateLimited {
            retry_after_secs: (wait_ms as u64).div_ceil(1000),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(links: u32, by_ip: u32, by_address: u32, issue: u32) -> Limits {
        sqlx::any::install_default_drivers();
        let memory = sqlx::any::AnyPoolOptions::new()
            .connect_lazy("sqlite::memory:")
            .unwrap();
        Limits::new(
            &RateConfig {
                links_per_minute: links,
                signin_per_ip_per_minute: by_ip,
                signin_per_address_per_hour: by_address,
                signin_mails_per_address_per_hour: 3,
                issue_per_coworker_per_minute: issue,
            },
            &memory,
        )
    }

    #[tokio::test]
    async fn the_budget_is_spent_then_refused_with_a_wait() {
        let limits = limits(3, 10, 10, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limits.link_attempt(ip).await.unwrap();
        }
        match limits.link_attempt(ip).await {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another client is not affected.
        limits
            .link_attempt("192.0.2.2".parse().unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sign_in_is_limited_per_address_from_each_network_not_for_everyone() {
        let limits = limits(10, 100, 2, 10);
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..2 {
            limits
                .signin_request(attacker, "a@example.com")
                .await
                .unwrap();
        }
        assert!(matches!(
            limits.signin_request(attacker, "a@example.com").await,
            Err(AppError::RateLimited { .. })
        ));
        // The coworker, from their own network, still has their whole budget.
        let coworker: IpAddr = "198.51.100.7".parse().unwrap();
        limits
            .signin_request(coworker, "a@example.com")
            .await
            .unwrap();
        limits
            .signin_request(coworker, "a@example.com")
            .await
            .unwrap();
        limits
            .signin_request(attacker, "b@example.com")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sign_in_mails_are_capped_per_address_from_anywhere() {
        let limits = limits(10, 100, 100, 10);
        for _ in 0..3 {
            assert!(limits.signin_mail("a@example.com").await);
        }
        assert!(!limits.signin_mail("a@example.com").await);
        assert!(limits.signin_mail("b@example.com").await);
    }

    #[tokio::test]
    async fn issuing_is_limited_per_coworker() {
        let limits = limits(10, 10, 10, 1);
        limits.issue(1).await.unwrap();
        assert!(limits.issue(1).await.is_err());
        limits.issue(2).await.unwrap();
    }

    /// On PostgreSQL the budgets live in the database: two instances (two pools, two
    /// `Limits`) spend one budget between them, and a refusal says how long to wait.
    #[tokio::test]
    async fn instances_on_postgresql_share_one_budget() {
        let cluster = testkit::postgres::Cluster::start().unwrap();
        cluster.create_database("limits").unwrap();
        let url = cluster.url("limits");
        let config = RateConfig {
            links_per_minute: 5,
            signin_per_ip_per_minute: 100,
            signin_per_address_per_hour: 100,
            signin_mails_per_address_per_hour: 2,
            issue_per_coworker_per_minute: 100,
        };
        let timeout = Duration::from_secs(5);
        let normal = crate::server::db::Durability::Normal;
        // Migrates, as the first instance's start does.
        crate::server::db::connect(&url, timeout, normal)
            .await
            .unwrap();
        let instance = || async {
            let writer = crate::server::db::connect_writer(&url, timeout, normal)
                .await
                .unwrap();
            Limits::new(&config, &writer)
        };
        let (a, b) = (instance().await, instance().await);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let mut allowed = 0;
        for i in 0..10 {
            let instance = if i % 2 == 0 { &a } else { &b };
            match instance.link_attempt(ip).await {
                Ok(()) => allowed += 1,
                Err(AppError::RateLimited { retry_after_secs }) => {
                    assert!((1..=12).contains(&retry_after_secs), "{retry_after_secs}");
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(allowed, 5, "five in all, not five each");
        b.link_attempt("192.0.2.2".parse().unwrap()).await.unwrap();
        assert!(a.signin_mail("x@example.com").await);
        assert!(b.signin_mail("x@example.com").await);
        assert!(!a.signin_mail("x@example.com").await);
    }
}
