//! Directory: watches a directory of manifest files (kept in git, GitOps style) and
//! sends each file whose content changed. Polls, so it works on every file system.
//!
//! Each file is the whole truth of what it declares: a file that no longer declares an
//! entry, or is removed, removes that entry from the catalog (unless another source has
//! since taken it over), with `prune` (on by default). A directory that suddenly reads
//! empty removes nothing: that is more likely an unmounted volume than a decision.
//! A file counts as seen only once ingest settled it (stored or refused), so a passing
//! store failure is retried on the next scan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{CollectorContext, Content};

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
    /// Remove from the catalog what a removed file declared (and still owns). A scan
    /// that finds no file at all removes nothing.
    #[serde(default = "default_prune")]
    pub prune: bool,
}

fn default_prune() -> bool {
    true
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Lists the manifest files under `dir`, sorted, at most `max_files`; says whether the
/// listing stopped at the limit (then files past it are unknown, not gone).
fn list_files(dir: &Path, max_files: usize) -> std::io::Result<(Vec<PathBuf>, bool)> {
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
                    return Ok((files, true));
                }
            }
        }
    }
    files.sort();
    Ok((files, false))
}

/// What one scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Files whose content differs from what `seen` remembers (the caller records them
    /// as seen once ingest settled them).
    pub changed: Vec<(PathBuf, String)>,
    /// Files `seen` remembers that are gone.
    pub removed: Vec<PathBuf>,
    /// Whether the directory was listed at all (a listing error removes nothing).
    pub listed: bool,
    /// Manifest files found.
    pub files: usize,
}

/// Scans once.
pub fn scan(config: &DirectoryConfig, seen: &HashMap<PathBuf, String>) -> Scan {
    let (files, truncated) = match list_files(&config.path, config.max_files) {
        Ok(listed) => listed,
        Err(err) => {
            tracing::warn!(dir = %config.path.display(), error = %err, "cannot scan manifest directory");
            return Scan::default();
        }
    };
    let present: std::collections::HashSet<&PathBuf> = files.iter().collect();
    let mut removed: Vec<PathBuf> = seen
        .keys()
        .filter(|file| !present.contains(file))
        .cloned()
        .collect();
    removed.sort();
    let count = files.len();
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
    Scan {
        changed,
        removed,
        // A listing cut at `max_files` cannot tell a removed file from one past the cut.
        listed: !truncated,
        files: count,
    }
}

/// What a scan means for the files that are gone.
#[derive(Debug, PartialEq, Eq)]
enum Removal {
    Nothing,
    /// Without `prune`: forget them (they are sent again if they come back).
    Forget(Vec<PathBuf>),
    /// The directory reads empty: remove nothing (this many files are missing).
    Guarded(usize),
    /// Report them gone, so what they declared is removed.
    Report(Vec<PathBuf>),
}

fn removal(found: &Scan, prune: bool) -> Removal {
    if found.removed.is_empty() || !found.listed {
        Removal::Nothing
    } else if !prune {
        Removal::Forget(found.removed.clone())
    } else if found.files == 0 {
        Removal::Guarded(found.removed.len())
    } else {
        Removal::Report(found.removed.clone())
    }
}

