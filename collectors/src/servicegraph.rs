//! Edges of the call graph computed by another engine, read from Prometheus: where span
//! volume outgrows one Seam, the OpenTelemetry Collector's servicegraph connector (or
//! Grafana Tempo's metrics generator) pairs the spans and exports each edge as the
//! series `traces_service_graph_request_total`, `..._request_failed_total` and the
//! histogram `..._request_server_seconds`, labelled `client`, `server` and
//! `connection_type`. Seam asks the Prometheus that stores them.
//!
//! Each round asks, for every bucket that closed since the previous round, four instant
//! queries evaluated at the bucket's end: the `increase` over the bucket of requests,
//! failed requests, histogram buckets (by `le`) and duration sums, summed by client,
//! server and connection type (Prometheus handles counter resets and gaps). The answers
//! become [`EdgeRow`]s, one batch per round. Nothing here knows the store: the rows go
//! out on a channel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use seam_health::RequestStats;
use seam_traces::{EdgeKey, EdgeRow, EdgeStats, Mode, NodeKind, USER_NODE};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::outbound::OutboundPolicy;
use crate::prometheus::QueryError;

/// `[collectors.servicegraph]`: read call-graph edges from the servicegraph metrics of an
/// OpenTelemetry Collector or of Tempo, stored in a Prometheus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicegraphConfig {
    /// Base URL of the Prometheus HTTP API that holds the servicegraph series, as
    /// `http://prometheus:9090`.
    pub url: String,
    /// Seconds between rounds; each round asks for the buckets that closed since the
    /// previous one.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Prefix of the series names: `<prefix>_request_total` and so on.
    #[serde(default = "default_prefix")]
    pub metric_prefix: String,
    /// Label naming the calling service.
    #[serde(default = "default_client_label")]
    pub client_label: String,
    /// Label naming the called service.
    #[serde(default = "default_server_label")]
    pub server_label: String,
    /// Extra label matchers added to every query, as `{namespace="prod"}`.
    #[serde(default)]
    pub selector: Option<String>,
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
}

fn default_interval() -> u64 {
    60
}
fn default_prefix() -> String {
    "traces_service_graph".to_owned()
}
fn default_client_label() -> String {
    "client".to_owned()
}
fn default_server_label() -> String {
    "server".to_owned()
}
fn default_lag() -> u64 {
    30
}
fn default_timeout() -> u64 {
    10
}
fn default_body_limit() -> usize {
    64 * 1024 * 1024
}

/// Longest client or server name taken from Prometheus.
pub const MAX_NAME_BYTES: usize = 256;

/// Most buckets a round catches up after an outage; older ones are given up (logged).
pub const MAX_CATCH_UP_BUCKETS: i64 = 60;

/// The label that says how the client calls the server.
pub const CONNECTION_TYPE: &str = "connection_type";

