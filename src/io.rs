//! Owned-buffer I/O helpers shared by the HTTP and TCP paths.
//!
//! monoio's I/O takes buffers by value (io_uring needs them to stay put while the kernel writes
//! into them). `ReadBuf` keeps a connection's unread bytes together with that ownership dance, and
//! the timed helpers turn "no timeout configured" (`None`) into waiting forever, as HAProxy does.
//!
//! A buffer has its connection's size (`tune.bufsize`) for heads; a large body is read through a
//! wide one (`widen`, 64 KiB: a quarter of the reads, syscalls and writes of 16 KiB ones), taken
//! from the core's spares (`spare_buffers`) and given back as soon as nothing is unread in it,
//! so an idle connection never keeps one.

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

/// The core's spare wide buffers (thread-per-core: one list per worker thread). A fresh 64 KiB
/// allocation is fresh pages: the kernel's copy into it page-faults (~8% of the CPU of 64 KiB
/// responses before this list); a spare one is warm. At most `KEEP` are kept (2 MiB a core).
mod spare_buffers {
    use std::cell::RefCell;

    /// The size of a wide buffer.
    pub const SIZE: usize = 64 * 1024;
    const KEEP: usize = 32;

    thread_local! {
        static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    /// A wide buffer, empty: a spare one if the core has one.
    pub fn take() -> Vec<u8> {
        SPARE
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(SIZE))
    }

    /// Keeps `buf` for a later `take` if it is a wide buffer and the core has room for it;
    /// otherwise it is freed.
    pub fn give(mut buf: Vec<u8>) {
        if buf.capacity() != SIZE {
            return;
        }
        buf.clear();
        // try_with: a buffer dropped while the thread ends is simply freed.
        let _ = SPARE.try_with(|s| {
            let mut spare = s.borrow_mut();
            if spare.len() < KEEP {
                spare.push(buf);
            }
        });
    }

    #[cfg(test)]
    pub fn count() -> usize {
        SPARE.with(|s| s.borrow().len())
    }
}

/// The read size of a large body (`ReadBuf::widen`).
pub const WIDE_READ: usize = spare_buffers::SIZE;

impl Drop for ReadBuf {
    fn drop(&mut self) {
        spare_buffers::give(std::mem::take(&mut self.data));
    }
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

    /// Gives the memory back while nothing is unread (the next read allocates again); a wide
    /// buffer goes back to the core's spares.
    pub fn release(&mut self) {
        if self.is_empty() {
            spare_buffers::give(std::mem::take(&mut self.data));
            self.start = 0;
        }
    }

    /// Grows the buffer for a body read: when `want` bytes are still to come and they are more
    /// than the buffer holds, it becomes `max` bytes large (a spare wide buffer when `max` is
    /// `WIDE_READ`), the unread bytes moved along. Heads never see the difference: their
    /// parser looks at `max_head` bytes at most, whatever the buffer's size.
    pub fn widen(&mut self, want: usize, max: usize) {
        let now = self.data.capacity().max(self.cap);
        if want <= now || max <= now {
            return;
        }
        let mut wide = if max == spare_buffers::SIZE {
            spare_buffers::take()
        } else {
            Vec::with_capacity(max)
        };
        wide.extend_from_slice(self.bytes());
        spare_buffers::give(std::mem::replace(&mut self.data, wide));
        self.start = 0;
    }

    /// Gives a wide buffer back to the core's spares once nothing is unread in it (the body
    /// it was widened for is over), for one of the normal size: a connection that idles until
    /// its next request holds no wide buffer, and keeps reading as before the body.
    pub fn narrow(&mut self) {
        if self.data.capacity() > self.cap && self.is_empty() {
            self.release();
            self.ensure_capacity();
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
        if self.data.capacity() >= self.cap {
            return;
        }
        if self.is_empty() && self.cap == spare_buffers::SIZE {
            // `tune.bufsize 65536`: every buffer is a wide one.
            self.data = spare_buffers::take();
            self.start = 0;
        } else {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer of `cap` holding `bytes` unread, after `consumed` bytes were taken from its front.
    fn holding(cap: usize, consumed: usize, bytes: &[u8]) -> ReadBuf {
        let mut b = ReadBuf::lazy(cap);
        b.ensure_capacity();
        b.data.extend(std::iter::repeat_n(b'-', consumed));
        b.data.extend_from_slice(bytes);
        b.consume(consumed);
        b
    }

    #[test]
    fn widen_keeps_the_unread_bytes_and_narrow_gives_the_buffer_back() {
        let mut b = holding(16384, 10, b"abc");
        b.widen(1 << 20, WIDE_READ);
        assert_eq!(b.bytes(), b"abc");
        assert_eq!(b.allocated(), WIDE_READ);
        b.narrow(); // still holds unread bytes: stays wide
        assert_eq!(b.allocated(), WIDE_READ);
        b.consume(3);
        b.narrow();
        assert_eq!((b.allocated(), spare_buffers::count()), (16384, 1));
        // The next body gets the spare one.
        b.widen(65536, WIDE_READ);
        assert_eq!((b.allocated(), spare_buffers::count()), (WIDE_READ, 0));
    }

    #[test]
    fn a_body_that_fits_does_not_widen() {
        let mut b = holding(16384, 0, b"x");
        b.widen(16384, WIDE_READ);
        assert_eq!(b.allocated(), 16384);
        let mut big = holding(65536, 0, b"");
        big.widen(1 << 20, WIDE_READ);
        assert_eq!(big.allocated(), 65536);
    }

    #[test]
    fn release_and_drop_give_wide_buffers_back_and_the_core_keeps_at_most_32() {
        let mut b = ReadBuf::lazy(16384);
        b.widen(1 << 20, WIDE_READ);
        b.release();
        assert!(!b.is_allocated());
        assert_eq!(spare_buffers::count(), 1);
        let bufs: Vec<ReadBuf> = (0..40)
            .map(|_| {
                let mut b = ReadBuf::lazy(16384);
                b.widen(1 << 20, WIDE_READ);
                b
            })
            .collect();
        assert_eq!(spare_buffers::count(), 0);
        drop(bufs);
        assert_eq!(spare_buffers::count(), 32);
        // Normal-size buffers are not kept.
        drop(holding(16384, 0, b"x"));
        assert_eq!(spare_buffers::count(), 32);
    }

    #[test]
    fn a_bufsize_of_64k_reads_into_spare_buffers() {
        let mut b = ReadBuf::lazy(WIDE_READ);
        b.widen(1 << 20, WIDE_READ);
        assert_eq!(b.allocated(), 0);
        b.ensure_capacity();
        assert_eq!(b.allocated(), WIDE_READ);
        b.release();
        assert_eq!(spare_buffers::count(), 1);
    }
}
