//! The runtime API: HAProxy's stats socket (`stats socket PATH|IP:PORT`), on a thread of its
//! own, off the request path.
//!
//! ```text
//!  mod.rs       binding the sockets (before privileges are dropped), the accept threads,
//!               one connection: non-interactive (one line of `;`-separated commands, the
//!               replies, close) or `prompt` mode (a `> ` prompt after each reply)
//!  commands.rs  the commands and HAProxy 2.6's reply texts
//!  info.rs      `show info`; `show servers state`
//!  info_typed.rs `show info typed|json [desc] [float]`: HAProxy's field table
//!  change.rs    `disable|enable server`, `set server B/S state|weight|addr`, `set weight`,
//!               `set maxconn server`, `shutdown sessions server`: sent to the checker
//!               thread, which tells every core (health/admin.rs, worker/control.rs)
//!  addr.rs      `set server B/S addr`'s reply texts (HAProxy's srv_update_addr_port)
//!  limits.rs    `set maxconn frontend|global`, `clear counters [all]`
//!  sess.rs      `show sess`, `shutdown session`: each core's copy of its live sessions
//!  dynamic.rs   `add server`, `del server`: answered by the checker thread, which tells
//!               every core (worker/dynamic.rs)
//! ```
//!
//! Why plain threads and blocking sockets: a command is rare and small, and nothing here
//! may take time from a core's reactor; the data it reports comes from `stats::collect`,
//! which reads the cores' counters without stopping them.

mod addr;
mod change;
mod commands;
mod dynamic;
mod info;
mod info_typed;
mod limits;
mod sess;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::model::{ApiAddr, ApiLevel, Model};
use crate::stats::shared::StatsShared;

/// What a command sees: the configuration, every core's stats, the socket's level.
pub struct Api {
    pub model: Arc<Model>,
    pub stats: Arc<StatsShared>,
    /// Connections open now (at most `stats maxconn`).
    open: AtomicUsize,
    /// Where server changes go: the checker thread, which tells every core.
    pub admin: Option<crossbeam_channel::Sender<crate::health::admin::AdminCmd>>,
}

/// One client of the API: its level, where it came from, since when (its `show sess` line).
pub struct Client {
    pub level: ApiLevel,
    /// The socket's number among the `stats socket` lines (from 1), or the TCP peer.
    pub origin: Origin,
    pub since: Instant,
    /// Its number in `show sess` (HAProxy prints the stream's address there).
    pub id: u64,
}

pub enum Origin {
    Unix(usize),
    Tcp(std::net::SocketAddr),
}

impl Client {
    fn proto(&self) -> &'static str {
        match self.origin {
            Origin::Unix(_) => "unix_stream",
            Origin::Tcp(a) if a.is_ipv4() => "tcpv4",
            Origin::Tcp(_) => "tcpv6",
        }
    }

    fn src(&self) -> String {
        match self.origin {
            Origin::Unix(n) => format!("unix:{n}"),
            Origin::Tcp(a) => a.to_string(),
        }
    }
}

/// API clients' `show sess` numbers (below the cores', which carry their index + 1 above
/// bit 40: worker/sessions.rs).
static CLIENT_IDS: AtomicU64 = AtomicU64::new(1);

/// How long a command that needs every core's answer (`show sess`, `clear counters`) waits
/// for them: a core answers within its health tick (10 ms) unless it is very busy.
pub const CORE_WAIT: Duration = Duration::from_secs(1);

/// Sends a command to the checker thread; `Err` is the reply when there is none.
pub fn send(api: &Api, cmd: crate::health::admin::AdminCmd) -> Result<(), String> {
    let Some(tx) = &api.admin else {
        return Err("Internal error: the server state keeper is not running.\n".into());
    };
    tx.send(cmd)
        .map_err(|_| "Internal error: the server state keeper has stopped.\n".into())
}

