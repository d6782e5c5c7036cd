//! A request's (or tcp connection's) line: a `LogLine` rendered from its record, straight into
//! the core's batch. HAProxy's rules: a missing string is `-` (`""` when quoted), numbers and
//! dates are never quoted, `%ts`/`%tsc` neither; a separator after nothing prints once.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::dates::{gmt_date, log_date, unix_secs};
use crate::config::model::{Mode, Model};
use crate::config::model_log::{LogFlags, LogLine, LogNode, LogVar};
use crate::serve::record::{CaptureValues, RequestRecord, Timers};

/// What a line is made of besides the record.
pub struct Facts<'a> {
    pub rec: &'a RequestRecord,
    pub model: &'a Model,
    /// `%ac`, `%fc`, `%sc` (cross-core counts; `%bc` is not counted: 0).
    pub actconn: u32,
    pub feconn: u32,
    pub srvconn: u32,
    /// The wall clock when the record ended, to date its instants.
    pub now: SystemTime,
    /// `%H`.
    pub hostname: &'a str,
    pub pid: u32,
}

/// What several variables read, worked out once per line.
struct Derived<'m> {
    t: Timers,
    fe: &'m str,
    be: &'m str,
    srv: &'m str,
}

pub fn render(line: &LogLine, f: &Facts, out: &mut Vec<u8>) {
    let (fe, be, srv) = f.rec.names(f.model);
    let d = Derived {
        t: f.rec.marks.timers(),
        fe,
        be,
        srv,
    };
    // HAProxy starts as if after a separator: a leading one is not printed.
    let mut after_sep = true;
    for n in &line.nodes {
        match n {
            LogNode::Lit(s) if s == crate::config::log_format::SEP => {
                if !after_sep {
                    out.push(b' ');
                    after_sep = true;
                }
            }
            LogNode::Lit(s) => {
                out.extend_from_slice(s.as_bytes());
                after_sep = false;
            }
            LogNode::Var(v, flags) => {
                let before = out.len();
                var(*v, *flags, f, &d, out);
                if out.len() > before {
                    after_sep = false;
                }
            }
        }
    }
}

/// The wall-clock date of an instant of the record.
fn wall(f: &Facts, at: Instant) -> SystemTime {
    let end = f.rec.marks.end.unwrap_or(at);
    f.now
        .checked_sub(end.saturating_duration_since(at))
        .unwrap_or(f.now)
}

/// `%t`: the accept date (a kept-alive connection's next request: where its idle time began).
fn accept_date(f: &Facts) -> SystemTime {
    let d = wall(f, f.rec.marks.idle_from);
    d.checked_sub(f.rec.marks.handshake).unwrap_or(d)
}

/// `%tr`: when the request's first byte came.
fn request_date(f: &Facts) -> SystemTime {
    match f.rec.marks.start {
        Some(s) => wall(f, s),
        None => accept_date(f),
    }
}

