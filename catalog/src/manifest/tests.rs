//! Seam manifests, Backstage details, errors and limits, checked through [`load`] and
//! [`load_tree`] as callers use them.

use super::*;

/// Loads `text` as the one file `m.yaml` and renders every diagnostic with its file,
/// line, column, severity, document and path.
fn diagnostics(text: &str) -> Vec<String> {
    diagnostics_with(text, &Limits::default())
}

fn diagnostics_with(text: &str, limits: &Limits) -> Vec<String> {
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text,
        }],
        limits,
    );
    loaded.diagnostics.iter().map(|d| d.to_string()).collect()
}

fn check(text: &str, expected: &[&str]) {
    assert_eq!(diagnostics(text), expected, "input:\n{text}");
}

fn check_with(text: &str, limits: &Limits, expected: &[&str]) {
    assert_eq!(diagnostics_with(text, limits), expected);
}

/// Loads `text`, asserts it has no diagnostics at all, and returns its catalog.
fn catalog(text: &str) -> Catalog {
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text,
        }],
        &Limits::default(),
    );
    let diagnostics: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    loaded.catalog
}

/// A manifest with every field of the format.
const FULL: &str = "\
apiVersion: seam.dev/v1
kind: Service
metadata:
  name: checkout
  description: Takes orders
  links: [{url: https://runbooks.example/checkout, title: Runbook}]
spec:
  version: 1.4.0
  owner: team-payments
  domain: commerce
  system: webshop
  lifecycle: production
  instances:
    - baseUrl: http://10.0.0.5:8080
      metricsUrl: http://10.0.0.5:9090/metrics
      healthUrl: http://10.0.0.5:8080/health
  provides:
    - {name: checkout-api, version: 1.4.0, protocol: grpc}
  consumes:
    - {service: payments, api: payments-api, version: \"^2.1\", mode: async, protocol: http}
  datastores:
    - {name: checkout-db, kind: postgresql, access: shared}
  libraries:
    - {name: seam-client, version: 0.3.1}
";

/// A manifest with only the required fields, prefixed by `extra` spec lines.
fn minimal(name: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  version: 1.0.0\n  owner: team-a\n  lifecycle: production\n{spec_extra}"
    )
}

fn full_service() -> ServiceManifest {
    ServiceManifest {
        name: "checkout".into(),
        version: Some("1.4.0".into()),
        owner: "team-payments".into(),
        domain: Some("commerce".into()),
        system: Some("webshop".into()),
        lifecycle: "production".into(),
        kind: "service".into(),
        description: Some("Takes orders".into()),
        links: vec![Link {
            url: "https://runbooks.example/checkout".into(),
            title: Some("Runbook".into()),
        }],
        instances: vec![Instance {
            base_url: "http://10.0.0.5:8080".into(),
            metrics_url: "http://10.0.0.5:9090/metrics".into(),
            health_url: "http://10.0.0.5:8080/health".into(),
        }],
        provides: vec![ProvidedApi {
            name: "checkout-api".into(),
            version: Some("1.4.0".into()),
            protocol: Protocol::Grpc,
        }],
        consumes: vec![Dependency {
            service: Some("payments".into()),
            api: Some("payments-api".into()),
            version_req: Some("^2.1".into()),
            mode: Mode::Async,
            protocol: Protocol::Http,
        }],
        datastores: vec![Datastore {
            name: "checkout-db".into(),
            kind: "postgresql".into(),
            access: Access::Shared,
        }],
        libraries: vec![Library {
            name: "seam-client".into(),
            version: "0.3.1".into(),
        }],
        source: SourceFormat::Seam,
        relations: Default::default(),
    }
}

// ---------------------------------------------------------------------------------------
// Valid manifests

#[test]
fn reads_every_field_of_a_seam_manifest() {
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text: FULL,
        }],
        &Limits::default(),
    );
    assert_eq!(loaded.catalog.services, [full_service()]);
    assert_eq!(loaded.catalog.apis, []);
    // The batch does not declare what the service consumes.
    let warnings: Vec<String> = loaded.warnings().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "m.yaml:20:17: warning: document 1, spec.consumes[0].service: consumes unknown service \"payments\"",
            "m.yaml:20:32: warning: document 1, spec.consumes[0].api: consumes unknown API \"payments-api\"",
        ]
    );
    assert!(!loaded.has_errors());
}

#[test]
fn fills_in_defaults() {
    let text = minimal(
        "checkout",
        "  instances: [{baseUrl: \"http://10.0.0.5:8080/\"}]\n  provides: [{name: orders}]\n  consumes:\n    - {service: checkout}\n    - {api: orders, protocol: event}\n  datastores: [{name: db, kind: redis}]\n",
    );
    let service = &catalog(&text).services[0];
    assert_eq!(
        service.instances,
        [Instance {
            base_url: "http://10.0.0.5:8080/".into(),
            metrics_url: "http://10.0.0.5:8080/metrics".into(),
            health_url: "http://10.0.0.5:8080/healthz".into(),
        }]
    );
    assert_eq!(
        service.provides,
        [ProvidedApi {
            name: "orders".into(),
            version: None,
            protocol: Protocol::Http
        }]
    );
    let modes: Vec<(Mode, Protocol)> = service
        .consumes
        .iter()
        .map(|d| (d.mode, d.protocol))
        .collect();
    assert_eq!(
        modes,
        [(Mode::Sync, Protocol::Http), (Mode::Async, Protocol::Event)]
    );
    assert_eq!(service.datastores[0].access, Access::Owned);
    assert_eq!(
        (service.description.as_deref(), service.domain.as_deref()),
        (None, None)
    );
}

