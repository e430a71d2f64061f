//! Seam's own manifest format, `apiVersion: seam.dev/v1`, `kind: Service`.
//!
//! Strict: an unknown field anywhere is an error that lists the expected ones, so a typo
//! never silently drops information.

use std::collections::HashMap;

use super::batch::{Entity, Read, Ref, RefKind};
use super::fields::{self, Cx, Item, Obj, Text};
use super::model::{
    Access, Datastore, Dependency, Instance, Library, Link, Mode, Protocol, ProvidedApi,
    ServiceManifest, SourceFormat,
};

pub(crate) const API_VERSION: &str = "seam.dev/v1";
pub(crate) const KIND: &str = "Service";

// Field names, shared with the JSON schema (a test keeps them in step).
pub(crate) const TOP_FIELDS: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
pub(crate) const METADATA_FIELDS: &[&str] = &["name", "description", "links"];
pub(crate) const LINK_FIELDS: &[&str] = &["url", "title"];
pub(crate) const SPEC_FIELDS: &[&str] = &[
    "version",
    "owner",
    "domain",
    "system",
    "lifecycle",
    "instances",
    "provides",
    "consumes",
    "datastores",
    "libraries",
];
pub(crate) const INSTANCE_FIELDS: &[&str] = &["baseUrl", "metricsUrl", "healthUrl"];
pub(crate) const PROVIDES_FIELDS: &[&str] = &["name", "version", "protocol"];
pub(crate) const CONSUMES_FIELDS: &[&str] = &["service", "api", "version", "mode", "protocol"];
pub(crate) const DATASTORE_FIELDS: &[&str] = &["name", "kind", "access"];
pub(crate) const LIBRARY_FIELDS: &[&str] = &["name", "version"];

// Required fields, also shared with the schema.
pub(crate) const TOP_REQUIRED: &[&str] = &["apiVersion", "kind", "metadata", "spec"];
pub(crate) const METADATA_REQUIRED: &[&str] = &["name"];
pub(crate) const LINK_REQUIRED: &[&str] = &["url"];
pub(crate) const SPEC_REQUIRED: &[&str] = &["version", "owner", "lifecycle"];
pub(crate) const INSTANCE_REQUIRED: &[&str] = &["baseUrl"];
pub(crate) const PROVIDES_REQUIRED: &[&str] = &["name"];
pub(crate) const DATASTORE_REQUIRED: &[&str] = &["name", "kind"];
pub(crate) const LIBRARY_REQUIRED: &[&str] = &["name", "version"];

pub(crate) const PROTOCOLS: &[&str] = &["http", "grpc", "event", "graphql"];
pub(crate) const MODES: &[&str] = &["sync", "async"];
pub(crate) const ACCESSES: &[&str] = &["owned", "shared"];
/// Lifecycles every team understands; others are accepted with a warning.
pub(crate) const LIFECYCLES: &[&str] = &["experimental", "production", "deprecated"];

const PROTOCOL_VALUES: [Protocol; 4] = [
    Protocol::Http,
    Protocol::Grpc,
    Protocol::Event,
    Protocol::Graphql,
];

/// Reads a Seam document whose `apiVersion` has been checked.
pub(crate) fn read(cx: &mut Cx<'_>, root: &Obj<'_>) -> Option<Read> {
    root.deny_unknown(cx, TOP_FIELDS);
    let kind = root.required_str(cx, "kind");
    if let Some(kind) = &kind {
        if kind.value != KIND {
            cx.error(
                kind.pos,
                &kind.path,
                format!(
                    "found kind {:?}, expected {KIND:?} (the only kind of {API_VERSION})",
                    kind.value
                ),
            );
            return None;
        }
    }
    let metadata = root.required_obj(cx, "metadata");
    let spec = root.required_obj(cx, "spec");
    let metadata = metadata?;
    metadata.deny_unknown(cx, METADATA_FIELDS);
    let name_text = metadata.required_str(cx, "name");
    let name = name_text.as_ref().and_then(|t| fields::name(cx, t));
    let description = metadata.str(cx, "description").map(|t| t.value);
    let links = read_links(cx, &metadata, Some(LINK_FIELDS));
    let spec = spec?;
    spec.deny_unknown(cx, SPEC_FIELDS);

    let mut refs = Vec::new();
    let version = spec
        .required_str(cx, "version")
        .and_then(|t| fields::version(cx, &t));
    let owner = reference(
        cx,
        &spec,
        "owner",
        true,
        RefKind::Owner,
        "is owned by",
        &mut refs,
    );
    let domain = reference(
        cx,
        &spec,
        "domain",
        false,
        RefKind::Domain,
        "is in",
        &mut refs,
    );
    let system = reference(
        cx,
        &spec,
        "system",
        false,
        RefKind::System,
        "is part of",
        &mut refs,
    );
    let lifecycle = lifecycle(cx, &spec, true);
    let instances = spec
        .list(cx, "instances")
        .iter()
        .filter_map(|item| read_instance(cx, item))
        .collect();
    let provides = read_provides(cx, &spec);
    let consumes = spec
        .list(cx, "consumes")
        .iter()
        .filter_map(|item| read_dependency(cx, item, &mut refs))
        .collect();
    let datastores = read_datastores(cx, &spec);
    let libraries = read_libraries(cx, &spec);

    let service = ServiceManifest {
        name: name?,
        version: Some(version?.to_string()),
        owner: owner?,
        domain,
        system,
        lifecycle: lifecycle?,
        kind: "service".to_owned(),
        description,
        links,
        instances,
        provides,
        consumes,
        datastores,
        libraries,
        source: SourceFormat::Seam,
        relations: Default::default(),
    };
    Some(Read {
        name: name_text?,
        entity: Entity::Service(service),
        refs,
    })
}

