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

pub fn versions_router() -> Router<AppState> {
    Router::new()
        .route("/versions", get(versions))
        .route("/versions/can-deploy", get(can_deploy))
        .route("/versions/can-retire", get(can_retire))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsParams {
    window: Option<String>,
    /// Only this environment.
    environment: Option<String>,
    /// Only this provider.
    service: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ProviderRow<'a> {
    environment: &'a str,
    #[serde(flatten)]
    provider: &'a seam_analysis::versions::ProviderVersions,
}

#[derive(Serialize)]
struct VersionsJson<'a> {
    window_seconds: i64,
    environments: Vec<&'a str>,
    /// One row per environment and provider, by environment then provider.
    total: usize,
    limit: usize,
    offset: usize,
    providers: Vec<ProviderRow<'a>>,
}

/// `GET /api/v1/versions`: per environment, each provider's live versions with traffic
/// shares, its consumers with their ranges, calls per version pair and verdicts.
async fn versions(
    State(state): State<AppState>,
    params: Result<Query<VersionsParams>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let computed = state.analysis.current(window).await?;
    let matrix = &computed.matrix;
    let rows: Vec<ProviderRow<'_>> = matrix
        .environments
        .iter()
        .filter(|e| {
            params
                .environment
                .as_ref()
                .is_none_or(|want| *want == e.environment)
        })
        .flat_map(|e| {
            e.providers.iter().map(move |provider| ProviderRow {
                environment: &e.environment,
                provider,
            })
        })
        .filter(|row| {
            params
                .service
                .as_ref()
                .is_none_or(|s| *s == row.provider.service)
        })
        .collect();
    let total = rows.len();
    Ok(Json(VersionsJson {
        window_seconds: window,
        environments: matrix
            .environments
            .iter()
            .map(|e| e.environment.as_str())
            .collect(),
        total,
        limit,
        offset,
        providers: rows.into_iter().skip(offset).take(limit).collect(),
    })
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionParams {
    service: Option<String>,
    version: Option<String>,
    environment: Option<String>,
    window: Option<String>,
}

fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    match value {
        Some(value) if !value.trim().is_empty() && value.len() <= 200 => Ok(value),
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "{name}: expected 1 to 200 characters"
        ))),
        None => Err(ApiError::InvalidQuery(format!("{name} is required"))),
    }
}

async fn question(
    state: AppState,
    params: Result<Query<QuestionParams>, axum::extract::rejection::QueryRejection>,
    ask: fn(&seam_analysis::Model, &str, &str, &str) -> seam_analysis::versions::Answer,
) -> Result<Json<seam_analysis::versions::Answer>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let service = required(params.service, "service")?;
    let version = required(params.version, "version")?;
    let environment = params
        .environment
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| seam_analysis::DEFAULT_ENVIRONMENT.to_owned());
    let window = window(params.window.as_deref())?;
    let computed = state.analysis.current(window).await?;
    Ok(Json(ask(&computed.model, &service, &version, &environment)))
}

/// `GET /api/v1/versions/can-deploy?service=S&version=X&environment=E`: whether every
/// consumer's declared range accepts version X of S; `{"ok", "reasons"}`.
async fn can_deploy(
    State(state): State<AppState>,
    params: Result<Query<QuestionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<seam_analysis::versions::Answer>, ApiError> {
    question(state, params, seam_analysis::versions::can_deploy).await
}

/// `GET /api/v1/versions/can-retire?service=S&version=Y&environment=E&window=1h`:
/// whether nothing called version Y of S in the window; who still calls it.
async fn can_retire(
    State(state): State<AppState>,
    params: Result<Query<QuestionParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<seam_analysis::versions::Answer>, ApiError> {
    question(state, params, seam_analysis::versions::can_retire).await
}
