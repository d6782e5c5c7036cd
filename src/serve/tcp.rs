//! mode tcp: pick a server, then relay bytes both ways until both sides are done.
//!
//! Half-close is preserved: when one side shuts its write side, the other side's write is shut
//! too, and the opposite direction keeps flowing. Idle timeouts are for the connection as a
//! whole (a quiet direction is fine while the other one moves), as HAProxy's tunnel timeout.
//!
//! A mode tcp connection ends in one record (record/, printed in HAProxy's tcplog layout by
//! `ringlb -d`): Tw, Tc, Tt, the bytes each way, and why it ended (`Relayed`).

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};

use super::inspect::{self, Hold, Inspection};
use super::record::{self, By, Marks, Phase, RequestRecord, TermState};
use super::route::Route;
use crate::config::model::{Backend, BackendId, Frontend, FrontendId, Mode, Proxy};
use crate::config::model_rules::Dir as Side;
use crate::io::{timed, IoFail};
use crate::net::{Aborter, Stream};
use crate::rules::content::{Held, Verdict};
use crate::rules::{self, Ctx};
use crate::worker::balance::{hash_bytes, PickKey};
use crate::worker::connect::{acquire_traced, sni_values, ConnectTrace, Origin, Reuse};
use crate::worker::sessions::SessInfo;
use crate::worker::Worker;

const RELAY_BUF: usize = 16 * 1024;

pub async fn serve(w: &Rc<Worker>, frontend: FrontendId, mut client: Stream) {
    let Some(fe) = w.model.frontend(frontend) else {
        return;
    };
    let (peer, local) = (client.peer_addr(), client.local_addr());
    // Listed by `show sess` until the connection ends.
    let sess = w.sessions.open(frontend, peer);
    let mut rec = tcp_record(frontend, peer);
    rec.local = Some(local);
    rec.marks.handshake = client.handshake_time();
    rec.tls = client.tls_facts().is_some();
    let limit = w
        .model
        .global
        .bufsize
        .saturating_sub(w.model.global.rewrite_reserve)
        .max(1);
    let mut hold = Hold::default();
    let verdict = inspect_with(&mut client, &mut hold, fe, limit).await;
    if verdict.refuses() {
        return refused(w, &mut rec, verdict, client);
    }
    let routed = {
        let ctx = Ctx {
            content: Some(Held {
                req: Some(&hold.bytes),
                res: None,
                last: true,
            }),
            ..Ctx::conn(peer, local, &fe.name, client.tls_facts())
        };
        rules::select_backend(fe, &ctx).map(|b| (b, backend_sni(w, b, &ctx)))
    };
    let Some((backend, sni)) = routed else {
        rec.end(TermState::new(By::Server, Phase::Connect));
        record::end_request(w, &mut rec);
        return;
    };
    rec.backend = Some(backend);
    sess.info.route(backend, None);
    let Some(be) = w.model.backend(backend) else {
        return;
    };
    if !Route::new(fe, be).same_proxy() {
        let verdict = inspect_with(&mut client, &mut hold, be, limit).await;
        if verdict.refuses() {
            return refused(w, &mut rec, verdict, client);
        }
    }
    let Some(acquired) = connect(w, &mut rec, &sess.info, (backend, peer, sni), &client).await
    else {
        return;
    };
    let _lease = acquired.lease;
    let held = std::mem::take(&mut hold.bytes);
    let ends = (client, acquired.stream);
    Box::pin(forward_and_relay(
        w,
        &mut rec,
        &sess.info,
        ends,
        held,
        (fe, be),
        limit,
    ))
    .await;
}

/// A server connection for the backend, as its balancing and retries give it; `None` when
/// there is none (the record is ended then).
async fn connect(
    w: &Worker,
    rec: &mut RequestRecord,
    sess: &SessInfo,
    (backend, peer, sni): (BackendId, SocketAddr, Vec<Option<String>>),
    client: &Stream,
) -> Option<crate::worker::connect::Acquired> {
    let key = PickKey {
        hash: Some(hash_ip(peer)),
    };
    let reuse = Reuse {
        sni,
        origin: Some(Origin::of(client)),
        ..Reuse::default()
    };
    let mut trace = ConnectTrace::default();
    let acquired = acquire_traced(w, backend, key, reuse, &mut trace).await;
    rec.marks.slot = trace.slot;
    rec.marks.connected = trace.connected;
    rec.server = trace.server;
    rec.added_server = trace.added_name.take();
    rec.server_addr = trace.addr;
    sess.route(backend, trace.server);
    rec.retries = trace.retries;
    rec.redispatched = trace.redispatched;
    match acquired {
        Ok(a) => Some(a),
        Err(e) => {
            rec.end(record::connect_failed(e));
            record::end_request(w, rec);
            None
        }
    }
}

