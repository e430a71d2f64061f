use super::*;
use crate::policy::{parse_policy, ParamValue, Params};
use chrono::TimeZone;
use seam_analysis::versions::{
    Consumer, EnvironmentVersions, LiveVersion, ProviderVersions, Source, VersionVerdict,
};
use seam_analysis::DatastoreUser;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn edge(caller: &str, callee: &str, mode: Mode) -> EdgeRef {
    EdgeRef {
        caller: caller.into(),
        callee: callee.into(),
        mode,
        declared: true,
        observed: true,
    }
}

fn obs(kind: Kind, id: &str, services: &[&str], evidence: Evidence) -> Observation {
    let services: Vec<String> = services.iter().map(|s| (*s).to_owned()).collect();
    let edges = services
        .windows(2)
        .map(|pair| edge(&pair[0], &pair[1], Mode::Sync))
        .collect();
    Observation {
        kind,
        id: id.into(),
        summary: format!("{id} observed"),
        services,
        edges,
        evidence,
    }
}

fn cycle(services: &[&str], sync: bool, observed: bool) -> Observation {
    let mut round = services.to_vec();
    round.push(services[0]);
    obs(
        Kind::Cycle,
        &format!("cycle:{}", round.join(">")),
        services,
        Evidence::Cycle {
            sync,
            declared: true,
            observed,
            component: 0,
            component_size: services.len(),
        },
    )
}

fn chatty(caller: &str, callee: &str, mean: Option<f64>, per_minute: f64) -> Observation {
    obs(
        Kind::ChattyPair,
        &format!("chatty_pair:{caller}>{callee}"),
        &[caller, callee],
        Evidence::Chatty {
            calls_per_request_mean: mean,
            calls_per_request_p50: mean,
            calls_per_request_p95: mean,
            calls_per_request_max_bound: None,
            requests: 100.0,
            distribution: Vec::new(),
            calls_per_minute: per_minute,
            threshold_calls_per_request: 10.0,
            threshold_calls_per_minute: 6000.0,
        },
    )
}

fn hub(name: &str, fan_out: usize) -> Observation {
    obs(
        Kind::Hub,
        &format!("hub:{name}"),
        &[name],
        Evidence::Hub {
            fan_in: 12,
            fan_out,
            betweenness: 0.0,
            betweenness_exact: true,
            samples: 10,
        },
    )
}

fn chain(services: &[&str]) -> Observation {
    obs(
        Kind::DeepChain,
        &format!("deep_chain:{}", services.join(">")),
        services,
        Evidence::Chain {
            depth: services.len(),
            through_cycle: false,
        },
    )
}

/// A datastore used by `(service, owner, domain)`s.
fn shared(store: &str, users: &[(&str, &str, &str)]) -> Observation {
    let users: Vec<DatastoreUser> = users
        .iter()
        .map(|(service, owner, domain)| DatastoreUser {
            service: (*service).into(),
            owner: Some((*owner).into()),
            domain: Some((*domain).into()),
            declared: true,
            observed: false,
        })
        .collect();
    let owners: BTreeSet<String> = users.iter().filter_map(|u| u.owner.clone()).collect();
    let domains: BTreeSet<String> = users.iter().filter_map(|u| u.domain.clone()).collect();
    let mut services = vec![store.to_owned()];
    services.extend(users.iter().map(|u| u.service.clone()));
    Observation {
        kind: Kind::SharedDatastore,
        id: format!("shared_datastore:{store}"),
        summary: format!("{store} is shared"),
        services,
        edges: Vec::new(),
        evidence: Evidence::SharedDatastore {
            datastore: store.into(),
            users,
            owners: owners.into_iter().collect(),
            domains: domains.into_iter().collect(),
        },
    }
}

fn crossing(caller: &str, callee: &str, to_domain: &str) -> Observation {
    obs(
        Kind::ContextCrossing,
        &format!("context_crossing:{caller}>{callee}"),
        &[caller, callee],
        Evidence::ContextCrossing {
            from_domain: "sales".into(),
            to_domain: to_domain.into(),
            calls_per_second: 1.0,
        },
    )
}

fn drift(kind: Kind, caller: &str, callee: &str, rate: f64, mode: Mode) -> Observation {
    let mut observation = obs(
        kind,
        &format!("{}:{caller}>{callee}", kind.as_str()),
        &[caller, callee],
        Evidence::Drift {
            calls_per_second: rate,
            window_seconds: 900.0,
        },
    );
    observation.edges = vec![edge(caller, callee, mode)];
    observation
}

fn majors(service: &str, environment: &str, majors: &[u64]) -> Observation {
    obs(
        Kind::SeveralMajors,
        &format!("several_majors:{environment}:{service}"),
        &[service],
        Evidence::SeveralMajors {
            environment: environment.into(),
            majors: majors.to_vec(),
            versions: majors.iter().map(|m| format!("{m}.0.0")).collect(),
        },
    )
}

fn mismatch(consumer: &str, provider: &str, environment: &str) -> Observation {
    obs(
        Kind::RangeMismatch,
        &format!("range_mismatch:{environment}:{consumer}>{provider}"),
        &[consumer, provider],
        Evidence::RangeMismatch {
            environment: environment.into(),
            consumer: consumer.into(),
            provider: provider.into(),
            api: None,
            range: "^1".into(),
            rejected: vec!["2.0.0".into()],
        },
    )
}

/// A service with everything declared and healthy at runtime.
fn healthy(name: &str) -> ServiceFacts {
    ServiceFacts {
        name: name.into(),
        owner: Some("team-a".into()),
        domain: Some("sales".into()),
        system: Some("shop".into()),
        lifecycle: Some("production".into()),
        version: Some("1.2.0".into()),
        observed_versions: vec!["1.2.0".into()],
        runtime: Some(RuntimeFacts {
            scraped: true,
            up: Some(true),
            metrics_lacking: Some(Vec::new()),
            health_up: Some(true),
        }),
        propagation: Some(PropagationFacts::default()),
    }
}

/// A policy with one principle `p` holding `code` at its defaults, then `params` set.
fn policy(code: Code, params: &[(&str, ParamValue)]) -> Policy {
    let mut rule = RuleConfig::new(code);
    for (name, value) in params {
        rule.params.set(code, name, value.clone()).unwrap();
    }
    Policy {
        principles: vec![Principle {
            id: "p".into(),
            title: "P".into(),
            description: None,
            scope: Scope::default(),
            rules: vec![rule],
        }],
        ..Policy::empty("test")
    }
}

fn inputs<'a>(report: &'a Report, services: Vec<ServiceFacts>) -> Inputs<'a> {
    Inputs {
        services,
        traced: true,
        teams: Some(vec!["team-a".into(), "team-b".into()]),
        ..Inputs::new(report)
    }
}

