//! Runtime health: the scraper's targets from the catalog snapshot, its reports recorded
//! in per-minute buckets ([`seam_health::Recorder`]), closed buckets written to the store
//! in batches, downsampling and retention, and the current [`HealthReport`].
//!
//! Time comes from a [`Clock`], so tests drive minutes without waiting for them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seam_collectors::prometheus::SourceEvent;
use seam_collectors::scrape::{Probe, ScrapeConfig, ScrapeEvent, TargetSpec};
use seam_health::{
    BucketRow, Coverage, HealthReport, InstanceKey, Recorder, ServiceHealth, ServiceTopology,
    Thresholds,
};
use seam_snapshot::Snapshot;
use seam_store::SharedStore;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::metrics::{Metrics, ScrapeCompleted};

/// `[health]`: how scrapes become health states, and how long their statistics stay.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds of recent traffic the current state is computed over (at most a day: the
    /// window is held in memory per instance).
    pub window_secs: i64,
    /// Size of a stored bucket in seconds: a minute; smaller only for tests and demos.
    pub bucket_secs: i64,
    /// Days statistics are kept.
    pub retention_days: i64,
    /// Hours after which minute buckets are summed into hour buckets; at least 2 (the
    /// last hour is read from memory, which must not overlap an hour bucket).
    pub downsample_after_hours: i64,
    /// Error ratios for degraded and failing (Kiali's defaults), and the traffic share
    /// under which a child's state counts at most as degraded in a roll-up.
    pub thresholds: Thresholds,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            window_secs: 300,
            bucket_secs: 60,
            retention_days: 30,
            downsample_after_hours: 48,
            thresholds: Thresholds::default(),
        }
    }
}

/// Unix seconds now; injectable.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| Utc::now().timestamp())
}

/// What Seam knows of one target, for `/api/v1/targets` and the targets page.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    pub key: InstanceKey,
    pub url: String,
    pub health_url: Option<String>,
    pub interval: Duration,
    /// `None` before the first scrape.
    pub up: Option<bool>,
    pub last_scrape: Option<DateTime<Utc>>,
    pub duration: Option<Duration>,
    pub samples: usize,
    pub last_error: Option<String>,
    pub probe: Option<Probe>,
    pub coverage: Coverage,
}

/// A scrape's or probe's result as Prometheus names a target's health: `up`, `down`, or
/// `unknown` before the first.
pub fn health_name(up: Option<bool>) -> &'static str {
    match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    }
}

struct Inner {
    recorder: Recorder,
    /// Instances whose requests come from server spans (keyed `otlp:<service.instance.id>`),
    /// by service: used where a service has no scraped request metrics.
    span_instances: BTreeMap<String, std::collections::BTreeSet<String>>,
    targets: BTreeMap<InstanceKey, TargetStatus>,
    /// Closed buckets not yet in the store (a write failed): retried with the next batch.
    unwritten: Vec<BucketRow>,
}

/// The health engine's shared state.
pub struct Health {
    config: HealthConfig,
    clock: Clock,
    inner: Mutex<Inner>,
    metrics: Metrics,
}

/// Most closed buckets held for a later write while the store fails; past it the oldest
/// are dropped and counted.
const MAX_UNWRITTEN: usize = 200_000;

impl Health {
    pub fn new(config: HealthConfig, clock: Clock, metrics: Metrics) -> Arc<Health> {
        // Memory holds the current window plus one bucket, and at least an hour so the
        // service page's recent plot needs no database read.
        let keep = (3600.max(config.window_secs) / config.bucket_secs.max(1)) as usize + 2;
        Arc::new(Health {
            inner: Mutex::new(Inner {
                recorder: Recorder::new(config.bucket_secs, keep),
                span_instances: BTreeMap::new(),
                targets: BTreeMap::new(),
                unwritten: Vec::new(),
            }),
            config,
            clock,
            metrics,
        })
    }

