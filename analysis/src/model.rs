//! What the analysis reads: the services and datastores of the catalog, the edges between
//! them (declared, observed over a window, or both) and the versions that really run.
//!
//! A [`Model`] is plain data. [`Model::from_catalog`] fills it from the catalog snapshot
//! (declared dependencies, datastores, owners, domains, systems, manifest versions);
//! [`Model::observe`] and [`Model::observe_versions`] add what traces saw. Tests build
//! models by hand.

use std::collections::{BTreeMap, HashMap};

use seam_catalog::manifest::Mode as DeclaredMode;
use seam_snapshot::Snapshot;
use serde::{Deserialize, Serialize};

/// The environment versions are placed in when spans name none
/// (`deployment.environment.name` unset) and for what manifests declare.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// What a node of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A service: in the catalog, or seen sending spans.
    Service,
    /// A datastore: declared by a manifest, or named by database spans.
    Datastore,
    /// A peer that sends no spans (a queue, an uninstrumented service, a third party).
    External,
    /// Where requests from outside come from.
    User,
}

/// Whether the caller waits for the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Sync,
    Async,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }
}

/// A node: a service, a datastore, an external peer or the outside world.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// In the catalog (services and declared datastores).
    pub registered: bool,
    pub owner: Option<String>,
    pub domain: Option<String>,
    pub system: Option<String>,
    /// The health state word (`healthy`, `degraded`, `failing`, `unknown`), when known.
    pub health: Option<String>,
}

impl Node {
    pub fn service(name: &str) -> Node {
        Node {
            name: name.to_owned(),
            kind: NodeKind::Service,
            registered: true,
            owner: None,
            domain: None,
            system: None,
            health: None,
        }
    }
}

/// Calls of an edge per request into the caller: how many requests made at least one
/// call, how many calls they made, and cumulative counts by upper bound (the last
/// `+Inf`), as the trace collector records them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FanOut {
    pub requests: f64,
    pub calls: f64,
    pub buckets: Vec<(f64, f64)>,
}

impl FanOut {
    pub fn add(&mut self, other: &FanOut) {
        self.requests += other.requests;
        self.calls += other.calls;
        if self.buckets.is_empty() {
            self.buckets = other.buckets.clone();
        } else if self.buckets.len() == other.buckets.len() {
            for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
                mine.1 += theirs.1;
            }
        }
    }

    /// Mean calls per request; `None` without requests.
    pub fn mean(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.calls / self.requests)
    }

    /// The `q` quantile (0..1) as the upper bound of the bucket it falls in (the largest
    /// finite bound when it falls in `+Inf`); `None` without requests or buckets.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 || !q.is_finite() {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let mut finite = None;
        for &(bound, count) in &self.buckets {
            if bound.is_finite() {
                finite = Some(bound);
            }
            if count >= rank {
                return if bound.is_finite() {
                    Some(bound)
                } else {
                    finite
                };
            }
        }
        finite
    }
}

/// A directed edge between two nodes: everything one caller does to one callee in one
/// mode, summed over versions, protocols and operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub caller: String,
    pub callee: String,
    pub mode: Mode,
    /// `http`, `grpc`, `event`, a database or messaging system; the first seen.
    pub protocol: String,
    /// A manifest of the caller declares the dependency.
    pub declared: bool,
    /// Traces saw calls over it in the window.
    pub observed: bool,
    /// APIs the declared dependency names and the callee provides (calls through a
    /// declared API do not cross a bounded context's border unannounced).
    pub apis: Vec<String>,
    /// Calls and failed calls in the window.
    pub calls: f64,
    pub errors: f64,
    pub fan_out: FanOut,
}

impl Edge {
    /// A declared edge with no traffic.
    pub fn declared(caller: &str, callee: &str, mode: Mode) -> Edge {
        Edge {
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            mode,
            protocol: String::new(),
            declared: true,
            observed: false,
            apis: Vec::new(),
            calls: 0.0,
            errors: 0.0,
            fan_out: FanOut::default(),
        }
    }

    /// An observed edge with `calls` calls and no declaration.
    pub fn observed(caller: &str, callee: &str, mode: Mode, calls: f64) -> Edge {
        Edge {
            declared: false,
            observed: true,
            calls,
            ..Edge::declared(caller, callee, mode)
        }
    }

