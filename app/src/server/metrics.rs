//! What Latchkey counts for its operators: every metric's name, and the functions the
//! domain calls to count. The server crate exports them (`GET /metrics`, Prometheus text)
//! when `LATCHKEY_METRICS` or `LATCHKEY_METRICS_ADDR` is set; otherwise no recorder is
//! installed and each call here does nothing.
//!
//! Every label value comes from a fixed set written in this file or in the router (a
//! route's pattern, never its path): no token, code, link, address or session id can
//! become a label.

use crate::error::AppError;
use metrics::{counter, histogram};

pub const HTTP_REQUESTS: &str = "latchkey_http_requests_total";
pub const HTTP_DURATION: &str = "latchkey_http_request_duration_seconds";
pub const LINKS_ISSUED: &str = "latchkey_links_issued_total";
pub const LINKS_REDEEMED: &str = "latchkey_links_redeemed_total";
pub const LINKS_REFUSED: &str = "latchkey_links_refused_total";
pub const MAILS: &str = "latchkey_mails_total";
pub const GATE_DECISIONS: &str = "latchkey_gate_decisions_total";
pub const DB_CONNECTIONS: &str = "latchkey_db_connections";
pub const BATCH_SIZE: &str = "latchkey_group_commit_batch_size";

/// Every metric with its help text, for the exporter to describe.
pub const DESCRIPTIONS: [(&str, &str); 9] = [
    (HTTP_REQUESTS, "HTTP requests answered, by route and status"),
    (HTTP_DURATION, "Time to answer an HTTP request, by route"),
    (
        LINKS_ISSUED,
        "Magic links stored and mailed (or printed), by kind",
    ),
    (LINKS_REDEEMED, "Links and codes that signed someone in"),
    (
        LINKS_REFUSED,
        "Attempts to redeem a link or code that were refused, by reason",
    ),
    (
        MAILS,
        "Mails handed to the mail server or the outbox, by outcome",
    ),
    (GATE_DECISIONS, "The gate's answers to the proxy, by answer"),
    (
        DB_CONNECTIONS,
        "Database connections, by pool and state, when scraped",
    ),
    (
        BATCH_SIZE,
        "Writes committed together in one transaction, by queue",
    ),
];

/// The buckets of [`HTTP_DURATION`], in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The buckets of [`BATCH_SIZE`]: batches come in powers of two (see `group`).
pub const BATCH_BUCKETS: [f64; 6] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

/// How a new link came to be.
#[derive(Debug, Clone, Copy)]
pub enum Issued {
    Invitation,
    SigninLink,
    Resent,
    Renewed,
}

pub fn link_issued(how: Issued) {
    let kind = match how {
        Issued::Invitation => "invitation",
        Issued::SigninLink => "signin",
        Issued::Resent => "resend",
        Issued::Renewed => "renewal",
    };
    counter!(LINKS_ISSUED, "kind" => kind).increment(1);
}

/// The end of one attempt to sign in by a link (`by` is `link` or `code`): redeemed, or
/// refused with the reason its answer gave.
pub fn redeem_attempt<T>(by: &'static str, result: &Result<T, AppError>) {
    match result {
        Ok(_) => counter!(LINKS_REDEEMED, "by" => by).increment(1),
        Err(error) => {
            counter!(LINKS_REFUSED, "by" => by, "reason" => refusal_reason(error)).increment(1);
        }
    }
}

/// A refusal's reason as a label.
fn refusal_reason(error: &AppError) -> &'static str {
    match error {
        AppError::LinkUsed => "used",
        AppError::LinkExpired => "expired",
        AppError::LinkRevoked => "revoked",
        AppError::LinkUnknown => "unknown",
        AppError::CodeRefused => "wrong_code",
        AppError::RateLimited { .. } => "rate_limited",
        AppError::InvalidInput { .. } => "malformed",
        AppError::Busy | AppError::Network => "busy",
        AppError::NotSignedIn
        | AppError::Forbidden
        | AppError::NotFound
        | AppError::RenewalOff
        | AppError::Internal => "error",
    }
}

pub fn mail_handed_over(sent: bool) {
    let outcome = if sent { "sent" } else { "failed" };
    counter!(MAILS, "outcome" => outcome).increment(1);
}

/// `answer` is one of the gate's fixed answers: `allow`, `sign_in`, `ended`,
/// `forbidden`, `untrusted_proxy`, `no_url`, `error`.
pub fn gate_decision(answer: &'static str) {
    counter!(GATE_DECISIONS, "answer" => answer).increment(1);
}

pub fn batch_committed(queue: &'static str, size: usize) {
    histogram!(BATCH_SIZE, "queue" => queue).record(size as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_described_once() {
        let mut names: Vec<&str> = DESCRIPTIONS.iter().map(|(name, _)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DESCRIPTIONS.len());
        assert!(names.iter().all(|name| name.starts_with("latchkey_")));
    }
}
