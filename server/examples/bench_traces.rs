//! Traces: what receiving spans and pairing them into the call graph costs Seam, in
//! process on one thread next to a plain baseline, and end to end over loopback HTTP with
//! `seam` as its own process, at its sustained rate and under overload.
//!
//!     cargo build --release -p seam-server --bins --example bench_traces
//!     target/release/examples/bench_traces [--duration 30] [--spans 6000000]
//!
//! The workload is a pool of OTLP/protobuf `ExportTraceServiceRequest` bodies, encoded
//! before anything is measured: traces of 10 spans over a fleet of 8 services (2
//! user-facing gateways, 6 backends, 3 instances each): a user-facing server span, an
//! internal span under it, three client/server pairs between services (gateway to A, A to
//! B, gateway to C), an internal span and a PostgreSQL client span in C. Attributes are
//! those the Rust SDK's HTTP instrumentation sends (`http.request.method`, `http.route`,
//! `url.full`, `server.address`, `server.port`, `http.response.status_code`,
//! `network.protocol.version`, `user_agent.original` on servers; `tracing-opentelemetry`'s
//! code and thread attributes on internal spans), ids are random. Each body holds the
//! spans of one service instance under its resource (`service.*`, `telemetry.sdk.*`), 500
//! to 1000 spans, as an SDK's batch exporter sends them, so a client span and its server
//! span come in different bodies. When the pool is replayed, every trace id is XORed with
//! a mask of the round, so no trace repeats.
//!
//! In process, on this thread: Seam's path (`decode_protobuf`, then `request_stats` and
//! `Graph::ingest` as the traces engine does per batch, `expire` every second and
//! `take_closed` when a bucket closes, on a clock that moves one second per 200,000
//! spans, the goal's rate) next to a plain baseline: prost decode into the generated types,
//! a `HashMap` pairing client and server spans by (trace id, span id) / (trace id, parent
//! id) and a `HashMap` of (caller, callee) counts; and Seam's path once more with the
//! spans dropped instead of paired, which shows what decoding costs alone and what the
//! graph's state costs the other stages. A counting allocator gives the heap each holds
//! per pending span and the allocations a span costs.
//!
//! End to end: `target/release/seam` with a temporary data directory and a config giving
//! its OTLP/HTTP receiver and dashboard free ports; a load generator in this process (one
//! tokio task per keep-alive HTTP/1.1 connection) posts the pool as fast as Seam takes it
//! for DURATION seconds (a 429 is retried after 5 ms), then floods it with 32 connections,
//! moving on to the next body at once after a 429, for DURATION seconds more. Seam's CPU
//! (utime + stime of /proc/PID/stat) and RSS (VmRSS, VmHWM) are read from /proc; its own
//! counters on /metrics are read beside the generator's. Both share this machine's cores;
//! the CPU other processes took meanwhile is printed (from /proc/stat). `--perf FILE`
//! records `perf record -g` of Seam over the sustained window.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, Status};
use prost::Message;
use seam_collectors::otlp::{convert_protobuf, decode_protobuf};
use seam_traces::{Graph, GraphConfig, Span, SpanKind};

/// Goal: spans a second Seam sustains end to end.
const RATE_GOAL: f64 = 200_000.0;
/// Goal: Seam's CPU, in percent of one core, per 10,000 spans a second.
const CPU_GOAL: f64 = 3.0;
/// The in-process clock moves one second per this many spans (the rate goal).
const SIM_RATE: usize = 200_000;
/// Unix seconds the in-process clock starts at: 45 s into a minute, so a bucket closes
/// early in the run.
const T0: i64 = 1_800_000_000 + 45; // 1_800_000_000 is a whole minute
/// Seam's defaults (`[traces]`, `[health] bucket_secs`), as the server builds its graph.
const PAIR_TTL_SECS: i64 = 5;
const BUCKET_SECS: i64 = 60;
/// Pending client halves fed to each store to weigh one.
const PENDING_PROBE: usize = 500_000;
/// Seam's default `[traces] max_pending`: halves its pairing store holds at most.
const MAX_PENDING: f64 = 1_000_000.0;
const MILLION: usize = 1_000_000;

#[derive(Debug, Parser)]
struct Args {
    /// Seconds of each end-to-end phase (sustained, then overload)
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Spans each contender processes in process
    #[arg(long, default_value_t = 6_000_000)]
    spans: usize,
    /// Traces in the pool of pre-encoded bodies (10 spans each)
    #[arg(long, default_value_t = 20_000)]
    traces: usize,
    /// Connections of the sustained phase
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Connections of the overload phase
    #[arg(long, default_value_t = 32)]
    overload_connections: usize,
    /// `[collectors.otlp] queue_batches` given to Seam (its default)
    #[arg(long, default_value_t = 256)]
    queue_batches: usize,
    /// Skip the in-process benchmark
    #[arg(long)]
    skip_in_process: bool,
    /// Skip the end-to-end benchmark
    #[arg(long)]
    skip_end_to_end: bool,
    /// Record a `perf record -g` profile of Seam over the sustained window into this file
    #[arg(long)]
    perf: Option<PathBuf>,
    /// The Seam binary (built with `cargo build --release -p seam-server`)
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/seam"))]
    seam: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.traces >= 100, "--traces must be at least 100");
    ensure!(args.connections > 0 && args.overload_connections > 0);
    println!(
        "machine: {} cores, load average {} (1, 5, 15 min)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let started = Instant::now();
    let pool = Arc::new(Pool::generate(args.traces, 0x5eed_7ace));
    println!(
        "pool: {} traces, {} spans in {} bodies of {}..{} spans ({:.0} KiB on average, {:.0} \
         bytes a span), encoded in {:.1?}\n",
        pool.traces,
        pool.spans,
        pool.bodies.len(),
        pool.bodies.iter().map(|b| b.spans).min().unwrap_or(0),
        pool.bodies.iter().map(|b| b.spans).max().unwrap_or(0),
        pool.bytes as f64 / pool.bodies.len() as f64 / 1024.0,
        pool.bytes as f64 / pool.spans as f64,
        started.elapsed(),
    );
    let mut memory = weigh_batches(&pool)?;
    // What one waiting half weighs in the pairing store, which `[traces] max_pending`
    // caps: under overload, refused bodies leave their partners waiting until it is full.
    memory.pending_half = weigh_state(&pool)?.seam_pending;
    let in_process = if args.skip_in_process {
        None
    } else {
        Some(in_process(&args, &pool)?)
    };
    if let Some(report) = &in_process {
        report.print(&memory);
    }
    if !args.skip_end_to_end {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let figures = runtime.block_on(async {
            // Returning drops Seam's process, which kills it: Ctrl-C leaves nothing behind.
            tokio::select! {
                result = end_to_end(&args, pool.clone()) => result,
                _ = tokio::signal::ctrl_c() => bail!("interrupted"),
            }
        })?;
        figures.print(&args, &memory);
    }
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A counting allocator: heap held, as glibc's malloc rounds requests, while switched on.

struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
static HEAP: AtomicI64 = AtomicI64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// The chunk glibc's malloc takes for `size` bytes: an 8-byte header, rounded up to 16,
/// at least 32.
fn chunk(size: usize) -> i64 {
    ((size + 8 + 15) & !15).max(32) as i64
}

// SAFETY: every call goes to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            HEAP.fetch_add(chunk(layout.size()), Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            HEAP.fetch_add(chunk(layout.size()), Ordering::Relaxed);
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            HEAP.fetch_sub(chunk(layout.size()), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && COUNTING.load(Ordering::Relaxed) {
            HEAP.fetch_add(chunk(new_size) - chunk(layout.size()), Ordering::Relaxed);
        }
        new
    }
}

/// Counts the heap from zero until dropped. Only what is allocated while it counts may be
/// freed while it counts, and only this thread may allocate meanwhile (the in-process
/// benchmark runs before any other thread exists).
struct HeapProbe;

impl HeapProbe {
    fn start() -> HeapProbe {
        HEAP.store(0, Ordering::Relaxed);
        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        HeapProbe
    }

