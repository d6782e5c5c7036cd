//! ACLs and conditions: `acl NAME FETCH [flags] PATTERN...` and `if|unless TERMS`.
//!
//! Matchers are built (patterns parsed, regexes compiled) as soon as a line is read; names used in
//! conditions are resolved later by `validate`, once every `acl` line of the proxy is known.

use super::addr;
use super::model::{Acl, AclId, Fetch, IntRange, MatchMethod, Matcher, Patterns};
use super::suggest;

/// Fetches ringlb evaluates, with the match method each implies (`hdr_beg` = `hdr` + `-m beg`).
const FETCHES: &[(&str, FetchKind, MatchMethod)] = &[
    ("hdr", FetchKind::Hdr, MatchMethod::Str),
    ("req.hdr", FetchKind::Hdr, MatchMethod::Str),
    ("hdr_beg", FetchKind::Hdr, MatchMethod::Beg),
    ("hdr_end", FetchKind::Hdr, MatchMethod::End),
    ("hdr_sub", FetchKind::Hdr, MatchMethod::Sub),
    ("hdr_reg", FetchKind::Hdr, MatchMethod::Reg),
    ("hdr_dom", FetchKind::Hdr, MatchMethod::Dom),
    ("path", FetchKind::Path, MatchMethod::Str),
    ("path_beg", FetchKind::Path, MatchMethod::Beg),
    ("path_end", FetchKind::Path, MatchMethod::End),
    ("path_sub", FetchKind::Path, MatchMethod::Sub),
    ("path_reg", FetchKind::Path, MatchMethod::Reg),
    ("path_dom", FetchKind::Path, MatchMethod::Dom),
    ("url", FetchKind::Url, MatchMethod::Str),
    ("url_beg", FetchKind::Url, MatchMethod::Beg),
    ("url_end", FetchKind::Url, MatchMethod::End),
    ("url_sub", FetchKind::Url, MatchMethod::Sub),
    ("url_reg", FetchKind::Url, MatchMethod::Reg),
    ("url_dom", FetchKind::Url, MatchMethod::Dom),
    ("method", FetchKind::Method, MatchMethod::Str),
    ("src", FetchKind::Src, MatchMethod::Ip),
    ("dst_port", FetchKind::DstPort, MatchMethod::Int),
];

/// HAProxy fetches that ringlb does not evaluate yet: refused by name rather than "unknown".
const UNSUPPORTED_FETCHES: &[&str] = &[
    "ssl_fc",
    "ssl_fc_sni",
    "ssl_c_used",
    "ssl_c_verify",
    "ssl_fc_alpn",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.cook",
    "cook",
    "req.cook_cnt",
    "query",
    "url_param",
    "urlp",
    "base",
    "base_beg",
    "base_sub",
    "path_dir",
    "url_dir",
    "hdr_cnt",
    "hdr_ip",
    "hdr_val",
    "hdr_len",
    "req.fhdr",
    "req.hdr_cnt",
    "req.body",
    "var",
    "src_port",
    "dst",
    "req.len",
    "req.proto_http",
    "http_auth",
    "http_auth_group",
    "status",
    "res.hdr",
    "shdr",
    "always_true",
    "always_false",
    "nbsrv",
    "be_id",
    "fe_id",
    "fe_name",
    "be_name",
    "src_conn_cur",
    "sc_http_req_rate",
    "src_http_req_rate",
    "req.ver",
    "capture.req.hdr",
    "ssl_c_s_dn",
    "url_ip",
    "url_port",
    "path_len",
];

#[derive(Clone, Copy, PartialEq)]
enum FetchKind {
    Hdr,
    Path,
    Url,
    Method,
    Src,
    DstPort,
}

/// True for fetches that need an HTTP request (refused in `mode tcp` proxies).
pub fn is_http_fetch(f: &Fetch) -> bool {
    !matches!(f, Fetch::Src | Fetch::DstPort)
}

pub fn fetch_name(f: &Fetch) -> String {
    match f {
        Fetch::ReqHdr(h) => format!("hdr({h})"),
        Fetch::Path => "path".into(),
        Fetch::Url => "url".into(),
        Fetch::Method => "method".into(),
        Fetch::Src => "src".into(),
        Fetch::DstPort => "dst_port".into(),
    }
}

