//! Request statistics from server spans, as the OpenTelemetry spanmetrics connector
//! derives them: a fleet without `/metrics` still gets rate, errors and duration.

use std::collections::BTreeMap;
use std::sync::Arc;

use seam_health::RequestStats;

use crate::edge::LATENCY_BOUNDS;
use crate::span::Span;

/// Latency counts per bucket of [`LATENCY_BOUNDS`], then `+Inf`.
type Histogram = [f64; LATENCY_BOUNDS.len() + 1];

/// A service and its `service.instance.id` (empty when none).
type Key = (Arc<str>, Arc<str>);

/// Requests, errors (by FORMATS.md's rules), client errors (4xx) and a latency
/// histogram of the server and consumer spans in `spans`, per service and
/// `service.instance.id` (empty when the resource has none).
pub fn request_stats(spans: &[Span]) -> BTreeMap<Key, RequestStats> {
    // A batch holds few resources and their spans come together: find the entry by the
    // resource's address first, by name only when it changes.
    let mut counts: Vec<(Key, RequestStats, Histogram)> = Vec::new();
    let mut last: Option<(*const crate::span::Resource, usize)> = None;
    for span in spans.iter().filter(|span| span.kind.is_incoming()) {
        let address = Arc::as_ptr(&span.resource);
        let at = match last {
            Some((known, at)) if known == address => at,
            _ => {
                let instance = span.resource.instance.as_deref().unwrap_or("");
                let at = counts
                    .iter()
                    .position(|((service, i), _, _)| {
                        **service == *span.resource.service && **i == *instance
                    })
                    .unwrap_or_else(|| {
                        counts.push((
                            (
                                span.resource.service.clone(),
                                span.resource
                                    .instance
                                    .clone()
                                    .unwrap_or_else(|| Arc::from("")),
                            ),
                            RequestStats::default(),
                            [0.0; LATENCY_BOUNDS.len() + 1],
                        ));
                        counts.len() - 1
                    });
                last = Some((address, at));
                at
            }
        };
        let (_, stats, histogram) = &mut counts[at];
        let seconds = span.duration_seconds();
        stats.requests += 1.0;
        stats.errors += span.is_error() as u8 as f64;
        stats.client_errors +=
            matches!(span.http_status, Some(s) if (400..500).contains(&s)) as u8 as f64;
        stats.duration_sum_seconds += seconds;
        stats.duration_count += 1.0;
        histogram[LATENCY_BOUNDS.partition_point(|&bound| bound < seconds)] += 1.0;
    }
    let mut out: BTreeMap<Key, RequestStats> = BTreeMap::new();
    for (key, mut stats, histogram) in counts {
        let mut total = 0.0;
        for (i, n) in histogram.iter().enumerate() {
            total += n;
            stats.buckets.push((
                LATENCY_BOUNDS.get(i).copied().unwrap_or(f64::INFINITY),
                total,
            ));
        }
        out.entry(key).or_default().add(&stats);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{ResourceBuilder, SpanBuilder, SpanHead, SpanKind, Value};

    #[test]
    fn server_spans_only_per_instance() {
        let mut r = ResourceBuilder::default();
        r.attribute("service.name", Value::Str("cart"));
        r.attribute("service.instance.id", Value::Str("pod-1"));
        let resource = Arc::new(r.build());
        let span = |kind, status: i64, ms: u64| {
            let mut head = SpanHead::new(resource.clone(), [1; 16], [2; 8], None, kind);
            head.end_unix_nano = ms * 1_000_000;
            let mut b = SpanBuilder::default();
            b.attribute("http.response.status_code", Value::Int(status));
            b.build(head)
        };
        let stats = request_stats(&[
            span(SpanKind::Server, 200, 3),
            span(SpanKind::Server, 500, 300),
            span(SpanKind::Server, 404, 30),
            span(SpanKind::Client, 500, 1),
        ]);
        let cart = &stats[&(Arc::from("cart"), Arc::from("pod-1"))];
        assert_eq!(
            (cart.requests, cart.errors, cart.client_errors),
            (3.0, 1.0, 1.0)
        );
        assert_eq!(cart.buckets.first(), Some(&(0.005, 1.0)));
        assert_eq!(cart.buckets.last(), Some(&(f64::INFINITY, 3.0)));
        assert!((cart.quantile(0.5).unwrap() - 0.05).abs() < 0.03);
    }
}
