//! Where the pipeline's events become counts on the core that saw them: a connection
//! accepted or closed, a TLS handshake, and a finished request's record.

use super::counters::{ProxyCounters, Timer};
use super::latency::Sample;
use super::shared::CoreStats;
use crate::config::model::{BackendId, FrontendId, Mode, ServerId};
use crate::serve::record::{By, Phase, RequestRecord};

/// A request counted in its backend's queue on this core, until dropped.
pub struct QueueMark {
    shared: std::sync::Arc<super::shared::StatsShared>,
    core: usize,
    backend: usize,
}

impl QueueMark {
    fn gauge(&self) -> Option<&super::counters::Gauge> {
        let c = self.shared.cores.get(self.core)?;
        Some(&c.backends.get(self.backend)?.queue)
    }
}

impl Drop for QueueMark {
    fn drop(&mut self) {
        if let Some(g) = self.gauge() {
            g.down();
        }
    }
}

impl CoreStats {
    /// A request starts waiting for a server slot of `backend`.
    pub fn queued(&self, backend: BackendId) -> QueueMark {
        let mark = QueueMark {
            shared: std::sync::Arc::clone(&self.shared),
            core: self.index,
            backend: backend.index(),
        };
        if let Some(g) = mark.gauge() {
            g.up();
        }
        mark
    }

    /// A server connection was taken for a request: a new one (`connect`) or an idle one
    /// from the pool (`reuse`), counted on the backend and the server.
    pub fn connection_used(&self, backend: BackendId, server: ServerId, reused: bool) {
        let Some(c) = self.mine() else { return };
        let be = c.backends.get(backend.index());
        let srv = c
            .servers
            .get(backend.index())
            .and_then(|l| l.get(server.index()));
        for p in be.into_iter().chain(srv) {
            if reused {
                p.reuse.inc();
            } else {
                p.connect.inc();
            }
        }
    }

    /// A client connection was admitted on `frontend`.
    pub fn conn_opened(&self, frontend: FrontendId) {
        let Some(c) = self.mine() else { return };
        let now = self.shared.now_s();
        c.conns.up();
        c.conns_tot.inc();
        c.conn_rate.hit(now);
        if let Some(fe) = c.frontends.get(frontend.index()) {
            fe.sessions.up();
            fe.conn_tot.inc();
            fe.conn_rate.hit(now);
        }
    }

    /// A connection became a session: past its PROXY header, TLS handshake and the
    /// `tcp-request connection`/`session` rules (where HAProxy 2.6 counts `stot`).
    pub fn session_started(&self, frontend: FrontendId) {
        let Some(c) = self.mine() else { return };
        let now = self.shared.now_s();
        if let Some(fe) = c.frontends.get(frontend.index()) {
            fe.stot.inc();
            fe.session_rate.hit(now);
        }
    }

    /// A `silent-drop` at connection or session level: HAProxy 2.6 counts it as a denied
    /// request (`dreq`), not in `dcon`/`dses`.
    pub fn conn_dropped(&self, frontend: FrontendId) {
        let Some(c) = self.mine() else { return };
        if let Some(fe) = c.frontends.get(frontend.index()) {
            fe.denied_req.inc();
        }
    }

    pub fn conn_closed(&self, frontend: FrontendId) {
        let Some(c) = self.mine() else { return };
        c.conns.down();
        if let Some(fe) = c.frontends.get(frontend.index()) {
            fe.sessions.down();
        }
    }

    /// A TLS handshake ended on `frontend`: done (resumed or not), or failed.
    pub fn handshake(&self, frontend: FrontendId, ok: bool, resumed: bool) {
        let Some(c) = self.mine() else { return };
        let Some(fe) = c.frontends.get(frontend.index()) else {
            return;
        };
        if ok {
            c.ssl_conns_tot.inc();
            fe.ssl_sess.inc();
            if resumed {
                fe.ssl_reused.inc();
            }
        } else {
            c.ssl_failed.inc();
            fe.ssl_failed.inc();
        }
    }

