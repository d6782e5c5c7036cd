//! Health-check keywords of proxies: `http-check send|connect|expect`, `option tcp-check` with
//! `tcp-check connect|send|send-binary|expect`, `option allbackups`, and global
//! `spread-checks`. (`option httpchk` lives in `proxy.rs`, `check`/`inter`/... in `server.rs`.)

use super::draft::{GlobalDraft, ProxyDraft};
use super::error::Diags;
use super::keywords::Cx;
use super::model::{CheckConnect, CheckKind, Expect, ExpectTest, HttpSend, Mode, TcpStep};
use super::{addr, suggest};

/// HAProxy refuses `spread-checks` above 50 percent.
const MAX_SPREAD: u8 = 50;
const HTTP_EXPECT: [&str; 6] = ["status", "rstatus", "string", "rstring", "hdr", "fhdr"];
const TCP_EXPECT: [&str; 3] = ["string", "rstring", "binary"];

pub fn spread_checks(g: &mut GlobalDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a percentage between 0 and 50") else {
        return;
    };
    match cx.number::<u32>("percentage", a) {
        Some(n) if n <= u32::from(MAX_SPREAD) => g.spread_checks = u8::try_from(n).ok(),
        Some(_) => cx.err(format!(
            "'spread-checks {a}': must be between 0 and {MAX_SPREAD} (percent), as in HAProxy"
        )),
        None => {}
    }
}

pub fn allbackups(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.allbackups = true;
    }
}

pub fn option_tcp_check(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.none() {
        p.check.kind = CheckKind::TcpCheck;
    }
}

fn note_rule(p: &mut ProxyDraft, cx: &Cx) {
    if p.check.rules_loc.is_none() {
        p.check.rules_loc = Some(cx.loc.clone());
    }
}

/// `http-check send [meth M] [uri U] [ver V] [hdr NAME VALUE]... [body STRING]`.
pub fn http_send(p: &mut ProxyDraft, cx: &mut Cx) {
    if cx.args.is_empty() {
        return cx.err("'http-check send' needs at least one of meth, uri, ver, hdr, body");
    }
    let mut send = p.check.send.clone();
    let mut i = 0;
    while let Some(w) = cx.args.get(i) {
        let val = cx.args.get(i + 1).cloned();
        let Some(v) = val else {
            return cx.err(format!("'http-check send {w}' needs a value"));
        };
        match w.as_str() {
            "meth" => send.method = Some(v),
            "uri" if v.starts_with('/') || v == "*" => send.uri = Some(v),
            "uri" => {
                return cx.err(format!(
                    "'http-check send uri {v}': the URI must start with '/'"
                ))
            }
            "ver" => send.version = Some(v),
            "body" => send.body = Some(v),
            "hdr" => {
                let Some(value) = cx.args.get(i + 2).cloned() else {
                    return cx.err("'http-check send hdr' needs a name and a value");
                };
                send.headers.push((v, value));
                i += 1;
            }
            o => {
                let hint = suggest::hint(o, ["meth", "uri", "ver", "hdr", "body"]);
                return cx.err(format!(
                    "'http-check send': unknown or unsupported argument '{o}'{hint}"
                ));
            }
        }
        i += 2;
    }
    note_rule(p, cx);
    p.check.send = send;
}

/// `http-check connect [port N] [addr IP]`.
pub fn http_connect(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(c) = connect_args(cx) {
        note_rule(p, cx);
        p.check.connect = Some(c);
    }
}

pub fn tcp_connect(p: &mut ProxyDraft, cx: &mut Cx) {
    if let Some(c) = connect_args(cx) {
        note_rule(p, cx);
        p.check.tcp_steps.push(TcpStep::Connect(c));
    }
}

