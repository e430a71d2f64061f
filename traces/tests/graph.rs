//! The call graph from hand-made traces: pairing in any order, databases, virtual and
//! user nodes, calls per parent request through internal spans, links, limits, buckets
//! handed out once, propagation findings, and conservation of spans under random input.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use seam_traces::*;

fn resource(service: &str, version: &str) -> Arc<Resource> {
    let mut b = ResourceBuilder::default();
    b.attribute("service.name", Value::Str(service));
    b.attribute("service.version", Value::Str(version));
    Arc::new(b.build())
}

struct S {
    resource: Arc<Resource>,
    trace: u8,
    id: u8,
    parent: Option<u8>,
    kind: SpanKind,
    attrs: Vec<(&'static str, Value<'static>)>,
    millis: u64,
    links: Vec<(u8, u8)>,
}

fn s(resource: &Arc<Resource>, trace: u8, id: u8, parent: Option<u8>, kind: SpanKind) -> S {
    S {
        resource: resource.clone(),
        trace,
        id,
        parent,
        kind,
        attrs: Vec::new(),
        millis: 10,
        links: Vec::new(),
    }
}

impl S {
    fn attr(mut self, key: &'static str, value: Value<'static>) -> S {
        self.attrs.push((key, value));
        self
    }
    fn millis(mut self, ms: u64) -> S {
        self.millis = ms;
        self
    }
    fn link(mut self, trace: u8, id: u8) -> S {
        self.links.push((trace, id));
        self
    }
    fn span(self) -> Span {
        let mut head = SpanHead::new(
            self.resource,
            [self.trace; 16],
            [self.id; 8],
            self.parent.map(|p| [p; 8]),
            self.kind,
        );
        head.start_unix_nano = 1_000_000_000;
        head.end_unix_nano = 1_000_000_000 + self.millis * 1_000_000;
        head.links = self.links.iter().map(|&(t, i)| ([t; 16], [i; 8])).collect();
        let mut b = SpanBuilder::default();
        for (k, v) in self.attrs {
            b.attribute(k, v);
        }
        b.build(head)
    }
}

fn graph() -> Graph {
    Graph::new(GraphConfig {
        shards: 4,
        pair_ttl_secs: 5,
        max_pending: 1000,
        bucket_secs: 60,
        keep_buckets: 10,
    })
}

fn edges(g: &Graph, now: i64) -> BTreeMap<(String, String), EdgeStats> {
    g.window(now, 600)
        .edges
        .into_iter()
        .map(|(k, v)| ((k.caller.to_string(), k.callee.to_string()), v))
        .collect()
}

#[test]
fn client_and_server_pair_in_either_order_with_versions_and_the_route() {
    let shop = resource("shop", "1.4.0");
    let cart = resource("cart", "2.0.1");
    for server_first in [false, true] {
        let g = graph();
        let client = s(&shop, 1, 2, Some(1), SpanKind::Client)
            .attr("http.request.method", Value::Str("GET"))
            .attr("url.full", Value::Str("http://cart/items/42"))
            .millis(30)
            .span();
        let server = s(&cart, 1, 3, Some(2), SpanKind::Server)
            .attr("http.request.method", Value::Str("GET"))
            .attr("http.route", Value::Str("/items/{id}"))
            .attr("http.response.status_code", Value::Int(503))
            .millis(20)
            .span();
        let batch = if server_first {
            vec![server, client]
        } else {
            vec![client, server]
        };
        g.ingest(batch, 1000);
        let window = g.window(1000, 300);
        let (key, stats) = window.edges.iter().next().expect("one edge");
        assert_eq!(window.edges.len(), 1);
        assert_eq!((&*key.caller, &*key.callee), ("shop", "cart"));
        assert_eq!(
            (&*key.caller_version, &*key.callee_version),
            ("1.4.0", "2.0.1")
        );
        assert_eq!(&*key.operation, "GET /items/{id}");
        assert_eq!(&*key.protocol, "http");
        assert_eq!(key.mode, Mode::Sync);
        assert_eq!(stats.calls.requests, 1.0);
        assert_eq!(stats.calls.errors, 1.0);
        assert!(
            (stats.calls.duration_sum_seconds - 0.02).abs() < 1e-9,
            "server side latency"
        );
        assert_eq!(g.counters().paired, 2);
        assert_eq!(g.pending(), 0);
    }
}

