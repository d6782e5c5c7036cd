//! Listening sockets handed from an old process to a new one at a reload (HAProxy's `-x` with
//! `stats socket ... expose-fd listeners`), so that no connection queued on them is lost.
//!
//! The old process (`_getsocks` on its stats socket, `api/`): `send` writes the number of
//! sockets as a native-endian u32, then batches of at most `MAX_SEND_FD` descriptors, one
//! `sendmsg` each with SCM_RIGHTS, whose payload is, per descriptor, the core (worker thread)
//! that listened on it, as a native-endian u32. That is HAProxy's framing (a count, then
//! batches of 252 with one record per descriptor); the records differ (HAProxy sends the
//! namespace and interface, which ringlb does not support), so ringlb and HAProxy cannot
//! take each other's sockets. SCM_RIGHTS goes through `nix`. The address is not sent: the receiver asks the socket itself
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

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags, UnixAddr};

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

/// The `_getsocks` reply on `conn`, a unix stream socket; `with_keys` (a level admin socket)
/// adds the TLS ticket keys.
pub fn send(conn: &UnixStream, with_keys: bool) -> io::Result<()> {
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
    // Then the TLS ticket keys, so that sessions resume across the reload.
    if with_keys {
        super::ticket_handover::send(conn);
    }
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

/// What the old process handed over (nothing: `default`).
#[derive(Default)]
pub struct Handover {
    pub sockets: Vec<Received>,
    /// Its TLS binds' random ticket keys (none from an older ringlb).
    pub tickets: super::ticket_handover::Inherited,
}

/// `-x PATH`: asks the old process at `path` for its listening sockets (and ticket keys).
pub fn receive(path: &Path) -> io::Result<Handover> {
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
    Ok(Handover {
        sockets: out,
        tickets: super::ticket_handover::receive(&conn),
    })
}

fn local_addr(fd: &OwnedFd) -> Option<SocketAddr> {
    // A borrowed view as a socket2 socket, never dropped: the descriptor stays `fd`'s.
    // SAFETY: `fd` is a valid open descriptor for the lifetime of `sock`, and ManuallyDrop
    // keeps socket2 from closing it.
    let sock = std::mem::ManuallyDrop::new(unsafe { socket2::Socket::from_raw_fd(fd.as_raw_fd()) });
    sock.local_addr().ok()?.as_socket()
}

/// One batch out: the descriptors as SCM_RIGHTS, `payload` (4 bytes each) as the data.
fn send_fds(sock: RawFd, fds: &[RawFd], payload: &[u8]) -> io::Result<()> {
    let iov = [IoSlice::new(payload)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    loop {
        match sendmsg::<UnixAddr>(sock, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(_) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One batch in: up to `max` descriptors and their payload (4 bytes each).
fn recv_fds(sock: RawFd, max: usize) -> io::Result<(Vec<OwnedFd>, Vec<u8>)> {
    let mut payload = vec![0u8; max * 4];
    let mut space = nix::cmsg_space!([RawFd; MAX_SEND_FD]);
    let mut raw = Vec::new();
    let n = {
        let mut iov = [IoSliceMut::new(&mut payload)];
        // MSG_CMSG_CLOEXEC: the descriptors are not inherited by anything we might exec.
        let msg = loop {
            match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            {
                Ok(m) => break m,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        // A truncated control message (ENOBUFS here) means descriptors were lost.
        for c in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                raw.extend(fds);
            }
        }
        msg.bytes
    };
    payload.truncate(n);
    let fds = raw
        .into_iter()
        // SAFETY: each SCM_RIGHTS descriptor is new in this process and owned by nothing
        // else, so wrapping it in OwnedFd (closed on drop) is sound.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
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
