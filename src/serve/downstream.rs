//! `Downstream`: the client side of one request, as the request pipeline sees it.
//!
//! The pipeline (`Session`: head -> rules -> plan -> server exchange -> response -> record)
//! asks its downstream for a request head and a body source, and gives it a response head and
//! a body sink. It never touches the client connection itself. An HTTP/1 connection (h1.rs)
//! is one downstream, one request at a time; an HTTP/2 stream (h2/stream.rs) is another, many
//! per connection, each driving its own `Session`.
//!
//! Heads travel as HTTP/1.1 bytes (`head_bytes`, parsed by `http::parse_request` into ranges
//! over them): an HTTP/2 stream hands its decoded fields over in that form, so the rules, the
//! rewrites and the server side stay one code path.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::model::{BackendId, ServerId};
use crate::http::body::{BodyLimits, Cut, Direction, Moved};
use crate::http::{BodyKind, HeadLimits, Request};
use crate::io::{IoFail, ReadBuf};
use crate::net::Stream;
use crate::tls::facts::ConnFacts;

/// Why no request head came.
pub(super) enum HeadFail {
    /// Not complete within `timeout http-request` (408).
    Timeout,
    /// The client closed or failed first: nothing is answered.
    Gone(IoFail),
    /// Invalid, or over the size limits: answer this status (400, 414, 431, 501...).
    Answer(u16),
    /// A malformed HTTP/2 request (RFC 9113 8.1.1): its stream was reset, nothing is
    /// answered; logged as HAProxy 2.6 logs it (`PR--`, status 0, `<BADREQ>`).
    Malformed,
}

/// With `http-reuse never`, the server connection one client connection keeps for its next
/// request.
pub(super) struct KeptServer {
    pub backend: BackendId,
    pub server: ServerId,
    pub stream: Stream,
}

// Only ever used with static dispatch inside this crate: no `Send` bound is wanted (each core
// runs its own single-threaded runtime).
#[allow(async_fn_in_trait)]
pub(super) trait Downstream {
    fn peer(&self) -> SocketAddr;
    fn local(&self) -> SocketAddr;
    /// Requests this connection carried before the current one (`http-reuse safe`).
    fn served(&self) -> u32;
    /// Since when the connection waited for this request: the record's `Ti` starts there.
    fn idle_since(&self) -> Instant;
    /// The TLS handshake's duration for the connection's first request, else zero (`Th`).
    fn handshake_time(&self) -> Duration;
    /// What the client connection's TLS handshake settled, if it is TLS.
    fn tls(&self) -> Option<&ConnFacts>;
    /// The request's entry in the core's live sessions (`show sess`), where it notes its
    /// backend and server (HTTP/1 requests and HTTP/2 streams both have one).
    fn session(&self) -> Option<std::rc::Rc<crate::worker::sessions::SessInfo>> {
        None
    }

    /// An HTTP/2 stream (its head was written as HTTP/1.1 for the pipeline; its record's
    /// request line says HTTP/2.0, as HAProxy logs it).
    fn is_h2(&self) -> bool {
        false
    }

    /// Reads until a complete request head is parsed into `req` (ranges over `head_bytes`).
    async fn read_head(&mut self, req: &mut Request, limits: &HeadLimits) -> Result<(), HeadFail>;
    /// The bytes the parsed head points into: the head, then whatever followed it.
    fn head_bytes(&self) -> &[u8];
    /// The head's `n` bytes were used: what follows is the body or the next request.
    fn consume_head(&mut self, n: usize);
    /// Drops the body of a request answered without a server, when the whole of it is here
    /// already. Returns its size, or `None` when it is not (the connection must close then).
    fn drop_buffered_body(&mut self, req: &Request, max_trailer: usize) -> Option<u64>;
    /// `option http-buffer-request`: reads until the whole body follows the head in
    /// `head_bytes`, or they fill `max` bytes (then the rules see what fits), or `deadline`
    /// passes (`HeadFail::Timeout`). HTTP/2 streams do not wait (their body is streamed).
    async fn wait_for_body(
        &mut self,
        _req: &Request,
        _max: usize,
        _deadline: Option<Instant>,
    ) -> Result<(), HeadFail> {
        Ok(())
    }
    /// The request body source: streams it to the server.
    async fn body_to(
        &mut self,
        server: &mut Stream,
        kind: BodyKind,
        limits: &BodyLimits,
    ) -> Result<Moved, Cut>;

    /// Sends response bytes (a head, an answer, an error page); `out` comes back unchanged.
    async fn send(&mut self, out: &mut Vec<u8>) -> Result<(), IoFail>;
    /// Sends the first `n` unread bytes of `from` (the server's buffer) as they are.
    async fn send_buffered(&mut self, from: &mut ReadBuf, n: usize) -> Result<(), IoFail>;
    /// The response body sink: streams the body from the server (`sbuf` holds what was read).
    async fn body_from(
        &mut self,
        server: &mut Stream,
        sbuf: &mut ReadBuf,
        kind: BodyKind,
        limits: &BodyLimits,
        direction: Direction,
    ) -> Result<Moved, Cut>;

    /// Bytes the client sent past its request (a tunnel starts): they go to the server first.
    async fn send_pending_to(
        &mut self,
        server: &mut Stream,
        limit: Option<std::time::Duration>,
    ) -> Result<(), IoFail>;

    /// `http-reuse never`: takes the server connection kept from the previous request.
    fn take_kept_server(&mut self) -> Option<KeptServer>;
    /// `http-reuse never`: keeps a server connection for this client's next request.
    fn keep_server(&mut self, kept: KeptServer);

    /// A new transaction's variables: the process's (`proc`), then the client connection's
    /// `sess.*` ones.
    fn start_vars(&self, vars: &mut crate::rules::Vars, proc: &crate::rules::Vars);
    /// Keeps the transaction's `sess.*` variables on the client connection for its next
    /// request (for HTTP/2, its next streams).
    fn keep_sess_vars(&mut self, vars: &crate::rules::Vars);
}
