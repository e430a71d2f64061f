//! Backstage descriptors (`apiVersion: backstage.io/v1alpha1` or `v1beta1`), accepted as
//! they are: keys Seam does not read are allowed, as Backstage allows them.
//!
//! Reading is per document; what depends on other documents (a component's domain comes
//! from its system, a provided API's protocol from the API's type, a datastore's kind
//! from the resource) is resolved for the whole batch in [`super::batch`].

use super::batch::{ComponentRelations, DependsOn, Entity, LocationTarget, Read, Ref, RefKind};
use super::fields::{self, Cx, Obj, Text};
use super::model::{
    ApiEntity, DomainEntity, Protocol, ResourceEntity, ServiceManifest, SourceFormat, SystemEntity,
    TeamEntity,
};
use super::seam;

pub(crate) const API_VERSIONS: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];

/// Kinds Seam maps onto its model.
const MAPPED_KINDS: &[&str] = &[
    "Component",
    "API",
    "System",
    "Domain",
    "Resource",
    "Group",
    "Location",
];

/// Annotation with the running version of a component (semver).
pub const ANNOTATION_VERSION: &str = "seam.dev/version";
/// Annotation with the base URL of the component's one instance.
pub const ANNOTATION_BASE_URL: &str = "seam.dev/base-url";
/// Annotation overriding the instance's metrics URL (default `{base-url}/metrics`).
pub const ANNOTATION_METRICS_URL: &str = "seam.dev/metrics-url";
/// Annotation overriding the instance's health URL (default `{base-url}/healthz`).
pub const ANNOTATION_HEALTH_URL: &str = "seam.dev/health-url";

/// Maps a Backstage API type onto the protocol Seam draws.
pub(crate) fn protocol_of_api_type(api_type: &str) -> Protocol {
    match api_type.to_ascii_lowercase().as_str() {
        "grpc" => Protocol::Grpc,
        "asyncapi" => Protocol::Event,
        "graphql" => Protocol::Graphql,
        _ => Protocol::Http,
    }
}

/// Reads a Backstage document whose `apiVersion` has been checked.
pub(crate) fn read(cx: &mut Cx<'_>, root: &Obj<'_>) -> Option<Read> {
    let kind = root.required_str(cx, "kind")?;
    match kind.value.as_str() {
        "User" => return read_user(cx, root),
        "Template" => return None,
        k if MAPPED_KINDS.contains(&k) => {}
        other => {
            cx.warning(
                kind.pos,
                &kind.path,
                format!(
                    "unsupported kind {:?}, expected one of: {}, User, Template; the document is ignored",
                    super::tree::truncate(other, 64),
                    MAPPED_KINDS.join(", ")
                ),
            );
            return None;
        }
    }
    let metadata = root.required_obj(cx, "metadata");
    let spec = root.required_obj(cx, "spec");
    let metadata = metadata?;
    let name_text = metadata.required_str(cx, "name")?;
    let name = fields::name(cx, &name_text)?;
    let name_text = Text {
        value: name.clone(),
        ..name_text
    };
    if let Some(namespace) = metadata.str(cx, "namespace") {
        warn_namespace(cx, &namespace);
    }
    let description = metadata.str(cx, "description").map(|t| t.value);
    let spec = spec?;
    let mut refs = Vec::new();
    let entity = match kind.value.as_str() {
        "Component" => read_component(cx, &metadata, &spec, name, description, &mut refs)?,
        "API" => {
            let api_type = required_word(cx, &spec, "type");
            let lifecycle = seam::lifecycle(cx, &spec, true);
            let owner = owner(cx, &spec, &mut refs);
            let system = optional_ref(
                cx,
                &spec,
                "system",
                RefKind::System,
                "is part of",
                &mut refs,
            );
            let api_type = api_type?;
            Entity::Api(ApiEntity {
                name,
                protocol: protocol_of_api_type(&api_type),
                api_type,
                owner: owner?,
                lifecycle: lifecycle?,
                system,
                description,
            })
        }
        "System" => {
            let owner = owner(cx, &spec, &mut refs);
            let domain = optional_ref(cx, &spec, "domain", RefKind::Domain, "is in", &mut refs);
            Entity::System(SystemEntity {
                name,
                owner: owner?,
                domain,
                description,
            })
        }
        "Domain" => {
            let owner = owner(cx, &spec, &mut refs);
            let parent = optional_ref(
                cx,
                &spec,
                "subdomainOf",
                RefKind::Domain,
                "is a subdomain of",
                &mut refs,
            );
            Entity::Domain(DomainEntity {
                name,
                owner: owner?,
                parent,
                description,
            })
        }
        "Resource" => {
            let resource_type = required_word(cx, &spec, "type");
            let owner = owner(cx, &spec, &mut refs);
            let system = optional_ref(
                cx,
                &spec,
                "system",
                RefKind::System,
                "is part of",
                &mut refs,
            );
            Entity::Resource(ResourceEntity {
                name,
                resource_type: resource_type?,
                owner: owner?,
                system,
            })
        }
        "Group" => {
            let group_type = required_word(cx, &spec, "type");
            let parent = optional_ref(
                cx,
                &spec,
                "parent",
                RefKind::Group,
                "is a child of",
                &mut refs,
            );
            let children = ref_list(
                cx,
                &spec,
                "children",
                RefKind::Group,
                "is the parent of",
                &mut refs,
            );
            let members = ref_list(
                cx,
                &spec,
                "members",
                RefKind::User,
                "has as member",
                &mut refs,
            );
            Entity::Team(TeamEntity {
                name,
                group_type: group_type?,
                parent,
                children,
                members,
                description,
            })
        }
        "Location" => read_location(cx, &spec),
        _ => return None,
    };
    Some(Read {
        name: name_text,
        entity,
        refs,
    })
}

