//! A policy over what Seam knows: findings, waivers applied, scorecards and roll-ups.
//!
//! # Scope
//!
//! A rule of a principle applies to a service when the service is in the principle's
//! scope. A service Seam has no facts about (an unregistered caller seen in traces) is in
//! scope only of principles whose scope is empty. A finding about several services (a
//! cycle, a chain, a shared datastore) is reported when **any** of the services it holds
//! responsible is in scope, and counts on the scorecard of each of those in scope.
//!
//! # Who is responsible
//!
//! A finding's `objects` are the services it holds responsible; `related` are the others
//! it names. Every service of a cycle or a chain is responsible, and every user of a
//! shared datastore (the datastore is related); for a chatty pair, a call across
//! contexts, drift and a range mismatch, the caller (consumer) is responsible and the
//! callee (provider) is related, since the fix is in the caller's code or manifest.
//!
//! # Waivers
//!
//! A waiver matches a finding of its code when its object is the finding's subject (the
//! observation id, or the service name for per-service rules) or one of its `objects`.
//! Waivers from the policy file and from the API both apply. A waiver applies until its
//! expiry; an expired one is reported on the finding (`expired_waiver`) and in
//! [`Evaluation::waivers`], and no longer applies. When several apply, the one that
//! expires last is shown (the policy file's first on a tie).
//!
//! # Scorecards
//!
//! For each service and each rule that applies to it, the outcome is `fail` when an
//! unwaived finding of that rule holds the service responsible, `waived` when every such
//! finding is waived, `pass` when there is none, and `not_judged` when the rule needs
//! data Seam does not have for the service (no scrape, no traces). A level is reached
//! when every rule of it and of the levels below is passed, waived or not judged; the
//! level shown is the highest reached, up to the highest level any applicable rule has.
//! A service no rule applies to is at `none`, with no rules listed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use seam_analysis::versions::{parse_version, Verdict, VersionMatrix};
use seam_analysis::{EdgeRef, Evidence, Kind, Mode, Observation, Report};
use serde::{Deserialize, Serialize};

use crate::policy::{Policy, Principle, RuleConfig, Scope, Waiver, WaiverSource};
use crate::rules::{figure, Code, Data};
use crate::{Level, Severity};

/// What Seam knows about one catalog service, beyond the analysis' report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceFacts {
    pub name: String,
    /// Owner team, as the manifest names it.
    pub owner: Option<String>,
    /// Bounded context.
    pub domain: Option<String>,
    pub system: Option<String>,
    pub lifecycle: Option<String>,
    /// The version its manifest declares, as written.
    pub version: Option<String>,
    /// Versions its telemetry reports (`service.version`), as written.
    pub observed_versions: Vec<String>,
    /// Scrape and health-probe facts; `None` when Seam has none for it (offline).
    pub runtime: Option<RuntimeFacts>,
    /// Trace-context propagation over the traces window; `None` when Seam has no traces
    /// of it (offline, or it sends no spans).
    pub propagation: Option<PropagationFacts>,
}

impl ServiceFacts {
    pub fn new(name: &str) -> ServiceFacts {
        ServiceFacts {
            name: name.to_owned(),
            ..ServiceFacts::default()
        }
    }
}

/// What scrapes and health probes say of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeFacts {
    /// Seam has at least one metrics target for the service.
    pub scraped: bool,
    /// Whether the last scrape of its targets succeeded: `Some(false)` when one failed;
    /// `None` before the first scrape.
    pub up: Option<bool>,
    /// The standard request metrics its best target lacks, among `request_count`,
    /// `status` and `duration` (empty: it has them all); `None` before a successful
    /// scrape.
    pub metrics_lacking: Option<Vec<String>>,
    /// Whether its health endpoint answered healthy at the last probe; `None` when not
    /// probed.
    pub health_up: Option<bool>,
}

/// How a service passes the trace context on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropagationFacts {
    /// The sides on which it breaks the trace; empty when it propagates.
    pub broken: Vec<BrokenPropagation>,
}

/// One side on which a service breaks the trace, with the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenPropagation {
    pub side: Side,
    /// Spans of that side in the window, and how many of them started a trace.
    pub spans: u64,
    pub roots: u64,
    pub example_trace_ids: Vec<String>,
}

/// Where the trace is broken: requests arrive without context (`incoming`), or calls
/// leave without it (`outgoing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Incoming,
    Outgoing,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Incoming => "incoming",
            Side::Outgoing => "outgoing",
        }
    }
}

/// Everything a policy is evaluated against.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The catalog's services (the first of a name counts); each gets a scorecard.
    pub services: Vec<ServiceFacts>,
    /// The analysis of the catalog and the observed call graph.
    pub report: &'a Report,
    /// The version matrix, for whether a consumer still needs an old major
    /// (`SEAM-SEMVER-003`); without it every older major counts as unneeded.
    pub versions: Option<&'a VersionMatrix>,
    /// The teams the catalog declares; `None` when it declares none (Seam manifests
    /// alone), and then owners are not checked against a list.
    pub teams: Option<Vec<String>>,
    /// Whether the report includes calls observed in traces. Without them, rules that
    /// read traces only (chatty pairs, drift) are not judged.
    pub traced: bool,
    /// Waivers granted through the API (source [`WaiverSource::Api`]); the policy's own
    /// apply too.
    pub waivers: Vec<Waiver>,
}