    /// Failed calls over calls; 0 without calls.
    pub fn error_ratio(&self) -> f64 {
        if self.calls > 0.0 {
            (self.errors / self.calls).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

/// Observed calls from one caller version to one callee version in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionedCalls {
    pub environment: String,
    pub caller: String,
    pub caller_version: Option<String>,
    pub callee: String,
    pub callee_version: Option<String>,
    pub calls: f64,
}

/// A version of a service a manifest revision declared, with the versions of the APIs
/// that revision provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub service: String,
    pub version: String,
    /// `(api, version)` per provided API; the version is `None` when not declared.
    pub apis: Vec<(String, Option<String>)>,
}

/// A dependency a consumer declares on a provider, with its semver range as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub consumer: String,
    pub provider: String,
    /// The API named: the range applies to its version, else to the service's version.
    pub api: Option<String>,
    pub range: Option<String>,
}

/// Everything the analysis reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Nodes by name; edges may name nodes absent here (they are added as unregistered).
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// The window observed edges and calls cover, in seconds (0: nothing observed).
    pub window_seconds: f64,
    /// Observed calls by version pair and environment.
    pub calls: Vec<VersionedCalls>,
    /// The version each service's current manifest declares.
    pub manifest_versions: BTreeMap<String, String>,
    /// Versions manifests have declared over time, with their APIs' versions (the
    /// current revision and earlier ones).
    pub releases: Vec<Release>,
    pub requirements: Vec<Requirement>,
    /// Datastores each service declares it uses.
    pub datastore_users: Vec<(String, String)>,
}

impl Model {
    /// The declared architecture: every service, datastore and declared dependency of
    /// the snapshot, the current manifests' versions and ranges. Releases hold the
    /// current revisions only; add earlier ones with [`Model::add_release`].
    pub fn from_catalog(snapshot: &Snapshot) -> Model {
        let mut model = Model::default();
        for view in snapshot.services() {
            let m = &view.manifest;
            model.nodes.push(Node {
                name: m.name.clone(),
                kind: NodeKind::Service,
                registered: true,
                owner: Some(m.owner.clone()),
                domain: m.domain.clone(),
                system: m.system.clone(),
                health: None,
            });
            if let Some(version) = &m.version {
                model
                    .manifest_versions
                    .insert(m.name.clone(), version.clone());
                model.releases.push(Release {
                    service: m.name.clone(),
                    version: version.clone(),
                    apis: m
                        .provides
                        .iter()
                        .map(|api| (api.name.clone(), api.version.clone()))
                        .collect(),
                });
            }
            for dep in &view.consumes {
                let Some(target) = dep.target() else { continue };
                if target == m.name {
                    continue;
                }
                let mode = match dep.declared.mode {
                    DeclaredMode::Sync => Mode::Sync,
                    DeclaredMode::Async => Mode::Async,
                };
                let provides_api = |api: &str| {
                    snapshot
                        .service(target)
                        .is_some_and(|s| s.manifest.provides.iter().any(|p| p.name == api))
                };
                let mut edge = Edge::declared(&m.name, target, mode);
                edge.protocol = protocol_name(dep.declared.protocol).to_owned();
                if let Some(api) = &dep.declared.api {
                    if provides_api(api) {
                        edge.apis.push(api.clone());
                    }
                }
                model.edges.push(edge);
                model.requirements.push(Requirement {
                    consumer: m.name.clone(),
                    provider: target.to_owned(),
                    api: dep.declared.api.clone(),
                    range: dep.declared.version_req.clone(),
                });
            }
            for store in &m.datastores {
                model
                    .datastore_users
                    .push((m.name.clone(), store.name.clone()));
            }
        }
        for store in snapshot.datastores() {
            model.nodes.push(Node {
                name: store.name.clone(),
                kind: NodeKind::Datastore,
                registered: true,
                owner: store.entity.as_ref().map(|e| e.owner.clone()),
                domain: None,
                system: store.entity.as_ref().and_then(|e| e.system.clone()),
                health: None,
            });
        }
        model.merge_edges();
        model
    }

    /// Adds an observed edge: merged into the declared edge between the same nodes in
    /// the same mode when there is one. Adds unknown nodes as unregistered.
    pub fn observe(&mut self, edge: Edge, caller_kind: NodeKind, callee_kind: NodeKind) {
        for (name, kind) in [(&edge.caller, caller_kind), (&edge.callee, callee_kind)] {
            self.nodes.push(Node {
                registered: false,
                kind,
                ..Node::service(name)
            });
        }
        self.edges.push(edge);
    }

