//! Call-graph edges from servicegraph metrics: an exporter on loopback serves the series
//! an OpenTelemetry Collector's servicegraph connector (or Tempo) would, counters growing
//! with time; a real Prometheus (Debian's `prometheus`, started here with a 1 s scrape
//! interval) scrapes it; Seam, configured with `[collectors.servicegraph]`, reads the
//! edges from Prometheus's HTTP API and shows them in `/api/v1/graph`. Skipped when the
//! binary is missing, unless `SEAM_REQUIRE_PROMETHEUS` is set (`scripts/test` installs it).

mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use axum::routing::get;
use common::TestServer;
use serde_json::Value;

/// One edge the exporter serves: calls per second, the share that fails, and the share
/// of calls at or below each latency bound (the rest above the last).
struct Edge {
    client: Option<&'static str>,
    server: &'static str,
    connection_type: &'static str,
    namespace: &'static str,
    per_second: f64,
    failed: f64,
    latency: &'static [(&'static str, f64)],
}

const EDGES: &[Edge] = &[
    // A root server span with no client: the connector names the caller `user`.
    Edge {
        client: Some("user"),
        server: "frontend",
        connection_type: "virtual_node",
        namespace: "prod",
        per_second: 20.0,
        failed: 0.0,
        latency: &[("0.05", 0.5), ("0.1", 0.9), ("0.5", 1.0)],
    },
    Edge {
        client: Some("frontend"),
        server: "cart",
        connection_type: "",
        namespace: "prod",
        per_second: 40.0,
        failed: 0.25,
        latency: &[("0.01", 0.2), ("0.05", 0.8), ("0.1", 1.0)],
    },
    Edge {
        client: Some("cart"),
        server: "postgres",
        connection_type: "database",
        namespace: "prod",
        per_second: 30.0,
        failed: 0.0,
        latency: &[("0.005", 0.9), ("0.01", 1.0)],
    },
    Edge {
        client: Some("orders"),
        server: "mail",
        connection_type: "messaging_system",
        namespace: "prod",
        per_second: 10.0,
        failed: 0.0,
        latency: &[("0.1", 0.5), ("0.5", 1.0)],
    },
    // Not in the selector's namespace: never shown.
    Edge {
        client: Some("staging-frontend"),
        server: "staging-cart",
        connection_type: "",
        namespace: "staging",
        per_second: 10.0,
        failed: 0.0,
        latency: &[("0.1", 1.0)],
    },
    // No client label: left out and counted.
    Edge {
        client: None,
        server: "orphan",
        connection_type: "",
        namespace: "prod",
        per_second: 10.0,
        failed: 0.0,
        latency: &[("0.1", 1.0)],
    },
];

/// The three servicegraph families as the Collector's Prometheus exporter writes them,
/// every counter at `rate * seconds since start`.
fn exposition(elapsed: f64) -> String {
    let labels = |edge: &Edge| {
        let mut text = String::new();
        if let Some(client) = edge.client {
            write!(text, "client=\"{client}\",").unwrap();
        }
        write!(
            text,
            "server=\"{}\",connection_type=\"{}\",namespace=\"{}\"",
            edge.server, edge.connection_type, edge.namespace
        )
        .unwrap();
        text
    };
    let mut out = String::new();
    out.push_str("# TYPE traces_service_graph_request_total counter\n");
    for edge in EDGES {
        let calls = (edge.per_second * elapsed).floor();
        writeln!(
            out,
            "traces_service_graph_request_total{{{}}} {calls}",
            labels(edge)
        )
        .unwrap();
    }
    out.push_str("# TYPE traces_service_graph_request_failed_total counter\n");
    for edge in EDGES {
        let failed = (edge.per_second * edge.failed * elapsed).floor();
        writeln!(
            out,
            "traces_service_graph_request_failed_total{{{}}} {failed}",
            labels(edge)
        )
        .unwrap();
    }
    out.push_str("# TYPE traces_service_graph_request_server_seconds histogram\n");
    for edge in EDGES {
        let calls = (edge.per_second * elapsed).floor();
        let mut sum = 0.0;
        let mut below = 0.0;
        let mut lower = 0.0;
        for (le, share) in edge.latency {
            let count = (calls * share).floor();
            let bound: f64 = le.parse().unwrap();
            sum += (count - below) * (lower + bound) / 2.0;
            below = count;
            lower = bound;
            writeln!(
                out,
                "traces_service_graph_request_server_seconds_bucket{{{},le=\"{le}\"}} {count}",
                labels(edge)
            )
            .unwrap();
        }
        writeln!(
            out,
            "traces_service_graph_request_server_seconds_bucket{{{},le=\"+Inf\"}} {calls}",
            labels(edge)
        )
        .unwrap();
        writeln!(
            out,
            "traces_service_graph_request_server_seconds_sum{{{}}} {sum}",
            labels(edge)
        )
        .unwrap();
        writeln!(
            out,
            "traces_service_graph_request_server_seconds_count{{{}}} {calls}",
            labels(edge)
        )
        .unwrap();
    }
    out
}

