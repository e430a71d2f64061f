//! Broken trace-context propagation, per service: server spans that arrive as roots
//! although the service has callers, or outgoing calls that start traces of their own
//! although the service serves requests.

use std::collections::{BTreeMap, BTreeSet};

use crate::graph::Propagation;
use crate::span::TraceId;

/// Which side of a service loses the trace context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Broken {
    /// Its server spans are roots: it does not read `traceparent` (or its callers do
    /// not send it).
    Incoming,
    /// Its client spans are roots: it does not pass the context on to what it calls.
    Outgoing,
}

impl Broken {
    pub fn as_str(self) -> &'static str {
        match self {
            Broken::Incoming => "incoming",
            Broken::Outgoing => "outgoing",
        }
    }
}

/// One service's broken propagation, with the evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct PropagationFinding {
    pub service: String,
    pub broken: Broken,
    /// Spans of that side, and how many of them were roots.
    pub spans: u64,
    pub roots: u64,
    pub example_trace_ids: Vec<TraceId>,
}

/// Findings over a window's [`Propagation`] counts. `has_callers` names the services
/// with callers declared in the catalog or observed (other than the `user` node):
/// root server spans of any other service are entry points, not breaks. Outgoing roots
/// count only for services that served requests in the window (a batch job starts
/// traces by design). A side is reported when at least `min_ratio` of its spans are
/// roots. Ordered by service, then side.
pub fn propagation_findings(
    counts: &BTreeMap<String, Propagation>,
    has_callers: &BTreeSet<String>,
    min_ratio: f64,
) -> Vec<PropagationFinding> {
    let mut findings = Vec::new();
    for (service, p) in counts {
        let broken = |spans: u64, roots: u64| {
            spans > 0 && roots as f64 >= min_ratio * spans as f64 && roots > 0
        };
        if has_callers.contains(service) && broken(p.incoming, p.incoming_roots) {
            findings.push(PropagationFinding {
                service: service.clone(),
                broken: Broken::Incoming,
                spans: p.incoming,
                roots: p.incoming_roots,
                example_trace_ids: p.incoming_root_examples.clone(),
            });
        }
        if p.incoming > 0 && broken(p.outgoing, p.outgoing_roots) {
            findings.push(PropagationFinding {
                service: service.clone(),
                broken: Broken::Outgoing,
                spans: p.outgoing,
                roots: p.outgoing_roots,
                example_trace_ids: p.outgoing_root_examples.clone(),
            });
        }
    }
    findings
}
