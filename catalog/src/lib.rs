//! Seam's catalog model: what a service is, and the rules a registration must follow.
//!
//! This crate does no I/O. It is shared by the store (which persists what it accepts),
//! the server (which validates what arrives over HTTP) and the web app (which validates
//! what a user types, in the browser, before sending it).

pub mod manifest;
mod resolve;
mod service;
mod validate;

pub use resolve::{resolve, Resolver};
pub use service::{NewService, ServiceDraft};
pub use validate::{
    is_entity_name, lenient_version, FieldError, Issues, NAME_MAX_LEN, VERSION_MAX_LEN,
};
