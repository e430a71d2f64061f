//! The fleet's spans, with the OpenTelemetry SDK, to Seam over OTLP/HTTP.
//!
//! Hundreds of services share one export pipeline: each instance has an
//! [`SdkTracerProvider`] of its own (its resource says which service, version and
//! instance it is), whose only processor, [`Forward`], hands every finished span to one
//! bounded queue. One exporter thread drains it, groups the spans by instance each
//! second and exports each group with the one `opentelemetry_otlp::SpanExporter`, its
//! resource set to that instance's ([`SpanExporter::set_resource`]). So there is one
//! thread and one HTTP client for the whole fleet, not a batch thread per service. When
//! the queue is full (Seam slow or away), spans are dropped and counted, never buffered
//! without bound.
//!
//! Trace context travels as W3C `traceparent`, read from axum's and written into
//! reqwest's header maps by [`TraceContextPropagator`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    SdkTracer, SdkTracerProvider, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Finished spans waiting for the exporter thread; past it they are dropped.
const QUEUE_SPANS: usize = 65_536;
/// How often the exporter thread sends what it has.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Most spans in one export request.
const MAX_BATCH: usize = 4_096;
/// How long an export may take, retries included.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

enum Message {
    /// A finished span of the instance at that index (boxed: the queue's slots stay
    /// small).
    Span(usize, Box<SpanData>),
    /// Export what is queued, answer, and stop.
    Stop(SyncSender<()>),
}

/// Counts of what became of the spans, logged as they change.
#[derive(Default)]
struct Counts {
    dropped: AtomicU64,
}

