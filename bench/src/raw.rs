//! A lean GET driver for rates reqwest's client cannot reach on two shared cores (nginx
//! serving a static page): hyper's HTTP/1.1 connection API directly, one kept-alive
//! connection per client, no pool, no redirect or header-map bookkeeping per request.
//! Measured side by side with `load::drive` in bench/README.md ("Gate").

use crate::phase::{Latencies, Phase};
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What a response must be for its request to count.
pub struct Expect {
    pub status: u16,
    pub body_len: Option<usize>,
}

/// The `i`-th request: its path and headers (besides `Host`).
pub type MakeRequest = dyn Fn(usize) -> (String, Vec<(&'static str, String)>) + Send + Sync;
/// Whether the `i`-th request's response headers are right.
pub type CheckHeaders = dyn Fn(usize, &hyper::HeaderMap) -> bool + Send + Sync;

/// Runs `requests` GETs to `addr` with `concurrency` connections, each pulling the next
/// request number; `host` is the `Host` header.
pub async fn drive(
    addr: SocketAddr,
    host: &str,
    requests: usize,
    concurrency: usize,
    make: Arc<MakeRequest>,
    check: Arc<CheckHeaders>,
    expect: Expect,
) -> Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes: Arc<Mutex<Vec<(Duration, bool)>>> =
        Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let expect = Arc::new(expect);
    // Connected before the clock starts, as the pooled driver's are after its first
    // requests.
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let stream = TcpStream::connect(addr).await.context("connecting")?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        connections.push(sender);
    }
    let started = Instant::now();
    let workers: Vec<_> = connections
        .into_iter()
        .map(|mut sender| {
            let (next, outcomes, make, check, expect, host) = (
                next.clone(),
                outcomes.clone(),
                make.clone(),
                check.clone(),
                expect.clone(),
                host.to_owned(),
            );
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let (path, headers) = make(i);
                    let mut request = Request::get(path).header("host", &host);
                    for (name, value) in headers {
                        request = request.header(name, value);
                    }
                    let request = request.body(Empty::<Bytes>::new())?;
                    let at = Instant::now();
                    sender.ready().await?;
                    let response = sender.send_request(request).await?;
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let ok = parts.status.as_u16() == expect.status
                        && expect.body_len.is_none_or(|len| len == body.len())
                        && check(i, &parts.headers);
                    mine.push((at.elapsed(), ok));
                }
                outcomes.lock().unwrap().extend(mine);
                anyhow::Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    Ok(Phase {
        requests,
        ok: outcomes.iter().filter(|(_, ok)| *ok).count(),
        elapsed,
        latencies: Latencies::from_durations(outcomes.iter().map(|(d, _)| *d)),
        cookies: Vec::new(),
    })
}
