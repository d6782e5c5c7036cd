//! Parse functions for defaults, frontend, backend and listen sections (servers: `server.rs`;
//! balance algorithms: `catalog::balance`). Functions serving several keyword rows (`timeout`,
//! `conn_mode`) name each row they know and report any other as an internal error.

use super::draft::{ProxyDraft, RuleDraft};
use super::files::{self, FileError};
use super::keywords::Cx;
use super::model::{Acl, Bind, CheckKind, ForwardFor, HttpCheck, HttpConnMode, HttpReuse, Mode};
use super::{addr, bind_tls, catalog, cond, suggest};
use std::path::Path;
use std::sync::Arc;

/// Status codes HAProxy 2.6 has error pages for (`http_err_codes`): the ones `errorfile`
/// accepts, and the only ones a `deny`/`tarpit` without payload or `default-errorfiles` may use.
pub(super) const ERRORFILE_CODES: [u16; 17] = [
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

pub fn mode(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("'http' or 'tcp'") else {
        return;
    };
    p.mode = match a {
        "http" => Some(Mode::Http),
        "tcp" => Some(Mode::Tcp),
        "health" => return cx.err("'mode health' was removed from HAProxy 2.x and is not supported; use 'mode http' or 'mode tcp'"),
        _ => {
            let hint = suggest::hint(a, ["http", "tcp"]);
            return cx.err(format!("'mode {a}': expected 'http' or 'tcp'{hint}"));
        }
    };
}

pub fn bind(p: &mut ProxyDraft, cx: &mut Cx) {
    let [address, opts @ ..] = cx.args else {
        return cx.err("'bind' needs an address, e.g. 'bind *:80' or 'bind 127.0.0.1:8080'");
    };
    // Options first, then the address: both are reported when both are wrong.
    let (proto, opts) = bind_tls::take_proto(opts, cx);
    let (accept_proxy, opts) = bind_tls::take_flag(opts, "accept-proxy");
    let tls = bind_tls::parse_options(&opts, cx);
    match addr::parse_bind(address) {
        Ok(addrs) => {
            if let (Ok(tls), Ok(proto)) = (tls, proto) {
                p.binds.extend(addrs.into_iter().map(|addr| Bind {
                    addr,
                    loc: cx.loc.clone(),
                    tls: tls.clone(),
                    proto,
                    accept_proxy,
                }))
            }
        }
        Err(e) => cx.err(format!("bind: {e}")),
    }
}

pub fn default_backend(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("a backend name") {
        p.default_backend = Some((a.to_string(), cx.loc.clone()));
    }
}

pub fn use_backend(p: &mut ProxyDraft, cx: &mut Cx) {
    let [name, rest @ ..] = cx.args else {
        return cx.err("'use_backend' needs a backend name, e.g. 'use_backend api if is_api'");
    };
    if name.contains("%[") {
        return cx.err("dynamic backend names ('%[...]') are not supported by ringlb yet; write one use_backend per backend");
    }
    let cond = if rest.is_empty() {
        None
    } else {
        match cond::parse_condition(rest, &mut p.acls, &p.env) {
            Ok(c) => Some(c),
            Err(e) => return cx.err(format!("use_backend {name}: {e}")),
        }
    };
    // Anonymous ACLs just pushed need a location entry too.
    while p.acl_locs.len() < p.acls.len() {
        p.acl_locs.push(cx.loc.clone());
    }
    p.switching.push(RuleDraft {
        backend: name.clone(),
        cond,
        loc: cx.loc.clone(),
    });
}

/// `option http-buffer-request` and `no option http-buffer-request`: frontends wait for the
/// request body before their rules.
pub fn buffer_request(p: &mut ProxyDraft, cx: &mut Cx) {
    if !cx.none() {
        return;
    }
    if cx.in_backend_only() {
        return cx.err(format!(
            "'{}' in a backend section is not supported yet: set it in the frontend (or defaults), where ringlb waits for the body before any rule",
            cx.kw
        ));
    }
    p.buffer_request = !cx.kw.starts_with("no ");
}

/// `option abortonclose` and `no option abortonclose`. In mode http ringlb serves a queued
/// request whose client closed, as HAProxy 2.6 does with the option too (measured: a request
/// already complete is kept whether the client half-closed, closed or reset); mode tcp
/// backends, where HAProxy does abort, refuse it at validation.
pub fn abortonclose(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.abortonclose = (!cx.kw.starts_with("no ")).then(|| cx.loc.clone());
    }
}

/// `option logasap` and `no option logasap`.
pub fn logasap(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.logasap = (!cx.kw.starts_with("no ")).then(|| cx.loc.clone());
    }
}

