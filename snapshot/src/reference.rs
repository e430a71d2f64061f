//! The snapshot build as it was before views were shared between snapshots: the
//! oracle the tests compare [`Snapshot::build`] (and so [`Snapshot::rebuild`]) with.

use std::collections::{BTreeMap, BTreeSet};

use seam_catalog::manifest::{DomainEntity, ServiceManifest, TeamEntity};
use seam_catalog::Resolver;

use crate::*;

/// What a snapshot held, built the old way.
#[derive(Debug, Default)]
pub(crate) struct Reference {
    pub generation: u64,
    pub services: BTreeMap<String, ServiceView>,
    pub apis: BTreeMap<String, ApiView>,
    pub datastores: BTreeMap<String, DatastoreView>,
    pub systems: BTreeMap<String, SystemView>,
    pub domains: BTreeMap<String, DomainView>,
    pub teams: BTreeMap<String, TeamView>,
    pub facets: Facets,
}

impl Reference {
    /// Resolves `declared` into a snapshot numbered `generation`.
    pub fn build(declared: &Declared, generation: u64) -> Reference {
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

        let mut snapshot = Reference {
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
