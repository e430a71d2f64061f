//! The REST API, `/api/v1/...`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use seam_catalog::manifest::{self, Diagnostic, Limits, ServiceManifest};
use seam_catalog::ServiceDraft;
use seam_snapshot::{ServiceFilter, ServiceView, SortKey, MAX_QUERY_CHARS};
use seam_store::{Change, RevisionRecord, ServiceRecord, Submission};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};

/// Largest accepted JSON body for a service registration.
const SERVICE_BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/services", get(list_services).post(create_service))
        .route("/services/{name}", get(get_service).delete(delete_service))
        .route("/services/{name}/history", get(service_history))
        .route("/manifests", put(put_manifests))
        .route("/schema/manifest", get(manifest_schema))
}

/// A service as the API shows it.
#[derive(Serialize)]
struct ServiceJson {
    name: String,
    version: Option<String>,
    owner: String,
    /// The resolved domain: declared, or the system's for Backstage components.
    domain: Option<String>,
    system: Option<String>,
    lifecycle: String,
    kind: String,
    description: Option<String>,
    source: String,
    revision: i64,
    registered_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    /// Where the current revision came from: a file path, `api`, a discovery URL.
    origin: String,
    /// Since when discovery no longer finds its manifest; absent while it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The manifest with relations resolved (single-service reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<ServiceManifest>,
}

impl ServiceJson {
    fn new(view: &ServiceView, with_manifest: bool) -> Self {
        let m = &view.manifest;
        ServiceJson {
            name: m.name.clone(),
            version: m.version.clone(),
            owner: m.owner.clone(),
            domain: m.domain.clone(),
            system: m.system.clone(),
            lifecycle: m.lifecycle.clone(),
            kind: m.kind.clone(),
            description: m.description.clone(),
            source: view.meta.source.clone(),
            revision: view.meta.revision,
            registered_at: view.meta.registered_at,
            updated_at: view.meta.updated_at,
            origin: view.meta.origin.clone(),
            stale_since: view.meta.stale_since,
            manifest: with_manifest.then(|| m.clone()),
        }
    }

    fn from_record(r: ServiceRecord) -> Self {
        ServiceJson {
            name: r.name,
            version: r.version,
            owner: r.owner,
            domain: r.domain,
            system: r.system,
            lifecycle: r.lifecycle,
            kind: r.kind,
            description: r.description,
            source: r.source,
            revision: r.revision,
            registered_at: r.registered_at,
            updated_at: r.updated_at,
            origin: r.origin,
            stale_since: r.stale_since,
            manifest: None,
        }
    }
}

/// Largest page `GET /api/v1/services` returns; ask for more pages with `offset`.
pub const MAX_LIMIT: usize = 1000;

/// Checks `limit` (1 to [`MAX_LIMIT`], default 100) and `offset` (0 or more) of a list
/// call; every list endpoint pages the same way.
pub(super) fn paging(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIMIT as i64).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!(
            "limit={limit}: expected 1 to {MAX_LIMIT}; page with offset for more"
        )));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::InvalidQuery(format!(
            "offset={offset}: expected 0 or more"
        )));
    }
    Ok((limit as usize, offset as usize))
}

/// Query parameters of `GET /api/v1/services`: the same filter as the services page.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    owner: Option<String>,
    /// The resolved domain (through the system for Backstage components).
    domain: Option<String>,
    system: Option<String>,
    lifecycle: Option<String>,
    /// Case-insensitive substring of the name, description or owner.
    q: Option<String>,
    /// `name` (default), `owner`, `domain`, `system`, `lifecycle`, `version` or `updated`.
    sort: Option<String>,
    /// `asc` (default) or `desc`.
    order: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    /// An RFC 3339 instant: the catalog as it was then (revisions valid at that time).
    at: Option<String>,
}

