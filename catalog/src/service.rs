use serde::{Deserialize, Serialize};

use crate::validate::{self, Issues};

/// Fields of a service registration as they arrive from outside, not yet validated.
///
/// Every field is optional so that a missing field is reported as a field error
/// ("name: is required") rather than as a parse failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDraft {
    pub name: Option<String>,
    pub version: Option<String>,
    pub owner: Option<String>,
}

/// A service registration that passed validation.
///
/// Only [`ServiceDraft::validate`] builds one, so holding a `NewService` means its name,
/// version and owner follow the catalog's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    name: String,
    version: semver::Version,
    owner: String,
}

impl NewService {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &semver::Version {
        &self.version
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl ServiceDraft {
    /// Checks every field and returns the registration, or every problem found.
    ///
    /// All fields are checked even after the first failure, so a form can show every
    /// error at once.
    pub fn validate(&self) -> Result<NewService, Issues> {
        let mut issues = Issues::default();
        let name = validate::entity_name(&mut issues, "name", self.name.as_deref());
        let version = validate::version(&mut issues, "version", self.version.as_deref());
        let owner = validate::entity_name(&mut issues, "owner", self.owner.as_deref());
        match (name, version, owner) {
            (Some(name), Some(version), Some(owner)) if issues.is_empty() => Ok(NewService {
                name,
                version,
                owner,
            }),
            _ => {
                debug_assert!(!issues.is_empty());
                Err(issues)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, version: &str, owner: &str) -> ServiceDraft {
        ServiceDraft {
            name: Some(name.into()),
            version: Some(version.into()),
            owner: Some(owner.into()),
        }
    }

    fn check(input: ServiceDraft, expected: &[(&str, &str)]) {
        let actual: Vec<(String, String)> = match input.validate() {
            Ok(_) => Vec::new(),
            Err(issues) => issues
                .into_vec()
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect(),
        };
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, m)| (f.to_string(), m.to_string()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn accepts_a_valid_registration() {
        let ok = draft("checkout", "1.4.0", "team-payments")
            .validate()
            .unwrap();
        assert_eq!(ok.name(), "checkout");
        assert_eq!(ok.version(), &semver::Version::new(1, 4, 0));
        assert_eq!(ok.owner(), "team-payments");
    }

    #[test]
    fn reports_every_missing_field() {
        check(
            ServiceDraft::default(),
            &[
                ("name", "is required"),
                ("version", "is required"),
                ("owner", "is required"),
            ],
        );
    }

    #[test]
    fn reports_bad_fields_together() {
        check(
            draft("Bad Name!", "v1.2", "x"),
            &[
                (
                    "name",
                    "\"Bad Name!\" is not a valid name: use 1-63 letters or digits, separated by single '-', '_' or '.'",
                ),
                (
                    "version",
                    "\"v1.2\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.2.0\"?",
                ),
            ],
        );
    }

    #[test]
    fn trims_surrounding_whitespace() {
        let ok = draft("  checkout ", " 2.0.0-rc.1 ", "payments")
            .validate()
            .unwrap();
        assert_eq!(ok.name(), "checkout");
        assert_eq!(ok.version().to_string(), "2.0.0-rc.1");
    }

    #[test]
    fn rejects_unknown_fields_when_parsed() {
        let err = serde_json::from_str::<ServiceDraft>(r#"{"name":"a","colour":"red"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }
}
