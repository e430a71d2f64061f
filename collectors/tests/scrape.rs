//! The scraper against small HTTP servers on loopback, honest and hostile: each failure
//! fails its own scrape with a clear error, within the timeout, and never delays others.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use seam_collectors::outbound::OutboundPolicy;
use seam_collectors::scrape::{
    self, Limits, ScrapeClient, ScrapeConfig, ScrapeError, ScrapeEvent, TargetSpec,
};
use seam_health::{InstanceKey, Matcher, RedMetric};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// What a test server does with each connection once it has read the request head.
type Behaviour =
    Arc<dyn Fn(String, TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Serves every connection with `behaviour`; returns the base URL.
async fn server(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                behaviour(String::from_utf8_lossy(&head).into_owned(), stream).await;
            });
        }
    });
    format!("http://{addr}")
}

/// A server answering every request with `status`, `content_type` and `body`.
async fn answering(status: u16, content_type: &'static str, body: Vec<u8>) -> String {
    let body = Arc::new(body);
    server(Arc::new(move |_, mut stream| {
        let body = body.clone();
        Box::pin(async move {
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        })
    }))
    .await
}

fn spec(url: &str, timeout: Duration) -> TargetSpec {
    TargetSpec {
        key: InstanceKey {
            service: "svc".to_owned(),
            instance: url.to_owned(),
        },
        url: format!("{url}/metrics"),
        health_url: Some(format!("{url}/healthz")),
        interval: Duration::from_secs(10),
        timeout,
    }
}

fn limits() -> Limits {
    Limits {
        body_bytes: 1024 * 1024,
        samples: 1000,
        labels: 8,
        label_name_bytes: 64,
        label_value_bytes: 128,
    }
}

fn client() -> ScrapeClient {
    ScrapeClient::new(OutboundPolicy::default(), limits()).unwrap()
}

fn matcher() -> Arc<Matcher> {
    Arc::new(Matcher::new(RedMetric::standard()))
}

async fn scrape_error(url: &str, timeout: Duration) -> ScrapeError {
    let (scrape, _) = scrape::scrape_once(&client(), &spec(url, timeout), matcher()).await;
    scrape.error.expect("the scrape fails")
}

const GOOD: &str = "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 10\nhttp_requests_total{code=\"500\"} 1\nup_time 3\n";

#[tokio::test]
async fn a_good_target_is_up_with_its_samples() {
    let url = answering(200, "text/plain; version=0.0.4", GOOD.into()).await;
    let (scrape, scraped) =
        scrape::scrape_once(&client(), &spec(&url, Duration::from_secs(5)), matcher()).await;
    assert!(scrape.up(), "{:?}", scrape.error);
    assert_eq!(scrape.samples, 3);
    let scraped = scraped.unwrap();
    assert_eq!(scraped.coverage.mapping.as_deref(), Some("prometheus-http"));
    assert_eq!(scraped.len(), 2);
}

#[tokio::test]
async fn asks_for_openmetrics_and_parses_what_the_target_chose() {
    // The server answers OpenMetrics only when asked for it, as client libraries do.
    let url = server(Arc::new(|head: String, mut stream: TcpStream| {
        Box::pin(async move {
            let asked = head
                .to_ascii_lowercase()
                .contains("accept: application/openmetrics-text;version=1.0.0");
            let (content_type, body) = if asked {
                (
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    "# TYPE requests counter\nrequests_total 5\n# EOF\n",
                )
            } else {
                ("text/plain", "wrong 1\nwrong 2\n")
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
        })
    }))
    .await;
    let (scrape, _) =
        scrape::scrape_once(&client(), &spec(&url, Duration::from_secs(5)), matcher()).await;
    assert!(scrape.up(), "{:?}", scrape.error);
    assert_eq!(scrape.samples, 1);

    // Declared OpenMetrics without its `# EOF`: invalid as a whole.
    let url = answering(
        200,
        "application/openmetrics-text; version=1.0.0",
        b"a_total 1\n".to_vec(),
    )
    .await;
    let err = scrape_error(&url, Duration::from_secs(5)).await;
    assert_eq!(err.reason(), "parse", "{err}");
}

#[tokio::test]
async fn garbage_fails_with_line_and_column() {
    let url = answering(200, "text/plain", b"ok 1\nthis is { not metrics\n".to_vec()).await;
    let err = scrape_error(&url, Duration::from_secs(5)).await;
    let message = err.to_string();
    assert_eq!(err.reason(), "parse");
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("column"), "{message}");
}

