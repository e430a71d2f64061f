//! The version matrix, its observations, and the can-deploy and can-retire answers.

use std::collections::BTreeMap;

use proptest::prelude::*;
use seam_analysis::versions::{
    can_deploy, can_retire, matrix, normalise_version, observations, parse_version, Answer,
    ProviderVersions, Range, Source, Verdict, VersionMatrix,
};
use seam_analysis::{
    Edge, Evidence, Kind, Mode, Model, Release, Requirement, VersionedCalls, DEFAULT_ENVIRONMENT,
};

fn call(env: &str, caller: &str, cv: &str, callee: &str, pv: &str, calls: f64) -> VersionedCalls {
    let version = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    VersionedCalls {
        environment: env.to_owned(),
        caller: caller.to_owned(),
        caller_version: version(cv),
        callee: callee.to_owned(),
        callee_version: version(pv),
        calls,
    }
}

fn release(service: &str, version: &str, apis: &[(&str, Option<&str>)]) -> Release {
    Release {
        service: service.to_owned(),
        version: version.to_owned(),
        apis: apis
            .iter()
            .map(|(a, v)| (a.to_string(), v.map(str::to_owned)))
            .collect(),
    }
}

fn requires(consumer: &str, provider: &str, api: Option<&str>, range: Option<&str>) -> Requirement {
    Requirement {
        consumer: consumer.to_owned(),
        provider: provider.to_owned(),
        api: api.map(str::to_owned),
        range: range.map(str::to_owned),
    }
}

fn model(
    calls: Vec<VersionedCalls>,
    manifest: &[(&str, &str)],
    releases: Vec<Release>,
    requirements: Vec<Requirement>,
) -> Model {
    Model {
        window_seconds: 100.0,
        calls,
        manifest_versions: manifest
            .iter()
            .map(|(s, v)| (s.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        releases,
        requirements,
        ..Model::default()
    }
}

fn row<'m>(m: &'m VersionMatrix, env: &str, service: &str) -> &'m ProviderVersions {
    m.environment(env)
        .unwrap_or_else(|| panic!("no environment {env}"))
        .provider(service)
        .unwrap_or_else(|| panic!("no row {service} in {env}"))
}

fn versions(row: &ProviderVersions) -> Vec<&str> {
    row.versions.iter().map(|v| v.version.as_str()).collect()
}

fn blocking(answer: &Answer) -> Vec<(Option<&str>, &str)> {
    answer
        .reasons
        .iter()
        .filter(|r| r.blocking)
        .map(|r| (r.consumer.as_deref(), r.message.as_str()))
        .collect()
}

/// prod: payments 1.4.0 and 2.0.0 (orders 3.0.0 calls both), staging: payments 2.0.0;
/// ledger has a manifest and no span data.
fn two_environments() -> Model {
    model(
        vec![
            call("prod", "orders", "3.0.0", "payments", "1.4.0", 300.0),
            call("prod", "orders", "3.0.0", "payments", "2.0.0", 100.0),
            call("prod", "checkout", "1.0.0", "payments", "2.0.0", 600.0),
            call("staging", "orders", "3.1.0", "payments", "2.0.0", 50.0),
        ],
        &[
            ("payments", "2.0.0"),
            ("orders", "3.1.0"),
            ("ledger", "0.9.0"),
        ],
        vec![
            release("payments", "1.4.0", &[("payments-api", Some("1.3.0"))]),
            release("payments", "2.0.0", &[("payments-api", Some("2.0.0"))]),
        ],
        vec![requires("orders", "payments", None, Some(">=1.4, <3"))],
    )
}

