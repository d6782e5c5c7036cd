//! Logs compared with HAProxy 2.6's: the same config (ports and log receivers aside) runs
//! through both, the same requests go to both, and a UDP syslog receiver in the test gets each
//! one's lines. They must agree field by field, once what differs between two runs is left
//! out (client ports, dates, timer values, pids; see harness::normalise). Run on both drivers.
//!
//! Byte counts (`%B`, `%U`) are not compared with HAProxy's: ringlb counts the bytes it really
//! sent and received, HAProxy 2.6 its internal (HTX) form of the messages, a few bytes less,
//! and the two proxies' responses differ anyway (`connection: close`, error pages). The tests
//! check instead that ringlb's `%B` is what the client received. Connection counts are not
//! compared either: HAProxy still counts the test's readiness probe.

mod common;
#[path = "logs/harness.rs"]
mod harness;

use common::*;
use harness::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// Index of the bytes field in an httplog line.
const HTTPLOG_BYTES: usize = 6;

fn http_config(bind: &str, log: &str, backend: SocketAddr, frontend_extra: &str) -> String {
    format!(
        "global\n    nbthread 2\n    log {log}\n\n\
         defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind {bind}\n{frontend_extra}\
         \n    http-request deny if {{ path /deny }}\n    use_backend nosrv if {{ path /nosrv }}\n    \
         default_backend be\n\n\
         backend be\n    server s1 {backend}\n\nbackend nosrv\n"
    )
}

/// What `both` returns: each proxy's messages keyed by their request line (cores may send in
/// any order), and the size of each response ringlb sent, by path.
type Runs = (
    BTreeMap<String, String>,
    BTreeMap<String, String>,
    BTreeMap<String, usize>,
);

/// Runs `paths` through HAProxy and ringlb with `config(bind, log target)`.
fn both(
    driver: &str,
    config: &dyn Fn(&str, &str) -> String,
    log_suffix: &str,
    paths: &[&str],
) -> Runs {
    let mut sizes = BTreeMap::new();
    let mut run = |ringlb: bool| {
        let syslog = Syslog::start();
        let target = format!("{} {log_suffix}", syslog.addr);
        let lines = if ringlb {
            let r = Ringlb::start(&config("127.0.0.1:0", &target), driver);
            for p in paths {
                sizes.insert(p.to_string(), get(r.addr("fe"), p).len());
            }
            syslog.collect(paths.len(), "HTTP/1.1", WAIT)
        } else {
            let dir = TempDir::new();
            let port = free_port();
            let h = Haproxy::start(&dir, &config(&format!("127.0.0.1:{port}"), &target), port);
            for p in paths {
                get(([127, 0, 0, 1], port).into(), p);
            }
            let got = syslog.collect(paths.len(), "HTTP/1.1", WAIT);
            drop(h);
            got
        };
        lines
            .into_iter()
            .map(|l| {
                let key = fields(message(&l)).last().cloned().unwrap_or_default();
                (key, l)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let theirs = run(false);
    let ours = run(true);
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ringlb logged {ours:#?}\nHAProxy logged {theirs:#?}"
    );
    (ours, theirs, sizes)
}

both_drivers!(httplog_lines_match_haproxy_field_by_field, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let captures = "    capture request header Host len 20\n    capture request header User-Agent len 7\n    capture response header Content-Type len 30\n    http-request capture req.hdr(user-agent),upper len 6\n";
    let config = |bind: &str, log: &str| http_config(bind, log, be.addr, captures);
    let paths = ["/", "/status/404", "/deny", "/nosrv"];
    let (ours, theirs, sizes) = both(driver, &config, "format raw local0", &paths);
    for (key, theirs) in &theirs {
        let ours = ours.get(key).map(String::as_str).unwrap_or("(none)");
        assert_same_fields(message(ours), message(theirs), &[HTTPLOG_BYTES]);
    }
    for p in paths {
        let key = format!("\"GET {p} HTTP/1.1\"");
        let line = ours
            .get(&key)
            .map(|l| fields(message(l)))
            .unwrap_or_default();
        let logged = line.get(HTTPLOG_BYTES).cloned().unwrap_or_default();
        assert_eq!(logged, sizes[p].to_string(), "%B of {p} is what was sent");
    }
});

both_drivers!(custom_log_format_matches_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let lf = "    log-format \"%{+Q}o %ci %f %b %s %{-Q}ST %ts %tsc %hr %HM %HP %HQ %HV %{+E}HU %B %U %ac %fc %sq %bq %si %{+X}sp %CC %ID %r\"\n    capture request header User-Agent len 7\n";
    let config = |bind: &str, log: &str| http_config(bind, log, be.addr, lf);
    let paths = ["/a?b=1", "/deny", "/status/500"];
    let (ours, theirs, _) = both(driver, &config, "format raw local0", &paths);
    for (key, theirs) in &theirs {
        let ours = ours.get(key).map(String::as_str).unwrap_or("(none)");
        // %B, %U, %ac, %fc: see the top of this file.
        assert_same_fields(message(ours), message(theirs), &[13, 14, 15, 16]);
    }
});

both_drivers!(unique_id_is_logged_as_haproxy_logs_it, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    // Values that are the same in both runs: the client's address in hexadecimal, the name.
    let lf = "    unique-id-format %{+X}o\\ %ci_%f\n    log-format \"%ID %ST %{+Q}r\"\n";
    let config = |bind: &str, log: &str| http_config(bind, log, be.addr, lf);
    // A denied request is logged with its ID too (HAProxy computes it for the log).
    let paths = ["/a", "/deny"];
    let (ours, theirs, _) = both(driver, &config, "format raw local0", &paths);
    for (key, theirs) in &theirs {
        let ours = ours.get(key).map(String::as_str).unwrap_or("(none)");
        assert_same_fields(message(ours), message(theirs), &[]);
        assert!(
            message(ours).trim_start().starts_with("7F000001_fe "),
            "{ours}"
        );
    }
});