impl<'a> Inputs<'a> {
    /// Inputs with the report only: no service facts, no traces, no teams, no waivers.
    pub fn new(report: &'a Report) -> Inputs<'a> {
        Inputs {
            services: Vec::new(),
            report,
            versions: None,
            teams: None,
            traced: false,
            waivers: Vec::new(),
        }
    }
}

/// One rule broken by one subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable while the same thing is found: `{principle}/{code}/{subject}`.
    pub id: String,
    pub code: Code,
    pub severity: Severity,
    /// The level of the rule in its principle.
    pub level: Level,
    /// The id of the principle whose rule this is.
    pub principle: String,
    pub title: &'static str,
    /// The observation id, or the service name for rules about one service's facts.
    pub subject: String,
    /// The services held responsible.
    pub objects: Vec<String>,
    /// Other services and datastores it names.
    pub related: Vec<String>,
    pub edges: Vec<EdgeRef>,
    /// One sentence with the figures that matter.
    pub summary: String,
    pub evidence: FindingEvidence,
    pub explanation: &'static str,
    pub resolution: &'static str,
    /// The waiver that applies, if any.
    pub waiver: Option<AppliedWaiver>,
    /// A waiver that matched but has expired, when none applies.
    pub expired_waiver: Option<AppliedWaiver>,
}

impl Finding {
    pub fn is_waived(&self) -> bool {
        self.waiver.is_some()
    }
}

impl std::fmt::Display for Finding {
    /// Formats as `error SEAM-CYCLE-001 orders, payments: summary`, with the waiver.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.severity,
            self.code,
            self.objects.join(", "),
            self.summary
        )?;
        if let Some(waiver) = &self.waiver {
            write!(
                f,
                " (waived until {} by {}: {})",
                waiver.expires.to_rfc3339(),
                waiver.author,
                waiver.reason
            )?;
        }
        Ok(())
    }
}

/// What a finding rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FindingEvidence {
    /// An observation of the analysis, with its figures.
    Observation {
        id: String,
        kind: Kind,
        evidence: Evidence,
    },
    /// A declared field: its values found, and what was expected.
    Field {
        field: &'static str,
        values: Vec<String>,
        expected: String,
    },
    /// Scrape and health-probe facts.
    Runtime { runtime: RuntimeFacts },
    /// The sides on which the trace breaks, with example trace ids.
    Propagation { broken: Vec<BrokenPropagation> },
}

/// A waiver as shown on a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedWaiver {
    /// What the waiver names: a service or an observation id.
    pub object: String,
    pub reason: String,
    pub author: String,
    pub expires: DateTime<Utc>,
    pub source: WaiverSource,
}

impl AppliedWaiver {
    fn of(waiver: &Waiver) -> AppliedWaiver {
        AppliedWaiver {
            object: waiver.object.clone(),
            reason: waiver.reason.clone(),
            author: waiver.author.clone(),
            expires: waiver.expires,
            source: waiver.source,
        }
    }
}

/// What became of one waiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaiverReport {
    pub waiver: Waiver,
    pub state: WaiverState,
    /// The ids of the findings it matches (applied or not).
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// Not expired, and it matches at least one finding.
    Active,
    /// Past its expiry: it no longer applies.
    Expired,
    /// Not expired, and it matches no finding (the problem is gone, or the object is
    /// misspelled).
    Unused,
}

/// A rule's result for one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    /// Every finding is waived.
    Waived,
    /// Seam lacks the data to judge it.
    NotJudged,
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Waived => "waived",
            Outcome::NotJudged => "not_judged",
            Outcome::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOutcome {
    pub principle: String,
    pub code: Code,
    pub level: Level,
    pub severity: Severity,
    pub outcome: Outcome,
    /// The ids of the findings behind a `fail` or `waived`.
    pub findings: Vec<String>,
}

/// A principle's result for one service: `fail` if a rule fails, else `waived` if one
/// is waived, else `pass` if one passes, else `not_judged`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrincipleOutcome {
    pub principle: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    /// Unwaived findings by severity.
    pub error: usize,
    pub warning: usize,
    pub info: usize,
    /// Waived findings, whatever their severity.
    pub waived: usize,
}

