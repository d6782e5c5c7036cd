//! The master's loop: one event at a time, on the main thread (the only one that starts
//! workers, see spawn.rs), each changing the process table and telling systemd.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard};

use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};

use super::procs::{Procs, Stage, Worker};
use super::{alert, kill, notify, spawn, warning, Event};
use crate::process;

/// What the first worker's readiness completes: the daemonizing parent, `-sf`/`-st`.
pub(super) struct FirstStart {
    pub(super) ready_pipe: Option<i32>,
    pub(super) soft: Vec<i32>,
    pub(super) hard: Vec<i32>,
}

pub(super) struct Master {
    pub(super) plan: spawn::Plan,
    pub(super) events: Sender<Event>,
    pub(super) procs: Arc<Mutex<Procs>>,
    pub(super) notify: Option<notify::Notifier>,
    pub(super) files: Vec<PathBuf>,
    pub(super) quiet: bool,
    pub(super) exit_on_failure: bool,
    pub(super) seq: u32,
    pub(super) stopping: bool,
    pub(super) exit_code: i32,
    /// A reload asked while another was starting its worker: run once that one ends.
    pub(super) reload_queued: bool,
    /// Until the first worker serves (its failure then ends the master).
    pub(super) first: Option<FirstStart>,
}

impl Master {
    pub(super) fn run(&mut self, rx: &Receiver<Event>) -> i32 {
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
                Event::Exited { pid, status, child } => self.on_exit(pid, status, child),
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

    pub(super) fn start_worker(&mut self, take: Option<&Path>) {
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

    fn on_exit(&mut self, pid: i32, status: ExitStatus, mut child: std::process::Child) {
        let removed = self.table().remove(pid);
        // Reaped only now, out of the table (see Event::Exited).
        let _ = child.wait();
        let Some(w) = removed else {
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