impl ServicegraphConfig {
    /// Checks what can be checked before the first round.
    pub fn validate(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|err| format!("[collectors.servicegraph] url {:?}: {err}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "[collectors.servicegraph] url {:?}: expected http or https",
                self.url
            ));
        }
        if !(1..=3600).contains(&self.interval_secs) {
            return Err(format!(
                "[collectors.servicegraph] interval_secs = {}: expected 1 to 3600",
                self.interval_secs
            ));
        }
        if !(1..=300).contains(&self.timeout_secs) {
            return Err(format!(
                "[collectors.servicegraph] timeout_secs = {}: expected 1 to 300",
                self.timeout_secs
            ));
        }
        if self.lag_secs > 3600 {
            return Err(format!(
                "[collectors.servicegraph] lag_secs = {}: expected at most 3600",
                self.lag_secs
            ));
        }
        if !is_metric_name(&self.metric_prefix) {
            return Err(format!(
                "[collectors.servicegraph] metric_prefix {:?}: not a metric name",
                self.metric_prefix
            ));
        }
        for (key, label) in [
            ("client_label", &self.client_label),
            ("server_label", &self.server_label),
        ] {
            if !is_label_name(label) || label == "le" || label == CONNECTION_TYPE {
                return Err(format!(
                    "[collectors.servicegraph] {key} {label:?}: not a label name Seam can group by"
                ));
            }
        }
        if self.client_label == self.server_label {
            return Err(
                "[collectors.servicegraph] client_label and server_label must differ".to_owned(),
            );
        }
        if let Some(selector) = &self.selector {
            parse_selector(selector)
                .map_err(|err| format!("[collectors.servicegraph] selector {selector:?}: {err}"))?;
        }
        Ok(())
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads a selector that must be a plain list of label matchers, `{name="value", ...}`
/// (operators `=`, `!=`, `=~`, `!~`; values quoted with `"`, `'` or backticks), and
/// returns the matchers as written, without the braces: nothing else of PromQL can be
/// smuggled into the queries.
pub fn parse_selector(text: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if chars.get(i) != Some(&'{') {
        return Err("expected `{` at the start".to_owned());
    }
    i += 1;
    let mut matchers = Vec::new();
    loop {
        skip_ws(&mut i);
        if chars.get(i) == Some(&'}') {
            i += 1;
            break;
        }
        let start = i;
        while chars
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect();
        if !is_label_name(&name) {
            return Err(format!("expected a label name at character {}", start + 1));
        }
        if name.starts_with("__") {
            return Err(format!("label {name:?}: reserved names are not allowed"));
        }
        skip_ws(&mut i);
        let op = match (chars.get(i), chars.get(i + 1)) {
            (Some('='), Some('~')) => "=~",
            (Some('!'), Some('~')) => "!~",
            (Some('!'), Some('=')) => "!=",
            (Some('='), _) => "=",
            _ => {
                return Err(format!(
                    "expected =, !=, =~ or !~ after {name:?} at character {}",
                    i + 1
                ))
            }
        };
        i += op.len();
        skip_ws(&mut i);
        let quote = match chars.get(i) {
            Some(q @ ('"' | '\'' | '`')) => *q,
            _ => {
                return Err(format!(
                    "expected a quoted value after {name}{op} at character {}",
                    i + 1
                ))
            }
        };
        let value_start = i;
        i += 1;
        loop {
            match chars.get(i) {
                None => return Err(format!("the value of {name:?} is not closed")),
                Some('\\') if quote != '`' => {
                    if chars.get(i + 1).is_none() {
                        return Err(format!("the value of {name:?} is not closed"));
                    }
                    i += 2;
                }
                Some('\n') if quote != '`' => {
                    return Err(format!("the value of {name:?} spans lines"))
                }
                Some(c) if *c == quote => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
        let value: String = chars[value_start..i].iter().collect();
        matchers.push(format!("{name}{op}{value}"));
        skip_ws(&mut i);
        match chars.get(i) {
            Some(',') => i += 1,
            Some('}') => {}
            _ => return Err(format!("expected `,` or `}}` at character {}", i + 1)),
        }
    }
    skip_ws(&mut i);
    if i != chars.len() {
        return Err(format!("unexpected text after `}}` at character {}", i + 1));
    }
    Ok(matchers)
}

/// The four queries of one bucket of `bucket_secs` seconds, evaluated at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    pub requests: String,
    pub failed: String,
    pub buckets: String,
    pub sums: String,
}

impl Queries {
    /// Builds the queries; `config` must be valid ([`ServicegraphConfig::validate`]).
    pub fn new(config: &ServicegraphConfig, bucket_secs: i64) -> Queries {
        let matchers = config
            .selector
            .as_deref()
            .and_then(|s| parse_selector(s).ok())
            .unwrap_or_default();
        let selector = if matchers.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", matchers.join(", "))
        };
        let by = format!(
            "{}, {}, {CONNECTION_TYPE}",
            config.client_label, config.server_label
        );
        let prefix = &config.metric_prefix;
        let window = bucket_secs.max(1);
        let increase = |by: &str, series: &str| {
            format!("sum by ({by}) (increase({prefix}_{series}{selector}[{window}s]))")
        };
        Queries {
            requests: increase(&by, "request_total"),
            failed: increase(&by, "request_failed_total"),
            buckets: increase(&format!("{by}, le"), "request_server_seconds_bucket"),
            sums: increase(&by, "request_server_seconds_sum"),
        }
    }
}

