//! Unit tests for head.rs.

use super::*;
use crate::http::parse::{parse_request, parse_response, HeadLimits, Method};

fn request(raw: &[u8], rw: &RequestRewrite) -> String {
    let mut req = Request::new();
    assert_eq!(
        parse_request(raw, &HeadLimits::default(), &mut req),
        Ok(true)
    );
    let mut out = Vec::new();
    write_request_head(&mut out, raw, &req, rw);
    String::from_utf8(out).unwrap()
}

fn response(raw: &[u8], rw: &ResponseRewrite) -> String {
    let mut resp = Response::new();
    assert_eq!(
        parse_response(raw, &HeadLimits::default(), Method::Get, &mut resp),
        Ok(true)
    );
    let mut out = Vec::new();
    write_response_head(&mut out, raw, &resp, rw);
    String::from_utf8(out).unwrap()
}

const PLAIN: RequestRewrite = RequestRewrite {
    edits: None,
    original_to: None,
    connection: ConnHeader::KeepAlive,
    forwarded_for: None,
    drop_expect: false,
    unique_id: None,
    origin_form: false,
};

#[test]
fn hop_by_hop_names() {
    for name in [
        "Connection",
        "keep-alive",
        "Proxy-Connection",
        "TE",
        "upgrade",
    ] {
        assert!(is_hop_by_hop(name.as_bytes()), "{name}");
    }
    for name in [
        "Transfer-Encoding",
        "Host",
        "Content-Length",
        "Trailer",
        "X-TE",
        "t",
    ] {
        assert!(!is_hop_by_hop(name.as_bytes()), "{name}");
    }
}

#[test]
fn request_drops_hop_by_hop_and_connection_named_headers() {
    let raw = b"GET /x?y HTTP/1.0\r\nHost: a\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\n\
Keep-Alive: 5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nx-foo: 2\r\nX-Other: y\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "GET /x?y HTTP/1.1\r\nHost: a\r\nX-Other: y\r\n\r\n"
    );
}

#[test]
fn connection_cannot_remove_framing_or_host() {
    let raw = b"POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, host\r\n\
Connection: transfer-encoding, x-a\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn request_connection_header() {
    let raw = b"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX: 1\r\n\r\n";
    let close = RequestRewrite {
        connection: ConnHeader::Close,
        ..PLAIN
    };
    assert_eq!(
        request(raw, &close),
        "GET / HTTP/1.1\r\nX: 1\r\nconnection: close\r\n\r\n"
    );
    let upgrade = RequestRewrite {
        connection: ConnHeader::Upgrade,
        ..PLAIN
    };
    assert_eq!(
        request(raw, &upgrade),
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nX: 1\r\nconnection: upgrade\r\n\r\n"
    );
}

/// Found by the request fuzzer: another token beside `upgrade` (curl's h2c sends
/// `Connection: Upgrade, HTTP2-Settings`) used to make the Upgrade header read as a field the
/// Connection header names, and it was dropped while `connection: upgrade` went out.
#[test]
fn upgrade_survives_other_connection_tokens() {
    let raw = b"GET / HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\
                HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n";
    let upgrade = RequestRewrite {
        connection: ConnHeader::Upgrade,
        ..PLAIN
    };
    assert_eq!(
        request(raw, &upgrade),
        "GET / HTTP/1.1\r\nUpgrade: h2c\r\nconnection: upgrade\r\n\r\n"
    );
}

#[test]
fn expect_is_dropped_on_request() {
    let raw = b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
    );
    let rw = RequestRewrite {
        drop_expect: true,
        ..PLAIN
    };
    assert_eq!(
        request(raw, &rw),
        "PUT / HTTP/1.1\r\nContent-Length: 1\r\n\r\n"
    );
}

#[test]
fn forwarded_for() {
    let v4: IpAddr = "10.1.2.3".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let raw = b"GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n";
    let add = RequestRewrite {
        forwarded_for: Some(("x-forwarded-for", v4, false)),
        ..PLAIN
    };
    assert_eq!(
        request(raw, &add),
        "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 10.1.2.3\r\n\r\n"
    );
    let if_none = RequestRewrite {
        forwarded_for: Some(("x-forwarded-for", v4, true)),
        ..PLAIN
    };
    assert_eq!(
        request(raw, &if_none),
        "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n"
    );
    let six = RequestRewrite {
        forwarded_for: Some(("x-client", v6, true)),
        ..PLAIN
    };
    assert_eq!(
        request(raw, &six),
        "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1\r\nx-client: 2001:db8::1\r\n\r\n"
    );
    // A header the client had removed through Connection does not count as present.
    let raw = b"GET / HTTP/1.1\r\nConnection: x-forwarded-for\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n";
    assert_eq!(
        request(raw, &if_none),
        "GET / HTTP/1.1\r\nx-forwarded-for: 10.1.2.3\r\n\r\n"
    );
}

#[test]
fn http10_request_without_host_stays_without_host() {
    assert_eq!(
        request(b"GET / HTTP/1.0\r\n\r\n", &PLAIN),
        "GET / HTTP/1.1\r\n\r\n"
    );
}

#[test]
fn writers_append() {
    let raw = b"GET / HTTP/1.1\r\n\r\n";
    let mut req = Request::new();
    parse_request(raw, &HeadLimits::default(), &mut req).unwrap();
    let mut out = b"previous".to_vec();
    write_request_head(&mut out, raw, &req, &PLAIN);
    assert_eq!(out, b"previousGET / HTTP/1.1\r\n\r\n");
}

