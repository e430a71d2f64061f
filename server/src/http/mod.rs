//! Seam's HTTP surface: the web app (server-rendered Leptos pages, server functions under
//! `/rpc/`, assets under `/pkg/`), the REST API under `/api/v1/`, `/metrics`, `/healthz`
//! and `/readyz`.

mod api;
mod error;

use std::time::{Duration, Instant};

use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use seam_app::api::WriteTokens;
use seam_store::SharedStore;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

use crate::metrics::{HttpRequestCompleted, Metrics};

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: SharedStore,
    pub metrics: Metrics,
    /// Bearer tokens accepted on write calls; empty means none is needed.
    pub write_tokens: WriteTokens,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Longest time any request may take before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(seam_app::App);
    let store = state.store.clone();
    let tokens = state.write_tokens.clone();
    let pkg_dir = std::path::Path::new(&*state.leptos_options.site_root)
        .join(&*state.leptos_options.site_pkg_dir);

    Router::new()
        .nest("/api/v1", api::router())
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest_service(
            "/pkg",
            ServeDir::new(pkg_dir)
                .precompressed_gzip()
                .precompressed_br(),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(store.clone());
                provide_context(tokens.clone());
            },
            {
                let options = state.leptos_options.clone();
                move || seam_app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            seam_app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            track_request,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO)),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .with_state(state)
}

/// Checks the bearer token of a write call, when tokens are configured (the same check
/// the web forms' server functions make).
fn authorize(state: &AppState, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if state.write_tokens.allows(presented) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Counts and times every request, labelled by its route pattern (never the raw path,
/// which would let clients create unbounded label values).
async fn track_request(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    HttpRequestCompleted {
        method: &method,
        route: &route,
        status: response.status().as_u16(),
        elapsed: started.elapsed(),
    }
    .emit(&state.metrics);
    response
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers too.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {err}\n"),
            )
                .into_response()
        }
    }
}
