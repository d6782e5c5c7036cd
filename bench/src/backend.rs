//! `ringlb-bench backend`: a fast HTTP/1.1 origin server for demos and benchmarks.
//!
//! Module map:
//! - this file: options, and the launch (one pinned thread per `--threads`, each with its own
//!   monoio runtime and its own SO_REUSEPORT listener per `--listen` address);
//! - `http.rs`: request framing (head via httparse, Content-Length / chunked bodies);
//! - `conn.rs`: one client connection's life: read, answer every complete request in order,
//!   write all answers of one read in one write.
//!
//! Nothing is shared between threads after start-up except the immutable options.

mod conn;
mod http;

use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;

use socket2::{Domain, Socket, Type};

/// Accept backlog of every listener: large, so a connection burst from wrk is not dropped.
const LISTEN_BACKLOG: i32 = 4096;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Driver {
    IoUring,
    Legacy,
}

/// How the io_uring ring is set up; see design.md: the default setup is measurably slower.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ring {
    Coop,
    Defer,
    Plain,
}

/// Everything a worker thread needs to know; immutable after parsing.
#[derive(Clone, Debug)]
pub struct Opts {
    pub listen: Vec<SocketAddr>,
    pub threads: usize,
    pub cores: Option<Vec<usize>>,
    pub pin: bool,
    pub driver: Driver,
    pub ring: Ring,
    pub name: String,
    pub fail_rate: f64,
    pub close: bool,
    /// Added to every answer: makes this backend the slow server of a skewed pool.
    pub delay_ms: u64,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            listen: Vec::new(),
            threads: 1,
            cores: None,
            pin: true,
            driver: Driver::IoUring,
            ring: Ring::Coop,
            name: "backend".to_string(),
            fail_rate: 0.0,
            close: false,
            delay_ms: 0,
        }
    }
}

/// Runs the backend until killed (`cli::BackendCmd` gives the options).
pub fn main(opts: Opts) -> Result<(), String> {
    launch(Arc::new(opts))
}

/// A new non-blocking TCP socket with SO_REUSEPORT, bound to `addr`.
fn reuseport_socket(addr: SocketAddr) -> std::io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// Port 0 must become one concrete port shared by all threads: bind a probe socket (not
/// listening, so it never receives connections) to learn it, and keep it until every thread
/// has bound its own listener.
fn resolve_ports(opts: &mut Opts) -> Result<Vec<Socket>, String> {
    let mut probes = Vec::new();
    for addr in opts.listen.iter_mut().filter(|a| a.port() == 0) {
        let sock = reuseport_socket(*addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let local = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| format!("bind {addr}: no local address"))?;
        *addr = local;
        probes.push(sock);
    }
    Ok(probes)
}

fn bind_listener(addr: SocketAddr) -> Result<StdListener, String> {
    let sock = reuseport_socket(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    sock.listen(LISTEN_BACKLOG)
        .map_err(|e| format!("listen {addr}: {e}"))?;
    Ok(sock.into())
}

fn launch(opts: Arc<Opts>) -> Result<(), String> {
    let mut resolved = (*opts).clone();
    let probes = resolve_ports(&mut resolved)?;
    let opts = Arc::new(resolved);
    let core_ids = core_affinity::get_core_ids().unwrap_or_default();

    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let mut handles = Vec::new();
    for t in 0..opts.threads {
        let core = pick_core(&opts, &core_ids, t);
        let (opts, ready_tx) = (opts.clone(), ready_tx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("backend-{t}"))
            .spawn(move || worker(opts, core, ready_tx))
            .map_err(|e| format!("spawn thread: {e}"))?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..opts.threads {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a worker thread died during start-up".to_string()),
        }
    }
    drop(probes);
    announce(&opts);
    for h in handles {
        if h.join().is_err() {
            return Err("a worker thread panicked".to_string());
        }
    }
    Ok(())
}

fn pick_core(
    opts: &Opts,
    core_ids: &[core_affinity::CoreId],
    t: usize,
) -> Option<core_affinity::CoreId> {
    if !opts.pin || core_ids.is_empty() {
        return None;
    }
    let wanted = match &opts.cores {
        Some(list) => list[t % list.len()],
        None => t % core_ids.len(),
    };
    core_ids.iter().copied().find(|c| c.id == wanted)
}

fn announce(opts: &Opts) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let driver = match opts.driver {
        Driver::IoUring => "io_uring",
        Driver::Legacy => "legacy",
    };
    for addr in &opts.listen {
        let _ = writeln!(out, "listening on {addr}");
    }
    let _ = out.flush();
    eprintln!(
        "ringlb-bench backend '{}': {} thread(s), driver {driver}",
        opts.name, opts.threads
    );
}

fn worker(
    opts: Arc<Opts>,
    core: Option<core_affinity::CoreId>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
    let listeners = match opts.listen.iter().map(|a| bind_listener(*a)).collect() {
        Ok(ls) => ls,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if opts.driver == Driver::IoUring {
        match monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .uring_builder(uring_builder(opts.ring))
            .build()
        {
            Ok(mut rt) => return rt.block_on(serve(opts.clone(), listeners, ready)),
            // Kernels or sandboxes without io_uring: say so, and serve anyway.
            Err(e) => eprintln!("ringlb-bench backend: io_uring unavailable ({e}); using legacy"),
        }
    }
    match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
    {
        Ok(mut rt) => rt.block_on(serve(opts.clone(), listeners, ready)),
        Err(e) => {
            let _ = ready.send(Err(format!("cannot build the legacy runtime: {e}")));
        }
    }
}

fn uring_builder(ring: Ring) -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    match ring {
        Ring::Coop => {
            b.setup_coop_taskrun();
        }
        Ring::Defer => {
            b.setup_single_issuer().setup_defer_taskrun();
        }
        Ring::Plain => {}
    }
    b
}

async fn serve(
    opts: Arc<Opts>,
    listeners: Vec<StdListener>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let ctx = Rc::new(conn::Ctx::new(&opts));
    let mut accepting = Vec::new();
    for l in listeners {
        match monoio::net::TcpListener::from_std(l) {
            Ok(l) => accepting.push(monoio::spawn(accept_loop(l, ctx.clone()))),
            Err(e) => {
                let _ = ready.send(Err(format!("register listener: {e}")));
                return;
            }
        }
    }
    let _ = ready.send(Ok(()));
    for task in accepting {
        task.await;
    }
}

async fn accept_loop(listener: monoio::net::TcpListener, ctx: Rc<conn::Ctx>) {
    /// Back-off after an accept error such as EMFILE, so a full fd table does not spin.
    const ACCEPT_ERROR_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                monoio::spawn(conn::serve(stream, ctx.clone()));
            }
            Err(_) => monoio::time::sleep(ACCEPT_ERROR_PAUSE).await,
        }
    }
}
