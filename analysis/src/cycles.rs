//! Cycles of calls between services.
//!
//! The service graph is every service and external peer with every edge between them,
//! whatever its mode (datastores and users never call back, so never form cycles). Its
//! strongly connected components of more than one node, or of one node calling itself,
//! become [`Component`]s, ordered by their smallest service name. Within each, elementary
//! cycles are enumerated (Johnson's algorithm, iterative) and listed as observations,
//! shortest first, then by name.
//!
//! Enumeration is bounded: each component lists at most `max_cycles_per_component`
//! cycles and all of them at most `max_cycles`, and counting goes on past what is listed
//! until 100 times the per-component cap is reached or a step budget runs out (then
//! `more_is_lower_bound`). Cycles of up to three services are found first by a direct
//! search, so that even a component too large to enumerate lists its shortest cycles;
//! Johnson's search then contributes the longer ones. When counting stops early, the
//! cycles listed are the shortest of those found.
//!
//! Parallel edges in both modes between one pair are one hop: the hop is synchronous
//! when a synchronous edge exists, and that edge is the one reported.

use std::collections::BinaryHeap;

use crate::graph::{Index, NONE};
use crate::model::{Mode, Model};
use crate::observation::{EdgeRef, Evidence, Kind, Observation};
use crate::{Component, Thresholds};

/// What counting may cost in one component (an edge looked at, a node pushed or
/// unblocked is a step) ...
const COMPONENT_STEPS: u64 = 2_000_000;
/// ... and in all of them together; every component may still spend a few steps per
/// node and edge it has, so each lists its shortest cycles.
const TOTAL_STEPS: u64 = 20_000_000;
const STEPS_PER_ITEM: u64 = 16;
/// Counting stops at this many times the per-component cap.
const COUNT_FACTOR: u64 = 100;

pub struct Found {
    pub observations: Vec<Observation>,
    pub components: Vec<Component>,
}

pub fn cycles(_model: &Model, index: &Index<'_>, t: &Thresholds) -> Found {
    let comps = index.strongly_connected(|v| index.in_service_graph(v), |_| true);

    // Components with a cycle, each with its members in name order.
    let mut cyclic: Vec<Vec<u32>> = Vec::new();
    for c in 0..comps.count() as u32 {
        let members = comps.members(c);
        let looped = members.len() == 1
            && index
                .out_edges(members[0])
                .iter()
                .any(|&e| index.ends(e).1 == members[0]);
        if members.len() > 1 || looped {
            let mut members = members.to_vec();
            members.sort_by(|&a, &b| index.name(a).cmp(index.name(b)).then(a.cmp(&b)));
            cyclic.push(members);
        }
    }
    cyclic.sort_by(|a, b| index.name(a[0]).cmp(index.name(b[0])).then(a[0].cmp(&b[0])));

    let mut found = Found {
        observations: Vec::new(),
        components: Vec::with_capacity(cyclic.len()),
    };
    let mut local_of = vec![NONE; index.len()];
    let mut budget = TOTAL_STEPS;
    let mut listable = t.max_cycles;
    let per_component = t.max_cycles_per_component.max(1);
    for (ci, members) in cyclic.iter().enumerate() {
        for (i, &v) in members.iter().enumerate() {
            local_of[v as usize] = i as u32;
        }
        let sub = Sub::new(index, members, &local_of);
        for &v in members {
            local_of[v as usize] = NONE;
        }
        let steps = budget
            .min(COMPONENT_STEPS)
            .max(STEPS_PER_ITEM * (members.len() + sub.edges) as u64);
        let list = per_component.min(listable);
        let limit = (per_component as u64).saturating_mul(COUNT_FACTOR);
        let mut search = Search::new(list, limit, steps);
        search.run(&sub);
        budget = budget.saturating_sub(search.spent);
        let listed = search.best.into_sorted_vec();
        listable -= listed.len();
        for (_, cycle) in &listed {
            found
                .observations
                .push(observation(index, &sub, members, cycle, ci));
        }
        found.components.push(Component {
            services: members.iter().map(|&v| index.name(v).to_owned()).collect(),
            edges: sub.edges,
            sync_edges: sub.sync_edges,
            cycles_shown: listed.len(),
            cycles_not_shown: search.count - listed.len() as u64,
            more_is_lower_bound: search.stopped,
        });
    }
    found
}

