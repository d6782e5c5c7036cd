//! Test backends on std threads: an HTTP/1.1 server with special paths and counters, and a
//! half-close aware TCP echo server.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    /// TCP connections accepted.
    pub connections: usize,
    /// TCP connections open now (accepted, not yet closed by either side).
    pub open: usize,
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
    /// Status `/health` answers (body `OK` when 200, else `DOWN`): what a health check sees.
    health: AtomicU16,
    /// Requests other than `/health`, and when the last one arrived.
    traffic: AtomicUsize,
    last_traffic: Mutex<Option<Instant>>,
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
            health: AtomicU16::new(200),
            traffic: AtomicUsize::new(0),
            last_traffic: Mutex::new(None),
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
                    c.open += 1;
                    id = c.connections;
                });
                let st = st.clone();
                thread::spawn(move || {
                    serve_http(&st, stream, id);
                    st.update(|c| c.open -= 1);
                });
            }
        });
        HttpBackend { addr, state }
    }

    /// What `/health` answers from now on.
    pub fn set_health(&self, status: u16) {
        self.state.health.store(status, Ordering::SeqCst);
    }

    /// Requests other than `/health` served so far.
    pub fn traffic(&self) -> usize {
        self.state.traffic.load(Ordering::SeqCst)
    }

    /// When the last request other than `/health` arrived.
    pub fn last_traffic(&self) -> Option<Instant> {
        *self.state.last_traffic.lock().unwrap()
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
    if path == "/early" {
        // Answers at once without reading the request body, then closes (unread bytes make
        // the kernel send a reset): a server refusing an upload early.
        answered_early(st);
        c.stream.write_all(
            b"HTTP/1.1 413 Payload Too Large\r\nx-server: early\r\nconnection: close\r\n\
              content-length: 9\r\n\r\ntoo big\r\n",
        )?;
        let _ = c.stream.shutdown(Shutdown::Write);
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

/// Counts a request answered before its body was read (`/early`).
fn answered_early(st: &BackendState) {
    st.update(|c| c.requests += 1);
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
        413 => "Payload Too Large",
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
    if path != "/health" {
        st.traffic.fetch_add(1, Ordering::SeqCst);
        *st.last_traffic.lock().unwrap() = Some(Instant::now());
    }
    let body_out: Option<Vec<u8>> = if path == "/health" {
        status = st.health.load(Ordering::SeqCst);
        Some(if status == 200 {
            b"OK\n".to_vec()
        } else {
            b"DOWN\n".to_vec()
        })
    } else if let Some(n) = arg("/size/") {
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
    } else if let Some(kind) = path.strip_prefix("/misbehave/") {
        return misbehave(st, c, kind);
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

/// A server that sends bytes after the end of its response: `stray` (a second, unasked-for
/// response), `head-body` (a body after a response to HEAD), `204-body`, `304-body`, or `101`
/// (switching protocols that nobody asked for). With `-late` the extra bytes follow 50 ms
/// after the response. The connection then stays open as if nothing happened.
fn misbehave(st: &BackendState, c: &mut BufConn, kind: &str) -> io::Result<bool> {
    let name = &st.name;
    let (base, late) = match kind.strip_suffix("-late") {
        Some(b) => (b, true),
        None => (kind, false),
    };
    let (head, extra): (String, &[u8]) = match base {
        "stray" => (
            format!("HTTP/1.1 200 OK\r\nx-server: {name}\r\ncontent-length: 3\r\n\r\nok\n"),
            b"HTTP/1.1 200 OK\r\nx-server: stray\r\ncontent-length: 6\r\n\r\nstray\n",
        ),
        "head-body" => (
            format!("HTTP/1.1 200 OK\r\nx-server: {name}\r\ncontent-length: 6\r\n\r\n"),
            b"hello\n",
        ),
        "204-body" => (
            format!("HTTP/1.1 204 No Content\r\nx-server: {name}\r\n\r\n"),
            b"hello\n",
        ),
        "304-body" => (
            format!("HTTP/1.1 304 Not Modified\r\nx-server: {name}\r\ncontent-length: 6\r\n\r\n"),
            b"hello\n",
        ),
        "101" => (
            format!("HTTP/1.1 101 Switching Protocols\r\nx-server: {name}\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"),
            b"",
        ),
        _ => (
            format!("HTTP/1.1 404 Not Found\r\nx-server: {name}\r\ncontent-length: 0\r\n\r\n"),
            b"",
        ),
    };
    answered(st);
    let mut out = head.into_bytes();
    if !late {
        out.extend_from_slice(extra);
    }
    c.stream.write_all(&out)?;
    if late {
        thread::sleep(Duration::from_millis(50));
        c.stream.write_all(extra)?;
    }
    Ok(true)
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

// TCP echo backend

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
