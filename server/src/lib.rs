//! The Latchkey HTTP server: the axum router around the Leptos app, its middleware, and
//! start-up. The binary in `main.rs` adds the command line.

pub mod assets;
pub mod cli;
pub mod commands;
mod forms;
mod gate;
pub mod metrics;
mod middleware;
mod session_store;

use anyhow::{Context, Result};
use app::server::config::{Config, LogFormat, Metrics};
use app::server::db;
use app::server::group::GroupCommit;
use app::server::limits::Limits;
use app::server::mail::Postman;
use app::server::state::AppState;
use app::server::store::session_records::PreparedRecords;
use app::{shell, App};
use axum::extract::State;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use session_store::SplitStore;
use std::sync::Arc;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The largest request body accepted; every form Latchkey has fits in a few kilobytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Opens the database, the mailer and the session store, and builds the router.
/// The app's routes, worked out once per process. Leptos generates them by running the
/// app with resource loading suppressed through a process-wide flag, and a resource that
/// starts loading while that flag is up never finishes: a second server built in the
/// same process (the tests build dozens) would hang pages another one is rendering.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub async fn build(
    config: Config,
    mut leptos_options: LeptosOptions,
) -> Result<(Router, AppState)> {
    // The built front end: served as it is under /pkg/, and under /pkg/{version}/, named
    // by its contents, where pages load it from and browsers may cache it for good.
    let site = assets::Site::of(&leptos_options);
    let versioned = format!(
        "{}/{}",
        leptos_options.site_pkg_dir,
        site.version(&leptos_options.site_pkg_dir, &leptos_options.output_name)
    );
    leptos_options.site_pkg_dir = Arc::from(versioned.as_str());
    let db = db::connect(
        &config.database_url,
        config.db_busy_timeout,
        config.durability,
    )
    .await?;
    let writer = db::connect_writer(
        &config.database_url,
        config.db_busy_timeout,
        config.durability,
    )
    .await?;
    let prepared_records = PreparedRecords::default();
    let store = SplitStore::new(db.clone(), writer.clone(), prepared_records.clone());
    // Expired sessions are refused on every request anyway; this keeps the table small.
    tokio::spawn({
        use tower_sessions::ExpiredDeletion;
        let store = store.clone();
        async move {
            if let Err(error) = store
                .continuously_delete_expired(std::time::Duration::from_secs(600))
                .await
            {
                tracing::warn!(%error, "purging expired sessions stopped");
            }
        }
    });
    let code_key = app::server::codes::CodeKey::load_or_create(&config.code_key_file)
        .with_context(|| format!("reading the code key {}", config.code_key_file.display()))?;
    let postman = Postman::from_config(&config)?;
    let (signins, signin_queue) = app::server::signins::SigninQueue::new();
    let config = Arc::new(config);
    let gate = app::server::gate::Gate::start(db.clone(), writer.clone(), config.clone()).await?;
    let state = AppState {
        leptos_options,
        db,
        writer: writer.clone(),
        postman,
        limits: Arc::new(Limits::new(&config.rates, &writer)),
        code_key: Arc::new(code_key),
        config,
        prepared_records,
        redeems: GroupCommit::start(writer.clone()),
        issues: GroupCommit::start(writer.clone()),
        deliveries: GroupCommit::start(writer.clone()),
        signins,
        gate,
    };
    tokio::spawn({
        let state = state.clone();
        app::server::signins::work(state.signins.clone(), signin_queue, move |request| {
            app::server::links::send_signin(state.clone(), request)
        })
    });
    tokio::spawn(app::server::housekeeping::run(
        state.writer.clone(),
        state.config.clone(),
    ));
    tokio::spawn({
        let limits = Arc::downgrade(&state.limits);
        async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.forget_idle_keys().await,
                    None => break,
                }
            }
        }
    });

    let sessions = SessionManagerLayer::new(store)
        .with_name(state.config.session_cookie_name())
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.is_https())
        .with_path("/")
        // Each sign-in sets its own session's end (`auth::attach`); this default only
        // bounds a record saved without one, and is never shorter than any session.
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(
                state.config.longest_session_lifetime().as_secs() as i64,
            ),
        ));
    // Latchkey's own cookie is host-only, always: applications on sibling hosts receive
    // the gate cookie instead (see app::server::gate::cookie), which opens nothing here.

    let routes = route_list();
    let page_context = page_context(&state);
    let page_shell = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    // The built front end and public/ are plain files, served by `Site::routes` rather than
    // Leptos' file handler, which renders in a reactive owner of its own and can take the
    // headers of a page rendering at the same moment. Any other path is the app's "Page
    // not found".
    let not_found =
        leptos_axum::render_app_to_stream_with_context(page_context.clone(), page_shell.clone());
    let files = site.routes(&versioned, not_found.with_state(state.clone()));
    let counting = state.config.metrics != Metrics::Off;
    if counting {
        metrics::recorder();
    }
    // The gate's endpoints read the gate cookie themselves: no session layer, no page
    // middleware, on every request of every application behind it.
    let gate_routes = Router::new()
        .route("/gate/auth-request", get(gate::auth_request))
        .route("/gate/forward-auth", get(gate::forward_auth));
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/link", post(forms::continue_link))
        .route("/link/renew", post(forms::renew_link))
        .route("/code", post(forms::continue_with_code))
        .leptos_routes_with_context(&state, routes, page_context, page_shell)
        .merge(files)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::gate_cookie,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn(middleware::api_error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::refuse_cross_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .merge(gate_routes)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(middleware::request_span)
                .on_response(middleware::log_response),
        )
        .with_state(state.clone());
    if state.config.metrics == Metrics::WithTheApp {
        router = router.merge(metrics::router(state.clone()));
    }
    if counting {
        router = router.layer(axum::middleware::from_fn(metrics::count_request));
    }
    Ok((router, state))
}

