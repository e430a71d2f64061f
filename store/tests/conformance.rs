//! One conformance suite, run on every store implementation.
//!
//! SQLite runs on a file in a temporary directory. PostgreSQL runs against the server
//! that `SEAM_TEST_POSTGRES_URL` points at (`./scripts/test` starts a throwaway one);
//! each test creates its own database there and drops it afterwards. Set the variable
//! to `skip` to leave PostgreSQL out on a machine without it.

use std::path::Path;

use chrono::{TimeZone, Utc};
use seam_catalog::ServiceDraft;
use seam_store::{Backend, SharedStore, StoreError};
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
    assert_eq!(checkout.version, "1.4.0");
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
