//! Master-worker mode (`-W`, `-Ws`, `master-worker`): the real binary as a master whose
//! worker serves real backends on loopback; reloads by SIGUSR2 and by the master CLI (`-S`),
//! under load, with a config that does not load; systemd's notifications; the stops.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    l.local_addr().unwrap().port()
}

fn cfg(global: &str, port: u16, server: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n{global}\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n    timeout http-keep-alive 5s\n\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend app\n\n\
         backend app\n    server s1 {server}\n"
    )
}

/// A master with `extra` arguments (after `-W -S SOCK`), its config file and CLI socket.
struct Setup {
    lb: Ringlb,
    path: PathBuf,
    cli: PathBuf,
    _dir: TempDir,
}

fn start(driver: &str, text: &str, extra: &[&str], env: &[(&str, &str)]) -> Setup {
    let dir = TempDir::new();
    let path = dir.write("ringlb.cfg", text);
    let cli = dir.path().join("master.sock");
    let mut args: Vec<String> = vec!["-S".into(), cli.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    // The master's private directory goes in `dir` too: a master killed with SIGKILL (as
    // the harness stops every process) cannot remove it.
    let tmp = dir.path().display().to_string();
    let mut env = env.to_vec();
    env.push(("TMPDIR", &tmp));
    let lb = Ringlb::start_files_env(
        TempDir::new(),
        std::slice::from_ref(&path),
        &args,
        &env,
        driver,
        text,
    );
    // The worker prints `ready` a moment before the master hears of it.
    wait_count(&lb, "Loading success.", 1, READY_TIMEOUT);
    Setup {
        lb,
        path,
        cli,
        _dir: dir,
    }
}

/// One master CLI command line, its whole reply.
fn cli(sock: &Path, line: &str) -> String {
    let mut c = UnixStream::connect(sock).expect("connect to the master CLI");
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(format!("{line}\n").as_bytes()).unwrap();
    // As socat does at the end of its input: HAProxy answers, then waits for more until then.
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    c.read_to_string(&mut out)
        .expect("read the master CLI's reply");
    out
}

/// The pids `show proc` lists under `# workers` (current) and `# old workers`.
fn workers(sock: &Path) -> (Vec<i32>, Vec<i32>) {
    let text = cli(sock, "show proc");
    let (mut current, mut old, mut in_old) = (Vec::new(), Vec::new(), false);
    for line in text.lines() {
        if line.starts_with("# old workers") {
            in_old = true;
        }
        if line.starts_with("# programs") {
            in_old = false;
        }
        let mut w = line.split_whitespace();
        if let (Some(pid), Some("worker")) = (w.next(), w.next()) {
            let pid = pid.parse().expect("a pid");
            if in_old {
                old.push(pid)
            } else {
                current.push(pid)
            }
        }
    }
    (current, old)
}

fn count(lb: &Ringlb, needle: &str) -> usize {
    lb.output().matches(needle).count()
}

/// Waits (bounded) until `needle` has been printed `n` times.
fn wait_count(lb: &Ringlb, needle: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while count(lb, needle) < n {
        assert!(
            Instant::now() < deadline,
            "{needle:?} printed {} times, not {n}:\n{}",
            count(lb, needle),
            lb.output()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Gone, or a zombie nobody reaps (this container's init does not): not running.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_not_running(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while running(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

both_drivers!(w_serves_and_show_proc_has_haproxy_columns, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let mut s = start(driver, &text, &["-W"], &[]);
    let addr = s.lb.addr("fe");
    assert_eq!(get_once(addr, "/one").status, 200);
    let proc_text = cli(&s.cli, "show proc");
    let lines: Vec<&str> = proc_text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("#<PID>          <type>          <reloads>       <uptime>        <version>      "),
        "{proc_text}"
    );
    let master = format!("{:<15} master          0 [failed: 0]   0d00h0", s.lb.pid());
    assert!(lines[1].starts_with(&master), "{proc_text}");
    assert_eq!(lines[2], "# workers");
    assert!(proc_text.ends_with("# programs\n\n"), "{proc_text:?}");
    let (current, old) = workers(&s.cli);
    assert_eq!((current.len(), old.len()), (1, 0), "{proc_text}");
    if tool_or_skip("haproxy") {
        let haproxy = haproxy_show_proc(be.addr);
        assert_eq!(
            haproxy.lines().next(),
            lines.first().copied(),
            "the header differs from HAProxy's:\n{haproxy}"
        );
        let kinds = |t: &str| -> Vec<String> {
            t.lines()
                .map(|l| {
                    if l.starts_with('#') {
                        l.to_string()
                    } else {
                        l.split_whitespace().nth(1).unwrap_or("").to_string()
                    }
                })
                .collect()
        };
        assert_eq!(kinds(&haproxy), kinds(&proc_text), "{haproxy}\n{proc_text}");
    }
    let help = cli(&s.cli, "help");
    for cmd in ["show proc", "reload", "@<relative pid>", "@!<pid>", "quit"] {
        assert!(help.contains(cmd), "help lacks {cmd}:\n{help}");
    }
    // SIGTERM: the master passes it on, and exits once its worker has.
    s.lb.signal(libc::SIGTERM);
    let st = s.lb.wait_exit(Duration::from_secs(15));
    assert_eq!(st.and_then(|s| s.code()), Some(0), "{}", s.lb.output());
    assert!(!running(current[0]), "the worker outlived the master");
    assert!(s.lb.output().contains("All workers exited. Exiting... (0)"));
});

/// HAProxy 2.6's own `show proc`, for the same kind of config.
fn haproxy_show_proc(server: SocketAddr) -> String {
    let dir = TempDir::new();
    let path = dir.write("haproxy.cfg", cfg("", free_port(), server));
    let sock = dir.path().join("h.sock");
    let mut child = std::process::Command::new("haproxy")
        .arg("-W")
        .arg("-S")
        .arg(&sock)
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start haproxy");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = String::new();
    while Instant::now() < deadline {
        if UnixStream::connect(&sock).is_ok() {
            out = cli(&sock, "show proc");
            if out.contains("worker") {
                break;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        out.contains("worker"),
        "no worker in HAProxy's show proc:\n{out}"
    );
    out
}

both_drivers!(ten_sigusr2_reloads_under_load_lose_nothing, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let s = start(driver, &text, &["-W"], &[]);
    let addr = s.lb.addr("fe");
    let (load, threads) = start_load(addr);
    thread::sleep(Duration::from_millis(300));
    for i in 1..=10 {
        s.lb.signal(libc::SIGUSR2);
        wait_count(&s.lb, "Loading success.", i + 1, Duration::from_secs(10));
        thread::sleep(Duration::from_millis(200));
    }
    wait_count(&s.lb, "Former worker", 10, Duration::from_secs(15));
    thread::sleep(Duration::from_millis(200));
    let (ok, lost, last) = load.finish(threads);
    assert_eq!(
        lost,
        0,
        "{lost} of {} requests lost over 10 SIGUSR2 reloads; last: {last}\n{}",
        ok + lost,
        s.lb.output()
    );
    assert!(ok > 50, "only {ok} requests answered: the load did not run");
    let out = s.lb.output();
    assert_eq!(
        out.matches("took 2 listening socket(s)").count(),
        10,
        "every new worker takes the old one's sockets:\n{out}"
    );
    let (current, old) = workers(&s.cli);
    assert_eq!((current.len(), old.len()), (1, 0));
    let proc_text = cli(&s.cli, "show proc");
    assert!(
        proc_text.contains("master          10 [failed: 0]"),
        "{proc_text}"
    );
    assert_eq!(get_once(addr, "/after").status, 200);
});

both_drivers!(a_broken_config_at_reload_keeps_the_old_worker, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let s = start(driver, &text, &["-W"], &[]);
    let addr = s.lb.addr("fe");
    let (before, _) = workers(&s.cli);
    std::fs::write(&s.path, format!("{text}    bogus-keyword here\n")).unwrap();
    s.lb.signal(libc::SIGUSR2);
    wait_count(&s.lb, "Loading failure!", 1, Duration::from_secs(10));
    let out = s.lb.output();
    let at = format!("{}:{}:", s.path.display(), text.lines().count() + 1);
    assert!(
        out.lines()
            .any(|l| l.starts_with("[ALERT]") && l.contains(&at)),
        "no [ALERT] naming {at}:\n{out}"
    );
    assert_eq!(get_once(addr, "/still").status, 200);
    assert_eq!(
        workers(&s.cli).0,
        before,
        "the old worker must keep serving"
    );
    assert!(cli(&s.cli, "show proc").contains("1 [failed: 1]"));
    let prompt = cli(&s.cli, "prompt\nquit");
    assert_eq!(prompt, "master[ReloadFailed]> ");
    // Fixed, and reloaded through the master CLI this time.
    std::fs::write(&s.path, &text).unwrap();
    assert_eq!(cli(&s.cli, "reload"), "", "reload closes the connection");
    wait_count(&s.lb, "Loading success.", 2, Duration::from_secs(10));
    wait_count(&s.lb, "Former worker", 1, Duration::from_secs(10));
    let (after, _) = workers(&s.cli);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);
    assert!(cli(&s.cli, "show proc").contains("2 [failed: 0]"));
    assert_eq!(get_once(addr, "/fixed").status, 200);
    // Forwarding: `@1` is the current worker, `@!PID` any worker; its runtime API answers.
    let info = cli(&s.cli, "@1 show info");
    assert!(
        info.contains(&format!("Pid: {}\n", after[0])),
        "@1 show info:\n{info}"
    );
    let by_pid = cli(&s.cli, &format!("@!{} show info", after[0]));
    assert!(by_pid.contains("Name: ringlb"), "{by_pid}");
    assert_eq!(
        cli(&s.cli, "@5 show info"),
        "Can't find the target PID matching the prefix '@5'\n"
    );
    let both = cli(&s.cli, "@1; show backend; @; show version");
    assert!(both.starts_with("# name\napp\n\n"), "{both:?}");
    assert!(
        both.ends_with(&format!("{}\n\n", env!("CARGO_PKG_VERSION"))),
        "{both:?}"
    );
    assert_eq!(cli(&s.cli, "@1 _getsocks"), "Permission denied\n\n");
});

both_drivers!(ws_tells_systemd_ready_reloading_stopping, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let dir = TempDir::new();
    let notify_path = dir.path().join("notify.sock");
    let rx = UnixDatagram::bind(&notify_path).expect("bind the notify socket");
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let notify = notify_path.display().to_string();
    let mut s = start(driver, &text, &["-Ws"], &[("NOTIFY_SOCKET", &notify)]);
    let next = || {
        let mut buf = [0u8; 1024];
        let n = rx.recv(&mut buf).expect("a notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(
        ready.contains(&format!("MAINPID={}\n", s.lb.pid())),
        "{ready:?}"
    );
    assert_eq!(get_once(s.lb.addr("fe"), "/").status, 200);
    s.lb.signal(libc::SIGUSR2);
    let reloading = next();
    assert!(reloading.starts_with("RELOADING=1\n"), "{reloading:?}");
    let usec = reloading
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(usec.is_some_and(|u| u > 0), "{reloading:?}");
    assert!(next().starts_with("READY=1\n"));
    s.lb.signal(libc::SIGTERM);
    assert!(next().starts_with("STOPPING=1\n"));
    assert!(s.lb.wait_exit(Duration::from_secs(15)).is_some());
});

both_drivers!(a_dead_master_leaves_no_worker, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let mut s = start(driver, &text, &["-W"], &[]);
    let (current, _) = workers(&s.cli);
    s.lb.signal(libc::SIGKILL);
    assert!(s.lb.wait_exit(Duration::from_secs(5)).is_some());
    assert!(
        wait_not_running(current[0], Duration::from_secs(15)),
        "worker {} still runs after its master was killed",
        current[0]
    );
});

both_drivers!(a_dead_worker_stops_the_master_with_its_status, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let mut s = start(driver, &text, &["-W"], &[]);
    let (current, _) = workers(&s.cli);
    // SAFETY: kill(2) on the worker's pid, which `show proc` just listed.
    unsafe { libc::kill(current[0], libc::SIGKILL) };
    let st = s.lb.wait_exit(Duration::from_secs(10));
    assert_eq!(st.and_then(|s| s.code()), Some(137), "{}", s.lb.output());
    assert!(s.lb.output().contains(&format!(
        "Current worker ({}) exited with code 137 (Killed)",
        current[0]
    )));
});

