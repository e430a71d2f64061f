//! The version matrix: which versions of each service really run in each environment,
//! with what share of the traffic, who calls them, and whether the ranges consumers
//! declare accept them; the observations it leads to (several majors live at once, a
//! range that rejects a live version); and the can-deploy and can-retire answers.
//!
//! Versions are read leniently: surrounding whitespace and one leading `v`/`V` before a
//! digit are dropped, and what then parses as a semantic version (`MAJOR.MINOR.PATCH`,
//! optional pre-release and build) is one; anything else (`2024-11-03`, `abc123`, `1.2`)
//! is an opaque string, compared for equality only, and a range check on it gives the
//! verdict "not a semantic version" rather than a pass or a fail.
//!
//! Ranges are read Cargo-style by the `semver` crate (`^2.1`, `>=1.0, <3`, `~1.2`, `2.x`,
//! `*`; a bare `1.2` means `^1.2`; a pre-release only matches a comparator naming the
//! same `MAJOR.MINOR.PATCH` with a pre-release), after a small normalisation for
//! npm-style spellings: comparators separated by spaces (`>=1.0 <3`), an operator apart
//! from its version (`>= 1.0`), a `v` before a version (`^v2`), hyphen ranges
//! (`1.2.3 - 2.3.4`, read `>=1.2.3, <=2.3.4`) and `||` alternatives (the range accepts
//! what any alternative accepts). See [`Range`].
//!
//! Everything here is pure and deterministic and never panics on odd input: traffic that
//! is negative or not a finite number counts as none.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::model::{Mode, Model, Release, Requirement, DEFAULT_ENVIRONMENT};
use crate::observation::{EdgeRef, Evidence, Kind, Observation};

// ---------------------------------------------------------------------------------------
// Versions and ranges
// ---------------------------------------------------------------------------------------

/// `text` as a semantic version: trimmed, one leading `v` or `V` before a digit dropped,
/// then strict semver (`2.1.0`, `v2.1.0-rc.1+build.5`); `None` for anything else
/// (`2024-11-03`, `abc123`, `1.2`).
pub fn parse_version(text: &str) -> Option<Version> {
    Version::parse(strip_v(text.trim())).ok()
}

/// The form versions are shown and compared in: a semantic version as `semver` prints it
/// (`v2.1.0` gives `2.1.0`), anything else trimmed; `None` when empty.
pub fn normalise_version(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match parse_version(trimmed) {
        Some(version) => version.to_string(),
        None => trimmed.to_owned(),
    })
}

/// Drops one leading `v`/`V` when a digit follows it.
fn strip_v(text: &str) -> &str {
    match text.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => text,
    }
}

/// Sort key: semantic versions first, highest first; then the others, lexicographic.
fn version_key(text: &str) -> (bool, Reverse<Option<Version>>, String) {
    let parsed = parse_version(text);
    (parsed.is_none(), Reverse(parsed), text.to_owned())
}

fn sort_versions(versions: &mut [String]) {
    versions.sort_by_cached_key(|v| version_key(v));
}

/// A range as consumers write it, read as alternatives of `semver` requirements; it
/// accepts a version when any alternative does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    alternatives: Vec<VersionReq>,
}

/// Characters an operator is made of.
const OPERATOR_CHARS: &[char] = &['<', '>', '=', '~', '^'];

impl Range {
    /// Reads `text`; the error says why it cannot be read, in words.
    pub fn parse(text: &str) -> Result<Range, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the range is empty".to_owned());
        }
        let several = text.contains("||");
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let alternative = alternative.trim();
            if alternative.is_empty() {
                return Err("an alternative around \"||\" is empty".to_owned());
            }
            let req = normalise_alternative(alternative)
                .and_then(|normalised| {
                    VersionReq::parse(&normalised).map_err(|err| err.to_string())
                })
                .map_err(|err| {
                    if several {
                        format!("in the alternative {}: {err}", quote(alternative))
                    } else {
                        err
                    }
                })?;
            alternatives.push(req);
        }
        Ok(Range { alternatives })
    }

    /// Whether some alternative accepts `version`.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|req| req.matches(version))
    }

    /// The alternatives as `semver` reads them, e.g. `>=1.0, <3` for `>=1.0 <3`.
    pub fn alternatives(&self) -> &[VersionReq] {
        &self.alternatives
    }
}

/// One npm-ish alternative as a `semver` requirement string.
fn normalise_alternative(alternative: &str) -> Result<String, String> {
    let tokens: Vec<&str> = alternative
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens.contains(&"-") {
        return match tokens.as_slice() {
            [low, "-", high] => Ok(format!(">={}, <={}", strip_v(low), strip_v(high))),
            _ => Err("a hyphen range is written as two versions around \" - \", \
                 e.g. \"1.2.3 - 2.3.4\""
                .to_owned()),
        };
    }
    let mut pieces = Vec::with_capacity(tokens.len());
    let mut pending = String::new();
    for token in tokens {
        let version_at = token
            .find(|c: char| !OPERATOR_CHARS.contains(&c))
            .unwrap_or(token.len());
        let (operator, version) = token.split_at(version_at);
        pending.push_str(operator);
        if version.is_empty() {
            continue;
        }
        pieces.push(format!("{pending}{}", strip_v(version)));
        pending.clear();
    }
    if !pending.is_empty() {
        return Err(format!(
            "the operator {} has no version after it",
            quote(&pending)
        ));
    }
    Ok(pieces.join(", "))
}

// ---------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------

