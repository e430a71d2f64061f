//! One module per page.

mod not_found;
mod services;

pub use not_found::NotFound;
pub use services::ServicesPage;
