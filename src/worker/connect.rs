//! Getting a backend connection: balance, queue when servers are full, reuse an idle
//! connection or connect, retry and redispatch on failure. `acquire_traced` also says when the
//! slot and the connection came, the server tried, and the retries (`ConnectTrace`, for the
//! request record's Tw, Tc and retry count: serve/record/).

use std::time::{Duration, Instant};

use super::balance::{Pick, PickKey, ServerLease};
use super::limits::CROSS_CORE_RECHECK;
use super::{BackendRt, Worker};
use crate::config::model::{Backend, BackendId, ProxyVersion, Server, ServerId};
use crate::config::model_tls::ServerSni;
use crate::health::observe::Outcome;
use crate::io::timed;
use crate::net::{proxy_proto, Stream};
use crate::rules::{self, Ctx};
use crate::tls::client_config::server_name;

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
#[derive(Clone, Debug, Default)]
pub struct ConnectTrace {
    /// When the last server slot was taken (the queue wait ends, the connect starts).
    pub slot: Option<Instant>,
    /// When the connection was there (a reused one: at once).
    pub connected: Option<Instant>,
    /// The last server tried, and its address on this core then.
    pub server: Option<ServerId>,
    pub addr: Option<std::net::SocketAddr>,
    /// The name of `server` when the runtime API added it (the model does not know it).
    pub added_name: Option<std::sync::Arc<str>>,
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

/// Which idle connections a request may use (HAProxy's `http-reuse`, applied by the caller),
/// and what a TLS connection made for it must send.
#[derive(Default)]
pub struct Reuse {
    /// The connection this client connection kept from its previous request, to server `.0`
    /// (`http-reuse never`: private to the client connection): reused when the balancer picks
    /// that server again and nothing arrived on it since its response, else closed.
    pub own: Option<(ServerId, Stream)>,
    /// Whether the server's idle connections (the core's pool) may be taken.
    pub pool: bool,
    /// The request's values of the backend's request-dependent `sni` expressions
    /// (`Backend::sni_exprs`, in order); empty when it has none.
    pub sni: Vec<Option<String>>,
    /// Who the client is, for the PROXY header a `send-proxy` server is sent (`None`: unknown,
    /// `PROXY UNKNOWN` / `LOCAL`).
    pub origin: Option<Origin>,
    /// The server a `use-server` rule chose (`use_server_choice`): tried first, waited for
    /// when full, retried as a balanced pick is.
    pub server: Option<ServerId>,
}

/// What a PROXY header tells a server about the client connection: its addresses (those of
/// its own PROXY header, on an `accept-proxy` bind) and the ALPN its TLS settled on.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub addrs: Option<proxy_proto::Addrs>,
    pub alpn: Option<Vec<u8>>,
}

impl Origin {
    /// The client side of `client` as the rules see it.
    pub fn of(client: &Stream) -> Origin {
        Origin {
            addrs: Some(proxy_proto::Addrs {
                src: client.peer_addr(),
                dst: client.local_addr(),
            }),
            alpn: client.tls_facts().and_then(|f| f.alpn.clone()),
        }
    }

    fn header(&self, v: ProxyVersion) -> Vec<u8> {
        match v {
            ProxyVersion::V1 => proxy_proto::encode_v1(self.addrs),
            ProxyVersion::V2 => proxy_proto::encode_v2(self.addrs, self.alpn.as_deref()),
        }
    }
}

