//! The fleet's shape: which services, in which bounded contexts, calling whom and
//! declaring what (the two differ on purpose: see [`smells`]); its registration with
//! Seam, and the traffic into it.

use std::time::Duration;

/// The deliberate smells of the fleet, named once: the plan builds them, the tests check
/// them, the docs list them.
pub mod smells {
    /// A chatty pair: the caller calls the callee 8 to 12 times per request it serves
    /// (a price per basket line), `calls per request` on the Calls page.
    pub const CHATTY: (&str, &str) = ("cart", "pricing");
    /// How many calls per request the chatty caller makes, fewest and most.
    pub const CHATTY_TIMES: (u32, u32) = (8, 12);
    /// A database shared across bounded contexts: services of different domains both
    /// query it (and declare it).
    pub const SHARED_DATABASE: &str = "shop-db";
    pub const SHARED_DATABASE_USERS: [&str; 2] = ["orders", "inventory"];
    /// An orchestrating hub: it calls six others on every request.
    pub const HUB: &str = "gateway";
    pub const HUB_CALLS: [&str; 6] = [
        "storefront",
        "identity",
        "search",
        "recommendations",
        "cart",
        "pricing",
    ];
    /// Broken trace propagation: it ignores the incoming `traceparent`, so its server
    /// spans are roots and its callers' client spans never pair (Seam maps them to it by
    /// address).
    pub const BROKEN_PROPAGATION: &str = "search";
    /// Two live versions of a provider, two instances; the consumer declares a range
    /// that excludes the newer one, yet is routed to both.
    pub const TWO_VERSIONS: &str = "sessions";
    pub const TWO_VERSIONS_RUNNING: [&str; 2] = ["2.4.1", "3.0.0"];
    pub const TWO_VERSIONS_CONSUMER: (&str, &str) = ("identity", "^2.0");
    /// A call no manifest declares.
    pub const UNDECLARED: (&str, &str) = ("recommendations", "pricing");
    /// A dependency declared and never called.
    pub const NEVER_CALLED: (&str, &str) = ("cart", "inventory");
}

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

/// One running instance of a service: its port and the version it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceSpec {
    pub port: u16,
    pub version: String,
}

impl InstanceSpec {
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The route a service serves its work on: its own work, its database queries and its
/// calls.
pub const WORK: &str = "/work";
/// The route of a callback: the service's own work only, no calls (so that a cycle of
/// calls ends).
pub const CONFIRM: &str = "/confirm";

/// Calls a service makes to another on each request it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub callee: String,
    /// [`WORK`] or [`CONFIRM`].
    pub route: &'static str,
    /// How many times per request, fewest and most (a chatty caller loops).
    pub times: (u32, u32),
}

/// A dependency a manifest declares (`spec.consumes`).
#[derive(Debug, Clone, PartialEq)]
pub struct Consume {
    pub service: String,
    /// A semver range, as `^2.0`.
    pub version: Option<&'static str>,
}

/// A PostgreSQL database a service declares (`spec.datastores`) and queries on each
/// request (a `SELECT` client span with `db.namespace` = its name).
#[derive(Debug, Clone, PartialEq)]
pub struct Datastore {
    pub name: &'static str,
    /// `shared` or `owned`.
    pub access: &'static str,
}

/// One service of the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub domain: &'static str,
    pub system: &'static str,
    pub owner: &'static str,
    /// The version its manifest declares.
    pub version: String,
    /// Where it runs; most run one instance, on the first port.
    pub instances: Vec<InstanceSpec>,
    /// What it calls on each request: what it *does*.
    pub calls: Vec<Call>,
    /// What its manifest says it calls: what it *declares*.
    pub consumes: Vec<Consume>,
    /// The databases it declares and queries.
    pub datastores: Vec<Datastore>,
    /// Whether it continues the trace of an incoming `traceparent` (one does not).
    pub propagates: bool,
    pub metrics: Metrics,
    /// How its manifest reaches Seam.
    pub registration: Registration,
    /// Whether traffic enters the fleet here (exactly where no one calls).
    pub entry: bool,
    /// Whether it fails in bursts.
    pub bursts: bool,
    /// Mean latency of its own work, milliseconds.
    pub work_ms: u64,
}

impl ServiceSpec {
    /// The port of its first instance.
    pub fn port(&self) -> u16 {
        self.instances[0].port
    }

