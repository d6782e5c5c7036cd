//! End-to-end harness: the real `ringlb` binary, real backends and a raw client, all on
//! loopback with kernel-chosen ports.
//!
//! - `Ringlb` writes a config into its own temp dir, runs `ringlb -f FILE -db`, waits for the
//!   `ready` line on stderr (bounded) and maps proxy names to the addresses it printed.
//! - `HttpBackend` / `TcpEchoBackend` are std-thread servers that count what they accept, so
//!   tests can assert on what the proxy did (reuse, queueing, requests that must never arrive).
//! - `Client` speaks HTTP/1.1 byte by byte and parses responses itself: the tests are black-box
//!   and must not trust the crate's own parser to check the crate.
//!
//! Every socket has a timeout and every wait has a deadline: a broken proxy fails a test in
//! seconds instead of hanging CI.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long ringlb may take to print `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read/write timeout of the test client: far above any legitimate wait in the suite.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Backends give up on a silent peer after this long, so their threads never outlive a test.
const BACKEND_IO_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest head the parsers here accept (the proxy's own limits are far lower).
const MAX_HEAD: usize = 1 << 20;

/// Generates one test per monoio driver: `NAME::io_uring` and `NAME::legacy`.
/// (A module instead of `NAME_io_uring`: `macro_rules!` cannot build identifiers without a
/// crate; `cargo test io_uring` / `cargo test legacy` still selects one driver.)
macro_rules! both_drivers {
    ($name:ident, |$driver:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn scenario($driver: &'static str) $body
            #[test]
            fn io_uring() {
                scenario("io_uring")
            }
            #[test]
            fn legacy() {
                scenario("legacy")
            }
        }
    };
}
pub(crate) use both_drivers;

/// The `global` and `defaults` sections most tests share, followed by `rest`.
pub fn http_cfg(rest: &str) -> String {
    format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\n{rest}\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Temp dir
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The ringlb process
// ---------------------------------------------------------------------------------------------

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
        let cfg_path = files[0].clone();
        let mut cmd = Command::new(bin());
        for f in files {
            cmd.arg("-f").arg(f);
        }
        let mut child = cmd
            .arg("-db")
            .env("RINGLB_DRIVER", driver)
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

// ---------------------------------------------------------------------------------------------
// Buffered connection shared by the client and the backends
// ---------------------------------------------------------------------------------------------

/// A stream with a read buffer that keeps bytes past the current message (pipelining).
pub struct BufConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl BufConn {
    pub fn new(stream: TcpStream) -> BufConn {
        BufConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes; Ok(0) at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16384];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    /// Bytes already buffered but not consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n).collect()
    }

    /// The head up to and including the empty line; Ok(None) on EOF before any byte.
    pub fn read_head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.take(i + 4)));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "head too large"));
            }
            if self.fill()? == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(eof("EOF inside a message head"));
            }
        }
    }

    pub fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let mut line = self.take(i + 2);
                line.truncate(i);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            if self.fill()? == 0 {
                return Err(eof("EOF inside a line"));
            }
        }
    }

    pub fn read_exact_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(eof(&format!(
                    "EOF after {} of {n} body bytes",
                    self.buf.len()
                )));
            }
        }
        Ok(self.take(n))
    }

    pub fn read_to_eof(&mut self) -> io::Result<Vec<u8>> {
        while self.fill()? > 0 {}
        let n = self.buf.len();
        Ok(self.take(n))
    }

    /// Some bytes, whatever is buffered or the next read; empty at EOF.
    pub fn read_some(&mut self) -> io::Result<Vec<u8>> {
        if self.buf.is_empty() {
            self.fill()?;
        }
        let n = self.buf.len();
        Ok(self.take(n))
    }

    /// Strict chunked decoding (RFC 9112 section 7.1): body and trailer lines.
    pub fn read_chunked(&mut self) -> io::Result<(Vec<u8>, Vec<(String, String)>)> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size = parse_chunk_size(&line)
                .ok_or_else(|| bad(&format!("bad chunk size line {:?}", lossy(&line))))?;
            if size == 0 {
                break;
            }
            body.extend(self.read_exact_n(size)?);
            if !self.read_line()?.is_empty() {
                return Err(bad("chunk data not followed by CRLF"));
            }
        }
        let mut trailers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                return Ok((body, trailers));
            }
            let (n, v) = split_header(&line).ok_or_else(|| bad("bad trailer line"))?;
            trailers.push((n, v));
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn eof(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, msg.to_string())
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Hex digits, optionally followed by `;ext`; at most 15 digits (no overflow), never empty.
fn parse_chunk_size(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let digits = text.split(';').next()?.trim_end_matches([' ', '\t']);
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    usize::from_str_radix(digits, 16).ok()
}