#[test]
fn reads_json_like_yaml() {
    let json = serde_json::json!({
        "apiVersion": "seam.dev/v1",
        "kind": "Service",
        "metadata": {"name": "checkout", "description": "Takes orders",
                     "links": [{"url": "https://runbooks.example/checkout", "title": "Runbook"}]},
        "spec": {
            "version": "1.4.0", "owner": "team-payments", "domain": "commerce",
            "system": "webshop", "lifecycle": "production",
            "instances": [{"baseUrl": "http://10.0.0.5:8080",
                           "metricsUrl": "http://10.0.0.5:9090/metrics",
                           "healthUrl": "http://10.0.0.5:8080/health"}],
            "provides": [{"name": "checkout-api", "version": "1.4.0", "protocol": "grpc"}],
            "consumes": [{"service": "payments", "api": "payments-api", "version": "^2.1",
                          "mode": "async", "protocol": "http"}],
            "datastores": [{"name": "checkout-db", "kind": "postgresql", "access": "shared"}],
            "libraries": [{"name": "seam-client", "version": "0.3.1"}],
        }
    });
    let compact = serde_json::to_string(&json).unwrap();
    let pretty = serde_json::to_string_pretty(&json).unwrap();
    for text in [compact, pretty] {
        let loaded = load(
            &[Input {
                name: "m.json",
                text: &text,
            }],
            &Limits::default(),
        );
        assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
        assert_eq!(loaded.warnings().count(), 2);
        assert_eq!(loaded.catalog.services, [full_service()]);
    }
}

#[test]
fn reports_json_errors_at_their_line_and_column() {
    check(
        "{\n  \"apiVersion\": \"seam.dev/v1\",\n  \"kind\": \"Service\",\n  \"metadata\": {\"name\": \"a\"},\n  \"spec\": {\"version\": 1.4, \"owner\": \"t\", \"lifecycle\": \"production\"}\n}\n",
        &["m.yaml:5:23: error: document 1, spec.version: \"1.4\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.4.0\"?"],
    );
    check(
        "{\"apiVersion\": \"seam.dev/v1\",, \"kind\": \"Service\"}",
        &["m.yaml:1:30: error: document 1: invalid YAML: unexpected EOF while parsing an implicit flow mapping"],
    );
}

#[test]
fn counts_lines_and_columns_through_tabs_crlf_and_byte_order_marks() {
    check(
        "{\n\t\"apiVersion\": \"seam.dev/v1\",\n\t\"kind\": \"Service\",\n\t\"metadata\": []\n}\n",
        &[
            "m.yaml:1:1: error: document 1, spec: is required",
            "m.yaml:4:14: error: document 1, metadata: found a list, expected a mapping",
        ],
    );
    check(
        "\u{feff}apiVersion: seam.dev/v1\r\nkind: Service\r\nmetadata: {name: a}\r\nspec: {version: 1.0.0, owner: t, lifecycle: production, provides: [{name: x, protocol: HTTP}]}\r\n",
        &["m.yaml:4:88: error: document 1, spec.provides[0].protocol: found \"HTTP\", expected one of: http, grpc, event, graphql"],
    );
}

#[test]
fn reads_several_documents_and_skips_empty_ones() {
    let text = format!(
        "---\n---\n{}---\n{}\n---\n",
        minimal("orders", "  consumes: [{service: stock}]\n"),
        minimal("stock", "")
    );
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text: &text,
        }],
        &Limits::default(),
    );
    assert_eq!(loaded.diagnostics, []);
    let names: Vec<&str> = loaded
        .catalog
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["orders", "stock"]);
    // Document numbers count the empty documents, as a reader counting `---` would.
    check(
        &format!("---\n---\n{}", minimal("a", "  version: 2\n")),
        &["m.yaml:11:3: error: document 2, spec.version: duplicate key \"version\", first written at line 8; keys must be unique"],
    );
}