    fn bytes(&self) -> i64 {
        HEAP.load(Ordering::Relaxed)
    }

    /// Allocations (and reallocations that moved nothing: not counted) so far.
    fn allocations(&self) -> u64 {
        ALLOCATIONS.load(Ordering::Relaxed)
    }
}

impl Drop for HeapProbe {
    fn drop(&mut self) {
        COUNTING.store(false, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------
// The workload.

/// splitmix64: random enough for ids, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    /// Random bytes, never all zero.
    fn id<const N: usize>(&mut self) -> [u8; N] {
        loop {
            let mut id = [0u8; N];
            for chunk in id.chunks_mut(8) {
                let bytes = self.next().to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
            if id != [0; N] {
                return id;
            }
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct ServiceModel {
    name: &'static str,
    version: &'static str,
    /// (method, route template); `{id}` becomes a number in the path.
    routes: &'static [(&'static str, &'static str)],
    /// Names of its internal spans (functions instrumented with `#[tracing::instrument]`).
    functions: &'static [&'static str],
    /// Its PostgreSQL database and table (backends only).
    database: &'static str,
}

const GATEWAYS: [ServiceModel; 2] = [
    ServiceModel {
        name: "frontend",
        version: "2.14.1",
        routes: &[
            ("GET", "/"),
            ("GET", "/products/{id}"),
            ("POST", "/cart"),
            ("GET", "/orders/{id}"),
        ],
        functions: &["render_page", "load_session", "assemble_view"],
        database: "",
    },
    ServiceModel {
        name: "mobile-bff",
        version: "0.9.3",
        routes: &[
            ("GET", "/m/v2/home"),
            ("GET", "/m/v2/orders/{id}"),
            ("POST", "/m/v2/checkout"),
        ],
        functions: &["authorize", "compose_response"],
        database: "",
    },
];

const BACKENDS: [ServiceModel; 6] = [
    ServiceModel {
        name: "orders",
        version: "1.42.0",
        routes: &[("GET", "/api/v1/orders/{id}"), ("POST", "/api/v1/orders")],
        functions: &["load_order", "price_order"],
        database: "orders",
    },
    ServiceModel {
        name: "cart",
        version: "3.1.7",
        routes: &[
            ("GET", "/api/v1/carts/{id}"),
            ("PUT", "/api/v1/carts/{id}/items"),
        ],
        functions: &["load_cart", "merge_items"],
        database: "carts",
    },
    ServiceModel {
        name: "catalog",
        version: "5.0.2",
        routes: &[
            ("GET", "/api/v1/products/{id}"),
            ("GET", "/api/v1/products"),
        ],
        functions: &["load_products", "apply_prices"],
        database: "products",
    },
    ServiceModel {
        name: "payments",
        version: "1.8.11",
        routes: &[
            ("POST", "/api/v1/payments"),
            ("GET", "/api/v1/payments/{id}"),
        ],
        functions: &["authorize_payment", "load_payment"],
        database: "payments",
    },
    ServiceModel {
        name: "users",
        version: "2.3.0",
        routes: &[
            ("GET", "/api/v1/users/{id}"),
            ("GET", "/api/v1/users/{id}/sessions"),
        ],
        functions: &["load_user", "check_session"],
        database: "users",
    },
    ServiceModel {
        name: "inventory",
        version: "4.12.5",
        routes: &[
            ("GET", "/api/v1/stock/{id}"),
            ("POST", "/api/v1/reservations"),
        ],
        functions: &["count_stock", "reserve_items"],
        database: "stock",
    },
];

const INSTANCES: usize = 3;

const BROWSERS: [&str; 3] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

fn string(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn uuid(rng: &mut Rng) -> String {
    let hex: String = rng.id::<16>().iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// One SDK: a service instance's resource and the spans its batch exporter holds.
struct Exporter {
    resource: ProtoResource,
    spans: Vec<ProtoSpan>,
    traces: HashSet<[u8; 16]>,
    /// Spans at which it sends a body.
    batch: usize,
}

/// A pre-encoded request body.
struct Body {
    bytes: Vec<u8>,
    spans: usize,
    /// Where each span's trace id is in `bytes`.
    trace_offsets: Vec<u32>,
}

impl Body {
    /// The body with every trace id XORed with `mask`.
    fn patched(&self, mask: &[u8; 16]) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        if *mask != [0; 16] {
            for &offset in &self.trace_offsets {
                let id = &mut bytes[offset as usize..offset as usize + 16];
                for (byte, m) in id.iter_mut().zip(mask) {
                    *byte ^= m;
                }
            }
        }
        bytes
    }
}

struct Pool {
    bodies: Vec<Body>,
    traces: usize,
    spans: usize,
    bytes: usize,
}

/// The trace-id mask of replay `round` of the pool (none in the first).
fn mask(round: usize) -> [u8; 16] {
    if round == 0 {
        return [0; 16];
    }
    Rng(round as u64 * 0x1234_5678_9abc_def1).id()
}

impl Pool {
    /// `i`-th body of the endless replay, with its trace ids masked for its round.
    fn body(&self, i: usize) -> (&Body, Vec<u8>) {
        let body = &self.bodies[i % self.bodies.len()];
        (body, body.patched(&mask(i / self.bodies.len())))
    }

    fn generate(traces: usize, seed: u64) -> Pool {
        let mut rng = Rng(seed);
        let scope = InstrumentationScope {
            name: "tracing-opentelemetry".into(),
            version: "0.32.0".into(),
            ..Default::default()
        };
        let mut exporters: Vec<Exporter> = Vec::new();
        for service in GATEWAYS.iter().chain(&BACKENDS) {
            for _ in 0..INSTANCES {
                let resource = ProtoResource {
                    attributes: vec![
                        string("service.name", service.name),
                        string("service.version", service.version),
                        string("service.instance.id", uuid(&mut rng)),
                        string("deployment.environment.name", "production"),
                        string("telemetry.sdk.name", "opentelemetry"),
                        string("telemetry.sdk.language", "rust"),
                        string("telemetry.sdk.version", "0.31.0"),
                    ],
                    ..Default::default()
                };
                exporters.push(Exporter {
                    resource,
                    spans: Vec::new(),
                    traces: HashSet::new(),
                    batch: rng.between(500, 1000) as usize,
                });
            }
        }
        let base_ns: u64 = 1_764_600_000_000_000_000;
        let mut bodies = Vec::new();
        let mut spans = 0;
        for t in 0..traces {
            let start = base_ns + t as u64 * 100_000;
            for (exporter, span) in trace(&mut rng, start) {
                let trace_id: [u8; 16] = span.trace_id.as_slice().try_into().expect("16 bytes");
                let e = &mut exporters[exporter];
                e.spans.push(span);
                e.traces.insert(trace_id);
                spans += 1;
                if e.spans.len() >= e.batch {
                    bodies.push(encode(e, &scope));
                    e.batch = rng.between(500, 1000) as usize;
                }
            }
        }
        for e in &mut exporters {
            if !e.spans.is_empty() {
                bodies.push(encode(e, &scope));
            }
        }
        let bytes = bodies.iter().map(|b| b.bytes.len()).sum();
        Pool {
            bodies,
            traces,
            spans,
            bytes,
        }
    }
}

/// The exporter's spans as one request body under its resource and scope; empties it.
fn encode(exporter: &mut Exporter, scope: &InstrumentationScope) -> Body {
    let spans = std::mem::take(&mut exporter.spans);
    let count = spans.len();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(exporter.resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope.clone()),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        }],
    };
    let bytes = request.encode_to_vec();
    // A span starts with its trace id: field 1, 16 bytes (0x0a 0x10).
    let mut trace_offsets = Vec::with_capacity(count);
    let mut i = 0;
    while i + 18 <= bytes.len() {
        if bytes[i] == 0x0a && bytes[i + 1] == 0x10 {
            let id: [u8; 16] = bytes[i + 2..i + 18].try_into().expect("16 bytes");
            if exporter.traces.contains(&id) {
                trace_offsets.push((i + 2) as u32);
                i += 18;
                continue;
            }
        }
        i += 1;
    }
    assert_eq!(trace_offsets.len(), count, "every span's trace id found");
    exporter.traces.clear();
    Body {
        bytes,
        spans: count,
        trace_offsets,
    }
}

/// HTTP status of a server span: mostly 200, some 404, a few 500.
fn status_code(rng: &mut Rng) -> i64 {
    match rng.below(1000) {
        0..=14 => 500,
        15..=44 => 404,
        _ => 200,
    }
}

fn path_of(rng: &mut Rng, route: &str) -> String {
    route.replace("{id}", &rng.between(1, 999_999).to_string())
}

/// What a span is, before its ids and times.
struct SpanSpec {
    exporter: usize,
    kind: i32,
    name: String,
    attributes: Vec<KeyValue>,
    error: bool,
}

/// The 10 spans of one trace, each with the exporter (service instance) that sends it.
fn trace(rng: &mut Rng, start_ns: u64) -> Vec<(usize, ProtoSpan)> {
    let trace_id: [u8; 16] = rng.id();
    let gateway = rng.below(GATEWAYS.len());
    // Three different backends: A (called by the gateway), B (called by A), C (called by
    // the gateway, uses its database).
    let a = rng.below(BACKENDS.len());
    let b = (a + 1 + rng.below(BACKENDS.len() - 1)) % BACKENDS.len();
    let mut c = rng.below(BACKENDS.len());
    while c == a || c == b {
        c = rng.below(BACKENDS.len());
    }
    let exporter_of = |service: usize, rng: &mut Rng| service * INSTANCES + rng.below(INSTANCES);
    let g = &GATEWAYS[gateway];
    let gx = exporter_of(gateway, rng);
    let ax = exporter_of(GATEWAYS.len() + a, rng);
    let bx = exporter_of(GATEWAYS.len() + b, rng);
    let cx = exporter_of(GATEWAYS.len() + c, rng);

    let server = |rng: &mut Rng, exporter: usize, model: &ServiceModel, agent: String| {
        let (method, route) = *rng.pick(model.routes);
        let code = status_code(rng);
        SpanSpec {
            exporter,
            kind: 2,
            name: format!("{method} {route}"),
            attributes: vec![
                string("http.request.method", method),
                string("http.route", route),
                string("url.path", path_of(rng, route)),
                string("url.scheme", "http"),
                string("server.address", format!("{}.shop.svc", model.name)),
                int("server.port", 8080),
                string("network.protocol.version", "1.1"),
                string("user_agent.original", agent),
                int("http.response.status_code", code),
            ],
            error: code >= 500,
        }
    };
    let client = |rng: &mut Rng, exporter: usize, callee: &ServiceModel, server: &SpanSpec| {
        let (method, route) = *rng.pick(callee.routes);
        // The client sees the status its server answers.
        let code = server
            .attributes
            .iter()
            .find(|kv| kv.key == "http.response.status_code")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::IntValue(i) => Some(*i),
                _ => None,
            })
            .unwrap_or(200);
        SpanSpec {
            exporter,
            kind: 3,
            name: method.to_owned(),
            attributes: vec![
                string("http.request.method", method),
                string(
                    "url.full",
                    format!(
                        "http://{}.shop.svc:8080{}",
                        callee.name,
                        path_of(rng, route)
                    ),
                ),
                string("server.address", format!("{}.shop.svc", callee.name)),
                int("server.port", 8080),
                string("network.protocol.version", "1.1"),
                int("http.response.status_code", code),
            ],
            error: code >= 500,
        }
    };
    let internal = |rng: &mut Rng, exporter: usize, model: &ServiceModel| {
        let function = *rng.pick(model.functions);
        SpanSpec {
            exporter,
            kind: 1,
            name: function.to_owned(),
            attributes: vec![
                string(
                    "code.filepath",
                    format!("src/{}.rs", model.name.replace('-', "_")),
                ),
                string(
                    "code.namespace",
                    format!("{}::handlers", model.name.replace('-', "_")),
                ),
                int("code.lineno", rng.between(20, 900) as i64),
                int("thread.id", rng.between(2, 9) as i64),
                string("thread.name", "tokio-runtime-worker"),
                int("busy_ns", rng.between(20_000, 900_000) as i64),
                int("idle_ns", rng.between(100_000, 20_000_000) as i64),
            ],
            error: false,
        }
    };
    let database = |rng: &mut Rng, exporter: usize, model: &ServiceModel| {
        let operation = *rng.pick(&["SELECT", "SELECT", "SELECT", "UPDATE", "INSERT"]);
        let query = match operation {
            "SELECT" => format!("SELECT * FROM {} WHERE id = $1", model.database),
            "UPDATE" => format!(
                "UPDATE {} SET state = $2, updated_at = now() WHERE id = $1",
                model.database
            ),
            _ => format!(
                "INSERT INTO {} (id, state, created_at) VALUES ($1, $2, now())",
                model.database
            ),
        };
        SpanSpec {
            exporter,
            kind: 3,
            name: format!("{operation} {}", model.database),
            attributes: vec![
                string("db.system.name", "postgresql"),
                string("db.namespace", model.database),
                string("db.operation.name", operation),
                string("db.collection.name", model.database),
                string("db.query.text", query),
                string("server.address", format!("{}-db.shop.svc", model.database)),
                int("server.port", 5432),
            ],
            error: false,
        }
    };

    let browser = rng.pick(&BROWSERS).to_string();
    let agent_of =
        |caller: &ServiceModel| format!("{}/{} reqwest/0.12", caller.name, caller.version);
    let s_a = server(rng, ax, &BACKENDS[a], agent_of(g));
    let s_b = server(rng, bx, &BACKENDS[b], agent_of(&BACKENDS[a]));
    let s_c = server(rng, cx, &BACKENDS[c], agent_of(g));
    let c_a = client(rng, gx, &BACKENDS[a], &s_a);
    let c_b = client(rng, ax, &BACKENDS[b], &s_b);
    let c_c = client(rng, gx, &BACKENDS[c], &s_c);
    // (spec, index of its parent in this list)
    let specs: Vec<(SpanSpec, Option<usize>)> = vec![
        (server(rng, gx, g, browser), None),        // 0: user-facing
        (internal(rng, gx, g), Some(0)),            // 1
        (c_a, Some(1)),                             // 2: gateway -> A
        (s_a, Some(2)),                             // 3
        (c_b, Some(3)),                             // 4: A -> B
        (s_b, Some(4)),                             // 5
        (c_c, Some(0)),                             // 6: gateway -> C
        (s_c, Some(6)),                             // 7
        (internal(rng, cx, &BACKENDS[c]), Some(7)), // 8
        (database(rng, cx, &BACKENDS[c]), Some(8)), // 9: C -> its database
    ];
    let ids: Vec<[u8; 8]> = specs.iter().map(|_| rng.id()).collect();
    // Times: each span inside its parent, the root 20 to 120 ms.
    let mut times: Vec<(u64, u64)> = Vec::with_capacity(specs.len());
    let mut spans = Vec::with_capacity(specs.len());
    for (i, (spec, parent)) in specs.into_iter().enumerate() {
        let (start, end) = match parent {
            None => (start_ns, start_ns + rng.between(20_000_000, 120_000_000)),
            Some(p) => {
                let (ps, pe) = times[p];
                let room = (pe - ps) / 4;
                let start = ps + rng.between(room / 8, room);
                (start, start + rng.between(room / 2, room * 2))
            }
        };
        times.push((start, end));
        let span = ProtoSpan {
            trace_id: trace_id.to_vec(),
            span_id: ids[i].to_vec(),
            parent_span_id: parent.map(|p| ids[p].to_vec()).unwrap_or_default(),
            flags: 0x101,
            name: spec.name,
            kind: spec.kind,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: spec.attributes,
            status: spec.error.then(|| Status {
                code: 2,
                message: String::new(),
            }),
            ..Default::default()
        };
        spans.push((spec.exporter, span));
    }
    spans
}

// ---------------------------------------------------------------------------------------
// In process, one thread.

fn graph_config() -> GraphConfig {
    // As the server builds it from `[traces]` and `[health]` defaults.
    GraphConfig {
        shards: 16,
        pair_ttl_secs: PAIR_TTL_SECS,
        max_pending: 1_000_000,
        bucket_secs: BUCKET_SECS,
        keep_buckets: (3600 / BUCKET_SECS) as usize + 2,
    }
}

/// Heap a request takes on its way to the queue, from the pool, per span and at most per
/// body: the prost request, the decoded batch (what waits in the queue).
#[derive(Debug, Default)]
struct BatchMemory {
    request_per_span: f64,
    batch_per_span: f64,
    /// Largest decoded batch of a body (the queue holds up to `queue_batches`).
    max_batch: i64,
    /// Largest body, prost request and batch together: one request in flight.
    max_in_flight: i64,
    /// Bytes of one half waiting in Seam's pairing store.
    pending_half: f64,
}

fn weigh_batches(pool: &Pool) -> anyhow::Result<BatchMemory> {
    let mut memory = BatchMemory::default();
    let (mut request_total, mut batch_total, mut spans) = (0i64, 0i64, 0usize);
    for body in &pool.bodies {
        let probe = HeapProbe::start();
        let request = ExportTraceServiceRequest::decode(body.bytes.as_slice())?;
        let request_bytes = probe.bytes();
        let decoded = convert_protobuf(&request);
        let both = probe.bytes();
        drop(request);
        let batch = probe.bytes();
        drop(decoded);
        drop(probe);
        request_total += request_bytes;
        batch_total += batch;
        spans += body.spans;
        memory.max_batch = memory.max_batch.max(batch);
        memory.max_in_flight = memory.max_in_flight.max(body.bytes.len() as i64 + both);
    }
    memory.request_per_span = request_total as f64 / spans as f64;
    memory.batch_per_span = batch_total as f64 / spans as f64;
    Ok(memory)
}

/// Time per stage of one contender.
#[derive(Debug, Default)]
struct Run {
    spans: usize,
    stages: Vec<(&'static str, Duration)>,
    /// Calls counted (edges from pairs, databases and the user).
    calls: u64,
    /// Halves still waiting at the end.
    pending: usize,
    /// Largest heap held between two ticks, when counted.
    peak_heap: i64,
    /// Allocations per stage, when counted.
    allocations: Vec<u64>,
    /// Time spent when each millionth span was done.
    timeline: Vec<Duration>,
    notes: String,
}

impl Run {
    fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }

