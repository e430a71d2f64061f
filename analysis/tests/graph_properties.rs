//! Properties of the graph analyses on random graphs of up to 30 nodes, checked against
//! brute force: strongly connected components partition the nodes; every cycle reported
//! is a real elementary cycle and, under the caps, they are all there; chains are real
//! synchronous paths and none longer exists; exact betweenness matches counting shortest
//! paths; `analyse` never panics and is deterministic, whatever the edge order.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use seam_analysis::graph::Index;
use seam_analysis::{
    analyse, Edge, Evidence, FanOut, Kind, Mode, Model, Node, NodeKind, Thresholds,
};

fn name(i: usize) -> String {
    format!("s{i:02}")
}

/// A random graph: node kinds and edges (caller, callee, sync).
#[derive(Debug, Clone)]
struct Spec {
    kinds: Vec<NodeKind>,
    edges: Vec<(usize, usize, bool)>,
}

fn kind_strategy(services_only: bool) -> BoxedStrategy<NodeKind> {
    if services_only {
        Just(NodeKind::Service).boxed()
    } else {
        prop_oneof![
            6 => Just(NodeKind::Service),
            1 => Just(NodeKind::External),
            1 => Just(NodeKind::Datastore),
            1 => Just(NodeKind::User),
        ]
        .boxed()
    }
}

fn spec(
    max_nodes: usize,
    max_edges: usize,
    services_only: bool,
    dag: bool,
) -> impl Strategy<Value = Spec> {
    (1..=max_nodes).prop_flat_map(move |n| {
        (
            proptest::collection::vec(kind_strategy(services_only), n),
            proptest::collection::vec((0..n, 0..n, any::<bool>()), 0..=max_edges),
        )
            .prop_map(move |(kinds, edges)| {
                let edges = edges
                    .into_iter()
                    .filter_map(|(a, b, sync)| {
                        if dag {
                            (a != b).then(|| (a.min(b), a.max(b), sync))
                        } else {
                            Some((a, b, sync))
                        }
                    })
                    .collect();
                Spec { kinds, edges }
            })
    })
}

fn model_of(spec: &Spec) -> Model {
    let mut model = Model {
        nodes: spec
            .kinds
            .iter()
            .enumerate()
            .map(|(i, &kind)| Node {
                kind,
                ..Node::service(&name(i))
            })
            .collect(),
        edges: spec
            .edges
            .iter()
            .map(|&(a, b, sync)| {
                let mode = if sync { Mode::Sync } else { Mode::Async };
                Edge::declared(&name(a), &name(b), mode)
            })
            .collect(),
        ..Default::default()
    };
    model.merge_edges();
    model
}

fn in_service_graph(kind: NodeKind) -> bool {
    matches!(kind, NodeKind::Service | NodeKind::External)
}

/// Distinct successors in the service graph (any mode, or sync only), self loops kept.
fn adjacency(spec: &Spec, sync_only: bool) -> Vec<BTreeSet<usize>> {
    let mut adj = vec![BTreeSet::new(); spec.kinds.len()];
    for &(a, b, sync) in &spec.edges {
        if in_service_graph(spec.kinds[a])
            && in_service_graph(spec.kinds[b])
            && (sync || !sync_only)
        {
            adj[a].insert(b);
        }
    }
    adj
}

/// Every elementary cycle, from its smallest node; `None` past `limit`.
fn brute_cycles(adj: &[BTreeSet<usize>], limit: usize) -> Option<Vec<Vec<usize>>> {
    fn extend(
        adj: &[BTreeSet<usize>],
        s: usize,
        path: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
        limit: usize,
    ) -> bool {
        let v = *path.last().unwrap();
        for &w in &adj[v] {
            if w == s {
                out.push(path.clone());
                if out.len() > limit {
                    return false;
                }
            } else if w > s && !path.contains(&w) {
                path.push(w);
                let ok = extend(adj, s, path, out, limit);
                path.pop();
                if !ok {
                    return false;
                }
            }
        }
        true
    }
    let mut out = Vec::new();
    for s in 0..adj.len() {
        if !extend(adj, s, &mut vec![s], &mut out, limit) {
            return None;
        }
    }
    Some(out)
}

