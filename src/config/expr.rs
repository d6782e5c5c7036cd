//! Sample expressions and log-format strings: `req.hdr(host),lower,map(hosts.map,x)` and
//! `%[src] %HM %{...}`, compiled into `model_rules` types (maps read, regexes built).

use std::sync::Arc;

use super::model_rules::*;
use super::{addr, suggest};

/// What a rule parser knows besides the words: the userlists of the whole configuration and
/// `tune.bufsize` (global sections are read first, so its final value is known).
#[derive(Clone, Debug)]
pub struct ParseEnv {
    pub userlists: Vec<Arc<Userlist>>,
    pub bufsize: usize,
}

impl Default for ParseEnv {
    fn default() -> Self {
        ParseEnv {
            userlists: Vec::new(),
            bufsize: super::model::DEFAULT_BUFSIZE,
        }
    }
}

impl ParseEnv {
    fn userlist(&self, name: &str) -> Result<Arc<Userlist>, String> {
        if let Some(u) = self.userlists.iter().find(|u| u.name == name) {
            return Ok(u.clone());
        }
        let hint = suggest::hint(name, self.userlists.iter().map(|u| u.name.as_str()));
        Err(format!("no such userlist '{name}'{hint}"))
    }
}

/// The type a sample has after its fetch and converters; picks an ACL's default match method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpType {
    Str,
    Int,
    Ip,
    Bool,
}

pub const FETCH_NAMES: &[&str] = &[
    "src",
    "src_port",
    "dst",
    "dst_port",
    "method",
    "path",
    "url",
    "query",
    "base",
    "url_param",
    "urlp",
    "req.hdr",
    "hdr",
    "req.fhdr",
    "fhdr",
    "req.hdr_cnt",
    "hdr_cnt",
    "req.cook",
    "cook",
    "req.ver",
    "req_ver",
    "res.hdr",
    "shdr",
    "res.fhdr",
    "res.hdr_cnt",
    "shdr_cnt",
    "status",
    "var",
    "http_auth",
    "http_auth_group",
    "env",
    "always_true",
    "always_false",
    "str",
    "int",
];

/// HAProxy fetches ringlb does not evaluate yet: refused by name rather than "unknown".
pub const UNSUPPORTED_FETCHES: &[&str] = &[
    "ssl_fc",
    "ssl_fc_sni",
    "ssl_c_used",
    "ssl_c_verify",
    "ssl_fc_alpn",
    "req.ssl_sni",
    "req_ssl_sni",
    "req.cook_cnt",
    "path_dir",
    "url_dir",
    "hdr_ip",
    "hdr_val",
    "req.body",
    "req.len",
    "req.proto_http",
    "nbsrv",
    "be_id",
    "fe_id",
    "fe_name",
    "be_name",
    "src_conn_cur",
    "sc_http_req_rate",
    "src_http_req_rate",
    "capture.req.hdr",
    "ssl_c_s_dn",
    "url_ip",
    "url_port",
    "unique-id",
    "rand",
    "date",
];

const CONV_NAMES: &[&str] = &[
    "lower", "upper", "regsub", "map", "map_str", "map_beg", "map_dom", "map_ip", "ipmask",
    "base64", "field", "word", "length", "json",
];

/// Splits `name(args)` into the name and its arguments (None without parentheses).
fn split_call(word: &str) -> Result<(&str, Option<Vec<String>>), String> {
    match word.split_once('(') {
        Some((n, rest)) => match rest.strip_suffix(')') {
            Some(a) => Ok((n, Some(split_args(a)))),
            None => Err(format!("'{word}' is missing its closing ')'")),
        },
        None => Ok((word, None)),
    }
}

