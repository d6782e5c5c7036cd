//! The stats page end to end: a real ringlb with 2 worker threads in front of real backends.
//!
//! What must hold: the `;csv` totals count every request exactly, whichever core served it
//! (counters are per core, merged when the page is asked for); the seed's stats backend
//! answers only with the right password; `;up`, `;norefresh`, `;json`, `monitor-uri` and
//! the refusals of what ringlb does not do behave as in HAProxy 2.6.

mod common;

use base64::Engine;
use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A `;csv` report: its column names, and its rows by `pxname/svname`.
struct Csv {
    cols: HashMap<String, usize>,
    rows: HashMap<String, Vec<String>>,
}

impl Csv {
    fn parse(text: &str) -> Csv {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        let header = header
            .strip_prefix("# ")
            .unwrap_or_else(|| panic!("no CSV header: {text}"));
        let cols = header
            .split(',')
            .enumerate()
            .map(|(i, n)| (n.to_string(), i))
            .collect();
        let rows = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let cells: Vec<String> = l.split(',').map(str::to_string).collect();
                (format!("{}/{}", cells[0], cells[1]), cells)
            })
            .collect();
        Csv { cols, rows }
    }

    fn get(&self, row: &str, col: &str) -> String {
        let r = self
            .rows
            .get(row)
            .unwrap_or_else(|| panic!("no row {row}: {:?}", self.rows.keys()));
        let i = self.cols[col];
        r[i].clone()
    }

    fn num(&self, row: &str, col: &str) -> u64 {
        let v = self.get(row, col);
        v.parse()
            .unwrap_or_else(|_| panic!("{row} {col}: '{v}' is not a number"))
    }
}

fn basic(user: &str, pass: &str) -> String {
    let cred = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {cred}")
}

/// A GET with this Host and these headers.
fn get_host(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut c = Client::connect(addr);
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.send(req);
    c.read_response()
}

/// The seed's stats Host.
const STATS_HOST: &str = "test.haproxy.com";

fn csv(addr: SocketAddr, path: &str, auth: Option<&str>) -> Csv {
    let h: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let r = get_host(addr, STATS_HOST, path, &h);
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("content-type"), Some("text/plain"));
    Csv::parse(&r.text())
}

/// The seed's stats backend, reached by Host as the seed's frontend does.
fn seed_like(s1: SocketAddr, s2: SocketAddr) -> String {
    http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    \
         acl host_haproxy_stats hdr(host) -i test.haproxy.com\n    \
         use_backend haproxy_stats if host_haproxy_stats\n    default_backend app\n\n\
         backend haproxy_stats\n    mode http\n    option http-server-close\n    stats enable\n    \
         stats auth id:password\n    stats uri /stats\n    stats hide-version\n\n\
         backend app\n    balance roundrobin\n    server s1 {s1}\n    server s2 {s2}\n"
    ))
}

both_drivers!(csv_totals_count_every_request_on_every_core, |driver| {
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let lb = Ringlb::start(&seed_like(s1.addr, s2.addr), driver);
    let addr = lb.addr("fe");
    // Fresh connections, so that both cores take some.
    for _ in 0..100 {
        assert_eq!(get_once(addr, "/").status, 200);
    }
    let auth = basic("id", "password");
    // A request is counted when its record ends, just after its last byte went out: the
    // report may run on the other core a moment before. Read until all 100 are there.
    let deadline = Instant::now() + Duration::from_secs(2);
    let c = loop {
        let c = csv(addr, "/stats;csv", Some(&auth));
        if c.num("app/BACKEND", "req_tot") >= 100 || Instant::now() > deadline {
            break c;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The stats request itself is counted once it ends: 100 requests before it.
    // The frontend counts the 100 and the earlier readings of the page.
    let readings = c.num("haproxy_stats/BACKEND", "req_tot");
    assert_eq!(c.num("fe/FRONTEND", "req_tot"), 100 + readings);
    assert_eq!(c.num("fe/FRONTEND", "hrsp_2xx"), 100 + readings);
    assert_eq!(
        c.num("fe/FRONTEND", "stot"),
        101,
        "100 connections and the stats one"
    );
    assert_eq!(c.num("app/BACKEND", "stot"), 100);
    assert_eq!(c.num("app/BACKEND", "lbtot"), 100);
    assert_eq!(c.num("app/BACKEND", "hrsp_2xx"), 100);
    let (n1, n2) = (c.num("app/s1", "stot"), c.num("app/s2", "stot"));
    assert_eq!(n1 + n2, 100);
    assert_eq!(n1 as usize, s1.requests(), "s1's own count");
    assert_eq!(n2 as usize, s2.requests(), "s2's own count");
    assert_eq!(
        c.num("app/s1", "hrsp_2xx") + c.num("app/s2", "hrsp_2xx"),
        100
    );
    assert_eq!(c.get("app/s1", "status"), "no check");
    assert_eq!(c.get("app/BACKEND", "status"), "UP");
    assert_eq!(c.get("app/BACKEND", "algo"), "roundrobin");
    assert_eq!(c.get("app/s1", "addr"), s1.addr.to_string());
    // Bytes went both ways and were counted on the frontend and on the backend alike.
    assert!(c.num("fe/FRONTEND", "bout") > 0);
    assert_eq!(
        c.num("app/BACKEND", "bout"),
        c.num("app/s1", "bout") + c.num("app/s2", "bout")
    );
    // A second report sees the first one counted (intercepted by the stats page).
    let again = loop {
        let a = csv(addr, "/stats;csv", Some(&auth));
        if a.num("haproxy_stats/BACKEND", "req_tot") > readings || Instant::now() > deadline {
            break a;
        }
    };
    let readings = again.num("haproxy_stats/BACKEND", "req_tot");
    assert!(readings >= 1);
    assert_eq!(again.num("fe/FRONTEND", "req_tot"), 100 + readings);
    assert_eq!(again.num("app/BACKEND", "req_tot"), 100);
});

both_drivers!(seed_stats_backend_wants_its_password, |driver| {
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let lb = Ringlb::start(&seed_like(s1.addr, s2.addr), driver);
    let addr = lb.addr("fe");
    let ask = |extra: Option<(&str, &str)>| {
        let h: Vec<(&str, &str)> = extra.into_iter().collect();
        get_host(addr, STATS_HOST, "/stats", &h)
    };
    let right = basic("id", "password");
    let ok = ask(Some(("Authorization", &right)));
    assert_eq!(ok.status, 200, "{}", ok.describe());
    assert_eq!(ok.header("content-type"), Some("text/html"));
    assert!(ok.text().contains("app"), "the page lists the proxies");
    let wrong = basic("id", "nope");
    for r in [ask(Some(("Authorization", &wrong))), ask(None)] {
        assert_eq!(r.status, 401, "{}", r.describe());
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"HAProxy Statistics\"")
        );
    }
    // Without the stats Host the request goes to the servers, untouched.
    let other = get_once(addr, "/stats");
    assert_eq!(other.status, 200);
    assert!(other.header("x-server").is_some());
    assert_eq!(s1.requests() + s2.requests(), 1);
});

