//! The OTLP trace receivers: OTLP/HTTP (`POST /v1/traces`, protobuf or JSON, port 4318
//! by convention) and OTLP/gRPC (`TraceService/Export`, port 4317). Both turn an export
//! request into [`seam_traces::Span`]s, the same way for all three encodings, and hand
//! the spans of one request, as one [`SpanBatch`], to a bounded queue the server drains.
//!
//! The queue is the back-pressure: when it is full a request is refused with 429 (gRPC:
//! `RESOURCE_EXHAUSTED` with a retry delay), which every OTLP exporter retries later, so
//! a burst never turns into unbounded memory. Bodies are limited after decompression,
//! while they are read: a chunked body or a gzip bomb stops at the limit with 413.
//!
//! Spans with unusable ids (a trace id that is not 16 bytes or all zero, a span id that
//! is not 8 bytes or all zero, a parent id of the wrong length) are refused one by one and
//! reported as a partial success; the rest of the request is kept. Like every collector,
//! the receivers know nothing of the database.

mod grpc;
mod http;
pub mod json;
mod wire;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use seam_traces::{Resource, ResourceBuilder, Span, SpanBuilder, SpanHead, SpanKind, Value};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use json::{decode_json, JsonError};

/// `[collectors.otlp]`: the OTLP receivers that services (or an OpenTelemetry Collector)
/// export their traces to.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    /// Whether Seam receives traces at all (the caller of [`start`] checks it).
    pub enabled: bool,
    /// Address of the OTLP/HTTP receiver (`POST /v1/traces`); 4318 is OTLP's port.
    pub http_listen: SocketAddr,
    /// Address of the OTLP/gRPC receiver; 4317 is OTLP's port. Unset: no gRPC receiver.
    pub grpc_listen: Option<SocketAddr>,
    /// Largest export request accepted, in bytes after decompression; a larger one is
    /// refused with 413 (gRPC: `RESOURCE_EXHAUSTED`). It is enforced while the body is
    /// read, so it also bounds the spans of one request and the memory it takes.
    pub max_body_bytes: usize,
    /// Requests' span batches waiting for the server; past it, exporters are told to
    /// come back later (429, gRPC `RESOURCE_EXHAUSTED`) instead of Seam buffering more.
    pub queue_batches: usize,
    /// Bearer tokens exporters must send (`Authorization: Bearer SECRET`), as
    /// `name:secret`; empty: the receivers are open.
    pub tokens: Vec<String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            enabled: true,
            http_listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
            grpc_listen: Some(SocketAddr::from(([127, 0, 0, 1], 4317))),
            max_body_bytes: 20 * 1024 * 1024,
            queue_batches: 256,
            tokens: Vec::new(),
        }
    }
}

// By hand, so that the secrets of `tokens` never reach a log.
impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tokens = Tokens::parse(&self.tokens);
        let tokens: Vec<&str> = tokens.0.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("OtlpConfig")
            .field("enabled", &self.enabled)
            .field("http_listen", &self.http_listen)
            .field("grpc_listen", &self.grpc_listen)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("queue_batches", &self.queue_batches)
            .field("tokens", &tokens)
            .finish()
    }
}

/// Why an OTLP configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpConfigError {
    /// A limit is zero.
    #[error("collectors.otlp: {what} must be at least 1")]
    Zero { what: &'static str },
    /// Both receivers on one address.
    #[error("collectors.otlp: http_listen and grpc_listen are the same address, {0}")]
    SameAddress(SocketAddr),
    /// A token entry is empty (it would match nothing, or a careless header).
    #[error("collectors.otlp.tokens: entry {0} is empty")]
    EmptySecret(usize),
}

