//! What the `prometheus` crate's `TextEncoder` writes (text format 0.0.4) reads back
//! exactly: family names, help texts, types, sample names, labels and values, for
//! random families with awkward names, label values and floats.

use prometheus::proto::{MetricFamily, MetricType as ProtoType};
use prometheus::{CounterVec, GaugeVec, HistogramOpts, HistogramVec, Opts, Registry};
use proptest::prelude::*;
use seam_exposition::{Entry, Format, MetricType, Parser};

#[derive(Debug, Clone)]
enum Kind {
    Counter(Vec<f64>),
    Gauge(Vec<f64>),
    /// Bucket bounds, and observations.
    Histogram(Vec<f64>, Vec<f64>),
}

#[derive(Debug, Clone)]
struct FamilySpec {
    name: String,
    help: String,
    label_names: Vec<String>,
    /// One label value per label name, for each series.
    series: Vec<Vec<String>>,
    kind: Kind,
}

/// Text with what needs escaping: backslashes, quotes, line feeds, tabs, braces,
/// `#`, and characters beyond ASCII.
fn awkward_text(min: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 \\\\\"\\n\\t{{}}#=,.é€😀]{{{min},12}}"))
        .unwrap()
}

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        (-1000i64..1000).prop_map(|i| i as f64),
        -1e6..1e6f64,
        any::<f64>(),
    ]
}

fn family() -> impl Strategy<Value = FamilySpec> {
    let kind = prop_oneof![
        prop::collection::vec(0.0..1e12f64, 1..3).prop_map(Kind::Counter),
        prop::collection::vec(any_float(), 1..3).prop_map(Kind::Gauge),
        (
            prop::collection::btree_set(-100i32..100, 1..6),
            prop::collection::vec(-150.0..150.0f64, 0..8)
        )
            .prop_map(|(bounds, observations)| {
                let bounds = bounds.into_iter().map(|b| f64::from(b) / 4.0).collect();
                Kind::Histogram(bounds, observations)
            }),
    ];
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        awkward_text(1),
        prop::collection::btree_set("[a-z][a-z0-9_]{0,6}", 0..4),
        kind,
    )
        .prop_flat_map(|(name, help, label_names, kind)| {
            let label_names: Vec<String> = label_names
                .into_iter()
                .filter(|name| name != "le")
                .collect();
            let width = label_names.len();
            let series =
                prop::collection::vec(prop::collection::vec(awkward_text(0), width..=width), 1..4);
            (
                Just(name),
                Just(help),
                Just(label_names),
                series,
                Just(kind),
            )
        })
        .prop_map(|(name, help, label_names, series, kind)| FamilySpec {
            name,
            help,
            label_names,
            series,
            kind,
        })
}

/// Registers the families (each name made unique by an index) and gathers them.
fn gather(specs: &[FamilySpec]) -> Vec<MetricFamily> {
    let registry = Registry::new();
    for (i, spec) in specs.iter().enumerate() {
        let name = format!("{}_{i}", spec.name);
        let labels: Vec<&str> = spec.label_names.iter().map(String::as_str).collect();
        match &spec.kind {
            Kind::Counter(increments) => {
                let vec = CounterVec::new(Opts::new(name, spec.help.clone()), &labels).unwrap();
                for (series, increment) in spec.series.iter().zip(increments.iter().cycle()) {
                    vec.with_label_values(series).inc_by(*increment);
                }
                registry.register(Box::new(vec)).unwrap();
            }
            Kind::Gauge(settings) => {
                let vec = GaugeVec::new(Opts::new(name, spec.help.clone()), &labels).unwrap();
                for (series, value) in spec.series.iter().zip(settings.iter().cycle()) {
                    vec.with_label_values(series).set(*value);
                }
                registry.register(Box::new(vec)).unwrap();
            }
            Kind::Histogram(bounds, observations) => {
                let opts = HistogramOpts::new(name, spec.help.clone()).buckets(bounds.clone());
                let vec = HistogramVec::new(opts, &labels).unwrap();
                for series in &spec.series {
                    let histogram = vec.with_label_values(series);
                    for observation in observations {
                        histogram.observe(*observation);
                    }
                }
                registry.register(Box::new(vec)).unwrap();
            }
        }
    }
    registry.gather()
}

