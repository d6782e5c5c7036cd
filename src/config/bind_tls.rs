//! The options of a `bind` line after its address: the TLS ones (`ssl crt ... alpn ...`) into a
//! `BindTls` with its paths as written; the others HAProxy knows, refused by name. Validation
//! (`finish`, `check`) later resolves the paths against `crt-base`/`ca-base`, merges the global
//! `ssl-default-bind-*` defaults, and loads the files through `tls::` so that a bad certificate
//! is reported at the bind's `file:line`.

use super::error::Diags;
use super::keywords::Cx;
use super::model::{Bind, BindProto, Loc, Mode};
use super::model_tls::{BindTls, CertSource, GlobalTls, TlsVersion, Verify, VersionOptions};
use super::suggest;

/// TLS bind options ringlb parses.
const TLS_OPTIONS: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "crl-file",
    "verify",
    "alpn",
    "ciphers",
    "ciphersuites",
    "curves",
    "ecdhe",
    "ssl-min-ver",
    "ssl-max-ver",
    "strict-sni",
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-tlsv12",
    "force-tlsv13",
    "no-tls-tickets",
    "tls-ticket-keys",
    "prefer-client-ciphers",
];
/// TLS bind options HAProxy knows and ringlb does not implement.
const TLS_REFUSED: &[&str] = &[
    "npn",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "generate-certificates",
    "ca-sign-file",
    "ca-sign-pass",
    "ca-verify-file",
    "ca-ignore-err",
    "crt-ignore-err",
    "allow-0rtt",
    "no-ca-names",
];
/// Other HAProxy bind options: named in the refusal instead of "unknown".
const OTHER_OPTIONS: &[&str] = &[
    // Taken out before these lists are read (bind_tls::take_flag); kept for "did you mean".
    "accept-proxy",
    "accept-netscaler-cip",
    "backlog",
    "defer-accept",
    "expose-fd",
    "gid",
    "group",
    "id",
    "interface",
    "level",
    "maxconn",
    "mode",
    "mss",
    "name",
    "namespace",
    "nice",
    "process",
    "severity-output",
    "tcp-ut",
    "tfo",
    "thread",
    "transparent",
    "uid",
    "user",
    "v4v6",
    "v6only",
    "quic-cc-algo",
];

/// The TLS settings being read from one bind line.
#[derive(Default)]
struct Reading {
    ssl: bool,
    /// The first TLS option seen, for "... without 'ssl'".
    first_tls_word: Option<String>,
    tls: Option<BindTls>,
}

impl Reading {
    fn tls(&mut self) -> &mut BindTls {
        self.tls
            .get_or_insert_with(|| BindTls::with_certs(Vec::new()))
    }
}

/// A problem already reported to the diagnostics: the caller only stops.
#[derive(Debug)]
pub struct Reported;

/// Parses a bind's options; `Err` when one was reported, `Ok(None)` for a plain bind.
pub fn parse_options(opts: &[String], cx: &mut Cx) -> Result<Option<BindTls>, Reported> {
    let mut r = Reading::default();
    let mut words = opts.iter();
    while let Some(w) = words.next() {
        let w = w.as_str();
        if !TLS_OPTIONS.contains(&w) {
            refuse(w, cx);
            return Err(Reported);
        }
        if w != "ssl" && r.first_tls_word.is_none() {
            r.first_tls_word = Some(w.to_string());
        }
        let value = if takes_value(w) {
            match words.next() {
                Some(v) => Some(v.as_str()),
                None => {
                    cx.err(format!("bind option '{w}' needs a value"));
                    return Err(Reported);
                }
            }
        } else {
            None
        };
        if let Err(msg) = apply(&mut r, w, value) {
            cx.err(msg);
            return Err(Reported);
        }
    }
    match (r.ssl, r.first_tls_word) {
        (false, Some(w)) => {
            cx.err(format!("bind option '{w}' needs 'ssl' on the same bind line (without it the port would serve plain TCP)"));
            Err(Reported)
        }
        (false, None) => Ok(None),
        (true, _) => Ok(Some(
            r.tls.unwrap_or_else(|| BindTls::with_certs(Vec::new())),
        )),
    }
}

fn takes_value(w: &str) -> bool {
    matches!(
        w,
        "crt"
            | "crt-list"
            | "ca-file"
            | "crl-file"
            | "verify"
            | "alpn"
            | "ciphers"
            | "ciphersuites"
            | "curves"
            | "ecdhe"
            | "ssl-min-ver"
            | "ssl-max-ver"
            | "tls-ticket-keys"
    )
}