#[test]
fn databases_virtual_nodes_and_users() {
    let g = graph();
    let shop = resource("shop", "1.0.0");
    g.ingest(
        vec![
            s(&shop, 1, 1, None, SpanKind::Server)
                .attr("http.request.method", Value::Str("GET"))
                .span(),
            s(&shop, 1, 2, Some(1), SpanKind::Client)
                .attr("db.system.name", Value::Str("postgresql"))
                .attr("db.namespace", Value::Str("orders"))
                .span(),
            s(&shop, 1, 3, Some(1), SpanKind::Client)
                .attr("peer.service", Value::Str("external-platform"))
                .span(),
            s(&shop, 1, 4, Some(1), SpanKind::Client).span(),
        ],
        1000,
    );
    let before = edges(&g, 1000);
    assert!(before.contains_key(&("user".into(), "shop".into())));
    assert!(before.contains_key(&("shop".into(), "orders".into())));
    assert!(
        !before.contains_key(&("shop".into(), "external-platform".into())),
        "waits for its server"
    );
    g.expire(1005);
    let after = g.window(1005, 600);
    let kinds: BTreeMap<String, NodeKind> = after
        .edges
        .keys()
        .map(|k| (k.callee.to_string(), k.callee_kind))
        .collect();
    assert_eq!(kinds["orders"], NodeKind::Database);
    assert_eq!(kinds["external-platform"], NodeKind::Virtual);
    assert_eq!(kinds["shop"], NodeKind::Service);
    let c = g.counters();
    assert_eq!(
        (c.user_edges, c.database, c.virtual_edges, c.unpaired),
        (1, 1, 1, 1)
    );
}

#[test]
fn calls_per_parent_request_skip_internal_spans() {
    let g = graph();
    let a = resource("a", "1");
    let b = resource("b", "1");
    let mut spans = vec![
        // Request 1 into a: an internal span, then three calls to b under it.
        s(&a, 7, 1, Some(99), SpanKind::Server).span(),
        s(&a, 7, 2, Some(1), SpanKind::Internal).span(),
        // Request 2 into a (same trace): one call.
        s(&a, 7, 3, Some(98), SpanKind::Server).span(),
    ];
    for (client, server) in [(10, 20), (11, 21), (12, 22)] {
        spans.push(s(&a, 7, client, Some(2), SpanKind::Client).span());
        spans.push(s(&b, 7, server, Some(client), SpanKind::Server).span());
    }
    spans.push(s(&a, 7, 13, Some(3), SpanKind::Client).span());
    spans.push(s(&b, 7, 23, Some(13), SpanKind::Server).span());
    g.ingest(spans, 1000);
    g.expire(1010);
    let e = edges(&g, 1010);
    let fan = &e[&("a".to_string(), "b".to_string())].fan_out;
    assert_eq!(fan.count, 2.0, "two requests into a");
    assert_eq!(fan.sum, 4.0, "four calls");
    assert_eq!(fan.buckets[0], (1.0, 1.0));
    assert_eq!(fan.buckets[2], (3.0, 2.0));
}

#[test]
fn producer_and_consumer_pair_by_parent_or_by_link() {
    let g = graph();
    let orders = resource("orders", "3.1.0");
    let mail = resource("mail", "1.0.0");
    g.ingest(
        vec![
            s(&orders, 1, 1, None, SpanKind::Producer)
                .attr("messaging.system", Value::Str("kafka"))
                .attr("messaging.destination.name", Value::Str("order-placed"))
                .span(),
            // In another trace, linked to the producer.
            s(&mail, 2, 5, None, SpanKind::Consumer)
                .attr("messaging.system", Value::Str("kafka"))
                .attr("messaging.destination.name", Value::Str("order-placed"))
                .link(1, 1)
                .span(),
        ],
        1000,
    );
    let w = g.window(1000, 600);
    let (key, _) = w.edges.iter().next().expect("edge");
    assert_eq!(
        (&*key.caller, &*key.callee, key.mode),
        ("orders", "mail", Mode::Async)
    );
    assert_eq!((&*key.protocol, &*key.operation), ("kafka", "order-placed"));
    assert_eq!(
        w.propagation["mail"].incoming_roots, 0,
        "a linked consumer is no break"
    );
}

#[test]
fn a_full_store_drops_and_counts_and_duplicates_are_ignored() {
    let g = Graph::new(GraphConfig {
        shards: 1,
        max_pending: 2,
        ..GraphConfig::default()
    });
    let a = resource("a", "1");
    g.ingest(
        (1..=3)
            .map(|i| s(&a, i, i, Some(9), SpanKind::Server).span())
            .collect(),
        1000,
    );
    assert_eq!(g.counters().dropped, 1);
    assert_eq!(g.pending(), 2);
    g.ingest(vec![s(&a, 1, 1, Some(9), SpanKind::Server).span()], 1000);
    assert_eq!(g.counters().duplicates, 1);
}

#[test]
fn closed_buckets_are_handed_out_once_and_later_calls_go_to_later_buckets() {
    let g = graph();
    let a = resource("a", "1");
    g.ingest(vec![s(&a, 1, 1, None, SpanKind::Server).span()], 1000);
    assert!(
        g.take_closed(1019).is_empty(),
        "the bucket 960..1020 is open"
    );
    let closed = g.take_closed(1020);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].start, 960);
    assert!(g.take_closed(1100).is_empty(), "once only");
    // A late batch with an older clock reading lands in the open bucket.
    g.ingest(vec![s(&a, 2, 1, None, SpanKind::Server).span()], 1010);
    let later = g.take_closed(1140);
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].start, 1080, "the bucket open at the last hand-out");
}

