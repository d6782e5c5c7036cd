//! Sample expressions and log-format strings: `req.hdr(host),lower,map(hosts.map,x)` and
//! `%[src] %HM %{...}`, compiled into `model_rules` types (maps read, regexes built).
//!
//! This file splits an expression into its words; each fetch and converter word is parsed by
//! its row in `catalog::fetches` / `catalog::converters`. Also here: the type of an expression,
//! the phase check of its fetch, map and pattern files, and log-format strings.

use std::sync::Arc;

use super::catalog::{converters, fetches};
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
    pub(crate) fn userlist(&self, name: &str) -> Result<Arc<Userlist>, String> {
        if let Some(u) = self.userlists.iter().find(|u| u.name == name) {
            return Ok(u.clone());
        }
        let hint = suggest::hint(name, self.userlists.iter().map(|u| u.name.as_str()));
        Err(format!("no such userlist '{name}'{hint}"))
    }
}

pub use super::model_rules::SmpType;

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

/// Parses `fetch[,conv...]`; the fetch's and converters' rows give what it reads and its type.
pub fn parse_expr(text: &str, env: &ParseEnv) -> Result<Expr, String> {
    let mut parts = split_chain(text).into_iter();
    let first = parts.next().unwrap_or("");
    let (name, args) = split_call(first)?;
    let (fetch, spec) = fetches::parse(name, &args.unwrap_or_default(), env)?;
    let (needs, mut smp) = (spec.needs, spec.smp);
    let mut convs = Vec::new();
    for word in parts {
        let (name, args) = split_call(word)?;
        let (conv, spec) = converters::parse(name, &args.unwrap_or_default())?;
        smp = spec.out;
        convs.push(conv);
    }
    Ok(Expr {
        fetch,
        convs,
        needs,
        smp,
    })
}

/// `txn.NAME`: ringlb keeps variables per request; other scopes are refused.
pub fn var_name(v: &str) -> Result<Arc<str>, String> {
    let bad_char = |n: &str| {
        n.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    };
    match v.split_once('.') {
        Some(("proc" | "sess" | "txn" | "req" | "res", n)) if !n.is_empty() => match bad_char(n) {
            Some(c) => Err(format!(
                "variable '{v}': '{c}' is not allowed in a name (letters, digits, '_' and '.')"
            )),
            None => Ok(Arc::from(v)),
        },
        _ => Err(format!(
            "variable '{v}' needs a scope (proc, sess, txn, req or res), e.g. 'txn.{}'",
            v.rsplit('.').next().unwrap_or(v)
        )),
    }
}

/// `NAME[,COND...]`, set-var's argument: the name and at most four conditions.
pub fn var_with_conds(arg: &str) -> Result<(Arc<str>, Vec<VarCond>), String> {
    let mut parts = arg.split(',').map(str::trim);
    let name = var_name(parts.next().unwrap_or(""))?;
    let mut conds = Vec::new();
    for word in parts {
        let Some((_, c)) = VarCond::NAMES.iter().find(|(n, _)| *n == word) else {
            let hint = suggest::hint(word, VarCond::NAMES.iter().map(|(n, _)| *n));
            return Err(format!("unknown set-var condition '{word}'{hint}"));
        };
        conds.push(*c);
    }
    if conds.len() > 4 {
        return Err("set-var takes at most four conditions".into());
    }
    Ok((name, conds))
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

/// The output type of an expression.
pub fn expr_type(e: &Expr) -> SmpType {
    e.smp
}

/// The first fetch or converter of `e` not available where `phase` runs, as HAProxy's message.
pub fn check_phase(e: &Expr, phase: Phase) -> Result<(), String> {
    let needs = e.needs;
    let what = match (phase, needs) {
        (_, Needs::Content | Needs::ResContent) => {
            "the connection's first bytes, which only 'tcp-request content' and \
             'tcp-response content' rules inspect"
        }
        (Phase::Request, Needs::Response) => "'HTTP response headers'",
        (Phase::Response | Phase::AfterResponse, Needs::Request) => "'HTTP request headers'",
        (Phase::Request, Needs::Conn | Needs::Nothing | Needs::Request)
        | (
            Phase::Response | Phase::AfterResponse,
            Needs::Conn | Needs::Nothing | Needs::Response,
        ) => return Ok(()),
    };
    Err(format!(
        "sample fetch '{}' may not be used in '{}' rules: it needs {what}, which is not available there",
        fetch_label(&e.fetch),
        phase.keyword()
    ))
}

/// A fetch as messages name it.
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
        Fetch::UniqueId => "unique-id".into(),
        Fetch::ReqBody => "req.body".into(),
        Fetch::ReqBodyLen => "req.body_len".into(),
        Fetch::ReqBodySize => "req.body_size".into(),
        Fetch::HttpFirstReq => "http_first_req".into(),
        Fetch::Dst => "dst".into(),
        Fetch::DstPort => "dst_port".into(),
        Fetch::Ssl(f) => format!("{f:?}").to_ascii_lowercase(),
        Fetch::Payload(dir, p) => super::catalog::fetches::payload_label(*dir, p),
        Fetch::WaitEnd => "wait_end".into(),
        // Fetches that read nothing of the request or response never reach a phase or mode
        // message; their debug form is enough.
        Fetch::Var(_) | Fetch::Env(_) | Fetch::Bool(_) | Fetch::Str(_) | Fetch::Int(_) => {
            format!("{f:?}").to_ascii_lowercase()
        }
    }
}

