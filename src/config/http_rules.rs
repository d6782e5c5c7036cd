//! Parse functions for `http-request`, `http-response`, `http-after-response`,
//! `option originalto` and the `user` / `group` lines of `userlist` sections.
//!
//! A rule line is `KEYWORD ACTION ARGS... [if|unless CONDITION]`; the action's row in
//! `catalog::actions` parses it with the argument parsers here (replies, redirects, header
//! names, normalizers: log-format strings, regexes, files compiled at load); the condition's
//! ACL names are resolved by `validate`.

use std::sync::Arc;

use super::addr;
use super::catalog::actions;
use super::cond;
use super::draft::{HttpRuleDraft, ProxyDraft, UserDraft, UserlistDraft};
use super::expr::{self, ParseEnv};
use super::files::{self, FileError};
use super::keywords::Cx;
use super::model::ForwardFor;
use super::model_rules::*;
use super::proxy::ERRORFILE_CODES;
use super::regexes;
use super::suggest;

/// Headers whose edits would break the message's framing: rules may not touch them.
const FRAMING_HEADERS: &[&str] = &["content-length", "transfer-encoding"];

pub fn http_request(p: &mut ProxyDraft, cx: &mut Cx) {
    rule(p, cx, Phase::Request);
}

pub fn http_response(p: &mut ProxyDraft, cx: &mut Cx) {
    rule(p, cx, Phase::Response);
}

pub fn http_after_response(p: &mut ProxyDraft, cx: &mut Cx) {
    rule(p, cx, Phase::AfterResponse);
}

fn rule(p: &mut ProxyDraft, cx: &mut Cx, phase: Phase) {
    let args = cx.args;
    let cond_at = args
        .iter()
        .position(|w| w == "if" || w == "unless")
        .unwrap_or(args.len());
    let (action_words, cond_words) = args.split_at(cond_at);
    let Some((name, rest)) = action_words.split_first() else {
        return cx.err(format!(
            "'{}' needs an action, e.g. '{} set-header X-Y value'",
            cx.kw, cx.kw
        ));
    };
    let mut action = match parse_action(name, rest, &p.env, phase) {
        Ok(a) => a,
        Err(e) => return cx.err(format!("{} {name}: {e}", cx.kw)),
    };
    if let Action::Capture { len, slot, .. } = &mut action {
        if !p.is_frontend() {
            return cx.err(format!(
                "{} capture: captures belong to a frontend or listen section (the 'id' form for backends is not supported yet)",
                cx.kw
            ));
        }
        let captures = &mut p.log.captures.request;
        *slot = captures.len();
        captures.push(super::model_log::Capture {
            what: super::model_log::CaptureOf::Sample,
            len: *len,
        });
    }
    if let Some(hint) = lost_backreference(name, rest) {
        cx.warn(format!("{} {name}: {hint}", cx.kw));
    }
    let cond = if cond_words.is_empty() {
        None
    } else {
        match cond::parse_condition(cond_words, &mut p.acls, &p.env) {
            Ok(c) => Some(c),
            Err(e) => return cx.err(format!("{} {name}: {e}", cx.kw)),
        }
    };
    while p.acl_locs.len() < p.acls.len() {
        p.acl_locs.push(cx.loc.clone());
    }
    p.http_rules.push(HttpRuleDraft {
        phase,
        action,
        cond,
        loc: cx.loc.clone(),
    });
}

/// `replace-value Host (.*):.* 1`: a regex that captures and a replacement that is only a
/// number almost always lost the backslash of `\1` on the way (the seed config did: pasted from
/// a web page). Valid as written, so a warning rather than an error.
fn lost_backreference(name: &str, rest: &[String]) -> Option<String> {
    if name != "replace-header" && name != "replace-value" {
        return None;
    }
    let [_, re, with] = rest else { return None };
    let captures = regexes::compile(re, false).ok()?.captures_len() > 1;
    let bare_number = !with.is_empty() && with.bytes().all(|b| b.is_ascii_digit());
    (captures && bare_number).then(|| {
        format!(
            "the replacement '{with}' is a plain number while the regex captures groups; \
             did you mean '\\{with}' (the captured text)?"
        )
    })
}

/// `set-var(txn.x)` and `unset-var(txn.x)` carry their argument in the action word.
fn split_action(name: &str) -> (&str, Option<&str>) {
    match name.split_once('(') {
        Some((n, rest)) => (n, Some(rest.strip_suffix(')').unwrap_or(rest))),
        None => (name, None),
    }
}

