//! Outgoing mail: composing the invitation, sign-in and renewal-notice messages from
//! their templates (`templates/mail/`), and sending them over SMTP or into the outbox
//! directory.

use super::codes::PlainCode;
use super::config::Config;
use super::email::EmailAddress;
use anyhow::{Context, Result};
use askama::Template;
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

/// Why a mail was not handed over, in plain words. A mail server's reply often quotes the
/// recipient (`550 5.1.1 <alice@example.com>: …`): shown (`Display`, `Debug`), as in a
/// log line, every address in it is masked; [`MailError::into_words`] gives the words
/// whole, for the coworker who sent the mail and knows whom to.
pub struct MailError(String);

impl MailError {
    pub fn into_words(self) -> String {
        self.0
    }
}

impl From<String> for MailError {
    fn from(words: String) -> Self {
        Self(words)
    }
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&super::email::mask_addresses(&self.0))
    }
}

impl std::fmt::Debug for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MailError({self})")
    }
}

/// The mailer plus the sender address, ready to send.
#[derive(Clone)]
pub struct Postman {
    mailer: Mailer,
    from: Mailbox,
    org_name: String,
    /// Where a code is typed: `{PUBLIC_URL}/code`.
    code_url: String,
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
        let mailer = if let Some(url) = &config.smtp_url {
            Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("LATCHKEY_SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(config.smtp_timeout))
                    .build(),
            )
        } else {
            super::files::private_dir(&config.outbox_dir).with_context(|| {
                format!(
                    "creating the outbox directory {}",
                    config.outbox_dir.display()
                )
            })?;
            Mailer::Outbox(Outbox::start(config.outbox_dir.clone()))
        };
        let from = config
            .mail_from
            .parse()
            .context("LATCHKEY_MAIL_FROM must be `addr` or `Name <addr>`")?;
        Ok(Self {
            mailer,
            from,
            org_name: config.org_name.clone(),
            code_url: format!("{}/code", config.public_url.trim_end_matches('/')),
            timeout: config.smtp_timeout,
        })
    }

    /// Sends a letter. The error is plain words for the coworker, without the message.
    pub async fn send(&self, letter: Letter) -> Result<(), MailError> {
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
        let result = match tokio::time::timeout(self.timeout, sending).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "{waited} within {} seconds.",
                self.timeout.as_secs()
            )),
        };
        super::metrics::mail_handed_over(result.is_ok());
        result.map_err(MailError)
    }

    /// The invitation an outside person receives.
    pub fn invitation(&self, invite: &Invitation<'_>) -> Result<Letter> {
        let to = mailbox(invite.to, invite.to_name)?;
        let mail = InvitationMail {
            subject: format!("{} invited you to {}", invite.inviter_name, self.org_name),
            greeting: invite.to_name.unwrap_or(invite.to.as_str()),
            inviter_name: invite.inviter_name,
            inviter_email: invite.inviter_email,
            org: &self.org_name,
            message: invite.message,
            url: invite.url,
            code: invite.code.map(PlainCode::expose),
            code_url: &self.code_url,
            expiry: expiry(invite.expires_at, invite.lifetime_secs),
        };
        self.letter(
            to,
            &mail.subject,
            InvitationText { mail: &mail },
            InvitationHtml { mail: &mail },
        )
    }

    /// The sign-in link a coworker asks for on `/login`.
    pub fn signin(
        &self,
        to: &EmailAddress,
        url: &str,
        code: Option<&PlainCode>,
        expires_at: i64,
        lifetime_secs: i64,
    ) -> Result<Letter> {
        let mail = SigninMail {
            subject: format!("Your sign-in link for {}", self.org_name),
            org: &self.org_name,
            to: to.as_str(),
            url,
            code: code.map(PlainCode::expose),
            code_url: &self.code_url,
            expiry: expiry(expires_at, lifetime_secs),
        };
        self.letter(
            mailbox(to, None)?,
            &mail.subject,
            SigninText { mail: &mail },
            SigninHtml { mail: &mail },
        )
    }

    /// Tells a coworker that the holder of their invitation asked for, and was sent, a
    /// new link. It carries no link of the invitee's, only the dashboard's.
    pub fn renewal_notice(&self, notice: &RenewalNotice<'_>) -> Result<Letter> {
        let to = mailbox(notice.to, notice.to_name)?;
        let invitee = match notice.invitee_name {
            Some(name) => format!("{name} ({})", notice.invitee),
            None => notice.invitee.to_owned(),
        };
        let mail = RenewalNoticeMail {
            subject: format!("{invitee} asked for a new link"),
            outcome: if notice.delivered {
                "A new link was sent to their address, and only to it; the old one stays unusable."
            } else {
                "Sending the new link failed; open the link's details to resend it."
            },
            invitee,
            details_url: notice.details_url,
        };
        self.letter(
            to,
            &mail.subject,
            RenewalNoticeText { mail: &mail },
            RenewalNoticeHtml { mail: &mail },
        )
    }

    /// Renders a mail's text and HTML parts into one message.
    fn letter(
        &self,
        to: Mailbox,
        subject: &str,
        text: impl Template,
        html: impl Template,
    ) -> Result<Letter> {
        let text = text.render().context("rendering a mail's text part")?;
        let html = html.render().context("rendering a mail's HTML part")?;
        #[cfg(test)]
        let parts = (subject.to_owned(), text.clone(), html.clone());
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
    /// The link's one-time code, for another device.
    pub code: Option<&'a PlainCode>,
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

/// "2026-11-25 14:03 UTC (in 24 hours)": when a link expires, and how far off that is.
fn expiry(expires_at: i64, lifetime_secs: i64) -> String {
    format!(
        "{} (in {})",
        crate::model::times::format_utc(expires_at),
        human_duration(lifetime_secs)
    )
}

// What each mail says, and its two parts: `templates/mail/NAME.txt` (never escaped) and
// `NAME.html` (escaped by [`MailHtml`]). Both parts of a mail read the same fields.

struct InvitationMail<'a> {
    subject: String,
    greeting: &'a str,
    inviter_name: &'a str,
    inviter_email: &'a str,
    org: &'a str,
    message: Option<&'a str>,
    url: &'a str,
    code: Option<String>,
    code_url: &'a str,
    expiry: String,
}

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    mail: &'a InvitationMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    mail: &'a InvitationMail<'a>,
}

