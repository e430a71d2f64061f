//! `seam lint` and `seam register`: manifests checked offline, and sent from a service's
//! own CI pipeline.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use seam_catalog::manifest::{self, Diagnostic, Input, Limits, Loaded, Severity};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// One line per finding, `file:line:column: severity: ...`, then a summary
    #[default]
    Human,
    /// One JSON object with every finding
    Json,
}

/// Which Seam server a command talks to, and with which token.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Seam's base URL
    #[arg(
        long,
        env = "SEAM_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub server: String,

    /// API token of the Seam server (reads need one only when read tokens are set)
    #[arg(long, env = "SEAM_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl Remote {
    /// The URL of an API path on the server.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.trim_end_matches('/'))
    }

    /// GETs a JSON answer: `Err` when the server cannot be reached, answers an error
    /// status (its message included) or something that is not JSON.
    async fn get_json(
        &self,
        client: &reqwest::Client,
        url: &str,
    ) -> anyhow::Result<serde_json::Value> {
        let mut request = client.get(url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        let answer: serde_json::Value = response
            .json()
            .await
            .with_context(|| format!("{url} answered {status} with a body that is not JSON"))?;
        if !status.is_success() {
            anyhow::bail!(
                "{url} answered {status}: {}",
                answer["error"]["message"].as_str().unwrap_or("?")
            );
        }
        Ok(answer)
    }
}

/// Options of `seam lint`.
#[derive(Debug, Clone, Args)]
pub struct LintArgs {
    /// Manifest files (Seam format or Backstage catalog-info.yaml); `-` reads standard
    /// input. A single Backstage file's Location targets are followed
    #[arg(required_unless_present = "policy", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A policy file (`kind: Policy`) to check as well: its principles, rules, parameters
    /// and waivers (expired waivers are warnings)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Options of `seam register`.
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// Manifest files to register, checked first as `seam lint` does
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub remote: Remote,

    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// The files read for one lint run, in reading order, and what loading them found.
struct Linted {
    files: Vec<(String, String)>,
    loaded: Loaded,
}

fn read_input(path: &str) -> Result<String, String> {
    let mut text = String::new();
    let limit = Limits::default().max_bytes as u64 + 1;
    let result = if path == "-" {
        std::io::stdin().take(limit).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_string(&mut text))
    };
    result.map_err(|err| err.to_string())?;
    Ok(text)
}

fn lint_files(paths: &[PathBuf]) -> Linted {
    let limits = Limits::default();
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let mut files: Vec<(String, String)> = Vec::new();
    if let [only] = names.as_slice() {
        let mut read = |path: &str| {
            let text = read_input(path)?;
            files.push((path.to_owned(), text.clone()));
            Ok(text)
        };
        let loaded = manifest::load_tree(only, &mut read, &limits);
        return Linted { files, loaded };
    }
    let mut unreadable = Vec::new();
    for name in &names {
        match read_input(name) {
            Ok(text) => files.push((name.clone(), text)),
            Err(reason) => unreadable.push(Diagnostic {
                severity: Severity::Error,
                file: name.clone(),
                document: 0,
                line: None,
                column: None,
                path: String::new(),
                message: format!("cannot read the file: {reason}"),
            }),
        }
    }
    let inputs: Vec<Input<'_>> = files
        .iter()
        .map(|(name, text)| Input { name, text })
        .collect();
    let mut loaded = manifest::load(&inputs, &limits);
    loaded.diagnostics.splice(0..0, unreadable);
    Linted { files, loaded }
}

#[derive(Serialize)]
struct LintReport<'a> {
    ok: bool,
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
}

fn report(linted: &Linted, format: OutputFormat) -> bool {
    let diagnostics = &linted.loaded.diagnostics;
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let ok = errors == 0;
    match format {
        OutputFormat::Human => {
            for d in diagnostics {
                println!("{d}");
            }
            let catalog = &linted.loaded.catalog;
            let verdict = if ok { "ok" } else { "invalid" };
            println!(
                "{verdict}: {} file(s), {} service(s), {} other entities; {errors} error(s), {warnings} warning(s)",
                linted.files.len(),
                catalog.services.len(),
                catalog.apis.len() + catalog.systems.len() + catalog.domains.len() + catalog.teams.len() + catalog.resources.len(),
            );
        }
        OutputFormat::Json => {
            let report = LintReport {
                ok,
                files: linted.files.len(),
                errors,
                warnings,
                diagnostics,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("serialisable")
            );
        }
    }
    ok
}

