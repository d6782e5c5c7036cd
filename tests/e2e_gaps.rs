//! Scenarios the other e2e files do not reach: tunnel, connect and keep-alive timeouts,
//! `tune.http.maxhdr`, `src`/`dst_port` routing, global `maxconn`, several `-f` files and
//! `-f DIR`, HTTP/1.0 clients of chunked servers, mixed keep-alive options, early server
//! answers to uploads, and absolute-form targets that disagree with `Host`.

mod common;

use common::*;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// A loopback port that was free a moment ago (bound, then released): for configs that must
/// name a port. Another process could take it in between; the window is tiny.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How the peer ended (or did not end) the connection within `limit`.
#[derive(Debug, PartialEq)]
enum End {
    /// EOF or reset after this long.
    Closed(Duration),
    /// Still open, nothing received, when `limit` ran out.
    Open,
    /// Bytes arrived instead of a close.
    Data(String),
}

/// Waits (bounded by `limit`) for the peer to close `c`, which must have nothing buffered.
fn wait_close(c: &mut Client, limit: Duration) -> End {
    assert!(
        c.conn.buffered().is_empty(),
        "unexpected buffered bytes: {:?}",
        lossy(c.conn.buffered())
    );
    let start = Instant::now();
    c.set_read_timeout(limit);
    let mut tmp = [0u8; 4096];
    let end = match c.conn.stream.read(&mut tmp) {
        Ok(0) => End::Closed(start.elapsed()),
        Ok(n) => End::Data(lossy(&tmp[..n])),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => End::Closed(start.elapsed()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            End::Open
        }
        Err(e) => panic!("unexpected read error: {e}"),
    };
    c.set_read_timeout(IO_TIMEOUT);
    end
}

/// A frontend `fe` sending everything to backend `app` (with `be_extra` lines) on server `be`.
fn simple(driver: &str, global_extra: &str, be_extra: &str, be: &HttpBackend) -> Ringlb {
    let cfg = format!(
        "global\n    nbthread 2\n{global_extra}\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n{be_extra}\n    server s1 {}\n",
        be.addr
    );
    Ringlb::start(&cfg, driver)
}

const WS_UPGRADE: &str =
    "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

/// Opens a WebSocket tunnel through `addr` to the echoing test backend.
fn open_tunnel(addr: SocketAddr) -> Client {
    let mut c = Client::connect(addr);
    c.send(WS_UPGRADE);
    let r = c.read_response();
    assert_eq!(r.status, 101, "upgrade refused: {}", r.describe());
    c
}

// 1. timeout tunnel

both_drivers!(tunnel_timeout_closes_idle_tunnel, |driver| {
    let be = HttpBackend::start("s1");
    let lb = simple(driver, "", "    timeout tunnel 500ms", &be);
    let mut c = open_tunnel(lb.addr("fe"));
    // The tunnel echoes while it is used.
    c.send("hello");
    let mut buf = [0u8; 5];
    c.conn.stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    let end = wait_close(&mut c, Duration::from_secs(3));
    eprintln!("idle tunnel: {end:?}");
    match end {
        End::Closed(t) => assert!(
            t >= Duration::from_millis(300) && t <= Duration::from_secs(2),
            "idle tunnel with 'timeout tunnel 500ms' closed after {t:?}, expected ~500ms"
        ),
        other => panic!("idle tunnel with 'timeout tunnel 500ms' not closed within 3s: {other:?}"),
    }
});

both_drivers!(tunnel_timeout_spares_active_tunnel, |driver| {
    let be = HttpBackend::start("s1");
    let lb = simple(driver, "", "    timeout tunnel 500ms", &be);
    let mut c = open_tunnel(lb.addr("fe"));
    let start = Instant::now();
    let mut i = 0;
    // Bytes every 200 ms for 1.5 s: three times the tunnel timeout in all, never idle for it.
    while start.elapsed() < Duration::from_millis(1500) {
        let msg = format!("ping-{i:03}");
        c.send(&msg);
        let mut buf = vec![0u8; msg.len()];
        c.conn
            .stream
            .read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("active tunnel broken at {:?}: {e}", start.elapsed()));
        assert_eq!(lossy(&buf), msg);
        thread::sleep(Duration::from_millis(200));
        i += 1;
    }
    c.send("last");
    let mut buf = [0u8; 4];
    c.conn
        .stream
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("active tunnel closed after {:?}: {e}", start.elapsed()));
    assert_eq!(&buf, b"last");
});

