//! Seam's configuration: one [`Config`], from command-line flags, `SEAM_*` environment
//! variables and an optional TOML file, in that order of precedence, over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Deserialize;

use seam_collectors::outbound::OutboundConfig;
use seam_collectors::CollectorsConfig;

use crate::health::HealthConfig;
use crate::traces::TracesConfig;

/// The options of `seam serve`; each also reads a `SEAM_*` environment variable and a
/// key of the same name in the configuration file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML configuration file; its keys are the long option names with `_` for `-`
    /// (`api_tokens` is a list), plus the `[collectors.*]` tables of the README
    #[arg(long, env = "SEAM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for Seam's own files (the embedded SQLite database); created on first run
    /// [default: seam-data]
    #[arg(long, env = "SEAM_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address the HTTP server (dashboard, API, /metrics) listens on [default: 127.0.0.1:3000]
    #[arg(long, env = "SEAM_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Database to use: postgres://USER:PASSWORD@HOST/DB for PostgreSQL, sqlite://PATH for
    /// a SQLite file elsewhere; unset means DATA_DIR/seam.db
    #[arg(long, env = "SEAM_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// Log filter, as `info` or `seam_server=debug,sqlx=warn` [default: info]
    #[arg(long, env = "SEAM_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Log line format [default: text]
    #[arg(long, env = "SEAM_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// OTLP/HTTP endpoint that Seam exports its own traces to, as http://HOST:4318;
    /// unset (the default) exports nothing
    #[arg(long, env = "SEAM_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// Bearer token that write calls of the API (register, delete) must carry, as
    /// `name:secret` (the name is recorded with what it submits); repeat the flag or
    /// separate with commas for several. Unset: write calls are open (a warning is logged
    /// at start-up)
    #[arg(
        long = "api-token",
        env = "SEAM_API_TOKENS",
        value_name = "TOKEN",
        value_delimiter = ','
    )]
    pub api_tokens: Vec<String>,

    /// Token that reading needs, as `name:secret`: with any set, the API's reads need
    /// `Authorization: Bearer SECRET` and the web pages ask for a token once (a signed,
    /// HttpOnly cookie). API tokens read too. Unset (the default): reads are open
    #[arg(
        long = "read-token",
        env = "SEAM_READ_TOKENS",
        value_name = "NAME:SECRET",
        value_delimiter = ','
    )]
    pub read_tokens: Vec<String>,

    /// Directory of the built web assets (pkg/seam.js, pkg/seam_bg.wasm, pkg/seam.css)
    /// [default: ../site next to the binary's directory, else target/site]
    #[arg(long, env = "SEAM_SITE_ROOT", value_name = "DIR")]
    pub site_root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The configuration file; every key is optional and unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    log_level: Option<String>,
    log_format: Option<LogFormat>,
    otlp_endpoint: Option<String>,
    site_root: Option<PathBuf>,
    api_tokens: Option<Vec<String>>,
    read_tokens: Option<Vec<String>>,
    #[serde(default)]
    collectors: CollectorsConfig,
    #[serde(default)]
    outbound: OutboundConfig,
    #[serde(default)]
    health: HealthConfig,
    #[serde(default)]
    traces: TracesConfig,
    /// Where the architecture analysis begins to report.
    #[serde(default)]
    analysis: seam_analysis::Thresholds,
    /// The policy the principles are checked against.
    #[serde(default)]
    principles: crate::principles::PrinciplesConfig,
}

