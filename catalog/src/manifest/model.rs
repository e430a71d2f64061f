//! The catalog as Seam understands it, whatever format it was written in: Seam's own
//! manifests and Backstage descriptors both end up as these types.
//!
//! Every value here has been validated: names follow [`crate::is_entity_name`], versions
//! and ranges are semver, references are normalised to plain names.

use serde::{Deserialize, Serialize};

/// Where a catalog entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// Seam's own manifest format (`apiVersion: seam.dev/v1`).
    Seam,
    /// A Backstage descriptor (`apiVersion: backstage.io/v1alpha1` or `v1beta1`).
    Backstage,
}

/// A service (Seam `Service`, Backstage `Component`), as declared by its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceManifest {
    pub name: String,
    /// The running version; Backstage descriptors carry it in the `seam.dev/version`
    /// annotation and may lack it.
    pub version: Option<String>,
    /// The owning team (group name).
    pub owner: String,
    /// Bounded context.
    pub domain: Option<String>,
    pub system: Option<String>,
    /// `experimental`, `production`, `deprecated`, or any other word the team uses.
    pub lifecycle: String,
    /// Backstage component type (`service`, `website`, `library`); `service` for Seam.
    pub kind: String,
    pub description: Option<String>,
    pub links: Vec<Link>,
    pub instances: Vec<Instance>,
    pub provides: Vec<ProvidedApi>,
    pub consumes: Vec<Dependency>,
    pub datastores: Vec<Datastore>,
    pub libraries: Vec<Library>,
    pub source: SourceFormat,
    /// What a Backstage component says of other entities, kept as written: the catalog
    /// resolves it over everything it knows ([`crate::resolve`]), whichever batch
    /// brought which entity. Empty for Seam manifests, which declare directly.
    #[serde(default, skip_serializing_if = "Relations::is_empty")]
    pub relations: Relations,
}

/// A Backstage component's references to APIs, components and resources, as declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides_apis: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumes_apis: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependsOnRef>,
}

impl Relations {
    pub fn is_empty(&self) -> bool {
        self.provides_apis.is_empty() && self.consumes_apis.is_empty() && self.depends_on.is_empty()
    }
}

/// One `dependsOn` entry of a Backstage component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependsOnRef {
    /// `component:` or `resource:` as written; `None` when the reference names no kind
    /// (then it is whichever of the two the catalog has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RefTargetKind>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefTargetKind {
    Component,
    Resource,
}

impl ServiceManifest {
    /// The manifest of a service known only by its name, owner and perhaps version (one
    /// registered through the quick form or `POST /api/v1/services`).
    pub fn minimal(name: &str, owner: &str, version: Option<String>) -> Self {
        ServiceManifest {
            name: name.to_owned(),
            version,
            owner: owner.to_owned(),
            domain: None,
            system: None,
            lifecycle: "unspecified".to_owned(),
            kind: "service".to_owned(),
            description: None,
            links: Vec::new(),
            instances: Vec::new(),
            provides: Vec::new(),
            consumes: Vec::new(),
            datastores: Vec::new(),
            libraries: Vec::new(),
            source: SourceFormat::Seam,
            relations: Relations::default(),
        }
    }
}

impl ServiceManifest {
    /// The fields that differ between two manifests of one service, by their names in
    /// Seam's manifest format.
    pub fn changed_fields(&self, other: &ServiceManifest) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! compare {
            ($($field:ident => $name:expr),* $(,)?) => {
                $( if self.$field != other.$field { out.push($name); } )*
            };
        }
        compare!(
            version => "version",
            owner => "owner",
            domain => "domain",
            system => "system",
            lifecycle => "lifecycle",
            kind => "type",
            description => "description",
            links => "links",
            instances => "instances",
            provides => "provides",
            consumes => "consumes",
            datastores => "datastores",
            libraries => "libraries",
            relations => "relations",
            source => "format",
        );
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
}

/// One running instance of a service and where to observe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub base_url: String,
    /// Defaults to `{base_url}/metrics`.
    pub metrics_url: String,
    /// Defaults to `{base_url}/healthz`.
    pub health_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Http,
    Grpc,
    Event,
    Graphql,
}

/// Synchronous (request/response) or asynchronous (events, queues) communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Sync,
    Async,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvidedApi {
    pub name: String,
    pub version: Option<String>,
    pub protocol: Protocol,
}

/// A dependency a service declares: on another service, on an API, or on both (an API
/// of that service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub service: Option<String>,
    pub api: Option<String>,
    /// A semver range (`^2.1`, `>=1.0, <3`), as written.
    pub version_req: Option<String>,
    pub mode: Mode,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    Owned,
    Shared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Datastore {
    pub name: String,
    /// `postgresql`, `redis`, `database`, ...
    pub kind: String,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    pub name: String,
    pub version: String,
}

/// An API as its own entity (Backstage `API`); Seam manifests declare APIs inside the
/// providing service instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiEntity {
    pub name: String,
    /// Backstage API type: `openapi`, `asyncapi`, `graphql`, `grpc`.
    pub api_type: String,
    pub protocol: Protocol,
    pub owner: String,
    pub lifecycle: String,
    pub system: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemEntity {
    pub name: String,
    pub owner: String,
    pub domain: Option<String>,
    pub description: Option<String>,
}

/// A domain: a bounded context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainEntity {
    pub name: String,
    pub owner: String,
    pub parent: Option<String>,
    pub description: Option<String>,
}

/// A team (Backstage `Group`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamEntity {
    pub name: String,
    pub group_type: String,
    pub parent: Option<String>,
    pub children: Vec<String>,
    pub members: Vec<String>,
    pub description: Option<String>,
}

/// A person (Backstage `User`): only the groups they are a member of are kept; the
/// catalog adds them to those groups' members, whichever batch declared them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntity {
    pub name: String,
    pub member_of: Vec<String>,
}

/// A datastore as its own entity (Backstage `Resource`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceEntity {
    pub name: String,
    pub resource_type: String,
    pub owner: String,
    pub system: Option<String>,
}

/// Everything one batch of documents declared, after validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub services: Vec<ServiceManifest>,
    pub apis: Vec<ApiEntity>,
    pub systems: Vec<SystemEntity>,
    pub domains: Vec<DomainEntity>,
    pub teams: Vec<TeamEntity>,
    pub resources: Vec<ResourceEntity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserEntity>,
    /// For each service, the document that declared it as normalised YAML in the
    /// author's own field names (comments and layout dropped): what revision diffs show.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub documents: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about the input: where it is, what was found and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the caller named it (`-` or `request body` for unnamed input).
    pub file: String,
    /// 1-based index of the document in the file; 0 when the finding is about the file.
    pub document: usize,
    /// 1-based line and column in the file, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path inside the document, as `spec.consumes[2].version`; empty for the
    /// document as a whole.
    pub path: String,
    /// Lowercase, no trailing period; says what was found and what was expected.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    /// Formats as `file:line:column: error: document 2, spec.owner: message`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {severity}: ")?;
        if self.document > 0 {
            write!(f, "document {}", self.document)?;
            if !self.path.is_empty() {
                write!(f, ", ")?;
            }
        }
        if !self.path.is_empty() {
            write!(f, "{}", self.path)?;
        }
        if self.document > 0 || !self.path.is_empty() {
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)
    }
}