both_drivers!(
    the_keyword_with_no_exit_on_failure_outlives_its_worker,
    |driver| {
        let be = HttpBackend::start("s1");
        // `master-worker` in the config, no -W: the keyword alone makes a master.
        let text = cfg(
            "    master-worker no-exit-on-failure\n",
            free_port(),
            be.addr,
        );
        let mut s = start(driver, &text, &[], &[]);
        let addr = s.lb.addr("fe");
        let (current, _) = workers(&s.cli);
        // SAFETY: as above.
        unsafe { libc::kill(current[0], libc::SIGKILL) };
        wait_count(&s.lb, "no-exit-on-failure", 1, Duration::from_secs(10));
        assert!(s.lb.wait_exit(Duration::from_millis(300)).is_none());
        s.lb.signal(libc::SIGUSR2);
        wait_count(&s.lb, "Loading success.", 2, Duration::from_secs(10));
        assert_eq!(get_once(addr, "/again").status, 200);
    }
);

#[test]
fn master_worker_takes_only_no_exit_on_failure() {
    let r = Ringlb::check(
        "global\n    master-worker bogus\ndefaults\n    mode http\nfrontend fe\n    bind 127.0.0.1:1\n",
    );
    assert_eq!(r.code, Some(1), "{}", r.output);
    assert!(
        r.output
            .contains("'master-worker' only supports 'no-exit-on-failure' option"),
        "{}",
        r.output
    );
}

