//! An in-memory stream pair, for tests that drive the proxy without sockets.
//!
//! Each direction is a pipe: bytes written on one end wait in a queue until the other end
//! reads them. Writes never block (the queue grows), which is all a test needs. Both ends live
//! on one monoio runtime (one thread), so the pipes are `Rc<RefCell<..>>` and no borrow is held
//! across an await. Dropping an end, or `shutdown`, ends what the peer reads (end of stream);
//! `abort` makes both directions fail with a reset, like a TCP RST.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut, RawBuf};
use monoio::BufResult;

#[derive(Default)]
struct Pipe {
    bytes: VecDeque<u8>,
    /// The writing end shut down or went away: the reader sees the end after the bytes.
    closed: bool,
    /// One end aborted: reads and writes fail.
    reset: bool,
    reader: Option<Waker>,
}

impl Pipe {
    fn close(&mut self, reset: bool) {
        self.closed = true;
        self.reset |= reset;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }
}

type Shared = Rc<RefCell<Pipe>>;

/// One end of an in-memory connection (see `MemStream::pair`).
pub struct MemStream {
    rx: Shared,
    tx: Shared,
    local: SocketAddr,
    peer: SocketAddr,
}

impl MemStream {
    /// Two connected ends, the first at address `a`, the second at `b`: what one writes, the
    /// other reads.
    pub fn pair(a: SocketAddr, b: SocketAddr) -> (MemStream, MemStream) {
        let (to_a, to_b) = (Shared::default(), Shared::default());
        (
            MemStream {
                rx: Rc::clone(&to_a),
                tx: Rc::clone(&to_b),
                local: a,
                peer: b,
            },
            MemStream {
                rx: to_b,
                tx: to_a,
                local: b,
                peer: a,
            },
        )
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Bytes (or the end of the stream) are waiting to be read.
    pub fn has_pending_data(&self) -> bool {
        let p = self.rx.borrow();
        !p.bytes.is_empty() || p.closed
    }

    /// Waits until a read would not wait.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| {
            let mut p = self.rx.borrow_mut();
            if p.reset {
                Poll::Ready(Err(reset()))
            } else if !p.bytes.is_empty() || p.closed {
                Poll::Ready(Ok(()))
            } else {
                p.reader = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Copies waiting bytes into `dst` (at most `len`); 0 at the end of the stream.
    fn take_into(&self, dst: *mut u8, len: usize) -> io::Result<usize> {
        let mut p = self.rx.borrow_mut();
        if p.reset {
            return Err(reset());
        }
        let n = len.min(p.bytes.len());
        for (i, b) in p.bytes.drain(..n).enumerate() {
            // SAFETY: `i < n <= len`, and the caller's buffer has `len` writable bytes.
            unsafe { dst.add(i).write(b) };
        }
        Ok(n)
    }

    fn put(&self, src: &[u8]) -> io::Result<usize> {
        let mut p = self.tx.borrow_mut();
        if p.reset || p.closed {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        p.bytes.extend(src);
        if let Some(w) = p.reader.take() {
            w.wake();
        }
        Ok(src.len())
    }

    /// Ends what the peer reads, keeping this end's reads going (a TCP half-close).
    pub fn shutdown_write(&self) {
        self.tx.borrow_mut().close(false);
    }

    /// Both directions fail from now on, on both ends (a reset).
    pub fn abort(&self) {
        self.abort_handle().abort();
    }

    /// A handle that aborts this connection from elsewhere (the other half of a relay).
    pub(super) fn abort_handle(&self) -> MemAbort {
        MemAbort {
            rx: Rc::clone(&self.rx),
            tx: Rc::clone(&self.tx),
        }
    }

    pub async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        if let Err(e) = self.readable().await {
            return (Err(e), buf);
        }
        let r = self.take_into(buf.write_ptr(), buf.bytes_total());
        if let Ok(n) = r {
            // SAFETY: `take_into` initialised the first `n` bytes.
            unsafe { buf.set_init(n) };
        }
        (r, buf)
    }

    pub async fn readv<T: IoVecBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        // SAFETY: the raw view is used before `buf` is touched again.
        let Some(raw) = (unsafe { RawBuf::new_from_iovec_mut(&mut buf) }) else {
            return (Ok(0), buf);
        };
        let (r, _) = self.read(raw).await;
        if let Ok(n) = r {
            // SAFETY: the read initialised `n` bytes of the first vector.
            unsafe { buf.set_init(n) };
        }
        (r, buf)
    }

    pub fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: `read_ptr` is valid for `bytes_init` bytes while `buf` is alive.
        let src = unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) };
        (self.put(src), buf)
    }

    pub fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        // SAFETY: the raw view is used while `buf` is alive and unchanged.
        match unsafe { RawBuf::new_from_iovec(&buf) } {
            Some(raw) => {
                let (r, _) = self.write(raw);
                (r, buf)
            }
            None => (Ok(0), buf),
        }
    }
}

impl Drop for MemStream {
    fn drop(&mut self) {
        self.tx.borrow_mut().close(false);
        self.rx.borrow_mut().closed = true;
    }
}

/// Aborts an in-memory connection (see `Aborter`).
pub struct MemAbort {
    rx: Shared,
    tx: Shared,
}

impl MemAbort {
    pub fn abort(&self) {
        self.rx.borrow_mut().close(true);
        self.tx.borrow_mut().close(true);
    }
}

fn reset() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionReset)
}
