//! HTTP/1.x relaying through ringlb: keep-alive, pipelining, HTTP/1.0, bodiless responses,
//! interim responses, request and response bodies in every framing, upgrades, header hygiene.

mod common;

use common::*;
use std::io::Write;
use std::time::Duration;

/// One frontend `fe` in front of one backend server; extra lines go into the frontend.
fn one_backend(driver: &str, fe_extra: &str) -> (Ringlb, HttpBackend) {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n{fe_extra}\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    (Ringlb::start(&cfg, driver), be)
}

both_drivers!(keep_alive_both_sides, |driver| {
    let (lb, be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    for i in 0..20 {
        let r = c.get(&format!("/ka/{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.seen().target, format!("/ka/{i}"));
    }
    let counts = be.counts();
    assert_eq!(counts.requests, 20);
    assert!(
        counts.connections <= 2,
        "20 keep-alive requests on one client connection opened {} backend connections",
        counts.connections
    );
});

both_drivers!(pipelined_requests_answered_in_order, |driver| {
    let (lb, be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    // The first one is slow: a proxy that answers out of order would put /p1 first.
    let mut batch = String::from("GET /delay/100 HTTP/1.1\r\nHost: t\r\n\r\n");
    for i in 1..5 {
        batch.push_str(&format!("GET /p{i} HTTP/1.1\r\nHost: t\r\n\r\n"));
    }
    c.send(batch);
    assert_eq!(c.read_response().seen().target, "/delay/100");
    for i in 1..5 {
        let r = c.read_response();
        assert_eq!(
            r.seen().target,
            format!("/p{i}"),
            "pipelined response {i} out of order"
        );
    }
    assert_eq!(be.requests(), 5);
});

both_drivers!(http10_without_keep_alive_closes, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send("GET /old HTTP/1.0\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.seen().target, "/old");
    c.expect_closed();
});

both_drivers!(http10_with_keep_alive_stays_open, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    for i in 0..3 {
        c.send(format!(
            "GET /old{i} HTTP/1.0\r\nHost: t\r\nConnection: keep-alive\r\n\r\n"
        ));
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}", r.describe());
        assert!(
            !r.close_delimited,
            "HTTP/1.0 keep-alive response must be length-delimited"
        );
        assert!(
            !r.chunked,
            "an HTTP/1.0 client cannot read chunked: {}",
            r.describe()
        );
        assert!(
            r.has_token("connection", "keep-alive"),
            "HTTP/1.0 persistence needs 'connection: keep-alive' in the response: {:?}",
            r.headers
        );
        assert_eq!(r.seen().target, format!("/old{i}"));
    }
});

both_drivers!(head_has_no_body, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send_request("HEAD", "/size/5000", &[], b"");
    let r = c.read_head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5000"), "{:?}", r.headers);
    // Any body bytes sent for the HEAD would corrupt this second response.
    let r = c.get("/after-head");
    assert_eq!(r.seen().target, "/after-head");
});

both_drivers!(status_204_and_304_have_no_body, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/204");
    assert_eq!(r.status, 204);
    let r = c.get("/304");
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some("\"v1\""));
    let r = c.get("/after");
    assert_eq!(
        r.seen().target,
        "/after",
        "connection desynchronised after 204/304"
    );
});

both_drivers!(interim_100_forwarded, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/100");
    assert_eq!(
        r.interim,
        vec![100],
        "the 1xx interim response was not forwarded"
    );
    assert_eq!(r.seen().target, "/100");
    assert_eq!(c.get("/next").seen().target, "/next");
});

both_drivers!(expect_100_continue, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let body = pattern(10000);
    c.send(
        "POST /upload HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 10000\r\n\r\n",
    );
    // The client holds the body back until it sees 100 Continue (bounded by the read timeout).
    let interim = c
        .conn
        .read_head()
        .expect("waiting for 100 Continue")
        .expect("closed");
    assert!(
        lossy(&interim).starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {:?}",
        lossy(&interim)
    );
    c.send(&body);
    let seen = c.read_response().seen();
    assert_eq!(seen.body_len, 10000);
    assert_eq!(seen.body_hash, fnv(&body));
});

both_drivers!(request_body_content_length_streamed, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    // Far above tune.bufsize: only a streaming relay gets it through.
    let body = pattern(256 * 1024);
    c.send_request("POST", "/echo", &[], &body);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "echoed body differs");
    // And the connection is still usable.
    assert_eq!(c.get("/again").seen().target, "/again");
});

