//! How one request ended: the `RequestRecord`, filled in by the pipeline where each outcome is
//! decided, and consumed once per request by `end_request`.
//!
//! ```text
//!  TermState       HAProxy's two-letter termination state (manual 8.5): who or what ended the
//!                  request (`By`), in which phase (`Phase`); `--` is a normal end
//!  Marks           the instants the timers are taken from (plain `Instant`s, a handful per
//!                  request); `timers()` turns them into HAProxy's Th/Ti/TR/Tw/Tc/Tr/Ta (8.4)
//!  RequestRecord   frontend, backend, server, status, bytes in/out, retries, state, marks
//!  *_failed, rule  the state each error cause the pipeline meets maps to (unit-tested here)
//!  end_request     the one consumer: stamps the end, and with `ringlb -d` prints the record as
//!                  a line in HAProxy's `option httplog` layout on stderr (`option tcplog` for
//!                  a mode tcp connection, which ends in one record too); otherwise a branch
//! ```
//!
//! The first cause recorded wins (`RequestRecord::end`), as HAProxy reports "the first event
//! which caused the session to terminate": a deeper layer that saw the failure records it, and
//! what the caller does next (an error page that cannot be written, say) does not overwrite it.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::model::{Mode, Model};
use crate::http::body::BodyError;
use crate::io::IoFail;
use crate::worker::connect::ConnectError;
use crate::worker::Worker;

/// The first character of a termination state: who or what ended the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// `C`: the client aborted.
    Client,
    /// `S`: the server aborted or refused the connection.
    Server,
    /// `P`: the proxy ended it (a deny, a bad request or response, a security check).
    Proxy,
    /// `L`: the proxy answered itself (redirect, return, auth).
    Local,
    /// `R`: a resource of the proxy ran out.
    Resource,
    /// `I`: an internal error.
    Internal,
    /// `D`: killed because its server went down.
    Down,
    /// `K`: killed by an admin.
    Killed,
    /// `c`: `timeout client` (or `timeout http-request`) expired.
    ClientTimeout,
    /// `s`: `timeout server` (or `timeout connect`, `timeout queue`) expired.
    ServerTimeout,
    /// `-`: a normal end.
    Normal,
}

impl By {
    pub fn letter(self) -> char {
        match self {
            By::Client => 'C',
            By::Server => 'S',
            By::Proxy => 'P',
            By::Local => 'L',
            By::Resource => 'R',
            By::Internal => 'I',
            By::Down => 'D',
            By::Killed => 'K',
            By::ClientTimeout => 'c',
            By::ServerTimeout => 's',
            By::Normal => '-',
        }
    }
}

/// The second character of a termination state: the phase the request was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// `R`: waiting for a complete, valid request head; nothing went to a server.
    Request,
    /// `Q`: waiting in the queue for a server slot.
    Queue,
    /// `C`: waiting for the connection to the server.
    Connect,
    /// `H`: waiting for complete, valid response headers.
    Headers,
    /// `D`: the data phase.
    Data,
    /// `L`: sending the last data to the client after the server had finished.
    Last,
    /// `T`: held by `tarpit`.
    Tarpit,
    /// `-`: after a normal end.
    Done,
}

impl Phase {
    pub fn letter(self) -> char {
        match self {
            Phase::Request => 'R',
            Phase::Queue => 'Q',
            Phase::Connect => 'C',
            Phase::Headers => 'H',
            Phase::Data => 'D',
            Phase::Last => 'L',
            Phase::Tarpit => 'T',
            Phase::Done => '-',
        }
    }
}

/// HAProxy's two-letter termination state; `Display` gives the two letters (`--`, `sH`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermState {
    pub by: By,
    pub phase: Phase,
}

impl TermState {
    pub const NORMAL: TermState = TermState::new(By::Normal, Phase::Done);

    pub const fn new(by: By, phase: Phase) -> Self {
        TermState { by, phase }
    }
}

impl fmt::Display for TermState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.by.letter(), self.phase.letter())
    }
}

// The state each cause maps to. Where HAProxy 2.6 was observed (tests/e2e_termination.rs),
// the mapping is what it logs for the same case.

/// Reading the request head failed: the client closed or reset (`CR`), or
/// `timeout http-request` expired (`cR`, answered 408).
pub fn head_read_failed(e: &IoFail) -> TermState {
    match e {
        IoFail::Timeout => TermState::new(By::ClientTimeout, Phase::Request),
        IoFail::Io(_) => TermState::new(By::Client, Phase::Request),
    }
}

