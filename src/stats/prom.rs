//! `/metrics`: the Prometheus text format as HAProxy 2.6's built-in exporter
//! (`http-request use-service prometheus-exporter`) writes it: the same families, HELP texts,
//! TYPEs, labels (`proxy`, `server`, `state`, `code`), order (process, frontends, backends,
//! servers; within a family every proxy, and within a proxy every server) and value format
//! (integers as integers, times in seconds with six decimals, `NaN` for a value the row does
//! not have). Then ringlb's own families, all named `ringlb_*`: latency histograms per backend
//! and server, log lines, and the per-core view.
//!
//! Each HAProxy family reads one `Field` of the rows (`METRICS`, one line per family); the few
//! that are not one field (status one-hot, response codes, aggregated server states) have their
//! own `Render`. A family is written only when it has a sample, with its HELP and TYPE once.

use std::fmt::{self, Display, Write};

use super::fields::Field;
use super::snapshot::{
    CoreRow, Distribution, ProcessInfo, ProxyStats, Row, Snapshot, Value, BUCKETS_S,
};
use super::state::{ServerState, PROM_CHECK_STATES, PROM_SERVER_STATES};

/// The exporter's `scope` parameter values (`/metrics?scope=backend&scope=server`); `*` is all.
pub const SCOPES: [&str; 4] = ["global", "frontend", "backend", "server"];

/// Whether `/metrics?scope=NAME` names a scope: HAProxy answers 400 to any other (an empty
/// scope is valid and selects nothing).
pub fn is_valid_scope(name: &str) -> bool {
    name.is_empty() || name == "*" || SCOPES.contains(&name)
}

/// Every family.
pub fn render(snap: &Snapshot) -> String {
    render_scoped(snap, &["*"])
}

/// Only the families of the given scopes (`global`, `frontend`, `backend`, `server`, or `*`);
/// ringlb's own families follow their objects' scope (the per-core view and log lines are
/// `global`). Unknown names select nothing: the caller answers them as HAProxy does (400).
pub fn render_scoped(snap: &Snapshot, scopes: &[&str]) -> String {
    let wants = |s: &str| scopes.iter().any(|x| *x == "*" || *x == s);
    // About 100 bytes a sample, some 60 samples a server.
    let mut out = String::with_capacity(8192 + 6000 * snap.rows().count());
    if wants("global") {
        write_process(&mut out, &snap.process);
    }
    for (scope, name) in [
        (Obj::Fe, "frontend"),
        (Obj::Be, "backend"),
        (Obj::Sv, "server"),
    ] {
        if wants(name) {
            for m in METRICS.iter().filter(|m| m.obj == scope) {
                write_metric(&mut out, snap, m);
            }
        }
    }
    if wants("backend") {
        write_latencies(&mut out, snap, Obj::Be);
    }
    if wants("server") {
        write_latencies(&mut out, snap, Obj::Sv);
    }
    if wants("global") {
        write_ringlb_process(&mut out, &snap.process);
        write_cores(&mut out, snap);
    }
    out
}

/// A sample's value, written as HAProxy writes it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    U(u64),
    I(i64),
    /// A time in seconds, `%f` (six decimals).
    Secs(f64),
    /// Any other float, shortest form (histogram sums).
    F(f64),
    /// The row has no such value.
    NaN,
}

impl Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::U(v) => write!(f, "{v}"),
            Num::I(v) => write!(f, "{v}"),
            Num::Secs(v) => write!(f, "{v:.6}"),
            Num::F(v) => write!(f, "{v}"),
            Num::NaN => f.write_str("NaN"),
        }
    }
}

/// One family being written: its HELP and TYPE go out just before its first sample.
struct Family<'o> {
    out: &'o mut String,
    prefix: &'static str,
    name: &'static str,
    help: &'static str,
    kind: Kind,
    started: bool,
}

impl<'o> Family<'o> {
    fn new(
        out: &'o mut String,
        prefix: &'static str,
        name: &'static str,
        kind: Kind,
        help: &'static str,
    ) -> Self {
        Family {
            out,
            prefix,
            name,
            help,
            kind,
            started: false,
        }
    }

    fn sample(&mut self, labels: &[(&str, &str)], v: Num) {
        self.sample_with_suffix("", labels, v);
    }

