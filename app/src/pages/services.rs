use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{list_services, token_required, RegisterService};
use crate::dto::{FieldError, RegisterOutcome, ServiceRow};

/// Column the list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Name,
    Owner,
    Domain,
    Lifecycle,
    Updated,
}

impl Sort {
    fn key(self, row: &ServiceRow) -> (String, String) {
        let primary = match self {
            Sort::Name => &row.name,
            Sort::Owner => &row.owner,
            Sort::Domain => &row.domain,
            Sort::Lifecycle => &row.lifecycle,
            Sort::Updated => &row.updated_at,
        };
        (primary.to_lowercase(), row.name.to_lowercase())
    }
}

/// The filters of the list; initial values come from the URL (`/?owner=team-a`).
#[derive(Clone, Copy)]
struct Filters {
    text: RwSignal<String>,
    owner: RwSignal<String>,
    domain: RwSignal<String>,
    system: RwSignal<String>,
    lifecycle: RwSignal<String>,
    sort: RwSignal<(Sort, bool)>,
}

/// The service list: every registered service, filters and sorting that work in the
/// browser without a page load, and a small registration form.
#[component]
pub fn ServicesPage() -> impl IntoView {
    let register = ServerAction::<RegisterService>::new();
    // Refetched after every registration attempt.
    let services = Resource::new(move || register.version().get(), |_| list_services());
    let query = use_query_map();
    let initial = move |key: &str| query.with_untracked(|q| q.get(key).unwrap_or_default());
    let filters = Filters {
        text: RwSignal::new(initial("q")),
        owner: RwSignal::new(initial("owner")),
        domain: RwSignal::new(initial("domain")),
        system: RwSignal::new(initial("system")),
        lifecycle: RwSignal::new(initial("lifecycle")),
        sort: RwSignal::new((Sort::Name, false)),
    };

    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Services"</h1>
                <input
                    id="service-filter"
                    type="search"
                    placeholder="Filter by name or owner"
                    aria-label="Filter services"
                    prop:value=filters.text
                    on:input=move |ev| filters.text.set(event_target_value(&ev))
                />
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(rows) => view! { <ServiceTable rows filters/> }.into_any(),
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

fn distinct(rows: &[ServiceRow], field: fn(&ServiceRow) -> &String) -> Vec<String> {
    rows.iter()
        .map(field)
        .filter(|v| !v.is_empty())
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[component]
fn Select(
    id: &'static str,
    label: &'static str,
    options: Vec<String>,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <select id=id aria-label=label on:change=move |ev| value.set(event_target_value(&ev)) prop:value=value>
            <option value="">{format!("All {label}")}</option>
            {options
                .into_iter()
                .map(|o| view! { <option value=o.clone()>{o.clone()}</option> })
                .collect_view()}
        </select>
    }
}

#[component]
fn ServiceTable(rows: Vec<ServiceRow>, filters: Filters) -> impl IntoView {
    let total = rows.len();
    let owners = distinct(&rows, |r| &r.owner);
    let domains = distinct(&rows, |r| &r.domain);
    let systems = distinct(&rows, |r| &r.system);
    let lifecycles = distinct(&rows, |r| &r.lifecycle);
    let rows = StoredValue::new(rows);
    let visible = move || {
        let needle = filters.text.get().trim().to_lowercase();
        let (owner, domain) = (filters.owner.get(), filters.domain.get());
        let (system, lifecycle) = (filters.system.get(), filters.lifecycle.get());
        let (sort, descending) = filters.sort.get();
        let mut shown: Vec<ServiceRow> = rows.with_value(|all| {
            all.iter()
                .filter(|r| r.matches(&needle))
                .filter(|r| owner.is_empty() || r.owner == owner)
                .filter(|r| domain.is_empty() || r.domain == domain)
                .filter(|r| system.is_empty() || r.system == system)
                .filter(|r| lifecycle.is_empty() || r.lifecycle == lifecycle)
                .cloned()
                .collect()
        });
        shown.sort_by_cached_key(|r| sort.key(r));
        if descending {
            shown.reverse();
        }
        shown
    };
    let count = move || {
        let shown = visible().len();
        if shown == total {
            format!("{total} services")
        } else {
            format!("{shown} of {total} services")
        }
    };
    let header = move |label: &'static str, column: Sort| {
        let indicator = move || match filters.sort.get() {
            (s, false) if s == column => " ▲",
            (s, true) if s == column => " ▼",
            _ => "",
        };
        let on_click = move |_| {
            filters.sort.update(|(s, descending)| {
                *descending = *s == column && !*descending;
                *s = column;
            })
        };
        view! {
            <th>
                <button type="button" class="sort" data-sort=label on:click=on_click>{label}{indicator}</button>
            </th>
        }
    };

    view! {
        <div class="toolbar">
            <Select id="filter-owner" label="teams" options=owners value=filters.owner/>
            <Select id="filter-domain" label="domains" options=domains value=filters.domain/>
            <Select id="filter-system" label="systems" options=systems value=filters.system/>
            <Select id="filter-lifecycle" label="lifecycles" options=lifecycles value=filters.lifecycle/>
            <span id="service-count" class="muted">{count}</span>
        </div>
        <table class="services">
            <thead>
                <tr>
                    {header("Name", Sort::Name)}
                    <th>"Version"</th>
                    {header("Owner", Sort::Owner)}
                    {header("Domain", Sort::Domain)}
                    {header("Lifecycle", Sort::Lifecycle)}
                    {header("Updated", Sort::Updated)}
                </tr>
            </thead>
            <tbody>
                <For each=visible key=|row| row.name.clone() children=service_row/>
            </tbody>
        </table>
        <Show when=move || total == 0>
            <p class="empty">"No services registered yet. Register one below, paste a manifest on the Register page, or use the API."</p>
        </Show>
    }
}