// 2. timeout connect + retries against a server whose accept queue is full

/// A listener with backlog 0 whose queue is filled by connections nobody accepts: the kernel
/// then drops new SYNs, so a connect to it neither succeeds nor fails, it times out.
struct BlackHole {
    addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<TcpStream>,
}

impl BlackHole {
    fn start() -> BlackHole {
        use socket2::{Domain, Socket, Type};
        let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        l.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => fillers.push(s),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return BlackHole {
                        addr,
                        _listener: l,
                        _fillers: fillers,
                    }
                }
                Err(e) => panic!("filling the accept queue: {e}"),
            }
        }
        panic!(
            "the kernel completed {} handshakes on a backlog-0 listener: cannot make a \
             black-hole server on loopback here",
            fillers.len()
        );
    }
}

both_drivers!(connect_timeout_with_retries_gives_503, |driver| {
    let hole = BlackHole::start();
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 300ms\n    \
         retries 1\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        hole.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    let start = Instant::now();
    c.send_request("GET", "/", &[], b"");
    let r = c
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("no response after {:?}: {e}", start.elapsed()));
    let t = start.elapsed();
    eprintln!("503 after {t:?}");
    assert_eq!(r.status, 503, "{}", r.describe());
    // Two attempts of 300 ms each (plus HAProxy-like turnaround) and slack.
    assert!(
        t >= Duration::from_millis(500) && t < Duration::from_secs(3),
        "503 after {t:?}: expected about 2 x 300ms"
    );
});

// 3. tune.http.maxhdr

/// A GET with `n` header lines in all (Host included).
fn with_headers(n: usize) -> String {
    let mut req = String::from("GET /h HTTP/1.1\r\nHost: t\r\n");
    for i in 1..n {
        req.push_str(&format!("X-H{i}: v\r\n"));
    }
    req.push_str("\r\n");
    req
}

both_drivers!(maxhdr_limits_header_count, |driver| {
    let be = HttpBackend::start("s1");
    let lb = simple(driver, "    tune.http.maxhdr 10", "", &be);
    // Like HAProxy, maxhdr keeps one slot: maxhdr - 1 header lines pass.
    let mut c = Client::connect(lb.addr("fe"));
    c.send(with_headers(9));
    let r = c.read_response();
    assert_eq!(r.status, 200, "9 headers with maxhdr 10: {}", r.describe());
    let seen = r.seen();
    for i in 1..9 {
        assert_eq!(seen.header(&format!("x-h{i}")), Some("v"), "{seen:?}");
    }
    // The same connection is still usable.
    assert_eq!(c.get("/again").status, 200);

    for n in [10, 15] {
        let mut c = Client::connect(lb.addr("fe"));
        c.send(with_headers(n));
        let r = c.read_response();
        assert_eq!(
            r.status,
            431,
            "{n} headers with maxhdr 10 (HAProxy 2.6 answers 400, ringlb documents 431): {}",
            r.describe()
        );
        c.expect_closed();
    }
    assert_eq!(be.heads(), 2, "rejected heads must not reach the server");
});

// 4. src and dst_port in routing

