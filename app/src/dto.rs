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
    /// When the service was registered, UTC, `YYYY-MM-DD HH:MM`.
    pub registered_at: String,
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
            version: record.version,
            owner: record.owner,
            registered_at: record.registered_at.format("%Y-%m-%d %H:%M").to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_matches_name_or_owner() {
        let row = ServiceRow {
            name: "Checkout".into(),
            version: "1.0.0".into(),
            owner: "team-payments".into(),
            registered_at: String::new(),
        };
        assert!(row.matches(""));
        assert!(row.matches("check"));
        assert!(row.matches("payments"));
        assert!(!row.matches("basket"));
    }
}
