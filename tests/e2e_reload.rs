//! Seamless reloads: `ringlb -f CFG -x SOCK -sf OLDPID` takes the old process's listening
//! sockets over its `stats socket ... expose-fd listeners`, so that no connection queued on
//! them is lost; `-x` that cannot get them warns and binds as before.
//!
//! The load is real clients on loopback, keep-alive and one new connection per request
//! (tests/common/load.rs says what counts as lost).

mod common;

use common::*;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
    l.local_addr().unwrap().port()
}

/// A config with the runtime API on `sock` (`expose-fd listeners` when `expose`) and one
/// frontend per `binds` entry, all to `server`.
fn cfg(sock: &Path, expose: bool, binds: &[(&str, u16)], server: SocketAddr) -> String {
    cfg_threads(2, sock, expose, binds, server)
}

fn cfg_threads(
    threads: usize,
    sock: &Path,
    expose: bool,
    binds: &[(&str, u16)],
    server: SocketAddr,
) -> String {
    let expose = if expose { " expose-fd listeners" } else { "" };
    let mut out = format!(
        "global\n    nbthread {threads}\n    stats socket {} level admin{expose}\n\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    \
         timeout server 5s\n    timeout http-keep-alive 5s\n\n",
        sock.display()
    );
    for (name, port) in binds {
        out.push_str(&format!(
            "frontend {name}\n    bind 127.0.0.1:{port}\n    default_backend app\n\n"
        ));
    }
    out.push_str(&format!("backend app\n    server s1 {server}\n"));
    out
}

fn reload_args(sock: &Path, old: i32) -> Vec<String> {
    vec![
        "-x".into(),
        sock.display().to_string(),
        "-sf".into(),
        old.to_string(),
    ]
}

both_drivers!(five_reloads_with_x_lose_nothing_under_load, |driver| {
    let be = HttpBackend::start("s1");
    let port = free_port();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let text = cfg(&sock, true, &[("fe", port)], be.addr);
    let path = dir.write("ringlb.cfg", &text);
    // `dir` outlives every process (each Ringlb deletes its own dir when dropped).
    let mut lb = Ringlb::start_files(TempDir::new(), std::slice::from_ref(&path), driver, &text);
    let addr = lb.addr("fe");
    let (load, threads) = start_load(addr);
    thread::sleep(Duration::from_millis(300));
    for i in 0..5 {
        let mut next = Ringlb::start_files_args(
            TempDir::new(),
            std::slice::from_ref(&path),
            &reload_args(&sock, lb.pid()),
            driver,
            &text,
        );
        assert!(
            next.output().contains("took 2 listening socket(s)"),
            "reload {i}: the new process did not take the old one's sockets:\n{}",
            next.output()
        );
        let st = lb.wait_exit(Duration::from_secs(10));
        assert!(
            st.is_some(),
            "reload {i}: the old process still runs:\n{}",
            lb.output()
        );
        std::mem::swap(&mut lb, &mut next);
        thread::sleep(Duration::from_millis(200));
    }
    // The last process serves alone.
    thread::sleep(Duration::from_millis(300));
    load.stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let ok = load.ok.load(Ordering::SeqCst);
    let lost = load.lost.load(Ordering::SeqCst);
    assert_eq!(
        lost,
        0,
        "{lost} of {} requests lost over 5 reloads with -x; last: {}\nlast process:\n{}",
        ok + lost,
        load.last_error.lock().unwrap(),
        lb.output()
    );
    assert!(ok > 50, "only {ok} requests answered: the load did not run");
    assert_eq!(get_once(addr, "/after").status, 200);
});

