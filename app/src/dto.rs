//! What the pages show, shaped for the pages: the server converts store rows into these
//! by hand, so a schema change never leaks into the browser's wire format unnoticed.

use serde::{Deserialize, Serialize};

pub use seam_catalog::FieldError;

/// One row of the services list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRow {
    pub name: String,
    pub version: String,
    pub owner: String,
    pub domain: String,
    pub system: String,
    pub lifecycle: String,
    pub kind: String,
    /// When the service was registered, RFC 3339 UTC; pages show it with [`crate::LocalTime`].
    pub registered_at: String,
    pub updated_at: String,
    /// Since when discovery no longer finds its manifest (RFC 3339); empty while it does.
    pub stale_since: String,
}

#[cfg(feature = "ssr")]
impl From<&seam_snapshot::ServiceView> for ServiceRow {
    fn from(view: &seam_snapshot::ServiceView) -> Self {
        let m = &view.manifest;
        ServiceRow {
            name: m.name.clone(),
            version: m.version.clone().unwrap_or_default(),
            owner: m.owner.clone(),
            domain: m.domain.clone().unwrap_or_default(),
            system: m.system.clone().unwrap_or_default(),
            lifecycle: m.lifecycle.clone(),
            kind: m.kind.clone(),
            registered_at: view
                .meta
                .registered_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            updated_at: view
                .meta
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            stale_since: view
                .meta
                .stale_since
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<seam_store::ServiceRecord> for ServiceRow {
    fn from(record: seam_store::ServiceRecord) -> Self {
        ServiceRow {
            name: record.name,
            version: record.version.unwrap_or_default(),
            owner: record.owner,
            domain: record.domain.unwrap_or_default(),
            system: record.system.unwrap_or_default(),
            lifecycle: record.lifecycle,
            kind: record.kind,
            registered_at: record
                .registered_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            updated_at: record
                .updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            stale_since: record
                .stale_since
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default(),
        }
    }
}

/// The services list's state, as it is in the URL (`/services?q=&owner=&...&page=`);
/// empty fields are unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub q: String,
    pub owner: String,
    pub domain: String,
    pub system: String,
    pub lifecycle: String,
    /// `name` (default), `owner`, `domain`, `system`, `lifecycle`, `version`, `updated`.
    pub sort: String,
    /// `asc` (default) or `desc`.
    pub order: String,
    /// 1-based page number; empty or invalid means 1.
    pub page: String,
}

impl ListQuery {
    /// The URL parameters, in a stable order, without empty ones.
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", self.q.as_str()),
            ("owner", &self.owner),
            ("domain", &self.domain),
            ("system", &self.system),
            ("lifecycle", &self.lifecycle),
            ("sort", &self.sort),
            ("order", &self.order),
            ("page", &self.page),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    /// The page's URL for this state.
    pub fn href(&self) -> String {
        let params = self.params();
        if params.is_empty() {
            return "/services".to_owned();
        }
        let query: Vec<String> = params
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
            .collect();
        format!("/services?{}", query.join("&"))
    }

    /// Whether any filter is set (sorting and paging aside).
    pub fn is_filtered(&self) -> bool {
        [
            &self.q,
            &self.owner,
            &self.domain,
            &self.system,
            &self.lifecycle,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    pub fn page_number(&self) -> usize {
        self.page.parse().ok().filter(|p| *p >= 1).unwrap_or(1)
    }

    pub fn descending(&self) -> bool {
        self.order == "desc"
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One page of the services list, with what the filter controls offer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceListPage {
    pub rows: Vec<ServiceRow>,
    /// Services matching the filters.
    pub total: usize,
    /// Services in the catalog.
    pub catalog_size: usize,
    /// 1-based; clamped to the last page.
    pub page: usize,
    pub pages: usize,
    pub page_size: usize,
    pub owners: Vec<String>,
    pub domains: Vec<String>,
    pub systems: Vec<String>,
    pub lifecycles: Vec<String>,
}

/// Why a write was refused for its API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenError {
    /// Tokens are configured and none was given.
    Missing,
    /// The token given is not one of the configured ones.
    Wrong,
    /// The server provided no way to check (refused: writes fail closed).
    Unavailable,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Missing => "an API token is required to register",
            TokenError::Wrong => "this API token is not accepted",
            TokenError::Unavailable => {
                "registration is unavailable: the server cannot check tokens"
            }
        }
    }
}

/// What a registration attempt from the web form led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterOutcome {
    Registered(Box<ServiceRow>),
    /// The form was refused; nothing was stored. One entry per field at fault.
    Invalid(Vec<FieldError>),
}

/// An API a service provides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRow {
    pub name: String,
    pub version: String,
    pub protocol: String,
}

/// One declared dependency, seen from either end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyRow {
    /// The other service (empty when only an API is named).
    pub service: String,
    pub api: String,
    pub version_req: String,
    pub mode: String,
    pub protocol: String,
    /// Whether the other end is registered in the catalog.
    pub known: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatastoreRow {
    pub name: String,
    pub kind: String,
    pub access: String,
    /// Other services that declare the same datastore.
    pub shared_with: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRow {
    pub base_url: String,
    pub metrics_url: String,
    pub health_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionRow {
    pub revision: i64,
    pub source: String,
    /// The API token's name, the collector, or `open`.
    pub submitted_by: String,
    pub valid_from: String,
    /// Empty while current.
    pub valid_to: String,
}

/// Everything the service page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDetail {
    pub row: ServiceRow,
    pub description: String,
    pub links: Vec<(String, String)>,
    pub instances: Vec<InstanceRow>,
    pub provides: Vec<ApiRow>,
    pub consumes: Vec<DependencyRow>,
    pub consumers: Vec<DependencyRow>,
    pub datastores: Vec<DatastoreRow>,
    pub libraries: Vec<(String, String)>,
    pub revisions: Vec<RevisionRow>,
    /// The current manifest as pretty JSON.
    pub manifest_json: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiffKind {
    Same,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

/// Two revisions compared: which fields changed, then the lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionDiff {
    /// Field paths (`spec.version`) only the newer revision has.
    pub added: Vec<String>,
    /// Field paths only the older revision has.
    pub removed: Vec<String>,
    /// Field paths both have, with different values.
    pub changed: Vec<String>,
    pub lines: Vec<DiffLine>,
}

/// A team and what it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRow {
    pub name: String,
    pub parent: String,
    pub services: Vec<String>,
    pub systems: Vec<String>,
    pub domains: Vec<String>,
    pub apis: Vec<String>,
}

/// A domain (bounded context), its systems and services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRow {
    pub name: String,
    pub owner: String,
    pub description: String,
    pub systems: Vec<String>,
    pub services: Vec<String>,
}

/// One finding about a pasted manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticRow {
    pub error: bool,
    pub document: usize,
    pub line: usize,
    pub column: usize,
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub kind: String,
    pub name: String,
    pub change: String,
}

