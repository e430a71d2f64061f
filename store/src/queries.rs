//! SQL that reads the same on SQLite and PostgreSQL, and the [`Store`](crate::Store)
//! implementation built on it.
//!
//! Both backends accept `$N` placeholders and the same transaction API, so one text
//! serves both; the [`impl_store`] macro writes the impl for each backend, whose `pool`
//! field holds that backend's pool.

pub(crate) const SERVICE_COLUMNS: &str = "id, name, version, owner, domain, system, lifecycle, \
     kind, description, source, manifest, revision, registered_at, updated_at";

pub(crate) const REVISION_COLUMNS: &str =
    "service, revision, manifest, source, submitted_by, valid_from, valid_to";

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// Creates or updates one service inside `tx`; with `create_only`, an existing
            /// service is a conflict.
            async fn upsert_service(
                tx: &mut sqlx::Transaction<'_, $db>,
                manifest: &seam_catalog::manifest::ServiceManifest,
                by: $crate::Submission<'_>,
                now: chrono::DateTime<chrono::Utc>,
                create_only: bool,
            ) -> Result<$crate::Change, $crate::StoreError> {
                let json = serde_json::to_string(manifest)?;
                let current: Option<(String, i64)> =
                    sqlx::query_as("SELECT manifest, revision FROM services WHERE name = $1")
                        .bind(&manifest.name)
                        .fetch_optional(&mut **tx)
                        .await?;
                let (change, revision) = match current {
                    Some(_) if create_only => {
                        return Err($crate::StoreError::Conflict { name: manifest.name.clone() })
                    }
                    Some((stored, revision)) if stored == json => {
                        return Ok($crate::Change {
                            kind: "service",
                            name: manifest.name.clone(),
                            change: $crate::ChangeKind::Unchanged,
                            revision: Some(revision),
                        });
                    }
                    Some((_, revision)) => ($crate::ChangeKind::Updated, revision + 1),
                    None => {
                        // A service deleted and registered again continues its history.
                        let (last,): (Option<i64>,) = sqlx::query_as(
                            "SELECT MAX(revision) FROM manifest_revisions WHERE service = $1",
                        )
                        .bind(&manifest.name)
                        .fetch_one(&mut **tx)
                        .await?;
                        ($crate::ChangeKind::Created, last.unwrap_or(0) + 1)
                    }
                };
                // One statement for both cases; an update keeps `registered_at`.
                sqlx::query(
                    "INSERT INTO services (name, version, owner, domain, system, lifecycle, \
                     kind, description, source, manifest, revision, registered_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
                     owner = excluded.owner, domain = excluded.domain, system = excluded.system, \
                     lifecycle = excluded.lifecycle, kind = excluded.kind, \
                     description = excluded.description, source = excluded.source, \
                     manifest = excluded.manifest, revision = excluded.revision, \
                     updated_at = excluded.updated_at",
                )
                .bind(&manifest.name)
                .bind(&manifest.version)
                .bind(&manifest.owner)
                .bind(&manifest.domain)
                .bind(&manifest.system)
                .bind(&manifest.lifecycle)
                .bind(&manifest.kind)
                .bind(&manifest.description)
                .bind(by.source)
                .bind(&json)
                .bind(revision)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|err| $crate::StoreError::from_write(err, &manifest.name))?;
                sqlx::query(
                    "UPDATE manifest_revisions SET valid_to = $2 WHERE service = $1 AND valid_to IS NULL",
                )
                .bind(&manifest.name)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                sqlx::query(
                    "INSERT INTO manifest_revisions (service, revision, manifest, source, submitted_by, valid_from) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&manifest.name)
                .bind(revision)
                .bind(&json)
                .bind(by.source)
                .bind(by.by)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|err| $crate::StoreError::from_write(err, &manifest.name))?;
                Ok($crate::Change {
                    kind: "service",
                    name: manifest.name.clone(),
                    change,
                    revision: Some(revision),
                })
            }

            async fn upsert_entity(
                tx: &mut sqlx::Transaction<'_, $db>,
                entity: &$crate::EntityRow,
                by: $crate::Submission<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::Change, $crate::StoreError> {
                let current: Option<(String,)> =
                    sqlx::query_as("SELECT spec FROM entities WHERE kind = $1 AND name = $2")
                        .bind(entity.kind)
                        .bind(&entity.name)
                        .fetch_optional(&mut **tx)
                        .await?;
                let change = match current {
                    Some((spec,)) if spec == entity.spec => {
                        return Ok($crate::Change {
                            kind: entity.kind,
                            name: entity.name.clone(),
                            change: $crate::ChangeKind::Unchanged,
                            revision: None,
                        });
                    }
                    Some(_) => $crate::ChangeKind::Updated,
                    None => $crate::ChangeKind::Created,
                };
                sqlx::query(
                    "INSERT INTO entities (kind, name, owner, spec, source, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (kind, name) DO UPDATE SET owner = excluded.owner, \
                     spec = excluded.spec, source = excluded.source, updated_at = excluded.updated_at",
                )
                .bind(entity.kind)
                .bind(&entity.name)
                .bind(&entity.owner)
                .bind(&entity.spec)
                .bind(by.source)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|err| $crate::StoreError::from_write(err, &entity.name))?;
                Ok($crate::Change {
                    kind: entity.kind,
                    name: entity.name.clone(),
                    change,
                    revision: None,
                })
            }
        }

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
                by: $crate::Submission<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::ServiceRecord, $crate::StoreError> {
                let manifest = $crate::minimal_manifest(service);
                let mut tx = self.pool.begin().await?;
                Self::upsert_service(&mut tx, &manifest, by, now, true).await?;
                tx.commit().await?;
                self.get_service(service.name())
                    .await?
                    .ok_or_else(|| $crate::StoreError::Concurrent { name: service.name().to_owned() })
            }

            async fn apply_catalog(
                &self,
                catalog: &seam_catalog::manifest::Catalog,
                by: $crate::Submission<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::Change>, $crate::StoreError> {
                let entities = $crate::entity_rows(catalog)?;
                let mut tx = self.pool.begin().await?;
                let mut changes = Vec::with_capacity(catalog.services.len() + entities.len());
                for manifest in &catalog.services {
                    changes.push(Self::upsert_service(&mut tx, manifest, by, now, false).await?);
                }
                for entity in &entities {
                    changes.push(Self::upsert_entity(&mut tx, entity, by, now).await?);
                }
                tx.commit().await?;
                Ok(changes)
            }

            async fn delete_service(
                &self,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query("DELETE FROM services WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "UPDATE manifest_revisions SET valid_to = $2 WHERE service = $1 AND valid_to IS NULL",
                )
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn all_services(
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

            async fn service_history(
                &self,
                name: &str,
            ) -> Result<Vec<$crate::RevisionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM manifest_revisions WHERE service = $1 ORDER BY revision",
                    $crate::queries::REVISION_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::RevisionRecord>(&sql)
                    .bind(name)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn list_entities(
                &self,
                kind: &str,
            ) -> Result<Vec<$crate::EntityRecord>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, $crate::EntityRecord>(
                    "SELECT kind, name, owner, spec, source, updated_at FROM entities \
                     WHERE kind = $1 ORDER BY name",
                )
                .bind(kind)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn all_entities(
                &self,
            ) -> Result<Vec<$crate::EntityRecord>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, $crate::EntityRecord>(
                    "SELECT kind, name, owner, spec, source, updated_at FROM entities \
                     ORDER BY kind, name",
                )
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}

pub(crate) use impl_store;
