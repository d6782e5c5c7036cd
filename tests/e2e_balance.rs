//! Load balancing: algorithms, weights, backup servers, redispatch, server and frontend
//! connection limits, queueing.
//!
//! Workers balance on their own core (each has its own round-robin cursor and leastconn
//! counts), so the assertions are about fair shares over many connections, not exact orders.

mod common;

use common::*;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

/// A frontend `fe` with `default_backend app`; `app` has `be_lines` and one server line per
/// `(name, address, extra)`.
fn start_lb(driver: &str, be_lines: &str, servers: &[(&str, SocketAddr, &str)]) -> Ringlb {
    let mut cfg = format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n{be_lines}\n"
    );
    for (name, addr, extra) in servers {
        cfg.push_str(&format!("    server {name} {addr} {extra}\n"));
    }
    Ringlb::start(&http_cfg(&cfg), driver)
}

fn backends(names: &[&str]) -> Vec<HttpBackend> {
    names.iter().map(|n| HttpBackend::start(n)).collect()
}

/// `n` requests, each on a new connection; returns the answering servers.
fn spread(lb: &Ringlb, n: usize, path: &str) -> std::collections::BTreeMap<String, usize> {
    tally((0..n).map(|_| {
        let r = get_once(lb.addr("fe"), path);
        assert_eq!(r.status, 200, "{}", r.describe());
        r.server()
    }))
}

fn count(t: &std::collections::BTreeMap<String, usize>, name: &str) -> usize {
    t.get(name).copied().unwrap_or(0)
}

both_drivers!(roundrobin_fair_share, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance roundrobin",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let t = spread(&lb, 60, "/");
    for s in ["s1", "s2", "s3"] {
        assert!(count(&t, s) >= 15, "roundrobin unfair: {t:?}");
    }
});

both_drivers!(roundrobin_weights, |driver| {
    let b = backends(&["heavy", "light"]);
    let lb = start_lb(
        driver,
        "    balance roundrobin",
        &[
            ("heavy", b[0].addr, "weight 3"),
            ("light", b[1].addr, "weight 1"),
        ],
    );
    let t = spread(&lb, 80, "/");
    let heavy = count(&t, "heavy");
    assert!(
        (50..=70).contains(&heavy),
        "weight 3:1 should give about 60 of 80: {t:?}"
    );
});

both_drivers!(static_rr_fair_share, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance static-rr",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let t = spread(&lb, 60, "/");
    for s in ["s1", "s2", "s3"] {
        assert!(count(&t, s) >= 15, "static-rr unfair: {t:?}");
    }
});

both_drivers!(random_uses_every_server, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance random",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let t = spread(&lb, 60, "/");
    // Binomial(60, 1/3) under 3 happens with probability ~1e-8.
    for s in ["s1", "s2", "s3"] {
        assert!(count(&t, s) >= 3, "random never picked {s}: {t:?}");
    }
});

both_drivers!(first_fills_first_server, |driver| {
    let b = backends(&["s1", "s2"]);
    // maxconn 2, not 1: a request that has just been answered may still count for an instant.
    let lb = start_lb(
        driver,
        "    balance first\n    timeout queue 5s",
        &[
            ("s1", b[0].addr, "maxconn 2"),
            ("s2", b[1].addr, "maxconn 2"),
        ],
    );
    let t = spread(&lb, 10, "/");
    assert_eq!(
        count(&t, "s1"),
        10,
        "balance first with a free s1 must use s1: {t:?}"
    );
    // With s1 full, the next request overflows to s2.
    let mut holders: Vec<Client> = (0..2)
        .map(|i| {
            let mut h = Client::connect(lb.addr("fe"));
            h.send_request("GET", &format!("/delay/1000?h={i}"), &[], b"");
            b[0].wait_for("a holding request", Duration::from_secs(5), |c| {
                c.in_flight == i + 1
            });
            h
        })
        .collect();
    assert_eq!(get_once(lb.addr("fe"), "/").server(), "s2", "s1 was full");
    for h in &mut holders {
        assert_eq!(h.read_response().server(), "s1");
    }
});

