//! The request-target (RFC 9112 3.2) and the authority syntax it shares with Host (RFC 3986 3.2).
//!
//! Four forms, each only where RFC 9112 allows it: origin-form (`/path?query`) for every method
//! but CONNECT, absolute-form (`http://host/path`) likewise, authority-form (`host:port`) only
//! and always for CONNECT, asterisk-form (`*`) only for OPTIONS.
//!
//! The bytes allowed are RFC 3986's, plus the few that browsers send unencoded (WHATWG URL
//! standard) and HAProxy 2.6 accepts, so that real traffic is never refused: `[ ] | ^` anywhere,
//! and `\ ` { }` in the query. A fragment (`#`) is refused as HAProxy 2.6 does; so are a
//! backslash in the path (servers that read it as `/` would see another path than the rules
//! did), `"`, `<`, `>`, controls, DEL and non-ASCII bytes.

use std::net::Ipv6Addr;
use std::ops::Range;

use super::framing::parse_decimal;
use super::parse::Method;

/// Which of RFC 9112's four request-target forms a request uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the usual one.
    Origin,
    /// `http://host:port/path?query`, as sent to proxies.
    Absolute,
    /// `host:port`: CONNECT only.
    Authority,
    /// `*`: OPTIONS only.
    Asterisk,
}

/// Builds a byte table: ASCII letters and digits, plus `extra`.
const fn allowed(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// RFC 3986 `path-abempty` bytes: unreserved, `%` (of pct-encoded), sub-delims, `:`, `@`, `/`;
/// plus `[ ] | ^`, which browsers leave unencoded.
static PATH: [bool; 256] = allowed(b"-._~%!$&'()*+,;=:@/[]|^");
/// RFC 3986 `query` bytes (path bytes and `?`), plus `\ ` { }`, which browsers leave unencoded
/// in a query (and which no path rule can be fooled by there).
static QUERY: [bool; 256] = allowed(b"-._~%!$&'()*+,;=:@/[]|^?\\`{}");
/// RFC 3986 `reg-name` bytes (unreserved, `%`, sub-delims), but no comma: a comma in Host is two
/// Host values folded into one.
static REG_NAME: [bool; 256] = allowed(b"-._~%!$&'()*+;=");

/// Largest TCP port.
const MAX_PORT: u64 = 65535;

/// What is wrong with an authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadAuthority {
    Userinfo,
    /// A comma: several values folded into one.
    List,
    Host,
    Port,
}

impl BadAuthority {
    fn in_target(self) -> &'static str {
        match self {
            BadAuthority::Userinfo => "userinfo in request target",
            BadAuthority::List | BadAuthority::Host => "invalid host in request target",
            BadAuthority::Port => "invalid port in request target",
        }
    }

    pub(crate) fn in_host_header(self) -> &'static str {
        match self {
            BadAuthority::Userinfo => "userinfo in Host",
            BadAuthority::List => "comma list in Host",
            BadAuthority::Host => "invalid Host",
            BadAuthority::Port => "invalid port in Host",
        }
    }
}

/// Whether an authority needs a port (CONNECT) or may go without one (Host, absolute-form).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    Optional,
    Required,
}

/// The target's form and, for absolute- and authority-form, where its authority is (relative
/// to the target's start). Errors are reasons for a 400.
pub(crate) fn classify(
    method: Method,
    target: &[u8],
) -> Result<(TargetForm, Option<Range<usize>>), &'static str> {
    if target.contains(&b'#') {
        return Err("fragment in request target");
    }
    if method == Method::Connect {
        check_authority(target, Port::Required).map_err(BadAuthority::in_target)?;
        return Ok((TargetForm::Authority, Some(0..target.len())));
    }
    match target.first() {
        Some(b'/') => check_path_and_query(target).map(|()| (TargetForm::Origin, None)),
        Some(b'*') if target.len() == 1 && method == Method::Options => {
            Ok((TargetForm::Asterisk, None))
        }
        Some(b'*') if target.len() == 1 => Err("asterisk-form target outside OPTIONS"),
        _ => absolute_form(target).map(|auth| (TargetForm::Absolute, Some(auth))),
    }
}

