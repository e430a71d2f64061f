//! Seam's collectors.
//!
//! Each collector is a config struct (serde, unknown fields refused, one doc comment per
//! field, which is the user documentation) plus a function that builds its task, in the
//! manner of Vector's sources. Collectors know nothing of the database or of manifest
//! syntax: they hand what they fetch, as raw text with its origin, to a channel the
//! server gives them, where the same validation as every other input applies.

pub mod directory;
pub mod discovery;
pub mod otlp;
pub mod outbound;
pub mod prometheus;
pub mod scrape;
pub mod servicegraph;

use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// What a collector found at one origin (a file, a URL), not yet parsed.
#[derive(Debug)]
pub struct ManifestBatch {
    /// `discovery` or `directory`: stored as the revision's source.
    pub source: &'static str,
    /// Where it came from (file path or URL): stored as the entries' origin.
    pub origin: String,
    pub content: Content,
    /// The content is everything the origin declares (a file of a GitOps directory):
    /// what it declared before and no longer does is removed.
    pub replaces_origin: bool,
    /// Told what became of the batch once ingest is done with it.
    pub done: oneshot::Sender<Outcome>,
}

/// What an origin holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Manifest text.
    Text(String),
    /// Nothing any more: the file was removed, or the service stopped serving its
    /// manifest for several rounds.
    Gone,
}

/// What ingest did with a batch. A collector remembers content as seen only once it is
/// settled (stored, or refused for good), so content that met a passing store failure
/// is sent again on the next round instead of being lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stored,
    /// Invalid: sending it again would fail again.
    Refused,
    /// Not stored for a reason that may pass (the database did not answer).
    Failed,
}

impl Outcome {
    /// Whether the content needs no second attempt.
    pub fn is_settled(self) -> bool {
        self != Outcome::Failed
    }
}

/// Where collectors send what they fetch.
pub type ManifestSink = mpsc::Sender<ManifestBatch>;

/// What every collector is given, in the manner of Vector's `SourceContext`: where its
/// typed output goes, the signal to stop, and the policy its fetches obey.
#[derive(Clone)]
pub struct CollectorContext {
    pub out: ManifestSink,
    /// Turns `true` when Seam shuts down; collectors finish the batch in hand and stop.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub policy: outbound::OutboundPolicy,
}

impl CollectorContext {
    /// Waits for the next tick of `ticker`; `false` once Seam is shutting down.
    pub async fn next_round(&mut self, ticker: &mut tokio::time::Interval) -> bool {
        if *self.shutdown.borrow() {
            return false;
        }
        tokio::select! {
            _ = ticker.tick() => true,
            _ = self.shutdown.wait_for(|stop| *stop) => false,
        }
    }
}

/// Sends what `origin` holds to ingest and waits for its outcome; `None` when ingest is
/// gone.
pub async fn deliver(
    sink: &ManifestSink,
    source: &'static str,
    origin: String,
    content: Content,
    replaces_origin: bool,
) -> Option<Outcome> {
    let (done, outcome) = oneshot::channel();
    let batch = ManifestBatch {
        source,
        origin,
        content,
        replaces_origin,
        done,
    };
    sink.send(batch).await.ok()?;
    // Ingest dropping the batch unanswered counts as a failure to retry.
    Some(outcome.await.unwrap_or(Outcome::Failed))
}

/// The `[collectors]` table of Seam's configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorsConfig {
    /// Manifests that services serve themselves, fetched from their base URLs.
    pub discovery: Option<discovery::DiscoveryConfig>,
    /// A directory of manifest files kept in git (GitOps), watched for changes.
    pub directory: Option<directory::DirectoryConfig>,
    /// Scraping every instance's metrics and probing its health URL (on by default).
    #[serde(default)]
    pub scrape: scrape::ScrapeConfig,
    /// An existing Prometheus to read the request figures from instead of scraping;
    /// when set, Seam does not scrape.
    pub prometheus: Option<prometheus::PrometheusConfig>,
    /// The OTLP trace receivers (on by default, on loopback).
    #[serde(default)]
    pub otlp: otlp::OtlpConfig,
    /// Call-graph edges computed by another engine (the OpenTelemetry Collector's
    /// servicegraph connector, Tempo's metrics generator), read from the Prometheus that
    /// stores its `traces_service_graph_*` series.
    pub servicegraph: Option<servicegraph::ServicegraphConfig>,
}

/// Starts every configured collector; they stop on `cx.shutdown`, or when the returned
/// set is dropped. `catalog_targets` carries the instance base URLs the catalog declares,
/// for discovery.
pub fn spawn(
    config: &CollectorsConfig,
    cx: &CollectorContext,
    catalog_targets: tokio::sync::watch::Receiver<Vec<String>>,
) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    if let Some(discovery) = &config.discovery {
        tasks.spawn(discovery::run(
            discovery.clone(),
            cx.clone(),
            catalog_targets,
        ));
    }
    if let Some(directory) = &config.directory {
        tasks.spawn(directory::run(directory.clone(), cx.clone()));
    }
    tracing::info!(collectors = tasks.len(), "collectors started");
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_refuses_unknown_fields() {
        let err = toml::from_str::<CollectorsConfig>("scrape_everything = true").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown field `scrape_everything`"),
            "{err}"
        );
    }

    #[test]
    fn config_reads_both_collectors() {
        let config: CollectorsConfig = toml::from_str(
            "[discovery]\ntargets = [\"http://127.0.0.1:8080\"]\n[directory]\npath = \"manifests\"\n",
        )
        .unwrap();
        let discovery = config.discovery.unwrap();
        assert_eq!(discovery.targets, ["http://127.0.0.1:8080"]);
        assert_eq!(discovery.path, "/.well-known/seam/manifest.yaml");
        assert_eq!(discovery.interval_secs, 60);
        assert_eq!(config.directory.unwrap().path.to_str(), Some("manifests"));
    }

    #[test]
    fn config_reads_the_otlp_receivers() {
        let config: CollectorsConfig = toml::from_str("").unwrap();
        assert!(config.otlp.enabled);
        let config: CollectorsConfig = toml::from_str(
            "[otlp]\nhttp_listen = \"0.0.0.0:4318\"\ntokens = [\"collector:s3cr3t\"]\n",
        )
        .unwrap();
        assert_eq!(config.otlp.http_listen.port(), 4318);
        assert_eq!(config.otlp.tokens, ["collector:s3cr3t"]);
        assert_eq!(config.otlp.queue_batches, 256);
    }
}
