//! Resolution of relations over the whole catalog: what a Backstage component's
//! `providesApis`, `consumesApis` and `dependsOn` mean (an API's protocol, a resource's
//! kind, whether a datastore is owned or shared) and a service's domain through its
//! system. It runs over everything the catalog knows, never over one batch, so the
//! result is the same whatever order and grouping the entities arrived in.

use std::collections::{HashMap, HashSet};

use crate::manifest::{
    Access, ApiEntity, Catalog, Datastore, Dependency, DependsOnRef, Mode, Protocol, ProvidedApi,
    RefTargetKind, ResourceEntity, ServiceManifest, SystemEntity,
};

/// What resolving a service needs to know of the rest of the catalog.
pub struct Resolver<'a> {
    services: HashSet<&'a str>,
    system_domains: HashMap<&'a str, &'a str>,
    api_protocols: HashMap<&'a str, Protocol>,
    resource_types: HashMap<&'a str, &'a str>,
    /// For each resource, how many services depend on it through `dependsOn`.
    resource_dependents: HashMap<&'a str, usize>,
}

impl<'a> Resolver<'a> {
    /// Indexes the declared catalog: every service as stored, and the other entities.
    pub fn new(
        services: &[&'a ServiceManifest],
        apis: impl IntoIterator<Item = &'a ApiEntity>,
        systems: impl IntoIterator<Item = &'a SystemEntity>,
        resources: impl IntoIterator<Item = &'a ResourceEntity>,
    ) -> Self {
        let mut resolver = Resolver {
            services: services.iter().map(|s| s.name.as_str()).collect(),
            system_domains: systems
                .into_iter()
                .filter_map(|s| Some((s.name.as_str(), s.domain.as_deref()?)))
                .collect(),
            api_protocols: apis
                .into_iter()
                .map(|a| (a.name.as_str(), a.protocol))
                .collect(),
            resource_types: resources
                .into_iter()
                .map(|r| (r.name.as_str(), r.resource_type.as_str()))
                .collect(),
            resource_dependents: HashMap::new(),
        };
        for service in services {
            let mut counted = HashSet::new();
            for dep in &service.relations.depends_on {
                if resolver.is_resource(dep) && counted.insert(dep.name.as_str()) {
                    *resolver
                        .resource_dependents
                        .entry(dep.name.as_str())
                        .or_default() += 1;
                }
            }
        }
        resolver
    }

    /// Whether a `dependsOn` entry names a resource: written so, or unqualified and
    /// naming a resource but no service.
    fn is_resource(&self, dep: &DependsOnRef) -> bool {
        match dep.kind {
            Some(RefTargetKind::Resource) => true,
            Some(RefTargetKind::Component) => false,
            None => {
                !self.services.contains(dep.name.as_str())
                    && self.resource_types.contains_key(dep.name.as_str())
            }
        }
    }

    /// The domain a service belongs to: its own, or its system's.
    pub fn domain_of(&self, service: &ServiceManifest) -> Option<String> {
        service.domain.clone().or_else(|| {
            let system = service.system.as_deref()?;
            self.system_domains.get(system).map(|d| (*d).to_owned())
        })
    }

    /// Returns `declared` with its relations mapped onto provides, consumes and
    /// datastores, and its domain resolved.
    pub fn service(&self, declared: &ServiceManifest) -> ServiceManifest {
        let mut service = declared.clone();
        service.domain = self.domain_of(declared);
        let relations = &declared.relations;
        // Sets of what is already there keep this linear in the relations' length.
        let mut provided: HashSet<String> =
            service.provides.iter().map(|p| p.name.clone()).collect();
        let mut stores: HashSet<String> =
            service.datastores.iter().map(|d| d.name.clone()).collect();
        for api in &relations.provides_apis {
            if provided.insert(api.clone()) {
                service.provides.push(ProvidedApi {
                    name: api.clone(),
                    version: None,
                    protocol: self.protocol(api),
                });
            }
        }
        for api in &relations.consumes_apis {
            let protocol = self.protocol(api);
            service.consumes.push(Dependency {
                service: None,
                api: Some(api.clone()),
                version_req: None,
                mode: mode_of(protocol),
                protocol,
            });
        }
        for dep in &relations.depends_on {
            let name = dep.name.as_str();
            if self.is_resource(dep) {
                if !stores.insert(name.to_owned()) {
                    continue;
                }
                let dependents = self.resource_dependents.get(name).copied().unwrap_or(0);
                service.datastores.push(Datastore {
                    name: name.to_owned(),
                    kind: self
                        .resource_types
                        .get(name)
                        .copied()
                        .unwrap_or("resource")
                        .to_owned(),
                    access: if dependents <= 1 {
                        Access::Owned
                    } else {
                        Access::Shared
                    },
                });
            } else if dep.kind == Some(RefTargetKind::Component) || self.services.contains(name) {
                service.consumes.push(Dependency {
                    service: Some(name.to_owned()),
                    api: None,
                    version_req: None,
                    mode: Mode::Sync,
                    protocol: Protocol::Http,
                });
            }
            // An unqualified name the catalog does not know yet resolves once it arrives.
        }
        service
    }

    /// The protocol of an API by its Backstage type; HTTP while the API is unknown.
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

/// Resolves every service of a catalog against the catalog itself, in declaration order.
pub fn resolve(catalog: &Catalog) -> Vec<ServiceManifest> {
    let services: Vec<&ServiceManifest> = catalog.services.iter().collect();
    let resolver = Resolver::new(
        &services,
        &catalog.apis,
        &catalog.systems,
        &catalog.resources,
    );
    services.iter().map(|s| resolver.service(s)).collect()
}
