//! `compare` and `report`.

use std::time::Duration;

use clap::Args;

use super::load::LoadArgs;
use crate::compare::{CompareOpts, IdleHow, TargetSpec};

/// One scenario against several targets, interleaved rounds
#[derive(Args, Debug)]
#[command(after_help = COMPARE_NOTES)]
pub struct CompareCmd {
    /// A target NAME=URL, repeatable; rounds run them in the order given. Ratios are taken to
    /// the targets named `haproxy` and `direct`
    #[arg(long = "target", value_name = "NAME=URL", required = true, value_parser = target,
          help_heading = "Targets")]
    pub targets: Vec<(String, String)>,
    /// Processes of a target NAME=PID[,PID]: a target whose processes died is reported and
    /// skipped; their CPU per request is reported; the idle scenario reads their memory and fds
    #[arg(long = "pid", value_name = "NAME=PID[,PID]", value_parser = name_pids, help_heading = "Targets")]
    pub pids: Vec<(String, Vec<u32>)>,

    /// Rounds; each round runs every target once
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u64).range(1..), help_heading = "Rounds")]
    pub rounds: u64,
    /// Pause between runs, letting sockets settle
    #[arg(long, value_name = "S", default_value = "0.5", value_parser = super::duration, help_heading = "Rounds")]
    pub pause: Duration,
    /// Idle scenario: instead of a load, open N connections that send nothing, wait --hold,
    /// then read VmRSS and the fd count of --pid
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Rounds")]
    pub idle: Option<u64>,
    /// Idle scenario: wait after the last connect
    #[arg(long, value_name = "S", default_value = "2", value_parser = super::duration, help_heading = "Rounds")]
    pub hold: Duration,
    /// Idle scenario: each connection first sends one GET of the URL's path and reads its
    /// response, then idles (keep-alive clients)
    #[arg(long, requires = "idle", help_heading = "Rounds")]
    pub idle_request: bool,
    /// Idle scenario: also count the established connections to port P (e.g. the
    /// backend's: the target's server connections), with ss
    #[arg(long, value_name = "P", requires = "idle", help_heading = "Rounds")]
    pub idle_server_port: Option<u16>,
    /// Idle scenario: also append each measurement to FILE, one line per run (NAME OPENED
    /// FAILED FDS_ADDED RSS_BEFORE_KIB RSS_ADDED_KIB)
    #[arg(long, value_name = "FILE", requires = "idle", help_heading = "Rounds")]
    pub idle_record: Option<String>,
    /// Idle scenario: measure nothing; report the measurements in FILE instead, the k-th
    /// line of a target being its round k (with --idle-record per run, a caller can start
    /// every target afresh for every round and still get one table)
    #[arg(long, value_name = "FILE", requires = "idle", help_heading = "Rounds")]
    pub idle_replay: Option<String>,
    /// Idle scenario: the caller started every target afresh for every round, so each round
    /// is the cold cost; the reports say so
    #[arg(long, requires = "idle", help_heading = "Rounds")]
    pub cold: bool,

    /// Scenario name for the reports
    #[arg(
        long,
        value_name = "NAME",
        default_value = "custom",
        help_heading = "Output"
    )]
    pub scenario: String,
    /// A line printed under the table and in the reports, repeatable
    #[arg(long = "note", value_name = "TEXT", help_heading = "Output")]
    pub notes: Vec<String>,
    /// For targets named ringlb*: req/s must be >= R x haproxy (idle: bytes per connection
    /// <= haproxy's); the verdict is printed
    #[arg(long, value_name = "R", value_parser = super::positive, help_heading = "Output")]
    pub goal: Option<f64>,
    /// Also require p99 no worse than haproxy's
    #[arg(long, help_heading = "Output")]
    pub goal_p99: bool,
    /// Compare the goal with the fastest (median req/s) of these targets instead of
    /// haproxy, e.g. haproxy,nginx (the p99 too)
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "haproxy",
        help_heading = "Output"
    )]
    pub goal_base: Vec<String>,
    /// Every run and the medians, as JSON (with the machine, time and versions)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<String>,
    /// Each target's latencies over all rounds as HdrHistogram percentile text,
    /// PREFIX-TARGET.hgrm (values in ms)
    #[arg(long, value_name = "PREFIX", help_heading = "Output")]
    pub hgrm: Option<String>,
    /// A fact about the run for the JSON's "about" (e.g. haproxy=2.6.12), repeatable;
    /// machine, time and this harness's version and commit are always recorded
    #[arg(long, value_name = "KEY=VALUE", value_parser = super::pair, help_heading = "Output")]
    pub about: Vec<(String, String)>,
    /// A self-contained HTML report (inline SVG)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub html: Option<String>,
    /// The report's <section> only (for `ringlb-bench report`)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub html_fragment: Option<String>,
    /// The table as markdown
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub markdown: Option<String>,

    #[command(flatten)]
    pub load: LoadArgs,
}