/// Every core's answer to a command, each once, until all came or `CORE_WAIT` passed.
pub fn wait_cores<T>(api: &Api, rx: &crossbeam_channel::Receiver<(usize, T)>) -> Vec<T> {
    let deadline = Instant::now() + CORE_WAIT;
    let mut seen = vec![false; api.stats.cores.len()];
    let mut out = Vec::new();
    while seen.iter().any(|s| !s) {
        let Ok((core, t)) = rx.recv_deadline(deadline) else {
            break;
        };
        if let Some(s) = seen.get_mut(core) {
            if !*s {
                *s = true;
                out.push(t);
            }
        }
    }
    out
}

/// A bound socket, not yet accepting.
enum Bound {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
}

/// The bound runtime API sockets; `serve` starts answering, `Drop` removes unix socket files.
pub struct Sockets {
    /// Each socket, its level, and whether it says `expose-fd listeners`.
    bound: Vec<(Bound, ApiLevel, bool)>,
    /// Unix socket files, with the (device, inode) each had once bound.
    paths: Vec<(PathBuf, Option<(u64, u64)>)>,
}

/// Binds every `stats socket` line (while the process may still be root, before `chroot`).
pub fn bind(model: &Model) -> Result<Sockets, String> {
    let mut bound = Vec::new();
    let mut paths = Vec::new();
    for s in &model.global.stats_sockets {
        let b = match &s.addr {
            ApiAddr::Unix(path) => {
                // A socket file left by a previous run would make bind fail (HAProxy
                // replaces it too).
                if std::fs::symlink_metadata(path).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    let _ = std::fs::remove_file(path);
                }
                let l = UnixListener::bind(path).map_err(|e| {
                    format!(
                        "{}: cannot bind stats socket {}: {e}",
                        s.loc,
                        path.display()
                    )
                })?;
                if let Some(mode) = s.mode {
                    let perms = std::fs::Permissions::from_mode(mode);
                    std::fs::set_permissions(path, perms).map_err(|e| {
                        format!(
                            "{}: stats socket {}: cannot set mode: {e}",
                            s.loc,
                            path.display()
                        )
                    })?;
                }
                paths.push((path.clone(), file_id(path)));
                Bound::Unix(l, path.clone())
            }
            ApiAddr::Tcp(addr) => Bound::Tcp(
                TcpListener::bind(addr)
                    .map_err(|e| format!("{}: cannot bind stats socket {addr}: {e}", s.loc))?,
            ),
        };
        bound.push((b, s.level, s.expose_fd));
    }
    Ok(Sockets { bound, paths })
}

