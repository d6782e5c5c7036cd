//! mode http: one client connection, request after request.
//!
//! For each request: read and check the head (`parse`), choose the backend (`rules`) and a
//! server (`worker::connect`), send the rewritten head (`head`) and stream the body
//! (`body`), read the response head, stream the response back, then decide which side stays
//! open. Requests are handled one at a time, so pipelined requests are answered in order; the
//! bytes of the next request simply wait in the client buffer.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::body::{self, BodyError};
use super::{
    parse_request, parse_response, write_request_head, write_response_head, BodyKind, ConnHeader,
    Limits, Method, Request, RequestRewrite, Response, ResponseRewrite, Version,
};
use crate::config::model::{Backend, Balance, Frontend, HttpConnMode, HttpReuse};
use crate::io::{timed, write_vec, IoFail, ReadBuf};
use crate::rules::{self, Ctx, ReqView};
use crate::worker::balance::{hash_bytes, PickKey};
use crate::worker::connect::{acquire, Acquired, ConnectError, Reuse};
use crate::worker::Worker;

/// HAProxy keeps this much of each buffer free for header rewrites (`tune.maxrewrite`):
/// a head must fit in `tune.bufsize` minus this.
const MAX_REWRITE: usize = 1024;

const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How one request ended, as far as the client connection is concerned.
enum Next {
    /// Keep the client connection for another request.
    KeepAlive,
    /// Close it (the response said so, framing is in doubt, or we are stopping).
    Close,
    /// `101 Switching Protocols` was forwarded: relay raw bytes both ways until both end.
    Tunnel {
        server: TcpStream,
        idle_client: Option<Duration>,
        idle_server: Option<Duration>,
    },
}

struct Session<'a> {
    w: &'a Rc<Worker>,
    fe: &'a Frontend,
    peer: SocketAddr,
    local: SocketAddr,
    client: TcpStream,
    cbuf: ReadBuf,
    sbuf: ReadBuf,
    req: Request,
    resp: Response,
    out: Vec<u8>,
    limits: Limits,
    /// The backend connection kept from the previous request: (backend, server, stream).
    own: Option<(usize, usize, TcpStream)>,
    served: u32,
    /// Whether the response just sent left the client connection open.
    client_keep_after: bool,
}

pub async fn serve(
    w: &Rc<Worker>,
    frontend: usize,
    client: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let Some(fe) = w.model.frontends.get(frontend) else {
        return;
    };
    let bufsize = w.model.global.bufsize;
    let mut s = Session {
        w,
        fe,
        peer,
        local,
        client,
        cbuf: ReadBuf::with_capacity(bufsize),
        sbuf: ReadBuf::with_capacity(bufsize),
        req: Request::new(),
        resp: Response::new(),
        out: Vec::with_capacity(1024),
        limits: Limits {
            max_head: bufsize.saturating_sub(MAX_REWRITE).max(1024),
            max_headers: w.model.global.maxhdr,
        },
        own: None,
        served: 0,
        client_keep_after: false,
    };
    loop {
        match s.one_request().await {
            Next::KeepAlive => s.served += 1,
            Next::Close => break,
            Next::Tunnel {
                server,
                idle_client,
                idle_server,
            } => {
                s.release_own();
                crate::tcp::relay(s.client, server, idle_client, idle_server).await;
                return;
            }
        }
    }
    s.release_own();
    let _ = monoio::io::AsyncWriteRent::shutdown(&mut s.client).await;
}

