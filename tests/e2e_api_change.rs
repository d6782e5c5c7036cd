//! The runtime API's changing commands end to end: `set server B/S addr`, `set maxconn
//! server|frontend|global`, `shutdown sessions server`, `shutdown session`, `clear counters
//! [all]`, `show sess`. Their replies beside HAProxy 2.6's for the same config and state, and
//! their effect on traffic on both drivers.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The three levels' sockets in a directory.
struct Socks {
    admin: PathBuf,
    oper: PathBuf,
    user: PathBuf,
}

impl Socks {
    fn in_dir(dir: &Path, tag: &str) -> Socks {
        Socks {
            admin: dir.join(format!("{tag}-admin.sock")),
            oper: dir.join(format!("{tag}-oper.sock")),
            user: dir.join(format!("{tag}-user.sock")),
        }
    }
}

/// `be`: s1 (checked) and s2; `slow`: one slow server, reached by `/slow`.
fn cfg(s: &Socks, fe: &str, s1: SocketAddr, s2: SocketAddr, slow: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n    stats socket {} level operator\n    \
         stats socket {} level user\n    stats timeout 5s\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind {fe}\n    use_backend slow if {{ path_beg /slow }}\n    default_backend be\n\n\
         backend be\n    server s1 {s1} check inter 200\n    server s2 {s2}\n\n\
         backend slow\n    server w1 {slow}\n",
        s.admin.display(),
        s.oper.display(),
        s.user.display()
    )
}

/// Commands asked in order on a socket of the level named first (`a`, `o`, `u`).
const COMMANDS: &[(&str, &str)] = &[
    ("a", "set server be/s1 addr 127.0.0.2"),
    ("a", "set server be/s1 addr 127.0.0.2"),
    ("a", "set server be/s1 addr 127.0.0.3 port 9000"),
    ("a", "set server be/s1 addr 127.0.0.3 port 9000"),
    ("a", "set server be/s1 addr 127.0.0.3 port 9001"),
    ("a", "set server be/s1 addr"),
    ("a", "set server be/s1 addr bogus"),
    ("a", "set server be/s1 addr 127.0.0.3 port"),
    ("a", "set server be/s1 addr 127.0.0.3 port x"),
    ("a", "set server be/s1 addr 127.0.0.3 port 70000"),
    ("a", "set server be/s1 addr 127.0.0.3 port +5"),
    ("a", "set server be/s1 addr 127.0.0.3 port 123abc"),
    ("a", "set server nobe/s1 addr 1.2.3.4"),
    ("a", "set server be/zz addr 1.2.3.4"),
    ("o", "set server be/s1 addr 1.2.3.4"),
    ("a", "set server be/s1 check-port 9000"),
    ("a", "set server be/s1 check-port"),
    ("a", "set server be/s1 check-port x"),
    ("a", "set server be/s1 check-port 70000"),
    ("a", "set server be/s1 check-port -1"),
    ("a", "set server be/s1 check-port 123abc"),
    ("a", "set server be/s2 check-port 9000"),
    ("a", "set server be/s1 check-addr 127.0.0.5"),
    ("a", "set server be/s1 check-addr 127.0.0.5 port 9100"),
    ("a", "set server be/s1 check-addr 127.0.0.6 port x"),
    ("a", "set server be/s1 check-addr 127.0.0.6 port"),
    ("a", "set server be/s1 check-addr bogus"),
    ("a", "set server be/s1 check-addr"),
    ("a", "set server be/s2 check-addr 127.0.0.5"),
    ("a", "show servers state be"),
    ("a", "set maxconn server be/s2 10"),
    ("a", "set maxconn server be/s2"),
    ("a", "set maxconn server be/s2 x"),
    ("a", "set maxconn server be/s2 10x"),
    ("a", "set maxconn server be/zz 1"),
    ("a", "set maxconn server be"),
    ("a", "set maxconn"),
    ("o", "set maxconn server be/s2 5"),
    ("a", "show stat -1 4 -1"),
    ("a", "set maxconn server be/s2 -1"),
    ("a", "show stat -1 4 -1"),
    ("a", "set maxconn server be/s2 0"),
    ("a", "show stat -1 4 -1"),
    ("a", "set maxconn frontend fe 10"),
    ("a", "set maxconn frontend nofe 10"),
    ("a", "set maxconn frontend be 10"),
    ("a", "set maxconn frontend fe"),
    ("a", "set maxconn frontend"),
    ("a", "set maxconn frontend fe -1"),
    ("a", "set maxconn frontend #2 7"),
    ("o", "set maxconn frontend fe 5"),
    ("a", "show stat -1 1 -1"),
    ("a", "set maxconn global"),
    ("a", "set maxconn global 999999999"),
    ("a", "set maxconn global 0"),
    ("o", "set maxconn global 5"),
    ("a", "shutdown sessions server be/s2"),
    ("a", "shutdown sessions server be/zz"),
    ("a", "shutdown sessions server"),
    ("a", "shutdown sessions"),
    ("o", "shutdown sessions server be/s2"),
    ("a", "shutdown session"),
    ("a", "shutdown session 0x1234"),
    ("u", "clear counters"),
    ("o", "clear counters"),
    ("o", "clear counters all"),
    ("a", "clear counters all"),
    ("a", "clear counters foo"),
    ("u", "show sess"),
    ("o", "show sess"),
    ("u", "show info typed"),
    ("u", "show info typed desc"),
    ("u", "show info json"),
    ("u", "help"),
];

