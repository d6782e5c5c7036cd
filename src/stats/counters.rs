//! Each core's own counters, readable by the core that renders a report.
//!
//! Why single-writer atomics and not `Cell`s: a report is rendered on whichever core the
//! stats request reached, and it must see every core's counts as they are now (100 requests
//! sent, 100 counted). Every counter here is written by one core only, with a relaxed load and
//! store (a plain `mov` on x86, no locked instruction, no contention); other cores only read
//! them, on demand. Each core's block is its own allocation, so cores never write one cache
//! line. Nothing here is a lock or a shared read-modify-write.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counter written by one core only.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v.wrapping_add(n), Ordering::Relaxed);
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises the value to `v` if below (a maximum).
    pub fn raise(&self, v: u64) {
        if v > self.get() {
            self.0.store(v, Ordering::Relaxed);
        }
    }

    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
}

/// A gauge written by one core only (its sessions open now), with the highest value it had.
#[derive(Debug, Default)]
pub struct Gauge {
    cur: Counter,
    max: Counter,
}

impl Gauge {
    pub fn up(&self) {
        let v = self.cur.get() + 1;
        self.cur.set(v);
        self.max.raise(v);
    }

    pub fn down(&self) {
        self.cur.set(self.cur.get().saturating_sub(1));
    }

    pub fn cur(&self) -> u64 {
        self.cur.get()
    }

    pub fn max(&self) -> u64 {
        self.max.get()
    }

    /// `clear counters`: the maximum starts again from 0 (HAProxy's), the value stays.
    pub fn clear_max(&self) {
        self.max.set(0);
    }
}

/// Events per second, as HAProxy's rates: the count of the current second and of the one
/// before, so that a reader can tell the rate over the last second. One writer.
#[derive(Debug, Default)]
pub struct Rate {
    /// The second (since the process started) `cur` counts.
    second: Counter,
    cur: Counter,
    prev: Counter,
    /// The highest complete or current one-second count seen.
    max: Counter,
}

impl Rate {
    pub fn hit(&self, now_s: u64) {
        self.roll(now_s);
        self.cur.inc();
        self.max.raise(self.cur.get());
    }

    fn roll(&self, now_s: u64) {
        let s = self.second.get();
        if now_s == s {
            return;
        }
        let prev = if now_s == s + 1 { self.cur.get() } else { 0 };
        self.prev.set(prev);
        self.cur.set(0);
        self.second.set(now_s);
    }

    /// Events in the last second as seen at `now_s`: the previous full second's count, or
    /// the current one's when higher (a burst that just started shows at once, as HAProxy's
    /// sliding rate does).
    pub fn per_second(&self, now_s: u64) -> u64 {
        let s = self.second.get();
        match now_s {
            n if n == s => self.prev.get().max(self.cur.get()),
            n if n == s + 1 => self.cur.get(),
            _ => 0,
        }
    }

    pub fn max(&self) -> u64 {
        self.max.get()
    }

    pub fn clear_max(&self) {
        self.max.set(0);
    }

    /// `clear counters all`: no events seen.
    pub fn clear(&self) {
        for c in [&self.cur, &self.prev, &self.max] {
            c.set(0);
        }
    }
}

