//! Log-format strings rendered into bytes: the same engine serves header values, redirect
//! targets, `lf-string` bodies and, later, access logs.

use std::io::Write;

use super::{fetch, Ctx};
use crate::config::model_rules::{LfNode, LfVar, LogFormat};

/// Appends the rendered string to `out`. A variable without a value writes `-` (as HAProxy's
/// logs do); an expression without a value writes nothing.
pub fn render(lf: &LogFormat, ctx: &Ctx, out: &mut Vec<u8>) {
    for n in &lf.nodes {
        match n {
            LfNode::Lit(s) => out.extend_from_slice(s.as_bytes()),
            LfNode::Expr(e) => {
                if let Some(s) = fetch::sample(e, ctx) {
                    out.extend_from_slice(&s.bytes());
                }
            }
            LfNode::Var(v) => var(*v, ctx, out),
        }
    }
}

/// The rendered string in a new Vec (literal strings are copied without formatting).
pub fn to_vec(lf: &LogFormat, ctx: &Ctx) -> Vec<u8> {
    if let Some(lit) = lf.literal() {
        return lit.as_bytes().to_vec();
    }
    let mut out = Vec::new();
    render(lf, ctx, &mut out);
    out
}

fn var(v: LfVar, ctx: &Ctx, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match v {
        LfVar::ClientIp => write!(out, "{}", ctx.src.ip()),
        LfVar::ClientPort => write!(out, "{}", ctx.src.port()),
        LfVar::FrontendIp => write!(out, "{}", ctx.dst.ip()),
        LfVar::FrontendPort => write!(out, "{}", ctx.dst.port()),
        LfVar::BackendSrcIp => match ctx.server.and_then(|s| s.local) {
            Some(a) => write!(out, "{}", a.ip()),
            None => write!(out, "-"),
        },
        LfVar::BackendSrcPort => match ctx.server.and_then(|s| s.local) {
            Some(a) => write!(out, "{}", a.port()),
            None => write!(out, "-"),
        },
        LfVar::ServerIp => match ctx.server {
            Some(s) => write!(out, "{}", s.addr.ip()),
            None => write!(out, "-"),
        },
        LfVar::ServerPort => match ctx.server {
            Some(s) => write!(out, "{}", s.addr.port()),
            None => write!(out, "-"),
        },
        LfVar::FrontendName => write!(out, "{}", ctx.frontend),
        LfVar::BackendName => write!(out, "{}", ctx.backend.unwrap_or(ctx.frontend)),
        LfVar::ServerName => write!(out, "{}", ctx.server.map(|s| s.name).unwrap_or("<NOSRV>")),
        LfVar::Status => match ctx.res {
            Some(r) => write!(out, "{}", r.status),
            None => write!(out, "-"),
        },
        LfVar::RequestLine => match ctx.req {
            Some(r) => {
                out.extend_from_slice(r.method);
                out.push(b' ');
                out.extend_from_slice(r.target);
                write!(out, " {}", r.version.line())
            }
            None => write!(out, "-"),
        },
        LfVar::Method => match ctx.req {
            Some(r) => out.write_all(r.method),
            None => write!(out, "-"),
        },
        LfVar::Uri => match ctx.req {
            Some(r) => out.write_all(r.target),
            None => write!(out, "-"),
        },
        LfVar::Path => match ctx.req {
            Some(r) => out.write_all(super::path_of(r.target)),
            None => write!(out, "-"),
        },
        LfVar::Version => match ctx.req {
            Some(r) => write!(out, "{}", r.version.line()),
            None => write!(out, "-"),
        },
    };
}
