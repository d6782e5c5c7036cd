//! Request and response heads. httparse tokenizes the head; this file applies ringlb's rules
//! (HAProxy 2.6's statuses where they are known) and the body-length tables of RFC 9112 6.3.
//!
//! A head is parsed from scratch each time more bytes arrive (`Ok(false)` = need more), only
//! ever looking at the first `max_head` bytes, so the work per attempt is bounded.

use super::framing::{self, Facts};
pub use super::target::TargetForm;
use super::target::{self, Port};
use std::mem::MaybeUninit;
use std::ops::Range;

/// HAProxy's `tune.bufsize` default.
pub const DEFAULT_MAX_HEAD: usize = 16384;
/// HAProxy's `tune.http.maxhdr` default.
pub const DEFAULT_MAX_HEADERS: usize = 101;

/// Size limits for one head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head in bytes (request/status line, headers, final empty line).
    pub max_head: usize,
    /// Like HAProxy's `tune.http.maxhdr`, which keeps one slot for itself: a head may carry
    /// `max_headers - 1` header lines (100 with the default 101).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head: DEFAULT_MAX_HEAD,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Connect,
    Trace,
    Patch,
    /// Any other valid token (methods are case-sensitive: "get" is `Other`); forwarded as is.
    Other,
}

impl Method {
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"CONNECT" => Method::Connect,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
    /// Responses only: the body ends when the server closes (also CONNECT tunnels).
    UntilClose,
}

/// One header line as byte ranges into the buffer given to the parse function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: Range<usize>,
    /// Without the white space around it.
    pub value: Range<usize>,
}

/// What a message's framing fields said, once validated: the head writers send them again in
/// this one form (a single `content-length`, a plain `transfer-encoding: chunked`), never as
/// received, so that a peer cannot read two lengths where ringlb read one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framing {
    /// The one value every Content-Length field and list member agreed on.
    pub content_length: Option<u64>,
    /// Transfer-Encoding was present: always exactly `chunked` once accepted.
    pub chunked: bool,
}

impl Framing {
    fn of(facts: &Facts) -> Framing {
        Framing {
            content_length: facts.content_length,
            chunked: facts.te.present,
        }
    }
}

/// Why a message was refused: `status` for the error page, `reason` for the logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub reason: &'static str,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.status)
    }
}

impl std::error::Error for HttpError {}

pub(crate) const fn bad_request(reason: &'static str) -> HttpError {
    HttpError {
        status: 400,
        reason,
    }
}

const fn bad_gateway(reason: &'static str) -> HttpError {
    HttpError {
        status: 502,
        reason,
    }
}

/// HAProxy 2.6 answers 400 to every oversized head; ringlb says which limit was hit, as
/// RFC 9110 provides: 414 for the request line, 431 for the header block (and too many headers).
const STATUS_URI_TOO_LONG: u16 = 414;
const STATUS_HEADERS_TOO_LARGE: u16 = 431;
/// HAProxy 2.6 answers 422 to a request whose codings end with chunked but include others.
const STATUS_UNSUPPORTED_CODING: u16 = 422;
const STATUS_BAD_VERSION: u16 = 505;
const STATUS_PAYLOAD_TOO_LARGE: u16 = 413;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Bytes of buf the head takes, including the final empty line.
    pub head_len: usize,
    pub method: Method,
    pub method_range: Range<usize>,
    pub target: Range<usize>,
    /// Checked against the method: authority-form only with CONNECT, asterisk-form only with
    /// OPTIONS.
    pub target_form: TargetForm,
    pub version: Version,
    /// In order, all of them (hop-by-hop too; head.rs decides what to drop).
    pub headers: Vec<Header>,
    /// None, Length(n) or Chunked (never UntilClose for requests).
    pub body: BodyKind,
    pub framing: Framing,
    /// HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive".
    pub keep_alive: bool,
    /// "Expect: 100-continue" in an HTTP/1.1 request (ignored in 1.0, RFC 9110 10.1.1).
    pub expect_continue: bool,
    /// HTTP/1.1, a Connection "upgrade" token and an Upgrade header.
    pub upgrade: bool,
    /// The Host value, or the authority of an absolute-form target when Host is missing.
    pub host: Option<Range<usize>>,
}

