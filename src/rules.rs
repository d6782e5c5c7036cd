//! Condition evaluation: ACLs and `if`/`unless` against one connection or request.
//!
//! Everything was compiled at load (patterns lower-cased for `-i`, regexes built, names
//! resolved to indexes), so evaluation only compares bytes and allocates nothing.

use std::net::IpAddr;

use crate::config::model::{Acl, Condition, Fetch, Frontend, MatchMethod, Matcher, Patterns};
use crate::http::parse::Header;

/// What a condition may look at. `req` is `None` in mode tcp.
pub struct Ctx<'a> {
    pub src: IpAddr,
    pub dst_port: u16,
    pub req: Option<ReqView<'a>>,
}

/// A parsed request head: slices into the client's buffer.
pub struct ReqView<'a> {
    pub buf: &'a [u8],
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub headers: &'a [Header],
}

/// The backend for this connection or request: the first `use_backend` whose condition holds,
/// else `default_backend`.
pub fn select_backend(fe: &Frontend, ctx: &Ctx) -> Option<usize> {
    for rule in &fe.switching {
        let hit = match &rule.cond {
            Some(c) => eval(&fe.acls, c, ctx),
            None => true,
        };
        if hit {
            return Some(rule.backend);
        }
    }
    fe.default_backend
}

/// `if`/`unless` terms: any group of ANDed terms that all hold makes the condition true.
pub fn eval(acls: &[Acl], cond: &Condition, ctx: &Ctx) -> bool {
    let holds = cond.any_of.iter().any(|group| {
        group.iter().all(|term| {
            let v = acls.get(term.acl).is_some_and(|acl| acl_matches(acl, ctx));
            v != term.negate
        })
    });
    holds != cond.unless
}

fn acl_matches(acl: &Acl, ctx: &Ctx) -> bool {
    acl.matchers.iter().any(|m| matcher_matches(m, ctx))
}

fn matcher_matches(m: &Matcher, ctx: &Ctx) -> bool {
    match &m.fetch {
        Fetch::Src => match &m.patterns {
            Patterns::Nets(nets) => nets.iter().any(|n| n.contains(ctx.src)),
            Patterns::None => true,
            _ => text_matches(m, ctx.src.to_string().as_bytes()),
        },
        Fetch::DstPort => int_matches(m, ctx.dst_port as i64),
        Fetch::Method => ctx.req.as_ref().is_some_and(|r| text_matches(m, r.method)),
        Fetch::Url => ctx.req.as_ref().is_some_and(|r| text_matches(m, r.target)),
        Fetch::Path => ctx
            .req
            .as_ref()
            .is_some_and(|r| text_matches(m, path_of(r.target))),
        Fetch::ReqHdr(name) => ctx.req.as_ref().is_some_and(|r| header_matches(m, r, name)),
    }
}

fn int_matches(m: &Matcher, v: i64) -> bool {
    match &m.patterns {
        Patterns::Ints(ranges) => ranges.iter().any(|r| r.min <= v && v <= r.max),
        Patterns::None => true,
        _ => text_matches(m, v.to_string().as_bytes()),
    }
}

/// `hdr(name)` in an ACL looks at every occurrence and every comma-separated value of it.
fn header_matches(m: &Matcher, r: &ReqView, name: &str) -> bool {
    r.headers
        .iter()
        .filter(|h| {
            r.buf
                .get(h.name.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        })
        .filter_map(|h| r.buf.get(h.value.clone()))
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|v| text_matches(m, v.trim_ascii()))
}

/// The path of an origin-form or absolute-form target, without the query string.
pub fn path_of(target: &[u8]) -> &[u8] {
    let after_authority = match find(target, b"://") {
        Some(i) => {
            let rest = &target[i + 3..];
            match rest.iter().position(|&b| b == b'/') {
                Some(p) => &rest[p..],
                None => b"/",
            }
        }
        None => target,
    };
    match after_authority.iter().position(|&b| b == b'?') {
        Some(q) => &after_authority[..q],
        None => after_authority,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn text_matches(m: &Matcher, value: &[u8]) -> bool {
    match &m.patterns {
        Patterns::None => true,
        Patterns::Regexes(res) => {
            std::str::from_utf8(value).is_ok_and(|s| res.iter().any(|re| re.is_match(s)))
        }
        Patterns::Strings(pats) => pats
            .iter()
            .any(|p| string_matches(m.method, m.ignore_case, p.as_bytes(), value)),
        Patterns::Ints(ranges) => {
            parse_int(value).is_some_and(|v| ranges.iter().any(|r| r.min <= v && v <= r.max))
        }
        Patterns::Nets(nets) => std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
    }
}

fn parse_int(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

fn string_matches(method: MatchMethod, ignore_case: bool, pat: &[u8], value: &[u8]) -> bool {
    let eq = |a: &[u8], b: &[u8]| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match method {
        MatchMethod::Beg => value.len() >= pat.len() && eq(&value[..pat.len()], pat),
        MatchMethod::End => value.len() >= pat.len() && eq(&value[value.len() - pat.len()..], pat),
        MatchMethod::Sub => pat.is_empty() || value.windows(pat.len()).any(|w| eq(w, pat)),
        MatchMethod::Dom => dom_matches(pat, value, &eq),
        MatchMethod::Found => true,
        _ => eq(value, pat),
    }
}

/// HAProxy's `-m dom`: the pattern appears as whole words delimited by `/ ? . :` or the ends.
fn dom_matches(pat: &[u8], value: &[u8], eq: &dyn Fn(&[u8], &[u8]) -> bool) -> bool {
    if pat.is_empty() || value.len() < pat.len() {
        return false;
    }
    let delim = |b: u8| matches!(b, b'/' | b'?' | b'.' | b':');
    (0..=value.len() - pat.len()).any(|i| {
        let before_ok = i == 0 || delim(value[i - 1]);
        let end = i + pat.len();
        let after_ok = end == value.len() || delim(value[end]);
        before_ok && after_ok && eq(&value[i..end], pat)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_strips_query_and_authority() {
        assert_eq!(path_of(b"/a/b?x=1"), b"/a/b");
        assert_eq!(path_of(b"http://h:8/p?q"), b"/p");
        assert_eq!(path_of(b"http://h"), b"/");
    }

    #[test]
    fn dom_needs_word_boundaries() {
        let eq = |a: &[u8], b: &[u8]| a == b;
        assert!(dom_matches(b"example", b"www.example.com", &eq));
        assert!(!dom_matches(b"example", b"www.examples.com", &eq));
    }

    #[test]
    fn methods_compare_as_haproxy() {
        assert!(string_matches(MatchMethod::Beg, false, b"/api", b"/api/v1"));
        assert!(!string_matches(MatchMethod::Beg, false, b"/api", b"/ap"));
        assert!(string_matches(MatchMethod::End, true, b".JPG", b"/a.jpg"));
        assert!(string_matches(
            MatchMethod::Str,
            true,
            b"host.com",
            b"HOST.com"
        ));
        assert!(!string_matches(
            MatchMethod::Str,
            false,
            b"host.com",
            b"HOST.com"
        ));
    }
}
