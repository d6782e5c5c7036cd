//! This core's live sessions, for `show sess` and `shutdown sessions server` (runtime API).
//!
//! A session is what HAProxy calls a stream: one request in flight in mode http (from its
//! first bytes to its response's end, or its tunnel's), one connection in mode tcp. Each
//! registers here for its life (`Sessions::open`, a guard that leaves on drop) and notes its
//! backend and server once they are known. The table is this core's alone (`RefCell`); other
//! threads only ever get a copy of it, made by this core on a message (worker/control.rs).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::notify::Notify;
use crate::config::model::{BackendId, FrontendId, ServerId};

/// One live session.
pub struct SessInfo {
    pub id: u64,
    pub src: SocketAddr,
    pub frontend: FrontendId,
    pub backend: Cell<Option<BackendId>>,
    pub server: Cell<Option<ServerId>>,
    pub started: Instant,
    killed: Cell<bool>,
    kill: Notify,
}

impl SessInfo {
    /// Notes where the session goes.
    pub fn route(&self, backend: BackendId, server: Option<ServerId>) {
        self.backend.set(Some(backend));
        if server.is_some() {
            self.server.set(server);
        }
    }

    /// Resolves once the session is to end (`shutdown sessions server`).
    pub async fn killed(&self) {
        while !self.killed.get() {
            self.kill.notified().await;
        }
    }

    fn kill(&self) {
        self.killed.set(true);
        self.kill.notify_all();
    }
}

/// A copy of one session for another thread (`show sess`).
#[derive(Clone, Debug)]
pub struct SessLine {
    pub id: u64,
    pub src: SocketAddr,
    pub frontend: FrontendId,
    pub backend: Option<BackendId>,
    pub server: Option<ServerId>,
    pub age: Duration,
}

/// Session ids carry the core's index in their top bits, so that they are unique in the
/// process (HAProxy prints a stream's address; ringlb a number in the same place).
const CORE_SHIFT: u32 = 40;

/// A slab, not a map: a request's entry costs a slot taken and given back (no hashing);
/// the rare lookups by id (`shutdown session`) walk it.
#[derive(Default)]
pub struct Sessions {
    live: RefCell<Vec<Option<Rc<SessInfo>>>>,
    free: RefCell<Vec<usize>>,
    next: Cell<u64>,
    core: Cell<u64>,
}

impl Sessions {
    pub fn new(core: usize) -> Rc<Self> {
        let s = Sessions::default();
        s.core.set(core as u64);
        Rc::new(s)
    }

    /// Registers a session until the guard drops.
    pub fn open(self: &Rc<Self>, frontend: FrontendId, src: SocketAddr) -> SessGuard {
        let n = self.next.get().wrapping_add(1);
        self.next.set(n);
        let id = (self.core.get() + 1) << CORE_SHIFT | (n & ((1 << CORE_SHIFT) - 1));
        let info = Rc::new(SessInfo {
            id,
            src,
            frontend,
            backend: Cell::new(None),
            server: Cell::new(None),
            started: Instant::now(),
            killed: Cell::new(false),
            kill: Notify::default(),
        });
        let entry = Some(Rc::clone(&info));
        let mut live = self.live.borrow_mut();
        let slot = match self.free.borrow_mut().pop() {
            Some(i) => {
                if let Some(e) = live.get_mut(i) {
                    *e = entry;
                }
                i
            }
            None => {
                live.push(entry);
                live.len() - 1
            }
        };
        SessGuard {
            table: Rc::clone(self),
            info,
            slot,
        }
    }

    /// Every live session, oldest first.
    pub fn lines(&self) -> Vec<SessLine> {
        let now = Instant::now();
        let mut out: Vec<SessLine> = self
            .live
            .borrow()
            .iter()
            .flatten()
            .map(|s| SessLine {
                id: s.id,
                src: s.src,
                frontend: s.frontend,
                backend: s.backend.get(),
                server: s.server.get(),
                age: now.saturating_duration_since(s.started),
            })
            .collect();
        out.sort_by_key(|l| l.id);
        out
    }

    /// Ends every session on a server; returns how many.
    pub fn shutdown_server(&self, backend: BackendId, server: ServerId) -> usize {
        let live = self.live.borrow();
        let on = live
            .iter()
            .flatten()
            .filter(|s| s.backend.get() == Some(backend) && s.server.get() == Some(server));
        let mut n = 0;
        for s in on {
            s.kill();
            n += 1;
        }
        n
    }
}

impl Sessions {
    /// Ends one session, if it is this core's.
    pub fn shutdown_id(&self, id: u64) {
        let live = self.live.borrow();
        if let Some(s) = live.iter().flatten().find(|s| s.id == id) {
            s.kill();
        }
    }
}

/// A registered session; leaves the table when dropped.
pub struct SessGuard {
    table: Rc<Sessions>,
    pub info: Rc<SessInfo>,
    slot: usize,
}

impl Drop for SessGuard {
    fn drop(&mut self) {
        if let Some(e) = self.table.live.borrow_mut().get_mut(self.slot) {
            *e = None;
            self.table.free.borrow_mut().push(self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_leave_on_drop_and_die_by_server() {
        let t = Sessions::new(1);
        let src: SocketAddr = ([127, 0, 0, 1], 9).into();
        let a = t.open(FrontendId::new(0), src);
        let b = t.open(FrontendId::new(0), src);
        a.info.route(BackendId::new(0), Some(ServerId::new(1)));
        assert_eq!(t.lines().len(), 2);
        assert_eq!(t.shutdown_server(BackendId::new(0), ServerId::new(1)), 1);
        assert!(a.info.killed.get() && !b.info.killed.get());
        drop(a);
        assert_eq!(t.lines().len(), 1);
        assert!(t.lines()[0].id >> CORE_SHIFT == 2);
    }
}
