//! The graph the analyses walk: a compact integer index over a [`Model`].
//!
//! Nodes get `u32` ids in `model.nodes` order, which after [`Model::merge_edges`] is
//! name order, so comparing ids compares names and everything built on ids comes out
//! in a deterministic order. Names are found by binary search over their first 16 bytes
//! (held in one contiguous array), and the ends of every edge through a hash table built
//! once per index (a binary search waits on a chain of dependent loads per name, a hash
//! lookup on one or two); both give the same ids. Adjacency is held twice
//! in compressed sparse rows (out and in), each entry an index into `model.edges`, in
//! `model.edges` order (after merging: by callee, then mode, for one caller).
//!
//! Odd input does not panic:
//! - an edge naming a node absent from `model.nodes` gets a node of its own after the
//!   model's, treated as an unregistered service (what [`Model::observe`] would have
//!   added);
//! - when `model.nodes` is not sorted by name (edges not merged), names are looked up
//!   through a sorted permutation, and of several nodes with one name the first is the
//!   one edges attach to (the others stay isolated);
//! - self loops and parallel edges are kept; each analysis decides what they mean.

use crate::model::{Edge, Model, Node, NodeKind};

/// A node's id: its position in `model.nodes` (or after them, for names only edges use).
pub type NodeId = u32;

/// No node, no component.
pub const NONE: u32 = u32::MAX;

/// Ids are `u32`; a model larger than that is cut (it would not fit in memory anyway).
const MAX_ITEMS: usize = (u32::MAX - 1) as usize;

/// The compact index. Borrows the model it indexes.
pub struct Index<'m> {
    model: &'m Model,
    names: Vec<&'m str>,
    kinds: Vec<NodeKind>,
    /// Nodes of the model; ids from here on name nodes only edges mention.
    known: usize,
    /// Ids of the model's nodes sorted by name; empty when they already are.
    by_name: Vec<u32>,
    /// The first 16 bytes of each of those names, in name order: a lookup searches this
    /// one contiguous array and compares whole names only among equal prefixes, instead
    /// of chasing a pointer to a name at every step.
    keys: Vec<u128>,
    /// ... and their lengths (up to 255), so that a name of at most 16 bytes is found
    /// without reading any name at all.
    lens: Vec<u8>,
    /// Per model edge: caller and callee ids.
    ends: Vec<(u32, u32)>,
    out_start: Vec<u32>,
    out_edges: Vec<u32>,
    in_start: Vec<u32>,
    in_edges: Vec<u32>,
}