impl Request {
    pub fn new() -> Self {
        Request::empty(Vec::new())
    }

    /// Resets every field, keeping the header Vec's capacity (no allocation).
    pub fn clear(&mut self) {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        *self = Request::empty(headers);
    }

    fn empty(headers: Vec<Header>) -> Self {
        Request {
            head_len: 0,
            method: Method::Other,
            method_range: 0..0,
            target: 0..0,
            target_form: TargetForm::Origin,
            version: Version::Http11,
            headers,
            body: BodyKind::None,
            framing: Framing::default(),
            keep_alive: false,
            expect_continue: false,
            upgrade: false,
            host: None,
        }
    }
}

impl Default for Request {
    fn default() -> Self {
        Request::new()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub head_len: usize,
    pub status: u16,
    /// The reason phrase as received (may be empty).
    pub reason: Range<usize>,
    pub version: Version,
    pub headers: Vec<Header>,
    pub body: BodyKind,
    /// Kept whatever the body: a response to HEAD, or a 304, still says how long the body
    /// would have been.
    pub framing: Framing,
    /// The server will keep the connection (never with UntilClose or 101).
    pub keep_alive: bool,
    /// 101 Switching Protocols: the connection becomes a tunnel after this head.
    pub upgrade: bool,
}

impl Response {
    pub fn new() -> Self {
        Response::empty(Vec::new())
    }

    /// Resets every field, keeping the header Vec's capacity (no allocation).
    pub fn clear(&mut self) {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        *self = Response::empty(headers);
    }

    fn empty(headers: Vec<Header>) -> Self {
        Response {
            head_len: 0,
            status: 0,
            reason: 0..0,
            version: Version::Http11,
            headers,
            body: BodyKind::None,
            framing: Framing::default(),
            keep_alive: false,
            upgrade: false,
        }
    }
}

impl Default for Response {
    fn default() -> Self {
        Response::new()
    }
}

/// Header slots live on the stack up to this many (uninitialized, so they cost nothing); a
/// larger `max_headers` gets a heap buffer per parse.
const STACK_HEADER_SLOTS: usize = 256;

type Slot<'b> = MaybeUninit<httparse::Header<'b>>;

fn header_slots(limits: &HeadLimits) -> usize {
    limits.max_headers.saturating_sub(1)
}

/// Parses a request head at the start of `buf`. `Ok(true)`: `out` describes it; `Ok(false)`:
/// more bytes are needed (and `out` is cleared).
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
    out: &mut Request,
) -> Result<bool, HttpError> {
    let n = header_slots(limits);
    if n <= STACK_HEADER_SLOTS {
        let mut slots: [Slot; STACK_HEADER_SLOTS] =
            [const { MaybeUninit::uninit() }; STACK_HEADER_SLOTS];
        request_with(buf, limits, out, slots.get_mut(..n).unwrap_or_default())
    } else {
        let mut slots: Vec<Slot> = vec![MaybeUninit::uninit(); n];
        request_with(buf, limits, out, &mut slots)
    }
}

