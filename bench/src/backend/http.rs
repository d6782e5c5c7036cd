//! Request framing for the backend: where one HTTP/1.x request ends, what it asks for, and
//! whether the connection stays open afterwards (RFC 9112 sections 6, 7 and 9.3).
//!
//! httparse parses only the head; the body framing (Content-Length, chunked) is done here.
//! A request is answered only once it is completely in the buffer, which keeps the connection
//! loop simple; the limits below bound the memory that costs.

/// Largest request head accepted; beyond it the answer is 431 and the connection closes.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted (decoded); beyond it the answer is 413.
pub const MAX_BODY: usize = 16 << 20;
/// Most headers per request; more is answered with 431.
const MAX_HEADERS: usize = 64;
/// Hex digits in a chunk size: 7 digits already exceed MAX_BODY, so 8 is a safe bound.
const MAX_CHUNK_SIZE_DIGITS: usize = 8;
/// Longest chunk-size line (with extensions) or trailer line.
const MAX_CHUNK_LINE: usize = 4096;

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Route {
    /// Anything not below: 200 with the server name.
    Name,
    /// `/size/N`: N bytes of body.
    Size(usize),
    /// `/chunked/N`: N bytes of body in chunks; `padded`: `/chunked-padded/N`, the size lines
    /// zero-padded to 16 digits (what a proxy that re-chunks must rewrite).
    Chunked { len: usize, padded: bool },
    /// `/status`: "OK\n".
    Status,
    /// `/delay/MS`: answer after MS milliseconds.
    Delay(u64),
    /// `/echo`: the request body back.
    Echo,
}

/// Where the request body is, once the request is complete.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Body {
    None,
    /// A byte range of the parsed buffer (Content-Length bodies).
    Range(usize, usize),
    /// Decoded into the caller's scratch buffer (chunked bodies).
    Decoded,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub route: Route,
    /// HEAD: answer with the headers of GET but without a body.
    pub head_only: bool,
    pub keep_alive: bool,
    /// HTTP/1.0 keep-alive must be confirmed explicitly in the answer.
    pub http10: bool,
    /// Bytes of the buffer this request occupies (head and body).
    pub consumed: usize,
    pub body: Body,
}

/// Why a request is refused; every refusal closes the connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reject {
    BadRequest,
    ContentTooLarge,
    HeadersTooLarge,
    NotImplemented,
}

#[derive(Debug, PartialEq)]
pub enum Parse {
    Complete(Request),
    Partial,
    Error(Reject),
}

/// Parses the request at the start of `buf`; a chunked body is decoded into `scratch`.
pub fn parse(buf: &[u8], scratch: &mut Vec<u8>) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Parse::Error(Reject::HeadersTooLarge)
        }
        Ok(httparse::Status::Partial) => return Parse::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parse::Error(Reject::HeadersTooLarge),
        Err(_) => return Parse::Error(Reject::BadRequest),
    };
    let http10 = req.version == Some(0);
    let framing = match scan_headers(req.headers, http10) {
        Ok(f) => f,
        Err(r) => return Parse::Error(r),
    };
    let (consumed, body) = match framing.body {
        BodyFraming::None => (head_len, Body::None),
        BodyFraming::Length(n) if n > MAX_BODY => return Parse::Error(Reject::ContentTooLarge),
        BodyFraming::Length(n) if buf.len() - head_len < n => return Parse::Partial,
        BodyFraming::Length(n) => (head_len + n, Body::Range(head_len, head_len + n)),
        BodyFraming::Chunked => match decode_chunked(&buf[head_len..], scratch) {
            Ok(Some(n)) => (head_len + n, Body::Decoded),
            Ok(None) => return Parse::Partial,
            Err(r) => return Parse::Error(r),
        },
    };
    Parse::Complete(Request {
        route: route(req.path.unwrap_or("/")),
        head_only: req.method == Some("HEAD"),
        keep_alive: framing.keep_alive,
        http10,
        consumed,
        body,
    })
}

enum BodyFraming {
    None,
    Length(usize),
    Chunked,
}

struct Framing {
    body: BodyFraming,
    keep_alive: bool,
}

