//! Operators' own tools against ringlb's stats, unchanged, beside HAProxy 2.6 for the same
//! traffic: `prometheus-haproxy-exporter` scraping `;csv`, and `promtool check metrics` on
//! the built-in exporter's output (`http-request use-service prometheus-exporter`), and the
//! exporter reading the stats socket (`--haproxy.scrape-uri=unix:SOCK`).
//!
//! Under CI the tools are installed (.ci/run); elsewhere a missing tool skips with a note.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXPORTER: &str = "prometheus-haproxy-exporter";
const PROMTOOL: &str = "promtool";

/// The config both proxies run: two backends of one server each (so that the split is the
/// same on both, whatever core takes a request), and a stats listener.
fn cfg(fe: &str, stats: &str, s1: SocketAddr, s2: SocketAddr) -> String {
    http_cfg(&format!(
        "frontend fe\n    bind {fe}\n    \
         http-request use-service prometheus-exporter if {{ path /metrics }}\n    \
         use_backend be_b if {{ hdr(x-to) -m str b }}\n    default_backend be_a\n\n\
         backend be_a\n    server s1 {s1}\n\n\
         backend be_b\n    server s2 {s2}\n\n\
         listen stats\n    bind {stats}\n    stats enable\n    stats uri /stats\n"
    ))
}

/// The same requests to either proxy: 6 to s1, 3 to s2, 2 answered 404 by s1.
fn traffic(fe: SocketAddr) {
    for _ in 0..6 {
        assert_eq!(get_once(fe, "/size/100").status, 200);
    }
    for _ in 0..3 {
        let mut c = Client::connect(fe);
        c.send_request("GET", "/size/100", &[("x-to", "b")], b"");
        assert_eq!(c.read_response().status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get_once(fe, "/status/404").status, 404);
    }
}

/// The exporter, scraping `scrape` (a `;csv` URI), listening on a free port.
struct Exporter {
    child: Child,
    addr: SocketAddr,
}