/// Runs `seam lint`; returns whether every file is valid.
pub fn lint(args: &LintArgs) -> bool {
    let mut linted = lint_files(&args.files);
    if let Some(path) = &args.policy {
        let name = path.display().to_string();
        let diagnostics = match read_input(&name) {
            Err(reason) => vec![Diagnostic {
                severity: Severity::Error,
                file: name.clone(),
                document: 0,
                line: None,
                column: None,
                path: String::new(),
                message: format!("cannot read the file: {reason}"),
            }],
            Ok(text) => {
                let diagnostics = match seam_principles::parse_policy(&name, &text) {
                    Err(diagnostics) => diagnostics,
                    Ok(policy) => policy
                        .expired_waivers(chrono::Utc::now())
                        .map(|waiver| Diagnostic {
                            severity: Severity::Warning,
                            file: name.clone(),
                            document: 1,
                            line: None,
                            column: None,
                            path: "spec.waivers".into(),
                            message: format!(
                                "the waiver of {} for {:?} expired on {}: it no longer applies",
                                waiver.code,
                                waiver.object,
                                waiver.expires.format("%Y-%m-%d")
                            ),
                        })
                        .collect(),
                };
                linted.files.push((name, text));
                diagnostics
            }
        };
        linted.loaded.diagnostics.extend(diagnostics);
    }
    report(&linted, args.format)
}

/// Runs `seam register`: lints, then sends every document in one request, which the
/// server applies in one transaction. Returns whether the server accepted them.
pub async fn register(args: &RegisterArgs) -> anyhow::Result<bool> {
    let linted = lint_files(&args.files);
    if linted.loaded.has_errors() {
        report(&linted, args.format);
        eprintln!("seam: nothing was sent");
        return Ok(false);
    }
    let body = linted
        .files
        .iter()
        .map(|(_, text)| text.trim_end().trim_end_matches("---").trim_end())
        .collect::<Vec<_>>()
        .join("\n---\n");
    let url = args.remote.url("/api/v1/manifests");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut request = client
        .put(&url)
        .header("content-type", "application/yaml")
        .header("x-seam-source", "cli")
        .body(body);
    if let Some(token) = &args.remote.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("{url} answered {status} with a body that is not JSON"))?;
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(status.is_success());
    }
    if !status.is_success() {
        eprintln!(
            "seam: {url} refused the manifests ({status}): {}",
            answer["error"]["message"].as_str().unwrap_or("?")
        );
        for d in answer["error"]["diagnostics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Ok(d) = serde_json::from_value::<Diagnostic>(d.clone()) {
                eprintln!("{d}");
            }
        }
        return Ok(false);
    }
    for change in answer["changes"].as_array().into_iter().flatten() {
        let revision = change["revision"]
            .as_i64()
            .map(|r| format!(" (revision {r})"))
            .unwrap_or_default();
        println!(
            "{} {} {}{revision}",
            change["change"].as_str().unwrap_or("?"),
            change["kind"].as_str().unwrap_or("?"),
            change["name"].as_str().unwrap_or("?"),
        );
    }
    for d in answer["warnings"].as_array().into_iter().flatten() {
        if let Ok(d) = serde_json::from_value::<Diagnostic>(d.clone()) {
            println!("{d}");
        }
    }
    Ok(true)
}

/// Options of `seam can-deploy` and `seam can-retire`.
#[derive(Debug, Clone, Args)]
pub struct VersionQuestionArgs {
    /// The service, by its catalog name
    #[arg(long, value_name = "NAME")]
    pub service: String,

    /// The version asked about
    #[arg(long, value_name = "VERSION")]
    pub version: String,

    /// The environment (`deployment.environment.name`); Seam's default environment
    /// holds what names none
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub environment: String,

    /// For can-retire: how far back calls count, as 15m, 1h or 7d
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,

    #[command(flatten)]
    pub remote: Remote,

    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Which version question to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionQuestion {
    CanDeploy,
    CanRetire,
}

/// Asks the server whether a version may be deployed or retired. `Ok(true)` when the
/// answer is yes, `Ok(false)` when it is no; `Err` when the question could not be asked
/// (the caller exits 2).
pub async fn ask_version(
    question: VersionQuestion,
    args: &VersionQuestionArgs,
) -> anyhow::Result<bool> {
    let path = match question {
        VersionQuestion::CanDeploy => "can-deploy",
        VersionQuestion::CanRetire => "can-retire",
    };
    let url = args.remote.url(&format!("/api/v1/versions/{path}"));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let mut query = vec![
        ("service", args.service.as_str()),
        ("version", args.version.as_str()),
        ("environment", args.environment.as_str()),
    ];
    if let Some(window) = &args.window {
        query.push(("window", window));
    }
    let encoded: Vec<String> = query
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect();
    let answer = args
        .remote
        .get_json(&client, &format!("{url}?{}", encoded.join("&")))
        .await?;
    let Some(ok) = answer["ok"].as_bool() else {
        anyhow::bail!("{url} answered without an \"ok\" field");
    };
    if args.format == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(ok);
    }
    let verb = match question {
        VersionQuestion::CanDeploy => "be deployed to",
        VersionQuestion::CanRetire => "be retired from",
    };
    println!(
        "{} {} {} {verb} {}",
        args.service,
        args.version,
        if ok { "can" } else { "cannot" },
        args.environment
    );
    for reason in answer["reasons"].as_array().into_iter().flatten() {
        let mark = if reason["blocking"].as_bool().unwrap_or(false) {
            "blocks"
        } else {
            "note"
        };
        println!("  {mark}: {}", reason["message"].as_str().unwrap_or("?"));
    }
    Ok(ok)
}