#[test]
fn checks_references_across_inputs() {
    let orders = minimal("orders", "  consumes: [{service: stock, api: stock-api}]\n");
    let stock = minimal("stock", "  provides: [{name: stock-api}]\n");
    let loaded = load(
        &[
            Input {
                name: "orders.yaml",
                text: &orders,
            },
            Input {
                name: "stock.yaml",
                text: &stock,
            },
        ],
        &Limits::default(),
    );
    assert_eq!(loaded.diagnostics, []);
    assert_eq!(loaded.catalog.services.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Errors in Seam manifests

#[test]
fn reports_the_envelope() {
    check(
        "- a\n",
        &["m.yaml:1:1: error: document 1: found a list, expected a mapping with apiVersion, kind, metadata and spec"],
    );
    check(
        "kind: Service\n",
        &["m.yaml:1:1: error: document 1, apiVersion: is required"],
    );
    check(
        "apiVersion: seam.dev/v2\n",
        &["m.yaml:1:13: error: document 1, apiVersion: found \"seam.dev/v2\", expected \"seam.dev/v1\" (Seam) or one of \"backstage.io/v1alpha1\", \"backstage.io/v1beta1\" (Backstage)"],
    );
    check(
        "apiVersion: seam.dev/v1\nkind: Database\n",
        &["m.yaml:2:7: error: document 1, kind: found kind \"Database\", expected \"Service\" (the only kind of seam.dev/v1)"],
    );
    check(
        "apiVersion: seam.dev/v1\nkind: Service\n",
        &[
            "m.yaml:1:1: error: document 1, metadata: is required",
            "m.yaml:1:1: error: document 1, spec: is required",
        ],
    );
    check(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata: checkout\nspec: []\n",
        &[
            "m.yaml:3:11: error: document 1, metadata: found \"checkout\", expected a mapping",
            "m.yaml:4:7: error: document 1, spec: found a list, expected a mapping",
        ],
    );
}

#[test]
fn reports_missing_fields_at_their_parent() {
    check(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  description: x\nspec:\n  domain: d\n",
        &[
            "m.yaml:3:1: error: document 1, metadata.name: is required",
            "m.yaml:5:1: error: document 1, spec.version: is required",
            "m.yaml:5:1: error: document 1, spec.owner: is required",
            "m.yaml:5:1: error: document 1, spec.lifecycle: is required",
        ],
    );
    check(
        &minimal("a", "  instances:\n    - metricsUrl: http://x/m\n  datastores:\n    - {name: db}\n  libraries:\n    - name: lib\n"),
        &[
            "m.yaml:10:7: error: document 1, spec.instances[0].baseUrl: is required",
            "m.yaml:12:7: error: document 1, spec.datastores[0].kind: is required",
            "m.yaml:14:7: error: document 1, spec.libraries[0].version: is required",
        ],
    );
}

#[test]
fn reports_unknown_fields_with_what_is_expected() {
    check(
        "apiVersion: seam.dev/v1\nkind: Service\ncolour: red\nmetadata:\n  name: a\n  labels: {}\nspec:\n  version: 1.0.0\n  ownr: t\n  owner: t\n  lifecycle: production\n  consumes:\n    - {service: a}\n    - {service: a, verison: \"^1\"}\n",
        &[
            "m.yaml:3:1: error: document 1, colour: unknown field \"colour\", expected one of: apiVersion, kind, metadata, spec",
            "m.yaml:6:3: error: document 1, metadata.labels: unknown field \"labels\", expected one of: name, description, links",
            "m.yaml:9:3: error: document 1, spec.ownr: unknown field \"ownr\" (did you mean \"owner\"?), expected one of: version, owner, domain, system, lifecycle, instances, provides, consumes, datastores, libraries",
            "m.yaml:14:20: error: document 1, spec.consumes[1].verison: unknown field \"verison\" (did you mean \"version\"?), expected one of: service, api, version, mode, protocol",
        ],
    );
}

#[test]
fn reports_bad_values_with_what_was_found() {
    check(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: Check Out\nspec:\n  version: v1.2\n  owner: [team-a]\n  lifecycle: true\n",
        &[
            "m.yaml:4:9: error: document 1, metadata.name: \"Check Out\" is not a valid name: use 1-63 letters or digits, separated by single '-', '_' or '.'",
            "m.yaml:6:12: error: document 1, spec.version: \"v1.2\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.2.0\"?",
            "m.yaml:7:10: error: document 1, spec.owner: found a list, expected a string",
            "m.yaml:8:14: error: document 1, spec.lifecycle: found boolean true, expected a string",
        ],
    );
    check(
        &minimal(
            "a",
            "  instances:\n    - baseUrl: 10.0.0.5:8080\n  provides:\n    - {name: api, protocol: rest, version: \"1.10\"}\n  consumes:\n    - {service: b, version: \"^2.x.y\", mode: sometimes}\n  datastores: {name: db}\n",
        ),
        &[
            "m.yaml:10:16: error: document 1, spec.instances[0].baseUrl: found \"10.0.0.5:8080\", expected an http or https URL such as \"http://10.0.0.5:8080\"",
            "m.yaml:12:29: error: document 1, spec.provides[0].protocol: found \"rest\", expected one of: http, grpc, event, graphql",
            "m.yaml:12:44: error: document 1, spec.provides[0].version: \"1.10\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"1.10.0\"?",
            "m.yaml:14:29: error: document 1, spec.consumes[0].version: \"^2.x.y\" is not a semver range (expected for example \"^2.1\" or \">=1.0, <3\"): unexpected character after wildcard in version req",
            "m.yaml:14:45: error: document 1, spec.consumes[0].mode: found \"sometimes\", expected one of: sync, async",
            "m.yaml:15:15: error: document 1, spec.datastores: found a mapping, expected a list",
        ],
    );
}

#[test]
fn reports_consumes_without_a_target() {
    check(
        &minimal("a", "  consumes:\n    - {version: \"^1\"}\n"),
        &["m.yaml:10:7: error: document 1, spec.consumes[0]: names neither a service nor an API, expected at least one of: service, api"],
    );
}

#[test]
fn reports_duplicate_names_in_lists() {
    check(
        &minimal(
            "a",
            "  provides: [{name: x}, {name: x}]\n  datastores:\n    - {name: db, kind: redis}\n    - {name: db, kind: redis}\n  libraries: [{name: l, version: 1.0.0}, {name: l, version: 2.0.0}]\n",
        ),
        &[
            "m.yaml:9:32: error: document 1, spec.provides[1].name: duplicate name \"x\", already used by spec.provides[0].name at line 9; names in a list must be unique",
            "m.yaml:12:14: error: document 1, spec.datastores[1].name: duplicate name \"db\", already used by spec.datastores[0].name at line 11; names in a list must be unique",
            "m.yaml:13:49: error: document 1, spec.libraries[1].name: duplicate name \"l\", already used by spec.libraries[0].name at line 13; names in a list must be unique",
        ],
    );
}

#[test]
fn warns_about_unusual_lifecycles() {
    check(
        &minimal("a", "").replace("production", "beta"),
        &["m.yaml:8:14: warning: document 1, spec.lifecycle: found lifecycle \"beta\", expected one of: experimental, production, deprecated"],
    );
}

#[test]
fn reports_yaml_syntax_errors_in_their_document() {
    check(
        &format!("{}---\nmetadata: [a\n", minimal("a", "")),
        &["m.yaml:10:11: error: document 2: invalid YAML: unclosed bracket '['"],
    );
    check(
        "a: b: c\n",
        &["m.yaml:1:5: error: document 1: invalid YAML: mapping values are not allowed in this context"],
    );
    check(
        "a:\n\t- x\n",
        &["m.yaml:2:2: error: document 1: invalid YAML: tabs disallowed within this context (block indentation)"],
    );
    check(
        "a: *nowhere\n",
        &["m.yaml:1:4: error: document 1: invalid YAML: while parsing node, found unknown anchor"],
    );
    check(
        "{a: 1}: b\n",
        &[
            "m.yaml:1:1: error: document 1: mapping keys must be strings, found a mapping",
            "m.yaml:1:1: error: document 1, apiVersion: is required",
        ],
    );
}

#[test]
fn reports_duplicate_declarations_across_documents() {
    let a = minimal("checkout", "");
    let loaded = load(
        &[
            Input {
                name: "a.yaml",
                text: &a,
            },
            Input {
                name: "b.yaml",
                text: &format!("---\n{a}"),
            },
        ],
        &Limits::default(),
    );
    let rendered: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        rendered,
        ["b.yaml:5:9: error: document 1, metadata.name: duplicate service \"checkout\": already declared in a.yaml, document 1, line 4; names must be unique within a kind"]
    );
    assert!(loaded.has_errors());
    assert_eq!(loaded.errors().count(), 1);
    assert_eq!(loaded.warnings().count(), 0);
}

#[test]
fn warns_about_references_to_undeclared_entities() {
    check(
        &minimal("orders", "  consumes:\n    - {service: payments}\n    - {api: stock-api}\n"),
        &[
            "m.yaml:10:17: warning: document 1, spec.consumes[0].service: consumes unknown service \"payments\"",
            "m.yaml:11:13: warning: document 1, spec.consumes[1].api: consumes unknown API \"stock-api\"",
        ],
    );
}

#[test]
fn reports_every_problem_as_structured_data() {
    let text = minimal("a", "  consumes: [{service: b}]\n");
    let loaded = load(
        &[Input {
            name: "x/m.yaml",
            text: &text,
        }],
        &Limits::default(),
    );
    assert_eq!(
        loaded.diagnostics,
        [Diagnostic {
            severity: Severity::Warning,
            file: "x/m.yaml".into(),
            document: 1,
            line: Some(9),
            column: Some(24),
            path: "spec.consumes[0].service".into(),
            message: "consumes unknown service \"b\"".into(),
        }]
    );
    assert!(!loaded.has_errors());
}

// ---------------------------------------------------------------------------------------
// Limits

fn small_limits() -> Limits {
    Limits {
        max_bytes: 1000,
        max_documents: 3,
        max_depth: 4,
    }
}

#[test]
fn refuses_inputs_over_the_size_limit() {
    check_with(
        &"#".repeat(1001),
        &small_limits(),
        &["m.yaml: error: the input is 1001 bytes; at most 1000 are allowed"],
    );
}

#[test]
fn refuses_too_many_documents_but_keeps_reading_the_first() {
    check_with(
        &format!("{}---\n---\n---\n---\n", minimal("a", "").replace("1.0.0", "x")),
        &small_limits(),
        &[
            "m.yaml:6:12: error: document 1, spec.version: \"x\" is not a semantic version (expected MAJOR.MINOR.PATCH)",
            "m.yaml:11:1: error: document 4: the input has more than 3 documents; at most 3 are allowed",
        ],
    );
}

#[test]
fn refuses_deep_nesting() {
    check_with(
        "a:\n  b:\n    c:\n      d:\n        e: 1\n",
        &small_limits(),
        &["m.yaml:5:9: error: document 1: nesting is deeper than 4 levels; at most 4 are allowed"],
    );
    check_with(
        "a: [[[[[1]]]]]\n",
        &small_limits(),
        &["m.yaml:1:7: error: document 1: nesting is deeper than 4 levels; at most 4 are allowed"],
    );
    // Far past the parser's own limits: still a clear message, quickly.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    check(
        &deep,
        &["m.yaml:1:35: error: document 1: nesting is deeper than 32 levels; at most 32 are allowed"],
    );
    // Aliases count the depth of what they copy.
    check_with(
        "a: &x [[1]]\nb: [[*x]]\n",
        &small_limits(),
        &["m.yaml:2:6: error: document 1: nesting is deeper than 4 levels; at most 4 are allowed"],
    );
}

