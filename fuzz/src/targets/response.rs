//! Response heads, parsed once for each request method (the method decides the body of
//! responses to HEAD and CONNECT).
//!
//! Asserts: a refusal is a 502; an accepted head lies inside the input and its ranges inside
//! the head; status 100..=999; no body for HEAD, 1xx, 204 and 304; a 2xx to CONNECT is a
//! tunnel; a persistent response has a length (never "until close") and is not an upgrade;
//! `upgrade` exactly for 101; every method sees the same status and head length; strict
//! prefixes are "need more"; and the head ringlb forwards to the client (as is, and de-chunked
//! for an HTTP/1.0 client) re-parses to the same status and body framing. A chunked body
//! behind the head goes through the chunked checks.

use super::{chunked, head};
use ringlb::http::{
    parse_response, write_response_head, BodyKind, ConnHeader, HeadLimits, Method, Response,
    ResponseRewrite, Version,
};

/// The methods whose answers frame differently, and two that frame like GET.
const METHODS: [Method; 5] = [
    Method::Get,
    Method::Head,
    Method::Connect,
    Method::Post,
    Method::Other,
];
/// What ringlb answers a client when the server's response is invalid.
const STATUS_BAD_GATEWAY: u16 = 502;

pub fn run(data: &[u8]) {
    let limits = HeadLimits::default();
    let mut first: Option<(u16, usize)> = None;
    for method in METHODS {
        let mut resp = Response::new();
        match parse_response(data, &limits, method, &mut resp) {
            Err(e) => assert_eq!(e.status, STATUS_BAD_GATEWAY, "{}", e.reason),
            Ok(false) => assert!(data.len() < limits.max_head),
            Ok(true) => {
                let seen = (resp.status, resp.head_len);
                assert_eq!(
                    *first.get_or_insert(seen),
                    seen,
                    "{method:?} sees another head"
                );
                check_accepted(data, &resp, method, &limits);
                check_split_arrival(data, &resp, method, &limits);
                check_forwarded(data, &resp, method);
                if resp.body == BodyKind::Chunked && method == Method::Get {
                    chunked::check(&data[resp.head_len..]);
                }
            }
        }
    }
}

fn check_accepted(data: &[u8], resp: &Response, method: Method, limits: &HeadLimits) {
    let n = resp.head_len;
    assert!(
        n <= data.len() && n <= limits.max_head,
        "head_len {n} too long"
    );
    assert!((100..=999).contains(&resp.status), "status {}", resp.status);
    head::assert_inside("reason", &resp.reason, n);
    head::assert_headers(data, &resp.headers, n);
    head::assert_framing(data, &resp.headers, resp.body);
    let s = resp.status;
    let bodiless = method == Method::Head || (100..200).contains(&s) || s == 204 || s == 304;
    if bodiless {
        assert_eq!(resp.body, BodyKind::None, "{method:?} -> {s} has a body");
    } else if method == Method::Connect && (200..300).contains(&s) {
        assert_eq!(
            resp.body,
            BodyKind::UntilClose,
            "CONNECT -> {s} is not a tunnel"
        );
    }
    if resp.keep_alive {
        assert_ne!(
            resp.body,
            BodyKind::UntilClose,
            "persistent but framed until close"
        );
        assert!(!resp.upgrade, "persistent upgrade");
    }
    assert_eq!(resp.upgrade, s == 101, "upgrade flag on {s}");
    if resp.body == BodyKind::Chunked {
        assert_eq!(resp.version, Version::Http11, "chunked HTTP/1.0 response");
    }
}

fn check_split_arrival(data: &[u8], resp: &Response, method: Method, limits: &HeadLimits) {
    let mut again = Response::new();
    for cut in head::cut_points(data, resp.head_len) {
        let r = parse_response(&data[..cut], limits, method, &mut again);
        assert_eq!(
            r,
            Ok(false),
            "the first {cut} bytes of an accepted head were not 'need more'"
        );
    }
    let r = parse_response(&data[..resp.head_len], limits, method, &mut again);
    assert_eq!(r, Ok(true));
    assert_eq!(&again, resp, "the head alone parses differently");
}

/// What the client receives frames the body as ringlb read it (or close-delimited when
/// ringlb de-chunks for an HTTP/1.0 client).
fn check_forwarded(data: &[u8], resp: &Response, method: Method) {
    let connection = match (resp.upgrade, resp.keep_alive) {
        (true, _) => ConnHeader::Upgrade,
        (false, true) => ConnHeader::KeepAlive,
        (false, false) => ConnHeader::Close,
    };
    for dechunk in [false, true] {
        if dechunk && resp.body != BodyKind::Chunked {
            continue;
        }
        let rw = ResponseRewrite {
            connection,
            edits: None,
            version: if dechunk {
                Version::Http10
            } else {
                Version::Http11
            },
            dechunk,
        };
        let mut out = Vec::new();
        write_response_head(&mut out, data, resp, &rw);
        let roomy = HeadLimits {
            max_head: out.len() + 1,
            max_headers: resp.headers.len() + 4,
        };
        let mut fwd = Response::new();
        let r = parse_response(&out, &roomy, method, &mut fwd);
        let shown = String::from_utf8_lossy(&out);
        assert_eq!(
            r,
            Ok(true),
            "forwarded head refused by ringlb itself:\n{shown}"
        );
        assert_eq!(
            fwd.head_len,
            out.len(),
            "forwarded head ends early:\n{shown}"
        );
        assert_eq!(fwd.status, resp.status);
        let expected = if dechunk {
            BodyKind::UntilClose
        } else {
            resp.body
        };
        assert_eq!(
            fwd.body, expected,
            "forwarded head frames the body differently:\n{shown}"
        );
    }
}
