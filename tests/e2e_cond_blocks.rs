//! Conditional blocks (`.if` / `.elif` / `.else` / `.endif`, `.notice` / `.warning` / `.alert`)
//! against HAProxy 2.6: the same configurations through `haproxy -c` and `ringlb -c` are
//! accepted or refused alike, report the same messages at the same lines, and where they are
//! served, the branch taken (chosen by an environment variable) decides the port both listen on
//! and the server both send to.

mod common;

use common::haproxy::haproxy_or_skip;
use common::*;
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The environment both programs see: `RINGLB_COND_COLOR` picks the branches below.
const ENV: &[(&str, &str)] = &[("RINGLB_COND_COLOR", "blue")];

/// `BIN -c -f FILE` (bounded), with `ENV`: (accepted, output).
fn check_with(bin: &str, dir: &TempDir, cfg: &str) -> (bool, String) {
    dir.write("t.cfg", cfg);
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir.path())
        .args(["-c", "-f", "t.cfg"])
        .env_remove("RINGLB_COND_UNSET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in ENV {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn -c");
    let out = wait_bounded(child, Duration::from_secs(20));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // HAProxy: 0, or 2 for "no error but will not start (no listener)".
    let code = out.status.code();
    (matches!(code, Some(0) | Some(2)), text)
}

fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait_with_output().expect("collect output")
}

const DEFAULTS: &str = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n";

/// One configuration: its name, its text after `DEFAULTS`, whether both accept it, and the
/// messages both print, as `(line, text)`.
type Case = (&'static str, String, bool, Vec<(u32, &'static str)>);

fn cases() -> Vec<Case> {
    let d = DEFAULTS.lines().count() as u32;
    // -c binds nothing: any port does.
    let fe = "frontend fe\n    bind 127.0.0.1:8080\n";
    vec![
        (
            "nested branches and every predicate",
            format!(
                ".if defined(RINGLB_COND_COLOR) && !defined(RINGLB_COND_UNSET)\n\
                 .notice \"defined\"\n\
                 .endif\n\
                 .if streq(\"$RINGLB_COND_COLOR\",blue)\n\
                 \x20 .if version_atleast(2.6) && version_before(2.7)\n\
                 \x20   .if feature(OPENSSL) && feature(THREAD)\n\
                 .notice \"deep\"\n\
                 \x20   .endif\n\
                 \x20 .endif\n\
                 .elif 1\n\
                 .notice \"not this elif\"\n\
                 .else\n\
                 .notice \"not this else\"\n\
                 .endif\n\
                 .if strneq(\"${{RINGLB_COND_COLOR}}\",blue) || (0 || !1)\n\
                 .notice \"false\"\n\
                 .elif 0\n\
                 .else\n\
                 .warning \"else taken\"\n\
                 .endif\n{fe}"
            ),
            true,
            vec![(d + 2, "'defined'"), (d + 7, "'deep'"), (d + 19, "'else taken'")],
        ),
        (
            "unknown keywords in a branch not taken",
            format!(".if 0\nlua-load /nonexistent.lua\nfrontend x\n    frobnicate yes\n  .if bogus((\n  .endif\n.endif\n{fe}"),
            true,
            vec![],
        ),
        (
            "an .alert in the branch taken",
            format!(".if !feature(NONEXISTENT)\n.alert \"stop here\"\n.endif\n{fe}"),
            false,
            vec![(d + 2, "'stop here'")],
        ),
        ("an .if never closed", format!(".if 1\n{fe}"), false, vec![]),
        ("a lone .else", format!(".else\n{fe}"), false, vec![]),
        ("a lone .endif", format!("{fe}.endif\n"), false, vec![]),
        (
            ".elif after .else",
            format!(".if 0\n.else\n.elif 1\n.endif\n{fe}"),
            false,
            vec![],
        ),
        ("an unknown predicate", format!(".if defnied(X)\n.endif\n{fe}"), false, vec![]),
        ("a predicate's missing argument", format!(".if streq(a)\n.endif\n{fe}"), false, vec![]),
        ("an unknown directive", format!(".iff 1\n{fe}"), false, vec![]),
        (
            "thread-groups 1 in a block",
            format!("global\n.if feature(THREAD)\n    thread-groups 1\n.endif\n{fe}"),
            true,
            vec![],
        ),
        (
            "pseudo-variables, resolved where they are read",
            format!("{fe}.notice \"${{.FILE}}:${{.LINE}} in ${{.SECTION}}\"\n"),
            true,
            vec![(8, "'t.cfg:8 in fe'")],
        ),
        (
            "thread-groups 2",
            format!("global\n    thread-groups 2\n{fe}"),
            false,
            vec![],
        ),
    ]
}