impl<'a> Session<'a> {
    async fn one_request(&mut self) -> Next {
        if let Err(next) = self.read_request_head().await {
            return next;
        }
        let view_ctx = self.route_ctx();
        let Some(backend) = rules::select_backend(self.fe, &view_ctx) else {
            return self.fail(503, None).await;
        };
        let Some(be) = self.w.model.backends.get(backend) else {
            return self.fail(503, None).await;
        };
        let key = self.pick_key(be);
        let conn_mode = self.fe.conn_mode.max(be.conn_mode);
        let client_keep =
            self.req.keep_alive && conn_mode != HttpConnMode::Close && !self.w.is_stopping();
        let method = self.req.method;
        let req_version = self.req.version;
        let req_body = self.req.body;
        let upgrade = self.req.upgrade;
        let send_continue = self.req.expect_continue && req_body != BodyKind::None;
        self.build_request_head(be, client_keep, conn_mode, send_continue);
        self.cbuf.consume(self.req.head_len);

        let (acquired, lease_server) = match self.connect(backend, be, key).await {
            Ok(a) => a,
            Err(e) => return self.fail(connect_status(e), Some(be)).await,
        };
        let mut server = acquired.stream;
        let reused = acquired.reused;
        let lease = acquired.lease;
        if send_continue && self.write_client(CONTINUE_100.to_vec()).await.is_err() {
            return Next::Close;
        }
        // Send the head; it stays in `self.out` so that a request without a body can go again
        // on a fresh connection if a reused one turns out to be closed by the server.
        let mut retry_allowed = reused && req_body == BodyKind::None;
        if self.send_head(&mut server, be).await.is_err() && !retry_allowed {
            return self.fail(502, Some(be)).await;
        }
        match self.stream_request_body(&mut server, be, req_body).await {
            Ok(()) => {}
            Err(BodyError::Client) => return Next::Close,
            Err(BodyError::Bad(status)) => return self.fail(status, Some(be)).await,
            Err(BodyError::Server) => return self.fail(502, Some(be)).await,
            Err(BodyError::ServerTimeout) => return self.fail(504, Some(be)).await,
        }
        self.sbuf.clear();
        let mut lease = lease;
        let mut server_idx = lease_server;
        loop {
            match self.read_response_head(&mut server, be, method).await {
                Ok(()) => break,
                Err(RespFail::Retryable) if retry_allowed => {
                    // Stale keep-alive connection: one more try on a new one.
                    retry_allowed = false;
                    drop(lease);
                    let fresh = Reuse {
                        own: None,
                        pool: false,
                    };
                    let fresh = match acquire(self.w, backend, key, fresh).await {
                        Ok(a) => a,
                        Err(e) => return self.fail(connect_status(e), Some(be)).await,
                    };
                    server_idx = fresh.lease.server;
                    lease = fresh.lease;
                    server = fresh.stream;
                    self.sbuf.clear();
                    if self.send_head(&mut server, be).await.is_err() {
                        return self.fail(502, Some(be)).await;
                    }
                }
                Err(RespFail::Retryable) | Err(RespFail::Status(502)) => {
                    return self.fail(502, Some(be)).await
                }
                Err(RespFail::Status(s)) => return self.fail(s, Some(be)).await,
                Err(RespFail::ClientGone) => return Next::Close,
            }
        }
        if self.resp.status == 101 && upgrade {
            return self.tunnel(server, be).await;
        }
        let outcome = self
            .forward_response(&mut server, be, client_keep, req_version)
            .await;
        drop(lease);
        match outcome {
            Ok(server_reusable) => {
                if server_reusable && conn_mode == HttpConnMode::KeepAlive {
                    self.own = Some((backend, server_idx, server));
                }
                if self.client_keep_after {
                    Next::KeepAlive
                } else {
                    Next::Close
                }
            }
            Err(()) => Next::Close,
        }
    }
}

/// Why no usable response head came back.
enum RespFail {
    /// The server closed or reset before sending anything: retryable on a fresh connection.
    Retryable,
    /// Answer the client with this status (502 bad response, 504 timeout).
    Status(u16),
    ClientGone,
}

fn connect_status(e: ConnectError) -> u16 {
    match e {
        ConnectError::NoServer | ConnectError::QueueTimeout | ConnectError::Failed => 503,
    }
}

