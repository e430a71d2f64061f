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
}

impl_store!(PostgresStore, sqlx::Postgres, Backend::Postgres);
impl_health!(
    PostgresStore,
    sqlx::Postgres,
    Some("SELECT pg_advisory_xact_lock($1)")
);
// Edge writers read before they write: an advisory lock, held to the end of the
// transaction, makes replicas take turns so that none overwrites what another added.
impl_edges!(
    PostgresStore,
    sqlx::Postgres,
    Some("SELECT pg_advisory_xact_lock($1)")
);
