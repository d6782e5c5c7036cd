//! A master CLI session: its level and target, and each command it runs, on the master
//! (`show proc`, `reload`, `help`, ...) or, after an `@` prefix, on a worker's runtime API.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::cli::Shared;
use super::Event;
use crate::config::model::ApiLevel;

/// How long a worker may take to answer a forwarded command.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where a session's commands go: the master, or a worker named by its `@` prefix.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Target {
    Master,
    /// `@1`: the current worker (ringlb runs one at a time).
    Relative(u32),
    /// `@!PID`: any worker still running, leaving ones included.
    Pid(i32),
}

pub(super) struct Session {
    pub(super) level: ApiLevel,
    pub(super) interactive: bool,
    pub(super) target: Target,
}

pub(super) enum Outcome {
    Reply(String),
    /// `quit`, or `reload` (which closes the connection, as HAProxy's does).
    Close,
}

/// One `;`-separated command: an `@` prefix alone switches the session's target; with a
/// command after it, that command alone goes there.
pub(super) fn run_line(s: &Shared, session: &mut Session, cmd: &str) -> Outcome {
    if let Some(rest) = cmd.strip_prefix('@') {
        let (prefix, command) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let target = match parse_target(prefix) {
            Some(t) => t,
            None => return Outcome::Reply(not_found(prefix)),
        };
        if command.trim().is_empty() {
            session.target = target;
            return Outcome::Reply(String::new());
        }
        return run_on(s, session, &target, command.trim());
    }
    let target = session.target.clone();
    run_on(s, session, &target, cmd)
}

fn parse_target(prefix: &str) -> Option<Target> {
    if prefix.is_empty() || prefix == "master" {
        return Some(Target::Master);
    }
    if let Some(pid) = prefix.strip_prefix('!') {
        return pid.parse().ok().map(Target::Pid);
    }
    prefix.parse().ok().map(Target::Relative)
}

/// HAProxy's reply for a prefix that names no process.
fn not_found(prefix: &str) -> String {
    format!("Can't find the target PID matching the prefix '@{prefix}'\n")
}

fn run_on(s: &Shared, session: &mut Session, target: &Target, cmd: &str) -> Outcome {
    match target {
        Target::Master => master_command(s, session, cmd),
        t => Outcome::Reply(forward(s, session.level, t, cmd)),
    }
}

/// The worker a target names, with its internal socket.
fn resolve(s: &Shared, target: &Target) -> Option<(i32, PathBuf)> {
    let t = s.table();
    let w = match target {
        Target::Master => None,
        Target::Relative(1) => t.current(),
        Target::Relative(_) => None,
        Target::Pid(pid) => t.find(*pid),
    }?;
    Some((w.pid, w.socket.clone()))
}

fn prefix_text(target: &Target) -> String {
    match target {
        Target::Master => String::new(),
        Target::Relative(n) => n.to_string(),
        Target::Pid(p) => format!("!{p}"),
    }
}

/// A command run by a worker's runtime API, its reply passed back as it is.
fn forward(s: &Shared, level: ApiLevel, target: &Target, cmd: &str) -> String {
    let Some((pid, socket)) = resolve(s, target) else {
        return not_found(&prefix_text(target));
    };
    let first = cmd.split_whitespace().next().unwrap_or("");
    // `_getsocks` would mark the worker's listeners as handed over (they are not: this
    // connection cannot carry them on), and the internal socket is admin: the session's own
    // level decides what passes.
    if first.starts_with('_') || (level < ApiLevel::Admin && !matches!(first, "show" | "help")) {
        return "Permission denied\n\n".into();
    }
    match ask(&socket, cmd) {
        Ok(reply) => reply,
        Err(e) => format!("cannot reach worker {pid}'s runtime API: {e}\n\n"),
    }
}

fn ask(socket: &Path, cmd: &str) -> std::io::Result<String> {
    let mut c = UnixStream::connect(socket)?;
    c.set_read_timeout(Some(FORWARD_TIMEOUT))?;
    c.set_write_timeout(Some(FORWARD_TIMEOUT))?;
    c.write_all(format!("{cmd}\n").as_bytes())?;
    let mut reply = String::new();
    c.read_to_string(&mut reply)?;
    Ok(reply)
}

/// The commands `help` lists, HAProxy 2.6's wording.
const HELP: &[(&str, &str)] = &[
    ("@!<pid>", "send a command to the <pid> process"),
    (
        "@<relative pid>",
        "send a command to the <relative pid> process",
    ),
    ("@master", "send a command to the master process"),
    (
        "operator",
        "lower the level of the current CLI session to operator",
    ),
    ("reload", "reload haproxy"),
    (
        "show cli level",
        "display the level of the current CLI session",
    ),
    ("show proc", "show processes status"),
    ("show version", "show version of the current process"),
    ("user", "lower the level of the current CLI session to user"),
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
];

fn help_list() -> String {
    HELP.iter()
        .map(|(c, what)| format!("  {c:<40}: {what}\n"))
        .collect()
}

fn master_command(s: &Shared, session: &mut Session, cmd: &str) -> Outcome {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let reply = match words.as_slice() {
        [] => String::new(),
        ["quit"] => return Outcome::Close,
        ["prompt"] => {
            session.interactive = !session.interactive;
            String::new()
        }
        ["help", ..] => format!(
            "The following commands are valid at this level:\n{}\n",
            help_list()
        ),
        ["show", "proc"] => s.table().show(VERSION) + "\n",
        ["show", "version"] => format!("{VERSION}\n\n"),
        ["show", "cli", "level"] => format!("{}\n\n", level_name(session.level)),
        ["user"] => lower(session, ApiLevel::User),
        ["operator"] => lower(session, ApiLevel::Operator),
        ["reload"] if session.level < ApiLevel::Operator => "Permission denied\n\n".into(),
        ["reload"] => {
            let sent = s
                .events
                .lock()
                .map(|tx| tx.send(Event::Reload).is_ok())
                .unwrap_or(false);
            if sent {
                return Outcome::Close;
            }
            "the master is stopping: no reload\n\n".into()
        }
        _ => format!(
            "Unknown command, but maybe one of the following ones is a better match:\n{}\n",
            help_list()
        ),
    };
    Outcome::Reply(reply)
}

/// `user` / `operator`: a session may lower its level, never raise it.
fn lower(session: &mut Session, to: ApiLevel) -> String {
    if to > session.level {
        return "Permission denied\n\n".into();
    }
    session.level = to;
    String::new()
}

fn level_name(l: ApiLevel) -> &'static str {
    match l {
        ApiLevel::User => "user",
        ApiLevel::Operator => "operator",
        ApiLevel::Admin => "admin",
    }
}

/// `master> `, `master[ReloadFailed]> `, or the target worker's pid.
pub(super) fn prompt(s: &Shared, session: &Session) -> String {
    match &session.target {
        Target::Master if s.table().last_failed => "master[ReloadFailed]> ".into(),
        Target::Master => "master> ".into(),
        t => match resolve(s, t) {
            Some((pid, _)) => format!("{pid}> "),
            None => format!("@{}> ", prefix_text(t)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert!(parse_target("") == Some(Target::Master));
        assert!(parse_target("master") == Some(Target::Master));
        assert!(parse_target("1") == Some(Target::Relative(1)));
        assert!(parse_target("!42") == Some(Target::Pid(42)));
        assert!(parse_target("x").is_none());
    }
}
