//! `stats ...` lines of a proxy (the stats page) and `monitor-uri`, as HAProxy 2.6 reads them:
//! any `stats` line enables the page with HAProxy's defaults (uri `/haproxy?stats`, realm
//! `HAProxy Statistics`), and a `defaults` section's settings are inherited.

use super::draft::{GlobalDraft, ProxyDraft};
use super::keywords::Cx;
use super::model::{ApiAddr, ApiLevel, StatsPage, StatsSocket};

/// HAProxy's default `stats uri`.
pub const DEFAULT_URI: &str = "/haproxy?stats";
/// HAProxy's default `stats realm`.
pub const DEFAULT_REALM: &str = "HAProxy Statistics";

fn page(p: &mut ProxyDraft) -> &mut StatsPage {
    p.stats.get_or_insert_with(|| StatsPage {
        uri: DEFAULT_URI.into(),
        realm: DEFAULT_REALM.into(),
        users: Vec::new(),
        refresh: None,
        hide_version: false,
        show_legends: false,
        show_node: None,
        show_desc: None,
        scope: Vec::new(),
    })
}

pub fn enable(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        page(p);
    }
}

pub fn uri(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(u) = cx.one("a URI prefix, e.g. 'stats uri /stats'") {
        if !u.starts_with('/') {
            return cx.err(format!("'stats uri {u}': the URI must start with '/'"));
        }
        page(p).uri = u.to_string();
    }
}

pub fn realm(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.args.is_empty() {
        return cx.err("'stats realm' needs a realm, e.g. 'stats realm Haproxy\\ Statistics'");
    }
    // HAProxy takes the realm as one word (spaces escaped with '\'); several words are
    // joined, as a realm with spaces is what was meant.
    page(p).realm = cx.args.join(" ");
}

pub fn auth(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("USER:PASSWORD, e.g. 'stats auth admin:secret'") else {
        return;
    };
    match a.split_once(':') {
        Some((user, pass)) if !user.is_empty() => {
            page(p).users.push((user.to_string(), pass.to_string()));
        }
        _ => cx.err(format!(
            "'stats auth {a}': expected USER:PASSWORD, e.g. 'stats auth admin:secret'"
        )),
    }
}

pub fn refresh(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(d) = cx.one("a delay, e.g. 'stats refresh 10s'") else {
        return;
    };
    if let Some(d) = cx.duration(d) {
        page(p).refresh = Some(d);
    }
}

pub fn hide_version(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        page(p).hide_version = true;
    }
}

pub fn show_legends(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        page(p).show_legends = true;
    }
}

/// `stats show-node [NAME]`: without a name, the node's (the global `node`, else the host).
pub fn show_node(p: &mut ProxyDraft, cx: &mut Cx) {
    match cx.args {
        [] => page(p).show_node = Some(String::new()),
        [n] => page(p).show_node = Some(n.clone()),
        _ => cx.err("'stats show-node' takes at most a name"),
    }
}

pub fn show_desc(p: &mut ProxyDraft, cx: &mut Cx) {
    let desc = cx.args.join(" ");
    page(p).show_desc = Some(desc);
}

/// `stats scope NAME`: only these proxies on the page; `.` is the proxy itself.
pub fn scope(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(s) = cx.one("a proxy name, or '.' for this one") else {
        return;
    };
    let name = if s == "." {
        p.name.clone()
    } else {
        s.to_string()
    };
    page(p).scope.push(name);
}

/// `monitor-uri URI`: answered 200 by ringlb itself, never forwarded.
pub fn monitor_uri(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(u) = cx.one("a URI, e.g. 'monitor-uri /healthz'") {
        if !u.starts_with('/') {
            return cx.err(format!("'monitor-uri {u}': the URI must start with '/'"));
        }
        p.monitor_uri = Some(u.to_string());
    }
}

/// Global `node NAME`.
pub fn node(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = cx.one("a node name, e.g. 'node lb1'") {
        g.node = Some(n.to_string());
    }
}

