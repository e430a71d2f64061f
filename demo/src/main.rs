//! `seam-demo-fleet`: a simulated fleet of microservices for Seam's demo, every one a
//! real HTTP server on loopback, all in this one process (so hundreds fit on a laptop).
//! Their manifests reach Seam every way a real fleet's do: a watched directory, discovery
//! of the manifest a service serves, `seam register` (run by `scripts/demo`), the API.
//! Each serves its manifest at the well-known path, `/metrics` written with the
//! `prometheus` crate under the standard request metric names, and `/healthz`, and calls
//! its dependencies over HTTP; a traffic loop drives requests in at the edge. The six
//! services of `examples/manifests` are served at the ports those files declare (Seam
//! reads their manifests from that directory); the others register over the REST API.
//!
//! Deliberate smells, so the dashboard has something to show: payments and orders call
//! each other (a synchronous cycle), `legacy-reports` exposes no standard request
//! metrics, `recommendations` uses the older Prometheus client names, and payments fails
//! in bursts every few minutes.
//!
//!   seam-demo-fleet [--services 25] [--seam http://127.0.0.1:3000] [--token demo-token]

mod fleet;
mod service;

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
    /// API token for registering, as the secret Seam was given (`name:secret` → `secret`)
    #[arg(long, default_value = "demo-token")]
    token: String,
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
    let ports: Arc<HashMap<String, u16>> = Arc::new(
        specs
            .iter()
            .map(|spec| (spec.name.clone(), spec.port))
            .collect(),
    );
    let mut running = Vec::new();
    for spec in &specs {
        running.push(
            service::start(spec.clone(), ports.clone(), client.clone(), bursts.clone()).await?,
        );
    }
    tracing::info!(services = running.len(), "fleet listening");
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
    Ok(())
}