/// What one proxy answered: `show sess` while `/slow` is in flight, then `COMMANDS`.
struct Answers {
    held: String,
    replies: Vec<String>,
}

fn answers(s: &Socks, fe: SocketAddr) -> Answers {
    for _ in 0..3 {
        get_once(fe, "/");
    }
    let mut slow = Client::connect(fe);
    slow.send_request("GET", "/slow", &[], b"");
    std::thread::sleep(Duration::from_millis(400));
    let held = ask(&s.oper, "show sess");
    assert_eq!(slow.read_response().status, 200);
    drop(slow);
    // The checks have run, the slow request's stream is gone.
    std::thread::sleep(Duration::from_millis(300));
    let replies = COMMANDS
        .iter()
        .map(|(lvl, c)| {
            let sock = match *lvl {
                "a" => &s.admin,
                "o" => &s.oper,
                _ => &s.user,
            };
            ask(sock, c)
        })
        .collect();
    Answers { held, replies }
}

/// The same commands on ringlb and on HAProxy, each with its own sockets.
fn both(driver: &str) -> Option<(Answers, Answers)> {
    if !proxies::haproxy_or_skip() {
        return None;
    }
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let w1 = HttpBackend::start_slow("w1", 1200);
    let dir = TempDir::new();
    let ours_s = Socks::in_dir(dir.path(), "r");
    let lb = Ringlb::start(
        &cfg(&ours_s, "127.0.0.1:0", s1.addr, s2.addr, w1.addr),
        driver,
    );
    let ours = answers(&ours_s, lb.addr("fe"));
    drop(lb);
    let theirs_s = Socks::in_dir(dir.path(), "h");
    let theirs = loop {
        let port = proxies::free_port();
        let c = cfg(
            &theirs_s,
            &format!("127.0.0.1:{port}"),
            s1.addr,
            s2.addr,
            w1.addr,
        );
        let Some(h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        let a = answers(&theirs_s, ([127, 0, 0, 1], port).into());
        drop(h);
        break a;
    };
    Some((ours, theirs))
}

/// `show sess` lines as far as ringlb prints them (HAProxy goes on with its internals:
/// epoch, task calls, buffer flags), without what differs by run: the session's number,
/// the client's port, its age.
fn sess_lines(reply: &str) -> Vec<String> {
    let mut out: Vec<String> = reply
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let l = l.split_once(": ").map_or(l, |(_, rest)| rest);
            let l = l.split(" epoch=").next().unwrap_or(l);
            let l = l.split(" age=").next().unwrap_or(l);
            l.split(' ')
                .map(|w| match w.strip_prefix("src=127.0.0.1:") {
                    Some(_) => "src=127.0.0.1:<port>",
                    None => w,
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    out.sort();
    out
}

/// `show info typed|json` without the values: each field's number, name, tags and type
/// (and description with `desc`).
fn info_keys(reply: &str) -> Vec<String> {
    const TYPE: &str = "\"value\":{\"type\":\"";
    if reply.starts_with('[') {
        return reply
            .split("{\"field\":")
            .skip(1)
            .filter_map(|c| {
                let i = c.find(TYPE)? + TYPE.len();
                let j = c[i..].find('"')?;
                Some(c[..i + j].to_string())
            })
            .collect();
    }
    reply
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let w: Vec<&str> = l.splitn(4, ':').collect();
            let desc = l.rsplit_once(":\"").map_or("", |(_, d)| d);
            format!("{} {desc}", w[..w.len().min(3)].join(":"))
        })
        .collect()
}

/// `show servers state` without the moment's values (time since the last change, the check's
/// result and status, which depend on when the last probe ran against the new address).
fn state_lines(reply: &str) -> Vec<String> {
    reply
        .lines()
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if w.len() > 13 && !l.starts_with('#') {
                for i in [5, 9, 10, 11, 12, 13] {
                    w[i] = "<v>";
                }
            }
            w.join(" ")
        })
        .collect()
}

