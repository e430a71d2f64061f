use chrono::{TimeZone, Utc};
use seam_catalog::manifest::{
    Access, Datastore, Dependency, DependsOnRef, Mode, ProvidedApi, RefTargetKind, ResourceEntity,
    SourceFormat, SystemEntity,
};

use super::reference;

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

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick(&mut self, prefix: &str, n: usize) -> String {
        format!("{prefix}{}", self.below(n))
    }

    fn protocol(&mut self) -> Protocol {
        [
            Protocol::Http,
            Protocol::Grpc,
            Protocol::Event,
            Protocol::Graphql,
        ][self.below(4)]
    }
}

/// Names are drawn from small pools so that services share APIs, datastores, systems
/// and teams, depend on each other and on names nothing declares.
const SERVICES: usize = 10;

fn random_service(rng: &mut Rng, name: &str) -> ServiceManifest {
    let mut m = service(name, &rng.pick("t", 4));
    m.domain = rng.chance(50).then(|| rng.pick("d", 4));
    m.system = rng.chance(60).then(|| rng.pick("y", 4));
    m.lifecycle = ["production", "experimental"][rng.below(2)].into();
    m.description = rng.chance(30).then(|| rng.pick("about ", 3));
    if rng.chance(20) {
        m.instances.push(Instance {
            base_url: format!("http://{name}"),
            metrics_url: format!("http://{name}/metrics"),
            health_url: format!("http://{name}/health"),
        });
    }
    for _ in 0..rng.below(3) {
        m.provides.push(ProvidedApi {
            name: rng.pick("a", 6),
            version: None,
            protocol: rng.protocol(),
        });
    }
    for _ in 0..rng.below(4) {
        let (by_service, by_api) = match rng.below(4) {
            0 => (true, true),
            1 | 2 => (true, false),
            _ => (false, true),
        };
        m.consumes.push(Dependency {
            service: by_service.then(|| rng.pick("s", SERVICES + 2)),
            api: by_api.then(|| rng.pick("a", 7)),
            version_req: None,
            mode: if rng.chance(20) {
                Mode::Async
            } else {
                Mode::Sync
            },
            protocol: rng.protocol(),
        });
    }
    for _ in 0..rng.below(3) {
        m.datastores.push(Datastore {
            name: rng.pick("r", 5),
            kind: ["postgresql", "redis"][rng.below(2)].into(),
            access: if rng.chance(50) {
                Access::Owned
            } else {
                Access::Shared
            },
        });
    }
    if rng.chance(40) {
        m.source = SourceFormat::Backstage;
        for _ in 0..rng.below(3) {
            m.relations.provides_apis.push(rng.pick("a", 7));
        }
        for _ in 0..rng.below(3) {
            m.relations.consumes_apis.push(rng.pick("a", 7));
        }
        for _ in 0..rng.below(4) {
            let kind = [
                None,
                None,
                Some(RefTargetKind::Component),
                Some(RefTargetKind::Resource),
            ][rng.below(4)];
            // Resource and service names share the pool "s"/"r" with a few in both.
            let name = if rng.chance(50) {
                rng.pick("s", SERVICES + 2)
            } else {
                rng.pick("r", 6)
            };
            m.relations.depends_on.push(DependsOnRef { kind, name });
        }
    }
    m
}

fn random_meta(rng: &mut Rng) -> ServiceMeta {
    let mut meta = meta(rng.below(60) as u32);
    meta.revision = rng.below(5) as i64;
    meta.origin = rng.pick("origin-", 2);
    meta
}

