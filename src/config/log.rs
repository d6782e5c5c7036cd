//! The log keywords: `log` (global and proxies), `log-tag`, `log-send-hostname`, the log
//! options, `log-format` and `capture`. `log global` is kept as a marker and expanded by
//! `validate` (the global section may come later in the file).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::draft::{GlobalDraft, LogEntry, LogLineDraft, ProxyDraft};
use super::keywords::Cx;
use super::model_log::*;
use super::suggest;

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2",
    "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const FORMATS: [(&str, SyslogFormat); 8] = [
    ("local", SyslogFormat::Local),
    ("rfc3164", SyslogFormat::Rfc3164),
    ("rfc5424", SyslogFormat::Rfc5424),
    ("priority", SyslogFormat::Priority),
    ("short", SyslogFormat::Short),
    ("timed", SyslogFormat::Timed),
    ("iso", SyslogFormat::Iso),
    ("raw", SyslogFormat::Raw),
];
const SYSLOG_PORT: u16 = 514;
const MIN_LEN: usize = 80;
const MAX_LEN: usize = 65535;
/// Address prefixes HAProxy knows and ringlb does not serve.
const REFUSED_PREFIXES: [&str; 8] = [
    "ring@", "tcp@", "tcp4@", "tcp6@", "uxst@", "unix@", "abns@", "fd@",
];

pub fn global_log(g: &mut GlobalDraft, cx: &mut Cx) {
    match parse_log(cx) {
        Some(LogEntry::Target(t)) => g.logs.push(t),
        Some(LogEntry::Global) => cx.err("'log global' is for proxies; in the global section write 'log ADDRESS FACILITY [LEVEL]'"),
        None => {}
    }
}

pub fn proxy_log(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(e) = parse_log(cx) {
        // `log global` in defaults and again in the proxy logs once (HAProxy 2.6 does).
        if e == LogEntry::Global && p.log.entries.contains(&LogEntry::Global) {
            return;
        }
        p.log.entries.push(e);
    }
}

/// `no log`: forget the log lines inherited from defaults (and those above in the section).
pub fn no_log(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.log.entries.clear();
    }
}

pub fn global_tag(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(t) = cx.one("a tag, e.g. 'log-tag haproxy'") {
        g.log_tag = Some(t.to_string());
    }
}

pub fn proxy_tag(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(t) = cx.one("a tag, e.g. 'log-tag www'") {
        p.log.tag = Some(t.to_string());
    }
}

/// `log-send-hostname [NAME]`: the system's host name without NAME.
pub fn send_hostname(g: &mut GlobalDraft, cx: &mut Cx) {
    match cx.args {
        [] => g.log_send_hostname = Some(None),
        [n] => g.log_send_hostname = Some(Some(n.clone())),
        _ => cx.err("'log-send-hostname' takes at most one argument, the host name to send"),
    }
}

/// `log ADDR [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`, or `log global`; `None` after
/// reporting an error.
pub fn parse_log(cx: &mut Cx) -> Option<LogEntry> {
    let args = cx.args;
    let Some(address) = args.first() else {
        cx.err("'log' needs a target: 'log global' or 'log ADDRESS FACILITY [LEVEL]', e.g. 'log 127.0.0.1 local0'");
        return None;
    };
    if address == "global" {
        if args.len() > 1 {
            cx.err(format!(
                "'log global' takes no argument; unexpected '{}'",
                args[1..].join(" ")
            ));
            return None;
        }
        return Some(LogEntry::Global);
    }
    let dest = match parse_dest(address) {
        Ok(d) => d,
        Err(e) => {
            cx.err(format!("'log {address}': {e}"));
            return None;
        }
    };
    let (len, format, i) = log_options(cx, &args[1..])?;
    let (facility, level, minlevel) = facility_and_levels(cx, address, &args[1 + i..])?;
    Some(LogEntry::Target(LogTarget {
        dest,
        format,
        facility,
        level,
        minlevel,
        len,
        loc: cx.loc.clone(),
    }))
}

/// `[len N] [format F]` before the facility; also how many words they took.
fn log_options(cx: &mut Cx, args: &[String]) -> Option<(usize, Option<SyslogFormat>, usize)> {
    let mut len = DEFAULT_LOG_LEN;
    let mut format = None;
    let mut i = 0;
    while let Some(w) = args.get(i).map(String::as_str) {
        let v = args.get(i + 1).map(String::as_str).unwrap_or("");
        match w {
            "len" => match v.parse::<usize>() {
                Ok(n) if (MIN_LEN..=MAX_LEN).contains(&n) => len = n,
                _ => {
                    cx.err(format!(
                        "'log ... len {v}': the length must be a number from {MIN_LEN} to {MAX_LEN}"
                    ));
                    return None;
                }
            },
            "format" => match FORMATS.iter().find(|(n, _)| *n == v) {
                Some((_, f)) => format = Some(*f),
                None => {
                    let names = FORMATS.map(|(n, _)| n);
                    let hint = suggest::hint(v, names);
                    cx.err(format!(
                        "'log ... format {v}': unknown format; use one of {}{hint}",
                        names.join(", ")
                    ));
                    return None;
                }
            },
            "sample" => {
                cx.err("'log ... sample': log sampling is not supported yet; remove 'sample RANGES:SIZE'");
                return None;
            }
            _ => break,
        }
        i += 2;
    }
    Some((len, format, i))
}