/// What registering a pasted manifest would do to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    pub name: String,
    /// `create`, `update` or `unchanged`.
    pub action: String,
    /// For an update, the fields that change (`version`, `consumes`, ...).
    pub fields: Vec<String>,
    /// For an update, the current and the new version, when they differ.
    pub version_change: Option<(String, String)>,
}

/// What checking (and, when asked, applying) a pasted manifest found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ManifestCheck {
    pub diagnostics: Vec<DiagnosticRow>,
    pub services: usize,
    pub entities: usize,
    /// What registering would do to each service, filled by a check (before applying).
    pub plan: Vec<PlanRow>,
    /// Filled when the manifest was applied.
    pub changes: Vec<ChangeRow>,
    /// Why applying was refused before the manifest was looked at (a missing token).
    pub refused: Option<String>,
}

impl ManifestCheck {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_round_trips_through_its_url() {
        let query = ListQuery {
            q: "a b&c".into(),
            owner: "team-a".into(),
            sort: "owner".into(),
            page: "3".into(),
            ..ListQuery::default()
        };
        assert_eq!(
            query.href(),
            "/services?q=a%20b%26c&owner=team-a&sort=owner&page=3"
        );
        assert!(query.is_filtered());
        assert_eq!(query.page_number(), 3);
        assert_eq!(ListQuery::default().href(), "/services");
        assert_eq!(
            ListQuery {
                page: "0".into(),
                ..ListQuery::default()
            }
            .page_number(),
            1
        );
    }
}

