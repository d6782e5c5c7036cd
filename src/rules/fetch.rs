//! Sample fetches: one value (`sample`, as in actions and log-format) or every value
//! (`each_sample`, as ACLs see multi-valued headers), converters applied.

use std::borrow::Cow;
use std::net::IpAddr;

use super::{auth, conv, head_lines, Ctx, ReqView, Smp, Vars};
use crate::config::model_rules::{Conv, DnEntry, Expr, Fetch, HdrArg, SslFetch};
use crate::tls::facts::ConnFacts;

/// The expression's value: the fetch's single value (the last occurrence of a header unless an
/// occurrence is given), converted. `None` when the fetch has nothing or a converter fails.
pub fn sample<'a>(e: &'a Expr, ctx: &Ctx<'a>) -> Option<Smp<'a>> {
    let s = match &e.fetch {
        Fetch::ReqHdr(h) => hdr_value(req_lines(ctx)?, h, h.occ.or(Some(-1)))?,
        Fetch::ResHdr(h) => hdr_value(res_lines(ctx)?, h, h.occ.or(Some(-1)))?,
        f => single(f, ctx)?,
    };
    apply(&e.convs, s, ctx.vars)
}

/// Calls `f` on every value until it returns true; returns whether it did. Headers without an
/// occurrence yield each of their values, as HAProxy's ACLs test them.
pub fn each_sample<'a>(e: &'a Expr, ctx: &Ctx<'a>, f: &mut dyn FnMut(&Smp) -> bool) -> bool {
    let (lines, h) = match &e.fetch {
        Fetch::ReqHdr(h) if h.occ.is_none() => (req_lines(ctx), h),
        Fetch::ResHdr(h) if h.occ.is_none() => (res_lines(ctx), h),
        _ => return sample(e, ctx).is_some_and(|s| f(&s)),
    };
    let Some(lines) = lines else { return false };
    for v in values(lines, h) {
        if let Some(s) = apply(&e.convs, Smp::Str(Cow::Borrowed(v)), ctx.vars) {
            if f(&s) {
                return true;
            }
        }
    }
    false
}

fn apply<'a>(convs: &'a [Conv], mut s: Smp<'a>, vars: Option<&Vars>) -> Option<Smp<'a>> {
    for c in convs {
        s = conv::convert(c, s, vars)?;
    }
    Some(s)
}

type Lines<'a> = crate::http::edit::HeaderLines<'a>;

fn req_lines<'a>(ctx: &Ctx<'a>) -> Option<Lines<'a>> {
    ctx.req.map(|r| head_lines(r.head, r.edits))
}

fn res_lines<'a>(ctx: &Ctx<'a>) -> Option<Lines<'a>> {
    ctx.res.map(|r| head_lines(r.head, r.edits))
}

/// The values of a header: whole lines for `fhdr`, comma-separated items for `hdr`.
fn values<'a>(lines: Lines<'a>, h: &'a HdrArg) -> impl Iterator<Item = &'a [u8]> + 'a {
    lines
        .filter(move |(n, _)| n.eq_ignore_ascii_case(h.name.as_bytes()))
        // A full line never splits: the predicate is false for every byte.
        .flat_map(move |(_, v)| {
            v.split(move |&b| !h.full && b == b',')
                .map(|p| p.trim_ascii())
        })
}

fn hdr_value<'a>(lines: Lines<'a>, h: &'a HdrArg, occ: Option<i32>) -> Option<Smp<'a>> {
    let occ = occ.unwrap_or(-1);
    let v = if occ > 0 {
        values(lines, h).nth(occ as usize - 1)?
    } else {
        // Counting first keeps this allocation-free (the lines are cheap to walk twice).
        let total = values(lines.clone(), h).count();
        let back = occ.unsigned_abs().max(1) as usize;
        values(lines, h).nth(total.checked_sub(back)?)?
    };
    Some(Smp::Str(Cow::Borrowed(v)))
}

fn count(lines: Lines, name: &str) -> i64 {
    let h = HdrArg {
        name: name.to_string(),
        occ: None,
        full: false,
    };
    values(lines, &h).count() as i64
}