/// One sample of an instant query's vector: the series' labels and its value (finite).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<VectorData>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct VectorData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<serde_json::Value>,
}

/// Reads the answer of an instant query. An answer that is not a successful vector is
/// an error; a sample whose value is not a finite number (`NaN`, `+Inf`, garbage) or
/// that is shaped oddly is left out.
pub fn parse_vector(body: &[u8]) -> Result<Vec<Sample>, QueryError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|err| QueryError::Invalid(err.to_string()))?;
    if envelope.status != "success" {
        return Err(QueryError::Invalid(
            envelope
                .error
                .unwrap_or_else(|| "status is not success".to_owned()),
        ));
    }
    let data = envelope
        .data
        .ok_or_else(|| QueryError::Invalid("no data".to_owned()))?;
    if data.result_type != "vector" {
        return Err(QueryError::Invalid(format!(
            "expected a vector, got a {}",
            data.result_type
        )));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|item| {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(item.get("metric")?.clone()).ok()?;
            let value = item.get("value")?.as_array()?.get(1)?.as_str()?;
            let value = value.parse::<f64>().ok().filter(|v| v.is_finite())?;
            Some(Sample { labels, value })
        })
        .collect())
}

/// The answers of one bucket's four queries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub requests: Vec<Sample>,
    pub failed: Vec<Sample>,
    pub buckets: Vec<Sample>,
    pub sums: Vec<Sample>,
}

#[derive(Default)]
struct Acc {
    calls: f64,
    errors: f64,
    sum: f64,
    timed: bool,
    buckets: BTreeMap<u64, f64>,
}

/// The edge a series stands for, or `None` when it lacks a client or server name or one
/// is longer than [`MAX_NAME_BYTES`].
fn edge_key(config: &ServicegraphConfig, labels: &BTreeMap<String, String>) -> Option<EdgeKey> {
    let name = |label: &str| {
        labels
            .get(label)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && v.len() <= MAX_NAME_BYTES)
    };
    let client = name(&config.client_label)?;
    let server = name(&config.server_label)?;
    let connection = labels.get(CONNECTION_TYPE).map_or("", String::as_str);
    let caller_kind = if client == USER_NODE {
        NodeKind::User
    } else {
        NodeKind::Service
    };
    let callee_kind = match connection {
        "database" => NodeKind::Database,
        // A root server span with no client is counted as a call from the virtual `user`
        // node: the server is then a real service.
        "virtual_node" if caller_kind == NodeKind::User => NodeKind::Service,
        "virtual_node" => NodeKind::Virtual,
        _ => NodeKind::Service,
    };
    let (mode, protocol) = match connection {
        "messaging_system" => (Mode::Async, "messaging"),
        "database" => (Mode::Sync, "database"),
        _ => (Mode::Sync, "unknown"),
    };
    let empty: Arc<str> = Arc::from("");
    Some(EdgeKey {
        caller: Arc::from(client),
        caller_kind,
        callee: Arc::from(server),
        callee_kind,
        caller_version: empty.clone(),
        callee_version: empty.clone(),
        environment: empty.clone(),
        protocol: Arc::from(protocol),
        mode,
        operation: empty,
    })
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        other => other.parse::<f64>().ok().filter(|v| v.is_finite()),
    }
}

