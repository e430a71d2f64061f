//! The parser's behaviour line by line, in both formats: each test states an input and
//! the entries (rendered one per line) or the error it gives.

mod common;

use std::borrow::Cow;

use seam_exposition::{validate, Entry, Format, MetricType, ParseError, Parser};

use Format::{OpenMetrics as Om, Prometheus as Prom};

/// Parses `input` and compares the rendered entries, or the error, with `expected`.
#[track_caller]
fn check(format: Format, input: &str, expected: &str) {
    let actual = match common::parse_all(input.as_bytes(), format) {
        Ok(entries) => common::render(&entries),
        Err(error) => format!("error: {error}\n"),
    };
    assert_eq!(actual.trim_end(), expected.trim(), "input:\n{input}");
}

fn first_sample(format: Format, input: &[u8]) -> seam_exposition::Sample<'_> {
    Parser::new(input, format)
        .find_map(|entry| match entry.unwrap() {
            Entry::Sample(sample) => Some(sample),
            _ => None,
        })
        .unwrap()
}

#[test]
fn escapes_in_label_values_and_help() {
    check(
        Prom,
        "# HELP a one\\ntwo \\\\ \\\" \\z\na{l=\"q\\\"b\\\\s\\nn\\z\"} 1\n",
        r#"
help "a" "one\ntwo \\ \\\" \\z"
sample unknown "a"{"l"="q\"b\\s\nn\\z"} 1.0"#,
    );
    // OpenMetrics also unescapes \" in help texts.
    check(
        Om,
        "# HELP a say \\\"hi\\\"\na 1\n# EOF\n",
        r#"
help "a" "say \"hi\""
sample unknown "a"{} 1.0"#,
    );
    // Values without escapes borrow the input.
    let sample = first_sample(Prom, b"a{l=\"plain\",m=\"e\\\\sc\"} 1\n");
    let values: Vec<Cow<'_, str>> = sample.labels.iter().map(|(_, v)| v).collect();
    assert!(matches!(values[0], Cow::Borrowed("plain")));
    assert!(matches!(&values[1], Cow::Owned(v) if v == "e\\sc"));
    assert!(matches!(sample.name, Cow::Borrowed("a")));
}

#[test]
fn special_values() {
    check(
        Prom,
        "a NaN\nb +Inf\nc -Inf\nd inf\ne -1.5e-3\nf .5\ng 1.\n",
        r#"
sample unknown "a"{} NaN
sample unknown "b"{} inf
sample unknown "c"{} -inf
sample unknown "d"{} inf
sample unknown "e"{} -0.0015
sample unknown "f"{} 0.5
sample unknown "g"{} 1.0"#,
    );
    check(
        Prom,
        "a 0x1p-3\n",
        "error: line 1, column 3: invalid value \"0x1p-3\"",
    );
    check(
        Prom,
        "a 1e999\n",
        "error: line 1, column 3: value \"1e999\" is out of range",
    );
    check(
        Om,
        "a 1_000\n# EOF\n",
        "error: line 1, column 3: invalid value \"1_000\"",
    );
}

#[test]
fn timestamps() {
    // Prometheus: integer milliseconds.
    check(
        Prom,
        "a 1 1700000000123\nb 2 0\n",
        r#"
sample unknown "a"{} 1.0 @1700000000123ms
sample unknown "b"{} 2.0 @0ms"#,
    );
    check(
        Prom,
        "a 1 1.5\n",
        "error: line 1, column 5: invalid timestamp (integer milliseconds) \"1.5\"",
    );
    check(
        Prom,
        "a 1 -1\n",
        "error: line 1, column 5: invalid timestamp (integer milliseconds) \"-1\"",
    );
    check(
        Prom,
        "a 1 99999999999999999999\n",
        "error: line 1, column 5: timestamp (integer milliseconds) \"99999999999999999999\" is out of range",
    );
    // OpenMetrics: seconds, to milliseconds exactly.
    check(
        Om,
        "a 1 1700000000.123\nb 1 -1.5\nc 1 1e3\n# EOF\n",
        r#"
sample unknown "a"{} 1.0 @1700000000123ms
sample unknown "b"{} 1.0 @-1500ms
sample unknown "c"{} 1.0 @1000000ms"#,
    );
    check(
        Om,
        "a 1 NaN\n# EOF\n",
        "error: line 1, column 5: invalid timestamp (seconds) \"NaN\"",
    );
}

