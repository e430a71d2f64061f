//! The observed call graph end to end over real HTTP: OTLP/JSON spans into the
//! receiver, edges with versions out of `/api/v1/graph` and a service's calls, drift
//! against the catalog, broken propagation, Seam's own counters, and edges written to
//! the store and read back after a restart.

mod common;

use std::time::Duration;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn resource(service: &str, version: &str) -> Value {
    json!({"attributes": [
        {"key": "service.name", "value": {"stringValue": service}},
        {"key": "service.version", "value": {"stringValue": version}},
        {"key": "deployment.environment.name", "value": {"stringValue": "test"}}
    ]})
}

fn span(trace: &str, id: &str, parent: &str, kind: i64, attributes: Value) -> Value {
    json!({
        "traceId": trace, "spanId": id, "parentSpanId": parent, "name": "op", "kind": kind,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000020000000",
        "attributes": attributes, "status": {}
    })
}

fn http_server(route: &str, status: i64) -> Value {
    json!([
        {"key": "http.request.method", "value": {"stringValue": "GET"}},
        {"key": "http.route", "value": {"stringValue": route}},
        {"key": "http.response.status_code", "value": {"intValue": status.to_string()}}
    ])
}

fn http_client(port: u16) -> Value {
    json!([
        {"key": "http.request.method", "value": {"stringValue": "GET"}},
        {"key": "server.address", "value": {"stringValue": "127.0.0.1"}},
        {"key": "server.port", "value": {"intValue": port}},
        {"key": "url.full", "value": {"stringValue": format!("http://127.0.0.1:{port}/items/42")}}
    ])
}

/// shop (1.4.0) serves a user request and calls cart (2.0.1), which queries the orders
/// database; `lost` serves calls as new traces (it is declared as shop's dependency).
fn request(trace: &str) -> Value {
    let t = trace;
    json!({"resourceSpans": [
        {"resource": resource("shop", "1.4.0"), "scopeSpans": [{"spans": [
            span(t, "1000000000000001", "", 2, http_server("/checkout", 200)),
            span(t, "1000000000000002", "1000000000000001", 3, http_client(9101)),
        ]}]},
        {"resource": resource("cart", "2.0.1"), "scopeSpans": [{"spans": [
            span(t, "2000000000000001", "1000000000000002", 2, http_server("/items/{id}", 503)),
            span(t, "2000000000000002", "2000000000000001", 3, json!([
                {"key": "db.system.name", "value": {"stringValue": "postgresql"}},
                {"key": "db.namespace", "value": {"stringValue": "orders-db"}}
            ])),
        ]}]},
        {"resource": resource("lost", "0.1.0"), "scopeSpans": [{"spans": [
            span(&t.replacen("0a", "0b", 1), "3000000000000001", "", 2, http_server("/lost", 200)),
        ]}]}
    ]})
}

const SHOP: &str = "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  owner: team-a\n  domain: sales\n  lifecycle: production\n  version: 1.4.0\n  consumes:\n    - service: cart\n    - service: lost\n    - service: payments\n";
const CART: &str = "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: cart\nspec:\n  owner: team-b\n  domain: sales\n  lifecycle: production\n  version: 2.0.1\n  instances:\n    - baseUrl: http://127.0.0.1:9101\n  datastores:\n    - name: orders-db\n      kind: postgresql\n";

/// Polls the graph until `done` holds (spans are paired off the request path).
async fn graph_until(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("graph never got there: {last:#}");
}

fn edge<'a>(graph: &'a Value, caller: &str, callee: &str) -> Option<&'a Value> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["caller"] == caller && e["callee"] == callee)
}

