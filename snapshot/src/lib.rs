//! The resolved catalog as every reader sees it: one immutable [`Snapshot`], built after
//! each committed change from what the store holds (the [`Declared`] catalog) and shared
//! read-only. Relations are resolved here, over the whole catalog
//! ([`seam_catalog::Resolver`]); the indexes readers need (APIs with their providers,
//! datastores with their users, systems, domains, teams, reverse dependencies, instances)
//! are built once per change, not per page view.
//!
//! After a few services changed, [`Snapshot::rebuild`] derives the next snapshot from the
//! previous one: it resolves again only what the change can reach and shares every
//! other view with the previous snapshot (views are reference counted), with the same
//! result as [`Snapshot::build`].
//!
//! This crate does no I/O, has no async code and never panics on odd input.

mod query;
#[cfg(test)]
mod reference;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

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

/// Everything the catalog declares, as stored, keyed by name (a service by its manifest's
/// name): the input of a snapshot.
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
///
/// Views are reference counted: a snapshot rebuilt after a change shares the views the
/// change does not reach with the snapshot before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Increases with every published change; 0 for the empty snapshot.
    pub generation: u64,
    services: BTreeMap<Arc<str>, Arc<ServiceView>>,
    apis: BTreeMap<Arc<str>, Arc<ApiView>>,
    datastores: BTreeMap<Arc<str>, Arc<DatastoreView>>,
    /// Systems, domains, teams and facets: rebuilt together, only when a change moves a
    /// service between them.
    groups: Arc<Groups>,
}

/// The services grouped by system, domain and team, and the facets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Groups {
    systems: BTreeMap<String, SystemView>,
    domains: BTreeMap<String, DomainView>,
    teams: BTreeMap<String, TeamView>,
    facets: Facets,
}

impl Snapshot {
    /// Resolves `declared` into a snapshot numbered `generation`.
    pub fn build(declared: &Declared, generation: u64) -> Snapshot {
        let resolver = resolver(declared);
        let resolved: Vec<ServiceManifest> = declared
            .services
            .values()
            .map(|s| resolve(&resolver, &s.manifest))
            .collect();
        drop(resolver);

        let mut apis = api_views(declared, &resolved);
        let consumes: Vec<Vec<ResolvedDependency>> = resolved
            .iter()
            .map(|manifest| {
                resolve_consumes(
                    manifest,
                    |api| Some(apis.get(api)?.providers.first()?.as_str()),
                    declared,
                )
            })
            .collect();
        // Reverse dependencies, by the position of the service depended on (the last
        // of a name, as the map of services keeps the last).
        let mut incoming: Vec<Vec<Consumer>> = vec![Vec::new(); resolved.len()];
        {
            let position: HashMap<&str, usize> = resolved
                .iter()
                .enumerate()
                .map(|(i, m)| (m.name.as_str(), i))
                .collect();
            for (manifest, deps) in resolved.iter().zip(&consumes) {
                for dep in deps {
                    let Some(target) = dep.target().filter(|t| *t != manifest.name) else {
                        continue;
                    };
                    if let Some(&i) = position.get(target) {
                        incoming[i].push(Consumer {
                            service: manifest.name.clone(),
                            dependency: dep.declared.clone(),
                        });
                    }
                }
            }
        }
        for api in apis.values_mut() {
            api.consumers.sort_unstable();
            api.consumers.dedup();
        }
        let apis: BTreeMap<Arc<str>, Arc<ApiView>> = apis
            .into_iter()
            .map(|(name, view)| (Arc::from(name), Arc::new(view)))
            .collect();
        let datastores: BTreeMap<Arc<str>, Arc<DatastoreView>> =
            datastore_views(declared, &resolved)
                .into_iter()
                .map(|(name, view)| (Arc::from(name), Arc::new(view)))
                .collect();

        let mut services: BTreeMap<Arc<str>, Arc<ServiceView>> = BTreeMap::new();
        let metas = declared.services.values().map(|s| &s.meta);
        for (((manifest, consumes), consumers), meta) in
            resolved.into_iter().zip(consumes).zip(incoming).zip(metas)
        {
            services.insert(
                Arc::from(manifest.name.as_str()),
                Arc::new(ServiceView {
                    manifest,
                    meta: meta.clone(),
                    consumes,
                    consumers,
                }),
            );
        }
        let groups = Arc::new(group(declared, services.values().map(|v| &v.manifest)));
        Snapshot {
            generation,
            services,
            apis,
            datastores,
            groups,
        }
    }