/// `http://authority[/path][?query]` or the same with https (scheme case-insensitive).
fn absolute_form(target: &[u8]) -> Result<Range<usize>, &'static str> {
    let Some(scheme_len) = http_scheme_len(target) else {
        return Err(if check_authority(target, Port::Required).is_ok() {
            "authority-form target outside CONNECT"
        } else {
            "invalid request target"
        });
    };
    let rest = target.get(scheme_len..).unwrap_or_default();
    // As in HAProxy, the authority runs to the first '/': `http://a?x` has authority `a?x`,
    // which is refused below.
    let len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
    let authority = rest.get(..len).unwrap_or_default();
    if authority.is_empty() {
        return Err("absolute-form target without a host");
    }
    check_authority(authority, Port::Optional).map_err(BadAuthority::in_target)?;
    check_path_and_query(rest.get(len..).unwrap_or_default())?;
    Ok(scheme_len..scheme_len + len)
}

/// The origin-form of an absolute-form target: `http://a:1/p?q` -> `/p?q`, `http://a` -> `/`.
/// Any other target comes back as it is.
pub fn origin_form(target: &[u8]) -> &[u8] {
    let Some(scheme_len) = http_scheme_len(target) else {
        return target;
    };
    let rest = target.get(scheme_len..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'/') {
        Some(p) => rest.get(p..).unwrap_or(b"/"),
        None => b"/",
    }
}

/// Length of a leading `http://` or `https://`, any case.
fn http_scheme_len(target: &[u8]) -> Option<usize> {
    [&b"http://"[..], b"https://"].iter().find_map(|s| {
        let head = target.get(..s.len())?;
        head.eq_ignore_ascii_case(s).then_some(s.len())
    })
}

/// Every byte before the first `?` is a path byte, every byte after it a query byte.
fn check_path_and_query(s: &[u8]) -> Result<(), &'static str> {
    let split = s.iter().position(|&b| b == b'?').unwrap_or(s.len());
    let (path, query) = s.split_at(split);
    if path.contains(&b'\\') {
        return Err("backslash in request path");
    }
    let path_ok = path.iter().all(|&b| PATH[usize::from(b)]);
    let query_ok = query.iter().all(|&b| QUERY[usize::from(b)]);
    if path_ok && query_ok {
        Ok(())
    } else {
        Err("invalid character in request target")
    }
}

/// `host [":" port]` as RFC 3986 3.2.2-3.2.3 has it (no userinfo, which RFC 9110 4.2.4 forbids
/// in http URIs): host a bracketed IPv6 address or a non-empty reg-name / IPv4 address; port
/// digits up to 65535, empty only where optional (`Host: a:` is valid).
pub(crate) fn check_authority(a: &[u8], port: Port) -> Result<(), BadAuthority> {
    if a.contains(&b'@') {
        return Err(BadAuthority::Userinfo);
    }
    if a.contains(&b',') {
        return Err(BadAuthority::List);
    }
    let after_host = match a.first() {
        Some(b'[') => ipv6_literal_len(a)?,
        _ => {
            let len = a.iter().position(|&b| b == b':').unwrap_or(a.len());
            let host = a.get(..len).unwrap_or_default();
            if host.is_empty() || !host.iter().all(|&b| REG_NAME[usize::from(b)]) {
                return Err(BadAuthority::Host);
            }
            len
        }
    };
    match a.get(after_host..).unwrap_or_default() {
        [] if port == Port::Optional => Ok(()),
        [b':', digits @ ..] if digits.is_empty() && port == Port::Optional => Ok(()),
        [b':', digits @ ..] if parse_decimal(digits).is_some_and(|p| p <= MAX_PORT) => Ok(()),
        [] | [b':', ..] => Err(BadAuthority::Port),
        _ => Err(BadAuthority::Host),
    }
}

