//! The two steps every manifest takes on its way in, whichever door it used (REST API,
//! web form, collectors): parse and validate off the async threads, then apply.

use std::sync::Arc;

use seam_catalog::manifest::{self, Input, Limits, Loaded};
use seam_snapshot::Snapshot;

use crate::{Change, ChangeKind, LiveCatalog, StoreError, Submission};

/// Parses and validates manifest `text` (named `origin` in diagnostics) on the blocking
/// pool: a 1 MiB input takes about 0.1 s of CPU, which must not stall the async threads.
/// References are checked against the batch and against `catalog`.
pub async fn load_text(origin: &str, text: String, catalog: Arc<Snapshot>) -> Loaded {
    let origin = origin.to_owned();
    tokio::task::spawn_blocking(move || {
        manifest::load_against(
            &[Input {
                name: &origin,
                text: &text,
            }],
            &Limits::default(),
            catalog.as_ref(),
        )
    })
    .await
    .expect("manifest loading never panics")
}

/// Applies a loaded catalog that has no error diagnostics, and logs what changed.
pub async fn apply_loaded(
    catalog: &Arc<LiveCatalog>,
    loaded: &Loaded,
    origin: &str,
    by: Submission<'_>,
) -> Result<Vec<Change>, StoreError> {
    debug_assert!(!loaded.has_errors(), "only error-free catalogs are applied");
    let changes = catalog
        .apply_catalog(&loaded.catalog, by, chrono::Utc::now())
        .await?;
    for change in changes.iter().filter(|c| c.change != ChangeKind::Unchanged) {
        tracing::info!(
            origin,
            source = by.source,
            by = by.by,
            kind = change.kind,
            name = %change.name,
            change = change.change.as_str(),
            "catalog entry applied"
        );
    }
    Ok(changes)
}
