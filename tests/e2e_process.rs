//! Process life beyond start and SIGTERM: daemon mode with a pid file, `-sf` reloads, SIGUSR1
//! soft stop, running out of descriptors, an IPv6 bind, and the idle timeout of mode tcp.
//!
//! Where two processes must share a port (or a daemon's port cannot be read from its output),
//! the test picks a free port by binding 127.0.0.1:0 and releasing it: a tiny race with other
//! programs on the machine, accepted in exchange for no fixed ports.

mod common;

use common::*;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A port nothing listens on right now (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    l.local_addr().unwrap().port()
}

/// `http_cfg` with frontend `fe` on `bind` and one server `name` at `server`.
fn one_server_cfg(bind: &str, name: &str, server: SocketAddr) -> String {
    http_cfg(&format!(
        "frontend fe\n    bind {bind}\n    default_backend app\n\nbackend app\n    \
         server {name} {server}\n"
    ))
}

/// Fields of /proc/PID/stat after the command name: [0] is the state, [1] the ppid,
/// [11] utime and [12] stime (clock ticks). None when the process is gone.
fn proc_stat(pid: i32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// Alive and not a zombie (an orphaned daemon may wait for a reaper that never comes).
fn alive(pid: i32) -> bool {
    proc_stat(pid).is_some_and(|f| f[0] != "Z" && f[0] != "X")
}

fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// CPU time (user + system) of `pid` so far, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let f = proc_stat(pid).expect("ringlb is running");
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Kills a process that is not our child (a daemon) if the test ends while it still runs.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            // SAFETY: kill(2) only sends a signal; the pid is the daemon this test started.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// Connects until the port refuses (every listener closed) while `be` still serves the slow
/// request that keeps the process alive; panics after `timeout`, or when that request ends
/// first (the listeners stayed open for the whole drain).
fn wait_refused_while_draining(addr: SocketAddr, be: &HttpBackend, timeout: Duration) {
    let start = Instant::now();
    let mut accepted = 0;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => break,
            Err(e) => panic!("connect to {addr}: expected refused, got {e}"),
            Ok(_) => accepted += 1,
        }
        assert!(
            start.elapsed() < timeout,
            "{addr} still accepts connections {timeout:?} after the stop ({accepted} accepted)"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        be.counts().in_flight,
        1,
        "{addr} took {accepted} new connection(s) until the in-flight request ended {:?} after \
         the stop: a listening socket stayed open for the whole drain",
        start.elapsed()
    );
}

