//! Where services cross the borders the architecture draws: datastores shared across
//! owners or bounded contexts, calls from one bounded context into another outside a
//! declared API, and the drift between what manifests declare and what traces observe.

use std::collections::{BTreeMap, BTreeSet};

use crate::graph::Index;
use crate::model::{Edge, Model, NodeKind};
use crate::observation::{DatastoreUser, EdgeRef, Evidence, Kind, Observation};

fn edge_ref(edge: &Edge) -> EdgeRef {
    EdgeRef {
        caller: edge.caller.clone(),
        callee: edge.callee.clone(),
        mode: edge.mode,
        declared: edge.declared,
        observed: edge.observed,
    }
}

/// Calls per second of an edge over the model's window; 0 without one.
fn rate(model: &Model, edge: &Edge) -> f64 {
    if model.window_seconds > 0.0 && edge.calls.is_finite() && edge.calls > 0.0 {
        edge.calls / model.window_seconds
    } else {
        0.0
    }
}

/// A datastore used by services of at least two owners or two bounded contexts, from
/// manifests (`datastores`) and from database spans.
pub fn shared_datastores(index: &Index<'_>) -> Vec<Observation> {
    let model = index.model();
    // datastore -> service -> (declared, observed), and the edges into each datastore.
    let mut users: BTreeMap<&str, BTreeMap<&str, (bool, bool)>> = BTreeMap::new();
    let mut into: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (service, store) in &model.datastore_users {
        users
            .entry(store)
            .or_default()
            .entry(service)
            .or_default()
            .0 = true;
    }
    for e in 0..index.edge_count() as u32 {
        let (caller, callee) = index.ends(e);
        if index.kind(callee) != NodeKind::Datastore {
            continue;
        }
        into.entry(index.name(callee)).or_default().push(e);
        if index.edge(e).observed && index.kind(caller) == NodeKind::Service {
            users
                .entry(index.name(callee))
                .or_default()
                .entry(index.name(caller))
                .or_default()
                .1 = true;
        }
    }
    let mut found = Vec::new();
    for (store, users) in users {
        if users.len() < 2 {
            continue;
        }
        let list: Vec<DatastoreUser> = users
            .iter()
            .map(|(service, (declared, observed))| {
                let node = index.id(service).and_then(|id| index.node(id));
                DatastoreUser {
                    service: (*service).to_owned(),
                    owner: node.and_then(|n| n.owner.clone()),
                    domain: node.and_then(|n| n.domain.clone()),
                    declared: *declared,
                    observed: *observed,
                }
            })
            .collect();
        let owners: BTreeSet<String> = list.iter().filter_map(|u| u.owner.clone()).collect();
        let domains: BTreeSet<String> = list.iter().filter_map(|u| u.domain.clone()).collect();
        if owners.len() < 2 && domains.len() < 2 {
            continue;
        }
        let across = if domains.len() >= 2 {
            format!("{} bounded contexts ({})", domains.len(), join(&domains))
        } else {
            format!("{} owners ({})", owners.len(), join(&owners))
        };
        let names: Vec<String> = list.iter().map(|u| u.service.clone()).collect();
        let edges = into
            .get(store)
            .map(|edges| {
                edges
                    .iter()
                    .map(|&e| index.edge(e))
                    .filter(|e| users.contains_key(e.caller.as_str()))
                    .map(edge_ref)
                    .collect()
            })
            .unwrap_or_default();
        found.push(Observation {
            kind: Kind::SharedDatastore,
            id: format!("shared_datastore:{store}"),
            summary: format!(
                "{store} is used by {} services of {across}: {}",
                list.len(),
                names.join(", ")
            ),
            services: std::iter::once(store.to_owned()).chain(names).collect(),
            edges,
            evidence: Evidence::SharedDatastore {
                datastore: store.to_owned(),
                users: list,
                owners: owners.into_iter().collect(),
                domains: domains.into_iter().collect(),
            },
        });
    }
    found
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Calls from a service of one bounded context to a service of another that do not go
/// through an API the callee provides and the caller declares.
pub fn context_crossings(index: &Index<'_>) -> Vec<Observation> {
    let model = index.model();
    let mut found = Vec::new();
    for e in 0..index.edge_count() as u32 {
        let edge = index.edge(e);
        let (caller, callee) = index.ends(e);
        if !edge.apis.is_empty() || caller == callee {
            continue;
        }
        let (Some(from), Some(to)) = (index.node(caller), index.node(callee)) else {
            continue;
        };
        if from.kind != NodeKind::Service || to.kind != NodeKind::Service {
            continue;
        }
        let (Some(from_domain), Some(to_domain)) = (&from.domain, &to.domain) else {
            continue;
        };
        if from_domain == to_domain {
            continue;
        }
        let how = match (edge.declared, edge.observed) {
            (true, true) => "declared without an API and observed",
            (true, false) => "declared without an API",
            _ => "observed, not declared",
        };
        found.push(Observation {
            kind: Kind::ContextCrossing,
            id: format!("context_crossing:{}>{}", edge.caller, edge.callee),
            summary: format!(
                "{} ({from_domain}) calls {} ({to_domain}) outside a declared API: {how}",
                edge.caller, edge.callee
            ),
            services: vec![edge.caller.clone(), edge.callee.clone()],
            edges: vec![edge_ref(edge)],
            evidence: Evidence::ContextCrossing {
                from_domain: from_domain.clone(),
                to_domain: to_domain.clone(),
                calls_per_second: rate(model, edge),
            },
        });
    }
    found
}

/// Declared dependencies never observed in the window, and calls observed that no
/// manifest declares (a service's own datastores count as declared).
///
/// A declared dependency counts as unobserved only when traces see its caller or its
/// callee at all: a fleet, or a part of it, that sends no spans has no drift to show.
pub fn drift(index: &Index<'_>) -> Vec<Observation> {
    let model = index.model();
    let declared_stores: BTreeSet<(&str, &str)> = model
        .datastore_users
        .iter()
        .map(|(s, d)| (s.as_str(), d.as_str()))
        .collect();
    let mut traced = vec![false; index.len()];
    for e in 0..index.edge_count() as u32 {
        if index.edge(e).observed {
            let (caller, callee) = index.ends(e);
            for id in [caller, callee] {
                if let Some(seen) = traced.get_mut(id as usize) {
                    *seen = true;
                }
            }
        }
    }
    // One observation per pair, whatever the modes.
    let mut pairs: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for e in 0..index.edge_count() as u32 {
        pairs.entry(index.ends(e)).or_default().push(e);
    }
    let window = human_window(model.window_seconds);
    let mut found = Vec::new();
    for ((caller_id, callee_id), edges) in pairs {
        let (caller, callee) = (index.name(caller_id), index.name(callee_id));
        let edges: Vec<&Edge> = edges.iter().map(|&e| index.edge(e)).collect();
        let declared =
            edges.iter().any(|e| e.declared) || declared_stores.contains(&(caller, callee));
        let observed = edges.iter().any(|e| e.observed);
        if declared == observed {
            continue;
        }
        let calls: f64 = edges.iter().map(|e| rate(model, e)).sum();
        let refs: Vec<EdgeRef> = edges.iter().map(|e| edge_ref(e)).collect();
        let evidence = Evidence::Drift {
            calls_per_second: calls,
            window_seconds: model.window_seconds,
        };
        let seen = |id: u32| traced.get(id as usize).copied().unwrap_or(false);
        if declared {
            if model.window_seconds <= 0.0 || (!seen(caller_id) && !seen(callee_id)) {
                continue;
            }
            found.push(Observation {
                kind: Kind::DeclaredNotObserved,
                id: format!("declared_not_observed:{caller}>{callee}"),
                summary: format!(
                    "{caller} declares a dependency on {callee}, but no call was observed in the last {window}"
                ),
                services: vec![caller.to_owned(), callee.to_owned()],
                edges: refs,
                evidence,
            });
        } else {
            if index.kind(caller_id) == NodeKind::User {
                continue;
            }
            found.push(Observation {
                kind: Kind::ObservedNotDeclared,
                id: format!("observed_not_declared:{caller}>{callee}"),
                summary: format!(
                    "{caller} calls {callee} ({calls:.2} calls/s over the last {window}), but no manifest declares it"
                ),
                services: vec![caller.to_owned(), callee.to_owned()],
                edges: refs,
                evidence,
            });
        }
    }
    found
}

/// `15m`, `1h`, `90s`: a window in the API's duration syntax.
fn human_window(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds.round() as u64
    } else {
        0
    };
    if s > 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s > 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s > 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Mode, Node};

    fn node(name: &str, owner: &str, domain: Option<&str>) -> Node {
        Node {
            owner: Some(owner.into()),
            domain: domain.map(Into::into),
            ..Node::service(name)
        }
    }

    fn store(name: &str) -> Node {
        Node {
            kind: NodeKind::Datastore,
            ..Node::service(name)
        }
    }

    #[test]
    fn a_datastore_of_two_owners_is_shared_and_one_of_one_owner_is_not() {
        let mut model = Model {
            nodes: vec![
                node("orders", "team-a", Some("sales")),
                node("inventory", "team-b", Some("sales")),
                node("audit", "team-a", Some("sales")),
                store("shop-db"),
                store("audit-db"),
            ],
            datastore_users: vec![
                ("orders".into(), "shop-db".into()),
                ("audit".into(), "audit-db".into()),
                ("orders".into(), "audit-db".into()),
            ],
            edges: vec![Edge::observed("inventory", "shop-db", Mode::Sync, 10.0)],
            window_seconds: 60.0,
            ..Model::default()
        };
        model.merge_edges();
        let found = shared_datastores(&Index::new(&model));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].id, "shared_datastore:shop-db");
        let Evidence::SharedDatastore { users, owners, .. } = &found[0].evidence else {
            panic!("wrong evidence");
        };
        assert_eq!(owners, &["team-a", "team-b"]);
        assert!(users
            .iter()
            .any(|u| u.service == "inventory" && u.observed && !u.declared));
        assert!(users
            .iter()
            .any(|u| u.service == "orders" && u.declared && !u.observed));
        assert!(
            found[0].summary.contains("2 owners"),
            "{}",
            found[0].summary
        );
    }

    #[test]
    fn crossing_a_domain_through_a_declared_api_is_not_reported() {
        let mut through_api = Edge::declared("cart", "pricing", Mode::Sync);
        through_api.apis.push("pricing-api".into());
        let mut model = Model {
            nodes: vec![
                node("cart", "a", Some("shopping")),
                node("pricing", "b", Some("catalog")),
                node("search", "c", Some("discovery")),
                node("stock", "d", None),
            ],
            edges: vec![
                through_api,
                Edge::observed("search", "pricing", Mode::Sync, 120.0),
                Edge::observed("search", "stock", Mode::Sync, 1.0),
            ],
            window_seconds: 60.0,
            ..Model::default()
        };
        model.merge_edges();
        let found = context_crossings(&Index::new(&model));
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].id, "context_crossing:search>pricing");
        assert_eq!(
            found[0].evidence,
            Evidence::ContextCrossing {
                from_domain: "discovery".into(),
                to_domain: "catalog".into(),
                calls_per_second: 2.0
            }
        );
    }

    #[test]
    fn drift_both_ways_only_where_traces_see_the_services() {
        let mut model = Model {
            nodes: vec![
                Node::service("cart"),
                Node::service("inventory"),
                Node::service("legacy"),
                Node::service("billing"),
                store("cart-db"),
            ],
            edges: vec![
                Edge::declared("cart", "inventory", Mode::Sync),
                Edge::observed("cart", "billing", Mode::Sync, 30.0),
                Edge::observed("cart", "cart-db", Mode::Sync, 30.0),
                // Neither legacy nor inventory sends spans: no drift shown.
                Edge::declared("legacy", "inventory", Mode::Async),
            ],
            datastore_users: vec![("cart".into(), "cart-db".into())],
            window_seconds: 900.0,
            ..Model::default()
        };
        model.merge_edges();
        let ids: Vec<String> = drift(&Index::new(&model))
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(
            ids,
            [
                "observed_not_declared:cart>billing",
                "declared_not_observed:cart>inventory"
            ]
        );
        let none = Model {
            window_seconds: 0.0,
            ..model.clone()
        };
        assert!(drift(&Index::new(&none))
            .iter()
            .all(|o| o.kind != Kind::DeclaredNotObserved));
    }

    #[test]
    fn windows_read_as_durations() {
        assert_eq!(human_window(900.0), "15m");
        assert_eq!(human_window(3600.0), "1h");
        assert_eq!(human_window(86_400.0 * 7.0), "7d");
        assert_eq!(human_window(f64::NAN), "0s");
    }
}
