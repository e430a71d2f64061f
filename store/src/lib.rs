//! Seam's persistence layer.
//!
//! One interface, [`Store`], with two implementations: SQLite, embedded and the default
//! (a file under the data directory), and PostgreSQL, for production and for several
//! Seam replicas sharing one database. [`open`] picks one from the configuration and runs
//! the migrations of `migrations/sqlite` or `migrations/postgres` before returning.
//!
//! Database rows stay in this crate: callers get [`ServiceRecord`]s.

mod edges;
mod health;
pub mod ingest;
pub mod live;
mod postgres;
mod queries;
mod sqlite;
pub mod stored;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_catalog::manifest::{Catalog, ServiceManifest};
use seam_catalog::NewService;
use seam_health::BucketRow;
use seam_traces::EdgeRow;

pub use edges::StoredEdge;
pub use health::StoredBucket;
pub use live::{CatalogEvent, LiveCatalog};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A service as stored in the catalog: the current revision of its manifest, with the
/// fields that lists filter and sort on in columns of their own.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceRecord {
    pub id: i64,
    pub name: String,
    pub version: Option<String>,
    pub owner: String,
    pub domain: Option<String>,
    pub system: Option<String>,
    pub lifecycle: String,
    pub kind: String,
    pub description: Option<String>,
    /// How the current revision arrived: `api`, `web`, `cli`, `discovery`, `directory`.
    pub source: String,
    /// The current manifest in its stored form ([`stored`]).
    pub manifest: String,
    pub revision: i64,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where the current revision came from: a file path, `api`, a discovery URL.
    pub origin: String,
    /// Since when discovery no longer finds the manifest at its origin.
    pub stale_since: Option<DateTime<Utc>>,
}

impl ServiceRecord {
    /// The current manifest; an error names the service when the stored JSON does not
    /// read as a manifest.
    pub fn manifest(&self) -> Result<ServiceManifest, StoreError> {
        stored::decode_manifest(&self.manifest).map_err(|source| StoreError::Decode {
            what: format!("service {:?} revision {}", self.name, self.revision),
            source,
        })
    }
}

/// One accepted revision of a service's manifest, valid from `valid_from` until
/// `valid_to` (open while current).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevisionRecord {
    pub service: String,
    pub revision: i64,
    pub manifest: String,
    /// The document that declared it, as normalised YAML in the author's field names;
    /// empty for revisions stored before Seam kept it, and for quick registrations.
    pub document: String,
    pub source: String,
    /// The API token's name, the collector, or `open`; empty for revisions stored
    /// before Seam recorded it.
    pub submitted_by: String,
    /// Where it came from: a file path, `api`, a discovery URL.
    pub origin: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

impl RevisionRecord {
    pub fn manifest(&self) -> Result<ServiceManifest, StoreError> {
        stored::decode_manifest(&self.manifest).map_err(|source| StoreError::Decode {
            what: format!("service {:?} revision {}", self.service, self.revision),
            source,
        })
    }
}

/// A catalog entity other than a service: `api`, `system`, `domain`, `team`, `resource`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntityRecord {
    pub kind: String,
    pub name: String,
    pub owner: Option<String>,
    /// The entity as JSON of its catalog type (`SystemEntity`, `TeamEntity`, ...).
    pub spec: String,
    pub source: String,
    pub updated_at: DateTime<Utc>,
    /// Where the current version came from.
    pub origin: String,
}

/// One revision of an entity other than a service, valid from `valid_from` until
/// `valid_to` (open while current).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EntityRevisionRecord {
    pub kind: String,
    pub name: String,
    pub revision: i64,
    pub spec: String,
    pub source: String,
    pub submitted_by: String,
    pub origin: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// The catalog as it was at one instant: the revisions valid then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogAt {
    pub services: Vec<RevisionRecord>,
    pub entities: Vec<EntityRevisionRecord>,
}

/// What applying a catalog did to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Unchanged,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Unchanged => "unchanged",
            ChangeKind::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `service`, `api`, `system`, `domain`, `team` or `resource`.
    pub kind: &'static str,
    pub name: String,
    pub change: ChangeKind,
    /// The service's manifest revision after the change (services only).
    pub revision: Option<i64>,
}

