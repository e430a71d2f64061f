use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::health_overview;
use crate::chart::{format_rate, format_ratio, format_seconds, Line, TimeChart, Unit};
use crate::dto::{HealthFigures, HealthOverview, NamedHealth};
use crate::LocalTime;

/// Seconds between two refreshes of the overview's figures.
#[cfg(feature = "hydrate")]
const REFRESH_SECONDS: u64 = 10;

/// A state as a badge: its word, so colour is never the only cue.
#[component]
pub fn StateBadge(state: String) -> impl IntoView {
    view! { <span class=format!("state state-{state}")>{state.clone()}</span> }
}

/// Rate, error ratio and p95 in one line.
pub fn figures_line(figures: &HealthFigures) -> String {
    format!(
        "{} · {} errors · p95 {}",
        format_rate(figures.request_rate),
        format_ratio(figures.error_ratio),
        figures
            .latency_p95_seconds
            .map_or("—".to_owned(), format_seconds)
    )
}

/// The home page: the whole system at a glance, refreshed every few seconds in place.
#[component]
pub fn OverviewPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    #[cfg(feature = "hydrate")]
    {
        if let Ok(handle) = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_secs(REFRESH_SECONDS),
        ) {
            on_cleanup(move || handle.clear());
        }
    }
    let overview = Resource::new(move || tick.get(), |_| health_overview());
    view! {
        <section class="page">
            <Title text="Overview"/>
            <h1 tabindex="-1">"Overview"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(overview) => view! { <Overview overview/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Overview(overview: HealthOverview) -> impl IntoView {
    let HealthOverview {
        at,
        window_seconds,
        overall,
        counts,
        domains,
        worst,
        services_total,
        series,
        targets_up,
        targets_down,
        targets_unknown,
        scraping,
    } = overview;
    let starts: Vec<i64> = series.iter().map(|p| p.start).collect();
    let requests = Line {
        label: "requests",
        class: "line-1",
        values: series.iter().map(|p| Some(p.request_rate)).collect(),
    };
    let errors = Line {
        label: "errors",
        class: "line-3",
        values: series.iter().map(|p| Some(p.error_rate)).collect(),
    };
    let window = if window_seconds >= 60 && window_seconds % 60 == 0 {
        format!("{} min", window_seconds / 60)
    } else {
        format!("{window_seconds} s")
    };
    view! {
        <div class=format!("banner state-{}", overall.state) id="overall">
            <p class="banner-state">"The system is "<StateBadge state=overall.state.clone()/></p>
            <p>{figures_line(&overall)}" over the last "{window}" · as of "<LocalTime utc=at/></p>
        </div>
        {(!scraping).then(|| view! {
            <p class="notice">"Scraping is switched off ([collectors.scrape] enabled = false): states stay unknown."</p>
        })}
        <ul class="counts" id="state-counts" aria-label="Services by state">
            {counts.into_iter().map(|(state, count)| {
                let class = format!("count state-{state}");
                let label = state.clone();
                view! {
                    <li class=class data-state=state>
                        <span class="count-number">{count}</span>" "<span class="count-label">{label}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
        <p class="muted">
            <a href="/targets">{format!("{} targets", targets_up + targets_down + targets_unknown)}</a>
            {format!(": {targets_up} up, {targets_down} down, {targets_unknown} not scraped yet")}
        </p>
        <section class="card">
            <h2>"Traffic, last hour"</h2>
            <TimeChart title="Requests and server errors per second, whole system".to_owned()
                unit=Unit::Rate starts lines=vec![requests, errors] id="overview-traffic"/>
        </section>
        <section class="card" id="domains">
            <h2>"Domains"</h2>
            {if domains.is_empty() {
                view! { <p class="muted">"No domains declared yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="tiles">
                        {domains.into_iter().map(|d| view! { <DomainTile domain=d/> }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <section class="card" id="worst">
            <h2>"Services, worst first"</h2>
            {if worst.is_empty() {
                view! { <p class="muted">"No services yet: register one."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Services, worst first">
                    <table class="compact nowrap">
                        <thead><tr><th>"Service"</th><th>"Domain"</th><th>"State"</th><th>"Requests"</th><th>"Errors"</th><th>"p95"</th></tr></thead>
                        <tbody>
                            {worst.into_iter().map(|s| view! {
                                <tr data-service=s.name.clone() data-state=s.figures.state.clone()>
                                    <td><a href=format!("/services/{}", s.name)>{s.name.clone()}</a></td>
                                    <td>{if s.group.is_empty() { "—".to_owned() } else { s.group.clone() }}</td>
                                    <td><StateBadge state=s.figures.state.clone()/></td>
                                    <td>{format_rate(s.figures.request_rate)}</td>
                                    <td>{format_ratio(s.figures.error_ratio)}</td>
                                    <td>{s.figures.latency_p95_seconds.map_or("—".to_owned(), format_seconds)}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                    <p class="muted"><a href="/services">{format!("All {services_total} services")}</a></p>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn DomainTile(domain: NamedHealth) -> impl IntoView {
    let NamedHealth { name, figures, .. } = domain;
    view! {
        <li class=format!("tile state-{}", figures.state) data-domain=name.clone() data-state=figures.state.clone()>
            <a href=format!("/services?domain={}", crate::dto::encode_query_value(&name))>{name.clone()}</a>
            <StateBadge state=figures.state.clone()/>
            <span class="tile-figures">{figures_line(&figures)}</span>
        </li>
    }
}
