//! A realistic snapshot for the renderers' tests, read from HAProxy 2.6's own `show stat`
//! (testdata/haproxy26_stat.csv): a plain frontend `fe`, a second one `origin`, a backend `be`
//! with an UP checked server (s1), an unchecked one (s2), a DOWN one (s3), one in maintenance
//! (s4), a backup (s5) and a weight-0 one (s6), a mode tcp backend `tcpb` and a listen section
//! `stats`. Taking HAProxy's numbers means a renderer's output can be compared with HAProxy's
//! for the same state. Latencies and the per-core view (ringlb's own) are added by hand.

use super::fields::Field;
use super::snapshot::{
    CoreRow, Distribution, Latency, ProcessInfo, ProxyStats, Row, RowKind, Snapshot, Value,
    BUCKETS_S,
};

/// HAProxy 2.6.12's `show stat` for the config described above.
pub const HAPROXY_STAT_CSV: &str = include_str!("testdata/haproxy26_stat.csv");

/// HAProxy 2.6.12's Prometheus exporter output, taken in the same second as the CSV (the
/// `be` and `tcpb` lines describe the same state; `fe` served the scrape itself).
pub const HAPROXY_METRICS: &str = include_str!("testdata/haproxy26_metrics.txt");

pub fn sample_snapshot() -> Snapshot {
    let mut snap = Snapshot {
        process: sample_process(),
        proxies: proxies_from_csv(HAPROXY_STAT_CSV),
        cores: sample_cores(),
    };
    add_latencies(&mut snap);
    snap
}

fn sample_process() -> ProcessInfo {
    ProcessInfo {
        name: "ringlb",
        version: "0.1.0",
        release_date: "2026/12/01",
        pid: 4242,
        nbthread: 2,
        node: "node1".to_string(),
        description: "edge <lb> & co".to_string(),
        start_time: 1_796_346_549,
        uptime_s: 3725,
        maxconn: 9981,
        curr_conns: 3,
        cum_conns: 29,
        cum_req: 17,
        conn_rate: 17,
        max_conn_rate: 17,
        sess_rate: 17,
        max_sess_rate: 17,
        ssl_conns_cur: 0,
        ssl_cum_conns: 0,
        ssl_failed_handshakes: 0,
        log_lines_sent: 120,
        log_lines_dropped: 2,
        stopping: false,
    }
}

fn sample_cores() -> Vec<CoreRow> {
    vec![
        CoreRow {
            core: 0,
            cpu: Some(0),
            conns_cur: 2,
            conns_tot: 20,
            req_tot: 30,
            bytes_in: 4000,
            bytes_out: 90_000,
        },
        CoreRow {
            core: 1,
            cpu: Some(1),
            conns_cur: 1,
            conns_tot: 9,
            req_tot: 10,
            bytes_in: 1500,
            bytes_out: 30_000,
        },
    ]
}

/// Rows grouped into proxies as HAProxy lists them (a proxy's rows are consecutive).
pub fn proxies_from_csv(csv: &str) -> Vec<ProxyStats> {
    let mut proxies: Vec<ProxyStats> = Vec::new();
    for line in csv.lines().skip(1).filter(|l| !l.is_empty()) {
        let row = row_from_csv_line(line);
        let starts_new = proxies.last().is_none_or(|p| p.name != row.pxname());
        if starts_new {
            proxies.push(ProxyStats {
                name: row.pxname().to_string(),
                iid: row.num(Field::Iid),
                mode: if row.text(Field::Mode) == "tcp" {
                    "tcp"
                } else {
                    "http"
                },
                frontend: None,
                servers: Vec::new(),
                backend: None,
            });
        }
        let Some(px) = proxies.last_mut() else {
            continue;
        };
        match row.kind {
            RowKind::Frontend => px.frontend = Some(row),
            RowKind::Backend => px.backend = Some(row),
            RowKind::Server => px.servers.push(row),
        }
    }
    proxies
}

/// One CSV line back into a Row: numbers as numbers, the rest as text (no field of the
/// fixture is quoted).
fn row_from_csv_line(line: &str) -> Row {
    let cells: Vec<&str> = line.split(',').collect();
    let kind = match cells.get(Field::Type as usize).copied() {
        Some("0") => RowKind::Frontend,
        Some("1") => RowKind::Backend,
        _ => RowKind::Server,
    };
    let mut row = Row::new(kind, cells[0], cells[1]);
    for (f, cell) in Field::ALL.iter().zip(cells.iter()) {
        row.set_value(*f, cell_value(cell));
    }
    row.backup = kind == RowKind::Server && row.num(Field::Bck) == 1;
    row
}

fn cell_value(cell: &str) -> Value {
    if cell.is_empty() {
        Value::Empty
    } else if let Ok(v) = cell.parse::<u64>() {
        Value::U64(v)
    } else if let Ok(v) = cell.parse::<i64>() {
        Value::I64(v)
    } else {
        Value::Str(cell.to_string())
    }
}

/// Latencies for `be` and its servers that carried traffic; the rest keep none, or an empty
/// distribution (s3, which never connected), so both cases are rendered.
fn add_latencies(snap: &mut Snapshot) {
    let Some(be) = snap.proxies.iter_mut().find(|p| p.name == "be") else {
        return;
    };
    if let Some(b) = be.backend.as_mut() {
        b.latency = Some(latency(&[300, 450, 800, 1200, 2500, 7000, 40_000, 900_000]));
    }
    for s in be.servers.iter_mut() {
        s.latency = match s.svname() {
            "s1" => Some(latency(&[300, 450, 800, 1200])),
            "s2" => Some(latency(&[2500, 7000, 40_000, 900_000])),
            "s3" => Some(Latency::default()),
            _ => None,
        };
    }
}

/// A latency whose three distributions are built from the same total times (microseconds):
/// connect a tenth of it, first byte a half.
fn latency(total_us: &[u64]) -> Latency {
    let scaled = |div: u64| -> Vec<u64> { total_us.iter().map(|t| t / div).collect() };
    Latency {
        connect: distribution(&scaled(10)),
        first_byte: distribution(&scaled(2)),
        total: distribution(total_us),
    }
}

pub fn distribution(samples_us: &[u64]) -> Distribution {
    let mut sorted = samples_us.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| -> u64 {
        if sorted.is_empty() {
            return 0;
        }
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
        sorted[i - 1]
    };
    let buckets = BUCKETS_S
        .iter()
        .map(|le| sorted.iter().filter(|&&us| us as f64 <= le * 1e6).count() as u64)
        .collect();
    Distribution {
        count: sorted.len() as u64,
        sum_us: sorted.iter().sum(),
        p50_us: at(0.5),
        p90_us: at(0.9),
        p99_us: at(0.99),
        p999_us: at(0.999),
        max_us: sorted.last().copied().unwrap_or(0),
        buckets,
    }
}
