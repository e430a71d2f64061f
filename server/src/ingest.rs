//! Ingest: manifest text from the REST API and the collectors is parsed, validated and,
//! only when it has no errors, applied to the store in one transaction (the steps
//! themselves are `seam_store::ingest`, shared with the web forms).

use seam_catalog::manifest::{self, Diagnostic};
use seam_collectors::{Content, ManifestBatch, Outcome};
use std::sync::Arc;

use seam_store::{ingest, Change, ChangeKind, LiveCatalog, StoreError, Submission};
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
    catalog: &Arc<LiveCatalog>,
    origin: &str,
    text: String,
    by: Submission<'_>,
) -> Result<Applied, IngestError> {
    let loaded = ingest::load_text(origin, text, catalog.snapshot()).await;
    if loaded.has_errors() {
        return Err(IngestError::Invalid(loaded.diagnostics));
    }
    let changes = ingest::apply_loaded(catalog, &loaded, origin, by).await?;
    Ok(Applied {
        changes,
        warnings: loaded.diagnostics,
    })
}

/// Applies what the collectors send until every sender is gone, and tells each
/// collector what became of its batch.
pub async fn run(mut batches: mpsc::Receiver<ManifestBatch>, catalog: Arc<LiveCatalog>) {
    while let Some(batch) = batches.recv().await {
        let outcome = collected(&catalog, &batch).await;
        // The collector may have stopped waiting; nothing to do then.
        let _ = batch.done.send(outcome);
    }
}

/// Applies one collected batch: text is validated and stored like any other input; a
/// gone origin removes what it alone declared (a removed file) or marks its services
/// stale (a manifest no longer served).
async fn collected(catalog: &Arc<LiveCatalog>, batch: &ManifestBatch) -> Outcome {
    let by = Submission {
        source: batch.source,
        by: batch.source,
        origin: &batch.origin,
        replaces_origin: batch.replaces_origin,
    };
    let now = chrono::Utc::now();
    let result = match (&batch.content, batch.replaces_origin) {
        (Content::Text(text), _) => apply_text(catalog, &batch.origin, text.clone(), by)
            .await
            .map(|applied| log_removed(&batch.origin, &applied.changes)),
        (Content::Gone, true) => catalog
            .apply_catalog(&manifest::Catalog::default(), by, now)
            .await
            .map(|changes| log_removed(&batch.origin, &changes))
            .map_err(IngestError::Store),
        (Content::Gone, false) => catalog
            .mark_stale(&batch.origin, now)
            .await
            .map(|names| {
                for name in names {
                    tracing::warn!(origin = %batch.origin, service = %name, "service marked stale: its manifest is no longer served");
                }
            })
            .map_err(IngestError::Store),
    };
    match result {
        Ok(()) => Outcome::Stored,
        Err(IngestError::Invalid(diagnostics)) => {
            for d in diagnostics
                .iter()
                .filter(|d| d.severity == manifest::Severity::Error)
            {
                tracing::warn!(origin = %batch.origin, diagnostic = %d, "collected manifest refused");
            }
            Outcome::Refused
        }
        Err(IngestError::Store(err)) => {
            tracing::error!(origin = %batch.origin, error = %err, "collected manifest not stored; the collector sends it again");
            Outcome::Failed
        }
    }
}

fn log_removed(origin: &str, changes: &[Change]) {
    for change in changes.iter().filter(|c| c.change == ChangeKind::Deleted) {
        tracing::info!(origin, kind = change.kind, name = %change.name, "catalog entry removed: its source no longer declares it");
    }
}

/// Keeps `targets` equal to the instance base URLs of the catalog, for the discovery
/// collector: recomputed whenever a new snapshot is published, never by polling.
pub async fn publish_instance_urls(
    mut snapshots: tokio::sync::watch::Receiver<Arc<seam_snapshot::Snapshot>>,
    targets: tokio::sync::watch::Sender<Vec<String>>,
) {
    loop {
        let mut urls: Vec<String> = snapshots
            .borrow_and_update()
            .instances()
            .map(|i| i.instance.base_url.clone())
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
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            _ = targets.closed() => return,
        }
    }
}

/// Reads the whole catalog again every `interval`, so that writes of other Seam replicas
/// sharing the database reach this one's snapshot.
pub async fn reload_periodically(catalog: Arc<LiveCatalog>, interval: std::time::Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match catalog.reload().await {
            Ok(true) => tracing::info!("catalog changed by another replica; snapshot rebuilt"),
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "cannot reload the catalog"),
        }
    }
}
