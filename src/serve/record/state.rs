//! HAProxy's two-letter termination state (manual 8.5), and the state each cause maps to.
//! Where HAProxy 2.6 was observed (tests/e2e_termination.rs), the mapping is what it logs for
//! the same case.

use std::fmt;

use crate::http::body::BodyError;
use crate::io::IoFail;
use crate::worker::connect::ConnectError;

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
    /// A rule that does not answer was asked to (reply.rs's 500): `I`, an internal error.
    Internal,
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
        RuleAnswer::Internal => TermState::new(By::Internal, phase),
    }
}
