//! Parser throughput, single-threaded, next to what a user would otherwise use: the
//! `prometheus-parse` crate, `prom_text_format_parser` and `openmetrics-parser`.
//!
//! ```sh
//! cargo run --release -p seam-exposition --example bench_parse            # 50 MB synthetic
//! cargo run --release -p seam-exposition --example bench_parse -- 200      # 200 MB
//! ```
//!
//! Inputs: node_exporter's own fixture (`$SEAM_TESTDATA/node_exporter-fixtures/
//! e2e-output.txt`, skipped when missing) and a synthetic exposition built in memory
//! (histograms with labels, counters and gauges, as a busy HTTP service exports them),
//! in the Prometheus text format and, for this crate, in OpenMetrics too. Every parser
//! reads each sample's name, labels and value, so that lazy decoding is not free.
//! Prints a markdown table: median of several runs.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use seam_exposition::{Entry, Format, Parser};

const MIB: f64 = 1024.0 * 1024.0;

/// A deterministic pseudo-random sequence (xorshift64*), so that every run parses the
/// same input.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];
const PATHS: &[&str] = &[
    "/api/v1/users/{id}",
    "/api/v1/orders",
    "/api/v1/orders/{id}/items",
    "/healthz",
    "/metrics",
    "/api/v2/catalog/search",
];
const CODES: &[&str] = &["200", "201", "204", "400", "404", "500", "503"];
const BUCKETS: &[&str] = &[
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
];

/// A synthetic exposition of at least `bytes` bytes: for each simulated service, a
/// histogram and a counter with one label set per route and code, and three gauges. `openmetrics` writes the same content
/// as OpenMetrics (counter families without `_total`, seconds timestamps, `# EOF`).
fn synthetic(bytes: usize, openmetrics: bool) -> (String, usize) {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(bytes + 4096);
    let mut samples = 0;
    let mut service = 0;
    while out.len() < bytes {
        service += 1;
        let pod = format!(
            "checkout-{service:x}-7d9f8c6b5-{:05x}",
            random.below(1 << 20)
        );
        let instance = format!(
            "10.{}.{}.{}:8080",
            service % 256,
            random.below(256),
            random.below(256)
        );

        let family = format!("svc{service}_http_request_duration_seconds");
        out.push_str(&format!(
            "# HELP {family} Latency of HTTP requests, by route.\n"
        ));
        out.push_str(&format!("# TYPE {family} histogram\n"));
        for route in 0..40 {
            let labels = format!(
                "method=\"{}\",path=\"{}\",code=\"{}\",pod=\"{pod}\",instance=\"{instance}\"",
                METHODS[route % METHODS.len()],
                PATHS[route / METHODS.len() % PATHS.len()],
                CODES[route / (METHODS.len() * PATHS.len()) % CODES.len()]
            );
            let mut count = 0;
            for bound in BUCKETS {
                count += random.below(500);
                out.push_str(&format!(
                    "{family}_bucket{{{labels},le=\"{bound}\"}} {count}\n"
                ));
            }
            count += random.below(50);
            out.push_str(&format!(
                "{family}_bucket{{{labels},le=\"+Inf\"}} {count}\n"
            ));
            let sum = count as f64 * (random.below(1_000_000) as f64 / 1e7);
            out.push_str(&format!("{family}_sum{{{labels}}} {sum}\n"));
            out.push_str(&format!("{family}_count{{{labels}}} {count}\n"));
            samples += BUCKETS.len() + 3;
        }

        let counter = format!("svc{service}_http_requests");
        let (declared, sample) = if openmetrics {
            (counter.clone(), format!("{counter}_total"))
        } else {
            (format!("{counter}_total"), format!("{counter}_total"))
        };
        out.push_str(&format!(
            "# HELP {declared} Requests served, by route and code.\n"
        ));
        out.push_str(&format!("# TYPE {declared} counter\n"));
        for route in 0..60 {
            out.push_str(&format!(
                "{sample}{{method=\"{}\",path=\"{}\",code=\"{}\",pod=\"{pod}\"}} {}\n",
                METHODS[route % METHODS.len()],
                PATHS[route / METHODS.len() % PATHS.len()],
                CODES[route / (METHODS.len() * PATHS.len()) % CODES.len()],
                random.below(10_000_000)
            ));
            samples += 1;
        }

        for (gauge, help) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            ),
            (
                "go_goroutines",
                "Number of goroutines that currently exist.",
            ),
            ("queue_depth_ratio", "Share of the work queue in use."),
        ] {
            let name = format!("svc{service}_{gauge}");
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for shard in 0..8 {
                let value = random.below(1 << 32) as f64 / 1024.0;
                let timestamp = 1_700_000_000_000u64 + random.below(1_000_000);
                if openmetrics {
                    let seconds = timestamp as f64 / 1000.0;
                    out.push_str(&format!(
                        "{name}{{shard=\"{shard}\",pod=\"{pod}\"}} {value:e} {seconds}\n"
                    ));
                } else {
                    out.push_str(&format!(
                        "{name}{{shard=\"{shard}\",pod=\"{pod}\"}} {value:e} {timestamp}\n"
                    ));
                }
                samples += 1;
            }
        }
    }
    if openmetrics {
        out.push_str("# EOF\n");
    }
    (out, samples)
}

