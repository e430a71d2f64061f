use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::edges::impl_edges;
use crate::health::impl_health;
use crate::queries::impl_store;
use crate::{Backend, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The production store on PostgreSQL, shareable by several Seam replicas.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` and migrates the database (sqlx takes an advisory lock, so
    /// replicas starting together migrate once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        tracing::info!(url = %crate::redact(url), "postgres store opened");
        Ok(Self { pool })
    }

    /// Begins a transaction that writes (row locks suffice on PostgreSQL).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// Begins a transaction that reads and then writes a table of counts, alone among
    /// writers of that table: a transaction-level advisory lock on `table` makes replicas
    /// take turns, so none overwrites what another added between its read and its write.
    async fn begin_exclusive(
        &self,
        table: i64,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut tx = self.begin_write().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(table)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

impl_store!(PostgresStore, sqlx::Postgres, Backend::Postgres);
impl_health!(PostgresStore, sqlx::Postgres);
impl_edges!(PostgresStore, sqlx::Postgres);