/// Runs the directory collector until Seam shuts down or ingest is gone. File reads happen on the
/// blocking pool.
pub async fn run(config: DirectoryConfig, mut cx: CollectorContext) {
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(config.interval_secs.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while cx.next_round(&mut ticker).await {
        let sink = cx.out.clone();
        let scan_config = config.clone();
        let result = tokio::task::spawn_blocking(move || {
            let changed = scan(&scan_config, &seen);
            (changed, seen)
        })
        .await;
        let (found, scanned) = match result {
            Ok(pair) => pair,
            Err(err) => {
                tracing::error!(error = %err, "manifest directory scan panicked");
                return;
            }
        };
        seen = scanned;
        let removal = removal(&found, config.prune);
        // Two passes, so an entry moved from one file to another in the same change
        // moves (ownership passes to the new file) instead of being deleted and created:
        // first every changed file is applied without removing anything, then each file
        // that declared something before removes what it no longer declares.
        let mut settled = Vec::with_capacity(found.changed.len());
        for (file, text) in found.changed {
            let origin = file.display().to_string();
            let content = Content::Text(text.clone());
            let existed = seen.contains_key(&file);
            match crate::deliver(&sink, "directory", origin, content, false).await {
                None => return,
                Some(outcome) if outcome.is_settled() => settled.push((file, text, existed)),
                Some(_) => {}
            }
        }
        for (file, text, existed) in settled {
            if existed && config.prune {
                let origin = file.display().to_string();
                let content = Content::Text(text.clone());
                match crate::deliver(&sink, "directory", origin, content, true).await {
                    None => return,
                    Some(outcome) if !outcome.is_settled() => continue,
                    Some(_) => {}
                }
            }
            seen.insert(file, text);
        }
        let removed = match removal {
            Removal::Nothing => continue,
            Removal::Forget(files) => {
                for file in files {
                    seen.remove(&file);
                }
                continue;
            }
            Removal::Guarded(count) => {
                tracing::warn!(
                    dir = %config.path.display(),
                    files = count,
                    "manifest directory reads empty; nothing is removed from the catalog (guard against mass deletion)"
                );
                continue;
            }
            Removal::Report(files) => files,
        };
        for file in removed {
            let origin = file.display().to_string();
            tracing::info!(file = %origin, "manifest file removed; what it declared is removed");
            match crate::deliver(&sink, "directory", origin, Content::Gone, true).await {
                None => return,
                Some(outcome) if outcome.is_settled() => {
                    seen.remove(&file);
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
            prune: true,
        };
        let mut seen = HashMap::new();
        assert!(scan(&config, &seen).changed.is_empty());

        std::fs::create_dir(dir.path().join("team-a")).unwrap();
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 1").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a manifest").unwrap();
        std::fs::write(dir.path().join("huge.yaml"), "x".repeat(200)).unwrap();
        let first = scan(&config, &seen).changed;
        assert_eq!(first.len(), 1);
        assert!(first[0].0.ends_with("team-a/checkout.yaml"));
        assert_eq!(first[0].1, "a: 1");
        // Until ingest settles it, a file is offered again.
        assert_eq!(scan(&config, &seen).changed, first);
        seen.extend(first);
        assert!(
            scan(&config, &seen).changed.is_empty(),
            "settled files are not sent again"
        );
        std::fs::write(dir.path().join("team-a/checkout.yaml"), "a: 2").unwrap();
        let second = scan(&config, &seen).changed;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].1, "a: 2");
        std::fs::remove_file(dir.path().join("team-a/checkout.yaml")).unwrap();
        let gone = scan(&config, &seen);
        assert_eq!(gone.removed.len(), 1);
        assert_eq!(gone.files, 1, "huge.yaml is still there, if skipped");
    }

    #[test]
    fn a_missing_directory_is_a_warning_not_a_crash() {
        let config = DirectoryConfig {
            path: PathBuf::from("/nonexistent/seam-manifests"),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
            prune: true,
        };
        let found = scan(&config, &HashMap::new());
        assert!(found.changed.is_empty() && !found.listed);
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use crate::Outcome;

    /// A file whose first delivery meets a store failure is sent again, and only once
    /// it is settled is it left alone; a removed file is reported gone, unless the
    /// directory reads empty.
    #[tokio::test]
    async fn a_failed_delivery_is_retried_and_removed_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a: 1").unwrap();
        let config = DirectoryConfig {
            path: dir.path().to_owned(),
            interval_secs: 1,
            max_bytes: 100,
            max_files: 10,
            prune: true,
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let cx = CollectorContext {
            out: tx,
            shutdown,
            policy: Default::default(),
        };
        let task = tokio::spawn(run(config, cx));
        let first = rx.recv().await.unwrap();
        // A new file adds; it has nothing of its own to remove yet.
        assert!(!first.replaces_origin);
        first.done.send(Outcome::Failed).unwrap();
        let second = rx.recv().await.unwrap();
        assert_eq!(second.content, Content::Text("a: 1".into()));
        second.done.send(Outcome::Stored).unwrap();
        // Settled: the next scans send nothing until the files change.
        std::fs::write(dir.path().join("b.yaml"), "b: 1").unwrap();
        let third = rx.recv().await.unwrap();
        assert_eq!(third.content, Content::Text("b: 1".into()));
        third.done.send(Outcome::Stored).unwrap();
        // A changed file: first applied as it is, then it removes what it dropped.
        std::fs::write(dir.path().join("a.yaml"), "a: 2").unwrap();
        let applied = rx.recv().await.unwrap();
        assert!(!applied.replaces_origin);
        applied.done.send(Outcome::Stored).unwrap();
        let pruned = rx.recv().await.unwrap();
        assert!(pruned.replaces_origin);
        assert_eq!(pruned.content, Content::Text("a: 2".into()));
        pruned.done.send(Outcome::Stored).unwrap();
        std::fs::remove_file(dir.path().join("a.yaml")).unwrap();
        let gone = rx.recv().await.unwrap();
        assert!(gone.origin.ends_with("a.yaml"), "{}", gone.origin);
        assert_eq!(gone.content, Content::Gone);
        gone.done.send(Outcome::Stored).unwrap();
        // Shutting down ends the collector.
        stop.send(true).unwrap();
        task.await.unwrap();
    }

    #[test]
    fn an_empty_directory_removes_nothing() {
        let gone = |files: usize, listed: bool| Scan {
            changed: Vec::new(),
            removed: vec![PathBuf::from("a.yaml")],
            listed,
            files,
        };
        assert_eq!(
            removal(&gone(0, true), true),
            Removal::Guarded(1),
            "every file gone at once"
        );
        assert_eq!(
            removal(&gone(3, true), true),
            Removal::Report(vec![PathBuf::from("a.yaml")])
        );
        assert_eq!(
            removal(&gone(3, true), false),
            Removal::Forget(vec![PathBuf::from("a.yaml")])
        );
        assert_eq!(removal(&gone(0, false), true), Removal::Nothing);
    }
}