fn var(v: LogVar, fl: LogFlags, f: &Facts, d: &Derived, out: &mut Vec<u8>) {
    let rec = f.rec;
    let (t, fe, be, srv) = (&d.t, d.fe, d.be, d.srv);
    if rec.asap && matches!(v, LogVar::Ta | LogVar::Tt | LogVar::BytesOut) {
        out.push(b'+');
    }
    match v {
        LogVar::BytesOut => num(out, fl, rec.bytes_out as i64),
        LogVar::BytesIn => num(out, fl, rec.bytes_in as i64),
        LogVar::CookieReq | LogVar::CookieRes => text(out, fl, None),
        LogVar::UniqueId => text(out, fl, rec.unique_id.as_deref().map(str::as_bytes)),
        LogVar::Hostname => text(out, fl, Some(f.hostname.as_bytes())),
        LogVar::Method => text(out, fl, request_part(rec, Part::Method)),
        LogVar::Uri => text(out, fl, request_part(rec, Part::Uri)),
        LogVar::Path => text(out, fl, request_part(rec, Part::Path)),
        LogVar::PathOnly => text(out, fl, request_part(rec, Part::PathOnly)),
        LogVar::Query => text(out, fl, request_part(rec, Part::Query)),
        LogVar::Version => text(out, fl, request_part(rec, Part::Version)),
        LogVar::RequestLine => {
            let line = rec.request_line.as_deref().unwrap_or("<BADREQ>");
            text(out, fl, Some(line.as_bytes()))
        }
        LogVar::Status => num(out, fl, rec.status.map_or(-1, i64::from)),
        LogVar::Th => num(out, fl, t.th),
        LogVar::Ti => num(out, fl, t.ti),
        LogVar::TR => num(out, fl, t.treq),
        LogVar::Tw => num(out, fl, t.tw),
        LogVar::Tc => num(out, fl, t.tc),
        LogVar::Tr => num(out, fl, t.tr),
        LogVar::Ta => num(out, fl, t.ta),
        LogVar::Tq => num(out, fl, t.tq),
        LogVar::Tt => num(out, fl, t.tt),
        // Tu: Tt less the idle time; Td: what Tt leaves after Tq, Tw, Tc and Tr.
        LogVar::Tu => num(out, fl, if t.tt < 0 { -1 } else { t.tt - t.ti.max(0) }),
        LogVar::Td => num(out, fl, data_time(t)),
        LogVar::GmtDate | LogVar::LocalDate => gmt_date(out, accept_date(f)),
        LogVar::RequestGmtDate | LogVar::RequestLocalDate => gmt_date(out, request_date(f)),
        LogVar::AcceptDate => log_date(out, accept_date(f)),
        LogVar::RequestDate => log_date(out, request_date(f)),
        LogVar::Timestamp => num(out, fl, unix_secs(accept_date(f)) as i64),
        LogVar::AcceptMs => {
            let ms = accept_date(f)
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_millis();
            let _ = write!(out, "{ms:03}");
        }
        LogVar::ActConn => num(out, fl, i64::from(f.actconn)),
        LogVar::FeConn => num(out, fl, i64::from(f.feconn)),
        LogVar::SrvConn => num(out, fl, i64::from(f.srvconn)),
        LogVar::BeConn | LogVar::BackendQueue | LogVar::SrvQueue => num(out, fl, 0),
        LogVar::Retries => {
            if rec.redispatched {
                out.push(b'+');
            }
            num(out, fl, i64::from(rec.retries))
        }
        LogVar::Frontend => text(out, fl, Some(fe.as_bytes())),
        LogVar::FrontendTransport if rec.tls => text(out, fl, Some(format!("{fe}~").as_bytes())),
        LogVar::FrontendTransport => text(out, fl, Some(fe.as_bytes())),
        LogVar::Backend => text(out, fl, Some(be.as_bytes())),
        LogVar::Server => text(out, fl, Some(srv.as_bytes())),
        LogVar::ClientIp => ip(out, fl, Some(rec.peer)),
        LogVar::ClientPort => port(out, fl, Some(rec.peer)),
        LogVar::FrontendIp => ip(out, fl, rec.local),
        LogVar::FrontendPort => port(out, fl, rec.local),
        LogVar::ServerIp => ip(out, fl, server_addr(f)),
        LogVar::ServerPort => port(out, fl, server_addr(f)),
        LogVar::Pid => num(out, fl, i64::from(f.pid)),
        LogVar::ReqCounter => num(out, fl, rec.req_counter as i64),
        LogVar::TermState => {
            let _ = write!(out, "{}", rec.state());
        }
        LogVar::TermStateCookie => {
            // No persistence cookie: its two state letters are `--`.
            let _ = write!(out, "{}--", rec.state());
        }
        LogVar::ReqHeaders => block(out, fl, rec.captures.as_deref(), true),
        LogVar::ResHeaders => block(out, fl, rec.captures.as_deref(), false),
        LogVar::ReqHeadersClf => list(out, fl, rec.captures.as_deref(), true),
        LogVar::ResHeadersClf => list(out, fl, rec.captures.as_deref(), false),
    }
}

fn data_time(t: &Timers) -> i64 {
    if t.tt < 0 {
        return -1;
    }
    t.tt - (t.tq.max(0) + t.tw.max(0) + t.tc.max(0) + t.tr.max(0))
}

