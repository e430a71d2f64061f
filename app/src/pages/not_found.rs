use leptos::prelude::*;

/// Shown for any path no route matches; answered with status 404 on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text="Not found"/>
        <h1 tabindex="-1">"Not found"</h1>
        <p>"No page here. " <a href="/services">"Back to the services"</a></p>
    }
}
