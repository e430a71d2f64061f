//! Scraping end to end over real HTTP on 127.0.0.1: a registered service's instance is
//! an exporter the test runs; Seam scrapes it, probes its health URL, rolls the requests
//! up into health, answers the API, keeps the statistics across a restart and follows
//! catalog changes. Buckets of one second stand in for minutes.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::{manifest, Exporter, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

async fn fast_server(data: Option<tempfile::TempDir>) -> TestServer {
    let server = TestServer::start_with(|config| {
        config.collectors.scrape.interval_secs = 0.2;
        config.collectors.scrape.timeout_secs = 0.2;
        config.health.bucket_secs = 1;
        config.health.window_secs = 3;
        if let Some(dir) = &data {
            config.data_dir = dir.path().to_owned();
        }
    })
    .await;
    match data {
        // Keep the directory alive with the server.
        Some(dir) => TestServer {
            data: dir,
            ..server
        },
        None => server,
    }
}

/// Polls `path` until `done` holds for its JSON; panics after 10 s with the last answer.
async fn wait_json(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, body) = server.get_json(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        if done(&body) {
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {last:#}");
}

fn service<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from {health:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_registered_instances_into_health() {
    let pay = Exporter::start().await;
    let cart = Exporter::start().await;
    let server = fast_server(None).await;
    common::register_pay_and_cart(&server, &pay, &cart).await;

    // The new revision's instances become targets and are scraped and probed.
    let targets = wait_json(&server, "/api/v1/targets", |body| {
        body["total"] == 2
            && body["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["health"] == "up" && t["probe"]["health"] == "up")
    })
    .await;
    let target = &targets["targets"][1];
    assert_eq!(target["service"], "pay");
    assert_eq!(target["url"], format!("{}/metrics", pay.base));
    assert_eq!(target["samples"], 8);
    assert_eq!(target["request_metrics"], "otel-http");
    assert!(target["duration_seconds"].as_f64().unwrap() > 0.0);
    assert!(target["last_scrape"].as_str().unwrap().ends_with('Z'));

    // Traffic from now on: pay fails a fifth of its requests, cart none.
    let pay = Arc::new(pay);
    let cart = Arc::new(cart);
    let traffic = common::traffic(vec![(pay.clone(), 40, 10), (cart.clone(), 50, 0)]);
    let health = wait_json(&server, "/api/v1/health", |body| {
        service(body, "pay")["state"] == "failing"
            && service(body, "cart")["request_rate"].as_f64().unwrap() > 0.0
    })
    .await;
    let pay_health = service(&health, "pay");
    assert!(
        (pay_health["error_ratio"].as_f64().unwrap() - 0.2).abs() < 0.05,
        "{pay_health}"
    );
    assert!(pay_health["latency_p95_seconds"].as_f64().is_some());
    assert_eq!(pay_health["domain"], "money");
    assert_eq!(pay_health["standard_metrics"]["found"], "otel-http");
    assert_eq!(
        pay_health["standard_metrics"]["lacks"],
        serde_json::json!([])
    );
    assert_eq!(service(&health, "cart")["state"], "healthy");
    assert_eq!(health["services"][0]["name"], "pay", "worst first");
    let domains: Vec<(&str, &str)> = health["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["state"].as_str().unwrap()))
        .collect();
    assert_eq!(domains, [("money", "failing"), ("shop", "healthy")]);
    assert!(["degraded", "failing"].contains(&health["state"].as_str().unwrap()));
    assert_eq!(health["counts"]["failing"], 1);
    assert_eq!(health["total"], 2);

    // The per-bucket series of the service.
    let series = wait_json(
        &server,
        "/api/v1/services/pay/health?window=1m&step=1s",
        |body| {
            body["points"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["requests"].as_f64().unwrap() > 0.0)
                .count()
                >= 2
        },
    )
    .await;
    assert_eq!(series["step_seconds"], 1);
    assert_eq!(series["window_seconds"], 60);
    assert_eq!(series["points"].as_array().unwrap().len(), 60);
    let (status, body) = server
        .get_json("/api/v1/services/pay/health?window=40d")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("30d"),
        "{body}"
    );
    let (status, _) = server.get_json("/api/v1/services/nope/health").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A failing health probe degrades the instance; Seam's own metrics count scrapes.
    cart.healthy.store(false, Ordering::SeqCst);
    wait_json(&server, "/api/v1/targets?service=cart", |body| {
        body["targets"][0]["probe"]["health"] == "down"
            && body["targets"][0]["probe"]["status"] == 503
    })
    .await;
    let (_, own) = server.get_text("/metrics").await;
    assert!(own.contains("seam_scrapes_total{result=\"ok\"}"), "{own}");
    assert!(
        own.contains("seam_scrape_targets{health=\"up\"} 2"),
        "{own}"
    );
    assert!(own.contains("seam_scrape_duration_seconds_bucket"), "{own}");
    let cart_up = format!(
        "seam_scrape_up{{instance=\"{}\",service=\"cart\"}} 1",
        cart.base
    );
    assert!(own.contains(&cart_up), "{own}");

    // Removing an instance from the manifest drops its target without a restart.
    let (status, _) = server
        .put_manifest(&manifest("cart", "shop", &[]), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    wait_json(&server, "/api/v1/targets", |body| body["total"] == 1).await;
    let (_, own) = server.get_text("/metrics").await;
    assert!(
        !own.contains(&cart_up),
        "a removed target's series go: {own}"
    );
    let (status, body) = server.get_json("/api/v1/targets?health=sideways").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    traffic.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_survive_a_restart() {
    let pay = Exporter::start().await;
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_owned();
    let server = fast_server(Some(data)).await;
    server
        .put_manifest(&manifest("pay", "money", &[&pay.base]), None)
        .await;
    // Serve until closed buckets (all but the last, open one) hold requests: a stop
    // loses at most the open bucket.
    let mut served = 0;
    for _ in 0..100 {
        pay.serve(10, 0);
        served += 10;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, body) = server
            .get_json("/api/v1/services/pay/health?window=1m&step=1s")
            .await;
        let points = body["points"].as_array().unwrap();
        let counted: f64 = points[..points.len() - 1]
            .iter()
            .map(|p| p["requests"].as_f64().unwrap())
            .sum();
        if counted >= 50.0 {
            break;
        }
    }
    assert!(served >= 50);
    let TestServer { running, data, .. } = server;
    running.stop().await.unwrap();
    let before: f64 = {
        let store = seam_store::open(None, &path).await.unwrap();
        let rows = store.read_health("pay", "", 0, i64::MAX).await.unwrap();
        assert!(!rows.is_empty(), "closed buckets were written");
        rows.iter().map(|b| b.row.stats.requests).sum()
    };
    assert!(before >= 40.0, "requests written before the stop: {before}");

    // After a restart the series still shows them.
    let server = fast_server(Some(data)).await;
    let body = wait_json(
        &server,
        "/api/v1/services/pay/health?window=1m&step=1s",
        |body| body["points"].as_array().is_some(),
    )
    .await;
    let after: f64 = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_f64().unwrap())
        .sum();
    assert!(after >= before, "{after} < {before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_targets_outside_the_catalog_are_scraped_too() {
    let legacy = Arc::new(Exporter::start().await);
    let url = format!("{}/metrics", legacy.base);
    let static_url = url.clone();
    let server = TestServer::start_with(move |config| {
        config.collectors.scrape = toml::from_str(&format!(
            "interval_secs = 0.2\ntimeout_secs = 0.2\n[[static_targets]]\nservice = \"legacy\"\nurl = \"{static_url}\"\n"
        ))
        .unwrap();
        config.health.bucket_secs = 1;
        config.health.window_secs = 3;
    })
    .await;
    let traffic = common::traffic(vec![(legacy.clone(), 10, 0)]);
    let targets = wait_json(&server, "/api/v1/targets", |body| {
        body["targets"][0]["health"] == "up"
    })
    .await;
    assert_eq!(targets["targets"][0]["url"], url);
    assert_eq!(targets["targets"][0]["service"], "legacy");
    // Not in the catalog, yet in the health report, as an unregistered service.
    let health = wait_json(&server, "/api/v1/health", |body| {
        body["services"][0]["request_rate"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;
    assert_eq!(service(&health, "legacy")["state"], "healthy");
    traffic.abort();
}
