//! The observed call graph: span batches from the OTLP receivers go through the
//! [`seam_traces::Graph`] (pairing, edges per bucket), request statistics of server spans
//! go to the health engine, closed buckets are written to the store in batches, and the
//! graph is read back merged with what the catalog declares.
//!
//! Time comes from a [`Clock`], so tests drive minutes without waiting for them.
//! Bucket size, retention and downsampling are the `[health]` settings: one set of
//! retention rules for everything observed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use seam_collectors::otlp::SpanBatch;
use seam_snapshot::Snapshot;
use seam_store::SharedStore;
use seam_traces::{
    propagation_findings, EdgeKey, EdgeRow, EdgeStats, Graph, GraphConfig, NodeKind,
    PropagationFinding,
};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::health::{Clock, Health, HealthConfig};

/// `[traces]`: how spans are paired and what counts as broken propagation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// Seconds a client span waits for its server span (and the reverse) before it
    /// becomes an edge to a virtual node or is counted unpaired.
    pub pair_ttl_secs: i64,
    /// Most spans waiting for their other half at once; past it spans are dropped and
    /// counted (`seam_trace_spans_dropped_total`).
    pub max_pending: usize,
    /// Parts of the pairing store, each behind its own lock, so the receiving tasks
    /// work on different cores.
    pub shards: usize,
    /// Share of a side's spans that must be roots for broken propagation to be reported.
    pub propagation_min_ratio: f64,
}

impl Default for TracesConfig {
    fn default() -> Self {
        TracesConfig {
            pair_ttl_secs: 5,
            max_pending: 1_000_000,
            shards: 16,
            propagation_min_ratio: 0.5,
        }
    }
}

impl TracesConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=600).contains(&self.pair_ttl_secs) {
            return Err(format!(
                "[traces] pair_ttl_secs = {}: expected 1 to 600",
                self.pair_ttl_secs
            ));
        }
        if !(1_000..=100_000_000).contains(&self.max_pending) {
            return Err(format!(
                "[traces] max_pending = {}: expected 1000 to 100000000",
                self.max_pending
            ));
        }
        if !(1..=256).contains(&self.shards) {
            return Err(format!(
                "[traces] shards = {}: expected 1 to 256",
                self.shards
            ));
        }
        if !(0.0..=1.0).contains(&self.propagation_min_ratio) {
            return Err(format!(
                "[traces] propagation_min_ratio = {}: expected 0 to 1",
                self.propagation_min_ratio
            ));
        }
        Ok(())
    }
}

/// Most closed edge buckets held for a later write while the store fails.
const MAX_UNWRITTEN: usize = 200_000;

/// The traces engine's shared state.
pub struct Traces {
    graph: Graph,
    clock: Clock,
    health: Arc<Health>,
    retention: HealthConfig,
    config: TracesConfig,
    unwritten: Mutex<Vec<EdgeRow>>,
    /// Edges read from another engine's servicegraph metrics (closed buckets, already
    /// written to the store), the last hour of them, for window reads from memory.
    imported: Mutex<std::collections::VecDeque<EdgeRow>>,
}

/// Where an edge comes from: `source=observed|declared|both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Observed,
    Declared,
    Both,
}

impl Source {
    pub fn parse(text: &str) -> Option<Source> {
        match text {
            "observed" => Some(Source::Observed),
            "declared" => Some(Source::Declared),
            "both" => Some(Source::Both),
            _ => None,
        }
    }
}

/// A node of the graph as the API and pages show it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    pub name: String,
    pub kind: NodeKind,
    /// In the catalog (services and declared datastores).
    pub registered: bool,
    /// `service.version`s seen on spans in the window, and namespaces and environments.
    pub versions: Vec<String>,
    pub namespaces: Vec<String>,
    pub environments: Vec<String>,
}

