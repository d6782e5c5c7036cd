//! The response: interim heads, the final head, the body, and who stays open afterwards
//! (with what the record keeps of it: Tr, the status, the bytes sent, why it failed).

use crate::net::Stream;

use super::downstream::Downstream;
use super::exchange::Exchange;
use super::record::{self, By, Phase, TermState};
use super::{Next, Plan, Session};
use crate::config::model::Acl;
use crate::config::model::{Backend, ServerId};
use crate::config::model_rules::HttpRule;
use crate::health::observe::Outcome as Seen;
use crate::http::body::{self, Cut};
use crate::http::Head;
use crate::http::{
    parse_response, write_interim_head, write_response_head, BodyKind, ConnHeader, Method,
    ResponseRewrite, Version,
};
use crate::io::IoFail;
use crate::rules::action::{self, Scene, Side, Verdict};
use crate::rules::reply::{self, Answer, Conn};
use crate::rules::ServerInfo;

/// The server closed or reset before its response head was complete.
const SERVER_CLOSED_HEAD: TermState = TermState::new(By::Server, Phase::Headers);
/// The response head was invalid, too large, or a 101 nobody asked for.
const BAD_RESPONSE: TermState = TermState::new(By::Proxy, Phase::Headers);
/// `timeout server` expired before the response head was complete.
const SERVER_TIMEOUT_HEAD: TermState = TermState::new(By::ServerTimeout, Phase::Headers);

/// Why no usable response head came back.
enum RespFail {
    /// The server closed or reset before sending anything for this request (not even an
    /// interim response): retryable on a fresh connection.
    Retryable,
    /// Answer the client with this status (502 bad response, 504 timeout).
    Status(u16),
    ClientGone,
}

impl<'a, D: Downstream> Session<'a, D> {
    /// Reads the final response head into `self.resp`, forwarding interim ones; a stale reused
    /// connection gets the request once more on a fresh one.
    pub(super) async fn receive_response_head(
        &mut self,
        plan: &Plan<'a>,
        ex: &mut Exchange,
    ) -> Result<(), Next> {
        self.sbuf.clear();
        loop {
            let status = match self
                .read_response_head(&mut ex.server, plan.be, plan.method, plan.send_continue)
                .await
            {
                // A 101 that no Upgrade asked for: whatever the server now speaks, it is not an
                // answer to this request. HAProxy 2.6 answers 502 and closes that connection.
                Ok(()) if self.resp.status == 101 && !plan.upgrade => {
                    self.rec.end(BAD_RESPONSE);
                    502
                }
                Ok(()) => {
                    self.rec.marks.response = Some(std::time::Instant::now());
                    if let Some(c) = self.rec.captures.as_deref_mut() {
                        let (buf, headers) = (self.sbuf.bytes(), &self.resp.headers);
                        c.headers(&self.fe.log.captures, false, buf, headers);
                    }
                    let seen = Seen::of_status(self.resp.status);
                    self.w.observe(plan.backend, ex.lease.server, seen);
                    return Ok(());
                }
                Err(RespFail::Retryable) if ex.retry_allowed => {
                    self.resend_on_fresh(plan, ex).await?;
                    continue;
                }
                Err(RespFail::Retryable) => {
                    self.rec.end(SERVER_CLOSED_HEAD);
                    502
                }
                // read_response_head recorded why.
                Err(RespFail::Status(s)) => s,
                Err(RespFail::ClientGone) => return Err(Next::Close),
            };
            self.w
                .observe(plan.backend, ex.lease.server, Seen::BadResponse);
            return Err(self.fail(status, plan.route).await);
        }
    }

