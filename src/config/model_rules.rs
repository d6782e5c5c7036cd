//! The compiled rule language: sample expressions (fetch + converters), log-format strings,
//! `http-request` / `http-response` / `http-after-response` rules and `userlist`s.
//!
//! Everything here is built once at load (regexes compiled, map files read, userlists resolved
//! to shared handles), so the request path only walks these trees; `rules::` evaluates them.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::{Cidr, Condition, Loc};

/// A sample fetch followed by converters: `req.hdr(host),lower,map(hosts.map,none)`.
#[derive(Clone, Debug)]
pub struct Expr {
    pub fetch: Fetch,
    pub convs: Vec<Conv>,
    /// What the fetch reads, from its row of the fetch table.
    pub needs: Needs,
    /// The sample's type after the converters, from the rows of the fetch and last converter.
    pub smp: SmpType,
}

/// The type a sample has after its fetch and converters; picks an ACL's default match method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmpType {
    Str,
    Int,
    Ip,
    Bool,
}

/// Where a fetch can look: HAProxy refuses request fetches in response rules and vice versa.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// The connection only (addresses): available everywhere.
    Conn,
    Request,
    Response,
    /// Variables, environment, constants.
    Nothing,
    /// The request's first bytes, held by `tcp-request content` inspection (`req.len`,
    /// `req.ssl_sni` ...).
    Content,
    /// The response's first bytes (`tcp-response content`: `res.len` ...).
    ResContent,
}

/// Header fetches: `occ` as HAProxy counts it (1 = first, -1 = last; `None` = every value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdrArg {
    /// Lower-case.
    pub name: String,
    pub occ: Option<i32>,
    /// `fhdr`: a full line is one value; `hdr`: comma-separated values are values.
    pub full: bool,
}

#[derive(Clone, Debug)]
pub enum Fetch {
    /// `unique-id`: the request's `unique-id-format` value.
    UniqueId,
    /// `req.body`, `req.body_len`, `req.body_size`: the body behind the head (see
    /// `option http-buffer-request`).
    ReqBody,
    ReqBodyLen,
    ReqBodySize,
    /// `http_first_req`.
    HttpFirstReq,
    Src,
    SrcPort,
    Dst,
    DstPort,
    Method,
    Path,
    Url,
    Query,
    /// Host header + path.
    Base,
    UrlParam(String),
    ReqHdr(HdrArg),
    ReqHdrCnt(String),
    ReqCook(String),
    ReqVer,
    ResHdr(HdrArg),
    ResHdrCnt(String),
    Status,
    /// `var(txn.name)`: the name with its scope, as written.
    Var(Arc<str>),
    /// `http_auth(userlist)`: true when the Authorization header names a user of the list with
    /// the right password.
    HttpAuth(Arc<Userlist>),
    /// `http_auth_group(userlist)`: the authenticated user's name; matched against group names.
    HttpAuthGroup(Arc<Userlist>),
    /// `env(NAME)`: read once at load (the environment does not change under a running proxy).
    Env(Option<String>),
    Bool(bool),
    Str(String),
    Int(i64),
    /// The client connection's TLS (`ssl_fc*`, `ssl_c_*`).
    Ssl(SslFetch),
    /// What content inspection holds of the request (`Dir::Req`) or the response.
    Payload(Dir, PayloadFetch),
    /// `wait_end` (the `WAIT_END` ACL): true once the inspect delay is over.
    WaitEnd,
}

/// Which buffer a content fetch reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Req,
    Res,
}

/// HAProxy's content-inspection fetches over the bytes held so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadFetch {
    /// `req.len`: how many bytes are held.
    Len,
    /// `req.payload(off,len)`: `len` bytes at `off` (0: all from `off`).
    Bytes { off: usize, len: usize },
    /// `req.payload_lv(off1,len[,off2])`: a block whose size is the `len`-byte big-endian
    /// number at `off1`, starting at `off2` (default: just after the number).
    Lv {
        off1: usize,
        len: usize,
        off2: Option<i64>,
    },
    /// `req.ssl_sni`: the server name of a TLS ClientHello.
    SslSni,
    /// `req.ssl_ver`: the ClientHello's version, major * 65536 + minor.
    SslVer,
    /// `req.ssl_hello_type`: the type of the first TLS handshake message (1: ClientHello).
    SslHelloType,
    /// `req.ssl_ec_ext`: the ClientHello has the supported-groups (elliptic curves) extension.
    SslEcExt,
    /// `req.proto_http`: a complete, valid HTTP/1 request head is held.
    ProtoHttp,
}

/// HAProxy's TLS fetches ringlb answers, from what the handshake settled (`tls::facts`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SslFetch {
    /// `ssl_fc`: the connection is TLS.
    Fc,
    FcSni,
    FcProtocol,
    FcCipher,
    FcAlpn,
    FcSessionReused,
    /// `ssl_c_used` (also `ssl_fc_has_crt`): the client sent a certificate.
    CUsed,
    CVerify,
    /// `ssl_c_s_dn([entry[,occ]])`: the whole subject, or one entry of it (`CN`).
    CSDn(Option<DnEntry>),
    CIDn(Option<DnEntry>),
    CSerial,
    CSha1,
    CNotBefore,
    CNotAfter,
}