both_drivers!(request_pipelined_behind_a_large_body, |driver| {
    // The body is read through a wide buffer (io.rs) that the next request's head shares.
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let body = pattern(200 * 1024 + 3);
    let mut batch = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    batch.extend(&body);
    batch.extend(b"GET /next HTTP/1.1\r\nHost: t\r\n\r\n");
    c.send(batch);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(r.body == body, "echoed body differs");
    assert_eq!(c.read_response().seen().target, "/next");
});

both_drivers!(head_limit_unchanged_after_a_large_body, |driver| {
    // After a body read 64 KiB at a time, the same connection's heads keep tune.bufsize's
    // limit: 10 KiB passes, 30 KiB is 431.
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let body = pattern(300 * 1024);
    c.send_request("POST", "/echo", &[], &body);
    assert!(c.read_response().body == body, "echoed body differs");
    let v = "v".repeat(1000);
    let head = |n: usize| {
        let mut h = String::from("GET /big-head HTTP/1.1\r\nHost: t\r\n");
        for i in 0..n {
            h.push_str(&format!("X-H{i}: {v}\r\n"));
        }
        h + "\r\n"
    };
    c.send(head(10));
    assert_eq!(c.read_response().seen().header("x-h9"), Some(v.as_str()));
    c.send_request("POST", "/echo", &[], &body);
    assert!(c.read_response().body == body, "second echoed body differs");
    c.send(head(30));
    assert_eq!(c.read_response().status, 431);
});

both_drivers!(request_body_chunked_streamed, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let body = pattern(100 * 1024 + 7);
    let mut req = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut sizes = [1usize, 10, 4096, 30000, 65536].iter().cycle();
    let mut off = 0;
    let mut first = true;
    while off < body.len() {
        let n = (*sizes.next().unwrap()).min(body.len() - off);
        // One chunk extension, which a relay must accept and may drop.
        let ext = if first { ";name=value" } else { "" };
        first = false;
        req.extend(format!("{n:X}{ext}\r\n").into_bytes());
        req.extend(&body[off..off + n]);
        req.extend(b"\r\n");
        off += n;
    }
    req.extend(b"0\r\n\r\n");
    c.send(req);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.body.len(), body.len());
    assert!(r.body == body, "echoed chunked body differs");
    assert_eq!(c.get("/again").seen().target, "/again");
});

both_drivers!(response_content_length, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/size/1000");
    assert_eq!(r.status, 200);
    assert!(r.body == pattern(1000), "body differs");
});

both_drivers!(response_chunked_with_trailers, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/chunked/50");
    assert_eq!(r.status, 200);
    assert!(
        r.body == chunked_body(50),
        "chunked body differs ({} bytes)",
        r.body.len()
    );
    assert!(
        r.chunked,
        "trailers can only travel chunked: {:?}",
        r.headers
    );
    let trailer = r
        .trailers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-trailer"));
    assert_eq!(
        trailer.map(|(_, v)| v.as_str()),
        Some("done-50"),
        "trailers: {:?}",
        r.trailers
    );
    assert_eq!(c.get("/again").seen().target, "/again");
});

both_drivers!(response_close_delimited, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/nolength");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 10000);
    assert!(r.body == pattern(10000), "close-delimited body differs");
});

