//! Unit tests for parse.rs. Statuses marked "HAProxy" were checked against HAProxy 2.6.12.

use super::*;

fn req(raw: &[u8]) -> Result<Request, HttpError> {
    let mut out = Request::new();
    match parse_request(raw, &HeadLimits::default(), &mut out)? {
        true => Ok(out),
        false => Err(HttpError {
            status: 0,
            reason: "incomplete",
        }),
    }
}

fn status(raw: &[u8]) -> u16 {
    match req(raw) {
        Ok(_) => 200,
        Err(e) => e.status,
    }
}

fn text<'a>(buf: &'a [u8], r: &Range<usize>) -> &'a [u8] {
    &buf[r.clone()]
}

#[test]
fn simple_get() {
    let raw = b"GET /a?b HTTP/1.1\r\nHost: example.com\r\nX-A:  1 \r\n\r\nNEXT";
    let r = req(raw).unwrap();
    assert_eq!(r.head_len, raw.len() - 4);
    assert_eq!(r.method, Method::Get);
    assert_eq!(text(raw, &r.method_range), b"GET");
    assert_eq!(text(raw, &r.target), b"/a?b");
    assert_eq!(r.version, Version::Http11);
    assert_eq!(r.headers.len(), 2);
    assert_eq!(text(raw, &r.headers[1].name), b"X-A");
    assert_eq!(text(raw, &r.headers[1].value), b"1");
    assert_eq!(r.body, BodyKind::None);
    assert!(r.keep_alive && !r.expect_continue && !r.upgrade);
    assert_eq!(text(raw, r.host.as_ref().unwrap()), b"example.com");
    assert_eq!(header_value(raw, &r.headers, "x-a"), Some(&b"1"[..]));
    assert_eq!(header_value(raw, &r.headers, "x-b"), None);
}

#[test]
fn incomplete_needs_more_at_every_prefix() {
    let raw = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    let mut out = Request::new();
    for cut in 0..raw.len() {
        assert_eq!(
            parse_request(&raw[..cut], &HeadLimits::default(), &mut out),
            Ok(false),
            "{cut}"
        );
    }
    assert_eq!(
        parse_request(raw, &HeadLimits::default(), &mut out),
        Ok(true)
    );
    assert_eq!(out.body, BodyKind::Length(3));
}

#[test]
fn request_line_rules() {
    assert_eq!(status(b"get / HTTP/1.1\r\n\r\n"), 200); // lowercase token: valid (HAProxy)
    assert_eq!(
        req(b"get / HTTP/1.1\r\n\r\n").unwrap().method,
        Method::Other
    );
    assert_eq!(
        req(b"PURGE / HTTP/1.1\r\n\r\n").unwrap().method,
        Method::Other
    );
    assert_eq!(status(b"G(T / HTTP/1.1\r\n\r\n"), 400); // HAProxy
    assert_eq!(status(b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), 400); // HAProxy: non-ASCII target
    assert_eq!(status(b"GET /a b HTTP/1.1\r\n\r\n"), 400);
    assert_eq!(status(b"GET /\r\n\r\n"), 400); // HTTP/0.9 (HAProxy)
    assert_eq!(status(b"GET / HTXP/1.1\r\n\r\n"), 400); // HAProxy
    assert_eq!(status(b"GET / HTTP/1.1x\r\n\r\n"), 400);
    // HAProxy 2.6 forwards these as HTTP/1.1; we answer 505 (RFC 9110 15.6.6).
    assert_eq!(status(b"GET / HTTP/1.2\r\n\r\n"), 505);
    assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
    assert_eq!(status(b"GET  /  HTTP/1.1\r\n\r\n"), 200); // HAProxy accepts
    let r = req(b"\r\n\r\nGET / HTTP/1.0\r\n\r\n").unwrap(); // RFC 9112 2.2
    assert_eq!(r.version, Version::Http10);
}

#[test]
fn bare_lf_line_endings_are_accepted_like_haproxy() {
    let raw = b"GET / HTTP/1.1\nHost: a\n\n";
    let r = req(raw).unwrap();
    assert_eq!(r.head_len, raw.len());
    assert_eq!(text(raw, r.host.as_ref().unwrap()), b"a");
}