/// Which versions run where, who calls them and whether consumers' ranges accept them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMatrix {
    /// The window calls were observed over, in seconds (0: nothing observed).
    pub window_seconds: f64,
    /// By environment name. [`DEFAULT_ENVIRONMENT`] holds services seen in spans naming
    /// no environment, and the manifest versions of services no span names anywhere.
    pub environments: Vec<EnvironmentVersions>,
}

impl VersionMatrix {
    /// The environment named `name`, when it has any service.
    pub fn environment(&self, name: &str) -> Option<&EnvironmentVersions> {
        self.environments.iter().find(|e| e.environment == name)
    }
}

/// The providers live in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentVersions {
    pub environment: String,
    /// By service name.
    pub providers: Vec<ProviderVersions>,
}

impl EnvironmentVersions {
    /// The row of `service`, when it is live here.
    pub fn provider(&self, service: &str) -> Option<&ProviderVersions> {
        self.providers.iter().find(|p| p.service == service)
    }
}

/// One row of the matrix: a service (with a manifest version, or called in spans) in one
/// environment, its live versions and its consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderVersions {
    pub service: String,
    /// The version its current manifest declares (normalised), when it declares one.
    pub manifest_version: Option<String>,
    /// Live versions: semantic versions highest first, then the others lexicographic.
    pub versions: Vec<LiveVersion>,
    /// Distinct major versions among the live semantic versions, highest first.
    pub majors: Vec<u64>,
    /// Calls into it in this environment over the window, and how many of them name no
    /// version of it (those count in no version's share).
    pub calls: f64,
    pub unversioned_calls: f64,
    /// Declared consumers (one entry per requirement) and callers seen here without a
    /// requirement, by name (then API and range).
    pub consumers: Vec<Consumer>,
}

impl ProviderVersions {
    /// The live version `version` (compared normalised), if live.
    pub fn version(&self, version: &str) -> Option<&LiveVersion> {
        let wanted = normalise_version(version)?;
        self.versions.iter().find(|v| v.version == wanted)
    }
}

/// How a version is known to be live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Spans saw calls into this version.
    Callee,
    /// Spans saw this version only making calls.
    Caller,
    /// No span names a version of the service here; this is what its manifest declares.
    Manifest,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Callee => "callee",
            Source::Caller => "caller",
            Source::Manifest => "manifest",
        }
    }
}

/// One live version of a service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveVersion {
    /// Normalised (`v2.1.0` reads `2.1.0`); opaque versions as written, trimmed.
    pub version: String,
    /// Whether it is a semantic version (ranges can judge it).
    pub semver: bool,
    pub source: Source,
    /// Calls into this version and calls it made, in the window.
    pub calls: f64,
    pub calls_out: f64,
    /// 0..1. For [`Source::Callee`]: its share of the calls into the service that name
    /// a version (those shares sum to 1); for [`Source::Caller`]: its share of the calls
    /// the service made that name the caller's version; `None` for [`Source::Manifest`]
    /// or when there were no such calls.
    pub share: Option<f64>,
    /// It is the version the service's current manifest declares.
    pub declared: bool,
    /// Spans saw it (not only the manifest).
    pub observed: bool,
    /// The APIs the manifest revision with this version provides, with their versions;
    /// `None` when no revision with this version is known.
    pub apis: Option<Vec<ApiVersion>>,
}

/// An API a release provides, with its version when declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiVersion {
    pub api: String,
    pub version: Option<String>,
}

/// A consumer of a provider in one environment: a declared requirement, or a caller seen
/// without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub consumer: String,
    /// The consumer's live versions in this environment (ordered like
    /// [`ProviderVersions::versions`]).
    pub versions: Vec<String>,
    /// The API the requirement names (the range then applies to that API's version).
    pub api: Option<String>,
    /// The range as written; `None` when none is declared (typical for Backstage).
    pub range: Option<String>,
    /// A manifest of the consumer declares the dependency.
    pub declared: bool,
    /// Spans saw it call the provider in this environment.
    pub observed: bool,
    /// The mode of the declared or observed edge; `sync` when no edge says.
    pub mode: Mode,
    /// Calls per second per (consumer version, provider version), `None` where spans name
    /// no version; 0 when the window is 0.
    pub calls: Vec<PairCalls>,
    /// All its calls into the provider here, per second.
    pub calls_per_second: f64,
    /// The range's verdict on each live version of the provider, in the provider's order.
    pub verdicts: Vec<VersionVerdict>,
}

/// Calls from one consumer version to one provider version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairCalls {
    pub consumer_version: Option<String>,
    pub provider_version: Option<String>,
    pub calls_per_second: f64,
}

/// A consumer's range on one live version of the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionVerdict {
    pub provider_version: String,
    /// The version the range was checked against: the provider's version, or the API's
    /// version in the release with that provider version; `None` when unknown.
    pub checked_version: Option<String>,
    pub verdict: Verdict,
}

/// What a range says about a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Rejected,
    /// No range is declared (or no requirement at all: an observed caller).
    NoRange,
    /// The range cannot be read; `error` says why.
    UnparsableRange {
        error: String,
    },
    /// The version checked (the provider's, or the API's) is not a semantic version.
    NotSemver {
        version: String,
    },
    /// The range names an API, and the provider version's release is not known
    /// (`release_known: false`) or does not declare that API's version.
    UnknownApiVersion {
        api: String,
        release_known: bool,
    },
}