both_drivers!(daemon_writes_pidfile_and_serves, |driver| {
    let be = HttpBackend::start("s1");
    let port = free_port();
    let dir = TempDir::new();
    let cfg = one_server_cfg(&format!("127.0.0.1:{port}"), "s1", be.addr);
    let cfg_path = dir.write("daemon.cfg", &cfg);
    let pidfile = dir.path().join("ringlb.pid");
    let errfile = dir.path().join("stderr");
    let started = Instant::now();
    let mut fg = Command::new(bin())
        .arg("-D")
        .arg("-p")
        .arg(&pidfile)
        .arg("-f")
        .arg(&cfg_path)
        .env("RINGLB_DRIVER", driver)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&errfile).unwrap())
        .spawn()
        .expect("spawn ringlb -D");
    let fg_pid = fg.id() as i32;
    let err = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let status = loop {
        if let Some(st) = fg.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = fg.kill();
            let _ = fg.wait();
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                drop(KillOnDrop(pid));
            }
            panic!(
                "`ringlb -D` still in the foreground after 5 s; stderr:\n{}",
                err(&errfile)
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let pid_text = std::fs::read_to_string(&pidfile).unwrap_or_else(|e| {
        panic!(
            "no pid file {} once -D returned: {e}; stderr:\n{}",
            pidfile.display(),
            err(&errfile)
        )
    });
    let pid: i32 = pid_text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {pid_text:?}"));
    let _guard = KillOnDrop(pid);
    assert_eq!(
        status.code(),
        Some(0),
        "`ringlb -D` exit status; stderr:\n{}",
        err(&errfile)
    );
    assert_ne!(pid, fg_pid, "the pid file names the foreground process");
    let stat =
        proc_stat(pid).unwrap_or_else(|| panic!("pid {pid} from the pid file is not running"));
    assert!(alive(pid), "daemon {pid} is {}", stat[0]);
    assert_ne!(
        stat[1].parse::<i32>().unwrap(),
        std::process::id() as i32,
        "the daemon is still the test's child"
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for i in 0..4 {
        let r = get_once(addr, &format!("/daemon{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.server(), "s1");
    }
    // SAFETY: kill(2) on the daemon's pid, checked alive above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert!(
        wait_gone(pid, Duration::from_secs(5)),
        "daemon {pid} still running 5 s after SIGTERM"
    );
});

both_drivers!(reload_with_sf_hands_over_and_finishes_in_flight, |driver| {
    let old = HttpBackend::start("old");
    let new = HttpBackend::start("new");
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let dir = TempDir::new();
    let old_cfg = one_server_cfg(&bind, "old", old.addr);
    let path = dir.write("ringlb.cfg", &old_cfg);
    let mut a = Ringlb::start_files(dir, std::slice::from_ref(&path), driver, &old_cfg);
    let addr = a.addr("fe");
    assert_eq!(addr.port(), port);
    let mut c = Client::connect(addr);
    c.send_request("GET", "/delay/1500", &[], b"");
    old.wait_for("the slow request on A", Duration::from_secs(5), |c| {
        c.in_flight == 1
    });
    // The reload: the same file, now naming another server, and `-sf A`.
    let new_cfg = one_server_cfg(&bind, "new", new.addr);
    std::fs::write(&path, &new_cfg).unwrap();
    let b = Ringlb::start_files_args(
        TempDir::new(),
        std::slice::from_ref(&path),
        &["-sf".to_string(), a.pid().to_string()],
        driver,
        &new_cfg,
    );
    assert_eq!(b.addr("fe"), addr, "B must listen on A's port");
    // B signals A right after its `ready` line; A looks for a stop every 50 ms.
    thread::sleep(Duration::from_millis(300));
    // While A drains, every new connection must reach B: none may sit in a listen queue of A's
    // that nobody accepts (it would be reset when A exits).
    for i in 0..8 {
        let mut p = Client::connect(addr);
        p.set_read_timeout(Duration::from_millis(1000));
        p.send_request("GET", &format!("/during{i}"), &[], b"");
        match p.try_read_response(false) {
            Ok(r) => assert_eq!(r.server(), "new", "during the drain: {}", r.describe()),
            Err(e) => panic!(
                "new connection {i} during A's drain got no answer: {e} (A still in flight: {})\n\
                 A:\n{}\nB:\n{}",
                old.counts().in_flight,
                a.output(),
                b.output()
            ),
        }
    }
    let r = c.read_response();
    assert_eq!(
        r.status,
        200,
        "the request in flight on A: {}\nA:\n{}",
        r.describe(),
        a.output()
    );
    assert_eq!(r.server(), "old");
    drop(c);
    let st = a.wait_exit(Duration::from_secs(5));
    assert!(
        st.is_some(),
        "A still running 5 s after B started with -sf; A:\n{}\nB:\n{}",
        a.output(),
        b.output()
    );
    assert_eq!(st.unwrap().code(), Some(0), "A's exit; A:\n{}", a.output());
    let t = tally((0..10).map(|i| get_once(addr, &format!("/after{i}")).server()));
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["new"],
        "after the reload only B (server 'new') may answer: {t:?}\nB:\n{}",
        b.output()
    );
});

both_drivers!(sigusr1_soft_stop, |driver| {
    let be = HttpBackend::start("s1");
    // Four workers: the in-flight request holds one, the others are idle and must close their
    // listeners as well.
    let cfg = one_server_cfg("127.0.0.1:0", "s1", be.addr).replace("nbthread 2", "nbthread 4");
    let mut lb = Ringlb::start(&cfg, driver);
    let addr = lb.addr("fe");
    let mut c = Client::connect(addr);
    c.send_request("GET", "/delay/1500", &[], b"");
    be.wait_for("the slow request", Duration::from_secs(5), |c| {
        c.in_flight == 1
    });
    lb.signal(libc::SIGUSR1);
    wait_refused_while_draining(addr, &be, Duration::from_secs(1));
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}\n{}", r.describe(), lb.output());
    assert_eq!(r.seen().target, "/delay/1500");
    // Still refused after the request finished, while the process lingers or exits.
    match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
        other => panic!("new connection after the soft stop: {other:?}"),
    }
    // The client keeps its (now idle) connection: a soft stop must not wait for it forever.
    let st = lb.wait_exit(Duration::from_secs(3));
    assert!(
        st.is_some(),
        "ringlb still running 3 s after its last request finished (idle keep-alive client open):\n{}",
        lb.output()
    );
    assert_eq!(st.unwrap().code(), Some(0), "{}", lb.output());
    c.expect_closed();
});

