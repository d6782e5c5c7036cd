//! `H2Stream`: one HTTP/2 stream as the pipeline's `Downstream` (downstream.rs), one
//! `Session` each, in its own task on the connection's core.
//!
//! The request head is written as HTTP/1.1 bytes (head.rs) and parsed by the same parser as
//! an HTTP/1 request; its body comes from DATA frames and goes to the server in HTTP/1
//! framing (the client's content-length, else chunked, trailers included), each frame's
//! window handed back to the client only once its bytes went to the server, so a slow server
//! slows this stream's client and nothing else. The response goes back through `Reply`.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::RecvStream;

use super::head::Refused;
use super::reply::Reply;
use super::resp::Framing;
use super::Conn;
use crate::http::body::{BodyError, BodyLimits, Cut, Direction, Moved};
use crate::http::{parse_request, BodyKind, HeadLimits, Request};
use crate::io::{timed, write_vec, IoFail, ReadBuf};
use crate::net::Stream;
use crate::serve::downstream::{Downstream, HeadFail, KeptServer};
use crate::tls::facts::ConnFacts;

pub struct H2Stream {
    conn: Rc<Conn>,
    /// The request's head as HTTP/1.1 bytes, or why it is refused.
    head: Result<Vec<u8>, Refused>,
    body: RecvStream,
    reply: Reply,
    /// Streams of the connection before this one.
    served: u32,
    started: Instant,
    /// The stream in the core's live sessions (`show sess`, `shutdown sessions server`).
    pub sess: Option<crate::worker::sessions::SessGuard>,
}

impl H2Stream {
    pub fn new(
        conn: Rc<Conn>,
        req: http::Request<RecvStream>,
        respond: h2::server::SendResponse<Bytes>,
        served: u32,
    ) -> Self {
        let (parts, body) = req.into_parts();
        let mut bytes = Vec::new();
        let head =
            super::head::write_request(&parts, !body.is_end_stream(), &mut bytes).map(|()| bytes);
        let head_request = parts.method == http::Method::HEAD;
        let bufsize = conn.bufsize;
        H2Stream {
            reply: Reply::new(respond, head_request, conn.client_timeout, bufsize),
            conn,
            head,
            body,
            served,
            started: Instant::now(),
            sess: None,
        }
    }

    /// The request body and the response, apart, for the two directions of a tunnel.
    pub(super) fn tunnel_halves(&mut self) -> (&mut RecvStream, &mut Reply) {
        (&mut self.body, &mut self.reply)
    }

    /// A tunnel that failed ends its stream with RST_STREAM(CANCEL).
    pub(super) fn reset_tunnel(&mut self) {
        self.reply.reset(h2::Reason::CANCEL);
    }

    /// The pipeline is done: a response it did not end is reset.
    pub fn finish(&mut self) {
        self.reply.finish();
    }

    /// Moves the request body to the server, as HTTP/1 framing `kind` says.
    async fn forward_body(
        &mut self,
        server: &mut Stream,
        kind: BodyKind,
        lim: &BodyLimits,
        moved: &mut Moved,
    ) -> Result<(), BodyError> {
        let chunked = kind == BodyKind::Chunked;
        let mut out = Vec::new();
        loop {
            let next = timed(lim.read, self.body.data()).await;
            let data = match next {
                Err(_) => return Err(BodyError::ClientStalled),
                Ok(None) => break,
                Ok(Some(Err(_))) => return Err(BodyError::Client),
                Ok(Some(Ok(d))) => d,
            };
            moved.read += data.len() as u64;
            out.clear();
            if chunked && !data.is_empty() {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(&data);
            }
            self.send_to(server, &mut out, lim, moved).await?;
            // The window opens again only now: the bytes are with the server.
            let _ = self.body.flow_control().release_capacity(data.len());
        }
        if chunked {
            out.clear();
            out.extend_from_slice(b"0\r\n");
            let trailers = timed(lim.read, poll_fn(|cx| self.body.poll_trailers(cx))).await;
            match trailers {
                Err(_) => return Err(BodyError::ClientStalled),
                Ok(Err(_)) => return Err(BodyError::Client),
                Ok(Ok(t)) => write_fields(&mut out, t.as_ref()),
            }
            out.extend_from_slice(b"\r\n");
            self.send_to(server, &mut out, lim, moved).await?;
        }
        Ok(())
    }

    async fn send_to(
        &self,
        server: &mut Stream,
        out: &mut Vec<u8>,
        lim: &BodyLimits,
        moved: &mut Moved,
    ) -> Result<(), BodyError> {
        let n = out.len();
        match write_vec(server, out, lim.write).await {
            Ok(()) => {
                moved.written += n as u64;
                Ok(())
            }
            Err(IoFail::Timeout) => Err(BodyError::ServerTimeout),
            Err(IoFail::Io(_)) => Err(BodyError::Server),
        }
    }

