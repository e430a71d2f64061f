//! Coupling: chatty pairs, hubs and deep synchronous chains.
//!
//! - **Chatty pairs**: a service calling one callee many times per request into the
//!   caller (mean, or 95th percentile at twice the threshold), or very often per minute.
//!   The edges of one pair in both modes are judged together.
//! - **Hubs**: fan-in (distinct services calling), fan-out (distinct services and
//!   external peers called) and betweenness centrality on the service graph (services
//!   and external peers, every edge between two of them whatever its mode; Brandes,
//!   exact within the budget, else sampled from deterministically chosen sources).
//! - **Deep chains**: the longest paths of synchronous calls in the condensation of the
//!   synchronous service graph (a cycle's component counts all its services, once).

use crate::graph::{Index, NONE};
use crate::model::{Edge, FanOut, Mode, Model, NodeKind};
use crate::observation::{EdgeRef, Evidence, Kind, Observation};
use crate::Thresholds;

pub struct Hubs {
    pub observations: Vec<Observation>,
    pub exact: bool,
    pub samples: usize,
}

fn edge_ref(edge: &Edge) -> EdgeRef {
    EdgeRef {
        caller: edge.caller.clone(),
        callee: edge.callee.clone(),
        mode: edge.mode,
        declared: edge.declared,
        observed: edge.observed,
    }
}