/// Serves the servicegraph series on a loopback port; returns its `host:port`.
async fn start_exporter() -> String {
    let started = Instant::now();
    let app = axum::Router::new().route(
        "/metrics",
        get(move || async move { exposition(started.elapsed().as_secs_f64()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr.to_string()
}

fn edge<'a>(graph: &'a Value, caller: &str, callee: &str) -> Option<&'a Value> {
    graph["edges"]
        .as_array()?
        .iter()
        .find(|e| e["caller"] == caller && e["callee"] == callee)
}

fn node_kind<'a>(graph: &'a Value, name: &str) -> Option<&'a str> {
    graph["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["name"] == name)?["kind"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_edges_from_servicegraph_metrics_in_prometheus() {
    let Some(bin) = common::prometheus::binary() else {
        return;
    };
    let exporter = start_exporter().await;
    let prometheus = common::prometheus::start(&bin, &[("otelcol", &exporter)]).await;
    let source_url = prometheus.url.clone();
    let server = TestServer::start_with(move |config| {
        config.collectors.servicegraph = Some(
            toml::from_str(&format!(
                "url = \"{source_url}\"\ninterval_secs = 1\nlag_secs = 2\ntimeout_secs = 5\nselector = '{{namespace=\"prod\"}}'\n"
            ))
            .unwrap(),
        );
        config.health.bucket_secs = 5;
    })
    .await;

    // Within seconds, the four edges show with calls, the failing one with errors.
    let wanted = [
        ("user", "frontend"),
        ("frontend", "cart"),
        ("cart", "postgres"),
        ("orders", "mail"),
    ];
    let mut graph = Value::Null;
    let mut seen = false;
    for _ in 0..600 {
        let (status, body) = server
            .get_json("/api/v1/graph?source=observed&window=5m")
            .await;
        assert_eq!(status, 200, "{body:#}");
        graph = body;
        let all_there = wanted.iter().all(|(caller, callee)| {
            edge(&graph, caller, callee)
                .and_then(|e| e["calls"].as_f64())
                .is_some_and(|calls| calls > 0.0)
        });
        let errors_seen = edge(&graph, "frontend", "cart")
            .and_then(|e| e["errors"].as_f64())
            .is_some_and(|errors| errors > 0.0);
        if all_there && errors_seen {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "never saw the servicegraph edges: {graph:#}");

    let user = edge(&graph, "user", "frontend").unwrap();
    assert_eq!(user["caller_kind"], "user", "{user:#}");
    assert_eq!(user["callee_kind"], "service", "{user:#}");
    assert_eq!(user["mode"], "sync");
    assert_eq!(user["errors"], 0.0);

    let cart = edge(&graph, "frontend", "cart").unwrap();
    assert_eq!(
        (&cart["caller_kind"], &cart["callee_kind"]),
        (&Value::from("service"), &Value::from("service")),
        "{cart:#}"
    );
    assert_eq!(
        (&cart["mode"], &cart["protocol"]),
        (&Value::from("sync"), &Value::from("unknown"))
    );
    let ratio = cart["error_ratio"].as_f64().unwrap();
    assert!((0.1..0.4).contains(&ratio), "error ratio {ratio}: {cart:#}");
    let p95 = cart["latency_p95_seconds"].as_f64().unwrap();
    assert!((0.05..=0.1).contains(&p95), "p95 {p95}: {cart:#}");
    assert!(cart["request_rate"].as_f64().unwrap() > 0.0);
    assert_eq!(cart["observed"], true);
    assert_eq!(cart["caller_version"], Value::Null);

    let db = edge(&graph, "cart", "postgres").unwrap();
    assert_eq!(db["callee_kind"], "database", "{db:#}");
    assert_eq!(
        (&db["mode"], &db["protocol"]),
        (&Value::from("sync"), &Value::from("database"))
    );
    let p95 = db["latency_p95_seconds"].as_f64().unwrap();
    assert!(p95 <= 0.01, "p95 {p95}: {db:#}");

    let mail = edge(&graph, "orders", "mail").unwrap();
    assert_eq!(mail["callee_kind"], "service", "{mail:#}");
    assert_eq!(
        (&mail["mode"], &mail["protocol"]),
        (&Value::from("async"), &Value::from("messaging"))
    );

    assert_eq!(node_kind(&graph, "user"), Some("user"));
    assert_eq!(node_kind(&graph, "postgres"), Some("database"));
    assert_eq!(node_kind(&graph, "frontend"), Some("service"));
    // The selector kept staging out; the series without a client was left out, counted.
    assert!(
        edge(&graph, "staging-frontend", "staging-cart").is_none(),
        "{graph:#}"
    );
    assert!(
        graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["callee"] != "orphan"),
        "{graph:#}"
    );
    let (_, metrics) = server.get_text("/metrics").await;
    let skipped = metrics
        .lines()
        .find_map(|line| line.strip_prefix("seam_servicegraph_series_skipped_total "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(skipped.is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(
        metrics.contains("seam_servicegraph_source_failures_total 0"),
        "{metrics}"
    );

    // The edges were written to the store too: a window past the hour held in memory
    // reads them back.
    let (_, long) = server
        .get_json("/api/v1/graph?source=observed&window=2h")
        .await;
    assert!(
        edge(&long, "frontend", "cart").is_some_and(|e| e["calls"].as_f64() > Some(0.0)),
        "{long:#}"
    );
}

#[tokio::test]
async fn counts_failed_rounds_when_prometheus_is_gone() {
    // Nothing listens on this port: every round fails, is logged and counted.
    let port = common::prometheus::free_port();
    let server = TestServer::start_with(move |config| {
        config.collectors.servicegraph = Some(
            toml::from_str(&format!(
                "url = \"http://127.0.0.1:{port}\"\ninterval_secs = 1\nlag_secs = 0\ntimeout_secs = 1\n"
            ))
            .unwrap(),
        );
        config.health.bucket_secs = 1;
    })
    .await;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = server.get_text("/metrics").await.1;
        let failures = metrics
            .lines()
            .find_map(|line| line.strip_prefix("seam_servicegraph_source_failures_total "))
            .and_then(|v| v.parse::<f64>().ok());
        if failures.is_some_and(|n| n >= 1.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no failed round counted: {metrics}");
}
