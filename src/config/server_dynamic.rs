//! A server from the runtime API's `add server B/NAME ADDR [options]`: the same option table
//! as a `server` line, restricted to the options HAProxy 2.6 accepts for a dynamic server
//! (management.txt, "add server"), and no `default-server` inherited. The messages are
//! HAProxy's where it has one (the reply texts are compared with HAProxy's in the tests).

use super::addr;
use super::catalog::server_options;
use super::draft::ServerOpts;
use super::error::Diags;
use super::model::{Global, Loc, Server, ServerStart};
use super::model_tls::ServerSni;

/// HAProxy 2.6's options for a dynamic server (its `SRV_PARSE_DYNAMIC` keywords).
const DYNAMIC: &[&str] = &[
    "agent-addr",
    "agent-check",
    "agent-inter",
    "agent-port",
    "agent-send",
    "allow-0rtt",
    "alpn",
    "addr",
    "backup",
    "ca-file",
    "check",
    "check-alpn",
    "check-proto",
    "check-send-proxy",
    "check-sni",
    "check-ssl",
    "check-via-socks4",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "crt",
    "disabled",
    "downinter",
    "enabled",
    "error-limit",
    "fall",
    "fastinter",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "id",
    "inter",
    "maxconn",
    "maxqueue",
    "minconn",
    "no-ssl-reuse",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "no-tls-tickets",
    "npn",
    "observe",
    "on-error",
    "on-marked-down",
    "on-marked-up",
    "pool-low-conn",
    "pool-max-conn",
    "pool-purge-delay",
    "port",
    "proto",
    "proxy-v2-options",
    "rise",
    "send-proxy",
    "send-proxy-v2",
    "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn",
    "slowstart",
    "sni",
    "source",
    "ssl",
    "ssl-max-ver",
    "ssl-min-ver",
    "tfo",
    "tls-tickets",
    "track",
    "usesrc",
    "verify",
    "verifyhost",
    "weight",
    "ws",
];

/// The server `add server` describes, or the reply saying why not.
pub fn parse(name: &str, words: &[&str], global: &Global) -> Result<Server, String> {
    let Some((address, rest)) = words.split_first() else {
        return Err("'server' expects <name> and <addr>[:<port>] as arguments.\n".into());
    };
    let args: Vec<String> = rest.iter().map(|w| w.to_string()).collect();
    let mut opts = ServerOpts::default();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_str();
        if !DYNAMIC.contains(&word) {
            return Err(if server_options::find(word).is_some() {
                format!("'{word}' option is not accepted for dynamic server\n")
            } else {
                format!("unknown keyword '{word}'.\n")
            });
        }
        i += server_options::apply(&mut opts, &args[i..]).map_err(|e| format!("{e}\n"))?;
    }
    if !opts.check {
        if let Some(w) = args.iter().find(|w| server_options::needs_check(w)) {
            return Err(format!(
                "server option '{w}' configures health checks but this server has no 'check'; add 'check' (or remove '{w}')\n"
            ));
        }
    }
    // HAProxy reads `host` as port 0 (traffic goes to the client's destination port), a
    // ringlb server needs a port.
    let addr = addr::parse_server(address).map_err(|e| format!("{e}\n"))?;
    let loc = Loc {
        file: "runtime API".into(),
        line: 0,
    };
    let tls = match opts.tls() {
        Some(t) => Some(finish_tls(t, name, &loc, global)?),
        None => None,
    };
    Ok(Server {
        name: name.to_string(),
        loc,
        addr,
        weight: opts.weight,
        maxconn: opts.maxconn,
        backup: opts.backup,
        disabled: opts.disabled,
        check: opts.check(),
        slowstart: opts.slowstart,
        pool: opts.pool,
        tls,
        // Refused among the options for an added server (server_dynamic's table).
        send_proxy: None,
        // HAProxy 2.6: a dynamic server starts in maintenance, whatever it says.
        start: ServerStart::configured(true, opts.weight),
    })
}

/// The global TLS settings merged in, as for a configured server; a request-dependent `sni`
/// would need the backend's table of expressions, which is fixed at start.
fn finish_tls(
    t: super::model_tls::ServerTls,
    name: &str,
    loc: &Loc,
    global: &Global,
) -> Result<super::model_tls::ServerTls, String> {
    let tls = super::server_tls::finish(t, &global.tls);
    if matches!(tls.sni, Some(ServerSni::Request(_))) {
        return Err("'sni' with a request expression is not supported by ringlb for a server added at run time; write it in the configuration\n".into());
    }
    let mut diags = Diags::default();
    super::server_tls::check(&tls, name, loc, &mut diags);
    match diags
        .list
        .into_iter()
        .find(|d| d.severity == super::error::Severity::Error)
    {
        Some(d) => Err(format!("{}\n", d.message)),
        None => Ok(tls),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::config::load_str;

    fn global() -> crate::config::model::Global {
        load_str("t.cfg", "global\n    maxconn 100\n")
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .model
            .global
    }

    #[test]
    fn options_are_haproxys_dynamic_ones_without_defaults() {
        let g = global();
        let s = parse(
            "n1",
            &["127.0.0.1:80", "weight", "3", "check", "inter", "1s"],
            &g,
        )
        .unwrap();
        assert_eq!((s.weight, s.addr.port()), (3, 80));
        assert!(
            s.check.is_some() && s.start.maint,
            "checked, starts in maintenance"
        );
        let err = |w: &[&str]| parse("n1", w, &g).unwrap_err();
        assert_eq!(
            err(&["127.0.0.1:80", "cookie", "x"]),
            "'cookie' option is not accepted for dynamic server\n"
        );
        assert_eq!(
            err(&["127.0.0.1:80", "bogus"]),
            "unknown keyword 'bogus'.\n"
        );
        assert!(err(&[]).starts_with("'server' expects <name>"));
        assert!(err(&["127.0.0.1:80", "track", "s1"]).contains("track"));
        assert!(err(&["127.0.0.1:80", "inter", "1s"]).contains("no 'check'"));
    }
}
