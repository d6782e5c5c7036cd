//! The logger thread's open targets: a connected non-blocking UDP or unix datagram socket, or
//! the process's stdout / stderr. A send that would block is a dropped message, never a wait.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;

use crate::config::model_log::{LogDest, LogTarget};

pub enum Open {
    Udp(UdpSocket),
    Unix(UnixDatagram),
    Stdout,
    Stderr,
    /// Could not be opened (said once at start); its messages count as dropped.
    Broken,
}

impl Open {
    pub fn new(t: &LogTarget) -> Self {
        match open(&t.dest) {
            Ok(o) => o,
            Err(e) => {
                eprintln!(
                    "[ALERT]    ({}) : {}: cannot open log target: {e}; its messages are dropped",
                    std::process::id(),
                    t.loc
                );
                Open::Broken
            }
        }
    }

    /// Whether `len` cuts messages on this target (stdout and stderr are never cut).
    pub fn cuts(&self) -> bool {
        matches!(self, Open::Udp(_) | Open::Unix(_))
    }

    /// Sends one framed message; false when it was dropped.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        let sent = match self {
            Open::Udp(s) => s.send(bytes).map(|_| ()),
            Open::Unix(s) => s.send(bytes).map(|_| ()),
            Open::Stdout => io::stdout().lock().write_all(bytes),
            Open::Stderr => io::stderr().lock().write_all(bytes),
            Open::Broken => Err(io::ErrorKind::NotConnected.into()),
        };
        sent.is_ok()
    }
}

fn open(dest: &LogDest) -> io::Result<Open> {
    match dest {
        LogDest::Udp(addr) => {
            let any: SocketAddr = if addr.is_ipv6() {
                "[::]:0".parse().map_err(io::Error::other)?
            } else {
                "0.0.0.0:0".parse().map_err(io::Error::other)?
            };
            let s = UdpSocket::bind(any)?;
            s.connect(addr)?;
            s.set_nonblocking(true)?;
            Ok(Open::Udp(s))
        }
        LogDest::Unix(path) => {
            let s = UnixDatagram::unbound()?;
            s.connect(path)?;
            s.set_nonblocking(true)?;
            Ok(Open::Unix(s))
        }
        LogDest::Stdout => Ok(Open::Stdout),
        LogDest::Stderr => Ok(Open::Stderr),
    }
}