    /// A sample of the family under `name` + `suffix` (a histogram's `_bucket`, `_sum`, `_count`).
    fn sample_with_suffix(&mut self, suffix: &str, labels: &[(&str, &str)], v: Num) {
        if !self.started {
            self.started = true;
            let (p, n) = (self.prefix, self.name);
            let _ = writeln!(self.out, "# HELP {p}{n} {}", self.help);
            let _ = writeln!(self.out, "# TYPE {p}{n} {}", self.kind.name());
        }
        let _ = write!(self.out, "{}{}{}", self.prefix, self.name, suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                escape_label(self.out, val);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {v}");
    }
}

/// Label values escape backslash, double quote and line feed (the text format's rule).
fn escape_label(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

// ---- haproxy_process_* ----------------------------------------------------------------------

/// A process family read from `ProcessInfo`. HAProxy's families ringlb has no number for
/// (pools, pipes, zlib, tasks, peers, SSL keys, resolvers ...) are not written.
struct ProcessMetric {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    value: fn(&ProcessInfo) -> u64,
}

const fn pm(
    name: &'static str,
    kind: Kind,
    value: fn(&ProcessInfo) -> u64,
    help: &'static str,
) -> ProcessMetric {
    ProcessMetric {
        name,
        kind,
        help,
        value,
    }
}

use Kind::{Counter, Gauge};

/// In HAProxy's order; `build_info` (a label, not a number) is written in its place by hand.
const PROCESS_METRICS: [ProcessMetric; 17] = [
    pm(
        "nbthread",
        Gauge,
        |p| p.nbthread as u64,
        "Number of started threads (global.nbthread)",
    ),
    pm(
        "nbproc",
        Gauge,
        |_| 1,
        "Number of started worker processes (historical, always 1)",
    ),
    pm(
        "relative_process_id",
        Gauge,
        |_| 1,
        "Relative worker process number (1)",
    ),
    pm(
        "uptime_seconds",
        Gauge,
        |p| p.uptime_s,
        "How long ago this worker process was started (seconds)",
    ),
    pm(
        "max_connections",
        Gauge,
        |p| p.maxconn,
        "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)",
    ),
    pm(
        "current_connections",
        Gauge,
        |p| p.curr_conns,
        "Current number of connections on this worker process",
    ),
    pm(
        "connections_total",
        Counter,
        |p| p.cum_conns,
        "Total number of connections on this worker process since started",
    ),
    pm(
        "requests_total",
        Counter,
        |p| p.cum_req,
        "Total number of requests on this worker process since started",
    ),
    pm(
        "current_ssl_connections",
        Gauge,
        |p| p.ssl_conns_cur,
        "Current number of SSL endpoints on this worker process (front+back)",
    ),
    pm(
        "ssl_connections_total",
        Counter,
        |p| p.ssl_cum_conns,
        "Total number of SSL endpoints on this worker process since started (front+back)",
    ),
    pm(
        "current_connection_rate",
        Gauge,
        |p| p.conn_rate,
        "Number of front connections created on this worker process over the last second",
    ),
    pm(
        "max_connection_rate",
        Gauge,
        |p| p.max_conn_rate,
        "Highest ConnRate reached on this worker process since started (in connections per second)",
    ),
    pm(
        "current_session_rate",
        Gauge,
        |p| p.sess_rate,
        "Number of sessions created on this worker process over the last second",
    ),
    pm(
        "max_session_rate",
        Gauge,
        |p| p.max_sess_rate,
        "Highest SessRate reached on this worker process since started (in sessions per second)",
    ),
    pm(
        "stopping",
        Gauge,
        |p| u64::from(p.stopping),
        "1 if the worker process is currently stopping, otherwise zero",
    ),
    pm(
        "dropped_logs_total",
        Counter,
        |p| p.log_lines_dropped,
        "Total number of dropped logs for current worker process since started",
    ),
    pm(
        "start_time_seconds",
        Gauge,
        |p| p.start_time,
        "Start time in seconds",
    ),
];

fn write_process(out: &mut String, p: &ProcessInfo) {
    for m in &PROCESS_METRICS {
        if m.name == "start_time_seconds" {
            // HAProxy writes build_info just before the start time.
            let mut f = Family::new(out, "haproxy_process_", "build_info", Gauge, "Build info");
            f.sample(&[("version", p.version)], Num::U(1));
        }
        Family::new(out, "haproxy_process_", m.name, m.kind, m.help)
            .sample(&[], Num::U((m.value)(p)));
    }
}

// ---- haproxy_frontend_* / haproxy_backend_* / haproxy_server_* --------------------------------

/// Which rows a family reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Obj {
    Fe,
    Be,
    Sv,
}

impl Obj {
    fn prefix(self) -> &'static str {
        match self {
            Obj::Fe => "haproxy_frontend_",
            Obj::Be => "haproxy_backend_",
            Obj::Sv => "haproxy_server_",
        }
    }
}

/// How a family turns its rows into samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Render {
    /// The field as a number (`NaN` when empty).
    Plain,
    /// The field, in milliseconds, as seconds.
    Seconds,
    /// One sample per state, 1 for the row's: frontends DOWN/UP (STOP is down), backends
    /// DOWN/UP, servers DOWN/UP/MAINT/DRAIN/NOLB.
    Status,
    /// `hrsp_1xx` .. `hrsp_other` as `code="1xx"` .. `code="other"`, code by code.
    ResponseCodes,
    /// A backend's servers counted per server state.
    AggServerStatus,
    /// A backend's checked servers counted per check state.
    AggCheckStatus,
    /// Checked servers only: one sample per check state, 1 for the last check's.
    CheckStatus,
    /// Checked servers only: the last check's code, 0 when it had none.
    CheckCode,
    /// Checked servers only: the last check's duration, milliseconds as seconds.
    CheckSeconds,
}

struct Metric {
    obj: Obj,
    name: &'static str,
    field: Field,
    kind: Kind,
    render: Render,
    /// Only proxies in mode http (a tcp proxy has no HTTP counters).
    http_only: bool,
    help: &'static str,
}

const fn m(
    obj: Obj,
    name: &'static str,
    field: Field,
    kind: Kind,
    render: Render,
    http_only: bool,
    help: &'static str,
) -> Metric {
    Metric {
        obj,
        name,
        field,
        kind,
        render,
        http_only,
        help,
    }
}

fn write_metric(out: &mut String, snap: &Snapshot, m: &Metric) {
    let mut fam = Family::new(out, m.obj.prefix(), m.name, m.kind, m.help);
    let proxies = || {
        snap.proxies
            .iter()
            .filter(move |px| !m.http_only || px.mode == "http")
    };
    if m.render == Render::ResponseCodes {
        for (field, code) in RESPONSE_CODES {
            for px in proxies() {
                for_each_row(px, m.obj, |row, labels| {
                    let mut l = labels.to_vec();
                    l.push(("code", code));
                    if let Some(v) = plain(row.get(field)) {
                        fam.sample(&l, v);
                    }
                });
            }
        }
        return;
    }
    for px in proxies() {
        for_each_row(px, m.obj, |row, labels| {
            write_row_samples(&mut fam, m, px, row, labels)
        });
    }
}

const RESPONSE_CODES: [(Field, &str); 6] = [
    (Field::Hrsp1xx, "1xx"),
    (Field::Hrsp2xx, "2xx"),
    (Field::Hrsp3xx, "3xx"),
    (Field::Hrsp4xx, "4xx"),
    (Field::Hrsp5xx, "5xx"),
    (Field::HrspOther, "other"),
];

