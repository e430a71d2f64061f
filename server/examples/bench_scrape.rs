//! Scraping a farm of targets: Seam's scraper next to Debian's Prometheus 2.42, one after
//! the other on the same targets in the same run, each process's own CPU time and peak
//! memory read from /proc.
//!
//!     cargo build --release -p seam-server   # the `seam` binary this runs
//!     cargo run --release -p seam-server --example bench_scrape -- \
//!         [--targets 1000] [--series 1000] [--interval 15] [--duration 300]
//!
//! The farm runs in this process: TARGETS listeners on 127.0.0.1, each serving SERIES
//! series as Prometheus text 0.0.4, uncompressed: an HTTP request-duration histogram by
//! method, route and status code (so Seam's request statistics do real work), a counter
//! family and a gauge family, counters growing with time. Each contender is started and
//! waited for until every target is up, so start-up stays outside the window; then, over
//! DURATION seconds, its CPU time (utime + stime of /proc/PID/stat) and the samples the
//! farm served it are measured. Its own count of samples is printed beside them: a
//! shortfall means failed scrapes. Its peak RSS (VmHWM) covers its whole life.
//!
//! Prometheus stores every sample (head block and write-ahead log); Seam reduces the
//! request series to statistics during the scrape and stores only those, so the figures
//! compare the cost of what each does with the same scrapes, not the same work.

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::Parser;

/// The memory goal: Seam's peak RSS at most this share of Prometheus's.
const MEMORY_GOAL: f64 = 0.25;
/// The CPU goal: Seam's CPU seconds per million samples at most this share of
/// Prometheus's.
const CPU_GOAL: f64 = 0.5;
/// How long a contender may take to start answering, on top of one scrape interval for
/// every target to be scraped once.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Parser)]
struct Args {
    /// Targets in the farm
    #[arg(long, default_value_t = 1000)]
    targets: usize,
    /// Series each target serves (at least 20)
    #[arg(long, default_value_t = 1000)]
    series: usize,
    /// Seconds between two scrapes of a target
    #[arg(long, default_value_t = 15)]
    interval: u64,
    /// Seconds each contender is measured for
    #[arg(long, default_value_t = 300)]
    duration: u64,
    /// The Seam binary (built with `cargo build --release -p seam-server`)
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/seam"))]
    seam: PathBuf,
    /// The Prometheus binary
    #[arg(long, default_value = "/usr/bin/prometheus")]
    prometheus: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Returning drops the running contender, which kills it: Ctrl-C leaves nothing behind.
    tokio::select! {
        result = run(args) => result,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.targets > 0, "--targets must be at least 1");
    ensure!(args.series >= 20, "--series must be at least 20");
    ensure!(args.interval > 0, "--interval must be at least 1");
    ensure!(
        args.seam.is_file(),
        "{} not found: build it first with `cargo build --release -p seam-server`",
        args.seam.display()
    );
    let tick = clock_ticks_per_second()?;
    let prometheus_version = version(&args.prometheus)?;
    let farm = Farm::start(args.targets, args.series).await?;
    let composition = &farm.composition;
    println!(
        "farm: {} targets x {} series ({} request-duration histograms of {} series, {} counters, \
         {} gauges, 2 process series), {:.0} KiB a body, uncompressed",
        args.targets,
        args.series,
        composition.histograms,
        SERIES_PER_HISTOGRAM,
        composition.counters,
        composition.gauges,
        farm.body_bytes as f64 / 1024.0,
    );
    println!(
        "every {} s (timeout {} s), each contender measured for {} s once every target is up\n",
        args.interval,
        timeout_secs(args.interval),
        args.duration
    );

    let seam = run_seam(&args, &farm, tick).await?;
    seam.print("seam");
    let prometheus = run_prometheus(&args, &farm, tick).await?;
    prometheus.print("prometheus");

    print_report(&args, &seam, &prometheus, &prometheus_version);
    Ok(())
}

/// The scrape timeout: 10 s, or the interval when that is shorter (both refuse more).
fn timeout_secs(interval: u64) -> u64 {
    interval.min(10)
}

