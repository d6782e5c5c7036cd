//! One client connection of the backend: read, answer every complete request in order, and
//! write all answers produced by one read with one write (pipelining batches for free).
//!
//! Buffers are per connection and reused for its whole life; only oversized bodies grow them,
//! and they shrink back afterwards.

use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::http::{self, Body, Parse, Reject, Request, Route};
use super::Opts;

/// Initial read buffer: many pipelined small requests fit in one read.
const READ_BUF: usize = 16 * 1024;
/// Initial write buffer.
const WRITE_BUF: usize = 16 * 1024;
/// Buffers that grew beyond this (big bodies) are replaced by fresh small ones when empty.
const KEEP_CAPACITY: usize = 256 * 1024;
/// The read buffer never grows beyond this: head + body + chunk framing of the largest request.
const MAX_READ_BUF: usize = http::MAX_HEAD + 2 * http::MAX_BODY;
/// Pending answers are written once they exceed this, even mid-batch.
const FLUSH_AT: usize = 64 * 1024;
/// `/size/N` bodies come from this static buffer, written in slices of at most its size.
static FILL: [u8; 64 * 1024] = [b'x'; 64 * 1024];
/// `/chunked/N` bodies go out in chunks of this size (the last one smaller).
const CHUNK: usize = 16 * 1024;
/// Longest `/delay/MS` honoured.
const MAX_DELAY_MS: u64 = 60_000;

/// Per-thread state shared by the connections of one worker.
pub struct Ctx {
    name_body: Vec<u8>,
    /// The whole answer to the common case (`GET /` keep-alive), built once.
    name_response: Vec<u8>,
    fail_rate: f64,
    always_close: bool,
    /// `--delay`: every answer waits this long.
    delay: Option<Duration>,
    rng: Cell<u64>,
}

impl Ctx {
    pub fn new(opts: &Opts) -> Ctx {
        let name_body = format!("{}\n", opts.name).into_bytes();
        let mut name_response = Vec::new();
        write_head(
            &mut name_response,
            opts.name.as_bytes(),
            Status::Ok,
            name_body.len(),
            Conn::KeepAlive,
        );
        name_response.extend_from_slice(&name_body);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        Ctx {
            name_body,
            name_response,
            fail_rate: opts.fail_rate,
            always_close: opts.close,
            delay: (opts.delay_ms > 0).then(|| Duration::from_millis(opts.delay_ms)),
            rng: Cell::new(seed | 1),
        }
    }

    fn name(&self) -> &[u8] {
        &self.name_body[..self.name_body.len() - 1]
    }

    /// xorshift64*: cheap, good enough to pick which requests fail.
    fn should_fail(&self) -> bool {
        if self.fail_rate <= 0.0 {
            return false;
        }
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        let r = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        r < self.fail_rate
    }
}

#[derive(Clone, Copy)]
enum Status {
    Ok,
    BadRequest,
    ContentTooLarge,
    HeadersTooLarge,
    NotImplemented,
    Unavailable,
}

impl Status {
    fn line(self) -> &'static [u8] {
        match self {
            Status::Ok => b"200 OK\r\n",
            Status::BadRequest => b"400 Bad Request\r\n",
            Status::ContentTooLarge => b"413 Content Too Large\r\n",
            Status::HeadersTooLarge => b"431 Request Header Fields Too Large\r\n",
            Status::NotImplemented => b"501 Not Implemented\r\n",
            Status::Unavailable => b"503 Service Unavailable\r\n",
        }
    }
}

/// What the answer says about the connection.
#[derive(Clone, Copy, PartialEq)]
enum Conn {
    /// HTTP/1.1 default: nothing to say.
    KeepAlive,
    /// HTTP/1.0 keep-alive must be confirmed.
    KeepAlive10,
    Close,
}

fn write_head(w: &mut Vec<u8>, name: &[u8], status: Status, len: usize, conn: Conn) {
    write_head_framed(w, name, status, &format!("content-length: {len}"), conn);
}

/// A head whose framing line is `framing` (`content-length: N` or `transfer-encoding: chunked`).
fn write_head_framed(w: &mut Vec<u8>, name: &[u8], status: Status, framing: &str, conn: Conn) {
    w.extend_from_slice(b"HTTP/1.1 ");
    w.extend_from_slice(status.line());
    let _ = write!(w, "{framing}\r\nx-server: ");
    w.extend_from_slice(name);
    w.extend_from_slice(match conn {
        Conn::KeepAlive => b"\r\n\r\n".as_slice(),
        Conn::KeepAlive10 => b"\r\nconnection: keep-alive\r\n\r\n",
        Conn::Close => b"\r\nconnection: close\r\n\r\n",
    });
}

