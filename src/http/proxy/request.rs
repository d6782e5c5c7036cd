//! Reading the request head and deciding what to do with it.

use std::time::Instant;

use super::{Next, Plan, Session};
use crate::config::model::{Backend, Balance, HttpConnMode, HttpReuse};
use crate::http::{parse_request, write_request_head, BodyKind, ConnHeader, RequestRewrite};
use crate::io::IoFail;
use crate::rules::{self, Ctx, ReqView};
use crate::worker::balance::{hash_bytes, PickKey};

impl<'a> Session<'a> {
    /// Reads until a complete request head is parsed into `self.req`. On failure the client has
    /// been answered (or silently dropped) and the returned `Next` says to close.
    pub(super) async fn read_request_head(&mut self) -> Result<(), Next> {
        let t = &self.fe.timeouts;
        // HAProxy: `timeout http-request` bounds the whole head and defaults to `timeout client`;
        // between requests, `timeout http-keep-alive` (defaulting to http-request) applies.
        let head_limit = t.http_request.or(t.client);
        let idle_limit = t.http_keep_alive.or(head_limit);
        let mut deadline: Option<Instant> = None;
        loop {
            self.req.clear();
            match parse_request(self.cbuf.bytes(), &self.limits, &mut self.req) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(self.fail(e.status, None).await),
            }
            if self.cbuf.len() >= self.limits.max_head || self.cbuf.is_full() {
                return Err(self.fail(431, None).await);
            }
            let waiting_idle = self.cbuf.is_empty() && self.served > 0;
            if deadline.is_none() && !waiting_idle {
                deadline = head_limit.map(|d| Instant::now() + d);
            }
            let limit = if waiting_idle {
                idle_limit
            } else {
                deadline.map(|d| d.saturating_duration_since(Instant::now()))
            };
            let read = if waiting_idle {
                // An idle keep-alive connection is closed at once when the worker stops.
                let stop = self.w.stop.notified();
                if self.w.is_stopping() {
                    return Err(Next::Close);
                }
                monoio::select! {
                    r = self.cbuf.read_from(&mut self.client, limit) => r,
                    _ = stop => return Err(Next::Close),
                }
            } else {
                self.cbuf.read_from(&mut self.client, limit).await
            };
            match read {
                Ok(0) => return Err(Next::Close),
                Ok(_) => {}
                Err(IoFail::Timeout) if waiting_idle => return Err(Next::Close),
                Err(IoFail::Timeout) => return Err(self.fail(408, None).await),
                Err(IoFail::Io(_)) => return Err(Next::Close),
            }
        }
    }

    /// Routes the request: backend, balancing key and connection modes. None: no backend (503).
    pub(super) fn plan(&self) -> Option<Plan<'a>> {
        let backend = rules::select_backend(self.fe, &self.route_ctx())?;
        let be = self.w.model.backends.get(backend)?;
        let conn_mode = self.fe.conn_mode.max(be.conn_mode);
        Some(Plan {
            backend,
            be,
            key: self.pick_key(be),
            conn_mode,
            client_keep: self.req.keep_alive
                && conn_mode != HttpConnMode::Close
                && !self.w.is_stopping(),
            method: self.req.method,
            version: self.req.version,
            body: self.req.body,
            upgrade: self.req.upgrade,
            send_continue: self.req.expect_continue && self.req.body != BodyKind::None,
        })
    }

    fn route_ctx(&self) -> Ctx<'_> {
        let buf = self.cbuf.bytes();
        Ctx {
            src: self.peer.ip(),
            dst_port: self.local.port(),
            req: Some(ReqView {
                buf,
                method: buf.get(self.req.method_range.clone()).unwrap_or(b""),
                target: buf.get(self.req.target.clone()).unwrap_or(b""),
                headers: &self.req.headers,
            }),
        }
    }

    /// The hash input of the hashing balance algorithms, from the request.
    fn pick_key(&self, be: &Backend) -> PickKey {
        let buf = self.cbuf.bytes();
        let target = buf.get(self.req.target.clone()).unwrap_or(b"");
        let hash = match &be.balance {
            Balance::Source => Some(crate::tcp::hash_ip(self.peer)),
            Balance::Uri { whole: true } => Some(hash_bytes(target)),
            Balance::Uri { whole: false } => Some(hash_bytes(rules::path_of(target))),
            Balance::Hdr(name) => {
                crate::http::header_value(buf, &self.req.headers, name).map(hash_bytes)
            }
            _ => None,
        };
        PickKey { hash }
    }

    /// Writes the head to send to the server into `self.out`.
    pub(super) fn build_request_head(&mut self, plan: &Plan<'a>) {
        let be = plan.be;
        let ff = be.forwardfor.as_ref().or(self.fe.forwardfor.as_ref());
        let client_ip = self.peer.ip();
        let forwarded_for = ff
            .filter(|f| !f.except.is_some_and(|net| net.contains(client_ip)))
            .map(|f| (f.header.as_str(), client_ip, f.if_none));
        let connection = if self.req.upgrade {
            ConnHeader::Upgrade
        } else if plan.conn_mode == HttpConnMode::KeepAlive
            && (plan.client_keep || be.http_reuse != HttpReuse::Never)
        {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
        let rw = RequestRewrite {
            connection,
            forwarded_for,
            drop_expect: plan.send_continue,
        };
        self.out.clear();
        write_request_head(&mut self.out, self.cbuf.bytes(), &self.req, &rw);
    }
}