/// Turns one bucket's answers into edge rows starting at `start`, in key order, and
/// counts the series left out (no client or server label, a name too long). Increases
/// below zero count as zero; calls and errors are rounded to whole calls; edges without
/// calls in the bucket give no row.
pub fn edge_rows<'a>(
    config: &ServicegraphConfig,
    start: i64,
    answers: &'a Answers,
) -> (Vec<EdgeRow>, u64) {
    let mut accs: BTreeMap<EdgeKey, Acc> = BTreeMap::new();
    let mut skipped: BTreeSet<Vec<Option<&'a str>>> = BTreeSet::new();
    let ids = [
        config.client_label.as_str(),
        config.server_label.as_str(),
        CONNECTION_TYPE,
    ];
    let mut key_of = |labels: &'a BTreeMap<String, String>| {
        let key = edge_key(config, labels);
        if key.is_none() {
            skipped.insert(
                ids.iter()
                    .map(|label| labels.get(*label).map(String::as_str))
                    .collect(),
            );
        }
        key
    };
    for sample in &answers.requests {
        if let Some(key) = key_of(&sample.labels) {
            accs.entry(key).or_default().calls += sample.value.max(0.0);
        }
    }
    for sample in &answers.failed {
        if let Some(key) = key_of(&sample.labels) {
            accs.entry(key).or_default().errors += sample.value.max(0.0);
        }
    }
    for sample in &answers.sums {
        if let Some(key) = key_of(&sample.labels) {
            let acc = accs.entry(key).or_default();
            acc.sum += sample.value.max(0.0);
            acc.timed = true;
        }
    }
    for sample in &answers.buckets {
        let Some(le) = sample.labels.get("le").and_then(|le| parse_le(le)) else {
            continue;
        };
        if le < 0.0 {
            continue;
        }
        if let Some(key) = key_of(&sample.labels) {
            let acc = accs.entry(key).or_default();
            *acc.buckets.entry(le.to_bits()).or_default() += sample.value.max(0.0);
            acc.timed = true;
        }
    }
    let rows = accs
        .into_iter()
        .filter_map(|(key, acc)| {
            let calls = acc.calls.round();
            if calls <= 0.0 {
                return None;
            }
            let mut stats = RequestStats {
                requests: calls,
                errors: acc.errors.round().min(calls),
                ..RequestStats::default()
            };
            if acc.timed {
                stats.duration_sum_seconds = acc.sum;
                stats.duration_count = calls;
            }
            // Non-negative floats order like their bits.
            let mut running = 0.0_f64;
            for (bits, count) in acc.buckets {
                // Cumulative counts never go down with the bound (extrapolation may
                // make them wobble).
                running = running.max(count.round());
                stats.add_bucket(f64::from_bits(bits), running);
            }
            if !stats.buckets.is_empty()
                && stats
                    .buckets
                    .last()
                    .is_some_and(|(le, _)| *le != f64::INFINITY)
            {
                stats.add_bucket(f64::INFINITY, running.max(calls));
            }
            Some(EdgeRow {
                start,
                key,
                stats: EdgeStats {
                    calls: stats,
                    fan_out: Default::default(),
                },
            })
        })
        .collect();
    (rows, skipped.len() as u64)
}

/// The ends of the buckets to ask for, after `done` up to `to` (multiples of `step`), and
/// how many older ones are given up: at most [`MAX_CATCH_UP_BUCKETS`] a round.
pub fn due_buckets(done: i64, to: i64, step: i64) -> (Vec<i64>, i64) {
    if to <= done {
        return (Vec::new(), 0);
    }
    let pending = (to - done) / step;
    let given_up = (pending - MAX_CATCH_UP_BUCKETS).max(0);
    let first = done + (given_up + 1) * step;
    ((first..=to).step_by(step as usize).collect(), given_up)
}

/// What the source counts, for Seam's own metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// A round failed (logged with its cause); its buckets are asked again next round.
    Failed,
    /// Series left out in a round: no client or server label, or a name longer than
    /// [`MAX_NAME_BYTES`].
    Skipped(u64),
}

