//! One health probe: a TCP connect, an HTTP request checked against `http-check expect`, or a
//! `tcp-check` sequence. Every step is bounded (connect timeout, then one read deadline), so a
//! target that accepts and never answers costs one `timeout check`, never a stuck checker.
//! With `check-ssl` every connection of the probe is TLS (HAProxy: "a simple TCP connect check
//! becomes an SSL connect"), the handshake within the connect timeout, with the server's TLS
//! settings and `check-sni` / `check-alpn`; a failed handshake is HAProxy's Layer6 failure.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use std::sync::Arc;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;

use crate::net::{proxy_proto, Stream, TlsStream};
use crate::tls::client_config::ClientTls;

use crate::config::model::{
    Backend, CheckConnect, CheckKind, Expect, ExpectTest, ProxyVersion, Server, ServerCheck,
    TcpStep,
};

/// The most response bytes a check reads (HAProxy reads up to one buffer, `tune.bufsize`).
const MAX_READ: usize = 16384;

/// What a backend's checks do, built once at start.
pub enum Plan {
    Connect,
    Http {
        request: Vec<u8>,
        expect: Vec<Expect>,
        connect: CheckConnect,
    },
    Tcp(Vec<TcpStep>),
}

impl Plan {
    pub fn of(be: &Backend) -> Plan {
        let c = &be.check;
        match c.kind {
            CheckKind::Connect => Plan::Connect,
            CheckKind::TcpCheck => Plan::Tcp(c.tcp_steps.clone()),
            CheckKind::Http => Plan::Http {
                request: http_request(be),
                expect: c.expect.clone(),
                connect: c.connect.unwrap_or_default(),
            },
        }
    }
}

