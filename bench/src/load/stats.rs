//! What one load run measured: a latency histogram, counts, errors by kind, and which server
//! answered (the `x-server` header). Each thread fills its own `Stats`; they are merged at the end.

use hdrhistogram::Histogram;

use crate::json::{self, Json, With};

/// Latencies are recorded in microseconds, from 1 us to 1 hour, 3 significant digits.
const HIST_MAX_US: u64 = 3_600_000_000;
const HIST_SIGFIG: u8 = 3;

/// The percentiles every report prints.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 99.0, 99.9, 99.99];

/// Percentiles of the latency curve in the JSON and the HTML report.
pub const CURVE: [f64; 12] = [
    0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The TCP connection could not be opened.
    Connect,
    /// No complete response within `--timeout`.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    Reset,
    /// A complete response with a status other than 2xx or 3xx.
    Status,
    /// A response that is not valid HTTP/1.1.
    Parse,
    /// The TLS handshake failed (refused certificate, alert, protocol error, closed).
    Tls,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Status,
        ErrorKind::Parse,
        ErrorKind::Tls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Status => "bad_status",
            ErrorKind::Parse => "parse",
            ErrorKind::Tls => "tls",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

pub struct Stats {
    pub hist: Histogram<u64>,
    /// Completed requests with a 2xx/3xx answer inside the measured window.
    pub ok: u64,
    /// Response bytes (head and body) of those requests.
    pub bytes: u64,
    pub errors: [u64; ErrorKind::ALL.len()],
    /// Open-loop requests still unanswered when the run ended. Their latency so far (a lower
    /// bound) is in the histogram, so a stalled server is not hidden by the cut-off.
    pub unfinished: u64,
    /// `x-server` values and how many answers each gave.
    pub servers: Vec<(String, u64)>,
    /// Connections opened (first ones and reconnects).
    pub connects: u64,
    /// TLS handshakes completed for requests inside the measured window.
    pub handshakes: u64,
    /// Those of them that resumed a session (rustls' `HandshakeKind::Resumed`).
    pub resumed: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG)
                .expect("static histogram bounds are valid"),
            ok: 0,
            bytes: 0,
            errors: [0; ErrorKind::ALL.len()],
            handshakes: 0,
            resumed: 0,
            unfinished: 0,
            servers: Vec::new(),
            connects: 0,
        }
    }
}

impl Stats {
    pub fn record_latency(&mut self, us: u64) {
        self.hist.saturating_record(us.clamp(1, HIST_MAX_US));
    }

    pub fn error(&mut self, kind: ErrorKind) {
        self.errors[kind.index()] += 1;
    }

