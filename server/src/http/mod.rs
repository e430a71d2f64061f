//! Seam's HTTP surface: the web app (server-rendered Leptos pages, server functions under
//! `/rpc/`, assets under `/pkg/`), the REST API under `/api/v1/`, `/metrics`, `/healthz`
//! and `/readyz`.

mod analysis_api;
mod api;
mod architecture;
mod error;
mod graph_export;
mod health_api;
mod principles_api;
mod runtime;
mod signin;
mod traces_api;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{FromRef, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use seam_store::LiveCatalog;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

use crate::auth::{ReadAccess, Tokens};
use crate::metrics::{HttpRequestCompleted, Metrics};

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    /// The catalog: its snapshot for reads, and the one way to write to it.
    pub catalog: Arc<LiveCatalog>,
    /// Runtime health: scrape targets, recent statistics, the current report.
    pub health: Arc<crate::health::Health>,
    /// The observed call graph from spans.
    pub traces: Arc<crate::traces::Traces>,
    /// The architecture analysis over the catalog and the observed graph.
    pub analysis: Arc<crate::analysis::Analysis>,
    /// The policy and its evaluation.
    pub principles: Arc<crate::principles::Principles>,
    /// Whether the OTLP receivers run (`[collectors.otlp] enabled`).
    pub receiving: bool,
    /// Whether the scraper runs (`[collectors.scrape] enabled`).
    pub scraping: bool,
    pub metrics: Metrics,
    /// Bearer tokens accepted on write calls; empty means none is needed.
    pub tokens: Tokens,
    /// Who may read; open unless read tokens are configured.
    pub read: ReadAccess,
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
    let catalog = state.catalog.clone();
    let write_access = state.tokens.write_access();
    let runtime: Arc<dyn seam_app::api::RuntimeHealth> = Arc::new(runtime::PagesHealth {
        health: state.health.clone(),
        traces: state.traces.clone(),
        receiving: state.receiving,
        catalog: state.catalog.clone(),
        scraping: state.scraping,
    });
    let architecture: Arc<dyn seam_app::api::Architecture> =
        Arc::new(architecture::PagesArchitecture {
            analysis: state.analysis.clone(),
        });
    let pkg_dir = std::path::Path::new(&*state.leptos_options.site_root)
        .join(&*state.leptos_options.site_pkg_dir);

    Router::new()
        .nest(
            "/api/v1",
            api::router()
                .merge(health_api::router())
                .merge(traces_api::router())
                .merge(analysis_api::router())
                .merge(analysis_api::versions_router())
                .merge(principles_api::router()),
        )
        .route("/register/quick", axum::routing::post(quick_register))
        .route("/signin", get(signin::page).post(signin::submit))
        .route("/signout", axum::routing::post(signin::sign_out))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .nest(
            "/pkg",
            Router::new()
                .fallback_service(
                    ServeDir::new(pkg_dir)
                        .precompressed_gzip()
                        .precompressed_br(),
                )
                .layer(axum::middleware::map_response(cache_assets)),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(catalog.clone());
                provide_context(write_access.clone());
                provide_context(runtime.clone());
                provide_context(architecture.clone());
            },
            {
                let options = state.leptos_options.clone();
                move || seam_app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            seam_app::shell,
        ))
        // Innermost first: a panic becomes a 500 and a timeout a 408 before the request
        // is counted, so both show in Seam's request metrics; every response, errors
        // included, carries the security headers.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(legacy_home_links))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signin::require_read,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            track_request,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO)),
        )
        .layer(axum::middleware::from_fn(security_headers))
        // Pages and API answers compressed on the fly; assets come precompressed.
        .layer(CompressionLayer::new())
        .with_state(state)
}

/// Checks the bearer token of a write call (the same check the web forms' server
/// functions make) and returns the name to record as the submitter.
fn authorize(state: &AppState, headers: &axum::http::HeaderMap) -> Result<String, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    state.tokens.check(presented).map_err(|err| match err {
        seam_app::dto::TokenError::Wrong => ApiError::WrongToken,
        _ => ApiError::Unauthorized,
    })
}

