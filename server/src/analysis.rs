//! The architecture analysis as the server runs it: the model is built from the catalog
//! snapshot, every manifest revision's version (for the version matrix) and the observed
//! graph over a window, with each service's health; [`seam_analysis`] turns it into a
//! report and a version matrix. Results are kept per window until the catalog changes
//! or the minute turns (edge buckets and health states change per minute), so pages and
//! API calls within a minute share one computation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use seam_analysis::versions::VersionMatrix;
use seam_analysis::{
    Edge, FanOut, Mode, Model, NodeKind, Release, Report, Thresholds, VersionedCalls,
    DEFAULT_ENVIRONMENT,
};
use seam_snapshot::Snapshot;
use seam_store::{LiveCatalog, StoreError};
use seam_traces::NodeKind as TraceKind;
use tokio::sync::Mutex;

use crate::health::Health;
use crate::traces::{Source, Traces};

/// Windows whose results are kept at once; the least recently used goes first.
const MAX_CACHED_WINDOWS: usize = 8;

/// One analysis run: what it read and what it found.
pub struct Computed {
    pub snapshot: Arc<Snapshot>,
    pub window_seconds: i64,
    /// When it ran (Unix seconds of the injectable clock).
    pub at: i64,
    pub model: Model,
    pub report: Report,
    pub matrix: VersionMatrix,
}

/// The analysis engine of one server.
pub struct Analysis {
    thresholds: Thresholds,
    catalog: Arc<LiveCatalog>,
    traces: Arc<Traces>,
    health: Arc<Health>,
    /// Releases from every manifest revision, by snapshot generation.
    releases: Mutex<Option<(u64, Arc<Vec<Release>>)>>,
    /// Results by window, with the key they were computed for.
    cache: Mutex<HashMap<i64, (Key, Arc<Computed>)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    generation: u64,
    minute: i64,
}

impl Analysis {
    pub fn new(
        thresholds: Thresholds,
        catalog: Arc<LiveCatalog>,
        traces: Arc<Traces>,
        health: Arc<Health>,
    ) -> Arc<Analysis> {
        Arc::new(Analysis {
            thresholds,
            catalog,
            traces,
            health,
            releases: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        })
    }

    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// The analysis over the last `window` seconds: cached while the catalog and the
    /// minute are the same.
    pub async fn current(&self, window: i64) -> Result<Arc<Computed>, StoreError> {
        let snapshot = self.catalog.snapshot();
        let now = self.traces.now();
        let key = Key {
            generation: snapshot.generation,
            minute: now.div_euclid(60),
        };
        // Held while computing: concurrent readers of the same minute wait for one run.
        let mut cache = self.cache.lock().await;
        if let Some((cached, computed)) = cache.get(&window) {
            if *cached == key {
                return Ok(computed.clone());
            }
        }
        let model = self.model(&snapshot, window).await?;
        let thresholds = self.thresholds.clone();
        let computed = tokio::task::spawn_blocking(move || {
            let report = seam_analysis::analyse(&model, &thresholds);
            let matrix = seam_analysis::versions::matrix(&model);
            (model, report, matrix)
        })
        .await
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        let (model, report, matrix) = computed;
        let computed = Arc::new(Computed {
            snapshot,
            window_seconds: window,
            at: now,
            model,
            report,
            matrix,
        });
        if cache.len() >= MAX_CACHED_WINDOWS && !cache.contains_key(&window) {
            let oldest = cache.iter().min_by_key(|(_, (_, c))| c.at).map(|(w, _)| *w);
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(window, (key, computed.clone()));
        Ok(computed)
    }

    /// The model: the catalog, the releases of every revision, the observed graph over
    /// `window` and each service's health.
    pub async fn model(&self, snapshot: &Snapshot, window: i64) -> Result<Model, StoreError> {
        let mut model = Model::from_catalog(snapshot);
        model.releases = self.releases(snapshot).await?.as_ref().clone();
        let graph = self
            .traces
            .view(
                self.catalog.store(),
                snapshot,
                window,
                Source::Observed,
                None,
            )
            .await?;
        add_observed(&mut model, &graph, window);
        let report = self.health.report(snapshot);
        let states: BTreeMap<&str, &'static str> = report
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.figures.state.as_str()))
            .collect();
        for node in &mut model.nodes {
            if let Some(state) = states.get(node.name.as_str()) {
                node.health = Some((*state).to_owned());
            }
        }
        Ok(model)
    }

    /// Every version a manifest revision declared, with the API versions of the latest
    /// revision of that version; re-read when the catalog changes.
    async fn releases(&self, snapshot: &Snapshot) -> Result<Arc<Vec<Release>>, StoreError> {
        let mut cached = self.releases.lock().await;
        if let Some((generation, releases)) = cached.as_ref() {
            if *generation == snapshot.generation {
                return Ok(releases.clone());
            }
        }
        let revisions = self.catalog.store().all_revisions().await?;
        // Ordered by service and revision: a later revision of the same version wins.
        let mut by_version: BTreeMap<(String, String), Release> = BTreeMap::new();
        for revision in &revisions {
            let Ok(manifest) = revision.manifest() else {
                continue;
            };
            let Some(version) = manifest.version.clone() else {
                continue;
            };
            by_version.insert(
                (manifest.name.clone(), version.clone()),
                Release {
                    service: manifest.name.clone(),
                    version,
                    apis: manifest
                        .provides
                        .iter()
                        .map(|api| (api.name.clone(), api.version.clone()))
                        .collect(),
                },
            );
        }
        let releases = Arc::new(by_version.into_values().collect::<Vec<_>>());
        *cached = Some((snapshot.generation, releases.clone()));
        Ok(releases)
    }
}

fn kind(kind: TraceKind) -> NodeKind {
    match kind {
        TraceKind::Service => NodeKind::Service,
        TraceKind::Database => NodeKind::Datastore,
        TraceKind::Virtual => NodeKind::External,
        TraceKind::User => NodeKind::User,
    }
}

/// Adds the observed graph's edges (one per version pair and protocol) to `model`, and
/// their calls by version and environment.
fn add_observed(model: &mut Model, graph: &crate::traces::GraphView, window: i64) {
    model.window_seconds = window as f64;
    for view in &graph.edges {
        let calls = &view.stats.calls;
        let fan = &view.stats.fan_out;
        let mode = if view.mode == "async" {
            Mode::Async
        } else {
            Mode::Sync
        };
        model.observe(
            Edge {
                protocol: view.protocol.clone(),
                errors: calls.errors,
                fan_out: FanOut {
                    requests: fan.count,
                    calls: fan.sum,
                    buckets: fan.buckets.clone(),
                },
                ..Edge::observed(&view.caller, &view.callee, mode, calls.requests)
            },
            kind(view.caller_kind),
            kind(view.callee_kind),
        );
        if view.caller_kind == TraceKind::Service && view.callee_kind == TraceKind::Service {
            model.calls.push(VersionedCalls {
                environment: view
                    .environment
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_owned()),
                caller: view.caller.clone(),
                caller_version: view.caller_version.clone(),
                callee: view.callee.clone(),
                callee_version: view.callee_version.clone(),
                calls: calls.requests,
            });
        }
    }
    model.merge_edges();
}
