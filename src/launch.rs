//! Start-up and shutdown: one pinned thread per core, each with its own monoio runtime.
//!
//! The launcher resolves what every core must open (port 0 is resolved once, so all cores share
//! the port), starts the workers, waits until each has bound its listeners, then says `ready`.
//! Signals are turned into a process-wide stop request that each worker polls on a short tick:
//! the only state shared between threads besides the read-only `Model`. While the workers run,
//! the launcher's own thread serves the signal thread's other requests (the SIGHUP dump of the
//! servers' states, kept current in `states.rs` from the checker's broadcast).

mod handover;
mod states;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, never, select, Receiver, Sender};

use crate::config::model::{DriverChoice, Model};
use crate::config::model_tls::BindTls;
use crate::health::view::{HealthLink, HealthView};
use crate::health::HealthEvent;
use crate::net::handover::Received;
use crate::net::Dialer;
use crate::process::Control;
use crate::serve::record::Sink;
use crate::tls::server_config::{BindConfig, Shared};
use crate::tls::tickets::{KeySecret, Tickets};
use crate::worker::limits::ConnLimits;
use crate::worker::{listener, CoreTls, ListenSpec, StopKind, TlsBind, Worker};
use states::ServerStates;
use std::rc::Rc;

/// How long SIGTERM/SIGINT lets in-flight requests finish before the process exits anyway.
pub const GRACE_PERIOD: Duration = Duration::from_secs(10);
/// How often workers look for a stop request: bounded latency, no cross-thread wake-ups.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How often an idle worker applies health events: bounds how stale its view can get.
const HEALTH_TICK: Duration = Duration::from_millis(10);
/// How often a core publishes its latency histograms (percentiles are this old at most).
const LATENCY_PUBLISH: Duration = Duration::from_secs(1);
/// io_uring submission queue entries per core.
const URING_ENTRIES: u32 = 1024;

const RUNNING: u8 = 0;
const SOFT_STOP: u8 = 1;
const GRACEFUL_STOP: u8 = 2;
static STOP: AtomicU8 = AtomicU8::new(RUNNING);

/// Asks every worker to stop (called from the signal thread).
pub fn request_stop(kind: StopKind) {
    let v = match kind {
        StopKind::Soft => SOFT_STOP,
        StopKind::Graceful => GRACEFUL_STOP,
    };
    STOP.fetch_max(v, Ordering::SeqCst);
}

pub fn stop_requested() -> Option<StopKind> {
    match STOP.load(Ordering::Relaxed) {
        SOFT_STOP => Some(StopKind::Soft),
        GRACEFUL_STOP => Some(StopKind::Graceful),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Legacy,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::IoUring => "io_uring",
            Driver::Legacy => "legacy (epoll)",
        }
    }
}

/// Which driver the workers will run: `RINGLB_DRIVER` wins over `ringlb.driver`, and `auto`
/// takes io_uring where the kernel offers it.
pub fn choose_driver(configured: DriverChoice) -> Result<Driver, String> {
    let choice = match std::env::var("RINGLB_DRIVER") {
        Ok(v) => match v.as_str() {
            "io_uring" | "uring" | "iouring" => DriverChoice::IoUring,
            "legacy" | "epoll" => DriverChoice::Legacy,
            "auto" | "" => DriverChoice::Auto,
            other => {
                return Err(format!(
                    "RINGLB_DRIVER={other:?} is not a driver; use io_uring, legacy or auto"
                ))
            }
        },
        Err(_) => configured,
    };
    let uring = monoio::utils::detect_uring();
    match choice {
        DriverChoice::Legacy => Ok(Driver::Legacy),
        DriverChoice::IoUring if !uring => Err("io_uring was asked for but this kernel does not offer it (it may be disabled by sysctl kernel.io_uring_disabled or a seccomp policy); use RINGLB_DRIVER=legacy".into()),
        DriverChoice::IoUring => Ok(Driver::IoUring),
        DriverChoice::Auto => Ok(if uring { Driver::IoUring } else { Driver::Legacy }),
    }
}

pub struct Options {
    pub quiet: bool,
    /// `-d`: every worker prints each request's record on stderr (serve/record/).
    pub debug: bool,
    /// Runs once every worker listens and every file is loaded, before the `ready` line:
    /// `chroot`, then the switch to `user`/`group` (so `ready` means confined).
    pub confine: Box<dyn FnOnce() + Send>,
    /// Runs right after the `ready` line (signal the old process, tell a daemonizing parent,
    /// a master, systemd).
    pub on_ready: Box<dyn FnOnce() + Send>,
    /// Requests from the signal thread (see `process::handle_signals`).
    pub control: Receiver<Control>,
    /// `-x SOCKET`: the old process's stats socket to take the listening sockets from.
    pub take_sockets: Option<std::path::PathBuf>,
}

