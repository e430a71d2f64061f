//! The resolved catalog as every reader sees it: one immutable [`Snapshot`], built after
//! each committed change from what the store holds (the [`Declared`] catalog) and shared
//! read-only. Relations are resolved here, over the whole catalog
//! ([`seam_catalog::Resolver`]); the indexes readers need (APIs with their providers,
//! datastores with their users, systems, domains, teams, reverse dependencies, instances)
//! are built once per change, not per page view.
//!
//! This crate does no I/O, has no async code and never panics on odd input.

mod query;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use seam_catalog::manifest::{
    Access, ApiEntity, Dependency, DomainEntity, Instance, KnownNames, NameKind, Protocol,
    ResourceEntity, ServiceManifest, SystemEntity, TeamEntity, UserEntity,
};
use seam_catalog::Resolver;

pub use query::{Page, ServiceFilter, SortKey, MAX_QUERY_CHARS};

/// What the store says of a service besides its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMeta {
    pub revision: i64,
    /// How the current revision arrived: `api`, `web`, `cli`, `discovery`, `directory`.
    pub source: String,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where the current revision came from: a file path, `api`, a discovery URL.
    pub origin: String,
    /// Since when discovery no longer finds the manifest at its origin.
    pub stale_since: Option<DateTime<Utc>>,
}

/// A service as stored: its manifest as declared, and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredService {
    pub manifest: ServiceManifest,
    pub meta: ServiceMeta,
}

/// Everything the catalog declares, as stored, keyed by name: the input of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    pub services: BTreeMap<String, DeclaredService>,
    pub apis: BTreeMap<String, ApiEntity>,
    pub systems: BTreeMap<String, SystemEntity>,
    pub domains: BTreeMap<String, DomainEntity>,
    pub teams: BTreeMap<String, TeamEntity>,
    pub resources: BTreeMap<String, ResourceEntity>,
    pub users: BTreeMap<String, UserEntity>,
}

/// A service with its relations resolved and the dependencies on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// The manifest with relations resolved: Backstage relations mapped onto provides,
    /// consumes and datastores, the domain through the system when not declared.
    pub manifest: ServiceManifest,
    pub meta: ServiceMeta,
    /// Each declared dependency with the service it leads to, when known.
    pub consumes: Vec<ResolvedDependency>,
    /// Services that declare a dependency on this one or on one of its APIs.
    pub consumers: Vec<Consumer>,
}

impl ServiceView {
    pub fn name(&self) -> &str {
        &self.manifest.name
    }
}

/// A declared dependency and where it leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDependency {
    pub declared: Dependency,
    /// The service named, or the provider of the API named; `None` when unknown.
    pub provider: Option<String>,
    /// Whether `provider` (or the service named) is in the catalog.
    pub known: bool,
}

impl ResolvedDependency {
    /// The service this dependency names or leads to, as far as is known.
    pub fn target(&self) -> Option<&str> {
        self.provider
            .as_deref()
            .or(self.declared.service.as_deref())
    }
}

/// A service that depends on another, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub service: String,
    pub dependency: Dependency,
}

/// An API: its entity when one is declared, who provides and who consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiView {
    pub name: String,
    pub entity: Option<ApiEntity>,
    pub protocol: Protocol,
    pub providers: Vec<String>,
    pub consumers: Vec<String>,
}

/// A datastore and every service that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatastoreView {
    pub name: String,
    /// `postgresql`, `database`, ...: the first kind a user or the resource declares.
    pub kind: String,
    pub entity: Option<ResourceEntity>,
    /// Users with the access each declares, by name.
    pub users: Vec<(String, Access)>,
}

/// A system, declared or only named by services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemView {
    pub name: String,
    pub entity: Option<SystemEntity>,
    /// The system's domain, or the one its services declare.
    pub domain: Option<String>,
    pub services: Vec<String>,
}

/// A domain (bounded context), declared or only named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainView {
    pub name: String,
    pub entity: Option<DomainEntity>,
    pub systems: Vec<String>,
    pub services: Vec<String>,
}

/// A team, declared (Backstage group) or only named as an owner, with what it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamView {
    pub name: String,
    pub entity: Option<TeamEntity>,
    /// Members the group lists and users that name the group, whichever batch
    /// declared them.
    pub members: Vec<String>,
    pub services: Vec<String>,
    pub systems: Vec<String>,
    pub domains: Vec<String>,
    pub apis: Vec<String>,
}

