//! `http-request normalize-uri`: rewrites a request target so that spellings a server treats
//! as the same resource (`/x/../admin`, `//admin`, `/%61dmin`) also look the same to the rules
//! after it. Each normalizer does what HAProxy 2.6's does, byte for byte, quirks included
//! (checked against HAProxy on loopback: tests/e2e_vs_haproxy.rs), because an operator moving
//! a config between the two must get the same paths:
//!
//! - the path is what follows the authority of an absolute-form target, or the whole
//!   origin-form target; `*`, authority-form and an absolute-form target without a path have
//!   none, and are left as they are;
//! - the `path-*` normalizers work on the path up to the first `?`; the `percent-*` and
//!   `fragment-*` ones on the path with its query (and fragment); `query-sort-by-name` on what
//!   follows the first `?`.
//!
//! Pure functions over bytes (a few small allocations per call), no panic on any input.

use crate::config::model_rules::Normalizer;

/// A `%` not followed by two hex digits, under a `strict` normalizer: the request gets 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadPercent;

/// The target after `n`, or `None` when `n` leaves it as it is.
pub fn apply(n: Normalizer, target: &[u8]) -> Result<Option<Vec<u8>>, BadPercent> {
    let Some(at) = path_start(target) else {
        return Ok(None);
    };
    let (before, path) = target.split_at(at);
    let new_path = match n {
        Normalizer::FragmentEncode => fragment_encode(path),
        Normalizer::FragmentStrip => fragment_strip(path).to_vec(),
        Normalizer::PathMergeSlashes => on_path(path, merge_slashes),
        Normalizer::PathStripDot => on_path(path, strip_dot),
        Normalizer::PathStripDotdot { full } => on_path(path, |p| strip_dotdot(p, full)),
        Normalizer::PercentDecodeUnreserved { strict } => percent_decode_unreserved(path, strict)?,
        Normalizer::PercentToUppercase { strict } => percent_to_uppercase(path, strict)?,
        Normalizer::QuerySortByName => sort_query(path),
    };
    if new_path == path {
        return Ok(None);
    }
    Ok(Some([before, &new_path].concat()))
}

/// Where the path begins, as HAProxy's URI parser finds it.
fn path_start(target: &[u8]) -> Option<usize> {
    match target.first()? {
        b'*' => None,
        b'/' => Some(0),
        _ => {
            let after_scheme = scheme_len(target)?;
            let slash = target[after_scheme..].iter().position(|&b| b == b'/')?;
            Some(after_scheme + slash)
        }
    }
}

/// The length of `scheme://` at the start (RFC 3986 3.1), or `None` (authority-form).
fn scheme_len(target: &[u8]) -> Option<usize> {
    if !target.first()?.is_ascii_alphabetic() {
        return None;
    }
    let name = target
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    target[name..].starts_with(b"://").then_some(name + 3)
}

/// Applies `f` to the path without its query; the query follows unchanged.
fn on_path(path: &[u8], f: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let end = path.iter().position(|&b| b == b'?').unwrap_or(path.len());
    let mut out = f(&path[..end]);
    out.extend_from_slice(&path[end..]);
    out
}

pub fn fragment_encode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'#' => out.extend_from_slice(b"%23"),
            _ => out.push(b),
        }
    }
    out
}

pub fn fragment_strip(s: &[u8]) -> &[u8] {
    let end = s.iter().position(|&b| b == b'#').unwrap_or(s.len());
    &s[..end]
}

pub fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if !(b == b'/' && out.last() == Some(&b'/')) {
            out.push(b);
        }
    }
    out
}

/// The segments of a path, each with whether a `/` follows it. An empty last segment (the
/// path ends with `/`, or is empty) is left out: the `/` before it already says it.
fn segments(path: &[u8]) -> Vec<(&[u8], bool)> {
    let mut segs: Vec<(&[u8], bool)> = path.split(|&b| b == b'/').map(|s| (s, true)).collect();
    if let Some(last) = segs.last_mut() {
        last.1 = false;
        if last.0.is_empty() {
            segs.pop();
        }
    }
    segs
}

