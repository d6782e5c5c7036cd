//! What a stats report shows, as plain data: the cores' counters merged, the checker's view of
//! each server, and the process. Built on demand (`collect.rs`) on the core that serves the
//! report; every renderer (`;csv`, `;json`, HTML, Prometheus) reads only this.

use super::fields::Field;

/// One cell of a stats row. `Empty` is a column that does not apply to the row's kind or
/// that ringlb does not fill: the CSV leaves it empty in its place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Value {
    #[default]
    Empty,
    /// Counters, gauges, limits (HAProxy's u32/u64 fields).
    U64(u64),
    /// Signed values (HAProxy's s32 fields: `check_code`, `check_duration`, `-1` unknowns).
    I64(i64),
    /// Names and states (`pxname`, `status`, `check_status`, `addr`, `mode`, `algo` ...).
    Str(String),
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            Value::I64(v) => u64::try_from(*v).ok(),
            Value::Empty | Value::Str(_) => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What a row describes (HAProxy's `type` column: 0 frontend, 1 backend, 2 server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Frontend,
    Backend,
    Server,
}

impl RowKind {
    /// HAProxy's `type` column.
    pub fn code(self) -> u64 {
        match self {
            RowKind::Frontend => 0,
            RowKind::Backend => 1,
            RowKind::Server => 2,
        }
    }
}

/// One line of the report: a frontend, a server or a backend, every column by `Field`.
#[derive(Clone, Debug)]
pub struct Row {
    pub kind: RowKind,
    values: Vec<Value>,
    /// Latency percentiles of a backend or server row (ringlb's own; not in the CSV).
    pub latency: Option<Latency>,
    /// Server rows: a backup server (HAProxy's `bck` column says the same as a number).
    pub backup: bool,
}

impl Row {
    pub fn new(kind: RowKind, pxname: &str, svname: &str) -> Self {
        let mut row = Row {
            kind,
            values: vec![Value::Empty; Field::ALL.len()],
            latency: None,
            backup: false,
        };
        row.set_str(Field::Pxname, pxname);
        row.set_str(Field::Svname, svname);
        row.set(Field::Type, kind.code());
        row
    }

    pub fn get(&self, f: Field) -> &Value {
        &self.values[f as usize]
    }

    /// The column as a number (0 when empty): for renderers that always print a number.
    pub fn num(&self, f: Field) -> u64 {
        self.get(f).as_u64().unwrap_or(0)
    }

    pub fn text(&self, f: Field) -> &str {
        self.get(f).as_str().unwrap_or("")
    }

    pub fn set(&mut self, f: Field, v: u64) {
        self.values[f as usize] = Value::U64(v);
    }

    pub fn set_i64(&mut self, f: Field, v: i64) {
        self.values[f as usize] = Value::I64(v);
    }

    pub fn set_str(&mut self, f: Field, v: &str) {
        self.values[f as usize] = Value::Str(v.to_string());
    }

    pub fn set_value(&mut self, f: Field, v: Value) {
        self.values[f as usize] = v;
    }

    /// Every cell in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    pub fn pxname(&self) -> &str {
        self.text(Field::Pxname)
    }

    pub fn svname(&self) -> &str {
        self.text(Field::Svname)
    }
}

/// One proxy as HAProxy lists it: its frontend row (a frontend or listen section), one row per
/// server and its backend row (a backend or listen section), in that order.
#[derive(Clone, Debug)]
pub struct ProxyStats {
    pub name: String,
    /// HAProxy's `iid`: the proxy's number.
    pub iid: u64,
    /// `http` or `tcp`.
    pub mode: &'static str,
    pub frontend: Option<Row>,
    pub servers: Vec<Row>,
    pub backend: Option<Row>,
}

impl ProxyStats {
    /// The rows in HAProxy's order: FRONTEND, servers, BACKEND.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.frontend
            .iter()
            .chain(self.servers.iter())
            .chain(self.backend.iter())
    }
}

/// A latency distribution in microseconds, merged from the cores' hdrhistograms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Distribution {
    pub count: u64,
    /// Sum of all samples, microseconds.
    pub sum_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    /// Cumulative counts at `BUCKETS_S` upper bounds (Prometheus histogram `le`), in order;
    /// `count` is the `+Inf` bucket.
    pub buckets: Vec<u64>,
}

/// Upper bounds, in seconds, of the Prometheus histogram buckets ringlb exports.
pub const BUCKETS_S: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A backend's or a server's latencies: connect time (HAProxy's Tc), time to the first
/// response byte from the end of the request head (Tw + Tc + Tr), and the request's total
/// time (Ta). Up to a second old: cores publish them on a tick.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    pub connect: Distribution,
    pub first_byte: Distribution,
    pub total: Distribution,
}

/// One core's share of the traffic (the per-core view, beyond HAProxy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreRow {
    /// The worker's number, from 0.
    pub core: usize,
    /// The CPU it is pinned to, when pinned.
    pub cpu: Option<usize>,
    /// Client connections open on the core now.
    pub conns_cur: u64,
    /// Client connections accepted so far.
    pub conns_tot: u64,
    /// Requests (and mode tcp connections) ended so far.
    pub req_tot: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// The process as `show info` and the Prometheus `haproxy_process_*` metrics report it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub release_date: &'static str,
    pub pid: u32,
    pub nbthread: usize,
    /// `node` from the global section, or the host name.
    pub node: String,
    /// `description` from the global section.
    pub description: String,
    /// Unix seconds at start.
    pub start_time: u64,
    pub uptime_s: u64,
    pub maxconn: u64,
    pub curr_conns: u64,
    pub cum_conns: u64,
    pub cum_req: u64,
    pub conn_rate: u64,
    pub max_conn_rate: u64,
    pub sess_rate: u64,
    pub max_sess_rate: u64,
    pub ssl_conns_cur: u64,
    pub ssl_cum_conns: u64,
    pub ssl_failed_handshakes: u64,
    /// Log lines sent, and dropped because the log sink was slow.
    pub log_lines_sent: u64,
    pub log_lines_dropped: u64,
    /// `stopping`: a soft stop is under way.
    pub stopping: bool,
}

/// The whole report.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub process: ProcessInfo,
    /// In configuration order, as HAProxy lists proxies.
    pub proxies: Vec<ProxyStats>,
    pub cores: Vec<CoreRow>,
}

impl Snapshot {
    /// Every row of every proxy, in report order.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.proxies.iter().flat_map(|p| p.rows())
    }
}
