use super::*;
use chrono::TimeZone;

/// A policy with one principle whose rules are `rules` (YAML lines at rule-list indent),
/// and `rest` appended under `spec`.
fn policy_with(rules: &str, rest: &str) -> String {
    format!(
        "apiVersion: seam.dev/v1\nkind: Policy\nmetadata:\n  name: test\nspec:\n  principles:\n    - id: p\n      title: P\n      rules:\n{rules}{rest}"
    )
}

/// The errors of a text that must not parse, as `line:column path: message`.
fn errors(text: &str) -> Vec<String> {
    match parse_policy("policy.yaml", text) {
        Ok(policy) => panic!("parsed: {policy:?}"),
        Err(diagnostics) => diagnostics
            .iter()
            .map(|d| {
                assert_eq!(d.file, "policy.yaml");
                assert_eq!(d.severity, DiagnosticSeverity::Error);
                format!(
                    "{}:{} {}: {}",
                    d.line.unwrap_or(0),
                    d.column.unwrap_or(0),
                    d.path,
                    d.message
                )
            })
            .collect(),
    }
}

/// Checks that `text` fails with exactly one error starting with `expected` (position and
/// path) and containing `message`.
fn check_error(text: &str, expected: &str, message: &str) {
    let found = errors(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with(expected) && found[0].contains(message),
        "expected {expected:?} with {message:?}, found {:?}",
        found[0]
    );
}

#[test]
fn the_default_policy_parses_and_uses_every_code() {
    let policy = parse_policy(DEFAULT_POLICY_FILE, DEFAULT_POLICY_YAML).unwrap();
    assert_eq!(policy, default_policy());
    assert_eq!(policy.name, "seam-default");
    assert!(policy.principles.len() <= MAX_PRINCIPLES);
    let ids: Vec<&str> = policy.principles.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "loose-coupling",
            "bounded-contexts",
            "standard-monitoring",
            "correlation-ids",
            "semantic-versioning",
            "choreography",
            "ownership",
            "declared-equals-observed"
        ]
    );
    let codes: BTreeSet<Code> = policy
        .principles
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.code))
        .collect();
    assert_eq!(codes, Code::ALL.into_iter().collect());
    for principle in &policy.principles {
        for rule in &principle.rules {
            // Each rule sits in the principle the catalogue names.
            assert_eq!(rule.code.rule().principle, principle.id, "{}", rule.code);
            assert_eq!(rule.severity, rule.code.rule().severity);
            assert_eq!(rule.params, Params::defaults(rule.code));
        }
        assert!(principle.scope.is_all());
    }
    assert!(policy.waivers.is_empty());
}