    /// The base URL of its first instance.
    pub fn base_url(&self) -> String {
        self.instances[0].base_url()
    }

    /// Whether it calls `callee` at all.
    pub fn calls(&self, callee: &str) -> bool {
        self.calls.iter().any(|call| call.callee == callee)
    }

    /// Whether its manifest declares `callee`.
    #[cfg(test)]
    pub fn declares(&self, callee: &str) -> bool {
        self.consumes.iter().any(|c| c.service == callee)
    }

    /// Its manifest in Seam's format, as it serves it and registers it.
    pub fn manifest(&self) -> String {
        let instances: String = self
            .instances
            .iter()
            .map(|instance| format!("    - baseUrl: {}\n", instance.base_url()))
            .collect();
        let consumes: String = self
            .consumes
            .iter()
            .map(|c| match c.version {
                Some(range) => format!(
                    "    - {{service: {}, version: \"{range}\", mode: sync, protocol: http}}\n",
                    c.service
                ),
                None => format!(
                    "    - {{service: {}, mode: sync, protocol: http}}\n",
                    c.service
                ),
            })
            .collect();
        let datastores: String = self
            .datastores
            .iter()
            .map(|d| {
                format!(
                    "    - {{name: {}, kind: postgresql, access: {}}}\n",
                    d.name, d.access
                )
            })
            .collect();
        let section = |name: &str, body: String| {
            if body.is_empty() {
                String::new()
            } else {
                format!("  {name}:\n{body}")
            }
        };
        format!(
            "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\n  description: Demo fleet service\nspec:\n  version: {version}\n  owner: {owner}\n  domain: {domain}\n  system: {system}\n  lifecycle: production\n  instances:\n{instances}{consumes}{datastores}",
            name = self.name,
            version = self.version,
            owner = self.owner,
            domain = self.domain,
            system = self.system,
            consumes = section("consumes", consumes),
            datastores = section("datastores", datastores),
        )
    }
}

/// A call to `callee`'s work, once per request.
fn call(callee: &str) -> Call {
    Call {
        callee: callee.to_owned(),
        route: WORK,
        times: (1, 1),
    }
}

/// A dependency declared without a version range.
fn consume(service: &str) -> Consume {
    Consume {
        service: service.to_owned(),
        version: None,
    }
}

/// The example services (their manifests are in `examples/manifests`, which the demo's
/// directory collector watches) and then the extra ones, up to `count` in all; the
/// second instance of [`smells::TWO_VERSIONS`] listens after the last service's port.
pub fn plan(count: usize, base_port: u16) -> Vec<ServiceSpec> {
    // A service that declares exactly what it calls, once per request each.
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
        version: "1.0.0".to_owned(),
        instances: vec![InstanceSpec {
            port,
            version: "1.0.0".to_owned(),
        }],
        calls: calls.iter().map(|c| call(c)).collect(),
        consumes: calls.iter().map(|c| consume(c)).collect(),
        datastores: Vec::new(),
        propagates: true,
        metrics: Metrics::OpenTelemetry,
        registration: Registration::Directory,
        entry: false,
        bursts: false,
        work_ms: 8,
    };
    let versioned = |mut service: ServiceSpec, version: &str| {
        service.version = version.to_owned();
        for instance in &mut service.instances {
            instance.version = version.to_owned();
        }
        service
    };
    let ranged = |service: &str, range: &'static str| Consume {
        service: service.to_owned(),
        version: Some(range),
    };
    // As declared in examples/manifests (a test keeps the two equal): storefront →
    // catalog, orders; orders → payments, inventory and shop-db; payments → orders (a
    // callback: the synchronous cycle) and payments-db; inventory → shop-db (the
    // database shared with orders, across bounded contexts).
    let mut services = vec![
        ServiceSpec {
            consumes: vec![ranged("catalog", "^2.0"), ranged("orders", "^1.4")],
            ..versioned(
                spec(
                    "storefront",
                    "commerce",
                    "webshop",
                    "team-web",
                    8101,
                    &["catalog", "orders"],
                ),
                "3.2.0",
            )
        },
        ServiceSpec {
            consumes: vec![ranged("payments", "^2.1"), ranged("inventory", ">=1.0, <3")],
            ..versioned(
                spec(
                    "orders",
                    "commerce",
                    "webshop",
                    "team-checkout",
                    8102,
                    &["payments", "inventory"],
                ),
                "1.5.2",
            )
        },
        ServiceSpec {
            calls: vec![Call {
                route: CONFIRM,
                ..call("orders")
            }],
            consumes: vec![ranged("orders", "^1.5")],
            datastores: vec![Datastore {
                name: "payments-db",
                access: "owned",
            }],
            bursts: true,
            work_ms: 20,
            ..versioned(
                spec("payments", "finance", "webshop", "team-checkout", 8103, &[]),
                "2.3.0",
            )
        },
        versioned(
            spec(
                "inventory",
                "warehouse",
                "fulfilment",
                "team-stock",
                8104,
                &[],
            ),
            "2.0.1",
        ),
        versioned(
            spec("catalog", "commerce", "webshop", "team-web", 8105, &[]),
            "2.4.0",
        ),
    ];
    // The extra services, registered over the API (or discovery, or `seam register`).
    let extras: [(&str, &'static str, &'static str, &'static str, &[&str]); 20] = [
        (
            smells::HUB,
            "edge",
            "edge",
            "team-platform",
            &smells::HUB_CALLS,
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
            &["catalog", "search", "pricing"],
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
            &[&callee],
        );
        service.registration = Registration::Api;
        services.push(service);
        port += 1;
    }
    services.truncate(count.max(1));
    for service in &mut services {
        smell(service, port);
    }
    // Calls to services this fleet does not run (a fleet smaller than the examples) are
    // dropped, and so are their declarations.
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    for service in &mut services {
        service.calls.retain(|call| names.contains(&call.callee));
        service.consumes.retain(|c| names.contains(&c.service));
    }
    // Traffic enters exactly where no one calls: every service serves requests, so every
    // one has request series to show, and a service with callers never gets a request
    // without `traceparent` (Seam would call that broken propagation).
    let entries: Vec<bool> = services
        .iter()
        .map(|service| !services.iter().any(|s| s.calls(&service.name)))
        .collect();
    for (service, entry) in services.iter_mut().zip(entries) {
        service.entry = entry;
    }
    services
}

