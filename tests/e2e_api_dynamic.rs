//! The runtime API's `add server` and `del server` end to end: their replies beside
//! HAProxy 2.6's for the same config and commands, and on both drivers their effect on
//! traffic (every core balances to an added server once enabled, none after a delete), on
//! the reports (`show stat`, `show servers state`, the stats page's CSV, Prometheus) and on
//! health checks (`enable health` starts an added server's).

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Socks {
    admin: PathBuf,
    oper: PathBuf,
}

impl Socks {
    fn in_dir(dir: &Path, tag: &str) -> Socks {
        Socks {
            admin: dir.join(format!("{tag}-admin.sock")),
            oper: dir.join(format!("{tag}-oper.sock")),
        }
    }
}

/// `be`: s1, round-robin; `st`: static-rr (no dynamic servers); `slow`: one slow server.
fn cfg(s: &Socks, fe: &str, s1: SocketAddr, slow: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n    stats socket {} level operator\n    \
         stats timeout 5s\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind {fe}\n    use_backend slow if {{ path_beg /slow }}\n    default_backend be\n\n\
         backend be\n    server s1 {s1}\n\n\
         backend st\n    balance static-rr\n    server t1 {s1}\n\n\
         backend slow\n    server w1 {slow}\n",
        s.admin.display(),
        s.oper.display(),
    )
}

/// The commands asked in order (`a`: admin socket, `o`: operator), `{n}` standing for the
/// address of a second server, `{w}` for a second slow one.
const COMMANDS: &[(&str, &str)] = &[
    ("a", "add server be/n1 {n}"),
    ("a", "add server be/n1 {n}"),
    ("a", "add server be/s1 {n}"),
    ("a", "add server nobe/n1 {n}"),
    ("a", "add server st/n1 {n}"),
    ("a", "add server be/n2"),
    ("a", "add server be/n2 {n} cookie x"),
    ("a", "add server be/n2 {n} redir http://x"),
    ("a", "add server be/n2 {n} init-addr none"),
    ("a", "add server be/n2 {n} bogus"),
    ("a", "add server be"),
    ("a", "add server"),
    ("o", "add server be/n3 {n}"),
    ("a", "show stat -1 4 -1"),
    ("a", "show servers state be"),
    ("a", "del server be/n1"),
    ("a", "del server be/n1"),
    ("a", "del server be"),
    ("a", "del server"),
    ("a", "del server nobe/x"),
    ("o", "del server be/s1"),
    ("a", "add server be/n4 {n} weight 3 maxconn 7"),
    ("a", "enable server be/n4"),
    ("a", "del server be/n4"),
    ("a", "disable server be/n4"),
    ("a", "del server be/n4"),
    ("a", "add server be/c1 {n} check inter 200"),
    ("a", "enable health be/c1"),
    ("a", "add server be/c2 {n}"),
    ("a", "enable health be/c2"),
    ("a", "disable server be/s1"),
    ("a", "del server be/s1"),
    ("a", "show stat -1 4 -1"),
    ("a", "show servers state be"),
    ("a", "add server slow/d1 {w}"),
    ("a", "enable server slow/d1"),
    ("a", "disable server slow/w1"),
    // `/slow` in flight on d1 from here (see `answers`).
    ("a", "disable server slow/d1"),
    ("a", "del server slow/d1"),
    ("a", "help"),
];

/// Where `answers` sends `/slow` and waits, before the command at this index.
const IN_FLIGHT_AT: usize = 37;

fn answers(s: &Socks, fe: SocketAddr, n: SocketAddr, w: SocketAddr) -> Vec<String> {
    let mut out = Vec::new();
    let mut slow = None;
    for (i, (lvl, c)) in COMMANDS.iter().enumerate() {
        if i == IN_FLIGHT_AT {
            std::thread::sleep(Duration::from_millis(100));
            let mut c = Client::connect(fe);
            c.send_request("GET", "/slow", &[], b"");
            std::thread::sleep(Duration::from_millis(400));
            slow = Some(c);
        }
        let sock = if *lvl == "a" { &s.admin } else { &s.oper };
        let cmd = c
            .replace("{n}", &n.to_string())
            .replace("{w}", &w.to_string());
        out.push(ask(sock, &cmd));
    }
    if let Some(mut c) = slow {
        assert_eq!(c.read_response().status, 200);
    }
    out
}

/// `show stat` and `show servers state` lines reduced to what these commands change:
/// which servers a backend lists, with their status and weight, in order.
fn servers_listed(reply: &str) -> Vec<String> {
    let csv = reply.starts_with("# pxname");
    reply
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty() && (csv || l.contains(' ')))
        .map(|l| {
            if csv {
                let c: Vec<&str> = l.split(',').collect();
                format!("{}/{} {} {}", c[0], c[1], c[17], c[18])
            } else {
                let c: Vec<&str> = l.split(' ').collect();
                // op state, admin state, user and initial weight.
                format!("{}/{} {} {} {} {}", c[1], c[3], c[5], c[6], c[7], c[8])
            }
        })
        .collect()
}

