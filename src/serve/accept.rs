//! One client connection's life: counted against the limits, then handed to its mode.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use monoio::net::TcpStream;

use super::record;
use crate::config::model::{BindProto, Frontend, FrontendId, Mode};
use crate::net::{proxy_proto, Stream};
use crate::rules::content::{self, Verdict};
use crate::rules::Ctx;
use crate::worker::CoreTls;
use crate::worker::Worker;

/// A client connection counted against the global and frontend maxconn; dropping it releases
/// both and wakes this core's accept loops paused at a limit.
pub struct ConnGuard {
    worker: Rc<Worker>,
    frontend: FrontendId,
}

impl ConnGuard {
    /// Takes a global and a frontend slot now, if both are free.
    pub fn try_new(worker: &Rc<Worker>, frontend: FrontendId) -> Option<Self> {
        let limits = &worker.limits;
        let fe = limits.frontend(frontend)?;
        if !limits.global.try_take() {
            return None;
        }
        if !fe.try_take() {
            limits.global.release();
            return None;
        }
        worker.conns.set(worker.conns.get() + 1);
        worker.stats.conn_opened(frontend);
        Some(ConnGuard {
            worker: Rc::clone(worker),
            frontend,
        })
    }

    /// Waits for a free global and frontend slot (the connection is accepted but not read
    /// meanwhile, as if still in the kernel's queue). None when the worker stops first.
    pub async fn admit(worker: &Rc<Worker>, frontend: FrontendId) -> Option<Self> {
        loop {
            if let Some(guard) = Self::try_new(worker, frontend) {
                return Some(guard);
            }
            if !crate::worker::listener::wait_for_room(worker).await {
                return None;
            }
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let limits = &self.worker.limits;
        if let Some(f) = limits.frontend(self.frontend) {
            f.release();
        }
        limits.global.release();
        self.worker
            .conns
            .set(self.worker.conns.get().saturating_sub(1));
        self.worker.stats.conn_closed(self.frontend);
        self.worker.conn_closed.notify_all();
    }
}

/// How a listener's connections are served: TLS first (this core's configs), and the
/// protocol its `proto` forces.
#[derive(Clone, Default)]
pub struct How {
    pub tls: Option<Rc<CoreTls>>,
    pub proto: Option<BindProto>,
    /// `accept-proxy`: a PROXY protocol header comes first.
    pub accept_proxy: bool,
    /// The listener's number in its frontend (logs name it `fe/N`).
    pub listener: u32,
}

/// Serves one accepted connection. `guard` is its slot when the accept loop could take one at
/// once; otherwise the connection waits here for one.
pub fn serve(
    worker: Rc<Worker>,
    frontend: FrontendId,
    client: TcpStream,
    guard: Option<ConnGuard>,
    how: How,
) -> impl Future<Output = ()> {
    // The socket goes in a box, unpacked as soon as the connection is admitted: an async fn
    // keeps room for its arguments as long as it lives, and this task lives as long as the
    // connection. Its addresses are looked up then and kept by the stream itself.
    run(worker, frontend, Box::new(client), guard, how)
}

async fn run(
    worker: Rc<Worker>,
    frontend: FrontendId,
    mut accepted: Box<TcpStream>,
    guard: Option<ConnGuard>,
    How {
        tls,
        proto,
        accept_proxy,
        listener,
    }: How,
) {
    let guard = match guard {
        Some(g) => Some(g),
        // Boxed: this rare wait holds a timer, and a task is as large as its largest await,
        // for as long as the connection lives.
        None => Box::pin(ConnGuard::admit(&worker, frontend)).await,
    };
    let Some(_guard) = guard else {
        return;
    };
    let Some(fe) = worker.model.frontend(frontend) else {
        return;
    };
    let mut accept_proxy = accept_proxy;
    if !fe.tcp.connection.is_empty() {
        match connection_rules(&worker, frontend, fe, accepted) {
            Ok((stream, expect_proxy)) => {
                accepted = stream;
                accept_proxy |= expect_proxy;
            }
            Err(()) => return,
        }
    }
    let proxied = if accept_proxy {
        // Boxed, as the handshake below: only such binds pay for this wait's room.
        match Box::pin(proxy_header(
            &worker,
            (frontend, listener),
            fe,
            &mut accepted,
        ))
        .await
        {
            Some(p) => p,
            None => return,
        }
    } else {
        None
    };
    let client = match tls {
        None => Stream::accepted_as(*accepted, proxied),
        // Boxed: the handshake's future is large, and over once the connection is served.
        Some(t) => {
            let limit = fe.timeouts.client;
            match Box::pin(Stream::accepted_tls(*accepted, &t.configs, limit, proxied)).await {
                Ok(s) => {
                    let resumed = s.tls_facts().is_some_and(|f| f.resumed);
                    worker.stats.handshake(frontend, true, resumed);
                    Some(s)
                }
                Err((why, peer)) => {
                    worker.stats.handshake(frontend, false, false);
                    record::handshake_failed(&worker, frontend, t.listener, peer, &why);
                    None
                }
            }
        }
    };
    let Some(client) = client else {
        return;
    };
    match session_rules(&worker, frontend, fe, &client) {
        Verdict::Reject => return,
        Verdict::SilentDrop => return client.silent_drop(),
        Verdict::Accept | Verdict::Wait | Verdict::Close => {}
    }
    by_mode(&worker, frontend, fe, client, proto).await;
}

/// `tcp-request connection` rules, at accept, with the socket's own addresses (before any
/// PROXY header): the connection back with whether `expect-proxy layer4` matched, or `Err`
/// when a rule refused it (closed: `reject` with a reset, as HAProxy; counted in `dcon`).
fn connection_rules(
    w: &Worker,
    frontend: FrontendId,
    fe: &Frontend,
    tcp: Box<TcpStream>,
) -> Result<(Box<TcpStream>, bool), ()> {
    let (Ok(peer), Ok(local)) = (tcp.peer_addr(), tcp.local_addr()) else {
        return Err(());
    };
    let ctx = Ctx::conn(peer, local, &fe.name, None);
    let out = content::run(&fe.tcp.connection, &fe.acls, &ctx);
    match out.verdict {
        Verdict::Accept | Verdict::Wait | Verdict::Close => Ok((tcp, out.expect_proxy)),
        Verdict::Reject => {
            w.stats.conn_denied(frontend, true);
            Stream::from(*tcp).discard();
            Err(())
        }
        Verdict::SilentDrop => {
            w.stats.conn_dropped(frontend);
            Stream::from(*tcp).silent_drop();
            Err(())
        }
    }
}

/// `tcp-request session` rules, after the PROXY header and the TLS handshake (their
/// addresses and TLS facts); a refusal is counted in `dses`.
fn session_rules(w: &Worker, frontend: FrontendId, fe: &Frontend, client: &Stream) -> Verdict {
    if fe.tcp.session.is_empty() {
        return Verdict::Accept;
    }
    let ctx = Ctx::conn(
        client.peer_addr(),
        client.local_addr(),
        &fe.name,
        client.tls_facts(),
    );
    let v = content::run(&fe.tcp.session, &fe.acls, &ctx).verdict;
    match v {
        Verdict::Reject => w.stats.conn_denied(frontend, false),
        Verdict::SilentDrop => w.stats.conn_dropped(frontend),
        Verdict::Accept | Verdict::Wait | Verdict::Close => {}
    }
    v
}

/// Takes the PROXY protocol header off a connection on an `accept-proxy` bind, within
/// `timeout client` as HAProxy bounds its handshakes: `Some(addrs)` to serve it as from
/// those addresses (`Some(None)`: its own, for `LOCAL`/`UNKNOWN`); `None` when the header
/// was missing, malformed or late: the connection is closed without a byte read past it.
async fn proxy_header(
    w: &Worker,
    (frontend, listener): (FrontendId, u32),
    fe: &Frontend,
    s: &mut TcpStream,
) -> Option<Option<proxy_proto::Addrs>> {
    let max = w.model.global.bufsize;
    match proxy_proto::read_header(s, fe.timeouts.client, max).await {
        Ok(proxy_proto::Header::Proxy(a)) => Some(Some(a)),
        Ok(proxy_proto::Header::Local) => Some(None),
        Err(why) => {
            let peer = s
                .peer_addr()
                .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
            record::proxy_header_failed(w, frontend, listener, peer, &why);
            None
        }
    }
}

/// Serves an admitted connection by its frontend's mode: in-process tests enter here with an
/// in-memory stream.
pub async fn serve_stream(worker: Rc<Worker>, frontend: FrontendId, client: Stream) {
    let Some(fe) = worker.model.frontend(frontend) else {
        return;
    };
    by_mode(&worker, frontend, fe, client, None).await;
}

/// Serves an admitted connection as HTTP/2 (in-process tests of a `proto h2` bind).
pub async fn serve_stream_h2(worker: Rc<Worker>, frontend: FrontendId, client: Stream) {
    let Some(fe) = worker.model.frontend(frontend) else {
        return;
    };
    by_mode(&worker, frontend, fe, client, Some(BindProto::H2)).await;
}

/// The connection's future for its frontend's mode, boxed: each mode's future is large, a
/// task is as large as its largest await for as long as the connection lives, and a plain
/// function keeps no room for its arguments beside it (an async fn would: measured 176 bytes
/// more per idle connection).
fn by_mode<'a>(
    worker: &'a Rc<Worker>,
    frontend: FrontendId,
    fe: &'a Frontend,
    client: Stream,
    proto: Option<BindProto>,
) -> Pin<Box<dyn Future<Output = ()> + 'a>> {
    worker.stats.session_started(frontend);
    if let Some(log) = worker.records.log() {
        log.connect(worker, frontend, client.peer_addr(), client.local_addr());
    }
    match fe.mode {
        Mode::Tcp => Box::pin(super::tcp::serve(worker, frontend, client)),
        Mode::Http if speaks_h2(&client, proto) => {
            Box::pin(super::h2::serve(worker, frontend, client))
        }
        Mode::Http => {
            let preface = proto != Some(BindProto::H1);
            Box::pin(super::serve(worker, frontend, fe, client, preface))
        }
    }
}

/// HTTP/2 when the bind says `proto h2`, or when TLS negotiated `h2` by ALPN (and the bind
/// does not force `proto h1`); HTTP/1 otherwise, also when ALPN chose `http/1.1` or nothing.
fn speaks_h2(client: &Stream, proto: Option<BindProto>) -> bool {
    match proto {
        Some(p) => p == BindProto::H2,
        None => client
            .tls_facts()
            .and_then(|f| f.alpn.as_deref())
            .is_some_and(|a| a == b"h2"),
    }
}
