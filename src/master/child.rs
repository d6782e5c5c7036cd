//! The worker's side of master-worker mode: what the master passed it, and the two things it
//! owes the master (its internal socket, and word that it serves).
//!
//! The master re-executes this binary rather than forking: by then it has threads (signals,
//! the master CLI), and a fork of a threaded process may only call async-signal-safe functions
//! until it execs. The environment says "you are a worker of master PID": it is read and
//! removed first thing in `main`, before any thread exists, so nothing the worker starts
//! inherits it.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::model::{ApiAddr, ApiLevel, Loc, StatsSocket};

/// The write end of the pipe the master reads "ready" from.
pub const ENV_READY_FD: &str = "RINGLB_MWORKER_READY_FD";
/// The internal runtime API socket the worker binds (master CLI forwarding, `_getsocks`).
pub const ENV_SOCKET: &str = "RINGLB_MWORKER_SOCKET";
/// The master's pid: a worker whose parent is another process has lost its master.
pub const ENV_MASTER: &str = "RINGLB_MWORKER_MASTER";
/// Set for a daemonized master's first worker: once it serves, its stderr (still the
/// terminal the master was started from) goes to /dev/null, as the master's does.
pub const ENV_DETACH: &str = "RINGLB_MWORKER_DETACH";

pub struct Role {
    ready: Option<OwnedFd>,
    socket: PathBuf,
    master: i32,
    detach: bool,
}

impl Role {
    /// This process's role when a master started it; `None` for a plain process.
    /// Call before any thread is started (it edits the environment).
    pub fn from_env() -> Option<Role> {
        let master = std::env::var(ENV_MASTER).ok()?.parse().ok()?;
        let socket = std::env::var_os(ENV_SOCKET)?.into();
        let fd: Option<RawFd> = std::env::var(ENV_READY_FD)
            .ok()
            .and_then(|v| v.parse().ok());
        let detach = std::env::var_os(ENV_DETACH).is_some();
        for k in [ENV_MASTER, ENV_SOCKET, ENV_READY_FD, ENV_DETACH] {
            std::env::remove_var(k);
        }
        // SAFETY: the master made this descriptor for us alone (its end of the pipe is the
        // read end); a number that is not open makes `fcntl` fail and is then not adopted.
        let ready = fd
            .filter(|&fd| fd > 2 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
            .map(|fd| {
                // SAFETY: as above: open, ours, adopted exactly once. CLOEXEC: nothing the
                // worker might exec later keeps the master waiting.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    OwnedFd::from_raw_fd(fd)
                }
            });
        Some(Role {
            ready,
            socket,
            master,
            detach,
        })
    }

    /// The worker's internal runtime API socket, added to its `stats socket` lines: admin
    /// (the master CLI's `@1 CMD` arrives here, with the master CLI's own level checked
    /// before), mode 600, and `expose-fd listeners` so the next worker takes its listeners.
    pub fn internal_socket(&self) -> StatsSocket {
        StatsSocket {
            addr: ApiAddr::Unix(self.socket.clone()),
            mode: Some(0o600),
            level: ApiLevel::Admin,
            expose_fd: true,
            internal: true,
            loc: Loc {
                file: Arc::from("(master-worker)"),
                line: 0,
            },
        }
    }

    /// Dies with the master: asks the kernel for SIGTERM (a graceful stop) when the master
    /// ends, and checks the master has not ended already. Called at start and again after
    /// dropping privileges, which clears the setting.
    pub fn guard(&self) {
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid have no memory effects.
        let orphan = unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            libc::getppid() != self.master
        };
        if orphan {
            eprintln!(
                "[ALERT]    ({}) : the master process {} has gone: exiting.",
                std::process::id(),
                self.master
            );
            std::process::exit(1);
        }
    }

    /// Tells the master this worker serves: one line with its version, then the pipe closes.
    pub fn tell_ready(&mut self) {
        if let Some(fd) = self.ready.take() {
            let mut pipe = std::fs::File::from(fd);
            // A master that is gone cannot be told; PDEATHSIG ends this worker then.
            let _ = writeln!(pipe, "{}", env!("CARGO_PKG_VERSION"));
        }
        if self.detach {
            // SAFETY: dup2 of a descriptor we just opened onto stderr; the new one is closed.
            unsafe {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    libc::dup2(null, 2);
                    libc::close(null);
                }
            }
        }
    }
}