/// `option httpchk` + `http-check send`: the request line, headers, `Connection: close` (the
/// check reads to the end of the response) and the body.
fn http_request(be: &Backend) -> Vec<u8> {
    let c = &be.check;
    let base = c.http.as_ref();
    let method = c
        .send
        .method
        .as_deref()
        .or(base.map(|h| h.method.as_str()))
        .unwrap_or("OPTIONS");
    let uri = c
        .send
        .uri
        .as_deref()
        .or(base.map(|h| h.uri.as_str()))
        .unwrap_or("/");
    let version = c
        .send
        .version
        .as_deref()
        .or(base.map(|h| h.version.as_str()))
        .unwrap_or("HTTP/1.0");
    let mut out = format!("{method} {uri} {version}\r\n");
    for (n, v) in &c.send.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(body) = &c.send.body {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("connection: close\r\n\r\n");
    if let Some(body) = &c.send.body {
        out.push_str(body);
    }
    out.into_bytes()
}

/// Where checks of a server go: `addr` and `port` override the server's address.
pub fn target(s: &Server, c: &ServerCheck) -> SocketAddr {
    let ip = c.addr.unwrap_or(s.addr.ip());
    SocketAddr::new(ip, c.port.unwrap_or(s.addr.port()))
}

fn override_target(base: SocketAddr, c: &CheckConnect) -> SocketAddr {
    let ip: IpAddr = c.addr.unwrap_or(base.ip());
    SocketAddr::new(ip, c.port.unwrap_or(base.port()))
}

/// How a server's checks speak TLS, built on the checker thread (its own config, as each
/// worker core has its own).
pub struct CheckTls {
    /// `None`: the server's TLS files did not load (every check fails, saying so).
    config: Option<Arc<ClientConfig>>,
    sni: Option<ServerName<'static>>,
}

impl CheckTls {
    pub fn of(s: &Server) -> CheckTls {
        let built = s
            .tls
            .as_ref()
            .and_then(|t| ClientTls::build(t, &mut Vec::new()).ok());
        CheckTls {
            config: built.as_ref().map(|c| c.check.clone()),
            sni: built.and_then(|c| c.check_sni),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub connect: Duration,
    /// From the end of the connect to the end of the check.
    pub read: Duration,
    /// The PROXY header the probe's connections open with (`check-send-proxy`, or
    /// `send-proxy*` without `port`/`addr`).
    pub proxy: Option<ProxyVersion>,
}

/// A check result, worded as HAProxy logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub reason: &'static str,
    pub code: Option<u16>,
    pub info: Option<String>,
    pub took: Duration,
}

impl Outcome {
    fn new(ok: bool, reason: &'static str) -> Outcome {
        Outcome {
            ok,
            reason,
            code: None,
            info: None,
            took: Duration::ZERO,
        }
    }

    fn info(mut self, info: impl Into<String>) -> Outcome {
        self.info = Some(info.into());
        self
    }

    fn code(mut self, code: u16) -> Outcome {
        self.code = Some(code);
        self
    }
}

pub async fn run(plan: &Plan, addr: SocketAddr, tls: Option<&CheckTls>, t: Timing) -> Outcome {
    let start = Instant::now();
    let mut o = match plan {
        Plan::Connect => connect(addr, tls, t)
            .await
            // HAProxy says Layer6 when the connect check was a TLS handshake.
            .map(|_| match tls {
                Some(_) => Outcome::new(true, "Layer6 check passed"),
                None => Outcome::new(true, "Layer4 check passed"),
            })
            .unwrap_or_else(|e| e),
        Plan::Http {
            request,
            expect,
            connect: c,
        } => http(override_target(addr, c), tls, request, expect, t).await,
        Plan::Tcp(steps) => tcp(addr, tls, steps, t).await,
    };
    o.took = start.elapsed();
    o
}

/// A connection for one probe: TCP, then the TLS handshake when the checks use TLS, both
/// within `limit`.
async fn connect(addr: SocketAddr, tls: Option<&CheckTls>, t: Timing) -> Result<Stream, Outcome> {
    let limit = t.connect;
    let deadline = Instant::now() + limit;
    let tcp = match monoio::time::timeout(limit, connect_sending(addr, t.proxy)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            s
        }
        Ok(Err(e)) => {
            return Err(Outcome::new(false, "Layer4 connection problem").info(io_info(&e)))
        }
        Err(_) => return Err(Outcome::new(false, "Layer4 timeout")),
    };
    let Some(tls) = tls else {
        return Ok(Stream::from(tcp));
    };
    let Some(config) = &tls.config else {
        return Err(Outcome::new(false, "Layer6 invalid response")
            .info("the server's TLS settings did not load"));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let handshake = TlsStream::connect(tcp, config, tls.sni.clone());
    match monoio::time::timeout(left, handshake).await {
        Ok(Ok(t)) => Ok(Stream::Tls(Box::new(t))),
        // HAProxy's words for a failed handshake in a check.
        Ok(Err(e)) => Err(Outcome::new(false, "Layer6 invalid response").info(format!(
            "SSL handshake failure ({})",
            crate::net::handshake_error(e)
        ))),
        Err(_) => Err(Outcome::new(false, "Layer6 timeout")),
    }
}

/// A TCP connection to `addr`, its PROXY header (if any) sent.
async fn connect_sending(
    addr: SocketAddr,
    proxy: Option<ProxyVersion>,
) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect_addr(addr).await?;
    let header = match proxy {
        None => return Ok(tcp),
        // HAProxy 2.6's checks: v1 names the check connection's own ends, v2 says LOCAL.
        Some(ProxyVersion::V1) => {
            let own = match (tcp.local_addr(), tcp.peer_addr()) {
                (Ok(src), Ok(dst)) => Some(proxy_proto::Addrs { src, dst }),
                _ => None,
            };
            proxy_proto::encode_v1(own)
        }
        Some(ProxyVersion::V2) => proxy_proto::encode_v2(None, None),
    };
    tcp.write_all(header).await.0?;
    Ok(tcp)
}

/// HAProxy's info texts for common connect errors.
fn io_info(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "Connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "Connection reset by peer".into(),
        _ => e.to_string(),
    }
}

async fn send(s: &mut Stream, bytes: Vec<u8>, deadline: Instant) -> Result<(), Outcome> {
    let left = deadline.saturating_duration_since(Instant::now());
    match monoio::time::timeout(left, s.write_all(bytes)).await {
        Ok((Ok(_), _)) => Ok(()),
        Ok((Err(e), _)) => Err(Outcome::new(false, "Layer4 connection problem").info(io_info(&e))),
        Err(_) => Err(Outcome::new(false, "Layer7 timeout")),
    }
}

