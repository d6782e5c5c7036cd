//! The response: interim heads, the final head, the body, and who stays open afterwards.

use monoio::net::TcpStream;

use super::exchange::Exchange;
use super::{Next, Plan, Session};
use crate::config::model::Acl;
use crate::config::model::{Backend, HttpConnMode};
use crate::config::model_rules::HttpRule;
use crate::health::observe::Outcome as Seen;
use crate::http::body;
use crate::http::Head;
use crate::http::{
    parse_response, write_interim_head, write_response_head, BodyKind, ConnHeader, Method,
    ResponseRewrite, Version,
};
use crate::io::{write_vec, IoFail};
use crate::rules::action::{self, Scene, Side, Verdict};
use crate::rules::reply::{self, Answer, Conn};
use crate::rules::ServerInfo;

/// Why no usable response head came back.
enum RespFail {
    /// The server closed or reset before sending anything: retryable on a fresh connection.
    Retryable,
    /// Answer the client with this status (502 bad response, 504 timeout).
    Status(u16),
    ClientGone,
}

impl<'a> Session<'a> {
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
                .read_response_head(&mut ex.server, plan.be, plan.method)
                .await
            {
                Ok(()) => {
                    let seen = Seen::of_status(self.resp.status);
                    self.w.observe(plan.backend, ex.lease.server, seen);
                    return Ok(());
                }
                Err(RespFail::Retryable) if ex.retry_allowed => {
                    self.resend_on_fresh(plan, ex).await?;
                    continue;
                }
                Err(RespFail::Retryable) => 502,
                Err(RespFail::Status(s)) => s,
                Err(RespFail::ClientGone) => return Err(Next::Close),
            };
            self.w
                .observe(plan.backend, ex.lease.server, Seen::BadResponse);
            return Err(self.fail(status, Some(plan.be)).await);
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
        let client_keep = plan.client_keep && !body_cut;
        let outcome = self
            .forward_response(&mut server, plan.be, server_idx, client_keep, plan.version)
            .await;
        drop(lease);
        let Ok((server_reusable, client_keep)) = outcome else {
            return Next::Close;
        };
        let server_reusable = server_reusable && !body_cut;
        if server_reusable && plan.conn_mode == HttpConnMode::KeepAlive {
            self.own = Some((plan.backend, server_idx, server));
        }
        if client_keep {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }

    async fn read_response_head(
        &mut self,
        server: &mut TcpStream,
        be: &Backend,
        method: Method,
    ) -> Result<(), RespFail> {
        loop {
            self.resp.clear();
            match parse_response(self.sbuf.bytes(), &self.limits, method, &mut self.resp) {
                Ok(true) => {}
                Ok(false) => {
                    if self.sbuf.len() >= self.limits.max_head || self.sbuf.is_full() {
                        return Err(RespFail::Status(502));
                    }
                    match self.sbuf.read_from(server, be.timeouts.server).await {
                        Ok(0) | Err(IoFail::Io(_)) if self.sbuf.is_empty() => {
                            return Err(RespFail::Retryable)
                        }
                        Ok(0) | Err(IoFail::Io(_)) => return Err(RespFail::Status(502)),
                        Err(IoFail::Timeout) => return Err(RespFail::Status(504)),
                        Ok(_) => {}
                    }
                    continue;
                }
                Err(_) => return Err(RespFail::Status(502)),
            }
            // Interim responses (100, 103, ...) go to an HTTP/1.1 client written anew (CRLF, no
            // framing fields), to an HTTP/1.0 one not at all (RFC 9110 15.2); the final follows.
            if (100..200).contains(&self.resp.status) && self.resp.status != 101 {
                if self.req.version == Version::Http11 {
                    // Not in `self.out`: it keeps the request head for a resend.
                    let mut head = Vec::new();
                    write_interim_head(&mut head, self.sbuf.bytes(), &self.resp);
                    if write_vec(&mut self.client, &mut head, self.fe.timeouts.client)
                        .await
                        .is_err()
                    {
                        return Err(RespFail::ClientGone);
                    }
                }
                self.sbuf.consume(self.resp.head_len);
                continue;
            }
            return Ok(());
        }
    }