/// Assets named by content hash never change: cached for a year. The rest (the
/// stylesheet) is revalidated on every use.
async fn cache_assets(
    request_path: axum::extract::OriginalUri,
    mut response: Response,
) -> Response {
    use axum::http::HeaderValue;
    let name = request_path.path().rsplit('/').next().unwrap_or("");
    let hashed = name
        .split('.')
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()));
    let value = if hashed && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// Characters of each typed field the quick form's redirect carries back.
const TYPED_KEPT: usize = 200;

#[derive(serde::Deserialize)]
struct QuickForm {
    name: String,
    version: String,
    owner: String,
    #[serde(default)]
    token: Option<String>,
}

/// The quick registration form as plain HTML (before or without the wasm): registers,
/// then sends the browser back to the list with the outcome in the URL, which the page
/// renders: a confirmation, or every field error with what was typed (never the token).
async fn quick_register(
    State(state): State<AppState>,
    axum::extract::Form(form): axum::extract::Form<QuickForm>,
) -> axum::response::Redirect {
    use seam_app::dto::{encode_query_value as enc, RegisterOutcome};
    let access = state.tokens.write_access();
    let QuickForm {
        name,
        version,
        owner,
        token,
    } = form;
    // What was typed goes back into the URL, cut short: it is shown, not trusted.
    let keep = |text: &str| enc(&text.chars().take(TYPED_KEPT).collect::<String>());
    let typed = format!(
        "qr_name={}&qr_version={}&qr_owner={}",
        keep(&name),
        keep(&version),
        keep(&owner)
    );
    let outcome =
        seam_app::api::register_quick(&state.catalog, Some(&access), name, version, owner, token)
            .await;
    let target = match outcome {
        Ok(RegisterOutcome::Registered(row)) => {
            format!("/services?registered={}#register-form", enc(&row.name))
        }
        Ok(RegisterOutcome::Invalid(errors)) => {
            let errors: String = errors
                .iter()
                .map(|e| format!("&qr_error_{}={}", keep(&e.field), keep(&e.message)))
                .collect();
            format!("/services?{typed}{errors}#register-form")
        }
        Err(err) => format!(
            "/services?{typed}&qr_error_form={}#register-form",
            enc(&format!("registration failed: {err}"))
        ),
    };
    axum::response::Redirect::to(&target)
}

/// Old links to the services list at `/?owner=...` (before the overview took `/`) go
/// to `/services` with their query; `/` itself is the overview page.
async fn legacy_home_links(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if uri.path() == "/" {
        if let Some(query) = uri.query().filter(|q| !q.is_empty()) {
            return axum::response::Redirect::temporary(&format!("/services?{query}"))
                .into_response();
        }
    }
    next.run(request).await
}

/// Headers every response carries; pages set their own Content-Security-Policy with the
/// nonce of their hydration scripts, everything else gets one that allows no script.
async fn security_headers(request: Request, next: Next) -> Response {
    use axum::http::HeaderValue;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
    response
}

/// A handler that panicked: logged, and answered with a 500 instead of a dropped
/// connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({
            "error": {"code": "internal", "message": "internal error; the server log has the details"}
        })),
    )
        .into_response()
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
    match state.catalog.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            // The details go to the log, not to anonymous callers.
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database does not answer\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A handler that panics answers 500 with the API's error shape, and the process
    /// (here: the router) goes on serving.
    #[tokio::test]
    async fn a_panicking_handler_is_a_500_not_a_dropped_connection() {
        async fn boom() -> &'static str {
            panic!("handler bug")
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "fine" }))
            .layer(CatchPanicLayer::custom(panic_response));
        let request = |path: &str| {
            axum::http::Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let response = router.clone().oneshot(request("/boom")).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "internal");
        assert!(
            !json.to_string().contains("handler bug"),
            "no internals leak"
        );
        let response = router.oneshot(request("/fine")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
