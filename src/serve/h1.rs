//! An HTTP/1 client connection: request after request, and what it keeps between them.
//!
//! `H1` is the connection level: the client stream, its read buffer, the requests served, the
//! deadlines, pipelining (the next request's bytes simply wait in the buffer, so requests are
//! answered in order), the server connection kept under `http-reuse never`, and the switch to
//! a tunnel. Each request's life is a `Session` (mod.rs), which reaches the connection only
//! through the `Downstream` interface that `H1` implements (downstream.rs).
//!
//! Thousands of idle keep-alive clients hold nothing but this, so it is kept small: the socket,
//! the (released) read buffer, a few counters, since when it is idle (where the next request's
//! record starts its Ti, record/), and the connection's deadlines on the core's
//! deadline queue (worker/deadline.rs) rather than a monoio timer each. The state of a request
//! (`Session`, with its header lists, outgoing head and server-side buffer) is built when the
//! next request starts and lives in the boxed future of that one request; its lists and
//! buffers come back in `work`, to be reused by the next request while the client is busy.
//!
//! ```text
//!  H1::run:  wait for the first bytes ──> Session::new ──> one request (serve) ──> work ──┐
//!                  ^  (hot: the read buffer and the request state kept for IDLE_SHED,      │
//!                  |   at most MAX_HOT_READS per core; then both are given back)           │
//!                  └───────────────────────────────────────────────────────────────────────┘
//! ```

use std::io::ErrorKind::UnexpectedEof as EOF;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::downstream::{Downstream, HeadFail, KeptServer};
use super::record::{self, Marks, RequestRecord};
use super::route::Route;
use super::{Next, Session, Work, IDLE_SHED, MAX_HOT_READS};
use crate::config::model::{Frontend, FrontendId};
use crate::http::body::{self, BodyLimits, Cut, Direction, Moved};
use crate::http::{parse_request, BodyKind, ChunkedDecoder, HeadLimits, Request};
use crate::io::{timed, write_vec, IoFail, ReadBuf};
use crate::net::Stream;
use crate::tls::facts::ConnFacts;
use crate::worker::deadline::Ended;
use crate::worker::sessions::SessGuard;
use crate::worker::Worker;

pub(super) struct H1<'a> {
    pub w: &'a Rc<Worker>,
    /// `fe`'s index in the model (for the request records).
    pub frontend: FrontendId,
    pub fe: &'a Frontend,
    pub client: Stream,
    pub cbuf: ReadBuf,
    /// `http-reuse never`: the server connection kept for this client connection.
    pub own: Option<Box<KeptServer>>,
    pub served: u32,
    /// When the head of the request being read must be complete (`timeout http-request`),
    /// set while waiting for a new connection's first bytes.
    pub head_deadline: Option<Instant>,
    /// Since when the connection waits for its next request: its accept, or the end of the
    /// previous request (where the next request's `Ti` starts).
    pub idle_since: Instant,
    /// The last request's state while the connection is busy: its lists and buffers keep their
    /// capacity for the next request. Dropped when the connection goes idle for long.
    pub work: Option<Box<Work>>,
    /// A first request that is HTTP/2's connection preface switches to HTTP/2 (the bind does
    /// not say `proto h1`).
    pub h2_preface: bool,
    /// The request in flight (or its tunnel) in the core's live sessions (`show sess`).
    pub sess: Option<SessGuard>,
    /// `sess.*` variables: they last as long as the connection.
    pub sess_vars: crate::rules::Vars,
}

impl<'a> H1<'a> {
    pub fn new(w: &'a Rc<Worker>, frontend: FrontendId, fe: &'a Frontend, client: Stream) -> Self {
        H1 {
            w,
            frontend,
            fe,
            client,
            cbuf: ReadBuf::lazy(w.model.global.bufsize),
            own: None,
            served: 0,
            head_deadline: None,
            idle_since: Instant::now(),
            work: None,
            h2_preface: false,
            sess: None,
            sess_vars: crate::rules::Vars::default(),
        }
    }

