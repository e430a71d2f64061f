//! The OTLP receivers over real HTTP and gRPC on loopback: every encoding accepted and
//! turned into the same spans, the conformance files of other projects read, and every
//! refusal (size, encoding, token, a full queue) answered the way OTLP exporters
//! understand. Last, the OpenTelemetry Rust SDK's own exporters, all three protocols.

mod common;

use common::testdata;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use seam_collectors::otlp::{
    self, decode_json, decode_protobuf, OtlpConfig, ReceiverStats, Receivers, RequestOutcome,
    SpanBatch,
};
use seam_traces::{Protocol, SpanKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

const TRACE: [u8; 16] = [
    0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c,
];
const SERVER: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];
const CLIENT: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x75];
const CALLER: [u8; 8] = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];

/// A running pair of receivers and what they feed.
struct Running {
    addrs: Receivers,
    batches: mpsc::Receiver<SpanBatch>,
    stats: Arc<ReceiverStats>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs.http_addr)
    }

    fn grpc_url(&self) -> String {
        format!("http://{}", self.addrs.grpc_addr.unwrap())
    }

    /// The next batch, within a few seconds.
    async fn batch(&mut self) -> SpanBatch {
        tokio::time::timeout(Duration::from_secs(10), self.batches.recv())
            .await
            .expect("a batch within 10 s")
            .expect("the queue is open")
    }
}

fn test_config() -> OtlpConfig {
    OtlpConfig {
        http_listen: "127.0.0.1:0".parse().unwrap(),
        grpc_listen: Some("127.0.0.1:0".parse().unwrap()),
        max_body_bytes: 256 * 1024,
        ..OtlpConfig::default()
    }
}

async fn run(config: OtlpConfig) -> Running {
    let (out, batches) = mpsc::channel(config.queue_batches);
    let stats = Arc::new(ReceiverStats::default());
    let (stop, shutdown) = watch::channel(false);
    let (addrs, tasks) = otlp::start(&config, out, stats.clone(), shutdown)
        .await
        .unwrap();
    Running {
        addrs,
        batches,
        stats,
        stop,
        tasks,
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

/// A server span of `checkout` 1.4.2 answering `GET /cart/{id}` with 503 (an error), and
/// the client span it made to `payments` over gRPC.
fn request() -> ExportTraceServiceRequest {
    let server = Span {
        trace_id: TRACE.to_vec(),
        span_id: SERVER.to_vec(),
        parent_span_id: CALLER.to_vec(),
        name: "GET /cart/{id}".into(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_250_000_000,
        attributes: vec![
            kv("http.request.method", text("GET")),
            kv("http.route", text("/cart/{id}")),
            kv("url.path", text("/cart/42")),
            kv("http.response.status_code", any_value::Value::IntValue(503)),
        ],
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        ..Span::default()
    };
    let client = Span {
        trace_id: TRACE.to_vec(),
        span_id: CLIENT.to_vec(),
        parent_span_id: SERVER.to_vec(),
        name: "payments.Pay/Charge".into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: 1_700_000_000_010_000_000,
        end_time_unix_nano: 1_700_000_000_200_000_000,
        attributes: vec![
            kv("rpc.system", text("grpc")),
            kv("rpc.service", text("payments.Pay")),
            kv("rpc.method", text("Charge")),
            kv("peer.service", text("payments")),
            kv("rpc.grpc.status_code", any_value::Value::IntValue(0)),
        ],
        links: vec![span::Link {
            trace_id: [7; 16].to_vec(),
            span_id: [8; 8].to_vec(),
            ..span::Link::default()
        }],
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", text("checkout")),
                    kv("service.version", text("1.4.2")),
                    kv("service.namespace", text("shop")),
                    kv("deployment.environment.name", text("prod")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![server, client],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The same request in OTLP/JSON, as the specification writes it (upper-case hex for
/// one id, 64-bit integers as strings, kinds as numbers).
fn request_json() -> String {
    r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"checkout"}},
        {"key":"service.version","value":{"stringValue":"1.4.2"}},
        {"key":"service.namespace","value":{"stringValue":"shop"}},
        {"key":"deployment.environment.name","value":{"stringValue":"prod"}}]},
      "scopeSpans":[{"scope":{"name":"test"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174",
         "parentSpanId":"0102030405060708","name":"GET /cart/{id}","kind":2,
         "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000",
         "attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},
           {"key":"http.route","value":{"stringValue":"/cart/{id}"}},
           {"key":"url.path","value":{"stringValue":"/cart/42"}},
           {"key":"http.response.status_code","value":{"intValue":"503"}}],
         "status":{"code":2,"message":"boom"}},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175",
         "parentSpanId":"eee19b7ec3c1b174","name":"payments.Pay/Charge","kind":3,
         "startTimeUnixNano":"1700000000010000000","endTimeUnixNano":"1700000000200000000",
         "attributes":[{"key":"rpc.system","value":{"stringValue":"grpc"}},
           {"key":"rpc.service","value":{"stringValue":"payments.Pay"}},
           {"key":"rpc.method","value":{"stringValue":"Charge"}},
           {"key":"peer.service","value":{"stringValue":"payments"}},
           {"key":"rpc.grpc.status_code","value":{"intValue":0}}],
         "links":[{"traceId":"07070707070707070707070707070707","spanId":"0808080808080808"}]}
      ]}]}]}"#
        .to_owned()
}

