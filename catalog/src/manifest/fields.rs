//! Reading a document's tree field by field, reporting every problem with its position
//! and field path.

use super::model::{Diagnostic, Severity};
use super::tree::{join_path, truncate, Entry, Node, Pos, ScalarKind, Value};
use crate::validate::{self, Issues};

/// Where findings about one document go.
pub struct Cx<'a> {
    pub file: &'a str,
    pub document: usize,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    pub fn error(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, pos, path, message.into());
    }

    pub fn warning(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, pos, path, message.into());
    }

    fn push(&mut self, severity: Severity, pos: Pos, path: &str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.to_owned(),
            document: self.document,
            line: Some(pos.line),
            column: Some(pos.column),
            path: path.to_owned(),
            message,
        });
    }

    /// Reports the field errors of `crate::validate`, all at one place.
    fn issues(&mut self, pos: Pos, issues: Issues) {
        for issue in issues.into_vec() {
            self.error(pos, &issue.field, issue.message);
        }
    }
}

/// A string value read from the document, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub pos: Pos,
    pub path: String,
}

/// A list item: its node and path.
pub struct Item<'n> {
    pub node: &'n Node,
    pub path: String,
}

/// A mapping being read.
pub struct Obj<'n> {
    pub path: String,
    /// Where to report a missing field: the key that introduced the mapping, or the
    /// mapping itself for list items and documents.
    pub at: Pos,
    entries: &'n [Entry],
}

impl<'n> Obj<'n> {
    /// Reads `node` as a mapping, or reports what was found instead.
    pub fn new(cx: &mut Cx<'_>, node: &'n Node, path: &str, at: Pos) -> Option<Self> {
        match &node.value {
            Value::Map(entries) => Some(Obj {
                path: path.to_owned(),
                at,
                entries,
            }),
            _ => {
                cx.error(
                    node.pos,
                    path,
                    format!("found {}, expected a mapping", node.describe()),
                );
                None
            }
        }
    }

    /// Reports every key that is not in `allowed`, suggesting the closest allowed one.
    pub fn deny_unknown(&self, cx: &mut Cx<'_>, allowed: &[&str]) {
        for entry in self.entries {
            if allowed.contains(&entry.key.as_str()) {
                continue;
            }
            let hint = closest(&entry.key, allowed)
                .map(|near| format!(" (did you mean {near:?}?)"))
                .unwrap_or_default();
            cx.error(
                entry.key_pos,
                &join_path(&self.path, &entry.key),
                format!(
                    "unknown field {:?}{hint}, expected one of: {}",
                    truncate(&entry.key, 64),
                    allowed.join(", ")
                ),
            );
        }
    }

    /// Returns the first entry for `key`, unless its value is null (null means absent).
    pub fn get(&self, key: &str) -> Option<&'n Entry> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .filter(|e| !e.value.is_null())
    }

    pub fn path_of(&self, key: &str) -> String {
        join_path(&self.path, key)
    }

    pub fn missing(&self, cx: &mut Cx<'_>, key: &str) {
        cx.error(self.at, &self.path_of(key), "is required");
    }

    /// Reads an optional string; numbers are taken as written (`version: 1.4` is the
    /// text `1.4`, to be judged as a version).
    pub fn str(&self, cx: &mut Cx<'_>, key: &str) -> Option<Text> {
        let entry = self.get(key)?;
        as_text(cx, &entry.value, &self.path_of(key))
    }

    pub fn required_str(&self, cx: &mut Cx<'_>, key: &str) -> Option<Text> {
        if self.get(key).is_none() {
            self.missing(cx, key);
            return None;
        }
        self.str(cx, key)
    }

    /// Reads an optional nested mapping.
    pub fn obj(&self, cx: &mut Cx<'_>, key: &str) -> Option<Obj<'n>> {
        let entry = self.get(key)?;
        Obj::new(cx, &entry.value, &self.path_of(key), entry.key_pos)
    }

    pub fn required_obj(&self, cx: &mut Cx<'_>, key: &str) -> Option<Obj<'n>> {
        if self.get(key).is_none() {
            self.missing(cx, key);
            return None;
        }
        self.obj(cx, key)
    }

    /// Reads an optional list; absent is empty.
    pub fn list(&self, cx: &mut Cx<'_>, key: &str) -> Vec<Item<'n>> {
        let Some(entry) = self.get(key) else {
            return Vec::new();
        };
        let path = self.path_of(key);
        match &entry.value.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, node)| Item {
                    node,
                    path: format!("{path}[{i}]"),
                })
                .collect(),
            _ => {
                cx.error(
                    entry.value.pos,
                    &path,
                    format!("found {}, expected a list", entry.value.describe()),
                );
                Vec::new()
            }
        }
    }

    /// Reads an optional list of strings; null items are skipped.
    pub fn str_list(&self, cx: &mut Cx<'_>, key: &str) -> Vec<Text> {
        self.list(cx, key)
            .into_iter()
            .filter(|item| !item.node.is_null())
            .filter_map(|item| as_text(cx, item.node, &item.path))
            .collect()
    }
}

