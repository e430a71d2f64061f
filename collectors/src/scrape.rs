//! Scraping: every instance's metrics, the way Prometheus scrapes them, and its health
//! URL on the same schedule. One task per target, started with a jitter drawn from the
//! target's URL so starts spread over the interval; each scrape has its own timeout and
//! limits, so a target that hangs, trickles, sends garbage or a gigabyte fails its own
//! scrape and never delays another.
//!
//! The scraper knows nothing of the catalog or the database: it is given target
//! specifications ([`TargetSpec`], kept current through a `watch` channel) and sends a
//! [`ScrapeEvent`] per scrape. The samples never leave the scrape: the request series
//! are reduced to statistics ([`seam_health::RequestStats`]) there.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use seam_exposition::{Entry, Format, Parser};
use seam_health::{Coverage, InstanceKey, Matcher, RedMetric, RequestStats, SeriesMemory};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::outbound::{OutboundError, OutboundPolicy};

/// What Prometheus 2 sends, so targets that negotiate answer Seam as they answer it.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Bodies past this many bytes are parsed on a blocking thread, not the async runtime.
const BLOCKING_PARSE_BYTES: usize = 256 * 1024;

/// `[collectors.scrape]`: scraping the metrics and probing the health URL of every
/// instance the catalog declares, plus static targets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    /// Whether Seam scrapes at all.
    pub enabled: bool,
    /// Seconds between two scrapes of a target.
    pub interval_secs: f64,
    /// Seconds a scrape (and a probe) may take; never more than the interval.
    pub timeout_secs: f64,
    /// Largest body accepted, in bytes after decompression; a larger one fails the scrape.
    pub body_size_limit_bytes: usize,
    /// Most samples a scrape may carry; more fails the scrape.
    pub sample_limit: usize,
    /// Most labels a sample may carry; more fails the scrape.
    pub label_limit: usize,
    /// Longest label name, in bytes; longer fails the scrape.
    pub label_name_length_limit: usize,
    /// Longest label value, in bytes; longer fails the scrape.
    pub label_value_length_limit: usize,
    /// Most targets scraped at once; targets past it are not scraped and counted.
    pub max_targets: usize,
    /// Request-metric mappings tried before the built-in ones, for every service.
    pub red: Vec<RedMetric>,
    /// Targets that are not in the catalog.
    pub static_targets: Vec<StaticTarget>,
    /// Per-service settings, by service name.
    pub services: BTreeMap<String, ServiceScrape>,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        ScrapeConfig {
            enabled: true,
            interval_secs: 15.0,
            timeout_secs: 10.0,
            body_size_limit_bytes: 16 * 1024 * 1024,
            sample_limit: 200_000,
            label_limit: 64,
            label_name_length_limit: 256,
            label_value_length_limit: 4096,
            max_targets: 10_000,
            red: Vec::new(),
            static_targets: Vec::new(),
            services: BTreeMap::new(),
        }
    }
}

/// A target named in the configuration rather than the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticTarget {
    /// The service the target belongs to (need not be in the catalog).
    pub service: String,
    /// The metrics URL.
    pub url: String,
    /// The health URL probed beside it, if any.
    #[serde(default)]
    pub health_url: Option<String>,
}

/// `[collectors.scrape.services.NAME]`: settings for one service's targets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceScrape {
    /// Seconds between scrapes, instead of the global interval.
    pub interval_secs: Option<f64>,
    /// Scrape timeout in seconds, instead of the global one.
    pub timeout_secs: Option<f64>,
    /// Request-metric mappings tried first for this service.
    #[serde(default)]
    pub red: Vec<RedMetric>,
}

/// Why a scrape configuration cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeConfigError {
    #[error("collectors.scrape{at}: {what} must be a positive number of seconds, not {value}")]
    Seconds {
        at: String,
        what: &'static str,
        value: f64,
    },
    #[error("collectors.scrape{at}.red {name:?}: `requests` must name a metric and `duration_scale` be a positive number")]
    Mapping { at: String, name: String },
}

