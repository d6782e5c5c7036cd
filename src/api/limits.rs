//! `set maxconn frontend|global` and `clear counters [all]`, with HAProxy 2.6's replies.
//!
//! The limits are the maxconn atomics every core reads (worker/limits.rs), set by the checker
//! thread on the API's message; reports read the values from `StatsShared::maxconn`. Counters
//! are each core's own (single writer): every core clears its own on a message, and the
//! command returns once all have done so (or after `super::CORE_WAIT`).

use std::sync::atomic::Ordering;

use super::addr::atoi;
use super::{send, Api};
use crate::config::model::{ApiLevel, FrontendId};
use crate::health::admin::AdminCmd;
use crate::stats::collect;
use crate::worker::control::CoreCmd;

/// The commands of this file; `None` when the words are none of them.
pub fn run(api: &Api, level: ApiLevel, words: &[&str]) -> Option<String> {
    let needs = match words {
        ["set", "maxconn", "frontend" | "global", ..] | ["clear", "counters", "all", ..] => {
            ApiLevel::Admin
        }
        ["clear", "counters", ..] => ApiLevel::Operator,
        _ => return None,
    };
    if level < needs {
        return Some("Permission denied\n".into());
    }
    Some(match words {
        ["set", "maxconn", "frontend", rest @ ..] => frontend(api, rest),
        ["set", "maxconn", "global", rest @ ..] => global(api, rest.first().copied()),
        // HAProxy: any word but `all` clears the maxima only.
        ["clear", "counters", rest @ ..] => clear(api, rest.first() == Some(&"all")),
        _ => return None,
    })
}

/// `set maxconn frontend <name|#id> <n>`: any value from 0 (0 accepts nothing).
fn frontend(api: &Api, rest: &[&str]) -> String {
    let Some(name) = rest.first() else {
        return "A frontend name is expected.\n".into();
    };
    let Some(fi) = find_frontend(api, name) else {
        return "No such frontend.\n".into();
    };
    let Some(text) = rest.get(1) else {
        return "Integer value expected.\n".into();
    };
    let Ok(n) = u32::try_from(atoi(text)) else {
        return "Value out of range.\n".into();
    };
    if let Some(m) = api.stats.maxconn.frontends.get(fi) {
        m.store(n, Ordering::Relaxed);
    }
    send(api, AdminCmd::FrontendMaxConn(FrontendId::new(fi), n))
        .err()
        .unwrap_or_default()
}

/// A frontend by name, or by HAProxy's number for its proxy (`#2`).
fn find_frontend(api: &Api, name: &str) -> Option<usize> {
    let m = &api.model;
    if let Some(id) = name.strip_prefix('#') {
        let id: u64 = id.parse().ok()?;
        return collect::proxy_slots(m)
            .iter()
            .find(|p| p.iid == id)
            .and_then(|p| p.frontend);
    }
    m.frontends.iter().position(|f| f.name == name)
}

/// `set maxconn global <n>`: at most the configured maxconn; 0 or less restores it.
fn global(api: &Api, text: Option<&str>) -> String {
    let Some(text) = text else {
        return "Expects an integer value.\n".into();
    };
    let hard = api.model.global.maxconn;
    let n = atoi(text);
    if n > i64::from(hard) {
        return "Value out of range.\n".into();
    }
    let n = u32::try_from(n).ok().filter(|n| *n > 0).unwrap_or(hard);
    api.stats.maxconn.global.store(n, Ordering::Relaxed);
    send(api, AdminCmd::GlobalMaxConn(n))
        .err()
        .unwrap_or_default()
}

/// `clear counters [all]`: every core clears its own, and the checks' counts (`chkfail`,
/// `chkdown`, kept by the checker's table) go with `all`.
fn clear(api: &Api, all: bool) -> String {
    if all {
        let m = &api.model;
        for (b, be) in m.backend_ids().zip(&m.backends) {
            for s in be.server_ids() {
                api.stats.checks.update(b, s, |st| {
                    st.failed = 0;
                    st.went_down = 0;
                });
            }
        }
    }
    let (tx, rx) = crossbeam_channel::unbounded();
    if let Err(e) = send(api, AdminCmd::Cores(CoreCmd::Clear { all, done: tx })) {
        return e;
    }
    super::wait_cores(api, &rx);
    String::new()
}
