//! The option table of `server` and `default-server` lines: every option ringlb applies, with
//! whether it takes a value and whether it only means something with `check`, and its parse
//! function; then the HAProxy options ringlb refuses by name (TLS ones with their own reason).
//! `apply` looks a word up, takes its value and words a miss with the closest option.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use super::{refusal, Handler};
use crate::config::draft::ServerOpts;
use crate::config::model::OnError;
use crate::config::{addr, duration, server_tls, suggest};

/// HAProxy's largest server weight.
const MAX_WEIGHT: u32 = 256;
/// Check intervals outside these bounds are typing mistakes (a unit forgotten or doubled):
/// HAProxy's timers tick in milliseconds, and a day between checks is no health check.
const MIN_INTER: Duration = Duration::from_millis(1);
const MAX_INTER: Duration = Duration::from_secs(24 * 3600);

/// An option as written: its name and its value (empty for a flag).
pub struct Opt<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

pub type ParseFn = fn(&mut ServerOpts, &Opt) -> Result<(), String>;

/// A supported option: its value, where it is meaningful, how it is parsed.
#[derive(Clone, Copy)]
pub struct Spec {
    /// What the value is (`"N"`, `"TIME"`), or `None` for a flag.
    pub value: Option<&'static str>,
    /// Configures health checks: without `check` on the line (or inherited), an error.
    pub needs_check: bool,
    /// A value that loads, for the tests (empty for a flag).
    pub example: &'static str,
    pub parse: ParseFn,
}

pub struct Row {
    pub name: &'static str,
    pub handler: Handler<Spec>,
}

/// A flag.
const fn flag(name: &'static str, parse: ParseFn) -> Row {
    row(name, None, false, "", parse)
}

/// An option with a value.
const fn val(name: &'static str, what: &'static str, example: &'static str, parse: ParseFn) -> Row {
    row(name, Some(what), false, example, parse)
}

/// An option with a value that configures health checks.
const fn chk(name: &'static str, what: &'static str, example: &'static str, parse: ParseFn) -> Row {
    row(name, Some(what), true, example, parse)
}

const fn row(
    name: &'static str,
    value: Option<&'static str>,
    needs_check: bool,
    example: &'static str,
    parse: ParseFn,
) -> Row {
    Row {
        name,
        handler: Handler::Parse(Spec {
            value,
            needs_check,
            example,
            parse,
        }),
    }
}

const fn no(name: &'static str, why: &'static str) -> Row {
    Row {
        name,
        handler: Handler::Refused(why),
    }
}

/// Versions rustls does not implement.
const TLS_OLD: &str =
    "ringlb's TLS library (rustls) implements only TLSv1.2 and TLSv1.3; use 'force-tlsv12' or 'ssl-min-ver'";
const LATER: &str = "not supported yet; remove it";