/// Who or what submitted a change, and from where: stored with every revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submission<'a> {
    /// The door it came through: `api`, `web`, `cli`, `discovery`, `directory`.
    pub source: &'a str,
    /// The API token's name, the collector, or `open` when no tokens are configured.
    pub by: &'a str,
    /// Where the content came from: a file path, a discovery URL, or the door itself
    /// (`api`, `web`) for pushes.
    pub origin: &'a str,
    /// The submission is everything its origin declares (a file of a watched
    /// directory): entries the origin declared before and does not declare now are
    /// removed, if the origin still owns them.
    pub replaces_origin: bool,
}

impl<'a> Submission<'a> {
    /// A push through `source` (`api`, `web`, `cli`) by `by`: its origin is the door.
    pub fn push(source: &'a str, by: &'a str) -> Submission<'a> {
        Submission {
            source,
            by,
            origin: source,
            replaces_origin: false,
        }
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("service {name:?} is already registered")]
    Conflict { name: String },
    #[error("unsupported database url {url:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl { url: String },
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("catalog write did not finish: {0}")]
    Interrupted(String),
    #[error("service {name:?} was changed concurrently; retry")]
    Concurrent { name: String },
    #[error("cannot encode catalog entry: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("stored {what} cannot be read: {source}")]
    Decode {
        what: String,
        #[source]
        source: stored::DecodeError,
    },
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The catalog's persistence interface; every implementation passes the same
/// conformance suite (`store/tests/conformance.rs`).
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Registers a new service from its three required fields; fails with
    /// [`StoreError::Conflict`] when the name is taken.
    async fn insert_service(
        &self,
        service: &NewService,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<ServiceRecord, StoreError>;

    /// Upserts every entry of `catalog` in one transaction: all or nothing. A service
    /// whose manifest differs from its current one gets a new revision (the previous one
    /// stays in the history, closed at `now`); an identical one is left alone, so applying
    /// the same catalog twice changes nothing. `by` says how it arrived and from whom.
    async fn apply_catalog(
        &self,
        catalog: &Catalog,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, StoreError>;

    /// Removes a service from the catalog, closing its current revision at `now`; its
    /// history stays. Returns whether it existed.
    async fn delete_service(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Returns every service, ordered by name: all of them, however many (readers list
    /// and page through the catalog snapshot, not through this).
    async fn all_services(&self) -> Result<Vec<ServiceRecord>, StoreError>;

    /// Returns the service with this name, if any.
    async fn get_service(&self, name: &str) -> Result<Option<ServiceRecord>, StoreError>;

    /// Returns every revision of a service's manifest, oldest first (also after the
    /// service was deleted).
    async fn service_history(&self, name: &str) -> Result<Vec<RevisionRecord>, StoreError>;

    /// Every revision of every service, ordered by service and revision (the version
    /// matrix reads which API versions each service version declared).
    async fn all_revisions(&self) -> Result<Vec<RevisionRecord>, StoreError>;

    /// Returns every entity of every kind, ordered by kind and name.
    async fn all_entities(&self) -> Result<Vec<EntityRecord>, StoreError>;

    /// Marks the services whose current revision came from `origin` as stale since
    /// `now` (discovery no longer finds them there); returns their names. A new revision
    /// or an unchanged re-submission from the same origin clears the mark.
    async fn mark_stale(&self, origin: &str, now: DateTime<Utc>)
        -> Result<Vec<String>, StoreError>;

    /// Returns the catalog as it was at `at`: every service and entity revision valid
    /// then.
    async fn catalog_at(&self, at: DateTime<Utc>) -> Result<CatalogAt, StoreError>;

    /// Returns every revision of an entity, oldest first.
    async fn entity_history(
        &self,
        kind: &str,
        name: &str,
    ) -> Result<Vec<EntityRevisionRecord>, StoreError>;

    /// Adds request statistics of buckets `seconds` long (closed minutes) to what is
    /// stored, in one transaction; a bucket written twice adds up.
    async fn write_health(&self, seconds: i64, rows: &[BucketRow]) -> Result<(), StoreError>;

    /// Returns the stored buckets of a service's instance (`instance` empty: the service
    /// as a whole) that overlap `[from, to)` (unix seconds), minutes and hours, by start.
    async fn read_health(
        &self,
        service: &str,
        instance: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<StoredBucket>, StoreError>;

    /// Sums the minute buckets that ended by `before` into hour buckets and removes
    /// them, in one transaction; returns how many minutes it folded.
    async fn downsample_health(&self, before: i64) -> Result<usize, StoreError>;

    /// Removes every bucket that ended by `before`; returns how many.
    async fn prune_health(&self, before: i64) -> Result<u64, StoreError>;

    /// Adds statistics of call-graph edges over buckets `seconds` long (closed minutes)
    /// to what is stored, in one transaction; an edge written twice for the same bucket
    /// (in one batch or in several) adds up: counts, sums and both histograms.
    async fn write_edges(&self, seconds: i64, rows: &[EdgeRow]) -> Result<(), StoreError>;

    /// Returns the stored edge buckets, minutes and hours, that start in `[from, to)`
    /// (unix seconds); with `service`, only the edges it calls or is called over. Ordered
    /// by start, then edge key, then bucket size.
    async fn read_edges(
        &self,
        from: i64,
        to: i64,
        service: Option<&str>,
    ) -> Result<Vec<StoredEdge>, StoreError>;

    /// Sums the minute buckets of edges that ended by `before` into hour buckets and
    /// removes them, in one transaction; returns how many minutes it folded.
    async fn downsample_edges(&self, before: i64) -> Result<usize, StoreError>;

    /// Removes every edge bucket that ended by `before`; returns how many.
    async fn prune_edges(&self, before: i64) -> Result<u64, StoreError>;
}

/// Shared handle to whichever store is configured.
pub type SharedStore = Arc<dyn Store>;

/// Opens the store that `database_url` names, or the embedded SQLite database
/// `seam.db` under `data_dir` when no URL is given, and migrates it.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<SharedStore, StoreError> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            Ok(Arc::new(SqliteStore::open(Path::new(path)).await?))
        }
        Some(url) => Err(StoreError::UnsupportedUrl { url: redact(url) }),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
                path: data_dir.display().to_string(),
                source,
            })?;
            Ok(Arc::new(
                SqliteStore::open(&data_dir.join("seam.db")).await?,
            ))
        }
    }
}

