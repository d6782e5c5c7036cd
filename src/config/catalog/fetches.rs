//! The sample fetch table: every fetch ringlb evaluates, with what it reads (which decides the
//! rules it may appear in: a request header is gone by `http-response`), the type of its sample
//! (which picks an ACL's default match method) and its parse function; then the HAProxy fetches
//! ringlb refuses by name. `parse` looks a name up; `unknown` words the miss.
//!
//! `parse` returns the row's spec with the fetch: `expr::parse_expr` records what it reads and
//! its type in the `Expr`, so the phase checks, the `mode tcp` checks and ACLs' default match
//! methods all read this table.

use super::{refusal, Handler, YET};
use crate::config::expr::{var_name, ParseEnv, SmpType};
use crate::config::model_rules::{Dir, DnEntry, Fetch, HdrArg, Needs, PayloadFetch, SslFetch};
use crate::config::suggest;
use Needs::{Conn, Content, Nothing, Request, ResContent, Response};
use SmpType::{Bool, Int, Ip, Str};

/// A fetch as written: `name(args)`, the arguments split at commas.
pub struct Call<'a> {
    pub name: &'a str,
    pub args: &'a [String],
}

pub type ParseFn = fn(&Call, &ParseEnv) -> Result<Fetch, String>;

/// A supported fetch: what it reads, what it yields, how it is written, how it is parsed.
#[derive(Clone, Copy)]
pub struct Spec {
    pub needs: Needs,
    pub smp: SmpType,
    /// A use of it that loads, for README.md and the tests.
    pub example: &'static str,
    /// ACLs may write it with a match-method suffix: `path_beg /api` = `path -m beg /api`.
    pub suffixes: bool,
    pub parse: ParseFn,
}

pub struct Row {
    pub name: &'static str,
    pub handler: Handler<Spec>,
}

const fn ok(
    name: &'static str,
    needs: Needs,
    smp: SmpType,
    example: &'static str,
    parse: ParseFn,
) -> Row {
    row(name, needs, smp, example, false, parse)
}

/// A fetch ACLs may also write with a match-method suffix (`hdr_beg(host)`).
const fn sfx(
    name: &'static str,
    needs: Needs,
    smp: SmpType,
    example: &'static str,
    parse: ParseFn,
) -> Row {
    row(name, needs, smp, example, true, parse)
}

const fn row(
    name: &'static str,
    needs: Needs,
    smp: SmpType,
    example: &'static str,
    suffixes: bool,
    parse: ParseFn,
) -> Row {
    Row {
        name,
        handler: Handler::Parse(Spec {
            needs,
            smp,
            example,
            suffixes,
            parse,
        }),
    }
}

const fn no(name: &'static str) -> Row {
    Row {
        name,
        handler: Handler::Refused(YET),
    }
}