#[test]
fn matrix_per_environment_with_shares_summing_to_one() {
    let m = matrix(&two_environments());
    let envs: Vec<&str> = m
        .environments
        .iter()
        .map(|e| e.environment.as_str())
        .collect();
    assert_eq!(envs, ["default", "prod", "staging"]);
    assert_eq!(m.window_seconds, 100.0);

    let prod = row(&m, "prod", "payments");
    assert_eq!(versions(prod), ["2.0.0", "1.4.0"]);
    assert_eq!(prod.majors, [2, 1]);
    assert_eq!(prod.calls, 1000.0);
    assert_eq!(prod.unversioned_calls, 0.0);
    assert_eq!(prod.manifest_version.as_deref(), Some("2.0.0"));
    let shares: Vec<f64> = prod.versions.iter().map(|v| v.share.unwrap()).collect();
    assert_eq!(shares, [0.7, 0.3]);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let v2 = prod.version("v2.0.0").unwrap();
    assert!(v2.declared && v2.observed && v2.semver);
    assert_eq!(v2.source, Source::Callee);
    assert_eq!(v2.calls, 700.0);
    let apis = v2.apis.as_ref().unwrap();
    assert_eq!(apis[0].api, "payments-api");
    assert_eq!(apis[0].version.as_deref(), Some("2.0.0"));
    assert!(!prod.version("1.4.0").unwrap().declared);

    // Consumers: checkout (observed, no requirement) and orders (declared), by name.
    let names: Vec<&str> = prod.consumers.iter().map(|c| c.consumer.as_str()).collect();
    assert_eq!(names, ["checkout", "orders"]);
    let checkout = &prod.consumers[0];
    assert!(!checkout.declared && checkout.observed);
    assert_eq!(checkout.range, None);
    assert!(checkout
        .verdicts
        .iter()
        .all(|v| v.verdict == Verdict::NoRange));
    assert_eq!(checkout.calls_per_second, 6.0);
    let orders = &prod.consumers[1];
    assert!(orders.declared && orders.observed);
    assert_eq!(orders.versions, ["3.0.0"]);
    assert_eq!(orders.range.as_deref(), Some(">=1.4, <3"));
    assert_eq!(orders.calls.len(), 2);
    assert_eq!(orders.calls[0].provider_version.as_deref(), Some("2.0.0"));
    assert_eq!(orders.calls[0].calls_per_second, 1.0);
    assert_eq!(orders.calls[1].calls_per_second, 3.0);
    assert_eq!(orders.calls_per_second, 4.0);
    assert!(orders
        .verdicts
        .iter()
        .all(|v| v.verdict == Verdict::Accepted));
    assert_eq!(orders.mode, Mode::Sync);

    let staging = row(&m, "staging", "payments");
    assert_eq!(versions(staging), ["2.0.0"]);
    assert_eq!(staging.versions[0].share, Some(1.0));
    assert_eq!(staging.majors, [2]);
    // orders is only a caller in staging, but it has a manifest version: a row.
    let orders_staging = row(&m, "staging", "orders");
    assert_eq!(orders_staging.versions[0].source, Source::Caller);
    assert_eq!(orders_staging.versions[0].version, "3.1.0");
    assert_eq!(orders_staging.versions[0].calls, 0.0);
    assert_eq!(orders_staging.versions[0].calls_out, 50.0);
    assert_eq!(orders_staging.versions[0].share, Some(1.0));
    // checkout has no manifest version and is never called: no row.
    assert!(m
        .environment("prod")
        .unwrap()
        .provider("checkout")
        .is_none());
    // payments has span data, so it is not in default; ledger has none.
    let default = m.environment(DEFAULT_ENVIRONMENT).unwrap();
    let names: Vec<&str> = default
        .providers
        .iter()
        .map(|p| p.service.as_str())
        .collect();
    assert_eq!(names, ["ledger"]);

    let obs = observations(&m);
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].kind, Kind::SeveralMajors);
    assert_eq!(obs[0].id, "several_majors:prod:payments");
    assert_eq!(
        obs[0].summary,
        "payments runs 2 major versions at once in prod (majors 2 and 1): 2.0.0 (70% of its \
         calls) and 1.4.0 (30% of its calls)."
    );
    match &obs[0].evidence {
        Evidence::SeveralMajors {
            environment,
            majors,
            versions,
        } => {
            assert_eq!(environment, "prod");
            assert_eq!(majors, &[2, 1]);
            assert_eq!(versions, &["2.0.0", "1.4.0"]);
        }
        other => panic!("unexpected evidence {other:?}"),
    }

    // It serialises and reads back.
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"source\":\"callee\""));
    assert!(json.contains("\"type\":\"no_range\""));
    let back: VersionMatrix = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

