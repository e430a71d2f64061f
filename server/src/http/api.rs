//! The REST API, `/api/v1/...`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use seam_catalog::ServiceDraft;
use seam_store::ServiceRecord;
use serde::Serialize;

use super::{ApiError, AppState};

/// Largest accepted JSON body for a service registration.
const SERVICE_BODY_LIMIT: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/services", get(list_services).post(create_service))
        .route("/services/{name}", get(get_service))
}

/// A service as the API shows it.
#[derive(Serialize)]
struct ServiceJson {
    name: String,
    version: String,
    owner: String,
    registered_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<ServiceRecord> for ServiceJson {
    fn from(r: ServiceRecord) -> Self {
        ServiceJson {
            name: r.name,
            version: r.version,
            owner: r.owner,
            registered_at: r.registered_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Serialize)]
struct ServiceList {
    services: Vec<ServiceJson>,
}

async fn list_services(State(state): State<AppState>) -> Result<Json<ServiceList>, ApiError> {
    let services = state.store.list_services().await?;
    Ok(Json(ServiceList {
        services: services.into_iter().map(ServiceJson::from).collect(),
    }))
}

async fn get_service(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<ServiceJson>, ApiError> {
    match state.store.get_service(&name).await? {
        Some(record) => Ok(Json(record.into())),
        None => Err(ApiError::NotFound { name }),
    }
}

/// `POST /api/v1/services` with `{"name", "version", "owner"}`: 201 with the stored
/// service; 400 for a body that is not JSON of that shape, 422 for invalid fields,
/// 409 when the name is taken. Nothing is stored unless the answer is 201.
async fn create_service(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ServiceJson>), ApiError> {
    require_json(&headers)?;
    let bytes = read_body(body, SERVICE_BODY_LIMIT).await?;
    let draft: ServiceDraft = parse_json(&bytes)?;
    let service = draft.validate().map_err(ApiError::Validation)?;
    let record = state
        .store
        .insert_service(&service, chrono::Utc::now())
        .await?;
    tracing::info!(service = %record.name, version = %record.version, owner = %record.owner, "service registered");
    Ok((StatusCode::CREATED, Json(record.into())))
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let found = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = found.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            found: found.to_owned(),
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