impl<'a> Session<'a> {
    /// Reads until a complete request head is parsed into `self.req`. On failure the client has
    /// been answered (or silently dropped) and the returned `Next` says to close.
    async fn read_request_head(&mut self) -> Result<(), Next> {
        let t = &self.fe.timeouts;
        // HAProxy: `timeout http-request` bounds the whole head and defaults to `timeout client`;
        // between requests, `timeout http-keep-alive` (defaulting to http-request) applies.
        let head_limit = t.http_request.or(t.client);
        let idle_limit = t.http_keep_alive.or(head_limit);
        let mut deadline: Option<Instant> = None;
        loop {
            self.req.clear();
            match parse_request(self.cbuf.bytes(), &self.limits, &mut self.req) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(self.fail(e.status, None).await),
            }
            if self.cbuf.len() >= self.limits.max_head || self.cbuf.is_full() {
                return Err(self.fail(431, None).await);
            }
            let waiting_idle = self.cbuf.is_empty() && self.served > 0;
            if deadline.is_none() && !waiting_idle {
                deadline = head_limit.map(|d| Instant::now() + d);
            }
            let limit = if waiting_idle {
                idle_limit
            } else {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            };
            let read = if waiting_idle {
                // An idle keep-alive connection is closed at once when the worker stops.
                let stop = self.w.stop.notified();
                if self.w.is_stopping() {
                    return Err(Next::Close);
                }
                monoio::select! {
                    r = self.cbuf.read_from(&mut self.client, limit) => r,
                    _ = stop => return Err(Next::Close),
                }
            } else {
                self.cbuf.read_from(&mut self.client, limit).await
            };
            match read {
                Ok(0) => return Err(Next::Close),
                Ok(_) => {}
                Err(IoFail::Timeout) if waiting_idle => return Err(Next::Close),
                Err(IoFail::Timeout) => return Err(self.fail(408, None).await),
                Err(IoFail::Io(_)) => return Err(Next::Close),
            }
        }
    }

    fn route_ctx(&self) -> Ctx<'_> {
        let buf = self.cbuf.bytes();
        Ctx {
            src: self.peer.ip(),
            dst_port: self.local.port(),
            req: Some(ReqView {
                buf,
                method: buf.get(self.req.method_range.clone()).unwrap_or(b""),
                target: buf.get(self.req.target.clone()).unwrap_or(b""),
                headers: &self.req.headers,
            }),
        }
    }

    /// The hash input of the hashing balance algorithms, from the request.
    fn pick_key(&self, be: &Backend) -> PickKey {
        let buf = self.cbuf.bytes();
        let target = buf.get(self.req.target.clone()).unwrap_or(b"");
        let hash = match &be.balance {
            Balance::Source => Some(crate::tcp::hash_ip(self.peer)),
            Balance::Uri { whole: true } => Some(hash_bytes(target)),
            Balance::Uri { whole: false } => Some(hash_bytes(rules::path_of(target))),
            Balance::Hdr(name) => super::header_value(buf, &self.req.headers, name).map(hash_bytes),
            _ => None,
        };
        PickKey { hash }
    }

    fn build_request_head(
        &mut self,
        be: &Backend,
        client_keep: bool,
        mode: HttpConnMode,
        drop_expect: bool,
    ) {
        let ff = be.forwardfor.as_ref().or(self.fe.forwardfor.as_ref());
        let client_ip = self.peer.ip();
        let forwarded_for = ff
            .filter(|f| !f.except.is_some_and(|net| net.contains(client_ip)))
            .map(|f| (f.header.as_str(), client_ip, f.if_none));
        let connection = if self.req.upgrade {
            ConnHeader::Upgrade
        } else if mode == HttpConnMode::KeepAlive
            && (client_keep || be.http_reuse != HttpReuse::Never)
        {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
        let rw = RequestRewrite {
            connection,
            forwarded_for,
            drop_expect,
        };
        self.out.clear();
        write_request_head(&mut self.out, self.cbuf.bytes(), &self.req, &rw);
    }

    async fn connect(
        &mut self,
        backend: usize,
        be: &Backend,
        key: PickKey,
    ) -> Result<(Acquired, usize), ConnectError> {
        let own = match self.own.take() {
            Some((b, s, stream)) if b == backend => Some((s, stream)),
            Some((b, s, stream)) => {
                self.pool_put(b, s, stream);
                None
            }
            None => None,
        };
        // http-reuse safe: the first request of a client connection never takes another
        // connection's idle server connection (the client could not retry it safely).
        let pool = match be.http_reuse {
            HttpReuse::Never => false,
            HttpReuse::Safe => self.served > 0,
            HttpReuse::Aggressive | HttpReuse::Always => true,
        };
        let a = acquire(self.w, backend, key, Reuse { own, pool }).await?;
        let server = a.lease.server;
        Ok((a, server))
    }

    fn pool_put(&self, backend: usize, server: usize, stream: TcpStream) {
        let shareable = self
            .w
            .model
            .backends
            .get(backend)
            .is_some_and(|b| b.http_reuse != HttpReuse::Never);
        if shareable && !self.w.is_stopping() {
            if let Some(rt) = self.w.backends.get(backend) {
                rt.pool.put(server, stream);
            }
        }
    }

    /// Gives the connection kept for this client back to the pool when the client leaves.
    fn release_own(&mut self) {
        if let Some((b, s, stream)) = self.own.take() {
            self.pool_put(b, s, stream);
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
        be: &Backend,
        kind: BodyKind,
    ) -> Result<(), BodyError> {
        let limits = body::Limits {
            read: self.fe.timeouts.client,
            write: be.timeouts.server,
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

    async fn read_response_head(
        &mut self,
        server: &mut TcpStream,
        be: &Backend,
        method: Method,
    ) -> Result<(), RespFail> {
        loop {
            self.resp.clear();
            match parse_response(self.sbuf.bytes(), &self.limits, method, &mut self.resp) {
                Ok(true) => {}
                Ok(false) => {
                    if self.sbuf.len() >= self.limits.max_head || self.sbuf.is_full() {
                        return Err(RespFail::Status(502));
                    }
                    match self.sbuf.read_from(server, be.timeouts.server).await {
                        Ok(0) | Err(IoFail::Io(_)) if self.sbuf.is_empty() => {
                            return Err(RespFail::Retryable)
                        }
                        Ok(0) | Err(IoFail::Io(_)) => return Err(RespFail::Status(502)),
                        Err(IoFail::Timeout) => return Err(RespFail::Status(504)),
                        Ok(_) => {}
                    }
                    continue;
                }
                Err(_) => return Err(RespFail::Status(502)),
            }
            // Interim responses (100, 103, ...) go to the client as they are; the final one follows.
            if (100..200).contains(&self.resp.status) && self.resp.status != 101 {
                let n = self.resp.head_len;
                if self
                    .sbuf
                    .write_to(&mut self.client, n, self.fe.timeouts.client)
                    .await
                    .is_err()
                {
                    return Err(RespFail::ClientGone);
                }
                self.sbuf.consume(n);
                continue;
            }
            return Ok(());
        }
    }

    /// Sends the response head and body. Returns whether the server connection may be reused.
    async fn forward_response(
        &mut self,
        server: &mut TcpStream,
        be: &Backend,
        client_keep: bool,
        client_version: Version,
    ) -> Result<bool, ()> {
        let dechunk = client_version == Version::Http10 && self.resp.body == BodyKind::Chunked;
        let keep_client = client_keep
            && !dechunk
            && self.resp.body != BodyKind::UntilClose
            && !self.w.is_stopping();
        self.client_keep_after = keep_client;
        let connection = if keep_client {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
        let rw = ResponseRewrite {
            connection,
            version: client_version,
            dechunk,
        };
        self.out.clear();
        write_response_head(&mut self.out, self.sbuf.bytes(), &self.resp, &rw);
        self.sbuf.consume(self.resp.head_len);
        let kind = self.resp.body;
        // Small bodies already received ride along with the head in a single write.
        if let BodyKind::Length(n) = kind {
            if (n as usize) <= self.sbuf.len() && !dechunk {
                self.out.extend_from_slice(&self.sbuf.bytes()[..n as usize]);
                self.sbuf.consume(n as usize);
                let mut out = std::mem::take(&mut self.out);
                let r = write_vec(&mut self.client, &mut out, self.fe.timeouts.client).await;
                self.out = out;
                return r
                    .map(|_| self.resp.keep_alive && self.sbuf.is_empty())
                    .map_err(|_| ());
            }
        }
        let mut out = std::mem::take(&mut self.out);
        let r = write_vec(&mut self.client, &mut out, self.fe.timeouts.client).await;
        self.out = out;
        r.map_err(|_| ())?;
        let limits = body::Limits {
            read: be.timeouts.server,
            write: self.fe.timeouts.client,
            max_trailer: self.limits.max_head,
        };
        let side = if dechunk {
            body::Side::ResponseDechunk
        } else {
            body::Side::Response
        };
        match body::forward(
            server,
            &mut self.sbuf,
            &mut self.client,
            kind,
            &limits,
            side,
        )
        .await
        {
            Ok(()) => {
                Ok(self.resp.keep_alive && kind != BodyKind::UntilClose && self.sbuf.is_empty())
            }
            Err(_) => Err(()),
        }
    }

    /// After `101 Switching Protocols`: forward the head and whatever either side already sent,
    /// then let `serve` turn the connection into a byte tunnel.
    async fn tunnel(&mut self, mut server: TcpStream, be: &Backend) -> Next {
        let n = self.resp.head_len;
        if self
            .sbuf
            .write_to(&mut self.client, n, self.fe.timeouts.client)
            .await
            .is_err()
        {
            return Next::Close;
        }
        self.sbuf.consume(n);
        let pending_down = self.sbuf.len();
        if pending_down > 0
            && self
                .sbuf
                .write_to(&mut self.client, pending_down, self.fe.timeouts.client)
                .await
                .is_err()
        {
            return Next::Close;
        }
        let pending_up = self.cbuf.len();
        if pending_up > 0
            && self
                .cbuf
                .write_to(&mut server, pending_up, be.timeouts.server)
                .await
                .is_err()
        {
            return Next::Close;
        }
        Next::Tunnel {
            server,
            idle_client: be.timeouts.tunnel.or(self.fe.timeouts.client),
            idle_server: be.timeouts.tunnel.or(be.timeouts.server),
        }
    }

    /// Answers with an error page (errorfile when configured) and closes: after an error the
    /// framing of what follows on this connection cannot be trusted.
    async fn fail(&mut self, status: u16, be: Option<&Backend>) -> Next {
        let custom = be
            .and_then(|b| b.errorfiles.get(&status))
            .or_else(|| self.fe.errorfiles.get(&status));
        let page: Vec<u8> = match custom {
            Some(bytes) => bytes.to_vec(),
            None => super::error_response(status).to_vec(),
        };
        let _ = timed(
            self.fe.timeouts.client,
            monoio::io::AsyncWriteRentExt::write_all(&mut self.client, page),
        )
        .await;
        Next::Close
    }

    async fn write_client(&mut self, bytes: Vec<u8>) -> Result<(), IoFail> {
        let (r, _) = timed(
            self.fe.timeouts.client,
            monoio::io::AsyncWriteRentExt::write_all(&mut self.client, bytes),
        )
        .await?;
        r.map(|_| ()).map_err(IoFail::Io)
    }
}