    /// Streams the response back, then keeps what may be kept: the server connection for this
    /// client's next request, the client connection for its next request.
    pub(super) async fn finish(&mut self, plan: &Plan<'a>, ex: Exchange) -> Next {
        let Exchange {
            mut server,
            lease,
            body_cut,
            ..
        } = ex;
        let server_idx = lease.server;
        let client_keep_alive = plan.client_keep_alive && !body_cut;
        let outcome = self
            .forward_response(&mut server, plan, server_idx, client_keep_alive)
            .await;
        let Ok((server_reusable, client_keep_alive)) = outcome else {
            return Next::Close;
        };
        if server_reusable && !body_cut && plan.route.server_keep_alive() {
            self.keep_server(plan, server_idx, server);
        }
        drop(lease);
        if client_keep_alive {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    /// Reads heads until the final one, forwarding the interim ones. `own_continue`: ringlb
    /// answered the client's `Expect: 100-continue` itself.
    async fn read_response_head(
        &mut self,
        server: &mut Stream,
        be: &Backend,
        method: Method,
        own_continue: bool,
    ) -> Result<(), RespFail> {
        // Once part of a response came (an interim one included, forwarded or not), the server
        // took the request: it is never sent again, whatever happens next.
        let mut answering = false;
        loop {
            self.resp.clear();
            match parse_response(self.sbuf.bytes(), &self.limits, method, &mut self.resp) {
                Ok(true) => {}
                Ok(false) => {
                    if self.sbuf.len() >= self.limits.max_head || self.sbuf.is_full() {
                        self.rec.end(BAD_RESPONSE);
                        return Err(RespFail::Status(502));
                    }
                    match self.sbuf.read_from(server, be.timeouts.server).await {
                        Ok(0) | Err(IoFail::Io(_)) if self.sbuf.is_empty() && !answering => {
                            return Err(RespFail::Retryable)
                        }
                        Ok(0) | Err(IoFail::Io(_)) => {
                            self.rec.end(SERVER_CLOSED_HEAD);
                            return Err(RespFail::Status(502));
                        }
                        Err(IoFail::Timeout) => {
                            self.rec.end(SERVER_TIMEOUT_HEAD);
                            return Err(RespFail::Status(504));
                        }
                        Ok(_) => {}
                    }
                    continue;
                }
                Err(_) => {
                    self.rec.end(BAD_RESPONSE);
                    return Err(RespFail::Status(502));
                }
            }
            if (100..200).contains(&self.resp.status) && self.resp.status != 101 {
                answering = true;
                self.forward_interim(own_continue).await?;
                continue;
            }
            return Ok(());
        }
    }

    /// An interim response (100, 103, ...) goes to an HTTP/1.1 client written anew (CRLF, no
    /// framing fields), to an HTTP/1.0 one not at all (RFC 9110 15.2). A `100 Continue` after
    /// ringlb's own is dropped too: the client would get two. The final head follows.
    async fn forward_interim(&mut self, own_continue: bool) -> Result<(), RespFail> {
        let second_continue = own_continue && self.resp.status == 100;
        if self.req.version == Version::Http11 && !second_continue {
            // Not in `self.out`: it keeps the request head for a resend.
            let mut head = Vec::new();
            write_interim_head(&mut head, self.sbuf.bytes(), &self.resp);
            let n = head.len();
            if let Err(e) = self.conn.send(&mut head).await {
                self.rec
                    .end(record::client_write_failed(&e, Phase::Headers));
                return Err(RespFail::ClientGone);
            }
            self.rec.bytes_out += n as u64;
        }
        self.sbuf.consume(self.resp.head_len);
        Ok(())
    }

    /// Sends the response head and body. Returns (the server connection may be reused, the
    /// client connection stays open).
    async fn forward_response(
        &mut self,
        server: &mut Stream,
        plan: &Plan<'a>,
        server_idx: ServerId,
        client_keep_alive: bool,
    ) -> Result<(bool, bool), ()> {
        let client_version = plan.version;
        if self.rule_answered(plan, server_idx).await {
            return Err(());
        }
        // An HTTP/1.0 client cannot read chunked framing: it gets the body close-delimited.
        let dechunk = client_version == Version::Http10 && self.resp.body == BodyKind::Chunked;
        let client_keep_alive = client_keep_alive
            && !dechunk
            && self.resp.body != BodyKind::UntilClose
            && !self.w.is_stopping();
        let connection = if client_keep_alive {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
        let whole = self
            .send_response_head(connection, client_version, dechunk)
            .await?;
        let kind = self.resp.body;
        if !whole {
            let limits = body::BodyLimits {
                read: plan.be.timeouts.server,
                write: self.fe.timeouts.client,
                max_trailer: self.limits.max_head,
            };
            let direction = if dechunk {
                body::Direction::ResponseDechunk
            } else {
                body::Direction::Response
            };
            let forwarded = self
                .conn
                .body_from(server, &mut self.sbuf, kind, &limits, direction)
                .await;
            match forwarded {
                Ok(moved) => self.rec.bytes_out += moved.written,
                Err(Cut { error, moved }) => {
                    self.rec.bytes_out += moved.written;
                    self.rec.end(record::response_body_failed(&error));
                    return Err(());
                }
            }
        }
        // Anything the server sent after the end of its response disqualifies the connection.
        let server_reusable =
            self.resp.keep_alive && kind != BodyKind::UntilClose && self.sbuf.is_empty();
        Ok((server_reusable, client_keep_alive))
    }

    /// Runs the response rules; true when one answered instead of the server (the answer was
    /// sent): neither connection can be trusted to carry on then (the server's body was not
    /// read), so both close.
    async fn rule_answered(&mut self, plan: &Plan<'a>, server_idx: ServerId) -> bool {
        let (fe, be) = (self.fe, plan.be);
        let same_proxy = plan.route.same_proxy();
        let fe_has =
            !(same_proxy || fe.rules.response.is_empty() && fe.rules.after_response.is_empty());
        let be_has = !(be.rules.response.is_empty() && be.rules.after_response.is_empty());
        self.txn.edits.clear();
        if !(fe_has || be_has) {
            return false;
        }
        let Some(mut answer) = self.run_response_rules(plan, server_idx) else {
            return false;
        };
        answer.finish(Conn::Close, self.req.method == Method::Head);
        self.rec.status = Some(super::status_of(&answer.bytes));
        let _ = self.write_client(answer.bytes).await;
        true
    }

    /// Sends the rewritten response head, with the body when it has already arrived whole
    /// (one write). Returns whether the body went with it.
    async fn send_response_head(
        &mut self,
        connection: ConnHeader,
        client_version: Version,
        dechunk: bool,
    ) -> Result<bool, ()> {
        let edits = (!self.txn.edits.is_empty()).then_some(&self.txn.edits);
        let rw = ResponseRewrite {
            edits,
            connection,
            version: client_version,
            dechunk,
        };
        self.out.clear();
        write_response_head(&mut self.out, self.sbuf.bytes(), &self.resp, &rw);
        self.sbuf.consume(self.resp.head_len);
        let inline = match self.resp.body {
            BodyKind::None => Some(0),
            BodyKind::Length(n) if !dechunk && n <= self.sbuf.len() as u64 => Some(n as usize),
            _ => None,
        };
        if let Some(n) = inline {
            self.out
                .extend_from_slice(self.sbuf.bytes().get(..n).unwrap_or(&[]));
            self.sbuf.consume(n);
        }
        let mut out = std::mem::take(&mut self.out);
        let n = out.len();
        self.rec.status = Some(self.resp.status);
        let sent = self.conn.send(&mut out).await;
        self.out = out;
        if let Err(e) = sent {
            self.rec.end(record::client_write_failed(&e, Phase::Data));
            return Err(());
        }
        self.rec.bytes_out += n as u64;
        if self.fe.logasap {
            record::log_early(self.w, &mut self.rec);
        }
        Ok(inline.is_some())
    }

    /// `http-response` (backend, then frontend), then `http-after-response` (same order).
    /// Returns the answer of a terminal rule.
    fn run_response_rules(&mut self, plan: &Plan<'a>, server_idx: ServerId) -> Option<Answer> {
        // `req.*` variables end with the request's processing, as in HAProxy.
        self.txn.vars.end_request_scope();
        let (fe, be, route) = (self.fe, plan.be, plan.route);
        let same_proxy = route.same_proxy();
        // This core's address of it (the runtime API may have moved it).
        let addr_now = self.rec.server_addr;
        let added = self.rec.added_server.clone();
        let server = match be.server(server_idx) {
            Some(s) => Some(ServerInfo {
                name: &s.name,
                addr: addr_now.unwrap_or(s.addr),
                local: None,
            }),
            // A server the runtime API added: its name and address from the record.
            None => added
                .as_deref()
                .zip(addr_now)
                .map(|(name, addr)| ServerInfo {
                    name,
                    addr,
                    local: None,
                }),
        };
        let scene = Scene {
            first_req: self.conn.served() == 0,
            src: self.conn.peer(),
            dst: self.conn.local(),
            tls: self.conn.tls(),
            frontend: &fe.name,
            backend: Some(&be.name),
            server,
            side: Side::Response {
                head: Head {
                    buf: self.sbuf.bytes(),
                    headers: &self.resp.headers,
                },
                status: self.resp.status,
            },
        };
        let lists: [(&[HttpRule], &[Acl], bool); 4] = [
            (&be.rules.response, &be.acls, true),
            (&fe.rules.response, &fe.acls, !same_proxy),
            (&be.rules.after_response, &be.acls, true),
            (&fe.rules.after_response, &fe.acls, !same_proxy),
        ];
        for (list, acls, run) in lists {
            if !run || list.is_empty() {
                continue;
            }
            if let Verdict::Reply(rule) = action::run(list, acls, &scene, &mut self.txn) {
                let kind = super::request::rule_answer_kind(&rule.action);
                self.rec.end(record::rule_answered(kind, true));
                let ctx = scene.ctx(&self.txn);
                let files = route.errorfiles();
                return Some(reply::build(&rule.action, &ctx, files, route.proxy_name()));
            }
        }
        None
    }

    /// After `101 Switching Protocols` (asked for): forward the head as received, then let
    /// `serve` turn the connection into a byte tunnel.
    pub(super) async fn upgrade_tunnel(&mut self, plan: &Plan<'a>, ex: Exchange) -> Next {
        let n = self.resp.head_len;
        self.rec.status = Some(self.resp.status);
        let sent = self.conn.send_buffered(&mut self.sbuf, n).await;
        if let Err(e) = sent {
            self.rec.end(record::client_write_failed(&e, Phase::Data));
            return Next::Close;
        }
        self.rec.bytes_out += n as u64;
        self.sbuf.consume(n);
        self.hand_to_tunnel(plan, ex).await
    }

    /// After a 2xx answer to CONNECT: the head goes through the response rules and the usual
    /// rewrite (nothing is said about the connection: it stays open as a tunnel), then the
    /// bytes flow both ways, starting with those the client sent right behind its request.
    pub(super) async fn connect_tunnel(&mut self, plan: &Plan<'a>, ex: Exchange) -> Next {
        if self.rule_answered(plan, ex.lease.server).await {
            return Next::Close;
        }
        if self
            .send_response_head(ConnHeader::KeepAlive, plan.version, false)
            .await
            .is_err()
        {
            return Next::Close;
        }
        self.hand_to_tunnel(plan, ex).await
    }

    /// Forwards what either side already sent past its head, then hands both connections to
    /// the relay under the route's tunnel timeouts.
    async fn hand_to_tunnel(&mut self, plan: &Plan<'a>, ex: Exchange) -> Next {
        let Exchange {
            mut server, lease, ..
        } = ex;
        let pending_down = self.sbuf.len();
        if pending_down > 0
            && self
                .conn
                .send_buffered(&mut self.sbuf, pending_down)
                .await
                .is_err()
        {
            return Next::Close;
        }
        self.sbuf.clear();
        let limit = plan.be.timeouts.server;
        if self.conn.send_pending_to(&mut server, limit).await.is_err() {
            return Next::Close;
        }
        let idle = plan.route.tunnel_timeouts();
        Next::Tunnel {
            server,
            lease,
            idle_client: idle.client,
            idle_server: idle.server,
        }
    }
}