    /// Moves the response body from the server, decoded from `kind`, into DATA frames.
    async fn backward_body(
        &mut self,
        server: &mut Stream,
        sbuf: &mut ReadBuf,
        kind: BodyKind,
        lim: &BodyLimits,
        moved: &mut Moved,
    ) -> Result<(), BodyError> {
        self.reply.set_framing(match kind {
            BodyKind::None => Framing::None,
            BodyKind::Length(n) => Framing::Length(n),
            BodyKind::Chunked => Framing::Chunked,
            BodyKind::UntilClose => Framing::UntilClose,
        });
        let sent_before = self.reply.sent;
        loop {
            if !sbuf.is_empty() || kind == BodyKind::None || kind == BodyKind::Length(0) {
                let fed = self.reply.feed(sbuf.bytes()).await;
                moved.written = self.reply.sent - sent_before;
                let fed = fed?;
                sbuf.consume(fed.consumed);
                moved.read += fed.consumed as u64;
                if fed.done {
                    return Ok(());
                }
                if fed.consumed == 0 && sbuf.is_full() {
                    return Err(BodyError::Server);
                }
            }
            match sbuf.read_from(server, lim.read).await {
                Ok(0) if kind == BodyKind::UntilClose => return self.reply.end(),
                Ok(0) => return Err(BodyError::Server),
                Ok(_) => {}
                Err(IoFail::Timeout) => return Err(BodyError::ServerTimeout),
                Err(IoFail::Io(_)) => return Err(BodyError::Server),
            }
        }
    }
}

/// `name: value\r\n` lines of a field map (trailers to an HTTP/1.1 server).
fn write_fields(out: &mut Vec<u8>, fields: Option<&http::HeaderMap>) {
    for (name, value) in fields.into_iter().flatten() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

impl Downstream for H2Stream {
    fn start_vars(&self, vars: &mut crate::rules::Vars, proc: &crate::rules::Vars) {
        vars.start(proc, &self.conn.sess_vars.borrow());
    }

    fn keep_sess_vars(&mut self, vars: &crate::rules::Vars) {
        vars.sess_into(&mut self.conn.sess_vars.borrow_mut());
    }

    fn session(&self) -> Option<Rc<crate::worker::sessions::SessInfo>> {
        self.sess.as_ref().map(|g| Rc::clone(&g.info))
    }

    fn peer(&self) -> SocketAddr {
        self.conn.peer
    }

    fn local(&self) -> SocketAddr {
        self.conn.local
    }

    fn served(&self) -> u32 {
        self.served
    }

    fn idle_since(&self) -> Instant {
        self.started
    }

    fn handshake_time(&self) -> Duration {
        if self.served == 0 {
            self.conn.handshake
        } else {
            Duration::ZERO
        }
    }

    fn tls(&self) -> Option<&ConnFacts> {
        self.conn.tls.as_ref()
    }

    fn is_h2(&self) -> bool {
        true
    }

    async fn read_head(&mut self, req: &mut Request, limits: &HeadLimits) -> Result<(), HeadFail> {
        let Ok(head) = self.head.as_ref() else {
            // RFC 9113 8.1.1: a stream error PROTOCOL_ERROR, no response; the pipeline logs it.
            self.reply.reset(h2::Reason::PROTOCOL_ERROR);
            return Err(HeadFail::Malformed);
        };
        req.clear();
        match parse_request(head, limits, req) {
            Ok(true) => Ok(()),
            // The whole head is here: incomplete means too large for the limits.
            Ok(false) => Err(HeadFail::Answer(431)),
            Err(e) => Err(HeadFail::Answer(e.status)),
        }
    }

    fn head_bytes(&self) -> &[u8] {
        self.head.as_deref().unwrap_or(&[])
    }

    fn consume_head(&mut self, _n: usize) {}

    fn drop_buffered_body(&mut self, req: &Request, _max_trailer: usize) -> Option<u64> {
        // Only a body that ended with the head is known whole; else the stream ends after the
        // answer (the connection and its other streams go on).
        (req.body == BodyKind::None || self.body.is_end_stream()).then_some(0)
    }

    async fn body_to(
        &mut self,
        server: &mut Stream,
        kind: BodyKind,
        limits: &BodyLimits,
    ) -> Result<Moved, Cut> {
        let mut moved = Moved::default();
        if kind == BodyKind::None {
            return Ok(moved);
        }
        match self.forward_body(server, kind, limits, &mut moved).await {
            Ok(()) => Ok(moved),
            Err(error) => Err(Cut { error, moved }),
        }
    }

    async fn send(&mut self, out: &mut Vec<u8>) -> Result<(), IoFail> {
        self.reply.send(out).await.map_err(stream_gone)
    }

    async fn send_buffered(&mut self, from: &mut ReadBuf, n: usize) -> Result<(), IoFail> {
        let bytes = from.bytes().get(..n).unwrap_or(from.bytes());
        self.reply.send(bytes).await.map_err(stream_gone)
    }

    async fn body_from(
        &mut self,
        server: &mut Stream,
        sbuf: &mut ReadBuf,
        kind: BodyKind,
        limits: &BodyLimits,
        _direction: Direction,
    ) -> Result<Moved, Cut> {
        let mut moved = Moved::default();
        match self
            .backward_body(server, sbuf, kind, limits, &mut moved)
            .await
        {
            Ok(()) => Ok(moved),
            Err(error) => Err(Cut { error, moved }),
        }
    }

    /// Nothing is pending: a CONNECT stream's DATA after the head is read by the tunnel
    /// (tunnel.rs), and HTTP/2 cannot ask for an Upgrade.
    async fn send_pending_to(
        &mut self,
        _server: &mut Stream,
        _limit: Option<Duration>,
    ) -> Result<(), IoFail> {
        Ok(())
    }

    fn take_kept_server(&mut self) -> Option<KeptServer> {
        None
    }

    /// `http-reuse never` keeps a server connection per client connection for its next
    /// request; the streams of one HTTP/2 connection run side by side, so each closes its own.
    fn keep_server(&mut self, kept: KeptServer) {
        kept.stream.discard();
    }
}

fn stream_gone(e: BodyError) -> IoFail {
    match e {
        BodyError::ClientStalled => IoFail::Timeout,
        _ => IoFail::Io(std::io::ErrorKind::BrokenPipe.into()),
    }
}