both_drivers!(replies_as_haproxy, |driver| {
    if !proxies::haproxy_or_skip() {
        return;
    }
    let s1 = HttpBackend::start("s1");
    let n = HttpBackend::start("n");
    let w1 = HttpBackend::start_slow("w1", 1000);
    let w2 = HttpBackend::start_slow("w2", 1000);
    let dir = TempDir::new();
    let ours_s = Socks::in_dir(dir.path(), "r");
    let lb = Ringlb::start(&cfg(&ours_s, "127.0.0.1:0", s1.addr, w1.addr), driver);
    let ours = answers(&ours_s, lb.addr("fe"), n.addr, w2.addr);
    drop(lb);
    let theirs_s = Socks::in_dir(dir.path(), "h");
    let theirs = loop {
        let port = proxies::free_port();
        let c = cfg(&theirs_s, &format!("127.0.0.1:{port}"), s1.addr, w1.addr);
        let Some(h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        let a = answers(&theirs_s, ([127, 0, 0, 1], port).into(), n.addr, w2.addr);
        drop(h);
        break a;
    };
    for (i, (lvl, cmd)) in COMMANDS.iter().enumerate() {
        let (o, t) = (&ours[i], &theirs[i]);
        match *cmd {
            c if c.starts_with("show") => {
                assert_eq!(servers_listed(o), servers_listed(t), "{i}: {cmd}\n{o}\n{t}")
            }
            "help" => {
                // Every command ringlb lists is HAProxy's, word for word, in HAProxy's order.
                let theirs: Vec<&str> = t.lines().collect();
                let at: Vec<Option<usize>> = o
                    .lines()
                    .map(|l| theirs.iter().position(|h| *h == l))
                    .collect();
                assert!(at.iter().all(Option::is_some), "help: {o}\n---\n{t}");
                assert!(at.windows(2).all(|w| w[0] < w[1]), "help order: {o}");
                assert!(o.contains("  add server <bk>/<srv>"), "{o}");
                assert!(o.contains("  del server <bk>/<srv>"), "{o}");
            }
            _ => assert_eq!(o, t, "reply {i} to '{cmd}' at level {lvl}"),
        }
    }
});

/// A config with a stats page (CSV at `/st;csv`) and the Prometheus exporter.
fn traffic_cfg(s: &Socks, s1: SocketAddr, slow: SocketAddr) -> String {
    cfg(s, "127.0.0.1:0", s1, slow)
        + "\nfrontend mon\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /st\n    \
           http-request use-service prometheus-exporter if { path /metrics }\n"
}

fn start(s1: SocketAddr, slow: SocketAddr, driver: &str) -> (Ringlb, Socks, TempDir) {
    let dir = TempDir::new();
    let s = Socks::in_dir(dir.path(), "r");
    let lb = Ringlb::start(&traffic_cfg(&s, s1, slow), driver);
    (lb, s, dir)
}

/// What every report says of `be/NAME`: whether `show stat`, `show servers state`, the
/// stats page (HTML and CSV) and the Prometheus metrics list it.
fn reported(lb: &Ringlb, s: &Socks, name: &str) -> [bool; 5] {
    let stat = ask(&s.admin, "show stat");
    let state = ask(&s.admin, "show servers state be");
    let html = get_once(lb.addr("mon"), "/st").text();
    let csv = get_once(lb.addr("mon"), "/st;csv").text();
    let prom = get_once(lb.addr("mon"), "/metrics").text();
    [
        stat.lines().any(|l| l.starts_with(&format!("be,{name},"))),
        state
            .lines()
            .any(|l| l.contains(" be ") && l.split(' ').nth(3) == Some(name)),
        html.contains(&format!("<a name=\"be/{name}\">")),
        csv.lines().any(|l| l.starts_with(&format!("be,{name},"))),
        prom.contains(&format!("proxy=\"be\",server=\"{name}\"")),
    ]
}

both_drivers!(added_server_takes_traffic_then_deleted_none, |driver| {
    let a = HttpBackend::start("a");
    let b = HttpBackend::start("b");
    let w = HttpBackend::start("w");
    let (lb, s, _dir) = start(a.addr, w.addr, driver);
    let fe = lb.addr("fe");
    assert_eq!(
        ask(&s.admin, &format!("add server be/n1 {}", b.addr)),
        "New server registered.\n\n"
    );
    // In maintenance until enabled: no traffic, but listed.
    let served = tally((0..6).map(|_| get_once(fe, "/").server()));
    assert_eq!(served.get("a"), Some(&6), "{served:?}");
    assert_eq!(reported(&lb, &s, "n1"), [true; 5]);
    assert_eq!(ask(&s.admin, "enable server be/n1"), "\n");
    std::thread::sleep(Duration::from_millis(100));
    // New connections land on both cores; each core alternates between the two servers,
    // so b takes half of them only if both cores know it.
    let served = tally((0..40).map(|_| get_once(fe, "/").server()));
    let (on_a, on_b) = (served.get("a").copied(), served.get("b").copied());
    assert!(
        on_a.unwrap_or(0) >= 18 && on_b.unwrap_or(0) >= 18,
        "{served:?}"
    );
    let stat = ask(&s.admin, "show stat -1 4 -1");
    let row = stat
        .lines()
        .find(|l| l.starts_with("be,n1,"))
        .unwrap_or_default();
    assert!(row.contains(",no check,"), "{row}");
    // Idle connections to b wait in the cores' pools.
    b.wait_for("idle pooled connections", Duration::from_secs(2), |c| {
        c.open > 0
    });
    assert_eq!(
        ask(&s.admin, "del server be/n1"),
        "Only servers in maintenance mode can be deleted.\n"
    );
    assert_eq!(ask(&s.admin, "disable server be/n1"), "\n");
    assert_eq!(ask(&s.admin, "del server be/n1"), "Server deleted.\n");
    std::thread::sleep(Duration::from_millis(100));
    let before = b.requests();
    let served = tally((0..20).map(|_| get_once(fe, "/").server()));
    assert_eq!(served.get("a"), Some(&20), "{served:?}");
    assert_eq!(b.requests(), before);
    assert_eq!(reported(&lb, &s, "n1"), [false; 5]);
    // Its pooled connections were closed.
    b.wait_for("pooled connections closed", Duration::from_secs(2), |c| {
        c.open == 0
    });
    // The name is free again; the new server is another one.
    assert_eq!(
        ask(&s.admin, &format!("add server be/n1 {}", b.addr)),
        "New server registered.\n\n"
    );
    assert_eq!(ask(&s.admin, "del server be/n1"), "Server deleted.\n");
});

both_drivers!(del_waits_for_requests_in_flight, |driver| {
    let a = HttpBackend::start("a");
    let w1 = HttpBackend::start("w1");
    let w2 = HttpBackend::start_slow("w2", 1200);
    // With `-d`: one log line per request, and HAProxy's notices.
    let dir = TempDir::new();
    let s = Socks::in_dir(dir.path(), "r");
    let text = traffic_cfg(&s, a.addr, w1.addr);
    let path = dir.write("ringlb.cfg", &text);
    let lb = Ringlb::start_files_args(dir, &[path], &["-d".to_string()], driver, &text);
    ask(&s.admin, &format!("add server slow/d1 {}", w2.addr));
    assert!(lb.wait_for_output(
        "CLI : 'server slow/d1' : New server registered.",
        Duration::from_secs(2)
    ));
    ask(&s.admin, "enable server slow/d1");
    ask(&s.admin, "disable server slow/w1");
    std::thread::sleep(Duration::from_millis(100));
    let mut c = Client::connect(lb.addr("fe"));
    c.send_request("GET", "/slow", &[], b"");
    std::thread::sleep(Duration::from_millis(300));
    ask(&s.admin, "disable server slow/d1");
    assert_eq!(
        ask(&s.admin, "del server slow/d1"),
        "Server still has connections attached to it, cannot remove it.\n"
    );
    let r = c.read_response();
    assert_eq!((r.status, r.server()), (200, "w2".to_string()));
    drop(c);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(ask(&s.admin, "del server slow/d1"), "Server deleted.\n");
    // The request's log line named the added server.
    assert!(lb.output().contains(" slow/d1 "), "{}", lb.output());
    // The slot is gone for good: a request to the backend now finds no server.
    assert_eq!(get_once(lb.addr("fe"), "/slow").status, 503);
});

/// `show stat`'s status of `be/NAME`.
fn status(s: &Socks, name: &str) -> String {
    let stat = ask(&s.admin, "show stat -1 4 -1");
    stat.lines()
        .find(|l| l.starts_with(&format!("be,{name},")))
        .and_then(|l| l.split(',').nth(17))
        .unwrap_or("(not listed)")
        .to_string()
}

fn wait_status(s: &Socks, name: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = status(s, name);
        if now == want {
            return;
        }
        assert!(Instant::now() < deadline, "{name}: {now}, not {want}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

both_drivers!(added_checks_run_after_enable_health, |driver| {
    let a = HttpBackend::start("a");
    let w = HttpBackend::start("w");
    let c = HttpBackend::start("c");
    let (lb, s, _dir) = start(a.addr, w.addr, driver);
    ask(
        &s.admin,
        &format!("add server be/c1 {} check inter 100 fall 2", c.addr),
    );
    assert_eq!(status(&s, "c1"), "MAINT");
    ask(&s.admin, "enable server be/c1");
    // Checks paused: HAProxy shows the server as not checked.
    wait_status(&s, "c1", "no check");
    assert_eq!(ask(&s.admin, "enable health be/c1"), "\n");
    wait_status(&s, "c1", "UP");
    let served = tally((0..20).map(|_| get_once(lb.addr("fe"), "/").server()));
    assert!(served.get("c").copied().unwrap_or(0) >= 8, "{served:?}");
    drop(c);
    wait_status(&s, "c1", "DOWN");
    let served = tally((0..10).map(|_| get_once(lb.addr("fe"), "/").server()));
    assert_eq!(served.get("a"), Some(&10), "{served:?}");
});