/// Supported rows first, in the order "did you mean" prefers on a tie.
#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    val("weight", "N", "10", weight),
    val("maxconn", "N", "10", |o, v| num(v).map(|n| o.maxconn = (n > 0).then_some(n))),
    flag("backup", |o, _| { o.backup = true; Ok(()) }),
    flag("disabled", |o, _| { o.disabled = true; Ok(()) }),
    flag("enabled", |o, _| { o.disabled = false; Ok(()) }),
    flag("check", |o, _| { o.check = true; Ok(()) }),
    flag("no-check", |o, _| { o.check = false; Ok(()) }),
    chk("inter", "TIME", "2s", |o, v| interval(v).map(|d| o.inter = Some(d))),
    chk("fastinter", "TIME", "1s", |o, v| interval(v).map(|d| o.fastinter = Some(d))),
    chk("downinter", "TIME", "5s", |o, v| interval(v).map(|d| o.downinter = Some(d))),
    chk("rise", "N", "2", |o, v| at_least_one(v).map(|n| o.rise = n)),
    chk("fall", "N", "3", |o, v| at_least_one(v).map(|n| o.fall = n)),
    chk("port", "PORT", "8080", port),
    chk("addr", "ADDRESS", "127.0.0.1", |o, v| {
        resolve_ip(v.value).map(|a| o.addr = Some(a)).map_err(|e| format!("server option 'addr': {e}"))
    }),
    val("slowstart", "TIME", "10s", |o, v| {
        duration::parse(v.value)
            .map(|d| o.slowstart = (!d.is_zero()).then_some(d))
            .map_err(|e| format!("server option 'slowstart': {e}"))
    }),
    chk("observe", "layer4|layer7|none", "layer7", observe),
    chk("error-limit", "N", "10", error_limit),
    chk("on-error", "MODE", "mark-down", |o, v| on_error(v.value).map(|m| o.on_error = Some(m))),
    val("pool-purge-delay", "TIME", "5s", |o, v| {
        duration::parse(v.value)
            .map(|d| o.pool.purge_delay = d)
            .map_err(|e| format!("server option 'pool-purge-delay': {e}"))
    }),
    val("pool-max-conn", "N", "10", |o, v| pool_max_conn(v.value).map(|m| o.pool.max_conn = m)),
    val("pool-low-conn", "N", "2", |o, v| num(v).map(|n| o.pool.low_conn = n)),
    flag("ssl", |o, _| { o.tls.ssl = true; Ok(()) }),
    flag("no-ssl", |o, _| { o.tls.ssl = false; Ok(()) }),
    flag("check-ssl", |o, _| { o.check_ssl = Some(true); Ok(()) }),
    flag("no-check-ssl", |o, _| { o.check_ssl = Some(false); Ok(()) }),
    val("verify", "none|required", "none", server_tls::verify),
    val("verifyhost", "NAME", "backend.example", |o, v| { o.tls.verifyhost = Some(v.value.into()); Ok(()) }),
    flag("no-verifyhost", |o, _| { o.tls.verifyhost = None; Ok(()) }),
    val("ca-file", "FILE", "ca.pem", |o, v| { o.tls.ca_file = Some(v.value.into()); Ok(()) }),
    val("crl-file", "FILE", "crl.pem", |o, v| { o.tls.crl_file = Some(v.value.into()); Ok(()) }),
    val("crt", "FILE", "client.pem", |o, v| { o.tls.crt = Some(v.value.into()); Ok(()) }),
    val("sni", "EXPR", "req.hdr(host)", server_tls::sni),
    val("alpn", "LIST", "http/1.1", |o, v| server_tls::alpn(v).map(|l| o.tls.alpn = l)),
    val("check-sni", "NAME", "backend.example", |o, v| { o.tls.check_sni = Some(v.value.into()); Ok(()) }),
    val("check-alpn", "LIST", "http/1.1", |o, v| server_tls::alpn(v).map(|l| o.tls.check_alpn = l)),
    val("ciphers", "LIST", "ECDHE+AESGCM", |o, v| { o.tls.ciphers = Some(v.value.into()); Ok(()) }),
    val("ciphersuites", "LIST", "TLS_AES_128_GCM_SHA256", |o, v| { o.tls.ciphersuites = Some(v.value.into()); Ok(()) }),
    flag("no-ssl-reuse", |o, _| { o.tls.no_ssl_reuse = true; Ok(()) }),
    flag("ssl-reuse", |o, _| { o.tls.no_ssl_reuse = false; Ok(()) }),
    flag("no-tls-tickets", |o, _| { o.tls.no_tls_tickets = true; Ok(()) }),
    flag("tls-tickets", |o, _| { o.tls.no_tls_tickets = false; Ok(()) }),
    val("ssl-min-ver", "VERSION", "TLSv1.2", server_tls::version),
    val("ssl-max-ver", "VERSION", "TLSv1.3", server_tls::version),
    flag("no-sslv3", server_tls::version),
    flag("no-tlsv10", server_tls::version),
    flag("no-tlsv11", server_tls::version),
    flag("no-tlsv12", server_tls::version),
    flag("no-tlsv13", server_tls::version),
    flag("force-tlsv12", server_tls::version),
    flag("force-tlsv13", server_tls::version),
    flag("send-proxy", |o, _| { o.send_proxy_v1 = true; Ok(()) }),
    flag("send-proxy-v2", |o, _| { o.send_proxy_v2 = true; Ok(()) }),
    flag("no-send-proxy", |o, _| { o.send_proxy_v1 = false; Ok(()) }),
    flag("no-send-proxy-v2", |o, _| { o.send_proxy_v2 = false; Ok(()) }),
    flag("check-send-proxy", |o, _| { o.check_send_proxy = true; Ok(()) }),
    no("force-sslv3", TLS_OLD),
    no("force-tlsv10", TLS_OLD),
    no("force-tlsv11", TLS_OLD),
    no("send-proxy-v2-ssl", LATER),
    no("send-proxy-v2-ssl-cn", LATER),
    no("npn", "NPN is obsolete and not offered by ringlb's TLS library; use 'alpn'"),
    no("cookie", LATER),
    no("resolvers", LATER),
    no("resolve-prefer", LATER),
    no("init-addr", LATER),
    no("on-marked-down", LATER),
    no("on-marked-up", LATER),
    no("agent-check", LATER),
    no("agent-port", LATER),
    no("agent-inter", LATER),
    no("agent-addr", LATER),
    no("agent-send", LATER),
    no("track", LATER),
    no("redir", LATER),
    no("id", LATER),
    no("source", LATER),
    no("maxqueue", LATER),
    no("minconn", LATER),
    no("proto", "not supported yet: servers are spoken to in HTTP/1.1 (HTTP/2 is served to clients only); remove it"),
    no("tfo", LATER),
    no("namespace", LATER),
    no("no-backup", LATER),
    no("max-reuse", LATER),
    no("tcp-ut", LATER),
    no("check-proto", LATER),
    no("socks4", LATER),
    no("proxy-v2-options", LATER),
    no("ws", LATER),
    no("shard", LATER),
    no("log-proto", LATER),
    no("non-stick", LATER),
    no("stick", LATER),
];