#[test]
fn refuses_alias_bombs() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let previous = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        let refs = vec![format!("*{previous}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let started = std::time::Instant::now();
    let found = diagnostics(&bomb);
    assert_eq!(
        found,
        ["m.yaml:5:7: error: document 1: anchors and aliases copy more than 100000 nodes; the input looks like an alias bomb and is rejected"]
    );
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
    // Aliases and merge keys in moderation are fine.
    check(
        "x: &base {apiVersion: seam.dev/v1}\n",
        &["m.yaml:1:1: error: document 1, apiVersion: is required"],
    );
    let with_merge = format!(
        "{}  instances:\n    - &i {{baseUrl: \"http://a:1\"}}\n    - {{<<: *i, healthUrl: \"http://a:1/h\"}}\n",
        minimal("a", "")
    );
    let service = &catalog(&with_merge).services[0];
    assert_eq!(service.instances.len(), 2);
    assert_eq!(service.instances[1].base_url, "http://a:1");
    assert_eq!(service.instances[1].health_url, "http://a:1/h");
}

#[test]
fn refuses_aliases_that_copy_one_large_string_many_times() {
    // 0.5 MB of text copied by 200 aliases would be 100 MB.
    let text = format!(
        "x: &a \"{}\"\ny: [{}]\n",
        "a".repeat(500_000),
        vec!["*a"; 200].join(",")
    );
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("alias bomb"), "{found:?}");
}

#[test]
fn refuses_anchors_that_copy_one_large_list_at_every_level() {
    let levels = 30;
    let mut text = String::from("a: ");
    for level in 0..levels {
        text.push_str(&format!("&a{level} ["));
    }
    text.push_str(&vec!["1"; 5000].join(","));
    text.push_str(&"]".repeat(levels));
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with("anchors and aliases copy more than 100000 nodes; the input looks like an alias bomb and is rejected"),
        "{found:?}"
    );
}