/// Supported rows first, in the order "did you mean" prefers on a tie.
#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    ok("src", Conn, Ip, "src", |c, _| none(c, Fetch::Src)),
    ok("unique-id", Conn, Str, "unique-id", |c, _| none(c, Fetch::UniqueId)),
    ok("req.body", Request, Str, "req.body", |c, _| none(c, Fetch::ReqBody)),
    ok("req.body_len", Request, Int, "req.body_len", |c, _| none(c, Fetch::ReqBodyLen)),
    ok("req.body_size", Request, Int, "req.body_size", |c, _| none(c, Fetch::ReqBodySize)),
    ok("http_first_req", Conn, Bool, "http_first_req", |c, _| none(c, Fetch::HttpFirstReq)),
    ok("src_port", Conn, Int, "src_port", |c, _| none(c, Fetch::SrcPort)),
    ok("dst", Conn, Ip, "dst", |c, _| none(c, Fetch::Dst)),
    ok("dst_port", Conn, Int, "dst_port", |c, _| none(c, Fetch::DstPort)),
    ok("method", Request, Str, "method", |c, _| none(c, Fetch::Method)),
    sfx("path", Request, Str, "path", |c, _| none(c, Fetch::Path)),
    sfx("url", Request, Str, "url", |c, _| none(c, Fetch::Url)),
    ok("query", Request, Str, "query", |c, _| none(c, Fetch::Query)),
    sfx("base", Request, Str, "base", |c, _| none(c, Fetch::Base)),
    sfx("url_param", Request, Str, "url_param(id)", url_param),
    sfx("urlp", Request, Str, "urlp(id)", url_param),
    sfx("req.hdr", Request, Str, "req.hdr(host)", |c, _| req_hdr(c, false)),
    sfx("hdr", Request, Str, "hdr(host)", |c, _| req_hdr(c, false)),
    ok("req.fhdr", Request, Str, "req.fhdr(host)", |c, _| req_hdr(c, true)),
    ok("fhdr", Request, Str, "fhdr(host)", |c, _| req_hdr(c, true)),
    ok("req.hdr_cnt", Request, Int, "req.hdr_cnt(host)", req_hdr_cnt),
    ok("hdr_cnt", Request, Int, "hdr_cnt(host)", req_hdr_cnt),
    sfx("req.cook", Request, Str, "req.cook(sid)", cookie),
    sfx("cook", Request, Str, "cook(sid)", cookie),
    ok("req.ver", Request, Str, "req.ver", |c, _| none(c, Fetch::ReqVer)),
    ok("req_ver", Request, Str, "req_ver", |c, _| none(c, Fetch::ReqVer)),
    sfx("res.hdr", Response, Str, "res.hdr(server)", |c, _| res_hdr(c, false)),
    sfx("shdr", Response, Str, "shdr(server)", |c, _| res_hdr(c, false)),
    ok("res.fhdr", Response, Str, "res.fhdr(server)", |c, _| res_hdr(c, true)),
    ok("res.hdr_cnt", Response, Int, "res.hdr_cnt(server)", res_hdr_cnt),
    ok("shdr_cnt", Response, Int, "shdr_cnt(server)", res_hdr_cnt),
    ok("status", Response, Int, "status", |c, _| none(c, Fetch::Status)),
    ok("var", Nothing, Str, "var(txn.x)", var),
    ok("http_auth", Request, Bool, "http_auth(users)", http_auth),
    ok("http_auth_group", Request, Str, "http_auth_group(users)", http_auth_group),
    ok("env", Nothing, Str, "env(HOME)", env),
    ok("always_true", Nothing, Bool, "always_true", |c, _| none(c, Fetch::Bool(true))),
    ok("always_false", Nothing, Bool, "always_false", |c, _| none(c, Fetch::Bool(false))),
    ok("str", Nothing, Str, "str(x)", |c, _| Ok(Fetch::Str(one_arg(c, "a string")?.to_string()))),
    ok("int", Nothing, Int, "int(1)", int),
    ok("ssl_fc", Conn, Bool, "ssl_fc", |c, _| none(c, ssl(SslFetch::Fc))),
    sfx("ssl_fc_sni", Conn, Str, "ssl_fc_sni", |c, _| none(c, ssl(SslFetch::FcSni))),
    ok("ssl_fc_protocol", Conn, Str, "ssl_fc_protocol", |c, _| none(c, ssl(SslFetch::FcProtocol))),
    ok("ssl_fc_cipher", Conn, Str, "ssl_fc_cipher", |c, _| none(c, ssl(SslFetch::FcCipher))),
    ok("ssl_fc_alpn", Conn, Str, "ssl_fc_alpn", |c, _| none(c, ssl(SslFetch::FcAlpn))),
    ok("ssl_fc_is_resumed", Conn, Bool, "ssl_fc_is_resumed", |c, _| none(c, ssl(SslFetch::FcSessionReused))),
    // Not HAProxy's name (that is ssl_fc_is_resumed): a ringlb alias for the same value.
    ok("ssl_fc_session_reused", Conn, Bool, "ssl_fc_session_reused", |c, _| none(c, ssl(SslFetch::FcSessionReused))),
    ok("ssl_c_used", Conn, Bool, "ssl_c_used", |c, _| none(c, ssl(SslFetch::CUsed))),
    ok("ssl_fc_has_crt", Conn, Bool, "ssl_fc_has_crt", |c, _| none(c, ssl(SslFetch::CUsed))),
    ok("ssl_c_verify", Conn, Int, "ssl_c_verify", |c, _| none(c, ssl(SslFetch::CVerify))),
    ok("ssl_c_s_dn", Conn, Str, "ssl_c_s_dn(CN)", |c, _| dn(c).map(|e| ssl(SslFetch::CSDn(e)))),
    ok("ssl_c_i_dn", Conn, Str, "ssl_c_i_dn(CN)", |c, _| dn(c).map(|e| ssl(SslFetch::CIDn(e)))),
    ok("ssl_c_serial", Conn, Str, "ssl_c_serial,hex", |c, _| none(c, ssl(SslFetch::CSerial))),
    ok("ssl_c_sha1", Conn, Str, "ssl_c_sha1,hex", |c, _| none(c, ssl(SslFetch::CSha1))),
    ok("ssl_c_notbefore", Conn, Str, "ssl_c_notbefore", |c, _| none(c, ssl(SslFetch::CNotBefore))),
    ok("ssl_c_notafter", Conn, Str, "ssl_c_notafter", |c, _| none(c, ssl(SslFetch::CNotAfter))),
    ok("req.len", Content, Int, "req.len", |c, _| none(c, req(PayloadFetch::Len))),
    ok("req_len", Content, Int, "req_len", |c, _| none(c, req(PayloadFetch::Len))),
    ok("req.payload", Content, Str, "req.payload(0,3)", |c, _| payload(c, Dir::Req)),
    ok("req.payload_lv", Content, Str, "req.payload_lv(0,2)", |c, _| payload_lv(c, Dir::Req)),
    ok("req.ssl_sni", Content, Str, "req.ssl_sni", |c, _| none(c, req(PayloadFetch::SslSni))),
    ok("req_ssl_sni", Content, Str, "req_ssl_sni", |c, _| none(c, req(PayloadFetch::SslSni))),
    ok("req.ssl_ver", Content, Int, "req.ssl_ver", |c, _| none(c, req(PayloadFetch::SslVer))),
    ok("req_ssl_ver", Content, Int, "req_ssl_ver", |c, _| none(c, req(PayloadFetch::SslVer))),
    ok("req.ssl_hello_type", Content, Int, "req.ssl_hello_type", |c, _| none(c, req(PayloadFetch::SslHelloType))),
    ok("req_ssl_hello_type", Content, Int, "req_ssl_hello_type", |c, _| none(c, req(PayloadFetch::SslHelloType))),
    ok("req.ssl_ec_ext", Content, Bool, "req.ssl_ec_ext", |c, _| none(c, req(PayloadFetch::SslEcExt))),
    ok("req.proto_http", Content, Bool, "req.proto_http", |c, _| none(c, req(PayloadFetch::ProtoHttp))),
    ok("req_proto_http", Content, Bool, "req_proto_http", |c, _| none(c, req(PayloadFetch::ProtoHttp))),
    ok("res.len", ResContent, Int, "res.len", |c, _| none(c, Fetch::Payload(Dir::Res, PayloadFetch::Len))),
    ok("res.payload", ResContent, Str, "res.payload(0,3)", |c, _| payload(c, Dir::Res)),
    ok("res.payload_lv", ResContent, Str, "res.payload_lv(0,2)", |c, _| payload_lv(c, Dir::Res)),
    ok("wait_end", Nothing, Bool, "wait_end", |c, _| none(c, Fetch::WaitEnd)),
    no("req.cook_cnt"),
    no("path_dir"),
    no("url_dir"),
    no("hdr_ip"),
    no("hdr_val"),
    no("req.rdp_cookie"),
    no("rdp_cookie"),
    no("req.rdp_cookie_cnt"),
    no("req.ssl_alpn"),
    no("req.ssl_st_ext"),
    no("res.ssl_hello_type"),
    no("rep_ssl_hello_type"),
    no("payload"),
    no("payload_lv"),
    no("nbsrv"),
    no("be_id"),
    no("fe_id"),
    no("fe_name"),
    no("be_name"),
    no("src_conn_cur"),
    no("sc_http_req_rate"),
    no("src_http_req_rate"),
    no("capture.req.hdr"),
    no("url_ip"),
    no("url_port"),
    no("rand"),
    no("date"),
];

