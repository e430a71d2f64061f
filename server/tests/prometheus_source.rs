//! An existing Prometheus as the source: a real Prometheus (Debian's `prometheus`,
//! started here on a loopback port with a 1 s scrape interval) scrapes two exporters;
//! Seam, configured with `[collectors.prometheus]`, reads the same request figures from
//! its HTTP API and never scrapes the exporters itself. Skipped when the binary is
//! missing, unless `SEAM_REQUIRE_PROMETHEUS` is set (`scripts/test` installs it).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Exporter, TestServer};
use serde_json::Value;

fn service<'a>(health: &'a Value, name: &str) -> Option<&'a Value> {
    health["services"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_red_figures_from_an_existing_prometheus() {
    let Some(bin) = common::prometheus::binary() else {
        return;
    };
    let pay = Arc::new(Exporter::start().await);
    let cart = Arc::new(Exporter::start().await);
    let prometheus =
        common::prometheus::start(&bin, &[("pay", &pay.base), ("cart", &cart.base)]).await;
    let source_url = prometheus.url.clone();
    let server = TestServer::start_with(move |config| {
        config.collectors.prometheus = Some(
            toml::from_str(&format!(
                "url = \"{source_url}\"\nrate_window_secs = 4\nlag_secs = 1\ntimeout_secs = 5\n"
            ))
            .unwrap(),
        );
        config.health.bucket_secs = 1;
        config.health.window_secs = 4;
    })
    .await;
    common::register_pay_and_cart(&server, &pay, &cart).await;

    let traffic = common::traffic(vec![(pay.clone(), 40, 10), (cart.clone(), 50, 0)]);

    // Within seconds, pay fails a fifth of its requests and cart none, as Prometheus sees.
    let mut last = Value::Null;
    let mut seen = false;
    for _ in 0..300 {
        let (_, health) = server.get_json("/api/v1/health").await;
        let pay_state = service(&health, "pay").map(|s| s["state"].clone());
        let cart_rate = service(&health, "cart").and_then(|s| s["request_rate"].as_f64());
        if pay_state == Some(Value::from("failing")) && cart_rate.is_some_and(|r| r > 0.0) {
            last = health;
            seen = true;
            break;
        }
        last = health;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "never saw pay failing and cart serving: {last:#}");
    let pay_health = service(&last, "pay").unwrap();
    let ratio = pay_health["error_ratio"].as_f64().unwrap();
    assert!((0.1..0.3).contains(&ratio), "error ratio {ratio}");
    assert_eq!(
        pay_health["instances"][0]["name"],
        pay.base.as_str(),
        "Prometheus's instance label is mapped onto the catalog's base URL"
    );
    assert_eq!(service(&last, "cart").unwrap()["state"], "healthy");

    // The targets are Prometheus's, with their health.
    let (_, targets) = server.get_json("/api/v1/targets").await;
    let urls: Vec<&str> = targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["health"] == "up")
        .map(|t| t["url"].as_str().unwrap())
        .collect();
    assert!(
        urls.contains(&format!("{}/metrics", pay.base).as_str()),
        "{targets:#}"
    );

    // Seam asked Prometheus; it never scraped the exporters itself.
    traffic.abort();
    for exporter in [&pay, &cart] {
        let agents = exporter.scrapers.lock().unwrap().clone();
        assert!(!agents.is_empty());
        assert!(
            agents.iter().all(|agent| agent.starts_with("Prometheus/")),
            "{agents:?}"
        );
    }
}