    /// Serves request after request until the connection ends. The connection's state is
    /// boxed so that the future holds a pointer to it: moved by value, it would take room in
    /// the future twice (before and after each request).
    pub async fn run(mut self: Box<Self>) {
        loop {
            if self.await_request_start().await.is_err() {
                break;
            }
            if self.served == 0 && self.h2_preface && self.opens_with_h2_preface().await {
                let (w, frontend) = (self.w, self.frontend);
                let early = self.cbuf.bytes().to_vec();
                // Boxed: only such a connection pays for the HTTP/2 connection's future.
                Box::pin(super::h2::serve_after_preface(
                    w,
                    frontend,
                    self.client,
                    early,
                ))
                .await;
                return;
            }
            let (w, fe, frontend) = (self.w, self.fe, self.frontend);
            let work = self.work.take();
            self.sess = Some(w.sessions.open(frontend, self.client.peer_addr()));
            let session = Session::new(w, fe, frontend, &mut *self, work);
            let (next, work, ended) = Box::pin(session.serve()).await;
            self.work = Some(work);
            self.idle_since = ended;
            if !matches!(next, Next::Tunnel { .. }) {
                self.sess = None;
            }
            match next {
                Next::KeepAlive => self.served += 1,
                Next::Close => break,
                Next::Tunnel {
                    server,
                    lease,
                    idle_client,
                    idle_server,
                } => {
                    self.release_own();
                    let sess = self.sess.take();
                    let info = sess.as_ref().map(|g| &*g.info);
                    let relay =
                        super::tcp::relay(self.client, server, idle_client, idle_server, info);
                    // The request's record ended when the tunnel started.
                    let _ = Box::pin(relay).await;
                    drop(lease);
                    return;
                }
            }
        }
        self.sess = None;
        self.release_own();
        self.shed();
        let _ = monoio::io::AsyncWriteRent::shutdown(&mut self.client).await;
    }

    /// Waits, holding no buffer, until the next request's first bytes can be read. A new
    /// connection waits at most `timeout http-request` (then 408, as HAProxy), even when the
    /// worker stops: an accepted connection gets its first request served, as in HAProxy (its
    /// response says `connection: close`); an idle keep-alive one `timeout http-keep-alive`
    /// (then a silent close).
    async fn await_request_start(&mut self) -> Result<(), ()> {
        let route = Route::frontend_only(self.fe);
        let head_limit = route.head_limit();
        if !self.cbuf.is_empty() {
            // Pipelined: the next request is already here.
            self.head_deadline = head_limit.map(|d| Instant::now() + d);
            return Ok(());
        }
        if self.served > 0 {
            return self.wait_idle(route.keep_alive_limit()).await;
        }
        self.head_deadline = head_limit.map(|d| Instant::now() + d);
        if self.client.has_pending_data() {
            return Ok(());
        }
        // A stop does not end this wait (see above).
        let ready = self
            .w
            .deadlines
            .until(self.client.readable(false), self.head_deadline)
            .await;
        match ready {
            Ended::Done(Ok(())) => Ok(()),
            Ended::Done(Err(_)) | Ended::Stopped => Err(()),
            // Boxed, as every wait here that holds a monoio timer: this future is part of
            // every idle connection's state.
            Ended::Deadline => {
                Box::pin(self.answer_timeout()).await;
                Err(())
            }
        }
    }

