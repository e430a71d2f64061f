//! Which metrics are the standard request metrics, as data: a list of [`RedMetric`]s,
//! the built-in ones first ([`RedMetric::standard`]), extendable per service in the
//! configuration file.

use serde::{Deserialize, Serialize};

/// How a status label tells a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusScheme {
    /// HTTP status codes: 5xx are server errors, 4xx client errors.
    Http,
    /// gRPC status codes, by name (`Unavailable`, `UNAVAILABLE`) or number (`14`): the
    /// server errors of the semantic conventions (UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS).
    Grpc,
}

/// One way a service may expose its request rate, errors and duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedMetric {
    /// A short name for the mapping, shown as the metric family a service was read from.
    pub name: String,
    /// Counter (or histogram `_count`) of handled requests, one series per label set.
    pub requests: String,
    /// Labels that carry the status, the first present wins.
    #[serde(default)]
    pub status_labels: Vec<String>,
    /// How the status label's values tell errors.
    #[serde(default = "default_scheme")]
    pub status: StatusScheme,
    /// Histogram of request durations, without its `_bucket`/`_sum`/`_count` suffix.
    #[serde(default)]
    pub duration: Option<String>,
    /// Seconds per unit of the duration histogram (0.001 for milliseconds).
    #[serde(default = "default_scale")]
    pub duration_scale: f64,
}

fn default_scheme() -> StatusScheme {
    StatusScheme::Http
}

fn default_scale() -> f64 {
    1.0
}

impl RedMetric {
    fn new(
        name: &str,
        requests: &str,
        status_labels: &[&str],
        status: StatusScheme,
        duration: &str,
        duration_scale: f64,
    ) -> RedMetric {
        RedMetric {
            name: name.to_owned(),
            requests: requests.to_owned(),
            status_labels: status_labels
                .iter()
                .map(|label| (*label).to_owned())
                .collect(),
            status,
            duration: Some(duration.to_owned()),
            duration_scale,
        }
    }

    /// The standard request metrics Seam knows without configuration, most specific
    /// first: OpenTelemetry's `http.server.request.duration` as Prometheus exports it,
    /// its older `http.server.duration` (milliseconds, and seconds), the common
    /// Prometheus client names, and the gRPC server metrics of go-grpc-prometheus and
    /// its ports.
    pub fn standard() -> Vec<RedMetric> {
        use StatusScheme::{Grpc, Http};
        vec![
            RedMetric::new(
                "otel-http",
                "http_server_request_duration_seconds_count",
                &["http_response_status_code"],
                Http,
                "http_server_request_duration_seconds",
                1.0,
            ),
            RedMetric::new(
                "otel-http-legacy-ms",
                "http_server_duration_milliseconds_count",
                &["http_status_code", "http_response_status_code"],
                Http,
                "http_server_duration_milliseconds",
                0.001,
            ),
            RedMetric::new(
                "otel-http-legacy",
                "http_server_duration_seconds_count",
                &["http_status_code", "http_response_status_code"],
                Http,
                "http_server_duration_seconds",
                1.0,
            ),
            RedMetric::new(
                "prometheus-http",
                "http_requests_total",
                &["code", "status", "status_code", "http_status_code"],
                Http,
                "http_request_duration_seconds",
                1.0,
            ),
            RedMetric::new(
                "grpc",
                "grpc_server_handled_total",
                &["grpc_code"],
                Grpc,
                "grpc_server_handling_seconds",
                1.0,
            ),
        ]
    }
}

/// What a status label value says of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    ClientError,
    ServerError,
}

impl StatusScheme {
    /// Classifies one status label value; an unknown or empty value counts as ok, as a
    /// request without a status label does.
    pub fn outcome(self, value: &str) -> Outcome {
        match self {
            StatusScheme::Http => match value.as_bytes().first() {
                Some(b'5') => Outcome::ServerError,
                Some(b'4') => Outcome::ClientError,
                _ => Outcome::Ok,
            },
            StatusScheme::Grpc => {
                if is_grpc_server_error(value) {
                    Outcome::ServerError
                } else {
                    Outcome::Ok
                }
            }
        }
    }
}

fn is_grpc_server_error(value: &str) -> bool {
    const SERVER_ERRORS: [(&str, &str); 6] = [
        ("unknown", "2"),
        ("deadlineexceeded", "4"),
        ("unimplemented", "12"),
        ("internal", "13"),
        ("unavailable", "14"),
        ("dataloss", "15"),
    ];
    if value.len() > 32 {
        return false;
    }
    let mut folded = [0u8; 32];
    let mut len = 0;
    for byte in value.bytes().filter(|byte| *byte != b'_') {
        folded[len] = byte.to_ascii_lowercase();
        len += 1;
    }
    let folded = &folded[..len];
    SERVER_ERRORS
        .iter()
        .any(|(name, number)| folded == name.as_bytes() || folded == number.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses() {
        assert_eq!(StatusScheme::Http.outcome("200"), Outcome::Ok);
        assert_eq!(StatusScheme::Http.outcome("404"), Outcome::ClientError);
        assert_eq!(StatusScheme::Http.outcome("503"), Outcome::ServerError);
        assert_eq!(StatusScheme::Http.outcome(""), Outcome::Ok);
    }

    #[test]
    fn grpc_codes_by_name_and_number() {
        for error in [
            "Unavailable",
            "UNAVAILABLE",
            "DeadlineExceeded",
            "DEADLINE_EXCEEDED",
            "13",
            "DataLoss",
        ] {
            assert_eq!(
                StatusScheme::Grpc.outcome(error),
                Outcome::ServerError,
                "{error}"
            );
        }
        for fine in [
            "OK",
            "0",
            "NotFound",
            "InvalidArgument",
            "PermissionDenied",
            "Canceled",
        ] {
            assert_eq!(StatusScheme::Grpc.outcome(fine), Outcome::Ok, "{fine}");
        }
    }
}
