//! Seam's own logs and traces: structured logs with `tracing`, and, when an OTLP
//! endpoint is configured, spans exported over OTLP/HTTP with OpenTelemetry.
//!
//! Seam's own spans go only to that endpoint, never into Seam's own ingest.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("cannot build the OTLP exporter for {endpoint}: {source}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Keeps the trace pipeline alive; [`Telemetry::shutdown`] flushes what is buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the span exporter, if one runs.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(err) = provider.shutdown() {
                tracing::warn!(error = %err, "otlp exporter shutdown failed");
            }
        }
    }
}

/// Installs the global subscriber: a log layer filtered by `log_level`, plus an
/// OpenTelemetry layer exporting to `{otlp_endpoint}/v1/traces` when one is given.
pub fn init(
    log_level: &str,
    log_format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<Telemetry, TelemetryError> {
    let filter =
        EnvFilter::builder()
            .parse(log_level)
            .map_err(|source| TelemetryError::Filter {
                filter: log_level.to_owned(),
                source,
            })?;
    let fmt = match log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(true).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    };
    let provider = otlp_endpoint.map(build_provider).transpose()?;
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("seam"))
            // Our own HTTP client's spans (and the exporter's) would otherwise loop back.
            .with_filter(EnvFilter::new(
                "info,reqwest=off,hyper=off,h2=off,opentelemetry=off",
            ))
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting own traces over otlp");
    }
    Ok(Telemetry { provider })
}

fn build_provider(endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let traces_url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let exporter = SpanExporter::builder()
        .with_http()
        // Protobuf, said explicitly: the default follows which features are compiled in.
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url)
        .with_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|source| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let resource = Resource::builder()
        .with_service_name("seam")
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
