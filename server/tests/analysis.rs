//! The architecture analysis end to end over real HTTP: manifests with a cycle, a shared
//! datastore and ranges, spans with an undeclared call across bounded contexts, and what
//! `/api/v1/analysis`, the graph exports, `/api/v1/versions` and `seam can-deploy` /
//! `seam can-retire` answer.

mod common;

use std::time::Duration;

use common::{run_seam, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn manifest(name: &str, owner: &str, domain: &str, version: &str, extra: &str) -> String {
    format!(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  owner: {owner}\n  domain: {domain}\n  lifecycle: production\n  version: {version}\n{extra}"
    )
}

/// orders ⇄ payments (a synchronous cycle), both on shop-db (two owners); pricing
/// provides pricing-api 2.1.0; cart asks ^2.0 of the API, legacy ^1.0 of the service.
fn fleet() -> String {
    [
        manifest(
            "orders",
            "team-orders",
            "sales",
            "1.0.0",
            "  consumes:\n    - service: payments\n  datastores:\n    - name: shop-db\n      kind: postgresql\n",
        ),
        manifest(
            "payments",
            "team-payments",
            "finance",
            "3.2.0",
            "  consumes:\n    - service: orders\n  datastores:\n    - name: shop-db\n      kind: postgresql\n",
        ),
        manifest(
            "pricing",
            "team-catalog",
            "catalog",
            "2.4.0",
            "  provides:\n    - name: pricing-api\n      version: 2.1.0\n      protocol: http\n",
        ),
        manifest(
            "cart",
            "team-orders",
            "sales",
            "1.1.0",
            "  consumes:\n    - api: pricing-api\n      version: ^2.0\n",
        ),
        manifest(
            "legacy",
            "team-orders",
            "sales",
            "0.9.0",
            "  consumes:\n    - service: pricing\n      version: ^1.0\n",
        ),
        manifest("search", "team-search", "discovery", "5.0.0", ""),
    ]
    .join("---\n")
}

fn resource(service: &str, version: &str) -> Value {
    json!({"attributes": [
        {"key": "service.name", "value": {"stringValue": service}},
        {"key": "service.version", "value": {"stringValue": version}},
        {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}
    ]})
}

/// search 5.0.0 calls pricing 2.4.0 within one trace: declared nowhere, across domains.
fn search_calls_pricing(trace: &str) -> Value {
    let span = |id: &str, parent: &str, kind: i64| {
        json!({
            "traceId": trace, "spanId": id, "parentSpanId": parent, "name": "GET /prices", "kind": kind,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000020000000",
            "attributes": [
                {"key": "http.request.method", "value": {"stringValue": "GET"}},
                {"key": "http.route", "value": {"stringValue": "/prices"}},
                {"key": "http.response.status_code", "value": {"intValue": "200"}}
            ],
            "status": {}
        })
    };
    json!({"resourceSpans": [
        {"resource": resource("search", "5.0.0"), "scopeSpans": [{"spans": [
            span("1000000000000001", "", 2),
            span("1000000000000002", "1000000000000001", 3),
        ]}]},
        {"resource": resource("pricing", "2.4.0"), "scopeSpans": [{"spans": [
            span("2000000000000001", "1000000000000002", 2),
        ]}]}
    ]})
}

/// Waits until the observed graph holds an edge from `caller` to `callee`.
async fn until_observed(server: &TestServer, caller: &str, callee: &str) {
    for _ in 0..100 {
        let (_, graph) = server.get_json("/api/v1/graph?source=observed").await;
        let found = graph["edges"].as_array().is_some_and(|edges| {
            edges
                .iter()
                .any(|e| e["caller"] == caller && e["callee"] == callee)
        });
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{caller} -> {callee} was never observed");
}

fn ids(body: &Value) -> Vec<String> {
    body["observations"]
        .as_array()
        .unwrap_or_else(|| panic!("no observations in {body:#}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_analysis_reports_cycles_shared_datastores_crossings_and_drift() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server
        .post_spans(&search_calls_pricing("0af7651916cd43dd8448eb211c80319c"))
        .await;
    assert_eq!(status, StatusCode::OK);
    until_observed(&server, "search", "pricing").await;

    let (status, cycles) = server.get_json("/api/v1/analysis/cycles").await;
    assert_eq!(status, StatusCode::OK, "{cycles}");
    assert_eq!(ids(&cycles), ["cycle:orders>payments>orders"]);
    let cycle = &cycles["observations"][0];
    assert_eq!(cycle["kind"], "cycle");
    assert_eq!(cycle["evidence"]["sync"], true);
    assert_eq!(cycle["evidence"]["declared"], true);
    assert_eq!(cycle["evidence"]["observed"], false);
    assert_eq!(cycle["edges"].as_array().unwrap().len(), 2);
    assert_eq!(
        cycles["components"][0]["services"],
        json!(["orders", "payments"])
    );
    assert_eq!(cycles["total"], 1);
    assert_eq!(cycles["window_seconds"], 900);

    let (_, shared) = server.get_json("/api/v1/analysis/shared-datastores").await;
    assert_eq!(ids(&shared), ["shared_datastore:shop-db"]);
    assert_eq!(
        shared["observations"][0]["evidence"]["owners"],
        json!(["team-orders", "team-payments"])
    );

    let (_, crossings) = server.get_json("/api/v1/analysis/crossings").await;
    let crossing_ids = ids(&crossings);
    assert!(
        crossing_ids.contains(&"context_crossing:search>pricing".to_owned()),
        "{crossings:#}"
    );
    // cart reaches pricing through the API it declares: not a crossing.
    assert!(!crossing_ids.iter().any(|id| id.contains("cart>pricing")));

    let (_, drift) = server.get_json("/api/v1/analysis/drift").await;
    assert!(
        ids(&drift).contains(&"observed_not_declared:search>pricing".to_owned()),
        "{drift:#}"
    );

    // Everything at once, narrowed by kind and service, paged.
    let (_, all) = server.get_json("/api/v1/analysis?service=payments").await;
    assert!(all["observations"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "payments")));
    let (_, page) = server.get_json("/api/v1/analysis?limit=1&offset=1").await;
    assert_eq!(page["observations"].as_array().unwrap().len(), 1);
    assert!(page["total"].as_u64().unwrap() > 2, "{page:#}");
    let (_, kinds) = server
        .get_json("/api/v1/analysis?kind=cycle,shared_datastore")
        .await;
    assert_eq!(kinds["total"], 2, "{kinds:#}");

    for bad in [
        "/api/v1/analysis?kind=smell",
        "/api/v1/analysis?window=forever",
        "/api/v1/analysis/cycles?kind=cycle",
        "/api/v1/analysis?limit=0",
        "/api/v1/analysis?colour=red",
    ] {
        let (status, body) = server.get_json(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body["error"]["message"].is_string(), "{bad}: {body}");
    }
}

#[tokio::test]
async fn the_graph_exports_as_dot_and_mermaid() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let response = server
        .client
        .get(server.url("/api/v1/graph?format=dot"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/vnd.graphviz; charset=utf-8"
    );
    let dot = response.text().await.unwrap();
    assert!(dot.starts_with("digraph seam {"), "{dot}");
    assert!(
        dot.contains(r#""orders" -> "payments" [label="declared", color=red];"#),
        "{dot}"
    );
    let (status, mermaid) = server.get_text("/api/v1/graph?format=mermaid").await;
    assert_eq!(status, StatusCode::OK);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("[\"orders\"]"), "{mermaid}");
    let (status, body) = server.get_json("/api/v1/graph?format=png").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // JSON stays the default and the same body.
    let (_, json) = server.get_json("/api/v1/graph").await;
    let (_, explicit) = server.get_json("/api/v1/graph?format=json").await;
    assert_eq!(json, explicit);
}

fn ask(
    command: &str,
    server: &str,
    service: &str,
    version: &str,
    environment: &str,
) -> Vec<String> {
    [
        command,
        "--server",
        server,
        "--service",
        service,
        "--version",
        version,
        "--environment",
        environment,
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn the_version_matrix_and_can_deploy_and_can_retire() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server
        .post_spans(&search_calls_pricing("0af7651916cd43dd8448eb211c80319d"))
        .await;
    assert_eq!(status, StatusCode::OK);
    until_observed(&server, "search", "pricing").await;

    let (status, matrix) = server
        .get_json("/api/v1/versions?environment=prod&service=pricing")
        .await;
    assert_eq!(status, StatusCode::OK, "{matrix}");
    assert_eq!(matrix["total"], 1, "{matrix:#}");
    let pricing = &matrix["providers"][0];
    assert_eq!(pricing["environment"], "prod");
    assert_eq!(pricing["versions"][0]["version"], "2.4.0");
    assert_eq!(pricing["versions"][0]["share"], 1.0);
    let consumer = |name: &str| {
        pricing["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["consumer"] == name)
            .unwrap_or_else(|| panic!("no consumer {name}: {pricing:#}"))
            .clone()
    };
    // cart's range is on the API: pricing 2.4.0 provides pricing-api 2.1.0.
    let cart = consumer("cart");
    assert_eq!(cart["range"], "^2.0");
    assert_eq!(cart["verdicts"][0]["checked_version"], "2.1.0");
    assert_eq!(cart["verdicts"][0]["verdict"]["type"], "accepted");
    assert_eq!(
        consumer("legacy")["verdicts"][0]["verdict"]["type"],
        "rejected"
    );
    let search = consumer("search");
    assert_eq!(search["verdicts"][0]["verdict"]["type"], "no_range");
    assert!(search["calls_per_second"].as_f64().unwrap() > 0.0);

    let (_, mismatch) = server
        .get_json("/api/v1/analysis?kind=range_mismatch")
        .await;
    assert_eq!(
        ids(&mismatch),
        ["range_mismatch:prod:legacy>pricing"],
        "{mismatch:#}"
    );

    let (status, answer) = server
        .get_json("/api/v1/versions/can-deploy?service=pricing&version=3.0.0&environment=prod")
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ok"], false);
    let blocking: Vec<&str> = answer["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["blocking"] == true)
        .map(|r| r["consumer"].as_str().unwrap_or(""))
        .collect();
    assert!(
        blocking.contains(&"legacy") && blocking.contains(&"cart"),
        "{answer:#}"
    );
    let (_, answer) = server
        .get_json("/api/v1/versions/can-deploy?service=payments&version=4.0.0")
        .await;
    assert_eq!(answer["ok"], true, "{answer:#}");

    let (_, retire) = server
        .get_json("/api/v1/versions/can-retire?service=pricing&version=2.4.0&environment=prod")
        .await;
    assert_eq!(retire["ok"], false, "{retire:#}");
    assert!(
        retire["reasons"][0]["message"]
            .as_str()
            .unwrap()
            .contains("search"),
        "{retire:#}"
    );
    let (_, retire) = server
        .get_json("/api/v1/versions/can-retire?service=pricing&version=2.3.0&environment=prod")
        .await;
    assert_eq!(retire["ok"], true, "{retire:#}");

    for bad in [
        "/api/v1/versions/can-deploy?version=1.0.0",
        "/api/v1/versions/can-deploy?service=pricing",
        "/api/v1/versions/can-retire?service=pricing&version=1.0.0&window=never",
        "/api/v1/versions?limit=100000",
    ] {
        let (status, body) = server.get_json(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // The same questions from a CI pipeline: exit 0 yes, 1 no, 2 not asked.
    let (code, out) = run_seam(ask(
        "can-deploy",
        &server.base,
        "payments",
        "4.0.0",
        "default",
    ))
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("payments 4.0.0 can be deployed to default"),
        "{out}"
    );
    let (code, out) = run_seam(ask("can-deploy", &server.base, "pricing", "3.0.0", "prod")).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("blocks: "), "{out}");
    let (code, out) = run_seam(ask("can-retire", &server.base, "pricing", "2.3.0", "prod")).await;
    assert_eq!(code, 0, "{out}");
    let mut json = ask("can-retire", &server.base, "pricing", "2.4.0", "prod");
    json.extend(["--format".to_owned(), "json".to_owned()]);
    let (code, out) = run_seam(json).await;
    assert_eq!(code, 1, "{out}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["ok"], false);
    let (code, _) = run_seam(ask(
        "can-deploy",
        "http://127.0.0.1:1",
        "pricing",
        "3.0.0",
        "prod",
    ))
    .await;
    assert_eq!(
        code, 2,
        "an unreachable server: the question could not be asked"
    );
    let (code, _) = run_seam(vec!["can-deploy".into(), "--service".into(), "x".into()]).await;
    assert_eq!(code, 2, "a usage error");
}