/// `show stat` columns a command changes: per row, name, slim and addr.
fn stat_cols(csv: &str) -> Vec<String> {
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| header.iter().position(|h| *h == n);
    csv.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let get = |n: &str| col(n).and_then(|i| c.get(i)).copied().unwrap_or("?");
            format!(
                "{},{} slim={} addr={}",
                c[0],
                c[1],
                get("slim"),
                get("addr")
            )
        })
        .collect()
}

both_drivers!(replies_as_haproxy, |driver| {
    let Some((ours, theirs)) = both(driver) else {
        return;
    };
    assert_eq!(
        sess_lines(&ours.held),
        sess_lines(&theirs.held),
        "show sess with /slow in flight:\n{}\n{}",
        ours.held,
        theirs.held
    );
    for (i, (lvl, cmd)) in COMMANDS.iter().enumerate() {
        let (o, t) = (&ours.replies[i], &theirs.replies[i]);
        match *cmd {
            "show servers state be" => assert_eq!(state_lines(o), state_lines(t), "{cmd}"),
            c if c.starts_with("show stat") => assert_eq!(stat_cols(o), stat_cols(t), "{cmd}"),
            "show sess" if *lvl == "o" => assert_eq!(sess_lines(o), sess_lines(t), "{cmd}"),
            "help" => {
                // Every command ringlb lists is HAProxy's, word for word, in HAProxy's order.
                let theirs: Vec<&str> = t.lines().collect();
                let at: Vec<Option<usize>> = o
                    .lines()
                    .map(|l| theirs.iter().position(|h| *h == l))
                    .collect();
                assert!(at.iter().all(Option::is_some), "help: {o}\n---\n{t}");
                assert!(at.windows(2).all(|w| w[0] < w[1]), "help order: {o}");
            }
            c if c.starts_with("show info") => {
                let (ko, kt) = (info_keys(o), info_keys(t));
                assert!(!ko.is_empty(), "{cmd}: {o}");
                let missing: Vec<&String> = ko.iter().filter(|k| !kt.contains(k)).collect();
                assert!(missing.is_empty(), "{cmd}: not HAProxy's: {missing:?}");
                assert!(o.ends_with("\n\n") && t.ends_with("\n\n"), "{cmd}");
            }
            _ => assert_eq!(o, t, "reply {i} to '{cmd}' at level {lvl}"),
        }
    }
});

