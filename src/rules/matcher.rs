//! Conditions: ACL matchers against samples, `if`/`unless` terms, and `use_backend` selection.
//!
//! Patterns were compiled at load (lower-cased for `-i`, regexes built, names resolved to
//! indexes), so matching only compares bytes; the fetches used for routing borrow from the
//! request buffer and allocate nothing.

use std::net::IpAddr;

use super::{auth, fetch, Ctx, Smp};
use crate::config::model::{
    Acl, BackendId, Condition, Fetch, Frontend, MatchMethod, Matcher, Patterns,
};

/// The backend for this connection or request: the first `use_backend` whose condition holds,
/// else `default_backend`.
pub fn select_backend(fe: &Frontend, ctx: &Ctx) -> Option<BackendId> {
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

/// A rule's optional condition.
pub fn holds(acls: &[Acl], cond: Option<&Condition>, ctx: &Ctx) -> bool {
    cond.is_none_or(|c| eval(acls, c, ctx))
}

fn acl_matches(acl: &Acl, ctx: &Ctx) -> bool {
    acl.matchers.iter().any(|m| matcher_matches(m, ctx))
}

pub(crate) fn matcher_matches(m: &Matcher, ctx: &Ctx) -> bool {
    match (&m.expr.fetch, &m.patterns, m.expr.convs.is_empty()) {
        // `http_auth_group(L) G1 G2`: the authenticated user belongs to one of the groups.
        (Fetch::HttpAuthGroup(list), Patterns::Strings(groups), true) => {
            fetch::sample(&m.expr, ctx).is_some_and(|u| auth::in_groups(list, &u.bytes(), groups))
        }
        _ => match m.method {
            MatchMethod::Found => fetch::sample(&m.expr, ctx).is_some(),
            MatchMethod::Bool => fetch::sample(&m.expr, ctx).is_some_and(|s| s.truthy()),
            MatchMethod::Str
            | MatchMethod::Beg
            | MatchMethod::End
            | MatchMethod::Sub
            | MatchMethod::Reg
            | MatchMethod::Dom
            | MatchMethod::Ip
            | MatchMethod::Int
            | MatchMethod::Len => fetch::each_sample(&m.expr, ctx, &mut |s| sample_matches(m, s)),
        },
    }
}

fn sample_matches(m: &Matcher, s: &Smp) -> bool {
    match &m.patterns {
        Patterns::None => true,
        Patterns::Nets(nets) => s
            .as_ip()
            .is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
        Patterns::Ints(ranges) => {
            let v = if m.method == MatchMethod::Len {
                Some(s.bytes().len() as i64)
            } else {
                s.as_int()
            };
            v.is_some_and(|v| ranges.iter().any(|r| r.min <= v && v <= r.max))
        }
        Patterns::Regexes(res) => {
            let b = s.bytes();
            std::str::from_utf8(&b).is_ok_and(|t| res.iter().any(|re| re.is_match(t)))
        }
        Patterns::Strings(pats) => {
            let b = s.bytes();
            pats.iter()
                .any(|p| string_matches(m.method, m.ignore_case, p.as_bytes(), &b))
        }
    }
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
        MatchMethod::Ip => std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<IpAddr>().ok())
            .is_some_and(|_| eq(value, pat)),
        // Regexes, integers and lengths have their own patterns; as strings they are compared
        // whole.
        MatchMethod::Str
        | MatchMethod::Reg
        | MatchMethod::Int
        | MatchMethod::Bool
        | MatchMethod::Len => eq(value, pat),
    }
}

/// HAProxy's `-m dom`: the pattern appears as whole words delimited by `/ ? . :` or the ends.
pub fn dom_matches(pat: &[u8], value: &[u8], eq: &dyn Fn(&[u8], &[u8]) -> bool) -> bool {
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