fn split_header(line: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let (n, v) = text.split_once(':')?;
    if n.is_empty() || n.contains([' ', '\t']) {
        return None;
    }
    Some((n.to_string(), v.trim_matches([' ', '\t']).to_string()))
}

/// Request/status line and header lines of a head (ending in the empty line).
fn split_head(head: &[u8]) -> io::Result<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(&head[..head.len() - 4]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for l in lines {
        headers.push(split_header(l.as_bytes()).ok_or_else(|| bad(&format!("bad header {l:?}")))?);
    }
    Ok((first, headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// True when some `name` header lists `token` (comma-separated, case-insensitive).
fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Deterministic body bytes for `/size/N`: tests rebuild the same bytes to compare.
pub fn pattern(n: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..n)
        .map(|i| ALPHABET[(i * 7 + i / 36) % ALPHABET.len()])
        .collect()
}

/// The body `/chunked/N` sends, as the chunk sizes vary: concatenation of `chunk_i(i)`.
pub fn chunk_i(i: usize) -> Vec<u8> {
    let mut c = format!("chunk-{i}:").into_bytes();
    c.extend(pattern((i * 37) % 500 + 1));
    c
}

pub fn chunked_body(n: usize) -> Vec<u8> {
    (0..n).flat_map(chunk_i).collect()
}

/// FNV-1a: a small checksum so the backend can report what body it received.
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// Interim (1xx) statuses received before this response.
    pub interim: Vec<u16>,
    pub chunked: bool,
    /// The body ran to the end of the connection.
    pub close_delimited: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn has_token(&self, name: &str, token: &str) -> bool {
        has_token(&self.headers, name, token)
    }

    /// The `x-server` header: which test backend answered.
    pub fn server(&self) -> String {
        self.header("x-server")
            .unwrap_or_else(|| panic!("no x-server header in {}", self.describe()))
            .to_string()
    }

    pub fn text(&self) -> String {
        lossy(&self.body)
    }

    /// What the backend saw, parsed from a default-path body.
    pub fn seen(&self) -> Seen {
        assert_eq!(
            self.status,
            200,
            "expected 200 with a description: {}",
            self.describe()
        );
        Seen::parse(&self.text())
    }

    pub fn describe(&self) -> String {
        let body = if self.body.len() > 400 {
            format!(
                "{}... ({} bytes)",
                lossy(&self.body[..400]),
                self.body.len()
            )
        } else {
            self.text()
        };
        format!("{} {} {:?}\n{body}", self.status, self.reason, self.headers)
    }
}

/// A raw HTTP/1.x client over one TCP connection.
pub struct Client {
    pub conn: BufConn,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        Client::from_stream(s)
    }

    /// Connects from a chosen loopback source address (127.0.0.x), for source hashing.
    pub fn connect_from(src: IpAddr, addr: SocketAddr) -> Client {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        sock.bind(&SocketAddr::new(src, 0).into())
            .expect("bind source");
        sock.connect_timeout(&addr.into(), IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect {src} -> {addr}: {e}"));
        Client::from_stream(sock.into())
    }

    fn from_stream(s: TcpStream) -> Client {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client {
            conn: BufConn::new(s),
        }
    }

    pub fn set_read_timeout(&self, t: Duration) {
        self.conn.stream.set_read_timeout(Some(t)).unwrap();
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.conn
            .stream
            .write_all(bytes.as_ref())
            .unwrap_or_else(|e| panic!("client write: {e}"));
    }

    /// Sends a request with a Host header and, when there is a body, a Content-Length.
    pub fn send_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test.local\r\n");
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body);
        self.send(bytes);
    }

    /// One message (possibly a 1xx). `head_request`: the request was HEAD, so no body follows.
    pub fn try_read_one(&mut self, head_request: bool) -> io::Result<Response> {
        let head = self
            .conn
            .read_head()?
            .ok_or_else(|| eof("connection closed, no response"))?;
        let (line, headers) = split_head(&head)?;
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or("").to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(&format!("bad status line {line:?}")))?;
        if !version.starts_with("HTTP/1.") {
            return Err(bad(&format!("bad status line {line:?}")));
        }
        let reason = parts.next().unwrap_or("").to_string();
        let mut r = Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            trailers: Vec::new(),
            interim: Vec::new(),
            chunked: false,
            close_delimited: false,
        };
        let no_body = head_request || status < 200 || status == 204 || status == 304;
        if no_body {
            return Ok(r);
        }
        if r.header("transfer-encoding").is_some() {
            if !r.has_token("transfer-encoding", "chunked") {
                return Err(bad("transfer-encoding without chunked"));
            }
            r.chunked = true;
            let (body, trailers) = self.conn.read_chunked()?;
            r.body = body;
            r.trailers = trailers;
        } else if let Some(cl) = r.header("content-length") {
            let n: usize = cl.parse().map_err(|_| bad("bad content-length"))?;
            r.body = self.conn.read_exact_n(n)?;
        } else {
            r.close_delimited = true;
            r.body = self.conn.read_to_eof()?;
        }
        Ok(r)
    }

    /// The final response, collecting the 1xx statuses before it (101 is final here).
    pub fn try_read_response(&mut self, head_request: bool) -> io::Result<Response> {
        let mut interim = Vec::new();
        loop {
            let mut r = self.try_read_one(head_request)?;
            if r.status >= 200 || r.status == 101 {
                r.interim = interim;
                return Ok(r);
            }
            interim.push(r.status);
        }
    }

    pub fn read_response(&mut self) -> Response {
        self.try_read_response(false)
            .unwrap_or_else(|e| panic!("reading response: {e}"))
    }

    pub fn read_head_response(&mut self) -> Response {
        self.try_read_response(true)
            .unwrap_or_else(|e| panic!("reading HEAD response: {e}"))
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send_request("GET", path, &[], b"");
        self.read_response()
    }

    /// Asserts the peer closes the connection (EOF or reset) with nothing more to read.
    pub fn expect_closed(&mut self) {
        let extra = self.conn.buffered().to_vec();
        assert!(
            extra.is_empty(),
            "unexpected bytes after response: {:?}",
            lossy(&extra)
        );
        let mut tmp = [0u8; 1024];
        match self.conn.stream.read(&mut tmp) {
            Ok(0) => {}
            Ok(n) => panic!("expected close, got more bytes: {:?}", lossy(&tmp[..n])),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the connection to be closed, got: {e}"),
        }
    }

    pub fn shutdown_write(&self) {
        self.conn.stream.shutdown(Shutdown::Write).unwrap();
    }
}