/// The sockets and a running ringlb for the traffic tests.
fn start(config: impl Fn(&Socks) -> String, driver: &str) -> (Ringlb, Socks, TempDir) {
    let dir = TempDir::new();
    let s = Socks::in_dir(dir.path(), "r");
    let lb = Ringlb::start(&config(&s), driver);
    (lb, s, dir)
}

/// The same with `ringlb -d`: one log line per request on its output.
fn start_logging(config: impl Fn(&Socks) -> String, driver: &str) -> (Ringlb, Socks) {
    let dir = TempDir::new();
    let s = Socks::in_dir(dir.path(), "r");
    let cfg = config(&s);
    let path = dir.write("ringlb.cfg", &cfg);
    let lb = Ringlb::start_files_args(dir, &[path], &["-d".to_string()], driver, &cfg);
    (lb, s)
}

both_drivers!(new_addr_takes_new_connections, |driver| {
    let a = HttpBackend::start("a");
    let b = HttpBackend::start("b");
    let w = HttpBackend::start("w");
    let (lb, s, _dir) = start(|s| cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr), driver);
    let fe = lb.addr("fe");
    // A keep-alive client leaves an idle server connection to `a` in its core's pool.
    let mut kept = Client::connect(fe);
    assert_eq!(kept.get("/").server(), "a");
    assert_eq!(kept.get("/").server(), "a");
    let reply = ask(
        &s.admin,
        &format!("set server be/s1 addr 127.0.0.1 port {}", b.addr.port()),
    );
    assert_eq!(
        reply,
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket command'\n\n",
            a.addr.port(),
            b.addr.port()
        )
    );
    ask(
        &s.admin,
        &format!("set server be/s2 addr 127.0.0.1 port {}", b.addr.port()),
    );
    std::thread::sleep(Duration::from_millis(100));
    // New connections land on both cores; all of them go to the new address.
    let served = tally((0..20).map(|_| get_once(fe, "/").server()));
    assert_eq!(served.get("b"), Some(&20), "{served:?}");
    // The pooled connection to the old address is not reused.
    assert_eq!(kept.get("/").server(), "b");
    let state = ask(&s.admin, "show servers state be");
    let line = state
        .lines()
        .find(|l| l.contains(" s1 "))
        .unwrap_or_default();
    let w: Vec<&str> = line.split(' ').collect();
    assert_eq!(
        (w[4], w[18]),
        ("127.0.0.1", &*b.addr.port().to_string()),
        "{state}"
    );
    let stat = stat_cols(&ask(&s.admin, "show stat -1 4 -1"));
    assert!(
        stat.iter()
            .any(|l| l.starts_with("be,s1 ") && l.ends_with(&format!("addr={}", b.addr))),
        "{stat:?}"
    );
});

