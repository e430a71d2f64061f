//! Server-side assembly of page data from store records (compiled with `ssr` only).

use std::collections::{BTreeMap, BTreeSet};

use seam_catalog::manifest::{Access, Loaded, Mode, Protocol, ServiceManifest, Severity};
use seam_store::{EntityRecord, RevisionRecord, ServiceRecord};

use crate::dto::{
    ApiRow, DatastoreRow, DependencyRow, DiagnosticRow, DomainRow, InstanceRow, ManifestCheck,
    RevisionRow, ServiceDetail, TeamRow,
};

fn protocol(p: Protocol) -> String {
    match p {
        Protocol::Http => "http",
        Protocol::Grpc => "grpc",
        Protocol::Event => "event",
        Protocol::Graphql => "graphql",
    }
    .to_owned()
}

fn mode(m: Mode) -> String {
    match m {
        Mode::Sync => "sync",
        Mode::Async => "async",
    }
    .to_owned()
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The manifest of a revision as pretty JSON, the form revisions are compared in.
pub fn pretty_manifest(revision: &RevisionRecord) -> String {
    match serde_json::from_str::<serde_json::Value>(&revision.manifest) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => revision.manifest.clone(),
    }
}

/// Builds the service page of `record`, with declared dependencies in both directions
/// found among `all` services.
pub fn build(
    record: ServiceRecord,
    all: &[ServiceRecord],
    history: Vec<RevisionRecord>,
) -> ServiceDetail {
    let manifests: Vec<ServiceManifest> = all.iter().filter_map(ServiceRecord::manifest).collect();
    let me = record.manifest();
    let name = record.name.clone();
    let known: BTreeSet<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
    let api_provider: BTreeMap<&str, &str> = manifests
        .iter()
        .flat_map(|m| {
            m.provides
                .iter()
                .map(move |a| (a.name.as_str(), m.name.as_str()))
        })
        .collect();
    let my_apis: BTreeSet<&str> = me
        .iter()
        .flat_map(|m| m.provides.iter().map(|a| a.name.as_str()))
        .collect();

    let consumes = me
        .iter()
        .flat_map(|m| m.consumes.iter())
        .map(|d| {
            let service = d
                .service
                .clone()
                .or_else(|| {
                    d.api
                        .as_deref()
                        .and_then(|a| api_provider.get(a))
                        .map(|s| s.to_string())
                })
                .unwrap_or_default();
            DependencyRow {
                known: known.contains(service.as_str()),
                service,
                api: d.api.clone().unwrap_or_default(),
                version_req: d.version_req.clone().unwrap_or_default(),
                mode: mode(d.mode),
                protocol: protocol(d.protocol),
            }
        })
        .collect();
    let consumers = manifests
        .iter()
        .filter(|m| m.name != name)
        .flat_map(|m| m.consumes.iter().map(move |d| (m, d)))
        .filter(|(_, d)| {
            d.service.as_deref() == Some(name.as_str())
                || d.api.as_deref().is_some_and(|a| my_apis.contains(a))
        })
        .map(|(m, d)| DependencyRow {
            service: m.name.clone(),
            api: d.api.clone().unwrap_or_default(),
            version_req: d.version_req.clone().unwrap_or_default(),
            mode: mode(d.mode),
            protocol: protocol(d.protocol),
            known: true,
        })
        .collect();
    let datastores = me
        .iter()
        .flat_map(|m| m.datastores.iter())
        .map(|ds| DatastoreRow {
            name: ds.name.clone(),
            kind: ds.kind.clone(),
            access: match ds.access {
                Access::Owned => "owned",
                Access::Shared => "shared",
            }
            .to_owned(),
            shared_with: manifests
                .iter()
                .filter(|m| m.name != name && m.datastores.iter().any(|o| o.name == ds.name))
                .map(|m| m.name.clone())
                .collect(),
        })
        .collect();
    let manifest_json = me
        .as_ref()
        .and_then(|m| serde_json::to_string_pretty(m).ok())
        .unwrap_or_default();
    let revisions = history
        .into_iter()
        .rev()
        .map(|r| RevisionRow {
            revision: r.revision,
            source: r.source,
            valid_from: timestamp(r.valid_from),
            valid_to: r.valid_to.map(timestamp).unwrap_or_default(),
        })
        .collect();
    let me = me.unwrap_or_else(|| empty_manifest(&record));
    ServiceDetail {
        description: me.description.clone().unwrap_or_default(),
        links: me
            .links
            .iter()
            .map(|l| {
                (
                    l.url.clone(),
                    l.title.clone().unwrap_or_else(|| l.url.clone()),
                )
            })
            .collect(),
        instances: me
            .instances
            .iter()
            .map(|i| InstanceRow {
                base_url: i.base_url.clone(),
                metrics_url: i.metrics_url.clone(),
                health_url: i.health_url.clone(),
            })
            .collect(),
        provides: me
            .provides
            .iter()
            .map(|a| ApiRow {
                name: a.name.clone(),
                version: a.version.clone().unwrap_or_default(),
                protocol: protocol(a.protocol),
            })
            .collect(),
        libraries: me
            .libraries
            .iter()
            .map(|l| (l.name.clone(), l.version.clone()))
            .collect(),
        consumes,
        consumers,
        datastores,
        revisions,
        manifest_json,
        row: record.into(),
    }
}

