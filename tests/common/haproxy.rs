//! HAProxy 2.6 beside ringlb, for tests outside e2e_vs_haproxy.rs that compare the two (that
//! file keeps its own runner, with its scenario machinery).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::TempDir;

/// True when HAProxy is installed; without it, fails under CI and skips elsewhere.
pub fn haproxy_or_skip(test: &str) -> bool {
    let found = Command::new("haproxy")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("install haproxy (.ci/run does)");
    }
    eprintln!("skipping {test}: haproxy is not installed (CI fails here instead)");
    false
}

/// A free loopback port: bound, then released (HAProxy refuses `bind :0`); never the same
/// twice in one test process.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Mutex::default);
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind probe listener");
        let port = l.local_addr().unwrap().port();
        if given.lock().unwrap().insert(port) {
            return port;
        }
    }
}

pub struct Haproxy {
    child: Child,
    log: Arc<Mutex<String>>,
    _dir: TempDir,
}

impl Haproxy {
    /// Runs `haproxy -db -f CFG`, where `cfg` binds `port`, and waits (bounded) until
    /// something listens there. Panics with HAProxy's output when it does not start.
    pub fn start(cfg: &str, port: u16) -> Haproxy {
        let dir = TempDir::new();
        let path = dir.write("haproxy.cfg", cfg);
        let mut child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let log: Arc<Mutex<String>> = Arc::default();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let mut h = Haproxy {
            child,
            log,
            _dir: dir,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !listening(addr) {
            if let Ok(Some(status)) = h.child.try_wait() {
                thread::sleep(Duration::from_millis(50));
                panic!("haproxy exited ({status})\n{}\n{cfg}", h.output());
            }
            assert!(
                Instant::now() < deadline,
                "haproxy not listening\n{}",
                h.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
        h
    }

    pub fn output(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// Whether `addr` accepts, seen from /proc (a probe connection would reach an
/// `accept-proxy` bind as a client without a header).
fn listening(addr: SocketAddr) -> bool {
    let port = format!(":{:04X}", addr.port());
    let listens = |l: &str| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1].ends_with(&port) && f[3] == "0A"
    };
    std::fs::read_to_string("/proc/net/tcp")
        .map(|t| t.lines().any(listens))
        .unwrap_or_else(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok())
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