fn request_with<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    out: &mut Request,
    slots: &mut [Slot<'b>],
) -> Result<bool, HttpError> {
    out.clear();
    let window = buf.get(..limits.max_head).unwrap_or(buf);
    let mut config = httparse::ParserConfig::default();
    // HAProxy 2.6 accepts "GET  /  HTTP/1.1".
    config.allow_multiple_spaces_in_request_line_delimiters(true);
    let mut req = httparse::Request::new(&mut []);
    let head_len = match config.parse_request_with_uninit_headers(&mut req, window, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head => {
            return Err(request_too_large(window))
        }
        Ok(httparse::Status::Partial) => return Ok(false),
        Err(e) => return Err(request_error(e, &req, window)),
    };
    let method = req.method.unwrap_or_default().as_bytes();
    let target = req.path.unwrap_or_default().as_bytes();
    out.method = Method::from_token(method);
    out.method_range = offset_range(buf, method);
    out.target = offset_range(buf, target);
    // httparse lets UTF-8 and most of ASCII through; target.rs holds RFC 9112's rules.
    let (form, authority) = target::classify(out.method, target).map_err(bad_request)?;
    out.target_form = form;
    let authority = authority.map(|a| a.start + out.target.start..a.end + out.target.start);
    out.version = if req.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    push_headers(buf, req.headers, &mut out.headers);

    let mut facts = Facts::default();
    framing::scan(buf, &out.headers, &mut facts).map_err(bad_request)?;
    if facts.host_count > 1 {
        return Err(bad_request("multiple Host headers"));
    }
    check_host(buf, facts.host.as_ref())?;
    let http11 = out.version == Version::Http11;
    out.body = request_body(&facts, out.version)?;
    refuse_http10_body(out.method, out.version, out.body)?;
    out.framing = Framing::of(&facts);
    out.keep_alive = !facts.conn_close && (http11 || facts.conn_keep_alive);
    out.expect_continue = http11 && facts.expect_continue;
    out.upgrade = http11 && facts.conn_upgrade && facts.has_upgrade;
    let authority = authority.filter(|_| form == TargetForm::Absolute);
    if let (Some(host), Some(auth)) = (&facts.host, &authority) {
        // HAProxy 2.6 refuses an absolute-form target whose authority is not the Host header:
        // a proxy and a server could otherwise disagree on which site was asked for.
        // As HAProxy, an empty or default port (`:80` for http, `:443` for https) on either
        // side names the same site as no port.
        let https = buf
            .get(out.target.clone())
            .and_then(|t| t.get(..5))
            .is_some_and(|s| s.eq_ignore_ascii_case(b"https"));
        let same = buf
            .get(host.clone())
            .zip(buf.get(auth.clone()))
            .is_some_and(|(h, a)| {
                let (h, a) = (
                    without_default_port(h.trim_ascii(), https),
                    without_default_port(a, https),
                );
                h.eq_ignore_ascii_case(a)
            });
        if !same {
            return Err(bad_request("absolute-form authority differs from Host"));
        }
    }
    out.host = facts.host.or(authority);
    out.head_len = head_len;
    Ok(true)
}

/// `host:80` -> `host` (`host:443` for https), `host:` -> `host`: the forms of an authority
/// that name the scheme's default port.
fn without_default_port(authority: &[u8], https: bool) -> &[u8] {
    let default: &[u8] = if https { b":443" } else { b":80" };
    authority
        .strip_suffix(default)
        .or_else(|| authority.strip_suffix(b":"))
        .unwrap_or(authority)
}

/// RFC 9112 3.2: a Host value is an authority (`host[:port]`, no userinfo, no list), or empty
/// (for a target without one). HAProxy 2.6 forwards any value; RFC 9112 asks for 400.
fn check_host(buf: &[u8], host: Option<&Range<usize>>) -> Result<(), HttpError> {
    let Some(value) = host.and_then(|r| buf.get(r.clone())) else {
        return Ok(());
    };
    if value.is_empty() {
        return Ok(());
    }
    target::check_authority(value, Port::Optional).map_err(|why| bad_request(why.in_host_header()))
}

/// HAProxy 2.6 answers 413 to an HTTP/1.0 GET, HEAD or DELETE that announces a body (checked
/// on loopback; a `Content-Length: 0` passes): an HTTP/1.0 server may not expect a body there
/// and read it as the next request.
fn refuse_http10_body(method: Method, version: Version, body: BodyKind) -> Result<(), HttpError> {
    let bodyless = matches!(method, Method::Get | Method::Head | Method::Delete);
    match body {
        BodyKind::Length(n) if n > 0 && bodyless && version == Version::Http10 => Err(HttpError {
            status: STATUS_PAYLOAD_TOO_LARGE,
            reason: "body in an HTTP/1.0 GET, HEAD or DELETE request",
        }),
        _ => Ok(()),
    }
}