/// Hides a password in a database URL, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl StoreError {
    /// Maps a failed write of the entry `name`: a unique violation means another writer
    /// got there first.
    fn from_write(err: sqlx::Error, name: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Concurrent {
                name: name.to_owned(),
            },
            _ => StoreError::Database(err),
        }
    }
}

/// The manifest of a service registered with only its name, version and owner.
fn minimal_manifest(service: &NewService) -> ServiceManifest {
    ServiceManifest::minimal(
        service.name(),
        service.owner(),
        Some(service.version().to_string()),
    )
}

/// A catalog entity other than a service, ready to store.
struct EntityRow {
    kind: &'static str,
    name: String,
    owner: Option<String>,
    spec: String,
}

/// The static name of an entity kind as stored.
fn entity_kind(kind: &str) -> Option<&'static str> {
    ["api", "system", "domain", "team", "resource", "user"]
        .into_iter()
        .find(|k| *k == kind)
}

fn entity_rows(catalog: &Catalog) -> Result<Vec<EntityRow>, serde_json::Error> {
    fn row<T: serde::Serialize>(
        kind: &'static str,
        name: &str,
        owner: Option<&str>,
        entity: &T,
    ) -> Result<EntityRow, serde_json::Error> {
        Ok(EntityRow {
            kind,
            name: name.to_owned(),
            owner: owner.map(str::to_owned),
            spec: serde_json::to_string(entity)?,
        })
    }
    let mut rows = Vec::new();
    for e in &catalog.apis {
        rows.push(row("api", &e.name, Some(&e.owner), e)?);
    }
    for e in &catalog.systems {
        rows.push(row("system", &e.name, Some(&e.owner), e)?);
    }
    for e in &catalog.domains {
        rows.push(row("domain", &e.name, Some(&e.owner), e)?);
    }
    for e in &catalog.teams {
        rows.push(row("team", &e.name, None, e)?);
    }
    for e in &catalog.resources {
        rows.push(row("resource", &e.name, Some(&e.owner), e)?);
    }
    for e in &catalog.users {
        rows.push(row("user", &e.name, None, e)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://seam:secret@db:5432/seam"),
            "postgres://seam:***@db:5432/seam"
        );
        assert_eq!(redact("postgres://seam@db/seam"), "postgres://seam@db/seam");
        assert_eq!(redact("sqlite://data/seam.db"), "sqlite://data/seam.db");
    }
}
