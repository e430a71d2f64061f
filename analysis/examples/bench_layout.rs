//! Times the graph page's aggregation and layout on synthetic models.
//!
//! `cargo run --release -p seam-analysis --example bench_layout [-- --export DIR]`
//!
//! `--export DIR` also writes each drawn graph (nodes with Seam's sizes, edges) as JSON,
//! with Seam's layout time, for `end2end/bench/elk-layout.js` to lay out the same graphs
//! with ELK in the comparison of BENCHMARKS.md.
//!
//! Services come in systems of 10 and domains of 100; systems in tiers (edge, experience,
//! domain, platform, infrastructure) and services in tiers inside their system. Each
//! service calls about 4 others in deeper tiers, mostly of its own system or domain, a
//! few anywhere; 2% of calls go anywhere, back up included (cycles).

use std::time::Instant;

use seam_analysis::layout::{aggregate, layout, Graph, GroupBy, Layout, View};
use seam_analysis::{Edge, Mode, Model, Node};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tiers of systems (edge, experience, domain, platform, shared infrastructure) and of
/// services inside a system (API, logic, workers, stores).
const SYSTEM_TIERS: usize = 5;
const SERVICE_TIERS: usize = 4;

fn model(services: usize) -> Model {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ services as u64);
    let system_tier = |i: usize| (i / 10 * 7 + i / 100) % SYSTEM_TIERS;
    let tier = |i: usize| system_tier(i) * SERVICE_TIERS + (i % 10) * SERVICE_TIERS / 10;
    let mut model = Model::default();
    for i in 0..services {
        let health = [
            "healthy", "healthy", "healthy", "degraded", "failing", "unknown",
        ];
        model.nodes.push(Node {
            owner: Some(format!("team-{:03}", i / 40)),
            domain: Some(format!("domain-{:03}", i / 100)),
            system: Some(format!("system-{:04}", i / 10)),
            health: Some(health[i % health.len()].to_owned()),
            ..Node::service(&format!("service-{i:05}"))
        });
    }
    for i in 0..services {
        let calls = 2 + rng.below(7);
        for _ in 0..calls {
            // A callee in a deeper tier, of the same system mostly, else of the same
            // domain, rarely anywhere (a few tries); a few calls go back up (cycles).
            let backwards = rng.below(100) < 2;
            let mut callee = None;
            for _ in 0..8 {
                let roll = rng.below(100);
                let (lo, len) = if roll < 55 {
                    (i / 10 * 10, 10)
                } else if roll < 90 {
                    (i / 100 * 100, 100)
                } else {
                    (0, services)
                };
                let j = (lo + rng.below(len)).min(services - 1);
                if j != i && (backwards || tier(j) > tier(i)) {
                    callee = Some(j);
                    break;
                }
            }
            let Some(j) = callee else { continue };
            let mode = if rng.below(5) == 0 {
                Mode::Async
            } else {
                Mode::Sync
            };
            let mut edge = Edge::observed(
                &format!("service-{i:05}"),
                &format!("service-{j:05}"),
                mode,
                rng.below(10_000) as f64,
            );
            edge.errors = edge.calls * rng.below(5) as f64 / 100.0;
            model.edges.push(edge);
        }
    }
    model.merge_edges();
    model
}