fn report(observations: Vec<Observation>) -> Report {
    Report {
        observations,
        ..Report::default()
    }
}

/// The subjects of the findings of evaluating `code` (with `params`) over the
/// observations and services.
fn check(
    code: Code,
    params: &[(&str, ParamValue)],
    observations: Vec<Observation>,
    services: Vec<ServiceFacts>,
) -> Vec<String> {
    let report = report(observations);
    let evaluation = evaluate(&policy(code, params), &inputs(&report, services), now());
    for finding in &evaluation.findings {
        assert_eq!(finding.code, code);
        assert_eq!(finding.id, format!("p/{code}/{}", finding.subject));
        assert!(!finding.summary.is_empty());
        assert!(!finding.objects.is_empty());
    }
    evaluation
        .findings
        .iter()
        .map(|f| f.subject.clone())
        .collect()
}

fn num(n: f64) -> ParamValue {
    ParamValue::Number(n)
}

fn words(list: &[&str]) -> ParamValue {
    ParamValue::Words(list.iter().map(|w| (*w).to_owned()).collect())
}

// ---------------------------------------------------------------------------------------
// Each rule passes and fails.

#[test]
fn cycle_001_synchronous_cycles() {
    let sync = cycle(&["a", "b"], true, true);
    let asynchronous = cycle(&["c", "d"], false, true);
    let declared_only = cycle(&["e", "f"], true, false);
    assert_eq!(
        check(
            Code::Cycle001,
            &[],
            vec![sync.clone(), asynchronous.clone(), declared_only.clone()],
            vec![]
        ),
        ["cycle:a>b>a", "cycle:e>f>e"]
    );
    assert_eq!(
        check(
            Code::Cycle001,
            &[("observed_only", ParamValue::Bool(true))],
            vec![sync, asynchronous, declared_only],
            vec![]
        ),
        ["cycle:a>b>a"]
    );
}

#[test]
fn cycle_002_cycles_through_asynchronous_calls() {
    let observations = vec![
        cycle(&["a", "b"], true, true),
        cycle(&["c", "d"], false, true),
    ];
    assert_eq!(
        check(Code::Cycle002, &[], observations, vec![]),
        ["cycle:c>d>c"]
    );
    assert!(check(
        Code::Cycle002,
        &[],
        vec![cycle(&["a", "b"], true, true)],
        vec![]
    )
    .is_empty());
}

#[test]
fn chatty_001_chatty_pairs() {
    let observations = vec![
        chatty("a", "b", Some(12.0), 100.0),
        chatty("c", "d", Some(3.0), 7000.0),
        chatty("e", "f", None, 100.0),
    ];
    assert_eq!(
        check(Code::Chatty001, &[], observations.clone(), vec![]),
        ["chatty_pair:a>b", "chatty_pair:c>d"]
    );
    assert_eq!(
        check(
            Code::Chatty001,
            &[("calls_per_request", num(20.0))],
            observations,
            vec![]
        ),
        ["chatty_pair:c>d"]
    );
    // The caller is responsible, the callee related.
    let report = report(vec![chatty("a", "b", Some(12.0), 100.0)]);
    let evaluation = evaluate(
        &policy(Code::Chatty001, &[]),
        &inputs(&report, vec![]),
        now(),
    );
    assert_eq!(evaluation.findings[0].objects, ["a"]);
    assert_eq!(evaluation.findings[0].related, ["b"]);
}

#[test]
fn hub_001_orchestrating_hubs() {
    let observations = vec![hub("orchestrator", 8), hub("popular", 2)];
    assert_eq!(
        check(Code::Hub001, &[], observations.clone(), vec![]),
        ["hub:orchestrator"]
    );
    assert!(check(
        Code::Hub001,
        &[("max_fan_out", num(8.0))],
        observations,
        vec![]
    )
    .is_empty());
}

#[test]
fn depth_001_deep_chains() {
    let deep = chain(&["a", "b", "c", "d", "e"]);
    let short = chain(&["x", "y", "z"]);
    assert_eq!(
        check(
            Code::Depth001,
            &[],
            vec![deep.clone(), short.clone()],
            vec![]
        ),
        ["deep_chain:a>b>c>d>e"]
    );
    assert!(check(
        Code::Depth001,
        &[("max_depth", num(5.0))],
        vec![deep],
        vec![]
    )
    .is_empty());
}

#[test]
fn db_001_shared_datastores() {
    let owners = shared("db1", &[("a", "team-a", "sales"), ("b", "team-b", "sales")]);
    let domains = shared(
        "db2",
        &[("c", "team-a", "sales"), ("d", "team-a", "billing")],
    );
    assert_eq!(
        check(
            Code::Db001,
            &[],
            vec![owners.clone(), domains.clone()],
            vec![]
        ),
        ["shared_datastore:db1", "shared_datastore:db2"]
    );
    assert_eq!(
        check(
            Code::Db001,
            &[("across", ParamValue::Choice("domains".into()))],
            vec![owners.clone(), domains],
            vec![]
        ),
        ["shared_datastore:db2"]
    );
    let report = report(vec![owners]);
    let evaluation = evaluate(&policy(Code::Db001, &[]), &inputs(&report, vec![]), now());
    assert_eq!(evaluation.findings[0].objects, ["a", "b"]);
    assert_eq!(evaluation.findings[0].related, ["db1"]);
}

#[test]
fn context_001_domain_declared() {
    let declared = healthy("a");
    let undeclared = ServiceFacts {
        domain: Some("  ".into()),
        ..healthy("b")
    };
    assert_eq!(
        check(Code::Context001, &[], vec![], vec![declared, undeclared]),
        ["b"]
    );
}

#[test]
fn context_002_crossings_outside_declared_apis() {
    let observations = vec![
        crossing("a", "b", "billing"),
        crossing("c", "d", "platform"),
    ];
    assert_eq!(
        check(Code::Context002, &[], observations.clone(), vec![]),
        ["context_crossing:a>b", "context_crossing:c>d"]
    );
    assert_eq!(
        check(
            Code::Context002,
            &[("open_domains", words(&["platform"]))],
            observations,
            vec![]
        ),
        ["context_crossing:a>b"]
    );
}

#[test]
fn metrics_001_standard_request_metrics() {
    let lacking = |name: &str, lacks: &[&str]| {
        let mut facts = healthy(name);
        facts.runtime.as_mut().unwrap().metrics_lacking =
            Some(lacks.iter().map(|l| (*l).to_owned()).collect());
        facts
    };
    let services = vec![
        healthy("full"),
        lacking("no-duration", &["duration"]),
        lacking("nothing", &["request_count", "status", "duration"]),
        ServiceFacts {
            runtime: None,
            ..healthy("offline")
        },
    ];
    assert_eq!(
        check(Code::Metrics001, &[], vec![], services.clone()),
        ["no-duration", "nothing"]
    );
    assert_eq!(
        check(
            Code::Metrics001,
            &[("require", words(&["request_count"]))],
            vec![],
            services
        ),
        ["nothing"]
    );
}

