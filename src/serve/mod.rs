//! mode http: one client connection, request after request.
//!
//! Each request goes through the same pipeline, one file per stage; the settings its frontend
//! and backend decide together (connection mode, errorfiles, forwardfor, tarpit, tunnel and
//! body timeouts) are asked of its `route::Route`, never re-derived by a stage:
//!
//! ```text
//!  idle.rs       between requests: the connection's small state (`Idle`), waiting for the
//!                next request's first bytes; `Session::resume` joins it with the request's
//!                state (`Work`), `suspend` parts them again
//!  request.rs    read and check the head -> frontend http-request rules -> use_backend
//!                -> backend http-request rules -> Plan (backend, its Route, server key,
//!                keep-alive) or a rule's own answer -> rewritten head (rule edits) in `out`
//!  exchange.rs   server slot + connection (pooled, kept, or new) -> send head -> stream body
//!                (a stalled body: 504 under `timeout server`); a stale reused connection gets
//!                the request again on a fresh one, unless part of a response (a 1xx) came
//!  response.rs   interim 1xx (a `100 Continue` after ringlb's own dropped) -> final head -> http-response rules (backend, frontend),
//!                http-after-response -> stream body back -> the server connection back to
//!                the core's pool (or, `http-reuse never`, kept for this client) when nothing
//!                followed its response -> who stays open;
//!                101 asked for by an Upgrade, or 2xx to CONNECT -> tunnel (tcp.rs relay);
//!                101 not asked for -> 502
//!  route.rs      the Route: frontend + backend (or the frontend alone before use_backend)
//!                and the precedence rules between their settings
//!  record/       how the request ended (`RequestRecord`: status, bytes, timers, termination
//!                state), filled in by the stages above where each outcome is decided and
//!                consumed once, by `record::end_request` at the end of `serve_one`
//! ```
//!
//! Requests are handled one at a time, so pipelined requests are answered in order: the bytes
//! of the next request simply wait in the client buffer. Any failure answers with an error page
//! (or an `errorfile`) and closes the client connection, since the framing of what follows
//! cannot be trusted.

pub mod accept;
mod exchange;
mod idle;
pub mod record;
mod request;
mod response;
pub mod route;
pub mod tcp;

use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::net::Stream;

use crate::config::model::{Backend, BackendId, Frontend, FrontendId, ServerId};
use crate::http::{BodyKind, HeadLimits, Method, Request, Response, Version};
use crate::io::{timed, IoFail, ReadBuf};
use crate::rules::action::Txn;
use crate::worker::balance::{PickKey, ServerLease};
use crate::worker::Worker;
use idle::Idle;
use record::{Marks, RequestRecord, TermState};
use route::Route;

/// How long an idle keep-alive connection keeps its read buffer before giving it back: long
/// enough that a busy client's next request finds it, short enough that thousands of idle
/// clients cost no buffer memory.
const IDLE_SHED: Duration = Duration::from_secs(1);

/// Idle connections per core that may keep their read buffer for `IDLE_SHED` (16 KiB each
/// with the default `tune.bufsize`): as many as the busy keep-alive clients of a benchmark
/// (64 connections over the cores), far fewer than a crowd. Measured with 5,000 idle clients
/// (scripts/idle-clients.sh): 256 cost ~350 bytes more per idle client than 64, the buffers of
/// a burst fragmenting the heap that small long-lived objects share.
const MAX_HOT_READS: usize = 64;

/// HAProxy keeps this much of each buffer free for header rewrites (`tune.maxrewrite`):
/// a head must fit in `tune.bufsize` minus this.
const MAX_REWRITE: usize = 1024;

/// How one request ended, as far as the client connection is concerned.
enum Next {
    /// Keep the client connection for another request.
    KeepAlive,
    /// Close it (the response said so, framing is in doubt, or we are stopping).
    Close,
    /// `101 Switching Protocols` or a 2xx answer to CONNECT was forwarded: relay raw bytes both
    /// ways until both end. The server's slot stays taken meanwhile (`lease`), as HAProxy counts
    /// a tunnel against the server's `maxconn`.
    Tunnel {
        server: Stream,
        lease: ServerLease,
        idle_client: Option<Duration>,
        idle_server: Option<Duration>,
    },
}