/// Pairs of group boxes that overlap, and nodes overlapping the box of a group they are
/// not a member of (both 0 when the group boxes are drawn right).
fn box_faults(graph: &Graph, placed: &Layout) -> (usize, usize) {
    let apart = |a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)| {
        a.0 + a.2 <= b.0 + 1e-6
            || b.0 + b.2 <= a.0 + 1e-6
            || a.1 + a.3 <= b.1 + 1e-6
            || b.1 + b.3 <= a.1 + 1e-6
    };
    let rects: Vec<_> = placed
        .groups
        .iter()
        .map(|b| (b.x, b.y, b.width, b.height))
        .collect();
    let mut overlaps = 0;
    for (i, &a) in rects.iter().enumerate() {
        overlaps += rects[i + 1..].iter().filter(|&&b| !apart(a, b)).count();
    }
    let mut member = vec![usize::MAX; graph.nodes.len()];
    for (g, group) in graph.groups.iter().enumerate() {
        for &m in &group.members {
            if m < member.len() && member[m] == usize::MAX && !group.collapsed {
                member[m] = g;
            }
        }
    }
    let mut intruders = 0;
    for (v, p) in placed.nodes.iter().enumerate() {
        let node = (p.x, p.y, p.width, p.height);
        intruders += placed
            .groups
            .iter()
            .zip(&rects)
            .filter(|(b, &r)| b.index != member[v] && !apart(node, r))
            .count();
    }
    (overlaps, intruders)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let export = args
        .iter()
        .position(|a| a == "--export")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    if let Some(dir) = &export {
        std::fs::create_dir_all(dir).expect("the export directory can be created");
    }
    println!(
        "{:>8} {:>7} {:>22} {:>7} {:>7} {:>7} {:>12} {:>10} {:>10}",
        "services",
        "edges",
        "view",
        "nodes",
        "edges",
        "groups",
        "aggregate ms",
        "layout ms",
        "total ms"
    );
    for services in [500, 5_000, 20_000] {
        let model = model(services);
        let open = |prefix: &str, digits: usize| {
            (0..3).map(|i| format!("{prefix}-{i:0digits$}")).collect()
        };
        let views = [
            (
                "no groups",
                View {
                    collapse_above: usize::MAX,
                    ..View::default()
                },
            ),
            (
                "system, expanded",
                View {
                    group_by: GroupBy::System,
                    collapse_above: usize::MAX,
                    ..View::default()
                },
            ),
            (
                "system, default",
                View {
                    group_by: GroupBy::System,
                    ..View::default()
                },
            ),
            (
                "system, 3 open",
                View {
                    group_by: GroupBy::System,
                    expanded: open("system", 4),
                    ..View::default()
                },
            ),
            (
                "domain, expanded",
                View {
                    group_by: GroupBy::Domain,
                    collapse_above: usize::MAX,
                    ..View::default()
                },
            ),
            (
                "domain, default",
                View {
                    group_by: GroupBy::Domain,
                    ..View::default()
                },
            ),
            (
                "domain, 3 open",
                View {
                    group_by: GroupBy::Domain,
                    expanded: open("domain", 3),
                    ..View::default()
                },
            ),
        ];
        for (name, view) in views {
            let runs = if services >= 20_000 { 3 } else { 5 };
            let (mut best_aggregate, mut best_layout) = (f64::MAX, f64::MAX);
            let mut shape = (0, 0, 0, 0.0, 0.0, 0);
            let mut faults = (0, 0);
            let mut last = None;
            for run in 0..runs {
                let start = Instant::now();
                let graph = aggregate(&model, &view);
                let aggregated = start.elapsed().as_secs_f64() * 1e3;
                let start = Instant::now();
                let placed = layout(&graph);
                let laid = start.elapsed().as_secs_f64() * 1e3;
                best_aggregate = best_aggregate.min(aggregated);
                best_layout = best_layout.min(laid);
                shape = (
                    graph.nodes.len(),
                    graph.edges.len(),
                    graph.groups.len(),
                    placed.width,
                    placed.height,
                    placed.edges.iter().filter(|r| r.reversed).count(),
                );
                if run + 1 == runs {
                    faults = box_faults(&graph, &placed);
                    last = Some((graph, placed));
                }
            }
            if let (Some(dir), Some((graph, placed))) = (&export, &last) {
                let nodes: Vec<serde_json::Value> = placed
                    .nodes
                    .iter()
                    .map(|p| serde_json::json!({"id": graph.nodes[p.index].id, "width": p.width, "height": p.height}))
                    .collect();
                let edges: Vec<serde_json::Value> = graph
                    .edges
                    .iter()
                    .filter(|e| e.from != e.to)
                    .map(|e| serde_json::json!({"from": graph.nodes[e.from].id, "to": graph.nodes[e.to].id}))
                    .collect();
                let file = dir.join(format!(
                    "{services:05}-{}.json",
                    name.replace([' ', ','], "-")
                ));
                let body = serde_json::json!({
                    "name": format!("{services} services, {name}"),
                    "seam_layout_ms": best_layout,
                    "nodes": nodes,
                    "edges": edges,
                });
                std::fs::write(&file, body.to_string()).expect("the graph can be written");
            }
            println!(
                "{:>8} {:>7} {:>22} {:>7} {:>7} {:>7} {:>12.1} {:>10.1} {:>10.1}   {:.0}×{:.0} px, {} reversed, {} box overlaps, {} nodes in others' boxes",
                services,
                model.edges.len(),
                name,
                shape.0,
                shape.1,
                shape.2,
                best_aggregate,
                best_layout,
                best_aggregate + best_layout,
                shape.3,
                shape.4,
                shape.5,
                faults.0,
                faults.1,
            );
        }
    }
}
