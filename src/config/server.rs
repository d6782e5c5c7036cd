//! `server` and `default-server` lines.

use super::draft::{ProxyDraft, ServerOpts};
use super::keywords::Cx;
use super::model::{OnError, Server};
use super::{addr, suggest};
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

/// HAProxy's largest server weight.
const MAX_WEIGHT: u32 = 256;
/// Check intervals outside these bounds are typing mistakes (a unit forgotten or doubled):
/// HAProxy's timers tick in milliseconds, and a day between checks is no health check.
const MIN_INTER: Duration = Duration::from_millis(1);
const MAX_INTER: Duration = Duration::from_secs(24 * 3600);
/// Options that only mean something with `check`.
const CHECK_ONLY: &[&str] = &[
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "observe",
    "error-limit",
    "on-error",
];

const OPTIONS: &[&str] = &[
    "weight",
    "maxconn",
    "backup",
    "disabled",
    "enabled",
    "check",
    "no-check",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "port",
    "addr",
    "slowstart",
    "observe",
    "error-limit",
    "on-error",
    "pool-purge-delay",
    "pool-max-conn",
    "pool-low-conn",
];
const TLS_OPTIONS: &[&str] = &[
    "ssl",
    "check-ssl",
    "verify",
    "verifyhost",
    "ca-file",
    "crt",
    "sni",
    "alpn",
    "check-sni",
    "check-alpn",
    "ciphers",
    "ciphersuites",
    "no-ssl-reuse",
    "ssl-min-ver",
    "ssl-max-ver",
    "force-tlsv12",
    "force-tlsv13",
    "no-sslv3",
];
const UNSUPPORTED: &[&str] = &[
    "cookie",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "resolvers",
    "resolve-prefer",
    "init-addr",
    "on-marked-down",
    "on-marked-up",
    "agent-check",
    "agent-port",
    "agent-inter",
    "agent-addr",
    "agent-send",
    "track",
    "redir",
    "id",
    "source",
    "maxqueue",
    "minconn",
    "proto",
    "check-send-proxy",
    "tfo",
    "namespace",
    "no-backup",
    "max-reuse",
    "tcp-ut",
    "check-proto",
    "socks4",
    "proxy-v2-options",
    "ws",
    "shard",
    "log-proto",
    "non-stick",
    "stick",
];

pub fn default_server(p: &mut ProxyDraft, cx: &mut Cx) {
    let mut opts = p.default_server.clone();
    if parse_opts(&mut opts, cx.args, cx) {
        p.default_server = opts;
    }
}

pub fn server(p: &mut ProxyDraft, cx: &mut Cx) {
    let [name, address, rest @ ..] = cx.args else {
        return cx
            .err("'server' needs a name and an address, e.g. 'server web1 127.0.0.1:9001 check'");
    };
    let mut ok = true;
    if let Some(first) = p.servers.iter().find(|s| s.name == *name) {
        cx.err(format!(
            "duplicate server name '{name}' in backend '{}' (first defined at {}); give each server its own name",
            p.name, first.loc
        ));
        ok = false;
    }
    let mut opts = p.default_server.clone();
    ok &= parse_opts(&mut opts, rest, cx);
    ok &= check_options_need_check(&opts, rest, cx);
    let addr = match addr::parse_server(address) {
        Ok(a) => a,
        Err(e) => return cx.err(format!("server '{name}': {e}")),
    };
    if ok {
        p.servers.push(Server {
            name: name.clone(),
            loc: cx.loc.clone(),
            addr,
            weight: opts.weight,
            maxconn: opts.maxconn,
            backup: opts.backup,
            disabled: opts.disabled,
            check: opts.check(),
            slowstart: opts.slowstart,
            pool: opts.pool,
        });
    }
}

