//! The link-state rule, written once: which `magic_links` rows are pending, redeemed,
//! expired or revoked. Every query that shows, counts, lists or checks a state uses
//! these conditions; Rust never recomputes a state from a row's times.
//!
//! Each condition is over a `magic_links` row named `l`, with `$1` being now. They are
//! written as the partial indexes of migration 0004 are (`magic_links_open`,
//! `magic_links_redeemed`, `magic_links_revoked`), so SQLite can read a state from its
//! own index. Revoked wins over redeemed: a revoked link's sessions are gone, whatever
//! happened before.
//!
//! The fragments are macros so that the statements built from them are `&'static str`
//! constants, assembled at compile time from fixed text only.

use crate::model::links::LinkState;

macro_rules! pending_sql {
    () => {
        "l.redeemed_at IS NULL AND l.revoked_at IS NULL AND l.expires_at > $1"
    };
}
macro_rules! expired_sql {
    () => {
        "l.redeemed_at IS NULL AND l.revoked_at IS NULL AND l.expires_at <= $1"
    };
}
macro_rules! redeemed_sql {
    () => {
        "l.redeemed_at IS NOT NULL AND l.revoked_at IS NULL"
    };
}
macro_rules! revoked_sql {
    () => {
        "l.revoked_at IS NOT NULL"
    };
}
pub(crate) use {expired_sql, pending_sql, redeemed_sql, revoked_sql};

/// A row's state as its wire name ([`LinkState::as_str`]), `$1` being now.
macro_rules! state_sql {
    () => {
        concat!(
            "CASE WHEN ",
            $crate::server::store::link_state::revoked_sql!(),
            " THEN 'revoked' WHEN ",
            $crate::server::store::link_state::redeemed_sql!(),
            " THEN 'redeemed' WHEN ",
            $crate::server::store::link_state::expired_sql!(),
            " THEN 'expired' ELSE 'pending' END"
        )
    };
}
pub(crate) use state_sql;

/// `state_sql!` as a constant.
pub const STATE_SQL: &str = state_sql!();

/// The invitations in each state, in [`LinkState::ALL`]'s order; `$1` is now. Each count
/// reads one partial index, never the table. Public so the tests can check its plan.
pub const COUNTS_SQL: &str = concat!(
    "SELECT (SELECT count(*) FROM magic_links l WHERE l.purpose = 'invite' AND ",
    pending_sql!(),
    "), (SELECT count(*) FROM magic_links l WHERE l.purpose = 'invite' AND ",
    redeemed_sql!(),
    "), (SELECT count(*) FROM magic_links l WHERE l.purpose = 'invite' AND ",
    expired_sql!(),
    "), (SELECT count(*) FROM magic_links l WHERE l.purpose = 'invite' AND ",
    revoked_sql!(),
    ")"
);

/// The condition that holds exactly for `state`'s rows.
pub fn condition(state: LinkState) -> &'static str {
    match state {
        LinkState::Pending => pending_sql!(),
        LinkState::Expired => expired_sql!(),
        LinkState::Redeemed => redeemed_sql!(),
        LinkState::Revoked => revoked_sql!(),
    }
}

/// The partial index that holds `state`'s rows.
pub fn index(state: LinkState) -> &'static str {
    match state {
        LinkState::Pending | LinkState::Expired => "magic_links_open",
        LinkState::Redeemed => "magic_links_redeemed",
        LinkState::Revoked => "magic_links_revoked",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of a row's times, the state it is in, checked against the CASE,
    /// each state's condition and the counts.
    #[tokio::test]
    async fn every_query_agrees_on_each_rows_state() {
        sqlx::any::install_default_drivers();
        // One connection: each has a memory database of its own.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE magic_links (purpose TEXT, redeemed_at INTEGER, revoked_at INTEGER,
                                       expires_at INTEGER)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let now = 1_000;
        let rows = [
            (None, None, now + 1, LinkState::Pending),
            (None, None, now, LinkState::Expired),
            (Some(now - 5), None, now + 1, LinkState::Redeemed),
            (Some(now - 5), None, now - 1, LinkState::Redeemed),
            (None, Some(now - 5), now + 1, LinkState::Revoked),
            (Some(now - 9), Some(now - 5), now - 1, LinkState::Revoked),
        ];
        for (redeemed, revoked, expires, want) in rows {
            sqlx::query("DELETE FROM magic_links")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO magic_links VALUES ('invite', $1, $2, $3)")
                .bind(redeemed)
                .bind(revoked)
                .bind(expires)
                .execute(&pool)
                .await
                .unwrap();
            let named: String =
                sqlx::query_scalar(&format!("SELECT {STATE_SQL} FROM magic_links l"))
                    .bind(now)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            assert_eq!(named, want.as_str());
            for state in LinkState::ALL {
                let held: crate::server::store::flag::Flag =
                    sqlx::query_scalar(&format!("SELECT {} FROM magic_links l", condition(state)))
                        .bind(now)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                assert_eq!(held.0, state == want, "{state:?} for a {want:?} row");
            }
            let counts: (i64, i64, i64, i64) = sqlx::query_as(COUNTS_SQL)
                .bind(now)
                .fetch_one(&pool)
                .await
                .unwrap();
            let counted = [counts.0, counts.1, counts.2, counts.3];
            let want_counts = LinkState::ALL.map(|state| i64::from(state == want));
            assert_eq!(counted, want_counts, "counts for a {want:?} row");
        }
    }
}