/// Log-format variables by their `%` name (longest names first where one starts another).
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
    ("ID", LfVar::UniqueId),
    ("Ts", LfVar::Timestamp),
    ("rt", LfVar::ReqCounter),
    ("pid", LfVar::Pid),
    ("f", LfVar::FrontendName),
    ("b", LfVar::BackendName),
    ("s", LfVar::ServerName),
    ("r", LfVar::RequestLine),
];

/// Parses a log-format string; `phase` refuses fetches unavailable there.
pub fn parse_logformat(text: &str, env: &ParseEnv, phase: Phase) -> Result<LogFormat, String> {
    parse_lf(text, env, phase, false)
}

/// `unique-id-format`: as `parse_logformat`, with spaces as HAProxy's log lines treat them
/// (separators: a run of them is one, none before anything else), unlike rule strings.
pub fn parse_logformat_merging_spaces(
    text: &str,
    env: &ParseEnv,
    phase: Phase,
) -> Result<LogFormat, String> {
    parse_lf(text, env, phase, true)
}

fn parse_lf(text: &str, env: &ParseEnv, phase: Phase, merge: bool) -> Result<LogFormat, String> {
    let mut nodes = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    // `%{+X}o`: flags for every variable after it.
    let mut all_hex = false;
    while let Some(p) = rest.find('%') {
        push_text(&mut lit, &nodes, &rest[..p], merge);
        let after = &rest[p + 1..];
        if let Some(r) = after.strip_prefix('%') {
            lit.push('%');
            rest = r;
            continue;
        }
        // Of the `%{+Q,+X,+E}` flags only X (hexadecimal) changes what rules render.
        let mut hex = all_hex;
        let after = match after.strip_prefix('{') {
            Some(a) => match a.find('}') {
                Some(e) => {
                    hex = hex_flag(&a[..e], hex);
                    &a[e + 1..]
                }
                None => return Err(format!("log-format '{text}': '%{{' without '}}'")),
            },
            None => after,
        };
        if let Some(r) = after
            .strip_prefix('o')
            .filter(|r| !r.starts_with(is_var_char))
        {
            all_hex = hex;
            rest = r;
            continue;
        }
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
        let word: String = after.chars().take_while(|c| is_var_char(*c)).collect();
        let Some(&(_, var)) = LF_VARS.iter().find(|(n, _)| *n == word) else {
            let names: Vec<String> = LF_VARS.iter().map(|(n, _)| format!("%{n}")).collect();
            let hint = super::suggest::hint(&format!("%{word}"), names.iter().map(String::as_str));
            return Err(format!("log-format '{text}': unknown variable '%{word}'{hint} (known: %ci %cp %fi %fp %bi %bp %si %sp %f %b %s %ST %r %HM %HU %HP %HV %ID %Ts %rt %pid %[expr])"));
        };
        nodes.push(LfNode::Var(var, hex));
        rest = &after[word.len()..];
    }
    push_text(&mut lit, &nodes, rest, merge);
    if !lit.is_empty() {
        nodes.push(LfNode::Lit(lit));
    }
    Ok(LogFormat { nodes })
}

/// Literal text; with `merge`, HAProxy's separators: a run of spaces writes one, and none is
/// written before anything else (`%{+X}o\ %ci` starts with the address).
fn push_text(lit: &mut String, nodes: &[LfNode], text: &str, merge: bool) {
    for c in text.chars() {
        let at_start = nodes.is_empty() && lit.is_empty();
        if merge && c == ' ' && (at_start || lit.ends_with(' ')) {
            continue;
        }
        lit.push(c);
    }
}

/// A variable's name runs over letters and digits (`%ci:%cp`, `%Ts_%rt`).
fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Whether `+X` or `-X` in a `%{...}` flag list turns hexadecimal on or off (the last wins).
fn hex_flag(list: &str, mut hex: bool) -> bool {
    for f in list.split(',') {
        match f {
            "+X" => hex = true,
            "-X" => hex = false,
            _ => {}
        }
    }
    hex
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
