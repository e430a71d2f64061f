//! SQL that reads the same on SQLite and PostgreSQL.
//!
//! Both backends accept `$N` placeholders, so one text serves both; the [`impl_store`]
//! macro writes the [`Store`](crate::Store) impl built on them for each backend, whose
//! `pool` field holds that backend's pool.

pub(crate) const SERVICE_COLUMNS: &str = "id, name, version, owner, registered_at, updated_at";

macro_rules! impl_store {
    ($store:ty, $backend:expr) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> $crate::Backend {
                $backend
            }

            async fn ping(&self) -> Result<(), $crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn insert_service(
                &self,
                service: &seam_catalog::NewService,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::ServiceRecord, $crate::StoreError> {
                let sql = format!(
                    "INSERT INTO services (name, version, owner, registered_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING {}",
                    $crate::queries::SERVICE_COLUMNS
                );
                sqlx::query_as::<_, $crate::ServiceRecord>(&sql)
                    .bind(service.name())
                    .bind(service.version().to_string())
                    .bind(service.owner())
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|err| $crate::StoreError::from_insert(err, service.name()))
            }

            async fn list_services(
                &self,
            ) -> Result<Vec<$crate::ServiceRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM services ORDER BY name",
                    $crate::queries::SERVICE_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::ServiceRecord>(&sql)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn get_service(
                &self,
                name: &str,
            ) -> Result<Option<$crate::ServiceRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM services WHERE name = $1",
                    $crate::queries::SERVICE_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::ServiceRecord>(&sql)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?)
            }
        }
    };
}

pub(crate) use impl_store;
