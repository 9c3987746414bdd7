//! Outgoing mail: composing the invitation and sign-in messages, and sending them over
//! SMTP or into the outbox directory.

use super::config::Config;
use super::email::EmailAddress;
use anyhow::{Context, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Each message becomes an `.eml` file in a directory.
    Outbox(Outbox),
}

/// The file outbox: one thread writes every `.eml` file, one after another. Creating
/// files in one directory from many threads at once makes them queue on the directory's
/// lock in the kernel, which under load cost more than the writing; one writer never
/// waits for another.
#[derive(Clone)]
pub struct Outbox {
    files: std::sync::mpsc::Sender<(Vec<u8>, tokio::sync::oneshot::Sender<std::io::Result<()>>)>,
}

impl Outbox {
    pub fn start(dir: std::path::PathBuf) -> Self {
        let (files, queue) = std::sync::mpsc::channel::<(
            Vec<u8>,
            tokio::sync::oneshot::Sender<std::io::Result<()>>,
        )>();
        std::thread::Builder::new()
            .name("outbox".into())
            .spawn(move || {
                // Ends when the last Postman is dropped.
                for (bytes, written) in queue {
                    let file = dir.join(Self::file_name());
                    let _ = written.send(super::files::write_private(&file, &bytes));
                }
            })
            .expect("starting the outbox thread");
        Self { files }
    }

    /// Time first, so a listing sorts by when mail was written; then 64 random bits.
    fn file_name() -> String {
        use rand::TryRngCore;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mut random = [0u8; 8];
        rand::rngs::OsRng
            .try_fill_bytes(&mut random)
            .expect("the operating system's random number generator failed");
        format!("{nanos}-{:016x}.eml", u64::from_be_bytes(random))
    }

    async fn send(&self, message: &Message) -> Result<(), String> {
        let (written, done) = tokio::sync::oneshot::channel();
        let closed = || "The outbox is closed; the server is shutting down.".to_owned();
        self.files
            .send((message.formatted(), written))
            .map_err(|_| closed())?;
        done.await.map_err(|_| closed())?.map_err(|error| {
            format!(
                "The outbox could not write the mail file: {}.",
                error.kind()
            )
        })
    }
}

/// The mailer plus the sender address, ready to send.
#[derive(Clone)]
pub struct Postman {
    mailer: Mailer,
    from: Mailbox,
    org_name: String,
    /// The most a whole send may take, however slowly a server answers.
    timeout: std::time::Duration,
}

/// A composed message. Its body holds a live link, so it has no `Debug`.
pub struct Letter {
    message: Message,
    /// The parts as written, for the snapshot tests.
    #[cfg(test)]
    parts: (String, String, String),
}

