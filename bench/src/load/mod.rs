//! `ringlb-bench load`: an HTTP/1.1 load generator (thread-per-core, monoio).
//!
//! Module map:
//! - this file: options and the run (threads, warm-up, the progress line, the summary);
//! - `client.rs`: one thread's connections: send, read, record;
//! - `http.rs`: request bytes and response framing;
//! - `stream.rs`: target URL, connect, the stream enum (plain or TLS);
//! - `tls.rs`: the TLS client (rustls, aws-lc-rs) and its stream over monoio's TcpStream;
//! - `cpu.rs`: CPU time of other processes (`--cpu-pid`, a proxy's cost per request);
//! - `ramp.rs`: `ringlb-bench ramp`, rising open-loop rates until p99 or errors break;
//! - `schedule.rs`: open-loop send times (no coordinated omission);
//! - `stats.rs`: histogram, errors by kind, the summary and its JSON.
//!
//! Threads share only the immutable plan and a few atomic counters for the progress line;
//! each keeps its own histogram, merged at the end.

mod client;
pub mod cpu;
pub mod http;
pub mod ramp;
pub mod schedule;
pub mod stats;
pub mod stream;
pub mod tls;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::json::{self, Json, With};
use crate::runtime::{self, Driver};
use client::{Live, Plan};
pub use stats::Summary;
use stream::Target;
use tls::{TlsClient, TlsOpts};

/// Everything one run needs.
#[derive(Clone, Debug)]
pub struct LoadOpts {
    pub url: String,
    pub conns: usize,
    pub threads: usize,
    pub cores: Option<Vec<usize>>,
    pub pin: bool,
    pub close: bool,
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub duration: Duration,
    pub requests: Option<u64>,
    pub timeout: Duration,
    pub driver: Driver,
    pub method: Option<String>,
    pub body: usize,
    pub headers: Vec<(String, String)>,
    pub json: Option<String>,
    pub hgrm: Option<String>,
    pub progress: bool,
    pub tls: TlsOpts,
    /// Processes whose CPU time is measured over the window (`--cpu-pid`).
    pub cpu_pids: Vec<u32>,
}

impl Default for LoadOpts {
    fn default() -> Self {
        LoadOpts {
            url: String::new(),
            conns: 64,
            threads: 1,
            cores: None,
            pin: true,
            close: false,
            rate: None,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            requests: None,
            timeout: Duration::from_secs(5),
            driver: Driver::IoUring,
            method: None,
            body: 0,
            headers: Vec::new(),
            json: None,
            hgrm: None,
            progress: true,
            tls: TlsOpts::default(),
            cpu_pids: Vec::new(),
        }
    }
}

impl LoadOpts {
    pub fn to_json(&self) -> Json {
        json::obj()
            .with("url", self.url.as_str())
            .with("connections", self.conns)
            .with("threads", self.threads)
            .with("close", self.close)
            .with("rate", self.rate)
            .with("warmup_s", self.warmup.as_secs_f64())
            .with("duration_s", self.duration.as_secs_f64())
            .with("requests", self.requests)
            .with("method", self.method())
            .with("body", self.body)
            .with("tls", self.tls.enabled || self.url.starts_with("https://"))
            .with("tls_resume", self.tls.resume)
    }

    fn method(&self) -> String {
        self.method
            .clone()
            .unwrap_or_else(|| if self.body > 0 { "POST" } else { "GET" }.to_string())
    }
}

/// `ringlb-bench load`: one run, its report, its JSON and .hgrm files.
pub fn main(opts: LoadOpts) -> Result<(), String> {
    let summary = run(&opts)?;
    println!("{}", summary.print());
    if let (Some(path), Some(h)) = (&opts.hgrm, &summary.hist) {
        std::fs::write(path, stats::hgrm(h)).map_err(|e| format!("write {path}: {e}"))?;
    }
    if let Some(path) = &opts.json {
        let j = json::obj()
            .with("about", crate::meta::about())
            .with("options", opts.to_json())
            .with("result", summary.to_json());
        std::fs::write(path, j.to_string() + "\n").map_err(|e| format!("write {path}: {e}"))?;
    }
    if summary.requests == 0 && summary.errors_total > 0 {
        // A script must not mistake a run against a dead target for a measurement.
        return Err(format!(
            "every request failed ({} errors, 0 answered)",
            summary.errors_total
        ));
    }
    Ok(())
}

/// Parses one load flag (shared with `compare`); `Ok(false)` when `flag` is not one.
/// Connections `(first, count)` of thread `t`: as even a split as possible.
pub fn split(conns: usize, threads: usize, t: usize) -> (usize, usize) {
    let base = conns / threads;
    let extra = conns % threads;
    let first = t * base + t.min(extra);
    (first, base + usize::from(t < extra))
}