/// Parses an action word and its arguments through the action table.
fn parse_action(
    name: &str,
    rest: &[String],
    env: &ParseEnv,
    phase: Phase,
) -> Result<Action, String> {
    let (name, arg) = split_action(name);
    actions::parse(&actions::Args {
        name,
        arg,
        rest,
        env,
        phase,
    })
}

/// `normalize-uri NAME [full|strict]`: the option only where HAProxy 2.6 takes one.
pub(crate) fn normalizer(rest: &[String]) -> Result<Normalizer, String> {
    let Some((name, opts)) = rest.split_first() else {
        return Err(format!(
            "missing argument <normalizer> (one of {})",
            Normalizer::NAMES.join(", ")
        ));
    };
    let option = |word: &str| -> Result<bool, String> {
        match opts {
            [] => Ok(false),
            [o, more @ ..] if o == word => no_more(more).map(|()| true),
            [o, ..] => Err(format!(
                "unknown argument '{o}' for '{name}' normalizer (it takes '{word}' or nothing)"
            )),
        }
    };
    let n = match name.as_str() {
        "path-strip-dotdot" => Normalizer::PathStripDotdot {
            full: option("full")?,
        },
        "percent-decode-unreserved" => Normalizer::PercentDecodeUnreserved {
            strict: option("strict")?,
        },
        "percent-to-uppercase" => Normalizer::PercentToUppercase {
            strict: option("strict")?,
        },
        other => {
            let n = match other {
                "fragment-encode" => Normalizer::FragmentEncode,
                "fragment-strip" => Normalizer::FragmentStrip,
                "path-merge-slashes" => Normalizer::PathMergeSlashes,
                "path-strip-dot" => Normalizer::PathStripDot,
                "query-sort-by-name" => Normalizer::QuerySortByName,
                _ => {
                    let hint = suggest::hint(other, Normalizer::NAMES.iter().copied());
                    return Err(format!("unknown normalizer '{other}'{hint}"));
                }
            };
            no_more(opts)?;
            n
        }
    };
    Ok(n)
}

pub(crate) fn no_more(rest: &[String]) -> Result<(), String> {
    match rest.first() {
        None => Ok(()),
        Some(w) => Err(format!("unexpected '{w}'")),
    }
}

pub(crate) fn header_name(n: &str) -> Result<String, String> {
    let lower = n.to_ascii_lowercase();
    if FRAMING_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "rules may not edit '{n}': ringlb forwards bodies with the framing they came with"
        ));
    }
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(format!("'{n}' is not a valid header name"));
    }
    Ok(n.to_string())
}

/// HAProxy matches replace-header's regex against the whole value.
pub(crate) fn anchored_regex(re: &str) -> Result<regex::Regex, String> {
    // Errors are about what the user wrote, so they come from compiling it unwrapped.
    regexes::compile(&format!("^(?:{re})$"), false)
        .map_err(|_| regexes::compile(re, false).err().unwrap_or_default())
}

pub(crate) fn set_status(rest: &[String]) -> Result<Action, String> {
    let (code, reason) = match rest {
        [c] => (c, None),
        [c, r, v] if r == "reason" => (c, Some(v.clone())),
        _ => return Err("expects a status code and an optional 'reason TEXT'".into()),
    };
    let status: u16 = code
        .parse()
        .ok()
        .filter(|s| (100..=999).contains(s))
        .ok_or_else(|| format!("'{code}' is not a status code (100..999)"))?;
    Ok(Action::SetStatus { status, reason })
}

fn status_arg(v: Option<&String>) -> Result<u16, String> {
    let v = v.ok_or("'status' needs a code")?;
    v.parse()
        .ok()
        .filter(|s| (200..=599).contains(s))
        .ok_or_else(|| format!("'{v}' is not a status code between 200 and 599"))
}

/// A reply payload is answered from one buffer: like HAProxy, refuse one over `tune.bufsize`.
fn read_file(path: &str, env: &ParseEnv) -> Result<Arc<[u8]>, String> {
    let limit = env.bufsize;
    files::read_bounded(std::path::Path::new(path), limit as u64)
        .map(Arc::from)
        .map_err(|e| match e {
            FileError::TooLarge(_) => format!(
                "file '{path}' is larger than tune.bufsize ({limit} bytes); a reply must fit in one buffer, as in HAProxy"
            ),
            e => format!("file '{path}' {e}"),
        })
}

