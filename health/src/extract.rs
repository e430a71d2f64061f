//! From one scrape's samples to the request statistics since the previous scrape: the
//! request series of the first [`RedMetric`] the target exposes are kept as cumulative
//! values ([`ScrapeSeries`]), and [`SeriesMemory`] turns two scrapes into deltas with
//! counter-reset handling.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use seam_exposition::Sample;

use crate::mapping::{Outcome, RedMetric};
use crate::stats::RequestStats;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Requests,
    Bucket,
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SeriesKind {
    Requests(Outcome),
    /// Upper bound in seconds.
    Bucket(f64),
    /// Sum in seconds.
    Sum,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct SeriesValue {
    key: u64,
    mapping: u16,
    kind: SeriesKind,
    value: f64,
}

/// Which of the standard request metrics a target exposes, for the principle checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// The [`RedMetric::name`] the figures are read from; `None` when the target exposes
    /// none of them.
    pub mapping: Option<String>,
    /// Whether its request series carry a status label.
    pub status: bool,
    /// Whether it has a duration histogram.
    pub duration: bool,
}

/// The names a scrape looks for, built once per mapping list.
#[derive(Debug, Clone)]
pub struct Matcher {
    metrics: Vec<RedMetric>,
    names: HashMap<String, (u16, Role)>,
}

impl Matcher {
    /// Indexes the metric names of `metrics`; earlier entries win where names repeat.
    pub fn new(metrics: Vec<RedMetric>) -> Matcher {
        let mut names = HashMap::new();
        for (at, metric) in metrics.iter().enumerate().take(u16::MAX as usize) {
            let at = at as u16;
            names
                .entry(metric.requests.clone())
                .or_insert((at, Role::Requests));
            if let Some(duration) = &metric.duration {
                names
                    .entry(format!("{duration}_bucket"))
                    .or_insert((at, Role::Bucket));
                names
                    .entry(format!("{duration}_sum"))
                    .or_insert((at, Role::Sum));
            }
        }
        Matcher { metrics, names }
    }

    /// The mappings, in order.
    pub fn metrics(&self) -> &[RedMetric] {
        &self.metrics
    }

    /// Starts collecting one scrape.
    pub fn scrape(&self) -> ScrapeSeries<'_> {
        ScrapeSeries {
            matcher: self,
            series: Vec::new(),
            with_status: Vec::new(),
        }
    }
}

/// The request series of one scrape, collected sample by sample.
#[derive(Debug)]
pub struct ScrapeSeries<'m> {
    matcher: &'m Matcher,
    series: Vec<SeriesValue>,
    /// Mappings whose request series carried a status label in this scrape.
    with_status: Vec<u16>,
}

impl ScrapeSeries<'_> {
    /// Looks at one sample; costs one hash lookup for a sample that is not a request
    /// metric.
    pub fn sample(&mut self, sample: &Sample<'_>) {
        let Some(&(mapping, role)) = self.matcher.names.get(sample.name.as_ref()) else {
            return;
        };
        if !sample.value.is_finite() || sample.value < 0.0 {
            return;
        }
        let metric = &self.matcher.metrics[mapping as usize];
        let kind = match role {
            Role::Requests => {
                let status = metric
                    .status_labels
                    .iter()
                    .find_map(|label| sample.labels.get(label));
                if status.is_some() && !self.with_status.contains(&mapping) {
                    self.with_status.push(mapping);
                }
                SeriesKind::Requests(
                    status.map_or(Outcome::Ok, |value| metric.status.outcome(&value)),
                )
            }
            Role::Bucket => {
                let Some(le) = sample.labels.get("le").and_then(|le| parse_bound(&le)) else {
                    return;
                };
                SeriesKind::Bucket(le * metric.duration_scale)
            }
            Role::Sum => SeriesKind::Sum,
        };
        let value = if role == Role::Sum {
            sample.value * metric.duration_scale
        } else {
            sample.value
        };
        self.series.push(SeriesValue {
            key: series_key(sample),
            mapping,
            kind,
            value,
        });
    }

    /// Ends the scrape: keeps the series of the first mapping (in list order) that has
    /// request series, so a target exposing two conventions is not counted twice.
    pub fn finish(self) -> Scraped {
        let chosen = self
            .series
            .iter()
            .filter(|series| matches!(series.kind, SeriesKind::Requests(_)))
            .map(|series| series.mapping)
            .min();
        let Some(chosen) = chosen else {
            return Scraped::default();
        };
        let metric = &self.matcher.metrics[chosen as usize];
        let mut series: Vec<SeriesValue> = self
            .series
            .into_iter()
            .filter(|series| series.mapping == chosen)
            .collect();
        series.sort_unstable_by_key(|series| series.key);
        let duration = series
            .iter()
            .any(|series| matches!(series.kind, SeriesKind::Bucket(_)));
        Scraped {
            coverage: Coverage {
                mapping: Some(metric.name.clone()),
                status: self.with_status.contains(&chosen),
                duration,
            },
            series,
        }
    }
}

