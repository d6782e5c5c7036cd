//! Invariants every parsed head must keep, request or response: every range lies inside the
//! head, and the body kind agrees with the framing headers it came from.

use ringlb::http::{BodyKind, Header};
use std::ops::Range;

/// `r` is a valid range inside the first `head_len` bytes.
pub fn assert_inside(what: &str, r: &Range<usize>, head_len: usize) {
    assert!(
        r.start <= r.end && r.end <= head_len,
        "{what} {r:?} lies outside the head (0..{head_len})"
    );
}

/// Names are non-empty tokens, values are trimmed, all inside the head.
pub fn assert_headers(buf: &[u8], headers: &[Header], head_len: usize) {
    for h in headers {
        assert_inside("header name", &h.name, head_len);
        assert_inside("header value", &h.value, head_len);
        let name = &buf[h.name.clone()];
        assert!(!name.is_empty(), "empty header name accepted");
        assert!(
            name.iter().all(|&b| is_tchar(b)),
            "header name {name:?} is not a token"
        );
        let value = &buf[h.value.clone()];
        let untrimmed = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
        assert!(
            !untrimmed(value.first()) && !untrimmed(value.last()),
            "header value {value:?} keeps surrounding white space"
        );
        assert!(
            !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)),
            "header value {value:?} holds CR, LF or NUL"
        );
    }
}

/// The number of header fields named `name` (case-insensitive).
pub fn count(buf: &[u8], headers: &[Header], name: &[u8]) -> usize {
    headers
        .iter()
        .filter(|h| buf[h.name.clone()].eq_ignore_ascii_case(name))
        .count()
}

/// The values of the fields named `name`, in order.
pub fn values<'a>(buf: &'a [u8], headers: &'a [Header], name: &'a [u8]) -> Vec<&'a [u8]> {
    headers
        .iter()
        .filter(|h| buf[h.name.clone()].eq_ignore_ascii_case(name))
        .map(|h| &buf[h.value.clone()])
        .collect()
}

/// A Content-Length body is never also chunked, and its length is what every Content-Length
/// field says; a chunked body came with a Transfer-Encoding field.
pub fn assert_framing(buf: &[u8], headers: &[Header], body: BodyKind) {
    let te = count(buf, headers, b"transfer-encoding");
    match body {
        BodyKind::Length(n) => {
            assert_eq!(
                te, 0,
                "Content-Length body while Transfer-Encoding is present"
            );
            let cls = values(buf, headers, b"content-length");
            assert!(
                !cls.is_empty(),
                "Length({n}) without a Content-Length field"
            );
            for v in cls {
                for item in v.split(|&b| b == b',') {
                    let digits = trim(item);
                    let parsed = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|s| s.parse().ok());
                    assert!(
                        !digits.starts_with(b"+") && parsed == Some(n),
                        "Content-Length {v:?} framed as Length({n})"
                    );
                }
            }
        }
        BodyKind::Chunked => assert!(te > 0, "chunked body without Transfer-Encoding"),
        BodyKind::None | BodyKind::UntilClose => {}
    }
}

pub fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(a), Some(b)) => &s[a..=b],
        _ => &[],
    }
}

/// RFC 9110 5.6.2 tchar.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A few cut points strictly inside `0..len`, spread over it and varying with the input, for
/// the "arrives in pieces" checks (all of them would cost O(n^2) per input).
pub fn cut_points(data: &[u8], len: usize) -> Vec<usize> {
    if len < 2 {
        return Vec::new();
    }
    let mix = data
        .iter()
        .fold(len, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
    let mut cuts = vec![1, len / 2, len - 1, 1 + mix % (len - 1)];
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}
