//! What the cores share for reports: every core's counters (each written by its core only),
//! the checker's view of each server, and the latency histograms the cores publish on a tick.
//! `CoreStats` is one core's handle on it.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use super::counters::CoreCounters;
use super::latency::LatencyTables;
use crate::config::model::Model;
use crate::health::table::CheckTable;

/// Built once at launch, before the workers, and shared by all of them.
pub struct StatsShared {
    /// One block per core, each its own allocation (no cache line written by two cores).
    pub cores: Vec<Box<CoreCounters>>,
    /// The CPU each core is pinned to, when pinned.
    pub cpus: Vec<Option<usize>>,
    /// Written by the checker thread after each check; read by reports.
    pub checks: CheckTable,
    /// Each core's latency histograms as it last published them (a lock taken by the core
    /// once a second, off the request path, and by reports).
    pub latency: Vec<Mutex<Option<LatencyTables>>>,
    pub started: SystemTime,
    pub started_at: Instant,
    /// Log lines sent and dropped, when logging is set up (the log module's counters).
    pub log: Option<Arc<crate::stats::LogCounts>>,
    /// The global and frontend maxconn now, as reports show them (`set maxconn` changes
    /// them; the limits in force are `worker::limits::ConnLimits`).
    pub maxconn: MaxconnNow,
}

/// Maxconn values for reports, written by the runtime API's thread.
pub struct MaxconnNow {
    pub global: AtomicU32,
    /// Per frontend, in `Model::frontends` order.
    pub frontends: Vec<AtomicU32>,
}

impl MaxconnNow {
    fn new(model: &Model) -> Self {
        MaxconnNow {
            global: AtomicU32::new(model.global.maxconn),
            frontends: model
                .frontends
                .iter()
                .map(|f| AtomicU32::new(f.maxconn))
                .collect(),
        }
    }

    pub fn global(&self) -> u32 {
        self.global.load(Ordering::Relaxed)
    }

    pub fn frontend(&self, index: usize) -> Option<u32> {
        self.frontends.get(index).map(|m| m.load(Ordering::Relaxed))
    }
}

impl StatsShared {
    /// `cpus`: where each core is pinned (launch's plan); shorter means unpinned.
    pub fn new(model: &Model, nbthread: usize, cpus: &[Option<usize>]) -> Arc<Self> {
        Arc::new(StatsShared {
            cores: (0..nbthread)
                .map(|_| Box::new(CoreCounters::new(model)))
                .collect(),
            cpus: (0..nbthread)
                .map(|i| cpus.get(i).copied().flatten())
                .collect(),
            checks: CheckTable::new(model),
            latency: (0..nbthread).map(|_| Mutex::new(None)).collect(),
            started: SystemTime::now(),
            started_at: Instant::now(),
            log: None,
            maxconn: MaxconnNow::new(model),
        })
    }

    /// Whole seconds since start, the clock of the rates.
    pub fn now_s(&self) -> u64 {
        self.started_at.elapsed().as_secs()
    }

    /// The same clock at `t` (an instant the caller already took: no clock read).
    pub fn secs_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.started_at).as_secs()
    }
}

/// One core's handle: its own counters to write, its histograms to fill and publish.
pub struct CoreStats {
    pub shared: Arc<StatsShared>,
    pub index: usize,
    pub latency: RefCell<LatencyTables>,
    /// Samples were added since the last publication.
    pub dirty: Cell<bool>,
}

impl CoreStats {
    pub fn new(shared: Arc<StatsShared>, index: usize, model: &Model) -> Self {
        CoreStats {
            shared,
            index,
            latency: RefCell::new(LatencyTables::new(model)),
            dirty: Cell::new(false),
        }
    }

    /// This core's counters (launch builds one block per worker, so always there).
    pub fn mine(&self) -> Option<&CoreCounters> {
        self.shared.cores.get(self.index).map(|b| &**b)
    }

    /// Hands this core's histograms to reports when they changed (called on a tick).
    pub fn publish_latency(&self) {
        if !self.dirty.replace(false) {
            return;
        }
        let copy = self.latency.borrow().clone();
        if let Some(slot) = self.shared.latency.get(self.index) {
            if let Ok(mut s) = slot.lock() {
                *s = Some(copy);
            }
        }
    }
}
