//! One conformance suite, run on every store implementation.
//!
//! SQLite runs on a file in a temporary directory. PostgreSQL runs against the server
//! that `SEAM_TEST_POSTGRES_URL` points at (`./scripts/test` starts a throwaway one);
//! each test creates its own database there and drops it afterwards. Without the
//! variable the PostgreSQL tests say they are skipped (and fail when
//! `SEAM_REQUIRE_POSTGRES` is set, as `scripts/test` does).

use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use seam_catalog::manifest::{
    Access, Catalog, Datastore, Dependency, Mode, Protocol, ServiceManifest, SourceFormat,
    TeamEntity,
};
use seam_catalog::ServiceDraft;
use seam_snapshot::{ServiceFilter, SortKey};
use seam_store::{
    Backend, ChangeKind, LiveCatalog, SharedStore, StoreError, StoredEdge, Submission,
};
use seam_traces::{Distribution, EdgeKey, EdgeRow, EdgeStats, Mode as EdgeMode, NodeKind};
use sqlx::Connection;

const API: Submission<'static> = Submission {
    source: "api",
    by: "ci",
    origin: "api",
    replaces_origin: false,
};
const CLI: Submission<'static> = Submission {
    source: "cli",
    by: "release-bot",
    origin: "cli",
    replaces_origin: false,
};

fn draft(name: &str, version: &str, owner: &str) -> seam_catalog::NewService {
    ServiceDraft {
        name: Some(name.into()),
        version: Some(version.into()),
        owner: Some(owner.into()),
    }
    .validate()
    .expect("valid fixture")
}

/// Writes a service's stored manifest behind the store's back, as an older Seam left it.
async fn rewrite_manifest(url: &str, name: &str, stored: &str) {
    const SQL: &str = "UPDATE services SET manifest = $2 WHERE name = $1";
    if url.starts_with("sqlite:") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(SQL)
            .bind(name)
            .bind(stored)
            .execute(&mut db)
            .await
            .unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(SQL)
            .bind(name)
            .bind(stored)
            .execute(&mut db)
            .await
            .unwrap();
    }
}

/// The suite, on `store` whose database `url` names.
async fn suite(store: SharedStore, url: &str) {
    store.ping().await.expect("ping");
    assert!(store.all_services().await.unwrap().is_empty());

    let t0 = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let checkout = store
        .insert_service(&draft("checkout", "1.4.0", "team-payments"), API, t0)
        .await
        .expect("insert checkout");
    assert_eq!(checkout.name, "checkout");
    assert_eq!(checkout.version.as_deref(), Some("1.4.0"));
    assert_eq!(checkout.owner, "team-payments");
    assert_eq!(checkout.registered_at, t0);
    assert_eq!(checkout.updated_at, t0);

    store
        .insert_service(&draft("basket", "0.9.1-rc.1", "team-shop"), API, t0)
        .await
        .expect("insert basket");

    // Names are unique: a second registration is a conflict and changes nothing.
    let err = store
        .insert_service(&draft("checkout", "2.0.0", "someone-else"), API, t0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref name } if name == "checkout"),
        "{err}"
    );

    let listed = store.all_services().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["basket", "checkout"], "ordered by name");
    assert_eq!(listed[1], checkout, "the conflict left the row unchanged");

    assert_eq!(store.get_service("checkout").await.unwrap(), Some(checkout));
    assert_eq!(store.get_service("nope").await.unwrap(), None);

    manifests(&store).await;
    origins_and_history(&store, url).await;
    live(&store).await;
    health(&store).await;
    edges(&store).await;
}

fn bucket(service: &str, instance: &str, start: i64, requests: f64) -> seam_health::BucketRow {
    let mut stats = seam_health::RequestStats {
        requests,
        errors: requests / 10.0,
        ..Default::default()
    };
    stats.add_bucket(0.25, requests / 2.0);
    stats.add_bucket(f64::INFINITY, requests);
    stats.duration_count = requests;
    seam_health::BucketRow {
        service: service.to_owned(),
        instance: instance.to_owned(),
        start,
        stats,
        scrapes: 4,
        scrapes_up: 3,
    }
}

