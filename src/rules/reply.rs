//! The answers of terminal actions, built as complete HTTP/1.1 responses.

use std::io::Write;

use super::{logformat, Ctx};
use crate::config::model::ErrorFiles;
use crate::config::model_rules::{Action, Redirect, RedirectKind, Reply, ReplyBody};
use crate::http::errors::{error_response, reason};

/// A response ringlb answers itself.
pub struct Answer {
    pub bytes: Vec<u8>,
    /// The connection must close afterwards (error pages say `connection: close`).
    pub close: bool,
    /// Hold the request this long first (`tarpit`).
    pub tarpit: bool,
}

/// Builds the answer of a terminal action. `errorfiles` are the backend's then the frontend's;
/// `proxy` names the default auth realm; `keep` says whether the client may keep its connection.
pub fn build(a: &Action, ctx: &Ctx, errorfiles: &[&ErrorFiles], proxy: &str, keep: bool) -> Answer {
    match a {
        Action::Deny(r) | Action::Return(r) => reply(r, ctx, errorfiles, keep, false),
        Action::Tarpit(r) => reply(r, ctx, errorfiles, false, true),
        Action::Auth { realm } => auth(realm.as_deref().unwrap_or(proxy), errorfiles),
        Action::Redirect(r) => redirect(r, ctx, keep),
        // Not terminal: never asked for.
        _ => page(500, errorfiles, false),
    }
}

fn page(status: u16, errorfiles: &[&ErrorFiles], tarpit: bool) -> Answer {
    let bytes = errorfiles
        .iter()
        .find_map(|f| f.get(&status))
        .map(|b| b.to_vec())
        .unwrap_or_else(|| error_response(status).to_vec());
    Answer {
        bytes,
        close: true,
        tarpit,
    }
}

fn head(status: u16, reason: &str, keep: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "HTTP/1.1 {status} {reason}\r\n");
    if !keep {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out
}

fn reply(r: &Reply, ctx: &Ctx, errorfiles: &[&ErrorFiles], keep: bool, tarpit: bool) -> Answer {
    let body: Vec<u8> = match &r.body {
        ReplyBody::Default => return page(r.status, errorfiles, tarpit),
        ReplyBody::Raw(b) => {
            return Answer {
                bytes: b.to_vec(),
                close: true,
                tarpit,
            }
        }
        ReplyBody::Empty => Vec::new(),
        ReplyBody::Text(lf) => logformat::to_vec(lf, ctx),
        ReplyBody::File(b) => b.to_vec(),
    };
    let mut out = head(r.status, reason(r.status), keep);
    let _ = write!(out, "content-length: {}\r\n", body.len());
    if let (Some(ct), false) = (&r.content_type, body.is_empty()) {
        let _ = write!(out, "content-type: {ct}\r\n");
    }
    for (n, lf) in &r.headers {
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        logformat::render(lf, ctx, &mut out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    Answer {
        bytes: out,
        close: !keep,
        tarpit,
    }
}

/// 401 with a Basic challenge: the proxy's 401 page, its WWW-Authenticate replaced.
fn auth(realm: &str, errorfiles: &[&ErrorFiles]) -> Answer {
    let mut a = page(401, errorfiles, false);
    let Some(eol) = a.bytes.windows(2).position(|w| w == b"\r\n") else {
        return a;
    };
    let header = format!("www-authenticate: Basic realm=\"{realm}\"\r\n");
    let rest = strip_header(&a.bytes[eol + 2..], b"www-authenticate");
    let mut out = a.bytes[..eol + 2].to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&rest);
    a.bytes = out;
    a
}

/// Drops the lines of a header from a raw head+body (only within the head).
fn strip_header(raw: &[u8], name: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(0);
    let mut out = Vec::with_capacity(raw.len());
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        let is_it = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if !is_it {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&raw[end..]);
    out
}

fn redirect(r: &Redirect, ctx: &Ctx, keep: bool) -> Answer {
    let to = logformat::to_vec(&r.to, ctx);
    let mut location = Vec::new();
    let uri = || -> Vec<u8> {
        let target = ctx.req.map(|q| q.target).unwrap_or(b"/");
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(i) => (&target[..i], Some(&target[i..])),
            None => (target, None),
        };
        let mut u = path.to_vec();
        if let (Some(q), false) = (query, r.drop_query) {
            u.extend_from_slice(q);
        }
        // As HAProxy 2.6 does (http_apply_redirect_rule): the slash goes at the very end of
        // what was written, after the query when one is kept, so `/dir?q=1` becomes
        // `/dir?q=1/`. Odd, but it is what HAProxy answers; `drop-query` avoids it.
        if r.append_slash && !u.ends_with(b"/") {
            u.push(b'/');
        }
        u
    };
    match r.kind {
        RedirectKind::Location => location = to,
        RedirectKind::Prefix => {
            // A prefix of "/" means "the same URI": HAProxy avoids the double slash.
            if to != b"/" {
                location.extend_from_slice(&to);
            }
            location.extend_from_slice(&uri());
        }
        RedirectKind::Scheme => {
            let host = ctx
                .req
                .and_then(|q| {
                    super::head_lines(q.head, q.edits)
                        .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
                        .map(|(_, v)| v)
                })
                .unwrap_or(b"");
            location.extend_from_slice(&to);
            location.extend_from_slice(b"://");
            location.extend_from_slice(host);
            location.extend_from_slice(&uri());
        }
    }
    // HAProxy's redirect has its own reasons (302 "Found", not its table's "Moved Temporarily").
    let why = match r.code {
        301 => "Moved Permanently",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Found",
    };
    let mut out = head(r.code, why, keep);
    out.extend_from_slice(b"content-length: 0\r\nlocation: ");
    out.extend_from_slice(&location);
    out.extend_from_slice(b"\r\n");
    // HAProxy 2.6 marks only the temporary redirects uncacheable; 301 and 308 may be cached.
    if matches!(r.code, 302 | 303 | 307) {
        out.extend_from_slice(b"cache-control: no-cache\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Answer {
        bytes: out,
        close: !keep,
        tarpit: false,
    }
}