/// The row of `name`, if any.
pub fn find(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.name == name)
}

/// Whether `name` is an option that only means something with `check`.
pub fn needs_check(name: &str) -> bool {
    matches!(find(name).map(|r| r.handler), Some(Handler::Parse(s)) if s.needs_check)
}

/// Applies the option at `words[0]` (its value, if it takes one, is `words[1]`); returns how
/// many words it used.
pub fn apply(o: &mut ServerOpts, words: &[String]) -> Result<usize, String> {
    let name = words.first().map_or("", String::as_str);
    match find(name).map(|r| r.handler) {
        Some(Handler::Parse(spec)) => {
            let value = match (spec.value, words.get(1)) {
                (None, _) => "",
                (Some(_), Some(v)) => v.as_str(),
                (Some(_), None) => return Err(format!("server option '{name}' needs a value")),
            };
            (spec.parse)(o, &Opt { name, value })?;
            Ok(if spec.value.is_some() { 2 } else { 1 })
        }
        Some(Handler::Refused(why)) => Err(refusal(&format!("server option '{name}'"), why)),
        None => {
            let hint = suggest::hint(name, TABLE.iter().map(|r| r.name));
            Err(format!("unknown server option '{name}'{hint}"))
        }
    }
}

fn num(v: &Opt) -> Result<u32, String> {
    let (what, v) = (v.name, v.value);
    v.parse::<u32>()
        .map_err(|_| format!("server option '{what} {v}': '{v}' is not a valid number"))
}

fn weight(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    let n = num(v)?;
    if n > MAX_WEIGHT {
        return Err(format!(
            "server option 'weight {n}': must be between 0 and {MAX_WEIGHT}"
        ));
    }
    o.weight = n;
    Ok(())
}

/// `inter`, `fastinter`, `downinter`: above 0 and within `MIN_INTER..=MAX_INTER`.
fn interval(v: &Opt) -> Result<Duration, String> {
    let (w, v) = (v.name, v.value);
    let d = duration::parse(v).map_err(|e| format!("server option '{w}': {e}"))?;
    if d.is_zero() {
        return Err(format!("server option '{w}' must be above 0"));
    }
    if !(MIN_INTER..=MAX_INTER).contains(&d) {
        return Err(format!(
            "server option '{w} {v}': a check interval must be between 1ms and 24h"
        ));
    }
    Ok(d)
}

/// `rise`, `fall`.
fn at_least_one(v: &Opt) -> Result<u32, String> {
    let n = num(v)?;
    if n == 0 {
        return Err(format!("server option '{}' must be at least 1", v.name));
    }
    Ok(n)
}

fn port(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    let v = v.value;
    let p =
        v.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            format!("server option 'port {v}': expected a port between 1 and 65535")
        })?;
    o.port = Some(p);
    Ok(())
}

/// `observe layer4|layer7|none` (`Some(true)` for layer7).
fn observe(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    o.observe = match v.value {
        "layer4" => Some(false),
        "layer7" => Some(true),
        "none" => None,
        v => {
            return Err(format!(
                "server option 'observe {v}': expected layer4, layer7 or none"
            ))
        }
    };
    Ok(())
}