/// Families refused as a whole, beyond the rows above: HAProxy's other TLS fetches (the
/// backend side `ssl_bc_*`, `ssl_f_*` of the frontend certificate...), whatever their name.
pub const REFUSED_PREFIXES: &[(&str, &str)] = &[("ssl_", YET)];

/// The row of `name`, if any.
pub fn find(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.name == name)
}

/// Whether ACLs may write `name` with a match-method suffix (`path_beg`).
pub fn takes_suffixes(name: &str) -> bool {
    matches!(find(name).map(|r| r.handler), Some(Handler::Parse(s)) if s.suffixes)
}

/// Every supported fetch name, in table order.
pub fn supported_names<'a>() -> impl Iterator<Item = &'a str> {
    TABLE
        .iter()
        .filter(|r| matches!(r.handler, Handler::Parse(_)))
        .map(|r| r.name)
}

/// Parses the fetch `name(args)`; returns it with its row's spec.
pub fn parse(name: &str, args: &[String], env: &ParseEnv) -> Result<(Fetch, Spec), String> {
    match find(name).map(|r| r.handler) {
        Some(Handler::Parse(spec)) => Ok(((spec.parse)(&Call { name, args }, env)?, spec)),
        Some(Handler::Refused(why)) => Err(refusal(&format!("fetch '{name}'"), why)),
        None => Err(unknown(name)),
    }
}