const COMPARE_NOTES: &str = "\
The load options are those of `ringlb-bench load`; the URL's path comes from each target.
The progress line is off; one line per run instead.

CPU: the --pid processes of each target are also read (utime + stime, /proc/PID/stat) at the
start and the end of each measured window; the table adds their CPU microseconds per request
(per handshake for TLS with --close) and its ratio to haproxy's (lower is cheaper). With TLS
the table adds handshakes/s and the resumed share. req/s and CPU are medians over rounds;
latency percentiles are over every round's requests together.";

fn target(v: &str) -> Result<(String, String), String> {
    let (name, url) = super::pair(v).map_err(|_| "expected NAME=URL".to_string())?;
    crate::load::stream::Target::parse(&url)?;
    Ok((name, url))
}

fn name_pids(v: &str) -> Result<(String, Vec<u32>), String> {
    let (name, list) = super::pair(v).map_err(|_| "expected NAME=PID[,PID]".to_string())?;
    Ok((name, super::pids(&list)?))
}

impl CompareCmd {
    pub fn into_opts(self) -> Result<CompareOpts, String> {
        let mut targets: Vec<TargetSpec> = self
            .targets
            .into_iter()
            .map(|(name, url)| TargetSpec {
                name,
                url,
                pids: Vec::new(),
            })
            .collect();
        for (name, list) in self.pids {
            let t = targets
                .iter_mut()
                .find(|t| t.name == name)
                .ok_or_else(|| format!("--pid {name}=...: no target named {name}"))?;
            t.pids = list;
        }
        let goal_base: Vec<String> = self
            .goal_base
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        if goal_base.is_empty() {
            return Err("--goal-base: expected target names".to_string());
        }
        let mut load = self.load.into_opts(String::new(), Duration::from_secs(10));
        load.progress = false;
        Ok(CompareOpts {
            load,
            targets,
            rounds: self.rounds as usize,
            pause: self.pause,
            idle: self.idle.map(|n| n as usize),
            hold: self.hold,
            idle_how: IdleHow {
                request: self.idle_request,
                server_port: self.idle_server_port,
            },
            idle_record: self.idle_record,
            idle_replay: self.idle_replay,
            cold: self.cold,
            scenario: self.scenario,
            notes: self.notes,
            goal: self.goal,
            goal_p99: self.goal_p99,
            goal_base,
            json: self.json,
            hgrm: self.hgrm,
            about: self.about,
            html: self.html,
            html_fragment: self.html_fragment,
            markdown: self.markdown,
        })
    }
}

/// One self-contained HTML page from compare --html-fragment files
#[derive(Args, Debug)]
pub struct ReportCmd {
    /// The page to write
    #[arg(long, value_name = "FILE")]
    pub out: String,
    /// The page's title
    #[arg(long, value_name = "TEXT", default_value = "ringlb-bench report")]
    pub title: String,
    /// Plain text shown first (in <pre>), e.g. the machine and the command
    #[arg(long, value_name = "FILE")]
    pub intro: Option<String>,
    /// `compare --html-fragment` files, in page order
    #[arg(value_name = "FRAGMENT")]
    pub fragments: Vec<String>,
}
