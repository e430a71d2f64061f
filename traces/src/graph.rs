//! The observed call graph as spans arrive: client and server halves paired in a bounded
//! store sharded by trace id, edges and span-derived request statistics counted in
//! buckets of time, calls per parent request worked out when a trace goes quiet, and the
//! counts that tell broken trace-context propagation. (Request statistics per service
//! from server spans are [`crate::request_stats`], per batch.)
//!
//! The servicegraph connector of the OpenTelemetry Collector is the model: a client
//! (producer) span and the server (consumer) span whose parent it is make an edge; a
//! client span with database attributes is an edge to a database at once; a client span
//! whose server never comes becomes, after the time-to-live, an edge to a virtual node
//! named from its peer attributes; a root server span is a call from the `user` node,
//! or from the virtual node of the caller it names (`peer.service` on a server span).
//! Time comes in as unix seconds; nothing here reads a clock. Observations are counted
//! in the bucket of the time they are made (when the pair completes), as the connector
//! does, so a bucket once handed out for storage never changes.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::edge::{EdgeAcc, EdgeKey, EdgeRow, EdgeStats, Mode, NodeKind, USER_NODE};
use crate::span::{Resource, Span, SpanId, SpanKind, TraceId};

/// How the graph holds its state.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphConfig {
    /// Independent parts, each behind its own lock; spans go to one by trace id.
    pub shards: usize,
    /// Seconds a half waits for its other half (the connector's store TTL).
    pub pair_ttl_secs: i64,
    /// Most halves waiting at once, over all shards; past it new halves are dropped and
    /// counted.
    pub max_pending: usize,
    /// Size of a bucket of time in seconds.
    pub bucket_secs: i64,
    /// Buckets kept in memory for window reads (closed ones included).
    pub keep_buckets: usize,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            shards: 8,
            pair_ttl_secs: 5,
            max_pending: 1_000_000,
            bucket_secs: 60,
            keep_buckets: 62,
        }
    }
}

/// What became of the spans, for Seam's own `/metrics`: nothing is lost silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub spans: u64,
    /// Client (producer) and server (consumer) spans paired into an edge.
    pub paired: u64,
    /// Client spans with database attributes, edges to a database.
    pub database: u64,
    /// Halves that became edges with a virtual node: client spans unpaired after the
    /// time-to-live, to the peer they name; server spans without a client (roots, or
    /// unpaired), from the caller they name (`peer.service`).
    pub virtual_edges: u64,
    /// Root server (consumer) spans naming no peer, edges from the `user` node.
    pub user_edges: u64,
    /// Halves that expired without becoming an edge.
    pub unpaired: u64,
    /// Halves dropped because the pairing store was full.
    pub dropped: u64,
    /// Halves sent twice (same trace and span id); the second is ignored.
    pub duplicates: u64,
    /// Calls (and spans' propagation counts) not kept because their bucket already held
    /// as many distinct edges (services) as it may: a client inventing names or routes.
    pub over_edge_limit: u64,
}

impl Counters {
    fn add(&mut self, other: &Counters) {
        self.spans += other.spans;
        self.paired += other.paired;
        self.database += other.database;
        self.virtual_edges += other.virtual_edges;
        self.user_edges += other.user_edges;
        self.unpaired += other.unpaired;
        self.dropped += other.dropped;
        self.duplicates += other.duplicates;
        self.over_edge_limit += other.over_edge_limit;
    }
}

/// Trace-context propagation seen from one service over a span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Propagation {
    /// Server and consumer spans, and how many of them were roots (no parent).
    pub incoming: u64,
    pub incoming_roots: u64,
    /// Client and producer spans, and how many started a trace of their own.
    pub outgoing: u64,
    pub outgoing_roots: u64,
    /// A few trace ids of each kind of root, as evidence.
    pub incoming_root_examples: Vec<TraceId>,
    pub outgoing_root_examples: Vec<TraceId>,
}

/// The graph's hash maps: foldhash, seeded per process (clients choose the ids).
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Names that repeat in every span (protocols, operations, the empty string), shared
/// instead of allocated per edge key; bounded, past which names are allocated as they come.
#[derive(Default)]
struct Names {
    set: HashSet<Arc<str>, foldhash::fast::RandomState>,
}