/// One instance of a service and where to observe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceRef<'a> {
    pub service: &'a str,
    pub instance: &'a Instance,
}

/// The values each list filter can take, for the filter controls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub owners: Vec<String>,
    pub domains: Vec<String>,
    pub systems: Vec<String>,
    pub lifecycles: Vec<String>,
}

/// The resolved catalog at one moment; immutable, shared by every reader.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Increases with every published change; 0 for the empty snapshot.
    pub generation: u64,
    services: BTreeMap<String, ServiceView>,
    apis: BTreeMap<String, ApiView>,
    datastores: BTreeMap<String, DatastoreView>,
    systems: BTreeMap<String, SystemView>,
    domains: BTreeMap<String, DomainView>,
    teams: BTreeMap<String, TeamView>,
    facets: Facets,
}

impl Snapshot {
    /// Resolves `declared` into a snapshot numbered `generation`.
    pub fn build(declared: &Declared, generation: u64) -> Snapshot {
        let manifests: Vec<&ServiceManifest> =
            declared.services.values().map(|s| &s.manifest).collect();
        let resolver = Resolver::new(
            &manifests,
            declared.apis.values(),
            declared.systems.values(),
            declared.resources.values(),
        );
        let resolved: Vec<(ServiceManifest, &ServiceMeta)> = declared
            .services
            .values()
            .map(|s| (resolver.service(&s.manifest), &s.meta))
            .collect();

        let mut apis = api_views(declared, &resolved);
        let mut consumers: BTreeMap<String, Vec<Consumer>> = BTreeMap::new();
        let mut services = BTreeMap::new();
        for (manifest, meta) in &resolved {
            let consumes = manifest
                .consumes
                .iter()
                .map(|dep| {
                    let provider = dep.service.clone().or_else(|| {
                        let api = apis.get(dep.api.as_deref()?)?;
                        api.providers.first().cloned()
                    });
                    let known = provider
                        .as_deref()
                        .is_some_and(|p| declared.services.contains_key(p));
                    ResolvedDependency {
                        declared: dep.clone(),
                        provider,
                        known,
                    }
                })
                .collect::<Vec<_>>();
            for dep in &consumes {
                if let Some(target) = dep.target() {
                    if target != manifest.name {
                        consumers
                            .entry(target.to_owned())
                            .or_default()
                            .push(Consumer {
                                service: manifest.name.clone(),
                                dependency: dep.declared.clone(),
                            });
                    }
                }
            }
            services.insert(
                manifest.name.clone(),
                ServiceView {
                    manifest: manifest.clone(),
                    meta: (*meta).clone(),
                    consumes,
                    consumers: Vec::new(),
                },
            );
        }
        for (target, list) in consumers {
            if let Some(view) = services.get_mut(&target) {
                view.consumers = list;
            }
        }
        for api in apis.values_mut() {
            api.consumers.sort();
            api.consumers.dedup();
        }

        let mut snapshot = Snapshot {
            generation,
            datastores: datastore_views(declared, &resolved),
            systems: BTreeMap::new(),
            domains: BTreeMap::new(),
            teams: BTreeMap::new(),
            facets: Facets::default(),
            services,
            apis,
        };
        snapshot.group(declared);
        snapshot
    }

