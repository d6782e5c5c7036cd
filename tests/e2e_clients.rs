//! Operators' runtime API clients, unchanged, against ringlb's stats socket: `hatop` (its
//! screen, driven in tmux, beside the same screen against HAProxy 2.6), Python's
//! `haproxyadmin` (tests/clients/haproxyadmin_drive.py: backends, servers, status, disable,
//! enable, drain, weight, each checked in `show stat` and in the traffic), and `socat`
//! scripts. Under CI the tools are installed (.ci/run); elsewhere a missing one skips.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cfg(sock: &Path, fe: &str, s: &[SocketAddr; 3]) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} mode 600 level admin\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind {fe}\n    default_backend app\n\n\
         backend app\n    server s1 {} check inter 300\n    server s2 {}\n    server s3 {}\n",
        sock.display(),
        s[0],
        s[1],
        s[2]
    )
}

struct Servers(Vec<HttpBackend>);

impl Servers {
    fn start() -> Servers {
        Servers(
            ["s1", "s2", "s3"]
                .iter()
                .map(|n| HttpBackend::start(n))
                .collect(),
        )
    }
    fn addrs(&self) -> [SocketAddr; 3] {
        [0, 1, 2].map(|i| self.0[i].addr)
    }
}

/// Which server answered each of `n` requests, each on a new connection (both cores).
fn spread(fe: SocketAddr, n: usize) -> BTreeMap<String, usize> {
    tally((0..n).map(|_| get_once(fe, "/").server()))
}

/// `show stat`'s status and weight of each server of `app`.
fn stat(sock: &Path) -> BTreeMap<String, (String, String)> {
    status_and_weight(&ask(sock, "show stat"), "app,s")
}

