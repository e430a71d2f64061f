use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use seam_analysis::layout::{svg_path, GEdge, GNode, GroupBy, View};

use super::edge::encode;
use crate::api::graph_page;
use crate::dto::{GraphPageView, CALL_WINDOWS};

/// The page's state, all of it in the URL: every view can be linked and works without
/// JavaScript.
#[derive(Debug, Clone, Default, PartialEq)]
struct Params {
    window: String,
    group: String,
    expand: Vec<String>,
    close: Vec<String>,
    focus: String,
    hops: usize,
    domain: String,
    owner: String,
    health: String,
    q: String,
    finding: String,
}

impl Params {
    fn href(&self) -> String {
        let mut parts = vec![format!("window={}", encode(&self.window))];
        let mut add = |name: &str, value: &str| {
            if !value.is_empty() {
                parts.push(format!("{name}={}", encode(value)));
            }
        };
        add("group", &self.group);
        add("expand", &self.expand.join(","));
        add("close", &self.close.join(","));
        add("focus", &self.focus);
        if !self.focus.is_empty() && self.hops != 1 {
            add("hops", &self.hops.to_string());
        }
        add("domain", &self.domain);
        add("owner", &self.owner);
        add("health", &self.health);
        add("q", &self.q);
        add("finding", &self.finding);
        format!("/graph?{}", parts.join("&"))
    }

    fn view(&self) -> View {
        let text = |s: &String| (!s.is_empty()).then(|| s.clone());
        View {
            group_by: match self.group.as_str() {
                "system" => GroupBy::System,
                "owner" => GroupBy::Owner,
                "none" => GroupBy::None,
                _ => GroupBy::Domain,
            },
            expanded: self.expand.clone(),
            collapsed: self.close.clone(),
            focus: text(&self.focus),
            hops: self.hops,
            domain: text(&self.domain),
            owner: text(&self.owner),
            health: text(&self.health),
            search: text(&self.q),
            ..View::default()
        }
    }

    /// The same view with a group opened (`open`) or closed.
    fn toggled(&self, key: &str, open: bool) -> String {
        let mut next = self.clone();
        next.expand.retain(|k| k != key);
        next.close.retain(|k| k != key);
        if open {
            next.expand.push(key.to_owned());
        } else {
            next.close.push(key.to_owned());
        }
        next.href()
    }

    /// The same view focused on one node.
    fn focused(&self, name: &str) -> String {
        Params {
            focus: name.to_owned(),
            finding: String::new(),
            ..self.clone()
        }
        .href()
    }
}

/// The call graph, laid out left to right in layers (callers left of callees), services
/// grouped by domain, system or team; big groups collapse into one node that opens on
/// click. Edges are as wide as their call rate and coloured by error ratio, nodes by
/// health; a finding, a search or a focus (one service and its neighbours) narrows it.
#[component]
pub fn GraphPage() -> impl IntoView {
    let query = use_query_map();
    let params = Memo::new(move |_| {
        query.with(|q| {
            let get = |name: &str| q.get(name).unwrap_or_default();
            Params {
                window: Some(get("window"))
                    .filter(|w| CALL_WINDOWS.contains(&w.as_str()))
                    .unwrap_or_else(|| "15m".to_owned()),
                group: get("group"),
                expand: list(&get("expand")),
                close: list(&get("close")),
                focus: get("focus"),
                hops: get("hops").parse().unwrap_or(1).clamp(1, 5),
                domain: get("domain"),
                owner: get("owner"),
                health: get("health"),
                q: get("q"),
                finding: get("finding"),
            }
        })
    });
    let data = Resource::new(
        move || params.get(),
        |p| {
            let finding = (!p.finding.is_empty()).then(|| p.finding.clone());
            graph_page(p.window.clone(), p.view(), finding)
        },
    );
    view! {
        <section class="page page-wide">
            <Title text="Graph"/>
            <h1 tabindex="-1">"Graph"</h1>
            <p class="muted">"Who calls whom, declared and observed, left to right. Edge width is the call rate, colour the error ratio; dashed edges are asynchronous; a red outline marks a failing service. Click a group to open it, a service to see it."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <GraphView page params=params.get_untracked()/> }.into_any(),
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn GraphFilters(params: Params, domains: Vec<String>, owners: Vec<String>) -> impl IntoView {
    let p = params;
    let option = |value: &String| view! { <option value=value.clone()>{value.clone()}</option> };
    let domain_options = domains.iter().map(option).collect_view();
    let owner_options = owners.iter().map(option).collect_view();
    view! {
        <form class="filters" method="get" action="/graph" role="search">
            <label for="graph-q">"Find"</label>
            <input id="graph-q" name="q" type="search" maxlength="200" prop:value=p.q.clone()/>
            <label for="graph-focus">"Focus on"</label>
            <input id="graph-focus" name="focus" type="text" maxlength="200" placeholder="service" prop:value=p.focus.clone()/>
            <label for="graph-hops">"Hops"</label>
            <select id="graph-hops" name="hops" prop:value=p.hops.to_string()>
                {(1..=5).map(|h| view! { <option value=h.to_string()>{h}</option> }).collect_view()}
            </select>
            <label for="graph-group">"Group by"</label>
            <select id="graph-group" name="group" prop:value=p.group.clone()>
                <option value="">"domain"</option>
                <option value="system">"system"</option>
                <option value="owner">"team"</option>
                <option value="none">"nothing"</option>
            </select>
            <label for="graph-domain">"Domain"</label>
            <select id="graph-domain" name="domain" prop:value=p.domain.clone()>
                <option value="">"any"</option>
                {domain_options}
            </select>
            <label for="graph-owner">"Team"</label>
            <select id="graph-owner" name="owner" prop:value=p.owner.clone()>
                <option value="">"any"</option>
                {owner_options}
            </select>
            <label for="graph-health">"Health"</label>
            <select id="graph-health" name="health" prop:value=p.health.clone()>
                <option value="">"any"</option>
                <option value="failing">"failing"</option>
                <option value="degraded">"degraded"</option>
                <option value="healthy">"healthy"</option>
                <option value="unknown">"unknown"</option>
            </select>
            <label for="graph-finding">"Highlight"</label>
            <select id="graph-finding" name="finding" prop:value=p.finding.clone()>
                <option value="">"nothing"</option>
                <option value="cycle">"cycles"</option>
                <option value="chatty_pair">"chatty pairs"</option>
                <option value="drift">"drift"</option>
                <option value="context_crossing">"context crossings"</option>
            </select>
            <label for="graph-window">"Window"</label>
            <select id="graph-window" name="window" prop:value=p.window.clone()>
                {CALL_WINDOWS.iter().map(|w| view! { <option value=*w>{*w}</option> }).collect_view()}
            </select>
            <button type="submit">"Apply"</button>
        </form>
    }
}

/// A comma-separated list from the URL, at most 200 items.
fn list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .take(200)
        .collect()
}