    /// The snapshot of `declared` numbered `generation`, when `self` is the snapshot of
    /// what was declared before and only the services named in `changed` were created,
    /// updated or deleted since (manifest or metadata; entities other than services
    /// unchanged). The same as [`Snapshot::build`], but only what the change reaches is
    /// resolved again: the changed services, the Backstage components whose `dependsOn`
    /// names one of them or a resource whose dependents changed, the services whose
    /// dependencies lead elsewhere now, the services, APIs and datastores at the other
    /// end, and systems, domains and teams when a service moved between them. Views the
    /// change does not reach are shared with `self`.
    ///
    /// Falls back to a full build when `declared` visibly does not follow from `self`
    /// (services not named appeared or went, a service is keyed by another name than
    /// its manifest's).
    pub fn rebuild(&self, declared: &Declared, changed: &[&str], generation: u64) -> Snapshot {
        self.derive(declared, changed, generation)
            .unwrap_or_else(|| Snapshot::build(declared, generation))
    }

    /// [`Snapshot::rebuild`], or `None` where `declared` does not follow from `self`.
    fn derive(&self, declared: &Declared, changed: &[&str], generation: u64) -> Option<Snapshot> {
        let changed: BTreeSet<&str> = changed.iter().copied().collect();
        // Every service not named is in both catalogs or in neither, and keyed by its
        // manifest's name (the old snapshot's keys are those names).
        let mut before = self.services.keys().filter(|n| !changed.contains(&***n));
        let mut after = declared
            .services
            .keys()
            .filter(|n| !changed.contains(n.as_str()));
        loop {
            match (before.next(), after.next()) {
                (None, None) => break,
                (Some(b), Some(a)) if **b == **a => {}
                _ => return None,
            }
        }
        for name in &changed {
            if declared
                .services
                .get(*name)
                .is_some_and(|s| s.manifest.name != *name)
            {
                return None;
            }
        }
        // Services that appeared or went.
        let arrived_or_left: HashSet<&str> = changed
            .iter()
            .copied()
            .filter(|n| self.services.contains_key(*n) != declared.services.contains_key(*n))
            .collect();

        // 1. Services resolved again: the changed ones, and the Backstage components
        // whose `dependsOn` names a service that appeared or went (a name then means a
        // resource or a component) or a name a changed service's `dependsOn` names (a
        // resource's dependents decide whether it is owned or shared).
        let mut names: HashSet<&str> = arrived_or_left.clone();
        for name in &changed {
            let before = self.services.get(*name).map(|v| &v.manifest);
            let after = declared.services.get(*name).map(|s| &s.manifest);
            for manifest in before.into_iter().chain(after) {
                names.extend(
                    manifest
                        .relations
                        .depends_on
                        .iter()
                        .map(|d| d.name.as_str()),
                );
            }
        }
        let mut resolved_again: BTreeSet<&str> = changed.clone();
        if !names.is_empty() {
            for (name, service) in &declared.services {
                let refs = &service.manifest.relations.depends_on;
                if refs.iter().any(|d| names.contains(d.name.as_str())) {
                    resolved_again.insert(name);
                }
            }
        }
        let fresh: BTreeMap<&str, ServiceManifest> = {
            let present: Vec<&DeclaredService> = resolved_again
                .iter()
                .filter_map(|n| declared.services.get(*n))
                .collect();
            if present.is_empty() {
                BTreeMap::new()
            } else {
                let resolver = resolver(declared);
                present
                    .into_iter()
                    .map(|s| (s.manifest.name.as_str(), resolve(&resolver, &s.manifest)))
                    .collect()
            }
        };
        // A service's resolved manifest in the new snapshot; `None` once it went.
        let manifest_of = |name: &str| -> Option<&ServiceManifest> {
            if resolved_again.contains(name) {
                fresh.get(name)
            } else {
                self.services.get(name).map(|v| &v.manifest)
            }
        };

        // 2. APIs and datastores the resolved-again services name, before or after;
        // the APIs they stopped or started providing.
        let mut apis_named: BTreeSet<&str> = BTreeSet::new();
        let mut stores_named: BTreeSet<&str> = BTreeSet::new();
        let mut providers_moved: HashSet<&str> = HashSet::new();
        for name in &resolved_again {
            let before = self.services.get(*name).map(|v| &v.manifest);
            let after = fresh.get(*name);
            let (was, is) = (provided(before), provided(after));
            providers_moved.extend(was.symmetric_difference(&is));
            apis_named.extend(was.union(&is));
            for manifest in before.into_iter().chain(after) {
                apis_named.extend(manifest.consumes.iter().filter_map(|d| d.api.as_deref()));
                stores_named.extend(manifest.datastores.iter().map(|d| d.name.as_str()));
            }
        }

        // 3. Services whose dependencies are resolved again: those resolved again,
        // and those that depend on a service that appeared or went or on an API whose
        // providers changed. Those that went are in, for their reverse dependencies.
        let mut relinked: BTreeSet<&str> = resolved_again.clone();
        if !arrived_or_left.is_empty() || !providers_moved.is_empty() {
            for (name, view) in &self.services {
                let reached = view.consumes.iter().any(|d| {
                    let dep = &d.declared;
                    dep.service
                        .as_deref()
                        .is_some_and(|s| arrived_or_left.contains(s))
                        || dep
                            .api
                            .as_deref()
                            .is_some_and(|a| providers_moved.contains(a))
                });
                if reached {
                    relinked.insert(name);
                }
            }
        }

        // 4. The APIs named: providers and consumers again, from the old lists without
        // the services resolved again, and what those (and the relinked) declare now.
        let mut api_consumers: HashMap<&str, Vec<&str>> = HashMap::new();
        for name in &relinked {
            for dep in manifest_of(name).map_or(&[][..], |m| &m.consumes[..]) {
                if let Some(api) = dep.api.as_deref().filter(|a| apis_named.contains(a)) {
                    api_consumers.entry(api).or_default().push(name);
                }
            }
        }
        let mut apis = self.apis.clone();
        for &api in &apis_named {
            let old = self.apis.get(api);
            let entity = declared.apis.get(api);
            let mut providers: Vec<&str> = old.map_or_else(Vec::new, |v| {
                v.providers
                    .iter()
                    .map(String::as_str)
                    .filter(|p| !resolved_again.contains(p))
                    .collect()
            });
            for manifest in fresh.values() {
                for provided in &manifest.provides {
                    if provided.name == api {
                        providers.push(&manifest.name);
                    }
                }
            }
            providers.sort_unstable();
            let protocol = match (entity, providers.first()) {
                (Some(entity), _) => entity.protocol,
                (None, Some(first)) => {
                    manifest_of(first)?
                        .provides
                        .iter()
                        .find(|p| p.name == api)?
                        .protocol
                }
                (None, None) => {
                    apis.remove(api);
                    continue;
                }
            };
            let mut consumers: Vec<&str> = old.map_or_else(Vec::new, |v| {
                v.consumers
                    .iter()
                    .map(String::as_str)
                    .filter(|c| !resolved_again.contains(c))
                    .collect()
            });
            consumers.extend(api_consumers.get(api).into_iter().flatten());
            consumers.sort_unstable();
            consumers.dedup();
            apis.insert(
                Arc::from(api),
                Arc::new(ApiView {
                    name: api.to_owned(),
                    entity: entity.cloned(),
                    protocol,
                    providers: providers.into_iter().map(str::to_owned).collect(),
                    consumers: consumers.into_iter().map(str::to_owned).collect(),
                }),
            );
        }

        // 5. The datastores named: users again, the same way.
        let mut datastores = self.datastores.clone();
        for &store in &stores_named {
            let old = self.datastores.get(store);
            let entity = declared.resources.get(store);
            let mut users: Vec<(&str, Access)> = old.map_or_else(Vec::new, |v| {
                v.users
                    .iter()
                    .filter(|(u, _)| !resolved_again.contains(u.as_str()))
                    .map(|(u, access)| (u.as_str(), *access))
                    .collect()
            });
            for manifest in fresh.values() {
                for used in &manifest.datastores {
                    if used.name == store {
                        users.push((&manifest.name, used.access));
                    }
                }
            }
            // Stable: a service's uses of one datastore stay in their order.
            users.sort_by(|a, b| a.0.cmp(b.0));
            let kind = match (entity, users.first()) {
                (Some(entity), _) => entity.resource_type.clone(),
                (None, Some((first, _))) => manifest_of(first)?
                    .datastores
                    .iter()
                    .find(|d| d.name == store)?
                    .kind
                    .clone(),
                (None, None) => {
                    datastores.remove(store);
                    continue;
                }
            };
            datastores.insert(
                Arc::from(store),
                Arc::new(DatastoreView {
                    name: store.to_owned(),
                    kind,
                    entity: entity.cloned(),
                    users: users.into_iter().map(|(u, a)| (u.to_owned(), a)).collect(),
                }),
            );
        }

        // 6. Dependencies of the relinked services, and the reverse dependencies of
        // the services at either end.
        let consumes: BTreeMap<&str, Vec<ResolvedDependency>> = relinked
            .iter()
            .filter_map(|name| {
                let manifest = manifest_of(name)?;
                let first_provider = |api: &str| Some(apis.get(api)?.providers.first()?.as_str());
                Some((*name, resolve_consumes(manifest, first_provider, declared)))
            })
            .collect();
        let mut incoming: HashMap<&str, Vec<Consumer>> = HashMap::new();
        let mut retargeted: BTreeSet<&str> = relinked.clone();
        for name in &relinked {
            if let Some(view) = self.services.get(*name) {
                retargeted.extend(view.consumes.iter().filter_map(ResolvedDependency::target));
            }
        }
        for (name, deps) in &consumes {
            for dep in deps {
                let Some(target) = dep.target().filter(|t| t != name) else {
                    continue;
                };
                retargeted.insert(target);
                incoming.entry(target).or_default().push(Consumer {
                    service: (*name).to_owned(),
                    dependency: dep.declared.clone(),
                });
            }
        }

        let mut services = self.services.clone();
        for name in &changed {
            if !declared.services.contains_key(*name) {
                services.remove(*name);
            }
        }
        for &name in &retargeted {
            let Some(declared_service) = declared.services.get(name) else {
                continue;
            };
            let old = self.services.get(name);
            let manifest = match fresh.get(name) {
                Some(manifest) => manifest.clone(),
                None => old?.manifest.clone(),
            };
            let consumes = match consumes.get(name) {
                Some(deps) => deps.clone(),
                None => old?.consumes.clone(),
            };
            let mut consumers: Vec<Consumer> = old.map_or_else(Vec::new, |v| {
                v.consumers
                    .iter()
                    .filter(|c| !relinked.contains(c.service.as_str()))
                    .cloned()
                    .collect()
            });
            consumers.extend(incoming.remove(name).into_iter().flatten());
            // Stable: by the depending service, in the order of its dependencies.
            consumers.sort_by(|a, b| a.service.cmp(&b.service));
            services.insert(
                Arc::from(name),
                Arc::new(ServiceView {
                    manifest,
                    meta: declared_service.meta.clone(),
                    consumes,
                    consumers,
                }),
            );
        }
        if services.len() != declared.services.len() {
            return None;
        }

        // 7. Systems, domains, teams and facets again when a service moved between
        // them, appeared or went.
        let regroup = resolved_again.iter().any(|name| {
            match (
                self.services.get(*name).map(|v| &v.manifest),
                fresh.get(*name),
            ) {
                (None, None) => false,
                (Some(a), Some(b)) => {
                    a.owner != b.owner
                        || a.system != b.system
                        || a.domain != b.domain
                        || a.lifecycle != b.lifecycle
                }
                _ => true,
            }
        });
        let groups = if regroup {
            Arc::new(group(declared, services.values().map(|v| &v.manifest)))
        } else {
            self.groups.clone()
        };
        Some(Snapshot {
            generation,
            services,
            apis,
            datastores,
            groups,
        })
    }

