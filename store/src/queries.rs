//! SQL that reads the same on SQLite and PostgreSQL, and the [`Store`](crate::Store)
//! implementation built on it.
//!
//! Both backends accept `$N` placeholders and the same transaction API, so one text
//! serves both; the [`impl_store`] macro writes the impl for each backend, whose `pool`
//! field holds that backend's pool.

pub(crate) const SERVICE_COLUMNS: &str = "id, name, version, owner, domain, system, lifecycle, \
     kind, description, source, manifest, revision, registered_at, updated_at, origin, stale_since";

pub(crate) const REVISION_COLUMNS: &str =
    "service, revision, manifest, document, source, submitted_by, origin, valid_from, valid_to";

pub(crate) const ENTITY_REVISION_COLUMNS: &str =
    "kind, name, revision, spec, source, submitted_by, origin, valid_from, valid_to";

macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr) => {
        impl $store {
            /// Creates or updates one service inside `tx`; with `create_only`, an existing
            /// service is a conflict. A manifest that means the same as the stored one is
            /// no new revision; it only refreshes the origin and clears a stale mark.
            async fn upsert_service(
                tx: &mut sqlx::Transaction<'_, $db>,
                manifest: &seam_catalog::manifest::ServiceManifest,
                document: &str,
                by: $crate::Submission<'_>,
                now: chrono::DateTime<chrono::Utc>,
                create_only: bool,
            ) -> Result<$crate::Change, $crate::StoreError> {
                type Current = (
                    String,
                    i64,
                    String,
                    Option<chrono::DateTime<chrono::Utc>>,
                    chrono::DateTime<chrono::Utc>,
                );
                let current: Option<Current> = sqlx::query_as(
                    "SELECT manifest, revision, origin, stale_since, updated_at FROM services WHERE name = $1",
                )
                .bind(&manifest.name)
                .fetch_optional(&mut **tx)
                .await?;
                if let Some((_, _, origin, _, _)) = &current {
                    if !origin.is_empty() && origin != by.origin {
                        tracing::warn!(
                            service = %manifest.name,
                            from = %origin,
                            to = by.origin,
                            "catalog entry changes owner: another source registers the same name"
                        );
                    }
                }
                // `since`: when the revision this one replaces started or ended. A revision
                // never starts before it, whatever the writer's clock says (replicas'
                // clocks differ, clocks step back).
                let (change, revision, since) = match current {
                    Some(_) if create_only => {
                        return Err($crate::StoreError::Conflict { name: manifest.name.clone() })
                    }
                    Some((stored, revision, origin, stale_since, _))
                        if $crate::stored::same_manifest(&stored, manifest) =>
                    {
                        if origin != by.origin || stale_since.is_some() {
                            sqlx::query(
                                "UPDATE services SET origin = $2, stale_since = NULL WHERE name = $1",
                            )
                            .bind(&manifest.name)
                            .bind(by.origin)
                            .execute(&mut **tx)
                            .await?;
                        }
                        return Ok($crate::Change {
                            kind: "service",
                            name: manifest.name.clone(),
                            change: $crate::ChangeKind::Unchanged,
                            revision: Some(revision),
                        });
                    }
                    // The current revision started when the service was last updated.
                    Some((_, revision, _, _, updated_at)) => {
                        ($crate::ChangeKind::Updated, revision + 1, Some(updated_at))
                    }
                    None => {
                        // A service deleted and registered again continues its history.
                        let (last, closed): (Option<i64>, Option<chrono::DateTime<chrono::Utc>>) =
                            sqlx::query_as(
                                "SELECT MAX(revision), MAX(valid_to) FROM manifest_revisions WHERE service = $1",
                            )
                            .bind(&manifest.name)
                            .fetch_one(&mut **tx)
                            .await?;
                        ($crate::ChangeKind::Created, last.unwrap_or(0) + 1, closed)
                    }
                };
                let now = since.map_or(now, |since| now.max(since));
                let stored = $crate::stored::encode_manifest(manifest)?;
                // One statement for both cases; an update keeps `registered_at`.
                sqlx::query(
                    "INSERT INTO services (name, version, owner, domain, system, lifecycle, \
                     kind, description, source, manifest, revision, registered_at, updated_at, \
                     origin, stale_since) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, NULL) \
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version, \
                     owner = excluded.owner, domain = excluded.domain, system = excluded.system, \
                     lifecycle = excluded.lifecycle, kind = excluded.kind, \
                     description = excluded.description, source = excluded.source, \
                     manifest = excluded.manifest, revision = excluded.revision, \
                     updated_at = excluded.updated_at, origin = excluded.origin, stale_since = NULL",
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
                .bind(&stored)
                .bind(revision)
                .bind(now)
                .bind(by.origin)
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
                    "INSERT INTO manifest_revisions (service, revision, manifest, document, source, \
                     submitted_by, origin, valid_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&manifest.name)
                .bind(revision)
                .bind(&stored)
                .bind(document)
                .bind(by.source)
                .bind(by.by)
                .bind(by.origin)
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
                let current: Option<(String, String)> =
                    sqlx::query_as("SELECT spec, origin FROM entities WHERE kind = $1 AND name = $2")
                        .bind(entity.kind)
                        .bind(&entity.name)
                        .fetch_optional(&mut **tx)
                        .await?;
                let change = match current {
                    Some((spec, origin))
                        if $crate::stored::same_entity(entity.kind, &spec, &entity.spec) =>
                    {
                        if origin != by.origin {
                            sqlx::query(
                                "UPDATE entities SET origin = $3 WHERE kind = $1 AND name = $2",
                            )
                            .bind(entity.kind)
                            .bind(&entity.name)
                            .bind(by.origin)
                            .execute(&mut **tx)
                            .await?;
                        }
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
                    "INSERT INTO entities (kind, name, owner, spec, source, updated_at, origin) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (kind, name) DO UPDATE SET owner = excluded.owner, \
                     spec = excluded.spec, source = excluded.source, updated_at = excluded.updated_at, \
                     origin = excluded.origin",
                )
                .bind(entity.kind)
                .bind(&entity.name)
                .bind(&entity.owner)
                .bind(&entity.spec)
                .bind(by.source)
                .bind(now)
                .bind(by.origin)
                .execute(&mut **tx)
                .await
                .map_err(|err| $crate::StoreError::from_write(err, &entity.name))?;
                let revision = Self::close_entity_revision(tx, entity.kind, &entity.name, now).await? + 1;
                sqlx::query(
                    "INSERT INTO entity_revisions (kind, name, revision, spec, source, \
                     submitted_by, origin, valid_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(entity.kind)
                .bind(&entity.name)
                .bind(revision)
                .bind(&entity.spec)
                .bind(by.source)
                .bind(by.by)
                .bind(by.origin)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|err| $crate::StoreError::from_write(err, &entity.name))?;
                Ok($crate::Change {
                    kind: entity.kind,
                    name: entity.name.clone(),
                    change,
                    revision: Some(revision),
                })
            }

            /// Closes the open revision of an entity at `now`; returns the highest
            /// revision number it has had (0 for none).
            async fn close_entity_revision(
                tx: &mut sqlx::Transaction<'_, $db>,
                kind: &str,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<i64, $crate::StoreError> {
                sqlx::query(
                    "UPDATE entity_revisions SET valid_to = $3 \
                     WHERE kind = $1 AND name = $2 AND valid_to IS NULL",
                )
                .bind(kind)
                .bind(name)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                let (last,): (Option<i64>,) = sqlx::query_as(
                    "SELECT MAX(revision) FROM entity_revisions WHERE kind = $1 AND name = $2",
                )
                .bind(kind)
                .bind(name)
                .fetch_one(&mut **tx)
                .await?;
                Ok(last.unwrap_or(0))
            }

            async fn delete_service_in(
                tx: &mut sqlx::Transaction<'_, $db>,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let deleted = sqlx::query("DELETE FROM services WHERE name = $1")
                    .bind(name)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "UPDATE manifest_revisions SET valid_to = $2 WHERE service = $1 AND valid_to IS NULL",
                )
                .bind(name)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(deleted > 0)
            }

            /// Removes what `origin` still owns and `catalog` no longer declares.
            async fn prune_origin(
                tx: &mut sqlx::Transaction<'_, $db>,
                catalog: &seam_catalog::manifest::Catalog,
                entities: &[$crate::EntityRow],
                origin: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::Change>, $crate::StoreError> {
                let mut changes = Vec::new();
                let owned: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM services WHERE origin = $1 ORDER BY name")
                        .bind(origin)
                        .fetch_all(&mut **tx)
                        .await?;
                for (name,) in owned {
                    if catalog.services.iter().any(|s| s.name == name) {
                        continue;
                    }
                    if Self::delete_service_in(tx, &name, now).await? {
                        changes.push($crate::Change {
                            kind: "service",
                            name,
                            change: $crate::ChangeKind::Deleted,
                            revision: None,
                        });
                    }
                }
                let owned: Vec<(String, String)> = sqlx::query_as(
                    "SELECT kind, name FROM entities WHERE origin = $1 ORDER BY kind, name",
                )
                .bind(origin)
                .fetch_all(&mut **tx)
                .await?;
                for (kind, name) in owned {
                    if entities.iter().any(|e| e.kind == kind && e.name == name) {
                        continue;
                    }
                    sqlx::query("DELETE FROM entities WHERE kind = $1 AND name = $2")
                        .bind(&kind)
                        .bind(&name)
                        .execute(&mut **tx)
                        .await?;
                    Self::close_entity_revision(tx, &kind, &name, now).await?;
                    let Some(kind) = $crate::entity_kind(&kind) else {
                        continue;
                    };
                    changes.push($crate::Change {
                        kind,
                        name,
                        change: $crate::ChangeKind::Deleted,
                        revision: None,
                    });
                }
                Ok(changes)
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
                let mut tx = self.begin_write().await?;
                Self::upsert_service(&mut tx, &manifest, "", by, now, true).await?;
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
                let mut tx = self.begin_write().await?;
                let mut changes = Vec::with_capacity(catalog.services.len() + entities.len());
                for manifest in &catalog.services {
                    let document = catalog
                        .documents
                        .get(&manifest.name)
                        .map(String::as_str)
                        .unwrap_or_default();
                    changes.push(
                        Self::upsert_service(&mut tx, manifest, document, by, now, false).await?,
                    );
                }
                for entity in &entities {
                    changes.push(Self::upsert_entity(&mut tx, entity, by, now).await?);
                }
                if by.replaces_origin {
                    changes.extend(Self::prune_origin(&mut tx, catalog, &entities, by.origin, now).await?);
                }
                tx.commit().await?;
                Ok(changes)
            }

            async fn delete_service(
                &self,
                name: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = self.begin_write().await?;
                let deleted = Self::delete_service_in(&mut tx, name, now).await?;
                tx.commit().await?;
                Ok(deleted)
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

            async fn all_revisions(
                &self,
            ) -> Result<Vec<$crate::RevisionRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM manifest_revisions ORDER BY service, revision",
                    $crate::queries::REVISION_COLUMNS
                );
                Ok(sqlx::query_as::<_, $crate::RevisionRecord>(&sql)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn all_entities(
                &self,
            ) -> Result<Vec<$crate::EntityRecord>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, $crate::EntityRecord>(
                    "SELECT kind, name, owner, spec, source, updated_at, origin FROM entities \
                     ORDER BY kind, name",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn mark_stale(
                &self,
                origin: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<String>, $crate::StoreError> {
                let names: Vec<(String,)> = sqlx::query_as(
                    "UPDATE services SET stale_since = $2 \
                     WHERE origin = $1 AND stale_since IS NULL RETURNING name",
                )
                .bind(origin)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                let mut names: Vec<String> = names.into_iter().map(|(n,)| n).collect();
                names.sort();
                Ok(names)
            }

            async fn catalog_at(
                &self,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::CatalogAt, $crate::StoreError> {
                let services = sqlx::query_as::<_, $crate::RevisionRecord>(&format!(
                    "SELECT {} FROM manifest_revisions \
                     WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) ORDER BY service, revision",
                    $crate::queries::REVISION_COLUMNS
                ))
                .bind(at)
                .fetch_all(&self.pool)
                .await?;
                let entities = sqlx::query_as::<_, $crate::EntityRevisionRecord>(&format!(
                    "SELECT {} FROM entity_revisions \
                     WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1) ORDER BY kind, name, revision",
                    $crate::queries::ENTITY_REVISION_COLUMNS
                ))
                .bind(at)
                .fetch_all(&self.pool)
                .await?;
                Ok($crate::CatalogAt { services, entities })
            }

            async fn entity_history(
                &self,
                kind: &str,
                name: &str,
            ) -> Result<Vec<$crate::EntityRevisionRecord>, $crate::StoreError> {
                Ok(sqlx::query_as::<_, $crate::EntityRevisionRecord>(&format!(
                    "SELECT {} FROM entity_revisions WHERE kind = $1 AND name = $2 ORDER BY revision",
                    $crate::queries::ENTITY_REVISION_COLUMNS
                ))
                .bind(kind)
                .bind(name)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn write_health(
                &self,
                seconds: i64,
                rows: &[seam_health::BucketRow],
            ) -> Result<(), $crate::StoreError> {
                self.health_write(seconds, rows).await
            }

            async fn read_health(
                &self,
                service: &str,
                instance: &str,
                from: i64,
                to: i64,
            ) -> Result<Vec<$crate::StoredBucket>, $crate::StoreError> {
                self.health_read(service, instance, from, to).await
            }

            async fn downsample_health(&self, before: i64) -> Result<usize, $crate::StoreError> {
                self.health_downsample(before).await
            }

            async fn prune_health(&self, before: i64) -> Result<u64, $crate::StoreError> {
                self.health_prune(before).await
            }

            async fn write_edges(
                &self,
                seconds: i64,
                rows: &[seam_traces::EdgeRow],
            ) -> Result<(), $crate::StoreError> {
                self.edges_write(seconds, rows).await
            }

            async fn read_edges(
                &self,
                from: i64,
                to: i64,
                service: Option<&str>,
            ) -> Result<Vec<$crate::StoredEdge>, $crate::StoreError> {
                self.edges_read(from, to, service).await
            }

            async fn downsample_edges(&self, before: i64) -> Result<usize, $crate::StoreError> {
                self.edges_downsample(before).await
            }

            async fn prune_edges(&self, before: i64) -> Result<u64, $crate::StoreError> {
                self.edges_prune(before).await
            }
        }
    };
}

pub(crate) use impl_store;
