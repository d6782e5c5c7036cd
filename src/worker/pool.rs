//! Core-local idle backend connections, per server, kept and purged as HAProxy 2.6 does.
//!
//! After its response a reusable server connection comes back here (`put`), whichever client
//! connection used it; `http-reuse` (applied by the caller) decides which requests may `take`
//! one. An idle client connection therefore holds no server connection. `take` hands out the
//! most recently returned connection, and only after a non-blocking peek shows that the server
//! has neither closed it nor sent anything since its response ended: such bytes mean the server
//! misbehaved (a stray response, a body after HEAD or 204), and they are never read as the next
//! response: the connection is closed instead.
//!
//! What is kept follows HAProxy's rules (`srv_add_to_idle_list`, `srv_cleanup_idle_conns`),
//! counted per core since ringlb's cores share nothing:
//! - a connection is kept when this core has no idle connection to that server yet, or when the
//!   connections in use plus the idle ones stay within the recent need (the most in use at once,
//!   decaying across purges) plus this core's share of `pool-low-conn`; otherwise it is closed
//!   at once. A crowd of clients that each sent one request thus leaves one idle connection per
//!   core, not one per client.
//! - a crowded process keeps fewer, as HAProxy's `tune.pool-low-fd-ratio` (20) and
//!   `tune.pool-high-fd-ratio` (25) make it: HAProxy compares the descriptors in use with the
//!   ones it may use; ringlb reserves two descriptors per `maxconn` slot and counts two per
//!   client connection, so the ratio is that of the client connections open (process-wide) to
//!   `maxconn`. From 20 % a core keeps only its first idle connection per server; from 25 % it
//!   keeps none, and each new server connection closes one of that server's idle ones. A
//!   crowd of idle clients therefore costs no server connection at all.
//! - `pool-max-conn` caps the idle connections to a server over all cores (a shared counter,
//!   touched only when the option is set); `pool-purge-delay 0` keeps none.
//! - every `pool-purge-delay` (default 5 s) after a server's first idle connection, half
//!   (rounded up) of its idle connections beyond the recent need are closed, oldest first, but
//!   never below this core's share of `pool-low-conn`. One purge task per core runs while the
//!   core has idle connections, and ends when it has none.
//! - `pool-low-conn N`: in HAProxy, the idle count below which a thread does not steal another
//!   thread's connections. ringlb's cores never steal; each core keeps `ceil(N / threads)` idle
//!   connections per server beyond the need and purges never go below it, which is what the
//!   option is for ("all threads keep a few idle connections all the time").
//!
//! Idle connections that ringlb gives up on (purged, one too many, stale, server down,
//! shutdown) are closed with a reset rather than a FIN: nothing is in flight on them, and a FIN
//! would leave the socket in TIME_WAIT on ringlb's side for a minute. With a new server
//! connection per client connection (`http-reuse safe` and short client connections), those
//! TIME_WAIT sockets pile up by the tens of thousands and make every new connect search for a
//! free port.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::limits::ConnLimits;
use super::Worker;
use crate::config::model::{Backend, BackendId, ServerId, ServerPool};
use crate::net::Stream;

/// One server's idle connections on this core, and how many it is estimated to need.
#[derive(Default)]
struct ServerIdle {
    /// Oldest first.
    conns: VecDeque<Stream>,
    need: Need,
    /// When this server's next purge is due; `None` while it has no idle connection.
    next_purge: Option<Instant>,
}

/// HAProxy's estimate of the connections a server needs, per core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Need {
    /// The most connections in use at once since the last purge (`max_used_conns`).
    max_used: u32,
    /// The connections this server is estimated to need (`est_need_conns`).
    est_need: u32,
}

impl Need {
    fn note(&mut self, in_use: u32) {
        self.max_used = self.max_used.max(in_use);
        self.est_need = self.est_need.max(in_use);
    }

    /// HAProxy's rule for keeping a connection after its response (`srv_add_to_idle_list`):
    /// `idle` are already kept, `in_use` counts this one.
    fn keeps(&self, idle: u32, in_use: u32, low: u32) -> bool {
        idle == 0 || in_use.saturating_add(idle) <= in_use.max(self.est_need).saturating_add(low)
    }

    /// One purge (`srv_cleanup_idle_conns`): how many of `idle` to close, half of those beyond
    /// the need rounded up, never going below `low`; the estimate decays toward the peak of the
    /// period that ends.
    fn purge(&mut self, idle: u32, in_use: u32, low: u32) -> u32 {
        let needed = self.max_used.max(self.est_need);
        let exceed = in_use.saturating_add(idle).saturating_sub(needed);
        self.est_need = ((self.est_need + self.max_used) / 2).max(self.max_used);
        self.max_used = in_use;
        exceed.div_ceil(2).min(idle.saturating_sub(low))
    }
}

/// HAProxy's `tune.pool-low-fd-ratio` and `tune.pool-high-fd-ratio` defaults, in percent.
const LOW_FD_RATIO: u64 = 20;
const HIGH_FD_RATIO: u64 = 25;

