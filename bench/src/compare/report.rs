//! The outputs of a comparison: a markdown table (also what is printed), JSON, and HTML
//! with inline SVG charts (no external assets: the file is the whole report).

use std::fmt::Write;

use super::stats::{fmt, fmt_rate, median, ratio, spread};
use super::{describe, html, CompareOpts, Row};
use crate::json::{self, Json, With};

pub(super) fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.target.name == name)
}

/// One line that says what was measured.
fn headline(opts: &CompareOpts) -> String {
    let l = &opts.load;
    let what = match opts.idle {
        Some(n) => format!(
            "{n} idle connections per target (connect, send nothing), held {}s",
            opts.hold.as_secs_f64()
        ),
        None => {
            let mode = match (l.rate, l.close) {
                (Some(r), _) => format!("open loop at {r} req/s"),
                (None, true) => "closed loop, new connection per request".to_string(),
                (None, false) => "closed loop, keep-alive".to_string(),
            };
            let body = if l.body > 0 {
                format!(", {} B request body", l.body)
            } else {
                String::new()
            };
            format!(
                "{} conns, {} thread(s), {mode}{body}, warm-up {}s + {}s measured",
                l.conns,
                l.threads,
                l.warmup.as_secs_f64(),
                l.duration.as_secs_f64()
            )
        }
    };
    let fresh = if opts.cold {
        ", every target started afresh for each round and stopped after it (each round is the cold cost)"
    } else if opts.idle.is_some() {
        ", the same processes in every round (rounds after the first reuse memory: warm)"
    } else {
        ""
    };
    format!(
        "{}: {what}; {} rounds interleaved{fresh} ({})",
        opts.scenario,
        opts.rounds,
        opts.targets
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The markdown table, the notes, the distribution and the goal verdicts.
pub fn table(opts: &CompareOpts, rows: &[Row]) -> String {
    let mut s = format!("#### {}\n\n", headline(opts));
    if opts.idle.is_some() {
        idle_table(&mut s, rows);
    } else {
        load_table(&mut s, opts, rows);
    }
    for r in rows {
        if let Some(why) = &r.dead {
            let _ = writeln!(s, "- **{}: not measured ({why})**", r.target.name);
        }
        let servers = r.servers();
        if servers.len() > 1 {
            let total: u64 = servers.iter().map(|(_, n)| n).sum();
            let parts: Vec<String> = servers
                .iter()
                .map(|(n, c)| format!("{n} {c} ({:.1}%)", 100.0 * *c as f64 / total as f64))
                .collect();
            let _ = writeln!(
                s,
                "- {} answers by server: {}",
                r.target.name,
                parts.join(", ")
            );
        }
    }
    for n in &opts.notes {
        let _ = writeln!(s, "- {n}");
    }
    for v in verdicts(opts, rows) {
        let _ = writeln!(s, "- {v}");
    }
    s
}

/// What the extra columns of a load table show: TLS handshakes (with `--close` over TLS:
/// one per request) and the --pid processes' CPU per request or per handshake.
struct Extra {
    handshakes: bool,
    cpu: bool,
}

impl Extra {
    fn of(opts: &CompareOpts, rows: &[Row]) -> Extra {
        let runs = || rows.iter().flat_map(|r| r.runs.iter());
        Extra {
            handshakes: opts.load.close && runs().any(|s| s.handshakes > 0),
            cpu: runs().any(|s| s.cpu_s.is_some()),
        }
    }
}

fn load_table(s: &mut String, opts: &CompareOpts, rows: &[Row]) {
    let base = find(rows, "haproxy");
    let direct = find(rows, "direct");
    let extra = Extra::of(opts, rows);
    s.push_str("| target | req/s median | min–max | vs haproxy | vs direct | MB/s | p50 ms | p99 ms | p99.9 ms | max ms | p99 vs haproxy |");
    let mut align = String::from("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if extra.handshakes {
        s.push_str(" handshakes/s | resumed |");
        align.push_str("---:|---:|");
    }
    let unit = if extra.handshakes { "handshake" } else { "req" };
    if extra.cpu {
        let _ = write!(s, " CPU us/{unit} | CPU vs haproxy |");
        align.push_str("---:|---:|");
    }
    s.push_str(" errors |\n");
    align.push_str("---:|\n");
    s.push_str(&align);
    let base_cpu = base.map_or(f64::NAN, |b| b.med_cpu_us(extra.handshakes));
    for r in rows {
        let rps = r.med_rps();
        let (lo, hi) = spread(&r.rps());
        let _ = write!(
            s,
            "| {} | {} | {}–{} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target.name,
            fmt_rate(rps),
            fmt_rate(lo),
            fmt_rate(hi),
            fmt(ratio(rps, base.map_or(f64::NAN, Row::med_rps)), 2),
            fmt(ratio(rps, direct.map_or(f64::NAN, Row::med_rps)), 2),
            fmt(r.med_mbps(), 1),
            fmt(r.all_pct(50.0), 3),
            fmt(r.all_pct(99.0), 3),
            fmt(r.all_pct(99.9), 3),
            fmt(r.all_pct(100.0), 1),
            fmt(
                ratio(r.all_pct(99.0), base.map_or(f64::NAN, |b| b.all_pct(99.0))),
                2
            ),
        );
        if extra.handshakes {
            let _ = write!(
                s,
                " {} | {}% |",
                fmt_rate(r.med_hs_rate()),
                fmt(100.0 * r.resumed_share(), 1)
            );
        }
        if extra.cpu {
            let cpu = r.med_cpu_us(extra.handshakes);
            let _ = write!(s, " {} | {} |", fmt(cpu, 1), fmt(ratio(cpu, base_cpu), 2));
        }
        let _ = writeln!(s, " {} |", r.errors());
    }
    s.push('\n');
}

fn idle_table(s: &mut String, rows: &[Row]) {
    let base = find(rows, "haproxy").map_or(f64::NAN, |b| median(&b.bytes_per_conn()));
    s.push_str("| target | opened | fds added (median) | RSS before MiB | RSS added MiB | bytes/conn median | min–max | vs haproxy (lower is better) |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let med = |f: &dyn Fn(&super::IdleResult) -> Option<f64>| {
            median(
                &r.idle
                    .iter()
                    .map(|i| f(i).unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            )
        };
        let per = r.bytes_per_conn();
        let (lo, hi) = spread(&per);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {}–{} | {} |",
            r.target.name,
            fmt(med(&|i| Some(i.opened as f64)), 0),
            fmt(med(&|i| i.fds_delta.map(|d| d as f64)), 0),
            fmt(med(&|i| i.rss_before_kib.map(|k| k as f64 / 1024.0)), 1),
            fmt(med(&|i| i.rss_delta_kib.map(|k| k as f64 / 1024.0)), 1),
            fmt(median(&per), 0),
            fmt(lo, 0),
            fmt(hi, 0),
            fmt(ratio(median(&per), base), 2)
        );
    }
    s.push('\n');
}

/// `--goal`: one line per ringlb target, saying plainly whether it met the goal.
pub fn verdicts(opts: &CompareOpts, rows: &[Row]) -> Vec<String> {
    let Some(goal) = opts.goal else {
        return Vec::new();
    };
    // The goal's yardstick: the fastest (median req/s) of the --goal-base targets.
    let base = opts
        .goal_base
        .iter()
        .filter_map(|n| find(rows, n))
        .filter(|r| !r.runs.is_empty() || !r.idle.is_empty())
        .max_by(|a, b| a.med_rps().total_cmp(&b.med_rps()));
    let Some(base) = base else {
        return vec![format!(
            "goal: no `{}` target to compare with",
            opts.goal_base.join("` or `")
        )];
    };
    let bname = if opts.goal_base.len() > 1 {
        format!(
            "{} (the faster of {})",
            base.target.name,
            opts.goal_base.join(", ")
        )
    } else {
        base.target.name.clone()
    };
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.target.name.starts_with("ringlb")) {
        let line = if opts.idle.is_some() {
            let (mine, theirs) = (median(&r.bytes_per_conn()), median(&base.bytes_per_conn()));
            let met = mine <= theirs;
            let which = if opts.cold {
                "cold medians: every round on fresh processes"
            } else {
                "medians over rounds on the same processes, warm after the first"
            };
            format!(
                "goal {}: {} B/conn vs {bname} {} B/conn ({which}; goal: no more than it): {}",
                r.target.name,
                fmt(mine, 0),
                fmt(theirs, 0),
                if met { "MET" } else { "**NOT MET**" }
            )
        } else {
            let x = ratio(r.med_rps(), base.med_rps());
            let p99 = ratio(r.all_pct(99.0), base.all_pct(99.0));
            let met = x >= goal && (!opts.goal_p99 || p99 <= 1.0);
            let p99_part = if opts.goal_p99 {
                format!(
                    ", p99 {}x {}'s (goal <= 1.00)",
                    fmt(p99, 2),
                    base.target.name
                )
            } else {
                String::new()
            };
            format!(
                "goal {}: {}x {bname} req/s (goal >= {goal:.2}){p99_part}: {}",
                r.target.name,
                fmt(x, 2),
                if met { "MET" } else { "**NOT MET**" }
            )
        };
        out.push(line);
    }
    out
}