/// The proxy's rows of that kind, with their `proxy` (and `server`) labels.
fn for_each_row(px: &ProxyStats, obj: Obj, mut f: impl FnMut(&Row, &[(&str, &str)])) {
    match obj {
        Obj::Fe => {
            if let Some(fe) = &px.frontend {
                f(fe, &[("proxy", &px.name)]);
            }
        }
        Obj::Be => {
            if let Some(be) = &px.backend {
                f(be, &[("proxy", &px.name)]);
            }
        }
        Obj::Sv => {
            for sv in &px.servers {
                f(sv, &[("proxy", &px.name), ("server", sv.svname())]);
            }
        }
    }
}

fn write_row_samples(
    fam: &mut Family,
    m: &Metric,
    px: &ProxyStats,
    row: &Row,
    labels: &[(&str, &str)],
) {
    match m.render {
        Render::Plain => {
            if let Some(v) = plain(row.get(m.field)) {
                fam.sample(labels, v);
            }
        }
        Render::Seconds => {
            if let Some(v) = seconds(row.get(m.field)) {
                fam.sample(labels, v);
            }
        }
        Render::Status => {
            write_one_hot(fam, labels, status_states(m.obj), status_label(m.obj, row))
        }
        Render::CheckStatus => {
            if let Some(check) = check_state(row) {
                write_one_hot(fam, labels, &PROM_CHECK_STATES, Some(check));
            }
        }
        Render::CheckCode => {
            if check_state(row).is_some() {
                fam.sample(
                    labels,
                    plain(row.get(Field::CheckCode)).map_or(Num::U(0), zero_for_nan),
                );
            }
        }
        Render::CheckSeconds => {
            if check_state(row).is_some() {
                fam.sample(
                    labels,
                    seconds(row.get(Field::CheckDuration)).map_or(Num::U(0), zero_for_nan),
                );
            }
        }
        Render::AggServerStatus => {
            let states = px
                .servers
                .iter()
                .filter_map(|s| ServerState::of(s).map(ServerState::prom_label));
            write_counts(fam, px, labels, &PROM_SERVER_STATES, states);
        }
        Render::AggCheckStatus => {
            write_counts(
                fam,
                px,
                labels,
                &PROM_CHECK_STATES,
                px.servers.iter().filter_map(check_state),
            );
        }
        // Written code by code in write_metric.
        Render::ResponseCodes => {}
    }
}

fn zero_for_nan(v: Num) -> Num {
    if v == Num::NaN {
        Num::U(0)
    } else {
        v
    }
}

/// A number as HAProxy prints it: NaN for an empty field; None (no sample) for a text.
fn plain(v: &Value) -> Option<Num> {
    match v {
        Value::Empty => Some(Num::NaN),
        Value::U64(n) => Some(Num::U(*n)),
        Value::I64(n) => Some(Num::I(*n)),
        Value::Str(_) => None,
    }
}

/// Milliseconds as seconds.
fn seconds(v: &Value) -> Option<Num> {
    match v {
        Value::Empty => Some(Num::NaN),
        Value::U64(n) => Some(Num::Secs(*n as f64 / 1000.0)),
        Value::I64(n) => Some(Num::Secs(*n as f64 / 1000.0)),
        Value::Str(_) => None,
    }
}

const FRONTEND_STATES: [&str; 2] = ["DOWN", "UP"];

fn status_states(obj: Obj) -> &'static [&'static str] {
    match obj {
        Obj::Fe | Obj::Be => &FRONTEND_STATES,
        Obj::Sv => &PROM_SERVER_STATES,
    }
}

/// The row's state label, None when its status cannot be read (then every state is 0).
fn status_label(obj: Obj, row: &Row) -> Option<&'static str> {
    let status = row.text(Field::Status);
    match obj {
        // A frontend is up unless stopped (OPEN and FULL both accept).
        Obj::Fe => Some(if status == "STOP" { "DOWN" } else { "UP" }),
        Obj::Be => match status {
            s if s.starts_with("UP") => Some("UP"),
            s if s.starts_with("DOWN") => Some("DOWN"),
            _ => None,
        },
        Obj::Sv => ServerState::parse(status).map(ServerState::prom_label),
    }
}

/// The last check's state for a server whose checks run (HAProxy leaves `check_status` empty
/// for unchecked servers and servers in maintenance); `* ` marks a check in progress.
fn check_state(row: &Row) -> Option<&'static str> {
    let s = row.text(Field::CheckStatus);
    let s = s.strip_prefix("* ").unwrap_or(s);
    PROM_CHECK_STATES.iter().copied().find(|c| *c == s)
}

fn write_one_hot(
    fam: &mut Family,
    labels: &[(&str, &str)],
    states: &[&str],
    current: Option<&str>,
) {
    let mut l = labels.to_vec();
    l.push(("state", ""));
    for st in states {
        if let Some(last) = l.last_mut() {
            last.1 = st;
        }
        fam.sample(&l, Num::U(u64::from(current == Some(*st))));
    }
}

/// Per-state counts of a backend's servers (written only for backends with servers).
fn write_counts<'s>(
    fam: &mut Family,
    px: &ProxyStats,
    labels: &[(&str, &str)],
    states: &[&str],
    of_servers: impl Iterator<Item = &'s str>,
) {
    if px.servers.is_empty() {
        return;
    }
    let mut counts = vec![0u64; states.len()];
    for s in of_servers {
        if let Some(i) = states.iter().position(|st| *st == s) {
            counts[i] += 1;
        }
    }
    let mut l = labels.to_vec();
    l.push(("state", ""));
    for (st, n) in states.iter().zip(counts) {
        if let Some(last) = l.last_mut() {
            last.1 = st;
        }
        fam.sample(&l, Num::U(n));
    }
}

