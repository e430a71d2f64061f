//! The policy file: which principles are in effect, the rules each groups with their
//! severity, level and parameters, where each applies, and the waivers granted.
//!
//! ```yaml
//! apiVersion: seam.dev/v1
//! kind: Policy
//! metadata:
//!   name: acme                        # required
//!   description: What Acme's architects ask of every service
//! spec:
//!   principles:                       # required, 1 to 10
//!     - id: loose-coupling            # required, unique, a name (letters, digits, - _ .)
//!       title: Loose coupling         # required
//!       description: Services change and deploy on their own.
//!       scope:                        # optional; an empty or absent list matches all
//!         domains: [commerce]
//!         teams: [team-payments]
//!         systems: [webshop]
//!         lifecycles: [production]
//!       rules:                        # required, 1 to 32
//!         - code: SEAM-CYCLE-001      # required, a code of the reference
//!           severity: error           # info | warning | error; default: the rule's
//!           level: bronze             # bronze | silver | gold; default bronze
//!           params: {observed_only: true}  # the rule's parameters; others are errors
//!   waivers:                          # optional, at most 1000
//!     - code: SEAM-CYCLE-001          # required
//!       object: payments              # required: a service name or an observation id
//!       reason: Being split, see ADR-42.   # required
//!       author: jane@example.com      # required
//!       expires: 2025-12-31           # required: a date (the end of that day, UTC) or
//!                                     # an RFC 3339 date and time
//! ```
//!
//! Strict like manifests: unknown fields are errors, and every problem is reported with
//! the file, line, column and field path, through the catalog's own YAML reader.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use seam_catalog::manifest::fields::{self, Cx, Item, Obj, Text};
use seam_catalog::manifest::tree::{self, Node, Pos, ScalarKind, Value};
use seam_catalog::manifest::{Diagnostic, Severity as DiagnosticSeverity, MAX_DIAGNOSTICS};
use seam_catalog::FieldError;
use serde::Serialize;

use crate::rules::{figure, truncate, Code, ParamKind, ParamSpec, MAX_PARAM_WORDS};
use crate::{Level, Severity};

pub const API_VERSION: &str = "seam.dev/v1";
pub const KIND: &str = "Policy";

/// Largest policy file, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;
/// Most principles in one policy: principles are few, or nobody remembers them.
pub const MAX_PRINCIPLES: usize = 10;
/// Most rules in one principle.
pub const MAX_RULES_PER_PRINCIPLE: usize = 32;
/// Most waivers in one policy file.
pub const MAX_WAIVERS: usize = 1000;
/// Most names in one scope list.
pub const MAX_SCOPE_NAMES: usize = 100;
/// Deepest nesting of the file (the format needs six levels).
pub const MAX_DEPTH: usize = 16;
/// Longest title, description, waiver object, reason and author, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_OBJECT_CHARS: usize = 300;
pub const MAX_REASON_CHARS: usize = 2000;
pub const MAX_AUTHOR_CHARS: usize = 200;
/// Longest word in a list parameter (an environment or domain name), in characters.
const MAX_WORD_CHARS: usize = 128;

/// The file name diagnostics of the built-in policy carry.
pub const DEFAULT_POLICY_FILE: &str = "default-policy.yaml";
/// The built-in default policy, drawn from *Building Microservices* (ch. 1-5).
pub const DEFAULT_POLICY_YAML: &str = include_str!("../default-policy.yaml");

const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
const METADATA_FIELDS: &[&str] = &["name", "description"];
const SPEC_FIELDS: &[&str] = &["principles", "waivers"];
const PRINCIPLE_FIELDS: &[&str] = &["id", "title", "description", "scope", "rules"];
const SCOPE_FIELDS: &[&str] = &["domains", "teams", "systems", "lifecycles"];
const RULE_FIELDS: &[&str] = &["code", "severity", "level", "params"];
const WAIVER_FIELDS: &[&str] = &["code", "object", "reason", "author", "expires"];
const SEVERITIES: &[&str] = &["info", "warning", "error"];
const RULE_LEVELS: &[&str] = &["bronze", "silver", "gold"];

/// A policy: the principles in effect and the waivers its file grants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub name: String,
    pub description: Option<String>,
    pub principles: Vec<Principle>,
    /// The waivers written in the policy file (source [`WaiverSource::Policy`]).
    pub waivers: Vec<Waiver>,
}