#[test]
fn reads_every_field() {
    let text = policy_with(
        "        - code: SEAM-HUB-001\n          severity: error\n          level: gold\n          params: {max_fan_out: 8}\n        - code: SEAM-TRACE-001\n          params:\n            sides: [outgoing]\n        - code: SEAM-DB-001\n          params: {across: owners}\n        - code: SEAM-CHATTY-001\n          params: {calls_per_request: 2.5, calls_per_minute: null}\n",
        "      description: |\n        Two lines\n        of text.\n      scope:\n        domains: [commerce, commerce]\n        teams: [team-a]\n        systems: []\n        lifecycles: [production]\n  waivers:\n    - code: SEAM-HUB-001\n      object: checkout\n      reason: Being split, see ADR-42.\n      author: jane@example.com\n      expires: 2025-12-31\n    - code: SEAM-CYCLE-001\n      object: cycle:a>b>a\n      reason: Known.\n      author: ops\n      expires: 2025-06-30T12:00:00+02:00\n",
    );
    let policy = parse_policy("policy.yaml", &text).unwrap();
    let principle = &policy.principles[0];
    assert_eq!(
        principle.description.as_deref(),
        Some("Two lines\nof text.")
    );
    assert_eq!(
        principle.scope,
        Scope {
            domains: vec!["commerce".into()],
            teams: vec!["team-a".into()],
            systems: vec![],
            lifecycles: vec!["production".into()],
        }
    );
    let hub = &principle.rules[0];
    assert_eq!(
        (hub.code, hub.severity, hub.level),
        (Code::Hub001, Severity::Error, Level::Gold)
    );
    assert_eq!(hub.params.number("max_fan_out"), 8.0);
    let trace = &principle.rules[1];
    assert_eq!(
        (trace.severity, trace.level),
        (Severity::Warning, Level::Bronze)
    );
    assert_eq!(trace.params.words("sides"), ["outgoing"]);
    assert_eq!(principle.rules[2].params.choice("across"), "owners");
    let chatty = &principle.rules[3].params;
    assert_eq!(chatty.number("calls_per_request"), 2.5);
    // null means absent: the default stays.
    assert_eq!(chatty.number("calls_per_minute"), 6000.0);

    assert_eq!(policy.waivers.len(), 2);
    let waiver = &policy.waivers[0];
    assert_eq!(
        (waiver.code, waiver.object.as_str(), waiver.source),
        (Code::Hub001, "checkout", WaiverSource::Policy)
    );
    // A date applies through that day.
    assert_eq!(
        waiver.expires,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(
        policy.waivers[1].expires,
        Utc.with_ymd_and_hms(2025, 6, 30, 10, 0, 0).unwrap()
    );
    let json = serde_json::to_value(&policy).unwrap();
    assert_eq!(json["principles"][0]["rules"][0]["code"], "SEAM-HUB-001");
    assert_eq!(
        json["principles"][0]["rules"][0]["params"]["max_fan_out"],
        8.0
    );
    assert_eq!(json["waivers"][0]["expires"], "2026-01-01T00:00:00Z");
    assert_eq!(json["waivers"][0]["source"], "policy");
}

#[test]
fn unknown_keys_are_errors_with_their_position() {
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          severty: error\n",
            "",
        ),
        "11:11 spec.principles[0].rules[0].severty:",
        "unknown field \"severty\" (did you mean \"severity\"?)",
    );
    check_error(
        &format!(
            "{}colour: red\n",
            policy_with("        - code: SEAM-CYCLE-001\n", "")
        ),
        "11:1 colour:",
        "unknown field \"colour\"",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n",
            "      scope: {domain: [sales]}\n",
        ),
        "11:15 spec.principles[0].scope.domain:",
        "did you mean \"domains\"?",
    );
}

#[test]
fn a_bad_severity_or_level_is_an_error() {
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          severity: critical\n",
            "",
        ),
        "11:21 spec.principles[0].rules[0].severity:",
        "found \"critical\", expected one of: info, warning, error",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          level: none\n",
            "",
        ),
        "11:18 spec.principles[0].rules[0].level:",
        "expected one of: bronze, silver, gold",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          severity: 3\n",
            "",
        ),
        "11:21 spec.principles[0].rules[0].severity:",
        "found \"3\", expected one of",
    );
}

#[test]
fn at_most_ten_principles() {
    let principle = "    - id: p{i}\n      title: P\n      rules: [{code: SEAM-CYCLE-001}]\n";
    let head =
        "apiVersion: seam.dev/v1\nkind: Policy\nmetadata: {name: test}\nspec:\n  principles:\n";
    let many = |n: usize| {
        let mut text = head.to_owned();
        for i in 0..n {
            text.push_str(&principle.replace("{i}", &i.to_string()));
        }
        text
    };
    assert_eq!(
        parse_policy("policy.yaml", &many(10))
            .unwrap()
            .principles
            .len(),
        10
    );
    check_error(
        &many(11),
        "6:5 spec.principles:",
        "has 11 principles; at most 10 are allowed",
    );
    check_error(
        &format!("{head}    []\n"),
        "6:5 spec.principles:",
        "is empty, expected at least 1 principles",
    );
}

#[test]
fn a_bad_date_is_an_error() {
    let waiver = |expires: &str| {
        policy_with(
            "        - code: SEAM-CYCLE-001\n",
            &format!("  waivers:\n    - code: SEAM-CYCLE-001\n      object: a\n      reason: r\n      author: me\n      expires: {expires}\n"),
        )
    };
    for bad in [
        "2025-02-30",
        "2025-13-01",
        "tomorrow",
        "2025-12-31T25:00:00Z",
        "\"\"",
    ] {
        check_error(
            &waiver(bad),
            "16:16 spec.waivers[0].expires:",
            "expected a date such as \"2025-12-31\" or an RFC 3339 date and time",
        );
    }
    check_error(&waiver("2025-12-31T10:00:00"), "16:16", "RFC 3339");
    assert!(parse_policy("policy.yaml", &waiver("2024-02-29")).is_ok());
}

