//! The accept loop of one listener on one core.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use monoio::net::TcpListener;

use super::limits::CROSS_CORE_RECHECK;
use super::{conn, ListenSpec, Worker};

/// Pause after EMFILE/ENFILE: the connection stays in the kernel's queue, and retrying at once
/// would spin at 100% CPU until a descriptor frees up.
const FD_EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);
/// Pause after any other accept error (ECONNABORTED and friends are per-connection and rare).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(5);

pub async fn accept_loop(worker: Rc<Worker>, spec: ListenSpec, listener: TcpListener) {
    let mut warned_fds = false;
    loop {
        if !wait_below_limits(&worker, spec.frontend).await {
            return;
        }
        let accepted = monoio::select! {
            r = listener.accept() => Some(r),
            _ = worker.stop.notified() => None,
        };
        let Some(result) = accepted else { return };
        match result {
            Ok((stream, peer)) => {
                // The slot is taken here, before the next accept, so that a burst of accepts
                // cannot run past maxconn before the spawned tasks get to count themselves.
                let guard = conn::ConnGuard::try_new(&worker, spec.frontend);
                monoio::spawn(conn::serve(
                    Rc::clone(&worker),
                    spec.frontend,
                    stream,
                    peer,
                    guard,
                ));
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
            return;
        }
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
