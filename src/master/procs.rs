//! The master's table of processes: itself, the current worker, the old ones still
//! finishing, and the one starting during a reload; `show proc` renders it in HAProxy 2.6's
//! layout. The master's event loop writes it; master CLI threads read it (a mutex taken per
//! CLI command and per process event, never by a worker).

use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Spawned, not yet serving (a reload in progress).
    Starting,
    /// Serving: `@1`.
    Current,
    /// Told to finish (SIGUSR1) after a newer worker took over; reachable as `@!PID`.
    Leaving,
}

#[derive(Clone, Debug)]
pub struct Worker {
    pub pid: i32,
    /// Its internal runtime API socket (admin, `expose-fd listeners`).
    pub socket: PathBuf,
    pub started: Instant,
    /// Master reloads this worker has lived through (HAProxy counts failed ones too).
    pub reloads: u32,
    /// The version the worker reported when ready ("-" before).
    pub version: String,
    pub stage: Stage,
}

pub struct Procs {
    pub started: Instant,
    pub reloads: u32,
    /// Failed reloads since the last one that worked (HAProxy resets it on success).
    pub failed: u32,
    /// The last reload failed: the master CLI prompt says `master[ReloadFailed]>`.
    pub last_failed: bool,
    pub workers: Vec<Worker>,
}

impl Procs {
    pub fn new() -> Procs {
        Procs {
            started: Instant::now(),
            reloads: 0,
            failed: 0,
            last_failed: false,
            workers: Vec::new(),
        }
    }

    pub fn find(&self, pid: i32) -> Option<&Worker> {
        self.workers.iter().find(|w| w.pid == pid)
    }

    pub fn find_mut(&mut self, pid: i32) -> Option<&mut Worker> {
        self.workers.iter_mut().find(|w| w.pid == pid)
    }

    /// The serving worker (`@1`).
    pub fn current(&self) -> Option<&Worker> {
        self.workers.iter().find(|w| w.stage == Stage::Current)
    }

    pub fn starting(&self) -> Option<&Worker> {
        self.workers.iter().find(|w| w.stage == Stage::Starting)
    }

    pub fn remove(&mut self, pid: i32) -> Option<Worker> {
        let i = self.workers.iter().position(|w| w.pid == pid)?;
        Some(self.workers.remove(i))
    }

    /// `show proc`, column for column as HAProxy 2.6 prints it (`# programs` stays empty:
    /// ringlb has no `program` sections).
    pub fn show(&self, version: &str) -> String {
        let mut out = format!(
            "#{:<14} {:<15} {:<15} {:<15} {:<15}\n",
            "<PID>", "<type>", "<reloads>", "<uptime>", "<version>"
        );
        let reloads = format!("{} [failed: {}]", self.reloads, self.failed);
        out.push_str(&row(
            std::process::id(),
            "master",
            &reloads,
            self.started.elapsed(),
            version,
        ));
        out.push_str("# workers\n");
        let row_of = |w: &Worker| {
            let pid = u32::try_from(w.pid).unwrap_or(0);
            row(
                pid,
                "worker",
                &w.reloads.to_string(),
                w.started.elapsed(),
                &w.version,
            )
        };
        for w in self.workers.iter().filter(|w| w.stage == Stage::Current) {
            out.push_str(&row_of(w));
        }
        let old: Vec<&Worker> = self
            .workers
            .iter()
            .filter(|w| w.stage == Stage::Leaving)
            .collect();
        if !old.is_empty() {
            out.push_str("# old workers\n");
            for w in old {
                out.push_str(&row_of(w));
            }
        }
        out.push_str("# programs\n");
        out
    }
}

impl Default for Procs {
    fn default() -> Self {
        Procs::new()
    }
}

fn row(pid: u32, kind: &str, reloads: &str, up: Duration, version: &str) -> String {
    format!(
        "{pid:<15} {kind:<15} {reloads:<15} {:<15} {version:<15}\n",
        uptime(up)
    )
}

/// HAProxy's `%dd%02dh%02dm%02ds`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d{:02}h{:02}m{:02}s",
        s / 86400,
        (s % 86400) / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_haproxy() {
        let mut p = Procs::new();
        p.reloads = 2;
        p.failed = 1;
        let w = |pid, stage| Worker {
            pid,
            socket: PathBuf::new(),
            started: Instant::now(),
            reloads: 1,
            version: "0.1.0".into(),
            stage,
        };
        p.workers.push(w(42, Stage::Current));
        p.workers.push(w(41, Stage::Leaving));
        p.workers.push(w(43, Stage::Starting));
        let text = p.show("0.1.0");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "#<PID>          <type>          <reloads>       <uptime>        <version>      "
        );
        assert!(lines[1].contains("master          2 [failed: 1]   0d00h00m00s     0.1.0"));
        assert_eq!(lines[2], "# workers");
        assert!(lines[3].starts_with("42              worker          1               0d00h"));
        assert_eq!(lines[4], "# old workers");
        assert!(lines[5].starts_with("41 "));
        assert_eq!(lines[6], "# programs");
        assert_eq!(lines.len(), 7, "the starting worker is not listed yet");
        assert_eq!(uptime(Duration::from_secs(90061)), "1d01h01m01s");
    }
}