/// How busy the process is with client connections, for the idle pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Crowding {
    /// Below the low ratio: HAProxy's need-based rule applies.
    Low,
    /// From the low ratio: only a core's first idle connection per server is kept.
    Busy,
    /// From the high ratio: none is kept, and new connections close idle ones.
    Crowded,
}

impl Crowding {
    fn of(clients: u32, maxconn: u32) -> Crowding {
        let pct = u64::from(clients) * 100 / u64::from(maxconn.max(1));
        if pct >= HIGH_FD_RATIO {
            Crowding::Crowded
        } else if pct >= LOW_FD_RATIO {
            Crowding::Busy
        } else {
            Crowding::Low
        }
    }
}

/// A server's pool options as this core applies them.
#[derive(Clone, Copy)]
struct Rules {
    purge_delay: Duration,
    /// This core's share of `pool-low-conn`.
    low: u32,
}

pub struct Pool {
    servers: RefCell<Vec<ServerIdle>>,
    rules: Vec<Cell<Rules>>,
    /// The cores sharing `pool-low-conn` out.
    cores: u32,
    backend: BackendId,
    limits: Arc<ConnLimits>,
}

impl Pool {
    pub fn new(be: &Backend, backend: BackendId, limits: Arc<ConnLimits>, nbthread: usize) -> Self {
        let cores = nbthread.max(1) as u32;
        let rules = |p: &ServerPool| Rules {
            purge_delay: p.purge_delay,
            low: p.low_conn.div_ceil(cores),
        };
        // A slot `add server` may fill keeps nothing until it does (`fill`).
        let reserved = (0..be.dynamic_slots).map(|_| Rules {
            purge_delay: Duration::ZERO,
            low: 0,
        });
        Pool {
            servers: RefCell::new(be.slot_ids().map(|_| ServerIdle::default()).collect()),
            rules: be
                .servers
                .iter()
                .map(|s| rules(&s.pool))
                .chain(reserved)
                .map(Cell::new)
                .collect(),
            cores,
            backend,
            limits,
        }
    }

    /// `add server` filled a slot: its pool options (the cores' share of them) apply.
    pub fn fill(&self, server: ServerId, pool: &ServerPool) {
        if let Some(r) = self.rules.get(server.index()) {
            r.set(Rules {
                purge_delay: pool.purge_delay,
                low: pool.low_conn.div_ceil(self.cores),
            });
        }
    }

    /// Records that `in_use` connections to `server` are now in use on this core.
    pub fn note_used(&self, server: ServerId, in_use: u32) {
        if let Some(s) = self.servers.borrow_mut().get_mut(server.index()) {
            s.need.note(in_use);
        }
    }

    /// A clean idle connection to `server` that sent `sni` (TLS; `None` for plain ones and TLS
    /// ones without SNI), if one is left: the most recently used first, as it is the likeliest
    /// to be alive. Unclean ones met on the way are closed; other names' stay.
    pub fn take(&self, server: ServerId, sni: Option<&str>) -> Option<Stream> {
        let mut servers = self.servers.borrow_mut();
        let s = servers.get_mut(server.index())?;
        while let Some(at) = s.conns.iter().rposition(|c| c.tls_sni() == sni) {
            let Some(mut conn) = s.conns.remove(at) else {
                break;
            };
            self.release_slot(server);
            if conn.is_clean() {
                return Some(conn);
            }
            conn.discard();
        }
        if s.conns.is_empty() {
            s.next_purge = None;
        }
        None
    }

    /// Offers a connection whose response has just ended; `in_use` counts the connections to
    /// `server` in use on this core, this one included. True when it was kept; a connection
    /// not kept is closed. A kept one may need the purge task started (`start_purge`).
    pub fn put(&self, server: ServerId, conn: Stream, in_use: u32) -> bool {
        let mut servers = self.servers.borrow_mut();
        let (Some(s), Some(rules)) = (
            servers.get_mut(server.index()),
            self.rules.get(server.index()).map(Cell::get),
        ) else {
            conn.discard();
            return false;
        };
        let idle = s.conns.len() as u32;
        let keep = !rules.purge_delay.is_zero()
            && match self.crowding() {
                Crowding::Low => s.need.keeps(idle, in_use, rules.low),
                Crowding::Busy => idle == 0,
                Crowding::Crowded => false,
            };
        if !keep || !self.take_slot(server) {
            conn.discard();
            return false;
        }
        s.conns.push_back(conn);
        if s.next_purge.is_none() {
            s.next_purge = Some(Instant::now() + rules.purge_delay);
        }
        true
    }

    /// Before a new connection to `server`: in a crowded process, closes one of its idle
    /// connections on this core, the oldest (HAProxy kills one when it opens one there).
    pub fn relieve(&self, server: ServerId) {
        if self.crowding() != Crowding::Crowded {
            return;
        }
        let oldest = self
            .servers
            .borrow_mut()
            .get_mut(server.index())
            .and_then(|s| s.conns.pop_front());
        if let Some(conn) = oldest {
            self.release_slot(server);
            conn.discard();
        }
    }