/// Reads a scalar as text, or reports what was found instead.
pub fn as_text(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Text> {
    match &node.value {
        Value::Scalar(s) if matches!(s.kind, ScalarKind::String | ScalarKind::Number) => {
            Some(Text {
                value: s.text.clone(),
                pos: node.pos,
                path: path.to_owned(),
            })
        }
        _ => {
            cx.error(
                node.pos,
                path,
                format!("found {}, expected a string", node.describe()),
            );
            None
        }
    }
}

/// Checks the entity-name rule.
pub fn name(cx: &mut Cx<'_>, text: &Text) -> Option<String> {
    let mut issues = Issues::default();
    let name = validate::entity_name(&mut issues, &text.path, Some(&text.value));
    cx.issues(text.pos, issues);
    name
}

/// Checks that `text` is a semantic version, with a hint for near misses.
pub(crate) fn version(cx: &mut Cx<'_>, text: &Text) -> Option<semver::Version> {
    let mut issues = Issues::default();
    let version = validate::version(&mut issues, &text.path, Some(&text.value));
    cx.issues(text.pos, issues);
    version
}

/// Checks that `text` is a semver range (`^2.1`, `>=1.0, <3`); returns it trimmed.
pub(crate) fn version_req(cx: &mut Cx<'_>, text: &Text) -> Option<String> {
    let raw = text.value.trim();
    match semver::VersionReq::parse(raw) {
        Ok(_) => Some(raw.to_owned()),
        Err(err) => {
            cx.error(
                text.pos,
                &text.path,
                format!(
                    "{:?} is not a semver range (expected for example \"^2.1\" or \">=1.0, <3\"): {err}",
                    truncate(raw, 64)
                ),
            );
            None
        }
    }
}

/// Checks that `text` is an absolute http or https URL with a host.
pub(crate) fn http_url(cx: &mut Cx<'_>, text: &Text) -> Option<String> {
    let raw = text.value.trim();
    if is_http_url(raw) {
        Some(raw.to_owned())
    } else {
        cx.error(
            text.pos,
            &text.path,
            format!(
                "found {:?}, expected an http or https URL such as \"http://10.0.0.5:8080\"",
                truncate(raw, 80)
            ),
        );
        None
    }
}

pub(crate) fn is_http_url(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !host.starts_with(':') && !raw.chars().any(char::is_whitespace)
}

/// Checks that `text` is one of `options`, exactly as the schema's enums say; returns
/// its index.
pub fn one_of(cx: &mut Cx<'_>, text: &Text, options: &[&str]) -> Option<usize> {
    let raw = text.value.trim();
    let found = options.iter().position(|o| *o == raw);
    if found.is_none() {
        cx.error(
            text.pos,
            &text.path,
            format!(
                "found {:?}, expected one of: {}",
                truncate(raw, 64),
                options.join(", ")
            ),
        );
    }
    found
}

/// The allowed word closest to `word`, if it is a likely typo of it.
pub fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    if word.chars().count() > 64 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    allowed
        .iter()
        .map(|candidate| {
            (
                edit_distance(&lower, &candidate.to_ascii_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, candidate)| *distance <= 2.min(candidate.len() / 3 + 1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_field_names() {
        let allowed = ["owner", "version", "lifecycle", "instances"];
        assert_eq!(closest("ownr", &allowed), Some("owner"));
        assert_eq!(closest("Version", &allowed), Some("version"));
        assert_eq!(closest("lifecylce", &allowed), Some("lifecycle"));
        assert_eq!(closest("colour", &allowed), None);
    }

    #[test]
    fn http_urls() {
        for ok in [
            "http://10.0.0.5:8080",
            "https://x.example/metrics",
            "HTTP://a",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "10.0.0.5:8080",
            "ftp://x",
            "http://",
            "http://:80",
            "http://a b",
            "",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