pub async fn serve(mut stream: TcpStream, ctx: std::rc::Rc<Ctx>) {
    let mut conn = Connection {
        rbuf: Vec::with_capacity(READ_BUF),
        start: 0,
        wbuf: Vec::with_capacity(WRITE_BUF),
        scratch: Vec::new(),
    };
    // Errors end the connection; there is nobody to report them to.
    let _ = conn.run(&mut stream, &ctx).await;
}

struct Connection {
    /// Received bytes; the unanswered ones are `rbuf[start..]`.
    rbuf: Vec<u8>,
    start: usize,
    /// Answers not yet written.
    wbuf: Vec<u8>,
    /// Decoded chunked request body.
    scratch: Vec<u8>,
}

/// Whether to go on reading after answering.
#[derive(PartialEq)]
enum Next {
    Continue,
    Close,
}

impl Connection {
    async fn run(&mut self, stream: &mut TcpStream, ctx: &Ctx) -> std::io::Result<()> {
        loop {
            if self.answer_buffered(stream, ctx).await? == Next::Close {
                return flush(stream, &mut self.wbuf).await;
            }
            flush(stream, &mut self.wbuf).await?;
            if !self.make_room() {
                self.reject(ctx, Reject::ContentTooLarge);
                return flush(stream, &mut self.wbuf).await;
            }
            let len = self.rbuf.len();
            let buf = std::mem::take(&mut self.rbuf).slice_mut(len..);
            let (res, buf) = stream.read(buf).await;
            self.rbuf = buf.into_inner();
            if res? == 0 {
                return Ok(());
            }
        }
    }

    /// Answers every complete request in the buffer, in order.
    async fn answer_buffered(
        &mut self,
        stream: &mut TcpStream,
        ctx: &Ctx,
    ) -> std::io::Result<Next> {
        while self.start < self.rbuf.len() {
            let req = match http::parse(&self.rbuf[self.start..], &mut self.scratch) {
                Parse::Partial => break,
                Parse::Complete(req) => req,
                Parse::Error(reject) => {
                    self.reject(ctx, reject);
                    return Ok(Next::Close);
                }
            };
            let next = self.answer(stream, ctx, &req).await?;
            self.start += req.consumed;
            if next == Next::Close {
                return Ok(Next::Close);
            }
            if self.wbuf.len() >= FLUSH_AT {
                flush(stream, &mut self.wbuf).await?;
            }
        }
        Ok(Next::Continue)
    }

    /// Moves unanswered bytes to the front and makes sure the buffer has spare room.
    /// Returns false when the request in progress is too large to ever fit.
    fn make_room(&mut self) -> bool {
        if self.start == self.rbuf.len() {
            self.rbuf.clear();
            self.start = 0;
            if self.rbuf.capacity() > KEEP_CAPACITY {
                self.rbuf = Vec::with_capacity(READ_BUF);
            }
        } else if self.start > 0 {
            self.rbuf.copy_within(self.start.., 0);
            self.rbuf.truncate(self.rbuf.len() - self.start);
            self.start = 0;
        }
        if self.rbuf.len() == self.rbuf.capacity() {
            if self.rbuf.len() >= MAX_READ_BUF {
                return false;
            }
            self.rbuf
                .reserve(self.rbuf.len().min(MAX_READ_BUF - self.rbuf.len()));
        }
        true
    }

    fn reject(&mut self, ctx: &Ctx, reject: Reject) {
        let (status, body): (_, &[u8]) = match reject {
            Reject::BadRequest => (Status::BadRequest, b"bad request\n"),
            Reject::ContentTooLarge => (Status::ContentTooLarge, b"content too large\n"),
            Reject::HeadersTooLarge => (Status::HeadersTooLarge, b"header fields too large\n"),
            Reject::NotImplemented => (
                Status::NotImplemented,
                b"transfer-encoding not implemented\n",
            ),
        };
        write_head(&mut self.wbuf, ctx.name(), status, body.len(), Conn::Close);
        self.wbuf.extend_from_slice(body);
    }