/// The shared export pipeline; [`Pipeline::tracing`] gives each instance its tracer.
pub struct Pipeline {
    queue: SyncSender<Message>,
    resources: Arc<Mutex<Vec<Resource>>>,
    counts: Arc<Counts>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pipeline {
    /// Starts the exporter thread, sending to `endpoint` (the full URL, as
    /// `http://127.0.0.1:4318/v1/traces`) with `Authorization: Bearer token`.
    pub fn start(endpoint: &str, token: &str) -> anyhow::Result<Pipeline> {
        let (queue, spans) = mpsc::sync_channel(QUEUE_SPANS);
        let resources: Arc<Mutex<Vec<Resource>>> = Arc::default();
        let counts: Arc<Counts> = Arc::default();
        let (built, build_result) = mpsc::channel();
        let thread = {
            let endpoint = endpoint.to_owned();
            let token = token.to_owned();
            let resources = resources.clone();
            let counts = counts.clone();
            std::thread::Builder::new()
                .name("otlp-export".into())
                .spawn(move || {
                    // The blocking HTTP client is made and used here, off the runtime.
                    let exporter = match exporter(&endpoint, &token) {
                        Ok(exporter) => {
                            let _ = built.send(Ok(()));
                            exporter
                        }
                        Err(err) => {
                            let _ = built.send(Err(err));
                            return;
                        }
                    };
                    Exporter {
                        endpoint,
                        exporter,
                        resources,
                        counts,
                        failing: false,
                        exported: 0,
                        lost: 0,
                        reported_dropped: 0,
                        last_report: Instant::now(),
                    }
                    .run(spans);
                })?
        };
        build_result
            .recv()
            .map_err(|_| anyhow::anyhow!("the OTLP exporter thread ended early"))??;
        Ok(Pipeline {
            queue,
            resources,
            counts,
            thread: Some(thread),
        })
    }

    /// A tracer for one instance of a service, its spans into the shared queue.
    pub fn tracing(&self, service: &str, version: &str, port: u16) -> Tracing {
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", service.to_owned()),
                KeyValue::new("service.version", version.to_owned()),
                KeyValue::new("service.instance.id", format!("{service}-{port}")),
                KeyValue::new("deployment.environment.name", "demo"),
            ])
            .build();
        let index = {
            let mut resources = self.resources.lock().unwrap_or_else(|p| p.into_inner());
            resources.push(resource.clone());
            resources.len() - 1
        };
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_span_processor(Forward {
                index,
                queue: self.queue.clone(),
                counts: self.counts.clone(),
            })
            .build();
        Tracing {
            tracer: Some(provider.tracer("seam-demo-fleet")),
            provider: Some(provider),
        }
    }

    /// Exports what is queued (waiting at most a few seconds) and stops the thread.
    pub fn shutdown(mut self) {
        let (done, answer) = mpsc::sync_channel(1);
        if self.queue.send(Message::Stop(done)).is_ok()
            && answer.recv_timeout(EXPORT_TIMEOUT * 2).is_ok()
        {
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Builds the one OTLP/HTTP exporter (protobuf).
fn exporter(endpoint: &str, token: &str) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    Ok(opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .with_headers(HashMap::from([(
            "authorization".to_owned(),
            format!("Bearer {token}"),
        )]))
        .build()?)
}

/// The span processor of every instance: finished spans into the shared queue, never
/// waiting (a full queue drops the span).
#[derive(Debug)]
struct Forward {
    index: usize,
    queue: SyncSender<Message>,
    counts: Arc<Counts>,
}

impl std::fmt::Debug for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counts")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

impl SpanProcessor for Forward {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self
            .queue
            .try_send(Message::Span(self.index, Box::new(span)))
            .is_err()
        {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The exporter thread's state.
struct Exporter {
    endpoint: String,
    exporter: opentelemetry_otlp::SpanExporter,
    resources: Arc<Mutex<Vec<Resource>>>,
    counts: Arc<Counts>,
    /// The last export failed (logged once, until one succeeds).
    failing: bool,
    exported: u64,
    /// Spans whose export failed.
    lost: u64,
    reported_dropped: u64,
    last_report: Instant,
}

impl Exporter {
    fn run(mut self, queue: Receiver<Message>) {
        let mut pending: Vec<(usize, Box<SpanData>)> = Vec::new();
        let mut next = Instant::now() + FLUSH_EVERY;
        loop {
            match queue.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(Message::Span(index, span)) => pending.push((index, span)),
                Ok(Message::Stop(done)) => {
                    while let Ok(Message::Span(index, span)) = queue.try_recv() {
                        pending.push((index, span));
                    }
                    self.export(std::mem::take(&mut pending));
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.export(pending);
                    return;
                }
            }
            if Instant::now() >= next {
                self.export(std::mem::take(&mut pending));
                next = Instant::now() + FLUSH_EVERY;
            }
        }
    }

    /// Exports the spans, one request per instance (and per [`MAX_BATCH`] spans). After
    /// a failure the rest of the round is dropped: one timeout per second at most while
    /// Seam is away.
    fn export(&mut self, spans: Vec<(usize, Box<SpanData>)>) {
        let mut groups: BTreeMap<usize, Vec<SpanData>> = BTreeMap::new();
        for (index, span) in spans {
            groups.entry(index).or_default().push(*span);
        }
        let mut failed = None;
        for (index, mut spans) in groups {
            while !spans.is_empty() {
                let rest = spans.split_off(spans.len().min(MAX_BATCH));
                let batch = std::mem::replace(&mut spans, rest);
                let count = batch.len() as u64;
                if failed.is_some() {
                    self.lost += count;
                    continue;
                }
                let resource = self
                    .resources
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(index)
                    .cloned();
                let Some(resource) = resource else { continue };
                self.exporter.set_resource(&resource);
                match block_on(self.exporter.export(batch)) {
                    Ok(()) => self.exported += count,
                    Err(err) => {
                        self.lost += count;
                        failed = Some(err);
                    }
                }
            }
        }
        match failed {
            Some(err) if !self.failing => {
                self.failing = true;
                tracing::warn!(endpoint = %self.endpoint, error = %err, "cannot export spans; trying again every second, dropping what fails");
            }
            None if self.failing && self.exported > 0 => {
                self.failing = false;
                tracing::info!(endpoint = %self.endpoint, "exporting spans again");
            }
            _ => {}
        }
        if self.last_report.elapsed() >= Duration::from_secs(60) {
            let dropped = self.counts.dropped.load(Ordering::Relaxed);
            tracing::info!(
                exported = self.exported,
                failed = self.lost,
                dropped_queue_full = dropped,
                "spans so far"
            );
            if dropped > self.reported_dropped {
                tracing::warn!(
                    dropped = dropped - self.reported_dropped,
                    "spans dropped in the last minute: the export queue was full"
                );
            }
            self.reported_dropped = dropped;
            self.last_report = Instant::now();
        }
    }
}

/// Runs a future to completion on this (plain) thread: the blocking HTTP client does its
/// work inside `export`, so this only polls until it is done.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// One instance's tracer; without a pipeline (`--no-traces`) it records nothing and
/// every context it hands out is empty.
pub struct Tracing {
    tracer: Option<SdkTracer>,
    /// Kept with the tracer; dropping the last one ends the provider.
    #[allow(dead_code)]
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    pub fn off() -> Tracing {
        Tracing {
            tracer: None,
            provider: None,
        }
    }

    /// Starts the SERVER span of a request into `route`: a child of the incoming
    /// `traceparent` when `read_parent`, else a root (as a service that ignores it).
    pub fn server(&self, headers: &HeaderMap, route: &'static str, read_parent: bool) -> Context {
        let Some(tracer) = &self.tracer else {
            return Context::new();
        };
        let parent = if read_parent {
            TraceContextPropagator::new().extract(&HeaderExtractor(headers))
        } else {
            Context::new()
        };
        let span = tracer
            .span_builder(format!("GET {route}"))
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", route),
                KeyValue::new("url.path", route),
                KeyValue::new("url.scheme", "http"),
            ])
            .start_with_context(tracer, &parent);
        parent.with_span(span)
    }

    /// Starts the CLIENT span of a `GET url` to `127.0.0.1:port` (the callee's `route`)
    /// within `parent`, and the headers that carry its context (`traceparent`) to the
    /// callee.
    pub fn http_client(
        &self,
        parent: &Context,
        port: u16,
        route: &'static str,
        url: &str,
    ) -> (Context, HeaderMap) {
        let mut headers = HeaderMap::new();
        let Some(tracer) = &self.tracer else {
            return (Context::new(), headers);
        };
        let span = tracer
            .span_builder(format!("GET {route}"))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.template", route),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", i64::from(port)),
                KeyValue::new("url.full", url.to_owned()),
            ])
            .start_with_context(tracer, parent);
        let cx = parent.with_span(span);
        TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut headers));
        (cx, headers)
    }

    /// Starts the CLIENT span of a PostgreSQL query to the database `namespace`.
    pub fn database(&self, parent: &Context, namespace: &str, operation: &'static str) -> Context {
        let Some(tracer) = &self.tracer else {
            return Context::new();
        };
        let span = tracer
            .span_builder(format!("{operation} {namespace}"))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.namespace", namespace.to_owned()),
                KeyValue::new("db.operation.name", operation),
                KeyValue::new("server.address", format!("{namespace}.db.internal")),
                KeyValue::new("server.port", 5432),
            ])
            .start_with_context(tracer, parent);
        parent.with_span(span)
    }
}

