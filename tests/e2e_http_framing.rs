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