impl Policy {
    /// A policy with no principle: nothing is checked.
    pub fn empty(name: &str) -> Policy {
        Policy {
            name: name.to_owned(),
            description: None,
            principles: Vec::new(),
            waivers: Vec::new(),
        }
    }

    /// The waivers of the file that no longer apply at `now`.
    pub fn expired_waivers(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Waiver> {
        self.waivers.iter().filter(move |w| !w.is_active(now))
    }
}

/// One principle: a named group of rules, and where it applies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principle {
    /// Unique in the policy; a name (`loose-coupling`).
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub scope: Scope,
    pub rules: Vec<RuleConfig>,
}

/// Which services a principle applies to: those matching every non-empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub domains: Vec<String>,
    /// Owner teams.
    pub teams: Vec<String>,
    pub systems: Vec<String>,
    pub lifecycles: Vec<String>,
}

impl Scope {
    /// Whether the scope matches every service.
    pub fn is_all(&self) -> bool {
        self.domains.is_empty()
            && self.teams.is_empty()
            && self.systems.is_empty()
            && self.lifecycles.is_empty()
    }

    /// Whether a service with these attributes is in scope: each non-empty list must
    /// contain the service's value (a service without the value is out).
    pub fn matches(
        &self,
        domain: Option<&str>,
        team: Option<&str>,
        system: Option<&str>,
        lifecycle: Option<&str>,
    ) -> bool {
        let fits = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|item| item == v))
        };
        fits(&self.domains, domain)
            && fits(&self.teams, team)
            && fits(&self.systems, system)
            && fits(&self.lifecycles, lifecycle)
    }
}

/// A rule as a principle uses it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleConfig {
    pub code: Code,
    pub severity: Severity,
    pub level: Level,
    /// Every parameter of the rule, defaults filled in.
    pub params: Params,
}

impl RuleConfig {
    /// The rule with its default severity and parameters, at bronze.
    pub fn new(code: Code) -> RuleConfig {
        RuleConfig {
            code,
            severity: code.rule().severity,
            level: Level::Bronze,
            params: Params::defaults(code),
        }
    }
}

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Number(f64),
    Bool(bool),
    Words(Vec<String>),
    Choice(String),
}

/// A rule's parameters by name. Reading a parameter the rule does not have, or one of
/// another type, gives the catalogue's default (and 0, false, empty for unknown names).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<&'static str, ParamValue>);