/// Ends a SERVER span with its status code (ERROR on 5xx).
pub fn end_server(cx: &Context, status: u16) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(status),
    ));
    if status >= 500 {
        span.set_status(Status::error(format!("HTTP {status}")));
    }
    span.end();
}

/// Ends a CLIENT span with the answer's status code, or with the transport error.
pub fn end_client(cx: &Context, answer: Result<u16, &reqwest::Error>) {
    let span = cx.span();
    match answer {
        Ok(status) => {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status),
            ));
            if status >= 400 {
                span.set_attribute(KeyValue::new("error.type", status.to_string()));
                span.set_status(Status::error(format!("HTTP {status}")));
            }
        }
        Err(err) => {
            let kind = if err.is_timeout() {
                "timeout"
            } else if err.is_connect() {
                "connect"
            } else {
                "request"
            };
            span.set_attribute(KeyValue::new("error.type", kind));
            span.set_status(Status::error(err.to_string()));
        }
    }
    span.end();
}

/// Ends a database CLIENT span.
pub fn end(cx: &Context) {
    cx.span().end();
}

/// Reads `traceparent` (and `tracestate`) from a request's headers.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

/// Writes `traceparent` (and `tracestate`) into a request's headers.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_goes_out_and_comes_back_in() {
        let provider = SdkTracerProvider::builder().build();
        let tracing = Tracing {
            tracer: Some(provider.tracer("test")),
            provider: Some(provider),
        };
        let server = tracing.server(&HeaderMap::new(), "/work", true);
        assert!(!server.span().span_context().is_remote());
        let (client, headers) =
            tracing.http_client(&server, 8101, "/work", "http://127.0.0.1:8101/work");
        let traceparent = headers["traceparent"].to_str().unwrap();
        let client_span = client.span().span_context().clone();
        assert_eq!(
            traceparent,
            format!("00-{}-{}-01", client_span.trace_id(), client_span.span_id())
        );
        // The callee continues the caller's trace, as the client span's child ...
        let callee = TraceContextPropagator::new().extract(&HeaderExtractor(&headers));
        assert_eq!(
            callee.span().span_context().span_id(),
            client_span.span_id()
        );
        let continued = tracing.server(&headers, "/work", true);
        assert_eq!(
            continued.span().span_context().trace_id(),
            client_span.trace_id()
        );
        // ... unless it ignores traceparent: then it starts a trace of its own.
        let broken = tracing.server(&headers, "/work", false);
        assert_ne!(
            broken.span().span_context().trace_id(),
            client_span.trace_id()
        );
    }

    #[test]
    fn without_traces_nothing_is_recorded_or_sent() {
        let tracing = Tracing::off();
        let server = tracing.server(&HeaderMap::new(), "/work", true);
        assert!(!server.has_active_span());
        let (_, headers) =
            tracing.http_client(&server, 8101, "/work", "http://127.0.0.1:8101/work");
        assert!(headers.is_empty());
        end_server(&server, 500);
    }

    #[test]
    fn the_pipeline_hands_finished_spans_to_the_queue_with_their_instance() {
        let (queue, spans) = mpsc::sync_channel(4);
        let counts: Arc<Counts> = Arc::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(Forward {
                index: 7,
                queue,
                counts: counts.clone(),
            })
            .build();
        let tracing = Tracing {
            tracer: Some(provider.tracer("test")),
            provider: Some(provider),
        };
        for _ in 0..6 {
            end_server(&tracing.server(&HeaderMap::new(), "/work", true), 503);
        }
        let mut received = 0;
        while let Ok(Message::Span(index, span)) = spans.try_recv() {
            assert_eq!(index, 7);
            assert_eq!(span.span_kind, SpanKind::Server);
            assert!(matches!(span.status, Status::Error { .. }));
            assert!(span
                .attributes
                .contains(&KeyValue::new("http.response.status_code", 503)));
            received += 1;
        }
        assert_eq!(received, 4);
        assert_eq!(
            counts.dropped.load(Ordering::Relaxed),
            2,
            "a full queue drops"
        );
    }
}