fn error_limit(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    let n = num(v)?;
    if n == 0 {
        return Err("server option 'error-limit' must be at least 1".into());
    }
    o.error_limit = Some(n);
    Ok(())
}

/// `-1` is unlimited (HAProxy's default), `0` keeps no idle connection.
fn pool_max_conn(v: &str) -> Result<Option<u32>, String> {
    match v.parse::<i64>() {
        Ok(-1) => Ok(None),
        Ok(n) if (0..=i64::from(u32::MAX)).contains(&n) => Ok(Some(n as u32)),
        _ => Err(format!(
            "server option 'pool-max-conn {v}': expected -1 (unlimited) or a number of idle connections"
        )),
    }
}

fn on_error(v: &str) -> Result<OnError, String> {
    Ok(match v {
        "fastinter" => OnError::FastInter,
        "fail-check" => OnError::FailCheck,
        "sudden-death" => OnError::SuddenDeath,
        "mark-down" => OnError::MarkDown,
        _ => {
            let hint = suggest::hint(v, ["fastinter", "fail-check", "sudden-death", "mark-down"]);
            return Err(format!(
                "server option 'on-error {v}': expected fastinter, fail-check, sudden-death or mark-down{hint}"
            ));
        }
    })
}

/// `addr` takes an IP address or a host name resolved now, as HAProxy does at start-up.
fn resolve_ip(v: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = addr::parse_ip(v) {
        return Ok(ip);
    }
    let found: Vec<IpAddr> = (v, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{v}': {e}"))?
        .map(|a| a.ip())
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("cannot resolve '{v}': no address"))
}

/// The table as markdown, for README.md.
pub fn markdown() -> String {
    let rows = TABLE.iter().map(|r| match r.handler {
        Handler::Parse(s) => vec![
            format!("`{}`", r.name),
            s.value.map_or(String::new(), |v| format!("`{v}`")),
            if s.needs_check {
                "with `check` only"
            } else {
                "supported"
            }
            .to_string(),
        ],
        Handler::Refused(why) => vec![
            format!("`{}`", r.name),
            String::new(),
            super::refused_cell(why),
        ],
    });
    super::markdown(&["server option", "value", "status"], rows)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_unique, errors};
    use super::*;

    #[test]
    fn names_are_unique() {
        assert_unique(TABLE.iter().map(|r| r.name));
    }

    fn config_with(server_line: &str) -> String {
        format!(
            "frontend f\n  mode http\n  bind 127.0.0.1:0\n  default_backend b\nbackend b\n  mode http\n  {server_line}\n"
        )
    }

    #[test]
    fn every_row_parses_or_is_refused_through_the_loader() {
        for row in TABLE {
            let name = row.name;
            match row.handler {
                Handler::Parse(s) => {
                    // `ssl` and `check-ssl` alone would ask for a CA file (verify required).
                    let line = format!(
                        "server s 127.0.0.1:1 check {name} {} verify none",
                        s.example
                    );
                    let errs = errors(&config_with(&line));
                    assert!(errs.is_empty(), "{line}: {errs:?}");
                    let default = format!("default-server check {name} {} verify none", s.example);
                    let errs = errors(&config_with(&format!("{default}\n  server s 127.0.0.1:1")));
                    assert!(errs.is_empty(), "{default}: {errs:?}");
                    if s.needs_check {
                        let line = format!("server s 127.0.0.1:1 {name} {}", s.example);
                        let errs = errors(&config_with(&line));
                        assert!(
                            errs.iter().any(|e| e.contains("has no 'check'")),
                            "{line}: {errs:?}"
                        );
                    }
                    if s.value.is_some() {
                        let line = format!("server s 127.0.0.1:1 check {name}");
                        let errs = errors(&config_with(&line));
                        let want = format!("server option '{name}' needs a value");
                        assert!(errs.contains(&want), "{line}: {errs:?}");
                    }
                }
                Handler::Refused(why) => {
                    let errs = errors(&config_with(&format!("server s 127.0.0.1:1 {name}")));
                    let want = refusal(&format!("server option '{name}'"), why);
                    assert!(errs.contains(&want), "{name}: {errs:?}");
                }
            }
        }
    }

    #[test]
    fn misses_get_a_suggestion() {
        let errs = errors(&config_with("server s 127.0.0.1:1 wieght 3"));
        assert!(
            errs.iter()
                .any(|e| e == "unknown server option 'wieght'; did you mean 'weight'?"),
            "{errs:?}"
        );
    }
}
