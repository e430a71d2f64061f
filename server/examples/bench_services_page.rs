//! How long the services page and the services API take on the server with a large
//! catalog, next to what Seam did before the snapshot (filtering, sorting and paging in
//! SQL on SQLite for every request), measured in the same run on the same database.
//!
//!     cargo run --release -p seam-server --example bench_services_page [SERVICES]
//!
//! Starts Seam on a temporary SQLite database on 127.0.0.1, registers SERVICES services
//! (default 5000) in one `PUT /api/v1/manifests` per 1000, then times each request.

use std::time::{Duration, Instant};

use seam_server::config::{Config, LogFormat};

const RUNS: usize = 50;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn manifest(i: usize) -> String {
    format!(
        "---\napiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: svc-{i:05}\n  \
         description: Service number {i} of the benchmark fleet\nspec:\n  version: 1.{}.0\n  \
         owner: team-{}\n  domain: domain-{}\n  system: system-{}\n  lifecycle: production\n  \
         consumes:\n    - {{service: svc-{:05}}}\n",
        i % 7,
        i % 40,
        i % 6,
        i % 25,
        (i * 7 + 3) % 5000
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let services: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(5000);
    let data = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: data.path().to_owned(),
        listen: "127.0.0.1:0".parse()?,
        database_url: None,
        log_level: "warn".into(),
        log_format: LogFormat::Text,
        otlp_endpoint: None,
        site_root: "target/site".into(),
        api_tokens: Vec::new(),
        read_tokens: Vec::new(),
        collectors: Default::default(),
        outbound: Default::default(),
        health: Default::default(),
        traces: Default::default(),
        analysis: Default::default(),
        principles: Default::default(),
    };
    // Nothing here sends spans: no receivers on the OTLP ports.
    config.collectors.otlp.enabled = false;
    let running = seam_server::start(&config).await?;
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();

    let started = Instant::now();
    for chunk in (0..services).collect::<Vec<_>>().chunks(1000) {
        let body: String = chunk.iter().map(|i| manifest(*i)).collect();
        let response = client
            .put(format!("{base}/api/v1/manifests"))
            .header("content-type", "application/yaml")
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "{}", response.text().await?);
    }
    let registered = started.elapsed();

    let time = |path: String| {
        let client = client.clone();
        async move {
            let mut samples = Vec::with_capacity(RUNS);
            let mut bytes = 0;
            for _ in 0..RUNS {
                let started = Instant::now();
                let response = client.get(&path).send().await.unwrap();
                assert!(response.status().is_success(), "{path}");
                bytes = response.bytes().await.unwrap().len();
                samples.push(started.elapsed());
            }
            (median(samples), bytes)
        }
    };
    let page = "q=number%201&domain=domain-1&sort=owner&order=desc&page=2";
    let (page_all, page_all_bytes) = time(format!("{base}/services")).await;
    let (page_filtered, page_filtered_bytes) = time(format!("{base}/services?{page}")).await;
    let (api, api_bytes) = time(format!(
        "{base}/api/v1/services?q=number%201&domain=domain-1&sort=owner&order=desc&limit=50&offset=50"
    ))
    .await;
    let (detail, detail_bytes) = time(format!("{base}/services/svc-00042")).await;

    // One more service at this size: the write, its transaction and the new snapshot.
    let mut writes = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        let started = Instant::now();
        let response = client
            .put(format!("{base}/api/v1/manifests"))
            .header("content-type", "application/yaml")
            .body(manifest(services + i))
            .send()
            .await?;
        anyhow::ensure!(response.status().is_success(), "{}", response.text().await?);
        writes.push(started.elapsed());
    }

    // The same filtered, sorted page as SQL on the same SQLite file: what every request
    // did before the snapshot (plus parsing the rows, which is left out in its favour).
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        data.path().join("seam.db").display()
    ))
    .await?;
    let mut sql = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, manifest FROM services WHERE domain = $1 AND (lower(name) LIKE $2 \
             OR lower(coalesce(description, '')) LIKE $2 OR lower(owner) LIKE $2) \
             ORDER BY owner DESC, name DESC LIMIT 50 OFFSET 50",
        )
        .bind("domain-1")
        .bind("%number 1%")
        .fetch_all(&pool)
        .await?;
        let (_total,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM services WHERE domain = $1 AND (lower(name) LIKE $2 \
             OR lower(coalesce(description, '')) LIKE $2 OR lower(owner) LIKE $2)",
        )
        .bind("domain-1")
        .bind("%number 1%")
        .fetch_one(&pool)
        .await?;
        std::hint::black_box(rows);
        sql.push(started.elapsed());
    }

    println!("catalog: {services} services on SQLite, registered in {registered:.1?}");
    println!(
        "median of {RUNS} requests over HTTP on 127.0.0.1, server and client in one process\n"
    );
    println!("{:<62} {:>10} {:>10}", "request", "median", "bytes");
    let row = |what: &str, d: Duration, bytes: usize| {
        println!("{what:<62} {:>10.2?} {bytes:>10}", d);
    };
    row(
        "GET /services (page 1 of the whole catalog, SSR)",
        page_all,
        page_all_bytes,
    );
    row(
        "GET /services?q=&domain=&sort=owner&order=desc&page=2 (SSR)",
        page_filtered,
        page_filtered_bytes,
    );
    row(
        "GET /api/v1/services, same filter, limit 50 offset 50",
        api,
        api_bytes,
    );
    row(
        "GET /services/svc-00042 (service page, SSR)",
        detail,
        detail_bytes,
    );
    row(
        "PUT one new service (commit + snapshot rebuild)",
        median(writes),
        0,
    );
    row(
        "baseline: the same page as SQL on SQLite (query only)",
        median(sql),
        0,
    );
    running.stop().await?;
    Ok(())
}
