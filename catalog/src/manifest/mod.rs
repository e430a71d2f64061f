//! Manifests: the files in which teams declare their services, read into a [`Catalog`]
//! with a [`Diagnostic`] for every problem.
//!
//! # Formats
//!
//! An input is YAML (JSON is YAML too) with one or more documents separated by `---`;
//! empty documents are skipped. Each document's `apiVersion` selects its format:
//!
//! - `seam.dev/v1`, `kind: Service`: Seam's own format, strict (an unknown field is an
//!   error). Its JSON Schema is [`json_schema`].
//!
//!   ```yaml
//!   apiVersion: seam.dev/v1
//!   kind: Service
//!   metadata:
//!     name: checkout                  # required
//!     description: Takes orders
//!     links: [{url: https://runbooks.example/checkout, title: Runbook}]
//!   spec:
//!     version: 1.4.0                  # required, semver
//!     owner: team-payments            # required
//!     domain: commerce
//!     system: webshop
//!     lifecycle: production           # required; experimental, production or deprecated
//!     instances:
//!       - baseUrl: http://10.0.0.5:8080            # metricsUrl, healthUrl default to
//!                                                  # {baseUrl}/metrics, {baseUrl}/healthz
//!     provides:
//!       - {name: checkout-api, version: 1.4.0, protocol: http}  # http|grpc|event|graphql
//!     consumes:
//!       - {service: payments, api: payments-api, version: "^2.1", mode: sync}
//!     datastores:
//!       - {name: checkout-db, kind: postgresql, access: owned}   # owned|shared
//!     libraries:
//!       - {name: seam-client, version: 0.3.1}
//!   ```
//!
//! - `backstage.io/v1alpha1` and `backstage.io/v1beta1`: Backstage descriptors, accepted
//!   unchanged (see below).
//!
//! # Diagnostics
//!
//! Every finding names the file, the document (1-based, counting empty documents), the
//! line and column in the file, the field path (`spec.consumes[1].version`), and says what
//! was found and what was expected. Errors make the batch unusable; warnings do not.
//! Inputs larger than [`Limits::max_bytes`], with more than [`Limits::max_documents`]
//! documents, nested deeper than [`Limits::max_depth`], or whose aliases expand to more
//! than 100,000 nodes (alias bombs) are errors, never a hang.
//!
//! References to services and APIs that no document of the batch declares are warnings.
//! References to systems, domains, groups, users and resources are checked the same way
//! when the batch declares at least one entity of that kind (a batch of Seam manifests
//! alone has no way to declare teams, so their owners are not flagged).
//!
//! # Backstage descriptors
//!
//! Kinds `Component`, `API`, `System`, `Domain`, `Resource`, `Group` and `Location` are
//! mapped; `User` only adds its `spec.memberOf` groups' members; `Template` is ignored; any
//! other kind is a warning. Entity references (`[kind:][namespace/]name`) become plain
//! names; a namespace other than `default` is a warning. A `Component` becomes a
//! [`ServiceManifest`]: `spec.type` is its kind, `providesApis` its provided APIs (protocol
//! from the API's `spec.type`: `grpc`, `asyncapi` as events, `graphql`, else HTTP),
//! `consumesApis` and `dependsOn: component:x` its dependencies, `dependsOn: resource:x`
//! its datastores (owned when no other component depends on that resource, else shared),
//! and its domain is its system's.
//!
//! ## Annotations Seam reads
//!
//! Backstage has no field for what Seam needs to observe a running service, so a
//! `Component` may carry these annotations in `metadata.annotations`:
//!
//! | annotation | meaning |
//! |---|---|
//! | `seam.dev/version` | the running version, semver (`1.4.0`) |
//! | `seam.dev/base-url` | base URL of the service's instance (`http://10.0.0.5:8080`) |
//! | `seam.dev/metrics-url` | Prometheus metrics URL; default `{base-url}/metrics` |
//! | `seam.dev/health-url` | health check URL; default `{base-url}/healthz` |
//!
//! ```yaml
//! metadata:
//!   name: checkout
//!   annotations:
//!     seam.dev/version: 1.4.0
//!     seam.dev/base-url: http://10.0.0.5:8080
//! ```

mod backstage;
mod batch;
// `fields` and `tree` are public so other strict YAML formats (the principles' policy
// file) are read the same way, with the same positions, messages and budgets.
pub mod fields;
mod model;
mod schema;
mod seam;
pub mod tree;

use std::collections::HashSet;

pub use backstage::{
    ANNOTATION_BASE_URL, ANNOTATION_HEALTH_URL, ANNOTATION_METRICS_URL, ANNOTATION_VERSION,
};
pub use batch::{KnownNames, NameKind, NoNames};
pub use model::*;
pub use schema::json_schema;