impl Verdict {
    /// The snake_case word serde uses for it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::NoRange => "no_range",
            Verdict::UnparsableRange { .. } => "unparsable_range",
            Verdict::NotSemver { .. } => "not_semver",
            Verdict::UnknownApiVersion { .. } => "unknown_api_version",
        }
    }

    /// A short phrase for a cell of the matrix.
    pub fn label(&self) -> String {
        match self {
            Verdict::Accepted => "accepted".to_owned(),
            Verdict::Rejected => "rejected".to_owned(),
            Verdict::NoRange => "no range declared".to_owned(),
            Verdict::UnparsableRange { error } => format!("range cannot be read: {error}"),
            Verdict::NotSemver { version } => {
                format!("{} is not a semantic version", quote(version))
            }
            Verdict::UnknownApiVersion {
                api,
                release_known: false,
            } => format!("no release known, so the version of API {api} is unknown"),
            Verdict::UnknownApiVersion { api, .. } => {
                format!("the release declares no version for API {api}")
            }
        }
    }
}

/// The version matrix of `model`.
pub fn matrix(model: &Model) -> VersionMatrix {
    let cx = Context::new(model);
    let mut environments: BTreeSet<&str> = cx.envs.keys().map(String::as_str).collect();
    if cx
        .manifest
        .keys()
        .any(|service| !cx.spanned.contains(*service))
    {
        environments.insert(DEFAULT_ENVIRONMENT);
    }
    let providers: BTreeSet<&str> = cx
        .manifest
        .keys()
        .copied()
        .chain(cx.callees.iter().copied())
        .collect();
    let mut out = VersionMatrix {
        window_seconds: cx.window,
        environments: Vec::new(),
    };
    for env in environments {
        let rows: Vec<ProviderVersions> = providers
            .iter()
            .filter(|service| cx.present(env, service))
            .map(|service| cx.row(env, service))
            .collect();
        if !rows.is_empty() {
            out.environments.push(EnvironmentVersions {
                environment: env.to_owned(),
                providers: rows,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Observations
// ---------------------------------------------------------------------------------------

/// `several_majors` and `range_mismatch` observations of `matrix`, by kind then id.
pub fn observations(matrix: &VersionMatrix) -> Vec<Observation> {
    let mut out = Vec::new();
    for env in &matrix.environments {
        for row in &env.providers {
            if row.majors.len() > 1 {
                out.push(several_majors(&env.environment, row));
            }
            let mut seen = BTreeSet::new();
            for consumer in &row.consumers {
                // One observation per consumer and provider: the first requirement (by
                // API) that mismatches, when several do.
                if seen.contains(&consumer.consumer) {
                    continue;
                }
                if let Some(observation) = range_mismatch(&env.environment, row, consumer) {
                    seen.insert(consumer.consumer.clone());
                    out.push(observation);
                }
            }
        }
    }
    out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    out.dedup_by(|a, b| a.kind == b.kind && a.id == b.id);
    out
}

fn several_majors(env: &str, row: &ProviderVersions) -> Observation {
    let versions: Vec<String> = row
        .versions
        .iter()
        .filter(|v| v.semver)
        .map(|v| v.version.clone())
        .collect();
    let described: Vec<String> = row
        .versions
        .iter()
        .filter(|v| v.semver)
        .map(|v| match (v.source, v.share) {
            (Source::Callee, Some(share)) => {
                format!("{} ({} of its calls)", v.version, percent(share))
            }
            (Source::Callee, None) => format!("{} (called)", v.version),
            (Source::Caller, _) => format!("{} (seen only making calls)", v.version),
            (Source::Manifest, _) => format!("{} (from its manifest)", v.version),
        })
        .collect();
    let majors: Vec<String> = row.majors.iter().map(u64::to_string).collect();
    Observation {
        kind: Kind::SeveralMajors,
        id: format!("several_majors:{env}:{}", row.service),
        summary: format!(
            "{} runs {} major versions at once in {env} (majors {}): {}.",
            row.service,
            row.majors.len(),
            list(&majors),
            list(&described)
        ),
        services: vec![row.service.clone()],
        edges: Vec::new(),
        evidence: Evidence::SeveralMajors {
            environment: env.to_owned(),
            majors: row.majors.clone(),
            versions,
        },
    }
}

fn range_mismatch(env: &str, row: &ProviderVersions, consumer: &Consumer) -> Option<Observation> {
    let range = consumer.range.as_ref()?;
    let rejected: Vec<&VersionVerdict> = consumer
        .verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Rejected)
        .collect();
    if rejected.is_empty() {
        return None;
    }
    let every = rejected.len() == consumer.verdicts.len();
    let unversioned: f64 = consumer
        .calls
        .iter()
        .filter(|c| c.provider_version.is_none())
        .map(|c| c.calls_per_second)
        .sum();
    let called: Vec<(&VersionVerdict, f64)> = rejected
        .iter()
        .filter_map(|verdict| {
            let live = row
                .versions
                .iter()
                .find(|v| v.version == verdict.provider_version)?;
            let mut rate: f64 = consumer
                .calls
                .iter()
                .filter(|c| c.provider_version.as_deref() == Some(live.version.as_str()))
                .map(|c| c.calls_per_second)
                .sum();
            if live.source == Source::Manifest {
                // Spans name no version of the provider here: its calls reach this one.
                rate += unversioned;
            }
            (rate > 0.0).then_some((*verdict, rate))
        })
        .collect();
    if called.is_empty() && !every {
        return None;
    }
    let subject = match &consumer.api {
        Some(api) => format!(
            "{} declares range {} on API {api} of {}",
            consumer.consumer,
            quote(range),
            row.service
        ),
        None => format!(
            "{} declares range {} on {}",
            consumer.consumer,
            quote(range),
            row.service
        ),
    };
    let name = |v: &VersionVerdict| match (&consumer.api, &v.checked_version) {
        (Some(api), Some(api_version)) => {
            format!(
                "{} {} ({api} {api_version})",
                row.service, v.provider_version
            )
        }
        _ => format!("{} {}", row.service, v.provider_version),
    };
    let summary = if every {
        let names: Vec<String> = rejected.iter().map(|v| name(v)).collect();
        let mut s = format!(
            "{subject}, which rejects every version of {} live in {env}: {}",
            row.service,
            list(&names)
        );
        if consumer.calls_per_second > 0.0 {
            s.push_str(&format!(
                "; {} calls {} at {}",
                consumer.consumer,
                row.service,
                per_second(&rate(consumer.calls_per_second))
            ));
        }
        s.push('.');
        s
    } else {
        let names: Vec<String> = called.iter().map(|(v, _)| name(v)).collect();
        let rates: Vec<String> = called.iter().map(|(_, r)| rate(*r)).collect();
        format!(
            "{subject}, which rejects {}; {} calls {} in {env} at {}.",
            list(&names),
            consumer.consumer,
            if called.len() == 1 { "it" } else { "them" },
            per_second_list(&rates)
        )
    };
    let mut rejected_versions: Vec<String> = rejected
        .iter()
        .map(|v| match &consumer.api {
            Some(_) => v
                .checked_version
                .clone()
                .unwrap_or_else(|| v.provider_version.clone()),
            None => v.provider_version.clone(),
        })
        .collect();
    sort_versions(&mut rejected_versions);
    rejected_versions.dedup();
    Some(Observation {
        kind: Kind::RangeMismatch,
        id: format!("range_mismatch:{env}:{}>{}", consumer.consumer, row.service),
        summary,
        services: vec![consumer.consumer.clone(), row.service.clone()],
        edges: vec![EdgeRef {
            caller: consumer.consumer.clone(),
            callee: row.service.clone(),
            mode: consumer.mode,
            declared: true,
            observed: consumer.observed,
        }],
        evidence: Evidence::RangeMismatch {
            environment: env.to_owned(),
            consumer: consumer.consumer.clone(),
            provider: row.service.clone(),
            api: consumer.api.clone(),
            range: range.clone(),
            rejected: rejected_versions,
        },
    })
}

// ---------------------------------------------------------------------------------------
// Can deploy, can retire
// ---------------------------------------------------------------------------------------

/// The answer to "can S X be deployed to E" or "can S Y be retired from E".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// No reason blocks.
    pub ok: bool,
    pub service: String,
    /// Normalised (`v2.1.0` reads `2.1.0`).
    pub version: String,
    /// Empty reads as [`DEFAULT_ENVIRONMENT`].
    pub environment: String,
    /// Blocking reasons first, then by consumer.
    pub reasons: Vec<Reason>,
}

/// Why an answer is what it is: one full sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub blocking: bool,
    /// The consumer (or caller) concerned, if any.
    pub consumer: Option<String>,
    pub message: String,
}

impl Answer {
    fn new(service: &str, version: &str, environment: &str) -> Answer {
        Answer {
            ok: false,
            service: service.to_owned(),
            version: normalise_version(version).unwrap_or_default(),
            environment: environment.to_owned(),
            reasons: Vec::new(),
        }
    }

    fn push(&mut self, blocking: bool, consumer: Option<&str>, message: String) {
        self.reasons.push(Reason {
            blocking,
            consumer: consumer.map(str::to_owned),
            message,
        });
    }

    fn finish(mut self) -> Answer {
        self.ok = !self.reasons.iter().any(|r| r.blocking);
        self.reasons.sort_by_key(|r| !r.blocking);
        self
    }

    /// Handles an unknown service and a missing version; `Some` when that decides.
    fn precheck(mut self, cx: &Context<'_>) -> Result<Answer, Answer> {
        if !cx.known(&self.service) {
            let message = format!(
                "{} is not known to Seam: no manifest, release, requirement or observed call \
                 names it.",
                self.service
            );
            self.push(true, None, message);
            return Err(self.finish());
        }
        if self.version.is_empty() {
            let message = format!("No version of {} was given to check.", self.service);
            self.push(true, None, message);
            return Err(self.finish());
        }
        Ok(self)
    }
}

fn environment_name(environment: &str) -> &str {
    let trimmed = environment.trim();
    if trimmed.is_empty() {
        DEFAULT_ENVIRONMENT
    } else {
        trimmed
    }
}

/// Whether `service` at `version` can be deployed to `environment`: every range declared
/// on `service` must accept `version` (for a range on an API, the version of that API in
/// the release with `version`, which must be known).
pub fn can_deploy(model: &Model, service: &str, version: &str, environment: &str) -> Answer {
    let cx = Context::new(model);
    let env = environment_name(environment);
    let mut answer = match Answer::new(service, version, env).precheck(&cx) {
        Ok(answer) => answer,
        Err(done) => return done,
    };
    let version = answer.version.clone();
    let release = cx.release(service, &version);
    let requirements = cx.requirements_on(service);
    let mut ranged = false;
    for req in requirements {
        let consumer = req.consumer.as_str();
        let on = match &req.api {
            Some(api) => format!("API {api} of {service}"),
            None => service.to_owned(),
        };
        let Some(text) = range_text(req) else {
            answer.push(
                false,
                Some(consumer),
                format!(
                    "{consumer} depends on {on} but declares no range, so Seam has nothing \
                     to check."
                ),
            );
            continue;
        };
        ranged = true;
        let range = match Range::parse(text) {
            Ok(range) => range,
            Err(error) => {
                answer.push(
                    true,
                    Some(consumer),
                    format!(
                        "{consumer} declares range {} on {on}, which Seam cannot read \
                         ({error}); fix the range in the manifest of {consumer}.",
                        quote(text)
                    ),
                );
                continue;
            }
        };
        let (checked, what, not_semver) = match &req.api {
            None => (
                version.clone(),
                format!("{service} {version}"),
                format!("{} is not a semantic version", quote(&version)),
            ),
            Some(api) => {
                let Some(release) = release else {
                    answer.push(
                        true,
                        Some(consumer),
                        format!(
                            "{consumer} declares range {} on API {api} of {service}, and no \
                             release of {service} {version} is known; register the manifest \
                             of {service} version {version} first so the versions of its \
                             APIs are known.",
                            quote(text)
                        ),
                    );
                    continue;
                };
                match api_version(release, api).and_then(|v| normalise_version(v)) {
                    Some(api_version) => (
                        api_version.clone(),
                        format!("{service} {version} (API {api} {api_version})"),
                        format!(
                            "the version of API {api} in {service} {version}, {}, is not a \
                             semantic version",
                            quote(&api_version)
                        ),
                    ),
                    None => {
                        let provided = release.apis.iter().any(|(name, _)| name == api);
                        let why = if provided {
                            "declares no version for it"
                        } else {
                            "does not provide it"
                        };
                        answer.push(
                            true,
                            Some(consumer),
                            format!(
                                "{consumer} declares range {} on API {api} of {service}, and \
                                 the manifest of {service} {version} {why}, so the range \
                                 cannot be checked.",
                                quote(text)
                            ),
                        );
                        continue;
                    }
                }
            }
        };
        let Some(checked_version) = parse_version(&checked) else {
            answer.push(
                true,
                Some(consumer),
                format!(
                    "{consumer} declares range {} on {on}, and {not_semver}, so the range \
                     cannot be checked.",
                    quote(text)
                ),
            );
            continue;
        };
        if range.matches(&checked_version) {
            answer.push(
                false,
                Some(consumer),
                format!(
                    "{consumer} declares range {} on {on}, which accepts {what}.",
                    quote(text)
                ),
            );
        } else {
            answer.push(
                true,
                Some(consumer),
                format!(
                    "{consumer} declares range {} on {on}, which rejects {what}.",
                    quote(text)
                ),
            );
        }
    }
    let declaring: BTreeSet<&str> = requirements.iter().map(|r| r.consumer.as_str()).collect();
    for (caller, calls) in cx.callers(env, service) {
        if declaring.contains(caller) {
            continue;
        }
        answer.push(
            false,
            Some(caller),
            format!(
                "{caller} calls {service} in {env} ({}) but declares no range, so Seam \
                 cannot check that it accepts {version}.",
                traffic(calls, cx.window)
            ),
        );
    }
    if !ranged {
        answer.push(
            false,
            None,
            format!(
                "No consumer declares a range on {service}, so nothing blocks deploying \
                 {service} {version} to {env}."
            ),
        );
    }
    answer.finish()
}

/// Whether `service` at `version` can be retired from `environment`: nothing may still
/// call it there, and it may not be the only live version while consumers are declared.
pub fn can_retire(model: &Model, service: &str, version: &str, environment: &str) -> Answer {
    let cx = Context::new(model);
    let env = environment_name(environment);
    let mut answer = match Answer::new(service, version, env).precheck(&cx) {
        Ok(answer) => answer,
        Err(done) => return done,
    };
    let version = answer.version.clone();
    let live = cx.live_versions(env, service);
    let this = live.iter().find(|v| v.version == version);
    let manifest_sourced = this.is_some_and(|v| v.source == Source::Manifest);
    let mut called = false;
    for (caller, pairs) in cx.pairs_into(env, service).into_iter().flatten() {
        for ((caller_version, provider_version), calls) in pairs {
            if *calls <= 0.0 {
                continue;
            }
            let who = match caller_version {
                Some(v) => format!("{caller} {v}"),
                None => format!("{caller} (version not reported)"),
            };
            match provider_version {
                Some(v) if *v == version => {
                    called = true;
                    answer.push(
                        true,
                        Some(caller),
                        format!(
                            "{who} still calls {service} {version} in {env}: {} over the \
                             window.",
                            traffic(*calls, cx.window)
                        ),
                    );
                }
                None if manifest_sourced => {
                    called = true;
                    answer.push(
                        true,
                        Some(caller),
                        format!(
                            "{who} calls {service} in {env} ({}); spans there name no version \
                             of {service} and its manifest declares {version}, so these calls \
                             reach {version}.",
                            traffic(*calls, cx.window)
                        ),
                    );
                }
                _ => {}
            }
        }
    }
    let others: Vec<String> = live
        .iter()
        .filter(|v| v.version != version)
        .map(|v| v.version.clone())
        .collect();
    match this {
        None => {
            let mut message =
                format!("No calls to {service} {version} in the window; it is not live in {env}");
            if !others.is_empty() {
                message.push_str(&format!(" (live there: {})", list(&others)));
            }
            message.push('.');
            answer.push(false, None, message);
        }
        Some(this) => {
            let declaring: BTreeSet<&str> = cx
                .requirements_on(service)
                .iter()
                .map(|r| r.consumer.as_str())
                .filter(|c| *c != service)
                .collect();
            let declaring: Vec<String> = declaring.into_iter().map(str::to_owned).collect();
            if others.is_empty() && !declaring.is_empty() {
                answer.push(
                    true,
                    None,
                    format!(
                        "{service} {version} is the only version of {service} live in {env}, \
                         and {} declare{} a dependency on {service}; retiring it leaves \
                         them nothing to call.",
                        list(&declaring),
                        if declaring.len() == 1 { "s" } else { "" }
                    ),
                );
            } else if others.is_empty() {
                answer.push(
                    false,
                    None,
                    format!(
                        "{service} {version} is the only version of {service} live in {env}, \
                         but no consumer declares a dependency on {service}."
                    ),
                );
            } else {
                answer.push(
                    false,
                    None,
                    format!(
                        "Other versions of {service} live in {env}: {}.",
                        list(&others)
                    ),
                );
            }
            if !called {
                let how = match this.source {
                    Source::Callee => String::new(),
                    Source::Caller => format!(
                        "; it is live only making calls ({} over the window)",
                        traffic(this.calls_out, cx.window)
                    ),
                    Source::Manifest => {
                        "; it is live as what the manifest declares, as spans name no \
                         version"
                            .to_owned()
                    }
                };
                answer.push(
                    false,
                    None,
                    format!(
                        "No calls to {service} {version} were observed in {env} in the \
                         window{how}."
                    ),
                );
            }
        }
    }
    answer.finish()
}

// ---------------------------------------------------------------------------------------
// What the model says, indexed
// ---------------------------------------------------------------------------------------

/// Calls per (caller version, callee version).
type Pairs = BTreeMap<(Option<String>, Option<String>), f64>;

/// One service in one environment, as spans saw it.
#[derive(Default)]
struct Seen {
    /// Calls into each named version of it, and made by each named version of it.
    calls_in: BTreeMap<String, f64>,
    calls_out: BTreeMap<String, f64>,
    /// All calls into it, and those naming no version of it.
    total_in: f64,
    unversioned_in: f64,
}

struct Context<'a> {
    model: &'a Model,
    window: f64,
    /// Environment → service → what spans saw.
    envs: BTreeMap<String, BTreeMap<&'a str, Seen>>,
    /// Environment → callee → caller → calls by version pair.
    pairs: BTreeMap<String, BTreeMap<&'a str, BTreeMap<&'a str, Pairs>>>,
    /// Services any span names, and services called.
    spanned: BTreeSet<&'a str>,
    callees: BTreeSet<&'a str>,
    /// Normalised current manifest versions.
    manifest: BTreeMap<&'a str, String>,
    /// Service → normalised version → the first release with it.
    releases: BTreeMap<&'a str, BTreeMap<String, &'a Release>>,
    /// Provider → its requirements, without duplicates, by consumer, API and range.
    requirements: BTreeMap<&'a str, Vec<&'a Requirement>>,
    /// Caller → callee → the modes of edges between them.
    modes: BTreeMap<&'a str, BTreeMap<&'a str, BTreeSet<Mode>>>,
}

/// Calls as a finite, non-negative number.
fn sane(calls: f64) -> f64 {
    if calls.is_finite() && calls > 0.0 {
        calls
    } else {
        0.0
    }
}

/// Addition that stays finite.
fn add(total: &mut f64, calls: f64) {
    let sum = *total + calls;
    *total = if sum.is_finite() { sum } else { f64::MAX };
}

/// A finite sum.
fn sum<'c>(calls: impl IntoIterator<Item = &'c f64>) -> f64 {
    let mut total = 0.0;
    for c in calls {
        add(&mut total, *c);
    }
    total
}

