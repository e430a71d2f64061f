//! Discovery: fetches the manifest each service serves itself at a well-known path of
//! its base URL, again every interval, with `If-None-Match` so an unchanged manifest
//! costs a 304 and nothing downstream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::outbound::{OutboundError, OutboundPolicy};
use crate::{CollectorContext, Content};

fn default_path() -> String {
    "/.well-known/seam/manifest.yaml".to_owned()
}

fn default_interval() -> u64 {
    60
}

fn default_timeout() -> u64 {
    10
}

fn default_max_bytes() -> usize {
    1024 * 1024
}

/// `[collectors.discovery]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// Base URLs of the services to ask, as `http://10.0.0.5:8080`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Also ask every instance base URL that the catalog's manifests declare, so a
    /// service registered once keeps its entry current from what it serves.
    #[serde(default)]
    pub from_catalog: bool,
    /// Path of the manifest under each base URL.
    #[serde(default = "default_path")]
    pub path: String,
    /// Seconds between two fetches of the same target.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Seconds a fetch may take; never more than the interval.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Largest manifest accepted, in bytes; a larger one fails the fetch.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// Most fetches in flight at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Rounds in a row a manifest may be missing (error, refused, unreachable) before
    /// the services it declared are marked stale. They are never deleted by discovery.
    #[serde(default = "default_stale_after")]
    pub stale_after: u32,
}

fn default_stale_after() -> u32 {
    3
}

fn default_concurrency() -> usize {
    8
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Refused(#[from] OutboundError),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
    #[error("manifest is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("manifest is not UTF-8")]
    NotUtf8,
}

/// What one fetch found.
#[derive(Debug, PartialEq, Eq)]
pub enum Fetched {
    /// The manifest did not change since the ETag we sent.
    NotModified,
    Manifest {
        text: String,
        etag: Option<String>,
    },
}

/// Fetches `url`, sending `etag` as `If-None-Match`. `client` must come from
/// `policy.client_builder()`, which checks names and redirects; the URL itself is
/// checked here.
pub async fn fetch(
    client: &reqwest::Client,
    policy: &OutboundPolicy,
    url: &str,
    etag: Option<&str>,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let url = policy.check(url)?;
    let mut request = client.get(url).header(
        "accept",
        "application/yaml, application/json;q=0.9, text/plain;q=0.5",
    );
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let mut response = request.send().await?;
    if response.status() == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status()));
    }
    if response
        .content_length()
        .is_some_and(|len| len > max_bytes as u64)
    {
        return Err(FetchError::TooLarge { limit: max_bytes });
    }
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|_| FetchError::NotUtf8)?;
    Ok(Fetched::Manifest { text, etag })
}

