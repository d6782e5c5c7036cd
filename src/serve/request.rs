//! Reading the request head and deciding what to do with it (and recording why a request
//! ended here: a bad or missing head, a rule's answer).

use std::time::{Duration, Instant};

use super::downstream::{Downstream, HeadFail};
use super::record::{self, RuleAnswer};
use super::route::Route;
use super::{Early, Next, Plan, Session};
use crate::config::model::{
    Acl, Backend, BackendId, Balance, Frontend, HttpReuse, Proxy, ServerId,
};
use crate::config::model_rules::HttpRule;
use crate::http::{
    write_request_head, BodyKind, ConnHeader, Head, Method, Request, RequestRewrite, Version,
};
use crate::io::IoFail;
use crate::rules;
use crate::rules::action::{self, Scene, Side, Verdict};
use crate::rules::reply::{self, Answer, Conn};
use crate::worker::balance::{hash_bytes, PickKey};

impl<'a, D: Downstream> Session<'a, D> {
    /// Reads until a complete request head is parsed into `self.req`. On failure the client has
    /// been answered (or silently dropped) and the returned `Next` says to close.
    pub(super) async fn read_request_head(&mut self) -> Result<(), Next> {
        let got = self.conn.read_head(&mut self.req, &self.limits).await;
        self.rec.bytes_in = self.conn.head_bytes().len() as u64;
        match got {
            Ok(()) => Ok(()),
            Err(HeadFail::Answer(status)) => {
                self.rec.end(record::BAD_REQUEST);
                Err(self.fail(status, self.unrouted()).await)
            }
            Err(HeadFail::Timeout) => {
                self.rec.end(record::head_read_failed(&IoFail::Timeout));
                Err(self.fail(408, self.unrouted()).await)
            }
            Err(HeadFail::Gone(e)) => Err(self.client_left_in_head(e)),
            Err(HeadFail::Malformed) => {
                self.rec.end(record::BAD_REQUEST);
                self.rec.status = Some(0);
                Err(Next::Close)
            }
        }
    }

    /// `option http-buffer-request`: waits, within `timeout http-request` from the request's
    /// start, for the body (as much of it as the buffer holds) before the rules run, so that
    /// `req.body` sees it. A client waiting for `100 Continue` is not waited for (ringlb
    /// answers it when the body is sent to the server).
    pub(super) async fn buffer_request_body(&mut self) -> Result<(), Next> {
        if self.req.expect_continue || self.req.body == BodyKind::None {
            return Ok(());
        }
        let start = self.rec.marks.start.unwrap_or_else(Instant::now);
        let deadline = self.unrouted().head_limit().map(|d| start + d);
        let max = self.limits.max_head;
        match self.conn.wait_for_body(&self.req, max, deadline).await {
            Ok(()) => Ok(()),
            Err(HeadFail::Timeout) => {
                self.rec.end(record::head_read_failed(&IoFail::Timeout));
                Err(self.fail(408, self.unrouted()).await)
            }
            Err(HeadFail::Gone(e)) => Err(self.client_left_in_head(e)),
            Err(HeadFail::Answer(status)) => {
                self.rec.end(record::BAD_REQUEST);
                Err(self.fail(status, self.unrouted()).await)
            }
            // Only HTTP/2 heads are malformed so, and HTTP/2 bodies are not waited for.
            Err(HeadFail::Malformed) => {
                self.rec.end(record::BAD_REQUEST);
                Err(Next::Close)
            }
        }
    }

    /// The client closed or failed before its head was complete: nothing is answered. The
    /// record says 400, the status HAProxy 2.6 logs for it (`CR`), with no byte sent.
    fn client_left_in_head(&mut self, e: IoFail) -> Next {
        self.rec.end(record::head_read_failed(&e));
        self.rec.status = Some(400);
        Next::Close
    }