/// Runs the workers until a stop; returns the process exit status.
pub fn run(model: Model, opts: Options) -> Result<(), String> {
    let driver = choose_driver(model.global.driver)?;
    let nbthread = model.global.nbthread.unwrap_or_else(default_threads).max(1);
    let received = match &opts.take_sockets {
        Some(path) => handover::take(path, opts.quiet),
        None => crate::net::handover::Handover::default(),
    };
    let (specs, reservations, matched, unmatched) = resolve_listeners(&model, received)?;
    let mut adopted = handover::spread(matched, nbthread);
    let limits = Arc::new(ConnLimits::new(&model));
    let model = Arc::new(model);
    let cpus = cpu_plan(&model, nbthread);
    let logger = crate::log::Logger::start(&model)?;
    let hub = logger.as_ref().map(crate::log::Logger::hub);
    let mut stats = crate::stats::shared::StatsShared::new(&model, nbthread, &cpus);
    // Still the only handle: the reports read the logger's counters from here.
    if let Some(s) = Arc::get_mut(&mut stats) {
        s.log = logger.as_ref().map(crate::log::Logger::counters);
    }
    // Bound now, with the listeners, while the process may still be root.
    let mut api = crate::api::bind(&model)?;
    // One link more than there are workers: the launcher follows the servers' states too.
    let (checker, mut links) = crate::health::checker::start(
        Arc::clone(&model),
        Arc::clone(&limits),
        nbthread + 1,
        driver,
        opts.quiet,
        hub.clone(),
        Some(Arc::clone(&stats)),
    )?;
    let launcher_events = links.pop().flatten().map(|l| l.events);
    let (ready_tx, ready_rx) = bounded::<Result<(), String>>(nbthread);
    // Never sent on: each worker thread holds a sender until it ends, so the receiver
    // disconnects when the last worker has ended.
    let (alive_tx, alive_rx) = bounded::<()>(0);
    let mut handles = Vec::with_capacity(nbthread);
    for index in 0..nbthread {
        let setup = WorkerSetup {
            health: links.get_mut(index).and_then(Option::take),
            index,
            nbthread,
            model: Arc::clone(&model),
            limits: Arc::clone(&limits),
            specs: specs.clone(),
            adopted: adopted
                .get_mut(index)
                .map(std::mem::take)
                .unwrap_or_default(),
            ready: ready_tx.clone(),
            log_requests: opts.debug,
            log: hub.clone(),
            stats: Arc::clone(&stats),
        };
        let cpu = cpus.get(index).copied().flatten();
        let alive = alive_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("ringlb-worker-{index}"))
            .spawn(move || worker_thread(setup, driver, cpu, alive))
            .map_err(|e| format!("cannot start worker thread {index}: {e}"))?;
        handles.push(h);
    }
    drop(ready_tx);
    drop(alive_tx);
    drop(hub);
    let started = wait_ready(&ready_rx, nbthread);
    drop(reservations); // every core holds the ports now
                        // Old sockets for binds this config no longer has: ours close now; the old process's
                        // close when it stops (it drops its copies then, net/handover.rs).
    drop(unmatched);
    if let Err(e) = started {
        request_stop(StopKind::Graceful);
        join_all(handles);
        stop_checker(checker);
        stop_logger(logger);
        return Err(e);
    }
    let api_where = api.describe();
    let admin = checker.as_ref().map(crate::health::checker::Checker::admin);
    if let Err(e) = api.serve(Arc::clone(&model), Arc::clone(&stats), admin) {
        request_stop(StopKind::Graceful);
        join_all(handles);
        stop_checker(checker);
        return Err(e);
    }
    if !opts.quiet {
        for where_ in &api_where {
            eprintln!("ringlb: runtime API (stats socket) on {where_}");
        }
    }
    (opts.confine)();
    announce(&model, &specs, nbthread, driver, opts.quiet);
    (opts.on_ready)();
    let mut states = ServerStates::new(Arc::clone(&model));
    supervise(
        &alive_rx,
        opts.control,
        launcher_events,
        &mut states,
        opts.quiet,
    );
    join_all(handles);
    stop_checker(checker);
    if let (Some(l), Some(StopKind::Soft)) = (&logger, stop_requested()) {
        crate::log::events::proxies_stopped(&l.hub(), &model, &stats);
    }
    stop_logger(logger);
    Ok(())
}

