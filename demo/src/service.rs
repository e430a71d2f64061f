//! One service of the fleet: an axum server on its own loopback port with `/work` (its
//! own work, then a call to each dependency), `/metrics`, `/healthz` and its manifest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tokio::task::JoinHandle;

use crate::fleet::{Metrics, ServiceSpec};

/// When payments fails: for `length` out of every `every`, from the fleet's start.
pub struct Bursts {
    started: Instant,
    every: Duration,
    length: Duration,
}

impl Bursts {
    pub fn new(every: Duration, length: Duration) -> Bursts {
        Bursts {
            started: Instant::now(),
            every: every.max(Duration::from_secs(1)),
            length,
        }
    }

    /// Whether a burst is on: the first one starts one period after the start.
    fn on(&self) -> bool {
        let elapsed = self.started.elapsed().as_secs_f64();
        let every = self.every.as_secs_f64();
        elapsed >= every && elapsed % every < self.length.as_secs_f64()
    }
}

/// How a service records its requests, in the names its style of client uses.
enum Recorder {
    OpenTelemetry(HistogramVec),
    PrometheusClient {
        requests: IntCounterVec,
        duration: HistogramVec,
    },
    None,
}

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
];

impl Recorder {
    fn new(style: Metrics, registry: &Registry) -> Recorder {
        let recorder = match style {
            Metrics::OpenTelemetry => Recorder::OpenTelemetry(
                HistogramVec::new(
                    HistogramOpts::new(
                        "http_server_request_duration_seconds",
                        "Duration of HTTP server requests.",
                    )
                    .buckets(BUCKETS.to_vec()),
                    &[
                        "http_request_method",
                        "http_route",
                        "http_response_status_code",
                    ],
                )
                .expect("valid metric"),
            ),
            Metrics::PrometheusClient => Recorder::PrometheusClient {
                requests: IntCounterVec::new(
                    Opts::new("http_requests_total", "HTTP requests served."),
                    &["method", "handler", "code"],
                )
                .expect("valid metric"),
                duration: HistogramVec::new(
                    HistogramOpts::new("http_request_duration_seconds", "HTTP request latency.")
                        .buckets(BUCKETS.to_vec()),
                    &["method", "handler"],
                )
                .expect("valid metric"),
            },
            Metrics::None => Recorder::None,
        };
        match &recorder {
            Recorder::OpenTelemetry(histogram) => {
                registry
                    .register(Box::new(histogram.clone()))
                    .expect("registered once");
            }
            Recorder::PrometheusClient { requests, duration } => {
                registry
                    .register(Box::new(requests.clone()))
                    .expect("registered once");
                registry
                    .register(Box::new(duration.clone()))
                    .expect("registered once");
            }
            Recorder::None => {}
        }
        recorder
    }

    fn observe(&self, route: &str, status: u16, seconds: f64) {
        let code = status.to_string();
        match self {
            Recorder::OpenTelemetry(histogram) => histogram
                .with_label_values(&["GET", route, &code])
                .observe(seconds),
            Recorder::PrometheusClient { requests, duration } => {
                requests.with_label_values(&["GET", route, &code]).inc();
                duration.with_label_values(&["GET", route]).observe(seconds);
            }
            Recorder::None => {}
        }
    }
}

struct Service {
    spec: ServiceSpec,
    /// Every service's port, by name: where its dependencies listen.
    ports: Arc<HashMap<String, u16>>,
    client: reqwest::Client,
    bursts: Arc<Bursts>,
    registry: Registry,
    recorder: Recorder,
    /// A cheap source of variation (xorshift), shared by the service's requests.
    seed: AtomicU64,
    /// Work units done: the only metric of a service without request metrics.
    work_done: prometheus::IntCounter,
}

impl Service {
    fn random(&self) -> f64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Starts the service on its port; the handle stops it.
pub async fn start(
    spec: ServiceSpec,
    ports: Arc<HashMap<String, u16>>,
    client: reqwest::Client,
    bursts: Arc<Bursts>,
) -> anyhow::Result<JoinHandle<()>> {
    let registry = Registry::new();
    let recorder = Recorder::new(spec.metrics, &registry);
    let work_done = prometheus::IntCounter::new("demo_work_units_total", "Units of work done.")?;
    registry.register(Box::new(work_done.clone()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", spec.port))
        .await
        .map_err(|err| {
            anyhow::anyhow!("{}: cannot listen on port {}: {err}", spec.name, spec.port)
        })?;
    let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15 ^ u64::from(spec.port));
    let service = Arc::new(Service {
        spec,
        ports,
        client,
        bursts,
        registry,
        recorder,
        seed,
        work_done,
    });
    let app = Router::new()
        .route("/work", get(work))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/.well-known/seam/manifest.yaml", get(manifest))
        .with_state(service);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// The service's work: some latency of its own, a call to each dependency, and an
/// answer that fails when a dependency failed (half the time) or during a burst.
async fn work(State(service): State<Arc<Service>>) -> StatusCode {
    let started = Instant::now();
    let own = service.spec.work_ms as f64 * (0.5 + service.random() * 1.5);
    tokio::time::sleep(Duration::from_secs_f64(own / 1000.0)).await;
    let mut failed = false;
    for callee in &service.spec.calls {
        let Some(port) = service.ports.get(callee) else {
            continue;
        };
        let url = format!("http://127.0.0.1:{port}/work");
        let ok = service
            .client
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        if !ok && service.random() < 0.5 {
            failed = true;
        }
    }
    if service.spec.bursts && service.bursts.on() && service.random() < 0.6 {
        failed = true;
    }
    service.work_done.inc();
    let status = if failed {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    service
        .recorder
        .observe("/work", status.as_u16(), started.elapsed().as_secs_f64());
    status
}

async fn metrics(State(service): State<Arc<Service>>) -> impl IntoResponse {
    let mut body = Vec::new();
    let _ = TextEncoder::new().encode(&service.registry.gather(), &mut body);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

async fn manifest(State(service): State<Arc<Service>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        service.spec.manifest(),
    )
}