impl Sockets {
    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }

    /// Where the TCP sockets listen (for the start-up lines).
    pub fn describe(&self) -> Vec<String> {
        self.bound
            .iter()
            .map(|(b, _, _)| match b {
                Bound::Unix(_, p) => p.display().to_string(),
                Bound::Tcp(l) => l
                    .local_addr()
                    .map_or_else(|_| "?".into(), |a| a.to_string()),
            })
            .collect()
    }

    /// Starts one accept thread per socket; they live as long as the process.
    pub fn serve(
        &mut self,
        model: Arc<Model>,
        stats: Arc<StatsShared>,
        admin: Option<crossbeam_channel::Sender<crate::health::admin::AdminCmd>>,
    ) -> Result<(), String> {
        let api = Arc::new(Api {
            model,
            stats,
            open: AtomicUsize::new(0),
            admin,
        });
        for (n, (b, level, expose_fd)) in self.bound.drain(..).enumerate() {
            let api = Arc::clone(&api);
            std::thread::Builder::new()
                .name("ringlb-api".into())
                .spawn(move || accept_loop(&api, b, n + 1, level, expose_fd))
                .map_err(|e| format!("cannot start the stats socket thread: {e}"))?;
        }
        Ok(())
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        for (p, id) in &self.paths {
            // After a reload the new process has bound the same path (a new file): that one
            // is not ours to remove, or the next `-x` would find no socket.
            if id.is_some() && file_id(p) == *id {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// A file's identity, to tell our socket file from a newer process's at the same path.
fn file_id(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

fn accept_loop(api: &Arc<Api>, b: Bound, number: usize, level: ApiLevel, expose_fd: bool) {
    loop {
        let (conn, origin): (Box<dyn Conn>, Origin) = match &b {
            Bound::Unix(l, _) => match l.accept() {
                Ok((s, _)) => (Box::new(s), Origin::Unix(number)),
                Err(_) => continue,
            },
            Bound::Tcp(l) => match l.accept() {
                Ok((s, peer)) => (Box::new(s), Origin::Tcp(peer)),
                Err(_) => continue,
            },
        };
        let client = Client {
            level,
            origin,
            since: Instant::now(),
            id: CLIENT_IDS.fetch_add(1, Ordering::Relaxed),
        };
        let max = api.model.global.stats_maxconn as usize;
        if api.open.fetch_add(1, Ordering::SeqCst) >= max {
            // Over `stats maxconn`: closed at once, as HAProxy refuses the connection.
            api.open.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let mine = Arc::clone(api);
        let spawned = std::thread::Builder::new()
            .name("ringlb-api-conn".into())
            .spawn(move || {
                serve_conn(&mine, conn, &client, expose_fd);
                mine.open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            api.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A client connection of either kind.
trait Conn: std::io::Read + Write + Send {
    fn set_timeout(&self, t: std::time::Duration);
    fn try_clone_box(&self) -> Option<Box<dyn Conn>>;
    /// The unix stream, which alone can carry descriptors (`_getsocks`).
    fn as_unix(&self) -> Option<&std::os::unix::net::UnixStream> {
        None
    }
}

impl Conn for std::os::unix::net::UnixStream {
    fn set_timeout(&self, t: std::time::Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
    fn try_clone_box(&self) -> Option<Box<dyn Conn>> {
        self.try_clone().ok().map(|c| Box::new(c) as Box<dyn Conn>)
    }
    fn as_unix(&self) -> Option<&std::os::unix::net::UnixStream> {
        Some(self)
    }
}

impl Conn for std::net::TcpStream {
    fn set_timeout(&self, t: std::time::Duration) {
        let _ = self.set_read_timeout(Some(t));
        let _ = self.set_write_timeout(Some(t));
    }
    fn try_clone_box(&self) -> Option<Box<dyn Conn>> {
        self.try_clone().ok().map(|c| Box::new(c) as Box<dyn Conn>)
    }
}

/// Longest command line read (HAProxy's buffer is of this order too).
const MAX_LINE: u64 = 16 * 1024;

/// One client: lines of commands until it leaves, `quit`, or (non-interactive) the first
/// line has been answered. An idle client is closed after `stats timeout`.
fn serve_conn(api: &Api, conn: Box<dyn Conn>, client: &Client, expose_fd: bool) {
    conn.set_timeout(api.model.global.stats_timeout);
    let Some(mut out) = conn.try_clone_box() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut interactive = false;
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.trim() == "_getsocks" {
            // HAProxy's internal command for `-x`: the listening sockets, then the connection
            // ends. On a socket without `expose-fd listeners` (or a TCP one, which cannot carry
            // descriptors) nothing is sent, as HAProxy does: the new process sees no count,
            // warns, and binds on its own.
            if let (true, Some(unix)) = (expose_fd, reader.get_ref().as_unix()) {
                // TLS ticket keys go along to level admin only (net/ticket_handover.rs).
                if let Err(e) = crate::net::handover::send(unix, client.level == ApiLevel::Admin) {
                    eprintln!("ringlb: _getsocks: cannot send the listening sockets: {e}");
                }
            }
            return;
        }
        let mut reply = String::new();
        let mut quit = false;
        for cmd in line.trim_end_matches(['\r', '\n']).split(';') {
            match commands::run(api, client, cmd.trim(), &mut interactive) {
                commands::Outcome::Reply(text) => reply.push_str(&text),
                commands::Outcome::Quit => {
                    quit = true;
                    break;
                }
            }
        }
        if interactive && !quit {
            reply.push_str("> ");
        }
        if out.write_all(reply.as_bytes()).is_err() || quit || !interactive {
            return;
        }
    }
}