    pub fn config(&self) -> &HealthConfig {
        &self.config
    }

    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; go on with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records one scraper event.
    pub fn record(&self, event: ScrapeEvent) {
        let now = self.now();
        match event {
            ScrapeEvent::Scraped {
                target,
                scrape,
                probe,
            } => {
                ScrapeCompleted {
                    target: &target.url,
                    service: &target.key.service,
                    instance: &target.key.instance,
                    at: scrape.at.timestamp_millis() as f64 / 1000.0,
                    duration: scrape.duration,
                    samples: scrape.samples,
                    error: scrape.error.as_ref(),
                }
                .emit(&self.metrics);
                let mut inner = self.lock();
                let changed =
                    inner.targets.get(&target.key).map(|t| t.up) != Some(Some(scrape.up()));
                inner
                    .recorder
                    .record_scrape(&target.key, now, scrape.up(), &scrape.requests);
                if let Some(probe) = &probe {
                    inner.recorder.record_probe(&target.key, now, probe.up);
                }
                inner.targets.insert(
                    target.key.clone(),
                    TargetStatus {
                        key: target.key.clone(),
                        url: target.url.clone(),
                        health_url: target.health_url.clone(),
                        interval: target.interval,
                        up: Some(scrape.up()),
                        last_scrape: Some(scrape.at),
                        duration: Some(scrape.duration),
                        samples: scrape.samples,
                        last_error: scrape.error.as_ref().map(ToString::to_string),
                        probe,
                        coverage: scrape.coverage,
                    },
                );
                if changed {
                    self.count_targets(&inner);
                }
            }
            ScrapeEvent::Removed { key } => {
                self.metrics.forget_target(&key.service, &key.instance);
                let mut inner = self.lock();
                inner.recorder.forget(&key);
                inner.targets.remove(&key);
                self.count_targets(&inner);
            }
            ScrapeEvent::OverLimit { dropped } => {
                self.metrics.scrape_targets_dropped(dropped);
            }
        }
    }

    /// Records one bucket the Prometheus source read: the instance key is mapped onto
    /// the catalog's (Prometheus's `instance` label is `host:port`, the catalog's a base
    /// URL).
    pub fn record_source(&self, event: SourceEvent, snapshot: &Snapshot) {
        match event {
            SourceEvent::Bucket {
                key,
                start,
                up,
                stats,
                mapping,
            } => {
                let key = catalog_key(snapshot, key);
                let up = up.unwrap_or(true);
                let mut inner = self.lock();
                inner.recorder.record_scrape(&key, start, up, &stats);
                if let Some(status) = inner.targets.get_mut(&key) {
                    status.coverage.mapping = mapping;
                }
            }
            SourceEvent::Targets(targets) => {
                let mut inner = self.lock();
                inner.targets = targets
                    .into_iter()
                    .map(|target| {
                        let key = catalog_key(snapshot, target.key);
                        let mapping = inner
                            .targets
                            .get(&key)
                            .and_then(|t| t.coverage.mapping.clone());
                        let status = TargetStatus {
                            key: key.clone(),
                            url: target.url,
                            health_url: None,
                            interval: Duration::ZERO,
                            up: match target.health.as_str() {
                                "up" => Some(true),
                                "down" => Some(false),
                                _ => None,
                            },
                            last_scrape: target
                                .last_scrape
                                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                                .map(|t| t.with_timezone(&Utc)),
                            duration: target
                                .duration_seconds
                                .filter(|d| d.is_finite() && *d >= 0.0)
                                .map(Duration::from_secs_f64),
                            samples: 0,
                            last_error: target.last_error,
                            probe: None,
                            coverage: Coverage {
                                mapping,
                                ..Coverage::default()
                            },
                        };
                        (key, status)
                    })
                    .collect();
                self.count_targets(&inner);
            }
            SourceEvent::Failed(reason) => {
                tracing::warn!(error = %reason, "prometheus source round failed");
                self.metrics.source_failed();
            }
        }
    }