/// Appends what arrives to `buf`; Ok(false) at end of stream or when `buf` is full.
async fn read_more(s: &mut Stream, buf: &mut Vec<u8>, deadline: Instant) -> Result<bool, Outcome> {
    if buf.len() >= MAX_READ {
        return Ok(false);
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let chunk = Vec::with_capacity(MAX_READ - buf.len());
    match monoio::time::timeout(left, s.read(chunk)).await {
        Ok((Ok(0), _)) => Ok(false),
        Ok((Ok(_), chunk)) => {
            buf.extend_from_slice(&chunk);
            Ok(true)
        }
        Ok((Err(e), _)) => Err(Outcome::new(false, "Layer4 connection problem").info(io_info(&e))),
        Err(_) => Err(Outcome::new(false, "Layer7 timeout")),
    }
}

async fn http(
    addr: SocketAddr,
    tls: Option<&CheckTls>,
    request: &[u8],
    expect: &[Expect],
    t: Timing,
) -> Outcome {
    let mut s = match connect(addr, tls, t).await {
        Ok(s) => s,
        Err(o) => return o,
    };
    let deadline = Instant::now() + t.read;
    if let Err(o) = send(&mut s, request.to_vec(), deadline).await {
        return o;
    }
    let mut buf = Vec::with_capacity(1024);
    loop {
        match read_more(&mut s, &mut buf, deadline).await {
            Ok(true) if !response_complete(&buf) => continue,
            Ok(_) => break,
            // A timeout after the head arrived still lets the head be judged.
            Err(o) if buf.is_empty() || head(&buf).is_none() => return o,
            Err(_) => break,
        }
    }
    judge_http(&buf, expect)
}

struct Head {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body_at: usize,
    length: Option<usize>,
}

fn head(buf: &[u8]) -> Option<Head> {
    let mut hdrs = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut hdrs);
    let httparse::Status::Complete(body_at) = r.parse(buf).ok()? else {
        return None;
    };
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse().ok());
    Some(Head {
        status: r.code?,
        reason: r.reason.unwrap_or("").to_string(),
        headers,
        body_at,
        length,
    })
}

fn response_complete(buf: &[u8]) -> bool {
    match head(buf) {
        Some(Head {
            body_at,
            length: Some(n),
            ..
        }) => buf.len() >= body_at + n,
        _ => false,
    }
}

fn judge_http(buf: &[u8], expect: &[Expect]) -> Outcome {
    let Some(h) = head(buf) else {
        return Outcome::new(false, "Layer7 invalid response");
    };
    let body = buf.get(h.body_at..).unwrap_or(&[]);
    let body = match h.length {
        Some(n) => body.get(..n).unwrap_or(body),
        None => body,
    };
    let wrong = || {
        Outcome::new(false, "Layer7 wrong status")
            .code(h.status)
            .info(h.reason.clone())
    };
    if expect.is_empty() {
        // HAProxy's default: 2xx and 3xx pass.
        // A passing check says no more than its code: HAProxy 2.6's lines and `last_chk`
        // carry no reason phrase then (checked beside it).
        if (200..400).contains(&h.status) {
            return Outcome::new(true, "Layer7 check passed").code(h.status);
        }
        return wrong();
    }
    for e in expect {
        if holds(&e.test, h.status, &h.headers, body) == e.negate {
            let o = wrong();
            return match &e.test {
                ExpectTest::Status(_) | ExpectTest::RStatus(_) => o,
                _ => o.info(format!("expected content did not match ({})", describe(e))),
            };
        }
    }
    Outcome::new(true, "Layer7 check passed").code(h.status)
}

fn describe(e: &Expect) -> String {
    let neg = if e.negate { "! " } else { "" };
    let t = match &e.test {
        ExpectTest::Status(r) => format!("status {r:?}"),
        ExpectTest::RStatus(r) => format!("rstatus {r}"),
        ExpectTest::String(s) => format!("string '{s}'"),
        ExpectTest::RString(r) => format!("rstring {r}"),
        ExpectTest::Binary(b) => format!("binary of {} bytes", b.len()),
        ExpectTest::Hdr { name, .. } => format!("hdr {name}"),
    };
    format!("{neg}{t}")
}