/// Series in one label set of the request-duration histogram: 14 buckets, `+Inf`,
/// `_sum` and `_count`.
const SERIES_PER_HISTOGRAM: usize = BUCKETS.len() + 3;
/// OpenTelemetry's recommended boundaries for `http.server.request.duration`.
const BUCKETS: [&str; 14] = [
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5",
    "7.5", "10",
];
const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const CODES: [&str; 6] = ["200", "201", "400", "404", "500", "503"];
const ROUTES: [&str; 6] = [
    "/api/v1/orders",
    "/api/v1/orders/{id}",
    "/api/v1/cart",
    "/api/v1/items",
    "/api/v1/items/{id}",
    "/api/v1/users/{id}/sessions",
];
/// Mean request duration in seconds.
const MEAN_LATENCY: f64 = 0.08;
/// Seconds the farm's counters pretend to have been counting before it started, so
/// they start from plausible values.
const UPTIME: f64 = 86_400.0;

/// How a value in an exposition moves with the time `t` in seconds.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// A counter growing by this much a second, written as an integer.
    Counter(f64),
    /// A gauge moving a little around this level.
    Gauge(u64),
    /// A histogram's `_sum`: `rate` requests a second of [`MEAN_LATENCY`] each.
    Sum(f64),
}

impl Value {
    fn write(self, t: f64, out: &mut Vec<u8>) {
        use std::io::Write;
        match self {
            Value::Counter(rate) => write!(out, "{}", (rate * t) as u64),
            Value::Gauge(level) => write!(out, "{}", level + (t as u64) % 16),
            Value::Sum(rate) => write!(out, "{:.3}", rate * t * MEAN_LATENCY),
        }
        .expect("writing to memory cannot fail");
    }
}

/// One target's exposition, cut where the values go: a scrape costs a copy and a few
/// integer conversions, so the farm takes little of the CPU the contenders share with it.
struct Exposition {
    /// Text up to a value, and the value.
    parts: Vec<(String, Value)>,
    /// Text after the last value.
    tail: String,
}

impl Exposition {
    fn render(&self, t: f64) -> Vec<u8> {
        let text: usize = self.parts.iter().map(|(text, _)| text.len()).sum();
        let mut body = Vec::with_capacity(text + self.tail.len() + 16 * self.parts.len());
        for (text, value) in &self.parts {
            body.extend_from_slice(text.as_bytes());
            value.write(t, &mut body);
        }
        body.extend_from_slice(self.tail.as_bytes());
        body
    }
}

#[derive(Default)]
struct ExpositionBuilder {
    parts: Vec<(String, Value)>,
    pending: String,
}

impl ExpositionBuilder {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.pending
            .push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    }

    fn sample(&mut self, series: &str, value: Value) {
        self.pending.push_str(series);
        self.pending.push(' ');
        self.parts.push((std::mem::take(&mut self.pending), value));
        self.pending.push('\n');
    }

    fn finish(self) -> Exposition {
        Exposition {
            parts: self.parts,
            tail: self.pending,
        }
    }
}

/// How a target's series split into families.
#[derive(Debug, Clone, Copy)]
struct Composition {
    /// Label sets of the request-duration histogram.
    histograms: usize,
    counters: usize,
    gauges: usize,
}

impl Composition {
    /// About half of the series in the histogram, the rest split between a counter and
    /// a gauge family, plus two process series.
    fn new(series: usize) -> Composition {
        let left = series - 2;
        let histograms = left / 2 / SERIES_PER_HISTOGRAM;
        let counters = (left - histograms * SERIES_PER_HISTOGRAM) / 2;
        let gauges = left - histograms * SERIES_PER_HISTOGRAM - counters;
        Composition {
            histograms,
            counters,
            gauges,
        }
    }
}

/// A small number in `1..=10` that differs between targets and series, so that
/// targets' rates differ without a random number generator.
fn spread(target: usize, series: usize) -> f64 {
    ((target * 31 + series * 7) % 10 + 1) as f64
}

