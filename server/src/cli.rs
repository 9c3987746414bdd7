//! The `latchkey` command line, parsed by clap: `serve` (the default), `coworker
//! add|list|remove|role`, `app add|list|remove`, `signin-link`, `backup`, `copy-db` and
//! `precompress`; what each does is in [`crate::commands`].
//!
//! Settings stay where the server reads them, in `LATCHKEY_*` environment variables
//! ([`Config::from_env`](app::server::config::Config::from_env)); `latchkey serve --help`
//! lists them.

use anyhow::Result;
use app::server::coworkers::Role;
use app::server::email::EmailAddress;
use clap::{Parser, Subcommand, ValueEnum};

/// Every variable [`Config`](app::server::config::Config) reads, and the ones the web
/// framework and the log read.
const ENVIRONMENT: &str = "\
Environment (none is required; docs/configuration.md says more):
  LATCHKEY_DATABASE_URL              sqlite://relative/path.db, sqlite:///absolute/path.db
                                     or postgres://user:password@host/database
                                     [default: sqlite://data/latchkey.db]
  LATCHKEY_PUBLIC_URL                where people reach Latchkey; links point here
                                     [default: http://127.0.0.1:3000]
  LATCHKEY_SMTP_URL                  smtp://… or smtps://…; unset: mail goes to the outbox
  LATCHKEY_MAIL_FROM                 sender, addr or Name <addr>
                                     [default: Latchkey <latchkey@localhost>]
  LATCHKEY_OUTBOX_DIR                one .eml file per mail [default: data/outbox]
  LATCHKEY_CODE_KEY_FILE             the secret one-time codes are stored under; made
                                     on first start [default: code.key beside the database]
  LATCHKEY_OUTBOX_RETENTION_MINUTES  outbox files older are deleted
                                     [default: LATCHKEY_MAX_LINK_MINUTES]
  LATCHKEY_ORG_NAME                  organisation name in mails [default: Latchkey]
  LATCHKEY_MAX_LINK_MINUTES          longest expiry a coworker may choose [default: 10080]
  LATCHKEY_SIGNIN_LINK_MINUTES       lifetime of coworker sign-in links [default: 15]
  LATCHKEY_COWORKER_SESSION_MINUTES  [default: 720]
  LATCHKEY_INVITEE_SESSION_MINUTES   longest session an invitation may grant [default: 43200]
  LATCHKEY_COWORKER_IDLE_MINUTES     [default: 120]
  LATCHKEY_INVITEE_IDLE_MINUTES      [default: 1440]
  LATCHKEY_DEAD_LINK_RETENTION_MINUTES
                                     how long dead links keep their token hash [default: 43200]
  LATCHKEY_SMTP_TIMEOUT_SECONDS      the most one mail may take [default: 10]
  LATCHKEY_SQLITE_SYNCHRONOUS        normal or full [default: normal]
  LATCHKEY_DB_BUSY_TIMEOUT_MS        wait for another writer's lock [default: 5000]
  LATCHKEY_RATE_LINKS_PER_MINUTE     per client network [default: 30]
  LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE
                                     per client network [default: 10]
  LATCHKEY_RATE_SIGNIN_PER_ADDRESS_PER_HOUR
                                     per address and client network [default: 5]
  LATCHKEY_RATE_SIGNIN_MAILS_PER_ADDRESS_PER_HOUR
                                     per address, from anywhere [default: 10]
  LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE
                                     [default: 60]
  LATCHKEY_TRUST_FORWARDED_FOR       true behind your own proxy only [default: false]
  LATCHKEY_TRUSTED_PROXIES           CIDRs whose forwarded headers the gate believes
                                     [default: 127.0.0.0/8,::1/128]
  LATCHKEY_COOKIE_DOMAIN             gate cookie for this domain and its subdomains, so
                                     gated applications receive it [default: host-only]
  LATCHKEY_GATE_CACHE                on, or off: read the database for every gate
                                     decision [default: on]
  LATCHKEY_GATE_CACHE_SESSIONS       the most sessions the gate remembers
                                     [default: 1000000]
  LATCHKEY_IPV6_PREFIX               IPv6 clients counted per network [default: 64]
  LATCHKEY_READY_FILE                serve writes the address it listens on here
  LATCHKEY_METRICS                   true: Prometheus metrics at /metrics [default: false]
  LATCHKEY_METRICS_ADDR              serve /metrics on this address only, e.g.
                                     127.0.0.1:9100 (implies LATCHKEY_METRICS)
  LATCHKEY_LOG_FORMAT                text or json (one object per line) [default: text]
  LEPTOS_SITE_ADDR                   listen address [default: 127.0.0.1:3000]
  LEPTOS_SITE_ROOT                   the built front end [default: target/site]
  RUST_LOG                           log filter [default: info]";

/// Where the commands other than `serve` find their settings.
const SAME_ENVIRONMENT: &str = "\
Reads the same LATCHKEY_* environment variables as the server, LATCHKEY_DATABASE_URL
above all; `latchkey serve --help` lists them.";

/// `copy-db`'s help: where else its target can come from, and the same environment.
const COPY_DB_HELP: &str = "\
The target URL holds the database's password: LATCHKEY_COPY_TO=postgres://… or
`--to -` (the URL on standard input) keep it out of the process list, where
`--to postgres://…` puts it for every user of this machine to read.

Reads the same LATCHKEY_* environment variables as the server, LATCHKEY_DATABASE_URL
above all; `latchkey serve --help` lists them.";

/// Magic-link access: serve the web app, and manage who may issue links.
#[derive(Debug, Parser)]
#[command(name = "latchkey", bin_name = "latchkey", version, after_help = SAME_ENVIRONMENT)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

impl Cli {
    /// The command to run: `serve` when none is given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the web app (the default); runs the database migrations first
    #[command(after_help = ENVIRONMENT)]
    Serve,
    /// Add, list and remove coworkers, or change their role
    #[command(subcommand, after_help = SAME_ENVIRONMENT)]
    Coworker(CoworkerCommand),
    /// Register, list and remove the applications behind the gate
    #[command(subcommand, name = "app", after_help = SAME_ENVIRONMENT)]
    App(AppCommand),
    /// Print only a one-time coworker sign-in URL on stdout (the way in without SMTP)
    #[command(after_help = SAME_ENVIRONMENT)]
    SigninLink {
        /// The coworker's email address
        #[arg(value_name = "EMAIL", value_parser = email)]
        email: EmailAddress,
    },
    /// Write a consistent copy of the SQLite database to a new FILE while Latchkey runs
    #[command(after_help = SAME_ENVIRONMENT)]
    Backup {
        /// The copy to write; it must not exist yet
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Copy this SQLite installation into an empty PostgreSQL database, and check it
    #[command(name = "copy-db", after_help = COPY_DB_HELP)]
    CopyDb {
        /// The PostgreSQL database to copy into (postgres://USER:PASSWORD@HOST/DATABASE);
        /// it must exist and be empty. Written here, a password is visible to everyone on
        /// this machine (in `ps`, /proc): set LATCHKEY_COPY_TO instead, or give `--to -`
        /// and write the URL on standard input
        #[arg(
            long,
            value_name = "URL",
            env = "LATCHKEY_COPY_TO",
            hide_env_values = true
        )]
        to: String,
    },
    /// Write the brotli and gzip files of the built front end
    Precompress,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum CoworkerCommand {
    /// Add a coworker; the first one, and any added with --admin, is an admin
    Add {
        /// The coworker's email address
        #[arg(value_name = "EMAIL", value_parser = email)]
        email: EmailAddress,
        /// The name shown on the dashboard and in mail
        #[arg(long)]
        name: Option<String>,
        /// Make them an admin, who also manages coworkers
        #[arg(long)]
        admin: bool,
    },
    /// List active coworkers: email, name and role, tab-separated
    List,
    /// Remove a coworker: end their sessions and cancel their sign-in links
    Remove {
        /// The coworker's email address
        #[arg(value_name = "EMAIL", value_parser = email)]
        email: EmailAddress,
    },
    /// Change a coworker's role; never leaves the organisation without an active admin
    Role {
        /// The coworker's email address
        #[arg(value_name = "EMAIL", value_parser = email)]
        email: EmailAddress,
        #[arg(value_enum)]
        role: RoleName,
    },
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum AppCommand {
    /// Register an application: every URL under its base URL is behind the gate
    Add {
        /// Its name, as invitations and the timeline show it (e.g. Wiki)
        name: String,
        /// Its base URL: http or https, a host, an optional path prefix
        /// (e.g. https://wiki.example.com)
        url: String,
    },
    /// List the applications: name and base URL, tab-separated
    List,
    /// Remove an application: no session reaches it any more
    Remove {
        /// Its name
        name: String,
    },
}

/// A role as written on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleName {
    /// Issues links and also manages coworkers
    Admin,
    /// Issues links
    Coworker,
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Coworker => Role::Coworker,
        }
    }
}

