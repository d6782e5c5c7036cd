//! `;json`: HAProxy 2.6's typed stats as JSON, one array per row of field objects:
//!
//! ```text
//! [[{"objType":"Server","proxyId":4,"id":1,"field":{"pos":0,"name":"pxname"},"processNum":1,
//!    "tags":{"origin":"Key","nature":"Name","scope":"Service"},"value":{"type":"str","value":"be"}}, ...], ...]
//! ```
//!
//! Empty cells are left out, as HAProxy leaves out fields it has no value for. Each field's
//! type and tags come from `META`, one line per `Field`, recorded from HAProxy 2.6.12's own
//! `;json` output. Only HAProxy's fields are here: ringlb's latencies and per-core view are in
//! the HTML page and the Prometheus output, so that tools reading HAProxy's JSON keep working.

use std::fmt::Write;

use super::fields::Field;
use super::snapshot::{ProxyStats, Row, RowKind, Snapshot, Value};
use super::state;
use super::RenderOptions;

pub fn render(snap: &Snapshot, opts: &RenderOptions) -> String {
    // A row is about 12 kB of JSON with HAProxy's field objects.
    let mut out = String::with_capacity(12_288 * snap.rows().count() + 4);
    out.push('[');
    let mut first_row = true;
    for px in snap
        .proxies
        .iter()
        .filter(|px| state::proxy_in_scope(px, &opts.scope))
    {
        for_each_shown_row(px, opts, |row, status| {
            if !first_row {
                out.push(',');
            }
            first_row = false;
            write_row(&mut out, px, row, status);
        });
    }
    out.push_str("]\n");
    out
}

/// The proxy's rows as `;csv` shows them (the same `;up` filter and backend status).
fn for_each_shown_row(
    px: &ProxyStats,
    opts: &RenderOptions,
    mut f: impl FnMut(&Row, Option<&str>),
) {
    if let Some(fe) = &px.frontend {
        f(fe, None);
    }
    for sv in px
        .servers
        .iter()
        .filter(|s| state::server_shown(s, opts.up_only))
    {
        f(sv, None);
    }
    if let Some(be) = &px.backend {
        let status = opts.up_only.then(|| state::backend_status_up_only(px, be));
        f(be, status.as_deref());
    }
}

fn write_row(out: &mut String, px: &ProxyStats, row: &Row, status: Option<&str>) {
    out.push('[');
    let mut first = true;
    for (f, v) in Field::ALL.iter().zip(row.values()) {
        let Some(pos) = json_pos(*f) else { continue };
        let status_value;
        let v = match (f, status) {
            (Field::Status, Some(s)) => {
                status_value = Value::Str(s.to_string());
                &status_value
            }
            _ => v,
        };
        if *v == Value::Empty {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        write_field(out, px, row, *f, pos, v);
    }
    out.push(']');
}

/// The field's `pos`: its column, except that the CSV's `-` separator is not a field, so the
/// module fields after it come one earlier. None for the separator itself.
fn json_pos(f: Field) -> Option<usize> {
    let i = f as usize;
    let sep = Field::Separator as usize;
    match i.cmp(&sep) {
        std::cmp::Ordering::Less => Some(i),
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(i - 1),
    }
}

fn write_field(out: &mut String, px: &ProxyStats, row: &Row, f: Field, pos: usize, v: &Value) {
    let meta = meta_for(row.kind, f);
    // The server's number for a server row, 0 for a frontend or backend, as HAProxy.
    let id = if row.kind == RowKind::Server {
        row.num(Field::Sid)
    } else {
        0
    };
    let _ = write!(
        out,
        "{{\"objType\":\"{}\",\"proxyId\":{},\"id\":{},\"field\":{{\"pos\":{},\"name\":\"{}\"}},\
         \"processNum\":1,\"tags\":{{\"origin\":\"{}\",\"nature\":\"{}\",\"scope\":\"{}\"}},\
         \"value\":{{",
        obj_type(row.kind),
        px.iid,
        id,
        pos,
        f.name(),
        meta.origin.name(),
        meta.nature.name(),
        meta.scope.name(),
    );
    write_value(out, meta.ty, v);
    out.push_str("}}");
}

fn obj_type(kind: RowKind) -> &'static str {
    match kind {
        RowKind::Frontend => "Frontend",
        RowKind::Backend => "Backend",
        RowKind::Server => "Server",
    }
}