#[test]
fn metrics_002_scrapes() {
    let runtime = |scraped: bool, up: Option<bool>| RuntimeFacts {
        scraped,
        up,
        ..RuntimeFacts::default()
    };
    let services = vec![
        healthy("up"),
        ServiceFacts {
            runtime: Some(runtime(true, Some(false))),
            ..healthy("down")
        },
        ServiceFacts {
            runtime: Some(runtime(false, None)),
            ..healthy("unscraped")
        },
        ServiceFacts {
            runtime: Some(runtime(true, None)),
            ..healthy("pending")
        },
    ];
    assert_eq!(
        check(Code::Metrics002, &[], vec![], services.clone()),
        ["down", "unscraped"]
    );
    assert_eq!(
        check(
            Code::Metrics002,
            &[("require_target", ParamValue::Bool(false))],
            vec![],
            services
        ),
        ["down"]
    );
}

#[test]
fn health_001_health_endpoints() {
    let mut down = healthy("down");
    down.runtime.as_mut().unwrap().health_up = Some(false);
    let mut unprobed = healthy("unprobed");
    unprobed.runtime.as_mut().unwrap().health_up = None;
    assert_eq!(
        check(
            Code::Health001,
            &[],
            vec![],
            vec![healthy("up"), down, unprobed]
        ),
        ["down"]
    );
}

#[test]
fn trace_001_propagation() {
    let broken = ServiceFacts {
        propagation: Some(PropagationFacts {
            broken: vec![BrokenPropagation {
                side: Side::Incoming,
                spans: 100,
                roots: 97,
                example_trace_ids: vec!["4bf92f3577b34da6a3ce929d0e0e4736".into()],
            }],
        }),
        ..healthy("broken")
    };
    let untraced = ServiceFacts {
        propagation: None,
        ..healthy("untraced")
    };
    let services = vec![healthy("fine"), broken, untraced];
    assert_eq!(
        check(Code::Trace001, &[], vec![], services.clone()),
        ["broken"]
    );
    assert!(check(
        Code::Trace001,
        &[("sides", words(&["outgoing"]))],
        vec![],
        services.clone()
    )
    .is_empty());
    let report = report(vec![]);
    let evaluation = evaluate(
        &policy(Code::Trace001, &[]),
        &inputs(&report, services),
        now(),
    );
    let finding = &evaluation.findings[0];
    assert_eq!(
        finding.summary,
        "broken does not pass the trace context on: 97 of its 100 server spans started a new trace although it has callers"
    );
    let FindingEvidence::Propagation { broken } = &finding.evidence else {
        panic!("{:?}", finding.evidence)
    };
    assert_eq!(broken[0].example_trace_ids.len(), 1);
}

#[test]
fn semver_001_semantic_versions() {
    let version = |name: &str, declared: Option<&str>, observed: &[&str]| ServiceFacts {
        version: declared.map(Into::into),
        observed_versions: observed.iter().map(|v| (*v).to_owned()).collect(),
        ..healthy(name)
    };
    let services = vec![
        version("semver", Some("1.4.0"), &["1.4.0", "1.5.0-rc.1"]),
        version("prefixed", Some("v1.4.0"), &[]),
        version("latest", Some("1.4.0"), &["latest"]),
        version("short", Some("1.4"), &[]),
        version("none", None, &[]),
    ];
    assert_eq!(
        check(Code::Semver001, &[], vec![], services.clone()),
        ["latest", "none", "short"]
    );
    assert_eq!(
        check(
            Code::Semver001,
            &[
                ("allow_v_prefix", ParamValue::Bool(false)),
                ("require_version", ParamValue::Bool(false))
            ],
            vec![],
            services
        ),
        ["latest", "prefixed", "short"]
    );
}

#[test]
fn semver_002_range_mismatches() {
    let observations = vec![
        mismatch("web", "api", "prod"),
        mismatch("app", "api", "staging"),
    ];
    assert_eq!(
        check(Code::Semver002, &[], observations.clone(), vec![]),
        [
            "range_mismatch:prod:web>api",
            "range_mismatch:staging:app>api"
        ]
    );
    assert_eq!(
        check(
            Code::Semver002,
            &[("environments", words(&["prod"]))],
            observations,
            vec![]
        ),
        ["range_mismatch:prod:web>api"]
    );
}

/// A version matrix row for `api` in `prod` with live 1.0.0 and 2.0.0, and a consumer
/// accepting only `accepted`.
fn matrix(accepted: &[&str]) -> VersionMatrix {
    let live = |version: &str| LiveVersion {
        version: version.into(),
        semver: true,
        source: Source::Callee,
        calls: 1.0,
        calls_out: 0.0,
        share: Some(0.5),
        declared: false,
        observed: true,
        apis: None,
    };
    let verdict = |version: &str| VersionVerdict {
        provider_version: version.into(),
        checked_version: Some(version.into()),
        verdict: if accepted.contains(&version) {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        },
    };
    VersionMatrix {
        window_seconds: 900.0,
        environments: vec![EnvironmentVersions {
            environment: "prod".into(),
            providers: vec![ProviderVersions {
                service: "api".into(),
                manifest_version: Some("2.0.0".into()),
                versions: vec![live("2.0.0"), live("1.0.0")],
                majors: vec![2, 1],
                calls: 2.0,
                unversioned_calls: 0.0,
                consumers: vec![Consumer {
                    consumer: "web".into(),
                    versions: vec![],
                    api: None,
                    range: Some("^1".into()),
                    declared: true,
                    observed: true,
                    mode: Mode::Sync,
                    calls: vec![],
                    calls_per_second: 1.0,
                    verdicts: vec![verdict("2.0.0"), verdict("1.0.0")],
                }],
            }],
        }],
    }
}

#[test]
fn semver_003_several_majors() {
    let observations = vec![majors("api", "prod", &[2, 1]), majors("solo", "prod", &[3])];
    let report = report(observations);
    let run = |versions: Option<&VersionMatrix>, params: &[(&str, ParamValue)]| {
        let inputs = Inputs {
            versions,
            ..inputs(&report, vec![])
        };
        evaluate(&policy(Code::Semver003, params), &inputs, now()).findings
    };
    // A consumer needs major 1: it stays.
    let needed = matrix(&["1.0.0"]);
    assert!(run(Some(&needed), &[]).is_empty());
    // Every consumer accepts major 2: major 1 should be retired.
    let unneeded = matrix(&["1.0.0", "2.0.0"]);
    let found = run(Some(&unneeded), &[]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].objects, ["api"]);
    assert!(
        found[0]
            .summary
            .ends_with("; no consumer's range needs major 1"),
        "{}",
        found[0].summary
    );
    // Without the matrix, the need is unknown: reported, and said so.
    let found = run(None, &[]);
    assert!(found[0].summary.contains("is unknown"));
    // unless_needed: false judges majors alone.
    assert_eq!(
        run(Some(&needed), &[("unless_needed", ParamValue::Bool(false))]).len(),
        1
    );
    assert!(run(None, &[("environments", words(&["staging"]))]).is_empty());
}