/// Arguments split at commas; quotes group, `\,` `\)` `\"` `\'` `\\` are literal characters.
fn split_args(a: &str) -> Vec<String> {
    if a.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut chars = a.chars().peekable();
    while let Some(c) = chars.next() {
        let cur = out.last_mut();
        let Some(cur) = cur else { break };
        match (quote, c) {
            (_, '\\') => match chars.peek().copied() {
                Some(n @ (',' | ')' | '(' | '"' | '\'' | '\\')) => {
                    cur.push(n);
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, ',') => out.push(String::new()),
            _ => cur.push(c),
        }
    }
    out
}

/// Splits an expression at top-level commas: `a(x,y),b,c(z)` -> `a(x,y)`, `b`, `c(z)`.
fn split_chain(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let mut quote: Option<u8> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match (quote, b) {
            (_, b'\\') => i += 1,
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b',') if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start.min(text.len())..]);
    out
}

/// Parses `fetch[,conv...]`.
pub fn parse_expr(text: &str, env: &ParseEnv) -> Result<Expr, String> {
    let mut parts = split_chain(text).into_iter();
    let first = parts.next().unwrap_or("");
    let fetch = parse_fetch(first, env)?;
    let convs = parts.map(parse_conv).collect::<Result<Vec<_>, _>>()?;
    Ok(Expr { fetch, convs })
}

fn hdr_arg(name: &str, args: &[String], full: bool) -> Result<HdrArg, String> {
    let (h, occ) = match args {
        [] => return Err(format!("'{name}' needs a header name, e.g. '{name}(host)'")),
        [h] => (h, None),
        [h, o] => {
            let occ: i32 = o
                .trim()
                .parse()
                .map_err(|_| format!("'{name}': occurrence '{o}' is not an integer"))?;
            (h, Some(occ))
        }
        _ => return Err(format!("'{name}' takes a header name and an optional occurrence, e.g. '{name}(host)' or '{name}(x-forwarded-for,-1)'")),
    };
    if h.is_empty() {
        return Err(format!("'{name}' needs a header name, e.g. '{name}(host)'"));
    }
    Ok(HdrArg {
        name: h.to_ascii_lowercase(),
        occ,
        full,
    })
}

fn one_arg<'a>(name: &str, args: &'a [String], what: &str) -> Result<&'a str, String> {
    match args {
        [a] if !a.is_empty() => Ok(a),
        _ => Err(format!(
            "'{name}' takes one argument ({what}), e.g. '{name}(x)'"
        )),
    }
}

pub fn parse_fetch(word: &str, env: &ParseEnv) -> Result<Fetch, String> {
    let (name, args) = split_call(word)?;
    let args = args.unwrap_or_default();
    let none = |f: Fetch| {
        if args.is_empty() {
            Ok(f)
        } else {
            Err(format!("fetch '{name}' takes no argument; write '{name}'"))
        }
    };
    match name {
        "src" => none(Fetch::Src),
        "src_port" => none(Fetch::SrcPort),
        "dst" => none(Fetch::Dst),
        "dst_port" => none(Fetch::DstPort),
        "method" => none(Fetch::Method),
        "path" => none(Fetch::Path),
        "url" => none(Fetch::Url),
        "query" => none(Fetch::Query),
        "base" => none(Fetch::Base),
        "req.ver" | "req_ver" => none(Fetch::ReqVer),
        "status" => none(Fetch::Status),
        "always_true" => none(Fetch::Bool(true)),
        "always_false" => none(Fetch::Bool(false)),
        "url_param" | "urlp" => Ok(Fetch::UrlParam(
            one_arg(name, &args, "a parameter name")?.to_string(),
        )),
        "req.hdr" | "hdr" => Ok(Fetch::ReqHdr(hdr_arg(name, &args, false)?)),
        "req.fhdr" | "fhdr" => Ok(Fetch::ReqHdr(hdr_arg(name, &args, true)?)),
        "res.hdr" | "shdr" => Ok(Fetch::ResHdr(hdr_arg(name, &args, false)?)),
        "res.fhdr" => Ok(Fetch::ResHdr(hdr_arg(name, &args, true)?)),
        "req.hdr_cnt" | "hdr_cnt" => Ok(Fetch::ReqHdrCnt(
            one_arg(name, &args, "a header name")?.to_ascii_lowercase(),
        )),
        "res.hdr_cnt" | "shdr_cnt" => Ok(Fetch::ResHdrCnt(
            one_arg(name, &args, "a header name")?.to_ascii_lowercase(),
        )),
        "req.cook" | "cook" => Ok(Fetch::ReqCook(
            one_arg(name, &args, "a cookie name")?.to_string(),
        )),
        "var" => Ok(Fetch::Var(var_name(one_arg(name, &args, "txn.NAME")?)?)),
        "http_auth" => Ok(Fetch::HttpAuth(env.userlist(one_arg(
            name,
            &args,
            "a userlist name",
        )?)?)),
        "http_auth_group" => Ok(Fetch::HttpAuthGroup(env.userlist(one_arg(
            name,
            &args,
            "a userlist name",
        )?)?)),
        "env" => Ok(Fetch::Env(
            std::env::var(one_arg(name, &args, "a variable name")?).ok(),
        )),
        "str" => Ok(Fetch::Str(one_arg(name, &args, "a string")?.to_string())),
        "int" => {
            let a = one_arg(name, &args, "an integer")?;
            a.parse()
                .map(Fetch::Int)
                .map_err(|_| format!("'int({a})': not an integer"))
        }
        _ => Err(unknown_fetch(name)),
    }
}

