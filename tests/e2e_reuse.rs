//! Server connections after their response: back to the core's idle pool (HAProxy's
//! `http-reuse` semantics), reused only when nothing arrived on them since, purged on a timer
//! (`pool-purge-delay`, `pool-max-conn`, `pool-low-conn`); and what is not a normal exchange:
//! an unasked-for 101, CONNECT tunnels, a request body that stalls.

mod common;

use common::*;
use std::thread;
use std::time::{Duration, Instant};

/// `nbthread` cores, frontend `fe` to backend `app` with one server `s1` (`server_opts` on its
/// line) and `be_extra` in the backend.
fn proxy(
    driver: &str,
    nbthread: usize,
    be_extra: &str,
    server_opts: &str,
) -> (Ringlb, HttpBackend) {
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    nbthread {nbthread}\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
         default_backend app\n\nbackend app\n{be_extra}\n    server s1 {} {server_opts}\n",
        be.addr
    );
    (Ringlb::start(&cfg, driver), be)
}

/// After a response with bytes behind it, the client's next request on the same connection
/// must get its own answer (from a new server connection), never the stray bytes.
fn after_misbehaving(driver: &str, method: &str, kind: &str, status: u16) {
    let (lb, be) = proxy(driver, 2, "", "");
    let mut c = Client::connect(lb.addr("fe"));
    c.send_request(method, &format!("/misbehave/{kind}"), &[], b"");
    let r = c
        .try_read_response(method == "HEAD")
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
    assert_eq!(r.status, status, "{kind}: {}", r.describe());
    assert_eq!(r.server(), "s1");
    // Long enough for `-late` bytes to have arrived before the next request goes out.
    thread::sleep(Duration::from_millis(150));
    for i in 0..3 {
        let r = c.get(&format!("/next/{i}"));
        assert_eq!(r.status, 200, "{kind}: request {i} after: {}", r.describe());
        assert_eq!(r.server(), "s1", "{kind}: the stray response was delivered");
        assert_eq!(r.seen().target, format!("/next/{i}"), "{kind}: shifted");
    }
    assert_eq!(
        be.connections(),
        2,
        "{kind}: the misbehaving connection must be closed, the next one reused"
    );
}

both_drivers!(stray_response_in_the_same_packet, |driver| {
    after_misbehaving(driver, "GET", "stray", 200);
});

both_drivers!(stray_response_after_the_response, |driver| {
    after_misbehaving(driver, "GET", "stray-late", 200);
});

both_drivers!(body_after_a_head_response, |driver| {
    after_misbehaving(driver, "HEAD", "head-body", 200);
    after_misbehaving(driver, "HEAD", "head-body-late", 200);
});

both_drivers!(body_after_a_204_response, |driver| {
    after_misbehaving(driver, "GET", "204-body", 204);
    after_misbehaving(driver, "GET", "204-body-late", 204);
});

both_drivers!(body_after_a_304_response, |driver| {
    after_misbehaving(driver, "GET", "304-body-late", 304);
});

both_drivers!(stray_bytes_on_a_private_connection, |driver| {
    // `http-reuse never` keeps the connection for this client only: the same check applies.
    let (lb, be) = proxy(driver, 2, "    http-reuse never", "");
    let mut c = Client::connect(lb.addr("fe"));
    assert_eq!(c.get("/misbehave/stray-late").status, 200);
    thread::sleep(Duration::from_millis(150));
    assert_eq!(c.get("/after").seen().target, "/after");
    assert_eq!(be.connections(), 2);
    assert_eq!(c.get("/again").seen().target, "/again");
    assert_eq!(
        be.connections(),
        2,
        "the clean private connection is reused"
    );
});

both_drivers!(unasked_101_is_a_bad_gateway, |driver| {
    let (lb, be) = proxy(driver, 2, "", "");
    let mut c = Client::connect(lb.addr("fe"));
    let r = c.get("/misbehave/101");
    assert_eq!(r.status, 502, "{}", r.describe());
    c.expect_closed();
    // The server connection is closed, not reused for the next client.
    be.wait_for("the 101 connection closed", Duration::from_secs(3), |c| {
        c.open == 0
    });
    let r = get_once(lb.addr("fe"), "/fine");
    assert_eq!(r.seen().target, "/fine");
    assert_eq!(be.connections(), 2);
});