#[test]
fn owner_001_owner_teams() {
    let services = vec![
        healthy("owned"),
        ServiceFacts {
            owner: None,
            ..healthy("orphan")
        },
        ServiceFacts {
            owner: Some("ghosts".into()),
            ..healthy("haunted")
        },
    ];
    assert_eq!(
        check(Code::Owner001, &[], vec![], services.clone()),
        ["haunted", "orphan"]
    );
    assert_eq!(
        check(
            Code::Owner001,
            &[("require_declared_team", ParamValue::Bool(false))],
            vec![],
            services.clone()
        ),
        ["orphan"]
    );
    // A catalog that declares no teams: owners are not checked against a list.
    let report = report(vec![]);
    let inputs = Inputs {
        teams: None,
        ..inputs(&report, services)
    };
    let subjects: Vec<String> = evaluate(&policy(Code::Owner001, &[]), &inputs, now())
        .findings
        .into_iter()
        .map(|f| f.subject)
        .collect();
    assert_eq!(subjects, ["orphan"]);
}

#[test]
fn owner_002_lifecycles() {
    let lifecycle = |name: &str, value: Option<&str>| ServiceFacts {
        lifecycle: value.map(Into::into),
        ..healthy(name)
    };
    let services = vec![
        lifecycle("prod", Some("production")),
        lifecycle("beta", Some("beta")),
        lifecycle("unspecified", Some("unspecified")),
        lifecycle("none", None),
    ];
    assert_eq!(
        check(Code::Owner002, &[], vec![], services.clone()),
        ["beta", "none", "unspecified"]
    );
    assert_eq!(
        check(
            Code::Owner002,
            &[("allowed", words(&["production", "beta"]))],
            vec![],
            services
        ),
        ["none", "unspecified"]
    );
}

#[test]
fn drift_001_undeclared_dependencies() {
    let observations = vec![
        drift(Kind::ObservedNotDeclared, "a", "b", 5.0, Mode::Sync),
        drift(Kind::ObservedNotDeclared, "c", "d", 0.01, Mode::Sync),
        drift(Kind::DeclaredNotObserved, "e", "f", 0.0, Mode::Sync),
    ];
    assert_eq!(
        check(Code::Drift001, &[], observations.clone(), vec![]),
        ["observed_not_declared:a>b", "observed_not_declared:c>d"]
    );
    assert_eq!(
        check(
            Code::Drift001,
            &[("min_calls_per_second", num(1.0))],
            observations,
            vec![]
        ),
        ["observed_not_declared:a>b"]
    );
}

#[test]
fn drift_002_declared_dependencies_never_observed() {
    let observations = vec![
        drift(Kind::DeclaredNotObserved, "a", "b", 0.0, Mode::Sync),
        drift(Kind::DeclaredNotObserved, "c", "events", 0.0, Mode::Async),
        drift(Kind::ObservedNotDeclared, "e", "f", 1.0, Mode::Sync),
    ];
    assert_eq!(
        check(Code::Drift002, &[], observations.clone(), vec![]),
        [
            "declared_not_observed:a>b",
            "declared_not_observed:c>events"
        ]
    );
    assert_eq!(
        check(
            Code::Drift002,
            &[("ignore_async", ParamValue::Bool(true))],
            observations,
            vec![]
        ),
        ["declared_not_observed:a>b"]
    );
}

#[test]
fn every_code_has_a_case_here() {
    // A new code needs its own passing and failing test above; this list is the reminder.
    let tested = [
        Code::Cycle001,
        Code::Cycle002,
        Code::Chatty001,
        Code::Hub001,
        Code::Depth001,
        Code::Db001,
        Code::Context001,
        Code::Context002,
        Code::Metrics001,
        Code::Metrics002,
        Code::Health001,
        Code::Trace001,
        Code::Semver001,
        Code::Semver002,
        Code::Semver003,
        Code::Owner001,
        Code::Owner002,
        Code::Drift001,
        Code::Drift002,
    ];
    assert_eq!(tested, Code::ALL);
}

// ---------------------------------------------------------------------------------------
// Scope.

fn scoped(code: Code, scope: Scope) -> Policy {
    let mut policy = policy(code, &[]);
    policy.principles[0].scope = scope;
    policy
}

#[test]
fn scope_limits_rules_on_facts() {
    let services = vec![
        ServiceFacts {
            domain: None,
            lifecycle: Some("experimental".into()),
            ..healthy("lab")
        },
        ServiceFacts {
            domain: None,
            ..healthy("shop")
        },
    ];
    let report = report(vec![]);
    let policy = scoped(
        Code::Context001,
        Scope {
            lifecycles: vec!["production".into()],
            ..Scope::default()
        },
    );
    let evaluation = evaluate(&policy, &inputs(&report, services), now());
    let subjects: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|f| f.subject.as_str())
        .collect();
    assert_eq!(subjects, ["shop"]);
    // Out of scope: no rule applies, so no level either.
    let lab = evaluation.scorecard("lab").unwrap();
    assert!(lab.rules.is_empty() && lab.principles.is_empty());
    assert_eq!(lab.level, Level::None);
    assert_eq!(evaluation.scorecard("shop").unwrap().level, Level::None);
}

#[test]
fn an_observation_is_in_scope_when_any_responsible_service_is() {
    let services = vec![
        ServiceFacts {
            domain: Some("sales".into()),
            ..healthy("a")
        },
        ServiceFacts {
            domain: Some("billing".into()),
            ..healthy("b")
        },
    ];
    let report = report(vec![
        cycle(&["a", "b"], true, true),
        cycle(&["b", "x"], true, true),
        cycle(&["x", "y"], true, true),
    ]);
    let policy = scoped(
        Code::Cycle001,
        Scope {
            domains: vec!["sales".into()],
            ..Scope::default()
        },
    );
    let evaluation = evaluate(&policy, &inputs(&report, services), now());
    let subjects: Vec<&str> = evaluation
        .findings
        .iter()
        .map(|f| f.subject.as_str())
        .collect();
    // `x` and `y` are not in the catalog: out of any narrowed scope.
    assert_eq!(subjects, ["cycle:a>b>a"]);
    // It counts against `a` (in scope), not `b` (out of it).
    assert_eq!(
        evaluation.scorecard("a").unwrap().rules[0].outcome,
        Outcome::Fail
    );
    assert!(evaluation.scorecard("b").unwrap().rules.is_empty());

    // With an empty scope, unregistered services are judged too.
    let everywhere = policy_all(Code::Cycle001);
    let evaluation = evaluate(&everywhere, &inputs(&report, vec![]), now());
    assert_eq!(evaluation.findings.len(), 3);
}