/// Request statistics: batches, merging, downsampling, retention.
async fn health(store: &SharedStore) {
    let hour: i64 = 1_800_000 * 3600;
    // Two hours of minutes for one instance and its service row.
    let mut rows = Vec::new();
    for minute in 0..120 {
        rows.push(bucket("pay", "http://a", hour + minute * 60, 10.0));
        rows.push(bucket("pay", "", hour + minute * 60, 10.0));
    }
    store.write_health(60, &rows).await.expect("write a batch");
    let read = store
        .read_health("pay", "http://a", hour, hour + 600)
        .await
        .unwrap();
    assert_eq!(read.len(), 10);
    assert_eq!(read[0].seconds, 60);
    assert_eq!(
        read[0].row, rows[0],
        "a bucket reads back as written, +Inf included"
    );

    // The same bucket written again (a retried batch, a second replica) adds up.
    store.write_health(60, &rows[..1]).await.unwrap();
    let again = store
        .read_health("pay", "http://a", hour, hour + 60)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].row.stats.requests, 20.0);
    assert_eq!(again[0].row.scrapes, 8);
    assert_eq!(
        again[0].row.stats.buckets,
        vec![(0.25, 10.0), (f64::INFINITY, 20.0)]
    );

    // Downsampling folds the first hour's minutes into one hour bucket; totals stay.
    let folded = store.downsample_health(hour + 3600).await.unwrap();
    assert_eq!(
        folded, 120,
        "60 minutes of the instance and 60 of the service"
    );
    let mixed = store
        .read_health("pay", "http://a", hour, hour + 7200)
        .await
        .unwrap();
    assert_eq!(mixed.len(), 61, "one hour and 60 minutes");
    assert_eq!((mixed[0].seconds, mixed[0].row.start), (3600, hour));
    assert_eq!(mixed[0].row.stats.requests, 610.0);
    assert_eq!(
        mixed[0].row.stats.buckets,
        vec![(0.25, 305.0), (f64::INFINITY, 610.0)]
    );
    assert_eq!(mixed[1].seconds, 60);
    let service = store
        .read_health("pay", "", hour, hour + 3600)
        .await
        .unwrap();
    assert_eq!(service.len(), 1);
    assert_eq!(service[0].row.stats.requests, 600.0);
    assert_eq!(
        store.downsample_health(hour + 3600).await.unwrap(),
        0,
        "done once"
    );

    // Retention removes what ended before the cut, and nothing after it.
    let removed = store.prune_health(hour + 3600).await.unwrap();
    assert_eq!(removed, 2, "the two hour buckets");
    let left = store
        .read_health("pay", "http://a", 0, i64::MAX)
        .await
        .unwrap();
    assert_eq!(left.len(), 60);
    assert!(left.iter().all(|b| b.row.start >= hour + 3600));

    // Catalog writes and bucket batches at once: on SQLite, writers that read before
    // they write must wait for each other, not fail with "database is locked".
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = store.clone();
        writers.spawn(async move {
            if i % 2 == 0 {
                let rows: Vec<_> = (0..50)
                    .map(|m| bucket("busy", &format!("http://{i}"), m * 60, 1.0))
                    .collect();
                store.write_health(60, &rows).await.map(|_| ())
            } else {
                let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
                store
                    .insert_service(&draft(&format!("busy-{i}"), "1.0.0", "team-busy"), API, now)
                    .await
                    .map(|_| ())
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap().expect("concurrent writers all succeed");
    }
}

fn edge_key(caller: (&str, NodeKind), callee: (&str, NodeKind)) -> EdgeKey {
    EdgeKey {
        caller: caller.0.into(),
        caller_kind: caller.1,
        callee: callee.0.into(),
        callee_kind: callee.1,
        caller_version: "".into(),
        callee_version: "".into(),
        environment: "".into(),
        protocol: "".into(),
        mode: EdgeMode::Sync,
        operation: "".into(),
    }
}

/// Statistics with every field set, none equal to another: `calls` calls.
fn edge_stats(calls: f64) -> EdgeStats {
    let mut latency = seam_health::RequestStats {
        requests: calls,
        errors: calls / 4.0,
        client_errors: calls / 8.0,
        duration_sum_seconds: calls * 0.125,
        duration_count: calls - 1.0,
        buckets: Vec::new(),
    };
    latency.add_bucket(0.1, calls * 0.5);
    latency.add_bucket(1.0, calls * 0.75);
    latency.add_bucket(f64::INFINITY, calls - 1.0);
    EdgeStats {
        calls: latency,
        fan_out: Distribution {
            count: calls / 2.0,
            sum: calls,
            buckets: vec![
                (1.0, calls / 4.0),
                (5.0, calls / 2.0 - 1.0),
                (f64::INFINITY, calls / 2.0),
            ],
        },
    }
}

fn times(stats: &EdgeStats, n: usize) -> EdgeStats {
    let mut total = EdgeStats::default();
    for _ in 0..n {
        total.add(stats);
    }
    total
}

/// Call-graph edges: every field, unknowns, merging, filters, ranges, downsampling,
/// retention, and writers at once.
async fn edges(store: &SharedStore) {
    let hour: i64 = 1_800_000 * 3600;
    let full = EdgeRow {
        start: hour,
        key: EdgeKey {
            caller_version: "1.4.0".into(),
            callee_version: "2.0.1-rc.1".into(),
            environment: "production".into(),
            protocol: "grpc".into(),
            operation: "payments.v1.Payments/Charge".into(),
            ..edge_key(
                ("checkout", NodeKind::Service),
                ("payments", NodeKind::Service),
            )
        },
        stats: edge_stats(20.0),
    };
    // What the spans did not say stays empty; a database called asynchronously.
    let unknown = EdgeRow {
        start: hour,
        key: EdgeKey {
            mode: EdgeMode::Async,
            ..edge_key(
                ("checkout", NodeKind::Service),
                ("orders-db", NodeKind::Database),
            )
        },
        stats: EdgeStats::default(),
    };
    let from_users = EdgeRow {
        start: hour,
        key: EdgeKey {
            protocol: "http".into(),
            operation: "GET /".into(),
            ..edge_key(("user", NodeKind::User), ("frontend", NodeKind::Virtual))
        },
        stats: edge_stats(4.0),
    };
    let first = [from_users.clone(), full.clone(), unknown.clone()];
    store.write_edges(60, &first).await.expect("write edges");
    let read = store.read_edges(hour, hour + 60, None).await.unwrap();
    let expected: Vec<StoredEdge> = [&unknown, &full, &from_users]
        .into_iter()
        .map(|row| StoredEdge {
            seconds: 60,
            row: row.clone(),
        })
        .collect();
    assert_eq!(
        read, expected,
        "every field reads back as written, by start then key"
    );

    // Written again (a retried batch, a second replica, twice in one batch): adds up.
    store
        .write_edges(60, &[full.clone(), full.clone()])
        .await
        .unwrap();
    let again = store
        .read_edges(hour, hour + 60, Some("payments"))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].row.key, full.key);
    assert_eq!(again[0].row.stats, times(&full.stats, 3));
    assert_eq!(
        again[0].row.stats.calls.buckets,
        vec![(0.1, 30.0), (1.0, 45.0), (f64::INFINITY, 57.0)]
    );

    // Two hours of minutes of one edge, and a minute with more edges than a statement
    // binds at once, written twice.
    let minutes: Vec<EdgeRow> = (1..120)
        .map(|m| EdgeRow {
            start: hour + m * 60,
            ..full.clone()
        })
        .collect();
    store.write_edges(60, &minutes).await.unwrap();
    let fan: Vec<EdgeRow> = (0..150)
        .map(|i| EdgeRow {
            start: hour + 60,
            key: edge_key(
                ("checkout", NodeKind::Service),
                (&format!("callee-{i:03}"), NodeKind::Service),
            ),
            stats: edge_stats(2.0),
        })
        .collect();
    store.write_edges(60, &fan).await.unwrap();
    store.write_edges(60, &fan).await.unwrap();
    let minute = store.read_edges(hour + 60, hour + 120, None).await.unwrap();
    assert_eq!(minute.len(), 151);
    assert!(minute[..150]
        .iter()
        .zip(&fan)
        .all(|(read, written)| read.row.key == written.key
            && read.row.stats == times(&written.stats, 2)));
    assert_eq!(minute[150].row.key, full.key, "callee-… before payments");

    // A service's edges, as caller or callee.
    let callee = |rows: &[StoredEdge]| -> Vec<String> {
        rows.iter().map(|e| e.row.key.callee.to_string()).collect()
    };
    let checkout = store
        .read_edges(hour, hour + 60, Some("checkout"))
        .await
        .unwrap();
    assert_eq!(callee(&checkout), ["orders-db", "payments"]);
    let frontend = store
        .read_edges(hour, hour + 60, Some("frontend"))
        .await
        .unwrap();
    assert_eq!(callee(&frontend), ["frontend"]);
    let users = store
        .read_edges(hour, hour + 60, Some("user"))
        .await
        .unwrap();
    assert_eq!(callee(&users), ["frontend"]);
    assert!(store
        .read_edges(hour, hour + 7200, Some("nobody"))
        .await
        .unwrap()
        .is_empty());

    // Buckets that start in [from, to): the start included, the end not.
    let range = store
        .read_edges(hour + 120, hour + 300, Some("payments"))
        .await
        .unwrap();
    let starts: Vec<i64> = range.iter().map(|e| e.row.start - hour).collect();
    assert_eq!(starts, [120, 180, 240]);
    assert!(store
        .read_edges(hour + 60, hour + 60, None)
        .await
        .unwrap()
        .is_empty());
    let all = store.read_edges(hour, hour + 7200, None).await.unwrap();
    assert_eq!(all.len(), 3 + 150 + 119);
    assert!(all
        .windows(2)
        .all(|w| (w[0].row.start, &w[0].row.key) < (w[1].row.start, &w[1].row.key)));

    // Downsampling folds the first hour's minutes into hours, per edge; totals and
    // histograms stay.
    let folded = store.downsample_edges(hour + 3600).await.unwrap();
    assert_eq!(folded, 3 + 150 + 59, "the minutes that ended by the cut");
    let mixed = store
        .read_edges(hour, hour + 7200, Some("payments"))
        .await
        .unwrap();
    assert_eq!(mixed.len(), 61, "one hour and 60 minutes");
    assert_eq!((mixed[0].seconds, mixed[0].row.start), (3600, hour));
    assert_eq!(mixed[0].row.key, full.key, "every key field kept");
    assert_eq!(mixed[0].row.stats, times(&full.stats, 3 + 59));
    assert_eq!(
        mixed[0].row.stats.fan_out.buckets,
        vec![(1.0, 310.0), (5.0, 558.0), (f64::INFINITY, 620.0)]
    );
    assert!(mixed[1..]
        .iter()
        .all(|e| e.seconds == 60 && e.row.start >= hour + 3600));
    let hours = store.read_edges(hour, hour + 3600, None).await.unwrap();
    assert_eq!(hours.len(), 3 + 150);
    assert!(hours
        .iter()
        .all(|e| e.seconds == 3600 && e.row.start == hour));
    assert!(hours.contains(&StoredEdge {
        seconds: 3600,
        row: unknown.clone(),
    }));
    assert!(hours.contains(&StoredEdge {
        seconds: 3600,
        row: EdgeRow {
            start: hour,
            stats: times(&fan[7].stats, 2),
            ..fan[7].clone()
        },
    }));
    assert_eq!(
        store.downsample_edges(hour + 3600).await.unwrap(),
        0,
        "done once"
    );
    // A late minute of a folded hour is added to the hour by the next downsampling.
    store
        .write_edges(
            60,
            &[EdgeRow {
                start: hour + 600,
                ..full.clone()
            }],
        )
        .await
        .unwrap();
    assert_eq!(store.downsample_edges(hour + 3600).await.unwrap(), 1);
    let hour_row = store
        .read_edges(hour, hour + 60, Some("payments"))
        .await
        .unwrap();
    assert_eq!(hour_row.len(), 1);
    assert_eq!(hour_row[0].row.stats, times(&full.stats, 3 + 59 + 1));

    // Retention removes what ended by the cut, and nothing after it.
    let removed = store.prune_edges(hour + 3600).await.unwrap();
    assert_eq!(removed, 3 + 150, "the hour buckets");
    let left = store.read_edges(0, i64::MAX, None).await.unwrap();
    assert_eq!(left.len(), 60);
    assert!(left
        .iter()
        .all(|e| e.seconds == 60 && e.row.start >= hour + 3600));
    assert_eq!(store.prune_edges(hour + 3600).await.unwrap(), 0);

    // Writers at once (replicas, the catalog beside them): every write counts.
    let busy = EdgeRow {
        start: 0,
        key: edge_key(("busy", NodeKind::Service), ("busier", NodeKind::Service)),
        stats: edge_stats(8.0),
    };
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = store.clone();
        let busy = busy.clone();
        writers.spawn(async move {
            if i % 3 == 2 {
                let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
                store
                    .insert_service(&draft(&format!("edgy-{i}"), "1.0.0", "team-busy"), API, now)
                    .await
                    .map(|_| ())
            } else {
                store.write_edges(60, &[busy]).await
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap().expect("concurrent writers all succeed");
    }
    let busy_read = store.read_edges(0, 60, Some("busy")).await.unwrap();
    assert_eq!(busy_read.len(), 1);
    assert_eq!(busy_read[0].row.stats, times(&busy.stats, 8));
}

fn from_file(path: &'static str) -> Submission<'static> {
    Submission {
        source: "directory",
        by: "directory",
        origin: path,
        replaces_origin: true,
    }
}

/// A catalog of just these services.
fn services(list: &[ServiceManifest]) -> Catalog {
    Catalog {
        services: list.to_vec(),
        ..Catalog::default()
    }
}

/// Every stored entity of one kind.
async fn entities_of(store: &SharedStore, kind: &str) -> Vec<seam_store::EntityRecord> {
    let all = store.all_entities().await.unwrap();
    all.into_iter().filter(|e| e.kind == kind).collect()
}

/// The (kind, name) of every deletion among `changes`.
fn deleted(changes: &[seam_store::Change]) -> Vec<(&'static str, String)> {
    changes
        .iter()
        .filter(|c| c.change == ChangeKind::Deleted)
        .map(|c| (c.kind, c.name.clone()))
        .collect()
}

/// Stored formats, origins, pruning, stale marks and the catalog at a past instant.
async fn origins_and_history(store: &SharedStore, url: &str) {
    let t1 = Utc.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
    let t2 = t1 + Duration::hours(1);
    let t3 = t2 + Duration::hours(1);
    let t4 = t3 + Duration::hours(1);

    // A revision stored by an older Seam, whose model had no `relations` field, still
    // reads; re-applying the same manifest is no new revision.
    let legacy = manifest("legacy", "1.0.0", "team-old", None);
    let mut old_json = serde_json::to_value(&legacy).unwrap();
    old_json.as_object_mut().unwrap().remove("relations");
    store
        .apply_catalog(&services(std::slice::from_ref(&legacy)), API, t1)
        .await
        .unwrap();
    rewrite_manifest(url, "legacy", &old_json.to_string()).await;
    let record = store.get_service("legacy").await.unwrap().unwrap();
    assert!(
        !record.manifest.contains("\"format\""),
        "{}",
        record.manifest
    );
    assert_eq!(record.manifest().unwrap(), legacy);
    let again = store
        .apply_catalog(&services(std::slice::from_ref(&legacy)), API, t2)
        .await
        .unwrap();
    assert_eq!(again[0].change, ChangeKind::Unchanged);
    // ...while a real change is one, written in the current format.
    let mut bumped = legacy.clone();
    bumped.version = Some("1.1.0".into());
    let changed = store
        .apply_catalog(&services(&[bumped]), API, t2)
        .await
        .unwrap();
    assert_eq!(changed[0].change, ChangeKind::Updated);
    let record = store.get_service("legacy").await.unwrap().unwrap();
    assert!(
        record.manifest.starts_with("{\"format\":1"),
        "{}",
        record.manifest
    );
    // A writer whose clock lags (another replica) never opens a revision before the
    // one it replaces: the intervals stay ordered.
    let mut lagging = legacy.clone();
    lagging.version = Some("1.2.0".into());
    store
        .apply_catalog(&services(&[lagging]), API, t1)
        .await
        .unwrap();
    let history = store.service_history("legacy").await.unwrap();
    for pair in history.windows(2) {
        assert!(pair[0].valid_to == Some(pair[1].valid_from), "{history:?}");
        assert!(pair[0].valid_from <= pair[1].valid_from, "{history:?}");
    }

    // A file declares two services and a system; then only one; then it is removed.
    let system = seam_catalog::manifest::SystemEntity {
        name: "files".into(),
        owner: "team-files".into(),
        domain: None,
        description: None,
    };
    let both = Catalog {
        services: vec![
            manifest("file-a", "1.0.0", "team-files", None),
            manifest("file-b", "1.0.0", "team-files", None),
        ],
        systems: vec![system.clone()],
        ..Catalog::default()
    };
    store
        .apply_catalog(&both, from_file("/srv/a.yaml"), t1)
        .await
        .unwrap();
    assert_eq!(
        store.get_service("file-a").await.unwrap().unwrap().origin,
        "/srv/a.yaml"
    );
    let one = Catalog {
        services: vec![both.services[0].clone()],
        systems: vec![system.clone()],
        ..Catalog::default()
    };
    let changes = store
        .apply_catalog(&one, from_file("/srv/a.yaml"), t2)
        .await
        .unwrap();
    assert_eq!(deleted(&changes), [("service", "file-b".to_owned())]);
    assert_eq!(store.get_service("file-b").await.unwrap(), None);

    // Another source registers file-a: it takes ownership, so removing the file no
    // longer removes file-a, only what the file still owns (the system).
    store
        .apply_catalog(
            &Catalog {
                services: vec![both.services[0].clone()],
                ..Catalog::default()
            },
            API,
            t3,
        )
        .await
        .unwrap();
    let changes = store
        .apply_catalog(&Catalog::default(), from_file("/srv/a.yaml"), t3)
        .await
        .unwrap();
    assert_eq!(deleted(&changes), [("system", "files".to_owned())]);
    assert_eq!(
        store.get_service("file-a").await.unwrap().unwrap().origin,
        "api"
    );

    // The catalog as it was at t1 + 30 min: both services, the system.
    let past = store.catalog_at(t1 + Duration::minutes(30)).await.unwrap();
    let names: Vec<&str> = past.services.iter().map(|r| r.service.as_str()).collect();
    assert!(
        names.contains(&"file-a") && names.contains(&"file-b"),
        "{names:?}"
    );
    assert!(past
        .entities
        .iter()
        .any(|e| e.kind == "system" && e.name == "files"));
    let now = store.catalog_at(t4).await.unwrap();
    assert!(!now.services.iter().any(|r| r.service == "file-b"));
    assert!(!now.entities.iter().any(|e| e.name == "files"));
    let history = store.entity_history("system", "files").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].valid_to, Some(t3));
    assert_eq!(history[0].origin, "/srv/a.yaml");

    // Discovery no longer finds a manifest: its services are stale, not deleted; the
    // next successful fetch clears the mark.
    let served = Submission {
        source: "discovery",
        by: "discovery",
        origin: "http://10.0.0.9:8080/.well-known/seam/manifest.yaml",
        replaces_origin: false,
    };
    let quotes = Catalog {
        services: vec![manifest("quotes", "1.0.0", "team-sales", None)],
        ..Catalog::default()
    };
    store.apply_catalog(&quotes, served, t1).await.unwrap();
    assert_eq!(
        store.mark_stale(served.origin, t2).await.unwrap(),
        ["quotes"]
    );
    assert!(store
        .mark_stale(served.origin, t3)
        .await
        .unwrap()
        .is_empty());
    let stale = store.get_service("quotes").await.unwrap().unwrap();
    assert_eq!(stale.stale_since, Some(t2));
    store.apply_catalog(&quotes, served, t4).await.unwrap();
    assert_eq!(
        store
            .get_service("quotes")
            .await
            .unwrap()
            .unwrap()
            .stale_since,
        None
    );
}

