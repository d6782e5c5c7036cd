//! The checker: one thread that probes every checked server on schedule and tells every core.
//!
//! Why one thread with its own monoio runtime rather than a thread per server or blocking
//! sockets with timeouts: a check is almost all waiting, so 1,000 servers are 1,000 small tasks
//! sleeping on one timer wheel and one ring, not 1,000 stacks; connect/read timeouts are plain
//! monoio timeouts; and the thread is off the request path entirely (workers only ever
//! `try_recv` its events). The state machine is HAProxy's (src/check.c): `health` runs from 0
//! to rise+fall-1, the server is UP at rise or above; a success below rise climbs by one and
//! jumps to the top on reaching rise; a failure above rise steps down and drops to 0 below it.
//! Checked servers start UP with health = rise, so the first failed check marks them DOWN
//! (HAProxy 2.6 does the same; verified by running it beside ringlb).

use crate::config::model_log::{LEVEL_ALERT, LEVEL_EMERG, LEVEL_NOTICE};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use super::admin::{Admin, AdminCmd, Change, ServerCmd};
use super::observe::Report;
use super::probe::{self, Outcome, Plan, Timing};
use super::table::{CheckResult, SlotUse};
use super::view::HealthLink;
use super::HealthEvent;
use crate::config::model::{BackendId, Model, OnError, ServerCheck, ServerId};
use crate::launch::Driver;
use crate::stats::shared::StatsShared;
use crate::worker::control::CoreCmd;
use crate::worker::limits::ConnLimits;
use crate::worker::notify::Notify;

mod dynamic;

/// How often the checker looks for a stop request and for passive reports.
const POLL: Duration = Duration::from_millis(10);
/// Passive reports waiting for the checker; beyond this workers drop them (try_send).
const REPORT_QUEUE: usize = 4096;
/// Slow start moves the weight in steps at most this often (HAProxy: slowstart/20, >= 1s;
/// finer here so short ramps are visible).
const MIN_RAMP_STEP: Duration = Duration::from_millis(100);
const RAMP_STEPS: u32 = 20;

/// The running checker; `stop` ends and joins it.
pub struct Checker {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
    /// Where the runtime API sends operator changes (health/admin.rs).
    admin: Sender<AdminCmd>,
}

impl Checker {
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.handle.join();
    }

    /// A sender of operator changes to every server (the runtime API's).
    pub fn admin(&self) -> Sender<AdminCmd> {
        self.admin.clone()
    }

    pub fn thread_id(&self) -> std::thread::ThreadId {
        self.handle.thread().id()
    }
}