fn empty_manifest(record: &ServiceRecord) -> ServiceManifest {
    ServiceManifest {
        domain: record.domain.clone(),
        system: record.system.clone(),
        lifecycle: record.lifecycle.clone(),
        kind: record.kind.clone(),
        description: record.description.clone(),
        ..ServiceManifest::minimal(&record.name, &record.owner, record.version.clone())
    }
}

fn spec_field(entity: &EntityRecord, field: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&entity.spec)
        .ok()?
        .get(field)?
        .as_str()
        .map(str::to_owned)
}

/// Every team, declared (Backstage groups) or named as an owner, with what it owns.
pub fn teams(services: &[ServiceRecord], entities: &[EntityRecord]) -> Vec<TeamRow> {
    fn team<'a>(teams: &'a mut BTreeMap<String, TeamRow>, name: &str) -> &'a mut TeamRow {
        teams.entry(name.to_owned()).or_insert_with(|| TeamRow {
            name: name.to_owned(),
            parent: String::new(),
            services: Vec::new(),
            systems: Vec::new(),
            domains: Vec::new(),
            apis: Vec::new(),
        })
    }
    let mut teams = BTreeMap::new();
    for e in entities {
        match (e.kind.as_str(), e.owner.as_deref()) {
            ("team", _) => {
                team(&mut teams, &e.name).parent = spec_field(e, "parent").unwrap_or_default()
            }
            ("system", Some(owner)) => team(&mut teams, owner).systems.push(e.name.clone()),
            ("domain", Some(owner)) => team(&mut teams, owner).domains.push(e.name.clone()),
            ("api", Some(owner)) => team(&mut teams, owner).apis.push(e.name.clone()),
            _ => {}
        }
    }
    for s in services {
        team(&mut teams, &s.owner).services.push(s.name.clone());
    }
    teams.into_values().collect()
}

/// Every domain, declared or named by a service, with its systems and services.
pub fn domains(services: &[ServiceRecord], entities: &[EntityRecord]) -> Vec<DomainRow> {
    fn domain<'a>(domains: &'a mut BTreeMap<String, DomainRow>, name: &str) -> &'a mut DomainRow {
        domains.entry(name.to_owned()).or_insert_with(|| DomainRow {
            name: name.to_owned(),
            owner: String::new(),
            description: String::new(),
            systems: Vec::new(),
            services: Vec::new(),
        })
    }
    let mut domains = BTreeMap::new();
    for e in entities {
        match e.kind.as_str() {
            "domain" => {
                let row = domain(&mut domains, &e.name);
                row.owner = e.owner.clone().unwrap_or_default();
                row.description = spec_field(e, "description").unwrap_or_default();
            }
            "system" => {
                if let Some(d) = spec_field(e, "domain") {
                    domain(&mut domains, &d).systems.push(e.name.clone());
                }
            }
            _ => {}
        }
    }
    for s in services {
        if let Some(d) = &s.domain {
            let row = domain(&mut domains, d);
            row.services.push(s.name.clone());
            // A service's system belongs to its domain even when no System entity says so.
            if let Some(system) = &s.system {
                if !row.systems.contains(system) {
                    row.systems.push(system.clone());
                }
            }
        }
    }
    let mut rows: Vec<DomainRow> = domains.into_values().collect();
    for row in &mut rows {
        row.systems.sort();
    }
    rows
}