impl OtlpConfig {
    /// Checks the limits (a queue of zero batches cannot exist), the addresses and the
    /// tokens.
    pub fn validate(&self) -> Result<(), OtlpConfigError> {
        if self.max_body_bytes == 0 {
            return Err(OtlpConfigError::Zero {
                what: "max_body_bytes",
            });
        }
        if self.queue_batches == 0 {
            return Err(OtlpConfigError::Zero {
                what: "queue_batches",
            });
        }
        if self.grpc_listen == Some(self.http_listen) && self.http_listen.port() != 0 {
            return Err(OtlpConfigError::SameAddress(self.http_listen));
        }
        if let Some(i) = self.tokens.iter().position(|t| t.trim().is_empty()) {
            return Err(OtlpConfigError::EmptySecret(i + 1));
        }
        Ok(())
    }
}

/// The spans of one export request, in the order they came.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanBatch {
    /// Never empty: a request without usable spans sends no batch.
    pub spans: Vec<Span>,
}

/// The way a request came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// OTLP/HTTP.
    Http,
    /// OTLP/gRPC.
    Grpc,
}

/// How a request's body was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    /// `application/x-protobuf`, and every gRPC request.
    Protobuf,
    /// `application/json`: OTLP/JSON.
    Json,
    /// A content type the receiver does not read (the request was refused with 415).
    Unknown,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestOutcome {
    /// Every span was taken.
    Accepted,
    /// Some spans were refused (bad ids), the others taken: 200 with `partialSuccess`.
    Partial,
    /// The body could not be decoded (400; gRPC: the codec's error).
    Rejected,
    /// The body was past `max_body_bytes` (413; gRPC: `RESOURCE_EXHAUSTED`/`OUT_OF_RANGE`).
    TooLarge,
    /// The queue was full (429; gRPC: `RESOURCE_EXHAUSTED` with a retry delay).
    Throttled,
    /// No or a wrong bearer token (401; gRPC: `UNAUTHENTICATED`).
    Unauthorized,
    /// The queue is closed: Seam is stopping (503; gRPC: `UNAVAILABLE`).
    Unavailable,
    /// A path, method, content type or content encoding the receiver does not serve
    /// (404, 405, 415; gRPC: `UNIMPLEMENTED`).
    Unsupported,
}

impl Transport {
    /// `http` or `grpc`, as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Grpc => "grpc",
        }
    }
}

impl Encoding {
    /// `protobuf`, `json` or `unknown`, as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
            Encoding::Unknown => "unknown",
        }
    }
}

impl RequestOutcome {
    /// The outcome's name as a metric label (`accepted`, `too_large`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Accepted => "accepted",
            RequestOutcome::Partial => "partial",
            RequestOutcome::Rejected => "rejected",
            RequestOutcome::TooLarge => "too_large",
            RequestOutcome::Throttled => "throttled",
            RequestOutcome::Unauthorized => "unauthorized",
            RequestOutcome::Unavailable => "unavailable",
            RequestOutcome::Unsupported => "unsupported",
        }
    }
}

const TRANSPORTS: [Transport; 2] = [Transport::Http, Transport::Grpc];
const ENCODINGS: [Encoding; 3] = [Encoding::Protobuf, Encoding::Json, Encoding::Unknown];
const OUTCOMES: [RequestOutcome; 8] = [
    RequestOutcome::Accepted,
    RequestOutcome::Partial,
    RequestOutcome::Rejected,
    RequestOutcome::TooLarge,
    RequestOutcome::Throttled,
    RequestOutcome::Unauthorized,
    RequestOutcome::Unavailable,
    RequestOutcome::Unsupported,
];

/// The receivers' counters, shared with the server, which prints them on `/metrics`
/// (through [`ReceiverStats::snapshot`]). Counting is lock-free: every request adds to
/// atomics, nobody waits.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    requests: [[[AtomicU64; OUTCOMES.len()]; ENCODINGS.len()]; TRANSPORTS.len()],
    spans_accepted: AtomicU64,
    spans_rejected: AtomicU64,
    bytes_received: AtomicU64,
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverCounts {
    /// Requests by transport, encoding and outcome; only those that happened at least
    /// once, sorted by transport, encoding, outcome.
    pub requests: Vec<RequestCount>,
    /// Spans handed to the queue.
    pub spans_accepted: u64,
    /// Spans refused one by one (bad ids) in requests otherwise accepted.
    pub spans_rejected: u64,
    /// Request body bytes as they came over the wire (compressed if they were); for
    /// gRPC, the size of the decoded message.
    pub bytes_received: u64,
}

