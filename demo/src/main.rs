//! `seam-demo-fleet`: a simulated fleet of microservices for Seam's demo, every one a
//! real HTTP server on loopback, all in this one process (so hundreds fit on a laptop).
//! Their manifests reach Seam every way a real fleet's do: a watched directory, discovery
//! of the manifest a service serves, `seam register` (run by `scripts/demo`), the API.
//! Each serves its manifest at the well-known path, `/metrics` written with the
//! `prometheus` crate under the standard request metric names, and `/healthz`, and calls
//! its dependencies over HTTP; a traffic loop drives requests in where no one calls
//! (plain requests, without `traceparent`: Seam sees them come from the `user` node). The
//! five running services of `examples/manifests` are served at the ports those files declare (Seam
//! reads their manifests from that directory); the others register over the REST API.
//!
//! Every service sends its spans with the OpenTelemetry SDK over OTLP/HTTP to Seam
//! (`--otlp`, bearer `--token`; `--no-traces` turns it off): a SERVER span per request,
//! a CLIENT span per call with W3C `traceparent` passed on, a CLIENT span per database
//! query, through one shared export pipeline (`telemetry.rs`).
//!
//! Deliberate smells, so the dashboard has something to show (`fleet::smells` names them;
//! the Calls page `/calls`, the graph `GET /api/v1/graph`, `GET /api/v1/propagation` and
//! the service pages' "Observed calls" show them):
//! - a synchronous cycle: orders calls payments, which calls back into orders
//!   (`/confirm`); both declare it;
//! - payments fails in bursts every few minutes (error ratios, states change);
//! - `legacy-reports` exposes no standard request metrics, `recommendations` the older
//!   Prometheus client names;
//! - a chatty pair: cart calls pricing 8 to 12 times per request it serves ("calls per
//!   request");
//! - a database shared across bounded contexts: orders (commerce) and inventory
//!   (warehouse) both query PostgreSQL `shop-db` and declare it;
//! - an orchestrating hub: gateway calls six services on every request;
//! - broken trace propagation: search ignores the incoming `traceparent`, so its spans
//!   start new traces; its callers (gateway, recommendations) declare it, and Seam maps
//!   their unpaired calls to it by address and reports it as broken (incoming);
//! - two live versions of a provider: sessions runs 2.4.1 and 3.0.0 (two instances, both
//!   in its manifest), and identity, which declares `sessions` `^2.0`, is routed to both;
//! - an undeclared dependency: recommendations calls pricing, and no manifest says so;
//! - a declared dependency never called: cart declares inventory and never calls it.
//!
//! ```text
//! seam-demo-fleet [--services 25] [--seam http://127.0.0.1:3000] [--token demo-token]
//!                 [--otlp http://127.0.0.1:4318/v1/traces | --no-traces]
//! ```

mod fleet;
mod service;
mod telemetry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

/// Runs the demo fleet until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "seam-demo-fleet", version)]
struct Args {
    /// How many services to run (the six example ones included)
    #[arg(long, default_value_t = 25)]
    services: usize,
    /// Seam's base URL, where the extra services register
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    seam: String,
    /// API token for registering and for sending spans, as the secret Seam was given
    /// (`name:secret` → `secret`)
    #[arg(long, default_value = "demo-token")]
    token: String,
    /// Where the services send their spans: Seam's OTLP/HTTP receiver, the full URL
    #[arg(
        long,
        value_name = "URL",
        default_value = "http://127.0.0.1:4318/v1/traces"
    )]
    otlp: String,
    /// Send no spans
    #[arg(long)]
    no_traces: bool,
    /// First port of the extra services (the example ones use 8101-8105)
    #[arg(long, default_value_t = 8111)]
    base_port: u16,
    /// Requests per second into the fleet's entry points
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds between two error bursts of payments
    #[arg(long, default_value_t = 180)]
    burst_every: u64,
    /// Seconds an error burst lasts
    #[arg(long, default_value_t = 40)]
    burst_for: u64,
    /// Register every service over the API, the example ones included (for a Seam
    /// without the demo's directory and discovery collectors, as in the browser tests)
    #[arg(long)]
    register_all: bool,
    /// The `seam` binary, to register some services with `seam register`; without it
    /// they register over the API too
    #[arg(long, value_name = "PATH")]
    seam_bin: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let mut specs = fleet::plan(args.services, args.base_port);
    if args.register_all {
        for spec in &mut specs {
            spec.registration = fleet::Registration::Api;
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(8)
        .build()?;
    let bursts = Arc::new(service::Bursts::new(
        Duration::from_secs(args.burst_every),
        Duration::from_secs(args.burst_for),
    ));
    let ports: Arc<HashMap<String, Vec<u16>>> = Arc::new(
        specs
            .iter()
            .map(|spec| {
                let ports = spec.instances.iter().map(|i| i.port).collect();
                (spec.name.clone(), ports)
            })
            .collect(),
    );
    let pipeline = if args.no_traces {
        None
    } else {
        Some(telemetry::Pipeline::start(&args.otlp, &args.token)?)
    };
    let mut running = Vec::new();
    for spec in &specs {
        for instance in &spec.instances {
            let tracing = match &pipeline {
                Some(pipeline) => pipeline.tracing(&spec.name, &instance.version, instance.port),
                None => telemetry::Tracing::off(),
            };
            running.push(
                service::start(
                    spec.clone(),
                    instance.clone(),
                    ports.clone(),
                    client.clone(),
                    bursts.clone(),
                    tracing,
                )
                .await?,
            );
        }
    }
    tracing::info!(
        services = specs.len(),
        instances = running.len(),
        spans = if pipeline.is_some() {
            args.otlp.as_str()
        } else {
            "off"
        },
        "fleet listening"
    );
    fleet::register(&client, &args.seam, &args.token, &specs).await;
    fleet::register_with_cli(args.seam_bin.as_deref(), &args.seam, &args.token, &specs).await;
    let entries: Vec<String> = specs
        .iter()
        .filter(|spec| spec.entry)
        .map(|spec| spec.base_url())
        .collect();
    let traffic = tokio::spawn(fleet::traffic(client, entries, args.rate));
    tokio::signal::ctrl_c().await?;
    tracing::info!("stopping the fleet");
    traffic.abort();
    for service in running {
        service.abort();
    }
    if let Some(pipeline) = pipeline {
        // What ended is sent before the fleet goes.
        tokio::task::spawn_blocking(move || pipeline.shutdown()).await?;
    }
    Ok(())
}