#[test]
fn an_unknown_code_is_an_error_with_a_suggestion() {
    check_error(
        &policy_with("        - code: SEAM-CYCLE-01\n", ""),
        "10:17 spec.principles[0].rules[0].code:",
        "unknown rule code \"SEAM-CYCLE-01\" (did you mean \"SEAM-CYCLE-001\"?), expected one of: SEAM-CYCLE-001,",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n",
            "  waivers:\n    - {code: SEAM-NOPE-001, object: a, reason: r, author: me, expires: 2030-01-01}\n",
        ),
        "12:14 spec.waivers[0].code:",
        "unknown rule code \"SEAM-NOPE-001\"",
    );
}

#[test]
fn unknown_or_bad_params_are_errors() {
    check_error(
        &policy_with(
            "        - code: SEAM-HUB-001\n          params: {max_fanout: 3}\n",
            "",
        ),
        "11:20 spec.principles[0].rules[0].params.max_fanout:",
        "unknown parameter \"max_fanout\" of SEAM-HUB-001 (did you mean \"max_fan_out\"?), expected one of: max_fan_out",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CONTEXT-001\n          params: {strict: true}\n",
            "",
        ),
        "11:20 spec.principles[0].rules[0].params.strict:",
        "SEAM-CONTEXT-001 takes no parameters",
    );
    for (value, message) in [
        ("0", "found 0, expected an integer from 1 to 100000"),
        ("2.5", "found 2.5, expected an integer from 1 to 100000"),
        ("\"5\"", "found \"5\", expected an integer from 1 to 100000"),
        ("[5]", "found a list, expected an integer"),
        (".nan", "found number .nan, expected an integer"),
        (
            "1e9",
            "found 1000000000, expected an integer from 1 to 100000",
        ),
    ] {
        check_error(
            &policy_with(
                &format!(
                    "        - code: SEAM-HUB-001\n          params: {{max_fan_out: {value}}}\n"
                ),
                "",
            ),
            "11:33 spec.principles[0].rules[0].params.max_fan_out:",
            message,
        );
    }
    check_error(
        &policy_with(
            "        - code: SEAM-TRACE-001\n          params: {sides: [incoming, sideways]}\n",
            "",
        ),
        "11:38 spec.principles[0].rules[0].params.sides[1]:",
        "found \"sideways\", expected one of: incoming, outgoing",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-DB-001\n          params: {across: teams}\n",
            "",
        ),
        "11:28 spec.principles[0].rules[0].params.across:",
        "found \"teams\", expected one of: owners, domains, either",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          params: {observed_only: yes}\n",
            "",
        ),
        "11:35 spec.principles[0].rules[0].params.observed_only:",
        "found \"yes\", expected true or false",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n          params: [1]\n",
            "",
        ),
        "11:19 spec.principles[0].rules[0].params:",
        "found a list, expected a mapping",
    );
}

#[test]
fn duplicates_are_errors() {
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n        - code: SEAM-CYCLE-001\n",
            "",
        ),
        "11:17 spec.principles[0].rules[1].code:",
        "SEAM-CYCLE-001 is already listed at line 10 in this principle",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n",
            "    - id: p\n      title: Again\n      rules: [{code: SEAM-HUB-001}]\n",
        ),
        "11:11 spec.principles[1].id:",
        "duplicate principle id \"p\", already used at line 7",
    );
    check_error(
        &policy_with(
            "        - code: SEAM-CYCLE-001\n",
            "  waivers:\n    - {code: SEAM-CYCLE-001, object: a, reason: r, author: me, expires: 2030-01-01}\n    - {code: SEAM-CYCLE-001, object: a, reason: s, author: you, expires: 2031-01-01}\n",
        ),
        "13:38 spec.waivers[1].object:",
        "a waiver of SEAM-CYCLE-001 for \"a\" is already given at line 12",
    );
    // The same code in two principles is fine (a stricter severity for a narrower scope).
    let two = policy_with(
        "        - code: SEAM-CYCLE-001\n",
        "    - id: q\n      title: Q\n      scope: {lifecycles: [production]}\n      rules: [{code: SEAM-CYCLE-001, severity: error}]\n",
    );
    assert_eq!(
        parse_policy("policy.yaml", &two).unwrap().principles.len(),
        2
    );
}