impl<'m> Index<'m> {
    pub fn new(model: &'m Model) -> Index<'m> {
        let known = model.nodes.len().min(MAX_ITEMS);
        let nodes = &model.nodes[..known];
        let edges = &model.edges[..model.edges.len().min(MAX_ITEMS)];
        let sorted = nodes.windows(2).all(|w| w[0].name < w[1].name);
        let by_name = if sorted {
            Vec::new()
        } else {
            let mut order: Vec<u32> = (0..known as u32).collect();
            order.sort_by(|&a, &b| nodes[a as usize].name.cmp(&nodes[b as usize].name));
            order
        };
        let keys = if by_name.is_empty() {
            nodes.iter().map(|n| prefix(&n.name)).collect()
        } else {
            by_name
                .iter()
                .map(|&id| prefix(&nodes[id as usize].name))
                .collect()
        };
        let lens = if by_name.is_empty() {
            nodes.iter().map(|n| n.name.len().min(255) as u8).collect()
        } else {
            by_name
                .iter()
                .map(|&id| nodes[id as usize].name.len().min(255) as u8)
                .collect()
        };
        let mut index = Index {
            model,
            keys,
            lens,
            names: nodes.iter().map(|n| n.name.as_str()).collect(),
            kinds: nodes.iter().map(|n| n.kind).collect(),
            known,
            by_name,
            ends: Vec::with_capacity(edges.len()),
            out_start: Vec::new(),
            out_edges: Vec::new(),
            in_start: Vec::new(),
            in_edges: Vec::new(),
        };

        // Resolve each edge's ends; callers repeat (edges are sorted by caller after
        // merging), so the last one is remembered.
        let table = Table::new(&index);
        let mut unknown: Vec<&'m str> = Vec::new();
        let mut last: Option<(&str, u32)> = None;
        let mut pending = false;
        for edge in edges {
            let caller = match last {
                Some((name, id)) if name == edge.caller => id,
                _ => {
                    let id = table.find(&index, &edge.caller);
                    last = Some((&edge.caller, id));
                    id
                }
            };
            let callee = table.find(&index, &edge.callee);
            if caller == NONE {
                unknown.push(&edge.caller);
            }
            if callee == NONE {
                unknown.push(&edge.callee);
            }
            pending |= caller == NONE || callee == NONE;
            index.ends.push((caller, callee));
        }
        if pending {
            unknown.sort_unstable();
            unknown.dedup();
            unknown.truncate(MAX_ITEMS - known);
            let found = |name: &str| {
                unknown
                    .binary_search(&name)
                    .map_or(NONE, |i| (known + i) as u32)
            };
            for (edge, ends) in edges.iter().zip(index.ends.iter_mut()) {
                if ends.0 == NONE {
                    ends.0 = found(&edge.caller);
                }
                if ends.1 == NONE {
                    ends.1 = found(&edge.callee);
                }
            }
            index
                .kinds
                .extend(unknown.iter().map(|_| NodeKind::Service));
            index.names.extend(unknown);
        }

        let n = index.names.len();
        let (out_start, out_edges) = csr(n, index.ends.iter().map(|e| e.0));
        let (in_start, in_edges) = csr(n, index.ends.iter().map(|e| e.1));
        index.out_start = out_start;
        index.out_edges = out_edges;
        index.in_start = in_start;
        index.in_edges = in_edges;
        index
    }

    /// Nodes: the model's and those only edges name.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// A node's id by name.
    pub fn id(&self, name: &str) -> Option<NodeId> {
        let id = self.find_known(name);
        if id != NONE {
            return Some(id);
        }
        self.names[self.known..]
            .binary_search(&name)
            .ok()
            .map(|i| (self.known + i) as u32)
    }

    /// The id of the node at a position in name order.
    fn id_at(&self, p: usize) -> u32 {
        if self.by_name.is_empty() {
            p as u32
        } else {
            self.by_name.get(p).copied().unwrap_or(NONE)
        }
    }

    /// Whether the node at a position in name order is named `name` (`key` its prefix).
    fn is_at(&self, p: usize, name: &str, key: u128) -> bool {
        self.keys.get(p) == Some(&key)
            && usize::from(self.lens[p]) == name.len().min(255)
            && (name.len() <= 16 || self.names.get(self.id_at(p) as usize) == Some(&name))
    }

    /// A model node's id by name (binary search over the prefixes).
    fn find_known(&self, name: &str) -> u32 {
        let key = prefix(name);
        let keys = &self.keys;
        let lo = keys.partition_point(|&k| k < key);
        if keys.get(lo) != Some(&key) {
            return NONE;
        }
        let id_at = |p: usize| self.id_at(p);
        // Usually one name has this prefix: then its length may be enough.
        if keys.get(lo + 1) != Some(&key) {
            if name.len() <= 16 {
                return if usize::from(self.lens[lo]) == name.len() {
                    id_at(lo)
                } else {
                    NONE
                };
            }
            let id = id_at(lo);
            return if self.names[id as usize] == name {
                id
            } else {
                NONE
            };
        }
        // Several: the end of the run (galloping), then by whole name.
        let mut step = 2;
        let mut hi = lo + 1;
        while hi < keys.len() && keys[hi] == key {
            hi = (lo + step).min(keys.len());
            step *= 2;
        }
        let hi = hi.min(keys.len());
        let hi = lo + keys[lo..hi].partition_point(|&k| k == key);
        let (mut at, mut end) = (lo, hi);
        while at < end {
            let mid = at + (end - at) / 2;
            if self.names[id_at(mid) as usize] < name {
                at = mid + 1;
            } else {
                end = mid;
            }
        }
        if at < hi && self.names[id_at(at) as usize] == name {
            id_at(at)
        } else {
            NONE
        }
    }

    pub fn name(&self, id: NodeId) -> &'m str {
        self.names.get(id as usize).copied().unwrap_or("")
    }

    pub fn kind(&self, id: NodeId) -> NodeKind {
        self.kinds
            .get(id as usize)
            .copied()
            .unwrap_or(NodeKind::Service)
    }

