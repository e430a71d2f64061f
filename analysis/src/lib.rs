//! Architecture analysis: from what the catalog declares and what traces observed (a
//! [`Model`]) to [`Observation`]s: cycles, chatty pairs, hubs, deep synchronous chains,
//! shared datastores, bounded-context crossings, drift; and the version matrix with its
//! can-deploy and can-retire answers; and the graph page's layered layout.
//!
//! No I/O, no async, deterministic output order, never panics on odd input. Work that
//! can explode (enumerating cycles, betweenness) is bounded, and the bound is reported.

mod borders;
mod coupling;
mod cycles;
pub mod graph;
pub mod layout;
pub mod model;
pub mod observation;
pub mod versions;

use serde::{Deserialize, Serialize};

pub use model::{
    Edge, FanOut, Mode, Model, Node, NodeKind, Release, Requirement, VersionedCalls,
    DEFAULT_ENVIRONMENT,
};
pub use observation::{DatastoreUser, EdgeRef, Evidence, Kind, Observation};

/// Where observations begin. Every figure is configurable (`[analysis]` in seam.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// A pair is chatty from this many calls per request into the caller (mean), or
    /// when its 95th percentile reaches twice this.
    pub chatty_calls_per_request: f64,
    /// ... or from this many calls per minute, averaged over the window.
    pub chatty_calls_per_minute: f64,
    /// A hub has at least this many distinct services calling it ...
    pub hub_fan_in: usize,
    /// ... or calls at least this many distinct services ...
    pub hub_fan_out: usize,
    /// ... or lies on at least this share (0..1) of shortest paths between others.
    pub hub_betweenness: f64,
    /// Synchronous chains of at least this many services are reported.
    pub chain_depth: usize,
    /// Deep chains reported at most (the deepest first).
    pub max_chains: usize,
    /// Elementary cycles listed at most, over all components ...
    pub max_cycles: usize,
    /// ... and per strongly connected component.
    pub max_cycles_per_component: usize,
    /// Betweenness is exact while services × (services + edges) stays under this, else
    /// estimated from as many sources as the budget allows (at least 32).
    pub betweenness_budget: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            chatty_calls_per_request: 10.0,
            chatty_calls_per_minute: 6000.0,
            hub_fan_in: 10,
            hub_fan_out: 6,
            hub_betweenness: 0.25,
            chain_depth: 5,
            max_chains: 10,
            max_cycles: 500,
            max_cycles_per_component: 100,
            betweenness_budget: 20_000_000,
        }
    }
}

impl Thresholds {
    /// A sentence saying what is wrong, or `None`.
    pub fn validate(&self) -> Option<String> {
        let positive = [
            ("chatty_calls_per_request", self.chatty_calls_per_request),
            ("chatty_calls_per_minute", self.chatty_calls_per_minute),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Some(format!("[analysis] {name} must be a positive number"));
            }
        }
        if !(0.0..=1.0).contains(&self.hub_betweenness) {
            return Some("[analysis] hub_betweenness must be between 0 and 1".into());
        }
        if self.chain_depth < 2 {
            return Some("[analysis] chain_depth must be at least 2".into());
        }
        if self.max_cycles_per_component == 0 || self.max_cycles == 0 {
            return Some(
                "[analysis] max_cycles and max_cycles_per_component must be positive".into(),
            );
        }
        None
    }
}

/// A strongly connected component of more than one service (or one calling itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Its services, by name.
    pub services: Vec<String>,
    /// Edges inside it, and how many of them are synchronous.
    pub edges: usize,
    pub sync_edges: usize,
    /// Elementary cycles listed as observations, and how many more were found but not
    /// listed; `more_is_lower_bound` when counting stopped at the work bound.
    pub cycles_shown: usize,
    pub cycles_not_shown: u64,
    pub more_is_lower_bound: bool,
}

/// How the bounded parts of the analysis ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub nodes: usize,
    pub edges: usize,
    pub components: usize,
    pub cycles_shown: usize,
    pub cycles_not_shown: u64,
    pub betweenness_exact: bool,
    /// Sources betweenness was computed from (every service when exact).
    pub betweenness_samples: usize,
}

/// Everything the analysis observed, in a deterministic order: by kind, then id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub observations: Vec<Observation>,
    pub components: Vec<Component>,
    pub stats: Stats,
}

impl Report {
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Observation> {
        self.observations.iter().filter(move |o| o.kind == kind)
    }
}

/// Runs every analysis over `model` (edges merged first).
pub fn analyse(model: &Model, thresholds: &Thresholds) -> Report {
    let index = graph::Index::new(model);
    let mut report = Report::default();
    let found = cycles::cycles(model, &index, thresholds);
    report.observations.extend(found.observations);
    report.components = found.components;
    report.stats.cycles_shown = report.components.iter().map(|c| c.cycles_shown).sum();
    report.stats.cycles_not_shown = report.components.iter().map(|c| c.cycles_not_shown).sum();
    report
        .observations
        .extend(coupling::chatty(model, thresholds));
    let hubs = coupling::hubs(model, &index, thresholds);
    report.stats.betweenness_exact = hubs.exact;
    report.stats.betweenness_samples = hubs.samples;
    report.observations.extend(hubs.observations);
    report
        .observations
        .extend(coupling::chains(model, &index, thresholds));
    report
        .observations
        .extend(borders::shared_datastores(&index));
    report
        .observations
        .extend(borders::context_crossings(&index));
    report.observations.extend(borders::drift(&index));
    let matrix = versions::matrix(model);
    report.observations.extend(versions::observations(&matrix));
    report.stats.nodes = index.len();
    report.stats.edges = model.edges.len();
    report.stats.components = report.components.len();
    report
        .observations
        .sort_unstable_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    report
}
