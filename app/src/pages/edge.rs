use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::edge_detail;
use crate::chart::{Line, TimeChart, Unit};
use crate::dto::{EdgeDetailView, CALL_WINDOWS};

/// One edge of the call graph over time (`/calls/edge?caller=&callee=&window=`): calls,
/// failed calls and latency per step, the versions seen on both ends and the operations.
#[component]
pub fn EdgePage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &'static str| {
        Memo::new(move |_| query.with(|q| q.get(name).unwrap_or_default()))
    };
    let caller = param("caller");
    let callee = param("callee");
    let window = Memo::new(move |_| {
        query.with(|q| {
            q.get("window")
                .filter(|w| CALL_WINDOWS.contains(&w.as_str()))
                .unwrap_or_else(|| "1h".to_owned())
        })
    });
    let detail = Resource::new(
        move || (caller.get(), callee.get(), window.get()),
        |(caller, callee, window)| edge_detail(caller, callee, window),
    );
    let title = move || format!("{} → {}", caller.get(), callee.get());
    view! {
        <section class="page">
            <Title text=title/>
            <p class="muted"><a href="/calls">"Calls"</a></p>
            <h1 tabindex="-1">{title}</h1>
            <nav class="windows" aria-label="Time window">
                {CALL_WINDOWS.iter().map(|w| {
                    let href = move || format!("?caller={}&callee={}&window={w}", encode(&caller.get()), encode(&callee.get()));
                    view! { <a href=href aria-current=move || (window.get() == *w).then_some("true")>{*w}</a> }
                }).collect_view()}
            </nav>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(Some(view)) => view! { <EdgeCharts view/> }.into_any(),
                        Ok(None) => view! { <p class="empty">"No such edge: not observed in this window, and not declared."</p> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Percent-encodes a query value (service names are plain, peers may not be).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[component]
fn EdgeCharts(view: EdgeDetailView) -> impl IntoView {
    let EdgeDetailView {
        caller: _,
        callee: _,
        window,
        step_seconds,
        points,
        versions,
        operations,
        declared,
    } = view;
    let starts: Vec<i64> = points.iter().map(|p| p.start).collect();
    let rate = vec![Line {
        label: "calls",
        class: "line-1",
        values: points.iter().map(|p| Some(p.request_rate)).collect(),
    }];
    let errors = vec![Line {
        label: "failed calls",
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
    ];
    let step = if step_seconds >= 60 {
        format!("{} min", step_seconds / 60)
    } else {
        format!("{step_seconds} s")
    };
    view! {
        <p class="muted">{format!("Last {window}, one point per {step} (UTC). ")}
            {if declared { "Declared in the caller's manifest." } else { "Not declared in the caller's manifest." }}</p>
        <div class="charts">
            <TimeChart title="Calls per second".to_owned() unit=Unit::Rate starts=starts.clone() lines=rate id="edge-rate"/>
            <TimeChart title="Failed calls per second".to_owned() unit=Unit::Rate starts=starts.clone() lines=errors id="edge-errors"/>
            <TimeChart title="Latency".to_owned() unit=Unit::Seconds starts lines=latency id="edge-latency"/>
        </div>
        <div class="grid">
            <section class="card">
                <h2>"Versions"</h2>
                {if versions.is_empty() {
                    view! { <p class="muted">"No calls observed."</p> }.into_any()
                } else {
                    view! {
                        <table class="compact" id="edge-versions">
                            <thead><tr><th scope="col">"Caller version"</th><th scope="col">"Callee version"</th><th scope="col">"Calls"</th><th scope="col">"Errors"</th></tr></thead>
                            <tbody>
                                {versions.into_iter().map(|v| view! {
                                    <tr>
                                        <td><code>{if v.caller_version.is_empty() { "?".to_owned() } else { v.caller_version }}</code></td>
                                        <td><code>{if v.callee_version.is_empty() { "?".to_owned() } else { v.callee_version }}</code></td>
                                        <td>{format!("{:.0}", v.calls)}</td>
                                        <td>{v.error_ratio.map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0))}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
            <section class="card">
                <h2>"Operations"</h2>
                {if operations.is_empty() {
                    view! { <p class="muted">"None named by the spans."</p> }.into_any()
                } else {
                    view! {
                        <table class="compact" id="edge-operations">
                            <thead><tr><th scope="col">"Operation"</th><th scope="col">"Calls"</th></tr></thead>
                            <tbody>
                                {operations.into_iter().map(|(operation, calls)| view! {
                                    <tr><td><code>{operation}</code></td><td>{format!("{calls:.0}")}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            </section>
        </div>
    }
}
