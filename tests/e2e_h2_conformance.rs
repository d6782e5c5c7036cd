//! HTTP/2 conformance: `httpwg-cli` (crates.io; the h2spec replacement, binary `httpwg`),
//! unchanged, against ringlb's cleartext h2 bind (`bind ... proto h2`), on both drivers. Every
//! test must pass but those in `EXCEPTIONS`, each with its reason. The same run against
//! HAProxy 2.6 prints HAProxy's score, for comparison.
//!
//! httpwg speaks cleartext h2 with prior knowledge only (no TLS option): the TLS binds' h2 is
//! the same connection level behind the TLS stream, and tests/e2e_h2.rs covers it with curl
//! and the Python h2 client.
//!
//! The tool: `cargo install httpwg-cli --locked` (.ci/run does). Without it the tests are
//! skipped outside CI and fail under CI (`CI` set), as the other suites that need tools.
//! httpwg runs its tests one after the other here (`SEQUENTIAL=1`), each on its own
//! connection; a test that panics inside httpwg prints no verdict line, so the verdicts are
//! read from `-v`'s `Running test:` lines: run, neither passed nor failed = failed.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use common::*;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

/// The httpwg tests ringlb is allowed to fail, each with its reason. ringlb's target is all
/// of them (issue 12): each entry is work left, not a choice. Measured when branch h2 (the h2
/// crate 0.4.21 over ringlb's poll adapter) was merged last (837d452): 91 of 107 on either
/// driver.
const EXCEPTIONS: &[(&str, &str)] = &[
    // The h2 crate answers these connection errors with GOAWAY(PROTOCOL_ERROR), where RFC 9113
    // names another code: the connection is closed as it must be, with the wrong code. h2's
    // codec/framed_read.rs maps every frame that fails to load to PROTOCOL_ERROR.
    (
        "RFC 9113 :: 4. http frames :: invalid header block fragment",
        "h2 0.4.21: PROTOCOL_ERROR, not COMPRESSION_ERROR (section 4.3)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends ping frame with invalid length",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.7)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends priority frame with invalid length",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.3)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends rst stream frame with invalid length",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.4)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends settings frame with ack and payload",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.5)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends settings frame with invalid length",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.5)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends window update frame with invalid length",
        "h2 0.4.21: PROTOCOL_ERROR, not FRAME_SIZE_ERROR (section 6.9)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends settings initial window size with exceeded max window size value",
        "h2 0.4.21: PROTOCOL_ERROR, not FLOW_CONTROL_ERROR (section 6.5.2)",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends settings initial window size with invalid value",
        "h2 0.4.21: PROTOCOL_ERROR, not FLOW_CONTROL_ERROR (section 6.5.2)",
    ),
    // Frames on streams that are closed or half-closed (remote): STREAM_CLOSED is due (section
    // 5.1); h2 answers PROTOCOL_ERROR for these.
    (
        "RFC 9113 :: 5. streams and multiplexing :: closed sends headers frame",
        "h2 0.4.21: PROTOCOL_ERROR, not STREAM_CLOSED (section 5.1)",
    ),
    (
        "RFC 9113 :: 5. streams and multiplexing :: closed sends headers frame after rst stream",
        "h2 0.4.21: PROTOCOL_ERROR, not STREAM_CLOSED (section 5.1)",
    ),
    (
        "RFC 9113 :: 5. streams and multiplexing :: half closed remote sends data frame",
        "h2 0.4.21: PROTOCOL_ERROR, not STREAM_CLOSED (section 5.1)",
    ),
    (
        "RFC 9113 :: 5. streams and multiplexing :: half closed remote sends headers frame",
        "h2 0.4.21: PROTOCOL_ERROR, not STREAM_CLOSED (section 5.1); HAProxy 2.6 fails it too",
    ),
    (
        "RFC 9113 :: 6. frame definitions :: sends data frame on invalid stream state",
        "h2 0.4.21: PROTOCOL_ERROR, not STREAM_CLOSED (section 5.1)",
    ),
    (
        "RFC 9113 :: 7. error codes :: sends goaway frame with unknown error code",
        "h2 0.4.21 closes the connection once the client's GOAWAY has come and no stream is \
         open; httpwg's PING that follows then finds it gone (a race: failed once on the \
         legacy driver in a clean-clone CI run, passes otherwise)",
    ),
    (
        "RFC 9113 :: 8. expressing http semantics in http2 :: client sends push promise frame",
        "no connection error for a client's PUSH_PROMISE (section 8.4): no GOAWAY, the \
         connection stays open (passes now and then within a full run)",
    ),
    // Malformed requests (section 8.1.1): httpwg wants a stream error (RST_STREAM
    // PROTOCOL_ERROR).
    (
        "RFC 9113 :: 8. expressing http semantics in http2 :: sends headers frame with pseudo header in trailer",
        "forwarded and answered 200: neither h2 0.4.21 nor ringlb checks the trailers' \
         fields (section 8.1 makes pseudo-headers there malformed); HAProxy 2.6 answers \
         INTERNAL_ERROR",
    ),
];

/// How many tests httpwg-cli 0.2.5 runs (httpwg 0.2.7).
const HTTPWG_TESTS: usize = 107;

