//! The server side of one request: a server slot and connection, the head and the body.

use monoio::net::TcpStream;

use super::{Next, Plan, Session};
use crate::config::model::{Backend, BackendId, HttpReuse, ServerId};
use crate::http::body::{self, BodyError};
use crate::http::BodyKind;
use crate::io::{write_vec, IoFail};
use crate::worker::balance::{PickKey, ServerLease};
use crate::worker::connect::{acquire, Acquired, ConnectError, Reuse};
use crate::worker::pool;

const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A request in flight on one server connection.
pub(super) struct Exchange {
    pub server: TcpStream,
    pub lease: ServerLease,
    /// The request went on a reused connection and had no body: if the server turns out to have
    /// closed that connection, the request may go again on a fresh one (once).
    pub retry_allowed: bool,
    /// The server stopped taking the request body (it may have answered early, e.g. 413):
    /// its response is still forwarded, then both connections close, since the rest of the
    /// client's body is unread.
    pub body_cut: bool,
}

/// Every way of failing to get a server answers 503, as HAProxy does.
pub(super) fn connect_status(_: ConnectError) -> u16 {
    503
}

impl<'a> Session<'a> {
    /// Gets a server connection, then sends the head and streams the request body.
    pub(super) async fn send_request(&mut self, plan: &Plan<'a>) -> Result<Exchange, Next> {
        let acquired = match self.connect(plan.backend, plan.be, plan.key).await {
            Ok(a) => a,
            Err(e) => return Err(self.fail(connect_status(e), plan.route).await),
        };
        let mut ex = Exchange {
            retry_allowed: acquired.reused && plan.body == BodyKind::None,
            server: acquired.stream,
            lease: acquired.lease,
            body_cut: false,
        };
        if plan.send_continue && self.write_client(CONTINUE_100.to_vec()).await.is_err() {
            return Err(Next::Close);
        }
        // The head stays in `self.out` so that it can go again on a fresh connection.
        if self.send_head(&mut ex.server, plan.be).await.is_err() && !ex.retry_allowed {
            return Err(self.fail(502, plan.route).await);
        }
        let status = match self
            .stream_request_body(&mut ex.server, plan, plan.body)
            .await
        {
            Ok(()) => return Ok(ex),
            Err(BodyError::Server) => {
                ex.body_cut = true;
                return Ok(ex);
            }
            Err(BodyError::Client) => return Err(Next::Close),
            Err(BodyError::ClientStalled) => plan.route.stalled_body_status(),
            Err(BodyError::Bad(status)) => status,
            Err(BodyError::ServerTimeout) => 504,
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
        };
        let fresh = match acquire(self.w, plan.backend, plan.key, fresh).await {
            Ok(a) => a,
            Err(e) => return Err(self.fail(connect_status(e), plan.route).await),
        };
        ex.lease = fresh.lease;
        ex.server = fresh.stream;
        self.sbuf.clear();
        if self.send_head(&mut ex.server, plan.be).await.is_err() {
            return Err(self.fail(502, plan.route).await);
        }
        Ok(())
    }

    async fn connect(
        &mut self,
        backend: BackendId,
        be: &Backend,
        key: PickKey,
    ) -> Result<Acquired, ConnectError> {
        let own = match self.own.take() {
            Some((b, s, stream)) if b == backend => Some((s, stream)),
            Some((_, _, stream)) => {
                pool::discard(stream);
                None
            }
            None => None,
        };
        // http-reuse safe: the first request of a client connection never takes an idle
        // server connection (the client could not retry it safely).
        let pool = match be.http_reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => self.served > 0,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        acquire(self.w, backend, key, Reuse { own, pool }).await
    }

    /// Keeps a server connection whose response ended cleanly: in the core's pool, for any
    /// request `http-reuse` lets take it, or with `http-reuse never` for this client connection
    /// only (when it stays open). Called while the request's lease is still held.
    pub(super) fn keep_server(&mut self, plan: &Plan<'a>, server: ServerId, stream: TcpStream) {
        if self.w.is_stopping() {
            return pool::discard(stream);
        }
        if plan.be.http_reuse == HttpReuse::Never {
            if plan.client_keep {
                self.own = Some((plan.backend, server, stream));
            } else {
                pool::discard(stream);
            }
            return;
        }
        let Some(rt) = self.w.backend_rt(plan.backend) else {
            return pool::discard(stream);
        };
        let in_use = rt.balancer.slot(server).map_or(1, |s| s.inflight.get());
        if rt.pool.put(server, stream, in_use) {
            pool::start_purge(self.w);
        }
    }

    async fn send_head(&mut self, server: &mut TcpStream, be: &Backend) -> Result<(), IoFail> {
        let mut out = std::mem::take(&mut self.out);
        let sent = write_vec(server, &mut out, be.timeouts.server).await;
        self.out = out;
        sent
    }

    async fn stream_request_body(
        &mut self,
        server: &mut TcpStream,
        plan: &Plan<'a>,
        kind: BodyKind,
    ) -> Result<(), BodyError> {
        let limits = body::Limits {
            // Once the head went, the body may stall as long as the server may take to answer.
            read: plan.route.stalled_body_limit(),
            write: plan.be.timeouts.server,
            max_trailer: self.limits.max_head,
        };
        body::forward(
            &mut self.client,
            &mut self.cbuf,
            server,
            kind,
            &limits,
            body::Side::Request,
        )
        .await
    }
}