/// The URLs to fetch this round: the configured targets, plus the catalog's instance
/// base URLs when `from_catalog` is set, each once.
fn round_urls(config: &DiscoveryConfig, catalog: &[String]) -> Vec<String> {
    let from_catalog = if config.from_catalog { catalog } else { &[] };
    let mut urls: Vec<String> = config
        .targets
        .iter()
        .chain(from_catalog)
        .map(|base| format!("{}{}", base.trim_end_matches('/'), config.path))
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// Runs discovery until Seam shuts down or ingest is gone. `catalog` carries the instance base URLs the
/// catalog declares (the server keeps it current); it is read only with `from_catalog`.
/// Each round fetches its targets in parallel, at most `concurrency` at a time; an ETag
/// is remembered only once ingest settled the manifest it came with.
pub async fn run(
    config: DiscoveryConfig,
    mut cx: CollectorContext,
    catalog: tokio::sync::watch::Receiver<Vec<String>>,
) {
    let sink = cx.out.clone();
    let interval = Duration::from_secs(config.interval_secs.max(1));
    let timeout = Duration::from_secs(config.timeout_secs.max(1)).min(interval);
    let client = match cx.policy.client_builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "discovery cannot build its http client");
            return;
        }
    };
    let policy = Arc::new(cx.policy.clone());
    let concurrency = config.concurrency.max(1);
    let mut etags: HashMap<String, String> = HashMap::new();
    // Rounds in a row each URL failed; reported gone once it reaches `stale_after`.
    let mut failures: HashMap<String, u32> = HashMap::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while cx.next_round(&mut ticker).await {
        let mut urls = round_urls(&config, &catalog.borrow()).into_iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < concurrency {
                let Some(url) = urls.next() else { break };
                let (client, policy) = (client.clone(), policy.clone());
                let etag = etags.get(&url).cloned();
                let max_bytes = config.max_bytes;
                running.spawn(async move {
                    let fetched = fetch(&client, &policy, &url, etag.as_deref(), max_bytes).await;
                    (url, fetched)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let Ok((url, fetched)) = joined else {
                continue;
            };
            match fetched {
                Ok(Fetched::NotModified) => {
                    failures.remove(&url);
                    tracing::debug!(%url, "manifest not modified");
                }
                Ok(Fetched::Manifest { text, etag }) => {
                    failures.remove(&url);
                    let content = Content::Text(text);
                    let Some(outcome) =
                        crate::deliver(&sink, "discovery", url.clone(), content, false).await
                    else {
                        return;
                    };
                    match etag {
                        Some(etag) if outcome.is_settled() => etags.insert(url, etag),
                        _ => etags.remove(&url),
                    };
                }
                Err(err) => {
                    tracing::warn!(%url, error = %err, "manifest fetch failed");
                    let count = failures.entry(url.clone()).or_default();
                    *count = count.saturating_add(1);
                    if *count == config.stale_after.max(1) {
                        etags.remove(&url);
                        tracing::warn!(%url, rounds = *count, "manifest missing; its services are marked stale");
                        let outcome =
                            crate::deliver(&sink, "discovery", url.clone(), Content::Gone, false)
                                .await;
                        match outcome {
                            None => return,
                            // Not settled: report again next round.
                            Some(outcome) if !outcome.is_settled() => *count -= 1,
                            Some(_) => {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::sync::Mutex;

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        base
    }

    #[tokio::test]
    async fn fetches_with_etags_and_limits() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let router = axum::Router::new()
            .route(
                "/.well-known/seam/manifest.yaml",
                axum::routing::get({
                    let seen = seen.clone();
                    move |headers: HeaderMap| async move {
                        let inm = headers
                            .get("if-none-match")
                            .map(|v| v.to_str().unwrap().to_owned());
                        seen.lock().unwrap().push(inm.clone());
                        if inm.as_deref() == Some("\"v1\"") {
                            StatusCode::NOT_MODIFIED.into_response()
                        } else {
                            ([("etag", "\"v1\"")], "kind: Service\n").into_response()
                        }
                    }
                }),
            )
            .route("/big", axum::routing::get(|| async { "x".repeat(2000) }))
            .route(
                "/missing",
                axum::routing::get(|| async { StatusCode::NOT_FOUND }),
            );
        let base = serve(router).await;
        let policy = OutboundPolicy::default();
        let client = policy.client_builder().build().unwrap();
        let url = format!("{base}/.well-known/seam/manifest.yaml");

        let first = fetch(&client, &policy, &url, None, 1024).await.unwrap();
        assert_eq!(
            first,
            Fetched::Manifest {
                text: "kind: Service\n".into(),
                etag: Some("\"v1\"".into())
            }
        );
        assert_eq!(
            fetch(&client, &policy, &url, Some("\"v1\""), 1024)
                .await
                .unwrap(),
            Fetched::NotModified
        );
        assert_eq!(*seen.lock().unwrap(), [None, Some("\"v1\"".to_owned())]);

        let err = fetch(&client, &policy, &format!("{base}/big"), None, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { limit: 1024 }), "{err}");
        let err = fetch(&client, &policy, &format!("{base}/missing"), None, 1024)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "answered 404 Not Found");
        // A manifest may not send Seam to the cloud's metadata service.
        let err = fetch(
            &client,
            &policy,
            "http://169.254.169.254/.well-known/seam/manifest.yaml",
            None,
            1024,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, FetchError::Refused(_)), "{err}");
    }

    #[test]
    fn rounds_combine_configured_and_catalog_targets_once() {
        let mut config = DiscoveryConfig {
            targets: vec!["http://a:1/".into(), "http://b:2".into()],
            from_catalog: false,
            path: "/m.yaml".into(),
            interval_secs: 1,
            timeout_secs: 1,
            max_bytes: 1,
            concurrency: 1,
            stale_after: 3,
        };
        let catalog = vec!["http://b:2".to_owned(), "http://c:3".to_owned()];
        assert_eq!(
            round_urls(&config, &catalog),
            ["http://a:1/m.yaml", "http://b:2/m.yaml"]
        );
        config.from_catalog = true;
        assert_eq!(
            round_urls(&config, &catalog),
            [
                "http://a:1/m.yaml",
                "http://b:2/m.yaml",
                "http://c:3/m.yaml"
            ]
        );
    }

    #[tokio::test]
    async fn run_sends_changed_manifests_only() {
        // The server counts its 304 answers, so the test waits on them, not on time.
        let not_modified = std::sync::Arc::new(tokio::sync::Notify::new());
        let counted = not_modified.clone();
        let router = axum::Router::new().route(
            "/.well-known/seam/manifest.yaml",
            axum::routing::get(move |headers: HeaderMap| {
                let counted = counted.clone();
                async move {
                    if headers.contains_key("if-none-match") {
                        counted.notify_one();
                        StatusCode::NOT_MODIFIED.into_response()
                    } else {
                        ([("etag", "\"a\"")], "text").into_response()
                    }
                }
            }),
        );
        let base = serve(router).await;
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let config = DiscoveryConfig {
            targets: vec![base.clone()],
            from_catalog: false,
            path: default_path(),
            interval_secs: 1,
            timeout_secs: 1,
            max_bytes: 1024,
            concurrency: 2,
            stale_after: 3,
        };
        let (_catalog_tx, catalog) = tokio::sync::watch::channel(Vec::new());
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let cx = CollectorContext {
            out: tx,
            shutdown,
            policy: OutboundPolicy::default(),
        };
        let task = tokio::spawn(run(config, cx, catalog));
        let batch = rx.recv().await.unwrap();
        assert_eq!(
            batch.origin,
            format!("{base}/.well-known/seam/manifest.yaml")
        );
        assert_eq!(
            (batch.source, &batch.content),
            ("discovery", &Content::Text("text".into()))
        );
        batch.done.send(crate::Outcome::Stored).unwrap();
        // Two rounds answered 304: by the second, the first one's answer was handled,
        // and it sent nothing.
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(10), not_modified.notified())
                .await
                .expect("discovery asks again with If-None-Match");
        }
        assert!(rx.try_recv().is_err(), "a 304 sends nothing");
        task.abort();
    }
}