#[test]
fn manifest_only_service_and_unversioned_calls() {
    let mut model = two_environments();
    // Spans into search name no version of it: its manifest version stands in.
    model
        .calls
        .push(call("prod", "orders", "3.0.0", "search", "", 20.0));
    model
        .manifest_versions
        .insert("search".into(), "v5.2.0".into());
    let m = matrix(&model);

    let ledger = row(&m, DEFAULT_ENVIRONMENT, "ledger");
    assert_eq!(ledger.versions.len(), 1);
    let v = &ledger.versions[0];
    assert_eq!(v.version, "0.9.0");
    assert_eq!(v.source, Source::Manifest);
    assert_eq!(v.share, None);
    assert!(v.declared && !v.observed);
    assert_eq!(v.apis, None);
    assert!(ledger.consumers.is_empty());

    let search = row(&m, "prod", "search");
    assert_eq!(versions(search), ["5.2.0"]);
    assert_eq!(search.versions[0].source, Source::Manifest);
    assert!(search.versions[0].declared);
    assert_eq!(search.calls, 20.0);
    assert_eq!(search.unversioned_calls, 20.0);
    assert_eq!(search.consumers[0].calls[0].provider_version, None);
    assert_eq!(search.consumers[0].calls[0].calls_per_second, 0.2);
}

#[test]
fn v_prefixes_and_opaque_versions() {
    assert_eq!(
        parse_version(" v2.1.0 "),
        Some(semver::Version::new(2, 1, 0))
    );
    assert_eq!(parse_version("V1.0.0-rc.1").unwrap().pre.as_str(), "rc.1");
    assert_eq!(parse_version("2024-11-03"), None);
    assert_eq!(parse_version("1.2"), None);
    assert_eq!(parse_version("version"), None);
    assert_eq!(normalise_version("v2.1.0").as_deref(), Some("2.1.0"));
    assert_eq!(normalise_version(" abc123 ").as_deref(), Some("abc123"));
    assert_eq!(normalise_version("  "), None);

    let model = model(
        vec![
            call("prod", "web", "", "api", "v2.0.0", 10.0),
            call("prod", "web", "", "api", "2.0.0", 30.0),
            call("prod", "web", "", "api", "abc123", 20.0),
            call("prod", "web", "", "api", "2024-11-03", 20.0),
            call("prod", "web", "", "api", "10.0.0", 20.0),
        ],
        &[("api", "v2.0.0")],
        vec![],
        vec![requires("web", "api", None, Some("^2"))],
    );
    let m = matrix(&model);
    let api = row(&m, "prod", "api");
    assert_eq!(versions(api), ["10.0.0", "2.0.0", "2024-11-03", "abc123"]);
    assert_eq!(api.version("2.0.0").unwrap().calls, 40.0);
    assert_eq!(api.version("2.0.0").unwrap().share, Some(0.4));
    assert!(api.version("2.0.0").unwrap().declared);
    assert!(!api.version("abc123").unwrap().semver);
    // Opaque versions count in no major.
    assert_eq!(api.majors, [10, 2]);
    let verdicts: Vec<&Verdict> = api.consumers[0]
        .verdicts
        .iter()
        .map(|v| &v.verdict)
        .collect();
    assert_eq!(
        verdicts,
        [
            &Verdict::Rejected,
            &Verdict::Accepted,
            &Verdict::NotSemver {
                version: "2024-11-03".into()
            },
            &Verdict::NotSemver {
                version: "abc123".into()
            },
        ]
    );
    // web's unversioned calls are kept as such.
    assert!(api.consumers[0]
        .calls
        .iter()
        .all(|c| c.consumer_version.is_none()));
    let obs = observations(&m);
    let mismatch = obs
        .iter()
        .find(|o| o.kind == Kind::RangeMismatch)
        .expect("web calls 10.0.0, which ^2 rejects");
    assert_eq!(mismatch.id, "range_mismatch:prod:web>api");
    assert_eq!(
        mismatch.summary,
        "web declares range \"^2\" on api, which rejects api 10.0.0; web calls it in prod at \
         0.2 calls per second."
    );
}