/// RFC 9112 6.1-6.3 for requests, strict where a lenient reading allows smuggling.
fn request_body(facts: &Facts, version: Version) -> Result<BodyKind, HttpError> {
    let te = &facts.te;
    if !te.present {
        return Ok(facts
            .content_length
            .map_or(BodyKind::None, BodyKind::Length));
    }
    if version == Version::Http10 {
        return Err(bad_request("Transfer-Encoding in an HTTP/1.0 request"));
    }
    if facts.content_length.is_some() {
        return Err(bad_request("both Transfer-Encoding and Content-Length"));
    }
    if te.chunked_count > 1 {
        return Err(bad_request("chunked applied more than once"));
    }
    if !te.last_is_chunked {
        return Err(bad_request("final transfer coding is not chunked"));
    }
    if te.has_other_codings() {
        return Err(HttpError {
            status: STATUS_UNSUPPORTED_CODING,
            reason: "unsupported transfer coding",
        });
    }
    Ok(BodyKind::Chunked)
}

fn request_error(e: httparse::Error, req: &httparse::Request, window: &[u8]) -> HttpError {
    use httparse::Error as E;
    match e {
        E::Version => version_error(window),
        E::Token if req.method.is_none() => bad_request("invalid method"),
        E::Token if req.path.is_none() => bad_request("invalid request target"),
        E::Token => bad_request("invalid request line"),
        E::NewLine => bad_request("invalid line ending"),
        E::HeaderName => bad_request("invalid header name"),
        E::HeaderValue => bad_request("invalid header value"),
        E::TooManyHeaders => HttpError {
            status: STATUS_HEADERS_TOO_LARGE,
            reason: "too many headers",
        },
        _ => bad_request("invalid request"),
    }
}

/// A well-formed "HTTP/x.y" other than 1.0 and 1.1 gets 505; anything else 400.
fn version_error(window: &[u8]) -> HttpError {
    let line = request_line(window);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ').filter(|p| !p.is_empty());
    let (_method, _target) = (parts.next(), parts.next());
    match (parts.next().unwrap_or_default(), parts.next()) {
        ([b'H', b'T', b'T', b'P', b'/', major, b'.', minor], None)
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HttpError {
                status: STATUS_BAD_VERSION,
                reason: "unsupported HTTP version",
            }
        }
        _ => bad_request("invalid HTTP version"),
    }
}

/// The first line after any leading empty lines, without its LF (the whole rest if none).
fn request_line(window: &[u8]) -> &[u8] {
    after_empty_lines(window)
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
}

/// RFC 9112 2.2: empty lines before the request line are ignored.
fn after_empty_lines(window: &[u8]) -> &[u8] {
    let start = window.iter().position(|b| !matches!(b, b'\r' | b'\n'));
    window
        .get(start.unwrap_or(window.len())..)
        .unwrap_or_default()
}

fn request_too_large(window: &[u8]) -> HttpError {
    if after_empty_lines(window).contains(&b'\n') {
        HttpError {
            status: STATUS_HEADERS_TOO_LARGE,
            reason: "request head too large",
        }
    } else {
        HttpError {
            status: STATUS_URI_TOO_LONG,
            reason: "request line too long",
        }
    }
}

/// Parses a response head; errors here become 502 in the proxy. `request_method` decides the
/// body of responses to HEAD and CONNECT.
pub fn parse_response(
    buf: &[u8],
    limits: &HeadLimits,
    request_method: Method,
    out: &mut Response,
) -> Result<bool, HttpError> {
    let n = header_slots(limits);
    if n <= STACK_HEADER_SLOTS {
        let mut slots: [Slot; STACK_HEADER_SLOTS] =
            [const { MaybeUninit::uninit() }; STACK_HEADER_SLOTS];
        response_with(
            buf,
            limits,
            request_method,
            out,
            slots.get_mut(..n).unwrap_or_default(),
        )
    } else {
        let mut slots: Vec<Slot> = vec![MaybeUninit::uninit(); n];
        response_with(buf, limits, request_method, out, &mut slots)
    }
}

