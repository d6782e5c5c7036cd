//! Framing attacks, limits, timeouts and error responses: what ringlb must refuse, and the
//! status it answers with. A refused request must never reach the backend.

mod common;

use common::*;
use std::time::{Duration, Instant};

fn one_backend(driver: &str, defaults_extra: &str) -> (Ringlb, HttpBackend) {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n{defaults_extra}\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    (Ringlb::start(&cfg, driver), be)
}

/// Where the malformation sits: in the head (the backend must not even see a head) or in the
/// body (the head may be relayed before the body is read, but no complete request may arrive).
#[derive(Clone, Copy, PartialEq)]
enum Level {
    Head,
    Body,
}

/// Sends `raw`, expects one of `statuses`, then the connection closed, and nothing delivered.
fn assert_rejected(driver: &str, raw: &[u8], statuses: &[u16], level: Level) {
    let (lb, be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send(raw);
    let r = c
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("no error response to {:?}: {e}", lossy(raw)));
    assert!(
        statuses.contains(&r.status),
        "expected {statuses:?} for {:?}, got {}",
        lossy(raw),
        r.describe()
    );
    c.expect_closed();
    // A control request proves the backend is reachable, so the counts below mean something.
    assert_eq!(
        get_once(lb.addr("fe"), "/control").seen().target,
        "/control"
    );
    let counts = be.counts();
    assert_eq!(
        counts.requests, 1,
        "a rejected request reached the backend: {counts:?}"
    );
    if level == Level::Head {
        assert_eq!(
            counts.heads, 1,
            "a rejected head reached the backend: {counts:?}"
        );
    }
}

macro_rules! rejected {
    ($name:ident, $raw:expr, $statuses:expr, $level:expr) => {
        both_drivers!($name, |driver| {
            assert_rejected(driver, $raw, $statuses, $level)
        });
    };
}

rejected!(
    content_length_and_transfer_encoding,
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n\
      0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    two_different_content_lengths,
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    &[400],
    Level::Head
);
rejected!(
    negative_content_length,
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    non_numeric_content_length,
    b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1e2\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    transfer_encoding_without_final_chunked,
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    &[400],
    Level::Head
);
rejected!(
    bad_chunk_size,
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    &[400],
    Level::Body
);
rejected!(
    chunk_size_overflow,
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
      10000000000000005\r\nhello\r\n0\r\n\r\n",
    &[400],
    Level::Body
);
rejected!(
    empty_chunk_size_line,
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
    &[400],
    Level::Body
);
rejected!(
    obs_fold,
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    invalid_header_name,
    b"GET /x HTTP/1.1\r\nHost: t\r\nBad(Name): x\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    space_before_colon,
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-Space : x\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    nul_in_header_value,
    b"GET /x HTTP/1.1\r\nHost: t\r\nX-Nul: a\0b\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    bad_request_line,
    b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
    &[400],
    Level::Head
);
rejected!(
    http2_version,
    b"GET /x HTTP/2.0\r\nHost: t\r\n\r\n",
    &[505, 400],
    Level::Head
);

both_drivers!(request_line_too_long_414, |driver| {
    let target = format!("/{}", "a".repeat(20_000));
    let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_rejected(driver, raw.as_bytes(), &[414], Level::Head);
});

both_drivers!(header_block_too_large_431, |driver| {
    let mut raw = String::from("GET /x HTTP/1.1\r\nHost: t\r\n");
    for i in 0..30 {
        raw.push_str(&format!("X-Big-{i}: {}\r\n", "v".repeat(1000)));
    }
    raw.push_str("\r\n");
    assert_rejected(driver, raw.as_bytes(), &[431], Level::Head);
});

both_drivers!(request_just_under_limits_passes, |driver| {
    // The limits must not bite early: a 10 KiB head is fine with tune.bufsize 16384.
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let v = "v".repeat(1000);
    let headers: Vec<(String, String)> = (0..10).map(|i| (format!("X-H{i}"), v.clone())).collect();
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    c.send_request("GET", "/big-head", &refs, b"");
    let seen = c.read_response().seen();
    assert_eq!(seen.header("x-h9"), Some(v.as_str()));
});