impl ListParams {
    fn into_filter(self) -> Result<(ServiceFilter, usize, usize), ApiError> {
        let sort = match self.sort.as_deref() {
            None => SortKey::Name,
            Some(name) => SortKey::parse(name).ok_or_else(|| {
                ApiError::InvalidQuery(format!(
                    "sort={name:?}: expected name, owner, domain, system, lifecycle, version or updated"
                ))
            })?,
        };
        let descending = match self.order.as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::InvalidQuery(format!(
                    "order={other:?}: expected asc or desc"
                )))
            }
        };
        let (limit, offset) = paging(self.limit, self.offset)?;
        if let Some(q) = self
            .q
            .as_deref()
            .filter(|q| q.chars().count() > MAX_QUERY_CHARS)
        {
            return Err(ApiError::InvalidQuery(format!(
                "q is {} characters long: at most {MAX_QUERY_CHARS} are allowed",
                q.chars().count()
            )));
        }
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let filter = ServiceFilter {
            owner: nonempty(self.owner),
            domain: nonempty(self.domain),
            system: nonempty(self.system),
            lifecycle: nonempty(self.lifecycle),
            q: nonempty(self.q),
            sort,
            descending,
        };
        Ok((filter, offset, limit))
    }
}

#[derive(Serialize)]
struct ServiceList {
    services: Vec<ServiceJson>,
    total: usize,
    limit: usize,
    offset: usize,
}

async fn list_services(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ServiceList>, ApiError> {
    let Query(mut params) = params.map_err(|err| ApiError::InvalidQuery(err.body_text()))?;
    let at = params.at.take().map(|at| parse_instant(&at)).transpose()?;
    let (filter, offset, limit) = params.into_filter()?;
    let snapshot = match at {
        Some(at) => std::sync::Arc::new(state.catalog.snapshot_at(at).await?),
        None => state.catalog.snapshot(),
    };
    let page = snapshot.query(&filter, offset, limit);
    Ok(Json(ServiceList {
        services: page
            .services
            .into_iter()
            .map(|view| ServiceJson::new(view, false))
            .collect(),
        total: page.total,
        limit,
        offset,
    }))
}

/// Parses `at=`: an RFC 3339 instant (`2026-11-25T12:00:00Z`).
fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|err| {
            ApiError::InvalidQuery(format!(
                "at={text:?}: {err}; expected an RFC 3339 instant such as 2026-11-25T12:00:00Z"
            ))
        })
}

async fn get_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ServiceJson>, ApiError> {
    match state.catalog.snapshot().service(&name) {
        Some(view) => Ok(Json(ServiceJson::new(view, true))),
        None => Err(ApiError::NotFound { name }),
    }
}