/// An address is parsed where it is typed, so a malformed one is a usage error.
fn email(input: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse("email", input).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::server::config::Config;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        let args = std::iter::once("latchkey").chain(line.split_whitespace());
        Cli::try_parse_from(args).map(Cli::into_command)
    }

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse("email", text).unwrap()
    }

    fn refused(line: &str) -> ErrorKind {
        parse(line).expect_err(line).kind()
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("").unwrap(), Command::Serve);
        assert_eq!(parse("serve").unwrap(), Command::Serve);
        assert_eq!(
            parse("coworker add a@example.com --name Ann").unwrap(),
            Command::Coworker(CoworkerCommand::Add {
                email: address("a@example.com"),
                name: Some("Ann".into()),
                admin: false,
            })
        );
        assert_eq!(
            parse("coworker add --admin A@Example.com --name Ann").unwrap(),
            Command::Coworker(CoworkerCommand::Add {
                email: address("a@example.com"),
                name: Some("Ann".into()),
                admin: true,
            })
        );
        assert_eq!(
            parse("coworker role a@example.com admin").unwrap(),
            Command::Coworker(CoworkerCommand::Role {
                email: address("a@example.com"),
                role: RoleName::Admin,
            })
        );
        assert_eq!(
            parse("coworker role a@example.com coworker").unwrap(),
            Command::Coworker(CoworkerCommand::Role {
                email: address("a@example.com"),
                role: RoleName::Coworker,
            })
        );
        assert_eq!(
            parse("coworker list").unwrap(),
            Command::Coworker(CoworkerCommand::List)
        );
        assert_eq!(
            parse("coworker remove a@example.com").unwrap(),
            Command::Coworker(CoworkerCommand::Remove {
                email: address("a@example.com")
            })
        );
        assert_eq!(
            parse("signin-link a@example.com").unwrap(),
            Command::SigninLink {
                email: address("a@example.com")
            }
        );
        assert_eq!(parse("precompress").unwrap(), Command::Precompress);
    }

    #[test]
    fn malformed_command_lines_are_refused_as_usage_errors() {
        assert_eq!(refused("coworker list --admin"), ErrorKind::UnknownArgument);
        assert_eq!(
            refused("coworker role a@example.com"),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            refused("coworker role a@example.com owner"),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            refused("coworker"),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(refused("signin-link"), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            refused("signin-link not-an-address"),
            ErrorKind::ValueValidation
        );
        assert_eq!(refused("launch"), ErrorKind::InvalidSubcommand);
        assert_eq!(refused("--help"), ErrorKind::DisplayHelp);
        assert_eq!(refused("--version"), ErrorKind::DisplayVersion);
    }

    #[test]
    fn serve_help_lists_every_variable_the_configuration_reads() {
        let asked = std::cell::RefCell::new(Vec::new());
        Config::from_lookup(|key| {
            asked.borrow_mut().push(key.to_owned());
            None
        })
        .unwrap();
        let asked = asked.into_inner();
        assert!(asked.len() > 20, "{asked:?}");
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for key in asked {
            let listed = help
                .lines()
                .any(|line| line.split_whitespace().next() == Some(key.as_str()));
            assert!(listed, "{key} missing from:\n{help}");
        }
    }
}