both_drivers!(leastconn_avoids_busy_server, |driver| {
    // Every `slow` response takes 2 s, so each request sent to it stays in flight meanwhile.
    let slow = HttpBackend::start_slow("slow", 2000);
    let fast = HttpBackend::start("fast");
    let lb = start_lb(
        driver,
        "    balance leastconn",
        &[("slow", slow.addr, ""), ("fast", fast.addr, "")],
    );
    let mut parked = Vec::new();
    let mut servers = Vec::new();
    let start = Instant::now();
    for i in 0..20 {
        let mut c = Client::connect(lb.addr("fe"));
        c.send_request("GET", &format!("/lc{i}"), &[], b"");
        // A response within 500 ms came from `fast`; otherwise the request sits on `slow`
        // and is collected at the end. (The count below is exact either way.)
        c.set_read_timeout(Duration::from_millis(500));
        match c.try_read_response(false) {
            Ok(r) => servers.push(r.server()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                parked.push(c)
            }
            Err(e) => panic!("request {i}: {e}"),
        }
    }
    let issue_time = start.elapsed();
    for mut c in parked {
        c.set_read_timeout(IO_TIMEOUT);
        servers.push(c.read_response().server());
    }
    let t = tally(servers);
    // Leastconn sends at most one request per core to `slow` while it holds one (2 cores),
    // roundrobin would send about 10.
    assert!(
        count(&t, "slow") <= 4,
        "leastconn kept choosing the busy server: {t:?} (issued in {issue_time:?})"
    );
    assert_eq!(count(&t, "slow") + count(&t, "fast"), 20);
});

/// Connects from 127.0.0.`last` and returns the server that answered.
fn from_source(lb: &Ringlb, last: u8) -> String {
    let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let mut c = Client::connect_from(src, lb.addr("fe"));
    c.get("/src").server()
}

both_drivers!(source_hash_sticks_per_client, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance source",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let mut seen = std::collections::BTreeSet::new();
    for last in 2..22u8 {
        let first = from_source(&lb, last);
        for _ in 0..3 {
            assert_eq!(
                from_source(&lb, last),
                first,
                "source 127.0.0.{last} moved servers"
            );
        }
        seen.insert(first);
    }
    assert!(
        seen.len() >= 2,
        "20 sources all hashed to one server: {seen:?}"
    );
});

both_drivers!(uri_hash_sticks_per_path, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance uri",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let mut seen = std::collections::BTreeSet::new();
    for p in 0..20 {
        let path = format!("/obj/{p}");
        let first = get_once(lb.addr("fe"), &path).server();
        for q in 0..3 {
            // Without `whole`, the query string is not hashed.
            let again = get_once(lb.addr("fe"), &format!("{path}?q={q}")).server();
            assert_eq!(again, first, "{path} moved servers");
        }
        seen.insert(first);
    }
    assert!(
        seen.len() >= 2,
        "20 paths all hashed to one server: {seen:?}"
    );
});

both_drivers!(hdr_hash_sticks_per_header_value, |driver| {
    let b = backends(&["s1", "s2", "s3"]);
    let lb = start_lb(
        driver,
        "    balance hdr(x-user)",
        &[
            ("s1", b[0].addr, ""),
            ("s2", b[1].addr, ""),
            ("s3", b[2].addr, ""),
        ],
    );
    let ask = |user: &str| {
        let mut c = Client::connect(lb.addr("fe"));
        c.send_request("GET", "/", &[("X-User", user)], b"");
        c.read_response().server()
    };
    let mut seen = std::collections::BTreeSet::new();
    for u in 0..20 {
        let user = format!("user-{u}");
        let first = ask(&user);
        for _ in 0..3 {
            assert_eq!(ask(&user), first, "{user} moved servers");
        }
        seen.insert(first);
    }
    assert!(
        seen.len() >= 2,
        "20 users all hashed to one server: {seen:?}"
    );
});

both_drivers!(backup_used_only_when_primaries_disabled, |driver| {
    let b = backends(&["p1", "p2", "bk"]);
    let lb = start_lb(
        driver,
        "",
        &[
            ("p1", b[0].addr, "disabled"),
            ("p2", b[1].addr, "disabled"),
            ("bk", b[2].addr, "backup"),
        ],
    );
    let t = spread(&lb, 10, "/");
    assert_eq!(
        count(&t, "bk"),
        10,
        "all primaries disabled: the backup must serve: {t:?}"
    );
    assert_eq!(b[0].connections() + b[1].connections(), 0);
});

both_drivers!(backup_idle_while_primary_up, |driver| {
    let b = backends(&["p1", "bk"]);
    let lb = start_lb(
        driver,
        "",
        &[("p1", b[0].addr, ""), ("bk", b[1].addr, "backup")],
    );
    let t = spread(&lb, 10, "/");
    assert_eq!(
        count(&t, "p1"),
        10,
        "the backup served while a primary was up: {t:?}"
    );
    assert_eq!(b[1].connections(), 0);
});

both_drivers!(redispatch_after_connect_refused, |driver| {
    let live = HttpBackend::start("live");
    let dead = refused_addr();
    let lb = start_lb(
        driver,
        "    balance roundrobin\n    retries 1\n    option redispatch",
        &[("dead", dead, ""), ("live", live.addr, "")],
    );
    let t = spread(&lb, 10, "/");
    assert_eq!(count(&t, "live"), 10, "{t:?}");
});