/// What [`request`] must become, whatever the encoding.
fn assert_request_spans(spans: &[seam_traces::Span]) {
    assert_eq!(spans.len(), 2);
    let (server, client) = (&spans[0], &spans[1]);
    for span in spans {
        assert_eq!(span.trace_id, TRACE);
        assert_eq!(&*span.resource.service, "checkout");
        assert_eq!(span.resource.version.as_deref(), Some("1.4.2"));
        assert_eq!(span.resource.namespace.as_deref(), Some("shop"));
        assert_eq!(span.resource.environment.as_deref(), Some("prod"));
    }
    assert!(Arc::ptr_eq(&server.resource, &client.resource));

    assert_eq!(server.span_id, SERVER);
    assert_eq!(server.parent, Some(CALLER));
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.protocol, Protocol::Http);
    assert_eq!(server.operation.as_deref(), Some("GET /cart/{id}"));
    assert_eq!(server.http_status, Some(503));
    assert!(server.status_error);
    assert_eq!(server.start_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(server.duration_seconds(), 0.25);

    assert_eq!(client.span_id, CLIENT);
    assert_eq!(client.parent, Some(SERVER));
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.protocol, Protocol::Grpc);
    assert_eq!(client.operation.as_deref(), Some("payments.Pay/Charge"));
    assert_eq!(client.peer.as_deref(), Some("payments"));
    assert_eq!(client.grpc_status, Some(0));
    assert!(!client.status_error && !client.is_error());
    assert_eq!(client.links, [([7; 16], [8; 8])]);
}

/// `google.rpc.Status`, as the receivers' protobuf error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(
    url: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test]
