//! An existing Prometheus as the source of the request figures, instead of scraping:
//! where a Prometheus already scrapes the fleet, Seam asks it over its HTTP API (PromQL
//! range queries) for the same per-bucket statistics the scraper would compute, and for
//! its targets' health (`/api/v1/targets`).
//!
//! Each standard request metric ([`RedMetric`]) becomes three range queries per round:
//! requests by status, histogram buckets by bound, and duration sums, each summed by
//! service label and `instance`, as `rate(metric[window]) * step` evaluated at each
//! bucket's end (Prometheus handles counter resets and gaps). Like the scraper, the first
//! mapping with data for an instance is used. Nothing here knows the catalog or the
//! database: the figures go out as [`SourceEvent`]s.

use std::collections::BTreeMap;
use std::time::Duration;

use seam_health::{InstanceKey, Outcome, RedMetric, RequestStats};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::outbound::OutboundPolicy;

/// `[collectors.prometheus]`: read the request figures from a Prometheus instead of
/// scraping (setting this switches the scraper off).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the Prometheus HTTP API, as `http://prometheus:9090`.
    pub url: String,
    /// Labels that name the service, the first present wins.
    #[serde(default = "default_service_labels")]
    pub service_labels: Vec<String>,
    /// The rate window in seconds: at least four of Prometheus's scrape intervals.
    #[serde(default = "default_rate_window")]
    pub rate_window_secs: u64,
    /// Seconds to wait after a bucket ends before asking for it, so Prometheus has
    /// scraped what belongs to it.
    #[serde(default = "default_lag")]
    pub lag_secs: u64,
    /// Seconds a query may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Largest answer accepted, in bytes.
    #[serde(default = "default_body_limit")]
    pub body_size_limit_bytes: usize,
    /// Request-metric mappings tried before the built-in ones.
    #[serde(default)]
    pub red: Vec<RedMetric>,
}

/// Longest service or instance label Seam takes from Prometheus.
pub const MAX_NAME_BYTES: usize = 256;

fn default_service_labels() -> Vec<String> {
    vec!["service".to_owned(), "job".to_owned()]
}
fn default_rate_window() -> u64 {
    60
}
fn default_lag() -> u64 {
    30
}
fn default_timeout() -> u64 {
    10
}
fn default_body_limit() -> usize {
    32 * 1024 * 1024
}

/// A target as Prometheus reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromTarget {
    pub key: InstanceKey,
    pub url: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    pub last_scrape: Option<String>,
    pub duration_seconds: Option<f64>,
    pub last_error: Option<String>,
}

/// What the Prometheus source reports.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    /// One instance's requests over the bucket that starts at `start` (unix seconds).
    Bucket {
        key: InstanceKey,
        start: i64,
        /// Whether Prometheus's `up` was 1 at the bucket's end (`None`: no `up` series).
        up: Option<bool>,
        stats: RequestStats,
        /// The mapping the figures come from; `None` when the instance has none.
        mapping: Option<String>,
    },
    /// Prometheus's targets, every round.
    Targets(Vec<PromTarget>),
    /// A round failed; the message says why. Buckets of a failed round are asked again.
    Failed(String),
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Policy(String),
    #[error("prometheus request failed: {0}")]
    Request(String),
    #[error("prometheus answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("prometheus answer exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("prometheus answer is not what its API returns: {0}")]
    Invalid(String),
}

/// A client of one Prometheus.
pub struct PromClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
    config: PrometheusConfig,
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Matrix {
    result: Vec<RangeSeries>,
}

