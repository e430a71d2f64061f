//! Architecture principles: a small set of them (at most ten), each a group of coded
//! rules, checked against every service from what it declares and what it does.
//!
//! - [`policy`]: the policy file (`apiVersion: seam.dev/v1`, `kind: Policy`), read with
//!   the manifests' YAML reader into a [`Policy`] or positioned [`Diagnostic`]s, and the
//!   built-in [`default_policy`].
//! - [`rules`]: the catalogue of rules, each with a stable code (`SEAM-CYCLE-001`), a
//!   title, a default severity, an explanation, a resolution and its parameters; and the
//!   reference text of every code ([`reference_markdown`]).
//! - [`evaluate()`]: a policy over the analysis' [`Report`](seam_analysis::Report) and the
//!   facts the server gathers about each service ([`Inputs`]) gives findings, with
//!   waivers applied, and a scorecard per service with roll-ups per team and domain.
//!
//! No I/O, no async, no clock (the evaluation time is passed in), deterministic output
//! order, and no panic on odd input: every limit is checked when the policy is read.

pub mod evaluate;
pub mod policy;
pub mod rules;

use serde::{Deserialize, Serialize};

pub use evaluate::{
    evaluate, AppliedWaiver, BrokenPropagation, Evaluation, Finding, FindingEvidence, Inputs,
    LevelCounts, Outcome, PrincipleOutcome, PropagationFacts, RollUp, RuleOutcome, RuntimeFacts,
    Scorecard, ServiceFacts, SeverityCounts, Side, WaiverReport, WaiverState,
};
pub use policy::{
    default_policy, parse_expiry, parse_policy, ParamValue, Params, Policy, Principle, RuleConfig,
    Scope, Waiver, WaiverSource, DEFAULT_POLICY_FILE, DEFAULT_POLICY_YAML,
};
pub use rules::{reference_markdown, Code, Data, ParamKind, ParamSpec, Rule, RULES};
pub use seam_catalog::manifest::Diagnostic;

/// How much a finding matters. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Reads `info`, `warning` or `error`, exactly.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scorecard level. Rules are placed at `bronze`, `silver` or `gold`; a service reaches
/// a level when every rule of it and of the levels below passes, and is at `none` when
/// a bronze rule fails. Ordered: `None < Bronze < Silver < Gold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Bronze,
    Silver,
    Gold,
}

impl Level {
    /// The levels a rule can be placed at, lowest first.
    pub const RULE_LEVELS: [Level; 3] = [Level::Bronze, Level::Silver, Level::Gold];
    pub const ALL: [Level; 4] = [Level::None, Level::Bronze, Level::Silver, Level::Gold];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Bronze => "bronze",
            Level::Silver => "silver",
            Level::Gold => "gold",
        }
    }

    /// Reads `none`, `bronze`, `silver` or `gold`, exactly.
    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
