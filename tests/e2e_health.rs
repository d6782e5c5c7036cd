//! Health checks end to end: a real ringlb with 2 worker threads, real backends whose `/health`
//! answer the test flips, and many client connections spread over both cores.
//!
//! What must hold: once a server fails its check, no request reaches it on any core after
//! fall x inter plus one inter; it returns after rise successes; backups take over; with
//! nothing left the answer is 503; `observe layer7` marks a server down from live 5xx;
//! slowstart ramps a returning server's share up.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Check interval used by these tests (ms), and fall/rise.
const INTER_MS: u64 = 100;
const FALL: u64 = 3;
const RISE: u64 = 2;
/// Scheduling noise allowed on a shared 2-core machine on top of HAProxy's bound.
const SLACK: Duration = Duration::from_millis(400);

fn lb(driver: &str, be_lines: &str, servers: &[(&str, SocketAddr, &str)]) -> Ringlb {
    let mut cfg = format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n{be_lines}\n"
    );
    for (name, addr, extra) in servers {
        cfg.push_str(&format!("    server {name} {addr} {extra}\n"));
    }
    Ringlb::start(&http_cfg(&cfg), driver)
}

const HTTPCHK: &str =
    "    option httpchk GET /health\n    http-check expect status 200 string OK\n    \
                       default-server inter 100 rise 2 fall 3";

/// Client threads sending requests on fresh connections (so both cores take them) until
/// stopped; they tally who answered, and the statuses.
struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<BTreeMap<String, usize>>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let threads = (0..clients)
            .map(|_| {
                let (stop, seen) = (stop.clone(), seen.clone());
                thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let r = get_once(addr, "/");
                        let key = if r.status == 200 {
                            r.server()
                        } else {
                            format!("status {}", r.status)
                        };
                        *seen.lock().unwrap().entry(key).or_insert(0) += 1;
                    }
                })
            })
            .collect();
        Load {
            stop,
            seen,
            threads,
        }
    }

    /// Tally so far, then reset.
    fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    fn stop(self) -> BTreeMap<String, usize> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}

fn n(t: &BTreeMap<String, usize>, k: &str) -> usize {
    t.get(k).copied().unwrap_or(0)
}

both_drivers!(
    failing_check_stops_traffic_on_every_core_and_rise_brings_it_back,
    |driver| {
        let b: Vec<HttpBackend> = ["s1", "s2", "s3"]
            .iter()
            .map(|n| HttpBackend::start(n))
            .collect();
        let lb = lb(
            driver,
            HTTPCHK,
            &[
                ("s1", b[0].addr, "check"),
                ("s2", b[1].addr, "check"),
                ("s3", b[2].addr, "check"),
            ],
        );
        let load = Load::start(lb.addr("fe"), 8);
        thread::sleep(Duration::from_millis(300));
        assert!(n(&load.take(), "s2") > 0, "s2 serves while healthy");
        let failed_at = Instant::now();
        b[1].set_health(503);
        assert!(
            lb.wait_for_output("Server app/s2 is DOWN", Duration::from_secs(3)),
            "{}",
            lb.output()
        );
        let bound = Duration::from_millis(FALL * INTER_MS + INTER_MS);
        // Keep the load on well past the bound; nothing more may reach s2 after it.
        thread::sleep(bound + SLACK);
        load.take();
        let before = b[1].traffic();
        thread::sleep(Duration::from_millis(500));
        assert_eq!(b[1].traffic(), before, "s2 got traffic while down");
        let last = b[1].last_traffic().expect("s2 served before");
        let to_quiet = last.saturating_duration_since(failed_at);
        eprintln!("measured ({driver}): failure -> no more traffic to s2 on any core: {to_quiet:?} (bound {bound:?})");
        assert!(
            to_quiet <= bound + SLACK,
            "traffic reached s2 {to_quiet:?} after its check failed"
        );
        let out = lb.output();
        assert!(
            out.contains("Server app/s2 is DOWN, reason: Layer7 wrong status, code: 503")
                && out.contains("2 active and 0 backup servers left."),
            "{out}"
        );
        let t = load.take();
        assert_eq!(n(&t, "s2"), 0, "{t:?}");
        assert!(n(&t, "s1") > 0 && n(&t, "s3") > 0, "{t:?}");
        // Rise: back after `rise` good checks.
        let healed_at = Instant::now();
        b[1].set_health(200);
        assert!(
            lb.wait_for_output("Server app/s2 is UP", Duration::from_secs(3)),
            "{}",
            lb.output()
        );
        let back = healed_at.elapsed();
        assert!(
            back <= Duration::from_millis(RISE * INTER_MS) + SLACK,
            "UP after {back:?}"
        );
        thread::sleep(Duration::from_millis(300));
        let t = load.stop();
        assert!(n(&t, "s2") > 0, "s2 serves again: {t:?}");
        assert!(!t.keys().any(|k| k.starts_with("status")), "{t:?}");
    }
);

