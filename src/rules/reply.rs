//! The answers of terminal actions, built as complete HTTP/1.1 responses.

use std::io::Write;

use super::{logformat, Ctx};
use crate::config::model::ErrorFiles;
use crate::config::model_rules::{Action, Redirect, RedirectKind, Reply, ReplyBody};
use crate::http::errors::{error_response, reason};
use crate::http::{parse_response, BodyKind, HeadLimits, Method, Response};

/// A response ringlb answers itself, without any `connection` header yet: `finish` adds the
/// one that matches what happens to the connection afterwards.
pub struct Answer {
    pub bytes: Vec<u8>,
    /// The response delimits itself (a content-length, or no body by its status), so the
    /// connection can carry another one after it. False only for an `errorfile` that does not.
    pub framed: bool,
    /// The connection closes after it whatever the client asked: the 400 of a request the
    /// rules found malformed (HAProxy closes after a bad request).
    pub close: bool,
    /// Hold the request this long first (`tarpit`).
    pub tarpit: bool,
}

/// What the client connection does after an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// It closes: the answer says `connection: close`.
    Close,
    /// It stays open; `announce`: say so with `connection: keep-alive` (an HTTP/1.0 client,
    /// which assumes a close otherwise), as HAProxy 2.6 does.
    KeepAlive { announce: bool },
}

impl Answer {
    /// Sets the answer's connection header for `conn` (any the answer had are replaced, the
    /// new one goes last, where HAProxy puts it) and, for a HEAD request (`head_only`), drops
    /// the body but keeps the headers that describe it.
    pub fn finish(&mut self, conn: Conn, head_only: bool) {
        let Some(end) = self.bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        // An errorfile may announce HTTP/1.0, whose default is to close.
        let announce = |a: bool| a || self.bytes.starts_with(b"HTTP/1.0");
        let header: &[u8] = match conn {
            Conn::Close => b"connection: close\r\n",
            Conn::KeepAlive { announce: a } if announce(a) => b"connection: keep-alive\r\n",
            Conn::KeepAlive { .. } => b"",
        };
        let body_at = end + 4;
        // Both keep the final empty line; it is taken off, then put back after `header`.
        let mut head = strip_header(&self.bytes[..body_at], b"connection");
        head = strip_header(&head, b"keep-alive");
        head.truncate(head.len().saturating_sub(2));
        head.extend_from_slice(header);
        head.extend_from_slice(b"\r\n");
        if !head_only {
            head.extend_from_slice(self.bytes.get(body_at..).unwrap_or(&[]));
        }
        self.bytes = head;
    }
}

/// Builds the answer of a terminal action. `errorfiles` are the backend's then the frontend's;
/// `proxy` names the default auth realm.
pub fn build(a: &Action, ctx: &Ctx, errorfiles: &[&ErrorFiles], proxy: &str) -> Answer {
    match a {
        Action::Deny(r) | Action::Return(r) => reply(r, ctx, errorfiles, false),
        Action::Tarpit(r) => reply(r, ctx, errorfiles, true),
        Action::Auth { realm } => auth(realm.as_deref().unwrap_or(proxy), errorfiles),
        Action::Redirect(r) => redirect(r, ctx),
        // Reached only when a strict normalizer refused the target, as HAProxy's 400.
        Action::NormalizeUri(_) => Answer {
            close: true,
            ..page(400, errorfiles, false)
        },
        // Not terminal: never asked for.
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
        | Action::Capture { .. }
        | Action::UnsetVar(_)
        // Answered by the service itself (serve/request.rs), never built here.
        | Action::UseService(_) => page(500, errorfiles, false),
    }
}

fn page(status: u16, errorfiles: &[&ErrorFiles], tarpit: bool) -> Answer {
    match errorfiles.iter().find_map(|f| f.get(&status)) {
        Some(b) => raw(b, tarpit),
        None => Answer {
            bytes: error_response(status).to_vec(),
            framed: true,
            close: false,
            tarpit,
        },
    }
}

/// An `errorfile`'s bytes, sent as they are.
fn raw(bytes: &[u8], tarpit: bool) -> Answer {
    Answer {
        bytes: bytes.to_vec(),
        framed: self_delimited(bytes),
        close: false,
        tarpit,
    }
}

/// Whether a complete response in `bytes` ends exactly where its framing says it does.
fn self_delimited(bytes: &[u8]) -> bool {
    let limits = HeadLimits {
        max_head: bytes.len(),
        max_headers: 1000,
    };
    let mut resp = Response::new();
    match parse_response(bytes, &limits, Method::Get, &mut resp) {
        Ok(true) => match resp.body {
            BodyKind::None => resp.head_len == bytes.len(),
            BodyKind::Length(n) => {
                (resp.head_len as u64).checked_add(n) == Some(bytes.len() as u64)
            }
            BodyKind::Chunked | BodyKind::UntilClose => false,
        },
        _ => false,
    }
}

