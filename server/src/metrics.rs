//! Seam's own Prometheus metrics, served at `/metrics`.
//!
//! Metrics are recorded through small typed events ([`HttpRequestCompleted`], ...) that
//! both count and log, so a log line and its counter never drift apart.

use std::time::Duration;

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Seam's metric registry and the handles of its metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    scrapes: IntCounterVec,
    scrape_duration: Histogram,
    scrape_samples: IntCounter,
    scrape_targets: IntGaugeVec,
    scrape_targets_dropped: IntCounter,
    source_failures: IntCounter,
    servicegraph_failures: IntCounter,
    servicegraph_skipped: IntCounter,
    target_up: GaugeVec,
    target_duration: GaugeVec,
    target_samples: GaugeVec,
    target_last_scrape: GaugeVec,
    otlp: std::sync::Arc<seam_collectors::otlp::ReceiverStats>,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "seam_http_requests_total",
                "HTTP requests served, by route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "seam_http_request_duration_seconds",
                "Time from request to response head, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new(
                "seam_build_info",
                "Always 1; labels say which Seam build runs",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        // Scrapes: no per-target labels, so the series stay bounded however many
        // targets there are; per-target state is on /api/v1/targets.
        let scrapes = IntCounterVec::new(
            Opts::new(
                "seam_scrapes_total",
                "Scrapes done, by result (ok, or the reason they failed)",
            ),
            &["result"],
        )
        .expect("valid metric");
        let scrape_duration = Histogram::with_opts(
            HistogramOpts::new(
                "seam_scrape_duration_seconds",
                "Time a scrape took, fetch and parse",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )
        .expect("valid metric");
        let scrape_samples = IntCounter::new(
            "seam_scrape_samples_total",
            "Samples parsed from successful scrapes",
        )
        .expect("valid metric");
        let scrape_targets = IntGaugeVec::new(
            Opts::new(
                "seam_scrape_targets",
                "Scrape targets by health of their last scrape (up, down, unknown)",
            ),
            &["health"],
        )
        .expect("valid metric");
        let scrape_targets_dropped = IntCounter::new(
            "seam_scrape_targets_dropped_total",
            "Targets left unscraped because there were more than max_targets",
        )
        .expect("valid metric");
        // Per target, as Prometheus's own `up`: one series per target, so as many as
        // there are targets (bounded by `max_targets`), removed with the target.
        let target_gauge = |name: &str, help: &str| {
            GaugeVec::new(Opts::new(name, help), &["service", "instance"]).expect("valid metric")
        };
        let target_up = target_gauge(
            "seam_scrape_up",
            "1 if the target's last scrape succeeded, 0 if it failed",
        );
        let target_duration = target_gauge(
            "seam_scrape_last_duration_seconds",
            "How long the target's last scrape took",
        );
        let target_samples = target_gauge(
            "seam_scrape_last_samples",
            "Samples in the target's last successful scrape",
        );
        let target_last_scrape = target_gauge(
            "seam_scrape_last_timestamp_seconds",
            "When the target was last scraped, unix seconds",
        );
        let source_failures = IntCounter::new(
            "seam_prometheus_source_failures_total",
            "Rounds of the Prometheus source that failed (retried on the next round)",
        )
        .expect("valid metric");
        let servicegraph_failures = IntCounter::new(
            "seam_servicegraph_source_failures_total",
            "Rounds of the servicegraph source that failed (retried on the next round)",
        )
        .expect("valid metric");
        let servicegraph_skipped = IntCounter::new(
            "seam_servicegraph_series_skipped_total",
            "Servicegraph series left out: no client or server label, or a name over 256 bytes",
        )
        .expect("valid metric");
        for collector in [
            Box::new(source_failures.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(servicegraph_failures.clone()),
            Box::new(servicegraph_skipped.clone()),
            Box::new(http_requests.clone()),
            Box::new(http_duration.clone()),
            Box::new(build_info),
            Box::new(scrapes.clone()),
            Box::new(scrape_duration.clone()),
            Box::new(scrape_samples.clone()),
            Box::new(scrape_targets.clone()),
            Box::new(scrape_targets_dropped.clone()),
            Box::new(target_up.clone()),
            Box::new(target_duration.clone()),
            Box::new(target_samples.clone()),
            Box::new(target_last_scrape.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric registered once");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            scrapes,
            scrape_duration,
            scrape_samples,
            scrape_targets,
            scrape_targets_dropped,
            source_failures,
            servicegraph_failures,
            servicegraph_skipped,
            target_up,
            target_duration,
            target_samples,
            target_last_scrape,
            otlp: Default::default(),
        }
    }

    /// The OTLP receivers' counters, which they add to and `/metrics` prints.
    pub fn otlp_stats(&self) -> std::sync::Arc<seam_collectors::otlp::ReceiverStats> {
        self.otlp.clone()
    }

    /// Drops a removed target's series.
    pub fn forget_target(&self, service: &str, instance: &str) {
        for gauge in [
            &self.target_up,
            &self.target_duration,
            &self.target_samples,
            &self.target_last_scrape,
        ] {
            let _ = gauge.remove_label_values(&[service, instance]);
        }
    }

    /// Counts a failed round of the Prometheus source.
    pub fn source_failed(&self) {
        self.source_failures.inc();
    }

    /// Counts what the servicegraph source reports: a failed round, series left out.
    pub fn servicegraph_source(&self, tally: seam_collectors::servicegraph::Tally) {
        use seam_collectors::servicegraph::Tally;
        match tally {
            Tally::Failed => self.servicegraph_failures.inc(),
            Tally::Skipped(series) => self.servicegraph_skipped.inc_by(series),
        }
    }

    /// Sets the number of targets by health.
    pub fn scrape_targets(&self, up: i64, down: i64, unknown: i64) {
        for (health, count) in [("up", up), ("down", down), ("unknown", unknown)] {
            self.scrape_targets.with_label_values(&[health]).set(count);
        }
    }

    /// Counts targets dropped for being past `max_targets`.
    pub fn scrape_targets_dropped(&self, dropped: usize) {
        self.scrape_targets_dropped.inc_by(dropped as u64);
    }

    /// Adds the call graph's counters (read from the graph at each scrape).
    pub fn register_traces(&self, traces: std::sync::Arc<crate::traces::Traces>) {
        let _ = self
            .registry
            .register(Box::new(crate::traces::TraceMetrics::new(
                traces,
                self.otlp.clone(),
            )));
    }

    /// Renders every metric in the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(out).expect("the text encoder writes UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// One HTTP request answered.
pub struct HttpRequestCompleted<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub elapsed: Duration,
}

impl HttpRequestCompleted<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let status = self.status.to_string();
        metrics
            .http_requests
            .with_label_values(&[self.method, self.route, &status])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[self.method, self.route])
            .observe(self.elapsed.as_secs_f64());
        tracing::debug!(
            method = self.method,
            route = self.route,
            status = self.status,
            elapsed_ms = self.elapsed.as_secs_f64() * 1000.0,
            "request completed"
        );
    }
}