both_drivers!(logasap_lines_match_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let config = |bind: &str, log: &str| http_config(bind, log, be.addr, "    option logasap\n");
    let paths = ["/", "/status/404", "/deny"];
    let (ours, theirs, _) = both(driver, &config, "format raw local0", &paths);
    for (key, theirs) in &theirs {
        let ours = ours.get(key).map(String::as_str).unwrap_or("(none)");
        assert_same_fields(message(ours), message(theirs), &[HTTPLOG_BYTES]);
    }
    // Logged when the head went out: `+` before Ta and the bytes; an answer of ringlb's own
    // (the deny) is logged at its end, without them, as HAProxy does.
    let line = |p: &str| fields(message(&ours[&format!("\"GET {p} HTTP/1.1\"")]));
    let served = line("/");
    assert!(
        served[4].contains("/+") && served[HTTPLOG_BYTES].starts_with('+'),
        "{served:?}"
    );
    let denied = line("/deny");
    assert!(
        !denied[4].contains('+') && !denied[HTTPLOG_BYTES].starts_with('+'),
        "{denied:?}"
    );
});

both_drivers!(
    separate_errors_levels_and_dontlognull_match_haproxy,
    |driver| {
        if !haproxy_present() {
            return;
        }
        let be = HttpBackend::start("s1");
        let opts = "    option dontlognull\n    option log-separate-errors\n";
        let config = |bind: &str, log: &str| http_config(bind, log, be.addr, opts);
        let paths = ["/", "/status/404", "/status/503", "/deny", "/nosrv"];
        let (ours, theirs, _) = both(driver, &config, "local0", &paths);
        for (key, theirs) in &theirs {
            let ours = ours.get(key).map(String::as_str).unwrap_or("(none)");
            let pri = |l: &str| l.split('>').next().unwrap_or("").to_string();
            assert_eq!(pri(ours), pri(theirs), "level of {key}: {ours} vs {theirs}");
        }
        // The errors are at err (local0 = 16: <131>), the rest at info (<134>).
        assert_eq!(
            ours.get("\"GET / HTTP/1.1\"").map(|l| &l[..5]),
            Some("<134>")
        );
        assert_eq!(
            ours.get("\"GET /nosrv HTTP/1.1\"").map(|l| &l[..5]),
            Some("<131>")
        );
    }
);