/// Target `target`'s exposition, as a service instrumented with OpenTelemetry's HTTP
/// semantic conventions and a couple of its own families would serve it.
fn exposition(target: usize, composition: Composition) -> Exposition {
    let mut out = ExpositionBuilder::default();
    out.family(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    out.sample("process_cpu_seconds_total", Value::Counter(0.05));
    out.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    out.sample(
        "process_resident_memory_bytes",
        Value::Gauge(50_000_000 + target as u64 * 4096),
    );

    let histogram = "http_server_request_duration_seconds";
    if composition.histograms > 0 {
        out.family(histogram, "histogram", "Duration of HTTP server requests.");
    }
    for k in 0..composition.histograms {
        let method = METHODS[k % METHODS.len()];
        let code = CODES[(k / METHODS.len()) % CODES.len()];
        let route_index = k / (METHODS.len() * CODES.len());
        let base_route = ROUTES[route_index % ROUTES.len()];
        let route = match route_index / ROUTES.len() {
            0 => base_route.to_owned(),
            version => format!("{base_route}/v{version}"),
        };
        let labels = format!(
            "http_request_method=\"{method}\",http_route=\"{route}\",http_response_status_code=\"{code}\""
        );
        let per_code = match code.as_bytes()[0] {
            b'2' => 2.0,
            b'4' => 0.2,
            _ => 0.02,
        };
        let rate = per_code * spread(target, k);
        for le in BUCKETS {
            let bound: f64 = le.parse().expect("bucket bounds are numbers");
            // Exponentially distributed durations: the share of requests faster than `le`.
            let share = 1.0 - (-bound / MEAN_LATENCY).exp();
            out.sample(
                &format!("{histogram}_bucket{{{labels},le=\"{le}\"}}"),
                Value::Counter(rate * share),
            );
        }
        out.sample(
            &format!("{histogram}_bucket{{{labels},le=\"+Inf\"}}"),
            Value::Counter(rate),
        );
        out.sample(&format!("{histogram}_sum{{{labels}}}"), Value::Sum(rate));
        out.sample(
            &format!("{histogram}_count{{{labels}}}"),
            Value::Counter(rate),
        );
    }

    let jobs = "app_jobs_processed_total";
    if composition.counters > 0 {
        out.family(jobs, "counter", "Jobs processed, by queue and outcome.");
    }
    for j in 0..composition.counters {
        let (outcome, rate) = if j % 2 == 0 {
            ("ok", 1.0)
        } else {
            ("failed", 0.05)
        };
        out.sample(
            &format!("{jobs}{{queue=\"queue-{}\",outcome=\"{outcome}\"}}", j / 2),
            Value::Counter(rate * spread(target, j)),
        );
    }

    let depth = "app_queue_depth";
    if composition.gauges > 0 {
        out.family(depth, "gauge", "Jobs waiting, by queue.");
    }
    for j in 0..composition.gauges {
        out.sample(
            &format!("{depth}{{queue=\"queue-{j}\"}}"),
            Value::Gauge(((target + j) % 50) as u64 * 10),
        );
    }
    out.finish()
}

/// What one listener serves.
struct Target {
    exposition: Exposition,
    started: Instant,
    served: Arc<AtomicU64>,
}

async fn serve_metrics(State(target): State<Arc<Target>>) -> impl IntoResponse {
    let t = UPTIME + target.started.elapsed().as_secs_f64();
    let body = target.exposition.render(t);
    target.served.fetch_add(1, Ordering::Relaxed);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

/// The targets, served by this process.
struct Farm {
    urls: Vec<String>,
    series: usize,
    composition: Composition,
    /// Size of the largest body at start.
    body_bytes: usize,
    /// Bodies served so far, all targets together.
    served: Arc<AtomicU64>,
}

impl Farm {
    async fn start(targets: usize, series: usize) -> anyhow::Result<Farm> {
        let composition = Composition::new(series);
        let started = Instant::now();
        let served = Arc::new(AtomicU64::new(0));
        let mut urls = Vec::with_capacity(targets);
        let mut body_bytes = 0;
        for i in 0..targets {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .with_context(|| format!("binding target {i} (raise `ulimit -n`?)"))?;
            let exposition = exposition(i, composition);
            body_bytes = body_bytes.max(exposition.render(UPTIME).len());
            urls.push(format!("http://{}/metrics", listener.local_addr()?));
            let target = Arc::new(Target {
                exposition,
                started,
                served: served.clone(),
            });
            let app = Router::new()
                .route("/metrics", get(serve_metrics))
                .with_state(target);
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, app).await {
                    eprintln!("target {i} stopped: {err}");
                }
            });
        }
        Ok(Farm {
            urls,
            series,
            composition,
            body_bytes,
            served,
        })
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// `host:port` of every target, for Prometheus's static configuration.
    fn addresses(&self) -> impl Iterator<Item = &str> {
        self.urls.iter().map(|url| {
            url.trim_start_matches("http://")
                .trim_end_matches("/metrics")
        })
    }
}

