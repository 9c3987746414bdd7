//! The Prometheus side of the metrics `app::server::metrics` names: the process's
//! recorder, the layer that times every request by its route, and `GET /metrics`, served
//! beside the app (`LATCHKEY_METRICS=true`) or on a listener of its own
//! (`LATCHKEY_METRICS_ADDR`).

use app::server::metrics::{
    BATCH_BUCKETS, BATCH_SIZE, DB_CONNECTIONS, DESCRIPTIONS, DURATION_BUCKETS, HTTP_DURATION,
    HTTP_REQUESTS,
};
use app::server::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The process's recorder, installed on first use. There is one per process (the
/// `metrics` facade has one global recorder), however many servers the process builds.
pub fn recorder() -> &'static PrometheusHandle {
    static RECORDER: OnceLock<PrometheusHandle> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.to_owned()), &DURATION_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.to_owned()), &BATCH_BUCKETS)
            })
            .expect("fixed, non-empty buckets")
            .install_recorder()
            .expect("no other metrics recorder is installed");
        for (name, help) in DESCRIPTIONS {
            metrics::describe_counter!(name, help);
        }
        // Histograms keep their samples until upkeep folds them into the buckets.
        let upkeep = handle.clone();
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        });
        handle
    })
}

/// The router that answers `GET /metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Counts and times every answer by its route's pattern (`/api/redeem_link`,
/// `/links/{id}`): never by its path, which is the caller's to choose.
pub async fn count_request(request: Request, next: Next) -> Response<Body> {
    let route = match request.extensions().get::<MatchedPath>() {
        Some(route) => route.as_str().to_owned(),
        None if request.uri().path().starts_with("/pkg/") => "/pkg".to_owned(),
        None => "unmatched".to_owned(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(HTTP_DURATION, "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status).increment(1);
    response
}

/// The metrics in Prometheus' text format, with the database pools read as they are now.
async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    for (pool, connections) in [("read", &state.db), ("write", &state.writer)] {
        let idle = connections.num_idle() as f64;
        let open = f64::from(connections.size());
        metrics::gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "idle").set(idle);
        metrics::gauge!(DB_CONNECTIONS, "pool" => pool, "state" => "in_use").set(open - idle);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        recorder().render(),
    )
}