/// One scrape's request series, ready to compare with the previous scrape's.
#[derive(Debug, Clone, Default)]
pub struct Scraped {
    pub coverage: Coverage,
    series: Vec<SeriesValue>,
}

impl Scraped {
    /// How many request series were kept.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no request series were found.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// The cumulative values of a target's request series at its last successful scrape.
#[derive(Debug, Clone, Default)]
pub struct SeriesMemory {
    last: Option<HashMap<u64, f64>>,
}

impl SeriesMemory {
    /// Returns the requests since the previous scrape and remembers this one. A counter
    /// lower than before was reset: its whole value is new (Prometheus's `rate` does the
    /// same). A series first seen after the first scrape counts from zero (an error
    /// counter appears with its first error); the first scrape only sets the baseline.
    pub fn advance(&mut self, scraped: Scraped) -> RequestStats {
        let mut stats = RequestStats::default();
        let mut next = HashMap::with_capacity(scraped.series.len());
        for series in &scraped.series {
            next.insert(series.key, series.value);
            let delta = match &self.last {
                None => continue,
                Some(last) => match last.get(&series.key) {
                    Some(&before) if series.value >= before => series.value - before,
                    _ => series.value,
                },
            };
            match series.kind {
                SeriesKind::Requests(outcome) => {
                    stats.requests += delta;
                    match outcome {
                        Outcome::Ok => {}
                        Outcome::ClientError => stats.client_errors += delta,
                        Outcome::ServerError => stats.errors += delta,
                    }
                }
                SeriesKind::Bucket(le) => {
                    stats.add_bucket(le, delta);
                    if le == f64::INFINITY {
                        stats.duration_count += delta;
                    }
                }
                SeriesKind::Sum => stats.duration_sum_seconds += delta,
            }
        }
        self.last = Some(next);
        stats
    }
}

fn parse_bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        other => other.parse::<f64>().ok().filter(|bound| !bound.is_nan()),
    }
}

