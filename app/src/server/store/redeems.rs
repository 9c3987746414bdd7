//! Invitation redeems as a group-commit [`Job`]: redeems that arrive together share one
//! transaction. Each keeps its own conditional update, so of any number of attempts on
//! one token exactly one wins, whether they share a transaction or not.

use super::sessions::{open_sql, session_end_sql, Opening};
use crate::server::db::numbered;
use crate::server::group::{self, Job, Query};
use std::sync::OnceLock;

/// One invitation redeem: the session it opens, and the session layer's record for it
/// (see [`super::session_records`]).
pub struct Redeem {
    pub opening: Opening,
    pub record_id: String,
    pub record_data: Vec<u8>,
}

impl std::fmt::Debug for Redeem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redeem { .. }")
    }
}

/// Marks the invitation whose token hash is the second value used at the first, if it is
/// still pending at the third (the same redeem time): one statement, so of any number of
/// attempts on one token exactly one changes a row.
macro_rules! mark_invitation_used_sql {
    () => {
        "UPDATE magic_links SET redeemed_at = ?
          WHERE token_hash = ? AND purpose = 'invite'
            AND redeemed_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
    };
}

impl Job for Redeem {
    /// The job's number, the link marked used, where its invitee goes and when the
    /// session it opens ends (unix seconds); no row when the token was not a pending
    /// invitation.
    type Row = (i64, i64, Option<String>, i64);
    const DOING: &'static str = "redeeming invitations";
    const QUEUE: &'static str = "redeems";

    /// Mark the link used if it is a pending invitation, open the invitee's session if
    /// that changed a row, and store the session layer's record if that did.
    fn statements(number: usize) -> String {
        // Assembled from fixed fragments only: the job's number and the sessions store's
        // opening statement and session-end rule.
        format!(
            "
            {}
             RETURNING {number}, id, destination, {};
            {} AND changes() = 1;
            INSERT INTO tower_sessions (id, data, expiry_date)
            SELECT ?, ?, expires_at
              FROM auth_sessions WHERE id = ? AND changes() = 1;",
            mark_invitation_used_sql!(),
            session_end_sql!(),
            open_sql!("magic_links"),
        )
    }

    /// The same three writes as one statement: the redeem's returned row stands in for
    /// the link the session is opened from.
    fn alone_sql() -> &'static str {
        static ALONE: OnceLock<String> = OnceLock::new();
        ALONE.get_or_init(|| {
            numbered(concat!(
                "WITH won AS (",
                mark_invitation_used_sql!(),
                "
                    RETURNING id, destination, coworker_id, purpose, session_minutes,
                              token_hash, redeemed_at, ",
                session_end_sql!(),
                " AS ends_at),
                 opened AS (",
                open_sql!("won"),
                " RETURNING id, expires_at),
                 record AS (INSERT INTO tower_sessions (id, data, expiry_date)
                            SELECT ?, ?, expires_at FROM opened WHERE id = ?)
                 SELECT 0, id, destination, ends_at FROM won"
            ))
        })
    }

    fn bind(self, query: Query<Self::Row>) -> Query<Self::Row> {
        let (at, token_hash, auth_id) = (
            self.opening.at,
            self.opening.token_hash.clone(),
            self.opening.id.clone(),
        );
        // UPDATE … RETURNING the session's end
        let query = query.bind(at).bind(token_hash).bind(at);
        let query = self.opening.bind_end(query);
        // INSERT INTO auth_sessions, then the store's record, expiring with the session
        self.opening
            .bind(query)
            .bind(self.record_id)
            .bind(self.record_data)
            .bind(auth_id)
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
        assert_eq!(per_redeem, 22, "the values `bind` binds");
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