fn random_catalog(rng: &mut Rng) -> Declared {
    let mut declared = Declared::default();
    for i in 0..SERVICES {
        if rng.chance(70) {
            let name = format!("s{i}");
            declared.services.insert(
                name.clone(),
                DeclaredService {
                    manifest: random_service(rng, &name),
                    meta: random_meta(rng),
                },
            );
        }
    }
    for i in 0..6 {
        if rng.chance(40) {
            let name = format!("a{i}");
            declared.apis.insert(
                name.clone(),
                ApiEntity {
                    name,
                    api_type: "openapi".into(),
                    protocol: rng.protocol(),
                    owner: rng.pick("t", 5),
                    lifecycle: "production".into(),
                    system: None,
                    description: None,
                },
            );
        }
    }
    // Some resources are named like services ("s"), to be told apart by `dependsOn`.
    for name in ["r0", "r1", "r2", "r3", "r5", "s3", "s11"] {
        if rng.chance(40) {
            declared.resources.insert(
                name.into(),
                ResourceEntity {
                    name: name.into(),
                    resource_type: ["database", "queue"][rng.below(2)].into(),
                    owner: rng.pick("t", 4),
                    system: None,
                },
            );
        }
    }
    for i in 0..4 {
        if rng.chance(50) {
            let name = format!("y{i}");
            declared.systems.insert(
                name.clone(),
                SystemEntity {
                    name,
                    owner: rng.pick("t", 5),
                    domain: rng.chance(60).then(|| rng.pick("d", 4)),
                    description: None,
                },
            );
        }
    }
    for i in 0..4 {
        if rng.chance(40) {
            let name = format!("d{i}");
            declared.domains.insert(
                name.clone(),
                DomainEntity {
                    name,
                    owner: rng.pick("t", 5),
                    parent: None,
                    description: None,
                },
            );
        }
    }
    for i in 0..4 {
        if rng.chance(40) {
            let name = format!("t{i}");
            declared.teams.insert(
                name.clone(),
                TeamEntity {
                    name,
                    group_type: "team".into(),
                    parent: None,
                    children: Vec::new(),
                    members: (0..rng.below(3)).map(|_| rng.pick("u", 4)).collect(),
                    description: None,
                },
            );
        }
    }
    for i in 0..4 {
        if rng.chance(40) {
            let name = format!("u{i}");
            declared.users.insert(
                name.clone(),
                UserEntity {
                    name,
                    member_of: (0..rng.below(3)).map(|_| rng.pick("t", 5)).collect(),
                },
            );
        }
    }
    declared
}

/// Changes one to three services (some not in the catalog) and returns their names.
fn random_change(rng: &mut Rng, declared: &mut Declared) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let name = rng.pick("s", SERVICES + 2);
        let present = declared.services.contains_key(&name);
        match rng.below(10) {
            // Deleted (or nothing, when absent).
            0 | 1 => drop(declared.services.remove(&name)),
            // Created or replaced by another manifest.
            2..=4 => {
                let manifest = random_service(rng, &name);
                let meta = random_meta(rng);
                declared
                    .services
                    .insert(name.clone(), DeclaredService { manifest, meta });
            }
            // One field of a present service.
            _ if present => {
                let fresh = random_service(rng, &name);
                let service = declared.services.get_mut(&name).expect("present");
                let m = &mut service.manifest;
                match rng.below(10) {
                    0 => m.owner = fresh.owner,
                    1 => m.system = fresh.system,
                    2 => m.domain = fresh.domain,
                    3 => m.provides = fresh.provides,
                    4 => m.consumes.extend(fresh.consumes),
                    5 => m.datastores = fresh.datastores,
                    6 => m.relations = fresh.relations,
                    7 => m.description = Some(format!("now {}", rng.below(100))),
                    8 => service.meta.stale_since = Some(service.meta.updated_at),
                    _ => m.consumes.clear(),
                }
            }
            // Named but not changed at all.
            _ => {}
        }
        names.push(name);
    }
    names
}

/// Whether `snapshot` holds what the old build held.
fn assert_same_as_reference(snapshot: &Snapshot, reference: &reference::Reference, seed: u64) {
    let services: Vec<&ServiceView> = reference.services.values().collect();
    assert_eq!(snapshot.services().collect::<Vec<_>>(), services, "{seed}");
    let apis: Vec<&ApiView> = reference.apis.values().collect();
    assert_eq!(snapshot.apis().collect::<Vec<_>>(), apis, "{seed}");
    let stores: Vec<&DatastoreView> = reference.datastores.values().collect();
    assert_eq!(snapshot.datastores().collect::<Vec<_>>(), stores, "{seed}");
    let systems: Vec<&SystemView> = reference.systems.values().collect();
    assert_eq!(snapshot.systems().collect::<Vec<_>>(), systems, "{seed}");
    let domains: Vec<&DomainView> = reference.domains.values().collect();
    assert_eq!(snapshot.domains().collect::<Vec<_>>(), domains, "{seed}");
    let teams: Vec<&TeamView> = reference.teams.values().collect();
    assert_eq!(snapshot.teams().collect::<Vec<_>>(), teams, "{seed}");
    assert_eq!(snapshot.facets(), &reference.facets, "{seed}");
    assert_eq!(snapshot.generation, reference.generation, "{seed}");
    for view in snapshot.services() {
        assert_eq!(snapshot.service(view.name()), Some(view), "{seed}");
    }
}

