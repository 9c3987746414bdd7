//! What each command of the `latchkey` command line (`crate::cli`) does: [`run`] hands a
//! parsed command to its work. `serve` and `precompress` are the crate root's; the rest are
//! here: the coworker, application and sign-in-link commands, and the database's `backup`
//! and `copy-db`. Each of these opens the configured database and closes it again.

use crate::cli::{AppCommand, Command, CoworkerCommand};
use anyhow::{bail, Context, Result};
use app::server::applications;
use app::server::config::Config;
use app::server::coworkers::{self, Added, Changed, Role};
use app::server::db;
use app::server::email::EmailAddress;
use app::server::links;
use sqlx::AnyPool;
use std::path::Path;

const LAST_ADMIN: &str = "that would leave no active admin; make another coworker an admin first \
     (latchkey coworker role EMAIL admin)";

/// Runs a command; what it prints on stdout is its answer, and an error is for stderr.
pub async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve => {
            let config = Config::from_env()?;
            crate::init_tracing(config.log_format);
            crate::serve(config).await
        }
        Command::CopyDb { to } => {
            let to = if to == "-" {
                read_target_url(std::io::stdin().lock())?
            } else {
                to
            };
            copy_db(&Config::from_env()?, &to).await
        }
        Command::Backup { file } => {
            on_database(async |pool, config| backup(pool, config, &file).await).await
        }
        Command::Precompress => {
            let files = crate::precompress_site()?;
            println!("compressed {files} files (brotli, gzip)");
            Ok(())
        }
        Command::Coworker(command) => {
            on_database(async |pool, _| coworker(pool, command).await).await
        }
        Command::App(command) => on_database(async |pool, _| app(pool, command).await).await,
        Command::SigninLink { email } => {
            on_database(async |pool, config| signin_link(pool, config, &email).await).await
        }
    }
}

/// Runs `work` on the configured database (migrated first), and closes it whatever
/// `work` answers.
pub async fn on_database<T>(work: impl AsyncFnOnce(&AnyPool, &Config) -> Result<T>) -> Result<T> {
    let config = Config::from_env()?;
    let pool = connect(&config).await?;
    let result = work(&pool, &config).await;
    pool.close().await;
    result
}

async fn connect(config: &Config) -> Result<AnyPool> {
    db::connect(
        &config.database_url,
        config.db_busy_timeout,
        config.durability,
    )
    .await
}

/// `copy-db --to -`: the target URL, the first line of `input` (standard input), so that
/// its password never reaches the process list.
pub fn read_target_url(mut input: impl std::io::BufRead) -> Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the target URL from standard input")?;
    let url = line.trim();
    if url.is_empty() {
        bail!("--to - reads the target URL from standard input, which gave none");
    }
    Ok(url.to_owned())
}

/// `copy-db --to URL`: this SQLite installation into the empty PostgreSQL database at `to`.
pub async fn copy_db(config: &Config, to: &str) -> Result<()> {
    if db::Engine::of_url(&config.database_url) != Some(db::Engine::Sqlite) {
        bail!("copy-db copies a SQLite installation: LATCHKEY_DATABASE_URL must be sqlite://…");
    }
    if db::Engine::of_url(to) != Some(db::Engine::Postgres) {
        bail!("--to must be a postgres:// or postgresql:// URL");
    }
    let source = connect(config).await?;
    let target = match db::connect(to, config.db_busy_timeout, config.durability).await {
        Ok(target) => target,
        Err(error) => {
            source.close().await;
            return Err(error);
        }
    };
    let copied = app::server::store::copy::sqlite_to_postgres(&source, &target).await;
    source.close().await;
    target.close().await;
    for (table, rows) in copied? {
        println!("{table}\t{rows}");
    }
    println!(
        "Copied and counted. Serve from PostgreSQL with the same code key ({}), \
         or codes already mailed stop working.",
        config.code_key_file.display()
    );
    Ok(())
}

/// `backup FILE`: a consistent copy of the SQLite database.
pub async fn backup(pool: &AnyPool, config: &Config, file: &Path) -> Result<()> {
    let bytes = db::backup(pool, file).await?;
    println!("wrote {} ({bytes} bytes)", file.display());
    println!(
        "The code key {} is not in it: keep a copy of that file with the backup \
         (without it, codes already mailed stop working; their links still work).",
        config.code_key_file.display()
    );
    Ok(())
}

pub async fn coworker(pool: &AnyPool, command: CoworkerCommand) -> Result<()> {
    match command {
        CoworkerCommand::Add { email, name, admin } => {
            let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty());
            let role = if admin { Role::Admin } else { Role::Coworker };
            match coworkers::add_as(pool, &email, name, role).await? {
                Added::Created => println!("Added coworker {email}."),
                Added::Reactivated => println!("Reactivated coworker {email}."),
                Added::AlreadyActive => println!("{email} is already a coworker."),
            }
        }
        CoworkerCommand::List => {
            for coworker in coworkers::list(pool).await? {
                let role = Role::of(coworker.is_admin).as_str();
                println!(
                    "{}\t{}\t{role}",
                    coworker.email,
                    coworker.name.as_deref().unwrap_or("-")
                );
            }
        }
        CoworkerCommand::Remove { email } => match coworkers::remove(pool, &email).await? {
            Changed::Done => println!("Removed coworker {email}; their sessions have ended."),
            Changed::NotFound => bail!("{email} is not an active coworker"),
            Changed::LastAdmin => bail!(LAST_ADMIN),
        },
        CoworkerCommand::Role { email, role } => {
            let role = Role::from(role);
            let Some(id) = coworkers::active_id(pool, &email).await? else {
                bail!("{email} is not an active coworker");
            };
            match coworkers::set_role(pool, id, role).await? {
                Changed::Done => println!("{email} is now {}.", role.as_str()),
                Changed::NotFound => bail!("{email} is not an active coworker"),
                Changed::LastAdmin => bail!(LAST_ADMIN),
            }
        }
    }
    Ok(())
}

pub async fn app(pool: &AnyPool, command: AppCommand) -> Result<()> {
    // The domain's refusals are written for people; say them as they are.
    let said = |error: app::error::AppError| anyhow::anyhow!("{error}");
    match command {
        AppCommand::Add { name, url } => {
            let added = applications::add(pool, &name, &url).await.map_err(said)?;
            println!("Added {} at {}.", added.name, added.url);
        }
        AppCommand::List => {
            for app in applications::list(pool).await.map_err(said)? {
                println!("{}\t{}", app.name, app.url);
            }
        }
        AppCommand::Remove { name } => match applications::remove(pool, &name).await {
            Ok(()) => println!("Removed {name}; no session reaches it any more."),
            Err(app::error::AppError::NotFound) => bail!("no application is named {name}"),
            Err(error) => return Err(said(error)),
        },
    }
    Ok(())
}

pub async fn signin_link(pool: &AnyPool, config: &Config, email: &EmailAddress) -> Result<()> {
    let lifetime = config.signin_link_lifetime.as_secs() as i64;
    match links::create_signin(pool, &config.public_url, lifetime, email)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?
    {
        // The one place a link is printed: this is how the first coworker gets in.
        Some((url, _, _)) => println!("{url}"),
        None => {
            bail!("{email} is not a coworker; add them with `latchkey coworker add {email}`")
        }
    }
    Ok(())
}