/// One request on a fresh connection, which the client then drops.
pub fn get_once(addr: SocketAddr, path: &str) -> Response {
    Client::connect(addr).get(path)
}

/// Counts responses by `x-server`.
pub fn tally(
    servers: impl IntoIterator<Item = String>,
) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for s in servers {
        *m.entry(s).or_insert(0) += 1;
    }
    m
}

/// What a backend reports having received (the body of its default response).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub server: String,
    pub conn: usize,
    pub method: String,
    pub target: String,
    pub version: String,
    pub body_len: usize,
    pub body_hash: u64,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    fn parse(text: &str) -> Seen {
        let mut s = Seen::default();
        for line in text.lines() {
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            match k {
                "server" => s.server = v.to_string(),
                "conn" => s.conn = v.parse().unwrap(),
                "method" => s.method = v.to_string(),
                "target" => s.target = v.to_string(),
                "version" => s.version = v.to_string(),
                "body-len" => s.body_len = v.parse().unwrap(),
                "body-hash" => s.body_hash = v.parse().unwrap(),
                "header" => {
                    let (n, v) = v.split_once(": ").unwrap_or((v, ""));
                    s.headers.push((n.to_string(), v.to_string()));
                }
                _ => panic!("unexpected description line {line:?} in {text:?}"),
            }
        }
        s
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP backend
// ---------------------------------------------------------------------------------------------

#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: usize,
    /// Request heads parsed.
    pub heads: usize,
    /// Requests whose body was read completely (what a smuggled request would need).
    pub requests: usize,
    pub in_flight: usize,
    pub max_in_flight: usize,
}

struct BackendState {
    name: String,
    stop: AtomicBool,
    /// Delay before every response (a slow server), in ms.
    delay_ms: u64,
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl BackendState {
    fn update(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.lock().unwrap();
        f(&mut c);
        c.max_in_flight = c.max_in_flight.max(c.in_flight);
        self.changed.notify_all();
    }
}

pub struct HttpBackend {
    pub addr: SocketAddr,
    state: Arc<BackendState>,
}

impl HttpBackend {
    pub fn start(name: &str) -> HttpBackend {
        HttpBackend::start_slow(name, 0)
    }

