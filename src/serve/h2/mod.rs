//! HTTP/2 on the frontend: the connection level beside h1.rs, one `Session` per stream.
//!
//! ```text
//!  mod.rs     the connection: SETTINGS from tune.h2.*, flood limits, the accept loop (one
//!             task per stream), GOAWAY on `timeout client` idle, on a soft stop or reload
//!             (open streams finish) and on a flood (ENHANCE_YOUR_CALM)
//!  io.rs      `PollStream`: a `net::Stream` (TCP, TLS, in-memory) as the tokio I/O traits
//!             h2 speaks, driven by monoio futures: no tokio runtime
//!  flood.rs   frames h2 does not rate-limit itself (PING, SETTINGS, PRIORITY, empty DATA...)
//!  stream.rs  `H2Stream`: one stream as a `Downstream`; request bodies to the server
//!  head.rs    the request head as HTTP/1.1 bytes; RFC 9113 8.2 / 8.3.1 checks
//!  reply.rs   the pipeline's HTTP/1 response -> HEADERS, DATA, trailers, under flow control
//!  resp.rs    HTTP/1 response heads and trailers read back (pure)
//!  tunnel.rs  CONNECT (RFC 9113 8.5): after a 2xx, DATA both ways until both ends closed
//! ```
//!
//! The `h2` crate keeps each connection's state behind a Mutex its handles share. Here the
//! connection, its streams' handles and their tasks all live on the core that accepted the
//! connection, so that Mutex is only ever taken by one thread: uncontended, never shared
//! across cores.

mod flood;
mod head;
mod io;
mod reply;
mod resp;
mod stream;
mod tunnel;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::server::{Connection, SendResponse};
use h2::{Reason, RecvStream};

use super::{Session, Work};
use crate::config::model::{FrontendId, Global};
use crate::io::timed;
use crate::net::Stream;
use crate::tls::facts::ConnFacts;
use crate::worker::notify::Notify;
use crate::worker::Worker;
use flood::FrameCounter;
use io::PollStream;
use stream::H2Stream;

/// Rapid Reset (CVE-2023-44487): streams the client may open and reset before ringlb takes
/// them, and streams ringlb may reset for the client's errors, before GOAWAY. h2's defaults,
/// written out so that they stay on whatever h2 does next.
const MAX_PENDING_ACCEPT_RESETS: usize = 20;
const MAX_LOCAL_ERROR_RESETS: usize = 1024;
/// Encoded DATA h2 buffers per stream before `poll_capacity` waits.
const SEND_BUFFER: usize = 64 * 1024;
/// Request states an HTTP/2 connection keeps for its next streams: enough for a burst of
/// a browser's page, few enough that an idle connection holds little (their buffers are
/// released at the end of each request; their header lists stay).
const SPARE_WORK: usize = 8;
/// How long a connection that was sent GOAWAY and has no stream left may stay.
const GOODBYE_LINGER: Duration = Duration::from_secs(2);

/// What a connection's streams share: its addresses and TLS facts, the settings they need,
/// and the count of streams in flight (an idle connection is one with none).
pub(super) struct Conn {
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub tls: Option<ConnFacts>,
    pub handshake: Duration,
    pub client_timeout: Option<Duration>,
    pub bufsize: usize,
    active: Cell<usize>,
    idle_since: Cell<Instant>,
    /// Woken when the last stream in flight ends.
    ended: Notify,
    /// Request states of ended streams, whose lists and buffers keep their capacity for the
    /// next streams (as an HTTP/1 connection keeps one between requests). Boxed: a `Session`
    /// takes and gives back its `Work` in a box, which then moves without copying.
    #[allow(clippy::vec_box)]
    spare: std::cell::RefCell<Vec<Box<Work>>>,
    /// `sess.*` variables, shared by the connection's streams (each takes them when its
    /// rules start and leaves its own when it ends).
    pub sess_vars: std::cell::RefCell<crate::rules::Vars>,
}

/// Serves one client connection as HTTP/2.
pub fn serve(w: &Rc<Worker>, frontend: FrontendId, client: Stream) -> impl Future<Output = ()> {
    run(Rc::clone(w), frontend, client, Vec::new())
}