both_drivers!(shutdown_sessions_closes_long_connections, |driver| {
    let echo = TcpEchoBackend::start();
    let w = HttpBackend::start_slow("w", 3000);
    let (lb, s) = start_logging(
        |s| {
            cfg(s, "127.0.0.1:0", echo.addr, echo.addr, w.addr)
                + "\nfrontend tcpfe\n    mode tcp\n    bind 127.0.0.1:0\n    default_backend tcpbe\n\n\
                   backend tcpbe\n    mode tcp\n    server e1 "
                + &echo.addr.to_string()
                + "\n"
        },
        driver,
    );
    // A mode tcp connection, alive (it echoes).
    let mut t = TcpStream::connect(lb.addr("tcpfe")).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    t.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    t.read_exact(&mut buf).unwrap();
    // An HTTP request waiting on its slow server.
    let mut h = Client::connect(lb.addr("fe"));
    h.set_read_timeout(Duration::from_secs(3));
    h.send_request("GET", "/slow", &[], b"");
    std::thread::sleep(Duration::from_millis(300));
    let listed = ask(&s.oper, "show sess");
    assert!(listed.contains("fe=tcpfe be=tcpbe srv=e1"), "{listed}");
    assert!(listed.contains("fe=fe be=slow srv=w1"), "{listed}");
    assert_eq!(ask(&s.admin, "shutdown sessions server tcpbe/e1"), "\n");
    let started = Instant::now();
    let mut rest = Vec::new();
    let end = t.read_to_end(&mut rest);
    assert!(
        end.is_ok() || started.elapsed() < Duration::from_secs(2),
        "tcp session not closed: {end:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(ask(&s.admin, "shutdown sessions server slow/w1"), "\n");
    let started = Instant::now();
    assert!(
        h.try_read_response(false).is_err(),
        "the request was answered"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not closed at once"
    );
    std::thread::sleep(Duration::from_millis(100));
    let after = ask(&s.oper, "show sess");
    assert_eq!(
        after.lines().filter(|l| !l.is_empty()).count(),
        1,
        "{after}"
    );
    // Both are logged as killed by an admin: the relay in its data phase, the request
    // while it waited for the response's headers.
    assert!(
        lb.wait_for_output(" KD ", Duration::from_secs(2)),
        "{}",
        lb.output()
    );
    assert!(
        lb.wait_for_output(" KH-- ", Duration::from_secs(2)),
        "{}",
        lb.output()
    );
});

/// A column of `show stat`'s rows (`pxname,svname` -> value).
fn column(csv: &str, name: &str) -> Vec<(String, String)> {
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    csv.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (format!("{},{}", c[0], c[1]), c[i].to_string())
        })
        .collect()
}

both_drivers!(clear_counters_on_every_core, |driver| {
    let a = HttpBackend::start("a");
    let w = HttpBackend::start("w");
    let (lb, s, _dir) = start(|s| cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr), driver);
    let fe = lb.addr("fe");
    for _ in 0..20 {
        get_once(fe, "/");
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = ask(&s.admin, "show stat");
    let stot = |csv: &str| -> u64 {
        column(csv, "stot")
            .iter()
            .filter_map(|(_, v)| v.parse::<u64>().ok())
            .sum()
    };
    assert!(stot(&before) >= 40, "{before}");
    // Maxima only: the totals stay.
    assert_eq!(ask(&s.oper, "clear counters"), "\n");
    let maxed = ask(&s.admin, "show stat");
    assert_eq!(stot(&maxed), stot(&before));
    for (row, v) in column(&maxed, "smax") {
        assert!(v.is_empty() || v == "0", "{row} smax {v}");
    }
    assert_eq!(ask(&s.admin, "clear counters all"), "\n");
    let cleared = ask(&s.admin, "show stat");
    assert_eq!(stot(&cleared), 0, "{cleared}");
    for (row, v) in column(&cleared, "hrsp_2xx") {
        assert!(v.is_empty() || v == "0", "{row} hrsp_2xx {v}");
    }
    get_once(fe, "/");
    std::thread::sleep(Duration::from_millis(50));
    let again = ask(&s.admin, "show stat");
    assert!(column(&again, "stot").contains(&("be,BACKEND".into(), "1".into())));
});

both_drivers!(maxconn_changes_hold_across_cores, |driver| {
    let a = HttpBackend::start("a");
    let w = HttpBackend::start_slow("w", 300);
    let (lb, s, _dir) = start(|s| cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr), driver);
    let fe = lb.addr("fe");
    assert_eq!(ask(&s.admin, "set maxconn server slow/w1 1"), "\n");
    std::thread::sleep(Duration::from_millis(50));
    // Three requests at once, on new connections (both cores): one at a time at the server
    // (the last one queues 600 ms, within the queue's 1 s).
    let started = Instant::now();
    let hs: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || get_once(fe, "/slow").status))
        .collect();
    for h in hs {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(w.counts().max_in_flight, 1, "{:?}", w.counts());
    // A frontend at 0 accepts nothing, until raised again.
    assert_eq!(ask(&s.admin, "set maxconn frontend fe 0"), "\n");
    std::thread::sleep(Duration::from_millis(50));
    let mut c = Client::connect(fe);
    c.set_read_timeout(Duration::from_millis(500));
    c.send_request("GET", "/", &[], b"");
    assert!(c.try_read_response(false).is_err(), "served at maxconn 0");
    assert_eq!(ask(&s.admin, "set maxconn frontend fe 100"), "\n");
    c.set_read_timeout(Duration::from_secs(3));
    assert_eq!(c.read_response().status, 200);
    let stat = column(&ask(&s.admin, "show stat"), "slim");
    assert!(
        stat.contains(&("fe,FRONTEND".into(), "100".into())),
        "{stat:?}"
    );
    assert!(stat.contains(&("slow,w1".into(), "1".into())), "{stat:?}");
});