/// Reads an optional or required reference to a named entity, and records it for the
/// cross-document check.
fn reference(
    cx: &mut Cx<'_>,
    obj: &Obj<'_>,
    key: &str,
    required: bool,
    kind: RefKind,
    relation: &'static str,
    refs: &mut Vec<Ref>,
) -> Option<String> {
    let text = if required {
        obj.required_str(cx, key)
    } else {
        obj.str(cx, key)
    }?;
    let name = fields::name(cx, &text)?;
    refs.push(Ref {
        kind,
        relation,
        target: Text {
            value: name.clone(),
            ..text
        },
    });
    Some(name)
}

/// Reads `spec.lifecycle`: any name-like word, with a warning for unusual ones.
pub(crate) fn lifecycle(cx: &mut Cx<'_>, spec: &Obj<'_>, required: bool) -> Option<String> {
    let text = if required {
        spec.required_str(cx, "lifecycle")
    } else {
        spec.str(cx, "lifecycle")
    }?;
    let word = fields::name(cx, &text)?;
    if !LIFECYCLES.contains(&word.as_str()) {
        cx.warning(
            text.pos,
            &text.path,
            format!(
                "found lifecycle {word:?}, expected one of: {}",
                LIFECYCLES.join(", ")
            ),
        );
    }
    Some(word)
}

/// Reads `metadata.links`; `allowed` is `None` for Backstage, which allows extra keys
/// (`icon`, `type`).
pub(crate) fn read_links(
    cx: &mut Cx<'_>,
    metadata: &Obj<'_>,
    allowed: Option<&[&str]>,
) -> Vec<Link> {
    metadata
        .list(cx, "links")
        .iter()
        .filter_map(|item| {
            let link = Obj::new(cx, item.node, &item.path, item.node.pos)?;
            if let Some(allowed) = allowed {
                link.deny_unknown(cx, allowed);
            }
            let url = link.required_str(cx, "url");
            let title = link.str(cx, "title").map(|t| t.value);
            let url = url?;
            // The dashboard renders links: anything but http(s) (`javascript:`, `data:`)
            // is refused in Seam manifests and dropped from Backstage descriptors, which
            // are accepted unchanged.
            let url = if allowed.is_some() {
                fields::http_url(cx, &url)?
            } else if fields::is_http_url(url.value.trim()) {
                url.value.trim().to_owned()
            } else {
                cx.warning(
                    url.pos,
                    &url.path,
                    format!(
                        "found {:?}, expected an http or https URL; the link is ignored",
                        super::tree::truncate(url.value.trim(), 80)
                    ),
                );
                return None;
            };
            Some(Link { url, title })
        })
        .collect()
}

fn read_instance(cx: &mut Cx<'_>, item: &Item<'_>) -> Option<Instance> {
    let obj = Obj::new(cx, item.node, &item.path, item.node.pos)?;
    obj.deny_unknown(cx, INSTANCE_FIELDS);
    let base_url = obj
        .required_str(cx, "baseUrl")
        .and_then(|t| fields::http_url(cx, &t));
    let metrics_url = obj.str(cx, "metricsUrl").map(|t| fields::http_url(cx, &t));
    let health_url = obj.str(cx, "healthUrl").map(|t| fields::http_url(cx, &t));
    instance(base_url?, metrics_url, health_url)
}

/// Builds an instance, defaulting the metrics and health URLs from the base URL; an
/// optional URL that was given but invalid (`Some(None)`) fails the instance.
pub(crate) fn instance(
    base_url: String,
    metrics_url: Option<Option<String>>,
    health_url: Option<Option<String>>,
) -> Option<Instance> {
    let base = base_url.trim_end_matches('/');
    let metrics_url = match metrics_url {
        Some(url) => url?,
        None => format!("{base}/metrics"),
    };
    let health_url = match health_url {
        Some(url) => url?,
        None => format!("{base}/healthz"),
    };
    Some(Instance {
        base_url,
        metrics_url,
        health_url,
    })
}

