//! The architecture analysis in the REST API: every observation, or those of one kind
//! (cycles, chatty pairs, hubs, shared datastores, drift), over a window.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{TimeZone, Utc};
use seam_analysis::{Component, Kind, Observation, Stats};
use serde::{Deserialize, Serialize};

use super::api::paging;
use super::traces_api::window;
use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analysis", get(all))
        .route("/analysis/cycles", get(cycles))
        .route("/analysis/chatty", get(chatty))
        .route("/analysis/hubs", get(hubs))
        .route("/analysis/chains", get(chains))
        .route("/analysis/shared-datastores", get(shared_datastores))
        .route("/analysis/crossings", get(crossings))
        .route("/analysis/drift", get(drift))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    window: Option<String>,
    /// Only observations of these kinds (comma-separated), on `/analysis`.
    kind: Option<String>,
    /// Only observations concerning this service.
    service: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct AnalysisJson {
    window_seconds: i64,
    /// When the analysis ran (it is recomputed when the catalog changes and once a
    /// minute at most).
    computed_at: String,
    stats: Stats,
    /// Strongly connected components (on `/analysis` and `/analysis/cycles`).
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<Component>>,
    total: usize,
    limit: usize,
    offset: usize,
    observations: Vec<Observation>,
}

async fn answer(
    state: AppState,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
    kinds: Option<&[Kind]>,
    components: bool,
) -> Result<Json<AnalysisJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let asked: Option<Vec<Kind>> = match (&params.kind, kinds) {
        (Some(_), Some(_)) => {
            return Err(ApiError::InvalidQuery(
                "kind: only /api/v1/analysis takes it; this endpoint has its kinds".into(),
            ))
        }
        (Some(text), None) => Some(
            text.split(',')
                .map(|word| {
                    Kind::parse(word.trim()).ok_or_else(|| {
                        ApiError::InvalidQuery(format!(
                            "kind={word:?}: expected one of {}",
                            Kind::ALL.map(Kind::as_str).join(", ")
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
        (None, kinds) => kinds.map(<[Kind]>::to_vec),
    };
    let computed = state.analysis.current(window).await?;
    let matching: Vec<&Observation> = computed
        .report
        .observations
        .iter()
        .filter(|o| asked.as_ref().is_none_or(|kinds| kinds.contains(&o.kind)))
        .filter(|o| {
            params
                .service
                .as_ref()
                .is_none_or(|s| o.services.iter().any(|name| name == s))
        })
        .collect();
    Ok(Json(AnalysisJson {
        window_seconds: window,
        computed_at: Utc
            .timestamp_opt(computed.at, 0)
            .single()
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stats: computed.report.stats.clone(),
        components: components.then(|| computed.report.components.clone()),
        total: matching.len(),
        limit,
        offset,
        observations: matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect(),
    }))
}

type Q = Result<Query<Params>, axum::extract::rejection::QueryRejection>;

/// `GET /api/v1/analysis`: every observation, by kind then id; `kind=cycle,hub` and
/// `service=` narrow it.
async fn all(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, None, true).await
}

/// `GET /api/v1/analysis/cycles`: elementary cycles and the strongly connected
/// components they lie in.
async fn cycles(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::Cycle]), true).await
}

/// `GET /api/v1/analysis/chatty`: chatty pairs.
async fn chatty(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::ChattyPair]), false).await
}

/// `GET /api/v1/analysis/hubs`: orchestration hubs.
async fn hubs(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::Hub]), false).await
}

/// `GET /api/v1/analysis/chains`: the deepest synchronous call chains.
async fn chains(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::DeepChain]), false).await
}

/// `GET /api/v1/analysis/shared-datastores`.
async fn shared_datastores(
    State(state): State<AppState>,
    params: Q,
) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::SharedDatastore]), false).await
}

/// `GET /api/v1/analysis/crossings`: calls across bounded contexts outside declared APIs.
async fn crossings(
    State(state): State<AppState>,
    params: Q,
) -> Result<Json<AnalysisJson>, ApiError> {
    answer(state, params, Some(&[Kind::ContextCrossing]), false).await
}

/// `GET /api/v1/analysis/drift`: declared but not observed, observed but not declared.
async fn drift(State(state): State<AppState>, params: Q) -> Result<Json<AnalysisJson>, ApiError> {
    answer(
        state,
        params,
        Some(&[Kind::DeclaredNotObserved, Kind::ObservedNotDeclared]),
        false,
    )
    .await
}
