use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use seam_analysis::versions::{Answer, Consumer, EnvironmentVersions, ProviderVersions};

use super::edge::encode;
use crate::api::versions_view;
use crate::dto::{VersionQuestion, VersionsView, CALL_WINDOWS};

/// The version matrix: per environment, each provider's live versions with their share
/// of traffic, and each consumer's declared range with a verdict per live version; and
/// the can-deploy / can-retire questions a release pipeline asks.
#[component]
pub fn VersionsPage() -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query.with(|q| {
            q.get("window")
                .filter(|w| CALL_WINDOWS.contains(&w.as_str()))
                .unwrap_or_else(|| "15m".to_owned())
        })
    });
    let question = Memo::new(move |_| {
        query.with(|q| {
            let get = |name: &str| q.get(name).unwrap_or_default();
            let ask = get("ask");
            matches!(ask.as_str(), "deploy" | "retire").then(|| VersionQuestion {
                ask,
                service: get("service"),
                version: get("version"),
                environment: get("environment"),
            })
        })
    });
    let filter = Memo::new(move |_| query.with(|q| q.get("q").unwrap_or_default().to_lowercase()));
    let data = Resource::new(
        move || (window.get(), question.get()),
        |(w, q)| versions_view(w, q),
    );
    view! {
        <section class="page">
            <Title text="Versions"/>
            <h1 tabindex="-1">"Versions"</h1>
            <p class="muted">"Which versions of each service run, who calls which, and whether the consumers' declared semver ranges accept them. Live versions come from service.version on spans (with their share of calls) or, without spans, from the manifest."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(view) => view! { <Versions view filter=filter.get() question=question.get()/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn Versions(
    view: VersionsView,
    filter: String,
    question: Option<VersionQuestion>,
) -> impl IntoView {
    let VersionsView {
        window,
        matrix,
        answer,
    } = view;
    let question = question.unwrap_or_default();
    let environments: Vec<String> = matrix
        .environments
        .iter()
        .map(|e| e.environment.clone())
        .collect();
    let env_options = environments
        .iter()
        .map(|e| view! { <option value=e.clone()>{e.clone()}</option> })
        .collect_view();
    let tables = matrix
        .environments
        .into_iter()
        .map(|env| view! { <EnvironmentTable env filter=filter.clone()/> })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="ask-title">
            <h2 id="ask-title">"Can I deploy? Can I retire?"</h2>
            <form class="filters" method="get" action="/versions" id="ask-form">
                <input type="hidden" name="window" value=window.clone()/>
                <label for="ask-what">"Question"</label>
                <select id="ask-what" name="ask" prop:value=if question.ask.is_empty() { "deploy".to_owned() } else { question.ask.clone() }>
                    <option value="deploy">"can it be deployed"</option>
                    <option value="retire">"can it be retired"</option>
                </select>
                <label for="ask-service">"Service"</label>
                <input id="ask-service" name="service" type="text" required maxlength="200" prop:value=question.service.clone()/>
                <label for="ask-version">"Version"</label>
                <input id="ask-version" name="version" type="text" required maxlength="200" prop:value=question.version.clone()/>
                <label for="ask-environment">"Environment"</label>
                <input id="ask-environment" name="environment" type="text" maxlength="200" list="environments" placeholder="default" prop:value=question.environment.clone()/>
                <datalist id="environments">{env_options}</datalist>
                <button type="submit">"Ask"</button>
            </form>
            {answer.map(|a| view! { <AnswerView answer=a/> })}
        </section>
        <form class="filters" method="get" action="/versions" role="search">
            <label for="versions-q">"Service"</label>
            <input id="versions-q" name="q" type="search" maxlength="200" prop:value=filter.clone()/>
            <label for="versions-window">"Window"</label>
            <select id="versions-window" name="window" prop:value=window.clone()>
                {CALL_WINDOWS.iter().map(|w| view! { <option value=*w>{*w}</option> }).collect_view()}
            </select>
            <button type="submit">"Apply"</button>
        </form>
        {if environments.is_empty() {
            view! { <p class="empty">"No versions known yet: register services with a version, or send spans with service.version."</p> }.into_any()
        } else {
            tables.into_any()
        }}
    }
}

#[component]
fn AnswerView(answer: Answer) -> impl IntoView {
    view! {
        <div class=if answer.ok { "answer answer-ok" } else { "answer answer-no" } id="answer" role="status" data-ok=answer.ok.to_string()>
            <p><strong>{if answer.ok { "Yes" } else { "No" }}</strong>
                {format!(": {} {} in {}", answer.service, answer.version, answer.environment)}</p>
            <ul>
                {answer.reasons.into_iter().map(|r| view! {
                    <li data-blocking=r.blocking.to_string()>
                        <span class=if r.blocking { "tag tag-bad" } else { "tag" }>{if r.blocking { "blocks" } else { "note" }}</span>" "
                        {r.message}
                    </li>
                }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn EnvironmentTable(env: EnvironmentVersions, filter: String) -> impl IntoView {
    let providers: Vec<ProviderVersions> = env
        .providers
        .into_iter()
        .filter(|p| {
            filter.is_empty()
                || p.service.to_lowercase().contains(&filter)
                || p.consumers
                    .iter()
                    .any(|c| c.consumer.to_lowercase().contains(&filter))
        })
        .collect();
    let id = format!("env-{}", env.environment);
    view! {
        <section aria-labelledby=format!("{id}-title") class="card analysis-section">
            <h2 id=format!("{id}-title")>{format!("Environment {}", env.environment)}</h2>
            <div class="table-scroll" tabindex="0" role="region" aria-label=format!("Versions in {}", env.environment)>
            <table class="compact versions" data-environment=env.environment.clone()>
                <thead><tr>
                    <th scope="col">"Provider"</th><th scope="col">"Live versions"</th>
                    <th scope="col">"Consumer"</th><th scope="col">"Range"</th><th scope="col">"Calls"</th><th scope="col">"Verdicts"</th>
                </tr></thead>
                <tbody>
                    {providers.into_iter().map(provider_rows).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
    }
}

fn provider_rows(provider: ProviderVersions) -> impl IntoView {
    let span = provider.consumers.len().max(1);
    let live = provider
        .versions
        .iter()
        .map(|v| {
            let share = v
                .share
                .map(|s| format!(" {:.0}%", s * 100.0))
                .unwrap_or_default();
            format!(
                "{}{share}{}",
                v.version,
                if v.source.as_str() == "manifest" {
                    " (manifest)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let majors = (provider.majors.len() > 1).then(|| {
        view! {
            <span class="tag tag-warn">{format!("{} majors live", provider.majors.len())}</span>
        }
    });
    let service = provider.service.clone();
    let head = view! {
        <th scope="row" rowspan=span.to_string()>
            <a href=format!("/services/{}", encode(&service))>{service.clone()}</a>
        </th>
        <td rowspan=span.to_string()>{live}" "{majors}</td>
    };
    let mut consumers = provider.consumers.into_iter();
    let first = consumers.next();
    let rest: Vec<Consumer> = consumers.collect();
    view! {
        <tr data-provider=provider.service.clone()>
            {head}
            {match first {
                Some(c) => consumer_cells(c).into_any(),
                None => view! { <td colspan="4" class="muted">"no consumer"</td> }.into_any(),
            }}
        </tr>
        {rest.into_iter().map(|c| view! { <tr data-provider=provider.service.clone()>{consumer_cells(c)}</tr> }).collect_view()}
    }
}

fn consumer_cells(consumer: Consumer) -> impl IntoView {
    let range = match (&consumer.range, &consumer.api) {
        (Some(range), Some(api)) => format!("{range} of {api}"),
        (Some(range), None) => range.clone(),
        (None, _) if consumer.declared => "no range declared".to_owned(),
        (None, _) => "not declared".to_owned(),
    };
    let verdicts = consumer
        .verdicts
        .iter()
        .map(|v| {
            let word = v.verdict.as_str();
            let class = match word {
                "accepted" => "tag tag-ok",
                "rejected" => "tag tag-bad",
                _ => "tag",
            };
            view! { <span class=class data-verdict=word title=v.verdict.label()>{format!("{}: {}", v.provider_version, v.verdict.label())}</span>" " }
        })
        .collect_view();
    view! {
        <td data-consumer=consumer.consumer.clone()><a href=format!("/services/{}", encode(&consumer.consumer))>{consumer.consumer.clone()}</a></td>
        <td>{range}</td>
        <td class="nowrap">{if consumer.calls_per_second > 0.0 { format!("{:.2}/s", consumer.calls_per_second) } else { "—".to_owned() }}</td>
        <td>{verdicts}</td>
    }
}
