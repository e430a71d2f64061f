//! The catalogue of rules: what each code means, why it matters, how to fix it, and the
//! parameters a policy may set.
//!
//! Codes follow `SEAM-<AREA>-<NNN>` and are stable: a code is never reused for another
//! meaning, so waivers, history and links to the reference stay valid. A new check gets
//! a new number.

use serde::{Deserialize, Serialize};

use crate::Severity;

/// A rule's stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    Cycle001,
    Cycle002,
    Chatty001,
    Hub001,
    Depth001,
    Db001,
    Context001,
    Context002,
    Metrics001,
    Metrics002,
    Health001,
    Trace001,
    Semver001,
    Semver002,
    Semver003,
    Owner001,
    Owner002,
    Drift001,
    Drift002,
}

impl Code {
    /// Every code, in the catalogue's order.
    pub const ALL: [Code; 19] = [
        Code::Cycle001,
        Code::Cycle002,
        Code::Chatty001,
        Code::Hub001,
        Code::Depth001,
        Code::Db001,
        Code::Context001,
        Code::Context002,
        Code::Metrics001,
        Code::Metrics002,
        Code::Health001,
        Code::Trace001,
        Code::Semver001,
        Code::Semver002,
        Code::Semver003,
        Code::Owner001,
        Code::Owner002,
        Code::Drift001,
        Code::Drift002,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Cycle001 => "SEAM-CYCLE-001",
            Code::Cycle002 => "SEAM-CYCLE-002",
            Code::Chatty001 => "SEAM-CHATTY-001",
            Code::Hub001 => "SEAM-HUB-001",
            Code::Depth001 => "SEAM-DEPTH-001",
            Code::Db001 => "SEAM-DB-001",
            Code::Context001 => "SEAM-CONTEXT-001",
            Code::Context002 => "SEAM-CONTEXT-002",
            Code::Metrics001 => "SEAM-METRICS-001",
            Code::Metrics002 => "SEAM-METRICS-002",
            Code::Health001 => "SEAM-HEALTH-001",
            Code::Trace001 => "SEAM-TRACE-001",
            Code::Semver001 => "SEAM-SEMVER-001",
            Code::Semver002 => "SEAM-SEMVER-002",
            Code::Semver003 => "SEAM-SEMVER-003",
            Code::Owner001 => "SEAM-OWNER-001",
            Code::Owner002 => "SEAM-OWNER-002",
            Code::Drift001 => "SEAM-DRIFT-001",
            Code::Drift002 => "SEAM-DRIFT-002",
        }
    }

    /// Reads a code as written in the reference (`SEAM-CYCLE-001`), exactly.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The rule this code names.
    pub fn rule(self) -> &'static Rule {
        // RULES is in the order of Code::ALL; a test keeps them in step.
        &RULES[self as usize]
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Code {
    type Err = String;

    fn from_str(text: &str) -> Result<Code, String> {
        Code::parse(text).ok_or_else(|| format!("unknown rule code {text:?}"))
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Code, D::Error> {
        let text = String::deserialize(deserializer)?;
        Code::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown rule code {:?}", truncate(&text, 64)))
        })
    }
}

/// What a rule reads, and so when it can be judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Data {
    /// The catalog alone: judged offline (`seam check` against manifests).
    Manifests,
    /// The call graph, from manifests and traces: judged offline on declared calls,
    /// and on observed ones too when traces are there.
    Graph,
    /// Traces only: not judged without them.
    Traces,
    /// Scrapes and health probes: not judged for a service without them.
    Metrics,
}

impl Data {
    pub fn as_str(self) -> &'static str {
        match self {
            Data::Manifests => "manifests",
            Data::Graph => "graph",
            Data::Traces => "traces",
            Data::Metrics => "metrics",
        }
    }
}

/// The type, bounds and default of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// A number in `min..=max`; an integer when `integer`.
    Number {
        min: f64,
        max: f64,
        integer: bool,
        default: f64,
    },
    Bool {
        default: bool,
    },
    /// A list of words; each one of `options` unless `options` is empty.
    Words {
        options: &'static [&'static str],
        default: &'static [&'static str],
    },
    /// One of `options`.
    Choice {
        options: &'static [&'static str],
        default: &'static str,
    },
}

