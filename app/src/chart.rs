//! Time-series charts as SVG, drawn by the server and hydrated in the browser: axes with
//! units, one line per series, the value under the pointer read out beside the chart
//! (and, without JavaScript, in each step's tooltip). No charting library: SVG from the
//! server needs no script to show, passes the strict Content-Security-Policy (no inline
//! styles or scripts), and adds nothing to the WebAssembly beyond this file.

use leptos::prelude::*;

/// What a chart's values measure, for axis labels and readouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Per second.
    Rate,
    /// Seconds (shown as ms below one second).
    Seconds,
}

/// Formats a value of `unit` for people.
pub fn format_value(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Rate => format_rate(value),
        Unit::Seconds => format_seconds(value),
    }
}

/// `12.3/s`, `0.05/s`, `1.2k/s`.
pub fn format_rate(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.1}k/s", value / 1000.0)
    } else if value >= 10.0 || value == 0.0 {
        format!("{value:.0}/s")
    } else if value >= 0.1 {
        format!("{value:.1}/s")
    } else {
        format!("{value:.2}/s")
    }
}

/// `850 ms`, `1.2 s`, `0.4 ms`.
pub fn format_seconds(value: f64) -> String {
    if value == 0.0 {
        "0 ms".to_owned()
    } else if value >= 1.0 {
        format!("{value:.2} s")
    } else if value >= 0.01 {
        format!("{:.0} ms", value * 1000.0)
    } else {
        format!("{:.1} ms", value * 1000.0)
    }
}

/// `0.12%`, `12%`, `—` without requests.
pub fn format_ratio(value: Option<f64>) -> String {
    match value {
        None => "—".to_owned(),
        Some(0.0) => "0%".to_owned(),
        Some(ratio) if ratio < 0.01 => format!("{:.2}%", ratio * 100.0),
        Some(ratio) => format!("{:.1}%", ratio * 100.0),
    }
}

/// `HH:MM` in UTC of a unix time; with the date when `days` is set.
pub fn time_label(unix: i64, days: bool) -> String {
    let day_seconds = unix.rem_euclid(86_400);
    let (hours, minutes) = (day_seconds / 3600, day_seconds % 3600 / 60);
    if days {
        // Days since the epoch to a calendar date (Howard Hinnant's civil_from_days).
        let z = unix.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        format!("{month:02}-{day:02} {hours:02}:{minutes:02}")
    } else {
        format!("{hours:02}:{minutes:02}")
    }
}

/// The smallest 1, 2 or 5 times a power of ten at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value * 0.999_999)
        .unwrap_or(10.0 * magnitude)
}

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub label: &'static str,
    /// CSS class giving the line its colour (`line-1` ... `line-3`).
    pub class: &'static str,
    /// One value per step; `None` where there is nothing to show.
    pub values: Vec<Option<f64>>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 24.0;