fn connect_args(cx: &mut Cx) -> Option<CheckConnect> {
    let mut c = CheckConnect::default();
    let mut i = 0;
    while let Some(w) = cx.args.get(i) {
        let v = cx.args.get(i + 1).map(String::as_str);
        match (w.as_str(), v) {
            ("port", Some(v)) => match v.parse::<u16>() {
                Ok(p) if p > 0 => c.port = Some(p),
                _ => {
                    cx.err(format!(
                        "'{} port {v}': expected a port between 1 and 65535",
                        cx.kw
                    ));
                    return None;
                }
            },
            ("addr", Some(v)) => match addr::parse_ip(v) {
                Ok(a) => c.addr = Some(a),
                Err(e) => {
                    cx.err(format!("'{} addr': {e}", cx.kw));
                    return None;
                }
            },
            (o, _) => {
                cx.err(format!(
                    "'{}': unsupported argument '{o}' (ringlb takes 'port N' and 'addr IP')",
                    cx.kw
                ));
                return None;
            }
        }
        i += 2;
    }
    Some(c)
}

/// `tcp-check send STRING` (HAProxy's escapes \r \n \t \\ are understood).
pub fn tcp_send(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("a string to send") else {
        return;
    };
    let bytes = unescape(a);
    note_rule(p, cx);
    p.check.tcp_steps.push(TcpStep::Send(bytes));
}

pub fn tcp_send_binary(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(a) = cx.one("hexadecimal bytes") else {
        return;
    };
    match hex(a) {
        Some(b) => {
            note_rule(p, cx);
            p.check.tcp_steps.push(TcpStep::Send(b));
        }
        None => cx.err(format!(
            "'tcp-check send-binary {a}': expected an even number of hexadecimal digits"
        )),
    }
}

pub fn tcp_expect(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(tests) = expect_tests(cx, &TCP_EXPECT) else {
        return;
    };
    note_rule(p, cx);
    p.check
        .tcp_steps
        .extend(tests.into_iter().map(TcpStep::Expect));
}

/// `http-check expect [!] TEST PATTERN`. Several tests on one line (the seed's
/// `status 200 string OK`) are a ringlb extension: all must hold; HAProxy refuses the line.
pub fn http_expect(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some(tests) = expect_tests(cx, &HTTP_EXPECT) else {
        return;
    };
    if tests.len() > 1 {
        cx.warn(format!(
            "'http-check expect {}' combines several tests on one line; HAProxy 2.6 refuses this (one test per line). \
             ringlb accepts it as an extension: all {} tests must hold. Write one 'http-check expect' line per test to stay HAProxy-compatible",
            cx.args.join(" "),
            tests.len()
        ));
    }
    note_rule(p, cx);
    p.check.expect.extend(tests);
}

/// Reads `[!] TEST PATTERN [[!] TEST PATTERN]...`.
fn expect_tests(cx: &mut Cx, kinds: &[&str]) -> Option<Vec<Expect>> {
    let mut out = Vec::new();
    let mut negate = false;
    let mut i = 0;
    while let Some(w) = cx.args.get(i).map(String::as_str) {
        if w == "!" {
            negate = true;
            i += 1;
            continue;
        }
        if !kinds.contains(&w) {
            let hint = suggest::hint(w, kinds.iter().copied());
            cx.err(format!(
                "'{} {w}': unknown or unsupported test{hint}; use {}",
                cx.kw,
                kinds.join(", ")
            ));
            return None;
        }
        let Some(pat) = cx.args.get(i + 1).cloned() else {
            cx.err(format!("'{} {w}' needs a pattern", cx.kw));
            return None;
        };
        i += 2;
        let test = match w {
            "hdr" | "fhdr" => {
                let (t, used) = hdr_test(cx, w, i)?;
                i = used;
                t
            }
            _ => match one_test(w, &pat) {
                Ok(t) => t,
                Err(e) => {
                    cx.err(format!("'{} {w} {pat}': {e}", cx.kw));
                    return None;
                }
            },
        };
        out.push(Expect { negate, test });
        negate = false;
    }
    if out.is_empty() {
        cx.err(format!(
            "'{}' needs a test, e.g. '{} {} ...'",
            cx.kw,
            cx.kw,
            kinds.first().copied().unwrap_or("string")
        ));
        return None;
    }
    Some(out)
}