    pub fn service(&self, name: &str) -> Option<&ServiceView> {
        self.services.get(name).map(|v| &**v)
    }

    /// Every service, ordered by name.
    pub fn services(&self) -> impl ExactSizeIterator<Item = &ServiceView> {
        self.services.values().map(|v| &**v)
    }

    pub fn api(&self, name: &str) -> Option<&ApiView> {
        self.apis.get(name).map(|v| &**v)
    }

    /// Every API, provided by a service or declared as an entity, ordered by name.
    pub fn apis(&self) -> impl ExactSizeIterator<Item = &ApiView> {
        self.apis.values().map(|v| &**v)
    }

    pub fn datastore(&self, name: &str) -> Option<&DatastoreView> {
        self.datastores.get(name).map(|v| &**v)
    }

    pub fn datastores(&self) -> impl ExactSizeIterator<Item = &DatastoreView> {
        self.datastores.values().map(|v| &**v)
    }

    pub fn systems(&self) -> impl ExactSizeIterator<Item = &SystemView> {
        self.groups.systems.values()
    }

    pub fn domains(&self) -> impl ExactSizeIterator<Item = &DomainView> {
        self.groups.domains.values()
    }

    pub fn teams(&self) -> impl ExactSizeIterator<Item = &TeamView> {
        self.groups.teams.values()
    }