/// A name no row parses: refused by name or family, else unknown with the closest name.
pub fn unknown(name: &str) -> String {
    let refused = find(name)
        .and_then(|r| match r.handler {
            Handler::Refused(why) => Some(why),
            Handler::Parse(_) => None,
        })
        .or_else(|| {
            REFUSED_PREFIXES
                .iter()
                .find(|(p, _)| name.starts_with(p))
                .map(|(_, why)| *why)
        });
    if let Some(why) = refused {
        return refusal(&format!("fetch '{name}'"), why);
    }
    let hint = suggest::hint(name, TABLE.iter().map(|r| r.name));
    format!("unknown fetch '{name}'{hint}")
}

fn none(c: &Call, f: Fetch) -> Result<Fetch, String> {
    if c.args.is_empty() {
        Ok(f)
    } else {
        Err(format!(
            "fetch '{}' takes no argument; write '{}'",
            c.name, c.name
        ))
    }
}

fn ssl(f: SslFetch) -> Fetch {
    Fetch::Ssl(f)
}

/// `ssl_c_s_dn`, `ssl_c_s_dn(CN)`, `ssl_c_s_dn(CN,2)`: the whole name or one entry of it.
/// HAProxy's third argument (the output format) is refused: only the one-line form exists.
fn dn(c: &Call) -> Result<Option<DnEntry>, String> {
    let (key, occ) = match c.args {
        [] => return Ok(None),
        [k] => (k, "1"),
        [k, o] => (k, o.as_str()),
        _ => {
            return Err(format!(
                "'{}' takes an entry and an occurrence at most (e.g. '{}(CN)'); the output format argument is not supported",
                c.name, c.name
            ))
        }
    };
    let occ: i32 = occ.parse().ok().filter(|o| *o != 0).ok_or_else(|| {
        format!(
            "'{}({key},{occ})': the occurrence is a non-zero integer",
            c.name
        )
    })?;
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "'{}({key})': the entry is a field name such as CN, O or OU",
            c.name
        ));
    }
    Ok(Some(DnEntry {
        key: key.to_string(),
        occ,
    }))
}

