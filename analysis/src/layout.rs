//! The graph page's drawing: what to show ([`aggregate`]: filters, focus, clusters) and
//! where to put it ([`layout`]: a layered left-to-right layout, Sugiyama style).
//!
//! [`aggregate`] turns a [`Model`] and a [`View`] into a [`Graph`]: nodes that pass the
//! filters (and, in focus mode, lie within `hops` of the focused node), grouped by system,
//! domain or owner; when more nodes are visible than [`View::collapse_above`], every group
//! not listed in [`View::expanded`] is collapsed into one cluster node and the edges
//! between clusters and nodes are merged.
//!
//! [`layout`] places a [`Graph`]: cycles are broken by reversing, inside each strongly
//! connected component, the edges that run against the nodes' trophic levels (a
//! least-squares ranking: a few calls back up do not stretch the hierarchy, as the back
//! edges of a depth-first search or a smallest feedback arc set would); nodes are layered
//! by longest path (then nodes calling more than called are pulled towards their
//! callees), long edges get dummy nodes, layers are ordered by barycentre sweeps (the
//! swept order with the fewest crossings wins), and vertical positions come from
//! weighted least squares under the spacing constraints (pool adjacent violators, linear
//! per layer), so edges run as straight as the order allows. Every step is linear or
//! `n log n` in nodes plus dummies plus edges, sweeps and rounds are capped, and dummies
//! are bounded (edges beyond the bound are drawn straight).
//!
//! Open groups are swimlanes: horizontal bands, one per open group with members and one
//! per run of nodes outside them (ungrouped nodes, collapsed clusters) between two
//! groups, ordered to keep linked lanes close (barycentre rounds and exchanges of
//! neighbours). Each layer is ordered by lane, then by barycentre within the lane; a
//! lane's band is as tall as its tallest stack in a layer, and each layer's items in a
//! lane are placed as above but confined to the band. A long edge's dummies run in its
//! source's lane, then its target's, switching where the two bands grow least. A group's
//! box is its band, across from its leftmost member to its rightmost: boxes never overlap
//! and hold no node of another lane. Edges between lanes cross the boxes between them:
//! draw boxes translucent, under nodes and edges. Without an open group, none of this
//! applies (groups are then all clusters, or there are none).
//!
//! Both are deterministic and never panic: edges naming unknown nodes, self-loops, edges
//! whose indices are out of range, empty inputs and non-finite figures are all handled.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::model::{Edge, Mode, Model, Node, NodeKind};

/// [`View::collapse_above`] by default.
pub const DEFAULT_COLLAPSE_ABOVE: usize = 150;
/// The height of a node's box.
pub const NODE_HEIGHT: f64 = 28.0;
/// The height of a cluster's box.
pub const CLUSTER_HEIGHT: f64 = 40.0;
/// A node's width: this much per character of its label ...
pub const CHAR_WIDTH: f64 = 7.0;
/// ... plus this much ...
pub const NODE_PADDING: f64 = 24.0;
/// ... clamped to this range.
pub const MIN_NODE_WIDTH: f64 = 48.0;
pub const MAX_NODE_WIDTH: f64 = 280.0;
/// Horizontal space between the widest nodes of two neighbouring layers.
pub const LAYER_GAP: f64 = 80.0;
/// Vertical space between two nodes of a layer ...
pub const NODE_GAP: f64 = 16.0;
/// ... next to an edge passing through the layer ...
pub const DUMMY_GAP: f64 = 10.0;
/// Vertical space between two lanes (room for the group boxes' edges).
pub const GROUP_GAP: f64 = 28.0;
/// Space between a group's box and its members, on the left, right and bottom ...
pub const GROUP_PADDING: f64 = 10.0;
/// ... and on top (room for the group's label).
pub const GROUP_LABEL: f64 = 22.0;
/// Space around the whole drawing.
pub const MARGIN: f64 = 20.0;

/// How nodes are grouped into clusters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// No groups.
    #[default]
    None,
    /// By the system a node belongs to.
    System,
    /// By the bounded context (domain).
    Domain,
    /// By the owning team.
    Owner,
}

/// What the graph page shows: filters, focus, grouping and marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    /// How nodes are grouped.
    pub group_by: GroupBy,
    /// Group keys shown open even when groups are collapsed.
    pub expanded: Vec<String>,
    /// Groups not in `expanded` are collapsed when more nodes than this are visible
    /// (after filters and focus). Groups of one node, and the focused node's group, are
    /// never collapsed.
    pub collapse_above: usize,
    /// Groups shown closed whatever the number of nodes (a group of one node too);
    /// `expanded` wins when a key is in both.
    pub collapsed: Vec<String>,
    /// Show only this node and its neighbourhood. A name no node has shows nothing.
    pub focus: Option<String>,
    /// The neighbourhood's radius in edges, followed both ways, through nodes that pass
    /// the filters. The focused node is shown even when a filter would hide it.
    pub hops: usize,
    /// Only nodes of this domain.
    pub domain: Option<String>,
    /// Only nodes of this owner.
    pub owner: Option<String>,
    /// Only nodes in this health state (`unknown` also matches nodes without one).
    pub health: Option<String>,
    /// Only these nodes (and the edges between them). `Some` of an empty list shows none.
    pub only: Option<Vec<String>>,
    /// Nodes whose name contains this (ignoring case) are marked `matched`.
    pub search: Option<String>,
    /// Edges, as (caller, callee), marked `highlighted`.
    pub highlight: Vec<(String, String)>,
}

impl Default for View {
    fn default() -> View {
        View {
            group_by: GroupBy::None,
            expanded: Vec::new(),
            collapse_above: DEFAULT_COLLAPSE_ABOVE,
            collapsed: Vec::new(),
            focus: None,
            hops: 1,
            domain: None,
            owner: None,
            health: None,
            only: None,
            search: None,
            highlight: Vec::new(),
        }
    }
}

/// What to draw: nodes (services, datastores, ... and collapsed clusters), merged edges
/// and groups.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Visible nodes by name, then cluster nodes by key.
    pub nodes: Vec<GNode>,
    /// Edges by (from, to); at most one per ordered pair of nodes.
    pub edges: Vec<GEdge>,
    /// Groups by key.
    pub groups: Vec<Group>,
    /// Nodes of the model the filters or the focus left out.
    pub hidden: usize,
}

/// A node to draw: one node of the model, or a collapsed cluster of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GNode {
    /// The node's name, or `cluster:<key>`.
    pub id: String,
    /// The node's name, or the cluster's key.
    pub label: String,
    /// `service`, `datastore`, `external`, `user` or `cluster`.
    pub kind: String,
    /// Nodes of the model it stands for (1 unless a cluster).
    pub members: usize,
    /// For a cluster: edges of the model between its members (not drawn).
    pub internal_edges: usize,
    /// The health state word; for a cluster, the worst of its members' (`failing`, then
    /// `degraded`, then `unknown`, then `healthy`; members without one count as
    /// `unknown`), `None` when no member has one.
    pub health: Option<String>,
    /// In the catalog; for a cluster, every member is.
    pub registered: bool,
    /// Its name matches the search; for a cluster, some member's does.
    pub matched: bool,
    /// The focused node.
    pub focus: bool,
    /// The key of its group.
    pub group: Option<String>,
}

/// An edge to draw: the model's edges from one drawn node to another, merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GEdge {
    /// Indices into [`Graph::nodes`]; equal for a node calling itself.
    pub from: usize,
    pub to: usize,
    /// Calls and failed calls in the window, summed.
    pub calls: f64,
    pub errors: f64,
    /// Failed calls over calls (0..1); 0 without calls.
    pub error_ratio: f64,
    /// Some merged edge is declared; some is observed.
    pub declared: bool,
    pub observed: bool,
    /// Every merged edge is synchronous.
    pub sync: bool,
    /// Some merged edge is in [`View::highlight`].
    pub highlighted: bool,
    /// Edges of the model merged into it.
    pub merged: usize,
}

/// A group of nodes (a system, domain or owner): a box around its members, or one
/// cluster node when collapsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub label: String,
    /// Indices into [`Graph::nodes`]: the members, or the cluster node when collapsed.
    pub members: Vec<usize>,
    pub collapsed: bool,
}

/// Where everything goes. Coordinates are pixels, y downwards, the drawing within
/// `0..width` × `0..height`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    /// One per node of the graph, in its order (`nodes[i].index == i`).
    pub nodes: Vec<Placed>,
    /// One per edge of the graph whose ends are nodes of it, in its order.
    pub edges: Vec<Route>,
    /// One per group not collapsed with a member, in the graph's order (a node listed by
    /// several groups belongs to the first; a group left without one has no box).
    pub groups: Vec<GroupBox>,
}

/// A node's box: top-left corner and size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placed {
    /// Index into [`Graph::nodes`].
    pub index: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

/// An edge's route, from its `from` node to its `to` node (see [`svg_path`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Index into [`Graph::edges`].
    pub index: usize,
    /// From a side of the caller's box to a side of the callee's: normally the right
    /// side of the caller to the left side of the callee; reversed edges run right to
    /// left; a self-loop is a small loop above its node's top right corner.
    pub points: Vec<(f64, f64)>,
    /// Reversed to break a cycle: the edge runs right to left.
    pub reversed: bool,
}

/// A group's box: its lane's band, from its leftmost member to its rightmost, padded
/// (room for the label on top). Boxes never overlap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupBox {
    /// Index into [`Graph::groups`].
    pub index: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

// ---------------------------------------------------------------------------------------
// Aggregation.

/// A node of the model, borrowed; or one an edge names that the model lacks.
struct Base<'a> {
    name: &'a str,
    kind: NodeKind,
    registered: bool,
    owner: Option<&'a str>,
    domain: Option<&'a str>,
    system: Option<&'a str>,
    health: Option<&'a str>,
}

