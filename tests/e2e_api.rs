//! The runtime API (`stats socket`) end to end, beside HAProxy 2.6 for the same config and
//! traffic: the replies of `show info`, `show stat` (filters), `show servers state`,
//! `show backend`, non-interactive and prompt modes, what is refused; the exporter reading
//! the socket; Debian's stock haproxy.cfg.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn cfg(sock: &Path, fe: &str, s1: SocketAddr, s2: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n    stats socket {} mode 600 level admin\n    stats timeout 5s\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind {fe}\n    default_backend be\n\n\
         backend be\n    server s1 {s1} check inter 200\n    server s2 {s2}\n\n\
         backend other\n    server o1 {s2}\n",
        sock.display()
    )
}

/// The same replies from ringlb and HAProxy, for the same config and 5 requests.
struct Both {
    ours: Vec<String>,
    theirs: Vec<String>,
}

fn both(driver: &str, commands: &[&str]) -> Option<Both> {
    if !proxies::haproxy_or_skip() {
        return None;
    }
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let dir = TempDir::new();
    let sock = dir.path().join("ringlb.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", s1.addr, s2.addr), driver);
    for _ in 0..5 {
        get_once(lb.addr("fe"), "/");
    }
    // Both proxies' checks have run.
    std::thread::sleep(Duration::from_millis(500));
    let ours = commands.iter().map(|c| ask(&sock, c)).collect();
    drop(lb);
    let hsock = dir.path().join("haproxy.sock");
    let theirs = loop {
        let port = proxies::free_port();
        let c = cfg(&hsock, &format!("127.0.0.1:{port}"), s1.addr, s2.addr);
        let Some(h) = proxies::Haproxy::start(&c, port) else {
            continue;
        };
        for _ in 0..5 {
            get_once(([127, 0, 0, 1], port).into(), "/");
        }
        std::thread::sleep(Duration::from_millis(500));
        let r = commands.iter().map(|c| ask(&hsock, c)).collect();
        drop(h);
        break r;
    };
    Some(Both { ours, theirs })
}

/// `show servers state` lines without what depends on the moment: the time since the last
/// change (column 10), and whether a check is running right then (HAProxy's check state bit
/// 0, during which its last result reads 0).
fn without_times(reply: &str) -> Vec<String> {
    reply
        .lines()
        .map(|l| {
            let mut w: Vec<String> = l.split(' ').map(str::to_string).collect();
            if w.len() > 13 && !l.starts_with('#') {
                w[9] = "<t>".into();
                w[11] = "<result>".into();
                if let Ok(n) = w[13].parse::<u32>() {
                    w[13] = (n & !1).to_string();
                }
            }
            w.join(" ")
        })
        .collect()
}

both_drivers!(replies_as_haproxy, |driver| {
    let Some(b) = both(
        driver,
        &[
            "show servers state",
            "show backend",
            "show servers state other",
            "show servers state nope",
            "show stat -1 4 -1",
            "show info",
        ],
    ) else {
        return;
    };
    assert_eq!(without_times(&b.ours[0]), without_times(&b.theirs[0]));
    assert_eq!(b.ours[1], b.theirs[1], "show backend");
    assert_eq!(without_times(&b.ours[2]), without_times(&b.theirs[2]));
    assert_eq!(b.ours[3], b.theirs[3], "unknown backend");
    // `show stat` with a type filter: the same header and the same server rows.
    let names = |csv: &str| -> Vec<String> {
        csv.lines()
            .map(|l| l.split(',').take(2).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(names(&b.ours[4]), names(&b.theirs[4]), "show stat -1 4 -1");
    assert!(b.ours[4].ends_with("\n\n"));
    // `show info`: every field ringlb prints is HAProxy's, in HAProxy's order.
    let fields = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.split_once(": ").map(|(k, _)| k.to_string()))
            .collect()
    };
    let (o, t) = (fields(&b.ours[5]), fields(&b.theirs[5]));
    let in_theirs: Vec<&String> = o.iter().filter(|k| t.contains(k)).collect();
    assert_eq!(
        in_theirs.len(),
        o.len(),
        "fields HAProxy does not print: {o:?}"
    );
    let order: Vec<&String> = t.iter().filter(|k| o.contains(k)).collect();
    assert_eq!(order, o.iter().collect::<Vec<_>>(), "field order");
    let value = |t: &str, k: &str| {
        t.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_string))
    };
    // (CumReq differs: HAProxy counts the socket's own commands as requests.)
    for k in ["Nbthread", "CurrConns", "Nbproc", "Stopping"] {
        assert_eq!(
            value(&b.ours[5], k),
            value(&b.theirs[5], k),
            "show info {k}"
        );
    }
});

