//! The pages' view of runtime health ([`seam_app::api::RuntimeHealth`]): the health
//! engine's report, targets and series shaped into the app's DTOs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use seam_app::dto::{
    CallEdge, CallsOverview, EdgeDetailView, HealthFigures, HealthOverview, HealthPoint,
    InstanceHealthRow, NamedHealth, PropagationRow, ServiceCalls, ServiceHealthView, TargetRow,
    VersionRow, WORST_SERVICES,
};
use seam_health::{Figures, State};
use seam_store::LiveCatalog;

use super::health_api::parse_duration;
use crate::health::{health_name, Health, SeriesPoint, TargetStatus};

/// Most points a page's chart shows: enough for a smooth line, few enough for one
/// hover target per step.
const PAGE_POINTS: i64 = 240;

/// The step of a page's chart over `window`: the first whole number of buckets from a
/// list of round steps that keeps the chart at most [`PAGE_POINTS`] long.
fn page_step(window: i64, bucket: i64) -> i64 {
    const MULTIPLES: [i64; 14] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 86_400,
    ];
    MULTIPLES
        .iter()
        .map(|k| k * bucket)
        .find(|step| window / step <= PAGE_POINTS)
        .unwrap_or(window.max(bucket))
}

/// Runtime health for the pages.
pub struct PagesHealth {
    pub health: Arc<Health>,
    pub catalog: Arc<LiveCatalog>,
    pub traces: Arc<crate::traces::Traces>,
    /// Whether the OTLP receivers run.
    pub receiving: bool,
    /// Whether the scraper runs.
    pub scraping: bool,
}

fn figures(figures: &Figures) -> HealthFigures {
    HealthFigures {
        state: figures.state.as_str().to_owned(),
        request_rate: figures.request_rate,
        error_ratio: figures.error_ratio,
        latency_p95_seconds: figures.latency_p95_seconds,
    }
}

fn point(point: &SeriesPoint) -> HealthPoint {
    let seconds = point.seconds.max(1) as f64;
    HealthPoint {
        start: point.start,
        request_rate: point.stats.requests / seconds,
        error_rate: point.stats.errors / seconds,
        latency_p50_seconds: point.stats.quantile(0.5),
        latency_p95_seconds: point.stats.quantile(0.95),
        latency_p99_seconds: point.stats.quantile(0.99),
    }
}

/// The steps that have ended: charts leave out the open one, whose few seconds make a
/// jumpy last point (the API keeps it, rated over the time it has been open).
fn closed(mut points: Vec<SeriesPoint>) -> Vec<SeriesPoint> {
    if points
        .last()
        .is_some_and(|last| last.seconds < points[0].seconds)
    {
        points.pop();
    }
    points
}