/// How many requests of one kind ended one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestCount {
    /// HTTP or gRPC.
    pub transport: Transport,
    /// Protobuf or JSON (gRPC is always protobuf).
    pub encoding: Encoding,
    /// What the receiver answered.
    pub outcome: RequestOutcome,
    /// Requests since the start.
    pub count: u64,
}

impl ReceiverCounts {
    /// Requests that ended with `outcome`, over every transport and encoding.
    pub fn requests_with(&self, outcome: RequestOutcome) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.count)
            .sum()
    }
}

impl ReceiverStats {
    /// Counts one request.
    pub fn request(&self, transport: Transport, encoding: Encoding, outcome: RequestOutcome) {
        self.requests[transport as usize][encoding as usize][outcome as usize]
            .fetch_add(1, Ordering::Relaxed);
    }

    fn spans(&self, accepted: usize, rejected: u64) {
        self.spans_accepted
            .fetch_add(accepted as u64, Ordering::Relaxed);
        self.spans_rejected.fetch_add(rejected, Ordering::Relaxed);
    }

    fn bytes(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ReceiverCounts {
        let mut requests = Vec::new();
        for transport in TRANSPORTS {
            for encoding in ENCODINGS {
                for outcome in OUTCOMES {
                    let count = self.requests[transport as usize][encoding as usize]
                        [outcome as usize]
                        .load(Ordering::Relaxed);
                    if count > 0 {
                        requests.push(RequestCount {
                            transport,
                            encoding,
                            outcome,
                            count,
                        });
                    }
                }
            }
        }
        ReceiverCounts {
            requests,
            spans_accepted: self.spans_accepted.load(Ordering::Relaxed),
            spans_rejected: self.spans_rejected.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
        }
    }
}

/// Where the receivers listen: the addresses actually bound (a port 0 in the
/// configuration becomes the port the system chose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receivers {
    /// The OTLP/HTTP receiver's address.
    pub http_addr: SocketAddr,
    /// The OTLP/gRPC receiver's address; `None` when `grpc_listen` is unset.
    pub grpc_addr: Option<SocketAddr>,
}

/// Binds the OTLP/HTTP listener and, when configured, the OTLP/gRPC one, and serves them
/// on tasks of the returned set until `shutdown` turns `true` (or its sender is dropped).
/// Every request's spans go to `out` as one [`SpanBatch`], never waiting for room.
///
/// Fails only when a listener cannot be bound. It does not look at `config.enabled`:
/// whoever calls it has decided to receive.
pub async fn start(
    config: &OtlpConfig,
    out: mpsc::Sender<SpanBatch>,
    stats: Arc<ReceiverStats>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(Receivers, JoinSet<()>)> {
    let shared = Arc::new(Shared {
        out,
        stats,
        tokens: Tokens::parse(&config.tokens),
        max_body_bytes: config.max_body_bytes.max(1),
    });
    let http_listener = tokio::net::TcpListener::bind(config.http_listen).await?;
    let http_addr = http_listener.local_addr()?;
    let grpc_listener = match config.grpc_listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
        None => None,
    };
    let grpc_addr = grpc_listener.as_ref().map(|l| l.local_addr()).transpose()?;

    let mut tasks = JoinSet::new();
    tasks.spawn(http::serve(
        http_listener,
        shared.clone(),
        stopped(shutdown.clone()),
    ));
    if let Some(listener) = grpc_listener {
        tasks.spawn(grpc::serve(listener, shared, stopped(shutdown)));
    }
    tracing::info!(%http_addr, grpc_addr = ?grpc_addr, "OTLP receivers listening");
    Ok((
        Receivers {
            http_addr,
            grpc_addr,
        },
        tasks,
    ))
}