both_drivers!(up_norefresh_json_and_monitor, |driver| {
    let s1 = HttpBackend::start("s1");
    let dead = refused_addr();
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    monitor-uri /healthz\n    default_backend app\n\n\
         backend app\n    server s1 {} check inter 100\n    server gone {dead} check inter 100 fall 1\n\n\
         listen stats\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /st\n    stats refresh 7s\n",
        s1.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let (fe, st) = (lb.addr("fe"), lb.addr("stats"));
    let m = get_once(fe, "/healthz");
    assert_eq!(m.status, 200);
    assert_eq!(
        m.text(),
        "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"
    );
    assert_eq!(s1.requests(), 0, "monitor-uri never reaches a server");
    // Only the exact URI: with a query it is an ordinary request.
    assert_eq!(get_once(fe, "/healthz?x").status, 200);
    assert_eq!(s1.requests(), 1);
    // The dead server goes DOWN after its first failed check.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let c = csv(st, "/st;csv", None);
        if c.get("app/gone", "status") == "DOWN" {
            assert_eq!(c.get("app/gone", "check_status"), "L4CON");
            assert!(c.num("app/gone", "chkdown") >= 1);
            assert_eq!(c.get("app/s1", "status"), "UP");
            assert_eq!(c.get("app/s1", "check_status"), "L4OK");
            assert_eq!(c.num("fe/FRONTEND", "intercepted"), 1);
            break;
        }
        assert!(Instant::now() < deadline, "gone never went DOWN");
        std::thread::sleep(Duration::from_millis(50));
    }
    let up = csv(st, "/st;csv;up", None);
    assert!(up.rows.contains_key("app/s1"));
    assert!(
        !up.rows.contains_key("app/gone"),
        ";up hides servers that are not up"
    );
    let r = get_once(st, "/st;csv");
    assert_eq!(r.header("refresh"), Some("7"));
    let r = get_once(st, "/st;csv;norefresh");
    assert_eq!(r.header("refresh"), None);
    let j = get_once(st, "/st;json");
    assert_eq!(j.header("content-type"), Some("application/json"));
    let text = j.text();
    assert!(
        text.starts_with("[[{\"objType\":\"Frontend\""),
        "{text:.200}"
    );
    assert!(text.contains("\"name\":\"svname\""));
});

#[test]
fn what_ringlb_does_not_do_is_refused_by_name() {
    let cases = [
        ("backend b\n    stats admin if TRUE\n", "stats admin"),
        (
            "backend b\n    stats http-request deny\n",
            "stats http-request",
        ),
        (
            "frontend f\n    bind 127.0.0.1:0\n    http-request use-service lua.x\n",
            "use-service lua.x",
        ),
        (
            "frontend f\n    bind 127.0.0.1:0\n    http-request use-service prometheus-exporterr\n",
            "did you mean 'prometheus-exporter'",
        ),
        ("backend b\n    stats auth nopassword\n", "USER:PASSWORD"),
        (
            "frontend f\n    bind 127.0.0.1:0\n    monitor-uri healthz\n",
            "must start with '/'",
        ),
    ];
    for (cfg, want) in cases {
        let out = check_config(cfg);
        assert!(!out.status.success(), "{cfg} loaded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{cfg}: wanted '{want}' in:\n{err}");
        assert!(err.contains(".cfg:"), "file:line in {err}");
    }
}

