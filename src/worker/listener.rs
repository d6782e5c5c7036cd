//! The accept loop of one listener on one core, and what it does with its queue at a stop.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use monoio::io::Canceller;
use monoio::net::{TcpListener, TcpStream};

use super::limits::CROSS_CORE_RECHECK;
use super::CoreTls;
use super::{ListenSpec, Worker};
use crate::config::model::FrontendId;
use crate::net::queue::{self, Queued};
use crate::serve::accept as conn;

/// Pause after EMFILE/ENFILE: the connection stays in the kernel's queue, and retrying at once
/// would spin at 100% CPU until a descriptor frees up.
const FD_EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);
/// Pause after any other accept error (ECONNABORTED and friends are per-connection and rare).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(5);

/// Accepts until the worker stops, then takes in what is already queued (`drain_queue`) and
/// returns, which closes the listener; or, once the socket was handed to a new process, just
/// returns.
/// `tls`: this core's rustls configs when the bind says `ssl`.
pub async fn accept_loop(
    worker: Rc<Worker>,
    spec: ListenSpec,
    listener: TcpListener,
    tls: Option<Rc<CoreTls>>,
) {
    let mut warned_fds = false;
    loop {
        if !wait_below_limits(&worker, spec.frontend).await {
            break;
        }
        let Some(result) = accept_unless_stopped(&worker, &listener).await else {
            break;
        };
        match result {
            Ok((stream, _)) => {
                // The slot is taken here, before the next accept, so that a burst of accepts
                // cannot run past maxconn before the spawned tasks get to count themselves.
                let guard = conn::ConnGuard::try_new(&worker, spec.frontend);
                let how = conn::How {
                    tls: tls.clone(),
                    proto: spec.proto,
                    accept_proxy: spec.accept_proxy,
                    listener: spec.listener,
                };
                start(&worker, spec.frontend, stream, guard, how);
            }
            Err(e) if is_fd_exhaustion(&e) => {
                if !warned_fds {
                    eprintln!("ringlb: worker {}: accept: {e}; pausing accepts until descriptors free up (raise ulimit -n or lower maxconn)", worker.index);
                    warned_fds = true;
                }
                monoio::time::sleep(FD_EXHAUSTED_PAUSE).await;
            }
            Err(_) => monoio::time::sleep(ACCEPT_ERROR_PAUSE).await,
        }
        if worker.is_stopping() {
            break;
        }
    }
    if crate::net::handover::handed_over() {
        // A newer process took this socket (`-x`): it accepts from the same queue, so what is
        // queued is its to serve. Neither drain it (those clients would get our
        // `Connection: close` and a core that is going away) nor shut it down: shutdown acts
        // on the socket, not on our descriptor, and would stop the new process's listener
        // and reset its queue. Dropping the listener closes only our descriptor; the kernel
        // socket lives on in the new process.
        return;
    }
    let how = conn::How {
        tls,
        proto: spec.proto,
        accept_proxy: spec.accept_proxy,
        listener: spec.listener,
    };
    drain_queue(&worker, spec.frontend, &listener, &how);
}

fn start(
    worker: &Rc<Worker>,
    frontend: FrontendId,
    stream: TcpStream,
    guard: Option<conn::ConnGuard>,
    how: conn::How,
) {
    monoio::spawn(conn::serve(Rc::clone(worker), frontend, stream, guard, how));
}

/// One accept, given up when the worker stops. The accept is cancelled and then awaited, so a
/// connection accepted at that very moment is served rather than lost (on io_uring a
/// cancelled accept may still complete). None: stopped with nothing accepted.
async fn accept_unless_stopped(
    worker: &Worker,
    listener: &TcpListener,
) -> Option<io::Result<(TcpStream, SocketAddr)>> {
    let canceller = Canceller::new();
    let mut accept = std::pin::pin!(listener.cancelable_accept(canceller.handle()));
    let done = monoio::select! {
        r = &mut accept => Some(r),
        _ = worker.stop.notified() => None,
    };
    if let Some(r) = done {
        return Some(r);
    }
    let _ = canceller.cancel();
    accept.await.ok().map(Ok)
}

/// At a stop, before the listener closes: accepts, without waiting, every connection the kernel
/// has already queued on it, and serves each like any other (its first request is answered).
/// Closing the listener would reset them; the clients have completed their handshake and
/// may be sending their request already. At most one queue's worth, and only while the maxconn
/// limits have room.
///
/// Then the listener is shut down at once, in the same breath: that takes it out of the
/// SO_REUSEPORT group, so the kernel sends new connections to the other process's sockets.
/// Dropping it only queues an asynchronous close on io_uring, and connections that land on it
/// meanwhile would be reset. What still arrives between the last accept and the shutdown is
/// reset: a reload with `-x` hands the sockets over instead (see `accept_loop`).
fn drain_queue(worker: &Rc<Worker>, frontend: FrontendId, listener: &TcpListener, how: &conn::How) {
    if queue::set_nonblocking(listener) {
        accept_queued_all(worker, frontend, listener, how);
    }
    queue::shutdown(listener);
}

fn accept_queued_all(
    worker: &Rc<Worker>,
    frontend: FrontendId,
    listener: &TcpListener,
    how: &conn::How,
) {
    for _ in 0..crate::net::LISTEN_BACKLOG {
        let Some(guard) = conn::ConnGuard::try_new(worker, frontend) else {
            return;
        };
        match queue::accept_queued(listener) {
            Queued::Conn(stream) => start(worker, frontend, stream, Some(guard), how.clone()),
            Queued::Skipped => {}
            Queued::Empty => return,
        }
    }
}

/// Waits while the process is at its global or this frontend's maxconn (HAProxy stops
/// accepting at maxconn and resumes below it). Returns false when the worker is stopping.
async fn wait_below_limits(worker: &Worker, frontend: FrontendId) -> bool {
    loop {
        if worker.is_stopping() {
            return false;
        }
        let fe_room = worker
            .limits
            .frontend(frontend)
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
