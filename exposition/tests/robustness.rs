//! Malformed input is an error with a position inside the input, never a panic: random
//! bytes, and valid expositions of both formats with random damage.

mod common;

use proptest::prelude::*;
use proptest::sample::Index;
use seam_exposition::{validate, Format, Parser};

/// Valid expositions that use every feature of each format, to damage.
const PROMETHEUS: &str = "\
# HELP http_requests_total Requests by code.\\n Second \\\\ line.
# TYPE http_requests_total counter
http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 1027 1395066363000
  http_requests_total { code = \"500\" , } 3
# a comment
#another

# TYPE rpc histogram
rpc_bucket{le=\"0.5\"} 1
rpc_bucket{le=\"+Inf\"} 2
rpc_sum 1.5e-3
rpc_count 2
{\"my.metric\",\"my.label\"=\"é€😀\"} NaN
x -Inf
";

const OPENMETRICS: &str = "\
# TYPE a_seconds counter
# HELP a_seconds Help \\\"quoted\\\" and \\\\ and \\n.
# UNIT a_seconds seconds
a_seconds_total{x=\"1\"} 1 1.5 # {trace_id=\"abc\"} 0.5 1.25
a_seconds_created{x=\"1\"} 1.5e9 1.5
# TYPE h histogram
h_bucket{le=\"-1\"} 0
h_bucket{le=\"1.0\"} 2 # {id=\"é\"} 0.3
h_bucket{le=\"+Inf\"} 3
h_count 3
h_sum 2
# TYPE s stateset
s{s=\"on\"} 1
s{s=\"off\"} 0
# TYPE i info
i_info{version=\"1.2\"} 1
# TYPE q summary
q{quantile=\"0.5\"} 0.25
q_sum 1
q_count 4
{\"my.metric\",\"my.label\"=\"v\"} +Inf
# EOF
";

#[derive(Debug, Clone)]
enum Damage {
    Insert(Index, u8),
    Delete(Index),
    Replace(Index, u8),
    DuplicateLine(Index),
    SwapLines(Index, Index),
}

/// Bytes that matter to the grammar, and some that are not UTF-8.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b" \t\n\r\"\\{},=#0.e-+_:a\x00\xff\xc3\xa9\x80".to_vec()),
        any::<u8>(),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Damage::Insert(i, b)),
        any::<Index>().prop_map(Damage::Delete),
        (any::<Index>(), interesting_byte()).prop_map(|(i, b)| Damage::Replace(i, b)),
        any::<Index>().prop_map(Damage::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Damage::SwapLines(a, b)),
    ]
}

fn apply(input: &str, damages: &[Damage]) -> Vec<u8> {
    let mut bytes = input.as_bytes().to_vec();
    for damage in damages {
        match damage {
            Damage::Insert(at, byte) => {
                let at = at.index(bytes.len() + 1);
                bytes.insert(at, *byte);
            }
            Damage::Delete(at) if !bytes.is_empty() => {
                let at = at.index(bytes.len());
                bytes.remove(at);
            }
            Damage::Replace(at, byte) if !bytes.is_empty() => {
                let at = at.index(bytes.len());
                bytes[at] = *byte;
            }
            Damage::DuplicateLine(line) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
                let line = line.index(lines.len());
                lines.insert(line, lines[line].clone());
                bytes = lines.join(&b'\n');
            }
            Damage::SwapLines(a, b) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
                bytes = lines.join(&b'\n');
            }
            Damage::Delete(_) | Damage::Replace(..) => {}
        }
    }
    bytes
}

/// What must hold for any input: no panic, errors inside the input, iteration ends
/// after an error, and `validate` agrees with iterating.
fn check(input: &[u8]) {
    for format in [Format::Prometheus, Format::OpenMetrics] {
        let parsed = common::check_error_position(input, format);
        assert_eq!(validate(input, format).is_ok(), parsed);
        let mut parser = Parser::new(input, format);
        let errors = parser.by_ref().filter(Result::is_err).count();
        assert!(errors <= 1, "at most one error");
        assert!(parser.next().is_none(), "the iterator stays ended");
    }
}

#[test]
fn the_corpus_is_valid() {
    assert_eq!(validate(PROMETHEUS.as_bytes(), Format::Prometheus), Ok(8));
    assert_eq!(
        validate(OPENMETRICS.as_bytes(), Format::OpenMetrics),
        Ok(14)
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..200)) {
        check(&input);
    }

    #[test]
    fn grammar_bytes_never_panic(input in prop::collection::vec(interesting_byte(), 0..200)) {
        check(&input);
    }

    #[test]
    fn damaged_prometheus_never_panics(damages in prop::collection::vec(damage(), 1..4)) {
        check(&apply(PROMETHEUS, &damages));
    }

    #[test]
    fn damaged_openmetrics_never_panics(damages in prop::collection::vec(damage(), 1..4)) {
        check(&apply(OPENMETRICS, &damages));
    }
}

/// One sample line whose labels come from a small pool, so that consecutive lines
/// share prefixes (which the parser does not scan twice): `strict` spells it as
/// OpenMetrics requires, otherwise with the Prometheus format's liberties.
fn sample_line(strict: bool) -> impl Strategy<Value = String> {
    let label = (
        prop::sample::select(vec!["x", "y", "le", "\"q.name\"", "x"]),
        prop::sample::select(vec![
            "",
            "1",
            "v\\\"q",
            "a long value, with {braces}",
            "é\\\\",
        ]),
        prop::sample::select(if strict {
            vec![","]
        } else {
            vec![",", ", ", " ,\t", " "]
        }),
    );
    (
        prop::sample::select(vec!["a", "a_b", "{\"quoted.name\""]),
        prop::collection::vec(label, 0..5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(name, labels, braces, trailing)| {
            let mut line = name.to_owned();
            let quoted_name = name.starts_with('{');
            if braces || !labels.is_empty() || quoted_name {
                if !quoted_name {
                    line.push('{');
                }
                let mut first = !quoted_name;
                for (label, value, separator) in &labels {
                    if !first {
                        line.push_str(separator);
                    }
                    first = false;
                    line.push_str(&format!("{label}=\"{value}\""));
                }
                if trailing && !strict && !labels.is_empty() {
                    line.push(',');
                }
                line.push('}');
            }
            line.push_str(" 1\n");
            line
        })
}

/// The entries (or error) of `text`, rendered.
fn render(text: &str, format: Format) -> Result<Vec<String>, String> {
    common::parse_all(text.as_bytes(), format)
        .map(|entries| {
            entries
                .iter()
                .map(|entry| common::render(std::slice::from_ref(entry)))
                .collect()
        })
        .map_err(|error| format!("column {}: {}", error.column, error.message))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Each line reads the same after other lines as alone.
    #[test]
    fn consecutive_lines_read_as_if_alone(lines in prop::collection::vec(sample_line(false), 1..12)) {
        let whole = render(&lines.concat(), Format::Prometheus);
        let alone: Vec<Result<Vec<String>, String>> =
            lines.iter().map(|line| render(line, Format::Prometheus)).collect();
        match whole {
            Ok(entries) => {
                let expected: Vec<String> = alone.into_iter().flat_map(Result::unwrap).collect();
                prop_assert_eq!(entries, expected);
            }
            Err(error) => {
                let first_error = alone.into_iter().find_map(Result::err);
                prop_assert_eq!(Some(error), first_error);
            }
        }
    }

    #[test]
    fn consecutive_openmetrics_lines_read_as_if_alone(
        lines in prop::collection::btree_set(sample_line(true), 1..12)
    ) {
        let with_eof = |text: String| text + "# EOF\n";
        let lines: Vec<String> = lines.into_iter().collect();
        let whole = render(&with_eof(lines.concat()), Format::OpenMetrics);
        let alone: Vec<Result<Vec<String>, String>> = lines
            .iter()
            .map(|line| render(&with_eof(line.clone()), Format::OpenMetrics))
            .collect();
        if let Ok(entries) = whole {
            let expected: Vec<String> = alone.into_iter().flat_map(Result::unwrap).collect();
            prop_assert_eq!(entries, expected);
        } else if alone.iter().all(Result::is_ok) {
            // Lines that are valid alone may still break a family rule together
            // (a label set repeated after another); they must not be misread.
            let error = whole.unwrap_err();
            prop_assert!(
                error.contains("appeared earlier") || error.contains("already used"),
                "{}", error
            );
        }
    }
}
