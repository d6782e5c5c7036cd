//! HTTP/1.1 on the client side: the request bytes (built once per run) and response framing
//! (head via httparse; Content-Length, chunked, or until close, RFC 9112 section 6).

use bytes::Bytes;

/// Longest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Headers parsed per response.
const MAX_HEADERS: usize = 64;
/// Filler byte of POST bodies.
const BODY_BYTE: u8 = b'b';

/// What to send; built from the command line.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: String,
    pub path: String,
    pub host: String,
    pub headers: Vec<(String, String)>,
    pub body_size: usize,
    /// Ask for `Connection: close` (one connection per request).
    pub close: bool,
}

impl RequestSpec {
    /// The complete request, head and body.
    pub fn build(&self) -> Bytes {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            out.push_str(&format!("Host: {}\r\n", self.host));
        }
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if self.body_size > 0 || self.method == "POST" || self.method == "PUT" {
            out.push_str(&format!("Content-Length: {}\r\n", self.body_size));
        }
        if self.close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.resize(bytes.len() + self.body_size, BODY_BYTE);
        Bytes::from(bytes)
    }

    pub fn expects_body(&self) -> bool {
        self.method != "HEAD"
    }
}

/// How the body of a response ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// Bytes of the head, including the empty line.
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// The server will close after this response.
    pub close: bool,
    /// The `x-server` value, if any.
    pub server: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadResponse;

/// Parses a response head at the start of `buf`: `Ok(None)` until it is complete.
pub fn parse_head(buf: &[u8], body_expected: bool) -> Result<Option<Head>, BadResponse> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(BadResponse),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(BadResponse),
    };
    let status = resp.code.ok_or(BadResponse)?;
    let mut length = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    let mut server = None;
    for h in resp.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(BadResponse)?;
            if length.is_some_and(|m| m != n) {
                return Err(BadResponse);
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") && resp.version == Some(0) {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("x-server") {
            server = Some(h.value.to_vec());
        }
    }
    let no_body = !body_expected || status / 100 == 1 || status == 204 || status == 304;
    let framing = match (no_body, chunked, length) {
        (true, _, _) => Framing::None,
        (false, true, _) => Framing::Chunked,
        (false, false, Some(n)) => Framing::Length(n),
        (false, false, None) => Framing::UntilClose,
    };
    if framing == Framing::UntilClose {
        close = true;
    }
    Ok(Some(Head {
        len,
        status,
        framing,
        close,
        server,
    }))
}

fn last_token(v: &[u8]) -> &[u8] {
    v.rsplit(|&b| b == b',').next().unwrap_or(v).trim_ascii()
}

/// Skips a chunked body fed in pieces (RFC 9112 section 7.1); keeps no data.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    size: u64,
    digits: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    /// Chunk extension up to the end of the size line.
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer line (or the final empty line).
    TrailerStart,
    Trailer,
    TrailerLf,
    FinalLf,
    Done,
}

impl Chunked {
    /// Consumes bytes of `data`; returns how many, and whether the body is complete.
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, bool), BadResponse> {
        use ChunkState::*;
        let mut i = 0;
        while i < data.len() && self.state != Done {
            let b = data[i];
            match self.state {
                Size => match (b as char).to_digit(16) {
                    Some(d) if self.digits < 15 => {
                        self.size = self.size * 16 + u64::from(d);
                        self.digits += 1;
                    }
                    _ if self.digits == 0 => return Err(BadResponse),
                    None if b == b';' || b == b' ' || b == b'\t' => self.state = Ext,
                    None if b == b'\r' => self.state = SizeLf,
                    _ => return Err(BadResponse),
                },
                Ext if b == b'\r' => self.state = SizeLf,
                Ext => {}
                SizeLf if b == b'\n' => {
                    self.digits = 0;
                    self.state = if self.size == 0 { TrailerStart } else { Data };
                }
                Data => {
                    let take = (self.size as usize).min(data.len() - i);
                    self.size -= take as u64;
                    i += take;
                    if self.size == 0 {
                        self.state = DataCr;
                    }
                    continue;
                }
                DataCr if b == b'\r' => self.state = DataLf,
                DataLf if b == b'\n' => self.state = Size,
                TrailerStart if b == b'\r' => self.state = FinalLf,
                TrailerStart | Trailer if b != b'\r' => self.state = Trailer,
                Trailer => self.state = TrailerLf,
                TrailerLf if b == b'\n' => self.state = TrailerStart,
                FinalLf if b == b'\n' => self.state = Done,
                _ => return Err(BadResponse),
            }
            i += 1;
        }
        Ok((i, self.state == Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_get_and_post() {
        let mut spec = RequestSpec {
            method: "GET".into(),
            path: "/x".into(),
            host: "h:1".into(),
            headers: vec![],
            body_size: 0,
            close: false,
        };
        assert_eq!(&spec.build()[..], b"GET /x HTTP/1.1\r\nHost: h:1\r\n\r\n");
        spec.method = "POST".into();
        spec.body_size = 3;
        spec.close = true;
        spec.headers = vec![("Host".into(), "other".into())];
        assert_eq!(
            &spec.build()[..],
            &b"POST /x HTTP/1.1\r\nHost: other\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbbb"[..]
        );
    }

    #[test]
    fn parses_heads() {
        let h = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-server: s1\r\n\r\nhello";
        let head = parse_head(h, true).unwrap().unwrap();
        assert_eq!(head.len, h.len() - 5);
        assert_eq!(head.framing, Framing::Length(5));
        assert!(!head.close);
        assert_eq!(head.server.as_deref(), Some(&b"s1"[..]));
        assert_eq!(parse_head(&h[..20], true), Ok(None));
        let h = b"HTTP/1.1 503 x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let head = parse_head(h, true).unwrap().unwrap();
        assert_eq!(
            (head.status, head.framing, head.close),
            (503, Framing::Chunked, true)
        );
        let h = b"HTTP/1.0 200 OK\r\n\r\n";
        assert_eq!(
            parse_head(h, true).unwrap().unwrap().framing,
            Framing::UntilClose
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", true).is_err());
        assert!(parse_head(b"garbage\r\n\r\n", true).is_err());
    }

    #[test]
    fn skips_chunked_bodies_in_any_split() {
        let body = b"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\nNEXT";
        for split in 0..=body.len() - 4 {
            let mut c = Chunked::default();
            let (a, done_a) = c.feed(&body[..split]).unwrap();
            assert_eq!(a, split);
            if done_a {
                continue;
            }
            let (b, done) = c.feed(&body[split..]).unwrap();
            assert!(done, "split {split}");
            assert_eq!(a + b, body.len() - 4, "split {split}");
        }
        assert!(Chunked::default().feed(b"\r\n").is_err());
        assert!(Chunked::default().feed(b"zz\r\n").is_err());
    }
}
