//! OTLP/HTTP: `POST /v1/traces` with a protobuf or JSON body, gzip or not, answered in
//! the request's content type as the OTLP specification asks: 200 with an
//! `ExportTraceServiceResponse` (with `partialSuccess` when spans were refused), or an
//! error status with a `google.rpc.Status` body whose message says what went wrong.
//!
//! Cheap refusals come before the body is read (method, content type, token, a full
//! queue), so a flood of requests that cannot be taken costs no decoding. The body is
//! read frame by frame against the limit, because not every exporter sends a
//! `Content-Length` (the JavaScript SDK streams chunked bodies), and decompressed
//! against the same limit, so a gzip bomb stops there.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::{
    decode_json, decode_protobuf, Decoded, Encoding, Refused, RequestOutcome, Shared, Transport,
};

/// Bodies past this many bytes are decompressed and decoded on a blocking thread, not
/// the async runtime.
const BLOCKING_DECODE_BYTES: usize = 256 * 1024;

/// Seconds an exporter is asked to wait when the queue is full.
const RETRY_AFTER_FULL: &str = "1";
/// Seconds an exporter is asked to wait when Seam is stopping.
const RETRY_AFTER_UNAVAILABLE: &str = "5";

/// `google.rpc.Status`, the body of OTLP/HTTP's error answers (its `details` are never
/// sent, so they are not declared).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC codes the error bodies carry.
mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// Serves OTLP/HTTP on `listener` until `stop` resolves.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let router = Router::new()
        .route("/v1/traces", any(traces))
        .route("/v1/metrics", any(not_traces))
        .route("/v1/logs", any(not_traces))
        .fallback(unknown_path)
        .with_state(shared);
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        tracing::error!(%error, "OTLP/HTTP receiver stopped");
    }
}

/// The encoding a `Content-Type` names.
fn encoding_of(headers: &HeaderMap) -> Encoding {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Encoding::Unknown;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/x-protobuf")
        || essence.eq_ignore_ascii_case("application/protobuf")
    {
        Encoding::Protobuf
    } else if essence.eq_ignore_ascii_case("application/json") {
        Encoding::Json
    } else {
        Encoding::Unknown
    }
}

/// An error answer: `status` with a `google.rpc.Status` body in the request's encoding
/// (JSON when the request's could not be read).
fn error(
    status: StatusCode,
    encoding: Encoding,
    code: i32,
    message: impl Into<String>,
) -> Response {
    let status_body = RpcStatus {
        code,
        message: message.into(),
    };
    match encoding {
        Encoding::Protobuf => (
            status,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            status_body.encode_to_vec(),
        )
            .into_response(),
        Encoding::Json | Encoding::Unknown => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"code": status_body.code, "message": status_body.message})
                .to_string(),
        )
            .into_response(),
    }
}

/// The answer to a request whose spans were taken (some perhaps refused).
fn success(encoding: Encoding, decoded: &Decoded) -> Response {
    let message = decoded.error_message();
    match encoding {
        Encoding::Protobuf => {
            let response = ExportTraceServiceResponse {
                partial_success: message.map(|error_message| ExportTracePartialSuccess {
                    rejected_spans: decoded.rejected as i64,
                    error_message,
                }),
            };
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                response.encode_to_vec(),
            )
                .into_response()
        }
        Encoding::Json | Encoding::Unknown => {
            // `rejectedSpans` as a number, not the int64-as-string of the protobuf JSON
            // mapping: the exporters' JSON readers (the Rust SDK's) expect a number.
            let body = match message {
                Some(error_message) => serde_json::json!({"partialSuccess": {
                    "rejectedSpans": decoded.rejected,
                    "errorMessage": error_message,
                }}),
                None => serde_json::json!({}),
            };
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// Marks an answer given before the request's body was read: the connection cannot carry
/// another request (the unread body is in the way), so the client is told to open a new
/// one rather than find this one closed under its next request.
fn close_unread(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

fn refused(refused: Refused, encoding: Encoding) -> (RequestOutcome, Response) {
    match refused {
        Refused::Full => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                encoding,
                code::RESOURCE_EXHAUSTED,
                "Seam's span queue is full; retry later",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_FULL),
            );
            close_unread(&mut response);
            (RequestOutcome::Throttled, response)
        }
        Refused::Closed => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                encoding,
                code::UNAVAILABLE,
                "Seam is shutting down; retry later",
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
            );
            close_unread(&mut response);
            (RequestOutcome::Unavailable, response)
        }
    }
}