fn one_arg<'a>(c: &Call<'a>, what: &str) -> Result<&'a str, String> {
    match c.args {
        [a] if !a.is_empty() => Ok(a),
        _ => Err(format!(
            "'{}' takes one argument ({what}), e.g. '{}(x)'",
            c.name, c.name
        )),
    }
}

/// `NAME[,OCC]`: a header name and an optional occurrence.
fn hdr_arg(c: &Call, full: bool) -> Result<HdrArg, String> {
    let name = c.name;
    let (h, occ) = match c.args {
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

fn req_hdr(c: &Call, full: bool) -> Result<Fetch, String> {
    Ok(Fetch::ReqHdr(hdr_arg(c, full)?))
}

fn res_hdr(c: &Call, full: bool) -> Result<Fetch, String> {
    Ok(Fetch::ResHdr(hdr_arg(c, full)?))
}

fn url_param(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    Ok(Fetch::UrlParam(one_arg(c, "a parameter name")?.to_string()))
}

fn req_hdr_cnt(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    let h = one_arg(c, "a header name")?;
    Ok(Fetch::ReqHdrCnt(h.to_ascii_lowercase()))
}

fn res_hdr_cnt(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    let h = one_arg(c, "a header name")?;
    Ok(Fetch::ResHdrCnt(h.to_ascii_lowercase()))
}

fn cookie(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    Ok(Fetch::ReqCook(one_arg(c, "a cookie name")?.to_string()))
}

fn var(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    Ok(Fetch::Var(var_name(one_arg(c, "txn.NAME")?)?))
}

fn http_auth(c: &Call, env: &ParseEnv) -> Result<Fetch, String> {
    let list = env.userlist(one_arg(c, "a userlist name")?)?;
    Ok(Fetch::HttpAuth(list))
}

fn http_auth_group(c: &Call, env: &ParseEnv) -> Result<Fetch, String> {
    let list = env.userlist(one_arg(c, "a userlist name")?)?;
    Ok(Fetch::HttpAuthGroup(list))
}

/// Read once at load: the environment does not change under a running proxy.
fn env(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    let name = one_arg(c, "a variable name")?;
    Ok(Fetch::Env(std::env::var(name).ok()))
}

fn req(p: PayloadFetch) -> Fetch {
    Fetch::Payload(Dir::Req, p)
}

/// A non-negative offset or length argument.
fn offset(c: &Call, what: &str, text: &str) -> Result<usize, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "'{}': {what} '{text}' is not a non-negative integer",
            c.name
        )
    })
}

/// `req.payload(OFFSET,LENGTH)`: LENGTH 0 takes everything from OFFSET.
fn payload(c: &Call, dir: Dir) -> Result<Fetch, String> {
    let [off, len] = c.args else {
        return Err(format!(
            "'{}' takes an offset and a length, e.g. '{}(0,3)'",
            c.name, c.name
        ));
    };
    let p = PayloadFetch::Bytes {
        off: offset(c, "offset", off)?,
        len: offset(c, "length", len)?,
    };
    Ok(Fetch::Payload(dir, p))
}

