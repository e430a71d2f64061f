//! Directory: watches a directory of manifest files (kept in git, GitOps style) and
//! sends each file whose content changed. Polls, so it works on every file system.
//!
//! A file counts as seen only once ingest settled it (stored or refused), so a passing
//! store failure is retried on the next scan. A removed file removes nothing from the
//! catalog; services are deleted explicitly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ManifestSink;

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

/// Scans once: returns the files whose content differs from what `seen` remembers (the
/// caller records them as seen once ingest settled them).
pub fn scan(config: &DirectoryConfig, seen: &HashMap<PathBuf, String>) -> Vec<(PathBuf, String)> {
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
            changed.push((file, text));
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
            let changed = scan(&scan_config, &seen);
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
        for (file, text) in changed {
            let origin = file.display().to_string();
            match crate::deliver(&sink, "directory", origin, text.clone()).await {
                None => return,
                Some(outcome) if outcome.is_settled() => {
                    seen.insert(file, text);
                }
                Some(_) => {}
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
        assert!(scan(&config, &seen).is_empty());

        std::fs::create_dir(dir.path().join("team-a")).unwrap();
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 1").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a manifest").unwrap();
        std::fs::write(dir.path().join("huge.yaml"), "x".repeat(200)).unwrap();
        let first = scan(&config, &seen);
        assert_eq!(first.len(), 1);
        assert!(first[0].0.ends_with("team-a/checkout.yaml"));
        assert_eq!(first[0].1, "a: 1");
        // Until ingest settles it, a file is offered again.
        assert_eq!(scan(&config, &seen), first);
        seen.extend(first);
        assert!(
            scan(&config, &seen).is_empty(),
            "settled files are not sent again"
        );
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 2").unwrap();
        let second = scan(&config, &seen);
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].1, "a: 2");
    }

    #[test]
    fn a_missing_directory_is_a_warning_not_a_crash() {
        let config = DirectoryConfig {
            path: PathBuf::from("/nonexistent/seam-manifests"),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
        };
        assert!(scan(&config, &HashMap::new()).is_empty());
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::Outcome;

    /// A file whose first delivery meets a store failure is sent again, and only once
    /// it is settled is it left alone.
    #[tokio::test]
    async fn a_failed_delivery_is_retried_on_the_next_scan() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a: 1").unwrap();
        let config = DirectoryConfig {
            path: dir.path().to_owned(),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(run(config, tx));
        let first = rx.recv().await.unwrap();
        first.done.send(Outcome::Failed).unwrap();
        let second = rx.recv().await.unwrap();
        assert_eq!(second.text, "a: 1");
        second.done.send(Outcome::Stored).unwrap();
        // Settled: the next scans send nothing until the file changes.
        std::fs::write(dir.path().join("a.yaml"), "a: 2").unwrap();
        let third = rx.recv().await.unwrap();
        assert_eq!(third.text, "a: 2");
        task.abort();
    }
}