both_drivers!(response_large_1mib, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let n = 1 << 20;
    let r = c.get(&format!("/size/{n}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), n);
    assert!(r.body == pattern(n), "1 MiB body differs");
    assert_eq!(c.get("/again").seen().target, "/again");
});

both_drivers!(websocket_upgrade_tunnel, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send(
        "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 101, "{}", r.describe());
    for msg in ["ping-1", "ping-two", "\0binary\x7f"] {
        c.send(msg);
        let mut got = Vec::new();
        while got.len() < msg.len() {
            let part = c.conn.read_some().expect("tunnel read");
            assert!(!part.is_empty(), "tunnel closed early");
            got.extend(part);
        }
        assert_eq!(lossy(&got), msg);
    }
    // A large payload both ways: the tunnel must not stall on full buffers.
    let big = pattern(300_000);
    let mut writer = c.conn.stream.try_clone().unwrap();
    let to_send = big.clone();
    let t = std::thread::spawn(move || writer.write_all(&to_send));
    let echoed = c.conn.read_exact_n(big.len()).expect("large tunnel echo");
    t.join().unwrap().expect("tunnel write");
    assert!(echoed == big, "tunnel corrupted the payload");
    c.shutdown_write();
    let rest = c.conn.read_to_eof().expect("tunnel close");
    assert!(rest.is_empty(), "unexpected bytes: {:?}", lossy(&rest));
});

both_drivers!(absolute_form_target, |driver| {
    let api = HttpBackend::start("api");
    let other = HttpBackend::start("other");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    use_backend api if {{ path_beg /api }}\n    \
         default_backend other\n\nbackend api\n    server a {}\n\nbackend other\n    server o {}\n",
        api.addr, other.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    c.send("GET http://example.com/api/v1?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.server(),
        "api",
        "path_beg must see the path of an absolute-form target"
    );
    let seen = r.seen();
    // HAProxy forwards an HTTP/1 absolute-form target as it came; origin-form is fine too.
    assert!(
        ["/api/v1?q=1", "http://example.com/api/v1?q=1"].contains(&seen.target.as_str()),
        "target mangled: {}",
        seen.target
    );
    assert_eq!(seen.header("host"), Some("example.com"));
});

both_drivers!(hop_by_hop_headers_not_forwarded, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send(
        "GET /hop HTTP/1.1\r\nHost: keep.example\r\nConnection: keep-alive, X-Foo\r\n\
         X-Foo: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: gzip\r\n\
         X-Keep: yes\r\n\r\n",
    );
    let seen = c.read_response().seen();
    assert_eq!(
        seen.header("host"),
        Some("keep.example"),
        "Host must be kept"
    );
    assert_eq!(seen.header("x-keep"), Some("yes"), "end-to-end header lost");
    for h in ["x-foo", "keep-alive", "proxy-connection"] {
        assert_eq!(
            seen.header(h),
            None,
            "hop-by-hop header {h} was forwarded: {:?}",
            seen.headers
        );
    }
    assert!(
        !seen.all("te").iter().any(|v| v.contains("gzip")),
        "client's TE was forwarded: {:?}",
        seen.headers
    );
    assert!(
        !seen
            .all("connection")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("x-foo")),
        "client's Connection tokens were forwarded: {:?}",
        seen.headers
    );
});

both_drivers!(forwardfor_adds_client_address, |driver| {
    let (lb, _be) = one_backend(driver, "    option forwardfor");
    let mut c = Client::connect(lb.addr("fe"));
    let seen = c.get("/xff").seen();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("127.0.0.1"),
        "{:?}",
        seen.headers
    );
});

both_drivers!(no_forwardfor_without_option, |driver| {
    let (lb, _be) = one_backend(driver, "");
    let seen = get_once(lb.addr("fe"), "/xff").seen();
    assert_eq!(seen.header("x-forwarded-for"), None, "{:?}", seen.headers);
});

both_drivers!(server_close_keeps_client_side, |driver| {
    let (lb, be) = one_backend(driver, "    option http-server-close");
    let mut c = Client::connect(lb.addr("fe"));
    for i in 0..5 {
        assert_eq!(c.get(&format!("/sc{i}")).seen().target, format!("/sc{i}"));
    }
    let counts = be.counts();
    assert_eq!(counts.requests, 5);
    assert_eq!(
        counts.connections, 5,
        "http-server-close must close the server side each time"
    );
});

both_drivers!(httpclose_closes_both_sides, |driver| {
    let (lb, be) = one_backend(driver, "    option httpclose");
    for i in 0..3 {
        let mut c = Client::connect(lb.addr("fe"));
        assert_eq!(c.get(&format!("/hc{i}")).seen().target, format!("/hc{i}"));
        c.expect_closed();
    }
    assert_eq!(be.connections(), 3);
});

both_drivers!(http_reuse_always_shares_server_connections, |driver| {
    // The default (`safe`) never gives a session's first request another session's idle
    // connection, as in HAProxy; `always` does, so fresh client connections share them.
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    http-reuse always\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    for i in 0..10 {
        // Each request on its own client connection, dropped without `Connection: close`.
        assert_eq!(get_once(lb.addr("fe"), &format!("/r{i}")).status, 200);
    }
    let conns = be.connections();
    assert!(
        conns <= 4,
        "http-reuse always did not reuse idle server connections: {conns} for 10 requests"
    );
});

both_drivers!(http_reuse_never, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    http-reuse never\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    for i in 0..10 {
        assert_eq!(get_once(lb.addr("fe"), &format!("/r{i}")).status, 200);
        // Wait until the backend has seen this request before opening the next client
        // connection, so the count below is per request and not a race.
        be.wait_for("request", Duration::from_secs(5), |c| c.requests == i + 1);
    }
    assert_eq!(
        be.connections(),
        10,
        "http-reuse never must not share server connections"
    );
});

both_drivers!(connection_close_from_server_is_honoured, |driver| {
    let (lb, be) = one_backend(driver, "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/close");
    assert_eq!(r.seen().target, "/close");
    // The client side may stay open; the next request needs a new server connection.
    let r = c.get("/after-close");
    assert_eq!(r.seen().target, "/after-close");
    assert_eq!(be.connections(), 2);
});