    /// A backend that waits `delay_ms` before every response.
    pub fn start_slow(name: &str, delay_ms: u64) -> HttpBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind backend");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(BackendState {
            name: name.to_string(),
            stop: AtomicBool::new(false),
            delay_ms,
            counts: Mutex::default(),
            changed: Condvar::new(),
        });
        let st = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = conn else { continue };
                let mut id = 0;
                st.update(|c| {
                    c.connections += 1;
                    id = c.connections;
                });
                let st = st.clone();
                thread::spawn(move || serve_http(&st, stream, id));
            }
        });
        HttpBackend { addr, state }
    }

    pub fn counts(&self) -> Counts {
        *self.state.counts.lock().unwrap()
    }

    pub fn connections(&self) -> usize {
        self.counts().connections
    }

    pub fn requests(&self) -> usize {
        self.counts().requests
    }

    pub fn heads(&self) -> usize {
        self.counts().heads
    }

    /// Waits (bounded) until `pred` holds for the counters; panics on timeout.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&Counts) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut c = self.state.counts.lock().unwrap();
        while !pred(&c) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "backend {}: timed out waiting for {what}: {:?}",
                self.state.name,
                *c
            );
            c = self
                .state
                .changed
                .wait_timeout(c, deadline - now)
                .unwrap()
                .0;
        }
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

struct Req {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
}

impl Req {
    /// Whether the connection stays open after this request, by HTTP/1.x rules.
    fn keep_alive(&self) -> bool {
        if has_token(&self.headers, "connection", "close") {
            return false;
        }
        self.version == "HTTP/1.1" || has_token(&self.headers, "connection", "keep-alive")
    }
}