fn policy_all(code: Code) -> Policy {
    policy(code, &[])
}

#[test]
fn scope_by_team_and_system() {
    let services = vec![
        healthy("a"),
        ServiceFacts {
            owner: Some("team-b".into()),
            ..healthy("b")
        },
        ServiceFacts {
            system: None,
            ..healthy("c")
        },
    ];
    let report = report(vec![]);
    let policy = scoped(
        Code::Semver001,
        Scope {
            teams: vec!["team-a".into()],
            systems: vec!["shop".into()],
            ..Scope::default()
        },
    );
    let evaluation = evaluate(&policy, &inputs(&report, services), now());
    let applies: Vec<&str> = evaluation
        .scorecards
        .iter()
        .filter(|s| !s.rules.is_empty())
        .map(|s| s.service.as_str())
        .collect();
    assert_eq!(applies, ["a"]);
}

// ---------------------------------------------------------------------------------------
// Waivers.

fn waiver(code: Code, object: &str, expires: &str, source: WaiverSource) -> Waiver {
    Waiver::new(code.as_str(), object, "Accepted.", "jane", expires, source).unwrap()
}

#[test]
fn waivers_apply_by_service_or_observation_id() {
    let report = report(vec![
        cycle(&["a", "b"], true, true),
        cycle(&["c", "d"], true, true),
        cycle(&["e", "f"], true, true),
    ]);
    let mut policy = policy(Code::Cycle001, &[]);
    policy.waivers = vec![
        waiver(Code::Cycle001, "b", "2025-12-31", WaiverSource::Policy),
        waiver(
            Code::Cycle001,
            "cycle:c>d>c",
            "2025-12-31",
            WaiverSource::Policy,
        ),
        // Wrong object: names no service of any finding.
        waiver(
            Code::Cycle001,
            "cycle:e>f",
            "2025-12-31",
            WaiverSource::Policy,
        ),
        // Wrong code.
        waiver(Code::Hub001, "e", "2025-12-31", WaiverSource::Policy),
    ];
    let evaluation = evaluate(&policy, &inputs(&report, vec![]), now());
    let waived: Vec<(&str, bool)> = evaluation
        .findings
        .iter()
        .map(|f| (f.subject.as_str(), f.is_waived()))
        .collect();
    assert_eq!(
        waived,
        [
            ("cycle:a>b>a", true),
            ("cycle:c>d>c", true),
            ("cycle:e>f>e", false)
        ]
    );
    let applied = evaluation.findings[0].waiver.as_ref().unwrap();
    assert_eq!(
        (
            applied.object.as_str(),
            applied.source,
            applied.author.as_str()
        ),
        ("b", WaiverSource::Policy, "jane")
    );
    let states: Vec<WaiverState> = evaluation.waivers.iter().map(|w| w.state).collect();
    assert_eq!(
        states,
        [
            WaiverState::Active,
            WaiverState::Active,
            WaiverState::Unused,
            WaiverState::Unused
        ]
    );
    assert_eq!(
        evaluation.waivers[0].findings,
        ["p/SEAM-CYCLE-001/cycle:a>b>a"]
    );
    assert_eq!(evaluation.totals.waived, 2);
    assert_eq!(evaluation.totals.error, 1);
    assert!(evaluation.fails_at(Severity::Error));
}

#[test]
fn an_expired_waiver_is_reported_not_applied() {
    let report = report(vec![hub("h", 9)]);
    let mut policy = policy(Code::Hub001, &[]);
    // Expires at the end of 2025-06-01 (UTC): applies at noon that day, not the next.
    policy.waivers = vec![waiver(
        Code::Hub001,
        "h",
        "2025-06-01",
        WaiverSource::Policy,
    )];
    let on_the_day = evaluate(&policy, &inputs(&report, vec![]), now());
    assert!(on_the_day.findings[0].is_waived());
    let next_day = now() + chrono::Duration::days(1);
    let evaluation = evaluate(&policy, &inputs(&report, vec![]), next_day);
    let finding = &evaluation.findings[0];
    assert!(!finding.is_waived());
    assert_eq!(finding.expired_waiver.as_ref().unwrap().object, "h");
    assert_eq!(evaluation.waivers[0].state, WaiverState::Expired);
    assert_eq!(
        evaluation.waivers[0].findings,
        std::slice::from_ref(&finding.id)
    );
    assert_eq!(policy.expired_waivers(next_day).count(), 1);
    assert_eq!(evaluation.totals.warning, 1);
    assert!(evaluation.fails_at(Severity::Warning) && !evaluation.fails_at(Severity::Error));
}

