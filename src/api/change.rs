//! The commands that change servers (state, weight, health checks on or off, address,
//! maxconn), with HAProxy 2.6's replies. A change is sent to the checker thread (the one
//! owner of every server's state), which broadcasts it to every core as it does health
//! transitions: no core is ever locked or waited for.

use super::{addr, Api};
use crate::config::model::{ApiLevel, BackendId, Server, ServerId};
use crate::health::admin::{parse_weight, AdminCmd, AdminState, Change, ServerCmd};
use crate::health::table::live_servers;

/// `disable|enable server B/S`, `set server B/S state|weight ...`, `set weight B/S N`.
/// `None` when the words are not one of these commands.
pub fn run(api: &Api, level: ApiLevel, words: &[&str]) -> Option<String> {
    let (target, change) = match words {
        ["disable", "server", rest @ ..] => (rest.first(), Ok(Some(Change::State(AdminState::Maint)))),
        ["enable", "server", rest @ ..] => (rest.first(), Ok(Some(Change::State(AdminState::Ready)))),
        ["disable", "health", rest @ ..] => (rest.first(), Ok(Some(Change::Health(false)))),
        ["enable", "health", rest @ ..] => {
            let checked = find(api, rest.first().copied())
                .ok()
                .and_then(|(b, s)| server_cfg(api, b, s))
                .is_some_and(|s| s.check.is_some() && !s.disabled);
            let change = if checked || rest.is_empty() {
                Ok(Some(Change::Health(true)))
            } else if find(api, rest.first().copied()).is_ok() {
                Err("Health check was not configured on this server, cannot enable.\n".to_string())
            } else {
                Ok(None)
            };
            (rest.first(), change)
        }
        ["set", "weight", t, w] => (Some(t), weight(api, t, w)),
        ["set", "weight", rest @ ..] => (rest.first(), Err("Require <backend>/<server> and <weight> or <weight%>.\n".to_string())),
        ["set", "server", t, "state", s] => (Some(t), state(s)),
        ["set", "server", t, "weight", w] => (Some(t), weight(api, t, w)),
        ["set", "server", t, "addr", rest @ ..] => return Some(set_addr(api, level, t, rest)),
        ["set", "server", t, what @ ("check-addr" | "check-port"), rest @ ..] => {
            return Some(set_check(api, level, t, what, rest))
        }
        ["set", "maxconn", "server", rest @ ..] => return Some(set_maxconn(api, level, rest)),
        ["shutdown", "sessions", "server", rest @ ..] => {
            return Some(match admin_target(api, level, rest.first().copied()) {
                Ok((backend, server)) => send_server(api, backend, server, Change::Shutdown),
                Err(e) => e,
            })
        }
        ["set", "server", t, what, ..] if ["agent", "agent-addr", "agent-port", "agent-send", "fqdn", "health", "ssl"].contains(what) => {
            let _ = t;
            return Some(format!("'set server ... {what}' is not supported yet by ringlb (addr, check-addr, check-port, state and weight are).\n"));
        }
        ["set", "server", ..] => return Some("usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n".into()),
        _ => return None,
    };
    if level < ApiLevel::Admin {
        return Some("Permission denied\n".into());
    }
    let (backend, server) = match find(api, target.copied()) {
        Ok(ids) => ids,
        Err(e) => return Some(e.into()),
    };
    let change = match change {
        Ok(Some(c)) => c,
        Ok(None) => return Some(String::new()),
        Err(e) => return Some(e),
    };
    Some(send_server(api, backend, server, change))
}

/// Sends a server change to the checker; the reply when all went well is empty.
fn send_server(api: &Api, backend: BackendId, server: ServerId, change: Change) -> String {
    let cmd = AdminCmd::Server(ServerCmd {
        backend,
        server,
        change,
    });
    super::send(api, cmd).err().unwrap_or_default()
}

/// The server a command at admin level names, or HAProxy's reply why not.
fn admin_target(
    api: &Api,
    level: ApiLevel,
    target: Option<&str>,
) -> Result<(BackendId, ServerId), String> {
    if level < ApiLevel::Admin {
        return Err("Permission denied\n".into());
    }
    find(api, target).map_err(String::from)
}

/// `set server B/S addr IP [port P]`. The reply is worked out and the reports' copy of the
/// address changed under the same lock, so that two commands in a row see each other.
fn set_addr(api: &Api, level: ApiLevel, target: &str, rest: &[&str]) -> String {
    let (b, s) = match admin_target(api, level, Some(target)) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let Some(ip) = rest.first() else {
        return "set server <b>/<s> addr requires an address and optionally a port.\n".into();
    };
    let port = match rest.get(1) {
        Some(&"port") => Some(rest.get(2).copied().unwrap_or("")),
        _ => None,
    };
    // Under the table's lock: the reply, the reports' copy and the message to the checker
    // (an unbounded send, which never waits) in one step, so that two clients' changes reach
    // the cores in the order the reports show them.
    let done = api.stats.checks.update_with(b, s, |st| {
        let (reply, new) = addr::update(st.addr, ip, port, st.check_port.is_some());
        match new {
            Some(n) => {
                st.addr = n;
                send_server(api, b, s, Change::Addr(n)) + &reply
            }
            None => reply,
        }
    });
    done.unwrap_or_else(|| "No such server.\n".into())
}

