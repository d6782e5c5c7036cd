//! Global `set-var` and `set-var-fmt`: `proc.*` variables, evaluated once while the
//! configuration loads (HAProxy 2.6's semantics), then the same on every core. Only internal
//! data is there to read: constants (`str()`, `int()`...), `env()`, and the proc variables set
//! by the lines above.

use std::net::{Ipv4Addr, SocketAddr};

use super::draft::GlobalDraft;
use super::expr::{self, ParseEnv};
use super::keywords::Cx;
use super::model_rules::{Needs, Phase};
use crate::rules::{fetch, logformat, Ctx, Smp};

/// `set-var proc.NAME EXPR`.
pub fn set_var(g: &mut GlobalDraft, cx: &mut Cx) {
    let [name, text] = cx.args else {
        return cx.err(
            "'set-var' needs a proc variable and an expression, e.g. 'set-var proc.prio int(100)'",
        );
    };
    let Some(name) = proc_name(name, cx) else {
        return;
    };
    let e = match expr::parse_expr(text, &ParseEnv::default()) {
        Ok(e) => e,
        Err(m) => return cx.err(m),
    };
    if e.needs != Needs::Nothing {
        return cx.err(format!(
            "sample fetch '{}' reads a connection or a request, which the global section has not: only internal data (str(), int(), env(), proc variables) may be used here",
            expr::fetch_label(&e.fetch)
        ));
    }
    let value = fetch::sample(&e, &config_ctx(g)).map(|s| s.to_owned_smp());
    match value {
        Some(v) => g.proc_vars.set(&name, v),
        // HAProxy 2.6 loads such a line and leaves the variable unset: so does ringlb, saying so.
        None => cx.warn(format!(
            "the expression '{text}' gives no value here, so '{name}' is not set"
        )),
    }
}

/// `set-var-fmt proc.NAME FMT`.
pub fn set_var_fmt(g: &mut GlobalDraft, cx: &mut Cx) {
    let [name, text] = cx.args else {
        return cx.err("'set-var-fmt' needs a proc variable and a log-format string, e.g. 'set-var-fmt proc.state \"primary\"'");
    };
    let Some(name) = proc_name(name, cx) else {
        return;
    };
    let lf = match expr::parse_logformat(text, &ParseEnv::default(), Phase::Request) {
        Ok(lf) => lf,
        Err(m) => return cx.err(m),
    };
    let text = logformat::to_vec(&lf, &config_ctx(g));
    g.proc_vars.set(&name, Smp::Str(text.into()));
}

fn proc_name(name: &str, cx: &mut Cx) -> Option<std::sync::Arc<str>> {
    match expr::var_name(name) {
        Ok(n) if n.starts_with("proc.") => Some(n),
        Ok(n) => {
            let short = n.split_once('.').map_or(&*n, |(_, s)| s);
            cx.err(format!(
                "the global section sets process variables only: write 'proc.{short}' instead of '{n}'"
            ));
            None
        }
        Err(m) => {
            cx.err(m);
            None
        }
    }
}

/// What an expression sees while the configuration loads: no connection, no request, the
/// proc variables so far.
fn config_ctx(g: &GlobalDraft) -> Ctx<'_> {
    let none = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    Ctx {
        vars: Some(&g.proc_vars),
        ..Ctx::conn(none, none, "", None)
    }
}
