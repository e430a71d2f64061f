//! The stored form of catalog entries, apart from the model: a manifest is stored as
//! `{"format": N, "manifest": {...}}`, read back through the format it was written in,
//! and compared with a new one as a model value, never as text. Adding an optional field
//! to the model therefore neither breaks reading old revisions nor makes re-applying
//! them a change.

use seam_catalog::manifest::{
    ApiEntity, DomainEntity, ResourceEntity, ServiceManifest, SystemEntity, TeamEntity, UserEntity,
};
use serde::de::DeserializeOwned;

/// The format new manifests are written in.
pub const MANIFEST_FORMAT: u64 = 1;

/// Why a stored entry does not read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("stored format {found} is newer than this Seam reads (at most {MANIFEST_FORMAT})")]
    UnknownFormat { found: u64 },
    #[error("unknown {column} {found:?}")]
    Unknown { column: &'static str, found: String },
}

/// Encodes a manifest in the current stored format.
pub fn encode_manifest(manifest: &ServiceManifest) -> Result<String, serde_json::Error> {
    serde_json::to_string(&serde_json::json!({
        "format": MANIFEST_FORMAT,
        "manifest": manifest,
    }))
}

/// Reads a stored manifest in any format Seam has written: format 1 is the envelope;
/// format 0 (before formats were recorded) is the model's own JSON.
pub fn decode_manifest(text: &str) -> Result<ServiceManifest, DecodeError> {
    let mut value: serde_json::Value = serde_json::from_str(text)?;
    let format = value.get("format").and_then(serde_json::Value::as_u64);
    match format {
        None => Ok(serde_json::from_value(value)?),
        Some(MANIFEST_FORMAT) => Ok(serde_json::from_value(value["manifest"].take())?),
        Some(found) => Err(DecodeError::UnknownFormat { found }),
    }
}

/// Whether a stored manifest means the same as `manifest` (one that does not read is
/// never the same: the new one replaces it).
pub fn same_manifest(stored: &str, manifest: &ServiceManifest) -> bool {
    decode_manifest(stored).is_ok_and(|old| old == *manifest)
}

/// Whether two stored specs of an entity of `kind` mean the same.
pub fn same_entity(kind: &str, stored: &str, new: &str) -> bool {
    fn same<T: DeserializeOwned + PartialEq>(a: &str, b: &str) -> bool {
        match (serde_json::from_str::<T>(a), serde_json::from_str::<T>(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
    match kind {
        "api" => same::<ApiEntity>(stored, new),
        "system" => same::<SystemEntity>(stored, new),
        "domain" => same::<DomainEntity>(stored, new),
        "team" => same::<TeamEntity>(stored, new),
        "resource" => same::<ResourceEntity>(stored, new),
        "user" => same::<UserEntity>(stored, new),
        _ => stored == new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_format_and_compares_by_meaning() {
        let manifest = ServiceManifest::minimal("orders", "team-a", Some("1.0.0".into()));
        let current = encode_manifest(&manifest).unwrap();
        assert!(current.starts_with(r#"{"format":1,"#), "{current}");
        assert_eq!(decode_manifest(&current).unwrap(), manifest);
        // Format 0, written by a model that had no `relations` field yet, with its keys
        // in another order: the same manifest.
        let legacy = r#"{"source":"seam","name":"orders","version":"1.0.0","owner":"team-a",
            "domain":null,"system":null,"lifecycle":"unspecified","kind":"service",
            "description":null,"links":[],"instances":[],"provides":[],"consumes":[],
            "datastores":[],"libraries":[]}"#;
        assert_eq!(decode_manifest(legacy).unwrap(), manifest);
        assert!(same_manifest(legacy, &manifest));
        let mut changed = manifest.clone();
        changed.version = Some("1.0.1".into());
        assert!(!same_manifest(legacy, &changed));
        assert!(matches!(
            decode_manifest(r#"{"format":9,"manifest":{}}"#),
            Err(DecodeError::UnknownFormat { found: 9 })
        ));
        assert!(!same_manifest("not json", &manifest));
    }
}