fn push_segment(out: &mut Vec<u8>, (seg, slash): (&[u8], bool)) {
    out.extend_from_slice(seg);
    if slash {
        out.push(b'/');
    }
}

/// `/./` -> `/`, a final `/.` -> `/`. Percent-encoded dots are not dots here.
pub fn strip_dot(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for seg in segments(path).into_iter().filter(|(s, _)| *s != b".") {
        push_segment(&mut out, seg);
    }
    out
}

/// Each `..` segment (one after a `/`) removes itself and the nearest segment before it that
/// is not itself `..`, empty segments included (`/foo//../` -> `/foo/`). The empty segment
/// before a leading `/` is the root: nothing removes it. `..` with nothing left to remove stay
/// at the start, as `/..` each, unless `full` (`/bar/../../` -> `/../`, or `/` with `full`).
///
/// The segments are walked from the end, as HAProxy does, which counts the `..` waiting for a
/// segment to remove and gives the same result as a stack walked from the start.
pub fn strip_dotdot(path: &[u8], full: bool) -> Vec<u8> {
    let segs = segments(path);
    let mut kept: Vec<(&[u8], bool)> = Vec::with_capacity(segs.len());
    let mut pending = 0usize;
    for (i, &seg) in segs.iter().enumerate().rev() {
        let is_root = i == 0 && seg.0.is_empty();
        if i > 0 && seg.0 == b".." {
            pending += 1;
        } else if pending > 0 && !is_root {
            pending -= 1;
        } else if pending == 0 {
            kept.push(seg);
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if pending > 0 {
        if !full {
            for _ in 0..pending {
                out.extend_from_slice(b"/..");
            }
        }
        // Stands for the root's `/` (the root itself is not in `kept` then).
        out.push(b'/');
    }
    for seg in kept.into_iter().rev() {
        push_segment(&mut out, seg);
    }
    out
}

/// RFC 3986 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The two hex digits after a `%` at `s[0]`, when there are.
fn escape_at(s: &[u8]) -> Option<(u8, u8)> {
    match s {
        [b'%', h, l, ..] if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => Some((*h, *l)),
        _ => None,
    }
}

/// Walks `s`, handing each well-formed `%XX` to `escape` (which writes its replacement); a
/// malformed `%` is copied, or refused when `strict`. One pass: `/%%36%36` -> `/%66`.
fn map_escapes(
    s: &[u8],
    strict: bool,
    mut escape: impl FnMut(&mut Vec<u8>, u8, u8),
) -> Result<Vec<u8>, BadPercent> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        match escape_at(&s[i..]) {
            Some((h, l)) => {
                escape(&mut out, h, l);
                i += 3;
            }
            None if strict => return Err(BadPercent),
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

pub fn percent_decode_unreserved(s: &[u8], strict: bool) -> Result<Vec<u8>, BadPercent> {
    map_escapes(s, strict, |out, h, l| {
        let decoded = match (hex_value(h), hex_value(l)) {
            (Some(h), Some(l)) => (h << 4) | l,
            _ => 0,
        };
        if is_unreserved(decoded) {
            out.push(decoded);
        } else {
            out.extend_from_slice(&[b'%', h, l]);
        }
    })
}

pub fn percent_to_uppercase(s: &[u8], strict: bool) -> Result<Vec<u8>, BadPercent> {
    map_escapes(s, strict, |out, h, l| {
        out.extend_from_slice(&[b'%', h.to_ascii_uppercase(), l.to_ascii_uppercase()]);
    })
}

/// Sorts the `&`-separated parameters after the first `?` by name (up to `=`), bytewise,
/// keeping the order of equal names. As in HAProxy, an empty last parameter is dropped
/// (`?a=1&` -> `?a=1`). A path without `?` is left as it is.
pub fn sort_query(path: &[u8]) -> Vec<u8> {
    let Some(q) = path.iter().position(|&b| b == b'?') else {
        return path.to_vec();
    };
    let (head, query) = path.split_at(q + 1);
    let mut params: Vec<&[u8]> = query.split(|&b| b == b'&').collect();
    if params.last().is_some_and(|p| p.is_empty()) {
        params.pop();
    }
    let name = |p: &[u8]| -> Vec<u8> { p.split(|&b| b == b'=').next().unwrap_or(p).to_vec() };
    params.sort_by_cached_key(|p| name(p));
    let mut out = Vec::with_capacity(path.len());
    out.extend_from_slice(head);
    out.extend_from_slice(&params.join(&b'&'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: Normalizer, t: &str) -> String {
        match apply(n, t.as_bytes()) {
            Ok(Some(v)) => String::from_utf8_lossy(&v).into_owned(),
            Ok(None) => t.to_string(),
            Err(BadPercent) => "400".to_string(),
        }
    }

    fn check(n: Normalizer, cases: &[(&str, &str)]) {
        for (input, want) in cases {
            assert_eq!(run(n, input), *want, "{n:?} {input}");
        }
    }

    /// The examples of HAProxy 2.6's manual, then cases measured on HAProxy 2.6.12.
    #[test]
    fn strip_dotdot_like_haproxy() {
        let cases = [
            ("/foo/../", "/"),
            ("/foo/../bar/", "/bar/"),
            ("/foo/bar/../", "/foo/"),
            ("/../bar/", "/../bar/"),
            ("/bar/../../", "/../"),
            ("/foo//../", "/foo/"),
            ("/foo/%2E%2E/", "/foo/%2E%2E/"),
            ("/x/../admin", "/admin"),
            ("/a/..", "/"),
            ("/..", "/../"),
            ("/a/b/../../..", "/../"),
            ("/a/../b?x=/../", "/b?x=/../"),
            ("/...//a", "/...//a"),
            ("/a/./../b", "/a/b"),
            ("http://h/a/../b", "http://h/b"),
        ];
        check(Normalizer::PathStripDotdot { full: false }, &cases);
        let full = [
            ("/../bar/", "/bar/"),
            ("/bar/../../", "/"),
            ("/..", "/"),
            ("/foo/../bar", "/bar"),
        ];
        check(Normalizer::PathStripDotdot { full: true }, &full);
    }

    #[test]
    fn strip_dot_and_merge_slashes() {
        check(
            Normalizer::PathStripDot,
            &[
                ("/.", "/"),
                ("/./bar/", "/bar/"),
                ("/a/./a", "/a/a"),
                ("/.well-known/", "/.well-known/"),
                ("/a/.", "/a/"),
                ("/./././x", "/x"),
                ("/a/.?q=/./", "/a/?q=/./"),
                ("/%2E/a", "/%2E/a"),
            ],
        );
        check(
            Normalizer::PathMergeSlashes,
            &[
                ("//", "/"),
                ("/foo//bar", "/foo/bar"),
                ("//admin", "/admin"),
                ("/a///b?x=//", "/a/b?x=//"),
                ("http://h//a", "http://h/a"),
            ],
        );
    }

    #[test]
    fn percent_normalizers() {
        let lax = Normalizer::PercentDecodeUnreserved { strict: false };
        check(
            lax,
            &[
                ("/%61dmin", "/admin"),
                ("/foo%3Fbar=baz", "/foo%3Fbar=baz"),
                ("/%%36%36", "/%66"),
                ("/%ZZ", "/%ZZ"),
                ("/%2e%2E%7e%5F%2D", "/..~_-"),
                ("/a?b=%41", "/a?b=A"),
                ("/%", "/%"),
                ("/%4", "/%4"),
            ],
        );
        let strict = Normalizer::PercentDecodeUnreserved { strict: true };
        check(
            strict,
            &[
                ("/%%36%36", "400"),
                ("/%ZZ", "400"),
                ("/%", "400"),
                ("/%61", "/a"),
            ],
        );
        check(
            Normalizer::PercentToUppercase { strict: false },
            &[
                ("/%6f", "/%6F"),
                ("/%zz", "/%zz"),
                ("/?a=%3d%e9", "/?a=%3D%E9"),
            ],
        );
        check(
            Normalizer::PercentToUppercase { strict: true },
            &[("/%zz", "400"), ("/%6f%", "400"), ("/%6f", "/%6F")],
        );
    }

    #[test]
    fn query_sort_and_fragments() {
        check(
            Normalizer::QuerySortByName,
            &[
                ("/?c=3&a=1&b=2", "/?a=1&b=2&c=3"),
                ("/?aaa=3&a=1&aa=2", "/?a=1&aa=2&aaa=3"),
                ("/?a=3&b=4&a=1&b=5&a=2", "/?a=3&a=1&a=2&b=4&b=5"),
                ("/?b&a", "/?a&b"),
                ("/?a=1&", "/?a=1"),
                ("/?&a", "/?&a"),
                ("/?", "/?"),
                ("/p", "/p"),
                ("/?B=1&a=2", "/?B=1&a=2"),
            ],
        );
        check(
            Normalizer::FragmentEncode,
            &[("/#foo", "/%23foo"), ("/a#b#", "/a%23b%23")],
        );
        check(
            Normalizer::FragmentStrip,
            &[("/#foo", "/"), ("/a?x#b#c", "/a?x")],
        );
    }

    #[test]
    fn targets_without_a_path_are_left_alone() {
        for n in every_normalizer() {
            for t in [
                "*",
                "",
                "example.com:443",
                "http://h",
                "http:/a",
                "1http://h//a",
            ] {
                assert_eq!(apply(n, t.as_bytes()), Ok(None), "{n:?} {t:?}");
            }
        }
    }

    fn every_normalizer() -> Vec<Normalizer> {
        let mut v = vec![
            Normalizer::FragmentEncode,
            Normalizer::FragmentStrip,
            Normalizer::PathMergeSlashes,
            Normalizer::PathStripDot,
            Normalizer::QuerySortByName,
        ];
        for b in [false, true] {
            v.push(Normalizer::PathStripDotdot { full: b });
            v.push(Normalizer::PercentDecodeUnreserved { strict: b });
            v.push(Normalizer::PercentToUppercase { strict: b });
        }
        v
    }

    /// Random bytes, biased towards the bytes the normalizers look at: no panic, and the
    /// invariants each one promises.
    #[test]
    fn random_targets_never_panic() {
        const ALPHABET: &[u8] = b"/./..%?&=#aA1fZ~-_%2e%2E%61\x00\xff ";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut t: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        r as u8 >> 3
                    } else {
                        ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                    }
                })
                .collect();
            if next() % 2 == 0 {
                t.insert(0, b'/');
            }
            for n in every_normalizer() {
                let out = apply(n, &t);
                // `#` becomes `%23`; a final `/..` left over becomes `/../`.
                let most = match n {
                    Normalizer::FragmentEncode => t.len() * 3,
                    Normalizer::PathStripDotdot { .. } => t.len() + 1,
                    Normalizer::FragmentStrip
                    | Normalizer::PathMergeSlashes
                    | Normalizer::PathStripDot
                    | Normalizer::PercentDecodeUnreserved { .. }
                    | Normalizer::PercentToUppercase { .. }
                    | Normalizer::QuerySortByName => t.len(),
                };
                if let Ok(Some(o)) = &out {
                    assert!(o.len() <= most, "{n:?} {t:?} -> {o:?}");
                    // Applying a path normalizer twice changes nothing more.
                    if matches!(n, Normalizer::PathMergeSlashes | Normalizer::PathStripDot) {
                        assert_eq!(apply(n, o), Ok(None), "{n:?} {t:?} -> {o:?}");
                    }
                }
            }
        }
    }
}
