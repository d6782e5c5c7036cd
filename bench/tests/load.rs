//! Smoke loads: `ringlb-bench load` for one second against a `ringlb-bench backend` started here.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_ringlb-bench");

struct Backend {
    child: Child,
    port: u16,
}

impl Backend {
    fn start() -> Backend {
        let mut child = Command::new(BIN)
            .args(["backend", "--no-pin", "--name", "smoke"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn backend");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("listening line");
        let port = line.trim().rsplit(':').next().unwrap().parse().unwrap();
        Backend { child, port }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `load ARGS URL --json FILE` and returns (stdout, the JSON text).
fn load(args: &[&str], url: &str) -> (String, String) {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let name = format!("ringlb-bench-smoke-{}-{n}.json", std::process::id());
    let json = std::env::temp_dir().join(name);
    let out = Command::new(BIN)
        .arg("load")
        .args(args)
        .args(["--no-pin", "-q", "--json", json.to_str().unwrap(), url])
        .output()
        .expect("run load");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("json written");
    let _ = std::fs::remove_file(&json);
    (String::from_utf8_lossy(&out.stdout).into_owned(), text)
}

/// The number after `"key":` in the result part of `json` (enough for these flat checks).
fn field(json: &str, key: &str) -> f64 {
    let json = &json[json.find("\"result\"").expect("a result")..];
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: {}", &rest[..end]))
}

#[test]
fn closed_loop_keepalive_for_one_second() {
    let b = Backend::start();
    let url = format!("http://127.0.0.1:{}/", b.port);
    let (stdout, json) = load(&["-c", "8", "-d", "1", "--warmup", "0.2"], &url);
    assert!(field(&json, "requests") > 100.0, "{stdout}");
    assert_eq!(field(&json, "errors_total"), 0.0, "{stdout}");
    assert!(field(&json, "p99") > 0.0);
    assert!(stdout.contains("x-server: smoke"), "{stdout}");
    assert_eq!(
        field(&json, "connects"),
        8.0,
        "keep-alive reuses its 8 connections"
    );
}

#[test]
fn close_mode_post_and_open_loop_rate() {
    let b = Backend::start();
    let url = format!("http://127.0.0.1:{}/echo", b.port);
    let (stdout, json) = load(&["-c", "4", "-n", "200", "--close", "--body", "1k"], &url);
    assert_eq!(field(&json, "requests"), 200.0, "{stdout}");
    assert!(
        field(&json, "connects") >= 200.0,
        "a connection per request: {json}"
    );
    assert_eq!(field(&json, "errors_total"), 0.0);

    // 500 req/s for 1 s over 5 connections: 500 requests, give or take the edges.
    let url = format!("http://127.0.0.1:{}/", b.port);
    let (stdout, json) = load(
        &["-c", "5", "--rate", "500", "-d", "1", "--warmup", "0.2"],
        &url,
    );
    let n = field(&json, "requests");
    assert!((475.0..=525.0).contains(&n), "{n}: {stdout}");
}

#[test]
fn connect_errors_are_counted_not_fatal() {
    // Port 1 on loopback: nothing listens there.
    let (_, json) = load(
        &["-c", "2", "-d", "0.3", "--warmup", "0"],
        "http://127.0.0.1:1/",
    );
    assert_eq!(field(&json, "requests"), 0.0);
    assert!(field(&json, "connect") > 0.0, "{json}");
}
