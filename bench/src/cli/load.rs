//! The load options (shared by `load`, `ramp` and `compare`), and the `load` and `ramp`
//! subcommands.

use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::load::tls::TlsOpts;
use crate::load::LoadOpts;
use crate::runtime::Driver;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DriverArg {
    #[value(name = "io_uring", alias = "iouring", alias = "uring")]
    IoUring,
    #[value(alias = "epoll")]
    Legacy,
}

impl From<DriverArg> for Driver {
    fn from(d: DriverArg) -> Driver {
        match d {
            DriverArg::IoUring => Driver::IoUring,
            DriverArg::Legacy => Driver::Legacy,
        }
    }
}

/// How the load is generated and what each request is.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// Connections
    #[arg(short = 'c', long = "connections", value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000), help_heading = "Load")]
    pub conns: u64,
    /// Threads, each with its own runtime
    #[arg(short = 't', long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=1024), help_heading = "Load")]
    pub threads: u64,
    /// Pin thread i to the i-th core of LIST (default: core i)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = super::core,
          help_heading = "Load")]
    pub cores: Option<Vec<usize>>,
    /// Do not pin threads
    #[arg(long, help_heading = "Load")]
    pub no_pin: bool,
    /// A new connection per request (sends Connection: close)
    #[arg(long, help_heading = "Load")]
    pub close: bool,
    /// Open loop: R requests/s in total, at fixed intervals per connection; latency counts
    /// from each request's intended send time (default: closed loop)
    #[arg(long, value_name = "R", value_parser = super::positive, help_heading = "Load")]
    pub rate: Option<f64>,
    /// Seconds of warm-up, not measured
    #[arg(long, value_name = "S", default_value = "1", value_parser = super::duration, help_heading = "Load")]
    pub warmup: Duration,
    /// Seconds measured (default 10; ramp: 3 per step)
    #[arg(short = 'd', long, value_name = "S", value_parser = super::duration, help_heading = "Load")]
    pub duration: Option<Duration>,
    /// Stop after N measured requests instead of a duration
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..),
          help_heading = "Load")]
    pub requests: Option<u64>,
    /// Per-request timeout in seconds
    #[arg(long, value_name = "S", default_value = "5", value_parser = super::duration, help_heading = "Load")]
    pub timeout: Duration,
    /// Runtime driver
    #[arg(long, value_enum, default_value = "io_uring", help_heading = "Load")]
    pub driver: DriverArg,

    /// GET (default), POST, HEAD...
    #[arg(short = 'm', long, value_name = "M", value_parser = method, help_heading = "Request")]
    pub method: Option<String>,
    /// Request body of SIZE bytes (e.g. 64k); implies POST unless -m
    #[arg(long, value_name = "SIZE", default_value = "0", value_parser = super::size, help_heading = "Request")]
    pub body: usize,
    /// Extra header 'Name: value', repeatable (Host: overrides the URL's host)
    #[arg(short = 'H', long = "header", value_name = "K: V", value_parser = header, help_heading = "Request")]
    pub headers: Vec<(String, String)>,

    /// TLS on every connection (implied by an https:// URL)
    #[arg(long, help_heading = "TLS (rustls, aws-lc-rs)")]
    pub tls: bool,
    /// Verify the server with the CA certificates in FILE (PEM)
    #[arg(long, value_name = "FILE", help_heading = "TLS (rustls, aws-lc-rs)")]
    pub ca: Option<String>,
    /// Accept any server certificate (the handshake signature is still verified); one of
    /// --ca and --insecure is required
    #[arg(long, help_heading = "TLS (rustls, aws-lc-rs)")]
    pub insecure: bool,
    /// Server name sent (SNI) and verified (default: the URL's host; an IP sends no SNI)
    #[arg(long, value_name = "NAME", help_heading = "TLS (rustls, aws-lc-rs)")]
    pub sni: Option<String>,
    /// Each connection keeps the tickets it receives and its next connection resumes with
    /// one; without it every handshake is a full one
    #[arg(long, help_heading = "TLS (rustls, aws-lc-rs)")]
    pub tls_resume: bool,

    /// Also report the CPU time (utime + stime) of these processes over the measured window,
    /// per request and per TLS handshake
    #[arg(long, value_name = "PID[,PID]", value_delimiter = ',', value_parser = super::pid,
          help_heading = "Output")]
    pub cpu_pid: Option<Vec<u32>>,
}

