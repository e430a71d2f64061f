//! API errors and the one place that maps them to HTTP statuses and JSON bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use seam_catalog::manifest::Diagnostic;
use seam_catalog::{FieldError, Issues};
use seam_store::StoreError;
use serde::Serialize;

/// Everything an API call can fail with. Each variant says what was wrong, where, and why.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("expected content type {expected}, found {found:?}")]
    UnsupportedMediaType { found: String, expected: String },
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("cannot read request body: {0}")]
    BodyRead(String),
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("validation failed: {0}")]
    Validation(Issues),
    #[error("{} in the manifest; nothing was stored", count_errors(.0))]
    InvalidManifest(Vec<Diagnostic>),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("this call needs a bearer token: send `Authorization: Bearer TOKEN` with a configured API token")]
    Unauthorized,
    #[error("the bearer token is not one of the configured API tokens")]
    WrongToken,
    /// The request conflicts with the catalog's state; says which entry and why.
    #[error("{0}")]
    Conflict(String),
    #[error("no service named {name:?}")]
    NotFound { name: String },
    #[error("storage failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } | StoreError::Concurrent { .. } => {
                ApiError::Conflict(err.to_string())
            }
            other => ApiError::Store(other),
        }
    }
}

fn count_errors(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == seam_catalog::manifest::Severity::Error)
        .count();
    match errors {
        1 => "1 error".to_owned(),
        n => format!("{n} errors"),
    }
}

/// The JSON error body: `{"error": {"code": ..., "message": ..., ...}}`.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnostics: Option<&'a [Diagnostic]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::UnsupportedMediaType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::BodyTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::BodyRead(_) => (StatusCode::BAD_REQUEST, "body_unreadable"),
            ApiError::InvalidJson { .. } => (StatusCode::BAD_REQUEST, "invalid_json"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::InvalidManifest(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_manifest"),
            ApiError::InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::WrongToken => (StatusCode::UNAUTHORIZED, "wrong_token"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Store(err) = &self {
            tracing::error!(error = %err, "api request failed in the store");
        }
        let (line, column) = match &self {
            ApiError::InvalidJson { line, column, .. } => (Some(*line), Some(*column)),
            _ => (None, None),
        };
        let fields = match &self {
            ApiError::Validation(issues) => Some(issues.as_slice()),
            _ => None,
        };
        let diagnostics = match &self {
            ApiError::InvalidManifest(diagnostics) => Some(diagnostics.as_slice()),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                fields,
                diagnostics,
                line,
                column,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
