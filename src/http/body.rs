//! Streaming a message body from one socket to the other, never holding it whole.
//!
//! The body is framed by what the head said (`BodyKind`); bytes beyond the body stay in the
//! buffer (they are the next pipelined request). Chunked bodies go through `ChunkedDecoder`,
//! which validates every size line, says exactly which bytes belong to the message, and gives
//! them in canonical form: that is what goes on, in both directions (re-chunked: no leading
//! zeros, no extensions), so the next hop cannot frame the body otherwise than ringlb did.
//!
//! `forward` says how many bytes it moved (`Moved`: taken from the source, written to the
//! destination), also when it fails (`Cut`): the request record counts them (serve/record/).

use std::cell::Cell;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent};

use super::chunked::{self, ChunkedDecoder};
use super::BodyKind;
use crate::io::{write_vec, IoFail, ReadBuf, WIDE_READ};

/// How much of a large body is read at once: when more is still to come than the buffer holds,
/// it is widened to this (io.rs), so a 1 MiB body takes 16 reads and writes, not 64.
const BODY_READ: usize = WIDE_READ;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Request,
    /// Server to client, as received.
    Response,
    /// Server to client, chunked framing removed (the client speaks HTTP/1.0).
    ResponseDechunk,
}

pub struct BodyLimits {
    pub read: Option<Duration>,
    pub write: Option<Duration>,
    pub max_trailer: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The client went away (or failed) in the middle of its body, or while the response body
    /// was sent to it: close without a response, as HAProxy does.
    Client,
    /// The client's body stalled for longer than the read limit: the caller answers (408 or
    /// 504, see serve/exchange.rs). On the response direction: the client did not take the body
    /// within the write limit.
    ClientStalled,
    /// The server failed while we were sending to it or reading from it (on the response
    /// direction, also a body whose framing is invalid).
    Server,
    /// The server stopped reading the request body for longer than `timeout server`; on the
    /// response direction, it sent nothing for that long.
    ServerTimeout,
    /// The body's framing is invalid: answer this status and close.
    Bad(u16),
}

/// How many bytes a `forward` moved: taken from the source (consumed from its buffer) and
/// written to the destination. They differ when chunked framing is rewritten or removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moved {
    pub read: u64,
    pub written: u64,
}

/// A `forward` that failed, with what it had moved before.
#[derive(Debug, PartialEq, Eq)]
pub struct Cut {
    pub error: BodyError,
    pub moved: Moved,
}

struct Ends {
    direction: Direction,
    read: Cell<u64>,
    written: Cell<u64>,
}

impl Ends {
    fn read_failed(&self, timed_out: bool) -> BodyError {
        match (self.direction, timed_out) {
            (Direction::Request, true) => BodyError::ClientStalled,
            (Direction::Request, false) => BodyError::Client,
            (_, true) => BodyError::ServerTimeout,
            (_, false) => BodyError::Server,
        }
    }

    fn write_failed(&self, e: IoFail) -> BodyError {
        match (self.direction, e) {
            (Direction::Request, IoFail::Timeout) => BodyError::ServerTimeout,
            (Direction::Request, IoFail::Io(_)) => BodyError::Server,
            (_, IoFail::Timeout) => BodyError::ClientStalled,
            (_, IoFail::Io(_)) => BodyError::Client,
        }
    }

    /// Drops `n` bytes the body took from the source's buffer, counting them.
    fn consume(&self, buf: &mut ReadBuf, n: usize) {
        buf.consume(n);
        self.read.set(self.read.get() + n as u64);
    }

    fn wrote(&self, n: usize) {
        self.written.set(self.written.get() + n as u64);
    }

    fn moved(&self) -> Moved {
        Moved {
            read: self.read.get(),
            written: self.written.get(),
        }
    }

    fn bad_framing(&self) -> BodyError {
        if self.direction == Direction::Request {
            BodyError::Bad(400)
        } else {
            BodyError::Server
        }
    }
}

/// Forwards one body framed as `kind` from `src` (bytes already read are in `buf`) to `dst`.
pub async fn forward<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    kind: BodyKind,
    lim: &BodyLimits,
    direction: Direction,
) -> Result<Moved, Cut> {
    let ends = Ends {
        direction,
        read: Cell::new(0),
        written: Cell::new(0),
    };
    let forwarded = forward_framed(src, buf, dst, kind, lim, &ends).await;
    // Bytes after the body (the next pipelined request) keep the wide buffer until read.
    buf.narrow();
    match forwarded {
        Ok(()) => Ok(ends.moved()),
        Err(error) => Err(Cut {
            error,
            moved: ends.moved(),
        }),
    }
}