    /// Fills systems, domains, teams and the facets from services and entities.
    fn group(&mut self, declared: &Declared) {
        for (name, system) in &declared.systems {
            self.systems.insert(
                name.clone(),
                SystemView {
                    name: name.clone(),
                    entity: Some(system.clone()),
                    domain: system.domain.clone(),
                    services: Vec::new(),
                },
            );
        }
        for (name, domain) in &declared.domains {
            self.domains
                .insert(name.clone(), domain_view(name, Some(domain)));
        }
        for (name, team) in &declared.teams {
            let mut view = team_view(name, Some(team));
            view.members = team.members.clone();
            self.teams.insert(name.clone(), view);
        }
        let mut listed: BTreeSet<(String, String)> = declared
            .teams
            .values()
            .flat_map(|t| t.members.iter().map(|m| (t.name.clone(), m.clone())))
            .collect();
        for (user, entity) in &declared.users {
            for group in &entity.member_of {
                if let Some(team) = self.teams.get_mut(group) {
                    if listed.insert((group.clone(), user.clone())) {
                        team.members.push(user.clone());
                    }
                }
            }
        }
        let mut facets = (
            BTreeSet::new(),
            BTreeSet::new(),
            BTreeSet::new(),
            BTreeSet::new(),
        );
        for view in self.services.values() {
            let m = &view.manifest;
            facets.0.insert(m.owner.clone());
            facets.3.insert(m.lifecycle.clone());
            self.teams
                .entry(m.owner.clone())
                .or_insert_with(|| team_view(&m.owner, None))
                .services
                .push(m.name.clone());
            if let Some(system) = &m.system {
                facets.2.insert(system.clone());
                let row = self
                    .systems
                    .entry(system.clone())
                    .or_insert_with(|| SystemView {
                        name: system.clone(),
                        entity: None,
                        domain: None,
                        services: Vec::new(),
                    });
                row.services.push(m.name.clone());
                if row.domain.is_none() {
                    row.domain = m.domain.clone();
                }
            }
            if let Some(domain) = &m.domain {
                facets.1.insert(domain.clone());
                self.domains
                    .entry(domain.clone())
                    .or_insert_with(|| domain_view(domain, None))
                    .services
                    .push(m.name.clone());
            }
        }
        for system in self.systems.values() {
            if let Some(domain) = &system.domain {
                self.domains
                    .entry(domain.clone())
                    .or_insert_with(|| domain_view(domain, None))
                    .systems
                    .push(system.name.clone());
            }
            // A team owns a system it declares, or one its services all sit in.
            let owner = system.entity.as_ref().map(|s| s.owner.clone());
            if let Some(owner) = owner {
                self.teams
                    .entry(owner.clone())
                    .or_insert_with(|| team_view(&owner, None))
                    .systems
                    .push(system.name.clone());
            }
        }
        for (name, domain) in &declared.domains {
            self.teams
                .entry(domain.owner.clone())
                .or_insert_with(|| team_view(&domain.owner, None))
                .domains
                .push(name.clone());
        }
        for (name, api) in &declared.apis {
            self.teams
                .entry(api.owner.clone())
                .or_insert_with(|| team_view(&api.owner, None))
                .apis
                .push(name.clone());
        }
        // Services name systems and domains their teams do not declare as entities: a
        // team is shown with the systems and domains its services are in.
        let mut in_use: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
        for view in self.services.values() {
            let m = &view.manifest;
            let entry = in_use.entry(m.owner.clone()).or_default();
            entry.0.extend(m.system.clone());
            entry.1.extend(m.domain.clone());
        }
        for (team, (systems, domains)) in in_use {
            if let Some(row) = self.teams.get_mut(&team) {
                row.systems.extend(systems);
                row.domains.extend(domains);
            }
        }
        for team in self.teams.values_mut() {
            for list in [&mut team.systems, &mut team.domains, &mut team.apis] {
                list.sort();
                list.dedup();
            }
        }
        for domain in self.domains.values_mut() {
            domain.systems.sort();
            domain.systems.dedup();
        }
        self.facets = Facets {
            owners: facets.0.into_iter().collect(),
            domains: facets.1.into_iter().collect(),
            systems: facets.2.into_iter().collect(),
            lifecycles: facets.3.into_iter().collect(),
        };
    }

    pub fn service(&self, name: &str) -> Option<&ServiceView> {
        self.services.get(name)
    }

    /// Every service, ordered by name.
    pub fn services(&self) -> impl ExactSizeIterator<Item = &ServiceView> {
        self.services.values()
    }

    pub fn api(&self, name: &str) -> Option<&ApiView> {
        self.apis.get(name)
    }

    /// Every API, provided by a service or declared as an entity, ordered by name.
    pub fn apis(&self) -> impl ExactSizeIterator<Item = &ApiView> {
        self.apis.values()
    }

    pub fn datastore(&self, name: &str) -> Option<&DatastoreView> {
        self.datastores.get(name)
    }

    pub fn datastores(&self) -> impl ExactSizeIterator<Item = &DatastoreView> {
        self.datastores.values()
    }

