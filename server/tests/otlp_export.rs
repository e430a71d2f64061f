//! Seam exports its own spans over OTLP/HTTP when an endpoint is configured.
//!
//! A separate test binary, because it installs the process-wide tracing subscriber.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use seam_server::config::LogFormat;

#[derive(Default, Clone)]
struct Received(Arc<Mutex<Vec<(String, Bytes)>>>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_configured_otlp_endpoint() {
    // A stand-in OTLP/HTTP receiver on loopback that records what it is sent.
    let received = Received::default();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        post({
            let received = received.clone();
            move |headers: HeaderMap, body: Bytes| async move {
                let content_type = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                received.0.lock().unwrap().push((content_type, body));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let telemetry = seam_server::telemetry::init("warn", LogFormat::Text, Some(&endpoint)).unwrap();
    let server =
        common::TestServer::start_with(|config| config.otlp_endpoint = Some(endpoint)).await;
    let running = server.running;
    let status = reqwest::get(format!("http://{}/healthz", running.addr))
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    running.stop().await.unwrap();
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();

    let received = received.0.lock().unwrap();
    assert!(!received.is_empty(), "no export reached the receiver");
    let (content_type, body) = &received[0];
    assert_eq!(content_type, "application/x-protobuf");
    // The protobuf carries the resource's service.name and the request span's route.
    let raw = String::from_utf8_lossy(body);
    assert!(
        raw.contains("service.name") && raw.contains("seam"),
        "{raw:?}"
    );
    assert!(received
        .iter()
        .any(|(_, b)| String::from_utf8_lossy(b).contains("/healthz")));
}