async fn forward_framed<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    kind: BodyKind,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    let direction = ends.direction;
    match kind {
        BodyKind::None => Ok(()),
        BodyKind::Length(n) => forward_length(src, buf, dst, n, lim, ends).await,
        BodyKind::Chunked if direction == Direction::ResponseDechunk => {
            forward_dechunked(src, buf, dst, lim, ends).await
        }
        BodyKind::Chunked => forward_chunked(src, buf, dst, lim, ends).await,
        BodyKind::UntilClose => forward_until_close(src, buf, dst, lim, ends).await,
    }
}

async fn forward_length<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    mut left: u64,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    loop {
        let have = (buf.len() as u64).min(left) as usize;
        if have > 0 {
            pass_on(buf, dst, have, lim, ends).await?;
            left -= have as u64;
        }
        if left == 0 {
            return Ok(());
        }
        buf.widen(usize::try_from(left).unwrap_or(usize::MAX), BODY_READ);
        read_some(src, buf, lim, ends).await?;
    }
}

/// Forwards a chunked body in canonical form (chunked.rs): one write per read, straight from
/// the buffer when what was read is canonical already (the common case), else from a copy
/// with the size lines written anew.
async fn forward_chunked<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    let mut decoder = ChunkedDecoder::new_with_limit(lim.max_trailer);
    let mut pieces = Vec::new();
    let mut copy = Vec::new();
    loop {
        if !buf.is_empty() {
            let p = decoder
                .feed_canonical(buf.bytes(), &mut pieces)
                .map_err(|_| ends.bad_framing())?;
            match chunked::verbatim_len(&pieces) {
                Some(n) => send_unread(buf, dst, n, lim, ends).await?,
                None => {
                    copy.clear();
                    chunked::write_pieces(&pieces, buf.bytes(), &mut copy);
                    write_all(dst, &mut copy, lim, ends).await?;
                }
            }
            ends.consume(buf, p.consumed);
            if p.done {
                return Ok(());
            }
            if p.consumed == 0 && buf.is_full() {
                // A size line or trailer larger than the whole buffer.
                return Err(ends.bad_framing());
            }
        }
        read_some(src, buf, lim, ends).await?;
    }
}

/// Forwards the payload of a chunked body without its framing (to an HTTP/1.0 client, whose
/// response ends with the connection).
async fn forward_dechunked<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    let mut decoder = ChunkedDecoder::new_with_limit(lim.max_trailer);
    let mut data = Vec::new();
    let mut plain = Vec::new();
    loop {
        if !buf.is_empty() {
            let p = decoder
                .feed(buf.bytes(), &mut data)
                .map_err(|_| ends.bad_framing())?;
            plain.clear();
            for r in &data {
                plain.extend_from_slice(buf.bytes().get(r.clone()).unwrap_or(&[]));
            }
            write_all(dst, &mut plain, lim, ends).await?;
            ends.consume(buf, p.consumed);
            if p.done {
                return Ok(());
            }
            if p.consumed == 0 && buf.is_full() {
                return Err(ends.bad_framing());
            }
        }
        read_some(src, buf, lim, ends).await?;
    }
}

async fn forward_until_close<R: AsyncReadRent, W: AsyncWriteRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    dst: &mut W,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    loop {
        pass_on(buf, dst, buf.len(), lim, ends).await?;
        match buf.read_from(src, lim.read).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(ends.read_failed(matches!(e, IoFail::Timeout))),
        }
    }
}

/// Forwards the first `n` unread bytes as they are and drops them from the buffer.
async fn pass_on<W: AsyncWriteRent>(
    buf: &mut ReadBuf,
    dst: &mut W,
    n: usize,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    send_unread(buf, dst, n, lim, ends).await?;
    ends.consume(buf, n);
    Ok(())
}

/// Writes the first `n` unread bytes without copying them; they stay in the buffer.
async fn send_unread<W: AsyncWriteRent>(
    buf: &mut ReadBuf,
    dst: &mut W,
    n: usize,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    if n > 0 {
        buf.write_to(dst, n, lim.write)
            .await
            .map_err(|e| ends.write_failed(e))?;
        ends.wrote(n);
    }
    Ok(())
}

/// Writes all of `bytes` (nothing when empty); the vector comes back for reuse.
async fn write_all<W: AsyncWriteRent>(
    dst: &mut W,
    bytes: &mut Vec<u8>,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let n = bytes.len();
    write_vec(dst, bytes, lim.write)
        .await
        .map_err(|e| ends.write_failed(e))?;
    ends.wrote(n);
    Ok(())
}

/// Reads more body bytes; the end of the stream in the middle of a framed body is a failure.
async fn read_some<R: AsyncReadRent>(
    src: &mut R,
    buf: &mut ReadBuf,
    lim: &BodyLimits,
    ends: &Ends,
) -> Result<(), BodyError> {
    match buf.read_from(src, lim.read).await {
        Ok(0) | Err(IoFail::Io(_)) => Err(ends.read_failed(false)),
        Err(IoFail::Timeout) => Err(ends.read_failed(true)),
        Ok(_) => Ok(()),
    }
}