/// `/v1/traces`.
async fn traces(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let encoding = encoding_of(request.headers());
    let (outcome, response) = export(&shared, encoding, request).await;
    shared.stats.request(Transport::Http, encoding, outcome);
    response
}

async fn export(
    shared: &Shared,
    encoding: Encoding,
    request: Request,
) -> (RequestOutcome, Response) {
    if request.method() != Method::POST {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            encoding,
            code::UNIMPLEMENTED,
            format!(
                "{} is not served: export traces with POST /v1/traces",
                request.method()
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return (RequestOutcome::Unsupported, response);
    }
    if encoding == Encoding::Unknown {
        let found = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let message = match found {
            Some(found) => format!(
                "Content-Type {:?} is not supported: send application/x-protobuf or application/json",
                seam_traces::cut(&found, 100)
            ),
            None => "Content-Type is missing: send application/x-protobuf or application/json"
                .to_owned(),
        };
        return (
            RequestOutcome::Unsupported,
            error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                encoding,
                code::INVALID_ARGUMENT,
                message,
            ),
        );
    }
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if shared.tokens.check(authorization).is_err() {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            encoding,
            code::UNAUTHENTICATED,
            "a bearer token is required: send `Authorization: Bearer SECRET` with one of the configured tokens",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        close_unread(&mut response);
        return (RequestOutcome::Unauthorized, response);
    }
    let place = match shared.reserve() {
        Ok(place) => place,
        Err(why) => return refused(why, encoding),
    };
    let gzip = match request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim())
    {
        None | Some("") => false,
        Some(name) if name.eq_ignore_ascii_case("identity") => false,
        Some(name) if name.eq_ignore_ascii_case("gzip") => true,
        Some(name) => {
            return (
                RequestOutcome::Unsupported,
                error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    encoding,
                    code::INVALID_ARGUMENT,
                    format!(
                        "Content-Encoding {:?} is not supported: send gzip or no encoding",
                        seam_traces::cut(name, 100)
                    ),
                ),
            )
        }
    };

    let limit = shared.max_body_bytes;
    // A gzip body can be slightly larger than what it holds (incompressible data).
    let wire_limit = if gzip {
        limit.saturating_add(limit / 64 + 1024)
    } else {
        limit
    };
    let read = tokio::time::timeout(
        BODY_TIMEOUT,
        read_limited(request.into_body(), wire_limit, shared),
    );
    let body = match read.await {
        Ok(Ok(body)) => body,
        Err(_) => {
            return (
                RequestOutcome::Rejected,
                error(
                    StatusCode::REQUEST_TIMEOUT,
                    encoding,
                    code::INVALID_ARGUMENT,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                ),
            )
        }
        Ok(Err(BodyError::TooLarge)) => return too_large(encoding, limit),
        Ok(Err(BodyError::Read(cause))) => {
            return (
                RequestOutcome::Rejected,
                error(
                    StatusCode::BAD_REQUEST,
                    encoding,
                    code::INVALID_ARGUMENT,
                    format!("the request body could not be read: {cause}"),
                ),
            )
        }
    };

    // Gzip bodies weigh what they typically hold, about 16 times their size.
    let weight = body.len().saturating_mul(if gzip { 16 } else { 1 });
    let work = move || decode(&body, gzip, encoding, limit);
    let decoded = if weight > BLOCKING_DECODE_BYTES {
        match tokio::task::spawn_blocking(work).await {
            Ok(result) => result,
            Err(_) => Err(DecodeError::Internal),
        }
    } else {
        work()
    };
    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(DecodeError::TooLarge) => return too_large(encoding, limit),
        Err(DecodeError::Invalid(message)) => {
            return (
                RequestOutcome::Rejected,
                error(
                    StatusCode::BAD_REQUEST,
                    encoding,
                    code::INVALID_ARGUMENT,
                    message,
                ),
            )
        }
        Err(DecodeError::Internal) => {
            return (
                RequestOutcome::Rejected,
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    encoding,
                    code::INTERNAL,
                    "the request could not be decoded",
                ),
            )
        }
    };
    let decoded = shared.deliver(place, decoded);
    let outcome = if decoded.rejected > 0 {
        RequestOutcome::Partial
    } else {
        RequestOutcome::Accepted
    };
    (outcome, success(encoding, &decoded))
}