    /// A `tcp-request connection` (or `session`, `!at_connect`) rule refused a connection.
    pub fn conn_denied(&self, frontend: FrontendId, at_connect: bool) {
        let Some(c) = self.mine() else { return };
        if let Some(fe) = c.frontends.get(frontend.index()) {
            if at_connect {
                fe.denied_conn.inc();
            } else {
                fe.denied_sess.inc();
            }
        }
    }

    /// A `tcp-response content` rule refused a response: HAProxy counts it on the backend
    /// and the frontend (`dresp`).
    pub fn response_denied(&self, frontend: FrontendId, backend: BackendId) {
        let Some(c) = self.mine() else { return };
        if let Some(fe) = c.frontends.get(frontend.index()) {
            fe.denied_resp.inc();
        }
        if let Some(be) = c.backends.get(backend.index()) {
            be.denied_resp.inc();
        }
    }

    /// A request (or a mode tcp connection) ended: counted on its frontend, backend and
    /// server, and its latencies added to this core's histograms.
    pub fn request_ended(&self, rec: &RequestRecord) {
        let Some(c) = self.mine() else { return };
        // The record's end was stamped just now: the rates' clock needs no second read.
        let now = rec
            .marks
            .end
            .map_or_else(|| self.shared.now_s(), |t| self.shared.secs_at(t));
        c.req_tot.inc();
        c.bytes_in.add(rec.bytes_in);
        c.bytes_out.add(rec.bytes_out);
        c.sess_rate.hit(now);
        let http = rec.mode == Mode::Http;
        if let Some(fe) = c.frontends.get(rec.frontend.index()) {
            count_frontend(fe, rec, http, now);
        }
        let Some(b) = rec.backend else { return };
        // `lastsess` is in Unix seconds.
        let unix = crate::log::dates::unix_secs(std::time::SystemTime::now());
        if let Some(be) = c.backends.get(b.index()) {
            count_backend(be, rec, http, now, unix);
        }
        let srv = rec
            .server
            .and_then(|s| c.servers.get(b.index())?.get(s.index()));
        if let Some(srv) = srv {
            count_server(srv, rec, http, now, unix);
        }
        if http {
            let mut t = self.latency.borrow_mut();
            t.record(b.index(), rec.server.map(|s| s.index()), &sample(rec));
            self.dirty.set(true);
        }
    }
}

/// What kind of failure ended a request, for the error and abort columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    None,
    /// A bad, timed-out or aborted request head (`ereq`).
    Request,
    /// Refused by a rule (`dreq`), or a response refused (`dresp`).
    DeniedRequest,
    DeniedResponse,
    /// No server connection (`econ`).
    Connect,
    /// The server failed or timed out before its response head (`eresp`).
    Response,
    /// Aborted during the transfer, by the client (`cli_abrt`) or the server (`srv_abrt`).
    ClientAbort,
    ServerAbort,
}

fn failure(rec: &RequestRecord) -> Failure {
    let Some(st) = rec.cause else {
        return Failure::None;
    };
    match (st.by, st.phase) {
        (By::Proxy, Phase::Request) if rec.status == Some(400) => Failure::Request,
        (By::Proxy, Phase::Request | Phase::Tarpit) => Failure::DeniedRequest,
        (By::Proxy, Phase::Headers) => Failure::DeniedResponse,
        (By::Client | By::ClientTimeout, Phase::Request) => Failure::Request,
        (By::Server | By::ServerTimeout, Phase::Connect | Phase::Queue) => Failure::Connect,
        (By::Server | By::ServerTimeout, Phase::Headers) => Failure::Response,
        (By::Client | By::ClientTimeout, Phase::Data | Phase::Headers) => Failure::ClientAbort,
        (By::Server | By::ServerTimeout, Phase::Data) => Failure::ServerAbort,
        _ => Failure::None,
    }
}

