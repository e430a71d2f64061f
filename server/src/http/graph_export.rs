//! `GET /api/v1/graph?format=dot|mermaid`: the graph for Graphviz and Mermaid, one edge
//! per caller and callee (versions and protocols summed), labelled with the call rate,
//! dashed when asynchronous, red when declared but not observed or observed but not
//! declared. Names are quoted, never trusted: a name may hold any character a span
//! attribute can.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::traces::{EdgeView, GraphView};

/// One line per caller and callee.
struct Pair {
    calls_per_second: f64,
    sync: bool,
    declared: bool,
    observed: bool,
}

fn pairs(view: &GraphView) -> BTreeMap<(&str, &str), Pair> {
    let mut pairs: BTreeMap<(&str, &str), Pair> = BTreeMap::new();
    for edge in &view.edges {
        let pair = pairs
            .entry((edge.caller.as_str(), edge.callee.as_str()))
            .or_insert(Pair {
                calls_per_second: 0.0,
                sync: true,
                declared: false,
                observed: false,
            });
        pair.calls_per_second += EdgeView::request_rate(edge);
        pair.sync &= edge.mode != "async";
        pair.declared |= edge.declared;
        pair.observed |= edge.observed;
    }
    pairs
}

fn label(pair: &Pair) -> String {
    let mut label = if pair.observed {
        format!("{:.2}/s", pair.calls_per_second)
    } else {
        "declared".to_owned()
    };
    if !pair.sync {
        label.push_str(" async");
    }
    if pair.observed && !pair.declared {
        label.push_str(" undeclared");
    }
    label
}

/// A DOT string literal: quotes and backslashes escaped, line breaks as `\n`.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The graph in Graphviz DOT, laid out left to right.
pub fn dot(view: &GraphView) -> String {
    let mut out =
        String::from("digraph seam {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for node in &view.nodes {
        let shape = match node.kind.as_str() {
            "database" => ", shape=cylinder",
            "user" => ", shape=oval",
            _ => "",
        };
        let dashed = if node.registered {
            ""
        } else {
            ", style=\"rounded,dashed\""
        };
        let _ = writeln!(
            out,
            "  {} [label={}{shape}{dashed}];",
            dot_quote(&node.name),
            dot_quote(&node.name)
        );
    }
    for ((caller, callee), pair) in pairs(view) {
        let mut attrs = format!("label={}", dot_quote(&label(&pair)));
        if !pair.sync {
            attrs.push_str(", style=dashed");
        }
        if pair.declared != pair.observed {
            attrs.push_str(", color=red");
        }
        let _ = writeln!(
            out,
            "  {} -> {} [{attrs}];",
            dot_quote(caller),
            dot_quote(callee)
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid node id: names are mapped to `n0`, `n1`, ... and shown as quoted labels,
/// so no name can break the syntax.
fn mermaid_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The graph as a Mermaid flowchart, left to right.
pub fn mermaid(view: &GraphView) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for node in &view.nodes {
        let id = ids.len();
        ids.entry(node.name.as_str()).or_insert(id);
    }
    for ((caller, callee), _) in pairs(view) {
        for name in [caller, callee] {
            let id = ids.len();
            ids.entry(name).or_insert(id);
        }
    }
    let kinds: BTreeMap<&str, &str> = view
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.kind.as_str()))
        .collect();
    let mut by_id: Vec<(&usize, &&str)> = ids.iter().map(|(name, id)| (id, name)).collect();
    by_id.sort();
    for (id, name) in by_id {
        let label = mermaid_label(name);
        let _ = match kinds.get(name) {
            Some(&"database") => writeln!(out, "  n{id}[(\"{label}\")]"),
            Some(&"user") => writeln!(out, "  n{id}([\"{label}\"])"),
            _ => writeln!(out, "  n{id}[\"{label}\"]"),
        };
    }
    for ((caller, callee), pair) in pairs(view) {
        let arrow = if pair.sync { "-->" } else { "-.->" };
        let _ = writeln!(
            out,
            "  n{} {arrow}|\"{}\"| n{}",
            ids[caller],
            mermaid_label(&label(&pair)),
            ids[callee]
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::NodeView;
    use seam_traces::{EdgeStats, NodeKind};

    fn node(name: &str, kind: NodeKind) -> NodeView {
        NodeView {
            name: name.into(),
            kind,
            registered: kind == NodeKind::Service,
            versions: Vec::new(),
            namespaces: Vec::new(),
            environments: Vec::new(),
        }
    }

    fn edge(
        caller: &str,
        callee: &str,
        mode: &'static str,
        calls: f64,
        declared: bool,
    ) -> EdgeView {
        let mut stats = EdgeStats::default();
        stats.calls.requests = calls;
        EdgeView {
            caller: caller.into(),
            caller_kind: NodeKind::Service,
            callee: callee.into(),
            callee_kind: NodeKind::Service,
            caller_version: None,
            callee_version: None,
            environment: None,
            protocol: "http".into(),
            mode,
            operations: Vec::new(),
            stats,
            window_secs: 60,
            declared,
            observed: calls > 0.0,
        }
    }

    fn view() -> GraphView {
        GraphView {
            nodes: vec![
                node("a \"quoted\" \\ name", NodeKind::Service),
                node("orders", NodeKind::Service),
                node("shop-db", NodeKind::Database),
            ],
            edges: vec![
                edge("orders", "a \"quoted\" \\ name", "sync", 60.0, false),
                edge("orders", "a \"quoted\" \\ name", "sync", 60.0, false),
                edge("orders", "shop-db", "async", 0.0, true),
            ],
        }
    }

    #[test]
    fn dot_quotes_every_name_and_sums_versions_into_one_edge() {
        let dot = dot(&view());
        assert!(dot.starts_with("digraph seam {\n  rankdir=LR;"), "{dot}");
        assert!(
            dot.contains(
                r#""orders" -> "a \"quoted\" \\ name" [label="2.00/s undeclared", color=red];"#
            ),
            "{dot}"
        );
        assert!(
            dot.contains(
                r#""orders" -> "shop-db" [label="declared async", style=dashed, color=red];"#
            ),
            "{dot}"
        );
        assert!(
            dot.contains(r#""shop-db" [label="shop-db", shape=cylinder, style="rounded,dashed"];"#),
            "{dot}"
        );
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn mermaid_names_nodes_by_number_and_escapes_labels() {
        let text = mermaid(&view());
        assert!(text.starts_with("flowchart LR\n"), "{text}");
        assert!(
            text.contains(r#"  n0["a #quot;quoted#quot; \ name"]"#),
            "{text}"
        );
        assert!(text.contains(r#"  n2[("shop-db")]"#), "{text}");
        assert!(
            text.contains(r#"  n1 -->|"2.00/s undeclared"| n0"#),
            "{text}"
        );
        assert!(text.contains(r#"  n1 -.->|"declared async"| n2"#), "{text}");
    }
}
