//! A report's data, gathered on demand on the core that serves it: every core's counters
//! summed (maxima: the highest of the cores' maxima),
//! the checker's table, the published latency histograms, the process.

use std::time::{Instant, SystemTime};

use super::counters::{CoreCounters, ProxyCounters, Timer};
use super::fields::Field as F;
use super::latency::{self, LatencyTables};
use super::shared::StatsShared;
use super::snapshot::{CoreRow, ProcessInfo, ProxyStats, Row, RowKind, Snapshot};
use crate::config::log_resolve::system_hostname;
use crate::config::model::{Backend, Balance, Frontend, Mode, Model, Server};
use crate::health::table::{live_servers, CheckState};
use crate::log::dates::unix_secs;
use crate::worker::Worker;

/// Everything a report shows, now.
pub fn snapshot(w: &Worker) -> Snapshot {
    snapshot_of(&w.stats.shared, &w.model, w.is_stopping())
}

/// The same, from the shared registry alone (the runtime API's thread has no worker).
pub fn snapshot_of(shared: &StatsShared, model: &Model, stopping: bool) -> Snapshot {
    let now_s = shared.now_s();
    let checks = shared.checks.read();
    let published: Vec<LatencyTables> = shared
        .latency
        .iter()
        .filter_map(|m| m.lock().ok().and_then(|g| g.clone()))
        .collect();
    let lat = latency::merge(published.iter(), model);
    let cx = Cx {
        shared,
        started: shared.started_at,
        cores: &shared.cores,
        now_s,
        now: Instant::now(),
        model,
        checks: &checks,
        lat: &lat,
    };
    Snapshot {
        process: process(shared, model, stopping),
        proxies: proxies(&cx),
        cores: cores(shared),
    }
}

struct Cx<'a> {
    shared: &'a StatsShared,
    started: Instant,
    cores: &'a [Box<CoreCounters>],
    now_s: u64,
    now: Instant,
    model: &'a Model,
    checks: &'a [Vec<CheckState>],
    lat: &'a LatencyTables,
}

/// One proxy as reports list it: its frontend and/or backend (a `listen` section has both),
/// and HAProxy's number for it (`iid`).
pub struct ProxySlot {
    pub frontend: Option<usize>,
    pub backend: Option<usize>,
    pub iid: u64,
}

/// The proxies in configuration order, numbered as HAProxy numbers them.
pub fn proxy_slots(m: &Model) -> Vec<ProxySlot> {
    let mut out: Vec<(u32, Option<usize>, Option<usize>)> = Vec::new();
    for (i, fe) in m.frontends.iter().enumerate() {
        let be = m
            .backends
            .iter()
            .position(|b| b.listen_frontend && b.name == fe.name);
        out.push((fe.loc.line, Some(i), be));
    }
    for (i, be) in m.backends.iter().enumerate() {
        let is_listen = be.listen_frontend && m.frontends.iter().any(|f| f.name == be.name);
        if !is_listen {
            out.push((be.loc.line, None, Some(i)));
        }
    }
    out.sort_by_key(|(line, _, _)| *line);
    // HAProxy numbers its hidden CLI proxy first when there is a `stats socket` (a
    // master-worker's internal one aside).
    let first = if m.global.stats_sockets.iter().all(|s| s.internal) {
        1
    } else {
        2
    };
    out.into_iter()
        .enumerate()
        .map(|(n, (_, frontend, backend))| ProxySlot {
            frontend,
            backend,
            iid: n as u64 + first,
        })
        .collect()
}

/// The proxies in configuration order; a `listen` section is one proxy with both rows.
fn proxies(cx: &Cx<'_>) -> Vec<ProxyStats> {
    let m = cx.model;
    proxy_slots(m)
        .into_iter()
        .map(|slot| {
            let fe = slot.frontend.and_then(|i| Some((i, m.frontends.get(i)?)));
            let be = slot.backend.and_then(|i| Some((i, m.backends.get(i)?)));
            let mut p = proxy(cx, fe, be);
            p.iid = slot.iid;
            for r in p
                .frontend
                .iter_mut()
                .chain(&mut p.servers)
                .chain(&mut p.backend)
            {
                r.set(F::Iid, p.iid);
            }
            p
        })
        .collect()
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Http => "http",
        Mode::Tcp => "tcp",
    }
}