/// A `tcp-request content reject` in mode http: HAProxy refuses it before its HTTP analysers,
/// so it is no HTTP request in the counts (a denied one all the same).
fn refused_unparsed(rec: &RequestRecord) -> bool {
    rec.tcp_refused && rec.backend.is_none()
}

fn count_bytes_and_status(p: &ProxyCounters, rec: &RequestRecord, http: bool, now: u64) {
    p.bytes_in.add(rec.bytes_in);
    p.bytes_out.add(rec.bytes_out);
    if http && !refused_unparsed(rec) {
        p.req_tot.inc();
        p.req_rate.hit(now);
        if let Some(s) = rec.status {
            p.response(s);
        }
    }
}

fn count_frontend(fe: &ProxyCounters, rec: &RequestRecord, http: bool, now: u64) {
    count_bytes_and_status(fe, rec, http, now);
    match failure(rec) {
        Failure::Request => fe.err_req.inc(),
        Failure::DeniedRequest => fe.denied_req.inc(),
        Failure::DeniedResponse => fe.denied_resp.inc(),
        _ => {}
    }
}

/// The failures a backend and its server both count, and the timers.
fn count_exchange(p: &ProxyCounters, rec: &RequestRecord, unix: u64) {
    match failure(rec) {
        Failure::Connect => p.err_conn.inc(),
        Failure::Response => p.err_resp.inc(),
        Failure::ClientAbort => p.cli_abort.inc(),
        Failure::ServerAbort => p.srv_abort.inc(),
        Failure::DeniedResponse => p.denied_resp.inc(),
        _ => {}
    }
    p.last_session.set(unix);
    let t = rec.marks.timers();
    p.timer(Timer::Queue).add(t.tw);
    p.timer(Timer::Connect).add(t.tc);
    p.timer(Timer::Response).add(t.tr);
    p.timer(Timer::Total).add(t.tt);
}

fn count_backend(be: &ProxyCounters, rec: &RequestRecord, http: bool, now: u64, unix: u64) {
    be.stot.inc();
    be.session_rate.hit(now);
    if rec.server.is_some() {
        be.lbtot.inc();
    }
    count_bytes_and_status(be, rec, http, now);
    if failure(rec) == Failure::DeniedRequest && !rec.tcp_refused {
        be.denied_req.inc();
    }
    be.retries.add(u64::from(rec.retries));
    if rec.redispatched {
        be.redispatches.inc();
    }
    count_exchange(be, rec, unix);
}

fn count_server(srv: &ProxyCounters, rec: &RequestRecord, http: bool, now: u64, unix: u64) {
    // HAProxy counts a session on the server for every attempt made on it: the retries on
    // the same server, or only the last one after a redispatch.
    let attempts = if rec.redispatched {
        1
    } else {
        1 + u64::from(rec.retries)
    };
    srv.stot.add(attempts);
    srv.lbtot.inc();
    srv.session_rate.hit(now);
    srv.bytes_in.add(rec.bytes_in);
    srv.bytes_out.add(rec.bytes_out);
    // Only what the server answered counts in its response classes.
    let answered = rec.marks.response.is_some();
    if http && answered {
        if let Some(s) = rec.status {
            srv.response(s);
        }
    }
    if rec.redispatched {
        srv.redispatches.inc();
    } else {
        srv.retries.add(u64::from(rec.retries));
    }
    count_exchange(srv, rec, unix);
}

/// The request's latencies: connect (Tc), first byte (from the end of the head to the
/// response head: Tw + Tc + Tr) and total (Ta), in microseconds.
fn sample(rec: &RequestRecord) -> Sample {
    let m = &rec.marks;
    let us = |a: Option<std::time::Instant>, b: Option<std::time::Instant>| {
        Some(b?.saturating_duration_since(a?).as_micros() as u64)
    };
    Sample {
        connect_us: us(m.slot, m.connected),
        first_byte_us: us(m.head, m.response),
        total_us: us(m.start.or(Some(m.idle_from)), m.end),
    }
}