/// A request head that is invalid or too large (400, 431): the proxy refused it.
pub const BAD_REQUEST: TermState = TermState::new(By::Proxy, Phase::Request);

/// No server connection: no usable server or a refused / failed connect (`SC`), a connect
/// that timed out (`sC`), no free slot within `timeout queue` (`sQ`).
pub fn connect_failed(e: ConnectError) -> TermState {
    match e {
        ConnectError::NoServer | ConnectError::Failed => TermState::new(By::Server, Phase::Connect),
        ConnectError::TimedOut => TermState::new(By::ServerTimeout, Phase::Connect),
        ConnectError::QueueTimeout => TermState::new(By::ServerTimeout, Phase::Queue),
    }
}

/// Streaming the request body failed. The response head has not come yet, so a server-side
/// failure is in `H`; a client that leaves is in the data phase of its own upload (`CD`).
pub fn request_body_failed(e: &BodyError) -> TermState {
    match e {
        BodyError::Client => TermState::new(By::Client, Phase::Data),
        // Under `timeout client` alone (408); see `upload_stalled`.
        BodyError::ClientStalled => TermState::new(By::ClientTimeout, Phase::Headers),
        BodyError::Server => TermState::new(By::Server, Phase::Headers),
        BodyError::ServerTimeout => TermState::new(By::ServerTimeout, Phase::Headers),
        BodyError::Bad(_) => TermState::new(By::Proxy, Phase::Data),
    }
}

/// The request body stalled: under `timeout server` HAProxy 2.6 answers 504 and logs `sH` (it
/// waits for the server's answer meanwhile); under `timeout client` alone ringlb answers 408
/// and logs `cH`.
pub fn upload_stalled(under_server_timeout: bool) -> TermState {
    if under_server_timeout {
        TermState::new(By::ServerTimeout, Phase::Headers)
    } else {
        request_body_failed(&BodyError::ClientStalled)
    }
}

/// Streaming the response body (or head) to the client failed.
pub fn response_body_failed(e: &BodyError) -> TermState {
    match e {
        BodyError::Client => TermState::new(By::Client, Phase::Data),
        BodyError::ClientStalled => TermState::new(By::ClientTimeout, Phase::Data),
        BodyError::Server | BodyError::Bad(_) => TermState::new(By::Server, Phase::Data),
        BodyError::ServerTimeout => TermState::new(By::ServerTimeout, Phase::Data),
    }
}

/// Writing to the client failed in `phase`: it left (`C`), or stopped reading for longer
/// than `timeout client` (`c`).
pub fn client_write_failed(e: &IoFail, phase: Phase) -> TermState {
    match e {
        IoFail::Timeout => TermState::new(By::ClientTimeout, phase),
        IoFail::Io(_) => TermState::new(By::Client, phase),
    }
}

/// What kind of rule answered, for its termination state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleAnswer {
    /// `deny` (and a request a strict normalizer refused): `P`.
    Deny,
    /// `tarpit`: `PT`.
    Tarpit,
    /// `return`, `redirect`, `auth`: answered locally, `L`.
    Local,
}

/// A rule answered: in the request phase (`PR`, `PT`, `LR`) or on the response (`PH`, `LH`).
pub fn rule_answered(kind: RuleAnswer, on_response: bool) -> TermState {
    let phase = if on_response {
        Phase::Headers
    } else {
        Phase::Request
    };
    match kind {
        RuleAnswer::Deny => TermState::new(By::Proxy, phase),
        RuleAnswer::Tarpit => TermState::new(By::Proxy, Phase::Tarpit),
        RuleAnswer::Local => TermState::new(By::Local, phase),
    }
}

/// The instants a request's timers come from. `None`: the phase was not reached.
#[derive(Clone, Copy, Debug)]
pub struct Marks {
    /// Where `Ti` starts: the connection's accept (first request; ringlb has no handshake yet,
    /// so `Th` is 0) or the end of the previous response.
    pub idle_from: Instant,
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
        let th = 0;
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
    pub frontend: usize,
    /// Index in `Model::backends`, once routed.
    pub backend: Option<usize>,
    /// Index in the backend's `servers`, once one was tried.
    pub server: Option<usize>,
    pub peer: SocketAddr,
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
    /// The request line, kept only when records are printed (`ringlb -d`).
    pub request_line: Option<String>,
}