fn apply(r: &mut Reading, w: &str, value: Option<&str>) -> Result<(), String> {
    let v = value.unwrap_or_default();
    match w {
        "ssl" => r.ssl = true,
        "crt" => r.tls().certs.push(CertSource::Crt(v.into())),
        "crt-list" => r.tls().certs.push(CertSource::CrtList(v.into())),
        "ca-file" => r.tls().ca_file = Some(v.into()),
        "crl-file" => r.tls().crl_file = Some(v.into()),
        "verify" => r.tls().verify = verify(v)?,
        "alpn" => r.tls().alpn = crate::tls::alpn_list(v)?,
        "ciphers" => r.tls().ciphers = Some(v.into()),
        "ciphersuites" => r.tls().ciphersuites = Some(v.into()),
        "curves" => r.tls().curves = Some(v.into()),
        // HAProxy: "when curves is set, ecdhe is ignored".
        "ecdhe" => {
            let t = r.tls();
            if t.curves.is_none() {
                t.curves = Some(v.into());
            }
        }
        "strict-sni" => r.tls().strict_sni = true,
        "no-tls-tickets" => r.tls().no_tls_tickets = true,
        "prefer-client-ciphers" => r.tls().prefer_client_ciphers = true,
        "tls-ticket-keys" => r.tls().ticket_keys = Some(v.into()),
        _ => version_option(&mut r.tls().versions, w, value)?,
    }
    Ok(())
}

fn verify(v: &str) -> Result<Verify, String> {
    Verify::from_name(v).ok_or_else(|| {
        let hint = suggest::hint(v, ["none", "optional", "required"]);
        format!("'verify {v}': expected none, optional or required{hint}")
    })
}

/// `ssl-min-ver V`, `ssl-max-ver V`, `no-X`, `force-X` (bind lines and
/// `ssl-default-bind-options`); `Err` for anything else.
pub fn version_option(
    v: &mut VersionOptions,
    word: &str,
    value: Option<&str>,
) -> Result<(), String> {
    if word == "ssl-min-ver" || word == "ssl-max-ver" {
        let text = value.unwrap_or_default();
        let names = TlsVersion::ALL.map(TlsVersion::name);
        let Some(version) = TlsVersion::from_name(text) else {
            let hint = suggest::hint(text, names);
            return Err(format!(
                "'{word}': expected one of {}, got '{text}'{hint}",
                names.join(", ")
            ));
        };
        if word == "ssl-min-ver" {
            v.min = Some(version);
        } else {
            v.max = Some(version);
        }
        return Ok(());
    }
    let by_suffix = |s: &str| TlsVersion::ALL.into_iter().find(|v| v.option_suffix() == s);
    if let Some(version) = word.strip_prefix("no-").and_then(by_suffix) {
        v.disabled.push(version);
        return Ok(());
    }
    if let Some(version) = word.strip_prefix("force-").and_then(by_suffix) {
        v.force = Some(version);
        return Ok(());
    }
    Err(format!("unknown TLS option '{word}'"))
}

fn refuse(w: &str, cx: &mut Cx) {
    if TLS_REFUSED.contains(&w) || OTHER_OPTIONS.contains(&w) {
        return cx.err(format!(
            "bind option '{w}' is not supported by ringlb yet; remove it"
        ));
    }
    let known = TLS_OPTIONS.iter().chain(TLS_REFUSED).chain(OTHER_OPTIONS);
    let hint = suggest::hint(w, known.copied());
    cx.err(format!("unknown bind option '{w}'{hint}"));
}

/// The bind's settings as they apply: paths resolved, global defaults merged.
pub fn finish(tls: &BindTls, g: &GlobalTls) -> BindTls {
    let bases = g.bases.clone();
    let certs = tls
        .certs
        .iter()
        .map(|c| match c {
            CertSource::Crt(p) => CertSource::Crt(bases.crt_path(&p.to_string_lossy())),
            // HAProxy applies crt-base to the lines of a crt-list, not to its own path.
            CertSource::CrtList(p) => CertSource::CrtList(p.clone()),
        })
        .collect();
    let ca_file = tls
        .ca_file
        .as_ref()
        .map(|p| bases.ca_path(&p.to_string_lossy()));
    let crl_file = tls
        .crl_file
        .as_ref()
        .map(|p| bases.ca_path(&p.to_string_lossy()));
    let alpn = tls.alpn.clone();
    BindTls {
        certs,
        bases,
        ca_file,
        crl_file,
        alpn,
        ciphers: tls.ciphers.clone().or_else(|| g.bind_ciphers.clone()),
        ciphersuites: tls
            .ciphersuites
            .clone()
            .or_else(|| g.bind_ciphersuites.clone()),
        curves: tls.curves.clone().or_else(|| g.bind_curves.clone()),
        versions: tls.versions.over(&g.bind_versions),
        strict_sni: tls.strict_sni || g.bind_strict_sni,
        no_tls_tickets: tls.no_tls_tickets || g.bind_no_tls_tickets,
        prefer_client_ciphers: tls.prefer_client_ciphers || g.bind_prefer_client_ciphers,
        cache_size: g.cache_size,
        lifetime: g.lifetime,
        ..tls.clone()
    }
}

