//! ACLs and conditions: `acl NAME FETCH[,CONV...] [flags] PATTERN...` and `if|unless TERMS`.
//!
//! Matchers are built (the sample expression parsed by `expr`, patterns parsed, regexes compiled,
//! `-f` files read) as soon as a line is read; names used in conditions are resolved later by
//! `validate`, once every `acl` line of the proxy is known.

use super::addr;
use super::catalog::fetches;
use super::expr::{self, ParseEnv, SmpType};
use super::model::{Acl, AclId, Fetch, IntRange, MatchMethod, Matcher, Patterns};
use super::model_rules::Expr;
use super::{regexes, suggest};

/// HAProxy's suffixed fetch names: `hdr_beg(host)` = `hdr(host) -m beg`.
const SUFFIXES: &[(&str, MatchMethod)] = &[
    ("_beg", MatchMethod::Beg),
    ("_end", MatchMethod::End),
    ("_sub", MatchMethod::Sub),
    ("_reg", MatchMethod::Reg),
    ("_dom", MatchMethod::Dom),
    ("_len", MatchMethod::Len),
];

/// True for matchers that need an HTTP request (refused in `mode tcp` proxies).
pub fn is_http_fetch(e: &Expr) -> bool {
    use super::model_rules::Needs;
    !matches!(
        e.needs,
        Needs::Conn | Needs::Nothing | Needs::Content | Needs::ResContent
    )
}

pub fn fetch_name(f: &Fetch) -> String {
    expr::fetch_label(f)
}

/// Splits a suffixed fetch (`path_beg`, `hdr_sub(x)`) into the plain fetch and its method.
fn unsuffix(first: &str) -> Option<(String, MatchMethod)> {
    let (head, tail) = match first.find('(') {
        Some(p) => first.split_at(p),
        None => (first, ""),
    };
    let head_only = head.split(',').next().unwrap_or(head);
    if head_only != head {
        return None;
    }
    SUFFIXES.iter().find_map(|(suf, m)| {
        let base = head.strip_suffix(suf)?;
        fetches::takes_suffixes(base).then(|| (format!("{base}{tail}"), *m))
    })
}

/// The fetches whose suffixed forms "did you mean" offers, in the order it prefers on a tie (the
/// short spellings: `hdr_beg` rather than `req.hdr_beg`). Each takes suffixes in the fetch table.
const HINTED_SUFFIXED: [&str; 6] = ["hdr", "path", "url", "base", "urlp", "cook"];

/// "unknown fetch", with the suffixed names (`hdr_beg`, `path_end`, ...) among the hints.
fn unknown_acl_fetch(first: &str) -> String {
    let name = first.split(['(', ',']).next().unwrap_or(first);
    let suffixed: Vec<String> = HINTED_SUFFIXED
        .iter()
        .flat_map(|b| SUFFIXES.iter().map(move |(s, _)| format!("{b}{s}")))
        .collect();
    let hint = suggest::hint(
        name,
        fetches::supported_names().chain(suffixed.iter().map(String::as_str)),
    );
    if hint.is_empty() {
        return fetches::unknown(name);
    }
    format!("unknown fetch '{name}'{hint}")
}

