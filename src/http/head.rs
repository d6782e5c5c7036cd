//! Outgoing heads: the parsed head rewritten into a reused `Vec<u8>`, header by header, with no
//! allocation beyond the Vec's growth.
//!
//! The writers APPEND to `out` (so a caller can batch); clear it first for a fresh head.
//!
//! Hop-by-hop fields (RFC 9110 7.6.1) are dropped: Connection, Keep-Alive, Proxy-Connection, TE,
//! Upgrade (kept for an upgrade), and every field a Connection header names — except Host,
//! Content-Length and Transfer-Encoding: the body is forwarded with the framing it came with,
//! and letting a peer strip its own framing headers would be a smuggling gift.
//!
//! Framing fields go out in one canonical form, written from the parsed `Framing`, never as
//! received: one `Content-Length` however many identical fields or list members came in
//! (`5, 5` -> `5`), one `Transfer-Encoding: chunked` (empty list members and empty fields
//! gone). Content-Length is dropped when Transfer-Encoding is there (RFC 9112 6.3); both are
//! dropped from 1xx and 204 responses (RFC 9110 8.6, RFC 9112 6.1), from the 2xx answer to
//! CONNECT and from a de-chunked body; a 304 or a response to HEAD keeps them (the length the
//! body would have had). The field keeps the name (and place) of the first one received.

use super::edit::{Head, HeadEdits};
use super::framing::list_items;
use super::parse::{BodyKind, Header, Request, Response, Version};
use std::io::Write;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnHeader {
    /// Requests: nothing is added (keep-alive is HTTP/1.1's default). Responses: nothing, or
    /// `connection: keep-alive` when the announced version is HTTP/1.0.
    KeepAlive,
    /// `connection: close`.
    Close,
    /// `connection: upgrade`, and the Upgrade header is kept.
    Upgrade,
}

pub struct RequestRewrite<'a> {
    pub connection: ConnHeader,
    /// What rules changed (method, target, headers); `None` when no rule ran.
    pub edits: Option<&'a HeadEdits>,
    /// `option originalto`: (lower-case header name, the address the client connected to).
    pub original_to: Option<(&'a str, IpAddr)>,
    /// (lower-case header name, client address, if_none): add `name: address` as a new line,
    /// unless `if_none` and the (forwarded) request already has that header.
    pub forwarded_for: Option<(&'a str, IpAddr, bool)>,
    pub drop_expect: bool,
    /// `unique-id-header`: (lower-case header name, the request's ID), added as a new line.
    pub unique_id: Option<(&'a str, &'a str)>,
    /// The target goes out in origin-form (`/p?q`) even when the request has it in
    /// absolute-form: an HTTP/2 request's (serve/h2/head.rs), as HAProxy sends those.
    pub origin_form: bool,
}

pub struct ResponseRewrite<'a> {
    pub connection: ConnHeader,
    /// What rules changed (status, reason, headers); `None` when no rule ran.
    pub edits: Option<&'a HeadEdits>,
    /// Status-line version. With `Http10` and `KeepAlive`, `connection: keep-alive` is added,
    /// because an HTTP/1.0 client closes otherwise.
    pub version: Version,
    /// The body goes out de-chunked and close-delimited (HTTP/1.0 client): Transfer-Encoding and
    /// Content-Length are dropped and `connection: close` is sent whatever `connection` says.
    pub dechunk: bool,
}

/// The hop-by-hop fields always dropped (Upgrade is kept for an upgrade; Transfer-Encoding,
/// hop-by-hop as well, is handled apart since the body keeps its framing).
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    match name.len() {
        2 => name.eq_ignore_ascii_case(b"te"),
        7 => name.eq_ignore_ascii_case(b"upgrade"),
        10 => name.eq_ignore_ascii_case(b"connection") || name.eq_ignore_ascii_case(b"keep-alive"),
        16 => name.eq_ignore_ascii_case(b"proxy-connection"),
        _ => false,
    }
}

