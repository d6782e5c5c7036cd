//! What the log tests share: a UDP syslog receiver, HAProxy 2.6 run beside ringlb, a client
//! that sends one request per connection, and the normalisation that leaves out of a line
//! what must differ between two runs (client ports, dates, timer values, pids).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::TempDir;

/// A syslog receiver on 127.0.0.1, port 0.
pub struct Syslog {
    sock: UdpSocket,
    pub addr: SocketAddr,
}

impl Syslog {
    pub fn start() -> Syslog {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind syslog receiver");
        let addr = sock.local_addr().expect("receiver address");
        Syslog { sock, addr }
    }

    /// Datagrams until `n` came whose text contains `filter`, or `timeout` passed.
    pub fn collect(&self, n: usize, filter: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = self.sock.set_read_timeout(Some(left));
            match self.sock.recv(&mut buf) {
                Ok(len) => {
                    let s = String::from_utf8_lossy(&buf[..len]).into_owned();
                    if s.contains(filter) {
                        got.push(s);
                    }
                }
                Err(_) => break,
            }
        }
        got
    }
}

pub fn haproxy_present() -> bool {
    if Path::new("/usr/sbin/haproxy").exists() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("install haproxy (.ci/run does)");
    }
    eprintln!("skipping: /usr/sbin/haproxy is not installed (CI fails here instead)");
    false
}

/// A free loopback port (HAProxy refuses `bind :0`).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("probe port");
    l.local_addr().map(|a| a.port()).unwrap_or(0)
}

pub struct Haproxy {
    child: Child,
    pub output: Arc<Mutex<String>>,
}

impl Haproxy {
    /// Runs `haproxy -db -f CFG` and waits until `port` accepts.
    pub fn start(dir: &TempDir, cfg: &str, port: u16) -> Haproxy {
        let path = dir.write("haproxy.cfg", cfg);
        let mut child = Command::new("/usr/sbin/haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn haproxy");
        let output: Arc<Mutex<String>> = Arc::default();
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for pipe in pipes {
            let out = output.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        let h = Haproxy { child, output };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "haproxy did not listen on {addr}:\n{}\n{cfg}",
                h.output.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
        h
    }
}

impl Haproxy {
    /// `kill -USR1`: HAProxy's soft stop.
    pub fn soft_stop(&self) {
        let _ = Command::new("kill")
            .arg("-USR1")
            .arg(self.child.id().to_string())
            .status();
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `GET path` on its own connection (`Connection: close`), read to the end.
pub fn get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: logs.test\r\nUser-Agent: logtest/1.0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A connection that sends nothing and closes.
pub fn empty_connection(addr: SocketAddr) {
    drop(TcpStream::connect(addr).expect("connect"));
}

/// The message of a syslog datagram: after `tag[pid]: ` (local, rfc3164), after the
/// rfc5424 header, or the whole datagram (raw); without the final newline.
pub fn message(datagram: &str) -> &str {
    let d = datagram.strip_suffix('\n').unwrap_or(datagram);
    if let Some(i) = d.find("]: ") {
        return &d[i + 3..];
    }
    if d.starts_with('<') && d.contains(">1 ") {
        // <PRI>1 DATE HOST TAG PID - - MSG
        return d.splitn(8, ' ').nth(7).unwrap_or(d);
    }
    d
}

/// Words of a log line, `"..."` and `{...}` kept whole.
pub fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut close: Option<char> = None;
    for c in line.chars() {
        match close {
            Some(e) if c == e => {
                cur.push(c);
                close = None;
            }
            Some(_) => cur.push(c),
            None if c == ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => {
                if cur.is_empty() && c == '"' {
                    close = Some('"');
                } else if cur.is_empty() && c == '{' {
                    close = Some('}');
                }
                cur.push(c);
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A field with what must differ between runs replaced: `ip:port` -> `ip:PORT`, a date ->
/// `DATE`, timers `0/0/1/3/4` -> `N/N/N/N/N` (-1 kept: it says which phases were reached).
pub fn normalise(field: &str) -> String {
    if field.starts_with('[') && field.ends_with(']') && field.contains('/') {
        return "[DATE]".into();
    }
    if let Some((ip, port)) = field.rsplit_once(':') {
        if ip.parse::<std::net::IpAddr>().is_ok() && port.parse::<u16>().is_ok() {
            return format!("{ip}:PORT");
        }
    }
    let parts: Vec<&str> = field.split('/').collect();
    if parts.len() >= 3 && parts.iter().all(|p| p.parse::<i64>().is_ok()) {
        let shape: Vec<&str> = parts
            .iter()
            .map(|p| if *p == "-1" { "-1" } else { "N" })
            .collect();
        return shape.join("/");
    }
    field.to_string()
}

/// Asserts two lines equal field by field once normalised, except the fields at `skip`.
pub fn assert_same_fields(ours: &str, theirs: &str, skip: &[usize]) {
    let (a, b) = (fields(ours), fields(theirs));
    assert_eq!(
        a.len(),
        b.len(),
        "field count differs\n ringlb:  {ours}\n haproxy: {theirs}"
    );
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if skip.contains(&i) {
            continue;
        }
        assert_eq!(
            normalise(x),
            normalise(y),
            "field {i} differs\n ringlb:  {ours}\n haproxy: {theirs}"
        );
    }
}