/// Parses `FETCH [flags] PATTERN...` (the words after `acl NAME`, or inside `{ }`).
pub fn parse_matcher(words: &[String], env: &ParseEnv) -> Result<Matcher, String> {
    let Some(first) = words.first() else {
        return Err("missing fetch (e.g. 'hdr(host) -i example.com' or 'path_beg /api')".into());
    };
    let (expr, mut method) = match expr::parse_expr(first, env) {
        Ok(e) => {
            let m = default_method(expr::expr_type(&e));
            (e, m)
        }
        Err(e) => match unsuffix(first) {
            Some((plain, m)) => (expr::parse_expr(&plain, env)?, m),
            None if e.starts_with("unknown fetch") => return Err(unknown_acl_fetch(first)),
            None => return Err(e),
        },
    };
    let mut ignore_case = false;
    let mut files: Vec<String> = Vec::new();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "-i" => ignore_case = true,
            "-n" => {}
            "--" => {
                i += 1;
                break;
            }
            "-m" => {
                i += 1;
                let m = words.get(i).map(String::as_str).unwrap_or("");
                method = match_method(m)?;
            }
            "-f" => {
                i += 1;
                let Some(f) = words.get(i) else {
                    return Err("'-f' needs a file name".into());
                };
                files.extend(expr::load_patterns(f)?);
            }
            "-u" | "-M" => return Err(format!("flag '{w}' is not supported by ringlb yet")),
            f if f.len() == 2 && f.starts_with('-') && f.as_bytes()[1].is_ascii_alphabetic() => {
                return Err(format!("unknown ACL flag '{f}'; known flags are -i, -f FILE, -m METHOD, -n and -- (end of flags)"))
            }
            _ => break,
        }
        i += 1;
    }
    check_method(expr::expr_type(&expr), method, first)?;
    let mut pats: Vec<String> = words.get(i..).unwrap_or(&[]).to_vec();
    let from_files = !files.is_empty();
    pats.extend(files);
    if matches!(
        expr.fetch,
        Fetch::Payload(_, super::model_rules::PayloadFetch::SslVer)
    ) && expr.convs.is_empty()
    {
        pats = pats.iter().map(|p| dotted_versions(p)).collect();
    }
    let patterns = parse_patterns(method, ignore_case, &pats, from_files)?;
    Ok(Matcher {
        expr,
        method,
        ignore_case,
        patterns,
    })
}

fn default_method(t: SmpType) -> MatchMethod {
    match t {
        SmpType::Str => MatchMethod::Str,
        SmpType::Int => MatchMethod::Int,
        SmpType::Ip => MatchMethod::Ip,
        SmpType::Bool => MatchMethod::Bool,
    }
}

const METHODS: [&str; 11] = [
    "str", "beg", "end", "sub", "reg", "dom", "found", "ip", "int", "bool", "len",
];

fn match_method(m: &str) -> Result<MatchMethod, String> {
    Ok(match m {
        "str" => MatchMethod::Str,
        "beg" => MatchMethod::Beg,
        "end" => MatchMethod::End,
        "sub" => MatchMethod::Sub,
        "reg" => MatchMethod::Reg,
        "dom" => MatchMethod::Dom,
        "found" => MatchMethod::Found,
        "ip" => MatchMethod::Ip,
        "int" => MatchMethod::Int,
        "bool" => MatchMethod::Bool,
        "len" => MatchMethod::Len,
        "" => return Err(format!("'-m' needs a match method: {}", METHODS.join(", "))),
        "dir" | "bin" => {
            return Err(format!(
                "match method '-m {m}' is not supported by ringlb yet"
            ))
        }
        _ => {
            let hint = suggest::hint(m, METHODS);
            return Err(format!("unknown match method '-m {m}'{hint}"));
        }
    })
}

/// Refuses combinations that cannot work (an IP match on a path, a string match on `src`).
fn check_method(t: SmpType, method: MatchMethod, word: &str) -> Result<(), String> {
    use MatchMethod as M;
    let ok = match t {
        SmpType::Ip => matches!(method, M::Ip | M::Found | M::Str),
        SmpType::Int => matches!(method, M::Int | M::Found | M::Bool),
        SmpType::Bool => matches!(method, M::Bool | M::Found),
        SmpType::Str => !matches!(method, M::Bool),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{word}' cannot be matched with '-m {}'",
            method_name(method)
        ))
    }
}

fn method_name(m: MatchMethod) -> &'static str {
    match m {
        MatchMethod::Str => "str",
        MatchMethod::Beg => "beg",
        MatchMethod::End => "end",
        MatchMethod::Sub => "sub",
        MatchMethod::Reg => "reg",
        MatchMethod::Dom => "dom",
        MatchMethod::Found => "found",
        MatchMethod::Ip => "ip",
        MatchMethod::Int => "int",
        MatchMethod::Bool => "bool",
        MatchMethod::Len => "len",
    }
}

