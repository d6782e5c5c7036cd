//! How one request ended: the `RequestRecord`, filled in by the pipeline where each outcome is
//! decided, and consumed once per request by `end_request`.
//!
//! ```text
//!  state.rs        HAProxy's two-letter termination state (manual 8.5): who or what ended the
//!                  request (`By`), in which phase (`Phase`); `--` is a normal end. And the
//!                  state each error cause the pipeline meets maps to (`*_failed`, `rule_*`)
//!  mod.rs          `Marks`: the instants the timers are taken from (plain `Instant`s, a
//!                  handful per request); `timers()` turns them into HAProxy's
//!                  Th/Ti/TR/Tw/Tc/Tr/Ta (8.4). `RequestRecord`: frontend, backend, server,
//!                  status, bytes in/out, retries, state, marks. `end_request`: the one
//!                  consumer, which stamps the end and hands the record to the worker's
//!                  `Sink` (off: a branch; `ringlb -d`: printed; tests: kept)
//!  line.rs         the printed line: HAProxy's `option httplog` layout (`option tcplog` for
//!                  a mode tcp connection, which ends in one record too)
//! ```
//!
//! The first cause recorded wins (`RequestRecord::end`), as HAProxy reports "the first event
//! which caused the session to terminate": a deeper layer that saw the failure records it, and
//! what the caller does next (an error page that cannot be written, say) does not overwrite it.

mod capture;
mod line;
mod state;

pub use capture::CaptureValues;
pub use line::{civil_from_days, log_date};
pub use state::*;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::model::{BackendId, FrontendId, Mode, ServerId};
use crate::worker::Worker;

/// The instants a request's timers come from. `None`: the phase was not reached.
#[derive(Clone, Copy, Debug)]
pub struct Marks {
    /// Where `Ti` starts: the end of the connection's TLS handshake, or its accept without
    /// TLS (first request), or the end of the previous response.
    pub idle_from: Instant,
    /// `Th`: the TLS handshake, on a connection's first request (else zero).
    pub handshake: Duration,
    /// The request's first bytes were there (`Ti` ends, `TR` and `Ta` start).
    pub start: Option<Instant>,
    /// The end of the request head was seen (`TR` ends, `Tw` starts once queued).
    pub head: Option<Instant>,
    /// The request went to get a server slot (else `Tw` is -1, as for a denied request).
    pub queued: bool,
    /// A server slot was taken (`Tw` ends, `Tc` starts).
    pub slot: Option<Instant>,
    /// The server connection was there (`Tc` ends, `Tr` starts); a reused one at once.
    pub connected: Option<Instant>,
    /// The final response head was complete (`Tr` ends).
    pub response: Option<Instant>,
    /// The request ended (`Ta` ends), stamped by `end_request`.
    pub end: Option<Instant>,
}

/// HAProxy's timers in milliseconds, -1 where the phase was not reached (manual 8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub th: i64,
    pub ti: i64,
    /// `TR`: request head time.
    pub treq: i64,
    pub tw: i64,
    pub tc: i64,
    /// `Tr`: server response time.
    pub tr: i64,
    pub ta: i64,
    /// `Th + Ti + TR`, -1 if one of them is.
    pub tq: i64,
    /// `Th + Ti + Ta`.
    pub tt: i64,
}

/// Whole milliseconds from `a` to `b`, -1 when either is missing.
fn ms(a: Option<Instant>, b: Option<Instant>) -> i64 {
    match (a, b) {
        (Some(a), Some(b)) => b.saturating_duration_since(a).as_millis() as i64,
        _ => -1,
    }
}

impl Marks {
    pub fn new(idle_from: Instant) -> Self {
        Marks {
            idle_from,
            handshake: Duration::ZERO,
            start: None,
            head: None,
            queued: false,
            slot: None,
            connected: None,
            response: None,
            end: None,
        }
    }

    pub fn timers(&self) -> Timers {
        let th = self.handshake.as_millis() as i64;
        let ti = ms(Some(self.idle_from), self.start);
        let treq = ms(self.start, self.head);
        let tw = if self.queued {
            ms(self.head, self.slot)
        } else {
            -1
        };
        let tc = ms(self.slot, self.connected);
        let tr = ms(self.connected, self.response);
        // Ta runs from the first byte; a request never started (a new connection's 408) counts
        // from where it waited, so that Ta stays the request's whole life.
        let ta = ms(self.start.or(Some(self.idle_from)), self.end);
        let tq = if ti < 0 || treq < 0 {
            -1
        } else {
            th + ti + treq
        };
        let tt = if ta < 0 { -1 } else { th + ti.max(0) + ta };
        Timers {
            th,
            ti,
            treq,
            tw,
            tc,
            tr,
            ta,
            tq,
            tt,
        }
    }
}

