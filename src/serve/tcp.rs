//! mode tcp: pick a server, then relay bytes both ways until both sides are done.
//!
//! Half-close is preserved: when one side shuts its write side, the other side's write is shut
//! too, and the opposite direction keeps flowing. Idle timeouts are for the connection as a
//! whole (a quiet direction is fine while the other one moves), as HAProxy's tunnel timeout.

use std::cell::Cell;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::TcpStream;

use super::route::Route;
use crate::config::model::FrontendId;
use crate::io::{timed, IoFail};
use crate::rules::{self, Ctx};
use crate::worker::balance::{hash_bytes, PickKey};
use crate::worker::connect::{acquire, Reuse};
use crate::worker::Worker;

const RELAY_BUF: usize = 16 * 1024;

pub async fn serve(
    w: &Rc<Worker>,
    frontend: FrontendId,
    client: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let Some(fe) = w.model.frontend(frontend) else {
        return;
    };
    let ctx = Ctx::conn(peer, local, &fe.name);
    let Some(backend) = rules::select_backend(fe, &ctx) else {
        return;
    };
    let key = PickKey {
        hash: Some(hash_ip(peer)),
    };
    let Ok(acquired) = acquire(
        w,
        backend,
        key,
        Reuse {
            own: None,
            pool: false,
        },
    )
    .await
    else {
        return;
    };
    let Some(be) = w.model.backend(backend) else {
        return;
    };
    let _lease = acquired.lease;
    let idle = Route::new(fe, be).tunnel_timeouts();
    relay(client, acquired.stream, idle.client, idle.server).await;
}

/// The source-hash key: the client's address without its port.
pub fn hash_ip(peer: SocketAddr) -> u64 {
    match peer.ip() {
        std::net::IpAddr::V4(a) => hash_bytes(&a.octets()),
        std::net::IpAddr::V6(a) => hash_bytes(&a.octets()),
    }
}

/// Copies both directions until each has seen end of stream (or an error, which ends both).
pub async fn relay(
    client: TcpStream,
    server: TcpStream,
    client_idle: Option<Duration>,
    server_idle: Option<Duration>,
) {
    let fds = [client.as_raw_fd(), server.as_raw_fd()];
    let activity = Cell::new(Instant::now());
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = copy_half(cr, sw, client_idle, &activity, fds);
    let down = copy_half(sr, cw, server_idle, &activity, fds);
    monoio::join!(up, down);
}

async fn copy_half<R: AsyncReadRent, W: AsyncWriteRent>(
    mut from: R,
    mut to: W,
    idle: Option<Duration>,
    activity: &Cell<Instant>,
    fds: [RawFd; 2],
) {
    let mut buf: Vec<u8> = Vec::with_capacity(RELAY_BUF);
    loop {
        buf.clear();
        let (res, back) = match timed(idle, from.read(buf.slice_mut(0..RELAY_BUF))).await {
            Ok(r) => r,
            Err(IoFail::Timeout) => {
                if still_active(activity, idle) {
                    buf = Vec::with_capacity(RELAY_BUF);
                    continue;
                }
                return abort(fds);
            }
            Err(IoFail::Io(_)) => return abort(fds),
        };
        buf = back.into_inner();
        match res {
            Ok(0) => {
                // Half-close: pass the end of stream on, keep the other direction going.
                let _ = to.shutdown().await;
                return;
            }
            Ok(_) => {
                activity.set(Instant::now());
                let (res, back) = to.write_all(buf).await;
                buf = back;
                if res.is_err() {
                    return abort(fds);
                }
            }
            Err(_) => return abort(fds),
        }
    }
}

fn still_active(activity: &Cell<Instant>, idle: Option<Duration>) -> bool {
    idle.is_some_and(|d| activity.get().elapsed() < d)
}

/// Ends both directions: a reset or timeout on one side means the relay is over, and the other
/// direction's pending read must return rather than wait forever.
fn abort(fds: [RawFd; 2]) {
    for fd in fds {
        // SAFETY: both descriptors are owned by the split halves still alive in `relay`.
        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
    }
}
