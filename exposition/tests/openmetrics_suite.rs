//! The official OpenMetrics parser test suite (`$SEAM_TESTDATA/openmetrics-parser-tests`):
//! every case that should parse does, every case that should not is rejected, except
//! the cases listed in [`DELIBERATE_DIFFERENCES`].
//!
//! Each case also has a snapshot in `tests/snapshots/openmetrics/<case>.txt`: the parsed
//! entries of a case that parses, the error of one that does not. The snapshots were
//! reviewed by hand; `SEAM_UPDATE_SNAPSHOTS=1` rewrites them after a deliberate change
//! (review the diff).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use seam_exposition::Format;

/// Cases this parser treats otherwise than the suite says, and why.
const DELIBERATE_DIFFERENCES: &[(&str, &str)] = &[
    (
        "bad_histograms_3",
        "accepted: a histogram with negative buckets may have a _sum. OpenMetrics 1.0 forbids \
         it, but the Go client writes it (prometheus-textparse/alltypes.5mfs.om.txt) and \
         Prometheus ingests it; rejecting it would fail the scrape of a healthy Go service. \
         (bad_counter_values_8 and _9, about the same rule, are still rejected: their _sum \
         has no _count)",
    ),
    (
        "bad_counter_values_17",
        "accepted: a summary's _sum may be negative. The Go client writes it when it observes \
         negative values (prometheus-textparse/alltypes.5mfs.om.txt) and Prometheus ingests it",
    ),
    (
        "bad_counter_values_19",
        "accepted: a summary's quantile values may be negative, for the same reason as \
         bad_counter_values_17 (the same Go fixture has quantile=\"0.5\" at -5e-06)",
    ),
];

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openmetrics")
}

fn should_parse(test_json: &str) -> bool {
    let after = test_json
        .split("\"shouldParse\"")
        .nth(1)
        .expect("test.json has shouldParse");
    let value = after.trim_start_matches([' ', '\t', '\n', '\r', ':']);
    assert!(
        value.starts_with("true") || value.starts_with("false"),
        "shouldParse is a boolean: {test_json}"
    );
    value.starts_with("true")
}

#[test]
fn the_official_suite_passes() {
    let Some(suite) = common::testdata("openmetrics-parser-tests") else {
        return;
    };
    let update = std::env::var_os("SEAM_UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = fs::read_dir(&suite)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("test.json").is_file())
        .collect();
    cases.sort();
    assert_eq!(
        cases.len(),
        211,
        "the suite has 44 valid and 167 invalid cases"
    );
    for (name, _) in DELIBERATE_DIFFERENCES {
        assert!(
            suite.join(name).is_dir(),
            "DELIBERATE_DIFFERENCES names {name}, which is not in the suite"
        );
    }

    let mut failures = Vec::new();
    let mut valid = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_str().unwrap();
        let json = fs::read_to_string(case.join("test.json")).unwrap();
        let input = fs::read(case.join("metrics")).unwrap();
        let suite_says = should_parse(&json);
        valid += usize::from(suite_says);
        let different = DELIBERATE_DIFFERENCES.iter().any(|(n, _)| *n == name);
        let expected = suite_says != different;
        let result = common::parse_all(&input, Format::OpenMetrics);
        let snapshot = match &result {
            Ok(entries) => common::render(entries),
            Err(error) => format!("error: {error}\n"),
        };
        if result.is_ok() != expected {
            failures.push(format!(
                "{name}: expected {}, got {}",
                if expected { "to parse" } else { "an error" },
                snapshot.trim_end()
            ));
        }
        let path = snapshot_dir().join(format!("{name}.txt"));
        if update {
            fs::create_dir_all(snapshot_dir()).unwrap();
            fs::write(&path, &snapshot).unwrap();
        } else {
            match fs::read_to_string(&path) {
                Ok(stored) if stored == snapshot => {}
                Ok(stored) => failures.push(format!(
                    "{name}: snapshot differs (SEAM_UPDATE_SNAPSHOTS=1 rewrites it)\n--- stored\n{stored}--- now\n{snapshot}"
                )),
                Err(_) => failures.push(format!(
                    "{name}: no snapshot at {} (SEAM_UPDATE_SNAPSHOTS=1 writes it)",
                    path.display()
                )),
            }
        }
    }
    assert_eq!(valid, 44, "the suite has 44 valid cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_snapshot_is_left_over() {
    let Some(suite) = common::testdata("openmetrics-parser-tests") else {
        return;
    };
    for entry in fs::read_dir(snapshot_dir()).unwrap() {
        let path = entry.unwrap().path();
        let case = path.file_stem().unwrap();
        assert!(
            suite.join(case).is_dir(),
            "{} belongs to no case of the suite",
            path.display()
        );
    }
}