impl RequestRecord {
    pub fn new(frontend: usize, peer: SocketAddr, marks: Marks) -> Self {
        RequestRecord {
            mode: Mode::Http,
            frontend,
            backend: None,
            server: None,
            peer,
            status: None,
            bytes_in: 0,
            bytes_out: 0,
            retries: 0,
            redispatched: false,
            cause: None,
            marks,
            request_line: None,
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

    /// `n` response bytes reached the client, in a response with `status`.
    pub fn sent(&mut self, status: u16, n: usize) {
        self.status = Some(status);
        self.bytes_out += n as u64;
    }

    /// `backend/server` names as HAProxy logs them: the frontend's name before routing,
    /// `<NOSRV>` before a server was tried.
    fn names<'m>(&self, model: &'m Model) -> (&'m str, &'m str, &'m str) {
        let fe = model.frontends.get(self.frontend);
        let fe_name = fe.map_or("-", |f| f.name.as_str());
        let be = self.backend.and_then(|b| model.backends.get(b));
        let be_name = be.map_or(fe_name, |b| b.name.as_str());
        let srv_name = be
            .zip(self.server)
            .and_then(|(b, s)| b.servers.get(s))
            .map_or("<NOSRV>", |s| s.name.as_str());
        (fe_name, be_name, srv_name)
    }

    /// `%rc`: the retries, `+` first when redispatched.
    fn retries_field(&self) -> String {
        let plus = if self.redispatched { "+" } else { "" };
        format!("{plus}{}", self.retries)
    }

    /// The line `ringlb -d` prints for a mode tcp connection: HAProxy's `option tcplog`
    /// layout, `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq`
    /// (connection counts and queue lengths not recorded: 0).
    pub fn tcplog(&self, model: &Model, date: SystemTime) -> String {
        let (fe_name, be_name, srv_name) = self.names(model);
        let t = self.marks.timers();
        format!(
            "{peer} [{date}] {fe_name} {be_name}/{srv_name} {}/{}/{} {bytes} {state} \
             0/0/0/0/{retries} 0/0",
            t.tw,
            t.tc,
            t.tt,
            peer = self.peer,
            date = log_date(date),
            bytes = self.bytes_out,
            state = self.state(),
            retries = self.retries_field(),
        )
    }

    /// The line `ringlb -d` prints: HAProxy's `option httplog` layout,
    /// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc
    /// %sq/%bq %hr %hs %{+Q}r`. Connection counts and queue lengths are not recorded (0);
    /// there are no captures (no `{}`), and no persistence cookies (`--` after the state).
    pub fn httplog(&self, model: &Model, date: SystemTime) -> String {
        let (fe_name, be_name, srv_name) = self.names(model);
        let t = self.marks.timers();
        let status = self.status.map_or(-1, i64::from);
        let line = self.request_line.as_deref().unwrap_or("<BADREQ>");
        format!(
            "{peer} [{date}] {fe_name} {be_name}/{srv_name} {}/{}/{}/{}/{} {status} {bytes} - - \
             {state}-- 0/0/0/0/{retries} 0/0 \"{line}\"",
            t.treq,
            t.tw,
            t.tc,
            t.tr,
            t.ta,
            peer = self.peer,
            date = log_date(date),
            bytes = self.bytes_out,
            state = self.state(),
            retries = self.retries_field(),
        )
    }
}

/// The one place a request's record is consumed: stamps its end, and prints it when records
/// are on (`ringlb -d`). Returns the end instant (the next request's `Ti` starts there).
pub fn end_request(w: &Worker, rec: &mut RequestRecord) -> Instant {
    let end = Instant::now();
    rec.marks.end = Some(end);
    if w.log_requests {
        print_record(w, rec);
    }
    end
}

#[cold]
fn print_record(w: &Worker, rec: &RequestRecord) {
    // `%tr` is the date the request started, `%t` the connection's accept: now, less how
    // long it lasted.
    let t = rec.marks.timers();
    let lasted = match rec.mode {
        Mode::Http => t.ta,
        Mode::Tcp => t.tt,
    };
    let date = SystemTime::now()
        .checked_sub(Duration::from_millis(lasted.max(0) as u64))
        .unwrap_or_else(SystemTime::now);
    let line = match rec.mode {
        Mode::Http => rec.httplog(&w.model, date),
        Mode::Tcp => rec.tcplog(&w.model, date),
    };
    eprintln!("{line}");
}

/// `02/Dec/2026:18:17:38.123`, in UTC (HAProxy prints local time; the machines here run UTC).
pub fn log_date(t: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{d:02}/{}/{y}:{:02}:{:02}:{:02}.{:03}",
        MONTHS.get(m.saturating_sub(1) as usize).unwrap_or(&"Jan"),
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31): Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
