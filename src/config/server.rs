//! `server` and `default-server` lines: the name and address here, each option by its row in
//! `catalog::server_options`.

use super::addr;
use super::catalog::server_options;
use super::draft::{ProxyDraft, ServerOpts};
use super::keywords::Cx;
use super::model::{Server, ServerStart};

pub fn default_server(p: &mut ProxyDraft, cx: &mut Cx) {
    let mut opts = p.default_server.clone();
    if parse_opts(&mut opts, cx.args, cx) {
        p.default_server = opts;
    }
}

pub fn server(p: &mut ProxyDraft, cx: &mut Cx) {
    let [name, address, rest @ ..] = cx.args else {
        return cx
            .err("'server' needs a name and an address, e.g. 'server web1 127.0.0.1:9001 check'");
    };
    let mut ok = true;
    if let Some(first) = p.servers.iter().find(|s| s.name == *name) {
        cx.err(format!(
            "duplicate server name '{name}' in backend '{}' (first defined at {}); give each server its own name",
            p.name, first.loc
        ));
        ok = false;
    }
    let mut opts = p.default_server.clone();
    ok &= parse_opts(&mut opts, rest, cx);
    ok &= check_options_need_check(&opts, rest, cx);
    let addr = match addr::parse_server(address) {
        Ok(a) => a,
        Err(e) => return cx.err(format!("server '{name}': {e}")),
    };
    if ok {
        p.servers.push(Server {
            name: name.clone(),
            loc: cx.loc.clone(),
            addr,
            weight: opts.weight,
            maxconn: opts.maxconn,
            backup: opts.backup,
            disabled: opts.disabled,
            check: opts.check(),
            slowstart: opts.slowstart,
            pool: opts.pool,
            tls: opts.tls(),
            send_proxy: opts.send_proxy(),
            start: ServerStart::configured(opts.disabled, opts.weight),
        });
    }
}

/// Applies server options, each by its row in `catalog::server_options`; returns false after
/// reporting an error.
fn parse_opts(o: &mut ServerOpts, args: &[String], cx: &mut Cx) -> bool {
    let mut i = 0;
    while i < args.len() {
        match server_options::apply(o, &args[i..]) {
            Ok(used) => i += used,
            Err(e) => {
                // One error per line: after an unknown option, the next words cannot be trusted.
                cx.err(e);
                return false;
            }
        }
    }
    true
}

/// Health-check options written on a server line without `check` (here or inherited) would
/// silently do nothing: a missing `check` is the likelier mistake, so say so.
fn check_options_need_check(o: &ServerOpts, written: &[String], cx: &mut Cx) -> bool {
    if o.check {
        return true;
    }
    let Some(opt) = written
        .iter()
        .find(|w| server_options::needs_check(w.as_str()))
    else {
        return true;
    };
    cx.err(format!(
        "server option '{opt}' configures health checks but this server has no 'check'; add 'check' (or remove '{opt}')"
    ));
    false
}
