//! Every request ends in one record: the same traffic goes through HAProxy 2.6 (logging with
//! `option httplog` to its stdout) and through `ringlb -d` (one httplog line per request on
//! stderr, serve/record.rs), and the two lines are compared: the termination state, the
//! status, the bytes sent to the client (each proxy's against what its client received: their
//! heads differ), and the timers (each -1 or >= 0, -1 in the same places as HAProxy's, Ta at
//! least the sum of the others). One test per termination state ringlb produces, on both
//! drivers. Where ringlb and HAProxy differ by design, the test asserts ringlb's value and says
//! why.

mod common;

use common::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long a proxy may take to write the line of a request that has ended.
const LOG_WAIT: Duration = Duration::from_secs(5);

// HAProxy (as tests/e2e_vs_haproxy.rs runs it)

fn haproxy_bin() -> Option<String> {
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
fn haproxy_or_skip() -> bool {
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
fn free_port() -> u16 {
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

struct Haproxy {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Haproxy {
    /// Runs `haproxy -db -f CFG` and waits (bounded) until `port` accepts; None when the port
    /// was taken meanwhile.
    fn start(cfg: &str, port: u16) -> Option<Haproxy> {
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
struct Logged {
    frontend: String,
    backend: String,
    server: String,
    /// TR, Tw, Tc, Tr, Ta.
    timers: [i64; 5],
    status: i64,
    bytes: u64,
    /// The two letters (the cookie letters after them are `--` in both).
    state: String,
    retries: String,
    request: String,
    line: String,
}

/// An httplog line, or a tcplog one (`ip:port [date] fe be/srv Tw/Tc/Tt bytes TS
/// ac/fc/bc/sc/rc sq/bq`), whose fields go where the httplog ones are: timers
/// `[-1, Tw, Tc, -1, Tt]`, status -1, no request.
fn parse_line(line: &str) -> Option<Logged> {
    parse_http_line(line).or_else(|| parse_tcp_line(line))
}

fn parse_tcp_line(line: &str) -> Option<Logged> {
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
fn parse_http_line(line: &str) -> Option<Logged> {
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
fn wait_line(what: &str, n: usize, lines: impl Fn() -> Vec<String>) -> Logged {
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

// Scripted backends and clients

/// A backend that runs `serve` on each connection, in its own thread.
fn backend(serve: fn(TcpStream)) -> SocketAddr {
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
fn read_head(s: &mut TcpStream) -> bool {
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

const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";

fn answer_hello(mut s: TcpStream) {
    while read_head(&mut s) {
        if s.write_all(HELLO).is_err() {
            return;
        }
    }
}

fn close_before_head(mut s: TcpStream) {
    read_head(&mut s);
}

fn answer_late(mut s: TcpStream) {
    if read_head(&mut s) {
        thread::sleep(Duration::from_millis(1500));
        let _ = s.write_all(HELLO);
    }
}

fn answer_garbage(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 2x0 Nope\r\n\r\n");
        thread::sleep(Duration::from_millis(200));
    }
}

fn close_mid_body(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part");
        thread::sleep(Duration::from_millis(100));
    }
}

fn stall_mid_body(mut s: TcpStream) {
    if read_head(&mut s) {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part");
        thread::sleep(Duration::from_millis(1500));
    }
}

/// Takes the request head, then reads whatever comes until the proxy closes.
fn drain(mut s: TcpStream) {
    if read_head(&mut s) {
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

const POST_PART: &[u8] = b"POST /up HTTP/1.1\r\nhost: t\r\ncontent-length: 1000\r\n\r\n0123456789";

/// A body far larger than the socket buffers between the proxy and the client.
const HUGE: usize = 64 << 20;

fn answer_huge(mut s: TcpStream) {
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

/// What the client did, for the checks on bytes.
struct Seen {
    /// Every byte the client received.
    received: usize,
}

/// Sends `bytes`, then reads until the proxy closes (or `IO_TIMEOUT`).
fn send_read_all(addr: SocketAddr, bytes: &[u8]) -> Seen {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(bytes).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    Seen {
        received: got.len(),
    }
}

const GET: &[u8] = b"GET /x HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n";

// One case through both proxies

/// A case: the config's proxy sections (`@BIND@` is replaced by the listening address, `@SRV@`
/// by `server`), and what the client does, returning what it saw.
struct Case {
    sections: String,
    client: fn(SocketAddr) -> Seen,
}

/// `mode tcp` and `option tcplog` instead of `mode http` and `option httplog`.
fn tcp(sections: &str) -> String {
    sections
        .replace(
            "frontend fe\n",
            "frontend fe\n    mode tcp\n    option tcplog\n",
        )
        .replace("\nbackend be\n", "\nbackend be\n    mode tcp\n")
}

/// `global`/`defaults` for both proxies: HAProxy logs to stdout in httplog layout.
fn config(case: &Case, bind: &str, server: SocketAddr) -> String {
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
fn run_both(case: &Case, server: SocketAddr, driver: &str) -> ((Logged, Seen), (Logged, Seen)) {
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

    let cfg = config(case, "127.0.0.1:0", server);
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
fn compare(case: &Case, server: SocketAddr, driver: &str, state: &str) -> (Logged, Logged) {
    check(case, server, driver, state, state, false)
}

/// `compare`, for an answer of an `http-response` rule: HAProxy 2.6 logs Tr as -1 then, though
/// the server's head was complete (the rules ran on it); ringlb logs the time it took, as the
/// manual defines Tr.
fn compare_response_rule(case: &Case, server: SocketAddr, driver: &str, state: &str) -> Logged {
    let (h, r) = check(case, server, driver, state, state, true);
    assert_eq!(h.timers[3], -1, "{}", h.line);
    assert!(r.timers[3] >= 0, "{}", r.line);
    r
}

/// `compare`, for a case where ringlb's state differs from HAProxy's by design: each is
/// asserted, and the timers are only checked for sanity (the phases reached differ).
fn compare_differing(
    case: &Case,
    server: SocketAddr,
    driver: &str,
    haproxy_state: &str,
    state: &str,
) -> (Logged, Logged) {
    check(case, server, driver, haproxy_state, state, false)
}

fn check(
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

fn timers_sane(l: &Logged, both: &str, check_sum: bool) {
    assert!(l.timers.iter().all(|&t| t >= -1), "timers\n{both}");
    let ta = l.timers[4];
    assert!(ta >= 0, "Ta is always there\n{both}");
    let sum: i64 = l.timers[..4].iter().filter(|&&t| t >= 0).sum();
    assert!(!check_sum || ta >= sum, "Ta >= TR + Tw + Tc + Tr\n{both}");
}

fn listen(extra: &str) -> String {
    format!(
        "frontend fe\n    bind @BIND@\n{extra}    default_backend be\n\nbackend be\n    \
         server s1 @SRV@\n"
    )
}

fn get_case(extra: &str) -> Case {
    Case {
        sections: listen(extra),
        client: |a| send_read_all(a, GET),
    }
}

both_drivers!(normal_end, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (h, r) = compare(&case, backend(answer_hello), driver, "--");
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
    assert_eq!(r.request, h.request);
    assert_eq!(r.retries, "0");
});

both_drivers!(rule_return_is_lr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request return status 200 content-type text/plain string hi\n");
    let (_, r) = compare(&case, backend(answer_hello), driver, "LR");
    assert_eq!(r.server, "<NOSRV>");
});

both_drivers!(rule_redirect_is_lr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request redirect location /elsewhere\n");
    compare(&case, backend(answer_hello), driver, "LR");
});

both_drivers!(rule_deny_is_pr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-request deny\n");
    compare(&case, backend(answer_hello), driver, "PR");
});

both_drivers!(rule_tarpit_is_pt, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    timeout tarpit 200ms\n    http-request tarpit\n");
    let (_, r) = compare(&case, backend(answer_hello), driver, "PT");
    assert_eq!(r.status, 500);
    // The tarpit's hold is in Tw, as in HAProxy.
    assert!(r.timers[1] >= 190, "{}", r.line);
});

both_drivers!(client_closed_in_head_is_cr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(b"GET /x HTTP/1.1\r\nhost: t\r\n").unwrap();
            thread::sleep(Duration::from_millis(100));
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let _ = c.read_to_end(&mut got);
            Seen {
                received: got.len(),
            }
        },
    };
    compare(&case, backend(answer_hello), driver, "CR");
});

both_drivers!(head_timeout_is_cr_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout http-request 300ms\n"),
        client: |a| send_read_all(a, b"GET /x HTTP/1.1\r\nhost: t\r\n"),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "cR");
    assert_eq!(r.status, 408);
});

both_drivers!(connect_refused_is_sc, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (h, r) = compare(&case, refused_addr(), driver, "SC");
    assert_eq!(r.status, 503);
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
    // HAProxy's default `retries 3`, each refused.
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
});

both_drivers!(redispatch_is_counted, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    // s1 refuses; `balance first` picks it first in both proxies, the redispatch goes to s2.
    let good = backend(answer_hello);
    let sections = listen("")
        .replace(
            "\nbackend be\n",
            "\nbackend be\n    balance first\n    retries 1\n    option redispatch\n",
        )
        .replace("@SRV@\n", &format!("@SRV@\n    server s2 {good}\n"));
    let case = Case {
        sections,
        client: |a| send_read_all(a, GET),
    };
    let (h, r) = compare(&case, refused_addr(), driver, "--");
    // `+1`: one retry, redispatched.
    assert_eq!(h.retries, "+1", "{}", h.line);
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
    assert_eq!(r.server, "s2");
});

/// A server whose accept queue is full: the kernel drops further SYNs, so a connect to it
/// times out (the listener and the connections filling its queue live as long as the test).
fn blackhole() -> SocketAddr {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    s.listen(0).unwrap();
    let addr = s.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(c);
        }
    }
    std::mem::forget((s, fillers));
    addr
}

both_drivers!(connect_timeout_is_sc_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let sections = listen("").replace(
        "\nbackend be\n",
        "\nbackend be\n    retries 0\n    timeout connect 300ms\n",
    );
    let case = Case {
        sections,
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, blackhole(), driver, "sC");
    assert_eq!(r.status, 503);
    assert!(r.timers[4] >= 290, "{}", r.line);
});

