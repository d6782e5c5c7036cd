//! The raw test client and what it reads: responses, and the backend's description of the
//! request it saw.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use super::*;

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

    /// Exactly `n` raw bytes (mode tcp relays).
    pub fn read_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        self.conn.read_exact_n(n)
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