/// A health state's figures over the current window, as pages show them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthFigures {
    /// `healthy`, `degraded`, `failing` or `unknown`.
    pub state: String,
    /// Requests per second.
    pub request_rate: f64,
    /// Server errors per request, 0..1.
    pub error_ratio: Option<f64>,
    pub latency_p95_seconds: Option<f64>,
}

/// A domain, system, service or instance with its health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedHealth {
    pub name: String,
    /// The domain a service belongs to (empty when none).
    pub group: String,
    pub figures: HealthFigures,
}

/// One step of a request series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthPoint {
    /// Start of the step, unix seconds.
    pub start: i64,
    pub request_rate: f64,
    /// Server errors per second.
    pub error_rate: f64,
    pub latency_p50_seconds: Option<f64>,
    pub latency_p95_seconds: Option<f64>,
    pub latency_p99_seconds: Option<f64>,
}

/// The whole system at a glance: the overview page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthOverview {
    /// When the figures were computed, RFC 3339 UTC.
    pub at: String,
    pub window_seconds: i64,
    pub overall: HealthFigures,
    /// Services by state, in the order healthy, degraded, failing, unknown.
    pub counts: Vec<(String, usize)>,
    pub domains: Vec<NamedHealth>,
    /// Services worst first, then busiest; at most [`WORST_SERVICES`].
    pub worst: Vec<NamedHealth>,
    pub services_total: usize,
    /// The whole system's requests over the last hour, per step.
    pub series: Vec<HealthPoint>,
    pub targets_up: usize,
    pub targets_down: usize,
    pub targets_unknown: usize,
    /// Whether Seam scrapes at all (it may be switched off in the configuration).
    pub scraping: bool,
}

/// How many services the overview lists, worst first.
pub const WORST_SERVICES: usize = 10;

/// One scrape target, for the targets page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    pub service: String,
    pub instance: String,
    pub url: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    /// RFC 3339 UTC; empty before the first scrape.
    pub last_scrape: String,
    pub duration_seconds: Option<f64>,
    pub samples: usize,
    pub last_error: String,
    /// The health probe: `up`, `down`, `unknown`; empty without a health URL.
    pub probe: String,
    pub probe_error: String,
    /// The standard request metrics found (a mapping name); empty for none.
    pub request_metrics: String,
}

/// A service's runtime health over a window: the service page's plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceHealthView {
    pub figures: HealthFigures,
    pub window: String,
    pub step_seconds: i64,
    pub points: Vec<HealthPoint>,
    pub instances: Vec<InstanceHealthRow>,
    /// The standard request metrics found (a mapping name), empty when none or unknown.
    pub standard_metrics: String,
    /// What it lacks of them (`request_count`, `status`, `duration`).
    pub lacks: Vec<String>,
    /// Whether any target was scraped successfully (else nothing is known of its metrics).
    pub scraped: bool,
}

/// An instance with its state and its target's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceHealthRow {
    pub instance: String,
    pub figures: HealthFigures,
    /// The scrape target's health and last error.
    pub target: String,
    pub last_error: String,
    pub probe: String,
}

/// The windows the service page offers.
pub const HEALTH_WINDOWS: [&str; 5] = ["15m", "1h", "6h", "1d", "7d"];