/// Until the last worker has ended: keeps the servers' states current and answers the signal
/// thread. A channel whose sender has gone is replaced by one that never delivers, so that
/// the wait stays a wait.
fn supervise(
    alive: &Receiver<()>,
    mut control: Receiver<Control>,
    events: Option<Receiver<HealthEvent>>,
    states: &mut ServerStates,
    quiet: bool,
) {
    let mut events = events.unwrap_or_else(never);
    loop {
        select! {
            recv(alive) -> _ => return,
            recv(control) -> msg => match msg {
                Ok(Control::DumpServerStates) => {
                    states.catch_up(&events);
                    if !quiet {
                        print_warnings(&states.dump());
                    }
                }
                Err(_) => control = never(),
            },
            recv(events) -> ev => match ev {
                Ok(ev) => states.apply(ev),
                Err(_) => events = never(),
            },
        }
    }
}

/// HAProxy's `[WARNING]` lines on stderr, until logging lands.
fn print_warnings(lines: &[String]) {
    let pid = std::process::id();
    for line in lines {
        eprintln!("[WARNING]  ({pid}) : {line}");
    }
}

/// The checker runs until the last worker has drained: servers may still fail meanwhile.
fn stop_checker(checker: Option<crate::health::checker::Checker>) {
    if let Some(c) = checker {
        c.stop();
    }
}