impl<'a> Base<'a> {
    fn of(node: &'a Node) -> Base<'a> {
        Base {
            name: &node.name,
            kind: node.kind,
            registered: node.registered,
            owner: node.owner.as_deref(),
            domain: node.domain.as_deref(),
            system: node.system.as_deref(),
            health: node.health.as_deref(),
        }
    }

    fn unknown(name: &'a str) -> Base<'a> {
        Base {
            name,
            kind: NodeKind::Service,
            registered: false,
            owner: None,
            domain: None,
            system: None,
            health: None,
        }
    }
}

fn kind_word(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Service => "service",
        NodeKind::Datastore => "datastore",
        NodeKind::External => "external",
        NodeKind::User => "user",
    }
}

/// Worse health states rank higher.
fn health_rank(word: Option<&str>) -> u8 {
    match word {
        Some("failing") => 3,
        Some("degraded") => 2,
        Some("healthy") => 0,
        _ => 1,
    }
}

/// A count that can be summed: finite and not negative, else 0.
fn clean(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

/// A filter's value; an empty one filters nothing.
fn filter(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// What to draw of `model` under `view`: filters and focus applied, groups formed and,
/// when many nodes are visible, collapsed; edges merged per pair of drawn nodes.
///
/// Nodes are taken by name (the first registered one of a name); nodes named only by
/// edges are added as unregistered services.
pub fn aggregate<'a>(model: &'a Model, view: &View) -> Graph {
    let mut base: Vec<Base> = model.nodes.iter().map(Base::of).collect();
    base.sort_by(|a, b| (a.name, !a.registered).cmp(&(b.name, !b.registered)));
    base.dedup_by(|later, first| later.name == first.name);
    // Lookups only: nothing iterates the map, so the output does not depend on its order.
    let lookup = |base: &[Base<'a>]| -> HashMap<&'a str, usize> {
        base.iter().enumerate().map(|(i, b)| (b.name, i)).collect()
    };
    let mut index = lookup(&base);
    let mut unknown: Vec<&str> = model
        .edges
        .iter()
        .flat_map(|e| [e.caller.as_str(), e.callee.as_str()])
        .filter(|name| !index.contains_key(name))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        base.extend(unknown.into_iter().map(Base::unknown));
        base.sort_by(|a, b| a.name.cmp(b.name));
        index = lookup(&base);
    }
    let find = |name: &str| index.get(name).copied();
    let total = base.len();
    let edges: Vec<(usize, usize, &Edge)> = model
        .edges
        .iter()
        .filter_map(|e| Some((find(&e.caller)?, find(&e.callee)?, e)))
        .collect();

    // Filters.
    let mut only: Option<Vec<&str>> = view
        .only
        .as_ref()
        .map(|names| names.iter().map(String::as_str).collect());
    if let Some(names) = &mut only {
        names.sort_unstable();
    }
    let (domain, owner, health) = (
        filter(&view.domain),
        filter(&view.owner),
        filter(&view.health),
    );
    let mut visible: Vec<bool> = base
        .iter()
        .map(|b| {
            domain.is_none_or(|d| b.domain == Some(d))
                && owner.is_none_or(|o| b.owner == Some(o))
                && health.is_none_or(|h| b.health.unwrap_or("unknown").eq_ignore_ascii_case(h))
                && only
                    .as_ref()
                    .is_none_or(|names| names.binary_search(&b.name).is_ok())
        })
        .collect();

    // Focus: breadth first, both ways, through nodes the filters keep.
    let mut focus = None;
    if let Some(name) = filter(&view.focus) {
        let Some(start) = find(name) else {
            return Graph {
                hidden: total,
                ..Graph::default()
            };
        };
        focus = Some(start);
        let adjacency = Csr::new(
            total,
            edges
                .iter()
                .filter(|(a, b, _)| a != b)
                .flat_map(|&(a, b, _)| [(a, b), (b, a)]),
        );
        let mut reached = vec![false; total];
        reached[start] = true;
        let mut frontier = vec![start];
        for _ in 0..view.hops {
            let mut next = Vec::new();
            for &v in &frontier {
                for &w in adjacency.of(v) {
                    if visible[w] && !reached[w] {
                        reached[w] = true;
                        next.push(w);
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        visible = reached;
    }
    let shown = visible.iter().filter(|&&v| v).count();

    // Search.
    let needle = view
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let matched = |b: &Base| {
        needle
            .as_deref()
            .is_some_and(|needle| b.name.to_lowercase().contains(needle))
    };

    // Groups, by key.
    fn key_of<'a>(b: &Base<'a>, by: GroupBy) -> Option<&'a str> {
        let key = match by {
            GroupBy::None => None,
            GroupBy::System => b.system,
            GroupBy::Domain => b.domain,
            GroupBy::Owner => b.owner,
        };
        key.filter(|k| !k.is_empty())
    }
    let mut keyed: Vec<(&str, usize)> = (0..total)
        .filter(|&i| visible[i])
        .filter_map(|i| Some((key_of(&base[i], view.group_by)?, i)))
        .collect();
    keyed.sort_unstable();
    let mut expanded: Vec<&str> = view.expanded.iter().map(String::as_str).collect();
    expanded.sort_unstable();
    let collapsing = shown > view.collapse_above;
    let mut closed: Vec<&str> = view.collapsed.iter().map(String::as_str).collect();
    closed.sort_unstable();
    // (key, members in name order, collapsed)
    let mut groups: Vec<(&str, Vec<usize>, bool)> = Vec::new();
    for (key, i) in keyed {
        match groups.last_mut() {
            Some((last, members, _)) if *last == key => members.push(i),
            _ => groups.push((key, vec![i], false)),
        }
    }
    let mut group_of: Vec<Option<usize>> = vec![None; total];
    for (g, (key, members, collapsed)) in groups.iter_mut().enumerate() {
        let open = expanded.binary_search(key).is_ok();
        let asked_closed = closed.binary_search(key).is_ok();
        *collapsed = !open
            && !focus.is_some_and(|f| members.contains(&f))
            && (asked_closed || (collapsing && members.len() > 1));
        for &m in members.iter() {
            group_of[m] = Some(g);
        }
    }

    // Nodes: the visible ones outside collapsed groups, then one per collapsed group.
    let mut nodes = Vec::new();
    let mut drawn: Vec<usize> = vec![usize::MAX; total];
    for (i, b) in base.iter().enumerate() {
        if !visible[i] || group_of[i].is_some_and(|g| groups[g].2) {
            continue;
        }
        drawn[i] = nodes.len();
        nodes.push(GNode {
            id: b.name.to_owned(),
            label: b.name.to_owned(),
            kind: kind_word(b.kind).to_owned(),
            members: 1,
            internal_edges: 0,
            health: b.health.map(str::to_owned),
            registered: b.registered,
            matched: matched(b),
            focus: focus == Some(i),
            group: group_of[i].map(|g| groups[g].0.to_owned()),
        });
    }
    let mut group_members: Vec<Vec<usize>> = Vec::with_capacity(groups.len());
    for (key, members, collapsed) in &groups {
        if !*collapsed {
            group_members.push(members.iter().map(|&m| drawn[m]).collect());
            continue;
        }
        let cluster = nodes.len();
        for &m in members {
            drawn[m] = cluster;
        }
        let worst = members
            .iter()
            .map(|&m| base[m].health)
            .max_by_key(|&h| health_rank(h))
            .flatten();
        let any_health = members.iter().any(|&m| base[m].health.is_some());
        let health = any_health.then(|| match health_rank(worst) {
            3 => "failing",
            2 => "degraded",
            0 => "healthy",
            _ => "unknown",
        });
        nodes.push(GNode {
            id: format!("cluster:{key}"),
            label: (*key).to_owned(),
            kind: "cluster".to_owned(),
            members: members.len(),
            internal_edges: 0,
            health: health.map(str::to_owned),
            registered: members.iter().all(|&m| base[m].registered),
            matched: members.iter().any(|&m| matched(&base[m])),
            focus: members.iter().any(|&m| focus == Some(m)),
            group: Some((*key).to_owned()),
        });
        group_members.push(vec![cluster]);
    }

    // Edges, merged per pair of drawn nodes.
    let mut highlight: Vec<(&str, &str)> = view
        .highlight
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    highlight.sort_unstable();
    let mut pairs: Vec<(usize, usize, usize)> = Vec::with_capacity(edges.len());
    for (e, &(a, b, _)) in edges.iter().enumerate() {
        if !visible[a] || !visible[b] {
            continue;
        }
        let (from, to) = (drawn[a], drawn[b]);
        if from == to && nodes[from].kind == "cluster" {
            nodes[from].internal_edges += 1;
        } else {
            pairs.push((from, to, e));
        }
    }
    pairs.sort_unstable();
    let mut merged: Vec<GEdge> = Vec::new();
    for (from, to, e) in pairs {
        let edge = edges[e].2;
        let highlighted = highlight
            .binary_search(&(edge.caller.as_str(), edge.callee.as_str()))
            .is_ok();
        let sync = edge.mode == Mode::Sync;
        match merged.last_mut() {
            Some(last) if last.from == from && last.to == to => {
                last.calls += clean(edge.calls);
                last.errors += clean(edge.errors);
                last.declared |= edge.declared;
                last.observed |= edge.observed;
                last.sync &= sync;
                last.highlighted |= highlighted;
                last.merged += 1;
            }
            _ => merged.push(GEdge {
                from,
                to,
                calls: clean(edge.calls),
                errors: clean(edge.errors),
                error_ratio: 0.0,
                declared: edge.declared,
                observed: edge.observed,
                sync,
                highlighted,
                merged: 1,
            }),
        }
    }
    for edge in &mut merged {
        if edge.calls > 0.0 {
            edge.error_ratio = (edge.errors / edge.calls).clamp(0.0, 1.0);
        }
    }

    let groups = groups
        .into_iter()
        .zip(group_members)
        .map(|((key, _, collapsed), members)| Group {
            key: key.to_owned(),
            label: key.to_owned(),
            members,
            collapsed,
        })
        .collect();
    Graph {
        nodes,
        edges: merged,
        groups,
        hidden: total - shown,
    }
}

/// Adjacency lists in one array: the targets of `v` are `targets[start[v]..start[v + 1]]`,
/// in the order the pairs came.
struct Csr<T> {
    start: Vec<usize>,
    targets: Vec<T>,
}

impl<T: Copy + Default> Csr<T> {
    fn new(n: usize, pairs: impl Iterator<Item = (usize, T)> + Clone) -> Csr<T> {
        let mut start = vec![0usize; n + 1];
        for (v, _) in pairs.clone() {
            start[v + 1] += 1;
        }
        for v in 0..n {
            start[v + 1] += start[v];
        }
        let mut next = start.clone();
        let mut targets = vec![T::default(); start[n]];
        for (v, t) in pairs {
            targets[next[v]] = t;
            next[v] += 1;
        }
        Csr { start, targets }
    }

    fn of(&self, v: usize) -> &[T] {
        &self.targets[self.start[v]..self.start[v + 1]]
    }
}

// ---------------------------------------------------------------------------------------
// Layout.

/// No group.
const NONE: u32 = u32::MAX;
/// Sweeps of barycentre ordering (each down then up) at most ...
const MAX_SWEEPS: usize = 8;
/// ... and at most this much work (items plus segments, summed over sweeps).
const SWEEP_WORK: usize = 24_000_000;
/// Sweeps of vertical placement (each down then up), then one using both sides.
const PLACEMENT_SWEEPS: usize = 3;
/// Dummy nodes at most: this many per node and edge (edges beyond are drawn straight).
const DUMMIES_PER_ELEMENT: usize = 12;
/// Rounds of lane ordering (barycentre, then exchanges of neighbours) at most ...
const LANE_ROUNDS: usize = 12;
/// ... and at most this much work (units plus links between them, summed over rounds) ...
const LANE_WORK: usize = 8_000_000;
/// ... with this many passes of exchanges at most in each.
const LANE_PASSES: usize = 4;

/// A node's box size for its label (clusters leave room for ` (N)` after it).
fn node_size(node: &GNode) -> (f64, f64) {
    let mut chars = node.label.chars().count();
    let cluster = node.kind == "cluster";
    if cluster {
        chars += 3 + node.members.max(1).ilog10() as usize + 1;
    }
    let width = (chars as f64 * CHAR_WIDTH + NODE_PADDING).clamp(MIN_NODE_WIDTH, MAX_NODE_WIDTH);
    (width, if cluster { CLUSTER_HEIGHT } else { NODE_HEIGHT })
}

/// Places `graph` left to right: see the module's documentation.
pub fn layout(graph: &Graph) -> Layout {
    let n = graph.nodes.len();
    if n == 0 {
        return Layout::default();
    }
    let sizes: Vec<(f64, f64)> = graph.nodes.iter().map(node_size).collect();
    let mut group_of = vec![NONE; n];
    for (g, group) in graph.groups.iter().enumerate() {
        if group.collapsed {
            continue;
        }
        for &m in &group.members {
            if m < n && group_of[m] == NONE {
                group_of[m] = g as u32;
            }
        }
    }
    // Edges between two nodes of the graph (self-loops apart): (edge index, from, to).
    let links: Vec<(usize, u32, u32)> = graph
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.from < n && e.to < n && e.from != e.to)
        .map(|(i, e)| (i, e.from as u32, e.to as u32))
        .collect();

    let reversed = break_cycles(n, &links);
    // The acyclic edges: (source, target) with the reversed ones turned round.
    let dag: Vec<(u32, u32)> = links
        .iter()
        .zip(&reversed)
        .map(|(&(_, a, b), &r)| if r { (b, a) } else { (a, b) })
        .collect();
    let lanes = swimlanes(n, &group_of, &dag);
    let lane_of = lanes.as_ref().map(|lanes| lanes.of.as_slice());
    let lane_group = lanes
        .as_ref()
        .map_or(&[][..], |lanes| lanes.group.as_slice());
    let layer = assign_layers(n, &dag, &sizes, lane_of);
    let mut items = Items::new(n, &layer, &sizes, &dag, lane_of);
    items.order();
    let (ys, bands) = items.place_vertically(lane_group);

    // Columns: the widest node of each layer, then the gap.
    let layers = items.layers.len();
    let mut column_width = vec![0.0f64; layers];
    for v in 0..n {
        let l = layer[v] as usize;
        column_width[l] = column_width[l].max(sizes[v].0);
    }
    let mut column_x = vec![0.0f64; layers];
    for l in 1..layers {
        column_x[l] = column_x[l - 1] + column_width[l - 1] + LAYER_GAP;
    }
    let mut placed: Vec<Placed> = (0..n)
        .map(|v| {
            let l = layer[v] as usize;
            let (width, height) = sizes[v];
            Placed {
                index: v,
                x: column_x[l] + (column_width[l] - width) / 2.0,
                y: ys[v] - height / 2.0,
                width,
                height,
            }
        })
        .collect();

    // Routes, in the acyclic direction first: right side of the source, through the
    // dummies (across their column, straight), left side of the target.
    let mut routes: Vec<Route> = Vec::with_capacity(graph.edges.len());
    // (node, side: 0 left / 1 right, the next point's y, route, first point)
    let mut ports: Vec<(u32, u8, f64, usize, bool)> = Vec::with_capacity(2 * links.len());
    let mut link = 0;
    for (index, edge) in graph.edges.iter().enumerate() {
        if edge.from >= n || edge.to >= n {
            continue;
        }
        if edge.from == edge.to {
            let p = &placed[edge.from];
            let (left, right, top) = (p.x + p.width - 26.0, p.x + p.width - 10.0, p.y);
            routes.push(Route {
                index,
                points: vec![
                    (left, top),
                    (left, top - 10.0),
                    (right, top - 10.0),
                    (right, top),
                ],
                reversed: false,
            });
            continue;
        }
        let (s, t) = dag[link];
        let mut points = Vec::with_capacity(2);
        let source = &placed[s as usize];
        points.push((source.x + source.width, ys[s as usize]));
        for d in items.chain(link) {
            let l = items.layer[d] as usize;
            points.push((column_x[l], ys[d]));
            points.push((column_x[l] + column_width[l], ys[d]));
        }
        let target = &placed[t as usize];
        points.push((target.x, ys[t as usize]));
        let last = points.len() - 1;
        ports.push((s, 1, points[1].1, routes.len(), true));
        ports.push((t, 0, points[last - 1].1, routes.len(), false));
        routes.push(Route {
            index,
            points,
            reversed: reversed[link],
        });
        link += 1;
    }
    // Edges meeting one side of a node are spread along it, in the order of where they
    // come from.
    ports.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then(a.2.total_cmp(&b.2))
            .then((a.3, a.4).cmp(&(b.3, b.4)))
    });
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j < ports.len() && (ports[j].0, ports[j].1) == (ports[i].0, ports[i].1) {
            j += 1;
        }
        let k = j - i;
        if k > 1 {
            let height = placed[ports[i].0 as usize].height;
            let step = (6.0f64).min((height - 8.0) / (k - 1) as f64);
            for (rank, port) in ports[i..j].iter().enumerate() {
                let offset = (rank as f64 - (k - 1) as f64 / 2.0) * step;
                let points = &mut routes[port.3].points;
                let at = if port.4 { 0 } else { points.len() - 1 };
                points[at].1 += offset;
            }
        }
        i = j;
    }
    for route in &mut routes {
        if route.reversed {
            route.points.reverse();
        }
    }

