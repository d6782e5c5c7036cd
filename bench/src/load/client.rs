//! The load itself: one thread's runtime and its connections, each a loop of
//! wait (open loop) -> send -> read the whole response -> record.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::ClientConfig;

use super::http::{self, Chunked, Framing, Head};
use super::schedule::Schedule;
use super::stats::{ErrorKind, Stats};
use super::stream::{ConnectError, Stream, Target};

/// Initial read buffer of a connection.
const READ_BUF: usize = 64 * 1024;
/// Read more only when at least this much room is left; otherwise compact first.
const MIN_READ_ROOM: usize = 4 * 1024;
/// Pause after a failed connect, so a dead target does not turn the loop into a spin.
const CONNECT_RETRY: Duration = Duration::from_millis(10);

/// Everything the connections of all threads share, immutable during the run.
pub struct Plan {
    pub target: Target,
    pub request: Bytes,
    pub expects_body: bool,
    pub close: bool,
    pub conns: usize,
    /// Open loop: requests per second over all connections.
    pub rate: Option<f64>,
    pub start: Instant,
    /// Requests sent (closed loop) or intended (open loop) before this are warm-up.
    pub measure_from: Instant,
    /// The end of the measured window; `None` with `--requests`.
    pub end: Option<Instant>,
    pub timeout: Duration,
}

/// Counters read by the progress line while the run goes on.
#[derive(Default)]
pub struct Live {
    pub completed: AtomicU64,
    pub errors: AtomicU64,
    /// `--requests`: requests still to send; the run stops when none are left.
    pub budget: Option<AtomicU64>,
    pub stop: AtomicBool,
    /// Latest completion in ns after `start` (for the window of `--requests` runs).
    pub last_done_ns: AtomicU64,
}

