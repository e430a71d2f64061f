//! What the documents of one batch declare, and the checks across them: duplicate
//! declarations, references to entities nobody declares, and the Backstage relations that
//! need another document to map (a component's domain, a provided API's protocol, a
//! datastore's kind and access).

use std::collections::{HashMap, HashSet};

use super::fields::{Cx, Text};
use super::model::{
    Access, ApiEntity, Catalog, Datastore, Dependency, Diagnostic, DomainEntity, Mode, Protocol,
    ProvidedApi, ResourceEntity, ServiceManifest, SystemEntity, TeamEntity,
};

/// What one document declares.
pub(crate) struct Read {
    /// `metadata.name`, already checked, with its position.
    pub name: Text,
    pub entity: Entity,
    /// References to other entities, checked once the whole batch is read.
    pub refs: Vec<Ref>,
}

pub(crate) enum Entity {
    /// A Seam `Service`: complete as read.
    Service(ServiceManifest),
    /// A Backstage `Component`: its relations are mapped once the batch is known.
    Component(ServiceManifest, ComponentRelations),
    Api(ApiEntity),
    System(SystemEntity),
    Domain(DomainEntity),
    Team(TeamEntity),
    Resource(ResourceEntity),
    /// A Backstage `User`: only its group memberships are kept.
    User {
        member_of: Vec<String>,
    },
    Location(Vec<LocationTarget>),
}

/// A Backstage component's references that become provides, consumes and datastores.
pub(crate) struct ComponentRelations {
    pub provides_apis: Vec<Text>,
    pub consumes_apis: Vec<Text>,
    pub depends_on: Vec<DependsOn>,
}

pub(crate) enum DependsOn {
    Component(Text),
    Resource(Text),
    /// Written without a kind: a component or a resource, whichever the batch has.
    Unqualified(Text),
}

/// One `spec.target` or `spec.targets` entry of a Location.
#[derive(Clone)]
pub(crate) struct LocationTarget {
    pub target: Text,
    /// `spec.presence: optional`: a target that cannot be read is only a warning.
    pub optional: bool,
}

/// A reference from one entity to another, by plain name.
pub(crate) struct Ref {
    pub kind: RefKind,
    /// How the referring entity relates to the target, for messages: `consumes`.
    pub relation: &'static str,
    pub target: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RefKind {
    Service,
    Api,
    System,
    Domain,
    /// A group or a user.
    Owner,
    Group,
    User,
    Resource,
}

impl RefKind {
    /// The Backstage kind a reference of this kind defaults to.
    pub fn backstage_kind(self) -> &'static str {
        match self {
            RefKind::Service => "component",
            RefKind::Api => "api",
            RefKind::System => "system",
            RefKind::Domain => "domain",
            RefKind::Owner | RefKind::Group => "group",
            RefKind::User => "user",
            RefKind::Resource => "resource",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            RefKind::Service => "service",
            RefKind::Api => "API",
            RefKind::System => "system",
            RefKind::Domain => "domain",
            RefKind::Owner => "group or user",
            RefKind::Group => "group",
            RefKind::User => "user",
            RefKind::Resource => "resource",
        }
    }
}

/// A document's declaration and where it is.
struct Declared {
    file: String,
    document: usize,
    read: Read,
}

impl Declared {
    fn cx<'a>(&'a self, diagnostics: &'a mut Vec<Diagnostic>) -> Cx<'a> {
        Cx {
            file: &self.file,
            document: self.document,
            diagnostics,
        }
    }
}

/// Everything read so far, in reading order.
#[derive(Default)]
pub(crate) struct Batch {
    declared: Vec<Declared>,
    pub diagnostics: Vec<Diagnostic>,
    /// Files in reading order, to sort the diagnostics by.
    files: Vec<String>,
}

impl Batch {
    /// Notes that `file` is read next.
    pub fn begin_file(&mut self, file: &str) {
        self.files.push(file.to_owned());
    }