impl ScrapeConfig {
    /// Checks the intervals and timeouts.
    pub fn validate(&self) -> Result<(), ScrapeConfigError> {
        let check = |at: String, what: &'static str, value: f64| {
            if value.is_finite() && value > 0.0 && value <= 86_400.0 {
                Ok(())
            } else {
                Err(ScrapeConfigError::Seconds { at, what, value })
            }
        };
        check(String::new(), "interval_secs", self.interval_secs)?;
        check(String::new(), "timeout_secs", self.timeout_secs)?;
        let mappings = |at: &str, red: &[RedMetric]| {
            for metric in red {
                if metric.requests.is_empty()
                    || !(metric.duration_scale.is_finite() && metric.duration_scale > 0.0)
                {
                    return Err(ScrapeConfigError::Mapping {
                        at: at.to_owned(),
                        name: metric.name.clone(),
                    });
                }
            }
            Ok(())
        };
        mappings("", &self.red)?;
        for (name, service) in &self.services {
            let at = format!(".services.{name}");
            mappings(&at, &service.red)?;
            if let Some(value) = service.interval_secs {
                check(at.clone(), "interval_secs", value)?;
            }
            if let Some(value) = service.timeout_secs {
                check(at, "timeout_secs", value)?;
            }
        }
        Ok(())
    }

    /// The interval and timeout for a service's targets; the timeout never exceeds the
    /// interval.
    pub fn schedule(&self, service: &str) -> (Duration, Duration) {
        let own = self.services.get(service);
        let interval = own
            .and_then(|s| s.interval_secs)
            .unwrap_or(self.interval_secs);
        let timeout = own
            .and_then(|s| s.timeout_secs)
            .unwrap_or(self.timeout_secs);
        let interval = Duration::from_secs_f64(interval.clamp(0.001, 86_400.0));
        let timeout = Duration::from_secs_f64(timeout.clamp(0.001, 86_400.0)).min(interval);
        (interval, timeout)
    }

    /// The request-metric mappings for a service: its own, the global ones, the built-in.
    pub fn red_metrics(&self, service: &str) -> Vec<RedMetric> {
        let own = self
            .services
            .get(service)
            .map(|s| s.red.as_slice())
            .unwrap_or(&[]);
        own.iter()
            .chain(&self.red)
            .cloned()
            .chain(RedMetric::standard())
            .collect()
    }

    /// Target specifications for the instances the catalog declares, `(service, base
    /// URL, metrics URL, health URL)`, and the static targets.
    pub fn targets<'a>(
        &self,
        catalog: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a str)>,
    ) -> Vec<TargetSpec> {
        let mut targets: Vec<TargetSpec> = catalog
            .into_iter()
            .map(|(service, instance, metrics_url, health_url)| {
                self.spec(service, instance, metrics_url, Some(health_url))
            })
            .chain(self.static_targets.iter().map(|target| {
                self.spec(
                    &target.service,
                    &target.url,
                    &target.url,
                    target.health_url.as_deref(),
                )
            }))
            .collect();
        targets.sort_by(|a, b| a.key.cmp(&b.key));
        targets.dedup_by(|a, b| a.key == b.key);
        targets
    }

    fn spec(
        &self,
        service: &str,
        instance: &str,
        url: &str,
        health_url: Option<&str>,
    ) -> TargetSpec {
        let (interval, timeout) = self.schedule(service);
        TargetSpec {
            key: InstanceKey {
                service: service.to_owned(),
                instance: instance.to_owned(),
            },
            url: url.to_owned(),
            health_url: health_url.map(str::to_owned),
            interval,
            timeout,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            body_bytes: self.body_size_limit_bytes,
            samples: self.sample_limit,
            labels: self.label_limit,
            label_name_bytes: self.label_name_length_limit,
            label_value_bytes: self.label_value_length_limit,
        }
    }
}

/// One target: what to scrape, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub key: InstanceKey,
    pub url: String,
    pub health_url: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// Limits that fail a scrape as a whole, as Prometheus's do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub body_bytes: usize,
    pub samples: usize,
    pub labels: usize,
    pub label_name_bytes: usize,
    pub label_value_bytes: usize,
}

