//! Zero-copy parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.
//!
//! [`Parser`] reads an exposition (a scrape response body) line by line and yields
//! [`Entry`] values that borrow from the input: names, label sets and help texts are
//! slices of it, decoded only when they hold escapes. It is written by hand for speed
//! (no regular expressions, no allocation per sample) and checks everything the formats
//! require, so that a scrape can be accepted or refused as a whole:
//!
//! ```
//! use seam_exposition::{Entry, Format, Parser};
//!
//! let body = b"# TYPE http_requests counter\nhttp_requests_total{code=\"200\"} 1027\n# EOF\n";
//! for entry in Parser::new(body, Format::OpenMetrics) {
//!     match entry? {
//!         Entry::Sample(sample) => {
//!             assert_eq!(sample.name, "http_requests_total");
//!             assert_eq!(sample.labels.get("code").as_deref(), Some("200"));
//!             assert_eq!(sample.value, 1027.0);
//!         }
//!         _ => {}
//!     }
//! }
//! # Ok::<(), seam_exposition::ParseError>(())
//! ```
//!
//! **Any error makes the whole exposition invalid.** The parser yields entries as it
//! reads them and reports some OpenMetrics errors only once a family or a histogram's
//! data point is complete, so a consumer discards everything it read from an exposition
//! that yields an `Err` (or calls [`validate`] first).
//!
//! # What each format accepts
//!
//! **OpenMetrics 1.0** ([`Format::OpenMetrics`]) is checked as its specification and
//! official parser test suite demand: `# EOF` last and nothing after it, no blank lines
//! or comments, single spaces between tokens, metadata before a family's samples and at
//! most once, families together and their sample names unique across families, units
//! matching the name, histogram buckets ordered and cumulative with a `+Inf` bucket that
//! `_count` equals, non-negative counter values, stateset and info values, samples of one
//! label set together with timestamps that do not go back, exemplars only on counters
//! and buckets with at most [`EXEMPLAR_LABELS_MAX_CHARS`] characters of labels.
//! Negative `_sum` and quantile values, and a `_sum` on histograms with negative
//! buckets, are accepted although OpenMetrics 1.0 forbids them: the Go client writes
//! them, and Prometheus ingests them (the three suite cases concerned are listed in
//! `tests/openmetrics_suite.rs`).
//!
//! **Prometheus text 0.0.4** ([`Format::Prometheus`]) is as lenient as Prometheus' own
//! parser: blank lines and `#` comments, blanks between tokens and at line starts, an
//! optional trailing comma in label sets (and, as there, none needed between two
//! labels), `untyped`, integer millisecond timestamps, and
//! no checks across lines (order, duplicates, histogram consistency). Four differences,
//! all on input no exporter writes: a raw line feed inside a quoted string is an error
//! (the format's specification requires `\n`; Prometheus' lexer lets it through), so is
//! a NUL byte outside label values, help texts and comments (Prometheus stops reading
//! there); a metric name must be followed by a blank in `# HELP` and `# TYPE` lines, and
//! by a blank or `{` in samples (Prometheus reads `a+1` as `a 1`).
//!
//! Both formats: duplicate label names and a `__name__` label are errors (Prometheus
//! refuses them when it stores the sample); the input must be UTF-8 throughout,
//! comments included; quoted UTF-8 names as Prometheus 3 and OpenMetrics 2 write them
//! are accepted (`{"my.metric","my.label"="v"} 1`, `# TYPE "my.metric" gauge`), escapes
//! included in a sample's quoted name but not in label names or metadata.

mod entry;
mod error;
mod format;
mod labels;
mod number;
mod openmetrics;
mod parser;
mod scan;

pub use entry::{Entry, Exemplar, Sample};
pub use error::ParseError;
pub use format::{Format, MetricType};
pub use labels::{Labels, LabelsIter};
pub use parser::{validate, Parser, EXEMPLAR_LABELS_MAX_CHARS};