/// Distinct names a shard shares at most.
const MAX_NAMES: usize = 100_000;

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.set.get(name) {
            return known.clone();
        }
        let name: Arc<str> = Arc::from(name);
        if self.set.len() < MAX_NAMES {
            self.set.insert(name.clone());
        }
        name
    }
}

/// The edges of one bucket: each key once, behind an `Arc` that the per-trace call lists
/// share instead of copying it.
#[derive(Debug, Default)]
struct Edges {
    index: Map<Arc<EdgeKey>, usize>,
    list: Vec<(Arc<EdgeKey>, EdgeAcc)>,
}

impl Edges {
    /// The accumulator of `key`, added when new; and the shared key. `None` when the key
    /// is new and the bucket already holds [`MAX_EDGES`]: clients choose operations and
    /// names, so the distinct keys are bounded too.
    fn acc(
        &mut self,
        key: &EdgeKey,
        shared: Option<&Arc<EdgeKey>>,
    ) -> Option<(Arc<EdgeKey>, &mut EdgeAcc)> {
        let at = match self.index.get(key) {
            Some(&at) => at,
            None if self.list.len() >= MAX_EDGES => return None,
            None => {
                let arc = shared.cloned().unwrap_or_else(|| Arc::new(key.clone()));
                self.index.insert(arc.clone(), self.list.len());
                self.list.push((arc, EdgeAcc::default()));
                self.list.len() - 1
            }
        };
        let (arc, acc) = &mut self.list[at];
        Some((arc.clone(), acc))
    }

    fn iter(&self) -> impl Iterator<Item = (&EdgeKey, &EdgeAcc)> {
        self.list.iter().map(|(key, acc)| (&**key, acc))
    }
}

/// Distinct resources remembered per bucket and shard (service, version, namespace,
/// environment, instance): enough for every instance of a large fleet.
const MAX_RESOURCES: usize = 10_000;

/// Distinct edges a bucket holds per shard; calls of further edges are counted
/// (`Counters::over_edge_limit`), not kept.
const MAX_EDGES: usize = 50_000;

/// Examples kept per kind of root.
const EXAMPLES: usize = 3;

impl Propagation {
    fn add(&mut self, other: &Propagation) {
        self.incoming += other.incoming;
        self.incoming_roots += other.incoming_roots;
        self.outgoing += other.outgoing;
        self.outgoing_roots += other.outgoing_roots;
        for (mine, theirs) in [
            (
                &mut self.incoming_root_examples,
                &other.incoming_root_examples,
            ),
            (
                &mut self.outgoing_root_examples,
                &other.outgoing_root_examples,
            ),
        ] {
            for id in theirs {
                if mine.len() < EXAMPLES && !mine.contains(id) {
                    mine.push(*id);
                }
            }
        }
    }
}

/// Everything over a window of time, merged over the shards.
#[derive(Debug, Default)]
pub struct Window {
    pub edges: BTreeMap<EdgeKey, EdgeStats>,
    pub propagation: BTreeMap<String, Propagation>,
    /// Namespaces, versions and environments seen per service (resource attributes).
    pub resources: BTreeMap<String, Vec<Resource>>,
}

/// The call graph being built; shared between the tasks that receive spans.
pub struct Graph {
    config: GraphConfig,
    shards: Vec<Mutex<Shard>>,
}