both_drivers!(queue_timeout_is_sq_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let sections = listen("")
        .replace("\nbackend be\n", "\nbackend be\n    timeout queue 300ms\n")
        .replace("@SRV@\n", "@SRV@ maxconn 1\n");
    let case = Case {
        sections,
        client: |a| {
            // The first request holds the server's only slot for 1.5 s; the second waits.
            let first = thread::spawn(move || send_read_all(a, GET));
            thread::sleep(Duration::from_millis(200));
            let second = send_read_all(a, GET);
            let _ = first.join();
            second
        },
    };
    let (_, r) = compare(&case, backend(answer_late), driver, "sQ");
    assert_eq!(r.status, 503);
    assert!(r.timers[1] >= 290, "Tw is the time queued: {}", r.line);
});

both_drivers!(no_request_in_time_is_cr_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout http-request 300ms\n"),
        client: |a| send_read_all(a, b""),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "cR");
    assert_eq!(r.status, 408);
    assert_eq!(r.request, "<BADREQ>");
});

both_drivers!(no_backend_is_logged_as_haproxy, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: "frontend fe\n    bind @BIND@\n    use_backend be if { path /nothing }\n\n\
                   backend be\n    server s1 @SRV@\n"
            .to_string(),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "SC");
    assert_eq!(r.status, 503);
});