    /// The model's node, `None` for names only edges mention.
    pub fn node(&self, id: NodeId) -> Option<&'m Node> {
        if (id as usize) < self.known {
            self.model.nodes.get(id as usize)
        } else {
            None
        }
    }

    /// Services and external peers: the nodes that call or are called as services.
    /// Datastores and users never form cycles, chains or hubs.
    pub fn in_service_graph(&self, id: NodeId) -> bool {
        matches!(self.kind(id), NodeKind::Service | NodeKind::External)
    }

    /// Edges indexed (`model.edges` beyond `u32::MAX - 1` are not).
    pub fn edge_count(&self) -> usize {
        self.ends.len()
    }

    pub fn edge(&self, e: u32) -> &'m Edge {
        &self.model.edges[e as usize]
    }

    /// Caller and callee of an edge.
    pub fn ends(&self, e: u32) -> (NodeId, NodeId) {
        self.ends.get(e as usize).copied().unwrap_or((NONE, NONE))
    }

    /// Edges leaving a node, as indices into `model.edges`, in model order.
    pub fn out_edges(&self, id: NodeId) -> &[u32] {
        row(&self.out_start, &self.out_edges, id)
    }

    /// Edges arriving at a node, in model order.
    pub fn in_edges(&self, id: NodeId) -> &[u32] {
        row(&self.in_start, &self.in_edges, id)
    }

    /// Strongly connected components of the subgraph of the nodes `node` accepts and the
    /// edges `edge` accepts between them (iterative Tarjan, linear time, no recursion).
    ///
    /// Components are numbered in the order Tarjan completes them: reverse topological
    /// order of the condensation, so an edge between two components always goes from
    /// the higher number to the lower. Members are listed by id. Traversal follows ids
    /// and model edge order, so the numbering is deterministic.
    pub fn strongly_connected(
        &self,
        node: impl Fn(NodeId) -> bool,
        edge: impl Fn(u32) -> bool,
    ) -> Components {
        let n = self.len();
        let mut of = vec![NONE; n];
        let mut order = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut calls: Vec<(u32, u32)> = Vec::new();
        let mut start = vec![0u32];
        let mut members: Vec<u32> = Vec::new();
        let mut counter = 0u32;
        for root in 0..n as u32 {
            if order[root as usize] != NONE || !node(root) {
                continue;
            }
            order[root as usize] = counter;
            low[root as usize] = counter;
            counter += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            calls.push((root, self.out_start[root as usize]));
            while let Some(top) = calls.len().checked_sub(1) {
                let (v, pos) = calls[top];
                if pos < self.out_start[v as usize + 1] {
                    let e = self.out_edges[pos as usize];
                    calls[top].1 += 1;
                    let w = self.ends[e as usize].1;
                    if !edge(e) || !node(w) {
                        continue;
                    }
                    let wi = w as usize;
                    if order[wi] == NONE {
                        order[wi] = counter;
                        low[wi] = counter;
                        counter += 1;
                        stack.push(w);
                        on_stack[wi] = true;
                        calls.push((w, self.out_start[wi]));
                    } else if on_stack[wi] {
                        low[v as usize] = low[v as usize].min(order[wi]);
                    }
                } else {
                    calls.pop();
                    let vi = v as usize;
                    if let Some(&(parent, _)) = calls.last() {
                        low[parent as usize] = low[parent as usize].min(low[vi]);
                    }
                    if low[vi] == order[vi] {
                        let component = start.len() as u32 - 1;
                        let from = members.len();
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            of[w as usize] = component;
                            members.push(w);
                            if w == v {
                                break;
                            }
                        }
                        members[from..].sort_unstable();
                        start.push(members.len() as u32);
                    }
                }
            }
        }
        Components { of, start, members }
    }
}

/// Runs this module's analyses (index, cycles, chatty pairs, hubs, chains) one by one
/// and says how long each took, in milliseconds: for benchmarks
/// (`examples/bench_analysis.rs`), which cannot reach the private modules.
#[doc(hidden)]
pub fn profile(model: &Model, thresholds: &crate::Thresholds) -> Vec<(&'static str, f64)> {
    let ms = |started: std::time::Instant| started.elapsed().as_secs_f64() * 1000.0;
    let mut phases = Vec::new();
    let started = std::time::Instant::now();
    let index = Index::new(model);
    phases.push(("index", ms(started)));
    let started = std::time::Instant::now();
    let found = crate::cycles::cycles(model, &index, thresholds);
    phases.push(("cycles", ms(started)));
    let started = std::time::Instant::now();
    let chatty = crate::coupling::chatty(model, thresholds);
    phases.push(("chatty", ms(started)));
    let started = std::time::Instant::now();
    let hubs = crate::coupling::hubs(model, &index, thresholds);
    phases.push(("hubs", ms(started)));
    let started = std::time::Instant::now();
    let chains = crate::coupling::chains(model, &index, thresholds);
    phases.push(("chains", ms(started)));
    drop((found, chatty, hubs, chains));
    phases
}