#[test]
fn broken_propagation_on_either_side() {
    let g = graph();
    let front = resource("front", "1");
    let lost = resource("lost", "1");
    let forgetful = resource("forgetful", "1");
    g.ingest(
        vec![
            // front: entry point, roots are fine.
            s(&front, 1, 1, None, SpanKind::Server).span(),
            // lost: called (declared caller), but its server spans are roots.
            s(&lost, 2, 1, None, SpanKind::Server).span(),
            // forgetful: serves with a parent, but calls out in new traces.
            s(&forgetful, 3, 2, Some(1), SpanKind::Server).span(),
            s(&forgetful, 4, 3, None, SpanKind::Client).span(),
        ],
        1000,
    );
    let counts = g.window(1000, 300).propagation;
    let callers: BTreeSet<String> = ["lost".to_string()].into();
    let findings = propagation_findings(&counts, &callers, 0.5);
    let got: Vec<(&str, Broken)> = findings
        .iter()
        .map(|f| (f.service.as_str(), f.broken))
        .collect();
    assert_eq!(
        got,
        vec![("forgetful", Broken::Outgoing), ("lost", Broken::Incoming)]
    );
    assert_eq!(findings[1].example_trace_ids, vec![[2u8; 16]]);
}

proptest! {
    /// Whatever arrives, every span is accounted for once the store has expired:
    /// paired halves, edges to databases, virtual nodes and users, unpaired, dropped
    /// or duplicate; and nothing panics.
    #[test]
    fn every_span_is_accounted_for(
        spans in prop::collection::vec((0u8..4, 1u8..12, prop::option::of(1u8..12), 0i32..6, any::<bool>(), any::<bool>()), 0..120),
        shards in 1usize..5,
        max_pending in 1usize..50,
    ) {
        let g = Graph::new(GraphConfig { shards, max_pending, pair_ttl_secs: 2, ..GraphConfig::default() });
        let services = [resource("a", "1"), resource("b", "2"), resource("c", "")];
        let mut expected_halves = 0u64;
        let mut batch = Vec::new();
        for (i, (trace, id, parent, kind, db, peer)) in spans.into_iter().enumerate() {
            let kind = SpanKind::from_otlp(kind);
            let mut span = s(&services[i % 3], trace, id, parent, kind);
            if db { span = span.attr("db.system", Value::Str("redis")); }
            if peer { span = span.attr("server.address", Value::Str("10.1.1.1")); }
            let span = span.span();
            if kind.is_outgoing() || kind.is_incoming() { expected_halves += 1; }
            batch.push(span);
        }
        let n = batch.len() as u64;
        g.ingest(batch, 100);
        g.expire(1000);
        let c = g.counters();
        prop_assert_eq!(c.spans, n);
        let internal_dropped = c.dropped; // internal spans may be dropped too
        prop_assert!(c.paired + c.database + c.virtual_edges + c.user_edges + c.unpaired + c.duplicates + c.dropped >= expected_halves);
        prop_assert!(c.paired + c.database + c.virtual_edges + c.user_edges + c.unpaired + c.duplicates <= expected_halves + internal_dropped);
        prop_assert_eq!(g.pending(), 0);
    }
}

#[test]
fn a_root_server_span_naming_its_peer_is_called_by_that_peer_and_messaging_is_async() {
    let g = graph();
    let bar = resource("bar", "1");
    let foo = resource("foo", "1");
    g.ingest(
        vec![
            s(&bar, 1, 1, None, SpanKind::Server)
                .attr("peer.service", Value::Str("external-platform"))
                .attr("server.address", Value::Str("bar.internal"))
                .span(),
            s(&foo, 2, 1, None, SpanKind::Client)
                .attr("messaging.system", Value::Str("kafka"))
                .span(),
            s(&bar, 2, 2, Some(1), SpanKind::Server)
                .attr("db.system", Value::Str("postgresql"))
                .span(),
        ],
        1000,
    );
    let w = g.window(1000, 60);
    let keys: Vec<(&str, NodeKind, &str, Mode, &str)> = w
        .edges
        .keys()
        .map(|k| (&*k.caller, k.caller_kind, &*k.callee, k.mode, &*k.protocol))
        .collect();
    assert!(
        keys.contains(&(
            "external-platform",
            NodeKind::Virtual,
            "bar",
            Mode::Sync,
            "unknown"
        )),
        "{keys:?}"
    );
    assert!(
        keys.contains(&("foo", NodeKind::Service, "bar", Mode::Async, "kafka")),
        "{keys:?}"
    );
}

#[test]
fn distinct_edges_per_bucket_are_bounded_and_the_rest_counted() {
    let g = Graph::new(GraphConfig {
        shards: 1,
        ..GraphConfig::default()
    });
    let a = resource("a", "1");
    // A client inventing a route per request: every root server span a new edge.
    let routes: Vec<&'static str> = (0..50_010)
        .map(|i| &*Box::leak(format!("/r/{i}").into_boxed_str()))
        .collect();
    let spans = routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            s(
                &a,
                (i % 250) as u8,
                (i % 200) as u8 + 1,
                None,
                SpanKind::Server,
            )
            .attr("http.route", Value::Str(route))
            .span()
        })
        .collect();
    g.ingest(spans, 1000);
    assert_eq!(g.window(1000, 60).edges.len(), 50_000);
    assert_eq!(g.counters().over_edge_limit, 10);
}