#[test]
fn header_syntax_rules() {
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), 400); // obs-fold (HAProxy unfolds)
    assert_eq!(status(b"GET / HTTP/1.1\r\n X: a\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400); // HAProxy
    assert_eq!(status(b"GET / HTTP/1.1\r\nA(b: a\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\n: a\r\n\r\n"), 400); // HAProxy
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n"), 400); // HAProxy 2.6 forwards NUL
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), 400); // HAProxy
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\xe9b\r\n\r\n"), 200); // obs-text
    assert_eq!(status(b"GET / HTTP/1.1\r\nX: a\r\r\n\r\n"), 400);
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400); // HAProxy
}

#[test]
fn size_limits_follow_haproxy() {
    let limits = HeadLimits {
        max_head: 64,
        max_headers: 4,
    };
    let mut out = Request::new();
    let long_line = [b"GET /".as_slice(), &[b'a'; 80], b" HTTP/1.1\r\n\r\n"].concat();
    let e = parse_request(&long_line, &limits, &mut out).unwrap_err();
    assert_eq!((e.status, e.reason), (414, "request line too long")); // HAProxy 2.6 says 400; the issue asks for 414
                                                                      // Even before the line is complete.
    let e = parse_request(&long_line[..70], &limits, &mut out).unwrap_err();
    assert_eq!(e.reason, "request line too long");
    let big_head = [
        b"GET / HTTP/1.1\r\nX: ".as_slice(),
        &[b'a'; 60],
        b"\r\n\r\n",
    ]
    .concat();
    let e = parse_request(&big_head, &limits, &mut out).unwrap_err();
    assert_eq!((e.status, e.reason), (431, "request head too large")); // HAProxy 2.6 says 400; the issue asks for 431
                                                                       // Exactly max_head bytes is fine, one more is not.
    let fits = [
        b"GET / HTTP/1.1\r\nX: ".as_slice(),
        &[b'a'; 41],
        b"\r\n\r\n",
    ]
    .concat();
    assert_eq!(fits.len(), 64);
    assert_eq!(parse_request(&fits, &limits, &mut out), Ok(true));
    let over = [
        b"GET / HTTP/1.1\r\nX: ".as_slice(),
        &[b'a'; 42],
        b"\r\n\r\n",
    ]
    .concat();
    assert!(parse_request(&over, &limits, &mut out).is_err());
    // Bytes after a complete head do not count.
    let body_after = [fits.as_slice(), &[b'b'; 100]].concat();
    assert_eq!(parse_request(&body_after, &limits, &mut out), Ok(true));
}