fn service_row(row: ServiceRow) -> impl IntoView {
    let key = row.name.clone();
    let href = format!("/services/{}", row.name);
    view! {
        <tr data-service=key>
            <td class="name"><a href=href>{row.name}</a></td>
            <td><code>{row.version}</code></td>
            <td>{row.owner}</td>
            <td>{row.domain}</td>
            <td><span class="pill">{row.lifecycle}</span></td>
            <td class="muted">{row.updated_at}</td>
        </tr>
    }
}

#[component]
fn RegisterForm(register: ServerAction<RegisterService>) -> impl IntoView {
    let needs_token = Resource::new(|| (), |_| token_required());
    let outcome = register.value();
    let field_error = move |field: &'static str| {
        move || match outcome.get() {
            Some(Ok(RegisterOutcome::Invalid(errors))) => errors
                .iter()
                .find(|e: &&FieldError| e.field == field)
                .map(|e| e.message.clone()),
            _ => None,
        }
    };
    let status = move || match outcome.get() {
        Some(Ok(RegisterOutcome::Registered(row))) => {
            Some(format!("Registered {} {}", row.name, row.version))
        }
        Some(Err(err)) => Some(format!("Registration failed: {err}")),
        _ => None,
    };

    view! {
        <ActionForm action=register attr:class="register" attr:id="register-form">
            <h2>"Quick registration"</h2>
            <p class="muted">"Name, version and owner only; paste a full manifest on the "<a href="/register">"Register"</a>" page."</p>
            <div class="fields">
                <Field name="name" label="Name" placeholder="checkout" error=field_error("name")/>
                <Field name="version" label="Version" placeholder="1.0.0" error=field_error("version")/>
                <Field name="owner" label="Owner team" placeholder="team-payments" error=field_error("owner")/>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        matches!(needs_token.await, Ok(true)).then(|| view! {
                            <Field name="token" label="API token" placeholder="" secret=true error=field_error("token")/>
                        })
                    })}
                </Suspense>
            </div>
            <button type="submit" disabled=move || register.pending().get()>"Register"</button>
            <p id="register-status" role="status">{status}</p>
        </ActionForm>
    }
}

#[component]
fn Field(
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    error: impl Fn() -> Option<String> + Send + Sync + Copy + 'static,
    /// Masks the input (for tokens).
    #[prop(optional)]
    secret: bool,
) -> impl IntoView {
    let input_type = if secret { "password" } else { "text" };
    let input_id = format!("register-{name}");
    let error_id = format!("register-{name}-error");
    view! {
        <label class="field" class:invalid=move || error().is_some()>
            <span>{label}</span>
            <input id=input_id name=name type=input_type placeholder=placeholder autocomplete="off" aria-describedby=error_id.clone()/>
            <small id=error_id class="field-error">{error}</small>
        </label>
    }
}
