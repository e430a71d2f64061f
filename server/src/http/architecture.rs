//! The architecture pages' view of the analysis ([`seam_app::api::Architecture`]): the
//! report, the laid-out graph and the version matrix, from the analysis engine's cached
//! run for the window.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{SecondsFormat, TimeZone, Utc};
use seam_analysis::layout::{self, View};
use seam_analysis::{versions, Kind, Observation};
use seam_app::dto::{AnalysisView, GraphPageView, VersionQuestion, VersionsView};

use super::health_api::parse_duration;
use crate::analysis::{Analysis, Computed};

/// The analysis for the pages.
pub struct PagesArchitecture {
    pub analysis: Arc<Analysis>,
}

type Answer<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

async fn computed(analysis: &Analysis, window: &str) -> Result<Arc<Computed>, String> {
    let secs =
        parse_duration(window).ok_or_else(|| format!("window {window:?} is not a duration"))?;
    analysis.current(secs).await.map_err(|err| err.to_string())
}

/// What `finding` names on the graph page: one observation by id (`cycle:a>b>a`), or
/// every observation of some kinds by name (`cycle`, `chatty_pair`, `drift`).
fn marked<'a>(report: &'a seam_analysis::Report, finding: &str) -> Vec<&'a Observation> {
    if finding.contains(':') {
        return report
            .observations
            .iter()
            .filter(|o| o.id == finding)
            .collect();
    }
    let kinds: Vec<Kind> = match finding {
        "drift" => vec![Kind::DeclaredNotObserved, Kind::ObservedNotDeclared],
        other => Kind::parse(other).into_iter().collect(),
    };
    report
        .observations
        .iter()
        .filter(|o| kinds.contains(&o.kind))
        .collect()
}

impl seam_app::api::Architecture for PagesArchitecture {
    fn analysis(&self, window: String) -> Answer<AnalysisView> {
        let analysis = self.analysis.clone();
        Box::pin(async move {
            let computed = computed(&analysis, &window).await?;
            Ok(AnalysisView {
                window,
                computed_at: Utc
                    .timestamp_opt(computed.at, 0)
                    .single()
                    .unwrap_or_default()
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                report: computed.report.clone(),
            })
        })
    }

    fn graph(
        &self,
        window: String,
        mut view: View,
        finding: Option<String>,
    ) -> Answer<GraphPageView> {
        let analysis = self.analysis.clone();
        Box::pin(async move {
            let computed = computed(&analysis, &window).await?;
            let marks = finding
                .as_deref()
                .map(|f| marked(&computed.report, f))
                .unwrap_or_default();
            for observation in &marks {
                view.highlight.extend(
                    observation
                        .edges
                        .iter()
                        .map(|e| (e.caller.clone(), e.callee.clone())),
                );
            }
            // One finding named by id: the graph shows what it concerns (a single service
            // with its neighbours); a kind only highlights.
            let by_id = finding.as_deref().is_some_and(|f| f.contains(':'));
            let single = (by_id && marks.len() == 1).then(|| marks[0].clone());
            if let Some(observation) = &single {
                if view.focus.is_none() && view.only.is_none() {
                    match observation.services.as_slice() {
                        [one] => view.focus = Some(one.clone()),
                        many => view.only = Some(many.to_vec()),
                    }
                }
            }
            let run = computed.clone();
            let (graph, placed) = tokio::task::spawn_blocking(move || {
                let graph = layout::aggregate(&run.model, &view);
                let placed = layout::layout(&graph);
                (graph, placed)
            })
            .await
            .map_err(|err| format!("the layout failed: {err}"))?;
            let model = &computed.model;
            let domains: BTreeSet<String> = model
                .nodes
                .iter()
                .filter_map(|n| n.domain.clone())
                .collect();
            let owners: BTreeSet<String> =
                model.nodes.iter().filter_map(|n| n.owner.clone()).collect();
            Ok(GraphPageView {
                window,
                graph,
                layout: placed,
                total_nodes: model.nodes.len(),
                domains: domains.into_iter().collect(),
                owners: owners.into_iter().collect(),
                finding: single,
            })
        })
    }

    fn versions(&self, window: String, question: Option<VersionQuestion>) -> Answer<VersionsView> {
        let analysis = self.analysis.clone();
        Box::pin(async move {
            let computed = computed(&analysis, &window).await?;
            let answer = question
                .filter(|q| !q.service.is_empty() && !q.version.is_empty())
                .map(|q| {
                    let environment = if q.environment.is_empty() {
                        seam_analysis::DEFAULT_ENVIRONMENT
                    } else {
                        q.environment.as_str()
                    };
                    if q.ask == "retire" {
                        versions::can_retire(&computed.model, &q.service, &q.version, environment)
                    } else {
                        versions::can_deploy(&computed.model, &q.service, &q.version, environment)
                    }
                });
            Ok(VersionsView {
                window,
                matrix: computed.matrix.clone(),
                answer,
            })
        })
    }
}