    /// Notes the targets the scraper was given, so that targets not scraped yet show as
    /// unknown rather than missing.
    pub fn set_targets(&self, specs: &[TargetSpec]) {
        let mut inner = self.lock();
        let wanted: std::collections::BTreeSet<&InstanceKey> =
            specs.iter().map(|spec| &spec.key).collect();
        inner.targets.retain(|key, _| wanted.contains(key));
        for spec in specs {
            inner
                .targets
                .entry(spec.key.clone())
                .or_insert_with(|| TargetStatus {
                    key: spec.key.clone(),
                    url: spec.url.clone(),
                    health_url: spec.health_url.clone(),
                    interval: spec.interval,
                    up: None,
                    last_scrape: None,
                    duration: None,
                    samples: 0,
                    last_error: None,
                    probe: None,
                    coverage: Coverage::default(),
                });
        }
        self.count_targets(&inner);
    }

    /// Sets the targets-by-health gauges; called when a target's health changes.
    fn count_targets(&self, inner: &Inner) {
        let (up, down, unknown) = target_counts(inner.targets.values());
        self.metrics.scrape_targets(up, down, unknown);
    }

    /// How many targets are up, down and not scraped yet.
    pub fn target_counts(&self) -> (i64, i64, i64) {
        target_counts(self.lock().targets.values())
    }

    /// The standard metrics of every service with a target scraped up.
    pub fn standard_metrics(&self) -> BTreeMap<String, StandardMetrics> {
        standard_metrics(self.lock().targets.values())
    }

