//! Charts as inline SVG drawn on the server: no script, no external image, nothing for the
//! CSP to allow. Each chart is `role="img"` named by its `<title>`; the page shows the same
//! numbers in a table. Colours are the NHS palette, every mark at least 3:1 against white
//! (WCAG 1.4.11) and every text 4.5:1 (1.4.3). Presentation attributes only: the CSP forbids
//! inline styles.

use std::fmt::Write;

use domain::clock::UnixTime;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 32.0;
const BOTTOM: f64 = 48.0;
/// The plotting area's height: a bar of 100 % is this tall.
pub const PLOT_HEIGHT: f64 = HEIGHT - TOP - BOTTOM;
const PLOT_WIDTH: f64 = WIDTH - LEFT - RIGHT;

/// NHS blue (6.7:1 on white).
const BLUE: &str = "#005eb8";
/// NHS red (5.0:1), for the rollout date.
const RED: &str = "#d5281b";
/// NHS black, for text (14.9:1).
const TEXT: &str = "#212b32";
/// NHS secondary text colour, for axes (6.2:1).
const AXIS: &str = "#4c6272";
/// NHS pale grey, for grid lines (decoration only).
const GRID: &str = "#d8dde0";

/// Text for SVG (XML): the five special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The opening of a chart: its accessible name (the title) and description.
fn open(svg: &mut String, id: &str, title: &str, description: &str) {
    let id = escape(id);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"portal-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"100%\" role=\"img\" aria-labelledby=\"{id}-title\" aria-describedby=\"{id}-desc\" \
         font-family=\"inherit\" font-size=\"14\">\
         <title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        escape(title),
        escape(description)
    );
}

fn text(svg: &mut String, x: f64, y: f64, anchor: &str, fill: &str, content: &str) {
    let _ = write!(
        svg,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"{fill}\">{}</text>",
        escape(content)
    );
}

fn line(svg: &mut String, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, extra: &str) {
    let _ = write!(
        svg,
        "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\"{extra}/>"
    );
}

/// Horizontal grid lines with labels on the left, at `ticks` (fractions of the plot's
/// height, from the bottom).
fn grid(svg: &mut String, ticks: &[(f64, String)]) {
    for (fraction, label) in ticks {
        let y = TOP + PLOT_HEIGHT * (1.0 - fraction);
        line(svg, (LEFT, y), (LEFT + PLOT_WIDTH, y), GRID, "");
        text(svg, LEFT - 8.0, y + 5.0, "end", AXIS, label);
    }
    line(
        svg,
        (LEFT, TOP + PLOT_HEIGHT),
        (LEFT + PLOT_WIDTH, TOP + PLOT_HEIGHT),
        AXIS,
        "",
    );
    line(svg, (LEFT, TOP), (LEFT, TOP + PLOT_HEIGHT), AXIS, "");
}

/// One bar: a label under it and a percentage from 0 to 100.
pub struct Bar {
    pub label: String,
    pub percent: f64,
}

