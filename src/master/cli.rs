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
use super::session::{prompt, run_line, Outcome, Session, Target};
use super::Event;
use crate::config::model::ApiLevel;

/// An idle master CLI connection is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections at once per master (HAProxy's `stats maxconn` default is 10).
const MAX_CONNS: usize = 10;
const MAX_LINE: u64 = 16 * 1024;

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

/// What every master CLI connection reads and asks: the process table, the master's loop.
pub(super) struct Shared {
    procs: Arc<Mutex<Procs>>,
    pub(super) events: Mutex<Sender<Event>>,
    open: AtomicUsize,
}

impl Shared {
    pub(super) fn table(&self) -> std::sync::MutexGuard<'_, Procs> {
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
}