impl Graph {
    pub fn new(mut config: GraphConfig) -> Graph {
        config.shards = config.shards.clamp(1, 256);
        config.pair_ttl_secs = config.pair_ttl_secs.max(1);
        config.bucket_secs = config.bucket_secs.max(1);
        config.keep_buckets = config.keep_buckets.max(2);
        let per_shard = (config.max_pending / config.shards).max(1);
        let shards = (0..config.shards)
            .map(|_| Mutex::new(Shard::new(per_shard)))
            .collect();
        Graph { config, shards }
    }

    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    fn shard_of(&self, trace: &TraceId) -> usize {
        // Trace ids are random (W3C level 2 guarantees it for the right-most 7 bytes).
        let mut x = 0u64;
        for (i, b) in trace.iter().enumerate() {
            x ^= (*b as u64) << ((i % 8) * 8);
        }
        (x % self.shards.len() as u64) as usize
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, Shard> {
        self.shards[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a batch of spans received at `now`.
    pub fn ingest(&self, spans: Vec<Span>, now: i64) {
        if self.shards.len() == 1 {
            let mut shard = self.lock(0);
            for span in spans {
                shard.span(span, now, &self.config);
            }
            return;
        }
        let mut parts: Vec<Vec<Span>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        for span in spans {
            // Consumers pair by their link: that trace decides where the pair meets.
            let trace = match (span.kind, span.links.first()) {
                (SpanKind::Consumer, Some((trace, _))) => *trace,
                _ => span.trace_id,
            };
            parts[self.shard_of(&trace)].push(span);
        }
        for (i, part) in parts.into_iter().enumerate() {
            if part.is_empty() {
                continue;
            }
            let mut shard = self.lock(i);
            for span in part {
                shard.span(span, now, &self.config);
            }
        }
    }

    /// Ends what waited past its time-to-live: unpaired halves, traces gone quiet.
    pub fn expire(&self, now: i64) {
        for i in 0..self.shards.len() {
            self.lock(i).expire(now, &self.config);
        }
    }

    /// Edges of the buckets that closed by `now` and were not handed out before,
    /// ordered by bucket and key.
    pub fn take_closed(&self, now: i64) -> Vec<EdgeRow> {
        let mut edges: HashMap<(i64, EdgeKey), EdgeAcc> = HashMap::new();
        for i in 0..self.shards.len() {
            let mut shard = self.lock(i);
            shard.expire(now, &self.config);
            let keep_from = now - self.config.bucket_secs * self.config.keep_buckets as i64;
            shard.minutes.retain(|start, _| *start >= keep_from);
            for (start, minute) in shard.minutes.iter_mut() {
                if minute.taken || start + self.config.bucket_secs > now {
                    continue;
                }
                minute.taken = true;
                for (key, acc) in minute.edges.iter() {
                    edges.entry((*start, key.clone())).or_default().merge(acc);
                }
            }
            let open = now - now.rem_euclid(self.config.bucket_secs);
            shard.open_from = shard.open_from.max(open);
        }
        let mut rows: Vec<EdgeRow> = edges
            .into_iter()
            .map(|((start, key), acc)| EdgeRow {
                start,
                key,
                stats: acc.stats(),
            })
            .collect();
        rows.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
        rows
    }

    /// Everything in buckets that start within the last `seconds` before `now`.
    pub fn window(&self, now: i64, seconds: i64) -> Window {
        self.window_where(now, seconds, |_| true)
    }

    /// Like [`Graph::window`], with only the edges `keep` accepts.
    pub fn window_where(&self, now: i64, seconds: i64, keep: impl Fn(&EdgeKey) -> bool) -> Window {
        let from = now - seconds;
        let mut edges: HashMap<EdgeKey, EdgeAcc> = HashMap::new();
        let mut window = Window::default();
        for i in 0..self.shards.len() {
            let shard = self.lock(i);
            for (_, minute) in shard.minutes.range(from..) {
                for (key, acc) in minute.edges.iter() {
                    if keep(key) {
                        edges.entry(key.clone()).or_default().merge(acc);
                    }
                }
                for (service, p) in &minute.propagation {
                    window
                        .propagation
                        .entry(service.to_string())
                        .or_default()
                        .add(p);
                }
                for resource in &minute.resources {
                    let seen = window
                        .resources
                        .entry(resource.service.to_string())
                        .or_default();
                    if !seen.contains(resource) {
                        seen.push((**resource).clone());
                    }
                }
            }
        }
        window.edges = edges.into_iter().map(|(k, acc)| (k, acc.stats())).collect();
        for seen in window.resources.values_mut() {
            seen.sort_by(|a, b| {
                (&a.namespace, &a.version, &a.environment, &a.instance).cmp(&(
                    &b.namespace,
                    &b.version,
                    &b.environment,
                    &b.instance,
                ))
            });
        }
        window
    }

    /// Per-bucket rows of the edges `keep` accepts, from `from` on (unix seconds),
    /// merged over the shards: the recent part of an edge's history.
    pub fn recent(&self, from: i64, keep: impl Fn(&EdgeKey) -> bool) -> Vec<EdgeRow> {
        let mut rows: BTreeMap<(i64, EdgeKey), EdgeAcc> = BTreeMap::new();
        for i in 0..self.shards.len() {
            let shard = self.lock(i);
            for (start, minute) in shard.minutes.range(from..) {
                for (key, acc) in minute.edges.iter() {
                    if keep(key) {
                        rows.entry((*start, key.clone())).or_default().merge(acc);
                    }
                }
            }
        }
        rows.into_iter()
            .map(|((start, key), acc)| EdgeRow {
                start,
                key,
                stats: acc.stats(),
            })
            .collect()
    }

    pub fn counters(&self) -> Counters {
        let mut total = Counters::default();
        for i in 0..self.shards.len() {
            total.add(&self.lock(i).counters);
        }
        total
    }

    /// Halves waiting for their other half now.
    pub fn pending(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock(i).pending.len())
            .sum()
    }
}

/// A client or producer span waiting for its server or consumer.
#[derive(Debug)]
struct ClientHalf {
    resource: Arc<Resource>,
    kind: SpanKind,
    parent: Option<SpanId>,
    error: bool,
    client_error: bool,
    seconds: f64,
    protocol: Arc<str>,
    messaging: bool,
    operation: Option<Box<str>>,
    peer: Option<Box<str>>,
}

/// A server or consumer span waiting for its client or producer.
#[derive(Debug)]
struct ServerHalf {
    resource: Arc<Resource>,
    kind: SpanKind,
    error: bool,
    client_error: bool,
    seconds: f64,
    protocol: Arc<str>,
    messaging: bool,
    operation: Option<Box<str>>,
    /// The caller the span names (`peer.service`), for when its client never comes.
    peer_service: Option<Box<str>>,
}

#[derive(Debug)]
enum Half {
    Client(ClientHalf),
    Server(ServerHalf),
}

/// One bucket of time in one shard.
#[derive(Debug, Default)]
struct Minute {
    edges: Edges,
    propagation: Map<Arc<str>, Propagation>,
    /// Resources seen in the bucket (at most [`MAX_RESOURCES`]), and the last one
    /// added: spans of one request share theirs, so most spans skip the lookup.
    resources: HashSet<Arc<Resource>, foldhash::fast::RandomState>,
    last_resource: Option<Arc<Resource>>,
    /// Handed out for storage; later observations go to a later bucket.
    taken: bool,
}

/// Calls seen in one trace, counted per parent request when the trace goes quiet.
#[derive(Debug, Default)]
struct FanTrace {
    calls: Vec<(Option<SpanId>, SpanId, Arc<EdgeKey>)>,
}

struct Shard {
    max_pending: usize,
    pending: Map<(TraceId, SpanId), (i64, Half)>,
    pending_order: VecDeque<(i64, TraceId, SpanId)>,
    /// Internal spans' parents, to find the server span a client span works for.
    internal: Map<(TraceId, SpanId), (i64, Option<SpanId>)>,
    internal_order: VecDeque<(i64, TraceId, SpanId)>,
    fan: Map<TraceId, (i64, FanTrace)>,
    names: Names,
    fan_order: VecDeque<(i64, TraceId)>,
    minutes: BTreeMap<i64, Minute>,
    /// Start of the first bucket not yet handed out.
    open_from: i64,
    counters: Counters,
}

impl Shard {
    fn new(max_pending: usize) -> Shard {
        Shard {
            max_pending,
            pending: Map::default(),
            pending_order: VecDeque::new(),
            internal: Map::default(),
            internal_order: VecDeque::new(),
            fan: Map::default(),
            names: Names::default(),
            fan_order: VecDeque::new(),
            minutes: BTreeMap::new(),
            open_from: i64::MIN,
            counters: Counters::default(),
        }
    }

    fn minute(&mut self, now: i64, config: &GraphConfig) -> &mut Minute {
        let start = (now - now.rem_euclid(config.bucket_secs)).max(self.open_from);
        self.minutes.entry(start).or_default()
    }

    fn span(&mut self, span: Span, now: i64, config: &GraphConfig) {
        self.counters.spans += 1;
        let minute = self.minute(now, config);
        let known = minute
            .last_resource
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, &span.resource));
        if !known {
            if minute.resources.len() < MAX_RESOURCES {
                minute.resources.insert(span.resource.clone());
            }
            minute.last_resource = Some(span.resource.clone());
        }
        let counted = minute.propagation.len() < MAX_RESOURCES
            || minute.propagation.contains_key(&span.resource.service);
        if counted {
            self.count_roots(&span, now, config);
        } else {
            self.counters.over_edge_limit += 1;
        }
        match span.kind {
            SpanKind::Client | SpanKind::Producer => self.outgoing(span, now, config),
            SpanKind::Server | SpanKind::Consumer => self.incoming(span, now, config),
            SpanKind::Internal | SpanKind::Unspecified => {
                if self.internal.len() < self.max_pending {
                    let expires = now + 2 * config.pair_ttl_secs + 1;
                    let key = (span.trace_id, span.span_id);
                    if self.internal.insert(key, (expires, span.parent)).is_none() {
                        self.internal_order.push_back((expires, key.0, key.1));
                    }
                } else {
                    self.counters.dropped += 1;
                }
            }
        }
    }

