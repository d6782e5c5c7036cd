//! The action table of `http-request`, `http-response` and `http-after-response` rules: every
//! action ringlb runs, with the phases it may appear in and its parse function; then the HAProxy
//! actions ringlb refuses by name. `parse` looks a name up, checks the phase and words a miss.
//!
//! The argument parsers several actions share (replies, redirects, header names, normalizers)
//! live in `http_rules`, beside the rule line they come from.

use super::{refusal, Handler, YET};
use crate::config::expr::{self, ParseEnv};
use crate::config::http_rules::{
    anchored_regex, header_name, no_more, normalizer, redirect, reply, set_status,
};
use crate::config::model_rules::{Action, LogFormat, Phase, Service, SetVar, VarValue};
use crate::config::suggest;

/// `http-request`.
pub const REQ: u8 = 1;
/// `http-response` and `http-after-response`.
pub const RES: u8 = 2;

/// The phase bit of a rule keyword.
pub fn phase_bit(phase: Phase) -> u8 {
    match phase {
        Phase::Request => REQ,
        Phase::Response | Phase::AfterResponse => RES,
    }
}

/// An action as written: `NAME[(ARG)] REST...` in a rule of `phase`.
pub struct Args<'a> {
    pub name: &'a str,
    /// `set-var(txn.x)`: the argument carried in the action word.
    pub arg: Option<&'a str>,
    pub rest: &'a [String],
    pub env: &'a ParseEnv,
    pub phase: Phase,
}

impl Args<'_> {
    fn logformat(&self, text: &str) -> Result<LogFormat, String> {
        expr::parse_logformat(text, self.env, self.phase)
    }
}

pub type ParseFn = fn(&Args) -> Result<Action, String>;

/// A supported action: where it may appear, how it is written, how it is parsed.
#[derive(Clone, Copy)]
pub struct Spec {
    /// `REQ`, `RES` or both.
    pub phases: u8,
    /// A use of it that loads (the words after the rule keyword), for README.md and the tests.
    pub example: &'static str,
    pub parse: ParseFn,
}

pub struct Row {
    pub name: &'static str,
    pub handler: Handler<Spec>,
}