fn with_headers(n: usize) -> Vec<u8> {
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..n {
        raw.extend_from_slice(format!("X{i}: a\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    raw
}

#[test]
fn header_count_limit_like_haproxy_maxhdr() {
    // HAProxy 2.6, maxhdr 101: 100 header lines pass, 101 get 400.
    assert_eq!(status(&with_headers(100)), 200);
    let e = req(&with_headers(101)).unwrap_err();
    assert_eq!((e.status, e.reason), (431, "too many headers"));
    // A limit above the stack slots takes the heap path.
    let limits = HeadLimits {
        max_head: 1 << 20,
        max_headers: 1001,
    };
    let mut out = Request::new();
    assert_eq!(
        parse_request(&with_headers(1000), &limits, &mut out),
        Ok(true)
    );
    assert_eq!(out.headers.len(), 1000);
    assert!(parse_request(&with_headers(1001), &limits, &mut out).is_err());
}

fn body(raw: &[u8]) -> Result<BodyKind, u16> {
    req(raw).map(|r| r.body).map_err(|e| e.status)
}

const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\n";

fn post(headers: &str) -> Vec<u8> {
    [POST, headers.as_bytes(), b"\r\n"].concat()
}

#[test]
fn request_framing() {
    assert_eq!(body(&post("")), Ok(BodyKind::None));
    assert_eq!(
        body(&post("Content-Length: 0\r\n")),
        Ok(BodyKind::Length(0))
    );
    assert_eq!(
        body(&post("Content-Length: 5\r\n")),
        Ok(BodyKind::Length(5))
    );
    assert_eq!(
        body(&post("Transfer-Encoding: chunked\r\n")),
        Ok(BodyKind::Chunked)
    );
    assert_eq!(
        body(&post("Transfer-Encoding: ChUnKeD\r\n")),
        Ok(BodyKind::Chunked)
    );
    assert_eq!(
        body(&post("Transfer-Encoding:  chunked \r\n")),
        Ok(BodyKind::Chunked)
    );
    let max = format!("Content-Length: {}\r\n", u64::MAX);
    assert_eq!(body(&post(&max)), Ok(BodyKind::Length(u64::MAX)));
}

#[test]
fn smuggling_classics() {
    let cases: &[(&str, u16)] = &[
        // CL.TE and TE.CL: rejected (HAProxy 2.6 drops CL instead).
        ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400),
        ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
        ("Transfer-Encoding: chunked, identity\r\n", 400), // HAProxy
        ("Transfer-Encoding: identity\r\n", 400),          // HAProxy
        ("Transfer-Encoding: gzip\r\n", 400),              // HAProxy
        ("Transfer-Encoding: xchunked\r\n", 400),          // HAProxy
        ("Transfer-Encoding: chunked, chunked\r\n", 400),  // HAProxy
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            400,
        ),
        ("Transfer-Encoding: \"chunked\"\r\n", 400),
        ("Transfer-Encoding: chunked;a=b\r\n", 400),
        ("Transfer-Encoding: \r\n", 400),
        ("Transfer-Encoding: gzip, chunked\r\n", 422), // HAProxy
        (
            "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
            422,
        ), // HAProxy
        ("Content-Length: 5\r\nContent-Length: 6\r\n", 400), // HAProxy
        ("Content-Length: 5, 6\r\n", 400),
        ("Content-Length: +5\r\n", 400), // HAProxy
        ("Content-Length: -5\r\n", 400),
        ("Content-Length: 0x5\r\n", 400), // HAProxy
        ("Content-Length: 5 5\r\n", 400),
        ("Content-Length: \r\n", 400), // HAProxy
        ("Content-Length: 5,\r\n", 400),
        ("Content-Length: 99999999999999999999999\r\n", 400), // HAProxy
        ("Content-Length: 18446744073709551616\r\n", 400),
    ];
    for (headers, want) in cases {
        assert_eq!(body(&post(headers)), Err(*want), "{headers:?}");
    }
    // Identical values collapse (HAProxy accepts both forms).
    assert_eq!(
        body(&post("Content-Length: 5\r\nContent-Length: 5\r\n")),
        Ok(BodyKind::Length(5))
    );
    assert_eq!(
        body(&post("Content-Length: 5, 5\r\n")),
        Ok(BodyKind::Length(5))
    );
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing (HAProxy forwards it).
    let r = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(body(r), Err(400));
}

#[test]
fn connection_flags() {
    let r = req(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").unwrap();
    assert!(!r.keep_alive);
    let r = req(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(!r.keep_alive);
    let r = req(b"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n").unwrap();
    assert!(r.keep_alive);
    let r = req(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").unwrap();
    assert!(!r.keep_alive);
    let r = req(b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n").unwrap();
    assert!(r.upgrade && r.keep_alive);
    let r = req(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n").unwrap();
    assert!(!r.upgrade);
    let r = req(b"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n").unwrap();
    assert!(!r.upgrade);
    let r = req(b"GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n").unwrap();
    assert!(!r.upgrade); // RFC 9110 7.8: ignored in HTTP/1.0
}

#[test]
fn expect_continue() {
    let raw = b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
    assert!(req(raw).unwrap().expect_continue);
    let raw = b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    assert!(!req(raw).unwrap().expect_continue);
    assert!(
        !req(b"PUT / HTTP/1.1\r\nExpect: x\r\n\r\n")
            .unwrap()
            .expect_continue
    );
}

#[test]
fn host_from_absolute_form() {
    let raw = b"GET HTTP://example.com:81/x?y HTTP/1.1\r\n\r\n";
    let r = req(raw).unwrap();
    assert_eq!(text(raw, r.host.as_ref().unwrap()), b"example.com:81");
    let raw = b"GET https://h/?q HTTP/1.1\r\n\r\n";
    assert_eq!(text(raw, req(raw).unwrap().host.as_ref().unwrap()), b"h");
    let raw = b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(text(raw, req(raw).unwrap().host.as_ref().unwrap()), b"a");
    assert_eq!(req(b"GET / HTTP/1.0\r\n\r\n").unwrap().host, None);
    assert_eq!(req(b"CONNECT h:443 HTTP/1.1\r\n\r\n").unwrap().host, None);
}

#[test]
fn reuse_clears_previous_request() {
    let mut out = Request::new();
    let a = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    assert_eq!(parse_request(a, &HeadLimits::default(), &mut out), Ok(true));
    let cap = out.headers.capacity();
    assert_eq!(
        parse_request(b"GET / HTTP/1.1\r\n\r\n", &HeadLimits::default(), &mut out),
        Ok(true)
    );
    assert_eq!(out.headers.len(), 0);
    assert_eq!(out.headers.capacity(), cap);
    assert!(!out.expect_continue && out.host.is_none() && out.body == BodyKind::None);
}

fn resp(raw: &[u8], method: Method) -> Result<Response, HttpError> {
    let mut out = Response::new();
    match parse_response(raw, &HeadLimits::default(), method, &mut out)? {
        true => Ok(out),
        false => Err(HttpError {
            status: 0,
            reason: "incomplete",
        }),
    }
}

#[test]
fn response_framing_table() {
    use BodyKind::*;
    use Method::{Connect, Get, Head};
    let cases: &[(&str, Method, BodyKind, bool)] = &[
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            Get,
            Length(5),
            true,
        ),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", Head, None, true),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
            Head,
            None,
            true,
        ),
        (
            "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n",
            Get,
            None,
            true,
        ),
        (
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n",
            Get,
            None,
            true,
        ),
        ("HTTP/1.1 100 Continue\r\n", Get, None, true),
        ("HTTP/1.1 103 Early Hints\r\nLink: x\r\n", Get, None, true),
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\n",
            Get,
            None,
            false,
        ),
        ("HTTP/1.1 200 OK\r\n", Connect, UntilClose, false),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            Connect,
            UntilClose,
            false,
        ),
        (
            "HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n",
            Connect,
            Length(5),
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n",
            Get,
            Chunked,
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n",
            Get,
            Chunked,
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nTransfer-Encoding: chunked\r\n",
            Get,
            Chunked,
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n",
            Get,
            Chunked,
            true,
        ),
        ("HTTP/1.1 200 OK\r\n", Get, UntilClose, false),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n",
            Get,
            Length(1),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n",
            Get,
            Length(1),
            false,
        ),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n",
            Get,
            Length(1),
            true,
        ),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n",
            Get,
            Length(5),
            true,
        ),
    ];
    for (head, method, want, keep) in cases {
        let raw = [head.as_bytes(), b"\r\n"].concat();
        let r = resp(&raw, *method).unwrap_or_else(|e| panic!("{head:?}: {e}"));
        assert_eq!(
            (r.body, r.keep_alive),
            (*want, *keep),
            "{head:?} {method:?}"
        );
        assert_eq!(r.upgrade, r.status == 101);
    }
}