#[test]
fn ranges_read_cargo_and_npm_spellings() {
    let v = |s: &str| semver::Version::parse(s).unwrap();
    let accepts = |range: &str, version: &str| Range::parse(range).unwrap().matches(&v(version));
    assert!(accepts("^2.1", "2.9.0"));
    assert!(!accepts("^2.1", "3.0.0"));
    assert!(accepts(">=1.0, <3", "2.5.1"));
    assert!(accepts(">=1.0 <3", "2.5.1"));
    assert!(!accepts(">=1.0 <3", "3.0.0"));
    assert!(accepts(">= 1.0 < 3", "1.0.0"));
    assert!(!accepts(">= 1.0 < 3", "0.9.0"));
    assert!(accepts("~1.2", "1.2.7"));
    assert!(!accepts("~1.2", "1.3.0"));
    assert!(accepts("2.x", "2.4.0"));
    assert!(accepts("*", "7.0.0"));
    assert!(accepts("^v2", "2.0.1"));
    assert!(accepts("^1.2 || ^3", "3.4.0"));
    assert!(accepts("^1.2 || ^3", "1.9.0"));
    assert!(!accepts("^1.2 || ^3", "2.0.0"));
    assert!(accepts(">=1.0 <2 || >=3.1 <4", "3.2.0"));
    assert!(accepts("1.2.3 - 2.3", "2.3.9"));
    assert!(!accepts("1.2.3 - 2.3", "2.4.0"));
    assert!(!accepts("1.2.3 - 2.3", "1.2.2"));
    assert_eq!(
        Range::parse(">=1.0 <3").unwrap().alternatives()[0].to_string(),
        ">=1.0, <3"
    );
    assert!(Range::parse("").is_err());
    assert!(Range::parse("^1 ||").is_err());
    assert!(Range::parse(">=").is_err());
    assert!(Range::parse("1 - 2 - 3").is_err());
    let error = Range::parse("^1 || ^2.x.y").unwrap_err();
    assert!(
        error.starts_with("in the alternative \"^2.x.y\": "),
        "{error}"
    );
    assert!(Range::parse("latest").is_err());
}

/// payments 1.4.0 (payments-api 1.3.0) and 2.0.0 (payments-api 2.0.0) live in prod,
/// 2.1.0 live with no known release; orders requires payments-api ^1.
fn api_scoped() -> Model {
    let mut m = model(
        vec![
            call("prod", "orders", "3.0.0", "payments", "1.4.0", 100.0),
            call("prod", "orders", "3.0.0", "payments", "2.0.0", 50.0),
            call("prod", "audit", "1.0.0", "payments", "2.1.0", 50.0),
        ],
        &[("payments", "2.1.0"), ("orders", "3.0.0")],
        vec![
            release("payments", "1.4.0", &[("payments-api", Some("1.3.0"))]),
            release(
                "payments",
                "2.0.0",
                &[("payments-api", Some("v2.0.0")), ("refunds", None)],
            ),
        ],
        vec![
            requires("orders", "payments", Some("payments-api"), Some("^1")),
            requires("audit", "payments", Some("refunds"), Some("^1")),
        ],
    );
    m.edges
        .push(Edge::declared("orders", "payments", Mode::Async));
    m
}

