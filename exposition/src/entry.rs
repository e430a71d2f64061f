//! What the parser yields.

use std::borrow::Cow;

use crate::format::MetricType;
use crate::labels::Labels;

/// One line of an exposition: metadata about a metric family, or a sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP family text`, with the text's escapes undone.
    Help { family: &'a str, text: Cow<'a, str> },
    /// `# TYPE family type`.
    Type { family: &'a str, kind: MetricType },
    /// `# UNIT family unit` (OpenMetrics only; the unit may be empty).
    Unit { family: &'a str, unit: &'a str },
    /// A sample line.
    Sample(Sample<'a>),
}

/// One sample: `name{labels} value [timestamp] [# exemplar]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The sample's name, suffix included (`http_requests_total`). A `Cow` only because a
    /// quoted name (`{"my.metric"}`) may hold escapes; it borrows the input otherwise.
    pub name: Cow<'a, str>,
    /// The labels, read lazily from the input.
    pub labels: Labels<'a>,
    /// The value; `NaN`, `+Inf` and `-Inf` included.
    pub value: f64,
    /// Milliseconds since the epoch. The Prometheus format writes milliseconds;
    /// OpenMetrics writes seconds, converted here exactly and truncated toward zero below
    /// the millisecond, saturating at the bounds of `i64`.
    pub timestamp_ms: Option<i64>,
    /// The type of the family this sample belongs to; [`MetricType::Unknown`] when the
    /// family has no `# TYPE`.
    pub family_type: MetricType,
    /// OpenMetrics only: the exemplar after ` # `.
    pub exemplar: Option<Exemplar<'a>>,
}

/// An OpenMetrics exemplar: `# {labels} value [timestamp]` after a counter's `_total` or
/// a histogram bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's labels (a trace id, typically).
    pub labels: Labels<'a>,
    /// The observed value.
    pub value: f64,
    /// Milliseconds since the epoch, converted from seconds as for samples.
    pub timestamp_ms: Option<i64>,
}