impl Params {
    /// Every parameter of `code` at its default.
    pub fn defaults(code: Code) -> Params {
        Params(
            code.rule()
                .params
                .iter()
                .map(|spec| (spec.name, default_value(&spec.kind)))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// Sets a parameter of `code`, checked as the policy file's are.
    pub fn set(&mut self, code: Code, name: &str, value: ParamValue) -> Result<(), String> {
        let spec = code
            .rule()
            .param(name)
            .ok_or_else(|| unknown_param_message(code, name))?;
        check_value(spec, &value)?;
        self.0.insert(spec.name, value);
        Ok(())
    }

    pub fn number(&self, name: &str) -> f64 {
        match self.0.get(name) {
            Some(ParamValue::Number(n)) => *n,
            _ => match spec_of(name).map(|s| s.kind) {
                Some(ParamKind::Number { default, .. }) => default,
                _ => 0.0,
            },
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        match self.0.get(name) {
            Some(ParamValue::Bool(b)) => *b,
            _ => matches!(
                spec_of(name).map(|s| s.kind),
                Some(ParamKind::Bool { default: true })
            ),
        }
    }

    pub fn words(&self, name: &str) -> Vec<&str> {
        match self.0.get(name) {
            Some(ParamValue::Words(words)) => words.iter().map(String::as_str).collect(),
            _ => match spec_of(name).map(|s| s.kind) {
                Some(ParamKind::Words { default, .. }) => default.to_vec(),
                _ => Vec::new(),
            },
        }
    }

    pub fn choice(&self, name: &str) -> &str {
        match self.0.get(name) {
            Some(ParamValue::Choice(choice)) => choice,
            _ => match spec_of(name).map(|s| s.kind) {
                Some(ParamKind::Choice { default, .. }) => default,
                _ => "",
            },
        }
    }
}

/// The first parameter of that name in the catalogue (names mean the same everywhere).
fn spec_of(name: &str) -> Option<&'static ParamSpec> {
    crate::RULES
        .iter()
        .flat_map(|rule| rule.params.iter())
        .find(|spec| spec.name == name)
}

fn default_value(kind: &ParamKind) -> ParamValue {
    match kind {
        ParamKind::Number { default, .. } => ParamValue::Number(*default),
        ParamKind::Bool { default } => ParamValue::Bool(*default),
        ParamKind::Words { default, .. } => {
            ParamValue::Words(default.iter().map(|w| (*w).to_owned()).collect())
        }
        ParamKind::Choice { default, .. } => ParamValue::Choice((*default).to_owned()),
    }
}

/// Checks a value against its parameter's type and bounds; says what is wrong.
fn check_value(spec: &ParamSpec, value: &ParamValue) -> Result<(), String> {
    match (&spec.kind, value) {
        (
            ParamKind::Number {
                min, max, integer, ..
            },
            ParamValue::Number(n),
        ) => check_number(*n, *min, *max, *integer),
        (ParamKind::Bool { .. }, ParamValue::Bool(_)) => Ok(()),
        (ParamKind::Words { options, .. }, ParamValue::Words(words)) => {
            if words.len() > MAX_PARAM_WORDS {
                return Err(format!(
                    "has {} entries; at most {MAX_PARAM_WORDS} are allowed",
                    words.len()
                ));
            }
            words.iter().try_for_each(|w| check_word(w, options))
        }
        (ParamKind::Choice { options, .. }, ParamValue::Choice(choice)) => {
            if options.contains(&choice.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "found {:?}, expected one of: {}",
                    truncate(choice, 64),
                    options.join(", ")
                ))
            }
        }
        (kind, _) => Err(format!("expected {}", expected_kind(kind))),
    }
}

fn check_number(n: f64, min: f64, max: f64, integer: bool) -> Result<(), String> {
    let what = if integer { "an integer" } else { "a number" };
    if !n.is_finite() || n < min || n > max || (integer && n.fract() != 0.0) {
        return Err(format!(
            "found {}, expected {what} from {} to {}",
            figure(n),
            figure(min),
            figure(max)
        ));
    }
    Ok(())
}

fn check_word(word: &str, options: &[&str]) -> Result<(), String> {
    if options.is_empty() {
        if word.trim().is_empty()
            || word.chars().count() > MAX_WORD_CHARS
            || word.chars().any(char::is_control)
        {
            return Err(format!(
                "found {:?}, expected a non-empty name of at most {MAX_WORD_CHARS} characters",
                truncate(word, 64)
            ));
        }
        Ok(())
    } else if options.contains(&word) {
        Ok(())
    } else {
        Err(format!(
            "found {:?}, expected one of: {}",
            truncate(word, 64),
            options.join(", ")
        ))
    }
}

fn expected_kind(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Number {
            min, max, integer, ..
        } => format!(
            "{} from {} to {}",
            if *integer { "an integer" } else { "a number" },
            figure(*min),
            figure(*max)
        ),
        ParamKind::Bool { .. } => "true or false".to_owned(),
        ParamKind::Words { options: [], .. } => "a list of names".to_owned(),
        ParamKind::Words { options, .. } => format!("a list of: {}", options.join(", ")),
        ParamKind::Choice { options, .. } => format!("one of: {}", options.join(", ")),
    }
}

fn unknown_param_message(code: Code, name: &str) -> String {
    let rule = code.rule();
    if rule.params.is_empty() {
        return format!(
            "unknown parameter {:?}: {code} takes no parameters",
            truncate(name, 64)
        );
    }
    let names: Vec<&str> = rule.params.iter().map(|p| p.name).collect();
    let hint = fields::closest(name, &names)
        .map(|near| format!(" (did you mean {near:?}?)"))
        .unwrap_or_default();
    format!(
        "unknown parameter {:?} of {code}{hint}, expected one of: {}",
        truncate(name, 64),
        names.join(", ")
    )
}

/// Where a waiver comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverSource {
    /// The policy file (kept in Git).
    Policy,
    /// `PUT /api/v1/waivers`.
    Api,
}

impl WaiverSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WaiverSource::Policy => "policy",
            WaiverSource::Api => "api",
        }
    }
}

