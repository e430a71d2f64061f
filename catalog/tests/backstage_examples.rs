//! Backstage's own example catalog (`$SEAM_TESTDATA/backstage-catalog-examples`) loads
//! completely through `load_tree`, and every entity and relation in it lands in the model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seam_catalog::manifest::{
    load, load_tree, Access, Catalog, Input, Limits, Loaded, Mode, Protocol, SourceFormat,
};
use seam_catalog::resolve;

fn examples_dir() -> PathBuf {
    let testdata = std::env::var_os("SEAM_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    testdata.join("backstage-catalog-examples")
}

/// Whether the examples are here; says the suite is skipped when they are not, and
/// fails when `SEAM_REQUIRE_TESTDATA` is set (CI sets it).
fn available() -> bool {
    let dir = examples_dir();
    if dir.is_dir() {
        return true;
    }
    assert!(
        std::env::var_os("SEAM_REQUIRE_TESTDATA").is_none(),
        "SEAM_REQUIRE_TESTDATA is set but {} is missing",
        dir.display()
    );
    eprintln!(
        "skipped: Backstage conformance suite, {} not found (set SEAM_TESTDATA to the shared testdata directory)",
        dir.display()
    );
    false
}

/// A root Location that fans out to every `all-*.yaml` file and `acme-corp.yaml`; it
/// exists only in memory, beside the real files, so nothing is copied into the repo.
const ROOT: &str = "seam-test-root.yaml";
const ROOT_TEXT: &str = "\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: seam-test-root
spec:
  targets:
    - ./all-components.yaml
    - ./all-apis.yaml
    - ./all-systems.yaml
    - ./all-domains.yaml
    - ./all-resources.yaml
    - ./acme-corp.yaml
";

/// Loads from `root` (relative to the examples directory) and returns the result with
/// every path that was read.
fn load_from(root: &str) -> (Loaded, Vec<String>) {
    let dir = examples_dir();
    let mut reads = Vec::new();
    let mut read = |path: &str| -> Result<String, String> {
        reads.push(path.to_owned());
        if path == ROOT {
            return Ok(ROOT_TEXT.to_owned());
        }
        std::fs::read_to_string(dir.join(path)).map_err(|e| e.to_string())
    };
    let loaded = load_tree(root, &mut read, &Limits::default());
    (loaded, reads)
}

/// The whole example tree in one batch, with its services resolved.
fn load_all() -> Loaded {
    let (mut loaded, _) = load_from(ROOT);
    let diagnostics: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    loaded.catalog.services = resolve(&loaded.catalog);
    loaded
}

#[test]
fn every_location_file_loads_without_errors() {
    if !available() {
        return;
    }
    let dir = examples_dir();
    let mut roots: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("all-") || name == "acme-corp.yaml")
        .collect();
    roots.sort();
    assert_eq!(roots.len(), 6, "{roots:?}");
    for root in roots {
        let (loaded, reads) = load_from(&root);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "{root}: {errors:#?}");
        assert!(reads.len() > 1, "{root} named no files");
    }
}

#[test]
fn reads_each_file_once_and_names_files_by_their_path() {
    if !available() {
        return;
    }
    let (loaded, reads) = load_from(ROOT);
    let mut sorted = reads.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), reads.len(), "{reads:#?}");
    // The root, 6 fan-out files, 13 + 7 + 3 + 2 + 1 entity files, org.yaml and 7 groups.
    assert_eq!(reads.len(), 1 + 6 + 26 + 1 + 7, "{reads:#?}");
    assert!(reads.contains(&"components/petstore-component.yaml".to_owned()));
    assert!(reads.contains(&"acme/team-a-group.yaml".to_owned()));
    assert!(!loaded.has_errors());
    assert!(Path::new(&examples_dir().join(&reads[1])).exists());
}