#[test]
fn refuses_inputs_without_documents() {
    check("", &["m.yaml: error: the input contains no documents"]);
    check(
        "# just a comment\n---\n",
        &["m.yaml: error: the input contains no documents"],
    );
}

#[test]
fn merge_keys_stay_linear() {
    // A large mapping merged into another large one, within the copy budget and the
    // size limit: comparing every key with every other took about 11 s here.
    let keys: Vec<String> = (0..30_000).map(|i| format!("k{i}: 1")).collect();
    let own: Vec<String> = (0..30_000).map(|i| format!("o{i}: 1")).collect();
    let bomb = format!(
        "base: &b {{{}}}\nm: {{<<: *b, {}}}\n",
        keys.join(", "),
        own.join(", ")
    );
    assert!(bomb.len() < Limits::default().max_bytes);
    let started = std::time::Instant::now();
    let found = diagnostics(&bomb);
    assert!(!found.is_empty());
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn caps_diagnostics_and_counts_the_rest() {
    let fields: Vec<String> = (0..500).map(|i| format!("x{i}: 1")).collect();
    let text = format!("{}  {}\n", minimal("a", ""), fields.join("\n  "));
    let found = diagnostics(&text);
    assert_eq!(found.len(), MAX_DIAGNOSTICS + 1);
    assert!(
        found[MAX_DIAGNOSTICS].ends_with("more diagnostics not shown (300 of them errors)"),
        "{}",
        found[MAX_DIAGNOSTICS]
    );
}

#[test]
fn refuses_links_that_are_not_http() {
    let text = minimal("a", "").replacen(
        "metadata:\n",
        "metadata:\n  links: [{url: \"javascript:alert(1)\"}]\n",
        1,
    );
    let found = diagnostics(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(
            "metadata.links[0].url: found \"javascript:alert(1)\", expected an http or https URL"
        ),
        "{found:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Backstage details (the example catalog is in tests/backstage_examples.rs)

fn component(name: &str, spec_extra: &str, metadata_extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n{metadata_extra}spec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-a\n{spec_extra}"
    )
}

#[test]
fn reads_seam_annotations_on_components() {
    let text = component(
        "checkout",
        "",
        "  annotations:\n    seam.dev/version: 1.4.0\n    seam.dev/base-url: http://10.0.0.5:8080\n    seam.dev/health-url: http://10.0.0.5:8080/ready\n    backstage.io/techdocs-ref: dir:.\n",
    );
    let service = &catalog(&text).services[0];
    assert_eq!(service.version.as_deref(), Some("1.4.0"));
    assert_eq!(service.owner, "team-a");
    assert_eq!(service.source, SourceFormat::Backstage);
    assert_eq!(
        service.instances,
        [Instance {
            base_url: "http://10.0.0.5:8080".into(),
            metrics_url: "http://10.0.0.5:8080/metrics".into(),
            health_url: "http://10.0.0.5:8080/ready".into(),
        }]
    );
    check(
        &component("checkout", "", "  annotations:\n    seam.dev/version: v2\n    seam.dev/metrics-url: http://x/metrics\n"),
        &[
            "m.yaml:6:23: error: document 1, metadata.annotations[\"seam.dev/version\"]: \"v2\" is not a semantic version (expected MAJOR.MINOR.PATCH); did you mean \"2.0.0\"?",
        ],
    );
    check(
        &component("checkout", "", "  annotations:\n    seam.dev/metrics-url: http://x/metrics\n"),
        &["m.yaml:6:27: warning: document 1, metadata.annotations[\"seam.dev/metrics-url\"]: is ignored without the \"seam.dev/base-url\" annotation"],
    );
}

#[test]
fn accepts_backstage_extras_and_reports_backstage_errors() {
    // Keys Seam does not read are fine in Backstage descriptors.
    catalog(&component(
        "checkout",
        "  extra: {anything: [1, 2]}\n",
        "  labels: {tier: gold}\n  tags: [java]\n",
    ));
    check(
        "apiVersion: backstage.io/v1beta1\nkind: Component\nmetadata:\n  name: checkout\n  namespace: shop\nspec:\n  type: service\n  owner: team a\n  system: [s]\n",
        &[
            "m.yaml:5:14: warning: document 1, metadata.namespace: found namespace \"shop\", expected \"default\": Seam keeps one namespace, so the name alone must be unique",
            "m.yaml:6:1: error: document 1, spec.lifecycle: is required",
            "m.yaml:8:10: error: document 1, spec.owner: found \"team a\", expected an entity reference [kind:][namespace/]name whose name has 1-63 letters or digits, separated by single '-', '_' or '.'",
            "m.yaml:9:11: error: document 1, spec.system: found a list, expected a string",
        ],
    );
}

#[test]
fn handles_every_backstage_kind() {
    let text = "\
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: jane}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Template
metadata: {name: whatever}
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: elsewhere}
spec: {targets: [./other.yaml]}
---
apiVersion: backstage.io/v1alpha1
kind: Gadget
metadata: {name: g}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: [], members: [john]}
";
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text,
        }],
        &Limits::default(),
    );
    let rendered: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        rendered,
        [
            "m.yaml:16:7: warning: document 4, kind: unsupported kind \"Gadget\", expected one of: Component, API, System, Domain, Resource, Group, Location, User, Template; the document is ignored",
            "m.yaml:22:44: warning: document 5, spec.members[0]: has as member unknown user \"john\"",
        ]
    );
    // Users are kept as they are; the catalog adds them to their groups (see the
    // snapshot), whichever batch brought them.
    assert_eq!(loaded.catalog.teams[0].members, ["john"]);
    assert_eq!(loaded.catalog.users[0].name, "jane");
    assert_eq!(loaded.catalog.users[0].member_of, ["team-a"]);
}