/// A waiver: a finding code accepted for one object until a date, with who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub code: Code,
    /// A service name (every finding of the code that concerns the service), or an
    /// observation id (that finding only), as written.
    pub object: String,
    pub reason: String,
    pub author: String,
    /// The instant from which the waiver no longer applies. A date alone (`2025-12-31`)
    /// means the end of that day in UTC: the waiver applies through it.
    pub expires: DateTime<Utc>,
    pub source: WaiverSource,
}

impl Waiver {
    /// A waiver from its fields as a client sends them (the API), checked as the policy
    /// file's are; field errors are named `code`, `object`, `reason`, `author`, `expires`.
    pub fn new(
        code: &str,
        object: &str,
        reason: &str,
        author: &str,
        expires: &str,
        source: WaiverSource,
    ) -> Result<Waiver, Vec<FieldError>> {
        let mut errors = Vec::new();
        let code = field(&mut errors, "code", check_code(code));
        let object = field(&mut errors, "object", check_object(object));
        let reason = field(
            &mut errors,
            "reason",
            check_text(reason, MAX_REASON_CHARS, true),
        );
        let author = field(
            &mut errors,
            "author",
            check_text(author, MAX_AUTHOR_CHARS, false),
        );
        let expires = field(&mut errors, "expires", parse_expiry(expires));
        match (code, object, reason, author, expires) {
            (Some(code), Some(object), Some(reason), Some(author), Some(expires)) => Ok(Waiver {
                code,
                object,
                reason,
                author,
                expires,
                source,
            }),
            _ => Err(errors),
        }
    }

    /// Whether the waiver still applies at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        now < self.expires
    }
}

/// The value of a check, or `None` after recording its error under `name`.
fn field<T>(errors: &mut Vec<FieldError>, name: &str, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            errors.push(FieldError {
                field: name.to_owned(),
                message,
            });
            None
        }
    }
}

/// Reads a waiver's expiry: a date (`2025-12-31`, through the end of that day in UTC)
/// or an RFC 3339 date and time (`2025-12-31T18:00:00+01:00`). Returns the instant from
/// which the waiver no longer applies.
pub fn parse_expiry(raw: &str) -> Result<DateTime<Utc>, String> {
    let text = raw.trim();
    let expected = || {
        format!(
            "found {:?}, expected a date such as \"2025-12-31\" or an RFC 3339 date and time such as \"2025-12-31T18:00:00Z\"",
            truncate(text, 64)
        )
    };
    if text.len() == 10 {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| expected())?;
        let next = date.succ_opt().ok_or_else(expected)?;
        return next
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(expected);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| expected())
}

fn check_code(raw: &str) -> Result<Code, String> {
    let text = raw.trim();
    Code::parse(text).ok_or_else(|| {
        let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let hint = fields::closest(text, &codes)
            .map(|near| format!(" (did you mean {near:?}?)"))
            .unwrap_or_default();
        format!(
            "unknown rule code {:?}{hint}, expected one of: {}",
            truncate(text, 64),
            codes.join(", ")
        )
    })
}

fn check_object(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("is empty, expected a service name or an observation id".to_owned());
    }
    if text.chars().any(char::is_control) || text.chars().count() > MAX_OBJECT_CHARS {
        return Err(format!(
            "found {:?}, expected a service name or an observation id of at most {MAX_OBJECT_CHARS} characters on one line",
            truncate(text, 64)
        ));
    }
    Ok(text.to_owned())
}

/// A required free text: trimmed, not empty, at most `max` characters, on one line
/// unless `multiline`.
fn check_text(raw: &str, max: usize, multiline: bool) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("is empty".to_owned());
    }
    let count = text.chars().count();
    if count > max {
        return Err(format!(
            "is {count} characters long; at most {max} are allowed"
        ));
    }
    let bad = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if text.chars().any(bad) {
        return Err(if multiline {
            "contains control characters".to_owned()
        } else {
            "contains control characters or line breaks; expected one line".to_owned()
        });
    }
    Ok(text.to_owned())
}

/// The built-in default policy (see `default-policy.yaml`).
pub fn default_policy() -> Policy {
    match parse_policy(DEFAULT_POLICY_FILE, DEFAULT_POLICY_YAML) {
        Ok(policy) => policy,
        Err(diagnostics) => {
            // A test parses the embedded file; this cannot happen in a build that passed.
            debug_assert!(false, "the default policy does not parse: {diagnostics:?}");
            Policy::empty("seam-default")
        }
    }
}