/// Loads everything the bind names (what `ringlb -c` checks); problems at the bind's line.
pub fn check(tls: &BindTls, loc: &Loc, diags: &mut Diags) {
    let (warnings, errors) = crate::tls::server_config::check(tls);
    for w in warnings {
        diags.warn(loc, w);
    }
    for e in errors {
        diags.error(loc, e.to_string());
    }
}

/// A frontend's binds with their TLS settings finished and checked, each bind line once (one
/// line may give several addresses).
pub fn validate_binds(binds: &[Bind], g: &GlobalTls, mode: Mode, diags: &mut Diags) -> Vec<Bind> {
    let mut checked: Vec<&Loc> = Vec::new();
    let mut out = Vec::with_capacity(binds.len());
    for b in binds {
        if mode == Mode::Tcp && b.proto.is_some() && !checked.contains(&&b.loc) {
            // HAProxy 2.6: "MUX protocol 'h2' is not usable for 'bind ...'".
            diags.error(
                &b.loc,
                "'proto h1' and 'proto h2' need 'mode http': this frontend is 'mode tcp'",
            );
        }
        let Some(tls) = &b.tls else {
            checked.push(&b.loc);
            out.push(b.clone());
            continue;
        };
        let mut repeat = Diags::default();
        let first = !checked.contains(&&b.loc);
        let d = if first { &mut *diags } else { &mut repeat };
        let tls = finish(tls, g);
        if first {
            check(&tls, &b.loc, d);
            checked.push(&b.loc);
        }
        out.push(Bind {
            tls: Some(tls),
            ..b.clone()
        });
    }
    out
}

/// Takes every `flag` out of a bind's options: whether there was one, and the others.
pub fn take_flag(opts: Vec<String>, flag: &str) -> (bool, Vec<String>) {
    let before = opts.len();
    let rest: Vec<String> = opts.into_iter().filter(|o| o != flag).collect();
    (rest.len() != before, rest)
}

/// The multiplexers `proto` may name (HAProxy 2.6's `haproxy -vv` list).
const PROTOS: [&str; 3] = ["h1", "h2", "none"];

/// Takes `proto NAME` out of a bind's options, and `alpn LIST` when the bind has no `ssl`
/// (HAProxy accepts it there and it has no effect: cleartext HTTP/2 comes by its preface or
/// `proto h2`). The
/// remaining options come back for `parse_options`.
pub fn take_proto(
    opts: &[String],
    cx: &mut Cx,
) -> (Result<Option<BindProto>, Reported>, Vec<String>) {
    let ssl = opts.iter().any(|o| o == "ssl");
    let mut proto = Ok(None);
    let mut rest = Vec::with_capacity(opts.len());
    let mut words = opts.iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "proto" => proto = parse_proto(words.next().map(String::as_str), cx),
            "alpn" if !ssl => {
                let _ = words.next();
                cx.warn("'alpn' has no effect on a bind without 'ssl'; cleartext HTTP/2 (h2c) is served to clients that open with its preface, or to all with 'proto h2'");
            }
            _ => rest.push(w.clone()),
        }
    }
    (proto, rest)
}

fn parse_proto(name: Option<&str>, cx: &mut Cx) -> Result<Option<BindProto>, Reported> {
    match name {
        Some("h1") => Ok(Some(BindProto::H1)),
        Some("h2") => Ok(Some(BindProto::H2)),
        Some("none") => {
            cx.err("'proto none' is not supported by ringlb; remove it (a 'mode tcp' frontend relays bytes as they are)");
            Err(Reported)
        }
        Some(other) => {
            let hint = suggest::hint(other, PROTOS);
            cx.err(format!(
                "'proto {other}': unknown MUX protocol, expected h1 or h2{hint}"
            ));
            Err(Reported)
        }
        None => {
            cx.err("bind option 'proto' needs a value: h1 or h2");
            Err(Reported)
        }
    }
}
