//! One core's side of logging: lines are formatted into the core's batch (no lock, no
//! syscall) and the batch goes to the logger thread when it is full or on the core's flush
//! tick, whichever comes first.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use super::format::{render, Facts};
use super::thread::{Batch, Entry, LogHub};
use super::LogCounters;
use crate::config::model::{FrontendId, Mode};
use crate::config::model_log::{LineFormat, ProxyLog, LEVEL_ERR, LEVEL_INFO};
use crate::serve::record::{By, RequestRecord};
use crate::worker::Worker;

/// A batch goes when it holds this many lines or bytes...
const FLUSH_LINES: usize = 64;
const FLUSH_BYTES: usize = 32 * 1024;
/// Room for the line that crosses FLUSH_BYTES.
const LINE_ROOM: usize = 4096;
/// ...or at the latest this long after its first line (the flush tick).
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);

pub struct CoreLog {
    hub: LogHub,
    batch: RefCell<Batch>,
    /// `ringlb -d`: records are printed on stderr as well.
    pub print: bool,
    /// `%H`: the system's host name.
    hostname: String,
}

impl std::fmt::Debug for CoreLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreLog")
            .field("print", &self.print)
            .finish()
    }
}

impl CoreLog {
    pub fn new(hub: LogHub, print: bool) -> Self {
        CoreLog {
            hub,
            batch: RefCell::new(Batch::default()),
            print,
            hostname: crate::config::log_resolve::system_hostname(),
        }
    }

    pub fn counters(&self) -> &std::sync::Arc<LogCounters> {
        &self.hub.counters
    }

    /// Appends one line written by `write` for the targets of `set`.
    fn push(&self, set: u32, level: u8, write: impl FnOnce(&mut Vec<u8>)) {
        let full = {
            let mut b = self.batch.borrow_mut();
            write(&mut b.text);
            let end = b.text.len() as u32;
            b.entries.push(Entry { end, level, set });
            b.entries.len() >= FLUSH_LINES || b.text.len() >= FLUSH_BYTES
        };
        if full {
            self.flush();
        }
    }

    /// Hands the batch to the logger thread (nothing when it is empty).
    pub fn flush(&self) {
        if self.batch.borrow().entries.is_empty() {
            return;
        }
        // The next batch starts at its full size: no regrowth while lines come in.
        let fresh = Batch {
            text: Vec::with_capacity(FLUSH_BYTES + LINE_ROOM),
            entries: Vec::with_capacity(FLUSH_LINES),
        };
        let b = self.batch.replace(fresh);
        self.hub.send(b);
    }

    /// A finished request or tcp connection, logged as its frontend says.
    pub fn record(&self, w: &Worker, rec: &RequestRecord) {
        let Some(fe) = w.model.frontend(rec.frontend) else {
            return;
        };
        let log = &fe.log;
        let LineFormat::End(line) = &log.line else {
            return;
        };
        if log.targets.is_empty() || (log.dontlognull && rec.bytes_in == 0) {
            return;
        }
        let err = is_error(rec);
        if log.dontlog_normal && !err {
            return;
        }
        let level = if err && log.separate_errors {
            LEVEL_ERR
        } else {
            LEVEL_INFO
        };
        let used = |l: Option<&crate::worker::limits::Limit>| l.and_then(|l| l.used()).unwrap_or(0);
        let srvconn = rec
            .backend
            .zip(rec.server)
            .map_or(0, |(b, s)| used(w.limits.server(b, s)));
        let facts = Facts {
            rec,
            model: &w.model,
            actconn: used(Some(&w.limits.global)),
            feconn: used(w.limits.frontend(rec.frontend)),
            srvconn,
            now: SystemTime::now(),
            hostname: &self.hostname,
            pid: self.hub.plan.pid,
        };
        let set = self.hub.plan.frontend(rec.frontend);
        self.push(set, level, |out| render(line, &facts, out));
    }

    /// A failed TLS handshake's line, at `info` (`err` with `option log-separate-errors`);
    /// `silent` ones are left out under `option dontlognull`, as HAProxy does for a client
    /// that sent nothing.
    pub fn handshake_failed(&self, frontend: FrontendId, log: &ProxyLog, silent: bool, line: &str) {
        if log.targets.is_empty() || (silent && log.dontlognull) {
            return;
        }
        let level = if log.separate_errors {
            LEVEL_ERR
        } else {
            LEVEL_INFO
        };
        let set = self.hub.plan.frontend(frontend);
        self.push(set, level, |out| out.extend_from_slice(line.as_bytes()));
    }

    /// HAProxy's default format, logged at accept when no option chose another:
    /// `Connect from 127.0.0.1:60888 to 127.0.0.1:18083 (plain/HTTP)`.
    pub fn connect(&self, w: &Worker, frontend: FrontendId, peer: SocketAddr, local: SocketAddr) {
        let Some(fe) = w.model.frontend(frontend) else {
            return;
        };
        if fe.log.targets.is_empty() || !matches!(fe.log.line, LineFormat::Connect) {
            return;
        }
        let mode = match fe.mode {
            Mode::Http => "HTTP",
            Mode::Tcp => "TCP",
        };
        let set = self.hub.plan.frontend(frontend);
        self.push(set, LEVEL_INFO, |out| {
            use std::io::Write;
            let _ = write!(out, "Connect from {peer} to {local} ({}/{mode})", fe.name);
        });
    }
}

/// HAProxy's "errors, timeouts, retries, redispatches or HTTP status codes 5xx": any end but
/// a normal one or the proxy's own answer (`L`), a retry, or a 5xx.
fn is_error(rec: &RequestRecord) -> bool {
    let by = rec.state().by;
    !matches!(by, By::Normal | By::Local)
        || rec.retries > 0
        || rec.redispatched
        || rec.status.is_some_and(|s| s >= 500)
}