fn head(status: u16, reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let _ = write!(out, "HTTP/1.1 {status} {reason}\r\n");
    out
}

fn reply(r: &Reply, ctx: &Ctx, errorfiles: &[&ErrorFiles], tarpit: bool) -> Answer {
    let body: Vec<u8> = match &r.body {
        ReplyBody::Default => return page(r.status, errorfiles, tarpit),
        ReplyBody::Raw(b) => return raw(b, tarpit),
        ReplyBody::Empty => Vec::new(),
        ReplyBody::Text(lf) => logformat::to_vec(lf, ctx),
        ReplyBody::File(b) => b.to_vec(),
    };
    let mut out = head(r.status, reason(r.status));
    // As HAProxy 2.6: a 204 carries no content-length at all (RFC 9110 8.6 forbids it); every
    // other status says how long its body is, 0 included (304 too). The config refuses a body
    // with 204 or 304.
    if r.status != 204 {
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
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
        framed: true,
        close: false,
        tarpit,
    }
}

/// 401 with a Basic challenge: the proxy's 401 page, its WWW-Authenticate replaced.
/// ringlb's error page for `status` (the proxies' errorfiles first), for answers built
/// outside the rules (the stats page's services).
pub fn error_page(status: u16, errorfiles: &[&ErrorFiles]) -> Answer {
    page(status, errorfiles, false)
}

/// A 401 asking for Basic credentials in `realm` (auth rules, the stats page).
pub fn auth(realm: &str, errorfiles: &[&ErrorFiles]) -> Answer {
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

fn redirect(r: &Redirect, ctx: &Ctx) -> Answer {
    let to = logformat::to_vec(&r.to, ctx);
    let mut location = Vec::new();
    let uri = || -> Vec<u8> {
        // The path and query, also of an absolute-form target (HTTP/1 through a proxy, every
        // HTTP/2 request), as HAProxy 2.6 takes them (http_get_path).
        let target = crate::http::origin_form(ctx.req.map(|q| q.target).unwrap_or(b"/"));
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
    let mut out = head(r.code, why);
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
        framed: true,
        close: false,
        tarpit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: &[u8]) -> Answer {
        raw(bytes, false)
    }

    fn text(a: &Answer) -> &str {
        std::str::from_utf8(&a.bytes).unwrap_or("<not utf-8>")
    }

    #[test]
    fn finish_sets_one_connection_header() {
        let page = error_response(403);
        let mut a = answer(page);
        assert!(a.framed);
        a.finish(Conn::KeepAlive { announce: false }, false);
        assert!(!text(&a).to_ascii_lowercase().contains("connection:"));
        assert!(text(&a).ends_with("</body></html>\n"));
        let mut a = answer(page);
        a.finish(Conn::KeepAlive { announce: true }, false);
        assert_eq!(
            text(&a)
                .matches("connection: keep-alive\r\n\r\n<html>")
                .count(),
            1
        );
        assert!(!text(&a).contains("connection: close"));
        let mut a = answer(page);
        a.finish(Conn::Close, true);
        assert!(text(&a).ends_with("content-type: text/html\r\nconnection: close\r\n\r\n"));
        assert_eq!(text(&a).matches("connection:").count(), 1);
        // An HTTP/1.0 errorfile announces keep-alive whatever the client's version.
        let mut a = answer(b"HTTP/1.0 403 No\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno");
        a.finish(Conn::KeepAlive { announce: false }, false);
        assert_eq!(
            text(&a),
            "HTTP/1.0 403 No\r\nContent-Length: 2\r\nconnection: keep-alive\r\n\r\nno"
        );
    }

    #[test]
    fn errorfiles_without_framing_are_not_kept() {
        assert!(answer(b"HTTP/1.1 204 No Content\r\n\r\n").framed);
        assert!(answer(b"HTTP/1.1 403 F\r\ncontent-length: 2\r\n\r\nno").framed);
        assert!(!answer(b"HTTP/1.1 403 F\r\ncontent-length: 3\r\n\r\nno").framed);
        assert!(!answer(b"HTTP/1.1 403 F\r\n\r\nno body length").framed);
        assert!(!answer(b"HTTP/1.1 403 F\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").framed);
        assert!(!answer(b"HTTP/1.1 403 F\r\ncontent-length: 2\r\n").framed);
        assert!(!answer(b"").framed);
    }
}
