//! The one service filter: the REST API and the services page both list through it, so a
//! filter means the same everywhere.

use std::cmp::Ordering;

use crate::{ServiceView, Snapshot};

/// Column a service list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Name,
    Owner,
    Domain,
    System,
    Lifecycle,
    Version,
    Updated,
}

impl SortKey {
    /// Every key with the name it has in URLs and the API.
    pub const ALL: [(SortKey, &'static str); 7] = [
        (SortKey::Name, "name"),
        (SortKey::Owner, "owner"),
        (SortKey::Domain, "domain"),
        (SortKey::System, "system"),
        (SortKey::Lifecycle, "lifecycle"),
        (SortKey::Version, "version"),
        (SortKey::Updated, "updated"),
    ];

    /// Parses the name a URL or the API uses.
    pub fn parse(name: &str) -> Option<SortKey> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("name")
    }
}

/// Longest text filter, in characters: matching costs its length for every service.
pub const MAX_QUERY_CHARS: usize = 200;

/// Which services a list shows, and in what order. Filters compare exactly, except `q`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFilter {
    /// Case-insensitive substring of the name, description or owner.
    pub q: Option<String>,
    pub owner: Option<String>,
    /// The resolved domain (through the system for Backstage components).
    pub domain: Option<String>,
    pub system: Option<String>,
    pub lifecycle: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
}

/// One page of a filtered list, and how many services match in all.
#[derive(Debug)]
pub struct Page<'a> {
    pub services: Vec<&'a ServiceView>,
    pub total: usize,
}

impl ServiceFilter {
    /// Whether `view` passes every filter.
    pub fn matches(&self, view: &ServiceView) -> bool {
        let m = &view.manifest;
        let exact = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        exact(&self.owner, Some(&m.owner))
            && exact(&self.domain, m.domain.as_deref())
            && exact(&self.system, m.system.as_deref())
            && exact(&self.lifecycle, Some(&m.lifecycle))
            && self.q.as_deref().is_none_or(|q| {
                let needle = q.to_lowercase();
                contains_lowercase(&m.name, &needle)
                    || contains_lowercase(&m.owner, &needle)
                    || m.description
                        .as_deref()
                        .is_some_and(|d| contains_lowercase(d, &needle))
            })
    }

    fn compare(&self, a: &ServiceView, b: &ServiceView) -> Ordering {
        let (ma, mb) = (&a.manifest, &b.manifest);
        let by_key = match self.sort {
            SortKey::Name => Ordering::Equal,
            SortKey::Owner => ma.owner.cmp(&mb.owner),
            // Services without a value sort last in ascending order.
            SortKey::Domain => cmp_missing_last(&ma.domain, &mb.domain),
            SortKey::System => cmp_missing_last(&ma.system, &mb.system),
            SortKey::Lifecycle => ma.lifecycle.cmp(&mb.lifecycle),
            SortKey::Version => cmp_versions(ma.version.as_deref(), mb.version.as_deref()),
            SortKey::Updated => a.meta.updated_at.cmp(&b.meta.updated_at),
        };
        let ordering = by_key.then_with(|| ma.name.cmp(&mb.name));
        if self.descending {
            ordering.reverse()
        } else {
            ordering
        }
    }
}

fn contains_lowercase(haystack: &str, needle_lowercase: &str) -> bool {
    if needle_lowercase.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle_lowercase.is_ascii() {
        haystack
            .as_bytes()
            .windows(needle_lowercase.len())
            .any(|w| w.eq_ignore_ascii_case(needle_lowercase.as_bytes()))
    } else {
        haystack.to_lowercase().contains(needle_lowercase)
    }
}

fn cmp_missing_last(a: &Option<String>, b: &Option<String>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Semantic versions by precedence, others after them as text.
fn cmp_versions(a: Option<&str>, b: Option<&str>) -> Ordering {
    let parse = |v: Option<&str>| v.and_then(|v| semver::Version::parse(v).ok());
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(&b),
    }
}

impl Snapshot {
    /// The services matching `filter`, sorted, from `offset`, at most `limit` of them;
    /// `total` counts every match.
    pub fn query(&self, filter: &ServiceFilter, offset: usize, limit: usize) -> Page<'_> {
        let mut matching: Vec<&ServiceView> =
            self.services().filter(|v| filter.matches(v)).collect();
        let total = matching.len();
        if filter.sort != SortKey::Name || filter.descending {
            matching.sort_unstable_by(|a, b| filter.compare(a, b));
        }
        let services = matching.into_iter().skip(offset).take(limit).collect();
        Page { services, total }
    }
}
