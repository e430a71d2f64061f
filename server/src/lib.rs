//! The `seam` server: configuration, self-telemetry, the HTTP surface and start-up.
//!
//! `main.rs` parses the command line and calls [`serve`]; integration tests call
//! [`start`] on `127.0.0.1:0` and talk to it over real HTTP.

pub mod analysis;
pub mod auth;
pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod principles;
pub mod telemetry;
pub mod traces;

use std::net::SocketAddr;

use leptos::prelude::LeptosOptions;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::http::AppState;
use crate::metrics::Metrics;

/// How often a server on PostgreSQL reads the catalog again for other replicas' writes.
const CATALOG_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// A started server.
pub struct Running {
    /// The address it listens on (the real port when the configured one was 0).
    pub addr: SocketAddr,
    /// The OTLP receivers' addresses, when they run.
    pub otlp: Option<seam_collectors::otlp::Receivers>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// Writes health buckets; ends after a last write once shutdown is signalled.
    persist: JoinHandle<()>,
    /// The collectors and the ingest task; aborted when the server is dropped.
    _background: tokio::task::JoinSet<()>,
}

impl Running {
    /// Stops accepting connections, lets open requests finish, and waits.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.wait().await
    }

    /// Waits until the server stops (after a shutdown signal, or an error), and the
    /// health buckets that closed are written.
    pub async fn wait(self) -> std::io::Result<()> {
        let served = self.task.await.map_err(std::io::Error::other)?;
        let _ = self.shutdown.send(true);
        let _ = self.persist.await;
        served
    }

    /// Handle for stopping the server from elsewhere (for example a signal handler).
    pub fn stopper(&self) -> tokio::sync::watch::Sender<bool> {
        self.shutdown.clone()
    }
}