/// Always `HTTP/1.1` towards servers; method and target as received (or in origin-form, when
/// `rw.origin_form` says so).
pub fn write_request_head(out: &mut Vec<u8>, buf: &[u8], req: &Request, rw: &RequestRewrite) {
    let method = rw.edits.and_then(|e| e.method.as_deref());
    let target = rw.edits.and_then(|e| e.target.as_deref());
    let target = target.unwrap_or(slice(buf, &req.target));
    out.extend_from_slice(method.unwrap_or(slice(buf, &req.method_range)));
    out.push(b' ');
    out.extend_from_slice(if rw.origin_form {
        super::target::origin_form(target)
    } else {
        target
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let filter = Filter {
        keep_upgrade: rw.connection == ConnHeader::Upgrade,
        drop_expect: rw.drop_expect,
        framing: request_framing(req),
    };
    let xff_name = rw.forwarded_for.map(|(name, _, _)| name.as_bytes());
    let head = Head {
        buf,
        headers: &req.headers,
    };
    let xff_seen = write_headers(out, head, rw.edits, &filter, xff_name);
    match rw.connection {
        ConnHeader::KeepAlive => {}
        ConnHeader::Close => out.extend_from_slice(b"connection: close\r\n"),
        ConnHeader::Upgrade => out.extend_from_slice(b"connection: upgrade\r\n"),
    }
    // HAProxy adds the unique ID before X-Forwarded-For and X-Original-To.
    if let Some((name, id)) = rw.unique_id {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some((name, ip, if_none)) = rw.forwarded_for {
        if !(if_none && xff_seen) {
            out.extend_from_slice(name.as_bytes());
            // Writing into a Vec cannot fail.
            let _ = write!(out, ": {ip}\r\n");
        }
    }
    if let Some((name, ip)) = rw.original_to {
        out.extend_from_slice(name.as_bytes());
        let _ = write!(out, ": {ip}\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Status code and reason phrase as received, version as `rw.version`.
pub fn write_response_head(out: &mut Vec<u8>, buf: &[u8], resp: &Response, rw: &ResponseRewrite) {
    out.extend_from_slice(match rw.version {
        Version::Http10 => b"HTTP/1.0 ",
        Version::Http11 => b"HTTP/1.1 ",
    });
    let s = rw
        .edits
        .and_then(|e| e.status)
        .unwrap_or(resp.status)
        .min(999);
    write_status(out, s);
    out.push(b' ');
    match rw.edits.and_then(|e| e.reason.as_deref()) {
        Some(r) => out.extend_from_slice(r),
        None if rw.edits.is_some_and(|e| e.status.is_some()) => {
            out.extend_from_slice(super::errors::reason(s).as_bytes())
        }
        None => out.extend_from_slice(slice(buf, &resp.reason)),
    }
    out.extend_from_slice(b"\r\n");
    let filter = Filter {
        keep_upgrade: rw.connection == ConnHeader::Upgrade,
        drop_expect: false,
        framing: if rw.dechunk {
            FramingOut::None
        } else {
            response_framing(resp)
        },
    };
    let head = Head {
        buf,
        headers: &resp.headers,
    };
    write_headers(out, head, rw.edits, &filter, None);
    let connection = if rw.dechunk {
        ConnHeader::Close
    } else {
        rw.connection
    };
    match connection {
        ConnHeader::KeepAlive if rw.version == Version::Http10 => {
            out.extend_from_slice(b"connection: keep-alive\r\n")
        }
        ConnHeader::KeepAlive => {}
        ConnHeader::Close => out.extend_from_slice(b"connection: close\r\n"),
        ConnHeader::Upgrade => out.extend_from_slice(b"connection: upgrade\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// An interim (1xx) response for an HTTP/1.1 client: status line and headers written anew with
/// CRLF (a server's bare LF never reaches the client), without framing or hop-by-hop fields.
/// The caller sends none to an HTTP/1.0 client (RFC 9110 15.2).
pub fn write_interim_head(out: &mut Vec<u8>, buf: &[u8], resp: &Response) {
    out.extend_from_slice(b"HTTP/1.1 ");
    write_status(out, resp.status);
    out.push(b' ');
    out.extend_from_slice(slice(buf, &resp.reason));
    out.extend_from_slice(b"\r\n");
    let filter = Filter {
        keep_upgrade: false,
        drop_expect: false,
        framing: FramingOut::None,
    };
    let head = Head {
        buf,
        headers: &resp.headers,
    };
    write_headers(out, head, None, &filter, None);
    out.extend_from_slice(b"\r\n");
}

/// Three digits (a status is 100..=999 once parsed; larger values are clamped).
fn write_status(out: &mut Vec<u8>, status: u16) {
    let s = status.min(999);
    out.extend_from_slice(&[
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]);
}

/// Which original headers go out.
struct Filter {
    keep_upgrade: bool,
    drop_expect: bool,
    /// The one framing field to write in place of every Content-Length / Transfer-Encoding.
    framing: FramingOut,
}

/// The framing field a head goes out with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FramingOut {
    None,
    Length(u64),
    Chunked,
}

impl FramingOut {
    /// Whether this is written in place of a field named `name` (one of the two framing names).
    fn replaces(self, name: &[u8]) -> bool {
        match self {
            FramingOut::None => false,
            FramingOut::Length(_) => name.eq_ignore_ascii_case(b"content-length"),
            FramingOut::Chunked => name.eq_ignore_ascii_case(b"transfer-encoding"),
        }
    }

    /// Writes `name: value` (name as received, or the lower-case one when none is given).
    fn write(self, out: &mut Vec<u8>, name: Option<&[u8]>) {
        let (default, value) = match self {
            FramingOut::None => return,
            FramingOut::Length(n) => ("content-length", Some(n)),
            FramingOut::Chunked => ("transfer-encoding", None),
        };
        out.extend_from_slice(name.unwrap_or(default.as_bytes()));
        // Writing into a Vec cannot fail.
        let _ = match value {
            Some(n) => write!(out, ": {n}\r\n"),
            None => write!(out, ": chunked\r\n"),
        };
    }
}

/// Requests carry only what their body needs: chunked, or the agreed length.
fn request_framing(req: &Request) -> FramingOut {
    match req.body {
        BodyKind::Chunked => FramingOut::Chunked,
        _ => req
            .framing
            .content_length
            .map_or(FramingOut::None, FramingOut::Length),
    }
}

/// RFC 9110 8.6 and RFC 9112 6.1: no framing fields on 1xx and 204, nor on the 2xx that turns a
/// CONNECT into a tunnel (its body runs until close whatever they say); Transfer-Encoding wins
/// over Content-Length; a 304 and a response to HEAD keep theirs (what the body would be).
fn response_framing(resp: &Response) -> FramingOut {
    let (status, framing) = (resp.status, resp.framing);
    if (100..200).contains(&status) || status == 204 || resp.body == BodyKind::UntilClose {
        return FramingOut::None;
    }
    if framing.chunked {
        return FramingOut::Chunked;
    }
    framing
        .content_length
        .map_or(FramingOut::None, FramingOut::Length)
}

/// Copies the kept headers (as edited, when rules edited them); returns whether a kept header
/// is named `watch`. Connection tokens are read from the headers as received.
fn write_headers(
    out: &mut Vec<u8>,
    head: Head,
    edits: Option<&HeadEdits>,
    filter: &Filter,
    watch: Option<&[u8]>,
) -> bool {
    let (buf, headers) = (head.buf, head.headers);
    let custom_tokens = has_custom_connection_tokens(buf, headers);
    let mut seen = false;
    let mut framing = filter.framing;
    let mut one = |name: &[u8], value: &[u8]| {
        if is_framing(name) {
            if framing.replaces(name) {
                framing.write(out, Some(name));
                framing = FramingOut::None;
            }
            return;
        }
        if dropped(name, filter) || (custom_tokens && connection_names(buf, headers, name)) {
            return;
        }
        seen |= watch.is_some_and(|w| name.eq_ignore_ascii_case(w));
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    match edits {
        Some(e) if e.headers_edited() => e.headers(head).for_each(|(n, v)| one(n, v)),
        _ => {
            for h in headers {
                one(slice(buf, &h.name), slice(buf, &h.value));
            }
        }
    }
    // Only when no field of that name is left (rules cannot remove them; kept for safety).
    framing.write(out, None);
    seen
}

fn is_framing(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"transfer-encoding")
}

fn dropped(name: &[u8], filter: &Filter) -> bool {
    match name.len() {
        6 if name.eq_ignore_ascii_case(b"expect") => filter.drop_expect,
        7 if name.eq_ignore_ascii_case(b"upgrade") => !filter.keep_upgrade,
        _ => is_hop_by_hop(name),
    }
}

/// Fields a Connection header may not remove (see the module comment).
/// `upgrade` too: the `upgrade` token of `Connection: upgrade, other` asks for the upgrade, it
/// does not strip the Upgrade header (`dropped` already keeps it only for an upgrade).
fn is_protected(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"upgrade")
        || name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"transfer-encoding")
        || name.eq_ignore_ascii_case(b"host")
}

/// Whether any Connection token names a field (anything but close / keep-alive / upgrade):
/// the common case is no, which spares the per-header lookup.
fn has_custom_connection_tokens(buf: &[u8], headers: &[Header]) -> bool {
    connection_tokens(buf, headers).any(|t| {
        !(t.eq_ignore_ascii_case(b"close")
            || t.eq_ignore_ascii_case(b"keep-alive")
            || t.eq_ignore_ascii_case(b"upgrade"))
    })
}

/// `name` is listed in a Connection header and may be removed (RFC 9110 7.6.1).
fn connection_names(buf: &[u8], headers: &[Header], name: &[u8]) -> bool {
    !is_protected(name) && connection_tokens(buf, headers).any(|t| t.eq_ignore_ascii_case(name))
}

fn connection_tokens<'a>(buf: &'a [u8], headers: &'a [Header]) -> impl Iterator<Item = &'a [u8]> {
    headers
        .iter()
        .filter(move |h| is_named(buf, h, b"connection"))
        .flat_map(move |h| list_items(slice(buf, &h.value)))
}

fn is_named(buf: &[u8], h: &Header, name: &[u8]) -> bool {
    slice(buf, &h.name).eq_ignore_ascii_case(name)
}

/// Ranges come from the parser; a mismatched buffer yields empty bytes, never a panic.
fn slice<'a>(buf: &'a [u8], r: &std::ops::Range<usize>) -> &'a [u8] {
    buf.get(r.clone()).unwrap_or_default()
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