/// A contender's process, killed when this is dropped, so an error, a panic or Ctrl-C
/// never leaves Seam or Prometheus running.
struct Contender {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Contender {
    /// Starts `command` with its output in `log`.
    fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> anyhow::Result<Self> {
        let file = File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Contender { name, child, log })
    }

    fn proc_file(&self, file: &str) -> anyhow::Result<String> {
        let path = format!("/proc/{}/{file}", self.child.id());
        std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))
    }

    /// User and system CPU seconds the process has used, all its threads together.
    fn cpu_seconds(&self, tick: f64) -> anyhow::Result<f64> {
        cpu_seconds(&self.proc_file("stat")?, tick)
    }

    /// The process's peak resident set size in bytes (`VmHWM`).
    fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        let status = self.proc_file("status")?;
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .context("no VmHWM in /proc/PID/status")?;
        Ok(kib * 1024)
    }

    /// Fails, with the end of its log, when the process has exited.
    fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("{} exited ({status}):\n{}", self.name, tail.join("\n"));
        }
        Ok(())
    }

    /// Polls `ready` every half second until it answers `true`; fails after `timeout`
    /// or as soon as the process exits. Errors (nothing listening yet) count as not
    /// ready.
    async fn wait_for<F, Fut>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut ready: F,
    ) -> anyhow::Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<bool>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("not yet");
        loop {
            self.check_running()?;
            match ready().await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(err) => last = format!("{err:#}"),
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: {what} did not happen within {timeout:?} (last: {last}); log: {}",
                    self.name,
                    self.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Measures the window: CPU seconds and samples (read with `samples`) over
    /// `duration`, the farm's own CPU over the same time, then the peak RSS.
    async fn measure<F, Fut>(
        &mut self,
        farm: &Farm,
        duration: Duration,
        tick: f64,
        mut samples: F,
    ) -> anyhow::Result<Figures>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<f64>>,
    {
        println!(
            "{}: pid {}, every target up; measuring for {} s",
            self.name,
            self.child.id(),
            duration.as_secs()
        );
        let samples_before = samples().await?;
        let served_before = farm.served();
        let farm_before = cpu_seconds(&std::fs::read_to_string("/proc/self/stat")?, tick)?;
        let cpu_before = self.cpu_seconds(tick)?;
        tokio::time::sleep(duration).await;
        let cpu_after = self.cpu_seconds(tick)?;
        let farm_after = cpu_seconds(&std::fs::read_to_string("/proc/self/stat")?, tick)?;
        let served_after = farm.served();
        let samples_after = samples().await?;
        self.check_running()?;
        Ok(Figures {
            samples: ((served_after - served_before) * farm.series as u64) as f64,
            own_samples: samples_after - samples_before,
            cpu_seconds: cpu_after - cpu_before,
            farm_cpu_seconds: farm_after - farm_before,
            peak_rss_bytes: self.peak_rss_bytes()?,
        })
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one contender did in its window.
struct Figures {
    /// Samples the farm served in the window: the same yardstick for both contenders
    /// (Prometheus's own counter also counts the series it adds to every scrape).
    samples: f64,
    /// Samples scraped, by the contender's own counter.
    own_samples: f64,
    cpu_seconds: f64,
    /// CPU seconds this process (the farm) used in the window.
    farm_cpu_seconds: f64,
    peak_rss_bytes: u64,
}

impl Figures {
    fn cpu_per_million(&self) -> f64 {
        self.cpu_seconds / (self.samples / 1e6)
    }

    fn rss_mib(&self) -> f64 {
        self.peak_rss_bytes as f64 / (1024.0 * 1024.0)
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {:.0} samples served by the farm ({:.0} by its own counter), {:.1} CPU s, \
             peak RSS {:.0} MiB; the farm used {:.1} CPU s meanwhile\n",
            self.samples,
            self.own_samples,
            self.cpu_seconds,
            self.rss_mib(),
            self.farm_cpu_seconds
        );
        if self.own_samples < 0.99 * self.samples {
            println!(
                "{name}: WARNING: it counted fewer samples than it was served; scrapes failed\n"
            );
        }
    }
}

/// utime + stime of a `/proc/PID/stat` line, in seconds.
fn cpu_seconds(stat: &str, tick: f64) -> anyhow::Result<f64> {
    // The command name (field 2) may hold blanks; the fields after it are plain.
    let after_name = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line; `fields[0]` is field 3.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) as f64 / tick)
}