impl SeverityCounts {
    fn add(&mut self, finding: &Finding) {
        if finding.is_waived() {
            self.waived += 1;
            return;
        }
        match finding.severity {
            Severity::Error => self.error += 1,
            Severity::Warning => self.warning += 1,
            Severity::Info => self.info += 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LevelCounts {
    pub none: usize,
    pub bronze: usize,
    pub silver: usize,
    pub gold: usize,
}

impl LevelCounts {
    fn add(&mut self, level: Level) {
        match level {
            Level::None => self.none += 1,
            Level::Bronze => self.bronze += 1,
            Level::Silver => self.silver += 1,
            Level::Gold => self.gold += 1,
        }
    }

    pub fn get(&self, level: Level) -> usize {
        match level {
            Level::None => self.none,
            Level::Bronze => self.bronze,
            Level::Silver => self.silver,
            Level::Gold => self.gold,
        }
    }
}

/// One service's standing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    pub service: String,
    pub owner: Option<String>,
    pub domain: Option<String>,
    pub level: Level,
    /// The findings holding it responsible.
    pub findings: SeverityCounts,
    /// Every rule that applies to it, in policy order.
    pub rules: Vec<RuleOutcome>,
    /// Every principle whose scope it is in, in policy order.
    pub principles: Vec<PrincipleOutcome>,
    /// How many of its rules could not be judged.
    pub not_judged: usize,
}

/// The scorecards of one team or one domain, summed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollUp {
    /// The team or domain; `None` for services that declare none.
    pub name: Option<String>,
    pub services: usize,
    pub levels: LevelCounts,
    /// The lowest level among its services.
    pub worst: Level,
    /// Distinct findings holding any of its services responsible.
    pub findings: SeverityCounts,
}

/// The result of evaluating a policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub evaluated_at: DateTime<Utc>,
    /// The policy's `metadata.name`.
    pub policy: String,
    /// By severity (highest first), then code (in the catalogue's order), subject and
    /// principle.
    pub findings: Vec<Finding>,
    /// Every finding, counted.
    pub totals: SeverityCounts,
    /// One per catalog service, by name.
    pub scorecards: Vec<Scorecard>,
    /// By team and by domain name, those without one last.
    pub teams: Vec<RollUp>,
    pub domains: Vec<RollUp>,
    /// The policy file's waivers in file order, then the API's by code and object.
    pub waivers: Vec<WaiverReport>,
}

impl Evaluation {
    /// The highest severity among unwaived findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings
            .iter()
            .filter(|f| !f.is_waived())
            .map(|f| f.severity)
            .max()
    }

    /// Whether an unwaived finding is at or above `threshold` (`seam check`'s exit 1).
    pub fn fails_at(&self, threshold: Severity) -> bool {
        self.worst().is_some_and(|worst| worst >= threshold)
    }

    pub fn scorecard(&self, service: &str) -> Option<&Scorecard> {
        self.scorecards
            .binary_search_by(|s| s.service.as_str().cmp(service))
            .ok()
            .map(|i| &self.scorecards[i])
    }

    /// The findings that name `service`, as responsible or related.
    pub fn findings_about<'e>(&'e self, service: &'e str) -> impl Iterator<Item = &'e Finding> {
        self.findings.iter().filter(move |f| {
            f.objects.iter().any(|o| o == service) || f.related.iter().any(|r| r == service)
        })
    }
}

/// What a rule found, before the principle and waivers are known.
struct Candidate {
    subject: String,
    objects: Vec<String>,
    related: Vec<String>,
    edges: Vec<EdgeRef>,
    summary: String,
    evidence: FindingEvidence,
}

/// Evaluates `policy` over `inputs` at `now` (which decides which waivers have expired).
pub fn evaluate(policy: &Policy, inputs: &Inputs<'_>, now: DateTime<Utc>) -> Evaluation {
    let mut facts: BTreeMap<&str, &ServiceFacts> = BTreeMap::new();
    for service in &inputs.services {
        facts.entry(service.name.as_str()).or_insert(service);
    }
    let mut by_kind: BTreeMap<Kind, Vec<&Observation>> = BTreeMap::new();
    for observation in &inputs.report.observations {
        by_kind
            .entry(observation.kind)
            .or_default()
            .push(observation);
    }
    let teams: Option<BTreeSet<&str>> = inputs
        .teams
        .as_ref()
        .map(|teams| teams.iter().map(String::as_str).collect());
    let cx = Context {
        facts: &facts,
        teams: teams.as_ref(),
        inputs,
    };

    // Findings, with where they came from: (principle index, rule index).
    let mut found: Vec<(Finding, (usize, usize))> = Vec::new();
    for (p, principle) in policy.principles.iter().enumerate() {
        for (r, rule) in principle.rules.iter().enumerate() {
            let mut candidates = Vec::new();
            match observed_kind(rule.code) {
                Some(kind) => {
                    for observation in by_kind.get(&kind).into_iter().flatten() {
                        if let Some(candidate) = judge_observation(&cx, rule, observation) {
                            candidates.push(candidate);
                        }
                    }
                }
                None => {
                    for service in facts.values() {
                        if cx.in_scope(&principle.scope, &service.name) {
                            if let Some(candidate) = judge_facts(&cx, rule, service) {
                                candidates.push(candidate);
                            }
                        }
                    }
                }
            }
            for candidate in candidates {
                if !candidate
                    .objects
                    .iter()
                    .any(|o| cx.in_scope(&principle.scope, o))
                {
                    continue;
                }
                found.push((finding(principle, rule, candidate), (p, r)));
            }
        }
    }
    found.sort_by(|(a, _), (b, _)| {
        b.severity.cmp(&a.severity).then_with(|| {
            (a.code, &a.subject, &a.principle).cmp(&(b.code, &b.subject, &b.principle))
        })
    });
    // Ids are unique in a policy the parser accepted (principle ids unique, a code once
    // per principle); a policy built in code may repeat them: the first in order stays.
    let mut seen = BTreeSet::new();
    found.retain(|(finding, _)| seen.insert(finding.id.clone()));
    let (mut findings, origins): (Vec<Finding>, Vec<(usize, usize)>) = found.into_iter().unzip();

    let waivers = apply_waivers(policy, inputs, &mut findings, now);
    let mut totals = SeverityCounts::default();
    for finding in &findings {
        totals.add(finding);
    }
    let counted = count(policy, &cx, &findings, &origins);
    let scorecards = scorecards(policy, &cx, &findings, &counted);
    let (teams, domains) = roll_ups(&scorecards, &findings, &counted);
    Evaluation {
        evaluated_at: now,
        policy: policy.name.clone(),
        findings,
        totals,
        scorecards,
        teams,
        domains,
        waivers,
    }
}