/// Everything known about one request (or mode tcp connection) when it ends.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// A request (`Http`), or a whole mode tcp connection (`Tcp`: no status, no request).
    pub mode: Mode,
    /// Index in `Model::frontends`.
    pub frontend: FrontendId,
    /// Index in `Model::backends`, once routed.
    pub backend: Option<BackendId>,
    /// Index in the backend's `servers`, once one was tried.
    pub server: Option<ServerId>,
    /// Where `server` was on this core then (`%si:%sp`; the runtime API may move a server).
    pub server_addr: Option<SocketAddr>,
    /// `server`'s name when the runtime API added it (`add server`: not in the model).
    pub added_server: Option<std::sync::Arc<str>>,
    pub peer: SocketAddr,
    /// The address the client connected to (`%fi:%fp`), where known.
    pub local: Option<SocketAddr>,
    /// The frontend's captures, when it has any (`%hr`, `%hs`).
    pub captures: Option<Box<CaptureValues>>,
    /// The client connection is TLS (HAProxy's `%ft` marks it with `~`).
    pub tls: bool,
    /// The status sent to the client (a rule's answer, an error page, the server's).
    pub status: Option<u16>,
    /// Request bytes read from the client: head and body (HAProxy's `%U`).
    pub bytes_in: u64,
    /// Response bytes sent to the client: heads and body (HAProxy's `%B`).
    pub bytes_out: u64,
    /// Connection attempts after the first (HAProxy's `%rc`).
    pub retries: u32,
    /// The last retry went to another server (`option redispatch`).
    pub redispatched: bool,
    /// The first cause that ended the request; `None` is a normal end.
    pub cause: Option<TermState>,
    pub marks: Marks,
    /// The request line, kept only when records are printed or logged.
    pub request_line: Option<String>,
    /// Answered by ringlb itself: the name HAProxy logs in place of a server (`<STATS>`,
    /// `<PROMEX>`), or `<MONITOR>` for a `monitor-uri` request, which is not logged.
    pub service: Option<&'static str>,
    /// Refused by a `tcp-request content` rule: HAProxy 2.6 counts it in the frontend's
    /// `dreq` only, and before routing (mode http) as no HTTP request at all.
    pub tcp_refused: bool,
    /// The request's `unique-id-format` value (`%ID`).
    pub unique_id: Option<String>,
    /// The request's number on this process (`%rt`, `Worker::next_request_counter`).
    pub req_counter: u64,
    /// `option logasap`: this is the copy logged when the response head went out (`%Ta`,
    /// `%Tt` and `%B` get a `+`: the final ones will be larger).
    pub asap: bool,
    /// `option logasap`: the log line went out already; the end logs nothing more.
    pub logged: bool,
}

impl RequestRecord {
    pub fn new(frontend: FrontendId, peer: SocketAddr, marks: Marks) -> Self {
        RequestRecord {
            mode: Mode::Http,
            frontend,
            backend: None,
            server: None,
            server_addr: None,
            added_server: None,
            peer,
            local: None,
            captures: None,
            tls: false,
            status: None,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
            redispatched: false,
            cause: None,
            marks,
            request_line: None,
            service: None,
            tcp_refused: false,
            unique_id: None,
            req_counter: 0,
            asap: false,
            logged: false,
        }
    }

    /// Records why the request ended; the first cause recorded wins.
    pub fn end(&mut self, state: TermState) {
        if self.cause.is_none() {
            self.cause = Some(state);
        }
    }

    pub fn state(&self) -> TermState {
        self.cause.unwrap_or(TermState::NORMAL)
    }
}

/// Where finished records go. One per worker; the observability layer (logs, counters,
/// histograms) becomes another variant here.
#[derive(Debug, Default)]
pub enum Sink {
    /// Nowhere: a record costs its fields and one branch.
    #[default]
    Off,
    /// Printed on stderr as HAProxy's httplog/tcplog line (`ringlb -d`).
    Print,
    /// Kept in order, for in-process tests to read (`Sink::take`).
    Keep(RefCell<Vec<RequestRecord>>),
    /// Logged as the frontend says (`crate::log`), and printed too with `ringlb -d`.
    Log(Box<crate::log::CoreLog>),
}