fn scan_headers(headers: &[httparse::Header], http10: bool) -> Result<Framing, Reject> {
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep_alive = !http10;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(h.value).ok_or(Reject::BadRequest)?;
            if length.is_some_and(|l| l != n) {
                return Err(Reject::BadRequest);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only a lone "chunked" is understood; anything else cannot be framed.
            if chunked || !trim(h.value).eq_ignore_ascii_case(b"chunked") {
                return Err(Reject::NotImplemented);
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if http10 && token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let body = match (length, chunked) {
        // Both at once is a request-smuggling shape: refuse it rather than guess.
        (Some(_), true) => return Err(Reject::BadRequest),
        (Some(0), false) | (None, false) => BodyFraming::None,
        (Some(n), false) => BodyFraming::Length(n),
        (None, true) if http10 => return Err(Reject::BadRequest),
        (None, true) => BodyFraming::Chunked,
    };
    Ok(Framing { body, keep_alive })
}

fn parse_content_length(v: &[u8]) -> Option<usize> {
    let v = trim(v);
    if v.is_empty() || v.len() > 15 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0')))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

fn route(target: &str) -> Route {
    let path = target.split('?').next().unwrap_or(target);
    match path {
        "/status" => Route::Status,
        "/echo" => Route::Echo,
        _ => {
            if let Some(n) = path.strip_prefix("/size/").and_then(|n| n.parse().ok()) {
                Route::Size(n)
            } else if let Some(n) = path.strip_prefix("/chunked/").and_then(|n| n.parse().ok()) {
                Route::Chunked {
                    len: n,
                    padded: false,
                }
            } else if let Some(n) = path
                .strip_prefix("/chunked-padded/")
                .and_then(|n| n.parse().ok())
            {
                Route::Chunked {
                    len: n,
                    padded: true,
                }
            } else if let Some(ms) = path.strip_prefix("/delay/").and_then(|n| n.parse().ok()) {
                Route::Delay(ms)
            } else {
                Route::Name
            }
        }
    }
}

/// Decodes a chunked body at the start of `buf` into `out`. Returns the bytes it occupies
/// (trailers included) once complete, `None` while incomplete.
fn decode_chunked(buf: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, Reject> {
    out.clear();
    let mut pos = 0;
    loop {
        let Some(line) = line_at(buf, pos)? else {
            return Ok(None);
        };
        let size = chunk_size(&buf[pos..pos + line])?;
        pos += line + 2;
        if size == 0 {
            return skip_trailers(buf, pos);
        }
        if out.len() + size > MAX_BODY {
            return Err(Reject::ContentTooLarge);
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err(Reject::BadRequest);
        }
        out.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

/// Length of the CRLF-terminated line at `pos` (without the CRLF), `None` if not complete.
fn line_at(buf: &[u8], pos: usize) -> Result<Option<usize>, Reject> {
    let rest = &buf[pos..];
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(n) if n > MAX_CHUNK_LINE => Err(Reject::BadRequest),
        Some(n) => Ok(Some(n)),
        None if rest.len() > MAX_CHUNK_LINE => Err(Reject::BadRequest),
        None => Ok(None),
    }
}

/// `chunk-size [ BWS ; chunk-ext ]`: at least one hex digit, extensions ignored.
fn chunk_size(line: &[u8]) -> Result<usize, Reject> {
    let digits = line.split(|&b| b == b';').next().unwrap_or(line);
    let digits = trim(digits);
    if digits.is_empty()
        || digits.len() > MAX_CHUNK_SIZE_DIGITS
        || !digits.iter().all(u8::is_ascii_hexdigit)
    {
        return Err(Reject::BadRequest);
    }
    let hex = std::str::from_utf8(digits).map_err(|_| Reject::BadRequest)?;
    usize::from_str_radix(hex, 16).map_err(|_| Reject::BadRequest)
}

fn skip_trailers(buf: &[u8], mut pos: usize) -> Result<Option<usize>, Reject> {
    loop {
        let Some(line) = line_at(buf, pos)? else {
            return Ok(None);
        };
        pos += line + 2;
        if line == 0 {
            return Ok(Some(pos));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> (Parse, Vec<u8>) {
        let mut scratch = Vec::new();
        (parse(s.as_bytes(), &mut scratch), scratch)
    }

    fn complete(s: &str) -> Request {
        match parse_str(s).0 {
            Parse::Complete(r) => r,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn simple_get_keeps_alive() {
        let r = complete("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.route, Route::Name);
        assert!(r.keep_alive && !r.http10);
        assert_eq!(r.consumed, 27);
    }

    #[test]
    fn routes() {
        assert_eq!(
            complete("GET /size/10 HTTP/1.1\r\n\r\n").route,
            Route::Size(10)
        );
        assert_eq!(
            complete("GET /delay/5?x=1 HTTP/1.1\r\n\r\n").route,
            Route::Delay(5)
        );
        assert_eq!(
            complete("GET /status HTTP/1.1\r\n\r\n").route,
            Route::Status
        );
        assert_eq!(
            complete("GET /size/abc HTTP/1.1\r\n\r\n").route,
            Route::Name
        );
    }

    #[test]
    fn connection_rules() {
        assert!(!complete("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!complete("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(complete("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
    }

    #[test]
    fn content_length_body() {
        assert_eq!(
            parse_str("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nab").0,
            Parse::Partial
        );
        let r = complete("POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcdeGET");
        assert_eq!(r.body, Body::Range(42, 47));
        assert_eq!(r.consumed, 47);
    }

    #[test]
    fn chunked_body() {
        let s = "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n";
        let (p, body) = parse_str(s);
        assert!(
            matches!(p, Parse::Complete(r) if r.consumed == s.len() && r.body == Body::Decoded)
        );
        assert_eq!(body, b"abcde");
        assert_eq!(parse_str(&s[..s.len() - 2]).0, Parse::Partial);
    }

    #[test]
    fn refusals() {
        let bad = |s: &str| match parse_str(s).0 {
            Parse::Error(r) => r,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(bad("\x00\x01garbage\r\n\r\n"), Reject::BadRequest);
        assert_eq!(
            bad("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Reject::BadRequest
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Reject::BadRequest
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Reject::NotImplemented
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n"),
            Reject::BadRequest
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n"),
            Reject::BadRequest
        );
        assert_eq!(
            bad("POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
            Reject::ContentTooLarge
        );
    }
}