/// What the evaluation reads, shared by every rule.
struct Context<'c> {
    facts: &'c BTreeMap<&'c str, &'c ServiceFacts>,
    teams: Option<&'c BTreeSet<&'c str>>,
    inputs: &'c Inputs<'c>,
}

impl Context<'_> {
    /// Whether `service` is in `scope`: every service is in an empty scope; otherwise only
    /// a service with facts whose attributes match.
    fn in_scope(&self, scope: &Scope, service: &str) -> bool {
        if scope.is_all() {
            return true;
        }
        self.facts.get(service).is_some_and(|facts| {
            scope.matches(
                facts.domain.as_deref(),
                facts.owner.as_deref(),
                facts.system.as_deref(),
                facts.lifecycle.as_deref(),
            )
        })
    }

    /// Whether `code` can be judged for `service` with the data at hand.
    fn judged(&self, rule: &RuleConfig, service: &ServiceFacts) -> bool {
        let code = rule.code;
        match code.rule().data {
            Data::Manifests | Data::Graph => true,
            Data::Traces if code == Code::Trace001 => service.propagation.is_some(),
            Data::Traces => self.inputs.traced,
            Data::Metrics => {
                let Some(runtime) = &service.runtime else {
                    return false;
                };
                match code {
                    Code::Metrics001 => runtime.metrics_lacking.is_some(),
                    Code::Metrics002 if runtime.scraped => runtime.up.is_some(),
                    Code::Metrics002 => rule.params.flag("require_target"),
                    Code::Health001 => runtime.health_up.is_some(),
                    _ => true,
                }
            }
        }
    }
}

fn finding(principle: &Principle, rule: &RuleConfig, candidate: Candidate) -> Finding {
    let spec = rule.code.rule();
    Finding {
        id: format!("{}/{}/{}", principle.id, rule.code, candidate.subject),
        code: rule.code,
        severity: rule.severity,
        level: rule.level,
        principle: principle.id.clone(),
        title: spec.title,
        subject: candidate.subject,
        objects: candidate.objects,
        related: candidate.related,
        edges: candidate.edges,
        summary: candidate.summary,
        evidence: candidate.evidence,
        explanation: spec.explanation,
        resolution: spec.resolution,
        waiver: None,
        expired_waiver: None,
    }
}

/// The kind of observation a rule judges; `None` for rules over service facts.
fn observed_kind(code: Code) -> Option<Kind> {
    Some(match code {
        Code::Cycle001 | Code::Cycle002 => Kind::Cycle,
        Code::Chatty001 => Kind::ChattyPair,
        Code::Hub001 => Kind::Hub,
        Code::Depth001 => Kind::DeepChain,
        Code::Db001 => Kind::SharedDatastore,
        Code::Context002 => Kind::ContextCrossing,
        Code::Drift001 => Kind::ObservedNotDeclared,
        Code::Drift002 => Kind::DeclaredNotObserved,
        Code::Semver002 => Kind::RangeMismatch,
        Code::Semver003 => Kind::SeveralMajors,
        Code::Context001
        | Code::Metrics001
        | Code::Metrics002
        | Code::Health001
        | Code::Trace001
        | Code::Semver001
        | Code::Owner001
        | Code::Owner002 => return None,
    })
}