    /// Counts the span for broken propagation: roots among its service's incoming and
    /// outgoing spans, with a few example trace ids.
    fn count_roots(&mut self, span: &Span, now: i64, config: &GraphConfig) {
        let root = span.parent.is_none();
        let p = self
            .minute(now, config)
            .propagation
            .entry(span.resource.service.clone())
            .or_default();
        let example = |list: &mut Vec<TraceId>, id: TraceId| {
            if list.len() < EXAMPLES && !list.contains(&id) {
                list.push(id)
            }
        };
        if span.kind.is_incoming() {
            p.incoming += 1;
            // A consumer linked to its producer is not a broken trace.
            if root && span.links.is_empty() {
                p.incoming_roots += 1;
                example(&mut p.incoming_root_examples, span.trace_id);
            }
        } else if span.kind.is_outgoing() {
            p.outgoing += 1;
            if root {
                p.outgoing_roots += 1;
                example(&mut p.outgoing_root_examples, span.trace_id);
            }
        }
    }

    fn outgoing(&mut self, span: Span, now: i64, config: &GraphConfig) {
        let client = ClientHalf {
            error: span.is_error(),
            client_error: client_error(&span),
            seconds: span.duration_seconds(),
            protocol: self.names.get(span.protocol.name()),
            messaging: matches!(span.protocol, crate::span::Protocol::Messaging(_)),
            resource: span.resource.clone(),
            kind: span.kind,
            parent: span.parent,
            operation: span.operation.clone(),
            peer: span.peer.clone(),
        };
        if span.is_database_call() {
            // Databases send no spans: the client span is the whole edge.
            let name = span
                .db_namespace
                .clone()
                .or(span.peer.clone())
                .unwrap_or_else(|| Box::from(span.protocol.name()));
            self.counters.database += 1;
            self.edge_to(
                client,
                span.trace_id,
                span.span_id,
                &name,
                NodeKind::Database,
                now,
                config,
            );
            return;
        }
        let key = (span.trace_id, span.span_id);
        match self.pending.remove(&key) {
            Some((_, Half::Server(server))) => {
                self.counters.paired += 2;
                self.pair(client, server, key.0, key.1, now, config);
            }
            Some(other) => {
                self.counters.duplicates += 1;
                self.pending.insert(key, other);
            }
            None => self.wait(key, Half::Client(client), now, config),
        }
    }

