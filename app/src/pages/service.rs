use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use leptos_router::hooks::use_query_map;

use crate::api::{get_service_detail, manifest_diff, service_health};
use crate::chart::{format_rate, format_ratio, format_seconds, Line, TimeChart, Unit};
use crate::dto::{DependencyRow, DiffKind, DiffLine, RevisionDiff, ServiceDetail};
use crate::dto::{ServiceHealthView, HEALTH_WINDOWS};
use crate::pages::{figures_line, StateBadge};
use crate::LocalTime;

/// One service: its manifest, declared dependencies both ways, APIs, datastores and the
/// history of its manifest with a diff between any two revisions.
#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let name = move || params.read().get("name").unwrap_or_default();
    let detail = Resource::new(name, get_service_detail);
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(Some(detail)) => view! { <Detail detail/> }.into_any(),
                        Ok(None) => view! { <super::NotFound/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

fn or_dash(value: &str) -> String {
    if value.is_empty() {
        "—".to_owned()
    } else {
        value.to_owned()
    }
}

fn list_or_none<T>(items: Vec<T>, none: &'static str, render: impl Fn(T) -> AnyView) -> AnyView {
    if items.is_empty() {
        view! { <p class="muted">{none}</p> }.into_any()
    } else {
        items.into_iter().map(render).collect_view().into_any()
    }
}

fn dependency_table(rows: Vec<DependencyRow>, id: &'static str, none: &'static str) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="muted" id=id>{none}</p> }.into_any();
    }
    view! {
        <table class="compact" id=id>
            <thead><tr><th>"Service"</th><th>"API"</th><th>"Range"</th><th>"Style"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|d| {
                    let service = if d.known {
                        view! { <a href=format!("/services/{}", d.service)>{d.service.clone()}</a> }.into_any()
                    } else {
                        view! { <span class="unknown" title="not in the catalog">{d.service.clone()}</span> }.into_any()
                    };
                    view! {
                        <tr data-dependency=d.service.clone()>
                            <td>{service}</td>
                            <td>{d.api}</td>
                            <td><code>{d.version_req}</code></td>
                            <td><span class="pill">{d.mode}</span>" "{d.protocol}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Detail(detail: ServiceDetail) -> impl IntoView {
    let ServiceDetail {
        row,
        description,
        links,
        instances,
        provides,
        consumes,
        consumers,
        datastores,
        libraries,
        revisions,
        manifest_json,
    } = detail;
    let name = row.name.clone();
    view! {
        <div class="page-head">
            <Title text=format!("Service {}", row.name)/>
            <h1 tabindex="-1">{row.name.clone()}" "<code class="version">{row.version.clone()}</code></h1>
            <span class="pill">{row.lifecycle.clone()}</span>
        </div>
        {(!row.stale_since.is_empty()).then(|| view! {
            <p class="notice" id="stale-notice">
                "Discovery no longer finds this service's manifest (since "<LocalTime utc=row.stale_since.clone()/>"). It stays in the catalog until it is served again or deleted."
            </p>
        })}
        <p class="muted">{description}</p>
        <dl class="facts">
            <dt>"Owner"</dt><dd>{row.owner.clone()}</dd>
            <dt>"Domain"</dt><dd>{or_dash(&row.domain)}</dd>
            <dt>"System"</dt><dd>{or_dash(&row.system)}</dd>
            <dt>"Kind"</dt><dd>{row.kind.clone()}</dd>
            <dt>"Registered"</dt><dd><LocalTime utc=row.registered_at.clone()/></dd>
        </dl>
        {(!links.is_empty()).then(|| view! {
            <p class="links">{links.into_iter().map(|(url, title)| view! { <a href=url>{title}</a>" " }).collect_view()}</p>
        })}
        <RuntimeHealth name=name.clone()/>
        <ObservedCalls name=name.clone()/>
        <div class="grid">
            <section class="card">
                <h2>"Depends on"</h2>
                {dependency_table(consumes, "consumes", "No declared dependencies.")}
            </section>
            <section class="card">
                <h2>"Used by"</h2>
                {dependency_table(consumers, "consumers", "No service declares a dependency on this one.")}
            </section>
            <section class="card">
                <h2>"APIs provided"</h2>
                {list_or_none(provides, "None declared.", |a| view! {
                    <p><strong>{a.name}</strong>" "<code>{a.version}</code>" "<span class="pill">{a.protocol}</span></p>
                }.into_any())}
            </section>
            <section class="card">
                <h2>"Datastores"</h2>
                {list_or_none(datastores, "None declared.", |d| {
                    let shared = (!d.shared_with.is_empty()).then(|| view! {
                        <span class="warn">" also used by "{d.shared_with.join(", ")}</span>
                    });
                    view! { <p><strong>{d.name}</strong>" "{d.kind}" "<span class="pill">{d.access}</span>{shared}</p> }.into_any()
                })}
            </section>
            <section class="card">
                <h2>"Instances"</h2>
                {list_or_none(instances, "None declared.", |i| view! {
                    <p><code>{i.base_url}</code>" · "<a href=i.metrics_url.clone()>"metrics"</a>" · "<a href=i.health_url.clone()>"health"</a></p>
                }.into_any())}
            </section>
            <section class="card">
                <h2>"Libraries"</h2>
                {list_or_none(libraries, "None declared.", |(n, v)| view! { <p>{n}" "<code>{v}</code></p> }.into_any())}
            </section>
        </div>
        <History name revisions/>
        <details class="card">
            <summary>"Current manifest (normalised)"</summary>
            <pre class="manifest" tabindex="0" role="region" aria-label="Current manifest">{manifest_json}</pre>
        </details>
    }
}

#[component]
fn History(name: String, revisions: Vec<crate::dto::RevisionRow>) -> impl IntoView {
    let newest = revisions.first().map(|r| r.revision).unwrap_or(1);
    let oldest = revisions.last().map(|r| r.revision).unwrap_or(1);
    let from = RwSignal::new(if newest > 1 { newest - 1 } else { oldest });
    let to = RwSignal::new(newest);
    let name = StoredValue::new(name);
    let diff = Resource::new(
        move || (from.get(), to.get()),
        move |(from, to)| manifest_diff(name.get_value(), from, to),
    );
    let options = revisions.iter().map(|r| r.revision).collect::<Vec<_>>();
    let single = revisions.len() < 2;
    let select = move |id: &'static str, label: &'static str, value: RwSignal<i64>| {
        let options = options.clone();
        view! {
            <select id=id aria-label=label prop:value=move || value.get().to_string()
                on:change=move |ev| value.set(event_target_value(&ev).parse().unwrap_or(1))>
                {options.into_iter().map(|r| view! { <option value=r.to_string()>{format!("revision {r}")}</option> }).collect_view()}
            </select>
        }
    };
    view! {
        <section class="card" id="history">
            <h2>"History"</h2>
            <table class="compact">
                <thead><tr><th>"Revision"</th><th>"Source"</th><th>"Submitted by"</th><th>"Valid from"</th><th>"Valid to"</th></tr></thead>
                <tbody>
                    {revisions.into_iter().map(|r| view! {
                        <tr data-revision=r.revision>
                            <td>{r.revision}</td><td>{r.source}</td><td>{r.submitted_by}</td><td><LocalTime utc=r.valid_from/></td>
                            <td>{if r.valid_to.is_empty() { view! { "current" }.into_any() } else { view! { <LocalTime utc=r.valid_to/> }.into_any() }}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {if single {
                view! { <p class="muted" id="single-revision">"Only one revision so far: nothing to compare yet."</p> }.into_any()
            } else {
                view! {
                    <p class="diff-pick">"Compare "{select("diff-from", "Compare from revision", from)}" with "{select("diff-to", "with revision", to)}</p>
                    <Transition fallback=|| view! { <p class="muted">"Comparing…"</p> }>
                        {move || Suspend::new(async move {
                            match diff.await {
                                Ok(diff) => view! { <DiffView diff/> }.into_any(),
                                Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                            }
                        })}
                    </Transition>
                }.into_any()
            }}
        </section>
    }
}

/// Unchanged lines kept around each change; longer unchanged runs fold away.
const CONTEXT: usize = 2;

/// A diff: what changed by field first, then the lines, long unchanged runs folded.
#[component]
fn DiffView(diff: RevisionDiff) -> impl IntoView {
    let RevisionDiff {
        added,
        removed,
        changed,
        lines,
    } = diff;
    let summary = |label: &'static str, id: &'static str, fields: Vec<String>| {
        (!fields.is_empty()).then(|| {
            view! { <li id=id><strong>{label}</strong>" "{fields.join(", ")}</li> }
        })
    };
    let nothing = added.is_empty() && removed.is_empty() && changed.is_empty();
    // Runs of unchanged lines, each with its changed neighbours.
    let mut blocks: Vec<(bool, Vec<DiffLine>)> = Vec::new();
    for line in lines {
        let same = line.kind == DiffKind::Same;
        match blocks.last_mut() {
            Some((run_same, run)) if *run_same == same => run.push(line),
            _ => blocks.push((same, vec![line])),
        }
    }
    let count = blocks.len();
    let render_line = |l: DiffLine| {
        let (class, mark) = match l.kind {
            DiffKind::Same => ("same", "  "),
            DiffKind::Added => ("added", "+ "),
            DiffKind::Removed => ("removed", "- "),
        };
        view! { <span class=class>{mark}{l.text}"\n"</span> }
    };
    let body = blocks
        .into_iter()
        .enumerate()
        .map(|(i, (same, run))| {
            let keep_head = if i == 0 { 0 } else { CONTEXT };
            let keep_tail = if i + 1 == count { 0 } else { CONTEXT };
            if !same || run.len() <= keep_head + keep_tail + 2 {
                return run.into_iter().map(render_line).collect_view().into_any();
            }
            let mut run = run;
            let tail = run.split_off(run.len() - keep_tail);
            let middle = run.split_off(keep_head);
            let folded = middle.len();
            view! {
                {run.into_iter().map(render_line).collect_view()}
                <span class="folded">{format!("  ⋯ {folded} unchanged line{}\n", if folded == 1 { "" } else { "s" })}</span>
                {tail.into_iter().map(render_line).collect_view()}
            }
            .into_any()
        })
        .collect_view();
    view! {
        <ul class="diff-summary" id="diff-summary">
            {summary("Changed:", "diff-changed", changed)}
            {summary("Added:", "diff-added", added)}
            {summary("Removed:", "diff-removed", removed)}
            {nothing.then(|| view! { <li>"No field changed."</li> })}
        </ul>
        <pre class="diff" id="diff" tabindex="0" role="region" aria-label="Changes between the two revisions">{body}</pre>
    }
}

/// Who calls the service and what it calls, observed from spans beside what the
/// manifests declare, drift marked; over the page's window.
#[component]
fn ObservedCalls(name: String) -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query
            .with(|q| q.get("window"))
            .filter(|w| crate::dto::CALL_WINDOWS.contains(&w.as_str()))
            .unwrap_or_else(|| "1h".to_owned())
    });
    let name = StoredValue::new(name);
    let calls = Resource::new(
        move || window.get(),
        move |window| crate::api::service_calls(name.get_value(), window),
    );
    view! {
        <section class="card" id="observed-calls">
            <h2>"Observed calls"</h2>
            <p class="muted">"From the spans of the last "{move || window.get()}", beside the declared dependencies. "<a href="/calls">"All calls"</a></p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match calls.await {
                        Ok(calls) => {
                            let callers = calls.callers.len();
                            let callees = calls.callees.len();
                            view! {
                                <super::calls::PropagationFindings rows=calls.propagation/>
                                <h3>"Callers"</h3>
                                <super::calls::CallTable rows=calls.callers all=callers label="Callers" id="callers"/>
                                <h3>"Callees"</h3>
                                <super::calls::CallTable rows=calls.callees all=callees label="Callees" id="callees"/>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The service's runtime health: state now, and rate, errors and latency over a window
/// chosen by link (`?window=6h`, so it works without JavaScript and can be shared).
#[component]
fn RuntimeHealth(name: String) -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query
            .with(|q| q.get("window"))
            .filter(|w| HEALTH_WINDOWS.contains(&w.as_str()))
            .unwrap_or_else(|| "1h".to_owned())
    });
    let name = StoredValue::new(name);
    let health = Resource::new(
        move || window.get(),
        move |window| service_health(name.get_value(), window),
    );
    view! {
        <section class="card" id="runtime">
            <h2>"Runtime health"</h2>
            <nav class="windows" aria-label="Time window">
                {HEALTH_WINDOWS.iter().map(|w| view! {
                    <a href=format!("?window={w}") aria-current=move || (window.get() == *w).then_some("true")>{*w}</a>
                }).collect_view()}
            </nav>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match health.await {
                        Ok(Some(view)) => view! { <RuntimeCharts view/> }.into_any(),
                        Ok(None) => view! { <p class="muted">"No runtime data."</p> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RuntimeCharts(view: ServiceHealthView) -> impl IntoView {
    let ServiceHealthView {
        figures,
        window,
        step_seconds,
        points,
        instances,
        standard_metrics,
        lacks,
        scraped,
    } = view;
    let metrics_note = if !scraped {
        "Standard request metrics: not known until a target is scraped.".to_owned()
    } else if standard_metrics.is_empty() {
        "Standard request metrics: none found (no request count, status or duration histogram Seam knows).".to_owned()
    } else if lacks.is_empty() {
        format!("Standard request metrics: {standard_metrics}.")
    } else {
        format!(
            "Standard request metrics: {standard_metrics}, lacking {}.",
            lacks.join(", ")
        )
    };
    let starts: Vec<i64> = points.iter().map(|p| p.start).collect();
    let rate = vec![Line {
        label: "requests",
        class: "line-1",
        values: points.iter().map(|p| Some(p.request_rate)).collect(),
    }];
    let errors = vec![Line {
        label: "server errors",
        class: "line-3",
        values: points.iter().map(|p| Some(p.error_rate)).collect(),
    }];
    let latency = vec![
        Line {
            label: "p50",
            class: "line-1",
            values: points.iter().map(|p| p.latency_p50_seconds).collect(),
        },
        Line {
            label: "p95",
            class: "line-2",
            values: points.iter().map(|p| p.latency_p95_seconds).collect(),
        },
        Line {
            label: "p99",
            class: "line-3",
            values: points.iter().map(|p| p.latency_p99_seconds).collect(),
        },
    ];
    let step = if step_seconds >= 3600 {
        format!("{} h", step_seconds / 3600)
    } else if step_seconds >= 60 {
        format!("{} min", step_seconds / 60)
    } else {
        format!("{step_seconds} s")
    };
    view! {
        <p id="runtime-state">"Now "<StateBadge state=figures.state.clone()/>" "{figures_line(&figures)}</p>
        <p class="muted">{format!("Last {window}, one point per {step} (UTC).")}</p>
        <p class="muted" id="standard-metrics">{metrics_note}</p>
        <div class="charts">
            <TimeChart title="Requests per second".to_owned() unit=Unit::Rate starts=starts.clone() lines=rate id="service-rate"/>
            <TimeChart title="Server errors per second".to_owned() unit=Unit::Rate starts=starts.clone() lines=errors id="service-errors"/>
            <TimeChart title="Latency".to_owned() unit=Unit::Seconds starts lines=latency id="service-latency"/>
        </div>
        <h3>"Instances"</h3>
        {if instances.is_empty() {
            view! { <p class="muted">"No instances declared: nothing to scrape."</p> }.into_any()
        } else {
            view! {
                <div class="table-scroll" tabindex="0" role="region" aria-label="Instances">
                <table class="compact nowrap" id="instance-health">
                    <thead><tr><th>"Instance"</th><th>"State"</th><th>"Target"</th><th>"Health probe"</th><th>"Requests"</th><th>"Errors"</th><th>"p95"</th><th>"Last error"</th></tr></thead>
                    <tbody>
                        {instances.into_iter().map(|i| view! {
                            <tr data-instance=i.instance.clone() data-state=i.figures.state.clone()>
                                <td><code>{i.instance.clone()}</code></td>
                                <td><StateBadge state=i.figures.state.clone()/></td>
                                <td>{i.target.clone()}</td>
                                <td>{if i.probe.is_empty() { "—".to_owned() } else { i.probe.clone() }}</td>
                                <td>{format_rate(i.figures.request_rate)}</td>
                                <td>{format_ratio(i.figures.error_ratio)}</td>
                                <td>{i.figures.latency_p95_seconds.map_or("—".to_owned(), format_seconds)}</td>
                                <td class="target-error">{i.last_error.clone()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }.into_any()
        }}
    }
}
