//! CONNECT over HTTP/2 (RFC 9113 8.5): once the server answered 2xx, the stream's DATA frames
//! are the bytes the client sends through the tunnel and the server's bytes go back as DATA.
//!
//! Each direction half-closes on its own, as a TCP relay does: the client's END_STREAM shuts
//! the server connection's write side, the server's close ends the stream with an empty DATA
//! frame carrying END_STREAM. A failure on either side (a reset stream, a server error, an
//! idle timeout, `shutdown sessions`) ends both: the server socket is aborted and the stream
//! reset with CANCEL. The client's DATA is acknowledged only once its bytes went to the
//! server, so a slow server slows this stream alone.

use std::cell::Cell;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};

use super::stream::H2Stream;
use crate::io::{timed, IoFail};
use crate::net::Stream;
use crate::worker::notify::Notify;
use crate::worker::sessions::SessInfo;

/// Bytes read from the server at a time.
const TUNNEL_BUF: usize = 16 * 1024;

/// What the two directions share: whether one failed, a wake-up for the other, and when
/// bytes last moved either way (the idle timeouts are the tunnel's, not one direction's: a
/// server that only listens is not idle while the client talks).
struct Shared {
    failed: Cell<bool>,
    wake: Notify,
    activity: Cell<Instant>,
}

impl Shared {
    fn fail(&self) {
        self.failed.set(true);
        self.wake.notify_all();
    }

    fn moved(&self) {
        self.activity.set(Instant::now());
    }

    /// A direction's wait timed out: true when the other one moved bytes meanwhile.
    fn still_active(&self, idle: Option<Duration>) -> bool {
        idle.is_some_and(|d| self.activity.get().elapsed() < d)
    }
}

impl H2Stream {
    /// Relays the tunnel until both directions ended; `idle_client`/`idle_server` bound how
    /// long each side may stay quiet (`timeout tunnel`, else the client's/server's timeout).
    pub async fn tunnel(
        &mut self,
        server: Stream,
        idle_client: Option<Duration>,
        idle_server: Option<Duration>,
        sess: Option<&SessInfo>,
    ) {
        let shared = Shared {
            failed: Cell::new(false),
            wake: Notify::default(),
            activity: Cell::new(Instant::now()),
        };
        let abort_server = server.aborter();
        let (sr, sw) = server.into_split();
        {
            let (body, reply) = self.tunnel_halves();
            let up = client_to_server(body, sw, idle_client, &shared);
            let down = server_to_client(sr, reply, idle_server, &shared);
            let mut both = std::pin::pin!(async { monoio::join!(up, down) });
            match sess {
                None => both.await,
                Some(s) => monoio::select! {
                    r = &mut both => r,
                    _ = s.killed() => {
                        shared.fail();
                        abort_server.abort();
                        both.await
                    }
                },
            }
        };
        if shared.failed.get() {
            abort_server.abort();
            self.reset_tunnel();
        }
    }
}

/// The client's DATA to the server, then its END_STREAM as a write shutdown.
async fn client_to_server<W: AsyncWriteRent>(
    body: &mut h2::RecvStream,
    mut to: W,
    idle: Option<Duration>,
    shared: &Shared,
) {
    loop {
        if shared.failed.get() {
            return;
        }
        let next = monoio::select! {
            d = timed(idle, body.data()) => d,
            _ = shared.wake.notified() => return,
        };
        let data = match next {
            Ok(Some(Ok(d))) => d,
            Err(IoFail::Timeout) if shared.still_active(idle) => continue,
            Ok(None) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(Some(Err(_))) | Err(_) => {
                shared.fail();
                return;
            }
        };
        let n = data.len();
        if n == 0 {
            continue;
        }
        let (res, _) = to.write_all(data).await;
        if res.is_err() {
            shared.fail();
            return;
        }
        shared.moved();
        // The window opens again only now: the bytes are with the server.
        let _ = body.flow_control().release_capacity(n);
    }
}

/// The server's bytes to the client as DATA, then END_STREAM when the server closes.
async fn server_to_client<R: AsyncReadRent>(
    mut from: R,
    reply: &mut super::reply::Reply,
    idle: Option<Duration>,
    shared: &Shared,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(TUNNEL_BUF);
    loop {
        if shared.failed.get() {
            return;
        }
        buf.clear();
        let read = monoio::select! {
            r = timed(idle, from.read(buf.slice_mut(0..TUNNEL_BUF))) => r,
            _ = shared.wake.notified() => return,
        };
        let (res, back) = match read {
            Ok(r) => r,
            Err(IoFail::Timeout) if shared.still_active(idle) => {
                buf = Vec::with_capacity(TUNNEL_BUF);
                continue;
            }
            Err(IoFail::Timeout | IoFail::Io(_)) => {
                shared.fail();
                return;
            }
        };
        buf = back.into_inner();
        match res {
            Ok(0) => {
                if reply.end().is_err() {
                    shared.fail();
                }
                return;
            }
            Ok(n) => {
                if reply.feed(&buf[..n]).await.is_err() {
                    shared.fail();
                    return;
                }
                shared.moved();
            }
            Err(_) => {
                shared.fail();
                return;
            }
        }
    }
}
