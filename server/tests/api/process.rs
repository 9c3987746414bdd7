//! The real `latchkey` binary as a child process, with its own database, outbox and log
//! file: for the tests that signal it, kill it, or read everything it logged.

use crate::helpers::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The real binary, serving on a loopback port with its own database.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Server {
    /// The environment of a server in `dir`, listening on a port the system picks (no
    /// port is chosen beforehand, so none can be taken by someone else meanwhile); its
    /// public URL takes that port.
    pub fn env(dir: &Path, smtp_url: Option<String>) -> Vec<(String, String)> {
        let mut env = vec![
            ("LATCHKEY_DATABASE_URL".into(), test_database_url(dir)),
            (
                "LATCHKEY_CODE_KEY_FILE".into(),
                dir.join("code.key").display().to_string(),
            ),
            ("LATCHKEY_PUBLIC_URL".into(), "http://127.0.0.1:0".into()),
            (
                "LATCHKEY_READY_FILE".into(),
                dir.join("ready").display().to_string(),
            ),
            (
                "LATCHKEY_OUTBOX_DIR".into(),
                dir.join("outbox").display().to_string(),
            ),
            ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
            ("LEPTOS_SITE_ROOT".into(), dir.display().to_string()),
            ("LATCHKEY_SMTP_TIMEOUT_SECONDS".into(), "2".into()),
            ("LATCHKEY_RATE_LINKS_PER_MINUTE".into(), "100000".into()),
            (
                "LATCHKEY_RATE_ISSUE_PER_COWORKER_PER_MINUTE".into(),
                "100000".into(),
            ),
            ("RUST_LOG".into(), "info".into()),
        ];
        if let Some(url) = smtp_url {
            env.push(("LATCHKEY_SMTP_URL".into(), url));
        }
        env
    }

    pub fn cli(env: &[(String, String)], args: &[&str]) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        assert!(output.status.success(), "latchkey {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// Starts the server and waits until it has written the address it listens on into
    /// its ready file and answers there.
    pub async fn start(env: Vec<(String, String)>, log: PathBuf) -> Self {
        let ready = PathBuf::from(
            &env.iter()
                .find(|(k, _)| k == "LATCHKEY_READY_FILE")
                .expect("a ready file")
                .1,
        );
        // A restart must not read the address of the server before it.
        let _ = std::fs::remove_file(&ready);
        let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .arg("serve")
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            )
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(addr) = std::fs::read_to_string(&ready) {
                break addr;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "latchkey exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "latchkey did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let server = Self {
            child,
            base: format!("http://{addr}"),
            env,
            log,
        };
        let health = reqwest::get(format!("{}/healthz", server.base))
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        server
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns whether it exited with status 0.
    pub async fn exited_cleanly(&mut self) -> bool {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("latchkey did not exit");
    }

    /// A coworker client signed in through the CLI's bootstrap link.
    pub async fn coworker(&self, email: &str) -> Client {
        Self::cli(&self.env, &["coworker", "add", email, "--name", "Bob"]);
        let url = Self::cli(&self.env, &["signin-link", email]);
        let mut client = Client::default();
        let answer = call(
            &self.base,
            &mut client,
            "redeem_link",
            &[("token", &token_in(&url))],
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issues an invitation to `email` (for 24 hours) through the server at `base` as
/// `coworker`; answers its id and token.
pub async fn invite(base: &str, coworker: &mut Client, email: &str) -> (i64, String) {
    let answer = call(
        base,
        coworker,
        "issue_link",
        &[("email", email), ("expires_in", "24h")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = token_in(answer.body["url"].as_str().unwrap());
    (answer.body["id"].as_i64().unwrap(), token)
}

/// [`TestApp::call`] for a server that is not a [`TestApp`].
pub async fn call(
    base: &str,
    client: &mut Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Answer {
    TestApp::call_at(base, client, endpoint, form).await
}
