//! `add server` and `del server` in the checker, the one owner of every server's state, so
//! that two clients' changes are applied in one order: a free slot (kept at start, see
//! `Backend::dynamic_slots`) takes the new server, in maintenance, its checks paused until
//! `enable health` (HAProxy 2.6); a deleted server's slot stays empty for good. Every core
//! learns of it by a `CoreCmd` on its command channel, reports through the check table.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{probe, server_task, Srv, State};
use crate::config::model::{Backend, BackendId, Server, ServerId, DYNAMIC_SLOTS};
use crate::health::table::{CheckState, SlotUse};
use crate::worker::control::CoreCmd;
use crate::worker::notify::Notify;

impl State {
    /// `f` on a slot's server: the model's, or the added one's; `None` for an empty slot.
    pub(super) fn with_cfg<T>(
        &self,
        backend: BackendId,
        server: ServerId,
        f: impl FnOnce(&Server) -> T,
    ) -> Option<T> {
        let slots = self.slots.borrow();
        match slots.get(backend.index())?.get(server.index())? {
            SlotUse::Configured => self.model.server(backend, server).map(f),
            SlotUse::Added(s) => Some(f(s)),
            SlotUse::Empty => None,
        }
    }

    /// The servers a backend has now, and whether each is a backup.
    pub(super) fn live_roles(&self, be: &Backend, backend: BackendId) -> Vec<(ServerId, bool)> {
        be.slot_ids()
            .filter_map(|s| Some((s, self.with_cfg(backend, s, |c| c.backup)?)))
            .collect()
    }

    fn name_in_use(&self, be: &Backend, backend: BackendId, name: &str) -> bool {
        be.slot_ids()
            .any(|s| self.with_cfg(backend, s, |c| c.name == name) == Some(true))
    }

    /// A slot never used yet (slots are not reused, so that no index names two servers).
    fn free_slot(&self, be: &Backend, backend: BackendId) -> Option<ServerId> {
        let next = self.filled.get(backend.index())?.get();
        (next < be.slot_count()).then(|| ServerId::new(next))
    }

    /// `add server`: HAProxy's reply (`New server registered.` or why not).
    pub(super) fn add_server(self: &Rc<Self>, backend: BackendId, cfg: Server) -> String {
        let Some(be) = self.model.backend(backend) else {
            return "No such backend.".into();
        };
        if self.name_in_use(be, backend, &cfg.name) {
            return "Already exists a server with the same name in backend.\n".into();
        }
        let Some(server) = self.free_slot(be, backend) else {
            return format!(
                "ringlb keeps room for {DYNAMIC_SLOTS} servers added to a backend over the process's life, and backend '{}' has no room left; add the server to the configuration and reload.\n",
                be.name
            );
        };
        if let Some(f) = self.filled.get(backend.index()) {
            f.set(server.index() + 1);
        }
        let cfg = Arc::new(cfg);
        if let Some(a) = self
            .admin
            .get(backend.index())
            .and_then(|l| l.get(server.index()))
        {
            a.reset(&cfg);
        }
        if let Some(l) = self.limits.server(backend, server) {
            l.set_max(cfg.maxconn);
        }
        if let Some(l) = self.limits.idle(backend, server) {
            l.set_max(cfg.pool.max_conn);
        }
        self.set_slot(backend, server, SlotUse::Added(Arc::clone(&cfg)));
        self.start_checks(backend, server, &cfg);
        if let Some(stats) = &self.checks {
            let state = CheckState::added(Arc::clone(&cfg), Instant::now());
            stats.checks.update(backend, server, |st| *st = state);
        }
        self.notice(&format!(
            "CLI : 'server {}/{}' : New server registered.",
            be.name, cfg.name
        ));
        self.to_cores(&CoreCmd::AddServer {
            backend,
            server,
            cfg,
        });
        "New server registered.\n".into()
    }

    fn set_slot(&self, backend: BackendId, server: ServerId, to: SlotUse) {
        if let Some(u) = self
            .slots
            .borrow_mut()
            .get_mut(backend.index())
            .and_then(|l| l.get_mut(server.index()))
        {
            *u = to;
        }
    }

    /// A checked added server's probe task, paused until `enable health`.
    fn start_checks(self: &Rc<Self>, backend: BackendId, server: ServerId, cfg: &Server) {
        let Some(check) = cfg.check else { return };
        let srv = Rc::new(Srv {
            backend,
            server,
            cfg: check,
            target: Cell::new(probe::target(cfg, &check)),
            server_addr: Cell::new(cfg.addr),
            check_addr: Cell::new(check.addr),
            check_port: Cell::new(check.port),
            tls: check.ssl.then(|| probe::CheckTls::of(cfg)),
            health: Cell::new(check.rise),
            up: Cell::new(true),
            fast: Cell::new(false),
            observed: Cell::new(0),
            wake: Notify::default(),
            weight_pct: Cell::new(100),
            generation: Cell::new(0),
            paused: Cell::new(true),
            removed: Cell::new(false),
            last_status: Cell::new(None),
        });
        if let Some(slot) = self
            .servers
            .borrow_mut()
            .get_mut(backend.index())
            .and_then(|l| l.get_mut(server.index()))
        {
            *slot = Some(Rc::clone(&srv));
        }
        monoio::spawn(server_task(Rc::clone(self), srv, Duration::ZERO));
    }

    /// `del server`: HAProxy's reply (`Server deleted.` or why not).
    pub(super) fn del_server(&self, backend: BackendId, server: ServerId) -> String {
        if self.with_cfg(backend, server, |_| ()).is_none() {
            return "No such server.".into();
        }
        let maint = self
            .admin
            .get(backend.index())
            .and_then(|l| l.get(server.index()))
            .is_some_and(|a| a.maint.get());
        if !maint {
            return "Only servers in maintenance mode can be deleted.".into();
        }
        if self.sessions_on(backend, server) > 0 {
            return "Server still has connections attached to it, cannot remove it.".into();
        }
        self.set_slot(backend, server, SlotUse::Empty);
        let srv = self
            .servers
            .borrow_mut()
            .get_mut(backend.index())
            .and_then(|l| l.get_mut(server.index()))
            .and_then(Option::take);
        if let Some(srv) = srv {
            srv.removed.set(true);
            srv.wake.notify_all();
        }
        if let Some(stats) = &self.checks {
            stats
                .checks
                .update(backend, server, |st| st.slot = SlotUse::Empty);
        }
        self.to_cores(&CoreCmd::DelServer { backend, server });
        self.notice("Server deleted.");
        "Server deleted.".into()
    }

    /// HAProxy's notice on its standard error for these changes (none with `-q`).
    fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("[NOTICE]   ({}) : {text}", std::process::id());
        }
    }

    /// Requests in flight on a server, all cores together (each core counts its own).
    fn sessions_on(&self, backend: BackendId, server: ServerId) -> u64 {
        let Some(stats) = &self.checks else { return 0 };
        stats
            .cores
            .iter()
            .filter_map(|c| c.servers.get(backend.index())?.get(server.index()))
            .map(|p| p.sessions.cur())
            .sum()
    }
}
