//! Core-local server choice.
//!
//! Each core keeps its own counters (round-robin weights, leastconn in-flight counts) and never
//! looks at another core's: no contention, at the price that leastconn sees only this core's
//! connections. `pick` consults the core's view of which servers are usable at pick time, and the
//! returned `ServerLease` gives the in-flight slot back when it is dropped, on every path.
//! Servers are `ServerId`s in the interface; inside, the choosing functions work on positions
//! in `slots` (the same order), which is what their filters and arithmetic need.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use crate::stats::shared::StatsShared;

use crate::config::model::{Backend, BackendId, Balance, Server, ServerId};
use crate::worker::limits::ConnLimits;
use crate::worker::notify::Notify;

/// What a balancing decision may use besides the counters: computed by the caller from the
/// request only for the algorithms that hash something.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickKey {
    pub hash: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pick {
    Server(ServerId),
    /// Usable servers exist but every one is at its maxconn: wait in the queue.
    Full,
    /// No usable server at all: 503.
    NoServer,
}

pub struct ServerSlot {
    /// Requests in flight on this core (leastconn's view).
    pub inflight: Cell<u32>,
    /// Not disabled and not down (this core's health view, set by `health::view`).
    pub usable: Cell<bool>,
    /// Weight: the configured one, or an operator's (runtime API; 0 while draining).
    pub weight: Cell<u32>,
    /// Percent of `weight` in effect: below 100 while `slowstart` ramps a server back up.
    pub weight_pct: Cell<u8>,
    /// A backup server (a slot `add server` fills takes its setting then).
    pub backup: Cell<bool>,
    /// Where new connections go: the configured address, or the runtime API's
    /// (`set server B/S addr`).
    pub addr: Cell<std::net::SocketAddr>,
    /// Smooth weighted round-robin state.
    current: Cell<i64>,
}

pub struct Balancer {
    pub algo: Balance,
    /// `option allbackups`: all usable backups take over, not only the first.
    allbackups: bool,
    backend: BackendId,
    /// Process-wide server maxconn counters.
    limits: Arc<ConnLimits>,
    /// Per server slot, in `Backend::servers` order, then the slots kept for `add server`
    /// (see `slot`).
    pub slots: Vec<ServerSlot>,
    /// The slots ever filled, the first ones: those a pick looks at (the others are empty).
    in_use: Cell<usize>,
    /// Woken whenever a slot frees up, for requests queued on a full backend.
    pub freed: Notify,
    /// A queued request on this core is polling for slots freed on other cores.
    pub polling: Cell<bool>,
    rng: Cell<u64>,
    first_rr: Cell<usize>,
    /// The stats of this core, where leases count sessions open on servers and the backend.
    stats: Option<(Arc<StatsShared>, usize)>,
}

impl Balancer {
    pub fn new(backend: &Backend, id: BackendId, limits: Arc<ConnLimits>, seed: u64) -> Self {
        Self::with_stats(backend, id, limits, seed, None)
    }

    /// `stats`: the shared stats and this core's index in them.
    pub fn with_stats(
        backend: &Backend,
        id: BackendId,
        limits: Arc<ConnLimits>,
        seed: u64,
        stats: Option<(Arc<StatsShared>, usize)>,
    ) -> Self {
        let reserved = (0..backend.dynamic_slots).map(|_| ServerSlot::reserved());
        let slots = backend
            .servers
            .iter()
            .map(ServerSlot::new)
            .chain(reserved)
            .collect();
        Balancer {
            algo: backend.balance.clone(),
            allbackups: backend.allbackups,
            backend: id,
            limits,
            slots,
            in_use: Cell::new(backend.servers.len()),
            freed: Notify::default(),
            polling: Cell::new(false),
            rng: Cell::new(seed | 1),
            first_rr: Cell::new(0),
            stats,
        }
    }

    /// Counts a session opening (`open`) or closing on a server and its backend (`scur`).
    fn count_session(&self, server: ServerId, open: bool) {
        let Some((shared, core)) = &self.stats else {
            return;
        };
        let Some(c) = shared.cores.get(*core) else {
            return;
        };
        let b = self.backend.index();
        let srv = c.servers.get(b).and_then(|l| l.get(server.index()));
        for g in c.backends.get(b).into_iter().chain(srv) {
            if open {
                g.sessions.up();
            } else {
                g.sessions.down();
            }
        }
    }

    /// Chooses a server, skipping `avoid` (a server that just failed) when another one is usable.
    /// Allocation-free: candidate sets are filters over the server list, not collected lists.
    pub fn slot(&self, server: ServerId) -> Option<&ServerSlot> {
        self.slots.get(server.index())
    }

