//! The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a proxy in
//! front sends before a connection's first byte to say who the client really is.
//!
//! `parse` reads a header from the bytes received so far (pure, bounded, never panics);
//! `read_header` takes one off an accepted socket without reading a byte past it (peek, then
//! consume exactly the header), so that TLS or the request that follows starts where it must;
//! `encode_v1` / `encode_v2` write the header `send-proxy` / `send-proxy-v2` send to a server.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use monoio::io::AsyncReadRentExt;
use monoio::net::TcpStream;

/// Version 2's signature, its first 12 bytes.
const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 2's fixed part: signature, version/command, family, length.
const V2_FIXED: usize = 16;
/// Version 1's longest line, CRLF included (the spec's 107 bytes).
const V1_MAX: usize = 107;
const V1_PREFIX: &[u8] = b"PROXY ";
/// The most one peek looks at: a v1 line or a v2 header without large TLVs.
const PEEK_MAX: usize = 512;

const TLV_ALPN: u8 = 0x01;
const TLV_CRC32C: u8 = 0x03;

/// The two ends a header reports, as the proxy in front saw them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addrs {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// What a complete header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// The client's addresses: they replace the connection's own.
    Proxy(Addrs),
    /// v1 `UNKNOWN`, v2 `LOCAL`, or a v2 family other than TCP over IPv4/IPv6 (UDP, unix):
    /// the connection's own addresses stay, as in HAProxy 2.6.
    Local,
}

/// The outcome of `parse` on the bytes received so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parse {
    /// A header of `len` bytes.
    Done(Header, usize),
    /// Not complete yet: every byte so far belongs to the header.
    Partial,
    /// Not a PROXY header, or a malformed one: the connection is closed.
    Invalid(&'static str),
}

/// Reads the header at the start of `buf`. `max_v2` bounds a v2 header's length (HAProxy
/// refuses one larger than its buffer).
pub fn parse(buf: &[u8], max_v2: usize) -> Parse {
    let n = buf.len().min(V2_SIG.len());
    if buf[..n] == V2_SIG[..n] {
        return if buf.len() < V2_FIXED {
            Parse::Partial
        } else {
            parse_v2(buf, max_v2)
        };
    }
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] != V1_PREFIX[..n] {
        return Parse::Invalid(
            "Received something which does not look like a PROXY protocol header",
        );
    }
    parse_v1(buf)
}

fn parse_v1(buf: &[u8]) -> Parse {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        // A CR can only be followed by LF, an LF only follow a CR (HAProxy refuses them at
        // once, without waiting for more); anything longer than a line is not one.
        let last = buf.len().saturating_sub(1);
        let bad_cr = buf[..last].contains(&b'\r');
        return if buf.len() >= V1_MAX || bad_cr || buf.contains(&b'\n') {
            Parse::Invalid("PROXY v1 line too long or not ended by CRLF")
        } else {
            Parse::Partial
        };
    };
    let len = end + 2;
    if len > V1_MAX {
        return Parse::Invalid("PROXY v1 line too long");
    }
    let Ok(line) = std::str::from_utf8(&buf[V1_PREFIX.len()..end]) else {
        return Parse::Invalid("PROXY v1 line is not text");
    };
    match v1_fields(line) {
        Some(h) => Parse::Done(h, len),
        None => Parse::Invalid("malformed PROXY v1 header"),
    }
}