    /// Every target's status, ordered by service and instance.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.lock().targets.values().cloned().collect()
    }

    /// One service's health over the configured window, without building everyone's;
    /// `None` when neither the catalog nor a target knows the name.
    pub fn service_report(&self, snapshot: &Snapshot, name: &str) -> Option<ServiceHealth> {
        let now = self.now();
        let inner = self.lock();
        let spans = span_keys(&inner, Some(name));
        let own = of_service(&inner.targets, name)
            .map(|(key, _)| key)
            .chain(spans.iter());
        let topology = topology(snapshot.service(name).into_iter(), own);
        let mut report = HealthReport::build(
            &inner.recorder,
            &self.config.thresholds,
            &topology,
            now,
            self.config.window_secs,
        );
        report.services.pop()
    }

    /// Records request statistics derived from server spans received at `now`, per
    /// service and `service.instance.id`.
    pub fn record_spans(
        &self,
        stats: BTreeMap<(Arc<str>, Arc<str>), seam_health::RequestStats>,
        now: i64,
    ) {
        let mut inner = self.lock();
        for ((service, instance), stats) in stats {
            let instance = if instance.is_empty() {
                "otlp".to_owned()
            } else {
                format!("otlp:{instance}")
            };
            let key = InstanceKey {
                service: service.to_string(),
                instance,
            };
            inner.recorder.record_requests(&key, now, &stats);
            let known = inner.span_instances.entry(key.service).or_default();
            if known.len() < 1000 {
                known.insert(key.instance);
            }
        }
    }

    /// One service's targets, by instance.
    pub fn service_targets(&self, name: &str) -> Vec<TargetStatus> {
        of_service(&self.lock().targets, name)
            .map(|(_, status)| status.clone())
            .collect()
    }

    /// The health of everything over the configured window, for the catalog `snapshot`
    /// plus the services of static targets.
    pub fn report(&self, snapshot: &Snapshot) -> HealthReport {
        let now = self.now();
        let inner = self.lock();
        let spans = span_keys(&inner, None);
        let topology = topology(
            snapshot.services(),
            inner.targets.keys().chain(spans.iter()),
        );
        HealthReport::build(
            &inner.recorder,
            &self.config.thresholds,
            &topology,
            now,
            self.config.window_secs,
        )
    }

    /// The open bucket's and recent closed buckets' statistics of one service's instance
    /// (`instance` empty: all of its instances), by bucket start, from memory.
    pub fn recent(&self, service: &str, instance: &str, from: i64) -> Vec<BucketRow> {
        let inner = self.lock();
        inner.recorder.recent(service, instance, from)
    }

    /// Takes the buckets closed by now and writes them in one batch; a failed write keeps
    /// them for the next batch. Returns how many rows were written.
    pub async fn flush(&self, store: &SharedStore) -> usize {
        let now = self.now();
        let batch = {
            let mut inner = self.lock();
            let mut batch = std::mem::take(&mut inner.unwritten);
            batch.extend(inner.recorder.take_closed(now));
            // Their closed buckets are in the batch: instances no target names any more
            // and idle for the memory's length go.
            let Inner {
                recorder,
                targets,
                span_instances,
                ..
            } = &mut *inner;
            let horizon = now - recorder.memory_seconds();
            recorder.forget_idle(horizon, |key| targets.contains_key(key));
            // Span-derived instances that sent nothing for as long go too.
            span_instances.retain(|service, instances| {
                instances.retain(|instance| {
                    recorder.knows(&InstanceKey {
                        service: service.clone(),
                        instance: instance.clone(),
                    })
                });
                !instances.is_empty()
            });
            batch
        };
        if batch.is_empty() {
            return 0;
        }
        match store.write_health(self.config.bucket_secs, &batch).await {
            Ok(()) => batch.len(),
            Err(err) => {
                tracing::warn!(error = %err, rows = batch.len(), "health buckets not written; retrying with the next batch");
                let mut inner = self.lock();
                let mut kept = batch;
                kept.append(&mut inner.unwritten);
                if kept.len() > MAX_UNWRITTEN {
                    let dropped = kept.len() - MAX_UNWRITTEN;
                    kept.drain(..dropped);
                    tracing::error!(
                        dropped,
                        "health buckets dropped: the store failed for too long"
                    );
                }
                inner.unwritten = kept;
                0
            }
        }
    }

    /// Folds old minutes into hours and removes what is past retention.
    pub async fn maintain(&self, store: &SharedStore) {
        let now = self.now();
        let downsample_before = now - self.config.downsample_after_hours * 3600;
        let prune_before = now - self.config.retention_days * 86_400;
        match store.downsample_health(downsample_before).await {
            Ok(folded) if folded > 0 => tracing::info!(folded, "health minutes folded into hours"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "health downsampling failed"),
        }
        match store.prune_health(prune_before).await {
            Ok(removed) if removed > 0 => {
                tracing::info!(removed, "health buckets past retention removed")
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "health retention failed"),
        }
    }
}

/// The span-derived instances to report on (of one service, or all): those of services
/// none of whose targets exposes a standard request metric. Scraped metrics win where a
/// service has them; spans stand in where it has none.
fn span_keys(inner: &Inner, service: Option<&str>) -> Vec<InstanceKey> {
    let scraped: std::collections::BTreeSet<&str> = inner
        .targets
        .values()
        .filter(|t| t.coverage.mapping.is_some())
        .map(|t| t.key.service.as_str())
        .collect();
    inner
        .span_instances
        .iter()
        .filter(|(name, _)| service.is_none_or(|s| s == name.as_str()))
        .filter(|(name, _)| !scraped.contains(name.as_str()))
        .flat_map(|(name, instances)| {
            instances.iter().map(move |instance| InstanceKey {
                service: name.clone(),
                instance: instance.clone(),
            })
        })
        .collect()
}

