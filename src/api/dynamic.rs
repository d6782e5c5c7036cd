//! `add server B/S ADDR [options]` and `del server B/S`, with HAProxy 2.6's replies. What
//! can be told from the command alone is answered here; the rest (the name free, a slot
//! left; maintenance and no request in flight for a delete) by the checker thread, the one
//! owner of every server's state, whose answer is the reply: the change is made when it
//! comes (every core learns of it on its next tick, before any request can pick the server,
//! which starts in maintenance).

use super::{Api, CORE_WAIT};
use crate::config::model::{ApiLevel, BackendId};
use crate::health::admin::AdminCmd;
use crate::tls::client_config::ClientTls;

/// `None` when the words are not one of these commands.
pub fn run(api: &Api, level: ApiLevel, words: &[&str]) -> Option<String> {
    let rest = match words {
        ["add", "server", rest @ ..] | ["del", "server", rest @ ..] => rest,
        _ => return None,
    };
    if level < ApiLevel::Admin {
        return Some("Permission denied\n".into());
    }
    Some(if words[0] == "add" {
        add(api, rest)
    } else {
        del(api, rest)
    })
}

fn add(api: &Api, rest: &[&str]) -> String {
    let Some((b, name)) = rest.first().and_then(|t| t.split_once('/')) else {
        return "Require 'backend/server'.".into();
    };
    let Some(bi) = api.model.backends.iter().position(|x| x.name == b) else {
        return "No such backend.".into();
    };
    let be = &api.model.backends[bi];
    if !be.balance.is_dynamic() {
        return "Backend must use a dynamic load balancing to support dynamic servers.".into();
    }
    let cfg = match crate::config::server_dynamic::parse(name, &rest[1..], &api.model.global) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // Every core builds its own TLS config from the same files: refuse what would not load.
    if let Some(t) = cfg.traffic_tls() {
        if let Err(list) = ClientTls::build(t, &mut Vec::new()) {
            let text: Vec<String> = list.iter().map(ToString::to_string).collect();
            return format!("{}\n", text.join("; "));
        }
    }
    ask_checker(api, |reply| AdminCmd::AddServer {
        backend: BackendId::new(bi),
        cfg: Box::new(cfg),
        reply,
    })
}

fn del(api: &Api, rest: &[&str]) -> String {
    let (backend, server) = match super::change::find(api, rest.first().copied()) {
        Ok(ids) => ids,
        // HAProxy's `del server` ends these without the empty line of the other commands.
        Err(e) => return e.trim_end_matches('\n').into(),
    };
    ask_checker(api, |reply| AdminCmd::DelServer {
        backend,
        server,
        reply,
    })
}

/// Sends a command to the checker and waits for its reply.
fn ask_checker(
    api: &Api,
    cmd: impl FnOnce(crossbeam_channel::Sender<String>) -> AdminCmd,
) -> String {
    let (tx, rx) = crossbeam_channel::bounded(1);
    if let Err(e) = super::send(api, cmd(tx)) {
        return e;
    }
    rx.recv_timeout(CORE_WAIT).unwrap_or_else(|_| {
        "Internal error: the server state keeper did not answer in time.\n".into()
    })
}
