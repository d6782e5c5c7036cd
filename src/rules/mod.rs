//! The rule engine: conditions, sample fetches, converters, log-format strings and the
//! actions of `http-request` / `http-response` / `http-after-response`, evaluated against one
//! connection or request. Everything was compiled at load (`config::model_rules`), so evaluation
//! walks plain data; the request path of a proxy without rules never enters here except for
//! `select_backend`.
//!
//! ```text
//!  Ctx (addresses, request / response view with edits, txn variables)
//!    fetch.rs     Fetch -> Smp (a value borrowed from the buffers where it can be)
//!    conv.rs      Smp -> Smp (lower, regsub, map_*, ipmask, field, ...)
//!    matcher.rs   ACL matchers and `if`/`unless` conditions; select_backend
//!    logformat.rs %ci %[expr] ... -> bytes
//!    auth.rs      Basic credentials against a userlist (sha-crypt hashes)
//!    action.rs    rule lists in order -> edits applied to the head, or a terminal verdict
//!    normalize.rs normalize-uri: the target's equivalent spellings made one (bytes -> bytes)
//!    reply.rs     deny / return / redirect / auth / tarpit answers as complete responses
//!    content.rs   tcp-request / tcp-response rules over held bytes: fetches (req.len,
//!                 req.payload, req.ssl_sni ...), conditions that may wait for more bytes
//!    hello.rs     a TLS ClientHello read without terminating TLS (SNI, version, extensions)
//! ```
//!
//! Nothing here does I/O or may panic on input; a failing fetch or converter yields no value,
//! which HAProxy treats as "condition false" / empty string.

pub mod action;
pub mod auth;
pub mod content;
pub mod conv;
pub mod fetch;
pub mod hello;
pub mod logformat;
pub mod matcher;
pub mod normalize;
pub mod reply;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use crate::config::model_rules::VarCond;
use crate::tls::facts::ConnFacts;
use std::sync::Arc;

use crate::http::edit::HeaderLines;
use crate::http::{Head, HeadEdits, Version};

pub use matcher::{eval, path_of, select_backend};

/// A sample: what a fetch yields and converters transform.
#[derive(Clone, Debug, PartialEq)]
pub enum Smp<'a> {
    Bool(bool),
    Int(i64),
    Ip(IpAddr),
    Str(Cow<'a, [u8]>),
}

impl Smp<'_> {
    /// The sample as text (integers and addresses are formatted).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Smp::Str(s) => Cow::Borrowed(s.as_ref()),
            Smp::Int(i) => Cow::Owned(i.to_string().into_bytes()),
            Smp::Ip(ip) => Cow::Owned(ip.to_string().into_bytes()),
            Smp::Bool(b) => Cow::Borrowed(if *b { b"1" } else { b"0" }),
        }
    }

    pub fn to_owned_smp(&self) -> Smp<'static> {
        match self {
            Smp::Str(s) => Smp::Str(Cow::Owned(s.to_vec())),
            Smp::Int(i) => Smp::Int(*i),
            Smp::Ip(i) => Smp::Ip(*i),
            Smp::Bool(b) => Smp::Bool(*b),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Smp::Int(i) => Some(*i),
            Smp::Bool(b) => Some(*b as i64),
            Smp::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            Smp::Ip(_) => None,
        }
    }

    pub fn as_ip(&self) -> Option<IpAddr> {
        match self {
            Smp::Ip(ip) => Some(*ip),
            Smp::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
            Smp::Int(_) | Smp::Bool(_) => None,
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Smp::Bool(b) => *b,
            Smp::Int(i) => *i != 0,
            Smp::Ip(_) | Smp::Str(_) => true,
        }
    }
}

/// The variables a request's rules see, by their scoped names (`txn.x`, `sess.x`, `proc.x`,
/// `req.x`, `res.x`): few, so a list beats a map. `proc.*` come from `global` and are the same
/// on every core (rules may not set them: a change would stay on its core); `sess.*` live
/// as long as the client connection and are kept there between its requests
/// (`Session::keep_sess_vars`).
#[derive(Clone, Debug, Default)]
pub struct Vars {
    list: Vec<(Arc<str>, Smp<'static>)>,
    /// `start` ran since the last `clear`: the list holds this transaction's variables.
    started: bool,
}

/// The scope of a variable's name.
fn in_sess(name: &str) -> bool {
    name.starts_with("sess.")
}

impl Vars {
    pub fn clear(&mut self) {
        self.list.clear();
        self.started = false;
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// A new transaction's variables: the process's, then the client connection's.
    pub fn start(&mut self, proc: &Vars, sess: &Vars) {
        self.list.clear();
        self.started = true;
        self.list.extend(proc.list.iter().cloned());
        self.list.extend(sess.list.iter().cloned());
    }

    /// The `sess.*` variables, for the client connection to keep until its next request;
    /// nothing when this transaction's rules never started (its head never came whole).
    pub fn sess_into(&self, sess: &mut Vars) {
        if !self.started {
            return;
        }
        sess.list.clear();
        let mine = self.list.iter().filter(|(n, _)| in_sess(n));
        sess.list.extend(mine.cloned());
    }

    /// The response starts: `req.*` and `res.*` variables set so far go, as HAProxy keeps
    /// one list for both scopes and empties it between the request and the response.
    pub fn end_request_scope(&mut self) {
        if self.list.is_empty() {
            return;
        }
        self.list
            .retain(|(n, _)| !(n.starts_with("req.") || n.starts_with("res.")));
    }

    /// `set-var`'s conditions (HAProxy 2.6's): all must hold for `input` to be set.
    pub fn allows(&self, name: &str, input: &Smp, conds: &[VarCond]) -> bool {
        let old = self.get(name);
        let empty = match input {
            Smp::Str(s) => s.is_empty(),
            // Scalars are never empty.
            _ => false,
        };
        let ints = match (old, input) {
            (Some(Smp::Int(o)), Smp::Int(i)) => Some((*o, *i)),
            _ => None,
        };
        conds.iter().all(|c| match c {
            // A variable exists once set; unset-var removes it (HAProxy keeps only proc
            // variables, which rules cannot touch here, after an unset).
            VarCond::IfExists | VarCond::IfSet => old.is_some(),
            VarCond::IfNotExists | VarCond::IfNotSet => old.is_none(),
            VarCond::IfEmpty => empty,
            VarCond::IfNotEmpty => !empty,
            VarCond::IfGt => ints.is_none_or(|(o, i)| o > i),
            VarCond::IfLt => ints.is_none_or(|(o, i)| o < i),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Smp<'static>> {
        self.list.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
    }

    pub fn set(&mut self, name: &Arc<str>, v: Smp<'static>) {
        match self.list.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.list.push((name.clone(), v)),
        }
    }

    pub fn unset(&mut self, name: &str) {
        self.list.retain(|(n, _)| &**n != name);
    }
}

/// The HTTP version the client spoke, as `req.ver`, `%HV` and `%r` name it. An HTTP/2
/// request is parsed from its HTTP/1.1 rendering (serve/h2/head.rs), so its parsed head alone
/// would say 1.1; HAProxy says 2.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientVersion {
    Http10,
    Http11,
    Http2,
}

impl ClientVersion {
    /// The parsed head's version, or HTTP/2 when the request came in an HTTP/2 stream.
    pub fn of(parsed: Version, h2: bool) -> Self {
        match (h2, parsed) {
            (true, _) => ClientVersion::Http2,
            (false, Version::Http10) => ClientVersion::Http10,
            (false, Version::Http11) => ClientVersion::Http11,
        }
    }