/// A query value with everything but RFC 3986's unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Output formats of `seam check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CheckFormat {
    /// One line per finding, then a summary
    #[default]
    Human,
    /// The findings as the API answers them
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
}

/// Options of `seam check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Only findings about this service
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// The window of observed calls the findings are judged over, as 15m, 1h or 7d
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,

    /// Exit 1 when an unwaived finding of this severity or above exists
    #[arg(long, value_name = "SEVERITY", default_value = "error")]
    pub fail_on: String,

    #[command(flatten)]
    pub remote: Remote,

    /// Output format
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckFormat,
}

/// Most findings `seam check` reads (pages of 1,000).
const MAX_CHECK_FINDINGS: usize = 100_000;

/// Runs `seam check` against a running Seam: the policy's findings, printed; `Ok(true)`
/// when none at or above `--fail-on` is unwaived, `Err` when it could not evaluate.
pub async fn check(args: &CheckArgs) -> anyhow::Result<bool> {
    let Some(fail_on) = seam_principles::Severity::parse(&args.fail_on) else {
        anyhow::bail!(
            "--fail-on {:?}: expected info, warning or error",
            args.fail_on
        );
    };
    let base = args.remote.url("/api/v1/findings");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let mut findings: Vec<serde_json::Value> = Vec::new();
    let mut policy;
    loop {
        let mut query = vec![format!("limit=1000"), format!("offset={}", findings.len())];
        if let Some(service) = &args.service {
            query.push(format!("service={}", percent_encode(service)));
        }
        if let Some(window) = &args.window {
            query.push(format!("window={}", percent_encode(window)));
        }
        let page = args
            .remote
            .get_json(&client, &format!("{base}?{}", query.join("&")))
            .await?;
        policy = page["policy"].as_str().unwrap_or_default().to_owned();
        let batch = page["findings"].as_array().cloned().unwrap_or_default();
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let empty = batch.is_empty();
        findings.extend(batch);
        if empty || findings.len() >= total || findings.len() >= MAX_CHECK_FINDINGS {
            break;
        }
    }
    let severity_of = |f: &serde_json::Value| {
        f["severity"]
            .as_str()
            .and_then(seam_principles::Severity::parse)
            .unwrap_or(seam_principles::Severity::Info)
    };
    let waived = |f: &serde_json::Value| !f["waiver"].is_null();
    let failing = findings
        .iter()
        .filter(|f| !waived(f) && severity_of(f) >= fail_on)
        .count();
    match args.format {
        CheckFormat::Json => {
            let report = serde_json::json!({
                "ok": failing == 0,
                "policy": policy,
                "fail_on": fail_on.as_str(),
                "failing": failing,
                "findings": findings,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        CheckFormat::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&findings))?),
        CheckFormat::Human => {
            for f in &findings {
                let waiver = if waived(f) { " (waived)" } else { "" };
                println!(
                    "{} {}: {}{waiver}",
                    f["severity"].as_str().unwrap_or("?"),
                    f["code"].as_str().unwrap_or("?"),
                    f["summary"].as_str().unwrap_or("?"),
                );
            }
            println!(
                "{}: {} finding(s) of policy {policy:?}, {failing} unwaived at {} or above",
                if failing == 0 { "ok" } else { "failing" },
                findings.len(),
                fail_on.as_str()
            );
        }
    }
    Ok(failing == 0)
}

/// The findings as a SARIF 2.1.0 log: one rule per code (with its explanation and
/// resolution), one result per finding on the services it holds responsible (logical
/// locations), waived findings as suppressed results.
fn sarif(findings: &[serde_json::Value]) -> serde_json::Value {
    use serde_json::json;
    let level = |severity: &str| match severity {
        "error" => "error",
        "warning" => "warning",
        _ => "note",
    };
    let mut codes: Vec<seam_principles::Code> = findings
        .iter()
        .filter_map(|f| seam_principles::Code::parse(f["code"].as_str()?))
        .collect();
    codes.sort_by_key(|c| c.as_str());
    codes.dedup();
    let rules: Vec<serde_json::Value> = codes
        .iter()
        .map(|code| {
            let rule = code.rule();
            json!({
                "id": code.as_str(),
                "name": rule.title,
                "shortDescription": {"text": rule.title},
                "fullDescription": {"text": rule.explanation},
                "help": {"text": rule.resolution},
                "defaultConfiguration": {"level": level(rule.severity.as_str())},
                "properties": {"principle": rule.principle},
            })
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f["code"],
                "level": level(f["severity"].as_str().unwrap_or("info")),
                "message": {"text": f["summary"]},
                "locations": f["objects"].as_array().into_iter().flatten().map(|name| json!({
                    "logicalLocations": [{"name": name, "kind": "module"}]
                })).collect::<Vec<_>>(),
                "partialFingerprints": {"seamFindingId": f["id"]},
            });
            if !f["waiver"].is_null() {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "justification": f["waiver"]["reason"],
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "seam",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}
