//! Read protection: with read tokens configured, every request but health, Seam's own
//! metrics, static assets and the sign-in page needs a token: a bearer token for the
//! API, a session cookie (set by signing in once) for the pages.

use axum::extract::{Form, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use crate::auth::{SESSION_COOKIE, SESSION_SECONDS};

/// Paths anyone may reach.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz"
            | "/readyz"
            | "/metrics"
            | "/signin"
            | "/signout"
            | "/favicon.svg"
            | "/robots.txt"
    ) || path.starts_with("/pkg/")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The value of the session cookie, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Lets a request through when reads are open, or it carries a read token or a valid
/// session; otherwise answers 401 (API, server functions) or sends the browser to sign in.
pub async fn require_read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.read.required() || is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = bearer.is_some_and(|token| state.read.check(Some(token)).is_some())
        || session_cookie(headers).is_some_and(|v| state.read.verify_session(v, now()).is_some());
    if allowed {
        return next.run(request).await;
    }
    let path = request.uri().path();
    if path.starts_with("/api/") || path.starts_with("/rpc/") {
        let body = serde_json::json!({"error": {
            "code": "unauthorized",
            "message": "reading needs a token: send `Authorization: Bearer TOKEN` with a configured read or API token",
        }});
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    Redirect::to(&format!(
        "/signin?next={}",
        seam_app::dto::encode_query_value(target)
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct SignIn {
    token: String,
    next: Option<String>,
}

/// Where to go after signing in: only a path of this site, never another origin.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        // Browsers drop tabs and newlines from URLs (`/\t/evil` becomes `//evil`): no
        // whitespace or control character at all.
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            path
        }
        _ => "/services",
    }
}

pub async fn page(Query(query): Query<NextQuery>) -> Response {
    form(StatusCode::OK, safe_next(query.next.as_deref()), None)
}

pub async fn submit(State(state): State<AppState>, Form(input): Form<SignIn>) -> Response {
    let next = safe_next(input.next.as_deref()).to_owned();
    let token = input.token.trim();
    let Some(name) = state.read.check(Some(token)).filter(|_| !token.is_empty()) else {
        let message = if token.is_empty() {
            "Enter a token."
        } else {
            "This token is not accepted."
        };
        return form(StatusCode::UNAUTHORIZED, &next, Some(message));
    };
    let Some(value) = state.read.session(&name, now()) else {
        return form(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("This token is not accepted."),
        );
    };
    tracing::info!(token = %name, "signed in");
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}"
    );
    let mut response = Redirect::to(&next).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn sign_out() -> Response {
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("seam_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The sign-in page: plain HTML, no script.
fn form(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| {
            format!(
                r#"<p class="error" role="alert" id="signin-error">{}</p>"#,
                escape(e)
            )
        })
        .unwrap_or_default();
    let invalid = if error.is_empty() { "false" } else { "true" };
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Seam</title><link rel="stylesheet" href="/pkg/seam.css"><link rel="icon" href="/favicon.svg" type="image/svg+xml"></head>
<body><header class="topbar"><span class="brand">Seam</span></header>
<main><section class="page"><h1>Sign in</h1>
<p class="muted">This Seam shows its catalog to holders of a read or API token.</p>
{error}
<form method="post" action="/signin" class="register" id="signin-form">
<input type="hidden" name="next" value="{next}">
<label class="field" for="signin-token"><span>Token</span>
<input id="signin-token" name="token" type="password" autocomplete="current-password" required aria-invalid="{invalid}"></label>
<button type="submit">Sign in</button>
</form></section></main></body></html>"#,
        next = escape(next),
    );
    (status, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_signing_in() {
        assert_eq!(safe_next(Some("/services?q=a")), "/services?q=a");
        assert_eq!(safe_next(Some("//evil.example/")), "/services");
        assert_eq!(safe_next(Some("https://evil.example/")), "/services");
        assert_eq!(safe_next(Some("/\\evil.example")), "/services");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/services");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/services");
        assert_eq!(safe_next(None), "/services");
    }
}