both_drivers!(route_by_src, |driver| {
    let (a, b, d) = (
        HttpBackend::start("a"),
        HttpBackend::start("b"),
        HttpBackend::start("d"),
    );
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    use_backend ten if {{ src 10.0.0.0/8 }}\n    \
         use_backend b if {{ src 127.0.0.2 }}\n    use_backend a if {{ src 127.0.0.0/8 }}\n    \
         default_backend d\n\n\
         backend ten\n    server d {}\n\nbackend a\n    server a {}\n\n\
         backend b\n    server b {}\n\nbackend d\n    server d {}\n",
        d.addr, a.addr, b.addr, d.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let fe = lb.addr("fe");
    let from = |ip: [u8; 4]| {
        let mut c = Client::connect_from(IpAddr::from(ip), fe);
        c.get("/").server()
    };
    assert_eq!(from([127, 0, 0, 1]), "a", "127.0.0.1 is in 127.0.0.0/8");
    assert_eq!(from([127, 0, 0, 2]), "b", "exact address before the CIDR");
    assert_eq!(from([127, 0, 0, 3]), "a");
    assert_eq!(d.requests(), 0, "nothing comes from 10.0.0.0/8");
});

both_drivers!(route_by_dst_port, |driver| {
    let (a, b) = (HttpBackend::start("a"), HttpBackend::start("b"));
    let p2 = free_port();
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    bind 127.0.0.1:{p2}\n    \
         use_backend b if {{ dst_port {p2} }}\n    default_backend a\n\n\
         backend a\n    server a {}\n\nbackend b\n    server b {}\n",
        a.addr, b.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let addrs = lb.addrs("fe");
    assert_eq!(addrs.len(), 2, "two bind lines expected: {addrs:?}");
    let second = SocketAddr::from((Ipv4Addr::LOCALHOST, p2));
    let first = *addrs
        .iter()
        .find(|a| a.port() != p2)
        .expect("the port-0 bind");
    assert!(addrs.contains(&second), "{addrs:?} lacks {second}");
    for _ in 0..3 {
        assert_eq!(get_once(first, "/").server(), "a");
        assert_eq!(get_once(second, "/").server(), "b");
    }
});

// 5. global maxconn

both_drivers!(global_maxconn_queues_third_connection, |driver| {
    let be = HttpBackend::start("s1");
    // One thread: ringlb splits the global maxconn across cores.
    let cfg = format!(
        "global\n    nbthread 1\n    maxconn 2\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let fe = lb.addr("fe");
    let mut c1 = Client::connect(fe);
    assert_eq!(c1.get("/1").status, 200);
    let mut c2 = Client::connect(fe);
    assert_eq!(c2.get("/2").status, 200);
    // The kernel completes the handshake; ringlb must not take the connection yet.
    let mut c3 = Client::connect(fe);
    c3.send_request("GET", "/3", &[], b"");
    c3.set_read_timeout(Duration::from_millis(500));
    match c3.try_read_response(false) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        Ok(r) => panic!("third connection served over 'maxconn 2': {}", r.describe()),
        Err(e) => panic!("third connection failed instead of waiting: {e}"),
    }
    assert_eq!(be.heads(), 2);
    // One of the first two leaves: the third is served.
    c2.get("/2b");
    drop(c1);
    c3.set_read_timeout(Duration::from_secs(3));
    let start = Instant::now();
    let r = c3
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("third connection not served after one closed: {e}"));
    assert_eq!(r.seen().target, "/3");
    assert!(start.elapsed() < Duration::from_secs(2));
    // Still two at most: c2 and c3.
    assert_eq!(c2.get("/2c").status, 200);
});

// 6. -f DIR and the order of several -f files

const BASE_CFG: &str = "global\n    nbthread 2\n\ndefaults\n    mode http\n    \
                        timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

fn app_cfg(be: &HttpBackend) -> String {
    format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    )
}

both_drivers!(config_dir_serves_traffic, |driver| {
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    // Lexical order: the base must come first even though it is written last.
    std::fs::write(conf.join("10-app.cfg"), app_cfg(&be)).unwrap();
    std::fs::write(conf.join("00-base.cfg"), BASE_CFG).unwrap();
    std::fs::write(conf.join("README"), "not a config file {{{\n").unwrap();
    let lb = Ringlb::start_files(dir, &[conf], driver, "-f conf.d/");
    let r = get_once(lb.addr("fe"), "/dir");
    assert_eq!(r.seen().target, "/dir");
    assert_eq!(r.server(), "s1");
});

