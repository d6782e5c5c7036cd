//! One worker per core: everything a core owns and never shares.
//!
//! `Worker::new` builds the core's state from the shared `Model` (its balancers, pools,
//! connection counters); launch.rs (`worker_main`) then binds the core's own SO_REUSEPORT
//! listener for every bind line, reports readiness, and runs an accept loop per listener until
//! told to stop. Connections are monoio tasks on this core only; state is in `Cell`/`RefCell`
//! because nothing here is touched by another thread.
//!
//! - `listener.rs`: accept loop, maxconn gate, EMFILE back-off; at a stop, accepts what is
//!   queued, then shuts the listener
//! - `connect.rs`: getting a server connection: balance, queue, reuse or connect (through the
//!   worker's `net::Dialer`), retry and redispatch
//! - `balance.rs`: server choice and in-flight leases
//! - `pool.rs`: idle backend connections, kept and purged as HAProxy does
//! - `limits.rs`: the maxconn counters shared by all cores (`ConnLimits`: global, frontend,
//!   server), the only state another core touches
//! - `notify.rs`: core-local wake-ups (queue, stop)
//! - `deadline.rs`: one timer per core for the deadlines of idle connections
//! - `memory.rs`: freed buffer memory handed back to the system after a crowd
//! - `sessions.rs`: the core's live sessions (`show sess`, `shutdown sessions server`)
//! - `control.rs`: runtime API commands every core applies to its own state
//! - `dynamic.rs`: servers added and deleted at run time (`add server`, `del server`)
//!
//! Server health comes from `health::view` (applied before every pick and on a tick). Each
//! request's record goes to the worker's `records` sink (serve/record/).

pub mod balance;
pub mod connect;
pub mod control;
pub mod deadline;
pub mod dynamic;
pub mod limits;
pub mod listener;
pub mod memory;
pub mod notify;
pub mod pool;
pub mod sessions;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use crate::config::model::{BackendId, FrontendId, Model, ServerId};
use crate::config::model_tls::BindTls;
use crate::health::observe::Outcome;
use crate::health::view::HealthView;
use crate::net::Dialer;
use crate::serve::record::Sink;
use crate::stats::shared::{CoreStats, StatsShared};
use crate::tls::client_config::ClientTls;
use crate::tls::server_config::{BindConfig, Shared};
use balance::Balancer;
use deadline::Deadlines;
use limits::ConnLimits;
use memory::Reclaim;
use notify::Notify;
use pool::Pool;

/// This core's runtime state for one backend.
pub struct BackendRt {
    pub balancer: Rc<Balancer>,
    pub pool: Pool,
    /// Per server slot: its TLS configs on this core when its traffic is TLS (`server ...
    /// ssl`), built here once so that a connection clones only this core's `Arc`s.
    pub tls: RefCell<Vec<Option<ClientTls>>>,
    /// The servers the runtime API added (`add server`), this core's copies.
    pub added: dynamic::Added,
}

/// How a stop was asked for (see launch.rs for the signals behind them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// Stop accepting; serve what accepted connections send next (with `connection: close`),
    /// close idle ones (SIGUSR1, HAProxy's soft stop).
    Soft,
    /// The same, within the grace period (SIGTERM, SIGINT).
    Graceful,
}

pub struct Worker {
    pub index: usize,
    pub nbthread: usize,
    pub model: Arc<Model>,
    /// Per backend, in `Model::backends` order (see `backend_rt`).
    pub backends: Vec<BackendRt>,
    /// maxconn counters shared by all cores (global, frontends, servers).
    pub limits: Arc<ConnLimits>,
    /// Open client connections on this core (drained before the worker exits).
    pub conns: Cell<u32>,
    /// Woken when a client connection closes, for accept loops paused at a limit.
    pub conn_closed: Notify,
    pub stopping: Cell<Option<StopKind>>,
    pub stop: Notify,
    /// This core's view of server health, when some server is checked.
    pub health: Option<HealthView>,
    /// The purge task of the idle server connections runs (see pool.rs).
    pub purging: Cell<bool>,
    /// The deadlines of waiting client connections (see deadline.rs).
    pub deadlines: Rc<Deadlines>,
    /// Idle client connections on this core that keep their read buffer for a while.
    pub hot_reads: Cell<usize>,
    /// Freed buffer memory, handed back to the system now and then (see memory.rs).
    pub reclaim: Rc<Reclaim>,
    /// Where each request's record goes when it ends (serve/record/: off, printed with
    /// `ringlb -d`, or kept for tests).
    pub records: Sink,
    /// How server connections are opened (TCP; in-memory in in-process tests).
    pub dialer: Dialer,
    /// Servers whose TLS files could not be loaded on this core (`file:line: message`):
    /// launch refuses to start with any (`ringlb -c` checked them; a file changed since).
    pub tls_errors: Vec<String>,
    /// This core's counters and histograms (stats/), read by reports on any core.
    pub stats: CoreStats,
    /// This core's live sessions (runtime API: `show sess`, `shutdown sessions server`).
    pub sessions: Rc<sessions::Sessions>,
    /// Requests this core has started (`next_request_counter`).
    requests_started: Cell<u64>,
}

