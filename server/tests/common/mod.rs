//! The server under test, started on 127.0.0.1:0 with its own data directory.
#![allow(dead_code)] // Each test binary uses a part.

pub mod prometheus;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::get;

use reqwest::StatusCode;
use seam_server::config::{Config, LogFormat};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub running: seam_server::Running,
    pub data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_tokens(Vec::new()).await
    }

    pub async fn start_with_tokens(api_tokens: Vec<String>) -> TestServer {
        Self::start_with(|config| config.api_tokens = api_tokens).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: data.path().to_owned(),
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: None,
            log_level: "warn".into(),
            log_format: LogFormat::Text,
            otlp_endpoint: None,
            site_root: PathBuf::from("target/site"),
            api_tokens: Vec::new(),
            read_tokens: Vec::new(),
            collectors: Default::default(),
            outbound: Default::default(),
            health: Default::default(),
            traces: Default::default(),
            analysis: Default::default(),
            principles: Default::default(),
        };
        // The OTLP receivers on ports of their own too.
        config.collectors.otlp.http_listen = "127.0.0.1:0".parse().unwrap();
        config.collectors.otlp.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
        adjust(&mut config);
        let running = seam_server::start(&config).await.expect("server starts");
        TestServer {
            base: format!("http://{}", running.addr),
            // Compression is what some tests check: they ask for it themselves, and see
            // the encoded answer as it came.
            client: reqwest::Client::builder().no_gzip().build().unwrap(),
            running,
            data,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends `body` with a content type (and a bearer token); returns the status and the
    /// JSON answer (null when the answer is not JSON).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, "application/json", body, None)
            .await
    }

    pub async fn put_manifest(&self, body: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(
            reqwest::Method::PUT,
            "/api/v1/manifests",
            "application/yaml",
            body,
            token,
        )
        .await
    }

    /// Posts OTLP/JSON spans to the server's OTLP/HTTP receiver; the status and the
    /// JSON answer.
    pub async fn post_spans(&self, body: &Value) -> (StatusCode, Value) {
        let addr = self.running.otlp.as_ref().expect("receivers run").http_addr;
        let response = self
            .client
            .post(format!("http://{addr}/v1/traces"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    /// Waits (polling the API) until the service names satisfy `done`; returns them.
    pub async fn wait_for_names(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let mut names = Vec::new();
        for _ in 0..150 {
            names = self.service_names().await;
            if done(&names) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        names
    }

    pub async fn service_names(&self) -> Vec<String> {
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

/// A service's instance: `/metrics` with the OpenTelemetry request histogram, whose
/// counts the test moves, and `/healthz` answering 200 or 503.
pub struct Exporter {
    pub base: String,
    pub ok: Arc<AtomicU64>,
    pub errors: Arc<AtomicU64>,
    pub healthy: Arc<AtomicBool>,
    /// The User-Agent of every `/metrics` request, to tell who scraped.
    pub scrapers: Arc<Mutex<Vec<String>>>,
}

impl Exporter {
    pub async fn start() -> Exporter {
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let scrapers = Arc::new(Mutex::new(Vec::new()));
        let (ok_c, errors_c, healthy_c) = (ok.clone(), errors.clone(), healthy.clone());
        let scrapers_c = scrapers.clone();
        let app = axum::Router::new()
            .route(
                "/metrics",
                get(move |headers: axum::http::HeaderMap| {
                    let agent = headers
                        .get("user-agent")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    scrapers_c.lock().unwrap().push(agent);
                    let ok = ok_c.load(Ordering::SeqCst);
                    let errors = errors_c.load(Ordering::SeqCst);
                    async move {
                        format!(
                            "# TYPE http_server_request_duration_seconds histogram\n\
                             http_server_request_duration_seconds_bucket{{http_response_status_code=\"200\",le=\"0.1\"}} {ok}\n\
                             http_server_request_duration_seconds_bucket{{http_response_status_code=\"200\",le=\"+Inf\"}} {ok}\n\
                             http_server_request_duration_seconds_sum{{http_response_status_code=\"200\"}} {}\n\
                             http_server_request_duration_seconds_count{{http_response_status_code=\"200\"}} {ok}\n\
                             http_server_request_duration_seconds_bucket{{http_response_status_code=\"500\",le=\"0.1\"}} 0\n\
                             http_server_request_duration_seconds_bucket{{http_response_status_code=\"500\",le=\"+Inf\"}} {errors}\n\
                             http_server_request_duration_seconds_sum{{http_response_status_code=\"500\"}} {errors}\n\
                             http_server_request_duration_seconds_count{{http_response_status_code=\"500\"}} {errors}\n",
                            ok as f64 * 0.05
                        )
                    }
                }),
            )
            .route(
                "/healthz",
                get(move || {
                    let up = healthy_c.load(Ordering::SeqCst);
                    async move {
                        if up {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        }
                    }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Exporter {
            base,
            ok,
            errors,
            healthy,
            scrapers,
        }
    }

    /// Serves `ok` and `errors` more requests, spread over the next scrapes.
    pub fn serve(&self, ok: u64, errors: u64) {
        self.ok.fetch_add(ok, Ordering::SeqCst);
        self.errors.fetch_add(errors, Ordering::SeqCst);
    }
}

pub fn manifest(name: &str, domain: &str, base_urls: &[&str]) -> String {
    let instances: String = base_urls
        .iter()
        .map(|url| format!("    - baseUrl: {url}\n"))
        .collect();
    format!(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  version: 1.0.0\n  owner: team-a\n  domain: {domain}\n  lifecycle: production\n  instances:\n{instances}"
    )
}

/// Serves traffic until aborted: every 100 ms, each exporter serves its `(ok, errors)`.
pub fn traffic(exporters: Vec<(Arc<Exporter>, u64, u64)>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            for (exporter, ok, errors) in &exporters {
                exporter.serve(*ok, *errors);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
}

/// Registers `pay` (domain money) and `cart` (domain shop) with an instance each at the
/// given exporters, and checks Seam took them.
pub async fn register_pay_and_cart(server: &TestServer, pay: &Exporter, cart: &Exporter) {
    let (status, body) = server
        .put_manifest(
            &format!(
                "{}---\n{}",
                manifest("pay", "money", &[&pay.base]),
                manifest("cart", "shop", &[&cart.base])
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Runs the `seam` binary with `args` (no `SEAM_SERVER` or `SEAM_TOKEN` from the
/// environment); its exit code and standard output.
pub async fn run_seam(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(&args)
            .env_remove("SEAM_SERVER")
            .env_remove("SEAM_TOKEN")
            .output()
            .expect("seam runs");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}
