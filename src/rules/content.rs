//! Content inspection: the fetches over the bytes a connection sent first (`req.len`,
//! `req.payload`, `req.ssl_sni` ...), conditions that may answer "not yet" while more bytes
//! can come (HAProxy's `ACL_TEST_MISS`), and the `tcp-request` / `tcp-response` rule lists.
//!
//! HAProxy's semantics, kept here: a condition that holds on what is there holds; one that
//! fails on data that may still change (too few bytes, a ClientHello cut short, `WAIT_END`
//! before the delay is over) is a miss, and the rule list waits for more bytes, the end of
//! the inspect delay, the client's close or a full buffer (`last`), after which every fetch
//! answers with what there is. The first rule whose condition holds decides; none: accept.

use std::borrow::Cow;

use super::{hello, matcher, Ctx, Smp};
use crate::config::model::Acl;
use crate::config::model::Condition;
use crate::config::model_rules::{Dir, Fetch, PayloadFetch};
use crate::config::model_tcp::{TcpAction, TcpRule};

/// The bytes inspection holds, and whether more may come.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub req: Option<&'a [u8]>,
    pub res: Option<&'a [u8]>,
    /// The contents are final: the delay is over (or there is none), the peer closed, or the
    /// buffer is full.
    pub last: bool,
}

pub fn fetch<'a>(dir: Dir, p: &PayloadFetch, held: &Held<'a>) -> Option<Smp<'a>> {
    let buf = match dir {
        Dir::Req => held.req?,
        Dir::Res => held.res?,
    };
    let found = |r: hello::Read<Smp<'a>>| match r {
        hello::Read::Found(s) => Some(s),
        _ => None,
    };
    match p {
        PayloadFetch::Len => Some(Smp::Int(buf.len() as i64)),
        PayloadFetch::Bytes { off, len } => bytes_at(buf, *off, *len),
        PayloadFetch::Lv { off1, len, off2 } => lv(buf, *off1, *len, *off2),
        PayloadFetch::SslSni => found(map(hello::sni(buf), |n| Smp::Str(Cow::Borrowed(n)))),
        PayloadFetch::SslVer => found(map(hello::version(buf), Smp::Int)),
        PayloadFetch::SslHelloType => found(map(hello::hello_type(buf), |t| Smp::Int(t.into()))),
        PayloadFetch::SslEcExt => found(map(hello::has_ec_ext(buf), Smp::Bool)),
        PayloadFetch::ProtoHttp => match http_head(buf) {
            hello::Read::Found(()) => Some(Smp::Bool(true)),
            _ => None,
        },
    }
}

fn map<T, U>(r: hello::Read<T>, f: impl FnOnce(T) -> U) -> hello::Read<U> {
    match r {
        hello::Read::Found(v) => hello::Read::Found(f(v)),
        hello::Read::No => hello::Read::No,
        hello::Read::More => hello::Read::More,
    }
}

fn bytes_at(buf: &[u8], off: usize, len: usize) -> Option<Smp<'_>> {
    let end = if len == 0 {
        buf.len()
    } else {
        off.checked_add(len)?
    };
    buf.get(off..end).map(|b| Smp::Str(Cow::Borrowed(b)))
}

/// The length-prefixed block `req.payload_lv` reads; `None` while any of it is missing.
fn lv(buf: &[u8], off1: usize, len: usize, off2: Option<i64>) -> Option<Smp<'_>> {
    let field = buf.get(off1..off1.checked_add(len)?)?;
    let size = field
        .iter()
        .try_fold(0usize, |n, &b| n.checked_mul(256)?.checked_add(b.into()))?;
    let start = match off2 {
        None => off1 + len,
        // A relative offset counts from the end of the length field, as HAProxy's does.
        Some(o) => usize::try_from((off1 + len) as i64 + o).ok()?,
    };
    buf.get(start..start.checked_add(size)?)
        .map(|b| Smp::Str(Cow::Borrowed(b)))
}

/// A complete, valid HTTP/1 request head at the start of `buf`.
fn http_head(buf: &[u8]) -> hello::Read<()> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => hello::Read::Found(()),
        Ok(httparse::Status::Partial) => hello::Read::More,
        Err(httparse::Error::TooManyHeaders) => hello::Read::Found(()),
        Err(_) => hello::Read::No,
    }
}