#[test]
fn maps_depends_on_by_what_the_batch_declares() {
    let text = format!(
        "{}---\n{}---\n{}---\napiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {{name: db}}\nspec: {{type: database, owner: team-a}}\n",
        component("a", "  dependsOn: [db, resource:db, b, 'api:x', nothing]\n", ""),
        component("b", "  dependsOn: ['resource:default/db']\n", ""),
        component("c", "  providesApis: [x, x]\n  consumesApis: [api:default/y]\n", ""),
    );
    let loaded = load(
        &[Input {
            name: "m.yaml",
            text: &text,
        }],
        &Limits::default(),
    );
    let rendered: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        rendered,
        [
            "m.yaml:9:35: warning: document 1, spec.dependsOn[3]: found a reference to kind \"api\", expected component or resource; the reference is ignored",
            "m.yaml:9:44: warning: document 1, spec.dependsOn[4]: depends on \"nothing\", which is neither a component nor a resource in this batch; write component:nothing or resource:nothing",
            "m.yaml:29:18: warning: document 3, spec.providesApis[0]: provides unknown API \"x\"",
            "m.yaml:29:21: warning: document 3, spec.providesApis[1]: API \"x\" is listed twice",
            "m.yaml:30:18: warning: document 3, spec.consumesApis[0]: consumes unknown API \"y\"",
        ]
    );
    let resolved = crate::resolve(&loaded.catalog);
    let a = &resolved[0];
    // `db` and `resource:db` both name the resource, listed once; two components depend
    // on it.
    let stores: Vec<(&str, &str, Access)> = a
        .datastores
        .iter()
        .map(|d| (d.name.as_str(), d.kind.as_str(), d.access))
        .collect();
    assert_eq!(stores, [("db", "database", Access::Shared)]);
    let services: Vec<Option<&str>> = a.consumes.iter().map(|d| d.service.as_deref()).collect();
    assert_eq!(services, [Some("b")]);
}

// ---------------------------------------------------------------------------------------
// load_tree

/// Loads from `root` with the given in-memory files; returns the rendered diagnostics and
/// the paths read, in order.
fn tree(root: &str, files: &[(&str, &str)]) -> (Loaded, Vec<String>, Vec<String>) {
    let mut reads = Vec::new();
    let mut read = |path: &str| -> Result<String, String> {
        reads.push(path.to_owned());
        files
            .iter()
            .find(|(name, _)| *name == path)
            .map(|(_, text)| (*text).to_owned())
            .ok_or_else(|| "no such file".to_owned())
    };
    let loaded = load_tree(root, &mut read, &Limits::default());
    let rendered = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    (loaded, rendered, reads)
}

fn location(name: &str, targets: &[&str]) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n  targets:\n{}",
        targets.iter().map(|t| format!("    - {t}\n")).collect::<String>()
    )
}

#[test]
fn follows_locations_relative_to_the_file_that_names_them() {
    let root = location(
        "root",
        &["./teams/all.yaml", "https://example.com/x.yaml", "./*.yaml"],
    );
    let all = location("all", &["./a.yaml", "../services/b.yaml", "./all.yaml"]);
    let a = component("a", "  dependsOn: [component:b]\n", "");
    let b = format!(
        "{}---\n{}",
        component("b", "", ""),
        location("back", &["../catalog-info.yaml"])
    );
    let (loaded, diagnostics, reads) = tree(
        "catalog-info.yaml",
        &[
            ("catalog-info.yaml", &root),
            ("teams/all.yaml", &all),
            ("teams/a.yaml", &a),
            ("services/b.yaml", &b),
        ],
    );
    assert_eq!(
        reads,
        [
            "catalog-info.yaml",
            "teams/all.yaml",
            "teams/a.yaml",
            "services/b.yaml"
        ]
    );
    assert_eq!(
        diagnostics,
        [
            "catalog-info.yaml:8:7: warning: document 1, spec.targets[1]: remote location targets are not fetched",
            "catalog-info.yaml:9:7: warning: document 1, spec.targets[2]: glob targets are not expanded; list the files in spec.targets",
        ]
    );
    let names: Vec<&str> = loaded
        .catalog
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
}

#[test]
fn reports_targets_that_cannot_be_read() {
    let root = location("root", &["./missing.yaml"]);
    let (_, diagnostics, _) = tree("dir/root.yaml", &[("dir/root.yaml", &root)]);
    assert_eq!(
        diagnostics,
        ["dir/root.yaml:7:7: error: document 1, spec.targets[0]: cannot read \"dir/missing.yaml\": no such file"]
    );
    let optional = format!("{root}  presence: optional\n");
    let (_, diagnostics, _) = tree("root.yaml", &[("root.yaml", &optional)]);
    assert_eq!(
        diagnostics,
        ["root.yaml:7:7: warning: document 1, spec.targets[0]: cannot read \"missing.yaml\": no such file"]
    );
    let (loaded, diagnostics, _) = tree("nowhere.yaml", &[]);
    assert_eq!(
        diagnostics,
        ["nowhere.yaml: error: cannot read \"nowhere.yaml\": no such file"]
    );
    assert!(loaded.has_errors());
}

#[test]
fn ignores_locations_in_plain_load() {
    assert_eq!(
        catalog(&location("root", &["./missing.yaml"])),
        Catalog::default()
    );
}

#[test]
fn normalizes_paths() {
    assert_eq!(resolve_path("a/b/c.yaml", "./d.yaml"), "a/b/d.yaml");
    assert_eq!(resolve_path("a/b/c.yaml", "../../../d.yaml"), "../d.yaml");
    assert_eq!(resolve_path("c.yaml", "x//./y/../d.yaml"), "x/d.yaml");
    assert_eq!(resolve_path("/srv/c.yaml", "../../d.yaml"), "/d.yaml");
    assert_eq!(resolve_path("a/c.yaml", "/abs/d.yaml"), "/abs/d.yaml");
}

