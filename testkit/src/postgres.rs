//! A throwaway PostgreSQL cluster for tests and benches: `initdb` into a temporary
//! directory, one server on a loopback port, stopped and deleted when dropped (a panicking
//! test included).
//!
//! It uses the newest Debian-style installation under `/usr/lib/postgresql/*/bin` (`make
//! deps-system` installs one). `initdb` and the server refuse to run as root, so as root
//! (CI) they run as the `postgres` system user, through `runuser`, in a directory that
//! user owns. Authentication is `trust` for the user `latchkey`: the server listens on
//! 127.0.0.1 only, and there is no password to leak into a log.
//!
//! ```no_run
//! let cluster = testkit::postgres::Cluster::start()?;
//! cluster.create_database("one_test")?;
//! let url = cluster.url("one_test"); // postgres://latchkey@127.0.0.1:PORT/one_test
//! # anyhow::Ok(())
//! ```

use anyhow::{bail, Context, Result};
use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where Debian puts each PostgreSQL version's binaries.
const INSTALLS: &str = "/usr/lib/postgresql";
/// The superuser `initdb` creates; every URL names it.
pub const USER: &str = "latchkey";
/// Enough connections for several Latchkey instances (each with its own pool) and a
/// benchmark's clients at once; the default, 100, is not.
const MAX_CONNECTIONS: &str = "200";
/// A port taken by someone else between our look and the server's bind is tried again
/// with another one, this many times.
const PORT_ATTEMPTS: usize = 5;

/// A running PostgreSQL server in a temporary directory. Dropping it stops the server
/// (`pg_ctl stop -m immediate`) and deletes the directory.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    /// The temporary directory: `data/` (the cluster), `log`, and the unix socket.
    dir: PathBuf,
    port: u16,
    /// Whether the server's programs run as the `postgres` user (we are root).
    as_postgres: bool,
}

impl Cluster {
    /// A cluster for tests: default settings except `fsync=off`. Nothing a test writes
    /// needs to survive a power loss, and skipping the flushes saves every test seconds.
    /// Benches measuring durable commits use [`Cluster::start_with`] instead.
    pub fn start() -> Result<Self> {
        Self::start_with(&[("fsync", "off")])
    }