    // Group boxes (only open groups with members have any, and then there are lanes):
    // each group's band, across from its leftmost member to its rightmost.
    let mut boxes = Vec::new();
    if let Some(lanes) = &lanes {
        let mut span = vec![(f64::INFINITY, f64::NEG_INFINITY); lanes.group.len()];
        for (p, &lane) in placed.iter().zip(&lanes.of) {
            let span = &mut span[lane as usize];
            *span = (span.0.min(p.x), span.1.max(p.x + p.width));
        }
        let mut lane_of_group = vec![usize::MAX; graph.groups.len()];
        for (lane, &g) in lanes.group.iter().enumerate() {
            if g != NONE {
                lane_of_group[g as usize] = lane;
            }
        }
        for (index, &lane) in lane_of_group.iter().enumerate() {
            let (Some(&(x0, x1)), Some(&(top, bottom))) = (span.get(lane), bands.get(lane)) else {
                continue;
            };
            boxes.push(GroupBox {
                index,
                x: x0 - GROUP_PADDING,
                y: top - GROUP_LABEL,
                width: x1 - x0 + 2.0 * GROUP_PADDING,
                height: bottom - top + GROUP_LABEL + GROUP_PADDING,
            });
        }
    }

    // Everything moved into 0..width × 0..height, with a margin.
    let mut min = (f64::INFINITY, f64::INFINITY);
    let mut max = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut extend = |x0: f64, y0: f64, x1: f64, y1: f64| {
        min = (min.0.min(x0), min.1.min(y0));
        max = (max.0.max(x1), max.1.max(y1));
    };
    for p in &placed {
        extend(p.x, p.y, p.x + p.width, p.y + p.height);
    }
    for b in &boxes {
        extend(b.x, b.y, b.x + b.width, b.y + b.height);
    }
    for r in &routes {
        for &(x, y) in &r.points {
            extend(x, y, x, y);
        }
    }
    let (dx, dy) = (MARGIN - min.0, MARGIN - min.1);
    for p in &mut placed {
        p.x += dx;
        p.y += dy;
    }
    for b in &mut boxes {
        b.x += dx;
        b.y += dy;
    }
    for r in &mut routes {
        for point in &mut r.points {
            point.0 += dx;
            point.1 += dy;
        }
    }
    Layout {
        width: max.0 - min.0 + 2.0 * MARGIN,
        height: max.1 - min.1 + 2.0 * MARGIN,
        nodes: placed,
        edges: routes,
        groups: boxes,
    }
}

/// Horizontal bands, top to bottom: one per open group with members, and one per run of
/// nodes outside open groups (ungrouped nodes, collapsed clusters) between them.
struct Lanes {
    /// The lane of each node.
    of: Vec<u32>,
    /// Per lane: the open group it holds, or [`NONE`] for nodes outside any.
    group: Vec<u32>,
}

/// The lanes, `None` without an open group with members.
///
/// The units ordered are the open groups and each node outside them; the order keeps
/// linked units close: a few rounds of sorting by the barycentre of the linked units'
/// ranks, each followed by exchanges of neighbours that shorten the links, keeping the
/// order whose links are shortest in sum. Nodes outside open groups are units of their
/// own rather than one shared lane so that each lands between the groups it talks to
/// (a user above the group it calls, a datastore next to its callers) instead of every
/// one of their edges crossing the whole drawing to a lane at its edge; the outside
/// nodes that end up between the same two groups share one lane, so there are at most
/// one more of those than groups.
fn swimlanes(n: usize, group_of: &[u32], dag: &[(u32, u32)]) -> Option<Lanes> {
    let groups = group_of
        .iter()
        .filter(|&&g| g != NONE)
        .max()
        .map(|&g| g as usize + 1)?;
    let mut unit_of_group = vec![NONE; groups];
    for &g in group_of {
        if g != NONE {
            unit_of_group[g as usize] = 0;
        }
    }
    // Units: the groups in the graph's order, then the nodes outside them.
    let mut unit_group: Vec<u32> = Vec::new();
    for (g, unit) in unit_of_group.iter_mut().enumerate() {
        if *unit != NONE {
            *unit = unit_group.len() as u32;
            unit_group.push(g as u32);
        }
    }
    let mut unit_of = Vec::with_capacity(n);
    for &g in group_of {
        if g != NONE {
            unit_of.push(unit_of_group[g as usize]);
        } else {
            unit_of.push(unit_group.len() as u32);
            unit_group.push(NONE);
        }
    }
    let units = unit_group.len();
    // Links between units, both ways, weighted by the edges they stand for.
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(2 * dag.len());
    for &(a, b) in dag {
        let (a, b) = (unit_of[a as usize], unit_of[b as usize]);
        if a != b {
            pairs.push((a, b));
            pairs.push((b, a));
        }
    }
    pairs.sort_unstable();
    let mut links: Vec<(u32, u32, f64)> = Vec::new();
    for (a, b) in pairs {
        match links.last_mut() {
            Some(last) if (last.0, last.1) == (a, b) => last.2 += 1.0,
            _ => links.push((a, b, 1.0)),
        }
    }
    let adjacency = Csr::new(units, links.iter().map(|&(a, b, w)| (a as usize, (b, w))));
    // Twice the summed length of the links (each is listed both ways); integers, exact.
    let cost = |rank: &[u32]| -> f64 {
        links
            .iter()
            .map(|&(a, b, w)| w * (rank[a as usize] as f64 - rank[b as usize] as f64).abs())
            .sum()
    };
    // Each round: by barycentre, then exchanges of neighbours (a few passes, while any
    // helps). The first round only exchanges, from the groups' order.
    let mut order: Vec<u32> = (0..units as u32).collect();
    let mut rank: Vec<u32> = order.clone();
    let rounds =
        (LANE_WORK / (LANE_PASSES + 2) / (units + links.len()).max(1)).clamp(1, LANE_ROUNDS);
    let mut keys: Vec<(f64, u32, u32)> = Vec::with_capacity(units);
    let (mut best, mut best_cost) = (rank.clone(), cost(&rank));
    let mut stale = 0;
    for round in 0..rounds {
        if round > 0 {
            keys.clear();
            for u in 0..units {
                let (mut sum, mut weight) = (0.0, 0.0);
                for &(w, count) in adjacency.of(u) {
                    sum += count * rank[w as usize] as f64;
                    weight += count;
                }
                let key = if weight > 0.0 {
                    sum / weight
                } else {
                    rank[u] as f64
                };
                keys.push((key, rank[u], u as u32));
            }
            keys.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            order.clear();
            order.extend(keys.iter().map(|k| k.2));
        }
        for _ in 0..LANE_PASSES {
            if !exchange_neighbours(&mut order, &mut rank, &adjacency) {
                break;
            }
        }
        let now = cost(&rank);
        if now < best_cost {
            best_cost = now;
            best.clone_from(&rank);
            stale = 0;
        } else {
            stale += 1;
            if stale >= 2 {
                break;
            }
        }
        if best_cost == 0.0 {
            break;
        }
    }
    // Lanes, top to bottom.
    let mut by_rank = vec![0u32; units];
    for (u, &r) in best.iter().enumerate() {
        by_rank[r as usize] = u as u32;
    }
    let mut lane_of_unit = vec![0u32; units];
    let mut group: Vec<u32> = Vec::new();
    for u in by_rank {
        let g = unit_group[u as usize];
        if g != NONE || group.last() != Some(&NONE) {
            group.push(g);
        }
        lane_of_unit[u as usize] = group.len() as u32 - 1;
    }
    let of = unit_of.iter().map(|&u| lane_of_unit[u as usize]).collect();
    Some(Lanes { of, group })
}

/// One pass over `order` (units by rank) exchanging neighbours where that shortens the
/// links; `rank` follows. Whether any were.
fn exchange_neighbours(order: &mut [u32], rank: &mut [u32], adjacency: &Csr<(u32, f64)>) -> bool {
    let mut exchanged = false;
    for (r, &u) in order.iter().enumerate() {
        rank[u as usize] = r as u32;
    }
    for r in 0..order.len().saturating_sub(1) {
        let (u, w) = (order[r] as usize, order[r + 1] as usize);
        // Moving u down one: links to units below shorten, to units above lengthen; the
        // link between u and w keeps its length. The same for w moving up.
        let mut gain = 0.0;
        for &(x, count) in adjacency.of(u) {
            let x = rank[x as usize] as usize;
            if x > r + 1 {
                gain += count;
            } else if x < r {
                gain -= count;
            }
        }
        for &(x, count) in adjacency.of(w) {
            let x = rank[x as usize] as usize;
            if x < r {
                gain += count;
            } else if x > r + 1 {
                gain -= count;
            }
        }
        if gain > 0.0 {
            order.swap(r, r + 1);
            rank[u] = r as u32 + 1;
            rank[w] = r as u32;
            exchanged = true;
        }
    }
    exchanged
}

/// Which edges to reverse for the graph to have no cycle. Only edges inside a strongly
/// connected component are candidates; inside one, nodes are ranked by trophic level
/// (MacKay, Johnson and Sansom: the levels `h` minimising the sum over its edges of
/// `(h(callee) - h(caller) - 1)²`, found by conjugate gradients, a bounded number of
/// steps), then index, and edges running backwards in that rank are reversed. Unlike a
/// smallest feedback arc set, this picks the calls that go against the hierarchy (a few
/// calls back up do not stretch the layering). Should that reverse most of a
/// component's edges, the opposite order is used. Deterministic; the result is acyclic
/// whatever the precision of the levels.
fn break_cycles(n: usize, links: &[(usize, u32, u32)]) -> Vec<bool> {
    let component = components(n, links);
    if links
        .iter()
        .all(|&(_, a, b)| component[a as usize] != component[b as usize])
    {
        return vec![false; links.len()];
    }
    let all: Vec<(u32, u32)> = links.iter().map(|&(_, a, b)| (a, b)).collect();
    let level = trophic_levels(n, &all);
    let mut reversed: Vec<bool> = links
        .iter()
        .map(|&(_, a, b)| {
            let (a, b) = (a as usize, b as usize);
            component[a] == component[b] && (level[a], a) > (level[b], b)
        })
        .collect();
    // Where that reverses most of a component's edges, the opposite order reverses fewer
    // (and is as acyclic).
    let components = component.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let mut balance = vec![0i64; components];
    for (&(_, a, b), &r) in links.iter().zip(&reversed) {
        if component[a as usize] == component[b as usize] {
            balance[component[a as usize] as usize] += if r { 1 } else { -1 };
        }
    }
    for (&(_, a, b), r) in links.iter().zip(&mut reversed) {
        if component[a as usize] == component[b as usize]
            && balance[component[a as usize] as usize] > 0
        {
            *r = !*r;
        }
    }
    reversed
}