/// Sends what inspection held first, as it came, runs the response rules, then relays both
/// ways until the connection ends; ends the record.
async fn forward_and_relay(
    w: &Worker,
    rec: &mut RequestRecord,
    sess: &SessInfo,
    (mut client, mut server): (Stream, Stream),
    held: Vec<u8>,
    (fe, be): (&Frontend, &Backend),
    limit: usize,
) {
    let idle = Route::new(fe, be).tunnel_timeouts();
    let held_len = held.len() as u64;
    if !held.is_empty() && server.write_all(held).await.0.is_err() {
        rec.end(TermState::new(By::Server, Phase::Data));
        record::end_request(w, rec);
        return;
    }
    let mut sent_back = 0;
    if !be.tcp.response.is_empty() {
        let inspected = inspect_response(w, rec, &mut client, &mut server, be, limit);
        match Box::pin(inspected).await {
            Some(n) => sent_back = n,
            None => return,
        }
    }
    let relayed = relay(client, server, idle.client, idle.server, Some(sess)).await;
    rec.bytes_in += held_len + relayed.up;
    rec.bytes_out = sent_back + relayed.down;
    if let Some(cause) = relayed.cause {
        rec.end(cause);
    }
    record::end_request(w, rec);
}

/// The request-dependent SNI values of the backend's servers, from the connection.
fn backend_sni(w: &Worker, backend: BackendId, ctx: &Ctx) -> Vec<Option<String>> {
    match w.model.backend(backend) {
        Some(be) if !be.sni_exprs.is_empty() => sni_values(be, ctx),
        _ => Vec::new(),
    }
}

/// Runs a proxy's `tcp-request content` rules over the client's first bytes (none: accept).
/// The inspection's future is boxed: a task is as large as its largest await for as long as
/// the connection lives, and connections without rules should not pay for it.
async fn inspect_with(client: &mut Stream, hold: &mut Hold, p: &Proxy, limit: usize) -> Verdict {
    if p.tcp.content.is_empty() {
        return Verdict::Accept;
    }
    Box::pin(inspect_boxed(client, hold, p, limit)).await
}

async fn inspect_boxed(client: &mut Stream, hold: &mut Hold, p: &Proxy, limit: usize) -> Verdict {
    // The handshake's facts, copied: the stream is read meanwhile.
    let facts = client.tls_facts().cloned();
    let (peer, local) = (client.peer_addr(), client.local_addr());
    let base = Ctx::conn(peer, local, &p.name, facts.as_ref());
    let insp = Inspection {
        rules: &p.tcp.content,
        acls: &p.acls,
        delay: p.tcp.inspect_delay,
        limit,
        dir: Side::Req,
    };
    inspect::run(client, hold, &insp, base).await
}

/// Ends a connection a content rule refused (`reject`, `silent-drop`): `PR` in the log and
/// a denied request for the frontend (and the backend, once chosen), as HAProxy counts it.
fn refused(w: &Worker, rec: &mut RequestRecord, v: Verdict, client: Stream) {
    if v == Verdict::SilentDrop {
        client.silent_drop();
    } else {
        drop(client);
    }
    rec.end(TermState::new(By::Proxy, Phase::Request));
    rec.tcp_refused = true;
    record::end_request(w, rec);
}

/// `tcp-response content` rules over the server's first bytes: `Some(bytes sent on)` to
/// relay the rest, `None` when a rule ended the connection (the record is ended then).
async fn inspect_response(
    w: &Worker,
    rec: &mut RequestRecord,
    client: &mut Stream,
    server: &mut Stream,
    be: &Backend,
    limit: usize,
) -> Option<u64> {
    let facts = client.tls_facts().cloned();
    let base = Ctx::conn(
        client.peer_addr(),
        client.local_addr(),
        &be.name,
        facts.as_ref(),
    );
    let insp = Inspection {
        rules: &be.tcp.response,
        acls: &be.acls,
        delay: be.tcp.response_delay,
        limit,
        dir: Side::Res,
    };
    let mut hold = Hold::default();
    let (v, up) = inspect::run_response(server, client, &mut hold, &insp, base).await;
    rec.bytes_in += up;
    let end = |rec: &mut RequestRecord, by: By| {
        rec.end(TermState::new(by, Phase::Data));
        record::end_request(w, rec);
        None
    };
    match v {
        Verdict::Reject | Verdict::SilentDrop => {
            if let Some(b) = rec.backend {
                w.stats.response_denied(rec.frontend, b);
            }
            end(rec, By::Proxy)
        }
        // `close`: the exchange is over; the server connection goes.
        Verdict::Close => end(rec, By::Proxy),
        Verdict::Accept | Verdict::Wait => {
            let n = hold.bytes.len() as u64;
            if n > 0 && client.write_all(hold.bytes).await.0.is_err() {
                return end(rec, By::Client);
            }
            Some(n)
        }
    }
}

/// The record of a mode tcp connection, from its accept (now): no request head, so the
/// queue wait (Tw) counts from the accept too.
fn tcp_record(frontend: FrontendId, peer: SocketAddr) -> RequestRecord {
    let accepted = Instant::now();
    let marks = Marks {
        start: Some(accepted),
        head: Some(accepted),
        queued: true,
        ..Marks::new(accepted)
    };
    RequestRecord {
        mode: Mode::Tcp,
        ..RequestRecord::new(frontend, peer, marks)
    }
}

