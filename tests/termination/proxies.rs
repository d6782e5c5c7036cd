//! HAProxy 2.6 for the termination tests (as tests/e2e_vs_haproxy.rs runs it, logging to its
//! stdout), and the httplog / tcplog lines both proxies write, parsed into `Logged`.

use super::common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
/// How long a proxy may take to write the line of a request that has ended.
pub const LOG_WAIT: Duration = Duration::from_secs(5);

// HAProxy (as tests/e2e_vs_haproxy.rs runs it)

pub fn haproxy_bin() -> Option<String> {
    for p in ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"] {
        if Path::new(p).exists() {
            return Some(p.to_string());
        }
    }
    let out = Command::new("sh")
        .args(["-c", "command -v haproxy"])
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !p.is_empty()).then_some(p)
}

/// True when the comparison can run; without HAProxy, fails under CI and skips elsewhere.
pub fn haproxy_or_skip() -> bool {
    if haproxy_bin().is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("install haproxy (.ci/run does)");
    }
    eprintln!("skipping: haproxy is not installed (CI fails here instead)");
    false
}

/// A loopback port never handed out twice in this process (HAProxy refuses `bind :0`).
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
    pub child: Child,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub _dir: TempDir,
}

impl Haproxy {
    /// Runs `haproxy -db -f CFG` and waits (bounded) until `port` accepts; None when the port
    /// was taken meanwhile.
    pub fn start(cfg: &str, port: u16) -> Option<Haproxy> {
        let dir = TempDir::new();
        let path = dir.write("haproxy.cfg", cfg);
        let mut child = Command::new(haproxy_bin().unwrap())
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let lines = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let h = Haproxy {
            child,
            lines,
            _dir: dir,
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut h = h;
        loop {
            if let Ok(Some(status)) = h.child.try_wait() {
                thread::sleep(Duration::from_millis(50));
                let out = h.lines.lock().unwrap().join("\n");
                if out.contains("cannot bind") || out.contains("Address already in use") {
                    return None;
                }
                panic!("haproxy exited ({status})\n{out}\n--- config ---\n{cfg}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                // That probe connection is logged too (a request-less close): forget it.
                thread::sleep(Duration::from_millis(100));
                if !matches!(h.child.try_wait(), Ok(None)) {
                    // The probe reached another process that took the port meanwhile (a
                    // kernel-chosen port of a parallel test), and HAProxy could not bind.
                    return None;
                }
                h.lines.lock().unwrap().clear();
                return Some(h);
            }
            assert!(
                Instant::now() < deadline,
                "haproxy did not listen on {addr}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The log line, as both proxies write it

/// The fields of an httplog line the tests compare.
#[derive(Clone, Debug)]
pub struct Logged {
    pub frontend: String,
    pub backend: String,
    pub server: String,
    /// TR, Tw, Tc, Tr, Ta.
    pub timers: [i64; 5],
    pub status: i64,
    pub bytes: u64,
    /// The two letters (the cookie letters after them are `--` in both).
    pub state: String,
    pub retries: String,
    pub request: String,
    pub line: String,
}

/// An httplog line, or a tcplog one (`ip:port [date] fe be/srv Tw/Tc/Tt bytes TS
/// ac/fc/bc/sc/rc sq/bq`), whose fields go where the httplog ones are: timers
/// `[-1, Tw, Tc, -1, Tt]`, status -1, no request.
pub fn parse_line(line: &str) -> Option<Logged> {
    parse_http_line(line).or_else(|| parse_tcp_line(line))
}

pub fn parse_tcp_line(line: &str) -> Option<Logged> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let i = t
        .iter()
        .position(|w| w.starts_with('[') && w.ends_with(']'))?;
    t.get(i.checked_sub(1)?)?.parse::<SocketAddr>().ok()?;
    let (backend, server) = t.get(i + 2)?.split_once('/')?;
    let timers: Vec<i64> = t
        .get(i + 3)?
        .split('/')
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let [tw, tc, tt]: [i64; 3] = timers.try_into().ok()?;
    let state = t.get(i + 5)?;
    (state.len() == 2).then_some(())?;
    Some(Logged {
        frontend: t.get(i + 1)?.to_string(),
        backend: backend.to_string(),
        server: server.to_string(),
        timers: [-1, tw, tc, -1, tt],
        status: -1,
        bytes: t.get(i + 4)?.parse().ok()?,
        state: state.to_string(),
        retries: t.get(i + 6)?.rsplit('/').next()?.to_string(),
        request: String::new(),
        line: line.to_string(),
    })
}

/// `ip:port [date] fe be/srv TR/Tw/Tc/Tr/Ta status bytes - - TSCC ac/fc/bc/sc/rc sq/bq "req"`
pub fn parse_http_line(line: &str) -> Option<Logged> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let i = t
        .iter()
        .position(|w| w.starts_with('[') && w.ends_with(']'))?;
    t.get(i.checked_sub(1)?)?.parse::<SocketAddr>().ok()?;
    let (backend, server) = t.get(i + 2)?.split_once('/')?;
    let timers: Vec<i64> = t
        .get(i + 3)?
        .trim_start_matches('+')
        .split('/')
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    (timers.len() == 5).then_some(())?;
    let state = t.get(i + 8)?;
    Some(Logged {
        frontend: t.get(i + 1)?.to_string(),
        backend: backend.to_string(),
        server: server.to_string(),
        timers: timers.try_into().ok()?,
        status: t.get(i + 4)?.parse().ok()?,
        bytes: t.get(i + 5)?.parse().ok()?,
        state: state.get(..2)?.to_string(),
        retries: t.get(i + 9)?.rsplit('/').next()?.to_string(),
        request: line.split_once('"')?.1.trim_end_matches('"').to_string(),
        line: line.to_string(),
    })
}

/// Waits (bounded) for the `n`th httplog line among `lines()`.
pub fn wait_line(what: &str, n: usize, lines: impl Fn() -> Vec<String>) -> Logged {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let all = lines();
        let logged: Vec<Logged> = all.iter().filter_map(|l| parse_line(l)).collect();
        if let Some(l) = logged.get(n) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no log line #{n} within {LOG_WAIT:?}; output:\n{}",
            all.join("\n")
        );
        thread::sleep(Duration::from_millis(20));
    }
}