    fn incoming(&mut self, span: Span, now: i64, config: &GraphConfig) {
        let server = ServerHalf {
            error: span.is_error(),
            client_error: client_error(&span),
            seconds: span.duration_seconds(),
            protocol: self.names.get(span.protocol.name()),
            messaging: matches!(span.protocol, crate::span::Protocol::Messaging(_)),
            resource: span.resource.clone(),
            kind: span.kind,
            operation: span.operation.clone(),
            peer_service: span.peer_service.clone(),
        };
        let key = match (span.kind, span.links.first(), span.parent) {
            (SpanKind::Consumer, Some(link), _) => *link,
            (_, _, Some(parent)) => (span.trace_id, parent),
            (_, _, None) => {
                // A root: the call comes from outside, from the user or from the
                // (uninstrumented) service the span names as its peer.
                let caller = server.peer_service.clone();
                if caller.is_some() {
                    self.counters.virtual_edges += 1;
                } else {
                    self.counters.user_edges += 1;
                }
                self.edge_from(caller.as_deref().unwrap_or(USER_NODE), server, now, config);
                return;
            }
        };
        match self.pending.remove(&key) {
            Some((_, Half::Client(client))) => {
                self.counters.paired += 2;
                self.pair(client, server, key.0, key.1, now, config);
            }
            Some(other) => {
                self.counters.duplicates += 1;
                self.pending.insert(key, other);
            }
            None => self.wait(key, Half::Server(server), now, config),
        }
    }

