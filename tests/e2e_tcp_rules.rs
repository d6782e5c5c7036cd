//! `tcp-request connection|session|content` and `tcp-response content` rules in mode tcp,
//! with `inspect-delay`: SNI routing without terminating TLS (curl to two TLS sites behind
//! one port), a payload match rejected, an inspect delay running out into the rules
//! (`WAIT_END`), a response rejected, and the counters HAProxy 2.6 increments (`dcon`,
//! `dses`, `dreq`, `dresp`). The same config runs through HAProxy 2.6 and both drivers, and
//! every outcome and counter is compared.

mod common;

use common::haproxy::{free_port, haproxy_or_skip, Haproxy};
use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

/// Two TLS sites (a.example answers `A`, b.example `B`), served by ringlb itself.
struct Sites {
    lb: Ringlb,
    ca_file: String,
}

fn start_sites(driver: &str) -> Sites {
    let dir = TempDir::new();
    let ca = Ca::new("sites-ca");
    let ca_file = ca.write(&dir, "ca.pem");
    let a = ca
        .server("a", &["a.example"], Alg::Ecdsa)
        .write_combined(&dir, "a.pem");
    let b = ca
        .server("b", &["b.example"], Alg::Ecdsa)
        .write_combined(&dir, "b.pem");
    let cfg = format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    \
         timeout server 5s\n\nfrontend a\n    bind 127.0.0.1:0 ssl crt {a}\n    \
         http-request return status 200 content-type text/plain string A\n\n\
         frontend b\n    bind 127.0.0.1:0 ssl crt {b}\n    \
         http-request return status 200 content-type text/plain string B\n"
    );
    let lb = Ringlb::start_in(dir, &cfg, driver);
    Sites { lb, ca_file }
}

/// The proxy under test: `bind(name)` gives each frontend's bind address.
fn rules_cfg(bind: &dyn Fn(&str) -> String, sock: &str, sites: &Sites, echo: SocketAddr) -> String {
    let (a, b) = (sites.lb.addr("a"), sites.lb.addr("b"));
    format!(
        "global\n    stats socket {sock} level admin\n\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend sni\n    bind {}\n    tcp-request inspect-delay 2s\n    \
         tcp-request content accept if {{ req_ssl_hello_type 1 }}\n    \
         use_backend site_a if {{ req_ssl_sni -i a.example }}\n    \
         use_backend site_b if {{ req.ssl_sni -i b.example }}\n    default_backend echo\n\n\
         frontend pay\n    bind {}\n    tcp-request inspect-delay 400ms\n    \
         tcp-request content accept if {{ req.payload(0,5) -m str HELLO }}\n    \
         tcp-request content reject if WAIT_END\n    default_backend echo\n\n\
         frontend guard\n    bind {}\n    tcp-request connection reject if {{ src 127.0.0.2 }}\n    \
         tcp-request session reject if {{ src 127.0.0.3 }}\n    tcp-request inspect-delay 1s\n    \
         tcp-request content reject if {{ req.payload(0,4) -m str EVIL }}\n    default_backend echo\n\n\
         frontend resp\n    bind {}\n    default_backend checked\n\n\
         backend checked\n    tcp-response inspect-delay 1s\n    \
         tcp-response content reject if {{ res.payload(0,4) -m str EVIL }}\n    server e {echo}\n\n\
         backend echo\n    server e {echo}\n\nbackend site_a\n    server a {a}\n\n\
         backend site_b\n    server b {b}\n",
        bind("sni"),
        bind("pay"),
        bind("guard"),
        bind("resp"),
    )
}

/// Sends `chunks` (each after its pause) from `src`, then reads back as many bytes as were
/// sent: `echo:TEXT`, or `closed` when the connection ended first.
fn probe(fe: SocketAddr, src: &str, chunks: &[(&str, u64)]) -> String {
    let Ok(mut c) = connect_from(src, fe) else {
        // Refused at accept so early that the connect itself saw the reset.
        return "closed".to_string();
    };
    let mut sent = String::new();
    for (text, pause) in chunks {
        thread::sleep(Duration::from_millis(*pause));
        if c.write_all(text.as_bytes()).is_err() {
            return "closed".to_string();
        }
        sent.push_str(text);
    }
    let mut got = vec![0u8; sent.len()];
    match c.read_exact(&mut got) {
        Ok(()) => format!("echo:{}", lossy(&got)),
        Err(_) => "closed".to_string(),
    }
}

