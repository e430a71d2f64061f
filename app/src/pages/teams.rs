use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::teams_overview;

fn links(prefix: &'static str, names: Vec<String>) -> impl IntoView {
    names
        .into_iter()
        .map(|n| {
            let body = n.clone();
            match prefix {
                "" => view! { <span class="tag">{body}</span> }.into_any(),
                _ => view! { <a class="tag" href=format!("{prefix}{n}")>{body}</a> }.into_any(),
            }
        })
        .collect_view()
}

/// Every team and what it owns: services, systems, domains, APIs.
#[component]
pub fn TeamsPage() -> impl IntoView {
    let teams = Resource::new(|| (), |_| teams_overview());
    view! {
        <section class="page">
            <Title text="Teams"/>
            <h1 tabindex="-1">"Teams"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match teams.await {
                        Ok(rows) if rows.is_empty() => view! { <p class="empty">"No teams yet: they appear as services name their owners."</p> }.into_any(),
                        Ok(rows) => view! {
                            <table class="services">
                                <thead><tr><th>"Team"</th><th>"Parent"</th><th>"Services"</th><th>"Systems"</th><th>"Domains"</th><th>"APIs"</th></tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|t| view! {
                                        <tr data-team=t.name.clone()>
                                            <td class="name"><a href=format!("/services?owner={}", crate::dto::encode_query_value(&t.name))>{t.name.clone()}</a></td>
                                            <td>{t.parent}</td>
                                            <td>{links("/services/", t.services)}</td>
                                            <td>{links("", t.systems)}</td>
                                            <td>{links("", t.domains)}</td>
                                            <td>{links("", t.apis)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
