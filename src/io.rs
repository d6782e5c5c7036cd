//! Owned-buffer I/O helpers shared by the HTTP and TCP paths.
//!
//! monoio's I/O takes buffers by value (io_uring needs them to stay put while the kernel writes
//! into them). `ReadBuf` keeps a connection's unread bytes together with that ownership dance, and
//! the timed helpers turn "no timeout configured" (`None`) into waiting forever, as HAProxy does.

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::net::Stream;
use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

/// Why an I/O step did not complete.
#[derive(Debug)]
pub enum IoFail {
    Timeout,
    Io(io::Error),
}

impl From<io::Error> for IoFail {
    fn from(e: io::Error) -> Self {
        IoFail::Io(e)
    }
}

/// Runs `fut` under an optional timeout.
pub async fn timed<T>(limit: Option<Duration>, fut: impl Future<Output = T>) -> Result<T, IoFail> {
    match limit {
        Some(d) => monoio::time::timeout(d, fut)
            .await
            .map_err(|_| IoFail::Timeout),
        None => Ok(fut.await),
    }
}

/// A connection's receive buffer: `data[start..]` holds bytes read but not yet consumed.
///
/// Reads append after the unread bytes; consumed bytes are dropped from the front lazily, by
/// moving the tail down only when the buffer is full, so a pipelined or coalesced read costs no
/// copy in the common case.
pub struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    cap: usize,
}

impl ReadBuf {
    /// A buffer that allocates nothing until its first read: an idle connection costs no buffer.
    pub fn lazy(cap: usize) -> Self {
        ReadBuf {
            data: Vec::new(),
            start: 0,
            cap,
        }
    }

    pub fn is_allocated(&self) -> bool {
        self.data.capacity() > 0
    }

    /// Bytes of memory the buffer holds.
    pub fn allocated(&self) -> usize {
        self.data.capacity()
    }

    /// Gives the memory back while nothing is unread (the next read allocates again).
    pub fn release(&mut self) {
        if self.is_empty() {
            self.data = Vec::new();
            self.start = 0;
        }
    }

    /// Reads like `read_from`, but gives up when `shed` resolves, without losing anything: the
    /// read is cancelled and then awaited, so bytes that arrived at that very moment are kept
    /// (on io_uring a cancelled read may still complete). `Ok(None)`: nothing came in time.
    pub async fn read_or_shed(
        &mut self,
        s: &mut Stream,
        shed: impl Future<Output = ()>,
    ) -> Result<Option<usize>, IoFail> {
        self.make_room();
        self.ensure_capacity();
        let (len, cap) = (self.data.len(), self.data.capacity());
        let buf = std::mem::take(&mut self.data);
        let (res, slice) = s.read_or_shed(buf.slice_mut(len..cap), shed).await;
        self.data = slice.into_inner();
        match res {
            Some(Ok(n)) => Ok(Some(n)),
            None => Ok(None),
            Some(Err(e)) => Err(IoFail::Io(e)),
        }
    }

    fn ensure_capacity(&mut self) {
        if self.data.capacity() < self.cap {
            // First use of a lazy buffer, or a cancelled operation took the old one down.
            self.data.reserve_exact(self.cap - self.data.len());
        }
    }

    /// Forgets every unread byte (they belonged to a connection that is gone).
    pub fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
    }

    /// The unread bytes.
    pub fn bytes(&self) -> &[u8] {
        self.data.get(self.start..).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.data.len().saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when no more bytes fit without consuming some first.
    pub fn is_full(&self) -> bool {
        self.is_allocated() && self.start == 0 && self.data.len() == self.data.capacity()
    }

    /// Drops `n` unread bytes from the front (they were parsed or forwarded).
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.data.len());
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }

    /// Reads once, appending to the unread bytes. Returns the byte count, 0 at end of stream.
    /// A full buffer is an error for the caller to have avoided (the head is over the limit).
    pub async fn read_from<S: AsyncReadRent>(
        &mut self,
        s: &mut S,
        limit: Option<Duration>,
    ) -> Result<usize, IoFail> {
        self.make_room();
        self.ensure_capacity();
        let len = self.data.len();
        let cap = self.data.capacity();
        if len == cap {
            return Err(IoFail::Io(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "read buffer full",
            )));
        }
        // If the timeout fires, the buffer goes down with the cancelled operation; the caller
        // closes the connection then, so nothing that was read can be misattributed.
        let buf = std::mem::take(&mut self.data);
        let (res, slice) = timed(limit, s.read(buf.slice_mut(len..cap))).await?;
        self.data = slice.into_inner();
        Ok(res?)
    }

    /// Writes unread bytes `range` (relative to `bytes()`) to `dst` without copying them.
    pub async fn write_to<S: AsyncWriteRent>(
        &mut self,
        dst: &mut S,
        n: usize,
        limit: Option<Duration>,
    ) -> Result<(), IoFail> {
        let begin = self.start;
        let end = (begin + n).min(self.data.len());
        let buf = std::mem::take(&mut self.data);
        let (res, slice) = timed(limit, dst.write_all(buf.slice(begin..end))).await?;
        self.data = slice.into_inner();
        res?;
        Ok(())
    }

    fn make_room(&mut self) {
        if self.start > self.data.len() {
            self.start = 0;
        }
        if self.start > 0 && self.data.len() == self.data.capacity() {
            self.data.copy_within(self.start.., 0);
            self.data.truncate(self.data.len() - self.start);
            self.start = 0;
        } else if self.start > 0 && self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }
}

/// Writes the whole of `out` to `dst` and puts the buffer back, content kept (a request head
/// may have to be sent again on a fresh connection); callers clear it before refilling.
pub async fn write_vec<S: AsyncWriteRent>(
    dst: &mut S,
    out: &mut Vec<u8>,
    limit: Option<Duration>,
) -> Result<(), IoFail> {
    let buf = std::mem::take(out);
    let (res, buf) = timed(limit, dst.write_all(buf)).await?;
    *out = buf;
    res?;
    Ok(())
}
