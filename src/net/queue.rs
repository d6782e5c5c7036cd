//! A listener's accept queue taken in at a stop, outside the runtime's own accepts: the queued
//! connections are accepted with plain non-blocking `accept4` calls, then the listener is shut
//! down (see worker/listener.rs for why, and why at once).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd};

use monoio::net::{TcpListener, TcpStream};

pub enum Queued {
    Conn(TcpStream),
    /// That one was reset or could not be set up; others may follow.
    Skipped,
    /// Nothing more is queued (or accepting fails as a whole: out of descriptors).
    Empty,
}

/// Without it an accept on an empty queue would block the whole core.
pub fn set_nonblocking(listener: &TcpListener) -> bool {
    let fd = listener.as_raw_fd();
    // SAFETY: fcntl on the listener's own descriptor, which stays open while borrowed here.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    }
}

/// One connection from the accept queue, without waiting.
pub fn accept_queued(listener: &TcpListener) -> Queued {
    let fd = listener.as_raw_fd();
    // The legacy (epoll) driver needs non-blocking sockets; io_uring takes them as its own
    // accepts make them, blocking.
    let flags = if monoio::utils::is_legacy() {
        libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK
    } else {
        libc::SOCK_CLOEXEC
    };
    // SAFETY: accept4 on a valid listening descriptor; null address pointers are allowed.
    let conn = unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags) };
    if conn < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ECONNABORTED) | Some(libc::EINTR) => Queued::Skipped,
            _ => Queued::Empty,
        };
    }
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let std_stream = unsafe { std::net::TcpStream::from_raw_fd(conn) };
    match TcpStream::from_std(std_stream) {
        Ok(stream) => Queued::Conn(stream),
        Err(_) => Queued::Skipped,
    }
}

/// Shuts the listener down: that takes it out of the SO_REUSEPORT group at once.
pub fn shutdown(listener: &TcpListener) {
    // SAFETY: shutdown on the listener's own descriptor, still open (closed on drop).
    unsafe {
        libc::shutdown(listener.as_raw_fd(), libc::SHUT_RDWR);
    }
}
