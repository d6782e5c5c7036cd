//! The request pipeline driven in process, over in-memory streams: no socket anywhere. The
//! client is one end of a `Stream::pair`, served by `serve::accept::serve_stream` as if
//! accepted; servers are reached through the worker's `Dialer::Mem`, which hands the pipeline
//! one end of a new pair and serves the other end with a small HTTP/1.1 server in the test.
//! Each test reads the request records the worker kept (`Sink::Keep`) and checks their fields.
//! Every test runs on both monoio drivers.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use ringlb::config::model::{BackendId, FrontendId, Mode, ServerId};
use ringlb::net::{Dialer, Stream};
use ringlb::serve::accept::serve_stream;
use ringlb::serve::record::{RequestRecord, Sink};
use ringlb::stats::shared::StatsShared;
use ringlb::worker::limits::ConnLimits;
use ringlb::worker::{Process, Worker};

const PEER: &str = "127.0.0.1:40000";
const LOCAL: &str = "127.0.0.1:8080";

macro_rules! both_drivers {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn io_uring() {
                on_driver!(monoio::IoUringDriver, $body);
            }
            #[test]
            fn legacy() {
                on_driver!(monoio::LegacyDriver, $body);
            }
        }
    };
}

macro_rules! on_driver {
    ($driver:ty, $test:expr) => {{
        let mut rt = monoio::RuntimeBuilder::<$driver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(($test)());
    }};
}

/// What the test's server does on its n-th connection (0-based).
type ServerScript = fn(u32, Stream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// A worker on a config, its servers reached in memory; counts the server connections made.
struct InProc {
    worker: Rc<Worker>,
    dials: Rc<Cell<u32>>,
}

impl InProc {
    fn new(cfg: &str, server: ServerScript) -> Self {
        let model = ringlb::config::load_str("inproc.cfg", cfg)
            .unwrap_or_else(|d| panic!("config: {d:?}"))
            .model;
        let limits = Arc::new(ConnLimits::new(&model));
        let dials = Rc::new(Cell::new(0));
        let counter = Rc::clone(&dials);
        let dial = move |addr: SocketAddr| -> io::Result<Stream> {
            let n = counter.get();
            counter.set(n + 1);
            let (ours, theirs) = Stream::pair(LOCAL.parse().unwrap(), addr);
            monoio::spawn(server(n, theirs));
            Ok(ours)
        };
        let process = Process {
            stats: StatsShared::new(&model, 1, &[]),
            model: Arc::new(model),
            limits,
        };
        let worker = Worker::new(
            0,
            1,
            process,
            None,
            Sink::Keep(Default::default()),
            Dialer::Mem(Rc::new(dial)),
        );
        InProc { worker, dials }
    }

    /// A new client connection, served as if accepted on frontend 0.
    fn connect(&self) -> Stream {
        let (client, ours) = Stream::pair(PEER.parse().unwrap(), LOCAL.parse().unwrap());
        let w = Rc::clone(&self.worker);
        monoio::spawn(serve_stream(w, FrontendId::new(0), ours));
        client
    }

    /// The `n` records the worker kept, waiting for them (a record ends just after the last
    /// byte of its response went out).
    async fn records(&self, n: usize) -> Vec<RequestRecord> {
        let mut got = Vec::new();
        for _ in 0..500 {
            got.extend(self.worker.records.take());
            if got.len() >= n {
                break;
            }
            monoio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(got.len(), n, "records: {got:#?}");
        got
    }
}

const CONFIG: &str = "\
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend fe
    bind 127.0.0.1:0
    http-request return status 200 content-type text/plain string hi if { path /rule }
    http-request deny if { path /deny }
    default_backend be
backend be
    server s1 127.0.0.1:9
";

/// Reads one HTTP/1.1 message (head, then a content-length or chunked body) from `s`.
/// Returns the bytes, empty if the stream ended before anything came.
async fn read_message(s: &mut Stream) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        if let Some(end) = message_end(&got) {
            assert_eq!(end, got.len(), "one message at a time: {got:?}");
            return got;
        }
        let (r, buf) = s.read(Vec::with_capacity(4096)).await;
        match r {
            Ok(0) | Err(_) => return got,
            Ok(_) => got.extend_from_slice(&buf),
        }
    }
}