// Idle clients and the pool

/// Opens `n` keep-alive client connections one after the other, one request each, kept open.
fn idle_clients(lb: &Ringlb, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let mut c = Client::connect(lb.addr("fe"));
            assert_eq!(c.get(&format!("/idle/{i}")).status, 200);
            c
        })
        .collect()
}

both_drivers!(idle_clients_do_not_pin_server_connections, |driver| {
    let (lb, be) = proxy(driver, 2, "", "");
    let clients = idle_clients(&lb, 30);
    // Each client's first request needed a connection of its own (`http-reuse safe`); after
    // its response, a core keeps one idle connection per server when one at a time was in use,
    // as HAProxy does, and closes the others.
    be.wait_for("idle connections closed", Duration::from_secs(3), |c| {
        c.open <= 2
    });
    assert_eq!(be.connections(), 30);
    // A later request of any of them may take the pooled connection.
    let mut clients = clients;
    for (i, c) in clients.iter_mut().enumerate().take(5) {
        assert_eq!(c.get(&format!("/again/{i}")).status, 200);
    }
    assert!(be.connections() <= 32, "{:?}", be.counts());
});

both_drivers!(crowded_process_keeps_no_idle_connections, |driver| {
    // As HAProxy's tune.pool-high-fd-ratio: with client connections at 25 % of maxconn or
    // more, no idle server connection is kept, and new ones close those kept before.
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    nbthread 2\n    maxconn 40\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let clients = idle_clients(&lb, 20);
    be.wait_for("no idle server connection", Duration::from_secs(3), |c| {
        c.open == 0
    });
    assert_eq!(be.connections(), 20);
    drop(clients);
});

both_drivers!(keep_alive_client_reuses_a_pooled_connection, |driver| {
    let (lb, be) = proxy(driver, 2, "", "");
    let mut c = Client::connect(lb.addr("fe"));
    let first = c.get("/one").seen().conn;
    for i in 0..10 {
        assert_eq!(c.get(&format!("/n/{i}")).seen().conn, first);
    }
    assert_eq!(be.connections(), 1);
});

both_drivers!(purge_closes_idle_connections_without_traffic, |driver| {
    let (lb, be) = proxy(driver, 2, "", "pool-purge-delay 200ms");
    let _clients = idle_clients(&lb, 10);
    // The need estimate decays over a few purges, then the last idle connections go, while
    // the clients stay connected and send nothing.
    be.wait_for(
        "every idle connection purged",
        Duration::from_secs(5),
        |c| c.open == 0,
    );
});

both_drivers!(
    default_purge_delay_keeps_idle_connections_for_a_while,
    |driver| {
        let (lb, be) = proxy(driver, 1, "", "");
        let mut c = Client::connect(lb.addr("fe"));
        assert_eq!(c.get("/one").status, 200);
        // HAProxy's default pool-purge-delay is 5 s: one idle connection survives a second.
        thread::sleep(Duration::from_secs(1));
        assert_eq!(be.counts().open, 1);
        assert_eq!(c.get("/two").status, 200);
        assert_eq!(be.connections(), 1);
    }
);

both_drivers!(pool_purge_delay_zero_keeps_nothing, |driver| {
    let (lb, be) = proxy(driver, 2, "", "pool-purge-delay 0");
    let mut c = Client::connect(lb.addr("fe"));
    for i in 0..3 {
        assert_eq!(c.get(&format!("/p/{i}")).status, 200);
        be.wait_for("closed after its response", Duration::from_secs(3), |c| {
            c.open == 0
        });
    }
    assert_eq!(be.connections(), 3);
});

both_drivers!(pool_max_conn_zero_keeps_nothing, |driver| {
    let (lb, be) = proxy(driver, 2, "", "pool-max-conn 0");
    let mut c = Client::connect(lb.addr("fe"));
    for i in 0..3 {
        assert_eq!(c.get(&format!("/m/{i}")).status, 200);
    }
    assert_eq!(be.connections(), 3);
});