/// The services to report on: the catalog's, with their instances keyed as the scraper
/// keys them (base URLs), plus services only static targets name.
fn topology<'a>(
    catalog: impl Iterator<Item = &'a seam_snapshot::ServiceView>,
    targets: impl Iterator<Item = &'a InstanceKey>,
) -> Vec<ServiceTopology> {
    let mut services: BTreeMap<String, ServiceTopology> = catalog
        .map(|view| {
            let manifest = &view.manifest;
            (
                manifest.name.clone(),
                ServiceTopology {
                    name: manifest.name.clone(),
                    system: manifest.system.clone(),
                    domain: manifest.domain.clone(),
                    instances: manifest
                        .instances
                        .iter()
                        .map(|instance| instance.base_url.clone())
                        .collect(),
                },
            )
        })
        .collect();
    for key in targets {
        let service = services
            .entry(key.service.clone())
            .or_insert_with(|| ServiceTopology {
                name: key.service.clone(),
                system: None,
                domain: None,
                instances: Vec::new(),
            });
        if !service.instances.contains(&key.instance) {
            service.instances.push(key.instance.clone());
        }
    }
    services.into_values().collect()
}

fn target_counts<'a>(targets: impl Iterator<Item = &'a TargetStatus>) -> (i64, i64, i64) {
    let (mut up, mut down, mut unknown) = (0, 0, 0);
    for status in targets {
        match status.up {
            Some(true) => up += 1,
            Some(false) => down += 1,
            None => unknown += 1,
        }
    }
    (up, down, unknown)
}

/// The entries of one service in a map keyed by instance (service first in the order).
fn of_service<'a, V>(
    map: &'a BTreeMap<InstanceKey, V>,
    service: &'a str,
) -> impl Iterator<Item = (&'a InstanceKey, &'a V)> {
    let first = InstanceKey {
        service: service.to_owned(),
        instance: String::new(),
    };
    map.range(first..)
        .take_while(move |(key, _)| key.service == service)
}

/// Which of the standard request metrics a service exposes, from its targets' last
/// successful scrapes: what the principle checks ask of "standard monitoring".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StandardMetrics {
    /// The mapping its figures are read from (`otel-http`, `prometheus-http`, ...), if any.
    pub found: Option<String>,
    /// What is missing: `request_count` (no standard request metric at all),
    /// `status` (requests without a status label: errors cannot be told),
    /// `duration` (no duration histogram: no latency).
    pub lacks: Vec<&'static str>,
}

/// The standard metrics of every service with a target scraped successfully; a service
/// whose targets were never scraped up is absent (nothing is known yet).
pub fn standard_metrics<'a>(
    targets: impl IntoIterator<Item = &'a TargetStatus>,
) -> BTreeMap<String, StandardMetrics> {
    let mut by_service: BTreeMap<String, StandardMetrics> = BTreeMap::new();
    for target in targets.into_iter().filter(|t| t.up == Some(true)) {
        let coverage = &target.coverage;
        let lacks = match &coverage.mapping {
            None => vec!["request_count", "status", "duration"],
            Some(_) => {
                let mut lacks = Vec::new();
                if !coverage.status {
                    lacks.push("status");
                }
                if !coverage.duration {
                    lacks.push("duration");
                }
                lacks
            }
        };
        let entry = StandardMetrics {
            found: coverage.mapping.clone(),
            lacks,
        };
        // A service counts as covered by its best-covered target.
        match by_service.get(&target.key.service) {
            Some(known) if known.lacks.len() <= entry.lacks.len() => {}
            _ => {
                by_service.insert(target.key.service.clone(), entry);
            }
        }
    }
    by_service
}

/// The catalog's key for an instance Prometheus names `host:port`: the base URL of the
/// service's declared instance at that address, else the label as it is.
fn catalog_key(snapshot: &Snapshot, key: InstanceKey) -> InstanceKey {
    let declared = snapshot.service(&key.service).and_then(|view| {
        view.manifest.instances.iter().find(|instance| {
            [&instance.base_url, &instance.metrics_url]
                .iter()
                .any(|url| host_port(url) == Some(key.instance.as_str()))
        })
    });
    match declared {
        Some(instance) => InstanceKey {
            service: key.service,
            instance: instance.base_url.clone(),
        },
        None => key,
    }
}

