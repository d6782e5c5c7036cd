//! Content inspection (`tcp-request content`, `tcp-response content` with their
//! `inspect-delay`): the first bytes of a stream are held, not forwarded, while the rules
//! wait for enough of them; the caller forwards what is held once the rules let it go.
//!
//! As HAProxy: the rules run on every new chunk with the contents marked partial; they are
//! final (every fetch answers with what there is, `WAIT_END` holds) once the delay is over,
//! the peer closed, or the buffer is full (`tune.bufsize` less the rewrite reserve). Without
//! a delay they run once, at once, on whatever is there.

use std::time::{Duration, Instant};

use crate::config::model::Acl;
use crate::config::model_rules::Dir;
use crate::config::model_tcp::TcpRule;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};

use crate::net::Stream;
use crate::rules::content::{self, Held, Verdict};
use crate::rules::Ctx;

/// What one direction's inspection holds.
#[derive(Default)]
pub struct Hold {
    pub bytes: Vec<u8>,
    /// The peer closed (or failed) while bytes were held: nothing more will come.
    pub closed: bool,
}

/// The rule list to run, and how long it may wait.
pub struct Inspection<'r> {
    pub rules: &'r [TcpRule],
    pub acls: &'r [Acl],
    pub delay: Option<Duration>,
    /// How many bytes may be held before the contents count as final.
    pub limit: usize,
    pub dir: Dir,
}

/// Runs the rules over `hold`, reading more of `from` while a rule waits, until one
/// decides or the contents are final.
pub async fn run(
    from: &mut Stream,
    hold: &mut Hold,
    insp: &Inspection<'_>,
    base: Ctx<'_>,
) -> Verdict {
    run_passing(from, None, hold, insp, base).await.0
}

/// `run` on a server's response while the client's bytes keep going to that server (the
/// request direction is not held by response inspection): returns the verdict and the
/// bytes passed on.
pub async fn run_response(
    server: &mut Stream,
    client: &mut Stream,
    hold: &mut Hold,
    insp: &Inspection<'_>,
    base: Ctx<'_>,
) -> (Verdict, u64) {
    run_passing(server, Some(client), hold, insp, base).await
}

async fn run_passing(
    from: &mut Stream,
    mut pass: Option<&mut Stream>,
    hold: &mut Hold,
    insp: &Inspection<'_>,
    base: Ctx<'_>,
) -> (Verdict, u64) {
    let deadline = insp.delay.map(|d| Instant::now() + d);
    let mut passed = 0u64;
    loop {
        let over = deadline.is_none_or(|d| Instant::now() >= d);
        let last = over || hold.closed || hold.bytes.len() >= insp.limit;
        let verdict = {
            let held = Held {
                req: (insp.dir == Dir::Req).then_some(&hold.bytes[..]),
                res: (insp.dir == Dir::Res).then_some(&hold.bytes[..]),
                last,
            };
            let ctx = Ctx {
                content: Some(held),
                ..base
            };
            content::run(insp.rules, insp.acls, &ctx).verdict
        };
        if verdict != Verdict::Wait || last {
            // A miss when final cannot happen (every fetch is final): treated as no verdict.
            let v = if verdict == Verdict::Wait {
                Verdict::Accept
            } else {
                verdict
            };
            return (v, passed);
        }
        let left = deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        match pass.as_deref_mut() {
            None => read_more(from, hold, insp.limit, left).await,
            Some(other) => match wait_either(from, other, left).await {
                First::Held => read_ready(from, hold, insp.limit).await,
                First::Other => match pass_on(other, from).await {
                    Some(n) => passed += n,
                    // The other side is done: its end goes on, and it is no longer watched.
                    None => pass = None,
                },
                First::Late => {}
            },
        }
    }
}

enum First {
    Held,
    Other,
    Late,
}

/// Which stream has bytes first (waits on readiness only: nothing is read, so nothing is lost
/// when the other one wins).
async fn wait_either(held: &Stream, other: &Stream, left: Duration) -> First {
    monoio::select! {
        _ = held.readable(false) => First::Held,
        _ = other.readable(false) => First::Other,
        _ = monoio::time::sleep(left) => First::Late,
    }
}

/// Reads what `from` has ready into the hold.
async fn read_ready(from: &mut Stream, hold: &mut Hold, limit: usize) {
    let room = limit.saturating_sub(hold.bytes.len()).max(1);
    let (res, buf) = from.read(Vec::with_capacity(room)).await;
    match res {
        Ok(0) | Err(_) => hold.closed = true,
        Ok(_) => hold.bytes.extend_from_slice(&buf),
    }
}

/// Copies what `from` has ready to `to`; `None` at its end (passed on as a shutdown).
async fn pass_on(from: &mut Stream, to: &mut Stream) -> Option<u64> {
    let (res, buf) = from.read(Vec::with_capacity(PASS_BUF)).await;
    match res {
        Ok(n) if n > 0 => {
            let (w, _) = to.write_all(buf).await;
            w.ok().map(|_| n as u64)
        }
        _ => {
            let _ = to.shutdown().await;
            None
        }
    }
}

/// One read of the direction that is not held.
const PASS_BUF: usize = 16 * 1024;

/// Appends what arrives within `left` to the hold, without losing bytes that come as the
/// wait ends (`read_or_shed`).
async fn read_more(from: &mut Stream, hold: &mut Hold, limit: usize, left: Duration) {
    let room = limit.saturating_sub(hold.bytes.len()).max(1);
    let buf = Vec::with_capacity(room);
    let (res, buf) = from.read_or_shed(buf, monoio::time::sleep(left)).await;
    match res {
        None => {}
        Some(Ok(0)) | Some(Err(_)) => hold.closed = true,
        Some(Ok(_)) => hold.bytes.extend_from_slice(&buf),
    }
}
