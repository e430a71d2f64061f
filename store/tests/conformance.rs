//! One conformance suite, run on every store implementation.
//!
//! SQLite runs on a file in a temporary directory. PostgreSQL runs against the server
//! that `SEAM_TEST_POSTGRES_URL` points at (`./scripts/test` starts a throwaway one);
//! each test creates its own database there and drops it afterwards. Set the variable
//! to `skip` to leave PostgreSQL out on a machine without it.

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use seam_catalog::manifest::{
    Access, Catalog, Datastore, Dependency, Mode, Protocol, ServiceManifest, SourceFormat,
    TeamEntity,
};
use seam_catalog::ServiceDraft;
use seam_store::{Backend, ChangeKind, ServiceQuery, SharedStore, SortKey, StoreError};
use sqlx::Connection;

fn draft(name: &str, version: &str, owner: &str) -> seam_catalog::NewService {
    ServiceDraft {
        name: Some(name.into()),
        version: Some(version.into()),
        owner: Some(owner.into()),
    }
    .validate()
    .expect("valid fixture")
}

async fn suite(store: SharedStore) {
    store.ping().await.expect("ping");
    assert!(store.list_services().await.unwrap().is_empty());

    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let checkout = store
        .insert_service(&draft("checkout", "1.4.0", "team-payments"), t0)
        .await
        .expect("insert checkout");
    assert_eq!(checkout.name, "checkout");
    assert_eq!(checkout.version.as_deref(), Some("1.4.0"));
    assert_eq!(checkout.owner, "team-payments");
    assert_eq!(checkout.registered_at, t0);
    assert_eq!(checkout.updated_at, t0);

    store
        .insert_service(&draft("basket", "0.9.1-rc.1", "team-shop"), t0)
        .await
        .expect("insert basket");

    // Names are unique: a second registration is a conflict and changes nothing.
    let err = store
        .insert_service(&draft("checkout", "2.0.0", "someone-else"), t0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref name } if name == "checkout"),
        "{err}"
    );

    let listed = store.list_services().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["basket", "checkout"], "ordered by name");
    assert_eq!(listed[1], checkout, "the conflict left the row unchanged");

    assert_eq!(store.get_service("checkout").await.unwrap(), Some(checkout));
    assert_eq!(store.get_service("nope").await.unwrap(), None);

    manifests(&store).await;
}

fn manifest(name: &str, version: &str, owner: &str, domain: Option<&str>) -> ServiceManifest {
    ServiceManifest {
        name: name.into(),
        version: Some(version.into()),
        owner: owner.into(),
        domain: domain.map(Into::into),
        system: None,
        lifecycle: "production".into(),
        kind: "service".into(),
        description: Some(format!("the {name} service")),
        links: Vec::new(),
        instances: Vec::new(),
        provides: Vec::new(),
        consumes: vec![Dependency {
            service: Some("checkout".into()),
            api: None,
            version_req: Some("^1.4".into()),
            mode: Mode::Sync,
            protocol: Protocol::Http,
        }],
        datastores: vec![Datastore {
            name: "shop-db".into(),
            kind: "postgresql".into(),
            access: Access::Shared,
        }],
        libraries: Vec::new(),
        source: SourceFormat::Seam,
    }
}

