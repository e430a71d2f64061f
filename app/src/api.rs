//! Server functions: typed calls from the pages to the server, under `/rpc/`.
//!
//! Their bodies run on the server only, where the store is in the Leptos context
//! (provided by the server crate for every request).

use leptos::prelude::*;

use crate::dto::{
    DiffLine, DomainRow, ManifestCheck, RegisterOutcome, ServiceDetail, ServiceRow, TeamRow,
};

#[cfg(feature = "ssr")]
fn store() -> Result<seam_store::SharedStore, ServerFnError> {
    use_context::<seam_store::SharedStore>()
        .ok_or_else(|| ServerFnError::new("store missing from the request context"))
}

/// The API tokens that writes need (REST write calls and the web forms alike), provided
/// by the server for every request; empty when writes need none. The web forms ask for a
/// token only when this is not empty.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct WriteTokens(pub std::sync::Arc<[String]>);

#[cfg(feature = "ssr")]
impl WriteTokens {
    /// Returns whether `presented` may write, comparing in constant time.
    pub fn allows(&self, presented: Option<&str>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(presented) = presented.map(str::trim) else {
            return false;
        };
        self.0.iter().any(|token| {
            token.len() == presented.len()
                && token
                    .bytes()
                    .zip(presented.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }
}

#[cfg(feature = "ssr")]
fn write_allowed(token: Option<&str>) -> bool {
    let token = token.filter(|t| !t.is_empty());
    use_context::<WriteTokens>()
        .unwrap_or_default()
        .allows(token)
}

/// The message a form shows when its token is missing or wrong.
pub const TOKEN_REQUIRED: &str = "a valid API token is required to register";

/// Returns whether registering needs an API token.
#[server(prefix = "/rpc")]
pub async fn token_required() -> Result<bool, ServerFnError> {
    Ok(!use_context::<WriteTokens>()
        .unwrap_or_default()
        .0
        .is_empty())
}

#[cfg(feature = "ssr")]
fn internal(err: impl std::fmt::Display) -> ServerFnError {
    ServerFnError::new(err.to_string())
}

/// Returns every registered service, ordered by name.
#[server(prefix = "/rpc")]
pub async fn list_services() -> Result<Vec<ServiceRow>, ServerFnError> {
    let records = store()?.list_services().await.map_err(internal)?;
    Ok(records.into_iter().map(ServiceRow::from).collect())
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
    use seam_catalog::{FieldError, ServiceDraft};
    use seam_store::StoreError;

    if !write_allowed(token.as_deref()) {
        return Ok(RegisterOutcome::Invalid(vec![FieldError {
            field: "token".into(),
            message: TOKEN_REQUIRED.into(),
        }]));
    }
    let draft = ServiceDraft {
        name: Some(name),
        version: Some(version),
        owner: Some(owner),
    };
    let service = match draft.validate() {
        Ok(service) => service,
        Err(issues) => return Ok(RegisterOutcome::Invalid(issues.into_vec())),
    };
    match store()?.insert_service(&service, chrono::Utc::now()).await {
        Ok(record) => Ok(RegisterOutcome::Registered(record.into())),
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
    let store = store()?;
    let Some(record) = store.get_service(&name).await.map_err(internal)? else {
        return Ok(None);
    };
    let all = store.list_services().await.map_err(internal)?;
    let history = store.service_history(&name).await.map_err(internal)?;
    Ok(Some(crate::detail::build(record, &all, history)))
}

/// Returns the line diff between two revisions of a service's manifest.
#[server(prefix = "/rpc")]
pub async fn manifest_diff(
    name: String,
    from: i64,
    to: i64,
) -> Result<Vec<DiffLine>, ServerFnError> {
    let history = store()?.service_history(&name).await.map_err(internal)?;
    let text = |revision: i64| {
        history
            .iter()
            .find(|r| r.revision == revision)
            .map(crate::detail::pretty_manifest)
            .ok_or_else(|| ServerFnError::new(format!("{name} has no revision {revision}")))
    };
    Ok(crate::diff::lines(&text(from)?, &text(to)?))
}

/// Returns every team with what it owns.
#[server(prefix = "/rpc")]
pub async fn teams_overview() -> Result<Vec<TeamRow>, ServerFnError> {
    let store = store()?;
    let services = store.list_services().await.map_err(internal)?;
    let mut entities = Vec::new();
    for kind in ["team", "system", "domain", "api"] {
        entities.extend(store.list_entities(kind).await.map_err(internal)?);
    }
    Ok(crate::detail::teams(&services, &entities))
}

/// Returns every domain (bounded context) with its systems and services.
#[server(prefix = "/rpc")]
pub async fn domains_overview() -> Result<Vec<DomainRow>, ServerFnError> {
    let store = store()?;
    let services = store.list_services().await.map_err(internal)?;
    let mut entities = store.list_entities("domain").await.map_err(internal)?;
    entities.extend(store.list_entities("system").await.map_err(internal)?);
    Ok(crate::detail::domains(&services, &entities))
}

/// Checks a pasted manifest (Seam format or Backstage descriptors); with `apply`, also
/// registers it when it has no errors, in one transaction.
#[server(prefix = "/rpc")]
pub async fn check_manifest(
    text: String,
    apply: bool,
    token: Option<String>,
) -> Result<ManifestCheck, ServerFnError> {
    use seam_store::ingest;

    if apply && !write_allowed(token.as_deref()) {
        return Ok(ManifestCheck {
            refused: Some(TOKEN_REQUIRED.to_owned()),
            ..ManifestCheck::default()
        });
    }
    let loaded = ingest::load_text("manifest", text).await;
    let mut check = crate::detail::check_of(&loaded);
    if apply && !loaded.has_errors() {
        let changes = ingest::apply_loaded(&store()?, &loaded, "web form", "web")
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
