//! The observed call graph in the REST API: the graph over a window, one service's
//! callers and callees, and broken trace-context propagation.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::api::paging;
use super::health_api::{parse_duration, MAX_POINTS, MAX_WINDOW_SECS};
use super::{ApiError, AppState};
use crate::traces::{EdgeView, GraphView, NodeView, Source};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/graph", get(graph))
        .route("/services/{name}/calls", get(service_calls))
        .route("/propagation", get(propagation))
        .route("/edges", get(edge_detail))
}

/// The window when none is asked for.
pub const DEFAULT_WINDOW_SECS: i64 = 900;

/// Largest page of edges `GET /api/v1/graph` answers.
pub const MAX_EDGE_LIMIT: i64 = 10_000;

pub(super) fn window(text: Option<&str>) -> Result<i64, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_WINDOW_SECS);
    };
    match parse_duration(text) {
        Some(secs) if (1..=MAX_WINDOW_SECS).contains(&secs) => Ok(secs),
        _ => Err(ApiError::InvalidQuery(format!(
            "window={text:?}: expected a duration such as 15m, 1h or 7d, at most 30d"
        ))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphParams {
    window: Option<String>,
    /// `observed`, `declared` or `both` (the default).
    source: Option<String>,
    /// Only edges this service takes part in.
    service: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    /// `json` (the default), `dot` (Graphviz) or `mermaid`; the text formats hold the
    /// whole graph, one edge per caller and callee, and do not page.
    format: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct NodeJson {
    name: String,
    /// `service`, `database`, `virtual` or `user`.
    kind: &'static str,
    /// In the catalog; an unregistered service seen at runtime is drift.
    registered: bool,
    versions: Vec<String>,
    namespaces: Vec<String>,
    environments: Vec<String>,
}

impl NodeJson {
    fn new(node: &NodeView) -> NodeJson {
        NodeJson {
            name: node.name.clone(),
            kind: node.kind.as_str(),
            registered: node.registered,
            versions: node.versions.clone(),
            namespaces: node.namespaces.clone(),
            environments: node.environments.clone(),
        }
    }
}

#[derive(Serialize)]
struct CallsPerRequest {
    /// Requests into the caller that made at least one call over the edge.
    requests: f64,
    mean: Option<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
}

#[derive(Serialize)]
pub(crate) struct EdgeJson {
    caller: String,
    caller_kind: &'static str,
    callee: String,
    callee_kind: &'static str,
    caller_version: Option<String>,
    callee_version: Option<String>,
    environment: Option<String>,
    protocol: String,
    mode: &'static str,
    operations: Vec<String>,
    calls: f64,
    errors: f64,
    /// Calls per second over the window.
    request_rate: f64,
    error_ratio: Option<f64>,
    latency_p50_seconds: Option<f64>,
    latency_p95_seconds: Option<f64>,
    calls_per_request: CallsPerRequest,
    declared: bool,
    observed: bool,
}

impl EdgeJson {
    pub(crate) fn new(edge: &EdgeView) -> EdgeJson {
        let calls = &edge.stats.calls;
        let fan = &edge.stats.fan_out;
        EdgeJson {
            caller: edge.caller.clone(),
            caller_kind: edge.caller_kind.as_str(),
            callee: edge.callee.clone(),
            callee_kind: edge.callee_kind.as_str(),
            caller_version: edge.caller_version.clone(),
            callee_version: edge.callee_version.clone(),
            environment: edge.environment.clone(),
            protocol: edge.protocol.clone(),
            mode: edge.mode,
            operations: edge.operations.clone(),
            calls: calls.requests,
            errors: calls.errors,
            request_rate: edge.request_rate(),
            error_ratio: calls.error_ratio(),
            latency_p50_seconds: calls.quantile(0.5),
            latency_p95_seconds: calls.quantile(0.95),
            calls_per_request: CallsPerRequest {
                requests: fan.count,
                mean: fan.mean(),
                p50: fan.quantile(0.5),
                p95: fan.quantile(0.95),
            },
            declared: edge.declared,
            observed: edge.observed,
        }
    }
}

#[derive(Serialize)]
struct GraphJson {
    window_seconds: i64,
    source: String,
    nodes: Vec<NodeJson>,
    edges: Vec<EdgeJson>,
    total: usize,
    limit: usize,
    offset: usize,
}

/// `GET /api/v1/graph`: nodes and edges over a window, observed and declared, with the
/// drift flags. Edges page with `limit` (up to 10000, default 1000) and `offset`; the
/// nodes are those of the whole graph. `format=dot|mermaid` answers the whole graph as
/// text instead.
async fn graph(
    State(state): State<AppState>,
    params: Result<Query<GraphParams>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let source_text = params.source.as_deref().unwrap_or("both");
    let source = Source::parse(source_text).ok_or_else(|| {
        ApiError::InvalidQuery(format!(
            "source={source_text:?}: expected observed, declared or both"
        ))
    })?;
    let limit = params.limit.unwrap_or(1000);
    if !(1..=MAX_EDGE_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit={limit}: expected 1 to {MAX_EDGE_LIMIT}; page with offset for more"
        )));
    }
    let (_, offset) = paging(Some(1), params.offset)?;
    let format = params.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "dot" | "mermaid") {
        return Err(ApiError::InvalidQuery(format!(
            "format={format:?}: expected json, dot or mermaid"
        )));
    }
    let view = graph_view(&state, window, source, params.service.as_deref()).await?;
    let text_type = |mime: &'static str, body: String| {
        ([(axum::http::header::CONTENT_TYPE, mime)], body).into_response()
    };
    match format {
        "dot" => {
            return Ok(text_type(
                "text/vnd.graphviz; charset=utf-8",
                super::graph_export::dot(&view),
            ))
        }
        "mermaid" => {
            return Ok(text_type(
                "text/vnd.mermaid; charset=utf-8",
                super::graph_export::mermaid(&view),
            ))
        }
        _ => {}
    }
    let total = view.edges.len();
    Ok(Json(GraphJson {
        window_seconds: window,
        source: source_text.to_owned(),
        nodes: view.nodes.iter().map(NodeJson::new).collect(),
        edges: view
            .edges
            .iter()
            .skip(offset)
            .take(limit as usize)
            .map(EdgeJson::new)
            .collect(),
        total,
        limit: limit as usize,
        offset,
    })
    .into_response())
}

