//! Master-worker mode (`-W`, `-Ws`, the `master-worker` global keyword), as HAProxy 2.6 runs
//! it: a master that serves no traffic supervises one worker, reloads on SIGUSR2 (or SIGHUP,
//! or the master CLI's `reload`) by starting a new worker that takes the old one's listening
//! sockets, and stops with its workers.
//!
//! ```text
//!  mod.rs     the master: start-up (daemon, pid file), its event loop and what each event
//!             does (signals, a worker ready or gone, a reload asked by the master CLI)
//!  spawn.rs   starting a worker: this binary re-executed, a ready pipe, a waiter thread
//!  child.rs   the worker's side: the environment the master set, its internal socket,
//!             "ready" on the pipe, dying with the master (PR_SET_PDEATHSIG)
//!  procs.rs   the table of processes (master, current, leaving, starting) and `show proc`
//!  cli.rs     the master CLI (`-S`): show proc, reload, help, prompt, `@1 CMD` forwarding
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
mod spawn;

pub use child::Role;

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{unbounded, Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use crate::cli::Args;
use crate::config::model::Model;
use crate::process;
use procs::{Procs, Stage, Worker};

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
    Exited {
        pid: i32,
        status: ExitStatus,
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
    let mut m = Master {
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
        first: Some(FirstStart {
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

/// What the first worker's readiness completes: the daemonizing parent, `-sf`/`-st`.
struct FirstStart {
    ready_pipe: Option<i32>,
    soft: Vec<i32>,
    hard: Vec<i32>,
}

struct Master {
    plan: spawn::Plan,
    events: Sender<Event>,
    procs: Arc<Mutex<Procs>>,
    notify: Option<notify::Notifier>,
    files: Vec<PathBuf>,
    quiet: bool,
    exit_on_failure: bool,
    seq: u32,
    stopping: bool,
    exit_code: i32,
    /// A reload asked while another was starting its worker: run once that one ends.
    reload_queued: bool,
    /// Until the first worker serves (its failure then ends the master).
    first: Option<FirstStart>,
}

impl Master {
    fn run(&mut self, rx: &Receiver<Event>) -> i32 {
        loop {
            if self.stopping && self.table().workers.is_empty() {
                warning(&format!(
                    "All workers exited. Exiting... ({})",
                    self.exit_code
                ));
                return self.exit_code;
            }
            // `self.events` is a sender: the channel never disconnects.
            let Ok(ev) = rx.recv() else {
                return 1;
            };
            match ev {
                Event::Signal(sig) => self.on_signal(sig),
                Event::Reload => self.reload(),
                Event::Ready { pid, version } => self.on_ready(pid, &version),
                Event::Exited { pid, status } => self.on_exit(pid, status),
            }
        }
    }

    fn table(&self) -> MutexGuard<'_, Procs> {
        // A CLI thread that panicked mid-read leaves the table as it was: still usable.
        self.procs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn on_signal(&mut self, sig: i32) {
        match sig {
            SIGUSR2 | SIGHUP => self.reload(),
            SIGTERM | SIGINT => self.stop(libc::SIGTERM),
            SIGUSR1 => self.stop(libc::SIGUSR1),
            _ => warning("SIGQUIT received and ignored: the master has no memory pools to dump."),
        }
    }

    /// Passes the stop on to every worker: SIGUSR1 finishes softly, SIGTERM within the grace
    /// period (a second SIGTERM, passed on too, ends the workers at once).
    fn stop(&mut self, sig: i32) {
        if !self.stopping {
            warning("Exiting Master process...");
            if let Some(n) = &self.notify {
                n.stopping();
            }
        }
        self.stopping = true;
        let pids: Vec<i32> = self.table().workers.iter().map(|w| w.pid).collect();
        for pid in pids {
            kill(pid, sig);
        }
    }

    fn start_worker(&mut self, take: Option<&Path>) {
        self.seq += 1;
        match spawn::worker(&self.plan, self.seq, take, &self.events) {
            Ok((pid, socket)) => {
                self.table().workers.push(Worker {
                    pid,
                    socket,
                    started: std::time::Instant::now(),
                    reloads: 0,
                    version: "-".into(),
                    stage: Stage::Starting,
                });
                self.notice(&format!("New worker ({pid}) forked"));
            }
            Err(e) => {
                alert(&e);
                self.load_failed();
            }
        }
    }

    fn reload(&mut self) {
        if self.stopping {
            return;
        }
        if self.table().starting().is_some() {
            self.reload_queued = true;
            return;
        }
        if let Some(n) = &self.notify {
            n.reloading();
        }
        self.notice("Reloading ringlb");
        {
            let mut t = self.table();
            t.reloads += 1;
            for w in &mut t.workers {
                w.reloads += 1;
            }
        }
        match crate::config::load(&self.files) {
            Ok(loaded) => {
                if !self.quiet {
                    for w in &loaded.warnings {
                        warning(&w.to_string());
                    }
                }
                self.exit_on_failure = !loaded
                    .model
                    .global
                    .master_worker
                    .is_some_and(|m| m.no_exit_on_failure);
                let take = self.table().current().map(|w| w.socket.clone());
                self.start_worker(take.as_deref());
            }
            Err(diags) => {
                // HAProxy's master prints the parse errors and keeps the old worker.
                for d in &diags {
                    alert(&d.to_string());
                }
                self.load_failed();
            }
        }
    }

    fn load_failed(&mut self) {
        {
            let mut t = self.table();
            t.failed += 1;
            t.last_failed = true;
        }
        if self.first.is_some() {
            // Nothing serves and nothing will: the start failed.
            alert("the first worker did not start: exiting.");
            self.stopping = true;
            self.exit_code = 1;
            self.first = None;
            return;
        }
        warning("Loading failure!");
        if let Some(n) = &self.notify {
            n.ready("Reload failed!");
        }
        self.run_queued_reload();
    }

    fn run_queued_reload(&mut self) {
        if std::mem::take(&mut self.reload_queued) {
            self.reload();
        }
    }

    fn on_ready(&mut self, pid: i32, version: &str) {
        if self.stopping {
            return;
        }
        let old: Vec<i32> = {
            let mut t = self.table();
            let Some(w) = t.find_mut(pid) else {
                return;
            };
            w.version = version.to_string();
            w.stage = Stage::Current;
            t.failed = 0;
            t.last_failed = false;
            let mut old = Vec::new();
            for w in t.workers.iter_mut() {
                if w.pid != pid && w.stage == Stage::Current {
                    w.stage = Stage::Leaving;
                    old.push(w.pid);
                }
            }
            old
        };
        // The new worker holds the listeners now: the old ones finish their requests.
        for p in old {
            kill(p, libc::SIGUSR1);
        }
        self.notice("Loading success.");
        if let Some(n) = &self.notify {
            n.ready("Ready.");
        }
        if let Some(first) = self.first.take() {
            process::signal_old_processes(&first.soft, &first.hard);
            if let Some(fd) = first.ready_pipe {
                process::tell_parent_ready(fd);
                // Later workers inherit the master's stderr, /dev/null from now on.
                self.plan.detach = false;
            }
        }
        self.run_queued_reload();
    }

    fn on_exit(&mut self, pid: i32, status: ExitStatus) {
        let Some(w) = self.table().remove(pid) else {
            return;
        };
        let (code, why) = spawn::describe(status);
        match w.stage {
            Stage::Starting => {
                alert(&format!(
                    "New worker ({pid}) exited with code {code} ({why}) before it served"
                ));
                if !self.stopping {
                    self.load_failed();
                }
            }
            Stage::Current => {
                alert(&format!(
                    "Current worker ({pid}) exited with code {code} ({why})"
                ));
                if self.stopping {
                    return;
                }
                if self.exit_on_failure {
                    alert("exit-on-failure: killing every processes with SIGTERM");
                    self.exit_code = code;
                    self.stop(libc::SIGTERM);
                } else {
                    warning("no-exit-on-failure: the master keeps running; a reload starts a new worker");
                }
            }
            Stage::Leaving => {
                warning(&format!(
                    "Former worker ({pid}) exited with code {code} ({why})"
                ));
            }
        }
    }

    fn notice(&self, msg: &str) {
        if !self.quiet {
            eprintln!("[NOTICE]   ({}) : {msg}", std::process::id());
        }
    }
}

fn warning(msg: &str) {
    eprintln!("[WARNING]  ({}) : {msg}", std::process::id());
}

fn alert(msg: &str) {
    eprintln!("[ALERT]    ({}) : {msg}", std::process::id());
}

fn kill(pid: i32, sig: i32) {
    // SAFETY: kill only sends a signal; `pid` is our own child, not yet reaped (its waiter
    // thread reports the exit, and only then is it removed from the table).
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
