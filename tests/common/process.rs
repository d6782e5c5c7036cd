//! The ringlb process: temp dirs, start with `-f FILE -db`, wait for `ready`, bind lines,
//! signals, `-c` runs.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// A directory under the system temp dir, unique per process and call, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "ringlb-e2e-{}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            nanos
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// The ringlb process

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    /// Both output pipes reached EOF: the process is gone.
    closed_pipes: usize,
}

type SharedLog = Arc<(Mutex<Log>, Condvar)>;

pub struct Ringlb {
    child: Child,
    log: SharedLog,
    binds: Vec<(String, SocketAddr)>,
    pub dir: TempDir,
    pub cfg_path: PathBuf,
    driver: String,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringlb")
}

fn spawn_line_reader(pipe: impl Read + Send + 'static, log: SharedLog, prefix: &'static str) {
    thread::spawn(move || {
        let mut reader = io::BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match io::BufRead::read_line(&mut reader, &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let (lock, cv) = &*log;
                    let text = format!("{prefix}{}", line.trim_end_matches(['\r', '\n']));
                    lock.lock().unwrap().lines.push(text);
                    cv.notify_all();
                }
            }
        }
        let (lock, cv) = &*log;
        lock.lock().unwrap().closed_pipes += 1;
        cv.notify_all();
    });
}

/// True when `line` has `word` as a whole word ("ready", not "already").
fn has_word(line: &str, word: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == word)
}

/// `ringlb: proxy 'NAME' listening on 127.0.0.1:PORT`
fn parse_bind_line(line: &str) -> Option<(String, SocketAddr)> {
    let rest = &line[line.find("proxy '")? + "proxy '".len()..];
    let name = &rest[..rest.find('\'')?];
    let after = &rest[rest.find("listening on ")? + "listening on ".len()..];
    let addr = after.split_whitespace().next()?.parse().ok()?;
    Some((name.to_string(), addr))
}

impl Ringlb {
    /// Writes `cfg`, starts `ringlb -f CFG -db` with `RINGLB_DRIVER=driver`, waits for `ready`.
    pub fn start(cfg: &str, driver: &str) -> Ringlb {
        Ringlb::start_in(TempDir::new(), cfg, driver)
    }

    /// Like `start`, in a dir the test has already put files in (e.g. an errorfile).
    pub fn start_in(dir: TempDir, cfg: &str, driver: &str) -> Ringlb {
        let cfg_path = dir.write("ringlb.cfg", cfg);
        Ringlb::start_files(dir, &[cfg_path], driver, cfg)
    }

    /// Runs `ringlb -f F1 [-f F2 ...] -db` on files already in `dir`; `shown` is printed with
    /// any start-up failure.
    pub fn start_files(dir: TempDir, files: &[PathBuf], driver: &str, shown: &str) -> Ringlb {
        Ringlb::start_files_args(dir, files, &[], driver, shown)
    }

    /// Like `start_files`, with extra command-line arguments after `-db` (e.g. `-sf PID`).
    pub fn start_files_args(
        dir: TempDir,
        files: &[PathBuf],
        args: &[String],
        driver: &str,
        shown: &str,
    ) -> Ringlb {
        Ringlb::start_files_cwd(dir, files, args, &[], driver, shown, None)
    }

    /// Like `start_files_args`, with environment variables added (e.g. NOTIFY_SOCKET).
    pub fn start_files_env(
        dir: TempDir,
        files: &[PathBuf],
        args: &[String],
        env: &[(&str, &str)],
        driver: &str,
        shown: &str,
    ) -> Ringlb {
        Ringlb::start_files_cwd(dir, files, args, env, driver, shown, None)
    }

    /// Like `start_in`, run from `dir` itself, so that relative paths in the config (the
    /// seed's `crt ./key.pem`) name files the test put there.
    pub fn start_in_cwd(dir: TempDir, cfg: &str, driver: &str) -> Ringlb {
        let cfg_path = dir.write("ringlb.cfg", cfg);
        let cwd = dir.path().to_path_buf();
        Ringlb::start_files_cwd(dir, &[cfg_path], &[], &[], driver, cfg, Some(&cwd))
    }