/// Serves as HTTP/2 a connection read as HTTP/1 until its first bytes showed the preface:
/// `early` holds them.
pub fn serve_after_preface(
    w: &Rc<Worker>,
    frontend: FrontendId,
    client: Stream,
    early: Vec<u8>,
) -> impl Future<Output = ()> {
    run(Rc::clone(w), frontend, client, early)
}

/// The server side of h2 as `tune.h2.*` and `tune.bufsize` say.
fn builder(g: &Global) -> h2::server::Builder {
    let t = &g.h2;
    let mut b = h2::server::Builder::new();
    let streams = t.max_concurrent_streams;
    // The connection window covers every stream's: one slow stream cannot hold the others'.
    let conn_window = u64::from(t.initial_window_size) * u64::from(streams.clamp(1, 100));
    b.header_table_size(t.header_table_size)
        .initial_window_size(t.initial_window_size)
        .initial_connection_window_size(conn_window.min((1 << 31) - 1) as u32)
        .max_concurrent_streams(streams)
        .max_frame_size(t.max_frame_size)
        // HPACK bombs and CONTINUATION floods: a head larger than a buffer is refused while
        // it is decoded.
        .max_header_list_size(u32::try_from(g.bufsize).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(SEND_BUFFER);
    b
}

async fn run(w: Rc<Worker>, frontend: FrontendId, client: Stream, early: Vec<u8>) {
    let Some(fe) = w.model.frontend(frontend) else {
        return;
    };
    let conn = Rc::new(Conn {
        peer: client.peer_addr(),
        local: client.local_addr(),
        tls: client.tls_facts().cloned(),
        handshake: client.handshake_time(),
        client_timeout: fe.timeouts.client,
        bufsize: w.model.global.bufsize,
        active: Cell::new(0),
        idle_since: Cell::new(Instant::now()),
        ended: Notify::default(),
        spare: std::cell::RefCell::new(Vec::new()),
        sess_vars: std::cell::RefCell::default(),
    });
    let frames = Rc::new(FrameCounter::default());
    let io = PollStream::new(client, early, fe.timeouts.client, Rc::clone(&frames));
    // The client's preface and SETTINGS within `timeout client`.
    let h2 = match timed(fe.timeouts.client, builder(&w.model.global).handshake(io)).await {
        Ok(Ok(c)) => c,
        _ => return,
    };
    accept_streams(&w, frontend, &conn, &frames, h2).await;
}

/// Takes the client's streams until the connection ends; each gets its own task. Also polls
/// the connection (h2 makes progress for every stream only while it is polled), also after
/// a GOAWAY, until the streams still open have finished.
async fn accept_streams(
    w: &Rc<Worker>,
    frontend: FrontendId,
    conn: &Rc<Conn>,
    frames: &FrameCounter,
    mut h2: Connection<PollStream, Bytes>,
) {
    let mut served = 0u32;
    // Since when GOAWAY was sent.
    let mut going_away: Option<Instant> = None;
    loop {
        let idle_left = idle_left(conn);
        let goodbye = if frames.is_flooded() {
            Some(Reason::ENHANCE_YOUR_CALM)
        } else if w.is_stopping() || idle_left.is_some_and(|l| l.is_zero()) {
            Some(Reason::NO_ERROR)
        } else {
            None
        };
        if let (Some(reason), None) = (goodbye, going_away) {
            say_goodbye(&mut h2, reason);
            going_away = Some(Instant::now());
        }
        if going_away.is_some_and(|t| lingered(conn, t)) {
            break;
        }
        // No timer while streams are in flight (the end of each wakes this loop).
        let sleep_for = match going_away {
            Some(_) => Some(GOODBYE_LINGER),
            None => idle_left,
        };
        // True when the connection is over; the other wake-ups only make the loop look again.
        let over = monoio::select! {
            s = h2.accept() => match s {
                Some(Ok((req, respond))) => {
                    start_stream(w, frontend, conn, req, respond, served);
                    served = served.saturating_add(1);
                    false
                }
                _ => true,
            },
            _ = w.stop.notified(), if going_away.is_none() => false,
            _ = frames.notify.notified() => false,
            _ = conn.ended.notified() => false,
            _ = sleep_or_never(sleep_for) => false,
        };
        if over {
            break;
        }
    }
}

/// A timer only when there is something to time: a monoio timer costs a wheel insertion and
/// removal, and the accept loop turns once per stream.
async fn sleep_or_never(d: Option<Duration>) {
    match d {
        Some(d) => monoio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// GOAWAY: graceful (NO_ERROR: streams already open finish; h2 sends the final GOAWAY after a
/// PING round trip), or at once for a flood.
fn say_goodbye(h2: &mut Connection<PollStream, Bytes>, reason: Reason) {
    if reason == Reason::NO_ERROR {
        h2.graceful_shutdown();
    } else {
        h2.abrupt_shutdown(reason);
    }
}

/// After GOAWAY, with no stream left, a client that does not close (or answer the PING that
/// ends a graceful shutdown) is given `GOODBYE_LINGER`, then dropped.
fn lingered(conn: &Conn, since: Instant) -> bool {
    conn.active.get() == 0 && since.elapsed() >= GOODBYE_LINGER
}

/// With no stream in flight, how long until the connection has been idle for `timeout
/// client`: HAProxy closes such a connection then (GOAWAY first). None while streams are in
/// flight or without the timeout.
fn idle_left(conn: &Conn) -> Option<Duration> {
    let limit = conn.client_timeout?;
    (conn.active.get() == 0).then(|| limit.saturating_sub(conn.idle_since.get().elapsed()))
}

/// Counts a stream in flight for as long as it lives.
struct InFlight(Rc<Conn>);

impl InFlight {
    fn new(conn: &Rc<Conn>) -> Self {
        conn.active.set(conn.active.get() + 1);
        InFlight(Rc::clone(conn))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        let left = c.active.get().saturating_sub(1);
        c.active.set(left);
        if left == 0 {
            // Only the last one: the accept loop then starts timing the idle connection.
            c.idle_since.set(Instant::now());
            c.ended.notify_all();
        }
    }
}

/// One stream, one task, one `Session`: the same pipeline as an HTTP/1 request.
fn start_stream(
    w: &Rc<Worker>,
    frontend: FrontendId,
    conn: &Rc<Conn>,
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    served: u32,
) {
    let w = Rc::clone(w);
    let in_flight = InFlight::new(conn);
    monoio::spawn(async move {
        let _in_flight = &in_flight;
        let Some(fe) = w.model.frontend(frontend) else {
            return;
        };
        let mut ds = H2Stream::new(Rc::clone(&in_flight.0), req, respond, served);
        let conn = &in_flight.0;
        let work = conn.spare.borrow_mut().pop();
        let peer = super::downstream::Downstream::peer(&ds);
        ds.sess = Some(w.sessions.open(frontend, peer));
        let session = Session::new(&w, fe, frontend, &mut ds, work);
        // Whatever the pipeline says of the connection (keep-alive, close, a tunnel, which
        // HTTP/2 cannot ask for) ends this stream only. Boxed: monoio's spawn copies a task's
        // whole future twice (measured: inlining the pipeline here made each spawn copy it,
        // more than the box's one copy costs). A stream ended by `shutdown sessions server`
        // is reset by `finish`; the connection's other streams go on.
        let (next, work, _) = Box::pin(session.serve()).await;
        if let super::Next::Tunnel {
            server,
            lease,
            idle_client,
            idle_server,
        } = next
        {
            // A 2xx answer to CONNECT: the request's record ended when the tunnel started.
            let sess = ds.sess.take();
            let info = sess.as_ref().map(|g| &*g.info);
            let _ = Box::pin(ds.tunnel(server, idle_client, idle_server, info)).await;
            drop(lease);
        }
        ds.finish();
        let mut spare = conn.spare.borrow_mut();
        if spare.len() < SPARE_WORK {
            spare.push(work);
        }
    });
}
