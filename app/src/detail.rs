//! Server-side assembly of page data from the catalog snapshot (compiled with `ssr`
//! only): the pages resolve nothing themselves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use seam_catalog::manifest::{Access, Catalog, Loaded, Mode, Protocol, Severity};
use seam_snapshot::{ServiceFilter, ServiceView, Snapshot, SortKey};
use seam_store::RevisionRecord;

use crate::dto::{
    ApiRow, DatastoreRow, DependencyRow, DiagnosticRow, DomainRow, InstanceRow, ListQuery,
    ManifestCheck, PlanRow, RevisionRow, ServiceDetail, ServiceRow, TeamRow,
};

fn protocol(p: Protocol) -> String {
    match p {
        Protocol::Http => "http",
        Protocol::Grpc => "grpc",
        Protocol::Event => "event",
        Protocol::Graphql => "graphql",
    }
    .to_owned()
}

fn mode(m: Mode) -> String {
    match m {
        Mode::Sync => "sync",
        Mode::Async => "async",
    }
    .to_owned()
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The manifest of a revision as pretty JSON, the form revisions are compared in.
pub fn pretty_manifest(revision: &RevisionRecord) -> String {
    match serde_json::from_str::<serde_json::Value>(&revision.manifest) {
        Ok(value) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        Err(_) => revision.manifest.clone(),
    }
}

/// The snapshot filter a list query asks for (unknown sort names sort by name).
pub fn filter_of(query: &ListQuery) -> ServiceFilter {
    let set = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    // The page shortens an overlong text filter rather than failing.
    let q: String = query
        .q
        .chars()
        .take(seam_snapshot::MAX_QUERY_CHARS)
        .collect();
    ServiceFilter {
        q: set(&q),
        owner: set(&query.owner),
        domain: set(&query.domain),
        system: set(&query.system),
        lifecycle: set(&query.lifecycle),
        sort: SortKey::parse(&query.sort).unwrap_or_default(),
        descending: query.descending(),
    }
}

/// Builds the service page of `view` from the snapshot and its revision history.
pub fn build(
    view: &ServiceView,
    snapshot: &Snapshot,
    history: Vec<RevisionRecord>,
) -> ServiceDetail {
    let me = &view.manifest;
    let consumes = view
        .consumes
        .iter()
        .map(|d| DependencyRow {
            service: d.target().unwrap_or_default().to_owned(),
            api: d.declared.api.clone().unwrap_or_default(),
            version_req: d.declared.version_req.clone().unwrap_or_default(),
            mode: mode(d.declared.mode),
            protocol: protocol(d.declared.protocol),
            known: d.known,
        })
        .collect();
    let consumers = view
        .consumers
        .iter()
        .map(|c| DependencyRow {
            service: c.service.clone(),
            api: c.dependency.api.clone().unwrap_or_default(),
            version_req: c.dependency.version_req.clone().unwrap_or_default(),
            mode: mode(c.dependency.mode),
            protocol: protocol(c.dependency.protocol),
            known: true,
        })
        .collect();
    let datastores = me
        .datastores
        .iter()
        .map(|ds| DatastoreRow {
            name: ds.name.clone(),
            kind: ds.kind.clone(),
            access: match ds.access {
                Access::Owned => "owned",
                Access::Shared => "shared",
            }
            .to_owned(),
            shared_with: snapshot
                .datastore(&ds.name)
                .map(|store| {
                    store
                        .users
                        .iter()
                        .filter(|(user, _)| *user != me.name)
                        .map(|(user, _)| user.clone())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let manifest_json = serde_json::to_string_pretty(me).unwrap_or_default();
    let revisions = history
        .into_iter()
        .rev()
        .map(|r| RevisionRow {
            revision: r.revision,
            source: r.source,
            submitted_by: r.submitted_by,
            valid_from: timestamp(r.valid_from),
            valid_to: r.valid_to.map(timestamp).unwrap_or_default(),
        })
        .collect();
    ServiceDetail {
        description: me.description.clone().unwrap_or_default(),
        links: me
            .links
            .iter()
            .map(|l| {
                (
                    l.url.clone(),
                    l.title.clone().unwrap_or_else(|| l.url.clone()),
                )
            })
            .collect(),
        instances: me
            .instances
            .iter()
            .map(|i| InstanceRow {
                base_url: i.base_url.clone(),
                metrics_url: i.metrics_url.clone(),
                health_url: i.health_url.clone(),
            })
            .collect(),
        provides: me
            .provides
            .iter()
            .map(|a| ApiRow {
                name: a.name.clone(),
                version: a.version.clone().unwrap_or_default(),
                protocol: protocol(a.protocol),
            })
            .collect(),
        libraries: me
            .libraries
            .iter()
            .map(|l| (l.name.clone(), l.version.clone()))
            .collect(),
        consumes,
        consumers,
        datastores,
        revisions,
        manifest_json,
        row: ServiceRow::from(view),
    }
}

/// Every team, declared (Backstage groups) or named as an owner, with what it owns.
pub fn teams(snapshot: &Snapshot) -> Vec<TeamRow> {
    snapshot
        .teams()
        .map(|t| TeamRow {
            name: t.name.clone(),
            parent: t
                .entity
                .as_ref()
                .and_then(|e| e.parent.clone())
                .unwrap_or_default(),
            services: t.services.clone(),
            systems: t.systems.clone(),
            domains: t.domains.clone(),
            apis: t.apis.clone(),
        })
        .collect()
}

/// Every domain, declared or named by a service, with its systems and services.
pub fn domains(snapshot: &Snapshot) -> Vec<DomainRow> {
    snapshot
        .domains()
        .map(|d| DomainRow {
            name: d.name.clone(),
            owner: d
                .entity
                .as_ref()
                .map(|e| e.owner.clone())
                .unwrap_or_default(),
            description: d
                .entity
                .as_ref()
                .and_then(|e| e.description.clone())
                .unwrap_or_default(),
            systems: d.systems.clone(),
            services: d.services.clone(),
        })
        .collect()
}

/// What registering `incoming` would do to each of its services, compared with what the
/// catalog holds (by meaning, as the store compares).
pub async fn plan(catalog: &seam_store::LiveCatalog, incoming: &Catalog) -> Vec<PlanRow> {
    let names: Vec<&str> = incoming.services.iter().map(|s| s.name.as_str()).collect();
    let current = catalog.declared_services(&names).await;
    let mut rows = Vec::with_capacity(incoming.services.len());
    for (service, current) in incoming.services.iter().zip(current) {
        let row = match current {
            None => PlanRow {
                name: service.name.clone(),
                action: "create".to_owned(),
                fields: Vec::new(),
                version_change: None,
            },
            Some(current) if current == *service => PlanRow {
                name: service.name.clone(),
                action: "unchanged".to_owned(),
                fields: Vec::new(),
                version_change: None,
            },
            Some(current) => PlanRow {
                name: service.name.clone(),
                action: "update".to_owned(),
                fields: current
                    .changed_fields(service)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                version_change: (current.version != service.version).then(|| {
                    (
                        current.version.clone().unwrap_or_default(),
                        service.version.clone().unwrap_or_default(),
                    )
                }),
            },
        };
        rows.push(row);
    }
    rows
}

/// What the Register page's live check answers when too many checks run at once.
pub const CHECK_BUSY: &str =
    "the server is checking many manifests right now; try again in a moment";

/// Most live checks that parse at once; each may take about 0.1 s of CPU.
const MAX_CONCURRENT_CHECKS: usize = 2;
/// Checks per second over all clients, and the burst allowed above it.
const CHECKS_PER_SECOND: f64 = 20.0;
const CHECK_BURST: f64 = 40.0;

static CHECKS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static CHECK_BUCKET: Mutex<Option<(std::time::Instant, f64)>> = Mutex::new(None);

/// Held while a live check parses; releases its slot when dropped.
pub struct CheckPermit(());

impl Drop for CheckPermit {
    fn drop(&mut self) {
        CHECKS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A slot for one live check, or `None` when too many run or the rate is exceeded (the
/// check is unauthenticated, so it is bounded in concurrency and rate).
pub fn check_permit(_bytes: usize) -> Option<CheckPermit> {
    {
        let mut bucket = CHECK_BUCKET.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let (last, tokens) = bucket.unwrap_or((now, CHECK_BURST));
        let refilled =
            (tokens + now.duration_since(last).as_secs_f64() * CHECKS_PER_SECOND).min(CHECK_BURST);
        if refilled < 1.0 {
            *bucket = Some((now, refilled));
            return None;
        }
        *bucket = Some((now, refilled - 1.0));
    }
    if CHECKS_IN_FLIGHT.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT_CHECKS {
        CHECKS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    Some(CheckPermit(()))
}

/// The page's view of what loading a pasted manifest found.
pub fn check_of(loaded: &Loaded) -> ManifestCheck {
    let c = &loaded.catalog;
    ManifestCheck {
        diagnostics: loaded
            .diagnostics
            .iter()
            .map(|d| DiagnosticRow {
                error: d.severity == Severity::Error,
                document: d.document,
                line: d.line.unwrap_or(0),
                column: d.column.unwrap_or(0),
                path: d.path.clone(),
                message: d.message.clone(),
            })
            .collect(),
        services: c.services.len(),
        entities: c.apis.len()
            + c.systems.len()
            + c.domains.len()
            + c.teams.len()
            + c.resources.len(),
        plan: Vec::new(),
        changes: Vec::new(),
        refused: None,
    }
}