/// Names in order, each once.
fn unique(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The observation as a finding holding `objects` responsible.
fn from_observation(
    observation: &Observation,
    objects: Vec<String>,
    related: Vec<String>,
    summary: String,
) -> Candidate {
    let objects = unique(objects);
    let related = unique(related.into_iter().filter(|r| !objects.contains(r)));
    Candidate {
        subject: observation.id.clone(),
        objects,
        related,
        edges: observation.edges.clone(),
        summary,
        evidence: FindingEvidence::Observation {
            id: observation.id.clone(),
            kind: observation.kind,
            evidence: observation.evidence.clone(),
        },
    }
}

/// The first service of an observation responsible, the rest related.
fn caller_responsible(observation: &Observation) -> Candidate {
    let mut services = observation.services.iter().cloned();
    let objects: Vec<String> = services.next().into_iter().collect();
    from_observation(
        observation,
        objects,
        services.collect(),
        observation.summary.clone(),
    )
}

fn all_responsible(observation: &Observation) -> Candidate {
    from_observation(
        observation,
        observation.services.clone(),
        Vec::new(),
        observation.summary.clone(),
    )
}

fn judge_observation(
    cx: &Context<'_>,
    rule: &RuleConfig,
    observation: &Observation,
) -> Option<Candidate> {
    let params = &rule.params;
    match (rule.code, &observation.evidence) {
        (Code::Cycle001 | Code::Cycle002, Evidence::Cycle { sync, observed, .. }) => {
            let wanted = rule.code == Code::Cycle001;
            if *sync != wanted || (params.flag("observed_only") && !observed) {
                return None;
            }
            Some(all_responsible(observation))
        }
        (
            Code::Chatty001,
            Evidence::Chatty {
                calls_per_request_mean,
                calls_per_request_p95,
                calls_per_minute,
                ..
            },
        ) => {
            let per_request = params.number("calls_per_request");
            let per_minute = params.number("calls_per_minute");
            let by_mean = calls_per_request_mean.is_some_and(|m| m >= per_request);
            let by_p95 = calls_per_request_p95.is_some_and(|p| p >= 2.0 * per_request);
            let by_minute = *calls_per_minute >= per_minute;
            (by_mean || by_p95 || by_minute).then(|| caller_responsible(observation))
        }
        (Code::Hub001, Evidence::Hub { fan_out, .. }) => {
            let max = params.number("max_fan_out");
            if (*fan_out as f64) <= max {
                return None;
            }
            let name = observation.services.first()?.clone();
            let summary = format!(
                "{name} calls {fan_out} distinct services; the policy allows at most {}",
                figure(max)
            );
            Some(from_observation(
                observation,
                vec![name],
                Vec::new(),
                summary,
            ))
        }
        (Code::Depth001, Evidence::Chain { depth, .. }) => {
            ((*depth as f64) > params.number("max_depth")).then(|| all_responsible(observation))
        }
        (
            Code::Db001,
            Evidence::SharedDatastore {
                datastore,
                users,
                owners,
                domains,
            },
        ) => {
            let shared = match params.choice("across") {
                "owners" => owners.len() >= 2,
                "domains" => domains.len() >= 2,
                _ => owners.len() >= 2 || domains.len() >= 2,
            };
            if !shared {
                return None;
            }
            let objects = users.iter().map(|u| u.service.clone()).collect();
            Some(from_observation(
                observation,
                objects,
                vec![datastore.clone()],
                observation.summary.clone(),
            ))
        }
        (Code::Context002, Evidence::ContextCrossing { to_domain, .. }) => {
            let open = params.words("open_domains");
            (!open.contains(&to_domain.as_str())).then(|| caller_responsible(observation))
        }
        (
            Code::Drift001,
            Evidence::Drift {
                calls_per_second, ..
            },
        ) => {
            let min = params.number("min_calls_per_second");
            let rate = if calls_per_second.is_finite() {
                *calls_per_second
            } else {
                0.0
            };
            (rate >= min).then(|| caller_responsible(observation))
        }
        (Code::Drift002, Evidence::Drift { .. }) => {
            let all_async = !observation.edges.is_empty()
                && observation.edges.iter().all(|e| e.mode == Mode::Async);
            if params.flag("ignore_async") && all_async {
                return None;
            }
            Some(caller_responsible(observation))
        }
        (
            Code::Semver002,
            Evidence::RangeMismatch {
                environment,
                consumer,
                provider,
                ..
            },
        ) => {
            if !in_environments(&params.words("environments"), environment) {
                return None;
            }
            Some(from_observation(
                observation,
                vec![consumer.clone()],
                vec![provider.clone()],
                observation.summary.clone(),
            ))
        }
        (
            Code::Semver003,
            Evidence::SeveralMajors {
                environment,
                majors,
                ..
            },
        ) => {
            if !in_environments(&params.words("environments"), environment) {
                return None;
            }
            let service = observation.services.first()?;
            several_majors(cx, rule, observation, service, environment, majors)
        }
        _ => None,
    }
}

fn in_environments(environments: &[&str], environment: &str) -> bool {
    environments.is_empty() || environments.contains(&environment)
}

/// `SEAM-SEMVER-003`: a finding when an older major is live that no consumer needs.
fn several_majors(
    cx: &Context<'_>,
    rule: &RuleConfig,
    observation: &Observation,
    service: &str,
    environment: &str,
    majors: &[u64],
) -> Option<Candidate> {
    let newest = *majors.iter().max()?;
    let older: BTreeSet<u64> = majors.iter().copied().filter(|m| *m != newest).collect();
    if older.is_empty() {
        return None;
    }
    let mut summary = observation.summary.trim_end_matches('.').to_owned();
    let unneeded: BTreeSet<u64> = if !rule.params.flag("unless_needed") {
        older
    } else {
        match cx
            .inputs
            .versions
            .and_then(|m| m.environment(environment))
            .and_then(|e| e.provider(service))
        {
            Some(row) => {
                let needed = needed_majors(row, newest);
                let unneeded: BTreeSet<u64> = older.difference(&needed).copied().collect();
                if unneeded.is_empty() {
                    return None;
                }
                summary.push_str(&format!(
                    "; no consumer's range needs major {}",
                    join_numbers(&unneeded)
                ));
                unneeded
            }
            None => {
                summary.push_str("; whether a consumer still needs an older major is unknown");
                older
            }
        }
    };
    debug_assert!(!unneeded.is_empty());
    Some(from_observation(
        observation,
        vec![service.to_owned()],
        Vec::new(),
        summary,
    ))
}

/// The older majors some consumer needs: for each consumer whose range accepts no live
/// version of the newest major, the newest major it does accept.
fn needed_majors(row: &seam_analysis::versions::ProviderVersions, newest: u64) -> BTreeSet<u64> {
    let mut needed = BTreeSet::new();
    for consumer in &row.consumers {
        let accepted: BTreeSet<u64> = consumer
            .verdicts
            .iter()
            .filter(|v| v.verdict == Verdict::Accepted)
            .filter_map(|v| parse_version(&v.provider_version))
            .map(|v| v.major)
            .collect();
        if !accepted.contains(&newest) {
            if let Some(major) = accepted.last() {
                needed.insert(*major);
            }
        }
    }
    needed
}

fn join_numbers(numbers: &BTreeSet<u64>) -> String {
    numbers
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A candidate about one service's facts.
fn about(service: &ServiceFacts, summary: String, evidence: FindingEvidence) -> Candidate {
    Candidate {
        subject: service.name.clone(),
        objects: vec![service.name.clone()],
        related: Vec::new(),
        edges: Vec::new(),
        summary,
        evidence,
    }
}

fn field(field: &'static str, values: Vec<String>, expected: String) -> FindingEvidence {
    FindingEvidence::Field {
        field,
        values,
        expected,
    }
}

/// A declared value, trimmed; `None` when absent or blank.
fn declared(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn judge_facts(cx: &Context<'_>, rule: &RuleConfig, service: &ServiceFacts) -> Option<Candidate> {
    let name = &service.name;
    let params = &rule.params;
    match rule.code {
        Code::Context001 => declared(&service.domain).is_none().then(|| {
            about(
                service,
                format!("{name} declares no domain (bounded context)"),
                field("domain", Vec::new(), "a bounded context".to_owned()),
            )
        }),
        Code::Owner001 => {
            let expected = "a team the catalog declares".to_owned();
            match declared(&service.owner) {
                None => Some(about(
                    service,
                    format!("{name} declares no owner team"),
                    field("owner", Vec::new(), expected),
                )),
                Some(owner) => {
                    let unknown = params.flag("require_declared_team")
                        && cx.teams.is_some_and(|teams| !teams.contains(owner));
                    unknown.then(|| {
                        about(
                            service,
                            format!(
                                "{name} is owned by {owner:?}, a team the catalog does not declare"
                            ),
                            field("owner", vec![owner.to_owned()], expected),
                        )
                    })
                }
            }
        }
        Code::Owner002 => {
            let allowed = params.words("allowed");
            let expected = format!("one of: {}", allowed.join(", "));
            match declared(&service.lifecycle) {
                None => Some(about(
                    service,
                    format!("{name} declares no lifecycle"),
                    field("lifecycle", Vec::new(), expected),
                )),
                Some(lifecycle) if !allowed.contains(&lifecycle) => Some(about(
                    service,
                    format!("{name} declares lifecycle {lifecycle:?}, expected {expected}"),
                    field("lifecycle", vec![lifecycle.to_owned()], expected),
                )),
                Some(_) => None,
            }
        }
        Code::Semver001 => semver_facts(rule, service),
        Code::Metrics001 => {
            let lacking = service.runtime.as_ref()?.metrics_lacking.as_ref()?;
            let required = params.words("require");
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|r| lacking.iter().any(|l| l == r))
                .collect();
            if missing.is_empty() {
                return None;
            }
            let described: Vec<&str> = missing
                .iter()
                .map(|m| match *m {
                    "request_count" => "a standard request counter",
                    "status" => "a status label on requests",
                    "duration" => "a request duration histogram",
                    other => other,
                })
                .collect();
            Some(about(
                service,
                format!("{name}'s metrics lack {}", described.join(", ")),
                runtime_evidence(service),
            ))
        }
        Code::Metrics002 => {
            let runtime = service.runtime.as_ref()?;
            let summary = if !runtime.scraped {
                if !params.flag("require_target") {
                    return None;
                }
                format!("Seam has no metrics endpoint to scrape for {name}")
            } else if runtime.up == Some(false) {
                format!("the last scrape of {name}'s metrics failed")
            } else {
                return None;
            };
            Some(about(service, summary, runtime_evidence(service)))
        }
        Code::Health001 => {
            let runtime = service.runtime.as_ref()?;
            (runtime.health_up == Some(false)).then(|| {
                about(
                    service,
                    format!("{name}'s health endpoint did not answer healthy at the last probe"),
                    runtime_evidence(service),
                )
            })
        }
        Code::Trace001 => {
            let propagation = service.propagation.as_ref()?;
            let sides = params.words("sides");
            let broken: Vec<BrokenPropagation> = propagation
                .broken
                .iter()
                .filter(|b| sides.contains(&b.side.as_str()))
                .cloned()
                .collect();
            if broken.is_empty() {
                return None;
            }
            let clauses: Vec<String> = broken
                .iter()
                .map(|b| match b.side {
                    Side::Incoming => format!(
                        "{} of its {} server spans started a new trace although it has callers",
                        b.roots, b.spans
                    ),
                    Side::Outgoing => format!(
                        "{} of its {} client spans started a new trace although it serves requests",
                        b.roots, b.spans
                    ),
                })
                .collect();
            Some(about(
                service,
                format!(
                    "{name} does not pass the trace context on: {}",
                    clauses.join("; ")
                ),
                FindingEvidence::Propagation { broken },
            ))
        }
        _ => None,
    }
}

fn runtime_evidence(service: &ServiceFacts) -> FindingEvidence {
    FindingEvidence::Runtime {
        runtime: service.runtime.clone().unwrap_or_default(),
    }
}

/// `SEAM-SEMVER-001` over the declared and the reported versions.
fn semver_facts(rule: &RuleConfig, service: &ServiceFacts) -> Option<Candidate> {
    let name = &service.name;
    let versions = unique(
        declared(&service.version)
            .into_iter()
            .chain(service.observed_versions.iter().map(|v| v.trim()))
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    );
    let expected = "a semantic version, MAJOR.MINOR.PATCH (1.4.0)".to_owned();
    if versions.is_empty() {
        return rule.params.flag("require_version").then(|| {
            about(
                service,
                format!("{name} declares no version and its telemetry reports none"),
                field("version", Vec::new(), expected),
            )
        });
    }
    let allow_v = rule.params.flag("allow_v_prefix");
    let bad: Vec<String> = versions
        .into_iter()
        .filter(|v| {
            let valid = if allow_v {
                parse_version(v).is_some()
            } else {
                semver::Version::parse(v).is_ok()
            };
            !valid
        })
        .collect();
    if bad.is_empty() {
        return None;
    }
    let quoted: Vec<String> = bad
        .iter()
        .map(|v| format!("{:?}", crate::rules::truncate(v, 64)))
        .collect();
    let summary = if bad.len() == 1 {
        format!(
            "{name} runs version {}, which is not a semantic version",
            quoted[0]
        )
    } else {
        format!(
            "{name} runs versions {}, which are not semantic versions",
            quoted.join(", ")
        )
    };
    Some(about(service, summary, field("version", bad, expected)))
}

/// Applies the policy's and the API's waivers to `findings`; reports on each waiver.
fn apply_waivers(
    policy: &Policy,
    inputs: &Inputs<'_>,
    findings: &mut [Finding],
    now: DateTime<Utc>,
) -> Vec<WaiverReport> {
    let mut api: Vec<&Waiver> = inputs.waivers.iter().collect();
    api.sort_by(|a, b| (a.code, &a.object, a.expires).cmp(&(b.code, &b.object, b.expires)));
    let waivers: Vec<&Waiver> = policy.waivers.iter().chain(api).collect();
    // (code, object) -> waivers, so each finding looks up its subject and objects.
    let mut index: BTreeMap<(Code, &str), Vec<usize>> = BTreeMap::new();
    for (i, waiver) in waivers.iter().enumerate() {
        index
            .entry((waiver.code, waiver.object.as_str()))
            .or_default()
            .push(i);
    }
    let mut matched: Vec<Vec<String>> = vec![Vec::new(); waivers.len()];
    for finding in findings.iter_mut() {
        let mut candidates: Vec<usize> = std::iter::once(&finding.subject)
            .chain(&finding.objects)
            .filter_map(|object| index.get(&(finding.code, object.as_str())))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for &i in &candidates {
            matched[i].push(finding.id.clone());
        }
        // Latest expiry first; on a tie, the policy file's, then the earliest listed.
        let best = |active: bool| {
            candidates
                .iter()
                .copied()
                .filter(|&i| waivers[i].is_active(now) == active)
                .max_by(|&a, &b| {
                    waivers[a]
                        .expires
                        .cmp(&waivers[b].expires)
                        .then(waivers[b].source.cmp(&waivers[a].source))
                        .then(b.cmp(&a))
                })
        };
        finding.waiver = best(true).map(|i| AppliedWaiver::of(waivers[i]));
        if finding.waiver.is_none() {
            finding.expired_waiver = best(false).map(|i| AppliedWaiver::of(waivers[i]));
        }
    }
    waivers
        .into_iter()
        .zip(matched)
        .map(|(waiver, findings)| WaiverReport {
            state: if !waiver.is_active(now) {
                WaiverState::Expired
            } else if findings.is_empty() {
                WaiverState::Unused
            } else {
                WaiverState::Active
            },
            waiver: waiver.clone(),
            findings,
        })
        .collect()
}

/// Findings by the (principle, rule, service) and by the service they count against.
struct Counted<'a> {
    by_rule: BTreeMap<(usize, usize, &'a str), Vec<usize>>,
    by_service: BTreeMap<&'a str, BTreeSet<usize>>,
}

/// Indexes findings by the (principle, rule, service) they count against: each of their
/// objects in the principle's scope.
fn count<'a>(
    policy: &Policy,
    cx: &Context<'_>,
    findings: &'a [Finding],
    origins: &[(usize, usize)],
) -> Counted<'a> {
    let mut counted = Counted {
        by_rule: BTreeMap::new(),
        by_service: BTreeMap::new(),
    };
    for (i, (finding, &(p, r))) in findings.iter().zip(origins).enumerate() {
        let Some(principle) = policy.principles.get(p) else {
            continue;
        };
        for object in &finding.objects {
            if !cx.in_scope(&principle.scope, object) {
                continue;
            }
            counted
                .by_rule
                .entry((p, r, object.as_str()))
                .or_default()
                .push(i);
            counted
                .by_service
                .entry(object.as_str())
                .or_default()
                .insert(i);
        }
    }
    counted
}