fn response_with<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    request_method: Method,
    out: &mut Response,
    slots: &mut [Slot<'b>],
) -> Result<bool, HttpError> {
    out.clear();
    let window = buf.get(..limits.max_head).unwrap_or(buf);
    // Default config: strict (no obs-fold, no space before the colon) in responses too.
    let config = httparse::ParserConfig::default();
    let mut resp = httparse::Response::new(&mut []);
    let head_len = match config.parse_response_with_uninit_headers(&mut resp, window, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if window.len() >= limits.max_head => {
            return Err(bad_gateway("response head too large"))
        }
        Ok(httparse::Status::Partial) => return Ok(false),
        Err(e) => return Err(response_error(e)),
    };
    let status = resp.code.unwrap_or(0);
    if status < 100 {
        return Err(bad_gateway("invalid status"));
    }
    out.status = status;
    out.reason = offset_range(buf, resp.reason.unwrap_or_default().as_bytes());
    out.version = if resp.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    push_headers(buf, resp.headers, &mut out.headers);

    let mut facts = Facts::default();
    framing::scan(buf, &out.headers, &mut facts).map_err(bad_gateway)?;
    out.body = response_body(&facts, status, out.version, request_method)?;
    out.framing = Framing::of(&facts);
    out.upgrade = status == 101;
    let persistent = match out.version {
        Version::Http11 => !facts.conn_close,
        Version::Http10 => facts.conn_keep_alive && !facts.conn_close,
    };
    out.keep_alive = persistent && out.body != BodyKind::UntilClose && !out.upgrade;
    out.head_len = head_len;
    Ok(true)
}

/// RFC 9112 6.3 for responses.
fn response_body(
    facts: &Facts,
    status: u16,
    version: Version,
    method: Method,
) -> Result<BodyKind, HttpError> {
    let te = &facts.te;
    if te.present {
        response_codings(te)?;
    }
    if method == Method::Head || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(BodyKind::None);
    }
    if method == Method::Connect && (200..300).contains(&status) {
        return Ok(BodyKind::UntilClose);
    }
    if te.present {
        if version == Version::Http10 {
            return Err(bad_gateway("Transfer-Encoding in an HTTP/1.0 response"));
        }
        // Transfer-Encoding overrides Content-Length (head.rs drops the latter).
        return Ok(BodyKind::Chunked);
    }
    Ok(facts
        .content_length
        .map_or(BodyKind::UntilClose, BodyKind::Length))
}

/// HAProxy 2.6 answers 502 to a response with any transfer coding but a single chunked
/// (`gzip, chunked`, `gzip`, an empty list member): so does ringlb, which spares the client a
/// close-delimited body whose end it could not tell from a cut connection.
fn response_codings(te: &framing::TransferCodings) -> Result<(), HttpError> {
    if te.chunked_count > 1 {
        return Err(bad_gateway("chunked applied more than once"));
    }
    if te.chunked_count == 0 || te.has_other_codings() {
        return Err(bad_gateway("unsupported transfer coding"));
    }
    Ok(())
}

fn response_error(e: httparse::Error) -> HttpError {
    use httparse::Error as E;
    bad_gateway(match e {
        E::Version => "invalid HTTP version",
        E::Status => "invalid status",
        E::NewLine => "invalid line ending",
        E::HeaderName => "invalid header name",
        E::HeaderValue => "invalid header value",
        E::TooManyHeaders => "too many headers",
        _ => "invalid response",
    })
}

fn push_headers(buf: &[u8], parsed: &[httparse::Header], out: &mut Vec<Header>) {
    out.extend(parsed.iter().map(|h| Header {
        name: offset_range(buf, h.name.as_bytes()),
        value: offset_range(buf, h.value),
    }));
}

/// Where `part` (a sub-slice of `buf`) sits in `buf`; 0..0 for anything else (httparse returns
/// a static "" for a missing reason phrase).
fn offset_range(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    if start <= buf.len() && part.len() <= buf.len() - start {
        start..start + part.len()
    } else {
        0..0
    }
}

/// The first header named `name` (case-insensitive), its value as received.
pub fn header_value<'a>(buf: &'a [u8], headers: &[Header], name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    headers
        .iter()
        .find(|h| {
            buf.get(h.name.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|h| buf.get(h.value.clone()))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(crate) mod tests;
