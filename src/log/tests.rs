//! The logger on its own: what it counts when a target is read and when it is not, and that
//! handing lines over never waits.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use super::Logger;
use crate::config::{load_str, Model};

fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

fn model(log: &str) -> Model {
    let cfg = format!(
        "global\n    log {log}\n\ndefaults\n    mode http\n    log global\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\n\
         backend be\n    server s1 127.0.0.1:1\n"
    );
    match load_str("t.cfg", &cfg) {
        Ok(l) => l.model,
        Err(e) => panic!("{e:?}"),
    }
}

fn socket_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ringlb-log-{}-{name}.sock", std::process::id()))
}

#[test]
fn nothing_to_log_starts_no_thread() {
    let cfg = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\nbackend be\n    server s1 127.0.0.1:1\n";
    let m = load_str("t.cfg", cfg).map(|l| l.model);
    assert!(matches!(m.map(|m| Logger::start(&m)), Ok(Ok(None))));
}

#[test]
fn a_target_nobody_reads_drops_and_counts_without_waiting() {
    let path = socket_path("stuck");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap_or_else(|e| panic!("{e}"));
    let m = model(&format!("{} local0", path.display()));
    let logger = match Logger::start(&m) {
        Ok(Some(l)) => l,
        _ => panic!("no logger"),
    };
    let hub = logger.hub();
    let set = hub.plan.global();
    let counters = hub.counters.clone();
    let t = Instant::now();
    const N: u64 = 2000;
    for i in 0..N {
        hub.event(set, 6, &format!("message {i}"));
    }
    assert!(t.elapsed() < Duration::from_secs(1), "handing over waited");
    drop(hub);
    logger.stop();
    let (sent, dropped) = (load(&counters.sent), load(&counters.dropped));
    assert_eq!(sent + dropped, N, "sent {sent} dropped {dropped}");
    assert!(dropped > 0 && sent > 0, "sent {sent} dropped {dropped}");
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).unwrap_or(0);
    assert!(buf[..n].ends_with(b"]: message 0\n"), "{:?}", &buf[..n]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn levels_filter_and_count_nothing() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = rx.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let m = model(&format!("{addr} local0 notice err"));
    let logger = match Logger::start(&m) {
        Ok(Some(l)) => l,
        _ => panic!("no logger"),
    };
    let hub = logger.hub();
    let counters = hub.counters.clone();
    hub.event(hub.plan.global(), 6, "info: filtered out");
    hub.event(hub.plan.global(), 0, "emerg: sent at err");
    drop(hub);
    logger.stop();
    assert_eq!((load(&counters.sent), load(&counters.dropped)), (1, 0));
    let mut buf = [0u8; 256];
    let _ = rx.set_read_timeout(Some(Duration::from_secs(2)));
    let n = rx.recv(&mut buf).unwrap_or(0);
    // local0 (16) * 8 + err (3)
    assert!(
        buf[..n].starts_with(b"<131>"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}
