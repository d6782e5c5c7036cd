//! Requests as editable drafts, and the smuggling-style templates: framing (CL.TE, TE.CL,
//! TE.TE obfuscations, Content-Length oddities), head syntax (bare LF, obs-fold, odd bytes),
//! request lines and targets, Host, chunked framing tricks. Each template edits a plain POST
//! (`Content-Length: 5`, body `hello`); the body it means is the lenient reading.

use super::gen::Rng;

const HOST: &[u8] = b"Host: a.test";
const HELLO: &[u8] = b"hello";
const HELLO_CHUNKED: &[u8] = b"5\r\nhello\r\n0\r\n\r\n";

#[derive(Clone, Debug)]
pub struct Draft {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub version: Vec<u8>,
    /// Header lines without their line ending (they may hold odd bytes on purpose).
    pub headers: Vec<Vec<u8>>,
    /// The line ending of the head's lines.
    pub eol: Vec<u8>,
    /// The body as sent (chunked framing included).
    pub wire_body: Vec<u8>,
    /// The body meant (de-chunked).
    pub body: Vec<u8>,
}

impl Draft {
    fn new(method: &str, tag: &str) -> Draft {
        Draft {
            method: method.into(),
            target: format!("/{tag}").into_bytes(),
            version: b"HTTP/1.1".to_vec(),
            headers: vec![HOST.to_vec(), format!("x-fz: {}", &tag[3..]).into_bytes()],
            eol: b"\r\n".to_vec(),
            wire_body: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Head and wire body.
    pub fn bytes(&self) -> (Vec<u8>, Vec<u8>) {
        let mut head = Vec::new();
        for part in [
            &self.method,
            &b" ".to_vec(),
            &self.target,
            &b" ".to_vec(),
            &self.version,
        ] {
            head.extend_from_slice(part);
        }
        head.extend_from_slice(&self.eol);
        for h in &self.headers {
            head.extend_from_slice(h);
            head.extend_from_slice(&self.eol);
        }
        head.extend_from_slice(&self.eol);
        (head, self.wire_body.clone())
    }

    pub fn plain_get(tag: &str) -> Draft {
        Draft::new("GET", tag)
    }

    pub fn plain_post(_rng: &mut Rng, tag: &str) -> Draft {
        let mut d = Draft::new("POST", tag);
        d.set_length_body(HELLO);
        d
    }

    /// A request both proxies must forward: random method, target, headers and body.
    pub fn valid(rng: &mut Rng, tag: &str, last: bool) -> Draft {
        let method = *rng.pick(&["GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
        let mut d = Draft::new(method, tag);
        if rng.percent(30) {
            let n = 1 + rng.below(8);
            let extra = rng.word(n);
            d.target.push(b'/');
            d.target.extend_from_slice(&extra);
        }
        if rng.percent(30) {
            let n = 1 + rng.below(10);
            let (k, v) = (rng.word(3), rng.word(n));
            d.target
                .extend_from_slice(&[b"?", &k[..], b"=", &v[..], b"&b=%20"].concat());
        }
        if rng.percent(10) {
            d.target = [&b"http://a.test"[..], &d.target].concat();
        }
        for _ in 0..rng.below(4) {
            let name = *rng.pick(&["Accept", "User-Agent", "Cookie", "X-Trace", "Cache-Control"]);
            let value = [rng.word(4), b" ; q=1 ".to_vec(), rng.word(3)].concat();
            d.headers.push([name.as_bytes(), b": ", &value].concat());
        }
        let with_body = matches!(method, "POST" | "PUT" | "PATCH") || rng.percent(10);
        if with_body {
            let len = rng.below(120);
            let body = rng.word(len);
            if rng.percent(40) {
                d.set_chunked_body(rng, &body);
            } else {
                d.set_length_body(&body);
            }
        }
        // HTTP/1.0 without a body only: HAProxy 2.6 answers 413 to an HTTP/1.0 GET or DELETE
        // with one.
        let bodiless = d.wire_body.is_empty() && !with_body;
        if last && rng.percent(15) {
            d.headers.push(b"Connection: close".to_vec());
        } else if last && rng.percent(15) && bodiless {
            d.version = b"HTTP/1.0".to_vec();
        } else if rng.percent(10) && bodiless {
            d.version = b"HTTP/1.0".to_vec();
            d.headers.push(b"Connection: keep-alive".to_vec());
        }
        d
    }

    /// Drops every framing header.
    fn unframe(&mut self) {
        self.headers.retain(|h| {
            let h = h.to_ascii_lowercase();
            !h.starts_with(b"content-length") && !h.starts_with(b"transfer-encoding")
        });
        self.wire_body.clear();
        self.body.clear();
    }

    fn set_length_body(&mut self, body: &[u8]) {
        self.unframe();
        self.headers
            .push(format!("Content-Length: {}", body.len()).into_bytes());
        self.wire_body = body.to_vec();
        self.body = body.to_vec();
    }

    /// 1-3 chunks, hex sizes in either case, sometimes extensions and trailers.
    fn set_chunked_body(&mut self, rng: &mut Rng, body: &[u8]) {
        self.unframe();
        self.headers.push(b"Transfer-Encoding: chunked".to_vec());
        let mut rest = body;
        let mut wire = Vec::new();
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len());
            let size = if rng.percent(50) {
                format!("{n:x}")
            } else {
                format!("{n:X}")
            };
            wire.extend_from_slice(size.as_bytes());
            if rng.percent(20) {
                wire.extend_from_slice(b";ext=\"v\"");
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&rest[..n]);
            wire.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        wire.extend_from_slice(b"0\r\n");
        if rng.percent(20) {
            wire.extend_from_slice(b"X-Trailer: t\r\n");
        }
        wire.extend_from_slice(b"\r\n");
        self.wire_body = wire;
        self.body = body.to_vec();
    }

    /// Framing headers as given (raw lines), the chunked body of `hello` on the wire.
    fn framed(&mut self, lines: &[&[u8]], wire: &[u8]) {
        self.unframe();
        self.headers.extend(lines.iter().map(|l| l.to_vec()));
        self.wire_body = wire.to_vec();
        self.body = HELLO.to_vec();
    }
}

/// A request hidden in a body: if the backend ever receives it without the client having an
/// answer for it, a proxy and the backend framed differently.
fn smuggled(conn: usize) -> Vec<u8> {
    format!("GET /smuggled-fz-{conn}-0 HTTP/1.1\r\nHost: a.test\r\nx-fz: smuggled\r\n\r\n")
        .into_bytes()
}

fn cl(n: usize) -> Vec<u8> {
    format!("Content-Length: {n}").into_bytes()
}

/// Transfer-Encoding spellings parsers disagree on (TE.TE), one or more header lines each.
const TE_VARIANTS: &[&[&[u8]]] = &[
    &[b"Transfer-Encoding: xchunked"],
    &[b"Transfer-Encoding : chunked"],
    &[b"Transfer-Encoding:\tchunked"],
    &[b"Transfer-Encoding: chunked", b"Transfer-Encoding: x"],
    &[b"Transfer-Encoding: x", b"Transfer-Encoding: chunked"],
    &[b"Transfer-Encoding: chunked, identity"],
    &[b"Transfer-Encoding: identity, chunked"],
    &[b"Transfer-Encoding: gzip, chunked"],
    &[b"Transfer-Encoding:", b" chunked"],
    &[b" Transfer-Encoding: chunked"],
    &[b"Transfer-Encoding: \"chunked\""],
    &[b"Transfer-Encoding: chunked;x=1"],
    &[b"Transfer-Encoding: chunked,"],
    &[b"Transfer-Encoding: , chunked"],
    &[b"Transfer-Encoding: CHUNKED"],
    &[b"Transfer-Encoding: chunked\x0b"],
    &[b"Transfer-Encoding: \x0cchunked"],
    &[b"Transfer_Encoding: chunked"],
    &[b"Transfer-Encoding: chunked "],
    &[b"Transfer-Encoding: chu\x00nked"],
    &[b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
    &[b"Transfer-Encoding: \xa0chunked"],
];

/// Content-Length spellings (the body is `hello`, sometimes with one byte more).
const CL_VARIANTS: &[&[&[u8]]] = &[
    &[b"Content-Length: 5", b"Content-Length: 5"],
    &[b"Content-Length: 5, 5"],
    &[b"Content-Length: 5", b"Content-Length: 6"],
    &[b"Content-Length: +5"],
    &[b"Content-Length: 05"],
    &[b"Content-Length: 5 5"],
    &[b"Content-Length: 0x5"],
    &[b"Content-Length: -5"],
    &[b"Content-Length: 99999999999999999999"],
    &[b"Content-Length:"],
    &[b"Content-Length: 5,"],
    &[b"Content-Length:\t5\t"],
    &[b"Content-Length : 5"],
    &[b"content-length: 5"],
    &[b"Content-Length: 5\x00"],
    &[b"Content-Length:", b" 5"],
];

type Make = fn(&mut Rng, &mut Draft, usize);

fn header(d: &mut Draft, line: &[u8]) {
    d.headers.push(line.to_vec());
}

fn chunked(d: &mut Draft, wire: &[u8]) {
    d.framed(&[b"Transfer-Encoding: chunked"], wire);
}

fn target(d: &mut Draft, t: Vec<u8>) {
    d.method = b"GET".to_vec();
    d.unframe();
    d.target = t;
}

fn tag_of(conn: usize) -> String {
    super::gen::tag(conn, 0)
}

/// (name, edit): every template is generated at least once per run.
pub const TEMPLATES: &[(&str, Make)] = &[
    // Framing: both headers, TE obfuscations, Content-Length oddities.
    ("cl-te", |_, d, c| {
        let wire = [&b"0\r\n\r\n"[..], &smuggled(c)].concat();
        d.framed(&[&cl(wire.len()), b"Transfer-Encoding: chunked"], &wire);
        d.body.clear();
    }),
    ("te-cl", |_, d, c| {
        let wire = [&b"0\r\n\r\n"[..], &smuggled(c)].concat();
        d.framed(&[b"Transfer-Encoding: chunked", &cl(wire.len())], &wire);
        d.body.clear();
    }),
    ("te-cl-short", |_, d, _| {
        d.framed(
            &[b"Transfer-Encoding: chunked", b"Content-Length: 3"],
            HELLO_CHUNKED,
        )
    }),
    ("te-variant", |r, d, _| {
        let lines = TE_VARIANTS[r.below(TE_VARIANTS.len())];
        d.framed(lines, HELLO_CHUNKED)
    }),
    ("te-variant-with-cl", |r, d, _| {
        let lines = *r.pick(TE_VARIANTS);
        let n = if r.percent(50) {
            HELLO_CHUNKED.len()
        } else {
            3
        };
        d.framed(&[lines, &[&cl(n)[..]]].concat(), HELLO_CHUNKED);
    }),
    ("cl-variant", |r, d, _| {
        let wire: &[u8] = if r.percent(50) { b"hello" } else { b"hellox" };
        let lines = CL_VARIANTS[r.below(CL_VARIANTS.len())];
        d.framed(lines, wire);
    }),
    ("te-http10", |_, d, _| {
        chunked(d, HELLO_CHUNKED);
        d.version = b"HTTP/1.0".to_vec();
        header(d, b"Connection: keep-alive");
    }),
    ("http10-get-with-body", |_, d, _| {
        d.method = b"GET".to_vec();
        d.version = b"HTTP/1.0".to_vec();
        header(d, b"Connection: keep-alive");
    }),
    // Head syntax.
    ("bare-lf-head", |_, d, _| d.eol = b"\n".to_vec()),
    ("bare-lf-one-line", |_, d, _| header(d, b"X-A: b\nX-B: c")),
    ("bare-cr-in-header", |_, d, _| header(d, b"X-A: b\rX-B: c")),
    ("obs-fold", |_, d, _| {
        header(d, b"X-A: b");
        header(d, b" c");
    }),
    ("obs-fold-tab", |_, d, _| {
        header(d, b"X-A: b");
        header(d, b"\tc");
    }),
    ("space-before-colon", |_, d, _| header(d, b"X-A : b")),
    ("header-nul", |_, d, _| header(d, b"X-A: b\x00c")),
    ("header-del", |_, d, _| header(d, b"X-A: b\x7fc")),
    ("header-ctl", |_, d, _| header(d, b"X-A: b\x01c")),
    ("header-obs-text", |_, d, _| header(d, b"X-A: caf\xe9 \xff")),
    ("header-empty-name", |_, d, _| header(d, b": b")),
    ("header-no-colon", |_, d, _| header(d, b"X-A b")),
    ("header-bad-name", |_, d, _| header(d, b"X(A): b")),
    ("header-name-underscore", |_, d, _| header(d, b"X_A: b")),
    ("header-long", |r, d, _| {
        header(d, &[&b"X-Long: "[..], &r.word(8000)].concat())
    }),
    ("header-too-large", |r, d, _| {
        header(d, &[&b"X-Huge: "[..], &r.word(20000)].concat())
    }),
    // Request line.
    ("method-lower", |_, d, _| d.method = b"post".to_vec()),
    ("method-bad-char", |_, d, _| d.method = b"P@ST".to_vec()),
    ("version-12", |_, d, _| d.version = b"HTTP/1.2".to_vec()),
    ("version-20", |_, d, _| d.version = b"HTTP/2.0".to_vec()),
    ("version-lower", |_, d, _| d.version = b"http/1.1".to_vec()),
    ("version-09", |_, d, _| d.version = b"HTTP/0.9".to_vec()),
    ("version-two-digits", |_, d, _| {
        d.version = b"HTTP/1.10".to_vec()
    }),
    ("extra-spaces", |_, d, _| d.method = b"POST ".to_vec()),
    ("tab-separator", |_, d, _| d.method = b"POST\t".to_vec()),
    ("leading-crlf", |_, d, _| d.method = b"\r\nPOST".to_vec()),
    // Request targets (RFC 9112 3.2).
    ("target-relative", |_, d, c| {
        target(d, tag_of(c).into_bytes())
    }),
    ("target-backslash", |_, d, c| {
        target(d, format!("\\{}", tag_of(c)).into_bytes())
    }),
    ("target-fragment", |_, d, c| {
        target(d, format!("/{}#frag", tag_of(c)).into_bytes())
    }),
    ("target-query-only", |_, d, c| {
        target(d, format!("?{}", tag_of(c)).into_bytes())
    }),
    ("target-absolute-query", |_, d, c| {
        target(d, format!("http://a.test?{}", tag_of(c)).into_bytes())
    }),
    ("target-absolute-one-slash", |_, d, c| {
        target(d, format!("http:/{}", tag_of(c)).into_bytes())
    }),
    ("target-absolute-no-host", |_, d, c| {
        target(d, format!("http:///{}", tag_of(c)).into_bytes())
    }),
    ("target-asterisk-get", |_, d, _| target(d, b"*".to_vec())),
    ("target-authority-get", |_, d, _| {
        target(d, b"a.test:80".to_vec())
    }),
    ("target-odd-char", |r, d, c| {
        let ch = *r.pick(b"{}|^`\"<>");
        target(d, [format!("/{}", tag_of(c)).as_bytes(), &[ch]].concat());
    }),
    ("target-bad-percent", |_, d, c| {
        target(d, format!("/{}%zz", tag_of(c)).into_bytes())
    }),
    ("target-utf8", |_, d, c| {
        target(d, format!("/{}/\u{e9}", tag_of(c)).into_bytes())
    }),
    ("target-options-asterisk", |_, d, _| {
        target(d, b"*".to_vec());
        d.method = b"OPTIONS".to_vec();
    }),
    ("target-absolute-https", |_, d, c| {
        target(d, format!("https://a.test/{}", tag_of(c)).into_bytes())
    }),
    // Host (RFC 9112 3.2).
    ("host-two", |_, d, _| header(d, b"Host: b.test")),
    ("host-two-same", |_, d, _| header(d, HOST)),
    ("host-list", |_, d, _| {
        d.headers[0] = b"Host: a.test, b.test".to_vec()
    }),
    ("host-userinfo", |_, d, _| {
        d.headers[0] = b"Host: u@a.test".to_vec()
    }),
    ("host-space", |_, d, _| {
        d.headers[0] = b"Host: a .test".to_vec()
    }),
    ("host-bad-port", |_, d, _| {
        d.headers[0] = b"Host: a.test:80x".to_vec()
    }),
    ("host-port-range", |_, d, _| {
        d.headers[0] = b"Host: a.test:99999".to_vec()
    }),
    ("host-empty-port", |_, d, _| {
        d.headers[0] = b"Host: a.test:".to_vec()
    }),
    ("host-missing", |_, d, _| {
        d.headers.remove(0);
    }),
    ("host-absolute-mismatch", |_, d, c| {
        d.target = format!("http://b.test/{}", tag_of(c)).into_bytes();
    }),
    // Chunked framing (RFC 9112 7.1).
    ("chunk-bare-lf-size", |_, d, _| {
        chunked(d, b"5\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-bare-lf-data", |_, d, _| {
        chunked(d, b"5\r\nhello\n0\r\n\r\n")
    }),
    ("chunk-bare-lf-end", |_, d, _| {
        chunked(d, b"5\r\nhello\r\n0\n\n")
    }),
    ("chunk-ext", |_, d, _| {
        chunked(d, b"5;a=b;c=\"d e\"\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-ext-ctl", |_, d, _| {
        chunked(d, b"5;a\x01\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-ext-bare-cr", |_, d, _| {
        chunked(d, b"5;a\rb\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-zeros-17", |_, d, _| {
        chunked(d, b"00000000000000005\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-zeros-24", |_, d, _| {
        chunked(d, b"000000000000000000000005\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-ws", |_, d, _| {
        chunked(d, b"5 \r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-overflow", |_, d, _| {
        chunked(d, b"10000000000000005\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-0x", |_, d, _| {
        chunked(d, b"0x5\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-plus", |_, d, _| {
        chunked(d, b"+5\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-size-empty", |_, d, _| {
        chunked(d, b"\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-data-long", |_, d, _| {
        chunked(d, b"3\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-data-short", |_, d, _| {
        chunked(d, b"7\r\nhello\r\n0\r\n\r\n")
    }),
    ("chunk-trailer-cl", |_, d, _| {
        chunked(d, b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n")
    }),
    ("chunk-trailer-fold", |_, d, _| {
        chunked(d, b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n")
    }),
    ("chunk-upper-hex", |_, d, _| {
        d.framed(
            &[b"Transfer-Encoding: chunked"],
            b"A\r\nhellohello\r\n0\r\n\r\n",
        );
        d.body = b"hellohello".to_vec();
    }),
    ("chunk-last-ext", |_, d, _| {
        chunked(d, b"5\r\nhello\r\n0;x=y\r\n\r\n")
    }),
    ("chunk-then-request", |_, d, c| {
        let wire = [HELLO_CHUNKED, &smuggled(c)].concat();
        chunked(d, &wire);
    }),
];
