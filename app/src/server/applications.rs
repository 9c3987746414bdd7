//! Applications behind the gate: where a browser may be sent back to (`rd`), and
//! registering applications. What a base URL is, and which URLs are inside one, is
//! [`super::urls`].

use super::config::Config;
use super::gate::{self, subject::Subject};
use super::store::applications::{self as store, Application};
use super::urls::{BaseUrl, MAX_URL_BYTES};
use super::{db, now, OrInternal};
use crate::error::AppError;
use crate::model::applications::{ApplicationInfo, ReturnAddress};
use sqlx::AnyPool;
use url::Url;

/// The longest application name.
pub const MAX_NAME_CHARS: usize = 100;

/// Where a browser may be sent back to after signing in or out: `rd` read as a browser
/// would (relative to Latchkey's public URL), accepted only when it lands inside Latchkey
/// itself or a registered application and names no user. Answers the URL as it will be
/// sent (its normalised form, never the raw input).
pub fn safe_return(rd: &str, public_url: &str, applications: &[Application]) -> Option<Url> {
    let rd = rd.trim();
    if rd.is_empty() || rd.len() > MAX_URL_BYTES || rd.chars().any(char::is_control) {
        return None;
    }
    let base = Url::parse(&format!("{}/", public_url.trim_end_matches('/'))).ok()?;
    let url = base.join(rd).ok()?;
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let latchkey = BaseUrl::of(&base);
    let inside = latchkey.contains(&url) || applications.iter().any(|app| app.base.contains(&url));
    inside.then_some(url)
}

/// `rd` checked by [`safe_return`] against the registered applications: its normalised
/// form, or a refusal that says why.
pub async fn return_to(db: &AnyPool, config: &Config, rd: &str) -> Result<String, AppError> {
    let applications = store::all(db).await.or_internal("reading applications")?;
    safe_return(rd, &config.public_url, &applications)
        .map(String::from)
        .ok_or_else(|| {
            AppError::invalid(
                "rd",
                "That return address is not inside Latchkey or one of its applications.",
            )
        })
}

/// What `rd` leads to, for a page that offers to go back there: nothing when it is not
/// somewhere Latchkey may send a browser.
pub async fn describe_return(
    db: &AnyPool,
    config: &Config,
    rd: &str,
) -> Result<ReturnAddress, AppError> {
    let applications = store::all(db).await.or_internal("reading applications")?;
    let Some(url) = safe_return(rd, &config.public_url, &applications) else {
        return Ok(ReturnAddress::default());
    };
    Ok(ReturnAddress {
        application: applications
            .into_iter()
            .find(|app| app.base.contains(&url))
            .map(|app| app.name),
        url: Some(url.into()),
    })
}

/// The applications a session opens: its invitation's (`link_id`), or every one for a
/// coworker's session.
pub async fn of_caller(
    db: &AnyPool,
    link_id: Option<i64>,
) -> Result<Vec<ApplicationInfo>, AppError> {
    let opens = match link_id {
        Some(link_id) => store::of_link(db, link_id).await,
        None => store::all(db).await,
    }
    .or_internal("reading applications")?;
    Ok(opens.into_iter().map(Application::info).collect())
}

/// Parses an application's name: 1 to [`MAX_NAME_CHARS`] characters, no control
/// characters, no leading or trailing space.
pub fn parse_name(input: &str) -> Result<String, AppError> {
    let name = input.trim();
    if name.is_empty() {
        return Err(AppError::invalid("name", "Give the application a name."));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(
            "name",
            format!("Keep the name under {MAX_NAME_CHARS} characters."),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "The name contains characters that are not allowed.",
        ));
    }
    Ok(name.to_owned())
}

/// Registers an application; a name or base URL already registered is refused.
pub async fn add(writer: &AnyPool, name: &str, url: &str) -> Result<ApplicationInfo, AppError> {
    let name = parse_name(name)?;
    let base = BaseUrl::parse(url)?;
    let mut tx = db::begin_write(writer)
        .await
        .or_internal("starting to add an application")?;
    let existing = store::all(&mut *tx)
        .await
        .or_internal("reading applications")?;
    if existing
        .iter()
        .any(|app| app.name.to_lowercase() == name.to_lowercase())
    {
        return Err(AppError::invalid(
            "name",
            "An application with this name is already registered.",
        ));
    }
    if let Some(app) = existing.iter().find(|app| app.base == base) {
        return Err(AppError::invalid(
            "url",
            format!("This address is already registered, as {}.", app.name),
        ));
    }
    let id = store::insert(&mut tx, &name, &base, now())
        .await
        .or_internal("adding an application")?;
    tx.commit().await.or_internal("committing an application")?;
    gate::changed(Subject::Applications);
    Ok(ApplicationInfo {
        id,
        name,
        url: base.to_string(),
    })
}

/// Every registered application, in the order they were registered.
pub async fn list(pool: &AnyPool) -> Result<Vec<ApplicationInfo>, AppError> {
    Ok(store::all(pool)
        .await
        .or_internal("listing applications")?
        .into_iter()
        .map(Application::info)
        .collect())
}

/// Removes application `name`: no session reaches it any more, and invitations that
/// opened it no longer do.
pub async fn remove(writer: &AnyPool, name: &str) -> Result<(), AppError> {
    // A name no application could have been given is refused as such, before the
    // database (PostgreSQL's text cannot even hold a NUL to compare).
    let name = parse_name(name)?;
    if store::remove(writer, &name)
        .await
        .or_internal("removing an application")?
    {
        gate::changed(Subject::Applications);
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, url: &str) -> Application {
        Application {
            id: 1,
            name: name.to_owned(),
            base: BaseUrl::parse(url).unwrap(),
        }
    }

    #[test]
    fn return_urls_stay_inside_latchkey_or_an_application() {
        let apps = [app("Wiki", "https://wiki.example.com")];
        let public = "https://login.example.com";
        let ok = |rd: &str| safe_return(rd, public, &apps).map(|u| u.to_string());
        assert_eq!(
            ok("https://wiki.example.com/page?x=1").as_deref(),
            Some("https://wiki.example.com/page?x=1")
        );
        assert_eq!(
            ok("/dashboard").as_deref(),
            Some("https://login.example.com/dashboard")
        );
        for bypass in [
            "//evil.test",
            "\\\\evil.test",
            "/\\evil.test",
            "https://wiki.example.com.evil.test/",
            "https://wiki.example.com@evil.test/",
            "https://user@wiki.example.com/",
            "https:evil.test",
            "http://wiki.example.com/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://evil.test/%2e%2e/",
            "/\t/evil.test",
            "https://evil.test",
        ] {
            let got = ok(bypass);
            assert!(
                got.as_deref()
                    .is_none_or(|u| u.starts_with("https://login.example.com/")),
                "{bypass:?} went to {got:?}"
            );
        }
    }
}
