//! Invitation redeems as a group-commit [`Job`]: redeems that arrive together share one
//! transaction. Each keeps its own conditional update, so of any number of attempts on
//! one token exactly one wins, whether they share a transaction or not.

use super::group::{self, Job, Query};
use std::sync::OnceLock;

/// When an invitee's session ends, as SQL over a `magic_links` row: the redeem time plus
/// the link's session lifetime (or the default), at most the configured longest. Binds
/// three values: the redeem time, the default minutes, the longest seconds.
const INVITEE_SESSION_END: &str = "? + MIN(COALESCE(session_minutes, ?) * 60, ?)";

/// One invitation redeem.
pub struct Redeem {
    pub token_hash: Vec<u8>,
    pub at: i64,
    pub auth_id: String,
    pub default_session_minutes: i64,
    pub longest_session_secs: i64,
    pub user_agent: Option<String>,
    pub ip: String,
    pub record_id: String,
    pub record_data: Vec<u8>,
}

impl std::fmt::Debug for Redeem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redeem { .. }")
    }
}

impl Job for Redeem {
    /// The job's number, the link marked used, where its invitee goes and when the
    /// session it opens ends (unix seconds); no row when the token was not a pending
    /// invitation.
    type Row = (i64, i64, Option<String>, i64);
    const DOING: &'static str = "redeeming invitations";

    /// Mark the link used if it is a pending invitation, open the invitee's session if
    /// that changed a row (its insert puts `redeemed` on the trail, a trigger), and store
    /// the session layer's record if that did.
    fn statements(number: usize) -> String {
        // Assembled from fixed fragments only: the job's number and the session-end rule.
        format!(
            "
            UPDATE magic_links SET redeemed_at = ?
             WHERE token_hash = ? AND purpose = 'invite'
               AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?
             RETURNING {number}, id, destination, {INVITEE_SESSION_END};
            INSERT INTO auth_sessions
                   (id, coworker_id, link_id, created_at, last_seen_at, expires_at, user_agent, ip)
            SELECT ?, NULL, id, ?, ?, {INVITEE_SESSION_END}, ?, ?
              FROM magic_links
             WHERE token_hash = ? AND redeemed_at = ? AND changes() = 1;
            INSERT INTO tower_sessions (id, data, expiry_date)
            SELECT ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', expires_at, 'unixepoch')
              FROM auth_sessions WHERE id = ? AND changes() = 1;"
        )
    }

    fn bind(self, query: Query<Self::Row>) -> Query<Self::Row> {
        let at = self.at;
        query
            // UPDATE … RETURNING the session's end
            .bind(at)
            .bind(self.token_hash.clone())
            .bind(at)
            .bind(at)
            .bind(self.default_session_minutes)
            .bind(self.longest_session_secs)
            // INSERT INTO auth_sessions
            .bind(self.auth_id.clone())
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(self.default_session_minutes)
            .bind(self.longest_session_secs)
            .bind(self.user_agent)
            .bind(self.ip)
            .bind(self.token_hash)
            .bind(at)
            // INSERT INTO tower_sessions, expiring with the session it names
            .bind(self.record_id)
            .bind(self.record_data)
            .bind(self.auth_id)
    }

    fn batch_sql(count: usize) -> &'static str {
        static BATCHES: OnceLock<Vec<String>> = OnceLock::new();
        group::batch_sql(&BATCHES, Self::statements, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_holds_each_redeem_with_its_number_and_plain_parameters() {
        let one = Redeem::batch_sql(1);
        assert_eq!(one.matches("UPDATE magic_links").count(), 1);
        let per_redeem = one.matches('?').count();
        assert_eq!(per_redeem, 19, "the values `bind` binds");
        let four = Redeem::batch_sql(4);
        assert_eq!(four.matches("UPDATE magic_links").count(), 4);
        assert!(four.contains("RETURNING 3, id, destination, "));
        assert_eq!(four.matches('?').count(), 4 * per_redeem);
        assert!(four.starts_with("BEGIN IMMEDIATE;") && four.ends_with("COMMIT;"));
        assert_eq!(
            Redeem::batch_sql(group::MOST_PER_TRANSACTION)
                .matches("UPDATE magic_links")
                .count(),
            group::MOST_PER_TRANSACTION
        );
    }
}