impl Postman {
    pub fn from_config(config: &Config) -> Result<Self> {
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("LATCHKEY_SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(config.smtp_timeout))
                    .build(),
            ),
            None => {
                super::files::private_dir(&config.outbox_dir).with_context(|| {
                    format!(
                        "creating the outbox directory {}",
                        config.outbox_dir.display()
                    )
                })?;
                Mailer::Outbox(Outbox::start(config.outbox_dir.clone()))
            }
        };
        let from = config
            .mail_from
            .parse()
            .context("LATCHKEY_MAIL_FROM must be `addr` or `Name <addr>`")?;
        Ok(Self {
            mailer,
            from,
            org_name: config.org_name.clone(),
            timeout: config.smtp_timeout,
        })
    }

    /// Sends a letter. The error is plain words for the coworker, without the message.
    pub async fn send(&self, letter: Letter) -> Result<(), String> {
        let sending = async {
            match &self.mailer {
                Mailer::Smtp(smtp) => smtp
                    .send(letter.message)
                    .await
                    .map(drop)
                    .map_err(|e| format!("The mail server did not accept the message: {e}")),
                Mailer::Outbox(outbox) => outbox.send(&letter.message).await,
            }
        };
        let waited = match &self.mailer {
            Mailer::Smtp(_) => "The mail server did not answer",
            Mailer::Outbox(_) => "The outbox did not take the mail",
        };
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{waited} within {} seconds.",
                self.timeout.as_secs()
            )),
        }
    }

    /// The invitation an outside person receives.
    pub fn invitation(&self, invite: &Invitation<'_>) -> Result<Letter> {
        let to = mailbox(invite.to, invite.to_name)?;
        let greeting = invite.to_name.unwrap_or(invite.to.as_str());
        let org = &self.org_name;
        let subject = format!("{} invited you to {org}", invite.inviter_name);
        let expiry = format!(
            "{} (in {})",
            crate::model::format_utc(invite.expires_at),
            human_duration(invite.lifetime_secs)
        );

        let mut text = format!(
            "Hello {greeting},\n\n{} ({}) has invited you to {org}.\n\n",
            invite.inviter_name, invite.inviter_email
        );
        let mut html_message = String::new();
        if let Some(message) = invite.message {
            text.push_str(&format!("Their message:\n{message}\n\n"));
            html_message = format!(
                r#"<p style="margin:0 0 16px;padding:12px 16px;border-left:4px solid #c7d2fe;background:#f5f7ff;white-space:pre-wrap">{}</p>"#,
                escape(message)
            );
        }
        text.push_str(&format!(
            "Open this link and press Continue to sign in:\n{}\n\n\
             The link works once and expires at {expiry}.\n\
             If you were not expecting this invitation, you can ignore this email.\n",
            invite.url
        ));

        let html = page(
            &subject,
            &format!(
                r#"<p style="margin:0 0 16px">Hello {},</p>
<p style="margin:0 0 16px"><strong>{}</strong> ({}) has invited you to <strong>{}</strong>.</p>
{html_message}
{}
<p style="margin:0 0 16px;color:#4b5563;font-size:14px">The link works once and expires at {}.<br>If you were not expecting this invitation, you can ignore this email.</p>"#,
                escape(greeting),
                escape(invite.inviter_name),
                escape(invite.inviter_email),
                escape(org),
                button(invite.url, "Open your invitation"),
                escape(&expiry),
            ),
        );
        self.letter(to, subject, text, html)
    }

    /// The sign-in link a coworker asks for on `/login`.
    pub fn signin(
        &self,
        to: &EmailAddress,
        url: &str,
        expires_at: i64,
        lifetime_secs: i64,
    ) -> Result<Letter> {
        let org = &self.org_name;
        let subject = format!("Your sign-in link for {org}");
        let expiry = format!(
            "{} (in {})",
            crate::model::format_utc(expires_at),
            human_duration(lifetime_secs)
        );
        let text = format!(
            "Someone (hopefully you) asked to sign in to {org} as {to}.\n\n\
             Open this link and press Continue to sign in:\n{url}\n\n\
             The link works once and expires at {expiry}.\n\
             If you did not ask for it, ignore this email; nobody can sign in without it.\n"
        );
        let html = page(
            &subject,
            &format!(
                r#"<p style="margin:0 0 16px">Someone (hopefully you) asked to sign in to <strong>{}</strong> as {}.</p>
{}
<p style="margin:0 0 16px;color:#4b5563;font-size:14px">The link works once and expires at {}.<br>If you did not ask for it, ignore this email; nobody can sign in without it.</p>"#,
                escape(org),
                escape(to.as_str()),
                button(url, "Sign in"),
                escape(&expiry),
            ),
        );
        self.letter(mailbox(to, None)?, subject, text, html)
    }

    /// Tells a coworker that the holder of their invitation asked for, and was sent, a
    /// new link. It carries no link of the invitee's, only the dashboard's.
    pub fn renewal_notice(&self, notice: &RenewalNotice<'_>) -> Result<Letter> {
        let to = mailbox(notice.to, notice.to_name)?;
        let invitee = match notice.invitee_name {
            Some(name) => format!("{name} ({})", notice.invitee),
            None => notice.invitee.to_owned(),
        };
        let subject = format!("{invitee} asked for a new link");
        let outcome = if notice.delivered {
            "A new link was sent to their address, and only to it; the old one stays unusable."
        } else {
            "Sending the new link failed; open the link's details to resend it."
        };
        let text = format!(
            "{invitee} opened an invitation you sent that had expired or was already used, \
             and asked for a new one.\n\n{outcome}\n\n\
             To see its history or revoke it:\n{}\n\n\
             You can turn off new-link requests for an invitation on that page.\n",
            notice.details_url
        );
        let html = page(
            &subject,
            &format!(
                r#"<p style="margin:0 0 16px"><strong>{}</strong> opened an invitation you sent that had expired or was already used, and asked for a new one.</p>
<p style="margin:0 0 16px">{}</p>
{}
<p style="margin:0 0 16px;color:#4b5563;font-size:14px">You can turn off new-link requests for an invitation on that page.</p>"#,
                escape(&invitee),
                escape(outcome),
                button(notice.details_url, "See the invitation"),
            ),
        );
        self.letter(to, subject, text, html)
    }

    fn letter(&self, to: Mailbox, subject: String, text: String, html: String) -> Result<Letter> {
        #[cfg(test)]
        let parts = (subject.clone(), text.clone(), html.clone());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .context("composing a message")?;
        Ok(Letter {
            message,
            #[cfg(test)]
            parts,
        })
    }
}