#[test]
fn api_scoped_ranges_judge_the_api_version_of_the_release() {
    let m = matrix(&api_scoped());
    let payments = row(&m, "prod", "payments");
    assert_eq!(versions(payments), ["2.1.0", "2.0.0", "1.4.0"]);
    assert_eq!(payments.version("2.1.0").unwrap().apis, None);
    let orders = payments
        .consumers
        .iter()
        .find(|c| c.consumer == "orders")
        .unwrap();
    assert_eq!(orders.api.as_deref(), Some("payments-api"));
    assert_eq!(orders.mode, Mode::Async);
    let verdicts: Vec<(&str, Option<&str>, &Verdict)> = orders
        .verdicts
        .iter()
        .map(|v| {
            (
                v.provider_version.as_str(),
                v.checked_version.as_deref(),
                &v.verdict,
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                "2.1.0",
                None,
                &Verdict::UnknownApiVersion {
                    api: "payments-api".into(),
                    release_known: false
                }
            ),
            ("2.0.0", Some("2.0.0"), &Verdict::Rejected),
            ("1.4.0", Some("1.3.0"), &Verdict::Accepted),
        ]
    );
    let audit = payments
        .consumers
        .iter()
        .find(|c| c.consumer == "audit")
        .unwrap();
    // 2.0.0 provides refunds without a version; 1.4.0 does not provide it.
    assert_eq!(
        audit.verdicts[1].verdict,
        Verdict::UnknownApiVersion {
            api: "refunds".into(),
            release_known: true
        }
    );
    assert_eq!(
        audit.verdicts[2].verdict,
        Verdict::UnknownApiVersion {
            api: "refunds".into(),
            release_known: true
        }
    );

    let obs = observations(&m);
    let kinds: Vec<(&str, Kind)> = obs.iter().map(|o| (o.id.as_str(), o.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("several_majors:prod:payments", Kind::SeveralMajors),
            ("range_mismatch:prod:orders>payments", Kind::RangeMismatch),
        ]
    );
    let mismatch = &obs[1];
    assert_eq!(
        mismatch.summary,
        "orders declares range \"^1\" on API payments-api of payments, which rejects \
         payments 2.0.0 (payments-api 2.0.0); orders calls it in prod at 0.5 calls per second."
    );
    assert_eq!(mismatch.services, ["orders", "payments"]);
    assert_eq!(mismatch.edges[0].mode, Mode::Async);
    assert!(mismatch.edges[0].declared && mismatch.edges[0].observed);
    match &mismatch.evidence {
        Evidence::RangeMismatch {
            environment,
            consumer,
            provider,
            api,
            range,
            rejected,
        } => {
            assert_eq!(
                (environment.as_str(), consumer.as_str(), provider.as_str()),
                ("prod", "orders", "payments")
            );
            assert_eq!(api.as_deref(), Some("payments-api"));
            assert_eq!(range, "^1");
            assert_eq!(rejected, &["2.0.0"]);
        }
        other => panic!("unexpected evidence {other:?}"),
    }
}

#[test]
fn a_range_rejecting_every_live_version_is_a_mismatch_without_calls() {
    let model = model(
        vec![call("prod", "web", "1.0.0", "payments", "3.0.0", 10.0)],
        &[("payments", "3.0.0")],
        vec![],
        vec![requires("billing", "payments", None, Some("^2"))],
    );
    let m = matrix(&model);
    let obs = observations(&m);
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].id, "range_mismatch:prod:billing>payments");
    assert_eq!(
        obs[0].summary,
        "billing declares range \"^2\" on payments, which rejects every version of payments \
         live in prod: payments 3.0.0."
    );
    assert!(!obs[0].edges[0].observed);
    assert!(obs[0].edges[0].declared);
}

#[test]
fn backstage_requirements_without_ranges_observe_nothing() {
    let model = model(
        vec![
            call("prod", "web", "1.0.0", "payments", "1.0.0", 10.0),
            call("prod", "web", "1.0.0", "payments", "2.0.0", 10.0),
        ],
        &[("payments", "2.0.0")],
        vec![],
        vec![requires("web", "payments", None, None)],
    );
    let m = matrix(&model);
    let web = &row(&m, "prod", "payments").consumers[0];
    assert!(web.declared && web.observed && web.range.is_none());
    assert!(web.verdicts.iter().all(|v| v.verdict == Verdict::NoRange));
    assert_eq!(web.verdicts[0].verdict.label(), "no range declared");
    let obs = observations(&m);
    assert_eq!(obs.len(), 1);
    assert_eq!(obs[0].kind, Kind::SeveralMajors);
}

