//! Data that crosses the wire between the server functions and the pages, one module per
//! area, compiled for both sides.
//!
//! ```text
//! links.rs         a link's state, delivery and purpose, the issue form's choices, the
//!                  dashboard's rows and details, the answers of issue, redeem and renew
//! events.rs        a link's audit trail: what happened, one entry
//! sessions.rs      the sessions a link opened, their lifetimes, who is signed in
//! applications.rs  applications behind the gate, and where a return address leads
//! coworkers.rs     a coworker, as admins manage them
//! codes.rs         a one-time code's wrong tries, and the words its trail records
//! times.rs         times as people read them, the same on both sides
//! ```

pub mod applications;
pub mod codes;
pub mod coworkers;
pub mod events;
pub mod links;
pub mod sessions;
pub mod times;