impl<'a> Context<'a> {
    fn new(model: &'a Model) -> Context<'a> {
        let window = if model.window_seconds.is_finite() && model.window_seconds > 0.0 {
            model.window_seconds
        } else {
            0.0
        };
        let mut cx = Context {
            model,
            window,
            envs: BTreeMap::new(),
            pairs: BTreeMap::new(),
            spanned: BTreeSet::new(),
            callees: BTreeSet::new(),
            manifest: BTreeMap::new(),
            releases: BTreeMap::new(),
            requirements: BTreeMap::new(),
            modes: BTreeMap::new(),
        };
        for call in &model.calls {
            let env = environment_name(&call.environment);
            let calls = sane(call.calls);
            let caller_version = call.caller_version.as_deref().and_then(normalise_version);
            let callee_version = call.callee_version.as_deref().and_then(normalise_version);
            cx.spanned.insert(&call.caller);
            cx.spanned.insert(&call.callee);
            cx.callees.insert(&call.callee);
            let services = cx.envs.entry(env.to_owned()).or_default();
            let seen = services.entry(&call.callee).or_default();
            add(&mut seen.total_in, calls);
            match &callee_version {
                Some(v) => add(seen.calls_in.entry(v.clone()).or_insert(0.0), calls),
                None => add(&mut seen.unversioned_in, calls),
            }
            let seen = services.entry(&call.caller).or_default();
            if let Some(v) = &caller_version {
                add(seen.calls_out.entry(v.clone()).or_insert(0.0), calls);
            }
            let pair = cx
                .pairs
                .entry(env.to_owned())
                .or_default()
                .entry(&call.callee)
                .or_default()
                .entry(&call.caller)
                .or_default()
                .entry((caller_version, callee_version))
                .or_insert(0.0);
            add(pair, calls);
        }
        for (service, version) in &model.manifest_versions {
            if let Some(version) = normalise_version(version) {
                cx.manifest.insert(service, version);
            }
        }
        for release in &model.releases {
            if let Some(version) = normalise_version(&release.version) {
                cx.releases
                    .entry(&release.service)
                    .or_default()
                    .entry(version)
                    .or_insert(release);
            }
        }
        for req in &model.requirements {
            cx.requirements.entry(&req.provider).or_default().push(req);
        }
        for reqs in cx.requirements.values_mut() {
            reqs.sort_by(|a, b| {
                (&a.consumer, &a.api, &a.range).cmp(&(&b.consumer, &b.api, &b.range))
            });
            reqs.dedup_by(|a, b| a.consumer == b.consumer && a.api == b.api && a.range == b.range);
        }
        for edge in &model.edges {
            cx.modes
                .entry(&edge.caller)
                .or_default()
                .entry(&edge.callee)
                .or_default()
                .insert(edge.mode);
        }
        cx
    }

    /// Whether anything in the model names `service`.
    fn known(&self, service: &str) -> bool {
        let m = self.model;
        self.manifest.contains_key(service)
            || self.spanned.contains(service)
            || self.releases.contains_key(service)
            || self.requirements.contains_key(service)
            || m.manifest_versions.contains_key(service)
            || m.requirements.iter().any(|r| r.consumer == service)
            || m.nodes.iter().any(|n| n.name == service)
            || m.edges
                .iter()
                .any(|e| e.caller == service || e.callee == service)
    }

    /// The release of `service` with the (normalised) `version`.
    fn release(&self, service: &str, version: &str) -> Option<&'a Release> {
        self.releases.get(service)?.get(version).copied()
    }