    /// Waits on an idle keep-alive connection until the next request's first bytes are in
    /// `cbuf` (or are ready to be read). A busy connection keeps its read buffer, with a read
    /// posted, for `IDLE_SHED` at most (when one of the core's `MAX_HOT_READS` is free); after
    /// that, or without one, the buffer and the request state go back to the allocator and
    /// only readiness is awaited, so a long-idle connection costs no buffer memory. `Err` on
    /// `timeout http-keep-alive`, on the client closing, or when the worker stops: at once for
    /// a connection idle for longer than `IDLE_SHED`, at the end of that period for one that
    /// was just active, whose client may be sending its next request already (it is served,
    /// with `connection: close`; closing at once, as HAProxy 2.6 does, would reset it).
    async fn wait_idle(&mut self, limit: Option<Duration>) -> Result<(), ()> {
        let deadline = limit.map(|d| Instant::now() + d);
        let left = || deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let grace_end = Instant::now() + IDLE_SHED;
        // An idle connection reads into a buffer of the normal size, not a body's wide one
        // (left wide by bytes that came after the body: io.rs).
        self.cbuf.narrow();
        let hot = self
            .cbuf
            .is_allocated()
            .then(|| HotRead::take(self.w))
            .flatten();
        if let Some(_hot) = hot {
            let shed_at = Instant::now() + left().map_or(IDLE_SHED, |l| l.min(IDLE_SHED));
            let shed = self.w.deadlines.at(shed_at);
            // Not raced against a stop: this period is the grace a just-active client gets.
            // Boxed: it holds the read buffer's operation, only while the buffer is kept.
            let got = Box::pin(self.cbuf.read_or_shed(&mut self.client, shed)).await;
            match got {
                Ok(Some(0)) | Err(_) => return Err(()),
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
            }
        }
        self.shed();
        if left().is_some_and(|l| l.is_zero()) {
            return Err(());
        }
        // Not relaxed: on the legacy driver a relaxed wait may report the readiness of the
        // bytes read last, and the read that follows would then hold a buffer while idle.
        let grace = || {
            let until = deadline.map_or(grace_end, |d| d.min(grace_end));
            self.w
                .deadlines
                .until(self.client.readable(false), Some(until))
        };
        let ready = if self.w.is_stopping() {
            // A notice that came before this wait never comes again: check, don't wait for it.
            if Instant::now() >= grace_end {
                return Err(());
            }
            grace().await
        } else {
            let stop = self.w.stop.notified();
            let readable = self.client.readable(false);
            match self.w.deadlines.bounded(readable, deadline, stop).await {
                // Stopped during the grace period of a just-active connection: wait it out.
                Ended::Stopped if Instant::now() < grace_end => grace().await,
                other => other,
            }
        };
        match ready {
            Ended::Done(Ok(())) => {
                // Readable: data or the end of the stream. Read it now, without a new shed
                // period; an end of stream closes. Boxed: the read holds a monoio timer.
                match Box::pin(self.cbuf.read_from(&mut self.client, left())).await {
                    Ok(n) if n > 0 => Ok(()),
                    _ => Err(()),
                }
            }
            _ => Err(()),
        }
    }

    /// Whether the connection's first bytes (read now: they are waiting) are HTTP/2's preface.
    /// They stay in `cbuf` for whichever protocol serves them.
    async fn opens_with_h2_preface(&mut self) -> bool {
        if self.cbuf.is_empty() {
            let limit = Route::frontend_only(self.fe).head_limit();
            // Boxed: the read holds a monoio timer (see wait_idle).
            let read = Box::pin(self.cbuf.read_from(&mut self.client, limit)).await;
            if !read.is_ok_and(|n| n > 0) {
                return false;
            }
        }
        is_h2_preface(self.cbuf.bytes())
    }

    /// Gives back what a long-idle connection does not need until its next request: the read
    /// buffer and the last request's state, and tells the core how much was freed (see
    /// worker/memory.rs).
    fn shed(&mut self) {
        let held = self.cbuf.allocated();
        self.cbuf.release();
        let freed = held - self.cbuf.allocated() + self.work.take().map_or(0, |w| w.held());
        if freed > 0 {
            self.w.reclaim.freed(freed);
        }
    }