/// The counts HAProxy keeps per frontend, backend and server (each kind uses its part).
#[derive(Debug, Default)]
pub struct ProxyCounters {
    /// Sessions open now (frontend: client connections; backend, server: requests in flight).
    pub sessions: Gauge,
    /// Requests waiting for a server slot (backend: `qcur`, `qmax`).
    pub queue: Gauge,
    /// Sessions in total (`stot`): connections for a frontend; requests (connection attempts
    /// for a server) for a backend and a server.
    pub stot: Counter,
    pub session_rate: Rate,
    /// `lbtot`: times a server was chosen (server), or requests balanced (backend).
    pub lbtot: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// Denied by rules: requests (`dreq`), responses (`dresp`).
    pub denied_req: Counter,
    pub denied_resp: Counter,
    /// Refused by `tcp-request connection` (`dcon`) and `tcp-request session` (`dses`) rules.
    pub denied_conn: Counter,
    pub denied_sess: Counter,
    /// Bad requests (`ereq`), failed connects (`econ`), bad or missing responses (`eresp`).
    pub err_req: Counter,
    pub err_conn: Counter,
    pub err_resp: Counter,
    /// Retries (`wretr`), redispatches (`wredis`).
    pub retries: Counter,
    pub redispatches: Counter,
    /// `hrsp_1xx` .. `hrsp_5xx`, then `hrsp_other`.
    pub responses: [Counter; 6],
    pub req_tot: Counter,
    pub req_rate: Rate,
    pub cli_abort: Counter,
    pub srv_abort: Counter,
    /// Requests answered by ringlb itself (stats page, monitor-uri, services): `intercepted`.
    pub intercepted: Counter,
    /// Connections accepted (`conn_tot`) and their rate (frontend).
    pub conn_tot: Counter,
    pub conn_rate: Rate,
    /// New server connections (`connect`) and reused ones (`reuse`).
    pub connect: Counter,
    pub reuse: Counter,
    /// Unix seconds of the last session (`lastsess`).
    pub last_session: Counter,
    /// Sums and maxima, in milliseconds, of queue, connect, response and total times over
    /// the requests that had them, with their counts (HAProxy's `qtime`... averages).
    pub times: [TimeSum; 4],
    /// TLS: handshakes done (`ssl_sess`), resumed (`ssl_reused_sess`), failed.
    pub ssl_sess: Counter,
    pub ssl_reused: Counter,
    pub ssl_failed: Counter,
}

/// Which of `ProxyCounters::times`.
#[derive(Clone, Copy, Debug)]
pub enum Timer {
    Queue = 0,
    Connect = 1,
    Response = 2,
    Total = 3,
}

/// A running sum of one timer, for averages, and its maximum.
#[derive(Debug, Default)]
pub struct TimeSum {
    pub sum_ms: Counter,
    pub count: Counter,
    pub max_ms: Counter,
}

impl TimeSum {
    pub fn add(&self, ms: i64) {
        if let Ok(ms) = u64::try_from(ms) {
            self.sum_ms.add(ms);
            self.count.inc();
            self.max_ms.raise(ms);
        }
    }
}

impl ProxyCounters {
    pub fn timer(&self, t: Timer) -> &TimeSum {
        &self.times[t as usize]
    }

    /// `clear counters` (`all`: every counter; else the maxima only), as HAProxy's
    /// `cli_parse_clear_counters`. Sessions and queue entries open now stay counted: they are
    /// state, not counts. Called by the core that owns the counters only.
    pub fn clear(&self, all: bool) {
        self.sessions.clear_max();
        self.queue.clear_max();
        for r in [&self.session_rate, &self.req_rate, &self.conn_rate] {
            if all {
                r.clear();
            } else {
                r.clear_max();
            }
        }
        for t in &self.times {
            t.max_ms.set(0);
        }
        if !all {
            return;
        }
        for t in &self.times {
            t.sum_ms.set(0);
            t.count.set(0);
        }
        for c in self.totals() {
            c.set(0);
        }
    }

    /// Every plain count (`clear counters all` zeroes them).
    fn totals(&self) -> impl Iterator<Item = &Counter> {
        [
            &self.stot,
            &self.lbtot,
            &self.bytes_in,
            &self.bytes_out,
            &self.denied_req,
            &self.denied_resp,
            &self.denied_conn,
            &self.denied_sess,
            &self.err_req,
            &self.err_conn,
            &self.err_resp,
            &self.retries,
            &self.redispatches,
            &self.req_tot,
            &self.cli_abort,
            &self.srv_abort,
            &self.intercepted,
            &self.conn_tot,
            &self.connect,
            &self.reuse,
            &self.last_session,
            &self.ssl_sess,
            &self.ssl_reused,
            &self.ssl_failed,
        ]
        .into_iter()
        .chain(&self.responses)
    }

