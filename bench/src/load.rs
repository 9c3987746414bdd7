//! The load: many clients on one connection pool, each pulling the next piece of work.

use crate::gate::{self, GateSession};
use crate::phase::{Latencies, Phase};
use crate::raw;
use crate::server::cookie_of;
use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// POSTs a form to a server function as a browser would, with `cookie` if any.
async fn post(
    http: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Result<reqwest::Response> {
    let mut request = http
        .post(url)
        .header("accept", "application/json")
        .form(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await
}

/// What one request was: its latency, whether it counts, and a cookie it brought.
type Outcome = (Duration, bool, Option<String>);

/// Runs `requests` calls of `call(i)` with `concurrency` clients.
async fn drive<F, Fut>(requests: usize, concurrency: usize, call: F) -> Result<Phase>
where
    F: Fn(reqwest::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(bool, Option<String>)>> + Send,
{
    let http = client(concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let call = Arc::new(call);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, next, outcomes, call) =
                (http.clone(), next.clone(), outcomes.clone(), call.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let at = Instant::now();
                    let (ok, cookie) = call(http.clone(), i).await?;
                    mine.push((at.elapsed(), ok, cookie));
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
        ok: outcomes.iter().filter(|(_, ok, _)| *ok).count(),
        elapsed,
        latencies: Latencies::from_durations(outcomes.iter().map(|(d, _, _)| *d)),
        cookies: outcomes.into_iter().filter_map(|(_, _, c)| c).collect(),
    })
}

/// Redeems each of `tokens` once, `concurrency` at a time, the requests spread in turn
/// over the servers at `bases` (instances sharing one database).
pub async fn redeem(bases: &[String], tokens: &[String], concurrency: usize) -> Result<Phase> {
    let urls: Arc<Vec<String>> = Arc::new(
        bases
            .iter()
            .map(|base| format!("{base}/api/redeem_link"))
            .collect(),
    );
    let tokens: Arc<Vec<String>> = Arc::new(tokens.to_vec());
    drive(tokens.len(), concurrency, move |http, i| {
        let (urls, tokens) = (urls.clone(), tokens.clone());
        async move {
            let url = &urls[i % urls.len()];
            let response = post(&http, url, None, &[("token", tokens[i].as_str())]).await?;
            let cookie = cookie_of(&response);
            let ok = response.status() == 200 && cookie.is_some();
            response.bytes().await?;
            Ok((ok, cookie.filter(|_| ok)))
        }
    })
    .await
}

/// How many of `cookies` are a signed-in invitee's (checked after the timed phase).
pub async fn sessions_that_work(base: &str, cookies: &[String]) -> Result<usize> {
    let url = format!("{base}/api/current_user");
    let cookies: Arc<Vec<String>> = Arc::new(cookies.to_vec());
    let phase = drive(cookies.len(), 8, move |http, i| {
        let (url, cookies) = (url.clone(), cookies.clone());
        async move {
            let response = post(&http, &url, Some(&cookies[i]), &[]).await?;
            let body = response.text().await?;
            Ok((body.contains(r#""role":"invitee""#), None))
        }
    })
    .await?;
    Ok(phase.ok)
}

pub async fn peek(base: &str, tokens: &[String]) -> Result<Latencies> {
    let url = format!("{base}/api/peek_link");
    let tokens: Arc<Vec<String>> = Arc::new(tokens.to_vec());
    let phase = drive(tokens.len(), 1, move |http, i| {
        let (url, tokens) = (url.clone(), tokens.clone());
        async move {
            let response = post(&http, &url, None, &[("token", tokens[i].as_str())]).await?;
            let ok = response.status() == 200;
            response.bytes().await?;
            Ok((ok, None))
        }
    })
    .await?;
    if phase.ok != phase.requests {
        bail!("peek: {} of {} answered 200", phase.ok, phase.requests);
    }
    Ok(phase.latencies)
}

/// Issues `requests` invitations as `coworker`, `concurrency` at a time, spread in turn
/// over the servers at `bases`; each must be mailed.
pub async fn issue(
    bases: &[String],
    coworker: &str,
    requests: usize,
    concurrency: usize,
    tag: &'static str,
) -> Result<Phase> {
    let urls: Arc<Vec<String>> = Arc::new(
        bases
            .iter()
            .map(|base| format!("{base}/api/issue_link"))
            .collect(),
    );
    let coworker = coworker.to_owned();
    let phase = drive(requests, concurrency, move |http, i| {
        let (urls, coworker) = (urls.clone(), coworker.clone());
        async move {
            let url = &urls[i % urls.len()];
            let email = format!("bench-{tag}-{i}@example.com");
            let form = [("email", email.as_str()), ("expires_in", "24h")];
            let response = post(&http, url, Some(&coworker), &form).await?;
            let ok =
                response.status() == 200 && response.text().await?.contains(r#""delivery":"sent""#);
            Ok((ok, None))
        }
    })
    .await?;
    if phase.ok != requests {
        bail!("issue via {tag}: {} of {requests} were sent", phase.ok);
    }
    Ok(phase)
}

/// Latencies of `list_links` with `filter`, one request at a time.
pub async fn list(
    base: &str,
    coworker: &str,
    filter: &[(&'static str, &'static str)],
    requests: usize,
) -> Result<Latencies> {
    let url = format!("{base}/api/list_links");
    let coworker = coworker.to_owned();
    let filter = filter.to_vec();
    let phase = drive(requests, 1, move |http, _| {
        let (url, coworker, filter) = (url.clone(), coworker.clone(), filter.clone());
        async move {
            let response = post(&http, &url, Some(&coworker), &filter).await?;
            let status = response.status();
            let ok = status == 200 && response.text().await?.contains(r#""links":["#);
            if !ok {
                // The status only: the body lists addresses.
                eprintln!("list_links answered {status}");
            }
            Ok((ok, None))
        }
    })
    .await?;
    if phase.ok != requests {
        bail!("list: {} of {requests} answered", phase.ok);
    }
    Ok(phase.latencies)
}

/// `requests` gate decisions at `concurrency`, spread in turn over the servers at `bases`:
/// `GET /gate/auth-request` as nginx sends it, for a page of the wiki, the `i`-th with
/// the `i`-th of `cookies` (round and round). A decision counts when it let the request
/// through (200).
pub async fn gate_spread(
    bases: &[String],
    cookies: &[String],
    requests: usize,
    concurrency: usize,
) -> Result<Phase> {
    let urls: Arc<Vec<String>> = Arc::new(
        bases
            .iter()
            .map(|base| format!("{base}/gate/auth-request"))
            .collect(),
    );
    let cookies: Arc<Vec<String>> = Arc::new(cookies.to_vec());
    drive(requests, concurrency, move |http, i| {
        let (urls, cookies) = (urls.clone(), cookies.clone());
        async move {
            let response = http
                .get(&urls[i % urls.len()])
                .header("x-original-url", format!("{}/page/{i}", gate::WIKI))
                .header("x-original-method", "GET")
                .header("cookie", &cookies[i % cookies.len()])
                .send()
                .await?;
            let ok = response.status() == 200;
            response.bytes().await?;
            Ok((ok, None))
        }
    })
    .await
}

/// `requests` gate decisions at `concurrency` (through [`raw::drive`]): `GET
/// /gate/auth-request` as nginx's `auth_request` sends it, for a page of the wiki, the
/// `i`-th with the session [`gate::spread`] picks. A decision counts when it let the
/// request through as that session's invitee.
pub async fn gate(
    base: &str,
    sessions: &Arc<Vec<GateSession>>,
    requests: usize,
    concurrency: usize,
) -> Result<Phase> {
    let addr = address(base)?;
    let (to_send, to_check) = (sessions.clone(), sessions.clone());
    raw::drive(
        addr,
        &addr.to_string(),
        requests,
        concurrency,
        Arc::new(move |i| {
            let session = &to_send[gate::spread(i, to_send.len())];
            (
                "/gate/auth-request".to_owned(),
                vec![
                    ("x-original-url", format!("{}/page/{i}", gate::WIKI)),
                    ("x-original-method", "GET".to_owned()),
                    ("cookie", session.cookie.clone()),
                ],
            )
        }),
        Arc::new(move |i, headers| {
            identity_is(
                headers,
                "remote-email",
                &to_check[gate::spread(i, to_check.len())],
            )
        }),
        raw::Expect {
            status: 200,
            body_len: Some(0),
        },
    )
    .await
}

/// `requests` GETs of the page at `path` (`page_len` bytes) through nginx at `base`, as a
/// browser on the wiki's host name sends them (through [`raw::drive`]), with the `i`-th
/// spread session's cookie when `sessions` is given. A request counts when the whole page
/// came back and, through the gate, nginx passed on the identity the gate gave.
pub async fn through_nginx(
    base: &str,
    path: &str,
    page_len: usize,
    sessions: Option<&Arc<Vec<GateSession>>>,
    requests: usize,
    concurrency: usize,
) -> Result<Phase> {
    let host = gate::WIKI.trim_start_matches("http://");
    let path = path.to_owned();
    let (to_send, to_check) = (sessions.cloned(), sessions.cloned());
    raw::drive(
        address(base)?,
        host,
        requests,
        concurrency,
        Arc::new(move |i| {
            let cookie = to_send
                .as_ref()
                .map(|all| ("cookie", all[gate::spread(i, all.len())].cookie.clone()));
            (path.clone(), cookie.into_iter().collect())
        }),
        Arc::new(move |i, headers| {
            to_check.as_ref().is_none_or(|all| {
                identity_is(headers, "remote-user", &all[gate::spread(i, all.len())])
            })
        }),
        raw::Expect {
            status: 200,
            body_len: Some(page_len),
        },
    )
    .await
}

/// The same as [`through_nginx`] without the gate, through reqwest (`drive`): how far the
/// pooled client falls short of [`raw::drive`] at these rates.
pub async fn through_nginx_reqwest(
    base: &str,
    path: &str,
    page_len: usize,
    requests: usize,
    concurrency: usize,
) -> Result<Phase> {
    let url = format!("{base}{path}");
    let host = gate::WIKI.trim_start_matches("http://");
    drive(requests, concurrency, move |http, _| {
        let url = url.clone();
        async move {
            let response = http.get(&url).header("host", host).send().await?;
            let ok = response.status() == 200;
            let body = response.bytes().await?;
            Ok((ok && body.len() == page_len, None))
        }
    })
    .await
}

fn identity_is(headers: &reqwest::header::HeaderMap, name: &str, session: &GateSession) -> bool {
    headers
        .get(name)
        .map(reqwest::header::HeaderValue::as_bytes)
        == Some(session.email.as_bytes())
}

/// The socket address of `http://host:port`.
fn address(base: &str) -> Result<std::net::SocketAddr> {
    base.trim_start_matches("http://")
        .parse()
        .with_context(|| format!("{base} is not http://address:port"))
}