#[test]
fn unparsable_ranges_are_a_verdict() {
    let model = model(
        vec![call("prod", "web", "1.0.0", "payments", "2.0.0", 10.0)],
        &[],
        vec![],
        vec![requires("web", "payments", None, Some("^2.x.y"))],
    );
    let m = matrix(&model);
    let verdict = &row(&m, "prod", "payments").consumers[0].verdicts[0].verdict;
    assert!(
        matches!(verdict, Verdict::UnparsableRange { error } if !error.is_empty()),
        "{verdict:?}"
    );
    assert!(observations(&m).is_empty());
}

#[test]
fn can_deploy_accepts_when_every_range_does() {
    let answer = can_deploy(&two_environments(), "payments", "v2.3.0", "prod");
    assert!(answer.ok, "{answer:?}");
    assert_eq!(answer.version, "2.3.0");
    assert_eq!(answer.environment, "prod");
    let messages: Vec<&str> = answer.reasons.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "orders declares range \">=1.4, <3\" on payments, which accepts payments 2.3.0.",
            "checkout calls payments in prod (6 calls per second) but declares no range, so \
             Seam cannot check that it accepts 2.3.0.",
        ]
    );
}

#[test]
fn can_deploy_names_the_consumer_that_blocks() {
    let answer = can_deploy(&two_environments(), "payments", "3.0.0", "prod");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [(
            Some("orders"),
            "orders declares range \">=1.4, <3\" on payments, which rejects payments 3.0.0."
        )]
    );
    // Not a semantic version: blocking for a ranged consumer.
    let answer = can_deploy(&two_environments(), "payments", "2024-11-03", "prod");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [(
            Some("orders"),
            "orders declares range \">=1.4, <3\" on payments, and \"2024-11-03\" is not a \
             semantic version, so the range cannot be checked."
        )]
    );
}

#[test]
fn can_deploy_needs_the_release_for_api_ranges() {
    let model = api_scoped();
    let answer = can_deploy(&model, "payments", "3.0.0", "prod");
    assert!(!answer.ok);
    let blocked = blocking(&answer);
    assert_eq!(blocked.len(), 2);
    assert_eq!(blocked[0].0, Some("audit"));
    assert_eq!(
        blocked[1],
        (
            Some("orders"),
            "orders declares range \"^1\" on API payments-api of payments, and no release of \
             payments 3.0.0 is known; register the manifest of payments version 3.0.0 first so \
             the versions of its APIs are known."
        )
    );
    let answer = can_deploy(&model, "payments", "1.4.0", "prod");
    let orders: Vec<_> = answer
        .reasons
        .iter()
        .filter(|r| r.consumer.as_deref() == Some("orders"))
        .collect();
    assert!(!orders[0].blocking);
    assert_eq!(
        orders[0].message,
        "orders declares range \"^1\" on API payments-api of payments, which accepts payments \
         1.4.0 (API payments-api 1.3.0)."
    );
    // audit's refunds API is not provided by 1.4.0.
    assert_eq!(
        blocking(&answer),
        [(
            Some("audit"),
            "audit declares range \"^1\" on API refunds of payments, and the manifest of \
             payments 1.4.0 does not provide it, so the range cannot be checked."
        )]
    );
}

#[test]
fn can_deploy_blocks_on_an_unparsable_range() {
    let model = model(
        vec![],
        &[("payments", "2.0.0")],
        vec![],
        vec![requires("web", "payments", None, Some(">=2 <"))],
    );
    let answer = can_deploy(&model, "payments", "2.1.0", "prod");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [(
            Some("web"),
            "web declares range \">=2 <\" on payments, which Seam cannot read (the operator \
             \"<\" has no version after it); fix the range in the manifest of web."
        )]
    );
}

