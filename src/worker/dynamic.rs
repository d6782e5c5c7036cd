//! Servers the runtime API adds and deletes (`add server`, `del server`), as one core sees
//! them. Every per-server table of the core was sized at start with free slots after the
//! configured servers (`Backend::dynamic_slots`); the checker thread fills one by a
//! `CoreCmd::AddServer` to every core, on the same channel as the other commands, and a
//! deleted server's slot stays empty (a tombstone), so that no index ever names two servers.
//!
//! A slot's configuration is the model's for a configured server, else this core's own copy
//! of the added one (an `Rc`: no other core touches its count).

use std::cell::RefCell;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::Arc;

use super::{BackendRt, Worker};
use crate::config::model::{Backend, BackendId, Server, ServerId};
use crate::tls::client_config::ClientTls;

/// A server's configuration: the model's, or an added server's.
pub enum SrvRef<'a> {
    Configured(&'a Server),
    Added(Rc<Server>),
}

impl Deref for SrvRef<'_> {
    type Target = Server;
    fn deref(&self) -> &Server {
        match self {
            SrvRef::Configured(s) => s,
            SrvRef::Added(s) => s,
        }
    }
}

/// The added servers of one backend on this core, by slot after the configured ones.
#[derive(Default)]
pub struct Added {
    servers: RefCell<Vec<Option<Rc<Server>>>>,
    /// Their names for request records (which may outlive the server's slot).
    names: RefCell<Vec<Option<Arc<str>>>>,
}

impl Added {
    pub fn new(be: &Backend) -> Self {
        Added {
            servers: RefCell::new(vec![None; be.dynamic_slots]),
            names: RefCell::new(vec![None; be.dynamic_slots]),
        }
    }

    fn get(&self, first: usize, server: ServerId) -> Option<Rc<Server>> {
        let i = server.index().checked_sub(first)?;
        self.servers.borrow().get(i).cloned().flatten()
    }

    fn name(&self, first: usize, server: ServerId) -> Option<Arc<str>> {
        let i = server.index().checked_sub(first)?;
        self.names.borrow().get(i).cloned().flatten()
    }

    fn set(&self, first: usize, server: ServerId, cfg: Option<Rc<Server>>) {
        let Some(i) = server.index().checked_sub(first) else {
            return;
        };
        if let Some(slot) = self.names.borrow_mut().get_mut(i) {
            *slot = cfg.as_ref().map(|c| Arc::from(c.name.as_str()));
        }
        if let Some(slot) = self.servers.borrow_mut().get_mut(i) {
            *slot = cfg;
        }
    }
}

impl BackendRt {
    /// A server's configuration on this core: the model's, or the added one's.
    pub fn server_cfg<'a>(&self, be: &'a Backend, server: ServerId) -> Option<SrvRef<'a>> {
        if let Some(s) = be.server(server) {
            return Some(SrvRef::Configured(s));
        }
        self.added.get(be.servers.len(), server).map(SrvRef::Added)
    }

    /// An added server's name (`None` for a configured one, which the model names).
    pub fn added_name(&self, be: &Backend, server: ServerId) -> Option<Arc<str>> {
        self.added.name(be.servers.len(), server)
    }

    /// This core's TLS config for a server's traffic, if it has one.
    pub fn server_tls(&self, server: ServerId) -> Option<ClientTls> {
        self.tls.borrow().get(server.index()).cloned().flatten()
    }
}

impl Worker {
    /// A server's configuration on this core (see `BackendRt::server_cfg`).
    pub fn server_cfg(&self, backend: BackendId, server: ServerId) -> Option<SrvRef<'_>> {
        let be = self.model.backend(backend)?;
        self.backend_rt(backend)?.server_cfg(be, server)
    }

    /// `add server`: the slot (never used before: its counters are zero) takes the new
    /// server, in maintenance (the checker's events enable it).
    pub(super) fn add_server(&self, backend: BackendId, server: ServerId, cfg: &Server) {
        let (Some(be), Some(rt)) = (self.model.backend(backend), self.backend_rt(backend)) else {
            return;
        };
        rt.balancer.fill(server, cfg);
        rt.pool.fill(server, &cfg.pool);
        let tls = cfg
            .traffic_tls()
            .and_then(|t| ClientTls::build(t, &mut Vec::new()).ok());
        if let Some(t) = rt.tls.borrow_mut().get_mut(server.index()) {
            *t = tls;
        }
        rt.added
            .set(be.servers.len(), server, Some(Rc::new(cfg.clone())));
    }

    /// `del server`: the slot is never picked again and its idle connections are closed.
    pub(super) fn del_server(&self, backend: BackendId, server: ServerId) {
        let (Some(be), Some(rt)) = (self.model.backend(backend), self.backend_rt(backend)) else {
            return;
        };
        if let Some(slot) = rt.balancer.slot(server) {
            slot.usable.set(false);
            slot.weight.set(0);
        }
        rt.pool.clear_server(server);
        rt.added.set(be.servers.len(), server, None);
    }
}