#[test]
fn api_waivers_apply_beside_the_policys() {
    let report = report(vec![hub("h", 9), hub("k", 9)]);
    let mut policy = policy(Code::Hub001, &[]);
    policy.waivers = vec![waiver(
        Code::Hub001,
        "h",
        "2025-07-01",
        WaiverSource::Policy,
    )];
    let inputs = Inputs {
        waivers: vec![
            waiver(Code::Hub001, "h", "2025-09-01", WaiverSource::Api),
            waiver(Code::Hub001, "k", "2025-01-01", WaiverSource::Api),
        ],
        ..inputs(&report, vec![])
    };
    let evaluation = evaluate(&policy, &inputs, now());
    // The one that expires last is shown.
    let h = evaluation.findings[0].waiver.as_ref().unwrap();
    assert_eq!(h.source, WaiverSource::Api);
    assert_eq!(
        h.expires,
        Utc.with_ymd_and_hms(2025, 9, 2, 0, 0, 0).unwrap()
    );
    // k's waiver expired in January.
    assert!(!evaluation.findings[1].is_waived());
    let sources: Vec<(WaiverSource, WaiverState)> = evaluation
        .waivers
        .iter()
        .map(|w| (w.waiver.source, w.state))
        .collect();
    assert_eq!(
        sources,
        [
            (WaiverSource::Policy, WaiverState::Active),
            (WaiverSource::Api, WaiverState::Active),
            (WaiverSource::Api, WaiverState::Expired)
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Scorecards and roll-ups.

/// OWNER-002 at bronze, CONTEXT-001 at silver, SEMVER-001 at gold, and METRICS-001 at
/// silver (judged only with runtime facts).
fn levelled() -> Policy {
    let text = "apiVersion: seam.dev/v1\nkind: Policy\nmetadata: {name: levels}\nspec:\n  principles:\n    - id: basics\n      title: Basics\n      rules:\n        - {code: SEAM-OWNER-002, level: bronze}\n        - {code: SEAM-CONTEXT-001, level: silver}\n        - {code: SEAM-METRICS-001, level: silver}\n        - {code: SEAM-SEMVER-001, level: gold}\n";
    parse_policy("levels.yaml", text).unwrap()
}

#[test]
fn scorecard_levels() {
    let services = vec![
        healthy("gold"),
        ServiceFacts {
            version: Some("latest".into()),
            observed_versions: vec![],
            ..healthy("silver")
        },
        ServiceFacts {
            domain: None,
            ..healthy("bronze")
        },
        ServiceFacts {
            lifecycle: None,
            ..healthy("none")
        },
        // Fails bronze only: a level needs every level below it.
        ServiceFacts {
            lifecycle: None,
            owner: Some("team-b".into()),
            ..healthy("none-b")
        },
        // Runtime rules not judged do not block a level.
        ServiceFacts {
            runtime: None,
            ..healthy("offline")
        },
    ];
    let report = report(vec![]);
    let evaluation = evaluate(&levelled(), &inputs(&report, services), now());
    let levels: Vec<(&str, Level)> = evaluation
        .scorecards
        .iter()
        .map(|s| (s.service.as_str(), s.level))
        .collect();
    assert_eq!(
        levels,
        [
            ("bronze", Level::Bronze),
            ("gold", Level::Gold),
            ("none", Level::None),
            ("none-b", Level::None),
            ("offline", Level::Gold),
            ("silver", Level::Silver),
        ]
    );
    let offline = evaluation.scorecard("offline").unwrap();
    assert_eq!(offline.not_judged, 1);
    assert_eq!(offline.rules[2].outcome, Outcome::NotJudged);
    let silver = evaluation.scorecard("silver").unwrap();
    assert_eq!(silver.findings.warning, 1);
    assert_eq!(
        silver.rules.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [Outcome::Pass, Outcome::Pass, Outcome::Pass, Outcome::Fail]
    );
    assert_eq!(silver.principles[0].outcome, Outcome::Fail);
    assert_eq!(
        evaluation.scorecard("gold").unwrap().principles[0].outcome,
        Outcome::Pass
    );
}

#[test]
fn a_waived_finding_counts_as_passing() {
    let services = vec![ServiceFacts {
        domain: None,
        ..healthy("a")
    }];
    let report = report(vec![]);
    let mut policy = levelled();
    policy.waivers = vec![waiver(
        Code::Context001,
        "a",
        "2026-01-01",
        WaiverSource::Policy,
    )];
    let evaluation = evaluate(&policy, &inputs(&report, services), now());
    let card = evaluation.scorecard("a").unwrap();
    assert_eq!(card.level, Level::Gold);
    assert_eq!(card.rules[1].outcome, Outcome::Waived);
    assert_eq!(card.principles[0].outcome, Outcome::Waived);
    assert_eq!(card.findings.waived, 1);
}

#[test]
fn the_level_is_capped_by_the_rules_that_apply() {
    // Only bronze rules: bronze is the most a service can reach.
    let report = report(vec![]);
    let evaluation = evaluate(
        &policy(Code::Owner002, &[]),
        &inputs(&report, vec![healthy("a")]),
        now(),
    );
    assert_eq!(evaluation.scorecard("a").unwrap().level, Level::Bronze);
}

#[test]
fn roll_ups_per_team_and_domain() {
    let services = vec![
        healthy("a1"),
        ServiceFacts {
            domain: None,
            ..healthy("a2")
        },
        ServiceFacts {
            owner: Some("team-b".into()),
            version: Some("latest".into()),
            observed_versions: vec![],
            ..healthy("b1")
        },
        ServiceFacts {
            owner: None,
            lifecycle: None,
            ..healthy("orphan")
        },
    ];
    let report = report(vec![]);
    let evaluation = evaluate(&levelled(), &inputs(&report, services), now());
    let teams: Vec<(Option<&str>, usize, Level, LevelCounts)> = evaluation
        .teams
        .iter()
        .map(|t| (t.name.as_deref(), t.services, t.worst, t.levels))
        .collect();
    assert_eq!(
        teams,
        [
            (
                Some("team-a"),
                2,
                Level::Bronze,
                LevelCounts {
                    bronze: 1,
                    gold: 1,
                    ..LevelCounts::default()
                }
            ),
            (
                Some("team-b"),
                1,
                Level::Silver,
                LevelCounts {
                    silver: 1,
                    ..LevelCounts::default()
                }
            ),
            (
                None,
                1,
                Level::None,
                LevelCounts {
                    none: 1,
                    ..LevelCounts::default()
                }
            ),
        ]
    );
    assert_eq!(evaluation.teams[0].findings.warning, 1);
    let domains: Vec<(Option<&str>, usize)> = evaluation
        .domains
        .iter()
        .map(|d| (d.name.as_deref(), d.services))
        .collect();
    assert_eq!(domains, [(Some("sales"), 3), (None, 1)]);
    assert_eq!(evaluation.domains[1].worst, Level::Bronze);
}

#[test]
fn a_rule_in_two_principles_gives_two_findings() {
    let text = "apiVersion: seam.dev/v1\nkind: Policy\nmetadata: {name: twice}\nspec:\n  principles:\n    - id: everyone\n      title: Everyone\n      rules: [{code: SEAM-HUB-001, severity: info}]\n    - id: production\n      title: Production\n      scope: {lifecycles: [production]}\n      rules: [{code: SEAM-HUB-001, severity: error, level: silver}]\n";
    let policy = parse_policy("twice.yaml", text).unwrap();
    let report = report(vec![hub("h", 9)]);
    let evaluation = evaluate(&policy, &inputs(&report, vec![healthy("h")]), now());
    let ids: Vec<(&str, Severity)> = evaluation
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f.severity))
        .collect();
    assert_eq!(
        ids,
        [
            ("production/SEAM-HUB-001/hub:h", Severity::Error),
            ("everyone/SEAM-HUB-001/hub:h", Severity::Info)
        ]
    );
    assert_eq!(evaluation.scorecard("h").unwrap().rules.len(), 2);
}

// ---------------------------------------------------------------------------------------
// The default policy, end to end through the real analysis.

#[test]
fn the_default_policy_evaluates_on_an_analysed_fleet() {
    use seam_analysis::{analyse, Edge, Model, Node, Thresholds};
    let node = |name: &str, owner: &str, domain: &str| Node {
        owner: Some(owner.into()),
        domain: Some(domain.into()),
        ..Node::service(name)
    };
    let mut model = Model {
        nodes: vec![
            node("orders", "team-a", "sales"),
            node("payments", "team-b", "billing"),
            node("stock", "team-a", "sales"),
        ],
        window_seconds: 900.0,
        ..Model::default()
    };
    // orders <-> payments, synchronous, declared and observed: a cycle across contexts.
    for (caller, callee) in [("orders", "payments"), ("payments", "orders")] {
        let mut edge = Edge::declared(caller, callee, Mode::Sync);
        edge.observed = true;
        edge.calls = 900.0;
        model.edges.push(edge);
    }
    // orders -> stock observed only: drift.
    model
        .edges
        .push(Edge::observed("orders", "stock", Mode::Sync, 90.0));
    let report = analyse(&model, &Thresholds::default());
    let facts = vec![
        healthy("orders"),
        ServiceFacts {
            owner: Some("team-b".into()),
            domain: Some("billing".into()),
            runtime: None,
            ..healthy("payments")
        },
        ServiceFacts {
            lifecycle: Some("beta".into()),
            ..healthy("stock")
        },
    ];
    let evaluation = evaluate(&crate::default_policy(), &inputs(&report, facts), now());
    let codes: BTreeSet<(Code, &str)> = evaluation
        .findings
        .iter()
        .map(|f| (f.code, f.subject.as_str()))
        .collect();
    for expected in [
        (Code::Cycle001, "cycle:orders>payments>orders"),
        (Code::Context002, "context_crossing:orders>payments"),
        (Code::Context002, "context_crossing:payments>orders"),
        (Code::Drift001, "observed_not_declared:orders>stock"),
        (Code::Owner002, "stock"),
    ] {
        assert!(codes.contains(&expected), "{expected:?} not in {codes:#?}");
    }
    // Errors first.
    assert_eq!(evaluation.findings[0].severity, Severity::Error);
    assert_eq!(evaluation.worst(), Some(Severity::Error));
    let levels: Vec<Level> = evaluation.scorecards.iter().map(|s| s.level).collect();
    // orders and payments are in a synchronous cycle (bronze fails); stock's lifecycle too.
    assert_eq!(levels, [Level::None, Level::None, Level::None]);
    // payments has no runtime facts: its monitoring rules are not judged.
    assert_eq!(evaluation.scorecard("payments").unwrap().not_judged, 3);
    let json = serde_json::to_value(&evaluation).unwrap();
    assert_eq!(json["findings"][0]["code"], "SEAM-CYCLE-001");
    assert_eq!(json["findings"][0]["evidence"]["type"], "observation");
    assert_eq!(json["findings"][0]["evidence"]["evidence"]["type"], "cycle");
    assert_eq!(json["scorecards"][0]["level"], "none");
    // Deterministic: the same inputs give the same evaluation.
    let again = evaluate(
        &crate::default_policy(),
        &inputs(&report, evaluation_facts(&evaluation)),
        now(),
    );
    assert_eq!(again.findings.len(), evaluation.findings.len());
}

/// The facts again, for the determinism check (the evaluation keeps none).
fn evaluation_facts(evaluation: &Evaluation) -> Vec<ServiceFacts> {
    evaluation
        .scorecards
        .iter()
        .map(|s| match s.service.as_str() {
            "payments" => ServiceFacts {
                owner: Some("team-b".into()),
                domain: Some("billing".into()),
                runtime: None,
                ..healthy("payments")
            },
            "stock" => ServiceFacts {
                lifecycle: Some("beta".into()),
                ..healthy("stock")
            },
            other => healthy(other),
        })
        .collect()
}

#[test]
fn offline_without_traces_rules_that_need_them_are_not_judged() {
    let report = report(vec![]);
    let services = vec![ServiceFacts {
        runtime: None,
        propagation: None,
        ..healthy("a")
    }];
    let evaluation = evaluate(
        &crate::default_policy(),
        &Inputs {
            traced: false,
            ..inputs(&report, services)
        },
        now(),
    );
    let card = evaluation.scorecard("a").unwrap();
    let not_judged: Vec<Code> = card
        .rules
        .iter()
        .filter(|r| r.outcome == Outcome::NotJudged)
        .map(|r| r.code)
        .collect();
    assert_eq!(
        not_judged,
        [
            Code::Chatty001,
            Code::Metrics002,
            Code::Health001,
            Code::Metrics001,
            Code::Trace001,
            Code::Drift001,
            Code::Drift002
        ]
    );
    assert_eq!(card.level, Level::Gold);
    assert!(evaluation.findings.is_empty());
}

#[test]
fn findings_display_for_the_command_line() {
    let report = report(vec![hub("h", 9)]);
    let mut policy = policy(Code::Hub001, &[]);
    policy.waivers = vec![waiver(Code::Hub001, "h", "2025-12-31", WaiverSource::Api)];
    let evaluation = evaluate(&policy, &inputs(&report, vec![]), now());
    assert_eq!(
        evaluation.findings[0].to_string(),
        "warning SEAM-HUB-001 h: h calls 9 distinct services; the policy allows at most 5 (waived until 2026-01-01T00:00:00+00:00 by jane: Accepted.)"
    );
    assert_eq!(evaluation.findings_about("h").count(), 1);
    assert_eq!(evaluation.findings_about("x").count(), 0);
}

// ---------------------------------------------------------------------------------------
// Never a panic.

mod properties {
    use super::*;
    use proptest::prelude::*;

    const NAMES: &[&str] = &["a", "b", "c", "d", ""];

    fn name() -> impl Strategy<Value = String> {
        proptest::sample::select(NAMES).prop_map(str::to_owned)
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(name(), 0..4)
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), 0.0..1e7f64]
    }

    fn evidence() -> impl Strategy<Value = Evidence> {
        prop_oneof![
            (any::<bool>(), any::<bool>(), 0usize..5).prop_map(|(sync, observed, size)| {
                Evidence::Cycle {
                    sync,
                    declared: true,
                    observed,
                    component: size,
                    component_size: size,
                }
            }),
            (proptest::option::of(float()), float()).prop_map(|(mean, minute)| {
                Evidence::Chatty {
                    calls_per_request_mean: mean,
                    calls_per_request_p50: None,
                    calls_per_request_p95: mean,
                    calls_per_request_max_bound: None,
                    requests: 1.0,
                    distribution: Vec::new(),
                    calls_per_minute: minute,
                    threshold_calls_per_request: 10.0,
                    threshold_calls_per_minute: 6000.0,
                }
            }),
            (0usize..20).prop_map(|fan_out| Evidence::Hub {
                fan_in: 0,
                fan_out,
                betweenness: 0.0,
                betweenness_exact: true,
                samples: 0,
            }),
            (0usize..20).prop_map(|depth| Evidence::Chain {
                depth,
                through_cycle: false,
            }),
            (name(), names(), names()).prop_map(|(datastore, owners, domains)| {
                Evidence::SharedDatastore {
                    datastore,
                    users: owners
                        .iter()
                        .map(|o| DatastoreUser {
                            service: o.clone(),
                            owner: Some(o.clone()),
                            domain: None,
                            declared: true,
                            observed: true,
                        })
                        .collect(),
                    owners,
                    domains,
                }
            }),
            (name(), name()).prop_map(|(from, to)| Evidence::ContextCrossing {
                from_domain: from,
                to_domain: to,
                calls_per_second: 1.0,
            }),
            float().prop_map(|rate| Evidence::Drift {
                calls_per_second: rate,
                window_seconds: 0.0,
            }),
            (name(), proptest::collection::vec(0u64..4, 0..4)).prop_map(|(environment, majors)| {
                Evidence::SeveralMajors {
                    environment,
                    majors,
                    versions: Vec::new(),
                }
            }),
            (name(), name(), name()).prop_map(|(environment, consumer, provider)| {
                Evidence::RangeMismatch {
                    environment,
                    consumer,
                    provider,
                    api: None,
                    range: "^1".into(),
                    rejected: Vec::new(),
                }
            }),
        ]
    }

    fn observation() -> impl Strategy<Value = Observation> {
        (
            proptest::sample::select(Kind::ALL.to_vec()),
            name(),
            names(),
            evidence(),
        )
            .prop_map(|(kind, id, services, evidence)| Observation {
                kind,
                id,
                summary: String::new(),
                services,
                edges: Vec::new(),
                evidence,
            })
    }

    fn facts() -> impl Strategy<Value = ServiceFacts> {
        (
            name(),
            proptest::option::of(name()),
            proptest::option::of(name()),
            proptest::option::of(proptest::sample::select(vec![
                "1.0.0",
                "v2",
                "latest",
                "",
                "1.2.3-rc.1",
            ])),
            proptest::option::of((
                any::<bool>(),
                proptest::option::of(any::<bool>()),
                proptest::option::of(names()),
                proptest::option::of(any::<bool>()),
            )),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(name, owner, domain, version, runtime, broken)| ServiceFacts {
                    owner,
                    lifecycle: domain.clone(),
                    domain,
                    version: version.map(str::to_owned),
                    runtime: runtime.map(|(scraped, up, lacking, health)| RuntimeFacts {
                        scraped,
                        up,
                        metrics_lacking: lacking,
                        health_up: health,
                    }),
                    propagation: broken.map(|broken| PropagationFacts {
                        broken: if broken {
                            vec![BrokenPropagation {
                                side: Side::Outgoing,
                                spans: 0,
                                roots: 0,
                                example_trace_ids: Vec::new(),
                            }]
                        } else {
                            Vec::new()
                        },
                    }),
                    ..ServiceFacts::new(&name)
                },
            )
    }

    fn scope() -> impl Strategy<Value = Scope> {
        (names(), names()).prop_map(|(domains, teams)| Scope {
            domains,
            teams,
            ..Scope::default()
        })
    }

    fn rule() -> impl Strategy<Value = RuleConfig> {
        (
            proptest::sample::select(Code::ALL.to_vec()),
            proptest::sample::select(Level::ALL.to_vec()),
            proptest::sample::select(Severity::ALL.to_vec()),
        )
            .prop_map(|(code, level, severity)| RuleConfig {
                // Hand-built configurations may hold what the parser refuses
                // (level none, no parameters at all).
                params: if level == Level::None {
                    Params::default()
                } else {
                    Params::defaults(code)
                },
                code,
                level,
                severity,
            })
    }

    fn principle() -> impl Strategy<Value = Principle> {
        (name(), scope(), proptest::collection::vec(rule(), 0..6)).prop_map(|(id, scope, rules)| {
            Principle {
                id,
                title: String::new(),
                description: None,
                scope,
                rules,
            }
        })
    }

    fn waivers() -> impl Strategy<Value = Vec<Waiver>> {
        proptest::collection::vec(
            (
                proptest::sample::select(Code::ALL.to_vec()),
                name(),
                -3i64..3,
                any::<bool>(),
            )
                .prop_map(|(code, object, days, api)| Waiver {
                    code,
                    object,
                    reason: String::new(),
                    author: String::new(),
                    expires: now() + chrono::Duration::days(days),
                    source: if api {
                        WaiverSource::Api
                    } else {
                        WaiverSource::Policy
                    },
                }),
            0..6,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn evaluation_never_panics_and_is_deterministic(
            observations in proptest::collection::vec(observation(), 0..12),
            services in proptest::collection::vec(facts(), 0..6),
            principles in proptest::collection::vec(principle(), 0..4),
            policy_waivers in waivers(),
            api_waivers in waivers(),
            teams in proptest::option::of(names()),
            traced in any::<bool>(),
        ) {
            let report = Report { observations, ..Report::default() };
            let policy = Policy {
                principles,
                waivers: policy_waivers,
                ..Policy::empty("random")
            };
            let inputs = Inputs {
                services,
                report: &report,
                versions: None,
                teams,
                traced,
                waivers: api_waivers,
            };
            let first = evaluate(&policy, &inputs, now());
            let second = evaluate(&policy, &inputs, now());
            // Compared as JSON: evidence may hold NaN, which is not equal to itself.
            let json = serde_json::to_string(&first).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&second).unwrap());
            // Findings in order, ids unique.
            let keys: Vec<_> = first
                .findings
                .iter()
                .map(|f| (std::cmp::Reverse(f.severity), f.code, f.subject.clone(), f.principle.clone()))
                .collect();
            let mut sorted = keys.clone();
            sorted.sort();
            prop_assert_eq!(keys, sorted);
            let ids: BTreeSet<&str> = first.findings.iter().map(|f| f.id.as_str()).collect();
            prop_assert_eq!(ids.len(), first.findings.len());
            // Scorecards by name, one per service name; roll-ups cover them all.
            let names: Vec<&str> = first.scorecards.iter().map(|s| s.service.as_str()).collect();
            let mut unique_names = names.clone();
            unique_names.sort();
            unique_names.dedup();
            prop_assert_eq!(&names, &unique_names);
            let teamed: usize = first.teams.iter().map(|t| t.services).sum();
            prop_assert_eq!(teamed, first.scorecards.len());
            prop_assert_eq!(first.waivers.len(), policy.waivers.len() + inputs.waivers.len());
            for card in &first.scorecards {
                // A failing bronze rule means level none.
                let bronze_fails = card
                    .rules
                    .iter()
                    .any(|r| r.level <= Level::Bronze && r.outcome == Outcome::Fail);
                if bronze_fails {
                    prop_assert_eq!(card.level, Level::None);
                }
            }
        }
    }
}