#[test]
fn exemplars() {
    check(
        Om,
        "# TYPE a counter\na_total 3 # {trace_id=\"x\\\"y\"} 0.5 1.25\n# EOF\n",
        r#"
type "a" counter
sample counter "a_total"{} 3.0 # {"trace_id"="x\"y"} 0.5 @1250ms"#,
    );
    // 128 characters of exemplar labels are allowed, 129 are not; characters, not bytes.
    let at_limit = format!(
        "# TYPE a counter\na_total 1 # {{a=\"{}\"}} 1\n# EOF\n",
        "é".repeat(127)
    );
    assert_eq!(validate(at_limit.as_bytes(), Om), Ok(1));
    let over = at_limit.replacen("é", "éé", 1);
    assert_eq!(
        validate(over.as_bytes(), Om).unwrap_err().message,
        "exemplar labels hold 129 characters, more than the 128 allowed"
    );
    check(
        Om,
        "# TYPE a counter\na_total 1 # {\"my.label\"} 1\n# EOF\n",
        "error: line 2, column 14: exemplar labels cannot name a metric",
    );
    // The Prometheus format has no exemplars.
    check(
        Prom,
        "a_total 1 # {a=\"b\"} 1\n",
        "error: line 1, column 11: expected a timestamp or the end of the line (exemplars need the OpenMetrics format)",
    );
}

#[test]
fn quoted_utf8_names() {
    check(
        Prom,
        "# HELP \"my.metric\" Dots.\n# TYPE \"my.metric\" gauge\n{\"my.metric\",a=\"b\",\"my.label\"=\"ü\"} 1\n{a=\"c\", \"my.metric\"} 2\n",
        r#"
help "my.metric" "Dots."
type "my.metric" gauge
sample gauge "my.metric"{"a"="b", "my.label"="ü"} 1.0
sample gauge "my.metric"{"a"="c"} 2.0"#,
    );
    check(
        Om,
        "# TYPE \"my.counter\" counter\n{\"my.counter_total\",\"a.b\"=\"c\"} 1 # {\"t.id\"=\"x\"} 1\n# EOF\n",
        r#"
type "my.counter" counter
sample counter "my.counter_total"{"a.b"="c"} 1.0 # {"t.id"="x"} 1.0"#,
    );
    // Escapes in a sample's quoted name are undone; in label names they are refused.
    let sample = first_sample(Prom, b"{\"say \\\"hi\\\"\"} 1\n");
    assert_eq!(sample.name, "say \"hi\"");
    check(
        Prom,
        "a{\"x\\\"y\"=\"1\"} 1\n",
        "error: line 1, column 3: escape sequences in quoted label names are not supported",
    );
    check(
        Prom,
        "a{\"b\"} 1\n",
        "error: line 1, column 3: metric name given twice, before the braces and inside them",
    );
    check(
        Prom,
        "{a=\"b\"} 1\n",
        "error: line 1, column 1: metric name missing",
    );
    check(
        Om,
        "a.b 1\n# EOF\n",
        r#"error: line 1, column 2: '.' is not allowed in a metric name (a name with other characters is quoted inside the braces: {"my.name"})"#,
    );
}

