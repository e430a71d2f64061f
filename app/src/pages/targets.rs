use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::scrape_targets;
use crate::chart::format_seconds;
use crate::dto::TargetRow;
use crate::LocalTime;

/// Every scrape target with its state, like Prometheus's targets page: filterable by
/// text and by health through the URL (`?q=&health=`), so filters work without
/// JavaScript and can be linked.
#[component]
pub fn TargetsPage() -> impl IntoView {
    let query = use_query_map();
    let text = Memo::new(move |_| query.with(|q| q.get("q").unwrap_or_default()));
    let health = Memo::new(move |_| query.with(|q| q.get("health").unwrap_or_default()));
    let targets = Resource::new(|| (), |_| scrape_targets());
    view! {
        <section class="page">
            <Title text="Targets"/>
            <h1 tabindex="-1">"Targets"</h1>
            <p class="muted">"Every instance's metrics URL, scraped on its interval, and its health URL, probed beside it."</p>
            <form class="filters" method="get" action="/targets" role="search">
                <label for="targets-q">"Service or URL"</label>
                <input id="targets-q" name="q" type="search" maxlength="200" prop:value=move || text.get()/>
                <label for="targets-health">"Health"</label>
                <select id="targets-health" name="health" prop:value=move || health.get()>
                    <option value="">"any"</option>
                    <option value="up">"up"</option>
                    <option value="down">"down"</option>
                    <option value="unknown">"unknown"</option>
                </select>
                <button type="submit">"Filter"</button>
            </form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match targets.await {
                        Ok(rows) => {
                            let all = rows.len();
                            let text = text.get().to_lowercase();
                            let health = health.get();
                            let shown: Vec<TargetRow> = rows
                                .into_iter()
                                .filter(|t| health.is_empty() || t.health == health)
                                .filter(|t| text.is_empty() || t.service.to_lowercase().contains(&text) || t.url.to_lowercase().contains(&text))
                                .collect();
                            view! { <TargetTable rows=shown all/> }.into_any()
                        }
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TargetTable(rows: Vec<TargetRow>, all: usize) -> impl IntoView {
    if all == 0 {
        return view! { <p class="empty">"No targets: instances declared in manifests (spec.instances) and static targets in the configuration are scraped."</p> }.into_any();
    }
    let shown = rows.len();
    view! {
        <p class="muted" id="targets-count">{format!("{shown} of {all} targets")}</p>
        <div class="table-scroll" tabindex="0" role="region" aria-label="Targets">
        <table class="compact nowrap" id="targets">
            <thead><tr><th>"Target"</th><th>"Service"</th><th>"State"</th><th>"Last scrape"</th><th>"Duration"</th><th>"Samples"</th><th>"Health probe"</th><th>"Error"</th></tr></thead>
            <tbody>
                {rows.into_iter().map(|t| view! {
                    <tr data-target=t.url.clone() data-health=t.health.clone()>
                        <td><code>{t.url.clone()}</code></td>
                        <td><a href=format!("/services/{}", t.service)>{t.service.clone()}</a></td>
                        <td><span class=format!("state target-{}", t.health)>{t.health.clone()}</span></td>
                        <td>{if t.last_scrape.is_empty() { view! { "never" }.into_any() } else { view! { <LocalTime utc=t.last_scrape.clone()/> }.into_any() }}</td>
                        <td>{t.duration_seconds.map_or("—".to_owned(), format_seconds)}</td>
                        <td>{t.samples}</td>
                        <td>{if t.probe.is_empty() { "—".to_owned() } else { t.probe.clone() }}
                            {(!t.probe_error.is_empty()).then(|| view! { <span class="muted">" ("{t.probe_error.clone()}")"</span> })}</td>
                        <td class="target-error">{t.last_error.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }.into_any()
}