/// The live catalog over the store: each write publishes a snapshot and events, 5,000
/// services list and page completely, and a reload sees another replica's writes.
async fn live(store: &SharedStore) {
    let live = LiveCatalog::open(store.clone()).await.unwrap();
    let before = live.snapshot();
    let mut events = live.subscribe();
    let watch = live.watch();
    let t = Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap();
    let catalog = Catalog {
        services: (0..5000)
            .map(|i| {
                let parity = if i % 2 == 0 { "even" } else { "odd" };
                manifest(
                    &format!("bulk-{i:04}"),
                    "1.0.0",
                    &format!("team-{}", i % 9),
                    Some(parity),
                )
            })
            .collect(),
        ..Catalog::default()
    };
    let changes = live.apply_catalog(&catalog, API, t).await.unwrap();
    assert_eq!(changes.len(), 5000);
    assert!(watch.has_changed().unwrap());
    let snapshot = live.snapshot();
    assert!(snapshot.generation > before.generation);
    assert_eq!(snapshot.services().len(), before.services().len() + 5000);
    let first = events.recv().await.unwrap();
    assert_eq!(
        (first.kind, first.name.as_str(), first.change),
        ("service", "bulk-0000", ChangeKind::Created)
    );

    // The catalog as it was just before: resolved the same way, without the new ones.
    let before_bulk = live.snapshot_at(t - Duration::seconds(1)).await.unwrap();
    assert!(!before_bulk.has_service("bulk-0000"));
    assert!(live.snapshot_at(t).await.unwrap().has_service("bulk-0000"));

    // Re-applying changes nothing and publishes nothing.
    live.apply_catalog(&catalog, API, t).await.unwrap();
    assert_eq!(live.snapshot().generation, snapshot.generation);

    // Every page of a filtered list, none lost, none twice.
    let filter = ServiceFilter {
        domain: Some("odd".into()),
        sort: SortKey::Owner,
        ..ServiceFilter::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for offset in (0..2500).step_by(1000) {
        let page = snapshot.query(&filter, offset, 1000);
        assert_eq!(page.total, 2500);
        seen.extend(page.services.iter().map(|v| v.name().to_owned()));
    }
    assert_eq!(seen.len(), 2500);

    // A new process reads all of it back from the store.
    let reopened = LiveCatalog::open(store.clone()).await.unwrap();
    assert_eq!(
        reopened.snapshot().services().len(),
        snapshot.services().len()
    );

    // Deleting is an event too.
    assert!(live.delete_service("bulk-0000", t).await.unwrap());
    let deleted = loop {
        let event = events.recv().await.unwrap();
        if event.change == ChangeKind::Deleted {
            break event;
        }
    };
    assert_eq!(deleted.name, "bulk-0000");
    assert!(!live.snapshot().has_service("bulk-0000"));

    // Writes cut short at any point (a client that went away, a timeout) never leave
    // the snapshot behind the store: they run to the end on a task of their own.
    for step in 0..20u64 {
        let extra = services(&[manifest(&format!("cut-{step}"), "1.0.0", "team-cut", None)]);
        let cut = tokio::time::timeout(
            std::time::Duration::from_micros(step * 150),
            live.apply_catalog(&extra, API, t),
        )
        .await;
        drop(cut);
        // The same write again, awaited: whatever became of the cut one, the snapshot
        // must now be what the store holds.
        live.apply_catalog(&extra, API, t).await.unwrap();
        let fresh = LiveCatalog::open(store.clone()).await.unwrap();
        assert_eq!(
            live.snapshot().services().len(),
            fresh.snapshot().services().len(),
            "after a write cut at {step}"
        );
    }

    // Another replica writes to the same database: a reload publishes it, once.
    store
        .insert_service(&draft("from-elsewhere", "1.0.0", "team"), API, t)
        .await
        .unwrap();
    assert!(!live.snapshot().has_service("from-elsewhere"));
    assert!(live.reload().await.unwrap());
    assert!(live.snapshot().has_service("from-elsewhere"));
    assert!(!live.reload().await.unwrap());
}

fn manifest(name: &str, version: &str, owner: &str, domain: Option<&str>) -> ServiceManifest {
    ServiceManifest {
        name: name.into(),
        version: Some(version.into()),
        owner: owner.into(),
        domain: domain.map(Into::into),
        system: None,
        lifecycle: "production".into(),
        kind: "service".into(),
        description: Some(format!("the {name} service")),
        links: Vec::new(),
        instances: Vec::new(),
        provides: Vec::new(),
        consumes: vec![Dependency {
            service: Some("checkout".into()),
            api: None,
            version_req: Some("^1.4".into()),
            mode: Mode::Sync,
            protocol: Protocol::Http,
        }],
        datastores: vec![Datastore {
            name: "shop-db".into(),
            kind: "postgresql".into(),
            access: Access::Shared,
        }],
        libraries: Vec::new(),
        source: SourceFormat::Seam,
        relations: Default::default(),
    }
}

/// Manifests: idempotent upserts with history, entities, deletion, filters and paging.
async fn manifests(store: &SharedStore) {
    let t1 = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
    let t2 = t1 + Duration::hours(1);
    let t3 = t2 + Duration::hours(1);
    let team = TeamEntity {
        name: "team-shop".into(),
        group_type: "team".into(),
        parent: None,
        children: Vec::new(),
        members: Vec::new(),
        description: None,
    };
    let catalog = Catalog {
        services: vec![
            manifest("orders", "2.0.0", "team-shop", Some("commerce")),
            manifest("stock_level", "0.1.0", "team-stock", Some("warehouse")),
        ],
        teams: vec![team],
        ..Catalog::default()
    };
    let changes = store.apply_catalog(&catalog, API, t1).await.unwrap();
    let summary: Vec<(&str, &str, ChangeKind, Option<i64>)> = changes
        .iter()
        .map(|c| (c.kind, c.name.as_str(), c.change, c.revision))
        .collect();
    assert_eq!(
        summary,
        [
            ("service", "orders", ChangeKind::Created, Some(1)),
            ("service", "stock_level", ChangeKind::Created, Some(1)),
            ("team", "team-shop", ChangeKind::Created, Some(1)),
        ]
    );

    // The same catalog again changes nothing.
    let again = store.apply_catalog(&catalog, API, t2).await.unwrap();
    assert!(
        again.iter().all(|c| c.change == ChangeKind::Unchanged),
        "{again:?}"
    );
    assert_eq!(store.service_history("orders").await.unwrap().len(), 1);

    // A new version is a new revision; the previous one is closed, not lost.
    let mut bumped = catalog.clone();
    bumped.services[0].version = Some("2.1.0".into());
    let changes = store.apply_catalog(&bumped, CLI, t2).await.unwrap();
    assert_eq!(changes[0].change, ChangeKind::Updated);
    assert_eq!(changes[0].revision, Some(2));
    assert_eq!(changes[1].change, ChangeKind::Unchanged);
    let history = store.service_history("orders").await.unwrap();
    assert_eq!(history.len(), 2);
    let all = store.all_revisions().await.unwrap();
    let orders: Vec<_> = all.iter().filter(|r| r.service == "orders").collect();
    assert_eq!(orders.len(), 2, "every revision of orders, in order");
    assert!(orders[0].revision < orders[1].revision);
    assert_eq!(
        orders[0].manifest().unwrap().version.as_deref(),
        history[0].manifest().unwrap().version.as_deref()
    );
    assert_eq!(
        (
            history[0].revision,
            history[0].valid_from,
            history[0].valid_to
        ),
        (1, t1, Some(t2))
    );
    assert_eq!(
        (
            history[1].revision,
            history[1].valid_to,
            history[1].source.as_str(),
            history[1].submitted_by.as_str()
        ),
        (2, None, "cli", "release-bot")
    );
    assert_eq!(
        history[0].manifest().unwrap().version.as_deref(),
        Some("2.0.0")
    );
    let orders = store.get_service("orders").await.unwrap().unwrap();
    assert_eq!(
        (
            orders.version.as_deref(),
            orders.revision,
            orders.updated_at
        ),
        (Some("2.1.0"), 2, t2)
    );
    assert_eq!(orders.registered_at, t1);
    assert_eq!(orders.manifest().unwrap(), bumped.services[0]);

    let teams = entities_of(store, "team").await;
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0].name, "team-shop");
    let mut described = bumped.clone();
    described.teams[0].description = Some("sells things".into());
    let changes = store.apply_catalog(&described, API, t2).await.unwrap();
    assert_eq!(
        changes.last().map(|c| (c.kind, c.change)),
        Some(("team", ChangeKind::Updated))
    );
    let teams = entities_of(store, "team").await;
    assert!(teams[0].spec.contains("sells things"), "{}", teams[0].spec);

    // Deleting closes the current revision; registering again continues the history.
    assert!(store.delete_service("orders", t3).await.unwrap());
    assert!(!store.delete_service("orders", t3).await.unwrap());
    assert_eq!(store.get_service("orders").await.unwrap(), None);
    let history = store.service_history("orders").await.unwrap();
    assert_eq!(history.last().unwrap().valid_to, Some(t3));
    let changes = store.apply_catalog(&bumped, API, t3).await.unwrap();
    assert_eq!(
        (changes[0].change, changes[0].revision),
        (ChangeKind::Created, Some(3))
    );
}