/// Sets the soft RLIMIT_NOFILE of `pid`, keeping the hard one; returns the old soft limit.
fn set_nofile(pid: i32, soft: u64) -> u64 {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit with a null new limit only reads into `old`.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "prlimit get: {}", io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: prlimit on the ringlb child with a valid rlimit; lowering needs no privilege.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit set: {}", io::Error::last_os_error());
    old.rlim_cur
}

both_drivers!(emfile_pauses_accepts_without_spinning, |driver| {
    let be = HttpBackend::start("s1");
    let cfg = format!(
        "global\n    nbthread 1\n    maxconn 1000\n\ndefaults\n    mode http\n    \
         timeout connect 1s\n    timeout client 10s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    \
         server s1 {}\n",
        be.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let addr = lb.addr("fe");
    assert_eq!(get_once(addr, "/before").status, 200);
    let pid = lb.pid();
    let open_fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let old = set_nofile(pid, 64);
    // Far more connections than descriptors left: the kernel queues them, accept gets EMFILE.
    let clients: Vec<TcpStream> = (0..100)
        .map(|i| {
            TcpStream::connect_timeout(&addr, IO_TIMEOUT)
                .unwrap_or_else(|e| panic!("client {i}: connect: {e}"))
        })
        .collect();
    let needle = "pausing accepts until descriptors free up";
    let warned = lb.wait_for_output(needle, Duration::from_secs(3));
    if !warned {
        set_nofile(pid, old);
    }
    assert!(
        warned,
        "no EMFILE warning with RLIMIT_NOFILE 64 ({open_fds} fds open before) and 100 clients:\n{}",
        lb.output()
    );
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    let t0 = cpu_ticks(pid);
    let w0 = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - t0;
    let wall = w0.elapsed();
    set_nofile(pid, old);
    let share = used as f64 / hz as f64 / wall.as_secs_f64();
    assert!(
        share < 0.35,
        "ringlb used {:.0}% of a core in {wall:?} while out of descriptors (spinning accept?)\n{}",
        share * 100.0,
        lb.output()
    );
    drop(clients);
    // Recovered: the limit is back and the queued connections are gone.
    let r = get_once(addr, "/after");
    assert_eq!(r.status, 200, "{}\n{}", r.describe(), lb.output());
    let out = lb.output();
    let warnings: Vec<&str> = out.lines().filter(|l| l.contains(needle)).collect();
    assert_eq!(
        warnings.len(),
        1,
        "the descriptor problem should be reported once:\n{out}"
    );
    assert!(
        warnings[0].contains("accept"),
        "the warning should name accept: {}",
        warnings[0]
    );
});

both_drivers!(ipv6_loopback_bind, |driver| {
    if TcpListener::bind("[::1]:0").is_err() {
        println!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let be = HttpBackend::start("s1");
    let lb = Ringlb::start(&one_server_cfg("[::1]:0", "s1", be.addr), driver);
    let addr = lb.addr("fe");
    assert!(addr.is_ipv6() && addr.port() != 0, "bind line: {addr}");
    for i in 0..4 {
        let r = get_once(addr, &format!("/v6-{i}"));
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.server(), "s1");
    }
});

both_drivers!(tcp_idle_client_timeout_closes, |driver| {
    let echo = TcpEchoBackend::start();
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    \
         timeout client 500ms\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
         default_backend echo\n\nbackend echo\n    server e1 {}\n",
        echo.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let mut s = TcpStream::connect_timeout(&lb.addr("fe"), IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).expect("echo before going idle");
    assert_eq!(&buf, b"ping");
    let idle = Instant::now();
    let mut tmp = [0u8; 64];
    match s.read(&mut tmp) {
        Ok(0) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("unexpected bytes on an idle relay: {:?}", lossy(&tmp[..n])),
        Err(e) => panic!(
            "idle client not closed after {:?} with timeout client 500ms: {e}\n{}",
            idle.elapsed(),
            lb.output()
        ),
    }
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(350) && after <= Duration::from_secs(2),
        "idle client closed after {after:?}, expected about 500 ms"
    );
});