fn connect_from(src: &str, fe: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    sock.bind(&SocketAddr::new(src.parse::<IpAddr>().unwrap(), 0).into())?;
    sock.connect_timeout(&fe.into(), IO_TIMEOUT)?;
    let s: std::net::TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// What a TLS client got through the `sni` frontend for `host`.
fn through_sni(fe: SocketAddr, host: &str, sites: &Sites) -> String {
    let r = curl(fe, host, "/", &sites.ca_file, &[]);
    format!("{} {}", r.code(), r.stdout.lines().next().unwrap_or(""))
}

/// Every probe's outcome, in order, then the counters.
fn outcomes(
    addr: &dyn Fn(&str) -> SocketAddr,
    sites: &Sites,
    sock: &std::path::Path,
) -> Vec<String> {
    let mut out = vec![
        through_sni(addr("sni"), "a.example", sites),
        through_sni(addr("sni"), "b.example", sites),
        probe(addr("sni"), "127.0.0.1", &[("GET / HTTP/1.0\r\n\r\n", 0)]),
        probe(addr("pay"), "127.0.0.1", &[("HELLO", 0)]),
        probe(addr("pay"), "127.0.0.1", &[("HEL", 0), ("LO", 100)]),
        probe(addr("pay"), "127.0.0.1", &[("HI", 0)]),
        probe(addr("guard"), "127.0.0.2", &[("GOOD", 0)]),
        probe(addr("guard"), "127.0.0.3", &[("GOOD", 0)]),
        probe(addr("guard"), "127.0.0.1", &[("EVIL", 0)]),
        probe(addr("guard"), "127.0.0.1", &[("GOOD", 0)]),
        probe(addr("resp"), "127.0.0.1", &[("EVIL", 0)]),
        probe(addr("resp"), "127.0.0.1", &[("GOOD", 0)]),
    ];
    // The counters are written when each connection ends: give the last ones a moment.
    thread::sleep(Duration::from_millis(300));
    out.extend(counters(sock));
    out
}

/// `dcon dses dreq dresp` of each frontend and of backend `checked`, from `show stat`.
fn counters(sock: &std::path::Path) -> Vec<String> {
    let csv = ask(sock, "show stat");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let wanted = ["dcon", "dses", "dreq", "dresp", "stot"];
    let mut out = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() < header.len() {
            continue;
        }
        let row = (f[0], f[1]);
        let keep = matches!(row.1, "FRONTEND") && ["sni", "pay", "guard", "resp"].contains(&row.0)
            || row == ("checked", "BACKEND");
        if keep {
            let vals: Vec<String> = wanted
                .iter()
                .map(|w| format!("{w}={}", f[col(w)]))
                .collect();
            out.push(format!("{}/{}: {}", row.0, row.1, vals.join(" ")));
        }
    }
    out.sort();
    out
}

