//! The principles in the REST API: findings of the policy in effect, scorecards with
//! their roll-ups per team and domain, and the policy itself.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use seam_principles::{Code, Finding, Policy, RollUp, Scorecard, Severity, SeverityCounts};
use serde::{Deserialize, Serialize};

use super::api::paging;
use super::traces_api::window;
use super::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/findings", get(findings))
        .route("/scorecards", get(scorecards))
        .route("/policy", get(policy))
}

type Rejection = axum::extract::rejection::QueryRejection;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingParams {
    window: Option<String>,
    /// Findings that hold this service responsible or name it.
    service: Option<String>,
    /// One code, e.g. `SEAM-CYCLE-001`.
    code: Option<String>,
    /// This severity and above: `info`, `warning`, `error`.
    severity: Option<String>,
    /// Include waived findings (default true).
    waived: Option<bool>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct FindingsJson {
    window_seconds: i64,
    evaluated_at: String,
    policy: String,
    /// Every finding of the evaluation, by severity.
    totals: SeverityCounts,
    total: usize,
    limit: usize,
    offset: usize,
    findings: Vec<Finding>,
}

/// `GET /api/v1/findings`: the policy's findings over a window, the most severe first;
/// `service=`, `code=`, `severity=` (that one and above) and `waived=false` narrow them.
async fn findings(
    State(state): State<AppState>,
    params: Result<Query<FindingParams>, Rejection>,
) -> Result<Json<FindingsJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let code = params
        .code
        .as_deref()
        .map(|text| {
            Code::parse(text).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "code={text:?}: expected one of {}",
                    Code::ALL.map(Code::as_str).join(", ")
                ))
            })
        })
        .transpose()?;
    let severity = params
        .severity
        .as_deref()
        .map(|text| {
            Severity::parse(text).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "severity={text:?}: expected info, warning or error"
                ))
            })
        })
        .transpose()?;
    let evaluation = state.principles.evaluate(window).await?;
    let matching: Vec<&Finding> = evaluation
        .findings
        .iter()
        .filter(|f| code.is_none_or(|c| f.code == c))
        .filter(|f| severity.is_none_or(|s| f.severity >= s))
        .filter(|f| params.waived.unwrap_or(true) || !f.is_waived())
        .filter(|f| {
            params
                .service
                .as_ref()
                .is_none_or(|s| f.objects.iter().chain(&f.related).any(|name| name == s))
        })
        .collect();
    Ok(Json(FindingsJson {
        window_seconds: window,
        evaluated_at: evaluation
            .evaluated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        policy: evaluation.policy.clone(),
        totals: evaluation.totals,
        total: matching.len(),
        limit,
        offset,
        findings: matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect(),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScorecardParams {
    window: Option<String>,
    /// Only services of this owner team, or of this domain.
    team: Option<String>,
    domain: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

#[derive(Serialize)]
struct ScorecardsJson {
    window_seconds: i64,
    evaluated_at: String,
    policy: String,
    /// Roll-ups: services per level, the worst level, findings by severity.
    teams: Vec<RollUp>,
    domains: Vec<RollUp>,
    total: usize,
    limit: usize,
    offset: usize,
    scorecards: Vec<Scorecard>,
}

/// `GET /api/v1/scorecards`: each service's level (bronze, silver, gold or none) with
/// every rule's outcome, and the roll-ups per team and domain.
async fn scorecards(
    State(state): State<AppState>,
    params: Result<Query<ScorecardParams>, Rejection>,
) -> Result<Json<ScorecardsJson>, ApiError> {
    let Query(params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let window = window(params.window.as_deref())?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let evaluation = state.principles.evaluate(window).await?;
    let matching: Vec<&Scorecard> = evaluation
        .scorecards
        .iter()
        .filter(|s| {
            params
                .team
                .as_ref()
                .is_none_or(|t| s.owner.as_ref() == Some(t))
        })
        .filter(|s| {
            params
                .domain
                .as_ref()
                .is_none_or(|d| s.domain.as_ref() == Some(d))
        })
        .collect();
    Ok(Json(ScorecardsJson {
        window_seconds: window,
        evaluated_at: evaluation
            .evaluated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        policy: evaluation.policy.clone(),
        teams: evaluation.teams.clone(),
        domains: evaluation.domains.clone(),
        total: matching.len(),
        limit,
        offset,
        scorecards: matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .cloned()
            .collect(),
    }))
}

#[derive(Serialize)]
struct PolicyJson<'a> {
    /// `built-in`, or the file it was read from.
    source: String,
    /// Why the file's newest version is not in effect (it has mistakes), if so.
    reload_error: Option<&'a str>,
    policy: &'a Policy,
}

/// `GET /api/v1/policy`: the principles in effect, their rules with parameters, the
/// waivers, and where the policy came from.
async fn policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    let loaded = state.principles.loaded();
    Json(
        serde_json::to_value(PolicyJson {
            source: loaded.source.describe(),
            reload_error: loaded.reload_error.as_deref(),
            policy: &loaded.policy,
        })
        .unwrap_or_default(),
    )
}