/// Connects until the port refuses: every listener of the process is closed (the stop has been
/// seen by every core). Panics after `timeout`.
fn wait_refused(addr: SocketAddr, timeout: Duration) {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return,
            _ => {}
        }
        assert!(
            start.elapsed() < timeout,
            "{addr} still accepts connections {timeout:?} after the stop"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

both_drivers!(
    soft_stop_serves_the_first_request_of_an_accepted_connection,
    |driver| {
        let be = HttpBackend::start("s1");
        let mut lb = Ringlb::start(&one_server_cfg("127.0.0.1:0", "s1", be.addr), driver);
        let addr = lb.addr("fe");
        let mut c = Client::connect(addr);
        // An idle core accepts at once; the request is sent only after the stop.
        thread::sleep(Duration::from_millis(200));
        lb.signal(libc::SIGUSR1);
        wait_refused(addr, Duration::from_secs(2));
        c.send_request("GET", "/after-the-stop", &[], b"");
        let r = c.try_read_response(false).unwrap_or_else(|e| {
            panic!(
                "a connection accepted before the soft stop lost its first request: {e}\n{}",
                lb.output()
            )
        });
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.seen().target, "/after-the-stop");
        assert!(
            r.has_token("connection", "close"),
            "the response after a stop must close: {}",
            r.describe()
        );
        c.expect_closed();
        let st = lb.wait_exit(Duration::from_secs(3));
        assert!(
            st.is_some(),
            "still running after its last connection:\n{}",
            lb.output()
        );
    }
);

both_drivers!(
    soft_stop_closes_keep_alive_after_the_response_in_flight,
    |driver| {
        let be = HttpBackend::start("s1");
        let mut lb = Ringlb::start(&one_server_cfg("127.0.0.1:0", "s1", be.addr), driver);
        let addr = lb.addr("fe");
        let mut c = Client::connect(addr);
        let first = c.get("/first");
        assert!(
            !first.has_token("connection", "close"),
            "keep-alive before the stop: {}",
            first.describe()
        );
        c.send_request("GET", "/delay/800", &[], b"");
        be.wait_for("the slow request", Duration::from_secs(5), |c| {
            c.in_flight == 1
        });
        lb.signal(libc::SIGUSR1);
        let r = c.read_response();
        assert_eq!(r.status, 200, "{}\n{}", r.describe(), lb.output());
        assert_eq!(r.seen().target, "/delay/800");
        assert!(
            r.has_token("connection", "close"),
            "the response in flight at a soft stop must say connection: close: {}",
            r.describe()
        );
        c.expect_closed();
        let st = lb.wait_exit(Duration::from_secs(3));
        assert!(
            st.is_some(),
            "still running after the response:\n{}",
            lb.output()
        );
        assert_eq!(st.unwrap().code(), Some(0), "{}", lb.output());
    }
);

both_drivers!(
    soft_stop_closes_an_idle_keep_alive_connection_at_once,
    |driver| {
        let be = HttpBackend::start("s1");
        let mut lb = Ringlb::start(&one_server_cfg("127.0.0.1:0", "s1", be.addr), driver);
        let mut c = Client::connect(lb.addr("fe"));
        assert_eq!(c.get("/first").status, 200);
        // Idle for longer than a connection that was just active may be (1 s, see the next test).
        thread::sleep(Duration::from_millis(1300));
        let stop = Instant::now();
        lb.signal(libc::SIGUSR1);
        c.set_read_timeout(Duration::from_secs(3));
        c.expect_closed();
        // The stop is seen within 50 ms; `timeout http-keep-alive` (here `timeout client`, 5 s)
        // must not be what closed it.
        assert!(
            stop.elapsed() < Duration::from_millis(600),
            "idle keep-alive connection closed {:?} after the soft stop",
            stop.elapsed()
        );
        assert!(
            lb.wait_exit(Duration::from_secs(2)).is_some(),
            "{}",
            lb.output()
        );
    }
);

both_drivers!(
    soft_stop_serves_the_next_request_of_a_just_active_keep_alive_connection,
    |driver| {
        let be = HttpBackend::start("s1");
        let mut lb = Ringlb::start(&one_server_cfg("127.0.0.1:0", "s1", be.addr), driver);
        let addr = lb.addr("fe");
        let mut c = Client::connect(addr);
        let first = c.get("/first");
        assert!(
            !first.has_token("connection", "close"),
            "{}",
            first.describe()
        );
        // The stop lands while the client is about to send its next request, as under load.
        lb.signal(libc::SIGUSR1);
        wait_refused(addr, Duration::from_secs(2));
        c.send_request("GET", "/next", &[], b"");
        let r = c.try_read_response(false).unwrap_or_else(|e| {
            panic!(
                "a keep-alive connection active just before the soft stop lost its next request: \
             {e}\n{}",
                lb.output()
            )
        });
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.seen().target, "/next");
        assert!(r.has_token("connection", "close"), "{}", r.describe());
        c.expect_closed();
        assert!(
            lb.wait_exit(Duration::from_secs(3)).is_some(),
            "{}",
            lb.output()
        );
    }
);