#[test]
fn builds_what_the_old_build_built() {
    assert_same_as_reference(
        &Snapshot::build(&shop(), 3),
        &reference::Reference::build(&shop(), 3),
        0,
    );
    for seed in 0..2000 {
        let mut rng = Rng(seed);
        let mut declared = random_catalog(&mut rng);
        if seed % 10 == 0 {
            // A service stored under another name than its manifest's.
            if let Some(mut service) = declared.services.remove("s1") {
                service.manifest.name = rng.pick("s", SERVICES);
                declared.services.insert("s1".into(), service);
            }
        }
        assert_same_as_reference(
            &Snapshot::build(&declared, seed),
            &reference::Reference::build(&declared, seed),
            seed,
        );
    }
}

/// The property: after any change to a few services, the rebuilt snapshot equals the
/// one built from scratch, and snapshots rebuilt from rebuilt ones too.
#[test]
fn rebuilds_what_a_full_build_builds() {
    let mut shared = 0;
    for seed in 0..1000 {
        let mut rng = Rng(seed ^ 0xC4A9_0000);
        let mut declared = random_catalog(&mut rng);
        let mut snapshot = Snapshot::build(&declared, 1);
        for step in 0..6 {
            let changed = random_change(&mut rng, &mut declared);
            let changed: Vec<&str> = changed.iter().map(String::as_str).collect();
            let generation = snapshot.generation + 1;
            let rebuilt = snapshot
                .derive(&declared, &changed, generation)
                .unwrap_or_else(|| panic!("seed {seed} step {step}: no rebuild"));
            let built = Snapshot::build(&declared, generation);
            assert_eq!(rebuilt, built, "seed {seed} step {step}: {changed:?}");
            shared += rebuilt
                .services
                .iter()
                .filter(|(name, view)| {
                    snapshot
                        .services
                        .get(&***name)
                        .is_some_and(|old| Arc::ptr_eq(old, view))
                })
                .count();
            snapshot = rebuilt;
        }
    }
    // Most views are shared with the snapshot before.
    assert!(shared > 1000 * 6 * SERVICES / 4, "{shared}");
}

#[test]
fn rebuilds_from_scratch_when_the_change_is_not_all_named() {
    let before = shop();
    let snapshot = Snapshot::build(&before, 1);
    let mut after = before.clone();
    // payments goes, lookup is renamed: neither is named as changed.
    after.services.remove("payments");
    let mut lookup = after.services.remove("lookup").unwrap();
    lookup.manifest.name = "lookup2".into();
    after.services.insert("lookup2".into(), lookup);
    after.services.get_mut("orders").unwrap().manifest.owner = "team-x".into();
    assert!(snapshot.derive(&after, &["orders"], 2).is_none());
    assert_eq!(
        snapshot.rebuild(&after, &["orders"], 2),
        Snapshot::build(&after, 2)
    );
    // A changed service stored under another name than its manifest's.
    let mut odd = before.clone();
    odd.services.get_mut("orders").unwrap().manifest.name = "orders2".into();
    assert!(snapshot.derive(&odd, &["orders"], 2).is_none());
    assert_eq!(
        snapshot.rebuild(&odd, &["orders"], 2),
        Snapshot::build(&odd, 2)
    );
}

#[test]
fn a_rebuild_shares_what_the_change_does_not_reach() {
    let before = shop();
    let snapshot = Snapshot::build(&before, 1);
    let mut after = before.clone();
    after
        .services
        .get_mut("storefront")
        .unwrap()
        .manifest
        .description = Some("Sells".into());
    let rebuilt = snapshot.rebuild(&after, &["storefront"], 2);
    assert_eq!(rebuilt, Snapshot::build(&after, 2));
    let same = |name: &str| Arc::ptr_eq(&snapshot.services[name], &rebuilt.services[name]);
    // storefront is new; orders lists it among its consumers, so is new too.
    assert!(!same("storefront") && !same("orders"));
    assert!(same("payments") && same("lookup"));
    assert!(Arc::ptr_eq(&snapshot.groups, &rebuilt.groups));
    assert!(Arc::ptr_eq(
        &snapshot.datastores["shop-db"],
        &rebuilt.datastores["shop-db"]
    ));
}