#[test]
fn the_systemd_unit_verifies() {
    if !tool_or_skip("systemd-analyze") {
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/ringlb.service"
    ))
    .expect("read configs/ringlb.service");
    for want in [
        "Type=notify",
        "-Ws",
        "KillMode=mixed",
        "kill -USR2 $MAINPID",
    ] {
        assert!(unit.contains(want), "the unit lacks {want}");
    }
    // verify wants the ExecStart binary to exist: the one just built stands in for it.
    let dir = TempDir::new();
    let path = dir.write(
        "ringlb.service",
        unit.replace("/usr/local/bin/ringlb", bin()),
    );
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // It exits 0 on unknown keys and bad values too, with a line for each: none may show.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ringlb.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{text}");
}

both_drivers!(a_worker_that_fails_to_start_keeps_the_old_one, |driver| {
    let be = HttpBackend::start("s1");
    let port = free_port();
    let text = cfg("", port, be.addr);
    let s = start(driver, &text, &["-W"], &[]);
    let addr = s.lb.addr("fe");
    let (before, _) = workers(&s.cli);
    // The config loads, but its new bind's port is taken: the new worker cannot start.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let more =
        format!("{text}\nfrontend more\n    bind 127.0.0.1:{busy}\n    default_backend app\n");
    std::fs::write(&s.path, more).unwrap();
    s.lb.signal(libc::SIGUSR2);
    wait_count(&s.lb, "Loading failure!", 1, Duration::from_secs(10));
    assert!(
        s.lb.output().contains("before it served"),
        "{}",
        s.lb.output()
    );
    assert_eq!(get_once(addr, "/still").status, 200);
    assert_eq!(workers(&s.cli).0, before);
    // Two reloads asked at once: the second waits for the first, both run.
    std::fs::write(&s.path, &text).unwrap();
    assert_eq!(cli(&s.cli, "reload"), "");
    s.lb.signal(libc::SIGUSR2);
    wait_count(&s.lb, "Loading success.", 3, Duration::from_secs(15));
    wait_count(&s.lb, "Former worker", 2, Duration::from_secs(15));
    assert!(cli(&s.cli, "show proc").contains("master          3 [failed: 0]"));
    assert_eq!(get_once(addr, "/after").status, 200);
});

