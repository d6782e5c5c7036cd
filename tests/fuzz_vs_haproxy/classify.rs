//! Why ringlb and HAProxy 2.6 may answer a request differently: the documented stricter cases
//! (README "How ringlb differs from HAProxy, on purpose") and the fixes issue 8 has in
//! progress. A loose reading of the request's bytes says which apply.

/// README "How ringlb differs": what ringlb refuses and HAProxy 2.6 forwards, on purpose
/// (one entry per case of the README's "Stricter framing" item).
pub const DOCUMENTED_STRICTER: &[&str] = &[
    "Content-Length together with Transfer-Encoding",
    "Transfer-Encoding in an HTTP/1.0 request",
    "obs-fold continuation line (headers or chunked trailers)",
    "control byte in a header value",
    "bare LF or control byte inside chunked framing",
    "HTTP version other than 1.0 and 1.1",
    "white space other than SP in the request line",
    "two Host fields",
    "control byte in the request target",
    "request target outside RFC 9112 3.2 (a form its method may not use, or a byte refused)",
    "Host value that is not an RFC 3986 authority",
];

/// Differences that fixes in progress change, each with the reason it is expected: empty
/// when no fix is in progress (every other difference must agree with HAProxy or be in
/// `DOCUMENTED_STRICTER` and the README). Issue 8's fixes landed and emptied it.
pub const PENDING_FIXES: &[&str] = &[];

/// The reasons (entries of the two lists) that apply to one request's bytes.
pub fn reasons(msg: &[u8]) -> Vec<&'static str> {
    let loose = Loose::read(msg);
    let mut out = Vec::new();
    let mut add = |cond: bool, list: &'static [&'static str], i: usize| {
        if cond {
            out.push(list[i]);
        }
    };
    let te = loose.has("transfer-encoding");
    let folded = |l: &&[u8]| l.starts_with(b" ") || l.starts_with(b"\t");
    add(te && loose.has("content-length"), DOCUMENTED_STRICTER, 0);
    add(te && loose.version == b"HTTP/1.0", DOCUMENTED_STRICTER, 1);
    let trailer_fold = te && (find(loose.body, b"\n ") || find(loose.body, b"\n\t"));
    add(
        loose.lines.iter().any(folded) || trailer_fold,
        DOCUMENTED_STRICTER,
        2,
    );
    add(
        loose.lines.iter().any(|l| l.iter().any(|&b| is_ctl(b))),
        DOCUMENTED_STRICTER,
        3,
    );
    let chunk_ctl = loose
        .body
        .iter()
        .any(|&b| is_ctl(b) && b != b'\r' && b != b'\n');
    add(
        te && (has_bare_lf(loose.body) || chunk_ctl),
        DOCUMENTED_STRICTER,
        4,
    );
    add(odd_version(&loose.version), DOCUMENTED_STRICTER, 5);
    add(
        loose
            .first_line
            .iter()
            .any(|&b| b != b' ' && b.is_ascii_whitespace() || b == 0x0b),
        DOCUMENTED_STRICTER,
        6,
    );
    add(loose.values("host").len() > 1, DOCUMENTED_STRICTER, 7);
    add(
        loose.target.iter().any(|&b| is_ctl(b)),
        DOCUMENTED_STRICTER,
        8,
    );
    add(
        !target_form_ok(&loose.method, &loose.target),
        DOCUMENTED_STRICTER,
        9,
    );
    add(!host_ok(&loose), DOCUMENTED_STRICTER, 10);
    out
}

/// The request split the way a lenient reader would: lines on LF, CR dropped.
struct Loose<'a> {
    first_line: &'a [u8],
    method: Vec<u8>,
    target: Vec<u8>,
    version: Vec<u8>,
    /// Header lines as sent (without CR LF).
    lines: Vec<&'a [u8]>,
    body: &'a [u8],
}