/// `TCP4 SRC DST SPORT DPORT`, `TCP6 ...`, or `UNKNOWN` followed by anything.
fn v1_fields(line: &str) -> Option<Header> {
    if line == "UNKNOWN" || line.starts_with("UNKNOWN ") {
        return Some(Header::Local);
    }
    let mut f = line.split(' ');
    let (proto, src, dst, sport, dport) = (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
    if f.next().is_some() {
        return None;
    }
    let (src, dst): (IpAddr, IpAddr) = match proto {
        "TCP4" => (
            src.parse::<Ipv4Addr>().ok()?.into(),
            dst.parse::<Ipv4Addr>().ok()?.into(),
        ),
        "TCP6" => (
            src.parse::<Ipv6Addr>().ok()?.into(),
            dst.parse::<Ipv6Addr>().ok()?.into(),
        ),
        _ => return None,
    };
    Some(Header::Proxy(Addrs {
        src: SocketAddr::new(src, v1_port(sport)?),
        dst: SocketAddr::new(dst, v1_port(dport)?),
    }))
}

/// Decimal digits only (no sign, no spaces), at most 65535.
fn v1_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_v2(buf: &[u8], max_v2: usize) -> Parse {
    let (ver_cmd, fam) = (buf[12], buf[13]);
    let body = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let len = V2_FIXED + body;
    if ver_cmd >> 4 != 2 {
        return Parse::Invalid("PROXY v2 header with an unknown version");
    }
    if len > max_v2 {
        return Parse::Invalid("PROXY v2 header larger than the buffer");
    }
    if buf.len() < len {
        return Parse::Partial;
    }
    let hdr = &buf[..len];
    match ver_cmd & 0x0f {
        0x0 => Parse::Done(Header::Local, len),
        0x1 => match v2_proxy(hdr, fam) {
            Ok(h) => Parse::Done(h, len),
            Err(why) => Parse::Invalid(why),
        },
        _ => Parse::Invalid("PROXY v2 header with an unknown command"),
    }
}

/// A v2 PROXY command's addresses, then its TLVs checked to end at the header's end (and a
/// CRC32C one verified), as HAProxy 2.6 does.
fn v2_proxy(hdr: &[u8], fam: u8) -> Result<Header, &'static str> {
    let body = &hdr[V2_FIXED..];
    let short = "PROXY v2 header too short for its address family";
    let (header, addr_len) = match fam {
        0x11 => {
            let a = body.get(..12).ok_or(short)?;
            let ip = |o: usize| IpAddr::from([a[o], a[o + 1], a[o + 2], a[o + 3]]);
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            let addrs = Addrs {
                src: SocketAddr::new(ip(0), port(8)),
                dst: SocketAddr::new(ip(4), port(10)),
            };
            (Header::Proxy(addrs), 12)
        }
        0x21 => {
            let a = body.get(..36).ok_or(short)?;
            let ip = |o: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&a[o..o + 16]);
                IpAddr::from(b)
            };
            let port = |o: usize| u16::from_be_bytes([a[o], a[o + 1]]);
            let addrs = Addrs {
                src: SocketAddr::new(ip(0), port(32)),
                dst: SocketAddr::new(ip(16), port(34)),
            };
            (Header::Proxy(addrs), 36)
        }
        // UDP, unix sockets, unspecified: the connection keeps its own addresses, and the
        // rest of the block is theirs (no TLVs to find in it).
        _ => return Ok(Header::Local),
    };
    check_tlvs(hdr, V2_FIXED + addr_len)?;
    Ok(header)
}

fn check_tlvs(hdr: &[u8], mut at: usize) -> Result<(), &'static str> {
    while at < hdr.len() {
        let t = hdr.get(at..at + 3).ok_or("PROXY v2 TLV cut short")?;
        let len = usize::from(u16::from_be_bytes([t[1], t[2]]));
        let end = at + 3 + len;
        if end > hdr.len() {
            return Err("PROXY v2 TLV longer than the header");
        }
        if t[0] == TLV_CRC32C {
            if len != 4 {
                return Err("PROXY v2 CRC32C TLV of the wrong size");
            }
            let want = u32::from_be_bytes([hdr[at + 3], hdr[at + 4], hdr[at + 5], hdr[at + 6]]);
            // The checksum is over the whole header with its own value zeroed.
            let mut copy = hdr.to_vec();
            copy[at + 3..end].fill(0);
            if crc32c(&copy) != want {
                return Err("PROXY v2 CRC32C mismatch");
            }
        }
        at = end;
    }
    Ok(())
}