/// One entry of a distinguished name: `CN`, and which occurrence (1 = first, -1 = last).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnEntry {
    pub key: String,
    pub occ: i32,
}

#[derive(Clone, Debug)]
pub enum Conv {
    Lower,
    Upper,
    Regsub {
        re: regex::Regex,
        with: String,
        global: bool,
    },
    Map {
        map: Arc<MapFile>,
        how: MapMatch,
        /// Output when nothing matches; without it a miss ends the sample (no value).
        default: Option<String>,
    },
    Ipmask {
        v4: u8,
        v6: u8,
    },
    Base64,
    /// `hex`: each byte as two upper-case hex digits (binary samples such as `ssl_c_serial`).
    Hex,
    /// `field(index,delimiters[,count])` and `word(...)`: 1-based, negative from the end.
    Field {
        index: i32,
        delims: Vec<u8>,
        count: u32,
        words: bool,
    },
    Length,
    /// `json([utf8])`: escape for a JSON string.
    Json,
    /// `add`, `sub`, `mul`, `div`, `mod`, `and`, `or`, `xor` with an integer or a variable.
    Arith(ArithOp, Operand),
    /// `neg`, `cpl`, `bool`, `not`, `odd`, `even`: of the integer alone.
    Unary(UnaryOp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Cpl,
    Bool,
    Not,
    Odd,
    Even,
}

/// An arithmetic converter's argument: HAProxy takes a variable where an integer is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    Int(i64),
    Var(Arc<str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapMatch {
    Str,
    Beg,
    Dom,
    Ip,
}

/// A map file: `key value` lines in file order.
#[derive(Debug)]
pub struct MapFile {
    pub path: String,
    pub entries: Vec<(String, String)>,
    /// Exact-key index for `map`/`map_str` (first line wins, as in HAProxy).
    pub exact: HashMap<String, usize>,
    /// Keys parsed as networks, for `map_ip` (longest prefix wins).
    pub nets: Vec<(Cidr, usize)>,
}

/// A log-format string, split at load into literal runs and variables.
#[derive(Clone, Debug, Default)]
pub struct LogFormat {
    pub nodes: Vec<LfNode>,
}

impl LogFormat {
    /// The whole string when it has no variable: the common case, copied without formatting.
    pub fn literal(&self) -> Option<&str> {
        match self.nodes.as_slice() {
            [] => Some(""),
            [LfNode::Lit(s)] => Some(s),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub enum LfNode {
    Lit(String),
    /// A variable; `true` when written in hexadecimal (`%{+X}`: addresses, ports, counters).
    Var(LfVar, bool),
    Expr(Expr),
}

/// The `%xx` variables of HAProxy's log format that the rule language serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LfVar {
    ClientIp,
    ClientPort,
    FrontendIp,
    FrontendPort,
    BackendSrcIp,
    BackendSrcPort,
    ServerIp,
    ServerPort,
    FrontendName,
    BackendName,
    ServerName,
    Status,
    RequestLine,
    Method,
    Uri,
    Path,
    Version,
    /// `%Ts`: the date in seconds since the epoch.
    Timestamp,
    /// `%rt`: the request counter (unique in the process: see `Worker::next_request_counter`).
    ReqCounter,
    /// `%pid`.
    Pid,
    /// `%ID`: the request's `unique-id-format` value.
    UniqueId,
}

/// The rules of one proxy section, per phase.
#[derive(Clone, Debug, Default)]
pub struct HttpRules {
    pub request: Vec<HttpRule>,
    pub response: Vec<HttpRule>,
    pub after_response: Vec<HttpRule>,
}

impl HttpRules {
    pub fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty() && self.after_response.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct HttpRule {
    pub action: Action,
    pub cond: Option<Condition>,
    pub loc: Loc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Request,
    Response,
    AfterResponse,
}

impl Phase {
    pub fn keyword(self) -> &'static str {
        match self {
            Phase::Request => "http-request",
            Phase::Response => "http-response",
            Phase::AfterResponse => "http-after-response",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Action {
    /// Stops this rule list; the next list (backend after frontend) still runs.
    Allow,
    Deny(Reply),
    Tarpit(Reply),
    Auth {
        realm: Option<String>,
    },
    Redirect(Redirect),
    Return(Reply),
    SetHeader(String, LogFormat),
    AddHeader(String, LogFormat),
    DelHeader(String),
    ReplaceHeader {
        name: String,
        re: regex::Regex,
        with: LogFormat,
        /// `replace-value`: each comma-separated value on its own.
        each_value: bool,
    },
    SetPath(LogFormat),
    SetQuery(LogFormat),
    SetUri(LogFormat),
    SetMethod(LogFormat),
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
    /// `set-var(NAME[,COND...]) EXPR` and `set-var-fmt(NAME[,COND...]) FMT`.
    SetVar(Box<SetVar>),
    /// `http-request capture SAMPLE len N`: the sample goes to the frontend's request
    /// capture `slot` (`%hr`), cut at `len`.
    Capture {
        expr: Expr,
        len: usize,
        slot: usize,
    },
    UnsetVar(Arc<str>),
    /// `normalize-uri NORMALIZER`: rewrites the target so that equivalent spellings of a path
    /// meet the same rules (`rules::normalize`).
    NormalizeUri(Normalizer),
    /// `use-service NAME`: ringlb answers the request itself with a built-in service.
    UseService(Service),
}

/// What `set-var` / `set-var-fmt` set, and when.
#[derive(Clone, Debug)]
pub struct SetVar {
    /// The scoped name: `txn.x`, `sess.x`, `req.x`, `res.x` (`proc.x` only in `global`).
    pub name: Arc<str>,
    pub value: VarValue,
    /// All must hold for the variable to be set (HAProxy 2.6 takes at most four).
    pub conds: Vec<VarCond>,
}

#[derive(Clone, Debug)]
pub enum VarValue {
    /// `set-var`: a sample expression, its type kept.
    Expr(Expr),
    /// `set-var-fmt`: a log-format string, a string.
    Fmt(LogFormat),
}

/// The conditions of `set-var(NAME,COND...)`, HAProxy 2.6's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarCond {
    IfExists,
    IfNotExists,
    IfEmpty,
    IfNotEmpty,
    IfSet,
    IfNotSet,
    /// The variable's integer is greater than the input's (true unless both are integers).
    IfGt,
    IfLt,
}

impl VarCond {
    pub const NAMES: [(&'static str, VarCond); 8] = [
        ("ifexists", VarCond::IfExists),
        ("ifnotexists", VarCond::IfNotExists),
        ("ifempty", VarCond::IfEmpty),
        ("ifnotempty", VarCond::IfNotEmpty),
        ("ifset", VarCond::IfSet),
        ("ifnotset", VarCond::IfNotSet),
        ("ifgt", VarCond::IfGt),
        ("iflt", VarCond::IfLt),
    ];
}

/// The built-in services of `http-request use-service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// `prometheus-exporter`: metrics in Prometheus' text format, HAProxy's names.
    PrometheusExporter,
}

impl Action {
    /// Deny, tarpit, auth, redirect and return answer the client and end every rule list.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Action::Deny(_)
                | Action::Tarpit(_)
                | Action::Auth { .. }
                | Action::Redirect(_)
                | Action::Return(_)
                | Action::UseService(_)
        )
    }
}

/// The normalizers of `http-request normalize-uri`, as HAProxy 2.6 names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalizer {
    /// `#` -> `%23` in the path and query.
    FragmentEncode,
    /// Everything from the first `#` dropped.
    FragmentStrip,
    /// Runs of `/` in the path become one.
    PathMergeSlashes,
    /// `.` segments of the path dropped.
    PathStripDot,
    /// `..` segments merged with the segment before them; `full`: also the `..` left over at
    /// the start.
    PathStripDotdot { full: bool },
    /// `%XX` of a letter, digit, `-`, `.`, `_` or `~` decoded; `strict`: a `%` without two hex
    /// digits after it is a 400.
    PercentDecodeUnreserved { strict: bool },
    /// The hex digits of `%xx` upper-cased; `strict` as above.
    PercentToUppercase { strict: bool },
    /// Query parameters sorted by name (stable).
    QuerySortByName,
}

impl Normalizer {
    /// The names `normalize-uri` takes, in HAProxy's manual's order.
    pub const NAMES: &'static [&'static str] = &[
        "fragment-encode",
        "fragment-strip",
        "path-merge-slashes",
        "path-strip-dot",
        "path-strip-dotdot",
        "percent-decode-unreserved",
        "percent-to-uppercase",
        "query-sort-by-name",
    ];
}

/// What `deny`, `tarpit` and `return` answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: ReplyBody,
    /// `hdr NAME FMT` (return only).
    pub headers: Vec<(String, LogFormat)>,
}

#[derive(Clone, Debug)]
pub enum ReplyBody {
    /// The status's error page (or the proxy's `errorfile`).
    Default,
    /// No body at all (`return` without a payload).
    Empty,
    Text(LogFormat),
    /// `file`: the bytes of a file, read at load.
    File(Arc<[u8]>),
    /// `errorfile`: a complete HTTP response, read at load, sent as it is.
    Raw(Arc<[u8]>),
}

#[derive(Clone, Debug)]
pub struct Redirect {
    pub kind: RedirectKind,
    pub to: LogFormat,
    pub code: u16,
    pub drop_query: bool,
    pub append_slash: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

/// A `userlist` section.
#[derive(Debug, Default)]
pub struct Userlist {
    pub name: String,
    pub users: Vec<User>,
    /// Group names; users refer to them by index.
    pub groups: Vec<String>,
}

#[derive(Debug)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub groups: Vec<usize>,
}

#[derive(Debug)]
pub enum Password {
    Insecure(String),
    /// A crypt(3) hash: `$5$` (sha256-crypt) or `$6$` (sha512-crypt).
    Crypt(String),
}
