//! nginx in front of a small static page, as a child process with a generated
//! configuration in a directory of its own: one worker, one loopback port, three ways to
//! the same page:
//!
//! - `/plain/`: nginx alone;
//! - `/ceiling/`: `auth_request` to a location that answers `return 204` (what
//!   `auth_request` itself costs);
//! - `/gated/`: `auth_request` to Latchkey's `/gate/auth-request` (keepalive upstream
//!   connections), passing the identity on as `Remote-User`.
//!
//! The port comes from the system: this process binds `127.0.0.1:0` and hands the
//! listening socket to nginx as its standard input, named in the `NGINX` variable (how
//! nginx inherits sockets across a binary upgrade), so no other process can take the
//! port between choosing and listening.

use anyhow::{bail, Context, Result};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The three locations, in the order they are reported.
pub const PLAIN: &str = "/plain/index.html";
pub const CEILING: &str = "/ceiling/index.html";
pub const GATED: &str = "/gated/index.html";

/// A running nginx; dropping it stops it (on failure too).
pub struct Nginx {
    child: Child,
    pub base: String,
    /// The static page's length in bytes.
    pub page_len: usize,
    dir: PathBuf,
}

/// The nginx binary: on `PATH`, or where Debian puts it (`/usr/sbin` is not on every
/// user's `PATH`). `None` when nginx is not installed.
pub fn binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// A static page of about 2 KB.
fn page() -> String {
    let mut page = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Wiki</title></head><body><main><h1>Team wiki</h1>\n",
    );
    for i in 1..=40 {
        page += &format!("<p>Paragraph {i:02} of a page behind the gate.</p>\n");
    }
    page + "</main></body></html>\n"
}

impl Nginx {
    /// Starts nginx in `dir` (created), with `/gated/` asking the Latchkey server at
    /// `latchkey` (`host:port`), and waits until it serves the page.
    pub async fn start(bin: &Path, dir: &Path, latchkey: &str) -> Result<Self> {
        let html = dir.join("html");
        let page = page();
        for location in ["plain", "ceiling", "gated"] {
            std::fs::create_dir_all(html.join(location))?;
            std::fs::write(html.join(location).join("index.html"), &page)?;
        }
        std::fs::create_dir_all(dir.join("temp"))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("binding nginx's port")?;
        let port = listener.local_addr()?.port();
        let config = dir.join("nginx.conf");
        std::fs::write(&config, configuration(dir, port, latchkey))?;

        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&config)
            .arg("-e")
            .arg(dir.join("error.log"))
            // The listening socket, as fd 0, and its number in `NGINX`.
            .env("NGINX", "0;")
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut nginx = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            page_len: page.len(),
            dir: dir.to_owned(),
        };
        let http = reqwest::Client::new();
        for _ in 0..400 {
            if let Some(status) = nginx.child.try_wait()? {
                bail!("nginx exited ({status}): {}", nginx.log());
            }
            if let Ok(response) = http.get(format!("{}{PLAIN}", nginx.base)).send().await {
                if response.status() == 200 {
                    return Ok(nginx);
                }
                bail!("nginx answered {}: {}", response.status(), nginx.log());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("nginx did not start within 10 seconds: {}", nginx.log())
    }

    /// nginx's error log, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Stops nginx; fails when it logged an error (a failed upstream request, say).
    pub fn stop(mut self) -> Result<()> {
        self.terminate();
        let errors = self
            .log()
            .lines()
            .filter(|line| {
                ["[error]", "[crit]", "[alert]"]
                    .iter()
                    .any(|l| line.contains(l))
            })
            .count();
        if errors > 0 {
            bail!(
                "nginx logged {errors} errors: {}",
                self.dir.join("error.log").display()
            );
        }
        Ok(())
    }

    /// SIGTERM (nginx's fast shutdown: the master stops its worker, then itself), then
    /// SIGKILL if it is still there after five seconds.
    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The generated configuration: everything nginx writes stays in `dir`.
fn configuration(dir: &Path, port: u16, latchkey: &str) -> String {
    let dir = dir.display();
    format!(
        r#"# Generated by latchkey-bench.
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    default_type text/html;
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    # The load keeps its connections for the whole run.
    keepalive_requests 1000000;

    upstream latchkey {{
        server {latchkey};
        keepalive 32;
        keepalive_requests 1000000;
    }}

    server {{
        listen 127.0.0.1:{port};
        root {dir}/html;

        location /plain/ {{
        }}

        location /ceiling/ {{
            auth_request /_ceiling;
        }}

        location /gated/ {{
            auth_request /_latchkey;
            auth_request_set $gate_user $upstream_http_remote_user;
            add_header Remote-User $gate_user;
        }}

        location = /_ceiling {{
            internal;
            return 204;
        }}

        location = /_latchkey {{
            internal;
            proxy_pass http://latchkey/gate/auth-request;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            # The host nginx routes on, as docs/gate/nginx.conf sends it; the bench's
            # wiki is registered without a port, as it would be on port 80.
            proxy_set_header X-Original-URL $scheme://$host$request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
    }}
}}
"#
    )
}