/// Manifests: idempotent upserts with history, entities, deletion, filters and paging.
async fn manifests(store: &SharedStore) {
    let t1 = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let t2 = t1 + Duration::hours(1);
    let t3 = t2 + Duration::hours(1);
    let team = TeamEntity {
        name: "team-shop".into(),
        group_type: "team".into(),
        parent: None,
        children: Vec::new(),
        members: Vec::new(),
        description: None,
    };
    let catalog = Catalog {
        services: vec![
            manifest("orders", "2.0.0", "team-shop", Some("commerce")),
            manifest("stock_level", "0.1.0", "team-stock", Some("warehouse")),
        ],
        teams: vec![team],
        ..Catalog::default()
    };
    let changes = store.apply_catalog(&catalog, "api", t1).await.unwrap();
    let summary: Vec<(&str, &str, ChangeKind, Option<i64>)> = changes
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.change, c.revision))
        .collect();
    assert_eq!(
        summary,
        [
            ("service", "orders", ChangeKind::Created, Some(1)),
            ("service", "stock_level", ChangeKind::Created, Some(1)),
            ("team", "team-shop", ChangeKind::Created, None),
        ]
    );

    // The same catalog again changes nothing.
    let again = store.apply_catalog(&catalog, "api", t2).await.unwrap();
    assert!(
        again.iter().all(|c| c.change == ChangeKind::Unchanged),
        "{again:?}"
    );
    assert_eq!(store.service_history("orders").await.unwrap().len(), 1);

    // A new version is a new revision; the previous one is closed, not lost.
    let mut bumped = catalog.clone();
    bumped.services[0].version = Some("2.1.0".into());
    let changes = store.apply_catalog(&bumped, "cli", t2).await.unwrap();
    assert_eq!(changes[0].change, ChangeKind::Updated);
    assert_eq!(changes[0].revision, Some(2));
    assert_eq!(changes[1].change, ChangeKind::Unchanged);
    let history = store.service_history("orders").await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0].revision,
            history[0].valid_from,
            history[0].valid_to
        ),
        (1, t1, Some(t2))
    );
    assert_eq!(
        (
            history[1].revision,
            history[1].valid_to,
            history[1].source.as_str()
        ),
        (2, None, "cli")
    );
    assert_eq!(
        history[0].manifest().unwrap().version.as_deref(),
        Some("2.0.0")
    );
    let orders = store.get_service("orders").await.unwrap().unwrap();
    assert_eq!(
        (
            orders.version.as_deref(),
            orders.revision,
            orders.updated_at
        ),
        (Some("2.1.0"), 2, t2)
    );
    assert_eq!(orders.registered_at, t1);
    assert_eq!(orders.manifest().unwrap(), bumped.services[0]);

    let teams = store.list_entities("team").await.unwrap();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].name, "team-shop");
    let mut described = bumped.clone();
    described.teams[0].description = Some("sells things".into());
    let changes = store.apply_catalog(&described, "api", t2).await.unwrap();
    assert_eq!(
        changes.last().map(|c| (c.kind, c.change)),
        Some(("team", ChangeKind::Updated))
    );
    let teams = store.list_entities("team").await.unwrap();
    assert!(teams[0].spec.contains("sells things"), "{}", teams[0].spec);

    // Filters, search, sorting and paging.
    let page = |q: ServiceQuery| {
        let store = store.clone();
        async move {
            let page = store.query_services(&q).await.unwrap();
            (
                page.services
                    .into_iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>(),
                page.total,
            )
        }
    };
    assert_eq!(
        page(ServiceQuery {
            domain: Some("commerce".into()),
            ..Default::default()
        })
        .await,
        (vec!["orders".to_owned()], 1)
    );
    assert_eq!(
        page(ServiceQuery {
            owner: Some("team-stock".into()),
            ..Default::default()
        })
        .await,
        (vec!["stock_level".to_owned()], 1)
    );
    assert_eq!(
        page(ServiceQuery {
            search: Some("STOCK_".into()),
            ..Default::default()
        })
        .await,
        (vec!["stock_level".to_owned()], 1),
        "case-insensitive, and `_` matches literally"
    );
    assert_eq!(
        page(ServiceQuery {
            search: Some("ck_l%".into()),
            ..Default::default()
        })
        .await,
        (Vec::<String>::new(), 0),
        "`%` matches literally"
    );
    assert_eq!(
        page(ServiceQuery {
            sort: SortKey::Name,
            descending: true,
            limit: 2,
            ..Default::default()
        })
        .await,
        (vec!["stock_level".to_owned(), "orders".to_owned()], 4)
    );
    assert_eq!(
        page(ServiceQuery {
            limit: 2,
            offset: 2,
            ..Default::default()
        })
        .await,
        (vec!["orders".to_owned(), "stock_level".to_owned()], 4)
    );

    // Deleting closes the current revision; registering again continues the history.
    assert!(store.delete_service("orders", t3).await.unwrap());
    assert!(!store.delete_service("orders", t3).await.unwrap());
    assert_eq!(store.get_service("orders").await.unwrap(), None);
    let history = store.service_history("orders").await.unwrap();
    assert_eq!(history.last().unwrap().valid_to, Some(t3));
    let changes = store.apply_catalog(&bumped, "api", t3).await.unwrap();
    assert_eq!(
        (changes[0].change, changes[0].revision),
        (ChangeKind::Created, Some(3))
    );
}

async fn open_sqlite(dir: &Path) -> SharedStore {
    let store = seam_store::open(None, dir).await.expect("open sqlite");
    assert_eq!(store.backend(), Backend::Sqlite);
    store
}

#[tokio::test]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    suite(open_sqlite(dir.path()).await).await;
}

#[tokio::test]
async fn sqlite_reopens_existing_file_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc::now();
    open_sqlite(dir.path())
        .await
        .insert_service(&draft("kept", "1.0.0", "team"), t0)
        .await
        .unwrap();
    let reopened = open_sqlite(dir.path()).await;
    assert_eq!(reopened.list_services().await.unwrap().len(), 1);
    assert!(dir.path().join("seam.db").exists());
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = seam_store::open(Some("mysql://u:pw@h/db"), dir.path())
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "unsupported database url \"mysql://u:***@h/db\": expected sqlite://PATH or postgres://..."
    );
}

/// A database of its own on the test PostgreSQL server, dropped on completion.
struct PgTestDb {
    admin_url: String,
    name: String,
}

impl PgTestDb {
    async fn create() -> Option<(Self, String)> {
        let admin_url = match std::env::var("SEAM_TEST_POSTGRES_URL") {
            Ok(url) if url == "skip" => return None,
            Ok(url) => url,
            Err(_) => panic!(
                "SEAM_TEST_POSTGRES_URL is not set: run ./scripts/test (it starts a throwaway \
                 PostgreSQL), point it at a server where the user may CREATE DATABASE, \
                 or set it to `skip`"
            ),
        };
        let name = format!(
            "seam_test_{}_{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect admin");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        Some((Self { admin_url, name }, url))
    }

    async fn drop_db(self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

#[tokio::test]
async fn postgres_conformance() {
    let Some((db, url)) = PgTestDb::create().await else {
        eprintln!("postgres conformance skipped (SEAM_TEST_POSTGRES_URL=skip)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = seam_store::open(Some(&url), dir.path())
        .await
        .expect("open postgres");
    assert_eq!(store.backend(), Backend::Postgres);
    suite(store.clone()).await;
    // Migrating an already migrated database is a no-op.
    seam_store::open(Some(&url), dir.path())
        .await
        .expect("reopen postgres");
    drop(store);
    db.drop_db().await;
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

#[test]
fn database_names_are_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5/postgres", "x"),
        "postgres://u@h:5/x"
    );
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
    assert_eq!(
        with_database("postgres://u@h/p?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
}