fn rfc3339(unix: i64) -> String {
    Utc.timestamp_opt(unix, 0)
        .single()
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn target_row(status: TargetStatus) -> TargetRow {
    TargetRow {
        service: status.key.service,
        instance: status.key.instance,
        url: status.url,
        health: health_name(status.up).to_owned(),
        last_scrape: status
            .last_scrape
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default(),
        duration_seconds: status.duration.map(|d| d.as_secs_f64()),
        samples: status.samples,
        last_error: status.last_error.unwrap_or_default(),
        probe: match (&status.health_url, &status.probe) {
            (None, _) => String::new(),
            (Some(_), probe) => health_name(probe.as_ref().map(|p| p.up)).to_owned(),
        },
        probe_error: status.probe.and_then(|p| p.error).unwrap_or_default(),
        request_metrics: status.coverage.mapping.unwrap_or_default(),
    }
}

fn call_edge(edge: &crate::traces::EdgeView) -> CallEdge {
    let calls = &edge.stats.calls;
    let fan = &edge.stats.fan_out;
    CallEdge {
        caller: edge.caller.clone(),
        caller_kind: edge.caller_kind.as_str().to_owned(),
        callee: edge.callee.clone(),
        callee_kind: edge.callee_kind.as_str().to_owned(),
        caller_version: edge.caller_version.clone().unwrap_or_default(),
        callee_version: edge.callee_version.clone().unwrap_or_default(),
        protocol: edge.protocol.clone(),
        mode: edge.mode.to_owned(),
        operations: edge.operations.clone(),
        request_rate: edge.request_rate(),
        error_ratio: calls.error_ratio(),
        latency_p95_seconds: calls.quantile(0.95),
        calls_per_request: fan.mean(),
        calls_per_request_p95: fan.quantile(0.95),
        declared: edge.declared,
        observed: edge.observed,
    }
}

fn propagation_row(finding: seam_traces::PropagationFinding) -> PropagationRow {
    PropagationRow {
        service: finding.service,
        broken: finding.broken.as_str().to_owned(),
        spans: finding.spans,
        roots: finding.roots,
        example_trace_ids: finding
            .example_trace_ids
            .iter()
            .map(seam_traces::trace_hex)
            .collect(),
    }
}

impl seam_app::api::RuntimeHealth for PagesHealth {
    fn calls(
        &self,
        window: String,
    ) -> Pin<Box<dyn Future<Output = Result<CallsOverview, String>> + Send>> {
        let traces = self.traces.clone();
        let catalog = self.catalog.clone();
        let receiving = self.receiving;
        Box::pin(async move {
            let window_secs = parse_duration(&window)
                .ok_or_else(|| format!("window {window:?} is not a duration"))?;
            let snapshot = catalog.snapshot();
            let view = traces
                .view(
                    catalog.store(),
                    &snapshot,
                    window_secs,
                    crate::traces::Source::Both,
                    None,
                )
                .await
                .map_err(|err| err.to_string())?;
            let propagation = traces
                .propagation(&snapshot, window_secs.min(traces.memory_seconds()))
                .into_iter()
                .map(propagation_row)
                .collect();
            Ok(CallsOverview {
                window,
                edges: view.edges.iter().map(call_edge).collect(),
                propagation,
                receiving,
            })
        })
    }

    fn edge_detail(
        &self,
        caller: String,
        callee: String,
        window: String,
    ) -> Pin<Box<dyn Future<Output = Result<Option<EdgeDetailView>, String>> + Send>> {
        let traces = self.traces.clone();
        let catalog = self.catalog.clone();
        let bucket = self.health.config().bucket_secs;
        Box::pin(async move {
            let window_secs = parse_duration(&window)
                .ok_or_else(|| format!("window {window:?} is not a duration"))?;
            let step = page_step(window_secs, bucket);
            let detail = traces
                .edge_detail(
                    catalog.store(),
                    &catalog.snapshot(),
                    &caller,
                    &callee,
                    window_secs,
                    step,
                )
                .await
                .map_err(|err| err.to_string())?;
            Ok(detail.map(|detail| EdgeDetailView {
                caller,
                callee,
                window,
                step_seconds: detail.step,
                points: closed(detail.points).iter().map(point).collect(),
                versions: detail
                    .versions
                    .iter()
                    .map(|v| VersionRow {
                        caller_version: v.caller_version.clone().unwrap_or_default(),
                        callee_version: v.callee_version.clone().unwrap_or_default(),
                        calls: v.calls.requests,
                        error_ratio: v.calls.error_ratio(),
                    })
                    .collect(),
                operations: detail.operations,
                declared: detail.declared,
            }))
        })
    }

    fn service_calls(
        &self,
        name: String,
        window: String,
    ) -> Pin<Box<dyn Future<Output = Result<ServiceCalls, String>> + Send>> {
        let traces = self.traces.clone();
        let catalog = self.catalog.clone();
        Box::pin(async move {
            let window_secs = parse_duration(&window)
                .ok_or_else(|| format!("window {window:?} is not a duration"))?;
            let snapshot = catalog.snapshot();
            let view = traces
                .view(
                    catalog.store(),
                    &snapshot,
                    window_secs,
                    crate::traces::Source::Both,
                    Some(&name),
                )
                .await
                .map_err(|err| err.to_string())?;
            let propagation = traces
                .propagation(&snapshot, window_secs.min(traces.memory_seconds()))
                .into_iter()
                .filter(|f| f.service == name)
                .map(propagation_row)
                .collect();
            Ok(ServiceCalls {
                callers: view
                    .edges
                    .iter()
                    .filter(|e| e.callee == name)
                    .map(call_edge)
                    .collect(),
                callees: view
                    .edges
                    .iter()
                    .filter(|e| e.caller == name && e.callee != name)
                    .map(call_edge)
                    .collect(),
                propagation,
                window,
            })
        })
    }

    fn overview(&self) -> HealthOverview {
        let report = self.health.report(&self.catalog.snapshot());
        let services = report.services_worst_first();
        let counts = report.service_counts();
        let step = page_step(3600, self.health.config().bucket_secs);
        let series = closed(self.health.recent_series("", "", 3600, step))
            .iter()
            .map(point)
            .collect();
        let (up, down, unknown) = self.health.target_counts();
        HealthOverview {
            at: rfc3339(report.at),
            window_seconds: report.window_seconds,
            overall: figures(&report.overall),
            counts: State::ALL
                .iter()
                .map(|state| (state.as_str().to_owned(), counts[state.as_str()]))
                .collect(),
            domains: report
                .domains
                .iter()
                .map(|d| NamedHealth {
                    name: d.name.clone(),
                    group: String::new(),
                    figures: figures(&d.figures),
                })
                .collect(),
            worst: services
                .iter()
                .take(WORST_SERVICES)
                .map(|s| NamedHealth {
                    name: s.name.clone(),
                    group: s.domain.clone().unwrap_or_default(),
                    figures: figures(&s.figures),
                })
                .collect(),
            services_total: services.len(),
            series,
            targets_up: up as usize,
            targets_down: down as usize,
            targets_unknown: unknown as usize,
            scraping: self.scraping,
        }
    }

    fn targets(&self) -> Vec<TargetRow> {
        self.health.targets().into_iter().map(target_row).collect()
    }

    fn service_health(
        &self,
        name: String,
        window: String,
    ) -> Pin<Box<dyn Future<Output = Result<Option<ServiceHealthView>, String>> + Send>> {
        let health = self.health.clone();
        let catalog = self.catalog.clone();
        Box::pin(async move {
            let Some(service) = health.service_report(&catalog.snapshot(), &name) else {
                return Ok(None);
            };
            let window_secs = parse_duration(&window)
                .ok_or_else(|| format!("window {window:?} is not a duration"))?;
            let step = page_step(window_secs, health.config().bucket_secs);
            let points = health
                .series(catalog.store(), &name, "", window_secs, step)
                .await
                .map_err(|err| err.to_string())?;
            let targets = health.service_targets(&name);
            let instances = service
                .instances
                .iter()
                .map(|instance| {
                    let target = targets
                        .iter()
                        .find(|t| t.key.service == name && t.key.instance == instance.instance);
                    InstanceHealthRow {
                        instance: instance.instance.clone(),
                        figures: figures(&instance.figures),
                        target: health_name(target.and_then(|t| t.up)).to_owned(),
                        last_error: target
                            .and_then(|t| t.last_error.clone())
                            .unwrap_or_default(),
                        probe: target
                            .and_then(|t| t.probe.as_ref())
                            .map(|p| health_name(Some(p.up)).to_owned())
                            .unwrap_or_default(),
                    }
                })
                .collect();
            let standard = crate::health::standard_metrics(&targets);
            let own = standard.get(&name);
            Ok(Some(ServiceHealthView {
                standard_metrics: own.and_then(|s| s.found.clone()).unwrap_or_default(),
                lacks: own
                    .map(|s| s.lacks.iter().map(|l| (*l).to_owned()).collect())
                    .unwrap_or_default(),
                scraped: own.is_some(),
                figures: figures(&service.figures),
                window,
                step_seconds: step,
                points: closed(points).iter().map(point).collect(),
                instances,
            }))
        })
    }
}
