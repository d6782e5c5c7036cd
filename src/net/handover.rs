//! Listening sockets handed from an old process to a new one at a reload (HAProxy's `-x` with
//! `stats socket ... expose-fd listeners`), so that no connection queued on them is lost.
//!
//! The old process (`_getsocks` on its stats socket, `api/`): `send` writes the number of
//! sockets as a native-endian u32, then batches of at most `MAX_SEND_FD` descriptors, one
//! `sendmsg` each with SCM_RIGHTS, whose payload is, per descriptor, the core (worker thread)
//! that listened on it, as a native-endian u32. That is HAProxy's framing (a count, then
//! batches of 252 with one record per descriptor); the records differ (HAProxy sends the
//! namespace and interface, which ringlb does not support), so ringlb and HAProxy cannot
//! take each other's sockets. The address is not sent: the receiver asks the socket itself
//! (getsockname), as HAProxy does.
//!
//! The new process (`-x PATH`): `receive` connects, asks, and returns every socket with its
//! address and old core; `launch::` matches them to its binds.
//!
//! Why a registry of duplicated descriptors: the listeners belong to the cores' runtimes, and
//! the stats socket's thread must never touch a core's descriptor, which the core may close at
//! any moment (its number could then be another file's). A `dup` taken at bind time is the
//! API thread's own. It keeps the kernel socket alive, which matters only once handed over
//! (then the new process holds it too); `forget_all` drops them at the stop.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Descriptors per message: HAProxy's MAX_SEND_FD (the kernel's SCM_MAX_FD is 253).
pub const MAX_SEND_FD: usize = 252;
/// How long `-x` waits on the old process before binding on its own.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);
/// More sockets than any sane config has: a count beyond it is not a count (a wrong peer).
const MAX_SOCKETS: u32 = 65_536;

/// Every listening socket of this process: (core, its own duplicate).
static EXPORTED: Mutex<Vec<(u32, OwnedFd)>> = Mutex::new(Vec::new());
/// Set once a `_getsocks` reply went out whole: a newer process holds our listeners.
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// Records a core's listener for a later `_getsocks` (called once per listener at start-up:
/// never on the request path). A failed `dup` only means that socket is not offered.
pub fn export(core: usize, listener: &impl AsFd) {
    let Ok(fd) = listener.as_fd().try_clone_to_owned() else {
        return;
    };
    if let Ok(mut all) = EXPORTED.lock() {
        all.push((u32::try_from(core).unwrap_or(u32::MAX), fd));
    }
}

/// True once a new process has received our listeners: at the stop, the cores then neither
/// drain the accept queues nor shut the sockets down (the new process serves them).
pub fn handed_over() -> bool {
    HANDED_OVER.load(Ordering::SeqCst)
}

/// Drops the duplicates: at the stop, so that a socket the new process did not keep (a bind it
/// no longer has) closes with our cores' own descriptors instead of lingering until we exit.
pub fn forget_all() {
    if let Ok(mut all) = EXPORTED.lock() {
        all.clear();
    }
}

/// The `_getsocks` reply on `conn`, a unix stream socket.
pub fn send(conn: &UnixStream) -> io::Result<()> {
    // Our own duplicates of the duplicates: the lock is not held while sending, and a
    // `forget_all` meanwhile cannot close what is being sent.
    let fds: Vec<(u32, OwnedFd)> = {
        let all = EXPORTED
            .lock()
            .map_err(|_| io::Error::other("the listener registry is poisoned"))?;
        all.iter()
            .filter_map(|(core, fd)| fd.try_clone().ok().map(|d| (*core, d)))
            .collect()
    };
    let count = u32::try_from(fds.len()).map_err(|_| io::Error::other("too many sockets"))?;
    (&*conn).write_all(&count.to_ne_bytes())?;
    for batch in fds.chunks(MAX_SEND_FD) {
        let raw: Vec<RawFd> = batch.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        let meta: Vec<u8> = batch.iter().flat_map(|(c, _)| c.to_ne_bytes()).collect();
        send_fds(conn.as_raw_fd(), &raw, &meta)?;
    }
    HANDED_OVER.store(true, Ordering::SeqCst);
    Ok(())
}

/// A socket received from the old process.
pub struct Received {
    pub fd: OwnedFd,
    /// Where it listens (getsockname).
    pub addr: SocketAddr,
    /// The old process's core that accepted on it.
    pub core: u32,
}

