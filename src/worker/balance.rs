//! Core-local server choice.
//!
//! Each core keeps its own counters (round-robin weights, leastconn in-flight counts) and never
//! looks at another core's: no contention, at the price that leastconn sees only this core's
//! connections. `pick` consults the core's view of which servers are usable at pick time, and the
//! returned `ServerLease` gives the in-flight slot back when it is dropped, on every path.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use crate::config::model::{Backend, Balance, Server};
use crate::worker::limits::SharedLimits;
use crate::worker::notify::Notify;

/// What a balancing decision may use besides the counters: computed by the caller from the
/// request only for the algorithms that hash something.
#[derive(Clone, Copy, Debug, Default)]
pub struct PickKey {
    pub hash: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Pick {
    Server(usize),
    /// Usable servers exist but every one is at its maxconn: wait in the queue.
    Full,
    /// No usable server at all: 503.
    NoServer,
}

pub struct ServerSlot {
    /// Requests in flight on this core (leastconn's view).
    pub inflight: Cell<u32>,
    /// Not disabled (and, once health checks land, not down).
    pub usable: Cell<bool>,
    pub weight: u32,
    pub backup: bool,
    /// Smooth weighted round-robin state.
    current: Cell<i64>,
}

pub struct Balancer {
    pub algo: Balance,
    backend: usize,
    /// Process-wide server maxconn counters.
    limits: Arc<SharedLimits>,
    pub slots: Vec<ServerSlot>,
    /// Woken whenever a slot frees up, for requests queued on a full backend.
    pub freed: Notify,
    rng: Cell<u64>,
    first_rr: Cell<usize>,
}

impl Balancer {
    pub fn new(backend: &Backend, index: usize, limits: Arc<SharedLimits>, seed: u64) -> Self {
        let slots = backend.servers.iter().map(ServerSlot::new).collect();
        Balancer {
            algo: backend.balance.clone(),
            backend: index,
            limits,
            slots,
            freed: Notify::default(),
            rng: Cell::new(seed | 1),
            first_rr: Cell::new(0),
        }
    }

    /// Chooses a server, skipping `avoid` (a server that just failed) when another one is usable.
    pub fn pick(&self, key: PickKey, avoid: Option<usize>) -> Pick {
        let (active, backup) = self.candidates();
        let pool = if active.is_empty() { backup } else { active };
        if pool.is_empty() {
            return Pick::NoServer;
        }
        let open: Vec<usize> = pool.iter().copied().filter(|&i| self.has_room(i)).collect();
        if open.is_empty() {
            return Pick::Full;
        }
        let preferred: Vec<usize> = match avoid {
            Some(a) if open.len() > 1 => open.iter().copied().filter(|&i| i != a).collect(),
            _ => open,
        };
        Pick::Server(self.choose(&preferred, key))
    }

    /// Takes an in-flight slot on server `i` when its maxconn allows (another core may have
    /// taken the last one since `pick`); the lease gives it back when dropped.
    pub fn try_lease(self: &Rc<Self>, i: usize) -> Option<ServerLease> {
        let s = self.slots.get(i)?;
        if !self
            .limits
            .server(self.backend, i)
            .is_some_and(|l| l.try_take())
        {
            return None;
        }
        s.inflight.set(s.inflight.get() + 1);
        Some(ServerLease {
            balancer: Rc::clone(self),
            server: i,
        })
    }

    /// Usable active servers, and the backups to use when no active one is usable
    /// (HAProxy uses the first backup only, unless `option allbackups`).
    fn candidates(&self) -> (Vec<usize>, Vec<usize>) {
        let mut active = Vec::new();
        let mut backup = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            if !s.usable.get() || s.weight == 0 {
                continue;
            }
            if s.backup {
                if backup.is_empty() {
                    backup.push(i);
                }
            } else {
                active.push(i);
            }
        }
        (active, backup)
    }

    fn has_room(&self, i: usize) -> bool {
        self.limits
            .server(self.backend, i)
            .is_some_and(|l| l.has_room())
    }

    fn choose(&self, open: &[usize], key: PickKey) -> usize {
        match (&self.algo, key.hash) {
            (Balance::LeastConn, _) => self.least_loaded(open),
            (Balance::First, _) => open[0],
            (Balance::Random, _) => self.weighted_at(open, self.next_random()),
            (Balance::Source | Balance::Uri { .. } | Balance::Hdr(_), Some(h)) => {
                self.weighted_at(open, h)
            }
            _ => self.smooth_round_robin(open),
        }
    }

    /// nginx's smooth weighted round-robin: spreads heavy servers' turns evenly.
    fn smooth_round_robin(&self, open: &[usize]) -> usize {
        let total: i64 = open.iter().map(|&i| self.slots[i].weight as i64).sum();
        let mut best = open[0];
        let mut best_weight = i64::MIN;
        for &i in open {
            let s = &self.slots[i];
            let cur = s.current.get() + s.weight as i64;
            s.current.set(cur);
            if cur > best_weight {
                best_weight = cur;
                best = i;
            }
        }
        let s = &self.slots[best];
        s.current.set(s.current.get() - total);
        best
    }

    /// Fewest in-flight requests relative to weight; ties go round the servers in turn so
    /// an idle backend still spreads its load.
    fn least_loaded(&self, open: &[usize]) -> usize {
        let start = self.first_rr.get();
        self.first_rr.set(start.wrapping_add(1));
        let n = open.len();
        let mut best = open[start % n];
        for k in 0..n {
            let i = open[(start + k) % n];
            let (a, b) = (&self.slots[i], &self.slots[best]);
            // a.inflight / a.weight < b.inflight / b.weight, without division.
            if (a.inflight.get() as u64) * (b.weight as u64)
                < (b.inflight.get() as u64) * (a.weight as u64)
            {
                best = i;
            }
        }
        best
    }

    /// Maps `h` onto the servers in proportion to their weights (HAProxy's map-based hashing).
    fn weighted_at(&self, open: &[usize], h: u64) -> usize {
        let total: u64 = open.iter().map(|&i| self.slots[i].weight as u64).sum();
        let mut point = h % total.max(1);
        for &i in open {
            let w = self.slots[i].weight as u64;
            if point < w {
                return i;
            }
            point -= w;
        }
        open[0]
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
    fn new(s: &Server) -> Self {
        ServerSlot {
            inflight: Cell::new(0),
            usable: Cell::new(!s.disabled),
            weight: s.weight,
            backup: s.backup,
            current: Cell::new(0),
        }
    }
}

/// An in-flight request on one server; dropping it frees the slot and wakes queued requests.
pub struct ServerLease {
    balancer: Rc<Balancer>,
    pub server: usize,
}

impl Drop for ServerLease {
    fn drop(&mut self) {
        let b = &self.balancer;
        if let Some(s) = b.slots.get(self.server) {
            s.inflight.set(s.inflight.get().saturating_sub(1));
        }
        if let Some(l) = b.limits.server(b.backend, self.server) {
            l.release();
        }
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
