//! From spans to the observed call graph. Receivers turn OTLP into [`Span`]s, reading
//! attributes by the semantic conventions ([`SpanBuilder`], old and new names); the
//! [`Graph`] pairs client and server spans into edges ([`EdgeKey`]) with statistics per
//! bucket of time ([`EdgeStats`]: calls, errors, latency, calls per parent request),
//! derives request statistics per service from server spans, and counts the root spans
//! that tell broken trace-context propagation ([`propagation_findings`]).
//!
//! This crate does no I/O, reads no clock (time comes in as unix seconds) and never
//! panics on odd input.

mod edge;
mod graph;
mod propagation;
mod span;
mod spanmetrics;

pub use edge::{
    Distribution, EdgeKey, EdgeRow, EdgeStats, Mode, NodeKind, FAN_OUT_BOUNDS, LATENCY_BOUNDS,
    USER_NODE,
};
pub use graph::{Counters, Graph, GraphConfig, Propagation, Window};
pub use propagation::{propagation_findings, Broken, PropagationFinding};
pub use span::{
    cut, Protocol, Resource, ResourceBuilder, Span, SpanBuilder, SpanHead, SpanId, SpanKind,
    TraceId, Value, GRPC_SERVER_ERRORS, MAX_SERVICE_BYTES, MAX_VALUE_BYTES,
};
pub use spanmetrics::request_stats;

/// A trace id as lower-case hex, as W3C and OTLP/JSON write it.
pub fn trace_hex(id: &TraceId) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