both_drivers!(backup_takes_over_then_503_when_nothing_is_left, |driver| {
    let b: Vec<HttpBackend> = ["s1", "k1", "k2"]
        .iter()
        .map(|n| HttpBackend::start(n))
        .collect();
    let lb = lb(
        driver,
        HTTPCHK,
        &[
            ("s1", b[0].addr, "check"),
            ("k1", b[1].addr, "check backup"),
            ("k2", b[2].addr, "check backup"),
        ],
    );
    let load = Load::start(lb.addr("fe"), 4);
    thread::sleep(Duration::from_millis(300));
    let t = load.take();
    assert!(
        n(&t, "s1") > 0 && n(&t, "k1") == 0 && n(&t, "k2") == 0,
        "{t:?}"
    );
    b[0].set_health(500);
    assert!(lb.wait_for_output("Server app/s1 is DOWN", Duration::from_secs(3)));
    thread::sleep(Duration::from_millis(200));
    load.take();
    thread::sleep(Duration::from_millis(300));
    let t = load.take();
    // Without `option allbackups` only the first backup serves.
    assert!(
        n(&t, "k1") > 0 && n(&t, "s1") == 0 && n(&t, "k2") == 0,
        "{t:?}"
    );
    assert!(
        lb.output().contains("Running on backup."),
        "{}",
        lb.output()
    );
    b[1].set_health(500);
    b[2].set_health(500);
    assert!(lb.wait_for_output("has no server available!", Duration::from_secs(3)));
    thread::sleep(Duration::from_millis(200));
    load.take();
    thread::sleep(Duration::from_millis(300));
    let t = load.stop();
    assert!(n(&t, "status 503") > 0 && t.len() == 1, "{t:?}");
});

both_drivers!(allbackups_spreads_over_every_backup, |driver| {
    let b: Vec<HttpBackend> = ["s1", "k1", "k2"]
        .iter()
        .map(|n| HttpBackend::start(n))
        .collect();
    let lb = lb(
        driver,
        &format!("{HTTPCHK}\n    option allbackups"),
        &[
            ("s1", b[0].addr, "check"),
            ("k1", b[1].addr, "check backup"),
            ("k2", b[2].addr, "check backup"),
        ],
    );
    b[0].set_health(503);
    assert!(lb.wait_for_output("Server app/s1 is DOWN", Duration::from_secs(3)));
    let load = Load::start(lb.addr("fe"), 4);
    thread::sleep(Duration::from_millis(400));
    let t = load.stop();
    assert!(
        n(&t, "k1") > 0 && n(&t, "k2") > 0 && n(&t, "s1") == 0,
        "{t:?}"
    );
});

both_drivers!(observe_layer7_marks_down_from_live_5xx, |driver| {
    let b: Vec<HttpBackend> = ["s1", "s2"].iter().map(|n| HttpBackend::start(n)).collect();
    // Plain TCP checks pass all along and come rarely: only live traffic can mark s1 down.
    let lb = lb(
        driver,
        "",
        &[
            (
                "s1",
                b[0].addr,
                "check inter 10s observe layer7 error-limit 3 on-error mark-down",
            ),
            ("s2", b[1].addr, ""),
        ],
    );
    for _ in 0..40 {
        let r = get_once(lb.addr("fe"), "/status/500");
        assert_eq!(r.status, 500);
        if lb.output().contains("is DOWN") {
            break;
        }
    }
    assert!(
        lb.wait_for_output(
            "Server app/s1 is DOWN, reason: Health analyze, info: \"Detected 3 consecutive errors",
            Duration::from_secs(3)
        ),
        "{}",
        lb.output()
    );
    thread::sleep(Duration::from_millis(50));
    let before = b[0].traffic();
    for _ in 0..20 {
        assert_eq!(get_once(lb.addr("fe"), "/").server(), "s2");
    }
    assert_eq!(b[0].traffic(), before);
});

