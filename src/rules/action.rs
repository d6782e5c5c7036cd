//! Running a rule list: conditions in order, edits applied to the head as they come (so a rule
//! sees what the rules before it did), the first terminal action ends every list. A
//! `normalize-uri ... strict` that meets a malformed `%` ends them too: the request gets 400.

use std::net::SocketAddr;

use super::normalize::{self, BadPercent};
use super::{
    fetch, logformat, matcher, ClientVersion, Ctx, ReqView, ResView, ServerInfo, Smp, Vars,
};
use crate::config::model::Acl;
use crate::config::model_rules::{Action, HttpRule, Normalizer, VarValue};
use crate::http::{Head, HeadEdits};
use crate::tls::facts::ConnFacts;

/// What rules change about one request or response; reused from request to request.
#[derive(Debug, Default)]
pub struct Txn {
    pub edits: HeadEdits,
    pub vars: Vars,
    /// `http-request capture` values, by request capture slot, for the request's record.
    pub captures: Vec<(usize, Vec<u8>)>,
    /// The request's `unique-id-format` value, computed once before its rules run.
    pub unique_id: Option<String>,
    /// The request's number on this process (`%rt`).
    pub req_counter: u64,
}

/// The side of the exchange a rule list looks at.
#[derive(Clone, Copy)]
pub enum Side<'a> {
    Request {
        head: Head<'a>,
        method: &'a [u8],
        target: &'a [u8],
        version: ClientVersion,
        body: super::ReqBody<'a>,
    },
    Response {
        head: Head<'a>,
        status: u16,
    },
}

/// Everything but the transaction's own state: addresses, names, the parsed head.
#[derive(Clone, Copy)]
pub struct Scene<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frontend: &'a str,
    pub backend: Option<&'a str>,
    pub server: Option<ServerInfo<'a>>,
    pub side: Side<'a>,
    /// The client connection's TLS, when it has some.
    pub tls: Option<&'a ConnFacts>,
    /// The client connection's first request (`http_first_req`).
    pub first_req: bool,
}

impl<'a> Scene<'a> {
    /// The context rules see: the scene through the edits made so far.
    pub fn ctx<'b>(&'b self, txn: &'b Txn) -> Ctx<'b> {
        let (req, res) = match self.side {
            Side::Request {
                head,
                method,
                target,
                version,
                body,
            } => (
                Some(ReqView {
                    body,
                    head,
                    method: txn.edits.method.as_deref().unwrap_or(method),
                    target: txn.edits.target.as_deref().unwrap_or(target),
                    version,
                    edits: Some(&txn.edits),
                }),
                None,
            ),
            Side::Response { head, status } => (
                None,
                Some(ResView {
                    head,
                    status: txn.edits.status.unwrap_or(status),
                    edits: Some(&txn.edits),
                }),
            ),
        };
        Ctx {
            src: self.src,
            dst: self.dst,
            frontend: self.frontend,
            backend: self.backend,
            server: self.server,
            req,
            res,
            vars: Some(&txn.vars),
            tls: self.tls,
            content: None,
            unique_id: txn.unique_id.as_deref(),
            req_counter: txn.req_counter,
            first_req: self.first_req,
        }
    }

    /// The context without a transaction: for routing when no rule ran (nothing to see through).
    pub fn plain_ctx(&self) -> Ctx<'a> {
        let req = match self.side {
            Side::Request {
                head,
                method,
                target,
                version,
                body,
            } => Some(ReqView {
                body,
                head,
                method,
                target,
                version,
                edits: None,
            }),
            Side::Response { .. } => None,
        };
        Ctx {
            src: self.src,
            dst: self.dst,
            frontend: self.frontend,
            backend: self.backend,
            server: self.server,
            req,
            res: None,
            vars: None,
            tls: self.tls,
            content: None,
            unique_id: None,
            req_counter: 0,
            first_req: self.first_req,
        }
    }

    fn head(&self) -> Head<'a> {
        match self.side {
            Side::Request { head, .. } | Side::Response { head, .. } => head,
        }
    }
}

/// How a rule list ended.
pub enum Verdict<'r> {
    /// Every rule ran, or `allow` stopped this list: go on with the next list.
    Continue,
    /// A terminal action (deny, tarpit, auth, redirect, return) answers the client, or a
    /// strict `normalize-uri` refused the target (`reply::build` answers 400 for it).
    Reply(&'r HttpRule),
}

pub fn run<'r>(rules: &'r [HttpRule], acls: &[Acl], scene: &Scene, txn: &mut Txn) -> Verdict<'r> {
    for rule in rules {
        if !matcher::holds(acls, rule.cond.as_ref(), &scene.ctx(txn)) {
            continue;
        }
        match &rule.action {
            Action::Allow => return Verdict::Continue,
            a if a.is_terminal() => return Verdict::Reply(rule),
            Action::NormalizeUri(n) => {
                if normalize_target(*n, scene, txn).is_err() {
                    return Verdict::Reply(rule);
                }
            }
            a => apply(a, scene, txn),
        }
    }
    Verdict::Continue
}

