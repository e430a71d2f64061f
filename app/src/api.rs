//! Server functions: typed calls from the pages to the server, under `/rpc/`.
//!
//! Their bodies run on the server only, where the store is in the Leptos context
//! (provided by the server crate for every request).

use leptos::prelude::*;

use crate::dto::{
    DomainRow, ListQuery, ManifestCheck, RegisterOutcome, RevisionDiff, ServiceDetail,
    ServiceListPage, TeamRow,
};
#[cfg(feature = "ssr")]
use crate::dto::{ServiceRow, TokenError};

#[cfg(feature = "ssr")]
fn catalog() -> Result<std::sync::Arc<seam_store::LiveCatalog>, ServerFnError> {
    use_context::<std::sync::Arc<seam_store::LiveCatalog>>()
        .ok_or_else(|| ServerFnError::new("catalog missing from the request context"))
}

/// How the server decides whether a write may happen, provided by the server for every
/// request (the check itself lives there, with the REST API's). A request without it in
/// its context may not write: the forms fail closed.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub struct WriteAccess {
    /// Whether writes need a token at all; the forms ask for one only then.
    pub required: bool,
    /// Returns the name to record as the submitter, or why the token is refused.
    #[allow(clippy::type_complexity)]
    pub check: std::sync::Arc<dyn Fn(Option<&str>) -> Result<String, TokenError> + Send + Sync>,
}

/// The submitter's name for a write with `token`, or why it is refused.
#[cfg(feature = "ssr")]
fn authorize(token: Option<&str>) -> Result<String, TokenError> {
    match use_context::<WriteAccess>() {
        Some(access) => (access.check)(token.filter(|t| !t.is_empty())),
        None => Err(TokenError::Unavailable),
    }
}

/// Returns whether registering needs an API token.
#[server(prefix = "/rpc")]
pub async fn token_required() -> Result<bool, ServerFnError> {
    Ok(use_context::<WriteAccess>().is_none_or(|access| access.required))
}

#[cfg(feature = "ssr")]
fn internal(err: impl std::fmt::Display) -> ServerFnError {
    let message = err.to_string();
    tracing::error!(error = %message, "server function failed");
    ServerFnError::new(message)
}

/// Services on one page of the list.
pub const PAGE_SIZE: usize = 50;

/// Returns one page of the services list as `query` (the URL's state) asks.
#[server(prefix = "/rpc")]
pub async fn list_services(query: ListQuery) -> Result<ServiceListPage, ServerFnError> {
    let snapshot = catalog()?.snapshot();
    let filter = crate::detail::filter_of(&query);
    let page_size = PAGE_SIZE;
    let mut page = query.page_number();
    let mut found = snapshot.query(&filter, (page - 1).saturating_mul(page_size), page_size);
    let pages = found.total.div_ceil(page_size).max(1);
    // A page past the end (an old bookmark, fewer services now) shows the last one.
    if page > pages {
        page = pages;
        found = snapshot.query(&filter, (page - 1) * page_size, page_size);
    }
    let total = found.total;
    let facets = snapshot.facets();
    let catalog_size = snapshot.services().len();
    Ok(ServiceListPage {
        rows: found.services.into_iter().map(ServiceRow::from).collect(),
        total,
        catalog_size,
        page,
        pages,
        page_size,
        owners: facets.owners.clone(),
        domains: facets.domains.clone(),
        systems: facets.systems.clone(),
        lifecycles: facets.lifecycles.clone(),
    })
}

/// Registers a service from the web form; field errors come back as
/// [`RegisterOutcome::Invalid`] for the form to show beside each field.
#[server(prefix = "/rpc")]
pub async fn register_service(
    name: String,
    version: String,
    owner: String,
    token: Option<String>,
) -> Result<RegisterOutcome, ServerFnError> {
    let access = use_context::<WriteAccess>();
    register_quick(&catalog()?, access.as_ref(), name, version, owner, token).await
}

