//! The runtime API's commands, with HAProxy 2.6's reply texts. Every reply ends with an
//! empty line, as HAProxy's do (that is how scripts know a reply is complete).

use super::{info, Api, Client};
use crate::config::model::ApiLevel;
use crate::stats::snapshot::{RowKind, Snapshot};
use crate::stats::{collect, csv, json, RenderOptions};

pub enum Outcome {
    Reply(String),
    Quit,
}

/// The commands ringlb answers, as `help` lists them (HAProxy's wording and order: the
/// commands, then the three that are always there).
const HELP: &[(&str, &str)] = &[
    (
        "clear counters [all]",
        "clear max statistics counters (or all counters)",
    ),
    ("disable health", "disable health checks"),
    (
        "disable server (DEPRECATED)",
        "disable a server for maintenance (use 'set server' instead)",
    ),
    ("enable health", "enable health checks"),
    (
        "enable server  (DEPRECATED)",
        "enable a disabled server (use 'set server' instead)",
    ),
    (
        "set maxconn frontend <frontend> <value>",
        "change a frontend's maxconn setting",
    ),
    (
        "set maxconn global <value>",
        "change the per-process maxconn setting",
    ),
    (
        "set maxconn server <bk>/<srv>",
        "change a server's maxconn setting",
    ),
    (
        "set server <bk>/<srv> [opts]",
        "change a server's state, weight, address or ssl",
    ),
    (
        "set weight <bk>/<srv>  (DEPRECATED)",
        "change a server's weight (use 'set server' instead)",
    ),
    (
        "show backend",
        "list backends in the current running config",
    ),
    (
        "show info [desc|json|typed|float]*",
        "report information about the running process",
    ),
    (
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
    ),
    (
        "show sess [id]",
        "report the list of current sessions or dump this exact session",
    ),
    (
        "show stat [desc|json|no-maint|typed|up]*",
        "report counters for each proxy and server",
    ),
    ("shutdown session [id]", "kill a specific session"),
    (
        "shutdown sessions server <bk>/<srv>",
        "kill sessions on a server",
    ),
];

/// Listed after the others in every help text, as HAProxy does.
const ALWAYS: &[(&str, &str)] = &[
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
];

/// Commands HAProxy has that ringlb does not run yet: refused by name.
const NOT_YET: &[(&str, &str)] = &[
    ("disable agent", ""),
    ("enable agent", ""),
    (
        "add server",
        " (backends, pools and counters are sized at start; servers must be in the configuration)",
    ),
    (
        "del server",
        " (servers are those of the configuration; 'set server B/S state maint' takes one out)",
    ),
    ("disable frontend", ""),
    ("enable frontend", ""),
    ("shutdown frontend", ""),
    ("set rate-limit", ""),
];

fn help_lines(list: &[(&str, &str)], filter: &str, out: &mut String) {
    for (cmd, what) in list {
        if filter.is_empty() || cmd.starts_with(filter) {
            out.push_str(&format!("  {cmd:<40}: {what}\n"));
        }
    }
}

/// `help [words]`: the commands starting with the words, then help, prompt and quit.
fn help_text(filter: &str) -> String {
    let mut out = String::new();
    help_lines(HELP, filter, &mut out);
    help_lines(ALWAYS, "", &mut out);
    out
}

/// Runs one command; `interactive` is the connection's prompt mode.
pub fn run(api: &Api, client: &Client, cmd: &str, interactive: &mut bool) -> Outcome {
    let level = client.level;
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let reply = match words.as_slice() {
        [] => String::new(),
        ["quit"] => return Outcome::Quit,
        ["prompt"] => {
            *interactive = !*interactive;
            String::new()
        }
        ["help", rest @ ..] => {
            let f = rest.join(" ");
            format!(
                "The following commands are valid at this level:\n{}",
                help_text(&f)
            )
        }
        ["show", "info", opts @ ..] => info::show_info(&snap(api), api, opts),
        ["show", "stat", args @ ..] => show_stat(api, args),
        ["show", "backend"] => show_backend(api),
        ["show", "servers", "state", rest @ ..] => info::servers_state(api, rest.first().copied()),
        w => match super::change::run(api, level, w)
            .or_else(|| super::limits::run(api, level, w))
            .or_else(|| super::sess::run(api, client, w))
        {
            Some(r) => r,
            None => return Outcome::Reply(unknown(cmd, level)),
        },
    };
    Outcome::Reply(reply + "\n")
}

