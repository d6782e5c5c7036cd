//! Getting a backend connection: balance, queue when servers are full, reuse an idle
//! connection or connect, retry and redispatch on failure. `acquire_traced` also says when the
//! slot and the connection came, the server tried, and the retries (`ConnectTrace`, for the
//! request record's Tw, Tc and retry count: serve/record/).

use std::time::{Duration, Instant};

use super::balance::{Pick, PickKey, ServerLease};
use super::limits::CROSS_CORE_RECHECK;
use super::Worker;
use crate::config::model::{BackendId, ServerId};
use crate::health::observe::Outcome;
use crate::io::timed;
use crate::net::Stream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// No usable server in the backend (503).
    NoServer,
    /// Every server stayed at its maxconn for `timeout queue` (503).
    QueueTimeout,
    /// Every connection attempt failed, the last one refused or reset (503, as HAProxy
    /// answers when retries are exhausted).
    Failed,
    /// Every connection attempt failed, the last one at `timeout connect` (503).
    TimedOut,
}

/// What `acquire_traced` saw on the way, kept also when it fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectTrace {
    /// When the last server slot was taken (the queue wait ends, the connect starts).
    pub slot: Option<Instant>,
    /// When the connection was there (a reused one: at once).
    pub connected: Option<Instant>,
    /// The last server tried.
    pub server: Option<ServerId>,
    /// Connection attempts after the first.
    pub retries: u32,
    /// The last retry went to another server (`option redispatch`).
    pub redispatched: bool,
}

pub struct Acquired {
    pub lease: ServerLease,
    pub stream: Stream,
    /// Came from the idle pool (the server may still have closed it: the caller may retry once).
    pub reused: bool,
}

/// HAProxy's queue timeout falls back to the connect timeout when unset.
fn queue_limit(w: &Worker, backend: BackendId) -> Option<Duration> {
    let t = &w.model.backend(backend)?.timeouts;
    t.queue.or(t.connect)
}

/// Which idle connections a request may use (HAProxy's `http-reuse`, applied by the caller).
pub struct Reuse {
    /// The connection this client connection kept from its previous request, to server `.0`
    /// (`http-reuse never`: private to the client connection): reused when the balancer picks
    /// that server again and nothing arrived on it since its response, else closed.
    pub own: Option<(ServerId, Stream)>,
    /// Whether the server's idle connections (the core's pool) may be taken.
    pub pool: bool,
}

/// A server slot and a connection to that server, following the backend's retry rules.
pub async fn acquire(
    w: &Worker,
    backend: BackendId,
    key: PickKey,
    reuse: Reuse,
) -> Result<Acquired, ConnectError> {
    acquire_traced(w, backend, key, reuse, &mut ConnectTrace::default()).await
}

/// `acquire`, noting in `trace` when the slot and the connection came and what was retried.
pub async fn acquire_traced(
    w: &Worker,
    backend: BackendId,
    key: PickKey,
    mut reuse: Reuse,
    trace: &mut ConnectTrace,
) -> Result<Acquired, ConnectError> {
    let (Some(be), Some(rt)) = (w.model.backend(backend), w.backend_rt(backend)) else {
        return Err(ConnectError::NoServer);
    };
    let queue_deadline = queue_limit(w, backend).map(|d| Instant::now() + d);
    let attempts = be.retries.saturating_add(1);
    let mut pinned: Option<ServerId> = None;
    let mut avoid: Option<ServerId> = None;
    let mut tried = 0;
    loop {
        // The checker's latest word, so no pick lands on a server it already marked down.
        w.apply_health();
        let server = match pinned {
            Some(i) => i,
            None => match rt.balancer.pick(key, avoid) {
                Pick::Server(i) => i,
                Pick::NoServer => return Err(ConnectError::NoServer),
                Pick::Full => {
                    wait_for_slot(w, backend, queue_deadline).await?;
                    continue;
                }
            },
        };
        let Some(lease) = rt.balancer.try_lease(server) else {
            wait_for_slot(w, backend, queue_deadline).await?;
            continue;
        };
        let slot_at = Instant::now();
        trace.slot = Some(slot_at);
        trace.server = Some(server);
        // Redispatched: the last retry went to another server (not when it is the only one).
        trace.redispatched |= avoid.is_some_and(|a| a != server);
        if let Some(slot) = rt.balancer.slot(server) {
            rt.pool.note_used(server, slot.inflight.get());
        }
        if let Some((own_server, own)) = reuse.own.take() {
            if own_server == server && own.is_clean() {
                trace.connected = Some(slot_at);
                return Ok(Acquired {
                    lease,
                    stream: own,
                    reused: true,
                });
            }
            own.discard();
        }
        if reuse.pool {
            if let Some(stream) = rt.pool.take(server) {
                trace.connected = Some(slot_at);
                return Ok(Acquired {
                    lease,
                    stream,
                    reused: true,
                });
            }
        }
        let Some(addr) = be.server(server).map(|s| s.addr) else {
            return Err(ConnectError::NoServer);
        };
        rt.pool.relieve(server);
        let attempt = timed(be.timeouts.connect, w.dialer.connect(addr)).await;
        let timed_out = attempt.is_err();
        if let Ok(Ok(stream)) = attempt {
            trace.connected = Some(Instant::now());
            w.observe(backend, server, Outcome::ConnectOk);
            return Ok(Acquired {
                lease,
                stream,
                reused: false,
            });
        }
        drop(lease);
        w.observe(backend, server, Outcome::ConnectFailed);
        tried += 1;
        if tried >= attempts {
            return Err(if timed_out {
                ConnectError::TimedOut
            } else {
                ConnectError::Failed
            });
        }
        trace.retries += 1;
        // HAProxy retries the same server, except that with `option redispatch` the last
        // retry may go to another one.
        let last_retry = tried + 1 == attempts;
        if be.redispatch && last_retry {
            pinned = None;
            avoid = Some(server);
        } else {
            pinned = Some(server);
        }
    }
}

async fn wait_for_slot(
    w: &Worker,
    backend: BackendId,
    deadline: Option<Instant>,
) -> Result<(), ConnectError> {
    let Some(rt) = w.backend_rt(backend) else {
        return Err(ConnectError::NoServer);
    };
    // Woken at once by a release on this core. Releases on other cores are not signalled, so
    // one waiter per core and backend (the poller) rechecks every CROSS_CORE_RECHECK and wakes
    // the others: a long queue costs one timer per core, not one per queued request.
    let left = match deadline {
        Some(d) => d.saturating_duration_since(Instant::now()),
        None => Duration::MAX,
    };
    if left.is_zero() {
        return Err(ConnectError::QueueTimeout);
    }
    let b = &rt.balancer;
    match Poller::claim(&b.polling) {
        Some(_poller) => {
            let _ = monoio::time::timeout(CROSS_CORE_RECHECK.min(left), b.freed.notified()).await;
            if b.any_room() {
                b.freed.notify_all();
            }
        }
        None => {
            let _ = monoio::time::timeout(left, b.freed.notified()).await;
        }
    }
    Ok(())
}

/// The right to be a backend's cross-core poller on this core; released on drop, also when
/// the waiting request is abandoned (client gone, timeout), so another waiter takes over.
struct Poller<'a>(&'a std::cell::Cell<bool>);

impl<'a> Poller<'a> {
    fn claim(flag: &'a std::cell::Cell<bool>) -> Option<Self> {
        (!flag.replace(true)).then_some(Poller(flag))
    }
}

impl Drop for Poller<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
