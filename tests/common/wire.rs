//! HTTP/1 wire helpers shared by the client and the backends: a buffered stream that keeps
//! bytes past the current message, strict chunked decoding, head splitting, test patterns.

use std::io::{self, Read};
use std::net::TcpStream;

/// Trailer fields of a chunked body, as (name, value).
pub type Trailers = Vec<(String, String)>;

use super::*;

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
    pub fn read_chunked(&mut self) -> io::Result<(Vec<u8>, Trailers)> {
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

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn eof(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, msg.to_string())
}

pub(crate) fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Hex digits, optionally followed by `;ext`; any leading zeros (RFC 9112 `1*HEXDIG`), then at
/// most 15 significant digits (no overflow); never empty.
pub(crate) fn parse_chunk_size(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let digits = text.split(';').next()?.trim_end_matches([' ', '\t']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let significant = digits.trim_start_matches('0');
    if significant.len() > 15 {
        return None;
    }
    usize::from_str_radix(
        if significant.is_empty() {
            "0"
        } else {
            significant
        },
        16,
    )
    .ok()
}

pub(crate) fn split_header(line: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let (n, v) = text.split_once(':')?;
    if n.is_empty() || n.contains([' ', '\t']) {
        return None;
    }
    Some((n.to_string(), v.trim_matches([' ', '\t']).to_string()))
}

/// Request/status line and header lines of a head (ending in the empty line).
pub(crate) fn split_head(head: &[u8]) -> io::Result<(String, Vec<(String, String)>)> {
    let text = std::str::from_utf8(&head[..head.len() - 4]).map_err(|_| bad("head not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for l in lines {
        headers.push(split_header(l.as_bytes()).ok_or_else(|| bad(&format!("bad header {l:?}")))?);
    }
    Ok((first, headers))
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// True when some `name` header lists `token` (comma-separated, case-insensitive).
pub(crate) fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
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