/// An edge between two nodes as the API and pages show it: every observed call of one
/// caller version to one callee version over one protocol, summed over operations.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeView {
    pub caller: String,
    pub caller_kind: NodeKind,
    pub callee: String,
    pub callee_kind: NodeKind,
    pub caller_version: Option<String>,
    pub callee_version: Option<String>,
    pub environment: Option<String>,
    /// `http`, `grpc`, a messaging or database system; the declared protocol for
    /// declared-only edges.
    pub protocol: String,
    /// `sync` or `async`.
    pub mode: &'static str,
    /// Operations seen (route templates, RPC methods, destinations), at most 20.
    pub operations: Vec<String>,
    pub stats: EdgeStats,
    pub window_secs: i64,
    /// A dependency declared in the catalog between the two (either direction of drift
    /// shows as one of these being false).
    pub declared: bool,
    pub observed: bool,
}

impl EdgeView {
    /// Calls per second over the window.
    pub fn request_rate(&self) -> f64 {
        self.stats.calls.rate(self.window_secs as f64)
    }
}

/// The graph over a window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphView {
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
}

/// One pair of versions seen on an edge, with its calls.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPair {
    pub caller_version: Option<String>,
    pub callee_version: Option<String>,
    pub calls: seam_health::RequestStats,
}

/// One edge (caller to callee, all versions, protocols and operations) over time.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeDetail {
    pub points: Vec<crate::health::SeriesPoint>,
    pub step: i64,
    /// Pairs of versions seen, most calls first.
    pub versions: Vec<VersionPair>,
    /// Operations seen, most calls first, with their calls.
    pub operations: Vec<(String, f64)>,
    pub declared: bool,
}

/// Operations listed per edge at most.
const MAX_OPERATIONS: usize = 20;

