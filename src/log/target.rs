//! The logger thread's open targets: a connected non-blocking UDP or unix datagram socket, or
//! the process's stdout / stderr. A send that would block is a dropped message, never a wait.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
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

    /// Sends the framed messages `text[ends[i-1]..ends[i]]`; returns how many went (the rest
    /// were dropped). Datagram sockets get them in `sendmmsg` calls: one system call per
    /// batch, not per line.
    pub fn send_all(&mut self, text: &[u8], ends: &[usize]) -> usize {
        match self {
            Open::Udp(s) => send_datagrams(s.as_raw_fd(), text, ends),
            Open::Unix(s) => send_datagrams(s.as_raw_fd(), text, ends),
            // Messages end in newlines: one write keeps them whole and in order.
            Open::Stdout => whole(io::stdout().lock().write_all(text), ends),
            Open::Stderr => whole(io::stderr().lock().write_all(text), ends),
            Open::Broken => 0,
        }
    }
}

fn whole(r: io::Result<()>, ends: &[usize]) -> usize {
    if r.is_ok() {
        ends.len()
    } else {
        0
    }
}

/// Most datagrams per `sendmmsg` call (the kernel's UIO_MAXIOV).
const MMSG_MAX: usize = 1024;

/// Non-blocking `sendmmsg` of each message as one datagram, until all went or the socket
/// would block (the rest are dropped).
fn send_datagrams(fd: RawFd, text: &[u8], ends: &[usize]) -> usize {
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(ends.len().min(MMSG_MAX));
    let mut sent = 0;
    while sent < ends.len() {
        let chunk = &ends[sent..ends.len().min(sent + MMSG_MAX)];
        iovs.clear();
        let mut start = if sent == 0 { 0 } else { ends[sent - 1] };
        for &end in chunk {
            let part = text.get(start..end).unwrap_or(&[]);
            iovs.push(libc::iovec {
                iov_base: part.as_ptr() as *mut libc::c_void,
                iov_len: part.len(),
            });
            start = end;
        }
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: an all-zero msghdr is valid (no name, no control data).
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        // SAFETY: `msgs` points to `msgs.len()` headers whose iovecs point into `text`, which
        // outlives the call; the socket is connected, so no address is needed.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            break;
        }
        sent += n as usize;
    }
    sent
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