    async fn answer(
        &mut self,
        stream: &mut TcpStream,
        ctx: &Ctx,
        req: &Request,
    ) -> std::io::Result<Next> {
        let keep = req.keep_alive && !ctx.always_close;
        let conn = match (keep, req.http10) {
            (false, _) => Conn::Close,
            (true, true) => Conn::KeepAlive10,
            (true, false) => Conn::KeepAlive,
        };
        let next = if keep { Next::Continue } else { Next::Close };
        if let Some(delay) = ctx.delay {
            // Earlier pipelined answers should not wait for this one.
            flush(stream, &mut self.wbuf).await?;
            monoio::time::sleep(delay).await;
        }
        if ctx.should_fail() {
            self.small(ctx, req, Status::Unavailable, b"injected failure\n", conn);
            return Ok(next);
        }
        match req.route {
            Route::Name if conn == Conn::KeepAlive && !req.head_only => {
                self.wbuf.extend_from_slice(&ctx.name_response)
            }
            Route::Name => self.small(ctx, req, Status::Ok, &ctx.name_body, conn),
            Route::Status => self.small(ctx, req, Status::Ok, b"OK\n", conn),
            Route::Delay(ms) => {
                // Earlier pipelined answers should not wait for this one.
                flush(stream, &mut self.wbuf).await?;
                let ms = ms.min(MAX_DELAY_MS);
                monoio::time::sleep(Duration::from_millis(ms)).await;
                self.small(ctx, req, Status::Ok, &ctx.name_body, conn);
            }
            Route::Echo => self.echo(ctx, req, conn),
            Route::Size(n) => self.sized(stream, ctx, req, n, conn).await?,
            // An HTTP/1.0 client cannot read chunked framing.
            Route::Chunked { len, .. } if req.http10 => {
                self.sized(stream, ctx, req, len, conn).await?
            }
            Route::Chunked { len, padded } => {
                self.chunked(stream, ctx, req, len, padded, conn).await?
            }
        }
        Ok(next)
    }

    fn small(&mut self, ctx: &Ctx, req: &Request, status: Status, body: &[u8], conn: Conn) {
        write_head(&mut self.wbuf, ctx.name(), status, body.len(), conn);
        if !req.head_only {
            self.wbuf.extend_from_slice(body);
        }
    }

    fn echo(&mut self, ctx: &Ctx, req: &Request, conn: Conn) {
        let body = match req.body {
            Body::None => &[][..],
            Body::Range(a, b) => &self.rbuf[self.start + a..self.start + b],
            Body::Decoded => &self.scratch[..],
        };
        write_head(&mut self.wbuf, ctx.name(), Status::Ok, body.len(), conn);
        if !req.head_only {
            self.wbuf.extend_from_slice(body);
        }
    }

    /// `/size/N`: small bodies go out with the head in one write; big ones in slices of FILL.
    async fn sized(
        &mut self,
        stream: &mut TcpStream,
        ctx: &Ctx,
        req: &Request,
        n: usize,
        conn: Conn,
    ) -> std::io::Result<()> {
        write_head(&mut self.wbuf, ctx.name(), Status::Ok, n, conn);
        if req.head_only {
            return Ok(());
        }
        if n <= FILL.len() {
            self.wbuf.extend_from_slice(&FILL[..n]);
            return Ok(());
        }
        flush(stream, &mut self.wbuf).await?;
        let mut left = n;
        while left > 0 {
            let part = left.min(FILL.len());
            let (res, _) = stream.write_all(&FILL[..part]).await;
            res?;
            left -= part;
        }
        Ok(())
    }
}

impl Connection {
    /// `/chunked/N`: the head, then one write per chunk of CHUNK bytes (size line, data, CRLF),
    /// the last chunk and the final CRLF with the last data chunk.
    async fn chunked(
        &mut self,
        stream: &mut TcpStream,
        ctx: &Ctx,
        req: &Request,
        len: usize,
        padded: bool,
        conn: Conn,
    ) -> std::io::Result<()> {
        let te = "transfer-encoding: chunked";
        write_head_framed(&mut self.wbuf, ctx.name(), Status::Ok, te, conn);
        if req.head_only {
            return Ok(());
        }
        let mut left = len;
        while left > 0 {
            let part = left.min(CHUNK);
            if padded {
                let _ = write!(self.wbuf, "{part:016x}\r\n");
            } else {
                let _ = write!(self.wbuf, "{part:x}\r\n");
            }
            self.wbuf.extend_from_slice(&FILL[..part]);
            self.wbuf.extend_from_slice(b"\r\n");
            left -= part;
            if left > 0 {
                flush(stream, &mut self.wbuf).await?;
            }
        }
        self.wbuf.extend_from_slice(b"0\r\n\r\n");
        Ok(())
    }
}

async fn flush(stream: &mut TcpStream, wbuf: &mut Vec<u8>) -> std::io::Result<()> {
    if wbuf.is_empty() {
        return Ok(());
    }
    let (res, mut buf) = stream.write_all(std::mem::take(wbuf)).await;
    buf.clear();
    if buf.capacity() > KEEP_CAPACITY {
        buf = Vec::with_capacity(WRITE_BUF);
    }
    *wbuf = buf;
    res.map(|_| ())
}