fn parse_patterns(
    method: MatchMethod,
    ignore_case: bool,
    pats: &[String],
    from_files: bool,
) -> Result<Patterns, String> {
    if matches!(method, MatchMethod::Found | MatchMethod::Bool) {
        if let Some(p) = pats.first() {
            return Err(format!(
                "'-m {}' takes no pattern, but '{p}' follows; remove it",
                method_name(method)
            ));
        }
        return Ok(Patterns::None);
    }
    if pats.is_empty() && !from_files {
        return Err("missing pattern: give at least one value to match (or use '-m found')".into());
    }
    Ok(match method {
        MatchMethod::Reg => Patterns::Regexes(
            pats.iter()
                .map(|p| regexes::compile(p, ignore_case))
                .collect::<Result<_, _>>()?,
        ),
        MatchMethod::Ip => Patterns::Nets(
            pats.iter()
                .map(|p| addr::parse_cidr(p))
                .collect::<Result<_, _>>()?,
        ),
        MatchMethod::Int | MatchMethod::Len => Patterns::Ints(parse_ints(pats)?),
        // Found and Bool took no pattern above.
        MatchMethod::Str
        | MatchMethod::Beg
        | MatchMethod::End
        | MatchMethod::Sub
        | MatchMethod::Dom
        | MatchMethod::Found
        | MatchMethod::Bool => Patterns::Strings(
            pats.iter()
                .map(|p| {
                    if ignore_case {
                        p.to_ascii_lowercase()
                    } else {
                        p.clone()
                    }
                })
                .collect(),
        ),
    })
}

/// `req.ssl_ver 3.1` or `3.1:3.3`: HAProxy reads SSL versions as `major.minor`, the value
/// being major * 65536 + minor; other words pass through.
fn dotted_versions(p: &str) -> String {
    let one = |v: &str| match v.split_once('.') {
        Some((a, b)) => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) => (a * 65536 + b).to_string(),
            _ => v.to_string(),
        },
        None => v.to_string(),
    };
    match p.split_once(':') {
        Some((a, b)) => format!("{}:{}", one(a), one(b)),
        None => one(p),
    }
}

/// Integer patterns: `80`, `1024:65535`, `:1023`, `1024:`, and operator forms `ge 1024`.
fn parse_ints(pats: &[String]) -> Result<Vec<IntRange>, String> {
    let num = |s: &str| {
        s.parse::<i64>()
            .map_err(|_| format!("'{s}' is not an integer"))
    };
    let mut out = Vec::new();
    let mut op: Option<&str> = None;
    for p in pats {
        if matches!(p.as_str(), "eq" | "ge" | "gt" | "le" | "lt") {
            op = Some(p.as_str());
            continue;
        }
        let r = match op.take() {
            Some(o) => {
                let n = num(p)?;
                match o {
                    "eq" => IntRange { min: n, max: n },
                    "ge" => IntRange {
                        min: n,
                        max: i64::MAX,
                    },
                    "gt" => IntRange {
                        min: n.saturating_add(1),
                        max: i64::MAX,
                    },
                    "le" => IntRange {
                        min: i64::MIN,
                        max: n,
                    },
                    _ => IntRange {
                        min: i64::MIN,
                        max: n.saturating_sub(1),
                    },
                }
            }
            None => match p.split_once(':') {
                Some((a, b)) => IntRange {
                    min: if a.is_empty() { i64::MIN } else { num(a)? },
                    max: if b.is_empty() { i64::MAX } else { num(b)? },
                },
                None => {
                    let n = num(p)?;
                    IntRange { min: n, max: n }
                }
            },
        };
        if r.min > r.max {
            return Err(format!(
                "empty integer range '{p}': the first bound is above the second"
            ));
        }
        out.push(r);
    }
    if let Some(o) = op {
        return Err(format!("operator '{o}' needs a number after it"));
    }
    Ok(out)
}

/// A condition before ACL names are resolved.
#[derive(Clone, Debug)]
pub struct CondDraft {
    pub unless: bool,
    pub any_of: Vec<Vec<TermDraft>>,
}

#[derive(Clone, Debug)]
pub struct TermDraft {
    pub negate: bool,
    pub acl: AclRef,
}

#[derive(Clone, Debug)]
pub enum AclRef {
    Named(String),
    /// An anonymous `{ ... }` ACL, already added to the proxy's list.
    Anon(AclId),
}