/// Why a scrape failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    #[error("{0}")]
    Policy(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("server returned HTTP {0}")]
    Status(u16),
    #[error("scrape took longer than the timeout of {0:.3} s")]
    Timeout(f64),
    #[error("body exceeds the limit of {0} bytes")]
    BodySize(usize),
    #[error("more than {0} samples (sample_limit)")]
    SampleLimit(usize),
    #[error("sample {name} has more than {limit} labels (label_limit)")]
    LabelLimit { name: String, limit: usize },
    #[error("sample {name} has a label {what} longer than {limit} bytes")]
    LabelLength {
        name: String,
        what: &'static str,
        limit: usize,
    },
    #[error("invalid exposition: {0}")]
    Parse(String),
}

impl ScrapeError {
    /// A short reason, a bounded label value for Seam's own metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ScrapeError::Policy(_) => "policy",
            ScrapeError::Request(_) => "request",
            ScrapeError::Status(_) => "http_status",
            ScrapeError::Timeout(_) => "timeout",
            ScrapeError::BodySize(_) => "body_size_limit",
            ScrapeError::SampleLimit(_) => "sample_limit",
            ScrapeError::LabelLimit { .. } => "label_limit",
            ScrapeError::LabelLength { .. } => "label_length_limit",
            ScrapeError::Parse(_) => "parse",
        }
    }
}

impl From<OutboundError> for ScrapeError {
    fn from(err: OutboundError) -> Self {
        ScrapeError::Policy(err.to_string())
    }
}

/// What one scrape found.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub at: DateTime<Utc>,
    pub duration: Duration,
    /// Samples in the exposition (0 when it failed).
    pub samples: usize,
    pub error: Option<ScrapeError>,
    /// Requests since the previous successful scrape.
    pub requests: RequestStats,
    /// Which standard request metrics the target exposes.
    pub coverage: Coverage,
}

impl Scrape {
    pub fn up(&self) -> bool {
        self.error.is_none()
    }
}

/// What one health probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub up: bool,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// What the scraper reports.
#[derive(Debug, Clone)]
pub enum ScrapeEvent {
    /// A target was scraped (and probed, when it has a health URL).
    Scraped {
        target: Arc<TargetSpec>,
        scrape: Scrape,
        probe: Option<Probe>,
    },
    /// A target is no longer scraped.
    Removed { key: InstanceKey },
    /// The target list was cut to `max_targets`.
    OverLimit { dropped: usize },
}

/// Scrapes the targets `targets` holds, following its changes: within one interval of a
/// change, new targets start and dropped ones stop. Stops when `shutdown` turns `true`
/// or `events` closes.
pub async fn run(
    config: ScrapeConfig,
    policy: OutboundPolicy,
    mut targets: watch::Receiver<Vec<TargetSpec>>,
    events: mpsc::Sender<ScrapeEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let shared = match ScrapeClient::new(policy, config.limits()) {
        Ok(client) => Arc::new(client),
        Err(err) => {
            tracing::error!(error = %err, "scraper cannot build its HTTP client");
            return;
        }
    };
    let mut running: HashMap<InstanceKey, (Arc<TargetSpec>, JoinHandle<()>)> = HashMap::new();
    loop {
        let mut wanted = targets.borrow_and_update().clone();
        if wanted.len() > config.max_targets {
            let dropped = wanted.len() - config.max_targets;
            wanted.truncate(config.max_targets);
            tracing::warn!(
                dropped,
                limit = config.max_targets,
                "more scrape targets than max_targets"
            );
            let _ = events.send(ScrapeEvent::OverLimit { dropped }).await;
        }
        let wanted: HashMap<InstanceKey, TargetSpec> = wanted
            .into_iter()
            .map(|spec| (spec.key.clone(), spec))
            .collect();
        let gone: Vec<InstanceKey> = running
            .iter()
            .filter(|(key, (spec, _))| wanted.get(*key) != Some(spec.as_ref()))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            if let Some((_, task)) = running.remove(&key) {
                task.abort();
            }
            if !wanted.contains_key(&key)
                && events.send(ScrapeEvent::Removed { key }).await.is_err()
            {
                break;
            }
        }
        for (key, spec) in wanted {
            if running.contains_key(&key) {
                continue;
            }
            let matcher = Arc::new(Matcher::new(config.red_metrics(&key.service)));
            let spec = Arc::new(spec);
            let task = tokio::spawn(target_loop(
                shared.clone(),
                spec.clone(),
                matcher,
                events.clone(),
            ));
            running.insert(key, (spec, task));
        }
        tokio::select! {
            changed = targets.changed() => if changed.is_err() { break },
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = events.closed() => break,
        }
    }
    for (_, (_, task)) in running {
        task.abort();
    }
}

