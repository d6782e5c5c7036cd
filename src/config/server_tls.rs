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
        if tls.alpn.iter().chain(&tls.check_alpn).any(|p| p == "h2") {
            // ringlb speaks HTTP/1.1 to servers: a server that chose h2 could not be read.
            diags.warn(
                &s.loc,
                format!(
                    "server '{}': 'alpn': h2 is not offered until ringlb speaks HTTP/2 to servers",
                    s.name
                ),
            );
            tls.alpn.retain(|p| p != "h2");
            tls.check_alpn.retain(|p| p != "h2");
        }
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
pub(super) fn check(tls: &ServerTls, name: &str, loc: &Loc, diags: &mut Diags) {
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

#[cfg(test)]
mod tests {
    use crate::config::model::Model;
    use crate::config::model_tls::{ServerSni, TlsVersion};

    fn model(global: &str, servers: &str) -> Model {
        let cfg = format!(
            "global\n{global}\ndefaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n\
             frontend f\n  bind 127.0.0.1:0\n  default_backend b\nbackend b\n{servers}\n"
        );
        match crate::config::load_str("t.cfg", &cfg) {
            Ok(l) => l.model,
            Err(d) => panic!("{d:?}"),
        }
    }

    #[test]
    fn globals_fill_what_the_server_line_leaves() {
        let m = model(
            "  ssl-server-verify none\n  ssl-default-server-options ssl-min-ver TLSv1.3 no-ssl-reuse\n  \
             ssl-default-server-ciphers ECDHE+AESGCM\n",
            "  server a 127.0.0.1:1 ssl\n  server b 127.0.0.1:2 ssl verify none ciphers ECDHE+CHACHA20\n  server c 127.0.0.1:3",
        );
        let s = &m.backends[0].servers;
        let a = s[0].traffic_tls().unwrap();
        assert!(!a.verifies(), "ssl-server-verify none");
        assert_eq!(a.versions.min, Some(TlsVersion::Tls13));
        assert!(a.no_ssl_reuse);
        assert_eq!(a.ciphers.as_deref(), Some("ECDHE+AESGCM"));
        let b = s[1].traffic_tls().unwrap();
        assert_eq!(b.ciphers.as_deref(), Some("ECDHE+CHACHA20"));
        assert!(s[2].tls.is_none());
    }

    #[test]
    fn checks_follow_ssl_unless_sent_elsewhere() {
        let m = model(
            "",
            "  default-server verify none\n  server a 127.0.0.1:1 ssl check\n  server b 127.0.0.1:2 ssl check port 81\n  \
             server c 127.0.0.1:3 check check-ssl\n  server d 127.0.0.1:4 ssl check no-check-ssl",
        );
        let s = &m.backends[0].servers;
        let ssl_checks: Vec<bool> = s.iter().map(|x| x.check.is_some_and(|c| c.ssl)).collect();
        assert_eq!(ssl_checks, [true, false, true, false]);
        assert!(
            s[2].tls.is_some() && s[2].traffic_tls().is_none(),
            "check-ssl alone: checks only"
        );
    }

    #[test]
    fn sni_constants_and_request_expressions() {
        let m = model(
            "",
            "  default-server verify none ssl\n  server a 127.0.0.1:1 sni str(a.example)\n  \
             server b 127.0.0.1:2 sni req.hdr(host)\n  server c 127.0.0.1:3 sni req.hdr(host)\n  \
             server d 127.0.0.1:4 sni req.hdr(x-name),lower",
        );
        let be = &m.backends[0];
        assert_eq!(be.sni_exprs.len(), 2, "identical expressions share a slot");
        let sni = |i: usize| be.servers[i].traffic_tls().and_then(|t| t.sni.clone());
        assert!(matches!(sni(0), Some(ServerSni::Fixed(n)) if n == "a.example"));
        let slot = |i| match sni(i) {
            Some(ServerSni::Request(e)) => e.slot,
            _ => usize::MAX,
        };
        assert_eq!((slot(1), slot(2), slot(3)), (0, 0, 1));
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        use crate::config::catalog::testing::errors;
        let cfg = |line: &str| {
            format!("frontend f\n  mode http\n  bind 127.0.0.1:0\n  default_backend b\nbackend b\n  mode http\n  {line}\n")
        };
        let errs = errors(&cfg("server a 127.0.0.1:1 ssl verify optional"));
        assert!(
            errs.iter()
                .any(|e| e.contains("'verify optional': expected none or required")),
            "{errs:?}"
        );
        let errs = errors(&cfg("server a 127.0.0.1:1 ssl verify none force-tlsv10"));
        assert!(
            errs.iter().any(|e| e.contains("TLSv1.2 and TLSv1.3")),
            "{errs:?}"
        );
        let errs = errors(&cfg("server a 127.0.0.1:1 ssl verify none ciphers RC4-MD5"));
        assert!(
            errs.iter().any(|e| e.contains("leaves no cipher")),
            "{errs:?}"
        );
        let errs = errors(&cfg(
            "server a 127.0.0.1:1 ssl verify none crt /nonexistent.pem",
        ));
        assert!(
            errs.iter()
                .any(|e| e.contains("server 'a'") && e.contains("/nonexistent.pem")),
            "{errs:?}"
        );
    }
}