async fn protobuf_and_json_become_the_same_spans() {
    let mut rx = run(test_config()).await;

    let response = post(
        &rx.url("/v1/traces"),
        "application/x-protobuf",
        &[],
        request().encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/x-protobuf");
    let body = response.bytes().await.unwrap();
    let answer = ExportTraceServiceResponse::decode(&body[..]).unwrap();
    assert_eq!(answer.partial_success, None);
    assert_request_spans(&rx.batch().await.spans);

    let response = post(
        &rx.url("/v1/traces"),
        "application/json; charset=utf-8",
        &[],
        request_json().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(response.text().await.unwrap(), "{}");
    assert_request_spans(&rx.batch().await.spans);

    // The same through the functions, and YAML through the same serde types.
    assert_request_spans(&decode_protobuf(&request().encode_to_vec()).unwrap().spans);
    assert_request_spans(&decode_json(request_json().as_bytes()).unwrap().spans);
    let yaml: otlp::json::ExportRequest = serde_saphyr::from_str(&request_json()).unwrap();
    assert_request_spans(&yaml.decode().spans);

    let counts = rx.stats.snapshot();
    assert_eq!(counts.spans_accepted, 4);
    assert_eq!(counts.requests_with(RequestOutcome::Accepted), 2);
    assert!(counts.bytes_received > 1000);
}

#[tokio::test]
async fn gzip_bodies_are_read() {
    let mut rx = run(test_config()).await;
    for (content_type, body) in [
        ("application/x-protobuf", request().encode_to_vec()),
        ("application/json", request_json().into_bytes()),
    ] {
        let response = post(
            &rx.url("/v1/traces"),
            content_type,
            &[("content-encoding", "gzip")],
            gzip(&body),
        )
        .await;
        assert_eq!(response.status(), 200, "{content_type}");
        assert_request_spans(&rx.batch().await.spans);
    }
    // Gzip that is not.
    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[("content-encoding", "gzip")],
        request_json().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[("content-encoding", "br")],
        request_json().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn conformance_files_decode() {
    if let Some(dir) = testdata("otlp-proto-examples") {
        let body = std::fs::read(dir.join("trace.json")).unwrap();
        let decoded = decode_json(&body).unwrap();
        assert_eq!(decoded.rejected, 0);
        let span = &decoded.spans[0];
        assert_eq!(&*span.resource.service, "my.service");
        assert_eq!(span.kind, SpanKind::Server);
        assert_eq!(span.trace_id[..2], [0x5b, 0x8e]);
        assert_eq!(
            span.parent,
            Some([0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73])
        );
        assert_eq!(span.duration_seconds(), 1.0);

        // And over HTTP.
        let mut rx = run(test_config()).await;
        let response = post(&rx.url("/v1/traces"), "application/json", &[], body).await;
        assert_eq!(response.status(), 200);
        assert_eq!(rx.batch().await.spans, decoded.spans);
    }

    if let Some(dir) = testdata("jaeger-otlp-fixtures") {
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let decoded = decode_json(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(decoded.rejected, 0, "{}", path.display());
            assert!(!decoded.spans.is_empty(), "{}", path.display());
            files += 1;
            let name = path.file_name().unwrap().to_str().unwrap();
            if name == "memory_otel_traces_01.json" {
                let kinds: Vec<SpanKind> = decoded.spans.iter().map(|s| s.kind).collect();
                for kind in [
                    SpanKind::Server,
                    SpanKind::Client,
                    SpanKind::Producer,
                    SpanKind::Consumer,
                ] {
                    assert!(kinds.contains(&kind), "{kinds:?}");
                }
                assert!(decoded
                    .spans
                    .iter()
                    .all(|s| &*s.resource.service == "service-x"));
            }
            if name == "otlp2jaeger-in.json" {
                assert_eq!(decoded.spans.len(), 2);
                assert_eq!(
                    decoded.spans[0].peer.as_deref(),
                    Some("telemetrygen-client")
                );
            }
        }
        assert_eq!(files, 3);
    }

    if let Some(dir) = testdata("otel-contrib-servicegraph") {
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let request: otlp::json::ExportRequest =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let decoded = request.decode();
            assert_eq!(decoded.rejected, 0, "{}", path.display());
            assert!(!decoded.spans.is_empty(), "{}", path.display());
            files += 1;
            if path.ends_with("messaging-system-trace.yaml") {
                let [client, server] = &decoded.spans[..] else {
                    panic!("{:?}", decoded.spans);
                };
                assert_eq!(&*client.resource.service, "foo-server");
                assert_eq!(client.kind, SpanKind::Client);
                assert_eq!(client.parent, None);
                assert_eq!(&*server.resource.service, "bar-requester");
                assert_eq!(server.kind, SpanKind::Server);
                assert_eq!(server.parent, Some(client.span_id));
                assert_eq!(server.trace_id, client.trace_id);
            }
        }
        assert_eq!(files, 4);
    }
}

/// Sends a chunked body of `total` bytes without `Content-Length`, reading the answer
/// while it writes (the receiver answers before the body ends); returns the status line
/// and the head.
async fn chunked(addr: std::net::SocketAddr, headers: &str, total: usize) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n{headers}\r\n"
    );
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![0x0a_u8; 16 * 1024];
        let mut sent = 0;
        while sent < total {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        write.write_all(b"0\r\n\r\n").await
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            other => panic!(
                "no answer: {other:?}, got {:?}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    writer.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn bodies_past_the_limit_are_refused_while_read() {
    let rx = run(test_config()).await;
    // 4 MiB streamed without Content-Length against a 256 KiB limit.
    let head = chunked(rx.addrs.http_addr, "", 4 * 1024 * 1024).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // A gzip bomb: 64 MiB of zeros in about 64 KiB, as JSON's worth of spaces.
    let mut bomb = b"{\"resourceSpans\":[]".to_vec();
    bomb.resize(64 * 1024 * 1024, b' ');
    bomb.push(b'}');
    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[("content-encoding", "gzip")],
        gzip(&bomb),
    )
    .await;
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], 8);
    assert!(
        body["message"].as_str().unwrap().contains("262144 bytes"),
        "{body}"
    );

    // Just under the limit is fine.
    let mut fine = b"{\"resourceSpans\":[]".to_vec();
    fine.resize(256 * 1024 - 1, b' ');
    fine.push(b'}');
    let response = post(&rx.url("/v1/traces"), "application/json", &[], gzip(&fine)).await;
    assert_eq!(response.status(), 400, "not gzip-encoded, so not JSON");
    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[("content-encoding", "gzip")],
        gzip(&fine),
    )
    .await;
    assert_eq!(response.status(), 200);

    assert_eq!(
        rx.stats.snapshot().requests_with(RequestOutcome::TooLarge),
        2
    );

    // No limit but the configured one (axum's default of 2 MB does not apply).
    let rx = run(OtlpConfig {
        max_body_bytes: 8 * 1024 * 1024,
        ..test_config()
    })
    .await;
    let mut large = b"{\"resourceSpans\":[]".to_vec();
    large.resize(5 * 1024 * 1024, b' ');
    large.push(b'}');
    let response = post(&rx.url("/v1/traces"), "application/json", &[], large).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn undecodable_bodies_are_400_in_the_requests_encoding() {
    let rx = run(test_config()).await;

    let response = post(
        &rx.url("/v1/traces"),
        "application/x-protobuf",
        &[],
        vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(header(&response, "content-type"), "application/x-protobuf");
    let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[],
        b"{\"resourceSpans\": [\n  {\"scopeSpans\": [{\"spans\": [{\"kind\": {}}]}]}\n]}".to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(header(&response, "content-type"), "application/json");
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["code"], 3);
    let message = status["message"].as_str().unwrap();
    assert!(message.contains("line 2"), "{message}");

    let response = post(&rx.url("/v1/traces"), "text/plain", &[], b"hi".to_vec()).await;
    assert_eq!(response.status(), 415);
    let status: serde_json::Value = response.json().await.unwrap();
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf"),
        "{status}"
    );

    let response = reqwest::get(rx.url("/v1/traces")).await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "allow"), "POST");

    for signal in ["/v1/metrics", "/v1/logs"] {
        let response = post(
            &rx.url(signal),
            "application/x-protobuf",
            &[],
            request().encode_to_vec(),
        )
        .await;
        assert_eq!(response.status(), 404);
        let status = RpcStatus::decode(response.bytes().await.unwrap()).unwrap();
        assert!(
            status.message.contains("traces only, at /v1/traces")
                && status.message.contains("Prometheus"),
            "{}",
            status.message
        );
    }
    let counts = rx.stats.snapshot();
    assert_eq!(counts.requests_with(RequestOutcome::Rejected), 2);
    assert_eq!(counts.requests_with(RequestOutcome::Unsupported), 4);
}