/// What a relay moved each way, and why it ended (`None`: both sides closed normally).
pub struct Relayed {
    /// Client to server.
    pub up: u64,
    /// Server to client.
    pub down: u64,
    pub cause: Option<TermState>,
}

/// Which way a half of the relay copies, for the termination state of its failures.
#[derive(Clone, Copy)]
enum Dir {
    /// Client to server: a failed read is the client's, a failed write the server's.
    Up,
    Down,
}

impl Dir {
    fn read_failed(self, timed_out: bool) -> TermState {
        let by = match (self, timed_out) {
            (Dir::Up, false) => By::Client,
            (Dir::Up, true) => By::ClientTimeout,
            (Dir::Down, false) => By::Server,
            (Dir::Down, true) => By::ServerTimeout,
        };
        TermState::new(by, Phase::Data)
    }

    fn write_failed(self) -> TermState {
        let by = match self {
            Dir::Up => By::Server,
            Dir::Down => By::Client,
        };
        TermState::new(by, Phase::Data)
    }
}

/// The source-hash key: the client's address without its port.
pub fn hash_ip(peer: SocketAddr) -> u64 {
    match peer.ip() {
        std::net::IpAddr::V4(a) => hash_bytes(&a.octets()),
        std::net::IpAddr::V6(a) => hash_bytes(&a.octets()),
    }
}

/// Copies both directions until each has seen end of stream (or an error, which ends both),
/// or until `sess` is killed (`shutdown sessions server`: both connections are shut, `K`).
pub async fn relay(
    client: Stream,
    server: Stream,
    client_idle: Option<Duration>,
    server_idle: Option<Duration>,
    sess: Option<&SessInfo>,
) -> Relayed {
    let ends = [client.aborter(), server.aborter()];
    let activity = Cell::new(Instant::now());
    // The first failure of either half: the one that aborted the relay.
    let cause = Cell::new(None);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let halves = Halves {
        activity: &activity,
        cause: &cause,
        ends,
    };
    let up = copy_half(cr, sw, client_idle, &halves, Dir::Up);
    let down = copy_half(sr, cw, server_idle, &halves, Dir::Down);
    let mut both = std::pin::pin!(async { monoio::join!(up, down) });
    let (up, down) = match sess {
        None => both.await,
        Some(s) => monoio::select! {
            r = &mut both => r,
            _ = s.killed() => {
                // Shut both sockets, then let the halves see it and end as they do.
                halves.abort(TermState::new(By::Killed, Phase::Data));
                both.await
            }
        },
    };
    Relayed {
        up,
        down,
        cause: cause.get(),
    }
}

/// What the two halves of a relay share.
struct Halves<'a> {
    /// The last time either direction moved bytes.
    activity: &'a Cell<Instant>,
    cause: &'a Cell<Option<TermState>>,
    /// Both connections' aborters: a failure on one side ends both directions.
    ends: [Aborter; 2],
}

impl Halves<'_> {
    /// Ends the relay for `why`, unless an earlier failure did already.
    fn abort(&self, why: TermState) {
        if self.cause.get().is_none() {
            self.cause.set(Some(why));
        }
        for end in &self.ends {
            end.abort();
        }
    }
}

/// Copies one direction; returns the bytes written.
async fn copy_half<R: AsyncReadRent, W: AsyncWriteRent>(
    mut from: R,
    mut to: W,
    idle: Option<Duration>,
    halves: &Halves<'_>,
    dir: Dir,
) -> u64 {
    let mut buf: Vec<u8> = Vec::with_capacity(RELAY_BUF);
    let mut moved = 0u64;
    loop {
        buf.clear();
        let (res, back) = match timed(idle, from.read(buf.slice_mut(0..RELAY_BUF))).await {
            Ok(r) => r,
            Err(IoFail::Timeout) => {
                if still_active(halves.activity, idle) {
                    buf = Vec::with_capacity(RELAY_BUF);
                    continue;
                }
                halves.abort(dir.read_failed(true));
                return moved;
            }
            Err(IoFail::Io(_)) => {
                halves.abort(dir.read_failed(false));
                return moved;
            }
        };
        buf = back.into_inner();
        match res {
            Ok(0) => {
                // Half-close: pass the end of stream on, keep the other direction going.
                let _ = to.shutdown().await;
                return moved;
            }
            Ok(n) => {
                halves.activity.set(Instant::now());
                let (res, back) = to.write_all(buf).await;
                buf = back;
                if res.is_err() {
                    halves.abort(dir.write_failed());
                    return moved;
                }
                moved += n as u64;
            }
            Err(_) => {
                halves.abort(dir.read_failed(false));
                return moved;
            }
        }
    }
}

fn still_active(activity: &Cell<Instant>, idle: Option<Duration>) -> bool {
    idle.is_some_and(|d| activity.get().elapsed() < d)
}