#[test]
fn response_errors_are_502() {
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        // HAProxy 2.6: 502 for any coding but chunked, empty list members included.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, , x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,,\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, , chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 Odd\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n",
        b"garbage\r\n\r\n",
    ];
    for raw in cases {
        assert_eq!(
            resp(raw, Method::Get).map(|_| ()).unwrap_err().status,
            502,
            "{raw:?}"
        );
    }
    let limits = HeadLimits {
        max_head: 32,
        max_headers: 101,
    };
    let big = [b"HTTP/1.1 200 OK\r\nX: ".as_slice(), &[b'a'; 40]].concat();
    let e = parse_response(&big, &limits, Method::Get, &mut Response::new()).unwrap_err();
    assert_eq!(e.status, 502);
}

#[test]
fn response_fields() {
    let raw = b"HTTP/1.1 404 Not Here\r\nContent-Length: 0\r\n\r\n";
    let r = resp(raw, Method::Get).unwrap();
    assert_eq!(
        (r.status, r.head_len, r.version),
        (404, raw.len(), Version::Http11)
    );
    assert_eq!(text(raw, &r.reason), b"Not Here");
    // A missing or non-UTF-8 reason phrase yields an empty range, never a stray one.
    let r = resp(b"HTTP/1.1 200\r\n\r\n", Method::Get).unwrap();
    assert!(r.reason.is_empty());
    let r = resp(b"HTTP/1.1 200 \xe9\r\n\r\n", Method::Get).unwrap();
    assert!(r.reason.is_empty());
    let mut out = Response::new();
    let partial = b"HTTP/1.1 200 OK\r\nContent-Le";
    assert_eq!(
        parse_response(partial, &HeadLimits::default(), Method::Get, &mut out),
        Ok(false)
    );
}

/// Deterministic xorshift, so that a failure reproduces.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A copy of `seed` with a few bytes changed, inserted or removed.
    pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8] = b"\r\n \t:;,\"\\0aZ-\x00\x7f\xff";
        let mut v = seed.to_vec();
        for _ in 0..1 + self.next() % 4 {
            let at = (self.next() as usize) % (v.len() + 1);
            let byte = ALPHABET[(self.next() as usize) % ALPHABET.len()];
            match self.next() % 3 {
                0 if at < v.len() => v[at] = byte,
                1 if at < v.len() => {
                    v.remove(at);
                }
                _ => v.insert(at, byte),
            }
        }
        v
    }
}