fn serve_http(st: &BackendState, stream: TcpStream, conn_id: usize) {
    let _ = stream.set_read_timeout(Some(BACKEND_IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(BACKEND_IO_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let mut c = BufConn::new(stream);
    while let Ok(true) = serve_one(st, &mut c, conn_id) {}
}

/// Serves one request; Ok(true) to keep the connection for the next one.
fn serve_one(st: &BackendState, c: &mut BufConn, conn_id: usize) -> io::Result<bool> {
    let Some(head) = c.read_head()? else {
        return Ok(false);
    };
    st.update(|c| c.heads += 1);
    let (line, headers) = split_head(&head)?;
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 {
        c.stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")?;
        return Ok(false);
    }
    let req = Req {
        method: parts[0].to_string(),
        target: parts[1].to_string(),
        version: parts[2].to_string(),
        headers,
    };
    // Special paths ignore the query string (`/delay/100?tag=x`).
    let path = req.target.split('?').next().unwrap_or("").to_string();
    if path == "/reset" {
        reset(&c.stream);
        return Ok(false);
    }
    if path == "/hang" {
        // Never answer; hold the socket until the proxy gives up and closes it.
        let _ = c.read_to_eof();
        return Ok(false);
    }
    if has_token(&req.headers, "expect", "100-continue") {
        c.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if has_token(&req.headers, "transfer-encoding", "chunked") {
        c.read_chunked()?.0
    } else if let Some(cl) = header(&req.headers, "content-length") {
        let n: usize = cl.parse().map_err(|_| bad("bad content-length"))?;
        c.read_exact_n(n)?
    } else {
        Vec::new()
    };
    st.update(|c| {
        c.requests += 1;
        c.in_flight += 1;
    });
    respond(st, c, conn_id, &req, &body)
}

/// Ends the request's in-flight period. Called before the response is written, so the proxy
/// can never see the response (and send the next request) while the count is still up.
fn answered(st: &BackendState) {
    st.update(|c| c.in_flight -= 1);
}

fn reset(stream: &TcpStream) {
    use std::os::unix::io::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn describe(st: &BackendState, conn_id: usize, req: &Req, body: &[u8]) -> Vec<u8> {
    let mut d = format!(
        "server {}\nconn {conn_id}\nmethod {}\ntarget {}\nversion {}\nbody-len {}\nbody-hash {}\n",
        st.name,
        req.method,
        req.target,
        req.version,
        body.len(),
        fnv(body)
    );
    for (n, v) in &req.headers {
        d.push_str(&format!("header {n}: {v}\n"));
    }
    d.into_bytes()
}

fn respond(
    st: &BackendState,
    c: &mut BufConn,
    conn_id: usize,
    req: &Req,
    body: &[u8],
) -> io::Result<bool> {
    if st.delay_ms > 0 {
        thread::sleep(Duration::from_millis(st.delay_ms));
    }
    let name = &st.name;
    let path = req.target.split('?').next().unwrap_or("");
    let is_head = req.method == "HEAD";
    let mut keep = req.keep_alive();
    let mut status = 200;
    let mut extra = String::new();
    let mut out = Vec::new();
    let arg = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
    };
    let body_out: Option<Vec<u8>> = if let Some(n) = arg("/size/") {
        Some(pattern(n))
    } else if let Some(ms) = arg("/delay/") {
        thread::sleep(Duration::from_millis(ms as u64));
        Some(describe(st, conn_id, req, body))
    } else if path == "/echo" {
        Some(body.to_vec())
    } else if path == "/close" {
        keep = false;
        Some(describe(st, conn_id, req, body))
    } else if let Some(n) = arg("/status/") {
        status = n as u16;
        Some(format!("status {n}\n").into_bytes())
    } else if path == "/204" {
        status = 204;
        None
    } else if path == "/304" {
        status = 304;
        // A 304 may carry the length of the representation it stands for, never a body.
        extra.push_str("etag: \"v1\"\r\ncontent-length: 42\r\n");
        None
    } else if path == "/100" {
        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        Some(describe(st, conn_id, req, body))
    } else if path == "/nolength" {
        let b = pattern(10000);
        let mut h = format!("HTTP/1.1 200 OK\r\nx-server: {name}\r\n\r\n").into_bytes();
        if !is_head {
            h.extend(b);
        }
        answered(st);
        c.stream.write_all(&h)?;
        c.stream.shutdown(Shutdown::Both)?;
        return Ok(false);
    } else if let Some(n) = arg("/chunked/") {
        let mut h =
            format!("HTTP/1.1 200 OK\r\nx-server: {name}\r\ntransfer-encoding: chunked\r\n\r\n")
                .into_bytes();
        for i in 0..n {
            let chunk = chunk_i(i);
            h.extend(format!("{:x}\r\n", chunk.len()).into_bytes());
            h.extend(chunk);
            h.extend(b"\r\n");
        }
        h.extend(format!("0\r\nx-trailer: done-{n}\r\n\r\n").into_bytes());
        answered(st);
        c.stream.write_all(&h)?;
        return Ok(keep);
    } else if path == "/ws" {
        return websocket(st, c, req);
    } else {
        Some(describe(st, conn_id, req, body))
    };
    let conn_hdr = if keep { "" } else { "connection: close\r\n" };
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nx-server: {name}\r\n{extra}{conn_hdr}",
        reason(status)
    );
    if let Some(b) = &body_out {
        h.push_str(&format!(
            "content-type: text/plain\r\ncontent-length: {}\r\n",
            b.len()
        ));
    }
    h.push_str("\r\n");
    out.extend(h.into_bytes());
    if let (Some(b), false) = (&body_out, is_head) {
        out.extend_from_slice(b);
    }
    answered(st);
    c.stream.write_all(&out)?;
    if !keep {
        let _ = c.stream.shutdown(Shutdown::Write);
        let _ = c.read_to_eof();
    }
    Ok(keep)
}

/// Answers an Upgrade with 101, then echoes raw bytes until EOF.
fn websocket(st: &BackendState, c: &mut BufConn, req: &Req) -> io::Result<bool> {
    answered(st);
    if !has_token(&req.headers, "connection", "upgrade")
        || header(&req.headers, "upgrade").is_none()
    {
        c.stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\n\r\nno upgrade\n")?;
        return Ok(true);
    }
    let h = format!(
        "HTTP/1.1 101 Switching Protocols\r\nx-server: {}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n",
        st.name
    );
    c.stream.write_all(h.as_bytes())?;
    loop {
        let data = c.read_some()?;
        if data.is_empty() {
            let _ = c.stream.shutdown(Shutdown::Write);
            return Ok(false);
        }
        c.stream.write_all(&data)?;
    }
}

// ---------------------------------------------------------------------------------------------
// TCP echo backend
// ---------------------------------------------------------------------------------------------

/// Echoes bytes; after reading EOF it sends `bye` and closes (half-close aware).
pub struct TcpEchoBackend {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl TcpEchoBackend {
    pub fn start() -> TcpEchoBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo backend");
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (conns, stop2) = (connections.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut s) = conn else { continue };
                conns.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(BACKEND_IO_TIMEOUT));
                    let _ = s.set_write_timeout(Some(BACKEND_IO_TIMEOUT));
                    let mut buf = [0u8; 65536];
                    loop {
                        match s.read(&mut buf) {
                            Ok(0) => {
                                let _ = s.write_all(b"bye");
                                let _ = s.shutdown(Shutdown::Both);
                                return;
                            }
                            Ok(n) => {
                                if s.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                            Err(_) => return,
                        }
                    }
                });
            }
        });
        TcpEchoBackend {
            addr,
            connections,
            stop,
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TcpEchoBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// A loopback port nothing listens on (bound, then released), for "connection refused".
pub fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