/// The quick registration, for the server function and for the plain HTML form the
/// server answers without the wasm: every field error at once, the token's among them.
#[cfg(feature = "ssr")]
pub async fn register_quick(
    catalog: &std::sync::Arc<seam_store::LiveCatalog>,
    access: Option<&WriteAccess>,
    name: String,
    version: String,
    owner: String,
    token: Option<String>,
) -> Result<RegisterOutcome, ServerFnError> {
    use seam_catalog::{FieldError, ServiceDraft};
    use seam_store::{StoreError, Submission};

    let mut errors = Vec::new();
    let checked = match access {
        Some(access) => (access.check)(token.as_deref().filter(|t| !t.is_empty())),
        None => Err(TokenError::Unavailable),
    };
    let submitter = match checked {
        Ok(name) => Some(name),
        Err(err) => {
            errors.push(FieldError {
                field: "token".into(),
                message: err.message().into(),
            });
            None
        }
    };
    let draft = ServiceDraft {
        name: Some(name),
        version: Some(version),
        owner: Some(owner),
    };
    let service = match draft.validate() {
        Ok(service) => Some(service),
        Err(issues) => {
            errors.extend(issues.into_vec());
            None
        }
    };
    let (Some(submitter), Some(service)) = (submitter, service) else {
        return Ok(RegisterOutcome::Invalid(errors));
    };
    let by = Submission::push("web", &submitter);
    match catalog
        .insert_service(&service, by, chrono::Utc::now())
        .await
    {
        Ok(record) => Ok(RegisterOutcome::Registered(Box::new(record.into()))),
        Err(StoreError::Conflict { name }) => Ok(RegisterOutcome::Invalid(vec![FieldError {
            field: "name".into(),
            message: format!("{name:?} is already registered"),
        }])),
        Err(err) => Err(internal(err)),
    }
}

/// Returns what the service page shows, or `None` for an unknown service.
#[server(prefix = "/rpc")]
pub async fn get_service_detail(name: String) -> Result<Option<ServiceDetail>, ServerFnError> {
    let catalog = catalog()?;
    let snapshot = catalog.snapshot();
    let Some(view) = snapshot.service(&name) else {
        return Ok(None);
    };
    let history = catalog
        .store()
        .service_history(&name)
        .await
        .map_err(internal)?;
    Ok(Some(crate::detail::build(view, &snapshot, history)))
}

/// Returns the line diff between two revisions of a service's manifest.
#[server(prefix = "/rpc")]
pub async fn manifest_diff(
    name: String,
    from: i64,
    to: i64,
) -> Result<RevisionDiff, ServerFnError> {
    let history = catalog()?
        .store()
        .service_history(&name)
        .await
        .map_err(internal)?;
    let find = |revision: i64| {
        history
            .iter()
            .find(|r| r.revision == revision)
            .ok_or_else(|| ServerFnError::new(format!("{name} has no revision {revision}")))
    };
    let (old, new) = (find(from)?, find(to)?);
    // The documents as their authors wrote them (normalised); revisions stored before
    // Seam kept documents, or registered by name only, compare as the model's JSON.
    let (old, new) = if old.document.is_empty() || new.document.is_empty() {
        (
            crate::detail::pretty_manifest(old),
            crate::detail::pretty_manifest(new),
        )
    } else {
        (old.document.clone(), new.document.clone())
    };
    tokio_blocking(move || {
        let lines = crate::diff::lines(&old, &new);
        crate::diff::summarise(&old, &new, lines)
    })
    .await
}

/// Runs CPU work (a diff of two large documents) off the async threads.
#[cfg(feature = "ssr")]
async fn tokio_blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServerFnError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| internal(format!("diff failed: {err}")))
}

/// Returns every team with what it owns.
#[server(prefix = "/rpc")]
pub async fn teams_overview() -> Result<Vec<TeamRow>, ServerFnError> {
    Ok(crate::detail::teams(&catalog()?.snapshot()))
}

/// Returns every domain (bounded context) with its systems and services.
#[server(prefix = "/rpc")]
pub async fn domains_overview() -> Result<Vec<DomainRow>, ServerFnError> {
    Ok(crate::detail::domains(&catalog()?.snapshot()))
}

/// Checks a pasted manifest (Seam format or Backstage descriptors); with `apply`, also
/// registers it when it has no errors, in one transaction.
#[server(prefix = "/rpc")]
pub async fn check_manifest(
    text: String,
    apply: bool,
    token: Option<String>,
) -> Result<ManifestCheck, ServerFnError> {
    use seam_store::{ingest, Submission};

    let submitter = if apply {
        match authorize(token.as_deref()) {
            Ok(name) => Some(name),
            Err(err) => {
                return Ok(ManifestCheck {
                    refused: Some(err.message().to_owned()),
                    ..ManifestCheck::default()
                })
            }
        }
    } else {
        None
    };
    // The check without a token is open to anyone: bounded in concurrency and rate.
    let _permit = match submitter {
        Some(_) => None,
        None => match crate::detail::check_permit(text.len()) {
            Some(permit) => Some(permit),
            None => {
                return Ok(ManifestCheck {
                    refused: Some(crate::detail::CHECK_BUSY.to_owned()),
                    ..ManifestCheck::default()
                })
            }
        },
    };
    let catalog = catalog()?;
    let loaded = ingest::load_text("manifest", text, catalog.snapshot()).await;
    let mut check = crate::detail::check_of(&loaded);
    if submitter.is_none() && !loaded.has_errors() {
        check.plan = crate::detail::plan(&catalog, &loaded.catalog).await;
    }
    if let (Some(submitter), false) = (submitter, loaded.has_errors()) {
        let by = Submission::push("web", &submitter);
        let changes = ingest::apply_loaded(&catalog, &loaded, "web form", by)
            .await
            .map_err(internal)?;
        check.changes = changes
            .into_iter()
            .map(|c| crate::dto::ChangeRow {
                kind: c.kind.to_owned(),
                name: c.name,
                change: c.change.as_str().to_owned(),
            })
            .collect();
    }
    Ok(check)
}

