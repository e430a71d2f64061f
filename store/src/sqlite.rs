use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::edges::impl_edges;
use crate::health::impl_health;
use crate::queries::impl_store;
use crate::{Backend, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// The embedded store: one SQLite file in WAL mode, with foreign keys on and a busy
/// timeout so that concurrent writers wait instead of failing.
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        tracing::info!(path = %path.display(), "sqlite store opened");
        Ok(Self { pool })
    }

    /// Begins a transaction that writes. `BEGIN IMMEDIATE` takes the write lock up
    /// front: a deferred transaction that reads first and then writes cannot wait for
    /// another writer (SQLite answers "database is locked" at once), and Seam has several
    /// (the catalog, the health and edge buckets).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Begins a transaction that reads and then writes a table of counts, alone among
    /// writers: `BEGIN IMMEDIATE` already excludes the others (`_table` names the lock on
    /// PostgreSQL).
    async fn begin_exclusive(
        &self,
        _table: i64,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_write().await
    }
}

impl_store!(SqliteStore, sqlx::Sqlite, Backend::Sqlite);
impl_health!(SqliteStore, sqlx::Sqlite);
impl_edges!(SqliteStore, sqlx::Sqlite);