/// Where the message starting at `b` ends, once it is complete.
fn message_end(b: &[u8]) -> Option<usize> {
    let head = b.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let text = String::from_utf8_lossy(&b[..head]).to_ascii_lowercase();
    if text.contains("transfer-encoding: chunked") {
        let body = &b[head..];
        let end = body.windows(5).position(|w| w == b"0\r\n\r\n")? + 5;
        return Some(head + end);
    }
    let len = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
    (b.len() >= head + len).then_some(head + len)
}

async fn send(s: &mut Stream, bytes: &[u8]) {
    let (r, _) = s.write_all(bytes.to_vec()).await;
    r.unwrap();
}

/// Answers every request on the connection with `200 hello`, keeping it open.
async fn hello_server(mut s: Stream) {
    loop {
        let req = read_message(&mut s).await;
        if req.is_empty() {
            return;
        }
        let body = if req.starts_with(b"POST") {
            "got-body"
        } else {
            "hello"
        };
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        send(&mut s, resp.as_bytes()).await;
    }
}

fn hello(_: u32, s: Stream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(hello_server(s))
}

/// The first connection answers one request, then reads the next and closes without an
/// answer: a pooled connection the server gave up at the moment it was reused. The others
/// answer as `hello`.
fn stale_after_one(n: u32, s: Stream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(async move {
        if n > 0 {
            return hello_server(s).await;
        }
        let mut s = s;
        read_message(&mut s).await;
        send(&mut s, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await;
        read_message(&mut s).await;
    })
}

/// Asserts the fields every record carries: status, termination state, bytes, the peer, and
/// timers that are each -1 or >= 0 with Ta covering the others.
fn assert_record(rec: &RequestRecord, status: u16, state: &str, bytes: (u64, u64)) {
    assert_eq!(rec.mode, Mode::Http);
    assert_eq!(rec.frontend, FrontendId::new(0));
    assert_eq!(rec.status, Some(status), "{rec:#?}");
    assert_eq!(rec.state().to_string(), state, "{rec:#?}");
    assert_eq!((rec.bytes_in, rec.bytes_out), bytes, "{rec:#?}");
    assert_eq!(rec.peer, PEER.parse().unwrap());
    let t = rec.marks.timers();
    for v in [t.ti, t.treq, t.tw, t.tc, t.tr] {
        assert!(v >= -1, "{t:?}");
    }
    assert!(t.ta >= 0, "{t:?}");
    let sum: i64 = [t.treq, t.tw, t.tc, t.tr].iter().filter(|v| **v > 0).sum();
    assert!(t.ta >= sum, "Ta covers the phases: {t:?}");
}

fn assert_served_by_s1(rec: &RequestRecord) {
    assert_eq!(rec.backend, Some(BackendId::new(0)));
    assert_eq!(rec.server, Some(ServerId::new(0)));
    let t = rec.marks.timers();
    assert!(
        t.tw >= 0 && t.tc >= 0 && t.tr >= 0,
        "reached the server: {t:?}"
    );
}

const GET_RULE: &[u8] = b"GET /rule HTTP/1.1\r\nhost: t\r\n\r\n";
const GET_DENY: &[u8] = b"GET /deny HTTP/1.1\r\nhost: t\r\n\r\n";
const GET_X: &[u8] = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n";

both_drivers!(rule_answers_are_recorded_without_a_server, || async {
    let p = InProc::new(CONFIG, hello);
    let mut c = p.connect();
    send(&mut c, GET_RULE).await;
    let ret = read_message(&mut c).await;
    assert!(ret.starts_with(b"HTTP/1.1 200"), "{ret:?}");
    assert!(ret.ends_with(b"\r\n\r\nhi"), "{ret:?}");
    send(&mut c, GET_DENY).await;
    let deny = read_message(&mut c).await;
    assert!(deny.starts_with(b"HTTP/1.1 403"), "{deny:?}");
    let recs = p.records(2).await;
    // `return` is a local answer (L), `deny` a refusal by the proxy (P), both while the
    // request was being handled (R), as HAProxy 2.6 logs them.
    assert_record(
        &recs[0],
        200,
        "LR",
        (GET_RULE.len() as u64, ret.len() as u64),
    );
    assert_record(
        &recs[1],
        403,
        "PR",
        (GET_DENY.len() as u64, deny.len() as u64),
    );
    for rec in &recs {
        assert_eq!(rec.backend, None);
        assert_eq!(rec.server, None);
        let t = rec.marks.timers();
        assert_eq!((t.tw, t.tc, t.tr), (-1, -1, -1), "no server phase: {t:?}");
    }
    assert_eq!(recs[0].request_line.as_deref(), Some("GET /rule HTTP/1.1"));
    assert_eq!(p.dials.get(), 0, "no server was contacted");
});

both_drivers!(proxied_bodies_are_counted_both_ways, || async {
    let p = InProc::new(CONFIG, hello);
    let mut c = p.connect();
    let fixed = b"POST /up HTTP/1.1\r\nhost: t\r\ncontent-length: 11\r\n\r\nhello world";
    send(&mut c, fixed).await;
    let r1 = read_message(&mut c).await;
    assert!(r1.ends_with(b"got-body"), "{r1:?}");
    let chunked = b"POST /up HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n\
        5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    send(&mut c, chunked).await;
    let r2 = read_message(&mut c).await;
    assert!(r2.ends_with(b"got-body"), "{r2:?}");
    let recs = p.records(2).await;
    assert_record(&recs[0], 200, "--", (fixed.len() as u64, r1.len() as u64));
    assert_record(&recs[1], 200, "--", (chunked.len() as u64, r2.len() as u64));
    recs.iter().for_each(assert_served_by_s1);
    assert_eq!(recs[0].retries, 0);
    assert_eq!(p.dials.get(), 1, "the second request reused the connection");
});

both_drivers!(
    stale_pooled_connection_is_retried_on_a_fresh_one,
    || async {
        let p = InProc::new(CONFIG, stale_after_one);
        let mut c = p.connect();
        send(&mut c, GET_X).await;
        let r1 = read_message(&mut c).await;
        send(&mut c, GET_X).await;
        let r2 = read_message(&mut c).await;
        assert!(r2.ends_with(b"hello"), "the retry answered: {r2:?}");
        let recs = p.records(2).await;
        assert_record(&recs[0], 200, "--", (GET_X.len() as u64, r1.len() as u64));
        // The request went again on a fresh connection: the client never saw the failure, and
        // HAProxy does not count such a resend as a retry (%rc stays 0).
        assert_record(&recs[1], 200, "--", (GET_X.len() as u64, r2.len() as u64));
        recs.iter().for_each(assert_served_by_s1);
        assert_eq!(recs[1].retries, 0);
        assert_eq!(p.dials.get(), 2, "one fresh connection after the stale one");
    }
);

const TCP_CONFIG: &str = "\
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
listen echo
    bind 127.0.0.1:0
    server s1 127.0.0.1:9
";

fn echo(_: u32, s: Stream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(async move {
        let mut s = s;
        loop {
            let (r, buf) = s.read(Vec::with_capacity(1024)).await;
            match r {
                Ok(n) if n > 0 => send(&mut s, &buf).await,
                _ => break,
            }
        }
        let _ = s.shutdown().await;
    })
}

both_drivers!(tcp_relay_counts_both_directions, || async {
    let p = InProc::new(TCP_CONFIG, echo);
    let mut c = p.connect();
    send(&mut c, b"ping").await;
    let (r, buf) = c.read(Vec::with_capacity(16)).await;
    assert_eq!((r.unwrap(), buf.as_slice()), (4, &b"ping"[..]));
    c.shutdown().await.unwrap();
    let (r, _) = c.read(Vec::with_capacity(16)).await;
    assert_eq!(r.unwrap(), 0, "the half-close came back");
    let recs = p.records(1).await;
    let rec = &recs[0];
    assert_eq!(rec.mode, Mode::Tcp);
    assert_eq!((rec.bytes_in, rec.bytes_out), (4, 4), "{rec:#?}");
    assert_eq!(rec.state().to_string(), "--", "{rec:#?}");
    assert_eq!(rec.server, Some(ServerId::new(0)));
});
