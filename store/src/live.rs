//! The live catalog: every write to the catalog goes through [`LiveCatalog`], which
//! commits it to the store, updates its in-memory copy of what is declared, builds a new
//! [`Snapshot`] (from the previous one when only services changed) and publishes it to
//! readers (a `watch` channel), then tells subscribers what changed ([`CatalogEvent`]s
//! on a `broadcast` channel). Readers never query the database for the catalog;
//! consumers react to events instead of polling.
//!
//! Writes are serialised and run to the end on a task of their own (a caller that goes
//! away cannot stop one between the commit and the snapshot); a write's snapshot is
//! published before the write returns, so a client that registered a service sees it on
//! its next read.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_catalog::manifest::Catalog;
use seam_catalog::NewService;
use seam_snapshot::{Declared, DeclaredService, ServiceMeta, Snapshot};
use tokio::sync::{broadcast, watch, Mutex};

use crate::{Change, ChangeKind, EntityRecord, ServiceRecord, SharedStore, StoreError, Submission};

/// Events a slow subscriber may fall behind by before it is told it lagged (it then
/// reads the current snapshot instead).
const EVENT_BUFFER: usize = 16_384;

/// Past catalogs ([`LiveCatalog::snapshot_at`]) read and resolved at once.
const PAST_READS: usize = 2;

/// One change to the catalog, after it was committed and its snapshot published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEvent {
    /// The generation of the snapshot that first shows the change.
    pub generation: u64,
    /// `service`, `api`, `system`, `domain`, `team`, `resource` or `user`.
    pub kind: &'static str,
    pub name: String,
    /// Created, updated or deleted (never unchanged).
    pub change: ChangeKind,
}

/// The catalog as readers see it, and the one way to change it.
pub struct LiveCatalog {
    store: SharedStore,
    /// What the store holds, as declared; held while a write is in flight.
    declared: Mutex<(Declared, u64)>,
    snapshot: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<CatalogEvent>,
    /// Past catalogs read at once: each reads and resolves a whole catalog.
    past_reads: tokio::sync::Semaphore,
}

