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
        Backend::start_with(&[])
    }

    fn start_with(extra: &[&str]) -> Backend {
        let mut child = Command::new(BIN)
            .args(["backend", "--no-pin", "--name", "smoke"])
            .args(extra)
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

/// What one `load` run left: its exit status, output and the JSON it wrote.
struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    json: serde_json::Value,
}

/// Runs `load ARGS URL --json FILE`.
fn run_load(args: &[&str], url: &str) -> Run {
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
    let text = std::fs::read_to_string(&json).unwrap_or_default();
    let _ = std::fs::remove_file(&json);
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        json: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    }
}

/// Runs `load`, which must succeed; returns (stdout, the JSON).
fn load(args: &[&str], url: &str) -> (String, serde_json::Value) {
    let r = run_load(args, url);
    assert!(r.status.success(), "{}", r.stderr);
    (r.stdout, r.json)
}

/// A number of the result: top level (`requests`) or a latency (`p50`, `max`).
fn field(json: &serde_json::Value, key: &str) -> f64 {
    let result = &json["result"];
    result[key]
        .as_f64()
        .or_else(|| result["latency_ms"][key].as_f64())
        .or_else(|| result["errors"][key].as_f64())
        .unwrap_or_else(|| panic!("{key} in {json}"))
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

/// Open loop has no floor of its own: against an instant backend its p50 stays far below
/// the ~1 ms that monoio's millisecond timer used to add, and against a backend that answers
/// 5 ms late it shows those 5 ms (the backend's own timer adds up to ~2 ms).
#[test]
fn open_loop_latency_is_the_servers_not_the_timers() {
    let fast = Backend::start();
    let url = format!("http://127.0.0.1:{}/", fast.port);
    let (stdout, json) = load(
        &["-c", "10", "--rate", "2000", "-d", "2", "--warmup", "0.3"],
        &url,
    );
    let p50 = field(&json, "p50");
    assert!(
        p50 < 0.9,
        "open-loop p50 {p50} ms against an instant backend: {stdout}"
    );

    let slow = Backend::start_with(&["--delay", "5"]);
    let url = format!("http://127.0.0.1:{}/", slow.port);
    let (stdout, json) = load(
        &["-c", "20", "--rate", "1000", "-d", "2", "--warmup", "0.3"],
        &url,
    );
    let p50 = field(&json, "p50");
    assert!(
        (5.0..8.0).contains(&p50),
        "open-loop p50 {p50} ms against a 5 ms backend: {stdout}"
    );
}

#[test]
fn connect_errors_are_counted_and_a_run_that_only_failed_fails() {
    // Port 1 on loopback: nothing listens there.
    let r = run_load(
        &["-c", "2", "-d", "0.3", "--warmup", "0"],
        "http://127.0.0.1:1/",
    );
    assert_eq!(field(&r.json, "requests"), 0.0);
    assert!(field(&r.json, "connect") > 0.0, "{}", r.json);
    assert!(
        !r.status.success(),
        "every request failed: the exit status says so"
    );
    assert!(r.stderr.contains("every request failed"), "{}", r.stderr);
}

#[test]
fn json_names_the_machine_and_hgrm_is_hdrhistogram_text() {
    let b = Backend::start();
    let url = format!("http://127.0.0.1:{}/", b.port);
    let hgrm = std::env::temp_dir().join(format!("ringlb-bench-{}.hgrm", std::process::id()));
    // `--opt=value` spelling on purpose.
    let hgrm_arg = format!("--hgrm={}", hgrm.display());
    let (_, json) = load(&["-c", "4", "-n", "300", &hgrm_arg], &url);
    let about = &json["about"];
    assert!(
        about["machine"]["nproc"].as_u64().unwrap_or(0) >= 1,
        "{about}"
    );
    assert!(
        about["time_utc"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{about}"
    );
    assert!(about["commit"].as_str().is_some(), "{about}");
    let text = std::fs::read_to_string(&hgrm).expect("hgrm written");
    let _ = std::fs::remove_file(&hgrm);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.contains("Value"))
        .map(|l| l.split_whitespace().map(|w| w.parse().unwrap()).collect())
        .collect();
    let last = rows.last().expect("rows");
    assert_eq!(last[1], 1.0, "ends at percentile 1");
    assert_eq!(last[2], 300.0, "total count is every request");
    assert!(rows
        .windows(2)
        .all(|w| w[0][0] <= w[1][0] && w[0][2] <= w[1][2]));
    assert!(text.contains("#[Max     ="), "{text}");
}

#[test]
fn version_completions_usage_errors_and_a_closed_pipe() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && v.starts_with("ringlb-bench "),
        "{v}"
    );
    assert!(v.contains("(git "), "the commit it was built from: {v}");
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ringlb-bench"),
        ("fish", "complete -c ringlb-bench"),
    ] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(mark),
            "{shell}: {text}"
        );
        assert!(
            text.contains("connections"),
            "{shell} completes load's options"
        );
    }
    // A bad value names its option; exit status 2 (usage).
    let out = Command::new(BIN)
        .args(["load", "-c", "0", "http://127.0.0.1:1/"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--connections"), "{err}");
    // Help text into a pipe whose reader is already gone (as `| head` leaves it): the program
    // ends on SIGPIPE like any Unix tool, not with a panic in println! (exit 101).
    let mut fds = [0; 2];
    // SAFETY: pipe() fills two new descriptors, owned at once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created by pipe() and are not used elsewhere.
    let (reader, writer) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    let out = Command::new(BIN)
        .args(["load", "--help"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