use batch::Batch;
use fields::{Cx, Obj};

/// Bounds on what one input may cost to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes. Default 1 MiB.
    pub max_bytes: usize,
    /// Most documents in one input, empty ones included. Default 1000.
    pub max_documents: usize,
    /// Deepest nesting of mappings and lists. Default 32; values above
    /// [`MAX_DEPTH_CAP`] count as the cap, to keep recursion off the end of the stack.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1024 * 1024,
            max_documents: 1000,
            max_depth: 32,
        }
    }
}

/// One file's text and the name to use for it in diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// The catalog a batch declares, and everything found wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Complete only when there is no error diagnostic.
    pub catalog: Catalog,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
}

/// Deepest nesting any [`Limits`] allows.
pub const MAX_DEPTH_CAP: usize = 256;

/// Most files [`load_tree`] reads, against Location files that fan out without end.
const MAX_TREE_FILES: usize = 10_000;

/// Parses and validates every document of every input, then checks references across all
/// of them.
pub fn load(inputs: &[Input<'_>], limits: &Limits) -> Loaded {
    load_against(inputs, limits, &NoNames)
}

/// Like [`load`], with the names the catalog already holds: a reference to one of them
/// is not reported as unknown.
pub fn load_against(inputs: &[Input<'_>], limits: &Limits, known: &dyn KnownNames) -> Loaded {
    let mut batch = Batch::default();
    for input in inputs {
        read_input(&mut batch, input.name, input.text, limits);
    }
    finish(batch, known)
}

/// Like [`load`], starting from one file and following Backstage `Location` targets.
///
/// Relative targets are resolved against the directory of the file that names them
/// (`./components/x.yaml`) and read with `read(path)`, which returns the text or why it
/// could not. Each file is read once, so a cycle of locations is harmless. A target that
/// cannot be read is an error at the target's line (a warning with
/// `spec.presence: optional`); remote (URL) and glob targets are warnings and not read.
pub fn load_tree(
    root: &str,
    read: &mut dyn FnMut(&str) -> Result<String, String>,
    limits: &Limits,
) -> Loaded {
    let mut batch = Batch::default();
    let mut seen: HashSet<String> = HashSet::from([normalize_path(root)]);
    // Depth first, so documents come in the order a reader following the targets meets them.
    let mut stack: Vec<(String, Option<Naming>)> = vec![(root.to_owned(), None)];
    let mut files = 0usize;
    while let Some((path, named_by)) = stack.pop() {
        files += 1;
        if files > MAX_TREE_FILES {
            batch.diagnostics.push(file_diagnostic(
                root,
                format!("locations name more than {MAX_TREE_FILES} files; the rest are not read"),
            ));
            break;
        }
        let text = match read(&path) {
            Ok(text) => text,
            Err(reason) => {
                let message = format!("cannot read {path:?}: {reason}");
                match named_by {
                    None => batch.diagnostics.push(file_diagnostic(&path, message)),
                    Some(naming) => naming.report(&mut batch, naming.optional, message),
                }
                continue;
            }
        };
        let start = batch.len();
        read_input(&mut batch, &path, &text, limits);
        let mut next = Vec::new();
        for (file, document, location) in batch.locations_since(start) {
            let naming = Naming {
                file,
                document,
                target: location.target,
                optional: location.optional,
            };
            let target = naming.target.value.trim();
            if target.contains("://") {
                naming.report(
                    &mut batch,
                    true,
                    "remote location targets are not fetched".to_owned(),
                );
            } else if target.contains(['*', '?']) {
                naming.report(
                    &mut batch,
                    true,
                    "glob targets are not expanded; list the files in spec.targets".to_owned(),
                );
            } else if target.is_empty() {
                naming.report(
                    &mut batch,
                    false,
                    "is empty, expected a relative file path".to_owned(),
                );
            } else {
                let resolved = resolve_path(&naming.file, target);
                if seen.insert(resolved.clone()) {
                    next.push((resolved, Some(naming)));
                }
            }
        }
        stack.extend(next.into_iter().rev());
    }
    finish(batch, &NoNames)
}

/// The Location target that named a file, for messages about that file.
struct Naming {
    file: String,
    document: usize,
    target: fields::Text,
    optional: bool,
}

impl Naming {
    fn report(&self, batch: &mut Batch, warning: bool, message: String) {
        let mut cx = Cx {
            file: &self.file,
            document: self.document,
            diagnostics: &mut batch.diagnostics,
        };
        if warning {
            cx.warning(self.target.pos, &self.target.path, message);
        } else {
            cx.error(self.target.pos, &self.target.path, message);
        }
    }
}

/// Most diagnostics one load returns; the rest are counted in a last one.
pub const MAX_DIAGNOSTICS: usize = 200;

fn finish(batch: Batch, known: &dyn KnownNames) -> Loaded {
    let (catalog, mut diagnostics) = batch.finish(known);
    cap_diagnostics(&mut diagnostics, MAX_DIAGNOSTICS);
    Loaded {
        catalog,
        diagnostics,
    }
}

/// Keeps the first `max` diagnostics and replaces the rest by one that counts them (an
/// error when any of them is one, so a capped load still fails).
fn cap_diagnostics(diagnostics: &mut Vec<Diagnostic>, max: usize) {
    if diagnostics.len() <= max {
        return;
    }
    let rest = diagnostics.split_off(max);
    let errors = rest
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let last = &diagnostics[max - 1];
    diagnostics.push(Diagnostic {
        severity: if errors > 0 {
            Severity::Error
        } else {
            Severity::Warning
        },
        file: last.file.clone(),
        document: 0,
        line: None,
        column: None,
        path: String::new(),
        message: format!(
            "{} more diagnostics not shown ({errors} of them errors)",
            rest.len()
        ),
    });
}

/// Reads one input into the batch.
fn read_input(batch: &mut Batch, file: &str, text: &str, limits: &Limits) {
    batch.begin_file(file);
    if text.len() > limits.max_bytes {
        batch.diagnostics.push(file_diagnostic(
            file,
            format!(
                "the input is {} bytes; at most {} are allowed",
                text.len(),
                limits.max_bytes
            ),
        ));
        return;
    }
    let max_depth = limits.max_depth.min(MAX_DEPTH_CAP);
    let parsed = tree::parse(text, max_depth, limits.max_documents);
    if parsed.documents.is_empty() && parsed.problems.is_empty() {
        // Like `kubectl apply`: an empty or comment-only input is a mistake, not a no-op.
        batch.diagnostics.push(file_diagnostic(
            file,
            "the input contains no documents".to_owned(),
        ));
    }
    // The batch sorts diagnostics by position, so the parser's problems can go first.
    for problem in parsed.problems {
        batch.diagnostics.push(problem_diagnostic(file, problem));
    }
    for document in &parsed.documents {
        let mut cx = Cx {
            file,
            document: document.index,
            diagnostics: &mut batch.diagnostics,
        };
        if let Some(read) = read_document(&mut cx, &document.root) {
            let rendered = match read.entity {
                batch::Entity::Service(_) | batch::Entity::Component(..) => {
                    tree::render_yaml(&document.root)
                }
                _ => String::new(),
            };
            batch.add(file, document.index, read, rendered);
        }
    }
}

/// Reads one document: checks its envelope and hands it to its format.
fn read_document(cx: &mut Cx<'_>, root: &tree::Node) -> Option<batch::Read> {
    if !matches!(root.value, tree::Value::Map(_)) {
        cx.error(
            root.pos,
            "",
            format!(
                "found {}, expected a mapping with apiVersion, kind, metadata and spec",
                root.describe()
            ),
        );
        return None;
    }
    let obj = Obj::new(cx, root, "", root.pos)?;
    let api_version = obj.required_str(cx, "apiVersion")?;
    let value = api_version.value.trim();
    if value == seam::API_VERSION {
        seam::read(cx, &obj)
    } else if backstage::API_VERSIONS.contains(&value) {
        backstage::read(cx, &obj)
    } else {
        cx.error(
            api_version.pos,
            &api_version.path,
            format!(
                "found {:?}, expected {:?} (Seam) or one of {} (Backstage)",
                tree::truncate(value, 64),
                seam::API_VERSION,
                backstage::API_VERSIONS
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        None
    }
}

fn file_diagnostic(file: &str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        document: 0,
        line: None,
        column: None,
        path: String::new(),
        message,
    }
}

fn problem_diagnostic(file: &str, problem: tree::Problem) -> Diagnostic {
    let message = problem.error.to_string();
    Diagnostic {
        severity: Severity::Error,
        file: file.to_owned(),
        document: problem.document,
        line: Some(problem.pos.line),
        column: Some(problem.pos.column),
        path: problem.path,
        message,
    }
}

/// Resolves `target` against the directory of `from`, both `/`-separated.
fn resolve_path(from: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize_path(target);
    }
    let dir = match from.rfind('/') {
        Some(i) => &from[..=i],
        None => "",
    };
    normalize_path(&format!("{dir}{target}"))
}

/// Removes `.` segments, empty segments and `..` after a named segment.
fn normalize_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests;