    /// Runs the frontend's `http-request` rules, routes the request (seeing their edits), then
    /// runs the backend's. `Err`: the rules answered, or no backend (503).
    pub(super) fn plan(&mut self) -> Result<Plan<'a>, Early> {
        let fe = self.fe;
        let model = &self.w.model;
        let has_rules = !fe.rules.request.is_empty();
        self.txn.edits.clear();
        self.conn
            .start_vars(&mut self.txn.vars, &model.global.proc_vars);
        self.txn.captures.clear();
        self.run_tcp_content(fe, None)?;
        self.start_unique_id();
        if has_rules {
            let ran =
                self.run_request_rules(fe.rules.request.as_slice(), &fe.acls, self.unrouted());
            // A request the rules answered keeps what they captured before (HAProxy's too).
            self.keep_captures();
            ran?;
        }
        self.check_stats(fe.stats.as_ref(), self.unrouted())?;
        let backend = {
            let scene = self.scene(None);
            let ctx = if has_rules {
                scene.ctx(&self.txn)
            } else {
                rules::Ctx {
                    unique_id: self.txn.unique_id.as_deref(),
                    req_counter: self.txn.req_counter,
                    ..scene.plain_ctx()
                }
            };
            rules::select_backend(fe, &ctx).ok_or(Early::NoBackend)?
        };
        self.rec.backend = Some(backend);
        let be = model.backend(backend).ok_or(Early::NoBackend)?;
        let route = Route::new(fe, be);
        if !route.same_proxy() {
            self.run_tcp_content(be, Some(be.name.as_str()))?;
            if !be.rules.request.is_empty() {
                self.run_request_rules(be.rules.request.as_slice(), &be.acls, route)?;
            }
            self.check_stats(be.stats.as_ref(), route)?;
        }
        Ok(Plan {
            backend,
            be,
            route,
            key: self.pick_key(be),
            use_server: self.use_server(be, backend),
            client_keep_alive: route.client_keep_alive(self.req.keep_alive, self.w.is_stopping()),
            method: self.req.method,
            version: self.req.version,
            body: self.req.body,
            upgrade: self.req.upgrade,
            send_continue: self.req.expect_continue && self.req.body != BodyKind::None,
            sni: self.request_sni(be),
        })
    }

    /// A proxy's `tcp-request content` rules in mode http: once per request, on its head
    /// (HAProxy runs them before the HTTP analysers, and a request arrives whole); content
    /// fetches were refused in mode http at load.
    fn run_tcp_content(&self, p: &'a Proxy, backend: Option<&'a str>) -> Result<(), Early> {
        if p.tcp.content.is_empty() {
            return Ok(());
        }
        let scene = request_scene(self.fe, &*self.conn, &self.req, backend);
        let ctx = scene.plain_ctx();
        match crate::rules::content::run(&p.tcp.content, &p.acls, &ctx).verdict {
            crate::rules::content::Verdict::Reject => Err(Early::Refused),
            _ => Ok(()),
        }
    }

    /// The server of the backend's `use-server` rules, evaluated after the http-request rules
    /// (seeing their edits), before the balance algorithm.
    fn use_server(&self, be: &'a Backend, backend: BackendId) -> Option<ServerId> {
        if be.use_server.is_empty() {
            return None;
        }
        let scene = self.scene(Some(be.name.as_str()));
        crate::worker::connect::use_server_choice(self.w, be, backend, &scene.ctx(&self.txn))
    }

    /// The request's values of the backend's request-dependent `sni` expressions (`sni
    /// req.hdr(host)`), after the http-request rules, as HAProxy evaluates them at connect time.
    fn request_sni(&self, be: &'a Backend) -> Vec<Option<String>> {
        if be.sni_exprs.is_empty() {
            return Vec::new();
        }
        let scene = self.scene(Some(be.name.as_str()));
        crate::worker::connect::sni_values(be, &scene.ctx(&self.txn))
    }

    /// Runs one proxy's `http-request` rules: the frontend's on its route alone, the backend's
    /// on the route to it (which decides an answer's errorfiles, tarpit and keep-alive).
    fn run_request_rules(
        &mut self,
        list: &'a [HttpRule],
        acls: &'a [Acl],
        route: Route<'a>,
    ) -> Result<(), Early> {
        let backend = route.backend().map(|b| b.name.as_str());
        let scene = request_scene(self.fe, &*self.conn, &self.req, backend);
        let rule = match action::run(list, acls, &scene, &mut self.txn) {
            Verdict::Continue => return Ok(()),
            Verdict::Reply(rule) => rule,
        };
        if let crate::config::model_rules::Action::UseService(svc) = rule.action {
            let keep_alive = route.client_keep_alive(self.req.keep_alive, self.w.is_stopping());
            let what = match svc {
                crate::config::model_rules::Service::PrometheusExporter => {
                    crate::stats::service::Intercept::Prometheus
                }
            };
            return Err(Early::Intercept(what, keep_alive));
        }
        self.rec
            .end(record::rule_answered(rule_answer_kind(&rule.action), false));
        // Whether the client may keep its connection after the answer, as after a response from
        // a server; `answer` still closes if the request's body cannot be drained.
        let client_keep_alive = route.client_keep_alive(self.req.keep_alive, self.w.is_stopping());
        let ctx = scene.ctx(&self.txn);
        let answer = reply::build(&rule.action, &ctx, route.errorfiles(), route.proxy_name());
        Err(Early::Answer(answer, route.tarpit(), client_keep_alive))
    }

    /// What request rules look at, before the edits.
    fn scene(&self, backend: Option<&'a str>) -> Scene<'_> {
        request_scene(self.fe, &*self.conn, &self.req, backend)
    }

    /// Answers the client from a rule (after the tarpit delay). As HAProxy 2.6 does after
    /// `deny`, `tarpit`, `auth`, `redirect` and `return`, the connection stays open for the next
    /// request when the client allows it (`client_keep_alive`), the answer is self-delimited and the
    /// request's body, if any, has fully arrived already (it is dropped); otherwise the answer
    /// says `connection: close` and the connection closes.
    pub(super) async fn answer(
        &mut self,
        mut a: Answer,
        tarpit: Option<Duration>,
        client_keep_alive: bool,
    ) -> Next {
        if a.tarpit {
            if let Some(d) = tarpit {
                // HAProxy reports the tarpit's hold as Tw: from the head to the answer.
                self.rec.marks.queued = true;
                monoio::time::sleep(d).await;
                self.rec.marks.slot = Some(Instant::now());
            }
        }
        self.conn.consume_head(self.req.head_len);
        let keep_alive = client_keep_alive && a.framed && !a.close && self.skip_buffered_body();
        let conn = if keep_alive {
            Conn::KeepAlive {
                announce: self.req.version == Version::Http10,
            }
        } else {
            Conn::Close
        };
        a.finish(conn, self.req.method == Method::Head);
        self.rec.status = Some(super::status_of(&a.bytes));
        if self.write_client(a.bytes).await.is_err() || !keep_alive {
            return Next::Close;
        }
        Next::KeepAlive
    }

    /// Drops the body of a request answered without going to a server, when the whole body is
    /// already in the buffer, so that the next request starts where it should. As HAProxy 2.6
    /// does, the answer is never held back waiting for more of the body: false means part of
    /// it has not arrived (or it is larger than the buffer), and the connection must close.
    fn skip_buffered_body(&mut self) -> bool {
        match self
            .conn
            .drop_buffered_body(&self.req, self.limits.max_head)
        {
            Some(n) => {
                self.rec.bytes_in += n;
                true
            }
            None => false,
        }
    }

    /// The hash input of the hashing balance algorithms, from the request.
    fn pick_key(&self, be: &Backend) -> PickKey {
        let buf = self.conn.head_bytes();
        let target = buf.get(self.req.target.clone()).unwrap_or(b"");
        let hash = match &be.balance {
            Balance::Source => Some(super::tcp::hash_ip(self.conn.peer())),
            Balance::Uri { whole: true } => Some(hash_bytes(target)),
            Balance::Uri { whole: false } => Some(hash_bytes(rules::path_of(target))),
            Balance::Hdr(name) => {
                crate::http::header_value(buf, &self.req.headers, name).map(hash_bytes)
            }
            Balance::RoundRobin
            | Balance::StaticRr
            | Balance::LeastConn
            | Balance::First
            | Balance::Random => None,
        };
        PickKey { hash }
    }

    /// Writes the head to send to the server into `self.out`.
    pub(super) fn build_request_head(&mut self, plan: &Plan<'a>) {
        let client_ip = self.conn.peer().ip();
        let forwarded_for = plan
            .route
            .forwardfor()
            .filter(|f| !f.except.is_some_and(|net| net.contains(client_ip)))
            .map(|f| (f.header.as_str(), client_ip, f.if_none));
        let connection = if self.req.upgrade {
            ConnHeader::Upgrade
        } else if plan.route.server_keep_alive()
            && (plan.client_keep_alive || plan.be.http_reuse != HttpReuse::Never)
        {
            ConnHeader::KeepAlive
        } else {
            ConnHeader::Close
        };
        let original_to = plan
            .route
            .originalto()
            .filter(|o| {
                !o.except
                    .is_some_and(|net| net.contains(self.conn.local().ip()))
            })
            .map(|o| (o.header.as_str(), self.conn.local().ip()));
        let edits = (!self.txn.edits.is_empty()).then_some(&self.txn.edits);
        let unique_id = self
            .fe
            .unique_id
            .as_ref()
            .and_then(|u| u.header.as_deref())
            .zip(self.txn.unique_id.as_deref());
        let rw = RequestRewrite {
            edits,
            unique_id,
            original_to,
            connection,
            forwarded_for,
            drop_expect: plan.send_continue,
            origin_form: self.conn.is_h2(),
        };
        self.out.clear();
        write_request_head(&mut self.out, self.conn.head_bytes(), &self.req, &rw);
    }
}

