//! Runtime API commands each core applies to its own state, sent by the checker thread to
//! every core beside the health events (health/view.rs drains both on the same tick):
//! nothing here is shared, so each core does the change itself.
//!
//! - `Addr`: new connections to the server go to the new address; its idle pooled
//!   connections (to the old one) are closed.
//! - `Shutdown`: the sessions on a server end (worker/sessions.rs).
//! - `Clear`: `clear counters [all]` on this core's own counters and, with `all`, its latency
//!   histograms (single-writer: only this core may write them).
//! - `ShutdownSession`: one session, if it is this core's.
//! - `ShowSess`: a copy of this core's live sessions, sent back on the channel given.
//! - `AddServer`, `DelServer`: a server slot filled or emptied (worker/dynamic.rs).

use std::net::SocketAddr;

use crossbeam_channel::Sender;

use super::sessions::SessLine;
use super::Worker;
use std::sync::Arc;

use crate::config::model::{BackendId, Server, ServerId};

#[derive(Clone, Debug)]
pub enum CoreCmd {
    Addr {
        backend: BackendId,
        server: ServerId,
        addr: SocketAddr,
    },
    Shutdown {
        backend: BackendId,
        server: ServerId,
    },
    /// The core's index goes back on `done` once its counters are cleared.
    Clear {
        all: bool,
        done: Sender<(usize, Vec<SessLine>)>,
    },
    /// `shutdown session ID`.
    ShutdownSession(u64),
    /// The core's index and its sessions go back on the sender.
    ShowSess(Sender<(usize, Vec<SessLine>)>),
    /// `add server`: the slot's server (each core keeps its own copy).
    AddServer {
        backend: BackendId,
        server: ServerId,
        cfg: Arc<Server>,
    },
    /// `del server`.
    DelServer {
        backend: BackendId,
        server: ServerId,
    },
}

impl Worker {
    /// Applies one command to this core.
    pub fn control(&self, cmd: CoreCmd) {
        match cmd {
            CoreCmd::Addr {
                backend,
                server,
                addr,
            } => {
                if let Some(rt) = self.backend_rt(backend) {
                    if let Some(slot) = rt.balancer.slot(server) {
                        slot.addr.set(addr);
                    }
                    rt.pool.clear_server(server);
                }
            }
            CoreCmd::Shutdown { backend, server } => {
                self.sessions.shutdown_server(backend, server);
            }
            CoreCmd::Clear { all, done } => {
                if let Some(c) = self.stats.mine() {
                    c.clear(all);
                }
                if all {
                    // The latency histograms start again too (published on the next tick).
                    if let Ok(mut l) = self.stats.latency.try_borrow_mut() {
                        *l = crate::stats::latency::LatencyTables::new(&self.model);
                        self.stats.dirty.set(true);
                    }
                }
                let _ = done.send((self.index, Vec::new()));
            }
            CoreCmd::ShutdownSession(id) => self.sessions.shutdown_id(id),
            CoreCmd::ShowSess(reply) => {
                // The API thread may have given up waiting: nothing to do then.
                let _ = reply.send((self.index, self.sessions.lines()));
            }
            CoreCmd::AddServer {
                backend,
                server,
                cfg,
            } => self.add_server(backend, server, &cfg),
            CoreCmd::DelServer { backend, server } => self.del_server(backend, server),
        }
    }
}