/// A sample as compared: name, labels in order, value as bits (NaN made one value).
type Expected = (String, Vec<(String, String)>, u64, MetricType);

fn bits(value: f64) -> u64 {
    if value.is_nan() {
        f64::NAN.to_bits()
    } else {
        value.to_bits()
    }
}

/// What the text encoder writes for `families`, sample by sample (its own rules:
/// buckets with `le` last, a `+Inf` bucket added, then `_sum` and `_count`).
fn expected(families: &[MetricFamily]) -> (Vec<(String, String, MetricType)>, Vec<Expected>) {
    let mut metadata = Vec::new();
    let mut samples = Vec::new();
    for family in families {
        let name = family.name().to_owned();
        let kind = match family.get_field_type() {
            ProtoType::COUNTER => MetricType::Counter,
            ProtoType::GAUGE => MetricType::Gauge,
            ProtoType::HISTOGRAM => MetricType::Histogram,
            other => panic!("not generated: {other:?}"),
        };
        metadata.push((name.clone(), family.help().to_owned(), kind));
        for metric in family.get_metric() {
            let labels: Vec<(String, String)> = metric
                .get_label()
                .iter()
                .map(|pair| (pair.name().to_owned(), pair.value().to_owned()))
                .collect();
            let with = |extra: (&str, String)| {
                let mut all = labels.clone();
                all.push((extra.0.to_owned(), extra.1));
                all
            };
            match kind {
                MetricType::Counter => samples.push((
                    name.clone(),
                    labels.clone(),
                    bits(metric.get_counter().get_value()),
                    kind,
                )),
                MetricType::Gauge => samples.push((
                    name.clone(),
                    labels.clone(),
                    bits(metric.get_gauge().get_value()),
                    kind,
                )),
                _ => {
                    let histogram = metric.get_histogram();
                    for bucket in histogram.get_bucket() {
                        samples.push((
                            format!("{name}_bucket"),
                            with(("le", bucket.upper_bound().to_string())),
                            bits(bucket.cumulative_count() as f64),
                            kind,
                        ));
                    }
                    samples.push((
                        format!("{name}_bucket"),
                        with(("le", "+Inf".to_owned())),
                        bits(histogram.get_sample_count() as f64),
                        kind,
                    ));
                    samples.push((
                        format!("{name}_sum"),
                        labels.clone(),
                        bits(histogram.get_sample_sum()),
                        kind,
                    ));
                    samples.push((
                        format!("{name}_count"),
                        labels.clone(),
                        bits(histogram.get_sample_count() as f64),
                        kind,
                    ));
                }
            }
        }
    }
    (metadata, samples)
}

fn parsed(text: &str) -> (Vec<(String, String, MetricType)>, Vec<Expected>) {
    let mut helps = Vec::new();
    let mut types = Vec::new();
    let mut samples = Vec::new();
    for entry in Parser::new(text.as_bytes(), Format::Prometheus) {
        match entry.unwrap_or_else(|error| panic!("{error}\n{text}")) {
            Entry::Help { family, text } => helps.push((family.to_owned(), text.into_owned())),
            Entry::Type { family, kind } => types.push((family.to_owned(), kind)),
            Entry::Unit { .. } => panic!("no units in the Prometheus format"),
            Entry::Sample(sample) => samples.push((
                sample.name.into_owned(),
                sample
                    .labels
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.into_owned()))
                    .collect(),
                bits(sample.value),
                sample.family_type,
            )),
        }
    }
    assert_eq!(helps.len(), types.len(), "every family has help");
    let metadata = helps
        .into_iter()
        .zip(types)
        .map(|((family, help), (typed, kind))| {
            assert_eq!(family, typed);
            (family, help, kind)
        })
        .collect();
    (metadata, samples)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn what_the_prometheus_crate_writes_reads_back(specs in prop::collection::vec(family(), 1..6)) {
        let families = gather(&specs);
        let text = prometheus::TextEncoder::new().encode_to_string(&families).unwrap();
        let (metadata, samples) = parsed(&text);
        let (expected_metadata, expected_samples) = expected(&families);
        prop_assert_eq!(metadata, expected_metadata, "{}", text);
        prop_assert_eq!(samples, expected_samples, "{}", text);
    }
}