impl<D: Downstream> Session<'_, D> {
    /// Numbers the request and computes its `unique-id-format` value, once, before any rule
    /// runs (HAProxy computes it at its first use and keeps it; what its usual formats read,
    /// addresses, date, counter and pid, is the same then).
    fn start_unique_id(&mut self) {
        self.txn.req_counter = self.w.next_request_counter();
        self.rec.req_counter = self.txn.req_counter;
        self.txn.unique_id = None;
        let Some(uid) = &self.fe.unique_id else {
            return;
        };
        let scene = request_scene(self.fe, &*self.conn, &self.req, None);
        let id = rules::logformat::to_vec(&uid.format, &scene.ctx(&self.txn));
        let id = String::from_utf8_lossy(&id).into_owned();
        self.rec.unique_id = Some(id.clone());
        self.txn.unique_id = Some(id);
    }

    /// Moves the `http-request capture` values into the record (dropped when nothing logs).
    fn keep_captures(&mut self) {
        let taken = std::mem::take(&mut self.txn.captures);
        if let Some(c) = self.rec.captures.as_deref_mut() {
            for (slot, v) in &taken {
                c.sample(&self.fe.log.captures, *slot, v);
            }
        }
    }
}

/// Which kind of answer a terminal rule gives, for the record's termination state.
pub(super) fn rule_answer_kind(a: &crate::config::model_rules::Action) -> RuleAnswer {
    use crate::config::model_rules::Action;
    match a {
        Action::Tarpit(_) => RuleAnswer::Tarpit,
        Action::Return(_) | Action::Redirect(_) | Action::Auth { .. } | Action::UseService(_) => {
            RuleAnswer::Local
        }
        // A strict normalizer's 400 is a refusal, as a deny.
        Action::Deny(_) | Action::NormalizeUri(_) => RuleAnswer::Deny,
        // Not terminal: never answers (reply.rs answers 500 if it were asked to).
        Action::Allow
        | Action::SetHeader(..)
        | Action::AddHeader(..)
        | Action::DelHeader(_)
        | Action::ReplaceHeader { .. }
        | Action::SetPath(_)
        | Action::SetQuery(_)
        | Action::SetUri(_)
        | Action::SetMethod(_)
        | Action::SetStatus { .. }
        | Action::SetVar(_)
        | Action::UnsetVar(_)
        | Action::Capture { .. } => RuleAnswer::Internal,
    }
}