/// Global `description TEXT...`.
pub fn description(g: &mut GlobalDraft, cx: &mut Cx) {
    if cx.args.is_empty() {
        return cx.err("'description' needs a text");
    }
    g.description = Some(cx.args.join(" "));
}

/// Global `stats socket ADDR [mode OCTAL] [level user|operator|admin] [expose-fd listeners]`:
/// the runtime API (`expose-fd listeners`: a reload with `-x` may take the listening sockets).
/// ADDR is a path (`unix@` optional) or `ipv4@IP:PORT` / `ipv6@[IP]:PORT` / `IP:PORT`.
pub fn socket(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some((first, params)) = cx.args.split_first() else {
        return cx.err("'stats socket' needs a path or an address, e.g. 'stats socket /run/ringlb.sock mode 660 level admin'");
    };
    let Some(addr) = api_addr(first, cx) else {
        return;
    };
    let mut sock = StatsSocket {
        addr,
        mode: None,
        level: ApiLevel::Operator,
        expose_fd: false,
        internal: false,
        loc: cx.loc.clone(),
    };
    let mut rest = params.iter();
    while let Some(p) = rest.next() {
        let value = rest.clone().next().map(String::as_str);
        match (p.as_str(), value) {
            ("mode", Some(v)) => match u32::from_str_radix(v, 8) {
                Ok(m) if m <= 0o7777 => sock.mode = Some(m),
                _ => return cx.err(format!("'stats socket ... mode {v}': expected an octal mode such as 660")),
            },
            ("level", Some(v)) => {
                sock.level = match v {
                    "user" => ApiLevel::User,
                    "operator" => ApiLevel::Operator,
                    "admin" => ApiLevel::Admin,
                    _ => {
                        let hint = super::suggest::hint(v, ["user", "operator", "admin"]);
                        return cx.err(format!("'stats socket ... level {v}': unknown level{hint}; use user, operator or admin"));
                    }
                }
            }
            ("mode" | "level", None) => return cx.err(format!("'stats socket ... {p}' needs a value")),
            ("expose-fd", Some("listeners")) => sock.expose_fd = true,
            ("expose-fd", v) => return cx.err(format!("'stats socket ... expose-fd {}': only 'expose-fd listeners' exists", v.unwrap_or(""))),
            (other, _) => return cx.err(format!("'stats socket ... {other}' is not supported yet (supported: mode, level, expose-fd listeners)")),
        }
        rest.next();
    }
    g.stats_sockets.push(sock);
}

fn api_addr(text: &str, cx: &mut Cx) -> Option<ApiAddr> {
    let text = text.strip_prefix("unix@").unwrap_or(text);
    if text.starts_with('/') || text.starts_with('.') {
        return Some(ApiAddr::Unix(text.into()));
    }
    let bare = text
        .strip_prefix("ipv4@")
        .or_else(|| text.strip_prefix("ipv6@"))
        .unwrap_or(text);
    match bare.parse::<std::net::SocketAddr>() {
        Ok(a) => Some(ApiAddr::Tcp(a)),
        Err(_) => {
            cx.err(format!("'stats socket {text}': expected a path (/run/ringlb.sock) or IP:PORT (ipv4@127.0.0.1:9999)"));
            None
        }
    }
}

/// Global `stats timeout DELAY`.
pub fn timeout(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(d) = cx.one("a delay, e.g. 'stats timeout 30s'") {
        g.stats_timeout = cx.duration(d);
    }
}

/// Global `stats maxconn N`.
pub fn maxconn(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(n) = cx.one("a number of connections") {
        g.stats_maxconn = cx.number("the connection count", n);
    }
}

/// Global `chroot DIR`: must exist now (HAProxy refuses to start otherwise).
pub fn chroot(g: &mut GlobalDraft, cx: &mut Cx) {
    if let Some(d) = cx.one("a directory, e.g. 'chroot /var/lib/haproxy'") {
        if !std::path::Path::new(d).is_dir() {
            cx.warn(format!("'chroot {d}': no such directory now; ringlb will fail to start unless it exists then"));
        }
        g.chroot = Some(d.into());
    }
}