pub fn unknown_fetch(name: &str) -> String {
    if UNSUPPORTED_FETCHES.contains(&name) || name.starts_with("ssl_") {
        return format!("fetch '{name}' is not supported by ringlb yet");
    }
    let hint = suggest::hint(
        name,
        FETCH_NAMES
            .iter()
            .chain(UNSUPPORTED_FETCHES.iter())
            .copied(),
    );
    format!("unknown fetch '{name}'{hint}")
}

/// `txn.NAME`: ringlb keeps variables per request; other scopes are refused.
pub fn var_name(v: &str) -> Result<Arc<str>, String> {
    match v.split_once('.') {
        Some(("txn" | "req" | "res", n)) if !n.is_empty() => Ok(Arc::from(v)),
        Some(("sess" | "proc", _)) => Err(format!(
            "variable '{v}': only the txn, req and res scopes are supported by ringlb yet"
        )),
        _ => Err(format!(
            "variable '{v}' needs a scope, e.g. 'txn.{}'",
            v.rsplit('.').next().unwrap_or(v)
        )),
    }
}

fn parse_conv(word: &str) -> Result<Conv, String> {
    let (name, args) = split_call(word)?;
    let args = args.unwrap_or_default();
    let none = |c: Conv| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(format!("converter '{name}' takes no argument"))
        }
    };
    match name {
        "lower" => none(Conv::Lower),
        "upper" => none(Conv::Upper),
        "base64" => none(Conv::Base64),
        "length" => none(Conv::Length),
        "json" => match args.first().map(String::as_str) {
            None | Some("" | "utf8" | "utf8s" | "utf8p" | "utf8ps" | "ascii") => Ok(Conv::Json),
            Some(o) => Err(format!("json: unknown input encoding '{o}'")),
        },
        "regsub" => regsub(&args),
        "map" | "map_str" | "map_beg" | "map_dom" | "map_ip" => map_conv(name, &args),
        "ipmask" => ipmask(&args),
        "field" | "word" => field(name, &args),
        _ => {
            let hint = suggest::hint(name, CONV_NAMES.iter().copied());
            Err(format!("unknown converter '{name}'{hint}"))
        }
    }
}

fn regsub(args: &[String]) -> Result<Conv, String> {
    let (re, with, flags) =
        match args {
            [r, w] => (r, w, ""),
            [r, w, f] => (r, w, f.as_str()),
            _ => return Err(
                "regsub takes a regex, a replacement and optional flags: regsub(REGEX,SUBST[,ig])"
                    .into(),
            ),
        };
    if let Some(c) = flags.chars().find(|c| !"ig".contains(*c)) {
        return Err(format!("regsub: unknown flag '{c}' (known: i, g)"));
    }
    Ok(Conv::Regsub {
        re: super::regexes::compile(re, flags.contains('i'))?,
        with: with.clone(),
        global: flags.contains('g'),
    })
}