#[tokio::test]
async fn bad_ids_refuse_their_spans_only() {
    let mut rx = run(test_config()).await;
    let mut request = request();
    let spans = &mut request.resource_spans[0].scope_spans[0].spans;
    let good = spans[0].clone();
    let mut short_trace = good.clone();
    short_trace.trace_id.pop();
    let mut zero_span = good.clone();
    zero_span.span_id = vec![0; 8];
    let mut bad_parent = good.clone();
    bad_parent.parent_span_id = vec![1, 2, 3];
    let mut zero_trace = good.clone();
    zero_trace.trace_id = vec![0; 16];
    let mut zero_parent = good.clone();
    zero_parent.parent_span_id = vec![0; 8];
    spans.extend([short_trace, zero_span, bad_parent, zero_trace, zero_parent]);

    let response = post(
        &rx.url("/v1/traces"),
        "application/x-protobuf",
        &[],
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 4);
    assert!(
        partial
            .error_message
            .contains("resource_spans[0].scope_spans[0].spans[2]: traceId is 15 bytes"),
        "{}",
        partial.error_message
    );
    let batch = rx.batch().await;
    assert_eq!(batch.spans.len(), 3);
    assert_eq!(batch.spans[2].parent, None, "an all-zero parent is a root");

    // JSON: bad hex too; `rejectedSpans` is a number.
    let body = request_json().replace(
        "\"spanId\":\"eee19b7ec3c1b175\"",
        "\"spanId\":\"not-hex-at-all!!\"",
    );
    let response = post(
        &rx.url("/v1/traces"),
        "application/json",
        &[],
        body.into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], 1);
    let message = answer["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("spanId") && message.contains("not hex"),
        "{message}"
    );
    assert_eq!(rx.batch().await.spans.len(), 1);

    // Nothing usable: nothing queued, still a partial success.
    let mut request = self::request();
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.span_id.clear();
    }
    let response = post(
        &rx.url("/v1/traces"),
        "application/x-protobuf",
        &[],
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(rx.batches.try_recv().is_err());

    let counts = rx.stats.snapshot();
    assert_eq!(counts.spans_rejected, 7);
    assert_eq!(counts.spans_accepted, 4);
    assert_eq!(counts.requests_with(RequestOutcome::Partial), 3);
}

