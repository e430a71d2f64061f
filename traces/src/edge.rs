//! Edges of the observed call graph and their statistics per bucket of time.

use std::sync::Arc;

use seam_health::RequestStats;

/// What a node of the graph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeKind {
    /// A service that sends spans (registered in the catalog or not).
    Service,
    /// A datastore, named from a client span's database attributes.
    Database,
    /// A peer that sends no spans, named from a client span's peer attributes.
    Virtual,
    /// Where root server spans come from: the outside world.
    User,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Service => "service",
            NodeKind::Database => "database",
            NodeKind::Virtual => "virtual",
            NodeKind::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<NodeKind> {
        Some(match s {
            "service" => NodeKind::Service,
            "database" => NodeKind::Database,
            "virtual" => NodeKind::Virtual,
            "user" => NodeKind::User,
            _ => return None,
        })
    }
}

/// Whether the caller waits for the answer (client/server) or not (producer/consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Sync,
    Async,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "sync" => Some(Mode::Sync),
            "async" => Some(Mode::Async),
            _ => None,
        }
    }
}

/// The name of the node root server spans are called from.
pub const USER_NODE: &str = "user";

/// One edge: who calls whom, in which versions, how and what. Empty strings stand for
/// what the spans did not say (a version, the environment, the operation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeKey {
    pub caller: Arc<str>,
    pub caller_kind: NodeKind,
    pub callee: Arc<str>,
    pub callee_kind: NodeKind,
    pub caller_version: Arc<str>,
    pub callee_version: Arc<str>,
    /// `deployment.environment.name` of the caller (of the callee for calls from users).
    pub environment: Arc<str>,
    /// `http`, `grpc`, a messaging or database system.
    pub protocol: Arc<str>,
    pub mode: Mode,
    /// Route template or RPC method of the callee (the caller's when unpaired).
    pub operation: Arc<str>,
}

/// Upper bounds of the latency histogram in seconds (OpenTelemetry's default boundaries
/// for HTTP durations), then `+Inf`.
pub const LATENCY_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Upper bounds of the calls-per-parent-request histogram, then `+Inf`.
/// Fine up to a dozen calls (where "chatty" begins), coarser beyond.
pub const FAN_OUT_BOUNDS: [f64; 16] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 30.0, 50.0, 100.0, 200.0, 1000.0,
];

/// A distribution of counts (calls of an edge per request into the caller): how many
/// requests, how many calls in all, cumulative buckets by upper bound like a histogram.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    /// Parent requests that made at least one call over the edge.
    pub count: f64,
    /// Calls over the edge made by those requests.
    pub sum: f64,
    /// Cumulative counts by upper bound, ascending, the last `+Inf`.
    pub buckets: Vec<(f64, f64)>,
}

impl Distribution {
    pub fn is_empty(&self) -> bool {
        self.count == 0.0
    }

    pub fn add(&mut self, other: &Distribution) {
        self.count += other.count;
        self.sum += other.sum;
        let mut stats = self.as_stats();
        for &(le, n) in &other.buckets {
            stats.add_bucket(le, n);
        }
        self.buckets = stats.buckets;
    }

    /// Mean calls per parent request.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The `q` quantile of calls per parent request, interpolated like
    /// `histogram_quantile`.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.as_stats().quantile(q)
    }

    fn as_stats(&self) -> RequestStats {
        RequestStats {
            requests: self.count,
            duration_count: self.count,
            duration_sum_seconds: self.sum,
            buckets: self.buckets.clone(),
            ..RequestStats::default()
        }
    }
}

/// An edge's statistics over a span of time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeStats {
    /// Calls (`requests`), failed calls (`errors`) and the latency histogram: the
    /// server span's duration where there is one, else the client span's.
    pub calls: RequestStats,
    /// Calls per parent request into the caller.
    pub fan_out: Distribution,
}

impl EdgeStats {
    pub fn add(&mut self, other: &EdgeStats) {
        self.calls.add(&other.calls);
        self.fan_out.add(&other.fan_out);
    }
}

/// One edge's statistics over one bucket of time: what is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeRow {
    /// Start of the bucket, unix seconds, a multiple of the bucket size.
    pub start: i64,
    pub key: EdgeKey,
    pub stats: EdgeStats,
}

