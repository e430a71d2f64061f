//! Seam's persistence layer.
//!
//! One interface, [`Store`], with two implementations: SQLite, embedded and the default
//! (a file under the data directory), and PostgreSQL, for production and for several
//! Seam replicas sharing one database. [`open`] picks one from the configuration and runs
//! the migrations of `migrations/sqlite` or `migrations/postgres` before returning.
//!
//! Database rows stay in this crate: callers get [`ServiceRecord`]s.

mod postgres;
mod queries;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_catalog::NewService;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A service as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceRecord {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub owner: String,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
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

    /// Registers a new service; fails with [`StoreError::Conflict`] when the name is taken.
    async fn insert_service(
        &self,
        service: &NewService,
        now: DateTime<Utc>,
    ) -> Result<ServiceRecord, StoreError>;

    /// Returns every service, ordered by name.
    async fn list_services(&self) -> Result<Vec<ServiceRecord>, StoreError>;

    /// Returns the service with this name, if any.
    async fn get_service(&self, name: &str) -> Result<Option<ServiceRecord>, StoreError>;
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
    /// Maps a failed insert of the service `name`: a unique violation is a conflict.
    fn from_insert(err: sqlx::Error, name: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                name: name.to_owned(),
            },
            _ => StoreError::Database(err),
        }
    }
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
