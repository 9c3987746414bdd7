//! The `latchkey` command line: `serve` (the default), `coworker add|list|remove`, and
//! `signin-link`.

use anyhow::{bail, Result};
use app::server::config::Config;
use app::server::coworkers::{self, Added, Changed, Role};
use app::server::db;
use app::server::email::EmailAddress;
use app::server::links;

pub const USAGE: &str = "\
Usage:
  latchkey [serve]                          serve the web app
  latchkey coworker add EMAIL [--name NAME] [--admin]
                                            add a coworker (the first one is an admin)
  latchkey coworker list                    list active coworkers
  latchkey coworker remove EMAIL            remove a coworker and end their sessions
  latchkey coworker role EMAIL admin|coworker
                                            change a coworker's role
  latchkey signin-link EMAIL                print a one-time sign-in URL for a coworker
  latchkey precompress                      write the built front end's .br and .gz files
";

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Help,
    CoworkerAdd {
        email: String,
        name: Option<String>,
        admin: bool,
    },
    CoworkerList,
    CoworkerRemove {
        email: String,
    },
    CoworkerRole {
        email: String,
        role: String,
    },
    SigninLink {
        email: String,
    },
    Precompress,
}

impl Command {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        // `--admin` may stand anywhere after `coworker add`.
        let admin = args.starts_with(&["coworker", "add"]) && args.contains(&"--admin");
        args.retain(|arg| !admin || *arg != "--admin");
        Ok(match args.as_slice() {
            [] | ["serve"] => Self::Serve,
            ["help" | "--help" | "-h"] => Self::Help,
            ["coworker", "add", email] => Self::CoworkerAdd {
                email: email.to_string(),
                name: None,
                admin,
            },
            ["coworker", "add", email, "--name", name]
            | ["coworker", "add", "--name", name, email] => Self::CoworkerAdd {
                email: email.to_string(),
                name: Some(name.to_string()),
                admin,
            },
            ["coworker", "list"] => Self::CoworkerList,
            ["coworker", "remove", email] => Self::CoworkerRemove {
                email: email.to_string(),
            },
            ["coworker", "role", email, role] => Self::CoworkerRole {
                email: email.to_string(),
                role: role.to_string(),
            },
            ["signin-link", email] => Self::SigninLink {
                email: email.to_string(),
            },
            ["precompress"] => Self::Precompress,
            _ => bail!("unrecognised arguments\n\n{USAGE}"),
        })
    }
}

const LAST_ADMIN: &str = "that would leave no active admin; make another coworker an admin first \
     (latchkey coworker role EMAIL admin)";

fn email(input: &str) -> Result<EmailAddress> {
    EmailAddress::parse("email", input).map_err(|error| anyhow::anyhow!("{error}"))
}

/// Runs a command other than `serve`; what it prints is its answer.
pub async fn run(command: Command, config: &Config) -> Result<()> {
    let pool = db::connect(
        &config.database_url,
        config.db_busy_timeout,
        config.durability,
    )
    .await?;
    match command {
        Command::Serve | Command::Help | Command::Precompress => {
            unreachable!("handled by main")
        }
        Command::CoworkerAdd {
            email: input,
            name,
            admin,
        } => {
            let email = email(&input)?;
            let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            let role = if admin { Role::Admin } else { Role::Coworker };
            match coworkers::add_as(&pool, &email, name, role).await? {
                Added::Created => println!("Added coworker {email}."),
                Added::Reactivated => println!("Reactivated coworker {email}."),
                Added::AlreadyActive => println!("{email} is already a coworker."),
            }
        }
        Command::CoworkerList => {
            for coworker in coworkers::list(&pool).await? {
                let role = if coworker.is_admin {
                    "admin"
                } else {
                    "coworker"
                };
                println!(
                    "{}\t{}\t{role}",
                    coworker.email,
                    coworker.name.as_deref().unwrap_or("-")
                );
            }
        }
        Command::CoworkerRemove { email: input } => {
            let email = email(&input)?;
            match coworkers::remove(&pool, &email).await? {
                Changed::Done => println!("Removed coworker {email}; their sessions have ended."),
                Changed::NotFound => bail!("{email} is not an active coworker"),
                Changed::LastAdmin => bail!(LAST_ADMIN),
            }
        }
        Command::CoworkerRole { email: input, role } => {
            let email = email(&input)?;
            let Some(role) = Role::parse(&role) else {
                bail!("the role must be admin or coworker, not {role:?}");
            };
            let Some(id) = coworkers::active_id(&pool, &email).await? else {
                bail!("{email} is not an active coworker");
            };
            match coworkers::set_role(&pool, id, role).await? {
                Changed::Done => println!("{email} is now {}.", role.as_str()),
                Changed::NotFound => bail!("{email} is not an active coworker"),
                Changed::LastAdmin => bail!(LAST_ADMIN),
            }
        }
        Command::SigninLink { email: input } => {
            let email = email(&input)?;
            let lifetime = config.signin_link_lifetime.as_secs() as i64;
            match links::create_signin(&pool, &config.public_url, lifetime, &email)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?
            {
                // The one place a link is printed: this is how the first coworker gets in.
                Some((url, _, _)) => println!("{url}"),
                None => bail!(
                    "{email} is not a coworker; add them with `latchkey coworker add {email}`"
                ),
            }
        }
    }
    pool.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        Command::parse(&args)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse("").unwrap(), Command::Serve);
        assert_eq!(parse("serve").unwrap(), Command::Serve);
        assert_eq!(
            parse("coworker add a@example.com --name Ann").unwrap(),
            Command::CoworkerAdd {
                email: "a@example.com".into(),
                name: Some("Ann".into()),
                admin: false,
            }
        );
        assert_eq!(
            parse("coworker add --admin a@example.com --name Ann").unwrap(),
            Command::CoworkerAdd {
                email: "a@example.com".into(),
                name: Some("Ann".into()),
                admin: true,
            }
        );
        assert!(parse("coworker list --admin").is_err());
        assert_eq!(
            parse("coworker role a@example.com admin").unwrap(),
            Command::CoworkerRole {
                email: "a@example.com".into(),
                role: "admin".into(),
            }
        );
        assert!(parse("coworker role a@example.com").is_err());
        assert_eq!(parse("coworker list").unwrap(), Command::CoworkerList);
        assert_eq!(
            parse("signin-link a@example.com").unwrap(),
            Command::SigninLink {
                email: "a@example.com".into()
            }
        );
        assert_eq!(parse("precompress").unwrap(), Command::Precompress);
        assert!(parse("coworker").is_err());
        assert!(parse("signin-link").is_err());
    }
}
