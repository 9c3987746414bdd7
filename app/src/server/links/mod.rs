//! Magic links: issuing, listing, managing, reissuing and redeeming them. The domain
//! rules live here; the SQL they run lives in [`super::store`].
//!
//! ```text
//! input.rs     parsing: an invitation's fields, destination, renewal, list filter, token
//! access.rs    which applications an invitation opens; narrowing and widening it
//! issue.rs     a coworker's invitation; a coworker's own sign-in link
//! delivery.rs  mailing a link and recording the outcome
//! list.rs      the dashboard's list, one summary, the counts
//! redeem.rs    looking at a link; redeeming it into a session
//! code.rs      redeeming by address and one-time code (another device)
//! manage.rs    revoke, end a session, renewal on/off, a link's details
//! reissue.rs   resend (by a coworker), renew (by the holder) and the issuer's notice
//! ```

mod access;
mod code;
mod delivery;
mod input;
mod issue;
mod list;
mod manage;
mod redeem;
mod reissue;

pub use access::set_access;
pub use code::redeem_code;
pub use input::{
    optional_text, parse_application_ids, parse_destination, parse_renewal, parse_token,
    InviteForm, ListFilter, NewInvite, MAX_NAME_CHARS,
};
pub use issue::{create_signin, issue, send_signin};
pub use list::{counts, list, summary, PAGE_SIZE};
pub use manage::{details, end_session, revoke, set_renewal};
pub use redeem::{peek, redeem, Redemption};
pub use reissue::{renew, resend, RENEWAL_INTERVAL_SECS};