/// A figure as people write it: `14.2`, `20`, `0.25`, `6000`.
fn figure(x: f64) -> String {
    if !x.is_finite() {
        return "?".to_owned();
    }
    let text = if x.abs() >= 100.0 || x == x.trunc() {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------
// Chatty pairs.

/// Pairs whose caller is a service (per its node; a caller no node names counts as an
/// unregistered service) and whose calls per request or per minute reach a threshold.
pub fn chatty(model: &Model, t: &Thresholds) -> Vec<Observation> {
    let edges = &model.edges;
    // Runs of one (caller, callee): merged edges are sorted, so each pair is one run and
    // finding the runs checks the order on the way; otherwise the edges are sorted.
    let mut order: Vec<usize> = (0..edges.len()).collect();
    let mut runs = pair_runs(edges, &order);
    if runs.is_none() {
        order.sort_by(|&a, &b| {
            let (x, y) = (&edges[a], &edges[b]);
            (&x.caller, &x.callee, a).cmp(&(&y.caller, &y.callee, b))
        });
        runs = pair_runs(edges, &order);
    }
    let runs = runs.unwrap_or_default();
    let per_minute = |calls: f64| {
        if model.window_seconds > 0.0 && model.window_seconds.is_finite() && calls.is_finite() {
            calls * 60.0 / model.window_seconds
        } else {
            0.0
        }
    };
    let mut out = Vec::new();
    // Callers come in name order: with the nodes in name order too (merged), their kinds
    // are found walking both lists together rather than searching for each.
    let nodes = &model.nodes;
    let walk = nodes.windows(2).all(|w| w[0].name < w[1].name);
    let mut cursor = 0;
    let mut kind = NodeKind::Service;
    for &(from, to, new_caller) in &runs {
        let group = &order[from..to];
        let first = &edges[group[0]];
        if new_caller {
            let node = if walk {
                while nodes.get(cursor).is_some_and(|n| n.name < first.caller) {
                    cursor += 1;
                }
                nodes.get(cursor).filter(|n| n.name == first.caller)
            } else {
                model.node(&first.caller)
            };
            kind = node.map_or(NodeKind::Service, |n| n.kind);
        }
        if kind != NodeKind::Service {
            continue;
        }
        let calls: f64 = group.iter().map(|&e| edges[e].calls).sum();
        let cpm = per_minute(calls);
        let combined;
        let fan = if group.len() == 1 {
            &first.fan_out
        } else {
            let mut sum = FanOut::default();
            for &e in group {
                sum.add(&edges[e].fan_out);
            }
            combined = sum;
            &combined
        };
        let mean = fan.mean().filter(|m| m.is_finite());
        let p95 = fan.quantile(0.95);
        let by_mean = mean.is_some_and(|m| m >= t.chatty_calls_per_request);
        let by_p95 = p95.is_some_and(|p| p >= 2.0 * t.chatty_calls_per_request);
        let by_minute = cpm >= t.chatty_calls_per_minute;
        if !(by_mean || by_p95 || by_minute) {
            continue;
        }
        let mut clauses = Vec::new();
        if by_mean || by_p95 {
            let mut clause = match mean {
                Some(m) => format!("{} times per request into {}", figure(m), first.caller),
                None => format!("many times per request into {}", first.caller),
            };
            if let Some(p) = p95 {
                clause.push_str(&format!(" (p95 {})", figure(p)));
            }
            clauses.push(clause);
        }
        if by_minute {
            clauses.push(format!(
                "{} times a minute (threshold {})",
                figure(cpm),
                figure(t.chatty_calls_per_minute)
            ));
        }
        out.push(Observation {
            kind: Kind::ChattyPair,
            id: format!("chatty_pair:{}>{}", first.caller, first.callee),
            summary: format!(
                "{} calls {} {}",
                first.caller,
                first.callee,
                clauses.join(", and ")
            ),
            services: vec![first.caller.clone(), first.callee.clone()],
            edges: group.iter().map(|&e| edge_ref(&edges[e])).collect(),
            evidence: Evidence::Chatty {
                calls_per_request_mean: mean,
                calls_per_request_p50: fan.quantile(0.5),
                calls_per_request_p95: p95,
                calls_per_request_max_bound: max_bound(&fan.buckets),
                requests: fan.requests,
                distribution: fan.buckets.clone(),
                calls_per_minute: cpm,
                threshold_calls_per_request: t.chatty_calls_per_request,
                threshold_calls_per_minute: t.chatty_calls_per_minute,
            },
        });
    }
    out
}

/// Runs of equal (caller, callee) along `order`, as (from, to, caller differs from the
/// previous run's); `None` when the pairs are not in order.
fn pair_runs(edges: &[Edge], order: &[usize]) -> Option<Vec<(usize, usize, bool)>> {
    let mut runs: Vec<(usize, usize, bool)> = Vec::new();
    for (k, &e) in order.iter().enumerate() {
        let edge = &edges[e];
        let Some(&previous) = k.checked_sub(1).and_then(|p| order.get(p)) else {
            runs.push((0, 1, true));
            continue;
        };
        let before = &edges[previous];
        let by_caller = edge.caller.cmp(&before.caller);
        let order = by_caller.then_with(|| edge.callee.cmp(&before.callee));
        match order {
            std::cmp::Ordering::Less => return None,
            std::cmp::Ordering::Equal => {
                if let Some(run) = runs.last_mut() {
                    run.1 = k + 1;
                }
            }
            std::cmp::Ordering::Greater => runs.push((k, k + 1, by_caller.is_ne())),
        }
    }
    Some(runs)
}

/// The largest finite bucket bound with requests in its bucket; when requests fall
/// beyond every finite bound, the largest finite bound (the maximum is at least that).
fn max_bound(buckets: &[(f64, f64)]) -> Option<f64> {
    let mut previous = 0.0;
    let mut largest_finite = None;
    let mut found = None;
    for &(bound, cumulative) in buckets {
        if !cumulative.is_finite() {
            continue;
        }
        let in_bucket = cumulative - previous;
        previous = cumulative;
        if bound.is_finite() {
            largest_finite = Some(largest_finite.map_or(bound, |b: f64| b.max(bound)));
            if in_bucket > 0.0 {
                found = Some(found.map_or(bound, |b: f64| b.max(bound)));
            }
        } else if in_bucket > 0.0 {
            found = largest_finite.or(found);
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// The service graph as a simple directed graph, for hubs and betweenness.

/// Services and external peers (local ids in node id order, so in name order) with
/// their distinct successors (no self loops), sorted.
struct Simple {
    nodes: Vec<u32>,
    start: Vec<u32>,
    adj: Vec<u32>,
}

impl Simple {
    fn new(index: &Index<'_>, edge: impl Fn(u32) -> bool) -> Simple {
        let mut local = vec![NONE; index.len()];
        let mut nodes = Vec::new();
        for v in 0..index.len() as u32 {
            if index.in_service_graph(v) {
                local[v as usize] = nodes.len() as u32;
                nodes.push(v);
            }
        }
        let mut start = Vec::with_capacity(nodes.len() + 1);
        start.push(0u32);
        let mut adj = Vec::new();
        let mut seen = vec![NONE; nodes.len()];
        for (i, &v) in nodes.iter().enumerate() {
            let from = adj.len();
            for &e in index.out_edges(v) {
                let w = local[index.ends(e).1 as usize];
                if w != NONE && w as usize != i && seen[w as usize] != i as u32 && edge(e) {
                    seen[w as usize] = i as u32;
                    adj.push(w);
                }
            }
            adj[from..].sort_unstable();
            start.push(adj.len() as u32);
        }
        Simple { nodes, start, adj }
    }

    fn len(&self) -> usize {
        self.nodes.len()
    }

    fn succ(&self, v: u32) -> &[u32] {
        &self.adj[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }
}

/// Betweenness of each node of `g` (by local id), normalised to 0..1 by (n-1)(n-2);
/// exact when n·(n+e) is within `budget`, else estimated from max(32, budget/(n+e))
/// sources chosen by a fixed-seed generator and scaled by n/k. Returns the
/// centralities, whether exact, and the number of sources.
fn betweenness(g: &Simple, budget: u64) -> (Vec<f64>, bool, usize) {
    let n = g.len();
    let mut centrality = vec![0.0f64; n];
    if n == 0 {
        return (centrality, true, 0);
    }
    let size = (n + g.adj.len()) as u64;
    let exact = (n as u64).saturating_mul(size) <= budget;
    let sources: Vec<u32> = if exact {
        (0..n as u32).collect()
    } else {
        let k = ((budget / size) as usize).max(32).min(n);
        let mut pool: Vec<u32> = (0..n as u32).collect();
        let mut rng = SplitMix64(0x5EA3_A7A1_7515_0001);
        for i in 0..k {
            let j = i + (rng.next() % (n - i) as u64) as usize;
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool.sort_unstable();
        pool
    };
    let mut dist = vec![NONE; n];
    let mut sigma = vec![0.0f64; n];
    let mut delta = vec![0.0f64; n];
    let mut order: Vec<u32> = Vec::with_capacity(n);
    for &s in &sources {
        for &v in &order {
            dist[v as usize] = NONE;
            sigma[v as usize] = 0.0;
            delta[v as usize] = 0.0;
        }
        order.clear();
        dist[s as usize] = 0;
        sigma[s as usize] = 1.0;
        order.push(s);
        let mut head = 0;
        while head < order.len() {
            let v = order[head];
            head += 1;
            let (dv, sv) = (dist[v as usize], sigma[v as usize]);
            for &w in g.succ(v) {
                let wi = w as usize;
                if dist[wi] == NONE {
                    dist[wi] = dv + 1;
                    order.push(w);
                }
                if dist[wi] == dv + 1 {
                    sigma[wi] += sv;
                }
            }
        }
        // Dependencies, farthest first, through successors on shortest paths.
        for &v in order.iter().rev() {
            let vi = v as usize;
            let (dv, sv) = (dist[vi], sigma[vi]);
            let mut d = 0.0;
            for &w in g.succ(v) {
                let wi = w as usize;
                if dist[wi] == dv + 1 {
                    let share = sv / sigma[wi] * (1.0 + delta[wi]);
                    if share.is_finite() {
                        d += share;
                    }
                }
            }
            delta[vi] = d;
            if v != s {
                centrality[vi] += d;
            }
        }
    }
    let scale = if exact {
        1.0
    } else {
        n as f64 / sources.len() as f64
    };
    let pairs = if n > 2 {
        ((n - 1) * (n - 2)) as f64
    } else {
        f64::INFINITY
    };
    for c in &mut centrality {
        let value = *c * scale / pairs;
        *c = if value.is_finite() {
            value.clamp(0.0, 1.0)
        } else {
            0.0
        };
    }
    (centrality, exact, sources.len())
}

/// A small fixed-seed generator (splitmix64): deterministic samples, no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

// ---------------------------------------------------------------------------------------
// Hubs.

/// Services and external peers with many distinct service callers, many distinct
/// service or external callees, or a high betweenness. Each threshold counts only
/// from 1 up (a threshold of 0 does not make every node a hub).
pub fn hubs(_model: &Model, index: &Index<'_>, t: &Thresholds) -> Hubs {
    let g = Simple::new(index, |_| true);
    let (centrality, exact, samples) = betweenness(&g, t.betweenness_budget);
    let mut observations = Vec::new();
    let mut seen = vec![NONE; index.len()];
    for (i, &v) in g.nodes.iter().enumerate() {
        let fan_out = g.succ(i as u32).len();
        let mut fan_in = 0;
        for &e in index.in_edges(v) {
            let u = index.ends(e).0;
            if u != v && index.kind(u) == NodeKind::Service && seen[u as usize] != v {
                seen[u as usize] = v;
                fan_in += 1;
            }
        }
        let b = centrality[i];
        let mut clauses = Vec::new();
        if fan_out >= t.hub_fan_out.max(1) {
            clauses.push(format!(
                "calls {fan_out} services (threshold {})",
                t.hub_fan_out
            ));
        }
        if fan_in >= t.hub_fan_in.max(1) {
            clauses.push(format!(
                "is called by {fan_in} services (threshold {})",
                t.hub_fan_in
            ));
        }
        if b > 0.0 && b >= t.hub_betweenness {
            clauses.push(format!(
                "lies on {}% of the shortest paths between other services (threshold {}%{})",
                figure(b * 100.0),
                figure(t.hub_betweenness * 100.0),
                if exact { "" } else { "; estimated" }
            ));
        }
        if clauses.is_empty() {
            continue;
        }
        let name = index.name(v);
        observations.push(Observation {
            kind: Kind::Hub,
            id: format!("hub:{name}"),
            summary: format!("{name} {}", clauses.join(" and ")),
            services: vec![name.to_owned()],
            edges: Vec::new(),
            evidence: Evidence::Hub {
                fan_in,
                fan_out,
                betweenness: b,
                betweenness_exact: exact,
                samples,
            },
        });
    }
    Hubs {
        observations,
        exact,
        samples,
    }
}

// ---------------------------------------------------------------------------------------
// Deep chains.

/// The deepest synchronous call chains.
///
/// The synchronous service graph (services and external peers, synchronous edges) is
/// condensed into its strongly connected components, each weighing its number of
/// services; the longest path from each source component (one nothing synchronous
/// calls) is found by dynamic programming in topological order. One chain is reported
/// per source: the deepest from it (ties: the next component whose smallest service
/// name comes first), and of the chains ending in one sink only the deepest (so ten
/// entry points calling one long chain do not fill the list). Chains of at least
/// `chain_depth` services are reported, deepest first, at most `max_chains`. As each
/// chain starts at a source, none is a sub-path of another. (A chain is at least two
/// services, whatever `chain_depth` says.)
///
/// Inside a cycle's component the chain lists every service of the component once: where
/// the chain enters first, then a walk along synchronous calls from there, then the
/// services the walk missed (by id), and last the one that calls into the next
/// component. The call out is chosen, where there is a choice, so that it leaves from
/// another service than the one entered by; when only that one calls on, the chain
/// leaves from its first service listed. `edges` holds, for each pair of consecutive
/// services, the synchronous call between them when there is one, or the call that
/// leads into the next component.
pub fn chains(_model: &Model, index: &Index<'_>, t: &Thresholds) -> Vec<Observation> {
    let sync = |e: u32| index.edge(e).mode == Mode::Sync;
    let comps = index.strongly_connected(|v| index.in_service_graph(v), sync);
    let count = comps.count();
    // Components are numbered sinks first: successors have lower numbers.
    let mut depth = vec![0usize; count];
    let mut next = vec![NONE; count];
    let mut sink = vec![0u32; count];
    let mut called = vec![false; count];
    let mut cyclic = vec![false; count];
    let mut smallest = vec![NONE; count];
    let mut seen = vec![NONE; count];
    for c in 0..count as u32 {
        let members = comps.members(c);
        smallest[c as usize] = members[0];
        let mut best: Option<(usize, u32, u32)> = None;
        for &v in members {
            for &e in index.out_edges(v) {
                if !sync(e) {
                    continue;
                }
                let w = index.ends(e).1;
                let Some(d) = comps.of(w) else { continue };
                if d == c {
                    cyclic[c as usize] = true;
                    continue;
                }
                called[d as usize] = true;
                if seen[d as usize] == c {
                    continue;
                }
                seen[d as usize] = c;
                let (dd, ds) = (depth[d as usize], smallest[d as usize]);
                let better = match best {
                    None => true,
                    Some((bd, bs, _)) => dd > bd || (dd == bd && ds < bs),
                };
                if better {
                    best = Some((dd, ds, d));
                }
            }
        }
        let own = members.len();
        match best {
            Some((d, _, succ)) => {
                depth[c as usize] = own.saturating_add(d);
                next[c as usize] = succ;
                sink[c as usize] = sink[succ as usize];
            }
            None => {
                depth[c as usize] = own;
                sink[c as usize] = c;
            }
        }
    }

    let mut sources: Vec<u32> = (0..count as u32)
        .filter(|&c| !called[c as usize] && depth[c as usize] >= t.chain_depth.max(2))
        .collect();
    sources.sort_by(|&a, &b| {
        depth[b as usize].cmp(&depth[a as usize]).then(
            index
                .name(smallest[a as usize])
                .cmp(index.name(smallest[b as usize])),
        )
    });
    let mut sinks_used = Vec::new();
    let mut out = Vec::new();
    for c in sources {
        if out.len() >= t.max_chains {
            break;
        }
        if sinks_used.contains(&sink[c as usize]) {
            continue;
        }
        sinks_used.push(sink[c as usize]);
        out.push(chain(index, &comps, &next, &cyclic, c));
    }
    out
}

/// Lays out the chain of components from `source` following `next`.
fn chain(
    index: &Index<'_>,
    comps: &crate::graph::Components,
    next: &[u32],
    cyclic: &[bool],
    source: u32,
) -> Observation {
    let sync = |e: u32| index.edge(e).mode == Mode::Sync;
    let mut sequence = vec![source];
    while let Some(&c) = sequence.last() {
        match next.get(c as usize) {
            Some(&d) if d != NONE => sequence.push(d),
            _ => break,
        }
    }
    // The synchronous calls from each component into the next: (caller, callee, edge).
    let crossing: Vec<Vec<(u32, u32, u32)>> = sequence
        .windows(2)
        .map(|pair| {
            let mut calls = Vec::new();
            for &v in comps.members(pair[0]) {
                for &e in index.out_edges(v) {
                    let w = index.ends(e).1;
                    if sync(e) && comps.of(w) == Some(pair[1]) {
                        calls.push((v, w, e));
                    }
                }
            }
            calls.sort_unstable();
            calls.dedup_by(|later, first| (later.0, later.1) == (first.0, first.1));
            calls
        })
        .collect();
    // Where a component of several services is left from, when only one of them calls
    // the next component.
    let only_exit = |i: usize| {
        let calls = crossing.get(i)?;
        let first = calls.first()?.0;
        calls.iter().all(|c| c.0 == first).then_some(first)
    };
    let big = |i: usize| comps.members(sequence[i]).len() > 1;

    let mut services: Vec<u32> = Vec::new();
    let mut through_cycle = false;
    let mut entry: Option<u32> = None;
    let mut landings: Vec<(u32, u32)> = Vec::new();
    for (i, &c) in sequence.iter().enumerate() {
        through_cycle |= cyclic[c as usize];
        let members = comps.members(c);
        // The call out: not from where the chain entered, nor into the only service of
        // the next component that calls on, when that can be avoided; then by id.
        let exit = crossing.get(i).and_then(|calls| {
            calls.iter().copied().min_by_key(|&(u, v, _)| {
                (
                    big(i) && entry == Some(u),
                    i + 1 < sequence.len() && big(i + 1) && only_exit(i + 1) == Some(v),
                    u,
                    v,
                )
            })
        });
        let here = entry.unwrap_or_else(|| {
            let exit_from = exit.map(|x| x.0);
            members
                .iter()
                .copied()
                .find(|&v| Some(v) != exit_from)
                .unwrap_or(members[0])
        });
        walk(index, members, here, exit.map(|x| x.0), &mut services);
        if let Some((_, v, e)) = exit {
            landings.push((v, e));
        }
        entry = exit.map(|x| x.1);
    }
    let mut edges = Vec::new();
    for pair in services.windows(2) {
        let found = index
            .out_edges(pair[0])
            .iter()
            .copied()
            .find(|&e| sync(e) && index.ends(e).1 == pair[1])
            .or_else(|| landings.iter().find(|l| l.0 == pair[1]).map(|l| l.1));
        if let Some(e) = found {
            edges.push(edge_ref(index.edge(e)));
        }
    }
    let names: Vec<String> = services.iter().map(|&v| index.name(v).to_owned()).collect();
    let depth = names.len();
    Observation {
        kind: Kind::DeepChain,
        id: format!("deep_chain:{}", names.join(">")),
        summary: format!(
            "{}: a chain of {depth} services, each waiting on the next{}",
            names.join(" → "),
            if through_cycle {
                " (it passes through a cycle)"
            } else {
                ""
            }
        ),
        services: names,
        edges,
        evidence: Evidence::Chain {
            depth,
            through_cycle,
        },
    }
}

/// Appends a component's services to `out`: from `entry`, a walk along synchronous
/// calls to unvisited members (smallest id first, keeping `exit` for last), then the
/// members the walk missed, then `exit`.
fn walk(index: &Index<'_>, members: &[u32], entry: u32, exit: Option<u32>, out: &mut Vec<u32>) {
    if members.len() == 1 {
        out.push(entry);
        return;
    }
    let mut visited = vec![false; members.len()];
    let at = |v: u32| members.binary_search(&v).ok();
    let mut current = entry;
    if let Some(i) = at(entry) {
        visited[i] = true;
    }
    out.push(entry);
    loop {
        let mut step = None;
        for &e in index.out_edges(current) {
            if index.edge(e).mode != Mode::Sync {
                continue;
            }
            let w = index.ends(e).1;
            if Some(w) == exit {
                continue;
            }
            if let Some(i) = at(w) {
                if !visited[i] && step.is_none_or(|(s, _)| w < s) {
                    step = Some((w, i));
                }
            }
        }
        let Some((w, i)) = step else { break };
        visited[i] = true;
        out.push(w);
        current = w;
    }
    for (i, &v) in members.iter().enumerate() {
        if !visited[i] && Some(v) != exit {
            out.push(v);
        }
    }
    if let Some(x) = exit {
        if x != entry {
            out.push(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Node;

    fn model(edges: &[(&str, &str, Mode)]) -> Model {
        let mut model = Model {
            nodes: edges
                .iter()
                .flat_map(|(a, b, _)| [Node::service(a), Node::service(b)])
                .collect(),
            edges: edges
                .iter()
                .map(|(a, b, m)| Edge::declared(a, b, *m))
                .collect(),
            ..Default::default()
        };
        model.merge_edges();
        model
    }

    use Mode::{Async, Sync};

    #[test]
    fn figures_read_naturally() {
        assert_eq!(figure(14.2), "14.2");
        assert_eq!(figure(20.0), "20");
        assert_eq!(figure(0.25), "0.25");
        assert_eq!(figure(6000.0), "6000");
        assert_eq!(figure(123.456), "123");
        assert_eq!(figure(f64::NAN), "?");
    }

    fn fan(requests: f64, calls: f64, buckets: &[(f64, f64)]) -> FanOut {
        FanOut {
            requests,
            calls,
            buckets: buckets.to_vec(),
        }
    }

    #[test]
    fn chatty_by_mean_by_p95_and_by_rate() {
        let mut m = model(&[
            ("cart", "pricing", Sync),
            ("cart", "stock", Sync),
            ("cart", "audit", Async),
            ("cart", "quiet", Sync),
        ]);
        m.window_seconds = 600.0;
        let inf = f64::INFINITY;
        for e in &mut m.edges {
            match e.callee.as_str() {
                "pricing" => {
                    e.fan_out = fan(
                        100.0,
                        1420.0,
                        &[(1.0, 0.0), (10.0, 40.0), (20.0, 100.0), (inf, 100.0)],
                    );
                }
                "stock" => {
                    e.fan_out = fan(
                        100.0,
                        500.0,
                        &[(1.0, 50.0), (10.0, 90.0), (20.0, 94.0), (inf, 100.0)],
                    );
                }
                "audit" => e.calls = 60_000.0,
                _ => e.fan_out = fan(100.0, 100.0, &[(1.0, 100.0), (inf, 100.0)]),
            }
        }
        let found = chatty(&m, &Thresholds::default());
        let ids: Vec<_> = found.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "chatty_pair:cart>audit",
                "chatty_pair:cart>pricing",
                "chatty_pair:cart>stock"
            ]
        );
        assert_eq!(
            found[0].summary,
            "cart calls audit 6000 times a minute (threshold 6000)"
        );
        assert_eq!(
            found[1].summary,
            "cart calls pricing 14.2 times per request into cart (p95 20)"
        );
        let Evidence::Chatty {
            calls_per_request_p50,
            calls_per_request_p95,
            calls_per_request_max_bound,
            ..
        } = &found[2].evidence
        else {
            panic!()
        };
        assert_eq!(*calls_per_request_p50, Some(1.0));
        assert_eq!(*calls_per_request_p95, Some(20.0)); // in +Inf: the largest finite bound
        assert_eq!(*calls_per_request_max_bound, Some(20.0));
        let Evidence::Chatty {
            calls_per_request_max_bound,
            ..
        } = &found[1].evidence
        else {
            panic!()
        };
        assert_eq!(*calls_per_request_max_bound, Some(20.0));
    }

    #[test]
    fn chatty_skips_non_services_and_odd_figures_and_merges_modes() {
        let mut m = model(&[
            ("db", "x", Sync),
            ("a", "b", Sync),
            ("a", "b", Async),
            ("n", "x", Sync),
        ]);
        m.nodes.iter_mut().find(|n| n.name == "db").unwrap().kind = NodeKind::Datastore;
        m.window_seconds = 60.0;
        for e in &mut m.edges {
            match (e.caller.as_str(), e.mode) {
                ("db", _) => e.calls = 1e9,
                ("a", _) => e.calls = 4000.0,
                _ => {
                    e.calls = f64::NAN;
                    e.fan_out = fan(-1.0, f64::NAN, &[(f64::NAN, -3.0)]);
                }
            }
        }
        let found = chatty(&m, &Thresholds::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "chatty_pair:a>b");
        assert_eq!(found[0].edges.len(), 2);
        let Evidence::Chatty {
            calls_per_minute, ..
        } = found[0].evidence
        else {
            panic!()
        };
        assert_eq!(calls_per_minute, 8000.0);
        // No window: no rate.
        m.window_seconds = 0.0;
        assert!(chatty(&m, &Thresholds::default()).is_empty());
    }

    #[test]
    fn max_bound_reads_buckets() {
        assert_eq!(max_bound(&[]), None);
        assert_eq!(
            max_bound(&[(1.0, 3.0), (5.0, 3.0), (f64::INFINITY, 3.0)]),
            Some(1.0)
        );
        assert_eq!(
            max_bound(&[(1.0, 0.0), (5.0, 2.0), (f64::INFINITY, 2.0)]),
            Some(5.0)
        );
    }

    /// Betweenness by brute force: for each pair (s, t), the share of shortest paths
    /// through each other node, by enumerating paths.
    #[test]
    fn betweenness_on_a_small_graph() {
        // a -> b -> c, a -> d -> c, c -> e: b and d each carry half of a->c and a->e,
        // c carries a->e, b->e, d->e.
        let m = model(&[
            ("a", "b", Sync),
            ("b", "c", Sync),
            ("a", "d", Sync),
            ("d", "c", Sync),
            ("c", "e", Sync),
        ]);
        let index = Index::new(&m);
        let g = Simple::new(&index, |_| true);
        let (c, exact, samples) = betweenness(&g, u64::MAX);
        assert!(exact);
        assert_eq!(samples, 5);
        let pairs = 4.0 * 3.0;
        let expect = [0.0, 1.0 / pairs, 3.0 / pairs, 1.0 / pairs, 0.0];
        for (got, want) in c.iter().zip(expect) {
            assert!((got - want).abs() < 1e-12, "{c:?}");
        }
        // Sampled: deterministic, at least 32 sources (here all of them).
        let (d, exact, samples) = betweenness(&g, 1);
        assert!(!exact);
        assert_eq!(samples, 5);
        assert_eq!(c, d);
    }

    #[test]
    fn hubs_by_fan_in_fan_out_and_betweenness() {
        let mut edges = Vec::new();
        let callers: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let callees: Vec<String> = (0..6).map(|i| format!("d{i}")).collect();
        for c in &callers {
            edges.push((c.as_str(), "gateway", Sync));
        }
        for d in &callees {
            edges.push(("gateway", d.as_str(), Async));
        }
        edges.push(("gateway", "gateway", Sync));
        edges.push(("gateway", "db", Sync));
        let mut m = model(&edges);
        m.nodes.iter_mut().find(|n| n.name == "db").unwrap().kind = NodeKind::Datastore;
        m.nodes.iter_mut().find(|n| n.name == "d0").unwrap().kind = NodeKind::External;
        let index = Index::new(&m);
        let found = hubs(&m, &index, &Thresholds::default());
        assert!(found.exact);
        assert_eq!(found.samples, 17);
        assert_eq!(found.observations.len(), 1);
        let o = &found.observations[0];
        assert_eq!(o.id, "hub:gateway");
        assert_eq!(
            o.summary,
            "gateway calls 6 services (threshold 6) and is called by 10 services (threshold 10) \
             and lies on 25% of the shortest paths between other services (threshold 25%)"
        );
        let Evidence::Hub {
            fan_in,
            fan_out,
            betweenness,
            ..
        } = o.evidence
        else {
            panic!()
        };
        assert_eq!((fan_in, fan_out), (10, 6));
        assert!((betweenness - 0.25).abs() < 1e-12);
    }

    #[test]
    fn chains_report_the_deepest_path_per_source_and_sink() {
        let m = model(&[
            ("a", "b", Sync),
            ("b", "c", Sync),
            ("c", "d", Sync),
            ("d", "e", Sync),
            ("x", "c", Sync),
            ("e", "f", Async),
            ("q", "r", Sync),
        ]);
        let index = Index::new(&m);
        let t = Thresholds {
            chain_depth: 2,
            ..Thresholds::default()
        };
        let found = chains(&m, &index, &t);
        let ids: Vec<_> = found.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["deep_chain:a>b>c>d>e", "deep_chain:q>r"]);
        assert_eq!(found[0].edges.len(), 4);
        assert_eq!(
            found[0].evidence,
            Evidence::Chain {
                depth: 5,
                through_cycle: false
            }
        );
        assert_eq!(
            found[0].summary,
            "a → b → c → d → e: a chain of 5 services, each waiting on the next"
        );
        let t = Thresholds {
            chain_depth: 3,
            ..Thresholds::default()
        };
        assert_eq!(chains(&m, &index, &t).len(), 1);
        let t = Thresholds {
            chain_depth: 2,
            max_chains: 1,
            ..Thresholds::default()
        };
        assert_eq!(chains(&m, &index, &t).len(), 1);
    }

    #[test]
    fn chains_pass_through_a_cycle_once() {
        let m = model(&[
            ("a", "b", Sync),
            ("b", "c", Sync),
            ("c", "d", Sync),
            ("d", "b", Sync),
            ("c", "e", Sync),
        ]);
        let index = Index::new(&m);
        let found = chains(&m, &index, &Thresholds::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].services, ["a", "b", "d", "c", "e"]);
        assert_eq!(
            found[0].evidence,
            Evidence::Chain {
                depth: 5,
                through_cycle: true
            }
        );
        // b must come first (a calls it) and c last (it calls e): d sits between them
        // though neither b calls d nor d calls c, so only a>b and c>e are listed.
        assert_eq!(found[0].edges.len(), 2);
    }
}