/// The arguments of `deny`, `tarpit` and `return`.
pub(crate) fn reply(
    rest: &[String],
    env: &ParseEnv,
    phase: Phase,
    default: u16,
    deny: bool,
) -> Result<Reply, String> {
    // HAProxy 2.6 (parse_http_deny): `deny`/`tarpit` alone or with only `deny_status N` answer
    // the default error page of the status (legacy mode); any other argument makes it an http
    // reply like `return`'s, empty unless a payload is given (`deny status 204` -> 204 No Content).
    let legacy = deny
        && match rest {
            [] => true,
            [k, _] => k == "deny_status",
            _ => false,
        };
    let mut r = Reply {
        status: default,
        content_type: None,
        body: if legacy {
            ReplyBody::Default
        } else {
            ReplyBody::Empty
        },
        headers: Vec::new(),
    };
    let mut i = 0;
    while let Some(w) = rest.get(i) {
        let v = rest.get(i + 1);
        let need = |what: &str| v.cloned().ok_or_else(|| format!("'{w}' needs {what}"));
        match w.as_str() {
            "status" | "deny_status" => r.status = status_arg(v)?,
            "content-type" => r.content_type = Some(need("a media type")?),
            "string" => {
                r.body = ReplyBody::Text(LogFormat {
                    nodes: vec![LfNode::Lit(need("a string")?)],
                })
            }
            "lf-string" => {
                r.body = ReplyBody::Text(expr::parse_logformat(
                    &need("a log-format string")?,
                    env,
                    phase,
                )?)
            }
            "file" => r.body = ReplyBody::File(read_file(&need("a file name")?, env)?),
            "lf-file" => {
                let text =
                    String::from_utf8_lossy(&read_file(&need("a file name")?, env)?).into_owned();
                r.body = ReplyBody::Text(expr::parse_logformat(&text, env, phase)?)
            }
            "errorfile" => r.body = ReplyBody::Raw(read_file(&need("a file name")?, env)?),
            "default-errorfiles" => {
                r.body = ReplyBody::Default;
                i += 1;
                continue;
            }
            "errorfiles" => {
                return Err(
                    "'errorfiles' needs http-errors sections, which ringlb does not support yet"
                        .into(),
                )
            }
            "hdr" => {
                let (Some(n), Some(f)) = (rest.get(i + 1), rest.get(i + 2)) else {
                    return Err("'hdr' needs a name and a value".into());
                };
                r.headers
                    .push((header_name(n)?, expr::parse_logformat(f, env, phase)?));
                i += 3;
                continue;
            }
            o => {
                let hint = suggest::hint(
                    o,
                    [
                        "status",
                        "content-type",
                        "string",
                        "lf-string",
                        "file",
                        "lf-file",
                        "errorfile",
                        "default-errorfiles",
                        "hdr",
                    ],
                );
                return Err(format!("unknown argument '{o}'{hint}"));
            }
        }
        if v.is_none() {
            return Err(format!("'{w}' needs a value"));
        }
        i += 2;
    }
    if matches!(r.body, ReplyBody::Default) && !ERRORFILE_CODES.contains(&r.status) {
        let codes: Vec<String> = ERRORFILE_CODES.iter().map(u16::to_string).collect();
        return Err(format!(
            "status code '{}' not handled by default with 'default-errorfiles' (error pages exist for {}); give the answer a payload, e.g. 'status {} content-type text/plain string ...', or use 'return'",
            r.status,
            codes.join(" "),
            r.status
        ));
    }
    // HAProxy: "No body expected for 204 responses" (RFC 9110 6.4.1: 204 and 304 have none).
    let has_body = match &r.body {
        ReplyBody::Text(_) => true,
        ReplyBody::File(b) => !b.is_empty(),
        _ => false,
    };
    if has_body && matches!(r.status, 204 | 304) {
        return Err(format!("no body expected for {} responses", r.status));
    }
    let has_payload = matches!(r.body, ReplyBody::Text(_) | ReplyBody::File(_));
    if has_payload && r.content_type.is_none() {
        return Err(
            "a 'string', 'lf-string' or 'file' payload needs 'content-type TYPE' as well".into(),
        );
    }
    Ok(r)
}

