//! Request head + framing: `parse_request` on the input, then the chunked decoder on the bytes
//! behind the head when the head says chunked.
//!
//! Beyond "no panic", it asserts: a refusal is a 4xx/5xx; an accepted head lies inside the
//! input and inside `max_head`; its ranges lie inside the head; Length and Chunked bodies agree
//! with their headers (never both); every strict prefix of an accepted head is "need more"
//! (a client that sends the head in pieces is not refused); the head alone parses to the same
//! request; and the head ringlb forwards re-parses, under ringlb's own rules, to the same
//! method, target, host and body framing (a forwarded head that frames differently is a
//! smuggling vector).

use super::{chunked, head, pending};
use ringlb::http::{
    parse_request, write_request_head, BodyKind, ConnHeader, HeadLimits, HttpError, Method,
    Request, RequestRewrite, Version,
};
use std::net::{IpAddr, Ipv4Addr};

/// What ringlb answers to more header lines than `tune.http.maxhdr` allows.
const STATUS_TOO_MANY_HEADERS: u16 = 431;
/// A small `tune.http.maxhdr` as well, so the too-many-headers path is fuzzed too.
const FEW_HEADERS: usize = 5;

pub fn run(data: &[u8]) {
    let limits = HeadLimits::default();
    let mut req = Request::new();
    let result = parse_request(data, &limits, &mut req);
    few_headers(data, &result, &req);
    match result {
        Err(e) => assert_refusal(e.status, e.reason),
        Ok(false) => assert!(
            data.len() < limits.max_head,
            "{} bytes, max_head {}, still 'need more'",
            data.len(),
            limits.max_head
        ),
        Ok(true) => {
            check_accepted(data, &req, &limits);
            check_split_arrival(data, &req, &limits);
            check_forwarded(data, &req);
            if req.body == BodyKind::Chunked {
                chunked::check(&data[req.head_len..]);
            }
        }
    }
}

pub fn assert_refusal(status: u16, reason: &str) {
    assert!(
        (400..=599).contains(&status),
        "refusal with status {status} ({reason})"
    );
    assert!(!reason.is_empty(), "refusal without a reason");
}

fn check_accepted(data: &[u8], req: &Request, limits: &HeadLimits) {
    let n = req.head_len;
    assert!(
        n <= data.len() && n <= limits.max_head,
        "head_len {n} too long"
    );
    assert!(data[..n].ends_with(b"\n"), "head does not end with LF");
    head::assert_inside("method", &req.method_range, n);
    head::assert_inside("target", &req.target, n);
    let method = &data[req.method_range.clone()];
    assert!(!method.is_empty() && method.iter().all(|&b| head::is_tchar(b)));
    assert_eq!(req.method, Method::from_token(method));
    let target = &data[req.target.clone()];
    assert!(!target.is_empty(), "empty request target accepted");
    assert!(
        target.iter().all(|&b| b.is_ascii_graphic()),
        "target {target:?} holds a control, space or non-ASCII byte"
    );
    head::assert_headers(data, &req.headers, n);
    assert!(
        req.headers.len() < limits.max_headers,
        "more headers than maxhdr allows"
    );
    head::assert_framing(data, &req.headers, req.body);
    check_request_framing(data, req);
    if let Some(host) = &req.host {
        head::assert_inside("host", host, n);
    }
    assert!(
        head::count(data, &req.headers, b"host") <= 1,
        "two Host fields accepted"
    );
    pending::check_target_form(req.method, target);
    pending::check_host(data, req);
    pending::check_transfer_encoding(data, &req.headers);
}

/// Requests never end at close; without Content-Length or chunked they have no body at all.
fn check_request_framing(data: &[u8], req: &Request) {
    let cl = head::count(data, &req.headers, b"content-length");
    let te = head::count(data, &req.headers, b"transfer-encoding");
    match req.body {
        BodyKind::UntilClose => panic!("a request framed until close"),
        BodyKind::None => assert!(cl == 0 && te == 0, "framing headers but no body"),
        BodyKind::Chunked => {
            assert_eq!(cl, 0, "chunked request that also has Content-Length");
            assert_eq!(req.version, Version::Http11, "chunked HTTP/1.0 request");
        }
        BodyKind::Length(_) => {}
    }
}

/// Bytes arriving in pieces: every strict prefix of the head is "need more", and the head
/// without what follows parses to the same request.
fn check_split_arrival(data: &[u8], req: &Request, limits: &HeadLimits) {
    let mut again = Request::new();
    for cut in head::cut_points(data, req.head_len) {
        let r = parse_request(&data[..cut], limits, &mut again);
        assert_eq!(
            r,
            Ok(false),
            "the first {cut} bytes of an accepted head were not 'need more'"
        );
    }
    let r = parse_request(&data[..req.head_len], limits, &mut again);
    assert_eq!(r, Ok(true));
    assert_eq!(&again, req, "the head alone parses differently");
}

/// The head ringlb writes towards the server frames the message as ringlb did.
fn check_forwarded(data: &[u8], req: &Request) {
    let connection = if req.upgrade {
        ConnHeader::Upgrade
    } else if req.keep_alive {
        ConnHeader::KeepAlive
    } else {
        ConnHeader::Close
    };
    let rw = RequestRewrite {
        connection,
        edits: None,
        original_to: None,
        forwarded_for: Some(("x-forwarded-for", IpAddr::V4(Ipv4Addr::LOCALHOST), false)),
        drop_expect: false,
        unique_id: None,
        origin_form: false,
    };
    let mut out = Vec::new();
    write_request_head(&mut out, data, req, &rw);
    // Room for the added header and the head as it grew.
    let roomy = HeadLimits {
        max_head: out.len() + 1,
        max_headers: req.headers.len() + 4,
    };
    let mut fwd = Request::new();
    let r = parse_request(&out, &roomy, &mut fwd);
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
    assert_eq!(
        &out[fwd.method_range.clone()],
        &data[req.method_range.clone()]
    );
    assert_eq!(&out[fwd.target.clone()], &data[req.target.clone()]);
    assert_eq!(
        fwd.body, req.body,
        "forwarded head frames the body differently:\n{shown}"
    );
    let host = |buf: &[u8], r: &Request| r.host.clone().map(|h| buf[h].to_vec());
    assert_eq!(
        host(&out, &fwd),
        host(data, req),
        "forwarded Host differs:\n{shown}"
    );
    if pending::enforced(pending::Item::UpgradeWithOtherConnectionTokens) {
        assert_eq!(
            fwd.upgrade, req.upgrade,
            "forwarded upgrade differs:\n{shown}"
        );
    }
    if !req.upgrade {
        assert_eq!(
            fwd.keep_alive, req.keep_alive,
            "forwarded persistence differs:\n{shown}"
        );
    }
}

/// With room for few headers the answer is the same as with the default room, unless it is
/// the refusal for too many headers.
fn few_headers(data: &[u8], full: &Result<bool, HttpError>, full_req: &Request) {
    let small = HeadLimits {
        max_headers: FEW_HEADERS,
        ..HeadLimits::default()
    };
    let mut req = Request::new();
    let r = parse_request(data, &small, &mut req);
    match &r {
        Err(e) if e.status == STATUS_TOO_MANY_HEADERS => {}
        _ => {
            assert_eq!(&r, full, "maxhdr {FEW_HEADERS} changes the answer");
            assert_eq!(&req, full_req, "maxhdr {FEW_HEADERS} changes the request");
        }
    }
}