/// Resolves when Seam shuts down: the flag turns `true`, or its sender is gone.
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// What both receivers share.
struct Shared {
    out: mpsc::Sender<SpanBatch>,
    stats: Arc<ReceiverStats>,
    tokens: Tokens,
    max_body_bytes: usize,
}

/// Why a batch could not be queued.
enum Refused {
    Full,
    Closed,
}

impl Shared {
    /// A place in the queue for one request's spans, taken before its body is read: a
    /// request that could not be queued is refused before any work is done on it, and
    /// one that was read is never refused after the work.
    fn reserve(&self) -> Result<mpsc::OwnedPermit<SpanBatch>, Refused> {
        self.out
            .clone()
            .try_reserve_owned()
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            })
    }

    /// Queues the spans of one request in the place reserved for them (none: the place
    /// is given back) and counts them.
    fn deliver(&self, place: mpsc::OwnedPermit<SpanBatch>, decoded: Decoded) -> Decoded {
        let Decoded {
            spans,
            rejected,
            first_rejection,
        } = decoded;
        let count = spans.len();
        if count > 0 {
            place.send(SpanBatch { spans });
        }
        self.stats.spans(count, rejected);
        Decoded {
            spans: Vec::new(),
            rejected,
            first_rejection,
        }
    }
}

/// One configured bearer token.
struct Token {
    name: String,
    secret_digest: [u8; 32],
}

/// The bearer tokens exporters may present; none: the receivers are open.
struct Tokens(Vec<Token>);

impl Tokens {
    /// Reads `name:secret` entries the way the server reads its API tokens: an entry
    /// without a usable name is all secret, named `token-N` (its 1-based position).
    fn parse(entries: &[String]) -> Tokens {
        let valid_name = |name: &str| {
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        Tokens(
            entries
                .iter()
                .enumerate()
                .map(|(i, entry)| {
                    let (name, secret) = match entry.split_once(':') {
                        Some((name, secret)) if valid_name(name.trim()) && !secret.is_empty() => {
                            (name.trim().to_owned(), secret.to_owned())
                        }
                        _ => (format!("token-{}", i + 1), entry.clone()),
                    };
                    Token {
                        name,
                        secret_digest: Sha256::digest(secret.as_bytes()).into(),
                    }
                })
                .collect(),
        )
    }

    /// Checks an `Authorization` value (`Bearer SECRET`); `Ok` with the token's name, or
    /// `None` when no token is needed. The secrets are compared as SHA-256 digests, every
    /// one of them and in constant time, so timing tells neither which token nor how
    /// much of one matched, nor its length.
    fn check(&self, authorization: Option<&[u8]>) -> Result<Option<&str>, ()> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let presented = authorization
            .and_then(|value| std::str::from_utf8(value).ok())
            .map(str::trim)
            .and_then(|value| {
                let (scheme, secret) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
            })
            .filter(|secret| !secret.is_empty())
            .ok_or(())?;
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.0 {
            let difference = token
                .secret_digest
                .iter()
                .zip(&digest)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if std::hint::black_box(difference) == 0 {
                found = Some(token.name.as_str());
            }
        }
        found.map(Some).ok_or(())
    }
}

/// An export request turned into spans: those kept, and how many were refused and why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// The spans with usable ids, in the order of the request.
    pub spans: Vec<Span>,
    /// Spans refused for their ids (reported to the exporter as `rejectedSpans`).
    pub rejected: u64,
    /// Where the first refused span is in the request and what is wrong with it.
    pub first_rejection: Option<String>,
}

impl Decoded {
    /// The `errorMessage` of a partial success; `None` when nothing was refused.
    pub fn error_message(&self) -> Option<String> {
        let first = self.first_rejection.as_deref()?;
        Some(if self.rejected == 1 {
            format!("1 span rejected: {first}")
        } else {
            format!("{} spans rejected; the first: {first}", self.rejected)
        })
    }

    fn reject(&mut self, at: impl FnOnce() -> String, why: String) {
        self.rejected += 1;
        if self.first_rejection.is_none() {
            self.first_rejection = Some(format!("{}: {why}", at()));
        }
    }
}