fn map_conv(name: &str, args: &[String]) -> Result<Conv, String> {
    let (file, default) = match args {
        [f] => (f, None),
        [f, d] => (f, Some(d.clone())),
        _ => {
            return Err(format!(
                "{name} takes a map file and an optional default: {name}(FILE[,DEFAULT])"
            ))
        }
    };
    let how = match name {
        "map_beg" => MapMatch::Beg,
        "map_dom" => MapMatch::Dom,
        "map_ip" => MapMatch::Ip,
        _ => MapMatch::Str,
    };
    Ok(Conv::Map {
        map: Arc::new(load_map(file, how)?),
        how,
        default,
    })
}

/// Reads a map file: `KEY VALUE` per line, `#` comments and blank lines skipped.
pub fn load_map(path: &str, how: MapMatch) -> Result<MapFile, String> {
    let text = read_list(path, "map file")?;
    let mut map = MapFile {
        path: path.to_string(),
        entries: Vec::new(),
        exact: Default::default(),
        nets: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => (line, ""),
        };
        let idx = map.entries.len();
        if how == MapMatch::Ip {
            let net = addr::parse_cidr(k)
                .map_err(|e| format!("map file '{path}' line {}: {e}", n + 1))?;
            map.nets.push((net, idx));
        }
        map.exact.entry(k.to_string()).or_insert(idx);
        map.entries.push((k.to_string(), v.to_string()));
    }
    Ok(map)
}

/// Map and pattern files: regular text files of at most `files::LIST_FILE_LIMIT` bytes.
fn read_list(path: &str, what: &str) -> Result<String, String> {
    super::files::read_text(std::path::Path::new(path), super::files::LIST_FILE_LIMIT)
        .map_err(|why| format!("{what} '{path}' {why}"))
}

/// Reads an ACL pattern file (`-f FILE`): one pattern per line, `#` comments skipped.
pub fn load_patterns(path: &str) -> Result<Vec<String>, String> {
    let text = read_list(path, "pattern file")?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect())
}

fn ipmask(args: &[String]) -> Result<Conv, String> {
    let bits = |s: &str, max: u8| -> Result<u8, String> {
        if let Ok(n) = s.parse::<u8>() {
            if n <= max {
                return Ok(n);
            }
        }
        // A dotted mask: count its leading ones.
        match s.parse::<std::net::Ipv4Addr>() {
            Ok(ip) if max == 32 => Ok(u32::from(ip).leading_ones() as u8),
            _ => Err(format!(
                "ipmask: '{s}' is not a mask (0..={max} or a dotted mask)"
            )),
        }
    };
    match args {
        [v4] => Ok(Conv::Ipmask {
            v4: bits(v4, 32)?,
            v6: 128,
        }),
        [v4, v6] => Ok(Conv::Ipmask {
            v4: bits(v4, 32)?,
            v6: bits(v6, 128)?,
        }),
        _ => Err("ipmask takes an IPv4 mask and an optional IPv6 mask: ipmask(24[,64])".into()),
    }
}

fn field(name: &str, args: &[String]) -> Result<Conv, String> {
    let (idx, delims, count) = match args {
        [i, d] => (i, d, None),
        [i, d, c] => (i, d, Some(c)),
        _ => {
            return Err(format!(
                "{name} takes an index, delimiters and an optional count: {name}(1,/)"
            ))
        }
    };
    let index: i32 = idx
        .parse()
        .map_err(|_| format!("{name}: index '{idx}' is not an integer"))?;
    if index == 0 {
        return Err(format!(
            "{name}: index 0 is invalid; fields count from 1 (or -1 from the end)"
        ));
    }
    if delims.is_empty() {
        return Err(format!("{name}: missing delimiters"));
    }
    let count = match count {
        Some(c) => c
            .parse()
            .map_err(|_| format!("{name}: count '{c}' is not a number"))?,
        None => 1,
    };
    Ok(Conv::Field {
        index,
        delims: delims.as_bytes().to_vec(),
        count,
        words: name == "word",
    })
}

