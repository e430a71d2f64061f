//! The JSON Schema of Seam's own manifest format, for editors and CI linters.
//!
//! Field names and required lists come from the parser's own constants, so the schema
//! cannot name a field the parser refuses; value rules (patterns, enums) are written here
//! and tested against the parser in `tests`.

use serde_json::{json, Value};

use super::seam::{
    ACCESSES, API_VERSION, CONSUMES_FIELDS, DATASTORE_FIELDS, DATASTORE_REQUIRED, INSTANCE_FIELDS,
    INSTANCE_REQUIRED, KIND, LIBRARY_FIELDS, LIBRARY_REQUIRED, LINK_FIELDS, LINK_REQUIRED,
    METADATA_FIELDS, METADATA_REQUIRED, MODES, PROTOCOLS, PROVIDES_FIELDS, PROVIDES_REQUIRED,
    SPEC_FIELDS, SPEC_REQUIRED, TOP_FIELDS, TOP_REQUIRED,
};
use crate::validate::NAME_MAX_LEN;

/// The entity-name rule of [`crate::validate::is_entity_name`] as a regular expression.
pub(crate) const NAME_PATTERN: &str = "^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$";
/// Semantic versions as the `semver` crate accepts them: semver.org's grammar (no leading
/// `v`, no leading zeros in numeric identifiers).
pub(crate) const VERSION_PATTERN: &str = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$";
/// Absolute http and https URLs.
pub(crate) const URL_PATTERN: &str = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#:][^\s]*$";

/// JSON Schema (draft 2020-12) of Seam's own manifest format (`apiVersion: seam.dev/v1`).
pub fn json_schema() -> Value {
    let name = json!({"$ref": "#/$defs/name"});
    let version = json!({"$ref": "#/$defs/version"});
    let url = json!({"$ref": "#/$defs/url"});
    let text = json!({"type": "string"});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://seam.dev/schemas/manifest/v1.json",
        "title": "Seam service manifest",
        "description": "A service as its team declares it: who owns it, where it runs, what it provides and consumes.",
        "type": "object",
        "additionalProperties": false,
        "required": TOP_REQUIRED,
        "properties": object(TOP_FIELDS, |field| match field {
            "apiVersion" => json!({"const": API_VERSION}),
            "kind" => json!({"const": KIND}),
            "metadata" => strict(METADATA_FIELDS, METADATA_REQUIRED, |field| match field {
                "name" => name.clone(),
                "description" => text.clone(),
                "links" => list(strict(LINK_FIELDS, LINK_REQUIRED, |field| match field {
                    "url" => url.clone(),
                    _ => text.clone(),
                })),
                _ => unreachable_field(field),
            }),
            "spec" => strict(SPEC_FIELDS, SPEC_REQUIRED, |field| match field {
                "version" => version.clone(),
                "owner" | "domain" | "system" => name.clone(),
                "lifecycle" => json!({
                    "$ref": "#/$defs/name",
                    "description": "experimental, production or deprecated; other words are accepted with a warning",
                    "examples": ["experimental", "production", "deprecated"],
                }),
                "instances" => list(strict(INSTANCE_FIELDS, INSTANCE_REQUIRED, |_| url.clone())),
                "provides" => unique_names(strict(PROVIDES_FIELDS, PROVIDES_REQUIRED, |field| match field {
                    "name" => name.clone(),
                    "version" => version.clone(),
                    _ => json!({"enum": PROTOCOLS, "default": "http"}),
                })),
                "consumes" => list(json!({
                    "type": "object",
                    "additionalProperties": false,
                    "anyOf": [{"required": ["service"]}, {"required": ["api"]}],
                    "properties": object(CONSUMES_FIELDS, |field| match field {
                        "service" | "api" => name.clone(),
                        "version" => json!({
                            "type": "string",
                            "description": "a semver range, as Cargo writes them: ^2.1, >=1.0, <3",
                        }),
                        "mode" => json!({
                            "enum": MODES,
                            "description": "default: async when protocol is event, else sync",
                        }),
                        _ => json!({"enum": PROTOCOLS, "default": "http"}),
                    }),
                })),
                "datastores" => unique_names(strict(DATASTORE_FIELDS, DATASTORE_REQUIRED, |field| match field {
                    "access" => json!({"enum": ACCESSES, "default": "owned"}),
                    _ => name.clone(),
                })),
                "libraries" => unique_names(strict(LIBRARY_FIELDS, LIBRARY_REQUIRED, |field| match field {
                    "name" => name.clone(),
                    _ => version.clone(),
                })),
                _ => unreachable_field(field),
            }),
            _ => unreachable_field(field),
        }),
        "$defs": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": NAME_MAX_LEN,
                "pattern": NAME_PATTERN,
                "description": "1-63 letters or digits, separated by single '-', '_' or '.'",
            },
            "version": {
                "type": "string",
                "pattern": VERSION_PATTERN,
                "description": "a semantic version, MAJOR.MINOR.PATCH",
            },
            "url": {
                "type": "string",
                "pattern": URL_PATTERN,
                "description": "an absolute http or https URL",
            },
        },
    })
}

/// `properties` for `fields`, each described by `describe`.
fn object(fields: &[&str], mut describe: impl FnMut(&str) -> Value) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|field| ((*field).to_owned(), describe(field)))
            .collect(),
    )
}

/// An object with exactly `fields`, of which `required` must be present.
fn strict(fields: &[&str], required: &[&str], describe: impl FnMut(&str) -> Value) -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": required,
        "properties": object(fields, describe),
    })
}

fn list(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// A list whose items have names; JSON Schema cannot say the names are unique, so the
/// description does.
fn unique_names(items: Value) -> Value {
    json!({
        "type": "array",
        "items": items,
        "description": "names must be unique within the list",
    })
}

/// Every field has a description above; a new field without one shows up as `{}` and
/// fails the schema tests rather than panicking.
fn unreachable_field(_field: &str) -> Value {
    json!({})
}
