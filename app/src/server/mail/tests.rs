//! The letters' snapshots and escaping.

use super::*;

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(900), "15 minutes");
    assert_eq!(human_duration(3600), "1 hour");
    assert_eq!(human_duration(86_400), "24 hours");
    assert_eq!(human_duration(604_800), "7 days");
}

/// A fixed code, so the snapshots stay put.
fn code() -> crate::server::codes::PlainCode {
    crate::server::codes::PlainCode::parse("K7Q4-MX2P").unwrap()
}

fn postman() -> Postman {
    let outbox = std::env::temp_dir().join("latchkey-mail-snapshots");
    let config = Config::from_lookup(|key| match key {
        "LATCHKEY_ORG_NAME" => Some("Acme Research".into()),
        "LATCHKEY_PUBLIC_URL" => Some("https://access.acme.example".into()),
        "LATCHKEY_MAIL_FROM" => Some("Acme Access <access@acme.example>".into()),
        "LATCHKEY_OUTBOX_DIR" => Some(outbox.display().to_string()),
        _ => None,
    })
    .unwrap();
    Postman::from_config(&config).unwrap()
}

/// Compares a letter's subject, text and HTML with `snapshots/NAME.*`, the live
/// token replaced by `[token]`. A difference fails and writes `NAME.*.new` beside the
/// snapshot to review; `UPDATE_SNAPSHOTS=1` accepts the new output.
fn assert_snapshot(name: &str, letter: &Letter, token: &str) {
    let (subject, text, html) = &letter.parts;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let mut differ = Vec::new();
    for (ext, body) in [
        ("txt", format!("Subject: {subject}\n\n{text}")),
        ("html", html.clone()),
    ] {
        assert!(body.contains(token), "{name}.{ext} lost its link");
        let masked = body.replace(token, "[token]");
        let path = dir.join(format!("{name}.{ext}"));
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if masked != expected {
            if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &masked).unwrap();
            } else {
                std::fs::write(path.with_extension(format!("{ext}.new")), &masked).unwrap();
                differ.push(path.display().to_string());
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{differ:?} differ from what was written (see the .new files; UPDATE_SNAPSHOTS=1 accepts)"
    );
}

#[test]
fn the_invitation_matches_its_snapshot() {
    let token = crate::server::tokens::PlainToken::generate();
    let url = token.link("https://access.acme.example");
    let to = EmailAddress::parse("email", "alice@example.com").unwrap();
    let letter = postman()
        .invitation(&Invitation {
            to: &to,
            to_name: Some("Alice <Example>"),
            inviter_name: "Bob \"The Builder\"",
            inviter_email: "bob@acme.example",
            message: Some("Welcome aboard!\nThe <b>docs</b> & the repo are ready."),
            url: &url,
            code: Some(&code()),
            expires_at: 1_795_615_380,
            lifetime_secs: 86_400,
        })
        .unwrap();
    let (_, text, html) = &letter.parts;
    // One sentence says when to use which, the code is spelled as typed, and /code is named.
    for part in [text, html] {
        assert!(
            part.contains("Open the link on this device, or type the code at "),
            "{part}"
        );
        assert!(part.contains("https://access.acme.example/code"), "{part}");
        assert!(part.contains("K7Q4-MX2P"), "{part}");
    }
    // The message is escaped in HTML and kept as written in the text part.
    assert!(html.contains("The &lt;b&gt;docs&lt;/b&gt; &amp; the repo"));
    assert!(text.contains("The <b>docs</b> & the repo"));
    assert!(text.contains("2026-11-25 14:03 UTC (in 24 hours)"));
    assert!(html.contains("Acme Research"));
    let token = url.rsplit('#').next().unwrap();
    assert_snapshot("invitation", &letter, token);
}