both_drivers!(shutdown_sessions_resets_h2_streams, |driver| {
    if !tool_or_skip("curl") {
        return;
    }
    let a = HttpBackend::start("a");
    let w = HttpBackend::start_slow("w", 4000);
    let (lb, s, _dir) = start(
        |s| {
            cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr)
                .replace("bind 127.0.0.1:0", "bind 127.0.0.1:0 proto h2")
        },
        driver,
    );
    let url = format!("http://{}/slow", lb.addr("fe"));
    let curl = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--http2-prior-knowledge",
            "-m",
            "8",
        ])
        .arg(&url)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !ask(&s.oper, "show sess").contains("be=slow srv=w1") {
        assert!(Instant::now() < deadline, "the h2 stream is not listed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    assert_eq!(ask(&s.admin, "shutdown sessions server slow/w1"), "\n");
    let out = curl.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the stream went on"
    );
    // curl's "HTTP/2 stream error" (92): the stream was reset, not answered.
    assert_eq!(out.status.code(), Some(92), "{out:?}");
});

/// `show stat`'s status of a server.
fn status(s: &Socks, row: &str) -> String {
    column(&ask(&s.admin, "show stat -1 4 -1"), "status")
        .into_iter()
        .find(|(r, _)| r == row)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

both_drivers!(check_port_moves_the_probes, |driver| {
    let a = HttpBackend::start("a");
    let w = HttpBackend::start("w");
    let (lb, s, _dir) = start(|s| cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr), driver);
    let _ = lb.addr("fe");
    let refused = refused_addr();
    let cmd = format!("set server be/s1 check-port {}", refused.port());
    assert_eq!(ask(&s.admin, &cmd), "\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !status(&s, "be,s1").starts_with("DOWN") {
        assert!(
            Instant::now() < deadline,
            "probes did not move: {}",
            status(&s, "be,s1")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Port 0: the server's own port again.
    assert_eq!(ask(&s.admin, "set server be/s1 check-port 0"), "\n");
    while !status(&s, "be,s1").starts_with("UP") {
        assert!(Instant::now() < deadline, "probes did not come back");
        std::thread::sleep(Duration::from_millis(50));
    }
});

both_drivers!(shutdown_session_by_id, |driver| {
    let a = HttpBackend::start("a");
    let w = HttpBackend::start_slow("w", 3000);
    let (lb, s, _dir) = start(|s| cfg(s, "127.0.0.1:0", a.addr, a.addr, w.addr), driver);
    let mut h = Client::connect(lb.addr("fe"));
    h.set_read_timeout(Duration::from_secs(3));
    h.send_request("GET", "/slow", &[], b"");
    std::thread::sleep(Duration::from_millis(300));
    let listed = ask(&s.oper, "show sess");
    let id = listed
        .lines()
        .find(|l| l.contains("be=slow srv=w1"))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("not listed: {listed}"))
        .to_string();
    assert_eq!(
        ask(&s.oper, &format!("shutdown session {id}")),
        "Permission denied\n\n"
    );
    assert_eq!(ask(&s.admin, &format!("shutdown session {id}")), "\n");
    let started = Instant::now();
    assert!(
        h.try_read_response(false).is_err(),
        "the request was answered"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "not closed at once"
    );
    assert_eq!(
        ask(&s.admin, &format!("shutdown session {id}")),
        "No such session (use 'show sess').\n\n"
    );
});
