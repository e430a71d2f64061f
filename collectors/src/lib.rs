//! Seam's collectors.
//!
//! Each collector is a config struct (serde, unknown fields refused, one doc comment per
//! field, which is the user documentation) plus a function that builds its task, in the
//! manner of Vector's sources. Collectors know nothing of the database: they hand what
//! they gather to a sink the server gives them.
//!
//! The set is empty in this first version: manifest discovery, the metrics scraper and
//! the OTLP receivers arrive as their own modules, each added to [`CollectorsConfig`]
//! and [`spawn`].

use serde::Deserialize;
use tokio::task::JoinSet;

/// The `[collectors]` table of Seam's configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorsConfig {}

/// Starts every configured collector; the tasks end when the returned set is dropped
/// (which aborts them) or when they finish on their own.
pub fn spawn(config: &CollectorsConfig) -> JoinSet<()> {
    let CollectorsConfig {} = config;
    let tasks = JoinSet::new();
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
}
