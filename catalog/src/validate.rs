//! Field rules shared by every way a service enters the catalog.

use serde::{Deserialize, Serialize};

/// Longest accepted entity name, as in Backstage's `metadata.name`.
pub const NAME_MAX_LEN: usize = 63;
/// Longest accepted version string.
pub const VERSION_MAX_LEN: usize = 128;

/// One problem with one field: which field, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field, for example `version`.
    pub field: String,
    /// What was wrong and what was expected, lowercase, no trailing period.
    pub message: String,
}

/// Every field error found in one input, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issues(Vec<FieldError>);

impl Issues {
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

impl std::fmt::Display for Issues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

fn required<'a>(issues: &mut Issues, field: &str, value: Option<&'a str>) -> Option<&'a str> {
    match value.map(str::trim) {
        None | Some("") => {
            issues.push(field, "is required");
            None
        }
        Some(v) => Some(v),
    }
}

/// Returns whether `s` is a valid entity name: 1-63 ASCII letters or digits, in groups
/// separated by single `-`, `_` or `.` (the Backstage rule, so descriptors map unchanged).
pub fn is_entity_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > NAME_MAX_LEN {
        return false;
    }
    let is_sep = |b: u8| matches!(b, b'-' | b'_' | b'.');
    let first_last_ok =
        bytes[0].is_ascii_alphanumeric() && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    let all_allowed = bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || is_sep(b));
    let no_double_sep = bytes.windows(2).all(|w| !(is_sep(w[0]) && is_sep(w[1])));
    first_last_ok && all_allowed && no_double_sep
}

pub(crate) fn entity_name(issues: &mut Issues, field: &str, value: Option<&str>) -> Option<String> {
    let v = required(issues, field, value)?;
    if is_entity_name(v) {
        Some(v.to_owned())
    } else {
        issues.push(
            field,
            format!(
                "{:?} is not a valid name: use 1-{NAME_MAX_LEN} letters or digits, separated by single '-', '_' or '.'",
                truncate(v, NAME_MAX_LEN + 8)
            ),
        );
        None
    }
}

pub(crate) fn version(
    issues: &mut Issues,
    field: &str,
    value: Option<&str>,
) -> Option<semver::Version> {
    let v = required(issues, field, value)?;
    if v.len() > VERSION_MAX_LEN {
        issues.push(
            field,
            format!(
                "is {} bytes long; at most {VERSION_MAX_LEN} are allowed",
                v.len()
            ),
        );
        return None;
    }
    match semver::Version::parse(v) {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            let hint = lenient_version(v)
                .map(|fixed| format!("; did you mean \"{fixed}\"?"))
                .unwrap_or_default();
            issues.push(
                field,
                format!("{v:?} is not a semantic version (expected MAJOR.MINOR.PATCH){hint}"),
            );
            None
        }
    }
}

/// Normalises common non-semver spellings (`v1.2`, `1`, `V2.0.1`) to a semantic version,
/// for hints; returns `None` when there is no obvious reading.
pub fn lenient_version(raw: &str) -> Option<semver::Version> {
    let s = raw.trim().trim_start_matches(['v', 'V']);
    let (core, rest) = match s.find(['-', '+']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let mut parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let normalised: Vec<String> = parts
        .iter()
        .map(|p| p.trim_start_matches('0').to_string())
        .map(|p| if p.is_empty() { "0".to_string() } else { p })
        .collect();
    semver::Version::parse(&format!("{}{rest}", normalised.join("."))).ok()
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
    fn entity_names() {
        for ok in ["a", "checkout", "team-a", "x.y_z-1", &"a".repeat(63)] {
            assert!(is_entity_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "a b", "ä", &"a".repeat(64), "a/b"] {
            assert!(!is_entity_name(bad), "{bad}");
        }
    }

    #[test]
    fn lenient_versions() {
        let check = |raw: &str, expected: Option<&str>| {
            assert_eq!(
                lenient_version(raw).map(|v| v.to_string()).as_deref(),
                expected,
                "{raw}"
            );
        };
        check("v1.2", Some("1.2.0"));
        check("1", Some("1.0.0"));
        check("V2.0.1", Some("2.0.1"));
        check("01.02.03", Some("1.2.3"));
        check("v1.2-beta", Some("1.2.0-beta"));
        check("latest", None);
        check("1.2.3.4", None);
    }
}