/// Polls `show stat` until `server` shows `want` (status or weight): the API replies at
/// once and the checker thread applies the change on its next poll.
fn wait_stat(sock: &Path, server: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let st = stat(sock);
        let (status, weight) = &st[server];
        if status == want || weight == want {
            // And every core's view: within a health tick.
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{server} never showed {want}: {st:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// hatop

/// A tmux server of this test's own (`-L`), so nothing else's sessions are touched.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = Tmux {
            name: format!("ringlb-test-{}-{n}", std::process::id()),
        };
        let ok = t
            .run(&[
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status
            .success();
        assert!(ok, "tmux new-session {command}");
        t
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn keys(&self, k: &str) {
        self.run(&["send-keys", "-t", "t", k]);
    }

    /// The screen once it shows every one of `needles`.
    fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.screen();
            if needles.iter().all(|n| s.contains(n)) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {needles:?}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// A hatop screen without its volatile numbers: from the column header down, each row's
/// name and words (W, status, check) up to its first counter; and the proxies/services line.
fn structure(screen: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rows = false;
    for line in screen.lines() {
        if let Some(i) = line.find("Proxies:") {
            out.push(line[i..].split_whitespace().collect::<Vec<_>>().join(" "));
        }
        rows |= line.starts_with("NAME");
        if !rows || line.trim().is_empty() {
            continue;
        }
        let mut words: Vec<&str> = Vec::new();
        for (i, w) in line.split_whitespace().enumerate() {
            // The name, the weight, then words until the first number.
            if i >= 2 && w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                break;
            }
            words.push(w);
        }
        out.push(words.join(" "));
    }
    out
}

/// hatop's STATUS and TRAFFIC screens for a proxy on `sock`.
fn hatop_screens(sock: &Path) -> (String, String) {
    let t = Tmux::start(&format!("hatop -i 1 -s {}", sock.display()));
    let status = t.wait_for(&[">>> app", "L4OK", "BACKEND"]);
    t.keys("2");
    let traffic = t.wait_for(&["LBTOT", ">>> app"]);
    (status, traffic)
}

both_drivers!(hatop_shows_the_servers_as_for_haproxy, |driver| {
    if !tool_or_skip("hatop") || !tool_or_skip("tmux") {
        return;
    }
    let servers = Servers::start();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", &servers.addrs()), driver);
    spread(lb.addr("fe"), 6);
    let (status, traffic) = hatop_screens(&sock);
    assert!(status.contains("ringlb Version: 0.1.0"), "{status}");
    let rows = structure(&status);
    for want in [
        "s1 1 UP L4OK",
        "s2 1 - none",
        "FRONTEND 0 OPEN",
        "BACKEND 3 UP",
    ] {
        assert!(
            rows.iter().any(|r| r == want),
            "no '{want}' in {rows:#?}\n{status}"
        );
    }
    // A change made over the API shows on the next refresh.
    let t = Tmux::start(&format!("hatop -i 1 -s {}", sock.display()));
    t.wait_for(&[">>> app"]);
    ask(&sock, "disable server app/s2");
    let screen = t.wait_for(&["MAINT"]);
    assert!(
        structure(&screen)
            .iter()
            .any(|r| r.starts_with("s2 1 MAINT")),
        "{screen}"
    );
    drop(t);
    drop(lb);
    if !proxies::haproxy_or_skip() {
        return;
    }
    let hsock = dir.path().join("haproxy.sock");
    let (h_status, h_traffic) = loop {
        let port = proxies::free_port();
        let c = cfg(&hsock, &format!("127.0.0.1:{port}"), &servers.addrs());
        let Some(_h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        spread(([127, 0, 0, 1], port).into(), 6);
        break hatop_screens(&hsock);
    };
    assert_eq!(
        structure(&status),
        structure(&h_status),
        "STATUS view\n{status}\n{h_status}"
    );
    assert_eq!(
        structure(&traffic),
        structure(&h_traffic),
        "TRAFFIC view\n{traffic}\n{h_traffic}"
    );
});

// haproxyadmin

/// `python3` has `module`; without it, fails under CI and skips elsewhere.
fn python_module_or_skip(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("install the Python module {module} (.ci/run does)");
    }
    eprintln!("skipping: the Python module {module} is not installed (CI fails here instead)");
    false
}

/// Runs the haproxyadmin script's `steps`; its `step: value` lines.
fn haproxyadmin(sock: &Path, steps: &[&str]) -> Vec<String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/haproxyadmin_drive.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(sock)
        .args(steps)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{steps:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().map(str::to_string).collect()
}

both_drivers!(haproxyadmin_lists_disables_enables_and_weighs, |driver| {
    if !python_module_or_skip("haproxyadmin") {
        return;
    }
    let servers = Servers::start();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", &servers.addrs()), driver);
    let fe = lb.addr("fe");
    // Let s1's first check pass (its status reads UP either way; L4OK once checked).
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        haproxyadmin(
            &sock,
            &["list", "status", "app/s1", "status", "app/s2", "weight", "app/s3"]
        ),
        [
            "list: app/s1,app/s2,app/s3",
            "status: UP",
            "status: no check",
            "weight: 1"
        ]
    );
    assert_eq!(
        haproxyadmin(&sock, &["disable", "app/s2"]),
        ["disable: True"]
    );
    wait_stat(&sock, "s2", "MAINT");
    assert_eq!(
        haproxyadmin(&sock, &["status", "app/s2"]),
        ["status: MAINT"]
    );
    let s = spread(fe, 20);
    assert!(!s.contains_key("s2"), "s2 is in maintenance: {s:?}");
    assert_eq!(haproxyadmin(&sock, &["enable", "app/s2"]), ["enable: True"]);
    wait_stat(&sock, "s2", "no check");
    let s = spread(fe, 20);
    assert!(s.contains_key("s2"), "s2 is back: {s:?}");
    assert_eq!(
        haproxyadmin(&sock, &["setweight", "app/s3", "8"]),
        ["setweight: True"]
    );
    wait_stat(&sock, "s3", "8");
    assert_eq!(haproxyadmin(&sock, &["weight", "app/s3"]), ["weight: 8"]);
    // Weights 1, 1, 8: s3 takes most requests.
    let s = spread(fe, 40);
    assert!(
        s.get("s3").copied().unwrap_or(0) >= 24,
        "weight 8 of 10: {s:?}"
    );
    assert_eq!(haproxyadmin(&sock, &["drain", "app/s1"]), ["drain: True"]);
    wait_stat(&sock, "s1", "DRAIN");
    assert_eq!(
        haproxyadmin(&sock, &["status", "app/s1"]),
        ["status: DRAIN"]
    );
    let s = spread(fe, 20);
    assert!(!s.contains_key("s1"), "s1 drains: {s:?}");
    assert_eq!(haproxyadmin(&sock, &["ready", "app/s1"]), ["ready: True"]);
    wait_stat(&sock, "s1", "UP");
});

// socat

/// `printf INPUT | socat SOCK -`, as operators' scripts do.
fn socat(sock: &Path, input: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '{input}' | socat {} -", sock.display()))
        .stdin(Stdio::null())
        .output()
        .expect("run socat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each line's first CSV cells (proxy, service) and the info field names.
fn shape(reply: &str) -> Vec<String> {
    reply
        .lines()
        .map(|l| match l.split_once(": ") {
            Some((k, _)) if !l.contains(',') => k.to_string(),
            _ => l.split(',').take(2).collect::<Vec<_>>().join(","),
        })
        .collect()
}

both_drivers!(socat_scripts_as_for_haproxy, |driver| {
    if !tool_or_skip("socat") {
        return;
    }
    let servers = Servers::start();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", &servers.addrs()), driver);
    let both = socat(&sock, "show info;show stat\\n");
    assert!(both.starts_with("Name: ringlb\n"), "{both}");
    let csv = both
        .find("# pxname,svname,")
        .unwrap_or_else(|| panic!("no show stat header: {both}"));
    for row in [
        "fe,FRONTEND,",
        "app,s1,",
        "app,s2,",
        "app,s3,",
        "app,BACKEND,",
    ] {
        assert!(
            both[csv..].contains(&format!("\n{row}")),
            "no {row}: {both}"
        );
    }
    // The two replies, each ending with its empty line, in order.
    assert!(both[..csv].ends_with("\n\n"), "{both}");
    let interactive = socat(&sock, "prompt\\nshow backend\\nquit\\n");
    drop(lb);
    if !proxies::haproxy_or_skip() {
        return;
    }
    let hsock = dir.path().join("haproxy.sock");
    let (h_both, h_interactive) = loop {
        let port = proxies::free_port();
        let c = cfg(&hsock, &format!("127.0.0.1:{port}"), &servers.addrs());
        let Some(_h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        break (
            socat(&hsock, "show info;show stat\\n"),
            socat(&hsock, "prompt\\nshow backend\\nquit\\n"),
        );
    };
    assert_eq!(interactive, h_interactive, "prompt mode");
    // Every stat row HAProxy prints, ringlb prints, in the same order.
    let rows =
        |r: &str| -> Vec<String> { shape(r).into_iter().filter(|l| l.contains(',')).collect() };
    assert_eq!(rows(&both), rows(&h_both));
});