fn scorecards(
    policy: &Policy,
    cx: &Context<'_>,
    findings: &[Finding],
    counted: &Counted<'_>,
) -> Vec<Scorecard> {
    let mut out = Vec::with_capacity(cx.facts.len());
    for (&name, &service) in cx.facts {
        let mut rules = Vec::new();
        let mut principles = Vec::new();
        for (p, principle) in policy.principles.iter().enumerate() {
            if !cx.in_scope(&principle.scope, name) {
                continue;
            }
            let mut outcomes = Vec::new();
            for (r, rule) in principle.rules.iter().enumerate() {
                let ids = counted.by_rule.get(&(p, r, name));
                let against: Vec<&Finding> =
                    ids.into_iter().flatten().map(|&i| &findings[i]).collect();
                let outcome = if against.iter().any(|f| !f.is_waived()) {
                    Outcome::Fail
                } else if !against.is_empty() {
                    Outcome::Waived
                } else if cx.judged(rule, service) {
                    Outcome::Pass
                } else {
                    Outcome::NotJudged
                };
                outcomes.push(outcome);
                rules.push(RuleOutcome {
                    principle: principle.id.clone(),
                    code: rule.code,
                    level: rule.level,
                    severity: rule.severity,
                    outcome,
                    findings: against.iter().map(|f| f.id.clone()).collect(),
                });
            }
            let outcome = [Outcome::Fail, Outcome::Waived, Outcome::Pass]
                .into_iter()
                .find(|o| outcomes.contains(o))
                .unwrap_or(Outcome::NotJudged);
            principles.push(PrincipleOutcome {
                principle: principle.id.clone(),
                outcome,
            });
        }
        let mut counts = SeverityCounts::default();
        for &i in counted.by_service.get(name).into_iter().flatten() {
            counts.add(&findings[i]);
        }
        out.push(Scorecard {
            service: name.to_owned(),
            owner: declared(&service.owner).map(str::to_owned),
            domain: declared(&service.domain).map(str::to_owned),
            level: level(&rules),
            findings: counts,
            not_judged: rules
                .iter()
                .filter(|r| r.outcome == Outcome::NotJudged)
                .count(),
            rules,
            principles,
        });
    }
    out
}

