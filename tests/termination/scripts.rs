//! The termination tests' parts: scripted backends and clients, a `Case` (proxy sections and a
//! client), and `compare`, which runs a case through HAProxy and `ringlb -d` and checks their
//! log lines against each other.

use super::common::*;
use super::proxies::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

// Scripted backends and clients

/// A backend that runs `serve` on each connection, in its own thread.
pub fn backend(serve: fn(TcpStream)) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind backend");
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
            thread::spawn(move || serve(s));
        }
    });
    addr
}

/// Reads a request head (the requests here have no body).
pub fn read_head(s: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return false,
        }
    }
    true
}

pub const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

pub fn answer_hello(mut s: TcpStream) {
    while read_head(&mut s) {
        if s.write_all(HELLO).is_err() {
            return;
        }
    }
}

pub fn close_before_head(mut s: TcpStream) {
    read_head(&mut s);
}

pub fn answer_late(mut s: TcpStream) {
    if read_head(&mut s) {
        thread::sleep(Duration::from_millis(1500));
        let _ = s.write_all(HELLO);
    }
}

pub fn answer_garbage(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 2x0 Nope\r\n\r\n");
        thread::sleep(Duration::from_millis(200));
    }
}

pub fn close_mid_body(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part");
        thread::sleep(Duration::from_millis(100));
    }
}

pub fn stall_mid_body(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part");
        thread::sleep(Duration::from_millis(1500));
    }
}

