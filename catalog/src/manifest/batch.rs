//! What the documents of one batch declare, and the checks across them: duplicate
//! declarations and references to entities nobody declares. Relations are not resolved
//! here but over the whole catalog ([`crate::resolve`]), so what a document means does
//! not depend on which batch brought it.

use std::collections::{HashMap, HashSet};

use super::fields::{Cx, Text};
use super::model::{
    ApiEntity, Catalog, DependsOnRef, Diagnostic, DomainEntity, RefTargetKind, ResourceEntity,
    ServiceManifest, SystemEntity, TeamEntity, UserEntity,
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
    /// The document as normalised YAML, in the author's field names.
    rendered: String,
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

    pub fn add(&mut self, file: &str, document: usize, read: Read, rendered: String) {
        self.declared.push(Declared {
            file: file.to_owned(),
            document,
            read,
            rendered,
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
    pub fn finish(mut self, known: &dyn KnownNames) -> (Catalog, Vec<Diagnostic>) {
        self.report_duplicates();
        let mut index = Index::new(&self.declared);
        index.known = known;
        let mut diagnostics = std::mem::take(&mut self.diagnostics);
        let mut catalog = Catalog::default();
        for declared in self.declared {
            let Declared {
                file,
                document,
                read,
                rendered,
            } = declared;
            let mut cx = Cx {
                file: &file,
                document,
                diagnostics: &mut diagnostics,
            };
            let mut refs = read.refs;
            match read.entity {
                Entity::Service(service) => {
                    catalog.documents.insert(service.name.clone(), rendered);
                    catalog.services.push(service);
                }
                Entity::Component(service, relations) => {
                    let service = index.map_component(&mut cx, service, relations, &mut refs);
                    catalog.documents.insert(service.name.clone(), rendered);
                    catalog.services.push(service);
                }
                Entity::Api(api) => catalog.apis.push(api),
                Entity::System(system) => catalog.systems.push(system),
                Entity::Domain(domain) => catalog.domains.push(domain),
                Entity::Team(team) => catalog.teams.push(team),
                Entity::Resource(resource) => catalog.resources.push(resource),
                Entity::User { member_of } => catalog.users.push(UserEntity {
                    name: read.name.value.clone(),
                    member_of,
                }),
                Entity::Location(_) => {}
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

/// The kinds of name a reference can point at, for [`KnownNames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Service,
    Api,
    System,
    Domain,
    /// A group (team).
    Group,
    Resource,
}

/// What the catalog already holds: references to it are not "unknown", whichever batch
/// declared it. The catalog snapshot answers from its own indexes.
pub trait KnownNames {
    fn knows(&self, kind: NameKind, name: &str) -> bool;
}

/// A catalog that holds nothing yet.
pub struct NoNames;

impl KnownNames for NoNames {
    fn knows(&self, _kind: NameKind, _name: &str) -> bool {
        false
    }
}

impl RefKind {
    fn name_kind(self) -> Option<NameKind> {
        Some(match self {
            RefKind::Service => NameKind::Service,
            RefKind::Api => NameKind::Api,
            RefKind::System => NameKind::System,
            RefKind::Domain => NameKind::Domain,
            RefKind::Owner | RefKind::Group => NameKind::Group,
            RefKind::Resource => NameKind::Resource,
            RefKind::User => return None,
        })
    }
}

/// Names the batch declares, by kind, to check references against.
struct Index<'k> {
    /// What the catalog holds already.
    known: &'k dyn KnownNames,
    names: HashMap<RefKind, HashSet<String>>,
    /// Kinds with at least one declaration; references to other kinds are not checked
    /// (Seam manifests name owners and systems that only Backstage could declare).
    declared_kinds: HashSet<RefKind>,
}

impl Index<'_> {
    fn new(declared: &[Declared]) -> Self {
        let mut index = Index {
            known: &NoNames,
            names: HashMap::new(),
            declared_kinds: HashSet::new(),
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
                Entity::Api(_) => &[RefKind::Api],
                Entity::System(_) => &[RefKind::System],
                Entity::Domain(_) => &[RefKind::Domain],
                Entity::Team(_) => &[RefKind::Group, RefKind::Owner],
                Entity::User { .. } => &[RefKind::User, RefKind::Owner],
                Entity::Resource(_) => &[RefKind::Resource],
                Entity::Location(_) => &[],
            };
            for kind in kinds {
                index.add(*kind, name.clone(), true);
            }
        }
        // Services and APIs are always checked: Seam manifests declare both.
        index.declared_kinds.insert(RefKind::Service);
        index.declared_kinds.insert(RefKind::Api);
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

    /// Warns when `r` names an entity of a kind the batch declares, but not that one.
    fn check(&self, cx: &mut Cx<'_>, r: &Ref) {
        if !self.declared_kinds.contains(&r.kind)
            || self.has(r.kind, &r.target.value)
            || r.kind
                .name_kind()
                .is_some_and(|kind| self.known.knows(kind, &r.target.value))
        {
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

    /// Keeps a Backstage component's relations as declared, checking their targets
    /// against the batch; [`crate::resolve`] maps them once the whole catalog is known.
    fn map_component(
        &self,
        cx: &mut Cx<'_>,
        mut service: ServiceManifest,
        relations: ComponentRelations,
        refs: &mut Vec<Ref>,
    ) -> ServiceManifest {
        let declared = &mut service.relations;
        for api in relations.provides_apis {
            if declared.provides_apis.contains(&api.value) {
                cx.warning(
                    api.pos,
                    &api.path,
                    format!("API {:?} is listed twice", api.value),
                );
                continue;
            }
            declared.provides_apis.push(api.value.clone());
            refs.push(Ref {
                kind: RefKind::Api,
                relation: "provides",
                target: api,
            });
        }
        for api in relations.consumes_apis {
            declared.consumes_apis.push(api.value.clone());
            refs.push(Ref {
                kind: RefKind::Api,
                relation: "consumes",
                target: api,
            });
        }
        for dep in relations.depends_on {
            let (kind, target) = match dep {
                DependsOn::Component(t) => (Some(RefTargetKind::Component), t),
                DependsOn::Resource(t) => (Some(RefTargetKind::Resource), t),
                DependsOn::Unqualified(t) => (None, t),
            };
            let checked = match kind {
                Some(RefTargetKind::Component) => Some(RefKind::Service),
                Some(RefTargetKind::Resource) => Some(RefKind::Resource),
                None if self.has(RefKind::Service, &target.value) => Some(RefKind::Service),
                None if self.has(RefKind::Resource, &target.value) => Some(RefKind::Resource),
                None => None,
            };
            match checked {
                Some(ref_kind) => refs.push(Ref {
                    kind: ref_kind,
                    relation: "depends on",
                    target: target.clone(),
                }),
                None => cx.warning(
                    target.pos,
                    &target.path,
                    format!(
                        "depends on {:?}, which is neither a component nor a resource in this batch; write component:{0} or resource:{0}",
                        target.value
                    ),
                ),
            }
            declared.depends_on.push(DependsOnRef {
                kind,
                name: target.value,
            });
        }
        service
    }
}