#[tokio::test]
async fn tokens_are_required_when_configured() {
    let mut rx = run(OtlpConfig {
        tokens: vec!["collector:s3cr3t".into()],
        ..test_config()
    })
    .await;
    let url = rx.url("/v1/traces");
    for headers in [&[][..], &[("authorization", "Bearer wrong")][..]] {
        let response = post(
            &url,
            "application/json",
            headers,
            request_json().into_bytes(),
        )
        .await;
        assert_eq!(response.status(), 401);
        assert_eq!(header(&response, "www-authenticate"), "Bearer");
    }
    let response = post(
        &url,
        "application/json",
        &[("authorization", "Bearer s3cr3t")],
        request_json().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_request_spans(&rx.batch().await.spans);

    let mut client = TraceServiceClient::connect(rx.grpc_url()).await.unwrap();
    let status = client.export(request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let mut authorized = tonic::Request::new(request());
    authorized
        .metadata_mut()
        .insert("authorization", "Bearer s3cr3t".parse().unwrap());
    client.export(authorized).await.unwrap();
    assert_request_spans(&rx.batch().await.spans);

    assert_eq!(
        rx.stats
            .snapshot()
            .requests_with(RequestOutcome::Unauthorized),
        3
    );
}

#[tokio::test]
async fn a_full_queue_says_come_back_later() {
    let mut rx = run(OtlpConfig {
        queue_batches: 1,
        ..test_config()
    })
    .await;
    let url = rx.url("/v1/traces");
    let send = || post(&url, "application/json", &[], request_json().into_bytes());
    assert_eq!(send().await.status(), 200);
    let response = send().await;
    assert_eq!(response.status(), 429);
    assert_eq!(header(&response, "retry-after"), "1");
    // Answered before the body was read: the connection is not reused.
    assert_eq!(header(&response, "connection"), "close");

    let mut client = TraceServiceClient::connect(rx.grpc_url()).await.unwrap();
    let status = client.export(request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    use tonic_types::StatusExt;
    let retry = status.get_details_retry_info().expect("RetryInfo");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));

    // Drained, it takes again.
    rx.batch().await;
    assert_eq!(send().await.status(), 200);

    // Closed: Seam is going away.
    rx.batches.close();
    let response = send().await;
    assert_eq!(response.status(), 503);
    assert!(!header(&response, "retry-after").is_empty());
    let status = client.export(request()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);

    let counts = rx.stats.snapshot();
    assert_eq!(counts.requests_with(RequestOutcome::Throttled), 2);
    assert_eq!(counts.requests_with(RequestOutcome::Unavailable), 2);
}

#[tokio::test]
async fn grpc_plain_and_gzip() {
    let mut rx = run(test_config()).await;
    let mut client = TraceServiceClient::connect(rx.grpc_url()).await.unwrap();
    let answer = client.export(request()).await.unwrap().into_inner();
    assert_eq!(answer.partial_success, None);
    assert_request_spans(&rx.batch().await.spans);

    let mut client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    client.export(request()).await.unwrap();
    assert_request_spans(&rx.batch().await.spans);

    // Partial success.
    let mut partial = request();
    partial.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![1; 3];
    let answer = client.export(partial).await.unwrap().into_inner();
    assert_eq!(answer.partial_success.unwrap().rejected_spans, 1);
    assert_eq!(rx.batch().await.spans.len(), 1);

    // Past the limit, compressed or not.
    let mut big = request();
    big.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(kv("blob", text(&"x".repeat(300 * 1024))));
    let status = client.export(big.clone()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    let mut plain = TraceServiceClient::connect(rx.grpc_url()).await.unwrap();
    let status = plain.export(big).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");

    let counts = rx.stats.snapshot();
    assert_eq!(counts.requests_with(RequestOutcome::Accepted), 2);
    assert_eq!(counts.requests_with(RequestOutcome::Partial), 1);
    assert_eq!(counts.requests_with(RequestOutcome::TooLarge), 2);
}

#[tokio::test]
async fn stops_on_shutdown() {
    let mut rx = run(test_config()).await;
    rx.stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.tasks.join_next().await.is_some() {}
    })
    .await
    .expect("both receivers stop");
    assert!(reqwest::get(rx.url("/v1/traces")).await.is_err());
}