// ---------------------------------------------------------------------------------------
// The JSON schema against the parser

/// [`FULL`] as JSON, to edit by JSON pointer.
fn full_json() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "seam.dev/v1",
        "kind": "Service",
        "metadata": {"name": "checkout", "description": "Takes orders",
                     "links": [{"url": "https://runbooks.example/checkout", "title": "Runbook"}]},
        "spec": {
            "version": "1.4.0", "owner": "team-payments", "domain": "commerce",
            "system": "webshop", "lifecycle": "production",
            "instances": [{"baseUrl": "http://10.0.0.5:8080",
                           "metricsUrl": "http://10.0.0.5:9090/metrics",
                           "healthUrl": "http://10.0.0.5:8080/health"}],
            "provides": [{"name": "checkout-api", "version": "1.4.0", "protocol": "grpc"}],
            "consumes": [{"service": "payments", "api": "payments-api", "version": "^2.1",
                          "mode": "async", "protocol": "http"}],
            "datastores": [{"name": "checkout-db", "kind": "postgresql", "access": "shared"}],
            "libraries": [{"name": "seam-client", "version": "0.3.1"}],
        }
    })
}

/// Every object of the format: its JSON pointer in a manifest and in the schema.
const OBJECTS: &[(&str, &str)] = &[
    ("", ""),
    ("/metadata", "/properties/metadata"),
    (
        "/metadata/links/0",
        "/properties/metadata/properties/links/items",
    ),
    ("/spec", "/properties/spec"),
    (
        "/spec/instances/0",
        "/properties/spec/properties/instances/items",
    ),
    (
        "/spec/provides/0",
        "/properties/spec/properties/provides/items",
    ),
    (
        "/spec/consumes/0",
        "/properties/spec/properties/consumes/items",
    ),
    (
        "/spec/datastores/0",
        "/properties/spec/properties/datastores/items",
    ),
    (
        "/spec/libraries/0",
        "/properties/spec/properties/libraries/items",
    ),
];

/// `/spec/consumes/0` as a diagnostic path: `spec.consumes[0]`.
fn pointer_to_path(pointer: &str) -> String {
    let mut path = String::new();
    for part in pointer.split('/').skip(1) {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{part}]"));
        } else {
            path = tree::join_path(&path, part);
        }
    }
    path
}

fn errors_of(manifest: &serde_json::Value) -> Vec<Diagnostic> {
    let text = serde_json::to_string_pretty(manifest).unwrap();
    load(
        &[Input {
            name: "m.json",
            text: &text,
        }],
        &Limits::default(),
    )
    .errors()
    .cloned()
    .collect()
}

fn schema_keys(schema: &serde_json::Value, pointer: &str, member: &str) -> Vec<String> {
    let at = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer}"));
    match &at[member] {
        serde_json::Value::Object(map) => map.keys().cloned().collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => panic!("{pointer}/{member}: {other}"),
    }
}

#[test]
fn schema_is_json_with_what_editors_need() {
    let schema = json_schema();
    let text = serde_json::to_string(&schema).unwrap();
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, schema);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["properties"]["apiVersion"]["const"], "seam.dev/v1");
    assert_eq!(schema["properties"]["kind"]["const"], "Service");
    assert_eq!(
        schema_keys(&schema, "", "required"),
        ["apiVersion", "kind", "metadata", "spec"]
    );
    // Every reference resolves, and no field was left without a description.
    let mut refs = Vec::new();
    collect_refs(&schema, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').unwrap();
        assert!(schema.pointer(pointer).is_some(), "{r} does not resolve");
    }
    for (_, pointer) in OBJECTS {
        for key in schema_keys(&schema, pointer, "properties") {
            let field = &schema.pointer(pointer).unwrap()["properties"][&key];
            assert_ne!(
                field,
                &serde_json::json!({}),
                "{pointer}/properties/{key} is empty"
            );
        }
    }
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                if key == "$ref" {
                    out.push(inner.as_str().unwrap().to_owned());
                }
                collect_refs(inner, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn schema_properties_are_the_fields_the_parser_accepts() {
    let schema = json_schema();
    assert_eq!(errors_of(&full_json()), []);
    for (pointer, schema_pointer) in OBJECTS {
        let mut manifest = full_json();
        manifest
            .pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert("bogus".into(), serde_json::json!("x"));
        let errors = errors_of(&manifest);
        assert_eq!(errors.len(), 1, "{pointer}: {errors:#?}");
        assert_eq!(
            errors[0].path,
            tree::join_path(&pointer_to_path(pointer), "bogus")
        );
        let listed = errors[0]
            .message
            .split_once("expected one of: ")
            .unwrap_or_else(|| panic!("{}", errors[0].message))
            .1;
        // The parser lists fields in the format's order; serde_json sorts object keys.
        let mut accepted: Vec<&str> = listed.split(", ").collect();
        accepted.sort_unstable();
        assert_eq!(
            accepted,
            schema_keys(&schema, schema_pointer, "properties"),
            "{pointer}"
        );
    }
}

#[test]
fn schema_requires_the_fields_the_parser_requires() {
    let schema = json_schema();
    for (pointer, schema_pointer) in OBJECTS {
        let required = schema_keys(&schema, schema_pointer, "required");
        for key in schema_keys(&schema, schema_pointer, "properties") {
            let mut manifest = full_json();
            manifest
                .pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(&key);
            let path = tree::join_path(&pointer_to_path(pointer), &key);
            let required_errors: Vec<Diagnostic> = errors_of(&manifest)
                .into_iter()
                .filter(|d| d.message == "is required")
                .collect();
            if required.contains(&key) {
                assert_eq!(required_errors.len(), 1, "{path}: {required_errors:#?}");
                assert_eq!(required_errors[0].path, path);
            } else {
                assert_eq!(required_errors, [], "{path}");
            }
        }
    }
    // `consumes` needs a service or an API: the schema says so with anyOf.
    let consumes = schema
        .pointer("/properties/spec/properties/consumes/items/anyOf")
        .unwrap();
    assert_eq!(
        consumes,
        &serde_json::json!([{"required": ["service"]}, {"required": ["api"]}])
    );
}

#[test]
fn schema_enums_are_the_values_the_parser_accepts() {
    let schema = json_schema();
    let cases = [
        (
            "/spec/provides/0",
            "protocol",
            "/properties/spec/properties/provides/items/properties/protocol",
        ),
        (
            "/spec/consumes/0",
            "mode",
            "/properties/spec/properties/consumes/items/properties/mode",
        ),
        (
            "/spec/datastores/0",
            "access",
            "/properties/spec/properties/datastores/items/properties/access",
        ),
    ];
    for (pointer, key, schema_pointer) in cases {
        let values = schema_keys(&schema, schema_pointer, "enum");
        assert!(!values.is_empty());
        for value in values.iter().map(String::as_str).chain(["bogus"]) {
            let mut manifest = full_json();
            manifest.pointer_mut(pointer).unwrap()[key] = serde_json::json!(value);
            let errors = errors_of(&manifest);
            if value == "bogus" {
                assert_eq!(
                    errors[0].message,
                    format!("found \"bogus\", expected one of: {}", values.join(", "))
                );
            } else {
                assert_eq!(errors, [], "{key}: {value}");
            }
        }
    }
}

#[test]
fn reports_missing_backstage_fields_per_kind() {
    check(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: orders}\nspec: {definition: x}\n---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\nspec: {children: team-b}\n---\napiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {}\n",
        &[
            "m.yaml:4:1: error: document 1, spec.type: is required",
            "m.yaml:4:1: error: document 1, spec.lifecycle: is required",
            "m.yaml:4:1: error: document 1, spec.owner: is required",
            "m.yaml:9:1: error: document 2, spec.type: is required",
            "m.yaml:9:18: error: document 2, spec.children: found \"team-b\", expected a list",
            "m.yaml:11:1: error: document 3, spec: is required",
            "m.yaml:13:1: error: document 3, metadata.name: is required",
        ],
    );
}

