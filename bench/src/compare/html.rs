//! The HTML report: a `<section>` per scenario (bar chart, latency curves, the table as a
//! real HTML table, notes and verdicts) and the page around sections. Inline SVG, no script,
//! so the file opens anywhere and renders the same in a headless browser.
//!
//! Each target keeps one colour on every chart of a page (`colour_of` goes by name, not by
//! position), and every axis has values on it.

use std::fmt::Write;

use super::report::table;
use super::stats::{fmt_rate, median, spread};
use super::{CompareOpts, Row};

/// Colours of the targets everyone compares, fixed so pages read alike.
const KNOWN: [(&str, &str); 7] = [
    ("direct", "#9c9c9c"),
    ("haproxy", "#4e79a7"),
    ("nginx", "#59a14f"),
    ("ringlb", "#e15759"),
    ("ringlb-io_uring", "#e15759"),
    ("ringlb-legacy", "#f28e2b"),
    ("ringlb-x", "#b07aa1"),
];

/// Colours for other names, chosen by a hash of the name (the same on every chart).
const OTHERS: [&str; 6] = [
    "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#ff9da7", "#2f4b7c",
];

pub fn colour_of(name: &str) -> &'static str {
    if let Some((_, c)) = KNOWN.iter().find(|(n, _)| *n == name) {
        return c;
    }
    // FNV-1a: small, stable across runs and builds.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    OTHERS[(h % OTHERS.len() as u64) as usize]
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report's `<section>`: charts, the table, the notes.
pub fn html_section(opts: &CompareOpts, rows: &[Row]) -> String {
    // The headline is the table's own title (markdown_html), under the charts.
    let mut s = format!("<section>\n<h2>{}</h2>\n", esc(&opts.scenario));
    if opts.idle.is_some() {
        let bars: Vec<Bar> = rows
            .iter()
            .map(|r| Bar::of(&r.target.name, &r.bytes_per_conn()))
            .collect();
        s.push_str(&bar_chart(
            "memory per idle connection (bytes, median; whisker min–max)",
            &bars,
        ));
    } else {
        let bars: Vec<Bar> = rows
            .iter()
            .map(|r| Bar::of(&r.target.name, &r.rps()))
            .collect();
        s.push_str(&bar_chart(
            "throughput (req/s, median; whisker min–max)",
            &bars,
        ));
        let curves: Vec<(String, Vec<(f64, f64)>)> = rows
            .iter()
            .map(|r| (r.target.name.clone(), r.curve()))
            .collect();
        s.push_str(&latency_chart(&curves));
    }
    s.push_str(&markdown_html(&table(opts, rows)));
    s.push_str("</section>\n");
    s
}