/// The output type of an expression.
pub fn expr_type(e: &Expr) -> SmpType {
    let mut t = match &e.fetch {
        Fetch::Src | Fetch::Dst => SmpType::Ip,
        Fetch::SrcPort
        | Fetch::DstPort
        | Fetch::ReqHdrCnt(_)
        | Fetch::ResHdrCnt(_)
        | Fetch::Status
        | Fetch::Int(_) => SmpType::Int,
        Fetch::HttpAuth(_) | Fetch::Bool(_) => SmpType::Bool,
        _ => SmpType::Str,
    };
    for c in &e.convs {
        t = match c {
            Conv::Length => SmpType::Int,
            Conv::Ipmask { .. } => SmpType::Ip,
            _ => SmpType::Str,
        };
    }
    t
}

/// The first fetch or converter of `e` not available where `phase` runs, as HAProxy's message.
pub fn check_phase(e: &Expr, phase: Phase) -> Result<(), String> {
    let needs = e.fetch.needs();
    let what = match (phase, needs) {
        (Phase::Request, Needs::Response) => "'HTTP response headers'",
        (Phase::Response | Phase::AfterResponse, Needs::Request) => "'HTTP request headers'",
        _ => return Ok(()),
    };
    Err(format!(
        "sample fetch '{}' may not be used in '{}' rules: it needs {what}, which is not available there",
        fetch_label(&e.fetch),
        phase.keyword()
    ))
}