#[test]
fn checks_references_to_kinds_the_batch_declares() {
    let group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-b}\nspec: {type: team, children: []}\n";
    // Without any group in the batch, owners are not checked: Seam cannot declare teams.
    check(&minimal("a", ""), &[]);
    check(
        &format!("{}---\n{group}", minimal("a", "")),
        &["m.yaml:7:10: warning: document 1, spec.owner: is owned by unknown group or user \"team-a\""],
    );
}

#[test]
fn treats_services_and_components_as_one_kind() {
    let text = format!(
        "{}---\n{}",
        minimal("checkout", ""),
        component("checkout", "", "")
    );
    check(
        &text,
        &["m.yaml:13:9: error: document 2, metadata.name: duplicate service \"checkout\": already declared in m.yaml, document 1, line 4; names must be unique within a kind"],
    );
}

#[test]
fn refuses_recursive_aliases() {
    check(
        "a: &a [1, *a]\n",
        &["m.yaml:1:11: error: document 1: alias refers to a node that contains it; recursive structures are not allowed"],
    );
}

/// The usual mistakes are reported on the line they are on, not where the parser
/// noticed them.
#[test]
fn syntax_errors_point_at_the_mistake() {
    let head =
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  version: 1.0.0\n";
    let line_of = |text: &str| -> String {
        let found = diagnostics(text);
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    };
    // Line 7 in each.
    let unclosed = line_of(&format!(
        "{head}  consumes: [a, b\n  owner: t\n  lifecycle: production\n"
    ));
    assert!(unclosed.starts_with("m.yaml:7:13: error"), "{unclosed}");
    assert!(unclosed.contains("this '[' is never closed"), "{unclosed}");
    let indent = line_of(&format!("{head}   owner: t\n  lifecycle: production\n"));
    assert!(indent.starts_with("m.yaml:7:"), "{indent}");
    let tab = line_of(&format!("{head}\towner: t\n  lifecycle: production\n"));
    assert!(tab.starts_with("m.yaml:7:1: error"), "{tab}");
    let colon = line_of(&format!("{head}  owner t\n  lifecycle: production\n"));
    assert!(colon.starts_with("m.yaml:7:"), "{colon}");
    // A brace inside plain text opens nothing: the mistake stays where it is.
    let braces = line_of(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: a\n  description: use { carefully\nspec:\n   owner: t\n  lifecycle: production\n",
    );
    assert!(!braces.contains("never closed"), "{braces}");
}

/// References are checked against the batch and against what the catalog already holds.
#[test]
fn references_to_the_catalog_are_not_unknown() {
    struct Catalog;
    impl KnownNames for Catalog {
        fn knows(&self, kind: NameKind, name: &str) -> bool {
            kind == NameKind::Service && name == "payments"
        }
    }
    let text = minimal(
        "a",
        "  consumes:\n    - {service: payments}\n    - {service: ghost}\n",
    );
    let input = [Input {
        name: "m.yaml",
        text: &text,
    }];
    let against = |known: &dyn KnownNames| -> Vec<String> {
        load_against(&input, &Limits::default(), known)
            .diagnostics
            .iter()
            .map(|d| d.message.clone())
            .collect()
    };
    assert_eq!(
        against(&NoNames),
        [
            "consumes unknown service \"payments\"",
            "consumes unknown service \"ghost\""
        ]
    );
    assert_eq!(against(&Catalog), ["consumes unknown service \"ghost\""]);
}