/// `set server B/S check-addr IP [port P]`, `set server B/S check-port P`: where the
/// server's probes go. All or nothing, and HAProxy's words (its srv_update_check_addr_port,
/// whose errors end without a newline).
fn set_check(api: &Api, level: ApiLevel, target: &str, what: &str, rest: &[&str]) -> String {
    let (b, s) = match admin_target(api, level, Some(target)) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let (ip, port) = match (what, rest) {
        ("check-addr", [ip, "port", p, ..]) => (Some(*ip), Some(*p)),
        ("check-addr", [ip, "port"]) => (Some(*ip), Some("")),
        ("check-addr", [ip, ..]) => (Some(*ip), None),
        ("check-addr", []) => {
            return "set server <b>/<s> check-addr requires an address and optionally a port.\n"
                .into()
        }
        (_, [p, ..]) => (None, Some(*p)),
        (_, []) => return "set server <b>/<s> check-port requires a port.\n".into(),
    };
    let checked = server_cfg(api, b, s).is_some_and(|srv| srv.check.is_some() && !srv.disabled);
    if !checked {
        return "health checks are not enabled on this server".into();
    }
    let ip = match ip.map(str::parse::<std::net::IpAddr>) {
        Some(Err(_)) => return format!("invalid addr '{}'", ip.unwrap_or_default()),
        Some(Ok(a)) => Some(a),
        None => None,
    };
    let port = match port.map(str::parse::<i64>) {
        Some(Err(_)) => return "provided port is not an integer".into(),
        Some(Ok(p)) => match u16::try_from(p) {
            Ok(p) => Some(p),
            Err(_) => return "provided port is invalid".into(),
        },
        None => None,
    };
    // Reports' copy and message in one step, as for `addr`.
    let done = api.stats.checks.update_with(b, s, |st| {
        if ip.is_some() {
            st.check_addr = ip;
        }
        if let Some(p) = port {
            st.check_port = (p != 0).then_some(p);
        }
        send_server(api, b, s, Change::CheckTarget(ip, port))
    });
    done.unwrap_or_else(|| "No such server.\n".into())
}

/// `set maxconn server B/S N`: HAProxy's strtol, the value as an unsigned int (-1 is
/// 4294967295), 0 no limit. Its parse errors end without a newline, as HAProxy's do.
fn set_maxconn(api: &Api, level: ApiLevel, rest: &[&str]) -> String {
    let (b, s) = match admin_target(api, level, rest.first().copied()) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let Some(text) = rest.get(1) else {
        return "Require <maxconn>.\n".into();
    };
    let n = match addr::strtol(text) {
        None => return "maxconn string empty or preceded by garbage".into(),
        Some((_, tail)) if !tail.is_empty() => return "Trailing garbage in maxconn string".into(),
        Some((n, _)) => n as u32,
    };
    let max = (n != 0).then_some(n);
    // Reports' copy and message in one step, as for `addr`.
    let done = api.stats.checks.update_with(b, s, |st| {
        st.maxconn = max;
        send_server(api, b, s, Change::MaxConn(max))
    });
    done.unwrap_or_else(|| "No such server.\n".into())
}

fn state(s: &str) -> Result<Option<Change>, String> {
    match s {
        "ready" => Ok(Some(Change::State(AdminState::Ready))),
        "drain" => Ok(Some(Change::State(AdminState::Drain))),
        "maint" => Ok(Some(Change::State(AdminState::Maint))),
        _ => Err("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into()),
    }
}

fn weight(api: &Api, target: &str, w: &str) -> Result<Option<Change>, String> {
    let configured = find(api, Some(target))
        .ok()
        .and_then(|(b, s)| server_cfg(api, b, s))
        .map_or(1, |s| s.weight);
    if w.is_empty() || !w.trim_end_matches('%').bytes().all(|b| b.is_ascii_digit()) {
        // HAProxy's own words, and no empty line after them.
        return Err("Empty weight string empty or preceded by garbage".into());
    }
    parse_weight(w, configured)
        .map(|n| Some(Change::Weight(n)))
        .map_err(String::from)
}

/// `backend/server` to ids, with HAProxy's replies when it names nothing.
pub(super) fn find(api: &Api, target: Option<&str>) -> Result<(BackendId, ServerId), &'static str> {
    let Some((b, s)) = target.and_then(|t| t.split_once('/')) else {
        return Err("Require 'backend/server'.\n");
    };
    let m = &api.model;
    let bi = m
        .backends
        .iter()
        .position(|x| x.name == b)
        .ok_or("No such backend.\n")?;
    // The servers it has now: `add server` and `del server` change them.
    let states = api.stats.checks.read_backend(BackendId::new(bi));
    let (si, _, _) = live_servers(&m.backends[bi], Some(&states))
        .find(|(_, x, _)| x.name == s)
        .ok_or("No such server.\n")?;
    Ok((BackendId::new(bi), ServerId::new(si)))
}

/// A server's configuration: the model's, or that of a server `add server` added.
pub(super) fn server_cfg(api: &Api, b: BackendId, s: ServerId) -> Option<Server> {
    let states = api.stats.checks.read_backend(b);
    let be = api.model.backend(b)?;
    let found = live_servers(be, Some(&states))
        .find(|(si, _, _)| *si == s.index())
        .map(|(_, srv, _)| srv.clone());
    found
}