    /// The 408 of a connection whose first request did not come in time (`errorfile 408`
    /// when configured), with its record (`cR`, no request line).
    async fn answer_timeout(&mut self) {
        let page = Route::frontend_only(self.fe).error_page(408);
        let n = page.len();
        let (r, _) = timed(
            self.fe.timeouts.client,
            monoio::io::AsyncWriteRentExt::write_all(&mut self.client, page),
        )
        .await
        .unwrap_or((Ok(0), Vec::new()));
        let marks = Marks::new(self.idle_since);
        let mut rec = RequestRecord::new(self.frontend, self.client.peer_addr(), marks);
        rec.tls = self.client.tls_facts().is_some();
        rec.local = Some(self.client.local_addr());
        rec.marks.handshake = self.client.handshake_time();
        rec.end(record::head_read_failed(&crate::io::IoFail::Timeout));
        rec.status = Some(408);
        if r.is_ok_and(|w| w == n) {
            rec.bytes_out = n as u64;
        }
        record::end_request(self.w, &mut rec);
    }

    /// Closes the connection kept for this client (`http-reuse never`) when the client leaves.
    fn release_own(&mut self) {
        if let Some(own) = self.own.take() {
            own.stream.discard();
        }
    }
}

impl Downstream for H1<'_> {
    fn start_vars(&self, vars: &mut crate::rules::Vars, proc: &crate::rules::Vars) {
        vars.start(proc, &self.sess_vars);
    }

    fn keep_sess_vars(&mut self, vars: &crate::rules::Vars) {
        vars.sess_into(&mut self.sess_vars);
    }

    fn session(&self) -> Option<Rc<crate::worker::sessions::SessInfo>> {
        self.sess.as_ref().map(|g| Rc::clone(&g.info))
    }

    fn peer(&self) -> SocketAddr {
        self.client.peer_addr()
    }

    fn local(&self) -> SocketAddr {
        self.client.local_addr()
    }

    fn served(&self) -> u32 {
        self.served
    }

    fn idle_since(&self) -> Instant {
        self.idle_since
    }

    fn handshake_time(&self) -> Duration {
        if self.served == 0 {
            self.client.handshake_time()
        } else {
            Duration::ZERO
        }
    }

    fn tls(&self) -> Option<&ConnFacts> {
        self.client.tls_facts()
    }

    /// HAProxy: `timeout http-request` bounds the whole head (from the first wait of a new
    /// connection, or from the first bytes of a later request) and defaults to `timeout client`.
    async fn read_head(&mut self, req: &mut Request, limits: &HeadLimits) -> Result<(), HeadFail> {
        let deadline = self.head_deadline.take().or_else(|| {
            Route::frontend_only(self.fe)
                .head_limit()
                .map(|d| Instant::now() + d)
        });
        loop {
            req.clear();
            match parse_request(self.cbuf.bytes(), limits, req) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(HeadFail::Answer(e.status)),
            }
            if self.cbuf.len() >= limits.max_head || self.cbuf.is_full() {
                return Err(HeadFail::Answer(431));
            }
            let limit = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.cbuf.read_from(&mut self.client, limit).await {
                Ok(0) => return Err(HeadFail::Gone(IoFail::Io(EOF.into()))),
                Ok(_) => {}
                Err(IoFail::Timeout) => return Err(HeadFail::Timeout),
                Err(e) => return Err(HeadFail::Gone(e)),
            }
        }
    }

    fn head_bytes(&self) -> &[u8] {
        self.cbuf.bytes()
    }

    fn consume_head(&mut self, n: usize) {
        self.cbuf.consume(n);
    }

    fn drop_buffered_body(&mut self, req: &Request, max_trailer: usize) -> Option<u64> {
        // With `Expect: 100-continue` the client may wait for a `100 Continue` that will not
        // come before it sends the body: what follows the head is unknown.
        if req.body != BodyKind::None && req.expect_continue {
            return None;
        }
        match req.body {
            BodyKind::None => Some(0),
            BodyKind::Length(n) if n <= self.cbuf.len() as u64 => {
                self.cbuf.consume(n as usize);
                Some(n)
            }
            BodyKind::Length(_) | BodyKind::UntilClose => None,
            BodyKind::Chunked => {
                let mut decoder = ChunkedDecoder::new_with_limit(max_trailer);
                let mut data = Vec::new();
                match decoder.feed(self.cbuf.bytes(), &mut data) {
                    Ok(p) if p.done => {
                        self.cbuf.consume(p.consumed);
                        Some(p.consumed as u64)
                    }
                    _ => None,
                }
            }
        }
    }

    async fn wait_for_body(
        &mut self,
        req: &Request,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<(), HeadFail> {
        while !body_is_buffered(self.cbuf.bytes(), req) {
            if self.cbuf.len() >= max || self.cbuf.is_full() {
                return Ok(());
            }
            let limit = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.cbuf.read_from(&mut self.client, limit).await {
                Ok(0) => return Err(HeadFail::Gone(IoFail::Io(EOF.into()))),
                Ok(_) => {}
                Err(IoFail::Timeout) => return Err(HeadFail::Timeout),
                Err(e) => return Err(HeadFail::Gone(e)),
            }
        }
        Ok(())
    }

    async fn body_to(
        &mut self,
        server: &mut Stream,
        kind: BodyKind,
        limits: &BodyLimits,
    ) -> Result<Moved, Cut> {
        let (client, cbuf) = (&mut self.client, &mut self.cbuf);
        body::forward(client, cbuf, server, kind, limits, Direction::Request).await
    }

    async fn send(&mut self, out: &mut Vec<u8>) -> Result<(), IoFail> {
        write_vec(&mut self.client, out, self.fe.timeouts.client).await
    }

    async fn send_buffered(&mut self, from: &mut ReadBuf, n: usize) -> Result<(), IoFail> {
        from.write_to(&mut self.client, n, self.fe.timeouts.client)
            .await
    }

    async fn body_from(
        &mut self,
        server: &mut Stream,
        sbuf: &mut ReadBuf,
        kind: BodyKind,
        limits: &BodyLimits,
        direction: Direction,
    ) -> Result<Moved, Cut> {
        body::forward(server, sbuf, &mut self.client, kind, limits, direction).await
    }

    async fn send_pending_to(
        &mut self,
        server: &mut Stream,
        limit: Option<Duration>,
    ) -> Result<(), IoFail> {
        let n = self.cbuf.len();
        if n > 0 {
            self.cbuf.write_to(server, n, limit).await?;
        }
        self.cbuf.clear();
        Ok(())
    }

    fn take_kept_server(&mut self) -> Option<KeptServer> {
        self.own.take().map(|k| *k)
    }

    fn keep_server(&mut self, kept: KeptServer) {
        self.own = Some(Box::new(kept));
    }
}