    /// An edge into the server half from a node that sends no spans: the `user` node,
    /// or the virtual node of the peer the span names.
    fn edge_from(&mut self, caller: &str, server: ServerHalf, now: i64, config: &GraphConfig) {
        let caller_kind = if server.peer_service.as_deref() == Some(caller) {
            NodeKind::Virtual
        } else {
            NodeKind::User
        };
        let empty = self.names.get("");
        let key = EdgeKey {
            caller: self.names.get(caller),
            caller_kind,
            callee: server.resource.service.clone(),
            callee_kind: NodeKind::Service,
            caller_version: empty.clone(),
            callee_version: server.resource.version.clone().unwrap_or(empty.clone()),
            environment: server.resource.environment.clone().unwrap_or(empty),
            protocol: server.protocol.clone(),
            mode: mode(SpanKind::Client, server.kind, server.messaging),
            operation: self.names.get(server.operation.as_deref().unwrap_or("")),
        };
        let Some((_, acc)) = self.minute(now, config).edges.acc(&key, None) else {
            self.counters.over_edge_limit += 1;
            return;
        };
        acc.call(server.error, server.client_error, server.seconds);
    }

    fn wait(&mut self, key: (TraceId, SpanId), half: Half, now: i64, config: &GraphConfig) {
        if self.pending.len() >= self.max_pending {
            self.counters.dropped += 1;
            return;
        }
        let expires = now + config.pair_ttl_secs;
        self.pending.insert(key, (expires, half));
        self.pending_order.push_back((expires, key.0, key.1));
    }

    #[allow(clippy::too_many_arguments)]
    fn pair(
        &mut self,
        client: ClientHalf,
        server: ServerHalf,
        trace: TraceId,
        span_id: SpanId,
        now: i64,
        config: &GraphConfig,
    ) {
        // The caller says how it calls; the server side fills in what it left out.
        let protocol = if &*client.protocol != "unknown" {
            client.protocol.clone()
        } else {
            server.protocol.clone()
        };
        let empty = self.names.get("");
        let operation = server
            .operation
            .as_deref()
            .or(client.operation.as_deref())
            .unwrap_or("");
        let key = EdgeKey {
            caller: client.resource.service.clone(),
            caller_kind: NodeKind::Service,
            callee: server.resource.service.clone(),
            callee_kind: NodeKind::Service,
            caller_version: client.resource.version.clone().unwrap_or(empty.clone()),
            callee_version: server.resource.version.clone().unwrap_or(empty.clone()),
            environment: client
                .resource
                .environment
                .clone()
                .or(server.resource.environment.clone())
                .unwrap_or(empty),
            protocol,
            mode: mode(
                client.kind,
                server.kind,
                client.messaging || server.messaging,
            ),
            operation: self.names.get(operation),
        };
        let Some((key, acc)) = self.minute(now, config).edges.acc(&key, None) else {
            self.counters.over_edge_limit += 1;
            return;
        };
        acc.call(
            client.error || server.error,
            client.client_error || server.client_error,
            server.seconds,
        );
        self.fan_call(trace, client.parent, span_id, key, now, config);
    }

    #[allow(clippy::too_many_arguments)]
    fn edge_to(
        &mut self,
        client: ClientHalf,
        trace: TraceId,
        span_id: SpanId,
        callee: &str,
        callee_kind: NodeKind,
        now: i64,
        config: &GraphConfig,
    ) {
        let empty = self.names.get("");
        let key = EdgeKey {
            caller: client.resource.service.clone(),
            caller_kind: NodeKind::Service,
            callee: self.names.get(callee),
            callee_kind,
            caller_version: client.resource.version.clone().unwrap_or(empty.clone()),
            callee_version: empty.clone(),
            environment: client.resource.environment.clone().unwrap_or(empty),
            protocol: client.protocol.clone(),
            mode: mode(client.kind, SpanKind::Server, client.messaging),
            operation: self.names.get(client.operation.as_deref().unwrap_or("")),
        };
        let Some((key, acc)) = self.minute(now, config).edges.acc(&key, None) else {
            self.counters.over_edge_limit += 1;
            return;
        };
        acc.call(client.error, client.client_error, client.seconds);
        self.fan_call(trace, client.parent, span_id, key, now, config);
    }

