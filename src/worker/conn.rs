//! One client connection's life: counted against the limits, then handed to its mode.

use std::net::SocketAddr;
use std::rc::Rc;

use monoio::net::TcpStream;

use super::Worker;
use crate::config::model::Mode;

/// Counts a client connection against its frontend's and the core's limits; dropping it
/// releases both and wakes an accept loop paused at a limit.
pub struct ConnGuard {
    worker: Rc<Worker>,
    frontend: usize,
}

impl ConnGuard {
    pub fn new(worker: &Rc<Worker>, frontend: usize) -> Self {
        if let Some(f) = worker.frontends.get(frontend) {
            f.conns.set(f.conns.get() + 1);
        }
        worker.conns.set(worker.conns.get() + 1);
        ConnGuard {
            worker: Rc::clone(worker),
            frontend,
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Some(f) = self.worker.frontends.get(self.frontend) {
            f.conns.set(f.conns.get().saturating_sub(1));
        }
        self.worker
            .conns
            .set(self.worker.conns.get().saturating_sub(1));
        self.worker.conn_closed.notify_all();
    }
}

pub async fn serve(
    worker: Rc<Worker>,
    frontend: usize,
    client: TcpStream,
    peer: SocketAddr,
    guard: ConnGuard,
) {
    let _guard = guard;
    // Small heads and responses must leave at once; Nagle would hold them back for an ACK.
    let _ = client.set_nodelay(true);
    let local = client.local_addr().unwrap_or(peer);
    let Some(fe) = worker.model.frontends.get(frontend) else {
        return;
    };
    match fe.mode {
        Mode::Tcp => crate::tcp::serve(&worker, frontend, client, peer, local).await,
        Mode::Http => crate::http::proxy::serve(&worker, frontend, client, peer, local).await,
    }
}