/// Runs `parse` until `budget` has passed (at least 3 times, at most 15) and returns
/// the median time of one run; `parse` returns something to keep the work alive. A fast
/// parse is repeated within each timed run (to about 50 ms), so that small inputs are
/// timed over many passes too.
fn measure(budget: Duration, mut parse: impl FnMut() -> u64) -> Duration {
    let start = Instant::now();
    black_box(parse());
    let once = start.elapsed().max(Duration::from_micros(1));
    let repeat = (Duration::from_millis(50).as_nanos() / once.as_nanos()).max(1) as u32;
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 3 || (started.elapsed() < budget && times.len() < 15) {
        let start = Instant::now();
        for _ in 0..repeat {
            black_box(parse());
        }
        times.push(start.elapsed() / repeat);
    }
    times.sort();
    times[times.len() / 2]
}

fn seam(input: &str, format: Format) -> u64 {
    let mut touched = 0u64;
    for entry in Parser::new(input.as_bytes(), format) {
        if let Entry::Sample(sample) = entry.expect("the benchmark input is valid") {
            touched += sample.name.len() as u64 + sample.value.to_bits() % 2;
            for (name, value) in sample.labels.iter() {
                touched += (name.len() + value.len()) as u64;
            }
        }
    }
    touched
}

fn prometheus_parse(input: &str) -> Result<u64, String> {
    let lines = input.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).map_err(|e| e.to_string())?;
    let mut touched = 0u64;
    for sample in &scrape.samples {
        touched += sample.metric.len() as u64;
        touched += match &sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v.to_bits() % 2,
            prometheus_parse::Value::Histogram(buckets) => buckets.len() as u64,
            prometheus_parse::Value::Summary(quantiles) => quantiles.len() as u64,
        };
        for (name, value) in sample.labels.iter() {
            touched += (name.len() + value.len()) as u64;
        }
    }
    Ok(touched)
}

fn prom_text_format_parser(input: &str) -> Result<u64, String> {
    let scrape = prom_text_format_parser::Scrape::parse(input).map_err(|e| match e {
        prom_text_format_parser::ScrapeParseError::Parse(message) => message,
        prom_text_format_parser::ScrapeParseError::Collect(errors) => format!(
            "{} errors, the first: {}",
            errors.len(),
            errors.first().map_or("", |e| e.error.as_str())
        ),
    })?;
    let mut touched = 0u64;
    for metric in &scrape.metrics {
        for sample in &metric.samples {
            touched += metric.name.len() as u64 + sample.value.value.as_f64().to_bits() % 2;
            for label in sample.labels.iter() {
                touched += (label.key.len() + label.value.len()) as u64;
            }
        }
    }
    Ok(touched)
}

fn openmetrics_parser(input: &str) -> Result<u64, String> {
    let exposition =
        openmetrics_parser::prometheus::parse_prometheus(input).map_err(|e| e.to_string())?;
    let mut touched = 0u64;
    for family in exposition.families.values() {
        for sample in family.iter_samples() {
            let labels = sample.get_labelset().map_err(|e| e.to_string())?;
            for (name, value) in labels.iter() {
                touched += (name.len() + value.len()) as u64;
            }
            touched += family.family_name.len() as u64;
        }
    }
    Ok(touched)
}

struct Row {
    parser: &'static str,
    input: String,
    bytes: usize,
    samples: usize,
    /// The median time, or why the parser rejects the input.
    time: Result<Duration, String>,
}

