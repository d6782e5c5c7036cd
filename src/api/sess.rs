//! `show sess` and `shutdown session ID`, in HAProxy 2.6's words.
//!
//! Each core keeps its own table of live sessions (worker/sessions.rs); the API asks every
//! core for a copy over the checker's channels and waits for the answers at most
//! `super::CORE_WAIT`, so a busy core delays a reply but never blocks its requests.
//! HAProxy's line goes on with its internals (task calls, buffer flags, stream interfaces):
//! ringlb prints what it has, up to `age`.

use std::fmt::Write;

use super::{send, wait_cores, Api, Client};
use crate::config::model::ApiLevel;
use crate::health::admin::AdminCmd;
use crate::worker::control::CoreCmd;
use crate::worker::sessions::SessLine;

/// The commands of this file; `None` when the words are none of them.
pub fn run(api: &Api, client: &Client, words: &[&str]) -> Option<String> {
    let needs = match words {
        ["show", "sess", ..] => ApiLevel::Operator,
        ["shutdown", "session", ..] => ApiLevel::Admin,
        _ => return None,
    };
    if client.level < needs {
        return Some("Permission denied\n".into());
    }
    Some(match words {
        ["show", "sess"] => show(api, client),
        ["show", "sess", what, ..] => {
            format!("'show sess {what}' is not supported by ringlb (the list, 'show sess', is).\n")
        }
        ["shutdown", "session", rest @ ..] => shutdown(api, rest.first().copied()),
        _ => return None,
    })
}

/// Every core's sessions, then the one asking (HAProxy lists the CLI's own stream too).
fn show(api: &Api, client: &Client) -> String {
    let mut out = String::new();
    for l in &collect(api) {
        line(api, &mut out, l);
    }
    let age = human_time(client.since.elapsed().as_secs());
    let _ = writeln!(
        out,
        "0x{:x}: proto={} src={} fe=GLOBAL be=<NONE> srv=<none> ts=00 age={age}",
        client.id,
        client.proto(),
        client.src()
    );
    out
}

fn collect(api: &Api) -> Vec<SessLine> {
    let (tx, rx) = crossbeam_channel::unbounded();
    if send(api, AdminCmd::Cores(CoreCmd::ShowSess(tx))).is_err() {
        return Vec::new();
    }
    let mut all: Vec<SessLine> = wait_cores(api, &rx).into_iter().flatten().collect();
    all.sort_by_key(|l| l.id);
    all
}

fn line(api: &Api, out: &mut String, l: &SessLine) {
    let m = &api.model;
    let fe = m.frontend(l.frontend).map_or("?", |f| f.name.as_str());
    let be = l.backend.and_then(|b| m.backend(b));
    // A server `add server` added is not in the model.
    let srv = match (l.backend, l.server) {
        (Some(b), Some(s)) => super::change::server_cfg(api, b, s).map(|s| s.name),
        _ => None,
    };
    let proto = if l.src.is_ipv4() { "tcpv4" } else { "tcpv6" };
    let _ = writeln!(
        out,
        "0x{:x}: proto={proto} src={} fe={fe} be={} srv={} ts=00 age={}",
        l.id,
        l.src,
        be.map_or("<NONE>", |b| b.name.as_str()),
        srv.as_deref().unwrap_or("<none>"),
        human_time(l.age.as_secs()),
    );
}

/// `shutdown session 0xID`: the core that has it ends it.
fn shutdown(api: &Api, id: Option<&str>) -> String {
    let Some(id) = id else {
        return "Session pointer expected (use 'show sess').\n".into();
    };
    let hex = id.trim_start_matches("0x");
    let found = u64::from_str_radix(hex, 16)
        .ok()
        .filter(|n| collect(api).iter().any(|l| l.id == *n));
    let Some(n) = found else {
        return "No such session (use 'show sess').\n".into();
    };
    send(api, AdminCmd::Cores(CoreCmd::ShutdownSession(n)))
        .err()
        .unwrap_or_default()
}

/// HAProxy's human_time for seconds: at most two units, `0s` for nothing.
pub fn human_time(t: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let mut out = String::new();
    let mut left = 2;
    if t >= DAY {
        let _ = write!(out, "{}d", t / DAY);
        left -= 1;
    }
    if left > 0 && t % DAY / HOUR > 0 {
        let _ = write!(out, "{}h", t % DAY / HOUR);
        left -= 1;
    }
    if left > 0 && t % HOUR / MINUTE > 0 {
        let _ = write!(out, "{}m", t % HOUR / MINUTE);
        left -= 1;
    }
    if (left > 0 && !t.is_multiple_of(MINUTE)) || t == 0 {
        let _ = write!(out, "{}s", t % MINUTE);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::human_time;

    #[test]
    fn ages_as_haproxy_prints_them() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(59), "59s");
        assert_eq!(human_time(61), "1m1s");
        assert_eq!(human_time(3600), "1h");
        assert_eq!(human_time(3661), "1h1m");
        assert_eq!(human_time(90061), "1d1h");
    }
}