    /// Number of documents declared so far; pass it to [`Batch::locations_since`].
    pub fn len(&self) -> usize {
        self.declared.len()
    }

    pub fn add(&mut self, file: &str, document: usize, read: Read) {
        self.declared.push(Declared {
            file: file.to_owned(),
            document,
            read,
        });
    }

    /// The Location targets declared since the `start`th declaration, with the file and
    /// document that named them.
    pub fn locations_since(&self, start: usize) -> Vec<(String, usize, LocationTarget)> {
        self.declared[start.min(self.declared.len())..]
            .iter()
            .flat_map(|d| match &d.read.entity {
                Entity::Location(targets) => targets
                    .iter()
                    .map(|t| (d.file.clone(), d.document, t.clone()))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// Runs the checks across documents and returns the catalog with every diagnostic.
    pub fn finish(mut self) -> (Catalog, Vec<Diagnostic>) {
        self.report_duplicates();
        let index = Index::new(&self.declared);
        let mut diagnostics = std::mem::take(&mut self.diagnostics);
        let mut catalog = Catalog::default();
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        for declared in &self.declared {
            if let Entity::User { member_of } = &declared.read.entity {
                for group in member_of {
                    members
                        .entry(group.clone())
                        .or_default()
                        .push(declared.read.name.value.clone());
                }
            }
        }
        for declared in self.declared {
            let Declared {
                file,
                document,
                read,
            } = declared;
            let mut cx = Cx {
                file: &file,
                document,
                diagnostics: &mut diagnostics,
            };
            let mut refs = read.refs;
            match read.entity {
                Entity::Service(service) => catalog.services.push(service),
                Entity::Component(service, relations) => {
                    let service = index.map_component(&mut cx, service, relations, &mut refs);
                    catalog.services.push(service);
                }
                Entity::Api(api) => catalog.apis.push(api),
                Entity::System(system) => catalog.systems.push(system),
                Entity::Domain(domain) => catalog.domains.push(domain),
                Entity::Team(mut team) => {
                    for user in members.remove(&team.name).unwrap_or_default() {
                        if !team.members.contains(&user) {
                            team.members.push(user);
                        }
                    }
                    catalog.teams.push(team);
                }
                Entity::Resource(resource) => catalog.resources.push(resource),
                Entity::User { .. } | Entity::Location(_) => {}
            }
            for r in &refs {
                index.check(&mut cx, r);
            }
        }
        // In file order, then document and position, so a report reads top to bottom;
        // findings without a position come first in their document.
        let rank: HashMap<&str, usize> = self
            .files
            .iter()
            .enumerate()
            .rev()
            .map(|(i, f)| (f.as_str(), i))
            .collect();
        diagnostics.sort_by_key(|d| {
            (
                rank.get(d.file.as_str()).copied().unwrap_or(usize::MAX),
                d.document,
                d.line.unwrap_or(0),
                d.column.unwrap_or(0),
            )
        });
        (catalog, diagnostics)
    }

    /// Reports a second declaration of the same kind and name.
    fn report_duplicates(&mut self) {
        let mut first: HashMap<(&'static str, &str), &Declared> = HashMap::new();
        for declared in &self.declared {
            let Some(kind) = kind_noun(&declared.read.entity) else {
                continue;
            };
            let name = declared.read.name.value.as_str();
            match first.get(&(kind, name)) {
                Some(earlier) => {
                    let text = &declared.read.name;
                    let message = format!(
                        "duplicate {kind} {name:?}: already declared in {}, document {}, line {}; names must be unique within a kind",
                        earlier.file, earlier.document, earlier.read.name.pos.line
                    );
                    declared
                        .cx(&mut self.diagnostics)
                        .error(text.pos, &text.path, message);
                }
                None => {
                    first.insert((kind, name), declared);
                }
            }
        }
    }
}

/// The kind whose names must be unique; Seam services and Backstage components share one.
fn kind_noun(entity: &Entity) -> Option<&'static str> {
    Some(match entity {
        Entity::Service(_) | Entity::Component(..) => "service",
        Entity::Api(_) => "API",
        Entity::System(_) => "system",
        Entity::Domain(_) => "domain",
        Entity::Team(_) => "group",
        Entity::Resource(_) => "resource",
        Entity::User { .. } => "user",
        Entity::Location(_) => return None,
    })
}

/// Names the batch declares, by kind, and what Backstage mapping needs to know of them.
struct Index {
    names: HashMap<RefKind, HashSet<String>>,
    /// Kinds with at least one declaration; references to other kinds are not checked
    /// (Seam manifests name owners and systems that only Backstage could declare).
    declared_kinds: HashSet<RefKind>,
    system_domains: HashMap<String, Option<String>>,
    api_protocols: HashMap<String, Protocol>,
    resource_types: HashMap<String, String>,
    /// For each resource, how many components depend on it.
    resource_dependents: HashMap<String, usize>,
}

impl Index {
    fn new(declared: &[Declared]) -> Self {
        let mut index = Index {
            names: HashMap::new(),
            declared_kinds: HashSet::new(),
            system_domains: HashMap::new(),
            api_protocols: HashMap::new(),
            resource_types: HashMap::new(),
            resource_dependents: HashMap::new(),
        };
        for d in declared {
            let name = d.read.name.value.clone();
            let kinds: &[RefKind] = match &d.read.entity {
                Entity::Service(service) => {
                    for api in &service.provides {
                        index.add(RefKind::Api, api.name.clone(), false);
                    }
                    &[RefKind::Service]
                }
                Entity::Component(..) => &[RefKind::Service],
                Entity::Api(api) => {
                    index.api_protocols.insert(name.clone(), api.protocol);
                    &[RefKind::Api]
                }
                Entity::System(system) => {
                    index
                        .system_domains
                        .insert(name.clone(), system.domain.clone());
                    &[RefKind::System]
                }
                Entity::Domain(_) => &[RefKind::Domain],
                Entity::Team(_) => &[RefKind::Group, RefKind::Owner],
                Entity::User { .. } => &[RefKind::User, RefKind::Owner],
                Entity::Resource(resource) => {
                    index
                        .resource_types
                        .insert(name.clone(), resource.resource_type.clone());
                    &[RefKind::Resource]
                }
                Entity::Location(_) => &[],
            };
            for kind in kinds {
                index.add(*kind, name.clone(), true);
            }
        }
        // Services and APIs are always checked: Seam manifests declare both.
        index.declared_kinds.insert(RefKind::Service);
        index.declared_kinds.insert(RefKind::Api);
        for d in declared {
            if let Entity::Component(_, relations) = &d.read.entity {
                let mut counted = HashSet::new();
                for dep in &relations.depends_on {
                    if let Some(resource) = index.resource_of(dep) {
                        if counted.insert(resource) {
                            *index
                                .resource_dependents
                                .entry(resource.to_owned())
                                .or_default() += 1;
                        }
                    }
                }
            }
        }
        index
    }

    fn add(&mut self, kind: RefKind, name: String, declares_kind: bool) {
        self.names.entry(kind).or_default().insert(name);
        if declares_kind {
            self.declared_kinds.insert(kind);
        }
    }

    fn has(&self, kind: RefKind, name: &str) -> bool {
        self.names
            .get(&kind)
            .is_some_and(|names| names.contains(name))
    }

    /// The resource a `dependsOn` entry names, if it names one.
    fn resource_of<'d>(&self, dep: &'d DependsOn) -> Option<&'d str> {
        match dep {
            DependsOn::Resource(t) => Some(&t.value),
            DependsOn::Unqualified(t)
                if !self.has(RefKind::Service, &t.value)
                    && self.has(RefKind::Resource, &t.value) =>
            {
                Some(&t.value)
            }
            _ => None,
        }
    }

    /// Warns when `r` names an entity of a kind the batch declares, but not that one.
    fn check(&self, cx: &mut Cx<'_>, r: &Ref) {
        if !self.declared_kinds.contains(&r.kind) || self.has(r.kind, &r.target.value) {
            return;
        }
        cx.warning(
            r.target.pos,
            &r.target.path,
            format!(
                "{} unknown {} {:?}",
                r.relation,
                r.kind.noun(),
                r.target.value
            ),
        );
    }

    /// Completes a Backstage component with what other documents say.
    fn map_component(
        &self,
        cx: &mut Cx<'_>,
        mut service: ServiceManifest,
        relations: ComponentRelations,
        refs: &mut Vec<Ref>,
    ) -> ServiceManifest {
        service.domain = service
            .system
            .as_ref()
            .and_then(|system| self.system_domains.get(system).cloned().flatten());
        for api in relations.provides_apis {
            if service.provides.iter().any(|p| p.name == api.value) {
                cx.warning(
                    api.pos,
                    &api.path,
                    format!("API {:?} is listed twice", api.value),
                );
                continue;
            }
            service.provides.push(ProvidedApi {
                name: api.value.clone(),
                version: None,
                protocol: self.protocol(&api.value),
            });
            refs.push(Ref {
                kind: RefKind::Api,
                relation: "provides",
                target: api,
            });
        }
        for api in relations.consumes_apis {
            let protocol = self.protocol(&api.value);
            service.consumes.push(Dependency {
                service: None,
                api: Some(api.value.clone()),
                version_req: None,
                mode: mode_of(protocol),
                protocol,
            });
            refs.push(Ref {
                kind: RefKind::Api,
                relation: "consumes",
                target: api,
            });
        }
        for dep in relations.depends_on {
            let resource = self.resource_of(&dep).map(str::to_owned);
            let (target, explicit_component) = match dep {
                DependsOn::Component(t) => (t, true),
                DependsOn::Resource(t) | DependsOn::Unqualified(t) => (t, false),
            };
            match resource {
                Some(resource) => {
                    let dependents = self.resource_dependents.get(&resource).copied().unwrap_or(0);
                    let kind = self
                        .resource_types
                        .get(&resource)
                        .cloned()
                        .unwrap_or_else(|| "resource".to_owned());
                    service.datastores.push(Datastore {
                        name: resource,
                        kind,
                        access: if dependents == 1 {
                            Access::Owned
                        } else {
                            Access::Shared
                        },
                    });
                    refs.push(Ref {
                        kind: RefKind::Resource,
                        relation: "depends on",
                        target,
                    });
                }
                None if explicit_component || self.has(RefKind::Service, &target.value) => {
                    service.consumes.push(Dependency {
                        service: Some(target.value.clone()),
                        api: None,
                        version_req: None,
                        mode: Mode::Sync,
                        protocol: Protocol::Http,
                    });
                    refs.push(Ref {
                        kind: RefKind::Service,
                        relation: "depends on",
                        target,
                    });
                }
                None => cx.warning(
                    target.pos,
                    &target.path,
                    format!(
                        "depends on {:?}, which is neither a component nor a resource in this batch; write component:{0} or resource:{0}",
                        target.value
                    ),
                ),
            }
        }
        service
    }

    /// The protocol of an API by its Backstage type; HTTP when the API is not in the batch.
    fn protocol(&self, api: &str) -> Protocol {
        self.api_protocols
            .get(api)
            .copied()
            .unwrap_or(Protocol::Http)
    }
}

/// Event APIs are consumed asynchronously; everything else is request/response.
fn mode_of(protocol: Protocol) -> Mode {
    if protocol == Protocol::Event {
        Mode::Async
    } else {
        Mode::Sync
    }
}