#[test]
fn prometheus_is_as_lenient_as_prometheus() {
    check(
        Prom,
        "\n# a comment\n#no space\n  #\tTYPE   x\tcounter\n  x { a = \"1\" , b=\"2\", }\t1   17 \n\nx{a=\"3\" b=\"4\"}2\n# EOF\n",
        r#"
type "x" counter
sample counter "x"{"a"="1", "b"="2"} 1.0 @17ms
sample counter "x"{"a"="3", "b"="4"} 2.0"#,
    );
    // HELP keeps everything after the one blank that separates it from the name.
    check(
        Prom,
        "# HELP x  two\t\n# HELP y\n",
        "help \"x\" \" two\\t\"\nhelp \"y\" \"\"",
    );
    // `# HELP` needs a blank after it to be metadata; otherwise it is a comment.
    check(Prom, "# HELPER x y\n# HELP\n", "");
    check(
        Prom,
        "# HELP \n",
        "error: line 1, column 8: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]* or quoted)",
    );
    check(
        Prom,
        "# TYPE x gauges\n",
        "error: line 1, column 10: unknown metric type \"gauges\" (expected counter, gauge, histogram, summary or untyped)",
    );
    // No checks across lines: repeated metadata, late TYPE, bad histograms.
    check(
        Prom,
        "x 1\n# TYPE x gauge\n# TYPE x counter\nh_bucket{le=\"2\"} 5\nh_bucket{le=\"1\"} 1\n",
        r#"
sample unknown "x"{} 1.0
type "x" gauge
type "x" counter
sample unknown "h_bucket"{"le"="2"} 5.0
sample unknown "h_bucket"{"le"="1"} 1.0"#,
    );
}

#[test]
fn prometheus_family_types() {
    check(
        Prom,
        "# TYPE rpc histogram\nrpc_bucket{le=\"+Inf\"} 1\nrpc_sum 1\nrpc_count 1\nrpc_created 1\n# TYPE c_total counter\nc_total 1\n# TYPE i untyped\ni 1\n",
        r#"
type "rpc" histogram
sample histogram "rpc_bucket"{"le"="+Inf"} 1.0
sample histogram "rpc_sum"{} 1.0
sample histogram "rpc_count"{} 1.0
sample unknown "rpc_created"{} 1.0
type "c_total" counter
sample counter "c_total"{} 1.0
type "i" unknown
sample unknown "i"{} 1.0"#,
    );
}

#[test]
fn prometheus_rejects_what_breaks_the_format() {
    check(
        Prom,
        "a{b=\"c\",b=\"d\"} 1\n",
        "error: line 1, column 9: duplicate label \"b\"",
    );
    check(
        Prom,
        "a{__name__=\"b\"} 1\n",
        "error: line 1, column 3: label __name__ is reserved: write the metric name before the braces, or quoted inside them",
    );
    check(
        Prom,
        "a{b=\"c\nd\"} 1\n",
        "error: line 1, column 7: line ends inside a quoted string (a line feed is written \\n)",
    );
    check(
        Prom,
        "a 1\r\n",
        "error: line 1, column 3: invalid value \"1\\r\": carriage return before the line feed (lines end with \\n alone)",
    );
    check(
        Prom,
        "a+1\n",
        r#"error: line 1, column 2: '+' is not allowed in a metric name (a name with other characters is quoted inside the braces: {"my.name"})"#,
    );
    check(
        Prom,
        "a 1 2 3\n",
        "error: line 1, column 7: expected the end of the line after the timestamp",
    );
    check(Prom, "a\n", "error: line 1, column 2: expected a value");
    check(
        Prom,
        "a{,} 1\n",
        "error: line 1, column 3: expected a label name ([a-zA-Z_][a-zA-Z0-9_]* or quoted)",
    );
    check(
        Prom,
        "\0a 1\n",
        "error: line 1, column 1: expected a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), '{' or '#'",
    );
}