fn too_large(encoding: Encoding, limit: usize) -> (RequestOutcome, Response) {
    (
        RequestOutcome::TooLarge,
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            encoding,
            code::RESOURCE_EXHAUSTED,
            format!("the request is larger than {limit} bytes (after decompression); export smaller batches"),
        ),
    )
}

enum BodyError {
    TooLarge,
    Read(axum::Error),
}

/// Longest a request body may take to arrive: a client trickling bytes holds a
/// connection and a buffer, so it is cut off.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads a body frame by frame, refusing it as soon as it passes `limit` bytes, whatever
/// its `Content-Length` said (or that it said nothing); counts the bytes received.
async fn read_limited(mut body: Body, limit: usize, shared: &Shared) -> Result<Vec<u8>, BodyError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        shared.stats.bytes(data.len());
        if bytes.len() + data.len() > limit {
            return Err(BodyError::TooLarge);
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

enum DecodeError {
    TooLarge,
    Invalid(String),
    Internal,
}

/// Decompresses (under `limit`) and decodes a body.
fn decode(
    body: &[u8],
    gzip: bool,
    encoding: Encoding,
    limit: usize,
) -> Result<Decoded, DecodeError> {
    let inflated;
    let body = if gzip {
        let mut out = Vec::new();
        let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
        if let Err(error) = reader.read_to_end(&mut out) {
            return Err(DecodeError::Invalid(format!(
                "the gzip body could not be decompressed: {error}"
            )));
        }
        if out.len() > limit {
            return Err(DecodeError::TooLarge);
        }
        inflated = out;
        &inflated[..]
    } else {
        body
    };
    match encoding {
        Encoding::Protobuf => decode_protobuf(body).map_err(|error| {
            DecodeError::Invalid(format!(
                "invalid OTLP/protobuf ExportTraceServiceRequest: {error}"
            ))
        }),
        Encoding::Json => {
            decode_json(body).map_err(|error| DecodeError::Invalid(error.to_string()))
        }
        Encoding::Unknown => Err(DecodeError::Internal),
    }
}

/// `/v1/metrics` and `/v1/logs`: an exporter configured with one endpoint for every
/// signal ends up here; a plain 404 would not tell its operator why.
async fn not_traces(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let encoding = encoding_of(request.headers());
    shared
        .stats
        .request(Transport::Http, encoding, RequestOutcome::Unsupported);
    error(
        StatusCode::NOT_FOUND,
        encoding,
        code::UNIMPLEMENTED,
        format!(
            "Seam receives traces only, at /v1/traces; it takes metrics by scraping Prometheus /metrics endpoints and does not collect logs, so {} is not served: turn this signal's exporter off or send it elsewhere",
            request.uri().path()
        ),
    )
}

/// Any other path.
async fn unknown_path(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let encoding = encoding_of(request.headers());
    shared
        .stats
        .request(Transport::Http, encoding, RequestOutcome::Unsupported);
    error(
        StatusCode::NOT_FOUND,
        encoding,
        code::UNIMPLEMENTED,
        "not found: Seam's OTLP/HTTP receiver serves POST /v1/traces",
    )
}