/// `"type":"u32","value":5`: the field's own type, unless the value does not fit it (a
/// negative number in an unsigned field is written as s64, a text as str).
fn write_value(out: &mut String, ty: Ty, v: &Value) {
    let _ = match v {
        Value::Empty => Ok(()),
        Value::Str(s) => {
            out.push_str("\"type\":\"str\",\"value\":");
            write_json_string(out, s);
            Ok(())
        }
        Value::U64(n) => {
            let ty = if ty == Ty::Str { Ty::U64 } else { ty };
            write!(out, "\"type\":\"{}\",\"value\":{n}", ty.name())
        }
        Value::I64(n) => {
            let ty = match ty {
                Ty::S32 if i32::try_from(*n).is_ok() => Ty::S32,
                Ty::U32 | Ty::U64 if *n >= 0 => ty,
                _ => Ty::S64,
            };
            write!(out, "\"type\":\"{}\",\"value\":{n}", ty.name())
        }
    };
}

pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A field's JSON type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    U32,
    U64,
    S32,
    S64,
    Str,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::U32 => "u32",
            Ty::U64 => "u64",
            Ty::S32 => "s32",
            Ty::S64 => "s64",
            Ty::Str => "str",
        }
    }
}

/// `tags.origin`: where the value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Metric,
    Status,
    Key,
    Config,
}

/// `tags.nature`: what kind of value it is (the natures HAProxy uses for proxy fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Nature {
    Gauge,
    Limit,
    Max,
    Rate,
    Counter,
    Duration,
    Age,
    Name,
    Output,
    Avg,
}

/// `tags.scope`: whether the value is the process's own or shared by the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Process,
    Service,
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Metric => "Metric",
            Origin::Status => "Status",
            Origin::Key => "Key",
            Origin::Config => "Config",
        }
    }
}

impl Nature {
    fn name(self) -> &'static str {
        match self {
            Nature::Gauge => "Gauge",
            Nature::Limit => "Limit",
            Nature::Max => "Max",
            Nature::Rate => "Rate",
            Nature::Counter => "Counter",
            Nature::Duration => "Duration",
            Nature::Age => "Age",
            Nature::Name => "Name",
            Nature::Output => "Output",
            Nature::Avg => "Avg",
        }
    }
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Process => "Process",
            Scope::Service => "Service",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Meta {
    ty: Ty,
    origin: Origin,
    nature: Nature,
    scope: Scope,
}

const fn meta(ty: Ty, origin: Origin, nature: Nature, scope: Scope) -> Meta {
    Meta {
        ty,
        origin,
        nature,
        scope,
    }
}

/// A field's type and tags for a row kind: `META`, except for the few fields HAProxy tags
/// differently on a backend row (there `act`/`bck` are counts of servers and the rates are
/// plain gauges).
fn meta_for(kind: RowKind, f: Field) -> Meta {
    let backend_gauge = matches!(f, Field::Act | Field::Bck | Field::Rate | Field::RateMax);
    if kind == RowKind::Backend && backend_gauge {
        return meta(Ty::U32, Origin::Metric, Nature::Gauge, Scope::Process);
    }
    META[f as usize]
}

use Nature::{Age, Avg, Counter, Duration, Gauge, Limit, Max, Name, Output, Rate};
use Origin::{Config, Key, Metric, Status};
use Scope::{Process, Service};
use Ty::{Str, S32, U32, U64};

