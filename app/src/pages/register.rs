use leptos::prelude::*;

use super::count;

use crate::api::{check_manifest, token_required, CheckManifest};
use crate::dto::{DiagnosticRow, ManifestCheck, PlanRow};

/// How long typing must pause before the manifest is checked.
const CHECK_DELAY: std::time::Duration = std::time::Duration::from_millis(250);

const EXAMPLE: &str = "apiVersion: seam.dev/v1
kind: Service
metadata:
  name: checkout
  description: Takes orders and hands them to payments
spec:
  version: 1.4.0
  owner: team-payments
  domain: commerce
  system: webshop
  lifecycle: production
  instances:
    - baseUrl: http://127.0.0.1:8081
  provides:
    - name: checkout-api
      version: 1.4.0
      protocol: http
  consumes:
    - service: payments
      version: \"^2.1\"
      mode: sync
      protocol: http
  datastores:
    - name: checkout-db
      kind: postgresql
      access: owned
";

/// Registration by manifest: paste a Seam manifest or Backstage descriptors; it is
/// checked on the server as you type, with each finding shown under its line; Register
/// applies it in one transaction.
#[component]
pub fn RegisterPage() -> impl IntoView {
    // `text` is what the box shows; `checked` follows it once typing pauses, and is what
    // the server checks, so a burst of keystrokes costs one request.
    let text = RwSignal::new(String::new());
    // The checker and Register need the wasm: until it has loaded, the controls do not
    // take input they would drop.
    let ready = RwSignal::new(false);
    Effect::new(move |_| ready.set(true));
    let checked = RwSignal::new(String::new());
    let edits = StoredValue::new(0u64);
    let on_input = move |ev: leptos::ev::Event| {
        text.set(event_target_value(&ev));
        let edit = edits.get_value() + 1;
        edits.set_value(edit);
        set_timeout(
            move || {
                if edits.get_value() == edit {
                    checked.set(text.get_untracked());
                }
            },
            CHECK_DELAY,
        );
    };
    let set_now = move |value: String| {
        text.set(value.clone());
        checked.set(value);
    };
    let check = Resource::new(
        move || checked.get(),
        |text| async move {
            if text.trim().is_empty() {
                Ok(ManifestCheck::default())
            } else {
                check_manifest(text, false, None).await
            }
        },
    );
    let apply = ServerAction::<CheckManifest>::new();
    let upload_error = RwSignal::new(None::<String>);
    let token = RwSignal::new(String::new());
    let needs_token = Resource::new(|| (), |_| token_required());
    // The text the last registration was for: its result no longer applies once the
    // text changes.
    let submitted = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        submitted.set(Some(text.get_untracked()));
        apply.dispatch(CheckManifest {
            text: text.get_untracked(),
            apply: true,
            token: Some(token.get_untracked()),
        });
    };
    let outcome = move || {
        if submitted.get().as_deref() != Some(text.get().as_str()) {
            return ().into_any();
        }
        match apply.value().get() {
        Some(Ok(ManifestCheck { refused: Some(reason), .. })) => view! {
            <p class="error" role="alert">"Not registered: "{reason}</p>
        }
        .into_any(),
        Some(Ok(result)) if result.has_errors() => view! {
            <p class="error" role="alert">"Not registered: the manifest has errors (shown under their lines)."</p>
        }
        .into_any(),
        Some(Ok(result)) => view! {
            <div class="applied" role="status">
                <p><strong>"Registered."</strong></p>
                <ul>
                    {result.changes.into_iter().map(|c| {
                        let link = (c.kind == "service").then(|| format!("/services/{}", c.name));
                        view! {
                            <li data-change=c.name.clone()>
                                {c.change}" "{c.kind}" "
                                {match link {
                                    Some(href) => view! { <a href=href>{c.name.clone()}</a> }.into_any(),
                                    None => view! { <span>{c.name.clone()}</span> }.into_any(),
                                }}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
        }
        .into_any(),
        Some(Err(err)) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
        None => ().into_any(),
    }
    };

    view! {
        <section class="page">
            <div class="page-head">
                <leptos_meta::Title text="Register"/>
                <h1 tabindex="-1">"Register by manifest"</h1>
                <button type="button" class="secondary" id="load-example" disabled=move || !ready.get() on:click=move |_| {
                    // Typed text is not replaced without asking.
                    let typed = text.get_untracked();
                    let keep = !typed.trim().is_empty()
                        && typed != EXAMPLE
                        && !window()
                            .confirm_with_message("Replace the text you typed with the example?")
                            .unwrap_or(false);
                    if !keep {
                        set_now(EXAMPLE.to_owned());
                    }
                }>
                    "Load an example"
                </button>
            </div>
            <p class="muted">
                "Paste a Seam manifest ("<a href="/api/v1/schema/manifest">"JSON Schema"</a>") or Backstage "
                <code>"catalog-info.yaml"</code>" documents. Several documents may be separated by "<code>"---"</code>"."
            </p>
            <p class="upload">
                <label>"Or upload a file: "
                    <input type="file" id="manifest-file" disabled=move || !ready.get() accept=".yaml,.yml,.json,text/yaml,application/json"
                        on:change=move |ev| read_upload(ev, set_now, upload_error)/>
                </label>
                <span class="error-text" id="upload-error">{move || upload_error.get()}</span>
            </p>
            {move || (!ready.get()).then(|| view! { <p class="muted" id="checker-loading">"Loading the checker…"</p> })}
            <form id="manifest-form" on:submit=on_submit>
                <textarea
                    id="manifest-text"
                    spellcheck="false"
                    rows="18"
                    aria-label="Manifest"
                    disabled=move || !ready.get()
                    placeholder="apiVersion: seam.dev/v1\nkind: Service\n..."
                    prop:value=text
                    on:input=on_input
                ></textarea>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match check.await {
                            Ok(result) => view! { <Findings text=checked.get_untracked() result/> }.into_any(),
                            Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                        }
                    })}
                </Transition>
                <div class="submit-row">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            matches!(needs_token.await, Ok(true)).then(|| view! {
                                <label class="token">"API token "
                                    <input type="password" id="manifest-token" autocomplete="off"
                                        prop:value=token on:input=move |ev| token.set(event_target_value(&ev))/>
                                </label>
                            })
                        })}
                    </Suspense>
                    <button type="submit" id="manifest-submit" disabled=move || !ready.get() || apply.pending().get()>"Register"</button>
                </div>
            </form>
            {outcome}
        </section>
    }
}