impl LiveCatalog {
    /// Reads the whole catalog from `store` and publishes its first snapshot.
    pub async fn open(store: SharedStore) -> Result<Arc<LiveCatalog>, StoreError> {
        let declared = read_declared(&store).await?;
        let snapshot = Snapshot::build(&declared, 1);
        tracing::info!(
            services = snapshot.services().len(),
            "catalog snapshot built"
        );
        let (snapshot_tx, _) = watch::channel(Arc::new(snapshot));
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Ok(Arc::new(LiveCatalog {
            store,
            declared: Mutex::new((declared, 1)),
            snapshot: snapshot_tx,
            events,
            past_reads: tokio::sync::Semaphore::new(PAST_READS),
        }))
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// A receiver that sees every published snapshot (the newest when it falls behind).
    pub fn watch(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshot.subscribe()
    }

    /// Every change from now on; a receiver that lags gets `RecvError::Lagged` and
    /// should resynchronise from [`LiveCatalog::snapshot`].
    pub fn subscribe(&self) -> broadcast::Receiver<CatalogEvent> {
        self.events.subscribe()
    }

    /// The manifests of these services as stored (before resolution), `None` for those
    /// not in the catalog; one look under the write lock for all of them.
    pub async fn declared_services(
        &self,
        names: &[&str],
    ) -> Vec<Option<seam_catalog::manifest::ServiceManifest>> {
        let guard = self.declared.lock().await;
        names
            .iter()
            .map(|name| guard.0.services.get(*name).map(|s| s.manifest.clone()))
            .collect()
    }

    /// The store, for what the snapshot does not hold (revision history).
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Applies a validated catalog in one transaction (see [`crate::Store::apply_catalog`])
    /// and publishes the result.
    pub async fn apply_catalog(
        self: &Arc<Self>,
        catalog: &Catalog,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, StoreError> {
        let (this, catalog, by) = (self.clone(), catalog.clone(), OwnedSubmission::from(by));
        to_the_end(async move { this.apply_catalog_now(&catalog, by.borrow(), now).await }).await
    }

    async fn apply_catalog_now(
        &self,
        catalog: &Catalog,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Change>, StoreError> {
        let now = stored_precision(now);
        let mut guard = self.declared.lock().await;
        let changes = self.store.apply_catalog(catalog, by, now).await?;
        let declared = &mut guard.0;
        let mut published = Vec::with_capacity(changes.len());
        for change in &changes {
            if change.change != ChangeKind::Unchanged {
                apply_change(declared, catalog, change, by, now);
                published.push(change.clone());
                continue;
            }
            // An unchanged manifest still moves to its new origin and is no longer stale.
            let Some(service) = declared
                .services
                .get_mut(&change.name)
                .filter(|_| change.kind == "service")
            else {
                continue;
            };
            if service.meta.origin != by.origin || service.meta.stale_since.is_some() {
                service.meta.origin = by.origin.to_owned();
                service.meta.stale_since = None;
                published.push(Change {
                    change: ChangeKind::Updated,
                    ..change.clone()
                });
            }
        }
        self.publish(&mut guard, &published);
        Ok(changes)
    }

    /// Marks the services discovery no longer finds at `origin` as stale (kept, not
    /// deleted) and publishes the change; returns their names.
    pub async fn mark_stale(
        self: &Arc<Self>,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let (this, origin) = (self.clone(), origin.to_owned());
        to_the_end(async move { this.mark_stale_now(&origin, now).await }).await
    }

    async fn mark_stale_now(
        &self,
        origin: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let now = stored_precision(now);
        let mut guard = self.declared.lock().await;
        let names = self.store.mark_stale(origin, now).await?;
        let mut changes = Vec::new();
        for name in &names {
            if let Some(service) = guard.0.services.get_mut(name) {
                service.meta.stale_since = Some(now);
                changes.push(Change {
                    kind: "service",
                    name: name.clone(),
                    change: ChangeKind::Updated,
                    revision: Some(service.meta.revision),
                });
            }
        }
        self.publish(&mut guard, &changes);
        Ok(names)
    }

    /// The catalog as it was at `at`, resolved like the current one (generation 0).
    pub async fn snapshot_at(&self, at: DateTime<Utc>) -> Result<Snapshot, StoreError> {
        // Bounded, so many such requests wait for each other, not for the database.
        let _permit = self
            .past_reads
            .acquire()
            .await
            .map_err(|err| StoreError::Interrupted(err.to_string()))?;
        let past = self.store.catalog_at(at).await?;
        let mut declared = Declared::default();
        // Oldest revision first, so a newer one valid at the same instant wins; a row
        // that does not read is logged and left out, as in `read_declared`.
        for revision in &past.services {
            let manifest = match revision.manifest() {
                Ok(manifest) => manifest,
                Err(err) => {
                    tracing::error!(error = %err, "stored revision left out of the past catalog");
                    continue;
                }
            };
            declared.services.insert(
                revision.service.clone(),
                DeclaredService {
                    manifest,
                    meta: ServiceMeta {
                        revision: revision.revision,
                        source: revision.source.clone(),
                        // The first revision's time is not at hand here; the current
                        // revision's start stands for it.
                        registered_at: revision.valid_from,
                        updated_at: revision.valid_from,
                        origin: revision.origin.clone(),
                        stale_since: None,
                    },
                },
            );
        }
        for entity in &past.entities {
            let record = EntityRecord {
                kind: entity.kind.clone(),
                name: entity.name.clone(),
                owner: None,
                spec: entity.spec.clone(),
                source: entity.source.clone(),
                updated_at: entity.valid_from,
                origin: entity.origin.clone(),
            };
            if let Err(err) = add_entity(&mut declared, &record) {
                tracing::error!(error = %err, "stored entity left out of the past catalog");
            }
        }
        Ok(Snapshot::build(&declared, 0))
    }

    /// Registers a service from its three fields (see [`crate::Store::insert_service`]).
    pub async fn insert_service(
        self: &Arc<Self>,
        service: &NewService,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<ServiceRecord, StoreError> {
        let (this, service, by) = (self.clone(), service.clone(), OwnedSubmission::from(by));
        to_the_end(async move { this.insert_service_now(&service, by.borrow(), now).await }).await
    }

    async fn insert_service_now(
        &self,
        service: &NewService,
        by: Submission<'_>,
        now: DateTime<Utc>,
    ) -> Result<ServiceRecord, StoreError> {
        let now = stored_precision(now);
        let mut guard = self.declared.lock().await;
        let record = self.store.insert_service(service, by, now).await?;
        let declared_service = declared_service(&record)?;
        guard
            .0
            .services
            .insert(record.name.clone(), declared_service);
        let change = Change {
            kind: "service",
            name: record.name.clone(),
            change: ChangeKind::Created,
            revision: Some(record.revision),
        };
        self.publish(&mut guard, &[change]);
        Ok(record)
    }

    /// Removes a service (see [`crate::Store::delete_service`]); returns whether it existed.
    pub async fn delete_service(
        self: &Arc<Self>,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (this, name) = (self.clone(), name.to_owned());
        to_the_end(async move { this.delete_service_now(&name, now).await }).await
    }

    async fn delete_service_now(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = stored_precision(now);
        let mut guard = self.declared.lock().await;
        let existed = self.store.delete_service(name, now).await?;
        guard.0.services.remove(name);
        let changes: Vec<Change> = existed
            .then(|| Change {
                kind: "service",
                name: name.to_owned(),
                change: ChangeKind::Deleted,
                revision: None,
            })
            .into_iter()
            .collect();
        self.publish(&mut guard, &changes);
        Ok(existed)
    }

    /// Reads the whole catalog again and publishes it if it differs from what this
    /// process knows: other Seam replicas sharing a PostgreSQL database write too.
    pub async fn reload(&self) -> Result<bool, StoreError> {
        let mut guard = self.declared.lock().await;
        let fresh = read_declared(&self.store).await?;
        if fresh == guard.0 {
            return Ok(false);
        }
        let changes = diff(&guard.0, &fresh);
        guard.0 = fresh;
        self.publish(&mut guard, &changes);
        Ok(true)
    }

    /// Builds and publishes the next snapshot, then sends an event per real change.
    fn publish(&self, guard: &mut (Declared, u64), changes: &[Change]) {
        let changed: Vec<&Change> = changes
            .iter()
            .filter(|c| c.change != ChangeKind::Unchanged)
            .collect();
        if changed.is_empty() {
            return;
        }
        guard.1 += 1;
        let generation = guard.1;
        // The current snapshot is that of the catalog before these changes: when only
        // services changed, the next one is derived from it, resolving again only what
        // the changes reach; other entities reach across the catalog, so resolve it all.
        let services: Option<Vec<&str>> = changed
            .iter()
            .map(|c| (c.kind == "service").then_some(c.name.as_str()))
            .collect();
        let snapshot = match services {
            Some(names) => {
                let previous = self.snapshot();
                previous.rebuild(&guard.0, &names, generation)
            }
            None => Snapshot::build(&guard.0, generation),
        };
        self.snapshot.send_replace(Arc::new(snapshot));
        for change in changed {
            // No subscriber is not an error: events are for whoever listens.
            let _ = self.events.send(CatalogEvent {
                generation,
                kind: change.kind,
                name: change.name.clone(),
                change: change.change,
            });
        }
    }
}

/// Runs a write on a task of its own and waits for it: if the caller goes away (the
/// client disconnected, a timeout fired), the write still finishes, commit and snapshot
/// alike, instead of stopping between the two.
async fn to_the_end<T: Send + 'static>(
    write: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(write)
        .await
        .map_err(|err| StoreError::Interrupted(err.to_string()))?
}

/// A [`Submission`] that a write task can own.
struct OwnedSubmission {
    source: String,
    by: String,
    origin: String,
    replaces_origin: bool,
}

impl From<Submission<'_>> for OwnedSubmission {
    fn from(by: Submission<'_>) -> Self {
        OwnedSubmission {
            source: by.source.to_owned(),
            by: by.by.to_owned(),
            origin: by.origin.to_owned(),
            replaces_origin: by.replaces_origin,
        }
    }
}

impl OwnedSubmission {
    fn borrow(&self) -> Submission<'_> {
        Submission {
            source: &self.source,
            by: &self.by,
            origin: &self.origin,
            replaces_origin: self.replaces_origin,
        }
    }
}

/// `now` as the databases keep it (microseconds), so the in-memory copy equals what a
/// reload reads back.
fn stored_precision(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::DurationRound;
    now.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(now)
}

/// Updates the in-memory copy with one committed change of `catalog`.
fn apply_change(
    declared: &mut Declared,
    catalog: &Catalog,
    change: &Change,
    by: Submission<'_>,
    now: DateTime<Utc>,
) {
    let name = change.name.as_str();
    if change.change == ChangeKind::Deleted {
        match change.kind {
            "service" => drop(declared.services.remove(name)),
            "api" => drop(declared.apis.remove(name)),
            "system" => drop(declared.systems.remove(name)),
            "domain" => drop(declared.domains.remove(name)),
            "team" => drop(declared.teams.remove(name)),
            "resource" => drop(declared.resources.remove(name)),
            "user" => drop(declared.users.remove(name)),
            _ => {}
        }
        return;
    }
    match change.kind {
        "service" => {
            let Some(manifest) = catalog.services.iter().find(|s| s.name == name) else {
                return;
            };
            let registered_at = match change.change {
                ChangeKind::Updated => declared
                    .services
                    .get(name)
                    .map(|s| s.meta.registered_at)
                    .unwrap_or(now),
                _ => now,
            };
            declared.services.insert(
                name.to_owned(),
                DeclaredService {
                    manifest: manifest.clone(),
                    meta: ServiceMeta {
                        revision: change.revision.unwrap_or(1),
                        source: by.source.to_owned(),
                        registered_at,
                        updated_at: now,
                        origin: by.origin.to_owned(),
                        stale_since: None,
                    },
                },
            );
        }
        "api" => insert_named(&mut declared.apis, &catalog.apis, name, |e| &e.name),
        "system" => insert_named(&mut declared.systems, &catalog.systems, name, |e| &e.name),
        "domain" => insert_named(&mut declared.domains, &catalog.domains, name, |e| &e.name),
        "team" => insert_named(&mut declared.teams, &catalog.teams, name, |e| &e.name),
        "resource" => insert_named(&mut declared.resources, &catalog.resources, name, |e| {
            &e.name
        }),
        "user" => insert_named(&mut declared.users, &catalog.users, name, |e| &e.name),
        _ => {}
    }
}

fn insert_named<T: Clone>(
    map: &mut std::collections::BTreeMap<String, T>,
    list: &[T],
    name: &str,
    name_of: impl Fn(&T) -> &String,
) {
    if let Some(entity) = list.iter().find(|e| name_of(e) == name) {
        map.insert(name.to_owned(), entity.clone());
    }
}

fn declared_service(record: &ServiceRecord) -> Result<DeclaredService, StoreError> {
    Ok(DeclaredService {
        manifest: record.manifest()?,
        meta: ServiceMeta {
            revision: record.revision,
            source: record.source.clone(),
            registered_at: record.registered_at,
            updated_at: record.updated_at,
            origin: record.origin.clone(),
            stale_since: record.stale_since,
        },
    })
}

/// Reads every service and entity the store holds. A row that does not read is logged
/// with what it is and left out, so one bad row does not take the catalog down.
async fn read_declared(store: &SharedStore) -> Result<Declared, StoreError> {
    let mut declared = Declared::default();
    for record in store.all_services().await? {
        match declared_service(&record) {
            Ok(service) => {
                declared.services.insert(record.name.clone(), service);
            }
            Err(err) => tracing::error!(error = %err, "stored service left out of the catalog"),
        }
    }
    for entity in store.all_entities().await? {
        if let Err(err) = add_entity(&mut declared, &entity) {
            tracing::error!(error = %err, "stored entity left out of the catalog");
        }
    }
    Ok(declared)
}

fn add_entity(declared: &mut Declared, entity: &EntityRecord) -> Result<(), StoreError> {
    fn parse<T: serde::de::DeserializeOwned>(entity: &EntityRecord) -> Result<T, StoreError> {
        serde_json::from_str(&entity.spec).map_err(|source| StoreError::Decode {
            what: format!("{} {:?}", entity.kind, entity.name),
            source: source.into(),
        })
    }
    let name = entity.name.clone();
    match entity.kind.as_str() {
        "api" => {
            declared.apis.insert(name, parse(entity)?);
        }
        "system" => {
            declared.systems.insert(name, parse(entity)?);
        }
        "domain" => {
            declared.domains.insert(name, parse(entity)?);
        }
        "team" => {
            declared.teams.insert(name, parse(entity)?);
        }
        "resource" => {
            declared.resources.insert(name, parse(entity)?);
        }
        "user" => {
            declared.users.insert(name, parse(entity)?);
        }
        other => tracing::warn!(kind = other, name = %entity.name, "unknown entity kind ignored"),
    }
    Ok(())
}

/// The changes that turn `old` into `new`, for the events of a reload.
fn diff(old: &Declared, new: &Declared) -> Vec<Change> {
    fn compare<T: PartialEq>(
        kind: &'static str,
        old: &std::collections::BTreeMap<String, T>,
        new: &std::collections::BTreeMap<String, T>,
        out: &mut Vec<Change>,
    ) {
        for (name, value) in new {
            let change = match old.get(name) {
                None => ChangeKind::Created,
                Some(previous) if previous != value => ChangeKind::Updated,
                Some(_) => continue,
            };
            out.push(Change {
                kind,
                name: name.clone(),
                change,
                revision: None,
            });
        }
        for name in old.keys().filter(|name| !new.contains_key(*name)) {
            out.push(Change {
                kind,
                name: name.clone(),
                change: ChangeKind::Deleted,
                revision: None,
            });
        }
    }
    let mut out = Vec::new();
    compare("service", &old.services, &new.services, &mut out);
    compare("api", &old.apis, &new.apis, &mut out);
    compare("system", &old.systems, &new.systems, &mut out);
    compare("domain", &old.domains, &new.domains, &mut out);
    compare("team", &old.teams, &new.teams, &mut out);
    compare("resource", &old.resources, &new.resources, &mut out);
    compare("user", &old.users, &new.users, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use seam_catalog::manifest::{
        Dependency, DependsOnRef, Mode, Protocol, ProvidedApi, SourceFormat, SystemEntity,
    };
    use seam_catalog::manifest::{ResourceEntity, ServiceManifest};

    use super::*;

    fn submission(origin: &str) -> Submission<'_> {
        Submission {
            source: "api",
            by: "test",
            origin,
            replaces_origin: false,
        }
    }

    fn manifest(name: &str, owner: &str, provides: &[&str], calls: &[&str]) -> ServiceManifest {
        let mut m = ServiceManifest::minimal(name, owner, Some("1.0.0".into()));
        for api in provides {
            m.provides.push(ProvidedApi {
                name: (*api).into(),
                version: None,
                protocol: Protocol::Http,
            });
        }
        for callee in calls {
            let by_api = callee.ends_with("-api");
            m.consumes.push(Dependency {
                service: (!by_api).then(|| (*callee).into()),
                api: by_api.then(|| (*callee).into()),
                version_req: None,
                mode: Mode::Sync,
                protocol: Protocol::Http,
            });
        }
        m
    }

    /// The published snapshot is the one a full build of what is declared gives.
    async fn assert_as_built(live: &LiveCatalog, step: &str) {
        let guard = live.declared.lock().await;
        assert_eq!(
            *live.snapshot(),
            Snapshot::build(&guard.0, guard.1),
            "after {step}"
        );
    }

    /// Writes of services alone are published from the snapshot before them; every
    /// published snapshot is still the one a full build gives.
    #[tokio::test]
    async fn snapshots_rebuilt_after_each_write_are_those_of_a_full_build() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open(None, dir.path()).await.unwrap();
        let live = LiveCatalog::open(store).await.unwrap();
        let t = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let mut lookup = manifest("lookup", "team-b", &[], &["orders-api"]);
        lookup.source = SourceFormat::Backstage;
        lookup.relations.depends_on.push(DependsOnRef {
            kind: None,
            name: "payments".into(),
        });
        let first = Catalog {
            services: vec![
                manifest("orders", "team-a", &["orders-api"], &["payments"]),
                manifest("storefront", "team-b", &[], &["orders-api", "search"]),
                lookup,
            ],
            ..Catalog::default()
        };
        live.apply_catalog(&first, submission("shop.yaml"), t)
            .await
            .unwrap();
        assert_as_built(&live, "the first catalog").await;

        // A dependency changes; then the service it names arrives.
        let mut second = first.clone();
        second.services[1] = manifest("storefront", "team-c", &[], &["orders"]);
        live.apply_catalog(&second, submission("shop.yaml"), t)
            .await
            .unwrap();
        assert_as_built(&live, "a changed dependency").await;
        let payments = Catalog {
            services: vec![manifest("payments", "team-p", &["pay-api"], &[])],
            ..Catalog::default()
        };
        live.apply_catalog(&payments, submission("pay.yaml"), t)
            .await
            .unwrap();
        assert_as_built(&live, "a service a component depends on").await;

        // Entities reach across the catalog: a full build.
        let entities = Catalog {
            systems: vec![SystemEntity {
                name: "shop".into(),
                owner: "team-a".into(),
                domain: Some("commerce".into()),
                description: None,
            }],
            resources: vec![ResourceEntity {
                name: "payments".into(),
                resource_type: "database".into(),
                owner: "team-p".into(),
                system: None,
            }],
            ..Catalog::default()
        };
        live.apply_catalog(&entities, submission("entities.yaml"), t)
            .await
            .unwrap();
        assert_as_built(&live, "entities").await;

        // The same manifests from elsewhere: only their origin changes.
        live.apply_catalog(&second, submission("moved.yaml"), t)
            .await
            .unwrap();
        assert_as_built(&live, "a new origin").await;
        live.mark_stale("pay.yaml", t).await.unwrap();
        assert_as_built(&live, "stale").await;
        let draft = seam_catalog::ServiceDraft {
            name: Some("search".into()),
            version: Some("1.0.0".into()),
            owner: Some("team-s".into()),
        }
        .validate()
        .unwrap();
        live.insert_service(&draft, submission("api"), t)
            .await
            .unwrap();
        assert_as_built(&live, "a registered service").await;
        assert!(live.delete_service("orders", t).await.unwrap());
        assert_as_built(&live, "a deletion").await;
        assert!(live.delete_service("payments", t).await.unwrap());
        assert_as_built(&live, "a deletion a component notices").await;
        assert!(!live.reload().await.unwrap());
    }
}
