//! `ringlb-bench compare`: one scenario against several targets, in interleaved rounds
//! (A B C D, A B C D, ...) so that a machine drifting during the run favours no one.
//!
//! Module map:
//! - this file: options and the rounds;
//! - `stats.rs`: medians, spreads, ratios;
//! - `idle.rs`: the idle-connections scenario (memory per connection from /proc);
//! - `report.rs`: the table (text/markdown), the JSON, the HTML with inline SVG.

mod html;
mod idle;
mod report;
pub mod stats;

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::json::{self, Json, With};
use crate::load::{self, LoadOpts, Summary};
pub use idle::{IdleHow, IdleResult};
pub use report::report_main;
use stats::median;

#[derive(Clone, Debug)]
pub struct TargetSpec {
    pub name: String,
    pub url: String,
    pub pids: Vec<u32>,
}

/// Everything measured for one target.
#[derive(Clone, Debug)]
pub struct Row {
    pub target: TargetSpec,
    pub runs: Vec<Summary>,
    pub idle: Vec<IdleResult>,
    /// Why this target stopped being measured.
    pub dead: Option<String>,
}

impl Row {
    pub fn rps(&self) -> Vec<f64> {
        self.runs.iter().map(|s| s.rps).collect()
    }

    pub fn med_rps(&self) -> f64 {
        median(&self.rps())
    }

    pub fn med_mbps(&self) -> f64 {
        median(&self.runs.iter().map(|s| s.mbps).collect::<Vec<_>>())
    }

    /// Every round's requests in one histogram (percentiles of all of them, not a median of
    /// each round's); `None` when no round kept its histogram.
    pub fn merged(&self) -> Option<Histogram<u64>> {
        let mut hists = self.runs.iter().filter_map(|s| s.hist.as_ref());
        let mut all = hists.next()?.clone();
        for h in hists {
            let _ = all.add(h);
        }
        Some(all)
    }

    /// Latency in ms at percentile `p` over every round's requests together.
    pub fn all_pct(&self, p: f64) -> f64 {
        match self.merged() {
            Some(h) => load::stats::hist_pct_ms(&h, p),
            None => median(&self.runs.iter().map(|s| s.pct(p)).collect::<Vec<_>>()),
        }
    }

    /// The latency curve over every round's requests together (else the median per point).
    pub fn curve(&self) -> Vec<(f64, f64)> {
        if let Some(h) = self.merged() {
            return load::stats::CURVE
                .iter()
                .map(|&p| (p, load::stats::hist_pct_ms(&h, p)))
                .collect();
        }
        let Some(first) = self.runs.first() else {
            return Vec::new();
        };
        (0..first.curve_ms.len())
            .map(|i| {
                let v: Vec<f64> = self.runs.iter().map(|s| s.curve_ms[i].1).collect();
                (first.curve_ms[i].0, median(&v))
            })
            .collect()
    }

    /// Median over rounds of the handshakes per second.
    pub fn med_hs_rate(&self) -> f64 {
        median(&self.runs.iter().map(|s| s.hs_rate).collect::<Vec<_>>())
    }

    /// Resumed handshakes over all rounds, as a share of all handshakes (NaN without any).
    pub fn resumed_share(&self) -> f64 {
        let hs: u64 = self.runs.iter().map(|s| s.handshakes).sum();
        let resumed: u64 = self.runs.iter().map(|s| s.resumed).sum();
        if hs == 0 {
            f64::NAN
        } else {
            resumed as f64 / hs as f64
        }
    }

    /// Median over rounds of the --pid processes' CPU microseconds per request, or per
    /// handshake with `per_handshake`.
    pub fn med_cpu_us(&self, per_handshake: bool) -> f64 {
        let v: Vec<f64> = self
            .runs
            .iter()
            .map(|s| {
                if per_handshake {
                    s.cpu_us_per_handshake()
                } else {
                    s.cpu_us_per_request()
                }
            })
            .collect();
        median(&v)
    }