/// Fixed-size accumulator of one edge in one bucket: cheap to add a span to.
#[derive(Debug, Clone, Default)]
pub(crate) struct EdgeAcc {
    pub calls: u64,
    pub errors: u64,
    pub client_errors: u64,
    pub duration_sum: f64,
    pub latency: [u64; LATENCY_BOUNDS.len() + 1],
    pub parents: u64,
    pub parent_calls: u64,
    pub fan_out: [u64; FAN_OUT_BOUNDS.len() + 1],
}

fn bucket_index(bounds: &[f64], value: f64) -> usize {
    bounds.partition_point(|&bound| bound < value)
}

fn cumulative(bounds: &[f64], counts: &[u64]) -> Vec<(f64, f64)> {
    let mut total = 0.0;
    let mut out = Vec::with_capacity(counts.len());
    for (i, &n) in counts.iter().enumerate() {
        total += n as f64;
        out.push((bounds.get(i).copied().unwrap_or(f64::INFINITY), total));
    }
    out
}

impl EdgeAcc {
    pub fn call(&mut self, error: bool, client_error: bool, seconds: f64) {
        self.calls += 1;
        self.errors += error as u64;
        self.client_errors += client_error as u64;
        self.duration_sum += seconds;
        self.latency[bucket_index(&LATENCY_BOUNDS, seconds)] += 1;
    }

    pub fn parent(&mut self, calls: u64) {
        self.parents += 1;
        self.parent_calls += calls;
        self.fan_out[bucket_index(&FAN_OUT_BOUNDS, calls as f64)] += 1;
    }

    pub fn merge(&mut self, other: &EdgeAcc) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.client_errors += other.client_errors;
        self.duration_sum += other.duration_sum;
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a += b;
        }
        self.parents += other.parents;
        self.parent_calls += other.parent_calls;
        for (a, b) in self.fan_out.iter_mut().zip(other.fan_out) {
            *a += b;
        }
    }

    pub fn stats(&self) -> EdgeStats {
        EdgeStats {
            calls: RequestStats {
                requests: self.calls as f64,
                errors: self.errors as f64,
                client_errors: self.client_errors as f64,
                duration_sum_seconds: self.duration_sum,
                duration_count: self.calls as f64,
                buckets: if self.calls > 0 {
                    cumulative(&LATENCY_BOUNDS, &self.latency)
                } else {
                    Vec::new()
                },
            },
            fan_out: Distribution {
                count: self.parents as f64,
                sum: self.parent_calls as f64,
                buckets: if self.parents > 0 {
                    cumulative(&FAN_OUT_BOUNDS, &self.fan_out)
                } else {
                    Vec::new()
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulators_become_cumulative_histograms() {
        let mut acc = EdgeAcc::default();
        acc.call(false, false, 0.004);
        acc.call(true, false, 0.3);
        acc.call(false, true, 30.0);
        acc.parent(1);
        acc.parent(7);
        let stats = acc.stats();
        assert_eq!(stats.calls.requests, 3.0);
        assert_eq!(stats.calls.errors, 1.0);
        assert_eq!(stats.calls.client_errors, 1.0);
        assert_eq!(stats.calls.buckets.first(), Some(&(0.005, 1.0)));
        assert_eq!(stats.calls.buckets.last(), Some(&(f64::INFINITY, 3.0)));
        assert_eq!(stats.fan_out.mean(), Some(4.0));
        assert_eq!(stats.fan_out.buckets[0], (1.0, 1.0));
        assert_eq!(stats.fan_out.buckets[6], (8.0, 2.0), "7 calls: in le=8");
        // A value on a bound falls in that bound's bucket (`le`).
        assert_eq!(bucket_index(&LATENCY_BOUNDS, 0.005), 0);
        assert_eq!(bucket_index(&LATENCY_BOUNDS, 11.0), LATENCY_BOUNDS.len());
    }

    #[test]
    fn distributions_add_up() {
        let mut a = EdgeAcc::default();
        a.parent(2);
        let mut b = EdgeAcc::default();
        b.parent(4);
        b.parent(4);
        let mut d = a.stats().fan_out;
        d.add(&b.stats().fan_out);
        assert_eq!(d.count, 3.0);
        assert_eq!(d.sum, 10.0);
        assert_eq!(d.buckets.last(), Some(&(f64::INFINITY, 3.0)));
        let median = d.quantile(0.5).unwrap();
        assert!((3.0..=4.0).contains(&median), "{median}");
    }
}
