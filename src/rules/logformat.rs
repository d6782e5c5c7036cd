//! Log-format strings rendered into bytes: the same engine serves header values, redirect
//! targets, `lf-string` bodies and, later, access logs.

use std::io::Write;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{fetch, Ctx};
use crate::config::model_rules::{LfNode, LfVar, LogFormat};

/// Appends the rendered string to `out`. A variable without a value writes `-` (as HAProxy's
/// logs do); an expression without a value writes nothing.
pub fn render(lf: &LogFormat, ctx: &Ctx, out: &mut Vec<u8>) {
    for n in &lf.nodes {
        match n {
            LfNode::Lit(s) => out.extend_from_slice(s.as_bytes()),
            LfNode::Expr(e) => {
                if let Some(s) = fetch::sample(e, ctx) {
                    out.extend_from_slice(&s.bytes());
                }
            }
            LfNode::Var(v, true) => hex_var(*v, ctx, out),
            LfNode::Var(v, false) => var(*v, ctx, out),
        }
    }
}

/// The rendered string in a new Vec (literal strings are copied without formatting).
pub fn to_vec(lf: &LogFormat, ctx: &Ctx) -> Vec<u8> {
    if let Some(lit) = lf.literal() {
        return lit.as_bytes().to_vec();
    }
    let mut out = Vec::new();
    render(lf, ctx, &mut out);
    out
}

fn var(v: LfVar, ctx: &Ctx, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match v {
        LfVar::ClientIp => write!(out, "{}", ctx.src.ip()),
        LfVar::ClientPort => write!(out, "{}", ctx.src.port()),
        LfVar::FrontendIp => write!(out, "{}", ctx.dst.ip()),
        LfVar::FrontendPort => write!(out, "{}", ctx.dst.port()),
        LfVar::BackendSrcIp => match ctx.server.and_then(|s| s.local) {
            Some(a) => write!(out, "{}", a.ip()),
            None => write!(out, "-"),
        },
        LfVar::BackendSrcPort => match ctx.server.and_then(|s| s.local) {
            Some(a) => write!(out, "{}", a.port()),
            None => write!(out, "-"),
        },
        LfVar::ServerIp => match ctx.server {
            Some(s) => write!(out, "{}", s.addr.ip()),
            None => write!(out, "-"),
        },
        LfVar::ServerPort => match ctx.server {
            Some(s) => write!(out, "{}", s.addr.port()),
            None => write!(out, "-"),
        },
        LfVar::FrontendName => write!(out, "{}", ctx.frontend),
        LfVar::BackendName => write!(out, "{}", ctx.backend.unwrap_or(ctx.frontend)),
        LfVar::ServerName => write!(out, "{}", ctx.server.map(|s| s.name).unwrap_or("<NOSRV>")),
        LfVar::Status => match ctx.res {
            Some(r) => write!(out, "{}", r.status),
            None => write!(out, "-"),
        },
        LfVar::RequestLine => match ctx.req {
            Some(r) => {
                out.extend_from_slice(r.method);
                out.push(b' ');
                out.extend_from_slice(r.target);
                write!(out, " {}", r.version.line())
            }
            None => write!(out, "-"),
        },
        LfVar::Method => match ctx.req {
            Some(r) => out.write_all(r.method),
            None => write!(out, "-"),
        },
        LfVar::Uri => match ctx.req {
            Some(r) => out.write_all(r.target),
            None => write!(out, "-"),
        },
        LfVar::Path => match ctx.req {
            Some(r) => out.write_all(super::path_of(r.target)),
            None => write!(out, "-"),
        },
        LfVar::Version => match ctx.req {
            Some(r) => write!(out, "{}", r.version.line()),
            None => write!(out, "-"),
        },
        LfVar::Timestamp => write!(out, "{}", unix_secs()),
        LfVar::ReqCounter => write!(out, "{}", ctx.req_counter),
        LfVar::Pid => write!(out, "{}", std::process::id()),
        LfVar::UniqueId => out.write_all(ctx.unique_id.unwrap_or("-").as_bytes()),
    };
}

