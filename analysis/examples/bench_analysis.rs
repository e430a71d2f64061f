//! Times the architecture analysis on synthetic fleets, and the catalog snapshot it
//! starts from.
//!
//! ```sh
//! cargo run --release -p seam-analysis --example bench_analysis                # small
//! cargo run --release -p seam-analysis --example bench_analysis -- --size large
//! cargo run --release -p seam-analysis --example bench_analysis -- --size all
//! ```
//!
//! Sizes: `small` is 10,000 services and 100,000 edges (plus the snapshot of a
//! 10,000-service catalog), `large` 100,000 services and 1,000,000 edges. Targets: small
//! under 200 ms, large under 3 s, a snapshot rebuild after one manifest changed under
//! 50 ms.
//!
//! The fleet: services in domains of 100, each domain in 8 layers; a service calls about
//! ten others, most in deeper layers of its own domain, some in deeper layers of other
//! domains, some datastores (one per four services) and a few external peers; one call
//! in a thousand goes back up inside its domain (cycles). 15% of calls are asynchronous,
//! 80% declared, 85% observed with a calls-per-request distribution (1% chatty). The
//! outside world calls the top layer. Everything comes from a fixed-seed generator.

/// The allocator of the `seam` binary, so the figures are those Seam would see.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use seam_analysis::{analyse, Edge, FanOut, Mode, Model, Node, NodeKind, Report, Thresholds};
use seam_catalog::manifest::{
    Access, Datastore, Dependency, Mode as DeclaredMode, Protocol, ProvidedApi, ServiceManifest,
};
use seam_snapshot::{Declared, DeclaredService, ServiceMeta, Snapshot};

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, per_mille: usize) -> bool {
        self.below(1000) < per_mille
    }
}

const DOMAIN: usize = 100;
const LAYERS: usize = 8;
const EXTERNALS: usize = 20;

fn service_name(i: usize) -> String {
    format!("d{:04}-svc-{:06}", i / DOMAIN, i)
}

fn layer(i: usize) -> usize {
    (i % DOMAIN) * LAYERS / DOMAIN
}

/// A service of `domain` in a layer from `from` down (a random one of them).
fn pick(rng: &mut Rng, domain: usize, from: usize, services: usize) -> Option<usize> {
    if from >= LAYERS {
        return None;
    }
    let lo = from * DOMAIN / LAYERS;
    let i = domain * DOMAIN + lo + rng.below(DOMAIN - lo);
    (i < services).then_some(i)
}

fn fan_out(rng: &mut Rng, chatty: bool) -> FanOut {
    let requests = (100 + rng.below(10_000)) as f64;
    let bounds = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, f64::INFINITY];
    // Shares of requests per bucket (per mille), cumulated.
    let shares: [f64; 7] = if chatty {
        [0.0, 0.0, 50.0, 200.0, 800.0, 950.0, 1000.0]
    } else {
        [700.0, 900.0, 980.0, 995.0, 999.0, 1000.0, 1000.0]
    };
    let buckets: Vec<(f64, f64)> = bounds
        .iter()
        .zip(shares)
        .map(|(&b, s)| (b, (requests * s / 1000.0).round()))
        .collect();
    let mean = if chatty { 15.0 } else { 1.4 };
    FanOut {
        requests,
        calls: (requests * mean).round(),
        buckets,
    }
}

