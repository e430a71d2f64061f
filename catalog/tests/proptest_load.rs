//! Properties of `load`: it never panics and always points inside the input, a generated
//! valid manifest loads to exactly what it says, and the JSON schema's patterns agree
//! with the parser.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use seam_catalog::manifest::{
    json_schema, load, Access, Datastore, Dependency, Instance, Library, Loaded, Mode, Protocol,
    ProvidedApi, ServiceManifest, SourceFormat,
};
use seam_catalog::manifest::{Input, Limits};

fn load_one(text: &str) -> Loaded {
    load(
        &[Input {
            name: "p.yaml",
            text,
        }],
        &Limits::default(),
    )
}

/// Loads `text` and checks what must hold for any input.
fn check_sane(text: &str) -> Loaded {
    let loaded = load_one(text);
    // YAML breaks lines at `\r\n`, `\n` and a lone `\r`, as editors do.
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
    for d in &loaded.diagnostics {
        assert_eq!(d.file, "p.yaml");
        assert!(!d.message.is_empty() && !d.message.ends_with('.'), "{d}");
        if let Some(line) = d.line {
            assert!((1..=lines).contains(&line), "line {line} of {lines}: {d}");
            assert!(d.column.is_some_and(|c| c >= 1), "{d}");
        }
    }
    assert_eq!(loaded, load_one(text), "loading is deterministic");
    loaded
}