    fn rate(&self) -> f64 {
        self.spans as f64 / self.total().as_secs_f64()
    }
}

struct InProcess {
    seam: Run,
    seam_alone: Run,
    baseline: Run,
    seam_state: Run,
    baseline_state: Run,
    state: StateMemory,
}

fn in_process(args: &Args, pool: &Pool) -> anyhow::Result<InProcess> {
    println!(
        "in process: {} spans per contender on one thread, clock +1 s per {SIM_RATE} spans",
        args.spans
    );
    let seam = run_seam(pool, args.spans, false, true)?;
    println!("  seam: {:.0} spans/s", seam.rate());
    let seam_alone = run_seam(pool, args.spans, false, false)?;
    println!(
        "  seam without Graph::ingest: {:.0} spans/s",
        seam_alone.rate()
    );
    let baseline = run_baseline(pool, args.spans, false)?;
    println!("  baseline: {:.0} spans/s", baseline.rate());
    // The state each holds at the goal's rate: 20 simulated seconds, heap counted.
    let seam_state = run_seam(pool, 20 * SIM_RATE, true, true)?;
    let baseline_state = run_baseline(pool, 20 * SIM_RATE, true)?;
    let state = weigh_state(pool)?;
    Ok(InProcess {
        seam,
        seam_alone,
        baseline,
        seam_state,
        baseline_state,
        state,
    })
}

/// Seam's path; without `with_graph`, the spans are dropped instead of paired (what the
/// decoding costs on its own, and what the graph's state costs the other stages).
fn run_seam(pool: &Pool, target: usize, count_heap: bool, with_graph: bool) -> anyhow::Result<Run> {
    let probe = count_heap.then(HeapProbe::start);
    let graph = Graph::new(graph_config());
    let mut now = T0;
    let mut last_bucket = now.div_euclid(BUCKET_SECS);
    let [mut decode, mut stats, mut ingest, mut expire] = [Duration::ZERO; 4];
    // Allocations by stage, when counted.
    let mut allocations = [0u64; 4];
    let mut timeline = Vec::new();
    let count = |probe: &Option<HeapProbe>| probe.as_ref().map_or(0, HeapProbe::allocations);
    let mut done = 0;
    let mut rows = 0;
    let mut peak_heap = 0;
    let mut i = 0;
    while done < target {
        let (_, bytes) = pool.body(i);
        i += 1;
        let a0 = count(&probe);
        let t0 = Instant::now();
        // What the OTLP/HTTP receiver does with a body: read it in place into spans.
        let decoded = decode_protobuf(bytes.as_slice())?;
        let t1 = Instant::now();
        let a1 = count(&probe);
        let t3 = t1;
        let a2 = a1;
        // As `Traces::ingest` does per batch (its result goes to the health engine).
        black_box(seam_traces::request_stats(&decoded.spans));
        let t4 = Instant::now();
        let a4 = count(&probe);
        let spans = decoded.spans.len();
        if with_graph {
            graph.ingest(decoded.spans, now);
        } else {
            drop(decoded.spans);
        }
        let t5 = Instant::now();
        let a5 = count(&probe);
        done += spans;
        let next = T0 + (done / SIM_RATE) as i64;
        if next != now {
            now = next;
            graph.expire(now);
            if now.div_euclid(BUCKET_SECS) != last_bucket {
                last_bucket = now.div_euclid(BUCKET_SECS);
                rows += graph.take_closed(now).len();
            }
        }
        let t6 = Instant::now();
        decode += t1 - t0;
        stats += t4 - t3;
        ingest += t5 - t4;
        expire += t6 - t5;
        let a6 = count(&probe);
        if done / MILLION != (done - spans) / MILLION {
            let elapsed = decode + stats + ingest + expire;
            timeline.push(elapsed);
        }
        for (total, (from, to)) in
            allocations
                .iter_mut()
                .zip([(a0, a1), (a2, a4), (a4, a5), (a5, a6)])
        {
            *total += to - from;
        }
        drop(bytes);
        if let Some(probe) = &probe {
            peak_heap = peak_heap.max(probe.bytes());
        }
    }
    let counters = graph.counters();
    let pending = graph.pending();
    drop(graph);
    drop(probe);
    Ok(Run {
        spans: done,
        stages: vec![
            ("decode_protobuf (the body read in place)", decode),
            ("request statistics (request_stats)", stats),
            if with_graph {
                ("pairing (Graph::ingest)", ingest)
            } else {
                ("drop the spans (no pairing)", ingest)
            },
            ("expire every s, take_closed per bucket", expire),
        ],
        allocations: allocations.to_vec(),
        timeline,
        calls: counters.paired / 2 + counters.database + counters.user_edges,
        pending,
        peak_heap,
        notes: format!(
            "paired {} database {} user {} virtual {} unpaired {} dropped {} duplicates {}; \
             {rows} edge rows taken",
            counters.paired,
            counters.database,
            counters.user_edges,
            counters.virtual_edges,
            counters.unpaired,
            counters.dropped,
            counters.duplicates
        ),
    })
}

/// The plain baseline: client and server spans paired in a `HashMap`, calls counted per
/// (caller, callee); services interned.
#[derive(Default)]
struct Baseline {
    names: HashMap<String, u32>,
    pending: HashMap<([u8; 16], [u8; 8]), Waiting>,
    edges: HashMap<(u32, u32), u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    side: Side,
    service: u32,
    expires: i64,
}

const USER: u32 = u32::MAX;

fn text(kv: &KeyValue) -> Option<&str> {
    match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s),
        _ => None,
    }
}