/// A whole page around `sections`.
pub fn html_page(title: &str, sections: &[String]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\n\
         body{{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}}\n\
         pre{{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}}\n\
         table{{border-collapse:collapse;font-size:13px;margin:1em 0}}\n\
         th,td{{border:1px solid #ccc;padding:3px 7px}} th{{background:#eee}}\n\
         td.num{{text-align:right;font-variant-numeric:tabular-nums}}\n\
         td .key{{display:inline-block;width:10px;height:10px;margin-right:5px}}\n\
         svg{{display:block;margin:1em 0}} section{{border-top:1px solid #ccc;margin-top:2em}}\n\
         </style></head><body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    for sec in sections {
        s.push_str(sec);
    }
    s.push_str("</body></html>\n");
    s
}

/// The markdown `table()` writes (a `####` title, one pipe table, `- ` notes) as HTML: a
/// `<table>` with right-aligned number columns and each target's colour key, a `<ul>`.
pub fn markdown_html(md: &str) -> String {
    let mut out = String::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut right: Vec<bool> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for line in md.lines() {
        let line = line.trim();
        if let Some(title) = line.strip_prefix("#### ") {
            let _ = writeln!(out, "<h4>{}</h4>", inline(title));
        } else if line.starts_with('|') {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            if cells.iter().all(|c| c.chars().all(|ch| "-:".contains(ch))) {
                right = cells.iter().map(|c| c.ends_with(':')).collect();
            } else {
                rows.push(cells);
            }
        } else if let Some(note) = line.strip_prefix("- ") {
            notes.push(note.to_string());
        } else if !line.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(line));
        }
    }
    if let Some((head, body)) = rows.split_first() {
        out.push_str("<table>\n<tr>");
        for h in head {
            let _ = write!(out, "<th>{}</th>", inline(h));
        }
        out.push_str("</tr>\n");
        for r in body {
            out.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                if i == 0 {
                    let _ = write!(
                        out,
                        "<td><span class=\"key\" style=\"background:{}\"></span>{}</td>",
                        colour_of(c),
                        inline(c)
                    );
                } else if right.get(i).copied().unwrap_or(false) {
                    let _ = write!(out, "<td class=\"num\">{}</td>", inline(c));
                } else {
                    let _ = write!(out, "<td>{}</td>", inline(c));
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
    }
    if !notes.is_empty() {
        out.push_str("<ul>\n");
        for n in notes {
            let _ = writeln!(out, "<li>{}</li>", inline(&n));
        }
        out.push_str("</ul>\n");
    }
    out
}

/// Escapes `s` and turns markdown's `**bold**` and `` `code` `` into HTML.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    let mut code = false;
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = r;
        } else {
            let n = rest
                .find(['*', '`'])
                .filter(|&n| n > 0)
                .unwrap_or_else(|| rest.char_indices().nth(1).map_or(rest.len(), |(i, _)| i));
            out.push_str(&esc(&rest[..n]));
            rest = &rest[n..];
        }
    }
    if bold {
        out.push_str("</strong>");
    }
    if code {
        out.push_str("</code>");
    }
    out
}

struct Bar {
    name: String,
    median: f64,
    lo: f64,
    hi: f64,
}

impl Bar {
    fn of(name: &str, v: &[f64]) -> Bar {
        let (lo, hi) = spread(v);
        Bar {
            name: name.to_string(),
            median: median(v),
            lo,
            hi,
        }
    }
}

const CHART_W: f64 = 760.0;
const LABEL_W: f64 = 150.0;
const BAR_H: f64 = 26.0;

/// A round step for about five ticks up to `top` (1, 2 or 5 times a power of ten).
fn tick_step(top: f64) -> f64 {
    let raw = top / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn bar_chart(title: &str, bars: &[Bar]) -> String {
    let highest = bars
        .iter()
        .map(|b| b.hi.max(b.median))
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max)
        .max(1.0);
    let step = tick_step(highest);
    let top = (highest / step).ceil() * step;
    let plot_w = CHART_W - LABEL_W - 90.0;
    let axis_y = 30.0 + BAR_H * bars.len() as f64;
    let h = axis_y + 24.0;
    let x = |v: f64| LABEL_W + plot_w * v / top;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{h}\" font-size=\"12\">\n\
         <text x=\"0\" y=\"16\" font-weight=\"bold\">{}</text>\n",
        esc(title)
    );
    // The value axis: gridlines and labels at round steps.
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let xx = x(v);
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"26\" y2=\"{axis_y}\" stroke=\"#ddd\"/>\
             <text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            axis_y + 14.0,
            fmt_rate(v)
        );
        v += step;
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LABEL_W}\" x2=\"{:.1}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#888\"/>",
        x(top)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 30.0 + BAR_H * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 6.0,
            y + 15.0,
            esc(&b.name)
        );
        if b.median.is_finite() {
            let _ = write!(
                s,
                "<rect x=\"{LABEL_W}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\"/>\n\
                 <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\"/>\n\
                 <text x=\"{:.1}\" y=\"{}\">{}</text>\n",
                y + 3.0,
                (x(b.median) - LABEL_W).max(0.0),
                BAR_H - 8.0,
                colour_of(&b.name),
                x(b.lo),
                x(b.hi),
                y + 12.0,
                y + 12.0,
                x(b.hi) + 6.0,
                y + 15.0,
                fmt_rate(b.median)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// A latency tick label: as many decimals as the decade needs, no float noise (0.001, 10).
fn decade_label(d: i32) -> String {
    if d >= 0 {
        format!("{:.0}", 10f64.powi(d))
    } else {
        format!("{:.*}", (-d) as usize, 10f64.powi(d))
    }
}

/// Latency against percentile on a "nines" axis (50, 90, 99, 99.9 ... evenly spaced) and a
/// logarithmic latency axis whose ends are whole decades, one curve per target.
fn latency_chart(curves: &[(String, Vec<(f64, f64)>)]) -> String {
    const W: f64 = CHART_W;
    const H: f64 = 320.0;
    const L: f64 = 60.0;
    const R: f64 = 150.0;
    const T: f64 = 30.0;
    const B: f64 = 40.0;
    /// The axis ends at 99.999 (five nines); max is drawn there too.
    const NINES: f64 = 5.0;
    let nines = |p: f64| {
        if p >= 100.0 {
            NINES
        } else {
            (-(1.0 - p / 100.0).log10()).clamp(0.0, NINES)
        }
    };
    let values: Vec<f64> = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|(_, v)| *v))
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    if values.is_empty() {
        return String::new();
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let dlo = lo.log10().floor() as i32;
    let dhi = (hi.log10().ceil() as i32).max(dlo + 1);
    let x = |p: f64| L + (W - L - R) * nines(p) / NINES;
    // Clamped to the axis' own bottom decade, so every tick sits at its own height (values
    // clamped to the smallest latency drew 0.01 and 0.1 on top of each other).
    let y = |v: f64| {
        let lv = v.log10().clamp(f64::from(dlo), f64::from(dhi));
        T + (H - T - B) * (1.0 - (lv - f64::from(dlo)) / f64::from(dhi - dlo))
    };
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-size=\"12\">\n\
         <text x=\"0\" y=\"16\" font-weight=\"bold\">latency by percentile (ms, log scale; all rounds' requests)</text>\n"
    );
    for (i, label) in ["0", "90", "99", "99.9", "99.99", "99.999"]
        .iter()
        .enumerate()
    {
        let xx = L + (W - L - R) * i as f64 / NINES;
        let _ = writeln!(
            s,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{T}\" y2=\"{}\" stroke=\"#ddd\"/>\
             <text x=\"{xx:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            H - B,
            H - B + 16.0
        );
    }
    for d in dlo..=dhi {
        let yy = y(10f64.powi(d));
        let _ = writeln!(
            s,
            "<line x1=\"{L}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - R,
            L - 4.0,
            yy + 4.0,
            decade_label(d)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">percentile</text>",
        L + (W - L - R) / 2.0,
        H - 6.0
    );
    for (i, (name, c)) in curves.iter().enumerate() {
        let colour = colour_of(name);
        let pts: Vec<String> = c
            .iter()
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .map(|(p, v)| format!("{:.1},{:.1}", x(*p), y(*v)))
            .collect();
        let _ = write!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>\n",
            pts.join(" "),
            W - R + 10.0,
            T + 18.0 * i as f64,
            W - R + 26.0,
            T + 18.0 * i as f64 + 10.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keeps_its_colour() {
        assert_eq!(colour_of("haproxy"), "#4e79a7");
        assert_eq!(colour_of("someone"), colour_of("someone"));
    }

    #[test]
    fn ticks_are_round_and_decades_exact() {
        assert_eq!(tick_step(84_500.0), 20_000.0);
        assert_eq!(tick_step(4.0), 1.0);
        assert_eq!(decade_label(-2), "0.01");
        assert_eq!(decade_label(-1), "0.1");
        assert_eq!(decade_label(1), "10");
    }

    #[test]
    fn the_markdown_table_becomes_an_html_table() {
        let md = "#### keepalive: 64 conns\n\n| target | req/s | p99 ms |\n|---|---:|---:|\n\
                  | haproxy | 68.6k | 1.654 |\n| ringlb | 84.5k | 1.310 |\n\n\
                  - goal ringlb: 1.23x (goal >= 1.30): **NOT MET**\n";
        let h = markdown_html(md);
        assert!(h.contains("<h4>keepalive: 64 conns</h4>"), "{h}");
        assert!(h.contains("<th>target</th><th>req/s</th>"), "{h}");
        assert!(h.contains("<td class=\"num\">84.5k</td>"), "{h}");
        assert!(h.contains("background:#4e79a7"), "{h}");
        assert!(
            h.contains("<li>goal ringlb: 1.23x (goal &gt;= 1.30): <strong>NOT MET</strong></li>"),
            "{h}"
        );
        assert!(!h.contains("|"), "{h}");
    }

    #[test]
    fn latency_ticks_never_share_a_height() {
        let curves = vec![(
            "a".to_string(),
            vec![(50.0, 0.05), (99.0, 0.4), (100.0, 3.0)],
        )];
        let svg = latency_chart(&curves);
        let ys: Vec<&str> = svg
            .lines()
            .filter(|l| l.contains("text-anchor=\"end\""))
            .filter_map(|l| l.split("y1=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(ys.len(), 4, "0.01 0.1 1 10: {svg}");
        let mut uniq = ys.clone();
        uniq.dedup();
        assert_eq!(uniq.len(), ys.len(), "{ys:?}");
    }
}