/// The page's view of what loading a pasted manifest found.
pub fn check_of(loaded: &Loaded) -> ManifestCheck {
    let c = &loaded.catalog;
    ManifestCheck {
        diagnostics: loaded
            .diagnostics
            .iter()
            .map(|d| DiagnosticRow {
                error: d.severity == Severity::Error,
                document: d.document,
                line: d.line.unwrap_or(0),
                column: d.column.unwrap_or(0),
                path: d.path.clone(),
                message: d.message.clone(),
            })
            .collect(),
        services: c.services.len(),
        entities: c.apis.len()
            + c.systems.len()
            + c.domains.len()
            + c.teams.len()
            + c.resources.len(),
        changes: Vec::new(),
        refused: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use seam_catalog::manifest::{Datastore, Dependency, ProvidedApi};

    fn record(manifest: ServiceManifest) -> ServiceRecord {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        ServiceRecord {
            id: 0,
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            owner: manifest.owner.clone(),
            domain: manifest.domain.clone(),
            system: manifest.system.clone(),
            lifecycle: manifest.lifecycle.clone(),
            kind: manifest.kind.clone(),
            description: None,
            source: "api".into(),
            manifest: serde_json::to_string(&manifest).unwrap(),
            revision: 1,
            registered_at: at,
            updated_at: at,
        }
    }

    fn manifest(name: &str, domain: &str, system: &str) -> ServiceManifest {
        ServiceManifest {
            domain: Some(domain.into()),
            system: Some(system.into()),
            ..ServiceManifest::minimal(name, "team", Some("1.0.0".into()))
        }
    }

    fn dependency(service: Option<&str>, api: Option<&str>) -> Dependency {
        Dependency {
            service: service.map(Into::into),
            api: api.map(Into::into),
            version_req: None,
            mode: Mode::Sync,
            protocol: Protocol::Http,
        }
    }

    #[test]
    fn dependencies_are_shown_both_ways_and_shared_datastores_named() {
        let db = Datastore {
            name: "shop-db".into(),
            kind: "postgresql".into(),
            access: Access::Shared,
        };
        let mut orders = manifest("orders", "commerce", "webshop");
        orders.provides.push(ProvidedApi {
            name: "orders-api".into(),
            version: None,
            protocol: Protocol::Http,
        });
        orders.consumes.push(dependency(Some("payments"), None));
        orders.consumes.push(dependency(Some("ghost"), None));
        orders.datastores.push(db.clone());
        let mut storefront = manifest("storefront", "commerce", "webshop");
        storefront
            .consumes
            .push(dependency(None, Some("orders-api")));
        let mut payments = manifest("payments", "finance", "billing");
        payments.consumes.push(dependency(Some("orders"), None));
        payments.datastores.push(db);
        let all: Vec<ServiceRecord> = [orders.clone(), storefront, payments]
            .into_iter()
            .map(record)
            .collect();

        let detail = build(record(orders), &all, Vec::new());
        let consumes: Vec<(&str, bool)> = detail
            .consumes
            .iter()
            .map(|d| (d.service.as_str(), d.known))
            .collect();
        assert_eq!(consumes, [("payments", true), ("ghost", false)]);
        let consumers: Vec<(&str, &str)> = detail
            .consumers
            .iter()
            .map(|d| (d.service.as_str(), d.api.as_str()))
            .collect();
        assert_eq!(consumers, [("storefront", "orders-api"), ("payments", "")]);
        assert_eq!(detail.datastores[0].shared_with, ["payments"]);

        let domains = domains(&all, &[]);
        let commerce = domains.iter().find(|d| d.name == "commerce").unwrap();
        assert_eq!(commerce.services, ["orders", "storefront"]);
        assert_eq!(commerce.systems, ["webshop"]);
    }
}