#[test]
fn modes_and_refusals() {
    let s1 = HttpBackend::start("s1");
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", s1.addr, s1.addr), "io_uring");
    let _ = lb.addr("fe");
    // Non-interactive: `;` separates commands; each reply ends with an empty line.
    assert_eq!(
        ask(&sock, "show backend;show backend"),
        "# name\nbe\nother\n\n# name\nbe\nother\n\n"
    );
    // Prompt mode: a `> ` after each reply, until quit.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"prompt\nshow backend\nquit\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out, "\n> # name\nbe\nother\n\n> ");
    let u = ask(&sock, "bogus");
    assert!(
        u.starts_with("Unknown command, but maybe one of the following ones is a better match:\n"),
        "{u}"
    );
    let d = ask(&sock, "disable frontend fe");
    assert!(d.contains("'disable frontend' is not supported yet"), "{d}");
    let mode = std::fs::metadata(&sock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600, "mode 600");
    drop(lb);
}

#[test]
fn exporter_reads_the_socket() {
    if !tool_or_skip("prometheus-haproxy-exporter") {
        return;
    }
    let s1 = HttpBackend::start("s1");
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", s1.addr, s1.addr), "io_uring");
    for _ in 0..3 {
        get_once(lb.addr("fe"), "/");
    }
    let port = proxies::free_port();
    let mut child = std::process::Command::new("prometheus-haproxy-exporter")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--haproxy.scrape-uri=unix:{}", sock.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("exporter listening");
    let text = get_once(([127, 0, 0, 1], port).into(), "/metrics").text();
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("\nhaproxy_up 1\n"), "{text:.3000}");
    let answered: u64 = text
        .lines()
        .filter(|l| {
            l.starts_with("haproxy_server_http_responses_total{backend=\"be\",code=\"2xx\"")
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum();
    assert_eq!(answered, 3, "{text}");
}

/// Debian's own /etc/haproxy/haproxy.cfg (from the haproxy package) loads unmodified.
#[test]
fn debian_stock_config_loads() {
    let stock = PathBuf::from("/etc/haproxy/haproxy.cfg");
    if !stock.exists() {
        if std::env::var_os("CI").is_some() {
            panic!("install haproxy (.ci/run does): its stock config is the test");
        }
        eprintln!("skipping: no /etc/haproxy/haproxy.cfg");
        return;
    }
    let out = std::process::Command::new(bin())
        .args(["-c", "-f"])
        .arg(&stock)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stock config's runtime API path is fixed: one ringlb at a time has it.
static STOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

// Debian's stock config serves unmodified, with a site added in a second file (`-f` twice, as
// HAProxy takes them): as root it enters the chroot once everything is bound and loaded, then
// runs as user haproxy (its ids looked up before the chroot, which holds no /etc/passwd);
// the stats socket answers, its errorfiles are the answers.
both_drivers!(debian_stock_config_serves, |driver| {
    let stock = PathBuf::from("/etc/haproxy/haproxy.cfg");
    // SAFETY: getuid has no preconditions.
    let root = unsafe { libc::getuid() } == 0;
    if !stock.exists() || !root {
        if std::env::var_os("CI").is_some() {
            panic!("CI runs as root with haproxy installed: the stock config is the test");
        }
        eprintln!("skipping: needs root and /etc/haproxy/haproxy.cfg");
        return;
    }
    let _one = STOCK.lock().unwrap_or_else(|e| e.into_inner());
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let site = dir.write(
        "site.cfg",
        format!(
            "frontend web\n    bind 127.0.0.1:0\n    use_backend down if {{ path_beg /down }}\n    \
             default_backend app\n\nbackend app\n    server s1 {}\n\nbackend down\n    \
             server gone 127.0.0.1:1\n",
            be.addr
        ),
    );
    let lb = Ringlb::start_files(dir, &[stock, site], driver, "the stock config + site.cfg");
    let r = Client::connect(lb.addr("web")).get("/x");
    assert_eq!(r.status, 200, "{}", lb.output());
    // Debian's own 503 page, loaded before the chroot.
    let page = std::fs::read_to_string("/etc/haproxy/errors/503.http").unwrap();
    let r = Client::connect(lb.addr("web")).get("/down");
    assert_eq!(r.status, 503);
    let want_body = page.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert_eq!(r.text(), want_body, "{}", lb.output());
    let pid = lb.pid();
    let root_dir = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(
        root_dir,
        PathBuf::from("/var/lib/haproxy"),
        "chroot entered"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or("");
    let id = std::process::Command::new("id")
        .args(["-u", "haproxy"])
        .output()
        .unwrap();
    let uid = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(
        uid_line.split_whitespace().skip(1).all(|u| u == uid),
        "runs as haproxy ({uid}): {uid_line}"
    );
    let mut s = UnixStream::connect("/run/haproxy/admin.sock").unwrap();
    s.write_all(b"show info\n").unwrap();
    let mut info = String::new();
    s.read_to_string(&mut info).unwrap();
    assert!(info.contains("Name: ringlb\n"), "{info}");
});

/// A `user` that does not exist stops the start (the process would otherwise stay root).
#[test]
fn unknown_user_stops_the_start() {
    let dir = TempDir::new();
    let cfg = dir.write(
        "u.cfg",
        "global\n    user no-such-user-ringlb\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 1s\n    timeout server 1s\n\nfrontend f\n    bind 127.0.0.1:0\n    \
         default_backend b\n\nbackend b\n    server s 127.0.0.1:1\n",
    );
    let args = vec!["-f".to_string(), cfg.display().to_string(), "-db".into()];
    let (code, out) = run_bounded(&args, Duration::from_secs(10));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("global 'user no-such-user-ringlb': no such user"),
        "{out}"
    );
}

both_drivers!(change_replies_as_haproxy, |driver| {
    let Some(b) = both(
        driver,
        &[
            "disable server nobe/s1",
            "disable server be",
            "disable server be/zz",
            "set server be/s1 state bogus",
            "set server be/s1 weight 300",
            "set server be/s1 weight x",
            "set server be/s1",
            "set server be/s1 state drain",
            "set server be/s1 weight 50%",
            "set weight be/s1 2",
            "enable server be/s1",
            "disable health be/s1",
            "enable health be/s1",
            "disable health be/s2",
            "enable health be/s2",
            "disable health be/zz",
        ],
    ) else {
        return;
    };
    for (i, (o, t)) in b.ours.iter().zip(&b.theirs).enumerate() {
        assert_eq!(o, t, "reply {i}");
    }
});

/// Status, weight and whether a server takes requests, read from `show stat`.
fn server_row(sock: &Path, server: &str) -> (String, String) {
    let csv = ask(sock, "show stat -1 4 -1");
    let header: Vec<&str> = csv
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let line = csv
        .lines()
        .find(|l| l.starts_with(&format!("be,{server},")))
        .unwrap_or_else(|| panic!("no row for {server}: {csv}"));
    let cells: Vec<&str> = line.split(',').collect();
    (
        cells[col("status")].to_string(),
        cells[col("weight")].to_string(),
    )
}

both_drivers!(drain_maint_and_weight_reach_every_core, |driver| {
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let lb = Ringlb::start(&cfg(&sock, "127.0.0.1:0", s1.addr, s2.addr), driver);
    let fe = lb.addr("fe");
    // New connections, so that both cores serve them.
    let spread = |n: usize| -> std::collections::BTreeMap<String, usize> {
        tally((0..n).map(|_| get_once(fe, "/").server()))
    };
    let before = spread(20);
    assert!(
        before.contains_key("s1") && before.contains_key("s2"),
        "{before:?}"
    );
    assert_eq!(ask(&sock, "set server be/s1 state drain"), "\n");
    // The change reaches every core within a health tick.
    std::thread::sleep(Duration::from_millis(100));
    let drained = spread(20);
    assert_eq!(
        drained.get("s1"),
        None,
        "a draining server took requests: {drained:?}"
    );
    assert_eq!(server_row(&sock, "s1"), ("DRAIN".into(), "0".into()));
    assert_eq!(ask(&sock, "set server be/s1 state maint"), "\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server_row(&sock, "s1").0, "MAINT");
    assert_eq!(spread(10).get("s1"), None);
    assert_eq!(
        ask(
            &sock,
            "set server be/s1 state ready;set server be/s1 weight 3"
        ),
        "\n\n"
    );
    std::thread::sleep(Duration::from_millis(100));
    let back = spread(40);
    let (n1, n2) = (
        back.get("s1").copied().unwrap_or(0),
        back.get("s2").copied().unwrap_or(0),
    );
    assert!(n1 > n2, "weight 3 against 1: {back:?}");
    assert_eq!(server_row(&sock, "s1").1, "3");
    assert!(server_row(&sock, "s1").0.starts_with("UP"));
});

both_drivers!(disable_health_keeps_the_last_state, |driver| {
    let s1 = HttpBackend::start("s1");
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let config = cfg(&sock, "127.0.0.1:0", s1.addr, s1.addr).replace(
        "\nbackend be\n",
        "\nbackend be\n    option httpchk GET /health\n",
    );
    let lb = Ringlb::start(&config, driver);
    let _ = lb.addr("fe");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ask(&sock, "disable health be/s1"), "\n");
    // Applied by the checker within its 10 ms poll.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = ask(&sock, "show servers state be");
        let line = state
            .lines()
            .find(|l| l.contains(" s1 "))
            .unwrap_or_default()
            .to_string();
        if line.split(' ').nth(13) == Some("2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "check state not CONFIGURED only: {line}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Checks paused: the server fails its checks now, and stays UP.
    s1.set_health(500);
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        server_row(&sock, "s1").0.starts_with("UP"),
        "{:?}",
        server_row(&sock, "s1")
    );
    assert_eq!(ask(&sock, "enable health be/s1"), "\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server_row(&sock, "s1").0.starts_with("DOWN") {
        assert!(Instant::now() < deadline, "checks did not resume");
        std::thread::sleep(Duration::from_millis(50));
    }
});