/// Opens the store, binds the listener and starts serving; returns once the listener is
/// bound, so callers may connect right away.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    use anyhow::Context;

    let store = seam_store::open(config.database_url.as_deref(), &config.data_dir)
        .await
        .context("cannot open the store")?;
    // The build names the wasm and its loader by content hash and lists them here.
    // Leptos joins this path to the binary's directory: it must be absolute.
    let hash_file = std::path::absolute(config.site_root.join("hash.txt"))
        .unwrap_or_else(|_| config.site_root.join("hash.txt"));
    let leptos_options = LeptosOptions::builder()
        .output_name("seam")
        .hash_files(hash_file.exists())
        .hash_file(std::sync::Arc::from(hash_file.display().to_string()))
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let backend = store.backend();
    let catalog = seam_store::LiveCatalog::open(store)
        .await
        .context("cannot read the catalog")?;
    let tokens = auth::Tokens::parse(&config.api_tokens);
    let metrics = Metrics::new();
    let health = health::Health::new(
        config.health.clone(),
        health::system_clock(),
        metrics.clone(),
    );
    let traces = traces::Traces::new(
        config.traces.clone(),
        config.health.clone(),
        health::system_clock(),
        health.clone(),
    );
    metrics.register_traces(traces.clone());
    let analysis = analysis::Analysis::new(
        config.analysis.clone(),
        catalog.clone(),
        traces.clone(),
        health.clone(),
    );
    let (policy, policy_source) = principles::load_policy(&config.principles)
        .map_err(|problems| anyhow::anyhow!("the policy cannot be used:\n{problems}"))?;
    let principles = principles::Principles::new(
        policy,
        policy_source,
        analysis.clone(),
        health.clone(),
        traces.clone(),
    );
    let state = AppState {
        principles,
        analysis,
        leptos_options,
        catalog,
        health: health.clone(),
        traces: traces.clone(),
        receiving: config.collectors.otlp.enabled,
        scraping: config.collectors.scrape.enabled || config.collectors.prometheus.is_some(),
        metrics,
        read: auth::ReadAccess::new(&config.read_tokens, &tokens),
        tokens,
    };
    if config.api_tokens.is_empty() {
        tracing::warn!(
            "no api token configured: write calls of the api are open to anyone who can reach seam"
        );
    }
    if !state.read.required() {
        tracing::info!(
            "no read token configured: the catalog is readable by anyone who can reach seam"
        );
    }
    let (sink, batches) = tokio::sync::mpsc::channel(64);
    let (shutdown, mut stopped) = tokio::sync::watch::channel(false);
    let (instance_urls, catalog_targets) = tokio::sync::watch::channel(Vec::new());
    let policy = seam_collectors::outbound::OutboundPolicy::new(&config.outbound)
        .context("invalid [outbound] policy")?;
    let cx = seam_collectors::CollectorContext {
        out: sink,
        shutdown: shutdown.subscribe(),
        policy: policy.clone(),
    };
    let mut background = seam_collectors::spawn(&config.collectors, &cx, catalog_targets);
    drop(cx);
    background.spawn(ingest::run(batches, state.catalog.clone()));
    background.spawn(principles::watch_policy(
        state.principles.clone(),
        config.principles.clone(),
        shutdown.subscribe(),
    ));
    if config
        .collectors
        .discovery
        .as_ref()
        .is_some_and(|d| d.from_catalog)
    {
        background.spawn(ingest::publish_instance_urls(
            state.catalog.watch(),
            instance_urls,
        ));
    }
    if let Some(source) = &config.collectors.prometheus {
        // An existing Prometheus is the source: no scraping of our own.
        let (events, reports) = tokio::sync::mpsc::channel(4096);
        let clock = health::system_clock();
        background.spawn(seam_collectors::prometheus::run(
            source.clone(),
            policy.clone(),
            config.health.bucket_secs,
            move || clock(),
            events,
            shutdown.subscribe(),
        ));
        background.spawn(health::consume_source(
            health.clone(),
            state.catalog.clone(),
            reports,
        ));
    } else if config.collectors.scrape.enabled {
        let (target_list, scrape_targets) = tokio::sync::watch::channel(Vec::new());
        let (scrape_events, scrape_reports) = tokio::sync::mpsc::channel(1024);
        background.spawn(health::publish_targets(
            config.collectors.scrape.clone(),
            health.clone(),
            state.catalog.watch(),
            target_list,
        ));
        background.spawn(seam_collectors::scrape::run(
            config.collectors.scrape.clone(),
            policy.clone(),
            scrape_targets,
            scrape_events,
            shutdown.subscribe(),
        ));
        background.spawn(health::consume(health.clone(), scrape_reports));
    }
    if let Some(source) = &config.collectors.servicegraph {
        // Edges another engine computed from spans, read from its Prometheus.
        source.validate().map_err(anyhow::Error::msg)?;
        let (rows, imported) = tokio::sync::mpsc::channel(16);
        let clock = health::system_clock();
        let metrics = state.metrics.clone();
        background.spawn(seam_collectors::servicegraph::run(
            source.clone(),
            policy.clone(),
            config.health.bucket_secs,
            move || clock(),
            rows,
            move |tally| metrics.servicegraph_source(tally),
            shutdown.subscribe(),
        ));
        background.spawn(traces::consume_imported(
            traces.clone(),
            state.catalog.store().clone(),
            imported,
        ));
    }
    let otlp = &config.collectors.otlp;
    let mut receivers = None;
    if otlp.enabled {
        let (spans, batches) = tokio::sync::mpsc::channel(otlp.queue_batches.max(1));
        let mut otlp = otlp.clone();
        if otlp.tokens.is_empty() {
            // The receivers take the API's tokens unless they have their own.
            otlp.tokens = config.api_tokens.clone();
        }
        let (bound, tasks) = seam_collectors::otlp::start(
            &otlp,
            spans,
            state.metrics.otlp_stats(),
            shutdown.subscribe(),
        )
        .await
        .context("cannot start the OTLP receivers")?;
        tracing::info!(http = %bound.http_addr, grpc = ?bound.grpc_addr, "otlp receivers listening");
        receivers = Some(bound);
        background.spawn(async move {
            let mut tasks = tasks;
            while tasks.join_next().await.is_some() {}
        });
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        background.spawn(traces::consume(traces.clone(), batches, workers));
    }
    // Not in `background`: stopping waits for them to write the buckets that closed.
    let persist = tokio::spawn({
        let store = state.catalog.store().clone();
        let health_done =
            tokio::spawn(health::persist(health, store.clone(), shutdown.subscribe()));
        let traces_done = tokio::spawn(traces::persist(traces, store, shutdown.subscribe()));
        async move {
            let _ = health_done.await;
            let _ = traces_done.await;
        }
    });
    if backend == seam_store::Backend::Postgres {
        // Other replicas may write to the same database.
        background.spawn(ingest::reload_periodically(
            state.catalog.clone(),
            CATALOG_RELOAD_INTERVAL,
        ));
    }
    let router = http::router(state);
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    tracing::info!(%addr, site_root = %config.site_root.display(), "seam listening");
    Ok(Running {
        addr,
        otlp: receivers,
        shutdown,
        task,
        persist,
        _background: background,
    })
}

/// Runs Seam until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let running = start(&config).await?;
    println!("seam is up: http://{}", running.addr);
    let stopper = running.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stopper.send(true);
    });
    running.wait().await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
