//! The `latchkey` binary under test, as a child process on a loopback port the system
//! picks (it reports the port in its ready file).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub async fn start(
        bin: &Path,
        site: &Path,
        work: &Path,
        database: &str,
        smtp_url: Option<String>,
    ) -> Result<Self> {
        Self::start_logging(
            bin,
            site,
            work,
            database,
            smtp_url,
            "warn",
            &work.join("server.log"),
        )
        .await
    }

    /// [`Server::start`] with `RUST_LOG=filter`, logging to `log` (appended).
    pub async fn start_logging(
        bin: &Path,
        site: &Path,
        work: &Path,
        database: &str,
        smtp_url: Option<String>,
        filter: &str,
        log_path: &Path,
    ) -> Result<Self> {
        if !bin.exists() {
            bail!("no server binary at {}: build it first", bin.display());
        }
        let ready = work.join("ready");
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)?;
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .env("LATCHKEY_DATABASE_URL", database)
            .env("LATCHKEY_CODE_KEY_FILE", work.join("code.key"))
            // Port 0: the port the server listens on.
            .env("LATCHKEY_PUBLIC_URL", "http://127.0.0.1:0")
            .env("LATCHKEY_READY_FILE", &ready)
            .env("LATCHKEY_OUTBOX_DIR", work.join("outbox"))
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("LEPTOS_SITE_ROOT", site)
            .env("LEPTOS_OUTPUT_NAME", "latchkey")
            .env("RUST_LOG", filter)
            // The load comes from one address and one coworker.
            .env("LATCHKEY_RATE_LINKS_PER_MINUTE", "100000000")
            .env("LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE", "100000000")
            .env("LATCHKEY_RATE_SIGNIN_PER_IP_PER_MINUTE", "100000000")
            .env_remove("LATCHKEY_SMTP_URL")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = smtp_url {
            command.env("LATCHKEY_SMTP_URL", url);
        }
        let mut child = command.spawn().context("starting the server")?;
        for _ in 0..1200 {
            if let Ok(addr) = std::fs::read_to_string(&ready) {
                let server = Self {
                    child,
                    base: format!("http://{addr}"),
                };
                let health = reqwest::get(format!("{}/healthz", server.base)).await?;
                if health.status() != 200 {
                    bail!(
                        "the server answered its health check with {}",
                        health.status()
                    );
                }
                return Ok(server);
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the server exited ({status}); its log: {}",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        bail!("the server did not start; its log: {}", log_path.display())
    }

    /// Redeems a coworker sign-in token and returns the session cookie.
    pub async fn sign_in(&self, token: &str) -> Result<String> {
        let response = reqwest::Client::new()
            .post(format!("{}/api/redeem_link", self.base))
            .header("accept", "application/json")
            .form(&[("token", token)])
            .send()
            .await?;
        if response.status() != 200 {
            bail!("coworker sign-in answered {}", response.status());
        }
        cookie_of(&response).context("no session cookie on sign-in")
    }

    /// While the returned guard lives, `perf record -g` samples this server into
    /// `DIR/PHASE.data` (with `dir` given; nothing otherwise).
    pub fn profile(&self, dir: Option<&Path>, phase: &str) -> Result<Option<Profile>> {
        let Some(dir) = dir else { return Ok(None) };
        std::fs::create_dir_all(dir)?;
        let child = Command::new("perf")
            .args([
                "record",
                "-g",
                "-q",
                "-p",
                &self.child.id().to_string(),
                "-o",
            ])
            .arg(dir.join(format!("{phase}.data")))
            .stdout(Stdio::null())
            .spawn()
            .context("starting perf")?;
        std::thread::sleep(Duration::from_millis(300));
        Ok(Some(Profile(child)))
    }

    /// The most memory the server process has held, in KiB (VmHWM).
    /// The server's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kb(&self) -> u64 {
        self.status_kb("VmRSS:")
    }

    pub fn peak_rss_kb(&self) -> u64 {
        self.status_kb("VmHWM:")
    }

    fn status_kb(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|line| line.starts_with(field))
                    .and_then(|line| line.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse().ok())
            })
            .unwrap_or(0)
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        for _ in 0..400 {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the server exited with {status}");
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.child.kill()?;
        bail!("the server did not stop within 10 seconds")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name=value` of a response's session cookie.
/// The URL of the SQLite file at `path`.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The cookies an answer sets, as the `Cookie` header a browser sends back (Latchkey's
/// own session cookie and the gate cookie, after a redeem).
pub fn cookie_of(response: &reqwest::Response) -> Option<String> {
    let pairs: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// A running `perf record`; dropping it stops the recording and waits for the file.
pub struct Profile(Child);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}