#[test]
fn can_deploy_without_ranges_and_for_unknown_services() {
    let model = model(
        vec![],
        &[("payments", "2.0.0")],
        vec![],
        vec![requires("web", "payments", None, None)],
    );
    let answer = can_deploy(&model, "payments", "9.0.0", "");
    assert!(answer.ok);
    assert_eq!(answer.environment, DEFAULT_ENVIRONMENT);
    let messages: Vec<&str> = answer.reasons.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "web depends on payments but declares no range, so Seam has nothing to check.",
            "No consumer declares a range on payments, so nothing blocks deploying payments \
             9.0.0 to default.",
        ]
    );

    let answer = can_deploy(&model, "nobody", "1.0.0", "prod");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [(
            None,
            "nobody is not known to Seam: no manifest, release, requirement or observed call \
             names it."
        )]
    );
    let answer = can_retire(&model, "nobody", "1.0.0", "prod");
    assert!(!answer.ok);
}

#[test]
fn can_retire_is_blocked_by_callers() {
    let answer = can_retire(&two_environments(), "payments", "2.0.0", "prod");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [
            (
                Some("checkout"),
                "checkout 1.0.0 still calls payments 2.0.0 in prod: 6 calls per second over \
                 the window."
            ),
            (
                Some("orders"),
                "orders 3.0.0 still calls payments 2.0.0 in prod: 1 call per second over the \
                 window."
            ),
        ]
    );
    let others: Vec<&str> = answer
        .reasons
        .iter()
        .filter(|r| !r.blocking)
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(others, ["Other versions of payments live in prod: 1.4.0."]);
}

#[test]
fn can_retire_the_only_live_version_with_declared_consumers() {
    let mut model = two_environments();
    model.calls.retain(|c| c.environment != "staging");
    model
        .calls
        .push(call("staging", "payments", "2.0.0", "ledger", "1.0.0", 5.0));
    let answer = can_retire(&model, "payments", "2.0.0", "staging");
    assert!(!answer.ok);
    assert_eq!(
        blocking(&answer),
        [(
            None,
            "payments 2.0.0 is the only version of payments live in staging, and orders \
             declares a dependency on payments; retiring it leaves them nothing to call."
        )]
    );
    assert!(answer.reasons.iter().any(|r| !r.blocking
        && r.message
            == "No calls to payments 2.0.0 were observed in staging in the window; it is live \
                only making calls (0.05 calls per second over the window)."));

    // The manifest version stands in when no span names one, and unversioned calls reach it.
    let model = crate::model(
        vec![call("prod", "web", "", "payments", "", 10.0)],
        &[("payments", "2.0.0")],
        vec![],
        vec![],
    );
    let answer = can_retire(&model, "payments", "2.0.0", "prod");
    assert_eq!(
        blocking(&answer),
        [(
            Some("web"),
            "web (version not reported) calls payments in prod (0.1 calls per second); spans \
             there name no version of payments and its manifest declares 2.0.0, so these \
             calls reach 2.0.0."
        )]
    );
}

#[test]
fn can_retire_a_version_that_is_not_live() {
    let answer = can_retire(&two_environments(), "payments", "1.4.0", "staging");
    assert!(answer.ok, "{answer:?}");
    assert_eq!(
        answer.reasons[0].message,
        "No calls to payments 1.4.0 in the window; it is not live in staging (live there: \
         2.0.0)."
    );
    assert!(!answer.reasons[0].blocking);
}

#[test]
fn odd_figures_stay_finite() {
    let mut model = two_environments();
    model.window_seconds = f64::NAN;
    model.calls.push(call(
        "prod",
        "x",
        "1.0.0",
        "payments",
        "1.4.0",
        f64::INFINITY,
    ));
    model
        .calls
        .push(call("prod", "x", "1.0.0", "payments", "1.4.0", -5.0));
    model
        .calls
        .push(call("prod", "x", "1.0.0", "payments", "1.4.0", f64::MAX));
    model
        .calls
        .push(call("prod", "y", "1.0.0", "payments", "1.4.0", f64::MAX));
    let m = matrix(&model);
    assert!(serde_json::to_string(&m).is_ok());
    for env in &m.environments {
        for row in &env.providers {
            assert!(row.calls.is_finite());
            for v in &row.versions {
                assert!(v.calls.is_finite() && v.calls_out.is_finite());
                if let Some(s) = v.share {
                    assert!((0.0..=1.0).contains(&s));
                }
            }
            for c in &row.consumers {
                assert_eq!(c.calls_per_second, 0.0);
            }
        }
    }
}