both_drivers!(slowstart_ramps_a_returning_server_up, |driver| {
    let b: Vec<HttpBackend> = ["s1", "s2"].iter().map(|n| HttpBackend::start(n)).collect();
    let lb = lb(
        driver,
        HTTPCHK,
        &[
            ("s1", b[0].addr, "check"),
            ("s2", b[1].addr, "check slowstart 3s"),
        ],
    );
    b[1].set_health(503);
    assert!(lb.wait_for_output("Server app/s2 is DOWN", Duration::from_secs(3)));
    let load = Load::start(lb.addr("fe"), 4);
    b[1].set_health(200);
    assert!(lb.wait_for_output("Server app/s2 is UP", Duration::from_secs(3)));
    load.take();
    thread::sleep(Duration::from_millis(600));
    let early = load.take();
    thread::sleep(Duration::from_millis(2600));
    load.take();
    thread::sleep(Duration::from_millis(600));
    let late = load.stop();
    let share =
        |t: &BTreeMap<String, usize>| n(t, "s2") as f64 / (n(t, "s1") + n(t, "s2")).max(1) as f64;
    eprintln!(
        "slowstart share of s2: early {:.2}, late {:.2}",
        share(&early),
        share(&late)
    );
    assert!(share(&early) < 0.3, "early {early:?}");
    assert!(share(&late) > 0.35, "late {late:?}");
});

both_drivers!(silent_check_target_is_bounded_by_timeout_check, |driver| {
    // Accepts (the kernel does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let ok = HttpBackend::start("s2");
    let lb = lb(
        driver,
        "    option httpchk GET /health\n    timeout check 200ms",
        &[
            ("s1", addr, "check inter 100 fall 1"),
            ("s2", ok.addr, "check inter 100"),
        ],
    );
    assert!(
        lb.wait_for_output(
            "Server app/s1 is DOWN, reason: Layer7 timeout",
            Duration::from_secs(3)
        ),
        "{}",
        lb.output()
    );
    let out = lb.output();
    let line = out
        .lines()
        .find(|l| l.contains("app/s1 is DOWN"))
        .unwrap_or("");
    let ms: u64 = line
        .split("check duration: ")
        .nth(1)
        .and_then(|r| r.split("ms").next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((150..1000).contains(&ms), "{line}");
    assert_eq!(get_once(lb.addr("fe"), "/").server(), "s2");
    drop(silent);
});

// `option log-health-checks`: each check that changes something is logged with HAProxy
// 2.6's words and its rise/fall count (lines compared with HAProxy 2.6 on loopback: the same
// sequence for fall 2 rise 2), and the transitions then leave the reason out.
both_drivers!(log_health_checks_logs_each_step, |driver| {
    let b = HttpBackend::start("s1");
    let lb = lb(
        driver,
        "    option log-health-checks\n    option httpchk GET /health",
        &[("s1", b.addr, "check inter 100 fall 2 rise 2")],
    );
    let steps = |lb: &Ringlb| -> Vec<String> {
        lb.output()
            .lines()
            .filter(|l| l.contains("Health check for server app/s1 "))
            .filter_map(|l| l.rsplit_once(", status: ").map(|(_, s)| s.to_string()))
            .collect()
    };
    let wait = |lb: &Ringlb, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while steps(lb).len() < n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    };
    wait(&lb, 1);
    b.set_health(503);
    wait(&lb, 3);
    assert!(
        lb.wait_for_output("Server app/s1 is DOWN. 0 active", Duration::from_secs(3)),
        "the transition without its reason\n{}",
        lb.output()
    );
    b.set_health(200);
    wait(&lb, 5);
    assert!(
        lb.wait_for_output("Server app/s1 is UP. 1 active", Duration::from_secs(3)),
        "{}",
        lb.output()
    );
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        steps(&lb),
        ["2/2 UP.", "1/2 UP.", "0/2 DOWN.", "1/2 DOWN.", "2/2 UP."],
        "passes at full health are not logged\n{}",
        lb.output()
    );
    let out = lb.output();
    assert!(
        out.contains("Health check for server app/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: "),
        "{out}"
    );
    assert!(
        out.contains(
            "Health check for server app/s1 failed, reason: Layer7 wrong status, code: 503, info: "
        ),
        "{out}"
    );
});