    /// Every instance of every service, by service name.
    pub fn instances(&self) -> impl Iterator<Item = InstanceRef<'_>> {
        self.services().flat_map(|view| {
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
        &self.groups.facets
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
            NameKind::System => self.groups.systems.contains_key(name),
            NameKind::Domain => self.groups.domains.contains_key(name),
            NameKind::Group => self.groups.teams.contains_key(name),
            NameKind::Resource => self.datastores.contains_key(name),
        }
    }
}

/// The names of the APIs a service provides.
fn provided(manifest: Option<&ServiceManifest>) -> BTreeSet<&str> {
    manifest
        .into_iter()
        .flat_map(|m| m.provides.iter().map(|p| p.name.as_str()))
        .collect()
}

/// What resolving a service needs to know of the whole declared catalog.
fn resolver(declared: &Declared) -> Resolver<'_> {
    let manifests: Vec<&ServiceManifest> =
        declared.services.values().map(|s| &s.manifest).collect();
    Resolver::new(
        &manifests,
        declared.apis.values(),
        declared.systems.values(),
        declared.resources.values(),
    )
}

/// [`Resolver::service`]; a manifest without Backstage relations only takes its
/// system's domain when it declares none.
fn resolve(resolver: &Resolver<'_>, declared: &ServiceManifest) -> ServiceManifest {
    if !declared.relations.is_empty() {
        return resolver.service(declared);
    }
    let mut manifest = declared.clone();
    if manifest.domain.is_none() {
        manifest.domain = resolver.domain_of(declared);
    }
    manifest
}