/// One command line over TCP (`-S IP:PORT`), its whole reply.
fn cli_tcp(addr: SocketAddr, line: &str) -> String {
    let mut c = std::net::TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    c.write_all(format!("{line}\n").as_bytes()).unwrap();
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut out = String::new();
    c.read_to_string(&mut out)
        .expect("read the master CLI's reply");
    out
}

both_drivers!(a_user_level_master_cli_only_shows, |driver| {
    let be = HttpBackend::start("s1");
    let text = cfg("", free_port(), be.addr);
    let port = free_port();
    let tcp = format!("ipv4@127.0.0.1:{port},level,user");
    let s = start(driver, &text, &["-W", "-S", &tcp], &[]);
    let at: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(cli_tcp(at, "show cli level"), "user\n\n");
    assert_eq!(cli_tcp(at, "reload"), "Permission denied\n\n");
    assert_eq!(cli_tcp(at, "operator"), "Permission denied\n\n");
    assert_eq!(
        cli_tcp(at, "@1 disable server app/s1"),
        "Permission denied\n\n"
    );
    assert_eq!(cli_tcp(at, "@1 show backend"), "# name\napp\n\n");
    assert!(cli_tcp(at, "show proc").contains(" worker "));
    // The unix socket is admin (the default); it may lower itself.
    assert_eq!(cli(&s.cli, "operator; show cli level"), "operator\n\n");
    assert_eq!(count(&s.lb, "Reloading ringlb"), 0);
});