fn clock_ticks_per_second() -> anyhow::Result<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    let ticks: f64 = String::from_utf8(output.stdout)?.trim().parse()?;
    Ok(ticks)
}

fn version(binary: &Path) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", binary.display()))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    // "prometheus, version 2.42.0+ds (branch: ...)"
    let number = text
        .split_whitespace()
        .skip_while(|word| *word != "version")
        .nth(1)
        .unwrap_or("(unknown version)");
    Ok(format!("Prometheus {number}"))
}

/// A loopback port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The sum of every sample of `name` in a Prometheus text exposition.
fn metric_sum(text: &str, name: &str) -> anyhow::Result<f64> {
    let mut found = false;
    let mut sum = 0.0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value = rest.rsplit(' ').next().unwrap_or_default();
        sum += value
            .parse::<f64>()
            .with_context(|| format!("{name}: value {value:?}"))?;
        found = true;
    }
    ensure!(found, "no {name} in the metrics");
    Ok(sum)
}

async fn get_text(client: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let response = client.get(url).send().await?.error_for_status()?;
    Ok(response.text().await?)
}

async fn get_json(client: &reqwest::Client, url: &str) -> anyhow::Result<serde_json::Value> {
    let response = client.get(url).send().await?.error_for_status()?;
    Ok(response.json().await?)
}

async fn run_seam(args: &Args, farm: &Farm, tick: f64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let base = format!("http://127.0.0.1:{}", free_port()?);
    let mut config = format!(
        "data_dir = {data:?}\nlisten = {listen:?}\nlog_level = \"warn\"\n\n\
         [collectors.scrape]\ninterval_secs = {interval}\ntimeout_secs = {timeout}\n\
         sample_limit = {samples}\nbody_size_limit_bytes = {body}\nmax_targets = {targets}\n",
        data = dir.path().join("data").display().to_string(),
        listen = base.trim_start_matches("http://"),
        interval = args.interval,
        timeout = timeout_secs(args.interval),
        samples = args.series,
        // Counters grow longer with time; twice the first body leaves room.
        body = 2 * farm.body_bytes,
        targets = args.targets,
    );
    for (i, url) in farm.urls.iter().enumerate() {
        config.push_str(&format!(
            "\n[[collectors.scrape.static_targets]]\nservice = \"farm-{i}\"\nurl = {url:?}\n"
        ));
    }
    let config_path = dir.path().join("seam.toml");
    std::fs::write(&config_path, config)?;
    let mut seam = Contender::spawn(
        "seam",
        Command::new(&args.seam)
            .arg("serve")
            .arg("--config")
            .arg(&config_path),
        dir.path().join("seam.log"),
    )?;

    let client = reqwest::Client::new();
    let targets = args.targets;
    seam.wait_for(
        "every target up",
        Duration::from_secs(args.interval) + START_TIMEOUT,
        || async {
            let url = format!("{base}/api/v1/targets?health=up&limit=1");
            let body = get_json(&client, &url).await?;
            Ok(body["total"].as_u64() == Some(targets as u64))
        },
    )
    .await?;
    let metrics = format!("{base}/metrics");
    seam.measure(farm, Duration::from_secs(args.duration), tick, || async {
        metric_sum(
            &get_text(&client, &metrics).await?,
            "seam_scrape_samples_total",
        )
    })
    .await
}