/// Colour class of an edge by error ratio.
fn error_class(edge: &GEdge) -> &'static str {
    match edge.error_ratio {
        r if !edge.observed || r <= 0.0 => "err-none",
        r if r < 0.01 => "err-low",
        r if r < 0.1 => "err-mid",
        _ => "err-high",
    }
}

/// Stroke width by calls per second: 1.2 without traffic, up to 8.
fn edge_width(edge: &GEdge, window_seconds: f64) -> f64 {
    let rate = if window_seconds > 0.0 {
        edge.calls / window_seconds
    } else {
        0.0
    };
    (1.2 + (1.0 + rate.max(0.0)).log10() * 2.0).min(8.0)
}

fn window_seconds(window: &str) -> f64 {
    let (number, unit) = window.split_at(window.len().saturating_sub(1));
    let n: f64 = number.parse().unwrap_or(0.0);
    n * match unit {
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => 1.0,
    }
}

#[component]
fn GraphView(page: GraphPageView, params: Params) -> impl IntoView {
    let GraphPageView {
        window,
        graph,
        layout,
        total_nodes,
        domains,
        owners,
        finding,
    } = page;
    let secs = window_seconds(&window);
    let filters = view! { <GraphFilters params=params.clone() domains owners/> };
    if graph.nodes.is_empty() {
        return view! {
            {filters}
            <p class="empty">{if total_nodes == 0 {
                "Nothing to draw yet: register services or send spans."
            } else {
                "No node matches these filters."
            }}</p>
        }
        .into_any();
    }
    let shown_services: usize = graph.nodes.iter().map(|n| n.members.max(1)).sum();
    let highlighted = graph.edges.iter().filter(|e| e.highlighted).count();
    let finding_note = finding.map(|f| view! {
        <p class="notice" id="graph-finding-note">{f.summary.clone()}" "<a href="/graph">"Show everything"</a></p>
    });
    let width = layout.width.max(200.0);
    let height = layout.height.max(100.0);
    let groups = layout
        .groups
        .iter()
        .filter_map(|b| {
            let group = graph.groups.get(b.index)?;
            if group.collapsed {
                return None;
            }
            let href = params.toggled(&group.key, false);
            Some(view! {
                <g class="group" data-group=group.key.clone()>
                    <rect x=b.x y=b.y width=b.width height=b.height rx="8"/>
                    <a href=href aria-label=format!("Close group {}", group.label)>
                        <text x=b.x + 8.0 y=b.y + 14.0>{format!("{} ▾", group.label)}</text>
                    </a>
                </g>
            })
        })
        .collect_view();
    let edges = layout.edges.iter().filter_map(|route| {
        let edge = graph.edges.get(route.index)?;
        let from = graph.nodes.get(edge.from)?;
        let to = graph.nodes.get(edge.to)?;
        let mut class = format!("edge {}", error_class(edge));
        if !edge.sync {
            class.push_str(" async");
        }
        if edge.highlighted {
            class.push_str(" highlighted");
        }
        if edge.observed && !edge.declared {
            class.push_str(" undeclared");
        }
        if edge.declared && !edge.observed {
            class.push_str(" unobserved");
        }
        let rate = if secs > 0.0 { edge.calls / secs } else { 0.0 };
        let title = format!(
            "{} → {}: {}{}{}",
            from.label,
            to.label,
            if edge.observed { format!("{rate:.2} calls/s, {:.1}% errors", edge.error_ratio * 100.0) } else { "declared, not observed".to_owned() },
            if edge.observed && !edge.declared { ", not declared" } else { "" },
            if edge.merged > 1 { format!(" ({} edges)", edge.merged) } else { String::new() },
        );
        Some(view! {
            <path class=class d=svg_path(&route.points) stroke-width=format!("{:.1}", edge_width(edge, secs))
                marker-end="url(#arrow)" data-from=from.id.clone() data-to=to.id.clone()>
                <title>{title}</title>
            </path>
        })
    }).collect_view();
    let nodes = layout
        .nodes
        .iter()
        .filter_map(|placed| {
            let node = graph.nodes.get(placed.index)?;
            Some(node_view(
                node,
                placed.x,
                placed.y,
                placed.width,
                placed.height,
                &params,
            ))
        })
        .collect_view();
    view! {
        {filters}
        {finding_note}
        <p class="muted" id="graph-count">{format!(
            "{} of {} nodes shown as {} boxes and {} edges{}{}",
            shown_services.min(total_nodes), total_nodes, graph.nodes.len(), graph.edges.len(),
            if graph.hidden > 0 { format!("; {} filtered out", graph.hidden) } else { String::new() },
            if highlighted > 0 { format!("; {highlighted} highlighted") } else { String::new() },
        )}</p>
        <GraphLegend/>
        <div class="graph-canvas" tabindex="0" role="region" aria-label="Call graph; scroll to pan">
            <svg id="graph" xmlns="http://www.w3.org/2000/svg" width=width height=height
                viewBox=format!("0 0 {width:.0} {height:.0}") role="group" aria-label="Call graph">
                <defs>
                    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" markerUnits="userSpaceOnUse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head"/>
                    </marker>
                </defs>
                {groups}
                <g class="edges">{edges}</g>
                <g class="nodes">{nodes}</g>
            </svg>
        </div>
    }
    .into_any()
}