/// Times a parser that may reject the input (then says why, shortened).
fn measure_fallible(
    budget: Duration,
    parse: impl Fn() -> Result<u64, String>,
) -> Result<Duration, String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&parse))
        .map_err(|_| "panics".to_owned())?;
    if let Err(error) = outcome {
        let short: String = error.chars().take(70).filter(|&c| c != '|').collect();
        return Err(format!("rejects it: {short}"));
    }
    Ok(measure(budget, || parse().unwrap_or_default()))
}

fn main() {
    let megabytes: usize = std::env::args()
        .nth(1)
        .map(|arg| arg.parse().expect("the argument is a size in MB"))
        .unwrap_or(50);
    let mut inputs: Vec<(String, String, usize)> = Vec::new();
    let testdata = std::env::var_os("SEAM_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/testdata"
            ))
        });
    let fixture = testdata.join("node_exporter-fixtures/e2e-output.txt");
    match std::fs::read_to_string(&fixture) {
        Ok(text) => {
            let samples = seam_exposition::validate(text.as_bytes(), Format::Prometheus).unwrap();
            inputs.push(("node_exporter e2e-output.txt".to_owned(), text, samples));
        }
        Err(error) => eprintln!(
            "skipped: node_exporter fixture, {}: {error}",
            fixture.display()
        ),
    }
    let (text, samples) = synthetic(megabytes * 1_000_000, false);
    inputs.push((format!("synthetic {megabytes} MB"), text, samples));

    let mut rows = Vec::new();
    for (name, text, samples) in &inputs {
        // A small input is timed over many runs; the budget keeps slow parsers bounded.
        let budget = Duration::from_secs(3);
        let row = |parser, time| Row {
            parser,
            input: name.clone(),
            bytes: text.len(),
            samples: *samples,
            time,
        };
        eprintln!("timing {name} ...");
        rows.push(row(
            "seam-exposition",
            Ok(measure(budget, || seam(text, Format::Prometheus))),
        ));
        rows.push(row(
            "prometheus-parse 0.2.5",
            measure_fallible(budget, || prometheus_parse(text)),
        ));
        rows.push(row(
            "prom_text_format_parser 0.1.0",
            measure_fallible(budget, || prom_text_format_parser(text)),
        ));
        rows.push(row(
            "openmetrics-parser 0.5.1",
            measure_fallible(budget, || openmetrics_parser(text)),
        ));
    }
    let (text, samples) = synthetic(megabytes * 1_000_000, true);
    eprintln!("timing the OpenMetrics variant ...");
    let time = measure(Duration::from_secs(3), || seam(&text, Format::OpenMetrics));
    rows.push(Row {
        parser: "seam-exposition (OpenMetrics, all checks)",
        input: format!("synthetic {megabytes} MB, OpenMetrics"),
        bytes: text.len(),
        samples,
        time: Ok(time),
    });

    println!("| input | parser | MiB/s | samples/s | seam-exposition is |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for input in &inputs {
        let seam_rate = rows
            .iter()
            .find(|row| row.input == input.0 && row.parser == "seam-exposition")
            .and_then(|row| row.time.as_ref().ok())
            .map(|time| input.1.len() as f64 / time.as_secs_f64());
        for row in rows.iter().filter(|row| row.input == input.0) {
            print_row(row, seam_rate);
        }
    }
    for row in rows
        .iter()
        .filter(|row| !inputs.iter().any(|input| input.0 == row.input))
    {
        print_row(row, None);
    }
}

fn print_row(row: &Row, seam_rate: Option<f64>) {
    let time = match &row.time {
        Ok(time) => *time,
        Err(why) => {
            let mb = row.bytes as f64 / 1e6;
            println!(
                "| {} ({mb:.1} MB) | {} | {why} | | |",
                row.input, row.parser
            );
            return;
        }
    };
    let rate = row.bytes as f64 / time.as_secs_f64();
    let ratio = match seam_rate {
        Some(seam) if row.parser != "seam-exposition" => format!("{:.1}× faster", seam / rate),
        _ => String::new(),
    };
    println!(
        "| {} ({:.1} MB) | {} | {:.0} | {:.2e} | {} |",
        row.input,
        row.bytes as f64 / 1e6,
        row.parser,
        rate / MIB,
        row.samples as f64 / time.as_secs_f64(),
        ratio
    );
}