both_drivers!(slow_client_gets_408, |driver| {
    let (lb, be) = one_backend(driver, "    timeout http-request 1s");
    let mut c = Client::connect(lb.addr("fe"));
    let start = Instant::now();
    c.send("GET /slow HTTP/1.1\r\nHost: t\r\n");
    let r = c.read_response();
    let waited = start.elapsed();
    assert_eq!(r.status, 408, "{}", r.describe());
    assert!(
        waited >= Duration::from_millis(800),
        "408 came too early: {waited:?}"
    );
    c.expect_closed();
    assert_eq!(be.heads(), 0);
});

both_drivers!(server_reset_gives_502, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/reset");
    assert_eq!(r.status, 502, "{}", r.describe());
});

both_drivers!(server_timeout_gives_504, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    timeout server 1s\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    let start = Instant::now();
    let r = c.get("/hang");
    let waited = start.elapsed();
    assert_eq!(r.status, 504, "{}", r.describe());
    assert!(
        waited >= Duration::from_millis(800),
        "504 before timeout server: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(4),
        "504 long after timeout server: {waited:?}"
    );
});

both_drivers!(backend_without_server_gives_503, |driver| {
    let cfg =
        http_cfg("frontend fe\n    bind 127.0.0.1:0\n    default_backend empty\n\nbackend empty\n");
    let lb = Ringlb::start(&cfg, driver);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 503, "{}", r.describe());
});

both_drivers!(connect_refused_gives_503, |driver| {
    let dead = refused_addr();
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    retries 1\n    server dead {dead}\n"
    ));
    let lb = Ringlb::start(&cfg, driver);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 503, "{}", r.describe());
});

both_drivers!(errorfile_replaces_503, |driver| {
    let dir = TempDir::new();
    let page = "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\
                content-length: 11\r\nconnection: close\r\n\r\ncustom-503\n";
    let path = dir.write("503.http", page);
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend empty\n\n\
         backend empty\n    errorfile 503 {}\n",
        path.display()
    ));
    let lb = Ringlb::start_in(dir, &cfg, driver);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.text(),
        "custom-503\n",
        "errorfile not used: {}",
        r.describe()
    );
});

// HAProxy's `errorfile 408 /dev/null` idiom (checked on HAProxy 2.6: nothing is sent, the
// connection closes when `timeout http-request` fires); an empty regular file does the same.
both_drivers!(empty_errorfile_closes_without_a_word, |driver| {
    let dir = TempDir::new();
    let empty = dir.write("empty.http", "");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    timeout http-request 500ms\n    \
         errorfile 408 /dev/null\n    errorfile 400 {}\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        empty.display(),
        refused_addr()
    ));
    let lb = Ringlb::start_in(dir, &cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    let start = Instant::now();
    c.expect_closed();
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "closed before timeout http-request: {:?}",
        start.elapsed()
    );
    let mut c = Client::connect(lb.addr("fe"));
    c.send("GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n");
    c.expect_closed();
});

// Request targets (RFC 9112 3.2), Host values, framing fields sent on normalised, chunk sizes.

/// Sends each request on its own connection to one ringlb: each gets `status` and a close, and
/// none reaches the backend (a control request proves the backend was reachable).
fn assert_all_rejected(driver: &str, cases: &[(&[u8], u16)]) {
    let (lb, be) = one_backend(driver, "");
    for (raw, status) in cases {
        let mut c = Client::connect(lb.addr("fe"));
        c.send(raw);
        let r = c
            .try_read_response(false)
            .unwrap_or_else(|e| panic!("no error response to {:?}: {e}", lossy(raw)));
        assert_eq!(r.status, *status, "{:?}: {}", lossy(raw), r.describe());
        c.expect_closed();
    }
    assert_eq!(get_once(lb.addr("fe"), "/control").status, 200);
    let counts = be.counts();
    assert_eq!(
        (counts.heads, counts.requests),
        (1, 1),
        "a rejected request reached the backend"
    );
}