    pub fn systems(&self) -> impl ExactSizeIterator<Item = &SystemView> {
        self.systems.values()
    }

    pub fn domains(&self) -> impl ExactSizeIterator<Item = &DomainView> {
        self.domains.values()
    }

    pub fn teams(&self) -> impl ExactSizeIterator<Item = &TeamView> {
        self.teams.values()
    }

    /// Every instance of every service, by service name.
    pub fn instances(&self) -> impl Iterator<Item = InstanceRef<'_>> {
        self.services.values().flat_map(|view| {
            view.manifest
                .instances
                .iter()
                .map(move |instance| InstanceRef {
                    service: &view.manifest.name,
                    instance,
                })
        })
    }

    /// The values each list filter can take.
    pub fn facets(&self) -> &Facets {
        &self.facets
    }

    /// Whether a name is a service of the catalog.
    pub fn has_service(&self, name: &str) -> bool {
        self.services.contains_key(name)
    }
}

/// References in new input are checked against the catalog's own indexes.
impl KnownNames for Snapshot {
    fn knows(&self, kind: NameKind, name: &str) -> bool {
        match kind {
            NameKind::Service => self.services.contains_key(name),
            NameKind::Api => self.apis.contains_key(name),
            NameKind::System => self.systems.contains_key(name),
            NameKind::Domain => self.domains.contains_key(name),
            NameKind::Group => self.teams.contains_key(name),
            NameKind::Resource => self.datastores.contains_key(name),
        }
    }
}

fn domain_view(name: &str, entity: Option<&DomainEntity>) -> DomainView {
    DomainView {
        name: name.to_owned(),
        entity: entity.cloned(),
        systems: Vec::new(),
        services: Vec::new(),
    }
}

fn team_view(name: &str, entity: Option<&TeamEntity>) -> TeamView {
    TeamView {
        name: name.to_owned(),
        entity: entity.cloned(),
        members: Vec::new(),
        services: Vec::new(),
        systems: Vec::new(),
        domains: Vec::new(),
        apis: Vec::new(),
    }
}

/// APIs from API entities and from what services provide and consume.
fn api_views(
    declared: &Declared,
    resolved: &[(ServiceManifest, &ServiceMeta)],
) -> BTreeMap<String, ApiView> {
    let mut apis: BTreeMap<String, ApiView> = declared
        .apis
        .iter()
        .map(|(name, entity)| {
            (
                name.clone(),
                ApiView {
                    name: name.clone(),
                    protocol: entity.protocol,
                    entity: Some(entity.clone()),
                    providers: Vec::new(),
                    consumers: Vec::new(),
                },
            )
        })
        .collect();
    for (manifest, _) in resolved {
        for api in &manifest.provides {
            apis.entry(api.name.clone())
                .or_insert_with(|| ApiView {
                    name: api.name.clone(),
                    entity: None,
                    protocol: api.protocol,
                    providers: Vec::new(),
                    consumers: Vec::new(),
                })
                .providers
                .push(manifest.name.clone());
        }
    }
    for (manifest, _) in resolved {
        for dep in &manifest.consumes {
            if let Some(api) = dep.api.as_deref().and_then(|a| apis.get_mut(a)) {
                api.consumers.push(manifest.name.clone());
            }
        }
    }
    apis
}

/// Datastores from resources and from what services declare.
fn datastore_views(
    declared: &Declared,
    resolved: &[(ServiceManifest, &ServiceMeta)],
) -> BTreeMap<String, DatastoreView> {
    let mut stores: BTreeMap<String, DatastoreView> = declared
        .resources
        .iter()
        .map(|(name, entity)| {
            (
                name.clone(),
                DatastoreView {
                    name: name.clone(),
                    kind: entity.resource_type.clone(),
                    entity: Some(entity.clone()),
                    users: Vec::new(),
                },
            )
        })
        .collect();
    for (manifest, _) in resolved {
        for store in &manifest.datastores {
            stores
                .entry(store.name.clone())
                .or_insert_with(|| DatastoreView {
                    name: store.name.clone(),
                    kind: store.kind.clone(),
                    entity: None,
                    users: Vec::new(),
                })
                .users
                .push((manifest.name.clone(), store.access));
        }
    }
    stores
}

#[cfg(test)]
mod tests;
