//! One-time codes: the way in from another device. Every mailed link carries one, shown
//! as `ABCD-EFGH`, typed at `{PUBLIC_URL}/code` with the link's address.
//!
//! A code is 8 characters of Crockford's base32 (digits and letters without I, L, O, U):
//! 40 bits. It is stored only as HMAC-SHA256 under a key kept outside the database
//! ([`CodeKey`], salted by the link's token hash), so a copy of the database alone does
//! not let anyone search the 2^40 codes offline. Online, a code allows
//! [`MAX_CODE_FAILURES`] wrong tries per invitation, within the per-network attempt limit.

use super::files;
use super::tokens::TokenHash;
use crate::error::AppError;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::Sha256;
use std::fmt;
use std::io;
use std::path::Path;

/// Crockford's base32 alphabet: no I, L, O or U, so nothing reads as something else.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code.
pub const CODE_CHARS: usize = 8;
pub use crate::model::codes::MAX_CODE_FAILURES;

/// A code in plaintext, canonical (upper case, no separator). Its `Debug` is redacted and
/// it has no `Display`: [`PlainCode::expose`] writes it only into a letter.
#[derive(Clone)]
pub struct PlainCode(String);

impl PlainCode {
    /// A fresh code from the operating system's CSPRNG: each character one uniform draw
    /// of 5 bits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; CODE_CHARS];
        OsRng
            .try_fill_bytes(&mut bytes)
            .expect("the operating system's random number generator failed");
        Self(
            bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect(),
        )
    }

    /// Reads a typed code the way Crockford's base32 reads: any case, with or without the
    /// hyphen and spaces, O as 0 and I or L as 1.
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let mut code = String::with_capacity(CODE_CHARS);
        for c in input.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')) {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) || code.len() == CODE_CHARS {
                return Err(malformed());
            }
            code.push(c);
        }
        if code.len() == CODE_CHARS {
            Ok(Self(code))
        } else {
            Err(malformed())
        }
    }

    /// The code as a person reads it: `ABCD-EFGH`. Call only to write it into a letter.
    pub fn expose(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

fn malformed() -> AppError {
    AppError::invalid(
        "code",
        "A code is 8 letters and digits, like ABCD-EFGH: copy it from the mail.",
    )
}

impl fmt::Debug for PlainCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainCode([redacted])")
    }
}

/// The secret codes are stored under. Its `Debug` is redacted.
pub struct CodeKey([u8; 32]);

impl CodeKey {
    /// The key in `path`, made (32 random bytes, a 0600 file) when there is none yet.
    /// Every instance serving one database must read the same key; a new key makes the
    /// codes already mailed stop working (their links still work).
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            files::private_dir(dir)?;
        }
        let mut key = [0u8; 32];
        match std::fs::read(path) {
            Ok(bytes) if bytes.len() == key.len() => {
                key.copy_from_slice(&bytes);
                return Ok(Self(key));
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the code key file must hold exactly 32 bytes",
                ))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        OsRng
            .try_fill_bytes(&mut key)
            .expect("the operating system's random number generator failed");
        match files::write_private(path, &key) {
            Ok(()) => Ok(Self(key)),
            // Another process made it first: use theirs.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                Self::load_or_create(path)
            }
            Err(error) => Err(error),
        }
    }

    /// What is stored for `code` on the link whose token hashes to `salt`.
    pub fn hash(&self, salt: &TokenHash, code: &PlainCode) -> Vec<u8> {
        self.mac(salt, code).finalize().into_bytes().to_vec()
    }

    /// Whether `stored` is [`CodeKey::hash`] of `code` for `salt`, compared in constant time.
    pub fn matches(&self, salt: &TokenHash, code: &PlainCode, stored: &[u8]) -> bool {
        self.mac(salt, code).verify_slice(stored).is_ok()
    }

    fn mac(&self, salt: &TokenHash, code: &PlainCode) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(salt.as_bytes());
        mac.update(code.0.as_bytes());
        mac
    }
}

impl fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_8_characters_of_the_alphabet_and_distinct() {
        let codes: HashSet<String> = (0..1000).map(|_| PlainCode::generate().0).collect();
        assert_eq!(codes.len(), 1000);
        for code in &codes {
            assert_eq!(code.len(), CODE_CHARS);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn every_character_is_drawn_uniformly() {
        // 32 divides 256: masking a random byte to 5 bits has no bias. Over 40,000
        // characters each of the 32 is expected 1,250 times; 1,000 to 1,500 is far
        // outside chance (the standard deviation is about 35).
        let mut seen = [0u32; 32];
        for _ in 0..5000 {
            for b in PlainCode::generate().0.bytes() {
                seen[ALPHABET.iter().position(|&a| a == b).unwrap()] += 1;
            }
        }
        assert!(seen.iter().all(|&n| (1000..1500).contains(&n)), "{seen:?}");
    }

    #[test]
    fn a_typed_code_reads_as_crockford_base32() {
        let code = PlainCode::parse("ABCD-EFGH").unwrap();
        assert_eq!(code.expose(), "ABCD-EFGH");
        for typed in ["abcd-efgh", " abcd efgh ", "ABCDEFGH", "abcd\tefgh"] {
            assert_eq!(PlainCode::parse(typed).unwrap().0, "ABCDEFGH", "{typed:?}");
        }
        assert_eq!(PlainCode::parse("o1il-0000").unwrap().0, "01110000");
        for bad in [
            "",
            "ABCD-EFG",
            "ABCD-EFGHJ",
            "ABCD-EFGU",
            "ABCD_EFGH",
            "ÀBCD-EFGH",
        ] {
            assert!(PlainCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_stored_hash_needs_the_key_and_the_links_salt() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("latchkey-code-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("code.key");
        let key = CodeKey::load_or_create(&path).unwrap();
        let again = CodeKey::load_or_create(&path).unwrap();
        assert_eq!(key.0, again.0, "the key is kept");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let code = PlainCode::parse("ABCD-EFGH").unwrap();
        let salt = TokenHash([7; 32]);
        let stored = key.hash(&salt, &code);
        assert!(key.matches(&salt, &code, &stored));
        assert!(!key.matches(&TokenHash([8; 32]), &code, &stored));
        assert!(!key.matches(&salt, &PlainCode::parse("ABCD-EFGJ").unwrap(), &stored));
        let other = CodeKey([1; 32]);
        assert!(!other.matches(&salt, &code, &stored));
        assert_eq!(
            format!("{key:?} {code:?}"),
            "CodeKey([redacted]) PlainCode([redacted])"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