/// What every page render has in its context: the state, and the page's security policy.
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let state = state.clone();
    move || {
        provide_context(state.clone());
        // Before rendering starts: Leptos has made this response's nonce.
        app::server::headers::content_security_policy();
    }
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> StatusCode {
    match db::ping(&state.db).await {
        Ok(_) => StatusCode::OK,
        Err(error) => {
            tracing::error!(%error, "health check failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

/// Writes the brotli and gzip siblings of the built front end (`latchkey precompress`,
/// run by `make build-release`), so a release server finds them ready instead of
/// compressing at start-up, which holds a core and tens of megabytes for seconds.
pub fn precompress_site() -> Result<usize> {
    let options = leptos_options()?;
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    if !pkg.join(format!("{}.wasm", options.output_name)).exists() {
        anyhow::bail!(
            "no built front end in {}: run `cargo leptos build --release` first",
            pkg.display()
        );
    }
    assets::precompress(&pkg).with_context(|| format!("compressing {}", pkg.display()))
}

/// The Leptos options for the built site, from cargo-leptos' environment or defaults.
pub fn leptos_options() -> Result<LeptosOptions> {
    let mut options = leptos::config::get_configuration(None)
        .context("reading the Leptos configuration")?
        .leptos_options;
    if options.output_name.is_empty() {
        options.output_name = Arc::from("latchkey");
    }
    Ok(options)
}

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests.
pub async fn serve(mut config: Config) -> Result<()> {
    let options = leptos_options()?;
    let addr = options.site_addr;
    match config.smtp_url_redacted() {
        Some(smtp) => tracing::info!(%smtp, "mail goes out by SMTP"),
        None => {
            tracing::info!(outbox = %config.outbox_dir.display(), "mail is written as .eml files to the outbox");
        }
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    // The address bound, which differs from the one asked for when that was port 0.
    let addr = listener
        .local_addr()
        .context("reading the address listened on")?;
    config.take_listening_port(addr.port());
    let ready_file = config.ready_file.clone();
    let metrics_listener = match config.metrics {
        Metrics::Apart(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening for metrics on {addr}"))?,
        ),
        Metrics::Off | Metrics::WithTheApp => None,
    };
    let (router, state) = build(config, options).await?;
    let gate = state.gate.clone();
    if let Some(listener) = metrics_listener {
        let addr = listener
            .local_addr()
            .context("reading the metrics address")?;
        tracing::info!("metrics at http://{addr}/metrics");
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, metrics::router(state)).await {
                tracing::error!(%error, "serving metrics stopped");
            }
        });
    }
    if let Some(path) = ready_file {
        write_ready_file(&path, addr)?;
    }
    tracing::info!("Latchkey listening on http://{addr}");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving")?;
    // The last uses the gate queued behind its answers.
    if let Err(error) = gate.write_behind().await {
        tracing::warn!(?error, "recording the gate's last uses failed");
    }
    tracing::info!("Latchkey stopped");
    Ok(())
}

/// Writes `addr` into `path` whole (a temporary file renamed into place), so whoever
/// polls for the file never reads half an address.
fn write_ready_file(path: &std::path::Path, addr: std::net::SocketAddr) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, addr.to_string())
        .and_then(|()| std::fs::rename(&partial, path))
        .with_context(|| format!("writing the ready file {}", path.display()))
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

/// Logs to stderr, `RUST_LOG` or `info` by default: lines for people, or one JSON object
/// per line (tracing-subscriber's formatter: `timestamp`, `level`, `fields`, `target`,
/// `span`, `spans`).
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => subscriber
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => subscriber.json().try_init(),
    };
}