/// CRC-32C (Castagnoli), bitwise: headers are small and this runs once per connection.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The v1 line for a connection from `a.src` to `a.dst` (`UNKNOWN` when there is none, as for
/// a health check, or when the families differ).
pub fn encode_v1(a: Option<Addrs>) -> Vec<u8> {
    let line = match a.map(|a| (a.src, a.dst)) {
        Some((SocketAddr::V4(s), SocketAddr::V4(d))) => format!(
            "PROXY TCP4 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        Some((SocketAddr::V6(s), SocketAddr::V6(d))) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            s.ip(),
            d.ip(),
            s.port(),
            d.port()
        ),
        // HAProxy maps mixed families to IPv6 in v2; in v1 it sends TCP6 with mapped addresses.
        Some((s, d)) => format!(
            "PROXY TCP6 {} {} {} {}\r\n",
            v6(s.ip()),
            v6(d.ip()),
            s.port(),
            d.port()
        ),
        None => "PROXY UNKNOWN\r\n".to_string(),
    };
    line.into_bytes()
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// The v2 header: PROXY over TCP4 or TCP6 (mixed families as IPv6), or LOCAL without
/// addresses. One TLV at most: the client's ALPN, as HAProxy 2.6 sends it when the client's
/// TLS negotiated one (the others need `proxy-v2-options`).
pub fn encode_v2(a: Option<Addrs>, alpn: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(V2_FIXED + 36);
    out.extend_from_slice(V2_SIG);
    let Some(a) = a else {
        out.extend_from_slice(&[0x20, 0x00, 0, 0]);
        return out;
    };
    match (a.src.ip(), a.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x21, 0x11, 0, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            out.extend_from_slice(&[0x21, 0x21, 0, 36]);
            out.extend_from_slice(&v6(s).octets());
            out.extend_from_slice(&v6(d).octets());
        }
    }
    out.extend_from_slice(&a.src.port().to_be_bytes());
    out.extend_from_slice(&a.dst.port().to_be_bytes());
    if let Some(p) = alpn.filter(|p| !p.is_empty() && p.len() <= 255) {
        out.push(TLV_ALPN);
        out.extend_from_slice(&(p.len() as u16).to_be_bytes());
        out.extend_from_slice(p);
    }
    let body = (out.len() - V2_FIXED) as u16;
    out[14..16].copy_from_slice(&body.to_be_bytes());
    out
}

/// Why no header was taken off a connection.
#[derive(Debug)]
pub enum ReadFail {
    Timeout,
    /// Closed or failed before the header was complete.
    Closed,
    Invalid(&'static str),
}

impl ReadFail {
    /// The words HAProxy 2.6 logs for it.
    pub fn haproxy_message(&self) -> &'static str {
        match self {
            ReadFail::Timeout => "Timeout while waiting for PROXY protocol header",
            ReadFail::Closed => "Connection closed while waiting for PROXY protocol header",
            ReadFail::Invalid(_) => {
                "Received something which does not look like a PROXY protocol header"
            }
        }
    }
}

/// Takes a PROXY header off `s` within `limit`, consuming exactly its bytes: each round peeks
/// at what has arrived, parses it with what came before, and reads off only bytes that belong
/// to the header (all of them while it is incomplete, so the next wait is for new bytes).
pub async fn read_header(
    s: &mut TcpStream,
    limit: Option<Duration>,
    max_v2: usize,
) -> Result<Header, ReadFail> {
    let deadline = limit.map(|d| Instant::now() + d);
    let mut got: Vec<u8> = Vec::with_capacity(V1_MAX);
    let mut peeked = [0u8; PEEK_MAX];
    loop {
        let n = match peek(s, &mut peeked) {
            Ok(0) => return Err(ReadFail::Closed),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_readable(s, deadline).await?;
                continue;
            }
            Err(_) => return Err(ReadFail::Closed),
        };
        let before = got.len();
        got.extend_from_slice(&peeked[..n]);
        let take = match parse(&got, max_v2) {
            Parse::Invalid(why) => return Err(ReadFail::Invalid(why)),
            Parse::Partial => n,
            Parse::Done(_, len) => len - before,
        };
        got.truncate(before + take);
        let (res, _) = s.read_exact(vec![0u8; take]).await;
        if res.is_err() {
            return Err(ReadFail::Closed);
        }
        if let Parse::Done(h, _) = parse(&got, max_v2) {
            return Ok(h);
        }
    }
}

async fn wait_readable(s: &TcpStream, deadline: Option<Instant>) -> Result<(), ReadFail> {
    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if left.is_some_and(|l| l.is_zero()) {
        return Err(ReadFail::Timeout);
    }
    match crate::io::timed(left, s.readable(false)).await {
        Ok(_) => Ok(()),
        Err(crate::io::IoFail::Timeout) => Err(ReadFail::Timeout),
        Err(crate::io::IoFail::Io(_)) => Err(ReadFail::Closed),
    }
}

fn peek(s: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: recv into a valid buffer of `buf.len()` bytes on a socket we own; MSG_PEEK
    // leaves the bytes in the socket for the exact read that follows.
    let n = unsafe {
        libc::recv(
            s.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests;
