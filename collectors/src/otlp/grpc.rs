//! OTLP/gRPC: the `opentelemetry.proto.collector.trace.v1.TraceService/Export` method,
//! served with tonic. The same rules as OTLP/HTTP in gRPC's terms: gzip accepted, the
//! message limited after decompression (tonic's `max_decoding_message_size`), the token
//! checked on the `authorization` metadata before the message is read, a full queue
//! answered `RESOURCE_EXHAUSTED` with a `RetryInfo` (which is what makes OTLP exporters
//! retry it), a closed one `UNAVAILABLE`, refused spans as a partial success.

use std::sync::Arc;
use std::time::Duration;

use axum::http;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::{convert_protobuf, Encoding, Refused, RequestOutcome, Shared, Transport};

/// Messages past this many bytes are turned into spans on a blocking thread.
const BLOCKING_CONVERT_BYTES: usize = 256 * 1024;

/// The retry delay a `RESOURCE_EXHAUSTED` answer carries when the queue is full.
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// Serves OTLP/gRPC on `listener` until `stop` resolves.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let service = TraceServiceServer::new(Receiver {
        shared: shared.clone(),
    })
    .accept_compressed(CompressionEncoding::Gzip)
    .send_compressed(CompressionEncoding::Gzip)
    .max_decoding_message_size(shared.max_body_bytes);
    let auth = shared.clone();
    let service = InterceptedService::new(service, move |request: Request<()>| {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        match auth.tokens.check(authorization) {
            Ok(_) => Ok(request),
            Err(()) => {
                auth.stats.request(
                    Transport::Grpc,
                    Encoding::Protobuf,
                    RequestOutcome::Unauthorized,
                );
                Err(Status::unauthenticated(
                    "a bearer token is required: send `authorization: Bearer SECRET` metadata with one of the configured tokens",
                ))
            }
        }
    });
    let stats = shared.stats.clone();
    let count_codec_refusals =
        tower::util::MapResponseLayer::new(move |response: http::Response<tonic::body::Body>| {
            count_refusal(&stats, response.headers());
            response
        });
    let served = tonic::transport::Server::builder()
        .layer(count_codec_refusals)
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stop)
        .await;
    if let Err(error) = served {
        tracing::error!(%error, "OTLP/gRPC receiver stopped");
    }
}

/// Counts the answers tonic gives before [`Receiver::export`] runs: a message past the
/// limit (`OUT_OF_RANGE` before decompression, `RESOURCE_EXHAUSTED` "size limit" after),
/// one that does not decode (`INTERNAL`), an unknown method or compression
/// (`UNIMPLEMENTED`). Those the receiver gives itself it counts itself.
fn count_refusal(stats: &super::ReceiverStats, headers: &http::HeaderMap) {
    let Some(code) = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    // `grpc-message` is percent-encoded: `size%20limit`.
    let past_size_limit = || {
        headers
            .get("grpc-message")
            .is_some_and(|v| v.as_bytes().windows(12).any(|w| w == b"size%20limit"))
    };
    let outcome = match Code::from(code) {
        Code::OutOfRange => RequestOutcome::TooLarge,
        Code::ResourceExhausted if past_size_limit() => RequestOutcome::TooLarge,
        Code::Internal => RequestOutcome::Rejected,
        Code::Unimplemented => RequestOutcome::Unsupported,
        _ => return,
    };
    stats.request(Transport::Grpc, Encoding::Protobuf, outcome);
}

struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    fn refused(&self, why: Refused) -> Status {
        let (outcome, status) = match why {
            Refused::Full => (
                RequestOutcome::Throttled,
                Status::with_error_details(
                    Code::ResourceExhausted,
                    "Seam's span queue is full; retry later",
                    ErrorDetails::with_retry_info(Some(RETRY_DELAY)),
                ),
            ),
            Refused::Closed => (
                RequestOutcome::Unavailable,
                Status::unavailable("Seam is shutting down; retry later"),
            ),
        };
        self.shared
            .stats
            .request(Transport::Grpc, Encoding::Protobuf, outcome);
        status
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let message = request.into_inner();
        let size = message.encoded_len();
        self.shared.stats.bytes(size);
        let place = self.shared.reserve().map_err(|why| self.refused(why))?;
        let decoded = if size > BLOCKING_CONVERT_BYTES {
            tokio::task::spawn_blocking(move || convert_protobuf(&message))
                .await
                // Counted by `count_refusal`, like tonic's own INTERNAL answers.
                .map_err(|_| Status::internal("the request could not be converted"))?
        } else {
            convert_protobuf(&message)
        };
        let decoded = self.shared.deliver(place, decoded);
        let partial_success =
            decoded
                .error_message()
                .map(|error_message| ExportTracePartialSuccess {
                    rejected_spans: decoded.rejected as i64,
                    error_message,
                });
        let outcome = if partial_success.is_some() {
            RequestOutcome::Partial
        } else {
            RequestOutcome::Accepted
        };
        self.shared
            .stats
            .request(Transport::Grpc, Encoding::Protobuf, outcome);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}
