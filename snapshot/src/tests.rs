use chrono::{TimeZone, Utc};
use seam_catalog::manifest::{
    Access, Datastore, Dependency, DependsOnRef, Mode, ProvidedApi, RefTargetKind, ResourceEntity,
    SourceFormat, SystemEntity,
};

use super::*;

fn meta(minute: u32) -> ServiceMeta {
    ServiceMeta {
        revision: 1,
        source: "api".into(),
        registered_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        updated_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, minute, 0).unwrap(),
        origin: "api".into(),
        stale_since: None,
    }
}

fn service(name: &str, owner: &str) -> ServiceManifest {
    ServiceManifest::minimal(name, owner, Some("1.0.0".into()))
}

fn add(declared: &mut Declared, manifest: ServiceManifest) {
    declared.services.insert(
        manifest.name.clone(),
        DeclaredService {
            manifest,
            meta: meta(0),
        },
    );
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

/// A small shop: orders provides an API storefront consumes, payments depends on orders
/// by name, orders and payments share a database; a Backstage component reaches its
/// domain through its system and its datastore through a resource entity.
fn shop() -> Declared {
    let mut declared = Declared::default();
    let mut orders = service("orders", "team-orders");
    orders.domain = Some("commerce".into());
    orders.system = Some("webshop".into());
    orders.description = Some("Takes ORDERS".into());
    orders.provides.push(ProvidedApi {
        name: "orders-api".into(),
        version: None,
        protocol: Protocol::Http,
    });
    orders.consumes.push(dependency(Some("ghost"), None));
    orders.datastores.push(Datastore {
        name: "shop-db".into(),
        kind: "postgresql".into(),
        access: Access::Shared,
    });
    let mut storefront = service("storefront", "team-web");
    storefront.domain = Some("commerce".into());
    storefront
        .consumes
        .push(dependency(None, Some("orders-api")));
    let mut payments = service("payments", "team-pay");
    payments.domain = Some("finance".into());
    payments.consumes.push(dependency(Some("orders"), None));
    payments.datastores.push(Datastore {
        name: "shop-db".into(),
        kind: "postgresql".into(),
        access: Access::Shared,
    });
    let mut lookup = service("lookup", "team-a");
    lookup.source = SourceFormat::Backstage;
    lookup.system = Some("portal".into());
    lookup.relations.depends_on.push(DependsOnRef {
        kind: Some(RefTargetKind::Resource),
        name: "artists-db".into(),
    });
    for m in [orders, storefront, payments, lookup] {
        add(&mut declared, m);
    }
    declared.systems.insert(
        "portal".into(),
        SystemEntity {
            name: "portal".into(),
            owner: "team-a".into(),
            domain: Some("artists".into()),
            description: None,
        },
    );
    declared.resources.insert(
        "artists-db".into(),
        ResourceEntity {
            name: "artists-db".into(),
            resource_type: "database".into(),
            owner: "team-a".into(),
            system: Some("portal".into()),
        },
    );
    declared
}

#[test]
fn resolves_relations_and_reverse_dependencies() {
    let snapshot = Snapshot::build(&shop(), 1);
    let orders = snapshot.service("orders").unwrap();
    let consumes: Vec<(Option<&str>, bool)> = orders
        .consumes
        .iter()
        .map(|d| (d.target(), d.known))
        .collect();
    assert_eq!(consumes, [(Some("ghost"), false)]);
    let consumers: Vec<(&str, Option<&str>)> = orders
        .consumers
        .iter()
        .map(|c| (c.service.as_str(), c.dependency.api.as_deref()))
        .collect();
    assert_eq!(
        consumers,
        [("payments", None), ("storefront", Some("orders-api"))]
    );
    assert_eq!(snapshot.apis().len(), 1);
    assert_eq!(snapshot.datastores().len(), 2);
    let systems: Vec<&str> = snapshot.systems().map(|s| s.name.as_str()).collect();
    assert_eq!(systems, ["portal", "webshop"]);
    let api = snapshot.api("orders-api").unwrap();
    assert_eq!(api.providers, ["orders"]);
    assert_eq!(api.consumers, ["storefront"]);
    let db = snapshot.datastore("shop-db").unwrap();
    let users: Vec<&str> = db.users.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(users, ["orders", "payments"]);

    let lookup = snapshot.service("lookup").unwrap();
    assert_eq!(lookup.manifest.domain.as_deref(), Some("artists"));
    assert_eq!(lookup.manifest.datastores[0].kind, "database");
    assert_eq!(lookup.manifest.datastores[0].access, Access::Owned);
    let artists = snapshot.datastore("artists-db").unwrap();
    assert_eq!(artists.users, [("lookup".to_owned(), Access::Owned)]);
}

#[test]
fn groups_by_team_system_and_domain() {
    let snapshot = Snapshot::build(&shop(), 1);
    let domains: Vec<(&str, &[String], &[String])> = snapshot
        .domains()
        .map(|d| (d.name.as_str(), &d.systems[..], &d.services[..]))
        .collect();
    assert_eq!(
        domains,
        [
            (
                "artists",
                &["portal".to_owned()][..],
                &["lookup".to_owned()][..]
            ),
            (
                "commerce",
                &["webshop".to_owned()][..],
                &["orders".to_owned(), "storefront".to_owned()][..]
            ),
            ("finance", &[][..], &["payments".to_owned()][..]),
        ]
    );
    // Teams show the systems and domains their services declare, entity or not.
    let orders_team = snapshot.teams().find(|t| t.name == "team-orders").unwrap();
    assert_eq!(orders_team.systems, ["webshop"]);
    assert_eq!(orders_team.domains, ["commerce"]);
    let team_a = snapshot.teams().find(|t| t.name == "team-a").unwrap();
    assert_eq!(team_a.systems, ["portal"]);
    assert_eq!(team_a.domains, ["artists"]);
    assert_eq!(
        snapshot.facets().domains,
        ["artists", "commerce", "finance"]
    );
}

#[test]
fn filters_on_resolved_fields_and_text() {
    let snapshot = Snapshot::build(&shop(), 1);
    let names = |filter: ServiceFilter| -> Vec<String> {
        snapshot
            .query(&filter, 0, 100)
            .services
            .iter()
            .map(|v| v.name().to_owned())
            .collect()
    };
    // The Backstage component's domain comes through its system.
    assert_eq!(
        names(ServiceFilter {
            domain: Some("artists".into()),
            ..Default::default()
        }),
        ["lookup"]
    );
    // Text matches name, owner or description, in any case.
    assert_eq!(
        names(ServiceFilter {
            q: Some("orders".into()),
            ..Default::default()
        }),
        ["orders"]
    );
    assert_eq!(
        names(ServiceFilter {
            q: Some("TEAM-WEB".into()),
            ..Default::default()
        }),
        ["storefront"]
    );
    assert_eq!(
        names(ServiceFilter {
            sort: SortKey::Domain,
            descending: true,
            ..Default::default()
        }),
        ["payments", "storefront", "orders", "lookup"]
    );
}

#[test]
fn pages_through_thousands_without_losing_any() {
    let mut declared = Declared::default();
    for i in 0..5000 {
        let mut m = service(&format!("svc-{i:05}"), &format!("team-{}", i % 7));
        m.domain = Some(format!("d{}", i % 3));
        declared.services.insert(
            m.name.clone(),
            DeclaredService {
                manifest: m,
                meta: meta((i % 60) as u32),
            },
        );
    }
    let snapshot = Snapshot::build(&declared, 7);
    assert_eq!(snapshot.services().len(), 5000);
    let filter = ServiceFilter {
        domain: Some("d1".into()),
        sort: SortKey::Updated,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let page = snapshot.query(&filter, offset, 250);
        assert_eq!(page.total, 1667);
        if page.services.is_empty() {
            break;
        }
        offset += page.services.len();
        seen.extend(page.services.iter().map(|v| v.name().to_owned()));
    }
    assert_eq!(seen.len(), 1667);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 1667);
    assert_eq!(snapshot.instances().count(), 0);
}

#[test]
fn users_join_their_groups_whichever_batch_declared_them() {
    let mut declared = shop();
    declared.teams.insert(
        "team-a".into(),
        TeamEntity {
            name: "team-a".into(),
            group_type: "team".into(),
            parent: None,
            children: Vec::new(),
            members: vec!["john".into()],
            description: None,
        },
    );
    declared.users.insert(
        "jane".into(),
        UserEntity {
            name: "jane".into(),
            member_of: vec!["team-a".into(), "no-such-group".into()],
        },
    );
    let snapshot = Snapshot::build(&declared, 1);
    let team = snapshot.teams().find(|t| t.name == "team-a").unwrap();
    assert_eq!(team.members, ["john", "jane"]);
}
