//! Process-wide limits, exact as in HAProxy: `maxconn` on global, frontend and server lines,
//! and `pool-max-conn` on server lines.
//!
//! These are the only counters shared between cores. They are plain atomics touched once per
//! connection (global, frontend) or once per request on servers that set `maxconn` or
//! `pool-max-conn` (idle connections, counted over all cores as HAProxy does); nothing
//! waits on them with a lock. A core waiting for a slot is woken by its own core's releases at
//! once and looks again every `CROSS_CORE_RECHECK` for releases made on other cores.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::model::{BackendId, FrontendId, Model, ServerId};

/// How often a core waiting at a limit rechecks for slots freed by other cores.
pub const CROSS_CORE_RECHECK: Duration = Duration::from_millis(5);

pub struct Limit {
    used: AtomicU32,
    /// The limit, or `UNLIMITED`; the runtime API may change it (`set maxconn`).
    max: AtomicU64,
}

/// `Limit::max` of an unlimited counter (above any `u32`).
const UNLIMITED: u64 = u64::MAX;

fn encode(max: Option<u32>) -> u64 {
    max.map_or(UNLIMITED, u64::from)
}

impl Limit {
    pub fn new(max: Option<u32>) -> Self {
        Limit {
            used: AtomicU32::new(0),
            max: AtomicU64::new(encode(max)),
        }
    }

    /// The limit now; `None` is unlimited.
    pub fn max(&self) -> Option<u32> {
        u32::try_from(self.max.load(Ordering::Relaxed)).ok()
    }

    /// A new limit (runtime API). Slots taken before a change from unlimited are not counted
    /// (their leases say so): the new limit applies to the sessions that start after it.
    pub fn set_max(&self, max: Option<u32>) {
        self.max.store(encode(max), Ordering::Relaxed);
    }

    /// Takes a slot when one is free. An unlimited counter is not touched at all: a shared
    /// atomic written on every request would bounce its cache line between the cores.
    pub fn try_take(&self) -> bool {
        self.take_counted().is_some()
    }

    /// `try_take`, saying whether the slot was counted (`release_counted` gives it back).
    pub fn take_counted(&self) -> Option<bool> {
        let Some(max) = self.max() else {
            return Some(false);
        };
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                (v < max).then_some(v + 1)
            })
            .ok()
            .map(|_| true)
    }

    pub fn has_room(&self) -> bool {
        self.max()
            .is_none_or(|m| self.used.load(Ordering::Acquire) < m)
    }

    /// Slots in use across all cores; None for an unlimited counter, which is not counted.
    pub fn used(&self) -> Option<u32> {
        self.max().map(|_| self.used.load(Ordering::Relaxed))
    }

    /// Gives back a slot of a counter whose limit never changes between limited and not.
    pub fn release(&self) {
        self.release_counted(self.max().is_some());
    }

    /// Gives back a slot `take_counted` took.
    pub fn release_counted(&self, counted: bool) {
        if !counted {
            return;
        }
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(1))
            });
    }
}

/// Every shared limit of the process, built once from the model and shared by all workers.
pub struct ConnLimits {
    pub global: Limit,
    /// Per frontend, in `Model::frontends` order (see `frontend`).
    pub frontends: Vec<Limit>,
    /// Per backend, per server (see `server`).
    pub servers: Vec<Vec<Limit>>,
    /// Idle connections kept per server, over all cores (`pool-max-conn`): unlimited by
    /// default, and then never touched.
    pub idle: Vec<Vec<Limit>>,
}

impl ConnLimits {
    pub fn new(model: &Model) -> Self {
        ConnLimits {
            global: Limit::new(Some(model.global.maxconn)),
            frontends: model
                .frontends
                .iter()
                .map(|f| Limit::new(Some(f.maxconn)))
                .collect(),
            servers: model
                .backends
                .iter()
                .map(|b| {
                    let reserved = (0..b.dynamic_slots).map(|_| Limit::new(None));
                    b.servers
                        .iter()
                        .map(|s| Limit::new(s.maxconn))
                        .chain(reserved)
                        .collect()
                })
                .collect(),
            idle: model
                .backends
                .iter()
                .map(|b| {
                    let reserved = (0..b.dynamic_slots).map(|_| Limit::new(None));
                    b.servers
                        .iter()
                        .map(|s| Limit::new(s.pool.max_conn))
                        .chain(reserved)
                        .collect()
                })
                .collect(),
        }
    }

    pub fn idle(&self, backend: BackendId, server: ServerId) -> Option<&Limit> {
        self.idle.get(backend.index())?.get(server.index())
    }

    pub fn server(&self, backend: BackendId, server: ServerId) -> Option<&Limit> {
        self.servers.get(backend.index())?.get(server.index())
    }

    pub fn frontend(&self, frontend: FrontendId) -> Option<&Limit> {
        self.frontends.get(frontend.index())
    }
}

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn a_new_limit_counts_only_sessions_after_it() {
        let l = Limit::new(None);
        // Unlimited: taken without counting.
        assert_eq!(l.take_counted(), Some(false));
        l.set_max(Some(1));
        assert_eq!(l.take_counted(), Some(true));
        assert_eq!(l.take_counted(), None, "full at 1");
        // The slot taken before the limit gives nothing back; the counted one does.
        l.release_counted(false);
        assert!(!l.has_room());
        l.release_counted(true);
        assert!(l.has_room());
        l.set_max(None);
        assert_eq!(l.used(), None);
        assert_eq!(l.take_counted(), Some(false));
    }

    #[test]
    fn a_lower_limit_waits_for_releases() {
        let l = Limit::new(Some(3));
        for _ in 0..3 {
            assert!(l.try_take());
        }
        l.set_max(Some(1));
        l.release();
        assert!(!l.try_take(), "2 in use, limit 1");
        l.release();
        l.release();
        assert!(l.try_take());
    }
}