#[test]
fn openmetrics_structure() {
    check(
        Om,
        "a 1\n",
        "error: line 2, column 1: missing # EOF at the end",
    );
    check(Om, "a 1\n# EOF", r#"sample unknown "a"{} 1.0"#);
    check(
        Om,
        "# EOF\n\n",
        "error: line 2, column 1: nothing may follow # EOF",
    );
    check(
        Om,
        "a 1\n\n# EOF\n",
        "error: line 2, column 1: blank line (OpenMetrics allows none)",
    );
    check(Om, "# a comment\n# EOF\n", "error: line 1, column 1: expected # HELP, # TYPE, # UNIT or # EOF (OpenMetrics has no comments)");
    check(
        Om,
        "a  1\n# EOF\n",
        "error: line 1, column 3: expected a value after one space",
    );
    check(
        Om,
        "a{b=\"1\", c=\"2\"} 1\n# EOF\n",
        "error: line 1, column 9: expected a label name ([a-zA-Z_][a-zA-Z0-9_]* or quoted)",
    );
    check(
        Om,
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n# EOF\n",
        "error: line 5, column 1: a is already used by an earlier metric family (a family's lines must be together, and no two families may share a sample name)",
    );
    check(
        Om,
        "# TYPE a counter\na 1\n# EOF\n",
        "error: line 2, column 1: a is not a sample of counter a, whose samples are named a_total, a_created",
    );
    check(Om, "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n", "type \"a_seconds\" gauge\nunit \"a_seconds\" \"seconds\"\nsample gauge \"a_seconds\"{} 1.0");
}

#[test]
fn openmetrics_histograms_are_checked_when_complete() {
    // The error about a data point comes once it is complete, after its samples.
    let input = b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\n# EOF\n";
    let results: Vec<_> = Parser::new(input, Om).collect();
    assert_eq!(results.len(), 4);
    assert!(results[..3].iter().all(Result::is_ok));
    assert_eq!(
        results[3].as_ref().unwrap_err().to_string(),
        "line 2, column 1: histogram h has no le=\"+Inf\" bucket in the data point starting here"
    );
    check(
        Om,
        "# TYPE h histogram\nh_bucket{a=\"1\",le=\"+Inf\"} 1\nh_count{a=\"1\"} 2\nh_sum{a=\"1\"} 2\n# EOF\n",
        "error: line 2, column 1: histogram h: count 2 differs from the +Inf bucket's 1 in the data point starting here",
    );
    // Each label set is a data point of its own; label order does not matter.
    check(
        Om,
        "# TYPE h histogram\nh_bucket{a=\"1\",b=\"2\",le=\"+Inf\"} 1\nh_count{b=\"2\",a=\"1\"} 1\nh_sum{a=\"1\",b=\"2\"} 2\nh_bucket{a=\"2\",le=\"+Inf\"} 0\n# EOF\n",
        r#"
type "h" histogram
sample histogram "h_bucket"{"a"="1", "b"="2", "le"="+Inf"} 1.0
sample histogram "h_count"{"b"="2", "a"="1"} 1.0
sample histogram "h_sum"{"a"="1", "b"="2"} 2.0
sample histogram "h_bucket"{"a"="2", "le"="+Inf"} 0.0"#,
    );
    // The Go client's negative observations: accepted (see the openmetrics module).
    check(
        Om,
        "# TYPE h histogram\nh_bucket{le=\"-1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum -3.5\nh_count 2\n# TYPE s summary\ns{quantile=\"0.5\"} -1\ns_sum -2\ns_count 2\n# EOF\n",
        r#"
type "h" histogram
sample histogram "h_bucket"{"le"="-1"} 1.0
sample histogram "h_bucket"{"le"="+Inf"} 2.0
sample histogram "h_sum"{} -3.5
sample histogram "h_count"{} 2.0
type "s" summary
sample summary "s"{"quantile"="0.5"} -1.0
sample summary "s_sum"{} -2.0
sample summary "s_count"{} 2.0"#,
    );
}

#[test]
fn invalid_utf8_is_an_error_at_its_position() {
    // Columns count characters: "é" before the bad byte is one.
    let input = b"a 1\nb{l=\"\xc3\xa9\xff\"} 1\n";
    let error = validate(input, Prom).unwrap_err();
    assert_eq!(
        error,
        ParseError {
            line: 2,
            column: 7,
            message: "invalid UTF-8".into()
        }
    );
    // Lines before it are parsed first, so an earlier error wins.
    assert_eq!(validate(b"a x\n\xff\n", Prom).unwrap_err().line, 1);
    assert_eq!(
        validate(b"# EOF\n\xff", Om).unwrap_err().message,
        "nothing may follow # EOF"
    );
    // In comments too.
    assert_eq!(validate(b"# \xff\n", Prom).unwrap_err().column, 3);
}

#[test]
fn columns_count_characters() {
    let error = validate("a{l=\"€€€\"} x\n".as_bytes(), Prom).unwrap_err();
    assert_eq!((error.line, error.column), (1, 12));
    assert_eq!(error.to_string(), "line 1, column 12: invalid value \"x\"");
}

#[test]
fn the_iterator_ends_after_an_error() {
    let mut parser = Parser::new(b"a 1\nb x\nc 1\n", Prom);
    assert!(matches!(parser.next(), Some(Ok(Entry::Sample(_)))));
    assert!(matches!(parser.next(), Some(Err(_))));
    assert!(parser.next().is_none());
    assert!(parser.next().is_none());
}

#[test]
fn validate_counts_samples() {
    assert_eq!(validate(b"", Prom), Ok(0));
    assert_eq!(validate(b"# TYPE a gauge\na 1\na{b=\"c\"} 2", Prom), Ok(2));
    assert_eq!(validate(b"# EOF\n", Om), Ok(0));
}

#[test]
fn labels_api() {
    let sample = first_sample(Om, b"a{x=\"1\",y=\"2\"} 1\n# EOF\n");
    assert_eq!(sample.labels.len(), 2);
    assert!(!sample.labels.is_empty());
    assert_eq!(sample.labels.get("y").as_deref(), Some("2"));
    assert_eq!(sample.labels.get("z"), None);
    let names: Vec<&str> = (&sample.labels).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["x", "y"]);
    assert_eq!(sample.family_type, MetricType::Unknown);
    assert!(first_sample(Om, b"a 1\n# EOF\n").labels.is_empty());
}

