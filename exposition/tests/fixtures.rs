//! Real expositions from Prometheus, its client libraries and node_exporter
//! (`$SEAM_TESTDATA`) all parse, with the samples and types they hold.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use seam_exposition::{Entry, Format, MetricType, Parser};

/// The directories of text expositions, and the files in them that are not one.
const DIRECTORIES: &[&str] = &[
    "prometheus-textparse",
    "prometheus-common-expfmt",
    "prometheus-promtool",
    "node_exporter-fixtures",
];

/// Legacy JSON expositions (format 0.0.2), not text.
fn is_json(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with("json2"))
}

/// OpenMetrics files say so in their names (`*.om.txt`, `dump-openmetrics-*.prom`).
fn format_of(path: &Path) -> Format {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("");
    if name.contains(".om.") || name.contains("openmetrics") {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

fn fixtures() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in DIRECTORIES {
        let Some(dir) = common::testdata(dir) else {
            continue;
        };
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && !is_json(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    samples: usize,
    types: usize,
    helps: usize,
}

fn count(input: &[u8], format: Format) -> Counts {
    let mut counts = Counts::default();
    for entry in Parser::new(input, format) {
        match entry.unwrap() {
            Entry::Sample(_) => counts.samples += 1,
            Entry::Type { .. } => counts.types += 1,
            Entry::Help { .. } => counts.helps += 1,
            Entry::Unit { .. } => {}
        }
    }
    counts
}

#[test]
fn every_fixture_parses() {
    let files = fixtures();
    if files.is_empty() {
        return;
    }
    assert_eq!(files.len(), 13, "{files:?}");
    let mut failures = Vec::new();
    let mut counts = BTreeMap::new();
    for path in &files {
        let input = fs::read(path).unwrap();
        let format = format_of(path);
        match common::parse_all(&input, format) {
            Ok(_) => {
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                counts.insert(name, count(&input, format));
            }
            Err(error) => failures.push(format!("{} ({format:?}): {error}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Counted independently: lines that are not comments, and `# TYPE`/`# HELP` lines.
    for (file, samples, types) in [
        ("e2e-output.txt", 3027, 1228),
        ("e2e-64k-page-output.txt", 3003, 1224),
        ("e2e-output-darwin.txt", 103, 96),
        ("alltypes.237mfs.prom.txt", 1857, 237),
        ("alltypes.237mfs.nometa.prom.txt", 1857, 0),
        ("alltypes.5mfs.om.txt", 53, 5),
        ("1histogram.om.txt", 42, 1),
        ("text.txt", 248, 37),
        ("dump-openmetrics-roundtrip-test.prom", 14, 0),
    ] {
        assert_eq!(
            counts.get(file),
            Some(&Counts {
                samples,
                types,
                helps: types
            }),
            "{file}"
        );
    }
}

#[test]
fn node_exporter_samples_are_read_exactly() {
    let Some(dir) = common::testdata("node_exporter-fixtures") else {
        return;
    };
    let input = fs::read(dir.join("e2e-output.txt")).unwrap();
    let samples: Vec<_> = Parser::new(&input, Format::Prometheus)
        .filter_map(|entry| match entry.unwrap() {
            Entry::Sample(sample) => Some(sample),
            _ => None,
        })
        .collect();
    // Families whose TYPE line has no samples (go_gc_duration_seconds here) are fine.
    let first = &samples[0];
    assert_eq!(first.name, "node_arp_entries");
    assert_eq!(first.labels.get("device").as_deref(), Some("eth0"));
    assert_eq!(first.value, 3.0);
    assert_eq!(first.family_type, MetricType::Gauge);
    assert_eq!(first.timestamp_ms, None);
    let cpu = samples
        .iter()
        .find(|sample| sample.name == "node_cpu_seconds_total")
        .unwrap();
    assert_eq!(
        cpu.labels.iter().collect::<Vec<_>>(),
        [("cpu", "0".into()), ("mode", "idle".into())]
    );
    assert_eq!(cpu.value, 10870.69);
    assert_eq!(cpu.family_type, MetricType::Counter);
}

#[test]
fn types_follow_the_type_lines() {
    let Some(dir) = common::testdata("prometheus-textparse") else {
        return;
    };
    let with_meta = fs::read(dir.join("alltypes.237mfs.prom.txt")).unwrap();
    let without = fs::read(dir.join("alltypes.237mfs.nometa.prom.txt")).unwrap();
    let samples = |input: &[u8]| -> Vec<(String, String, u64, MetricType)> {
        Parser::new(input, Format::Prometheus)
            .filter_map(|entry| match entry.unwrap() {
                Entry::Sample(s) => Some((
                    s.name.into_owned(),
                    common::render_labels(&s.labels),
                    s.value.to_bits(),
                    s.family_type,
                )),
                _ => None,
            })
            .collect()
    };
    let typed = samples(&with_meta);
    let untyped = samples(&without);
    assert_eq!(typed.len(), untyped.len());
    for (a, b) in typed.iter().zip(&untyped) {
        assert_eq!((&a.0, &a.1, a.2), (&b.0, &b.1, b.2), "same samples");
        assert_eq!(b.3, MetricType::Unknown, "{}: no TYPE line", b.0);
    }
    let mut by_type = BTreeMap::new();
    for sample in &typed {
        *by_type.entry(sample.3.as_str()).or_insert(0) += 1;
        if sample.0.ends_with("_bucket") {
            assert_eq!(sample.3, MetricType::Histogram, "{}", sample.0);
        }
    }
    // 15 histograms and 13 summaries, each of one or more label sets; every sample of
    // this file has a TYPE line.
    assert_eq!(by_type.get("unknown"), None, "{by_type:?}");
    let families = |kind: MetricType| {
        let mut names: Vec<&str> = typed
            .iter()
            .filter(|s| s.3 == kind && s.0.ends_with("_count"))
            .map(|s| s.0.trim_end_matches("_count"))
            .collect();
        names.dedup();
        names.len()
    };
    assert_eq!(families(MetricType::Histogram), 15);
    assert_eq!(families(MetricType::Summary), 13);
}

#[test]
fn openmetrics_fixtures_keep_exemplars_and_timestamps() {
    let Some(dir) = common::testdata("prometheus-textparse") else {
        return;
    };
    let input = fs::read(dir.join("alltypes.5mfs.om.txt")).unwrap();
    let exemplars: Vec<_> = Parser::new(&input, Format::OpenMetrics)
        .filter_map(|entry| match entry.unwrap() {
            Entry::Sample(s) => s.exemplar,
            _ => None,
        })
        .collect();
    assert_eq!(exemplars.len(), 6);
    assert_eq!(exemplars[0].labels.get("dummyID").as_deref(), Some("17783"));
    assert_eq!(exemplars[0].value, -0.0003825067330956884);
    assert_eq!(exemplars[0].timestamp_ms, Some(1_726_839_814_223));

    let Some(dir) = common::testdata("prometheus-promtool") else {
        return;
    };
    let input = fs::read(dir.join("dump-openmetrics-roundtrip-test.prom")).unwrap();
    let first = Parser::new(&input, Format::OpenMetrics)
        .find_map(|entry| match entry.unwrap() {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(first.timestamp_ms, Some(1_700_215_884_373));
    assert_eq!(first.value, 1.0267820369e10);
}

/// Prometheus' fuzzing corpus for its text parser: valid inputs with edge cases and
/// inputs its old parser rejects. Whatever the verdict, nothing panics and errors point
/// into the input.
#[test]
fn fuzz_corpus_never_panics() {
    let Some(dir) = common::testdata("prometheus-common-expfmt/fuzz-corpus") else {
        return;
    };
    let mut files = 0;
    for entry in fs::read_dir(dir).unwrap() {
        let input = fs::read(entry.unwrap().path()).unwrap();
        for format in [Format::Prometheus, Format::OpenMetrics] {
            common::check_error_position(&input, format);
        }
        files += 1;
    }
    assert_eq!(files, 26);
}