fn reachability(adj: &[BTreeSet<usize>]) -> Vec<Vec<bool>> {
    let n = adj.len();
    let mut reach = vec![vec![false; n]; n];
    for (s, row) in reach.iter_mut().enumerate() {
        let mut stack = vec![s];
        row[s] = true;
        while let Some(v) = stack.pop() {
            for &w in &adj[v] {
                if !row[w] {
                    row[w] = true;
                    stack.push(w);
                }
            }
        }
    }
    reach
}

fn index_of(name: &str) -> usize {
    name[1..].parse().unwrap()
}

fn odd_model() -> impl Strategy<Value = (Model, bool)> {
    let figure = prop_oneof![
        Just(f64::NAN),
        Just(-5.0),
        Just(0.0),
        Just(f64::INFINITY),
        0.0..100_000.0f64,
    ];
    let fan = (
        figure.clone(),
        figure.clone(),
        proptest::collection::vec((figure.clone(), figure.clone()), 0..4),
    )
        .prop_map(|(requests, calls, buckets)| FanOut {
            requests,
            calls,
            buckets,
        });
    let edge = (
        0..14usize,
        0..14usize,
        any::<bool>(),
        any::<bool>(),
        figure.clone(),
        fan,
    );
    (
        proptest::collection::vec(kind_strategy(false), 0..12),
        proptest::collection::vec(edge, 0..40),
        prop_oneof![Just(0.0), Just(f64::NAN), Just(-60.0), Just(600.0)],
        any::<bool>(),
    )
        .prop_map(|(kinds, edges, window, merge)| {
            // Node names repeat and edges name nodes that are not there (12, 13).
            let mut model = Model {
                nodes: kinds
                    .iter()
                    .enumerate()
                    .map(|(i, &kind)| Node {
                        kind,
                        ..Node::service(&name(i % 9))
                    })
                    .collect(),
                edges: edges
                    .into_iter()
                    .map(|(a, b, sync, observed, calls, fan_out)| {
                        let mode = if sync { Mode::Sync } else { Mode::Async };
                        let mut e = Edge::declared(&name(a), &name(b), mode);
                        e.observed = observed;
                        e.calls = calls;
                        e.fan_out = fan_out;
                        e
                    })
                    .collect(),
                window_seconds: window,
                ..Default::default()
            };
            if merge {
                model.merge_edges();
            }
            (model, merge)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn components_partition_the_nodes_by_mutual_reachability(spec in spec(30, 60, false, false)) {
        let model = model_of(&spec);
        let index = Index::new(&model);
        let comps = index.strongly_connected(|v| index.in_service_graph(v), |_| true);
        let adj = adjacency(&spec, false);
        let reach = reachability(&adj);
        let mut seen = BTreeSet::new();
        for c in 0..comps.count() as u32 {
            for &v in comps.members(c) {
                prop_assert!(seen.insert(v), "node {v} in two components");
                prop_assert_eq!(comps.of(v), Some(c));
            }
        }
        for v in 0..spec.kinds.len() {
            let id = index.id(&name(v)).unwrap();
            prop_assert_eq!(in_service_graph(spec.kinds[v]), seen.contains(&id));
            for (w, reaches_v) in reach.iter().map(|row| row[v]).enumerate() {
                let (Some(a), Some(b)) = (comps.of(id), comps.of(index.id(&name(w)).unwrap())) else {
                    continue;
                };
                prop_assert_eq!(a == b, reach[v][w] && reaches_v);
                // Reverse topological numbering.
                if adj[v].contains(&w) {
                    prop_assert!(a >= b);
                }
            }
        }
    }

    #[test]
    fn reported_cycles_are_real_and_complete_under_the_caps(spec in spec(12, 26, false, false), cap in 1usize..30) {
        let model = model_of(&spec);
        let t = Thresholds { max_cycles_per_component: cap, max_cycles: 2 * cap, ..Thresholds::default() };
        let report = analyse(&model, &t);
        let adj = adjacency(&spec, false);
        let mut listed = Vec::new();
        for o in report.of_kind(Kind::Cycle) {
            let cycle: Vec<usize> = o.services.iter().map(|s| index_of(s)).collect();
            prop_assert!(!cycle.is_empty());
            prop_assert_eq!(cycle.iter().collect::<BTreeSet<_>>().len(), cycle.len(), "repeated node");
            prop_assert_eq!(*cycle.iter().min().unwrap(), cycle[0], "not rotated to the smallest");
            let mut ring = o.services.clone();
            ring.push(o.services[0].clone());
            prop_assert_eq!(&o.id, &format!("cycle:{}", ring.join(">")));
            prop_assert_eq!(o.edges.len(), cycle.len());
            for (i, edge) in o.edges.iter().enumerate() {
                let (a, b) = (cycle[i], cycle[(i + 1) % cycle.len()]);
                prop_assert!(adj[a].contains(&b));
                prop_assert_eq!((index_of(&edge.caller), index_of(&edge.callee)), (a, b));
                // The sync edge of a parallel pair is the one reported.
                if spec.edges.contains(&(a, b, true)) {
                    prop_assert_eq!(edge.mode, Mode::Sync);
                }
            }
            let Evidence::Cycle { component, component_size, sync, .. } = o.evidence else {
                return Err(TestCaseError::fail("cycle evidence"));
            };
            prop_assert_eq!(report.components[component].services.len(), component_size);
            prop_assert!(cycle.iter().all(|&v| report.components[component].services.contains(&name(v))));
            prop_assert_eq!(sync, o.edges.iter().all(|e| e.mode == Mode::Sync));
            listed.push(cycle);
        }
        prop_assert!(listed.len() <= 2 * cap);
        let shown: usize = report.components.iter().map(|c| c.cycles_shown).sum();
        prop_assert_eq!(shown, listed.len());
        prop_assert_eq!(report.stats.cycles_shown, shown);
        if let Some(all) = brute_cycles(&adj, 100 * cap) {
            let counted: u64 = report.components.iter().map(|c| c.cycles_shown as u64 + c.cycles_not_shown).sum();
            if report.components.iter().all(|c| !c.more_is_lower_bound) {
                prop_assert_eq!(counted, all.len() as u64);
                // Listed: per component, the shortest first, then by name.
                let mut by_component: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
                for c in &all {
                    let at = report.components.iter().position(|k| k.services.contains(&name(c[0]))).unwrap();
                    by_component.entry(at).or_default().push(c.clone());
                }
                let mut remaining = 2 * cap;
                let mut expected = Vec::new();
                for (_, mut cycles) in by_component {
                    cycles.sort_by(|a, b| (a.len(), a).cmp(&(b.len(), b)));
                    let take = cap.min(remaining).min(cycles.len());
                    remaining -= take;
                    expected.extend(cycles.into_iter().take(take));
                }
                expected.sort();
                listed.sort();
                prop_assert_eq!(listed, expected);
            } else {
                prop_assert!(counted <= all.len() as u64);
            }
        }
    }

    #[test]
    fn chains_are_the_longest_synchronous_paths(spec in spec(16, 40, false, true), depth in 2usize..5) {
        let model = model_of(&spec);
        let t = Thresholds { chain_depth: depth, ..Thresholds::default() };
        let report = analyse(&model, &t);
        let adj = adjacency(&spec, true);
        // Longest path (in nodes) starting at each node; edges go from low to high.
        let n = spec.kinds.len();
        let mut longest = vec![0usize; n];
        for v in (0..n).rev() {
            if in_service_graph(spec.kinds[v]) {
                longest[v] = 1 + adj[v].iter().map(|&w| longest[w]).max().unwrap_or(0);
            }
        }
        let overall = longest.iter().copied().max().unwrap_or(0);
        let chains: Vec<_> = report.of_kind(Kind::DeepChain).collect();
        prop_assert!(chains.len() <= t.max_chains);
        let mut deepest = 0;
        for o in &chains {
            let path: Vec<usize> = o.services.iter().map(|s| index_of(s)).collect();
            prop_assert!(path.len() >= depth);
            prop_assert_eq!(o.evidence.clone(), Evidence::Chain { depth: path.len(), through_cycle: false });
            prop_assert_eq!(o.edges.len(), path.len() - 1);
            for pair in path.windows(2) {
                prop_assert!(adj[pair[0]].contains(&pair[1]), "not a sync edge");
            }
            // It starts where no synchronous call arrives, and is the longest from there.
            prop_assert!(!adj.iter().any(|succ| succ.contains(&path[0])));
            prop_assert_eq!(path.len(), longest[path[0]]);
            deepest = deepest.max(path.len());
        }
        if overall >= depth {
            prop_assert_eq!(deepest, overall);
        } else {
            prop_assert!(chains.is_empty());
        }
    }

    #[test]
    fn chains_through_cycles_are_well_formed(spec in spec(20, 40, false, false)) {
        let model = model_of(&spec);
        let t = Thresholds { chain_depth: 2, ..Thresholds::default() };
        let report = analyse(&model, &t);
        let index = Index::new(&model);
        let comps = index.strongly_connected(
            |v| index.in_service_graph(v),
            |e| index.edge(e).mode == Mode::Sync,
        );
        let adj = adjacency(&spec, true);
        for o in report.of_kind(Kind::DeepChain) {
            let path: Vec<usize> = o.services.iter().map(|s| index_of(s)).collect();
            prop_assert_eq!(path.iter().collect::<BTreeSet<_>>().len(), path.len(), "repeated node");
            let comp = |v: usize| comps.of(index.id(&name(v)).unwrap()).unwrap();
            let mut run_start = path[0];
            for pair in path.windows(2) {
                if comp(pair[0]) != comp(pair[1]) {
                    // The call into the next component leaves from the last service of
                    // this one, or (when only the one it entered by calls on) the first.
                    prop_assert!(adj[pair[0]].contains(&pair[1]) || adj[run_start].contains(&pair[1]));
                    run_start = pair[1];
                }
            }
            // Each component on the chain is there whole, in one run.
            let mut runs: Vec<u32> = path.iter().map(|&v| comp(v)).collect();
            runs.dedup();
            prop_assert_eq!(runs.iter().collect::<BTreeSet<_>>().len(), runs.len());
            for &c in &runs {
                prop_assert_eq!(path.iter().filter(|&&v| comp(v) == c).count(), comps.members(c).len());
            }
            let Evidence::Chain { depth, through_cycle } = o.evidence else {
                return Err(TestCaseError::fail("chain evidence"));
            };
            prop_assert_eq!(depth, path.len());
            let cyclic = runs.iter().any(|&c| comps.members(c).len() > 1)
                || path.iter().any(|&v| adj[v].contains(&v));
            prop_assert_eq!(through_cycle, cyclic);
        }
    }

    #[test]
    fn exact_betweenness_counts_shortest_paths(spec in spec(12, 30, false, false)) {
        let model = model_of(&spec);
        let t = Thresholds {
            hub_fan_in: usize::MAX,
            hub_fan_out: usize::MAX,
            hub_betweenness: 1e-15,
            ..Thresholds::default()
        };
        let report = analyse(&model, &t);
        prop_assert!(report.stats.betweenness_exact);
        // Shortest distances and path counts between service-graph nodes (no self loops).
        let nodes: Vec<usize> = (0..spec.kinds.len()).filter(|&v| in_service_graph(spec.kinds[v])).collect();
        let n = nodes.len();
        prop_assert_eq!(report.stats.betweenness_samples, n);
        let adj = adjacency(&spec, false);
        let big = usize::MAX / 4;
        let mut dist = vec![vec![big; spec.kinds.len()]; spec.kinds.len()];
        let mut count = vec![vec![0.0f64; spec.kinds.len()]; spec.kinds.len()];
        for &s in &nodes {
            dist[s][s] = 0;
            count[s][s] = 1.0;
            // Paths of length k from s, for k = 1..n, counted layer by layer.
            let mut frontier: BTreeMap<usize, f64> = BTreeMap::from([(s, 1.0)]);
            for k in 1..=n {
                let mut next: BTreeMap<usize, f64> = BTreeMap::new();
                for (&v, &c) in &frontier {
                    for &w in &adj[v] {
                        if w != v {
                            *next.entry(w).or_default() += c;
                        }
                    }
                }
                next.retain(|&w, _| dist[s][w] >= k);
                for (&w, &c) in &next {
                    dist[s][w] = k;
                    count[s][w] = c;
                }
                frontier = next;
            }
        }
        let mut expected = BTreeMap::new();
        for &v in &nodes {
            let mut b = 0.0;
            for &s in &nodes {
                for &t in &nodes {
                    if s == v || t == v || s == t || dist[s][t] == big {
                        continue;
                    }
                    if dist[s][v] + dist[v][t] == dist[s][t] {
                        b += count[s][v] * count[v][t] / count[s][t];
                    }
                }
            }
            if n > 2 {
                b /= ((n - 1) * (n - 2)) as f64;
            }
            expected.insert(name(v), b);
        }
        let mut reported = BTreeMap::new();
        for o in report.of_kind(Kind::Hub) {
            let Evidence::Hub { betweenness, .. } = o.evidence else {
                return Err(TestCaseError::fail("hub evidence"));
            };
            reported.insert(o.services[0].clone(), betweenness);
        }
        for (v, want) in expected {
            let got = reported.get(&v).copied().unwrap_or(0.0);
            prop_assert!((got - want).abs() < 1e-9, "{v}: {got} vs {want}");
        }
    }

    #[test]
    fn analyse_never_panics_and_is_deterministic((model, merged) in odd_model()) {
        let t = Thresholds { chain_depth: 2, hub_fan_in: 2, hub_fan_out: 2, ..Thresholds::default() };
        let first = analyse(&model, &t);
        let second = analyse(&model, &t);
        // Debug, not ==: NaN figures are never equal to themselves.
        prop_assert_eq!(format!("{first:?}"), format!("{second:?}"));
        if merged {
            prop_assert_eq!(first.stats.edges, model.edges.len());
        }
    }

    #[test]
    fn edge_order_does_not_matter(spec in spec(20, 50, false, false), seed in any::<u64>()) {
        let mut shuffled = model_of(&spec);
        let base = model_of(&spec);
        // Shuffle nodes and edges (a fixed-seed Fisher-Yates), then merge again.
        let mut state = seed;
        let mut next = move |bound: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % bound
        };
        for i in (1..shuffled.edges.len()).rev() {
            let j = next(i + 1);
            shuffled.edges.swap(i, j);
        }
        for i in (1..shuffled.nodes.len()).rev() {
            let j = next(i + 1);
            shuffled.nodes.swap(i, j);
        }
        shuffled.merge_edges();
        let t = Thresholds { chain_depth: 2, hub_fan_in: 2, hub_fan_out: 2, ..Thresholds::default() };
        prop_assert_eq!(format!("{:?}", analyse(&base, &t)), format!("{:?}", analyse(&shuffled, &t)));
    }
}

/// A graph with far more cycles than the bound: counting stops and says so, quickly.
#[test]
fn a_dense_component_stops_at_the_work_bound() {
    let n = 40;
    let mut model = Model {
        nodes: (0..n).map(|i| Node::service(&name(i))).collect(),
        ..Default::default()
    };
    for a in 0..n {
        for b in 0..n {
            if a != b {
                model
                    .edges
                    .push(Edge::declared(&name(a), &name(b), Mode::Sync));
            }
        }
    }
    model.merge_edges();
    let started = std::time::Instant::now();
    let report = analyse(&model, &Thresholds::default());
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(report.components.len(), 1);
    let c = &report.components[0];
    assert_eq!(c.cycles_shown, 100);
    assert!(c.more_is_lower_bound);
    assert_eq!(c.cycles_shown as u64 + c.cycles_not_shown, 10_000);
    // The shortest are listed: two-cycles only.
    assert!(report.of_kind(Kind::Cycle).all(|o| o.services.len() == 2));
}