/// HTTP/2's connection preface begins so (RFC 9113 3.4): no HTTP/1 request does.
fn is_h2_preface(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PRI * HTTP/2.0\r\n")
}

/// The right of an idle connection to keep its read buffer (and a read posted with it) for
/// `IDLE_SHED`: a busy keep-alive client then finds its next request read with one operation.
/// At most `MAX_HOT_READS` per core, so that a crowd of clients going idle at once costs no
/// more than that many buffers; the others give theirs back at once and wait for readiness.
struct HotRead<'w>(&'w Worker);

impl<'w> HotRead<'w> {
    fn take(w: &'w Worker) -> Option<Self> {
        let n = w.hot_reads.get();
        (n < MAX_HOT_READS).then(|| {
            w.hot_reads.set(n + 1);
            HotRead(w)
        })
    }
}

impl Drop for HotRead<'_> {
    fn drop(&mut self) {
        self.0
            .hot_reads
            .set(self.0.hot_reads.get().saturating_sub(1));
    }
}

/// The whole body of `req` follows its head in `buf` (a chunked one up to its last chunk and
/// trailers).
fn body_is_buffered(buf: &[u8], req: &Request) -> bool {
    let after = buf.get(req.head_len..).unwrap_or(b"");
    match req.body {
        BodyKind::None => true,
        BodyKind::Length(n) => after.len() as u64 >= n,
        // A request body never runs until the close (RFC 9112 6.3): nothing to wait for.
        BodyKind::UntilClose => true,
        BodyKind::Chunked => {
            let mut decoder = ChunkedDecoder::new();
            let mut data = Vec::new();
            matches!(decoder.feed(after, &mut data), Ok(p) if p.done)
        }
    }
}
