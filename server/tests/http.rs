//! The server over real HTTP on 127.0.0.1: REST API, server-rendered pages, /metrics,
//! health and readiness.

use std::path::PathBuf;

use reqwest::StatusCode;
use seam_server::config::{Config, LogFormat};
use serde_json::{json, Value};

struct TestServer {
    base: String,
    client: reqwest::Client,
    running: seam_server::Running,
    _data: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: data.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: None,
            log_level: "warn".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            site_root: PathBuf::from("target/site"),
            collectors: Default::default(),
        };
        let running = seam_server::start(&config).await.expect("server starts");
        TestServer {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
            running,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post_json(&self, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn service_names(&self) -> Vec<String> {
        let (status, body) = self.get_json("/api/v1/services").await;
        assert_eq!(status, StatusCode::OK);
        body["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

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
    let (status, html) = server.get_text("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"data-service="checkout""#), "{html}");
    assert!(html.contains("team-payments"));
    assert!(
        html.contains("/pkg/seam.js"),
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
    let response = server
        .client
        .post(server.url("/api/v1/services"))
        .header("content-type", "text/plain")
        .body("name=checkout")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: Value = response.json().await.unwrap();
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