/// Reads a policy file. `file` names it in diagnostics. Every problem is reported, with
/// its line, column and field path; a policy is returned only when there is none.
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    if text.len() > MAX_POLICY_BYTES {
        diagnostics.push(file_diagnostic(
            file,
            format!(
                "the policy is {} bytes; at most {MAX_POLICY_BYTES} are allowed",
                text.len()
            ),
        ));
        return Err(diagnostics);
    }
    let parsed = tree::parse(text, MAX_DEPTH, 16);
    for problem in &parsed.problems {
        diagnostics.push(Diagnostic {
            severity: DiagnosticSeverity::Error,
            file: file.to_owned(),
            document: problem.document,
            line: Some(problem.pos.line),
            column: Some(problem.pos.column),
            path: problem.path.clone(),
            message: problem.error.to_string(),
        });
    }
    let policy = match parsed.documents.as_slice() {
        [] => {
            if diagnostics.is_empty() {
                diagnostics.push(file_diagnostic(
                    file,
                    "the input contains no documents; expected one Policy".to_owned(),
                ));
            }
            None
        }
        [document, rest @ ..] => {
            let mut cx = Cx {
                file,
                document: document.index,
                diagnostics: &mut diagnostics,
            };
            let policy = read_policy(&mut cx, &document.root);
            if let Some(second) = rest.first() {
                let mut cx = Cx {
                    file,
                    document: second.index,
                    diagnostics: &mut diagnostics,
                };
                cx.error(
                    second.root.pos,
                    "",
                    "a policy file holds one document; found a second one",
                );
            }
            policy
        }
    };
    match policy {
        Some(policy) if diagnostics.is_empty() => Ok(policy),
        _ => {
            // In reading order: fields are read in a fixed order, not the file's.
            diagnostics.sort_by_key(|d| (d.document, d.line, d.column));
            cap(&mut diagnostics);
            Err(diagnostics)
        }
    }
}

fn file_diagnostic(file: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity: DiagnosticSeverity::Error,
        file: file.to_owned(),
        document: 0,
        line: None,
        column: None,
        path: String::new(),
        message,
    }
}

/// Keeps the first [`MAX_DIAGNOSTICS`] and counts the rest in a last one.
fn cap(diagnostics: &mut Vec<Diagnostic>) {
    if diagnostics.len() <= MAX_DIAGNOSTICS {
        return;
    }
    let rest = diagnostics.split_off(MAX_DIAGNOSTICS);
    let file = diagnostics
        .last()
        .map(|d| d.file.clone())
        .unwrap_or_default();
    diagnostics.push(file_diagnostic(
        &file,
        format!("{} more errors not shown", rest.len()),
    ));
}

fn read_policy(cx: &mut Cx<'_>, root: &Node) -> Option<Policy> {
    if !matches!(root.value, Value::Map(_)) {
        cx.error(
            root.pos,
            "",
            format!(
                "found {}, expected a mapping with apiVersion, kind, metadata and spec",
                root.describe()
            ),
        );
        return None;
    }
    let obj = Obj::new(cx, root, "", root.pos)?;
    obj.deny_unknown(cx, TOP_FIELDS);
    let api_version = obj.required_str(cx, "apiVersion");
    let kind = obj.required_str(cx, "kind");
    if let Some(text) = &api_version {
        if text.value.trim() != API_VERSION {
            cx.error(
                text.pos,
                &text.path,
                format!(
                    "found {:?}, expected {API_VERSION:?}",
                    truncate(text.value.trim(), 64)
                ),
            );
        }
    }
    if let Some(text) = &kind {
        if text.value.trim() != KIND {
            cx.error(
                text.pos,
                &text.path,
                format!(
                    "found kind {:?}, expected {KIND:?}",
                    truncate(text.value.trim(), 64)
                ),
            );
        }
    }
    let metadata = obj.required_obj(cx, "metadata");
    let spec = obj.required_obj(cx, "spec");
    let (name, description) = match &metadata {
        Some(metadata) => {
            metadata.deny_unknown(cx, METADATA_FIELDS);
            let name = metadata
                .required_str(cx, "name")
                .and_then(|t| fields::name(cx, &t));
            let description = optional_text(cx, metadata, "description", MAX_DESCRIPTION_CHARS);
            (name, description)
        }
        None => (None, None),
    };
    let spec = spec?;
    spec.deny_unknown(cx, SPEC_FIELDS);
    let principles = read_principles(cx, &spec);
    let waivers = read_waivers(cx, &spec);
    Some(Policy {
        name: name?,
        description,
        principles: principles?,
        waivers: waivers?,
    })
}