/// Takes the request head, then reads whatever comes until the proxy closes.
pub fn drain(mut s: TcpStream) {
    if read_head(&mut s) {
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

pub const POST_PART: &[u8] =
    b"POST /up HTTP/1.1\r\nhost: t\r\ncontent-length: 1000\r\n\r\n0123456789";

/// A body far larger than the socket buffers between the proxy and the client.
pub const HUGE: usize = 64 << 20;

pub fn answer_huge(mut s: TcpStream) {
    if read_head(&mut s) {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {HUGE}\r\n\r\n");
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        let block = vec![b'x'; 64 << 10];
        for _ in 0..HUGE / block.len() {
            if s.write_all(&block).is_err() {
                return;
            }
        }
    }
}

/// What the client got, for the checks on bytes.
pub struct Got {
    /// Every byte the client received.
    pub received: usize,
}

/// Sends `bytes`, then reads until the proxy closes (or `IO_TIMEOUT`).
pub fn send_read_all(addr: SocketAddr, bytes: &[u8]) -> Got {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    Got {
        received: got.len(),
    }
}

pub const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";

// One case through both proxies

/// A case: the config's proxy sections (`@BIND@` is replaced by the listening address, `@SRV@`
/// by `server`), and what the client does, returning what it saw.
pub struct Case {
    pub sections: String,
    pub client: fn(SocketAddr) -> Got,
}

/// `mode tcp` and `option tcplog` instead of `mode http` and `option httplog`.
pub fn tcp(sections: &str) -> String {
    sections
        .replace(
            "frontend fe\n",
            "frontend fe\n    mode tcp\n    option tcplog\n",
        )
        .replace("\nbackend be\n", "\nbackend be\n    mode tcp\n")
}

/// `global`/`defaults` for both proxies: HAProxy logs to stdout in httplog layout.
pub fn config(case: &Case, bind: &str, server: SocketAddr) -> String {
    let sections = case
        .sections
        .replace("@BIND@", bind)
        .replace("@SRV@", &server.to_string());
    format!(
        "global\n    log stdout format raw local0\n\ndefaults\n    mode http\n    log global\n    \
         option httplog\n    timeout connect 1s\n    timeout client 2s\n    timeout server 2s\n\n\
         {sections}\n"
    )
}

/// Runs `case` through HAProxy, then through `ringlb -d` on `driver`; returns both lines and
/// what each client saw.
pub fn run_both(case: &Case, server: SocketAddr, driver: &str) -> ((Logged, Got), (Logged, Got)) {
    let haproxy = loop {
        let port = free_port();
        let cfg = config(case, &format!("127.0.0.1:{port}"), server);
        if let Some(h) = Haproxy::start(&cfg, port) {
            break (h, port);
        }
    };
    let (h, port) = haproxy;
    let seen_h = (case.client)(([127, 0, 0, 1], port).into());
    let logged_h = wait_line("haproxy", 0, || h.lines.lock().unwrap().clone());
    drop(h);

    // A port from `free_port`, not the kernel's: a kernel-chosen port may be one `free_port`
    // handed out and released, that a parallel test's readiness probe (Haproxy::start)
    // then connects to, which ringlb would log as a request-less `CR` line before this case's.
    let cfg = config(case, &format!("127.0.0.1:{}", free_port()), server);
    let dir = TempDir::new();
    let path = dir.write("ringlb.cfg", &cfg);
    let lb = Ringlb::start_files_args(dir, &[path], &["-d".to_string()], driver, &cfg);
    let seen_r = (case.client)(lb.addr("fe"));
    let logged_r = wait_line("ringlb", 0, || {
        lb.output().lines().map(String::from).collect()
    });
    ((logged_h, seen_h), (logged_r, seen_r))
}

/// The checks every case makes: timers sane and -1 where HAProxy's are, and ringlb's state
/// and status; returns both lines for the case's own checks.
pub fn compare(case: &Case, server: SocketAddr, driver: &str, state: &str) -> (Logged, Logged) {
    check(case, server, driver, state, state, false)
}

/// `compare`, for an answer of an `http-response` rule: HAProxy 2.6 logs Tr as -1 then, though
/// the server's head was complete (the rules ran on it); ringlb logs the time it took, as the
/// manual defines Tr.
pub fn compare_response_rule(case: &Case, server: SocketAddr, driver: &str, state: &str) -> Logged {
    let (h, r) = check(case, server, driver, state, state, true);
    assert_eq!(h.timers[3], -1, "{}", h.line);
    assert!(r.timers[3] >= 0, "{}", r.line);
    r
}

/// `compare`, for a case where ringlb's state differs from HAProxy's by design: each is
/// asserted, and the timers are only checked for sanity (the phases reached differ).
pub fn compare_differing(
    case: &Case,
    server: SocketAddr,
    driver: &str,
    haproxy_state: &str,
    state: &str,
) -> (Logged, Logged) {
    check(case, server, driver, haproxy_state, state, false)
}

pub fn check(
    case: &Case,
    server: SocketAddr,
    driver: &str,
    haproxy_state: &str,
    state: &str,
    tr_quirk: bool,
) -> (Logged, Logged) {
    let ((h, _), (r, seen)) = run_both(case, server, driver);
    let both = format!("haproxy: {}\nringlb:  {}", h.line, r.line);
    assert_eq!(
        h.state, haproxy_state,
        "HAProxy's state is not the expected one\n{both}"
    );
    assert_eq!(r.state, state, "termination state\n{both}");
    assert_eq!(r.status, h.status, "status\n{both}");
    assert_eq!(r.frontend, "fe", "{both}");
    let tcp = h.request.is_empty();
    timers_sane(&r, &both, true);
    // After a tarpit HAProxy 2.6 logs a Tw (the hold, counted from the accept) a millisecond
    // or two above its Ta, and its tcplog's Tw/Tc/Tt come from a clock coarse enough that Tw
    // can exceed Tt by 1 ms: its own sum is not checked then; ringlb's is.
    timers_sane(&h, &both, state != "PT" && !tcp);
    let mut reached_h = h.timers.map(|t| t >= 0);
    if haproxy_state != state {
        reached_h = r.timers.map(|t| t >= 0);
    }
    if tr_quirk {
        reached_h[3] = r.timers[3] >= 0;
    }
    if h.timers[0] < 0 && h.request != "<BADREQ>" && !tcp {
        // HAProxy 2.6 logs TR as -1 after a tarpit and for a request no backend takes, though
        // it read the whole head (it logs the request line): ringlb measures TR as the manual
        // defines it, from the first byte to the end of the head.
        assert!(r.timers[0] >= 0, "{both}");
        reached_h[0] = true;
    }
    assert_eq!(
        r.timers.map(|t| t >= 0),
        reached_h,
        "timers reached (TR/Tw/Tc/Tr/Ta)\n{both}"
    );
    // What ringlb counts is what its client got (when it got all there was).
    if seen.received < HUGE {
        assert_eq!(r.bytes, seen.received as u64, "bytes sent\n{both}");
    }
    (h, r)
}

pub fn timers_sane(l: &Logged, both: &str, check_sum: bool) {
    assert!(l.timers.iter().all(|&t| t >= -1), "timers\n{both}");
    let ta = l.timers[4];
    assert!(ta >= 0, "Ta is always there\n{both}");
    let sum: i64 = l.timers[..4].iter().filter(|&&t| t >= 0).sum();
    assert!(!check_sum || ta >= sum, "Ta >= TR + Tw + Tc + Tr\n{both}");
}

pub fn listen(extra: &str) -> String {
    format!(
        "frontend fe\n    bind @BIND@\n{extra}    default_backend be\n\nbackend be\n    \
         server s1 @SRV@\n"
    )
}

pub fn get_case(extra: &str) -> Case {
    Case {
        sections: listen(extra),
        client: |a| send_read_all(a, GET),
    }
}
