//! Server states across a restart (`server-state-file`, `load-server-state-from-file`): the
//! operator drains, puts in maintenance and reweighs servers over the runtime API, saves
//! `show servers state`, and the next process starts with those states before its first
//! request. The same with a file HAProxy 2.6 wrote, and HAProxy reading ringlb's file; both
//! then report the same states. A checked server DOWN before the restart starts DOWN until
//! its checks pass.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Four servers: s1 checked; s3 configured with weight 2.
fn cfg(sock: &Path, fe: &str, srv: &[SocketAddr; 4], state: Option<&Path>) -> String {
    let (global, defaults) = match state {
        Some(p) => (
            format!("    server-state-file {}\n", p.display()),
            "    load-server-state-from-file global\n".to_string(),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "global\n    nbthread 2\n    stats socket {} mode 600 level admin\n{global}\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{defaults}\n\
         frontend fe\n    bind {fe}\n    default_backend be\n\n\
         backend be\n    server s1 {} check inter 200\n    server s2 {}\n    server s3 {} weight 2\n    server s4 {}\n",
        sock.display(),
        srv[0],
        srv[1],
        srv[2],
        srv[3],
    )
}

/// What the operator does before the restart.
const CHANGES: &[&str] = &[
    "set server be/s1 state maint",
    "set server be/s2 state drain",
    "set server be/s3 weight 6",
];

/// Per server: name, srv_op_state, srv_admin_state, srv_uweight, srv_iweight.
fn states(dump: &str) -> Vec<String> {
    dump.lines()
        .skip(2)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            format!(
                "{} op={} admin={} uw={} iw={}",
                w[3], w[5], w[6], w[7], w[8]
            )
        })
        .collect()
}

const EXPECTED: [&str; 4] = [
    "s1 op=0 admin=1 uw=1 iw=1",
    "s2 op=2 admin=8 uw=1 iw=1",
    "s3 op=2 admin=0 uw=6 iw=2",
    "s4 op=2 admin=0 uw=1 iw=1",
];

/// `show stat` status and weight per server.
fn stat(sock: &Path) -> BTreeMap<String, (String, String)> {
    status_and_weight(&ask(sock, "show stat -1 4 -1"), "be,s")
}

struct Servers {
    backends: Vec<HttpBackend>,
}

impl Servers {
    fn start() -> Servers {
        Servers {
            backends: ["s1", "s2", "s3", "s4"]
                .iter()
                .map(|n| HttpBackend::start(n))
                .collect(),
        }
    }

    fn addrs(&self) -> [SocketAddr; 4] {
        [0, 1, 2, 3].map(|i| self.backends[i].addr)
    }
}

/// ringlb with the states applied: the first requests already go by them.
fn check_restarted(sock: &Path, lb: &Ringlb) {
    let fe = lb.addr("fe");
    let spread = tally((0..35).map(|_| get_once(fe, "/").server()));
    let (s3, s4) = (spread.get("s3"), spread.get("s4"));
    assert!(
        !spread.contains_key("s1") && !spread.contains_key("s2"),
        "s1 is in maintenance and s2 drains: {spread:?}"
    );
    // Weights 6 and 1, each core in its own round-robin.
    let (s3, s4) = (*s3.unwrap_or(&0), *s4.unwrap_or(&0));
    assert!(s4 >= 1 && s3 >= 4 * s4, "weights 6:1: {spread:?}");
    let st = stat(sock);
    assert_eq!(st["s1"].0, "MAINT", "{st:?}");
    assert_eq!(st["s2"].0, "DRAIN", "{st:?}");
    assert_eq!(st["s3"].1, "6", "{st:?}");
    assert_eq!(
        states(&ask(sock, "show servers state")),
        EXPECTED,
        "after the restart"
    );
}