#[test]
fn labels_repeated_from_the_line_before_are_read_the_same() {
    check(
        Prom,
        "h_bucket{a=\"1\",b=\"x\",le=\"1\"} 1\nh_bucket{a=\"1\",b=\"x\",le=\"2\"} 2\nh_bucket{a=\"1\",b=\"y\"} 3\nh_bucket{a=\"1\",b=\"y\",c=\"\\\\\"} 4\nh_bucket 5\nh_bucket{a=\"1\"} 6\n",
        r#"
sample unknown "h_bucket"{"a"="1", "b"="x", "le"="1"} 1.0
sample unknown "h_bucket"{"a"="1", "b"="x", "le"="2"} 2.0
sample unknown "h_bucket"{"a"="1", "b"="y"} 3.0
sample unknown "h_bucket"{"a"="1", "b"="y", "c"="\\"} 4.0
sample unknown "h_bucket"{} 5.0
sample unknown "h_bucket"{"a"="1"} 6.0"#,
    );
    // A duplicate of a repeated label is found, and pointed at on its own line.
    check(
        Prom,
        "a{x=\"1\",y=\"2\"} 1\na{x=\"1\",y=\"2\",x=\"3\"} 2\n",
        "error: line 2, column 15: duplicate label \"x\"",
    );
    check(
        Om,
        "# TYPE h histogram\nh_bucket{a=\"1\",le=\"1\"} 1\nh_bucket{a=\"1\",le=\"x\"} 2\n# EOF\n",
        "error: line 3, column 16: le=\"x\" is not a number",
    );
}