/// Strongly connected components (Tarjan's, iterative): a component number per node.
fn components(n: usize, links: &[(usize, u32, u32)]) -> Vec<u32> {
    let out = Csr::new(n, links.iter().map(|&(_, a, b)| (a as usize, b)));
    const UNSEEN: u32 = u32::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut component = vec![UNSEEN; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut calls: Vec<(u32, usize)> = Vec::new();
    let (mut next_index, mut next_component) = (0u32, 0u32);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        calls.push((root as u32, 0));
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root as u32);
        on_stack[root] = true;
        while let Some(top) = calls.last_mut() {
            let v = top.0 as usize;
            if let Some(&w) = out.of(v).get(top.1) {
                top.1 += 1;
                let w = w as usize;
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w as u32);
                    on_stack[w] = true;
                    calls.push((w as u32, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let parent = parent as usize;
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component[w as usize] = next_component;
                    if w as usize == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// Conjugate-gradient steps for trophic levels at most ...
const TROPHIC_STEPS: usize = 300;
/// ... and at most this much work (nodes plus edges, summed over steps).
const TROPHIC_WORK: usize = 30_000_000;

/// Trophic levels over `edges`: the solution of `L h = in - out` (`L` the Laplacian of
/// the graph taken undirected), by conjugate gradients from 0. Each weakly connected part
/// is determined up to a constant, which does not matter for ranking inside it.
fn trophic_levels(n: usize, edges: &[(u32, u32)]) -> Vec<f64> {
    let mut degree = vec![0.0f64; n];
    let mut rhs = vec![0.0f64; n];
    for &(a, b) in edges {
        degree[a as usize] += 1.0;
        degree[b as usize] += 1.0;
        rhs[a as usize] -= 1.0;
        rhs[b as usize] += 1.0;
    }
    let laplacian = |p: &[f64], out: &mut [f64]| {
        for v in 0..n {
            out[v] = degree[v] * p[v];
        }
        for &(a, b) in edges {
            let (a, b) = (a as usize, b as usize);
            out[a] -= p[b];
            out[b] -= p[a];
        }
    };
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let mut h = vec![0.0f64; n];
    let mut residual = rhs.clone();
    let mut direction = rhs;
    let mut product = vec![0.0f64; n];
    let mut norm = dot(&residual, &residual);
    let goal = norm * 1e-12;
    let steps = (TROPHIC_WORK / (n + edges.len()).max(1)).clamp(20, TROPHIC_STEPS);
    for _ in 0..steps {
        if norm <= goal || norm == 0.0 {
            break;
        }
        laplacian(&direction, &mut product);
        let curvature = dot(&direction, &product);
        if curvature.is_nan() || curvature <= 0.0 {
            break;
        }
        let step = norm / curvature;
        for v in 0..n {
            h[v] += step * direction[v];
            residual[v] -= step * product[v];
        }
        let next = dot(&residual, &residual);
        let beta = next / norm;
        norm = next;
        for v in 0..n {
            direction[v] = residual[v] + beta * direction[v];
        }
    }
    h
}

/// Layers: longest path from the sources, then nodes with more edges out than in moved
/// as far right as their targets allow (shorter edges, fewer dummies). Nodes without
/// edges fill the layers in columns of even height; with lanes, each goes to
/// the column where its lane's stack is lowest (a lane is as tall as its tallest column).
fn assign_layers(
    n: usize,
    dag: &[(u32, u32)],
    sizes: &[(f64, f64)],
    lane: Option<&[u32]>,
) -> Vec<u32> {
    let mut indegree = vec![0u32; n];
    let mut outdegree = vec![0u32; n];
    for &(a, b) in dag {
        outdegree[a as usize] += 1;
        indegree[b as usize] += 1;
    }
    let out = Csr::new(n, dag.iter().map(|&(a, b)| (a as usize, b)));
    // Topological order (Kahn, in index order).
    let mut remaining = indegree.clone();
    let mut topo: Vec<u32> = (0..n as u32)
        .filter(|&v| remaining[v as usize] == 0)
        .collect();
    let mut head = 0;
    while head < topo.len() {
        let v = topo[head] as usize;
        head += 1;
        for &w in out.of(v) {
            remaining[w as usize] -= 1;
            if remaining[w as usize] == 0 {
                topo.push(w);
            }
        }
    }
    let mut layer = vec![0u32; n];
    for &v in &topo {
        let next = layer[v as usize] + 1;
        for &w in out.of(v as usize) {
            layer[w as usize] = layer[w as usize].max(next);
        }
    }
    for &v in topo.iter().rev() {
        let v = v as usize;
        if outdegree[v] > indegree[v] {
            if let Some(highest) = out.of(v).iter().map(|&w| layer[w as usize]).min() {
                if highest > layer[v] + 1 {
                    layer[v] = highest - 1;
                }
            }
        }
    }

    // Nodes without edges.
    let isolated: Vec<usize> = (0..n)
        .filter(|&v| indegree[v] == 0 && outdegree[v] == 0)
        .collect();
    if isolated.is_empty() {
        return layer;
    }
    let connected = n - isolated.len();
    let layers = if connected == 0 {
        0
    } else {
        (0..n)
            .filter(|&v| indegree[v] > 0 || outdegree[v] > 0)
            .map(|v| layer[v] as usize + 1)
            .max()
            .unwrap_or(0)
    };
    // Roughly square: a column is about five rows' height wide.
    let columns = layers.max(((isolated.len() as f64 / 5.0).sqrt().ceil() as usize).max(1));
    if let Some(lane) = lane {
        fill_lanes(&mut layer, &isolated, columns, sizes, lane, |v| {
            indegree[v] > 0 || outdegree[v] > 0
        });
        return layer;
    }
    let mut height = vec![0.0f64; columns];
    for v in 0..n {
        if indegree[v] > 0 || outdegree[v] > 0 {
            height[layer[v] as usize] += sizes[v].1 + NODE_GAP;
        }
    }
    let target = (height.iter().sum::<f64>()
        + isolated.iter().map(|&v| sizes[v].1 + NODE_GAP).sum::<f64>())
        / columns as f64;
    let mut column = 0;
    for v in isolated {
        while column + 1 < columns && height[column] + (sizes[v].1 + NODE_GAP) / 2.0 > target {
            column += 1;
        }
        layer[v] = column as u32;
        height[column] += sizes[v].1 + NODE_GAP;
    }
    layer
}

/// Puts each of the `isolated` nodes in the first of `columns` where its lane's stack
/// (of the `connected` nodes, as layered, and the isolated ones put so far) is lowest.
fn fill_lanes(
    layer: &mut [u32],
    isolated: &[usize],
    columns: usize,
    sizes: &[(f64, f64)],
    lane: &[u32],
    connected: impl Fn(usize) -> bool,
) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    // (lane, column, height) of the connected nodes, summed per lane and column.
    let mut stacks: Vec<(u32, u32, f64)> = (0..layer.len())
        .filter(|&v| connected(v))
        .map(|v| (lane[v], layer[v], sizes[v].1 + NODE_GAP))
        .collect();
    stacks.sort_unstable_by_key(|&(k, c, _)| (k, c));
    stacks.dedup_by(|later, first| {
        let same = (later.0, later.1) == (first.0, first.1);
        if same {
            first.2 += later.2;
        }
        same
    });
    let mut by_lane: Vec<(u32, usize)> = isolated.iter().map(|&v| (lane[v], v)).collect();
    by_lane.sort_unstable();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let (mut i, mut s) = (0, 0);
    while i < by_lane.len() {
        let k = by_lane[i].0;
        while s < stacks.len() && stacks[s].0 < k {
            s += 1;
        }
        let start = s;
        while s < stacks.len() && stacks[s].0 == k {
            s += 1;
        }
        let occupied = &stacks[start..s];
        heap.clear();
        heap.extend(
            occupied
                .iter()
                .map(|&(_, c, h)| Reverse((ordered_bits(h), c))),
        );
        // Empty columns first (lowest of all), in order, then the lowest stack.
        let (mut empty, mut next) = (0usize, 0usize);
        while i < by_lane.len() && by_lane[i].0 == k {
            let v = by_lane[i].1;
            i += 1;
            let height = sizes[v].1 + NODE_GAP;
            loop {
                while next < occupied.len() && (occupied[next].1 as usize) < empty {
                    next += 1;
                }
                if next < occupied.len() && occupied[next].1 as usize == empty {
                    empty += 1;
                } else {
                    break;
                }
            }
            let column = if empty < columns {
                empty += 1;
                heap.push(Reverse((ordered_bits(height), empty as u32 - 1)));
                empty - 1
            } else if let Some(Reverse((stack, c))) = heap.pop() {
                let stack = f64::from_bits(unordered_bits(stack));
                heap.push(Reverse((ordered_bits(stack + height), c)));
                c as usize
            } else {
                0
            };
            layer[v] = column as u32;
        }
    }
}

/// Cells of the table of lanes' loads per layer at most (beyond, the dummies of an edge
/// between lanes all go in its source's lane).
const LANE_LOAD_CELLS: usize = 1 << 20;

/// For each acyclic edge between two lanes, the last layer whose dummy goes in its
/// source's lane; the rest go in its target's. A lane's band is as tall as its tallest
/// stack in a layer, so each edge, in turn, switches where the two lanes' tallest stacks
/// (nodes, the dummies of edges inside a lane, those of the edges before) grow least,
/// the latest such layer when several do.
fn lane_switches(
    layer: &[u32],
    lane: &[u32],
    height: &[f64],
    dag: &[(u32, u32)],
    with_dummies: &[bool],
) -> Vec<u32> {
    let mut switches: Vec<u32> = dag
        .iter()
        .map(|&(_, b)| layer[b as usize].saturating_sub(1))
        .collect();
    let layers = layer.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let lanes = lane.iter().map(|&k| k as usize + 1).max().unwrap_or(0);
    if lanes.saturating_mul(layers) > LANE_LOAD_CELLS {
        return switches;
    }
    let cell = |k: u32, l: u32| k as usize * layers + l as usize;
    let mut load = vec![0.0f64; lanes * layers];
    for (v, &k) in lane.iter().enumerate() {
        load[cell(k, layer[v])] += height[v] + NODE_GAP;
    }
    let crossing = |e: usize| {
        let (a, b) = (dag[e].0 as usize, dag[e].1 as usize);
        with_dummies[e] && lane[a] != lane[b] && layer[b] > layer[a] + 1
    };
    for (e, &(a, b)) in dag.iter().enumerate() {
        if with_dummies[e] && lane[a as usize] == lane[b as usize] {
            for l in layer[a as usize] + 1..layer[b as usize] {
                load[cell(lane[a as usize], l)] += DUMMY_GAP;
            }
        }
    }
    let mut tallest = vec![0.0f64; lanes];
    for (i, &value) in load.iter().enumerate() {
        tallest[i / layers.max(1)] = tallest[i / layers.max(1)].max(value);
    }
    let mut after: Vec<f64> = Vec::new();
    for e in (0..dag.len()).filter(|&e| crossing(e)) {
        let (a, b) = (dag[e].0 as usize, dag[e].1 as usize);
        let (from, to) = (layer[a], layer[b]);
        let (source, target) = (lane[a], lane[b]);
        // after[i]: the target's tallest stack with the dummies of layers from + 1 + i on.
        after.clear();
        after.resize((to - from) as usize, tallest[target as usize]);
        for l in (from + 1..to).rev() {
            let i = (l - from - 1) as usize;
            after[i] = after[i + 1].max(load[cell(target, l)] + DUMMY_GAP);
        }
        let mut before = tallest[source as usize];
        let mut best = (after[0] - tallest[target as usize], from);
        for switch in from + 1..to {
            before = before.max(load[cell(source, switch)] + DUMMY_GAP);
            let growth = before - tallest[source as usize] + after[(switch - from) as usize]
                - tallest[target as usize];
            if growth <= best.0 {
                best = (growth, switch);
            }
        }
        let switch = best.1;
        switches[e] = switch;
        for l in from + 1..to {
            let k = if l <= switch { source } else { target };
            load[cell(k, l)] += DUMMY_GAP;
            tallest[k as usize] = tallest[k as usize].max(load[cell(k, l)]);
        }
    }
    switches
}

/// The nodes and dummies being ordered and placed: items `0..n` are the graph's nodes,
/// the rest dummies; segments join items of neighbouring layers.
struct Items {
    n: usize,
    layer: Vec<u32>,
    /// With lanes, the lane of each item (a dummy's is its edge's source's up to half way,
    /// then its target's); else empty.
    lane: Vec<u32>,
    height: Vec<f64>,
    /// The first dummy of each acyclic edge and how many it has.
    chains: Vec<(u32, u32)>,
    /// Neighbours in the layer before and after, with the segment's weight.
    up: Csr<(u32, f32)>,
    down: Csr<(u32, f32)>,
    layers: Vec<Vec<u32>>,
    position: Vec<u32>,
}

impl Items {
    fn new(
        n: usize,
        layer: &[u32],
        sizes: &[(f64, f64)],
        dag: &[(u32, u32)],
        lane_of: Option<&[u32]>,
    ) -> Items {
        let mut layer = layer.to_vec();
        let mut lane = lane_of.map_or_else(Vec::new, <[u32]>::to_vec);
        let mut height: Vec<f64> = sizes.iter().map(|s| s.1).collect();
        // Dummies, bounded: the shortest edges get theirs first.
        let span = |&(a, b): &(u32, u32)| (layer[b as usize] - layer[a as usize]) as usize;
        let wanted: usize = dag.iter().map(|e| span(e) - 1).sum();
        let budget = DUMMIES_PER_ELEMENT * (n + dag.len());
        let mut with_dummies = vec![true; dag.len()];
        if wanted > budget {
            let mut by_span: Vec<usize> = (0..dag.len()).collect();
            by_span.sort_by_key(|&e| (span(&dag[e]), e));
            let mut used = 0;
            for e in by_span {
                let need = span(&dag[e]) - 1;
                if used + need > budget {
                    with_dummies[e] = false;
                } else {
                    used += need;
                }
            }
        }
        let switches = match lane_of {
            Some(lane_of) => lane_switches(&layer, lane_of, &height, dag, &with_dummies),
            None => Vec::new(),
        };
        let mut chains = Vec::with_capacity(dag.len());
        let mut segments: Vec<(u32, u32, f32)> = Vec::with_capacity(dag.len());
        let weight = |a: u32, b: u32| match (a as usize >= n, b as usize >= n) {
            (false, false) => 1.0,
            (true, true) => 8.0,
            _ => 2.0,
        };
        for (e, &(a, b)) in dag.iter().enumerate() {
            let first = layer.len() as u32;
            if !with_dummies[e] {
                chains.push((first, 0));
                continue;
            }
            let mut previous = a;
            let (from, to) = (layer[a as usize], layer[b as usize]);
            for l in from + 1..to {
                let d = layer.len() as u32;
                layer.push(l);
                if let Some(&switch) = switches.get(e) {
                    let end = if l <= switch { a } else { b };
                    lane.push(lane[end as usize]);
                }
                height.push(0.0);
                segments.push((previous, d, weight(previous, d)));
                previous = d;
            }
            segments.push((previous, b, weight(previous, b)));
            chains.push((first, layer.len() as u32 - first));
        }
        let count = layer.len();
        let up = Csr::new(
            count,
            segments.iter().map(|&(a, b, w)| (b as usize, (a, w))),
        );
        let down = Csr::new(
            count,
            segments.iter().map(|&(a, b, w)| (a as usize, (b, w))),
        );
        let layers = layer.iter().map(|&l| l as usize + 1).max().unwrap_or(0);

        // First order: breadth first from the items nothing enters, by index; with lanes,
        // then by lane.
        let roots: Vec<u32> = (0..count as u32)
            .filter(|&v| up.of(v as usize).is_empty())
            .collect();
        let mut seen = vec![false; count];
        let mut queue = Vec::with_capacity(count);
        for root in roots {
            seen[root as usize] = true;
            queue.push(root);
        }
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head] as usize;
            head += 1;
            for &(w, _) in down.of(v) {
                if !seen[w as usize] {
                    seen[w as usize] = true;
                    queue.push(w);
                }
            }
        }
        let mut by_layer: Vec<Vec<u32>> = vec![Vec::new(); layers];
        let mut position = vec![0u32; count];
        for v in queue {
            by_layer[layer[v as usize] as usize].push(v);
        }
        for l in &mut by_layer {
            if !lane.is_empty() {
                l.sort_by_key(|&v| lane[v as usize]);
            }
            for (p, &v) in l.iter().enumerate() {
                position[v as usize] = p as u32;
            }
        }
        Items {
            n,
            layer,
            lane,
            height,
            chains,
            up,
            down,
            layers: by_layer,
            position,
        }
    }

    /// The dummies of acyclic edge `e`, from its source to its target.
    fn chain(&self, e: usize) -> impl Iterator<Item = usize> {
        let (first, count) = self.chains[e];
        first as usize..(first + count) as usize
    }

    fn is_dummy(&self, v: usize) -> bool {
        v >= self.n
    }

    /// Barycentre sweeps, down then up, keeping the order with the fewest crossings.
    fn order(&mut self) {
        if self.layers.len() < 2 {
            return;
        }
        let mut keys = Vec::new();
        let work = self.layer.len() + self.up.targets.len();
        let sweeps = (SWEEP_WORK / work.max(1)).clamp(1, MAX_SWEEPS);
        // The best of the swept orders.
        let mut best = u64::MAX;
        let mut best_layers = Vec::new();
        let mut stale = 0;
        for _ in 0..sweeps {
            for l in 1..self.layers.len() {
                self.sort_layer(l, true, &mut keys);
            }
            for l in (0..self.layers.len() - 1).rev() {
                self.sort_layer(l, false, &mut keys);
            }
            let crossings = self.crossings();
            if crossings < best {
                // Less than 1% better counts as no better, for stopping.
                let small = crossings > best - best / 100;
                best = crossings;
                best_layers.clone_from(&self.layers);
                stale = if small { stale + 1 } else { 0 };
            } else {
                stale += 1;
            }
            if best == 0 || stale >= 2 {
                break;
            }
        }
        self.layers = best_layers;
        for layer in &self.layers {
            for (p, &v) in layer.iter().enumerate() {
                self.position[v as usize] = p as u32;
            }
        }
    }

    /// Sorts layer `l` by the barycentre of its neighbours in the layer before (`down`)
    /// or after (with lanes, by lane first); ties by item.
    fn sort_layer(&mut self, l: usize, down: bool, keys: &mut Vec<u128>) {
        let (adjacent, neighbours) = if down {
            (l - 1, &self.up)
        } else {
            (l + 1, &self.down)
        };
        let adjacent_len = self.layers[adjacent].len().max(1) as f64;
        let own_len = self.layers[l].len().max(1) as f64;
        // (lane, key, item) packed in order.
        keys.clear();
        for &v in &self.layers[l] {
            let v = v as usize;
            let mut sum = 0.0;
            let mut count = 0usize;
            for &(w, _) in neighbours.of(v) {
                sum += self.position[w as usize] as f64 + 0.5;
                count += 1;
            }
            let key = if count > 0 {
                sum / count as f64 / adjacent_len
            } else {
                (self.position[v] as f64 + 0.5) / own_len
            };
            let lane = self.lane.get(v).copied().unwrap_or(0);
            keys.push(((lane as u128) << 96) | ((ordered_bits(key) as u128) << 32) | v as u128);
        }
        keys.sort_unstable();
        let layer = &mut self.layers[l];
        for (p, &packed) in keys.iter().enumerate() {
            let v = packed as u32;
            layer[p] = v;
            self.position[v as usize] = p as u32;
        }
    }

    /// Segments crossing between neighbouring layers (Barth, Jünger, Mutzel: inversions
    /// counted with a Fenwick tree).
    fn crossings(&self) -> u64 {
        let mut total = 0u64;
        let mut sequence: Vec<u32> = Vec::new();
        let mut tree: Vec<u32> = Vec::new();
        for l in 0..self.layers.len().saturating_sub(1) {
            sequence.clear();
            for &v in &self.layers[l] {
                let start = sequence.len();
                sequence.extend(
                    self.down
                        .of(v as usize)
                        .iter()
                        .map(|&(w, _)| self.position[w as usize]),
                );
                sequence[start..].sort_unstable();
            }
            let size = self.layers[l + 1].len();
            tree.clear();
            tree.resize(size + 1, 0);
            for (seen, &p) in sequence.iter().enumerate() {
                // Earlier entries at most p.
                let mut i = p as usize + 1;
                let mut at_most = 0u64;
                while i > 0 {
                    at_most += tree[i] as u64;
                    i &= i - 1;
                }
                total += seen as u64 - at_most;
                let mut i = p as usize + 1;
                while i <= size {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }

    /// Space between the centres of two items next to each other in a layer.
    fn separation(&self, a: usize, b: usize) -> f64 {
        let gap = if self.is_dummy(a) || self.is_dummy(b) {
            DUMMY_GAP
        } else {
            NODE_GAP
        };
        (self.height[a] + self.height[b]) / 2.0 + gap
    }

    /// The runs of `layer` in one lane (the whole layer without lanes), as index ranges.
    fn runs<'a>(&'a self, layer: &'a [u32]) -> impl Iterator<Item = Range<usize>> + 'a {
        let mut start = 0;
        std::iter::from_fn(move || {
            if start >= layer.len() {
                return None;
            }
            let mut end = layer.len();
            if !self.lane.is_empty() {
                let lane = self.lane[layer[start] as usize];
                end = start + 1;
                while end < layer.len() && self.lane[layer[end] as usize] == lane {
                    end += 1;
                }
            }
            let run = start..end;
            start = end;
            Some(run)
        })
    }

    /// The range of the shift of a run of a layer (its items' centres minus their offsets)
    /// that keeps the run inside its lane's band.
    fn shifts(&self, run: &[u32], offset: &[f64], bands: &[(f64, f64)]) -> (f64, f64) {
        let (first, last) = (run[0] as usize, run[run.len() - 1] as usize);
        let (top, bottom) = bands[self.lane[first] as usize];
        (
            top + self.height[first] / 2.0,
            bottom - self.height[last] / 2.0 - offset[last],
        )
    }

    /// Vertical centres: each layer stacked, then moved towards its neighbours in the
    /// layer before, then after (a few times), then both, each time as close as the
    /// spacing allows in the least-squares sense.
    ///
    /// With lanes, each lane is a band as tall as its tallest stack in a layer (plus room
    /// for the box of its group), the bands one under the other in the lanes' order, and
    /// each layer's run of items in a lane stays inside its band (the least-squares
    /// position clamped, which is the least-squares position under that bound too).
    /// Returns the centres and, per lane, its band's top and bottom.
    fn place_vertically(&self, lane_group: &[u32]) -> (Vec<f64>, Vec<(f64, f64)>) {
        // Where each item sits in its run when stacked tight from 0.
        let mut offset = vec![0.0f64; self.layer.len()];
        let mut y = vec![0.0f64; self.layer.len()];
        let lanes = if self.lane.is_empty() {
            0
        } else {
            lane_group.len()
        };
        let mut tallest = vec![0.0f64; lanes];
        for layer in &self.layers {
            for run in self.runs(layer) {
                let run = &layer[run];
                let mut at = 0.0;
                for (i, &v) in run.iter().enumerate() {
                    if i > 0 {
                        at += self.separation(run[i - 1] as usize, v as usize);
                    }
                    offset[v as usize] = at;
                }
                if lanes == 0 {
                    for &v in run {
                        y[v as usize] = offset[v as usize] - at / 2.0;
                    }
                } else {
                    let (first, last) = (run[0] as usize, run[run.len() - 1] as usize);
                    let lane = self.lane[first] as usize;
                    let extent = at + (self.height[first] + self.height[last]) / 2.0;
                    tallest[lane] = tallest[lane].max(extent);
                }
            }
        }
        // Bands, top to bottom: room for the label above a group's, padding below.
        let mut bands = Vec::with_capacity(lanes);
        let mut at = 0.0;
        for (lane, &g) in lane_group.iter().enumerate().take(lanes) {
            let (above, below) = if g != NONE {
                (GROUP_LABEL, GROUP_PADDING)
            } else {
                (0.0, 0.0)
            };
            let top = at + above;
            bands.push((top, top + tallest[lane]));
            at = top + tallest[lane] + below + GROUP_GAP;
        }
        if lanes > 0 {
            for layer in &self.layers {
                for run in self.runs(layer) {
                    let run = &layer[run];
                    let (low, high) = self.shifts(run, &offset, &bands);
                    for &v in run {
                        y[v as usize] = (low + high) / 2.0 + offset[v as usize];
                    }
                }
            }
        }
        let mut pava = Pava::default();
        let layers = self.layers.len();
        let place = |l, side, y: &mut [f64], pava: &mut Pava| {
            self.place_layer(l, side, &offset, &bands, y, pava);
        };
        for _ in 0..PLACEMENT_SWEEPS {
            for l in 1..layers {
                place(l, Side::Before, &mut y, &mut pava);
            }
            for l in (0..layers.saturating_sub(1)).rev() {
                place(l, Side::After, &mut y, &mut pava);
            }
        }
        for l in 0..layers {
            place(l, Side::Both, &mut y, &mut pava);
        }
        (y, bands)
    }

    /// Moves layer `l` as close to its neighbours on `side` (the other side for items
    /// without any there) as the spacing (and, with lanes, the bands) allows.
    fn place_layer(
        &self,
        l: usize,
        side: Side,
        offset: &[f64],
        bands: &[(f64, f64)],
        y: &mut [f64],
        pava: &mut Pava,
    ) {
        let layer = &self.layers[l];
        if layer.is_empty() {
            return;
        }
        let pull = |adjacency: &Csr<(u32, f32)>, v: usize| {
            let (mut sum, mut weight) = (0.0, 0.0);
            for &(w, segment) in adjacency.of(v) {
                sum += segment as f64 * y[w as usize];
                weight += segment as f64;
            }
            (sum, weight)
        };
        pava.targets.clear();
        pava.weights.clear();
        for &v in layer {
            let v = v as usize;
            let (sum, weight) = match side {
                Side::Before => match pull(&self.up, v) {
                    (_, 0.0) => {
                        let (sum, weight) = pull(&self.down, v);
                        (sum / 2.0, weight / 2.0)
                    }
                    found => found,
                },
                Side::After => match pull(&self.down, v) {
                    (_, 0.0) => {
                        let (sum, weight) = pull(&self.up, v);
                        (sum / 2.0, weight / 2.0)
                    }
                    found => found,
                },
                Side::Both => {
                    let (before, after) = (pull(&self.up, v), pull(&self.down, v));
                    (before.0 + after.0, before.1 + after.1)
                }
            };
            let (desired, weight) = if weight > 0.0 {
                (sum / weight, weight)
            } else {
                (y[v], 0.05)
            };
            pava.targets.push(desired - offset[v]);
            pava.weights.push(weight);
        }
        if bands.is_empty() {
            pava.solve();
            for (i, &v) in layer.iter().enumerate() {
                y[v as usize] = pava.solution[i] + offset[v as usize];
            }
            return;
        }
        pava.solution.clear();
        for run in self.runs(layer) {
            pava.solve_range(run.clone());
            let (low, high) = self.shifts(&layer[run.clone()], offset, bands);
            for i in run {
                let v = layer[i] as usize;
                y[v] = pava.solution[i].min(high).max(low) + offset[v];
            }
        }
    }
}

/// The bits of `value` as an integer in the same order (for finite values).
fn ordered_bits(value: f64) -> u64 {
    let bits = value.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The inverse of [`ordered_bits`].
fn unordered_bits(bits: u64) -> u64 {
    if bits >> 63 == 1 {
        bits & !(1 << 63)
    } else {
        !bits
    }
}

#[derive(Clone, Copy)]
enum Side {
    Before,
    After,
    Both,
}

/// Weighted isotonic regression (pool adjacent violators): the non-decreasing sequence
/// closest to `targets` in weighted least squares.
#[derive(Default)]
struct Pava {
    targets: Vec<f64>,
    weights: Vec<f64>,
    solution: Vec<f64>,
    /// (weight, weighted sum, items)
    blocks: Vec<(f64, f64, usize)>,
}

impl Pava {
    fn solve(&mut self) {
        self.solution.clear();
        self.solve_range(0..self.targets.len());
    }

    /// The same for `targets[range]` alone, appended to `solution`.
    fn solve_range(&mut self, range: Range<usize>) {
        self.blocks.clear();
        for (&t, &w) in self.targets[range.clone()].iter().zip(&self.weights[range]) {
            let mut block = (w, w * t, 1usize);
            while let Some(&last) = self.blocks.last() {
                if last.1 / last.0 >= block.1 / block.0 {
                    block = (last.0 + block.0, last.1 + block.1, last.2 + block.2);
                    self.blocks.pop();
                } else {
                    break;
                }
            }
            self.blocks.push(block);
        }
        for &(w, sum, items) in &self.blocks {
            let mean = sum / w;
            self.solution.extend(std::iter::repeat_n(mean, items));
        }
    }
}

// ---------------------------------------------------------------------------------------
// SVG.

/// An SVG path `d` through `points`: straight where two points share an x or a y, else a
/// cubic curve leaving and arriving horizontally. Numbers have at most one decimal.
pub fn svg_path(points: &[(f64, f64)]) -> String {
    let clean = |v: f64| {
        if v.is_finite() {
            v.clamp(-1e12, 1e12)
        } else {
            0.0
        }
    };
    let mut d = String::with_capacity(points.len() * 24);
    let mut previous = (0.0, 0.0);
    for (i, &(x, y)) in points.iter().enumerate() {
        let (x, y) = (clean(x), clean(y));
        let (px, py) = std::mem::replace(&mut previous, (x, y));
        if i == 0 {
            d.push('M');
        } else if (x - px).abs() < 0.05 || (y - py).abs() < 0.05 {
            d.push_str(" L");
        } else {
            let middle = (px + x) / 2.0;
            d.push_str(" C");
            for value in [middle, py, middle, y] {
                number(&mut d, value);
                d.push(' ');
            }
        }
        number(&mut d, x);
        d.push(' ');
        number(&mut d, y);
    }
    d
}

/// `value` (finite, not huge) with at most one decimal, no trailing `.0`, no `-0`.
fn number(out: &mut String, value: f64) {
    let tenths = (value * 10.0).round() as i64;
    let (sign, tenths) = if tenths < 0 {
        ("-", -tenths)
    } else {
        ("", tenths)
    };
    let _ = if tenths % 10 == 0 {
        write!(out, "{sign}{}", tenths / 10)
    } else {
        write!(out, "{sign}{}.{}", tenths / 10, tenths % 10)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edge, Mode, Model, Node, NodeKind};
    use proptest::prelude::*;

    fn node(name: &str, system: &str, domain: &str, owner: &str, health: &str) -> Node {
        Node {
            system: (!system.is_empty()).then(|| system.to_owned()),
            domain: (!domain.is_empty()).then(|| domain.to_owned()),
            owner: (!owner.is_empty()).then(|| owner.to_owned()),
            health: (!health.is_empty()).then(|| health.to_owned()),
            ..Node::service(name)
        }
    }

    fn model(nodes: Vec<Node>, edges: Vec<Edge>) -> Model {
        let mut model = Model {
            nodes,
            edges,
            ..Model::default()
        };
        model.merge_edges();
        model
    }

    fn chain(names: &[&str]) -> Model {
        model(
            names.iter().map(|n| Node::service(n)).collect(),
            names
                .windows(2)
                .map(|w| Edge::observed(w[0], w[1], Mode::Sync, 10.0))
                .collect(),
        )
    }

    fn ids(graph: &Graph) -> Vec<&str> {
        graph.nodes.iter().map(|n| n.id.as_str()).collect()
    }

    fn index(graph: &Graph, id: &str) -> usize {
        graph.nodes.iter().position(|n| n.id == id).unwrap()
    }

    /// Two systems of two services each, plus one alone.
    fn systems() -> Model {
        let mut calls = Edge::observed("a1", "b1", Mode::Sync, 100.0);
        calls.errors = 10.0;
        model(
            vec![
                node("a1", "alpha", "sales", "team-a", "healthy"),
                node("a2", "alpha", "sales", "team-a", "degraded"),
                node("b1", "beta", "stock", "team-b", "healthy"),
                node("b2", "beta", "stock", "team-b", ""),
                node("lone", "", "", "", "failing"),
            ],
            vec![
                calls,
                Edge::observed("a2", "b1", Mode::Sync, 50.0),
                Edge::declared("a2", "b2", Mode::Async),
                Edge::observed("a1", "a2", Mode::Sync, 5.0),
                Edge::observed("b1", "lone", Mode::Sync, 7.0),
            ],
        )
    }

    #[test]
    fn a_chain_runs_left_to_right() {
        let graph = aggregate(&chain(&["a", "b", "c", "d"]), &View::default());
        assert_eq!(ids(&graph), ["a", "b", "c", "d"]);
        assert_eq!(graph.edges.len(), 3);
        let placed = layout(&graph);
        assert_eq!(placed.nodes.len(), 4);
        for pair in placed.nodes.windows(2) {
            assert!(pair[0].x + pair[0].width < pair[1].x, "{placed:?}");
        }
        // A straight chain: every centre on one line.
        let centre = |p: &Placed| p.y + p.height / 2.0;
        for p in &placed.nodes {
            assert!((centre(p) - centre(&placed.nodes[0])).abs() < 1e-6);
        }
        for route in &placed.edges {
            assert!(!route.reversed);
            let edge = &graph.edges[route.index];
            let (from, to) = (&placed.nodes[edge.from], &placed.nodes[edge.to]);
            assert_eq!(route.points.first().unwrap().0, from.x + from.width);
            assert_eq!(route.points.last().unwrap().0, to.x);
        }
        assert!(placed.width >= placed.nodes[3].x + placed.nodes[3].width);
        assert!(placed.height >= NODE_HEIGHT);
    }

    #[test]
    fn a_cycle_reverses_one_edge() {
        let mut model = chain(&["a", "b", "c"]);
        model.edges.push(Edge::observed("c", "a", Mode::Sync, 1.0));
        model.merge_edges();
        let graph = aggregate(&model, &View::default());
        let placed = layout(&graph);
        assert_eq!(placed.edges.len(), 3);
        let reversed: Vec<_> = placed.edges.iter().filter(|r| r.reversed).collect();
        assert_eq!(reversed.len(), 1);
        let edge = &graph.edges[reversed[0].index];
        // Reversed: drawn from the caller's left side back to the callee's right side.
        let (from, to) = (&placed.nodes[edge.from], &placed.nodes[edge.to]);
        assert!(from.x > to.x);
        assert_eq!(reversed[0].points.first().unwrap().0, from.x);
        assert_eq!(reversed[0].points.last().unwrap().0, to.x + to.width);
        // Two nodes calling each other.
        let graph = aggregate(&model_of_pairs(&[("x", "y"), ("y", "x")]), &View::default());
        let placed = layout(&graph);
        assert_eq!(placed.edges.iter().filter(|r| r.reversed).count(), 1);
        // The two routes do not coincide.
        assert_ne!(
            placed.edges[0].points.first(),
            placed.edges[1].points.last()
        );
    }

    fn model_of_pairs(pairs: &[(&str, &str)]) -> Model {
        model(
            Vec::new(),
            pairs
                .iter()
                .map(|(a, b)| Edge::observed(a, b, Mode::Sync, 1.0))
                .collect(),
        )
    }

    #[test]
    fn collapsed_clusters_merge_edges_and_count() {
        let view = View {
            group_by: GroupBy::System,
            collapse_above: 3,
            ..View::default()
        };
        let graph = aggregate(&systems(), &view);
        assert_eq!(ids(&graph), ["lone", "cluster:alpha", "cluster:beta"]);
        let (lone, alpha, beta) = (0, 1, 2);
        let a = &graph.nodes[alpha];
        assert_eq!(a.kind, "cluster");
        assert_eq!(a.label, "alpha");
        assert_eq!(a.members, 2);
        assert_eq!(a.internal_edges, 1);
        assert_eq!(a.health.as_deref(), Some("degraded"));
        assert_eq!(a.group.as_deref(), Some("alpha"));
        // A member without health counts as unknown.
        assert_eq!(graph.nodes[beta].health.as_deref(), Some("unknown"));
        assert_eq!(graph.nodes[lone].group, None);
        assert_eq!(graph.edges.len(), 2);
        let ab = &graph.edges[0];
        assert_eq!((ab.from, ab.to), (alpha, beta));
        assert_eq!(ab.merged, 3);
        assert_eq!(ab.calls, 150.0);
        assert_eq!(ab.errors, 10.0);
        assert!((ab.error_ratio - 10.0 / 150.0).abs() < 1e-12);
        assert!(ab.declared && ab.observed);
        assert!(!ab.sync, "one merged edge is asynchronous");
        assert!(!ab.highlighted);
        let bl = &graph.edges[1];
        assert_eq!((bl.from, bl.to, bl.merged, bl.sync), (beta, lone, 1, true));
        assert_eq!(graph.groups.len(), 2);
        assert_eq!(
            graph.groups[0],
            Group {
                key: "alpha".into(),
                label: "alpha".into(),
                members: vec![alpha],
                collapsed: true,
            }
        );
        assert_eq!(graph.hidden, 0);
        let placed = layout(&graph);
        assert_eq!(placed.nodes[alpha].height, CLUSTER_HEIGHT);
        assert_eq!(placed.nodes[lone].height, NODE_HEIGHT);
        assert!(placed.nodes[alpha].x < placed.nodes[beta].x);
        assert!(placed.nodes[beta].x < placed.nodes[lone].x);
        // No box around a cluster.
        assert!(placed.groups.is_empty());
    }

    #[test]
    fn a_group_asked_closed_collapses_below_the_threshold_and_expanded_wins() {
        let view = View {
            group_by: GroupBy::System,
            collapsed: vec!["alpha".into()],
            ..View::default()
        };
        let graph = aggregate(&systems(), &view);
        assert_eq!(ids(&graph), ["b1", "b2", "lone", "cluster:alpha"]);
        let both = View {
            expanded: vec!["alpha".into()],
            ..view
        };
        let graph = aggregate(&systems(), &both);
        assert_eq!(ids(&graph), ["a1", "a2", "b1", "b2", "lone"]);
    }

    #[test]
    fn expanded_clusters_and_few_nodes_stay_open_as_groups() {
        let open = View {
            group_by: GroupBy::System,
            collapse_above: 3,
            expanded: vec!["beta".into()],
            ..View::default()
        };
        let graph = aggregate(&systems(), &open);
        assert_eq!(ids(&graph), ["b1", "b2", "lone", "cluster:alpha"]);
        assert_eq!(graph.groups[1].members, [0, 1]);
        assert!(!graph.groups[1].collapsed);
        assert_eq!(graph.nodes[0].group.as_deref(), Some("beta"));
        // cluster:alpha → b1 merges two edges, → b2 one.
        let merged: Vec<_> = graph
            .edges
            .iter()
            .map(|e| (e.from, e.to, e.merged))
            .collect();
        assert_eq!(merged, [(0, 2, 1), (3, 0, 2), (3, 1, 1)]);

        // Under the threshold nothing collapses, but groups are reported.
        let view = View {
            group_by: GroupBy::System,
            ..View::default()
        };
        let graph = aggregate(&systems(), &view);
        assert_eq!(ids(&graph), ["a1", "a2", "b1", "b2", "lone"]);
        assert_eq!(graph.groups.len(), 2);
        assert!(graph.groups.iter().all(|g| !g.collapsed));
        assert_eq!(graph.groups[0].members, [0, 1]);
        let placed = layout(&graph);
        // Boxes surround their members.
        for b in &placed.groups {
            for &m in &graph.groups[b.index].members {
                let p = &placed.nodes[m];
                assert!(b.x <= p.x && p.x + p.width <= b.x + b.width);
                assert!(b.y + GROUP_LABEL <= p.y + 1e-9 && p.y + p.height <= b.y + b.height);
            }
        }

        // By domain and owner.
        for group_by in [GroupBy::Domain, GroupBy::Owner] {
            let graph = aggregate(
                &systems(),
                &View {
                    group_by,
                    collapse_above: 0,
                    ..View::default()
                },
            );
            assert_eq!(graph.nodes.len(), 3, "{group_by:?}");
        }
        // Without grouping: no groups.
        let graph = aggregate(
            &systems(),
            &View {
                collapse_above: 0,
                ..View::default()
            },
        );
        assert_eq!(graph.nodes.len(), 5);
        assert!(graph.groups.is_empty());
    }

    #[test]
    fn focus_shows_a_neighbourhood() {
        let model = chain(&["a", "b", "c", "d", "e"]);
        let focus = |hops| View {
            focus: Some("c".into()),
            hops,
            ..View::default()
        };
        let graph = aggregate(&model, &focus(1));
        assert_eq!(ids(&graph), ["b", "c", "d"]);
        assert_eq!(graph.hidden, 2);
        assert!(graph.nodes[1].focus);
        assert!(!graph.nodes[0].focus);
        assert_eq!(graph.edges.len(), 2);
        assert_eq!(
            ids(&aggregate(&model, &focus(2))),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(ids(&aggregate(&model, &focus(0))), ["c"]);
        assert_eq!(ids(&aggregate(&model, &focus(99))).len(), 5);
        // An unknown focus shows nothing.
        let graph = aggregate(
            &model,
            &View {
                focus: Some("nowhere".into()),
                ..View::default()
            },
        );
        assert!(graph.nodes.is_empty() && graph.edges.is_empty());
        assert_eq!(graph.hidden, 5);
        // The focused node's cluster never collapses.
        let mut grouped = model.clone();
        for n in &mut grouped.nodes {
            n.system = Some("s".into());
        }
        let graph = aggregate(
            &grouped,
            &View {
                group_by: GroupBy::System,
                collapse_above: 0,
                ..focus(1)
            },
        );
        assert_eq!(ids(&graph), ["b", "c", "d"]);
    }

    #[test]
    fn focus_walks_through_filtered_nodes_only() {
        let model = model(
            vec![
                node("a", "", "x", "", ""),
                node("b", "", "y", "", ""),
                node("c", "", "x", "", ""),
            ],
            vec![
                Edge::observed("a", "b", Mode::Sync, 1.0),
                Edge::observed("b", "c", Mode::Sync, 1.0),
            ],
        );
        let view = View {
            domain: Some("x".into()),
            focus: Some("a".into()),
            hops: 2,
            ..View::default()
        };
        assert_eq!(ids(&aggregate(&model, &view)), ["a"]);
        // The focused node shows even when filtered out.
        let view = View {
            domain: Some("y".into()),
            focus: Some("a".into()),
            ..View::default()
        };
        assert_eq!(ids(&aggregate(&model, &view)), ["a", "b"]);
    }

    #[test]
    fn search_marks_nodes_and_clusters() {
        let view = View {
            search: Some("  A2 ".into()),
            ..View::default()
        };
        let graph = aggregate(&systems(), &view);
        let marked: Vec<_> = graph
            .nodes
            .iter()
            .filter(|n| n.matched)
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(marked, ["a2"]);
        let graph = aggregate(
            &systems(),
            &View {
                group_by: GroupBy::System,
                collapse_above: 0,
                ..view
            },
        );
        assert!(graph.nodes[index(&graph, "cluster:alpha")].matched);
        assert!(!graph.nodes[index(&graph, "cluster:beta")].matched);
        // An empty search marks nothing.
        let graph = aggregate(
            &systems(),
            &View {
                search: Some(String::new()),
                ..View::default()
            },
        );
        assert!(graph.nodes.iter().all(|n| !n.matched));
    }

    #[test]
    fn filters_keep_matching_nodes_and_their_edges() {
        let only = |view: View| ids(&aggregate(&systems(), &view)).join(" ");
        let domain = View {
            domain: Some("sales".into()),
            ..View::default()
        };
        assert_eq!(only(domain.clone()), "a1 a2");
        assert_eq!(aggregate(&systems(), &domain).hidden, 3);
        assert_eq!(aggregate(&systems(), &domain).edges.len(), 1);
        let owner = View {
            owner: Some("team-b".into()),
            ..View::default()
        };
        assert_eq!(only(owner), "b1 b2");
        let health = |h: &str| View {
            health: Some(h.into()),
            ..View::default()
        };
        assert_eq!(only(health("healthy")), "a1 b1");
        assert_eq!(only(health("unknown")), "b2");
        assert_eq!(only(health("failing")), "lone");
        let set = View {
            only: Some(vec!["lone".into(), "b1".into(), "nowhere".into()]),
            ..View::default()
        };
        let graph = aggregate(&systems(), &set);
        assert_eq!(ids(&graph), ["b1", "lone"]);
        assert_eq!(graph.edges.len(), 1);
        assert_eq!(graph.hidden, 3);
        let none = View {
            only: Some(Vec::new()),
            ..View::default()
        };
        assert_eq!(only(none), "");
        // An empty filter filters nothing.
        let empty = View {
            domain: Some(String::new()),
            ..View::default()
        };
        assert_eq!(aggregate(&systems(), &empty).nodes.len(), 5);
        // Filters combine.
        let both = View {
            domain: Some("sales".into()),
            health: Some("degraded".into()),
            ..View::default()
        };
        assert_eq!(only(both), "a2");
    }

    #[test]
    fn highlights_mark_edges_and_survive_merging() {
        let view = View {
            highlight: vec![("a2".into(), "b2".into()), ("x".into(), "y".into())],
            ..View::default()
        };
        let graph = aggregate(&systems(), &view);
        let marked: Vec<_> = graph
            .edges
            .iter()
            .filter(|e| e.highlighted)
            .map(|e| {
                (
                    graph.nodes[e.from].id.as_str(),
                    graph.nodes[e.to].id.as_str(),
                )
            })
            .collect();
        assert_eq!(marked, [("a2", "b2")]);
        let graph = aggregate(
            &systems(),
            &View {
                group_by: GroupBy::System,
                collapse_above: 0,
                ..view
            },
        );
        let ab = graph
            .edges
            .iter()
            .find(|e| e.from == index(&graph, "cluster:alpha"))
            .unwrap();
        assert!(ab.highlighted);
    }

    #[test]
    fn an_empty_model_gives_an_empty_drawing() {
        let graph = aggregate(&Model::default(), &View::default());
        assert_eq!(graph, Graph::default());
        let placed = layout(&graph);
        assert_eq!(placed, Layout::default());
        assert_eq!(svg_path(&[]), "");
    }

    #[test]
    fn self_loops_are_drawn_or_counted_inside_clusters() {
        let model = model(
            vec![node("a", "s", "", "", ""), node("b", "s", "", "", "")],
            vec![
                Edge::observed("a", "a", Mode::Sync, 3.0),
                Edge::observed("a", "b", Mode::Sync, 3.0),
            ],
        );
        let graph = aggregate(&model, &View::default());
        assert_eq!(graph.edges.len(), 2);
        assert_eq!((graph.edges[0].from, graph.edges[0].to), (0, 0));
        let placed = layout(&graph);
        assert_eq!(placed.edges.len(), 2);
        let route = &placed.edges[0];
        assert!(!route.reversed);
        assert_eq!(route.points.len(), 4);
        let a = &placed.nodes[0];
        assert!(route
            .points
            .iter()
            .all(|&(x, y)| x >= a.x && x <= a.x + a.width && y <= a.y));
        assert!(route.points.iter().all(|&(_, y)| y >= 0.0));
        // Collapsed: both edges are internal.
        let graph = aggregate(
            &model,
            &View {
                group_by: GroupBy::System,
                collapse_above: 0,
                ..View::default()
            },
        );
        assert_eq!(ids(&graph), ["cluster:s"]);
        assert_eq!(graph.nodes[0].internal_edges, 2);
        assert!(graph.edges.is_empty());
        assert_eq!(layout(&graph).nodes.len(), 1);
    }

    #[test]
    fn unknown_names_and_odd_input_never_panic() {
        // Edges naming nodes the model lacks; nodes unsorted and repeated; odd figures.
        let mut odd = Edge::observed("ghost", "a", Mode::Async, f64::NAN);
        odd.errors = f64::INFINITY;
        let mut negative = Edge::observed("a", "phantom", Mode::Sync, -5.0);
        negative.errors = 3.0;
        let model = Model {
            nodes: vec![
                node("b", "", "", "", ""),
                node("a", "", "", "", ""),
                Node {
                    registered: false,
                    ..node("a", "", "", "", "")
                },
            ],
            edges: vec![odd, negative, Edge::observed("b", "b", Mode::Sync, 1.0)],
            ..Model::default()
        };
        let graph = aggregate(&model, &View::default());
        assert_eq!(ids(&graph), ["a", "b", "ghost", "phantom"]);
        let ghost = &graph.nodes[2];
        assert!(!ghost.registered);
        assert_eq!(ghost.kind, "service");
        assert!(graph.nodes[0].registered);
        for edge in &graph.edges {
            assert!(edge.calls.is_finite() && edge.errors.is_finite());
            assert!(edge.error_ratio.is_finite());
        }
        // A graph with indices out of range, empty labels, a huge label.
        let mut graph = layout_input(3, &[(0, 1), (1, 7), (9, 9), (2, 2)]);
        graph.nodes[0].label = String::new();
        graph.nodes[1].label = "x".repeat(10_000);
        graph.groups.push(Group {
            key: "g".into(),
            label: "g".into(),
            members: vec![0, 42, 0],
            collapsed: false,
        });
        graph.groups.push(Group {
            key: "empty".into(),
            label: "empty".into(),
            members: vec![99],
            collapsed: false,
        });
        let placed = layout(&graph);
        assert_eq!(placed.nodes.len(), 3);
        assert_eq!(
            placed.edges.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 3]
        );
        assert_eq!(placed.nodes[1].width, MAX_NODE_WIDTH);
        assert_eq!(placed.nodes[0].width, MIN_NODE_WIDTH);
        assert_eq!(placed.groups.len(), 1);
        // Serialisable (no NaN anywhere).
        let json = serde_json::to_string(&placed).unwrap();
        assert_eq!(serde_json::from_str::<Layout>(&json).unwrap(), placed);
    }

    #[test]
    fn output_is_deterministic() {
        let mut model = systems();
        let view = View {
            group_by: GroupBy::System,
            collapse_above: 3,
            search: Some("b".into()),
            ..View::default()
        };
        let first = (aggregate(&model, &view), layout(&aggregate(&model, &view)));
        assert_eq!(first.0, aggregate(&model, &view));
        assert_eq!(first.1, layout(&first.0));
        // Node and edge order in the model do not matter.
        model.nodes.reverse();
        model.edges.reverse();
        let second = aggregate(&model, &view);
        assert_eq!(first.0, second);
        assert_eq!(first.1, layout(&second));
        // Round trip through JSON.
        let json = serde_json::to_string(&first.0).unwrap();
        assert_eq!(serde_json::from_str::<Graph>(&json).unwrap(), first.0);
        let json = serde_json::to_string(&view).unwrap();
        assert_eq!(serde_json::from_str::<View>(&json).unwrap(), view);
        assert_eq!(
            serde_json::from_str::<View>(r#"{"group_by":"domain"}"#).unwrap(),
            View {
                group_by: GroupBy::Domain,
                ..View::default()
            }
        );
    }

    #[test]
    fn kinds_are_words() {
        let mut nodes = vec![
            Node::service("s"),
            Node {
                kind: NodeKind::Datastore,
                ..Node::service("d")
            },
            Node {
                kind: NodeKind::External,
                ..Node::service("e")
            },
            Node {
                kind: NodeKind::User,
                ..Node::service("u")
            },
        ];
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let graph = aggregate(&model(nodes, Vec::new()), &View::default());
        let kinds: Vec<_> = graph.nodes.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(kinds, ["datastore", "external", "service", "user"]);
    }

    #[test]
    fn group_members_stay_together_in_a_layer() {
        // One caller of eight callees in two alternating groups.
        let mut graph = layout_input(9, &(1..9).map(|i| (0, i)).collect::<Vec<_>>());
        for g in 0..2 {
            graph.groups.push(Group {
                key: format!("g{g}"),
                label: format!("g{g}"),
                members: (1..9).filter(|i| i % 2 == g).collect(),
                collapsed: false,
            });
        }
        let placed = layout(&graph);
        let mut column: Vec<usize> = (1..9).collect();
        column.sort_by(|&a, &b| placed.nodes[a].y.total_cmp(&placed.nodes[b].y));
        let groups: Vec<usize> = column.iter().map(|i| i % 2).collect();
        let changes = groups.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(changes, 1, "{groups:?}");
        // Their boxes do not overlap.
        let (a, b) = (&placed.groups[0], &placed.groups[1]);
        assert!(
            a.y + a.height <= b.y || b.y + b.height <= a.y,
            "{a:?} {b:?}"
        );
    }

    /// Three domains calling each other, a user calling into one of them, a datastore
    /// outside any domain.
    fn shop() -> Model {
        let calls = [
            ("user", "web-shop"),
            ("web-shop", "cart"),
            ("web-shop", "catalog"),
            ("cart", "checkout"),
            ("checkout", "payments"),
            ("checkout", "stock"),
            ("payments", "ledger"),
            ("ledger", "invoices"),
            ("stock", "picking"),
            ("picking", "shipping"),
            ("shipping", "invoices"),
            ("catalog", "stock"),
            ("web-shop", "checkout"),
            ("cart", "sessions-db"),
            ("checkout", "sessions-db"),
        ];
        let domain = |name: &str| match name {
            "web-shop" | "cart" | "catalog" | "checkout" => "commerce",
            "payments" | "ledger" | "invoices" => "finance",
            "stock" | "picking" | "shipping" => "warehouse",
            _ => "",
        };
        let mut names: Vec<&str> = calls.iter().flat_map(|&(a, b)| [a, b]).collect();
        names.sort_unstable();
        names.dedup();
        let mut nodes: Vec<Node> = names
            .iter()
            .map(|&name| node(name, "", domain(name), "", ""))
            .collect();
        nodes.iter_mut().find(|n| n.name == "user").unwrap().kind = NodeKind::User;
        model(
            nodes,
            calls
                .iter()
                .map(|&(a, b)| Edge::observed(a, b, Mode::Sync, 1.0))
                .collect(),
        )
    }

    #[test]
    fn groups_are_lanes_whose_boxes_hold_their_members_only() {
        let view = View {
            group_by: GroupBy::Domain,
            ..View::default()
        };
        let graph = aggregate(&shop(), &view);
        assert_eq!(graph.groups.len(), 3);
        let placed = layout(&graph);
        assert_eq!(placed.groups.len(), 3);
        assert_group_boxes(&graph, &placed);
        assert_no_overlap(&placed);
        // Lanes: the boxes are bands one under the other.
        for (i, a) in placed.groups.iter().enumerate() {
            for b in &placed.groups[i + 1..] {
                assert!(a.y + a.height < b.y || b.y + b.height < a.y, "{a:?} {b:?}");
            }
        }
        // The user and the datastore sit outside every box.
        for name in ["user", "sessions-db"] {
            let p = &placed.nodes[index(&graph, name)];
            for b in &placed.groups {
                assert!(!overlaps(p, b), "{name} in {b:?}");
            }
        }
        // The user sits next to the lane it calls into: no box between them.
        let (user, web) = (
            &placed.nodes[index(&graph, "user")],
            &placed.nodes[index(&graph, "web-shop")],
        );
        let (low, high) = (user.y.min(web.y), user.y.max(web.y));
        let commerce = graph.groups.iter().position(|g| g.key == "commerce");
        for b in placed.groups.iter().filter(|b| Some(b.index) != commerce) {
            assert!(b.y + b.height < low || high < b.y, "{b:?} between");
        }
        // Collapsing a group turns it into a node outside the lanes.
        let graph = aggregate(
            &shop(),
            &View {
                collapse_above: 0,
                expanded: vec!["finance".into()],
                ..view
            },
        );
        let placed = layout(&graph);
        assert_eq!(placed.groups.len(), 1);
        assert_group_boxes(&graph, &placed);
        assert_no_overlap(&placed);
        // Every group collapsed: as without groups.
        let mut collapsed = graph.clone();
        for group in &mut collapsed.groups {
            group.collapsed = true;
        }
        let mut ungrouped = collapsed.clone();
        ungrouped.groups.clear();
        assert_eq!(layout(&collapsed), layout(&ungrouped));
    }

    #[test]
    fn isolated_members_spread_along_their_lane() {
        // Two groups of 20 nodes without edges, and a chain of 4 outside them.
        let mut graph = layout_input(44, &[(40, 41), (41, 42), (42, 43)]);
        for g in 0..2 {
            graph.groups.push(Group {
                key: format!("g{g}"),
                label: format!("g{g}"),
                members: (g * 20..g * 20 + 20).collect(),
                collapsed: false,
            });
        }
        let placed = layout(&graph);
        assert_group_boxes(&graph, &placed);
        assert_no_overlap(&placed);
        for b in &placed.groups {
            // 20 members over at least 4 columns: 5 rows at most.
            let rows = 5.0 * (CLUSTER_HEIGHT + NODE_GAP);
            assert!(b.height <= rows + GROUP_LABEL + GROUP_PADDING, "{b:?}");
        }
    }

    #[test]
    fn isolated_nodes_fill_columns() {
        let graph = layout_input(40, &[]);
        let placed = layout(&graph);
        let mut columns: Vec<f64> = placed.nodes.iter().map(|p| p.x).collect();
        columns.sort_by(f64::total_cmp);
        columns.dedup();
        assert!(columns.len() >= 3, "{columns:?}");
        assert!(placed.height < 40.0 * (NODE_HEIGHT + NODE_GAP) / 2.0);
        assert_no_overlap(&placed);
    }

    #[test]
    fn long_edges_run_through_dummies() {
        // a → b → c → d and a → d: the long edge passes two layers, straight across each.
        let graph = aggregate(
            &model_of_pairs(&[("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]),
            &View::default(),
        );
        let placed = layout(&graph);
        let long = placed
            .edges
            .iter()
            .find(|r| {
                let e = &graph.edges[r.index];
                (e.from, e.to) == (0, 3)
            })
            .unwrap();
        assert_eq!(long.points.len(), 6);
        assert_eq!(long.points[1].1, long.points[2].1);
        assert_no_overlap(&placed);
        // Not through the nodes of the layers it crosses.
        for &(x, y) in &long.points[1..5] {
            for p in &placed.nodes {
                assert!(!(p.x < x && x < p.x + p.width && p.y <= y && y <= p.y + p.height));
            }
        }
    }

    #[test]
    fn svg_paths() {
        assert_eq!(svg_path(&[(1.0, 2.0)]), "M1 2");
        assert_eq!(
            svg_path(&[(0.0, 0.0), (10.0, 0.0), (10.0, 5.55)]),
            "M0 0 L10 0 L10 5.6"
        );
        assert_eq!(
            svg_path(&[(0.0, 0.0), (10.0, 20.0)]),
            "M0 0 C5 0 5 20 10 20"
        );
        assert_eq!(
            svg_path(&[(-0.04, 1.25), (f64::NAN, 1e300)]),
            "M0 1.3 L0 1000000000000"
        );
        assert_eq!(svg_path(&[(-3.04, 0.0), (-1.26, 0.0)]), "M-3 0 L-1.3 0");
    }

    // ---------------------------------------------------------------------------------
    // Properties.

    fn layout_input(n: usize, edges: &[(usize, usize)]) -> Graph {
        Graph {
            nodes: (0..n)
                .map(|i| GNode {
                    id: format!("n{i}"),
                    label: format!("node-{}", "x".repeat(i % 7)),
                    kind: if i % 5 == 4 { "cluster" } else { "service" }.into(),
                    members: 1 + i % 3,
                    internal_edges: 0,
                    health: None,
                    registered: true,
                    matched: false,
                    focus: false,
                    group: None,
                })
                .collect(),
            edges: edges
                .iter()
                .map(|&(from, to)| GEdge {
                    from,
                    to,
                    calls: 1.0,
                    errors: 0.0,
                    error_ratio: 0.0,
                    declared: true,
                    observed: true,
                    sync: true,
                    highlighted: false,
                    merged: 1,
                })
                .collect(),
            groups: Vec::new(),
            hidden: 0,
        }
    }

    fn assert_no_overlap(placed: &Layout) {
        for (i, a) in placed.nodes.iter().enumerate() {
            for b in &placed.nodes[i + 1..] {
                let apart = a.x + a.width <= b.x + 1e-6
                    || b.x + b.width <= a.x + 1e-6
                    || a.y + a.height <= b.y + 1e-6
                    || b.y + b.height <= a.y + 1e-6;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    fn overlaps(p: &Placed, b: &GroupBox) -> bool {
        p.x < b.x + b.width - 1e-6
            && b.x < p.x + p.width - 1e-6
            && p.y < b.y + b.height - 1e-6
            && b.y < p.y + p.height - 1e-6
    }

    /// Boxes do not overlap; each holds the members of its group (below the label) and
    /// no other node.
    fn assert_group_boxes(graph: &Graph, placed: &Layout) {
        let open: Vec<usize> = (0..graph.groups.len())
            .filter(|&g| !graph.groups[g].collapsed && !graph.groups[g].members.is_empty())
            .collect();
        let indices: Vec<usize> = placed.groups.iter().map(|b| b.index).collect();
        assert_eq!(indices, open, "one box per open group, in order");
        for (i, a) in placed.groups.iter().enumerate() {
            assert!(a.width > 0.0 && a.height > 0.0);
            assert!(a.x >= 0.0 && a.y >= 0.0);
            assert!(a.x + a.width <= placed.width && a.y + a.height <= placed.height);
            for b in &placed.groups[i + 1..] {
                let apart = a.x + a.width <= b.x + 1e-6
                    || b.x + b.width <= a.x + 1e-6
                    || a.y + a.height <= b.y + 1e-6
                    || b.y + b.height <= a.y + 1e-6;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
        for b in &placed.groups {
            let members = &graph.groups[b.index].members;
            for (v, p) in placed.nodes.iter().enumerate() {
                if members.contains(&v) {
                    assert!(
                        b.x <= p.x + 1e-6
                            && p.x + p.width <= b.x + b.width + 1e-6
                            && b.y + GROUP_LABEL <= p.y + 1e-6
                            && p.y + p.height <= b.y + b.height + 1e-6,
                        "member {p:?} outside {b:?}"
                    );
                } else {
                    assert!(!overlaps(p, b), "{p:?} in the box {b:?} of another group");
                }
            }
        }
    }

    /// Groups: 0 to 4, disjoint, some collapsed (into a cluster node of their own, as
    /// [`aggregate`] makes them).
    fn arbitrary_graph() -> impl Strategy<Value = Graph> {
        (1usize..30)
            .prop_flat_map(|n| {
                (
                    Just(n),
                    prop::collection::vec((0..n, 0..n), 0..(3 * n)),
                    prop::collection::vec(prop::option::of(0usize..4), n),
                    prop::collection::vec(prop::bool::weighted(0.25), 4),
                )
            })
            .prop_map(|(n, edges, groups, collapsed)| {
                let mut graph = layout_input(n, &edges);
                for g in 0..4 {
                    let members: Vec<usize> = (0..n).filter(|&i| groups[i] == Some(g)).collect();
                    if !members.is_empty() {
                        let collapsed = collapsed[g] && members.len() == 1;
                        graph.groups.push(Group {
                            key: format!("g{g}"),
                            label: format!("g{g}"),
                            members,
                            collapsed,
                        });
                    }
                }
                graph
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_edge_is_routed_between_placed_nodes(graph in arbitrary_graph()) {
            let placed = layout(&graph);
            prop_assert_eq!(placed.nodes.len(), graph.nodes.len());
            for (i, p) in placed.nodes.iter().enumerate() {
                prop_assert_eq!(p.index, i);
                prop_assert!(p.x >= 0.0 && p.y >= 0.0);
                prop_assert!(p.x + p.width <= placed.width && p.y + p.height <= placed.height);
            }
            prop_assert_eq!(placed.edges.len(), graph.edges.len());
            for (i, route) in placed.edges.iter().enumerate() {
                prop_assert_eq!(route.index, i);
                let edge = &graph.edges[i];
                let (from, to) = (&placed.nodes[edge.from], &placed.nodes[edge.to]);
                prop_assert!(route.points.len() >= 2);
                let (first, last) = (route.points[0], *route.points.last().unwrap());
                if edge.from != edge.to {
                    let on_side = |p: &Placed, (x, y): (f64, f64)| {
                        (x == p.x || x == p.x + p.width) && p.y <= y && y <= p.y + p.height
                    };
                    prop_assert!(on_side(from, first), "{:?} {:?}", from, first);
                    prop_assert!(on_side(to, last), "{:?} {:?}", to, last);
                }
                for &(x, y) in &route.points {
                    prop_assert!(x.is_finite() && y.is_finite());
                    prop_assert!((0.0..=placed.width).contains(&x));
                    prop_assert!((0.0..=placed.height).contains(&y));
                }
            }
        }

        #[test]
        fn edges_not_reversed_run_left_to_right(graph in arbitrary_graph()) {
            let placed = layout(&graph);
            for route in &placed.edges {
                let edge = &graph.edges[route.index];
                if edge.from == edge.to {
                    prop_assert!(!route.reversed);
                    continue;
                }
                let (from, to) = (&placed.nodes[edge.from], &placed.nodes[edge.to]);
                if route.reversed {
                    prop_assert!(to.x + to.width < from.x);
                } else {
                    prop_assert!(from.x + from.width < to.x);
                }
                // Along the route, x only grows (or only shrinks when reversed).
                for pair in route.points.windows(2) {
                    if route.reversed {
                        prop_assert!(pair[1].0 <= pair[0].0);
                    } else {
                        prop_assert!(pair[0].0 <= pair[1].0);
                    }
                }
            }
            // Reversed edges are few: never more than half of those between two nodes.
            let links = graph.edges.iter().filter(|e| e.from != e.to).count();
            let reversed = placed.edges.iter().filter(|r| r.reversed).count();
            prop_assert!(reversed * 2 <= links);
        }

        #[test]
        fn nodes_do_not_overlap(graph in arbitrary_graph()) {
            let placed = layout(&graph);
            assert_no_overlap(&placed);
        }

        #[test]
        fn group_boxes_do_not_overlap_and_hold_their_members_only(graph in arbitrary_graph()) {
            let placed = layout(&graph);
            assert_group_boxes(&graph, &placed);
        }

        #[test]
        fn edges_pass_layers_between_nodes(graph in arbitrary_graph()) {
            // Through a layer an edge passes (from one point to the next at the same y,
            // across the layer's column), it runs clear of the nodes.
            let placed = layout(&graph);
            for route in &placed.edges {
                let edge = &graph.edges[route.index];
                if edge.from == edge.to {
                    continue;
                }
                let inner = &route.points[1..route.points.len() - 1];
                prop_assert_eq!(inner.len() % 2, 0);
                for pair in inner.chunks(2) {
                    let ((x0, y), (x1, y1)) = (pair[0], pair[1]);
                    prop_assert_eq!(y, y1);
                    let (x0, x1) = (x0.min(x1), x0.max(x1));
                    for p in &placed.nodes {
                        let across = p.x < x1 && x0 < p.x + p.width;
                        prop_assert!(!(across && p.y < y && y < p.y + p.height), "{:?} {:?}", pair, p);
                    }
                }
            }
        }

        #[test]
        fn layout_is_deterministic(graph in arbitrary_graph()) {
            prop_assert_eq!(layout(&graph), layout(&graph));
        }

        #[test]
        fn aggregate_never_panics_and_stays_consistent(
            names in prop::collection::vec(0u8..12, 0..12),
            pairs in prop::collection::vec((0u8..14, 0u8..14, any::<bool>()), 0..30),
            systems in prop::collection::vec(prop::option::of(0u8..3), 12),
            group_by in prop::sample::select(vec![GroupBy::None, GroupBy::System, GroupBy::Domain, GroupBy::Owner]),
            collapse_above in 0usize..8,
            focus in prop::option::of(0u8..14),
            hops in 0usize..3,
            only in prop::option::of(prop::collection::vec(0u8..14, 0..6)),
            search in prop::option::of("[a-c0-9]{0,2}"),
        ) {
            let name = |i: u8| format!("n{i}");
            let nodes: Vec<Node> = names
                .iter()
                .map(|&i| Node {
                    system: systems[i as usize].map(|s| format!("s{s}")),
                    domain: systems[i as usize].map(|s| format!("d{}", s % 2)),
                    owner: Some(format!("o{}", i % 2)),
                    health: ["healthy", "failing", "degraded"].get(i as usize % 4).map(|h| h.to_string()),
                    ..Node::service(&name(i))
                })
                .collect();
            let edges: Vec<Edge> = pairs
                .iter()
                .map(|&(a, b, sync)| {
                    Edge::observed(&name(a), &name(b), if sync { Mode::Sync } else { Mode::Async }, a as f64)
                })
                .collect();
            let model = Model { nodes, edges, ..Model::default() };
            let view = View {
                group_by,
                collapse_above,
                focus: focus.map(name),
                hops,
                only: only.map(|o| o.into_iter().map(name).collect()),
                search,
                highlight: vec![(name(1), name(2))],
                ..View::default()
            };
            let graph = aggregate(&model, &view);
            let mut distinct: Vec<&str> = model.nodes.iter().map(|n| n.name.as_str())
                .chain(model.edges.iter().flat_map(|e| [e.caller.as_str(), e.callee.as_str()]))
                .collect();
            distinct.sort_unstable();
            distinct.dedup();
            let shown: usize = graph.nodes.iter().map(|n| n.members).sum();
            prop_assert_eq!(shown + graph.hidden, distinct.len());
            let mut pairs_seen = Vec::new();
            for edge in &graph.edges {
                prop_assert!(edge.from < graph.nodes.len() && edge.to < graph.nodes.len());
                prop_assert!(edge.merged >= 1);
                pairs_seen.push((edge.from, edge.to));
            }
            let count = pairs_seen.len();
            pairs_seen.dedup();
            prop_assert_eq!(count, pairs_seen.len(), "one edge per pair, sorted");
            prop_assert!(pairs_seen.windows(2).all(|w| w[0] < w[1]));
            for group in &graph.groups {
                prop_assert!(!group.members.is_empty());
                for &m in &group.members {
                    prop_assert_eq!(graph.nodes[m].group.as_deref(), Some(group.key.as_str()));
                }
            }
            let mut seen_ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
            seen_ids.sort_unstable();
            seen_ids.dedup();
            prop_assert_eq!(seen_ids.len(), graph.nodes.len());
            prop_assert_eq!(graph.nodes.iter().filter(|n| n.focus).count(), usize::from(focus.is_some() && !graph.nodes.is_empty()));
            let placed = layout(&graph);
            prop_assert_eq!(placed.nodes.len(), graph.nodes.len());
            prop_assert_eq!(placed.edges.len(), graph.edges.len());
            assert_no_overlap(&placed);
            assert_group_boxes(&graph, &placed);
        }
    }
}