/// Starts the checker when some server is checked; returns it and one link per worker.
pub fn start(
    model: Arc<Model>,
    limits: Arc<ConnLimits>,
    nbthread: usize,
    driver: Driver,
    quiet: bool,
    log: Option<crate::log::LogHub>,
    stats: Option<Arc<StatsShared>>,
) -> Result<(Option<Checker>, Vec<Option<HealthLink>>), String> {
    if !super::needed(&model) {
        return Ok((None, (0..nbthread).map(|_| None).collect()));
    }
    let (report_tx, report_rx) = bounded(REPORT_QUEUE);
    let mut out = Vec::with_capacity(nbthread);
    let mut control = Vec::with_capacity(nbthread);
    let mut links = Vec::with_capacity(nbthread);
    for _ in 0..nbthread {
        // Unbounded: a state change must never be lost, and the checker must never block on
        // a busy core. Events are rare (transitions and slow-start steps only).
        let (tx, rx) = unbounded();
        let (ctl_tx, ctl_rx) = unbounded();
        out.push(tx);
        control.push(ctl_tx);
        links.push(Some(HealthLink {
            events: rx,
            reports: report_tx.clone(),
            control: ctl_rx,
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (admin_tx, admin_rx) = unbounded();
    let setup = Setup {
        admin: admin_rx,
        model,
        limits,
        out,
        control,
        reports: report_rx,
        quiet,
        log,
        stats,
        stop: Arc::clone(&stop),
    };
    let handle = std::thread::Builder::new()
        .name("ringlb-checker".into())
        .spawn(move || thread_main(setup, driver))
        .map_err(|e| format!("cannot start the health checker thread: {e}"))?;
    Ok((
        Some(Checker {
            stop,
            handle,
            admin: admin_tx,
        }),
        links,
    ))
}

struct Setup {
    admin: Receiver<AdminCmd>,
    model: Arc<Model>,
    limits: Arc<ConnLimits>,
    out: Vec<Sender<HealthEvent>>,
    control: Vec<Sender<CoreCmd>>,
    reports: Receiver<Report>,
    quiet: bool,
    log: Option<crate::log::LogHub>,
    stats: Option<Arc<StatsShared>>,
    stop: Arc<AtomicBool>,
}

fn thread_main(setup: Setup, driver: Driver) {
    if driver == Driver::IoUring {
        let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build();
        if let Ok(mut rt) = rt {
            rt.block_on(run(setup));
            return;
        }
    }
    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(run(setup)),
        Err(e) => eprintln!("[ALERT] health checker: cannot start a runtime: {e}; servers keep their start-up state"),
    }
}

/// One checked server, as the checker sees it.
struct Srv {
    backend: BackendId,
    server: ServerId,
    cfg: ServerCheck,
    /// Where probes go: the check's own address and port where it has them (`addr`, `port`,
    /// or `set server B/S check-addr|check-port`), else the server's (`set server B/S addr`
    /// moves it).
    target: Cell<SocketAddr>,
    server_addr: Cell<SocketAddr>,
    check_addr: Cell<Option<std::net::IpAddr>>,
    check_port: Cell<Option<u16>>,
    /// `check-ssl` (or `ssl` checked where the traffic goes): this thread's own TLS config.
    tls: Option<probe::CheckTls>,
    health: Cell<u32>,
    up: Cell<bool>,
    /// Check again at fastinter (on-error asked for it).
    fast: Cell<bool>,
    /// Consecutive live-traffic errors reported by all cores.
    observed: Cell<u32>,
    wake: Notify,
    weight_pct: Cell<u8>,
    /// Bumped at every transition so a running slow-start ramp knows it is stale.
    generation: Cell<u64>,
    /// `disable health` (runtime API): no probe runs, the last state stays, as in HAProxy.
    paused: Cell<bool>,
    /// `del server` removed it: its task ends.
    removed: Cell<bool>,
    /// The last check's result and reason (HAProxy's check status): `option
    /// log-health-checks` logs a check whose status differs from the one before.
    last_status: Cell<Option<(bool, &'static str)>>,
}

impl Srv {
    /// Probes go where the check's address and port now say, and start at once.
    fn retarget(&self) {
        let a = self.server_addr.get();
        let ip = self.check_addr.get().unwrap_or(a.ip());
        self.target.set(SocketAddr::new(
            ip,
            self.check_port.get().unwrap_or(a.port()),
        ));
        self.wake.notify_all();
    }

    fn top(&self) -> u32 {
        self.cfg.rise + self.cfg.fall - 1
    }

    /// HAProxy's srv_getinter: inter when fully up, downinter when fully down, fastinter while
    /// going either way.
    fn interval(&self) -> Duration {
        if self.fast.replace(false) {
            return self.cfg.fastinter;
        }
        match self.health.get() {
            h if h == self.top() => self.cfg.inter,
            0 => self.cfg.downinter,
            _ => self.cfg.fastinter,
        }
    }
}

struct State {
    model: Arc<Model>,
    limits: Arc<ConnLimits>,
    out: Vec<Sender<HealthEvent>>,
    /// Each core's runtime API commands (worker/control.rs).
    control: Vec<Sender<CoreCmd>>,
    plans: Vec<Plan>,
    /// Per backend, per server slot: `None` for servers without `check` (always usable
    /// unless disabled) and empty slots.
    servers: RefCell<Vec<Vec<Option<Rc<Srv>>>>>,
    /// What each slot holds (configured, added by `add server`, empty): dynamic.rs.
    slots: RefCell<Vec<Vec<SlotUse>>>,
    /// Per backend, how many of its slots were ever filled (the next free one).
    filled: Vec<Cell<usize>>,
    quiet: bool,
    /// The backends' log targets get the transitions too (HAProxy's levels).
    log: Option<crate::log::LogHub>,
    /// Where reports read each server's last check (the stats page, metrics).
    checks: Option<Arc<StatsShared>>,
    /// Every server's operator state (runtime API).
    admin: Vec<Vec<Admin>>,
    rng: Cell<u64>,
}

async fn run(setup: Setup) {
    let Setup {
        admin: admin_rx,
        model,
        limits,
        out,
        control,
        reports,
        quiet,
        log,
        stats,
        stop,
    } = setup;
    let plans = model.backends.iter().map(Plan::of).collect();
    let servers = model
        .backend_ids()
        .zip(&model.backends)
        .map(|(b, be)| {
            be.server_ids()
                .zip(&be.servers)
                .map(|(s, srv)| {
                    let cfg = srv.check.filter(|_| !srv.disabled)?;
                    Some(Rc::new(Srv {
                        backend: b,
                        server: s,
                        cfg,
                        target: Cell::new(probe::target(srv, &cfg)),
                        server_addr: Cell::new(srv.addr),
                        check_addr: Cell::new(cfg.addr),
                        check_port: Cell::new(cfg.port),
                        tls: cfg.ssl.then(|| probe::CheckTls::of(srv)),
                        // Down before a reload (server state file): no check passed yet.
                        health: Cell::new(if srv.start.down { 0 } else { cfg.rise }),
                        up: Cell::new(!srv.start.down),
                        fast: Cell::new(false),
                        observed: Cell::new(0),
                        wake: Notify::default(),
                        weight_pct: Cell::new(100),
                        generation: Cell::new(0),
                        paused: Cell::new(!srv.start.checks_enabled),
                        removed: Cell::new(false),
                        last_status: Cell::new(None),
                    }))
                })
                .chain((0..be.dynamic_slots).map(|_| None))
                .collect()
        })
        .collect();
    let slots = model
        .backends
        .iter()
        .map(|b| {
            let empty = (0..b.dynamic_slots).map(|_| SlotUse::Empty);
            b.servers
                .iter()
                .map(|_| SlotUse::Configured)
                .chain(empty)
                .collect()
        })
        .collect();
    let admin = super::admin::table(&model);
    let filled = model
        .backends
        .iter()
        .map(|b| Cell::new(b.servers.len()))
        .collect();
    let st = Rc::new(State {
        model,
        limits,
        out,
        control,
        plans,
        servers: RefCell::new(servers),
        slots: RefCell::new(slots),
        filled,
        quiet,
        log,
        checks: stats,
        admin,
        rng: Cell::new(0x2545_f491_4f6c_dd1d ^ u64::from(std::process::id())),
    });
    let all: Vec<Rc<Srv>> = st
        .servers
        .borrow()
        .iter()
        .flatten()
        .flatten()
        .cloned()
        .collect();
    // HAProxy spreads the first checks over the smallest interval, in server order, so that
    // 1,000 servers are not probed in one burst.
    let min_inter = all
        .iter()
        .map(|s| s.cfg.inter)
        .min()
        .unwrap_or(Duration::ZERO);
    let n = all.len().max(1) as u32;
    for (pos, srv) in all.into_iter().enumerate() {
        let first = min_inter * pos as u32 / n;
        monoio::spawn(server_task(Rc::clone(&st), srv, first));
    }
    while !stop.load(Ordering::Relaxed) {
        drain_reports(&st, &reports);
        while let Ok(cmd) = admin_rx.try_recv() {
            st.admin_change(cmd);
        }
        monoio::time::sleep(POLL).await;
    }
}

async fn server_task(st: Rc<State>, srv: Rc<Srv>, first: Duration) {
    monoio::time::sleep(first).await;
    while !srv.removed.get() {
        if !srv.paused.get() {
            let timing = st.timing(&srv);
            let plan = &st.plans[srv.backend.index()];
            let o = probe::run(plan, srv.target.get(), srv.tls.as_ref(), timing).await;
            // Paused (or removed) while the probe ran: its result is ignored too.
            if !srv.paused.get() && !srv.removed.get() {
                st.record(&srv, o.ok, &o);
            }
        }
        let wait = st.jitter(srv.interval());
        let _ = monoio::time::timeout(wait, srv.wake.notified()).await;
    }
}

impl State {
    /// HAProxy: with `timeout check`, connect within min(timeout connect, inter) and read for
    /// `timeout check`; without it, the whole check is bounded by inter.
    fn timing(&self, srv: &Srv) -> Timing {
        let t = self
            .model
            .backend(srv.backend)
            .map(|b| b.timeouts)
            .unwrap_or_default();
        let inter = srv.cfg.inter;
        match t.check {
            Some(check) => Timing {
                connect: t.connect.map_or(inter, |c| c.min(inter)),
                read: check,
                proxy: srv.cfg.send_proxy,
            },
            None => Timing {
                connect: t.connect.map_or(inter, |c| c.min(inter)),
                read: inter,
                proxy: srv.cfg.send_proxy,
            },
        }
    }

    /// `spread-checks`: +/- that percentage of random jitter on each interval.
    fn jitter(&self, d: Duration) -> Duration {
        let spread = u64::from(self.model.global.spread_checks);
        if spread == 0 {
            return d;
        }
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        // A percentage in [100 - spread, 100 + spread].
        let pct = 100 - spread + x % (2 * spread + 1);
        d * pct as u32 / 100
    }

    /// Applies one check result (real or simulated by on-error) to the rise/fall counter.
    fn record(self: &Rc<Self>, srv: &Rc<Srv>, ok: bool, o: &Outcome) {
        let h = srv.health.get();
        let top = srv.top();
        let rise = srv.cfg.rise;
        let report = self.reports_check(srv, ok, o);
        let next = if ok {
            match h {
                h if h >= top => top,
                h if h + 1 >= rise => top,
                h => h + 1,
            }
        } else {
            match h {
                0 => 0,
                h if h - 1 < rise => 0,
                h => h - 1,
            }
        };
        srv.health.set(next);
        let up = next >= rise;
        if report {
            self.log_check(srv, ok, next, o);
        }
        if up != srv.up.get() {
            self.transition(srv, up, o);
        }
        self.publish(srv, ok, o);
    }

    /// Tells reports (the stats page, metrics) what this check showed.
    fn publish(&self, srv: &Srv, ok: bool, o: &Outcome) {
        let Some(stats) = &self.checks else { return };
        let table = &stats.checks;
        let r = CheckResult {
            ok,
            reason: o.reason,
            code: o.code,
            info: o.info.as_deref(),
            took: o.took,
            health: srv.health.get(),
            up: srv.up.get(),
            weight_pct: srv.weight_pct.get(),
        };
        let now = Instant::now();
        table.update(srv.backend, srv.server, |st| st.apply(&r, now));
    }

    fn transition(self: &Rc<Self>, srv: &Rc<Srv>, up: bool, o: &Outcome) {
        srv.up.set(up);
        srv.generation.set(srv.generation.get().wrapping_add(1));
        let slowstart = self.server_slowstart(srv);
        let pct = match (up, slowstart) {
            (true, Some(_)) => 0,
            _ => 100,
        };
        srv.weight_pct.set(pct);
        self.broadcast(srv, up, pct);
        self.log_transition(srv, up, o);
        if let (true, Some(d)) = (up, slowstart) {
            monoio::spawn(ramp(Rc::clone(self), Rc::clone(srv), d));
        }
    }

    fn server_slowstart(&self, srv: &Srv) -> Option<Duration> {
        self.with_cfg(srv.backend, srv.server, |s| s.slowstart)?
    }

    fn broadcast(&self, srv: &Srv, up: bool, weight_pct: u8) {
        self.broadcast_server(srv.backend, srv.server, up, weight_pct);
    }

    /// Tells every core a server's state: usable when its checks (if any) say `up` and it is
    /// not in maintenance; its weight the operator's, 0 while draining.
    fn broadcast_server(&self, backend: BackendId, server: ServerId, up: bool, weight_pct: u8) {
        let admin = self
            .admin
            .get(backend.index())
            .and_then(|l| l.get(server.index()));
        let maint = admin.is_some_and(|a| a.maint.get());
        let weight = admin.map_or(0, Admin::weight_in_effect);
        let ev = HealthEvent {
            backend,
            server,
            up: up && !maint,
            weight_pct,
            weight,
        };
        for tx in &self.out {
            // A worker that has exited has dropped its receiver; nothing to tell it.
            let _ = tx.send(ev);
        }
    }

    /// A runtime API command: a server change, a limit, or something every core does.
    fn admin_change(self: &Rc<Self>, cmd: AdminCmd) {
        match cmd {
            AdminCmd::Server(c) => self.server_change(c),
            AdminCmd::GlobalMaxConn(n) => self.limits.global.set_max(Some(n)),
            AdminCmd::FrontendMaxConn(f, n) => {
                if let Some(l) = self.limits.frontend(f) {
                    l.set_max(Some(n));
                }
            }
            AdminCmd::Cores(c) => self.to_cores(&c),
            AdminCmd::AddServer {
                backend,
                cfg,
                reply,
            } => {
                let _ = reply.send(self.add_server(backend, *cfg));
            }
            AdminCmd::DelServer {
                backend,
                server,
                reply,
            } => {
                let _ = reply.send(self.del_server(backend, server));
            }
        }
    }

    fn to_cores(&self, cmd: &CoreCmd) {
        for tx in &self.control {
            // A worker that has exited has dropped its receiver; nothing to tell it.
            let _ = tx.send(cmd.clone());
        }
    }

    /// The checker's and the cores' part of a server change that is not the operator's
    /// state: `None` when it is one (then `server_change` goes on).
    fn server_side(&self, cmd: ServerCmd) -> Option<()> {
        let (backend, server) = (cmd.backend, cmd.server);
        match cmd.change {
            Change::Addr(addr) => {
                if let Some(c) = self.checked(backend, server) {
                    c.server_addr.set(addr);
                    c.retarget();
                }
                self.to_cores(&CoreCmd::Addr {
                    backend,
                    server,
                    addr,
                });
            }
            Change::MaxConn(n) => {
                if let Some(l) = self.limits.server(backend, server) {
                    l.set_max(n);
                }
            }
            Change::Shutdown => self.to_cores(&CoreCmd::Shutdown { backend, server }),
            Change::CheckTarget(ip, port) => {
                if let Some(c) = self.checked(backend, server) {
                    if ip.is_some() {
                        c.check_addr.set(ip);
                    }
                    if let Some(p) = port {
                        c.check_port.set((p != 0).then_some(p));
                    }
                    c.retarget();
                }
            }
            Change::State(_) | Change::Weight(_) | Change::Health(_) => return None,
        }
        Some(())
    }

    /// An operator's change (runtime API): applied, told to every core and to the reports.
    fn server_change(&self, cmd: ServerCmd) {
        if self.server_side(cmd).is_some() {
            return;
        }
        let Some(a) = self
            .admin
            .get(cmd.backend.index())
            .and_then(|l| l.get(cmd.server.index()))
        else {
            return;
        };
        let checked = self.checked(cmd.backend, cmd.server);
        if let Change::Health(on) = cmd.change {
            if let Some(c) = &checked {
                c.paused.set(!on);
                c.wake.notify_all();
            }
            if let Some(stats) = &self.checks {
                // An added server's checks show in reports from their first `enable health`.
                let has_checks = checked.is_some();
                stats.checks.update(cmd.backend, cmd.server, |st| {
                    st.check_enabled = on;
                    st.checked |= on && has_checks;
                });
            }
            return;
        }
        a.apply(cmd.change);
        let up = checked.as_ref().is_none_or(|c| c.up.get());
        let pct = checked.as_ref().map_or(100, |c| c.weight_pct.get());
        self.broadcast_server(cmd.backend, cmd.server, up, pct);
        if let Some(stats) = &self.checks {
            let (maint, drain, weight) = (a.maint.get(), a.drain.get(), a.weight.get());
            let now = Instant::now();
            stats.checks.update(cmd.backend, cmd.server, |st| {
                st.set_admin(maint, drain, weight, now)
            });
        }
    }

    /// The checker's state of a server, when it is checked.
    fn checked(&self, backend: BackendId, server: ServerId) -> Option<Rc<Srv>> {
        self.servers
            .borrow()
            .get(backend.index())?
            .get(server.index())?
            .clone()
    }

    /// (active, backup) servers usable now in a backend.
    fn usable(&self, backend: BackendId) -> (usize, usize) {
        let Some(be) = self.model.backend(backend) else {
            return (0, 0);
        };
        let mut n = (0, 0);
        for (i, backup) in self.live_roles(be, backend) {
            let checked = self.checked(backend, i);
            let admin = self
                .admin
                .get(backend.index())
                .and_then(|l| l.get(i.index()));
            let (maint, weight) =
                admin.map_or((true, 0), |a| (a.maint.get(), a.weight_in_effect()));
            let up = !maint && weight > 0 && checked.is_none_or(|c| c.up.get());
            match (up, backup) {
                (true, false) => n.0 += 1,
                (true, true) => n.1 += 1,
                _ => {}
            }
        }
        n
    }

    /// `option log-health-checks`, HAProxy 2.6's rule (check.c, set_server_check_status): a
    /// check is logged when its status changed, when it failed while the server was not yet
    /// fully down, or when it passed while the server was not yet fully up. Called before
    /// the result is counted.
    fn reports_check(&self, srv: &Srv, ok: bool, o: &Outcome) -> bool {
        let before = srv.last_status.replace(Some((ok, o.reason)));
        let on = self
            .model
            .backend(srv.backend)
            .is_some_and(|b| b.log_health_checks);
        let h = srv.health.get();
        on && (before != Some((ok, o.reason))
            || (h != 0 && !ok)
            || ((h != srv.top() || srv.cfg.fall == 0) && ok))
    }

    /// One check's line, HAProxy's words: `Health check for server B/S succeeded, reason:
    /// ..., check duration: Nms, status: X/Y UP.` with the health after it, counted as
    /// HAProxy counts it (X/fall while up, X/rise while down), `notice` to the logs.
    fn log_check(&self, srv: &Srv, ok: bool, health: u32, o: &Outcome) {
        let Some(be) = self.model.backend(srv.backend) else {
            return;
        };
        let Some((name, is_backup)) =
            self.with_cfg(srv.backend, srv.server, |s| (s.name.clone(), s.backup))
        else {
            return;
        };
        let (rise, fall) = (srv.cfg.rise, srv.cfg.fall);
        let up = health >= rise;
        let weight = self
            .admin
            .get(srv.backend.index())
            .and_then(|l| l.get(srv.server.index()))
            .map_or(1, |a| a.weight.get());
        let mut line = format!(
            "Health check for {}server {}/{} {}",
            if is_backup { "backup " } else { "" },
            be.name,
            name,
            if ok { "succeeded" } else { "failed" },
        );
        append_outcome(&mut line, o);
        let (n, of, state) = match (up, weight) {
            (true, 0) => (health + 1 - rise, fall, "DRAIN"),
            (true, _) => (health + 1 - rise, fall, "UP"),
            (false, _) => (health, rise, "DOWN"),
        };
        line.push_str(&format!(", status: {n}/{of} {state}."));
        if let Some(hub) = &self.log {
            hub.event(hub.plan.backend(srv.backend), LEVEL_NOTICE, &line);
        }
        if !self.quiet {
            eprintln!("[WARNING]  ({}) : {line}", std::process::id());
        }
    }

    /// HAProxy's wording, on stderr (unless quiet) and to the backend's log targets: `notice`
    /// for UP, `alert` for DOWN, `emerg` when the backend has no server left.
    fn log_transition(&self, srv: &Srv, up: bool, o: &Outcome) {
        let Some(be) = self.model.backend(srv.backend) else {
            return;
        };
        let Some((name, is_backup)) =
            self.with_cfg(srv.backend, srv.server, |s| (s.name.clone(), s.backup))
        else {
            return;
        };
        let (active, backup) = self.usable(srv.backend);
        let kind = if is_backup { "Backup Server" } else { "Server" };
        let mut line = format!(
            "{kind} {}/{} is {}",
            be.name,
            name,
            if up { "UP" } else { "DOWN" }
        );
        // With log-health-checks the check's own line said why, so HAProxy 2.6 leaves the
        // reason out here.
        if !be.log_health_checks {
            append_outcome(&mut line, o);
        }
        line.push('.');
        let on_backup = if active == 0 && backup > 0 {
            " Running on backup."
        } else {
            ""
        };
        if up {
            line.push_str(&format!(
                " {active} active and {backup} backup servers online.{on_backup} 0 sessions requeued."
            ));
        } else {
            // In-flight requests are only counted across cores for servers with a maxconn
            // (others say 0, what HAProxy says of an idle server). HAProxy's "N remaining in
            // queue" is left out: queues are per core (README, Health checks).
            let sessions = self
                .limits
                .server(srv.backend, srv.server)
                .and_then(|l| l.used())
                .unwrap_or(0);
            line.push_str(&format!(
                " {active} active and {backup} backup servers left.{on_backup} {sessions} sessions active, 0 requeued."
            ));
        }
        let none_left = !up && active == 0 && backup == 0;
        if let Some(hub) = &self.log {
            let set = hub.plan.backend(srv.backend);
            let level = if up { LEVEL_NOTICE } else { LEVEL_ALERT };
            hub.event(set, level, &line);
            if none_left {
                let msg = format!("backend {} has no server available!", be.name);
                hub.event(set, LEVEL_EMERG, &msg);
            }
        }
        if self.quiet {
            return;
        }
        let pid = std::process::id();
        eprintln!("[WARNING]  ({pid}) : {line}");
        if none_left {
            eprintln!(
                "[ALERT]    ({pid}) : backend '{}' has no server available!",
                be.name
            );
        }
    }

    /// Passive reports from the workers: consecutive errors across all cores, `on-error` at
    /// `error-limit`.
    fn observed(self: &Rc<Self>, r: Report) {
        let Some(srv) = self.checked(r.backend, r.server) else {
            return;
        };
        let Some(obs) = srv.cfg.observe else { return };
        if r.outcome.is_ok() {
            srv.observed.set(0);
            return;
        }
        let n = srv.observed.get() + 1;
        if n < obs.error_limit {
            srv.observed.set(n);
            return;
        }
        srv.observed.set(0);
        let o = Outcome {
            ok: false,
            reason: "Health analyze",
            code: None,
            info: Some(format!(
                "Detected {n} consecutive errors, last one was: {}",
                r.outcome.describe()
            )),
            took: Duration::ZERO,
        };
        match obs.on_error {
            OnError::FastInter => {}
            OnError::FailCheck => self.record(&srv, false, &o),
            OnError::SuddenDeath => {
                // One more failure (this one) leaves it at the edge; the next marks it down.
                if srv.health.get() > srv.cfg.rise {
                    srv.health.set(srv.cfg.rise + 1);
                }
                self.record(&srv, false, &o);
            }
            OnError::MarkDown => {
                srv.health.set(0);
                if srv.up.get() {
                    self.transition(&srv, false, &o);
                }
            }
        }
        srv.fast.set(true);
        srv.wake.notify_all();
    }
}

fn drain_reports(st: &Rc<State>, rx: &Receiver<Report>) {
    let started = Instant::now();
    while let Ok(r) = rx.try_recv() {
        st.observed(r);
        // Never starve the probes: the rest waits for the next poll.
        if started.elapsed() > POLL {
            break;
        }
    }
}

/// Slow start: the weight climbs from 0 to 100% over `d`, in steps, while the server stays up.
async fn ramp(st: Rc<State>, srv: Rc<Srv>, d: Duration) {
    let generation = srv.generation.get();
    let step = (d / RAMP_STEPS).max(MIN_RAMP_STEP);
    let start = Instant::now();
    loop {
        monoio::time::sleep(step).await;
        if srv.generation.get() != generation || !srv.up.get() {
            return;
        }
        let done = start.elapsed().as_secs_f64() / d.as_secs_f64().max(f64::EPSILON);
        let pct = (done * 100.0).clamp(0.0, 100.0) as u8;
        srv.weight_pct.set(pct);
        st.broadcast(&srv, true, pct);
        if pct >= 100 {
            return;
        }
    }
}

/// `, reason: R, code: C, info: "I", check duration: Nms`, as HAProxy appends a check's result.
fn append_outcome(line: &mut String, o: &Outcome) {
    line.push_str(&format!(", reason: {}", o.reason));
    if let Some(c) = o.code {
        line.push_str(&format!(", code: {c}"));
    }
    if let Some(i) = &o.info {
        line.push_str(&format!(", info: \"{i}\""));
    }
    line.push_str(&format!(", check duration: {}ms", o.took.as_millis()));
}