fn unknown(cmd: &str, _level: ApiLevel) -> String {
    if let Some((known, why)) = NOT_YET.iter().find(|(k, _)| cmd.starts_with(*k)) {
        return format!(
            "'{known}' is not supported yet by ringlb{why} (see 'help' for what is).\n\n"
        );
    }
    format!(
        "Unknown command, but maybe one of the following ones is a better match:\n{}\n",
        closest(cmd)
    )
}

/// The commands that start like `cmd`: its words, then fewer of them, until some match;
/// all of them when none does (HAProxy ranks by similarity; a prefix gives the same lists
/// for the usual mistakes: `set maxconn`, `shutdown sessions`).
fn closest(cmd: &str) -> String {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    for n in (1..=words.len()).rev() {
        let prefix = words[..n].join(" ");
        if HELP.iter().any(|(c, _)| c.starts_with(&prefix)) {
            return help_text(&prefix);
        }
    }
    help_text("")
}

fn snap(api: &Api) -> Snapshot {
    collect::snapshot_of(
        &api.stats,
        &api.model,
        crate::launch::stop_requested().is_some(),
    )
}

fn show_backend(api: &Api) -> String {
    let mut out = String::from("# name\n");
    for b in &api.model.backends {
        out.push_str(&b.name);
        out.push('\n');
    }
    out
}

/// `show stat [{<iid>|<proxy>} {<type>} {<sid>}] [typed|json|up|no-maint]*`: the `;csv`
/// report (or `;json`), filtered as HAProxy filters it: a proxy by number or name (-1: all),
/// a type mask (1 frontends, 2 backends, 4 servers; -1: all), a server number (-1: all).
fn show_stat(api: &Api, args: &[&str]) -> String {
    let mut words: Vec<&str> = args.to_vec();
    let json_out = take_flag(&mut words, "json");
    let up_only = take_flag(&mut words, "up");
    let no_maint = take_flag(&mut words, "no-maint");
    let mut s = snap(api);
    if let [px, kind, sid] = words.as_slice() {
        filter(&mut s, px, kind, sid);
    }
    if no_maint {
        for p in &mut s.proxies {
            p.servers
                .retain(|r| r.text(crate::stats::fields::Field::Status) != "MAINT");
        }
    }
    let opts = RenderOptions {
        up_only,
        ..RenderOptions::default()
    };
    if json_out {
        json::render(&s, &opts)
    } else {
        csv::render(&s, &opts)
    }
}

fn take_flag(words: &mut Vec<&str>, flag: &str) -> bool {
    let before = words.len();
    words.retain(|w| *w != flag);
    words.len() != before
}

fn filter(s: &mut Snapshot, px: &str, kind: &str, sid: &str) {
    let mask: i64 = kind.parse().unwrap_or(-1);
    let sid: i64 = sid.parse().unwrap_or(-1);
    if px != "-1" {
        s.proxies
            .retain(|p| p.name == px || px.parse::<u64>().is_ok_and(|n| n == p.iid));
    }
    let wants = |k: RowKind| mask < 0 || mask & (1 << k.code()) != 0;
    for p in &mut s.proxies {
        if !wants(RowKind::Frontend) {
            p.frontend = None;
        }
        if !wants(RowKind::Backend) {
            p.backend = None;
        }
        if !wants(RowKind::Server) {
            p.servers.clear();
        } else if sid >= 0 {
            let sid = sid as u64;
            p.servers
                .retain(|r| r.get(crate::stats::fields::Field::Sid).as_u64() == Some(sid));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn unknown_commands_list_what_they_start_like() {
        let maxconn = closest("set maxconn");
        assert!(maxconn.starts_with("  set maxconn frontend <frontend> <value> :"));
        assert_eq!(
            maxconn.lines().count(),
            6,
            "3 commands, then help, prompt, quit"
        );
        assert_eq!(
            closest("set maxconn bogus"),
            maxconn,
            "the words that match"
        );
        assert!(closest("bogus").lines().count() > 10, "everything");
    }
}
