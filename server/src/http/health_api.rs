//! The runtime half of the REST API: scrape targets, the health of everything, and a
//! service's health over time.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeZone, Utc};
use seam_health::{Figures, HealthReport, RequestStats, State as HealthState};
use serde::{Deserialize, Serialize};

use super::api::paging;
use super::{ApiError, AppState};
use crate::health::{SeriesPoint, TargetStatus};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/targets", get(list_targets))
        .route("/health", get(system_health))
        .route("/services/{name}/health", get(service_health))
}

/// The longest `window` a series may cover: the default retention.
pub const MAX_WINDOW_SECS: i64 = 30 * 86_400;

/// Most points one series answers; a longer window needs a larger `step`.
pub const MAX_POINTS: i64 = 2_000;

/// Parses a Prometheus duration: `90s`, `15m`, `1h30m`, `7d`, `2w` (no fractions).
pub fn parse_duration(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(digit) = c.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(digit))?,
            );
            continue;
        }
        let unit = match c {
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                // Milliseconds round down to whole seconds.
                total = total.checked_add(number.take()? / 1000)?;
                continue;
            }
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            'y' => 31_536_000,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() {
        return None;
    }
    Some(total)
}

fn rfc3339(unix: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(unix, 0).single()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetParams {
    service: Option<String>,
    /// `up`, `down` or `unknown`.
    health: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ProbeJson {
    url: String,
    health: &'static str,
    status: Option<u16>,
    last_error: Option<String>,
}

#[derive(Serialize)]
struct TargetJson {
    url: String,
    service: String,
    instance: String,
    /// `up`, `down` or `unknown`, as Prometheus names it.
    health: &'static str,
    last_scrape: Option<DateTime<Utc>>,
    last_error: Option<String>,
    duration_seconds: Option<f64>,
    samples: usize,
    interval_seconds: f64,
    /// The standard request metrics it exposes, by mapping name; `null` for none.
    request_metrics: Option<String>,
    probe: Option<ProbeJson>,
}

impl TargetJson {
    fn new(status: TargetStatus) -> TargetJson {
        let probe = status.health_url.map(|url| ProbeJson {
            url,
            health: crate::health::health_name(status.probe.as_ref().map(|p| p.up)),
            status: status.probe.as_ref().and_then(|p| p.status),
            last_error: status.probe.and_then(|p| p.error),
        });
        TargetJson {
            url: status.url,
            service: status.key.service,
            instance: status.key.instance,
            health: crate::health::health_name(status.up),
            last_scrape: status.last_scrape,
            last_error: status.last_error,
            duration_seconds: status.duration.map(|d| d.as_secs_f64()),
            samples: status.samples,
            interval_seconds: status.interval.as_secs_f64(),
            request_metrics: status.coverage.mapping,
            probe,
        }
    }
}

#[derive(Serialize)]
struct TargetList {
    targets: Vec<TargetJson>,
    total: usize,
    limit: usize,
    offset: usize,
}

/// `GET /api/v1/targets`: every scrape target, by service and instance.
async fn list_targets(
    State(state): State<AppState>,
    params: Result<Query<TargetParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TargetList>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    if let Some(health) = params.health.as_deref() {
        if !["up", "down", "unknown"].contains(&health) {
            return Err(ApiError::InvalidQuery(format!(
                "health={health:?}: expected up, down or unknown"
            )));
        }
    }
    let matching: Vec<TargetStatus> = state
        .health
        .targets()
        .into_iter()
        .filter(|t| params.service.as_deref().is_none_or(|s| t.key.service == s))
        .filter(|t| {
            params
                .health
                .as_deref()
                .is_none_or(|h| crate::health::health_name(t.up) == h)
        })
        .collect();
    let total = matching.len();
    Ok(Json(TargetList {
        targets: matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(TargetJson::new)
            .collect(),
        total,
        limit,
        offset,
    }))
}

#[derive(Serialize)]
struct NodeJson {
    name: String,
    state: HealthState,
    /// Requests per second over the window.
    request_rate: f64,
    error_ratio: Option<f64>,
    latency_p95_seconds: Option<f64>,
}

impl NodeJson {
    fn new(name: &str, figures: &Figures) -> NodeJson {
        NodeJson {
            name: name.to_owned(),
            state: figures.state,
            request_rate: figures.request_rate,
            error_ratio: figures.error_ratio,
            latency_p95_seconds: figures.latency_p95_seconds,
        }
    }
}

#[derive(Serialize)]
struct ServiceNodeJson {
    #[serde(flatten)]
    node: NodeJson,
    system: Option<String>,
    domain: Option<String>,
    /// The standard request metrics it exposes and what it lacks; `null` before a
    /// successful scrape.
    standard_metrics: Option<crate::health::StandardMetrics>,
    instances: Vec<NodeJson>,
}

#[derive(Serialize)]
struct SystemHealthJson {
    at: Option<DateTime<Utc>>,
    window_seconds: i64,
    state: HealthState,
    request_rate: f64,
    error_ratio: Option<f64>,
    latency_p95_seconds: Option<f64>,
    /// Services by state.
    counts: std::collections::BTreeMap<&'static str, usize>,
    domains: Vec<NodeJson>,
    systems: Vec<NodeJson>,
    /// Worst first, then busiest, then by name; paged with `limit`/`offset`.
    services: Vec<ServiceNodeJson>,
    total: usize,
    limit: usize,
    offset: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/health`: the whole system, its domains, systems and services.
async fn system_health(
    State(state): State<AppState>,
    params: Result<Query<PageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SystemHealthJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let report: HealthReport = state.health.report(&state.catalog.snapshot());
    let services = report.services_worst_first();
    let total = services.len();
    let standard = state.health.standard_metrics();
    Ok(Json(SystemHealthJson {
        at: rfc3339(report.at),
        window_seconds: report.window_seconds,
        state: report.overall.state,
        request_rate: report.overall.request_rate,
        error_ratio: report.overall.error_ratio,
        latency_p95_seconds: report.overall.latency_p95_seconds,
        counts: report.service_counts(),
        domains: report
            .domains
            .iter()
            .map(|d| NodeJson::new(&d.name, &d.figures))
            .collect(),
        systems: report
            .systems
            .iter()
            .map(|s| NodeJson::new(&s.name, &s.figures))
            .collect(),
        services: services
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|service| ServiceNodeJson {
                node: NodeJson::new(&service.name, &service.figures),
                system: service.system.clone(),
                domain: service.domain.clone(),
                standard_metrics: standard.get(&service.name).cloned(),
                instances: service
                    .instances
                    .iter()
                    .map(|i| NodeJson::new(&i.instance, &i.figures))
                    .collect(),
            })
            .collect(),
        total,
        limit,
        offset,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesParams {
    /// Prometheus duration, default `1h`, at most 30 days.
    window: Option<String>,
    /// Prometheus duration; default by window (1m up to 6h, 5m up to 2d, then 1h).
    step: Option<String>,
    /// One instance's series instead of the whole service's.
    instance: Option<String>,
}

#[derive(Serialize)]
pub struct PointJson {
    pub start: Option<DateTime<Utc>>,
    pub requests: f64,
    pub request_rate: f64,
    pub error_ratio: Option<f64>,
    pub client_error_ratio: Option<f64>,
    pub latency_p50_seconds: Option<f64>,
    pub latency_p95_seconds: Option<f64>,
    pub latency_p99_seconds: Option<f64>,
}

impl PointJson {
    pub fn new(point: &SeriesPoint) -> PointJson {
        let stats: &RequestStats = &point.stats;
        PointJson {
            start: rfc3339(point.start),
            requests: stats.requests,
            request_rate: stats.rate(point.seconds as f64),
            error_ratio: stats.error_ratio(),
            client_error_ratio: stats.client_error_ratio(),
            latency_p50_seconds: stats.quantile(0.5),
            latency_p95_seconds: stats.quantile(0.95),
            latency_p99_seconds: stats.quantile(0.99),
        }
    }
}

#[derive(Serialize)]
struct ServiceHealthJson {
    service: String,
    instance: Option<String>,
    state: HealthState,
    window_seconds: i64,
    step_seconds: i64,
    points: Vec<PointJson>,
}

/// Picks and checks the window and step of a series request.
pub fn window_and_step(
    window: Option<&str>,
    step: Option<&str>,
    bucket: i64,
) -> Result<(i64, i64), ApiError> {
    let window = match window {
        None => 3600,
        Some(text) => parse_duration(text).filter(|w| *w > 0).ok_or_else(|| {
            ApiError::InvalidQuery(format!(
                "window={text:?}: expected a duration such as 15m, 1h or 7d"
            ))
        })?,
    };
    if window > MAX_WINDOW_SECS {
        return Err(ApiError::InvalidQuery(format!(
            "window={window}s: at most 30d"
        )));
    }
    let explicit = step.is_some();
    let step = match step {
        None if window <= 6 * 3600 => bucket,
        None if window <= 2 * 86_400 => 300,
        None => 3600,
        Some(text) => parse_duration(text).filter(|s| *s > 0).ok_or_else(|| {
            ApiError::InvalidQuery(format!(
                "step={text:?}: expected a duration such as 1m or 1h"
            ))
        })?,
    };
    let mut step = step.max(bucket);
    if !explicit && window / step > MAX_POINTS {
        // Buckets smaller than a minute (tests, demos): the fewest whole buckets that fit.
        let needed = (window + MAX_POINTS - 1) / MAX_POINTS;
        step = (needed + bucket - 1) / bucket * bucket;
    }
    if window / step > MAX_POINTS {
        return Err(ApiError::InvalidQuery(format!(
            "window/step gives {} points: at most {MAX_POINTS}; choose a larger step",
            window / step
        )));
    }
    Ok((window, step))
}

/// `GET /api/v1/services/{name}/health?window=1h&step=1m`: the service's state now and
/// its per-step series.
async fn service_health(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<SeriesParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ServiceHealthJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let Some(service) = state
        .health
        .service_report(&state.catalog.snapshot(), &name)
    else {
        return Err(ApiError::NotFound { name });
    };
    let current = match params.instance.as_deref() {
        None => service.figures.state,
        Some(instance) => match service.instances.iter().find(|i| i.instance == instance) {
            Some(found) => found.figures.state,
            None => {
                return Err(ApiError::InvalidQuery(format!(
                    "instance={instance:?}: service {name:?} has no such instance"
                )))
            }
        },
    };
    let (window, step) = window_and_step(
        params.window.as_deref(),
        params.step.as_deref(),
        state.health.config().bucket_secs,
    )?;
    let points = state
        .health
        .series(
            state.catalog.store(),
            &name,
            params.instance.as_deref().unwrap_or(""),
            window,
            step,
        )
        .await?;
    Ok(Json(ServiceHealthJson {
        service: name,
        instance: params.instance,
        state: current,
        window_seconds: window,
        step_seconds: step,
        points: points.iter().map(PointJson::new).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("1500ms"), Some(1));
        for bad in ["", "h", "15", "1.5h", "-1h", "1x", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_and_steps() {
        assert_eq!(window_and_step(None, None, 60).unwrap(), (3600, 60));
        assert_eq!(
            window_and_step(Some("1d"), None, 60).unwrap(),
            (86_400, 300)
        );
        assert_eq!(
            window_and_step(Some("30d"), None, 60).unwrap(),
            (2_592_000, 3600)
        );
        assert!(window_and_step(Some("31d"), None, 60).is_err());
        assert!(
            window_and_step(Some("7d"), Some("1m"), 60).is_err(),
            "too many points"
        );
        assert_eq!(
            window_and_step(Some("1h"), Some("1s"), 60).unwrap(),
            (3600, 60)
        );
    }
}