/// Strongly connected components, from [`Index::strongly_connected`].
#[derive(Debug, Clone, Default)]
pub struct Components {
    of: Vec<u32>,
    start: Vec<u32>,
    members: Vec<u32>,
}

impl Components {
    pub fn count(&self) -> usize {
        self.start.len().saturating_sub(1)
    }

    /// The component of a node, `None` for nodes left out.
    pub fn of(&self, id: NodeId) -> Option<u32> {
        self.of.get(id as usize).copied().filter(|&c| c != NONE)
    }

    /// A component's members, by id.
    pub fn members(&self, component: u32) -> &[u32] {
        row(&self.start, &self.members, component)
    }
}

/// Names to positions in name order, hashed, for resolving every edge's ends: a binary
/// search costs a chain of ~17 dependent loads per name, this one or two. The seed is
/// drawn per process (names come from traces) and probing is bounded: past
/// `MAX_PROBES`, or when a name could not be placed, lookups fall back to the binary
/// search, so no input makes resolution quadratic.
struct Table {
    slots: Vec<u32>,
    mask: usize,
    seed: u64,
    complete: bool,
}

const MAX_PROBES: usize = 32;

impl Table {
    fn new(index: &Index<'_>) -> Table {
        use std::hash::BuildHasher;
        let n = index.keys.len();
        let size = (2 * n).next_power_of_two().max(16);
        let mut table = Table {
            slots: vec![NONE; size],
            mask: size - 1,
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5EA3u64),
            complete: true,
        };
        for p in 0..n {
            let name = index.names[index.id_at(p) as usize];
            let key = index.keys[p];
            let mut slot = table.hash(name) as usize & table.mask;
            let mut placed = false;
            for _ in 0..MAX_PROBES {
                match table.slots[slot] {
                    NONE => {
                        table.slots[slot] = p as u32;
                        placed = true;
                        break;
                    }
                    // A name seen before (nodes not merged): the first stays.
                    q if index.is_at(q as usize, name, key) => {
                        placed = true;
                        break;
                    }
                    _ => slot = (slot + 1) & table.mask,
                }
            }
            table.complete &= placed;
        }
        table
    }

    fn hash(&self, name: &str) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let bytes = name.as_bytes();
        let mut h = self.seed ^ (bytes.len() as u64).wrapping_mul(K);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(word))
                .wrapping_mul(K)
                .rotate_left(31);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            h = (h ^ u64::from_le_bytes(word))
                .wrapping_mul(K)
                .rotate_left(31);
        }
        h ^= h >> 32;
        h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        h ^ (h >> 32)
    }

    fn find(&self, index: &Index<'_>, name: &str) -> u32 {
        let key = prefix(name);
        let mut slot = self.hash(name) as usize & self.mask;
        for _ in 0..MAX_PROBES {
            match self.slots[slot] {
                NONE if self.complete => return NONE,
                NONE => break,
                p if index.is_at(p as usize, name, key) => return index.id_at(p as usize),
                _ => slot = (slot + 1) & self.mask,
            }
        }
        index.find_known(name)
    }
}

/// The first 16 bytes of a name, big-endian, zero-padded: ordering these never
/// contradicts ordering the names.
fn prefix(name: &str) -> u128 {
    let mut bytes = [0u8; 16];
    let n = name.len().min(16);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    u128::from_be_bytes(bytes)
}

/// Compressed sparse rows of edge indices grouped by `key` (counting sort: stable).
fn csr(n: usize, keys: impl Iterator<Item = u32> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; n + 1];
    for key in keys.clone() {
        if (key as usize) < n {
            start[key as usize + 1] += 1;
        }
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut items = vec![0u32; start[n] as usize];
    for (e, key) in keys.enumerate() {
        if (key as usize) < n {
            let slot = &mut next[key as usize];
            items[*slot as usize] = e as u32;
            *slot += 1;
        }
    }
    (start, items)
}

