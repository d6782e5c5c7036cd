//! `-Ws`: systemd's readiness protocol (sd_notify), written here because it is one datagram.
//!
//! systemd passes `NOTIFY_SOCKET`, a unix datagram socket: a path, or an abstract name
//! written with a leading '@'. Each message is newline-separated `KEY=VALUE` lines. The master
//! sends `READY=1` once a worker serves, `RELOADING=1` with `MONOTONIC_USEC=` when a reload
//! begins (what `Type=notify-reload` wants; plain `Type=notify` accepts it too), `READY=1`
//! again when it ends, and `STOPPING=1` at the stop. `MAINPID=` names the master, so systemd
//! never mistakes a worker for the service's main process.
//!
//! A message that cannot be sent is reported once and never stops the master: systemd then
//! times the start out, which says more than a dead load balancer would.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};

pub struct Notifier {
    sock: UnixDatagram,
    addr: SocketAddr,
    warned: AtomicBool,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; `None` when systemd (or a test) did not set it.
    pub fn from_env() -> Option<Result<Notifier, String>> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        Some(Notifier::to(&name.to_string_lossy()))
    }

    pub fn to(name: &str) -> Result<Notifier, String> {
        let addr = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name.as_bytes())
            }
            None => SocketAddr::from_pathname(name),
        }
        .map_err(|e| format!("NOTIFY_SOCKET={name}: not a unix socket address: {e}"))?;
        let sock = UnixDatagram::unbound()
            .map_err(|e| format!("NOTIFY_SOCKET={name}: cannot open a datagram socket: {e}"))?;
        Ok(Notifier {
            sock,
            addr,
            warned: AtomicBool::new(false),
        })
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!(
            "READY=1\nMAINPID={}\nSTATUS={status}\n",
            std::process::id()
        ));
    }

    pub fn reloading(&self) {
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=Reloading configuration.\n",
            monotonic_usec()
        ));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=Stopping.\n");
    }

    fn send(&self, msg: &str) {
        if let Err(e) = self.sock.send_to_addr(msg.as_bytes(), &self.addr) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "[WARNING]  ({}) : cannot notify systemd (NOTIFY_SOCKET): {e}",
                    std::process::id()
                );
            }
        }
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abstract_and_path_sockets_receive() {
        let name = format!("ringlb-notify-test-{}", std::process::id());
        let addr = {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes()).unwrap()
        };
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::to(&format!("@{name}")).unwrap();
        n.reloading();
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(text.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{text}");
    }
}
