//! The master CLI (`-S <addr>[,mode,600][,level,user|operator|admin][,uid,N][,gid,N]`):
//! HAProxy 2.6's commands to supervise the processes, and `@1 CMD` / `@!PID CMD` to run a
//! runtime API command on a worker, through that worker's internal socket (child.rs).
//!
//! Plain threads and blocking sockets, as the runtime API: a command is rare and small.
//! A session has a level (the socket's, lowered by `user`/`operator`); the worker's
//! internal socket is admin, so the level is checked here before forwarding: below admin
//! only `show ...` and `help` pass, which is what HAProxy's workers let such levels run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;

use super::procs::Procs;
use super::Event;
use crate::config::model::ApiLevel;

/// An idle master CLI connection is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a worker may take to answer a forwarded command.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections at once per master (HAProxy's `stats maxconn` default is 10).
const MAX_CONNS: usize = 10;
const MAX_LINE: u64 = 16 * 1024;
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One `-S` argument, parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    addr: Addr,
    mode: Option<u32>,
    level: ApiLevel,
    uid: Option<u32>,
    gid: Option<u32>,
}

#[derive(Debug, PartialEq, Eq)]
enum Addr {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Spec {
    pub fn parse(text: &str) -> Result<Spec, String> {
        let mut parts = text.split(',');
        let first = parts.next().unwrap_or("");
        let addr = if let Some(p) = first.strip_prefix("unix@") {
            Addr::Unix(p.into())
        } else if let Some(a) = first
            .strip_prefix("ipv4@")
            .or_else(|| first.strip_prefix("ipv6@"))
        {
            Addr::Tcp(
                a.parse()
                    .map_err(|_| format!("-S {text}: '{a}' is not IP:PORT"))?,
            )
        } else if let Ok(a) = first.parse() {
            Addr::Tcp(a)
        } else if first.is_empty() {
            return Err("-S needs a unix socket path or IP:PORT".into());
        } else {
            Addr::Unix(first.into())
        };
        let mut spec = Spec {
            addr,
            mode: None,
            level: ApiLevel::Admin,
            uid: None,
            gid: None,
        };
        while let Some(opt) = parts.next() {
            let Some(v) = parts.next() else {
                return Err(format!("-S {text}: '{opt}' needs a value (',{opt},VALUE')"));
            };
            let number = |radix| {
                u32::from_str_radix(v, radix)
                    .map_err(|_| format!("-S {text}: '{opt},{v}': not a number"))
            };
            match opt {
                "mode" => spec.mode = Some(number(8)?),
                "uid" => spec.uid = Some(number(10)?),
                "gid" => spec.gid = Some(number(10)?),
                "level" => {
                    spec.level = match v {
                        "user" => ApiLevel::User,
                        "operator" => ApiLevel::Operator,
                        "admin" => ApiLevel::Admin,
                        _ => {
                            return Err(format!(
                                "-S {text}: level '{v}': use user, operator or admin"
                            ))
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "-S {text}: '{opt}' is not supported (supported: mode, level, uid, gid)"
                    ))
                }
            }
        }
        Ok(spec)
    }
}

enum Bound {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// The bound master CLI sockets; `Drop` removes the unix socket files.
pub struct MasterCli {
    bound: Vec<(Bound, ApiLevel)>,
    paths: Vec<PathBuf>,
}

impl MasterCli {
    pub fn bind(specs: &[String]) -> Result<MasterCli, String> {
        let mut out = MasterCli {
            bound: Vec::new(),
            paths: Vec::new(),
        };
        for text in specs {
            let spec = Spec::parse(text)?;
            let b = match &spec.addr {
                Addr::Unix(path) => {
                    replace_stale(path).map_err(|e| format!("-S {text}: {e}"))?;
                    let l = UnixListener::bind(path)
                        .map_err(|e| format!("-S {text}: cannot bind: {e}"))?;
                    out.paths.push(path.clone());
                    finish_unix(path, &spec).map_err(|e| format!("-S {text}: {e}"))?;
                    Bound::Unix(l)
                }
                Addr::Tcp(a) => Bound::Tcp(
                    TcpListener::bind(a).map_err(|e| format!("-S {text}: cannot bind: {e}"))?,
                ),
            };
            out.bound.push((b, spec.level));
        }
        Ok(out)
    }