/// `DELETE /api/v1/services/{name}`: 204, or 404; the history stays.
async fn delete_service(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let by = super::authorize(&state, &headers)?;
    if state
        .catalog
        .delete_service(&name, chrono::Utc::now())
        .await?
    {
        tracing::info!(service = %name, by = %by, "service deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound { name })
    }
}

#[derive(Serialize)]
struct RevisionJson {
    revision: i64,
    source: String,
    /// The API token's name, the collector, or `open`.
    submitted_by: String,
    /// Where it came from: a file path, `api`, a discovery URL.
    origin: String,
    /// The document that declared it, as normalised YAML in the author's field names
    /// (absent for revisions stored before Seam kept documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<String>,
    valid_from: chrono::DateTime<chrono::Utc>,
    valid_to: Option<chrono::DateTime<chrono::Utc>>,
    manifest: Option<ServiceManifest>,
}

impl From<RevisionRecord> for RevisionJson {
    fn from(r: RevisionRecord) -> Self {
        let manifest = r
            .manifest()
            .map_err(|err| tracing::error!(error = %err, "stored revision cannot be read"))
            .ok();
        RevisionJson {
            manifest,
            revision: r.revision,
            source: r.source,
            submitted_by: r.submitted_by,
            origin: r.origin,
            document: Some(r.document).filter(|d| !d.is_empty()),
            valid_from: r.valid_from,
            valid_to: r.valid_to,
        }
    }
}

#[derive(Serialize)]
struct History {
    service: String,
    revisions: Vec<RevisionJson>,
}

async fn service_history(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<History>, ApiError> {
    let revisions = state.catalog.store().service_history(&name).await?;
    if revisions.is_empty() {
        return Err(ApiError::NotFound { name });
    }
    Ok(Json(History {
        service: name,
        revisions: revisions.into_iter().map(RevisionJson::from).collect(),
    }))
}

/// `POST /api/v1/services` with `{"name", "version", "owner"}`: 201 with the stored
/// service; 400 for a body that is not JSON of that shape, 422 for invalid fields,
/// 409 when the name is taken. Nothing is stored unless the answer is 201.
async fn create_service(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ServiceJson>), ApiError> {
    let submitter = super::authorize(&state, &headers)?;
    require_content_type(&headers, &["application/json"])?;
    let bytes = read_body(body, SERVICE_BODY_LIMIT).await?;
    let draft: ServiceDraft = parse_json(&bytes)?;
    let service = draft.validate().map_err(ApiError::Validation)?;
    let by = Submission::push("api", &submitter);
    let record = state
        .catalog
        .insert_service(&service, by, chrono::Utc::now())
        .await?;
    tracing::info!(service = %record.name, owner = %record.owner, by = %submitter, "service registered");
    Ok((StatusCode::CREATED, Json(ServiceJson::from_record(record))))
}

#[derive(Serialize)]
struct ChangeJson {
    kind: &'static str,
    name: String,
    change: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<i64>,
}

impl From<Change> for ChangeJson {
    fn from(c: Change) -> Self {
        ChangeJson {
            kind: c.kind,
            name: c.name,
            change: c.change.as_str(),
            revision: c.revision,
        }
    }
}

#[derive(Serialize)]
struct ApplyResult {
    changes: Vec<ChangeJson>,
    warnings: Vec<Diagnostic>,
}

/// `PUT /api/v1/manifests`: one or more manifest documents (Seam's format or Backstage
/// descriptors, YAML or JSON), applied in one transaction. 200 with what changed per
/// entry; 422 with every diagnostic when any document is invalid, and nothing stored.
async fn put_manifests(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ApplyResult>, ApiError> {
    let submitter = super::authorize(&state, &headers)?;
    require_content_type(
        &headers,
        &[
            "application/yaml",
            "application/x-yaml",
            "text/yaml",
            "application/json",
            "text/plain",
        ],
    )?;
    let limits = Limits::default();
    let bytes = read_body(body, limits.max_bytes).await?;
    let text = std::str::from_utf8(&bytes).map_err(|err| {
        ApiError::BodyRead(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            err.valid_up_to()
        ))
    })?;
    let source = headers
        .get("x-seam-source")
        .and_then(|v| v.to_str().ok())
        .filter(|s| matches!(*s, "cli" | "api"))
        .unwrap_or("api");
    let by = Submission::push(source, &submitter);
    let applied = crate::ingest::apply_text(&state.catalog, "request body", text.to_owned(), by)
        .await
        .map_err(|err| match err {
            crate::ingest::IngestError::Invalid(diagnostics) => {
                ApiError::InvalidManifest(diagnostics)
            }
            crate::ingest::IngestError::Store(err) => err.into(),
        })?;
    Ok(Json(ApplyResult {
        changes: applied.changes.into_iter().map(ChangeJson::from).collect(),
        warnings: applied.warnings,
    }))
}

async fn manifest_schema() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        Json(manifest::json_schema()),
    )
}

fn require_content_type(headers: &HeaderMap, accepted: &[&str]) -> Result<(), ApiError> {
    let found = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = found.split(';').next().unwrap_or("").trim();
    if accepted.iter().any(|a| essence.eq_ignore_ascii_case(a)) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            found: found.to_owned(),
            expected: accepted.join(", "),
        })
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::BodyTooLarge { limit }
        } else {
            ApiError::BodyRead(err.to_string())
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| ApiError::InvalidJson {
        line: err.line(),
        column: err.column(),
        message: strip_position(&err.to_string()),
    })
}

/// serde_json appends " at line L column C"; the API reports those as fields.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
