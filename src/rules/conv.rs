//! Converters: each takes a sample and returns the converted one, or `None` (the expression
//! then has no value, as in HAProxy: a map miss without default, an ipmask on a non-address).

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine;

use super::{Smp, Vars};
use crate::config::model_rules::{ArithOp, Conv, MapFile, MapMatch, Operand, UnaryOp};

/// HAProxy's `hex`: upper-case digits, two per byte.
fn hex_upper(b: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    b.iter()
        .flat_map(|&x| [DIGITS[usize::from(x >> 4)], DIGITS[usize::from(x & 15)]])
        .collect()
}

pub fn convert<'a>(c: &'a Conv, s: Smp<'a>, vars: Option<&Vars>) -> Option<Smp<'a>> {
    let text = |s: Smp<'a>| match s {
        Smp::Str(b) => b,
        other => Cow::Owned(other.bytes().into_owned()),
    };
    Some(match c {
        Conv::Lower => Smp::Str(map_bytes(text(s), |b| b.to_ascii_lowercase())),
        Conv::Upper => Smp::Str(map_bytes(text(s), |b| b.to_ascii_uppercase())),
        Conv::Length => Smp::Int(text(s).len() as i64),
        Conv::Base64 => Smp::Str(Cow::Owned(
            base64::engine::general_purpose::STANDARD
                .encode(text(s))
                .into_bytes(),
        )),
        Conv::Hex => Smp::Str(Cow::Owned(hex_upper(&text(s)))),
        Conv::Json => Smp::Str(Cow::Owned(json_escape(&text(s)))),
        Conv::Regsub { re, with, global } => {
            let t = text(s);
            let st = std::str::from_utf8(&t).ok()?;
            let out = if *global {
                re.replace_all(st, with.as_str())
            } else {
                re.replacen(st, 1, with.as_str())
            };
            Smp::Str(Cow::Owned(out.into_owned().into_bytes()))
        }
        Conv::Map { map, how, default } => {
            let found = match how {
                MapMatch::Ip => s.as_ip().and_then(|ip| map_ip(map, ip)),
                MapMatch::Str | MapMatch::Beg | MapMatch::Dom => map_text(map, *how, &text(s)),
            };
            match (found, default) {
                (Some(v), _) => Smp::Str(Cow::Borrowed(v.as_bytes())),
                (None, Some(d)) => Smp::Str(Cow::Borrowed(d.as_bytes())),
                (None, None) => return None,
            }
        }
        Conv::Ipmask { v4, v6 } => Smp::Ip(mask(s.as_ip()?, *v4, *v6)),
        Conv::Field {
            index,
            delims,
            count,
            words,
        } => Smp::Str(field(text(s), *index, delims, *count, *words)?),
        Conv::Arith(op, arg) => {
            let b = match arg {
                Operand::Int(n) => *n,
                // A variable that is not set, or not a number, counts as 0 (HAProxy's cast).
                Operand::Var(name) => vars
                    .and_then(|v| v.get(name))
                    .and_then(Smp::as_int)
                    .unwrap_or(0),
            };
            Smp::Int(arith(*op, s.as_int()?, b))
        }
        Conv::Unary(op) => unary(*op, s.as_int()?),
    })
}

/// HAProxy 2.6's integer arithmetic: 64-bit, saturating where it overflows, and its answers
/// for a zero divisor (`div`: the largest integer, `mod`: 0).
fn arith(op: ArithOp, a: i64, b: i64) -> i64 {
    match op {
        ArithOp::Add => a.saturating_add(b),
        ArithOp::Sub => a.saturating_sub(b),
        ArithOp::Mul => a.saturating_mul(b),
        ArithOp::Div if b == 0 => i64::MAX,
        ArithOp::Div => a.checked_div(b).unwrap_or(i64::MAX),
        ArithOp::Mod if b == 0 => 0,
        ArithOp::Mod => a.checked_rem(b).unwrap_or(0),
        ArithOp::And => a & b,
        ArithOp::Or => a | b,
        ArithOp::Xor => a ^ b,
    }
}

fn unary<'a>(op: UnaryOp, a: i64) -> Smp<'a> {
    match op {
        UnaryOp::Neg => Smp::Int(a.saturating_neg()),
        UnaryOp::Cpl => Smp::Int(!a),
        UnaryOp::Bool => Smp::Bool(a != 0),
        UnaryOp::Not => Smp::Bool(a == 0),
        UnaryOp::Odd => Smp::Bool(a & 1 == 1),
        UnaryOp::Even => Smp::Bool(a & 1 == 0),
    }
}