    fn fan_call(
        &mut self,
        trace: TraceId,
        parent: Option<SpanId>,
        span_id: SpanId,
        key: Arc<EdgeKey>,
        now: i64,
        config: &GraphConfig,
    ) {
        if let Some((_, calls)) = self.fan.get_mut(&trace) {
            if calls.calls.len() < 10_000 {
                calls.calls.push((parent, span_id, key));
            } else {
                self.counters.dropped += 1;
            }
            return;
        }
        if self.fan.len() >= self.max_pending {
            self.counters.dropped += 1;
            return;
        }
        let expires = now + config.pair_ttl_secs + 1;
        self.fan.insert(
            trace,
            (
                expires,
                FanTrace {
                    calls: vec![(parent, span_id, key)],
                },
            ),
        );
        self.fan_order.push_back((expires, trace));
    }

    fn expire(&mut self, now: i64, config: &GraphConfig) {
        while let Some(&(expires, trace, span)) = self.pending_order.front() {
            if expires > now {
                break;
            }
            self.pending_order.pop_front();
            let key = (trace, span);
            if !matches!(self.pending.get(&key), Some((e, _)) if *e == expires) {
                continue;
            }
            let Some((_, half)) = self.pending.remove(&key) else {
                continue;
            };
            match half {
                Half::Client(client) => match client.peer.clone() {
                    Some(peer) => {
                        self.counters.virtual_edges += 1;
                        self.edge_to(client, trace, span, &peer, NodeKind::Virtual, now, config);
                    }
                    None => self.counters.unpaired += 1,
                },
                Half::Server(server) => match server.peer_service.clone() {
                    // Its caller sends no spans, but the span names it.
                    Some(peer) => {
                        self.counters.virtual_edges += 1;
                        self.edge_from(&peer, server, now, config);
                    }
                    None => self.counters.unpaired += 1,
                },
            }
        }
        while let Some(&(expires, trace)) = self.fan_order.front() {
            if expires > now {
                break;
            }
            self.fan_order.pop_front();
            if !matches!(self.fan.get(&trace), Some((e, _)) if *e == expires) {
                continue;
            }
            if let Some((_, calls)) = self.fan.remove(&trace) {
                self.count_per_parent(trace, calls, now, config);
            }
        }
        while let Some(&(expires, trace, span)) = self.internal_order.front() {
            if expires > now {
                break;
            }
            self.internal_order.pop_front();
            if matches!(self.internal.get(&(trace, span)), Some((e, _)) if *e == expires) {
                self.internal.remove(&(trace, span));
            }
        }
    }

    /// Counts the calls of each edge per request into the caller: per the server span
    /// each client span works for, skipping internal spans in between.
    fn count_per_parent(
        &mut self,
        trace: TraceId,
        calls: FanTrace,
        now: i64,
        config: &GraphConfig,
    ) {
        let mut groups: Map<(SpanId, Arc<EdgeKey>), u64> = Map::default();
        for (parent, span_id, key) in calls.calls {
            let mut request = parent;
            let mut last = span_id;
            for _ in 0..64 {
                let Some(id) = request else { break };
                last = id;
                match self.internal.get(&(trace, id)) {
                    Some((_, up)) => request = *up,
                    None => break,
                }
            }
            let request = request.unwrap_or(last);
            *groups.entry((request, key)).or_default() += 1;
        }
        let minute = self.minute(now, config);
        let mut over = 0;
        for ((_, key), calls) in groups {
            match minute.edges.acc(&key, Some(&key)) {
                Some((_, acc)) => acc.parent(calls),
                None => over += 1,
            }
        }
        self.counters.over_edge_limit += over;
    }
}

/// Asynchronous for producer/consumer pairs and anything over a messaging system.
fn mode(client: SpanKind, server: SpanKind, messaging: bool) -> Mode {
    if messaging || client == SpanKind::Producer || server == SpanKind::Consumer {
        Mode::Async
    } else {
        Mode::Sync
    }
}

fn client_error(span: &Span) -> bool {
    matches!(span.http_status, Some(s) if (400..500).contains(&s))
}