/// Seam's resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: Option<String>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub otlp_endpoint: Option<String>,
    pub site_root: PathBuf,
    /// Tokens accepted on write calls, as `name:secret` (the name is recorded with
    /// every revision the token submits); empty means write calls need none.
    pub api_tokens: Vec<String>,
    /// Tokens reading needs, as `name:secret`; empty means reads are open.
    pub read_tokens: Vec<String>,
    pub collectors: CollectorsConfig,
    /// Which URLs Seam may fetch when a manifest or the configuration names them.
    pub outbound: OutboundConfig,
    /// How scrapes become health states, and how long their statistics stay.
    pub health: HealthConfig,
    /// How spans are paired into the observed call graph.
    pub traces: TracesConfig,
    /// Thresholds of the architecture analysis (`[analysis]`).
    pub analysis: seam_analysis::Thresholds,
    /// The policy file (`[principles]`).
    pub principles: crate::principles::PrinciplesConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid otlp_endpoint {0:?}: expected an http:// or https:// URL")]
    OtlpEndpoint(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Resolves the configuration: flags and environment (already merged by clap), then
    /// the file named by `--config`, then defaults.
    pub fn resolve(args: ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let otlp_endpoint = args
            .otlp_endpoint
            .or(file.otlp_endpoint)
            .filter(|s| !s.is_empty());
        if let Some(endpoint) = &otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(ConfigError::OtlpEndpoint(endpoint.clone()));
            }
        }
        file.collectors
            .scrape
            .validate()
            .map_err(|err| ConfigError::Invalid(err.to_string()))?;
        let health = &file.health;
        for (key, value) in [
            ("window_secs", health.window_secs),
            ("bucket_secs", health.bucket_secs),
            ("retention_days", health.retention_days),
            ("downsample_after_hours", health.downsample_after_hours),
        ] {
            if value <= 0 {
                return Err(ConfigError::Invalid(format!(
                    "health.{key} must be positive, not {value}"
                )));
            }
        }
        // The window is held in memory per instance: a day at most keeps that bounded.
        if health.window_secs > 86_400 {
            return Err(ConfigError::Invalid(format!(
                "health.window_secs must be at most 86400 (a day), not {}",
                health.window_secs
            )));
        }
        if health.downsample_after_hours < 2 {
            return Err(ConfigError::Invalid(format!(
                "health.downsample_after_hours must be at least 2, not {}",
                health.downsample_after_hours
            )));
        }
        if 3600 % health.bucket_secs != 0 {
            return Err(ConfigError::Invalid(format!(
                "health.bucket_secs must divide an hour, not {}",
                health.bucket_secs
            )));
        }
        file.traces.validate().map_err(ConfigError::Invalid)?;
        if let Some(problem) = file.analysis.validate() {
            return Err(ConfigError::Invalid(problem));
        }
        file.collectors
            .otlp
            .validate()
            .map_err(|err| ConfigError::Invalid(err.to_string()))?;
        Ok(Config {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("seam-data")),
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            database_url: args
                .database_url
                .or(file.database_url)
                .filter(|s| !s.is_empty()),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_owned()),
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            otlp_endpoint,
            site_root: args
                .site_root
                .or(file.site_root)
                .unwrap_or_else(default_site_root),
            api_tokens: tokens(args.api_tokens, file.api_tokens),
            read_tokens: tokens(args.read_tokens, file.read_tokens),
            collectors: file.collectors,
            outbound: file.outbound,
            health: file.health,
            traces: file.traces,
            analysis: file.analysis,
            principles: file.principles,
        })
    }
}

/// Tokens from the flags or environment, else from the file; blanks dropped.
fn tokens(args: Vec<String>, file: Option<Vec<String>>) -> Vec<String> {
    let chosen = if args.is_empty() {
        file.unwrap_or_default()
    } else {
        args
    };
    chosen
        .into_iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|err| ConfigError::Parse {
        path: path.to_owned(),
        message: err.to_string().trim_end().replace('\n', " "),
    })
}

/// `target/site` beside `target/debug/seam`, wherever the target directory is; else
/// `target/site` under the working directory.
fn default_site_root() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("site")))
        .filter(|dir| dir.join("pkg").is_dir())
        .unwrap_or_else(|| PathBuf::from("target/site"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn defaults_without_any_input() {
        let config = Config::resolve(ServeArgs::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("seam-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, None);
        assert_eq!(config.log_level, "info");
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.otlp_endpoint, None);
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = write(
            "listen = \"0.0.0.0:8080\"\nlog_level = \"debug\"\ndata_dir = \"/var/lib/seam\"\n",
        );
        let args = ServeArgs {
            config: Some(file.path().to_owned()),
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..ServeArgs::default()
        };
        let config = Config::resolve(args).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.log_level, "debug");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/seam"));
    }

    #[test]
    fn unknown_keys_are_errors_with_the_file_and_line() {
        let file = write("listen = \"127.0.0.1:1\"\nlisten_port = 3\n");
        let err = Config::resolve(ServeArgs {
            config: Some(file.path().to_owned()),
            ..ServeArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(&file.path().display().to_string()), "{err}");
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("unknown field `listen_port`"), "{err}");
    }

    #[test]
    fn health_settings_are_bounded() {
        for (text, key) in [
            ("[health]\nwindow_secs = 864000\n", "window_secs"),
            ("[health]\nbucket_secs = 7\n", "bucket_secs"),
            (
                "[health]\ndownsample_after_hours = 1\n",
                "downsample_after_hours",
            ),
            ("[health]\nretention_days = 0\n", "retention_days"),
        ] {
            let file = write(text);
            let err = Config::resolve(ServeArgs {
                config: Some(file.path().to_owned()),
                ..ServeArgs::default()
            })
            .unwrap_err()
            .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn otlp_endpoint_must_be_a_url() {
        let err = Config::resolve(ServeArgs {
            otlp_endpoint: Some("localhost:4318".into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::OtlpEndpoint(_)));
    }
}
