//! Serving client connections: the connection level (accept, HTTP/1, the tcp relay) and the
//! request level (one `Session` per request, whatever connection carries it).
//!
//! ```text
//!  accept.rs      a client connection counted against maxconn, `tcp-request connection`
//!                 rules, its PROXY header (`accept-proxy`), TLS, `tcp-request session`
//!                 rules, then handed to its mode (tcp, HTTP/1, or HTTP/2 by ALPN or `proto h2`)
//!  tcp.rs         mode tcp: content rules (inspect.rs holds the first bytes), pick a server,
//!                 forward what was held, response rules, relay both ways (also an HTTP
//!                 tunnel's relay)
//!  h1.rs          connection level, HTTP/1: the client stream, read buffer, requests served,
//!                 deadlines, pipelining, idle waits (`H1`); one `Session` per request
//!  h2/            connection level, HTTP/2 (by ALPN h2, or a `proto h2` bind): the h2 crate
//!                 over a poll adapter of the client stream, GOAWAY on idle/stop/flood, one
//!                 task and one `Session` per stream (h2/mod.rs has its own map)
//!  downstream.rs  the interface between the levels (`Downstream`): a request head and a
//!                 body source in, a response head and a body sink out. `H1` implements it,
//!                 and so does an HTTP/2 stream (`H2Stream`); TLS sits below both (a
//!                 `net::Stream` variant)
//!
//!  request level (`Session`, this file), one file per stage; the settings a frontend and its
//!  backend decide together (connection mode, errorfiles, forwardfor, tarpit, tunnel and body
//!  timeouts) are asked of the request's `route::Route`, never re-derived by a stage:
//!  request.rs     read and check the head -> frontend http-request rules -> use_backend
//!                 -> backend http-request rules -> Plan (backend, its Route, server key,
//!                 keep-alive) or a rule's own answer -> rewritten head (rule edits) in `out`
//!  exchange.rs    server slot + connection (pooled, kept, or new) -> send head -> stream body
//!                 (a stalled body: 504 under `timeout server`); a stale reused connection gets
//!                 the request again on a fresh one, unless part of a response (a 1xx) came
//!  response.rs    interim 1xx (a `100 Continue` after ringlb's own dropped) -> final head
//!                 -> http-response rules (backend, frontend), http-after-response -> stream
//!                 body back -> the server connection back to the core's pool (or, `http-reuse
//!                 never`, kept for this client) when nothing followed its response -> who
//!                 stays open; 101 asked for by an Upgrade, or 2xx to CONNECT -> tunnel (the
//!                 connection level relays it); 101 not asked for -> 502
//!  route.rs       the Route: frontend + backend (or the frontend alone before use_backend)
//!                 and the precedence rules between their settings
//!  record/        how the request ended (`RequestRecord`: status, bytes, timers, termination
//!                 state), filled in by the stages above where each outcome is decided and
//!                 consumed once, by `record::end_request` at the end of `Session::serve`:
//!                 where logs, counters and histograms attach (a `record::Sink`)
//! ```
//!
//! Any failure answers with an error page (or an `errorfile`) and closes the client
//! connection, since the framing of what follows cannot be trusted.

pub mod accept;
mod downstream;
mod exchange;
mod h1;
mod h2;
mod inspect;
mod intercept;
pub mod record;
mod request;
mod response;
pub mod route;
pub mod tcp;

use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::net::Stream;

use crate::config::model::{Backend, BackendId, Frontend, FrontendId};
use crate::http::{BodyKind, HeadLimits, Method, Request, Response, Version};
use crate::io::{IoFail, ReadBuf};
use crate::rules::action::Txn;
use crate::worker::balance::{PickKey, ServerLease};
use crate::worker::Worker;
use downstream::Downstream;
use h1::H1;
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
    /// ringlb answers itself (stats page, monitor-uri, a service), and whether the client may
    /// keep its connection afterwards.
    Intercept(crate::stats::service::Intercept, bool),
    /// A `tcp-request content reject` rule refused it: the connection closes, unanswered.
    Refused,
}

/// What was decided about a request once its head was read.
struct Plan<'a> {
    backend: BackendId,
    be: &'a Backend,
    /// The frontend and this backend: the settings they decide together.
    route: Route<'a>,
    key: PickKey,
    /// The server a `use-server` rule chose, if any.
    use_server: Option<crate::config::model::ServerId>,
    /// The client may keep its connection after this request.
    client_keep_alive: bool,
    method: Method,
    version: Version,
    body: BodyKind,
    upgrade: bool,
    /// `Expect: 100-continue` with a body: ringlb answers `100 Continue` itself.
    send_continue: bool,
    /// The values of the backend's request `sni` expressions (worker::connect::Reuse::sni).
    sni: Vec<Option<String>>,
}

/// One request's life, from its head to its record: the request level. It reaches the client
/// only through its `Downstream` (an HTTP/1 connection, or an HTTP/2 stream).
struct Session<'a, D: Downstream> {
    w: &'a Rc<Worker>,
    fe: &'a Frontend,
    conn: &'a mut D,
    sbuf: ReadBuf,
    req: Request,
    resp: Response,
    /// The outgoing head being built or sent.
    out: Vec<u8>,
    /// What rules changed and set for the current request (reused, cleared per request).
    txn: Txn,
    limits: HeadLimits,
    /// How the request in flight is ending (record/).
    rec: RequestRecord,
}