/// The logger writes what the cores queued before they ended, then stops.
fn stop_logger(logger: Option<crate::log::Logger>) {
    if let Some(l) = logger {
        l.stop();
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// What `resolve_listeners` returns: the specs, the port reservations, per spec the old
/// process's sockets for its address (`-x`), and the old sockets no bind wants.
type Resolved = (
    Vec<ListenSpec>,
    Vec<socket2::Socket>,
    Vec<Vec<Received>>,
    Vec<Received>,
);

/// Every bind of every frontend, with port 0 turned into one real port for all cores, and
/// the sockets received from the old process (`-x`) sorted out by address.
fn resolve_listeners(
    model: &Model,
    old: crate::net::handover::Handover,
) -> Result<Resolved, String> {
    let mut received = old.sockets;
    let mut specs = Vec::new();
    let mut held = Vec::new();
    let mut matched = Vec::new();
    for (fi, fe) in model.frontend_ids().zip(&model.frontends) {
        for (n, bind) in fe.binds.iter().enumerate() {
            // Port 0 means "any port": an old socket cannot be the one meant.
            let (mine, rest): (Vec<_>, Vec<_>) = received
                .into_iter()
                .partition(|r| bind.addr.port() != 0 && r.addr == bind.addr);
            received = rest;
            let addr = if mine.is_empty() {
                // Binding here first also turns "address in use" or "permission denied" into
                // one clear start-up error instead of one per core.
                let (addr, sock) = crate::net::reserve(bind.addr).map_err(|e| {
                    format!(
                        "{}: cannot bind {} for proxy '{}': {e}",
                        bind.loc, bind.addr, fe.name
                    )
                })?;
                held.push(sock);
                addr
            } else {
                // The old sockets hold the address: nothing to reserve.
                bind.addr
            };
            matched.push(mine);
            let tls = match &bind.tls {
                Some(settings) => {
                    let keys = old
                        .tickets
                        .iter()
                        .find(|(a, _)| bind.addr.port() != 0 && *a == bind.addr)
                        .map_or(&[][..], |(_, k)| &k[..]);
                    let tls = load_tls(settings, &bind.loc.to_string(), keys)?;
                    if let Some(t) = &tls.shared.tickets {
                        crate::net::ticket_handover::export(addr, t);
                    }
                    Some(Arc::new(tls))
                }
                None => None,
            };
            specs.push(ListenSpec {
                frontend: fi,
                addr,
                tls,
                listener: u32::try_from(n + 1).unwrap_or(u32::MAX),
                proto: bind.proto,
                accept_proxy: bind.accept_proxy,
            });
        }
    }
    Ok((specs, held, matched, received))
}

/// Loads a TLS bind's files once for every core (`ringlb -c` checked them already; a file
/// that changed since is reported here, at start-up).
/// `inherited`: the old process's random ticket keys for this bind (`-x`), which keep
/// opening its tickets; without a key file the bind then seals with a fresh key of its own.
fn load_tls(settings: &BindTls, at: &str, inherited: &[KeySecret]) -> Result<TlsBind, String> {
    let mut warnings = Vec::new();
    let mut shared = Shared::load(settings, &mut warnings).map_err(|errors| {
        let all: Vec<String> = errors.iter().map(|e| format!("{at}: {e}")).collect();
        all.join("\n")
    })?;
    let random = shared.tickets.is_some() && settings.ticket_keys.is_none();
    if random && !inherited.is_empty() {
        let t = Tickets::inherit(settings.lifetime, inherited).map_err(|e| format!("{at}: {e}"))?;
        shared.tickets = Some(Arc::new(t));
    }
    Ok(TlsBind {
        settings: settings.clone(),
        shared,
    })
}

/// The CPU each worker is pinned to: `cpu-map` when given, else the allowed CPUs in turn.
fn cpu_plan(model: &Model, nbthread: usize) -> Vec<Option<usize>> {
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    (0..nbthread)
        .map(|i| {
            let mapped = model
                .global
                .cpu_map
                .iter()
                .find(|m| m.threads.contains(&(i + 1)));
            match mapped {
                Some(m) if !m.cpus.is_empty() => m.cpus.get(i % m.cpus.len()).copied(),
                _ if cores.is_empty() => None,
                _ => Some(cores[i % cores.len()]),
            }
        })
        .collect()
}

fn wait_ready(rx: &Receiver<Result<(), String>>, n: usize) -> Result<(), String> {
    for _ in 0..n {
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a worker thread exited during start-up".into()),
        }
    }
    Ok(())
}

fn announce(model: &Model, specs: &[ListenSpec], nbthread: usize, driver: Driver, quiet: bool) {
    if quiet {
        return;
    }
    for s in specs {
        if let Some(fe) = model.frontend(s.frontend) {
            eprintln!("ringlb: proxy '{}' listening on {}", fe.name, s.addr);
        }
    }
    eprintln!(
        "ringlb: ready: {nbthread} worker(s), {} driver, pid {}",
        driver.name(),
        std::process::id()
    );
}

fn join_all(handles: Vec<JoinHandle<()>>) {
    for h in handles {
        let _ = h.join();
    }
}

/// Everything one worker thread starts from: plain data, sent to the thread that owns it.
struct WorkerSetup {
    index: usize,
    nbthread: usize,
    model: Arc<Model>,
    limits: Arc<ConnLimits>,
    specs: Vec<ListenSpec>,
    /// Per spec, the old process's sockets this core adopts (`-x`); none: it binds its own.
    adopted: Vec<Vec<std::os::fd::OwnedFd>>,
    ready: Sender<Result<(), String>>,
    /// This core's end of the health-check broadcast, when some server is checked.
    health: Option<HealthLink>,
    /// `ringlb -d`: print each request's record.
    log_requests: bool,
    /// The way to the logger thread, when some proxy logs.
    log: Option<crate::log::LogHub>,
    /// Every core's counters (this one writes its own).
    stats: Arc<crate::stats::shared::StatsShared>,
}

/// `_alive` is held until the thread ends (see `supervise`).
fn worker_thread(setup: WorkerSetup, driver: Driver, cpu: Option<usize>, _alive: Sender<()>) {
    if let Some(id) = cpu {
        core_affinity::set_for_current(core_affinity::CoreId { id });
    }
    let index = setup.index;
    let ready = setup.ready.clone();
    let main = worker_main(setup);
    let built = match driver {
        Driver::IoUring => build_uring().map(|mut rt| rt.block_on(main)),
        Driver::Legacy => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(main)),
    };
    if let Err(e) = built {
        let _ = ready.send(Err(format!(
            "worker {index}: cannot start the {} runtime: {e}",
            driver.name()
        )));
    }
}

/// io_uring set up deliberately: cooperative task running avoids an interrupt per completion
/// (measured in design.md: 67k -> 82k req/s on 2 vCPUs); older kernels without the flag get the
/// plain ring.
fn build_uring() -> std::io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>>
{
    let mut tuned = io_uring::IoUring::builder();
    tuned.setup_coop_taskrun();
    let rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .with_entries(URING_ENTRIES)
        .uring_builder(tuned)
        .enable_timer()
        .build();
    match rt {
        Ok(rt) => Ok(rt),
        Err(_) => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(URING_ENTRIES)
            .enable_timer()
            .build(),
    }
}