    /// One accept thread per socket, for the master's life.
    pub fn serve(&mut self, procs: Arc<Mutex<Procs>>, events: Sender<Event>) -> Result<(), String> {
        let shared = Arc::new(Shared {
            procs,
            events: Mutex::new(events),
            open: AtomicUsize::new(0),
        });
        for (b, level) in self.bound.drain(..) {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ringlb-master-cli".into())
                .spawn(move || accept_loop(&s, &b, level))
                .map_err(|e| format!("cannot start the master CLI thread: {e}"))?;
        }
        Ok(())
    }
}

impl Drop for MasterCli {
    fn drop(&mut self) {
        for p in &self.paths {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A socket file left by an earlier run is replaced (as HAProxy does); anything else at
/// that path is left alone and the bind fails.
fn replace_stale(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

fn finish_unix(path: &Path, spec: &Spec) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(mode) = spec.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    if spec.uid.is_some() || spec.gid.is_some() {
        std::os::unix::fs::chown(path, spec.uid, spec.gid)?;
    }
    Ok(())
}

struct Shared {
    procs: Arc<Mutex<Procs>>,
    events: Mutex<Sender<Event>>,
    open: AtomicUsize,
}

impl Shared {
    fn table(&self) -> std::sync::MutexGuard<'_, Procs> {
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn accept_loop(s: &Arc<Shared>, b: &Bound, level: ApiLevel) {
    loop {
        let conn: Box<dyn Conn> = match b {
            Bound::Unix(l) => match l.accept() {
                Ok((c, _)) => Box::new(c),
                Err(_) => continue,
            },
            Bound::Tcp(l) => match l.accept() {
                Ok((c, _)) => Box::new(c),
                Err(_) => continue,
            },
        };
        if s.open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNS {
            s.open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let mine = Arc::clone(s);
        let spawned = std::thread::Builder::new()
            .name("ringlb-master-cli-conn".into())
            .spawn(move || {
                serve_conn(&mine, conn, level);
                mine.open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            s.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

trait Conn: Read + Write + Send {
    fn try_clone_box(&self) -> Option<Box<dyn Conn>>;
    fn set_timeout(&self, t: Duration);
}

impl Conn for UnixStream {
    fn try_clone_box(&self) -> Option<Box<dyn Conn>> {
        self.try_clone().ok().map(|c| Box::new(c) as Box<dyn Conn>)
    }
    fn set_timeout(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

impl Conn for std::net::TcpStream {
    fn try_clone_box(&self) -> Option<Box<dyn Conn>> {
        self.try_clone().ok().map(|c| Box::new(c) as Box<dyn Conn>)
    }
    fn set_timeout(&self, t: Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
}

/// Where a session's commands go: the master, or a worker named by its `@` prefix.
#[derive(Clone, PartialEq, Eq)]
enum Target {
    Master,
    /// `@1`: the current worker (ringlb runs one at a time).
    Relative(u32),
    /// `@!PID`: any worker still running, leaving ones included.
    Pid(i32),
}

struct Session {
    level: ApiLevel,
    interactive: bool,
    target: Target,
}

enum Outcome {
    Reply(String),
    /// `quit`, or `reload` (which closes the connection, as HAProxy's does).
    Close,
}

fn serve_conn(s: &Shared, conn: Box<dyn Conn>, level: ApiLevel) {
    conn.set_timeout(IDLE_TIMEOUT);
    let Some(mut out) = conn.try_clone_box() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut session = Session {
        level,
        interactive: false,
        target: Target::Master,
    };
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut reply = String::new();
        let mut close = false;
        for cmd in line.trim_end_matches(['\r', '\n']).split(';') {
            match run_line(s, &mut session, cmd.trim()) {
                Outcome::Reply(r) => reply.push_str(&r),
                Outcome::Close => {
                    close = true;
                    break;
                }
            }
        }
        if session.interactive && !close {
            reply.push_str(&prompt(s, &session));
        }
        if out.write_all(reply.as_bytes()).is_err() || close || !session.interactive {
            return;
        }
    }
}

/// One `;`-separated command: an `@` prefix alone switches the session's target; with a
/// command after it, that command alone goes there.
fn run_line(s: &Shared, session: &mut Session, cmd: &str) -> Outcome {
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
fn prompt(s: &Shared, session: &Session) -> String {
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
    fn specs_parse_as_haproxy_writes_them() {
        let s = Spec::parse("/run/m.sock,mode,600,level,user").unwrap();
        assert_eq!(s.addr, Addr::Unix("/run/m.sock".into()));
        assert_eq!((s.mode, s.level), (Some(0o600), ApiLevel::User));
        let t = Spec::parse("ipv4@127.0.0.1:1234").unwrap();
        assert_eq!(t.addr, Addr::Tcp("127.0.0.1:1234".parse().unwrap()));
        assert_eq!(t.level, ApiLevel::Admin);
        assert!(Spec::parse("/x,foo,1")
            .unwrap_err()
            .contains("'foo' is not supported"));
        assert!(Spec::parse("/x,mode")
            .unwrap_err()
            .contains("needs a value"));
        assert!(Spec::parse("").is_err());
    }

    #[test]
    fn targets() {
        assert!(parse_target("") == Some(Target::Master));
        assert!(parse_target("master") == Some(Target::Master));
        assert!(parse_target("1") == Some(Target::Relative(1)));
        assert!(parse_target("!42") == Some(Target::Pid(42)));
        assert!(parse_target("x").is_none());
    }
}