fn single<'a>(f: &'a Fetch, ctx: &Ctx<'a>) -> Option<Smp<'a>> {
    let b = |s: &'a [u8]| Some(Smp::Str(Cow::Borrowed(s)));
    match f {
        Fetch::Payload(dir, p) => super::content::fetch(*dir, p, ctx.content.as_ref()?),
        Fetch::WaitEnd => ctx.content.filter(|c| c.last).map(|_| Smp::Bool(true)),
        Fetch::Src => Some(Smp::Ip(unmap(ctx.src.ip()))),
        Fetch::UniqueId => b(ctx.unique_id?.as_bytes()),
        Fetch::ReqBody => Some(Smp::Str(body_data(ctx.req?.body))),
        Fetch::ReqBodyLen => Some(Smp::Int(body_data(ctx.req?.body).len() as i64)),
        Fetch::HttpFirstReq => Some(Smp::Bool(ctx.first_req)),
        Fetch::ReqBodySize => {
            let body = ctx.req?.body;
            let size = body.length.unwrap_or(body_data(body).len() as u64);
            Some(Smp::Int(size as i64))
        }
        Fetch::SrcPort => Some(Smp::Int(ctx.src.port() as i64)),
        Fetch::Dst => Some(Smp::Ip(unmap(ctx.dst.ip()))),
        Fetch::DstPort => Some(Smp::Int(ctx.dst.port() as i64)),
        Fetch::Method => b(ctx.req?.method),
        Fetch::Url => b(ctx.req?.target),
        Fetch::Path => b(super::path_of(ctx.req?.target)),
        Fetch::Query => b(query_of(ctx.req?.target)?),
        Fetch::Base => base(ctx.req?),
        Fetch::UrlParam(name) => b(url_param(query_of(ctx.req?.target)?, name.as_bytes())?),
        Fetch::ReqCook(name) => cookie(req_lines(ctx)?, name.as_bytes()),
        Fetch::ReqVer => b(ctx.req?.version.number().as_bytes()),
        Fetch::ReqHdrCnt(n) => Some(Smp::Int(count(req_lines(ctx)?, n))),
        Fetch::ResHdrCnt(n) => Some(Smp::Int(count(res_lines(ctx)?, n))),
        Fetch::Status => Some(Smp::Int(ctx.res?.status as i64)),
        Fetch::Var(name) => ctx.vars?.get(name).map(|v| match v {
            Smp::Str(s) => Smp::Str(Cow::Borrowed(s.as_ref())),
            other => other.clone(),
        }),
        Fetch::HttpAuth(list) => Some(Smp::Bool(auth::check(list, req_lines(ctx)?).is_some())),
        Fetch::HttpAuthGroup(list) => {
            let user = auth::check(list, req_lines(ctx)?)?;
            Some(Smp::Str(Cow::Owned(user.name.as_bytes().to_vec())))
        }
        Fetch::Env(v) => v.as_deref().map(|s| Smp::Str(Cow::Borrowed(s.as_bytes()))),
        Fetch::Bool(v) => Some(Smp::Bool(*v)),
        Fetch::Str(s) => b(s.as_bytes()),
        Fetch::Int(i) => Some(Smp::Int(*i)),
        Fetch::ReqHdr(h) => hdr_value(req_lines(ctx)?, h, h.occ),
        Fetch::ResHdr(h) => hdr_value(res_lines(ctx)?, h, h.occ),
        Fetch::Ssl(f) => ssl(f, ctx.tls),
    }
}

/// A TLS fetch. On a connection without TLS, `ssl_fc` and `ssl_c_used` are false and the
/// others have no value, as in HAProxy.
fn ssl<'a>(f: &'a SslFetch, tls: Option<&'a ConnFacts>) -> Option<Smp<'a>> {
    let s = |v: &'a str| Some(Smp::Str(Cow::Borrowed(v.as_bytes())));
    let bin = |v: &'a [u8]| Some(Smp::Str(Cow::Borrowed(v)));
    let cert = tls.and_then(|t| t.client.as_ref());
    match f {
        SslFetch::Fc => Some(Smp::Bool(tls.is_some())),
        SslFetch::CUsed => Some(Smp::Bool(cert.is_some())),
        SslFetch::FcSni => s(tls?.sni.as_deref()?),
        SslFetch::FcProtocol => s(tls?.protocol?),
        SslFetch::FcCipher => s(tls?.cipher?),
        SslFetch::FcAlpn => bin(tls?.alpn.as_deref()?),
        SslFetch::FcSessionReused => Some(Smp::Bool(tls?.resumed)),
        // HAProxy: 0 (X509_V_OK) also when no certificate came, on a TLS connection.
        SslFetch::CVerify => Some(Smp::Int(cert.map_or(0, |c| c.verify) as i64)),
        SslFetch::CSDn(entry) => dn(&cert?.subject_dn, entry.as_ref()),
        SslFetch::CIDn(entry) => dn(&cert?.issuer_dn, entry.as_ref()),
        SslFetch::CSerial => bin(&cert?.serial),
        SslFetch::CSha1 => bin(&cert?.sha1),
        SslFetch::CNotBefore => s(&cert?.not_before),
        SslFetch::CNotAfter => s(&cert?.not_after),
    }
}