impl Baseline {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.names.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.insert(name.to_owned(), id);
        id
    }

    fn request(&mut self, request: &ExportTraceServiceRequest, now: i64) {
        for resource_spans in &request.resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(text)
                .unwrap_or("unknown_service");
            let service = self.intern(service);
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                let Ok(trace) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
                    continue;
                };
                match span.kind {
                    3 => {
                        let database = span
                            .attributes
                            .iter()
                            .find(|kv| kv.key == "db.namespace")
                            .and_then(text);
                        if let Some(database) = database {
                            let callee = self.intern(database);
                            *self.edges.entry((service, callee)).or_default() += 1;
                        } else if let Ok(id) = <[u8; 8]>::try_from(span.span_id.as_slice()) {
                            self.half((trace, id), Side::Client, service, now);
                        }
                    }
                    2 => match <[u8; 8]>::try_from(span.parent_span_id.as_slice()) {
                        Ok(parent) => self.half((trace, parent), Side::Server, service, now),
                        Err(_) => *self.edges.entry((USER, service)).or_default() += 1,
                    },
                    _ => {}
                }
            }
        }
    }

    fn half(&mut self, key: ([u8; 16], [u8; 8]), side: Side, service: u32, now: i64) {
        match self.pending.entry(key) {
            Entry::Occupied(entry) if entry.get().side != side => {
                let other = entry.remove();
                let pair = match side {
                    Side::Client => (service, other.service),
                    Side::Server => (other.service, service),
                };
                *self.edges.entry(pair).or_default() += 1;
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(entry) => {
                entry.insert(Waiting {
                    side,
                    service,
                    expires: now + PAIR_TTL_SECS,
                });
            }
        }
    }

    fn expire(&mut self, now: i64) {
        self.pending.retain(|_, waiting| waiting.expires > now);
    }
}