fn proxy(cx: &Cx<'_>, fe: Option<(usize, &Frontend)>, be: Option<(usize, &Backend)>) -> ProxyStats {
    let (name, mode) = match (fe, be) {
        (Some((_, f)), _) => (f.name.clone(), f.mode),
        (None, Some((_, b))) => (b.name.clone(), b.mode),
        (None, None) => (String::new(), Mode::Http),
    };
    // The servers it has now (`add server` and `del server` change them).
    let servers: Vec<Row> = be
        .map(|(bi, b)| {
            live_servers(b, cx.checks.get(bi).map(Vec::as_slice))
                .map(|(si, s, _)| server_row(cx, &name, bi, b, si, s))
                .collect()
        })
        .unwrap_or_default();
    let backend = be.map(|(bi, b)| backend_row(cx, &name, bi, b, &servers));
    ProxyStats {
        frontend: fe.map(|(fi, f)| frontend_row(cx, &name, fi, f)),
        servers,
        backend,
        name,
        iid: 0,
        mode: mode_name(mode),
    }
}

/// Whose counters a row shows.
#[derive(Clone, Copy)]
enum Which {
    Frontend(usize),
    Backend(usize),
    Server(usize, usize),
}

impl Which {
    fn of(self, c: &CoreCounters) -> Option<&ProxyCounters> {
        match self {
            Which::Frontend(i) => c.frontends.get(i),
            Which::Backend(i) => c.backends.get(i),
            Which::Server(b, s) => c.servers.get(b)?.get(s),
        }
    }
}

/// One counter summed over the cores.
fn sum(cx: &Cx<'_>, which: Which, f: &dyn Fn(&ProxyCounters) -> u64) -> u64 {
    cx.cores.iter().filter_map(|c| which.of(c)).map(f).sum()
}

/// One counter's highest value over the cores.
fn highest(cx: &Cx<'_>, which: Which, f: &dyn Fn(&ProxyCounters) -> u64) -> u64 {
    cx.cores
        .iter()
        .filter_map(|c| which.of(c))
        .map(f)
        .max()
        .unwrap_or(0)
}

/// The columns every kind of row fills the same way from its counters.
fn common(cx: &Cx<'_>, row: &mut Row, pick: Which) {
    let s = |f: &dyn Fn(&ProxyCounters) -> u64| sum(cx, pick, f);
    let now = cx.now_s;
    row.set(F::Scur, s(&|p| p.sessions.cur()));
    // The highest of the cores' own maxima: exact when one core at a time carries the peak,
    // a lower bound otherwise (each core knows only its own concurrency).
    row.set(F::Smax, highest(cx, pick, &|p| p.sessions.max()));
    row.set(F::Stot, s(&|p| p.stot.get()));
    row.set(F::Bin, s(&|p| p.bytes_in.get()));
    row.set(F::Bout, s(&|p| p.bytes_out.get()));
    row.set(F::Rate, s(&|p| p.session_rate.per_second(now)));
    row.set(F::RateMax, s(&|p| p.session_rate.max()));
    row.set(F::Pid, 1);
    row.set(F::Hrsp1xx, s(&|p| p.responses[0].get()));
    row.set(F::Hrsp2xx, s(&|p| p.responses[1].get()));
    row.set(F::Hrsp3xx, s(&|p| p.responses[2].get()));
    row.set(F::Hrsp4xx, s(&|p| p.responses[3].get()));
    row.set(F::Hrsp5xx, s(&|p| p.responses[4].get()));
    row.set(F::HrspOther, s(&|p| p.responses[5].get()));
    row.set(F::Dresp, s(&|p| p.denied_resp.get()));
    row.set(F::Wrew, 0);
    row.set(F::Eint, 0);
}