/// Parses `FETCH [flags] PATTERN...` (the words after `acl NAME`, or inside `{ }`).
pub fn parse_matcher(words: &[String]) -> Result<Matcher, String> {
    let Some(first) = words.first() else {
        return Err("missing fetch (e.g. 'hdr(host) -i example.com' or 'path_beg /api')".into());
    };
    let (fetch, mut method) = parse_fetch(first)?;
    let mut ignore_case = false;
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
            "-f" => return Err("'-f' (patterns from a file) is not supported by ringlb yet; list the patterns inline".into()),
            "-u" | "-M" => return Err(format!("flag '{w}' is not supported by ringlb yet")),
            f if f.len() == 2 && f.starts_with('-') && f.as_bytes()[1].is_ascii_alphabetic() => {
                return Err(format!("unknown ACL flag '{f}'; known flags are -i, -m METHOD, -n and -- (end of flags)"))
            }
            _ => break,
        }
        i += 1;
    }
    check_method(&fetch, method, first)?;
    let pats = words.get(i..).unwrap_or(&[]);
    let patterns = parse_patterns(method, ignore_case, pats)?;
    Ok(Matcher {
        fetch,
        method,
        ignore_case,
        patterns,
    })
}

fn parse_fetch(word: &str) -> Result<(Fetch, MatchMethod), String> {
    let (name, arg) = match word.split_once('(') {
        Some((n, rest)) => match rest.strip_suffix(')') {
            Some(a) => (n, Some(a)),
            None => return Err(format!("fetch '{word}' is missing its closing ')'")),
        },
        None => (word, None),
    };
    let Some(&(_, kind, method)) = FETCHES.iter().find(|(n, _, _)| *n == name) else {
        if UNSUPPORTED_FETCHES.contains(&name) {
            return Err(format!("fetch '{name}' is not supported by ringlb yet"));
        }
        let names = FETCHES
            .iter()
            .map(|f| f.0)
            .chain(UNSUPPORTED_FETCHES.iter().copied());
        let hint = suggest::hint(name, names);
        return Err(format!("unknown fetch '{name}'{hint}"));
    };
    let fetch = match kind {
        FetchKind::Hdr => match arg {
            Some(h) if !h.is_empty() && !h.contains(',') => Fetch::ReqHdr(h.to_ascii_lowercase()),
            Some(h) if h.contains(',') => {
                return Err(format!("'{word}': header occurrence arguments are not supported by ringlb yet; use '{name}(NAME)'"))
            }
            _ => return Err(format!("'{name}' needs a header name, e.g. '{name}(host)'")),
        },
        other => {
            if arg.is_some_and(|a| !a.is_empty()) {
                return Err(format!("fetch '{name}' takes no argument; write '{name}'"));
            }
            match other {
                FetchKind::Path => Fetch::Path,
                FetchKind::Url => Fetch::Url,
                FetchKind::Method => Fetch::Method,
                FetchKind::Src => Fetch::Src,
                _ => Fetch::DstPort,
            }
        }
    };
    Ok((fetch, method))
}

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
        "" => {
            return Err(
                "'-m' needs a match method: str, beg, end, sub, reg, dom, found, ip or int".into(),
            )
        }
        "bool" | "len" | "dir" | "bin" => {
            return Err(format!(
                "match method '-m {m}' is not supported by ringlb yet"
            ))
        }
        _ => {
            let hint = suggest::hint(
                m,
                [
                    "str", "beg", "end", "sub", "reg", "dom", "found", "ip", "int",
                ],
            );
            return Err(format!("unknown match method '-m {m}'{hint}"));
        }
    })
}

/// Refuses combinations that cannot work (an IP match on a path, a string match on `src`).
fn check_method(fetch: &Fetch, method: MatchMethod, word: &str) -> Result<(), String> {
    let ok = match fetch {
        Fetch::Src => matches!(method, MatchMethod::Ip | MatchMethod::Found),
        Fetch::DstPort => matches!(method, MatchMethod::Int | MatchMethod::Found),
        _ => !matches!(method, MatchMethod::Ip | MatchMethod::Int),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{word}' cannot be matched with '-m {}' in ringlb yet",
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
    }
}