#[test]
fn check_verdicts_and_messages_match_haproxy() {
    if !haproxy_or_skip("check_verdicts_and_messages_match_haproxy") {
        return;
    }
    let haproxy = "haproxy";
    let mut failures = Vec::new();
    for (name, body, accepted, messages) in cases() {
        let cfg = format!("{DEFAULTS}{body}");
        let dir = TempDir::new();
        let (h_ok, h_out) = check_with(haproxy, &dir, &cfg);
        let (r_ok, r_out) = check_with(bin(), &dir, &cfg);
        if h_ok != accepted || r_ok != accepted {
            failures.push(format!(
                "{name}: expected accepted={accepted}, haproxy {h_ok}, ringlb {r_ok}\n--- haproxy\n{h_out}--- ringlb\n{r_out}"
            ));
            continue;
        }
        for (line, text) in messages {
            let h = format!("[t.cfg:{line}]: {text}.");
            let r_notice = format!("t.cfg:{line}: notice: {text}");
            let r_warning = format!("t.cfg:{line}: warning: {text}");
            let r_error = format!("t.cfg:{line}: {text}");
            let r_has =
                r_out.contains(&r_notice) || r_out.contains(&r_warning) || r_out.contains(&r_error);
            if !h_out.contains(&h) || !r_has {
                failures.push(format!(
                    "{name}: message {text} at line {line}: haproxy {}, ringlb {r_has}\n--- haproxy\n{h_out}--- ringlb\n{r_out}",
                    h_out.contains(&h)
                ));
            }
        }
        // A refusal points at the same line in both (an unclosed `.if`: ringlb names the
        // `.if` line, HAProxy the file's last line).
        if !accepted && !name.contains("never closed") {
            let line = h_out
                .lines()
                .find(|l| l.contains("[ALERT]") && l.contains("parsing [t.cfg:"))
                .and_then(|l| l.split("parsing [t.cfg:").nth(1))
                .and_then(|r| r.split(']').next())
                .unwrap_or("?");
            if !r_out.contains(&format!("t.cfg:{line}: ")) {
                failures.push(format!(
                    "{name}: haproxy refuses line {line}, ringlb does not name it\n--- haproxy\n{h_out}--- ringlb\n{r_out}"
                ));
            }
        }
        // Only the messages announced: a branch not taken says nothing, in both.
        for quiet in ["not this", "'false'"] {
            if h_out.contains(quiet) || r_out.contains(quiet) {
                failures.push(format!("{name}: a branch not taken printed {quiet}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A free loopback port: bound, then released; never the same twice in this process.
fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Mutex::default);
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind probe listener");
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        if port != 0 && given.lock().map(|mut g| g.insert(port)).unwrap_or(false) {
            return port;
        }
    }
}

/// The port and the server are chosen by `.if` on the environment variable.
fn served_cfg(blue_port: u16, green_port: u16, blue: SocketAddr, green: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n{DEFAULTS}\
         frontend fe\n\
         .if streq(\"$RINGLB_COND_COLOR\",blue)\n\
         \x20   bind 127.0.0.1:{blue_port}\n\
         .else\n\
         \x20   bind 127.0.0.1:{green_port}\n\
         .endif\n\
         \x20   default_backend be\n\
         backend be\n\
         .if !streq(\"$RINGLB_COND_COLOR\",blue)\n\
         \x20   server green {green}\n\
         .elif version_atleast(2.6) && feature(THREAD)\n\
         \x20   server blue {blue}\n\
         .else\n\
         \x20   server green {green}\n\
         .endif\n"
    )
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_haproxy(dir: &TempDir, cfg: &str, port: u16) -> Haproxy {
    let path = dir.write("haproxy.cfg", cfg);
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in ENV {
        cmd.env(k, v);
    }
    let mut h = Haproxy(cmd.spawn().expect("spawn haproxy"));
    let deadline = Instant::now() + READY_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy did not listen on {addr}"
        );
        if let Ok(Some(st)) = h.0.try_wait() {
            panic!("haproxy exited ({st}) before listening on {addr}\n{cfg}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    h
}

/// The answer through `port`, and whether `other` refuses connections.
fn served_by(port: u16, other: u16) -> (u16, String, bool) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let resp = Client::connect(addr).get("/");
    let other = SocketAddr::from(([127, 0, 0, 1], other));
    let refused = TcpStream::connect_timeout(&other, Duration::from_millis(500)).is_err();
    (resp.status, resp.server(), refused)
}

both_drivers!(branch_picks_port_and_server_as_haproxy, |driver| {
    if !haproxy_or_skip("branch_picks_port_and_server_as_haproxy") {
        return;
    }
    let blue = HttpBackend::start("blue");
    let green = HttpBackend::start("green");
    let (h_blue, h_green) = (free_port(), free_port());
    let h_cfg = served_cfg(h_blue, h_green, blue.addr, green.addr);
    let dir = TempDir::new();
    let haproxy = start_haproxy(&dir, &h_cfg, h_blue);
    let from_haproxy = served_by(h_blue, h_green);
    drop(haproxy);

    let (r_blue, r_green) = (free_port(), free_port());
    let r_cfg = served_cfg(r_blue, r_green, blue.addr, green.addr);
    let dir = TempDir::new();
    let path = dir.write("ringlb.cfg", &r_cfg);
    let lb = Ringlb::start_files_env(dir, &[path], &[], ENV, driver, &r_cfg);
    assert_eq!(
        lb.addrs("fe"),
        [SocketAddr::from(([127, 0, 0, 1], r_blue))],
        "ringlb listens where the branch taken says"
    );
    let from_ringlb = served_by(r_blue, r_green);
    assert_eq!(from_haproxy, (200, "blue".to_string(), true));
    assert_eq!(from_ringlb, from_haproxy);
});

#[test]
fn cc_answers_as_haproxy() {
    if !haproxy_or_skip("cc_answers_as_haproxy") {
        return;
    }
    let haproxy = "haproxy";
    let code = |bin: &str, cond: &str| {
        let child = Command::new(bin)
            .args(["-cc", cond])
            .envs(ENV.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn -cc");
        wait_bounded(child, Duration::from_secs(10)).status.code()
    };
    for (cond, expected) in [
        ("1", 0),
        ("0", 1),
        ("", 1),
        ("feature(OPENSSL) && feature(THREAD)", 0),
        ("version_atleast(2.6.12) && version_before(2.6.13)", 0),
        // Read as a configuration line: "$VAR" is expanded, as HAProxy does.
        ("streq(\"$RINGLB_COND_COLOR\",blue)", 0),
        ("streq(blue,blue) || defined(RINGLB_COND_UNSET)", 0),
        ("defined(RINGLB_COND_COLOR)", 0),
        ("bogus(", 2),
        ("streq(a)", 2),
    ] {
        let (h, r) = (code(haproxy, cond), code(bin(), cond));
        assert_eq!((h, r), (Some(expected), Some(expected)), "-cc '{cond}'");
    }
}

/// `.if defined(HAPROXY_MWORKER)`, the manual's own example: HAProxy 2.6 sets the variable only
/// after its first reading (its first worker is forked from that reading, so the branch is not
/// taken at start; only re-executions after a reload see it), and ringlb does not set it: the
/// first workers of both listen on the `.else` port.
fn mworker_cfg(worker_port: u16, plain_port: u16, server: SocketAddr) -> String {
    format!(
        "{DEFAULTS}frontend fe\n\
         .if defined(HAPROXY_MWORKER)\n\
         \x20   bind 127.0.0.1:{worker_port}\n\
         .else\n\
         \x20   bind 127.0.0.1:{plain_port}\n\
         .endif\n\
         \x20   default_backend be\n\
         backend be\n\
         \x20   server s1 {server}\n"
    )
}

both_drivers!(haproxy_mworker_is_undefined_at_first_start, |driver| {
    if !haproxy_or_skip("haproxy_mworker_is_undefined_at_first_start") {
        return;
    }
    let be = HttpBackend::start("s1");
    let (h_worker, h_plain) = (free_port(), free_port());
    let dir = TempDir::new();
    let path = dir.write("haproxy.cfg", mworker_cfg(h_worker, h_plain, be.addr));
    let child = Command::new("haproxy")
        .args(["-W", "-db", "-f"])
        .arg(&path)
        .env_remove("HAPROXY_MWORKER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn haproxy -W");
    let haproxy = Haproxy(child);
    let deadline = Instant::now() + READY_TIMEOUT;
    let plain_addr = SocketAddr::from(([127, 0, 0, 1], h_plain));
    while TcpStream::connect_timeout(&plain_addr, Duration::from_millis(100)).is_err() {
        assert!(
            Instant::now() < deadline,
            "haproxy -W did not listen on {plain_addr}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let from_haproxy = served_by(h_plain, h_worker);
    drop(haproxy);

    let (r_worker, r_plain) = (free_port(), free_port());
    let text = mworker_cfg(r_worker, r_plain, be.addr);
    let dir = TempDir::new();
    let path = dir.write("ringlb.cfg", &text);
    let tmp = dir.path().display().to_string();
    let lb = Ringlb::start_files_env(
        TempDir::new(),
        &[path],
        &["-W".to_string()],
        &[("TMPDIR", &tmp)],
        driver,
        &text,
    );
    assert_eq!(
        lb.addrs("fe"),
        [SocketAddr::from(([127, 0, 0, 1], r_plain))]
    );
    let from_ringlb = served_by(r_plain, r_worker);
    assert_eq!(from_haproxy, (200, "s1".to_string(), true));
    assert_eq!(from_ringlb, from_haproxy);
});