/// Why a request does not go to a server.
enum Early {
    /// No backend for it: 503.
    NoBackend,
    /// A rule answered (deny, return, redirect, auth, tarpit), with the tarpit delay and
    /// whether the client may keep its connection afterwards.
    Answer(crate::rules::reply::Answer, Option<Duration>, bool),
}

/// What was decided about a request once its head was read.
struct Plan<'a> {
    backend: BackendId,
    be: &'a Backend,
    /// The frontend and this backend: the settings they decide together.
    route: Route<'a>,
    key: PickKey,
    /// The client may keep its connection after this request.
    client_keep_alive: bool,
    method: Method,
    version: Version,
    body: BodyKind,
    upgrade: bool,
    /// `Expect: 100-continue` with a body: ringlb answers `100 Continue` itself.
    send_continue: bool,
}

/// One request in flight on a client connection: the connection's part (moved in from `Idle`
/// when the request starts, and back when it ends) and the request's own state (`Work`).
struct Session<'a> {
    w: &'a Rc<Worker>,
    fe: &'a Frontend,
    /// `fe`'s index in the model.
    frontend: FrontendId,
    peer: SocketAddr,
    local: SocketAddr,
    client: Stream,
    cbuf: ReadBuf,
    sbuf: ReadBuf,
    req: Request,
    resp: Response,
    /// The outgoing head being built or sent.
    out: Vec<u8>,
    /// What rules changed and set for the current request (reused, cleared per request).
    txn: Txn,
    limits: HeadLimits,
    /// With `http-reuse never`, the server connection kept from the previous request for this
    /// client connection only: (backend, server, stream). Otherwise connections go to the pool.
    own: Option<(BackendId, ServerId, Stream)>,
    served: u32,
    /// When the head of the request being read must be complete (`timeout http-request`),
    /// set while waiting for a new connection's first bytes.
    head_deadline: Option<Instant>,
    /// How the request in flight is ending (record/).
    rec: RequestRecord,
}

/// The parts of a `Session` that belong to the request rather than to the connection.
struct Work {
    sbuf: ReadBuf,
    req: Request,
    resp: Response,
    out: Vec<u8>,
    txn: Txn,
}

impl Work {
    fn new(bufsize: usize) -> Box<Self> {
        Box::new(Work {
            sbuf: ReadBuf::lazy(bufsize),
            req: Request::new(),
            resp: Response::new(),
            out: Vec::new(),
            txn: Txn::default(),
        })
    }

    /// The buffer memory it holds (for worker/memory.rs).
    fn held(&self) -> usize {
        self.sbuf.allocated() + self.out.capacity()
    }
}

/// Serves one client connection in mode http. Not an `async fn`: the connection's future is
/// `Idle::run`'s alone, with no copy of the arguments beside it (see idle.rs on memory).
pub fn serve<'a>(
    w: &'a Rc<Worker>,
    frontend: FrontendId,
    fe: &'a Frontend,
    client: Stream,
    peer: SocketAddr,
    local: SocketAddr,
) -> impl Future<Output = ()> + 'a {
    Box::new(Idle::new(w, frontend, fe, client, peer, local)).run()
}

