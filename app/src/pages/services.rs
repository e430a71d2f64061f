use leptos::prelude::*;

use crate::api::{list_services, RegisterService};
use crate::dto::{FieldError, RegisterOutcome, ServiceRow};

/// The service list: every registered service, a filter box that narrows the list in
/// the browser, and a small registration form.
#[component]
pub fn ServicesPage() -> impl IntoView {
    let register = ServerAction::<RegisterService>::new();
    // Refetched after every registration attempt.
    let services = Resource::new(move || register.version().get(), |_| list_services());
    let filter = RwSignal::new(String::new());

    view! {
        <section class="page">
            <div class="page-head">
                <h1>"Services"</h1>
                <input
                    id="service-filter"
                    type="search"
                    placeholder="Filter by name or owner"
                    aria-label="Filter services"
                    prop:value=filter
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(rows) => view! { <ServiceTable rows filter/> }.into_any(),
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
fn ServiceTable(rows: Vec<ServiceRow>, filter: RwSignal<String>) -> impl IntoView {
    let total = rows.len();
    let rows = StoredValue::new(rows);
    let visible = move || {
        let needle = filter.get().trim().to_lowercase();
        rows.with_value(|all| {
            all.iter()
                .filter(|r| r.matches(&needle))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let count = move || {
        let shown = visible().len();
        if shown == total {
            format!("{total} services")
        } else {
            format!("{shown} of {total} services")
        }
    };

    view! {
        <p id="service-count" class="muted">{count}</p>
        <table class="services">
            <thead>
                <tr><th>"Name"</th><th>"Version"</th><th>"Owner"</th><th>"Registered (UTC)"</th></tr>
            </thead>
            <tbody>
                <For each=visible key=|row| row.name.clone() children=service_row/>
            </tbody>
        </table>
        <Show when=move || total == 0>
            <p class="empty">"No services registered yet. Register one below, or POST to /api/v1/services."</p>
        </Show>
    }
}

fn service_row(row: ServiceRow) -> impl IntoView {
    let key = row.name.clone();
    view! {
        <tr data-service=key>
            <td class="name">{row.name}</td>
            <td><code>{row.version}</code></td>
            <td>{row.owner}</td>
            <td class="muted">{row.registered_at}</td>
        </tr>
    }
}

#[component]
fn RegisterForm(register: ServerAction<RegisterService>) -> impl IntoView {
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
            <h2>"Register a service"</h2>
            <div class="fields">
                <Field name="name" label="Name" placeholder="checkout" error=field_error("name")/>
                <Field name="version" label="Version" placeholder="1.0.0" error=field_error("version")/>
                <Field name="owner" label="Owner team" placeholder="team-payments" error=field_error("owner")/>
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
) -> impl IntoView {
    let input_id = format!("register-{name}");
    let error_id = format!("register-{name}-error");
    view! {
        <label class="field" class:invalid=move || error().is_some()>
            <span>{label}</span>
            <input id=input_id name=name placeholder=placeholder autocomplete="off" aria-describedby=error_id.clone()/>
            <small id=error_id class="field-error">{error}</small>
        </label>
    }
}