/// The HTTP client every scrape and probe shares, with the policy and limits they obey.
pub struct ScrapeClient {
    client: reqwest::Client,
    policy: OutboundPolicy,
    limits: Limits,
}

impl ScrapeClient {
    /// A client whose connections and redirects obey `policy`; it asks for gzip and
    /// decompresses while reading, so the body limit counts decompressed bytes.
    pub fn new(policy: OutboundPolicy, limits: Limits) -> Result<ScrapeClient, reqwest::Error> {
        let client = policy
            .client_builder()
            .user_agent(concat!("seam/", env!("CARGO_PKG_VERSION")))
            .gzip(true)
            .build()?;
        Ok(ScrapeClient {
            client,
            policy,
            limits,
        })
    }
}

/// The offset within the interval at which a target is scraped: drawn from its URL, so
/// targets spread over the interval and a target keeps its slot across restarts, as
/// Prometheus does.
pub fn jitter(url: &str, interval: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    url.hash(&mut hasher);
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(hasher.finish() % nanos)
}

async fn target_loop(
    shared: Arc<ScrapeClient>,
    spec: Arc<TargetSpec>,
    matcher: Arc<Matcher>,
    events: mpsc::Sender<ScrapeEvent>,
) {
    let start = tokio::time::Instant::now() + jitter(&spec.url, spec.interval);
    let mut ticker = tokio::time::interval_at(start, spec.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut memory = SeriesMemory::default();
    loop {
        ticker.tick().await;
        let ((mut scrape, scraped), probe) = tokio::join!(
            scrape_once(&shared, &spec, matcher.clone()),
            probe_once(&shared, &spec),
        );
        if let Some(scraped) = scraped {
            scrape.coverage = scraped.coverage.clone();
            scrape.requests = memory.advance(scraped);
        }
        let event = ScrapeEvent::Scraped {
            target: spec.clone(),
            scrape,
            probe,
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// Scrapes a target once: fetch within the timeout, then parse under the limits. Returns
/// the scrape's outcome and, when it succeeded, its request series.
pub async fn scrape_once(
    shared_client: &ScrapeClient,
    spec: &TargetSpec,
    matcher: Arc<Matcher>,
) -> (Scrape, Option<seam_health::Scraped>) {
    let at = Utc::now();
    let started = Instant::now();
    let fetched = tokio::time::timeout(spec.timeout, fetch(shared_client, spec)).await;
    let result = match fetched {
        Err(_) => Err(ScrapeError::Timeout(spec.timeout.as_secs_f64())),
        Ok(Err(err)) => Err(err),
        Ok(Ok((body, format))) => {
            let limits = shared_client.limits;
            if body.len() > BLOCKING_PARSE_BYTES {
                tokio::task::spawn_blocking(move || parse(&body, format, &matcher, &limits))
                    .await
                    .unwrap_or_else(|err| {
                        Err(ScrapeError::Parse(format!("parser task failed: {err}")))
                    })
            } else {
                parse(&body, format, &matcher, &limits)
            }
        }
    };
    let duration = started.elapsed();
    match result {
        Ok((samples, scraped)) => (
            Scrape {
                at,
                duration,
                samples,
                error: None,
                requests: RequestStats::default(),
                coverage: Coverage::default(),
            },
            Some(scraped),
        ),
        Err(error) => (
            Scrape {
                at,
                duration,
                samples: 0,
                error: Some(error),
                requests: RequestStats::default(),
                coverage: Coverage::default(),
            },
            None,
        ),
    }
}

/// Fetches the exposition: Prometheus's Accept header, the body read chunk by chunk
/// (decompressed) up to the limit.
async fn fetch(
    scraper: &ScrapeClient,
    spec: &TargetSpec,
) -> Result<(Vec<u8>, Format), ScrapeError> {
    let url = scraper.policy.check(&spec.url)?;
    let mut response = scraper
        .client
        .get(url)
        .header("accept", ACCEPT)
        .header(
            "x-prometheus-scrape-timeout-seconds",
            format!("{:.3}", spec.timeout.as_secs_f64()),
        )
        .send()
        .await
        .map_err(request_error)?;
    if !response.status().is_success() {
        return Err(ScrapeError::Status(response.status().as_u16()));
    }
    let limit = scraper.limits.body_bytes;
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(ScrapeError::BodySize(limit));
    }
    let format = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map_or(Format::Prometheus, Format::from_content_type);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > limit {
            return Err(ScrapeError::BodySize(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, format))
}

fn request_error(err: reqwest::Error) -> ScrapeError {
    ScrapeError::Request(crate::outbound::error_chain(&err))
}

/// Parses a whole exposition under the limits, feeding the request series to `matcher`;
/// the first error fails the scrape as a whole (nothing of it is kept).
pub fn parse(
    body: &[u8],
    format: Format,
    matcher: &Matcher,
    limits: &Limits,
) -> Result<(usize, seam_health::Scraped), ScrapeError> {
    let mut series = matcher.scrape();
    let mut samples = 0usize;
    for entry in Parser::new(body, format) {
        let entry = entry.map_err(|err| ScrapeError::Parse(err.to_string()))?;
        let Entry::Sample(sample) = entry else {
            continue;
        };
        samples += 1;
        if samples > limits.samples {
            return Err(ScrapeError::SampleLimit(limits.samples));
        }
        if sample.labels.len() > limits.labels {
            return Err(ScrapeError::LabelLimit {
                name: bounded(&sample.name),
                limit: limits.labels,
            });
        }
        for (name, value) in sample.labels.iter() {
            let too_long = if name.len() > limits.label_name_bytes {
                Some(("name", limits.label_name_bytes))
            } else if value.len() > limits.label_value_bytes {
                Some(("value", limits.label_value_bytes))
            } else {
                None
            };
            if let Some((what, limit)) = too_long {
                return Err(ScrapeError::LabelLength {
                    name: bounded(&sample.name),
                    what,
                    limit,
                });
            }
        }
        series.sample(&sample);
    }
    Ok((samples, series.finish()))
}

/// A metric name cut for an error message.
fn bounded(name: &str) -> String {
    match name.char_indices().nth(128) {
        Some((at, _)) => format!("{}…", &name[..at]),
        None => name.to_owned(),
    }
}

/// Probes the health URL: any 2xx answer within the timeout is up. The body is not read.
async fn probe_once(scraper: &ScrapeClient, spec: &TargetSpec) -> Option<Probe> {
    let url = spec.health_url.as_deref()?;
    let probe = async {
        let url = scraper.policy.check(url)?;
        let response = scraper
            .client
            .get(url)
            .send()
            .await
            .map_err(request_error)?;
        Ok::<_, ScrapeError>(response.status().as_u16())
    };
    Some(match tokio::time::timeout(spec.timeout, probe).await {
        Ok(Ok(status)) => Probe {
            up: (200..300).contains(&status),
            status: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
        },
        Ok(Err(err)) => Probe {
            up: false,
            status: None,
            error: Some(err.to_string()),
        },
        Err(_) => Probe {
            up: false,
            status: None,
            error: Some(ScrapeError::Timeout(spec.timeout.as_secs_f64()).to_string()),
        },
    })
}
