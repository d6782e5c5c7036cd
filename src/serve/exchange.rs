//! The server side of one request: a server slot and connection, the head and the body
//! (with what the record keeps of it: Tw, Tc, the server, retries, why it failed).

use crate::net::Stream;

use super::downstream::{Downstream, KeptServer};
use super::record::{self, By, Phase, TermState};
use super::{Next, Plan, Session};
use crate::config::model::{Backend, BackendId, HttpReuse, ServerId};
use crate::http::body::{self, BodyError, Cut};
use crate::http::BodyKind;
use crate::io::{write_vec, IoFail};
use crate::worker::balance::{PickKey, ServerLease};
use crate::worker::connect::{acquire_traced, Acquired, ConnectError, ConnectTrace, Origin, Reuse};
use crate::worker::pool;

const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A request in flight on one server connection.
pub(super) struct Exchange {
    pub server: Stream,
    pub lease: ServerLease,
    /// The request went on a reused connection and had no body: if the server turns out to have
    /// closed that connection, the request may go again on a fresh one (once).
    pub retry_allowed: bool,
    /// The server stopped taking the request body (it may have answered early, e.g. 413):
    /// its response is still forwarded, then both connections close, since the rest of the
    /// client's body is unread.
    pub body_cut: bool,
}

/// The server refused or reset while the request head went to it: it never answered.
const HEAD_NOT_SENT: TermState = TermState::new(By::Server, Phase::Headers);

/// Every way of failing to get a server answers 503, as HAProxy does.
pub(super) fn connect_status(_: ConnectError) -> u16 {
    503
}

impl<'a, D: Downstream> Session<'a, D> {
    /// Gets a server connection, then sends the head and streams the request body.
    pub(super) async fn send_request(&mut self, plan: &Plan<'a>) -> Result<Exchange, Next> {
        let acquired = match self.connect(plan).await {
            Ok(a) => a,
            Err(e) => {
                self.rec.end(record::connect_failed(e));
                return Err(self.fail(connect_status(e), plan.route).await);
            }
        };
        let mut ex = Exchange {
            retry_allowed: acquired.reused && plan.body == BodyKind::None,
            server: acquired.stream,
            lease: acquired.lease,
            body_cut: false,
        };
        if plan.send_continue {
            if let Err(e) = self.write_client(CONTINUE_100.to_vec()).await {
                self.rec
                    .end(record::client_write_failed(&e, Phase::Headers));
                return Err(Next::Close);
            }
        }
        // The head stays in `self.out` so that it can go again on a fresh connection.
        if self.send_head(&mut ex.server, plan.be).await.is_err() && !ex.retry_allowed {
            self.rec.end(HEAD_NOT_SENT);
            return Err(self.fail(502, plan.route).await);
        }
        let streamed = self
            .stream_request_body(&mut ex.server, plan, plan.body)
            .await;
        let error = match streamed {
            Ok(()) => return Ok(ex),
            // The server stopped taking the body: its answer, if any, still goes back.
            Err(BodyError::Server) => {
                ex.body_cut = true;
                return Ok(ex);
            }
            Err(e) => e,
        };
        let state = match error {
            BodyError::ClientStalled => record::upload_stalled(plan.be.timeouts.server.is_some()),
            ref e => record::request_body_failed(e),
        };
        self.rec.end(state);
        let status = match error {
            BodyError::Client | BodyError::Server => return Err(Next::Close),
            BodyError::ClientStalled => plan.route.stalled_body_status(),
            BodyError::Bad(status) => status,
            BodyError::ServerTimeout => 504,
        };
        Err(self.fail(status, plan.route).await)
    }

    /// Sends the kept head again on a fresh connection after a reused one failed.
    pub(super) async fn resend_on_fresh(
        &mut self,
        plan: &Plan<'a>,
        ex: &mut Exchange,
    ) -> Result<(), Next> {
        ex.retry_allowed = false;
        let fresh = Reuse {
            own: None,
            pool: false,
            sni: plan.sni.clone(),
            origin: Some(self.origin()),
            server: plan.use_server,
        };
        let fresh = match self.acquire_recorded(plan.backend, plan.key, fresh).await {
            Ok(a) => a,
            Err(e) => {
                self.rec.end(record::connect_failed(e));
                return Err(self.fail(connect_status(e), plan.route).await);
            }
        };
        ex.lease = fresh.lease;
        ex.server = fresh.stream;
        self.sbuf.clear();
        if self.send_head(&mut ex.server, plan.be).await.is_err() {
            self.rec.end(HEAD_NOT_SENT);
            return Err(self.fail(502, plan.route).await);
        }
        Ok(())
    }