#[test]
fn the_sign_in_mail_matches_its_snapshot() {
    let token = crate::server::tokens::PlainToken::generate();
    let url = token.link("https://access.acme.example");
    let to = EmailAddress::parse("email", "bob@acme.example").unwrap();
    let letter = postman()
        .signin(&to, &url, Some(&code()), 1_795_615_380, 900)
        .unwrap();
    let (_, text, _) = &letter.parts;
    assert!(text.contains("Code: K7Q4-MX2P\n"), "{text}");
    let token = url.rsplit('#').next().unwrap();
    assert_snapshot("signin", &letter, token);
}

#[test]
fn the_renewal_notice_matches_its_snapshot_and_holds_no_link() {
    let to = EmailAddress::parse("email", "bob@acme.example").unwrap();
    let letter = postman()
        .renewal_notice(&RenewalNotice {
            to: &to,
            to_name: Some("Bob"),
            invitee: "alice@example.com",
            invitee_name: Some("Alice"),
            delivered: true,
            details_url: "https://access.acme.example/dashboard/links/42",
        })
        .unwrap();
    let (_, text, html) = &letter.parts;
    assert!(!text.contains("/link#") && !html.contains("/link#"));
    assert_snapshot("renewal-notice", &letter, "/dashboard/links/42");
}

#[test]
fn an_invitation_without_a_message_leaves_out_the_message_block() {
    let to = EmailAddress::parse("email", "alice@example.com").unwrap();
    let letter = postman()
        .invitation(&Invitation {
            to: &to,
            to_name: None,
            inviter_name: "Bob",
            inviter_email: "bob@acme.example",
            message: None,
            url: "https://access.acme.example/link#token",
            code: None,
            expires_at: 1_795_615_380,
            lifetime_secs: 604_800,
        })
        .unwrap();
    let (_, text, html) = &letter.parts;
    assert!(text.starts_with("Hello alice@example.com,\n\n"), "{text}");
    assert!(
        text.contains("invited you to Acme Research.\n\nOpen this link"),
        "{text}"
    );
    assert!(text.ends_with("you can ignore this email.\n"), "{text}");
    assert!(
        html.contains("<strong>Acme Research</strong>.</p>\n\n<table"),
        "{html}"
    );
}

#[test]
fn html_is_escaped_with_named_references() {
    use askama::filters::Escaper;
    let mut out = String::new();
    MailHtml
        .write_escaped_str(&mut out, r#"<b a="1">'&é"#)
        .unwrap();
    assert_eq!(out, "&lt;b a=&quot;1&quot;&gt;&#39;&amp;é");
}

#[test]
fn names_and_messages_are_escaped_in_html_and_literal_in_text() {
    let script = "<script>alert('hi')</script> & co";
    let to = EmailAddress::parse("email", "alice@example.com").unwrap();
    let url = "https://access.acme.example/link#token";
    let invitation = postman()
        .invitation(&Invitation {
            to: &to,
            to_name: Some(script),
            inviter_name: script,
            inviter_email: "bob@acme.example",
            message: Some(script),
            url,
            code: Some(&code()),
            expires_at: 1_795_615_380,
            lifetime_secs: 86_400,
        })
        .unwrap();
    let notice = postman()
        .renewal_notice(&RenewalNotice {
            to: &to,
            to_name: Some(script),
            invitee: "carol@example.com",
            invitee_name: Some(script),
            delivered: false,
            details_url: "https://access.acme.example/dashboard/links/7",
        })
        .unwrap();
    let escaped = "&lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt; &amp; co";
    for (letter, times) in [(&invitation, 4), (&notice, 2)] {
        let (subject, text, html) = &letter.parts;
        assert!(!html.contains("<script"), "{html}");
        // Greeting, inviter and message (and the title); or the invitee and the title.
        assert_eq!(html.matches(escaped).count(), times, "{html}");
        assert!(text.contains(script), "{text}");
        assert!(!text.contains("&lt;") && !text.contains("&amp;"), "{text}");
        assert!(subject.contains(script), "{subject}");
    }
    assert_eq!(invitation.parts.1.matches(script).count(), 3);
}