both_drivers!(ringlb_restarts_with_its_own_dump, |driver| {
    let servers = Servers::start();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let state = dir.path().join("state");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", &servers.addrs(), None), driver);
    for c in CHANGES {
        assert_eq!(ask(&sock, c), "\n", "{c}");
    }
    // The checker applies changes on its next poll.
    std::thread::sleep(Duration::from_millis(100));
    let dump = ask(&sock, "show servers state");
    assert_eq!(states(&dump), EXPECTED, "before the restart");
    drop(lb);
    std::fs::write(&state, &dump).unwrap();
    let c = cfg(&sock, "127.0.0.1:0", &servers.addrs(), Some(&state));
    let lb = Ringlb::start(&c, driver);
    check_restarted(&sock, &lb);
    // HAProxy's words at start, with the state file's line.
    let out = lb.output();
    for (line, text) in [
        (3, "Server be/s1 is DOWN, changed from server-state after a reload. 3 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."),
        (4, "Server be/s2 remains in forced drain mode."),
    ] {
        let want = format!("{}:{line}: warning: {text}", state.display());
        assert!(out.contains(&want), "no '{want}' in:\n{out}");
    }
    // s1 was down: its checks bring it up, but it stays in maintenance until told otherwise.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(stat(&sock)["s1"].0, "MAINT");
    assert_eq!(ask(&sock, "set server be/s1 state ready"), "\n");
    std::thread::sleep(Duration::from_millis(100));
    let spread = tally((0..20).map(|_| get_once(lb.addr("fe"), "/").server()));
    assert!(spread.contains_key("s1"), "s1 is back: {spread:?}");
});