struct SigninMail<'a> {
    subject: String,
    org: &'a str,
    to: &'a str,
    url: &'a str,
    code: Option<String>,
    code_url: &'a str,
    expiry: String,
}

#[derive(Template)]
#[template(path = "mail/signin.txt")]
struct SigninText<'a> {
    mail: &'a SigninMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/signin.html")]
struct SigninHtml<'a> {
    mail: &'a SigninMail<'a>,
}

struct RenewalNoticeMail<'a> {
    subject: String,
    invitee: String,
    outcome: &'static str,
    details_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/renewal-notice.txt")]
struct RenewalNoticeText<'a> {
    mail: &'a RenewalNoticeMail<'a>,
}

#[derive(Template)]
#[template(path = "mail/renewal-notice.html")]
struct RenewalNoticeHtml<'a> {
    mail: &'a RenewalNoticeMail<'a>,
}

/// How every `.html` mail template escapes what it is given (`askama.toml` names it),
/// for element content and attribute values alike. askama's own HTML escaper writes
/// numeric references (`&#60;`); this one writes the named ones mail has always carried.
#[derive(Clone, Copy)]
pub struct MailHtml;

impl askama::filters::Escaper for MailHtml {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut out: W, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            out.write_str(&rest[..at])?;
            out.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        out.write_str(rest)
    }
}

#[cfg(test)]
mod tests;