/// A client of the Prometheus that holds the servicegraph series.
pub struct ServicegraphClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
    config: ServicegraphConfig,
    queries: Queries,
}

impl ServicegraphClient {
    pub fn new(
        config: ServicegraphConfig,
        policy: OutboundPolicy,
        bucket_secs: i64,
    ) -> Result<ServicegraphClient, reqwest::Error> {
        let client = policy
            .client_builder()
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .gzip(true)
            .build()?;
        let queries = Queries::new(&config, bucket_secs);
        Ok(ServicegraphClient {
            client,
            policy,
            config,
            queries,
        })
    }

    /// Runs an instant query evaluated at `time` (unix seconds).
    pub async fn query(&self, query: &str, time: i64) -> Result<Vec<Sample>, QueryError> {
        let time = time.to_string();
        let body = crate::prometheus::fetch(
            &self.client,
            &self.policy,
            &self.config.url,
            "/api/v1/query",
            &[("query", query), ("time", &time)],
            self.config.body_size_limit_bytes,
        )
        .await?;
        parse_vector(&body)
    }

    /// The four answers of the bucket that ends at `end`.
    pub async fn answers(&self, end: i64) -> Result<Answers, QueryError> {
        let q = &self.queries;
        Ok(Answers {
            requests: self.query(&q.requests, end).await?,
            failed: self.query(&q.failed, end).await?,
            buckets: self.query(&q.buckets, end).await?,
            sums: self.query(&q.sums, end).await?,
        })
    }
}