const PLAIN_REQUEST: crate::http::RequestRewrite = crate::http::RequestRewrite {
    connection: crate::http::ConnHeader::KeepAlive,
    edits: None,
    original_to: None,
    forwarded_for: None,
    drop_expect: false,
    unique_id: None,
    origin_form: false,
};

const PLAIN_RESPONSE: crate::http::ResponseRewrite = crate::http::ResponseRewrite {
    connection: crate::http::ConnHeader::KeepAlive,
    edits: None,
    version: Version::Http11,
    dechunk: false,
};

#[test]
fn mutated_heads_never_panic_and_ranges_stay_inside() {
    let seeds: &[&[u8]] = &[
        b"POST http://h/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nConnection: keep-alive, x\r\n\r\n",
        b"GET / HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\nExpect: 100-continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nUpgrade: x\r\n\r\n",
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: h:80\r\nTransfer-Encoding: ,chunked,\r\n\r\n",
        b"HTTP/1.1 103 Hints\nLink: x\nContent-Length: 1,1\n\n",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let limits = HeadLimits {
        max_head: 96,
        max_headers: 5,
    };
    let (mut req, mut resp) = (Request::new(), Response::new());
    let mut out = Vec::new();
    for i in 0..30_000 {
        let input = rng.mutate(seeds[i % seeds.len()]);
        if let Ok(true) = parse_request(&input, &limits, &mut req) {
            assert!(req.head_len <= input.len().min(limits.max_head));
            out.clear();
            crate::http::write_request_head(&mut out, &input, &req, &PLAIN_REQUEST);
            for r in req
                .headers
                .iter()
                .flat_map(|h| [&h.name, &h.value])
                .chain([&req.target])
            {
                assert!(r.end <= req.head_len);
            }
        }
        if let Ok(true) = parse_response(&input, &limits, Method::Get, &mut resp) {
            assert!(resp.head_len <= input.len() && resp.reason.end <= resp.head_len);
            out.clear();
            crate::http::write_response_head(&mut out, &input, &resp, &PLAIN_RESPONSE);
            crate::http::write_interim_head(&mut out, &input, &resp);
        }
    }
}

#[test]
fn absolute_form_authority_must_match_host() {
    let l = HeadLimits::default();
    let mut r = Request::new();
    let same = b"GET http://a.example/x HTTP/1.1\r\nHost: A.example\r\n\r\n";
    assert_eq!(parse_request(same, &l, &mut r), Ok(true));
    // An empty or default port names the same site as none (HAProxy 2.6 agrees, checked).
    for same in [
        &b"GET http://a.example:80/x HTTP/1.1\r\nHost: a.example\r\n\r\n"[..],
        b"GET http://a.example/x HTTP/1.1\r\nHost: a.example:80\r\n\r\n",
        b"GET https://a.example:443/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
        b"GET http://a.example:/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
    ] {
        assert_eq!(parse_request(same, &l, &mut r), Ok(true), "{:?}", same);
    }
    for other in [
        &b"GET http://a.example:8080/x HTTP/1.1\r\nHost: a.example\r\n\r\n"[..],
        b"GET https://a.example:80/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
    ] {
        assert_eq!(
            parse_request(other, &l, &mut r).map_err(|e| e.status),
            Err(400)
        );
    }
    let other = b"GET http://b.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let e = parse_request(other, &l, &mut r).unwrap_err();
    assert_eq!(
        (e.status, e.reason),
        (400, "absolute-form authority differs from Host")
    );
}

#[test]
fn target_form_is_recorded() {
    let form = |raw: &[u8]| req(raw).map(|r| r.target_form).map_err(|e| e.status);
    assert_eq!(form(b"GET /x HTTP/1.1\r\n\r\n"), Ok(TargetForm::Origin));
    let abs = b"GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(form(abs), Ok(TargetForm::Absolute));
    let tunnel = b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n";
    assert_eq!(form(tunnel), Ok(TargetForm::Authority));
    assert_eq!(req(tunnel).unwrap().method, Method::Connect);
    assert_eq!(
        form(b"OPTIONS * HTTP/1.1\r\n\r\n"),
        Ok(TargetForm::Asterisk)
    );
    let r = req(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
    let mut again = r.clone();
    again.clear();
    assert_eq!(again.target_form, TargetForm::Origin);
}

#[test]
fn request_targets_are_400() {
    for target in [
        // HAProxy 2.6: 400 (with a Host header; see README for the cases HAProxy forwards).
        "admin",
        "\\admin",
        "/admin#x",
        "?x",
        "http://a?x",
        "http:/a",
        // Stricter than HAProxy 2.6 (README "How ringlb differs").
        "*",
        "a:80",
        "ftp://a/",
        "http:///x",
        "http://u@a/x",
        "/a\\b",
        "/a\"b",
        "/a<b",
        "/a{b",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(status(raw.as_bytes()), 400, "{target}");
    }
    for (method, target) in [("CONNECT", "/x"), ("CONNECT", "*"), ("CONNECT", "a")] {
        let raw = format!("{method} {target} HTTP/1.1\r\n\r\n");
        assert_eq!(status(raw.as_bytes()), 400, "{method} {target}");
    }
    let e = req(b"GET /x#y HTTP/1.1\r\n\r\n").unwrap_err();
    assert_eq!(e.reason, "fragment in request target");
}

#[test]
fn host_values() {
    let host = |value: &str| {
        let raw = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
        req(raw.as_bytes()).map(|_| ()).map_err(|e| e.reason)
    };
    for ok in ["a", "a.example:8080", "a:", "[::1]:443", "1.2.3.4", ""] {
        assert_eq!(host(ok), Ok(()), "{ok:?}");
    }
    for (bad, why) in [
        ("a,b", "comma list in Host"),
        ("a, a", "comma list in Host"),
        ("u@a", "userinfo in Host"),
        ("u:p@a", "userinfo in Host"),
        ("a b", "invalid Host"),
        ("a/b", "invalid Host"),
        ("[::1", "invalid Host"),
        ("a:x", "invalid port in Host"),
        ("a:65536", "invalid port in Host"),
        ("a:-1", "invalid port in Host"),
    ] {
        assert_eq!(host(bad), Err(why), "{bad:?}");
    }
    // Two Host fields, even identical ones (RFC 9112 3.2; HAProxy merges identical ones).
    assert_eq!(status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
    // HTTP/1.1 without Host is forwarded, as HAProxy 2.6 does.
    assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), 200);
}

#[test]
fn transfer_coding_members_in_requests_like_haproxy() {
    for (te, want) in [
        ("chunked, , x", Err(400)),
        ("chunked, ,", Err(400)),
        ("chunked,,", Err(400)),
        (",", Err(400)),
        (", chunked", Err(422)),
        (",,chunked", Err(422)),
        ("chunked,", Ok(BodyKind::Chunked)),
        ("chunked ,", Ok(BodyKind::Chunked)),
    ] {
        let raw = post(&format!("Transfer-Encoding: {te}\r\n"));
        assert_eq!(body(&raw), want, "{te:?}");
    }
}

#[test]
fn framing_is_recorded_for_the_writers() {
    let r = req(&post("Content-Length: 5\r\nContent-Length: 05, 5\r\n")).unwrap();
    assert_eq!(
        r.framing,
        Framing {
            content_length: Some(5),
            chunked: false
        }
    );
    let r = req(&post("Transfer-Encoding: chunked,\r\n")).unwrap();
    assert!(r.framing.chunked && r.framing.content_length.is_none());
    let head = resp(
        b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n",
        Method::Head,
    )
    .unwrap();
    assert_eq!(
        (head.body, head.framing.content_length),
        (BodyKind::None, Some(7))
    );
    let r304 = resp(
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 7, 7\r\n\r\n",
        Method::Get,
    );
    assert_eq!(r304.unwrap().framing.content_length, Some(7));
}

#[test]
fn http10_get_head_delete_with_a_body_are_413_like_haproxy() {
    let status = |raw: &[u8]| req(raw).map(|_| 200).unwrap_or_else(|e| e.status);
    for m in ["GET", "HEAD", "DELETE"] {
        let with_body = format!("{m} /a HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(status(with_body.as_bytes()), 413, "{m}");
        let empty = format!("{m} /a HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(status(empty.as_bytes()), 200, "{m}");
        let http11 = format!("{m} /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(status(http11.as_bytes()), 200, "{m}");
    }
    for m in ["POST", "PUT", "OPTIONS"] {
        let with_body = format!("{m} /a HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(status(with_body.as_bytes()), 200, "{m}");
    }
}