    /// A cluster with PostgreSQL's default settings (durable commits: fsync on,
    /// `synchronous_commit=on`) except `settings`, each a `postgresql.conf` name and value,
    /// such as `("synchronous_commit", "off")` or `("shared_buffers", "256MB")`.
    pub fn start_with(settings: &[(&str, &str)]) -> Result<Self> {
        let bin = newest_install()?;
        let as_postgres = running_as_root();
        let dir = fresh_dir()?;
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            as_postgres,
        };
        // From here on, dropping `cluster` deletes the directory, on any error too.
        if as_postgres {
            Command::new("chown")
                .arg("postgres:")
                .arg(&cluster.dir)
                .output_checked()?;
        }
        cluster.initdb()?;
        cluster.configure(settings)?;
        cluster.start_on_a_free_port()?;
        Ok(cluster)
    }

    /// The URL of database `database` on this cluster:
    /// `postgres://latchkey@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The loopback port the server listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A program of the same PostgreSQL installation as the server (`psql`, `pgbench`).
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// Creates an empty database named `name` (lower-case letters, digits and `_`).
    pub fn create_database(&self, name: &str) -> Result<()> {
        let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain || name.len() > 63 {
            bail!("{name:?} is not a plain database name");
        }
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .with_context(|| format!("creating the database {name}"))?;
        Ok(())
    }

    /// Runs `sql` through `psql` on `database` and answers what it printed (unaligned,
    /// tuples only: one row a line, columns separated by `|`). Stops at the first error.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String> {
        let output = Command::new(self.program("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args(["-d", database, "-c", sql])
            .output_checked()?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Stops the server (`-m fast`: open transactions are rolled back, clients
    /// disconnected, then a clean shutdown). [`Cluster::start_again`] starts it again.
    pub fn stop(&mut self) -> Result<()> {
        self.pg_ctl(&["stop", "-m", "fast"])?;
        Ok(())
    }

    /// Starts a stopped server again, on the same port.
    pub fn start_again(&mut self) -> Result<()> {
        self.pg_ctl(&["start"]).map_err(|e| self.with_log(e))?;
        Ok(())
    }

    /// Restarts the server on the same port (`-m fast`): every client loses its
    /// connection, as when a production database restarts.
    pub fn restart(&mut self) -> Result<()> {
        self.pg_ctl(&["restart", "-m", "fast"])
            .map_err(|e| self.with_log(e))?;
        Ok(())
    }

    /// The directory the cluster lives in (deleted on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn initdb(&self) -> Result<()> {
        // --no-sync: initdb's own files need not reach the disk before it returns; the
        // server's later writes follow its settings.
        self.as_server_user(&self.program("initdb"))
            .arg("-D")
            .arg(self.data())
            .args(["-A", "trust", "-U", USER, "--no-sync"])
            .args(["-E", "UTF8", "--locale=C", "--no-instructions"])
            .output_checked()
            .context("initdb")?;
        Ok(())
    }

    /// Appends the listening and connection settings, then `settings`, to
    /// `postgresql.conf` (later lines win), so a restart keeps them all.
    fn configure(&self, settings: &[(&str, &str)]) -> Result<()> {
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.data().join("postgresql.conf"))
            .context("opening postgresql.conf")?;
        let socket_dir = self.dir.display().to_string();
        let fixed = [
            ("listen_addresses", "127.0.0.1"),
            ("unix_socket_directories", socket_dir.as_str()),
            ("max_connections", MAX_CONNECTIONS),
        ];
        writeln!(conf, "\n# testkit::postgres")?;
        for (name, value) in fixed.iter().chain(settings) {
            if !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                bail!("{name:?} is not a setting's name");
            }
            writeln!(conf, "{name} = '{}'", value.replace('\'', "''"))?;
        }
        Ok(())
    }

    /// Takes a port the system says is free and starts the server on it. The server
    /// cannot be handed a bound socket, so the port is free only when we looked: if
    /// someone took it meanwhile, the start fails and another port is tried.
    fn start_on_a_free_port(&mut self) -> Result<()> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port()?;
            let mut conf = fs::OpenOptions::new()
                .append(true)
                .open(self.data().join("postgresql.conf"))?;
            writeln!(conf, "port = {}", self.port)?;
            match self.start_again() {
                Ok(()) => return Ok(()),
                // The log's line, in the error's context (`{:#}` shows it).
                Err(error) if format!("{error:#}").contains("could not bind") => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    fn pg_ctl(&self, action: &[&str]) -> Result<Output> {
        self.as_server_user(&self.program("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60"])
            .args(action)
            .output_checked()
            .with_context(|| format!("pg_ctl {}", action[0]))
    }

    /// `error` with the end of the server's log, which says why it would not start.
    fn with_log(&self, error: anyhow::Error) -> anyhow::Error {
        let log = fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        error.context(format!("the server's log ends:\n{}", tail.join("\n")))
    }

    fn as_server_user(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A server that runs (or may: a start that timed out) has its pid file.
        if self.data().join("postmaster.pid").exists() {
            // -m immediate: no checkpoint, nothing waited for; the files go next anyway.
            let _ = self
                .as_server_user(&self.program("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The `bin` directory of the newest PostgreSQL under `/usr/lib/postgresql`.
fn newest_install() -> Result<PathBuf> {
    let newest = fs::read_dir(INSTALLS)
        .with_context(|| format!("no PostgreSQL under {INSTALLS} (make deps-system installs it)"))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    newest
        .map(|(_, bin)| bin)
        .with_context(|| format!("no PostgreSQL with initdb under {INSTALLS}"))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// A new, empty directory of our own under the system's temporary directory. Kept short:
/// the server's unix socket lives in it, and a socket's path has at most 107 bytes.
fn fresh_dir() -> Result<PathBuf> {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "latchkey-pg-{}-{}-{nanos:x}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("asking for a free port")?;
    Ok(listener.local_addr()?.port())
}

trait OutputChecked {
    /// Runs the command; an error (with what it wrote to stderr) unless it exits 0.
    fn output_checked(&mut self) -> Result<Output>;
}

impl OutputChecked for Command {
    fn output_checked(&mut self) -> Result<Output> {
        let output = self
            .output()
            .with_context(|| format!("starting {:?}", self.get_program()))?;
        if !output.status.success() {
            bail!(
                "{:?} failed ({}): {}",
                self.get_program(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_serves_fresh_databases_survives_a_restart_and_leaves_nothing_behind() {
        let mut cluster = Cluster::start().unwrap();
        let dir = cluster.dir().to_owned();
        let port = cluster.port();
        assert!(dir.join("data/PG_VERSION").is_file());
        assert_eq!(
            cluster.psql("postgres", "SHOW fsync").unwrap().trim(),
            "off"
        );
        assert_eq!(
            cluster
                .psql("postgres", "SHOW max_connections")
                .unwrap()
                .trim(),
            MAX_CONNECTIONS
        );

        cluster.create_database("first").unwrap();
        cluster.create_database("second").unwrap();
        cluster
            .psql("first", "CREATE TABLE t (n int); INSERT INTO t VALUES (7)")
            .unwrap();
        // Each database is its own: the second has no table `t`.
        assert!(cluster.psql("second", "SELECT n FROM t").is_err());
        assert!(cluster.create_database("first").is_err(), "already exists");
        assert!(cluster.create_database("no; DROP").is_err());

        cluster.restart().unwrap();
        assert_eq!(cluster.port(), port, "a restart keeps the port");
        assert_eq!(
            cluster.psql("first", "SELECT n FROM t").unwrap().trim(),
            "7"
        );

        cluster.stop().unwrap();
        assert!(cluster.psql("first", "SELECT 1").is_err(), "stopped");
        cluster.start_again().unwrap();
        assert_eq!(
            cluster.psql("first", "SELECT n FROM t").unwrap().trim(),
            "7"
        );

        drop(cluster);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        let listening = std::net::TcpStream::connect(("127.0.0.1", port));
        assert!(listening.is_err(), "the server still listens on {port}");
    }

    #[test]
    fn settings_reach_the_server_and_durability_is_the_default_otherwise() {
        let cluster = Cluster::start_with(&[("synchronous_commit", "off")]).unwrap();
        let shown = cluster
            .psql(
                "postgres",
                "SELECT current_setting('synchronous_commit'), current_setting('fsync')",
            )
            .unwrap();
        assert_eq!(shown.trim(), "off|on");
        assert!(Cluster::start_with(&[("no such; thing", "1")]).is_err());
    }

    #[test]
    fn a_panicking_test_still_stops_its_cluster_and_deletes_it() {
        let (sender, receiver) = std::sync::mpsc::channel();
        let panicked = std::thread::spawn(move || {
            let cluster = Cluster::start().unwrap();
            sender
                .send((cluster.dir().to_owned(), cluster.port()))
                .unwrap();
            panic!("a failing test");
        })
        .join();
        assert!(panicked.is_err());
        let (dir, port) = receiver.recv().unwrap();
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