fn apply(a: &Action, scene: &Scene, txn: &mut Txn) {
    let head = scene.head();
    let render = |lf, txn: &Txn| logformat::to_vec(lf, &scene.ctx(txn));
    match a {
        Action::SetHeader(n, lf) => {
            let v = render(lf, txn);
            txn.edits.set(head, n.as_bytes(), v);
        }
        Action::AddHeader(n, lf) => {
            let v = render(lf, txn);
            txn.edits.add(head, n.as_bytes(), v);
        }
        Action::DelHeader(n) => txn.edits.del(head, n.as_bytes()),
        Action::ReplaceHeader {
            name,
            re,
            with,
            each_value,
        } => {
            let with = render(with, txn);
            txn.edits.replace(head, name.as_bytes(), |v| {
                replace_value(re, &with, v, *each_value)
            });
        }
        Action::SetPath(lf) => {
            let p = render(lf, txn);
            let t = with_target(scene, txn, |t| {
                let q = fetch::query_of(t);
                join_query(&p, q)
            });
            txn.edits.target = t;
        }
        Action::SetQuery(lf) => {
            let q = render(lf, txn);
            let t = with_target(scene, txn, |t| {
                let path = t.split(|&b| b == b'?').next().unwrap_or(t);
                join_query(
                    path,
                    Some(&q).filter(|q| !q.is_empty()).map(|q| q.as_slice()),
                )
            });
            txn.edits.target = t;
        }
        Action::SetUri(lf) => txn.edits.target = Some(render(lf, txn)),
        Action::SetMethod(lf) => txn.edits.method = Some(render(lf, txn)),
        Action::SetStatus { status, reason } => {
            txn.edits.status = Some(*status);
            txn.edits.reason = reason.as_ref().map(|r| r.as_bytes().to_vec());
        }
        Action::SetVar(sv) => {
            let v = match &sv.value {
                VarValue::Expr(e) => fetch::sample(e, &scene.ctx(txn)).map(|s| s.to_owned_smp()),
                VarValue::Fmt(lf) => Some(Smp::Str(render(lf, txn).into())),
            };
            if let Some(v) = v.filter(|v| txn.vars.allows(&sv.name, v, &sv.conds)) {
                txn.vars.set(&sv.name, v);
            }
        }
        Action::UnsetVar(name) => txn.vars.unset(name),
        Action::Capture { expr, slot, .. } => {
            if let Some(v) = fetch::sample(expr, &scene.ctx(txn)) {
                txn.captures.push((*slot, v.bytes().to_vec()));
            }
        }
        // Terminal actions, allow and normalize-uri are handled by `run`.
        Action::Allow
        | Action::Deny(_)
        | Action::Tarpit(_)
        | Action::Auth { .. }
        | Action::Redirect(_)
        | Action::Return(_)
        | Action::UseService(_)
        | Action::NormalizeUri(_) => {}
    }
}

/// Rewrites the current target (edited or not) with one normalizer, as set-uri would.
fn normalize_target(n: Normalizer, scene: &Scene, txn: &mut Txn) -> Result<(), BadPercent> {
    let Some(req) = scene.ctx(txn).req else {
        return Ok(());
    };
    if let Some(t) = normalize::apply(n, req.target)? {
        txn.edits.target = Some(t);
    }
    Ok(())
}

/// Computes a new target from the current one (edited or not).
fn with_target(scene: &Scene, txn: &Txn, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Option<Vec<u8>> {
    let ctx = scene.ctx(txn);
    ctx.req.map(|r| f(r.target))
}

fn join_query(path: &[u8], q: Option<&[u8]>) -> Vec<u8> {
    let mut out = path.to_vec();
    if let Some(q) = q {
        out.push(b'?');
        out.extend_from_slice(q);
    }
    out
}

/// `replace-header`: the whole value must match; `replace-value`: each comma-separated item.
fn replace_value(re: &regex::Regex, with: &[u8], v: &[u8], each: bool) -> Option<Vec<u8>> {
    let one = |item: &[u8]| -> Option<Vec<u8>> {
        let s = std::str::from_utf8(item).ok()?;
        let caps = re.captures(s)?;
        Some(expand(with, &caps))
    };
    if !each {
        return one(v);
    }
    let mut changed = false;
    let mut out = Vec::with_capacity(v.len());
    for (i, item) in v.split(|&b| b == b',').enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        let item = item.trim_ascii();
        match one(item) {
            Some(new) => {
                changed = true;
                out.extend_from_slice(&new);
            }
            None => out.extend_from_slice(item),
        }
    }
    changed.then_some(out)
}

/// HAProxy's `\1`..`\9` back-references in a replacement.
fn expand(with: &[u8], caps: &regex::Captures) -> Vec<u8> {
    let mut out = Vec::with_capacity(with.len());
    let mut i = 0;
    while i < with.len() {
        match (with[i], with.get(i + 1)) {
            (b'\\', Some(d)) if d.is_ascii_digit() => {
                let n = (d - b'0') as usize;
                if let Some(m) = caps.get(n) {
                    out.extend_from_slice(m.as_str().as_bytes());
                }
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_header_and_value() {
        let re = regex::Regex::new("^(?:(.*)\\.internal)$").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            replace_value(&re, b"\\1.example.com", b"a.internal", false),
            Some(b"a.example.com".to_vec())
        );
        assert_eq!(replace_value(&re, b"x", b"a.other", false), None);
        assert_eq!(
            replace_value(&re, b"\\1", b"a.internal, b.other", true),
            Some(b"a, b.other".to_vec())
        );
    }
}
