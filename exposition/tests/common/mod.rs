//! Helpers shared by the integration tests: where the conformance data is, and a stable
//! text form of parsed entries for snapshots.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::fmt::Write;
use std::path::PathBuf;

use seam_exposition::{Entry, Format, Labels, ParseError, Parser};

/// The directory `name` of the shared conformance data (`$SEAM_TESTDATA`, by default
/// `../shared/testdata` beside the repository). `None`, after saying the test is
/// skipped, when it is missing; a failure instead when `SEAM_REQUIRE_TESTDATA` is set
/// (CI sets it).
pub fn testdata(name: &str) -> Option<PathBuf> {
    let root = std::env::var_os("SEAM_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    let dir = root.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("SEAM_REQUIRE_TESTDATA").is_none(),
        "SEAM_REQUIRE_TESTDATA is set but {} is missing",
        dir.display()
    );
    eprintln!(
        "skipped: {name}, {} not found (set SEAM_TESTDATA to the shared testdata directory)",
        dir.display()
    );
    None
}

/// Parses `input` completely: every entry, or the first error.
pub fn parse_all(input: &[u8], format: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    Parser::new(input, format).collect()
}

/// One line per entry, unambiguous (strings are quoted with Rust's escapes) and stable.
pub fn render(entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    for entry in entries {
        match entry {
            Entry::Help { family, text } => writeln!(out, "help {family:?} {text:?}"),
            Entry::Type { family, kind } => writeln!(out, "type {family:?} {kind}"),
            Entry::Unit { family, unit } => writeln!(out, "unit {family:?} {unit:?}"),
            Entry::Sample(sample) => {
                write!(
                    out,
                    "sample {} {:?}{} {:?}",
                    sample.family_type,
                    sample.name,
                    render_labels(&sample.labels),
                    sample.value
                )
                .unwrap();
                if let Some(ms) = sample.timestamp_ms {
                    write!(out, " @{ms}ms").unwrap();
                }
                if let Some(exemplar) = &sample.exemplar {
                    write!(
                        out,
                        " # {} {:?}",
                        render_labels(&exemplar.labels),
                        exemplar.value
                    )
                    .unwrap();
                    if let Some(ms) = exemplar.timestamp_ms {
                        write!(out, " @{ms}ms").unwrap();
                    }
                }
                writeln!(out)
            }
        }
        .unwrap();
    }
    out
}

pub fn render_labels(labels: &Labels<'_>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name:?}={value:?}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Parses `input` to the end, reading every label; if it fails, checks that the error
/// points into the input: a line that exists and a column within it (or just past its
/// end). Returns whether it parsed.
pub fn check_error_position(input: &[u8], format: Format) -> bool {
    let mut result = Ok(());
    for entry in Parser::new(input, format) {
        match entry {
            Ok(Entry::Sample(sample)) => {
                let _ = sample.labels.iter().count();
                if let Some(exemplar) = sample.exemplar {
                    let _ = exemplar.labels.iter().count();
                }
            }
            Ok(_) => {}
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    let Err(error) = result else {
        return true;
    };
    let lines: Vec<&[u8]> = input.split(|&c| c == b'\n').collect();
    assert!(
        error.line >= 1 && error.line <= lines.len(),
        "{error}: the input has {} lines",
        lines.len()
    );
    let line = lines[error.line - 1];
    let chars = String::from_utf8_lossy(line).chars().count();
    assert!(
        error.column >= 1 && error.column <= chars + 1,
        "{error}: line {} has {chars} characters",
        error.line
    );
    assert!(!error.message.is_empty());
    false
}