impl Live {
    fn take_one(&self) -> bool {
        match &self.budget {
            None => true,
            Some(b) => b
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// Runs connections `first..first+count` of the plan on this thread's runtime.
pub async fn run_thread(plan: Arc<Plan>, live: Arc<Live>, first: usize, count: usize) -> Stats {
    let stats = Rc::new(RefCell::new(Stats::default()));
    let tasks: Vec<_> = (first..first + count)
        .map(|i| monoio::spawn(run_conn(plan.clone(), live.clone(), stats.clone(), i)))
        .collect();
    for t in tasks {
        t.await;
    }
    Rc::try_unwrap(stats).map_or_else(
        |rc| std::mem::take(&mut *rc.borrow_mut()),
        |c| c.into_inner(),
    )
}

/// What became of one request.
enum Outcome {
    /// A complete response.
    Done(Head),
    Failed(ErrorKind),
    /// The measured window ended first.
    Cut,
}

struct Conn {
    stream: Option<Stream>,
    /// This connection's TLS config, the same for all its reconnects (its session store).
    tls: Option<Arc<ClientConfig>>,
    /// Set by a connect that ran a TLS handshake: whether it resumed; taken when recorded.
    handshake: Option<bool>,
    buf: Vec<u8>,
    /// Unconsumed data is `buf[pos..]`.
    pos: usize,
}

/// The most of a timer wake-up's lateness not counted as latency (see `run_conn`).
const TIMER_SLACK: Duration = Duration::from_millis(2);

async fn run_conn(plan: Arc<Plan>, live: Arc<Live>, stats: Rc<RefCell<Stats>>, index: usize) {
    let mut schedule = plan
        .rate
        .map(|r| Schedule::new(plan.start, r, plan.conns, index));
    let mut conn = Conn {
        stream: None,
        tls: plan.target.conn_tls(),
        handshake: None,
        buf: Vec::with_capacity(READ_BUF),
        pos: 0,
    };
    loop {
        if live.stop.load(Ordering::Relaxed) {
            break;
        }
        let intended = match &mut schedule {
            Some(s) => {
                let t = s.take();
                if plan.end.is_some_and(|end| t >= end) {
                    break;
                }
                // monoio's timer wheel has millisecond ticks, so a wait wakes up to ~2 ms
                // after `t`. That lateness is the harness's own, not the server's: when this
                // connection was idle and waited on its timer, latency counts from the
                // wake-up, forgiving at most TIMER_SLACK (a load generator starved for
                // longer still shows it). When the server made it late (no wait), it
                // counts from `t`, so coordinated omission cannot hide a slow server.
                if t > Instant::now() {
                    monoio::time::sleep_until(monoio::time::Instant::from_std(t)).await;
                    Instant::now().clamp(t, t + TIMER_SLACK)
                } else {
                    t
                }
            }
            None => Instant::now(),
        };
        if intended >= plan.measure_from && !live.take_one() {
            break;
        }
        let deadline = match plan.end {
            Some(end) => end.min(Instant::now() + plan.timeout),
            None => Instant::now() + plan.timeout,
        };
        let outcome = match monoio::time::timeout_at(
            monoio::time::Instant::from_std(deadline),
            exchange(&plan, &mut conn, &stats),
        )
        .await
        {
            Ok(o) => o,
            Err(_) if plan.end.is_some_and(|end| Instant::now() >= end) => Outcome::Cut,
            Err(_) => Outcome::Failed(ErrorKind::Timeout),
        };
        let done = Instant::now();
        let measured = intended >= plan.measure_from;
        // The stats borrow ends with this block, before any await.
        let pause = {
            let mut pause = false;
            let mut st = stats.borrow_mut();
            if let Some(resumed) = conn.handshake.take() {
                if measured {
                    st.handshake(resumed);
                }
            }
            match outcome {
                Outcome::Done(head) => {
                    live.completed.fetch_add(1, Ordering::Relaxed);
                    let ns = (done - plan.start).as_nanos() as u64;
                    live.last_done_ns.fetch_max(ns, Ordering::Relaxed);
                    if measured {
                        record_response(&mut st, &head, intended, done);
                    }
                    if head.close || plan.close {
                        conn.drop_stream();
                    }
                    if head.status / 100 != 2 && head.status / 100 != 3 {
                        live.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Outcome::Failed(kind) => {
                    live.errors.fetch_add(1, Ordering::Relaxed);
                    if measured {
                        st.error(kind);
                    }
                    conn.drop_stream();
                    pause = kind == ErrorKind::Connect;
                }
                Outcome::Cut => {
                    if measured && schedule.is_some() {
                        // Open loop: the wait so far is a lower bound of its latency; keep it.
                        st.record_latency((done - intended).as_micros() as u64);
                        st.unfinished += 1;
                    }
                    break;
                }
            }
            pause
        };
        if pause {
            // The server refused: wait a little before connecting again rather than spin.
            monoio::time::sleep(CONNECT_RETRY).await;
        }
    }
    // Open loop: requests intended before the end but never sent (the server was too slow
    // to let this connection catch up) are late by at least end - intended.
    if let (Some(s), Some(end)) = (&schedule, plan.end) {
        let mut st = stats.borrow_mut();
        for t in s.remaining_before(end).filter(|t| *t >= plan.measure_from) {
            st.record_latency((end - t).as_micros() as u64);
            st.unfinished += 1;
        }
    }
}

fn record_response(st: &mut Stats, head: &Head, intended: Instant, done: Instant) {
    st.record_latency((done - intended).as_micros() as u64);
    if let Some(name) = &head.server {
        st.count_server(name);
    }
    if head.status / 100 == 2 || head.status / 100 == 3 {
        st.ok += 1;
    } else {
        st.error(ErrorKind::Status);
    }
}

/// Sends the request (connecting first if needed) and reads the whole response.
async fn exchange(plan: &Plan, conn: &mut Conn, stats: &RefCell<Stats>) -> Outcome {
    if conn.stream.is_none() {
        match plan.target.connect_with(conn.tls.as_ref()).await {
            Ok(c) => {
                conn.stream = Some(c.stream);
                conn.handshake = c.tls_resumed;
                stats.borrow_mut().connects += 1;
            }
            Err(ConnectError::Tcp(_)) => return Outcome::Failed(ErrorKind::Connect),
            Err(ConnectError::Tls(_)) => return Outcome::Failed(ErrorKind::Tls),
        }
    }
    let Some(stream) = conn.stream.as_mut() else {
        return Outcome::Failed(ErrorKind::Connect);
    };
    let (res, _) = stream.write_all(plan.request.clone()).await;
    if res.is_err() {
        return Outcome::Failed(ErrorKind::Reset);
    }
    match read_response(plan, conn).await {
        Ok((head, bytes)) => {
            stats.borrow_mut().bytes += bytes;
            Outcome::Done(head)
        }
        Err(kind) => Outcome::Failed(kind),
    }
}

/// Reads one response; returns its head and its size in bytes.
async fn read_response(plan: &Plan, conn: &mut Conn) -> Result<(Head, u64), ErrorKind> {
    let head = loop {
        match http::parse_head(&conn.buf[conn.pos..], plan.expects_body) {
            Ok(Some(h)) => break h,
            Ok(None) => {}
            Err(_) => return Err(ErrorKind::Parse),
        }
        if conn.fill().await? == 0 {
            return Err(ErrorKind::Reset);
        }
    };
    conn.pos += head.len;
    let mut total = head.len as u64;
    match head.framing {
        Framing::None => {}
        Framing::Length(mut left) => loop {
            let take = left.min((conn.buf.len() - conn.pos) as u64);
            conn.pos += take as usize;
            left -= take;
            total += take;
            if left == 0 {
                break;
            }
            if conn.fill().await? == 0 {
                return Err(ErrorKind::Reset);
            }
        },
        Framing::Chunked => {
            let mut chunked = Chunked::default();
            loop {
                let (used, done) = chunked
                    .feed(&conn.buf[conn.pos..])
                    .map_err(|_| ErrorKind::Parse)?;
                conn.pos += used;
                total += used as u64;
                if done {
                    break;
                }
                if conn.fill().await? == 0 {
                    return Err(ErrorKind::Reset);
                }
            }
        }
        Framing::UntilClose => loop {
            total += (conn.buf.len() - conn.pos) as u64;
            conn.pos = conn.buf.len();
            if conn.fill().await? == 0 {
                break;
            }
        },
    }
    Ok((head, total))
}

impl Conn {
    /// Reads more data after `buf[pos..]`; returns the bytes read (0 at end of stream).
    async fn fill(&mut self) -> Result<usize, ErrorKind> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < MIN_READ_ROOM {
            self.buf.drain(..self.pos);
            self.pos = 0;
            if self.buf.len() > http::MAX_HEAD {
                return Err(ErrorKind::Parse);
            }
            // Also restores a buffer lost to a cancelled read (a timeout drops the op with it).
            self.buf.reserve(READ_BUF);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(ErrorKind::Reset);
        };
        let (res, buf) = stream.read(std::mem::take(&mut self.buf)).await;
        self.buf = buf;
        res.map_err(|_| ErrorKind::Reset)
    }

    fn drop_stream(&mut self) {
        self.stream = None;
        self.buf.clear();
        self.pos = 0;
    }
}
