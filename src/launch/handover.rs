//! `-x SOCKET` at start-up: the old process's listening sockets, taken before binding and
//! spread over this process's cores (the protocol itself is net/handover.rs).
//!
//! Each bind takes every old socket with its address. The old process had one per core
//! (SO_REUSEPORT): socket j goes to core j mod nbthread, so with as many cores as before each
//! core adopts one; with more, the cores left over bind new SO_REUSEPORT sockets that join
//! the same group; with fewer, some cores adopt several (one accept loop each), because a
//! socket nobody adopts would be closed with the connections queued on it.

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::net::handover::{self, Handover, Received};

/// The old process's sockets and ticket keys, or none (with a warning, as HAProxy does) when
/// it cannot be asked: the caller then binds everything itself.
pub fn take(path: &Path, quiet: bool) -> Handover {
    match handover::receive(path) {
        Ok(got) => {
            if !quiet {
                // How many keys, never what they are.
                eprintln!(
                    "ringlb: took {} listening socket(s) and the TLS ticket keys of {} bind(s) from the old process at {}",
                    got.sockets.len(),
                    got.tickets.len(),
                    path.display()
                );
            }
            got
        }
        Err(e) => {
            eprintln!(
                "[WARNING]  ({}) : -x {}: cannot take the old process's listening sockets: {e}; binding new ones",
                std::process::id(),
                path.display()
            );
            Handover::default()
        }
    }
}

/// `matched[spec]` (the old sockets of each bind) turned into `[core][spec]`.
pub fn spread(matched: Vec<Vec<Received>>, nbthread: usize) -> Vec<Vec<Vec<OwnedFd>>> {
    let nbthread = nbthread.max(1);
    let specs = matched.len();
    let mut out: Vec<Vec<Vec<OwnedFd>>> = (0..nbthread)
        .map(|_| (0..specs).map(|_| Vec::new()).collect())
        .collect();
    for (spec, mut socks) in matched.into_iter().enumerate() {
        // The old core order: the same core number gets the same socket back where it can.
        socks.sort_by_key(|r| r.core);
        for (j, r) in socks.into_iter().enumerate() {
            if let Some(slot) = out.get_mut(j % nbthread).and_then(|c| c.get_mut(spec)) {
                slot.push(r.fd);
            }
        }
    }
    out
}

/// One core's listeners for a bind: the adopted ones, else a new one; each recorded for a
/// later `_getsocks` when `export` names this core.
pub fn open(
    addr: SocketAddr,
    adopted: Vec<OwnedFd>,
    export: Option<usize>,
) -> std::io::Result<Vec<monoio::net::TcpListener>> {
    let std_listeners = if adopted.is_empty() {
        vec![crate::net::listener(addr)?]
    } else {
        // As new listeners have it (net::listener): an old process's may predate that, and its
        // accepted connections would go without.
        let adopted: Vec<std::net::TcpListener> = adopted
            .into_iter()
            .map(std::net::TcpListener::from)
            .collect();
        for l in &adopted {
            crate::net::set_accepted_nodelay(l)?;
        }
        adopted
    };
    let mut out = Vec::with_capacity(std_listeners.len());
    for l in std_listeners {
        // As new listeners are (net::bound_socket): the legacy driver needs it, and an old
        // process's may predate that.
        l.set_nonblocking(true)?;
        if let Some(core) = export {
            handover::export(core, &l);
        }
        out.push(monoio::net::TcpListener::from_std(l)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv(core: u32) -> Received {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        Received {
            fd: l.into(),
            addr,
            core,
        }
    }

    #[test]
    fn adopted_listeners_get_tcp_nodelay() {
        let old = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = old.local_addr().unwrap();
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let got = open(addr, vec![old.into()], None).unwrap();
            assert_eq!(got.len(), 1);
            use std::os::fd::AsRawFd;
            // SAFETY: the listener's descriptor, open for as long as `got` lives.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(got[0].as_raw_fd()) };
            let nodelay = socket2::SockRef::from(&fd).nodelay().unwrap();
            assert!(nodelay, "accepted connections would have Nagle on");
        });
    }

    #[test]
    fn fewer_cores_adopt_every_old_socket() {
        let out = spread(vec![vec![recv(2), recv(0), recv(1)]], 2);
        assert_eq!(out[0][0].len(), 2);
        assert_eq!(out[1][0].len(), 1);
    }

    #[test]
    fn more_cores_leave_some_to_bind_their_own() {
        let out = spread(vec![vec![recv(0)], vec![]], 3);
        assert_eq!(out[0][0].len(), 1);
        assert!(out[1][0].is_empty() && out[2][0].is_empty() && out[0][1].is_empty());
    }
}
