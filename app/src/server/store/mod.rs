//! Storage: every SQL statement Latchkey runs, one module per table, each query next to
//! the row type it reads. Domain modules call these functions inside the transactions
//! they open ([`super::db::begin_write`]); nothing outside this folder writes SQL, except
//! the connection set-up in [`super::db`] and the session layer's own store.
//!
//! ```text
//! links.rs            magic_links: the insert, lookups, revoke/renewal/redeem updates
//! link_state.rs       the link-state rule (pending, redeemed, expired, revoked), once
//! link_list.rs        the dashboard's list, summary, options and counts of invitations
//! link_codes.rs       magic_links' one-time codes: an address's live codes, wrong tries
//! sessions.rs         auth_sessions: the one insert, touch, every end and its reason
//! session_records.rs  tower_sessions records a redeem writes for the session layer
//! flag.rs             a truth value as either engine keeps it
//! gate.rs             the gate: a session by its gate cookie, the change log, uses
//! events.rs           link_events: the audit trail, its repeat folding and paging
//! copy.rs             a SQLite installation copied into an empty PostgreSQL database
//! coworkers.rs        coworkers
//! applications.rs     applications, the ones each invitation opens, the ones reached
//! rate_limits.rs      the rate limits every instance shares (PostgreSQL)
//! redeems.rs          the invitation redeem as a group-commit job
//! deliveries.rs       a mail's outcome as a group-commit job
//! ```
//!
//! SQL is written out in full or assembled with `concat!`/`format!` from fixed fragments
//! only (each such place says so); values are always bound, never spliced.

pub mod applications;
pub mod copy;
pub mod coworkers;
pub mod deliveries;
pub mod events;
pub mod flag;
pub mod gate;
pub mod link_codes;
pub mod link_list;
pub mod link_state;
pub mod links;
pub mod rate_limits;
pub mod redeems;
pub mod session_records;
pub mod sessions;