fn read_component(
    cx: &mut Cx<'_>,
    metadata: &Obj<'_>,
    spec: &Obj<'_>,
    name: String,
    description: Option<String>,
    refs: &mut Vec<Ref>,
) -> Option<Entity> {
    let links = seam::read_links(cx, metadata, None);
    let component_type = required_word(cx, spec, "type");
    let lifecycle = seam::lifecycle(cx, spec, true);
    let owner = owner(cx, spec, refs);
    let system = optional_ref(cx, spec, "system", RefKind::System, "is part of", refs);
    optional_ref(
        cx,
        spec,
        "subcomponentOf",
        RefKind::Service,
        "is a subcomponent of",
        refs,
    );
    let relations = ComponentRelations {
        provides_apis: api_refs(cx, spec, "providesApis"),
        consumes_apis: api_refs(cx, spec, "consumesApis"),
        depends_on: depends_on(cx, spec),
    };
    let annotations = metadata.obj(cx, "annotations");
    let mut version = None;
    let mut instances = Vec::new();
    if let Some(annotations) = annotations {
        let text = |cx: &mut Cx<'_>, key: &str| annotations.str(cx, key);
        if let Some(t) = text(cx, ANNOTATION_VERSION) {
            version = Some(fields::version(cx, &t)?.to_string());
        }
        let base_url = text(cx, ANNOTATION_BASE_URL);
        let metrics_url = text(cx, ANNOTATION_METRICS_URL);
        let health_url = text(cx, ANNOTATION_HEALTH_URL);
        match base_url {
            Some(base) => {
                let base = fields::http_url(cx, &base);
                let metrics = metrics_url.map(|t| fields::http_url(cx, &t));
                let health = health_url.map(|t| fields::http_url(cx, &t));
                instances.extend(seam::instance(base?, metrics, health));
            }
            None => {
                for orphan in [metrics_url, health_url].into_iter().flatten() {
                    cx.warning(
                        orphan.pos,
                        &orphan.path,
                        format!("is ignored without the {ANNOTATION_BASE_URL:?} annotation"),
                    );
                }
            }
        }
    }
    let service = ServiceManifest {
        name,
        version,
        owner: owner?,
        domain: None,
        system,
        lifecycle: lifecycle?,
        kind: component_type?,
        description,
        links,
        instances,
        provides: Vec::new(),
        consumes: Vec::new(),
        datastores: Vec::new(),
        libraries: Vec::new(),
        source: SourceFormat::Backstage,
        relations: Default::default(),
    };
    Some(Entity::Component(service, relations))
}

/// Users only feed their groups' member lists; they are never reported on.
fn read_user(cx: &Cx<'_>, root: &Obj<'_>) -> Option<Read> {
    let mut ignored = Vec::new();
    let mut quiet = Cx {
        file: cx.file,
        document: cx.document,
        diagnostics: &mut ignored,
    };
    let metadata = root.obj(&mut quiet, "metadata")?;
    let name_text = metadata.str(&mut quiet, "name")?;
    let name = fields::name(&mut quiet, &name_text)?;
    let member_of = match root.obj(&mut quiet, "spec") {
        Some(spec) => spec
            .str_list(&mut quiet, "memberOf")
            .iter()
            .filter_map(|t| entity_ref(&mut quiet, t, &["group"]))
            .map(|(_, t)| t.value)
            .collect(),
        None => Vec::new(),
    };
    Some(Read {
        name: Text {
            value: name,
            ..name_text
        },
        entity: Entity::User { member_of },
        refs: Vec::new(),
    })
}