    fn crowding(&self) -> Crowding {
        let global = &self.limits.global;
        match (global.used(), global.max()) {
            (Some(clients), Some(maxconn)) => Crowding::of(clients, maxconn),
            _ => Crowding::Low,
        }
    }

    /// Runs the purges that are due; `in_use(server)` is the count of connections in use on
    /// this core. Returns when the next one is due, if any connection is left idle.
    fn purge_due(&self, now: Instant, in_use: &dyn Fn(ServerId) -> u32) -> Option<Instant> {
        let mut servers = self.servers.borrow_mut();
        let mut next: Option<Instant> = None;
        for (i, s) in ServerId::all(servers.len()).zip(servers.iter_mut()) {
            let Some(rules) = self.rules.get(i.index()).map(Cell::get) else {
                continue;
            };
            if s.next_purge.is_some_and(|due| due <= now) {
                let close = s.need.purge(s.conns.len() as u32, in_use(i), rules.low);
                for conn in s.conns.drain(..close as usize) {
                    self.release_slot(i);
                    conn.discard();
                }
                s.next_purge = (!s.conns.is_empty()).then(|| now + rules.purge_delay);
            }
            next = match (next, s.next_purge) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Closes the idle connections to one server (it went down).
    pub fn clear_server(&self, server: ServerId) {
        if let Some(s) = self.servers.borrow_mut().get_mut(server.index()) {
            for conn in s.conns.drain(..) {
                self.release_slot(server);
                conn.discard();
            }
            s.next_purge = None;
        }
    }

    /// Closes every idle connection (at shutdown).
    pub fn clear(&self) {
        for server in ServerId::all(self.rules.len()) {
            self.clear_server(server);
        }
    }

    /// Idle connections to `server` on this core.
    pub fn idle_count(&self, server: ServerId) -> usize {
        self.servers
            .borrow()
            .get(server.index())
            .map_or(0, |s| s.conns.len())
    }

    /// Counts one more idle connection against `pool-max-conn` (shared by all cores).
    fn take_slot(&self, server: ServerId) -> bool {
        self.limits
            .idle(self.backend, server)
            .is_some_and(|l| l.try_take())
    }

    fn release_slot(&self, server: ServerId) {
        if let Some(l) = self.limits.idle(self.backend, server) {
            l.release();
        }
    }
}

/// Starts this core's purge task unless it is running; it ends once no idle connection is left.
pub fn start_purge(w: &Rc<Worker>) {
    if !w.purging.replace(true) {
        monoio::spawn(purge_task(Rc::clone(w)));
    }
}

async fn purge_task(w: Rc<Worker>) {
    loop {
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for rt in &w.backends {
            let in_use = |i: ServerId| rt.balancer.slot(i).map_or(0, |s| s.inflight.get());
            if let Some(t) = rt.pool.purge_due(now, &in_use) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        let Some(next) = next else {
            w.purging.set(false);
            return;
        };
        monoio::time::sleep(next.saturating_duration_since(Instant::now())).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_idle_connection_then_only_what_the_peak_needs() {
        let mut need = Need::default();
        need.note(1);
        assert!(
            need.keeps(0, 1, 0),
            "a core with no idle connection keeps one"
        );
        // Clients one after the other: one in use at a time, one idle already.
        assert!(!need.keeps(1, 1, 0));
        assert!(
            need.keeps(1, 1, 1),
            "pool-low-conn's share is kept beyond the need"
        );
        // 30 in use at once recently: 20 in use now and 9 idle stay within it.
        need.note(30);
        assert!(need.keeps(9, 20, 0));
        assert!(!need.keeps(11, 20, 0));
    }

    #[test]
    fn crowding_follows_haproxys_fd_ratios() {
        assert_eq!(Crowding::of(19, 100), Crowding::Low);
        assert_eq!(Crowding::of(20, 100), Crowding::Busy);
        assert_eq!(Crowding::of(25, 100), Crowding::Crowded);
        assert_eq!(Crowding::of(0, 0), Crowding::Low);
    }

    #[test]
    fn purge_closes_half_of_the_excess_and_decays_the_estimate() {
        let mut need = Need {
            max_used: 2,
            est_need: 10,
        };
        // 10 idle, none in use, a need of max(2, 10): nothing beyond it yet.
        assert_eq!(need.purge(10, 0, 0), 0);
        assert_eq!(
            need,
            Need {
                max_used: 0,
                est_need: 6
            }
        );
        // 10 idle beyond a need of 6: 4 in excess, half closed.
        assert_eq!(need.purge(10, 0, 0), 2);
        assert_eq!(need.est_need, 3);
        // An odd excess rounds up, so the last idle connection goes too.
        let mut need = Need::default();
        assert_eq!(need.purge(1, 0, 0), 1);
        assert_eq!(need.purge(10, 0, 9), 1, "never below pool-low-conn's share");
    }
}
