//! `PollStream`: a `net::Stream` as tokio's `AsyncRead + AsyncWrite`, the traits the `h2`
//! crate speaks, driven by monoio's own futures (no tokio runtime: only its traits).
//!
//! Why a compat adapter over `net::Stream` rather than monoio's `poll-io` (`IntoPollIo`): one
//! adapter serves every stream ringlb has, plain TCP, TLS after ringlb's own handshake
//! (net/tls.rs, with its facts, resumption and alerts unchanged) and the in-memory pairs of
//! in-process tests, on both drivers alike, and nothing of TLS is written twice. What it
//! costs is one copy each way (monoio reads into our owned buffer, h2 copies out of it; h2's
//! encoded frames are copied into ours before the write): next to HPACK, framing and, on TLS,
//! AES-GCM, a memcpy of the same bytes is small.
//!
//! The stream is split in its two halves (`Stream` is `Split`: TLS's reading and writing
//! sides touch disjoint state, as the tcp relay relies on too), each owned by the boxed
//! future of the operation in flight, so a read and a write are in flight together. Writes
//! are double-buffered: `poll_write` appends to `pending` while the previous bytes are being
//! written, up to `WRITE_HIGH`; `poll_flush` hands `pending` to the kernel.
//!
//! Every write is bounded by `timeout client`: a client that stops reading (a zero TCP
//! window) fails the connection instead of holding it. Reads are not timed here: an idle
//! connection always has one posted, and is timed by the connection level (mod.rs), which
//! sends GOAWAY first; a stream whose client stops sending is timed by the stream.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};

use super::flood::FrameCounter;
use crate::io::timed;
use crate::net::Stream;

/// Bytes asked of the kernel per read: a full TLS record's plaintext.
const READ_CHUNK: usize = 16 * 1024;
/// Encoded frames buffered behind a write in flight before `poll_write` waits: h2 then holds
/// the rest, under its own flow control.
const WRITE_HIGH: usize = 64 * 1024;

type Half<T> = Pin<Box<dyn Future<Output = (T, io::Result<usize>, Vec<u8>)>>>;

enum Side<T> {
    Idle(T),
    Busy(Half<T>),
    /// Failed or closed: every later call fails.
    Gone,
}

pub struct PollStream {
    read: Side<OwnedReadHalf<Stream>>,
    /// What the last read brought, `rbuf[rpos..]` not yet taken by h2.
    rbuf: Vec<u8>,
    rpos: usize,
    write: Side<OwnedWriteHalf<Stream>>,
    /// Bytes h2 wrote that are not yet handed to the kernel.
    pending: Vec<u8>,
    /// A buffer back from the last write, kept for its capacity.
    spare: Vec<u8>,
    shut: bool,
    limit: Option<Duration>,
    /// Counts the client's frames as they pass (flood.rs).
    frames: Rc<FrameCounter>,
}

impl PollStream {
    /// `early`: bytes read from the client before the switch to HTTP/2 (a preface found on
    /// a connection read as HTTP/1), given to h2 first.
    pub fn new(
        s: Stream,
        early: Vec<u8>,
        limit: Option<Duration>,
        frames: Rc<FrameCounter>,
    ) -> Self {
        let (r, w) = s.into_split();
        frames.saw(&early);
        PollStream {
            read: Side::Idle(r),
            rbuf: early,
            rpos: 0,
            write: Side::Idle(w),
            pending: Vec::new(),
            spare: Vec::new(),
            shut: false,
            limit,
            frames,
        }
    }

    fn start_read(&mut self, half: OwnedReadHalf<Stream>) -> Half<OwnedReadHalf<Stream>> {
        let mut buf = std::mem::take(&mut self.rbuf);
        buf.clear();
        buf.reserve(READ_CHUNK);
        Box::pin(async move {
            let mut half = half;
            let (r, buf) = half.read(buf).await;
            (half, r, buf)
        })
    }

    /// Drives the read in flight, if any, until bytes are in `rbuf`.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.rpos < self.rbuf.len() {
                return Poll::Ready(Ok(()));
            }
            match std::mem::replace(&mut self.read, Side::Gone) {
                Side::Gone => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Side::Idle(half) => self.read = Side::Busy(self.start_read(half)),
                Side::Busy(mut fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.read = Side::Busy(fut);
                        return Poll::Pending;
                    }
                    Poll::Ready((half, r, buf)) => {
                        self.rbuf = buf;
                        self.rpos = 0;
                        match r {
                            // The end of the stream: an empty read for h2, and for every later call.
                            Ok(0) => return Poll::Ready(Ok(())),
                            Ok(_) => {
                                self.frames.saw(&self.rbuf);
                                self.read = Side::Idle(half);
                            }
                            Err(e) => return Poll::Ready(Err(e)),
                        }
                    }
                },
            }
        }
    }

    fn start_write(&mut self, half: OwnedWriteHalf<Stream>) -> Half<OwnedWriteHalf<Stream>> {
        let bytes = std::mem::replace(&mut self.pending, std::mem::take(&mut self.spare));
        let limit = self.limit;
        Box::pin(async move {
            let mut half = half;
            let n = bytes.len();
            match timed(limit, half.write_all(bytes)).await {
                Ok((r, buf)) => (half, r.map(|_| n), buf),
                Err(_) => (half, Err(io::ErrorKind::TimedOut.into()), Vec::new()),
            }
        })
    }

    /// Drives the write in flight, if any, to its end. `Ready(Ok)`: no write in flight.
    fn poll_written(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match std::mem::replace(&mut self.write, Side::Gone) {
            Side::Gone => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Side::Idle(half) => {
                self.write = Side::Idle(half);
                Poll::Ready(Ok(()))
            }
            Side::Busy(mut fut) => match fut.as_mut().poll(cx) {
                Poll::Pending => {
                    self.write = Side::Busy(fut);
                    Poll::Pending
                }
                Poll::Ready((half, r, mut buf)) => {
                    r?;
                    buf.clear();
                    self.spare = buf;
                    self.write = Side::Idle(half);
                    Poll::Ready(Ok(()))
                }
            },
        }
    }
}

impl tokio::io::AsyncRead for PollStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        ready!(me.poll_fill(cx))?;
        let have = me.rbuf.get(me.rpos..).unwrap_or(&[]);
        let n = have.len().min(out.remaining());
        out.put_slice(&have[..n]);
        me.rpos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for PollStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.pending.len() >= WRITE_HIGH {
            ready!(me.poll_written(cx))?;
            if let Side::Idle(half) = std::mem::replace(&mut me.write, Side::Gone) {
                me.write = Side::Busy(me.start_write(half));
                // Polled once so that its waker is ours.
                let _ = me.poll_written(cx)?;
            }
            if me.pending.len() >= WRITE_HIGH {
                return Poll::Pending;
            }
        }
        me.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        loop {
            ready!(me.poll_written(cx))?;
            if me.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
            if let Side::Idle(half) = std::mem::replace(&mut me.write, Side::Gone) {
                me.write = Side::Busy(me.start_write(half));
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let me = self.get_mut();
        if me.shut {
            return Poll::Ready(Ok(()));
        }
        match std::mem::replace(&mut me.write, Side::Gone) {
            Side::Idle(half) => {
                me.write = Side::Busy(Box::pin(async move {
                    let mut half = half;
                    let r = half.shutdown().await.map(|()| 0);
                    (half, r, Vec::new())
                }));
                me.shut = true;
                me.poll_written(cx)
            }
            other => {
                me.write = other;
                me.poll_written(cx)
            }
        }
    }
}