/// One parameter a policy may set on a rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
    /// What it does, one or two sentences.
    pub doc: &'static str,
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rule {
    pub code: Code,
    /// A short noun phrase: `Synchronous call cycle`.
    pub title: &'static str,
    /// The severity unless the policy says otherwise.
    pub severity: Severity,
    /// The principle of the default policy the rule belongs to (its `id`).
    pub principle: &'static str,
    pub data: Data,
    /// Why it matters, for a team lead: full sentences.
    pub explanation: &'static str,
    /// What to do about it: full sentences.
    pub resolution: &'static str,
    pub params: &'static [ParamSpec],
}

impl Rule {
    /// The parameter named `name`, if the rule has one.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Most values a list parameter may hold.
pub const MAX_PARAM_WORDS: usize = 100;

const OBSERVED_ONLY: ParamSpec = ParamSpec {
    name: "observed_only",
    kind: ParamKind::Bool { default: false },
    doc: "Judge only cycles whose every call was observed in traces; declared-only calls do not count.",
};

const ENVIRONMENTS: ParamSpec = ParamSpec {
    name: "environments",
    kind: ParamKind::Words {
        options: &[],
        default: &[],
    },
    doc: "Judge only these environments (`deployment.environment.name`; `default` when spans name none); empty judges every environment.",
};

const NO_PARAMS: &[ParamSpec] = &[];

/// Every rule, in the order of [`Code::ALL`].
pub static RULES: [Rule; 19] = [
    Rule {
        code: Code::Cycle001,
        title: "Synchronous call cycle",
        severity: Severity::Error,
        principle: "loose-coupling",
        data: Data::Graph,
        explanation: "Services in a synchronous cycle wait on each other: a request that enters the cycle can come back to a service that is already waiting for it, so one slow or failing member slows or fails all of them. None of them can be deployed, scaled or understood alone, and cycles are where deadlocks and retry storms start. This is the distributed monolith that microservices were meant to avoid.",
        resolution: "Break the cycle at its weakest call: move the logic that needs the call back into the service that owns the data, replace one of the calls with an event the other service subscribes to, or merge services that cannot work apart. The edges in the evidence show which calls form the cycle and whether each one was declared, observed, or both.",
        params: &[OBSERVED_ONLY],
    },
    Rule {
        code: Code::Cycle002,
        title: "Call cycle through asynchronous calls",
        severity: Severity::Info,
        principle: "loose-coupling",
        data: Data::Graph,
        explanation: "The services form a cycle in which at least one call is asynchronous (an event or a message). Nobody blocks, so it is less dangerous than a synchronous cycle, but the services still depend on each other in both directions: a change to the messages of one side needs a change to the other, and a loop of events can feed itself.",
        resolution: "Check that the loop is intended and ends (an event that causes an event that causes the first one again never does). If the services cannot change independently, decide which of them owns the whole flow, or remove the dependency in one direction.",
        params: &[OBSERVED_ONLY],
    },
    Rule {
        code: Code::Chatty001,
        title: "Chatty pair of services",
        severity: Severity::Warning,
        principle: "loose-coupling",
        data: Data::Traces,
        explanation: "The caller calls the callee many times for each request it serves, or very often overall. Every call adds latency, a chance of failure and load. A pair that talks this much is usually split along the wrong line, or uses an API that returns too little per call (the N+1 problem).",
        resolution: "Batch the calls (one call for many items), cache what does not change, or move the data or logic the caller needs into it. If the two services always change together, consider merging them. The evidence gives the calls per request (mean and 95th percentile) and per minute.",
        params: &[
            ParamSpec {
                name: "calls_per_request",
                kind: ParamKind::Number { min: 1.0, max: 1e6, integer: false, default: 10.0 },
                doc: "A pair is chatty from this many calls per request into the caller (mean), or when the 95th percentile reaches twice this. The analysis reports pairs from its own threshold (`[analysis] chatty_calls_per_request`), so a lower value here has no effect.",
            },
            ParamSpec {
                name: "calls_per_minute",
                kind: ParamKind::Number { min: 1.0, max: 1e12, integer: false, default: 6000.0 },
                doc: "A pair is also chatty from this many calls per minute, averaged over the window; bounded below by `[analysis] chatty_calls_per_minute` in the same way.",
            },
        ],
    },
    Rule {
        code: Code::Hub001,
        title: "Orchestrating hub",
        severity: Severity::Warning,
        principle: "choreography",
        data: Data::Graph,
        explanation: "The service calls many other services: it orchestrates a process by telling each service what to do. An orchestrator gathers the knowledge of every step, becomes the bottleneck for every change to the process and a single point of failure, and leaves the services it calls as thin wrappers around their data.",
        resolution: "Prefer choreography: let the service publish an event for what happened and let the other services react to it, each owning its step. Where an orchestrator is the right design (a saga that must be compensated), keep it thin and the only one for that process, and waive this finding with the reason.",
        params: &[ParamSpec {
            name: "max_fan_out",
            kind: ParamKind::Number { min: 1.0, max: 100_000.0, integer: true, default: 5.0 },
            doc: "A service calling more distinct services than this is a hub. The analysis reports hubs from `[analysis] hub_fan_out` (and by fan-in and betweenness), so a value below `hub_fan_out - 1` only catches services that are hubs for another reason.",
        }],
    },
    Rule {
        code: Code::Depth001,
        title: "Deep synchronous call chain",
        severity: Severity::Warning,
        principle: "loose-coupling",
        data: Data::Graph,
        explanation: "A request passes through a long chain of services, each waiting on the next. Latencies add up and availability multiplies down (five services at 99.9% each give 99.5%), every timeout has to be shorter than its caller's, and a failure at the end surfaces far from its cause.",
        resolution: "Shorten the chain: answer from data the first services already hold (kept current by events), make the calls whose answer the caller does not need asynchronous, or merge steps that always run together. Check that each hop's timeout is shorter than its caller's.",
        params: &[ParamSpec {
            name: "max_depth",
            kind: ParamKind::Number { min: 1.0, max: 10_000.0, integer: true, default: 4.0 },
            doc: "Chains of more services than this are findings. The analysis reports chains from `[analysis] chain_depth` services, the deepest `max_chains` of them.",
        }],
    },
    Rule {
        code: Code::Db001,
        title: "Datastore shared across owners or contexts",
        severity: Severity::Warning,
        principle: "loose-coupling",
        data: Data::Graph,
        explanation: "A datastore is used by services of different owner teams or different bounded contexts. Its schema becomes a shared and undocumented API: no team can change a table without coordinating with the others, and the services are coupled through the data however cleanly their calls are separated.",
        resolution: "Give the datastore one owner. Other services read the data through the owner's API, or keep their own copy fed by its events; reporting can use a replica or an export. While migrating, waive the finding with an expiry date.",
        params: &[ParamSpec {
            name: "across",
            kind: ParamKind::Choice { options: &["owners", "domains", "either"], default: "either" },
            doc: "What sharing counts: users of at least two owner teams (`owners`), of at least two bounded contexts (`domains`), or either.",
        }],
    },
    Rule {
        code: Code::Context001,
        title: "No bounded context declared",
        severity: Severity::Warning,
        principle: "bounded-contexts",
        data: Data::Manifests,
        explanation: "The service declares no domain (bounded context). Without one, nobody can tell which part of the business it serves or which model its data follows, and Seam cannot tell whether its calls cross context borders.",
        resolution: "Set `spec.domain` in the service's manifest to the bounded context it belongs to (for a Backstage component, set `spec.system` to a system whose `spec.domain` is set).",
        params: NO_PARAMS,
    },
    Rule {
        code: Code::Context002,
        title: "Call across bounded contexts outside a declared API",
        severity: Severity::Warning,
        principle: "bounded-contexts",
        data: Data::Graph,
        explanation: "A service calls a service of another bounded context without going through an API the callee provides and the caller declares. Borders between contexts are where models get mixed up; a call that bypasses a published API makes the callee's internals an implicit contract with a team that does not own them.",
        resolution: "Have the callee publish the API (`spec.provides`) and the caller declare it (`spec.consumes` with `api:`), so the contract is visible and versioned, or route the call through the context's public API. If the callee's context is a shared platform every context may call, list it in the rule's `open_domains` parameter.",
        params: &[ParamSpec {
            name: "open_domains",
            kind: ParamKind::Words { options: &[], default: &[] },
            doc: "Bounded contexts any service may call without a declared API (a shared platform or kernel).",
        }],
    },
    Rule {
        code: Code::Metrics001,
        title: "Standard request metrics missing",
        severity: Severity::Warning,
        principle: "standard-monitoring",
        data: Data::Metrics,
        explanation: "The service's metrics endpoint lacks the standard request metrics: a request counter, a status label on it, and a duration histogram, in one of the conventions Seam reads (OpenTelemetry's `http.server.request.duration`, Prometheus client defaults and the like). Without them its traffic, errors and latency cannot be seen the way every other service's are, and its health cannot be judged.",
        resolution: "Instrument the service with a standard library (an OpenTelemetry SDK, or the Prometheus client's HTTP middleware) so that its metrics endpoint exposes request counts by status and a request duration histogram. The evidence lists what is missing.",
        params: &[ParamSpec {
            name: "require",
            kind: ParamKind::Words {
                options: &["request_count", "status", "duration"],
                default: &["request_count", "status", "duration"],
            },
            doc: "Which standard metrics are required: a request counter (`request_count`), a status label on it (`status`), a duration histogram (`duration`).",
        }],
    },
    Rule {
        code: Code::Metrics002,
        title: "Metrics not scraped",
        severity: Severity::Error,
        principle: "standard-monitoring",
        data: Data::Metrics,
        explanation: "Seam's last scrape of the service's metrics endpoint failed, or Seam has no metrics endpoint for the service at all. A service whose metrics cannot be read is invisible to dashboards and alerts: its problems are found by its users first.",
        resolution: "Check that the metrics endpoint (`metricsUrl`, by default `{baseUrl}/metrics`) answers from where Seam runs. If Seam has none, declare an instance in the manifest (`spec.instances`) or a scrape target in Seam's configuration.",
        params: &[ParamSpec {
            name: "require_target",
            kind: ParamKind::Bool { default: true },
            doc: "A service Seam has no metrics target for fails; when false, it is not judged.",
        }],
    },
    Rule {
        code: Code::Health001,
        title: "Health endpoint down",
        severity: Severity::Error,
        principle: "standard-monitoring",
        data: Data::Metrics,
        explanation: "The service's health endpoint did not answer healthy at the last probe. Either the service is unhealthy, or the endpoint is missing or misconfigured; either way, orchestrators and load balancers cannot rely on it to send traffic away from broken instances.",
        resolution: "Check the service first. If it is running, make its health endpoint (`healthUrl`, by default `{baseUrl}/healthz`) answer 200 whenever the instance can serve requests, and make it reachable from Seam.",
        params: NO_PARAMS,
    },
    Rule {
        code: Code::Trace001,
        title: "Trace context not propagated",
        severity: Severity::Warning,
        principle: "correlation-ids",
        data: Data::Traces,
        explanation: "The service breaks traces: its incoming requests start new traces although it has callers (it does not read the trace context), or its outgoing calls start new traces although it serves requests (it does not pass the context on). Correlation IDs are how one request is followed across services; every break cuts the story in two, and errors can no longer be traced to their cause.",
        resolution: "Use instrumented HTTP, gRPC and messaging clients and servers (OpenTelemetry's) so the W3C `traceparent` header is read on the way in and written on the way out, including across thread pools and message queues. The evidence gives the share of spans that started a trace and example trace ids to look at.",
        params: &[ParamSpec {
            name: "sides",
            kind: ParamKind::Words {
                options: &["incoming", "outgoing"],
                default: &["incoming", "outgoing"],
            },
            doc: "Which breaks count: requests arriving without context (`incoming`), calls leaving without it (`outgoing`).",
        }],
    },
    Rule {
        code: Code::Semver001,
        title: "Version is not a semantic version",
        severity: Severity::Warning,
        principle: "semantic-versioning",
        data: Data::Manifests,
        explanation: "The service's version, as declared or as reported by its telemetry, is not a semantic version (MAJOR.MINOR.PATCH), or it declares none. Consumers' version ranges, the version matrix and can-deploy answers all compare versions; dates, commit hashes and `latest` cannot be compared.",
        resolution: "Version releases as MAJOR.MINOR.PATCH: bump MAJOR for changes that break consumers, MINOR for compatible additions, PATCH for fixes. Report the same version in the manifest (`spec.version`) and in the telemetry (`service.version`).",
        params: &[
            ParamSpec {
                name: "require_version",
                kind: ParamKind::Bool { default: true },
                doc: "A service with no version at all fails.",
            },
            ParamSpec {
                name: "allow_v_prefix",
                kind: ParamKind::Bool { default: true },
                doc: "Accept one leading `v` (`v1.4.0`), as the version matrix does.",
            },
        ],
    },
    Rule {
        code: Code::Semver002,
        title: "Consumer's range rejects a live version",
        severity: Severity::Error,
        principle: "semantic-versioning",
        data: Data::Graph,
        explanation: "A consumer declares a version range for a provider (or for one of its APIs) that rejects a version of the provider running in the same environment, and the consumer calls it, or the range rejects every live version. Either the range is out of date, or the consumer calls a version it was not built for, which is how breaking changes reach production.",
        resolution: "If the consumer works with the live version, widen its range in `spec.consumes` after testing against that version. If it does not, roll the provider back, or keep a version the range accepts running until the consumer has moved.",
        params: &[ENVIRONMENTS],
    },
    Rule {
        code: Code::Semver003,
        title: "Several major versions live",
        severity: Severity::Info,
        principle: "semantic-versioning",
        data: Data::Graph,
        explanation: "Several major versions of the service run at once in one environment, and no consumer's range needs an older one. Every live major costs operations and security patches; once no consumer needs it, it is waste, and consumers that still call it by accident never move.",
        resolution: "Retire the older major versions (the can-retire answer lists who still calls each one). If a consumer does need an old major, say so in its range (`spec.consumes[].version`) so the reason is visible.",
        params: &[
            ENVIRONMENTS,
            ParamSpec {
                name: "unless_needed",
                kind: ParamKind::Bool { default: true },
                doc: "Pass when every older major is the only one some consumer's range accepts; when false, any second major fails.",
            },
        ],
    },
    Rule {
        code: Code::Owner001,
        title: "Owner team not declared",
        severity: Severity::Error,
        principle: "ownership",
        data: Data::Manifests,
        explanation: "The service names no owner team, or names a team the catalog does not declare. Every service needs a team that answers for it: who is called when it breaks, who approves changes to its API, who decides when it is retired.",
        resolution: "Set `spec.owner` to a team the catalog declares (a Backstage `Group`), and keep it current when teams change.",
        params: &[ParamSpec {
            name: "require_declared_team",
            kind: ParamKind::Bool { default: true },
            doc: "When the catalog declares teams, the owner must be one of them. A catalog that declares no team at all (Seam manifests alone) is not judged on this.",
        }],
    },
    Rule {
        code: Code::Owner002,
        title: "Lifecycle not declared",
        severity: Severity::Warning,
        principle: "ownership",
        data: Data::Manifests,
        explanation: "The service's lifecycle is missing, or is not one of the allowed words. The lifecycle tells consumers what they may rely on: an experimental service may change without notice, a production one keeps its contracts, a deprecated one will go away.",
        resolution: "Set `spec.lifecycle` in the service's manifest to one of the allowed lifecycles.",
        params: &[ParamSpec {
            name: "allowed",
            kind: ParamKind::Words {
                options: &[],
                default: &["experimental", "production", "deprecated"],
            },
            doc: "The lifecycles a service may declare.",
        }],
    },
    Rule {
        code: Code::Drift001,
        title: "Undeclared dependency",
        severity: Severity::Warning,
        principle: "declared-equals-observed",
        data: Data::Traces,
        explanation: "Traces show the service calling a service or datastore that no manifest declares. The catalog is wrong about it: impact analysis, can-deploy answers and the graph miss this dependency, and the callee's team does not know it has this consumer.",
        resolution: "Declare the dependency in the caller's manifest (`spec.consumes`, or `spec.datastores` for a datastore) with a version range, or remove the call if it should not happen.",
        params: &[ParamSpec {
            name: "min_calls_per_second",
            kind: ParamKind::Number { min: 0.0, max: 1e9, integer: false, default: 0.0 },
            doc: "Undeclared calls below this rate, averaged over the window, are not findings.",
        }],
    },
    Rule {
        code: Code::Drift002,
        title: "Declared dependency never observed",
        severity: Severity::Info,
        principle: "declared-equals-observed",
        data: Data::Traces,
        explanation: "The service's manifest declares a dependency that no trace showed in the window. Either the dependency is gone and the declaration is stale (and keeps the callee from being retired), or the call is not traced, or it is rare.",
        resolution: "Remove the declaration if the dependency is gone. If the call is real, check that both sides are traced (asynchronous calls need the context carried in the messages), or waive the finding for rare calls such as a monthly batch.",
        params: &[ParamSpec {
            name: "ignore_async",
            kind: ParamKind::Bool { default: false },
            doc: "Do not judge declared asynchronous dependencies: producer and consumer spans often land in separate traces.",
        }],
    },
];

/// The reference text of every code, as Markdown: one section per code with its title,
/// default severity, principle, what it reads, explanation, resolution and parameters.
/// Served as the reference page and copied into the README.
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for rule in &RULES {
        out.push_str(&format!("### {}: {}\n\n", rule.code, rule.title));
        out.push_str(&format!(
            "Severity **{}** by default; principle `{}`; reads {}.\n\n",
            rule.severity,
            rule.principle,
            match rule.data {
                Data::Manifests => "the manifests",
                Data::Graph => "the call graph (declared and observed calls)",
                Data::Traces => "traces (not judged without them)",
                Data::Metrics => "scrapes and health probes (not judged without them)",
            }
        ));
        out.push_str(&format!("{}\n\n", rule.explanation));
        out.push_str(&format!("**Resolution.** {}\n\n", rule.resolution));
        if !rule.params.is_empty() {
            out.push_str("| parameter | type | default | meaning |\n|---|---|---|---|\n");
            for param in rule.params {
                let (kind, default) = describe_kind(&param.kind);
                out.push_str(&format!(
                    "| `{}` | {kind} | {default} | {} |\n",
                    param.name,
                    param.doc.replace('|', "\\|")
                ));
            }
            out.push('\n');
        }
    }
    out
}