/// One scrape done.
pub struct ScrapeCompleted<'a> {
    pub target: &'a str,
    pub service: &'a str,
    pub instance: &'a str,
    /// Unix seconds.
    pub at: f64,
    pub duration: Duration,
    pub samples: usize,
    pub error: Option<&'a seam_collectors::scrape::ScrapeError>,
}

impl ScrapeCompleted<'_> {
    pub fn emit(&self, metrics: &Metrics) {
        let result = self.error.map_or("ok", |err| err.reason());
        metrics.scrapes.with_label_values(&[result]).inc();
        metrics.scrape_duration.observe(self.duration.as_secs_f64());
        metrics.scrape_samples.inc_by(self.samples as u64);
        let labels = [self.service, self.instance];
        let up = if self.error.is_none() { 1.0 } else { 0.0 };
        metrics.target_up.with_label_values(&labels).set(up);
        metrics
            .target_duration
            .with_label_values(&labels)
            .set(self.duration.as_secs_f64());
        metrics
            .target_samples
            .with_label_values(&labels)
            .set(self.samples as f64);
        metrics
            .target_last_scrape
            .with_label_values(&labels)
            .set(self.at);
        match self.error {
            None => tracing::debug!(
                target = self.target,
                samples = self.samples,
                elapsed_ms = self.duration.as_secs_f64() * 1000.0,
                "scraped"
            ),
            Some(err) => tracing::debug!(target = self.target, error = %err, "scrape failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_and_request_counters() {
        let metrics = Metrics::new();
        HttpRequestCompleted {
            method: "GET",
            route: "/healthz",
            status: 200,
            elapsed: Duration::from_millis(3),
        }
        .emit(&metrics);
        let text = metrics.render();
        assert!(
            text.contains(&format!(
                "seam_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        assert!(
            text.contains(
                "seam_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("seam_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.005\"} 1"), "{text}");
    }
}