/// Parses `if|unless TERMS`; anonymous ACLs are appended to `acls`.
pub fn parse_condition(
    words: &[String],
    acls: &mut Vec<Acl>,
    env: &ParseEnv,
) -> Result<CondDraft, String> {
    let unless = match words.first().map(String::as_str) {
        Some("if") => false,
        Some("unless") => true,
        Some(w) => {
            return Err(format!(
                "expected 'if' or 'unless' before the condition, found '{w}'"
            ))
        }
        None => return Err("missing condition".into()),
    };
    let mut any_of = vec![Vec::new()];
    let mut negate = false;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        // As HAProxy's parse_acl_cond: leading '!' marks negate whatever word follows, so
        // `!{ ... }`, `!name` and `! name` are the same; a lone '!' negates the next word.
        let bangs = w.len() - w.trim_start_matches('!').len();
        let w = &w[bangs..];
        if bangs % 2 == 1 {
            negate = !negate;
        }
        if w.is_empty() {
            i += 1;
            continue;
        }
        match w {
            "||" | "or" => {
                if negate || any_of.last().is_some_and(|g| g.is_empty()) {
                    return Err(format!("'{w}' must sit between two terms"));
                }
                any_of.push(Vec::new());
            }
            "{" => {
                let close = words[i..].iter().position(|x| x == "}").map(|p| p + i);
                let Some(close) = close else {
                    return Err("anonymous ACL '{' is missing its closing '}' (separate braces with spaces)".into());
                };
                let m = parse_matcher(&words[i + 1..close], env)
                    .map_err(|e| format!("in anonymous ACL: {e}"))?;
                acls.push(Acl {
                    name: String::new(),
                    matchers: vec![m],
                });
                let id = acls.len() - 1;
                push_term(&mut any_of, std::mem::take(&mut negate), AclRef::Anon(id));
                i = close;
            }
            "}" => return Err("unexpected '}' without a matching '{'".into()),
            "and" | "&&" => {
                return Err(format!(
                "'{w}' is not HAProxy syntax: terms are ANDed by writing them one after the other"
            ))
            }
            name => {
                if name.starts_with('{') {
                    return Err(format!(
                        "'{name}': put a space after '{{' in anonymous ACLs"
                    ));
                }
                push_term(
                    &mut any_of,
                    std::mem::take(&mut negate),
                    AclRef::Named(name.to_string()),
                );
            }
        }
        i += 1;
    }
    if negate || any_of.iter().any(|g| g.is_empty()) {
        return Err(
            "incomplete condition: a term is missing after 'if', 'unless', '!' or '||'".into(),
        );
    }
    Ok(CondDraft { unless, any_of })
}

fn push_term(any_of: &mut [Vec<TermDraft>], negate: bool, acl: AclRef) {
    if let Some(g) = any_of.last_mut() {
        g.push(TermDraft { negate, acl });
    }
}

/// HAProxy's predefined ACLs that map exactly onto ringlb's matchers.
pub fn predefined(name: &str) -> Option<Acl> {
    let words: &[&str] = match name {
        "LOCALHOST" => &["src", "127.0.0.1/8", "::1"],
        "METH_CONNECT" => &["method", "CONNECT"],
        "METH_DELETE" => &["method", "DELETE"],
        "METH_GET" => &["method", "GET", "HEAD"],
        "METH_HEAD" => &["method", "HEAD"],
        "METH_OPTIONS" => &["method", "OPTIONS"],
        "METH_POST" => &["method", "POST"],
        "METH_PUT" => &["method", "PUT"],
        "METH_TRACE" => &["method", "TRACE"],
        "HTTP_URL_ABS" => &["url_reg", "^[^/:]*://"],
        "HTTP_URL_SLASH" => &["url_beg", "/"],
        "HTTP_URL_STAR" => &["url", "*"],
        "TRUE" => &["always_true"],
        "WAIT_END" => &["wait_end"],
        "REQ_CONTENT" => &["req.len", "gt", "0"],
        "FALSE" => &["always_false"],
        _ => return None,
    };
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let m = parse_matcher(&words, &ParseEnv::default()).ok()?;
    Some(Acl {
        name: name.to_string(),
        matchers: vec![m],
    })
}