/// Sends `n` requests for `path` at once, each on its own connection; returns the statuses
/// in the order the requests were started.
fn concurrent(addr: SocketAddr, n: usize, path: &str) -> Vec<u16> {
    thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|_| s.spawn(move || get_once(addr, path).status))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

// The limits below are process-wide (the model: "across all workers", as in HAProxy). Several
// connections are used so that both cores get some: a limit enforced per core shows up every
// run, not one run in two.

both_drivers!(server_maxconn_queues, |driver| {
    let b = backends(&["s1"]);
    let lb = start_lb(
        driver,
        "    timeout queue 5s",
        &[("s1", b[0].addr, "maxconn 1")],
    );
    let start = Instant::now();
    let statuses = concurrent(lb.addr("fe"), 6, "/delay/150");
    assert_eq!(statuses, vec![200; 6], "queued requests must all be served");
    let counts = b[0].counts();
    assert_eq!(
        counts.max_in_flight, 1,
        "server maxconn 1 let requests run concurrently: {counts:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(850),
        "the requests did not queue"
    );
});

both_drivers!(queue_timeout_gives_503, |driver| {
    let b = backends(&["s1"]);
    let lb = start_lb(
        driver,
        "    timeout queue 500ms",
        &[("s1", b[0].addr, "maxconn 1")],
    );
    let mut holder = Client::connect(lb.addr("fe"));
    holder.send_request("GET", "/delay/1500", &[], b"");
    b[0].wait_for("the holding request", Duration::from_secs(5), |c| {
        c.in_flight == 1
    });
    let start = Instant::now();
    let statuses = concurrent(lb.addr("fe"), 4, "/queued");
    let waited = start.elapsed();
    assert_eq!(
        statuses,
        vec![503; 4],
        "the server was full for longer than timeout queue"
    );
    assert!(
        waited >= Duration::from_millis(400),
        "503 before timeout queue: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "503 long after timeout queue: {waited:?}"
    );
    assert_eq!(holder.read_response().status, 200);
    assert_eq!(
        b[0].requests(),
        1,
        "a queued request reached the full server"
    );
});

both_drivers!(frontend_maxconn_holds_extra_connections, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    maxconn 1\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let mut first = Client::connect(lb.addr("fe"));
    assert_eq!(first.get("/one").status, 200);
    let mut waiting: Vec<Client> = (0..4)
        .map(|i| {
            let mut c = Client::connect(lb.addr("fe"));
            c.send_request("GET", &format!("/wait{i}"), &[("Connection", "close")], b"");
            c
        })
        .collect();
    // Absence of a response cannot be signalled: give it a bounded chance to (wrongly) arrive.
    for (i, c) in waiting.iter_mut().enumerate() {
        c.set_read_timeout(Duration::from_millis(if i == 0 { 500 } else { 50 }));
        match c.try_read_response(false) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Ok(r) => panic!(
                "frontend maxconn 1 served connection {} while another was open: {}",
                i + 2,
                r.describe()
            ),
            Err(e) => panic!("connection {} failed instead of waiting: {e}", i + 2),
        }
    }
    // Each waiting connection closes after its response, letting the next one in.
    drop(first);
    for (i, c) in waiting.iter_mut().enumerate() {
        c.set_read_timeout(IO_TIMEOUT);
        assert_eq!(c.read_response().seen().target, format!("/wait{i}"));
    }
});

// `option abortonclose` in mode http: a queued request whose client half-closed, closed or
// reset its connection is still sent to the server, as HAProxy 2.6.12 does with and without
// the option (measured beside it: server maxconn 1 held by a slow request, a second client
// sends a complete request and closes; HAProxy serves it after the first in every case).
both_drivers!(abortonclose_keeps_a_queued_complete_request, |driver| {
    use std::io::{Read, Write};
    let be = HttpBackend::start("s1");
    let lb = start_lb(
        driver,
        "    option abortonclose\n    timeout queue 5s",
        &[("s1", be.addr, "maxconn 1")],
    );
    let mut a = std::net::TcpStream::connect(lb.addr("fe")).unwrap();
    a.write_all(b"GET /delay/400 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(100));
    let mut b = std::net::TcpStream::connect(lb.addr("fe")).unwrap();
    b.write_all(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    b.shutdown(std::net::Shutdown::Write).unwrap();
    let mut c = std::net::TcpStream::connect(lb.addr("fe")).unwrap();
    c.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    drop(c);
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let _ = b.read_to_end(&mut got);
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    be.wait_for("the three requests", Duration::from_secs(5), |c| {
        c.requests >= 3
    });
    drop(a);
});
