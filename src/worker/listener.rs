//! The accept loop of one listener on one core.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use monoio::net::{TcpListener, TcpStream};

use super::limits::CROSS_CORE_RECHECK;
use super::{conn, ListenSpec, Worker};

/// Pause after EMFILE/ENFILE: the connection stays in the kernel's queue, and retrying at once
/// would spin at 100% CPU until a descriptor frees up.
const FD_EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);
/// Connections taken per wake-up beyond the first (HAProxy's `tune.maxaccept` is 64).
const ACCEPT_BURST: usize = 64;
/// Pause after any other accept error (ECONNABORTED and friends are per-connection and rare).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(5);

pub async fn accept_loop(worker: Rc<Worker>, spec: ListenSpec, listener: TcpListener) {
    let mut warned_fds = false;
    let fd = listener.as_raw_fd();
    loop {
        if !wait_below_limits(&worker, spec.frontend).await {
            return;
        }
        let accepted = monoio::select! {
            r = listener.accept() => Some(r),
            _ = worker.stop.notified() => None,
        };
        let Some(mut result) = accepted else { return };
        // After one accept through the driver, take what else is already queued with plain
        // non-blocking accepts (HAProxy's tune.maxaccept): on io_uring each accept through the
        // ring costs a whole submit/complete round, so a burst of new connections would
        // otherwise be taken one ring round at a time.
        for _ in 0..ACCEPT_BURST {
            match result {
                Ok((stream, peer)) => start_connection(&worker, spec.frontend, stream, peer),
                Err(e) => {
                    pause_after(&worker, &e, &mut warned_fds).await;
                    break;
                }
            }
            let room = worker
                .limits
                .frontends
                .get(spec.frontend)
                .is_some_and(|f| f.has_room())
                && worker.limits.global.has_room();
            // Only accept when there is room: a connection taken from the queue must be served.
            match room.then(|| accept_queued(fd)).flatten() {
                Some(next) => result = next,
                None => break,
            }
        }
        if worker.is_stopping() {
            return;
        }
    }
}

fn start_connection(worker: &Rc<Worker>, frontend: usize, stream: TcpStream, peer: SocketAddr) {
    // The slot is taken here, before the next accept, so that a burst of accepts cannot run
    // past maxconn before the spawned tasks get to count themselves.
    let guard = conn::ConnGuard::try_new(worker, frontend);
    monoio::spawn(conn::serve(
        Rc::clone(worker),
        frontend,
        stream,
        peer,
        guard,
    ));
}

async fn pause_after(worker: &Worker, e: &io::Error, warned_fds: &mut bool) {
    if is_fd_exhaustion(e) {
        if !*warned_fds {
            eprintln!("ringlb: worker {}: accept: {e}; pausing accepts until descriptors free up (raise ulimit -n or lower maxconn)", worker.index);
            *warned_fds = true;
        }
        monoio::time::sleep(FD_EXHAUSTED_PAUSE).await;
    } else {
        monoio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }
}

/// One more connection from the listener's queue with a non-blocking accept4, if one waits.
fn accept_queued(listener: RawFd) -> Option<io::Result<(TcpStream, SocketAddr)>> {
    // SAFETY: accept4 writes at most `len` bytes of address into the storage socket2 provides.
    let res = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let fd = libc::accept4(
                listener,
                storage.cast(),
                len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            );
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(fd)
            }
        })
    };
    match res {
        Ok((fd, addr)) => {
            // SAFETY: `fd` is a connected socket accept4 just returned; we own it from here.
            let std = unsafe { std::net::TcpStream::from_raw_fd(fd) };
            let Some(peer) = addr.as_socket() else {
                return Some(Err(io::ErrorKind::InvalidInput.into()));
            };
            Some(TcpStream::from_std(std).map(|s| (s, peer)))
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) => Some(Err(e)),
    }
}

/// Waits while the process is at its global or this frontend's maxconn (HAProxy stops
/// accepting at maxconn and resumes below it). Returns false when the worker is stopping.
async fn wait_below_limits(worker: &Worker, frontend: usize) -> bool {
    loop {
        if worker.is_stopping() {
            return false;
        }
        let fe_room = worker
            .limits
            .frontends
            .get(frontend)
            .is_some_and(|f| f.has_room());
        if fe_room && worker.limits.global.has_room() {
            return true;
        }
        if !wait_for_room(worker).await {
            return false;
        }
    }
}

/// Waits until a connection closes on this core or `CROSS_CORE_RECHECK` passes (another core
/// may have freed a slot). Returns false when the worker is stopping.
pub async fn wait_for_room(worker: &Worker) -> bool {
    monoio::select! {
        _ = worker.conn_closed.notified() => true,
        _ = monoio::time::sleep(CROSS_CORE_RECHECK) => true,
        _ = worker.stop.notified() => false,
    }
}

fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}
