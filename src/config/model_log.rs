//! What the configuration says about logs: where they go (`LogTarget`), how each proxy logs
//! (`ProxyLog`: its targets, its line format, its options and captures). Plain data; the
//! sockets are opened by the logger thread (`crate::log`).

use std::net::SocketAddr;
use std::path::PathBuf;

use super::model::Loc;

/// Where a `log` line sends its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDest {
    /// UDP syslog, `ip[:port]` or `[ipv6]:port` (port 514 by default).
    Udp(SocketAddr),
    /// A unix datagram socket (`/dev/log`).
    Unix(PathBuf),
    /// `stdout` / `stderr` (HAProxy's `fd@1` / `fd@2`): one write per message, never truncated.
    Stdout,
    Stderr,
}

/// The framing of a message (`log ... format F`): HAProxy 2.6's eight formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFormat {
    /// rfc3164 without the host name: HAProxy's default.
    Local,
    Rfc3164,
    Rfc5424,
    /// `<PRI>` and the text.
    Priority,
    /// `<LEVEL>` and the text (what systemd reads).
    Short,
    /// `<LEVEL>`, the ISO date and the text.
    Timed,
    /// The ISO date and the text.
    Iso,
    /// The text alone.
    Raw,
}

/// Syslog severities, most severe first (their numbers are RFC 5424's).
pub const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];
pub const LEVEL_EMERG: u8 = 0;
pub const LEVEL_ALERT: u8 = 1;
pub const LEVEL_ERR: u8 = 3;
pub const LEVEL_WARNING: u8 = 4;
pub const LEVEL_NOTICE: u8 = 5;
pub const LEVEL_INFO: u8 = 6;
pub const LEVEL_DEBUG: u8 = 7;

/// HAProxy's default maximum message length (RFC 3164's 1024).
pub const DEFAULT_LOG_LEN: usize = 1024;

/// One `log ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTarget {
    pub dest: LogDest,
    /// `None`: not written; `local`, or `rfc3164` when `log-send-hostname` is set.
    pub format: Option<SyslogFormat>,
    /// 0 (kern) to 23 (local7).
    pub facility: u8,
    /// Messages less severe than this are not sent (`debug`: all are).
    pub level: u8,
    /// Messages more severe than this are sent at this level (`emerg`: unchanged).
    pub minlevel: u8,
    /// Longest message, header included (the newline after it aside).
    pub len: usize,
    pub loc: Loc,
}

impl LogTarget {
    /// The level a message of `level` is sent at, `None` when this target filters it out.
    pub fn accepts(&self, level: u8) -> Option<u8> {
        (level <= self.level).then_some(level.max(self.minlevel))
    }
}

/// What one proxy logs and where (the frontend's settings decide a request's line, the
/// backend's where its servers' state changes go, as in HAProxy).
#[derive(Clone, Debug, Default)]
pub struct ProxyLog {
    /// `log` lines, `log global` expanded to the global ones; empty: nothing is logged.
    pub targets: Vec<LogTarget>,
    /// `log-tag`: the syslog tag (else the global one).
    pub tag: Option<String>,
    pub line: LineFormat,
    /// `option dontlognull`: a connection that sent nothing is not logged.
    pub dontlognull: bool,
    /// `option log-separate-errors`: errors are logged at `err` instead of `info`.
    pub separate_errors: bool,
    /// `option dontlog-normal`: only errors are logged.
    pub dontlog_normal: bool,
    /// `capture request header` / `capture response header` and `http-request capture`.
    pub captures: Captures,
}

/// The line a proxy writes per request or connection.
#[derive(Clone, Debug, Default)]
pub enum LineFormat {
    /// No option: HAProxy's default `Connect from IP:PORT to IP:PORT (fe/MODE)` at accept.
    #[default]
    Connect,
    /// `option httplog`, `option tcplog` or `log-format`: one line when the request (or the
    /// tcp connection) ends, HAProxy's layouts being log-format strings too.
    End(LogLine),
}

/// The headers and samples a frontend captures, in the order of the `{a|b}` blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    pub request: Vec<Capture>,
    pub response: Vec<Capture>,
}

impl Captures {
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capture {
    /// What is captured: a header (lower-case name) or an `http-request capture` sample
    /// (then filled by the action).
    pub what: CaptureOf,
    /// Longest value kept (longer ones are cut).
    pub len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureOf {
    Header(String),
    /// `http-request capture SAMPLE len N`: the action stores its value in this slot.
    Sample,
}

/// A parsed log-format string for access logs.
#[derive(Clone, Debug, Default)]
pub struct LogLine {
    pub nodes: Vec<LogNode>,
}

#[derive(Clone, Debug)]
pub enum LogNode {
    Lit(String),
    Var(LogVar, LogFlags),
}

/// `%{+Q}` and `%{+X}`: quoted, hexadecimal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogFlags {
    pub quote: bool,
    pub hex: bool,
    pub escape: bool,
}

/// HAProxy 2.6's log-format variables (manual 8.2.6) that a request's record can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogVar {
    BytesOut,
    CookieReq,
    CookieRes,
    Hostname,
    Method,
    Path,
    PathOnly,
    Query,
    Uri,
    Version,
    UniqueId,
    Status,
    GmtDate,
    Ta,
    Tc,
    Td,
    LocalDate,
    Th,
    Ti,
    Tq,
    TR,
    Tr,
    Timestamp,
    Tt,
    Tu,
    Tw,
    BytesIn,
    ActConn,
    Backend,
    BeConn,
    BackendQueue,
    ClientIp,
    ClientPort,
    Frontend,
    FeConn,
    FrontendIp,
    FrontendPort,
    FrontendTransport,
    ReqHeaders,
    ResHeaders,
    ReqHeadersClf,
    ResHeadersClf,
    AcceptMs,
    Pid,
    /// `%rt`: the request counter.
    ReqCounter,
    RequestLine,
    Retries,
    Server,
    SrvConn,
    ServerIp,
    ServerPort,
    SrvQueue,
    AcceptDate,
    RequestDate,
    RequestGmtDate,
    RequestLocalDate,
    TermState,
    TermStateCookie,
}