fn one_test(kind: &str, pat: &str) -> Result<ExpectTest, String> {
    let re = |p: &str| super::regexes::compile(p, false);
    Ok(match kind {
        "status" => ExpectTest::Status(status_ranges(pat)?),
        "rstatus" => ExpectTest::RStatus(re(pat)?),
        "string" => ExpectTest::String(pat.to_string()),
        "rstring" => ExpectTest::RString(re(pat)?),
        _ => ExpectTest::Binary(hex(pat).ok_or("expected an even number of hexadecimal digits")?),
    })
}

/// `hdr name NAME [value VALUE]`: `at` points after `hdr name`; returns the test and where the
/// next word starts.
fn hdr_test(cx: &mut Cx, kind: &str, at: usize) -> Option<(ExpectTest, usize)> {
    let word = |i: usize| cx.args.get(i).map(String::as_str);
    let (Some("name"), Some(name)) = (word(at - 1), word(at)) else {
        cx.err(format!(
            "'{} {kind}' is written '{kind} name NAME [value VALUE]'",
            cx.kw
        ));
        return None;
    };
    let name = name.to_ascii_lowercase();
    let (value, next) = match (word(at + 1), word(at + 2)) {
        (Some("value"), Some(v)) => (Some(v.to_string()), at + 3),
        (Some("value"), None) => {
            cx.err(format!("'{} {kind} ... value' needs a value", cx.kw));
            return None;
        }
        _ => (None, at + 1),
    };
    let full = kind == "fhdr";
    Some((ExpectTest::Hdr { name, value, full }, next))
}

/// `200`, `200-299`, `200,301-302`.
fn status_ranges(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let code = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or_else(|| format!("'{s}' is not a status code (100 to 999)"))
    };
    text.split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (code(a)?, code(b)?);
                if a > b {
                    return Err(format!("range '{part}' goes backwards"));
                }
                Ok((a, b))
            }
            None => code(part).map(|c| (c, c)),
        })
        .collect()
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        match chars.next() {
            Some('r') => out.push(b'\r'),
            Some('n') => out.push(b'\n'),
            Some('t') => out.push(b'\t'),
            Some(o) => {
                let mut b = [0; 4];
                out.extend_from_slice(o.encode_utf8(&mut b).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

/// Whole-backend checks, once every line is read.
pub fn validate(p: &ProxyDraft, mode: Mode, diags: &mut Diags) {
    let c = &p.check;
    let http_rules = !c.expect.is_empty() || c.send != HttpSend::default() || c.connect.is_some();
    if let Some(loc) = &c.rules_loc {
        if http_rules && c.kind != CheckKind::Http && !p.failed.quiet("option httpchk") {
            diags.warn(loc, format!("http-check rules of {} '{}' are ignored without 'option httpchk', as in HAProxy", p.kind.name(), p.name));
        }
        if !c.tcp_steps.is_empty()
            && c.kind != CheckKind::TcpCheck
            && !p.failed.quiet("option tcp-check")
        {
            diags.warn(loc, format!("tcp-check rules of {} '{}' are ignored without 'option tcp-check', as in HAProxy", p.kind.name(), p.name));
        }
    }
    for s in &p.servers {
        let layer7 = s.check.and_then(|c| c.observe).is_some_and(|o| o.layer7);
        if layer7 && mode != Mode::Http && !p.failed.quiet("mode") {
            diags.error(&s.loc, format!("server '{}': 'observe layer7' needs 'mode http' (HAProxy allows it only in http proxies); use 'observe layer4'", s.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists_and_ranges() {
        assert_eq!(status_ranges("200"), Ok(vec![(200, 200)]));
        assert_eq!(
            status_ranges("200-299,304"),
            Ok(vec![(200, 299), (304, 304)])
        );
        assert!(status_ranges("2xx").is_err());
        assert!(status_ranges("300-200").is_err());
    }

    #[test]
    fn hex_and_escapes() {
        assert_eq!(hex("0a0D"), Some(vec![10, 13]));
        assert_eq!(hex("0"), None);
        assert_eq!(unescape("PING\\r\\n"), b"PING\r\n".to_vec());
    }
}
