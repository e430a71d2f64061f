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
    /// When the service was registered, UTC, `YYYY-MM-DD HH:MM`.
    pub registered_at: String,
    pub updated_at: String,
}

impl ServiceRow {
    /// Returns whether the row matches a lowercase filter text (by name or owner).
    pub fn matches(&self, needle_lowercase: &str) -> bool {
        needle_lowercase.is_empty()
            || self.name.to_lowercase().contains(needle_lowercase)
            || self.owner.to_lowercase().contains(needle_lowercase)
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
            registered_at: record.registered_at.format("%Y-%m-%d %H:%M").to_string(),
            updated_at: record.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        }
    }
}

/// What a registration attempt from the web form led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterOutcome {
    Registered(ServiceRow),
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

/// What checking (and, when asked, applying) a pasted manifest found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ManifestCheck {
    pub diagnostics: Vec<DiagnosticRow>,
    pub services: usize,
    pub entities: usize,
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
    fn filter_matches_name_or_owner() {
        let row = ServiceRow {
            name: "Checkout".into(),
            version: "1.0.0".into(),
            owner: "team-payments".into(),
            domain: String::new(),
            system: String::new(),
            lifecycle: "production".into(),
            kind: "service".into(),
            registered_at: String::new(),
            updated_at: String::new(),
        };
        assert!(row.matches(""));
        assert!(row.matches("check"));
        assert!(row.matches("payments"));
        assert!(!row.matches("basket"));
    }
}