    /// `req.ver`'s value: "1.0", "1.1", "2.0".
    pub fn number(self) -> &'static str {
        match self {
            ClientVersion::Http10 => "1.0",
            ClientVersion::Http11 => "1.1",
            ClientVersion::Http2 => "2.0",
        }
    }

    /// As a request line writes it: "HTTP/1.1".
    pub fn line(self) -> &'static str {
        match self {
            ClientVersion::Http10 => "HTTP/1.0",
            ClientVersion::Http11 => "HTTP/1.1",
            ClientVersion::Http2 => "HTTP/2.0",
        }
    }
}

/// The request as rules see it: the parsed head with the edits of earlier rules applied.
#[derive(Clone, Copy)]
pub struct ReqView<'a> {
    pub head: Head<'a>,
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: ClientVersion,
    pub edits: Option<&'a HeadEdits>,
    pub body: ReqBody<'a>,
}

/// What of the request body has arrived behind its head (all of it, or what the buffer
/// holds, with `option http-buffer-request`): `req.body`, `req.body_len`, `req.body_size`.
#[derive(Clone, Copy, Default)]
pub struct ReqBody<'a> {
    /// As received: chunked framing included when `chunked`.
    pub bytes: &'a [u8],
    pub chunked: bool,
    /// The Content-Length, when the request has one.
    pub length: Option<u64>,
}

/// The response as response rules see it.
#[derive(Clone, Copy)]
pub struct ResView<'a> {
    pub head: Head<'a>,
    pub status: u16,
    pub edits: Option<&'a HeadEdits>,
}

/// Header lines of a head, edits applied.
pub fn head_lines<'a>(head: Head<'a>, edits: Option<&'a HeadEdits>) -> HeaderLines<'a> {
    HeaderLines::new(head, edits)
}

/// The server a request went to, once known (response rules, log-format `%s %si %sp %b`).
#[derive(Clone, Copy)]
pub struct ServerInfo<'a> {
    pub name: &'a str,
    pub addr: SocketAddr,
    /// Our end of the server connection.
    pub local: Option<SocketAddr>,
}

/// What a condition, fetch or log-format string may look at. `req` is `None` in mode tcp and in
/// response rules (HAProxy refuses request fetches there); `res` only in response rules.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frontend: &'a str,
    pub backend: Option<&'a str>,
    pub server: Option<ServerInfo<'a>>,
    pub req: Option<ReqView<'a>>,
    pub res: Option<ResView<'a>>,
    pub vars: Option<&'a Vars>,
    /// What the client connection's TLS handshake settled (`ssl_fc*`, `ssl_c_*`).
    pub tls: Option<&'a ConnFacts>,
    /// The bytes content inspection holds (`tcp-request content`, `tcp-response content`,
    /// `use_backend` in mode tcp).
    pub content: Option<content::Held<'a>>,
    /// The request's `unique-id-format` value (`unique-id`, `%ID`), when the frontend has one.
    pub unique_id: Option<&'a str>,
    /// `%rt`: the request's number on this process.
    pub req_counter: u64,
    /// The client connection's first request (`http_first_req`; on HTTP/2 its first stream).
    pub first_req: bool,
}

impl<'a> Ctx<'a> {
    /// The connection only: addresses and TLS (mode tcp routing).
    pub fn conn(
        src: SocketAddr,
        dst: SocketAddr,
        frontend: &'a str,
        tls: Option<&'a ConnFacts>,
    ) -> Ctx<'a> {
        Ctx {
            src,
            dst,
            frontend,
            backend: None,
            server: None,
            req: None,
            res: None,
            vars: None,
            tls,
            content: None,
            unique_id: None,
            req_counter: 0,
            first_req: false,
        }
    }
}