/// Runs one load and returns its summary.
pub fn run(opts: &LoadOpts) -> Result<Summary, String> {
    let mut target = Target::parse(&opts.url)?;
    if opts.tls.enabled || target.scheme == stream::Scheme::Https {
        let client = TlsClient::new(&opts.tls, target.host())?;
        target = target.with_tls(client);
    } else if opts.tls.ca.is_some()
        || opts.tls.insecure
        || opts.tls.sni.is_some()
        || opts.tls.resume
    {
        return Err(
            "--ca, --insecure, --sni and --tls-resume need --tls (or an https:// URL)".to_string(),
        );
    }
    let spec = http::RequestSpec {
        method: opts.method(),
        path: target.path.clone(),
        host: target.authority.clone(),
        headers: opts.headers.clone(),
        body_size: opts.body,
        close: opts.close,
    };
    let threads = opts.threads.min(opts.conns);
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let plan = Arc::new(Plan {
        request: spec.build(),
        expects_body: spec.expects_body(),
        target,
        close: opts.close,
        conns: opts.conns,
        rate: opts.rate,
        start,
        measure_from,
        end: opts
            .requests
            .is_none()
            .then(|| measure_from + opts.duration),
        timeout: opts.timeout,
    });
    let live = Arc::new(Live {
        budget: opts.requests.map(AtomicU64::new),
        ..Live::default()
    });
    let mut handles = Vec::new();
    for t in 0..threads {
        let (first, count) = split(opts.conns, threads, t);
        let core = opts
            .pin
            .then(|| opts.cores.as_ref().map_or(t, |c| c[t % c.len()]));
        let (plan, live, driver) = (plan.clone(), live.clone(), opts.driver);
        let h = std::thread::Builder::new()
            .name(format!("load-{t}"))
            .spawn(move || {
                runtime::pin(core);
                runtime::block_on(driver, || {
                    client::run_thread(plan.clone(), live.clone(), first, count)
                })
            })
            .map_err(|e| format!("spawn thread: {e}"))?;
        handles.push(h);
    }
    // The CPU of --cpu-pid is read when the measured window opens (by a helper thread, as
    // the progress line holds this one) and again once the load threads are done.
    let cpu_start = (!opts.cpu_pids.is_empty()).then(|| {
        let (pids, from) = (opts.cpu_pids.clone(), measure_from);
        std::thread::spawn(move || {
            std::thread::sleep(from.saturating_duration_since(Instant::now()));
            cpu::seconds(&pids)
        })
    });
    if opts.progress {
        progress(&plan, &live, &handles);
    }
    let mut stats = stats::Stats::default();
    for h in handles {
        let s = h
            .join()
            .map_err(|_| "a load thread panicked".to_string())??;
        stats.merge(&s);
    }
    let seconds = match plan.end {
        Some(_) => opts.duration.as_secs_f64(),
        None => {
            let last = Duration::from_nanos(live.last_done_ns.load(Ordering::Relaxed));
            (start + last)
                .saturating_duration_since(measure_from)
                .as_secs_f64()
        }
    };
    let mut summary = Summary::new(&stats, seconds);
    if let Some(h) = cpu_start {
        let start = h
            .join()
            .map_err(|_| "the CPU sampler panicked".to_string())?;
        match (start, cpu::seconds(&opts.cpu_pids)) {
            (Ok(a), Ok(b)) => summary.cpu_s = Some((b - a).max(0.0)),
            (Err(e), _) | (_, Err(e)) => eprintln!("ringlb-bench: --cpu-pid: {e}; no CPU figure"),
        }
    }
    Ok(summary)
}

/// Once a second on stderr: elapsed, phase, req/s, errors; until every thread is done.
fn progress<T>(plan: &Plan, live: &Live, handles: &[std::thread::JoinHandle<T>]) {
    const TICK: Duration = Duration::from_millis(100);
    let mut last_report = plan.start;
    let (mut last_done, mut last_errors) = (0, 0);
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(TICK);
        let now = Instant::now();
        if now - last_report < Duration::from_secs(1) {
            continue;
        }
        let done = live.completed.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let secs = (now - last_report).as_secs_f64();
        let phase = if now < plan.measure_from {
            "warmup"
        } else {
            "run"
        };
        eprintln!(
            "[{:6.1}s] {phase:6} {:9.0} req/s  errors {} (total {errors})",
            (now - plan.start).as_secs_f64(),
            (done - last_done) as f64 / secs,
            errors - last_errors,
        );
        (last_report, last_done, last_errors) = (now, done, errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_connections_evenly() {
        let parts: Vec<_> = (0..3).map(|t| split(10, 3, t)).collect();
        assert_eq!(parts, vec![(0, 4), (4, 3), (7, 3)]);
    }
}
