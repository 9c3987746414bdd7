//! Any string typed as an email address: parsing never panics, and an accepted address
//! is short, ASCII, lower-case, and can carry no header (no CR, LF or angle brackets).
#![no_main]

use app::server::email::{EmailAddress, MAX_EMAIL_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(address) = EmailAddress::parse("email", input) {
        let text = address.as_str();
        assert!(text.len() <= MAX_EMAIL_LEN);
        assert!(text.is_ascii());
        assert_eq!(text, text.to_ascii_lowercase());
        assert!(!text.contains(['\r', '\n', '<', '>', ' ', ',', ';']));
        assert_eq!(text.matches('@').count(), 1);
        // Parsing what we accepted gives it back unchanged.
        assert_eq!(EmailAddress::parse("email", text).unwrap(), address);
    }
});
