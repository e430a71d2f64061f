//! The `seam` command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use seam_server::cli::{CheckArgs, LintArgs, RegisterArgs, VersionQuestion, VersionQuestionArgs};
use seam_server::config::{Config, ServeArgs};

/// mimalloc: Seam allocates many small blocks per span and frees them on another thread;
/// glibc's malloc spent more than half of the CPU of the traces benchmark on that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Checks manifest files offline; exits 0 when all are valid, 1 otherwise
    Lint(LintArgs),
    /// Checks manifest files, then registers them with a Seam server in one transaction
    Register(RegisterArgs),
    /// Asks a Seam server whether every consumer's declared range accepts a version;
    /// exits 0 for yes, 1 for no, 2 when the question could not be asked
    CanDeploy(VersionQuestionArgs),
    /// Asks a Seam server whether nothing calls a version any more; exits 0 for yes, 1
    /// for no, 2 when the question could not be asked
    CanRetire(VersionQuestionArgs),
    /// Asks a Seam server for its policy's findings; exits 0 when none at or above
    /// --fail-on is unwaived, 1 when some are, 2 when it could not evaluate
    Check(CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
        Some(Command::Lint(args)) => Ok(seam_server::cli::lint(&args)),
        Some(Command::Register(args)) => register(&args),
        Some(Command::CanDeploy(args)) => return ask(VersionQuestion::CanDeploy, &args),
        Some(Command::CanRetire(args)) => return ask(VersionQuestion::CanRetire, &args),
        Some(Command::Check(args)) => return check(&args),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("seam: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<bool> {
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
        result.map(|()| true)
    })
}

fn register(args: &RegisterArgs) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(seam_server::cli::register(args))
}

/// `seam can-deploy` and `seam can-retire`: 0 yes, 1 no, 2 the question could not be asked.
fn ask(question: VersionQuestion, args: &VersionQuestionArgs) -> ExitCode {
    answer(seam_server::cli::ask_version(question, args))
}

/// `seam check`: 0 passes, 1 fails, 2 could not evaluate.
fn check(args: &CheckArgs) -> ExitCode {
    answer(seam_server::cli::check(args))
}

/// Runs a question to a server: 0 for yes, 1 for no, 2 when it could not be asked
/// (FORMATS.md's exit codes).
fn answer(question: impl std::future::Future<Output = anyhow::Result<bool>>) -> ExitCode {
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(question));
    match answer {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("seam: {err:#}");
            ExitCode::from(2)
        }
    }
}