both_drivers!(dontlognull_skips_empty_connections, |driver| {
    let be = HttpBackend::start("s1");
    let syslog = Syslog::start();
    let target = format!("{} local0", syslog.addr);
    let r = Ringlb::start(
        &http_config("127.0.0.1:0", &target, be.addr, "    option dontlognull\n"),
        driver,
    );
    empty_connection(r.addr("fe"));
    get(r.addr("fe"), "/");
    let got = syslog.collect(2, "", Duration::from_secs(2));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].contains("\"GET / HTTP/1.1\""), "{got:#?}");
});

// `halog -st` and the count columns of `halog -srv` agree on ringlb's and HAProxy's lines
// (one thread: ringlb's round robin is per core).
both_drivers!(halog_summaries_match_haproxy, |driver| {
    if !haproxy_present() || !std::path::Path::new("/usr/sbin/halog").exists() {
        return;
    }
    let (b1, b2) = (HttpBackend::start("s1"), HttpBackend::start("s2"));
    let config = |bind: &str, log: &str| {
        format!(
            "global\n    nbthread 1\n    log {log}\n    log-send-hostname testhost\n\n\
             defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    \
             timeout client 5s\n    timeout server 5s\n\n\
             frontend fe\n    bind {bind}\n    use_backend nosrv if {{ path /nosrv }}\n    default_backend be\n\n\
             backend be\n    server s1 {}\n    server s2 {}\n\nbackend nosrv\n",
            b1.addr, b2.addr
        )
    };
    let mut paths = vec!["/"; 8];
    paths.extend(["/status/404", "/status/404", "/status/500", "/nosrv"]);
    let run = |ringlb: bool| -> Vec<String> {
        let syslog = Syslog::start();
        let target = format!("{} local0", syslog.addr);
        let _h;
        let _r;
        let addr: SocketAddr = if ringlb {
            _r = Ringlb::start(&config("127.0.0.1:0", &target), driver);
            _r.addr("fe")
        } else {
            let dir = TempDir::new();
            let port = free_port();
            _h = (
                Haproxy::start(&dir, &config(&format!("127.0.0.1:{port}"), &target), port),
                dir,
            );
            ([127, 0, 0, 1], port).into()
        };
        for p in &paths {
            get(addr, p);
        }
        syslog.collect(paths.len(), "HTTP/1.1", WAIT)
    };
    let summaries = |lines: Vec<String>| {
        let dir = TempDir::new();
        // A syslog file: the datagrams without their <PRI>.
        let text: String = lines
            .iter()
            .map(|l| l.split_once('>').map_or(l.as_str(), |(_, r)| r))
            .collect();
        let file = dir.write("haproxy.log", text);
        let halog = |flag: &str| {
            let out = std::process::Command::new("/usr/sbin/halog")
                .arg(flag)
                .stdin(std::fs::File::open(&file).expect("log file"))
                .output()
                .expect("run halog");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // -srv: name and the counts (1xx..5xx, other, total, ok); the times differ per run.
        let srv: Vec<String> = halog("-srv")
            .lines()
            .map(|l| l.split_whitespace().take(9).collect::<Vec<_>>().join(" "))
            .collect();
        let mut srv = srv;
        srv.sort();
        (halog("-st"), srv)
    };
    let theirs = summaries(run(false));
    let ours = summaries(run(true));
    assert!(
        theirs.0.contains("200"),
        "halog -st on HAProxy's lines: {}",
        theirs.0
    );
    assert_eq!(ours, theirs);
});

both_drivers!(tcplog_lines_match_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let echo = TcpEchoBackend::start();
    let config = |bind: &str, log: &str| {
        format!(
            "global\n    log {log}\n\n\
             defaults\n    mode tcp\n    log global\n    option tcplog\n    timeout connect 1s\n    \
             timeout client 5s\n    timeout server 5s\n\n\
             frontend fe\n    bind {bind}\n    default_backend be\n\n\
             backend be\n    server t1 {}\n",
            echo.addr
        )
    };
    let talk = |addr: SocketAddr| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        let _ = s.set_read_timeout(Some(WAIT));
        s.write_all(b"ping").expect("send");
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).expect("echo");
    };
    let syslog = Syslog::start();
    let target = format!("{} format raw local0", syslog.addr);
    // The line of the connection that talked (HAProxy also logs the harness's readiness probe,
    // which sent nothing).
    let talked = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .filter(|l| fields(message(l)).get(5).is_some_and(|b| b != "0"))
            .take(1)
            .collect()
    };
    let theirs = {
        let dir = TempDir::new();
        let port = free_port();
        let _h = Haproxy::start(&dir, &config(&format!("127.0.0.1:{port}"), &target), port);
        talk(([127, 0, 0, 1], port).into());
        talked(syslog.collect(2, " fe ", Duration::from_secs(2)))
    };
    let ours = {
        let r = Ringlb::start(&config("127.0.0.1:0", &target), driver);
        talk(r.addr("fe"));
        syslog.collect(1, " fe ", WAIT)
    };
    assert_eq!((ours.len(), theirs.len()), (1, 1), "{ours:?} {theirs:?}");
    // %B (5): see the top of this file; the echo's timing decides it.
    assert_same_fields(message(&ours[0]), message(&theirs[0]), &[5]);
});