/// `host:port` of an http(s) URL, as Prometheus's `instance` label has it.
pub(crate) fn host_port(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

/// Feeds the Prometheus source's events into `health`.
pub async fn consume_source(
    health: Arc<Health>,
    catalog: Arc<seam_store::LiveCatalog>,
    mut events: mpsc::Receiver<SourceEvent>,
) {
    while let Some(event) = events.recv().await {
        health.record_source(event, &catalog.snapshot());
    }
}

/// The scraper's targets for a catalog snapshot.
pub fn targets_for(config: &ScrapeConfig, snapshot: &Snapshot) -> Vec<TargetSpec> {
    config.targets(snapshot.instances().map(|instance| {
        (
            instance.service,
            instance.instance.base_url.as_str(),
            instance.instance.metrics_url.as_str(),
            instance.instance.health_url.as_str(),
        )
    }))
}

/// Keeps the scraper's target list in step with the catalog: a new snapshot (a new
/// revision, a removed service) changes the list, and the scraper starts and stops
/// targets within one interval.
pub async fn publish_targets(
    config: ScrapeConfig,
    health: Arc<Health>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    targets: watch::Sender<Vec<TargetSpec>>,
) {
    loop {
        let specs = targets_for(&config, &snapshots.borrow_and_update());
        health.set_targets(&specs);
        targets.send_if_modified(|current| {
            let changed = *current != specs;
            if changed {
                *current = specs;
            }
            changed
        });
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            _ = targets.closed() => return,
        }
    }
}

/// Records scraper events as they come.
pub async fn consume(health: Arc<Health>, mut events: mpsc::Receiver<ScrapeEvent>) {
    while let Some(event) = events.recv().await {
        health.record(event);
    }
}

/// Writes closed buckets at each bucket boundary, and runs downsampling and retention
/// hourly; on shutdown, writes what has closed (a restart loses at most the open bucket).
pub async fn persist(health: Arc<Health>, store: SharedStore, mut shutdown: watch::Receiver<bool>) {
    let bucket = Duration::from_secs(health.config.bucket_secs.max(1) as u64);
    let mut ticker = tokio::time::interval(bucket);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_maintenance: Option<i64> = None;
    loop {
        let stopping = tokio::select! {
            _ = ticker.tick() => false,
            _ = shutdown.wait_for(|stop| *stop) => true,
        };
        health.flush(&store).await;
        if stopping {
            return;
        }
        let now = health.now();
        if last_maintenance.is_none_or(|last| now - last >= 3600) {
            last_maintenance = Some(now);
            health.maintain(&store).await;
        }
    }
}

/// Statistics over one step of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub start: i64,
    pub seconds: i64,
    pub stats: seam_health::RequestStats,
}

/// Steps of a series: empty points from `from` to `end`, `step` apart.
pub(crate) struct Steps {
    pub(crate) from: i64,
    end: i64,
    step: i64,
    points: Vec<SeriesPoint>,
}

impl Steps {
    pub(crate) fn new(now: i64, window: i64, step: i64) -> Steps {
        let end = now.div_euclid(step) * step + step;
        let from = end - window.max(step).div_euclid(step) * step;
        let points = (0..(end - from) / step)
            .map(|i| SeriesPoint {
                start: from + i * step,
                seconds: step,
                stats: seam_health::RequestStats::default(),
            })
            .collect();
        Steps {
            from,
            end,
            step,
            points,
        }
    }

    pub(crate) fn add(&mut self, start: i64, stats: &seam_health::RequestStats) {
        if start < self.from || start >= self.end {
            return;
        }
        let at = ((start - self.from) / self.step) as usize;
        if let Some(point) = self.points.get_mut(at) {
            point.stats.add(stats);
        }
    }

    /// The open step's rate is over the time it has been open, not its whole length.
    pub(crate) fn finish(mut self, now: i64) -> Vec<SeriesPoint> {
        if let Some(last) = self.points.last_mut() {
            if last.start + last.seconds > now {
                last.seconds = (now - last.start).max(1);
            }
        }
        self.points
    }
}