/// `n` requests in flight at once (slow ones), each on its own client connection, which then
/// stays open: the server's need is `n` on one core.
fn concurrent_clients(lb: &Ringlb, n: usize) -> Vec<Client> {
    let mut clients: Vec<Client> = (0..n).map(|_| Client::connect(lb.addr("fe"))).collect();
    for c in &mut clients {
        c.send_request("GET", "/delay/300", &[], b"");
    }
    for c in &mut clients {
        assert_eq!(c.read_response().status, 200);
    }
    clients
}

both_drivers!(pool_max_conn_caps_idle_connections, |driver| {
    let (lb, be) = proxy(driver, 1, "", "pool-max-conn 2");
    let _clients = concurrent_clients(&lb, 6);
    be.wait_for("idle connections capped", Duration::from_secs(3), |c| {
        c.open == 2
    });
    thread::sleep(Duration::from_millis(200));
    assert_eq!(be.counts().open, 2, "pool-max-conn 2 keeps at most 2 idle");
});

both_drivers!(need_estimate_keeps_concurrent_connections, |driver| {
    let (lb, be) = proxy(driver, 1, "", "");
    let _clients = concurrent_clients(&lb, 6);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        be.counts().open,
        6,
        "6 were needed at once: all 6 stay idle until purges decay the estimate"
    );
});

both_drivers!(
    pool_low_conn_keeps_idle_connections_through_purges,
    |driver| {
        let (lb, be) = proxy(driver, 1, "", "pool-purge-delay 100ms pool-low-conn 3");
        let _clients = idle_clients(&lb, 10);
        // Beyond the need of 1, pool-low-conn's 3 are kept, and purges never go below them.
        thread::sleep(Duration::from_millis(800));
        assert_eq!(be.counts().open, 3, "{:?}", be.counts());
    }
);

both_drivers!(pool_options_on_default_server, |driver| {
    let (lb, be) = proxy(driver, 2, "    default-server pool-purge-delay 0", "");
    let mut c = Client::connect(lb.addr("fe"));
    assert_eq!(c.get("/a").status, 200);
    assert_eq!(c.get("/b").status, 200);
    assert_eq!(be.connections(), 2);
});

#[test]
fn pool_options_are_checked() {
    for (opts, needle) in [
        ("pool-max-conn -2", "pool-max-conn -2"),
        ("pool-max-conn many", "pool-max-conn many"),
        ("pool-low-conn -1", "pool-low-conn -1"),
        ("pool-purge-delay 5x", "pool-purge-delay"),
        ("pool-purge-delay", "needs a value"),
    ] {
        let cfg = http_cfg(&format!(
            "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
             backend app\n    server s1 127.0.0.1:9 {opts}\n"
        ));
        let r = Ringlb::check(&cfg);
        assert_eq!(r.code, Some(1), "{opts}: {}", r.output);
        assert!(r.output.contains(needle), "{opts}: {}", r.output);
        assert!(r.output.contains("check.cfg:"), "{opts}: {}", r.output);
    }
    let ok = http_cfg(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    default-server pool-low-conn 4\n    \
         server s1 127.0.0.1:9 pool-max-conn -1 pool-purge-delay 10s\n",
    );
    let r = Ringlb::check(&ok);
    assert_eq!(r.code, Some(0), "{}", r.output);
}

// CONNECT

fn connect_proxy(driver: &str, server: &ConnectServer, timeouts: &str) -> Ringlb {
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n{timeouts}\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server t {}\n",
        server.addr
    );
    Ringlb::start(&cfg, driver)
}

const SHORT_TIMEOUTS: &str = "    timeout client 5s\n    timeout server 5s";

/// Reads until `want` bytes arrived (the echo may come in pieces).
fn read_n(c: &mut Client, want: usize) -> String {
    let mut got = Vec::new();
    while got.len() < want {
        let part = c.conn.read_some().expect("tunnel read");
        assert!(
            !part.is_empty(),
            "tunnel closed early after {:?}",
            lossy(&got)
        );
        got.extend(part);
    }
    lossy(&got)
}