/// A fleet of `services` services with about `edges` edges, not merged.
fn fleet(services: usize, edges: usize) -> Model {
    let mut rng = Rng(0x5EA3 ^ services as u64);
    let domains = services.div_ceil(DOMAIN);
    let mut model = Model {
        window_seconds: 3600.0,
        ..Model::default()
    };
    for i in 0..services {
        model.nodes.push(Node {
            owner: Some(format!("team-{:04}", i / 25)),
            domain: Some(format!("domain-{:04}", i / DOMAIN)),
            system: Some(format!("system-{:05}", i / 10)),
            ..Node::service(&service_name(i))
        });
    }
    let stores = services / 4;
    for k in 0..stores {
        model.nodes.push(Node {
            kind: NodeKind::Datastore,
            ..Node::service(&format!("d{:04}-db-{k:06}", k * 4 / DOMAIN))
        });
    }
    for k in 0..EXTERNALS {
        model.nodes.push(Node {
            kind: NodeKind::External,
            registered: false,
            ..Node::service(&format!("ext-{k:02}"))
        });
    }
    model.nodes.push(Node {
        kind: NodeKind::User,
        registered: false,
        ..Node::service("users")
    });

    // Calls per service: 80% call a few, 15% a dozen or two, 5% very many; the
    // mean is `edges / services` (datastores and externals included).
    // (Deep layers find fewer callees: aim a little higher.)
    let mean = 1.25 * edges as f64 / services.max(1) as f64;
    for i in 0..services {
        let (domain, here) = (i / DOMAIN, layer(i));
        if here == 0 {
            let mut e = Edge::observed("users", &service_name(i), Mode::Sync, 1000.0);
            e.protocol = "http".into();
            model.edges.push(e);
        }
        let roll = rng.below(100);
        let calls = if roll < 80 {
            mean * 0.3
        } else if roll < 95 {
            mean * 2.0
        } else {
            mean * 8.0
        };
        let calls = calls.round() as usize + usize::from(rng.below(100) < 50);
        let mut made: Vec<String> = Vec::new();
        let mut tries = 0;
        while made.len() < calls && tries < 4 * calls {
            tries += 1;
            let roll = rng.below(1000);
            let callee = if rng.chance(1) && here >= 4 {
                // Back up, inside the domain: a cycle.
                pick(&mut rng, domain, 1, services)
                    .filter(|&j| layer(j) < 3)
                    .map(service_name)
            } else if roll < 700 {
                pick(&mut rng, domain, here + 1, services).map(service_name)
            } else if roll < 900 {
                let other = rng.below(domains);
                pick(&mut rng, other, (here + 1).max(3), services)
                    .filter(|&j| layer(j) > here)
                    .map(service_name)
            } else if roll < 990 {
                (stores > 0).then(|| {
                    let k = (i / 4 + rng.below(2)).min(stores - 1);
                    format!("d{:04}-db-{k:06}", k * 4 / DOMAIN)
                })
            } else {
                Some(format!("ext-{:02}", rng.below(EXTERNALS)))
            };
            let Some(callee) = callee.filter(|c| !made.contains(c)) else {
                continue;
            };
            made.push(callee.clone());
            let store = callee.contains("-db-");
            let mode = if !store && rng.chance(150) {
                Mode::Async
            } else {
                Mode::Sync
            };
            let mut e = Edge::declared(&service_name(i), &callee, mode);
            e.protocol = match (store, mode) {
                (true, _) => "postgresql",
                (_, Mode::Async) => "event",
                _ => "http",
            }
            .into();
            e.declared = rng.chance(800);
            e.observed = !e.declared || rng.chance(850);
            if e.observed {
                e.calls = (1 + rng.below(100_000)) as f64;
                e.errors = (rng.below(10) as f64).min(e.calls);
                if mode == Mode::Sync {
                    let chatty = rng.chance(10);
                    e.fan_out = fan_out(&mut rng, chatty);
                }
            }
            model.edges.push(e);
        }
    }
    // Deep layers find fewer callees than asked for, so more were asked for: thin the
    // calls out evenly to about `edges`.
    let keep = edges as f64 / model.edges.len().max(1) as f64;
    if keep < 1.0 {
        model
            .edges
            .retain(|_| rng.below(1_000_000) < (keep * 1e6) as usize);
    }
    model
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

fn bench_analysis(services: usize, edges: usize, runs: usize, target_ms: f64) {
    let started = Instant::now();
    let base = fleet(services, edges);
    println!(
        "fleet: {services} services, {} nodes, {} edges before merging (generated in {:.0} ms)",
        base.nodes.len(),
        base.edges.len(),
        ms(started)
    );
    let thresholds = Thresholds::default();
    let mut merged = base.clone();
    let started = Instant::now();
    merged.merge_edges();
    println!(
        "  merge_edges: {:.1} ms ({} edges merged)",
        ms(started),
        merged.edges.len()
    );
    // This crate's graph analyses, phase by phase (they run inside analyse too).
    let mut phases: Vec<Vec<(&str, f64)>> = Vec::new();
    for _ in 0..runs {
        phases.push(seam_analysis::graph::profile(&merged, &thresholds));
    }
    let phase = |i: usize| median(phases.iter().map(|p| p[i].1).collect());
    let line: Vec<String> = phases[0]
        .iter()
        .enumerate()
        .map(|(i, (name, _))| format!("{name} {:.1}", phase(i)))
        .collect();
    let sum: f64 = (0..phases[0].len()).map(phase).sum();
    println!(
        "  graph phases (ms, median of {runs}): {} (sum {sum:.1})",
        line.join(", ")
    );
    let (mut merges, mut analyses, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let mut report = Report::default();
    for _ in 0..runs {
        let mut model = base.clone();
        let started = Instant::now();
        model.merge_edges();
        let merge = ms(started);
        let started = Instant::now();
        let fresh = analyse(&model, &thresholds);
        let analysis = ms(started);
        report = fresh; // (the previous report is dropped outside the timing)
        merges.push(merge);
        analyses.push(analysis);
        totals.push(merge + analysis);
    }
    drop(base);
    let total = median(totals);
    let analysis = median(analyses);
    println!(
        "  merge_edges + analyse: {total:.1} ms (merge_edges {:.1} ms, analyse {analysis:.1} ms, of which \
         {:.1} ms outside the graph phases: borders, drift, versions; median of {runs}); \
         target {target_ms:.0} ms: {}",
        median(merges),
        (analysis - sum).max(0.0),
        if total <= target_ms { "met" } else { "MISSED" }
    );
    let s = &report.stats;
    println!(
        "  nodes {}, edges {}, components {}, cycles shown {} / not shown {}{}, betweenness {} from {} sources",
        s.nodes,
        s.edges,
        s.components,
        s.cycles_shown,
        s.cycles_not_shown,
        if report.components.iter().any(|c| c.more_is_lower_bound) {
            " (at least; counting bounded)"
        } else {
            ""
        },
        if s.betweenness_exact { "exact" } else { "sampled" },
        s.betweenness_samples
    );
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for o in &report.observations {
        match kinds.last_mut() {
            Some((k, n)) if k == o.kind.as_str() => *n += 1,
            _ => kinds.push((o.kind.as_str().to_owned(), 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("  observations: {}", kinds.join(", "));
    let largest = report
        .components
        .iter()
        .map(|c| c.services.len())
        .max()
        .unwrap_or(0);
    println!("  largest cyclic component: {largest} services");
    if let Some(rss) = peak_rss_mb() {
        println!("  peak RSS so far (VmHWM): {rss:.0} MB");
    }
}

/// A catalog of `services` services: each provides an API, uses a datastore and
/// depends on about five others (deeper in its domain mostly, by service or by API).
fn catalog(services: usize) -> Declared {
    let mut rng = Rng(0xCA7A ^ services as u64);
    let mut declared = Declared::default();
    for i in 0..services {
        let name = service_name(i);
        let mut manifest =
            ServiceManifest::minimal(&name, &format!("team-{:04}", i / 25), Some("1.4.2".into()));
        manifest.domain = Some(format!("domain-{:04}", i / DOMAIN));
        manifest.system = Some(format!("system-{:05}", i / 10));
        manifest.lifecycle = "production".into();
        manifest.provides.push(ProvidedApi {
            name: format!("{name}-api"),
            version: Some("2.1.0".into()),
            protocol: Protocol::Http,
        });
        manifest.datastores.push(Datastore {
            name: format!("d{:04}-db-{:06}", i / DOMAIN, i / 4),
            kind: "postgresql".into(),
            access: if i % 4 == 0 {
                Access::Owned
            } else {
                Access::Shared
            },
        });
        for _ in 0..5 {
            let other = rng.below(services.div_ceil(DOMAIN));
            let Some(j) = pick(&mut rng, i / DOMAIN, layer(i) + 1, services)
                .or_else(|| pick(&mut rng, other, 4, services))
            else {
                continue;
            };
            let by_api = rng.chance(500);
            manifest.consumes.push(Dependency {
                service: (!by_api).then(|| service_name(j)),
                api: by_api.then(|| format!("{}-api", service_name(j))),
                version_req: Some("^2.0".into()),
                mode: if rng.chance(150) {
                    DeclaredMode::Async
                } else {
                    DeclaredMode::Sync
                },
                protocol: Protocol::Http,
            });
        }
        declared.services.insert(
            name,
            DeclaredService {
                manifest,
                meta: ServiceMeta {
                    revision: 1,
                    source: "api".into(),
                    registered_at: Default::default(),
                    updated_at: Default::default(),
                    origin: "api".into(),
                    stale_since: None,
                },
            },
        );
    }
    declared
}

fn bench_snapshot(services: usize, runs: usize) {
    let started = Instant::now();
    let mut declared = catalog(services);
    println!(
        "catalog: {services} services (generated in {:.0} ms)",
        ms(started)
    );
    let mut builds = Vec::new();
    let mut snapshot = Snapshot::default();
    for generation in 0..runs as u64 {
        let started = Instant::now();
        let built = Snapshot::build(&declared, generation + 1);
        builds.push(ms(started));
        snapshot = built; // (the previous one is dropped outside the timing)
    }
    println!(
        "  Snapshot::build: {:.1} ms (median of {runs})",
        median(builds)
    );
    // One manifest changes (a new dependency) and the snapshot is rebuilt.
    let changed = service_name(services / 2);
    if let Some(service) = declared.services.get_mut(&changed) {
        service.manifest.consumes.push(Dependency {
            service: Some(service_name(services - 1)),
            api: None,
            version_req: None,
            mode: DeclaredMode::Sync,
            protocol: Protocol::Grpc,
        });
        service.meta.revision += 1;
    }
    // The server rebuilds from the previous snapshot, resolving again only what the
    // change reaches (`Snapshot::rebuild`).
    let generation = snapshot.generation + 1;
    let (mut rebuilds, mut rebuilt) = (Vec::new(), Snapshot::default());
    for _ in 0..runs {
        let started = Instant::now();
        let fresh = snapshot.rebuild(&declared, &[changed.as_str()], generation);
        rebuilds.push(ms(started));
        rebuilt = fresh; // (the previous one is dropped outside the timing)
    }
    let rebuild = median(rebuilds);
    let started = Instant::now();
    let built = Snapshot::build(&declared, generation);
    let full = ms(started);
    println!(
        "  rebuild after one manifest changed: {rebuild:.1} ms (median of {runs}; a full \
         build {full:.1} ms, {}), target 50 ms: {}",
        if rebuilt == built {
            "the same snapshot"
        } else {
            "A DIFFERENT SNAPSHOT"
        },
        if rebuild <= 50.0 { "met" } else { "MISSED" }
    );
    drop((snapshot, built));
    let started = Instant::now();
    let model = Model::from_catalog(&rebuilt);
    let from_catalog = ms(started);
    let started = Instant::now();
    let report = analyse(&model, &Thresholds::default());
    println!(
        "  Model::from_catalog {from_catalog:.1} ms ({} nodes, {} edges), analyse {:.1} ms",
        model.nodes.len(),
        model.edges.len(),
        ms(started)
    );
    drop(report);
    if let Some(rss) = peak_rss_mb() {
        println!("  peak RSS so far (VmHWM): {rss:.0} MB");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut size = "small".to_owned();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--size" if i + 1 < args.len() => {
                size = args[i + 1].clone();
                i += 1;
            }
            other if other.starts_with("--size=") => size = other["--size=".len()..].to_owned(),
            other => {
                eprintln!("unknown argument {other}; use --size small|large|all");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let (small, large) = match size.as_str() {
        "small" => (true, false),
        "large" => (false, true),
        "all" => (true, true),
        other => {
            eprintln!("unknown size {other}; use small, large or all");
            std::process::exit(2);
        }
    };
    println!(
        "seam-analysis benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if small {
        bench_analysis(10_000, 100_000, 7, 200.0);
        bench_snapshot(10_000, 5);
    }
    if large {
        bench_analysis(100_000, 1_000_000, 2, 3000.0);
    }
}