/// A service's dependencies with where each leads: the service named, or the first
/// provider of the API named.
fn resolve_consumes<'p>(
    manifest: &ServiceManifest,
    first_provider: impl Fn(&str) -> Option<&'p str>,
    declared: &Declared,
) -> Vec<ResolvedDependency> {
    manifest
        .consumes
        .iter()
        .map(|dep| {
            let provider = dep
                .service
                .clone()
                .or_else(|| first_provider(dep.api.as_deref()?).map(str::to_owned));
            let known = provider
                .as_deref()
                .is_some_and(|p| declared.services.contains_key(p));
            ResolvedDependency {
                declared: dep.clone(),
                provider,
                known,
            }
        })
        .collect()
}

/// The row of `name` in `map`, added by `new` when missing.
fn row<'m, V>(map: &'m mut BTreeMap<String, V>, name: &str, new: impl FnOnce() -> V) -> &'m mut V {
    if !map.contains_key(name) {
        map.insert(name.to_owned(), new());
    }
    map.get_mut(name).expect("the row was just added")
}

/// Systems, domains, teams and the facets from the services (in name order) and
/// entities.
fn group<'a>(
    declared: &Declared,
    services: impl Iterator<Item = &'a ServiceManifest> + Clone,
) -> Groups {
    let mut groups = Groups::default();
    let Groups {
        systems,
        domains,
        teams,
        facets,
    } = &mut groups;
    for (name, system) in &declared.systems {
        systems.insert(
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
        domains.insert(name.clone(), domain_view(name, Some(domain)));
    }
    for (name, team) in &declared.teams {
        let mut view = team_view(name, Some(team));
        view.members = team.members.clone();
        teams.insert(name.clone(), view);
    }
    let mut listed: BTreeSet<(&str, &str)> = declared
        .teams
        .values()
        .flat_map(|t| t.members.iter().map(|m| (t.name.as_str(), m.as_str())))
        .collect();
    for (user, entity) in &declared.users {
        for group in &entity.member_of {
            if let Some(team) = teams.get_mut(group) {
                if listed.insert((group, user)) {
                    team.members.push(user.clone());
                }
            }
        }
    }
    let mut values: [BTreeSet<&str>; 4] = Default::default();
    for m in services.clone() {
        values[0].insert(&m.owner);
        values[3].insert(&m.lifecycle);
        row(teams, &m.owner, || team_view(&m.owner, None))
            .services
            .push(m.name.clone());
        if let Some(system) = &m.system {
            values[2].insert(system);
            let row = row(systems, system, || SystemView {
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
            values[1].insert(domain);
            row(domains, domain, || domain_view(domain, None))
                .services
                .push(m.name.clone());
        }
    }
    for system in systems.values() {
        if let Some(domain) = &system.domain {
            row(domains, domain, || domain_view(domain, None))
                .systems
                .push(system.name.clone());
        }
        // A team owns a system it declares, or one its services all sit in.
        if let Some(owner) = system.entity.as_ref().map(|s| &s.owner) {
            row(teams, owner, || team_view(owner, None))
                .systems
                .push(system.name.clone());
        }
    }
    for (name, domain) in &declared.domains {
        row(teams, &domain.owner, || team_view(&domain.owner, None))
            .domains
            .push(name.clone());
    }
    for (name, api) in &declared.apis {
        row(teams, &api.owner, || team_view(&api.owner, None))
            .apis
            .push(name.clone());
    }
    // Services name systems and domains their teams do not declare as entities: a
    // team is shown with the systems and domains its services are in.
    let mut in_use: BTreeMap<&str, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for m in services {
        let entry = in_use.entry(&m.owner).or_default();
        entry.0.extend(m.system.as_deref());
        entry.1.extend(m.domain.as_deref());
    }
    for (team, (in_systems, in_domains)) in in_use {
        if let Some(row) = teams.get_mut(team) {
            row.systems
                .extend(in_systems.into_iter().map(str::to_owned));
            row.domains
                .extend(in_domains.into_iter().map(str::to_owned));
        }
    }
    for team in teams.values_mut() {
        for list in [&mut team.systems, &mut team.domains, &mut team.apis] {
            list.sort();
            list.dedup();
        }
    }
    for domain in domains.values_mut() {
        domain.systems.sort();
        domain.systems.dedup();
    }
    let [owners, in_domains, in_systems, lifecycles] =
        values.map(|set| set.into_iter().map(str::to_owned).collect::<Vec<_>>());
    *facets = Facets {
        owners,
        domains: in_domains,
        systems: in_systems,
        lifecycles,
    };
    groups
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

/// APIs from API entities and from what services provide and consume (consumers not
/// yet sorted).
fn api_views<'a>(
    declared: &'a Declared,
    resolved: &'a [ServiceManifest],
) -> BTreeMap<&'a str, ApiView> {
    let mut apis: BTreeMap<&str, ApiView> = declared
        .apis
        .iter()
        .map(|(name, entity)| {
            (
                name.as_str(),
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
    for manifest in resolved {
        for api in &manifest.provides {
            apis.entry(&api.name)
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
    for manifest in resolved {
        for dep in &manifest.consumes {
            if let Some(api) = dep.api.as_deref().and_then(|a| apis.get_mut(a)) {
                api.consumers.push(manifest.name.clone());
            }
        }
    }
    apis
}

/// Datastores from resources and from what services declare.
fn datastore_views<'a>(
    declared: &'a Declared,
    resolved: &'a [ServiceManifest],
) -> BTreeMap<&'a str, DatastoreView> {
    let mut stores: BTreeMap<&str, DatastoreView> = declared
        .resources
        .iter()
        .map(|(name, entity)| {
            (
                name.as_str(),
                DatastoreView {
                    name: name.clone(),
                    kind: entity.resource_type.clone(),
                    entity: Some(entity.clone()),
                    users: Vec::new(),
                },
            )
        })
        .collect();
    for manifest in resolved {
        for store in &manifest.datastores {
            stores
                .entry(&store.name)
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