    fn start_files_cwd(
        dir: TempDir,
        files: &[PathBuf],
        args: &[String],
        env: &[(&str, &str)],
        driver: &str,
        shown: &str,
        cwd: Option<&Path>,
    ) -> Ringlb {
        let cfg_path = files[0].clone();
        let mut cmd = Command::new(bin());
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        for f in files {
            cmd.arg("-f").arg(f);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("-db")
            .args(args)
            .env("RINGLB_DRIVER", driver)
            // For `env(...)` in e2e_rules.
            .env("RINGLB_TEST_ENV", "from-env")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ringlb");
        let log: SharedLog = Arc::default();
        spawn_line_reader(child.stderr.take().unwrap(), log.clone(), "");
        spawn_line_reader(child.stdout.take().unwrap(), log.clone(), "[stdout] ");
        let mut lb = Ringlb {
            child,
            log,
            binds: Vec::new(),
            dir,
            cfg_path,
            driver: driver.to_string(),
        };
        lb.wait_ready(shown);
        lb
    }

    fn wait_ready(&mut self, cfg: &str) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let (lock, cv) = &*self.log;
        let mut log = lock.lock().unwrap();
        loop {
            if log.lines.iter().any(|l| has_word(l, "ready")) {
                break;
            }
            let now = Instant::now();
            if log.closed_pipes == 2 || now >= deadline {
                let why = if log.closed_pipes == 2 {
                    "exited"
                } else {
                    "timed out"
                };
                let lines = log.lines.join("\n");
                drop(log);
                let status = self.wait_exit(Duration::from_secs(1));
                panic!(
                    "ringlb {why} before printing 'ready' (status {status:?})\n--- output ---\n\
                     {lines}\n--- config ---\n{cfg}"
                );
            }
            log = cv.wait_timeout(log, deadline - now).unwrap().0;
        }
        self.binds = log
            .lines
            .iter()
            .filter_map(|l| parse_bind_line(l))
            .collect();
        // Otherwise a test named after a driver could silently run on the other one.
        let ready = log.lines.iter().find(|l| has_word(l, "ready")).unwrap();
        assert!(
            has_word(ready, &self.driver),
            "asked for RINGLB_DRIVER={} but the ready line does not name it: {ready:?}",
            self.driver
        );
    }

    /// The address proxy `name` listens on, from its `listening on` line.
    pub fn addr(&self, name: &str) -> SocketAddr {
        match self.binds.iter().find(|(n, _)| n == name) {
            Some((_, a)) => *a,
            None => panic!(
                "no bind line for proxy '{name}'; output:\n{}",
                self.output()
            ),
        }
    }

    /// Every address printed for proxy `name`, one per bind line.
    pub fn addrs(&self, name: &str) -> Vec<SocketAddr> {
        self.binds
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| *a)
            .collect()
    }

    /// Waits (bounded) until some output line contains `needle`; false on timeout or exit.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.log;
        let mut log = lock.lock().unwrap();
        loop {
            if log.lines.iter().any(|l| l.contains(needle)) {
                return true;
            }
            let now = Instant::now();
            if log.closed_pipes == 2 || now >= deadline {
                return false;
            }
            log = cv.wait_timeout(log, deadline - now).unwrap().0;
        }
    }

    /// Everything the process printed so far (stderr, and stdout lines prefixed).
    pub fn output(&self) -> String {
        self.log.0.lock().unwrap().lines.join("\n")
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid; it has not been reaped while `self` lives
        // unless `wait_exit` returned a status, after which callers do not signal.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            // No portable readiness signal for child exit without a new crate: poll briefly.
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `ringlb -c -f CFG` (bounded) and returns (exit code, stdout+stderr, cfg path).
    pub fn check(cfg: &str) -> CheckResult {
        let dir = TempDir::new();
        let path = dir.write("check.cfg", cfg);
        let args = vec![
            "-c".to_string(),
            "-f".to_string(),
            path.display().to_string(),
        ];
        let (code, output) = run_bounded(&args, Duration::from_secs(10));
        CheckResult {
            code,
            output,
            path,
            _dir: dir,
        }
    }
}

impl Drop for Ringlb {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub struct CheckResult {
    pub code: Option<i32>,
    pub output: String,
    pub path: PathBuf,
    _dir: TempDir,
}

/// Runs the binary with `args` and no config of its own; kills it after `timeout`.
pub fn run_bounded(args: &[String], timeout: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringlb");
    let log: SharedLog = Arc::default();
    spawn_line_reader(child.stderr.take().unwrap(), log.clone(), "");
    spawn_line_reader(child.stdout.take().unwrap(), log.clone(), "");
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    // The pipes close right after exit; wait for the readers so no line is lost.
    let (lock, cv) = &*log;
    let mut l = lock.lock().unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    while l.closed_pipes < 2 && Instant::now() < end {
        l = cv.wait_timeout(l, Duration::from_millis(100)).unwrap().0;
    }
    assert!(
        status.is_some(),
        "ringlb {args:?} did not exit within {timeout:?}"
    );
    (status.and_then(|s| s.code()), l.lines.join("\n"))
}