    /// Whether `service` is live in `env`: spans there name it, or it is the default
    /// environment and no span names it anywhere while its manifest declares a version.
    fn present(&self, env: &str, service: &str) -> bool {
        self.envs
            .get(env)
            .is_some_and(|services| services.contains_key(service))
            || (env == DEFAULT_ENVIRONMENT
                && !self.spanned.contains(service)
                && self.manifest.contains_key(service))
    }

    fn live_versions(&self, env: &str, service: &str) -> Vec<LiveVersion> {
        if !self.present(env, service) {
            return Vec::new();
        }
        let manifest = self.manifest.get(service);
        let live = |version: &str, source, calls, calls_out, share| LiveVersion {
            version: version.to_owned(),
            semver: parse_version(version).is_some(),
            source,
            calls,
            calls_out,
            share,
            declared: manifest.is_some_and(|m| m == version),
            observed: source != Source::Manifest,
            apis: self.release(service, version).map(|r| {
                r.apis
                    .iter()
                    .map(|(api, version)| ApiVersion {
                        api: api.clone(),
                        version: version.clone(),
                    })
                    .collect()
            }),
        };
        let mut out = Vec::new();
        if let Some(seen) = self.envs.get(env).and_then(|s| s.get(service)) {
            let total_in = sum(seen.calls_in.values());
            let total_out = sum(seen.calls_out.values());
            for (version, calls) in &seen.calls_in {
                let calls_out = seen.calls_out.get(version).copied().unwrap_or(0.0);
                out.push(live(
                    version,
                    Source::Callee,
                    *calls,
                    calls_out,
                    share(*calls, total_in),
                ));
            }
            for (version, calls_out) in &seen.calls_out {
                if !seen.calls_in.contains_key(version) {
                    out.push(live(
                        version,
                        Source::Caller,
                        0.0,
                        *calls_out,
                        share(*calls_out, total_out),
                    ));
                }
            }
        }
        if out.is_empty() {
            if let Some(version) = manifest {
                out.push(live(version, Source::Manifest, 0.0, 0.0, None));
            }
        }
        out.sort_by_cached_key(|v| version_key(&v.version));
        out
    }