fn server_addr(f: &Facts) -> Option<SocketAddr> {
    let (b, s) = (f.rec.backend?, f.rec.server?);
    f.rec
        .server_addr
        .or_else(|| f.model.server(b, s).map(|s| s.addr))
}

fn num(out: &mut Vec<u8>, fl: LogFlags, n: i64) {
    let _ = if fl.hex && n >= 0 {
        write!(out, "{n:04X}")
    } else {
        write!(out, "{n}")
    };
}

/// A string variable: `-` when missing (`""` quoted), quoted and escaped as the flags say.
fn text(out: &mut Vec<u8>, fl: LogFlags, s: Option<&[u8]>) {
    match (s, fl.quote) {
        (None, false) => out.push(b'-'),
        (s, q) => {
            if q {
                out.push(b'"');
            }
            for &b in s.unwrap_or(b"") {
                if fl.escape && matches!(b, b'"' | b'\\' | b']') {
                    out.push(b'\\');
                }
                out.push(b);
            }
            if q {
                out.push(b'"');
            }
        }
    }
}

fn ip(out: &mut Vec<u8>, fl: LogFlags, a: Option<SocketAddr>) {
    let Some(a) = a else {
        return text(out, fl, None);
    };
    if fl.hex {
        let _ = match a.ip() {
            IpAddr::V4(v4) => write!(out, "{:08X}", u32::from(v4)),
            IpAddr::V6(v6) => write!(out, "{:032X}", u128::from(v6)),
        };
        return;
    }
    // An address has nothing to escape: written as it is, quoted if asked.
    let q: &[u8] = if fl.quote { b"\"" } else { b"" };
    out.extend_from_slice(q);
    let _ = write!(out, "{}", a.ip());
    out.extend_from_slice(q);
}

fn port(out: &mut Vec<u8>, fl: LogFlags, a: Option<SocketAddr>) {
    match a {
        Some(a) => num(out, fl, i64::from(a.port())),
        None => text(out, fl, None),
    }
}

/// `%hr` / `%hs`: `{a|b}` (nothing without captures), quoted as a whole.
fn block(out: &mut Vec<u8>, fl: LogFlags, c: Option<&CaptureValues>, request: bool) {
    let Some(values) = c.map(|c| c.side(request)).filter(|v| !v.is_empty()) else {
        return;
    };
    if fl.quote {
        out.push(b'"');
    }
    out.push(b'{');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'|');
        }
        out.extend_from_slice(v.as_deref().unwrap_or("").as_bytes());
    }
    out.push(b'}');
    if fl.quote {
        out.push(b'"');
    }
}

/// `%hrl` / `%hsl`: each capture as its own string, separated by spaces.
fn list(out: &mut Vec<u8>, fl: LogFlags, c: Option<&CaptureValues>, request: bool) {
    let Some(values) = c.map(|c| c.side(request)).filter(|v| !v.is_empty()) else {
        return;
    };
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let v = v.as_deref().filter(|s| !s.is_empty());
        text(out, fl, v.map(str::as_bytes));
    }
}

enum Part {
    Method,
    Uri,
    Path,
    PathOnly,
    Query,
    Version,
}

/// A part of the request line, `None` when there was no valid request.
fn request_part(rec: &RequestRecord, part: Part) -> Option<&[u8]> {
    if rec.mode == Mode::Tcp {
        return None;
    }
    let line = rec.request_line.as_deref()?;
    let mut words = line.split(' ').filter(|w| !w.is_empty());
    let (method, uri, version) = (words.next()?, words.next(), words.next());
    let uri = uri.unwrap_or("");
    let (path, query) = match uri.find('?') {
        Some(q) => (&uri[..q], &uri[q..]),
        None => (uri, ""),
    };
    let s = match part {
        Part::Method => method,
        Part::Uri => uri,
        Part::Path => path,
        Part::PathOnly => path_only(path),
        Part::Query => query,
        Part::Version => version.unwrap_or("HTTP/0.9"),
    };
    Some(s.as_bytes())
}

/// An absolute-form target's path (`http://host/p` -> `/p`).
fn path_only(path: &str) -> &str {
    match path.find("://") {
        Some(i) => {
            let rest = &path[i + 3..];
            rest.find('/').map_or("/", |p| &rest[p..])
        }
        None => path,
    }
}
