use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::domains_overview;

/// Every domain (bounded context) with its owner, systems and services.
#[component]
pub fn DomainsPage() -> impl IntoView {
    let domains = Resource::new(|| (), |_| domains_overview());
    view! {
        <section class="page">
            <Title text="Domains"/>
            <h1 tabindex="-1">"Domains"</h1>
            <p class="muted">"Bounded contexts, with the systems and services inside each."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match domains.await {
                        Ok(rows) if rows.is_empty() => view! { <p class="empty">"No domains yet: declare them in manifests (spec.domain) or as Backstage Domains."</p> }.into_any(),
                        Ok(rows) => view! {
                            <div class="grid">
                                {rows.into_iter().map(|d| view! {
                                    <section class="card" data-domain=d.name.clone()>
                                        <h2><a href=format!("/services?domain={}", crate::dto::encode_query_value(&d.name))>{d.name.clone()}</a></h2>
                                        <p class="muted">{d.description}</p>
                                        {if d.owner.is_empty() {
                                            view! { <p class="muted">"Services name this domain, but no manifest describes it (no owner or description yet)"</p> }.into_any()
                                        } else {
                                            view! { <p>"Owner: "{d.owner}</p> }.into_any()
                                        }}
                                        <p>"Systems: "{if d.systems.is_empty() {
                                            view! { <span class="muted">"none"</span> }.into_any()
                                        } else {
                                            d.systems.into_iter().map(|s| view! {
                                                <a class="tag" href=format!("/services?system={}", crate::dto::encode_query_value(&s))>{s.clone()}</a>
                                            }).collect_view().into_any()
                                        }}</p>
                                        <p>"Services: "{d.services.into_iter().map(|s| view! { <a class="tag" href=format!("/services/{s}")>{s.clone()}</a> }).collect_view()}</p>
                                    </section>
                                }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
