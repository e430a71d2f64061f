//! Ingest: manifest text from the REST API and the collectors is parsed, validated and,
//! only when it has no errors, applied to the store in one transaction (the steps
//! themselves are `seam_store::ingest`, shared with the web forms).

use seam_catalog::manifest::{self, Diagnostic};
use seam_collectors::ManifestBatch;
use seam_store::{ingest, Change, SharedStore, StoreError};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The text has errors; nothing was stored. Holds every diagnostic.
    #[error("the manifest has errors")]
    Invalid(Vec<Diagnostic>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an accepted manifest changed, and the warnings it carried.
pub struct Applied {
    pub changes: Vec<Change>,
    pub warnings: Vec<Diagnostic>,
}

/// Parses `text` (named `origin` in diagnostics), then applies it if it has no errors.
pub async fn apply_text(
    store: &SharedStore,
    origin: &str,
    text: String,
    source: &str,
) -> Result<Applied, IngestError> {
    let loaded = ingest::load_text(origin, text).await;
    if loaded.has_errors() {
        return Err(IngestError::Invalid(loaded.diagnostics));
    }
    let changes = ingest::apply_loaded(store, &loaded, origin, source).await?;
    Ok(Applied {
        changes,
        warnings: loaded.diagnostics,
    })
}

/// Applies what the collectors send until every sender is gone.
pub async fn run(mut batches: mpsc::Receiver<ManifestBatch>, store: SharedStore) {
    while let Some(batch) = batches.recv().await {
        match apply_text(&store, &batch.origin, batch.text, batch.source).await {
            Ok(_) => {}
            Err(IngestError::Invalid(diagnostics)) => {
                for d in diagnostics
                    .iter()
                    .filter(|d| d.severity == manifest::Severity::Error)
                {
                    tracing::warn!(origin = %batch.origin, diagnostic = %d, "collected manifest refused");
                }
            }
            Err(IngestError::Store(err)) => {
                tracing::error!(origin = %batch.origin, error = %err, "collected manifest not stored")
            }
        }
    }
}

/// Keeps `targets` equal to the instance base URLs that the catalog's manifests declare,
/// refreshed every `interval`, for the discovery collector.
pub async fn publish_instance_urls(
    store: SharedStore,
    targets: tokio::sync::watch::Sender<Vec<String>>,
    interval: std::time::Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let services = match store.list_services().await {
            Ok(services) => services,
            Err(err) => {
                tracing::warn!(error = %err, "cannot list instances for discovery");
                continue;
            }
        };
        let mut urls: Vec<String> = services
            .iter()
            .filter_map(|s| s.manifest())
            .flat_map(|m| m.instances.into_iter().map(|i| i.base_url))
            .collect();
        urls.sort();
        urls.dedup();
        targets.send_if_modified(|current| {
            let changed = *current != urls;
            if changed {
                *current = urls;
            }
            changed
        });
        if targets.is_closed() {
            return;
        }
    }
}