/// A parameter's type and default, as the reference shows them.
fn describe_kind(kind: &ParamKind) -> (String, String) {
    match kind {
        ParamKind::Number {
            min,
            max,
            integer,
            default,
        } => (
            format!(
                "{} {}..{}",
                if *integer { "integer" } else { "number" },
                figure(*min),
                figure(*max)
            ),
            format!("`{}`", figure(*default)),
        ),
        ParamKind::Bool { default } => ("boolean".to_owned(), format!("`{default}`")),
        ParamKind::Words { options, default } => (
            if options.is_empty() {
                "list of names".to_owned()
            } else {
                format!("list of: {}", options.join(", "))
            },
            format!("`[{}]`", default.join(", ")),
        ),
        ParamKind::Choice { options, default } => (
            format!("one of: {}", options.join(", ")),
            format!("`{default}`"),
        ),
    }
}

/// A number as people write it: `10`, `0.5`, `1000000000000`.
pub(crate) fn figure(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Shortens `s` to at most `max_chars` characters for a message.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_in_the_order_of_the_codes() {
        for (i, code) in Code::ALL.into_iter().enumerate() {
            assert_eq!(RULES[i].code, code);
            assert_eq!(code.rule().code, code);
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
    }

    #[test]
    fn codes_follow_the_scheme_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            let parts: Vec<&str> = text.split('-').collect();
            assert_eq!(parts.len(), 3, "{text}");
            assert_eq!(parts[0], "SEAM");
            assert!(parts[1].bytes().all(|b| b.is_ascii_uppercase()), "{text}");
            assert!(
                parts[2].len() == 3 && parts[2].bytes().all(|b| b.is_ascii_digit()),
                "{text}"
            );
            assert!(seen.insert(text));
        }
        assert_eq!(Code::parse("seam-cycle-001"), None);
    }

    #[test]
    fn texts_are_sentences_and_defaults_fit_their_bounds() {
        for rule in &RULES {
            for text in [rule.explanation, rule.resolution] {
                assert!(text.ends_with('.'), "{}: {text}", rule.code);
                assert!(text.starts_with(char::is_uppercase), "{}", rule.code);
            }
            assert!(!rule.title.ends_with('.'));
            for param in rule.params {
                assert!(param.doc.ends_with('.'), "{}.{}", rule.code, param.name);
                match param.kind {
                    ParamKind::Number {
                        min,
                        max,
                        integer,
                        default,
                    } => {
                        assert!(min <= default && default <= max, "{}", param.name);
                        assert!(!integer || default.fract() == 0.0);
                    }
                    ParamKind::Words { options, default } => {
                        assert!(options.is_empty() || default.iter().all(|d| options.contains(d)));
                    }
                    ParamKind::Choice { options, default } => assert!(options.contains(&default)),
                    ParamKind::Bool { .. } => {}
                }
            }
        }
    }

    #[test]
    fn the_reference_names_every_code_and_parameter() {
        let text = reference_markdown();
        for rule in &RULES {
            assert!(text.contains(&format!("### {}: ", rule.code)));
            for param in rule.params {
                assert!(text.contains(&format!("`{}`", param.name)));
            }
        }
    }
}