fn node_view(node: &GNode, x: f64, y: f64, width: f64, height: f64, params: &Params) -> AnyView {
    let health = node.health.clone().unwrap_or_else(|| "unknown".to_owned());
    let mut class = format!("node kind-{} health-{health}", node.kind);
    if node.matched {
        class.push_str(" matched");
    }
    if node.focus {
        class.push_str(" focus");
    }
    if !node.registered && node.kind == "service" {
        class.push_str(" unregistered");
    }
    let label = if node.kind == "cluster" {
        format!("{} ({}) ▸", node.label, node.members)
    } else {
        node.label.clone()
    };
    let (href, aria) = match node.kind.as_str() {
        "cluster" => (
            Some(params.toggled(node.id.strip_prefix("cluster:").unwrap_or(&node.id), true)),
            format!(
                "Group {}: {} services, {health}; open it",
                node.label, node.members
            ),
        ),
        "service" if node.registered => (
            Some(format!("/services/{}", encode(&node.id))),
            format!("{}, {health}", node.label),
        ),
        "service" => (
            Some(params.focused(&node.id)),
            format!("{}, not registered; focus on it", node.label),
        ),
        kind => (None, format!("{} ({kind})", node.label)),
    };
    let shape = view! {
        <rect x=x y=y width=width height=height rx=if node.kind == "datastore" { "12" } else { "5" }/>
        <text x=x + width / 2.0 y=y + height / 2.0 + 4.0 text-anchor="middle">{label}</text>
    };
    match href {
        // Inside a `g`, the macro makes the `a` an SVG link (alone it would be an HTML
        // one, and its shapes would not render when the page is built in the browser).
        Some(href) => view! {
            <g>
                <a href=href class=class data-node=node.id.clone() aria-label=aria>{shape}</a>
            </g>
        }
        .into_any(),
        None => view! {
            <g class=class data-node=node.id.clone() role="img" aria-label=aria>{shape}</g>
        }
        .into_any(),
    }
}

#[component]
fn GraphLegend() -> impl IntoView {
    view! {
        <ul class="legend graph-legend" aria-label="Legend">
            <li><span class="swatch err-none"></span>"no errors"</li>
            <li><span class="swatch err-low"></span>"under 1% errors"</li>
            <li><span class="swatch err-mid"></span>"under 10%"</li>
            <li><span class="swatch err-high"></span>"10% or more"</li>
            <li><span class="swatch highlighted"></span>"highlighted"</li>
            <li><span class="swatch unobserved"></span>"declared, not observed"</li>
            <li>"dashed: asynchronous"</li>
        </ul>
    }
}