async fn run_prometheus(args: &Args, farm: &Farm, tick: f64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let address = format!("127.0.0.1:{}", free_port()?);
    let base = format!("http://{address}");
    let mut config = format!(
        "global:\n  scrape_interval: {}s\n  scrape_timeout: {}s\nscrape_configs:\n  \
         - job_name: farm\n    static_configs:\n      - targets:\n",
        args.interval,
        timeout_secs(args.interval)
    );
    for target in farm.addresses() {
        config.push_str(&format!("          - '{target}'\n"));
    }
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config)?;
    let mut prometheus = Contender::spawn(
        "prometheus",
        Command::new(&args.prometheus)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn"),
        dir.path().join("prometheus.log"),
    )?;

    let client = reqwest::Client::new();
    prometheus
        .wait_for("ready", START_TIMEOUT, || async {
            Ok(client
                .get(format!("{base}/-/ready"))
                .send()
                .await?
                .status()
                .is_success())
        })
        .await?;
    let targets = args.targets;
    prometheus
        .wait_for(
            "every target up",
            Duration::from_secs(args.interval) + START_TIMEOUT,
            || async {
                let url = format!("{base}/api/v1/targets?state=active");
                let body = get_json(&client, &url).await?;
                let up = body["data"]["activeTargets"]
                    .as_array()
                    .map_or(0, |active| {
                        active.iter().filter(|t| t["health"] == "up").count()
                    });
                Ok(up == targets)
            },
        )
        .await?;
    let metrics = format!("{base}/metrics");
    prometheus
        .measure(farm, Duration::from_secs(args.duration), tick, || async {
            metric_sum(
                &get_text(&client, &metrics).await?,
                "prometheus_tsdb_head_samples_appended_total",
            )
        })
        .await
}

fn print_report(args: &Args, seam: &Figures, prometheus: &Figures, prometheus_version: &str) {
    let cpu_ratio = seam.cpu_per_million() / prometheus.cpu_per_million();
    let rss_ratio = seam.rss_mib() / prometheus.rss_mib();
    let verdict = |ratio: f64, goal: f64| if ratio <= goal { "met" } else { "MISSED" };
    println!(
        "```sh\ncargo run --release -p seam-server --example bench_scrape -- --targets {} \
         --series {} --interval {} --duration {}\n```\n",
        args.targets, args.series, args.interval, args.duration
    );
    println!("| scraper | samples scraped | CPU s | CPU s per million samples | peak RSS MiB |");
    println!("|---|---:|---:|---:|---:|");
    for (name, figures) in [("Seam", seam), (prometheus_version, prometheus)] {
        println!(
            "| {name} | {:.0} | {:.1} | {:.3} | {:.0} |",
            figures.samples,
            figures.cpu_seconds,
            figures.cpu_per_million(),
            figures.rss_mib()
        );
    }
    println!(
        "| Seam / Prometheus | {:.2}x | {:.2}x | **{cpu_ratio:.2}x** | **{rss_ratio:.2}x** |",
        seam.samples / prometheus.samples,
        seam.cpu_seconds / prometheus.cpu_seconds,
    );
    println!(
        "\nSamples are those the farm served in each window. Prometheus stores every sample \
         (head block and write-ahead log); Seam reduces the request series to statistics \
         while scraping and stores only those."
    );
    println!(
        "\n- CPU per million samples: {cpu_ratio:.2}x Prometheus's (goal <= {CPU_GOAL}x): {}",
        verdict(cpu_ratio, CPU_GOAL)
    );
    println!(
        "- peak RSS: {rss_ratio:.2}x Prometheus's (goal <= {MEMORY_GOAL}x): {}",
        verdict(rss_ratio, MEMORY_GOAL)
    );
}