    pub fn handshake(&mut self, resumed: bool) {
        self.handshakes += 1;
        self.resumed += u64::from(resumed);
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn count_server(&mut self, name: &[u8]) {
        // Few distinct servers: a linear scan beats hashing.
        if let Some(e) = self.servers.iter_mut().find(|(n, _)| n.as_bytes() == name) {
            e.1 += 1;
        } else {
            self.servers
                .push((String::from_utf8_lossy(name).into_owned(), 1));
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        self.bytes += other.bytes;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.unfinished += other.unfinished;
        self.connects += other.connects;
        self.handshakes += other.handshakes;
        self.resumed += other.resumed;
        for (name, n) in &other.servers {
            match self.servers.iter_mut().find(|(m, _)| m == name) {
                Some(e) => e.1 += n,
                None => self.servers.push((name.clone(), *n)),
            }
        }
    }
}

/// The summary of one run, in the units the reports use.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seconds: f64,
    pub requests: u64,
    pub rps: f64,
    pub mbps: f64,
    /// (percentile, latency in ms) for `PERCENTILES`.
    pub pct_ms: Vec<(f64, f64)>,
    /// (percentile, latency in ms) for `CURVE`.
    pub curve_ms: Vec<(f64, f64)>,
    pub mean_ms: f64,
    pub max_ms: f64,
    pub errors: Vec<(&'static str, u64)>,
    pub errors_total: u64,
    pub unfinished: u64,
    pub connects: u64,
    pub servers: Vec<(String, u64)>,
    /// TLS handshakes of measured requests, the resumed ones, and handshakes per second.
    pub handshakes: u64,
    pub resumed: u64,
    pub hs_rate: f64,
    /// CPU seconds (utime + stime) the watched processes (`--cpu-pid`) used in the window.
    pub cpu_s: Option<f64>,
    /// The latencies themselves (us), so a comparison can merge its rounds' requests into
    /// one distribution instead of taking the median of each round's p99.
    pub hist: Option<Histogram<u64>>,
}

impl Summary {
    pub fn new(stats: &Stats, seconds: f64) -> Summary {
        let pct = |p: f64| us_to_ms(stats.hist.value_at_percentile(p));
        let mut servers = stats.servers.clone();
        servers.sort();
        Summary {
            seconds,
            requests: stats.ok,
            rps: per_second(stats.ok, seconds),
            mbps: per_second(stats.bytes, seconds) / 1e6,
            pct_ms: PERCENTILES.iter().map(|&p| (p, pct(p))).collect(),
            curve_ms: CURVE.iter().map(|&p| (p, pct(p))).collect(),
            mean_ms: stats.hist.mean() / 1000.0,
            max_ms: us_to_ms(stats.hist.max()),
            errors: ErrorKind::ALL
                .iter()
                .map(|k| (k.name(), stats.errors[k.index()]))
                .collect(),
            errors_total: stats.errors_total(),
            unfinished: stats.unfinished,
            connects: stats.connects,
            servers,
            handshakes: stats.handshakes,
            resumed: stats.resumed,
            hs_rate: per_second(stats.handshakes, seconds),
            cpu_s: None,
            hist: Some(stats.hist.clone()),
        }
    }

    /// The share of handshakes that resumed a session, 0..1; NaN without handshakes.
    pub fn resumed_share(&self) -> f64 {
        if self.handshakes == 0 {
            f64::NAN
        } else {
            self.resumed as f64 / self.handshakes as f64
        }
    }

    /// CPU microseconds of the watched processes per answered request; NaN when unknown.
    pub fn cpu_us_per_request(&self) -> f64 {
        per_unit_us(self.cpu_s, self.requests)
    }

    /// CPU microseconds of the watched processes per TLS handshake; NaN when unknown.
    pub fn cpu_us_per_handshake(&self) -> f64 {
        per_unit_us(self.cpu_s, self.handshakes)
    }

    /// Latency in ms at percentile `p` (one of `PERCENTILES`), or max for 100.
    pub fn pct(&self, p: f64) -> f64 {
        if p >= 100.0 {
            return self.max_ms;
        }
        self.pct_ms
            .iter()
            .find(|(q, _)| (*q - p).abs() < 1e-9)
            .map_or(f64::NAN, |(_, v)| *v)
    }

    pub fn error_rate(&self) -> f64 {
        let all = self.requests + self.errors_total;
        if all == 0 {
            0.0
        } else {
            self.errors_total as f64 / all as f64
        }
    }

    pub fn to_json(&self) -> Json {
        let pairs = |v: &[(f64, f64)]| {
            Json::Array(
                v.iter()
                    .map(|(p, ms)| Json::Array(vec![Json::from(*p), Json::from(*ms)]))
                    .collect(),
            )
        };
        let errors = self
            .errors
            .iter()
            .fold(json::obj(), |j, (k, n)| j.with(k, *n));
        let servers = self
            .servers
            .iter()
            .fold(json::obj(), |j, (k, n)| j.with(k, *n));
        let mut lat = json::obj();
        for (p, ms) in &self.pct_ms {
            lat = lat.with(&format!("p{p}"), *ms);
        }
        lat = lat.with("mean", self.mean_ms).with("max", self.max_ms);
        json::obj()
            .with("seconds", self.seconds)
            .with("requests", self.requests)
            .with("rps", self.rps)
            .with("mbps", self.mbps)
            .with("latency_ms", lat)
            .with("latency_curve_ms", pairs(&self.curve_ms))
            .with("errors", errors)
            .with("errors_total", self.errors_total)
            .with("unfinished", self.unfinished)
            .with("connects", self.connects)
            .with("servers", servers)
            .with("tls_handshakes", self.handshakes)
            .with("tls_resumed", self.resumed)
            .with("tls_handshakes_per_s", self.hs_rate)
            .with("cpu_s", self.cpu_s)
    }

    /// The human-readable report of `ringlb-bench load`.
    pub fn print(&self) -> String {
        let mut s = format!(
            "{} requests in {:.2}s: {:.0} req/s, {:.2} MB/s\nlatency ms: ",
            self.requests, self.seconds, self.rps, self.mbps
        );
        for (p, ms) in &self.pct_ms {
            s.push_str(&format!("p{p} {ms:.3}  "));
        }
        s.push_str(&format!(
            "max {:.3}  mean {:.3}\n",
            self.max_ms, self.mean_ms
        ));
        s.push_str(&format!(
            "errors: {} ({})",
            self.errors_total,
            self.errors
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if self.handshakes > 0 {
            s.push_str(&format!(
                "\ntls: {} handshakes, {:.0} handshakes/s, resumed {} ({:.1}%)",
                self.handshakes,
                self.hs_rate,
                self.resumed,
                100.0 * self.resumed_share()
            ));
        }
        if let Some(cpu) = self.cpu_s {
            s.push_str(&format!(
                "\ncpu of --cpu-pid: {cpu:.2}s, {:.1} us/request",
                self.cpu_us_per_request()
            ));
            if self.handshakes > 0 {
                s.push_str(&format!(
                    ", {:.1} us/handshake",
                    self.cpu_us_per_handshake()
                ));
            }
        }
        if self.unfinished > 0 {
            s.push_str(&format!(
                "\nunfinished at the end: {} (counted in the latencies)",
                self.unfinished
            ));
        }
        if !self.servers.is_empty() {
            let list: Vec<String> = self
                .servers
                .iter()
                .map(|(n, c)| format!("{n} {c}"))
                .collect();
            s.push_str(&format!("\nx-server: {}", list.join(", ")));
        }
        s
    }
}

fn per_unit_us(cpu_s: Option<f64>, n: u64) -> f64 {
    match cpu_s {
        Some(c) if n > 0 => c * 1e6 / n as f64,
        _ => f64::NAN,
    }
}

/// Latency in ms at percentile `p` of a histogram in us (max for 100); NaN when empty.
pub fn hist_pct_ms(hist: &Histogram<u64>, p: f64) -> f64 {
    if hist.is_empty() {
        f64::NAN
    } else if p >= 100.0 {
        us_to_ms(hist.max())
    } else {
        us_to_ms(hist.value_at_percentile(p))
    }
}

/// HdrHistogram's percentile distribution text (`.hgrm`, values in ms), the format of Java's
/// `outputPercentileDistribution` that HdrHistogram's plotter and other tools read.
pub fn hgrm(hist: &Histogram<u64>) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for v in hist.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let value = us_to_ms(v.value_iterated_to());
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:>12.3} {q:>2.12} {:>10} {:>14.2}",
                total_at(hist, v.value_iterated_to()),
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(
                out,
                "{value:>12.3} {q:>2.12} {:>10}",
                total_at(hist, v.value_iterated_to())
            );
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        hist.mean() / 1000.0,
        hist.stdev() / 1000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        us_to_ms(hist.max()),
        hist.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        hist.buckets(),
        sub_buckets(hist.sigfig())
    );
    out
}

/// The sub-bucket count HdrHistogram derives from the significant figures (2048 for 3).
fn sub_buckets(sigfig: u8) -> u64 {
    let single_unit = 2.0 * 10f64.powi(i32::from(sigfig));
    1u64 << (single_unit.log2().ceil() as u32)
}

/// Recorded values at or below `us`.
fn total_at(hist: &Histogram<u64>, us: u64) -> u64 {
    hist.count_between(hist.low(), us)
}

pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `count / seconds`, 0 for an empty window.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut s = Stats::default();
        // 1..=10_000 us, uniformly: p50 = 5 ms, p99 = 9.9 ms, max = 10 ms.
        for us in 1..=10_000 {
            s.record_latency(us);
        }
        s.ok = 10_000;
        let sum = Summary::new(&s, 2.0);
        let close = |a: f64, b: f64| (a - b).abs() / b < 0.002;
        assert!(close(sum.pct(50.0), 5.0), "{}", sum.pct(50.0));
        assert!(close(sum.pct(90.0), 9.0), "{}", sum.pct(90.0));
        assert!(close(sum.pct(99.0), 9.9), "{}", sum.pct(99.0));
        assert!(close(sum.pct(99.99), 9.999), "{}", sum.pct(99.99));
        assert!(close(sum.max_ms, 10.0));
        assert_eq!(sum.rps, 5000.0);
    }

    #[test]
    fn one_outlier_shows_only_in_the_tail() {
        let mut s = Stats::default();
        for _ in 0..999 {
            s.record_latency(100);
        }
        s.record_latency(1_000_000);
        let sum = Summary::new(&s, 1.0);
        assert!((sum.pct(99.0) - 0.1).abs() < 0.001);
        assert!(sum.pct(99.99) > 990.0);
        assert!(sum.max_ms > 990.0);
    }

    #[test]
    fn merge_adds_counts_errors_and_servers() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        a.record_latency(10);
        a.ok = 1;
        a.count_server(b"s1");
        b.record_latency(20);
        b.ok = 1;
        b.count_server(b"s1");
        b.count_server(b"s2");
        b.error(ErrorKind::Timeout);
        a.merge(&b);
        assert_eq!(a.hist.len(), 2);
        assert_eq!(a.ok, 2);
        assert_eq!(a.errors_total(), 1);
        assert_eq!(a.servers, vec![("s1".into(), 2), ("s2".into(), 1)]);
        let sum = Summary::new(&a, 1.0);
        assert_eq!(sum.error_rate(), 1.0 / 3.0);
    }
}