    pub fn errors(&self) -> u64 {
        self.runs
            .iter()
            .map(|s| s.errors_total + s.unfinished)
            .sum()
    }

    pub fn bytes_per_conn(&self) -> Vec<f64> {
        self.idle
            .iter()
            .map(|r| r.bytes_per_conn().unwrap_or(f64::NAN))
            .collect()
    }

    /// Answers per `x-server` over all rounds.
    pub fn servers(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = Vec::new();
        for s in &self.runs {
            for (name, n) in &s.servers {
                match all.iter_mut().find(|(m, _)| m == name) {
                    Some(e) => e.1 += n,
                    None => all.push((name.clone(), *n)),
                }
            }
        }
        all.sort();
        all
    }
}

/// The options of one comparison.
#[derive(Clone, Debug)]
pub struct CompareOpts {
    pub load: LoadOpts,
    pub targets: Vec<TargetSpec>,
    pub rounds: usize,
    pub pause: Duration,
    pub idle: Option<usize>,
    pub hold: Duration,
    pub idle_how: IdleHow,
    pub idle_record: Option<String>,
    pub idle_replay: Option<String>,
    pub cold: bool,
    pub scenario: String,
    pub notes: Vec<String>,
    pub goal: Option<f64>,
    pub goal_p99: bool,
    /// The targets the goal is measured against (the fastest of them); default `haproxy`.
    pub goal_base: Vec<String>,
    pub json: Option<String>,
    pub hgrm: Option<String>,
    pub about: Vec<(String, String)>,
    pub html: Option<String>,
    pub html_fragment: Option<String>,
    pub markdown: Option<String>,
}

pub fn main(opts: CompareOpts) -> Result<(), String> {
    let rows = run(&opts)?;
    let text = report::table(&opts, &rows);
    println!("\n{text}");
    if let Some(p) = &opts.markdown {
        write(p, &text)?;
    }
    if let Some(p) = &opts.json {
        write(p, &(report::json(&opts, &rows).to_string() + "\n"))?;
    }
    if let Some(prefix) = &opts.hgrm {
        for r in &rows {
            if let Some(h) = r.merged() {
                let name = format!("{prefix}-{}.hgrm", r.target.name);
                write(&name, &load::stats::hgrm(&h))?;
            }
        }
    }
    let section = html::html_section(&opts, &rows);
    if let Some(p) = &opts.html_fragment {
        write(p, &section)?;
    }
    if let Some(p) = &opts.html {
        write(p, &html::html_page(&opts.scenario, &[section]))?;
    }
    Ok(())
}

fn write(path: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {path}: {e}"))
}

/// The rounds: every target once per round, in the order given.
pub fn run(opts: &CompareOpts) -> Result<Vec<Row>, String> {
    let mut replay = match &opts.idle_replay {
        Some(p) => Some(read_records(p)?),
        None => None,
    };
    let mut rows: Vec<Row> = opts
        .targets
        .iter()
        .map(|t| Row {
            target: t.clone(),
            runs: Vec::new(),
            idle: Vec::new(),
            dead: None,
        })
        .collect();
    for round in 1..=opts.rounds {
        for row in rows.iter_mut().filter(|r| r.dead.is_none()) {
            if let Some(pid) = row.target.pids.iter().find(|p| !alive(**p)) {
                row.dead = Some(format!("process {pid} exited before round {round}"));
                eprintln!(
                    "compare: {}: {}",
                    row.target.name,
                    row.dead.as_ref().unwrap()
                );
                continue;
            }
            let line = match (opts.idle, replay.as_mut()) {
                (Some(_), Some(records)) => replay_idle(records, row, round),
                (Some(n), None) => run_idle(opts, row, n),
                (None, _) => run_load(opts, row),
            };
            eprintln!(
                "round {round}/{}  {:<18} {line}",
                opts.rounds, row.target.name
            );
            if replay.is_none() {
                std::thread::sleep(opts.pause);
            }
        }
    }
    Ok(rows)
}