/// Sends `raw` and returns what the backend saw.
fn forwarded(lb: &Ringlb, raw: &[u8]) -> Seen {
    let mut c = Client::connect(lb.addr("fe"));
    c.send(raw);
    c.read_response().seen()
}

both_drivers!(request_targets_refused, |driver| {
    let cases: Vec<Vec<u8>> = [
        // 400 in HAProxy 2.6 too.
        "GET admin",
        "GET \\admin",
        "GET /admin#x",
        "GET ?x",
        "GET http://a?x",
        "GET http:/a",
        "GET /a\x01b",
        "CONNECT /x",
        "CONNECT *",
        "CONNECT http://a/",
        "CONNECT a",
        "CONNECT a:",
        "CONNECT a:x",
        "CONNECT u@a:80",
        // Stricter than HAProxy 2.6 (README "How ringlb differs").
        "GET *",
        "POST *",
        "GET t:80",
        "GET ftp://t/",
        "GET http:///x",
        "GET http://u@t/x",
        "GET /a\\b",
        "GET /a\"b",
        "GET /a<b",
        "GET /a>b",
        "GET /a{b",
        "GET /a}b",
        "GET /a`b",
        "GET /a\x7fb",
        "GET /x?a\"b",
        "GET /x?a<b>",
        "CONNECT t:65536",
    ]
    .iter()
    .map(|line| format!("{line} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes())
    .collect();
    let cases: Vec<(&[u8], u16)> = cases.iter().map(|c| (c.as_slice(), 400)).collect();
    assert_all_rejected(driver, &cases);
});

both_drivers!(request_targets_forwarded_as_sent, |driver| {
    let (lb, _be) = one_backend(driver, "");
    for (line, target) in [
        ("OPTIONS * HTTP/1.1\r\nHost: t", "*"),
        (
            "GET /a?ids[]=1&q=a|b^c HTTP/1.1\r\nHost: t",
            "/a?ids[]=1&q=a|b^c",
        ),
        ("GET /[x]|^ HTTP/1.1\r\nHost: t", "/[x]|^"),
        (
            "GET /x?p=C:\\d&t=`{}` HTTP/1.1\r\nHost: t",
            "/x?p=C:\\d&t=`{}`",
        ),
        (
            "GET /%61dmin//./../x HTTP/1.1\r\nHost: t",
            "/%61dmin//./../x",
        ),
        ("GET http://t/x?y HTTP/1.1\r\nHost: t", "http://t/x?y"),
        (
            "GET HTTPS://t:8443 HTTP/1.1\r\nHost: t:8443",
            "HTTPS://t:8443",
        ),
    ] {
        let seen = forwarded(&lb, format!("{line}\r\n\r\n").as_bytes());
        assert_eq!(seen.target, target, "{line:?}");
    }
});

both_drivers!(host_values_refused, |driver| {
    let cases: Vec<Vec<u8>> = [
        "Host: a,b",
        "Host: a, a",
        "Host: u@a",
        "Host: a b",
        "Host: a:x",
        "Host: a:65536",
        "Host: [::1",
        "Host: a/b",
        "Host: a\"b",
        "Host: a\r\nHost: a",
        "Host: a\r\nHost: b",
    ]
    .iter()
    .map(|h| format!("GET / HTTP/1.1\r\n{h}\r\n\r\n").into_bytes())
    .collect();
    let cases: Vec<(&[u8], u16)> = cases.iter().map(|c| (c.as_slice(), 400)).collect();
    assert_all_rejected(driver, &cases);
});

both_drivers!(host_values_accepted, |driver| {
    let (lb, _be) = one_backend(driver, "");
    for host in ["a:", "[::1]:8080", "", "a.example:080"] {
        let seen = forwarded(
            &lb,
            format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
        );
        assert_eq!(seen.all("host"), [host], "{host:?}");
    }
    // Without Host, as HAProxy 2.6 does (RFC 9112 asks servers, not proxies, for a 400).
    let seen = forwarded(&lb, b"GET /nohost HTTP/1.1\r\n\r\n");
    assert_eq!(
        (seen.target.as_str(), seen.all("host").len()),
        ("/nohost", 0)
    );
});

both_drivers!(request_content_length_sent_once, |driver| {
    let (lb, _be) = one_backend(driver, "");
    for cl in [
        "Content-Length: 5\r\nContent-Length: 5",
        "Content-Length: 5, 5",
        "content-length: 05,5",
    ] {
        let raw = format!("POST /x HTTP/1.1\r\nHost: t\r\n{cl}\r\n\r\nhello");
        let seen = forwarded(&lb, raw.as_bytes());
        assert_eq!(seen.all("content-length"), ["5"], "{cl:?}");
        assert_eq!((seen.body_len, seen.body_hash), (5, fnv(b"hello")));
    }
});

both_drivers!(request_transfer_encoding_sent_clean, |driver| {
    let (lb, _be) = one_backend(driver, "");
    for te in [
        "Transfer-Encoding: chunked,",
        "Transfer-Encoding: \r\nTransfer-Encoding: chunked",
        "Transfer-Encoding:  Chunked ",
    ] {
        let raw = format!("POST /x HTTP/1.1\r\nHost: t\r\n{te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        let seen = forwarded(&lb, raw.as_bytes());
        assert_eq!(seen.all("transfer-encoding"), ["chunked"], "{te:?}");
        assert_eq!((seen.body_len, seen.body_hash), (5, fnv(b"hello")));
    }
});

both_drivers!(transfer_encoding_empty_members_refused, |driver| {
    let body = "\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let cases: Vec<(Vec<u8>, u16)> = [
        ("chunked, , x", 400),
        ("chunked, ,", 400),
        ("chunked,,", 400),
        (",", 400),
        (", chunked", 422),
        (",,chunked", 422),
    ]
    .iter()
    .map(|(te, s)| {
        let raw = format!("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: {te}{body}");
        (raw.into_bytes(), *s)
    })
    .collect();
    let cases: Vec<(&[u8], u16)> = cases.iter().map(|(c, s)| (c.as_slice(), *s)).collect();
    assert_all_rejected(driver, &cases);
});

/// Responses a server may get wrong, by path (see `RawBackend`).
const RAW_SCRIPT: Script = &[
    ("/cl-twice", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"),
    ("/cl-list", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"),
    ("/te-trailing", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("/204", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"),
    ("/304", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 42, 42\r\nETag: \"v\"\r\n\r\n"),
    ("/te-empty", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, , x\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("/te-lead", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("/te-gzip", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("/103-lf", b"HTTP/1.1 103 Early Hints\nLink: </a>\n\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("/100-framing", b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nX-I: 1\r\n\r\n\
HTTP/1.1 103 Early Hints\r\nLink: </b>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    ("/zeros", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
00000000000000000000000000000000000000005\r\nhello\r\n0000000000000000000000\r\n\r\n"),
    ("/zeros-overflow", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
000010000000000000005\r\nhello\r\n0\r\n\r\n"),
];

fn raw_backend(driver: &str) -> (Ringlb, RawBackend) {
    let be = RawBackend::start(RAW_SCRIPT);
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    (Ringlb::start(&cfg, driver), be)
}

fn all<'a>(r: &'a Response, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

both_drivers!(response_framing_fields_sent_once, |driver| {
    let (lb, _be) = raw_backend(driver);
    // All on one connection: a misframed response would shift every later one.
    let mut c = Client::connect(lb.addr("fe"));
    for (path, cl, te, body) in [
        ("/cl-twice", vec!["5"], vec![], "hello"),
        ("/cl-list", vec!["5"], vec![], "hello"),
        ("/te-trailing", vec![], vec!["chunked"], "hello"),
        ("/204", vec![], vec![], ""),
        ("/304", vec!["42"], vec![], ""),
        ("/zeros", vec![], vec!["chunked"], "hello"),
    ] {
        let r = c.get(path);
        assert_eq!(
            (all(&r, "content-length"), all(&r, "transfer-encoding")),
            (cl, te),
            "{path}: {}",
            r.describe()
        );
        assert_eq!(r.text(), body, "{path}");
    }
    let r = c.get("/204");
    assert_eq!((r.status, r.header("x-a")), (204, Some("1")));
});

both_drivers!(response_transfer_codings_refused, |driver| {
    let (lb, _be) = raw_backend(driver);
    for path in ["/te-empty", "/te-lead", "/te-gzip"] {
        let r = get_once(lb.addr("fe"), path);
        assert_eq!(r.status, 502, "{path}: {}", r.describe());
    }
    // A chunk size past u64 behind leading zeros: the head went out before the body was read,
    // so the client gets a cut body, never a complete one.
    let mut c = Client::connect(lb.addr("fe"));
    c.send("GET /zeros-overflow HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.try_read_response(false);
    assert!(r.is_err(), "complete response to a bad chunk size: {r:?}");
});

both_drivers!(interim_responses_written_anew, |driver| {
    let (lb, _be) = raw_backend(driver);
    let mut c = Client::connect(lb.addr("fe"));
    c.send("GET /103-lf HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.conn.read_head().unwrap().unwrap();
    assert_eq!(
        lossy(&head),
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    );
    assert_eq!(c.read_response().text(), "ok");
    c.send("GET /100-framing HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = c.conn.read_head().unwrap().unwrap();
    assert_eq!(lossy(&head), "HTTP/1.1 100 Continue\r\nX-I: 1\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        (r.interim.as_slice(), r.text().as_str()),
        (&[103][..], "ok")
    );
});

both_drivers!(no_interim_responses_for_http10_clients, |driver| {
    let (lb, _be) = raw_backend(driver);
    for path in ["/103-lf", "/100-framing"] {
        let mut c = Client::connect(lb.addr("fe"));
        c.send(format!("GET {path} HTTP/1.0\r\nHost: t\r\n\r\n"));
        let r = c.read_response();
        assert_eq!(
            (r.status, r.interim.len(), r.text().as_str()),
            (200, 0, "ok"),
            "{path}"
        );
    }
});

both_drivers!(chunk_sizes_with_leading_zeros, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let zeros = "0".repeat(40);
    let raw = format!(
        "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         {zeros}5\r\nhello\r\n{zeros}0\r\n\r\n"
    );
    let seen = forwarded(&lb, raw.as_bytes());
    assert_eq!((seen.body_len, seen.body_hash), (5, fnv(b"hello")));
});

rejected!(
    chunk_size_overflow_behind_zeros,
    b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
      000010000000000000005\r\nhello\r\n0\r\n\r\n",
    &[400],
    Level::Body
);

both_drivers!(chunk_size_line_stays_bounded, |driver| {
    let raw = format!(
        "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{}5\r\nhello\r\n0\r\n\r\n",
        "0".repeat(5000)
    );
    assert_rejected(driver, raw.as_bytes(), &[400], Level::Body);
});

// Chunked bodies go on re-chunked, both ways: size lines without leading zeros, white space or
// extensions; data, CRLFs and trailers as received (validated); chunk boundaries kept.

const CHUNKS_SCRIPT: Script = &[
    ("/rec", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    (
        "/odd-chunks",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
0000000000000000000000005;a=b\r\nhello\r\n000001 ; q=\"x y\"\r\n!\r\n0;end\r\nX-T: 1\r\n\r\n",
    ),
    // `<pause>` (raw_backend::PAUSE): the proxy gets each part in its own read.
    (
        "/odd-chunks-split",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
000<pause>05;x\r\nhel<pause>lo\r<pause>\n0<pause>0\r\nX-T: 1\r\n<pause>\r\n",
    ),
    (
        "/canonical-chunks",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
1\r\na\r\n2\r\nbc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
    ),
];

fn chunks_backend(driver: &str) -> (Ringlb, RawBackend) {
    let be = RawBackend::start(CHUNKS_SCRIPT);
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    (Ringlb::start(&cfg, driver), be)
}

/// Sends a chunked POST whose body comes in `parts` (60 ms apart, so that each is its own
/// read) and returns the body bytes the server got.
fn chunked_as_received(c: &mut Client, be: &RawBackend, parts: &[&[u8]]) -> String {
    c.send("POST /rec HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(60));
        }
        c.send(part);
    }
    let r = c.read_response();
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "ok"),
        "{}",
        r.describe()
    );
    lossy(&be.received().last().expect("a request").body)
}

both_drivers!(request_chunks_go_on_canonical, |driver| {
    let (lb, be) = chunks_backend(driver);
    let big = "x".repeat(70_000);
    let small: String = (0..300).map(|i| format!("1\r\n{}\r\n", i % 10)).collect();
    let cases: Vec<(String, String)> = vec![
        (
            format!("{}5\r\nhello\r\n0000\r\n\r\n", "0".repeat(22)),
            "5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "5;foo=bar;q=\"x;y\"\r\nhello\r\n0;end\r\n\r\n".into(),
            "5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "5 \t;a\r\nhello\r\n0 \r\n\r\n".into(),
            "5\r\nhello\r\n0\r\n\r\n".into(),
        ),
        (
            "05\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Empty:\r\n\r\n".into(),
            "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Empty:\r\n\r\n".into(),
        ),
        (
            "000A\r\n0123456789\r\n0\r\n\r\n".into(),
            "a\r\n0123456789\r\n0\r\n\r\n".into(),
        ),
        (
            format!("0000000000000000000011170\r\n{big}\r\n0\r\n\r\n"),
            format!("11170\r\n{big}\r\n0\r\n\r\n"),
        ),
        // Already canonical: unchanged, boundaries and hex case included.
        (
            format!("{small}A\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n"),
            format!("{small}A\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n"),
        ),
    ];
    // All on one client connection: what follows each body must still be framed right.
    let mut c = Client::connect(lb.addr("fe"));
    for (sent, want) in &cases {
        let got = chunked_as_received(&mut c, &be, &[sent.as_bytes()]);
        assert!(
            got == *want,
            "sent {sent:.80?}\n got {got:.80?}\nwant {want:.80?}"
        );
    }
});

both_drivers!(
    request_chunks_split_across_reads_go_on_canonical,
    |driver| {
        let (lb, be) = chunks_backend(driver);
        let mut c = Client::connect(lb.addr("fe"));
        let parts: [&[u8]; 7] = [
            b"000",
            b"05;ext=1\r\nhel",
            b"lo\r",
            b"\n1",
            b"0\r\n0123456789abcdef\r\n0",
            b"0\r\nX-T: 1\r\n",
            b"\r\n",
        ];
        let got = chunked_as_received(&mut c, &be, &parts);
        assert_eq!(
            got,
            "5\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n"
        );
        // Canonical pieces cut anywhere but inside a size line go on unchanged.
        let parts: [&[u8]; 4] = [b"5\r\nhe", b"llo\r\n", b"3\r\nabc\r\n0\r\n", b"\r\n"];
        let got = chunked_as_received(&mut c, &be, &parts);
        assert_eq!(got, "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
    }
);

both_drivers!(response_chunks_go_on_canonical, |driver| {
    let (lb, _be) = chunks_backend(driver);
    let mut c = Client::connect(lb.addr("fe"));
    for (path, want) in [
        ("/odd-chunks", "5\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"),
        ("/odd-chunks-split", "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"),
        (
            "/canonical-chunks",
            "1\r\na\r\n2\r\nbc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
        ),
        ("/odd-chunks", "5\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"),
    ] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"));
        let head = lossy(&c.conn.read_head().unwrap().unwrap()).to_ascii_lowercase();
        assert!(
            head.contains("\r\ntransfer-encoding: chunked\r\n"),
            "{path}: {head}"
        );
        let body = read_chunked_raw(&mut c.conn).unwrap();
        assert_eq!(lossy(&body), want, "{path}");
    }
});

// Interim responses and who may see the request again.

const INTERIM_SCRIPT: Script = &[
    ("/ok", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    (
        "/103-close",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
    ),
    ("/100-close", b"HTTP/1.1 100 Continue\r\n\r\n"),
    (
        "/upload",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
];

fn interim_backend(driver: &str) -> (Ringlb, RawBackend) {
    let be = RawBackend::start_closing(INTERIM_SCRIPT, &["/103-close", "/100-close"]);
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    (Ringlb::start(&cfg, driver), be)
}

both_drivers!(no_resend_after_an_interim_response, |driver| {
    // The second request of a client connection goes on the server connection the first one
    // left idle (a reused one, which may be resent when the server closed it unused). Here the
    // server sends a 1xx and closes: it took the request, which must not go again.
    let (lb, be) = interim_backend(driver);
    for (k, path) in ["/103-close", "/100-close"].into_iter().enumerate() {
        let mut c = Client::connect(lb.addr("fe"));
        assert_eq!(c.get("/ok").status, 200);
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"));
        let r = c.read_response();
        let interim = if path == "/103-close" { 103 } else { 100 };
        assert_eq!(
            (r.interim.as_slice(), r.status),
            (&[interim][..], 502),
            "{path}: {}",
            r.describe()
        );
        c.expect_closed();
        assert_eq!(be.requests(), 2 * (k + 1), "{path} was sent again");
    }
});

both_drivers!(server_continue_after_ringlb_continue_dropped, |driver| {
    // ringlb answers `Expect: 100-continue` itself and drops Expect: a `100 Continue` the
    // server sends anyway would be the client's second; a 103 still goes through.
    let (lb, be) = interim_backend(driver);
    let mut c = Client::connect(lb.addr("fe"));
    for _ in 0..2 {
        c.send(
            "POST /upload HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        );
        let first = c.conn.read_head().unwrap().unwrap();
        assert_eq!(lossy(&first), "HTTP/1.1 100 Continue\r\n\r\n");
        c.send("hello");
        let r = c.read_response();
        assert_eq!(
            (r.interim.as_slice(), r.status, r.text().as_str()),
            (&[103][..], 200, "ok"),
            "{}",
            r.describe()
        );
    }
    let got = be.received();
    assert_eq!(got.len(), 2);
    for req in got {
        assert!(!lossy(&req.head).to_ascii_lowercase().contains("expect"));
        assert_eq!(req.body, b"hello");
    }
});

both_drivers!(maxrewrite_reserve_bounds_the_head, |driver| {
    // `tune.maxrewrite 8192` leaves 16384 - 8192 for a head: 6 KiB passes, 10 KiB (fine with
    // the default 1024 reserve, see above) is refused, as HAProxy 2.6 refuses it (with 400).
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    tune.maxrewrite 8192\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
         default_backend app\n\nbackend app\n    server s1 {}\n",
        be.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let v = "v".repeat(1000);
    let status = |n: usize| {
        let headers: Vec<(String, String)> =
            (0..n).map(|i| (format!("X-H{i}"), v.clone())).collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut c = Client::connect(lb.addr("fe"));
        c.send_request("GET", "/head", &refs, b"");
        c.read_response().status
    };
    assert_eq!(status(6), 200);
    assert_eq!(status(10), 431);
    assert_eq!(be.heads(), 1, "the refused head never reached the backend");
});
