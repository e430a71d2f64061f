use leptos::prelude::*;

use super::count;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{list_services, token_required, RegisterService};
use crate::dto::{FieldError, ListQuery, RegisterOutcome, ServiceListPage, ServiceRow};
use crate::LocalTime;

/// The list's state as the URL has it.
fn query_from_url() -> Memo<ListQuery> {
    let map = use_query_map();
    Memo::new(move |_| {
        map.with(|q| {
            let get = |key: &str| q.get(key).unwrap_or_default();
            ListQuery {
                q: get("q"),
                owner: get("owner"),
                domain: get("domain"),
                system: get("system"),
                lifecycle: get("lifecycle"),
                sort: get("sort"),
                order: get("order"),
                page: get("page"),
            }
        })
    })
}

/// The service list: filtered, sorted and paged on the server, its whole state in the URL
/// (`/services?q=&owner=&domain=&system=&lifecycle=&sort=&order=&page=`), so a bookmark
/// reloads the same view and every control works as plain HTML before hydration.
#[component]
pub fn ServicesPage() -> impl IntoView {
    let register = ServerAction::<RegisterService>::new();
    let query = query_from_url();
    // Refetched when the URL changes and after every registration attempt.
    let services = Resource::new(
        move || (query.get(), register.version().get()),
        |(query, _)| list_services(query),
    );

    view! {
        <section class="page">
            <div class="page-head">
                <Title text="Services"/>
                <h1 tabindex="-1">"Services"</h1>
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    let current = query.get_untracked();
                    match services.await {
                        Ok(page) => view! { <ServiceList page query=current/> }.into_any(),
                        Err(err) => view! {
                            <p class="error" role="alert">"Cannot load services: " {err.to_string()}</p>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <RegisterForm register/>
        </section>
    }
}

#[component]
fn Select(
    name: &'static str,
    label: &'static str,
    options: Vec<String>,
    selected: String,
) -> impl IntoView {
    let id = format!("filter-{name}");
    // A value the URL set but the catalog no longer has stays selectable, so the control
    // always shows the filter in force.
    let mut options = options;
    if !selected.is_empty() && !options.contains(&selected) {
        options.insert(0, selected.clone());
    }
    view! {
        <label class="filter">
            <span class="visually-hidden">{label}</span>
            <select id=id name=name prop:value=selected.clone()>
                <option value="" selected=selected.is_empty()>{format!("All {label}")}</option>
                {options
                    .into_iter()
                    .map(|o| {
                        let is_selected = o == selected;
                        view! { <option value=o.clone() selected=is_selected>{o.clone()}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

#[component]
fn ServiceList(page: ServiceListPage, query: ListQuery) -> impl IntoView {
    let ServiceListPage {
        rows,
        total,
        catalog_size,
        page: number,
        pages,
        page_size,
        owners,
        domains,
        systems,
        lifecycles,
    } = page;
    let count = if query.is_filtered() {
        format!("{total} of {}", count(catalog_size, "service", "services"))
    } else {
        count(total, "service", "services")
    };
    // Which ones this page shows, when they do not all fit on one.
    let shown = if pages <= 1 {
        String::new()
    } else {
        let first = (number - 1) * page_size + 1;
        let last = (first + rows.len()).saturating_sub(1);
        format!(", showing {first}–{last}")
    };
    let header = {
        let query = query.clone();
        move |label: &'static str, key: &'static str| {
            let current = if query.sort.is_empty() {
                "name"
            } else {
                query.sort.as_str()
            };
            let active = current == key;
            let descending = active && query.descending();
            let target = ListQuery {
                sort: key.to_owned(),
                order: if active && !descending { "desc" } else { "asc" }.to_owned(),
                page: String::new(),
                ..query.clone()
            };
            let sorted = match (active, descending) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            };
            let indicator = match (active, descending) {
                (false, _) => "",
                (true, false) => " ▲",
                (true, true) => " ▼",
            };
            view! {
                <th aria-sort=sorted>
                    <a class="sort" data-sort=key href=target.href()>{label}{indicator}</a>
                </th>
            }
        }
    };
    let page_link = {
        let query = query.clone();
        move |to: usize, text: &'static str, rel: &'static str| {
            let target = ListQuery {
                page: if to == 1 {
                    String::new()
                } else {
                    to.to_string()
                },
                ..query.clone()
            };
            view! { <a class="page-link" rel=rel href=target.href()>{text}</a> }
        }
    };
    let empty = rows.is_empty();
    let filtered = query.is_filtered();

    view! {
        <Form method="GET" action="/services" attr:class="toolbar" attr:role="search" attr:id="service-filters">
            <label class="filter">
                <span class="visually-hidden">"Search services"</span>
                <input
                    id="service-filter"
                    type="search"
                    name="q"
                    // The attribute for the server's HTML, the property for client-side
                    // navigation, which keeps the element and what was typed into it.
                    value=query.q.clone()
                    prop:value=query.q.clone()
                    placeholder="Name, owner or description"
                />
            </label>
            <Select name="owner" label="teams" options=owners selected=query.owner.clone()/>
            <Select name="domain" label="domains" options=domains selected=query.domain.clone()/>
            <Select name="system" label="systems" options=systems selected=query.system.clone()/>
            <Select name="lifecycle" label="lifecycles" options=lifecycles selected=query.lifecycle.clone()/>
            {(!query.sort.is_empty()).then(|| view! { <input type="hidden" name="sort" value=query.sort.clone()/> })}
            {(!query.order.is_empty()).then(|| view! { <input type="hidden" name="order" value=query.order.clone()/> })}
            // Named, so that a new filter starts on the first page (and the router's
            // form, which adds the button to the query, adds something meaningful).
            <button type="submit" id="apply-filters" name="page" value="1">"Filter"</button>
            {filtered.then(|| view! { <a href="/services" id="clear-filters">"Clear filters"</a> })}
            <span id="service-count" class="muted" role="status">{count}{shown}</span>
        </Form>
        <div class="table-scroll" tabindex="0" role="region" aria-label="Services">
            <table class="services">
                <thead>
                    <tr>
                        {header("Name", "name")}
                        {header("Version", "version")}
                        {header("Owner", "owner")}
                        {header("Domain", "domain")}
                        {header("Lifecycle", "lifecycle")}
                        {header("Updated", "updated")}
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(service_row).collect_view()}
                </tbody>
            </table>
        </div>
        {(empty && filtered).then(|| view! {
            <p class="empty">"No services match these filters. "<a href="/services">"Clear the filters"</a>" to see all of them."</p>
        })}
        {(empty && !filtered).then(|| view! {
            <p class="empty">"No services registered yet. Register one below, paste a manifest on the Register page, or use the API."</p>
        })}
        {(pages > 1).then(|| view! {
            <nav class="pager" aria-label="Pages">
                {(number > 1).then(|| page_link(number - 1, "← Previous", "prev"))}
                <span id="page-position">{format!("Page {number} of {pages}")}</span>
                {(number < pages).then(|| page_link(number + 1, "Next →", "next"))}
            </nav>
        })}
    }
}

fn service_row(row: ServiceRow) -> impl IntoView {
    let key = row.name.clone();
    let href = format!("/services/{}", row.name);
    let stale = (!row.stale_since.is_empty()).then(|| {
        let title = format!(
            "Its manifest is no longer served (since {})",
            crate::utc_label(&row.stale_since)
        );
        view! { " "<span class="pill stale" title=title>"stale"</span> }
    });
    view! {
        <tr data-service=key>
            <td class="name"><a href=href>{row.name}</a>{stale}</td>
            <td><code>{row.version}</code></td>
            <td>{row.owner}</td>
            <td>{row.domain}</td>
            <td><span class="pill">{row.lifecycle}</span></td>
            <td class="muted"><LocalTime utc=row.updated_at/></td>
        </tr>
    }
}

#[component]
fn RegisterForm(register: ServerAction<RegisterService>) -> impl IntoView {
    let needs_token = Resource::new(|| (), |_| token_required());
    let outcome = register.value();
    // Without the wasm the form posts to the server, which sends the browser back here
    // with the outcome in the URL (`registered=`, `qr_error_FIELD=`, `qr_FIELD=`).
    let query = use_query_map();
    let from_url = move |key: String| query.with_untracked(|q| q.get(&key).unwrap_or_default());
    // Fields typed into since the last answer: their errors no longer apply.
    let edited = RwSignal::new(Vec::<&'static str>::new());
    Effect::new(move |_| {
        register.version().track();
        edited.set(Vec::new());
    });
    let field_error = move |field: &'static str| {
        move || {
            if edited.with(|e| e.contains(&field)) {
                return None;
            }
            match outcome.get() {
                Some(Ok(RegisterOutcome::Invalid(errors))) => errors
                    .iter()
                    .find(|e: &&FieldError| e.field == field)
                    .map(|e| e.message.clone()),
                Some(_) => None,
                None => Some(from_url(format!("qr_error_{field}"))).filter(|e| !e.is_empty()),
            }
        }
    };
    let status = move || match outcome.get() {
        Some(Ok(RegisterOutcome::Registered(row))) => {
            Some(format!("Registered {} {}", row.name, row.version))
        }
        Some(Err(err)) => Some(format!("Registration failed: {err}")),
        Some(Ok(_)) => None,
        None => {
            let registered = from_url("registered".into());
            let failed = from_url("qr_error_form".into());
            if !registered.is_empty() {
                Some(format!("Registered {registered}"))
            } else {
                Some(failed).filter(|f| !f.is_empty())
            }
        }
    };
    // With the wasm, the form registers in place through the server function.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            let Ok(data) = web_sys::FormData::new_with_form(&form) else {
                return;
            };
            ev.prevent_default();
            let value = |key: &str| data.get(key).as_string().unwrap_or_default();
            register.dispatch(RegisterService {
                name: value("name"),
                version: value("version"),
                owner: value("owner"),
                token: Some(value("token")),
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };

    view! {
        <form method="post" action="/register/quick" class="register" id="register-form" on:submit=on_submit>
            <h2>"Quick registration"</h2>
            <p class="muted">"Name, version and owner only; paste a full manifest on the "<a href="/register">"Register"</a>" page."</p>
            <div class="fields">
                <Field name="name" label="Name" placeholder="checkout" error=field_error("name") edited value=from_url("qr_name".into())/>
                <Field name="version" label="Version" placeholder="1.0.0" error=field_error("version") edited value=from_url("qr_version".into())/>
                <Field name="owner" label="Owner team" placeholder="team-payments" error=field_error("owner") edited value=from_url("qr_owner".into())/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        matches!(needs_token.await, Ok(true)).then(|| view! {
                            <Field name="token" label="API token" placeholder="" secret=true error=field_error("token") edited value=String::new()/>
                        })
                    })}
                </Suspense>
            </div>
            <button type="submit" disabled=move || register.pending().get()>"Register"</button>
            <p id="register-status" role="status">{status}</p>
        </form>
    }
}

#[component]
fn Field(
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    error: impl Fn() -> Option<String> + Send + Sync + Copy + 'static,
    /// The fields typed into since the last answer; typing adds this one.
    edited: RwSignal<Vec<&'static str>>,
    /// What the field holds when the page is rendered.
    value: String,
    /// Masks the input (for tokens).
    #[prop(optional)]
    secret: bool,
) -> impl IntoView {
    let input_type = if secret { "password" } else { "text" };
    let input_id = format!("register-{name}");
    let error_id = format!("register-{name}-error");
    let on_input = move |_| {
        if !edited.with_untracked(|e| e.contains(&name)) {
            edited.update(|e| e.push(name));
        }
    };
    view! {
        <label class="field" class:invalid=move || error().is_some()>
            <span>{label}</span>
            <input
                id=input_id
                name=name
                type=input_type
                placeholder=placeholder
                autocomplete="off"
                value=value
                aria-describedby=error_id.clone()
                aria-invalid=move || error().is_some().to_string()
                on:input=on_input
            />
            // Announced when it appears; the form keeps the focus where it was.
            <small id=error_id class="field-error" aria-live="polite">{error}</small>
        </label>
    }
}