/// Identifies a series by its name and label set, in the order exposed (a target exposes
/// its labels in a stable order from scrape to scrape).
fn series_key(sample: &Sample<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    sample.name.as_ref().hash(&mut hasher);
    for (name, value) in sample.labels.iter() {
        name.hash(&mut hasher);
        value.as_ref().hash(&mut hasher);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use seam_exposition::{Entry, Format, Parser};

    fn scrape(matcher: &Matcher, text: &str) -> Scraped {
        let mut series = matcher.scrape();
        for entry in Parser::new(text.as_bytes(), Format::Prometheus) {
            if let Entry::Sample(sample) = entry.expect("valid exposition") {
                series.sample(&sample);
            }
        }
        series.finish()
    }

    fn otel(ok: u32, errors: u32, fast: u32) -> String {
        let total = ok + errors;
        format!(
            "# TYPE http_server_request_duration_seconds histogram\n\
             http_server_request_duration_seconds_bucket{{http_response_status_code=\"200\",le=\"0.1\"}} {fast}\n\
             http_server_request_duration_seconds_bucket{{http_response_status_code=\"200\",le=\"+Inf\"}} {ok}\n\
             http_server_request_duration_seconds_sum{{http_response_status_code=\"200\"}} {ok}\n\
             http_server_request_duration_seconds_count{{http_response_status_code=\"200\"}} {ok}\n\
             http_server_request_duration_seconds_bucket{{http_response_status_code=\"503\",le=\"0.1\"}} 0\n\
             http_server_request_duration_seconds_bucket{{http_response_status_code=\"503\",le=\"+Inf\"}} {errors}\n\
             http_server_request_duration_seconds_sum{{http_response_status_code=\"503\"}} {errors}\n\
             http_server_request_duration_seconds_count{{http_response_status_code=\"503\"}} {errors}\n\
             # a total that must not be taken for another convention\n\
             http_requests_total{{code=\"200\"}} {total}\n"
        )
    }

    #[test]
    fn deltas_between_scrapes() {
        let matcher = Matcher::new(RedMetric::standard());
        let mut memory = SeriesMemory::default();
        let first = memory.advance(scrape(&matcher, &otel(100, 0, 50)));
        assert!(
            first.is_empty(),
            "the first scrape is the baseline: {first:?}"
        );
        let second = scrape(&matcher, &otel(190, 10, 80));
        assert_eq!(second.coverage.mapping.as_deref(), Some("otel-http"));
        assert!(second.coverage.status && second.coverage.duration);
        let stats = memory.advance(second);
        assert_eq!(stats.requests, 100.0);
        assert_eq!(stats.errors, 10.0);
        assert_eq!(stats.duration_count, 100.0);
        assert_eq!(stats.buckets, vec![(0.1, 30.0), (f64::INFINITY, 100.0)]);
    }

    #[test]
    fn a_reset_counts_the_new_value() {
        let matcher = Matcher::new(RedMetric::standard());
        let mut memory = SeriesMemory::default();
        memory.advance(scrape(&matcher, &otel(1000, 0, 0)));
        let stats = memory.advance(scrape(&matcher, &otel(5, 0, 0)));
        assert_eq!(stats.requests, 5.0);
    }

    #[test]
    fn a_new_error_series_counts_from_zero() {
        let matcher = Matcher::new(RedMetric::standard());
        let mut memory = SeriesMemory::default();
        memory.advance(scrape(&matcher, "http_requests_total{code=\"200\"} 10\n"));
        let stats = memory.advance(scrape(
            &matcher,
            "http_requests_total{code=\"200\"} 12\nhttp_requests_total{code=\"500\"} 1\n",
        ));
        assert_eq!((stats.requests, stats.errors), (3.0, 1.0));
    }

    #[test]
    fn milliseconds_are_scaled_to_seconds() {
        let matcher = Matcher::new(RedMetric::standard());
        let text = |n: u32| {
            format!(
                "http_server_duration_milliseconds_bucket{{http_status_code=\"200\",le=\"250\"}} {n}\n\
                 http_server_duration_milliseconds_bucket{{http_status_code=\"200\",le=\"+Inf\"}} {n}\n\
                 http_server_duration_milliseconds_sum{{http_status_code=\"200\"}} {}\n\
                 http_server_duration_milliseconds_count{{http_status_code=\"200\"}} {n}\n",
                n * 100
            )
        };
        let mut memory = SeriesMemory::default();
        memory.advance(scrape(&matcher, &text(0)));
        let stats = memory.advance(scrape(&matcher, &text(10)));
        assert_eq!(stats.buckets[0], (0.25, 10.0));
        assert!((stats.duration_sum_seconds - 1.0).abs() < 1e-9);
    }

    #[test]
    fn grpc_codes_tell_errors() {
        let matcher = Matcher::new(RedMetric::standard());
        let mut memory = SeriesMemory::default();
        let text = |ok: u32, bad: u32| {
            format!(
                "grpc_server_handled_total{{grpc_code=\"OK\",grpc_method=\"Get\"}} {ok}\n\
                 grpc_server_handled_total{{grpc_code=\"Unavailable\",grpc_method=\"Get\"}} {bad}\n\
                 grpc_server_handled_total{{grpc_code=\"NotFound\",grpc_method=\"Get\"}} 3\n"
            )
        };
        memory.advance(scrape(&matcher, &text(0, 0)));
        let stats = memory.advance(scrape(&matcher, &text(9, 1)));
        assert_eq!(
            (stats.requests, stats.errors, stats.client_errors),
            (10.0, 1.0, 0.0)
        );
    }

    #[test]
    fn a_target_without_request_metrics_has_no_coverage() {
        let matcher = Matcher::new(RedMetric::standard());
        let scraped = scrape(&matcher, "process_cpu_seconds_total 12\n");
        assert!(scraped.is_empty());
        assert_eq!(scraped.coverage, Coverage::default());
    }
}