impl Traces {
    pub fn new(
        config: TracesConfig,
        retention: HealthConfig,
        clock: Clock,
        health: Arc<Health>,
    ) -> Arc<Traces> {
        let keep_buckets = (3600 / retention.bucket_secs.max(1)) as usize + 2;
        Arc::new(Traces {
            graph: Graph::new(GraphConfig {
                shards: config.shards,
                pair_ttl_secs: config.pair_ttl_secs,
                max_pending: config.max_pending,
                bucket_secs: retention.bucket_secs,
                keep_buckets,
            }),
            clock,
            health,
            retention,
            config,
            unwritten: Mutex::new(Vec::new()),
            imported: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Seconds of edges held in memory; longer windows read the store.
    pub fn memory_seconds(&self) -> i64 {
        3600
    }

    /// Takes one received batch: request statistics of its server spans to the health
    /// engine, every span to the pairing.
    pub fn ingest(&self, batch: SpanBatch) {
        let now = self.now();
        let stats = seam_traces::request_stats(&batch.spans);
        if !stats.is_empty() {
            self.health.record_spans(stats, now);
        }
        self.graph.ingest(batch.spans, now);
    }

    /// Takes edges another engine computed (an OpenTelemetry Collector's or Tempo's
    /// servicegraph metrics, read from Prometheus): closed buckets, written to the store
    /// at once (a failed write is retried with the next flush) and kept in memory for an
    /// hour.
    pub async fn import(&self, store: &SharedStore, rows: Vec<EdgeRow>) {
        if rows.is_empty() {
            return;
        }
        {
            let mut imported = self.imported.lock().unwrap_or_else(|p| p.into_inner());
            imported.extend(rows.iter().cloned());
            let horizon = self.now() - self.memory_seconds();
            while imported.front().is_some_and(|row| row.start < horizon) {
                imported.pop_front();
            }
        }
        if let Err(err) = store.write_edges(self.retention.bucket_secs, &rows).await {
            tracing::warn!(error = %err, rows = rows.len(), "imported edges not written; retrying with the next batch");
            let mut unwritten = self.unwritten.lock().unwrap_or_else(|p| p.into_inner());
            unwritten.extend(rows);
        }
    }

    /// Writes the closed buckets in one batch; a failed write keeps them for the next.
    pub async fn flush(&self, store: &SharedStore) -> usize {
        self.flush_at(store, self.now()).await
    }

    /// [`Traces::flush`] as if it were `now`: on shutdown, a bucket ahead closes the
    /// open one.
    async fn flush_at(&self, store: &SharedStore, now: i64) -> usize {
        let batch = {
            let mut unwritten = self.unwritten.lock().unwrap_or_else(|p| p.into_inner());
            let mut batch = std::mem::take(&mut *unwritten);
            batch.extend(self.graph.take_closed(now));
            batch
        };
        if batch.is_empty() {
            return 0;
        }
        match store.write_edges(self.retention.bucket_secs, &batch).await {
            Ok(()) => batch.len(),
            Err(err) => {
                tracing::warn!(error = %err, rows = batch.len(), "edge buckets not written; retrying with the next batch");
                let mut unwritten = self.unwritten.lock().unwrap_or_else(|p| p.into_inner());
                let mut kept = batch;
                kept.append(&mut unwritten);
                if kept.len() > MAX_UNWRITTEN {
                    let dropped = kept.len() - MAX_UNWRITTEN;
                    kept.drain(..dropped);
                    tracing::error!(
                        dropped,
                        "edge buckets dropped: the store failed for too long"
                    );
                }
                *unwritten = kept;
                0
            }
        }
    }

    /// Folds old minutes into hours and removes what is past retention.
    pub async fn maintain(&self, store: &SharedStore) {
        let now = self.now();
        let downsample_before = now - self.retention.downsample_after_hours * 3600;
        let prune_before = now - self.retention.retention_days * 86_400;
        match store.downsample_edges(downsample_before).await {
            Ok(folded) if folded > 0 => tracing::info!(folded, "edge minutes folded into hours"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "edge downsampling failed"),
        }
        match store.prune_edges(prune_before).await {
            Ok(removed) if removed > 0 => {
                tracing::info!(removed, "edge buckets past retention removed")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "edge retention failed"),
        }
    }

    /// Observed edges over the last `window` seconds with their statistics: from memory
    /// for up to an hour, else from the store plus the buckets not written yet.
    pub async fn observed(
        &self,
        store: &SharedStore,
        window: i64,
        service: Option<&str>,
    ) -> Result<BTreeMap<EdgeKey, EdgeStats>, seam_store::StoreError> {
        let now = self.now();
        // Edges to virtual nodes are kept: one may be the service at its address (its
        // spans did not pair), which only `Callees::resolve` tells.
        let touches = |key: &EdgeKey| {
            service.is_none_or(|s| {
                &*key.caller == s || &*key.callee == s || key.callee_kind == NodeKind::Virtual
            })
        };
        if window <= self.memory_seconds() {
            let mut edges = self.graph.window_where(now, window, touches).edges;
            let imported = self.imported.lock().unwrap_or_else(|p| p.into_inner());
            for row in imported
                .iter()
                .filter(|r| r.start >= now - window && touches(&r.key))
            {
                edges.entry(row.key.clone()).or_default().add(&row.stats);
            }
            return Ok(edges);
        }
        let mut edges: BTreeMap<EdgeKey, EdgeStats> = BTreeMap::new();
        let from = now - window;
        let mut newest_stored = i64::MIN;
        // Not filtered by service in the database, for the same reason.
        for stored in store.read_edges(from, now + 1, None).await? {
            if !touches(&stored.row.key) {
                continue;
            }
            newest_stored = newest_stored.max(stored.row.start + stored.seconds);
            edges
                .entry(stored.row.key)
                .or_default()
                .add(&stored.row.stats);
        }
        for row in self.graph.recent(newest_stored.max(from), touches) {
            edges.entry(row.key).or_default().add(&row.stats);
        }
        Ok(edges)
    }

    /// One edge over `window` seconds in steps of `step` (rounded to whole buckets): its
    /// calls, errors and latency over time, the versions and operations seen; `None`
    /// when it was neither observed in the window nor declared.
    pub async fn edge_detail(
        &self,
        store: &SharedStore,
        snapshot: &Snapshot,
        caller: &str,
        callee: &str,
        window: i64,
        step: i64,
    ) -> Result<Option<EdgeDetail>, seam_store::StoreError> {
        let now = self.now();
        let bucket = self.retention.bucket_secs;
        let step = (step.max(bucket) / bucket) * bucket;
        let mut steps = crate::health::Steps::new(now, window, step);
        let from = steps.from;
        let callees = Callees::new(snapshot);
        let matches = |key: &EdgeKey| &*key.caller == caller && callees.resolve(key).0 == callee;
        let mut rows: Vec<EdgeRow> = Vec::new();
        let mut newest_stored = i64::MIN;
        if window > self.memory_seconds() {
            for stored in store.read_edges(from, now + 1, Some(caller)).await? {
                if matches(&stored.row.key) {
                    newest_stored = newest_stored.max(stored.row.start + stored.seconds);
                    rows.push(stored.row);
                }
            }
        }
        rows.extend(
            self.graph
                .recent(newest_stored.max(from), |key| matches(key)),
        );
        {
            let imported = self.imported.lock().unwrap_or_else(|p| p.into_inner());
            rows.extend(
                imported
                    .iter()
                    .filter(|r| r.start >= newest_stored.max(from) && matches(&r.key))
                    .cloned(),
            );
        }
        let declared =
            declared_edges(snapshot).contains_key(&(caller.to_owned(), callee.to_owned()));
        if rows.is_empty() && !declared {
            return Ok(None);
        }
        let mut versions: BTreeMap<(String, String), seam_health::RequestStats> = BTreeMap::new();
        let mut operations: BTreeMap<String, f64> = BTreeMap::new();
        for row in &rows {
            steps.add(row.start, &row.stats.calls);
            versions
                .entry((
                    row.key.caller_version.to_string(),
                    row.key.callee_version.to_string(),
                ))
                .or_default()
                .add(&row.stats.calls);
            if !row.key.operation.is_empty() {
                *operations.entry(row.key.operation.to_string()).or_default() +=
                    row.stats.calls.requests;
            }
        }
        let mut versions: Vec<VersionPair> = versions
            .into_iter()
            .map(|((caller_version, callee_version), calls)| VersionPair {
                caller_version: non_empty(&caller_version),
                callee_version: non_empty(&callee_version),
                calls,
            })
            .collect();
        versions.sort_by(|a, b| b.calls.requests.total_cmp(&a.calls.requests));
        let mut operations: Vec<(String, f64)> = operations.into_iter().collect();
        operations.sort_by(|a, b| b.1.total_cmp(&a.1));
        operations.truncate(MAX_OPERATIONS * 5);
        Ok(Some(EdgeDetail {
            points: steps.finish(now),
            step,
            versions,
            operations,
            declared,
        }))
    }

    /// Broken trace-context propagation over the window, per service.
    pub fn propagation(&self, snapshot: &Snapshot, window: i64) -> Vec<PropagationFinding> {
        let now = self.now();
        let w = self.graph.window(now, window.min(self.memory_seconds()));
        let callees = Callees::new(snapshot);
        let mut has_callers: BTreeSet<String> = BTreeSet::new();
        // Declared callers: every service some manifest says it consumes (registered
        // or not).
        for view in snapshot.services() {
            for dependency in &view.consumes {
                if let Some(target) = dependency.target() {
                    has_callers.insert(target.to_owned());
                }
            }
        }
        for key in w.edges.keys() {
            if key.caller_kind == NodeKind::Service {
                let callee = callees.resolve(key);
                if callee.1 == NodeKind::Service {
                    has_callers.insert(callee.0);
                }
            }
        }
        propagation_findings(
            &w.propagation,
            &has_callers,
            self.config.propagation_min_ratio,
        )
    }

    /// The graph over `window` seconds: observed edges (virtual nodes that are catalog
    /// services by address or name resolved to them), declared ones, or both, with the
    /// drift flags.
    pub async fn view(
        &self,
        store: &SharedStore,
        snapshot: &Snapshot,
        window: i64,
        source: Source,
        service: Option<&str>,
    ) -> Result<GraphView, seam_store::StoreError> {
        let declared = declared_edges(snapshot);
        let callees = Callees::new(snapshot);
        let observed = if source == Source::Declared {
            BTreeMap::new()
        } else {
            self.observed(store, window, service).await?
        };
        let resources = self
            .graph
            .window(self.now(), window.min(self.memory_seconds()))
            .resources;
        let mut grouped: BTreeMap<GroupKey, EdgeView> = BTreeMap::new();
        let mut observed_pairs: BTreeSet<(String, String)> = BTreeSet::new();
        for (key, stats) in observed {
            let (callee, callee_kind) = callees.resolve(&key);
            if let Some(s) = service {
                if *key.caller != *s && callee != s {
                    continue;
                }
            }
            let pair = (key.caller.to_string(), callee.clone());
            observed_pairs.insert(pair.clone());
            let group = GroupKey {
                caller: key.caller.to_string(),
                callee: callee.clone(),
                caller_version: key.caller_version.to_string(),
                callee_version: key.callee_version.to_string(),
                environment: key.environment.to_string(),
                protocol: key.protocol.to_string(),
                mode: key.mode.as_str(),
            };
            let view = grouped.entry(group).or_insert_with(|| EdgeView {
                caller: key.caller.to_string(),
                caller_kind: key.caller_kind,
                callee,
                callee_kind,
                caller_version: non_empty(&key.caller_version),
                callee_version: non_empty(&key.callee_version),
                environment: non_empty(&key.environment),
                protocol: key.protocol.to_string(),
                mode: key.mode.as_str(),
                operations: Vec::new(),
                stats: EdgeStats::default(),
                window_secs: window,
                declared: declared.contains_key(&pair),
                observed: true,
            });
            view.stats.add(&stats);
            if !key.operation.is_empty()
                && view.operations.len() < MAX_OPERATIONS
                && !view.operations.iter().any(|o| **o == *key.operation)
            {
                view.operations.push(key.operation.to_string());
            }
        }
        let mut edges: Vec<EdgeView> = if source == Source::Declared {
            Vec::new()
        } else {
            grouped.into_values().collect()
        };
        if source != Source::Observed {
            for ((caller, callee), (kind, protocol, mode)) in &declared {
                if service.is_some_and(|s| caller != s && callee != s) {
                    continue;
                }
                if source == Source::Both
                    && observed_pairs.contains(&(caller.clone(), callee.clone()))
                {
                    continue;
                }
                edges.push(EdgeView {
                    caller: caller.clone(),
                    caller_kind: NodeKind::Service,
                    callee: callee.clone(),
                    callee_kind: *kind,
                    caller_version: None,
                    callee_version: None,
                    environment: None,
                    protocol: protocol.clone(),
                    mode,
                    operations: Vec::new(),
                    stats: EdgeStats::default(),
                    window_secs: window,
                    declared: true,
                    observed: observed_pairs.contains(&(caller.clone(), callee.clone())),
                });
            }
        }
        edges.sort_by(|a, b| {
            (
                &a.caller,
                &a.callee,
                &a.caller_version,
                &a.callee_version,
                &a.protocol,
            )
                .cmp(&(
                    &b.caller,
                    &b.callee,
                    &b.caller_version,
                    &b.callee_version,
                    &b.protocol,
                ))
        });
        let mut nodes: BTreeMap<String, NodeView> = BTreeMap::new();
        let mut node = |name: &str, kind: NodeKind| {
            nodes.entry(name.to_owned()).or_insert_with(|| {
                let registered = match kind {
                    NodeKind::Service => snapshot.service(name).is_some(),
                    NodeKind::Database => snapshot.datastore(name).is_some(),
                    NodeKind::Virtual | NodeKind::User => false,
                };
                let seen = resources.get(name);
                let collect = |f: &dyn Fn(&seam_traces::Resource) -> Option<Arc<str>>| {
                    let mut values: Vec<String> = seen
                        .into_iter()
                        .flatten()
                        .filter_map(|r| f(r).map(|v| v.to_string()))
                        .collect();
                    values.sort();
                    values.dedup();
                    values
                };
                NodeView {
                    name: name.to_owned(),
                    kind,
                    registered,
                    versions: collect(&|r| r.version.clone()),
                    namespaces: collect(&|r| r.namespace.clone()),
                    environments: collect(&|r| r.environment.clone()),
                }
            });
        };
        for edge in &edges {
            node(&edge.caller, edge.caller_kind);
            node(&edge.callee, edge.callee_kind);
        }
        if let Some(s) = service {
            node(s, NodeKind::Service);
        }
        Ok(GraphView {
            nodes: nodes.into_values().collect(),
            edges,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    caller: String,
    callee: String,
    caller_version: String,
    callee_version: String,
    environment: String,
    protocol: String,
    mode: &'static str,
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Resolves the callees of observed edges as the catalog knows them: a virtual node named
/// like a catalog service, or by the `host:port` of one of its declared instances, is that
/// service (its spans did not pair: broken propagation, or it sends none). Built once per
/// read from the snapshot, so resolving is a lookup, not a walk over every service.
pub struct Callees<'a> {
    snapshot: &'a Snapshot,
    by_address: std::collections::HashMap<&'a str, &'a str>,
}

impl<'a> Callees<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Callees<'a> {
        let mut by_address = std::collections::HashMap::new();
        for view in snapshot.services() {
            for instance in &view.manifest.instances {
                if let Some(address) = crate::health::host_port(&instance.base_url) {
                    by_address.entry(address).or_insert(view.name());
                }
            }
        }
        Callees {
            snapshot,
            by_address,
        }
    }

    pub fn resolve(&self, key: &EdgeKey) -> (String, NodeKind) {
        if key.callee_kind != NodeKind::Virtual {
            return (key.callee.to_string(), key.callee_kind);
        }
        let name = &*key.callee;
        if self.snapshot.service(name).is_some() {
            return (name.to_owned(), NodeKind::Service);
        }
        match self.by_address.get(name) {
            Some(service) => ((*service).to_owned(), NodeKind::Service),
            None => (name.to_owned(), NodeKind::Virtual),
        }
    }
}

/// Declared dependencies by (caller, callee): the callee's kind, protocol and mode.
fn declared_edges(
    snapshot: &Snapshot,
) -> BTreeMap<(String, String), (NodeKind, String, &'static str)> {
    let mut declared = BTreeMap::new();
    for view in snapshot.services() {
        for dependency in &view.consumes {
            let Some(target) = dependency.target() else {
                continue;
            };
            let protocol = serde_json::to_value(dependency.declared.protocol)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mode = match dependency.declared.mode {
                seam_catalog::manifest::Mode::Sync => "sync",
                seam_catalog::manifest::Mode::Async => "async",
            };
            // Events flow from the provider (the producer) to the consumer, as the
            // observed producer -> consumer edges do; calls from consumer to provider.
            let pair = if dependency.declared.mode == seam_catalog::manifest::Mode::Async {
                (target.to_owned(), view.name().to_owned())
            } else {
                (view.name().to_owned(), target.to_owned())
            };
            declared.insert(pair, (NodeKind::Service, protocol, mode));
        }
        for store in &view.manifest.datastores {
            declared.insert(
                (view.name().to_owned(), store.name.clone()),
                (NodeKind::Database, store.kind.clone(), "sync"),
            );
        }
    }
    declared
}

/// Receives span batches until the receivers stop; `workers` tasks share the queue so
/// batches are paired on every core.
pub async fn consume(traces: Arc<Traces>, batches: mpsc::Receiver<SpanBatch>, workers: usize) {
    let batches = Arc::new(tokio::sync::Mutex::new(batches));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let traces = traces.clone();
        let batches = batches.clone();
        tasks.spawn(async move {
            loop {
                let batch = batches.lock().await.recv().await;
                let Some(batch) = batch else { break };
                let traces = traces.clone();
                // Pairing is CPU work: off the async workers.
                let _ = tokio::task::spawn_blocking(move || traces.ingest(batch)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Takes batches of edges another engine computed (the servicegraph source) until the
/// source stops, each written at once ([`Traces::import`]).
pub async fn consume_imported(
    traces: Arc<Traces>,
    store: SharedStore,
    mut rows: mpsc::Receiver<Vec<EdgeRow>>,
) {
    while let Some(batch) = rows.recv().await {
        traces.import(&store, batch).await;
    }
}

/// Expires pairs every second, writes closed buckets as they close and once more on
/// shutdown, and folds and prunes hourly.
pub async fn persist(traces: Arc<Traces>, store: SharedStore, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = i64::MIN;
    let mut last_maintain: Option<i64> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        let now = traces.now();
        traces.graph.expire(now);
        let bucket = traces.retention.bucket_secs;
        if now.div_euclid(bucket) != last_flush.div_euclid(bucket) {
            traces.flush(&store).await;
            last_flush = now;
        }
        if last_maintain.is_none_or(|at| now - at >= 3600) {
            traces.maintain(&store).await;
            last_maintain = Some(now);
        }
    }
    // What closed is written; the open bucket is written as it stands.
    let now = traces.now();
    traces.graph.expire(now + traces.config.pair_ttl_secs + 2);
    let _ = traces
        .flush_at(&store, now + traces.retention.bucket_secs)
        .await;
}

/// The pairing's counters on Seam's own `/metrics`, read from the graph at each scrape:
/// what became of every span, so nothing is lost silently.
pub struct TraceMetrics {
    traces: Arc<Traces>,
    otlp: Arc<seam_collectors::otlp::ReceiverStats>,
    otlp_requests: prometheus::IntCounterVec,
    otlp_spans: prometheus::IntCounterVec,
    otlp_bytes: prometheus::IntCounter,
    otlp_seen: Mutex<seam_collectors::otlp::ReceiverCounts>,
    received: prometheus::IntCounter,
    over_limit: prometheus::IntCounter,
    spans: prometheus::IntCounterVec,
    pending: prometheus::IntGauge,
    seen: Mutex<seam_traces::Counters>,
}

impl TraceMetrics {
    pub fn new(
        traces: Arc<Traces>,
        otlp: Arc<seam_collectors::otlp::ReceiverStats>,
    ) -> TraceMetrics {
        TraceMetrics {
            traces,
            otlp,
            otlp_requests: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "seam_otlp_requests_total",
                    "OTLP export requests by transport (http, grpc), encoding (protobuf, json, unknown) and outcome (accepted, partial, rejected, too_large, throttled, unauthorized, unavailable, unsupported)",
                ),
                &["transport", "encoding", "outcome"],
            )
            .expect("valid metric"),
            otlp_spans: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "seam_otlp_spans_total",
                    "Spans in OTLP export requests: accepted (queued for the call graph) or rejected (bad ids, reported as partial success)",
                ),
                &["result"],
            )
            .expect("valid metric"),
            otlp_bytes: prometheus::IntCounter::new(
                "seam_otlp_received_bytes_total",
                "Bytes of OTLP request bodies as received (compressed if they were)",
            )
            .expect("valid metric"),
            otlp_seen: Mutex::new(Default::default()),
            received: prometheus::IntCounter::new(
                "seam_trace_spans_received_total",
                "Spans taken by the call graph (from the OTLP receivers)",
            )
            .expect("valid metric"),
            over_limit: prometheus::IntCounter::new(
                "seam_trace_over_edge_limit_total",
                "Calls not kept because their minute already held as many distinct edges (or services) as it may",
            )
            .expect("valid metric"),
            spans: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "seam_trace_spans_total",
                    "Client, server, producer and consumer spans by what became of them: paired (the two halves of an edge), database (a client span to a database), virtual (an unpaired client span, an edge to the peer it names), user (a root server span), unpaired (expired without an edge), dropped (the pairing store was full), duplicate",
                ),
                &["result"],
            )
            .expect("valid metric"),
            pending: prometheus::IntGauge::new(
                "seam_trace_pending_spans",
                "Spans waiting for their other half in the pairing store",
            )
            .expect("valid metric"),
            seen: Mutex::new(seam_traces::Counters::default()),
        }
    }
}

impl prometheus::core::Collector for TraceMetrics {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        let mut descs = self.received.desc();
        descs.extend(self.otlp_requests.desc());
        descs.extend(self.otlp_spans.desc());
        descs.extend(self.otlp_bytes.desc());
        descs.extend(self.spans.desc());
        descs.extend(self.over_limit.desc());
        descs.extend(self.pending.desc());
        descs
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let now = self.traces.graph.counters();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        for (result, new, old) in [
            ("paired", now.paired, seen.paired),
            ("database", now.database, seen.database),
            ("virtual", now.virtual_edges, seen.virtual_edges),
            ("user", now.user_edges, seen.user_edges),
            ("unpaired", now.unpaired, seen.unpaired),
            ("dropped", now.dropped, seen.dropped),
            ("duplicate", now.duplicates, seen.duplicates),
        ] {
            self.spans
                .with_label_values(&[result])
                .inc_by(new.saturating_sub(old));
        }
        self.received.inc_by(now.spans.saturating_sub(seen.spans));
        self.over_limit
            .inc_by(now.over_edge_limit.saturating_sub(seen.over_edge_limit));
        *seen = now;
        self.pending.set(self.traces.graph.pending() as i64);
        let counts = self.otlp.snapshot();
        let mut seen_otlp = self.otlp_seen.lock().unwrap_or_else(|p| p.into_inner());
        for request in &counts.requests {
            let before = seen_otlp
                .requests
                .iter()
                .find(|r| {
                    (r.transport, r.encoding, r.outcome)
                        == (request.transport, request.encoding, request.outcome)
                })
                .map_or(0, |r| r.count);
            self.otlp_requests
                .with_label_values(&[
                    request.transport.as_str(),
                    request.encoding.as_str(),
                    request.outcome.as_str(),
                ])
                .inc_by(request.count.saturating_sub(before));
        }
        self.otlp_spans.with_label_values(&["accepted"]).inc_by(
            counts
                .spans_accepted
                .saturating_sub(seen_otlp.spans_accepted),
        );
        self.otlp_spans.with_label_values(&["rejected"]).inc_by(
            counts
                .spans_rejected
                .saturating_sub(seen_otlp.spans_rejected),
        );
        self.otlp_bytes.inc_by(
            counts
                .bytes_received
                .saturating_sub(seen_otlp.bytes_received),
        );
        *seen_otlp = counts;
        let mut families = self.received.collect();
        families.extend(self.otlp_requests.collect());
        families.extend(self.otlp_spans.collect());
        families.extend(self.otlp_bytes.collect());
        families.extend(self.spans.collect());
        families.extend(self.over_limit.collect());
        families.extend(self.pending.collect());
        families
    }
}
