//! Rate limits (GCRA, from `governor`), kept in memory per key.
//!
//! - looking up and redeeming links: per client IP;
//! - sign-in requests: per client IP and per address. The per-address limit counts every
//!   address, coworker or not, so a refusal says nothing about who is a coworker;
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
    signin_by_ip: DefaultKeyedRateLimiter<IpAddr>,
    signin_by_address: DefaultKeyedRateLimiter<String>,
    issue_by_coworker: DefaultKeyedRateLimiter<i64>,
}

impl Limits {
    pub fn new(config: &RateConfig) -> Self {
        Self {
            links: DefaultKeyedRateLimiter::keyed(per(config.links_per_minute, 60)),
            signin_by_ip: DefaultKeyedRateLimiter::keyed(per(config.signin_per_ip_per_minute, 60)),
            signin_by_address: DefaultKeyedRateLimiter::keyed(per(
                config.signin_per_address_per_hour,
                3600,
            )),
            issue_by_coworker: DefaultKeyedRateLimiter::keyed(per(
                config.issue_per_coworker_per_minute,
                60,
            )),
        }
    }

    /// One look-up (`peek_link`) or redemption (`redeem_link`) from `ip`.
    pub fn link_attempt(&self, ip: IpAddr) -> Result<(), AppError> {
        check(&self.links, &ip)
    }

    /// One sign-in request for `address` from `ip`; both limits are charged.
    pub fn signin_request(&self, ip: IpAddr, address: &str) -> Result<(), AppError> {
        check(&self.signin_by_ip, &ip)?;
        check(&self.signin_by_address, &address.to_owned())
    }

    /// One link issued by the coworker `coworker_id`.
    pub fn issue(&self, coworker_id: i64) -> Result<(), AppError> {
        check(&self.issue_by_coworker, &coworker_id)
    }

    /// Forgets keys whose budget is full again, so memory follows the recent traffic.
    pub fn forget_idle_keys(&self) {
        self.links.retain_recent();
        self.signin_by_ip.retain_recent();
        self.signin_by_address.retain_recent();
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
                assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another client is not affected.
        limits.link_attempt("192.0.2.2".parse().unwrap()).unwrap();
    }

    #[test]
    fn sign_in_is_limited_per_address_whatever_the_ip() {
        let limits = limits(10, 100, 2, 10);
        for i in 0..2 {
            let ip: IpAddr = format!("192.0.2.{i}").parse().unwrap();
            limits.signin_request(ip, "a@example.com").unwrap();
        }
        let fresh_ip: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(matches!(
            limits.signin_request(fresh_ip, "a@example.com"),
            Err(AppError::RateLimited { .. })
        ));
        limits.signin_request(fresh_ip, "b@example.com").unwrap();
    }

    #[test]
    fn issuing_is_limited_per_coworker() {
        let limits = limits(10, 10, 10, 1);
        limits.issue(1).unwrap();
        assert!(limits.issue(1).is_err());
        limits.issue(2).unwrap();
    }
}