fn parse_patterns(
    method: MatchMethod,
    ignore_case: bool,
    pats: &[String],
) -> Result<Patterns, String> {
    if method == MatchMethod::Found {
        if let Some(p) = pats.first() {
            return Err(format!(
                "'-m found' takes no pattern, but '{p}' follows; remove it or drop '-m found'"
            ));
        }
        return Ok(Patterns::None);
    }
    if pats.is_empty() {
        return Err("missing pattern: give at least one value to match (or use '-m found')".into());
    }
    Ok(match method {
        MatchMethod::Reg => Patterns::Regexes(
            pats.iter()
                .map(|p| compile_regex(p, ignore_case))
                .collect::<Result<_, _>>()?,
        ),
        MatchMethod::Ip => Patterns::Nets(
            pats.iter()
                .map(|p| addr::parse_cidr(p))
                .collect::<Result<_, _>>()?,
        ),
        MatchMethod::Int => Patterns::Ints(parse_ints(pats)?),
        _ => Patterns::Strings(
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

fn compile_regex(p: &str, ignore_case: bool) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(p)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|e| {
            let why = e.to_string();
            let why = why
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("invalid")
                .trim()
                .to_string();
            format!("invalid regex '{p}': {why}")
        })
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
pub fn parse_condition(words: &[String], acls: &mut Vec<Acl>) -> Result<CondDraft, String> {
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
        match w.as_str() {
            "||" | "or" => {
                if negate || any_of.last().is_some_and(|g| g.is_empty()) {
                    return Err(format!("'{w}' must sit between two terms"));
                }
                any_of.push(Vec::new());
            }
            "!" => negate = !negate,
            "{" => {
                let close = words[i..].iter().position(|x| x == "}").map(|p| p + i);
                let Some(close) = close else {
                    return Err("anonymous ACL '{' is missing its closing '}' (separate braces with spaces)".into());
                };
                let m = parse_matcher(&words[i + 1..close])
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
                let (neg, name) = match name.strip_prefix('!') {
                    Some(n) => (!negate, n),
                    None => (negate, name),
                };
                if name.starts_with('{') {
                    return Err(format!(
                        "'{name}': put a space after '{{' in anonymous ACLs"
                    ));
                }
                negate = false;
                push_term(&mut any_of, neg, AclRef::Named(name.to_string()));
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
        _ => return None,
    };
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let m = parse_matcher(&words).ok()?;
    Some(Acl {
        name: name.to_string(),
        matchers: vec![m],
    })
}

/// Predefined HAProxy ACLs ringlb cannot express yet.
pub const UNSUPPORTED_PREDEFINED: &[&str] = &[
    "TRUE",
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_CONTENT",
    "REQ_CONTENT",
    "RDP_COOKIE",
    "WAIT_END",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn matchers() {
        let m = parse_matcher(&w("hdr(Host) -i Example.COM b")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.fetch, Fetch::ReqHdr("host".into()));
        assert!(matches!(&m.patterns, Patterns::Strings(p) if p == &["example.com", "b"]));
        let m = parse_matcher(&w("path_beg /api")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.method, MatchMethod::Beg);
        let m = parse_matcher(&w("dst_port 80 1024:65535 :10")).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&m.patterns, Patterns::Ints(r) if r.len() == 3 && r[1].min == 1024 && r[2].min == i64::MIN)
        );
        let m = parse_matcher(&w("src 10.0.0.0/8 ::1")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Nets(n) if n.len() == 2));
        let m = parse_matcher(&w("hdr(x) -m found")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(m.patterns, Patterns::None));
        let m = parse_matcher(&w("path -i -m reg ^/A")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Regexes(r) if r[0].is_match("/abc")));
        let m = parse_matcher(&w("path -- -i")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&m.patterns, Patterns::Strings(p) if p == &["-i"]));
    }

    #[test]
    fn matcher_errors() {
        let err = |s: &str| parse_matcher(&w(s)).err().unwrap_or_default();
        assert!(err("path_reg (").contains("invalid regex '('"));
        assert!(err("hdr_bge(host) x").contains("did you mean 'hdr_beg'"));
        assert!(err("req.cook(a) x").contains("not supported"));
        assert!(err("hdr x").contains("needs a header name"));
        assert!(err("path").contains("missing pattern"));
        assert!(err("src example.com").contains("not an IP"));
        assert!(err("dst_port 10:1").contains("empty integer range"));
        assert!(err("path -m nope x").contains("unknown match method"));
    }

    #[test]
    fn conditions() {
        let mut acls = Vec::new();
        let c = parse_condition(&w("if a !b || ! c { path /x } or d"), &mut acls)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.unless);
        assert_eq!(c.any_of.len(), 3);
        assert_eq!(c.any_of[0].len(), 2);
        assert!(c.any_of[0][1].negate && c.any_of[1][0].negate && !c.any_of[1][1].negate);
        assert_eq!(acls.len(), 1);
        for bad in [
            "if",
            "if a ||",
            "if || a",
            "if !",
            "if { path /x",
            "when a",
            "if a and b",
        ] {
            assert!(parse_condition(&w(bad), &mut acls).is_err(), "{bad}");
        }
    }
}