impl<'a> Loose<'a> {
    fn read(msg: &'a [u8]) -> Loose<'a> {
        let start = msg
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(msg.len());
        let msg = &msg[start..];
        // The head ends at the first empty line (CR LF or a bare LF).
        let mut end = msg.len();
        let mut at = 0;
        while let Some(lf) = msg[at..].iter().position(|&b| b == b'\n') {
            let next = at + lf + 1;
            if msg[next..].starts_with(b"\n") || msg[next..].starts_with(b"\r\n") {
                end = next;
                break;
            }
            at = next;
        }
        let head = &msg[..end];
        let body = &msg[end..];
        let body = body
            .strip_prefix(b"\r\n")
            .or_else(|| body.strip_prefix(b"\n"))
            .unwrap_or(body);
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let first = lines.next().unwrap_or_default();
        let mut parts = first
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|p| !p.is_empty());
        let mut next = || parts.next().unwrap_or_default().to_vec();
        let (method, target, version) = (next(), next(), next());
        Loose {
            first_line: first,
            method,
            target,
            version,
            lines: lines.collect(),
            body,
        }
    }

    /// Values of the fields named exactly `name` (no space before the colon).
    fn values(&self, name: &str) -> Vec<&'a [u8]> {
        self.lines
            .iter()
            .filter_map(|l| {
                let colon = l.iter().position(|&b| b == b':')?;
                l[..colon]
                    .eq_ignore_ascii_case(name.as_bytes())
                    .then(|| trim(&l[colon + 1..]))
            })
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

fn find(hay: &[u8], needle: &[u8]) -> bool {
    super::gen::find(hay, needle).is_some()
}

/// CTL (RFC 5234) other than HTAB.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn has_bare_lf(b: &[u8]) -> bool {
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'\n' && (i == 0 || b[i - 1] != b'\r'))
}

fn odd_version(v: &[u8]) -> bool {
    matches!(v, [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit())
        && v != b"HTTP/1.0"
        && v != b"HTTP/1.1"
}

/// RFC 9112 3.2 and RFC 3986's characters.
fn target_form_ok(method: &[u8], target: &[u8]) -> bool {
    // README "How ringlb differs": RFC 3986's bytes, plus `[ ] | ^` anywhere and `\ ` { }` in
    // the query, which browsers send unencoded.
    let path_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%[]|^".contains(&b);
    let query_byte = |b: u8| path_byte(b) || b"?\\`{}".contains(&b);
    let q = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    let (path, query) = target.split_at(q);
    let bytes_ok = path.iter().all(|&b| path_byte(b)) && query.iter().all(|&b| query_byte(b));
    if target.is_empty() || !bytes_ok {
        return false;
    }
    if target.starts_with(b"/") {
        return true;
    }
    if target == b"*" {
        return method == b"OPTIONS";
    }
    let lower = target.to_ascii_lowercase();
    match lower
        .strip_prefix(b"http://")
        .or_else(|| lower.strip_prefix(b"https://"))
    {
        // A host, then a path or nothing: HAProxy 2.6 refuses `http://a?x`.
        Some(rest) => {
            let host = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            host > 0 && rest.get(host) != Some(&b'?')
        }
        None => method == b"CONNECT",
    }
}

/// One Host field (HTTP/1.1), and a valid uri-host[:port].
fn host_ok(loose: &Loose) -> bool {
    // A request without Host is forwarded, as HAProxy 2.6 does.
    let hosts = loose.values("host");
    hosts.iter().all(|h| {
        if h.iter().any(|b| matches!(b, b',' | b'@' | b' ' | b'\t')) {
            return false;
        }
        let tail_at = h.iter().rposition(|&b| b == b']').map_or(0, |i| i + 1);
        let colon = h[tail_at..].iter().rposition(|&b| b == b':');
        let name = &h[..colon.map_or(h.len(), |c| tail_at + c)];
        // RFC 3986 reg-name bytes (unreserved, pct-encoded, sub-delims but ','), or a literal.
        let reg_name = |b: &u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+;=".contains(b);
        if !(name.starts_with(b"[") || name.iter().all(reg_name)) {
            return false;
        }
        match colon {
            Some(c) => {
                let port = &h[tail_at + c + 1..];
                // `Host: a:` (an empty port) is valid.
                port.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(port)
                        .ok()
                        .and_then(|p| p.parse::<u32>().ok())
                        .is_none_or(|p| p <= 65535)
            }
            None => true,
        }
    })
}