pub(crate) fn redirect(rest: &[String], env: &ParseEnv, phase: Phase) -> Result<Redirect, String> {
    let [kind, to, opts @ ..] = rest else {
        return Err(
            "expects 'location|prefix|scheme VALUE [code N] [drop-query] [append-slash]'".into(),
        );
    };
    let kind = match kind.as_str() {
        "location" => RedirectKind::Location,
        "prefix" => RedirectKind::Prefix,
        "scheme" => RedirectKind::Scheme,
        o => {
            let hint = suggest::hint(o, ["location", "prefix", "scheme"]);
            return Err(format!("unknown redirect type '{o}'{hint}"));
        }
    };
    let mut r = Redirect {
        kind,
        to: expr::parse_logformat(to, env, phase)?,
        code: 302,
        drop_query: false,
        append_slash: false,
    };
    let mut i = 0;
    while let Some(w) = opts.get(i) {
        match w.as_str() {
            "code" => {
                let c = opts.get(i + 1).ok_or("'code' needs a value")?;
                r.code = c
                    .parse()
                    .ok()
                    .filter(|c| [301, 302, 303, 307, 308].contains(c))
                    .ok_or_else(|| {
                        format!("redirect code '{c}' must be 301, 302, 303, 307 or 308")
                    })?;
                i += 1;
            }
            "drop-query" => r.drop_query = true,
            "append-slash" => r.append_slash = true,
            "set-cookie" | "clear-cookie" => {
                return Err(format!("'{w}' is not supported by ringlb yet"))
            }
            o => {
                let hint = suggest::hint(o, ["code", "drop-query", "append-slash"]);
                return Err(format!("unknown redirect option '{o}'{hint}"));
            }
        }
        i += 1;
    }
    Ok(r)
}

/// `option originalto [except NET] [header NAME]`.
pub fn originalto(p: &mut ProxyDraft, cx: &mut Cx) {
    let mut ot = ForwardFor {
        header: "x-original-to".into(),
        except: None,
        if_none: false,
    };
    let mut args = cx.args.iter();
    while let Some(w) = args.next() {
        let v = args.next();
        match (w.as_str(), v) {
            ("except", Some(v)) => match addr::parse_cidr(v) {
                Ok(c) => ot.except = Some(c),
                Err(e) => return cx.err(format!("'option originalto except': {e}")),
            },
            ("header", Some(v)) if !v.is_empty() => ot.header = v.to_ascii_lowercase(),
            ("except" | "header", _) => {
                return cx.err(format!("'option originalto {w}' needs a value"))
            }
            (o, _) => {
                let hint = suggest::hint(o, ["except", "header"]);
                return cx.err(format!("'option originalto': unknown argument '{o}'{hint}"));
            }
        }
    }
    p.originalto = Some(ot);
}

/// `user NAME [password HASH | insecure-password PASS] [groups G1,G2]`.
pub fn user(u: &mut UserlistDraft, cx: &mut Cx) {
    let [name, rest @ ..] = cx.args else {
        return cx.err("'user' needs a name, e.g. 'user admin password $6$...'");
    };
    let mut password = None;
    let mut groups = Vec::new();
    let mut it = rest.iter();
    while let Some(w) = it.next() {
        let Some(v) = it.next() else {
            return cx.err(format!("user {name}: '{w}' needs a value"));
        };
        match w.as_str() {
            "password" => {
                if !(v.starts_with("$5$") || v.starts_with("$6$")) {
                    return cx.err(format!("user {name}: password hash must be sha256-crypt ($5$...) or sha512-crypt ($6$...); other crypt(3) schemes are not supported by ringlb"));
                }
                if sha_crypt::PasswordHashRef::new(v).is_err() {
                    return cx.err(format!("user {name}: '{v}' is not a valid crypt(3) hash"));
                }
                password = Some(Password::Crypt(v.clone()));
            }
            "insecure-password" => password = Some(Password::Insecure(v.clone())),
            "groups" => {
                groups = v
                    .split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            }
            o => {
                let hint = suggest::hint(o, ["password", "insecure-password", "groups"]);
                return cx.err(format!("user {name}: unknown argument '{o}'{hint}"));
            }
        }
    }
    let Some(password) = password else {
        return cx.err(format!(
            "user {name}: needs 'password HASH' or 'insecure-password PASS'"
        ));
    };
    u.users.push(UserDraft {
        name: name.clone(),
        password,
        groups,
        loc: cx.loc.clone(),
    });
}