/// Asks Prometheus, every `interval_secs`, for the edges of each bucket of `bucket_secs`
/// that closed since the previous round (once `lag_secs` have passed), and sends them as
/// one batch per round, in time order. A failure is logged with its cause and counted
/// (`tally`); the buckets not done are asked again next round. `clock` gives the time in
/// unix seconds (injectable for tests). Returns on shutdown, or when `out` is closed.
pub async fn run(
    config: ServicegraphConfig,
    policy: OutboundPolicy,
    bucket_secs: i64,
    clock: impl Fn() -> i64 + Send + 'static,
    out: mpsc::Sender<Vec<EdgeRow>>,
    tally: impl Fn(Tally) + Send + 'static,
    mut shutdown: watch::Receiver<bool>,
) {
    if let Err(err) = config.validate() {
        tracing::error!(error = %err, "servicegraph source not started");
        return;
    }
    let lag = config.lag_secs as i64;
    let interval = config.interval_secs.max(1);
    let url = config.url.clone();
    let step = bucket_secs.max(1);
    let client = match ServicegraphClient::new(config, policy, step) {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %crate::outbound::error_chain(&err), "servicegraph source cannot build its HTTP client");
            return;
        }
    };
    // Start with the last closed bucket: history before Seam started is not backfilled.
    let mut done = (clock() - lag).div_euclid(step) * step - step;
    let mut ticker = tokio::time::interval(Duration::from_secs(interval));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(%url, bucket_secs = step, "servicegraph source started");
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let to = (clock() - lag).div_euclid(step) * step;
        let (ends, given_up) = due_buckets(done, to, step);
        if given_up > 0 {
            tracing::warn!(
                buckets = given_up,
                "servicegraph source: buckets too far behind given up after an outage"
            );
        }
        let mut rows = Vec::new();
        let mut skipped = 0;
        for end in ends {
            let answers = tokio::select! {
                answers = client.answers(end) => answers,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            match answers {
                Ok(answers) => {
                    let (bucket_rows, bucket_skipped) =
                        edge_rows(&client.config, end - step, &answers);
                    rows.extend(bucket_rows);
                    skipped += bucket_skipped;
                    done = end;
                }
                Err(err) => {
                    tracing::warn!(%url, bucket_end = end, error = %err, "servicegraph source: round failed; retrying next round");
                    tally(Tally::Failed);
                    break;
                }
            }
        }
        if skipped > 0 {
            tracing::warn!(
                series = skipped,
                "servicegraph source: series without a client or server name, or with one longer than 256 bytes, left out"
            );
            tally(Tally::Skipped(skipped));
        }
        if !rows.is_empty() && out.send(rows).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> ServicegraphConfig {
        toml::from_str(&format!("url = \"http://127.0.0.1:9090\"\n{extra}")).unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sample(pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels(pairs),
            value,
        }
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c = config("");
        assert_eq!(c.interval_secs, 60);
        assert_eq!(c.metric_prefix, "traces_service_graph");
        assert_eq!(
            (c.client_label.as_str(), c.server_label.as_str()),
            ("client", "server")
        );
        assert_eq!(c.selector, None);
        assert!(c.validate().is_ok());
        assert!(toml::from_str::<ServicegraphConfig>("url = \"x\"\nquery = \"up\"").is_err());
        assert!(config("metric_prefix = \"a b\"").validate().is_err());
        assert!(config("client_label = \"le\"").validate().is_err());
        assert!(config("server_label = \"client\"").validate().is_err());
        assert!(config("interval_secs = 0").validate().is_err());
        let bad_url: ServicegraphConfig = toml::from_str("url = \"ftp://x\"").unwrap();
        assert!(bad_url.validate().is_err());
    }

    #[test]
    fn selectors_are_plain_matcher_lists() {
        assert_eq!(
            parse_selector(r#" { namespace = "prod", cluster=~'eu-.*' ,} "#).unwrap(),
            [r#"namespace="prod""#, "cluster=~'eu-.*'"]
        );
        assert_eq!(parse_selector("{}").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_selector(r#"{a!="x\"}y", b!~`raw\`}"#).unwrap(),
            [r#"a!="x\"}y""#, r"b!~`raw\`"]
        );
        for bad in [
            "",
            r#"namespace="prod""#,
            r#"{namespace="prod"} or vector(1)"#,
            r#"{namespace="prod"}[5m]"#,
            r#"{namespace=prod}"#,
            r#"{namespace="prod"#,
            r#"{namespace=="prod"}"#,
            r#"{__name__="up"}"#,
            r#"{a="1" b="2"}"#,
            r#"{1a="x"}"#,
            "{a=\"x\ny\"}",
        ] {
            assert!(parse_selector(bad).is_err(), "{bad:?} accepted");
            let mut c = config("");
            c.selector = Some(bad.to_owned());
            assert!(c.validate().is_err(), "{bad:?} validated");
        }
    }

    #[test]
    fn queries_sum_increases_by_edge_over_one_bucket() {
        let q = Queries::new(&config(""), 60);
        assert_eq!(
            q.requests,
            "sum by (client, server, connection_type) (increase(traces_service_graph_request_total[60s]))"
        );
        assert_eq!(
            q.failed,
            "sum by (client, server, connection_type) (increase(traces_service_graph_request_failed_total[60s]))"
        );
        assert_eq!(
            q.buckets,
            "sum by (client, server, connection_type, le) (increase(traces_service_graph_request_server_seconds_bucket[60s]))"
        );
        assert_eq!(
            q.sums,
            "sum by (client, server, connection_type) (increase(traces_service_graph_request_server_seconds_sum[60s]))"
        );
        let q = Queries::new(
            &config(
                "metric_prefix = \"tempo_sg\"\nclient_label = \"src\"\nserver_label = \"dst\"\nselector = '{namespace=\"prod\", cluster!=\"dev\"}'",
            ),
            300,
        );
        assert_eq!(
            q.buckets,
            "sum by (src, dst, connection_type, le) (increase(tempo_sg_request_server_seconds_bucket{namespace=\"prod\", cluster!=\"dev\"}[300s]))"
        );
    }

    #[test]
    fn vectors_are_read_and_odd_samples_left_out() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"client":"a","server":"b"},"value":[1700000060,"12"]},
            {"metric":{"client":"a","server":"c"},"value":[1700000060,"NaN"]},
            {"metric":{"client":"a","server":"d"},"value":[1700000060,"+Inf"]},
            {"metric":{"client":"a","server":"e"},"value":[1700000060,"twelve"]},
            {"metric":{"client":"a","server":"f"},"value":[1700000060,3]},
            {"metric":{"client":"a","server":"g"}},
            {"metric":{"client":1},"value":[1700000060,"1"]},
            {"value":[1700000060,"1"]}
        ]}}"#;
        let samples = parse_vector(body).unwrap();
        assert_eq!(samples, [sample(&[("client", "a"), ("server", "b")], 12.0)]);
        for bad in [
            &br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#[..],
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            br#"{"status":"success"}"#,
            br#"<html>"#,
            br#"{"status":"success","data":{"resultType":"vector","result":{}}}"#,
        ] {
            assert!(
                matches!(parse_vector(bad), Err(QueryError::Invalid(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let err = parse_vector(br#"{"status":"error","error":"parse error"}"#).unwrap_err();
        assert!(err.to_string().contains("parse error"), "{err}");
    }

    #[test]
    fn answers_become_edge_rows() {
        let c = config("");
        fn edge(
            client: &'static str,
            server: &'static str,
            ct: &'static str,
        ) -> Vec<(&'static str, &'static str)> {
            vec![
                ("client", client),
                ("server", server),
                ("connection_type", ct),
            ]
        }
        let with_le = |mut pairs: Vec<(&'static str, &'static str)>, le: &'static str| {
            pairs.push(("le", le));
            pairs
        };
        let fc = edge("frontend", "cart", "");
        let answers = Answers {
            requests: vec![
                sample(&edge("user", "frontend", "virtual_node"), 40.2),
                sample(&fc, 99.6),
                sample(&edge("cart", "postgres", "database"), 30.0),
                sample(&edge("orders", "mail", "messaging_system"), 5.0),
                sample(&edge("cart", "10.0.0.9:6379", "virtual_node"), 2.0),
                // Negative increases count as nothing.
                sample(&edge("x", "y", ""), -3.0),
                sample(&edge("tiny", "y", ""), 0.3),
            ],
            failed: vec![
                sample(&fc, 10.4),
                sample(&edge("orders", "mail", "messaging_system"), 9.0),
            ],
            buckets: vec![
                sample(&with_le(fc.clone(), "0.1"), 90.0),
                sample(&with_le(fc.clone(), "0.05"), 79.6),
                // Extrapolation wobble: a higher bound with a lower count.
                sample(&with_le(fc.clone(), "0.5"), 89.0),
                sample(&with_le(fc.clone(), "+Inf"), 100.0),
                sample(&with_le(fc.clone(), "NaN"), 5.0),
                sample(&with_le(fc.clone(), "soon"), 5.0),
                sample(&with_le(edge("cart", "postgres", "database"), "0.01"), 30.0),
            ],
            sums: vec![
                sample(&fc, 5.5),
                sample(&edge("cart", "postgres", "database"), -1.0),
            ],
        };
        let (rows, skipped) = edge_rows(&c, 1_700_000_000, &answers);
        assert_eq!(skipped, 0);
        let find = |caller: &str, callee: &str| {
            rows.iter()
                .find(|r| &*r.key.caller == caller && &*r.key.callee == callee)
                .unwrap_or_else(|| panic!("no {caller} -> {callee} in {rows:#?}"))
        };
        assert_eq!(rows.len(), 5, "{rows:#?}");
        assert!(rows.iter().all(|r| r.start == 1_700_000_000));
        assert!(rows.iter().all(|r| r.stats.fan_out.is_empty()));

        let user = find("user", "frontend");
        assert_eq!(
            (user.key.caller_kind, user.key.callee_kind),
            (NodeKind::User, NodeKind::Service)
        );
        assert_eq!(user.stats.calls.requests, 40.0);
        assert_eq!(user.stats.calls.duration_count, 0.0);
        assert!(user.stats.calls.buckets.is_empty());

        let cart = find("frontend", "cart");
        assert_eq!(cart.key.caller_kind, NodeKind::Service);
        assert_eq!(cart.key.callee_kind, NodeKind::Service);
        assert_eq!(
            (cart.key.mode, &*cart.key.protocol),
            (Mode::Sync, "unknown")
        );
        assert_eq!(
            (
                &*cart.key.caller_version,
                &*cart.key.environment,
                &*cart.key.operation
            ),
            ("", "", "")
        );
        let calls = &cart.stats.calls;
        assert_eq!((calls.requests, calls.errors), (100.0, 10.0));
        assert_eq!(
            (calls.duration_sum_seconds, calls.duration_count),
            (5.5, 100.0)
        );
        assert_eq!(
            calls.buckets,
            [
                (0.05, 80.0),
                (0.1, 90.0),
                (0.5, 90.0),
                (f64::INFINITY, 100.0)
            ]
        );
        let p95 = calls.quantile(0.95).unwrap();
        assert_eq!(p95, 0.5, "the rank falls in +Inf: the highest finite bound");

        let db = find("cart", "postgres");
        assert_eq!(db.key.callee_kind, NodeKind::Database);
        assert_eq!((db.key.mode, &*db.key.protocol), (Mode::Sync, "database"));
        // Without `+Inf` from Prometheus, it is added with the calls.
        assert_eq!(
            db.stats.calls.buckets,
            [(0.01, 30.0), (f64::INFINITY, 30.0)]
        );
        assert_eq!(db.stats.calls.duration_sum_seconds, 0.0);

        let mail = find("orders", "mail");
        assert_eq!(mail.key.callee_kind, NodeKind::Service);
        assert_eq!(
            (mail.key.mode, &*mail.key.protocol),
            (Mode::Async, "messaging")
        );
        assert_eq!(mail.stats.calls.errors, 5.0, "errors never exceed calls");

        let redis = find("cart", "10.0.0.9:6379");
        assert_eq!(redis.key.callee_kind, NodeKind::Virtual);
    }

    #[test]
    fn series_without_names_or_with_huge_ones_are_skipped_and_counted() {
        let c = config("client_label = \"src\"\nserver_label = \"dst\"");
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        let ok = "y".repeat(MAX_NAME_BYTES);
        let answers = Answers {
            requests: vec![
                sample(&[("dst", "cart")], 5.0),
                sample(&[("src", "a"), ("dst", "")], 5.0),
                sample(&[("src", "a"), ("dst", &long)], 5.0),
                sample(&[("src", "a"), ("dst", &ok)], 5.0),
                // The default labels mean nothing once others are configured.
                sample(&[("client", "a"), ("server", "b")], 5.0),
            ],
            failed: vec![sample(&[("dst", "cart")], 1.0)],
            buckets: vec![sample(&[("dst", "cart"), ("le", "+Inf")], 5.0)],
            ..Answers::default()
        };
        let (rows, skipped) = edge_rows(&c, 60, &answers);
        assert_eq!(rows.len(), 1);
        assert_eq!(&*rows[0].key.callee, ok.as_str());
        // The same series in several answers counts once.
        assert_eq!(skipped, 4);
    }

    #[test]
    fn buckets_due_are_bounded_after_an_outage() {
        assert_eq!(due_buckets(120, 120, 60), (vec![], 0));
        assert_eq!(due_buckets(120, 60, 60), (vec![], 0));
        assert_eq!(due_buckets(120, 240, 60), (vec![180, 240], 0));
        let (ends, given_up) = due_buckets(0, 100 * 60, 60);
        assert_eq!(given_up, 40);
        assert_eq!(ends.len(), MAX_CATCH_UP_BUCKETS as usize);
        assert_eq!((ends[0], *ends.last().unwrap()), (41 * 60, 100 * 60));
    }
}