/// The backend and server columns: errors, warnings, abort counts, timers.
fn exchange_cols(cx: &Cx<'_>, row: &mut Row, pick: Which) {
    let s = |f: &dyn Fn(&ProxyCounters) -> u64| sum(cx, pick, f);
    row.set(F::Econ, s(&|p| p.err_conn.get()));
    row.set(F::Eresp, s(&|p| p.err_resp.get()));
    row.set(F::Wretr, s(&|p| p.retries.get()));
    row.set(F::Wredis, s(&|p| p.redispatches.get()));
    row.set(F::CliAbrt, s(&|p| p.cli_abort.get()));
    row.set(F::SrvAbrt, s(&|p| p.srv_abort.get()));
    row.set(F::Lbtot, s(&|p| p.lbtot.get()));
    row.set(F::Qcur, s(&|p| p.queue.cur()));
    row.set(F::Qmax, highest(cx, pick, &|p| p.queue.max()));
    let last = highest(cx, pick, &|p| p.last_session.get());
    let unix = unix_secs(SystemTime::now());
    // HAProxy: seconds since the last session, -1 when there never was one.
    row.set_i64(
        F::Lastsess,
        if last == 0 {
            -1
        } else {
            unix.saturating_sub(last) as i64
        },
    );
    for (t, avg, max) in [
        (Timer::Queue, F::Qtime, F::QtimeMax),
        (Timer::Connect, F::Ctime, F::CtimeMax),
        (Timer::Response, F::Rtime, F::RtimeMax),
        (Timer::Total, F::Ttime, F::TtimeMax),
    ] {
        let total = s(&|p| p.timer(t).sum_ms.get());
        let n = s(&|p| p.timer(t).count.get());
        row.set(avg, total.checked_div(n).unwrap_or(0));
        let m = highest(cx, pick, &|p| p.timer(t).max_ms.get());
        row.set(max, m);
    }
    row.set(F::Connect, s(&|p| p.connect.get()));
    row.set(F::Reuse, s(&|p| p.reuse.get()));
}

/// ringlb never compresses (no `compression` keyword): HAProxy's compression counters of a
/// frontend or backend are 0, truly.
fn no_compression(row: &mut Row) {
    for f in [F::CompIn, F::CompOut, F::CompByp, F::CompRsp] {
        row.set(f, 0);
    }
}

fn frontend_row(cx: &Cx<'_>, name: &str, fi: usize, fe: &Frontend) -> Row {
    let mut row = Row::new(RowKind::Frontend, name, "FRONTEND");
    no_compression(&mut row);
    let pick = Which::Frontend(fi);
    common(cx, &mut row, pick);
    let s = |f: &dyn Fn(&ProxyCounters) -> u64| sum(cx, pick, f);
    let now = cx.now_s;
    let slim = cx.shared.maxconn.frontend(fi).unwrap_or(fe.maxconn);
    row.set(F::Slim, u64::from(slim));
    row.set(F::Dreq, s(&|p| p.denied_req.get()));
    row.set(F::Ereq, s(&|p| p.err_req.get()));
    row.set_str(F::Status, "OPEN");
    row.set(F::Sid, 0);
    row.set(F::RateLim, 0);
    row.set(F::ReqRate, s(&|p| p.req_rate.per_second(now)));
    row.set(F::ReqRateMax, s(&|p| p.req_rate.max()));
    row.set(F::ReqTot, s(&|p| p.req_tot.get()));
    row.set(F::ConnRate, s(&|p| p.conn_rate.per_second(now)));
    row.set(F::ConnRateMax, s(&|p| p.conn_rate.max()));
    row.set(F::ConnTot, s(&|p| p.conn_tot.get()));
    row.set(F::Intercepted, s(&|p| p.intercepted.get()));
    row.set(F::Dcon, s(&|p| p.denied_conn.get()));
    row.set(F::Dses, s(&|p| p.denied_sess.get()));
    row.set_str(F::Mode, mode_name(fe.mode));
    row.set(F::SslSess, s(&|p| p.ssl_sess.get()));
    row.set(F::SslReusedSess, s(&|p| p.ssl_reused.get()));
    row.set(F::SslFailedHandshake, s(&|p| p.ssl_failed.get()));
    row
}

fn algo_name(b: &Balance) -> &'static str {
    match b {
        Balance::RoundRobin => "roundrobin",
        Balance::StaticRr => "static-rr",
        Balance::LeastConn => "leastconn",
        Balance::First => "first",
        Balance::Source => "source",
        Balance::Uri { .. } => "uri",
        Balance::Hdr(_) => "hdr",
        Balance::Random => "random",
    }
}

/// HAProxy's status text of a server: UP, DOWN, the way between ("UP 1/3", "DOWN 1/2"),
/// MAINT for a disabled server, "no check" for one never checked.
pub fn server_status(s: &Server, st: Option<&CheckState>) -> String {
    if st.map_or(s.disabled, |c| c.maint) {
        return "MAINT".into();
    }
    let draining = st.is_some_and(|c| c.drain);
    let Some(st) = st.filter(|c| c.checked) else {
        return if draining {
            "DRAIN".into()
        } else {
            "no check".into()
        };
    };
    let top = st.rise + st.fall - 1;
    if st.up {
        if draining {
            "DRAIN".into()
        } else if st.health >= top {
            "UP".into()
        } else {
            format!("UP {}/{}", st.health + 1 - st.rise, st.fall)
        }
    } else if st.health == 0 {
        "DOWN".into()
    } else {
        format!("DOWN {}/{}", st.health, st.rise)
    }
}