both_drivers!(several_files_keep_their_order, |driver| {
    let be = HttpBackend::start("s1");
    // A defaults section applies to the proxies after it, across files as within one.
    let xff = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    \
               timeout server 5s\n    option forwardfor\n";
    for (xff_first, expect_xff) in [(false, false), (true, true)] {
        let dir = TempDir::new();
        let base = dir.write("base.cfg", BASE_CFG);
        let app = dir.write("app.cfg", app_cfg(&be));
        let x = dir.write("xff.cfg", xff);
        let files = if xff_first {
            vec![base, x, app]
        } else {
            vec![base, app, x]
        };
        let lb = Ringlb::start_files(dir, &files, driver, &format!("{files:?}"));
        let seen = get_once(lb.addr("fe"), "/order").seen();
        assert_eq!(
            seen.header("x-forwarded-for").is_some(),
            expect_xff,
            "files {files:?}: X-Forwarded-For {:?}",
            seen.header("x-forwarded-for")
        );
    }
});

// 7. HTTP/1.0 client, chunked server

both_drivers!(http10_client_gets_dechunked_body_then_close, |driver| {
    let be = HttpBackend::start("s1");
    let lb = simple(driver, "", "", &be);
    let mut c = Client::connect(lb.addr("fe"));
    c.set_read_timeout(Duration::from_secs(3));
    c.send("GET /chunked/3 HTTP/1.0\r\nHost: t\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert!(
        r.header("transfer-encoding").is_none(),
        "an HTTP/1.0 client got transfer-encoding: {:?}",
        r.headers
    );
    assert_eq!(r.body, chunked_body(3), "{}", r.describe());
    if !r.close_delimited {
        match wait_close(&mut c, Duration::from_secs(2)) {
            End::Closed(_) => {}
            other => panic!("connection not closed after an HTTP/1.0 response: {other:?}"),
        }
    }
});

// 8. timeout http-keep-alive

both_drivers!(keep_alive_timeout_closes_idle_client, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    timeout http-keep-alive 300ms\n    \
         default_backend app\n\nbackend app\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    assert_eq!(c.get("/first").status, 200);
    let end = wait_close(&mut c, Duration::from_secs(3));
    eprintln!("idle keep-alive: {end:?}");
    match end {
        End::Closed(t) => assert!(
            t <= Duration::from_millis(1500),
            "idle keep-alive connection closed after {t:?} with 'timeout http-keep-alive 300ms'"
        ),
        other => panic!("idle keep-alive connection not closed within 3s: {other:?}"),
    }

    let mut c = Client::connect(lb.addr("fe"));
    assert_eq!(c.get("/a").status, 200);
    thread::sleep(Duration::from_millis(100));
    let r = c.get("/b");
    assert_eq!(r.seen().target, "/b");
});

// 9. option http-keep-alive in defaults, http-server-close in the backend

both_drivers!(server_close_backend_under_keep_alive_defaults, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    option http-keep-alive\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    option http-server-close\n    server s1 {}\n",
        be.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    let mut conns = Vec::new();
    for i in 0..4 {
        let r = c.get(&format!("/sc/{i}"));
        assert!(
            !r.has_token("connection", "close"),
            "client connection closed by request {i}: {}",
            r.describe()
        );
        let seen = r.seen();
        assert_eq!(seen.target, format!("/sc/{i}"));
        conns.push(seen.conn);
    }
    conns.dedup();
    assert_eq!(
        conns.len(),
        4,
        "server-close backend reused a server connection: {conns:?}"
    );
    assert_eq!(be.connections(), 4);
});

// 10. A server answering before reading an upload