pub fn fetch_label(f: &Fetch) -> String {
    match f {
        Fetch::ReqHdr(h) => format!("req.{}({})", if h.full { "fhdr" } else { "hdr" }, h.name),
        Fetch::ResHdr(h) => format!("res.{}({})", if h.full { "fhdr" } else { "hdr" }, h.name),
        Fetch::Method => "method".into(),
        Fetch::Path => "path".into(),
        Fetch::Url => "url".into(),
        Fetch::Query => "query".into(),
        Fetch::Base => "base".into(),
        Fetch::Status => "status".into(),
        Fetch::ReqCook(c) => format!("req.cook({c})"),
        Fetch::UrlParam(p) => format!("url_param({p})"),
        Fetch::ReqHdrCnt(h) => format!("req.hdr_cnt({h})"),
        Fetch::ResHdrCnt(h) => format!("res.hdr_cnt({h})"),
        Fetch::ReqVer => "req.ver".into(),
        Fetch::HttpAuth(u) => format!("http_auth({})", u.name),
        Fetch::HttpAuthGroup(u) => format!("http_auth_group({})", u.name),
        Fetch::Src => "src".into(),
        Fetch::SrcPort => "src_port".into(),
        Fetch::Dst => "dst".into(),
        Fetch::DstPort => "dst_port".into(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// Log-format variables by their `%` name.
const LF_VARS: &[(&str, LfVar)] = &[
    ("ci", LfVar::ClientIp),
    ("cp", LfVar::ClientPort),
    ("fi", LfVar::FrontendIp),
    ("fp", LfVar::FrontendPort),
    ("bi", LfVar::BackendSrcIp),
    ("bp", LfVar::BackendSrcPort),
    ("si", LfVar::ServerIp),
    ("sp", LfVar::ServerPort),
    ("ST", LfVar::Status),
    ("HM", LfVar::Method),
    ("HU", LfVar::Uri),
    ("HP", LfVar::Path),
    ("HV", LfVar::Version),
    ("f", LfVar::FrontendName),
    ("b", LfVar::BackendName),
    ("s", LfVar::ServerName),
    ("r", LfVar::RequestLine),
];

/// Parses a log-format string; `phase` refuses fetches unavailable there.
pub fn parse_logformat(text: &str, env: &ParseEnv, phase: Phase) -> Result<LogFormat, String> {
    let mut nodes = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(p) = rest.find('%') {
        lit.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        if let Some(r) = after.strip_prefix('%') {
            lit.push('%');
            rest = r;
            continue;
        }
        // `%{+Q}` style flags are accepted and ignored.
        let after = match after.strip_prefix('{') {
            Some(a) => match a.find('}') {
                Some(e) => &a[e + 1..],
                None => return Err(format!("log-format '{text}': '%{{' without '}}'")),
            },
            None => after,
        };
        if !lit.is_empty() {
            nodes.push(LfNode::Lit(std::mem::take(&mut lit)));
        }
        if let Some(a) = after.strip_prefix('[') {
            let end = expr_end(a)
                .ok_or_else(|| format!("log-format '{text}': '%[' without its closing ']'"))?;
            let e = parse_expr(&a[..end], env)?;
            check_phase(&e, phase)?;
            nodes.push(LfNode::Expr(e));
            rest = &a[end + 1..];
            continue;
        }
        let Some(&(name, var)) = LF_VARS.iter().find(|(n, _)| after.starts_with(n)) else {
            let word: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            return Err(format!("log-format '{text}': unknown variable '%{word}' (known: %ci %cp %fi %fp %bi %bp %si %sp %f %b %s %ST %r %HM %HU %HP %HV %[expr])"));
        };
        nodes.push(LfNode::Var(var));
        rest = &after[name.len()..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        nodes.push(LfNode::Lit(lit));
    }
    Ok(LogFormat { nodes })
}

/// The `]` closing `%[` (brackets inside quotes or nested parentheses do not count).
fn expr_end(a: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let b = a.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match (quote, b[i]) {
            (_, b'\\') => i += 1,
            (None, b'"' | b'\'') => quote = Some(b[i]),
            (Some(q), c) if c == q => quote = None,
            (None, b'(') => depth += 1,
            (None, b')') => depth -= 1,
            (None, b']') if depth <= 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let env = ParseEnv::default();
        let e = parse_expr("req.hdr(Host,1),lower,regsub(\\.,_,g)", &env)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(&e.fetch, Fetch::ReqHdr(h) if h.name == "host" && h.occ == Some(1)));
        assert_eq!(e.convs.len(), 2);
        assert!(parse_expr("req.hdr(a),nope", &env)
            .unwrap_err()
            .contains("unknown converter 'nope'"));
        assert!(parse_expr("pth", &env)
            .unwrap_err()
            .contains("did you mean 'path'"));
        assert!(parse_expr("url_param", &env)
            .unwrap_err()
            .contains("takes one argument"));
        assert!(parse_expr("path,regsub((,x)", &env)
            .unwrap_err()
            .contains("invalid regex"));
        assert!(parse_expr("http_auth(nope)", &env)
            .unwrap_err()
            .contains("no such userlist"));
        assert!(parse_expr("src,map(/nonexistent.map)", &env)
            .unwrap_err()
            .contains("map file '/nonexistent.map' does not exist"));
        assert_eq!(
            expr_type(&parse_expr("path,length", &env).unwrap_or_else(|e| panic!("{e}"))),
            SmpType::Int
        );
    }

    #[test]
    fn logformats() {
        let env = ParseEnv::default();
        let lf = parse_logformat(
            "a %ci:%cp %[req.hdr(host),lower] 100%% %HM",
            &env,
            Phase::Request,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lf.nodes.len(), 8);
        assert_eq!(
            parse_logformat("plain", &env, Phase::Request)
                .map(|l| l.literal().map(String::from))
                .ok()
                .flatten()
                .as_deref(),
            Some("plain")
        );
        assert!(parse_logformat("%[res.hdr(x)]", &env, Phase::Request)
            .unwrap_err()
            .contains("not available"));
        assert!(parse_logformat("%[path]", &env, Phase::Response)
            .unwrap_err()
            .contains("not available"));
        assert!(parse_logformat("%zz", &env, Phase::Request)
            .unwrap_err()
            .contains("unknown variable"));
        assert!(parse_logformat("%[src", &env, Phase::Request)
            .unwrap_err()
            .contains("closing"));
    }
}