fn httpwg_bin() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("httpwg"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(h) = home {
        candidates.push(h.join("bin/httpwg"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn httpwg_or_skip() -> Option<PathBuf> {
    let bin = httpwg_bin();
    if bin.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("httpwg is missing: cargo install httpwg-cli --locked (.ci/run does)");
        }
        eprintln!(
            "skipping: httpwg is missing (cargo install httpwg-cli --locked; CI fails here instead)"
        );
    }
    bin
}

#[derive(Debug, Default)]
struct Score {
    run: BTreeSet<String>,
    passed: BTreeSet<String>,
    /// Failed tests, each with the first line of httpwg's error (or "httpwg panicked").
    failed: Vec<(String, String)>,
    /// httpwg's own "Passed X/Y" line.
    summary: String,
    output: String,
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn run_httpwg(bin: &PathBuf, addr: SocketAddr) -> Score {
    let out = Command::new("timeout")
        .arg("300")
        .arg(bin)
        .args([
            "-v",
            "--connect-timeout",
            "2000",
            "--frame-timeout",
            "1000",
            "-a",
            &addr.to_string(),
        ])
        .env("SEQUENTIAL", "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run httpwg");
    let text = strip_ansi(&format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    let mut s = Score::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut failed = BTreeSet::new();
    // Sequential: a panic belongs to the test that was running last.
    let mut current = String::new();
    let mut panics: std::collections::BTreeMap<String, String> = Default::default();
    for (i, l) in lines.iter().enumerate() {
        if let Some(n) = l.split_once("Running test: ").map(|x| x.1) {
            current = n.trim().to_string();
            s.run.insert(current.clone());
        } else if let Some(m) = l.trim().strip_prefix("Message:") {
            panics
                .entry(current.clone())
                .or_insert_with(|| format!("httpwg panicked: {}", m.trim()));
        } else if let Some(n) = l.split_once("Test passed: ").map(|x| x.1) {
            s.passed.insert(n.trim().to_string());
        } else if let Some(n) = l.split_once("Test failed: ").map(|x| x.1) {
            let why = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .trim_start_matches("0: ")
                .to_string();
            failed.insert(n.trim().to_string());
            s.failed.push((n.trim().to_string(), why));
        } else if l.contains("Passed ") && l.contains(" tests in ") {
            s.summary = l.trim().to_string();
        }
    }
    for n in &s.run {
        if !s.passed.contains(n) && !failed.contains(n) {
            let why = panics
                .get(n)
                .cloned()
                .unwrap_or_else(|| "httpwg panicked (no verdict line)".into());
            s.failed.push((n.clone(), why));
        }
    }
    s.failed.sort();
    s.output = text;
    assert!(
        !s.summary.is_empty(),
        "httpwg printed no summary ({}):\n{}",
        out.status,
        s.output
    );
    s
}

fn report(who: &str, s: &Score) -> String {
    let mut r = format!(
        "httpwg against {who}: {} passed of {} ({})\n",
        s.passed.len(),
        s.run.len(),
        s.summary
    );
    for (n, why) in &s.failed {
        r.push_str(&format!("  FAIL {n}: {why}\n"));
    }
    r
}

fn cfg(h2_bind: &str, backend: SocketAddr) -> String {
    http_cfg(&format!(
        "frontend fe\n    bind {h2_bind} proto h2\n    default_backend be\n\n\
         backend be\n    server s1 {backend}\n"
    ))
}

both_drivers!(httpwg_conformance, |driver| {
    let Some(bin) = httpwg_or_skip() else {
        return;
    };
    // httpwg asks for `GET /` and `POST /`: the test backend answers both with a 200 and a
    // body (its description of the request).
    let be = HttpBackend::start("s1");
    let lb = Ringlb::start(&cfg("127.0.0.1:0", be.addr), driver);
    let s = run_httpwg(&bin, lb.addr("fe"));
    let r = report(&format!("ringlb ({driver})"), &s);
    eprintln!("{r}");
    assert_eq!(s.run.len(), HTTPWG_TESTS, "{r}");
    let allowed: BTreeSet<&str> = EXCEPTIONS.iter().map(|(n, _)| *n).collect();
    let unexpected: Vec<&(String, String)> = s
        .failed
        .iter()
        .filter(|(n, _)| !allowed.contains(n.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "httpwg tests ringlb fails that are not in EXCEPTIONS: {unexpected:#?}\n{r}\n\
         --- ringlb output ---\n{}",
        lb.output()
    );
    for (n, why) in EXCEPTIONS {
        if s.passed.contains(*n) {
            eprintln!("note: exception {n:?} ({why}) passes now: remove it from EXCEPTIONS");
        }
    }
});

/// HAProxy 2.6 through the same run: its score, printed (issue 12 quotes 90 of 107).
#[test]
fn httpwg_haproxy_score() {
    let Some(bin) = httpwg_or_skip() else {
        return;
    };
    if !proxies::haproxy_or_skip() {
        return;
    }
    let be = HttpBackend::start("s1");
    let (s, _h) = loop {
        let port = proxies::free_port();
        if let Some(h) = proxies::Haproxy::start(&cfg(&format!("127.0.0.1:{port}"), be.addr), port)
        {
            break (
                run_httpwg(&bin, SocketAddr::from(([127, 0, 0, 1], port))),
                h,
            );
        }
    };
    let r = report("HAProxy 2.6", &s);
    eprintln!("{r}");
    assert_eq!(s.run.len(), HTTPWG_TESTS, "{r}");
    // The harness reads verdicts right: HAProxy passes most of them, and fails some.
    assert!(s.passed.len() >= 80 && !s.failed.is_empty(), "{r}");
}
