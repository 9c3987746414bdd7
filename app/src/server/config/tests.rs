//! Reading the environment: defaults, refusals, redaction.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|key| map.get(key).cloned())
}

#[test]
fn defaults_match_docs_configuration() {
    let config = config(&[]).unwrap();
    assert_eq!(config.database_url, "sqlite://data/latchkey.db");
    assert_eq!(config.public_url, "http://127.0.0.1:3000");
    assert_eq!(config.outbox_dir, PathBuf::from("data/outbox"));
    assert_eq!(config.code_key_file, PathBuf::from("data/code.key"));
    assert_eq!(config.session_cookie_name(), "latchkey_session");
    assert_eq!(config.max_link_lifetime, Duration::from_secs(7 * 24 * 3600));
}

#[test]
fn https_public_url_gets_a_host_prefixed_cookie() {
    let config = config(&[("LATCHKEY_PUBLIC_URL", "https://access.example.com/")]).unwrap();
    assert_eq!(config.public_url, "https://access.example.com");
    assert_eq!(config.session_cookie_name(), "__Host-latchkey_session");
}

#[test]
fn debug_hides_smtp_credentials() {
    let config = config(&[(
        "LATCHKEY_SMTP_URL",
        "smtp://mailer:hunter2@mail.example.com:587",
    )])
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("mailer"), "{shown}");
    assert!(shown.contains("mail.example.com:587"), "{shown}");
}

#[test]
fn debug_hides_database_credentials() {
    let config = config(&[(
        "LATCHKEY_DATABASE_URL",
        "postgres://latchkey:s3cret@db.example.com:5432/latchkey",
    )])
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("db.example.com:5432/latchkey"), "{shown}");
}

#[test]
fn debug_hides_query_values_of_either_url() {
    let config = config(&[
        (
            "LATCHKEY_DATABASE_URL",
            "postgres://db.example.com/latchkey?user=latchkey&password=s3cret&sslmode=require",
        ),
        (
            "LATCHKEY_SMTP_URL",
            "smtps://mail.example.com:465/?tls=required&password=hunter2",
        ),
    ])
    .unwrap();
    for shown in [format!("{config:?}"), config.smtp_url_redacted().unwrap()] {
        for secret in ["s3cret", "hunter2", "=latchkey", "require"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }
    let shown = format!("{config:?}");
    assert!(
        shown.contains(
            "db.example.com/latchkey?user=[redacted]&password=[redacted]&sslmode=[redacted]"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("mail.example.com:465?tls=[redacted]&password=[redacted]"),
        "{shown}"
    );
}

#[test]
fn a_password_holding_at_signs_is_redacted_whole() {
    for url in [
        "smtp://user:p@ss@mail.example.com:587",
        "smtp://us%40er:p@ss:w@rd@mail.example.com",
        "smtps://user:@@mail.example.com:465/?tls=required",
    ] {
        let config = config(&[("LATCHKEY_SMTP_URL", url)]).unwrap();
        // What the start-up line prints, and what Debug shows.
        for shown in [config.smtp_url_redacted().unwrap(), format!("{config:?}")] {
            for secret in ["user:", "us%40er", "p@ss", "ss@", "w@rd", "rd@"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("[redacted]@mail.example.com"), "{shown}");
        }
    }
    let plain = config(&[("LATCHKEY_SMTP_URL", "smtp://127.0.0.1:1025")]).unwrap();
    assert_eq!(plain.smtp_url_redacted().unwrap(), "smtp://127.0.0.1:1025");
}

#[test]
fn a_public_url_on_port_0_takes_the_port_listened_on() {
    let mut any = config(&[("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:0/access")]).unwrap();
    any.take_listening_port(41234);
    assert_eq!(any.public_url, "http://127.0.0.1:41234/access");
    let mut fixed = config(&[("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:3000")]).unwrap();
    fixed.take_listening_port(41234);
    assert_eq!(fixed.public_url, "http://127.0.0.1:3000");
}

#[test]
fn origin_drops_any_path() {
    let config = config(&[("LATCHKEY_PUBLIC_URL", "https://example.com:8443/latchkey")]).unwrap();
    assert_eq!(config.public_origin(), "https://example.com:8443");
}

#[test]
fn bad_values_are_refused_with_the_variable_named() {
    let error = config(&[("LATCHKEY_INVITEE_IDLE_MINUTES", "soon")]).unwrap_err();
    assert!(error.to_string().contains("LATCHKEY_INVITEE_IDLE_MINUTES"));
    assert!(config(&[("LATCHKEY_PUBLIC_URL", "ftp://x")]).is_err());
    assert!(config(&[("LATCHKEY_SMTP_URL", "http://x")]).is_err());
}

#[test]
fn the_code_key_lives_beside_the_database_unless_named() {
    let key_file = |pairs: &[(&str, &str)]| config(pairs).unwrap().code_key_file;
    assert_eq!(
        key_file(&[(
            "LATCHKEY_DATABASE_URL",
            "sqlite:///var/lib/latchkey/db.sqlite?mode=rwc"
        )]),
        PathBuf::from("/var/lib/latchkey/code.key")
    );
    assert_eq!(
        key_file(&[("LATCHKEY_DATABASE_URL", "sqlite://latchkey.db")]),
        PathBuf::from("code.key")
    );
    assert_eq!(
        key_file(&[("LATCHKEY_CODE_KEY_FILE", "/run/secrets/latchkey-code")]),
        PathBuf::from("/run/secrets/latchkey-code")
    );
}

#[test]
fn metrics_are_off_unless_asked_for_and_apart_wins() {
    assert_eq!(config(&[]).unwrap().metrics, Metrics::Off);
    assert_eq!(
        config(&[("LATCHKEY_METRICS", "true")]).unwrap().metrics,
        Metrics::WithTheApp
    );
    assert_eq!(
        config(&[
            ("LATCHKEY_METRICS", "true"),
            ("LATCHKEY_METRICS_ADDR", "127.0.0.1:9100")
        ])
        .unwrap()
        .metrics,
        Metrics::Apart("127.0.0.1:9100".parse().unwrap())
    );
    for (key, value) in [
        ("LATCHKEY_METRICS", "yes"),
        ("LATCHKEY_METRICS_ADDR", "localhost"),
        ("LATCHKEY_LOG_FORMAT", "xml"),
    ] {
        let error = config(&[(key, value)]).unwrap_err().to_string();
        assert!(error.contains(key), "{error}");
    }
    assert_eq!(
        config(&[("LATCHKEY_LOG_FORMAT", "json")])
            .unwrap()
            .log_format,
        LogFormat::Json
    );
}

#[test]
fn the_gate_remembers_a_million_sessions_unless_told_otherwise() {
    use super::CacheMode;
    assert_eq!(
        config(&[]).unwrap().gate_cache,
        CacheMode::On {
            sessions: 1_000_000
        }
    );
    assert_eq!(
        config(&[("LATCHKEY_GATE_CACHE_SESSIONS", "5000")])
            .unwrap()
            .gate_cache,
        CacheMode::On { sessions: 5000 }
    );
    assert_eq!(
        config(&[("LATCHKEY_GATE_CACHE", "off")])
            .unwrap()
            .gate_cache,
        CacheMode::Off
    );
    for (name, value) in [
        ("LATCHKEY_GATE_CACHE", "maybe"),
        ("LATCHKEY_GATE_CACHE_SESSIONS", "0"),
        ("LATCHKEY_GATE_CACHE_SESSIONS", "many"),
    ] {
        let error = config(&[(name, value)]).err().unwrap().to_string();
        assert!(error.contains(name), "{name}={value}: {error}");
    }
}
