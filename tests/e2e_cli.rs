//! The command line and process life: `-c`, `--help`, several `-f`, bind lines, SIGTERM.

mod common;

use common::*;
use std::time::Duration;

const VALID: &str =
    "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
                     timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    \
                     bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    \
                     server s1 127.0.0.1:9\n";

#[test]
fn check_valid_config() {
    let r = Ringlb::check(VALID);
    assert_eq!(r.code, Some(0), "output:\n{}", r.output);
    assert!(
        r.output.contains("Configuration file is valid"),
        "output:\n{}",
        r.output
    );
}

/// The `FILE:LINE:` message for line `n`, or a panic showing the whole output.
fn message_for_line(r: &CheckResult, n: u32) -> String {
    let prefix = format!("{}:{n}:", r.path.display());
    r.output
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' message in:\n{}", r.output))
        .to_string()
}

#[test]
fn check_invalid_config_reports_every_error_with_file_and_line() {
    // Two independent errors: line 10 an unknown keyword, line 11 a malformed timeout.
    let cfg = "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
               timeout client 5s\n\nfrontend fe\n    bindd 127.0.0.1:0\n    timeout client abc\n    \
               bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    timeout server 5s\n    \
               server s1 127.0.0.1:9\n";
    assert_eq!(cfg.lines().nth(9), Some("    bindd 127.0.0.1:0"));
    let r = Ringlb::check(cfg);
    assert_eq!(r.code, Some(1), "output:\n{}", r.output);
    let l10 = message_for_line(&r, 10);
    assert!(l10.contains("bindd"), "{l10}");
    let l11 = message_for_line(&r, 11);
    assert!(l11.contains("abc"), "{l11}");
    assert!(!r.output.contains("Configuration file is valid"));
}

#[test]
fn check_unknown_backend_reference_has_file_and_line() {
    let cfg = "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
               timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
               use_backend nosuch if { path_beg /x }\n    default_backend app\n\nbackend app\n    \
               server s1 127.0.0.1:9\n";
    assert_eq!(
        cfg.lines().nth(11),
        Some("    use_backend nosuch if { path_beg /x }")
    );
    let r = Ringlb::check(cfg);
    assert_eq!(r.code, Some(1), "output:\n{}", r.output);
    let l12 = message_for_line(&r, 12);
    assert!(l12.contains("nosuch"), "{l12}");
}

#[test]
fn check_missing_file_fails() {
    let dir = TempDir::new();
    let missing = dir.path().join("absent.cfg").display().to_string();
    let (code, out) = run_bounded(
        &["-c".into(), "-f".into(), missing.clone()],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "output:\n{out}");
    assert!(
        out.contains(&missing),
        "the message must name the file:\n{out}"
    );
}

#[test]
fn help_lists_the_flags() {
    let (code, out) = run_bounded(&["--help".into()], Duration::from_secs(10));
    assert_eq!(code, Some(0), "output:\n{out}");
    for flag in ["-f", "-c", "-db", "-D", "-p", "-q", "-v", "-vv", "-sf"] {
        let mentioned = out
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
            .any(|w| w == flag);
        assert!(mentioned, "--help does not mention {flag}:\n{out}");
    }
}

both_drivers!(two_config_files, |driver| {
    let be = HttpBackend::start("s1");
    let dir = TempDir::new();
    let base = dir.write(
        "base.cfg",
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n",
    );
    let site = dir.write(
        "site.cfg",
        format!(
            "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    \
             server s1 {}\n",
            be.addr
        ),
    );
    let lb = Ringlb::start_files(dir, &[base, site], driver, "(two files)");
    assert_eq!(get_once(lb.addr("fe"), "/two").server(), "s1");
});

both_drivers!(every_bind_is_announced_and_serves, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         frontend other\n    bind 127.0.0.1:0\n    default_backend app\n\n\
         backend app\n    server s1 {}\n",
        be.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    let fe = lb.addrs("fe");
    assert_eq!(fe.len(), 2, "one line per bind expected:\n{}", lb.output());
    assert_ne!(fe[0], fe[1]);
    assert_eq!(lb.addrs("other").len(), 1, "{}", lb.output());
    for addr in fe.iter().chain(lb.addrs("other").iter()) {
        assert_ne!(
            addr.port(),
            0,
            "port 0 must be resolved before it is printed"
        );
        // Several connections: with 2 workers, every one must reach a listener on this port.
        for _ in 0..6 {
            assert_eq!(get_once(*addr, "/").status, 200);
        }
    }
});

both_drivers!(sigterm_finishes_in_flight_request, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    server s1 {}\n",
        be.addr
    ));
    let mut lb = Ringlb::start(&cfg, driver);
    let mut c = Client::connect(lb.addr("fe"));
    c.send_request("GET", "/delay/500", &[], b"");
    be.wait_for("the slow request", Duration::from_secs(5), |c| {
        c.in_flight == 1
    });
    lb.signal(libc::SIGTERM);
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.seen().target, "/delay/500");
    let status = lb.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "ringlb still running 5 s after SIGTERM:\n{}",
        lb.output()
    );
    assert_eq!(
        status.unwrap().code(),
        Some(0),
        "exit after SIGTERM:\n{}",
        lb.output()
    );
});

both_drivers!(sigterm_with_idle_keep_alive_connection_exits, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    server s1 {}\n",
        be.addr
    ));
    let mut lb = Ringlb::start(&cfg, driver);
    let mut idle = Client::connect(lb.addr("fe"));
    assert_eq!(idle.get("/").status, 200);
    lb.signal(libc::SIGTERM);
    let status = lb.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "an idle keep-alive connection kept ringlb alive after SIGTERM"
    );
    assert_eq!(status.unwrap().code(), Some(0), "{}", lb.output());
    idle.expect_closed();
});
