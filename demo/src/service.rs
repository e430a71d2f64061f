//! One instance of a service of the fleet: an axum server on its own loopback port with
//! `/work` (its own work, its database queries, then its calls), `/confirm` (a callback:
//! its own work only), `/metrics`, `/healthz` and its manifest. Every request is a SERVER
//! span, every call a CLIENT span whose context goes out as `traceparent`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tokio::task::JoinHandle;

use crate::fleet::{InstanceSpec, Metrics, ServiceSpec, CONFIRM, WORK};
use crate::telemetry::{self, Tracing};

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
    /// Every service's instance ports, by name: where its dependencies listen.
    ports: Arc<HashMap<String, Vec<u16>>>,
    client: reqwest::Client,
    bursts: Arc<Bursts>,
    registry: Registry,
    recorder: Recorder,
    tracing: Tracing,
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

    /// A whole number from `low` to `high`, both included.
    fn between(&self, (low, high): (u32, u32)) -> u32 {
        let span = high.saturating_sub(low) + 1;
        low + ((self.random() * f64::from(span)) as u32).min(span - 1)
    }

    /// Sleeps for about `mean_ms` (half to twice as long).
    async fn busy(&self, mean_ms: u64) {
        let ms = mean_ms as f64 * (0.5 + self.random() * 1.5);
        tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
    }
}

/// Starts one instance of the service on its port, tracing with `tracing`; the handle
/// stops it.
pub async fn start(
    spec: ServiceSpec,
    instance: InstanceSpec,
    ports: Arc<HashMap<String, Vec<u16>>>,
    client: reqwest::Client,
    bursts: Arc<Bursts>,
    tracing: Tracing,
) -> anyhow::Result<JoinHandle<()>> {
    let registry = Registry::new();
    let recorder = Recorder::new(spec.metrics, &registry);
    let work_done = prometheus::IntCounter::new("demo_work_units_total", "Units of work done.")?;
    registry.register(Box::new(work_done.clone()))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", instance.port))
        .await
        .map_err(|err| {
            anyhow::anyhow!(
                "{}: cannot listen on port {}: {err}",
                spec.name,
                instance.port
            )
        })?;
    let seed = AtomicU64::new(0x9E37_79B9_7F4A_7C15 ^ u64::from(instance.port));
    let service = Arc::new(Service {
        spec,
        ports,
        client,
        bursts,
        registry,
        recorder,
        tracing,
        seed,
        work_done,
    });
    let app = Router::new()
        .route(WORK, get(work))
        .route(CONFIRM, get(confirm))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/.well-known/seam/manifest.yaml", get(manifest))
        .with_state(service);
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// The service's work: some latency of its own, a query to each of its databases, its
/// calls, and an answer that fails when a call failed (half the time) or during a burst.
async fn work(State(service): State<Arc<Service>>, headers: HeaderMap) -> StatusCode {
    serve(&service, &headers, WORK).await
}

/// A callback: the service's own work only.
async fn confirm(State(service): State<Arc<Service>>, headers: HeaderMap) -> StatusCode {
    serve(&service, &headers, CONFIRM).await
}

async fn serve(service: &Service, headers: &HeaderMap, route: &'static str) -> StatusCode {
    let started = Instant::now();
    let request = service
        .tracing
        .server(headers, route, service.spec.propagates);
    service.busy(service.spec.work_ms).await;
    let mut failed = false;
    if route == WORK {
        for store in &service.spec.datastores {
            let query = service.tracing.database(&request, store.name, "SELECT");
            service.busy(2).await;
            telemetry::end(&query);
        }
        for call in &service.spec.calls {
            let Some(ports) = service.ports.get(&call.callee).filter(|p| !p.is_empty()) else {
                continue;
            };
            for _ in 0..service.between(call.times) {
                // Round robin, roughly: a random instance each call.
                let port = ports[(service.random() * ports.len() as f64) as usize % ports.len()];
                let url = format!("http://127.0.0.1:{port}{}", call.route);
                let (span, trace_headers) = service
                    .tracing
                    .http_client(&request, port, call.route, &url);
                let answer = service.client.get(&url).headers(trace_headers).send().await;
                let status = answer.as_ref().map(|response| response.status().as_u16());
                telemetry::end_client(&span, status);
                let ok = status.is_ok_and(|s| (200..300).contains(&s));
                if !ok && service.random() < 0.5 {
                    failed = true;
                }
            }
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
    telemetry::end_server(&request, status.as_u16());
    service
        .recorder
        .observe(route, status.as_u16(), started.elapsed().as_secs_f64());
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