/// Predefined HAProxy ACLs ringlb cannot express yet.
pub const UNSUPPORTED_PREDEFINED: &[&str] = &[
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_CONTENT",
    "RDP_COOKIE",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_matcher_t(w: &[String]) -> Result<Matcher, String> {
        parse_matcher(w, &ParseEnv::default())
    }

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn matchers() {
        let m = parse_matcher_t(&w("hdr(Host) -i Example.COM b")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.expr.fetch, Fetch::ReqHdr(h) if h.name == "host"));
        assert!(matches!(&m.patterns, Patterns::Strings(p) if p == &["example.com", "b"]));
        let m = parse_matcher_t(&w("path_beg /api")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.method, MatchMethod::Beg);
        let m = parse_matcher_t(&w("dst_port 80 1024:65535 :10")).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&m.patterns, Patterns::Ints(r) if r.len() == 3 && r[1].min == 1024 && r[2].min == i64::MIN)
        );
        let m = parse_matcher_t(&w("src 10.0.0.0/8 ::1")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Nets(n) if n.len() == 2));
        let m = parse_matcher_t(&w("hdr(x) -m found")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(m.patterns, Patterns::None));
        let m = parse_matcher_t(&w("path -i -m reg ^/A")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Regexes(r) if r[0].is_match("/abc")));
        let m = parse_matcher_t(&w("path -- -i")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Strings(p) if p == &["-i"]));
    }

    #[test]
    fn matcher_errors() {
        let err = |s: &str| parse_matcher_t(&w(s)).err().unwrap_or_default();
        assert!(err("path_reg (").contains("invalid regex '('"));
        assert!(err("hdr_bge(host) x").contains("did you mean 'hdr_beg'"));
        assert!(err("ssl_bc_sni x").contains("not supported"));
        assert!(err("hdr x").contains("needs a header name"));
        assert!(err("path").contains("missing pattern"));
        assert!(err("src example.com").contains("not an IP"));
        assert!(err("dst_port 10:1").contains("empty integer range"));
        assert!(err("path -m nope x").contains("unknown match method"));
    }

    #[test]
    fn conditions() {
        let mut acls = Vec::new();
        let c = parse_condition(
            &w("if a !b || ! c { path /x } or d"),
            &mut acls,
            &ParseEnv::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.unless);
        assert_eq!(c.any_of.len(), 3);
        assert_eq!(c.any_of[0].len(), 2);
        assert!(c.any_of[0][1].negate && c.any_of[1][0].negate && !c.any_of[1][1].negate);
        assert_eq!(acls.len(), 1);
        // `!{` is `!` then `{`, as in HAProxy; `!!` cancels out.
        let c = parse_condition(
            &w("if { path /x } !{ src 10.0.0.0/8 } !!a"),
            &mut acls,
            &ParseEnv::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let g = &c.any_of[0];
        assert_eq!(g.len(), 3);
        assert!(!g[0].negate && g[1].negate && !g[2].negate);
        assert!(matches!(g[1].acl, AclRef::Anon(_)));
        for bad in [
            "if !{path /x }",
            "if a !||",
            "if",
            "if a ||",
            "if || a",
            "if !",
            "if { path /x",
            "when a",
            "if a and b",
        ] {
            assert!(
                parse_condition(&w(bad), &mut acls, &ParseEnv::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn hinted_suffixed_fetches_take_suffixes() {
        for base in HINTED_SUFFIXED {
            assert!(fetches::takes_suffixes(base), "{base}");
        }
    }

    #[test]
    fn ssl_versions_are_dotted() {
        let m = parse_matcher_t(&w("req.ssl_ver 3.1:3.3 ge 3.4")).unwrap_or_else(|e| panic!("{e}"));
        let Patterns::Ints(r) = &m.patterns else {
            panic!("not integers")
        };
        assert_eq!((r[0].min, r[0].max), (0x30001, 0x30003));
        assert_eq!(r[1].min, 0x30004);
        let m = parse_matcher_t(&w("req.len gt 0")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Ints(r) if r[0].min == 1));
    }
}