/// `ringlb -c -f FILE` on a config written to a temp dir.
fn check_config(cfg: &str) -> std::process::Output {
    let dir = TempDir::new();
    let path = dir.write("t.cfg", cfg);
    std::process::Command::new(bin())
        .args(["-c", "-f"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("run ringlb: {e}"))
}

/// The stats page as a browser shows it: headless Chromium renders it to a PNG (the README's
/// screenshot is made this way: `RINGLB_SCREENSHOT=FILE`, see scripts/stats-screenshot.sh).
/// Under CI Chromium is installed (.ci/run); elsewhere a missing browser skips with a note.
#[test]
fn stats_page_renders_in_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| has_tool(b))
    else {
        if std::env::var_os("CI").is_some() {
            panic!("install chromium (.ci/run does)");
        }
        eprintln!("skipping: chromium is not installed (CI fails here instead)");
        return;
    };
    let s1 = HttpBackend::start("s1");
    let s2 = HttpBackend::start("s2");
    let dead = refused_addr();
    let cfg = http_cfg(&format!(
        "frontend www\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    balance roundrobin\n    option httpchk GET /health\n    \
         server s1 {} check inter 200\n    server s2 {} check inter 200\n    \
         server s3 {dead} check inter 200 fall 1\n    server spare {} backup\n\n\
         listen stats\n    bind 127.0.0.1:0\n    stats enable\n    stats uri /stats\n    \
         stats show-legends\n    stats show-desc edge load balancer, 2 cores\n",
        s1.addr, s2.addr, s1.addr
    ));
    let lb = Ringlb::start(&cfg, "io_uring");
    for _ in 0..200 {
        get_once(lb.addr("www"), "/size/2000");
    }
    // Checks have run and the cores have published their latency histograms.
    std::thread::sleep(Duration::from_millis(1300));
    let dir = TempDir::new();
    let png = std::env::var("RINGLB_SCREENSHOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("stats.png"));
    let url = format!("http://{}/stats", lb.addr("stats"));
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg("--window-size=1600,1100")
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("run {chromium}: {e}"));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}); chromium said:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(bytes.len() > 20_000, "a blank page? {} bytes", bytes.len());
    // What the browser parsed: the DOM has the tables and the percentiles.
    let dom = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(&url)
        .output()
        .unwrap_or_else(|e| panic!("run {chromium}: {e}"));
    let dom = String::from_utf8_lossy(&dom.stdout);
    for want in [
        "Statistics Report",
        "app",
        "s3",
        "p99",
        "edge load balancer",
    ] {
        assert!(dom.contains(want), "'{want}' not in the rendered page");
    }
}

both_drivers!(queue_connect_and_reuse_are_counted, |driver| {
    let slow = HttpBackend::start_slow("slow", 300);
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    timeout queue 5s\n    server slow {} maxconn 1\n\n\
         listen stats\n    bind 127.0.0.1:0\n    stats uri /st\n",
        slow.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let (fe, st) = (lb.addr("fe"), lb.addr("stats"));
    // One client connection sends 3 requests one after the other: the server connection is
    // made once, then taken from the pool.
    let mut c = Client::connect(fe);
    for _ in 0..3 {
        assert_eq!(c.get("/").status, 200);
    }
    drop(c);
    // Then 3 at once: maxconn 1 queues two of them.
    let waiting: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || get_once(fe, "/").status))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen_queue = 0;
    while Instant::now() < deadline && seen_queue == 0 {
        seen_queue = Csv::parse(&get_once(st, "/st;csv").text()).num("app/BACKEND", "qcur");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(seen_queue >= 1, "no request was seen queued");
    for t in waiting {
        assert_eq!(t.join().unwrap(), 200);
    }
    let c = Csv::parse(&get_once(st, "/st;csv").text());
    assert_eq!(c.num("app/BACKEND", "qcur"), 0);
    assert!(c.num("app/BACKEND", "qmax") >= 1);
    let (connect, reuse) = (c.num("app/slow", "connect"), c.num("app/slow", "reuse"));
    assert_eq!(connect + reuse, 6, "every request took a connection");
    assert!(
        reuse >= 2,
        "the keep-alive requests reused theirs: connect {connect} reuse {reuse}"
    );
    assert_eq!(c.num("app/BACKEND", "reuse"), reuse);
});

#[test]
fn node_and_description_on_the_page() {
    let s1 = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    node edge-7\n    description the front tier\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n\
         listen stats\n    bind 127.0.0.1:0\n    stats uri /st\n    stats show-node\n    \
         stats show-desc\n    server s1 {}\n",
        s1.addr
    );
    let lb = Ringlb::start(&cfg, "io_uring");
    let page = get_once(lb.addr("stats"), "/st").text();
    assert!(page.contains("edge-7"), "node name missing");
    assert!(page.contains("the front tier"), "description missing");
}