    async fn connect(&mut self, plan: &Plan<'a>) -> Result<Acquired, ConnectError> {
        let (backend, be, key) = (plan.backend, plan.be, plan.key);
        let own = match self.conn.take_kept_server() {
            Some(k) if k.backend == backend => Some((k.server, k.stream)),
            Some(k) => {
                k.stream.discard();
                None
            }
            None => None,
        };
        // http-reuse safe: the first request of a client connection never takes an idle
        // server connection (the client could not retry it safely).
        let pool = match be.http_reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => self.conn.served() > 0,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        let sni = plan.sni.clone();
        let origin = Some(self.origin());
        let server = plan.use_server;
        let reuse = Reuse {
            own,
            pool,
            sni,
            origin,
            server,
        };
        self.acquire_recorded(backend, key, reuse).await
    }

    /// The client connection, as a `send-proxy` server is told of it.
    fn origin(&self) -> Origin {
        Origin {
            addrs: Some(crate::net::proxy_proto::Addrs {
                src: self.conn.peer(),
                dst: self.conn.local(),
            }),
            alpn: self.conn.tls().and_then(|f| f.alpn.clone()),
        }
    }

    /// `acquire`, with what it saw written into the record: Tw and Tc's instants, the server
    /// tried, the retries (a resend on a fresh connection adds its own).
    async fn acquire_recorded(
        &mut self,
        backend: BackendId,
        key: PickKey,
        reuse: Reuse,
    ) -> Result<Acquired, ConnectError> {
        let mut trace = ConnectTrace::default();
        self.rec.marks.queued = true;
        let got = acquire_traced(self.w, backend, key, reuse, &mut trace).await;
        if got.as_ref().err() == Some(&ConnectError::QueueTimeout) {
            // Tw is the time spent queued, also when the queue gave up.
            trace.slot = Some(std::time::Instant::now());
        }
        let rec = &mut self.rec;
        rec.marks.slot = trace.slot.or(rec.marks.slot);
        rec.marks.connected = trace.connected.or(rec.marks.connected);
        rec.server = trace.server.or(rec.server);
        if trace.server.is_some() {
            rec.added_server = trace.added_name.take();
        }
        rec.server_addr = trace.addr.or(rec.server_addr);
        rec.retries += trace.retries;
        rec.redispatched |= trace.redispatched;
        if let Some(s) = self.conn.session() {
            s.route(backend, got.as_ref().ok().map(|a| a.lease.server));
        }
        if let Ok(a) = &got {
            self.w
                .stats
                .connection_used(backend, a.lease.server, a.reused);
        }
        got
    }

    /// Keeps a server connection whose response ended cleanly: in the core's pool, for any
    /// request `http-reuse` lets take it, or with `http-reuse never` for this client connection
    /// only (when it stays open). Called while the request's lease is still held.
    pub(super) fn keep_server(&mut self, plan: &Plan<'a>, server: ServerId, stream: Stream) {
        if self.w.is_stopping() {
            return stream.discard();
        }
        // A server sent PROXY headers takes a connection back only for this client (see
        // `acquire`): kept as `http-reuse never` keeps them.
        let sends_proxy = plan
            .be
            .server(server)
            .is_some_and(|s| s.send_proxy.is_some());
        if plan.be.http_reuse == HttpReuse::Never || sends_proxy {
            if plan.client_keep_alive {
                self.conn.keep_server(KeptServer {
                    backend: plan.backend,
                    server,
                    stream,
                });
            } else {
                stream.discard();
            }
            return;
        }
        let Some(rt) = self.w.backend_rt(plan.backend) else {
            return stream.discard();
        };
        let in_use = rt.balancer.slot(server).map_or(1, |s| s.inflight.get());
        if rt.pool.put(server, stream, in_use) {
            pool::start_purge(self.w);
        }
    }

    async fn send_head(&mut self, server: &mut Stream, be: &Backend) -> Result<(), IoFail> {
        let mut out = std::mem::take(&mut self.out);
        let sent = write_vec(server, &mut out, be.timeouts.server).await;
        self.out = out;
        sent
    }

    async fn stream_request_body(
        &mut self,
        server: &mut Stream,
        plan: &Plan<'a>,
        kind: BodyKind,
    ) -> Result<(), BodyError> {
        let limits = body::BodyLimits {
            // Once the head went, the body may stall as long as the server may take to answer.
            read: plan.route.stalled_body_limit(),
            write: plan.be.timeouts.server,
            max_trailer: self.limits.max_head,
        };
        let forwarded = self.conn.body_to(server, kind, &limits).await;
        match forwarded {
            Ok(moved) => {
                self.rec.bytes_in += moved.read;
                Ok(())
            }
            Err(Cut { error, moved }) => {
                self.rec.bytes_in += moved.read;
                Err(error)
            }
        }
    }
}