/// `FACILITY [LEVEL [MINLEVEL]]` as numbers (level: debug, minlevel: emerg when absent).
fn facility_and_levels(cx: &mut Cx, address: &str, args: &[String]) -> Option<(u8, u8, u8)> {
    let Some(facility) = args.first() else {
        cx.err(format!(
            "'log {address}' needs a facility, e.g. 'log {address} local0'"
        ));
        return None;
    };
    let Some(facility_no) = FACILITIES.iter().position(|f| f == facility) else {
        let hint = suggest::hint(facility, FACILITIES);
        cx.err(format!(
            "'log': unknown facility '{facility}'{hint} (local0 to local7 are usual)"
        ));
        return None;
    };
    let levels = &args[1..];
    if levels.len() > 2 {
        cx.err(format!(
            "'log': too many words after the facility: '{}' (at most LEVEL and MINLEVEL)",
            levels.join(" ")
        ));
        return None;
    }
    let mut nums = Vec::with_capacity(2);
    for l in levels {
        match LEVELS.iter().position(|n| n == l) {
            Some(n) => nums.push(n as u8),
            None => {
                let hint = suggest::hint(l, LEVELS);
                cx.err(format!(
                    "'log': unknown level '{l}'{hint}; levels are {}",
                    LEVELS.join(", ")
                ));
                return None;
            }
        }
    }
    Some((
        facility_no as u8,
        nums.first().copied().unwrap_or(LEVEL_DEBUG),
        nums.get(1).copied().unwrap_or(LEVEL_EMERG),
    ))
}

/// `127.0.0.1[:port]`, `::1` / `[::1]:port` / `::1:port`, `/dev/log`, `stdout`, `stderr`,
/// `udp@...`.
fn parse_dest(text: &str) -> Result<LogDest, String> {
    match text {
        "stdout" | "fd@1" => return Ok(LogDest::Stdout),
        "stderr" | "fd@2" => return Ok(LogDest::Stderr),
        _ => {}
    }
    if text.starts_with('/') {
        return Ok(LogDest::Unix(PathBuf::from(text)));
    }
    if let Some(p) = REFUSED_PREFIXES.iter().find(|p| text.starts_with(**p)) {
        return Err(format!(
            "'{p}' targets are not supported yet; use a UDP address, a unix datagram socket path, stdout or stderr"
        ));
    }
    let bare = ["udp@", "udp4@", "udp6@"]
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .unwrap_or(text);
    udp_addr(bare).map(LogDest::Udp)
}

fn udp_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, SYSLOG_PORT));
    }
    // HAProxy's `ipv6:port` without brackets: the last colon starts the port.
    if let Some((ip, port)) = text.rsplit_once(':') {
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if let (Ok(ip), Ok(port)) = (ip.parse::<IpAddr>(), port.parse::<u16>()) {
            return Ok(SocketAddr::new(ip, port));
        }
        if ip.parse::<IpAddr>().is_ok() {
            return Err(format!("'{port}' is not a valid port"));
        }
    }
    Err("not an IP address (host names are not resolved), a socket path starting with '/', stdout or stderr".into())
}

/// `option httplog [clf]`.
pub fn httplog(p: &mut ProxyDraft, cx: &mut Cx) {
    let line = match cx.args {
        [] => LogLineDraft::Http,
        [c] if c == "clf" => LogLineDraft::HttpClf,
        _ => return cx.err("'option httplog' takes only the optional word 'clf'"),
    };
    if cx.in_backend_only() {
        return cx.warn("'option httplog' is ignored in a backend: it only applies to frontends (move it to the frontend, listen or defaults section)");
    }
    p.log.line = Some((line, cx.loc.clone()));
}

pub fn tcplog(p: &mut ProxyDraft, cx: &mut Cx) {
    if !cx.none() {
        return;
    }
    if cx.in_backend_only() {
        return cx.warn("'option tcplog' is ignored in a backend: it only applies to frontends (move it to the frontend, listen or defaults section)");
    }
    p.log.line = Some((LogLineDraft::Tcp, cx.loc.clone()));
}

pub fn log_format(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.args.is_empty() {
        return cx.err("'log-format' needs a format string, e.g. log-format \"%ci:%cp %ST %r\"");
    }
    if cx.in_backend_only() {
        return cx.warn("'log-format' is ignored in a backend: it only applies to frontends");
    }
    match super::log_format::parse(&cx.args.join(" ")) {
        Ok(l) => p.log.line = Some((LogLineDraft::Custom(l), cx.loc.clone())),
        Err(e) => cx.err(e),
    }
}

/// `option dontlognull`, `option log-separate-errors`, `option dontlog-normal`, and their
/// `no option` forms (which undo what defaults set).
pub fn dontlognull(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.log.dontlognull = !cx.kw.starts_with("no ");
    }
}

pub fn separate_errors(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.log.separate_errors = !cx.kw.starts_with("no ");
    }
}

pub fn dontlog_normal(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.log.dontlog_normal = !cx.kw.starts_with("no ");
    }
}

/// `capture request header NAME len N` / `capture response header NAME len N`.
pub fn capture(p: &mut ProxyDraft, cx: &mut Cx) {
    let (side, name, len) = match cx.args {
        [side, h, name, l, n] if h == "header" && l == "len" => (side.as_str(), name, n),
        [c, ..] if c == "cookie" => return cx.err("'capture cookie' is not supported yet (no cookie persistence); capture the header with 'capture request header Cookie len N'"),
        _ => return cx.err("expected 'capture request header NAME len N' or 'capture response header NAME len N'"),
    };
    let Some(len) = cx.number::<usize>("length", len) else {
        return;
    };
    if len == 0 {
        return cx.err("'capture ... len 0': the length must be at least 1");
    }
    let c = Capture {
        what: CaptureOf::Header(name.to_ascii_lowercase()),
        len,
    };
    match side {
        "request" => p.log.captures.request.push(c),
        "response" => p.log.captures.response.push(c),
        _ => {
            let hint = suggest::hint(side, ["request", "response"]);
            cx.err(format!(
                "'capture {side}': expected 'request' or 'response'{hint}"
            ))
        }
    }
}