fn map_bytes<'a>(b: Cow<'a, [u8]>, f: impl Fn(&u8) -> u8) -> Cow<'a, [u8]> {
    // Already in the wanted case: keep the borrow.
    if b.iter().all(|x| f(x) == *x) {
        return b;
    }
    Cow::Owned(b.iter().map(f).collect())
}

fn map_text<'m>(map: &'m MapFile, how: MapMatch, key: &[u8]) -> Option<&'m str> {
    let key = std::str::from_utf8(key).ok()?;
    let idx = match how {
        MapMatch::Str => map.exact.get(key).copied(),
        MapMatch::Beg => map
            .entries
            .iter()
            .position(|(k, _)| key.starts_with(k.as_str())),
        MapMatch::Dom => map.entries.iter().position(|(k, _)| {
            super::matcher::dom_matches(k.as_bytes(), key.as_bytes(), &|a, b| a == b)
        }),
        MapMatch::Ip => None,
    }?;
    map.entries.get(idx).map(|(_, v)| v.as_str())
}

/// The longest network containing `ip`.
fn map_ip(map: &MapFile, ip: IpAddr) -> Option<&str> {
    let (_, idx) = map
        .nets
        .iter()
        .filter(|(net, _)| net.contains(ip))
        .max_by_key(|(net, _)| net.prefix)?;
    map.entries.get(*idx).map(|(_, v)| v.as_str())
}

fn mask(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    let ip = match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        a => a,
    };
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX.checked_shl(32 - u32::from(v4)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX.checked_shl(128 - u32::from(v6)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & m).into())
        }
    }
}

/// `field`/`word`: 1-based index (negative from the end), `count` consecutive parts kept.
/// `word` skips empty parts; `field` counts them.
fn field<'a>(
    s: Cow<'a, [u8]>,
    index: i32,
    delims: &[u8],
    count: u32,
    words: bool,
) -> Option<Cow<'a, [u8]>> {
    let parts: Vec<(usize, usize)> = {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, b) in s.iter().enumerate() {
            if delims.contains(b) {
                out.push((start, i));
                start = i + 1;
            }
        }
        out.push((start, s.len()));
        if words {
            out.retain(|(a, b)| a < b);
        }
        out
    };
    let n = parts.len() as i64;
    let first = if index > 0 {
        index as i64 - 1
    } else {
        n + index as i64
    };
    let count = if count == 0 { n } else { count as i64 };
    let last = if index > 0 {
        (first + count - 1).min(n - 1)
    } else {
        first
    };
    let first = if index > 0 {
        first
    } else {
        (first - count + 1).max(0)
    };
    if first < 0 || first >= n || last < first {
        return Some(Cow::Borrowed(b""));
    }
    let (a, _) = parts[first as usize];
    let (_, b) = parts[last as usize];
    Some(match s {
        Cow::Borrowed(x) => Cow::Borrowed(&x[a..b]),
        Cow::Owned(x) => Cow::Owned(x[a..b].to_vec()),
    })
}

fn json_escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'/' => out.extend_from_slice(b"\\/"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_upper_case_two_digits_per_byte() {
        assert_eq!(hex_upper(&[0x00, 0x0a, 0xff, 0x7b]), b"000AFF7B");
        assert_eq!(hex_upper(b""), b"");
    }

    fn f(s: &str, i: i32, d: &str, c: u32, w: bool) -> String {
        let out = field(Cow::Borrowed(s.as_bytes()), i, d.as_bytes(), c, w).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn fields_and_words() {
        assert_eq!(f("/a/b/c", 2, "/", 1, false), "a");
        assert_eq!(f("/a/b/c", 1, "/", 1, true), "a");
        assert_eq!(f("/a/b/c", -1, "/", 1, false), "c");
        assert_eq!(f("a,b,c", 2, ",", 0, false), "b,c");
        assert_eq!(f("a,b", 5, ",", 1, false), "");
    }

    #[test]
    fn masks() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(mask(ip, 24, 128).to_string(), "10.1.2.0");
        assert_eq!(mask(ip, 0, 128).to_string(), "0.0.0.0");
    }

    #[test]
    fn json() {
        assert_eq!(json_escape(b"a\"b\n"), b"a\\\"b\\n");
    }
}