impl Exporter {
    fn start(scrape: &str) -> Exporter {
        let port = proxies::free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Command::new(EXPORTER)
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--haproxy.scrape-uri={scrape}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {EXPORTER}: {e}"));
        // Its "Listening on" line, not a probe connection: a probe could reach another test's
        // proxy that the kernel gave this port meanwhile, and show up in that test's logs.
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("Listening on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{EXPORTER} did not listen on {addr}"));
        Exporter { child, addr }
    }

    /// Its metrics: `name{labels}` -> value, haproxy_* only.
    fn scrape(&self) -> BTreeMap<String, String> {
        let text = get_once(self.addr, "/metrics").text();
        metrics(&text)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name{labels} value` lines of a Prometheus text, the exporter's own and Go's left out.
fn metrics(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("haproxy_") && !l.starts_with("haproxy_exporter_"))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs `f` with the frontend and stats addresses of HAProxy 2.6 on the same config (on
/// fresh ports, retried if one was taken meanwhile); HAProxy stops when `f` returns.
fn on_haproxy<T>(s1: SocketAddr, s2: SocketAddr, f: impl FnOnce(SocketAddr, SocketAddr) -> T) -> T {
    loop {
        let (fe, st) = (proxies::free_port(), proxies::free_port());
        let c = cfg(
            &format!("127.0.0.1:{fe}"),
            &format!("127.0.0.1:{st}"),
            s1,
            s2,
        );
        let Some(_h) = proxies::Haproxy::start(&c, fe) else {
            continue;
        };
        return f(([127, 0, 0, 1], fe).into(), ([127, 0, 0, 1], st).into());
    }
}

/// What the exporter reports from ringlb and from HAProxy for the same traffic.
fn both_scrapes(driver: &str) -> Option<(BTreeMap<String, String>, BTreeMap<String, String>)> {
    if !proxies::haproxy_or_skip() || !tool_or_skip(EXPORTER) {
        return None;
    }
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let lb = Ringlb::start(&cfg("127.0.0.1:0", "127.0.0.1:0", s1.addr, s2.addr), driver);
    traffic(lb.addr("fe"));
    let ours = Exporter::start(&format!("http://{}/stats;csv", lb.addr("stats"))).scrape();
    let theirs = on_haproxy(s1.addr, s2.addr, |fe, st| {
        traffic(fe);
        Exporter::start(&format!("http://{st}/stats;csv")).scrape()
    });
    Some((ours, theirs))
}

/// Metric names whose values depend on time, not on the traffic (rates, durations, the peak
/// of concurrent sessions, which depends on when each side saw a connection end); and the
/// byte counters:
/// ringlb counts the bytes on the wire (as `%U`/`%B` log them), HAProxy 2.6 its internal
/// message representation, a few bytes more per message (README, "Stats").
fn timing(key: &str) -> bool {
    [
        "rate",
        "duration",
        "downtime",
        "_time_",
        "average",
        "last_",
        "limit",
        "bytes_",
        "max_sessions",
    ]
    .iter()
    .any(|w| key.contains(w))
}

both_drivers!(
    exporter_reports_the_same_servers_as_from_haproxy,
    |driver| {
        let Some((ours, theirs)) = both_scrapes(driver) else {
            return;
        };
        assert_eq!(
            ours.get("haproxy_up").map(String::as_str),
            Some("1"),
            "{ours:#?}"
        );
        assert_eq!(theirs.get("haproxy_up").map(String::as_str), Some("1"));
        for prefix in ["haproxy_server_", "haproxy_backend_", "haproxy_frontend_"] {
            let names = |m: &BTreeMap<String, String>| -> BTreeSet<String> {
                m.keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            };
            let (o, t) = (names(&ours), names(&theirs));
            assert_eq!(
                o,
                t,
                "{prefix}* differ: only ringlb {:?}, only HAProxy {:?}",
                o.difference(&t).collect::<Vec<_>>(),
                t.difference(&o).collect::<Vec<_>>()
            );
        }
        let mut differ = Vec::new();
        for (k, v) in theirs
            .iter()
            .filter(|(k, _)| k.starts_with("haproxy_server_"))
        {
            if timing(k) {
                continue;
            }
            if ours.get(k) != Some(v) {
                differ.push(format!("{k}: HAProxy {v}, ringlb {:?}", ours.get(k)));
            }
        }
        assert!(
            differ.is_empty(),
            "per-server values differ:\n{}",
            differ.join("\n")
        );
        let key =
            "haproxy_server_http_responses_total{backend=\"be_a\",code=\"4xx\",server=\"s1\"}";
        assert_eq!(ours.get(key).map(String::as_str), Some("2"), "{key}");
    }
);

/// `promtool check metrics` on a proxy's `/metrics`: its complaints, one per line.
fn promtool_complaints(metrics: &str) -> BTreeSet<String> {
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {PROMTOOL}: {e}"));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(metrics.as_bytes()).unwrap();
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    out.lines()
        .chain(err.lines())
        .filter(|l| !l.trim().is_empty())
        // A complaint names a metric first: keep what it says, not which metric.
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .collect()
}

both_drivers!(
    promtool_finds_nothing_it_does_not_find_in_haproxy,
    |driver| {
        if !proxies::haproxy_or_skip() || !tool_or_skip(PROMTOOL) {
            return;
        }
        let s1 = HttpBackend::start("s1");
        let s2 = HttpBackend::start("s2");
        let lb = Ringlb::start(&cfg("127.0.0.1:0", "127.0.0.1:0", s1.addr, s2.addr), driver);
        traffic(lb.addr("fe"));
        // Latency histograms reach the report once each core has published them (every second).
        let deadline = Instant::now() + Duration::from_secs(5);
        let ours_text = loop {
            let r = get_once(lb.addr("fe"), "/metrics");
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
            let t = r.text();
            if t.contains("ringlb_backend_total_time_seconds_count{proxy=\"be_a\"} 8") {
                break t;
            }
            assert!(
                Instant::now() < deadline,
                "no latency histogram of be_a:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let theirs_text = on_haproxy(s1.addr, s2.addr, |fe, _| {
            traffic(fe);
            get_once(fe, "/metrics").text()
        });
        let ours = promtool_complaints(&ours_text);
        let theirs = promtool_complaints(&theirs_text);
        let extra: Vec<&String> = ours.difference(&theirs).collect();
        assert!(
            extra.is_empty(),
            "promtool on ringlb only: {extra:#?}\n(on HAProxy: {theirs:#?})"
        );
        // The same families as HAProxy's exporter for the same config, ringlb's own aside.
        let families = |t: &str| -> BTreeSet<String> {
            t.lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .filter_map(|l| l.split(' ').next())
                .filter(|n| !n.starts_with("ringlb_"))
                .map(str::to_string)
                .collect()
        };
        let (o, t) = (families(&ours_text), families(&theirs_text));
        let missing: Vec<&String> = t.difference(&o).collect();
        let unknown: Vec<&String> = o.difference(&t).collect();
        assert!(
            unknown.is_empty(),
            "families HAProxy does not have: {unknown:?}"
        );
        eprintln!(
            "HAProxy families ringlb does not print ({}): {missing:?}",
            missing.len()
        );
        // Every HAProxy series ringlb prints (name and labels) is one HAProxy prints for the
        // same config: same names, label names and label values.
        // (The build's version label is each program's own.)
        let series = |t: &str| -> BTreeSet<String> {
            metrics(t)
                .into_keys()
                .map(|k| {
                    if k.starts_with("haproxy_process_build_info") {
                        "haproxy_process_build_info".to_string()
                    } else {
                        k
                    }
                })
                .collect()
        };
        let (os, ts) = (series(&ours_text), series(&theirs_text));
        let not_haproxys: Vec<&String> = os.difference(&ts).collect();
        assert!(
            not_haproxys.is_empty(),
            "series HAProxy does not print: {not_haproxys:#?}"
        );
        let server_series = |s: &BTreeSet<String>| -> BTreeSet<String> {
            s.iter()
                .filter(|k| {
                    k.starts_with("haproxy_server_")
                        || k.starts_with("haproxy_backend_")
                        || k.starts_with("haproxy_frontend_")
                })
                .cloned()
                .collect()
        };
        let missing_px: Vec<String> = server_series(&ts)
            .difference(&server_series(&os))
            .cloned()
            .collect();
        assert!(
            missing_px.is_empty(),
            "frontend/backend/server series HAProxy prints and ringlb does not: {missing_px:#?}"
        );
        // Every family ringlb prints is HAProxy's name or its own, clearly prefixed.
        assert!(
            ours_text.contains("# TYPE ringlb_backend_total_time_seconds histogram"),
            "{ours_text:.2000}"
        );
    }
);

both_drivers!(exporter_scopes_as_haproxy, |driver| {
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let lb = Ringlb::start(&cfg("127.0.0.1:0", "127.0.0.1:0", s1.addr, s2.addr), driver);
    let fe = lb.addr("fe");
    let servers = get_once(fe, "/metrics?scope=server").text();
    assert!(servers.contains("haproxy_server_status"), "{servers:.500}");
    assert!(!servers.contains("haproxy_frontend_"));
    assert!(!servers.contains("haproxy_process_"));
    let both = get_once(fe, "/metrics?scope=frontend&scope=backend").text();
    assert!(both.contains("haproxy_frontend_") && both.contains("haproxy_backend_"));
    assert!(!both.contains("haproxy_server_"));
    assert_eq!(get_once(fe, "/metrics?scope=nope").status, 400);
});

/// `cfg` with the runtime API on `sock`.
fn cfg_socket(
    fe: &str,
    stats: &str,
    sock: &std::path::Path,
    s1: SocketAddr,
    s2: SocketAddr,
) -> String {
    cfg(fe, stats, s1, s2).replacen(
        "global\n",
        &format!("global\n    stats socket {} level admin\n", sock.display()),
        1,
    )
}

both_drivers!(exporter_reads_the_stats_socket, |driver| {
    if !tool_or_skip(EXPORTER) {
        return;
    }
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let c = cfg_socket("127.0.0.1:0", "127.0.0.1:0", &sock, s1.addr, s2.addr);
    let lb = Ringlb::start(&c, driver);
    traffic(lb.addr("fe"));
    let by_socket = Exporter::start(&format!("unix:{}", sock.display())).scrape();
    let by_http = Exporter::start(&format!("http://{}/stats;csv", lb.addr("stats"))).scrape();
    assert_eq!(
        by_socket.get("haproxy_up").map(String::as_str),
        Some("1"),
        "{by_socket:#?}"
    );
    // The socket's `show stat` is the page's `;csv`: the same servers, the same counts.
    let servers = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| k.starts_with("haproxy_server_") && !timing(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    assert_eq!(servers(&by_socket), servers(&by_http));
    let key = "haproxy_server_http_responses_total{backend=\"be_a\",code=\"4xx\",server=\"s1\"}";
    assert_eq!(by_socket.get(key).map(String::as_str), Some("2"), "{key}");
    // HAProxy's socket, read the same way, gives the exporter the same metric names.
    if !proxies::haproxy_or_skip() {
        return;
    }
    let hsock = dir.path().join("haproxy.sock");
    let theirs = loop {
        let (fe, st) = (proxies::free_port(), proxies::free_port());
        let (fe_s, st_s) = (format!("127.0.0.1:{fe}"), format!("127.0.0.1:{st}"));
        let c = cfg_socket(&fe_s, &st_s, &hsock, s1.addr, s2.addr);
        let Some(_h) = proxies::Haproxy::start(&c, fe) else {
            continue;
        };
        traffic(([127, 0, 0, 1], fe).into());
        break Exporter::start(&format!("unix:{}", hsock.display())).scrape();
    };
    let names = |m: &BTreeMap<String, String>| -> BTreeSet<String> {
        m.keys()
            .filter(|k| k.starts_with("haproxy_server_") || k.starts_with("haproxy_backend_"))
            .cloned()
            .collect()
    };
    assert_eq!(names(&by_socket), names(&theirs));
    assert_eq!(servers(&by_socket), servers(&theirs));
});
