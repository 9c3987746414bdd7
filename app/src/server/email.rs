//! Email addresses, parsed strictly at the boundary.
//!
//! We accept the plain `local@domain` form people type, not the full RFC 5322 grammar:
//! no quoted local parts, no comments, no display names, nothing that could smuggle a
//! header. Non-ASCII is refused with a message that says how to write the domain in its
//! ASCII (`xn--`) form, rather than guessing at a conversion.

use crate::error::AppError;
use std::fmt;

/// The longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid address, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses what someone typed into the field named `field`.
    pub fn parse(field: &str, input: &str) -> Result<Self, AppError> {
        let invalid = |message: &str| AppError::invalid(field, message);
        let input = input.trim();
        if input.is_empty() {
            return Err(invalid("Enter an email address."));
        }
        if input.len() > MAX_EMAIL_LEN {
            return Err(invalid("That email address is too long."));
        }
        if !input.is_ascii() {
            return Err(invalid(
                "Use only ASCII characters; write an international domain in its xn-- form.",
            ));
        }
        let Some((local, domain)) = input.split_once('@') else {
            return Err(invalid(
                "An email address needs an @, like name@example.com.",
            ));
        };
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || !is_dot_atom(local) {
            return Err(invalid("The part before the @ is not valid."));
        }
        if !is_domain(domain) {
            return Err(invalid("The part after the @ is not a valid domain."));
        }
        Ok(Self(input.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a…@example.com`: enough to follow a flow in the logs without the full address.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or(("", &self.0));
        mask(local, domain)
    }
}

/// The one masking rule: the local part's first character, then the domain.
fn mask(local: &str, domain: &str) -> String {
    let first = local.chars().next().unwrap_or('?');
    format!("{first}…@{domain}")
}

/// `text` (words from elsewhere, such as a mail server's reply, which often quotes the
/// recipient as `<alice@example.com>`) with everything shaped like an address masked as
/// [`EmailAddress::masked`] masks one, for a log line.
pub fn mask_addresses(text: &str) -> String {
    const LOCAL_SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~.";
    let in_local = |b: u8| b.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(&b);
    let in_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find('@') {
        let sign = at + found;
        let start = (0..sign)
            .rev()
            .take_while(|&i| in_local(bytes[i]))
            .last()
            .unwrap_or(sign);
        let mut end = (sign + 1..bytes.len())
            .take_while(|&i| in_domain(bytes[i]))
            .last()
            .map_or(sign + 1, |i| i + 1);
        // A sentence's full stop is not part of the domain.
        while end > sign + 1 && bytes[end - 1] == b'.' {
            end -= 1;
        }
        if start < sign && end > sign + 1 && start >= copied {
            out.push_str(&text[copied..start]);
            out.push_str(&mask(&text[start..sign], &text[sign + 1..end]));
            copied = end;
        }
        at = sign + 1;
    }
    out.push_str(&text[copied..]);
    out
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 5322 dot-atom: atext runs separated by single dots.
fn is_dot_atom(text: &str) -> bool {
    const SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~";
    text.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || SPECIALS.contains(&b))
    })
}

/// A DNS host name with at least two labels.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        EmailAddress::parse("email", input).unwrap().0
    }

    fn refused(input: &str) -> bool {
        EmailAddress::parse("email", input).is_err()
    }

    #[test]
    fn ordinary_addresses_are_accepted_and_lower_cased() {
        assert_eq!(ok("alice@example.com"), "alice@example.com");
        assert_eq!(
            ok("  Bob.Smith+tag@Mail.Example.CO.uk "),
            "bob.smith+tag@mail.example.co.uk"
        );
        assert_eq!(ok("x@xn--bcher-kva.example"), "x@xn--bcher-kva.example");
    }

    #[test]
    fn header_injection_and_odd_forms_are_refused() {
        for input in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "alice@@example.com",
            "a@b@example.com",
            "alice@example.com\r\nBcc: evil@example.com",
            "alice\n@example.com",
            "alice @example.com",
            "\"alice\"@example.com",
            "Alice <alice@example.com>",
            "alice..b@example.com",
            ".alice@example.com",
            "alice@-example.com",
            "alice@example..com",
            "alice@127.0.0.1",
            "alice@exa_mple.com",
            "ålice@example.com",
            "alice@bücher.example",
        ] {
            assert!(refused(input), "accepted {input:?}");
        }
    }

    #[test]
    fn lengths_are_limited() {
        assert!(refused(&format!("{}@example.com", "a".repeat(65))));
        assert!(!refused(&format!("{}@example.com", "a".repeat(64))));
        assert!(refused(&format!("a@{}.com", "b".repeat(64))));
        let long_domain = format!("{}.com", vec!["c".repeat(60); 5].join("."));
        assert!(refused(&format!("a@{long_domain}")));
    }

    #[test]
    fn errors_name_the_field_and_never_echo_the_input() {
        let error = EmailAddress::parse("invitee_email", "evil\r\n@example.com").unwrap_err();
        match error {
            AppError::InvalidInput { field, message } => {
                assert_eq!(field, "invitee_email");
                assert!(!message.contains("evil"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn masking_keeps_the_domain_only() {
        assert_eq!(ok("alice@example.com").len(), 17);
        let email = EmailAddress::parse("email", "alice@example.com").unwrap();
        assert_eq!(email.masked(), "a…@example.com");
    }

    #[test]
    fn addresses_in_free_text_are_masked_by_the_same_rule() {
        for (text, masked) in [
            (
                "permanent error (550): 5.1.1 <alice@example.com>: Recipient address rejected",
                "permanent error (550): 5.1.1 <a…@example.com>: Recipient address rejected",
            ),
            (
                "550 user Bob.Smith+tag@Mail.Example.org. unknown, nor bob@example.com",
                "550 user B…@Mail.Example.org. unknown, nor b…@example.com",
            ),
            (
                "no address here, only an @ sign and @@",
                "no address here, only an @ sign and @@",
            ),
            ("", ""),
            ("café <ü@example.com> é@x", "café <ü@example.com> é@x"),
        ] {
            assert_eq!(mask_addresses(text), masked, "{text}");
        }
        let email = EmailAddress::parse("email", "alice@example.com").unwrap();
        assert_eq!(mask_addresses(email.as_str()), email.masked());
    }

    proptest::proptest! {
        /// The fuzz target's properties (fuzz/fuzz_targets/email.rs), on every test run.
        #[test]
        fn whatever_is_typed_an_accepted_address_is_safe_to_put_in_a_header(
            input in "(\\PC|[\\r\\n<>@. ]){0,80}|[a-zA-Z0-9.+_-]{1,20}@[a-zA-Z0-9.-]{1,20}"
        ) {
            if let Ok(address) = EmailAddress::parse("email", &input) {
                let text = address.as_str();
                proptest::prop_assert!(text.len() <= MAX_EMAIL_LEN && text.is_ascii());
                proptest::prop_assert_eq!(text, text.to_ascii_lowercase());
                proptest::prop_assert!(!text.contains(['\r', '\n', '<', '>', ' ', ',', ';']));
                proptest::prop_assert_eq!(text.matches('@').count(), 1);
                proptest::prop_assert_eq!(EmailAddress::parse("email", text).unwrap(), address);
            }
        }
    }
}