fn row<'a>(start: &[u32], items: &'a [u32], i: u32) -> &'a [u32] {
    let i = i as usize;
    match (start.get(i), start.get(i + 1)) {
        (Some(&a), Some(&b)) => items.get(a as usize..b as usize).unwrap_or(&[]),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edge, Mode, Node};

    fn model(nodes: &[&str], edges: &[(&str, &str)]) -> Model {
        let mut model = Model {
            nodes: nodes.iter().map(|n| Node::service(n)).collect(),
            edges: edges
                .iter()
                .map(|(a, b)| Edge::declared(a, b, Mode::Sync))
                .collect(),
            ..Default::default()
        };
        model.merge_edges();
        model
    }

    #[test]
    fn ids_follow_names_and_adjacency_holds_edge_indices() {
        let m = model(&["c", "a", "b"], &[("a", "b"), ("b", "c"), ("a", "c")]);
        let index = Index::new(&m);
        assert_eq!(index.len(), 3);
        assert_eq!(index.id("a"), Some(0));
        assert_eq!(index.id("c"), Some(2));
        assert_eq!(index.id("zz"), None);
        assert_eq!(index.name(1), "b");
        let out: Vec<_> = index
            .out_edges(0)
            .iter()
            .map(|&e| index.name(index.ends(e).1))
            .collect();
        assert_eq!(out, ["b", "c"]);
        let into: Vec<_> = index
            .in_edges(2)
            .iter()
            .map(|&e| index.name(index.ends(e).0))
            .collect();
        assert_eq!(into, ["a", "b"]);
        assert!(index.out_edges(99).is_empty());
    }

    #[test]
    fn unknown_names_become_unregistered_services() {
        let m = model(&["a"], &[("a", "ghost"), ("zombie", "a")]);
        let index = Index::new(&m);
        assert_eq!(index.len(), 3);
        let ghost = index.id("ghost").unwrap();
        assert!(index.node(ghost).is_none());
        assert_eq!(index.kind(ghost), NodeKind::Service);
        assert_eq!(index.in_edges(ghost).len(), 1);
        let zombie = index.id("zombie").unwrap();
        assert_eq!(index.out_edges(zombie).len(), 1);
    }

    #[test]
    fn unsorted_nodes_are_looked_up_through_a_permutation() {
        let m = Model {
            nodes: vec![Node::service("b"), Node::service("a"), Node::service("b")],
            edges: vec![Edge::declared("a", "b", Mode::Sync)],
            ..Default::default()
        };
        let index = Index::new(&m);
        assert_eq!(index.id("a"), Some(1));
        assert_eq!(index.id("b"), Some(0));
        assert_eq!(index.ends(0), (1, 0));
    }

    #[test]
    fn names_sharing_their_first_16_bytes_are_told_apart() {
        let long = |i: usize| format!("com.example.services.{i:03}");
        let mut names: Vec<String> = (0..50).map(long).collect();
        names.extend(["ab".into(), "ab\0".into(), "abcdefghijklmnop".into()]);
        names.push("abcdefghijklmnopq".into());
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let m = model(&refs, &[]);
        let index = Index::new(&m);
        for name in &names {
            assert_eq!(index.name(index.id(name).unwrap()), name);
        }
        for missing in [
            "a",
            "ab\0\0",
            "abcdefghijklmno",
            "com.example.services.050",
            "zz",
        ] {
            assert_eq!(index.id(missing), None, "{missing:?}");
        }
    }

    #[test]
    fn tarjan_numbers_components_in_reverse_topological_order() {
        // a -> b <-> c -> d, d -> d, e alone
        let m = model(
            &["a", "b", "c", "d", "e"],
            &[("a", "b"), ("b", "c"), ("c", "b"), ("c", "d"), ("d", "d")],
        );
        let index = Index::new(&m);
        let comps = index.strongly_connected(|_| true, |_| true);
        assert_eq!(comps.count(), 4);
        let of = |name| comps.of(index.id(name).unwrap()).unwrap();
        assert_eq!(of("b"), of("c"));
        assert!(of("a") > of("b"));
        assert!(of("b") > of("d"));
        assert_eq!(comps.members(of("b")), [1, 2]);
        // Leaving nodes out.
        let comps = index.strongly_connected(|v| v != 2, |_| true);
        assert_eq!(comps.of(2), None);
        assert_eq!(comps.count(), 4);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let names: Vec<String> = (0..200_000).map(|i| format!("s{i:06}")).collect();
        let mut m = Model {
            nodes: names.iter().map(|n| Node::service(n)).collect(),
            edges: names
                .windows(2)
                .map(|w| Edge::declared(&w[0], &w[1], Mode::Sync))
                .collect(),
            ..Default::default()
        };
        m.edges
            .push(Edge::declared(&names[199_999], &names[0], Mode::Sync));
        m.merge_edges();
        let index = Index::new(&m);
        let comps = index.strongly_connected(|_| true, |_| true);
        assert_eq!(comps.count(), 1);
        assert_eq!(comps.members(0).len(), 200_000);
    }
}