fn read_provides(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Vec<ProvidedApi> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for item in spec.list(cx, "provides") {
        let Some(obj) = Obj::new(cx, item.node, &item.path, item.node.pos) else {
            continue;
        };
        obj.deny_unknown(cx, PROVIDES_FIELDS);
        let name = unique_name(cx, &obj, &mut seen);
        let version = obj
            .str(cx, "version")
            .map(|t| fields::version(cx, &t).map(|v| v.to_string()));
        let protocol = obj.str(cx, "protocol").map(|t| protocol(cx, &t));
        let (Some(name), Some(version), Some(protocol)) = (
            name,
            version.map_or(Some(None), |v| v.map(Some)),
            protocol.unwrap_or(Some(Protocol::Http)),
        ) else {
            continue;
        };
        out.push(ProvidedApi {
            name,
            version,
            protocol,
        });
    }
    out
}

fn protocol(cx: &mut Cx<'_>, text: &Text) -> Option<Protocol> {
    fields::one_of(cx, text, PROTOCOLS).map(|i| PROTOCOL_VALUES[i])
}

fn read_dependency(cx: &mut Cx<'_>, item: &Item<'_>, refs: &mut Vec<Ref>) -> Option<Dependency> {
    let obj = Obj::new(cx, item.node, &item.path, item.node.pos)?;
    obj.deny_unknown(cx, CONSUMES_FIELDS);
    if obj.get("service").is_none() && obj.get("api").is_none() {
        cx.error(
            item.node.pos,
            &item.path,
            "names neither a service nor an API, expected at least one of: service, api",
        );
        return None;
    }
    let service_text = obj.str(cx, "service");
    let api_text = obj.str(cx, "api");
    let service = service_text.as_ref().map(|t| fields::name(cx, t));
    let api = api_text.as_ref().map(|t| fields::name(cx, t));
    let version_req = obj.str(cx, "version").map(|t| fields::version_req(cx, &t));
    let protocol = match obj.str(cx, "protocol") {
        Some(text) => protocol(cx, &text)?,
        None => Protocol::Http,
    };
    let mode = match obj.str(cx, "mode") {
        Some(text) => [Mode::Sync, Mode::Async][fields::one_of(cx, &text, MODES)?],
        None if protocol == Protocol::Event => Mode::Async,
        None => Mode::Sync,
    };
    let service = service.map_or(Some(None), |s| s.map(Some))?;
    let api = api.map_or(Some(None), |a| a.map(Some))?;
    let version_req = version_req.map_or(Some(None), |v| v.map(Some))?;
    if let (Some(name), Some(text)) = (&service, &service_text) {
        refs.push(Ref {
            kind: RefKind::Service,
            relation: "consumes",
            target: Text {
                value: name.clone(),
                ..text.clone()
            },
        });
    }
    if let (Some(name), Some(text)) = (&api, &api_text) {
        refs.push(Ref {
            kind: RefKind::Api,
            relation: "consumes",
            target: Text {
                value: name.clone(),
                ..text.clone()
            },
        });
    }
    Some(Dependency {
        service,
        api,
        version_req,
        mode,
        protocol,
    })
}

fn read_datastores(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Vec<Datastore> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for item in spec.list(cx, "datastores") {
        let Some(obj) = Obj::new(cx, item.node, &item.path, item.node.pos) else {
            continue;
        };
        obj.deny_unknown(cx, DATASTORE_FIELDS);
        let name = unique_name(cx, &obj, &mut seen);
        let kind = obj
            .required_str(cx, "kind")
            .and_then(|t| fields::name(cx, &t));
        let access = match obj.str(cx, "access") {
            Some(text) => {
                fields::one_of(cx, &text, ACCESSES).map(|i| [Access::Owned, Access::Shared][i])
            }
            None => Some(Access::Owned),
        };
        if let (Some(name), Some(kind), Some(access)) = (name, kind, access) {
            out.push(Datastore { name, kind, access });
        }
    }
    out
}

fn read_libraries(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Vec<Library> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for item in spec.list(cx, "libraries") {
        let Some(obj) = Obj::new(cx, item.node, &item.path, item.node.pos) else {
            continue;
        };
        obj.deny_unknown(cx, LIBRARY_FIELDS);
        let name = unique_name(cx, &obj, &mut seen);
        let version = obj
            .required_str(cx, "version")
            .and_then(|t| fields::version(cx, &t));
        if let (Some(name), Some(version)) = (name, version) {
            out.push(Library {
                name,
                version: version.to_string(),
            });
        }
    }
    out
}

/// Reads the required `name` of a list item and reports it if an earlier item of the
/// same list has it.
fn unique_name(cx: &mut Cx<'_>, obj: &Obj<'_>, seen: &mut HashMap<String, Text>) -> Option<String> {
    let text = obj.required_str(cx, "name")?;
    let name = fields::name(cx, &text)?;
    if let Some(first) = seen.get(&name) {
        cx.error(
            text.pos,
            &text.path,
            format!(
                "duplicate name {name:?}, already used by {} at line {}; names in a list must be unique",
                first.path, first.pos.line
            ),
        );
        return None;
    }
    seen.insert(
        name.clone(),
        Text {
            value: name.clone(),
            ..text
        },
    );
    Some(name)
}