pub fn json(opts: &CompareOpts, rows: &[Row]) -> Json {
    let targets: Vec<Json> = rows
        .iter()
        .map(|r| {
            let (lo, hi) = spread(&r.rps());
            json::obj()
                .with("name", r.target.name.as_str())
                .with("url", r.target.url.as_str())
                .with("dead", r.dead.clone())
                .with("rps_median", r.med_rps())
                .with("rps_min", lo)
                .with("rps_max", hi)
                .with("p50_ms_all_rounds", r.all_pct(50.0))
                .with("p99_ms_all_rounds", r.all_pct(99.0))
                .with("p999_ms_all_rounds", r.all_pct(99.9))
                .with("bytes_per_conn_median", median(&r.bytes_per_conn()))
                .with("tls_handshakes_per_s_median", r.med_hs_rate())
                .with("tls_resumed_share", r.resumed_share())
                .with("cpu_us_per_request_median", r.med_cpu_us(false))
                .with("cpu_us_per_handshake_median", r.med_cpu_us(true))
                .with(
                    "runs",
                    Json::Array(r.runs.iter().map(|s| s.to_json()).collect()),
                )
                .with(
                    "idle",
                    Json::Array(r.idle.iter().map(|i| i.to_json()).collect()),
                )
        })
        .collect();
    let about = opts
        .about
        .iter()
        .fold(crate::meta::about(), |j, (k, v)| j.with(k, v.as_str()));
    json::obj()
        .with("about", about)
        .with("options", describe(opts))
        .with("headline", headline(opts))
        .with("targets", Json::Array(targets))
        .with("verdicts", verdicts(opts, rows))
}

/// `ringlb-bench report`: one page from several `--html-fragment` files.
pub fn report_main(cmd: crate::cli::ReportCmd) -> Result<(), String> {
    let crate::cli::ReportCmd {
        out,
        title,
        intro,
        fragments: frags,
    } = cmd;
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("read {p}: {e}"));
    let mut sections = Vec::new();
    if let Some(p) = intro {
        sections.push(format!("<pre>{}</pre>\n", html::esc(&read(&p)?)));
    }
    for f in frags {
        sections.push(read(&f)?);
    }
    std::fs::write(&out, html::html_page(&title, &sections))
        .map_err(|e| format!("write {out}: {e}"))
}