    /// The slots a pick considers.
    fn live(&self) -> &[ServerSlot] {
        let n = self.in_use.get().min(self.slots.len());
        &self.slots[..n]
    }

    /// `add server` filled a slot (see `ServerSlot::fill`): picks consider it from now on.
    pub fn fill(&self, server: ServerId, s: &Server) {
        if let Some(slot) = self.slot(server) {
            slot.fill(s);
            self.in_use.set(self.in_use.get().max(server.index() + 1));
        }
    }

    pub fn pick(&self, key: PickKey, avoid: Option<ServerId>) -> Pick {
        // HAProxy uses backups only when no active server is usable, and then only the first
        // backup (all of them with `option allbackups`).
        let any_active = self.live().iter().any(|s| s.is_usable() && !s.backup.get());
        let first_backup = if any_active {
            None
        } else {
            self.live()
                .iter()
                .position(|s| s.is_usable() && s.backup.get())
        };
        let in_pool = |i: usize| {
            let s = &self.live()[i];
            match first_backup {
                Some(_) if self.allbackups => s.is_usable() && s.backup.get(),
                Some(b) => i == b,
                None => s.is_usable() && !s.backup.get(),
            }
        };
        if !(0..self.live().len()).any(in_pool) {
            return Pick::NoServer;
        }
        let open = |i: usize| in_pool(i) && self.has_room(i);
        let open_count = (0..self.live().len()).filter(|&i| open(i)).count();
        if open_count == 0 {
            return Pick::Full;
        }
        let avoid = avoid.map(ServerId::index);
        let ok = |i: usize| open(i) && !(open_count > 1 && Some(i) == avoid);
        Pick::Server(ServerId::new(self.choose(&ok, key)))
    }

    /// Takes an in-flight slot on `server` when its maxconn allows (another core may have
    /// taken the last one since `pick`); the lease gives it back when dropped.
    pub fn try_lease(self: &Rc<Self>, server: ServerId) -> Option<ServerLease> {
        let s = self.slot(server)?;
        let counted = self.limits.server(self.backend, server)?.take_counted()?;
        s.inflight.set(s.inflight.get() + 1);
        self.count_session(server, true);
        Some(ServerLease {
            balancer: Rc::clone(self),
            server,
            counted,
        })
    }

    /// Some server has a free maxconn slot (possibly freed by another core).
    pub fn any_room(&self) -> bool {
        (0..self.live().len()).any(|i| self.has_room(i))
    }

    fn has_room(&self, i: usize) -> bool {
        self.limits
            .server(self.backend, ServerId::new(i))
            .is_some_and(|l| l.has_room())
    }

    /// `ok` holds for at least one server.
    fn choose(&self, ok: &dyn Fn(usize) -> bool, key: PickKey) -> usize {
        match (&self.algo, key.hash) {
            (Balance::LeastConn, _) => self.least_loaded(ok),
            (Balance::First, _) => (0..self.live().len()).find(|&i| ok(i)).unwrap_or(0),
            (Balance::Random, _) => self.weighted_at(ok, self.next_random()),
            (Balance::Source | Balance::Uri { .. } | Balance::Hdr(_), Some(h)) => {
                self.weighted_at(ok, h)
            }
            // A hashing algorithm without its input (no such header) falls back to round-robin,
            // as in HAProxy.
            (Balance::Source | Balance::Uri { .. } | Balance::Hdr(_), None)
            | (Balance::RoundRobin | Balance::StaticRr, _) => self.smooth_round_robin(ok),
        }
    }

    /// nginx's smooth weighted round-robin: spreads heavy servers' turns evenly.
    fn smooth_round_robin(&self, ok: &dyn Fn(usize) -> bool) -> usize {
        let mut total = 0i64;
        let mut best: Option<(usize, i64)> = None;
        for (i, s) in self.live().iter().enumerate().filter(|(i, _)| ok(*i)) {
            let w = s.effective_weight() as i64;
            let cur = s.current.get() + w;
            s.current.set(cur);
            total += w;
            if best.is_none_or(|(_, w)| cur > w) {
                best = Some((i, cur));
            }
        }
        let best = best.map_or(0, |(i, _)| i);
        if let Some(s) = self.live().get(best) {
            s.current.set(s.current.get() - total);
        }
        best
    }

    /// Fewest in-flight requests relative to weight; ties go round the servers in turn so
    /// an idle backend still spreads its load.
    fn least_loaded(&self, ok: &dyn Fn(usize) -> bool) -> usize {
        let n = self.live().len();
        let start = self.first_rr.get();
        self.first_rr.set(start.wrapping_add(1));
        let mut best: Option<usize> = None;
        for k in 0..n {
            let i = (start + k) % n;
            if !ok(i) {
                continue;
            }
            let better = match best {
                None => true,
                Some(b) => {
                    let (a, b) = (&self.live()[i], &self.slots[b]);
                    // a.inflight / a.weight < b.inflight / b.weight, without division.
                    (a.inflight.get() as u64) * (b.effective_weight() as u64)
                        < (b.inflight.get() as u64) * (a.effective_weight() as u64)
                }
            };
            if better {
                best = Some(i);
            }
        }
        best.unwrap_or(0)
    }