both_drivers!(tcp_rules_like_haproxy, |driver| {
    if !tool_or_skip("curl") {
        return;
    }
    let sites = start_sites(driver);
    let echo = TcpEchoBackend::start();
    let dir = TempDir::new();
    let sock = dir.path().join("ringlb.sock");
    let cfg = rules_cfg(
        &|_| "127.0.0.1:0".into(),
        &sock.display().to_string(),
        &sites,
        echo.addr,
    );
    let lb = Ringlb::start_in(dir, &cfg, driver);
    let addr = |n: &str| lb.addr(n);

    // The inspect delay runs out before an incomplete payload is refused.
    let start = Instant::now();
    assert_eq!(probe(addr("pay"), "127.0.0.1", &[("HI", 0)]), "closed");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(2),
        "rejected after {waited:?}; inspect-delay is 400ms"
    );
    // A complete match goes at once.
    let start = Instant::now();
    assert_eq!(
        probe(addr("pay"), "127.0.0.1", &[("HELLO", 0)]),
        "echo:HELLO"
    );
    assert!(
        start.elapsed() < Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );

    let ours = outcomes(&addr, &sites, &lb.dir.path().join("ringlb.sock"));
    let expected_probes = [
        "200 A",
        "200 B",
        "echo:GET / HTTP/1.0\r\n\r\n",
        "echo:HELLO",
        "echo:HELLO",
        "closed",
        "closed",
        "closed",
        "closed",
        "echo:GOOD",
        "closed",
        "echo:GOOD",
    ];
    assert_eq!(&ours[..expected_probes.len()], expected_probes, "{ours:#?}");
    if !haproxy_or_skip("tcp_rules_like_haproxy") {
        return;
    }
    let hdir = TempDir::new();
    let hsock = hdir.path().join("haproxy.sock");
    let ports: Vec<(String, u16)> = ["sni", "pay", "guard", "resp"]
        .iter()
        .map(|n| (n.to_string(), free_port()))
        .collect();
    let port_of = |n: &str| {
        ports
            .iter()
            .find(|(p, _)| p == n)
            .map(|(_, port)| *port)
            .unwrap()
    };
    let hcfg = rules_cfg(
        &|n| format!("127.0.0.1:{}", port_of(n)),
        &hsock.display().to_string(),
        &sites,
        echo.addr,
    );
    let _h = Haproxy::start(&hcfg, port_of("resp"));
    // HAProxy counts the two probes above too: make the same ones.
    let haddr = |n: &str| SocketAddr::from(([127, 0, 0, 1], port_of(n)));
    probe(haddr("pay"), "127.0.0.1", &[("HI", 0)]);
    probe(haddr("pay"), "127.0.0.1", &[("HELLO", 0)]);
    let theirs = outcomes(&haddr, &sites, &hsock);
    assert_eq!(ours, theirs, "ringlb vs HAProxy 2.6");
    drop(hdir);
});

/// The config errors: actions refused by name, rules where HAProxy does not take them.
#[test]
fn refused_by_name() {
    let base = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nfrontend f\n    bind 127.0.0.1:0\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n";
    for (line, want) in [
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request content set-var(txn.x) src\n", "not supported yet in tcp-request/tcp-response rules"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request connection track-sc0 src\n", "stick tables are not supported yet"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request content rejct\n", "did you mean 'reject'"),
        ("backend b2\n    tcp-request connection reject\n", "belongs to a frontend"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request connection reject if { req.len gt 0 }\n", "will never match"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request content reject if { hdr(host) x }\n", "needs 'mode http'"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request conection reject\n", "did you mean 'connection'"),
        ("frontend f2\n    bind 127.0.0.1:0\n    mode http\n    tcp-request content reject if { req.len gt 0 }\n", "not supported yet"),
        ("frontend f2\n    bind 127.0.0.1:0\n    mode http\n    tcp-request content silent-drop\n", "not supported yet"),
        ("frontend f2\n    bind 127.0.0.1:0\n    tcp-request content reject if { req.rdp_cookie(x) y }\n", "fetch 'req.rdp_cookie'"),
    ] {
        let r = Ringlb::check(&format!("{base}{line}"));
        assert!(r.output.contains(want), "{line}: {}", r.output);
    }
}

both_drivers!(expect_proxy_by_rule_and_silent_drop, |driver| {
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let sock = dir.path().join("s.sock");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    option forwardfor\n    \
         tcp-request connection silent-drop if {{ src 127.0.0.4 }}\n    \
         tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}\n    \
         tcp-request session reject if {{ src 192.0.2.66 }}\n    \
         default_backend b\n\nbackend b\n    server s1 {}\n",
        be.addr
    ))
    .replace(
        "nbthread 2\n",
        &format!("nbthread 2\n    stats socket {}\n", sock.display()),
    );
    let lb = Ringlb::start_in(dir, &cfg, driver);
    let fe = lb.addr("fe");
    // From 127.0.0.1 a PROXY header is expected; its source is the client's.
    let mut c = Client::connect(fe);
    c.send("PROXY TCP4 192.0.2.9 198.51.100.1 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.seen().header("x-forwarded-for"), Some("192.0.2.9"));
    // Session rules see the header's source (connection rules saw 127.0.0.1).
    let mut c = Client::connect(fe);
    c.send("PROXY TCP4 192.0.2.66 198.51.100.1 1000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(c.try_read_response(false).is_err(), "session reject");
    // From elsewhere, none: plain HTTP.
    let mut c = Client::connect_from("127.0.0.5".parse().unwrap(), fe);
    let r = c.get("/");
    assert_eq!(r.seen().header("x-forwarded-for"), Some("127.0.0.5"));
    // Silent drop: no answer ever, and nothing reaches the server.
    let before = be.requests();
    if let Ok(mut s) = connect_from("127.0.0.4", fe) {
        s.set_read_timeout(Some(Duration::from_millis(800)))
            .unwrap();
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut buf = [0u8; 64];
        assert!(
            !matches!(s.read(&mut buf), Ok(n) if n > 0),
            "an answer after silent-drop"
        );
    }
    assert_eq!(be.requests(), before);
    thread::sleep(Duration::from_millis(200));
    let stat = ask(&lb.dir.path().join("s.sock"), "show stat");
    let header: Vec<&str> = stat
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let row: Vec<&str> = stat
        .lines()
        .find(|l| l.starts_with("fe,FRONTEND"))
        .unwrap()
        .split(',')
        .collect();
    let field = |n: &str| row[header.iter().position(|h| *h == n).unwrap()];
    // As HAProxy 2.6 counts them: a silent-drop is a denied request, not a denied connection;
    // sessions only once past the connection and session rules.
    let got = (field("dcon"), field("dses"), field("dreq"), field("stot"));
    assert_eq!(got, ("0", "1", "1", "2"), "dcon dses dreq stot");
});