both_drivers!(x_reload_to_a_changed_and_a_new_bind, |driver| {
    let be = HttpBackend::start("s1");
    let (kept, dropped, added) = (free_port(), free_port(), free_port());
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let text = cfg(&sock, true, &[("fe", kept), ("gone", dropped)], be.addr);
    let path = dir.write("ringlb.cfg", &text);
    let mut a = Ringlb::start_files(dir, std::slice::from_ref(&path), driver, &text);
    let new_text = cfg(&sock, true, &[("fe", kept), ("added", added)], be.addr);
    std::fs::write(&path, &new_text).unwrap();
    let b = Ringlb::start_files_args(
        TempDir::new(),
        std::slice::from_ref(&path),
        &reload_args(&sock, a.pid()),
        driver,
        &new_text,
    );
    assert!(
        b.output().contains("took 4 listening socket(s)"),
        "{}",
        b.output()
    );
    assert!(
        a.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        a.output()
    );
    assert_eq!(get_once(b.addr("fe"), "/kept").status, 200);
    assert_eq!(get_once(b.addr("added"), "/added").status, 200);
    // The bind the new config dropped: its old sockets are closed once the old process is gone.
    let gone: SocketAddr = format!("127.0.0.1:{dropped}").parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&gone, Duration::from_secs(1)).is_err(),
        "the dropped bind still accepts connections"
    );
});

both_drivers!(x_without_expose_fd_warns_and_binds, |driver| {
    let be = HttpBackend::start("s1");
    let port = free_port();
    let dir = TempDir::new();
    let sock = dir.path().join("api.sock");
    let text = cfg(&sock, false, &[("fe", port)], be.addr);
    let path = dir.write("ringlb.cfg", &text);
    let mut a = Ringlb::start_files(dir, std::slice::from_ref(&path), driver, &text);
    // The new process gets its own runtime API socket: the old one's path stays the old's.
    let dir_b = TempDir::new();
    let sock_b = dir_b.path().join("api.sock");
    let text_b = cfg(&sock_b, false, &[("fe", port)], be.addr);
    let path_b = dir_b.write("ringlb.cfg", &text_b);
    let b = Ringlb::start_files_args(
        dir_b,
        std::slice::from_ref(&path_b),
        &reload_args(&sock, a.pid()),
        driver,
        &text_b,
    );
    assert!(
        b.output().contains("[WARNING]") && b.output().contains("-x"),
        "no warning about -x:\n{}",
        b.output()
    );
    assert!(
        a.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        a.output()
    );
    assert_eq!(get_once(b.addr("fe"), "/after").status, 200);
});

both_drivers!(
    x_reload_to_fewer_then_more_threads_loses_nothing,
    |driver| {
        let be = HttpBackend::start("s1");
        let port = free_port();
        let dir = TempDir::new();
        let sock = dir.path().join("api.sock");
        let text = cfg_threads(3, &sock, true, &[("fe", port)], be.addr);
        let path = dir.write("ringlb.cfg", &text);
        let mut lb =
            Ringlb::start_files(TempDir::new(), std::slice::from_ref(&path), driver, &text);
        let addr = lb.addr("fe");
        let (load, threads) = start_load(addr);
        thread::sleep(Duration::from_millis(200));
        // 3 cores -> 1 (it adopts all 3 sockets) -> 4 (1 adopted, 3 bound fresh) -> 2.
        for (threads_now, took) in [(1, 3), (4, 3), (2, 4)] {
            let text = cfg_threads(threads_now, &sock, true, &[("fe", port)], be.addr);
            std::fs::write(&path, &text).unwrap();
            let mut next = Ringlb::start_files_args(
                TempDir::new(),
                std::slice::from_ref(&path),
                &reload_args(&sock, lb.pid()),
                driver,
                &text,
            );
            let want = format!("took {took} listening socket(s)");
            assert!(next.output().contains(&want), "{want}?\n{}", next.output());
            assert!(
                lb.wait_exit(Duration::from_secs(10)).is_some(),
                "{}",
                lb.output()
            );
            std::mem::swap(&mut lb, &mut next);
            thread::sleep(Duration::from_millis(200));
        }
        load.stop.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        let lost = load.lost.load(Ordering::SeqCst);
        assert_eq!(
            lost,
            0,
            "lost {lost}; last: {}\n{}",
            load.last_error.lock().unwrap(),
            lb.output()
        );
        assert_eq!(get_once(addr, "/after").status, 200);
    }
);