async fn open_sqlite(dir: &Path) -> SharedStore {
    let store = seam_store::open(None, dir).await.expect("open sqlite");
    assert_eq!(store.backend(), Backend::Sqlite);
    store
}

#[tokio::test]
async fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("seam.db").display());
    suite(open_sqlite(dir.path()).await, &url).await;
}

#[tokio::test]
async fn sqlite_reopens_existing_file_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Utc::now();
    open_sqlite(dir.path())
        .await
        .insert_service(&draft("kept", "1.0.0", "team"), API, t0)
        .await
        .unwrap();
    let reopened = open_sqlite(dir.path()).await;
    assert_eq!(reopened.all_services().await.unwrap().len(), 1);
    assert!(dir.path().join("seam.db").exists());
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = seam_store::open(Some("mysql://u:pw@h/db"), dir.path())
        .await
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "unsupported database url \"mysql://u:***@h/db\": expected sqlite://PATH or postgres://..."
    );
}

/// A database of its own on the test PostgreSQL server, dropped on completion.
struct PgTestDb {
    admin_url: String,
    name: String,
}

impl PgTestDb {
    async fn create() -> Option<(Self, String)> {
        let admin_url = match std::env::var("SEAM_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                // Skipped, and said so; `scripts/test` and CI require PostgreSQL.
                assert!(
                    std::env::var_os("SEAM_REQUIRE_POSTGRES").is_none(),
                    "SEAM_REQUIRE_POSTGRES is set but SEAM_TEST_POSTGRES_URL is not"
                );
                eprintln!(
                    "skipped: PostgreSQL conformance, SEAM_TEST_POSTGRES_URL is not set (run \
                     ./scripts/test, which starts a throwaway PostgreSQL, or point it at a \
                     server where the user may CREATE DATABASE)"
                );
                return None;
            }
        };
        let name = format!(
            "seam_test_{}_{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect admin");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        Some((Self { admin_url, name }, url))
    }

    async fn drop_db(self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

#[tokio::test]
async fn postgres_conformance() {
    let Some((db, url)) = PgTestDb::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = seam_store::open(Some(&url), dir.path())
        .await
        .expect("open postgres");
    assert_eq!(store.backend(), Backend::Postgres);
    suite(store.clone(), &url).await;
    // Migrating an already migrated database is a no-op.
    seam_store::open(Some(&url), dir.path())
        .await
        .expect("reopen postgres");
    drop(store);
    db.drop_db().await;
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |dir: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(dir);
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

#[test]
fn database_names_are_swapped_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5/postgres", "x"),
        "postgres://u@h:5/x"
    );
    assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
    assert_eq!(
        with_database("postgres://u@h/p?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
}