/// `use-server NAME if|unless COND`: the server is resolved once the section is read.
pub fn use_server(p: &mut ProxyDraft, cx: &mut Cx) {
    let [name, rest @ ..] = cx.args else {
        return cx.err(
            "'use-server' needs a server name and a condition, e.g. 'use-server s1 if is_api'",
        );
    };
    if name.contains('%') {
        return cx.err("'use-server' with a log-format server name is not supported yet; write one use-server line per server");
    }
    if !matches!(rest.first().map(String::as_str), Some("if" | "unless")) {
        return cx.err("'use-server' requires either 'if' or 'unless' followed by a condition");
    }
    let cond = match cond::parse_condition(rest, &mut p.acls, &p.env) {
        Ok(c) => c,
        Err(e) => return cx.err(format!("use-server {name}: {e}")),
    };
    while p.acl_locs.len() < p.acls.len() {
        p.acl_locs.push(cx.loc.clone());
    }
    p.use_server.push(super::draft::UseServerDraft {
        server: name.clone(),
        cond,
        loc: cx.loc.clone(),
    });
}

pub fn acl(p: &mut ProxyDraft, cx: &mut Cx) {
    let [name, rest @ ..] = cx.args else {
        return cx.err("'acl' needs a name and a test, e.g. 'acl is_api path_beg /api'");
    };
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.:".contains(*c)))
    {
        return cx.err(format!("acl name '{name}' contains '{bad}'; ACL names use letters, digits, '-', '_', '.' and ':'"));
    }
    let m = match cond::parse_matcher(rest, &p.env) {
        Ok(m) => m,
        Err(e) => return cx.err(format!("acl '{name}': {e}")),
    };
    match p.acls.iter_mut().find(|a| a.name == *name) {
        // Same-name lines OR together, as in HAProxy.
        Some(a) => a.matchers.push(m),
        None => {
            p.acls.push(Acl {
                name: name.clone(),
                matchers: vec![m],
            });
            p.acl_locs.push(cx.loc.clone());
        }
    }
}

/// `balance ALGO [OPTIONS]`: the algorithm's row in `catalog::balance` parses it.
pub fn balance(p: &mut ProxyDraft, cx: &mut Cx) {
    match catalog::balance::parse(cx.args) {
        Ok(b) => p.balance = Some(b),
        Err(e) => cx.err(e),
    }
}

pub fn timeout(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a time, e.g. 5s") else {
        return;
    };
    let Some(d) = cx.duration(a) else { return };
    // A zero timeout means "none", as in HAProxy.
    let v = (!d.is_zero()).then_some(d);
    let t = &mut p.timeouts;
    match cx.kw {
        "timeout connect" => t.connect = v,
        "timeout client" => t.client = v,
        "timeout server" => t.server = v,
        "timeout http-request" => t.http_request = v,
        "timeout http-keep-alive" => t.http_keep_alive = v,
        "timeout queue" => t.queue = v,
        "timeout tunnel" => t.tunnel = v,
        "timeout tarpit" => t.tarpit = v,
        "timeout check" => t.check = v,
        // Only the rows above name this function: another one is a table bug, said rather
        // than silently setting some other timeout.
        other => cx.err(format!("internal error: keyword '{other}' sets no timeout")),
    }
}

pub fn maxconn(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a number of connections") else {
        return;
    };
    match cx.number::<u32>("connection count", a) {
        Some(0) => cx.err("'maxconn' must be at least 1"),
        Some(n) => p.maxconn = Some(n),
        None => {}
    }
}

pub fn retries(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(a) = cx.one("a number of retries") {
        if let Some(n) = cx.number::<u32>("retry count", a) {
            p.retries = Some(n);
        }
    }
}

/// `[no] option log-health-checks`: every check result that changes something is logged,
/// not only the server's state changes (health/checker.rs).
pub fn log_health_checks(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.log_health_checks = !cx.kw.starts_with("no ");
    }
}

pub fn redispatch(p: &mut ProxyDraft, cx: &mut Cx) {
    match cx.args {
        [] => p.redispatch = true,
        [n] if n.parse::<i32>().is_ok() => p.redispatch = true,
        _ => cx.err("'option redispatch' takes at most one number (the retry interval)"),
    }
}