/// A list under `key` with at most `max` items (and at least `min`), or `None` after
/// reporting why not.
fn bounded_list<'n>(
    cx: &mut Cx<'_>,
    obj: &Obj<'n>,
    key: &str,
    min: usize,
    max: usize,
    what: &str,
) -> Option<Vec<Item<'n>>> {
    let Some(entry) = obj.get(key) else {
        if min > 0 {
            obj.missing(cx, key);
            return None;
        }
        return Some(Vec::new());
    };
    let errors = cx.diagnostics.len();
    let items = obj.list(cx, key);
    if cx.diagnostics.len() > errors {
        return None;
    }
    if items.len() < min {
        cx.error(
            entry.value.pos,
            &obj.path_of(key),
            format!("is empty, expected at least {min} {what}"),
        );
        return None;
    }
    if items.len() > max {
        cx.error(
            entry.value.pos,
            &obj.path_of(key),
            format!("has {} {what}; at most {max} are allowed", items.len()),
        );
        return None;
    }
    Some(items)
}

fn read_principles(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Option<Vec<Principle>> {
    let items = bounded_list(cx, spec, "principles", 1, MAX_PRINCIPLES, "principles")?;
    let mut ids: HashMap<String, Pos> = HashMap::new();
    let mut out = Vec::new();
    let mut ok = true;
    for item in &items {
        match read_principle(cx, item, &mut ids) {
            Some(principle) => out.push(principle),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_principle(
    cx: &mut Cx<'_>,
    item: &Item<'_>,
    ids: &mut HashMap<String, Pos>,
) -> Option<Principle> {
    let obj = Obj::new(cx, item.node, &item.path, item.node.pos)?;
    obj.deny_unknown(cx, PRINCIPLE_FIELDS);
    let id_text = obj.required_str(cx, "id");
    let id = id_text.as_ref().and_then(|t| fields::name(cx, t));
    let id = match (id, &id_text) {
        (Some(id), Some(text)) => match ids.get(&id) {
            Some(first) => {
                cx.error(
                    text.pos,
                    &text.path,
                    format!(
                        "duplicate principle id {id:?}, already used at line {}; ids must be unique",
                        first.line
                    ),
                );
                None
            }
            None => {
                ids.insert(id.clone(), text.pos);
                Some(id)
            }
        },
        _ => None,
    };
    let title = required_text(cx, &obj, "title", MAX_TITLE_CHARS, false);
    let description = optional_text(cx, &obj, "description", MAX_DESCRIPTION_CHARS);
    let scope = match obj.obj(cx, "scope") {
        Some(scope) => read_scope(cx, &scope),
        None if obj.get("scope").is_some() => None,
        None => Some(Scope::default()),
    };
    let rules = read_rules(cx, &obj);
    Some(Principle {
        id: id?,
        title: title?,
        description,
        scope: scope?,
        rules: rules?,
    })
}

fn read_scope(cx: &mut Cx<'_>, obj: &Obj<'_>) -> Option<Scope> {
    obj.deny_unknown(cx, SCOPE_FIELDS);
    let mut ok = true;
    let mut names = |cx: &mut Cx<'_>, key: &str| -> Vec<String> {
        let Some(items) = bounded_list(cx, obj, key, 0, MAX_SCOPE_NAMES, "names") else {
            ok = false;
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let name =
                fields::as_text(cx, item.node, &item.path).and_then(|text| fields::name(cx, &text));
            match name {
                Some(name) if !out.contains(&name) => out.push(name),
                Some(_) => {}
                None => ok = false,
            }
        }
        out
    };
    let domains = names(cx, "domains");
    let teams = names(cx, "teams");
    let systems = names(cx, "systems");
    let lifecycles = names(cx, "lifecycles");
    ok.then_some(Scope {
        domains,
        teams,
        systems,
        lifecycles,
    })
}

fn read_rules(cx: &mut Cx<'_>, principle: &Obj<'_>) -> Option<Vec<RuleConfig>> {
    let items = bounded_list(cx, principle, "rules", 1, MAX_RULES_PER_PRINCIPLE, "rules")?;
    let mut seen: BTreeMap<Code, Pos> = BTreeMap::new();
    let mut out = Vec::new();
    let mut ok = true;
    for item in &items {
        match read_rule(cx, item, &mut seen) {
            Some(rule) => out.push(rule),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_rule(
    cx: &mut Cx<'_>,
    item: &Item<'_>,
    seen: &mut BTreeMap<Code, Pos>,
) -> Option<RuleConfig> {
    let obj = Obj::new(cx, item.node, &item.path, item.node.pos)?;
    obj.deny_unknown(cx, RULE_FIELDS);
    let code = obj.required_str(cx, "code").and_then(|text| {
        let code = report(cx, &text, check_code(&text.value))?;
        if let Some(first) = seen.get(&code) {
            cx.error(
                text.pos,
                &text.path,
                format!(
                    "{code} is already listed at line {} in this principle; list a rule once per principle",
                    first.line
                ),
            );
            return None;
        }
        seen.insert(code, text.pos);
        Some(code)
    });
    let severity = match obj.str(cx, "severity") {
        Some(text) => fields::one_of(cx, &text, SEVERITIES).map(|i| Some(Severity::ALL[i])),
        None if obj.get("severity").is_some() => None,
        None => Some(None),
    };
    let level = match obj.str(cx, "level") {
        Some(text) => fields::one_of(cx, &text, RULE_LEVELS).map(|i| Level::RULE_LEVELS[i]),
        None if obj.get("level").is_some() => None,
        None => Some(Level::Bronze),
    };
    // Parameters are judged against the rule, so only once the code is known.
    let params = match code {
        Some(code) => read_params(cx, &obj, code),
        None => None,
    };
    let code = code?;
    Some(RuleConfig {
        code,
        severity: severity?.unwrap_or(code.rule().severity),
        level: level?,
        params: params?,
    })
}

fn read_params(cx: &mut Cx<'_>, rule: &Obj<'_>, code: Code) -> Option<Params> {
    let mut params = Params::defaults(code);
    let Some(entry) = rule.get("params") else {
        return Some(params);
    };
    let path = rule.path_of("params");
    let obj = Obj::new(cx, &entry.value, &path, entry.key_pos)?;
    let Value::Map(entries) = &entry.value.value else {
        return None;
    };
    let mut ok = true;
    for param in entries {
        let param_path = tree::join_path(&obj.path, &param.key);
        let Some(spec) = code.rule().param(&param.key) else {
            cx.error(
                param.key_pos,
                &param_path,
                unknown_param_message(code, &param.key),
            );
            ok = false;
            continue;
        };
        if param.value.is_null() {
            continue;
        }
        match read_param_value(cx, spec, &param.value, &param_path) {
            Some(value) => {
                params.0.insert(spec.name, value);
            }
            None => ok = false,
        }
    }
    ok.then_some(params)
}

fn read_param_value(
    cx: &mut Cx<'_>,
    spec: &ParamSpec,
    node: &Node,
    path: &str,
) -> Option<ParamValue> {
    let value = match (&spec.kind, &node.value) {
        (ParamKind::Number { .. }, Value::Scalar(s)) if s.kind == ScalarKind::Number => {
            match s.text.parse::<f64>() {
                Ok(n) => ParamValue::Number(n),
                Err(_) => {
                    cx.error(
                        node.pos,
                        path,
                        format!(
                            "found {}, expected {}",
                            node.describe(),
                            expected_kind(&spec.kind)
                        ),
                    );
                    return None;
                }
            }
        }
        (ParamKind::Bool { .. }, Value::Scalar(s)) if s.kind == ScalarKind::Bool => {
            ParamValue::Bool(s.text.eq_ignore_ascii_case("true"))
        }
        (ParamKind::Choice { .. }, Value::Scalar(s)) if s.kind == ScalarKind::String => {
            ParamValue::Choice(s.text.trim().to_owned())
        }
        (ParamKind::Words { options, .. }, Value::Seq(items)) => {
            if items.len() > MAX_PARAM_WORDS {
                cx.error(
                    node.pos,
                    path,
                    format!(
                        "has {} entries; at most {MAX_PARAM_WORDS} are allowed",
                        items.len()
                    ),
                );
                return None;
            }
            let mut words: Vec<String> = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                let Some(text) = fields::as_text(cx, item, &item_path) else {
                    ok = false;
                    continue;
                };
                let word = text.value.trim().to_owned();
                match check_word(&word, options) {
                    Ok(()) if !words.contains(&word) => words.push(word),
                    Ok(()) => {}
                    Err(message) => {
                        cx.error(text.pos, &item_path, message);
                        ok = false;
                    }
                }
            }
            if !ok {
                return None;
            }
            ParamValue::Words(words)
        }
        (kind, _) => {
            cx.error(
                node.pos,
                path,
                format!(
                    "found {}, expected {}",
                    node.describe(),
                    expected_kind(kind)
                ),
            );
            return None;
        }
    };
    match check_value(spec, &value) {
        Ok(()) => Some(value),
        Err(message) => {
            cx.error(node.pos, path, message);
            None
        }
    }
}

fn read_waivers(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Option<Vec<Waiver>> {
    let items = bounded_list(cx, spec, "waivers", 0, MAX_WAIVERS, "waivers")?;
    let mut seen: HashMap<(Code, String), Pos> = HashMap::new();
    let mut out = Vec::new();
    let mut ok = true;
    for item in &items {
        match read_waiver(cx, item, &mut seen) {
            Some(waiver) => out.push(waiver),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_waiver(
    cx: &mut Cx<'_>,
    item: &Item<'_>,
    seen: &mut HashMap<(Code, String), Pos>,
) -> Option<Waiver> {
    let obj = Obj::new(cx, item.node, &item.path, item.node.pos)?;
    obj.deny_unknown(cx, WAIVER_FIELDS);
    let code = obj
        .required_str(cx, "code")
        .and_then(|text| report(cx, &text, check_code(&text.value)));
    let object_text = obj.required_str(cx, "object");
    let object = object_text
        .as_ref()
        .and_then(|text| report(cx, text, check_object(&text.value)));
    let reason = required_text(cx, &obj, "reason", MAX_REASON_CHARS, true);
    let author = required_text(cx, &obj, "author", MAX_AUTHOR_CHARS, false);
    let expires = obj
        .required_str(cx, "expires")
        .and_then(|text| report(cx, &text, parse_expiry(&text.value)));
    let (code, object) = (code?, object?);
    if let Some(text) = &object_text {
        let key = (code, object.clone());
        if let Some(first) = seen.get(&key) {
            cx.error(
                text.pos,
                &text.path,
                format!(
                    "a waiver of {code} for {:?} is already given at line {}; give one per code and object",
                    truncate(&object, 64),
                    first.line
                ),
            );
            return None;
        }
        seen.insert(key, text.pos);
    }
    Some(Waiver {
        code,
        object,
        reason: reason?,
        author: author?,
        expires: expires?,
        source: WaiverSource::Policy,
    })
}

/// Reports a check's error at the text's position.
fn report<T>(cx: &mut Cx<'_>, text: &Text, result: Result<T, String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            cx.error(text.pos, &text.path, message);
            None
        }
    }
}

fn required_text(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    key: &str,
    max: usize,
    multiline: bool,
) -> Option<String> {
    let text = obj.required_str(cx, key)?;
    report(cx, &text, check_text(&text.value, max, multiline))
}

fn optional_text(cx: &mut Cx<'_>, obj: &Obj<'_>, key: &str, max: usize) -> Option<String> {
    let text = obj.str(cx, key)?;
    report(cx, &text, check_text(&text.value, max, true))
}

/// Every scope name of a policy, for checks against the catalog (`seam lint --policy`
/// may warn about a team or domain the catalog does not know).
pub fn scope_names(policy: &Policy) -> BTreeSet<(&'static str, &str)> {
    let mut out = BTreeSet::new();
    for principle in &policy.principles {
        let scope = &principle.scope;
        for (kind, list) in [
            ("domain", &scope.domains),
            ("team", &scope.teams),
            ("system", &scope.systems),
            ("lifecycle", &scope.lifecycles),
        ] {
            for name in list {
                out.insert((kind, name.as_str()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