/// The request side of a rule context; a free function so that `Session::txn` stays free to
/// borrow mutably beside it.
fn request_scene<'s, D: Downstream>(
    fe: &'s Frontend,
    conn: &'s D,
    req: &'s Request,
    backend: Option<&'s str>,
) -> Scene<'s> {
    let buf = conn.head_bytes();
    Scene {
        src: conn.peer(),
        dst: conn.local(),
        tls: conn.tls(),
        first_req: conn.served() == 0,
        frontend: &fe.name,
        backend,
        server: None,
        side: Side::Request {
            head: Head {
                buf,
                headers: &req.headers,
            },
            method: buf.get(req.method_range.clone()).unwrap_or(b""),
            target: buf.get(req.target.clone()).unwrap_or(b""),
            version: crate::rules::ClientVersion::of(req.version, conn.is_h2()),
            body: buffered_body(buf, req),
        },
    }
}

/// The part of the request body already behind its head in `buf` (for `req.body`).
fn buffered_body<'s>(buf: &'s [u8], req: &Request) -> rules::ReqBody<'s> {
    let after = buf.get(req.head_len..).unwrap_or(b"");
    match req.body {
        BodyKind::None | BodyKind::UntilClose => rules::ReqBody::default(),
        BodyKind::Length(n) => rules::ReqBody {
            bytes: after
                .get(..n.min(after.len() as u64) as usize)
                .unwrap_or(after),
            chunked: false,
            length: Some(n),
        },
        BodyKind::Chunked => rules::ReqBody {
            bytes: after,
            chunked: true,
            length: None,
        },
    }
}
