//! The commands that change servers (state, weight, health checks on or off), with HAProxy 2.6's replies. A change is sent to the
//! checker thread (the one owner of every server's state), which broadcasts it to every core
//! as it does health transitions: no core is ever locked or waited for.

use super::Api;
use crate::config::model::{ApiLevel, BackendId, ServerId};
use crate::health::admin::{parse_weight, AdminCmd, AdminState, Change};

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
                .and_then(|(b, s)| api.model.server(b, s))
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
        ["set", "server", t, what, ..] if ["addr", "agent", "agent-addr", "agent-port", "agent-send", "check-addr", "check-port", "fqdn", "health", "ssl"].contains(what) => {
            let _ = t;
            return Some(format!("'set server ... {what}' is not supported yet by ringlb (state and weight are).\n"));
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
    let Some(tx) = &api.admin else {
        return Some("Internal error: the server state keeper is not running.\n".into());
    };
    let _ = tx.send(AdminCmd {
        backend,
        server,
        change,
    });
    Some(String::new())
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
        .and_then(|(b, s)| api.model.server(b, s))
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
fn find(api: &Api, target: Option<&str>) -> Result<(BackendId, ServerId), &'static str> {
    let Some((b, s)) = target.and_then(|t| t.split_once('/')) else {
        return Err("Require 'backend/server'.\n");
    };
    let m = &api.model;
    let bi = m
        .backends
        .iter()
        .position(|x| x.name == b)
        .ok_or("No such backend.\n")?;
    let si = m.backends[bi]
        .servers
        .iter()
        .position(|x| x.name == s)
        .ok_or("No such server.\n")?;
    Ok((BackendId::new(bi), ServerId::new(si)))
}
