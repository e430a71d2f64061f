//! Benchmark: how fast Seam loads manifests, next to what a user would otherwise run (a
//! plain YAML deserializer into generic values, with no positions, validation or
//! reference checks).
//!
//!     cargo run --release -p seam-catalog --example bench_manifests [SERVICES]
//!
//! Prints the median of 7 runs for each, in documents and megabytes per second.

use std::time::{Duration, Instant};

use seam_catalog::manifest::{self, Input, Limits};

fn fleet(services: usize) -> String {
    let mut text = String::new();
    for i in 0..services {
        let next = (i + 1) % services;
        let other = (i * 7 + 3) % services;
        text.push_str(&format!(
            "---
apiVersion: seam.dev/v1
kind: Service
metadata:
  name: service-{i}
  description: Service number {i} of the benchmark fleet
  links:
    - url: https://runbooks.example.com/service-{i}
      title: Runbook
spec:
  version: 1.{i}.0
  owner: team-{team}
  domain: domain-{domain}
  system: system-{domain}
  lifecycle: production
  instances:
    - baseUrl: http://10.0.{a}.{b}:8080
  provides:
    - name: api-{i}
      version: 1.{i}.0
      protocol: http
  consumes:
    - service: service-{next}
      api: api-{next}
      version: \"^1.0\"
      mode: sync
      protocol: http
    - service: service-{other}
      mode: async
      protocol: event
  datastores:
    - name: db-{i}
      kind: postgresql
      access: owned
  libraries:
    - name: seam-client
      version: 0.3.1
",
            team = i % 40,
            domain = i % 12,
            a = i / 250,
            b = i % 250,
        ));
    }
    text
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    median(
        (0..7)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let services: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let text = fleet(services);
    let megabytes = text.len() as f64 / 1e6;
    let limits = Limits {
        max_bytes: text.len() + 1,
        max_documents: services + 1,
        ..Limits::default()
    };
    println!(
        "input: {services} Seam manifests in one multi-document YAML file, {megabytes:.2} MB\n"
    );

    let seam = time(|| {
        let loaded = manifest::load(
            &[Input {
                name: "fleet.yaml",
                text: &text,
            }],
            &limits,
        );
        assert!(!loaded.has_errors());
        assert_eq!(loaded.catalog.services.len(), services);
    });
    let plain = time(|| {
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("valid YAML");
        assert_eq!(docs.len(), services);
    });

    println!(
        "{:<62} {:>10} {:>12} {:>9}",
        "loader", "median", "docs/s", "MB/s"
    );
    for (name, elapsed) in [
        (
            "seam_catalog::manifest::load (positions, validation, refs)",
            seam,
        ),
        (
            "serde_saphyr::from_multiple::<serde_json::Value> (parse only)",
            plain,
        ),
    ] {
        let secs = elapsed.as_secs_f64();
        println!(
            "{name:<62} {:>8.1}ms {:>12.0} {:>9.1}",
            secs * 1000.0,
            services as f64 / secs,
            megabytes / secs
        );
    }

    // Hostile input under the limits: a mapping of 30,000 keys merged into another of
    // 30,000 (about 0.7 MB). Refused or not, it must cost about what parsing it costs;
    // before merge keys were made linear it held the CPU for seconds.
    let keys: Vec<String> = (0..30_000).map(|i| format!("k{i}: 1")).collect();
    let own: Vec<String> = (0..30_000).map(|i| format!("o{i}: 1")).collect();
    let bomb = format!(
        "base: &b {{{}}}\nm: {{<<: *b, {}}}\n",
        keys.join(", "),
        own.join(", ")
    );
    let merge = time(|| {
        let loaded = manifest::load(
            &[Input {
                name: "bomb.yaml",
                text: &bomb,
            }],
            &Limits::default(),
        );
        assert!(loaded.has_errors());
    });
    let parse_only = time(|| {
        let value: serde_json::Value = serde_saphyr::from_str(&bomb).expect("valid YAML");
        assert!(value.is_object());
    });
    println!(
        "\nmerge-key bomb, {:.2} MB: seam_catalog::manifest::load {:.1}ms, serde_saphyr::from_str {:.1}ms",
        bomb.len() as f64 / 1e6,
        merge.as_secs_f64() * 1000.0,
        parse_only.as_secs_f64() * 1000.0
    );
}