// ---- ringlb_* ---------------------------------------------------------------------------------

/// The three latency histograms of a backend or server row, in seconds.
const LATENCY_FAMILIES: [(&str, &str); 3] = [
    (
        "connect_time_seconds",
        "Time to establish the connection to the server (HAProxy's Tc), in seconds",
    ),
    (
        "first_byte_time_seconds",
        "Time from the end of the request head to the first response byte (Tw+Tc+Tr), in seconds",
    ),
    (
        "total_time_seconds",
        "Total time of the request (Ta), in seconds",
    ),
];

fn write_latencies(out: &mut String, snap: &Snapshot, obj: Obj) {
    let prefix = match obj {
        Obj::Sv => "ringlb_server_",
        Obj::Fe | Obj::Be => "ringlb_backend_",
    };
    // The `le` labels, written once per scrape.
    let bounds: Vec<String> = BUCKETS_S.iter().map(|b| b.to_string()).collect();
    for (i, (name, help)) in LATENCY_FAMILIES.iter().enumerate() {
        let mut fam = Family::new(out, prefix, name, Kind::Histogram, help);
        for px in &snap.proxies {
            for_each_row(px, obj, |row, labels| {
                let Some(lat) = &row.latency else { return };
                let d = [&lat.connect, &lat.first_byte, &lat.total][i];
                write_histogram(&mut fam, labels, &bounds, d);
            });
        }
    }
}

/// `_bucket{le=...}` at `BUCKETS_S` then `+Inf` (the count), `_sum` in seconds, `_count`. A
/// distribution without one count per bucket is not written rather than written wrong
/// (except an empty one).
fn write_histogram(fam: &mut Family, labels: &[(&str, &str)], bounds: &[String], d: &Distribution) {
    // An empty distribution (`Distribution::default()`) may have no buckets: all are 0.
    let empty = d.count == 0 && d.buckets.is_empty();
    if d.buckets.len() != bounds.len() && !empty {
        return;
    }
    let mut l = labels.to_vec();
    l.push(("le", ""));
    for (i, bound) in bounds.iter().enumerate() {
        if let Some(last) = l.last_mut() {
            last.1 = bound;
        }
        let n = d.buckets.get(i).copied().unwrap_or(0);
        fam.sample_with_suffix("_bucket", &l, Num::U(n));
    }
    if let Some(last) = l.last_mut() {
        last.1 = "+Inf";
    }
    fam.sample_with_suffix("_bucket", &l, Num::U(d.count));
    fam.sample_with_suffix("_sum", labels, Num::F(d.sum_us as f64 / 1e6));
    fam.sample_with_suffix("_count", labels, Num::U(d.count));
}

fn write_ringlb_process(out: &mut String, p: &ProcessInfo) {
    Family::new(
        out,
        "ringlb_process_",
        "log_lines_sent_total",
        Counter,
        "Log lines sent since the process started",
    )
    .sample(&[], Num::U(p.log_lines_sent));
    Family::new(
        out,
        "ringlb_process_",
        "log_lines_dropped_total",
        Counter,
        "Log lines dropped because the log sink could not keep up, since the process started",
    )
    .sample(&[], Num::U(p.log_lines_dropped));
}

/// One family per per-core number, labelled `core` (the worker's number from 0).
/// A per-core family: name, type, HELP, and the number it reads.
type CoreFamily = (&'static str, Kind, &'static str, fn(&CoreRow) -> u64);

const CORE_FAMILIES: [CoreFamily; 5] = [
    (
        "current_connections",
        Gauge,
        "Client connections open on the core",
        |c| c.conns_cur,
    ),
    (
        "connections_total",
        Counter,
        "Client connections accepted by the core",
        |c| c.conns_tot,
    ),
    (
        "requests_total",
        Counter,
        "Requests (and mode tcp connections) ended on the core",
        |c| c.req_tot,
    ),
    (
        "bytes_in_total",
        Counter,
        "Bytes received from clients on the core",
        |c| c.bytes_in,
    ),
    (
        "bytes_out_total",
        Counter,
        "Bytes sent to clients from the core",
        |c| c.bytes_out,
    ),
];

fn write_cores(out: &mut String, snap: &Snapshot) {
    let mut core = String::new();
    for (name, kind, help, value) in CORE_FAMILIES {
        let mut fam = Family::new(out, "ringlb_core_", name, kind, help);
        for c in &snap.cores {
            core.clear();
            let _ = write!(core, "{}", c.core);
            fam.sample(&[("core", &core)], Num::U(value(c)));
        }
    }
}

use Obj::{Be, Fe, Sv};

