use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::calls_overview;
use crate::chart::format_seconds;
use crate::dto::{CallEdge, PropagationRow, CALL_WINDOWS};

/// Every edge of the call graph over a window, observed from traces and declared in
/// manifests, with drift both ways, and the services that break trace propagation.
/// Filter, sort and window live in the URL (`?q=&drift=&sort=&window=`), so they work
/// without JavaScript and can be linked.
#[component]
pub fn CallsPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &'static str| {
        Memo::new(move |_| query.with(|q| q.get(name).unwrap_or_default()))
    };
    let text = param("q");
    let drift = param("drift");
    let sort = param("sort");
    let window = Memo::new(move |_| {
        query.with(|q| {
            q.get("window")
                .filter(|w| CALL_WINDOWS.contains(&w.as_str()))
                .unwrap_or_else(|| "15m".to_owned())
        })
    });
    let calls = Resource::new(move || window.get(), calls_overview);
    view! {
        <section class="page">
            <Title text="Calls"/>
            <h1 tabindex="-1">"Calls"</h1>
            <p class="muted">"Who calls whom, from the spans services send over OTLP, beside what their manifests declare."</p>
            <form class="filters" method="get" action="/calls" role="search">
                <label for="calls-q">"Service"</label>
                <input id="calls-q" name="q" type="search" maxlength="200" prop:value=move || text.get()/>
                <label for="calls-drift">"Drift"</label>
                <select id="calls-drift" name="drift" prop:value=move || drift.get()>
                    <option value="">"any"</option>
                    <option value="undeclared">"observed, undeclared"</option>
                    <option value="unobserved">"declared, not observed"</option>
                </select>
                <label for="calls-sort">"Sort by"</label>
                <select id="calls-sort" name="sort" prop:value=move || sort.get()>
                    <option value="">"caller"</option>
                    <option value="rate">"rate"</option>
                    <option value="errors">"error ratio"</option>
                    <option value="latency">"p95 latency"</option>
                    <option value="fanout">"calls per request"</option>
                </select>
                <label for="calls-window">"Window"</label>
                <select id="calls-window" name="window" prop:value=move || window.get()>
                    {CALL_WINDOWS.iter().map(|w| view! { <option value=*w>{*w}</option> }).collect_view()}
                </select>
                <button type="submit">"Apply"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match calls.await {
                        Ok(overview) => {
                            let all = overview.edges.len();
                            let text = text.get().to_lowercase();
                            let drift = drift.get();
                            let mut shown: Vec<CallEdge> = overview
                                .edges
                                .into_iter()
                                .filter(|e| text.is_empty() || e.caller.to_lowercase().contains(&text) || e.callee.to_lowercase().contains(&text))
                                .filter(|e| match drift.as_str() {
                                    "undeclared" => e.drift() == "undeclared",
                                    "unobserved" => !e.observed,
                                    _ => true,
                                })
                                .collect();
                            sort_edges(&mut shown, &sort.get());
                            view! {
                                <PropagationFindings rows=overview.propagation/>
                                {(!overview.receiving).then(|| view! {
                                    <p class="notice">"The OTLP receivers are off ([collectors.otlp] enabled = false): only declared dependencies are shown."</p>
                                })}
                                <CallTable rows=shown all label="Calls" id="calls"/>
                            }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Sorts edges by the key the page names; the biggest first for figures.
pub fn sort_edges(edges: &mut [CallEdge], by: &str) {
    let figure = |e: &CallEdge| -> f64 {
        match by {
            "rate" => e.request_rate,
            "errors" => e.error_ratio.unwrap_or(-1.0),
            "latency" => e.latency_p95_seconds.unwrap_or(-1.0),
            "fanout" => e.calls_per_request.unwrap_or(-1.0),
            _ => 0.0,
        }
    };
    if ["rate", "errors", "latency", "fanout"].contains(&by) {
        edges.sort_by(|a, b| figure(b).total_cmp(&figure(a)));
    }
}

/// Services that lose the trace context, with counts and example trace ids.
#[component]
pub fn PropagationFindings(rows: Vec<PropagationRow>) -> impl IntoView {
    (!rows.is_empty()).then(|| view! {
        <section class="findings" aria-labelledby="propagation-title">
            <h2 id="propagation-title">"Broken trace propagation"</h2>
            <ul id="propagation">
                {rows.into_iter().map(|p| {
                    let what = if p.broken == "incoming" {
                        "its requests arrive as new traces although it has callers: it does not read traceparent, or its callers do not send it"
                    } else {
                        "its calls start new traces although it serves requests: it does not pass traceparent on"
                    };
                    view! {
                        <li data-service=p.service.clone() data-broken=p.broken.clone()>
                            <a href=format!("/services/{}", p.service)>{p.service.clone()}</a>
                            ": " {what}
                            <span class="muted">{format!(" ({} of {} spans were roots; e.g. trace {})", p.roots, p.spans, p.example_trace_ids.first().cloned().unwrap_or_default())}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    })
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn versions(edge: &CallEdge) -> String {
    let v = |s: &str| {
        if s.is_empty() {
            "?".to_owned()
        } else {
            s.to_owned()
        }
    };
    if edge.caller_version.is_empty() && edge.callee_version.is_empty() {
        "—".to_owned()
    } else {
        format!("{} → {}", v(&edge.caller_version), v(&edge.callee_version))
    }
}

fn node_link(name: &str, kind: &str) -> AnyView {
    if kind == "service" {
        view! { <a href=format!("/services/{name}")>{name.to_owned()}</a> }.into_any()
    } else {
        view! { <span>{name.to_owned()}<span class="muted">{format!(" ({kind})")}</span></span> }
            .into_any()
    }
}

/// A table of edges; `id` names it for tests and links.
#[component]
pub fn CallTable(
    rows: Vec<CallEdge>,
    all: usize,
    label: &'static str,
    id: &'static str,
) -> impl IntoView {
    if all == 0 {
        return view! { <p class="empty">"No calls: none declared, and no spans received in this window. Point your services' OTLP exporter at Seam (port 4318 or 4317)."</p> }.into_any();
    }
    let shown = rows.len();
    view! {
        <p class="muted" id=format!("{id}-count")>{format!("{shown} of {all} edges")}</p>
        <div class="table-scroll" tabindex="0" role="region" aria-label=label>
        <table class="compact" id=id>
            <thead><tr>
                <th scope="col">"Caller"</th><th scope="col">"Callee"</th><th scope="col">"Versions"</th>
                <th scope="col">"Protocol"</th><th scope="col">"Operations"</th><th scope="col">"Rate"</th>
                <th scope="col">"Errors"</th><th scope="col">"p95"</th><th scope="col">"Calls per request"</th><th scope="col">"Drift"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|e| {
                    let drift = e.drift();
                    view! {
                        <tr data-caller=e.caller.clone() data-callee=e.callee.clone() data-drift=drift>
                            <td>{node_link(&e.caller, &e.caller_kind)}</td>
                            <td>{node_link(&e.callee, &e.callee_kind)}</td>
                            <td class="nowrap">{if e.observed || e.declared {
                                let href = format!("/calls/edge?caller={}&callee={}", super::edge::encode(&e.caller), super::edge::encode(&e.callee));
                                view! { <a href=href title="Calls, errors and latency over time">{versions(&e)}</a> }.into_any()
                            } else { view! { {versions(&e)} }.into_any() }}</td>
                            <td>{format!("{} ({})", e.protocol, e.mode)}</td>
                            <td class="operations">{e.operations.join(", ")}</td>
                            <td class="nowrap">{if e.observed { format!("{:.2}/s", e.request_rate) } else { "—".to_owned() }}</td>
                            <td class="nowrap">{percent(e.error_ratio)}</td>
                            <td class="nowrap">{e.latency_p95_seconds.map_or("—".to_owned(), format_seconds)}</td>
                            <td>{match (e.calls_per_request, e.calls_per_request_p95) {
                                (Some(mean), Some(p95)) => format!("{mean:.1} (p95 {p95:.0})"),
                                (Some(mean), None) => format!("{mean:.1}"),
                                _ => "—".to_owned(),
                            }}</td>
                            <td>{(!drift.is_empty()).then(|| view! { <span class="badge drift">{drift}</span> })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }.into_any()
}