/// Serving still works and the process is still there.
fn assert_serving(lb: &mut Ringlb, after: &str) {
    assert!(
        lb.wait_exit(Duration::from_millis(100)).is_none(),
        "ringlb exited after {after}:\n{}",
        lb.output()
    );
    let r = get_once(lb.addr("fe"), "/still-serving");
    assert_eq!(
        r.status,
        200,
        "after {after}: {}\n{}",
        r.describe(),
        lb.output()
    );
}

both_drivers!(sighup_logs_server_states_and_keeps_serving, |driver| {
    let be = HttpBackend::start("s1");
    let down = refused_addr();
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\nbackend app\n    \
         server s1 {} check inter 100ms\n    server s2 {down} check inter 100ms fall 1\n    \
         server s3 {} disabled\n    server b1 {} backup\n",
        be.addr, be.addr, be.addr
    ));
    let mut lb = Ringlb::start(&cfg, driver);
    assert!(
        lb.wait_for_output("Server app/s2 is DOWN", Duration::from_secs(5)),
        "s2 never went down:\n{}",
        lb.output()
    );
    lb.signal(libc::SIGHUP);
    let last = "SIGHUP: Proxy app has 1 active servers and 1 backup servers available.";
    assert!(
        lb.wait_for_output(last, Duration::from_secs(3)),
        "no SIGHUP dump ending with {last:?}:\n{}",
        lb.output()
    );
    let out = lb.output();
    for line in [
        "SIGHUP received, dumping servers states.",
        "SIGHUP: Proxy fe has no servers.",
        "SIGHUP: Server app/s1 is UP.",
        "SIGHUP: Server app/s2 is DOWN.",
        "SIGHUP: Server app/s3 is DOWN.",
        "SIGHUP: Server app/b1 is UP.",
    ] {
        assert!(out.contains(line), "the SIGHUP dump lacks {line:?}:\n{out}");
    }
    assert_serving(&mut lb, "SIGHUP");
    lb.signal(libc::SIGUSR2);
    assert!(
        lb.wait_for_output("SIGUSR2 received and ignored", Duration::from_secs(3)),
        "no log line for SIGUSR2:\n{}",
        lb.output()
    );
    assert!(
        lb.output().contains("master-worker"),
        "the SIGUSR2 line should say why: {}",
        lb.output()
    );
    assert_serving(&mut lb, "SIGUSR2");
    lb.signal(libc::SIGQUIT);
    assert!(
        lb.wait_for_output("SIGQUIT received and ignored", Duration::from_secs(3)),
        "no log line for SIGQUIT:\n{}",
        lb.output()
    );
    assert_serving(&mut lb, "SIGQUIT");
});

/// Asks for a large response, reads part of it, then resets the connection (SO_LINGER 0), so
/// that the proxy's next writes to it fail (EPIPE, which raises SIGPIPE unless ignored).
fn reset_mid_response(addr: SocketAddr) {
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.write_all(b"GET /size/8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 16384];
    let mut got = 0;
    while got < 64 * 1024 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got > 0, "no response bytes before the reset");
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on the test's own socket with a valid linger struct.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", io::Error::last_os_error());
}

both_drivers!(
    sigpipe_and_clients_resetting_mid_response_do_not_kill,
    |driver| {
        let be = HttpBackend::start("s1");
        let mut lb = Ringlb::start(&one_server_cfg("127.0.0.1:0", "s1", be.addr), driver);
        let addr = lb.addr("fe");
        for _ in 0..5 {
            reset_mid_response(addr);
        }
        // Give the proxy time to write into the reset connections.
        thread::sleep(Duration::from_millis(300));
        assert_serving(&mut lb, "clients that reset mid-response");
        lb.signal(libc::SIGPIPE);
        thread::sleep(Duration::from_millis(100));
        assert_serving(&mut lb, "SIGPIPE");
    }
);