both_drivers!(early_answer_to_large_upload_is_bounded, |driver| {
    let be = HttpBackend::start("s1");
    let lb = simple(driver, "", "", &be);
    let mut c = Client::connect(lb.addr("fe"));
    let size = 256 * 1024;
    c.send(format!(
        "POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n"
    ));
    // The body goes from another thread: ringlb may stop reading it at any point.
    let mut w = c.conn.stream.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let body = pattern(size);
        for part in body.chunks(16 * 1024) {
            if w.write_all(part).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    c.set_read_timeout(Duration::from_secs(4));
    let r = c
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("no final status after {:?}: {e}", start.elapsed()));
    assert!(
        r.status == 413 || r.status == 502,
        "expected 413 (forwarded) or 502: {}",
        r.describe()
    );
    eprintln!("early answer: {} after {:?}", r.status, start.elapsed());
    if r.status == 413 {
        assert_eq!(r.server(), "early");
    }
    // Whatever ringlb decides next (close, or drain the rest of the body), it ends in bounded
    // time: the connection closes or a following request is answered.
    drop(writer.join());
    let end = wait_close(&mut c, Duration::from_secs(3));
    eprintln!("then: {end:?}");
    match end {
        End::Closed(_) => {}
        End::Open => {
            c.send_request("GET", "/after", &[], b"");
            let r = c
                .try_read_response(false)
                .unwrap_or_else(|e| panic!("connection left open but unusable: {e}"));
            assert_eq!(r.status, 200, "{}", r.describe());
        }
        End::Data(d) => panic!("unexpected bytes after the final response: {d:?}"),
    }
    // And ringlb still serves others.
    assert_eq!(get_once(lb.addr("fe"), "/next").status, 200);
});

both_drivers!(
    early_answer_to_large_upload_is_forwarded_like_haproxy,
    |driver| {
        // HAProxy 2.6, same server on loopback: the client gets the server's 413 (3 runs of 3),
        // even though the server resets the connection over the unread body.
        let be = HttpBackend::start("s1");
        let lb = simple(driver, "", "", &be);
        for i in 0..3 {
            let mut c = Client::connect(lb.addr("fe"));
            let size = 256 * 1024;
            c.send(format!(
                "POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n"
            ));
            let mut w = c.conn.stream.try_clone().unwrap();
            let writer = thread::spawn(move || {
                for part in pattern(size).chunks(16 * 1024) {
                    if w.write_all(part).is_err() {
                        return;
                    }
                }
            });
            c.set_read_timeout(Duration::from_secs(4));
            let r = c
                .try_read_response(false)
                .unwrap_or_else(|e| panic!("try {i}: no final status: {e}"));
            assert_eq!(
                r.status,
                413,
                "try {i}: the server's early 413 was not forwarded: {}",
                r.describe()
            );
            drop(writer.join());
        }
    }
);

// 11. Absolute-form target whose authority differs from Host

both_drivers!(absolute_form_with_other_host, |driver| {
    let (a, b, d) = (
        HttpBackend::start("a"),
        HttpBackend::start("b"),
        HttpBackend::start("d"),
    );
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    use_backend a if {{ hdr(host) -i a.example }}\n    \
         use_backend b if {{ hdr(host) -i b.example }}\n    default_backend d\n\n\
         backend a\n    server a {}\n\nbackend b\n    server b {}\n\nbackend d\n    server d {}\n",
        a.addr, b.addr, d.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let fe = lb.addr("fe");
    // Authority and Host agree: routed by that name, the target forwarded as sent.
    let mut c = Client::connect(fe);
    c.send("GET http://b.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.server(), "b", "{}", r.describe());
    assert_eq!(r.seen().header("host"), Some("b.example"));

    // They disagree: HAProxy 2.6 (checked on loopback) answers 400 and forwards nothing.
    let mut c = Client::connect(fe);
    c.send("GET http://b.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n");
    let r = c.read_response();
    assert_eq!(
        r.status,
        400,
        "HAProxy 2.6 rejects an absolute-form target whose authority differs from Host: {}",
        r.describe()
    );
    assert_eq!(a.heads() + b.heads() + d.heads(), 1);
    // ringlb is still up.
    assert_eq!(get_once(fe, "/alive").server(), "d");
});