both_drivers!(connect_is_tunnelled_with_early_bytes, |driver| {
    let server = ConnectServer::start("200 Connection established");
    let lb = connect_proxy(driver, &server, SHORT_TIMEOUTS);
    let mut c = Client::connect(lb.addr("fe"));
    // Bytes right behind the head go through the tunnel once the server said 2xx.
    c.send("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\nhello");
    let head = c.conn.read_head().unwrap().expect("no answer to CONNECT");
    let head = lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 200 Connection established\r\n"),
        "{head:?}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("connection: close"),
        "{head:?}"
    );
    assert_eq!(read_n(&mut c, 10), "echo:hello");
    c.send("more");
    assert_eq!(read_n(&mut c, 9), "echo:more");
    c.shutdown_write();
    let rest = c.conn.read_to_eof().expect("tunnel end");
    assert!(rest.is_empty(), "{:?}", lossy(&rest));
    let heads = server.heads.lock().unwrap();
    assert!(
        heads[0].starts_with("CONNECT db.internal:5432 HTTP/1.1\r\n"),
        "{heads:?}"
    );
});

both_drivers!(connect_refused_is_a_normal_response, |driver| {
    let server = ConnectServer::start("403 Forbidden");
    let lb = connect_proxy(driver, &server, SHORT_TIMEOUTS);
    let mut c = Client::connect(lb.addr("fe"));
    c.send("CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 403, "{}", r.describe());
    assert_eq!(r.text(), "no\n");
});

both_drivers!(connect_tunnel_times_out_under_timeout_tunnel, |driver| {
    let server = ConnectServer::start("200 OK");
    let lb = connect_proxy(
        driver,
        &server,
        "    timeout client 5s\n    timeout server 5s\n    timeout tunnel 300ms",
    );
    let mut c = Client::connect(lb.addr("fe"));
    c.send("CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n");
    c.conn.read_head().unwrap().expect("no answer");
    let t = Instant::now();
    // Nothing moves: the relay ends both sides at timeout tunnel (an EOF or a reset here).
    let rest = c.conn.read_to_eof().unwrap_or_default();
    let waited = t.elapsed();
    assert!(rest.is_empty(), "{:?}", lossy(&rest));
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "an idle tunnel must close at timeout tunnel, took {waited:?}"
    );
});

// A stalled request body

/// Sends a head announcing 10 body bytes and 3 of them, then waits; returns the answer and how
/// long it took.
fn stall(lb: &Ringlb) -> (u16, Duration) {
    let mut c = Client::connect(lb.addr("fe"));
    c.set_read_timeout(Duration::from_secs(8));
    let t = Instant::now();
    c.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.read_response();
    let took = t.elapsed();
    c.expect_closed();
    (r.status, took)
}

fn stall_proxy(driver: &str, timeouts: &str) -> (Ringlb, HttpBackend) {
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n{timeouts}\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    );
    (Ringlb::start(&cfg, driver), be)
}

both_drivers!(stalled_body_gets_504_at_timeout_server, |driver| {
    // As HAProxy 2.6: once the head went to the server, timeout server decides, even when
    // timeout client is shorter.
    let (lb, be) = stall_proxy(driver, "    timeout client 300ms\n    timeout server 900ms");
    let (status, took) = stall(&lb);
    assert_eq!(status, 504);
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(
        be.requests(),
        0,
        "the incomplete request must not be served"
    );
});

both_drivers!(stalled_body_without_timeout_server_gets_408, |driver| {
    let (lb, _be) = stall_proxy(driver, "    timeout client 400ms");
    let (status, took) = stall(&lb);
    assert_eq!(status, 408);
    assert!(took >= Duration::from_millis(350), "{took:?}");
});

both_drivers!(slow_body_within_the_timeouts_is_served, |driver| {
    let (lb, _be) = stall_proxy(driver, "    timeout client 300ms\n    timeout server 300ms");
    let mut c = Client::connect(lb.addr("fe"));
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n");
    for part in ["ab", "cd", "ef"] {
        thread::sleep(Duration::from_millis(150));
        c.send(part);
    }
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.text(), "abcdef");
});