    /// Sends the response head and body. Returns (the server connection may be reused, the
    /// client connection stays open).
    async fn forward_response(
        &mut self,
        server: &mut TcpStream,
        be: &Backend,
        server_idx: usize,
        client_keep: bool,
        client_version: Version,
    ) -> Result<(bool, bool), ()> {
        let fe = self.fe;
        let same_proxy = be.listen_frontend && be.name == fe.name;
        let fe_has =
            !(same_proxy || fe.rules.response.is_empty() && fe.rules.after_response.is_empty());
        let be_has = !(be.rules.response.is_empty() && be.rules.after_response.is_empty());
        self.txn.edits.clear();
        if fe_has || be_has {
            if let Some(answer) = self.run_response_rules(be, server_idx, same_proxy) {
                // A rule answered instead of the server: neither connection can be trusted to
                // carry on (the server's body was not read), so both close.
                let mut answer = answer;
                answer.finish(Conn::Close, self.req.method == Method::Head);
                let _ = self.write_client(answer.bytes).await;
                return Err(());
            }
        }
        // An HTTP/1.0 client cannot read chunked framing: it gets the body close-delimited.
        let dechunk = client_version == Version::Http10 && self.resp.body == BodyKind::Chunked;
        let keep_client = client_keep
            && !dechunk
            && self.resp.body != BodyKind::UntilClose
            && !self.w.is_stopping();
        let connection = if keep_client {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
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
        let kind = self.resp.body;
        // A body already received whole rides along with the head in a single write.
        let inline = match kind {
            BodyKind::Length(n) if !dechunk && n <= self.sbuf.len() as u64 => n as usize,
            _ => 0,
        };
        if inline > 0 {
            self.out
                .extend_from_slice(self.sbuf.bytes().get(..inline).unwrap_or(&[]));
            self.sbuf.consume(inline);
        }
        let mut out = std::mem::take(&mut self.out);
        let sent = write_vec(&mut self.client, &mut out, self.fe.timeouts.client).await;
        self.out = out;
        sent.map_err(|_| ())?;
        if inline == 0 {
            let limits = body::Limits {
                read: be.timeouts.server,
                write: self.fe.timeouts.client,
                max_trailer: self.limits.max_head,
            };
            let side = if dechunk {
                body::Side::ResponseDechunk
            } else {
                body::Side::Response
            };
            body::forward(
                server,
                &mut self.sbuf,
                &mut self.client,
                kind,
                &limits,
                side,
            )
            .await
            .map_err(|_| ())?;
        }
        let server_reusable =
            self.resp.keep_alive && kind != BodyKind::UntilClose && self.sbuf.is_empty();
        Ok((server_reusable, keep_client))
    }

    /// `http-response` (backend, then frontend), then `http-after-response` (same order).
    /// Returns the answer of a terminal rule.
    fn run_response_rules(
        &mut self,
        be: &Backend,
        server_idx: usize,
        same_proxy: bool,
    ) -> Option<Answer> {
        let fe = self.fe;
        let server = be.servers.get(server_idx).map(|s| ServerInfo {
            name: &s.name,
            addr: s.addr,
            local: None,
        });
        let scene = Scene {
            src: self.peer,
            dst: self.local,
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
                let files = [&be.errorfiles, &fe.errorfiles];
                let ctx = scene.ctx(&self.txn);
                return Some(reply::build(&rule.action, &ctx, &files, &be.name));
            }
        }
        None
    }

    /// After `101 Switching Protocols`: forward the head and whatever either side already sent,
    /// then let `serve` turn the connection into a byte tunnel.
    pub(super) async fn tunnel(&mut self, mut server: TcpStream, be: &Backend) -> Next {
        let n = self.resp.head_len;
        if self
            .sbuf
            .write_to(&mut self.client, n, self.fe.timeouts.client)
            .await
            .is_err()
        {
            return Next::Close;
        }
        self.sbuf.consume(n);
        let pending_down = self.sbuf.len();
        if pending_down > 0
            && self
                .sbuf
                .write_to(&mut self.client, pending_down, self.fe.timeouts.client)
                .await
                .is_err()
        {
            return Next::Close;
        }
        let pending_up = self.cbuf.len();
        if pending_up > 0
            && self
                .cbuf
                .write_to(&mut server, pending_up, be.timeouts.server)
                .await
                .is_err()
        {
            return Next::Close;
        }
        Next::Tunnel {
            server,
            idle_client: be.timeouts.tunnel.or(self.fe.timeouts.client),
            idle_server: be.timeouts.tunnel.or(be.timeouts.server),
        }
    }
}
