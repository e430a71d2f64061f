//! The fleet's shape: which services, in which bounded contexts, calling whom; its
//! registration with Seam, and the traffic into it.

use std::time::Duration;

/// How a service exposes its request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metrics {
    /// OpenTelemetry's `http.server.request.duration` as Prometheus exports it.
    OpenTelemetry,
    /// The common Prometheus client names (`http_requests_total`, `http_request_duration_seconds`).
    PrometheusClient,
    /// No standard request metrics at all (a smell).
    None,
}

/// How a service's manifest reaches Seam: every way a real fleet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// A file in `examples/manifests`, which the demo's directory collector watches.
    Directory,
    /// `seam register`, run by `scripts/demo` with the manifest the service serves.
    Cli,
    /// Seam's discovery fetches it from the service's well-known path (`examples/demo.toml`
    /// lists these base URLs).
    Discovery,
    /// The fleet `PUT`s it to the REST API.
    Api,
}

/// One service of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub domain: &'static str,
    pub system: &'static str,
    pub owner: &'static str,
    pub port: u16,
    /// The services it calls on each request.
    pub calls: Vec<String>,
    pub metrics: Metrics,
    /// How its manifest reaches Seam.
    pub registration: Registration,
    /// Whether traffic enters the fleet here.
    pub entry: bool,
    /// Whether it fails in bursts.
    pub bursts: bool,
    /// Mean latency of its own work, milliseconds.
    pub work_ms: u64,
}

impl ServiceSpec {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its manifest in Seam's format, as it serves it and registers it.
    pub fn manifest(&self) -> String {
        let consumes: String = self
            .calls
            .iter()
            .map(|callee| format!("    - {{service: {callee}, mode: sync, protocol: http}}\n"))
            .collect();
        let consumes = if consumes.is_empty() {
            String::new()
        } else {
            format!("  consumes:\n{consumes}")
        };
        format!(
            "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  description: Demo fleet service\nspec:\n  version: 1.0.0\n  owner: {owner}\n  domain: {domain}\n  system: {system}\n  lifecycle: production\n  instances:\n    - baseUrl: {base}\n{consumes}",
            name = self.name,
            owner = self.owner,
            domain = self.domain,
            system = self.system,
            base = self.base_url(),
        )
    }
}

