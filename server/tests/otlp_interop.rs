//! Interoperability with the OpenTelemetry Rust SDK: three small services on loopback,
//! each instrumented with the SDK and exporting with a different OTLP protocol (HTTP
//! protobuf, HTTP JSON, gRPC), call each other over real HTTP with W3C `traceparent`;
//! Seam pairs their spans into the call graph with their versions.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use common::TestServer;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::KeyValue;
use opentelemetry_otlp as otlp;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

/// One instrumented service: its tracer, where its one dependency listens, and whether
/// it queries a database.
struct Service {
    provider: SdkTracerProvider,
    next: Option<String>,
    database: Option<&'static str>,
    client: reqwest::Client,
}

fn resource(name: &str, version: &str) -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(name.to_owned())
        .with_attributes([
            KeyValue::new("service.version", version.to_owned()),
            KeyValue::new("service.instance.id", format!("{name}-1")),
        ])
        .build()
}

/// A provider exporting over OTLP/HTTP; the SDK's blocking client is built off the
/// async runtime.
fn http_provider(name: &str, version: &str, endpoint: String, json: bool) -> SdkTracerProvider {
    let resource = resource(name, version);
    std::thread::spawn(move || {
        use otlp::{WithExportConfig, WithHttpConfig};
        let exporter = otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(if json {
                otlp::Protocol::HttpJson
            } else {
                otlp::Protocol::HttpBinary
            })
            .with_endpoint(endpoint)
            .with_headers(HashMap::new())
            .build()
            .unwrap();
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build()
    })
    .join()
    .unwrap()
}

fn grpc_provider(name: &str, version: &str, endpoint: String) -> SdkTracerProvider {
    use otlp::WithExportConfig;
    let exporter = otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .unwrap();
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(name, version))
        .build()
}

/// Serves one request: a server span continuing the caller's trace, then a client span
/// per call with the context injected as `traceparent`.
async fn handle(State(service): State<Arc<Service>>, headers: HeaderMap) -> &'static str {
    let propagator = TraceContextPropagator::new();
    let incoming: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let parent = propagator.extract(&incoming);
    let tracer = service.provider.tracer("interop");
    let server = tracer
        .span_builder("GET /work")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/work"),
            KeyValue::new("url.path", "/work"),
            KeyValue::new("http.response.status_code", 200),
        ])
        .start_with_context(&tracer, &parent);
    let cx = parent.with_span(server);
    if let Some(url) = &service.next {
        let port: i64 = url.rsplit(':').next().unwrap().parse().unwrap();
        let client = tracer
            .span_builder("GET")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", port),
                KeyValue::new("url.full", format!("{url}/work")),
            ])
            .start_with_context(&tracer, &cx);
        let client_cx = cx.with_span(client);
        let mut outgoing = HashMap::new();
        propagator.inject_context(&client_cx, &mut outgoing);
        let mut request = service.client.get(format!("{url}/work"));
        for (k, v) in outgoing {
            request = request.header(k, v);
        }
        let status = request.send().await.unwrap().status();
        let span = client_cx.span();
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        ));
        span.end();
    }
    if let Some(database) = service.database {
        let mut query = tracer
            .span_builder("SELECT stock")
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.namespace", database),
                KeyValue::new("db.operation.name", "SELECT"),
            ])
            .start_with_context(&tracer, &cx);
        opentelemetry::trace::Span::set_status(&mut query, Status::Ok);
        opentelemetry::trace::Span::end(&mut query);
    }
    cx.span().end();
    "ok"
}

async fn serve(service: Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/work", get(handle))
        .with_state(Arc::new(service));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_instrumented_with_the_sdk_make_the_call_graph() {
    // Calls per request are counted once a trace has been quiet for the time-to-live.
    let seam = TestServer::start_with(|config| config.traces.pair_ttl_secs = 1).await;
    let receivers = seam.running.otlp.as_ref().unwrap();
    let http = format!("http://{}/v1/traces", receivers.http_addr);
    let grpc = format!("http://{}", receivers.grpc_addr.unwrap());
    let client = reqwest::Client::new();

    let back = grpc_provider("back", "3.2.1", grpc);
    let middle = http_provider("middle", "2.0.0", http.clone(), true);
    let front = http_provider("front", "1.0.0", http, false);
    let back_url = serve(Service {
        provider: back.clone(),
        next: None,
        database: Some("inventory-db"),
        client: client.clone(),
    })
    .await;
    let middle_url = serve(Service {
        provider: middle.clone(),
        next: Some(back_url),
        database: None,
        client: client.clone(),
    })
    .await;
    let front_url = serve(Service {
        provider: front.clone(),
        next: Some(middle_url),
        database: None,
        client: client.clone(),
    })
    .await;

    for _ in 0..5 {
        let answer = client
            .get(format!("{front_url}/work"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    for provider in [front, middle, back] {
        let flushed = tokio::task::spawn_blocking(move || provider.force_flush())
            .await
            .unwrap();
        assert!(flushed.is_ok(), "{flushed:?}");
    }

    let mut graph = Value::Null;
    let edge = |graph: &Value, caller: &str, callee: &str| -> Option<Value> {
        graph["edges"]
            .as_array()?
            .iter()
            .find(|e| e["caller"] == caller && e["callee"] == callee)
            .cloned()
    };
    for _ in 0..100 {
        let (_, body) = seam.get_json("/api/v1/graph?source=observed").await;
        graph = body;
        let done = [
            ("user", "front"),
            ("front", "middle"),
            ("middle", "back"),
            ("back", "inventory-db"),
        ]
        .iter()
        .all(|(a, b)| edge(&graph, a, b).is_some_and(|e| e["calls"] == 5.0))
            && edge(&graph, "front", "middle")
                .is_some_and(|e| e["calls_per_request"]["requests"] == 5.0);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let front_middle = edge(&graph, "front", "middle").unwrap_or_else(|| panic!("{graph:#}"));
    assert_eq!(front_middle["calls"], 5.0, "{graph:#}");
    assert_eq!(front_middle["caller_version"], "1.0.0");
    assert_eq!(front_middle["callee_version"], "2.0.0");
    assert_eq!(front_middle["operations"], serde_json::json!(["GET /work"]));
    assert_eq!(
        front_middle["calls_per_request"]["mean"], 1.0,
        "{front_middle:#}"
    );
    let middle_back = edge(&graph, "middle", "back").unwrap();
    assert_eq!(middle_back["callee_version"], "3.2.1");
    assert_eq!(middle_back["calls"], 5.0, "{graph:#}");
    let db = edge(&graph, "back", "inventory-db").unwrap();
    assert_eq!(db["callee_kind"], "database");
    assert_eq!(edge(&graph, "user", "front").unwrap()["calls"], 5.0);
    let (_, propagation) = seam.get_json("/api/v1/propagation").await;
    assert_eq!(propagation["total"], 0, "{propagation}");
    // Span-derived health for services Seam does not scrape.
    let (_, health) = seam.get_json("/api/v1/health").await;
    let middle = health["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "middle")
        .unwrap_or_else(|| panic!("{health:#}"));
    assert_eq!(middle["state"], "healthy", "{middle:#}");
    assert!(middle["request_rate"].as_f64().unwrap() > 0.0, "{middle:#}");
}