fn run_baseline(pool: &Pool, target: usize, count_heap: bool) -> anyhow::Result<Run> {
    let probe = count_heap.then(HeapProbe::start);
    let mut baseline = Baseline::default();
    let mut now = T0;
    let [mut decode, mut pairing, mut free] = [Duration::ZERO; 3];
    let mut allocations = [0u64; 3];
    let mut timeline = Vec::new();
    let count = |probe: &Option<HeapProbe>| probe.as_ref().map_or(0, HeapProbe::allocations);
    let mut done = 0;
    let mut peak_heap = 0;
    let mut i = 0;
    while done < target {
        let (body, bytes) = pool.body(i);
        i += 1;
        let a0 = count(&probe);
        let t0 = Instant::now();
        let request = ExportTraceServiceRequest::decode(bytes.as_slice())?;
        let t1 = Instant::now();
        let a1 = count(&probe);
        baseline.request(&request, now);
        done += body.spans;
        let next = T0 + (done / SIM_RATE) as i64;
        if next != now {
            now = next;
            baseline.expire(now);
        }
        let t2 = Instant::now();
        let a2 = count(&probe);
        drop(request);
        let t3 = Instant::now();
        decode += t1 - t0;
        pairing += t2 - t1;
        free += t3 - t2;
        allocations[0] += a1 - a0;
        allocations[1] += a2 - a1;
        if done / MILLION != (done - body.spans) / MILLION {
            timeline.push(decode + pairing + free);
        }
        drop(bytes);
        if let Some(probe) = &probe {
            peak_heap = peak_heap.max(probe.bytes());
        }
    }
    let calls = baseline.edges.values().sum();
    let pending = baseline.pending.len();
    drop(baseline);
    drop(probe);
    Ok(Run {
        spans: done,
        stages: vec![
            ("prost decode (ExportTraceServiceRequest::decode)", decode),
            ("HashMap pairing, (caller, callee) counts, expiry", pairing),
            ("free the prost request", free),
        ],
        allocations: allocations.to_vec(),
        timeline,
        calls,
        pending,
        peak_heap,
        notes: String::new(),
    })
}

/// What each store holds per thing it keeps, weighed with the counting allocator.
#[derive(Debug, Default)]
struct StateMemory {
    /// Per waiting client half (servers never come), [`PENDING_PROBE`] waiting.
    seam_pending: f64,
    baseline_pending: f64,
    /// Seam per internal span (kept 2 x ttl + 1 s, to find the request a client span
    /// works for).
    seam_internal: f64,
    /// Seam per trace of every other span, paired (its calls kept ttl + 1 s to count
    /// calls per request; the order of waiting halves until the next expiry).
    seam_trace: f64,
}

/// `span` with its trace id XORed with `mask`.
fn masked(span: &Span, mask: &[u8; 16]) -> Span {
    let mut span = span.clone();
    for (byte, m) in span.trace_id.iter_mut().zip(mask) {
        *byte ^= m;
    }
    span
}

/// Heap a fresh graph holds after `spans` were fed `rounds` times (trace ids masked per
/// round) at one instant, nothing expiring; and the graph's waiting halves.
fn graph_heap(spans: &[Span], rounds: usize) -> (f64, usize) {
    let probe = HeapProbe::start();
    let graph = Graph::new(graph_config());
    for round in 0..rounds {
        let mask = mask(round);
        for chunk in spans.chunks(1000) {
            graph.ingest(chunk.iter().map(|s| masked(s, &mask)).collect(), T0);
        }
    }
    let heap = probe.bytes() as f64;
    let pending = graph.pending();
    drop(graph);
    drop(probe);
    (heap, pending)
}

fn weigh_state(pool: &Pool) -> anyhow::Result<StateMemory> {
    let mut spans: Vec<Span> = Vec::with_capacity(pool.spans);
    for body in &pool.bodies {
        let request = ExportTraceServiceRequest::decode(body.bytes.as_slice())?;
        spans.extend(convert_protobuf(&request).spans);
    }
    let clients: Vec<Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client && !s.is_database_call())
        .cloned()
        .collect();
    let rounds = PENDING_PROBE.div_ceil(clients.len());
    let (heap, pending) = graph_heap(&clients, rounds);
    let seam_pending = heap / pending as f64;

    let probe = HeapProbe::start();
    let mut baseline = Baseline::default();
    for round in 0..rounds {
        let mask = mask(round);
        for span in &clients {
            let mut trace = span.trace_id;
            for (byte, m) in trace.iter_mut().zip(&mask) {
                *byte ^= m;
            }
            let service = baseline.intern(&span.resource.service);
            baseline.half((trace, span.span_id), Side::Client, service, T0);
        }
    }
    let baseline_pending = probe.bytes() as f64 / baseline.pending.len() as f64;
    drop(baseline);
    drop(probe);

    let internal: Vec<Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Internal)
        .cloned()
        .collect();
    let (heap, _) = graph_heap(&internal, 5);
    let seam_internal = heap / (5 * internal.len()) as f64;
    let others: Vec<Span> = spans
        .into_iter()
        .filter(|s| s.kind != SpanKind::Internal)
        .collect();
    let (heap, _) = graph_heap(&others, 5);
    let seam_trace = heap / (5 * pool.traces) as f64;
    Ok(StateMemory {
        seam_pending,
        baseline_pending,
        seam_internal,
        seam_trace,
    })
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