    /// Requirements on `service`, without duplicates, by consumer, API and range.
    fn requirements_on(&self, service: &str) -> &[&'a Requirement] {
        self.requirements.get(service).map_or(&[], Vec::as_slice)
    }

    /// Callers of `service` in `env`, by name, with their calls by version pair.
    fn pairs_into(&self, env: &str, service: &str) -> Option<&BTreeMap<&'a str, Pairs>> {
        self.pairs.get(env)?.get(service)
    }

    /// Callers of `service` in `env` with all their calls, by name.
    fn callers(&self, env: &str, service: &str) -> Vec<(&'a str, f64)> {
        self.pairs_into(env, service)
            .into_iter()
            .flatten()
            .map(|(caller, pairs)| (*caller, sum(pairs.values())))
            .collect()
    }

    /// The mode of the edges from `caller` to `callee`: async when every one is, else
    /// sync (also when no edge is known).
    fn mode(&self, caller: &str, callee: &str) -> Mode {
        match self.modes.get(caller).and_then(|m| m.get(callee)) {
            Some(modes) if modes.iter().all(|m| *m == Mode::Async) && !modes.is_empty() => {
                Mode::Async
            }
            _ => Mode::Sync,
        }
    }

    fn rate(&self, calls: f64) -> f64 {
        if self.window > 0.0 {
            let rate = calls / self.window;
            if rate.is_finite() {
                rate
            } else {
                f64::MAX
            }
        } else {
            0.0
        }
    }

    fn row(&self, env: &str, service: &'a str) -> ProviderVersions {
        let versions = self.live_versions(env, service);
        let mut majors: Vec<u64> = versions
            .iter()
            .filter_map(|v| parse_version(&v.version))
            .map(|v| v.major)
            .collect();
        majors.sort_unstable_by(|a, b| b.cmp(a));
        majors.dedup();
        let seen = self.envs.get(env).and_then(|s| s.get(service));
        let empty = BTreeMap::new();
        let callers = self.pairs_into(env, service).unwrap_or(&empty);
        let mut consumers = Vec::new();
        let requirements = self.requirements_on(service);
        for req in requirements {
            consumers.push(self.consumer(
                env,
                service,
                &versions,
                &req.consumer,
                Some(req),
                callers.get(req.consumer.as_str()),
            ));
        }
        for (caller, pairs) in callers {
            if !requirements.iter().any(|r| r.consumer == *caller) {
                consumers.push(self.consumer(env, service, &versions, caller, None, Some(pairs)));
            }
        }
        consumers
            .sort_by(|a, b| (&a.consumer, &a.api, &a.range).cmp(&(&b.consumer, &b.api, &b.range)));
        ProviderVersions {
            service: service.to_owned(),
            manifest_version: self.manifest.get(service).cloned(),
            versions,
            majors,
            calls: seen.map_or(0.0, |s| s.total_in),
            unversioned_calls: seen.map_or(0.0, |s| s.unversioned_in),
            consumers,
        }
    }

    fn consumer(
        &self,
        env: &str,
        provider: &str,
        provider_versions: &[LiveVersion],
        consumer: &str,
        requirement: Option<&Requirement>,
        pairs: Option<&Pairs>,
    ) -> Consumer {
        let range_text = requirement.and_then(range_text);
        let range = range_text.map(Range::parse);
        let api = requirement.and_then(|r| r.api.as_deref());
        let verdicts = provider_versions
            .iter()
            .map(|live| self.verdict(provider, &live.version, api, range.as_ref()))
            .collect();
        let mut calls: Vec<PairCalls> = pairs
            .into_iter()
            .flatten()
            .map(|((consumer_version, provider_version), calls)| PairCalls {
                consumer_version: consumer_version.clone(),
                provider_version: provider_version.clone(),
                calls_per_second: self.rate(*calls),
            })
            .collect();
        calls.sort_by_cached_key(|c| {
            (
                c.consumer_version.is_none(),
                c.consumer_version.as_deref().map(version_key),
                c.provider_version.is_none(),
                c.provider_version.as_deref().map(version_key),
            )
        });
        let total = sum(pairs.into_iter().flat_map(|p| p.values()));
        Consumer {
            consumer: consumer.to_owned(),
            versions: self
                .live_versions(env, consumer)
                .into_iter()
                .map(|v| v.version)
                .collect(),
            api: api.map(str::to_owned),
            range: requirement.and_then(|r| r.range.clone()),
            declared: requirement.is_some(),
            observed: pairs.is_some(),
            mode: self.mode(consumer, provider),
            calls,
            calls_per_second: self.rate(total),
            verdicts,
        }
    }

    fn verdict(
        &self,
        provider: &str,
        version: &str,
        api: Option<&str>,
        range: Option<&Result<Range, String>>,
    ) -> VersionVerdict {
        let verdict = |checked: Option<String>, verdict| VersionVerdict {
            provider_version: version.to_owned(),
            checked_version: checked,
            verdict,
        };
        let checked = match api {
            None => Some(version.to_owned()),
            Some(api) => self
                .release(provider, version)
                .and_then(|r| api_version(r, api))
                .and_then(|v| normalise_version(v)),
        };
        let range = match range {
            None => return verdict(checked, Verdict::NoRange),
            Some(Err(error)) => {
                return verdict(
                    checked,
                    Verdict::UnparsableRange {
                        error: error.clone(),
                    },
                )
            }
            Some(Ok(range)) => range,
        };
        let Some(checked) = checked else {
            let api = api.unwrap_or_default().to_owned();
            let release_known = self.release(provider, version).is_some();
            return verdict(None, Verdict::UnknownApiVersion { api, release_known });
        };
        match parse_version(&checked) {
            None => verdict(
                Some(checked.clone()),
                Verdict::NotSemver { version: checked },
            ),
            Some(v) if range.matches(&v) => verdict(Some(checked), Verdict::Accepted),
            Some(_) => verdict(Some(checked), Verdict::Rejected),
        }
    }
}