    /// Sorts nodes by name, keeping one per name (the catalog's, if any), and merges
    /// edges with the same caller, callee and mode: declared and observed flags or'ed,
    /// traffic summed. Call after adding edges.
    pub fn merge_edges(&mut self) {
        self.nodes
            .sort_by(|a, b| (&a.name, !a.registered).cmp(&(&b.name, !b.registered)));
        self.nodes.dedup_by(|later, first| later.name == first.name);
        // Sorted by (caller, callee, mode) through integer keys: names are interned once
        // (a hash map), ranked by name, and the edges moved in key order (stable), which
        // is several times faster than comparing strings at each step of the sort.
        let keys: Vec<(u32, u32, Mode)> = {
            let mut ids: HashMap<&str, u32> = HashMap::with_capacity(self.nodes.len() + 16);
            let mut raw: Vec<(u32, u32, Mode)> = Vec::with_capacity(self.edges.len());
            for edge in &self.edges {
                let next = ids.len() as u32;
                let caller = *ids.entry(edge.caller.as_str()).or_insert(next);
                let next = ids.len() as u32;
                let callee = *ids.entry(edge.callee.as_str()).or_insert(next);
                raw.push((caller, callee, edge.mode));
            }
            let mut names: Vec<(&str, u32)> = ids.into_iter().collect();
            names.sort_unstable();
            let mut rank = vec![0u32; names.len()];
            for (position, (_, id)) in names.iter().enumerate() {
                rank[*id as usize] = position as u32;
            }
            raw.into_iter()
                .map(|(a, b, mode)| (rank[a as usize], rank[b as usize], mode))
                .collect()
        };
        // In place: the model may hold a million edges, and fresh copies of them cost more
        // (page faults) than the sort.
        let mut order: Vec<u32> = (0..self.edges.len() as u32).collect();
        order.sort_by_key(|&i| keys[i as usize]);
        permute(&mut self.edges, order);
        self.edges.dedup_by(|later, first| {
            if later.caller != first.caller
                || later.callee != first.callee
                || later.mode != first.mode
            {
                return false;
            }
            first.declared |= later.declared;
            first.observed |= later.observed;
            if first.protocol.is_empty() {
                first.protocol = std::mem::take(&mut later.protocol);
            }
            for api in later.apis.drain(..) {
                if !first.apis.contains(&api) {
                    first.apis.push(api);
                }
            }
            first.calls += later.calls;
            first.errors += later.errors;
            first.fan_out.add(&later.fan_out);
            true
        });
    }

    /// A node by name, after [`Model::merge_edges`].
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes
            .binary_search_by(|n| n.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.nodes[i])
    }
}

/// Reorders `items` so that position `p` holds what was at `order[p]`, in place (each
/// cycle of the permutation followed once).
fn permute<T>(items: &mut [T], mut order: Vec<u32>) {
    for start in 0..items.len().min(order.len()) {
        let mut current = start;
        loop {
            let next = order[current] as usize;
            order[current] = current as u32;
            if next == start || next == current || next >= items.len() {
                break;
            }
            items.swap(current, next);
            current = next;
        }
    }
}

fn protocol_name(protocol: seam_catalog::manifest::Protocol) -> &'static str {
    use seam_catalog::manifest::Protocol;
    match protocol {
        Protocol::Http => "http",
        Protocol::Grpc => "grpc",
        Protocol::Event => "event",
        Protocol::Graphql => "graphql",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let mut items = vec!['a', 'b', 'c', 'd', 'e'];
        permute(&mut items, vec![2, 0, 1, 4, 3]);
        assert_eq!(items, ['c', 'a', 'b', 'e', 'd']);
        let mut same = vec![1, 2, 3];
        permute(&mut same, vec![0, 1, 2]);
        assert_eq!(same, [1, 2, 3]);
    }

    #[test]
    fn merging_sums_traffic_and_ors_the_flags_in_name_order() {
        let mut model = Model {
            edges: vec![
                Edge::observed("b", "c", Mode::Sync, 2.0),
                Edge::declared("a", "b", Mode::Sync),
                Edge::observed("b", "c", Mode::Sync, 3.0),
                Edge::declared("b", "c", Mode::Sync),
                Edge::observed("b", "c", Mode::Async, 1.0),
            ],
            ..Model::default()
        };
        model.merge_edges();
        let merged: Vec<(&str, &str, Mode, bool, bool, f64)> = model
            .edges
            .iter()
            .map(|e| {
                (
                    e.caller.as_str(),
                    e.callee.as_str(),
                    e.mode,
                    e.declared,
                    e.observed,
                    e.calls,
                )
            })
            .collect();
        assert_eq!(
            merged,
            [
                ("a", "b", Mode::Sync, true, false, 0.0),
                ("b", "c", Mode::Sync, true, true, 5.0),
                ("b", "c", Mode::Async, false, true, 1.0),
            ]
        );
    }
}