/// `group NAME [users U1,U2]`.
pub fn group(u: &mut UserlistDraft, cx: &mut Cx) {
    let (name, users) = match cx.args {
        [n] => (n, Vec::new()),
        [n, k, v] if k == "users" => (
            n,
            v.split(',')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect(),
        ),
        _ => return cx.err("expected 'group NAME [users U1,U2]'"),
    };
    u.groups.push((name.clone(), users, cx.loc.clone()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(line: &str) -> Result<Action, String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        let (name, rest) = words.split_first().ok_or("empty")?;
        parse_action(name, rest, &ParseEnv::default(), Phase::Request)
    }

    fn reply_of(line: &str) -> Reply {
        match act(line) {
            Ok(Action::Deny(r) | Action::Tarpit(r) | Action::Return(r)) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn deny_legacy_and_reply_forms() {
        // Alone or with only `deny_status`: the status's error page (HAProxy's legacy mode).
        for (line, status) in [
            ("deny", 403),
            ("deny deny_status 429", 429),
            ("tarpit", 500),
        ] {
            let r = reply_of(line);
            assert!(matches!(r.body, ReplyBody::Default), "{line}");
            assert_eq!(r.status, status, "{line}");
        }
        // Any other argument: an http reply, empty without a payload.
        for (line, status) in [("deny status 204", 204), ("deny status 403", 403)] {
            let r = reply_of(line);
            assert!(matches!(r.body, ReplyBody::Empty), "{line}");
            assert_eq!(r.status, status, "{line}");
        }
        assert!(matches!(
            reply_of("deny deny_status 451 content-type text/plain string x").body,
            ReplyBody::Text(_)
        ));
    }

    #[test]
    fn normalize_uri_arguments() {
        for (line, want) in [
            (
                "normalize-uri path-merge-slashes",
                Normalizer::PathMergeSlashes,
            ),
            ("normalize-uri fragment-encode", Normalizer::FragmentEncode),
            ("normalize-uri fragment-strip", Normalizer::FragmentStrip),
            ("normalize-uri path-strip-dot", Normalizer::PathStripDot),
            (
                "normalize-uri query-sort-by-name",
                Normalizer::QuerySortByName,
            ),
            (
                "normalize-uri path-strip-dotdot",
                Normalizer::PathStripDotdot { full: false },
            ),
            (
                "normalize-uri path-strip-dotdot full",
                Normalizer::PathStripDotdot { full: true },
            ),
            (
                "normalize-uri percent-decode-unreserved strict",
                Normalizer::PercentDecodeUnreserved { strict: true },
            ),
            (
                "normalize-uri percent-to-uppercase",
                Normalizer::PercentToUppercase { strict: false },
            ),
        ] {
            match act(line) {
                Ok(Action::NormalizeUri(n)) => assert_eq!(n, want, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        for (line, want) in [
            (
                "normalize-uri",
                "missing argument <normalizer> (one of fragment-encode",
            ),
            (
                "normalize-uri path-merge-slash",
                "unknown normalizer 'path-merge-slash'; did you mean 'path-merge-slashes'?",
            ),
            (
                "normalize-uri path-strip-dotdot strict",
                "unknown argument 'strict' for 'path-strip-dotdot' normalizer (it takes 'full'",
            ),
            (
                "normalize-uri percent-to-uppercase full",
                "unknown argument 'full' for 'percent-to-uppercase'",
            ),
            ("normalize-uri path-strip-dot full", "unexpected 'full'"),
            ("normalize-uri path-strip-dotdot full x", "unexpected 'x'"),
        ] {
            let err = act(line).err().unwrap_or_default();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn refused_like_haproxy() {
        for (line, want) in [
            ("deny deny_status 451", "not handled by default"),
            ("tarpit deny_status 204", "not handled by default"),
            (
                "return status 421 default-errorfiles",
                "not handled by default",
            ),
            (
                "deny status 204 content-type text/plain string d",
                "no body expected for 204",
            ),
            (
                "return status 204 content-type text/plain string d",
                "no body expected for 204",
            ),
            (
                "return status 304 content-type text/plain lf-string %[path]",
                "no body expected for 304",
            ),
        ] {
            let err = act(line).err().unwrap_or_default();
            assert!(err.contains(want), "{line}: {err}");
        }
        for ok in [
            "return status 204",
            "return status 304",
            "deny status 204 content-type text/plain",
        ] {
            assert!(act(ok).is_ok(), "{ok}");
        }
    }
}