/// Mutated and truncated bodies never panic the decoders.
#[test]
fn hostile_bodies_do_not_panic() {
    let proto = request().encode_to_vec();
    let json = request_json().into_bytes();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..4000 {
        for (original, is_json) in [(&proto, false), (&json, true)] {
            let mut body = original.clone();
            for _ in 0..(1 + next() % 4) {
                let at = (next() % body.len() as u64) as usize;
                match next() % 3 {
                    0 => body[at] = next() as u8,
                    1 => body.truncate(at.max(1)),
                    _ => body.insert(at, next() as u8),
                }
            }
            if is_json {
                let _ = decode_json(&body);
                if let Ok(text) = std::str::from_utf8(&body) {
                    let _ = serde_saphyr::from_str::<otlp::json::ExportRequest>(text);
                }
            } else {
                let _ = decode_protobuf(&body);
            }
        }
        let _ = round;
    }
    // Deep nesting in an attribute value.
    let deep = format!(
        "{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"k\",\"value\":{}1{}}}]}}}}]}}",
        "{\"arrayValue\":{\"values\":[".repeat(5000),
        "]}}".repeat(5000)
    );
    // Skipped over without recursion: read, not refused, and no stack overflow.
    let decoded = decode_json(deep.as_bytes()).unwrap();
    assert!(decoded.spans.is_empty());
    let _ = serde_saphyr::from_str::<otlp::json::ExportRequest>(&deep);
}

// The OpenTelemetry Rust SDK's exporters, against the receivers.

/// Spans as an instrumented service makes them: a server span and a client span under
/// it, in `cart` 2.0.1.
fn sdk_spans(provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    use opentelemetry::trace::{
        Span as _, SpanKind as Kind, Status as SpanStatus, TraceContextExt, Tracer, TracerProvider,
    };
    use opentelemetry::{Context, KeyValue as Kv};
    let tracer = provider.tracer("interop");
    let server = tracer
        .span_builder("GET /items/{id}")
        .with_kind(Kind::Server)
        .with_attributes([
            Kv::new("http.request.method", "GET"),
            Kv::new("http.route", "/items/{id}"),
            Kv::new("http.response.status_code", 200),
        ])
        .start(&tracer);
    let cx = Context::current_with_span(server);
    let mut client = tracer
        .span_builder("SELECT items")
        .with_kind(Kind::Client)
        .with_attributes([
            Kv::new("db.system.name", "postgresql"),
            Kv::new("db.namespace", "items"),
            Kv::new("db.operation.name", "SELECT"),
        ])
        .start_with_context(&tracer, &cx);
    client.set_status(SpanStatus::error("timeout"));
    client.end();
    cx.span().end();
}