#[derive(Deserialize)]
struct RangeSeries {
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

#[derive(Deserialize)]
struct TargetsData {
    #[serde(rename = "activeTargets")]
    active: Vec<ActiveTarget>,
}

#[derive(Deserialize)]
struct ActiveTarget {
    labels: BTreeMap<String, String>,
    #[serde(rename = "scrapeUrl")]
    scrape_url: String,
    health: String,
    #[serde(rename = "lastScrape")]
    last_scrape: Option<String>,
    #[serde(rename = "lastScrapeDuration")]
    last_scrape_duration: Option<f64>,
    #[serde(rename = "lastError")]
    last_error: Option<String>,
}

/// One series of a range query: its labels and its values by evaluation time.
pub type Series = (BTreeMap<String, String>, Vec<(i64, f64)>);

impl PromClient {
    pub fn new(
        config: PrometheusConfig,
        policy: OutboundPolicy,
    ) -> Result<PromClient, reqwest::Error> {
        let client = policy
            .client_builder()
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .gzip(true)
            .build()?;
        Ok(PromClient {
            client,
            policy,
            config,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, QueryError> {
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fetch(
            &self.client,
            &self.policy,
            &self.config.url,
            path,
            &query,
            self.config.body_size_limit_bytes,
        )
        .await
    }

    fn unwrap<T>(body: &[u8]) -> Result<T, QueryError>
    where
        T: serde::de::DeserializeOwned,
    {
        let envelope: Envelope<T> =
            serde_json::from_slice(body).map_err(|err| QueryError::Invalid(err.to_string()))?;
        if envelope.status != "success" {
            return Err(QueryError::Invalid(
                envelope
                    .error
                    .unwrap_or_else(|| "status is not success".to_owned()),
            ));
        }
        envelope
            .data
            .ok_or_else(|| QueryError::Invalid("no data".to_owned()))
    }

    /// Runs a PromQL range query from `start` to `end` (unix seconds) every `step`.
    pub async fn query_range(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let body = self
            .get(
                "/api/v1/query_range",
                &[
                    ("query", query.to_owned()),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                    ("step", format!("{step}s")),
                ],
            )
            .await?;
        let matrix: Matrix = Self::unwrap(&body)?;
        Ok(matrix
            .result
            .into_iter()
            .map(|series| {
                let values = series
                    .values
                    .into_iter()
                    .filter_map(|(at, value)| Some((at.round() as i64, parse_value(&value)?)))
                    .collect();
                (series.metric, values)
            })
            .collect())
    }

    /// Prometheus's active targets.
    pub async fn targets(&self) -> Result<Vec<PromTarget>, QueryError> {
        let body = self
            .get("/api/v1/targets", &[("state", "active".to_owned())])
            .await?;
        let data: TargetsData = Self::unwrap(&body)?;
        Ok(data
            .active
            .into_iter()
            .filter_map(|target| {
                Some(PromTarget {
                    key: self.key(&target.labels)?,
                    url: target.scrape_url,
                    health: match target.health.as_str() {
                        "up" | "down" => target.health,
                        _ => "unknown".to_owned(),
                    },
                    last_scrape: target.last_scrape.filter(|t| !t.starts_with("0001-")),
                    duration_seconds: target.last_scrape_duration,
                    last_error: target.last_error.filter(|e| !e.is_empty()),
                })
            })
            .collect())
    }

    /// The per-instance statistics of every bucket of `step` seconds whose end lies in
    /// `(from, to]` (both multiples of `step`), keyed by instance and bucket start.
    pub async fn buckets(
        &self,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<BTreeMap<(InstanceKey, i64), (RequestStats, String)>, QueryError> {
        let window = self.config.rate_window_secs.max(step as u64);
        let by = self.group_by(&[]);
        let mut found: BTreeMap<(InstanceKey, i64), (RequestStats, usize)> = BTreeMap::new();
        let mut red = self.config.red.clone();
        red.extend(RedMetric::standard());
        for (rank, metric) in red.iter().enumerate() {
            let mut stats: BTreeMap<(InstanceKey, i64), RequestStats> = BTreeMap::new();
            let by_status = self.group_by(&metric.status_labels);
            let requests = format!(
                "sum by ({by_status}) (rate({}[{window}s])) * {step}",
                metric.requests
            );
            for (labels, values) in self.query_range(&requests, from + step, to, step).await? {
                let outcome = metric
                    .status_labels
                    .iter()
                    .find_map(|label| labels.get(label).filter(|v| !v.is_empty()))
                    .map_or(Outcome::Ok, |status| metric.status.outcome(status));
                let Some(key) = self.key(&labels) else {
                    continue;
                };
                for (at, value) in values {
                    let entry = stats.entry((key.clone(), at - step)).or_default();
                    entry.requests += value;
                    match outcome {
                        Outcome::Ok => {}
                        Outcome::ClientError => entry.client_errors += value,
                        Outcome::ServerError => entry.errors += value,
                    }
                }
            }
            if let Some(duration) = &metric.duration {
                let by_le = self.group_by(&["le".to_owned()]);
                let buckets =
                    format!("sum by ({by_le}) (rate({duration}_bucket[{window}s])) * {step}");
                for (labels, values) in self.query_range(&buckets, from + step, to, step).await? {
                    let (Some(le), Some(key)) = (
                        labels.get("le").and_then(|le| parse_value(le)),
                        self.key(&labels),
                    ) else {
                        continue;
                    };
                    for (at, value) in values {
                        if let Some(entry) = stats.get_mut(&(key.clone(), at - step)) {
                            entry.add_bucket(le * metric.duration_scale, value);
                            if le == f64::INFINITY {
                                entry.duration_count += value;
                            }
                        }
                    }
                }
                let sums = format!("sum by ({by}) (rate({duration}_sum[{window}s])) * {step}");
                for (labels, values) in self.query_range(&sums, from + step, to, step).await? {
                    let Some(key) = self.key(&labels) else {
                        continue;
                    };
                    for (at, value) in values {
                        if let Some(entry) = stats.get_mut(&(key.clone(), at - step)) {
                            entry.duration_sum_seconds += value * metric.duration_scale;
                        }
                    }
                }
            }
            for (key, stats) in stats {
                found.entry(key).or_insert((stats, rank));
            }
        }
        Ok(found
            .into_iter()
            .map(|(key, (stats, rank))| (key, (stats, red[rank].name.clone())))
            .collect())
    }

    /// `up` of every target at each bucket's end.
    pub async fn up(
        &self,
        from: i64,
        to: i64,
        step: i64,
    ) -> Result<BTreeMap<(InstanceKey, i64), bool>, QueryError> {
        let by = self.group_by(&[]);
        let mut up = BTreeMap::new();
        for (labels, values) in self
            .query_range(&format!("max by ({by}) (up)"), from + step, to, step)
            .await?
        {
            let Some(key) = self.key(&labels) else {
                continue;
            };
            for (at, value) in values {
                up.insert((key.clone(), at - step), value >= 1.0);
            }
        }
        Ok(up)
    }

    fn group_by(&self, extra: &[String]) -> String {
        let mut labels: Vec<&str> = self
            .config
            .service_labels
            .iter()
            .map(String::as_str)
            .collect();
        labels.push("instance");
        labels.extend(extra.iter().map(String::as_str));
        labels.join(", ")
    }

    /// The instance a series or target belongs to; `None` (left out) without a service
    /// label, or with a service or instance longer than [`MAX_NAME_BYTES`]: what another
    /// system sends becomes Seam's keys, so it is bounded like any input.
    fn key(&self, labels: &BTreeMap<String, String>) -> Option<InstanceKey> {
        let service = service_of(&self.config.service_labels, labels);
        let instance = labels.get("instance").cloned().unwrap_or_default();
        (!service.is_empty() && service.len() <= MAX_NAME_BYTES && instance.len() <= MAX_NAME_BYTES)
            .then_some(InstanceKey { service, instance })
    }
}

fn service_of(service_labels: &[String], labels: &BTreeMap<String, String>) -> String {
    service_labels
        .iter()
        .find_map(|label| labels.get(label).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_default()
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Asks Prometheus, bucket by bucket, for the request figures of every instance it
/// scrapes, and reports them in time order; a failed round is retried on the next,
/// from where it left off. `now` gives the time (injectable for tests).
pub async fn run(
    config: PrometheusConfig,
    policy: OutboundPolicy,
    bucket_secs: i64,
    now: impl Fn() -> i64 + Send + 'static,
    events: mpsc::Sender<SourceEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let lag = config.lag_secs as i64;
    let client = match PromClient::new(config, policy) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "prometheus source cannot build its HTTP client");
            return;
        }
    };
    let step = bucket_secs.max(1);
    // Start with the last closed bucket: history before Seam started is not backfilled.
    let mut done = (now() - lag).div_euclid(step) * step - step;
    let mut ticker = tokio::time::interval(Duration::from_secs(step as u64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let to = (now() - lag).div_euclid(step) * step;
        for event in round(&client, &mut done, to, step).await {
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// One round: Prometheus's targets, then the buckets that closed since `done` (at most
/// an hour of them, so a long outage catches up in steps), in time order. A failure is
/// one `Failed` event; the buckets are asked again next round.
async fn round(client: &PromClient, done: &mut i64, to: i64, step: i64) -> Vec<SourceEvent> {
    let mut out = Vec::new();
    match client.targets().await {
        Ok(targets) => out.push(SourceEvent::Targets(targets)),
        Err(err) => {
            out.push(SourceEvent::Failed(err.to_string()));
            return out;
        }
    }
    if to <= *done {
        return out;
    }
    let to = to.min(*done + 3600.max(step));
    let figures = async {
        let up = client.up(*done, to, step).await?;
        let buckets = client.buckets(*done, to, step).await?;
        Ok::<_, QueryError>((up, buckets))
    };
    match figures.await {
        Ok((up, buckets)) => {
            let mut keys: Vec<&(InstanceKey, i64)> = up.keys().chain(buckets.keys()).collect();
            keys.sort_by_key(|(key, start)| (*start, key.clone()));
            keys.dedup();
            for (key, start) in keys {
                let (stats, mapping) = buckets
                    .get(&(key.clone(), *start))
                    .map(|(stats, mapping)| (stats.clone(), Some(mapping.clone())))
                    .unwrap_or_default();
                out.push(SourceEvent::Bucket {
                    key: key.clone(),
                    start: *start,
                    up: up.get(&(key.clone(), *start)).copied(),
                    stats,
                    mapping,
                });
            }
            *done = to;
        }
        Err(err) => out.push(SourceEvent::Failed(err.to_string())),
    }
    out
}

/// GETs `path` of a Prometheus HTTP API at `base` through the outbound policy, reading at
/// most `limit` bytes of the answer; a non-2xx answer is an error with its first 300
/// characters. Shared by the sources that ask a Prometheus (figures and edges).
pub(crate) async fn fetch(
    client: &reqwest::Client,
    policy: &OutboundPolicy,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
    limit: usize,
) -> Result<Vec<u8>, QueryError> {
    let base = base.trim_end_matches('/');
    let mut url = policy
        .check(&format!("{base}{path}"))
        .map_err(|err| QueryError::Policy(crate::outbound::error_chain(&err)))?;
    url.query_pairs_mut().extend_pairs(query.iter().copied());
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|err| QueryError::Request(crate::outbound::error_chain(&err)))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| QueryError::Request(crate::outbound::error_chain(&err)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(QueryError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        return Err(QueryError::Status {
            status: status.as_u16(),
            body: text.chars().take(300).collect(),
        });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_keys() {
        let config: PrometheusConfig = toml::from_str("url = \"http://127.0.0.1:9090\"").unwrap();
        assert_eq!(config.service_labels, ["service", "job"]);
        assert_eq!(config.rate_window_secs, 60);
        assert!(toml::from_str::<PrometheusConfig>("url = \"x\"\nquery = 1").is_err());
    }

    #[test]
    fn series_without_a_service_or_with_huge_names_are_left_out() {
        let client = PromClient::new(
            toml::from_str("url = \"http://127.0.0.1:9090\"").unwrap(),
            OutboundPolicy::default(),
        )
        .unwrap();
        let labels = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect()
        };
        let ok = labels(&[("job", "pay".into()), ("instance", "10.0.0.1:80".into())]);
        assert_eq!(client.key(&ok).unwrap().service, "pay");
        assert_eq!(
            client.key(&labels(&[("instance", "10.0.0.1:80".into())])),
            None
        );
        let huge = labels(&[("job", "x".repeat(MAX_NAME_BYTES + 1))]);
        assert_eq!(client.key(&huge), None);
    }

    #[test]
    fn services_from_the_first_label_present() {
        let labels: BTreeMap<String, String> =
            [("job".to_owned(), "pay".to_owned())].into_iter().collect();
        let order = default_service_labels();
        assert_eq!(service_of(&order, &labels), "pay");
        let mut both = labels.clone();
        both.insert("service".to_owned(), "payments".to_owned());
        assert_eq!(service_of(&order, &both), "payments");
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_value("NaN"), None);
    }
}