impl LoadArgs {
    /// The run's options; `default_duration` when -d is not given.
    pub fn into_opts(self, url: String, default_duration: Duration) -> LoadOpts {
        LoadOpts {
            url,
            conns: self.conns as usize,
            threads: self.threads as usize,
            cores: self.cores,
            pin: !self.no_pin,
            close: self.close,
            rate: self.rate,
            warmup: self.warmup,
            duration: self.duration.unwrap_or(default_duration),
            requests: self.requests,
            timeout: self.timeout,
            driver: self.driver.into(),
            method: self.method,
            body: self.body,
            headers: self.headers,
            json: None,
            hgrm: None,
            progress: true,
            tls: TlsOpts {
                enabled: self.tls,
                ca: self.ca,
                insecure: self.insecure,
                sni: self.sni,
                resume: self.tls_resume,
            },
            cpu_pids: self.cpu_pid.unwrap_or_default(),
        }
    }
}

fn method(m: &str) -> Result<String, String> {
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("expected an upper-case token like GET".to_string());
    }
    Ok(m.to_string())
}

fn header(v: &str) -> Result<(String, String), String> {
    let (k, val) = v
        .split_once(':')
        .filter(|(k, _)| !k.trim().is_empty())
        .ok_or_else(|| "expected 'Name: value'".to_string())?;
    if v.bytes().any(|b| b < b' ' && b != b'\t') {
        return Err("a header must not contain control characters".to_string());
    }
    Ok((k.trim().to_string(), val.trim().to_string()))
}

/// HTTP/1.1 load generator (monoio, thread-per-core)
#[derive(Args, Debug)]
#[command(after_long_help = LOAD_NOTES, after_help = "See --help for the modes, the TLS modes and the error kinds.")]
pub struct LoadCmd {
    /// http://HOST:PORT/PATH or https://...
    pub url: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Write the summary as JSON (with the machine, time and versions)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub json: Option<String>,
    /// Write the latencies as HdrHistogram percentile text (ms)
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub hgrm: Option<String>,
    /// No progress line
    #[arg(short = 'q', long, help_heading = "Output")]
    pub quiet: bool,
}

const LOAD_NOTES: &str = "\
The three TLS modes:  --close                 a full handshake per request
                      --close --tls-resume    a resumed handshake per request
                      (neither)               keep-alive over TLS
The report adds handshakes, handshakes/s and the resumed share (rustls' HandshakeKind).

Durations take s or ms suffixes (2, 2s, 500ms); sizes take k or m (64k = 65536).
Errors are counted by kind: connect, timeout, reset (closed or reset mid-request),
bad_status (not 2xx/3xx), parse, tls (handshake failed). In open loop, requests still
unanswered at the end are counted as `unfinished`, with their wait so far in the latencies.
The exit status is 2 when every request failed.";

impl LoadCmd {
    pub fn into_opts(self) -> LoadOpts {
        let mut o = self.load.into_opts(self.url, Duration::from_secs(10));
        o.json = self.json;
        o.hgrm = self.hgrm;
        o.progress = !self.quiet;
        o
    }
}

/// Find the rate at which a target's p99 or error rate breaks
#[derive(Args, Debug)]
#[command(
    after_help = "Every step is open loop (latency from the intended send time), with its own warm-up."
)]
pub struct RampCmd {
    /// http://HOST:PORT/PATH or https://...
    pub url: String,
    /// Rates to try, req/s, in order
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = super::positive,
          default_value = "1000,2000,5000,10000,20000,50000,100000,200000")]
    pub rates: Vec<f64>,
    /// Measured seconds per rate (-d is the same)
    #[arg(long, value_name = "S", value_parser = super::duration)]
    pub step: Option<Duration>,
    /// A step breaks when its p99 exceeds MS milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10.0, value_parser = super::non_negative)]
    pub max_p99: f64,
    /// ... or when more than PCT % of its requests fail
    #[arg(long, value_name = "PCT", default_value_t = 1.0, value_parser = super::non_negative)]
    pub max_errors: f64,
    /// ... or when it delivers less than (100-PCT) % of the rate
    #[arg(long, value_name = "PCT", default_value_t = 10.0, value_parser = super::non_negative)]
    pub max_shortfall: f64,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// What `ramp` runs with.
pub struct Ramp {
    pub load: LoadOpts,
    pub rates: Vec<f64>,
    pub max_p99: f64,
    pub max_errors: f64,
    pub max_shortfall: f64,
}

impl RampCmd {
    pub fn into_ramp(self) -> Ramp {
        let step = self
            .step
            .or(self.load.duration)
            .unwrap_or(Duration::from_secs(3));
        let mut load = self.load.into_opts(self.url, step);
        load.progress = false;
        Ramp {
            load,
            rates: self.rates,
            max_p99: self.max_p99,
            max_errors: self.max_errors,
            max_shortfall: self.max_shortfall,
        }
    }
}