// The framings, header by header (digits aside: dates, pids), and the same message after.
both_drivers!(syslog_framings_match_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let formats = [
        "local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw",
    ];
    let receivers: Vec<Syslog> = formats.iter().map(|_| Syslog::start()).collect();
    let config = |bind: &str| {
        let logs: String = formats
            .iter()
            .zip(&receivers)
            .map(|(f, r)| format!("    log {} len 120 format {f} local3\n", r.addr))
            .collect();
        format!(
            "global\n{logs}    log-tag haproxy\n    log-send-hostname testhost\n\n\
             defaults\n    mode http\n    log global\n    option httplog\n    timeout connect 1s\n    \
             timeout client 5s\n    timeout server 5s\n\n\
             frontend fe\n    bind {bind}\n    default_backend be\n\nbackend be\n    server s1 {}\n",
            be.addr
        )
    };
    let collect = || -> Vec<String> {
        receivers
            .iter()
            .map(|r| r.collect(1, "", WAIT).pop().unwrap_or_default())
            .collect()
    };
    let theirs = {
        let dir = TempDir::new();
        let port = free_port();
        let _h = Haproxy::start(&dir, &config(&format!("127.0.0.1:{port}")), port);
        get(([127, 0, 0, 1], port).into(), "/");
        collect()
    };
    let ours = {
        let r = Ringlb::start(&config("127.0.0.1:0"), driver);
        get(r.addr("fe"), "/");
        collect()
    };
    let digits = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect()
    };
    for ((f, o), t) in formats.iter().zip(&ours).zip(&theirs) {
        let header = |l: &str| digits(&l[..l.len() - message(l).len() - 1]);
        assert_eq!(header(o), header(t), "{f}: ringlb {o:?} haproxy {t:?}");
        assert_eq!(o.len(), t.len().min(o.len()), "{f}: {o:?} {t:?}");
        assert!(
            o.ends_with('\n') && o.len() <= 121,
            "{f}: len 120 cuts: {o:?}"
        );
    }
});

both_drivers!(health_transitions_reach_syslog_like_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let dead = refused_addr();
    let config = |bind: &str, log: &str| {
        format!(
            "global\n    log {log}\n\n\
             defaults\n    mode http\n    log global\n    timeout connect 1s\n    \
             timeout client 5s\n    timeout server 5s\n    timeout check 1s\n\n\
             frontend fe\n    bind {bind}\n    default_backend be\n\n\
             backend be\n    server s1 {dead} check inter 200 fall 1\n"
        )
    };
    let grab = |syslog: &Syslog| {
        let mut got = syslog.collect(2, "", WAIT);
        got.sort();
        got.into_iter()
            .map(|l| {
                let pri = l.split('>').next().unwrap_or("").to_string();
                let msg = message(&l);
                // The check's duration differs between runs.
                let msg = msg.split(", check duration").next().unwrap_or(msg);
                format!("{pri}> {msg}")
            })
            .collect::<Vec<_>>()
    };
    let theirs = {
        let syslog = Syslog::start();
        let dir = TempDir::new();
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let _h = Haproxy::start(
            &dir,
            &config(&bind, &format!("{} local0", syslog.addr)),
            port,
        );
        grab(&syslog)
    };
    let ours = {
        let syslog = Syslog::start();
        let _r = Ringlb::start(
            &config("127.0.0.1:0", &format!("{} local0", syslog.addr)),
            driver,
        );
        grab(&syslog)
    };
    assert_eq!(ours, theirs);
    assert!(ours
        .iter()
        .any(|l| l.starts_with("<129>") && l.contains("Server be/s1 is DOWN")));
    assert!(ours
        .iter()
        .any(|l| l.starts_with("<128>") && l.contains("no server available")));
});

