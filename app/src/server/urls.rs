//! What a URL is to Latchkey: an absolute web address, read as a browser reads it, and
//! an application's base URL with the URLs inside it.

use crate::error::AppError;
use url::Url;

/// The longest URL the gate or `rd` looks at.
pub const MAX_URL_BYTES: usize = 4096;

/// An application's base URL, normalised: lower-case scheme and host, the port only when
/// it is not the scheme's default, and a path prefix without its trailing slash (`""` for
/// the whole host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub scheme: String,
    pub host: String,
    pub port: Option<u16>,
    pub path_prefix: String,
}

impl BaseUrl {
    /// Parses a base URL as an admin gives it: http or https, a host, no user name or
    /// password, no query, no fragment.
    pub fn parse(input: &str) -> Result<Self, AppError> {
        let refuse = |message: &str| Err(AppError::invalid("url", message));
        let input = input.trim();
        if input.is_empty() {
            return refuse("Give the application's address, like https://wiki.example.com.");
        }
        let Some(url) = parse_absolute(input) else {
            return refuse("That is not a full address: give it as https://host/optional/path.");
        };
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("The address must not carry a user name or password.");
        }
        if url.fragment().is_some() || input.contains('#') {
            return refuse("The address must not have a #fragment.");
        }
        if url.query().is_some() {
            return refuse("The address must not have a ?query.");
        }
        Ok(Self::of(&url))
    }

    /// The base URL `url` falls in when its whole path is the prefix.
    pub(super) fn of(url: &Url) -> Self {
        Self {
            scheme: url.scheme().to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
            port: url.port(),
            path_prefix: url.path().trim_end_matches('/').to_owned(),
        }
    }

    /// Whether `url` is inside this application: same scheme, host and port, and a path
    /// that is the prefix or continues it after a `/`.
    pub fn contains(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.port() == self.port
            && match url.path().strip_prefix(self.path_prefix.as_str()) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            }
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(if self.path_prefix.is_empty() {
            "/"
        } else {
            &self.path_prefix
        })
    }
}

/// An absolute http or https URL with a host, as browsers would read it (WHATWG: dot
/// segments, encoded dots, backslashes and stray tabs are resolved first), or `None`.
pub fn parse_absolute(input: &str) -> Option<Url> {
    if input.len() > MAX_URL_BYTES || input.chars().any(char::is_control) {
        return None;
    }
    let url = Url::parse(input).ok()?;
    let web = matches!(url.scheme(), "http" | "https");
    (web && url.host_str().is_some_and(|host| !host.is_empty())).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_validated() {
        let base = BaseUrl::parse(" HTTPS://Wiki.Example.com:443/Docs/ ").unwrap();
        assert_eq!(base.to_string(), "https://wiki.example.com/Docs");
        assert_eq!(
            BaseUrl::parse("http://a.test:8080").unwrap().to_string(),
            "http://a.test:8080/"
        );
        for bad in [
            "",
            "wiki.example.com",
            "ftp://wiki.example.com",
            "https://user:pw@wiki.example.com",
            "https://user@wiki.example.com",
            "https://wiki.example.com/#top",
            "https://wiki.example.com/?a=1",
            "javascript:alert(1)",
            "https://wiki.example.com/a\nb",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn a_url_is_inside_an_application_only_at_a_path_boundary() {
        let docs = BaseUrl::parse("https://wiki.example.com/docs").unwrap();
        let inside = |url: &str| docs.contains(&parse_absolute(url).unwrap());
        assert!(inside("https://wiki.example.com/docs"));
        assert!(inside("https://wiki.example.com/docs/a?b=c"));
        assert!(inside("https://WIKI.example.com:443/docs/"));
        assert!(!inside("https://wiki.example.com/docsevil"));
        assert!(!inside("https://wiki.example.com/other"));
        assert!(!inside("https://wiki.example.com/docs/../admin"));
        assert!(!inside("https://wiki.example.com/docs/%2e%2e/admin"));
        assert!(!inside("http://wiki.example.com/docs"));
        assert!(!inside("https://wiki.example.com:8443/docs"));
        assert!(!inside("https://wiki.example.com.evil.test/docs"));
    }
}