/// One component as a simple directed graph over local ids (members in name order):
/// parallel edges collapsed into hops, each hop with the edge it reports.
struct Sub {
    out_start: Vec<u32>,
    out: Vec<u32>,
    /// Per hop (aligned with `out`): the model edge reported, and whether it is sync.
    hop_edge: Vec<u32>,
    hop_sync: Vec<bool>,
    in_start: Vec<u32>,
    ins: Vec<u32>,
    /// Model edges inside the component, and how many are synchronous.
    edges: usize,
    sync_edges: usize,
}

impl Sub {
    fn new(index: &Index<'_>, members: &[u32], local_of: &[u32]) -> Sub {
        let mut hops: Vec<(u32, u32, bool, u32)> = Vec::new();
        for (i, &v) in members.iter().enumerate() {
            for &e in index.out_edges(v) {
                let j = local_of[index.ends(e).1 as usize];
                if j != NONE {
                    // Sync sorts before async, so the first of a pair is sync if any is.
                    let sync = index.edge(e).mode == Mode::Sync;
                    hops.push((i as u32, j, !sync, e));
                }
            }
        }
        let edges = hops.len();
        let sync_edges = hops.iter().filter(|h| !h.2).count();
        hops.sort_unstable();
        hops.dedup_by(|later, first| later.0 == first.0 && later.1 == first.1);
        let k = members.len();
        let mut out_start = vec![0u32; k + 1];
        for h in &hops {
            out_start[h.0 as usize + 1] += 1;
        }
        for i in 0..k {
            out_start[i + 1] += out_start[i];
        }
        let mut in_start = vec![0u32; k + 1];
        for h in &hops {
            in_start[h.1 as usize + 1] += 1;
        }
        for i in 0..k {
            in_start[i + 1] += in_start[i];
        }
        let mut next = in_start.clone();
        let mut ins = vec![0u32; hops.len()];
        for h in &hops {
            let slot = &mut next[h.1 as usize];
            ins[*slot as usize] = h.0;
            *slot += 1;
        }
        Sub {
            out_start,
            out: hops.iter().map(|h| h.1).collect(),
            hop_edge: hops.iter().map(|h| h.3).collect(),
            hop_sync: hops.iter().map(|h| !h.2).collect(),
            in_start,
            ins,
            edges,
            sync_edges,
        }
    }

    fn len(&self) -> usize {
        self.out_start.len() - 1
    }

    fn succ(&self, v: u32) -> &[u32] {
        &self.out[self.out_start[v as usize] as usize..self.out_start[v as usize + 1] as usize]
    }

    fn pred(&self, v: u32) -> &[u32] {
        &self.ins[self.in_start[v as usize] as usize..self.in_start[v as usize + 1] as usize]
    }

    /// The hop from `a` to `b`, as a position in `out`.
    fn hop(&self, a: u32, b: u32) -> Option<usize> {
        let from = self.out_start[a as usize] as usize;
        self.succ(a).binary_search(&b).ok().map(|i| from + i)
    }
}

/// Counting and keeping the shortest cycles.
struct Search {
    list: usize,
    limit: u64,
    steps: u64,
    spent: u64,
    count: u64,
    stopped: bool,
    best: BinaryHeap<(usize, Vec<u32>)>,
}

impl Search {
    fn new(list: usize, limit: u64, steps: u64) -> Search {
        Search {
            list,
            limit,
            steps,
            spent: 0,
            count: 0,
            stopped: false,
            best: BinaryHeap::new(),
        }
    }

    /// Spends `n` steps; false (and stopped) when the budget is gone.
    fn spend(&mut self, n: u64) -> bool {
        self.spent += n;
        if self.spent > self.steps {
            self.stopped = true;
        }
        !self.stopped
    }

    /// Counts a cycle; false (and stopped) at the count limit.
    fn record(&mut self, cycle: &[u32]) -> bool {
        self.count += 1;
        if self.list > 0 {
            let better = match self.best.peek() {
                _ if self.best.len() < self.list => true,
                Some((len, path)) => (cycle.len(), cycle) < (*len, path.as_slice()),
                None => true,
            };
            if better {
                if self.best.len() == self.list {
                    self.best.pop();
                }
                self.best.push((cycle.len(), cycle.to_vec()));
            }
        }
        if self.count >= self.limit {
            self.stopped = true;
        }
        !self.stopped
    }