pub use wire::WireError;

/// Decodes an OTLP/protobuf `ExportTraceServiceRequest` body into spans, reading it in
/// place ([`wire`]): the same spans as the generated types give, without their
/// allocations.
pub fn decode_protobuf(body: &[u8]) -> Result<Decoded, WireError> {
    wire::decode(body)
}

/// The spans of a decoded OTLP/protobuf request (the gRPC receiver gets it decoded).
pub fn convert_protobuf(request: &ExportTraceServiceRequest) -> Decoded {
    let mut out = Decoded::default();
    out.spans.reserve(
        request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum(),
    );
    for (r, resource_spans) in request.resource_spans.iter().enumerate() {
        let mut builder = ResourceBuilder::default();
        for kv in resource_spans.resource.iter().flat_map(|r| &r.attributes) {
            builder.attribute(&kv.key, proto_value(kv));
        }
        let resource = Arc::new(builder.build());
        for (s, scope) in resource_spans.scope_spans.iter().enumerate() {
            for (i, span) in scope.spans.iter().enumerate() {
                let raw = RawHead {
                    trace_id: RawId::Bytes(&span.trace_id),
                    span_id: RawId::Bytes(&span.span_id),
                    parent: RawId::Bytes(&span.parent_span_id),
                    kind: span.kind,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                };
                match raw.head(&resource) {
                    Ok(mut head) => {
                        head.links = span
                            .links
                            .iter()
                            .filter_map(|l| {
                                link(RawId::Bytes(&l.trace_id), RawId::Bytes(&l.span_id))
                            })
                            .collect();
                        let mut builder = SpanBuilder::default();
                        for kv in &span.attributes {
                            builder.attribute(&kv.key, proto_value(kv));
                        }
                        out.spans.push(builder.build(head));
                    }
                    Err(why) => out.reject(
                        || format!("resource_spans[{r}].scope_spans[{s}].spans[{i}]"),
                        why,
                    ),
                }
            }
        }
    }
    out
}

fn proto_value(kv: &KeyValue) -> Value<'_> {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Value::Str(s),
        Some(any_value::Value::IntValue(i)) => Value::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        _ => Value::Other,
    }
}

/// An id as it came: bytes (protobuf) or hex text (JSON).
#[derive(Debug, Clone, Copy)]
enum RawId<'a> {
    Bytes(&'a [u8]),
    Hex(&'a str),
}

impl RawId<'_> {
    /// The id; `None` when empty or all zero (OTLP's "no id"); an error saying what is
    /// wrong when it has the wrong length or is not hex.
    fn parse<const N: usize>(self) -> Result<Option<[u8; N]>, String> {
        let mut id = [0u8; N];
        match self {
            RawId::Bytes([]) | RawId::Hex("") => return Ok(None),
            RawId::Bytes(bytes) => {
                if bytes.len() != N {
                    return Err(format!("is {} bytes, not {N}", bytes.len()));
                }
                id.copy_from_slice(bytes);
            }
            RawId::Hex(text) => {
                let digits = text.as_bytes();
                if digits.len() != 2 * N {
                    return Err(format!(
                        "is {} characters, not {} hex digits",
                        text.chars().count(),
                        2 * N
                    ));
                }
                for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
                    match (hex_digit(pair[0]), hex_digit(pair[1])) {
                        (Some(high), Some(low)) => *byte = high << 4 | low,
                        _ => {
                            return Err(format!(
                                "{:?} is not hex (OTLP/JSON writes ids in hex, not base64)",
                                seam_traces::cut(text, 64)
                            ))
                        }
                    }
                }
            }
        }
        Ok((id != [0; N]).then_some(id))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What a span says besides its attributes and links, as it came.
struct RawHead<'a> {
    trace_id: RawId<'a>,
    span_id: RawId<'a>,
    parent: RawId<'a>,
    kind: i32,
    start_unix_nano: u64,
    end_unix_nano: u64,
    status_code: i32,
}