/// HAProxy's own dump, after the same changes.
fn haproxy_dump(servers: &Servers, dir: &TempDir) -> Option<String> {
    if !proxies::haproxy_or_skip() {
        return None;
    }
    let hsock = dir.path().join("haproxy.sock");
    loop {
        let port = proxies::free_port();
        let c = cfg(&hsock, &format!("127.0.0.1:{port}"), &servers.addrs(), None);
        let Some(h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        for c in CHANGES {
            ask(&hsock, c);
        }
        let dump = ask(&hsock, "show servers state");
        drop(h);
        return Some(dump);
    }
}

/// HAProxy started with `state`: its `show servers state`.
fn haproxy_with(servers: &Servers, dir: &TempDir, state: &Path) -> String {
    let hsock = dir.path().join("haproxy2.sock");
    loop {
        let port = proxies::free_port();
        let fe = format!("127.0.0.1:{port}");
        let c = cfg(&hsock, &fe, &servers.addrs(), Some(state));
        let Some(h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        let dump = ask(&hsock, "show servers state");
        drop(h);
        return dump;
    }
}

both_drivers!(haproxy_dump_loads_the_same, |driver| {
    let servers = Servers::start();
    let dir = TempDir::new();
    let Some(dump) = haproxy_dump(&servers, &dir) else {
        return;
    };
    assert_eq!(states(&dump), EXPECTED, "HAProxy's own dump");
    let state = dir.path().join("haproxy.state");
    std::fs::write(&state, &dump).unwrap();
    let sock = dir.path().join("api.sock");
    let c = cfg(&sock, "127.0.0.1:0", &servers.addrs(), Some(&state));
    let lb = Ringlb::start(&c, driver);
    check_restarted(&sock, &lb);
    // HAProxy loading its own file reports what ringlb reports.
    let theirs = haproxy_with(&servers, &dir, &state);
    assert_eq!(states(&theirs), EXPECTED, "HAProxy after its restart");
});

both_drivers!(haproxy_loads_ringlb_dump_the_same, |driver| {
    if !proxies::haproxy_or_skip() {
        return;
    }
    let servers = Servers::start();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", &servers.addrs(), None), driver);
    for c in CHANGES {
        ask(&sock, c);
    }
    std::thread::sleep(Duration::from_millis(100));
    let state = dir.path().join("ringlb.state");
    std::fs::write(&state, ask(&sock, "show servers state")).unwrap();
    drop(lb);
    let theirs = haproxy_with(&servers, &dir, &state);
    let lb = Ringlb::start(
        &cfg(&sock, "127.0.0.1:0", &servers.addrs(), Some(&state)),
        driver,
    );
    let ours = ask(&sock, "show servers state");
    drop(lb);
    assert_eq!(states(&theirs), states(&ours));
    assert_eq!(states(&ours), EXPECTED);
});

#[test]
fn problems_are_warnings_with_file_and_line() {
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let state = dir.path().join("state");
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let c = cfg(&sock, "127.0.0.1:0", &[addr; 4], Some(&state));
    // Missing: a warning, and the configured states.
    let r = Ringlb::check(&c);
    assert_eq!(r.code, Some(0), "{}", r.output);
    assert!(
        r.output.contains(&format!(
            "{}: warning: can't read the global server state file",
            state.display()
        )),
        "{}",
        r.output
    );
    // A truncated line: the whole file is refused, at that line.
    std::fs::write(
        &state,
        "1\n# header\n3 be 1 s1 127.0.0.1 0 1 1 1 0 1 0 0 14 0 0 0 - 1 - 0 0 - - 0\n3 be 2 s2 127.0.0.1 2 8\n",
    )
    .unwrap();
    let r = Ringlb::check(&c);
    assert!(
        r.output.contains(&format!(
            "{}:4: warning: the global server state file is corrupted",
            state.display()
        )),
        "{}",
        r.output
    );
    // A bad value: only that server is skipped, in HAProxy's words.
    std::fs::write(
        &state,
        "1\n3 be 2 s2 127.0.0.1 x 8 1 1 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n\
         3 be 2 s9 127.0.0.1 2 8 1 1 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n",
    )
    .unwrap();
    let r = Ringlb::check(&c);
    assert!(
        r.output.contains(&format!(
            "{}:2: warning: server-state application failed for server 'be/s2', invalid srv_op_state value 'x'",
            state.display()
        )),
        "{}",
        r.output
    );
    // An unknown server is skipped silently, as HAProxy 2.6 does.
    assert!(!r.output.contains("s9"), "{}", r.output);
}

/// One checked server and one plain: s1's checks go to `/health`.
fn checked_cfg(sock: &Path, s1: SocketAddr, s2: SocketAddr, state: Option<&Path>) -> String {
    let (global, defaults) = match state {
        Some(p) => (
            format!("    server-state-file {}\n", p.display()),
            "    load-server-state-from-file global\n",
        ),
        None => (String::new(), ""),
    };
    format!(
        "global\n    nbthread 2\n    stats socket {} level admin\n{global}\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{defaults}\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\n\
         backend be\n    option httpchk GET /health\n    \
         server s1 {s1} check inter 300 fall 1 rise 3\n    server s2 {s2}\n",
        sock.display()
    )
}

both_drivers!(
    a_server_down_before_stays_down_until_its_checks_pass,
    |driver| {
        let (s1, s2) = (HttpBackend::start("s1"), HttpBackend::start("s2"));
        let dir = TempDir::new();
        let sock = dir.path().join("api.sock");
        let state = dir.path().join("state");
        s1.set_health(503);
        let lb = Ringlb::start(&checked_cfg(&sock, s1.addr, s2.addr, None), driver);
        assert!(lb.wait_for_output("Server be/s1 is DOWN", Duration::from_secs(5)));
        std::fs::write(&state, ask(&sock, "show servers state")).unwrap();
        drop(lb);
        // Healthy again; without the file ringlb would start it UP, as HAProxy does.
        s1.set_health(200);
        let lb = Ringlb::start(&checked_cfg(&sock, s1.addr, s2.addr, Some(&state)), driver);
        let fe = lb.addr("fe");
        let first = tally((0..10).map(|_| get_once(fe, "/").server()));
        assert_eq!(first.get("s1"), None, "s1 is down until checked: {first:?}");
        // DOWN, or "DOWN 1/3" once its first good check ran.
        let status = stat(&sock)["s1"].0.clone();
        assert!(status.starts_with("DOWN"), "{status}");
        // Three good checks (rise 3, inter 300 ms: the first requests have 600 ms) bring it up.
        assert!(lb.wait_for_output("Server be/s1 is UP", Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(50));
        let later = tally((0..10).map(|_| get_once(fe, "/").server()));
        assert!(later.contains_key("s1"), "s1 is up: {later:?}");
    }
);