both_drivers!(server_closed_before_head_is_sh, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(close_before_head), driver, "SH");
    assert_eq!(r.status, 502);
});

both_drivers!(server_timeout_on_head_is_sh_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("").replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(answer_late), driver, "sH");
    assert_eq!(r.status, 504);
});

both_drivers!(bad_response_is_ph, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(answer_garbage), driver, "PH");
    assert_eq!(r.status, 502);
});

both_drivers!(server_closed_mid_body_is_sd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("");
    let (_, r) = compare(&case, backend(close_mid_body), driver, "SD");
    assert_eq!(r.status, 200);
});

both_drivers!(server_timeout_mid_body_is_sd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("").replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
        client: |a| send_read_all(a, GET),
    };
    let (_, r) = compare(&case, backend(stall_mid_body), driver, "sD");
    assert_eq!(r.status, 200);
});

both_drivers!(bad_request_is_pr, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| send_read_all(a, b"GET /x HTTP/1.1\r\nhost: t\r\nno colon here\r\n\r\n"),
    };
    let (_, r) = compare(&case, backend(answer_hello), driver, "PR");
    assert_eq!(r.status, 400);
});

both_drivers!(client_closed_mid_body_is_cd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(GET).unwrap();
            let mut some = vec![0u8; 64 << 10];
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let n = c.read(&mut some).unwrap_or(0);
            // Closed with unread bytes: a reset, as a client that gives up.
            drop(c);
            Seen { received: HUGE + n }
        },
    };
    let (_, r) = compare(&case, backend(answer_huge), driver, "CD");
    assert_eq!(r.status, 200);
    assert!(r.bytes > 0);
});