impl InProcess {
    fn print(&self, memory: &BatchMemory) {
        println!(
            "\nin process, one thread, {} spans each (µs per span by stage):\n",
            self.seam.spans
        );
        println!(
            "{:<60} {:>12} {:>10}",
            "path (one thread)", "spans/s", "µs/span"
        );
        for (name, run) in [
            (
                "Seam: decode_protobuf, request_stats, Graph::ingest, expire",
                &self.seam,
            ),
            (
                "Seam without Graph::ingest (spans dropped, not paired)",
                &self.seam_alone,
            ),
            (
                "baseline: prost decode, HashMap pairing, (caller, callee)",
                &self.baseline,
            ),
        ] {
            println!(
                "{name:<60} {:>12.0} {:>10.3}",
                run.rate(),
                run.total().as_secs_f64() * 1e6 / run.spans as f64
            );
            for (stage, time) in &run.stages {
                println!(
                    "  {stage:<58} {:>12.0} {:>10.3}",
                    run.spans as f64 / time.as_secs_f64(),
                    time.as_secs_f64() * 1e6 / run.spans as f64
                );
            }
        }
        for (name, run) in [("Seam", &self.seam), ("baseline", &self.baseline)] {
            let mut last = Duration::ZERO;
            let rates: Vec<String> = run
                .timeline
                .iter()
                .map(|&at| {
                    let rate = MILLION as f64 / (at - last).as_secs_f64();
                    last = at;
                    format!("{:.0}k", rate / 1000.0)
                })
                .collect();
            println!(
                "{name}, spans/s of each million ({} simulated s): {}",
                MILLION / SIM_RATE,
                rates.join(", ")
            );
        }
        println!(
            "\nSeam / baseline: {:.2}x the time per span",
            self.baseline.rate() / self.seam.rate()
        );
        println!(
            "calls counted: Seam {} ({}), baseline {}; waiting at the end: Seam {}, baseline {}",
            self.seam.calls,
            self.seam.notes,
            self.baseline.calls,
            self.seam.pending,
            self.baseline.pending
        );
        println!(
            "\nheap (as glibc rounds it; counting allocator, in separate untimed runs):\n\
             - per waiting client half, {PENDING_PROBE} waiting: Seam's Graph {:.0} bytes, \
             baseline HashMap {:.0} bytes\n\
             - Seam per internal span (kept {} s): {:.0} bytes; per trace's other 8 spans, \
             paired (its 4 calls kept {} s for calls per request): {:.0} bytes\n\
             - state at {SIM_RATE} spans/s (peak over 20 simulated s, bodies in flight \
             included): Seam {:.1} MiB, baseline {:.1} MiB\n\
             - a request on its way: prost request {:.0} bytes a span, decoded batch (what \
             the queue holds) {:.0} bytes a span; largest batch {:.2} MiB, largest request \
             in flight (body + prost + batch) {:.2} MiB",
            self.state.seam_pending,
            self.state.baseline_pending,
            2 * PAIR_TTL_SECS + 1,
            self.state.seam_internal,
            PAIR_TTL_SECS + 1,
            self.state.seam_trace,
            mib(self.seam_state.peak_heap as f64),
            mib(self.baseline_state.peak_heap as f64),
            memory.request_per_span,
            memory.batch_per_span,
            mib(memory.max_batch as f64),
            mib(memory.max_in_flight as f64),
        );
        for (name, run) in [
            ("Seam", &self.seam_state),
            ("baseline", &self.baseline_state),
        ] {
            let stages: Vec<String> = run
                .stages
                .iter()
                .zip(&run.allocations)
                .filter(|(_, &n)| n > 0)
                .map(|((stage, _), &n)| {
                    let stage = stage.split(" (").next().unwrap_or(stage);
                    format!("{stage} {:.1}", n as f64 / run.spans as f64)
                })
                .collect();
            println!(
                "- allocations a span, {name}: {} (total {:.1})",
                stages.join(", "),
                run.allocations.iter().sum::<u64>() as f64 / run.spans as f64
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// End to end.

/// Seam's process, killed when this is dropped.
struct Contender {
    child: Child,
    log: PathBuf,
}

impl Contender {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn proc_file(&self, file: &str) -> anyhow::Result<String> {
        let path = format!("/proc/{}/{file}", self.pid());
        std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))
    }

    fn cpu_seconds(&self, tick: f64) -> anyhow::Result<f64> {
        cpu_seconds(&self.proc_file("stat")?, tick)
    }

    /// A `/proc/PID/status` field in bytes (`VmRSS`, `VmHWM`).
    fn memory(&self, field: &str) -> anyhow::Result<u64> {
        let status = self.proc_file("status")?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .with_context(|| format!("no {field} in /proc/PID/status"))?;
        Ok(kib * 1024)
    }

    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("seam exited ({status}):\n{}", tail.join("\n"));
        }
        Ok(())
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a `/proc/PID/stat` line, in seconds.
fn cpu_seconds(stat: &str, tick: f64) -> anyhow::Result<f64> {
    let after_name = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) as f64 / tick)
}

/// CPU seconds every process of the machine has used (the `cpu` line of /proc/stat:
/// user, nice, system, irq, softirq, steal).
fn machine_busy_seconds(tick: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    ensure!(fields.len() >= 8, "malformed /proc/stat");
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    Ok(busy as f64 / tick)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn clock_ticks_per_second() -> anyhow::Result<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(output.stdout)?.trim().parse()?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The sum of the samples of `name` whose labels contain `labels` (empty: all).
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            if !(rest.starts_with(' ') || rest.starts_with('{')) || !rest.contains(labels) {
                return None;
            }
            rest.rsplit(' ').next()?.parse::<f64>().ok()
        })
        .sum()
}

