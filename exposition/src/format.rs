//! The two formats, the metric types they declare, and how sample names relate to the
//! family they belong to.

use std::fmt;

/// Which text format an exposition is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Prometheus,
    /// OpenMetrics 1.0.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// The format of a scrape response, from its `Content-Type` header:
    /// `application/openmetrics-text` (any version or charset) is OpenMetrics, and
    /// anything else, including no header at all, is the Prometheus text format, which
    /// is what Prometheus itself falls back to.
    pub fn from_content_type(content_type: &str) -> Format {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// The type a `# TYPE` line declares for a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonic count: `_total` samples (and `_created` in OpenMetrics).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative `_bucket` samples with an `le` label, plus `_sum` and `_count`.
    Histogram,
    /// OpenMetrics: a histogram of current values, with `_gsum` and `_gcount`.
    GaugeHistogram,
    /// Samples with a `quantile` label, plus `_sum` and `_count`.
    Summary,
    /// OpenMetrics: one 0/1 sample per state, the state in a label named as the family.
    StateSet,
    /// OpenMetrics: `_info` samples of value 1 that carry labels.
    Info,
    /// OpenMetrics `unknown`, Prometheus `untyped`, and every family without a `# TYPE`.
    Unknown,
}

impl MetricType {
    /// The type named in a Prometheus `# TYPE` line.
    pub(crate) fn from_prometheus(name: &str) -> Option<MetricType> {
        Some(match name {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The type named in an OpenMetrics `# TYPE` line.
    pub(crate) fn from_openmetrics(name: &str) -> Option<MetricType> {
        Some(match name {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "stateset" => MetricType::StateSet,
            "info" => MetricType::Info,
            "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The OpenMetrics name of the type (`unknown` for [`MetricType::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::StateSet => "stateset",
            MetricType::Info => "info",
            MetricType::Unknown => "unknown",
        }
    }

    /// The suffixes that OpenMetrics gives the samples of a family of this type.
    pub(crate) fn suffixes(self) -> &'static [Suffix] {
        match self {
            MetricType::Counter => &[Suffix::Total, Suffix::Created],
            MetricType::Summary => &[Suffix::None, Suffix::Count, Suffix::Sum, Suffix::Created],
            MetricType::Histogram => &[Suffix::Count, Suffix::Sum, Suffix::Bucket, Suffix::Created],
            MetricType::GaugeHistogram => &[Suffix::GCount, Suffix::GSum, Suffix::Bucket],
            MetricType::Info => &[Suffix::Info],
            MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[Suffix::None],
        }
    }

    /// Whether a histogram's buckets are among the family's samples.
    pub(crate) fn has_buckets(self) -> bool {
        matches!(self, MetricType::Histogram | MetricType::GaugeHistogram)
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a sample name adds to its family's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix {
    None,
    Total,
    Created,
    Count,
    Sum,
    Bucket,
    GCount,
    GSum,
    Info,
}

impl Suffix {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::Total => "_total",
            Suffix::Created => "_created",
            Suffix::Count => "_count",
            Suffix::Sum => "_sum",
            Suffix::Bucket => "_bucket",
            Suffix::GCount => "_gcount",
            Suffix::GSum => "_gsum",
            Suffix::Info => "_info",
        }
    }

    /// The suffix of `sample` among those a family called `family` of type `kind` uses.
    pub(crate) fn of(family: &str, kind: MetricType, sample: &str) -> Option<Suffix> {
        let rest = sample.strip_prefix(family)?;
        kind.suffixes()
            .iter()
            .copied()
            .find(|suffix| suffix.as_str() == rest)
    }
}

/// Whether a Prometheus text sample belongs to the family of the last `# TYPE` line, the
/// way Prometheus' scrape loop decides it (`isSeriesPartOfFamily`): the sample's name
/// less one suffix of the type is the family's name, where a counter family may itself
/// be named with `_total`.
pub(crate) fn in_prometheus_family(family: &str, kind: MetricType, sample: &str) -> bool {
    if !sample.starts_with(family) {
        return false;
    }
    let cut = |name: &'_ str, suffixes: &[&str]| -> usize {
        suffixes
            .iter()
            .find(|suffix| name.ends_with(*suffix))
            .map_or(name.len(), |suffix| name.len() - suffix.len())
    };
    let (family_len, sample_len) = match kind {
        MetricType::Counter => (cut(family, &["_total"]), cut(sample, &["_total"])),
        MetricType::Histogram => (family.len(), cut(sample, &["_bucket", "_sum", "_count"])),
        MetricType::GaugeHistogram => (family.len(), cut(sample, &["_bucket", "_gsum", "_gcount"])),
        MetricType::Summary => (family.len(), cut(sample, &["_sum", "_count"])),
        MetricType::Info => (cut(family, &["_info"]), cut(sample, &["_info"])),
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => {
            (family.len(), sample.len())
        }
    };
    family[..family_len] == sample[..sample_len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for (header, format) in [
            (
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                Format::OpenMetrics,
            ),
            (
                "application/openmetrics-text;version=0.0.1",
                Format::OpenMetrics,
            ),
            ("Application/OpenMetrics-Text", Format::OpenMetrics),
            (
                "text/plain; version=0.0.4; charset=utf-8",
                Format::Prometheus,
            ),
            ("text/plain", Format::Prometheus),
            ("", Format::Prometheus),
            ("application/json", Format::Prometheus),
        ] {
            assert_eq!(Format::from_content_type(header), format, "{header}");
        }
    }

    #[test]
    fn prometheus_family_membership() {
        use MetricType::*;
        for (family, kind, sample, member) in [
            ("http_requests_total", Counter, "http_requests_total", true),
            ("http_requests", Counter, "http_requests_total", true),
            ("http_requests_total", Unknown, "http_requests_total", true),
            ("rpc", Histogram, "rpc_bucket", true),
            ("rpc", Histogram, "rpc_sum", true),
            ("rpc", Histogram, "rpc_count", true),
            ("rpc", Histogram, "rpc", true),
            ("rpc", Histogram, "rpc_created", false),
            ("rpc", Summary, "rpc", true),
            ("rpc", Summary, "rpc_bucket", false),
            ("go", Gauge, "go_goroutines", false),
            ("go", Gauge, "other", false),
            ("build", Info, "build_info", true),
        ] {
            assert_eq!(
                in_prometheus_family(family, kind, sample),
                member,
                "{family} {kind} {sample}"
            );
        }
    }

    #[test]
    fn openmetrics_suffixes() {
        assert_eq!(
            Suffix::of("a", MetricType::Counter, "a_total"),
            Some(Suffix::Total)
        );
        assert_eq!(Suffix::of("a", MetricType::Counter, "a"), None);
        assert_eq!(
            Suffix::of("a", MetricType::Summary, "a"),
            Some(Suffix::None)
        );
        assert_eq!(
            Suffix::of("a", MetricType::Info, "a_info"),
            Some(Suffix::Info)
        );
        assert_eq!(Suffix::of("a", MetricType::Gauge, "a_total"), None);
        assert_eq!(Suffix::of("a", MetricType::GaugeHistogram, "a_count"), None);
    }
}
