//! What the analysis reports: observations with their evidence, and no severity (the
//! principles turn observations into coded findings with severities).

use serde::{Deserialize, Serialize};

use crate::model::Mode;

/// What an observation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An elementary cycle of calls between services.
    Cycle,
    /// A caller that calls one callee many times per request, or very often.
    ChattyPair,
    /// A service many others call, or that calls many, or that sits on many paths.
    Hub,
    /// A long chain of synchronous calls.
    DeepChain,
    /// A datastore used by services of different owners or bounded contexts.
    SharedDatastore,
    /// Calls from one bounded context into another outside a declared API.
    ContextCrossing,
    /// A dependency declared in a manifest but never observed in the window.
    DeclaredNotObserved,
    /// Calls observed in the window that no manifest declares.
    ObservedNotDeclared,
    /// Several major versions of one service live at once in one environment.
    SeveralMajors,
    /// A consumer's declared range rejects a provider version that is live.
    RangeMismatch,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Cycle,
        Kind::ChattyPair,
        Kind::Hub,
        Kind::DeepChain,
        Kind::SharedDatastore,
        Kind::ContextCrossing,
        Kind::DeclaredNotObserved,
        Kind::ObservedNotDeclared,
        Kind::SeveralMajors,
        Kind::RangeMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cycle => "cycle",
            Kind::ChattyPair => "chatty_pair",
            Kind::Hub => "hub",
            Kind::DeepChain => "deep_chain",
            Kind::SharedDatastore => "shared_datastore",
            Kind::ContextCrossing => "context_crossing",
            Kind::DeclaredNotObserved => "declared_not_observed",
            Kind::ObservedNotDeclared => "observed_not_declared",
            Kind::SeveralMajors => "several_majors",
            Kind::RangeMismatch => "range_mismatch",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// An edge an observation concerns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EdgeRef {
    pub caller: String,
    pub callee: String,
    pub mode: Mode,
    pub declared: bool,
    pub observed: bool,
}

/// One thing the analysis noticed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub kind: Kind,
    /// Stable across runs while the same thing is observed (for waivers and history):
    /// the kind and its subject, e.g. `cycle:orders>payments>orders`.
    pub id: String,
    /// One sentence saying what was observed, with the figures that matter.
    pub summary: String,
    /// The services (and datastores) concerned, in the order the evidence uses.
    pub services: Vec<String>,
    pub edges: Vec<EdgeRef>,
    pub evidence: Evidence,
}

/// The figures behind an observation, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    Cycle {
        /// Every edge synchronous: each call waits on the next, back to the first.
        sync: bool,
        /// Every edge declared, every edge observed.
        declared: bool,
        observed: bool,
        /// The strongly connected component the cycle lies in (index into
        /// `Report::components`) and its size.
        component: usize,
        component_size: usize,
    },
    Chatty {
        /// Calls of the pair per request into the caller (from traces), when known.
        calls_per_request_mean: Option<f64>,
        calls_per_request_p50: Option<f64>,
        calls_per_request_p95: Option<f64>,
        calls_per_request_max_bound: Option<f64>,
        /// Requests into the caller that made at least one such call.
        requests: f64,
        /// `(upper bound, cumulative requests)`, the last `+Inf`.
        distribution: Vec<(f64, f64)>,
        calls_per_minute: f64,
        threshold_calls_per_request: f64,
        threshold_calls_per_minute: f64,
    },
    Hub {
        /// Distinct services calling it, and it calls.
        fan_in: usize,
        fan_out: usize,
        /// Share of shortest paths between other services through it, 0..1.
        betweenness: f64,
        /// Exact, or estimated from `samples` sources (sampled Brandes).
        betweenness_exact: bool,
        samples: usize,
    },
    Chain {
        /// Services on the chain (calls from each to the next are synchronous).
        depth: usize,
        /// Some services of the chain sit in a cycle; the chain passes through the
        /// cycle's component once.
        through_cycle: bool,
    },
    SharedDatastore {
        datastore: String,
        users: Vec<DatastoreUser>,
        owners: Vec<String>,
        domains: Vec<String>,
    },
    ContextCrossing {
        from_domain: String,
        to_domain: String,
        calls_per_second: f64,
    },
    Drift {
        calls_per_second: f64,
        /// Window the drift was judged over.
        window_seconds: f64,
    },
    SeveralMajors {
        environment: String,
        majors: Vec<u64>,
        versions: Vec<String>,
    },
    RangeMismatch {
        environment: String,
        consumer: String,
        provider: String,
        api: Option<String>,
        range: String,
        /// Live provider versions (or API versions) the range rejects.
        rejected: Vec<String>,
    },
}

/// A service that uses a datastore, and how that is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatastoreUser {
    pub service: String,
    pub owner: Option<String>,
    pub domain: Option<String>,
    pub declared: bool,
    pub observed: bool,
}