/// One line per service: name, type, lifecycle, owner, system, domain.
fn service_table(catalog: &Catalog) -> Vec<String> {
    let mut rows: Vec<String> = catalog
        .services
        .iter()
        .map(|s| {
            assert_eq!(s.source, SourceFormat::Backstage);
            assert_eq!(s.version, None);
            assert!(s.instances.is_empty());
            assert!(s.libraries.is_empty());
            format!(
                "{} {} {} owner={} system={} domain={}",
                s.name,
                s.kind,
                s.lifecycle,
                s.owner,
                s.system.as_deref().unwrap_or("-"),
                s.domain.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn maps_every_component() {
    if !available() {
        return;
    }
    let catalog = load_all().catalog;
    assert_eq!(catalog.services.len(), 13);
    assert_eq!(
        service_table(&catalog),
        [
            "artist-lookup service experimental owner=team-a system=artist-engagement-portal domain=artists",
            "petstore service experimental owner=team-c system=- domain=-",
            "playback-order service production owner=guest system=audio-playback domain=playback",
            "playback-sdk library experimental owner=team-c system=audio-playback domain=playback",
            "podcast-api service experimental owner=team-b system=podcast domain=playback",
            "queue-proxy website production owner=team-b system=podcast domain=playback",
            "searcher service production owner=guest system=- domain=-",
            "shuffle-api service production owner=guest system=audio-playback domain=playback",
            "wayback-archive service production owner=team-a system=- domain=-",
            "wayback-archive-ingestion service production owner=team-d system=- domain=-",
            "wayback-archive-storage service production owner=team-a system=- domain=-",
            "wayback-search service production owner=team-a system=- domain=-",
            "www-artist website production owner=team-a system=artist-engagement-portal domain=artists",
        ]
    );
    let artist_lookup = catalog
        .services
        .iter()
        .find(|s| s.name == "artist-lookup")
        .unwrap();
    assert_eq!(artist_lookup.description.as_deref(), Some("Artist Lookup"));
    assert_eq!(artist_lookup.links.len(), 7);
    assert_eq!(artist_lookup.links[0].url, "https://example.com/user");
    assert_eq!(
        artist_lookup.links[0].title.as_deref(),
        Some("Examples Users")
    );
}

#[test]
fn maps_apis_systems_domains_and_resources() {
    if !available() {
        return;
    }
    let catalog = load_all().catalog;
    let mut apis: Vec<String> = catalog
        .apis
        .iter()
        .map(|a| {
            format!(
                "{} {} {:?} {} owner={} system={}",
                a.name,
                a.api_type,
                a.protocol,
                a.lifecycle,
                a.owner,
                a.system.as_deref().unwrap_or("-")
            )
        })
        .collect();
    apis.sort();
    assert_eq!(
        apis,
        [
            "hello-world grpc Grpc deprecated owner=team-c system=-",
            "petstore openapi Http experimental owner=team-c system=-",
            "spotify openapi Http production owner=team-a system=-",
            "starwars-graphql graphql Graphql production owner=team-b system=-",
            "streetlights asyncapi Event production owner=team-c system=-",
            "wayback-archive openapi Http production owner=team-a system=-",
            "wayback-search openapi Http production owner=team-a system=-",
        ]
    );

    let mut systems: Vec<String> = catalog
        .systems
        .iter()
        .map(|s| {
            format!(
                "{} owner={} domain={}",
                s.name,
                s.owner,
                s.domain.as_deref().unwrap_or("-")
            )
        })
        .collect();
    systems.sort();
    assert_eq!(
        systems,
        [
            "artist-engagement-portal owner=team-a domain=artists",
            "audio-playback owner=team-c domain=playback",
            "podcast owner=team-b domain=playback",
        ]
    );

    let mut domains: Vec<String> = catalog
        .domains
        .iter()
        .map(|d| {
            format!(
                "{} owner={} parent={}",
                d.name,
                d.owner,
                d.parent.as_deref().unwrap_or("-")
            )
        })
        .collect();
    domains.sort();
    assert_eq!(
        domains,
        [
            "artists owner=team-a parent=-",
            "playback owner=frank.tiernan parent=-",
        ]
    );

    assert_eq!(catalog.resources.len(), 1);
    let db = &catalog.resources[0];
    assert_eq!(
        (
            db.name.as_str(),
            db.resource_type.as_str(),
            db.owner.as_str(),
            db.system.as_deref()
        ),
        (
            "artists-db",
            "database",
            "team-a",
            Some("artist-engagement-portal")
        )
    );
}

#[test]
fn maps_the_group_tree_with_members() {
    if !available() {
        return;
    }
    let catalog = load_all().catalog;
    // Users name their groups; the catalog joins them (here as the snapshot does).
    let members = |team: &seam_catalog::manifest::TeamEntity| -> Vec<String> {
        let mut all = team.members.clone();
        for user in &catalog.users {
            if user.member_of.contains(&team.name) && !all.contains(&user.name) {
                all.push(user.name.clone());
            }
        }
        all
    };
    let teams: BTreeMap<&str, String> = catalog
        .teams
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                format!(
                    "{} parent={} children=[{}] members=[{}]",
                    t.group_type,
                    t.parent.as_deref().unwrap_or("-"),
                    t.children.join(", "),
                    members(t).join(", ")
                ),
            )
        })
        .collect();
    let expected: BTreeMap<&str, String> = [
        ("acme-corp", "organization parent=- children=[infrastructure] members=[]"),
        ("infrastructure", "department parent=acme-corp children=[backstage, boxoffice] members=[]"),
        ("backstage", "sub-department parent=infrastructure children=[team-a, team-b] members=[]"),
        ("boxoffice", "sub-department parent=infrastructure children=[team-c, team-d] members=[]"),
        ("team-a", "team parent=backstage children=[] members=[breanna.davison, janelle.dawe, nigel.manning, guest]"),
        ("team-b", "team parent=backstage children=[] members=[amelia.park, colette.brock, jenny.doe, jonathon.page, justine.barrow]"),
        ("team-c", "team parent=boxoffice children=[] members=[calum.leavy, frank.tiernan, peadar.macmahon, sarah.gilroy, tara.macgovern]"),
        ("team-d", "team parent=boxoffice children=[] members=[eva.macdowell, lucy.sheehan]"),
    ]
    .into_iter()
    .map(|(name, row)| (name, row.to_owned()))
    .collect();
    assert_eq!(teams, expected);
    assert_eq!(catalog.teams.len(), 8);
}

/// Every relation in the catalog, one line each, sorted.
fn relations(catalog: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    for s in &catalog.services {
        for api in &s.provides {
            assert_eq!(api.version, None);
            out.push(format!(
                "{} providesApi {} ({:?})",
                s.name, api.name, api.protocol
            ));
        }
        for dep in &s.consumes {
            assert_eq!(dep.version_req, None);
            match (&dep.service, &dep.api) {
                (None, Some(api)) => out.push(format!(
                    "{} consumesApi {api} ({:?}, {:?})",
                    s.name, dep.protocol, dep.mode
                )),
                (Some(service), None) => out.push(format!(
                    "{} dependsOn component {service} ({:?}, {:?})",
                    s.name, dep.protocol, dep.mode
                )),
                other => panic!("unexpected dependency {other:?}"),
            }
        }
        for store in &s.datastores {
            out.push(format!(
                "{} dependsOn resource {} ({}, {:?})",
                s.name, store.name, store.kind, store.access
            ));
        }
        if let Some(system) = &s.system {
            out.push(format!("{} partOf system {system}", s.name));
        }
        if let Some(domain) = &s.domain {
            out.push(format!("{} inDomain {domain}", s.name));
        }
    }
    for system in &catalog.systems {
        if let Some(domain) = &system.domain {
            out.push(format!("system {} partOf domain {domain}", system.name));
        }
    }
    for resource in &catalog.resources {
        if let Some(system) = &resource.system {
            out.push(format!("resource {} partOf system {system}", resource.name));
        }
    }
    out.sort();
    out
}

#[test]
fn maps_every_relation() {
    if !available() {
        return;
    }
    let catalog = load_all().catalog;
    assert_eq!(
        relations(&catalog),
        [
            "artist-lookup dependsOn resource artists-db (database, Owned)",
            "artist-lookup inDomain artists",
            "artist-lookup partOf system artist-engagement-portal",
            "petstore providesApi hello-world (Grpc)",
            "petstore providesApi petstore (Http)",
            "petstore providesApi streetlights (Event)",
            "playback-order inDomain playback",
            "playback-order partOf system audio-playback",
            "playback-sdk inDomain playback",
            "playback-sdk partOf system audio-playback",
            "podcast-api inDomain playback",
            "podcast-api partOf system podcast",
            "queue-proxy inDomain playback",
            "queue-proxy partOf system podcast",
            "resource artists-db partOf system artist-engagement-portal",
            "shuffle-api inDomain playback",
            "shuffle-api partOf system audio-playback",
            "system artist-engagement-portal partOf domain artists",
            "system audio-playback partOf domain playback",
            "system podcast partOf domain playback",
            "wayback-archive providesApi wayback-archive (Http)",
            "wayback-search consumesApi wayback-archive (Http, Sync)",
            "wayback-search providesApi wayback-search (Http)",
            "www-artist inDomain artists",
            "www-artist partOf system artist-engagement-portal",
        ]
    );
    // The one datastore is owned: artist-lookup is the only component that depends on it.
    let stores: Vec<_> = catalog
        .services
        .iter()
        .flat_map(|s| &s.datastores)
        .collect();
    assert_eq!(stores.len(), 1);
    assert_eq!(stores[0].access, Access::Owned);
    let _ = (Mode::Sync, Protocol::Http);
}

/// Every entity file of the tree, one batch each (as the directory collector and one
/// `PUT` per file bring them), merged as the store keeps them: the same resolved catalog
/// as one batch, whatever the order.
#[test]
fn resolves_the_same_file_by_file_in_any_order() {
    if !available() {
        return;
    }
    let whole = load_all().catalog;
    let (_, reads) = load_from(ROOT);
    let mut files: Vec<String> = reads
        .into_iter()
        .filter(|path| path.contains('/'))
        .collect();
    assert!(files.len() > 30, "{files:?}");
    for order in 0..2 {
        if order == 1 {
            files.reverse();
        }
        let mut merged = Catalog::default();
        for file in &files {
            let text = std::fs::read_to_string(examples_dir().join(file)).unwrap();
            let loaded = load(
                &[Input {
                    name: file,
                    text: &text,
                }],
                &Limits::default(),
            );
            assert!(!loaded.has_errors(), "{file}: {:?}", loaded.diagnostics);
            let c = loaded.catalog;
            merged.services.extend(c.services);
            merged.apis.extend(c.apis);
            merged.systems.extend(c.systems);
            merged.domains.extend(c.domains);
            merged.teams.extend(c.teams);
            merged.resources.extend(c.resources);
        }
        merged.services = resolve(&merged);
        merged.services.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(service_table(&merged), service_table(&whole));
        assert_eq!(relations(&merged), relations(&whole));
        let mut by_name = whole.services.clone();
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(merged.services, by_name);
    }
}
