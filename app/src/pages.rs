//! One module per page.

mod calls;
mod domains;
mod edge;
mod findings;
mod graph;
mod not_found;
mod overview;
mod register;
mod service;
mod services;
mod targets;
mod teams;
mod versions;

pub use calls::CallsPage;
pub use domains::DomainsPage;
pub use edge::EdgePage;
pub use findings::FindingsPage;
pub use graph::GraphPage;
pub use not_found::NotFound;
pub use overview::{figures_line, OverviewPage, StateBadge};
pub use register::RegisterPage;
pub use service::ServicePage;
pub use services::ServicesPage;
pub use targets::TargetsPage;
pub use teams::TeamsPage;
pub use versions::VersionsPage;

/// A count with its noun: `1 service`, `3 services`.
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
