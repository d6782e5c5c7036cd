//! Parse functions for `tcp-request` and `tcp-response` lines: the rule set (`connection`,
//! `session`, `content`) or `inspect-delay`, the action, then `if|unless CONDITION` (ACL
//! names resolved by `validate`, as for HTTP rules). Actions ringlb does not have are refused
//! by name, each with its reason.

use super::cond;
use super::draft::{ProxyDraft, TcpRuleDraft};
use super::error::Diags;
use super::keywords::Cx;
use super::model::{Acl, Condition, Loc, Mode};
use super::model_rules::Needs;
use super::model_tcp::{TcpAction, TcpSet};
use super::model_tcp::{TcpRule, TcpRules};
use super::suggest;
use super::syntax::SectionKind;

const REQUEST_SETS: [&str; 4] = ["connection", "session", "content", "inspect-delay"];
const RESPONSE_SETS: [&str; 2] = ["content", "inspect-delay"];

const NO_VARS: &str = "not supported yet in tcp-request/tcp-response rules (http-request and http-response rules set variables)";
const NO_STICK: &str = "stick tables are not supported yet";

/// Actions HAProxy 2.6 has that ringlb refuses, with why (prefix match on the action word).
const REFUSED: &[(&str, &str)] = &[
    ("set-var", NO_VARS),
    ("set-var-fmt", NO_VARS),
    ("unset-var", NO_VARS),
    ("track-sc", NO_STICK),
    ("sc-inc-gpc", NO_STICK),
    ("sc-set-gpt", NO_STICK),
    ("set-src", "not supported yet"),
    ("set-dst", "not supported yet"),
    ("set-mark", "not supported yet"),
    ("set-tos", "not supported yet"),
    ("set-nice", "not supported yet"),
    ("set-log-level", "not supported yet"),
    ("set-priority", "not supported yet"),
    (
        "capture",
        "not supported yet (use 'http-request capture' in mode http)",
    ),
    ("do-resolve", "not supported yet (no resolvers)"),
    ("send-spoe-group", "not supported yet (no SPOE)"),
    ("use-service", "not supported yet"),
    (
        "switch-mode",
        "not supported yet: a mode tcp frontend relays bytes; use 'mode http' on it",
    ),
    ("expect-netscaler-cip", "not supported yet"),
];

pub fn tcp_request(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some((set, rest)) = cx.args.split_first() else {
        return cx.err(format!(
            "'tcp-request' needs one of {}",
            REQUEST_SETS.join(", ")
        ));
    };
    let set = match set.as_str() {
        "inspect-delay" => return inspect_delay(p, cx, rest, false),
        "connection" => TcpSet::Connection,
        "session" => TcpSet::Session,
        "content" => TcpSet::Content,
        other => {
            let hint = suggest::hint(other, REQUEST_SETS);
            return cx.err(format!(
                "'tcp-request {other}': expected one of {}{hint}",
                REQUEST_SETS.join(", ")
            ));
        }
    };
    rule(p, cx, set, rest);
}

pub fn tcp_response(p: &mut ProxyDraft, cx: &mut Cx) {
    let Some((set, rest)) = cx.args.split_first() else {
        return cx.err("'tcp-response' needs 'content' or 'inspect-delay'");
    };
    match set.as_str() {
        "inspect-delay" => inspect_delay(p, cx, rest, true),
        "content" => rule(p, cx, TcpSet::Response, rest),
        other => {
            let hint = suggest::hint(other, RESPONSE_SETS);
            cx.err(format!(
                "'tcp-response {other}': expected content or inspect-delay{hint}"
            ))
        }
    }
}

fn inspect_delay(p: &mut ProxyDraft, cx: &mut Cx, args: &[String], response: bool) {
    let what = if response {
        "tcp-response inspect-delay"
    } else {
        "tcp-request inspect-delay"
    };
    if response && cx.section == SectionKind::Frontend {
        return cx.err(format!("'{what}' belongs to a backend or listen section"));
    }
    let [text] = args else {
        return cx.err(format!("'{what}' needs one delay, e.g. '{what} 5s'"));
    };
    let Some(d) = cx.duration(text) else { return };
    if response {
        p.tcp_response_delay = Some(d);
    } else {
        p.tcp_inspect_delay = Some(d);
    }
}

fn rule(p: &mut ProxyDraft, cx: &mut Cx, set: TcpSet, args: &[String]) {
    let kw = set.keyword();
    let frontend_only = matches!(set, TcpSet::Connection | TcpSet::Session);
    if frontend_only && cx.section == SectionKind::Backend {
        return cx.err(format!("'{kw}' belongs to a frontend or listen section"));
    }
    if set == TcpSet::Response && cx.section == SectionKind::Frontend {
        return cx.err(format!("'{kw}' belongs to a backend or listen section"));
    }
    let cond_at = args
        .iter()
        .position(|w| w == "if" || w == "unless")
        .unwrap_or(args.len());
    let (action_words, cond_words) = args.split_at(cond_at);
    let action = match parse_action(set, action_words) {
        Ok(a) => a,
        Err(e) => return cx.err(format!("{kw}: {e}")),
    };
    let cond = if cond_words.is_empty() {
        None
    } else {
        match cond::parse_condition(cond_words, &mut p.acls, &p.env) {
            Ok(c) => Some(c),
            Err(e) => return cx.err(format!("{kw}: {e}")),
        }
    };
    while p.acl_locs.len() < p.acls.len() {
        p.acl_locs.push(cx.loc.clone());
    }
    p.tcp_rules.push(TcpRuleDraft {
        set,
        action,
        cond,
        loc: cx.loc.clone(),
    });
}