both_drivers!(unix_datagram_target_gets_lines, |driver| {
    use std::os::unix::net::UnixDatagram;
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&path).expect("bind unix socket");
    let _ = sock.set_read_timeout(Some(WAIT));
    let cfg = http_config(
        "127.0.0.1:0",
        &format!("{} local0", path.display()),
        be.addr,
        "",
    );
    let r = Ringlb::start(&cfg, driver);
    get(r.addr("fe"), "/");
    let mut buf = vec![0u8; 4096];
    let n = sock.recv(&mut buf).expect("a log line on the unix socket");
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(line.starts_with("<134>"), "{line}");
    assert!(line.contains(" ringlb["), "the default tag: {line}");
    assert!(line.ends_with(" \"GET / HTTP/1.1\"\n"), "{line}");
});

// A target nobody reads: requests are still answered at once, lines are dropped (the socket
// holds a few), and the core never waits.
both_drivers!(a_stuck_log_target_never_slows_requests, |driver| {
    use std::os::unix::net::UnixDatagram;
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let path = dir.path().join("stuck.sock");
    let sock = UnixDatagram::bind(&path).expect("bind unix socket");
    let cfg = http_config(
        "127.0.0.1:0",
        &format!("{} local0", path.display()),
        be.addr,
        "",
    );
    let r = Ringlb::start(&cfg, driver);
    const N: usize = 300;
    let started = std::time::Instant::now();
    for _ in 0..N {
        let t = std::time::Instant::now();
        let resp = get(r.addr("fe"), "/");
        assert!(resp.starts_with(b"HTTP/1.1 200"), "{}", lossy(&resp));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a request waited on the log target"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    sock.set_nonblocking(true).expect("nonblocking");
    let mut buf = vec![0u8; 4096];
    let mut kept = 0;
    while sock.recv(&mut buf).is_ok() {
        kept += 1;
    }
    assert!(
        kept > 0 && kept < N,
        "kept {kept} of {N}: the rest were dropped"
    );
});

// After a soft stop (SIGUSR1) every proxy says it stopped, at warning, to its own targets.
both_drivers!(soft_stop_messages_match_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let config = |bind: &str, log: &str| http_config(bind, log, be.addr, "    log-tag fetag\n");
    let grab = |syslog: &Syslog| {
        let mut got: Vec<String> = syslog
            .collect(4, "stopped", WAIT)
            .iter()
            .filter(|l| !l.contains("<HTTPCLIENT>"))
            .map(|l| {
                let pri = l.split('>').next().unwrap_or("");
                // Whitespace, not ' ': RFC 3164 pads a one-digit day ("Dec  4"), which
                // made the fourth field the time on days 1 to 9. The two processes' pids
                // differ: the tag's name is compared.
                let tag = l.split_whitespace().nth(3).unwrap_or("");
                let tag = format!("{}[PID]:", tag.split('[').next().unwrap_or(""));
                // FE counts differ by the harness's readiness probe on HAProxy.
                let msg: String = message(l)
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '9' } else { c })
                    .collect();
                format!("{pri}> {tag} {msg}")
            })
            .collect();
        got.sort();
        got
    };
    let theirs = {
        let syslog = Syslog::start();
        let dir = TempDir::new();
        let port = free_port();
        let cfg = config(
            &format!("127.0.0.1:{port}"),
            &format!("{} local0", syslog.addr),
        );
        let h = Haproxy::start(&dir, &cfg, port);
        get(([127, 0, 0, 1], port).into(), "/");
        h.soft_stop();
        grab(&syslog)
    };
    let ours = {
        let syslog = Syslog::start();
        let cfg = config("127.0.0.1:0", &format!("{} local0", syslog.addr));
        let mut r = Ringlb::start(&cfg, driver);
        get(r.addr("fe"), "/");
        get(r.addr("fe"), "/");
        r.signal(10); // SIGUSR1
        let _ = r.wait_exit(WAIT);
        let got = grab(&syslog);
        assert!(
            got.iter().any(|l| l.contains("Proxy be stopped")),
            "{got:#?}"
        );
        got
    };
    assert_eq!(ours.len(), 3, "{ours:#?}");
    let tags = |v: &[String]| {
        v.iter()
            .map(|l| l.replace("ringlb[", "haproxy["))
            .collect::<Vec<_>>()
    };
    assert_eq!(tags(&ours), tags(&theirs));
});