/// Every field's type and tags on frontend and server rows, in `Field` order, as HAProxy 2.6.12
/// writes them (`throttle`, which HAProxy prints only during a slow start, is its u32 average).
const META: [Meta; Field::ALL.len()] = [
    meta(Str, Key, Name, Service),        // pxname
    meta(Str, Key, Name, Service),        // svname
    meta(U32, Metric, Gauge, Process),    // qcur
    meta(U32, Metric, Max, Process),      // qmax
    meta(U32, Metric, Gauge, Process),    // scur
    meta(U32, Metric, Max, Process),      // smax
    meta(U32, Config, Limit, Process),    // slim
    meta(U64, Metric, Counter, Process),  // stot
    meta(U64, Metric, Counter, Process),  // bin
    meta(U64, Metric, Counter, Process),  // bout
    meta(U64, Metric, Counter, Process),  // dreq
    meta(U64, Metric, Counter, Process),  // dresp
    meta(U64, Metric, Counter, Process),  // ereq
    meta(U64, Metric, Counter, Process),  // econ
    meta(U64, Metric, Counter, Process),  // eresp
    meta(U64, Metric, Counter, Process),  // wretr
    meta(U64, Metric, Counter, Process),  // wredis
    meta(Str, Status, Gauge, Process),    // status
    meta(U32, Metric, Avg, Process),      // weight
    meta(U32, Status, Gauge, Process),    // act
    meta(U32, Status, Gauge, Process),    // bck
    meta(U64, Metric, Counter, Process),  // chkfail
    meta(U64, Metric, Counter, Process),  // chkdown
    meta(U32, Metric, Age, Process),      // lastchg
    meta(U32, Metric, Counter, Process),  // downtime
    meta(U32, Config, Gauge, Service),    // qlimit
    meta(U32, Key, Gauge, Process),       // pid
    meta(U32, Key, Gauge, Service),       // iid
    meta(U32, Key, Gauge, Service),       // sid
    meta(U32, Metric, Avg, Process),      // throttle
    meta(U64, Metric, Counter, Process),  // lbtot
    meta(Str, Config, Name, Service),     // tracked
    meta(U32, Config, Gauge, Service),    // type
    meta(U32, Metric, Rate, Process),     // rate
    meta(U32, Config, Limit, Process),    // rate_lim
    meta(U32, Metric, Max, Process),      // rate_max
    meta(Str, Metric, Output, Process),   // check_status
    meta(U32, Metric, Output, Process),   // check_code
    meta(U64, Metric, Duration, Process), // check_duration
    meta(U64, Metric, Counter, Process),  // hrsp_1xx
    meta(U64, Metric, Counter, Process),  // hrsp_2xx
    meta(U64, Metric, Counter, Process),  // hrsp_3xx
    meta(U64, Metric, Counter, Process),  // hrsp_4xx
    meta(U64, Metric, Counter, Process),  // hrsp_5xx
    meta(U64, Metric, Counter, Process),  // hrsp_other
    meta(U64, Metric, Counter, Process),  // hanafail
    meta(U32, Metric, Rate, Process),     // req_rate
    meta(U32, Metric, Max, Process),      // req_rate_max
    meta(U64, Metric, Counter, Process),  // req_tot
    meta(U64, Metric, Counter, Process),  // cli_abrt
    meta(U64, Metric, Counter, Process),  // srv_abrt
    meta(U64, Metric, Counter, Process),  // comp_in
    meta(U64, Metric, Counter, Process),  // comp_out
    meta(U64, Metric, Counter, Process),  // comp_byp
    meta(U64, Metric, Counter, Process),  // comp_rsp
    meta(S32, Metric, Age, Process),      // lastsess
    meta(Str, Metric, Output, Process),   // last_chk
    meta(Str, Metric, Output, Process),   // last_agt
    meta(U32, Metric, Avg, Process),      // qtime
    meta(U32, Metric, Avg, Process),      // ctime
    meta(U32, Metric, Avg, Process),      // rtime
    meta(U32, Metric, Avg, Process),      // ttime
    meta(Str, Metric, Output, Process),   // agent_status
    meta(U32, Metric, Output, Process),   // agent_code
    meta(U64, Metric, Duration, Process), // agent_duration
    meta(Str, Metric, Output, Process),   // check_desc
    meta(Str, Metric, Output, Process),   // agent_desc
    meta(U32, Config, Gauge, Service),    // check_rise
    meta(U32, Config, Gauge, Service),    // check_fall
    meta(U32, Config, Gauge, Service),    // check_health
    meta(U32, Config, Gauge, Service),    // agent_rise
    meta(U32, Config, Gauge, Service),    // agent_fall
    meta(U32, Config, Gauge, Service),    // agent_health
    meta(Str, Config, Gauge, Service),    // addr
    meta(Str, Config, Name, Service),     // cookie
    meta(Str, Config, Gauge, Service),    // mode
    meta(Str, Config, Gauge, Service),    // algo
    meta(U32, Metric, Rate, Process),     // conn_rate
    meta(U32, Metric, Max, Process),      // conn_rate_max
    meta(U64, Metric, Counter, Process),  // conn_tot
    meta(U64, Metric, Counter, Process),  // intercepted
    meta(U64, Metric, Counter, Process),  // dcon
    meta(U64, Metric, Counter, Process),  // dses
    meta(U64, Metric, Counter, Process),  // wrew
    meta(U64, Metric, Counter, Process),  // connect
    meta(U64, Metric, Counter, Process),  // reuse
    meta(U64, Metric, Counter, Process),  // cache_lookups
    meta(U64, Metric, Counter, Process),  // cache_hits
    meta(U32, Metric, Gauge, Process),    // srv_icur
    meta(U32, Config, Limit, Process),    // src_ilim
    meta(U32, Metric, Max, Process),      // qtime_max
    meta(U32, Metric, Max, Process),      // ctime_max
    meta(U32, Metric, Max, Process),      // rtime_max
    meta(U32, Metric, Max, Process),      // ttime_max
    meta(U64, Metric, Counter, Process),  // eint
    meta(U32, Metric, Gauge, Process),    // idle_conn_cur
    meta(U32, Metric, Gauge, Process),    // safe_conn_cur
    meta(U32, Metric, Gauge, Process),    // used_conn_cur
    meta(U32, Metric, Gauge, Process),    // need_conn_est
    meta(U32, Metric, Avg, Process),      // uweight
    meta(U32, Metric, Gauge, Process),    // agg_server_status
    meta(U32, Metric, Gauge, Process),    // agg_server_check_status
    meta(U32, Metric, Gauge, Process),    // agg_check_status
    // "-": not a field, never in ;json
    meta(Str, Key, Name, Service),
    meta(U64, Metric, Counter, Process), // ssl_sess
    meta(U64, Metric, Counter, Process), // ssl_reused_sess
    meta(U64, Metric, Counter, Process), // ssl_failed_handshake
    meta(U64, Metric, Counter, Process), // h2_headers_rcvd
    meta(U64, Metric, Counter, Process), // h2_data_rcvd
    meta(U64, Metric, Counter, Process), // h2_settings_rcvd
    meta(U64, Metric, Counter, Process), // h2_rst_stream_rcvd
    meta(U64, Metric, Counter, Process), // h2_goaway_rcvd
    meta(U64, Metric, Counter, Process), // h2_detected_conn_protocol_errors
    meta(U64, Metric, Counter, Process), // h2_detected_strm_protocol_errors
    meta(U64, Metric, Counter, Process), // h2_rst_stream_resp
    meta(U64, Metric, Counter, Process), // h2_goaway_resp
    meta(U64, Metric, Gauge, Process),   // h2_open_connections
    meta(U64, Metric, Gauge, Process),   // h2_backend_open_streams
    meta(U64, Metric, Counter, Process), // h2_total_connections
    meta(U64, Metric, Counter, Process), // h2_backend_total_streams
    meta(U64, Metric, Gauge, Process),   // h1_open_connections
    meta(U64, Metric, Gauge, Process),   // h1_open_streams
    meta(U64, Metric, Counter, Process), // h1_total_connections
    meta(U64, Metric, Counter, Process), // h1_total_streams
    meta(U64, Metric, Counter, Process), // h1_bytes_in
    meta(U64, Metric, Counter, Process), // h1_bytes_out
    meta(U64, Metric, Counter, Process), // h1_spliced_bytes_in
    meta(U64, Metric, Counter, Process), // h1_spliced_bytes_out
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::sample::sample_snapshot;

    /// HAProxy 2.6.12's `show stat json`, the `be` and `tcpb` rows, in the same second as the
    /// sample's CSV.
    const HAPROXY_BE_TCPB: &str = include_str!("testdata/haproxy26_be_tcpb.json");

    /// A JSON value, parsed by the small reader below (the crate has no JSON dependency).
    #[derive(Debug, PartialEq)]
    enum J {
        Null,
        Bool(bool),
        Num(String),
        Str(String),
        Arr(Vec<J>),
        Obj(Vec<(String, J)>),
    }

    impl J {
        fn get(&self, key: &str) -> Option<&J> {
            match self {
                J::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
    }

    struct Reader<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Reader<'_> {
        fn ws(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                Ok(())
            } else {
                Err(format!("expected {} at {}", c as char, self.i))
            }
        }

        fn value(&mut self) -> Result<J, String> {
            self.ws();
            match self.s.get(self.i) {
                Some(b'[') => self.seq(b'[', b']', |r| r.value()).map(J::Arr),
                Some(b'{') => self
                    .seq(b'{', b'}', |r| {
                        let k = r.string()?;
                        r.eat(b':')?;
                        Ok((k, r.value()?))
                    })
                    .map(J::Obj),
                Some(b'"') => self.string().map(J::Str),
                Some(b't') => self.word("true", J::Bool(true)),
                Some(b'f') => self.word("false", J::Bool(false)),
                Some(b'n') => self.word("null", J::Null),
                _ => self.number(),
            }
        }

        fn seq<T>(
            &mut self,
            open: u8,
            close: u8,
            mut item: impl FnMut(&mut Self) -> Result<T, String>,
        ) -> Result<Vec<T>, String> {
            self.eat(open)?;
            let mut items = Vec::new();
            self.ws();
            if self.s.get(self.i) == Some(&close) {
                self.i += 1;
                return Ok(items);
            }
            loop {
                items.push(item(self)?);
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(c) if *c == close => {
                        self.i += 1;
                        return Ok(items);
                    }
                    _ => return Err(format!("bad sequence at {}", self.i)),
                }
            }
        }

        fn string(&mut self) -> Result<String, String> {
            self.eat(b'"')?;
            let mut out = String::new();
            loop {
                let c = *self.s.get(self.i).ok_or("unterminated string")?;
                self.i += 1;
                match c {
                    b'"' => return Ok(out),
                    b'\\' => {
                        let e = *self.s.get(self.i).ok_or("bad escape")?;
                        self.i += 1;
                        match e {
                            b'"' | b'\\' | b'/' => out.push(e as char),
                            b'n' => out.push('\n'),
                            b'r' => out.push('\r'),
                            b't' => out.push('\t'),
                            b'u' => {
                                let hex = std::str::from_utf8(&self.s[self.i..self.i + 4])
                                    .map_err(|e| e.to_string())?;
                                let n = u32::from_str_radix(hex, 16).map_err(|e| e.to_string())?;
                                out.push(char::from_u32(n).ok_or("bad \\u")?);
                                self.i += 4;
                            }
                            _ => return Err(format!("bad escape at {}", self.i)),
                        }
                    }
                    c if c < 0x20 => return Err(format!("raw control char at {}", self.i)),
                    _ => {
                        // Copy the whole UTF-8 sequence.
                        let start = self.i - 1;
                        while self.i < self.s.len() && (self.s[self.i] & 0xC0) == 0x80 {
                            self.i += 1;
                        }
                        out.push_str(
                            std::str::from_utf8(&self.s[start..self.i])
                                .map_err(|e| e.to_string())?,
                        );
                    }
                }
            }
        }

        fn word(&mut self, w: &str, v: J) -> Result<J, String> {
            if self.s[self.i..].starts_with(w.as_bytes()) {
                self.i += w.len();
                Ok(v)
            } else {
                Err(format!("bad word at {}", self.i))
            }
        }

        fn number(&mut self) -> Result<J, String> {
            let start = self.i;
            while self.i < self.s.len() && b"-+.eE0123456789".contains(&self.s[self.i]) {
                self.i += 1;
            }
            if start == self.i {
                return Err(format!("unexpected byte at {}", self.i));
            }
            Ok(J::Num(
                String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
            ))
        }
    }

    fn parse(s: &str) -> Result<J, String> {
        let mut r = Reader {
            s: s.as_bytes(),
            i: 0,
        };
        let v = r.value()?;
        r.ws();
        if r.i != s.len() {
            return Err(format!("trailing bytes at {}", r.i));
        }
        Ok(v)
    }

    fn rows(j: &J) -> &[J] {
        match j {
            J::Arr(rows) => rows,
            _ => &[],
        }
    }

    fn text<'a>(field: &'a J, path: &[&str]) -> Option<&'a str> {
        let mut v = field;
        for k in path {
            v = v.get(k)?;
        }
        match v {
            J::Str(s) | J::Num(s) => Some(s),
            _ => None,
        }
    }

    /// HAProxy writes `last_chk` as an empty string on servers whose last check said nothing
    /// more (its CSV cannot tell that from no value); the collector must do the same.
    fn with_haproxys_empty_last_chk(
        mut snap: crate::stats::snapshot::Snapshot,
    ) -> crate::stats::snapshot::Snapshot {
        for px in snap.proxies.iter_mut() {
            for s in px.servers.iter_mut() {
                if s.get(Field::CheckStatus) != &Value::Empty
                    && s.get(Field::LastChk) == &Value::Empty
                {
                    s.set_str(Field::LastChk, "");
                }
            }
        }
        snap
    }

    #[test]
    fn json_of_haproxys_numbers_is_haproxys_json() {
        let snap = with_haproxys_empty_last_chk(sample_snapshot());
        let opts = RenderOptions {
            scope: vec!["be".into(), "tcpb".into()],
            ..Default::default()
        };
        assert_eq!(render(&snap, &opts), HAPROXY_BE_TCPB);
    }

    #[test]
    fn json_parses_and_has_one_array_per_row() {
        let snap = sample_snapshot();
        let out = render(&snap, &RenderOptions::default());
        let j = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows(&j).len(), snap.rows().count());
        for (row, jrow) in snap.rows().zip(rows(&j)) {
            let fields = rows(jrow);
            let non_empty = row
                .values()
                .iter()
                .enumerate()
                .filter(|(i, v)| **v != Value::Empty && *i != Field::Separator as usize)
                .count();
            assert_eq!(fields.len(), non_empty, "{} {}", row.pxname(), row.svname());
            for f in fields {
                for key in [
                    "objType",
                    "proxyId",
                    "id",
                    "field",
                    "processNum",
                    "tags",
                    "value",
                ] {
                    assert!(f.get(key).is_some(), "{key} missing");
                }
                let ty = text(f, &["value", "type"]).unwrap_or("");
                assert!(["u32", "u64", "s32", "s64", "str"].contains(&ty), "{ty}");
            }
        }
    }

    #[test]
    fn json_positions_skip_the_csv_separator() {
        let out = render(&sample_snapshot(), &RenderOptions::default());
        let j = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        let fe = rows(&rows(&j)[0]);
        let pos_of = |name: &str| {
            fe.iter()
                .find(|f| text(f, &["field", "name"]) == Some(name))
                .and_then(|f| text(f, &["field", "pos"]))
                .map(str::to_string)
        };
        assert_eq!(pos_of("agg_check_status"), None); // empty on a frontend
        assert_eq!(pos_of("ssl_sess").as_deref(), Some("103"));
        assert_eq!(pos_of("h1_spliced_bytes_out").as_deref(), Some("126"));
        assert!(!out.contains("\"name\":\"-\""));
    }

    #[test]
    fn json_escapes_strings() {
        let mut snap = sample_snapshot();
        snap.proxies[2].servers[0].set_str(Field::CheckDesc, "a \"b\" \\ c\n\u{1}");
        let out = render(&snap, &RenderOptions::default());
        assert!(out.contains(r#""value":"a \"b\" \\ c\n\u0001""#));
        let j = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows(&j).len(), snap.rows().count());
    }

    #[test]
    fn json_up_only_and_scope_filter_rows() {
        let opts = RenderOptions {
            up_only: true,
            scope: vec!["be".into()],
            ..Default::default()
        };
        let out = render(&sample_snapshot(), &opts);
        let j = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = rows(&j)
            .iter()
            .filter_map(|r| rows(r).get(1).and_then(|f| text(f, &["value", "value"])))
            .collect();
        assert_eq!(names, ["s1", "s2", "s5", "s6", "BACKEND"]);
        assert!(out.contains(r#""value":{"type":"str","value":"UP (4/6)"}"#));
    }
}
