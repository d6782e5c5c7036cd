//! `stats ...` lines of a proxy (the stats page) and `monitor-uri`, as HAProxy 2.6 reads them:
//! any `stats` line enables the page with HAProxy's defaults (uri `/haproxy?stats`, realm
//! `HAProxy Statistics`), and a `defaults` section's settings are inherited.

use super::draft::{GlobalDraft, ProxyDraft};
use super::keywords::Cx;
use super::model::StatsPage;

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