/// Applies server options; returns false after reporting an error.
fn parse_opts(o: &mut ServerOpts, args: &[String], cx: &mut Cx) -> bool {
    let mut i = 0;
    while let Some(w) = args.get(i) {
        let val = args.get(i + 1).map(String::as_str);
        let takes_value = matches!(
            w.as_str(),
            "weight"
                | "maxconn"
                | "inter"
                | "fastinter"
                | "downinter"
                | "rise"
                | "fall"
                | "port"
                | "addr"
                | "slowstart"
                | "observe"
                | "error-limit"
                | "on-error"
                | "pool-purge-delay"
                | "pool-max-conn"
                | "pool-low-conn"
        );
        if takes_value && val.is_none() {
            cx.err(format!("server option '{w}' needs a value"));
            return false;
        }
        let v = val.unwrap_or("");
        let r: Result<(), String> = match w.as_str() {
            "weight" => num(v, w).and_then(|n| {
                if n > MAX_WEIGHT {
                    Err(format!("server option 'weight {n}': must be between 0 and {MAX_WEIGHT}"))
                } else {
                    o.weight = n;
                    Ok(())
                }
            }),
            "maxconn" => num(v, w).map(|n| o.maxconn = (n > 0).then_some(n)),
            "backup" => {
                o.backup = true;
                Ok(())
            }
            "disabled" => {
                o.disabled = true;
                Ok(())
            }
            "enabled" => {
                o.disabled = false;
                Ok(())
            }
            "check" => {
                o.check = true;
                Ok(())
            }
            "no-check" => {
                o.check = false;
                Ok(())
            }
            "inter" | "fastinter" | "downinter" => super::duration::parse(v)
                .map_err(|e| format!("server option '{w}': {e}"))
                .and_then(|d| {
                    if d.is_zero() {
                        return Err(format!("server option '{w}' must be above 0"));
                    }
                    if !(MIN_INTER..=MAX_INTER).contains(&d) {
                        return Err(format!("server option '{w} {v}': a check interval must be between 1ms and 24h"));
                    }
                    match w.as_str() {
                        "inter" => o.inter = Some(d),
                        "fastinter" => o.fastinter = Some(d),
                        _ => o.downinter = Some(d),
                    }
                    Ok(())
                }),
            "rise" | "fall" => num(v, w).and_then(|n| {
                if n == 0 {
                    return Err(format!("server option '{w}' must be at least 1"));
                }
                if w == "rise" {
                    o.rise = n;
                } else {
                    o.fall = n;
                }
                Ok(())
            }),
            "port" => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .map(|p| o.port = Some(p))
                .ok_or_else(|| format!("server option 'port {v}': expected a port between 1 and 65535")),
            "addr" => resolve_ip(v).map(|a| o.addr = Some(a)).map_err(|e| format!("server option 'addr': {e}")),
            "slowstart" => super::duration::parse(v)
                .map(|d| o.slowstart = (!d.is_zero()).then_some(d))
                .map_err(|e| format!("server option 'slowstart': {e}")),
            "observe" => match v {
                "layer4" | "layer7" | "none" => {
                    o.observe = (v != "none").then_some(v == "layer7");
                    Ok(())
                }
                _ => Err(format!("server option 'observe {v}': expected layer4, layer7 or none")),
            },
            "error-limit" => num(v, w).and_then(|n| {
                if n == 0 {
                    return Err("server option 'error-limit' must be at least 1".into());
                }
                o.error_limit = Some(n);
                Ok(())
            }),
            "on-error" => on_error(v).map(|m| o.on_error = Some(m)),
            "pool-purge-delay" => super::duration::parse(v)
                .map(|d| o.pool.purge_delay = d)
                .map_err(|e| format!("server option 'pool-purge-delay': {e}")),
            "pool-max-conn" => pool_max_conn(v).map(|m| o.pool.max_conn = m),
            "pool-low-conn" => num(v, w).map(|n| o.pool.low_conn = n),
            t if TLS_OPTIONS.contains(&t) => Err(format!(
                "server option '{t}': TLS to servers is not supported yet; remove it and connect to the server in clear"
            )),
            u if UNSUPPORTED.contains(&u) => Err(format!("server option '{u}' is not supported by ringlb yet; remove it")),
            u => {
                let hint = suggest::hint(u, OPTIONS.iter().chain(TLS_OPTIONS).chain(UNSUPPORTED).copied());
                Err(format!("unknown server option '{u}'{hint}"))
            }
        };
        if let Err(e) = r {
            // One error per line: after an unknown option, the next words cannot be trusted.
            cx.err(e);
            return false;
        }
        i += if takes_value { 2 } else { 1 };
    }
    true
}

fn num(v: &str, what: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .map_err(|_| format!("server option '{what} {v}': '{v}' is not a valid number"))
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

/// Health-check options written on a server line without `check` (here or inherited) would
/// silently do nothing: a missing `check` is the likelier mistake, so say so.
fn check_options_need_check(o: &ServerOpts, written: &[String], cx: &mut Cx) -> bool {
    if o.check {
        return true;
    }
    let Some(opt) = written.iter().find(|w| CHECK_ONLY.contains(&w.as_str())) else {
        return true;
    };
    cx.err(format!(
        "server option '{opt}' configures health checks but this server has no 'check'; add 'check' (or remove '{opt}')"
    ));
    false
}