/// The example services (their manifests are in `examples/manifests`, which the demo's
/// directory collector watches) and then the extra ones, up to `count` in all.
pub fn plan(count: usize, base_port: u16) -> Vec<ServiceSpec> {
    let spec = |name: &str,
                domain: &'static str,
                system: &'static str,
                owner: &'static str,
                port: u16,
                calls: &[&str]| ServiceSpec {
        name: name.to_owned(),
        domain,
        system,
        owner,
        port,
        calls: calls.iter().map(|c| (*c).to_owned()).collect(),
        metrics: Metrics::OpenTelemetry,
        registration: Registration::Directory,
        entry: false,
        bursts: false,
        work_ms: 8,
    };
    // As declared in examples/manifests: storefront → catalog, orders; orders →
    // payments, inventory; payments → orders (the synchronous cycle).
    let mut services = vec![
        ServiceSpec {
            entry: true,
            ..spec(
                "storefront",
                "commerce",
                "webshop",
                "team-web",
                8101,
                &["catalog", "orders"],
            )
        },
        spec(
            "orders",
            "commerce",
            "webshop",
            "team-checkout",
            8102,
            &["payments", "inventory"],
        ),
        ServiceSpec {
            bursts: true,
            work_ms: 20,
            ..spec("payments", "finance", "webshop", "team-checkout", 8103, &[])
        },
        spec(
            "inventory",
            "warehouse",
            "fulfilment",
            "team-stock",
            8104,
            &[],
        ),
        spec("catalog", "commerce", "webshop", "team-web", 8105, &[]),
    ];
    // The extra services, registered over the API.
    let extras: [(&str, &'static str, &'static str, &'static str, &[&str]); 20] = [
        (
            "gateway",
            "edge",
            "edge",
            "team-platform",
            &["storefront", "identity"],
        ),
        (
            "identity",
            "identity",
            "accounts",
            "team-identity",
            &["sessions"],
        ),
        ("sessions", "identity", "accounts", "team-identity", &[]),
        ("search", "commerce", "discovery", "team-web", &["catalog"]),
        (
            "recommendations",
            "commerce",
            "discovery",
            "team-data",
            &["catalog", "search"],
        ),
        ("pricing", "commerce", "webshop", "team-checkout", &[]),
        (
            "cart",
            "commerce",
            "webshop",
            "team-checkout",
            &["pricing", "inventory"],
        ),
        ("fraud-check", "finance", "payments", "team-risk", &[]),
        ("ledger", "finance", "payments", "team-finance", &[]),
        (
            "billing",
            "finance",
            "payments",
            "team-finance",
            &["ledger"],
        ),
        (
            "shipping-quotes",
            "warehouse",
            "fulfilment",
            "team-stock",
            &["inventory"],
        ),
        (
            "warehouse-sync",
            "warehouse",
            "fulfilment",
            "team-stock",
            &["inventory"],
        ),
        (
            "legacy-reports",
            "finance",
            "reporting",
            "team-finance",
            &["ledger"],
        ),
        ("reviews", "commerce", "discovery", "team-web", &[]),
        (
            "notifications",
            "identity",
            "messaging",
            "team-platform",
            &[],
        ),
        (
            "profile",
            "identity",
            "accounts",
            "team-identity",
            &["sessions"],
        ),
        ("wishlist", "commerce", "webshop", "team-web", &["catalog"]),
        ("tax", "finance", "payments", "team-finance", &[]),
        (
            "returns",
            "warehouse",
            "fulfilment",
            "team-stock",
            &["orders"],
        ),
        ("audit", "finance", "reporting", "team-risk", &[]),
    ];
    let mut port = base_port;
    for (name, domain, system, owner, calls) in extras {
        if services.len() >= count {
            break;
        }
        let mut service = spec(name, domain, system, owner, port, calls);
        service.registration = match name {
            "gateway" | "pricing" => Registration::Cli,
            "identity" | "sessions" | "search" => Registration::Discovery,
            _ => Registration::Api,
        };
        service.entry = name == "gateway" || name == "recommendations" || name == "cart";
        service.metrics = match name {
            "legacy-reports" => Metrics::None,
            "recommendations" => Metrics::PrometheusClient,
            _ => Metrics::OpenTelemetry,
        };
        services.push(service);
        port += 1;
    }
    // Past the named ones: generic services spread over the contexts, each calling one
    // it comes after, so the graph stays a DAG of modest depth.
    let domains = ["commerce", "finance", "warehouse", "identity", "edge"];
    while services.len() < count {
        let index = services.len();
        let callee = services[index / 2].name.clone();
        let mut service = spec(
            &format!("svc-{index:03}"),
            domains[index % domains.len()],
            "generated",
            "team-platform",
            port,
            &[],
        );
        service.calls = vec![callee];
        service.registration = Registration::Api;
        service.entry = index % 10 == 0;
        services.push(service);
        port += 1;
    }
    // Calls to services this fleet does not run (a fleet smaller than the examples) are
    // dropped.
    services.truncate(count.max(1));
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    for service in &mut services {
        service.calls.retain(|callee| names.contains(callee));
    }
    // Traffic enters wherever no one calls: every service serves requests, so every one
    // has request series to show (an idle one exposes none).
    let called: Vec<String> = services.iter().flat_map(|s| s.calls.clone()).collect();
    for service in &mut services {
        if !called.contains(&service.name) {
            service.entry = true;
        }
    }
    services
}

/// Registers the services meant for the API, retrying until Seam answers (it may still
/// be starting).
pub async fn register(client: &reqwest::Client, seam: &str, token: &str, specs: &[ServiceSpec]) {
    let body: Vec<String> = specs
        .iter()
        .filter(|spec| spec.registration == Registration::Api)
        .map(ServiceSpec::manifest)
        .collect();
    put_manifests(client, seam, token, body).await;
}

/// Registers the services meant for `seam register` with it (each manifest a file, as a
/// pipeline would), or over the API when no `seam` binary is given.
pub async fn register_with_cli(
    seam_bin: Option<&std::path::Path>,
    seam: &str,
    token: &str,
    specs: &[ServiceSpec],
) {
    let cli: Vec<&ServiceSpec> = specs
        .iter()
        .filter(|spec| spec.registration == Registration::Cli)
        .collect();
    if cli.is_empty() {
        return;
    }
    let Some(seam_bin) = seam_bin else {
        let client = reqwest::Client::new();
        put_manifests(
            &client,
            seam,
            token,
            cli.iter().map(|s| s.manifest()).collect(),
        )
        .await;
        return;
    };
    let dir = std::env::temp_dir().join(format!("seam-demo-fleet-{}", std::process::id()));
    let mut files = Vec::new();
    for spec in &cli {
        let file = dir.join(format!("{}.yaml", spec.name));
        let written =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, spec.manifest()));
        if let Err(err) = written {
            tracing::error!(error = %err, file = %file.display(), "cannot write a manifest for seam register");
            return;
        }
        files.push(file);
    }
    let status = tokio::process::Command::new(seam_bin)
        .arg("register")
        .args(["--server", seam, "--token", token])
        .args(&files)
        .status()
        .await;
    match status {
        Ok(status) if status.success() => {
            tracing::info!(services = cli.len(), "registered with seam register")
        }
        Ok(status) => tracing::error!(%status, "seam register failed"),
        Err(err) => tracing::error!(error = %err, "cannot run seam register"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `PUT`s manifests to Seam's API, retrying while Seam does not answer yet.
async fn put_manifests(client: &reqwest::Client, seam: &str, token: &str, body: Vec<String>) {
    if body.is_empty() {
        return;
    }
    let body = body.join("---\n");
    let url = format!("{}/api/v1/manifests", seam.trim_end_matches('/'));
    for attempt in 1..=60 {
        let sent = client
            .put(&url)
            .bearer_auth(token)
            .header("content-type", "application/yaml")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!("registered with seam over the api");
                return;
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                tracing::error!(%status, answer = %text, "seam refused the fleet's manifests");
                return;
            }
            Err(err) if attempt < 60 => {
                tracing::debug!(error = %err, "seam not up yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => tracing::error!(error = %err, "seam never answered"),
        }
    }
}

/// Sends `rate` requests a second into the entry points, round robin, each on its own
/// task so a slow request never holds back the next.
pub async fn traffic(client: reqwest::Client, entries: Vec<String>, rate: f64) {
    if entries.is_empty() || rate <= 0.0 {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next = 0usize;
    loop {
        ticker.tick().await;
        let url = format!("{}/work", entries[next % entries.len()]);
        next = next.wrapping_add(1);
        let client = client.clone();
        tokio::spawn(async move {
            let _ = client.get(url).send().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_the_examples_then_extras_then_generated_services() {
        let fleet = plan(40, 8111);
        assert_eq!(fleet.len(), 40);
        assert_eq!(fleet[0].name, "storefront");
        assert_eq!(fleet[0].port, 8101);
        let registration = |name: &str| fleet.iter().find(|s| s.name == name).unwrap().registration;
        assert!(fleet
            .iter()
            .take(5)
            .all(|s| s.registration == Registration::Directory));
        assert_eq!(registration("gateway"), Registration::Cli);
        assert_eq!(registration("identity"), Registration::Discovery);
        assert_eq!(registration("ledger"), Registration::Api);
        // examples/demo.toml's discovery targets are these services' base URLs.
        let demo = include_str!("../../examples/demo.toml");
        for service in fleet
            .iter()
            .filter(|s| s.registration == Registration::Discovery)
        {
            assert!(
                demo.contains(&format!("\"{}\"", service.base_url())),
                "{}",
                service.name
            );
        }
        let ports: std::collections::BTreeSet<u16> = fleet.iter().map(|s| s.port).collect();
        assert_eq!(ports.len(), 40, "one port each");
        let names: Vec<&str> = fleet.iter().map(|s| s.name.as_str()).collect();
        for service in &fleet {
            for callee in &service.calls {
                assert!(
                    names.contains(&callee.as_str()),
                    "{} calls {callee}",
                    service.name
                );
            }
        }
        assert!(fleet.iter().any(|s| s.metrics == Metrics::None));
        for service in &fleet {
            let called = fleet.iter().any(|s| s.calls.contains(&service.name));
            assert!(service.entry || called, "{} gets no traffic", service.name);
        }
    }

    #[test]
    fn small_fleets_drop_calls_to_absent_services() {
        let fleet = plan(3, 8111);
        assert_eq!(fleet.len(), 3);
        assert_eq!(
            fleet[1].calls,
            ["payments"],
            "orders calls payments, not the absent inventory"
        );
    }

    #[test]
    fn manifests_declare_instance_and_calls() {
        let fleet = plan(8, 8111);
        let gateway = fleet.iter().find(|s| s.name == "gateway").unwrap();
        let manifest = gateway.manifest();
        assert!(
            manifest.contains("baseUrl: http://127.0.0.1:8111"),
            "{manifest}"
        );
        assert!(
            manifest.contains("{service: storefront, mode: sync, protocol: http}"),
            "{manifest}"
        );
    }
}