/// The pasted text, numbered, with each finding under the line it is about.
#[component]
fn Findings(text: String, result: ManifestCheck) -> impl IntoView {
    if text.trim().is_empty() {
        return ().into_any();
    }
    let errors = result.diagnostics.iter().filter(|d| d.error).count();
    let warnings = result.diagnostics.len() - errors;
    let summary = if errors == 0 {
        format!(
            "Valid: {}, {}; {}",
            count(result.services, "service", "services"),
            count(result.entities, "other entity", "other entities"),
            count(warnings, "warning", "warnings")
        )
    } else {
        format!(
            "{}, {}",
            count(errors, "error", "errors"),
            count(warnings, "warning", "warnings")
        )
    };
    let (placed, unplaced): (Vec<DiagnosticRow>, Vec<DiagnosticRow>) =
        result.diagnostics.into_iter().partition(|d| d.line > 0);
    let line_count = text.lines().count();
    let lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let number = i + 1;
            let here: Vec<DiagnosticRow> = placed
                .iter()
                .filter(|d| d.line == number || (d.line > line_count && number == line_count))
                .cloned()
                .collect();
            let class = if here.iter().any(|d| d.error) {
                "src-line has-error"
            } else if !here.is_empty() {
                "src-line has-warning"
            } else {
                "src-line"
            };
            view! {
                <div class=class data-line=number>
                    <span class="ln">{number}</span>
                    <code>{line.to_owned()}</code>
                </div>
                {here.into_iter().map(|d| diagnostic(d, number)).collect_view()}
            }
        })
        .collect_view();
    let plan = (!result.plan.is_empty()).then(|| {
        view! {
            <div id="manifest-plan">
                <p>"Register will:"</p>
                <ul>
                    {result.plan.into_iter().map(plan_row).collect_view()}
                </ul>
            </div>
        }
    });
    view! {
        <p id="manifest-summary" class=if errors == 0 { "ok" } else { "error" }>{summary}</p>
        {plan}
        {unplaced.into_iter().map(|d| diagnostic(d, 0)).collect_view()}
        <div class="listing" id="manifest-listing">{lines}</div>
    }
    .into_any()
}

/// One line of the plan: "update checkout: version 1.4.0 → 1.5.0; consumes".
fn plan_row(row: PlanRow) -> impl IntoView {
    let what = match row.action.as_str() {
        "create" => format!("create service {}", row.name),
        "unchanged" => format!("leave service {} unchanged", row.name),
        _ => {
            let mut parts: Vec<String> = Vec::new();
            if let Some((from, to)) = &row.version_change {
                parts.push(format!("version {from} → {to}"));
            }
            parts.extend(row.fields.iter().filter(|f| *f != "version").cloned());
            format!("update service {}: {}", row.name, parts.join(", "))
        }
    };
    view! { <li data-plan=row.name.clone() data-action=row.action.clone()>{what}</li> }
}

fn diagnostic(d: DiagnosticRow, line: usize) -> impl IntoView {
    let class = if d.error {
        "diag error"
    } else {
        "diag warning"
    };
    let position = if d.line > 0 {
        format!("{}:{} ", d.line, d.column)
    } else {
        String::new()
    };
    let path = if d.path.is_empty() {
        String::new()
    } else {
        format!("{}: ", d.path)
    };
    view! {
        <div class=class data-diag-line=line>
            {position}{path}{d.message}
        </div>
    }
}

/// Largest file the upload reads, as the server's limit for one input.
#[cfg(feature = "hydrate")]
const UPLOAD_MAX_BYTES: f64 = 1024.0 * 1024.0;

/// Reads the chosen file into the text box (browser only).
fn read_upload(
    ev: leptos::ev::Event,
    set_text: impl Fn(String) + 'static,
    error: RwSignal<Option<String>>,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        if file.size() > UPLOAD_MAX_BYTES {
            error.set(Some(format!("{} is larger than 1 MiB", file.name())));
            return;
        }
        error.set(None);
        let promise = file.text();
        leptos::task::spawn_local(async move {
            match wasm_bindgen_futures::JsFuture::from(promise).await {
                Ok(value) => set_text(value.as_string().unwrap_or_default()),
                Err(_) => error.set(Some("the file could not be read as text".to_owned())),
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, set_text, error);
}