/// Gives a named service its smell; `free_port` is the first port no service uses.
fn smell(service: &mut ServiceSpec, free_port: u16) {
    use smells::*;
    let name = service.name.clone();
    let name = name.as_str();
    if name == CHATTY.0 {
        for call in &mut service.calls {
            if call.callee == CHATTY.1 {
                call.times = CHATTY_TIMES;
            }
        }
    }
    if name == CHATTY.1 {
        // A quick lookup, called often.
        service.work_ms = 2;
    }
    if SHARED_DATABASE_USERS.contains(&name) {
        service.datastores.push(Datastore {
            name: SHARED_DATABASE,
            access: "shared",
        });
    }
    if name == BROKEN_PROPAGATION {
        service.propagates = false;
    }
    if name == TWO_VERSIONS {
        *service = ServiceSpec {
            version: TWO_VERSIONS_RUNNING[0].to_owned(),
            instances: vec![
                InstanceSpec {
                    port: service.port(),
                    version: TWO_VERSIONS_RUNNING[0].to_owned(),
                },
                InstanceSpec {
                    port: free_port,
                    version: TWO_VERSIONS_RUNNING[1].to_owned(),
                },
            ],
            ..service.clone()
        };
    }
    if name == TWO_VERSIONS_CONSUMER.0 {
        for c in &mut service.consumes {
            if c.service == TWO_VERSIONS {
                c.version = Some(TWO_VERSIONS_CONSUMER.1);
            }
        }
    }
    if name == UNDECLARED.0 {
        service.consumes.retain(|c| c.service != UNDECLARED.1);
    }
    if name == NEVER_CALLED.0 {
        service.calls.retain(|c| c.callee != NEVER_CALLED.1);
    }
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

    fn find<'a>(fleet: &'a [ServiceSpec], name: &str) -> &'a ServiceSpec {
        fleet
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the fleet"))
    }

    /// The manifest documents of `examples/manifests`, as the demo's directory collector
    /// reads them.
    fn example_documents() -> Vec<&'static str> {
        [
            include_str!("../../examples/manifests/storefront.yaml"),
            include_str!("../../examples/manifests/orders.yaml"),
            include_str!("../../examples/manifests/warehouse.yaml"),
            include_str!("../../examples/manifests/catalog-info.yaml"),
        ]
        .into_iter()
        .flat_map(|file| file.split("\n---\n"))
        .collect()
    }

    /// The manifest a service reaches Seam with: its example file in the demo, the one
    /// it serves otherwise (and in the browser tests, which register all).
    fn manifests(service: &ServiceSpec) -> Vec<String> {
        let mut all = vec![service.manifest()];
        if service.registration == Registration::Directory {
            let document = example_documents()
                .into_iter()
                .find(|d| d.contains(&format!("\n  name: {}\n", service.name)))
                .unwrap_or_else(|| panic!("{} has no example manifest", service.name));
            all.push(document.to_owned());
        }
        all
    }

    #[test]
    fn plans_the_examples_then_extras_then_generated_services() {
        let fleet = plan(40, 8111);
        assert_eq!(fleet.len(), 40);
        assert_eq!(fleet[0].name, "storefront");
        assert_eq!(fleet[0].port(), 8101);
        let registration = |name: &str| find(&fleet, name).registration;
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
        let ports: std::collections::BTreeSet<u16> = fleet
            .iter()
            .flat_map(|s| s.instances.iter().map(|i| i.port))
            .collect();
        assert_eq!(
            ports.len(),
            41,
            "one port each, and one more for sessions 3"
        );
        let names: Vec<&str> = fleet.iter().map(|s| s.name.as_str()).collect();
        for service in &fleet {
            for call in &service.calls {
                assert!(
                    names.contains(&call.callee.as_str()),
                    "{} calls {}",
                    service.name,
                    call.callee
                );
            }
        }
        assert!(fleet.iter().any(|s| s.metrics == Metrics::None));
        for service in &fleet {
            let called = fleet.iter().any(|s| s.calls(&service.name));
            assert!(service.entry || called, "{} gets no traffic", service.name);
            // A request without traceparent into a service with callers would read as
            // broken propagation.
            assert!(
                !(service.entry && called),
                "{} is called and an entry",
                service.name
            );
        }
    }

    #[test]
    fn the_example_services_run_as_their_manifests_say() {
        for service in plan(25, 8111)
            .iter()
            .filter(|s| s.registration == Registration::Directory)
        {
            let [_, example] = &manifests(service)[..] else {
                unreachable!()
            };
            assert!(
                example.contains(&format!("version: {}", service.version)),
                "{}",
                service.name
            );
            assert!(
                example.contains(&service.base_url()),
                "{}: {}",
                service.name,
                service.base_url()
            );
            for c in &service.consumes {
                assert!(
                    example.contains(&format!("- service: {}\n", c.service)),
                    "{} declares {}",
                    service.name,
                    c.service
                );
                if let Some(range) = c.version {
                    assert!(example.contains(&format!("version: \"{range}\"")));
                }
            }
            for store in &service.datastores {
                assert!(
                    example.contains(&format!("- name: {}\n", store.name)),
                    "{} declares {}",
                    service.name,
                    store.name
                );
            }
        }
    }

    #[test]
    fn every_smell_is_in_the_plan_and_its_manifests() {
        use smells::*;
        let fleet = plan(25, 8111);
        // The fleet the browser tests run holds every one of them too.
        let small = plan(12, 8111);
        for fleet in [&fleet, &small] {
            let chatty = find(fleet, CHATTY.0);
            let loop_ = chatty.calls.iter().find(|c| c.callee == CHATTY.1).unwrap();
            assert!(loop_.times.0 >= 8 && loop_.times.1 <= 12, "{loop_:?}");
            assert!(manifests(chatty)
                .iter()
                .all(|m| m.contains(&format!("service: {}", CHATTY.1))));

            let users: Vec<&ServiceSpec> = SHARED_DATABASE_USERS
                .iter()
                .map(|name| find(fleet, name))
                .collect();
            assert_ne!(users[0].domain, users[1].domain, "across bounded contexts");
            for user in &users {
                assert!(user.datastores.iter().any(|d| d.name == SHARED_DATABASE));
                for manifest in manifests(user) {
                    assert!(
                        manifest.contains(&format!("name: {SHARED_DATABASE}")),
                        "{manifest}"
                    );
                }
            }

            let hub = find(fleet, HUB);
            assert!(hub.calls.len() >= 6, "{:?}", hub.calls);
            for call in &hub.calls {
                assert!(hub.declares(&call.callee), "{}", call.callee);
            }

            let broken = find(fleet, BROKEN_PROPAGATION);
            assert!(!broken.propagates);
            assert!(fleet
                .iter()
                .filter(|s| s.name != *BROKEN_PROPAGATION)
                .all(|s| s.propagates));
            let callers: Vec<&ServiceSpec> = fleet
                .iter()
                .filter(|s| s.calls(BROKEN_PROPAGATION))
                .collect();
            assert!(callers.len() >= 2);
            for caller in callers {
                assert!(
                    caller
                        .manifest()
                        .contains(&format!("service: {BROKEN_PROPAGATION},")),
                    "{} must declare it, so Seam knows it has callers",
                    caller.name
                );
            }

            let provider = find(fleet, TWO_VERSIONS);
            let running: Vec<&str> = provider
                .instances
                .iter()
                .map(|i| i.version.as_str())
                .collect();
            assert_eq!(running, TWO_VERSIONS_RUNNING);
            let manifest = provider.manifest();
            for instance in &provider.instances {
                assert!(manifest.contains(&format!("baseUrl: {}\n", instance.base_url())));
            }
            let consumer = find(fleet, TWO_VERSIONS_CONSUMER.0);
            assert!(consumer.calls(TWO_VERSIONS));
            assert!(consumer.manifest().contains(&format!(
                "{{service: {TWO_VERSIONS}, version: \"{}\",",
                TWO_VERSIONS_CONSUMER.1
            )));
            // ^2.0 admits 2.x, not 3.0.0.
            assert_eq!(TWO_VERSIONS_CONSUMER.1, "^2.0");
            assert!(TWO_VERSIONS_RUNNING[0].starts_with("2."));
            assert!(TWO_VERSIONS_RUNNING[1].starts_with("3."));

            let (caller, callee) = UNDECLARED;
            assert!(find(fleet, caller).calls(callee));
            for service in fleet {
                if service.name == caller {
                    assert!(!service.declares(callee));
                    assert!(!service.manifest().contains(&format!("service: {callee},")));
                }
            }

            let (caller, callee) = NEVER_CALLED;
            let caller = find(fleet, caller);
            assert!(caller.declares(callee) && !caller.calls(callee));
            assert!(caller.manifest().contains(&format!("service: {callee},")));
            // Its target is called by someone else, so it is no entry either.
            assert!(fleet.iter().any(|s| s.calls(callee)));

            // The existing ones: the payments-orders cycle, observed too.
            assert!(find(fleet, "orders").calls("payments"));
            let payments = find(fleet, "payments");
            assert!(payments.calls("orders") && payments.declares("orders"));
            assert!(payments.calls.iter().all(|c| c.route == CONFIRM));
            assert!(payments.bursts);
        }
        assert_eq!(find(&fleet, "legacy-reports").metrics, Metrics::None);
    }

    #[test]
    fn small_fleets_drop_calls_to_absent_services() {
        let fleet = plan(3, 8111);
        assert_eq!(fleet.len(), 3);
        let callees: Vec<&str> = fleet[1].calls.iter().map(|c| c.callee.as_str()).collect();
        assert_eq!(
            callees,
            ["payments"],
            "orders calls payments, not the absent inventory"
        );
        assert!(!fleet[1].declares("inventory"));
        assert!(fleet[0].entry, "storefront, which no one calls");
    }

    #[test]
    fn manifests_declare_instances_calls_and_datastores() {
        let fleet = plan(8, 8111);
        let gateway = find(&fleet, "gateway");
        let manifest = gateway.manifest();
        assert!(
            manifest.contains("baseUrl: http://127.0.0.1:8111"),
            "{manifest}"
        );
        assert!(
            manifest.contains("{service: storefront, mode: sync, protocol: http}"),
            "{manifest}"
        );
        let orders = find(&fleet, "orders").manifest();
        assert!(
            orders.contains("{service: payments, version: \"^2.1\", mode: sync, protocol: http}"),
            "{orders}"
        );
        assert!(
            orders.contains(
                "  datastores:\n    - {name: shop-db, kind: postgresql, access: shared}\n"
            ),
            "{orders}"
        );
        let sessions = find(&fleet, "sessions").manifest();
        assert!(
            sessions.contains("  version: 2.4.1\n")
                && sessions.contains(
                    "    - baseUrl: http://127.0.0.1:8113\n    - baseUrl: http://127.0.0.1:8114\n"
                ),
            "the second instance after the last service's port: {sessions}"
        );
    }
}