/// What the pages need of runtime health, provided by the server in every request's
/// context (it owns the scraper and the statistics; the app only shows them).
#[cfg(feature = "ssr")]
pub trait RuntimeHealth: Send + Sync {
    fn overview(&self) -> crate::dto::HealthOverview;
    fn targets(&self) -> Vec<crate::dto::TargetRow>;
    /// `None` when no service has that name.
    fn service_health(
        &self,
        name: String,
        window: String,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<Option<crate::dto::ServiceHealthView>, String>>
                + Send,
        >,
    >;
    /// Every edge over `window`, observed and declared, and the propagation findings.
    fn calls(
        &self,
        window: String,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::dto::CallsOverview, String>> + Send>,
    >;
    /// One edge over `window`; `None` when neither observed nor declared.
    fn edge_detail(
        &self,
        caller: String,
        callee: String,
        window: String,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<Option<crate::dto::EdgeDetailView>, String>>
                + Send,
        >,
    >;
    /// One service's callers and callees over `window`.
    fn service_calls(
        &self,
        name: String,
        window: String,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::dto::ServiceCalls, String>> + Send>,
    >;
}

/// What the architecture pages need, provided by the server in every request's context
/// (it owns the analysis; the app only shows it).
#[cfg(feature = "ssr")]
pub trait Architecture: Send + Sync {
    /// Every observation over `window`.
    fn analysis(
        &self,
        window: String,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::dto::AnalysisView, String>> + Send>,
    >;
    /// The graph over `window`, filtered, grouped and laid out as `view` says; focused
    /// on the observation `finding` when one is named.
    fn graph(
        &self,
        window: String,
        view: seam_analysis::layout::View,
        finding: Option<String>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::dto::GraphPageView, String>> + Send>,
    >;
    /// The version matrix over `window`, and the answer to `question` when asked.
    fn versions(
        &self,
        window: String,
        question: Option<crate::dto::VersionQuestion>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<crate::dto::VersionsView, String>> + Send>,
    >;
}

#[cfg(feature = "ssr")]
fn architecture() -> Result<std::sync::Arc<dyn Architecture>, ServerFnError> {
    use_context::<std::sync::Arc<dyn Architecture>>()
        .ok_or_else(|| ServerFnError::new("the analysis is missing from the request context"))
}

/// Every observation of the architecture analysis over `window`.
#[server(prefix = "/rpc")]
pub async fn analysis_view(window: String) -> Result<crate::dto::AnalysisView, ServerFnError> {
    check_call_window(&window)?;
    architecture()?.analysis(window).await.map_err(internal)
}

/// The graph page's graph, laid out.
#[server(prefix = "/rpc")]
pub async fn graph_page(
    window: String,
    view: seam_analysis::layout::View,
    finding: Option<String>,
) -> Result<crate::dto::GraphPageView, ServerFnError> {
    check_call_window(&window)?;
    check_graph_view(&view, finding.as_deref())?;
    architecture()?
        .graph(window, view, finding)
        .await
        .map_err(internal)
}

/// Bounds on what a client may ask of the graph: its lists and texts come from the URL
/// (or any client), and each costs work on the server.
#[cfg(feature = "ssr")]
fn check_graph_view(
    view: &seam_analysis::layout::View,
    finding: Option<&str>,
) -> Result<(), ServerFnError> {
    const MAX_TEXT: usize = 200;
    const MAX_LIST: usize = 1000;
    if view.hops > 5 {
        return Err(ServerFnError::new("hops: at most 5"));
    }
    if view.collapse_above > 2000 {
        return Err(ServerFnError::new("collapse_above: at most 2000"));
    }
    let lists = [
        ("expanded", view.expanded.len()),
        ("collapsed", view.collapsed.len()),
        ("only", view.only.as_ref().map_or(0, Vec::len)),
        ("highlight", view.highlight.len()),
    ];
    if let Some((name, _)) = lists.iter().find(|(_, n)| *n > MAX_LIST) {
        return Err(ServerFnError::new(format!(
            "{name}: at most {MAX_LIST} items"
        )));
    }
    let texts = [
        &view.focus,
        &view.domain,
        &view.owner,
        &view.health,
        &view.search,
    ];
    let long_list_item = view
        .expanded
        .iter()
        .chain(&view.collapsed)
        .chain(view.only.iter().flatten())
        .chain(view.highlight.iter().flat_map(|(a, b)| [a, b]))
        .any(|s| s.len() > MAX_TEXT);
    if long_list_item
        || texts
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_TEXT))
        || finding.is_some_and(|f| f.len() > 2 * MAX_TEXT)
    {
        return Err(ServerFnError::new(format!(
            "names and texts of the graph view: at most {MAX_TEXT} characters"
        )));
    }
    Ok(())
}

/// The version matrix, and a can-deploy or can-retire answer when asked.
#[server(prefix = "/rpc")]
pub async fn versions_view(
    window: String,
    question: Option<crate::dto::VersionQuestion>,
) -> Result<crate::dto::VersionsView, ServerFnError> {
    check_call_window(&window)?;
    if let Some(q) = &question {
        if !matches!(q.ask.as_str(), "deploy" | "retire") {
            return Err(ServerFnError::new("ask: expected deploy or retire"));
        }
        if [&q.service, &q.version, &q.environment]
            .iter()
            .any(|s| s.len() > 200)
        {
            return Err(ServerFnError::new(
                "service, version and environment: at most 200 characters each",
            ));
        }
    }
    architecture()?
        .versions(window, question)
        .await
        .map_err(internal)
}

#[cfg(feature = "ssr")]
fn runtime() -> Result<std::sync::Arc<dyn RuntimeHealth>, ServerFnError> {
    use_context::<std::sync::Arc<dyn RuntimeHealth>>()
        .ok_or_else(|| ServerFnError::new("runtime health missing from the request context"))
}

/// The whole system's health now.
#[server(prefix = "/rpc")]
pub async fn health_overview() -> Result<crate::dto::HealthOverview, ServerFnError> {
    Ok(runtime()?.overview())
}

/// Every scrape target with its state.
#[server(prefix = "/rpc")]
pub async fn scrape_targets() -> Result<Vec<crate::dto::TargetRow>, ServerFnError> {
    Ok(runtime()?.targets())
}

/// A service's health over `window` (one of [`crate::dto::HEALTH_WINDOWS`]).
#[server(prefix = "/rpc")]
pub async fn service_health(
    name: String,
    window: String,
) -> Result<Option<crate::dto::ServiceHealthView>, ServerFnError> {
    if !crate::dto::HEALTH_WINDOWS.contains(&window.as_str()) {
        return Err(ServerFnError::new(format!(
            "window {window:?}: expected one of {}",
            crate::dto::HEALTH_WINDOWS.join(", ")
        )));
    }
    runtime()?
        .service_health(name, window)
        .await
        .map_err(internal)
}

#[cfg(feature = "ssr")]
fn check_call_window(window: &str) -> Result<(), ServerFnError> {
    if crate::dto::CALL_WINDOWS.contains(&window) {
        Ok(())
    } else {
        Err(ServerFnError::new(format!(
            "window {window:?}: expected one of {}",
            crate::dto::CALL_WINDOWS.join(", ")
        )))
    }
}

/// Every edge over `window` (one of [`crate::dto::CALL_WINDOWS`]) and the services that
/// break trace propagation.
#[server(prefix = "/rpc")]
pub async fn calls_overview(window: String) -> Result<crate::dto::CallsOverview, ServerFnError> {
    check_call_window(&window)?;
    runtime()?.calls(window).await.map_err(internal)
}

/// A service's observed and declared callers and callees over `window`.
#[server(prefix = "/rpc")]
pub async fn service_calls(
    name: String,
    window: String,
) -> Result<crate::dto::ServiceCalls, ServerFnError> {
    check_call_window(&window)?;
    runtime()?
        .service_calls(name, window)
        .await
        .map_err(internal)
}

/// One edge over `window`: calls, errors and latency over time, versions and operations.
#[server(prefix = "/rpc")]
pub async fn edge_detail(
    caller: String,
    callee: String,
    window: String,
) -> Result<Option<crate::dto::EdgeDetailView>, ServerFnError> {
    check_call_window(&window)?;
    runtime()?
        .edge_detail(caller, callee, window)
        .await
        .map_err(internal)
}