/// A requirement's range, trimmed; `None` when absent or empty.
fn range_text(requirement: &Requirement) -> Option<&str> {
    requirement
        .range
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// The declared version of `api` in `release`, when it declares one (not empty).
fn api_version<'r>(release: &'r Release, api: &str) -> Option<&'r String> {
    release
        .apis
        .iter()
        .find(|(name, version)| name == api && version.is_some())
        .and_then(|(_, version)| version.as_ref())
        .filter(|v| !v.trim().is_empty())
}

fn share(part: f64, total: f64) -> Option<f64> {
    if total > 0.0 {
        let share = part / total;
        share.is_finite().then(|| share.clamp(0.0, 1.0))
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Words
// ---------------------------------------------------------------------------------------

/// `text` in double quotes, cut to 80 characters.
fn quote(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{:?}…", cut)
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A rate for a sentence: up to three significant decimals, no trailing zeros.
fn rate(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "0".to_owned();
    }
    if value < 0.001 {
        return "less than 0.001".to_owned();
    }
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else if value >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

fn percent(share: f64) -> String {
    format!("{:.0}%", (share * 100.0).clamp(0.0, 100.0))
}

/// `1 call per second`, `2.5 calls per second`.
fn per_second(rate: &str) -> String {
    let calls = if rate == "1" { "call" } else { "calls" };
    format!("{rate} {calls} per second")
}

/// `1 and 0.5 calls per second`.
fn per_second_list(rates: &[String]) -> String {
    match rates {
        [one] => per_second(one),
        _ => format!("{} calls per second", list(rates)),
    }
}

/// Calls over the window as words: a rate per second, or a count when the window is 0.
fn traffic(calls: f64, window: f64) -> String {
    if window > 0.0 {
        per_second(&rate(calls / window))
    } else {
        format!("{} calls", rate(calls))
    }
}