const fn ok(name: &'static str, phases: u8, example: &'static str, parse: ParseFn) -> Row {
    Row {
        name,
        handler: Handler::Parse(Spec {
            phases,
            example,
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

const BOTH: u8 = REQ | RES;

/// Supported rows first, in the order "did you mean" prefers on a tie.
#[rustfmt::skip]
pub static TABLE: &[Row] = &[
    ok("allow", BOTH, "allow", allow),
    ok("deny", BOTH, "deny", deny),
    ok("tarpit", REQ, "tarpit", tarpit),
    ok("auth", REQ, "auth realm r", auth),
    ok("redirect", BOTH, "redirect location /x", |a| Ok(Action::Redirect(redirect(a.rest, a.env, a.phase)?))),
    ok("return", BOTH, "return status 200", |a| Ok(Action::Return(reply(a.rest, a.env, a.phase, 200, false)?))),
    ok("set-header", BOTH, "set-header x-a b", |a| header_edit(a, Action::SetHeader)),
    ok("add-header", BOTH, "add-header x-a b", |a| header_edit(a, Action::AddHeader)),
    ok("del-header", BOTH, "del-header x-a", del_header),
    ok("replace-header", BOTH, "replace-header x-a a b", |a| replace_header(a, false)),
    ok("replace-value", BOTH, "replace-value x-a a b", |a| replace_header(a, true)),
    ok("set-path", REQ, "set-path /x", |a| rewrite(a, Action::SetPath)),
    ok("set-query", REQ, "set-query a=b", |a| rewrite(a, Action::SetQuery)),
    ok("set-uri", REQ, "set-uri /x", |a| rewrite(a, Action::SetUri)),
    ok("set-method", REQ, "set-method GET", |a| rewrite(a, Action::SetMethod)),
    ok("set-status", RES, "set-status 201", |a| set_status(a.rest)),
    ok("set-var", BOTH, "set-var(txn.x) str(a)", set_var),
    ok("set-var-fmt", BOTH, "set-var-fmt(txn.x) %[src]:%[src_port]", set_var_fmt),
    ok("unset-var", BOTH, "unset-var(txn.x)", unset_var),
    ok("normalize-uri", REQ, "normalize-uri path-merge-slashes", |a| Ok(Action::NormalizeUri(normalizer(a.rest)?))),
    ok("capture", REQ, "capture req.hdr(user-agent) len 64", capture),
    ok("use-service", REQ, "use-service prometheus-exporter", use_service),
    no("track-sc0"),
    no("track-sc1"),
    no("track-sc2"),
    no("sc-inc-gpc0"),
    no("set-log-level"),
    no("set-nice"),
    no("set-tos"),
    no("set-mark"),
    no("set-src"),
    no("set-dst"),
    no("set-timeout"),
    no("cache-use"),
    no("cache-store"),
    no("lua"),
    no("wait-for-body"),
    no("wait-for-handshake"),
    no("early-hint"),
    no("set-map"),
    no("del-map"),
    no("add-acl"),
    no("del-acl"),
    no("silent-drop"),
    no("reject"),
    no("replace-path"),
    no("replace-pathq"),
    no("replace-uri"),
    no("set-pathq"),
    no("strict-mode"),
    no("disable-l7-retry"),
    no("do-resolve"),
    no("send-spoe-group"),
    no("set-priority-class"),
    no("set-priority-offset"),
];

/// Families refused as a whole, beyond the rows above: HAProxy's stick counters
/// (`track-sc3`, `sc-set-gpt0`, ...), whatever their number.
pub const REFUSED_PREFIXES: &[(&str, &str)] = &[("track-sc", YET), ("sc-", YET)];

/// The row of `name`, if any.
pub fn find(name: &str) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.name == name)
}

/// Parses an action of a rule of `a.phase`.
pub fn parse(a: &Args) -> Result<Action, String> {
    let name = a.name;
    match find(name).map(|r| r.handler) {
        Some(Handler::Parse(spec)) if spec.phases & phase_bit(a.phase) != 0 => (spec.parse)(a),
        Some(Handler::Parse(_)) => Err(format!(
            "action '{name}' is not available in {} rules",
            a.phase.keyword()
        )),
        Some(Handler::Refused(why)) => Err(refusal(&format!("action '{name}'"), why)),
        None => match REFUSED_PREFIXES.iter().find(|(p, _)| name.starts_with(p)) {
            Some((_, why)) => Err(refusal(&format!("action '{name}'"), why)),
            None => Err(unknown(name, a.phase)),
        },
    }
}

/// An unknown action, with the closest one this phase runs.
fn unknown(name: &str, phase: Phase) -> String {
    let here = TABLE.iter().filter_map(|r| match r.handler {
        Handler::Parse(s) if s.phases & phase_bit(phase) != 0 => Some(r.name),
        Handler::Parse(_) | Handler::Refused(_) => None,
    });
    format!("unknown action '{name}'{}", suggest::hint(name, here))
}

fn allow(a: &Args) -> Result<Action, String> {
    no_more(a.rest)?;
    Ok(Action::Allow)
}

/// HAProxy: a denied request gets 403, a denied response 502.
fn deny(a: &Args) -> Result<Action, String> {
    let status = match a.phase {
        Phase::Request => 403,
        Phase::Response | Phase::AfterResponse => 502,
    };
    Ok(Action::Deny(reply(a.rest, a.env, a.phase, status, true)?))
}

fn tarpit(a: &Args) -> Result<Action, String> {
    Ok(Action::Tarpit(reply(a.rest, a.env, a.phase, 500, true)?))
}

fn auth(a: &Args) -> Result<Action, String> {
    match a.rest {
        [] => Ok(Action::Auth { realm: None }),
        [r, v] if r == "realm" => Ok(Action::Auth {
            realm: Some(v.clone()),
        }),
        _ => Err("expected 'auth [realm REALM]'".into()),
    }
}

/// `set-header NAME FMT` and `add-header NAME FMT`.
fn header_edit(a: &Args, action: fn(String, LogFormat) -> Action) -> Result<Action, String> {
    let [n, v] = a.rest else {
        return Err("expects a header name and a value (log-format), e.g. set-header X-Forwarded-Proto https".into());
    };
    Ok(action(header_name(n)?, a.logformat(v)?))
}

fn del_header(a: &Args) -> Result<Action, String> {
    match a.rest {
        [n] => Ok(Action::DelHeader(header_name(n)?)),
        [n, m, s] if m == "-m" && s == "str" => Ok(Action::DelHeader(header_name(n)?)),
        _ => Err(
            "expects a header name: del-header NAME (only '-m str' matching is supported)".into(),
        ),
    }
}

/// `replace-header NAME REGEX FMT` and (`each_value`) `replace-value NAME REGEX FMT`.
fn replace_header(a: &Args, each_value: bool) -> Result<Action, String> {
    let [n, re, with] = a.rest else {
        return Err(format!(
            "expects a header name, a regex and a replacement: {} NAME REGEX FMT",
            a.name
        ));
    };
    Ok(Action::ReplaceHeader {
        name: header_name(n)?,
        re: anchored_regex(re)?,
        with: a.logformat(with)?,
        each_value,
    })
}

/// `set-path`, `set-query`, `set-uri` and `set-method`: one log-format argument.
fn rewrite(a: &Args, action: fn(LogFormat) -> Action) -> Result<Action, String> {
    let [v] = a.rest else {
        return Err("expects one log-format argument".into());
    };
    Ok(action(a.logformat(v)?))
}

fn set_var(a: &Args) -> Result<Action, String> {
    let [e] = a.rest else {
        return Err("expects one sample expression, e.g. set-var(txn.host) req.hdr(host)".into());
    };
    let e = expr::parse_expr(e, a.env)?;
    expr::check_phase(&e, a.phase)?;
    settable(a.arg, VarValue::Expr(e))
}

fn set_var_fmt(a: &Args) -> Result<Action, String> {
    let [f] = a.rest else {
        return Err(
            "expects one log-format argument, e.g. set-var-fmt(txn.from) %[src]:%[src_port]".into(),
        );
    };
    settable(a.arg, VarValue::Fmt(a.logformat(f)?))
}

/// `NAME[,COND...]` of a rule's set-var: any scope but `proc` (set in `global` only here).
fn settable(arg: Option<&str>, value: VarValue) -> Result<Action, String> {
    let (name, conds) = expr::var_with_conds(arg.unwrap_or(""))?;
    refuse_proc(&name)?;
    Ok(Action::SetVar(Box::new(SetVar { name, value, conds })))
}

/// Rules run on every core apart: a `proc` variable they changed would change on one core
/// only, so only `global` sets them.
fn refuse_proc(name: &str) -> Result<(), String> {
    if name.starts_with("proc.") {
        return Err(format!(
            "variable '{name}': rules cannot change proc variables in ringlb (each core runs its own rules, so the change would stay on one core); set it in the global section with 'set-var {name} EXPR'"
        ));
    }
    Ok(())
}

/// `capture SAMPLE len N`; the slot is the frontend's next request capture (`http_rules`).
fn capture(a: &Args) -> Result<Action, String> {
    let (e, len) =
        match a.rest {
            [e, l, n] if l == "len" => (e, n),
            [_, i, _] if i == "id" => return Err(
                "the 'id' form is not supported yet; write 'capture SAMPLE len N' in the frontend"
                    .into(),
            ),
            _ => {
                return Err(
                    "expects 'capture SAMPLE len LENGTH', e.g. capture req.hdr(user-agent) len 64"
                        .into(),
                )
            }
        };
    let len = match len.parse::<usize>() {
        Ok(n) if n > 0 => n,
        _ => return Err(format!("the length '{len}' must be a number of at least 1")),
    };
    let expr = expr::parse_expr(e, a.env)?;
    expr::check_phase(&expr, a.phase)?;
    Ok(Action::Capture {
        expr,
        len,
        slot: usize::MAX,
    })
}

fn unset_var(a: &Args) -> Result<Action, String> {
    no_more(a.rest)?;
    let name = expr::var_name(a.arg.unwrap_or(""))?;
    refuse_proc(&name)?;
    Ok(Action::UnsetVar(name))
}

fn phases_cell(phases: u8) -> &'static str {
    match (phases & REQ != 0, phases & RES != 0) {
        (true, true) => "`http-request`, `http-response`, `http-after-response`",
        (true, false) => "`http-request`",
        (false, true) => "`http-response`, `http-after-response`",
        (false, false) => "none",
    }
}

/// The table as markdown, for README.md.
pub fn markdown() -> String {
    let rows = TABLE.iter().map(|r| match r.handler {
        Handler::Parse(s) => vec![
            format!("`{}`", r.name),
            format!("`{}`", s.example),
            phases_cell(s.phases).to_string(),
        ],
        Handler::Refused(why) => vec![
            format!("`{}`", r.name),
            String::new(),
            super::refused_cell(why),
        ],
    });
    let prefixes = REFUSED_PREFIXES
        .iter()
        .map(|(p, why)| vec![format!("`{p}*`"), String::new(), super::refused_cell(why)]);
    super::markdown(
        &["action", "example", "may appear in"],
        rows.chain(prefixes),
    )
}

/// `use-service prometheus-exporter`, the one built-in service (HAProxy's `lua.NAME` services
/// need Lua, which ringlb does not run).
fn use_service(a: &Args) -> Result<Action, String> {
    match a.rest {
        [name] if name == "prometheus-exporter" => Ok(Action::UseService(Service::PrometheusExporter)),
        [name] if name.starts_with("lua.") => Err(format!(
            "'use-service {name}': Lua services are not supported; ringlb's built-in service is 'prometheus-exporter'"
        )),
        [name] => {
            let hint = suggest::hint(name, ["prometheus-exporter"]);
            Err(format!("'use-service {name}': unknown service{hint}; ringlb has 'prometheus-exporter'"))
        }
        [] => Err("'use-service' needs a service name: 'use-service prometheus-exporter'".into()),
        [_, rest @ ..] => Err(format!("'use-service': unexpected '{}'", rest.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_unique, errors};
    use super::*;

    #[test]
    fn names_are_unique() {
        assert_unique(TABLE.iter().map(|r| r.name));
    }

    fn config_with(rule: &str, action: &str) -> String {
        format!(
            "frontend f\n  mode http\n  bind 127.0.0.1:0\n  {rule} {action}\n  default_backend b\nbackend b\n  mode http\n  server s 127.0.0.1:1\n"
        )
    }

    const RULES: [Phase; 3] = [Phase::Request, Phase::Response, Phase::AfterResponse];

    #[test]
    fn every_row_parses_or_is_refused_through_the_loader() {
        for row in TABLE {
            for phase in RULES {
                let errs = errors(&config_with(
                    phase.keyword(),
                    match row.handler {
                        Handler::Parse(s) => s.example,
                        Handler::Refused(_) => row.name,
                    },
                ));
                let want = match row.handler {
                    Handler::Parse(s) if s.phases & phase_bit(phase) != 0 => None,
                    Handler::Parse(_) => Some(format!(
                        "action '{}' is not available in {} rules",
                        row.name,
                        phase.keyword()
                    )),
                    Handler::Refused(_) => Some(format!(
                        "action '{}' is not supported by ringlb yet",
                        row.name
                    )),
                };
                match want {
                    None => assert!(
                        errs.is_empty(),
                        "{} {}: {errs:?}",
                        phase.keyword(),
                        row.name
                    ),
                    Some(w) => assert!(
                        errs.iter().any(|e| e.contains(&w)),
                        "{} {}: {errs:?}",
                        phase.keyword(),
                        row.name
                    ),
                }
            }
        }
    }

    #[test]
    fn refused_families_are_refused_through_the_loader() {
        for (prefix, _) in REFUSED_PREFIXES {
            let name = format!("{prefix}9");
            let errs = errors(&config_with("http-request", &name));
            let want = format!("action '{name}' is not supported by ringlb yet");
            assert!(errs.iter().any(|e| e.contains(&want)), "{name}: {errs:?}");
        }
    }

    #[test]
    fn misses_are_refused_or_get_a_suggestion_of_the_phase() {
        let env = ParseEnv::default();
        let parse_in = |name: &str, phase: Phase| {
            parse(&Args {
                name,
                arg: None,
                rest: &[],
                env: &env,
                phase,
            })
            .err()
            .unwrap_or_default()
        };
        assert_eq!(
            parse_in("track-sc9", Phase::Request),
            "action 'track-sc9' is not supported by ringlb yet"
        );
        assert_eq!(
            parse_in("set-pth", Phase::Request),
            "unknown action 'set-pth'; did you mean 'set-path'?"
        );
        assert_eq!(
            parse_in("set-stats", Phase::Response),
            "unknown action 'set-stats'; did you mean 'set-status'?"
        );
    }
}