impl Sink {
    /// Whether records carry the request line (kept only when someone reads it).
    pub fn wants_request_line(&self) -> bool {
        !matches!(self, Sink::Off)
    }

    /// The records kept so far, oldest first (empty unless `Keep`).
    pub fn take(&self) -> Vec<RequestRecord> {
        match self {
            Sink::Keep(kept) => kept.take(),
            Sink::Off | Sink::Print | Sink::Log(_) => Vec::new(),
        }
    }

    /// The core's logger, when logs are on.
    pub fn log(&self) -> Option<&crate::log::CoreLog> {
        match self {
            Sink::Log(l) => Some(l),
            _ => None,
        }
    }

    /// The process's log counters (sent, dropped), when logs are on: every core's sink points
    /// to the same ones.
    pub fn log_counters(&self) -> Option<&std::sync::Arc<crate::log::LogCounters>> {
        self.log().map(|l| l.counters())
    }

    fn consume(&self, w: &Worker, rec: &RequestRecord) {
        match self {
            Sink::Off => {}
            // HAProxy does not log `monitor-uri` requests.
            Sink::Print if rec.service == Some("<MONITOR>") => {}
            Sink::Print => line::print_record(w, rec),
            Sink::Keep(kept) => kept.borrow_mut().push(rec.clone()),
            Sink::Log(_) if rec.service == Some("<MONITOR>") => {}
            Sink::Log(log) => {
                if log.print {
                    line::print_record(w, rec);
                }
                if !rec.logged {
                    log.record(w, rec);
                }
            }
        }
    }
}

/// A TLS handshake that failed: no request, so no record, but HAProxy 2.6's connection error
/// line (`127.0.0.1:40118 [date] fe/1: SSL handshake failure`) for the log targets and
/// `ringlb -d`.
pub fn handshake_failed(
    w: &Worker,
    frontend: FrontendId,
    listener: u32,
    peer: SocketAddr,
    why: &crate::net::HandshakeFail,
) {
    let Some(fe) = w.model.frontend(frontend) else {
        return;
    };
    let date = log_date(std::time::SystemTime::now());
    let line = format!(
        "{peer} [{date}] {}/{listener}: {}",
        fe.name,
        why.haproxy_message()
    );
    if let Some(log) = w.records.log() {
        // A client that closed or stayed silent most often sent nothing: dontlognull's case.
        let silent = !matches!(why, crate::net::HandshakeFail::Tls(_));
        log.handshake_failed(frontend, &fe.log, silent, &line);
    }
    if matches!(&w.records, Sink::Print) || w.records.log().is_some_and(|l| l.print) {
        eprintln!("{line}");
    }
}

/// A connection on an `accept-proxy` bind closed for its PROXY header, logged as HAProxy 2.6
/// logs it (a closed or silent connection as dontlognull's case).
pub fn proxy_header_failed(
    w: &Worker,
    frontend: FrontendId,
    listener: u32,
    peer: SocketAddr,
    why: &crate::net::proxy_proto::ReadFail,
) {
    let Some(fe) = w.model.frontend(frontend) else {
        return;
    };
    let date = log_date(std::time::SystemTime::now());
    let line = format!(
        "{peer} [{date}] {}/{listener}: {}",
        fe.name,
        why.haproxy_message()
    );
    if let Some(log) = w.records.log() {
        let silent = !matches!(why, crate::net::proxy_proto::ReadFail::Invalid(_));
        log.handshake_failed(frontend, &fe.log, silent, &line);
    }
    if matches!(&w.records, Sink::Print) || w.records.log().is_some_and(|l| l.print) {
        eprintln!("{line}");
    }
}

/// `option logasap`: logs a copy of the record now (the response head was sent), stamped
/// as ending now and marked `asap`; the record's own end then logs nothing (it still counts).
pub fn log_early(w: &Worker, rec: &mut RequestRecord) {
    let Some(log) = w.records.log() else {
        return;
    };
    if rec.service == Some("<MONITOR>") {
        return;
    }
    let mut early = rec.clone();
    early.marks.end = Some(Instant::now());
    early.asap = true;
    log.record(w, &early);
    rec.logged = true;
}

/// The one place a request's record is consumed: stamps its end and hands it to the worker's
/// `Sink`. Returns the end instant (the next request's `Ti` starts there).
pub fn end_request(w: &Worker, rec: &mut RequestRecord) -> Instant {
    let end = Instant::now();
    rec.marks.end = Some(end);
    w.stats.request_ended(rec);
    w.records.consume(w, rec);
    end
}

#[cfg(test)]
mod tests;