/// Whether a fetch that gave no value, or one that did not match, may give another once more
/// bytes come (HAProxy's `SMP_F_MAY_CHANGE`).
fn may_change(f: &Fetch, held: &Held) -> bool {
    if held.last {
        return false;
    }
    let (dir, p) = match f {
        Fetch::WaitEnd => return true,
        Fetch::Payload(dir, p) => (*dir, p),
        _ => return false,
    };
    let Some(buf) = (match dir {
        Dir::Req => held.req,
        Dir::Res => held.res,
    }) else {
        return false;
    };
    let more = |r: hello::Read<()>| r == hello::Read::More;
    match p {
        PayloadFetch::Len => true,
        PayloadFetch::Bytes { off, len } => *len == 0 || buf.len() < off.saturating_add(*len),
        PayloadFetch::Lv { off1, len, off2 } => lv(buf, *off1, *len, *off2).is_none(),
        PayloadFetch::SslSni => more(map(hello::sni(buf), |_| ())),
        PayloadFetch::SslVer => more(map(hello::version(buf), |_| ())),
        PayloadFetch::SslHelloType => more(map(hello::hello_type(buf), |_| ())),
        PayloadFetch::SslEcExt => more(map(hello::has_ec_ext(buf), |_| ())),
        PayloadFetch::ProtoHttp => more(http_head(buf)),
    }
}

/// A condition's three answers, with HAProxy's values so that AND is `&` and OR is `|`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    Fail = 0,
    Miss = 1,
    Pass = 3,
}

impl Tri {
    fn from_bits(b: u8) -> Tri {
        match b {
            3 => Tri::Pass,
            0 => Tri::Fail,
            _ => Tri::Miss,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::Pass => Tri::Fail,
            Tri::Fail => Tri::Pass,
            Tri::Miss => Tri::Miss,
        }
    }
}

fn acl_tri(acl: &Acl, ctx: &Ctx, held: &Held) -> Tri {
    let mut res = Tri::Fail;
    for m in &acl.matchers {
        if matcher::matcher_matches(m, ctx) {
            return Tri::Pass;
        }
        if may_change(&m.expr.fetch, held) {
            res = Tri::Miss;
        }
    }
    res
}

/// `if`/`unless` over what is held: HAProxy's `acl_exec_cond` and `acl_pass`.
pub fn eval(acls: &[Acl], cond: &Condition, ctx: &Ctx) -> Tri {
    let held = ctx.content.unwrap_or(Held {
        req: None,
        res: None,
        last: true,
    });
    let mut any = Tri::Fail as u8;
    for group in &cond.any_of {
        let mut all = Tri::Pass as u8;
        for term in group {
            let t = acls
                .get(term.acl)
                .map_or(Tri::Fail, |a| acl_tri(a, ctx, &held));
            let t = if term.negate { t.not() } else { t };
            all &= t as u8;
            if all == Tri::Fail as u8 {
                break;
            }
        }
        any |= all;
        if any == Tri::Pass as u8 {
            break;
        }
    }
    let res = Tri::from_bits(any);
    if cond.unless {
        res.not()
    } else {
        res
    }
}

/// How a rule list ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No rule decided, or `accept`: the connection goes on.
    Accept,
    Reject,
    SilentDrop,
    /// `tcp-response content close`.
    Close,
    /// A condition needs more bytes: wait, then run the list again.
    Wait,
}

impl Verdict {
    /// The connection ends here (`reject`, `silent-drop`).
    pub fn refuses(self) -> bool {
        matches!(self, Verdict::Reject | Verdict::SilentDrop)
    }
}

/// What a rule list decided, and whether an `expect-proxy layer4` rule matched on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub expect_proxy: bool,
}

/// Runs `rules` in order over `ctx`.
pub fn run(rules: &[TcpRule], acls: &[Acl], ctx: &Ctx) -> Outcome {
    let mut out = Outcome {
        verdict: Verdict::Accept,
        expect_proxy: false,
    };
    for r in rules {
        let applies = match &r.cond {
            None => true,
            Some(c) => match eval(acls, c, ctx) {
                Tri::Miss => {
                    out.verdict = Verdict::Wait;
                    return out;
                }
                t => t == Tri::Pass,
            },
        };
        if !applies {
            continue;
        }
        out.verdict = match r.action {
            TcpAction::Accept => Verdict::Accept,
            TcpAction::Reject => Verdict::Reject,
            TcpAction::SilentDrop => Verdict::SilentDrop,
            TcpAction::Close => Verdict::Close,
            TcpAction::ExpectProxy => {
                out.expect_proxy = true;
                continue;
            }
        };
        return out;
    }
    out
}
