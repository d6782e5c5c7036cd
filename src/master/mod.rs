//! Master-worker mode (`-W`, `-Ws`, the `master-worker` global keyword), as HAProxy 2.6 runs
//! it: a master that serves no traffic supervises one worker, reloads on SIGUSR2 (or SIGHUP,
//! or the master CLI's `reload`) by starting a new worker that takes the old one's listening
//! sockets, and stops with its workers.
//!
//! ```text
//!  mod.rs     the master's start-up (daemon, pid file, signals, its private directory)
//!  supervisor.rs  its event loop and what each event does: signals, a worker ready or
//!             gone, a reload (asked by SIGUSR2/SIGHUP or the master CLI)
//!  spawn.rs   starting a worker: this binary re-executed, a ready pipe, a waiter thread
//!  child.rs   the worker's side: the environment the master set, its internal socket,
//!             "ready" on the pipe, dying with the master (PR_SET_PDEATHSIG)
//!  procs.rs   the table of processes (master, current, leaving, starting) and `show proc`
//!  cli.rs     the master CLI's sockets (`-S`), its connections and their lines
//!  session.rs a CLI session's commands: show proc, reload, help, prompt, `@1 CMD` forwarding
//!  notify.rs  `-Ws`: READY/RELOADING/STOPPING to systemd over NOTIFY_SOCKET
//! ```
//!
//! A reload is the `-x`/`-sf` reload (net/handover.rs, launch/handover.rs) driven by the
//! master: each worker has an internal stats socket (admin, `expose-fd listeners`) in the
//! master's private directory; the new worker is started with `-x` naming the current one's,
//! and once it says it serves, the old one gets SIGUSR1 and finishes its requests. A config
//! that does not load keeps the old worker serving; the errors go to the master's stderr.
//!
//! Everything here runs on the master's own threads; nothing touches a worker's memory.

mod child;
mod cli;
mod notify;
mod procs;
mod session;
mod spawn;
mod supervisor;

pub use child::Role;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{unbounded, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::cli::Args;
use crate::config::model::Model;
use crate::process;
use procs::Procs;

/// What the master's loop reacts to.
pub enum Event {
    Signal(i32),
    /// The master CLI's `reload`.
    Reload,
    /// A worker wrote its ready line: it serves.
    Ready {
        pid: i32,
        version: String,
    },
    /// A worker ended. It stays a zombie until `child` is waited for, after it has left the
    /// table: its pid cannot be reused by another process while the master may signal it.
    Exited {
        pid: i32,
        status: ExitStatus,
        child: std::process::Child,
    },
}

/// Master-worker mode was asked for, on the command line or in the config.
pub fn wanted(args: &Args, model: &Model) -> bool {
    args.master_worker || model.global.master_worker.is_some()
}

/// Runs the master until its last worker has gone; returns the exit status.
pub fn run(args: Args, model: Model) -> Result<i32, String> {
    let daemon = (args.daemon || model.global.daemon) && !args.foreground;
    let pidfile = args.pidfile.clone().or(model.global.pidfile.clone());
    // Before any thread: a fork is safe only then.
    let ready_pipe = if daemon {
        Some(process::daemonize()?)
    } else {
        None
    };
    if let Some(p) = &pidfile {
        process::write_pidfile(p)?;
    }
    let result = supervise(args, &model, ready_pipe);
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    result
}

fn supervise(args: Args, model: &Model, ready_pipe: Option<i32>) -> Result<i32, String> {
    process::ignore_stray_signals();
    let (tx, rx) = unbounded();
    forward_signals(tx.clone())?;
    let dir = PrivateDir::create()?;
    let notify = if args.systemd {
        match notify::Notifier::from_env() {
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                warning(&e);
                None
            }
            None => None,
        }
    } else {
        None
    };
    let procs = Arc::new(Mutex::new(Procs::new()));
    let mut master_cli = cli::MasterCli::bind(&args.master_cli)?;
    master_cli.serve(Arc::clone(&procs), tx.clone())?;
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program's path to start workers: {e}"))?;
    let mut m = supervisor::Master {
        plan: spawn::Plan {
            exe,
            args: worker_args(&args),
            dir: dir.0.clone(),
            detach: ready_pipe.is_some(),
        },
        events: tx,
        procs,
        notify,
        files: args.files.clone(),
        quiet: args.quiet,
        exit_on_failure: !model
            .global
            .master_worker
            .is_some_and(|m| m.no_exit_on_failure),
        seq: 0,
        stopping: false,
        exit_code: 0,
        reload_queued: false,
        first: Some(supervisor::FirstStart {
            ready_pipe,
            soft: args.soft_stop_pids.clone(),
            hard: args.hard_stop_pids.clone(),
        }),
    };
    m.start_worker(args.take_sockets.as_deref());
    Ok(m.run(&rx))
}

/// The worker's command line: the same files and output options; never the master's own
/// (-W, -S, -D, -p, -sf): the worker is told what it is by its environment.
fn worker_args(args: &Args) -> Vec<String> {
    let mut out = Vec::new();
    for f in &args.files {
        out.push("-f".to_string());
        out.push(f.display().to_string());
    }
    if args.quiet {
        out.push("-q".into());
    }
    if args.debug {
        out.push("-d".into());
    }
    out
}

/// The signal thread: every signal becomes an event for the main thread, which alone starts
/// workers (see spawn.rs on PR_SET_PDEATHSIG).
fn forward_signals(tx: Sender<Event>) -> Result<(), String> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP, SIGQUIT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("ringlb-master-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if tx.send(Event::Signal(sig)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

fn warning(msg: &str) {
    eprintln!("[WARNING]  ({}) : {msg}", std::process::id());
}

fn alert(msg: &str) {
    eprintln!("[ALERT]    ({}) : {msg}", std::process::id());
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill only sends a signal; `pid` is our own child, not yet reaped (a worker is
    // reaped only once out of the table, Event::Exited).
    if pid > 0 && unsafe { libc::kill(pid, sig) } != 0 {
        warning(&format!(
            "cannot signal worker {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
}

/// The master's own directory for its workers' internal sockets: mode 700, under systemd's
/// RuntimeDirectory when there is one, else the temp dir; removed when the master ends.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn create() -> Result<PrivateDir, String> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("RUNTIME_DIRECTORY")
            .map(PathBuf::from)
            // systemd may list several, separated by ':'; the first is ours.
            .and_then(|p| {
                p.to_str()
                    .and_then(|s| s.split(':').next())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("ringlb-master-{}", std::process::id()));
        // A directory left by a master that had this pid before (never followed: a
        // symlink is removed, not its target).
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(PrivateDir(dir))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