/// `%{+X}`: addresses as their bytes in upper-case hexadecimal, ports, dates and counters as
/// at least four hexadecimal digits, as HAProxy writes them (unique IDs are built this way);
/// the other variables are unchanged.
fn hex_var(v: LfVar, ctx: &Ctx, out: &mut Vec<u8>) {
    let num = |out: &mut Vec<u8>, n: u64| {
        let _ = write!(out, "{n:04X}");
    };
    match v {
        LfVar::ClientIp => hex_ip(ctx.src.ip(), out),
        LfVar::FrontendIp => hex_ip(ctx.dst.ip(), out),
        LfVar::ServerIp => match ctx.server {
            Some(s) => hex_ip(s.addr.ip(), out),
            None => out.push(b'-'),
        },
        LfVar::ClientPort => num(out, u64::from(ctx.src.port())),
        LfVar::FrontendPort => num(out, u64::from(ctx.dst.port())),
        LfVar::ServerPort => match ctx.server {
            Some(s) => num(out, u64::from(s.addr.port())),
            None => out.push(b'-'),
        },
        LfVar::Timestamp => num(out, unix_secs()),
        LfVar::ReqCounter => num(out, ctx.req_counter),
        LfVar::Pid => num(out, u64::from(std::process::id())),
        _ => var(v, ctx, out),
    }
}

fn hex_ip(ip: IpAddr, out: &mut Vec<u8>) {
    let bytes = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::expr::{parse_logformat, parse_logformat_merging_spaces, ParseEnv};
    use crate::config::model_rules::Phase;

    fn render_str(fmt: &str, ctx: &Ctx) -> String {
        let lf = parse_logformat(fmt, &ParseEnv::default(), Phase::Request)
            .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&to_vec(&lf, ctx)).into_owned()
    }

    #[test]
    fn hexadecimal_flag_as_haproxy_writes_unique_ids() {
        let src = "127.0.0.1:50194".parse().unwrap_or_else(|e| panic!("{e}"));
        let dst = "[::1]:8080".parse().unwrap_or_else(|e| panic!("{e}"));
        let mut ctx = Ctx::conn(src, dst, "fe", None);
        ctx.req_counter = 10;
        ctx.unique_id = Some("abc");
        // unique-id-format merges spaces as log lines do; rule strings keep them.
        let uid = parse_logformat_merging_spaces(
            " %{+X}o %ci  %ID",
            &ParseEnv::default(),
            Phase::Request,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(to_vec(&uid, &ctx), b"7F000001 abc");
        assert_eq!(render_str(" %ci  %ID", &ctx), " 127.0.0.1  abc");
        assert_eq!(
            render_str("%{+X}o%ci:%cp_%fi:%fp_%rt %ID", &ctx),
            "7F000001:C412_00000000000000000000000000000001:1F90_000A abc"
        );
        // Without the flag, and `-X` after `%o` turning it off for one variable.
        assert_eq!(render_str("%ci:%cp_%rt", &ctx), "127.0.0.1:50194_10");
        assert_eq!(render_str("%{+X}o%{-X}cp/%cp", &ctx), "50194/C412");
        let ts = render_str("%{+X}o%Ts", &ctx);
        assert!(
            ts.len() >= 8 && u64::from_str_radix(&ts, 16).is_ok(),
            "{ts}"
        );
        assert_eq!(render_str("%pid", &ctx), std::process::id().to_string());
    }

    #[test]
    fn unknown_variables_are_named() {
        let e = parse_logformat("%ci_%zz", &ParseEnv::default(), Phase::Request).unwrap_err();
        assert!(e.contains("unknown variable '%zz'"), "{e}");
        let e = parse_logformat("%Tx", &ParseEnv::default(), Phase::Request).unwrap_err();
        assert!(e.contains("did you mean '%Ts'"), "{e}");
    }
}
