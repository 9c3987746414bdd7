//! Rate limits (GCRA, from `governor`), kept in memory per key. Clients are keyed by
//! their network (see [`super::network`]): an IPv4 address, an IPv6 /64.
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
//! A refusal is [`AppError::RateLimited`], answered as 429 with `Retry-After`.

use super::config::RateConfig;
use crate::error::AppError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

pub struct Limits {
    links: DefaultKeyedRateLimiter<IpAddr>,
    signin_by_network: DefaultKeyedRateLimiter<IpAddr>,
    signin_by_address: DefaultKeyedRateLimiter<(String, IpAddr)>,
    signin_mails: DefaultKeyedRateLimiter<String>,
    issue_by_coworker: DefaultKeyedRateLimiter<i64>,
}

impl Limits {
    pub fn new(config: &RateConfig) -> Self {
        Self {
            links: DefaultKeyedRateLimiter::keyed(per(config.links_per_minute, 60)),
            signin_by_network: DefaultKeyedRateLimiter::keyed(per(
                config.signin_per_ip_per_minute,
                60,
            )),
            signin_by_address: DefaultKeyedRateLimiter::keyed(per(
                config.signin_per_address_per_hour,
                3600,
            )),
            signin_mails: DefaultKeyedRateLimiter::keyed(per(
                config.signin_mails_per_address_per_hour,
                3600,
            )),
            issue_by_coworker: DefaultKeyedRateLimiter::keyed(per(
                config.issue_per_coworker_per_minute,
                60,
            )),
        }
    }

    /// One look-up (`peek_link`), redemption (`redeem_link`) or renewal from `network`.
    pub fn link_attempt(&self, network: IpAddr) -> Result<(), AppError> {
        check(&self.links, &network)
    }

    /// One sign-in request for `address` from `network`; both limits are charged.
    pub fn signin_request(&self, network: IpAddr, address: &str) -> Result<(), AppError> {
        check(&self.signin_by_network, &network)?;
        check(&self.signin_by_address, &(address.to_owned(), network))
    }

    /// Whether one more sign-in mail may go to `address` this hour.
    pub fn signin_mail(&self, address: &str) -> bool {
        check(&self.signin_mails, &address.to_owned()).is_ok()
    }

    /// One link issued by the coworker `coworker_id`.
    pub fn issue(&self, coworker_id: i64) -> Result<(), AppError> {
        check(&self.issue_by_coworker, &coworker_id)
    }

    /// Forgets keys whose budget is full again, so memory follows the recent traffic.
    pub fn forget_idle_keys(&self) {
        self.links.retain_recent();
        self.signin_by_network.retain_recent();
        self.signin_by_address.retain_recent();
        self.signin_mails.retain_recent();
        self.issue_by_coworker.retain_recent();
    }
}

/// `count` requests per `period_secs`, all of which may come at once.
fn per(count: u32, period_secs: u64) -> Quota {
    let count = NonZeroU32::new(count.max(1)).expect("at least one");
    Quota::with_period(Duration::from_secs(period_secs) / count.get())
        .expect("a non-zero period")
        .allow_burst(count)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(links: u32, by_ip: u32, by_address: u32, issue: u32) -> Limits {
        Limits::new(&RateConfig {
            links_per_minute: links,
            signin_per_ip_per_minute: by_ip,
            signin_per_address_per_hour: by_address,
            signin_mails_per_address_per_hour: 3,
            issue_per_coworker_per_minute: issue,
        })
    }

    #[test]
    fn the_budget_is_spent_then_refused_with_a_wait() {
        let limits = limits(3, 10, 10, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limits.link_attempt(ip).unwrap();
        }
        match limits.link_attempt(ip) {
            Err(AppError::RateLimited { retry_after_secs }) => {
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another client is not affected.
        limits.link_attempt("192.0.2.2".parse().unwrap()).unwrap();
    }

    #[test]
    fn sign_in_is_limited_per_address_from_each_network_not_for_everyone() {
        let limits = limits(10, 100, 2, 10);
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..2 {
            limits.signin_request(attacker, "a@example.com").unwrap();
        }
        assert!(matches!(
            limits.signin_request(attacker, "a@example.com"),
            Err(AppError::RateLimited { .. })
        ));
        // The coworker, from their own network, still has their whole budget.
        let coworker: IpAddr = "198.51.100.7".parse().unwrap();
        limits.signin_request(coworker, "a@example.com").unwrap();
        limits.signin_request(coworker, "a@example.com").unwrap();
        limits.signin_request(attacker, "b@example.com").unwrap();
    }

    #[test]
    fn sign_in_mails_are_capped_per_address_from_anywhere() {
        let limits = limits(10, 100, 100, 10);
        for _ in 0..3 {
            assert!(limits.signin_mail("a@example.com"));
        }
        assert!(!limits.signin_mail("a@example.com"));
        assert!(limits.signin_mail("b@example.com"));
    }

    #[test]
    fn issuing_is_limited_per_coworker() {
        let limits = limits(10, 10, 10, 1);
        limits.issue(1).unwrap();
        assert!(limits.issue(1).is_err());
        limits.issue(2).unwrap();
    }
}