#[test]
fn the_envelope_is_checked() {
    let good = policy_with("        - code: SEAM-CYCLE-001\n", "");
    check_error(
        &good.replace("seam.dev/v1", "seam.dev/v2"),
        "1:13 apiVersion:",
        "found \"seam.dev/v2\", expected \"seam.dev/v1\"",
    );
    check_error(
        &good.replace("kind: Policy", "kind: Service"),
        "2:7 kind:",
        "found kind \"Service\", expected \"Policy\"",
    );
    check_error(
        &good.replace("  name: test\n", "  name: Not a name!\n"),
        "4:9 metadata.name:",
        "is not a valid name",
    );
    check_error("- a\n- b\n", "1:1 :", "found a list, expected a mapping");
    check_error(
        &format!("{good}---\nkind: Policy\n"),
        "12:1 :",
        "a policy file holds one document; found a second one",
    );
    check_error(
        "apiVersion: seam.dev/v1\nkind: Policy\nmetadata: {name: x}\n",
        "1:1 spec:",
        "is required",
    );
    check_error(
        &policy_with("", "        []\n"),
        "10:9 spec.principles[0].rules:",
        "is empty, expected at least 1 rules",
    );
    let empty = errors("# nothing\n");
    assert_eq!(empty.len(), 1);
    assert!(empty[0].contains("contains no documents"), "{empty:?}");
    check_error(
        &good.replace("  name: test\n", "  name: [unclosed\n"),
        "4:9",
        "never closed",
    );
}