/// What an invitation says.
pub struct Invitation<'a> {
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    pub inviter_name: &'a str,
    pub inviter_email: &'a str,
    pub message: Option<&'a str>,
    pub url: &'a str,
    pub expires_at: i64,
    pub lifetime_secs: i64,
}

/// What a renewal notice says.
pub struct RenewalNotice<'a> {
    pub to: &'a EmailAddress,
    pub to_name: Option<&'a str>,
    pub invitee: &'a str,
    pub invitee_name: Option<&'a str>,
    pub delivered: bool,
    pub details_url: &'a str,
}

fn mailbox(address: &EmailAddress, name: Option<&str>) -> Result<Mailbox> {
    let address = address
        .as_str()
        .parse()
        .context("an address that passed our parser was refused by lettre")?;
    Ok(Mailbox::new(name.map(str::to_owned), address))
}

/// "15 minutes", "1 hour", "24 hours", "7 days".
pub fn human_duration(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs % 86_400 == 0 && secs >= 7 * 86_400 {
        plural(secs / 86_400, "day")
    } else if secs % 3600 == 0 {
        plural(secs / 3600, "hour")
    } else {
        plural((secs + 59) / 60, "minute")
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A button made of a table cell, which Outlook and other table-minded clients draw too,
/// with the address spelled out below for clients that show no links.
fn button(url: &str, label: &str) -> String {
    format!(
        r##"<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:24px 0"><tr><td bgcolor="#3730a3" style="border-radius:6px"><a href="{0}" style="display:inline-block;padding:12px 20px;color:#ffffff;text-decoration:none;font-weight:600">{1}</a></td></tr></table>
<p style="margin:0 0 16px;font-size:13px;color:#4b5563">Or paste this address into your browser:<br><span style="word-break:break-all">{0}</span></p>"##,
        escape(url),
        escape(label)
    )
}

/// The frame every mail shares: a centred 560-pixel column built from tables with inline
/// styles (the layout mail clients reliably keep), and the title as the document title.
fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:#f3f4f6"><tr><td align="center" style="padding:24px 12px">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:560px;background:#ffffff;border-radius:8px"><tr><td style="padding:32px;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;font-size:16px;color:#111827;line-height:1.5">
{body}
</td></tr></table>
</td></tr></table>
</body></html>"#,
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(900), "15 minutes");
        assert_eq!(human_duration(3600), "1 hour");
        assert_eq!(human_duration(86_400), "24 hours");
        assert_eq!(human_duration(604_800), "7 days");
    }

    fn postman() -> Postman {
        let outbox = std::env::temp_dir().join("latchkey-mail-snapshots");
        let config = Config::from_lookup(|key| match key {
            "LATCHKEY_ORG_NAME" => Some("Acme Research".into()),
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
                expires_at: 1_795_615_380,
                lifetime_secs: 86_400,
            })
            .unwrap();
        let (_, text, html) = &letter.parts;
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
        let letter = postman().signin(&to, &url, 1_795_615_380, 900).unwrap();
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
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<b a="1">'&"#),
            "&lt;b a=&quot;1&quot;&gt;&#39;&amp;"
        );
    }
}
