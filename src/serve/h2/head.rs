//! An HTTP/2 request's head as HTTP/1.1 bytes (the pipeline's one head format, downstream.rs),
//! and the checks RFC 9113 asks of it beyond what the `h2` crate makes.
//!
//! h2 itself refuses (stream error PROTOCOL_ERROR) unknown or repeated pseudo-headers,
//! pseudo-headers after fields, a missing `:method`/`:scheme`/`:path`, connection-specific
//! fields (`connection`, `keep-alive`, `proxy-connection`, `transfer-encoding`, `upgrade`,
//! `te` other than `trailers`) and a `content-length` the DATA frames contradict. Left here,
//! and malformed too, so also a stream error PROTOCOL_ERROR (RFC 9113 8.1.1; no request
//! reaches the pipeline): field values with leading or trailing white space (8.2.1), a `host`
//! that names another authority than `:authority` (8.3.1), a second `host`, CONNECT without
//! `:authority` (8.5).
//!
//! The head written: `METHOD :path HTTP/1.1`, then `host` (from `:authority`, else the
//! client's `host` field), the fields in order (`cookie` fields joined with "; ", 8.2.3), then
//! the body's framing: the client's `content-length`, else `transfer-encoding: chunked` when a
//! body follows. A CONNECT (8.5) is `CONNECT :authority HTTP/1.1` with `host: :authority`, as
//! HAProxy 2.6 writes it, and no framing: its DATA frames are the tunnel's bytes once the
//! server answers 2xx (stream.rs).

use http::request::Parts;
use http::Method;

/// Why a request head cannot be written.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Malformed (RFC 9113 8.1.1): the stream is reset with PROTOCOL_ERROR.
    Malformed,
}

/// Writes the HTTP/1.1 head of an HTTP/2 request into `out`. `body_follows`: the HEADERS frame
/// did not end the stream.
pub fn write_request(parts: &Parts, body_follows: bool, out: &mut Vec<u8>) -> Result<(), Refused> {
    let authority = parts.uri.authority().map(|a| a.as_str());
    let connect = parts.method == Method::CONNECT;
    if connect && authority.is_none() {
        return Err(Refused::Malformed);
    }
    let host = host_field(parts, authority)?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    out.clear();
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    match (connect, authority, parts.uri.scheme_str()) {
        (true, Some(a), _) => out.extend_from_slice(a.as_bytes()),
        // HAProxy 2.6 makes an HTTP/2 request's target absolute-form from `:scheme`,
        // `:authority` and `:path`: `url` and the log's request line see it so, the server
        // gets the origin-form (http/head.rs).
        (false, Some(a), Some(scheme)) if path != "*" => {
            out.extend_from_slice(scheme.as_bytes());
            out.extend_from_slice(b"://");
            out.extend_from_slice(a.as_bytes());
            out.extend_from_slice(path.as_bytes());
        }
        _ => out.extend_from_slice(path.as_bytes()),
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(h) = host {
        field(out, b"host", h);
    }
    let mut cookies: Vec<&[u8]> = Vec::new();
    let mut has_length = false;
    for (name, value) in &parts.headers {
        let v = value.as_bytes();
        if v.first().is_some_and(is_ws) || v.last().is_some_and(is_ws) {
            return Err(Refused::Malformed);
        }
        match name.as_str() {
            "host" => {}
            "cookie" => cookies.push(v),
            n => {
                has_length |= n == "content-length";
                field(out, n.as_bytes(), v);
            }
        }
    }
    if !cookies.is_empty() {
        field(out, b"cookie", &cookies.join(&b"; "[..]));
    }
    if body_follows && !has_length && !connect {
        field(out, b"transfer-encoding", b"chunked");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn is_ws(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `host` to write: `:authority` when given (a `host` field must then name the same,
/// RFC 9113 8.3.1), else the client's `host` field (at most one).
fn host_field<'p>(
    parts: &'p Parts,
    authority: Option<&'p str>,
) -> Result<Option<&'p [u8]>, Refused> {
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    let first = hosts.next().map(|h| h.as_bytes());
    if hosts.next().is_some() {
        return Err(Refused::Malformed);
    }
    match (authority, first) {
        (Some(a), Some(h)) if !a.as_bytes().eq_ignore_ascii_case(h) => Err(Refused::Malformed),
        (Some(a), _) => Ok(Some(a.as_bytes())),
        (None, h) => Ok(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(b: http::request::Builder) -> Parts {
        b.body(()).unwrap_or_default().into_parts().0
    }

    fn head(b: http::request::Builder, body: bool) -> Result<String, Refused> {
        let mut out = Vec::new();
        write_request(&parts(b), body, &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn authority_becomes_host_and_cookies_join() {
        let b = http::Request::builder()
            .method("POST")
            .uri("https://example.com:8443/a?b=1")
            .header("cookie", "a=1")
            .header("x-y", "z")
            .header("cookie", "b=2");
        assert_eq!(
            head(b, true).ok().as_deref(),
            Some("POST https://example.com:8443/a?b=1 HTTP/1.1\r\nhost: example.com:8443\r\nx-y: z\r\ncookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n")
        );
    }

    #[test]
    fn content_length_is_kept_and_host_must_agree() {
        let b = http::Request::builder()
            .method("PUT")
            .uri("http://a.example/x")
            .header("host", "A.example")
            .header("content-length", "3");
        let h = head(b, true).unwrap_or_default();
        assert!(
            h.contains("host: a.example\r\ncontent-length: 3\r\n\r\n"),
            "{h}"
        );
        let b = http::Request::builder()
            .uri("http://a.example/x")
            .header("host", "b.example");
        assert_eq!(head(b, false), Err(Refused::Malformed));
    }

    #[test]
    fn host_field_alone_and_bad_values() {
        let b = http::Request::builder()
            .uri("/only-path")
            .header("host", "h.example");
        assert_eq!(
            head(b, false).ok().as_deref(),
            Some("GET /only-path HTTP/1.1\r\nhost: h.example\r\n\r\n")
        );
        let b = http::Request::builder().uri("/").header("x", " padded");
        assert_eq!(head(b, false), Err(Refused::Malformed));
        let b = http::Request::builder().uri("/").header("x", "tab\t");
        assert_eq!(head(b, false), Err(Refused::Malformed));
        let b = http::Request::builder()
            .method("CONNECT")
            .uri("a.example:443");
        assert_eq!(
            head(b, true).ok().as_deref(),
            Some("CONNECT a.example:443 HTTP/1.1\r\nhost: a.example:443\r\n\r\n"),
            "no framing: the DATA frames are the tunnel's"
        );
        let b = http::Request::builder().method("CONNECT").uri("/");
        assert_eq!(
            head(b, false),
            Err(Refused::Malformed),
            "CONNECT without :authority"
        );
    }
}