/// What the load generator counted.
#[derive(Default)]
struct LoadCounters {
    ok: AtomicU64,
    accepted_spans: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
    /// Spans in every request sent (answered or not).
    offered_spans: AtomicU64,
    next_body: AtomicU64,
    /// What the first failed request said.
    first_error: std::sync::Mutex<Option<String>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct LoadSnapshot {
    ok: u64,
    accepted_spans: u64,
    throttled: u64,
    errors: u64,
    offered_spans: u64,
}

impl LoadCounters {
    fn snapshot(&self) -> LoadSnapshot {
        LoadSnapshot {
            ok: self.ok.load(Ordering::Relaxed),
            accepted_spans: self.accepted_spans.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            offered_spans: self.offered_spans.load(Ordering::Relaxed),
        }
    }
}

impl std::ops::Sub for LoadSnapshot {
    type Output = LoadSnapshot;
    fn sub(self, before: LoadSnapshot) -> LoadSnapshot {
        LoadSnapshot {
            ok: self.ok - before.ok,
            accepted_spans: self.accepted_spans - before.accepted_spans,
            throttled: self.throttled - before.throttled,
            errors: self.errors - before.errors,
            offered_spans: self.offered_spans - before.offered_spans,
        }
    }
}

/// One connection: posts the next body of the pool as soon as the last was answered.
/// After a 429, `retry_after` waits that long and sends the same body again; `None`
/// moves on to the next body at once.
async fn connection(
    url: String,
    pool: Arc<Pool>,
    counters: Arc<LoadCounters>,
    stop: Arc<AtomicBool>,
    retry_after: Option<Duration>,
) {
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            eprintln!("no HTTP client: {err}");
            return;
        }
    };
    let mut current: Option<(usize, Vec<u8>)> = None;
    while !stop.load(Ordering::Relaxed) {
        let (spans, bytes) = match current.take() {
            Some(body) => body,
            None => {
                let i = counters.next_body.fetch_add(1, Ordering::Relaxed) as usize;
                let (body, bytes) = pool.body(i);
                (body.spans, bytes)
            }
        };
        counters
            .offered_spans
            .fetch_add(spans as u64, Ordering::Relaxed);
        let sent = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(bytes.clone())
            .send()
            .await;
        let status = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read to the end, so the connection is kept.
                let _ = response.bytes().await;
                status
            }
            Err(err) => {
                let mut first = counters
                    .first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    let mut text = err.to_string();
                    let mut source = std::error::Error::source(&err);
                    while let Some(cause) = source {
                        text.push_str(&format!(": {cause}"));
                        source = cause.source();
                    }
                    *first = Some(text);
                }
                0
            }
        };
        match status {
            200 => {
                counters.ok.fetch_add(1, Ordering::Relaxed);
                counters
                    .accepted_spans
                    .fetch_add(spans as u64, Ordering::Relaxed);
            }
            429 => {
                counters.throttled.fetch_add(1, Ordering::Relaxed);
                if let Some(wait) = retry_after {
                    tokio::time::sleep(wait).await;
                    current = Some((spans, bytes));
                }
            }
            _ => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A group of connections, stopped together.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Load {
    fn start(
        url: &str,
        pool: &Arc<Pool>,
        counters: &Arc<LoadCounters>,
        connections: usize,
        retry_after: Option<Duration>,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..connections {
            tasks.spawn(connection(
                url.to_owned(),
                pool.clone(),
                counters.clone(),
                stop.clone(),
                retry_after,
            ));
        }
        Load { stop, tasks }
    }

    async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Counters of both sides at one instant.
#[derive(Debug, Clone, Copy)]
struct Mark {
    at: Instant,
    seam_cpu: f64,
    own_cpu: f64,
    machine_cpu: f64,
    load: LoadSnapshot,
    otlp_accepted: f64,
    received: f64,
    throttled: f64,
}

/// One phase's figures.
#[derive(Debug, Clone)]
struct Phase {
    seconds: f64,
    seam_cpu: f64,
    own_cpu: f64,
    /// CPU seconds of every other process of the machine.
    others_cpu: f64,
    load: LoadSnapshot,
    otlp_accepted: f64,
    received: f64,
    throttled: f64,
    /// VmRSS at the start, the largest sampled, at the end; per half of the phase.
    rss_start: u64,
    rss_max_first_half: u64,
    rss_max_second_half: u64,
    rss_end: u64,
    /// Spans/s accepted and RSS at the end of every 5 s.
    timeline: Vec<(f64, u64)>,
}

impl Phase {
    fn between(a: &Mark, b: &Mark, samples: &[(u64, u64)]) -> Phase {
        let rss: Vec<u64> = samples.iter().map(|(rss, _)| *rss).collect();
        let half = rss.len() / 2;
        // Every 5 s: spans/s accepted over the 5 s and the RSS at their end.
        let timeline = samples
            .windows(6)
            .step_by(5)
            .map(|w| ((w[5].1 - w[0].1) as f64 / 5.0, w[5].0))
            .collect();
        Phase {
            seconds: (b.at - a.at).as_secs_f64(),
            seam_cpu: b.seam_cpu - a.seam_cpu,
            own_cpu: b.own_cpu - a.own_cpu,
            others_cpu: (b.machine_cpu - a.machine_cpu)
                - (b.seam_cpu - a.seam_cpu)
                - (b.own_cpu - a.own_cpu),
            load: b.load - a.load,
            otlp_accepted: b.otlp_accepted - a.otlp_accepted,
            received: b.received - a.received,
            throttled: b.throttled - a.throttled,
            rss_start: rss.first().copied().unwrap_or(0),
            rss_max_first_half: rss[..half.max(1)].iter().copied().max().unwrap_or(0),
            rss_max_second_half: rss[half..].iter().copied().max().unwrap_or(0),
            rss_end: rss.last().copied().unwrap_or(0),
            timeline,
        }
    }

    fn rate(&self) -> f64 {
        self.load.accepted_spans as f64 / self.seconds
    }

    fn offered(&self) -> f64 {
        self.load.offered_spans as f64 / self.seconds
    }

    /// Seam's CPU in percent of one core.
    fn cpu_percent(&self) -> f64 {
        self.seam_cpu / self.seconds * 100.0
    }

    fn cpu_per_10k(&self) -> f64 {
        self.cpu_percent() / (self.rate() / 10_000.0)
    }
}

/// Both sides' counts over the whole run, once every request was answered.
struct Totals {
    generator_accepted: u64,
    generator_throttled: u64,
    generator_errors: u64,
    first_error: Option<String>,
    accepted: f64,
    received: f64,
    throttled: f64,
    dropped: f64,
    unpaired: f64,
}

struct EndToEnd {
    sustained: Phase,
    overload: Phase,
    totals: Totals,
    peak_rss: u64,
    connections: usize,
    overload_connections: usize,
    queue_batches: usize,
}

async fn end_to_end(args: &Args, pool: Arc<Pool>) -> anyhow::Result<EndToEnd> {
    ensure!(
        args.seam.is_file(),
        "{} not found: build it first with `cargo build --release -p seam-server --bins`",
        args.seam.display()
    );
    let tick = clock_ticks_per_second()?;
    let dir = tempfile::tempdir()?;
    let base = format!("http://127.0.0.1:{}", free_port()?);
    let otlp = format!("127.0.0.1:{}", free_port()?);
    let grpc = format!("127.0.0.1:{}", free_port()?);
    let config = format!(
        "data_dir = {data:?}\nlisten = {listen:?}\nlog_level = \"warn\"\n\n\
         [collectors.otlp]\nhttp_listen = {otlp:?}\ngrpc_listen = {grpc:?}\n\
         queue_batches = {queue}\nmax_body_bytes = {body}\n",
        data = dir.path().join("data").display().to_string(),
        listen = base.trim_start_matches("http://"),
        queue = args.queue_batches,
        body = 20 * 1024 * 1024,
    );
    let config_path = dir.path().join("seam.toml");
    std::fs::write(&config_path, &config)?;
    let log = dir.path().join("seam.log");
    let file = File::create(&log)?;
    let child = Command::new(&args.seam)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("starting seam")?;
    let mut seam = Contender { child, log };
    let client = reqwest::Client::new();
    let url = format!("http://{otlp}/v1/traces");
    let metrics_url = format!("{base}/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        seam.check_running()?;
        let metrics_up = client
            .get(&metrics_url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let otlp_up = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(Vec::new())
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if metrics_up && otlp_up {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "seam did not come up within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "\nend to end: seam pid {} (OTLP/HTTP on {otlp}, dashboard on {base}), queue_batches \
         {}; {} connections for {} s (after 5 s of warm-up), then {} connections for {} s",
        seam.pid(),
        args.queue_batches,
        args.connections,
        args.duration,
        args.overload_connections,
        args.duration
    );

    let counters = Arc::new(LoadCounters::default());
    let mark = |seam: &Contender, counters: &LoadCounters| {
        let client = client.clone();
        let metrics_url = metrics_url.clone();
        let seam_cpu = seam.cpu_seconds(tick);
        let load = counters.snapshot();
        let machine_cpu = machine_busy_seconds(tick);
        async move {
            let own_cpu = cpu_seconds(&std::fs::read_to_string("/proc/self/stat")?, tick)?;
            let at = Instant::now();
            let text = client
                .get(&metrics_url)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            anyhow::Ok(Mark {
                at,
                seam_cpu: seam_cpu?,
                own_cpu,
                machine_cpu: machine_cpu?,
                load,
                otlp_accepted: metric(&text, "seam_otlp_spans_total", "result=\"accepted\""),
                received: metric(&text, "seam_trace_spans_received_total", ""),
                throttled: metric(&text, "seam_otlp_requests_total", "outcome=\"throttled\""),
            })
        }
    };

    // Sustained: as fast as Seam takes the bodies.
    let load = Load::start(
        &url,
        &pool,
        &counters,
        args.connections,
        Some(Duration::from_millis(5)),
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    seam.check_running()?;
    let perf = match &args.perf {
        Some(path) => Some(
            Command::new("perf")
                .args(["record", "-g", "-F", "499", "-o"])
                .arg(path)
                .args(["-p", &seam.pid().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting perf")?,
        ),
        None => None,
    };
    let before = mark(&seam, &counters).await?;
    let samples = sample(&seam, &counters, args.duration).await?;
    let after = mark(&seam, &counters).await?;
    if let Some(mut perf) = perf {
        // SIGINT makes perf write its file.
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    load.stop().await;
    seam.check_running()?;
    let sustained = Phase::between(&before, &after, &samples);
    println!(
        "  sustained: {:.0} spans/s accepted, {} 429s, Seam at {:.0}% of a core",
        sustained.rate(),
        sustained.load.throttled,
        sustained.cpu_percent()
    );

    // Overload: more connections, no pause after a 429.
    let load = Load::start(&url, &pool, &counters, args.overload_connections, None);
    let before = mark(&seam, &counters).await?;
    let samples = sample(&seam, &counters, args.duration).await?;
    let after = mark(&seam, &counters).await?;
    load.stop().await;
    seam.check_running()?;
    let overload = Phase::between(&before, &after, &samples);
    println!(
        "  overload: {:.0} spans/s offered, {:.0} accepted, {} 429s",
        overload.offered(),
        overload.rate(),
        overload.load.throttled
    );
    let peak_rss = seam.memory("VmHWM")?;
    // Every request answered: both sides' totals must agree once the queue is drained.
    let drained = Instant::now() + Duration::from_secs(30);
    let totals = loop {
        let text = client
            .get(&metrics_url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let accepted = metric(&text, "seam_otlp_spans_total", "result=\"accepted\"");
        let received = metric(&text, "seam_trace_spans_received_total", "");
        if received >= accepted || Instant::now() > drained {
            break Totals {
                generator_accepted: counters.accepted_spans.load(Ordering::Relaxed),
                generator_throttled: counters.throttled.load(Ordering::Relaxed),
                generator_errors: counters.errors.load(Ordering::Relaxed),
                first_error: counters
                    .first_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone(),
                accepted,
                received,
                throttled: metric(&text, "seam_otlp_requests_total", "outcome=\"throttled\""),
                dropped: metric(&text, "seam_trace_spans_total", "result=\"dropped\""),
                unpaired: metric(&text, "seam_trace_spans_total", "result=\"unpaired\""),
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    Ok(EndToEnd {
        sustained,
        overload,
        totals,
        peak_rss,
        connections: args.connections,
        overload_connections: args.overload_connections,
        queue_batches: args.queue_batches,
    })
}

/// Seam's VmRSS and the spans accepted so far, at the start and after every second of
/// `seconds`.
async fn sample(
    seam: &Contender,
    counters: &LoadCounters,
    seconds: u64,
) -> anyhow::Result<Vec<(u64, u64)>> {
    let accepted = || counters.accepted_spans.load(Ordering::Relaxed);
    let mut samples = vec![(seam.memory("VmRSS")?, accepted())];
    let start = Instant::now();
    for second in 1..=seconds {
        tokio::time::sleep_until((start + Duration::from_secs(second)).into()).await;
        samples.push((seam.memory("VmRSS")?, accepted()));
    }
    Ok(samples)
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

impl EndToEnd {
    fn print(&self, args: &Args, memory: &BatchMemory) {
        let s = &self.sustained;
        let o = &self.overload;
        println!(
            "\nend to end over loopback HTTP/1.1 ({} s per phase; the load generator shares \
             the machine's cores with Seam):\n",
            args.duration
        );
        println!(
            "| phase | connections | offered spans/s | accepted spans/s | 200s | 429s | errors \
             | Seam CPU (% of a core) | generator CPU (% of a core) | Seam RSS start → end MiB |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        for (name, phase, connections) in [
            ("sustained", s, self.connections),
            ("overload", o, self.overload_connections),
        ] {
            println!(
                "| {name} | {connections} | {:.0} | {:.0} | {} | {} | {} | {:.0} | {:.0} | {:.0} → {:.0} |",
                phase.offered(),
                phase.rate(),
                phase.load.ok,
                phase.load.throttled,
                phase.load.errors,
                phase.cpu_percent(),
                phase.own_cpu / phase.seconds * 100.0,
                mib(phase.rss_start as f64),
                mib(phase.rss_end as f64),
            );
        }
        for (name, phase) in [("sustained", s), ("overload", o)] {
            let steps: Vec<String> = phase
                .timeline
                .iter()
                .map(|(rate, rss)| format!("{:.0}k/{:.0}", rate / 1000.0, mib(*rss as f64)))
                .collect();
            println!(
                "{name}, every 5 s (accepted spans/s / RSS MiB): {}",
                steps.join(", ")
            );
        }
        println!(
            "\nother processes on the machine used {:.0}% and {:.0}% of a core in the two \
             phases",
            (s.others_cpu / s.seconds * 100.0).max(0.0),
            (o.others_cpu / o.seconds * 100.0).max(0.0)
        );
        println!(
            "Seam's own counters over the windows (read a moment after the generator's): \
             seam_otlp_spans_total{{result=\"accepted\"}} +{:.0} and +{:.0} (generator: +{} \
             and +{}), seam_trace_spans_received_total +{:.0} and +{:.0}, \
             seam_otlp_requests_total{{outcome=\"throttled\"}} +{:.0} and +{:.0} (generator: \
             {} and {} 429s)",
            s.otlp_accepted,
            o.otlp_accepted,
            s.load.accepted_spans,
            o.load.accepted_spans,
            s.received,
            o.received,
            s.throttled,
            o.throttled,
            s.load.throttled,
            o.load.throttled,
        );
        let t = &self.totals;
        println!(
            "whole run, every request answered: generator {} spans in 200s, Seam \
             seam_otlp_spans_total{{result=\"accepted\"}} {:.0}, \
             seam_trace_spans_received_total {:.0}; generator {} 429s and {} errors, Seam \
             {:.0} throttled; pairing: {:.0} unpaired, {:.0} dropped",
            t.generator_accepted,
            t.accepted,
            t.received,
            t.generator_throttled,
            t.generator_errors,
            t.throttled,
            t.unpaired,
            t.dropped,
        );
        if let Some(error) = &t.first_error {
            println!("the generator's first error: {error}");
        }
        let per_10k = s.cpu_per_10k();
        // The bound: what Seam held at its sustained rate, plus a full queue, one request
        // in flight per connection, and a full pairing store (bodies refused under
        // overload leave their partners waiting: they fill it up to `max_pending`, Seam's
        // default 1,000,000 halves, and are counted as dropped past it).
        let bound = s.rss_max_first_half.max(s.rss_max_second_half) as f64
            + self.queue_batches as f64 * memory.max_batch as f64
            + self.overload_connections as f64 * memory.max_in_flight as f64
            + MAX_PENDING * memory.pending_half;
        let overload_max = o.rss_max_first_half.max(o.rss_max_second_half);
        let bounded = (overload_max as f64) <= bound;
        println!(
            "\nSeam: {:.0} spans/s sustained at {:.1}% of a core, {per_10k:.2}% of a core per \
             10,000 spans/s; peak RSS {:.0} MiB (VmHWM)\n\
             overload ({:.2}x the sustained rate offered): RSS {:.0} MiB before, at most {:.0} \
             MiB in the first half and {:.0} MiB in the second, {:.0} MiB after; {} 429s\n\
             bound: the sustained phase's largest RSS + queue_batches ({}) x the largest \
             decoded batch ({:.2} MiB) + {} connections x the largest request in flight \
             ({:.2} MiB) + a full pairing store ({MAX_PENDING:.0} halves x {:.0} bytes) = \
             {:.0} MiB\n",
            s.rate(),
            s.cpu_percent(),
            mib(self.peak_rss as f64),
            o.offered() / s.rate(),
            mib(o.rss_start as f64),
            mib(o.rss_max_first_half as f64),
            mib(o.rss_max_second_half as f64),
            mib(o.rss_end as f64),
            o.load.throttled,
            self.queue_batches,
            mib(memory.max_batch as f64),
            self.overload_connections,
            mib(memory.max_in_flight as f64),
            memory.pending_half,
            mib(bound),
        );
        println!(
            "- throughput: {:.0} spans/s end to end (goal >= {RATE_GOAL:.0}): {}",
            s.rate(),
            verdict(s.rate() >= RATE_GOAL)
        );
        println!(
            "- CPU: {per_10k:.2}% of one core per 10,000 spans/s (goal <= {CPU_GOAL}%; the \
             OpenTelemetry Collector's published load test: about 6% to receive and batch): {}",
            verdict(per_10k <= CPU_GOAL)
        );
        println!(
            "- memory under overload: at most {:.0} MiB, bound {:.0} MiB, {} 429s: {}",
            mib(overload_max as f64),
            mib(bound),
            o.load.throttled,
            verdict(bounded)
        );
    }
}