#[tokio::test]
async fn spans_become_edges_with_versions_drift_and_propagation() {
    let server = TestServer::start().await;
    for manifest in [SHOP, CART] {
        let (status, body) = server.put_manifest(manifest, None).await;
        assert!(status.is_success(), "{body}");
    }
    let (status, body) = server
        .post_spans(&request("0af7651916cd43dd8448eb211c80319c"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["partialSuccess"], Value::Null, "{body}");

    let observed =
        |g: &Value, a: &str, b: &str| edge(g, a, b).is_some_and(|e| e["observed"] == true);
    let graph = graph_until(&server, "/api/v1/graph?window=15m", |g| {
        observed(g, "shop", "cart") && observed(g, "cart", "orders-db")
    })
    .await;
    let call = edge(&graph, "shop", "cart").unwrap();
    assert_eq!(call["caller_version"], "1.4.0");
    assert_eq!(call["callee_version"], "2.0.1");
    assert_eq!(call["environment"], "test");
    assert_eq!(call["protocol"], "http");
    assert_eq!(call["mode"], "sync");
    assert_eq!(call["operations"], json!(["GET /items/{id}"]));
    assert_eq!(call["calls"], 1.0);
    assert_eq!(call["errors"], 1.0);
    assert_eq!(call["error_ratio"], 1.0);
    assert_eq!(call["declared"], true);
    assert_eq!(call["observed"], true);
    let user = edge(&graph, "user", "shop").expect("root span: a call from the user node");
    assert_eq!(user["caller_kind"], "user");
    let db = edge(&graph, "cart", "orders-db").unwrap();
    assert_eq!(db["callee_kind"], "database");
    assert_eq!(db["protocol"], "postgresql");
    assert_eq!(db["declared"], true, "the manifest declares the datastore");
    let never = edge(&graph, "shop", "payments").expect("declared, never called");
    assert_eq!(
        (never["declared"].clone(), never["observed"].clone()),
        (json!(true), json!(false))
    );
    let nodes = graph["nodes"].as_array().unwrap();
    let shop = nodes.iter().find(|n| n["name"] == "shop").unwrap();
    assert_eq!(shop["registered"], true);
    assert_eq!(shop["versions"], json!(["1.4.0"]));
    let (_, only_observed) = server.get_json("/api/v1/graph?source=observed").await;
    assert!(edge(&only_observed, "shop", "payments").is_none());

    let (status, calls) = server
        .get_json("/api/v1/services/cart/calls?window=1h")
        .await;
    assert_eq!(status, StatusCode::OK, "{calls}");
    assert_eq!(calls["callers"][0]["caller"], "shop");
    assert_eq!(calls["callees"][0]["callee"], "orders-db");
    let (status, _) = server.get_json("/api/v1/services/nobody/calls").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, detail) = server
        .get_json("/api/v1/edges?caller=shop&callee=cart&window=15m&step=1m")
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["declared"], true);
    assert_eq!(detail["versions"][0]["caller_version"], "1.4.0");
    assert_eq!(detail["versions"][0]["callee_version"], "2.0.1");
    assert_eq!(detail["operations"][0]["operation"], "GET /items/{id}");
    let calls: f64 = detail["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["calls"].as_f64().unwrap())
        .sum();
    assert_eq!(calls, 1.0, "{detail}");
    let (status, _) = server
        .get_json("/api/v1/edges?caller=cart&callee=shop")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = server.get_json("/api/v1/edges?caller=cart").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // lost has a declared caller, yet its requests arrive as new traces.
    let (_, propagation) = server.get_json("/api/v1/propagation?window=15m").await;
    let findings = propagation["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{propagation}");
    assert_eq!(findings[0]["service"], "lost");
    assert_eq!(findings[0]["broken"], "incoming");
    assert_eq!(
        findings[0]["example_trace_ids"][0],
        "0bf7651916cd43dd8448eb211c80319c"
    );

    let (_, metrics) = server.get_text("/metrics").await;
    assert!(
        metrics.contains("seam_trace_spans_total{result=\"paired\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("seam_trace_spans_total{result=\"database\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "seam_otlp_requests_total{encoding=\"json\",outcome=\"accepted\",transport=\"http\"} 1"
        ),
        "{metrics}"
    );

    for bad in [
        "/api/v1/graph?window=40d",
        "/api/v1/graph?source=guessed",
        "/api/v1/graph?limit=0",
        "/api/v1/propagation?window=2h",
    ] {
        let (status, body) = server.get_json(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{bad}");
    }
}

#[tokio::test]
async fn edges_are_written_on_stop_and_read_back_from_the_store() {
    let server = TestServer::start().await;
    let (status, _) = server
        .post_spans(&request("1af7651916cd43dd8448eb211c80319c"))
        .await;
    assert_eq!(status, StatusCode::OK);
    graph_until(&server, "/api/v1/graph?source=observed", |g| {
        edge(g, "shop", "cart").is_some()
    })
    .await;
    let data = server.data;
    server.running.stop().await.unwrap();

    let again = TestServer::start_with(|config| config.data_dir = data.path().to_owned()).await;
    // A window past the hour in memory reads the store.
    let (status, graph) = again
        .get_json("/api/v1/graph?window=2h&source=observed")
        .await;
    assert_eq!(status, StatusCode::OK, "{graph}");
    let call = edge(&graph, "shop", "cart").expect("stored edge");
    assert_eq!(call["calls"], 1.0);
    assert_eq!(call["callee_version"], "2.0.1");
    let (_, recent) = again
        .get_json("/api/v1/graph?window=15m&source=observed")
        .await;
    assert!(
        edge(&recent, "shop", "cart").is_none(),
        "memory starts empty"
    );
}

#[tokio::test]
async fn calls_that_reach_a_service_by_address_are_its_calls() {
    let server = TestServer::start_with(|config| config.traces.pair_ttl_secs = 1).await;
    let (status, body) = server.put_manifest(CART, None).await;
    assert!(status.is_success(), "{body}");
    // A client span whose server span never comes (cart loses the context): after the
    // time-to-live it is an edge to 127.0.0.1:9101, cart's declared instance.
    let t = "2af7651916cd43dd8448eb211c80319c";
    let body = json!({"resourceSpans": [
        {"resource": resource("shop", "1.4.0"), "scopeSpans": [{"spans": [
            span(t, "1000000000000001", "", 2, http_server("/checkout", 200)),
            span(t, "1000000000000002", "1000000000000001", 3, http_client(9101)),
        ]}]}
    ]});
    let (status, _) = server.post_spans(&body).await;
    assert_eq!(status, StatusCode::OK);
    let calls = graph_until(&server, "/api/v1/services/cart/calls", |c| {
        c["callers"].as_array().is_some_and(|callers| {
            callers
                .iter()
                .any(|e| e["caller"] == "shop" && e["observed"] == true)
        })
    })
    .await;
    let edge = &calls["callers"][0];
    assert_eq!(edge["callee"], "cart", "{calls:#}");
    assert_eq!(edge["callee_kind"], "service");
    assert_eq!(edge["declared"], false, "shop declares nothing here");
}