pub fn conn_mode(p: &mut ProxyDraft, cx: &mut Cx) {
    if !cx.none() {
        return;
    }
    p.conn_mode = Some(match cx.kw {
        "option http-server-close" => HttpConnMode::ServerClose,
        "option httpclose" => HttpConnMode::Close,
        "option http-keep-alive" => HttpConnMode::KeepAlive,
        // As in `timeout`: a row naming this function for another option is a table bug.
        other => {
            return cx.err(format!(
                "internal error: keyword '{other}' sets no connection mode"
            ))
        }
    });
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
pub fn forwardfor(p: &mut ProxyDraft, cx: &mut Cx) {
    let mut ff = ForwardFor {
        header: "x-forwarded-for".into(),
        except: None,
        if_none: false,
    };
    let mut i = 0;
    while let Some(w) = cx.args.get(i) {
        let val = cx.args.get(i + 1).map(String::as_str);
        match (w.as_str(), val) {
            ("if-none", _) => {
                ff.if_none = true;
                i += 1;
                continue;
            }
            ("except", Some(v)) => match addr::parse_cidr(v) {
                Ok(c) => ff.except = Some(c),
                Err(e) => return cx.err(format!("'option forwardfor except': {e}")),
            },
            ("header", Some(v)) if !v.is_empty() => ff.header = v.to_ascii_lowercase(),
            ("except" | "header", _) => {
                return cx.err(format!("'option forwardfor {w}' needs a value"))
            }
            (o, _) => {
                let hint = suggest::hint(o, ["except", "header", "if-none"]);
                return cx.err(format!("'option forwardfor': unknown argument '{o}'{hint}"));
            }
        }
        i += 2;
    }
    p.forwardfor = Some(ff);
}

pub fn http_reuse(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("never, safe, aggressive or always") else {
        return;
    };
    p.http_reuse = Some(match a {
        "never" => HttpReuse::Never,
        "safe" => HttpReuse::Safe,
        "aggressive" => HttpReuse::Aggressive,
        "always" => HttpReuse::Always,
        _ => {
            let hint = suggest::hint(a, ["never", "safe", "aggressive", "always"]);
            return cx.err(format!(
                "'http-reuse {a}': expected never, safe, aggressive or always{hint}"
            ));
        }
    });
}

/// `errorfile CODE FILE`: read now; relative paths are relative to the current directory, as
/// in HAProxy. The page is answered from one buffer, so it may not exceed `tune.bufsize`
/// (HAProxy truncates a larger file, then refuses the truncated page).
pub fn errorfile(p: &mut ProxyDraft, cx: &mut Cx) {
    let [code, file] = cx.args else {
        return cx.err(
            "'errorfile' needs a status code and a file, e.g. 'errorfile 503 /etc/ringlb/503.http'",
        );
    };
    let Some(code) = code
        .parse::<u16>()
        .ok()
        .filter(|c| ERRORFILE_CODES.contains(c))
    else {
        let codes: Vec<String> = ERRORFILE_CODES.iter().map(u16::to_string).collect();
        return cx.err(format!(
            "'errorfile {code}': status code not allowed; use one of {}",
            codes.join(" ")
        ));
    };
    let bufsize = p.env.bufsize;
    // An empty page (HAProxy's `errorfile 408 /dev/null` idiom) means: close without a word.
    // /dev/null is the one device read as the empty file it stands for.
    let read = if file == "/dev/null" {
        Ok(Vec::new())
    } else {
        files::read_bounded(Path::new(file), bufsize as u64)
    };
    match read {
        Ok(bytes) if bytes.is_empty() || bytes.starts_with(b"HTTP/") => {
            p.errorfiles.insert(code, Arc::from(bytes));
        }
        Ok(_) => cx.err(format!(
            "errorfile '{file}' does not start with an HTTP status line; it must hold a complete response ('HTTP/1.0 {code} ...', headers, blank line, body)"
        )),
        Err(FileError::TooLarge(_)) => cx.err(format!(
            "errorfile '{file}' is larger than tune.bufsize ({bufsize} bytes); an error page must fit in one buffer, \
             as in HAProxy (shorten the page or raise tune.bufsize)"
        )),
        Err(e @ FileError::Missing) => cx.err(format!(
            "errorfile '{file}' {e} (relative paths are read from the current directory, as HAProxy does)"
        )),
        Err(e) => cx.err(format!("errorfile '{file}' {e}")),
    }
}

pub fn any_args(_: &mut ProxyDraft, _: &mut Cx) {}

/// `option httpchk [METHOD] [URI] [VERSION]`; one argument is the URI, as in HAProxy.
pub fn httpchk(p: &mut ProxyDraft, cx: &mut Cx) {
    let (method, uri, version) = match cx.args {
        [] => ("OPTIONS", "/", "HTTP/1.0"),
        [u] => ("OPTIONS", u.as_str(), "HTTP/1.0"),
        [m, u] => (m.as_str(), u.as_str(), "HTTP/1.0"),
        [m, u, v] => (m.as_str(), u.as_str(), v.as_str()),
        _ => return cx.err(
            "'option httpchk' takes at most METHOD URI VERSION, e.g. 'option httpchk GET /health'",
        ),
    };
    if !uri.starts_with('/') && uri != "*" {
        return cx.err(format!(
            "'option httpchk': the URI '{uri}' must start with '/'"
        ));
    }
    p.check.kind = CheckKind::Http;
    p.check.http = Some(HttpCheck {
        method: method.into(),
        uri: uri.into(),
        version: version.into(),
    });
}

#[cfg(test)]
mod tests {
    use super::super::keywords::{Status, TABLE};

    /// `timeout` and `conn_mode` serve several rows by name: each of those rows reaches its
    /// own field (a row they do not know is an "internal error", never another field).
    #[test]
    fn every_timeout_and_connection_mode_row_is_known_to_its_function() {
        let rows = TABLE.iter().filter(|k| {
            k.status == Status::Supported
                && (k.name.starts_with("timeout ")
                    || k.name.contains("close")
                    || k.name == "option http-keep-alive")
        });
        for k in rows {
            let arg = if k.name.starts_with("timeout ") {
                " 5s"
            } else {
                ""
            };
            let text = format!(
                "defaults\n  mode http\n  {}{arg}\nbackend b\n  server s 127.0.0.1:1\n",
                k.name
            );
            let loaded = super::super::load_str("t.cfg", &text);
            assert!(loaded.is_ok(), "{}: {:?}", k.name, loaded.err());
        }
    }
}
