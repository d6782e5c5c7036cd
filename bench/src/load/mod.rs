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

pub const USAGE: &str = "\
ringlb-bench load: HTTP/1.1 load generator (monoio, thread-per-core)

USAGE:
    ringlb-bench load [OPTIONS] URL          URL: http://HOST:PORT/PATH or https://...

LOAD:
    -c, --connections N  connections (default 64)
    -t, --threads N      threads, each with its own runtime (default 1)
    --cores LIST         pin thread i to the i-th core of LIST (default: core i)
    --no-pin             do not pin threads
    --close              a new connection per request (sends Connection: close)
    --rate R             open loop: R requests/s in total, at fixed intervals per connection;
                         latency counts from each request's intended send time
                         (default: closed loop, each connection sends as soon as answered)
    --warmup S           seconds of warm-up, not measured (default 1)
    -d, --duration S     seconds measured (default 10)
    -n, --requests N     stop after N measured requests instead of a duration
    --timeout S          per-request timeout in seconds (default 5)
    --driver D           io_uring | legacy (default io_uring)

TLS (rustls client, aws-lc-rs, TLS 1.3 preferred, key exchange X25519 or P-256):
    --tls                TLS on every connection (implied by an https:// URL)
    --ca FILE            verify the server with the CA certificates in FILE (PEM)
    --insecure           accept any server certificate (the handshake signature is still
                         verified); one of --ca and --insecure is required
    --sni NAME           server name sent (SNI) and verified (default: the URL's host;
                         an IP address sends no SNI)
    --tls-resume         each connection keeps the session tickets it receives and its
                         next connection resumes with one (a returning client); without
                         it every handshake is a full one (no resumption offered)
    The three TLS modes:  --close                 a full handshake per request
                          --close --tls-resume    a resumed handshake per request
                          (neither)               keep-alive over TLS
    The report adds handshakes, handshakes/s and the resumed share (rustls' HandshakeKind).

REQUEST:
    -m, --method M       GET (default), POST, HEAD...
    --body SIZE          request body of SIZE bytes (e.g. 64k); implies POST unless -m
    -H, --header 'K: V'  extra header, repeatable (Host: overrides the URL's host)

OUTPUT:
    --cpu-pid PID[,PID]  also report the CPU time (utime + stime) of these processes over
                         the measured window, per request and per TLS handshake
    --json FILE          write the summary as JSON (with the machine, time and versions)
    --hgrm FILE          write the latencies as HdrHistogram percentile text (ms)
    -q, --quiet          no progress line

Durations take s or ms suffixes (2, 2s, 500ms); sizes take k or m (64k = 65536).
Errors are counted by kind: connect, timeout, reset (closed or reset mid-request),
bad_status (not 2xx/3xx), parse, tls (handshake failed). In open loop, requests still unanswered at the end
are counted as `unfinished`, with their wait so far in the latencies.
";

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

pub fn main(args: &[String]) -> Result<(), String> {
    let mut opts = LoadOpts::default();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            "--json" => opts.json = Some(value(&mut it, a)?),
            "--hgrm" => opts.hgrm = Some(value(&mut it, a)?),
            "-q" | "--quiet" => opts.progress = false,
            _ if a.starts_with('-') => {
                if !parse_load_flag(&mut opts, a, &mut it)? {
                    return Err(format!("load: unknown option '{a}' (see --help)"));
                }
            }
            _ => rest.push(a.clone()),
        }
    }
    match rest.as_slice() {
        [url] => opts.url = url.clone(),
        [] => return Err("load: no URL (see --help)".to_string()),
        _ => return Err(format!("load: one URL expected, got {rest:?}")),
    }
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

pub fn value<'a>(it: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<String, String> {
    it.next()
        .cloned()
        .ok_or_else(|| format!("{flag} needs a value"))
}

/// Parses one load flag (shared with `compare`); `Ok(false)` when `flag` is not one.
pub fn parse_load_flag<'a>(
    opts: &mut LoadOpts,
    flag: &str,
    it: &mut impl Iterator<Item = &'a String>,
) -> Result<bool, String> {
    match flag {
        "-c" | "--connections" => opts.conns = num(flag, &value(it, flag)?, 1, 1_000_000)? as usize,
        "-t" | "--threads" => opts.threads = num(flag, &value(it, flag)?, 1, 1024)? as usize,
        "--cores" => {
            let v = value(it, flag)?;
            let cores = v
                .split(',')
                .map(|c| num(flag, c.trim(), 0, 4095).map(|n| n as usize))
                .collect::<Result<Vec<_>, _>>()?;
            opts.cores = Some(cores);
        }
        "--no-pin" => opts.pin = false,
        "--close" => opts.close = true,
        "--rate" => {
            let v = value(it, flag)?;
            opts.rate = match v.parse::<f64>() {
                Ok(r) if r > 0.0 && r.is_finite() => Some(r),
                _ => return Err(format!("--rate {v}: expected requests per second > 0")),
            };
        }
        "--warmup" => opts.warmup = duration(flag, &value(it, flag)?)?,
        "-d" | "--duration" => opts.duration = duration(flag, &value(it, flag)?)?,
        "-n" | "--requests" => opts.requests = Some(num(flag, &value(it, flag)?, 1, u64::MAX)?),
        "--timeout" => opts.timeout = duration(flag, &value(it, flag)?)?,
        "--driver" => opts.driver = Driver::parse(&value(it, flag)?)?,
        "-m" | "--method" => {
            let m = value(it, flag)?;
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "--method {m}: expected an upper-case token like GET"
                ));
            }
            opts.method = Some(m);
        }
        "--body" => opts.body = size(flag, &value(it, flag)?)?,
        "--tls" => opts.tls.enabled = true,
        "--ca" => opts.tls.ca = Some(value(it, flag)?),
        "--insecure" => opts.tls.insecure = true,
        "--sni" => opts.tls.sni = Some(value(it, flag)?),
        "--tls-resume" => opts.tls.resume = true,
        "--cpu-pid" => {
            let v = value(it, flag)?;
            opts.cpu_pids = v
                .split(',')
                .map(|p| p.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("--cpu-pid {v}: expected PID[,PID...]"))?;
        }
        "-H" | "--header" => {
            let v = value(it, flag)?;
            let (k, val) = v
                .split_once(':')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| format!("--header {v}: expected 'Name: value'"))?;
            if v.bytes().any(|b| b < b' ' && b != b'\t') {
                return Err("--header must not contain control characters".to_string());
            }
            opts.headers
                .push((k.trim().to_string(), val.trim().to_string()));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn num(flag: &str, v: &str, min: u64, max: u64) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{flag} {v}: expected a number from {min} to {max}")),
    }
}