/// Vertical bars on a 0–100 % scale, each with its value above it and its label below.
pub fn bar_chart(id: &str, title: &str, bars: &[Bar]) -> String {
    let description = bars
        .iter()
        .map(|b| format!("{}: {:.1}%", b.label, b.percent))
        .collect::<Vec<_>>()
        .join(", ");
    let mut svg = String::with_capacity(4096);
    open(&mut svg, id, title, &description);
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| (f64::from(i) / 4.0, format!("{}%", i * 25)))
        .collect();
    grid(&mut svg, &ticks);
    let slot = PLOT_WIDTH / bars.len().max(1) as f64;
    let width = (slot * 0.6).min(96.0);
    for (i, bar) in bars.iter().enumerate() {
        let percent = if bar.percent.is_finite() {
            bar.percent.clamp(0.0, 100.0)
        } else {
            0.0
        };
        let height = PLOT_HEIGHT * percent / 100.0;
        let centre = LEFT + slot * (i as f64 + 0.5);
        let top = TOP + PLOT_HEIGHT - height;
        let _ = write!(
            svg,
            "<rect class=\"portal-chart__bar\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" \
             height=\"{height:.1}\" fill=\"{BLUE}\"/>",
            centre - width / 2.0
        );
        text(
            &mut svg,
            centre,
            top - 6.0,
            "middle",
            TEXT,
            &format!("{percent:.1}%"),
        );
        text(
            &mut svg,
            centre,
            TOP + PLOT_HEIGHT + 22.0,
            "middle",
            TEXT,
            &bar.label,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A line of cumulative totals over time, from 0 up to `ceiling` (all accounts), with a
/// dashed marker at `marker` (the rollout date) when given.
pub struct Progress<'a> {
    /// (time, cumulative count), in time order.
    pub points: &'a [(UnixTime, i64)],
    pub ceiling: i64,
    pub marker: Option<(UnixTime, String)>,
    /// How a time reads on the axis.
    pub date: &'a dyn Fn(UnixTime) -> String,
    /// How a count reads on the axis.
    pub count: &'a dyn Fn(i64) -> String,
}

pub fn progress_chart(id: &str, title: &str, description: &str, p: &Progress<'_>) -> String {
    let mut svg = String::with_capacity(8192);
    open(&mut svg, id, title, description);
    let ceiling = p
        .points
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(p.ceiling)
        .max(1);
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| {
            let fraction = f64::from(i) / 4.0;
            (
                fraction,
                (p.count)((ceiling as f64 * fraction).round() as i64),
            )
        })
        .collect();
    grid(&mut svg, &ticks);
    let times = p
        .points
        .iter()
        .map(|(t, _)| *t)
        .chain(p.marker.as_ref().map(|(t, _)| *t));
    let (start, end) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    if start > end {
        svg.push_str("</svg>");
        return svg;
    }
    // A single instant still gets a visible span.
    let end = end.max(start + 86_400);
    let x = |t: UnixTime| LEFT + PLOT_WIDTH * (t - start) as f64 / (end - start) as f64;
    let y = |n: i64| TOP + PLOT_HEIGHT * (1.0 - n as f64 / ceiling as f64);
    for i in 0..=3 {
        let t = start + (end - start) * i / 3;
        let anchor = match i {
            0 => "start",
            3 => "end",
            _ => "middle",
        };
        text(
            &mut svg,
            x(t),
            TOP + PLOT_HEIGHT + 22.0,
            anchor,
            AXIS,
            &(p.date)(t),
        );
    }
    if !p.points.is_empty() {
        let coordinates = p
            .points
            .iter()
            .map(|(t, n)| format!("{:.1},{:.1}", x(*t), y(*n)))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            svg,
            "<polyline class=\"portal-chart__line\" points=\"{coordinates}\" fill=\"none\" \
             stroke=\"{BLUE}\" stroke-width=\"3\" stroke-linejoin=\"round\"/>"
        );
    }
    if let Some((t, label)) = &p.marker {
        let mx = x(*t);
        line(
            &mut svg,
            (mx, TOP - 4.0),
            (mx, TOP + PLOT_HEIGHT),
            RED,
            " class=\"portal-chart__marker\" stroke-width=\"2\" stroke-dasharray=\"6 4\"",
        );
        // The label stays inside the chart: to the left of a line in the right half.
        let (lx, anchor) = if mx > LEFT + PLOT_WIDTH / 2.0 {
            (mx - 6.0, "end")
        } else {
            (mx + 6.0, "start")
        };
        text(&mut svg, lx, TOP - 12.0, anchor, RED, label);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of attribute `name` on every element of `class`, in order.
    fn attributes(svg: &str, class: &str, name: &str) -> Vec<String> {
        svg.split('<')
            .filter(|e| e.contains(&format!("class=\"{class}\"")))
            .filter_map(|e| {
                let start = e.find(&format!(" {name}=\""))? + name.len() + 3;
                Some(e[start..start + e[start..].find('"')?].to_string())
            })
            .collect()
    }

    #[test]
    fn bar_heights_and_labels_match_the_numbers() {
        let svg = bar_chart(
            "methods",
            "Share of accounts by method",
            &[
                Bar {
                    label: "Authenticator app".into(),
                    percent: 50.0,
                },
                Bar {
                    label: "Text message".into(),
                    percent: 25.0,
                },
                Bar {
                    label: "FIDO2 token".into(),
                    percent: 0.0,
                },
            ],
        );
        let heights = attributes(&svg, "portal-chart__bar", "height");
        assert_eq!(heights, ["120.0", "60.0", "0.0"]);
        assert_eq!(PLOT_HEIGHT, 240.0);
        // Each bar stands on the axis.
        let ys = attributes(&svg, "portal-chart__bar", "y");
        assert_eq!(ys, ["152.0", "212.0", "272.0"]);
        for label in [
            "Authenticator app",
            "50.0%",
            "Text message",
            "25.0%",
            "0.0%",
        ] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"methods-title\""));
        assert!(svg.contains("<title id=\"methods-title\">Share of accounts by method</title>"));
        assert!(svg.contains("<desc id=\"methods-desc\">Authenticator app: 50.0%, Text message: 25.0%, FIDO2 token: 0.0%</desc>"));
    }

    #[test]
    fn values_outside_0_to_100_are_drawn_within_the_chart() {
        let svg = bar_chart(
            "c",
            "t",
            &[
                Bar {
                    label: "a".into(),
                    percent: 150.0,
                },
                Bar {
                    label: "b".into(),
                    percent: f64::NAN,
                },
            ],
        );
        assert_eq!(
            attributes(&svg, "portal-chart__bar", "height"),
            ["240.0", "0.0"]
        );
    }

    #[test]
    fn text_is_escaped() {
        let svg = bar_chart(
            "c",
            "<script>alert(1)</script>",
            &[Bar {
                label: "Smith & \"Jones\" <b>".into(),
                percent: 10.0,
            }],
        );
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains(">Smith &amp; &quot;Jones&quot; &lt;b&gt;</text>"));
    }

    #[test]
    fn the_progress_line_rises_with_the_totals_and_the_rollout_date_is_marked() {
        let day = 86_400;
        let points = [(0, 0), (7 * day, 50), (14 * day, 100)];
        let date = |t: UnixTime| format!("day {}", t / day);
        let count = |n: i64| n.to_string();
        let svg = progress_chart(
            "progress",
            "Accounts enrolled over time",
            "From 0 to 100",
            &Progress {
                points: &points,
                ceiling: 200,
                marker: Some((21 * day, "MFA required from <date>".into())),
                date: &date,
                count: &count,
            },
        );
        // x spans day 0 to day 21 (the marker); y spans 0 to 200 accounts.
        let line = attributes(&svg, "portal-chart__line", "points");
        assert_eq!(line, ["80.0,272.0 258.7,212.0 437.3,152.0"]);
        assert_eq!(attributes(&svg, "portal-chart__marker", "x1"), ["616.0"]);
        assert!(svg.contains(">MFA required from &lt;date&gt;</text>"));
        for tick in ["0", "50", "100", "150", "200", "day 0", "day 21"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}");
        }
        assert!(svg.contains("aria-labelledby=\"progress-title\""));
    }

    #[test]
    fn a_progress_chart_with_nothing_to_draw_is_still_a_named_image() {
        let date = |t: UnixTime| t.to_string();
        let count = |n: i64| n.to_string();
        let svg = progress_chart(
            "p",
            "Nothing yet",
            "No enrolments",
            &Progress {
                points: &[],
                ceiling: 0,
                marker: None,
                date: &date,
                count: &count,
            },
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"p-title\">Nothing yet</title>"));
    }
}