// Without `option httplog`/`tcplog`/`log-format`, HAProxy's default line at accept.
both_drivers!(default_format_is_haproxys_connect_line, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let config = |bind: &str, log: &str| {
        http_config(bind, log, be.addr, "").replace("    option httplog\n", "")
    };
    let grab = |syslog: &Syslog| -> Vec<String> {
        syslog
            .collect(3, "Connect from", Duration::from_secs(2))
            .iter()
            .map(|l| {
                fields(message(l))
                    .iter()
                    .map(|f| normalise(f))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let theirs = {
        let syslog = Syslog::start();
        let dir = TempDir::new();
        let port = free_port();
        let cfg = config(
            &format!("127.0.0.1:{port}"),
            &format!("{} local0", syslog.addr),
        );
        let _h = Haproxy::start(&dir, &cfg, port);
        get(([127, 0, 0, 1], port).into(), "/");
        grab(&syslog)
    };
    let ours = {
        let syslog = Syslog::start();
        let r = Ringlb::start(
            &config("127.0.0.1:0", &format!("{} local0", syslog.addr)),
            driver,
        );
        get(r.addr("fe"), "/");
        grab(&syslog)
    };
    // HAProxy's list also has the harness's readiness probe.
    assert_eq!(ours.len(), 1, "{ours:#?}");
    assert!(
        theirs.contains(&ours[0]),
        "ringlb {ours:#?}\nHAProxy {theirs:#?}"
    );
    assert_eq!(
        ours[0],
        "Connect from 127.0.0.1:PORT to 127.0.0.1:PORT (fe/HTTP)"
    );
});

// A failed TLS handshake logs HAProxy's connection error line; dontlognull leaves out the
// client that sent nothing, log-separate-errors raises the level.
both_drivers!(tls_handshake_failures_match_haproxy, |driver| {
    if !haproxy_present() {
        return;
    }
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let ca = Ca::new("logs-ca");
    let crt = ca
        .server("logs.test", &["logs.test"], Alg::Ecdsa)
        .write_combined(&dir, "site");
    let config = |bind: &str, log: &str| {
        let tls_bind = format!("{bind} ssl crt {crt}");
        http_config(
            &tls_bind,
            log,
            be.addr,
            "    option dontlognull\n    option log-separate-errors\n",
        )
    };
    let poke = |addr: SocketAddr| {
        use std::io::{Read, Write};
        // Not TLS: a handshake failure.
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        let _ = s.set_read_timeout(Some(WAIT));
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let _ = s.read(&mut [0u8; 64]);
        // Nothing at all: left out under dontlognull.
        empty_connection(addr);
    };
    let grab = |syslog: &Syslog| -> Vec<String> {
        syslog
            .collect(2, "SSL handshake", Duration::from_secs(2))
            .iter()
            .map(|l| {
                let pri = l.split('>').next().unwrap_or("");
                let f: Vec<String> = fields(message(l)).iter().map(|f| normalise(f)).collect();
                format!("{pri}> {}", f.join(" "))
            })
            .collect()
    };
    let theirs = {
        let syslog = Syslog::start();
        let port = free_port();
        let cfg = config(
            &format!("127.0.0.1:{port}"),
            &format!("{} local0", syslog.addr),
        );
        let _h = Haproxy::start(&dir, &cfg, port);
        poke(([127, 0, 0, 1], port).into());
        grab(&syslog)
    };
    let ours = {
        let syslog = Syslog::start();
        let r = Ringlb::start(
            &config("127.0.0.1:0", &format!("{} local0", syslog.addr)),
            driver,
        );
        poke(r.addr("fe"));
        grab(&syslog)
    };
    assert_eq!(
        ours,
        vec!["<131> 127.0.0.1:PORT [DATE] fe/1: SSL handshake failure".to_string()]
    );
    assert_eq!(ours, theirs);
});