/// A time chart: `starts` are the steps' start times (unix seconds), each line has one
/// value per step.
#[component]
pub fn TimeChart(
    /// Names the chart for assistive technology and as its caption.
    title: String,
    unit: Unit,
    starts: Vec<i64>,
    lines: Vec<Line>,
    /// A `data-chart` attribute for tests.
    #[prop(into)]
    id: String,
) -> impl IntoView {
    let steps = starts.len();
    let max = lines
        .iter()
        .flat_map(|line| line.values.iter().flatten())
        .fold(0.0_f64, |max, v| max.max(*v));
    let top = nice_ceiling(max);
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let x = move |i: usize| {
        if steps <= 1 {
            LEFT + plot_width / 2.0
        } else {
            LEFT + plot_width * i as f64 / (steps - 1) as f64
        }
    };
    let y = move |v: f64| TOP + plot_height * (1.0 - (v / top).clamp(0.0, 1.0));
    let span = starts.last().copied().unwrap_or(0) - starts.first().copied().unwrap_or(0);
    let with_days = span > 86_400;

    let grid = (0..=4)
        .map(|i| {
            let value = top * f64::from(i) / 4.0;
            let at = y(value);
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - RIGHT y1=at y2=at/>
                <text class="tick" x=LEFT - 6.0 y=at + 4.0 text-anchor="end">{format_value(unit, value)}</text>
            }
        })
        .collect_view();
    let x_ticks = if steps == 0 {
        Vec::new()
    } else {
        let count = 5.min(steps);
        (0..count)
            .map(|i| {
                if count == 1 {
                    0
                } else {
                    i * (steps - 1) / (count - 1)
                }
            })
            .collect()
    };
    let x_labels = x_ticks
        .into_iter()
        .map(|i| {
            let anchor = if i == 0 { "start" } else if i + 1 == steps { "end" } else { "middle" };
            view! {
                <text class="tick" x=x(i) y=HEIGHT - 6.0 text-anchor=anchor>{time_label(starts[i], with_days)}</text>
            }
        })
        .collect_view();
    let paths = lines
        .iter()
        .map(|line| {
            let mut d = String::new();
            let mut pen_down = false;
            for (i, value) in line.values.iter().enumerate() {
                match value {
                    Some(v) => {
                        d.push_str(&format!(
                            "{}{:.1},{:.1} ",
                            if pen_down { "L" } else { "M" },
                            x(i),
                            y(*v)
                        ));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            view! { <path class=format!("series {}", line.class) d=d/> }
        })
        .collect_view();

    // Each step's readout, for the tooltip without JavaScript and the live readout with.
    let readouts: Vec<String> = (0..steps)
        .map(|i| {
            let values: Vec<String> = lines
                .iter()
                .map(|line| {
                    let value = line.values.get(i).copied().flatten();
                    format!(
                        "{} {}",
                        line.label,
                        value.map_or("—".to_owned(), |v| format_value(unit, v))
                    )
                })
                .collect();
            format!(
                "{} UTC: {}",
                time_label(starts[i], with_days),
                values.join(", ")
            )
        })
        .collect();
    let column = if steps == 0 {
        plot_width
    } else {
        plot_width / steps as f64
    };
    let hover = RwSignal::new(None::<usize>);
    let targets = readouts
        .iter()
        .enumerate()
        .map(|(i, readout)| {
            let left = (x(i) - column / 2.0).max(LEFT);
            view! {
                <rect class="hover-target" x=left y=TOP width=column height=plot_height
                    on:pointerenter=move |_| hover.set(Some(i))>
                    <title>{readout.clone()}</title>
                </rect>
            }
        })
        .collect_view();
    let latest = readouts.last().cloned().unwrap_or_default();
    let summary = format!("{title}. Latest step, {latest}");
    let readouts_for_view = readouts.clone();
    let legend = lines
        .iter()
        .map(|line| view! { <li><span class=format!("swatch {}", line.class) aria-hidden="true"></span>{line.label}</li> })
        .collect_view();

    view! {
        <figure class="chart" data-chart=id>
            <figcaption>{title.clone()}<ul class="legend">{legend}</ul></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=summary
                on:pointerleave=move |_| hover.set(None)>
                {grid}
                <line class="axis" x1=LEFT x2=WIDTH - RIGHT y1=HEIGHT - BOTTOM y2=HEIGHT - BOTTOM/>
                {x_labels}
                {paths}
                {move || hover.get().map(|i| view! {
                    <line class="cursor" x1=x(i) x2=x(i) y1=TOP y2=HEIGHT - BOTTOM/>
                })}
                {targets}
            </svg>
            <p class="readout" aria-live="polite">
                {move || match hover.get() {
                    Some(i) => readouts_for_view.get(i).cloned().unwrap_or_default(),
                    None => format!("Latest: {}", readouts_for_view.last().cloned().unwrap_or_else(|| "no data".to_owned())),
                }}
            </p>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(5.0), 5.0);
        assert_eq!(nice_ceiling(0.013), 0.02);
        assert_eq!(nice_ceiling(870.0), 1000.0);
    }

    #[test]
    fn labels() {
        assert_eq!(time_label(1_796_133_600, false), "14:00");
        assert_eq!(time_label(1_796_133_600, true), "12-01 14:00");
        assert_eq!(format_rate(0.0), "0/s");
        assert_eq!(format_rate(0.05), "0.05/s");
        assert_eq!(format_rate(12.34), "12/s");
        assert_eq!(format_seconds(0.25), "250 ms");
        assert_eq!(format_seconds(0.0), "0 ms");
        assert_eq!(format_seconds(1.5), "1.50 s");
        assert_eq!(format_ratio(Some(0.0012)), "0.12%");
        assert_eq!(format_ratio(Some(0.25)), "25.0%");
        assert_eq!(format_ratio(None), "—");
    }
}