async fn worker_main(setup: WorkerSetup) {
    let WorkerSetup {
        index,
        nbthread,
        model,
        limits,
        specs,
        mut adopted,
        ready,
        health,
        log_requests,
        log,
        stats,
    } = setup;
    let view = health.map(|link| HealthView::new(link, &model));
    let records = match log {
        Some(hub) => Sink::Log(Box::new(crate::log::CoreLog::new(hub, log_requests))),
        None if log_requests => Sink::Print,
        None => Sink::Off,
    };
    let process = crate::worker::Process {
        model,
        limits,
        stats,
    };
    let w = Worker::new(index, nbthread, process, view, records, Dialer::Tcp);
    if !w.tls_errors.is_empty() {
        let _ = ready.send(Err(w.tls_errors.join("\n")));
        return;
    }
    // Offered to a later `-x` only when some stats socket may hand them over.
    let exported = w.model.global.stats_sockets.iter().any(|s| s.expose_fd);
    let mut listeners = Vec::with_capacity(specs.len());
    for (n, spec) in specs.into_iter().enumerate() {
        let tls = match core_tls(&spec) {
            Ok(t) => t,
            Err(e) => {
                let _ = ready.send(Err(format!("worker {index}: {}: {e}", spec.addr)));
                return;
            }
        };
        let old = adopted.get_mut(n).map(std::mem::take).unwrap_or_default();
        match handover::open(spec.addr, old, exported.then_some(index)) {
            Ok(ls) => listeners.extend(ls.into_iter().map(|l| (spec.clone(), l, tls.clone()))),
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "worker {index}: cannot listen on {}: {e}",
                    spec.addr
                )));
                return;
            }
        }
    }
    let _ = ready.send(Ok(()));
    drop(ready);
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|(spec, l, tls)| monoio::spawn(listener::accept_loop(w.clone(), spec, l, tls)))
        .collect();
    if w.health.is_some() {
        monoio::spawn(health_tick(w.clone()));
    }
    if w.records.log().is_some() {
        monoio::spawn(log_tick(w.clone()));
    }
    monoio::spawn(publish_latency(w.clone()));
    let kind = wait_for_stop().await;
    w.begin_stop(kind);
    // The accept loops end on the stop: each accepts what is queued on its listener, then shuts
    // it. The sockets must leave now, not when the process exits, or the kernel keeps queueing
    // connections on them that nobody accepts (and resets them at exit) while the cores drain.
    // Once handed over to a new process (`-x`), they only stop accepting: the queues are the
    // new process's now (worker/listener.rs).
    for task in accepting {
        task.await;
    }
    crate::net::handover::forget_all();
    drain(&w, kind).await;
    if let Some(log) = w.records.log() {
        log.flush();
    }
}

/// Hands the core's log lines over at least every `FLUSH_EVERY`, busy or not.
async fn log_tick(w: std::rc::Rc<Worker>) {
    loop {
        monoio::time::sleep(crate::log::FLUSH_EVERY).await;
        if let Some(log) = w.records.log() {
            log.flush();
        }
    }
}

/// This core's rustls configs for a TLS bind.
fn core_tls(spec: &ListenSpec) -> Result<Option<Rc<CoreTls>>, String> {
    let Some(t) = &spec.tls else {
        return Ok(None);
    };
    let configs = BindConfig::build(&t.settings, &t.shared).map_err(|e| e.to_string())?;
    Ok(Some(Rc::new(CoreTls {
        configs,
        listener: spec.listener,
    })))
}

/// Applies health events on an idle core too (busy cores also apply them before every pick).
async fn health_tick(w: std::rc::Rc<Worker>) {
    loop {
        w.apply_health();
        monoio::time::sleep(HEALTH_TICK).await;
    }
}

/// Hands this core's latency histograms to reports once a second (stats/latency.rs).
async fn publish_latency(w: std::rc::Rc<Worker>) {
    loop {
        monoio::time::sleep(LATENCY_PUBLISH).await;
        w.stats.publish_latency();
    }
}

async fn wait_for_stop() -> StopKind {
    loop {
        if let Some(kind) = stop_requested() {
            return kind;
        }
        monoio::time::sleep(STOP_POLL).await;
    }
}

/// Lets open connections finish: all of them for a soft stop, within the grace period for a
/// graceful one. A later SIGTERM during a soft stop shortens it to the grace period.
async fn drain(w: &Worker, first: StopKind) {
    let mut deadline = (first == StopKind::Graceful).then(|| Instant::now() + GRACE_PERIOD);
    while w.conns.get() > 0 {
        if deadline.is_none() && stop_requested() == Some(StopKind::Graceful) {
            deadline = Some(Instant::now() + GRACE_PERIOD);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        monoio::time::sleep(STOP_POLL).await;
    }
}
