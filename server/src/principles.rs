//! The principles as the server runs them: the policy in effect (a file named by
//! `[principles] policy`, else the built-in default), evaluated over the analysis of a
//! window and what scrapes, probes and traces say of each catalog service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use seam_principles::{
    default_policy, evaluate, parse_policy, BrokenPropagation, Evaluation, Inputs, Policy,
    PropagationFacts, RuntimeFacts, ServiceFacts, Side,
};
use seam_store::StoreError;
use seam_traces::Broken;
use serde::Deserialize;

use crate::analysis::Analysis;
use crate::health::Health;
use crate::traces::Traces;

/// `[principles]` in seam.toml.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrinciplesConfig {
    /// A policy file (YAML, `kind: Policy`); the built-in default policy without one.
    pub policy: Option<PathBuf>,
    /// How often the policy file is looked at for changes, in seconds (0: never); a
    /// changed file is read again, and a file with mistakes leaves the policy as it was.
    pub reload_secs: u64,
}

impl Default for PrinciplesConfig {
    fn default() -> PrinciplesConfig {
        PrinciplesConfig {
            policy: None,
            reload_secs: 5,
        }
    }
}

/// Where the policy in effect came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    BuiltIn,
    File(PathBuf),
}

impl PolicySource {
    pub fn describe(&self) -> String {
        match self {
            PolicySource::BuiltIn => "built-in".to_owned(),
            PolicySource::File(path) => path.display().to_string(),
        }
    }
}

/// Reads the policy a configuration names: every problem as `file:line:column: ...`.
pub fn load_policy(config: &PrinciplesConfig) -> Result<(Policy, PolicySource), String> {
    let Some(path) = &config.policy else {
        return Ok((default_policy(), PolicySource::BuiltIn));
    };
    let text = read_limited(path)?;
    let name = path.display().to_string();
    match parse_policy(&name, &text) {
        Ok(policy) => Ok((policy, PolicySource::File(path.clone()))),
        Err(diagnostics) => Err(diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let limit = seam_principles::policy::MAX_POLICY_BYTES as u64 + 1;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit).read_to_string(&mut text))
        .map_err(|err| format!("cannot read policy file {}: {err}", path.display()))?;
    Ok(text)
}

/// The policy in effect, and what became of the last attempt to read it again.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub policy: Arc<Policy>,
    pub source: PolicySource,
    /// Why the file's newest version is not in effect, when it has mistakes.
    pub reload_error: Option<String>,
}

type EvaluationCache =
    std::collections::HashMap<i64, (Arc<crate::analysis::Computed>, Arc<Policy>, Arc<Evaluation>)>;

/// The principles engine of one server.
pub struct Principles {
    loaded: std::sync::RwLock<Loaded>,
    /// The last evaluation per window, with the analysis run and policy it came from.
    cache: tokio::sync::Mutex<EvaluationCache>,
    analysis: Arc<Analysis>,
    health: Arc<Health>,
    traces: Arc<Traces>,
}

impl Principles {
    pub fn new(
        policy: Policy,
        source: PolicySource,
        analysis: Arc<Analysis>,
        health: Arc<Health>,
        traces: Arc<Traces>,
    ) -> Arc<Principles> {
        Arc::new(Principles {
            loaded: std::sync::RwLock::new(Loaded {
                policy: Arc::new(policy),
                source,
                reload_error: None,
            }),
            cache: tokio::sync::Mutex::new(EvaluationCache::new()),
            analysis,
            health,
            traces,
        })
    }

    /// The policy in effect, where it came from, and any reload problem.
    pub fn loaded(&self) -> Loaded {
        self.loaded
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the policy file again: in effect when valid, else the problems are kept
    /// beside the previous policy. Returns whether the policy changed.
    pub fn reload(&self, config: &PrinciplesConfig) -> bool {
        let result = load_policy(config);
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok((policy, source)) => {
                let changed = *loaded.policy != policy;
                *loaded = Loaded {
                    policy: Arc::new(policy),
                    source,
                    reload_error: None,
                };
                if changed {
                    tracing::info!(policy = %loaded.policy.name, "policy reloaded");
                }
                changed
            }
            Err(problems) => {
                tracing::warn!(%problems, "the changed policy file has mistakes; the previous policy stays in effect");
                loaded.reload_error = Some(problems);
                false
            }
        }
    }

    /// The policy evaluated over the last `window` seconds: kept while the analysis run
    /// and the policy it was computed from are the same (so at most once a minute per
    /// window, like the analysis, however often pages and pipelines ask).
    pub async fn evaluate(&self, window: i64) -> Result<Arc<Evaluation>, StoreError> {
        let computed = self.analysis.current(window).await?;
        let policy = self.loaded().policy;
        let mut cache = self.cache.lock().await;
        if let Some((run, of, evaluation)) = cache.get(&window) {
            if Arc::ptr_eq(run, &computed) && Arc::ptr_eq(of, &policy) {
                return Ok(evaluation.clone());
            }
        }
        let evaluation = Arc::new(self.evaluate_run(&computed, &policy, window));
        if cache.len() >= 8 && !cache.contains_key(&window) {
            cache.clear();
        }
        cache.insert(window, (computed, policy, evaluation.clone()));
        Ok(evaluation)
    }