    /// Counts a response status in its class.
    pub fn response(&self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.responses[class].inc();
    }
}

/// One core's counters: per frontend, per backend, per server, and the core's own totals.
#[derive(Debug)]
pub struct CoreCounters {
    pub frontends: Vec<ProxyCounters>,
    pub backends: Vec<ProxyCounters>,
    /// Per backend, per server.
    pub servers: Vec<Vec<ProxyCounters>>,
    /// Client connections open on this core now, and accepted in total.
    pub conns: Gauge,
    pub conns_tot: Counter,
    /// Requests (and mode tcp connections) ended on this core.
    pub req_tot: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    /// TLS client connections open now and accepted; failed handshakes.
    pub ssl_conns: Gauge,
    pub ssl_conns_tot: Counter,
    pub ssl_failed: Counter,
    /// Connection and session (request) rates of the core.
    pub conn_rate: Rate,
    pub sess_rate: Rate,
}

impl CoreCounters {
    pub fn new(model: &crate::config::model::Model) -> Self {
        let many = |n: usize| (0..n).map(|_| ProxyCounters::default()).collect();
        CoreCounters {
            frontends: many(model.frontends.len()),
            backends: many(model.backends.len()),
            servers: model
                .backends
                .iter()
                .map(|b| many(b.slot_count()))
                .collect(),
            conns: Gauge::default(),
            conns_tot: Counter::default(),
            req_tot: Counter::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            ssl_conns: Gauge::default(),
            ssl_conns_tot: Counter::default(),
            ssl_failed: Counter::default(),
            conn_rate: Rate::default(),
            sess_rate: Rate::default(),
        }
    }
}

impl CoreCounters {
    /// `clear counters [all]` on this core's proxies and servers. The process-wide totals
    /// (`show info`'s CumConns, CumReq ...) stay, as in HAProxy; their maxima start again.
    pub fn clear(&self, all: bool) {
        let servers = self.servers.iter().flatten();
        for p in self.frontends.iter().chain(&self.backends).chain(servers) {
            p.clear(all);
        }
        self.conns.clear_max();
        self.ssl_conns.clear_max();
        self.conn_rate.clear_max();
        self.sess_rate.clear_max();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_keeps_what_is_open_and_all_zeroes_counts() {
        let p = ProxyCounters::default();
        p.sessions.up();
        p.sessions.up();
        p.sessions.down();
        p.stot.add(5);
        p.req_rate.hit(3);
        p.clear(false);
        assert_eq!((p.sessions.cur(), p.sessions.max()), (1, 0));
        assert_eq!((p.stot.get(), p.req_rate.max()), (5, 0));
        p.clear(true);
        assert_eq!((p.sessions.cur(), p.stot.get()), (1, 0));
        assert_eq!(p.req_rate.per_second(3), 0);
    }

    #[test]
    fn rate_reports_the_last_second() {
        let r = Rate::default();
        for _ in 0..5 {
            r.hit(10);
        }
        assert_eq!(r.per_second(10), 5);
        r.hit(11);
        // The previous full second still shows until the new one passes it.
        assert_eq!(r.per_second(11), 5);
        assert_eq!(r.per_second(12), 1);
        assert_eq!(r.per_second(20), 0);
        assert_eq!(r.max(), 5);
    }

    #[test]
    fn gauge_keeps_its_maximum() {
        let g = Gauge::default();
        g.up();
        g.up();
        g.down();
        g.down();
        g.down();
        assert_eq!((g.cur(), g.max()), (0, 2));
    }

    #[test]
    fn timers_ignore_phases_not_reached() {
        let t = TimeSum::default();
        t.add(-1);
        t.add(4);
        t.add(2);
        assert_eq!((t.sum_ms.get(), t.count.get(), t.max_ms.get()), (6, 2, 4));
    }
}