/// The highest level whose rules, and those of the levels below, all hold; no higher
/// than the highest level of any rule; `none` without rules. A rule placed at `none`
/// (only possible in a policy built in code) counts as bronze.
fn level(rules: &[RuleOutcome]) -> Level {
    let placed = |r: &RuleOutcome| r.level.max(Level::Bronze);
    let Some(top) = rules.iter().map(placed).max() else {
        return Level::None;
    };
    let mut reached = Level::None;
    for level in Level::RULE_LEVELS {
        if level > top {
            break;
        }
        let holds = rules
            .iter()
            .filter(|r| placed(r) == level)
            .all(|r| r.outcome != Outcome::Fail);
        if !holds {
            break;
        }
        reached = level;
    }
    reached
}

fn roll_ups(
    scorecards: &[Scorecard],
    findings: &[Finding],
    counted: &Counted<'_>,
) -> (Vec<RollUp>, Vec<RollUp>) {
    // By (no name, name), so services without one come last: their scorecards and the
    // findings counting against any of them.
    type Groups<'s> = BTreeMap<(bool, Option<String>), (Vec<&'s Scorecard>, BTreeSet<usize>)>;
    let group = |key: &dyn Fn(&Scorecard) -> Option<String>| {
        let mut groups = Groups::new();
        for card in scorecards {
            let name = key(card);
            let entry = groups.entry((name.is_none(), name)).or_default();
            entry.0.push(card);
            if let Some(ids) = counted.by_service.get(card.service.as_str()) {
                entry.1.extend(ids.iter().copied());
            }
        }
        groups
            .into_iter()
            .map(|((_, name), (cards, ids))| {
                let mut levels = LevelCounts::default();
                for card in &cards {
                    levels.add(card.level);
                }
                let mut counts = SeverityCounts::default();
                for i in ids {
                    counts.add(&findings[i]);
                }
                RollUp {
                    name,
                    services: cards.len(),
                    levels,
                    worst: cards.iter().map(|c| c.level).min().unwrap_or(Level::None),
                    findings: counts,
                }
            })
            .collect::<Vec<_>>()
    };
    (group(&|c| c.owner.clone()), group(&|c| c.domain.clone()))
}

#[cfg(test)]
mod tests;
