//! Magic-link tokens: 32 random bytes, base64url in the link, SHA-256 at rest.
//!
//! The plaintext lives only in [`PlainToken`], which cannot be printed, serialized or
//! compared by accident. The database sees only [`TokenHash`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::fmt;

/// Bytes of entropy in a token.
pub const TOKEN_BYTES: usize = 32;
/// Length of a token in its base64url form, without padding.
pub const TOKEN_CHARS: usize = 43;

/// A token in plaintext. Its `Debug` is redacted and it has no `Display` or `Serialize`.
pub struct PlainToken(String);

/// SHA-256 of a token: the only form the database stores.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

/// Why a string is not a token. Never carries the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedToken {
    Length,
    Alphabet,
}

impl PlainToken {
    /// A fresh token from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator failed");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts exactly 43 base64url characters that decode to 32 bytes, before any lookup.
    pub fn parse(input: &str) -> Result<Self, MalformedToken> {
        if input.len() != TOKEN_CHARS {
            return Err(MalformedToken::Length);
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(MalformedToken::Alphabet);
        }
        // 43 characters carry 258 bits; the last character's 2 spare bits must be zero,
        // so that each 32-byte token has exactly one spelling.
        match URL_SAFE_NO_PAD.decode(input) {
            Ok(bytes) if bytes.len() == TOKEN_BYTES => Ok(Self(input.to_owned())),
            _ => Err(MalformedToken::Alphabet),
        }
    }

    pub fn hashed(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The token as it goes into a link. Call only to build the link.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The magic link for this token: `{public_url}/link#{token}`.
    pub fn link(&self, public_url: &str) -> String {
        format!("{public_url}/link#{}", self.0)
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken([redacted])")
    }
}

impl TokenHash {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell hashes apart in a debugger.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_tokens_are_43_url_safe_chars_and_distinct() {
        let tokens: HashSet<String> = (0..1000)
            .map(|_| PlainToken::generate().expose().to_owned())
            .collect();
        assert_eq!(tokens.len(), 1000);
        for token in &tokens {
            assert_eq!(token.len(), TOKEN_CHARS);
            assert!(PlainToken::parse(token).is_ok());
        }
    }

    #[test]
    fn hash_is_sha256_of_the_text() {
        let token = PlainToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let expected: [u8; 32] =
            Sha256::digest(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").into();
        assert_eq!(token.hashed(), TokenHash(expected));
        assert_ne!(PlainToken::generate().hashed(), token.hashed());
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        assert_eq!(PlainToken::parse("").err(), Some(MalformedToken::Length));
        assert_eq!(
            PlainToken::parse(&"A".repeat(42)).err(),
            Some(MalformedToken::Length)
        );
        assert_eq!(
            PlainToken::parse(&"A".repeat(44)).err(),
            Some(MalformedToken::Length)
        );
        assert_eq!(
            PlainToken::parse(&format!("{}+", "A".repeat(42))).err(),
            Some(MalformedToken::Alphabet)
        );
        assert_eq!(
            PlainToken::parse(&format!("{}=", "A".repeat(42))).err(),
            Some(MalformedToken::Alphabet)
        );
        // Non-zero spare bits in the last character: a second spelling of a token.
        assert_eq!(
            PlainToken::parse(&format!("{}B", "A".repeat(42))).err(),
            Some(MalformedToken::Alphabet)
        );
        // Multi-byte characters must not slip through a byte-length check.
        assert!(PlainToken::parse(&format!("{}é", "A".repeat(41))).is_err());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = PlainToken::generate();
        let shown = format!("{token:?} {:?}", token.hashed());
        assert!(!shown.contains(token.expose()));
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn link_puts_the_token_in_the_fragment() {
        let token = PlainToken::generate();
        let link = token.link("https://access.example.com");
        assert_eq!(
            link,
            format!("https://access.example.com/link#{}", token.expose())
        );
    }

    proptest::proptest! {
        /// The fuzz target's properties (fuzz/fuzz_targets/token.rs), on every test run.
        #[test]
        fn only_canonical_43_character_tokens_parse(
            input in "\\PC{0,50}|[A-Za-z0-9_-]{43}|[A-Za-z0-9_=+/-]{42,44}"
        ) {
            if let Ok(token) = PlainToken::parse(&input) {
                proptest::prop_assert_eq!(token.expose().len(), 43);
                let shown = format!("{token:?}");
                proptest::prop_assert!(!shown.contains(token.expose()));
                let bytes = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
                proptest::prop_assert_eq!(URL_SAFE_NO_PAD.encode(bytes), input);
            }
        }
    }
}