/// The server is taking traffic (UP, going down, or not checked; not in maintenance).
pub fn server_usable(s: &Server, st: Option<&CheckState>) -> bool {
    match st {
        None => !s.disabled,
        Some(c) => !c.maint && (!c.checked || c.up),
    }
}

fn server_row(cx: &Cx<'_>, px: &str, bi: usize, b: &Backend, si: usize, s: &Server) -> Row {
    let mut row = Row::new(RowKind::Server, px, &s.name);
    row.backup = s.backup;
    let pick = Which::Server(bi, si);
    common(cx, &mut row, pick);
    exchange_cols(cx, &mut row, pick);
    let st = cx.checks.get(bi).and_then(|l| l.get(si));
    row.set_str(F::Status, &server_status(s, st));
    let pct = st.map_or(100, |c| u64::from(c.weight_pct));
    let user_weight = st.map_or(s.weight, |c| c.admin_weight);
    let draining = st.is_some_and(|c| c.drain);
    let weight = if draining {
        0
    } else {
        u64::from(user_weight) * pct / 100
    };
    row.set(F::Weight, weight);
    row.set(F::Uweight, u64::from(user_weight));
    row.set(F::Act, u64::from(!s.backup));
    row.set(F::Bck, u64::from(s.backup));
    // The runtime API's maxconn and address when it changed them.
    if let Some(m) = st.map_or(s.maxconn, |c| c.maxconn) {
        row.set(F::Slim, u64::from(m));
    }
    row.set(F::Sid, si as u64 + 1);
    row.set_str(F::Addr, &st.map_or(s.addr, |c| c.addr).to_string());
    row.set_str(F::Mode, mode_name(b.mode));
    if let Some(st) = st {
        row.set(
            F::Lastchg,
            cx.now.saturating_duration_since(st.last_change).as_secs(),
        );
        if st.checked {
            row.set(F::Chkfail, st.failed);
            row.set(F::Chkdown, st.went_down);
            row.set(F::CheckRise, u64::from(st.rise));
            row.set(F::CheckFall, u64::from(st.fall));
            row.set(F::CheckHealth, u64::from(st.health));
            if let Some(code) = st.status {
                row.set_str(F::CheckStatus, code);
                row.set_str(F::CheckDesc, &st.desc);
            }
            if let Some(c) = st.code {
                row.set(F::CheckCode, u64::from(c));
            }
            if let Some(d) = st.duration {
                row.set(F::CheckDuration, d.as_millis() as u64);
            }
            row.set_str(F::LastChk, &st.info);
        }
    }
    row.latency = cx
        .lat
        .servers
        .get(bi)
        .and_then(|l| l.get(si))
        .and_then(latency::latency);
    row
}

fn backend_row(cx: &Cx<'_>, name: &str, bi: usize, b: &Backend, servers: &[Row]) -> Row {
    let mut row = Row::new(RowKind::Backend, name, "BACKEND");
    no_compression(&mut row);
    let pick = Which::Backend(bi);
    common(cx, &mut row, pick);
    exchange_cols(cx, &mut row, pick);
    let s = |f: &dyn Fn(&ProxyCounters) -> u64| sum(cx, pick, f);
    row.set(F::Dreq, s(&|p| p.denied_req.get()));
    row.set(F::ReqTot, s(&|p| p.req_tot.get()));
    let checks = cx.checks.get(bi);
    let live: Vec<(usize, &Server, Option<&CheckState>)> =
        live_servers(b, checks.map(Vec::as_slice)).collect();
    let usable: Vec<&Server> = live
        .iter()
        .filter(|(_, srv, st)| server_usable(srv, *st))
        .map(|(_, srv, _)| *srv)
        .collect();
    // HAProxy shows a backend without servers (a stats backend) as UP.
    let up = !usable.is_empty() || live.is_empty();
    row.set_str(F::Status, if up { "UP" } else { "DOWN" });
    let weight = |backup: bool| -> u64 {
        servers
            .iter()
            .filter(|r| {
                let status = r.text(F::Status);
                r.backup == backup && status != "MAINT" && !status.starts_with("DOWN")
            })
            .map(|r| r.num(F::Weight))
            .sum()
    };
    let act = usable.iter().filter(|s| !s.backup).count() as u64;
    let bck = usable.iter().filter(|s| s.backup).count() as u64;
    row.set(
        F::Weight,
        if act > 0 { weight(false) } else { weight(true) },
    );
    row.set(
        F::Uweight,
        live.iter().map(|(_, s, _)| u64::from(s.weight)).sum(),
    );
    row.set(F::Act, act);
    row.set(F::Bck, bck);
    row.set(F::Sid, 0);
    row.set(F::Slim, fullconn(cx.model, bi));
    row.set_str(F::Mode, mode_name(b.mode));
    row.set_str(F::Algo, algo_name(&b.balance));
    // The backend changed state when its last server did (or at start).
    let started = cx.now.saturating_duration_since(cx.started).as_secs();
    let last = live
        .iter()
        .filter_map(|(_, _, c)| *c)
        .map(|c| cx.now.saturating_duration_since(c.last_change).as_secs())
        .min()
        .unwrap_or(started);
    row.set(F::Lastchg, last);
    if !live.is_empty() {
        // Down while no server is usable: since the last of them went down.
        let down_for = if up { 0 } else { last };
        row.set(F::Downtime, down_for);
    }
    row.set(
        F::Chkdown,
        live.iter()
            .filter_map(|(_, _, c)| *c)
            .map(|c| c.went_down)
            .sum(),
    );
    row.latency = cx.lat.backends.get(bi).and_then(latency::latency);
    row
}

