//! Seam's web app: the pages, their components and the server functions they call.
//!
//! Built twice: with `ssr` into the server, which renders every page to HTML, and with
//! `hydrate` into WebAssembly, which takes the server's HTML over in the browser. Server
//! functions (in [`api`]) run on the server in both builds; the browser calls them over
//! HTTP under `/rpc/`.

pub mod api;
pub mod chart;
#[cfg(feature = "ssr")]
mod detail;
#[cfg(feature = "ssr")]
mod diff;
pub mod dto;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};

/// The Content-Security-Policy of every page: scripts only from Seam itself or inline
/// with this response's nonce (the hydration scripts), WebAssembly allowed, no framing.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce)) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The app's root: layout, navigation and routes.
///
/// Pages render with [`SsrMode::Async`]: the server waits for their data, so the HTML
/// is complete for curl, crawlers and users without JavaScript.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flips once the page is hydrated; browser
    // tests wait for `data-hydrated="true"` before they interact.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <Stylesheet id="seam" href="/pkg/seam.css"/>
        // Every page names itself: `Services · Seam`.
        <Title formatter=|text: String| if text.is_empty() { "Seam".to_owned() } else { format!("{text} · Seam") }/>
        <Router>
            <FocusOnNavigation/>
            <div id="app" data-hydrated=move || hydrated.get().to_string()>
                <a class="skip-link" href="#main" on:click=skip_to_main>"Skip to content"</a>
                <header class="topbar">
                    <A href="/" attr:class="brand">"Seam"</A>
                    <nav>
                        <A href="/" exact=true>"Overview"</A>
                        <A href="/services" exact=true>"Services"</A>
                        <A href="/targets">"Targets"</A>
                        <A href="/calls">"Calls"</A>
                        <A href="/graph">"Graph"</A>
                        <A href="/findings">"Findings"</A>
                        <A href="/versions">"Versions"</A>
                        <A href="/teams">"Teams"</A>
                        <A href="/domains">"Domains"</A>
                        <A href="/register">"Register"</A>
                    </nav>
                </header>
                <main id="main" tabindex="-1">
                    <Routes fallback=|| view! { <pages::NotFound/> }>
                        <Route path=StaticSegment("") view=pages::OverviewPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("targets") view=pages::TargetsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("calls") view=pages::CallsPage ssr=SsrMode::Async/>
                        <Route
                            path=(StaticSegment("calls"), StaticSegment("edge"))
                            view=pages::EdgePage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("services") view=pages::ServicesPage ssr=SsrMode::Async/>
                        <Route
                            path=(StaticSegment("services"), ParamSegment("name"))
                            view=pages::ServicePage
                            ssr=SsrMode::Async
                        />
                        <Route path=StaticSegment("graph") view=pages::GraphPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("findings") view=pages::FindingsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("versions") view=pages::VersionsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("teams") view=pages::TeamsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("domains") view=pages::DomainsPage ssr=SsrMode::Async/>
                        <Route path=StaticSegment("register") view=pages::RegisterPage ssr=SsrMode::Async/>
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// `2026-12-01T14:08:40Z` as `2026-12-01 14:08 UTC`; other text as it is.
pub fn utc_label(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// A point in time: in UTC, with the zone shown, as the server renders it; in the
/// viewer's own time zone once the page is hydrated. The exact UTC time is on hover.
#[component]
pub fn LocalTime(utc: String) -> impl IntoView {
    let label = RwSignal::new(utc_label(&utc));
    let exact = utc.clone();
    #[cfg(feature = "hydrate")]
    {
        let utc = utc.clone();
        Effect::new(move |_| {
            if let Some(local) = local_label(&utc) {
                label.set(local);
            }
        });
    }
    view! { <time datetime=utc title=exact>{move || label.get()}</time> }
}

/// The time in the browser's time zone, with the zone's short name.
#[cfg(feature = "hydrate")]
fn local_label(rfc3339: &str) -> Option<String> {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(rfc3339));
    if date.get_time().is_nan() {
        return None;
    }
    let options = js_sys::Object::new();
    for (key, value) in [
        ("year", "numeric"),
        ("month", "2-digit"),
        ("day", "2-digit"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("hourCycle", "h23"),
        ("timeZoneName", "short"),
    ] {
        js_sys::Reflect::set(&options, &key.into(), &value.into()).ok()?;
    }
    date.to_locale_string("sv-SE", &options).as_string()
}

/// Focuses the main region: the router would otherwise treat the link as navigation.
fn skip_to_main(ev: leptos::ev::MouseEvent) {
    ev.prevent_default();
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if let Some(main) = document()
            .get_element_by_id("main")
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = main.focus();
        }
    }
}

/// Moves keyboard and screen-reader focus to the new page's heading after in-app
/// navigation, as a full page load would put them at the top of the new page.
#[component]
fn FocusOnNavigation() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.as_ref().is_some_and(|p| *p != path) {
            // After the new page has replaced the old one.
            #[cfg(feature = "hydrate")]
            set_timeout(|| focus_heading(0), std::time::Duration::from_millis(30));
        }
        path
    });
}

/// Focuses the page's `h1` once it is rendered (data may still be loading), trying for
/// about a second, else the main region.
#[cfg(feature = "hydrate")]
fn focus_heading(attempt: u32) {
    use wasm_bindgen::JsCast;
    let found = document()
        .query_selector("main h1")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    match found {
        Some(heading) => drop(heading.focus()),
        None if attempt < 20 => {
            set_timeout(
                move || focus_heading(attempt + 1),
                std::time::Duration::from_millis(50),
            );
        }
        None => {
            if let Some(main) = document()
                .get_element_by_id("main")
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = main.focus();
            }
        }
    }
}

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