/// `req.payload_lv(OFFSET1,LENGTH[,OFFSET2])`.
fn payload_lv(c: &Call, dir: Dir) -> Result<Fetch, String> {
    let (off1, len, off2) = match c.args {
        [a, b] => (a, b, None),
        [a, b, o] => (a, b, Some(o)),
        _ => {
            return Err(format!(
                "'{}' takes an offset, a length size and an optional data offset, e.g. '{}(0,2)'",
                c.name, c.name
            ))
        }
    };
    let len = offset(c, "length size", len)?;
    if !(1..=8).contains(&len) {
        return Err(format!("'{}': the length field is 1 to 8 bytes", c.name));
    }
    let off2 = match off2 {
        None => None,
        Some(o) => Some(
            o.trim()
                .parse::<i64>()
                .map_err(|_| format!("'{}': offset '{o}' is not an integer", c.name))?,
        ),
    };
    let p = PayloadFetch::Lv {
        off1: offset(c, "offset", off1)?,
        len,
        off2,
    };
    Ok(Fetch::Payload(dir, p))
}

/// A content fetch as messages name it.
pub fn payload_label(dir: Dir, p: &PayloadFetch) -> String {
    let side = match dir {
        Dir::Req => "req",
        Dir::Res => "res",
    };
    let what = match p {
        PayloadFetch::Len => "len".to_string(),
        PayloadFetch::Bytes { off, len } => format!("payload({off},{len})"),
        PayloadFetch::Lv { off1, len, .. } => format!("payload_lv({off1},{len})"),
        PayloadFetch::SslSni => "ssl_sni".into(),
        PayloadFetch::SslVer => "ssl_ver".into(),
        PayloadFetch::SslHelloType => "ssl_hello_type".into(),
        PayloadFetch::SslEcExt => "ssl_ec_ext".into(),
        PayloadFetch::ProtoHttp => "proto_http".into(),
    };
    format!("{side}.{what}")
}

fn int(c: &Call, _: &ParseEnv) -> Result<Fetch, String> {
    let a = one_arg(c, "an integer")?;
    a.parse()
        .map(Fetch::Int)
        .map_err(|_| format!("'int({a})': not an integer"))
}

/// Where a fetch may be used, in the words of README.md.
fn needs_cell(n: Needs) -> &'static str {
    match n {
        Conn | Nothing => "every rule",
        Content => "`tcp-request content` rules and `use_backend` in mode tcp",
        ResContent => "`tcp-response content` rules",
        Request => "request rules and conditions (not `http-response`)",
        Response => "response rules and conditions (not `http-request`)",
    }
}

fn smp_cell(t: SmpType) -> &'static str {
    match t {
        Str => "string",
        Int => "integer",
        Ip => "address",
        Bool => "boolean",
    }
}