#[tokio::test]
async fn a_hanging_target_times_out_without_delaying_others() {
    let hanging = server(Arc::new(|_, stream| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(stream);
        })
    }))
    .await;
    let good = answering(200, "text/plain", GOOD.into()).await;
    let client = client();
    let timeout = Duration::from_millis(500);
    let hanging_spec = spec(&hanging, timeout);
    let good_spec = spec(&good, timeout);
    let started = std::time::Instant::now();
    let ((hung, _), (fine, _)) = tokio::join!(
        scrape::scrape_once(&client, &hanging_spec, matcher()),
        scrape::scrape_once(&client, &good_spec, matcher()),
    );
    assert_eq!(
        hung.error.as_ref().map(ScrapeError::reason),
        Some("timeout")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(fine.up());
    assert!(
        fine.duration < timeout,
        "the good target answered in {:?}",
        fine.duration
    );
}

#[tokio::test]
async fn a_trickling_target_times_out() {
    let url = server(Arc::new(|_, mut stream| {
        Box::pin(async move {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100000\r\n\r\n",
                )
                .await;
            for _ in 0..1000 {
                if stream.write_all(b"a").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }))
    .await;
    let started = std::time::Instant::now();
    let err = scrape_error(&url, Duration::from_millis(400)).await;
    assert_eq!(err.reason(), "timeout", "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_endless_body_fails_at_the_limit() {
    // No content-length: the limit is enforced while reading.
    let url = server(Arc::new(|_, mut stream| {
        Box::pin(async move {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n",
                )
                .await;
            let line = b"metric_with_a_long_name{label=\"value\"} 1\n".repeat(1000);
            // Up to 1 GB, unless Seam hangs up first.
            for _ in 0..(1 << 30) / line.len() {
                if stream.write_all(&line).await.is_err() {
                    return;
                }
            }
        })
    }))
    .await;
    let started = std::time::Instant::now();
    let err = scrape_error(&url, Duration::from_secs(20)).await;
    assert_eq!(err, ScrapeError::BodySize(1024 * 1024));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_gzip_bomb_fails_fast() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..64 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = Arc::new(encoder.finish().unwrap());
    assert!(
        bomb.len() < 1024 * 1024,
        "64 MiB compressed to {} bytes",
        bomb.len()
    );
    let url = server(Arc::new(move |head: String, mut stream: TcpStream| {
        let bomb = bomb.clone();
        Box::pin(async move {
            let asks_gzip = head.to_ascii_lowercase().contains("accept-encoding: gzip");
            let encoding = if asks_gzip { "gzip" } else { "identity-not-asked" };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-encoding: {encoding}\r\ncontent-length: {}\r\n\r\n",
                bomb.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&bomb).await;
        })
    }))
    .await;
    let started = std::time::Instant::now();
    let err = scrape_error(&url, Duration::from_secs(10)).await;
    assert_eq!(err, ScrapeError::BodySize(1024 * 1024));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn sample_and_label_limits_fail_the_scrape() {
    let many: String = (0..1001).map(|i| format!("m{i} 1\n")).collect();
    let cases: Vec<(String, &str)> = vec![
        (many, "sample_limit"),
        (
            "m{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"} 1\n"
                .to_owned(),
            "label_limit",
        ),
        (
            format!("m{{{}=\"1\"}} 1\n", "n".repeat(65)),
            "label_length_limit",
        ),
        (
            format!("m{{a=\"{}\"}} 1\n", "v".repeat(129)),
            "label_length_limit",
        ),
    ];
    for (body, reason) in cases {
        let url = answering(200, "text/plain", body.into_bytes()).await;
        let err = scrape_error(&url, Duration::from_secs(5)).await;
        assert_eq!(err.reason(), reason, "{err}");
    }
    // At the limits exactly, the scrape passes.
    let at_limit: String = (0..1000)
        .map(|i| format!("m{i}{{a=\"{}\"}} 1\n", "v".repeat(128)))
        .collect();
    let url = answering(200, "text/plain", at_limit.into_bytes()).await;
    let (scrape, _) =
        scrape::scrape_once(&client(), &spec(&url, Duration::from_secs(5)), matcher()).await;
    assert!(scrape.up(), "{:?}", scrape.error);
}

#[tokio::test]
async fn http_errors_and_refused_addresses_fail_the_scrape() {
    let url = answering(503, "text/plain", b"busy".to_vec()).await;
    assert_eq!(
        scrape_error(&url, Duration::from_secs(5)).await,
        ScrapeError::Status(503)
    );
    let err = scrape_error("http://169.254.169.254", Duration::from_secs(5)).await;
    assert_eq!(err.reason(), "policy", "{err}");
}

#[tokio::test]
async fn the_scraper_follows_its_targets_and_probes_health() {
    let healthy = server(Arc::new(|head: String, mut stream: TcpStream| {
        Box::pin(async move {
            let body = if head.starts_with("GET /healthz") {
                "ok"
            } else {
                GOOD
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
        })
    }))
    .await;
    let sick = answering(500, "text/plain", b"no".to_vec()).await;
    let fast = |url: &str| TargetSpec {
        interval: Duration::from_millis(200),
        ..spec(url, Duration::from_millis(200))
    };
    let (targets_tx, targets_rx) = watch::channel(vec![fast(&healthy)]);
    let (events_tx, mut events) = mpsc::channel(16);
    let (_stop_tx, stop) = watch::channel(false);
    let scraper = tokio::spawn(scrape::run(
        ScrapeConfig::default(),
        OutboundPolicy::default(),
        targets_rx,
        events_tx,
        stop,
    ));
    async fn next(events: &mut mpsc::Receiver<ScrapeEvent>) -> ScrapeEvent {
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .expect("an event within 5 s")
            .expect("the scraper runs")
    }
    match next(&mut events).await {
        ScrapeEvent::Scraped {
            target,
            scrape,
            probe,
        } => {
            assert_eq!(target.key.instance, healthy);
            assert!(scrape.up(), "{:?}", scrape.error);
            assert_eq!(probe.map(|p| p.up), Some(true));
        }
        other => panic!("{other:?}"),
    }
    // A new target list: the healthy target goes, the sick one comes.
    targets_tx.send(vec![fast(&sick)]).unwrap();
    let mut removed = false;
    let mut sick_seen = false;
    while !(removed && sick_seen) {
        match next(&mut events).await {
            ScrapeEvent::Removed { key } => {
                assert_eq!(key.instance, healthy);
                removed = true;
            }
            ScrapeEvent::Scraped {
                target,
                scrape,
                probe,
            } if target.key.instance == sick => {
                assert_eq!(scrape.error, Some(ScrapeError::Status(500)));
                let probe = probe.expect("probed");
                assert!(!probe.up);
                assert_eq!(probe.status, Some(500));
                sick_seen = true;
            }
            ScrapeEvent::Scraped { .. } => assert!(!removed, "scraped after its removal"),
            other => panic!("{other:?}"),
        }
    }
    scraper.abort();
}

#[test]
fn timeouts_never_exceed_the_interval_and_jitter_stays_within_it() {
    let config: ScrapeConfig = toml::from_str(
        "interval_secs = 5\ntimeout_secs = 10\n[services.slow]\ninterval_secs = 60\ntimeout_secs = 30\n",
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.schedule("any"),
        (Duration::from_secs(5), Duration::from_secs(5))
    );
    assert_eq!(
        config.schedule("slow"),
        (Duration::from_secs(60), Duration::from_secs(30))
    );
    let interval = Duration::from_secs(15);
    let offsets: std::collections::BTreeSet<_> = (0..50)
        .map(|i| scrape::jitter(&format!("http://10.0.0.{i}/metrics"), interval))
        .collect();
    assert!(offsets.iter().all(|offset| *offset < interval));
    assert!(offsets.len() > 45, "offsets spread");
    let bad: ScrapeConfig = toml::from_str("interval_secs = 0").unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("interval_secs"));
    assert!(toml::from_str::<ScrapeConfig>("intervall_secs = 1").is_err());
    let scale: ScrapeConfig = toml::from_str(
        "[services.pay]\n[[services.pay.red]]\nname = \"x\"\nrequests = \"x_total\"\nduration_scale = -1.0\n",
    )
    .unwrap();
    let err = scale.validate().unwrap_err().to_string();
    assert!(
        err.contains("services.pay.red") && err.contains("duration_scale"),
        "{err}"
    );
}