fn read_location(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Entity {
    let optional = spec
        .str(cx, "presence")
        .is_some_and(|t| t.value.trim() == "optional");
    let mut targets: Vec<Text> = spec.str(cx, "target").into_iter().collect();
    targets.extend(spec.str_list(cx, "targets"));
    Entity::Location(
        targets
            .into_iter()
            .map(|target| LocationTarget { target, optional })
            .collect(),
    )
}

/// Reads a required free-form word such as `spec.type`.
fn required_word(cx: &mut Cx<'_>, spec: &Obj<'_>, key: &str) -> Option<String> {
    let text = spec.required_str(cx, key)?;
    let word = text.value.trim();
    if word.is_empty() {
        cx.error(
            text.pos,
            &text.path,
            "is empty, expected a word such as \"service\"",
        );
        return None;
    }
    Some(word.to_owned())
}

/// Reads the required `spec.owner`, a group or a user.
fn owner(cx: &mut Cx<'_>, spec: &Obj<'_>, refs: &mut Vec<Ref>) -> Option<String> {
    let text = spec.required_str(cx, "owner")?;
    let (_, target) = entity_ref(cx, &text, &["group", "user"])?;
    let name = target.value.clone();
    refs.push(Ref {
        kind: RefKind::Owner,
        relation: "is owned by",
        target,
    });
    Some(name)
}

fn optional_ref(
    cx: &mut Cx<'_>,
    spec: &Obj<'_>,
    key: &str,
    kind: RefKind,
    relation: &'static str,
    refs: &mut Vec<Ref>,
) -> Option<String> {
    let text = spec.str(cx, key)?;
    let (_, target) = entity_ref(cx, &text, &[kind.backstage_kind()])?;
    let name = target.value.clone();
    refs.push(Ref {
        kind,
        relation,
        target,
    });
    Some(name)
}

fn ref_list(
    cx: &mut Cx<'_>,
    spec: &Obj<'_>,
    key: &str,
    kind: RefKind,
    relation: &'static str,
    refs: &mut Vec<Ref>,
) -> Vec<String> {
    let mut names = Vec::new();
    for text in spec.str_list(cx, key) {
        if let Some((_, target)) = entity_ref(cx, &text, &[kind.backstage_kind()]) {
            names.push(target.value.clone());
            refs.push(Ref {
                kind,
                relation,
                target,
            });
        }
    }
    names
}

fn api_refs(cx: &mut Cx<'_>, spec: &Obj<'_>, key: &str) -> Vec<Text> {
    spec.str_list(cx, key)
        .iter()
        .filter_map(|text| entity_ref(cx, text, &["api"]))
        .map(|(_, target)| target)
        .collect()
}

fn depends_on(cx: &mut Cx<'_>, spec: &Obj<'_>) -> Vec<DependsOn> {
    spec.str_list(cx, "dependsOn")
        .iter()
        .filter_map(|text| {
            let explicit = text.value.contains(':');
            let (kind, target) = entity_ref(cx, text, &["component", "resource"])?;
            Some(match (explicit, kind) {
                (false, _) => DependsOn::Unqualified(target),
                (true, "resource") => DependsOn::Resource(target),
                (true, _) => DependsOn::Component(target),
            })
        })
        .collect()
}

/// Parses an entity reference `[kind:][namespace/]name` into its kind (the first of
/// `kinds` when none is written) and its plain name. A kind outside `kinds` is a warning
/// and the reference is skipped; a malformed reference is an error.
fn entity_ref(
    cx: &mut Cx<'_>,
    text: &Text,
    kinds: &[&'static str],
) -> Option<(&'static str, Text)> {
    let raw = text.value.trim();
    let (kind, rest) = match raw.split_once(':') {
        Some((kind, rest)) => (Some(kind), rest),
        None => (None, raw),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None => (None, rest),
    };
    let well_formed = crate::validate::is_entity_name(name)
        && namespace.is_none_or(crate::validate::is_entity_name)
        && kind.is_none_or(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !well_formed {
        cx.error(
            text.pos,
            &text.path,
            format!(
                "found {:?}, expected an entity reference [kind:][namespace/]name whose name has 1-63 letters or digits, separated by single '-', '_' or '.'",
                super::tree::truncate(raw, 80)
            ),
        );
        return None;
    }
    let kind = match kind {
        None => kinds[0],
        Some(written) => match kinds.iter().find(|k| k.eq_ignore_ascii_case(written)) {
            Some(kind) => *kind,
            None => {
                cx.warning(
                    text.pos,
                    &text.path,
                    format!(
                        "found a reference to kind {written:?}, expected {}; the reference is ignored",
                        kinds.join(" or ")
                    ),
                );
                return None;
            }
        },
    };
    if let Some(namespace) = namespace {
        warn_namespace(
            cx,
            &Text {
                value: namespace.to_owned(),
                ..text.clone()
            },
        );
    }
    Some((
        kind,
        Text {
            value: name.to_owned(),
            ..text.clone()
        },
    ))
}

fn warn_namespace(cx: &mut Cx<'_>, namespace: &Text) {
    let value = namespace.value.trim();
    if value != "default" {
        cx.warning(
            namespace.pos,
            &namespace.path,
            format!(
                "found namespace {:?}, expected \"default\": Seam keeps one namespace, so the name alone must be unique",
                super::tree::truncate(value, 64)
            ),
        );
    }
}