/// The table as markdown, for README.md.
pub fn markdown() -> String {
    let rows = TABLE.iter().map(|r| match r.handler {
        Handler::Parse(s) => vec![
            format!("`{}`", r.name),
            format!("`{}`", s.example),
            needs_cell(s.needs).to_string(),
            smp_cell(s.smp).to_string(),
            if s.suffixes { "yes" } else { "" }.to_string(),
        ],
        Handler::Refused(why) => vec![
            format!("`{}`", r.name),
            String::new(),
            super::refused_cell(why),
            String::new(),
            String::new(),
        ],
    });
    let prefixes = REFUSED_PREFIXES.iter().map(|(p, why)| {
        vec![
            format!("`{p}*`"),
            String::new(),
            super::refused_cell(why),
            String::new(),
            String::new(),
        ]
    });
    super::markdown(
        &[
            "fetch",
            "example",
            "may appear in",
            "sample",
            "ACL suffixes",
        ],
        rows.chain(prefixes),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_unique, errors};
    use super::*;
    use crate::config::expr::{expr_type, parse_expr};

    #[test]
    fn names_are_unique() {
        assert_unique(TABLE.iter().map(|r| r.name));
    }

    /// A configuration using `expr` in a request or response variable, with a userlist for
    /// `http_auth`.
    fn config_with(rule: &str, expr: &str) -> String {
        format!(
            "userlist users\n  user u insecure-password p\nfrontend f\n  mode http\n  bind 127.0.0.1:0\n  {rule} set-var(txn.v) {expr}\n  default_backend b\nbackend b\n  mode http\n  server s 127.0.0.1:1\n"
        )
    }

    /// The rule set a content fetch is meant for.
    fn content_set(n: Needs) -> Option<&'static str> {
        match n {
            Needs::Content => Some("tcp-request content"),
            Needs::ResContent => Some("tcp-response content"),
            _ => None,
        }
    }

    /// A mode tcp configuration with `expr` in a content rule of `set`.
    fn tcp_config_with(set: &str, expr: &str) -> String {
        format!(
            "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\nlisten l\n  bind 127.0.0.1:0\n  {set} reject if {{ {expr} -m found }}\n  server s 127.0.0.1:1\n"
        )
    }

    #[test]
    fn every_row_parses_or_is_refused_through_the_loader() {
        for row in TABLE {
            match row.handler {
                Handler::Parse(s) => {
                    if let Some(set) = content_set(s.needs) {
                        let errs = errors(&tcp_config_with(set, s.example));
                        assert!(errs.is_empty(), "{}: {errs:?}", row.name);
                        let errs = errors(&config_with("http-request", s.example));
                        assert!(
                            errs.iter().any(|e| e.contains("may not be used in")),
                            "{}: {errs:?}",
                            row.name
                        );
                        continue;
                    }
                    let (fits, misfit) = match s.needs {
                        Needs::Response => ("http-response", Some("http-request")),
                        Needs::Request => ("http-request", Some("http-response")),
                        _ => ("http-request", None),
                    };
                    let errs = errors(&config_with(fits, s.example));
                    assert!(errs.is_empty(), "{}: {errs:?}", row.name);
                    if let Some(rule) = misfit {
                        let errs = errors(&config_with(rule, s.example));
                        assert!(
                            errs.iter().any(|e| e.contains("may not be used in")),
                            "{}: {errs:?}",
                            row.name
                        );
                    }
                }
                Handler::Refused(_) => {
                    let errs = errors(&config_with("http-request", row.name));
                    let want = format!("fetch '{}' is not supported by ringlb yet", row.name);
                    assert!(
                        errs.iter().any(|e| e.contains(&want)),
                        "{}: {errs:?}",
                        row.name
                    );
                }
            }
        }
    }

    /// A parsed expression carries what its fetch's row declares.
    #[test]
    fn parsed_expressions_carry_the_row() {
        let env = ParseEnv {
            userlists: vec![std::sync::Arc::new(crate::config::model_rules::Userlist {
                name: "users".into(),
                ..Default::default()
            })],
            ..ParseEnv::default()
        };
        for row in TABLE {
            let Handler::Parse(s) = row.handler else {
                continue;
            };
            let e = parse_expr(s.example, &env).unwrap_or_else(|e| panic!("{}: {e}", row.name));
            assert_eq!(e.needs, s.needs, "{}", row.name);
            assert_eq!(expr_type(&e), s.smp, "{}", row.name);
        }
    }

    #[test]
    fn refused_families_are_refused_through_the_loader() {
        for (prefix, _) in REFUSED_PREFIXES {
            let name = format!("{prefix}anything");
            let errs = errors(&config_with("http-request", &name));
            let want = format!("fetch '{name}' is not supported by ringlb yet");
            assert!(errs.iter().any(|e| e.contains(&want)), "{name}: {errs:?}");
        }
    }

    #[test]
    fn misses_are_refused_or_get_a_suggestion() {
        assert_eq!(
            unknown("ssl_anything"),
            "fetch 'ssl_anything' is not supported by ringlb yet"
        );
        assert_eq!(unknown("pth"), "unknown fetch 'pth'; did you mean 'path'?");
        assert_eq!(
            unknown("req.bdy"),
            "unknown fetch 'req.bdy'; did you mean 'req.body'?"
        );
        assert_eq!(unknown("zzzzzzzz"), "unknown fetch 'zzzzzzzz'");
    }
}