/// `[IPv6address]`: the length up to and including `]`.
fn ipv6_literal_len(a: &[u8]) -> Result<usize, BadAuthority> {
    let close = a
        .iter()
        .position(|&b| b == b']')
        .ok_or(BadAuthority::Host)?;
    let inside = a.get(1..close).unwrap_or_default();
    let valid = std::str::from_utf8(inside).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok());
    if valid {
        Ok(close + 1)
    } else {
        Err(BadAuthority::Host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(method: Method, target: &str) -> Result<TargetForm, &'static str> {
        classify(method, target.as_bytes()).map(|(f, _)| f)
    }

    #[test]
    fn the_four_forms() {
        use TargetForm::*;
        assert_eq!(form(Method::Get, "/a/b?c=d"), Ok(Origin));
        assert_eq!(form(Method::Get, "http://a/x"), Ok(Absolute));
        assert_eq!(form(Method::Get, "HTTPS://a:443"), Ok(Absolute));
        assert_eq!(form(Method::Connect, "a:443"), Ok(Authority));
        assert_eq!(form(Method::Connect, "[::1]:443"), Ok(Authority));
        assert_eq!(form(Method::Options, "*"), Ok(Asterisk));
        assert_eq!(form(Method::Options, "/"), Ok(Origin));
    }

    #[test]
    fn forms_outside_their_methods() {
        for (m, t) in [
            (Method::Get, "*"),
            (Method::Post, "*"),
            (Method::Get, "a:80"),
            (Method::Connect, "/x"),
            (Method::Connect, "*"),
            (Method::Connect, "http://a/"),
            (Method::Connect, "a"),
            (Method::Connect, "a:"),
            (Method::Connect, "a:x"),
            (Method::Connect, "u@a:80"),
            (Method::Connect, "a:80/x"),
            (Method::Connect, ":80"),
            (Method::Connect, "a:65536"),
        ] {
            assert!(form(m, t).is_err(), "{m:?} {t}");
        }
    }

    #[test]
    fn targets_haproxy_refuses() {
        // The list: 400 in HAProxy 2.6 (with a Host header).
        for t in [
            "admin",
            "\\admin",
            "/admin#x",
            "?x",
            "http://a?x",
            "http:/a",
        ] {
            assert!(form(Method::Get, t).is_err(), "{t}");
        }
    }

    #[test]
    fn absolute_form_needs_http_and_a_host() {
        for t in [
            "http://",
            "http:///x",
            "ftp://a/",
            "http:a",
            "http://u@a/x",
            "http://a:x/",
            "http://a:99999/",
            "http://a b/",
            "http://[::1/",
            "http://a/#x",
        ] {
            assert!(form(Method::Get, t).is_err(), "{t}");
        }
        let (_, auth) = classify(Method::Get, b"http://h:81/x?y").unwrap();
        assert_eq!(auth, Some(7..11));
        for t in [
            "http://a",
            "http://a:/x",
            "http://[::1]:80/x",
            "http://a/x?y=1",
        ] {
            assert_eq!(form(Method::Get, t), Ok(TargetForm::Absolute), "{t}");
        }
    }

    #[test]
    fn bytes_in_path_and_query() {
        for t in [
            "/a\"b", "/a<b", "/a>b", "/a{b", "/a}b", "/a`b", "/a\\b", "/a\x7fb", "/a\x01b",
            "/a\u{e9}", "/x?a\"b", "/x?a<b", "/x?a b",
        ] {
            assert!(form(Method::Get, t).is_err(), "{t:?}");
        }
        for t in [
            "/a:b@c!$&'()*+,;=-._~",
            "/%61%zz%",
            "//x/../y",
            "/[x]|^",
            "/x?ids[]=1&q=a|b^c",
            "/x?p=C:\\dir&t=`{}`",
            "/x?a?b/c",
        ] {
            assert_eq!(form(Method::Get, t), Ok(TargetForm::Origin), "{t:?}");
        }
    }

    #[test]
    fn authority_syntax() {
        let ok = |a: &str| check_authority(a.as_bytes(), Port::Optional);
        for a in [
            "a",
            "a.example:8080",
            "a:",
            "a:0",
            "a:000080",
            "a:65535",
            "[::1]",
            "[::1]:80",
            "1.2.3.4:5",
            "a_b",
            "a%41",
        ] {
            assert_eq!(ok(a), Ok(()), "{a}");
        }
        use BadAuthority as B;
        for (a, why) in [
            ("a,b", B::List),
            ("a, a", B::List),
            ("u@a", B::Userinfo),
            ("a b", B::Host),
            ("a:x", B::Port),
            ("a:65536", B::Port),
            ("a:99999999999999999999999", B::Port),
            ("a:80:80", B::Port),
            (":80", B::Host),
            ("", B::Host),
            ("::1", B::Host),
            ("[::1", B::Host),
            ("[x]", B::Host),
            ("[::1]x", B::Host),
            ("a]", B::Host),
            ("a/b", B::Host),
            ("a?b", B::Host),
            ("a\\b", B::Host),
            ("\"a\"", B::Host),
            ("a\u{e9}", B::Host),
        ] {
            assert_eq!(ok(a), Err(why), "{a:?}");
        }
    }
}