/// `2`, `2s`, `1.5`, `500ms`.
pub fn duration(flag: &str, v: &str) -> Result<Duration, String> {
    let (n, scale) = if let Some(ms) = v.strip_suffix("ms") {
        (ms, 0.001)
    } else {
        (v.strip_suffix('s').unwrap_or(v), 1.0)
    };
    match n.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(Duration::from_secs_f64(x * scale)),
        _ => Err(format!("{flag} {v}: expected seconds, e.g. 2, 2s or 500ms")),
    }
}

/// `100`, `64k`, `1m` (binary multiples).
pub fn size(flag: &str, v: &str) -> Result<usize, String> {
    let lower = v.to_ascii_lowercase();
    let (n, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1024),
        Some('m') => (&lower[..lower.len() - 1], 1024 * 1024),
        _ => (&lower[..], 1),
    };
    n.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n <= 1 << 30)
        .ok_or_else(|| format!("{flag} {v}: expected a size like 100, 64k or 1m (at most 1g)"))
}

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

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(duration("-d", "2").unwrap(), Duration::from_secs(2));
        assert_eq!(duration("-d", "500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(duration("-d", "1.5s").unwrap(), Duration::from_millis(1500));
        assert!(duration("-d", "x").is_err());
        assert_eq!(size("--body", "64k").unwrap(), 65536);
        assert_eq!(size("--body", "1M").unwrap(), 1 << 20);
        assert_eq!(size("--body", "10").unwrap(), 10);
        assert!(size("--body", "k").is_err());
    }
}
