//! The principles over real HTTP: the built-in policy's findings and scorecards for a
//! catalog with a cycle, a custom policy file with a waiver, and a policy file with
//! mistakes refused at start with their positions.

mod common;

use common::{run_seam, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

fn manifest(name: &str, owner: &str, domain: Option<&str>, consumes: &str) -> String {
    let domain = domain
        .map(|d| format!("  domain: {d}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: seam.dev/v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  owner: {owner}\n{domain}  lifecycle: production\n  version: 1.0.0\n  consumes:\n    - service: {consumes}\n"
    )
}

/// orders ⇄ payments: a synchronous cycle; payments declares no domain.
fn fleet() -> String {
    [
        manifest("orders", "team-orders", Some("sales"), "payments"),
        manifest("payments", "team-payments", None, "orders"),
    ]
    .join("---\n")
}

fn codes(body: &Value) -> Vec<String> {
    body["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {body:#}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_built_in_policy_finds_the_cycle_and_scores_every_service() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, policy) = server.get_json("/api/v1/policy").await;
    assert_eq!(status, StatusCode::OK, "{policy}");
    assert_eq!(policy["source"], "built-in");
    assert_eq!(policy["policy"]["principles"].as_array().unwrap().len(), 8);

    let (status, cycles) = server
        .get_json("/api/v1/findings?code=SEAM-CYCLE-001")
        .await;
    assert_eq!(status, StatusCode::OK, "{cycles}");
    assert_eq!(cycles["total"], 1, "{cycles:#}");
    let cycle = &cycles["findings"][0];
    assert_eq!(cycle["severity"], "error");
    assert_eq!(cycle["principle"], "loose-coupling");
    assert_eq!(cycle["objects"], serde_json::json!(["orders", "payments"]));
    assert!(cycle["explanation"].as_str().unwrap().len() > 40);
    assert!(cycle["resolution"].as_str().unwrap().len() > 40);

    // payments declares no bounded context; orders does.
    let (_, payments) = server.get_json("/api/v1/findings?service=payments").await;
    assert!(
        codes(&payments).contains(&"SEAM-CONTEXT-001".to_owned()),
        "{payments:#}"
    );
    let (_, orders) = server
        .get_json("/api/v1/findings?service=orders&code=SEAM-CONTEXT-001")
        .await;
    assert_eq!(orders["total"], 0, "{orders:#}");

    let (_, errors) = server.get_json("/api/v1/findings?severity=error").await;
    assert!(errors["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["severity"] == "error"));

    let (status, cards) = server.get_json("/api/v1/scorecards").await;
    assert_eq!(status, StatusCode::OK, "{cards}");
    assert_eq!(cards["total"], 2);
    for card in cards["scorecards"].as_array().unwrap() {
        // A synchronous cycle fails a bronze rule.
        assert_eq!(card["level"], "none", "{card:#}");
    }
    assert!(cards["teams"].as_array().unwrap().len() >= 2, "{cards:#}");
    let (_, one) = server.get_json("/api/v1/scorecards?team=team-orders").await;
    assert_eq!(one["total"], 1);

    for bad in [
        "/api/v1/findings?code=SEAM-NOPE-001",
        "/api/v1/findings?severity=fatal",
        "/api/v1/findings?window=never",
        "/api/v1/scorecards?limit=0",
    ] {
        let (status, body) = server.get_json(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

const POLICY: &str = "apiVersion: seam.dev/v1
kind: Policy
metadata:
  name: ours
spec:
  principles:
    - id: no-cycles
      title: No cycles
      rules:
        - code: SEAM-CYCLE-001
          severity: warning
  waivers:
    - code: SEAM-CYCLE-001
      object: cycle:orders>payments>orders
      reason: Being split this quarter
      author: architect@example.com
      expires: 2999-12-31
";

#[tokio::test]
async fn a_policy_file_replaces_the_built_in_one_and_its_waivers_apply() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, POLICY).unwrap();
    let server =
        TestServer::start_with(|config| config.principles.policy = Some(path.clone())).await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (_, policy) = server.get_json("/api/v1/policy").await;
    assert_eq!(policy["source"], path.display().to_string());
    assert_eq!(policy["policy"]["name"], "ours");

    let (_, findings) = server.get_json("/api/v1/findings").await;
    assert_eq!(codes(&findings), ["SEAM-CYCLE-001"], "{findings:#}");
    let cycle = &findings["findings"][0];
    assert_eq!(cycle["severity"], "warning");
    assert_eq!(cycle["waiver"]["author"], "architect@example.com");
    let (_, unwaived) = server.get_json("/api/v1/findings?waived=false").await;
    assert_eq!(unwaived["total"], 0, "{unwaived:#}");
}

#[tokio::test]
async fn a_policy_file_with_mistakes_stops_the_start_saying_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(
        &path,
        POLICY.replace("severity: warning", "severity: fatal"),
    )
    .unwrap();
    let config = seam_server::principles::PrinciplesConfig {
        policy: Some(path.clone()),
        ..Default::default()
    };
    let problems = seam_server::principles::load_policy(&config).unwrap_err();
    assert!(problems.contains("policy.yaml:11:"), "{problems}");
    assert!(
        problems.contains("spec.principles[0].rules[0].severity"),
        "{problems}"
    );
}

#[test]
fn seam_lint_checks_a_policy_file_offline() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, POLICY).unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        POLICY.replace(
            "code: SEAM-CYCLE-001\n          severity",
            "code: SEAM-CYCLE-999\n          severity",
        ),
    )
    .unwrap();
    let expired = dir.path().join("expired.yaml");
    std::fs::write(&expired, POLICY.replace("2999-12-31", "2001-01-31")).unwrap();
    let lint = |path: &std::path::Path| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_seam"))
            .args(["lint", "--policy"])
            .arg(path)
            .output()
            .expect("seam runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let (code, out) = lint(&good);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = lint(&bad);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("bad.yaml:10:"), "{out}");
    assert!(out.contains("SEAM-CYCLE-999"), "{out}");
    let (code, out) = lint(&expired);
    assert_eq!(code, Some(0), "an expired waiver is a warning: {out}");
    assert!(out.contains("expired on 2001-0"), "{out}");
}

#[tokio::test]
async fn seam_check_fails_a_pipeline_on_unwaived_findings_and_speaks_sarif() {
    let server = TestServer::start().await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let args = |extra: &[&str]| {
        let mut args = vec![
            "check".to_owned(),
            "--server".to_owned(),
            server.base.clone(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    // The cycle is an error of the built-in policy.
    let (code, out) = run_seam(args(&[])).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error SEAM-CYCLE-001: "), "{out}");
    assert!(out.contains("failing: "), "{out}");
    let (code, out) = run_seam(args(&["--format", "sarif"])).await;
    assert_eq!(code, 1, "{out}");
    let sarif: Value = serde_json::from_str(&out).expect("SARIF is JSON");
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "seam");
    assert!(run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "SEAM-CYCLE-001" && r["help"]["text"].is_string()));
    let result = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "SEAM-CYCLE-001")
        .expect("the cycle is a result");
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["logicalLocations"][0]["name"],
        "orders"
    );
    let (code, out) = run_seam(args(&["--format", "json"])).await;
    assert_eq!(code, 1, "{out}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["ok"], false);
    assert!(json["failing"].as_u64().unwrap() >= 1);

    let (code, _) = run_seam(args(&["--fail-on", "fatal"])).await;
    assert_eq!(code, 2, "a bad threshold: not evaluated");
    let (code, _) = run_seam(vec![
        "check".into(),
        "--server".into(),
        "http://127.0.0.1:1".into(),
    ])
    .await;
    assert_eq!(code, 2, "an unreachable server: not evaluated");
}

#[tokio::test]
async fn seam_check_passes_when_the_only_finding_is_waived() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(
        &path,
        POLICY.replace("severity: warning", "severity: error"),
    )
    .unwrap();
    let server =
        TestServer::start_with(|config| config.principles.policy = Some(path.clone())).await;
    let (status, body) = server.put_manifest(&fleet(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (code, out) = run_seam(vec![
        "check".into(),
        "--server".into(),
        server.base.clone(),
        "--fail-on".into(),
        "info".into(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(waived)"), "{out}");
    assert!(out.starts_with("error SEAM-CYCLE-001"), "{out}");
}

/// Polls the policy until `done` holds.
async fn policy_until(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, policy) = server.get_json("/api/v1/policy").await;
        if done(&policy) {
            return policy;
        }
        last = policy;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the policy never got there: {last:#}");
}

#[tokio::test]
async fn a_changed_policy_file_is_read_again_and_a_broken_one_keeps_the_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, POLICY).unwrap();
    let server = TestServer::start_with(|config| {
        config.principles.policy = Some(path.clone());
        config.principles.reload_secs = 1;
    })
    .await;
    let (_, policy) = server.get_json("/api/v1/policy").await;
    assert_eq!(policy["policy"]["name"], "ours");

    std::fs::write(&path, POLICY.replace("name: ours", "name: ours-revised")).unwrap();
    let policy = policy_until(&server, |p| p["policy"]["name"] == "ours-revised").await;
    assert!(policy["reload_error"].is_null(), "{policy:#}");

    std::fs::write(
        &path,
        POLICY.replace("severity: warning", "severity: fatal-ish"),
    )
    .unwrap();
    let policy = policy_until(&server, |p| p["reload_error"].is_string()).await;
    assert_eq!(
        policy["policy"]["name"], "ours-revised",
        "the last good policy stays"
    );
    assert!(
        policy["reload_error"]
            .as_str()
            .unwrap()
            .contains("policy.yaml:11:"),
        "{policy:#}"
    );
}