/// A `Session`'s lists and buffers, kept by the connection between requests so that a busy
/// client's next request reuses their capacity.
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
/// `H1::run`'s alone, with no copy of the arguments beside it (see h1.rs on memory).
/// `h2_preface`: a connection that opens with HTTP/2's preface is served as HTTP/2 (HAProxy
/// does so on an HTTP bind unless it says `proto h1`).
pub fn serve<'a>(
    w: &'a Rc<Worker>,
    frontend: FrontendId,
    fe: &'a Frontend,
    client: Stream,
    h2_preface: bool,
) -> impl Future<Output = ()> + 'a {
    let mut h1 = Box::new(H1::new(w, frontend, fe, client));
    h1.h2_preface = h2_preface;
    h1.run()
}

/// The status of a response ringlb wrote itself (`HTTP/1.1 NNN ...`), 0 if it has none.
fn status_of(bytes: &[u8]) -> u16 {
    let digits = bytes.get(9..12).unwrap_or(&[]);
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

impl<'a, D: Downstream> Session<'a, D> {
    /// A request starts on `conn`, with the lists and buffers of the previous one if kept.
    fn new(
        w: &'a Rc<Worker>,
        fe: &'a Frontend,
        frontend: FrontendId,
        conn: &'a mut D,
        work: Option<Box<Work>>,
    ) -> Self {
        let global = &w.model.global;
        let work = work.unwrap_or_else(|| Work::new(global.bufsize));
        let Work {
            sbuf,
            req,
            resp,
            out,
            mut txn,
        } = *work;
        // A request that ends before its rules start leaves the connection's `sess.*`
        // variables as they are (`serve` keeps what `txn.vars` holds then).
        txn.vars.clear();
        // The request's first bytes are here (or ready to be read).
        let marks = Marks {
            start: Some(Instant::now()),
            handshake: conn.handshake_time(),
            ..Marks::new(conn.idle_since())
        };
        let captures = &fe.log.captures;
        let rec = RequestRecord {
            tls: conn.tls().is_some(),
            local: Some(conn.local()),
            captures: (!captures.is_empty() && w.records.log().is_some())
                .then(|| Box::new(record::CaptureValues::new(captures))),
            ..RequestRecord::new(frontend, conn.peer(), marks)
        };
        Session {
            w,
            fe,
            rec,
            conn,
            sbuf,
            req,
            resp,
            out,
            txn,
            limits: HeadLimits {
                // HAProxy keeps `tune.maxrewrite` of each buffer free for header rewrites.
                max_head: global
                    .bufsize
                    .saturating_sub(global.rewrite_reserve)
                    .max(1024),
                max_headers: global.maxhdr,
            },
        }
    }

    /// Serves the request and ends its record. Returns what the connection does next, the
    /// request's lists and buffers for the next one, and when the request ended (the next
    /// one's idle time starts there). A tunnel's record ends when the tunnel starts: its bytes
    /// are not counted.
    async fn serve(mut self) -> (Next, Box<Work>, Instant) {
        let next = match self.conn.session() {
            Some(sess) => self.killable(&sess).await,
            None => self.one_request().await,
        };
        let ended = record::end_request(self.w, &mut self.rec);
        self.conn.keep_sess_vars(&self.txn.vars);
        // Only a request in flight needs the server-side buffer.
        self.sbuf.release();
        let work = Box::new(Work {
            sbuf: self.sbuf,
            req: self.req,
            resp: self.resp,
            out: self.out,
            txn: self.txn,
        });
        (next, work, ended)
    }

    /// The request, unless `shutdown sessions server` ends it first: then it is dropped
    /// where it was (its server connection closes with it), its record says `K` (killed by
    /// an admin) and the client connection closes (an HTTP/2 stream is reset).
    async fn killable(&mut self, sess: &crate::worker::sessions::SessInfo) -> Next {
        let served = monoio::select! {
            next = self.one_request() => Some(next),
            _ = sess.killed() => None,
        };
        served.unwrap_or_else(|| {
            let phase = match self.rec.marks.response {
                Some(_) => record::Phase::Data,
                None => record::Phase::Headers,
            };
            self.rec.end(TermState::new(record::By::Killed, phase));
            Next::Close
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
        if let Some(c) = self.rec.captures.as_deref_mut() {
            c.headers(
                &self.fe.log.captures,
                true,
                self.conn.head_bytes(),
                &self.req.headers,
            );
        }
        if self.is_monitor_request() {
            let keep_alive = self
                .unrouted()
                .client_keep_alive(self.req.keep_alive, self.w.is_stopping());
            return self
                .intercept(crate::stats::service::Intercept::Monitor, keep_alive)
                .await;
        }
        if self.fe.buffer_request {
            if let Err(next) = self.buffer_request_body().await {
                return next;
            }
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
            Err(Early::Intercept(what, client_keep_alive)) => {
                return self.intercept(what, client_keep_alive).await
            }
            Err(Early::Refused) => {
                // HAProxy 2.6: no answer, `PR`, a denied request not counted as a request.
                self.rec
                    .end(TermState::new(record::By::Proxy, record::Phase::Request));
                self.rec.tcp_refused = true;
                return Next::Close;
            }
        };
        self.build_request_head(&plan);
        self.conn.consume_head(self.req.head_len);
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
    async fn write_client(&mut self, mut bytes: Vec<u8>) -> Result<(), IoFail> {
        self.conn.send(&mut bytes).await?;
        self.rec.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// Keeps the request line for the printed record (only with `ringlb -d`).
    #[cold]
    fn keep_request_line(&mut self) {
        let head = self
            .conn
            .head_bytes()
            .get(..self.req.head_len)
            .unwrap_or(&[]);
        let line = head
            .split(|&b| b == b'\r' || b == b'\n')
            .next()
            .unwrap_or(&[]);
        let mut line = String::from_utf8_lossy(line).into_owned();
        if self.conn.is_h2() {
            if let Some(start) = line.strip_suffix(" HTTP/1.1").map(str::len) {
                line.truncate(start);
                line.push_str(" HTTP/2.0");
            }
        }
        self.rec.request_line = Some(line);
    }
}