#[test]
fn limits_are_errors() {
    let big = format!(
        "{}# {}\n",
        policy_with("        - code: SEAM-CYCLE-001\n", ""),
        "x".repeat(MAX_POLICY_BYTES)
    );
    let found = errors(&big);
    assert!(
        found[0].contains("bytes; at most 1048576 are allowed"),
        "{found:?}"
    );

    let waiver =
        "    - {code: SEAM-CYCLE-001, object: s{i}, reason: r, author: me, expires: 2030-01-01}\n";
    let waivers = |n: usize| {
        let mut rest = "  waivers:\n".to_owned();
        for i in 0..n {
            rest.push_str(&waiver.replace("{i}", &i.to_string()));
        }
        policy_with("        - code: SEAM-CYCLE-001\n", &rest)
    };
    assert_eq!(
        parse_policy("p", &waivers(MAX_WAIVERS))
            .unwrap()
            .waivers
            .len(),
        MAX_WAIVERS
    );
    check_error(
        &waivers(MAX_WAIVERS + 1),
        "12:5 spec.waivers:",
        "has 1001 waivers; at most 1000 are allowed",
    );

    let deep = format!(
        "{}  x: {}{}\n",
        policy_with("        - code: SEAM-CYCLE-001\n", ""),
        "[".repeat(40),
        "]".repeat(40)
    );
    assert!(errors(&deep)
        .iter()
        .any(|e| e.contains("nesting is deeper")));

    let long_title = policy_with("        - code: SEAM-CYCLE-001\n", "").replace(
        "title: P",
        &format!("title: {}", "t".repeat(MAX_TITLE_CHARS + 1)),
    );
    check_error(
        &long_title,
        "8:14 spec.principles[0].title:",
        "is 121 characters long; at most 120 are allowed",
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = policy_with(
        "        - code: SEAM-CYCLE-01\n        - code: SEAM-HUB-001\n          params: {max_fan_out: -1}\n          level: platinum\n",
        "  waivers:\n    - {code: SEAM-CYCLE-001, object: a, reason: \"\", author: me, expires: soon}\n",
    );
    let found = errors(&text);
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn api_waivers_are_checked_like_the_files() {
    let waiver = Waiver::new(
        " SEAM-DB-001 ",
        "shared_datastore:orders-db",
        "Migrating, see ADR-7.",
        "jane",
        "2030-01-01T00:00:00Z",
        WaiverSource::Api,
    )
    .unwrap();
    assert_eq!(waiver.code, Code::Db001);
    assert_eq!(waiver.source, WaiverSource::Api);
    assert!(waiver.is_active(Utc.with_ymd_and_hms(2029, 12, 31, 23, 59, 59).unwrap()));
    assert!(!waiver.is_active(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()));

    let errors = Waiver::new("SEAM-DB-1", "", " ", "a\nb", "never", WaiverSource::Api).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["code", "object", "reason", "author", "expires"]);
    assert!(errors[0].message.contains("did you mean \"SEAM-DB-001\"?"));
}

#[test]
fn expiry_dates() {
    assert_eq!(
        parse_expiry("2025-12-31").unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(
        parse_expiry(" 2025-12-31T23:00:00-01:00 ").unwrap(),
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    );
    for bad in ["", "2025-1-1", "31.12.2025", "9999-12-31x", "+262143-12-31"] {
        assert!(parse_expiry(bad).is_err(), "{bad}");
    }
}

#[test]
fn params_set_in_code_are_checked() {
    let mut params = Params::defaults(Code::Hub001);
    assert!(params
        .set(Code::Hub001, "max_fan_out", ParamValue::Number(9.0))
        .is_ok());
    assert_eq!(params.number("max_fan_out"), 9.0);
    assert!(params
        .set(Code::Hub001, "max_fan_out", ParamValue::Bool(true))
        .unwrap_err()
        .contains("expected an integer"));
    assert!(params
        .set(Code::Hub001, "max_fan_outs", ParamValue::Number(9.0))
        .unwrap_err()
        .contains("did you mean \"max_fan_out\"?"));
    // Reading a parameter the map lacks gives the catalogue's default.
    assert_eq!(Params::default().number("max_depth"), 4.0);
    assert_eq!(Params::default().words("allowed").len(), 3);
    assert_eq!(Params::default().number("no_such_param"), 0.0);
}

#[test]
fn scope_matching() {
    let scope = Scope {
        domains: vec!["sales".into()],
        lifecycles: vec!["production".into()],
        ..Scope::default()
    };
    assert!(scope.matches(Some("sales"), Some("t"), None, Some("production")));
    assert!(!scope.matches(Some("sales"), Some("t"), None, Some("experimental")));
    assert!(!scope.matches(None, None, None, Some("production")));
    assert!(Scope::default().matches(None, None, None, None));
    let policy = Policy {
        principles: vec![Principle {
            id: "p".into(),
            title: "P".into(),
            description: None,
            scope,
            rules: vec![RuleConfig::new(Code::Cycle001)],
        }],
        ..Policy::empty("x")
    };
    let names = scope_names(&policy);
    assert!(names.contains(&("domain", "sales")));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text: a policy or diagnostics, never a panic.
        #[test]
        fn never_panics_on_any_text(text in ".{0,400}") {
            let _ = parse_policy("p", &text);
        }

        /// The default policy with one line cut or one character replaced.
        #[test]
        fn never_panics_on_a_damaged_policy(at in 0usize..5000, with in proptest::char::any()) {
            let text = DEFAULT_POLICY_YAML;
            let at = at % text.len();
            let mut damaged: String = text.chars().take(at).collect();
            damaged.push(with);
            damaged.extend(text.chars().skip(at + 1));
            let _ = parse_policy("p", &damaged);
            let lines: Vec<&str> = text.lines().collect();
            let cut = at % lines.len();
            let without: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != cut)
                .map(|(_, l)| *l)
                .collect();
            let _ = parse_policy("p", &without.join("\n"));
        }
    }
}

#[test]
fn the_format_documented_above_parses() {
    let source = include_str!("../policy.rs");
    let start = source.find("//! ```yaml\n").unwrap() + "//! ```yaml\n".len();
    let end = start + source[start..].find("//! ```\n").unwrap();
    let example: String = source[start..end]
        .lines()
        .map(|line| line.strip_prefix("//! ").unwrap_or("").to_owned() + "\n")
        .collect();
    let policy = parse_policy("example.yaml", &example).unwrap();
    assert!(policy.principles[0].rules[0].params.flag("observed_only"));
    assert_eq!(policy.waivers[0].object, "payments");
}