/// The status of a response ringlb wrote itself (`HTTP/1.1 NNN ...`), 0 if it has none.
fn status_of(bytes: &[u8]) -> u16 {
    let digits = bytes.get(9..12).unwrap_or(&[]);
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

impl<'a> Session<'a> {
    /// The next request of a connection starts: its state joins the connection's.
    fn resume(idle: Box<Idle<'a>>) -> Self {
        let w = idle.w;
        let global = &w.model.global;
        let work = idle.work.unwrap_or_else(|| Work::new(global.bufsize));
        let Work {
            sbuf,
            req,
            resp,
            out,
            txn,
        } = *work;
        // The request's first bytes are here (or ready to be read).
        let marks = Marks {
            start: Some(Instant::now()),
            ..Marks::new(idle.idle_since)
        };
        Session {
            w,
            fe: idle.fe,
            frontend: idle.frontend,
            rec: RequestRecord::new(idle.frontend, idle.peer, marks),
            peer: idle.peer,
            local: idle.local,
            client: idle.client,
            cbuf: idle.cbuf,
            sbuf,
            req,
            resp,
            out,
            txn,
            limits: HeadLimits {
                max_head: global.bufsize.saturating_sub(MAX_REWRITE).max(1024),
                max_headers: global.maxhdr,
            },
            own: idle.own.map(|o| *o),
            served: idle.served,
            head_deadline: idle.head_deadline,
        }
    }

    /// Serves one request, ends its record, then gives the connection back to wait for the
    /// next. A tunnel's record ends when the tunnel starts: its bytes are not counted.
    async fn serve_one(mut self) -> (Box<Idle<'a>>, Next) {
        let next = self.one_request().await;
        let end = record::end_request(self.w, &mut self.rec);
        (self.suspend(end), next)
    }

    /// `end`: when the request ended, where the next one's idle time starts.
    fn suspend(mut self, end: Instant) -> Box<Idle<'a>> {
        // Only a request in flight needs the server-side buffer.
        self.sbuf.release();
        let work = Box::new(Work {
            sbuf: self.sbuf,
            req: self.req,
            resp: self.resp,
            out: self.out,
            txn: self.txn,
        });
        Box::new(Idle {
            w: self.w,
            frontend: self.frontend,
            fe: self.fe,
            peer: self.peer,
            local: self.local,
            client: self.client,
            cbuf: self.cbuf,
            own: self.own.map(Box::new),
            served: self.served,
            head_deadline: self.head_deadline,
            idle_since: end,
            work: Some(work),
        })
    }

    async fn one_request(&mut self) -> Next {
        if let Err(next) = self.read_request_head().await {
            return next;
        }
        self.rec.marks.head = Some(Instant::now());
        self.rec.bytes_in = self.req.head_len as u64;
        if self.w.records.wants_request_line() {
            self.keep_request_line();
        }
        let plan = match self.plan() {
            Ok(p) => p,
            Err(Early::NoBackend) => {
                // HAProxy 2.6 with no backend for a request: 503, `SC` (no server to connect).
                self.rec
                    .end(TermState::new(record::By::Server, record::Phase::Connect));
                return self.fail(503, self.unrouted()).await;
            }
            Err(Early::Answer(a, tarpit, client_keep_alive)) => {
                return self.answer(a, tarpit, client_keep_alive).await
            }
        };
        self.build_request_head(&plan);
        self.cbuf.consume(self.req.head_len);
        let mut ex = match self.send_request(&plan).await {
            Ok(ex) => ex,
            Err(next) => return next,
        };
        if let Err(next) = self.receive_response_head(&plan, &mut ex).await {
            return next;
        }
        if self.resp.status == 101 {
            // receive_response_head refused a 101 that the request did not ask for.
            return self.upgrade_tunnel(&plan, ex).await;
        }
        if plan.method == Method::Connect && (200..300).contains(&self.resp.status) {
            return self.connect_tunnel(&plan, ex).await;
        }
        self.finish(&plan, ex).await
    }

    /// The route of the request before `use_backend` (or of one that never got a backend).
    fn unrouted(&self) -> Route<'a> {
        Route::frontend_only(self.fe)
    }

    /// Answers with the route's error page (errorfile when configured) and closes: after an
    /// error the framing of what follows on this connection cannot be trusted. The caller has
    /// recorded why (`rec.end`).
    async fn fail(&mut self, status: u16, route: Route<'_>) -> Next {
        let page = route.error_page(status);
        self.rec.status = Some(status);
        let _ = self.write_client(page).await;
        Next::Close
    }

    /// Writes `bytes` to the client, counting them in the record when they went.
    async fn write_client(&mut self, bytes: Vec<u8>) -> Result<(), IoFail> {
        let n = bytes.len();
        let (r, _) = timed(
            self.fe.timeouts.client,
            monoio::io::AsyncWriteRentExt::write_all(&mut self.client, bytes),
        )
        .await?;
        r.map_err(IoFail::Io)?;
        self.rec.bytes_out += n as u64;
        Ok(())
    }

    /// Keeps the request line for the printed record (only with `ringlb -d`).
    #[cold]
    fn keep_request_line(&mut self) {
        let head = self.cbuf.bytes().get(..self.req.head_len).unwrap_or(&[]);
        let line = head
            .split(|&b| b == b'\r' || b == b'\n')
            .next()
            .unwrap_or(&[]);
        self.rec.request_line = Some(String::from_utf8_lossy(line).into_owned());
    }
}