impl Health {
    /// Rounds a step to a whole number of buckets, at least one.
    fn align_step(&self, step: i64) -> i64 {
        let bucket = self.config.bucket_secs;
        (step.max(bucket) / bucket) * bucket
    }

    /// Statistics over the `window` seconds before now, in steps of `step` seconds, from
    /// memory only (which holds at least the last hour): of one service's instance, of
    /// the service (`instance` empty) or of every service (`service` empty too).
    pub fn recent_series(
        &self,
        service: &str,
        instance: &str,
        window: i64,
        step: i64,
    ) -> Vec<SeriesPoint> {
        let now = self.now();
        let mut steps = Steps::new(now, window, self.align_step(step));
        for row in self.recent(service, instance, steps.from) {
            steps.add(row.start, &row.stats);
        }
        steps.finish(now)
    }

    /// A service's (or, with `instance` set, one instance's) statistics over the
    /// `window` seconds before now, in steps of `step` seconds (a multiple of the bucket
    /// size): memory for what it still holds, stored buckets before that. Steps without
    /// data are present and empty, so plots show gaps as zero traffic.
    pub async fn series(
        &self,
        store: &SharedStore,
        service: &str,
        instance: &str,
        window: i64,
        step: i64,
    ) -> Result<Vec<SeriesPoint>, seam_store::StoreError> {
        let now = self.now();
        let mut steps = Steps::new(now, window, self.align_step(step));
        let recent = self.recent(service, instance, steps.from);
        let memory_from = recent.first().map_or(steps.end, |row| row.start);
        let stored = store
            .read_health(service, instance, steps.from, memory_from)
            .await?;
        for bucket in stored.iter().filter(|b| b.row.start < memory_from) {
            steps.add(bucket.row.start, &bucket.row.stats);
        }
        for row in &recent {
            steps.add(row.start, &row.stats);
        }
        Ok(steps.finish(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(service: &str, instance: &str, up: Option<bool>, coverage: Coverage) -> TargetStatus {
        TargetStatus {
            key: InstanceKey {
                service: service.to_owned(),
                instance: instance.to_owned(),
            },
            url: format!("{instance}/metrics"),
            health_url: None,
            interval: Duration::from_secs(15),
            up,
            last_scrape: None,
            duration: None,
            samples: 0,
            last_error: None,
            probe: None,
            coverage,
        }
    }

    #[test]
    fn standard_metrics_per_service_from_its_best_target() {
        let full = Coverage {
            mapping: Some("otel-http".to_owned()),
            status: true,
            duration: true,
        };
        let counts_only = Coverage {
            mapping: Some("prometheus-http".to_owned()),
            status: false,
            duration: false,
        };
        let targets = vec![
            target("pay", "http://a", Some(true), counts_only.clone()),
            target("pay", "http://b", Some(true), full),
            target("bare", "http://c", Some(true), Coverage::default()),
            target("counts", "http://d", Some(true), counts_only),
            target("never", "http://e", None, Coverage::default()),
            target("down", "http://f", Some(false), Coverage::default()),
        ];
        let found = standard_metrics(&targets);
        assert_eq!(found["pay"].found.as_deref(), Some("otel-http"));
        assert!(found["pay"].lacks.is_empty());
        assert_eq!(found["bare"].lacks, ["request_count", "status", "duration"]);
        assert_eq!(found["counts"].lacks, ["status", "duration"]);
        assert!(!found.contains_key("never") && !found.contains_key("down"));
    }

    /// A day of scrapes on an injected clock, written minute by minute, folded into hours
    /// after `downsample_after_hours` and gone after `retention_days`: no waiting.
    #[tokio::test]
    async fn span_derived_instances_stand_in_and_go_when_idle() {
        use std::sync::atomic::{AtomicI64, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let store = seam_store::open(None, dir.path()).await.unwrap();
        let now = Arc::new(AtomicI64::new(400_000 * 3600));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || now.load(Ordering::SeqCst))
        };
        let health = Health::new(HealthConfig::default(), clock, Metrics::new());
        let stats = seam_health::RequestStats {
            requests: 30.0,
            ..Default::default()
        };
        health.record_spans(
            [((Arc::from("mail"), Arc::from("pod-1")), stats)].into(),
            now.load(Ordering::SeqCst),
        );
        let snapshot = Snapshot::default();
        let report = health
            .service_report(&snapshot, "mail")
            .expect("known by its spans");
        assert_eq!(report.instances[0].instance, "otlp:pod-1");
        assert!(report.figures.request_rate > 0.0);
        // Idle for longer than memory holds: forgotten on the next flush.
        now.fetch_add(2 * 3600, Ordering::SeqCst);
        health.flush(&store).await;
        let report = health.service_report(&snapshot, "mail");
        assert!(
            report.as_ref().is_none_or(|r| r.instances.is_empty()),
            "{report:?}"
        );
    }

    #[tokio::test]
    async fn minutes_are_written_folded_and_pruned_on_an_injected_clock() {
        use seam_collectors::scrape::Scrape;
        use std::sync::atomic::{AtomicI64, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let store = seam_store::open(None, dir.path()).await.unwrap();
        let now = Arc::new(AtomicI64::new(500_000 * 3600));
        let clock: Clock = {
            let now = now.clone();
            Arc::new(move || now.load(Ordering::SeqCst))
        };
        let config = HealthConfig {
            retention_days: 2,
            downsample_after_hours: 2,
            ..HealthConfig::default()
        };
        let health = Health::new(config, clock, Metrics::new());
        let spec = Arc::new(TargetSpec {
            key: InstanceKey {
                service: "pay".to_owned(),
                instance: "http://a".to_owned(),
            },
            url: "http://a/metrics".to_owned(),
            health_url: None,
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
        });
        let start = now.load(Ordering::SeqCst);
        // Three hours of scrapes every 15 s, 10 requests each.
        for _ in 0..(3 * 3600 / 15) {
            health.record(ScrapeEvent::Scraped {
                target: spec.clone(),
                scrape: Scrape {
                    at: Utc::now(),
                    duration: Duration::from_millis(5),
                    samples: 10,
                    error: None,
                    requests: seam_health::RequestStats {
                        requests: 10.0,
                        ..Default::default()
                    },
                    coverage: Coverage::default(),
                },
                probe: None,
            });
            now.fetch_add(15, Ordering::SeqCst);
            if now.load(Ordering::SeqCst) % 60 == 0 {
                health.flush(&store).await;
            }
        }
        let stored = store.read_health("pay", "", 0, i64::MAX).await.unwrap();
        assert_eq!(stored.len(), 180, "one row a minute for the service");
        let total: f64 = stored.iter().map(|b| b.row.stats.requests).sum();
        assert_eq!(total, 7200.0, "nothing lost between memory and the store");

        // Minutes older than two hours are folded; the series still counts every request
        // once (memory holds the last hour, the store the rest).
        health.maintain(&store).await;
        let stored = store.read_health("pay", "", 0, i64::MAX).await.unwrap();
        assert_eq!(stored.iter().filter(|b| b.seconds == 3600).count(), 1);
        let series = health
            .series(&store, "pay", "", 4 * 3600, 3600)
            .await
            .unwrap();
        let counted: f64 = series.iter().map(|p| p.stats.requests).sum();
        assert_eq!(counted, 7200.0);

        // Past retention, everything older goes.
        now.store(start + 3 * 86_400, Ordering::SeqCst);
        health.maintain(&store).await;
        assert!(store
            .read_health("pay", "", 0, i64::MAX)
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn prometheus_instance_labels_are_host_and_port() {
        assert_eq!(host_port("http://10.0.0.1:8080"), Some("10.0.0.1:8080"));
        assert_eq!(
            host_port("https://pay.internal:9443/metrics"),
            Some("pay.internal:9443")
        );
        assert_eq!(host_port("ftp://x"), None);
    }
}
