//! Request statistics over a span of time: counts, not rates, so that they add up across
//! instances, minutes and hours; rates and quantiles are read from them at the end.

use serde::{Deserialize, Serialize};

/// The most histogram bounds kept per statistic; past it, further finite bounds are
/// dropped (their requests stay counted in the higher buckets, cumulative counts lose
/// nothing but precision).
pub const MAX_BUCKETS: usize = 64;

/// Requests, errors and a latency histogram over one span of time (a minute, an hour,
/// a window), summed over the series and instances it covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestStats {
    /// Requests served.
    pub requests: f64,
    /// Requests that failed on the server's side: HTTP 5xx, gRPC server error codes.
    pub errors: f64,
    /// Requests the server refused as the client's fault: HTTP 4xx.
    pub client_errors: f64,
    /// Sum of request durations in seconds, of requests with a duration histogram.
    pub duration_sum_seconds: f64,
    /// Requests with a duration, the histogram's count.
    pub duration_count: f64,
    /// Cumulative bucket counts by upper bound in seconds, ascending, summed by bound
    /// over series as PromQL's `sum by (le)` does; the last is `+Inf`.
    pub buckets: Vec<(f64, f64)>,
}

/// A latency quantile, or why there is none.
pub type Quantile = Option<f64>;

impl RequestStats {
    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.requests == 0.0 && self.duration_count == 0.0
    }

    /// Adds another span's statistics to these.
    pub fn add(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
        self.duration_sum_seconds += other.duration_sum_seconds;
        self.duration_count += other.duration_count;
        for &(le, count) in &other.buckets {
            self.add_bucket(le, count);
        }
    }

    /// Adds `count` requests to the bucket with upper bound `le` (seconds).
    pub fn add_bucket(&mut self, le: f64, count: f64) {
        if le.is_nan() {
            return;
        }
        match self
            .buckets
            .binary_search_by(|(bound, _)| bound.total_cmp(&le))
        {
            Ok(at) => self.buckets[at].1 += count,
            Err(at) if self.buckets.len() < MAX_BUCKETS || le == f64::INFINITY => {
                self.buckets.insert(at, (le, count))
            }
            Err(_) => {}
        }
    }

    /// Server errors per request, 0..1; `None` without requests.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| (self.errors / self.requests).clamp(0.0, 1.0))
    }

    /// Client errors (4xx) per request, 0..1; `None` without requests.
    pub fn client_error_ratio(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| (self.client_errors / self.requests).clamp(0.0, 1.0))
    }

    /// The `q` quantile (0..1) of request durations in seconds, as PromQL's
    /// `histogram_quantile` computes it: linear interpolation within the bucket the rank
    /// falls in (from 0 in the first), the highest finite bound when it falls in `+Inf`;
    /// counts that decrease with the bound are raised to stay monotonic. `None` without
    /// observations.
    pub fn quantile(&self, q: f64) -> Quantile {
        let total = self
            .buckets
            .iter()
            .fold(0.0_f64, |max, (_, count)| max.max(*count));
        if total <= 0.0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * total;
        let mut below = 0.0_f64;
        let mut lower_bound = 0.0_f64;
        for &(le, cumulative) in &self.buckets {
            let cumulative = cumulative.max(below);
            if cumulative >= rank && cumulative > below {
                if le == f64::INFINITY {
                    return Some(lower_bound);
                }
                let lower = lower_bound.min(le);
                return Some(lower + (le - lower) * ((rank - below) / (cumulative - below)));
            }
            below = cumulative;
            if le.is_finite() {
                lower_bound = le;
            }
        }
        Some(lower_bound)
    }

    /// Requests per second over `seconds`.
    pub fn rate(&self, seconds: f64) -> f64 {
        if seconds > 0.0 {
            self.requests / seconds
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(buckets: &[(f64, f64)]) -> RequestStats {
        let mut stats = RequestStats::default();
        for &(le, count) in buckets {
            stats.add_bucket(le, count);
        }
        stats
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        // 100 requests: 50 up to 0.1 s, 40 more up to 0.5 s, 10 more up to 1 s.
        let stats = stats(&[
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ]);
        assert_eq!(stats.quantile(0.5), Some(0.1));
        let p95 = stats.quantile(0.95).unwrap();
        assert!((p95 - 0.75).abs() < 1e-9, "{p95}");
        let p25 = stats.quantile(0.25).unwrap();
        assert!((p25 - 0.05).abs() < 1e-9, "{p25}");
    }

    #[test]
    fn a_quantile_in_the_inf_bucket_is_the_highest_finite_bound() {
        let stats = stats(&[(0.5, 1.0), (f64::INFINITY, 10.0)]);
        assert_eq!(stats.quantile(0.99), Some(0.5));
    }

    #[test]
    fn no_observations_no_quantile() {
        assert_eq!(RequestStats::default().quantile(0.5), None);
        assert_eq!(stats(&[(0.1, 0.0)]).quantile(0.5), None);
    }

    #[test]
    fn buckets_add_by_bound_and_stay_sorted() {
        let mut total = stats(&[(1.0, 1.0), (0.1, 2.0)]);
        total.add(&stats(&[(0.1, 3.0), (0.5, 1.0), (f64::INFINITY, 1.0)]));
        assert_eq!(
            total.buckets,
            vec![(0.1, 5.0), (0.5, 1.0), (1.0, 1.0), (f64::INFINITY, 1.0)]
        );
    }

    #[test]
    fn bounds_past_the_cap_are_dropped_but_inf_is_kept() {
        let mut stats = RequestStats::default();
        for i in 0..MAX_BUCKETS + 10 {
            stats.add_bucket(i as f64, i as f64);
        }
        stats.add_bucket(f64::INFINITY, 100.0);
        assert_eq!(stats.buckets.len(), MAX_BUCKETS + 1);
        assert_eq!(stats.buckets.last(), Some(&(f64::INFINITY, 100.0)));
    }

    #[test]
    fn decreasing_counts_are_made_monotonic() {
        // Two series with different bounds summed by bound: 0.5 only has one of them.
        let stats = stats(&[(0.1, 10.0), (0.5, 4.0), (1.0, 20.0), (f64::INFINITY, 20.0)]);
        let p75 = stats.quantile(0.75).unwrap();
        assert!((p75 - 0.75).abs() < 1e-9, "{p75}");
    }

    #[test]
    fn ratios() {
        let stats = RequestStats {
            requests: 200.0,
            errors: 2.0,
            client_errors: 30.0,
            ..Default::default()
        };
        assert_eq!(stats.error_ratio(), Some(0.01));
        assert_eq!(stats.client_error_ratio(), Some(0.15));
        assert_eq!(RequestStats::default().error_ratio(), None);
    }
}
