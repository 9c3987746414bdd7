//! What the server and the pages both know of an invitation's one-time codes: how many
//! wrong tries one takes, and the words its trail records.

/// Wrong tries after which an invitation's code stops working (its link still works).
pub const MAX_CODE_FAILURES: i64 = 5;
/// The detail of a refused sign-in when a typed code matched none of the address's live
/// codes (on the trail of each of them).
pub const WRONG_CODE: &str = "wrong code";
/// The detail of the refusal that used up a code's last wrong try (it names
/// [`MAX_CODE_FAILURES`]; a test holds them together).
pub const CODE_LOCKED: &str = "code locked after 5 wrong tries";

#[cfg(test)]
mod tests {
    #[test]
    fn the_lock_on_the_trail_names_the_number_of_tries() {
        assert!(super::CODE_LOCKED.contains(&format!(" {} ", super::MAX_CODE_FAILURES)));
    }
}