both_drivers!(client_timeout_mid_body_is_cd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen("    timeout client 500ms\n"),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(GET).unwrap();
            // Reads nothing until the proxy gives up on it.
            thread::sleep(Duration::from_millis(2500));
            drop(c);
            Seen { received: HUGE }
        },
    };
    let (_, r) = compare(&case, backend(answer_huge), driver, "cD");
    assert_eq!(r.status, 200);
});

// mode tcp: one record per connection, HAProxy's tcplog layout

/// Sends "hello", reads its echo, closes its side, reads the rest (the echo server's "bye").
fn echo_client(a: SocketAddr) -> Seen {
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(b"hello").unwrap();
    let mut echo = [0u8; 5];
    c.read_exact(&mut echo).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    Seen {
        received: echo.len() + rest.len(),
    }
}

both_drivers!(tcp_normal_end, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let echo = TcpEchoBackend::start();
    let case = Case {
        sections: tcp(&listen("")),
        client: echo_client,
    };
    let (h, r) = compare(&case, echo.addr, driver, "--");
    assert_eq!(r.bytes, h.bytes, "{}\n{}", h.line, r.line);
    assert_eq!((r.backend.as_str(), r.server.as_str()), ("be", "s1"));
});

both_drivers!(tcp_connect_refused_is_sc, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: tcp(&listen("")),
        client: |a| send_read_all(a, b"hello"),
    };
    let (h, r) = compare(&case, refused_addr(), driver, "SC");
    assert_eq!(r.retries, h.retries, "{}\n{}", h.line, r.line);
});

both_drivers!(tcp_client_timeout_is_cd_lowercase, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let echo = TcpEchoBackend::start();
    let case = Case {
        sections: tcp(&listen("    timeout client 300ms\n")),
        client: |a| send_read_all(a, b""),
    };
    compare(&case, echo.addr, driver, "cD");
});

both_drivers!(client_closed_mid_upload_is_cd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            let mut c = TcpStream::connect(a).unwrap();
            c.write_all(POST_PART).unwrap();
            thread::sleep(Duration::from_millis(200));
            let _ = c.shutdown(Shutdown::Write);
            let mut got = Vec::new();
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let _ = c.read_to_end(&mut got);
            Seen {
                received: got.len(),
            }
        },
    };
    compare(&case, backend(drain), driver, "CD");
});

both_drivers!(
    upload_stalled_under_timeout_server_is_sh_lowercase,
    |driver| {
        if !haproxy_or_skip() {
            return;
        }
        let case = Case {
            sections: listen("")
                .replace("\nbackend be\n", "\nbackend be\n    timeout server 300ms\n"),
            client: |a| {
                let mut c = TcpStream::connect(a).unwrap();
                c.write_all(POST_PART).unwrap();
                let mut got = Vec::new();
                c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let _ = c.read_to_end(&mut got);
                Seen {
                    received: got.len(),
                }
            },
        };
        let (_, r) = compare(&case, backend(drain), driver, "sH");
        assert_eq!(r.status, 504);
    }
);

// ringlb sends the head on before it reads the body, so a bad chunk size in the body is seen
// in the data phase, after the connect (`PD`). HAProxy 2.6 parses the chunk framing that came
// with the head before anything goes to a server, and refuses the request (`PR`, no server).
both_drivers!(bad_chunked_upload_is_pd, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = Case {
        sections: listen(""),
        client: |a| {
            send_read_all(
                a,
                b"POST /up HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n",
            )
        },
    };
    let (_, r) = compare_differing(&case, backend(drain), driver, "PR", "PD");
    assert_eq!(r.status, 400);
    assert_eq!(r.server, "s1");
});

both_drivers!(response_deny_is_ph, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-response deny\n");
    let r = compare_response_rule(&case, backend(answer_hello), driver, "PH");
    assert_eq!(r.server, "s1");
});

both_drivers!(response_return_is_lh, |driver| {
    if !haproxy_or_skip() {
        return;
    }
    let case = get_case("    http-response return status 202 content-type text/plain string ok\n");
    let r = compare_response_rule(&case, backend(answer_hello), driver, "LH");
    assert_eq!(r.status, 202);
});
