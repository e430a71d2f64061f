//! The server over real HTTP on 127.0.0.1: REST API, server-rendered pages, /metrics,
//! health and readiness.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{json, Value};

mod common;

use common::TestServer;

#[tokio::test]
async fn registers_lists_and_renders_a_service() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post_json(
            "/api/v1/services",
            r#"{"name":"checkout","version":"1.4.0","owner":"team-payments"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "checkout");
    assert_eq!(body["version"], "1.4.0");
    assert_eq!(body["owner"], "team-payments");

    assert_eq!(server.service_names().await, ["checkout"]);
    let (status, one) = server.get_json("/api/v1/services/checkout").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["owner"], "team-payments");

    // The services page is rendered on the server with the service in it.
    let (status, html) = server.get_text("/services").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-service="checkout""#), "{html}");
    assert!(html.contains("team-payments"));
    assert!(
        html.contains("/pkg/seam.") && html.contains(".wasm"),
        "hydration scripts are linked"
    );

    server.running.stop().await.unwrap();
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_field_and_reason_and_store_nothing() {
    let server = TestServer::start().await;
    let check = |body: &'static str, status: StatusCode, expected: Value| {
        let server = &server;
        async move {
            let (actual_status, actual) = server.post_json("/api/v1/services", body).await;
            assert_eq!(actual_status, status, "{body} -> {actual}");
            assert_eq!(actual, expected, "{body}");
        }
    };

    check(
        r#"{"name":"checkout","version":"v1.2","owner":""}"#,
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"error": {
            "code": "validation_failed",
            "message": "validation failed: version: \"v1.2\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.2.0\"?; owner: is required",
            "fields": [
                {"field": "version", "message": "\"v1.2\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.2.0\"?"},
                {"field": "owner", "message": "is required"}
            ]
        }}),
    )
    .await;
    check(
        "{\"name\": \"checkout\",\n \"version\": 1}",
        StatusCode::BAD_REQUEST,
        json!({"error": {
            "code": "invalid_json",
            "message": "invalid JSON at line 2, column 13: invalid type: integer `1`, expected a string",
            "line": 2, "column": 13
        }}),
    )
    .await;
    check(
        r#"{"name":"a","version":"1.0.0","owner":"t","colour":"red"}"#,
        StatusCode::BAD_REQUEST,
        json!({"error": {
            "code": "invalid_json",
            "message": "invalid JSON at line 1, column 50: unknown field `colour`, expected one of `name`, `version`, `owner`",
            "line": 1, "column": 50
        }}),
    )
    .await;
    check(
        r#"{"name": "#,
        StatusCode::BAD_REQUEST,
        json!({"error": {
            "code": "invalid_json",
            "message": "invalid JSON at line 1, column 9: EOF while parsing a value",
            "line": 1, "column": 9
        }}),
    )
    .await;

    // Wrong content type.
    let (status, body) = server
        .send(
            reqwest::Method::POST,
            "/api/v1/services",
            "text/plain",
            "name=checkout",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        body["error"]["message"],
        "expected content type application/json, found \"text/plain\""
    );

    // Over the size limit.
    let huge = format!(
        r#"{{"name":"{}","version":"1.0.0","owner":"t"}}"#,
        "a".repeat(100_000)
    );
    let (status, body) = server.post_json("/api/v1/services", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");

    assert!(
        server.service_names().await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn duplicate_names_conflict_and_unknown_names_are_404() {
    let server = TestServer::start().await;
    let body = r#"{"name":"checkout","version":"1.0.0","owner":"team-a"}"#;
    assert_eq!(
        server.post_json("/api/v1/services", body).await.0,
        StatusCode::CREATED
    );
    let (status, err) = server
        .post_json(
            "/api/v1/services",
            r#"{"name":"checkout","version":"2.0.0","owner":"team-b"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        err["error"]["message"],
        "service \"checkout\" is already registered"
    );
    let (_, one) = server.get_json("/api/v1/services/checkout").await;
    assert_eq!(one["version"], "1.0.0", "the conflict changed nothing");

    let (status, err) = server.get_json("/api/v1/services/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");

    let (status, _) = server.get_text("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_readiness_and_own_metrics() {
    let server = TestServer::start().await;
    assert_eq!(
        server.get_text("/healthz").await,
        (StatusCode::OK, "ok\n".to_owned())
    );
    assert_eq!(
        server.get_text("/readyz").await,
        (StatusCode::OK, "ready\n".to_owned())
    );
    server.post_json("/api/v1/services", "{").await;

    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let version = env!("CARGO_PKG_VERSION");
    for expected in [
        format!("seam_build_info{{version=\"{version}\"}} 1"),
        r#"seam_http_requests_total{method="GET",route="/healthz",status="200"} 1"#.to_owned(),
        r#"seam_http_requests_total{method="GET",route="/readyz",status="200"} 1"#.to_owned(),
        r#"seam_http_requests_total{method="POST",route="/api/v1/services",status="400"} 1"#
            .to_owned(),
        r#"seam_http_request_duration_seconds_count{method="GET",route="/healthz"} 1"#.to_owned(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in\n{text}");
    }
}

const CHECKOUT: &str = "apiVersion: seam.dev/v1
kind: Service
metadata:
  name: checkout
spec:
  version: 1.4.0
  owner: team-payments
  domain: commerce
  lifecycle: production
  consumes:
    - service: payments
      version: \"^2.1\"
---
apiVersion: seam.dev/v1
kind: Service
metadata:
  name: payments
spec:
  version: 2.3.0
  owner: team-payments
  domain: finance
  lifecycle: production
";

fn changes(body: &Value) -> Vec<String> {
    body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["change"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn manifests_upsert_idempotently_with_history() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(CHECKOUT, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        changes(&body),
        ["created service checkout", "created service payments"]
    );

    let (status, body) = server.put_manifest(CHECKOUT, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        changes(&body),
        ["unchanged service checkout", "unchanged service payments"]
    );
    // Comments, quoting and layout are no change either.
    let reformatted = CHECKOUT
        .replace("version: 1.4.0", "version: \"1.4.0\"   # bumped by CI")
        .replace(
            "  owner: team-payments\n  domain: commerce",
            "  domain: commerce\n  owner:    team-payments",
        );
    assert_ne!(reformatted, CHECKOUT);
    let (status, body) = server.put_manifest(&reformatted, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        changes(&body),
        ["unchanged service checkout", "unchanged service payments"]
    );

    let (status, body) = server
        .put_manifest(&CHECKOUT.replace("1.4.0", "1.5.0"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        changes(&body),
        ["updated service checkout", "unchanged service payments"]
    );

    let (_, one) = server.get_json("/api/v1/services/checkout").await;
    assert_eq!(one["version"], "1.5.0");
    assert_eq!(one["revision"], 2);
    assert_eq!(one["manifest"]["consumes"][0]["service"], "payments");
    assert_eq!(one["manifest"]["consumes"][0]["version_req"], "^2.1");

    let (status, history) = server.get_json("/api/v1/services/checkout/history").await;
    assert_eq!(status, StatusCode::OK);
    let revisions = history["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["manifest"]["version"], "1.4.0");
    // Each revision keeps its document as written (normalised), in the author's names.
    let document = revisions[1]["document"].as_str().unwrap();
    assert!(
        document
            .starts_with("apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: checkout\n"),
        "{document}"
    );
    assert!(
        document.contains("  - service: payments\n    version: ^2.1\n"),
        "{document}"
    );
    assert!(revisions[0]["valid_to"].is_string());
    assert!(revisions[1]["valid_to"].is_null());

    // The catalog as it was when revision 1 was current.
    let first = revisions[0]["valid_from"].as_str().unwrap().to_owned();
    let (status, past) = server
        .get_json(&format!(
            "/api/v1/services?at={}",
            first.replace('+', "%2B")
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{past}");
    let checkout = past["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "checkout")
        .unwrap();
    assert_eq!(checkout["version"], "1.4.0");
    let (status, body) = server.get_json("/api/v1/services?at=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Filters and paging.
    let (_, list) = server.get_json("/api/v1/services?domain=finance").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["services"][0]["name"], "payments");
    let (_, list) = server
        .get_json("/api/v1/services?owner=team-payments&sort=name&order=desc&limit=1")
        .await;
    assert_eq!(
        (list["total"].as_i64(), list["services"][0]["name"].as_str()),
        (Some(2), Some("payments"))
    );
    let (status, err) = server.get_json("/api/v1/services?sort=colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "invalid_query");
    let (status, _) = server.get_json("/api/v1/services?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delete keeps the history.
    let response = server
        .client
        .delete(server.url("/api/v1/services/checkout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server.get_json("/api/v1/services/checkout").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, history) = server.get_json("/api/v1/services/checkout/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["revisions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_positions_and_store_nothing() {
    let server = TestServer::start().await;
    let broken = CHECKOUT.replace("version: 2.3.0", "version: v2.3");
    let (status, body) = server.put_manifest(&broken, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_manifest");
    let diagnostics = body["error"]["diagnostics"].as_array().unwrap();
    let error = diagnostics
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(error["file"], "request body");
    assert_eq!(error["document"], 2);
    assert_eq!(error["line"], 19);
    assert_eq!(error["path"], "spec.version");
    assert!(
        error["message"].as_str().unwrap().contains("2.3.0"),
        "{error}"
    );
    assert!(
        server.service_names().await.is_empty(),
        "nothing of the batch was stored"
    );

    let (status, body) = server.put_manifest("{ not: [yaml", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["diagnostics"][0]["line"], 1);

    let (status, _) = server
        .send(
            reqwest::Method::PUT,
            "/api/v1/manifests",
            "application/xml",
            "<service/>",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let (status, schema) = server.get_json("/api/v1/schema/manifest").await;
    assert_eq!(status, StatusCode::OK);
    assert!(schema["properties"]["spec"].is_object(), "{schema}");
}

#[tokio::test]
async fn write_calls_need_a_token_when_tokens_are_configured() {
    let server = TestServer::start_with_tokens(vec!["ci:s3cret".into()]).await;
    let (status, body) = server.put_manifest(CHECKOUT, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    // A wrong token reads differently from a missing one.
    let (status, body) = server.put_manifest(CHECKOUT, Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "wrong_token");
    assert_eq!(
        server
            .post_json(
                "/api/v1/services",
                r#"{"name":"a","version":"1.0.0","owner":"t"}"#
            )
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let response = server
        .client
        .delete(server.url("/api/v1/services/checkout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(server.service_names().await.is_empty());

    assert_eq!(
        server.put_manifest(CHECKOUT, Some("s3cret")).await.0,
        StatusCode::OK
    );
    // Reads stay open.
    assert_eq!(server.service_names().await, ["checkout", "payments"]);
    // The revision records which token submitted it.
    let (_, history) = server.get_json("/api/v1/services/checkout/history").await;
    assert_eq!(history["revisions"][0]["submitted_by"], "ci", "{history}");
}

// The CLI runs as a child process and the test waits for it; the server needs a thread
// of its own meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_lints_offline_and_registers_with_the_server() {
    let server = TestServer::start_with_tokens(vec!["t0ken".into()]).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&good, CHECKOUT).unwrap();
    std::fs::write(
        &bad,
        CHECKOUT.replace(
            "owner: team-payments\n  domain: finance",
            "owner: team-payments\n  domain: finance\n  colour: red",
        ),
    )
    .unwrap();
    let seam = env!("CARGO_BIN_EXE_seam");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(seam)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };

    let register = |file: &std::path::Path, token: &str| {
        run(&[
            "register",
            file.to_str().unwrap(),
            "--server",
            &server.base,
            "--token",
            token,
        ])
    };

    let (code, out) = run(&["lint", good.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("ok: 1 file(s), 2 service(s)"), "{out}");

    let (code, out) = run(&["lint", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "{}:22:3: error: document 2, spec.colour: ",
            bad.display()
        )),
        "{out}"
    );

    let (code, out) = run(&["lint", "--format", "json", bad.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["diagnostics"][0]["path"], "spec.colour");

    let (code, out) = register(&bad, "t0ken");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        server.service_names().await.is_empty(),
        "an invalid file is never sent"
    );

    let (code, out) = register(&good, "wrong");
    assert_eq!(code, Some(1), "{out}");

    let (code, out) = register(&good, "t0ken");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("created service checkout (revision 1)"),
        "{out}"
    );
    let (_, one) = server.get_json("/api/v1/services/checkout").await;
    assert_eq!(one["source"], "cli");
}

#[tokio::test]
async fn the_directory_collector_registers_manifest_files() {
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(manifests.path().join("checkout.yaml"), CHECKOUT).unwrap();
    std::fs::write(
        manifests.path().join("broken.yaml"),
        "apiVersion: seam.dev/v1\nkind: Service\n",
    )
    .unwrap();
    let dir = manifests.path().to_owned();
    let server = TestServer::start_with(move |config| {
        config.collectors.directory = Some(seam_collectors::directory::DirectoryConfig {
            path: dir,
            interval_secs: 1,
            max_bytes: 1 << 20,
            max_files: 100,
            prune: true,
        });
    })
    .await;
    let names = server.wait_for_names(|names| names.len() == 2).await;
    assert_eq!(
        names,
        ["checkout", "payments"],
        "the broken file changed nothing"
    );
    let (_, one) = server.get_json("/api/v1/services/checkout").await;
    assert_eq!(one["source"], "directory");
    assert!(
        one["origin"].as_str().unwrap().ends_with("checkout.yaml"),
        "{one}"
    );

    // payments moves to a file of its own: it stays, with its history, owned by the
    // new file.
    let (only_checkout, payments) = CHECKOUT.split_once("\n---\n").unwrap();
    std::fs::write(manifests.path().join("payments.yaml"), payments).unwrap();
    std::fs::write(manifests.path().join("checkout.yaml"), only_checkout).unwrap();
    let mut moved = Value::Null;
    for _ in 0..150 {
        moved = server.get_json("/api/v1/services/payments").await.1;
        if moved["origin"]
            .as_str()
            .is_some_and(|o| o.ends_with("payments.yaml"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        moved["origin"].as_str().unwrap().ends_with("payments.yaml"),
        "{moved}"
    );
    let (_, history) = server.get_json("/api/v1/services/payments/history").await;
    assert_eq!(
        history["revisions"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    assert!(
        history["revisions"][0]["valid_to"].is_null(),
        "never deleted: {history}"
    );
    // A removed file removes what it declared.
    std::fs::remove_file(manifests.path().join("checkout.yaml")).unwrap();
    let names = server.wait_for_names(|names| names.len() == 1).await;
    assert_eq!(names, ["payments"]);
    let (_, history) = server.get_json("/api/v1/services/checkout/history").await;
    assert!(history["revisions"][0]["valid_to"].is_string(), "{history}");
}

#[tokio::test]
async fn discovery_keeps_registered_services_current_from_what_they_serve() {
    // A service that serves its own manifest, already at a newer version than registered.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let manifest = |version: &str| {
        format!(
            "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: quotes\nspec:\n  version: {version}\n  \
             owner: team-sales\n  lifecycle: production\n  instances:\n    - baseUrl: {base}\n"
        )
    };
    let served = manifest("1.1.0");
    let serving = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let switch = serving.clone();
    let service = axum::Router::new().route(
        "/.well-known/seam/manifest.yaml",
        axum::routing::get(move || {
            let (served, serving) = (served.clone(), serving.clone());
            async move {
                use axum::response::IntoResponse;
                if serving.load(std::sync::atomic::Ordering::SeqCst) {
                    ([("etag", "\"1.1.0\"")], served).into_response()
                } else {
                    axum::http::StatusCode::NOT_FOUND.into_response()
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });

    let server = TestServer::start_with(|config| {
        config.collectors.discovery = Some(seam_collectors::discovery::DiscoveryConfig {
            targets: Vec::new(),
            from_catalog: true,
            path: "/.well-known/seam/manifest.yaml".into(),
            interval_secs: 1,
            timeout_secs: 1,
            max_bytes: 1 << 20,
            concurrency: 4,
            stale_after: 2,
        });
    })
    .await;
    let (status, body) = server.put_manifest(&manifest("1.0.0"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut current = Value::Null;
    for _ in 0..150 {
        current = server.get_json("/api/v1/services/quotes").await.1;
        if current["version"] == "1.1.0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(current["version"], "1.1.0", "{current}");
    assert_eq!(current["source"], "discovery");
    assert_eq!(current["revision"], 2);
    assert!(current.get("stale_since").is_none(), "{current}");

    // The service stops serving its manifest: after two rounds it is stale, not gone.
    switch.store(false, std::sync::atomic::Ordering::SeqCst);
    for _ in 0..150 {
        current = server.get_json("/api/v1/services/quotes").await.1;
        if current["stale_since"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(current["stale_since"].is_string(), "{current}");
    assert_eq!(current["version"], "1.1.0");
}

#[tokio::test]
async fn pages_and_answers_carry_security_headers_and_root_redirects() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(server.url("/services"))
        .send()
        .await
        .unwrap();
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    let csp = headers["content-security-policy"].to_str().unwrap();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"));
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // Every inline script of the page carries the nonce.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.contains_key("referrer-policy"));
    let (_, api) = server.get_json("/api/v1/services").await;
    assert_eq!(api["total"], 0);
    let response = server
        .client
        .get(server.url("/api/v1/services"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");

    // `/` is the overview; an old link to the list at `/?owner=` keeps its query.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(server.url("/?owner=team-a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "/services?owner=team-a");
}

#[tokio::test]
async fn the_services_page_filters_sorts_and_pages_on_the_server() {
    let server = TestServer::start().await;
    let mut text = String::new();
    for i in 0..120 {
        let domain = if i % 2 == 0 { "even" } else { "odd" };
        text.push_str(&format!(
            "---\napiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: svc-{i:03}\n\
             spec:\n  version: 1.0.{i}\n  owner: team-{}\n  domain: {domain}\n  lifecycle: production\n",
            i % 3
        ));
    }
    let (status, body) = server.put_manifest(&text, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, html) = server
        .get_text("/services?domain=odd&sort=name&order=desc&page=2")
        .await;
    assert_eq!(status, StatusCode::OK);
    // 60 odd services, 50 a page: page 2 holds the last 10, in descending order.
    assert_eq!(html.matches("data-service=").count(), 10, "{html}");
    assert!(html.contains(r#"data-service="svc-019""#));
    assert!(html.contains(r#"data-service="svc-001""#));
    assert!(!html.contains(r#"data-service="svc-002""#));
    assert!(html.contains("Page 2 of 2"), "{html}");
    // A page past the end, however far, shows the last one.
    let (status, html) = server
        .get_text("/services?domain=odd&page=18446744073709551615")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Page 2 of 2"), "{html}");
    // The controls show the state the URL set.
    assert!(
        html.contains(r#"<option value="odd" selected"#),
        "the domain select shows the filter in force"
    );

    // The REST API uses the same filter, and pages explicitly.
    let (_, page) = server
        .get_json("/api/v1/services?domain=odd&q=SVC-01&limit=3&offset=2")
        .await;
    assert_eq!(page["total"], 5, "{page}");
    let names: Vec<&str> = page["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svc-015", "svc-017", "svc-019"]);
    let (status, body) = server.get_json("/api/v1/services?limit=5000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An overlong text filter is refused by the API and shortened by the page.
    let long = "x".repeat(5000);
    let (status, body) = server.get_json(&format!("/api/v1/services?q={long}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = server.get_text(&format!("/services?q={long}")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The Backstage example tree, one file per request, one file per directory-collector
/// batch, and all at once: the same resolved catalog every way.
#[tokio::test]
async fn backstage_examples_resolve_the_same_however_they_arrive() {
    let testdata = std::env::var_os("SEAM_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    let dir = testdata.join("backstage-catalog-examples");
    if !dir.is_dir() {
        assert!(
            std::env::var_os("SEAM_REQUIRE_TESTDATA").is_none(),
            "SEAM_REQUIRE_TESTDATA is set but {} is missing",
            dir.display()
        );
        eprintln!("skipped: {} not found (set SEAM_TESTDATA)", dir.display());
        return;
    }
    let mut files = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();

    /// What the API says of every service, with its relations resolved.
    async fn resolved(server: &TestServer) -> Vec<Value> {
        let (_, list) = server.get_json("/api/v1/services?limit=1000").await;
        let mut out = Vec::new();
        for s in list["services"].as_array().unwrap() {
            let name = s["name"].as_str().unwrap();
            let (_, one) = server.get_json(&format!("/api/v1/services/{name}")).await;
            let m = &one["manifest"];
            out.push(json!([
                name,
                one["domain"],
                one["system"],
                m["provides"],
                m["consumes"],
                m["datastores"]
            ]));
        }
        out
    }

    // One request per file, in reverse order for good measure.
    let per_file = TestServer::start().await;
    for file in files.iter().rev() {
        let text = std::fs::read_to_string(file).unwrap();
        let (status, body) = per_file.put_manifest(&text, None).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", file.display());
    }
    // All files in one request.
    let whole = TestServer::start().await;
    let all: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let (status, body) = whole.put_manifest(&all.join("\n---\n"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected = resolved(&whole).await;
    assert!(expected.len() >= 13, "{expected:?}");
    assert_eq!(resolved(&per_file).await, expected);
    // The components of a system in a domain have that domain.
    assert!(
        expected
            .iter()
            .any(|s| s[0] == "artist-lookup" && s[1] == "artists"),
        "{expected:?}"
    );

    // The directory collector, one file per batch.
    let watched = dir.clone();
    let collected = TestServer::start_with(move |config| {
        config.collectors.directory = Some(seam_collectors::directory::DirectoryConfig {
            path: watched,
            interval_secs: 1,
            max_bytes: 1 << 20,
            max_files: 1000,
            prune: true,
        });
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..300 {
        got = resolved(&collected).await;
        if got == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn read_tokens_protect_the_api_and_the_pages() {
    let server = TestServer::start_with(|config| {
        config.api_tokens = vec!["ci:wr1te".into()];
        config.read_tokens = vec!["viewer:r3ad".into()];
    })
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The API needs a token to read; a read token or an API token will do.
    let (status, body) = server.get_json("/api/v1/services").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    for token in ["r3ad", "wr1te"] {
        let response = server
            .client
            .get(server.url("/api/v1/services"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{token}");
    }
    // A read token does not write.
    assert_eq!(
        server.put_manifest(CHECKOUT, Some("r3ad")).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Health stays open.
    assert_eq!(server.get_text("/healthz").await.0, StatusCode::OK);

    // Pages send the browser to sign in, once.
    let response = no_redirects
        .get(server.url("/services?owner=a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()["location"],
        "/signin?next=%2Fservices%3Fowner%3Da"
    );
    let page = no_redirects
        .get(server.url("/signin?next=/services"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<title>Sign in · Seam</title>"), "{page}");
    let wrong = no_redirects
        .post(server.url("/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=nope&next=%2Fservices")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("This token is not accepted."));
    let signed_in = no_redirects
        .post(server.url("/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=r3ad&next=%2F%2Fevil.example%2F")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        signed_in.headers()["location"],
        "/services",
        "never off-site"
    );
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = no_redirects
        .get(server.url("/services"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    // A forged cookie is no session.
    // (the last signature digit changed: to 1 when it is 0, else to 0).
    let last = if session.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &session[..session.len() - 1]);
    let page = no_redirects
        .get(server.url("/services"))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
}

/// Assets come precompressed and, named by content hash, cached for good; pages are
/// compressed on the fly. Needs the built site (`scripts/build`), skipped without it.
#[tokio::test]
async fn assets_are_compressed_and_cached_by_content_hash() {
    // The built site: under CARGO_TARGET_DIR when scripts set it, else the workspace's.
    let site = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| PathBuf::from(dir).join("site"))
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site")));
    let Ok(hashes) = std::fs::read_to_string(site.join("hash.txt")) else {
        eprintln!(
            "skipped: no built site at {} (run scripts/build)",
            site.display()
        );
        return;
    };
    let server = TestServer::start_with(move |config| config.site_root = site).await;
    let hash = |kind: &str| {
        hashes
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{kind}: ")))
            .unwrap()
            .trim()
            .to_owned()
    };
    let get = |path: String, encoding: &'static str| {
        let request = server
            .client
            .get(server.url(&path))
            .header("accept-encoding", encoding);
        async move { request.send().await.unwrap() }
    };
    let wasm = get(format!("/pkg/seam.{}.wasm", hash("wasm")), "br, gzip").await;
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(wasm.headers()["content-encoding"], "br");
    assert_eq!(
        wasm.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let js = get(format!("/pkg/seam.{}.js", hash("js")), "gzip").await;
    assert_eq!(js.headers()["content-encoding"], "gzip");
    let css = get("/pkg/seam.css".into(), "br").await;
    assert_eq!(css.headers()["cache-control"], "no-cache");
    let page = get("/services".into(), "gzip").await;
    assert_eq!(page.headers()["content-encoding"], "gzip");
    let html = server.get_text("/services").await.1;
    assert!(
        html.contains(&format!("/pkg/seam.{}.wasm", hash("wasm"))),
        "{html}"
    );
}

/// The plain-HTML quick form: huge fields are refused, nothing is stored, and the way
/// back carries only a bounded part of what was typed.
#[tokio::test]
async fn the_quick_form_refuses_huge_input_and_stays_bounded() {
    let server = TestServer::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let huge = "a".repeat(200_000);
    let response = no_redirects
        .post(server.url("/register/quick"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name={huge}&version={huge}&owner=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.len() < 4000, "{} bytes", location.len());
    assert!(location.contains("qr_error_name="), "{location}");
    assert!(server.service_names().await.is_empty(), "nothing stored");
    let (status, html) = server.get_text(&location).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("<script>"), "typed text is escaped");
}