/// A valid Seam manifest and a Backstage component, to mutate.
const VALID: &str = "\
apiVersion: seam.dev/v1
kind: Service
metadata:
  name: checkout
  links: [{url: https://runbooks.example, title: Runbook}]
spec:
  version: 1.4.0
  owner: team-payments
  lifecycle: production
  instances:
    - &i {baseUrl: \"http://10.0.0.5:8080\"}
    - {<<: *i, healthUrl: \"http://10.0.0.5:8080/h\"}
  provides: [{name: checkout-api, version: 1.4.0, protocol: grpc}]
  consumes:
    - {service: payments, api: payments-api, version: \"^2.1\"}
  datastores: [{name: checkout-db, kind: postgresql}]
  libraries: [{name: seam-client, version: 0.3.1}]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations: {seam.dev/version: 2.1.0, seam.dev/base-url: \"http://10.0.0.6\"}
spec:
  type: service
  lifecycle: production
  owner: group:team-payments
  providesApis: [payments-api]
  dependsOn: [resource:payments-db, component:checkout]
";

/// Fragments that YAML gives meaning to, to build and mutate inputs with.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "-",
    "- ",
    " ",
    "  ",
    "\n",
    "\t",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "---\n",
    "...\n",
    "'",
    "\"",
    "#",
    "<<: ",
    "!!str ",
    "!x ",
    "? ",
    "|",
    ">",
    "%YAML 1.2\n",
    "\\",
    "a",
    "1",
    "1.0",
    "~",
    "null",
    "true",
    "apiVersion: seam.dev/v1\n",
    "kind: Service\n",
    "metadata:\n",
    "spec:\n",
    "name: x\n",
    "apiVersion: backstage.io/v1alpha1\n",
    "kind: Component\n",
    "\u{feff}",
    "é",
    "\r\n",
];

fn yamlish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|parts| parts.concat())
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(Index),
    Insert(Index, String),
    Replace(Index, String),
    DuplicateLine(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let fragment = prop_oneof![
        prop::sample::select(TOKENS).prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        any::<Index>().prop_map(Edit::Delete),
        (any::<Index>(), fragment.clone()).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<Index>(), fragment).prop_map(|(i, s)| Edit::Replace(i, s)),
        any::<Index>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        if chars.is_empty() {
            break;
        }
        match edit {
            Edit::Delete(i) => {
                chars.remove(i.index(chars.len()));
            }
            Edit::Insert(i, s) => {
                let at = i.index(chars.len());
                chars.splice(at..at, s.chars());
            }
            Edit::Replace(i, s) => {
                let at = i.index(chars.len());
                chars.splice(at..=at, s.chars());
            }
            Edit::DuplicateLine(i) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.split('\n').collect();
                let at = i.index(lines.len());
                lines.insert(at, lines[at]);
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Generated valid manifests

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]{1,8}([-_.][a-zA-Z0-9]{1,6}){0,3}"
}

fn version() -> impl Strategy<Value = String> {
    (
        0u64..100,
        0u64..100,
        0u64..1000,
        prop::option::of("[a-z]{1,5}(\\.[1-9][0-9]?)?"),
    )
        .prop_map(|(a, b, c, pre)| match pre {
            Some(pre) => format!("{a}.{b}.{c}-{pre}"),
            None => format!("{a}.{b}.{c}"),
        })
}

const PROTOCOLS: [(&str, Protocol); 4] = [
    ("http", Protocol::Http),
    ("grpc", Protocol::Grpc),
    ("event", Protocol::Event),
    ("graphql", Protocol::Graphql),
];

/// One `consumes` entry: service, API, version range as (major, minor), sync, protocol.
type Consumed = (
    Option<String>,
    Option<String>,
    Option<(u8, u8)>,
    Option<bool>,
    Option<usize>,
);

/// A manifest as fields, rendered to YAML by [`render`] and expected back as a
/// [`ServiceManifest`] by [`expected`].
#[derive(Debug, Clone)]
struct Generated {
    name: String,
    version: String,
    owner: String,
    domain: Option<String>,
    lifecycle: &'static str,
    description: Option<String>,
    instances: Vec<(u8, u16, bool)>,
    provides: Vec<(String, Option<String>, Option<usize>)>,
    consumes: Vec<Consumed>,
    datastores: Vec<(String, String, Option<bool>)>,
    libraries: Vec<(String, String)>,
}

fn generated() -> impl Strategy<Value = Generated> {
    let service_part = (
        name(),
        version(),
        name(),
        prop::option::of(name()),
        prop::sample::select(&["experimental", "production", "deprecated"][..]),
        prop::option::of("[a-zA-Z0-9 äöü€.,:#'\"-]{0,40}"),
        prop::collection::vec((any::<u8>(), 1u16.., any::<bool>()), 0..3),
    );
    let lists = (
        prop::collection::btree_set(name(), 0..4).prop_flat_map(|names| {
            let n = names.len();
            (
                Just(names),
                prop::collection::vec(
                    (prop::option::of(version()), prop::option::of(0usize..4)),
                    n,
                ),
            )
        }),
        prop::collection::vec(
            (
                prop::option::of(name()),
                prop::option::of(name()),
                prop::option::of((0u8..10, 0u8..10)),
                prop::option::of(any::<bool>()),
                prop::option::of(0usize..4),
            )
                .prop_filter("names a service or an API", |c| {
                    c.0.is_some() || c.1.is_some()
                }),
            0..4,
        ),
        prop::collection::btree_set(name(), 0..3).prop_flat_map(|names| {
            let n = names.len();
            (
                Just(names),
                prop::collection::vec((name(), prop::option::of(any::<bool>())), n),
            )
        }),
        prop::collection::btree_set(name(), 0..3).prop_flat_map(|names| {
            let n = names.len();
            (Just(names), prop::collection::vec(version(), n))
        }),
    );
    (service_part, lists).prop_map(
        |(
            (name, version, owner, domain, lifecycle, description, instances),
            (provides, consumes, datastores, libraries),
        )| {
            let zip = |names: BTreeSet<String>| names.into_iter();
            Generated {
                name,
                version,
                owner,
                domain,
                lifecycle,
                description,
                instances,
                provides: zip(provides.0)
                    .zip(provides.1)
                    .map(|(n, (v, p))| (n, v, p))
                    .collect(),
                consumes,
                datastores: zip(datastores.0)
                    .zip(datastores.1)
                    .map(|(n, (k, a))| (n, k, a))
                    .collect(),
                libraries: zip(libraries.0).zip(libraries.1).collect(),
            }
        },
    )
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset of it).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn base_url(host: u8, port: u16) -> String {
    format!("http://10.0.0.{host}:{port}")
}

fn render(g: &Generated) -> String {
    let mut out = format!(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {}\n",
        g.name
    );
    if let Some(description) = &g.description {
        out.push_str(&format!("  description: {}\n", quoted(description)));
    }
    out.push_str(&format!(
        "spec:\n  version: {}\n  owner: {}\n  lifecycle: {}\n",
        g.version, g.owner, g.lifecycle
    ));
    if let Some(domain) = &g.domain {
        out.push_str(&format!("  domain: {domain}\n"));
    }
    out.push_str("  instances:\n");
    for (host, port, explicit) in &g.instances {
        let base = base_url(*host, *port);
        if *explicit {
            out.push_str(&format!(
                "    - baseUrl: {base}\n      metricsUrl: {base}/m\n      healthUrl: {base}/h\n"
            ));
        } else {
            out.push_str(&format!("    - {{baseUrl: {}}}\n", quoted(&base)));
        }
    }
    out.push_str("  provides:\n");
    for (name, version, protocol) in &g.provides {
        out.push_str(&format!("    - name: {name}\n"));
        if let Some(version) = version {
            out.push_str(&format!("      version: {version}\n"));
        }
        if let Some(p) = protocol {
            out.push_str(&format!("      protocol: {}\n", PROTOCOLS[*p].0));
        }
    }
    out.push_str("  consumes: [");
    for (service, api, req, sync, protocol) in &g.consumes {
        let mut fields = Vec::new();
        if let Some(service) = service {
            fields.push(format!("service: {service}"));
        }
        if let Some(api) = api {
            fields.push(format!("api: {api}"));
        }
        if let Some((major, minor)) = req {
            fields.push(format!("version: \">={major}.{minor}, <{}\"", major + 1));
        }
        if let Some(sync) = sync {
            fields.push(format!("mode: {}", if *sync { "sync" } else { "async" }));
        }
        if let Some(p) = protocol {
            fields.push(format!("protocol: {}", PROTOCOLS[*p].0));
        }
        out.push_str(&format!("{{{}}}, ", fields.join(", ")));
    }
    out.push_str("]\n  datastores:\n");
    for (name, kind, shared) in &g.datastores {
        out.push_str(&format!("    - {{name: {name}, kind: {kind}"));
        if let Some(shared) = shared {
            out.push_str(if *shared {
                ", access: shared"
            } else {
                ", access: owned"
            });
        }
        out.push_str("}\n");
    }
    out.push_str("  libraries:\n");
    for (name, version) in &g.libraries {
        out.push_str(&format!("    - {{name: {name}, version: {version}}}\n"));
    }
    out
}

fn expected(g: &Generated) -> ServiceManifest {
    ServiceManifest {
        name: g.name.clone(),
        version: Some(g.version.clone()),
        owner: g.owner.clone(),
        domain: g.domain.clone(),
        system: None,
        lifecycle: g.lifecycle.to_owned(),
        kind: "service".to_owned(),
        description: g.description.clone(),
        links: Vec::new(),
        instances: g
            .instances
            .iter()
            .map(|(host, port, explicit)| {
                let base = base_url(*host, *port);
                let (metrics, health) = if *explicit {
                    (format!("{base}/m"), format!("{base}/h"))
                } else {
                    (format!("{base}/metrics"), format!("{base}/healthz"))
                };
                Instance {
                    base_url: base,
                    metrics_url: metrics,
                    health_url: health,
                }
            })
            .collect(),
        provides: g
            .provides
            .iter()
            .map(|(name, version, protocol)| ProvidedApi {
                name: name.clone(),
                version: version.clone(),
                protocol: protocol.map_or(Protocol::Http, |p| PROTOCOLS[p].1),
            })
            .collect(),
        consumes: g
            .consumes
            .iter()
            .map(|(service, api, req, sync, protocol)| {
                let protocol = protocol.map_or(Protocol::Http, |p| PROTOCOLS[p].1);
                Dependency {
                    service: service.clone(),
                    api: api.clone(),
                    version_req: req
                        .map(|(major, minor)| format!(">={major}.{minor}, <{}", major + 1)),
                    mode: match sync {
                        Some(true) => Mode::Sync,
                        Some(false) => Mode::Async,
                        None if protocol == Protocol::Event => Mode::Async,
                        None => Mode::Sync,
                    },
                    protocol,
                }
            })
            .collect(),
        datastores: g
            .datastores
            .iter()
            .map(|(name, kind, shared)| Datastore {
                name: name.clone(),
                kind: kind.clone(),
                access: if *shared == Some(true) {
                    Access::Shared
                } else {
                    Access::Owned
                },
            })
            .collect(),
        libraries: g
            .libraries
            .iter()
            .map(|(name, version)| Library {
                name: name.clone(),
                version: version.clone(),
            })
            .collect(),
        source: SourceFormat::Seam,
        relations: Default::default(),
    }
}

fn schema_pattern(def: &str) -> regex::Regex {
    let schema = json_schema();
    let pattern = schema["$defs"][def]["pattern"].as_str().unwrap().to_owned();
    regex::Regex::new(&pattern).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        check_sane(&text);
    }

    #[test]
    fn never_panics_on_yaml_like_text(text in yamlish()) {
        check_sane(&text);
    }

    #[test]
    fn never_panics_on_a_mutated_manifest(edits in prop::collection::vec(edit(), 1..6)) {
        check_sane(&apply(VALID, &edits));
    }

    #[test]
    fn loads_a_generated_manifest_as_written(g in generated()) {
        let text = render(&g);
        let loaded = check_sane(&text);
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        prop_assert!(errors.is_empty(), "{}\n{:#?}", text, errors);
        prop_assert_eq!(&loaded.catalog.services, &vec![expected(&g)], "{}", text);
    }

    #[test]
    fn schema_name_pattern_is_the_name_rule(name in "[a-zA-Z0-9._ ä-]{0,70}") {
        let schema_accepts = schema_pattern("name").is_match(&name) && name.chars().count() <= 63;
        prop_assert_eq!(schema_accepts, seam_catalog::is_entity_name(&name), "{:?}", name);
    }

    #[test]
    fn schema_version_pattern_is_semver(
        version in "(0|[1-9][0-9]?|0[0-9]|v1)\\.(0|[1-9]|00)(\\.[0-9]{1,2})?(-[0-9a-z-]{0,3}(\\.[0-9a-z-]{0,3}){0,2})?(\\+[0-9a-z-]{0,3}(\\.[0-9a-z-]{0,3})?)?"
    ) {
        let schema_accepts = schema_pattern("version").is_match(&version);
        prop_assert_eq!(schema_accepts, semver::Version::parse(&version).is_ok(), "{:?}", version);
    }

    #[test]
    fn schema_url_pattern_is_the_url_rule(
        url in "(https?|HTTP|ftp)?(://)?[a-z0-9:/?#.]([a-z0-9:/?# .]{0,10}[a-z0-9:/?#.])?"
    ) {
        let schema_accepts = schema_pattern("url").is_match(&url);
        let text = format!(
            "apiVersion: seam.dev/v1\nkind: Service\nmetadata: {{name: a}}\nspec:\n  version: 1.0.0\n  owner: t\n  lifecycle: production\n  instances: [{{baseUrl: {}, metricsUrl: http://m, healthUrl: http://h}}]\n",
            serde_json::to_string(&url).unwrap()
        );
        prop_assert_eq!(schema_accepts, !load_one(&text).has_errors(), "{:?}", url);
    }
}
