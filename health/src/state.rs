//! Health states, the thresholds that set them, and the one roll-up rule from instances
//! up to the whole system.

use serde::{Deserialize, Serialize};

use crate::stats::RequestStats;

/// How something is doing. Ordered from best to worst, `Unknown` (no data) apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Unknown,
    Healthy,
    Degraded,
    Failing,
}

impl State {
    /// The name used in the API, on pages and in metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unknown => "unknown",
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Failing => "failing",
        }
    }

    fn severity(self) -> u8 {
        match self {
            State::Unknown => 0,
            State::Healthy => 1,
            State::Degraded => 2,
            State::Failing => 3,
        }
    }

    /// The worse of two states; unknown loses to any known state.
    pub fn worst(self, other: State) -> State {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }

    pub const ALL: [State; 4] = [
        State::Healthy,
        State::Degraded,
        State::Failing,
        State::Unknown,
    ];
}

/// Error ratios that make a service degraded or failing. The defaults are Kiali's:
/// server errors (HTTP 5xx, gRPC server codes) degrade at 0.1% of requests and fail above
/// 10%; client errors (HTTP 4xx) degrade at 10% and fail above 20%.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Server-error ratio (0..1) at or above which a service is degraded.
    pub error_degraded: f64,
    /// Server-error ratio (0..1) above which a service is failing.
    pub error_failing: f64,
    /// Client-error ratio (0..1) at or above which a service is degraded.
    pub client_error_degraded: f64,
    /// Client-error ratio (0..1) above which a service is failing.
    pub client_error_failing: f64,
    /// Share of a parent's traffic (0..1) a child must carry for its state to count in
    /// full; a failing child below it makes the parent degraded at most.
    pub min_traffic_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            error_degraded: 0.001,
            error_failing: 0.10,
            client_error_degraded: 0.10,
            client_error_failing: 0.20,
            min_traffic_share: 0.10,
        }
    }
}

impl Thresholds {
    /// The state request statistics alone give: healthy without requests (up and idle).
    pub fn classify(&self, stats: &RequestStats) -> State {
        let errors = stats.error_ratio().unwrap_or(0.0);
        let client_errors = stats.client_error_ratio().unwrap_or(0.0);
        if errors > self.error_failing || client_errors > self.client_error_failing {
            State::Failing
        } else if errors >= self.error_degraded || client_errors >= self.client_error_degraded {
            State::Degraded
        } else {
            State::Healthy
        }
    }

    /// One instance's state: unknown before its first scrape; failing while its target is
    /// down (as Prometheus's `up == 0`); degraded while only its health probe fails (the
    /// probe says what the instance thinks of itself, the metrics how it serves);
    /// otherwise what its requests say.
    pub fn instance_state(
        &self,
        scrape_up: Option<bool>,
        probe_up: Option<bool>,
        stats: &RequestStats,
    ) -> State {
        match scrape_up {
            None => match probe_up {
                None => State::Unknown,
                Some(true) => State::Healthy,
                Some(false) => State::Failing,
            },
            Some(false) => State::Failing,
            Some(true) => {
                let from_requests = self.classify(stats);
                if probe_up == Some(false) {
                    from_requests.worst(State::Degraded)
                } else {
                    from_requests
                }
            }
        }
    }

    /// Rolls children's states up into their parent's, the one rule Seam uses at every
    /// level (instance → service → system → domain → whole system): the parent takes the
    /// worst state among the children that carry at least `min_traffic_share` of its
    /// requests; a child below that share (an idle canary, an instance that is down and so
    /// gets no traffic) can make it degraded at most. Unknown children are left out, and
    /// the parent is unknown only when all are. When no child has traffic, all weigh the
    /// same.
    pub fn roll_up(&self, children: &[(State, f64)]) -> State {
        let known: Vec<(State, f64)> = children
            .iter()
            .filter(|(state, _)| *state != State::Unknown)
            .map(|(state, requests)| (*state, requests.max(0.0)))
            .collect();
        if known.is_empty() {
            return State::Unknown;
        }
        let total: f64 = known.iter().map(|(_, requests)| requests).sum();
        let count = known.len() as f64;
        known
            .iter()
            .fold(State::Healthy, |parent, &(state, requests)| {
                let share = if total > 0.0 {
                    requests / total
                } else {
                    1.0 / count
                };
                let counted = if share >= self.min_traffic_share {
                    state
                } else {
                    state.min_with(State::Degraded)
                };
                parent.worst(counted)
            })
    }
}

impl State {
    fn min_with(self, cap: State) -> State {
        if self.severity() > cap.severity() {
            cap
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    fn stats(requests: f64, errors: f64, client_errors: f64) -> RequestStats {
        RequestStats {
            requests,
            errors,
            client_errors,
            ..Default::default()
        }
    }

    #[test]
    fn kiali_defaults() {
        let t = Thresholds::default();
        assert_eq!(t.classify(&stats(0.0, 0.0, 0.0)), Healthy);
        assert_eq!(t.classify(&stats(10_000.0, 9.0, 0.0)), Healthy);
        assert_eq!(t.classify(&stats(10_000.0, 10.0, 0.0)), Degraded);
        assert_eq!(t.classify(&stats(100.0, 10.0, 0.0)), Degraded);
        assert_eq!(t.classify(&stats(100.0, 11.0, 0.0)), Failing);
        assert_eq!(t.classify(&stats(100.0, 0.0, 10.0)), Degraded);
        assert_eq!(t.classify(&stats(100.0, 0.0, 20.0)), Degraded);
        assert_eq!(t.classify(&stats(100.0, 0.0, 21.0)), Failing);
    }

    #[test]
    fn instances() {
        let t = Thresholds::default();
        let idle = RequestStats::default();
        assert_eq!(t.instance_state(None, None, &idle), Unknown);
        assert_eq!(t.instance_state(Some(false), Some(true), &idle), Failing);
        assert_eq!(t.instance_state(Some(true), Some(false), &idle), Degraded);
        assert_eq!(
            t.instance_state(Some(true), None, &stats(10.0, 5.0, 0.0)),
            Failing
        );
        assert_eq!(t.instance_state(None, Some(true), &idle), Healthy);
    }

    #[test]
    fn an_idle_failing_canary_only_degrades() {
        let t = Thresholds::default();
        assert_eq!(t.roll_up(&[(Healthy, 1000.0), (Failing, 1.0)]), Degraded);
        assert_eq!(t.roll_up(&[(Healthy, 500.0), (Failing, 500.0)]), Failing);
    }

    #[test]
    fn all_down_is_failing_some_down_is_degraded() {
        let t = Thresholds::default();
        assert_eq!(t.roll_up(&[(Failing, 0.0), (Failing, 0.0)]), Failing);
        assert_eq!(
            t.roll_up(&[(Failing, 0.0), (Healthy, 10.0), (Healthy, 10.0)]),
            Degraded
        );
    }

    #[test]
    fn unknown_is_left_out_unless_all_are() {
        let t = Thresholds::default();
        assert_eq!(t.roll_up(&[(Unknown, 0.0), (Healthy, 0.0)]), Healthy);
        assert_eq!(t.roll_up(&[(Unknown, 0.0), (Unknown, 0.0)]), Unknown);
        assert_eq!(t.roll_up(&[]), Unknown);
    }
}