    fn run(&mut self, sub: &Sub) {
        if self.short(sub) {
            self.johnson(sub);
        }
    }

    /// Cycles of one, two and three services, each once, from its smallest member.
    fn short(&mut self, sub: &Sub) -> bool {
        let k = sub.len() as u32;
        for a in 0..k {
            if sub.hop(a, a).is_some() && !self.record(&[a]) {
                return false;
            }
        }
        for a in 0..k {
            for &b in sub.succ(a) {
                if !self.spend(1) {
                    return false;
                }
                if b > a && sub.hop(b, a).is_some() && !self.record(&[a, b]) {
                    return false;
                }
            }
        }
        for a in 0..k {
            for &b in sub.succ(a) {
                if b <= a {
                    continue;
                }
                for &c in sub.succ(b) {
                    if !self.spend(1) {
                        return false;
                    }
                    if c > a && c != b && sub.hop(c, a).is_some() && !self.record(&[a, b, c]) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Johnson's algorithm, iterative, counting cycles of four services and more (the
    /// shorter ones were counted by [`Search::short`]). For each start `s` the search
    /// stays among the members above `s` that can reach `s` through members above `s`:
    /// every such cycle lies there, and nothing else is explored.
    fn johnson(&mut self, sub: &Sub) {
        let k = sub.len();
        let mut reach = vec![NONE; k];
        let mut blocked = vec![false; k];
        let mut blocked_by: Vec<Vec<u32>> = vec![Vec::new(); k];
        let mut touched: Vec<u32> = Vec::new();
        let mut queue: Vec<u32> = Vec::new();
        let mut path: Vec<u32> = Vec::new();
        // Frames: node, next successor position, a cycle found below.
        let mut frames: Vec<(u32, u32, bool)> = Vec::new();
        let mut unblock: Vec<u32> = Vec::new();
        for s in 0..k as u32 {
            // Members above `s` that reach `s` through members above `s`.
            queue.clear();
            queue.push(s);
            reach[s as usize] = s;
            let mut head = 0;
            while head < queue.len() {
                let v = queue[head];
                head += 1;
                let pred = sub.pred(v);
                if !self.spend(1 + pred.len() as u64) {
                    return;
                }
                for &u in pred {
                    if u > s && reach[u as usize] != s {
                        reach[u as usize] = s;
                        queue.push(u);
                    }
                }
            }
            if queue.len() < 4 {
                continue; // no cycle of four or more through `s` up here
            }
            for &v in &touched {
                blocked[v as usize] = false;
                blocked_by[v as usize].clear();
            }
            touched.clear();
            let inside = |w: u32| w == s || (w > s && reach[w as usize] == s);

            path.clear();
            path.push(s);
            blocked[s as usize] = true;
            touched.push(s);
            frames.clear();
            frames.push((s, sub.out_start[s as usize], false));
            while let Some(top) = frames.len().checked_sub(1) {
                let (v, pos, _) = frames[top];
                if pos < sub.out_start[v as usize + 1] {
                    frames[top].1 += 1;
                    if !self.spend(1) {
                        return;
                    }
                    let w = sub.out[pos as usize];
                    if !inside(w) {
                        continue;
                    }
                    if w == s {
                        frames[top].2 = true;
                        if path.len() >= 4 && !self.record(&path) {
                            return;
                        }
                    } else if !blocked[w as usize] {
                        blocked[w as usize] = true;
                        touched.push(w);
                        path.push(w);
                        frames.push((w, sub.out_start[w as usize], false));
                    }
                } else {
                    let (_, _, found) = frames.pop().unwrap_or((v, pos, false));
                    path.pop();
                    if found {
                        // Unblock v and, transitively, whatever waits on it.
                        unblock.clear();
                        unblock.push(v);
                        while let Some(u) = unblock.pop() {
                            if !blocked[u as usize] {
                                continue;
                            }
                            blocked[u as usize] = false;
                            let waiting = std::mem::take(&mut blocked_by[u as usize]);
                            if !self.spend(1 + waiting.len() as u64) {
                                return;
                            }
                            unblock.extend(waiting.iter().copied());
                            blocked_by[u as usize] = waiting;
                            blocked_by[u as usize].clear();
                        }
                    } else {
                        for &w in sub.succ(v) {
                            if inside(w) && !blocked_by[w as usize].contains(&v) {
                                blocked_by[w as usize].push(v);
                            }
                        }
                        if !self.spend(sub.succ(v).len() as u64) {
                            return;
                        }
                    }
                    if let Some(parent) = frames.last_mut() {
                        parent.2 |= found;
                    }
                }
            }
        }
    }
}

fn observation(
    index: &Index<'_>,
    sub: &Sub,
    members: &[u32],
    cycle: &[u32],
    component: usize,
) -> Observation {
    let names: Vec<&str> = cycle
        .iter()
        .map(|&v| index.name(members[v as usize]))
        .collect();
    let mut edges = Vec::with_capacity(cycle.len());
    let (mut sync, mut declared, mut observed) = (0, true, true);
    for (i, &a) in cycle.iter().enumerate() {
        let b = cycle[(i + 1) % cycle.len()];
        let Some(hop) = sub.hop(a, b) else { continue };
        let edge = index.edge(sub.hop_edge[hop]);
        sync += usize::from(sub.hop_sync[hop]);
        declared &= edge.declared;
        observed &= edge.observed;
        edges.push(EdgeRef {
            caller: edge.caller.clone(),
            callee: edge.callee.clone(),
            mode: edge.mode,
            declared: edge.declared,
            observed: edge.observed,
        });
    }
    let mut round = names.clone();
    round.push(names[0]);
    let n = cycle.len();
    let what = if sync == n {
        "a synchronous cycle".to_owned()
    } else if sync == 0 {
        "an asynchronous cycle".to_owned()
    } else {
        format!("a cycle ({sync} of {n} calls synchronous)")
    };
    let known = match (declared, observed) {
        (true, true) => "declared and observed",
        (true, false) => "declared; not every call observed",
        (false, true) => "observed; not every call declared",
        (false, false) => "partly declared, partly observed",
    };
    let plural = if n == 1 { "" } else { "s" };
    Observation {
        kind: Kind::Cycle,
        id: format!("cycle:{}", round.join(">")),
        summary: format!(
            "{}: {what} of {n} service{plural} ({known})",
            round.join(" → ")
        ),
        services: names.iter().map(|s| (*s).to_owned()).collect(),
        edges,
        evidence: Evidence::Cycle {
            sync: sync == n,
            declared,
            observed,
            component,
            component_size: members.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edge, Node, NodeKind};

    fn model(edges: &[(&str, &str, Mode)]) -> Model {
        let mut nodes: Vec<Node> = edges
            .iter()
            .flat_map(|(a, b, _)| [Node::service(a), Node::service(b)])
            .collect();
        nodes.push(Node::service("lonely"));
        let mut model = Model {
            nodes,
            edges: edges
                .iter()
                .map(|(a, b, m)| Edge::declared(a, b, *m))
                .collect(),
            ..Default::default()
        };
        model.merge_edges();
        model
    }

    fn run(model: &Model, t: &Thresholds) -> Found {
        cycles(model, &Index::new(model), t)
    }

    use Mode::{Async, Sync};

    #[test]
    fn a_two_service_cycle_with_its_summary() {
        let mut m = model(&[("payments", "orders", Sync), ("orders", "payments", Sync)]);
        for e in &mut m.edges {
            e.observed = true;
        }
        let found = run(&m, &Thresholds::default());
        assert_eq!(found.components.len(), 1);
        let c = &found.components[0];
        assert_eq!(c.services, ["orders", "payments"]);
        assert_eq!((c.edges, c.sync_edges, c.cycles_shown), (2, 2, 1));
        assert_eq!(c.cycles_not_shown, 0);
        assert!(!c.more_is_lower_bound);
        let o = &found.observations[0];
        assert_eq!(o.id, "cycle:orders>payments>orders");
        assert_eq!(
            o.summary,
            "orders → payments → orders: a synchronous cycle of 2 services (declared and observed)"
        );
        assert_eq!(o.services, ["orders", "payments"]);
        assert_eq!(o.edges[0].caller, "orders");
        assert_eq!(o.edges[1].caller, "payments");
        assert_eq!(
            o.evidence,
            Evidence::Cycle {
                sync: true,
                declared: true,
                observed: true,
                component: 0,
                component_size: 2
            }
        );
    }

    #[test]
    fn the_sync_edge_of_a_parallel_pair_is_chosen() {
        let m = model(&[
            ("a", "b", Async),
            ("a", "b", Sync),
            ("b", "a", Async),
            ("b", "c", Sync),
            ("c", "b", Sync),
        ]);
        let found = run(&m, &Thresholds::default());
        assert_eq!(found.components.len(), 1);
        assert_eq!(found.components[0].edges, 5);
        assert_eq!(found.components[0].sync_edges, 3);
        let ids: Vec<_> = found.observations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["cycle:a>b>a", "cycle:b>c>b"]);
        let ab = &found.observations[0];
        assert_eq!(ab.edges[0].mode, Sync);
        assert_eq!(ab.edges[1].mode, Async);
        assert!(ab.summary.contains("a cycle (1 of 2 calls synchronous)"));
        assert!(matches!(ab.evidence, Evidence::Cycle { sync: false, .. }));
    }

    #[test]
    fn self_loops_datastores_and_order() {
        let mut m = model(&[
            ("z", "z", Sync),
            ("m", "n", Async),
            ("n", "m", Async),
            ("svc", "db", Sync),
            ("db", "svc", Sync),
        ]);
        for node in &mut m.nodes {
            if node.name == "db" {
                node.kind = NodeKind::Datastore;
            }
        }
        let found = run(&m, &Thresholds::default());
        let comps: Vec<_> = found
            .components
            .iter()
            .map(|c| c.services.clone())
            .collect();
        assert_eq!(comps, [vec!["m", "n"], vec!["z"]]);
        let ids: Vec<_> = found.observations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["cycle:m>n>m", "cycle:z>z"]);
        assert!(found.observations[0]
            .summary
            .contains("an asynchronous cycle"));
        assert!(matches!(
            found.observations[1].evidence,
            Evidence::Cycle {
                component: 1,
                component_size: 1,
                ..
            }
        ));
    }

    #[test]
    fn cycles_are_listed_shortest_first_and_capped() {
        // Complete graph on 6 nodes: sum over k of C(6,k)(k-1)! = 409 cycles.
        let names = ["a", "b", "c", "d", "e", "f"];
        let mut edges = Vec::new();
        for a in names {
            for b in names {
                if a != b {
                    edges.push((a, b, Sync));
                }
            }
        }
        let m = model(&edges);
        let t = Thresholds {
            max_cycles_per_component: 20,
            ..Thresholds::default()
        };
        let found = run(&m, &t);
        let c = &found.components[0];
        assert_eq!(c.cycles_shown, 20);
        assert_eq!(c.cycles_shown as u64 + c.cycles_not_shown, 409);
        // The 15 two-cycles come first ...
        assert!(!c.more_is_lower_bound);
        assert_eq!(found.observations[0].id, "cycle:a>b>a");
        assert!(found.observations[14].services.len() == 2);
        assert_eq!(found.observations.len(), 20); // ... then 5 three-cycles.
        assert_eq!(found.observations[15].id, "cycle:a>b>c>a");

        // Counting stops at 100 times the cap.
        let t = Thresholds {
            max_cycles_per_component: 2,
            ..Thresholds::default()
        };
        let c = &run(&m, &t).components[0];
        assert_eq!(c.cycles_shown, 2);
        assert_eq!(c.cycles_not_shown, 198);
        assert!(c.more_is_lower_bound);

        // The overall cap.
        let t = Thresholds {
            max_cycles: 3,
            ..Thresholds::default()
        };
        assert_eq!(run(&m, &t).observations.len(), 3);
    }

    #[test]
    fn long_cycles_are_found() {
        let m = model(&[
            ("a", "b", Sync),
            ("b", "c", Sync),
            ("c", "d", Sync),
            ("d", "e", Sync),
            ("e", "a", Sync),
            ("c", "a", Sync),
        ]);
        let found = run(&m, &Thresholds::default());
        let ids: Vec<_> = found.observations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["cycle:a>b>c>a", "cycle:a>b>c>d>e>a"]);
    }

    #[test]
    fn empty_and_acyclic_models() {
        let found = run(&Model::default(), &Thresholds::default());
        assert!(found.components.is_empty() && found.observations.is_empty());
        let m = model(&[("a", "b", Sync), ("b", "c", Sync)]);
        assert!(run(&m, &Thresholds::default()).components.is_empty());
    }
}
