//! The `seam` command.

use clap::{Parser, Subcommand};
use seam_server::config::{Config, ServeArgs};

/// Seam: architecture governance and observability for microservice systems.
///
/// Without a subcommand, `seam` serves the dashboard and API (as `seam serve`).
#[derive(Debug, Parser)]
#[command(name = "seam", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serves the dashboard, the API and /metrics (the default)
    Serve(ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("seam: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::resolve(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let telemetry = seam_server::telemetry::init(
            &config.log_level,
            config.log_format,
            config.otlp_endpoint.as_deref(),
        )?;
        let result = seam_server::serve(config).await;
        // The batch exporter flushes on a thread of its own; let it finish off the runtime.
        tokio::task::spawn_blocking(move || telemetry.shutdown()).await?;
        result
    })
}