    /// Maps `h` onto the servers in proportion to their weights (HAProxy's map-based hashing).
    fn weighted_at(&self, ok: &dyn Fn(usize) -> bool, h: u64) -> usize {
        let eligible = || self.live().iter().enumerate().filter(|(i, _)| ok(*i));
        let total: u64 = eligible().map(|(_, s)| s.effective_weight() as u64).sum();
        let mut point = h % total.max(1);
        for (i, s) in eligible() {
            let w = s.effective_weight() as u64;
            if point < w {
                return i;
            }
            point -= w;
        }
        eligible().next().map_or(0, |(i, _)| i)
    }

    fn next_random(&self) -> u64 {
        // xorshift64*: plenty for spreading load, and core-local.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl ServerSlot {
    fn is_usable(&self) -> bool {
        self.usable.get() && self.weight.get() > 0
    }

    /// The weight in effect, in hundredths: during a slow start that share of the configured
    /// weight (never 0, so a starting server still gets some traffic), which keeps the ramp
    /// smooth even for weight 1.
    pub fn effective_weight(&self) -> u32 {
        let pct = u32::from(self.weight_pct.get().min(100));
        (self.weight.get() * pct).max(1)
    }

    fn new(s: &Server) -> Self {
        ServerSlot {
            inflight: Cell::new(0),
            // The start state (the configuration's, or the state file's before a reload).
            usable: Cell::new(!s.start.maint && !s.start.down),
            weight: Cell::new(s.start.weight_in_effect()),
            weight_pct: Cell::new(100),
            backup: Cell::new(s.backup),
            addr: Cell::new(s.addr),
            current: Cell::new(0),
        }
    }

    /// A slot for `add server`: never picked until a server fills it and is enabled.
    fn reserved() -> Self {
        ServerSlot {
            inflight: Cell::new(0),
            usable: Cell::new(false),
            weight: Cell::new(0),
            weight_pct: Cell::new(100),
            backup: Cell::new(false),
            addr: Cell::new(std::net::SocketAddr::from(([0, 0, 0, 0], 0))),
            current: Cell::new(0),
        }
    }

    /// `add server` filled this slot: its address and role; it stays unusable (in
    /// maintenance) until the checker's events say otherwise.
    fn fill(&self, s: &Server) {
        self.addr.set(s.addr);
        self.backup.set(s.backup);
        self.current.set(0);
    }
}

/// An in-flight request on one server; dropping it frees the slot and wakes queued requests.
pub struct ServerLease {
    balancer: Rc<Balancer>,
    pub server: ServerId,
    /// The server's maxconn counted this slot (see `Limit::take_counted`).
    counted: bool,
}

impl Drop for ServerLease {
    fn drop(&mut self) {
        let b = &self.balancer;
        if let Some(s) = b.slot(self.server) {
            s.inflight.set(s.inflight.get().saturating_sub(1));
        }
        if let Some(l) = b.limits.server(b.backend, self.server) {
            l.release_counted(self.counted);
        }
        b.count_session(self.server, false);
        self.balancer.freed.notify_all();
    }
}

/// FNV-1a: a fast, stable hash for source addresses, URIs and header values.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV's low bits are weak for short keys; mix before the modulo.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn balancer(servers: &str, algo: &str) -> Rc<Balancer> {
        let cfg = format!(
            "defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
             backend b\n balance {algo}\n{servers}"
        );
        let model = load_str("t.cfg", &cfg)
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .model;
        let limits = Arc::new(ConnLimits::new(&model));
        Rc::new(Balancer::new(
            &model.backends[0],
            BackendId::new(0),
            limits,
            7,
        ))
    }

    fn picks(b: &Rc<Balancer>, n: usize) -> Vec<usize> {
        (0..n)
            .map(|_| match b.pick(PickKey::default(), None) {
                Pick::Server(i) => i.index(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn slots_kept_for_add_server_are_picked_once_filled_and_enabled() {
        let cfg = "global\n stats socket /nonexistent/a.sock level admin\n\
                   defaults\n mode http\n timeout connect 1s\n timeout client 1s\n timeout server 1s\n\
                   backend b\n server a 127.0.0.1:1\n";
        let model = load_str("t.cfg", cfg)
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .model;
        let be = &model.backends[0];
        assert_eq!(be.slot_count(), 1 + crate::config::model::DYNAMIC_SLOTS);
        let limits = Arc::new(ConnLimits::new(&model));
        let b = Rc::new(Balancer::new(be, BackendId::new(0), limits, 7));
        assert_eq!(picks(&b, 4), vec![0; 4], "empty slots are never picked");
        let mut added = be.servers[0].clone();
        added.addr = "127.0.0.1:2".parse().unwrap();
        b.fill(ServerId::new(1), &added);
        let slot = b.slot(ServerId::new(1)).unwrap();
        assert_eq!(picks(&b, 2), vec![0; 2], "in maintenance until enabled");
        slot.usable.set(true);
        slot.weight.set(1);
        let mut p = picks(&b, 4);
        p.sort_unstable();
        assert_eq!(p, vec![0, 0, 1, 1]);
        assert_eq!(slot.addr.get().port(), 2);
    }

    #[test]
    fn weighted_round_robin_is_smooth_and_proportional() {
        let b = balancer(
            " server a 127.0.0.1:1 weight 3\n server b 127.0.0.1:2 weight 1\n",
            "roundrobin",
        );
        let p = picks(&b, 8);
        assert_eq!(p.iter().filter(|&&i| i == 0).count(), 6);
        assert_ne!(
            &p[..3],
            &[0, 0, 0],
            "heavy server's turns are spread: {p:?}"
        );
    }

    #[test]
    fn backup_only_when_no_active_server_is_usable() {
        let b = balancer(
            " server a 127.0.0.1:1\n server k 127.0.0.1:2 backup\n",
            "roundrobin",
        );
        assert_eq!(picks(&b, 4), vec![0, 0, 0, 0]);
        b.slots[0].usable.set(false);
        assert_eq!(picks(&b, 2), vec![1, 1]);
        b.slots[1].usable.set(false);
        assert_eq!(b.pick(PickKey::default(), None), Pick::NoServer);
    }

    #[test]
    fn allbackups_uses_every_usable_backup() {
        let b = balancer(
            " option allbackups\n server a 127.0.0.1:1\n server k 127.0.0.1:2 backup\n server l 127.0.0.1:3 backup\n",
            "roundrobin",
        );
        assert_eq!(picks(&b, 2), vec![0, 0]);
        b.slots[0].usable.set(false);
        let mut p = picks(&b, 4);
        p.sort();
        assert_eq!(p, vec![1, 1, 2, 2]);
    }

    #[test]
    fn slow_start_share_of_weight() {
        let b = balancer(
            " server a 127.0.0.1:1 weight 10\n server b 127.0.0.1:2 weight 10\n",
            "roundrobin",
        );
        b.slots[1].weight_pct.set(10);
        assert_eq!(b.slots[1].effective_weight(), 100);
        let p = picks(&b, 11);
        assert_eq!(p.iter().filter(|&&i| i == 1).count(), 1, "{p:?}");
    }

    #[test]
    fn leastconn_prefers_the_idle_server_and_leases_release() {
        let b = balancer(
            " server a 127.0.0.1:1\n server b 127.0.0.1:2\n",
            "leastconn",
        );
        let held = b.try_lease(ServerId::new(0)).unwrap();
        assert_eq!(picks(&b, 3), vec![1, 1, 1]);
        drop(held);
        assert_eq!(b.slots[0].inflight.get(), 0);
    }

    #[test]
    fn server_maxconn_makes_the_backend_full() {
        let b = balancer(" server a 127.0.0.1:1 maxconn 1\n", "roundrobin");
        let a = ServerId::new(0);
        let held = b.try_lease(a).unwrap();
        assert!(b.try_lease(a).is_none());
        assert_eq!(b.pick(PickKey::default(), None), Pick::Full);
        drop(held);
        assert_eq!(b.pick(PickKey::default(), None), Pick::Server(a));
    }

    #[test]
    fn avoid_skips_a_failed_server_when_another_is_open() {
        let b = balancer(" server a 127.0.0.1:1\n server b 127.0.0.1:2\n", "first");
        let (a, b_) = (ServerId::new(0), ServerId::new(1));
        assert_eq!(b.pick(PickKey::default(), Some(a)), Pick::Server(b_));
        let one = balancer(" server a 127.0.0.1:1\n", "first");
        assert_eq!(one.pick(PickKey::default(), Some(a)), Pick::Server(a));
    }

    #[test]
    fn hashing_is_stable_and_weighted() {
        let b = balancer(
            " server a 127.0.0.1:1\n server b 127.0.0.1:2\n server c 127.0.0.1:3\n",
            "source",
        );
        let key = PickKey {
            hash: Some(hash_bytes(b"10.0.0.1")),
        };
        let first = b.pick(key, None);
        for _ in 0..10 {
            assert_eq!(b.pick(key, None), first);
        }
    }
}