/// HAProxy 2.6's frontend, backend and server families in its order, each with the `Field` it
/// reads (HELP texts as HAProxy writes them, its typos included, so that diffs stay empty).
const METRICS: [Metric; 127] = [
    m(Fe, "current_sessions", Field::Scur, Gauge, Render::Plain, false, "Number of current sessions on the frontend, backend or server"),
    m(Fe, "max_sessions", Field::Smax, Gauge, Render::Plain, false, "Highest value of current sessions encountered since process started"),
    m(Fe, "limit_sessions", Field::Slim, Gauge, Render::Plain, false, "Frontend/listener/server's maxconn, backend's fullconn"),
    m(Fe, "sessions_total", Field::Stot, Counter, Render::Plain, false, "Total number of sessions since process started"),
    m(Fe, "bytes_in_total", Field::Bin, Counter, Render::Plain, false, "Total number of request bytes since process started"),
    m(Fe, "bytes_out_total", Field::Bout, Counter, Render::Plain, false, "Total number of response bytes since process started"),
    m(Fe, "requests_denied_total", Field::Dreq, Counter, Render::Plain, false, "Total number of denied requests since process started"),
    m(Fe, "responses_denied_total", Field::Dresp, Counter, Render::Plain, false, "Total number of denied responses since process started"),
    m(Fe, "request_errors_total", Field::Ereq, Counter, Render::Plain, false, "Total number of invalid requests since process started"),
    m(Fe, "status", Field::Status, Gauge, Render::Status, false, "Current status of the service, per state label value."),
    m(Fe, "limit_session_rate", Field::RateLim, Gauge, Render::Plain, false, "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)"),
    m(Fe, "max_session_rate", Field::RateMax, Gauge, Render::Plain, false, "Highest value of sessions per second observed since the worker process started"),
    m(Fe, "http_responses_total", Field::Hrsp1xx, Counter, Render::ResponseCodes, true, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"),
    m(Fe, "http_requests_rate_max", Field::ReqRateMax, Gauge, Render::Plain, true, "Highest value of http requests observed since the worker process started"),
    m(Fe, "http_requests_total", Field::ReqTot, Counter, Render::Plain, true, "Total number of HTTP requests processed by this object since the worker process started"),
    m(Fe, "http_comp_bytes_in_total", Field::CompIn, Counter, Render::Plain, true, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"),
    m(Fe, "http_comp_bytes_out_total", Field::CompOut, Counter, Render::Plain, true, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"),
    m(Fe, "http_comp_bytes_bypassed_total", Field::CompByp, Counter, Render::Plain, true, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"),
    m(Fe, "http_comp_responses_total", Field::CompRsp, Counter, Render::Plain, true, "Total number of HTTP responses that were compressed for this object since the worker process started"),
    m(Fe, "connections_rate_max", Field::ConnRateMax, Gauge, Render::Plain, false, "Highest value of connections per second observed since the worker process started"),
    m(Fe, "connections_total", Field::ConnTot, Counter, Render::Plain, false, "Total number of new connections accepted on this frontend since the worker process started"),
    m(Fe, "intercepted_requests_total", Field::Intercepted, Counter, Render::Plain, true, "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started"),
    m(Fe, "denied_connections_total", Field::Dcon, Counter, Render::Plain, false, "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
    m(Fe, "denied_sessions_total", Field::Dses, Counter, Render::Plain, false, "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
    m(Fe, "failed_header_rewriting_total", Field::Wrew, Counter, Render::Plain, false, "Total number of failed HTTP header rewrites since the worker process started"),
    m(Fe, "http_cache_lookups_total", Field::CacheLookups, Counter, Render::Plain, true, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"),
    m(Fe, "http_cache_hits_total", Field::CacheHits, Counter, Render::Plain, true, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"),
    m(Fe, "internal_errors_total", Field::Eint, Counter, Render::Plain, false, "Total number of internal errors since process started"),
    m(Be, "current_queue", Field::Qcur, Gauge, Render::Plain, false, "Number of current queued connections"),
    m(Be, "max_queue", Field::Qmax, Gauge, Render::Plain, false, "Highest value of queued connections encountered since process started"),
    m(Be, "current_sessions", Field::Scur, Gauge, Render::Plain, false, "Number of current sessions on the frontend, backend or server"),
    m(Be, "max_sessions", Field::Smax, Gauge, Render::Plain, false, "Highest value of current sessions encountered since process started"),
    m(Be, "limit_sessions", Field::Slim, Gauge, Render::Plain, false, "Frontend/listener/server's maxconn, backend's fullconn"),
    m(Be, "sessions_total", Field::Stot, Counter, Render::Plain, false, "Total number of sessions since process started"),
    m(Be, "bytes_in_total", Field::Bin, Counter, Render::Plain, false, "Total number of request bytes since process started"),
    m(Be, "bytes_out_total", Field::Bout, Counter, Render::Plain, false, "Total number of response bytes since process started"),
    m(Be, "requests_denied_total", Field::Dreq, Counter, Render::Plain, false, "Total number of denied requests since process started"),
    m(Be, "responses_denied_total", Field::Dresp, Counter, Render::Plain, false, "Total number of denied responses since process started"),
    m(Be, "connection_errors_total", Field::Econ, Counter, Render::Plain, false, "Total number of failed connections to server since the worker process started"),
    m(Be, "response_errors_total", Field::Eresp, Counter, Render::Plain, false, "Total number of invalid responses since the worker process started"),
    m(Be, "retry_warnings_total", Field::Wretr, Counter, Render::Plain, false, "Total number of server connection retries since the worker process started"),
    m(Be, "redispatch_warnings_total", Field::Wredis, Counter, Render::Plain, false, "Total number of server redispatches due to connection failures since the worker process started"),
    m(Be, "status", Field::Status, Gauge, Render::Status, false, "Current status of the service, per state label value."),
    m(Be, "weight", Field::Weight, Gauge, Render::Plain, false, "Server's effective weight, or sum of active servers' effective weights for a backend"),
    m(Be, "active_servers", Field::Act, Gauge, Render::Plain, false, "Total number of active UP servers with a non-zero weight"),
    m(Be, "backup_servers", Field::Bck, Gauge, Render::Plain, false, "Total number of backup UP servers with a non-zero weight"),
    m(Be, "check_up_down_total", Field::Chkdown, Counter, Render::Plain, false, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"),
    m(Be, "check_last_change_seconds", Field::Lastchg, Gauge, Render::Plain, false, "How long ago the last server state changed, in seconds"),
    m(Be, "downtime_seconds_total", Field::Downtime, Counter, Render::Plain, false, "Total time spent in DOWN state, for server or backend"),
    m(Be, "loadbalanced_total", Field::Lbtot, Counter, Render::Plain, false, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"),
    m(Be, "max_session_rate", Field::RateMax, Gauge, Render::Plain, false, "Highest value of sessions per second observed since the worker process started"),
    m(Be, "http_responses_total", Field::Hrsp1xx, Counter, Render::ResponseCodes, true, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"),
    m(Be, "http_requests_total", Field::ReqTot, Counter, Render::Plain, true, "Total number of HTTP requests processed by this object since the worker process started"),
    m(Be, "client_aborts_total", Field::CliAbrt, Counter, Render::Plain, false, "Total number of requests or connections aborted by the client since the worker process started"),
    m(Be, "server_aborts_total", Field::SrvAbrt, Counter, Render::Plain, false, "Total number of requests or connections aborted by the server since the worker process started"),
    m(Be, "http_comp_bytes_in_total", Field::CompIn, Counter, Render::Plain, true, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"),
    m(Be, "http_comp_bytes_out_total", Field::CompOut, Counter, Render::Plain, true, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"),
    m(Be, "http_comp_bytes_bypassed_total", Field::CompByp, Counter, Render::Plain, true, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"),
    m(Be, "http_comp_responses_total", Field::CompRsp, Counter, Render::Plain, true, "Total number of HTTP responses that were compressed for this object since the worker process started"),
    m(Be, "last_session_seconds", Field::Lastsess, Gauge, Render::Plain, false, "How long ago some traffic was seen on this object on this worker process, in seconds"),
    m(Be, "queue_time_average_seconds", Field::Qtime, Gauge, Render::Seconds, false, "Avg. queue time for last 1024 successful connections."),
    m(Be, "connect_time_average_seconds", Field::Ctime, Gauge, Render::Seconds, false, "Avg. connect time for last 1024 successful connections."),
    m(Be, "response_time_average_seconds", Field::Rtime, Gauge, Render::Seconds, false, "Avg. response time for last 1024 successful connections."),
    m(Be, "total_time_average_seconds", Field::Ttime, Gauge, Render::Seconds, false, "Avg. total time for last 1024 successful connections."),
    m(Be, "failed_header_rewriting_total", Field::Wrew, Counter, Render::Plain, false, "Total number of failed HTTP header rewrites since the worker process started"),
    m(Be, "connection_attempts_total", Field::Connect, Counter, Render::Plain, false, "Total number of outgoing connection attempts on this backend/server since the worker process started"),
    m(Be, "connection_reuses_total", Field::Reuse, Counter, Render::Plain, false, "Total number of reused connection on this backend/server since the worker process started"),
    m(Be, "http_cache_lookups_total", Field::CacheLookups, Counter, Render::Plain, true, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"),
    m(Be, "http_cache_hits_total", Field::CacheHits, Counter, Render::Plain, true, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"),
    m(Be, "max_queue_time_seconds", Field::QtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent in the queue"),
    m(Be, "max_connect_time_seconds", Field::CtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent waiting for a connection to complete"),
    m(Be, "max_response_time_seconds", Field::RtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent waiting for a server response"),
    m(Be, "max_total_time_seconds", Field::TtimeMax, Gauge, Render::Seconds, false, "Maximum observed total request+response time (request+queue+connect+response+processing)"),
    m(Be, "internal_errors_total", Field::Eint, Counter, Render::Plain, false, "Total number of internal errors since process started"),
    m(Be, "uweight", Field::Uweight, Gauge, Render::Plain, false, "Server's user weight, or sum of active servers' user weights for a backend"),
    m(Be, "agg_server_status", Field::AggServerStatus, Gauge, Render::AggServerStatus, false, "Backend's aggregated gauge of servers' status"),
    m(Be, "agg_server_check_status", Field::AggServerCheckStatus, Gauge, Render::AggServerStatus, false, "Backend's aggregated gauge of servers' state check status"),
    m(Be, "agg_check_status", Field::AggCheckStatus, Gauge, Render::AggCheckStatus, false, "Backend's aggregated gauge of servers' state check status"),
    m(Sv, "current_queue", Field::Qcur, Gauge, Render::Plain, false, "Number of current queued connections"),
    m(Sv, "max_queue", Field::Qmax, Gauge, Render::Plain, false, "Highest value of queued connections encountered since process started"),
    m(Sv, "current_sessions", Field::Scur, Gauge, Render::Plain, false, "Number of current sessions on the frontend, backend or server"),
    m(Sv, "max_sessions", Field::Smax, Gauge, Render::Plain, false, "Highest value of current sessions encountered since process started"),
    m(Sv, "limit_sessions", Field::Slim, Gauge, Render::Plain, false, "Frontend/listener/server's maxconn, backend's fullconn"),
    m(Sv, "sessions_total", Field::Stot, Counter, Render::Plain, false, "Total number of sessions since process started"),
    m(Sv, "bytes_in_total", Field::Bin, Counter, Render::Plain, false, "Total number of request bytes since process started"),
    m(Sv, "bytes_out_total", Field::Bout, Counter, Render::Plain, false, "Total number of response bytes since process started"),
    m(Sv, "responses_denied_total", Field::Dresp, Counter, Render::Plain, false, "Total number of denied responses since process started"),
    m(Sv, "connection_errors_total", Field::Econ, Counter, Render::Plain, false, "Total number of failed connections to server since the worker process started"),
    m(Sv, "response_errors_total", Field::Eresp, Counter, Render::Plain, false, "Total number of invalid responses since the worker process started"),
    m(Sv, "retry_warnings_total", Field::Wretr, Counter, Render::Plain, false, "Total number of server connection retries since the worker process started"),
    m(Sv, "redispatch_warnings_total", Field::Wredis, Counter, Render::Plain, false, "Total number of server redispatches due to connection failures since the worker process started"),
    m(Sv, "status", Field::Status, Gauge, Render::Status, false, "Current status of the service, per state label value."),
    m(Sv, "weight", Field::Weight, Gauge, Render::Plain, false, "Server's effective weight, or sum of active servers' effective weights for a backend"),
    m(Sv, "check_failures_total", Field::Chkfail, Counter, Render::Plain, false, "Total number of failed individual health checks per server/backend, since the worker process started"),
    m(Sv, "check_up_down_total", Field::Chkdown, Counter, Render::Plain, false, "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"),
    m(Sv, "check_last_change_seconds", Field::Lastchg, Gauge, Render::Plain, false, "How long ago the last server state changed, in seconds"),
    m(Sv, "downtime_seconds_total", Field::Downtime, Counter, Render::Plain, false, "Total time spent in DOWN state, for server or backend"),
    m(Sv, "queue_limit", Field::Qlimit, Gauge, Render::Plain, false, "Limit on the number of connections in queue, for servers only (maxqueue argument)"),
    m(Sv, "current_throttle", Field::Throttle, Gauge, Render::Plain, false, "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)"),
    m(Sv, "loadbalanced_total", Field::Lbtot, Counter, Render::Plain, false, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"),
    m(Sv, "max_session_rate", Field::RateMax, Gauge, Render::Plain, false, "Highest value of sessions per second observed since the worker process started"),
    m(Sv, "check_status", Field::CheckStatus, Gauge, Render::CheckStatus, false, "Status of last health check, per state label value."),
    m(Sv, "check_code", Field::CheckCode, Gauge, Render::CheckCode, false, "layer5-7 code, if available of the last health check."),
    m(Sv, "check_duration_seconds", Field::CheckDuration, Gauge, Render::CheckSeconds, false, "Total duration of the latest server health check, in seconds."),
    m(Sv, "http_responses_total", Field::Hrsp1xx, Counter, Render::ResponseCodes, true, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"),
    m(Sv, "client_aborts_total", Field::CliAbrt, Counter, Render::Plain, false, "Total number of requests or connections aborted by the client since the worker process started"),
    m(Sv, "server_aborts_total", Field::SrvAbrt, Counter, Render::Plain, false, "Total number of requests or connections aborted by the server since the worker process started"),
    m(Sv, "last_session_seconds", Field::Lastsess, Gauge, Render::Plain, false, "How long ago some traffic was seen on this object on this worker process, in seconds"),
    m(Sv, "queue_time_average_seconds", Field::Qtime, Gauge, Render::Seconds, false, "Avg. queue time for last 1024 successful connections."),
    m(Sv, "connect_time_average_seconds", Field::Ctime, Gauge, Render::Seconds, false, "Avg. connect time for last 1024 successful connections."),
    m(Sv, "response_time_average_seconds", Field::Rtime, Gauge, Render::Seconds, false, "Avg. response time for last 1024 successful connections."),
    m(Sv, "total_time_average_seconds", Field::Ttime, Gauge, Render::Seconds, false, "Avg. total time for last 1024 successful connections."),
    m(Sv, "failed_header_rewriting_total", Field::Wrew, Counter, Render::Plain, false, "Total number of failed HTTP header rewrites since the worker process started"),
    m(Sv, "connection_attempts_total", Field::Connect, Counter, Render::Plain, false, "Total number of outgoing connection attempts on this backend/server since the worker process started"),
    m(Sv, "connection_reuses_total", Field::Reuse, Counter, Render::Plain, false, "Total number of reused connection on this backend/server since the worker process started"),
    m(Sv, "idle_connections_current", Field::SrvIcur, Gauge, Render::Plain, false, "Current number of idle connections available for reuse on this server"),
    m(Sv, "idle_connections_limit", Field::SrcIlim, Gauge, Render::Plain, false, "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)"),
    m(Sv, "max_queue_time_seconds", Field::QtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent in the queue"),
    m(Sv, "max_connect_time_seconds", Field::CtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent waiting for a connection to complete"),
    m(Sv, "max_response_time_seconds", Field::RtimeMax, Gauge, Render::Seconds, false, "Maximum observed time spent waiting for a server response"),
    m(Sv, "max_total_time_seconds", Field::TtimeMax, Gauge, Render::Seconds, false, "Maximum observed total request+response time (request+queue+connect+response+processing)"),
    m(Sv, "internal_errors_total", Field::Eint, Counter, Render::Plain, false, "Total number of internal errors since process started"),
    m(Sv, "unsafe_idle_connections_current", Field::IdleConnCur, Gauge, Render::Plain, false, "Current number of unsafe idle connections"),
    m(Sv, "safe_idle_connections_current", Field::SafeConnCur, Gauge, Render::Plain, false, "Current number of safe idle connections"),
    m(Sv, "used_connections_current", Field::UsedConnCur, Gauge, Render::Plain, false, "Current number of connections in use"),
    m(Sv, "need_connections_current", Field::NeedConnEst, Gauge, Render::Plain, false, "Estimated needed number of connections"),
    m(Sv, "uweight", Field::Uweight, Gauge, Render::Plain, false, "Server's user weight, or sum of active servers' user weights for a backend"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sample::{sample_snapshot, HAPROXY_METRICS};
    use std::collections::{BTreeSet, HashMap};

    /// A sample line's family: its name less a histogram's suffix.
    fn family_of(line: &str, histograms: &BTreeSet<String>) -> String {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if histograms.contains(base) {
                    return base.to_string();
                }
            }
        }
        name.to_string()
    }

    fn histograms(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" histogram"))
            .map(str::to_string)
            .collect()
    }

    fn families(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap_or("").to_string())
            .collect()
    }

    fn be_and_tcpb_lines(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| l.starts_with("haproxy_backend_") || l.starts_with("haproxy_server_"))
            .filter(|l| l.contains("{proxy=\"be\"") || l.contains("{proxy=\"tcpb\""))
            .collect()
    }

    #[test]
    fn prom_backend_and_server_samples_are_haproxys() {
        let out = render(&sample_snapshot());
        let ours = be_and_tcpb_lines(&out);
        let theirs = be_and_tcpb_lines(HAPROXY_METRICS);
        assert_eq!(ours.len(), theirs.len());
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b);
        }
    }

    #[test]
    fn prom_haproxy_families_have_haproxys_names_help_and_type() {
        let out = render(&sample_snapshot());
        let theirs: BTreeSet<&str> = HAPROXY_METRICS
            .lines()
            .filter(|l| l.starts_with('#'))
            .collect();
        for line in out
            .lines()
            .filter(|l| l.starts_with("# ") && l.contains(" haproxy_"))
        {
            assert!(theirs.contains(line), "not HAProxy's: {line}");
        }
        // Every frontend/backend/server family of HAProxy's is written for the sample.
        let ours: BTreeSet<String> = families(&out).into_iter().collect();
        for fam in families(HAPROXY_METRICS) {
            if !fam.starts_with("haproxy_process_") {
                assert!(ours.contains(&fam), "missing {fam}");
            }
        }
    }

    #[test]
    fn prom_every_family_has_help_and_type_once_before_its_samples() {
        let out = render(&sample_snapshot());
        let hist = histograms(&out);
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        let mut current = String::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or("").to_string();
                seen.entry(name.clone()).or_default().0 += 1;
                if !current.is_empty() {
                    done.insert(std::mem::take(&mut current));
                }
                current = name;
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or("").to_string();
                assert_eq!(name, current, "TYPE right after its HELP");
                seen.entry(name).or_default().1 += 1;
            } else {
                let fam = family_of(line, &hist);
                assert_eq!(fam, current, "sample outside its family: {line}");
                assert!(!done.contains(&fam));
            }
        }
        for (name, (help, ty)) in seen {
            assert_eq!((help, ty), (1, 1), "{name}");
        }
    }

    #[test]
    fn prom_histograms_are_cumulative_and_end_in_count() {
        let out = render(&sample_snapshot());
        let mut series: Vec<(String, Vec<u64>, Option<u64>)> = Vec::new();
        for line in out.lines().filter(|l| l.starts_with("ringlb_")) {
            let (name_labels, value) = line.rsplit_once(' ').unwrap_or((line, ""));
            if let Some((name, labels)) = name_labels.split_once("_bucket{") {
                let key = format!("{name}{{{}", labels.split(",le=").next().unwrap_or(""));
                if series.last().is_none_or(|s| s.0 != key) {
                    series.push((key, Vec::new(), None));
                }
                if let Some(s) = series.last_mut() {
                    s.1.push(value.parse().unwrap_or(u64::MAX));
                    assert_eq!(
                        labels.ends_with("le=\"+Inf\"}"),
                        s.1.len() == BUCKETS_S.len() + 1
                    );
                }
            } else if name_labels.contains("_count{") {
                if let Some(s) = series.last_mut() {
                    s.2 = value.parse().ok();
                }
            }
        }
        // be's backend row and s1, s2, s3 (empty) for each of the three histograms.
        assert_eq!(series.len(), 3 + 3 * 3);
        for (key, buckets, count) in &series {
            assert!(
                buckets.windows(2).all(|w| w[0] <= w[1]),
                "{key}: {buckets:?}"
            );
            assert_eq!(buckets.last().copied(), *count, "{key}");
        }
        assert!(out.contains("ringlb_backend_total_time_seconds_count{proxy=\"be\"} 8\n"));
        assert!(out.contains(
            "ringlb_server_connect_time_seconds_bucket{proxy=\"be\",server=\"s3\",le=\"+Inf\"} 0\n"
        ));
    }

    #[test]
    fn prom_ringlb_process_and_core_families() {
        let out = render(&sample_snapshot());
        assert!(out.contains("\nringlb_process_log_lines_dropped_total 2\n"));
        assert!(out.contains("\nhaproxy_process_dropped_logs_total 2\n"));
        assert!(out.contains("\nringlb_core_requests_total{core=\"0\"} 30\n"));
        assert!(out.contains("\nringlb_core_requests_total{core=\"1\"} 10\n"));
        assert!(out.contains("\nhaproxy_process_build_info{version=\"0.1.0\"} 1\n"));
    }

    #[test]
    fn prom_scopes_select_families() {
        let snap = sample_snapshot();
        let servers = render_scoped(&snap, &["server"]);
        assert!(families(&servers)
            .iter()
            .all(|f| f.starts_with("haproxy_server_") || f.starts_with("ringlb_server_")));
        assert!(!servers.is_empty());
        assert_eq!(render_scoped(&snap, &[]), "");
        let fe_be = render_scoped(&snap, &["frontend", "backend"]);
        assert!(fe_be.contains("haproxy_frontend_") && fe_be.contains("ringlb_backend_"));
        assert!(!fe_be.contains("haproxy_server_") && !fe_be.contains("haproxy_process_"));
        assert_eq!(render_scoped(&snap, &["*"]), render(&snap));
        assert_eq!(render_scoped(&snap, &[""]), "");
        assert!(is_valid_scope("server") && is_valid_scope("") && !is_valid_scope("bogus"));
    }

    #[test]
    fn prom_labels_are_escaped() {
        let mut snap = sample_snapshot();
        snap.proxies[2].name = "a\"b\\c\nd".to_string();
        let out = render(&snap);
        assert!(out.contains("haproxy_backend_current_queue{proxy=\"a\\\"b\\\\c\\nd\"} 0\n"));
    }

    /// `promtool check metrics` finds nothing in our output that it does not find in HAProxy's
    /// own (it complains about HAProxy's `failed_resolutions` counter name, which we skip).
    #[test]
    fn prom_promtool_finds_no_new_problem() {
        let Some(ours) = promtool_problems(&render(&sample_snapshot())) else {
            println!("promtool not found: skipping the promtool check");
            return;
        };
        let theirs = promtool_problems(HAPROXY_METRICS).unwrap_or_default();
        let new: Vec<&String> = ours.iter().filter(|p| !theirs.contains(*p)).collect();
        assert!(new.is_empty(), "promtool: {new:?}");
    }

    fn promtool_problems(text: &str) -> Option<BTreeSet<String>> {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(text.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        let all = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        Some(
            all.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
        )
    }
}
