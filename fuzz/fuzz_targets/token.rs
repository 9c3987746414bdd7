//! Any string given as a token: parsing never panics, accepts only 43 base64url
//! characters, and an accepted token hashes and prints without revealing itself.
#![no_main]

use app::server::tokens::PlainToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(token) = PlainToken::parse(input) {
        let text = token.expose();
        assert_eq!(text.len(), 43);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert!(!format!("{token:?}").contains(text));
        let _ = token.hashed();
    }
});
