use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use seam_analysis::{Kind, Observation};

use super::edge::encode;
use crate::api::analysis_view;
use crate::dto::{AnalysisView, CALL_WINDOWS};

/// The sections of the page: a heading and the kinds it lists.
const SECTIONS: [(&str, &str, &[Kind]); 6] = [
    ("cycles", "Cycles", &[Kind::Cycle]),
    (
        "coupling",
        "Coupling",
        &[Kind::ChattyPair, Kind::Hub, Kind::DeepChain],
    ),
    ("datastores", "Shared datastores", &[Kind::SharedDatastore]),
    (
        "crossings",
        "Bounded-context crossings",
        &[Kind::ContextCrossing],
    ),
    (
        "drift",
        "Drift",
        &[Kind::ObservedNotDeclared, Kind::DeclaredNotObserved],
    ),
    (
        "versions",
        "Versions",
        &[Kind::SeveralMajors, Kind::RangeMismatch],
    ),
];

/// What a kind is called on the page.
pub fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Cycle => "cycle",
        Kind::ChattyPair => "chatty pair",
        Kind::Hub => "hub",
        Kind::DeepChain => "deep call chain",
        Kind::SharedDatastore => "shared datastore",
        Kind::ContextCrossing => "context crossing",
        Kind::DeclaredNotObserved => "declared, not observed",
        Kind::ObservedNotDeclared => "observed, not declared",
        Kind::SeveralMajors => "several major versions",
        Kind::RangeMismatch => "range mismatch",
    }
}

/// What the architecture analysis observed over a window: cycles, coupling, shared
/// datastores, bounded-context crossings, drift and version trouble, each linking to
/// the graph focused on it. Window and kind live in the URL.
#[component]
pub fn FindingsPage() -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query.with(|q| {
            q.get("window")
                .filter(|w| CALL_WINDOWS.contains(&w.as_str()))
                .unwrap_or_else(|| "15m".to_owned())
        })
    });
    let kind = Memo::new(move |_| query.with(|q| q.get("kind").and_then(|k| Kind::parse(&k))));
    let analysis = Resource::new(move || window.get(), analysis_view);
    view! {
        <section class="page">
            <Title text="Findings"/>
            <h1 tabindex="-1">"Findings"</h1>
            <p class="muted">"What the architecture analysis sees in the catalog and the observed calls: cycles, chatty pairs, hubs, deep synchronous chains, shared datastores, calls across bounded contexts, drift and version trouble. Observations, not verdicts: the principles decide what is wrong."</p>
            <form class="filters" method="get" action="/findings">
                <label for="findings-kind">"Kind"</label>
                <select id="findings-kind" name="kind" prop:value=move || kind.get().map(|k| k.as_str().to_owned()).unwrap_or_default()>
                    <option value="">"every kind"</option>
                    {Kind::ALL.iter().map(|k| view! { <option value=k.as_str()>{kind_label(*k)}</option> }).collect_view()}
                </select>
                <label for="findings-window">"Window"</label>
                <select id="findings-window" name="window" prop:value=move || window.get()>
                    {CALL_WINDOWS.iter().map(|w| view! { <option value=*w>{*w}</option> }).collect_view()}
                </select>
                <button type="submit">"Apply"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match analysis.await {
                        Ok(view) => view! { <Findings view only=kind.get()/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Findings(view: AnalysisView, only: Option<Kind>) -> impl IntoView {
    let AnalysisView {
        window,
        computed_at,
        report,
    } = view;
    let stats = report.stats.clone();
    let count = |kinds: &[Kind]| {
        report
            .observations
            .iter()
            .filter(|o| kinds.contains(&o.kind))
            .count()
    };
    let tiles = SECTIONS
        .iter()
        .map(|(id, title, kinds)| {
            let n = count(kinds);
            view! {
                <li class="count"><a href=format!("#{id}")><span class="count-number">{n}</span>" "<span class="count-label">{*title}</span></a></li>
            }
        })
        .collect_view();
    let sections = SECTIONS
        .iter()
        .filter(|(_, _, kinds)| only.is_none_or(|k| kinds.contains(&k)))
        .map(|(id, title, kinds)| {
            let rows: Vec<Observation> = report
                .observations
                .iter()
                .filter(|o| kinds.contains(&o.kind) && only.is_none_or(|k| k == o.kind))
                .cloned()
                .collect();
            let note = (*id == "cycles").then(|| {
                let more = if stats.cycles_not_shown > 0 {
                    format!("; {} more cycles were found but are not listed", stats.cycles_not_shown)
                } else {
                    String::new()
                };
                format!(
                    "{} strongly connected components, {} elementary cycles listed{more}.",
                    stats.components, stats.cycles_shown
                )
            });
            let note = note.or_else(|| (*id == "coupling").then(|| {
                if stats.betweenness_exact {
                    "Betweenness is exact.".to_owned()
                } else {
                    format!("Betweenness is estimated from {} sampled services.", stats.betweenness_samples)
                }
            }));
            let window = window.clone();
            view! {
                <section class="card analysis-section" aria-labelledby=format!("{id}-title") id=*id>
                    <h2 id=format!("{id}-title")>{*title}" "<span class="muted">{format!("({})", rows.len())}</span></h2>
                    {note.map(|n| view! { <p class="muted">{n}</p> })}
                    {if rows.is_empty() {
                        view! { <p class="empty">"Nothing observed."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="observations">
                                {rows.into_iter().map(|o| view! { <FindingRow observation=o window=window.clone()/> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                </section>
            }
        })
        .collect_view();
    view! {
        <p class="muted">{format!("{} nodes, {} edges; computed at {}.", stats.nodes, stats.edges, crate::utc_label(&computed_at))}</p>
        <ul class="counts" aria-label="Findings by section">{tiles}</ul>
        {sections}
    }
}

#[component]
fn FindingRow(observation: Observation, window: String) -> impl IntoView {
    let graph = format!("/graph?finding={}&window={window}", encode(&observation.id));
    let services = observation.services.clone();
    view! {
        <li data-kind=observation.kind.as_str() data-id=observation.id.clone()>
            <span class="tag">{kind_label(observation.kind)}</span>" "
            {observation.summary.clone()}
            <span class="muted">" · "</span>
            {services.into_iter().enumerate().map(|(i, s)| {
                // A shared datastore's observation names the datastore first: not a service.
                let link = !(i == 0 && observation.kind == Kind::SharedDatastore);
                view! {
                    {(i > 0).then_some(", ")}
                    {if link {
                        view! { <a href=format!("/services/{}", encode(&s))>{s.clone()}</a> }.into_any()
                    } else {
                        view! { <span>{s.clone()}</span> }.into_any()
                    }}
                }
            }).collect_view()}
            <span class="muted">" · "</span>
            <a href=graph>"Show on the graph"</a>
        </li>
    }
}
