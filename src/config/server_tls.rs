//! The TLS options of `server` / `default-server` lines (`ssl verify ca-file crt sni alpn
//! check-ssl ...`): their parse functions (rows in `catalog::server_options`), then, at
//! validation, the settings as they apply (paths resolved against `ca-base`/`crt-base`, the
//! `ssl-default-server-*` globals and `ssl-server-verify` merged) and the files loaded once
//! through `tls::client_config`, so that a bad CA or certificate file is reported at the
//! server line's `file:line`.

use super::catalog::server_options::Opt;
use super::draft::ServerOpts;
use super::error::Diags;
use super::expr::{parse_expr, ParseEnv};
use super::model::{Loc, Server};
use super::model_rules::{Expr, Fetch, Needs};
use super::model_tls::{GlobalTls, ServerSni, ServerTls, SniExpr};
use super::{bind_tls, suggest};

/// `verify none|required` (servers have no `optional`).
pub fn verify(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    o.tls.verify = Some(match v.value {
        "none" => false,
        "required" => true,
        other => {
            let hint = suggest::hint(other, ["none", "required"]);
            return Err(format!(
                "server option 'verify {other}': expected none or required{hint}"
            ));
        }
    });
    Ok(())
}

/// `sni EXPR`: a constant (`str(NAME)`) is kept as the name; a request fetch is evaluated per
/// request; what cannot be known before the request goes out (response fetches) is refused.
pub fn sni(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    let text = v.value;
    let expr = parse_expr(text, &ParseEnv::default())
        .map_err(|e| format!("server option 'sni {text}': {e}"))?;
    o.tls.sni = Some(classify_sni(text, expr)?);
    Ok(())
}

fn classify_sni(text: &str, expr: Expr) -> Result<ServerSni, String> {
    if expr.convs.is_empty() {
        match &expr.fetch {
            Fetch::Str(s) => return Ok(ServerSni::Fixed(s.clone())),
            Fetch::Env(Some(s)) => return Ok(ServerSni::Fixed(s.clone())),
            _ => {}
        }
    }
    if expr.needs == Needs::Response {
        return Err(format!(
            "server option 'sni {text}': a response fetch cannot name the server before the request is sent; use str(NAME) or a request fetch such as req.hdr(host)"
        ));
    }
    Ok(ServerSni::Request(Box::new(SniExpr {
        text: text.to_string(),
        expr,
        slot: 0,
    })))
}

/// `alpn` / `check-alpn`.
pub fn alpn(v: &Opt) -> Result<Vec<String>, String> {
    crate::tls::alpn_list(v.value).map_err(|e| format!("server option {e}"))
}

/// `ssl-min-ver`, `ssl-max-ver`, `no-tlsv1x`, `force-tlsv1x` on a server line.
pub fn version(o: &mut ServerOpts, v: &Opt) -> Result<(), String> {
    let value = (!v.value.is_empty()).then_some(v.value);
    bind_tls::version_option(&mut o.tls.versions, v.name, value)
        .map_err(|e| format!("server option {e}"))
}

/// The settings of every TLS server of a backend as they apply; each distinct request `sni`
/// expression gets its slot in the returned list. Problems are reported at the server line.
pub fn finish_servers(servers: &mut [Server], g: &GlobalTls, diags: &mut Diags) -> Vec<Expr> {
    let mut exprs: Vec<(String, Expr)> = Vec::new();
    for s in servers.iter_mut() {
        let Some(tls) = s.tls.take() else {
            continue;
        };
        let mut tls = finish(tls, g);
        if let Some(ServerSni::Request(e)) = &mut tls.sni {
            e.slot = match exprs.iter().position(|(t, _)| *t == e.text) {
                Some(i) => i,
                None => {
                    exprs.push((e.text.clone(), e.expr.clone()));
                    exprs.len() - 1
                }
            };
        }
        check(&tls, &s.name, &s.loc, diags);
        s.tls = Some(tls);
    }
    exprs.into_iter().map(|(_, e)| e).collect()
}

/// Paths resolved, globals merged: what `tls::client_config` builds from.
pub fn finish(tls: ServerTls, g: &GlobalTls) -> ServerTls {
    let ca = |p: &std::path::PathBuf| g.bases.ca_path(&p.to_string_lossy());
    ServerTls {
        verify: Some(tls.verify.unwrap_or(g.server_verify)),
        ca_file: tls.ca_file.as_ref().map(ca),
        crl_file: tls.crl_file.as_ref().map(ca),
        crt: tls
            .crt
            .as_ref()
            .map(|p| g.bases.crt_path(&p.to_string_lossy())),
        ciphers: tls.ciphers.clone().or_else(|| g.server_ciphers.clone()),
        ciphersuites: tls
            .ciphersuites
            .clone()
            .or_else(|| g.server_ciphersuites.clone()),
        versions: tls.versions.over(&g.server_versions),
        no_ssl_reuse: tls.no_ssl_reuse || g.server_no_ssl_reuse,
        no_tls_tickets: tls.no_tls_tickets || g.server_no_tls_tickets,
        ..tls
    }
}

/// HAProxy 2.6's refusal of a verified TLS server without CAs, then everything the settings
/// would load (what `ringlb -c` checks).
fn check(tls: &ServerTls, name: &str, loc: &Loc, diags: &mut Diags) {
    if tls.verifies() && tls.ca_file.is_none() {
        return diags.error(
            loc,
            format!(
                "server '{name}': verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default"
            ),
        );
    }
    let (warnings, errors) = crate::tls::client_config::check(tls);
    for w in warnings {
        diags.warn(loc, format!("server '{name}': {w}"));
    }
    for e in errors {
        diags.error(loc, format!("server '{name}': {e}"));
    }
}