const KEEP11: ResponseRewrite = ResponseRewrite {
    edits: None,
    connection: ConnHeader::KeepAlive,
    version: Version::Http11,
    dechunk: false,
};

#[test]
fn response_rewrite() {
    let raw = b"HTTP/1.0 200 Fine\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: t=5\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 200 Fine\r\nContent-Length: 2\r\n\r\n"
    );
    let ten = ResponseRewrite {
        version: Version::Http10,
        ..KEEP11
    };
    assert_eq!(
        response(raw, &ten),
        "HTTP/1.0 200 Fine\r\nContent-Length: 2\r\nconnection: keep-alive\r\n\r\n"
    );
    let close = ResponseRewrite {
        edits: None,
        connection: ConnHeader::Close,
        ..KEEP11
    };
    assert_eq!(
        response(raw, &close),
        "HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nconnection: close\r\n\r\n"
    );
    assert_eq!(
        response(b"HTTP/1.1 404\r\n\r\n", &KEEP11),
        "HTTP/1.1 404 \r\n\r\n"
    );
}

#[test]
fn response_framing_headers() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n"
    );
    let dechunk = ResponseRewrite {
        dechunk: true,
        ..KEEP11
    };
    assert_eq!(
        response(raw, &dechunk),
        "HTTP/1.1 200 OK\r\nX: 1\r\nconnection: close\r\n\r\n"
    );
    let raw =
        b"HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn response_upgrade() {
    let raw =
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    let up = ResponseRewrite {
        edits: None,
        connection: ConnHeader::Upgrade,
        ..KEEP11
    };
    assert_eq!(
        response(raw, &up),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    );
}

#[test]
fn request_framing_fields_are_written_once() {
    let raw =
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\n\r\n"
    );
    let raw = b"POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 05, 5,5\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "POST / HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\n"
    );
    let raw =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: \r\nX: 1\r\nTransfer-Encoding: Chunked,\r\n\r\n";
    assert_eq!(
        request(raw, &PLAIN),
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n"
    );
}

#[test]
fn response_framing_fields_are_written_once() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\nX: 1\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: 1\r\n\r\n"
    );
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
}

#[test]
fn bodyless_statuses_and_framing_fields() {
    // RFC 9110 8.6 / RFC 9112 6.1: none on 204 (HAProxy drops them too).
    let raw = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 204 No Content\r\nX: 1\r\n\r\n"
    );
    // A 304 keeps the length of the representation (HAProxy too), as one field.
    let raw = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 42, 42\r\nETag: \"v\"\r\n\r\n";
    assert_eq!(
        response(raw, &KEEP11),
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\nETag: \"v\"\r\n\r\n"
    );
    // The 2xx that opens a CONNECT tunnel: its length fields mean nothing (RFC 9110 8.6).
    let mut resp = Response::new();
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX: 1\r\n\r\n";
    parse_response(raw, &HeadLimits::default(), Method::Connect, &mut resp).unwrap();
    let mut out = Vec::new();
    write_response_head(&mut out, raw, &resp, &KEEP11);
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
    // A response to HEAD keeps its Content-Length.
    let mut resp = Response::new();
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Length: 9\r\n\r\n";
    parse_response(raw, &HeadLimits::default(), Method::Head, &mut resp).unwrap();
    let mut out = Vec::new();
    write_response_head(&mut out, raw, &resp, &KEEP11);
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n");
}

fn interim(raw: &[u8]) -> String {
    let mut resp = Response::new();
    assert_eq!(
        parse_response(raw, &HeadLimits::default(), Method::Get, &mut resp),
        Ok(true)
    );
    let mut out = b"before|".to_vec();
    write_interim_head(&mut out, raw, &resp);
    String::from_utf8(out).unwrap()
}

#[test]
fn interim_responses_are_written_anew() {
    assert_eq!(
        interim(b"HTTP/1.1 103 Early Hints\nLink: </a>\n\n"),
        "before|HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    );
    assert_eq!(
        interim(
            b"HTTP/1.0 100 Continue\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\
              Connection: close, X-H\r\nX-H: 1\r\nKeep-Alive: t=1\r\nX-Kept: 2\r\n\r\n"
        ),
        "before|HTTP/1.1 100 Continue\r\nX-Kept: 2\r\n\r\n"
    );
    assert_eq!(
        interim(b"HTTP/1.1 100\r\n\r\n"),
        "before|HTTP/1.1 100 \r\n\r\n"
    );
}

#[test]
fn origin_form_of_an_absolute_target() {
    for (target, origin) in [
        ("http://a.example:8080/p?q=1", "/p?q=1"),
        ("HTTPS://a.example/", "/"),
        ("http://a.example", "/"),
        ("/already?x", "/already?x"),
        ("*", "*"),
    ] {
        assert_eq!(
            crate::http::origin_form(target.as_bytes()),
            origin.as_bytes(),
            "{target}"
        );
    }
    let raw = b"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\n\r\n";
    let rw = RequestRewrite {
        origin_form: true,
        ..PLAIN
    };
    let out = request(raw, &rw);
    assert!(out.starts_with("GET /x?y HTTP/1.1\r\n"), "{out}");
    assert!(request(raw, &PLAIN).starts_with("GET http://a.example/x?y HTTP/1.1\r\n"));
}