async fn graph_view(
    state: &AppState,
    window: i64,
    source: Source,
    service: Option<&str>,
) -> Result<GraphView, ApiError> {
    let snapshot = state.catalog.snapshot();
    state
        .traces
        .view(state.catalog.store(), &snapshot, window, source, service)
        .await
        .map_err(ApiError::from)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowParams {
    window: Option<String>,
}

#[derive(Serialize)]
struct CallsJson {
    service: String,
    window_seconds: i64,
    /// Who calls it, observed and declared.
    callers: Vec<EdgeJson>,
    /// What it calls, observed and declared.
    callees: Vec<EdgeJson>,
}

/// `GET /api/v1/services/{name}/calls`: a service's callers and callees with versions,
/// observed and declared, drift flagged. 404 when neither the catalog nor the spans of
/// the window know the name.
async fn service_calls(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<WindowParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<CallsJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let view = graph_view(&state, window, Source::Both, Some(&name)).await?;
    if state.catalog.snapshot().service(&name).is_none() && view.edges.is_empty() {
        return Err(ApiError::NotFound { name });
    }
    Ok(Json(CallsJson {
        callers: view
            .edges
            .iter()
            .filter(|e| e.callee == name)
            .map(EdgeJson::new)
            .collect(),
        callees: view
            .edges
            .iter()
            .filter(|e| e.caller == name && e.callee != name)
            .map(EdgeJson::new)
            .collect(),
        service: name,
        window_seconds: window,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PropagationParams {
    window: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct PropagationJson {
    service: String,
    /// `incoming`: its server spans arrive as roots although it has callers;
    /// `outgoing`: its calls start new traces although it serves requests.
    broken: &'static str,
    spans: u64,
    roots: u64,
    root_ratio: f64,
    example_trace_ids: Vec<String>,
}

#[derive(Serialize)]
struct PropagationList {
    window_seconds: i64,
    findings: Vec<PropagationJson>,
    total: usize,
    limit: usize,
    offset: usize,
}

/// `GET /api/v1/propagation`: services that break the trace context, with evidence.
/// Read from memory: the window is at most an hour.
async fn propagation(
    State(state): State<AppState>,
    params: Result<Query<PropagationParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PropagationList>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    if window > state.traces.memory_seconds() {
        return Err(ApiError::InvalidQuery(format!(
            "window={window}s: propagation is counted over at most 1h"
        )));
    }
    let (limit, offset) = paging(params.limit, params.offset)?;
    let findings = state.traces.propagation(&state.catalog.snapshot(), window);
    let total = findings.len();
    Ok(Json(PropagationList {
        window_seconds: window,
        findings: findings
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|f| PropagationJson {
                root_ratio: if f.spans > 0 {
                    f.roots as f64 / f.spans as f64
                } else {
                    0.0
                },
                service: f.service,
                broken: f.broken.as_str(),
                spans: f.spans,
                roots: f.roots,
                example_trace_ids: f
                    .example_trace_ids
                    .iter()
                    .map(seam_traces::trace_hex)
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
struct EdgeParams {
    caller: Option<String>,
    callee: Option<String>,
    window: Option<String>,
    step: Option<String>,
}

#[derive(Serialize)]
struct EdgePointJson {
    start: Option<chrono::DateTime<chrono::Utc>>,
    calls: f64,
    request_rate: f64,
    error_ratio: Option<f64>,
    latency_p50_seconds: Option<f64>,
    latency_p95_seconds: Option<f64>,
}

#[derive(Serialize)]
struct VersionJson {
    caller_version: Option<String>,
    callee_version: Option<String>,
    calls: f64,
    error_ratio: Option<f64>,
}

#[derive(Serialize)]
struct OperationJson {
    operation: String,
    calls: f64,
}

#[derive(Serialize)]
struct EdgeDetailJson {
    caller: String,
    callee: String,
    window_seconds: i64,
    step_seconds: i64,
    declared: bool,
    points: Vec<EdgePointJson>,
    versions: Vec<VersionJson>,
    operations: Vec<OperationJson>,
}

/// `GET /api/v1/edges?caller=&callee=&window=1h&step=1m`: one edge over time, with the
/// versions and operations seen. 404 when it was neither observed in the window nor
/// declared.
async fn edge_detail(
    State(state): State<AppState>,
    params: Result<Query<EdgeParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EdgeDetailJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let (Some(caller), Some(callee)) = (params.caller, params.callee) else {
        return Err(ApiError::InvalidQuery(
            "caller and callee are required: /api/v1/edges?caller=A&callee=B".to_owned(),
        ));
    };
    let window = match params.window.as_deref() {
        None => 3600,
        text => window(text)?,
    };
    let step = match params.step.as_deref() {
        None => (window / 240).max(60),
        Some(text) => match parse_duration(text) {
            Some(step) if step >= 1 => step,
            _ => {
                return Err(ApiError::InvalidQuery(format!(
                    "step={text:?}: expected a duration such as 1m or 1h"
                )))
            }
        },
    };
    if window / step > MAX_POINTS {
        return Err(ApiError::InvalidQuery(format!(
            "window / step is {} points: at most {MAX_POINTS}; use a larger step",
            window / step
        )));
    }
    let snapshot = state.catalog.snapshot();
    let detail = state
        .traces
        .edge_detail(
            state.catalog.store(),
            &snapshot,
            &caller,
            &callee,
            window,
            step,
        )
        .await?
        .ok_or_else(|| ApiError::NotFound {
            name: format!("{caller} -> {callee}"),
        })?;
    Ok(Json(EdgeDetailJson {
        window_seconds: window,
        step_seconds: detail.step,
        declared: detail.declared,
        points: detail
            .points
            .iter()
            .map(|p| EdgePointJson {
                start: chrono::TimeZone::timestamp_opt(&chrono::Utc, p.start, 0).single(),
                calls: p.stats.requests,
                request_rate: p.stats.rate(p.seconds as f64),
                error_ratio: p.stats.error_ratio(),
                latency_p50_seconds: p.stats.quantile(0.5),
                latency_p95_seconds: p.stats.quantile(0.95),
            })
            .collect(),
        versions: detail
            .versions
            .iter()
            .map(|v| VersionJson {
                caller_version: v.caller_version.clone(),
                callee_version: v.callee_version.clone(),
                calls: v.calls.requests,
                error_ratio: v.calls.error_ratio(),
            })
            .collect(),
        operations: detail
            .operations
            .iter()
            .map(|(operation, calls)| OperationJson {
                operation: operation.clone(),
                calls: *calls,
            })
            .collect(),
        caller,
        callee,
    }))
}