/// The lines of an `--idle-record` file, in order.
fn read_records(path: &str) -> Result<Vec<(String, IdleResult)>, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("--idle-replay {path}: {e}"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(IdleResult::from_record)
        .collect()
}

/// The next recorded measurement of this target (its round `round`).
fn replay_idle(records: &mut Vec<(String, IdleResult)>, row: &mut Row, round: usize) -> String {
    match records.iter().position(|(n, _)| *n == row.target.name) {
        Some(i) => {
            let (_, r) = records.remove(i);
            let line = idle_line(&r);
            row.idle.push(r);
            format!("{line}  (recorded)")
        }
        None => {
            row.dead = Some(format!("no recorded measurement for round {round}"));
            format!("failed: {}", row.dead.as_ref().unwrap())
        }
    }
}

fn idle_line(r: &IdleResult) -> String {
    let servers = r
        .server_conns
        .map_or(String::new(), |n| format!("  server conns {n}"));
    format!(
        "opened {} (failed {})  fds +{}  RSS +{} KiB  {} B/conn{servers}",
        r.opened,
        r.failed,
        r.fds_delta.map_or("-".into(), |d| d.to_string()),
        r.rss_delta_kib.map_or("-".into(), |d| d.to_string()),
        stats::fmt(r.bytes_per_conn().unwrap_or(f64::NAN), 0)
    )
}

fn run_load(opts: &CompareOpts, row: &mut Row) -> String {
    let load = LoadOpts {
        url: row.target.url.clone(),
        cpu_pids: row.target.pids.clone(),
        ..opts.load.clone()
    };
    match load::run(&load) {
        Ok(s) => {
            let mut line = format!(
                "{:>10.0} req/s  {:>8.1} MB/s  p50 {:.3} ms  p99 {:.3} ms  errors {}",
                s.rps,
                s.mbps,
                s.pct(50.0),
                s.pct(99.0),
                s.errors_total + s.unfinished
            );
            if s.handshakes > 0 && opts.load.close {
                let share = 100.0 * s.resumed_share();
                line.push_str(&format!("  {:.0} hs/s, {share:.0}% resumed", s.hs_rate));
            }
            if s.cpu_s.is_some() {
                line.push_str(&format!(
                    "  cpu {} us/req",
                    stats::fmt(s.cpu_us_per_request(), 1)
                ));
            }
            row.runs.push(s);
            line
        }
        Err(e) => {
            row.dead = Some(e.clone());
            format!("failed: {e}")
        }
    }
}

fn run_idle(opts: &CompareOpts, row: &mut Row, n: usize) -> String {
    match idle::measure(
        &row.target.url,
        n,
        opts.hold,
        &row.target.pids,
        &opts.idle_how,
    ) {
        Ok(r) => {
            let mut line = idle_line(&r);
            if let Some(p) = &opts.idle_record {
                if let Err(e) = append(p, &(r.to_record(&row.target.name) + "\n")) {
                    line = format!("{line}  (not recorded: {e})");
                }
            }
            row.idle.push(r);
            line
        }
        Err(e) => {
            row.dead = Some(e.clone());
            format!("failed: {e}")
        }
    }
}

fn append(path: &str, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("write {path}: {e}"))
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            // The state follows the parenthesised command name; Z is a zombie (exited).
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// The options that matter for reading the numbers, for the reports.
pub fn describe(opts: &CompareOpts) -> Json {
    json::obj()
        .with("scenario", opts.scenario.as_str())
        .with("rounds", opts.rounds)
        .with("idle", opts.idle)
        .with("idle_request", opts.idle_how.request)
        .with("hold_s", opts.hold.as_secs_f64())
        .with("cold", opts.cold)
        .with("load", opts.load.to_json())
        .with("goal_base", opts.goal_base.clone())
        .with("notes", opts.notes.clone())
}