/// HAProxy's default `fullconn` of a backend (its `slim`): a tenth of the `maxconn` of the
/// frontends that may send it traffic, at least 1.
fn fullconn(m: &Model, bi: usize) -> u64 {
    let feeds = |f: &Frontend| {
        f.default_backend.is_some_and(|b| b.index() == bi)
            || f.switching.iter().any(|r| r.backend.index() == bi)
            || m.backends
                .get(bi)
                .is_some_and(|b| b.listen_frontend && b.name == f.name)
    };
    let total: u64 = m
        .frontends
        .iter()
        .filter(|f| feeds(f))
        .map(|f| u64::from(f.maxconn))
        .sum();
    total.div_ceil(10).max(1)
}

fn cores(shared: &StatsShared) -> Vec<CoreRow> {
    shared
        .cores
        .iter()
        .enumerate()
        .map(|(i, c)| CoreRow {
            core: i,
            cpu: shared.cpus.get(i).copied().flatten(),
            conns_cur: c.conns.cur(),
            conns_tot: c.conns_tot.get(),
            req_tot: c.req_tot.get(),
            bytes_in: c.bytes_in.get(),
            bytes_out: c.bytes_out.get(),
        })
        .collect()
}

fn process(shared: &StatsShared, model: &Model, stopping: bool) -> ProcessInfo {
    let now_s = shared.now_s();
    let cores = &shared.cores;
    let total = |f: &dyn Fn(&CoreCounters) -> u64| cores.iter().map(|c| f(c)).sum::<u64>();
    let (sent, dropped) = shared.log.as_ref().map_or((0, 0), |l| {
        use std::sync::atomic::Ordering::Relaxed;
        (l.sent.load(Relaxed), l.dropped.load(Relaxed))
    });
    ProcessInfo {
        name: "ringlb",
        version: env!("CARGO_PKG_VERSION"),
        release_date: crate::build_info::RELEASE_DATE,
        pid: std::process::id(),
        nbthread: cores.len(),
        node: model.global.node.clone().unwrap_or_else(system_hostname),
        description: model.global.description.clone().unwrap_or_default(),
        start_time: unix_secs(shared.started),
        uptime_s: shared.started_at.elapsed().as_secs(),
        maxconn: u64::from(shared.maxconn.global()),
        curr_conns: total(&|c| c.conns.cur()),
        cum_conns: total(&|c| c.conns_tot.get()),
        cum_req: total(&|c| c.req_tot.get()),
        conn_rate: total(&|c| c.conn_rate.per_second(now_s)),
        max_conn_rate: total(&|c| c.conn_rate.max()),
        sess_rate: total(&|c| c.sess_rate.per_second(now_s)),
        max_sess_rate: total(&|c| c.sess_rate.max()),
        ssl_conns_cur: total(&|c| c.ssl_conns.cur()),
        ssl_cum_conns: total(&|c| c.ssl_conns_tot.get()),
        ssl_failed_handshakes: total(&|c| c.ssl_failed.get()),
        log_lines_sent: sent,
        log_lines_dropped: dropped,
        stopping,
    }
}