/// One observed or declared edge, as the calls page and the service page list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallEdge {
    pub caller: String,
    /// `service` or `user`.
    pub caller_kind: String,
    pub callee: String,
    /// `service`, `database`, `virtual` or `user`.
    pub callee_kind: String,
    /// Empty when the spans did not say (or the edge is only declared).
    pub caller_version: String,
    pub callee_version: String,
    pub protocol: String,
    /// `sync` or `async`.
    pub mode: String,
    pub operations: Vec<String>,
    /// Calls per second over the window.
    pub request_rate: f64,
    pub error_ratio: Option<f64>,
    pub latency_p95_seconds: Option<f64>,
    /// Mean and 95th percentile of calls per request into the caller.
    pub calls_per_request: Option<f64>,
    pub calls_per_request_p95: Option<f64>,
    pub declared: bool,
    pub observed: bool,
}

impl CallEdge {
    /// `declared only`, `undeclared` or empty (declared and observed).
    pub fn drift(&self) -> &'static str {
        match (self.declared, self.observed) {
            (true, false) => "declared, not observed",
            (false, true) if self.caller_kind == "service" => "undeclared",
            _ => "",
        }
    }
}

/// A service that loses the trace context, with evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropagationRow {
    pub service: String,
    /// `incoming` or `outgoing`.
    pub broken: String,
    pub spans: u64,
    pub roots: u64,
    pub example_trace_ids: Vec<String>,
}

/// Every edge over a window, and the propagation findings: the calls page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallsOverview {
    pub window: String,
    pub edges: Vec<CallEdge>,
    pub propagation: Vec<PropagationRow>,
    /// Whether the OTLP receivers run (else nothing can be observed).
    pub receiving: bool,
}

/// A service's callers and callees over a window: the service page's calls section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCalls {
    pub window: String,
    pub callers: Vec<CallEdge>,
    pub callees: Vec<CallEdge>,
    pub propagation: Vec<PropagationRow>,
}

/// The windows the calls pages offer.
pub const CALL_WINDOWS: [&str; 6] = ["5m", "15m", "1h", "6h", "1d", "7d"];

/// One pair of versions seen on an edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRow {
    /// Empty when the spans did not say.
    pub caller_version: String,
    pub callee_version: String,
    pub calls: f64,
    pub error_ratio: Option<f64>,
}

/// One edge over time: the edge detail page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeDetailView {
    pub caller: String,
    pub callee: String,
    pub window: String,
    pub step_seconds: i64,
    /// Calls per second, failed calls per second and latency per step.
    pub points: Vec<HealthPoint>,
    pub versions: Vec<VersionRow>,
    /// Operations with their calls, most first.
    pub operations: Vec<(String, f64)>,
    pub declared: bool,
}

/// The architecture analysis over a window, for the findings page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisView {
    pub window: String,
    /// When it ran, RFC 3339.
    pub computed_at: String,
    pub report: seam_analysis::Report,
}

/// The version matrix over a window, and the answer to a can-deploy or can-retire
/// question when one was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionsView {
    pub window: String,
    pub matrix: seam_analysis::versions::VersionMatrix,
    pub answer: Option<seam_analysis::versions::Answer>,
}

/// A question the versions page asks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionQuestion {
    /// `deploy` or `retire`.
    pub ask: String,
    pub service: String,
    pub version: String,
    pub environment: String,
}

/// The graph page: the aggregated graph as asked for, laid out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphPageView {
    pub window: String,
    pub graph: seam_analysis::layout::Graph,
    pub layout: seam_analysis::layout::Layout,
    /// Nodes in the whole model, before filters and grouping.
    pub total_nodes: usize,
    /// Values the filters can take.
    pub domains: Vec<String>,
    pub owners: Vec<String>,
    /// The finding the graph is focused on, when one was named.
    pub finding: Option<seam_analysis::Observation>,
}