    fn evaluate_run(
        &self,
        computed: &crate::analysis::Computed,
        policy: &Policy,
        window: i64,
    ) -> Evaluation {
        let snapshot = &computed.snapshot;
        let targets = self.health.targets();
        let standard = self.health.standard_metrics();
        let mut runtime: BTreeMap<&str, RuntimeFacts> = BTreeMap::new();
        for target in &targets {
            let facts = runtime.entry(target.key.service.as_str()).or_default();
            facts.scraped = true;
            facts.up = match (facts.up, target.up) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), _) | (_, Some(true)) => Some(true),
                _ => None,
            };
            if let Some(probe) = &target.probe {
                facts.health_up = Some(facts.health_up.unwrap_or(true) && probe.up);
            }
        }
        for (service, metrics) in &standard {
            if let Some(facts) = runtime.get_mut(service.as_str()) {
                facts.metrics_lacking =
                    Some(metrics.lacks.iter().map(|s| (*s).to_owned()).collect());
            }
        }
        let traced = computed.model.edges.iter().any(|e| e.observed);
        let mut propagation: BTreeMap<String, PropagationFacts> = BTreeMap::new();
        if traced {
            let window = window.min(self.traces.memory_seconds());
            for finding in self.traces.propagation(snapshot, window) {
                propagation
                    .entry(finding.service.clone())
                    .or_default()
                    .broken
                    .push(BrokenPropagation {
                        side: match finding.broken {
                            Broken::Incoming => Side::Incoming,
                            Broken::Outgoing => Side::Outgoing,
                        },
                        spans: finding.spans,
                        roots: finding.roots,
                        example_trace_ids: finding
                            .example_trace_ids
                            .iter()
                            .map(hex::encode)
                            .collect(),
                    });
            }
        }
        let observed_versions: BTreeMap<&str, Vec<String>> = computed
            .model
            .calls
            .iter()
            .filter_map(|c| Some((c.callee.as_str(), c.callee_version.clone()?)))
            .fold(BTreeMap::new(), |mut map, (service, version)| {
                let list: &mut Vec<String> = map.entry(service).or_default();
                if !list.contains(&version) {
                    list.push(version);
                }
                map
            });
        let sending: std::collections::BTreeSet<&str> = computed
            .model
            .edges
            .iter()
            .filter(|e| e.observed)
            .flat_map(|e| [e.caller.as_str(), e.callee.as_str()])
            .collect();
        let services: Vec<ServiceFacts> = snapshot
            .services()
            .map(|view| {
                let m = &view.manifest;
                // A service seen in traces has trace facts: none broken unless found.
                let sends_spans = sending.contains(m.name.as_str());
                ServiceFacts {
                    name: m.name.clone(),
                    owner: Some(m.owner.clone()),
                    domain: m.domain.clone(),
                    system: m.system.clone(),
                    lifecycle: Some(m.lifecycle.clone()),
                    version: m.version.clone(),
                    observed_versions: observed_versions
                        .get(m.name.as_str())
                        .cloned()
                        .unwrap_or_default(),
                    runtime: runtime.get(m.name.as_str()).cloned(),
                    propagation: propagation
                        .get(&m.name)
                        .cloned()
                        .or_else(|| sends_spans.then(PropagationFacts::default)),
                }
            })
            .collect();
        let declared_teams: Vec<String> = snapshot
            .teams()
            .filter(|t| t.entity.is_some())
            .map(|t| t.name.clone())
            .collect();
        let inputs = Inputs {
            services,
            report: &computed.report,
            versions: Some(&computed.matrix),
            teams: (!declared_teams.is_empty()).then_some(declared_teams),
            traced,
            waivers: Vec::new(),
        };
        let now = Utc
            .timestamp_opt(self.traces.now(), 0)
            .single()
            .unwrap_or_default();
        evaluate(policy, &inputs, now)
    }
}

/// Looks at the policy file every `reload_secs` and reads it again when its length or
/// modification time changed, until shutdown.
pub async fn watch_policy(
    principles: Arc<Principles>,
    config: PrinciplesConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Some(path) = config.policy.clone() else {
        return;
    };
    if config.reload_secs == 0 {
        return;
    }
    let stamp = |path: &Path| {
        std::fs::metadata(path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let mut seen = stamp(&path);
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(config.reload_secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = stamp(&path);
        if now != seen {
            seen = now;
            let principles = principles.clone();
            let config = config.clone();
            let _ = tokio::task::spawn_blocking(move || principles.reload(&config)).await;
        }
    }
}