fn sdk_resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name("cart")
        .with_attribute(opentelemetry::KeyValue::new("service.version", "2.0.1"))
        .build()
}

fn assert_sdk_spans(batches: Vec<SpanBatch>) {
    let spans: Vec<seam_traces::Span> = batches.into_iter().flat_map(|b| b.spans).collect();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let server = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    let client = spans.iter().find(|s| s.kind == SpanKind::Client).unwrap();
    for span in [server, client] {
        assert_eq!(&*span.resource.service, "cart");
        assert_eq!(span.resource.version.as_deref(), Some("2.0.1"));
        assert!(span.end_unix_nano >= span.start_unix_nano && span.start_unix_nano > 0);
    }
    assert_eq!(server.parent, None);
    assert_eq!(server.operation.as_deref(), Some("GET /items/{id}"));
    assert_eq!(server.http_status, Some(200));
    assert!(!server.status_error);
    assert_eq!(client.trace_id, server.trace_id);
    assert_eq!(client.parent, Some(server.span_id));
    assert!(client.is_database_call());
    assert_eq!(client.db_namespace.as_deref(), Some("items"));
    assert_eq!(client.operation.as_deref(), Some("SELECT"));
    assert!(client.status_error);
}

/// Collects the batches that arrive within a short while after `expected` spans.
async fn collect(rx: &mut Running, expected: usize) -> Vec<SpanBatch> {
    let mut batches = Vec::new();
    let mut count = 0;
    while count < expected {
        let batch = rx.batch().await;
        count += batch.spans.len();
        batches.push(batch);
    }
    batches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_http_exporters() {
    use opentelemetry_otlp::{Protocol as Wire, WithExportConfig, WithHttpConfig};
    let mut rx = run(OtlpConfig {
        tokens: vec!["sdk:t0ken".into()],
        ..test_config()
    })
    .await;
    for protocol in [Wire::HttpBinary, Wire::HttpJson] {
        let endpoint = rx.url("/v1/traces");
        // The blocking client must be built and used outside the runtime.
        let exporting = std::thread::spawn(move || {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(endpoint)
                .with_headers(HashMap::from([(
                    "authorization".to_owned(),
                    "Bearer t0ken".to_owned(),
                )]))
                .build()
                .unwrap();
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_simple_exporter(exporter)
                .with_resource(sdk_resource())
                .build();
            sdk_spans(&provider);
            provider.shutdown()
        });
        let shutdown = tokio::task::spawn_blocking(move || exporting.join().unwrap())
            .await
            .unwrap();
        assert!(shutdown.is_ok(), "{protocol:?}: {shutdown:?}");
        assert_sdk_spans(collect(&mut rx, 2).await);
    }
    let counts = rx.stats.snapshot();
    assert_eq!(counts.requests_with(RequestOutcome::Accepted), 4);
    assert_eq!(counts.requests.len(), 2, "{:?}", counts.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_grpc_exporter() {
    use opentelemetry_otlp::{Compression, WithExportConfig, WithTonicConfig};
    let mut rx = run(OtlpConfig {
        tokens: vec!["sdk:t0ken".into()],
        ..test_config()
    })
    .await;
    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("authorization", "Bearer t0ken".parse().unwrap());
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(rx.grpc_url())
        .with_compression(Compression::Gzip)
        .with_metadata(metadata)
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(sdk_resource())
        .build();
    sdk_spans(&provider);
    let shutdown = tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap();
    assert!(shutdown.is_ok(), "{shutdown:?}");
    assert_sdk_spans(collect(&mut rx, 2).await);
    let counts = rx.stats.snapshot();
    assert_eq!(counts.requests_with(RequestOutcome::Accepted), 1);
    assert_eq!(counts.requests_with(RequestOutcome::Unauthorized), 0);
}
