//! Directory: watches a directory of manifest files (kept in git, GitOps style) and
//! sends each file whose content changed. Polls, so it works on every file system.
//!
//! A removed file removes nothing from the catalog; services are deleted explicitly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{ManifestBatch, ManifestSink};

fn default_interval() -> u64 {
    10
}

fn default_max_bytes() -> u64 {
    1024 * 1024
}

fn default_max_files() -> usize {
    10_000
}

/// `[collectors.directory]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// Directory searched (recursively) for `*.yaml`, `*.yml` and `*.json` files.
    pub path: PathBuf,
    /// Seconds between two scans.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Largest file read, in bytes; larger files are skipped with a warning.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Most files considered in one scan.
    #[serde(default = "default_max_files")]
    pub max_files: usize,
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Lists the manifest files under `dir`, sorted, at most `max_files`.
fn list_files(dir: &Path, max_files: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() && is_manifest(&path) {
                files.push(path);
                if files.len() >= max_files {
                    tracing::warn!(dir = %dir.display(), max_files, "manifest directory has too many files; the rest are skipped");
                    files.sort();
                    return Ok(files);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Scans once: returns the files whose content differs from what `seen` remembers, and
/// updates `seen`.
pub fn scan(config: &DirectoryConfig, seen: &mut HashMap<PathBuf, String>) -> Vec<ManifestBatch> {
    let files = match list_files(&config.path, config.max_files) {
        Ok(files) => files,
        Err(err) => {
            tracing::warn!(dir = %config.path.display(), error = %err, "cannot scan manifest directory");
            return Vec::new();
        }
    };
    let mut changed = Vec::new();
    for file in files {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.len() > config.max_bytes => {
                tracing::warn!(file = %file.display(), size = meta.len(), limit = config.max_bytes, "manifest file too large; skipped");
                continue;
            }
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "cannot stat manifest file");
                continue;
            }
            Ok(_) => {}
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) => {
                tracing::warn!(file = %file.display(), error = %err, "cannot read manifest file");
                continue;
            }
        };
        if seen.get(&file) != Some(&text) {
            seen.insert(file.clone(), text.clone());
            changed.push(ManifestBatch {
                source: "directory",
                origin: file.display().to_string(),
                text,
            });
        }
    }
    changed
}

/// Runs the directory collector until the sink closes. File reads happen on the
/// blocking pool.
pub async fn run(config: DirectoryConfig, sink: ManifestSink) {
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(config.interval_secs.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let scan_config = config.clone();
        let result = tokio::task::spawn_blocking(move || {
            let changed = scan(&scan_config, &mut seen);
            (changed, seen)
        })
        .await;
        let (changed, scanned) = match result {
            Ok(pair) => pair,
            Err(err) => {
                tracing::error!(error = %err, "manifest directory scan panicked");
                return;
            }
        };
        seen = scanned;
        for batch in changed {
            if sink.send(batch).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_reports_new_and_changed_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = DirectoryConfig {
            path: dir.path().to_owned(),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
        };
        let mut seen = HashMap::new();
        assert!(scan(&config, &mut seen).is_empty());

        std::fs::create_dir(dir.path().join("team-a")).unwrap();
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 1").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a manifest").unwrap();
        std::fs::write(dir.path().join("huge.yaml"), "x".repeat(200)).unwrap();
        let first = scan(&config, &mut seen);
        assert_eq!(first.len(), 1);
        assert!(first[0].origin.ends_with("team-a/checkout.yaml"));
        assert_eq!(
            (first[0].source, first[0].text.as_str()),
            ("directory", "a: 1")
        );

        assert!(
            scan(&config, &mut seen).is_empty(),
            "unchanged files are not sent again"
        );
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 2").unwrap();
        let second = scan(&config, &mut seen);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].text, "a: 2");
    }

    #[test]
    fn a_missing_directory_is_a_warning_not_a_crash() {
        let config = DirectoryConfig {
            path: PathBuf::from("/nonexistent/seam-manifests"),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
        };
        assert!(scan(&config, &mut HashMap::new()).is_empty());
    }
}