fn arbitrary_model() -> impl Strategy<Value = Model> {
    let name = prop::sample::select(vec!["a", "b", "c", ""]);
    let version = prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "v?[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}(-[a-z0-9.]{1,5})?".prop_map(Some),
    ];
    let range = prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "[<>=~^ ]{0,3}v?[0-9x*]{1,2}(\\.[0-9x*]{1,2}){0,2}( *(,|\\|\\||-| ) *[<>=~^]{0,2}[0-9]{1,2}){0,3}"
            .prop_map(Some),
    ];
    let calls = (
        name.clone(),
        name.clone(),
        name.clone(),
        version.clone(),
        version.clone(),
        prop_oneof![any::<f64>(), 0.0..1000.0f64],
    )
        .prop_map(|(env, caller, callee, cv, pv, calls)| VersionedCalls {
            environment: env.to_owned(),
            caller: caller.to_owned(),
            caller_version: cv,
            callee: callee.to_owned(),
            callee_version: pv,
            calls,
        });
    let api = prop::option::of(prop::sample::select(vec!["x", "y"]));
    let requirement = (name.clone(), name.clone(), api.clone(), range).prop_map(
        |(consumer, provider, api, range)| Requirement {
            consumer: consumer.to_owned(),
            provider: provider.to_owned(),
            api: api.map(str::to_owned),
            range,
        },
    );
    let release = (
        name.clone(),
        any::<String>(),
        prop::collection::vec(
            (prop::sample::select(vec!["x", "y"]), version.clone()),
            0..3,
        ),
    )
        .prop_map(|(service, version, apis)| Release {
            service: service.to_owned(),
            version,
            apis: apis.into_iter().map(|(a, v)| (a.to_owned(), v)).collect(),
        });
    (
        prop::collection::vec(calls, 0..12),
        prop::collection::btree_map(name.prop_map(str::to_owned), any::<String>(), 0..3),
        prop::collection::vec(release, 0..4),
        prop::collection::vec(requirement, 0..6),
        any::<f64>(),
    )
        .prop_map(
            |(calls, manifest_versions, releases, requirements, window_seconds)| Model {
                calls,
                manifest_versions,
                releases,
                requirements,
                window_seconds,
                ..Model::default()
            },
        )
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_versions_and_ranges(
        model in arbitrary_model(),
        service in prop::sample::select(vec!["a", "b", "c", "zz"]),
        version in any::<String>(),
        env in prop::sample::select(vec!["a", "b", "", "default", "nowhere"]),
        range in any::<String>(),
    ) {
        let _ = Range::parse(&range);
        let _ = parse_version(&version);
        let m = matrix(&model);
        let obs = observations(&m);
        prop_assert!(serde_json::to_string(&m).is_ok());
        prop_assert!(serde_json::to_string(&obs).is_ok());
        for env in &m.environments {
            for row in &env.providers {
                let callee_shares: f64 = row
                    .versions
                    .iter()
                    .filter(|v| v.source == Source::Callee)
                    .filter_map(|v| v.share)
                    .sum();
                prop_assert!(callee_shares <= 1.0 + 1e-9);
                for c in &row.consumers {
                    prop_assert_eq!(c.verdicts.len(), row.versions.len());
                    prop_assert!(c.calls_per_second.is_finite());
                }
            }
        }
        let deploy = can_deploy(&model, service, &version, env);
        prop_assert_eq!(deploy.ok, !deploy.reasons.iter().any(|r| r.blocking));
        let retire = can_retire(&model, service, &version, env);
        prop_assert_eq!(retire.ok, !retire.reasons.iter().any(|r| r.blocking));
        prop_assert!(!retire.reasons.is_empty());
    }
}