/// What every core is given of the process-wide state: the model, the maxconn counters, and
/// the stats registry (each core writes only its own counters there).
pub struct Process {
    pub model: Arc<Model>,
    pub limits: Arc<ConnLimits>,
    pub stats: Arc<StatsShared>,
}

impl Worker {
    /// `dialer`: how server connections are opened (`Dialer::Tcp` but in in-process tests).
    pub fn new(
        index: usize,
        nbthread: usize,
        process: Process,
        health: Option<HealthView>,
        records: Sink,
        dialer: Dialer,
    ) -> Rc<Self> {
        let Process {
            model,
            limits,
            stats,
        } = process;
        let seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(index as u64 + 1);
        let mut tls_errors = Vec::new();
        let backends = model
            .backend_ids()
            .zip(&model.backends)
            .map(|(i, b)| BackendRt {
                balancer: Rc::new(Balancer::with_stats(
                    b,
                    i,
                    Arc::clone(&limits),
                    seed,
                    Some((Arc::clone(&stats), index)),
                )),
                pool: Pool::new(b, i, Arc::clone(&limits), nbthread),
                tls: RefCell::new(server_tls(b, &mut tls_errors)),
                added: dynamic::Added::new(b),
            })
            .collect();
        let stats = CoreStats::new(stats, index, &model);
        Rc::new(Worker {
            index,
            nbthread,
            model,
            backends,
            limits,
            conns: Cell::new(0),
            conn_closed: Notify::default(),
            stopping: Cell::new(None),
            stop: Notify::default(),
            health,
            purging: Cell::new(false),
            deadlines: Rc::default(),
            hot_reads: Cell::new(0),
            reclaim: Rc::default(),
            records,
            dialer,
            tls_errors,
            stats,
            sessions: sessions::Sessions::new(index),
            requests_started: Cell::new(0),
        })
    }

    /// The next request's number (`%rt`), unique in the process without a shared counter:
    /// the cores interleave (core i of n numbers i, i+n, i+2n ...). With one thread it counts
    /// 0, 1, 2 ... as HAProxy's does.
    pub fn next_request_counter(&self) -> u64 {
        let n = self.requests_started.get();
        self.requests_started.set(n + 1);
        n * self.nbthread.max(1) as u64 + self.index as u64
    }

    /// This core's balancer and pool of a backend.
    pub fn backend_rt(&self, backend: BackendId) -> Option<&BackendRt> {
        self.backends.get(backend.index())
    }

    pub fn begin_stop(&self, kind: StopKind) {
        if self.stopping.get().is_none() {
            self.stopping.set(Some(kind));
            for b in &self.backends {
                b.pool.clear();
            }
            self.stop.notify_all();
        }
    }

    /// Brings this core's server states up to date with the checker's events.
    pub fn apply_health(&self) {
        if let Some(h) = &self.health {
            h.apply(&self.backends);
            while let Some(cmd) = h.next_control() {
                self.control(cmd);
            }
        }
    }

    /// Tells the checker what an exchange with a server showed (`observe`).
    pub fn observe(&self, backend: BackendId, server: ServerId, outcome: Outcome) {
        if let Some(h) = &self.health {
            let obs = self
                .server_cfg(backend, server)
                .and_then(|s| s.check)
                .and_then(|c| c.observe);
            h.observe(obs, backend, server, outcome);
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.get().is_some()
    }
}

/// A backend's TLS servers' configs for this core; a server whose files fail to load gets none
/// (its connections fail) and the problem is noted.
fn server_tls(
    b: &crate::config::model::Backend,
    errors: &mut Vec<String>,
) -> Vec<Option<ClientTls>> {
    b.servers
        .iter()
        .map(|s| {
            let tls = s.traffic_tls()?;
            // Warnings were printed when the configuration was loaded.
            match ClientTls::build(tls, &mut Vec::new()) {
                Ok(c) => Some(c),
                Err(list) => {
                    errors.extend(
                        list.iter()
                            .map(|e| format!("{}: server '{}': {e}", s.loc, s.name)),
                    );
                    None
                }
            }
        })
        .chain((0..b.dynamic_slots).map(|_| None))
        .collect()
}

/// One listener a worker must open: its frontend, the resolved address, and its TLS.
#[derive(Clone, Debug)]
pub struct ListenSpec {
    pub frontend: FrontendId,
    pub addr: SocketAddr,
    /// `ssl ...` on the bind: what its TLS loaded, shared by the cores.
    pub tls: Option<Arc<TlsBind>>,
    /// Its number in the frontend, from 1 (HAProxy's listener name in logs).
    pub listener: u32,
    /// `proto h1|h2` on the bind.
    pub proto: Option<crate::config::model::BindProto>,
    /// `accept-proxy` on the bind.
    pub accept_proxy: bool,
}

/// A TLS listener as one core serves it: its rustls configs, and its number in the frontend
/// (1, 2, ... in bind order, as HAProxy names listeners in its logs: `fe/1`).
pub struct CoreTls {
    pub configs: BindConfig,
    pub listener: u32,
}

/// A TLS bind's settings and what they loaded (certificates, ticket keys), read once for all
/// cores; each core builds its own rustls configs from it (`BindConfig::build`), so that no
/// handshake touches another core's reference counts.
#[derive(Debug)]
pub struct TlsBind {
    pub settings: BindTls,
    pub shared: Shared,
}
