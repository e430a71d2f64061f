//! Conformance of the call graph with other engines' test traces: the OpenTelemetry
//! Collector's servicegraph connector test traces (OTLP-shaped YAML), the Jaeger OTLP/JSON
//! fixtures and the OTLP specification's example, each decoded by the receivers' decoder
//! and run through the [`seam_traces::Graph`]; the edges and counters are compared with
//! the snapshots in `tests/snapshots/traces/`. The fixtures do not all ship expected
//! edges, so each snapshot begins with comments (`#`) saying why its edges are right,
//! from the fixture's source. `UPDATE_SNAPSHOTS=1` rewrites the edges, keeping the
//! comments.

mod common;

use common::testdata;
use std::path::{Path, PathBuf};

use seam_collectors::otlp;
use seam_traces::{Graph, GraphConfig};

/// The edges and counters the graph makes of one fixture, one line each, in order.
fn edges_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let decoded = if path.extension().is_some_and(|e| e == "yaml") {
        let request: otlp::json::ExportRequest =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        request.decode()
    } else {
        otlp::decode_json(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let graph = Graph::new(GraphConfig {
        shards: 1,
        pair_ttl_secs: 2,
        ..GraphConfig::default()
    });
    graph.ingest(decoded.spans, 1000);
    // Past every time-to-live: unpaired halves become virtual edges or are counted.
    graph.expire(1100);
    let mut out = String::new();
    for (key, stats) in graph.window(1100, 3600).edges {
        let version = |v: &str| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.to_owned()
            }
        };
        out.push_str(&format!(
            "{} ({}) {} -> {} ({}) {} | {} {} | op {:?} | calls {} errors {}\n",
            key.caller,
            key.caller_kind.as_str(),
            version(&key.caller_version),
            key.callee,
            key.callee_kind.as_str(),
            version(&key.callee_version),
            key.protocol,
            key.mode.as_str(),
            &*key.operation,
            stats.calls.requests,
            stats.calls.errors,
        ));
    }
    let c = graph.counters();
    out.push_str(&format!(
        "spans {} rejected {} | paired {} database {} virtual {} user {} unpaired {} duplicates {}\n",
        c.spans, decoded.rejected, c.paired, c.database, c.virtual_edges, c.user_edges, c.unpaired, c.duplicates
    ));
    out
}

#[test]
fn fixtures_make_the_edges_their_sources_describe() {
    let mut checked = 0;
    let snapshots = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/traces"
    ));
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for dir in [
        "otel-contrib-servicegraph",
        "jaeger-otlp-fixtures",
        "otlp-proto-examples",
    ] {
        let Some(dir) = testdata(dir) else { continue };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.ends_with(".yaml")
                    || name.ends_with("trace.json")
                    || name.contains("traces")
                    || name.contains("otlp2jaeger")
            })
            .collect();
        files.sort();
        for file in files {
            let got = edges_of(&file);
            let name = format!("{}.txt", file.file_name().unwrap().to_string_lossy());
            let snapshot = snapshots.join(&name);
            let existing = std::fs::read_to_string(&snapshot).unwrap_or_default();
            let comments: String = existing
                .lines()
                .filter(|l| l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            let expected: String = existing
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| format!("{l}\n"))
                .collect();
            if update {
                std::fs::create_dir_all(&snapshots).unwrap();
                std::fs::write(&snapshot, format!("{comments}{got}")).unwrap();
            } else if comments.is_empty() {
                failures.push(format!(
                    "{name}: the snapshot says nothing of why its edges are right"
                ));
            } else if got != expected {
                failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if checked > 0 {
        assert_eq!(checked, 8, "every fixture has a snapshot");
    }
}
