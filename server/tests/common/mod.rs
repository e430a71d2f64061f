//! The server under test, started on 127.0.0.1:0 with its own data directory.
#![allow(dead_code)] // Each test binary uses a part.

use std::path::PathBuf;

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
        };
        adjust(&mut config);
        let running = seam_server::start(&config).await.expect("server starts");
        TestServer {
            base: format!("http://{}", running.addr),
            client: reqwest::Client::new(),
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
