//! End-to-end tests of `ringlb-bench backend` on loopback, port 0, both monoio drivers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running backend; killed when dropped.
struct Backend {
    child: Child,
    port: u16,
}

impl Backend {
    fn start(args: &[&str]) -> Backend {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringlb-bench"))
            .arg("backend")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ringlb-bench backend");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the listening line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Backend { child, port }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }

    /// Sends `raw` and reads until the server closes.
    fn exchange(&self, raw: &[u8]) -> String {
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drivers() -> [&'static str; 2] {
    ["io_uring", "legacy"]
}

#[test]
fn answers_name_and_routes() {
    for driver in drivers() {
        let b = Backend::start(&["--driver", driver, "--name", "web-1"]);
        let out = b.exchange(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{driver}: {out}");
        assert!(out.contains("x-server: web-1\r\n"), "{driver}: {out}");
        assert!(out.ends_with("\r\n\r\nweb-1\n"), "{driver}: {out}");

        let out = b.exchange(b"GET /size/100000 HTTP/1.0\r\n\r\n");
        assert!(out.contains("content-length: 100000\r\n"), "{driver}");
        assert_eq!(
            out.split("\r\n\r\n").nth(1).unwrap().len(),
            100_000,
            "{driver}"
        );

        let out = b.exchange(b"GET /status HTTP/1.0\r\n\r\n");
        assert!(out.ends_with("\r\n\r\nOK\n"), "{driver}: {out}");
    }
}

#[test]
fn chunked_routes() {
    let b = Backend::start(&[]);
    let c = 16 * 1024;
    for (path, size_line) in [
        ("/chunked/40000", format!("{c:x}\r\n")),
        ("/chunked-padded/40000", format!("{c:016x}\r\n")),
    ] {
        let raw = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n");
        let out = b.exchange(raw.as_bytes());
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains("transfer-encoding: chunked"),
            "{path}: {head}"
        );
        let x = |n| "x".repeat(n);
        let last = 40000 - 2 * c;
        let last_line = size_line.replace(&format!("{c:x}\r\n"), &format!("{last:x}\r\n"));
        let want = format!(
            "{size_line}{}\r\n{size_line}{}\r\n{last_line}{}\r\n0\r\n\r\n",
            x(c),
            x(c),
            x(last)
        );
        assert!(body == want, "{path}: {:.60?}", body);
    }
    let out = b.exchange(b"GET /chunked/5 HTTP/1.0\r\n\r\n");
    assert!(out.contains("content-length: 5\r\n"), "{out}");
}

#[test]
fn pipelined_requests_answered_in_order() {
    for driver in drivers() {
        let b = Backend::start(&["--driver", driver]);
        let mut raw = Vec::new();
        for i in 1..=50 {
            raw.extend_from_slice(format!("GET /size/{i} HTTP/1.1\r\n\r\n").as_bytes());
        }
        raw.extend_from_slice(b"GET /status HTTP/1.1\r\nConnection: close\r\n\r\n");
        let out = b.exchange(&raw);
        let lengths: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("content-length: "))
            .collect();
        let expected: Vec<String> = (1..=50)
            .map(|i| i.to_string())
            .chain(["3".into()])
            .collect();
        assert_eq!(lengths, expected, "{driver}");
        assert!(out.ends_with("OK\n"), "{driver}");
    }
}

#[test]
fn echoes_length_and_chunked_bodies() {
    for driver in drivers() {
        let b = Backend::start(&["--driver", driver]);
        let out = b.exchange(
            b"POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
              POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n",
        );
        let bodies: Vec<&str> = out.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(bodies.len(), 2, "{driver}: {out}");
        assert!(bodies[0].ends_with("\r\n\r\nhello"), "{driver}: {out}");
        assert!(bodies[1].ends_with("\r\n\r\nabcdefg"), "{driver}: {out}");
    }
}

#[test]
fn garbage_gets_400_and_close() {
    for driver in drivers() {
        let b = Backend::start(&["--driver", driver]);
        let out = b.exchange(b"\x00\x01\x02 not http\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 400 "), "{driver}: {out}");
        assert!(out.contains("connection: close\r\n"), "{driver}: {out}");
        // Still serving afterwards.
        let out = b.exchange(b"GET / HTTP/1.0\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 "), "{driver}: {out}");
    }
}

#[test]
fn http10_closes_unless_keep_alive() {
    let b = Backend::start(&[]);
    let out = b.exchange(b"GET / HTTP/1.0\r\n\r\n");
    assert!(out.contains("connection: close\r\n"), "{out}");
    let out = b.exchange(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains("connection: keep-alive\r\n"), "{out}");
}

#[test]
fn delay_waits() {
    let b = Backend::start(&[]);
    let start = Instant::now();
    let out = b.exchange(b"GET /delay/150 HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[test]
fn close_and_fail_rate_flags() {
    let b = Backend::start(&["--close", "--fail-rate", "1"]);
    let out = b.exchange(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    assert_eq!(out.matches("HTTP/1.1 503 ").count(), 1, "{out}");
    assert!(out.contains("connection: close\r\n"), "{out}");
}

#[test]
fn threads_share_one_port() {
    let b = Backend::start(&["--threads", "2", "--no-pin"]);
    for _ in 0..20 {
        let out = b.exchange(b"GET / HTTP/1.0\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    }
}