fn holds(t: &ExpectTest, status: u16, headers: &[(String, String)], body: &[u8]) -> bool {
    match t {
        ExpectTest::Status(ranges) => ranges.iter().any(|(a, b)| (*a..=*b).contains(&status)),
        ExpectTest::RStatus(re) => re.is_match(&status.to_string()),
        ExpectTest::Hdr { name, value, full } => headers.iter().any(|(n, v)| {
            n == name
                && match value {
                    None => true,
                    Some(want) if *full => v.trim() == want,
                    Some(want) => v.split(',').any(|p| p.trim() == want),
                }
        }),
        _ => data_holds(t, body),
    }
}

fn data_holds(t: &ExpectTest, data: &[u8]) -> bool {
    match t {
        ExpectTest::String(s) => contains(data, s.as_bytes()),
        ExpectTest::RString(re) => re.is_match(&String::from_utf8_lossy(data)),
        ExpectTest::Binary(b) => contains(data, b),
        _ => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

async fn tcp(base: SocketAddr, tls: Option<&CheckTls>, steps: &[TcpStep], t: Timing) -> Outcome {
    let mut conn: Option<Stream> = None;
    let mut deadline = Instant::now() + t.read;
    let mut buf = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        if conn.is_none() || matches!(step, TcpStep::Connect(_)) {
            let addr = match step {
                TcpStep::Connect(c) => override_target(base, c),
                _ => base,
            };
            match connect(addr, tls, t).await {
                Ok(s) => conn = Some(s),
                Err(o) => return o,
            }
            deadline = Instant::now() + t.read;
            buf.clear();
        }
        let Some(s) = conn.as_mut() else {
            return Outcome::new(false, "Layer4 connection problem");
        };
        match step {
            TcpStep::Connect(_) => {}
            TcpStep::Send(bytes) => {
                if let Err(o) = send(s, bytes.clone(), deadline).await {
                    return o;
                }
            }
            TcpStep::Expect(e) => loop {
                if data_holds(&e.test, &buf) != e.negate {
                    // Data is consumed by a matching expect, as in HAProxy.
                    buf.clear();
                    break;
                }
                match read_more(s, &mut buf, deadline).await {
                    Ok(true) => {}
                    Ok(false) => {
                        return Outcome::new(false, "Layer7 wrong status").info(format!(
                            "TCPCHK did not match content ({}) at step {}",
                            describe(e),
                            n + 1
                        ))
                    }
                    Err(o) => return o,
                }
            },
        }
    }
    if conn.is_none() {
        return match connect(base, tls, t).await {
            Ok(_) => Outcome::new(true, "Layer4 check passed"),
            Err(o) => o,
        };
    }
    Outcome::new(true, "Layer7 check passed").info("(tcp-check)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(test: ExpectTest) -> Expect {
        Expect {
            negate: false,
            test,
        }
    }

    #[test]
    fn http_status_and_string_must_both_hold() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nOK";
        let tests = vec![
            exp(ExpectTest::Status(vec![(200, 200)])),
            exp(ExpectTest::String("OK".into())),
        ];
        assert!(judge_http(ok, &tests).ok);
        let wrong_body = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nFAIL";
        assert!(!judge_http(wrong_body, &tests).ok);
        let down = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\n\r\nOK";
        let o = judge_http(down, &tests);
        assert_eq!(
            (o.ok, o.reason, o.code),
            (false, "Layer7 wrong status", Some(503))
        );
    }

    #[test]
    fn http_defaults_and_negation() {
        assert!(judge_http(b"HTTP/1.0 302 Found\r\n\r\n", &[]).ok);
        assert!(!judge_http(b"HTTP/1.0 404 Not Found\r\n\r\n", &[]).ok);
        assert!(!judge_http(b"garbage", &[]).ok);
        let not_500 = [Expect {
            negate: true,
            test: ExpectTest::Status(vec![(500, 599)]),
        }];
        assert!(judge_http(b"HTTP/1.0 404 Not Found\r\n\r\n", &not_500).ok);
        let hdr = [exp(ExpectTest::Hdr {
            name: "x-state".into(),
            value: Some("ready".into()),
            full: false,
        })];
        assert!(judge_http(b"HTTP/1.0 200 OK\r\nX-State: busy, ready\r\n\r\n", &hdr).ok);
    }
}