/// `-x PATH`: asks the old process at `path` for its listening sockets.
pub fn receive(path: &Path) -> io::Result<Vec<Received>> {
    let conn = UnixStream::connect(path)?;
    conn.set_read_timeout(Some(RECEIVE_TIMEOUT))?;
    conn.set_write_timeout(Some(RECEIVE_TIMEOUT))?;
    (&conn).write_all(b"_getsocks\n")?;
    let mut count = [0u8; 4];
    (&conn).read_exact(&mut count).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "no socket count in the reply ({e}): is the stats socket 'expose-fd listeners'?"
            ),
        )
    })?;
    let count = u32::from_ne_bytes(count);
    if count > MAX_SOCKETS {
        return Err(io::Error::other(format!(
            "{count} sockets announced: not a ringlb reply"
        )));
    }
    let mut out = Vec::new();
    while out.len() < count as usize {
        let want = (count as usize - out.len()).min(MAX_SEND_FD);
        let (fds, meta) = recv_fds(conn.as_raw_fd(), want)?;
        if fds.is_empty() {
            return Err(io::Error::other(
                "the old process closed the connection mid-way",
            ));
        }
        for (i, fd) in fds.into_iter().enumerate() {
            let core = meta
                .get(i * 4..i * 4 + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(u32::MAX, u32::from_ne_bytes);
            // A descriptor that is not a bound inet socket is closed (dropped) here.
            if let Some(addr) = local_addr(&fd) {
                out.push(Received { fd, addr, core });
            }
        }
    }
    Ok(out)
}

fn local_addr(fd: &OwnedFd) -> Option<SocketAddr> {
    // A borrowed view as a socket2 socket, never dropped: the descriptor stays `fd`'s.
    // SAFETY: `fd` is a valid open descriptor for the lifetime of `sock`, and ManuallyDrop
    // keeps socket2 from closing it.
    let sock = std::mem::ManuallyDrop::new(unsafe { socket2::Socket::from_raw_fd(fd.as_raw_fd()) });
    sock.local_addr().ok()?.as_socket()
}

/// Room for the control message of one batch.
fn cmsg_space(n: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<RawFd>()) as u32) as usize }
}

fn send_fds(sock: RawFd, fds: &[RawFd], payload: &[u8]) -> io::Result<()> {
    let mut control = vec![0u8; cmsg_space(fds.len())];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header, filled in below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: `control` has room for one cmsg of `fds.len()` descriptors (cmsg_space), so
    // CMSG_FIRSTHDR is non-null and CMSG_DATA points inside it; `iov` and `payload` outlive
    // the sendmsg call, which only reads them.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::other("no room for the control message"));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
        std::ptr::copy_nonoverlapping(
            fds.as_ptr().cast::<u8>(),
            libc::CMSG_DATA(cmsg),
            std::mem::size_of_val(fds),
        );
        loop {
            if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// One batch: up to `max` descriptors and their payload (4 bytes each).
fn recv_fds(sock: RawFd, max: usize) -> io::Result<(Vec<OwnedFd>, Vec<u8>)> {
    let mut payload = vec![0u8; max * 4];
    let mut control = vec![0u8; cmsg_space(max)];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: as in send_fds.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: recvmsg writes at most iov_len bytes into `payload` and msg_controllen bytes
    // into `control`, both alive and owned here. MSG_CMSG_CLOEXEC: the descriptors are not
    // inherited by anything we might exec.
    let n = loop {
        let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    payload.truncate(n);
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of `control`, which the
    // kernel filled; each SCM_RIGHTS descriptor is new in this process and owned by nobody
    // else, so wrapping it in OwnedFd (closed on drop) is sound. The data may be unaligned:
    // read_unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg);
                let len = (*cmsg).cmsg_len as usize - (data as usize - cmsg as usize);
                let count = len / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 && fds.is_empty() {
        return Err(io::Error::other(
            "descriptors lost: control message truncated",
        ));
    }
    Ok((fds, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_over_a_socketpair() {
        let (a, b) = UnixStream::pair().unwrap();
        let sockets: Vec<std::net::TcpListener> = (0..300)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let raw: Vec<RawFd> = sockets.iter().map(|s| s.as_raw_fd()).collect();
        let meta: Vec<u8> = (0..300u32).flat_map(|c| c.to_ne_bytes()).collect();
        for (chunk, m) in raw.chunks(MAX_SEND_FD).zip(meta.chunks(MAX_SEND_FD * 4)) {
            send_fds(a.as_raw_fd(), chunk, m).unwrap();
        }
        let (first, m1) = recv_fds(b.as_raw_fd(), MAX_SEND_FD).unwrap();
        let (second, _) = recv_fds(b.as_raw_fd(), 300 - MAX_SEND_FD).unwrap();
        assert_eq!(first.len(), MAX_SEND_FD);
        assert_eq!(second.len(), 300 - MAX_SEND_FD);
        assert_eq!(&m1[4..8], &1u32.to_ne_bytes());
        let want = sockets[0].local_addr().unwrap();
        assert_eq!(local_addr(&first[0]), Some(want));
    }
}