impl RawHead<'_> {
    /// The span's head, or why the span is refused.
    fn head(&self, resource: &Arc<Resource>) -> Result<SpanHead, String> {
        let trace_id = self
            .trace_id
            .parse::<16>()
            .map_err(|e| format!("traceId {e}"))?
            .ok_or("traceId is empty or all zero")?;
        let span_id = self
            .span_id
            .parse::<8>()
            .map_err(|e| format!("spanId {e}"))?
            .ok_or("spanId is empty or all zero")?;
        let parent = self
            .parent
            .parse::<8>()
            .map_err(|e| format!("parentSpanId {e}"))?;
        let mut head = SpanHead::new(
            resource.clone(),
            trace_id,
            span_id,
            parent,
            SpanKind::from_otlp(self.kind),
        );
        head.start_unix_nano = self.start_unix_nano;
        head.end_unix_nano = self.end_unix_nano;
        // STATUS_CODE_ERROR.
        head.status_error = self.status_code == 2;
        Ok(head)
    }
}

/// A link with usable ids; others are dropped (a link is a hint, not worth the span).
fn link(
    trace_id: RawId<'_>,
    span_id: RawId<'_>,
) -> Option<(seam_traces::TraceId, seam_traces::SpanId)> {
    Some((trace_id.parse().ok()??, span_id.parse().ok()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_refusals() {
        let config: OtlpConfig = toml::from_str("").unwrap();
        assert_eq!(config, OtlpConfig::default());
        assert_eq!(config.http_listen.port(), 4318);
        assert_eq!(config.grpc_listen.map(|a| a.port()), Some(4317));
        assert_eq!(config.max_body_bytes, 20 * 1024 * 1024);
        assert!(config.validate().is_ok());
        let err = toml::from_str::<OtlpConfig>("max_body = 3").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `max_body`"),
            "{err}"
        );
        let config: OtlpConfig = toml::from_str("queue_batches = 0").unwrap();
        assert!(config.validate().is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let config = OtlpConfig {
            tokens: vec!["collector:s3cr3t".into(), "bare-secret".into()],
            ..OtlpConfig::default()
        };
        let text = format!("{config:?}");
        assert!(
            text.contains("collector") && text.contains("token-2"),
            "{text}"
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("bare-secret"),
            "{text}"
        );
    }

    #[test]
    fn tokens_are_checked_whole() {
        let tokens = Tokens::parse(&["collector:s3cr3t".into(), "plain".into()]);
        assert_eq!(tokens.check(Some(b"Bearer s3cr3t")), Ok(Some("collector")));
        assert_eq!(tokens.check(Some(b"bearer  plain ")), Ok(Some("token-2")));
        assert_eq!(tokens.check(Some(b"Bearer s3cr3")), Err(()));
        assert_eq!(tokens.check(Some(b"Basic s3cr3t")), Err(()));
        assert_eq!(tokens.check(Some(b"Bearer ")), Err(()));
        assert_eq!(tokens.check(None), Err(()));
        assert_eq!(Tokens::parse(&[]).check(None), Ok(None));
    }

    #[test]
    fn ids_by_length_zero_and_hex() {
        assert_eq!(RawId::Bytes(&[1; 8]).parse::<8>(), Ok(Some([1; 8])));
        assert_eq!(RawId::Bytes(&[0; 8]).parse::<8>(), Ok(None));
        assert_eq!(RawId::Bytes(&[]).parse::<8>(), Ok(None));
        assert!(RawId::Bytes(&[1; 7]).parse::<8>().is_err());
        assert_eq!(
            RawId::Hex("A0b1C2d3E4f50617").parse::<8>(),
            Ok(Some([0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x06, 0x17]))
        );
        assert!(RawId::Hex("zz00000000000000").parse::<8>().is_err());
        assert!(RawId::Hex("éé000000000000").parse::<8>().is_err());
        assert!(RawId::Hex("0000000000000001").parse::<16>().is_err());
    }
}