/// The server of the first `use-server` rule whose condition holds in `ctx` and whose server
/// is not down or in maintenance on this core (a drained one, weight 0, still serves: the
/// manual's own example). `None`: the balance algorithm picks.
pub fn use_server_choice(
    w: &Worker,
    be: &Backend,
    backend: BackendId,
    ctx: &Ctx,
) -> Option<ServerId> {
    if be.use_server.is_empty() {
        return None;
    }
    w.apply_health();
    let rt = w.backend_rt(backend)?;
    be.use_server
        .iter()
        .filter(|r| rt.balancer.slot(r.server).is_some_and(|s| s.usable.get()))
        .find(|r| rules::matcher::eval(&be.acls, &r.cond, ctx))
        .map(|r| r.server)
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
    let mut pinned: Option<ServerId> = reuse.server;
    let mut avoid: Option<ServerId> = None;
    let mut tried = 0;
    // Counted in the backend's queue (`qcur`) while it waits for a slot, until it returns.
    let mut queued: Option<crate::stats::QueueMark> = None;
    loop {
        // The checker's latest word, so no pick lands on a server it already marked down.
        w.apply_health();
        let server = match pinned {
            Some(i) => i,
            None => match rt.balancer.pick(key, avoid) {
                Pick::Server(i) => i,
                Pick::NoServer => return Err(ConnectError::NoServer),
                Pick::Full => {
                    queued.get_or_insert_with(|| w.stats.queued(backend));
                    wait_for_slot(w, backend, queue_deadline).await?;
                    continue;
                }
            },
        };
        let Some(lease) = rt.balancer.try_lease(server) else {
            queued.get_or_insert_with(|| w.stats.queued(backend));
            wait_for_slot(w, backend, queue_deadline).await?;
            continue;
        };
        // The slot is taken: the request leaves the queue.
        queued = None;
        let slot_at = Instant::now();
        trace.slot = Some(slot_at);
        trace.server = Some(server);
        trace.addr = rt.balancer.slot(server).map(|s| s.addr.get());
        // Redispatched: the last retry went to another server (not when it is the only one).
        trace.redispatched |= avoid.is_some_and(|a| a != server);
        if let Some(slot) = rt.balancer.slot(server) {
            rt.pool.note_used(server, slot.inflight.get());
        }
        let Some(srv) = rt.server_cfg(be, server) else {
            return Err(ConnectError::NoServer);
        };
        trace.added_name = rt.added_name(be, server);
        let srv = &*srv;
        // A TLS connection serves only requests wanting the SNI it sent.
        let sni = sni_for(srv, &reuse.sni);
        if let Some((own_server, mut own)) = reuse.own.take() {
            if own_server == server
                && own.tls_sni() == sni.as_deref()
                && own.is_clean()
                && goes_to_current_addr(rt, srv, server, &own)
            {
                trace.connected = Some(slot_at);
                return Ok(Acquired {
                    lease,
                    stream: own,
                    reused: true,
                });
            }
            own.discard();
        }
        // A server sent PROXY headers takes only connections made for this client (HAProxy
        // 2.6 reuses one only for the same header: the same client connection).
        if reuse.pool && srv.send_proxy.is_none() {
            if let Some(stream) = rt.pool.take(server, sni.as_deref()) {
                trace.connected = Some(slot_at);
                return Ok(Acquired {
                    lease,
                    stream,
                    reused: true,
                });
            }
        }
        rt.pool.relieve(server);
        let preface = srv
            .send_proxy
            .map(|v| reuse.origin.clone().unwrap_or_default().header(v));
        let dial = dial(w, rt, srv, server, sni, preface);
        let attempt = timed(be.timeouts.connect, dial).await;
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

/// A kept connection still goes where the server is: its address may have changed since
/// (`set server B/S addr`; the core's idle pool was emptied then, a client connection's own
/// kept one is checked here). Every stream's peer is the address it was dialed to (an
/// in-memory one's too).
fn goes_to_current_addr(rt: &BackendRt, srv: &Server, server: ServerId, own: &Stream) -> bool {
    let now = rt.balancer.slot(server).map_or(srv.addr, |s| s.addr.get());
    own.peer_addr() == now
}

/// The values of a backend's request-dependent `sni` expressions in `ctx` (`Reuse::sni`): in
/// mode http after the http-request rules, in mode tcp with the connection alone (there
/// `ssl_fc_sni` passes the client's SNI on; request fetches find nothing and send none).
pub fn sni_values(be: &Backend, ctx: &Ctx) -> Vec<Option<String>> {
    be.sni_exprs
        .iter()
        .map(|e| {
            rules::fetch::sample(e, ctx)
                .map(|smp| String::from_utf8_lossy(&smp.bytes()).into_owned())
        })
        .collect()
}

/// The SNI a connection to `srv` sends for this request, if its traffic is TLS: the fixed
/// name, or the request's value of its expression with any `:port` cut (a Host header's);
/// an empty value or an address sends none (RFC 6066 allows only host names).
fn sni_for(srv: &Server, values: &[Option<String>]) -> Option<String> {
    let text = match srv.traffic_tls()?.sni.as_ref()? {
        ServerSni::Fixed(name) => name.as_str(),
        ServerSni::Request(e) => values.get(e.slot)?.as_deref()?,
    };
    let host = match text.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => text,
    };
    // `[v6]` or `[v6]:port` (a Host header's IPv6 literal), or a bare address.
    let is_addr = text.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok();
    (!host.is_empty() && !is_addr).then(|| host.to_ascii_lowercase())
}

/// A new connection to `srv`: TCP, then TLS with this core's config when its traffic is TLS.
/// The whole of it runs under the caller's `timeout connect`.
async fn dial(
    w: &Worker,
    rt: &BackendRt,
    srv: &Server,
    server: ServerId,
    sni: Option<String>,
    preface: Option<Vec<u8>>,
) -> std::io::Result<Stream> {
    // This core's address of the server: the runtime API may have changed it.
    let addr = rt.balancer.slot(server).map_or(srv.addr, |s| s.addr.get());
    if srv.traffic_tls().is_none() {
        return w.dialer.connect_sending(addr, preface).await;
    }
    let Some(tls) = rt.server_tls(server) else {
        return Err(std::io::Error::other(
            "the server's TLS settings did not load",
        ));
    };
    let name = match sni {
        Some(s) => Some(server_name(&s).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "SNI is not a valid host name",
            )
        })?),
        None => None,
    };
    w.dialer
        .connect_tls(addr, &tls.traffic, name, preface)
        .await
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

#[cfg(test)]
mod tests {
    use super::sni_for;

    #[test]
    fn sni_drops_ports_addresses_and_empty_values() {
        let cfg = "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
                   frontend f\n  bind 127.0.0.1:0\n  default_backend b\nbackend b\n  \
                   server a 127.0.0.1:1 ssl verify none sni req.hdr(host)\n  \
                   server p 127.0.0.1:2 sni str(x)\n";
        let m = match crate::config::load_str("t.cfg", cfg) {
            Ok(l) => l.model,
            Err(d) => panic!("{d:?}"),
        };
        let (tls, plain) = (&m.backends[0].servers[0], &m.backends[0].servers[1]);
        let with = |v: Option<&str>| sni_for(tls, &[v.map(String::from)]);
        assert_eq!(
            with(Some("Web.Example:8443")).as_deref(),
            Some("web.example")
        );
        assert_eq!(with(Some("web.example")).as_deref(), Some("web.example"));
        assert_eq!(
            with(Some("127.0.0.1:80")),
            None,
            "RFC 6066: no address in SNI"
        );
        assert_eq!(with(Some("[::1]:80")), None);
        assert_eq!(with(Some("")), None);
        assert_eq!(with(None), None);
        assert_eq!(sni_for(plain, &[]), None, "a plain server sends no SNI");
    }
}
