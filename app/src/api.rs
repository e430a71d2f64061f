//! Server functions: typed calls from the pages to the server, under `/rpc/`.
//!
//! Their bodies run on the server only, where the store is in the Leptos context
//! (provided by the server crate for every request).

use leptos::prelude::*;

use crate::dto::{RegisterOutcome, ServiceRow};

#[cfg(feature = "ssr")]
fn store() -> Result<seam_store::SharedStore, ServerFnError> {
    use_context::<seam_store::SharedStore>()
        .ok_or_else(|| ServerFnError::new("store missing from the request context"))
}

/// Returns every registered service, ordered by name.
#[server(prefix = "/rpc")]
pub async fn list_services() -> Result<Vec<ServiceRow>, ServerFnError> {
    let records = store()?
        .list_services()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(records.into_iter().map(ServiceRow::from).collect())
}

/// Registers a service from the web form; field errors come back as
/// [`RegisterOutcome::Invalid`] for the form to show beside each field.
#[server(prefix = "/rpc")]
pub async fn register_service(
    name: String,
    version: String,
    owner: String,
) -> Result<RegisterOutcome, ServerFnError> {
    use seam_catalog::{FieldError, ServiceDraft};
    use seam_store::StoreError;

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
        Err(err) => Err(ServerFnError::new(err.to_string())),
    }
}