fn http_rules_cfg(bind: &str, sock: &str, be: &HttpBackend) -> String {
    format!(
        "global\n    stats socket {sock} level admin\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend web\n    bind {bind}\n    tcp-request content reject if {{ path /x }}\n    \
         default_backend app\n\nbackend app\n    \
         tcp-request content reject if {{ req.hdr(x-evil) -m found }}\n    server s {}\n",
        be.addr
    )
}

/// Two pipelined requests on one connection; what came back: statuses, then `closed` or
/// `open`.
fn pipelined(fe: SocketAddr, second: &str) -> String {
    let mut c = Client::connect(fe);
    c.send(format!("GET /y HTTP/1.1\r\nHost: a\r\n\r\n{second}"));
    let mut out = Vec::new();
    while let Ok(r) = c.try_read_response(false) {
        out.push(r.status.to_string());
    }
    out.join(" ")
}

fn http_outcomes(fe: SocketAddr, sock: &std::path::Path) -> Vec<String> {
    let mut out = vec![
        pipelined(fe, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
        pipelined(fe, "GET /z HTTP/1.1\r\nHost: a\r\nX-Evil: 1\r\n\r\n"),
        pipelined(
            fe,
            "GET /z HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ),
    ];
    thread::sleep(Duration::from_millis(300));
    let csv = ask(sock, "show stat");
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    for l in csv.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f.len() < header.len() || !(f[1] == "FRONTEND" || f[1] == "BACKEND") {
            continue;
        }
        let v: Vec<String> = ["dreq", "req_tot", "hrsp_2xx"]
            .iter()
            .map(|n| format!("{n}={}", f[header.iter().position(|h| h == n).unwrap()]))
            .collect();
        out.push(format!("{}/{}: {}", f[0], f[1], v.join(" ")));
    }
    out
}

both_drivers!(http_mode_content_rules_like_haproxy, |driver| {
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let sock = dir.path().join("r.sock");
    let cfg = http_rules_cfg("127.0.0.1:0", &sock.display().to_string(), &be);
    let lb = Ringlb::start_in(dir, &cfg, driver);
    let ours = http_outcomes(lb.addr("web"), &lb.dir.path().join("r.sock"));
    assert_eq!(&ours[..3], ["200", "200", "200 200"], "{ours:?}");
    if !haproxy_or_skip("http_mode_content_rules_like_haproxy") {
        return;
    }
    let hdir = TempDir::new();
    let hsock = hdir.path().join("h.sock");
    let port = free_port();
    let hcfg = http_rules_cfg(
        &format!("127.0.0.1:{port}"),
        &hsock.display().to_string(),
        &be,
    );
    let _h = Haproxy::start(&hcfg, port);
    let theirs = http_outcomes(SocketAddr::from(([127, 0, 0, 1], port)), &hsock);
    assert_eq!(ours, theirs, "ringlb vs HAProxy 2.6");
});