/// The actions each rule set may take (HAProxy 2.6's lists, as far as ringlb has them).
fn allowed(set: TcpSet) -> &'static [&'static str] {
    match set {
        TcpSet::Connection => &["accept", "reject", "expect-proxy", "silent-drop"],
        TcpSet::Session | TcpSet::Content => &["accept", "reject", "silent-drop"],
        TcpSet::Response => &["accept", "reject", "close", "silent-drop"],
    }
}

fn parse_action(set: TcpSet, words: &[String]) -> Result<TcpAction, String> {
    let Some((name, rest)) = words.split_first() else {
        return Err(format!("needs an action: {}", allowed(set).join(", ")));
    };
    let base = name.split('(').next().unwrap_or(name);
    if let Some((_, why)) = REFUSED.iter().find(|(p, _)| base.starts_with(p)) {
        return Err(format!("action '{name}' is refused: {why}"));
    }
    if !allowed(set).contains(&base) {
        let hint = suggest::hint(base, allowed(set).iter().copied());
        return Err(format!(
            "unknown action '{name}' here, expected one of {}{hint}",
            allowed(set).join(", ")
        ));
    }
    let action = match base {
        "accept" => TcpAction::Accept,
        "reject" => TcpAction::Reject,
        "silent-drop" => TcpAction::SilentDrop,
        "close" => TcpAction::Close,
        _ => {
            // expect-proxy layer4
            return match rest {
                [l] if l == "layer4" => Ok(TcpAction::ExpectProxy),
                _ => Err("'expect-proxy' takes 'layer4': 'expect-proxy layer4'".into()),
            };
        }
    };
    match rest {
        [] => Ok(action),
        _ => Err(format!(
            "'{name}' takes no argument; unexpected '{}'",
            rest.join(" ")
        )),
    }
}

/// The proxy's rules with their ACLs resolved, for the side `acls` belongs to (a frontend's
/// connection, session and content rules; a backend's content and response rules), and the
/// checks of where each condition's fetches can answer.
pub fn build(p: &ProxyDraft, acls: &mut Vec<Acl>, mode: Mode, diags: &mut Diags) -> TcpRules {
    let mut out = TcpRules {
        inspect_delay: p.tcp_inspect_delay,
        response_delay: p.tcp_response_delay,
        ..TcpRules::default()
    };
    for r in &p.tcp_rules {
        let kw = r.set.keyword();
        if mode == Mode::Http {
            if let Some(why) = http_mode_refusal(r) {
                if !p.failed.quiet("mode") {
                    diags.error(&r.loc, format!("{kw}: {why}"));
                }
                continue;
            }
        }
        let cond = match &r.cond {
            Some(c) => match super::validate::resolve_cond(c, acls, p, &r.loc, kw, diags) {
                Some(c) => c,
                None => continue,
            },
            None => None,
        };
        if let Some(c) = &cond {
            if !fetches_fit(p, (r.set, mode), c, acls, &r.loc, diags) {
                continue;
            }
        }
        let rule = TcpRule {
            action: r.action.clone(),
            cond,
            loc: r.loc.clone(),
        };
        match r.set {
            TcpSet::Connection => out.connection.push(rule),
            TcpSet::Session => out.session.push(rule),
            TcpSet::Content => out.content.push(rule),
            TcpSet::Response => out.response.push(rule),
        }
    }
    out
}

/// What mode http does not take yet: response rules, and `silent-drop` in content rules (the
/// HTTP connection level owns the socket).
fn http_mode_refusal(r: &TcpRuleDraft) -> Option<&'static str> {
    match (r.set, &r.action) {
        (TcpSet::Response, _) => {
            Some("rules in a 'mode http' proxy are not supported yet; use http-response rules")
        }
        (TcpSet::Content, TcpAction::SilentDrop) => {
            Some("'silent-drop' in a 'mode http' proxy is not supported yet; use 'reject'")
        }
        _ => None,
    }
}

/// HTTP fetches have no request to read in these rules (mode tcp): an error, as for
/// `use_backend` in mode tcp. A content fetch where no content is held (connection and
/// session rules, the other direction) can never match: a warning, as HAProxy gives.
fn fetches_fit(
    p: &ProxyDraft,
    (set, mode): (TcpSet, Mode),
    c: &Condition,
    acls: &[Acl],
    loc: &Loc,
    diags: &mut Diags,
) -> bool {
    let kw = set.keyword();
    for t in c.any_of.iter().flatten() {
        let Some(acl) = acls.get(t.acl) else { continue };
        let name = if acl.name.is_empty() {
            "anonymous".to_string()
        } else {
            acl.name.clone()
        };
        for m in &acl.matchers {
            let fetch = cond::fetch_name(&m.expr.fetch);
            let fits = match m.expr.needs {
                Needs::Conn | Needs::Nothing => true,
                // Mode http: the request head is there when content rules run.
                Needs::Request if mode == Mode::Http => set == TcpSet::Content,
                Needs::Content | Needs::ResContent if mode == Mode::Http => {
                    diags.error(loc, format!("{kw}: '{fetch}' in a 'mode http' proxy is not supported yet (content inspection is for mode tcp)"));
                    return false;
                }
                Needs::Response if mode == Mode::Http => false,
                Needs::Request | Needs::Response => {
                    diags.error(loc, format!("{kw}: acl '{name}' uses '{fetch}', which needs 'mode http', but {} '{}' is in mode tcp", p.kind.name(), p.name));
                    return false;
                }
                Needs::Content => set == TcpSet::Content,
                Needs::ResContent => set == TcpSet::Response,
            };
            if !fits {
                diags.warn(loc, format!("acl '{name}' will never match because it only involves keywords that are incompatible with '{} {kw} rule' ('{fetch}')", p.kind.name()));
            }
        }
    }
    true
}