/// A distinguished name in its one-line form (`/C=FR/O=Example/CN=client`), or one entry of
/// it: the `occ`-th `KEY=` (from the end when negative).
fn dn<'a>(line: &'a str, entry: Option<&DnEntry>) -> Option<Smp<'a>> {
    let Some(e) = entry else {
        return Some(Smp::Str(Cow::Borrowed(line.as_bytes())));
    };
    let values = line
        .split('/')
        .filter_map(|part| part.split_once('='))
        .filter(|(k, _)| k.eq_ignore_ascii_case(&e.key))
        .map(|(_, v)| v);
    let v = if e.occ > 0 {
        values.clone().nth(e.occ as usize - 1)
    } else {
        let all: Vec<&str> = values.collect();
        all.len()
            .checked_sub(e.occ.unsigned_abs() as usize)
            .and_then(|i| all.get(i).copied())
    }?;
    Some(Smp::Str(Cow::Borrowed(v.as_bytes())))
}

/// IPv4-mapped IPv6 clients are shown and matched as IPv4, as HAProxy does.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

pub fn query_of(target: &[u8]) -> Option<&[u8]> {
    let q = target.iter().position(|&b| b == b'?')?;
    let rest = &target[q + 1..];
    Some(match rest.iter().position(|&b| b == b'#') {
        Some(h) => &rest[..h],
        None => rest,
    })
}

fn url_param<'a>(query: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    query.split(|&b| b == b'&').find_map(|kv| {
        let (k, v) = match kv.iter().position(|&b| b == b'=') {
            Some(e) => (&kv[..e], &kv[e + 1..]),
            None => (kv, &kv[kv.len()..]),
        };
        (k == name).then_some(v)
    })
}

/// `base`: the Host header followed by the path (no query).
fn base<'a>(r: ReqView<'a>) -> Option<Smp<'a>> {
    let host = head_lines(r.head, r.edits)
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"host"))
        .map(|(_, v)| v)
        .last();
    let path = super::path_of(r.target);
    match host {
        Some(h) => Some(Smp::Str(Cow::Owned([h, path].concat()))),
        None => Some(Smp::Str(Cow::Borrowed(path))),
    }
}

/// The first cookie called `name` in the Cookie headers.
fn cookie<'a>(lines: Lines<'a>, name: &[u8]) -> Option<Smp<'a>> {
    lines
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"cookie"))
        .flat_map(|(_, v)| v.split(|&b| b == b';'))
        .find_map(|kv| {
            let kv = kv.trim_ascii();
            let e = kv.iter().position(|&b| b == b'=')?;
            (kv[..e].trim_ascii() == name)
                .then(|| Smp::Str(Cow::Borrowed(kv[e + 1..].trim_ascii())))
        })
}

/// The body's data that arrived: a chunked one without its framing (what the chunks hold so
/// far, as HAProxy's `req.body` gives it).
fn body_data(body: super::ReqBody<'_>) -> Cow<'_, [u8]> {
    if !body.chunked {
        return Cow::Borrowed(body.bytes);
    }
    let mut decoder = crate::http::ChunkedDecoder::new();
    let mut ranges = Vec::new();
    // A malformed chunk ends what is seen; the framing check answers it later.
    let _ = decoder.feed(body.bytes, &mut ranges);
    let mut out = Vec::new();
    for r in ranges {
        out.extend_from_slice(body.bytes.get(r).unwrap_or(b""));
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_params() {
        assert_eq!(query_of(b"/a?x=1&y=2"), Some(&b"x=1&y=2"[..]));
        assert_eq!(query_of(b"/a"), None);
        assert_eq!(url_param(b"x=1&y=2&z", b"y"), Some(&b"2"[..]));
        assert_eq!(url_param(b"x=1&y=2&z", b"z"), Some(&b""[..]));
        assert_eq!(url_param(b"x=1", b"q"), None);
    }

    #[test]
    fn dn_entries() {
        let line = "/C=FR/O=Example/OU=a/OU=b/CN=client";
        let e = |key: &str, occ| DnEntry {
            key: key.into(),
            occ,
        };
        let got = |entry: Option<DnEntry>| dn(line, entry.as_ref()).map(|s| s.bytes().into_owned());
        assert_eq!(got(None), Some(line.as_bytes().to_vec()));
        assert_eq!(got(Some(e("CN", 1))), Some(b"client".to_vec()));
        assert_eq!(got(Some(e("ou", 2))), Some(b"b".to_vec()));
        assert_eq!(got(Some(e("OU", -1))), Some(b"b".to_vec()));
        assert_eq!(got(Some(e("OU", -2))), Some(b"a".to_vec()));
        assert_eq!(got(Some(e("OU", 3))), None);
        assert_eq!(got(Some(e("L", 1))), None);
    }
}
