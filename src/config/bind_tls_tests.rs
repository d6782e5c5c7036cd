//! TLS bind options and ssl globals: into the model, and their errors at `file:line`.

use super::error::Diags;
use super::model::Model;
use super::model_tls::{BindTls, CertSource, TlsVersion, Verify};
use super::{load_str, syntax, validate, Diagnostic};
use crate::tls::testutil::{s, Alg, Ca, Leaf, TempDir};
use std::path::PathBuf;
use std::time::Duration;

/// Loads a config: the model and its warnings, or the messages.
fn serving(text: &str) -> Result<(Model, Vec<String>), Vec<String>> {
    let mut diags = Diags::default();
    let sections = syntax::parse_file("t.cfg", text, &mut diags);
    let model = validate::build(sections, &mut diags);
    let msgs = diags.list.iter().map(Diagnostic::to_string).collect();
    match model {
        Some(m) => Ok((m, msgs)),
        None => Err(msgs),
    }
}

fn errors(text: &str) -> Vec<String> {
    match load_str("t.cfg", text) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(d) => d.iter().map(Diagnostic::to_string).collect(),
    }
}

fn frontend(bind: &str) -> String {
    format!("defaults\n  mode http\n  timeout client 5s\n  timeout connect 5s\n  timeout server 5s\nfrontend f\n  {bind}\n  default_backend b\nbackend b\n  server s 127.0.0.1:9\n")
}

/// A certificate and a CA file in a temp dir.
struct Files {
    dir: TempDir,
    ca: Ca,
}

fn files() -> Files {
    let dir = TempDir::new("cfg");
    let ca = Ca::new("ca");
    ca.leaf(&Leaf::new(&["site.example"], Alg::Ecdsa))
        .write_combined(&dir, "site.pem");
    dir.write("clients.ca", &ca.pem);
    Files { dir, ca }
}

fn tls_of(m: &Model) -> &BindTls {
    m.frontends[0].binds[0].tls.as_ref().unwrap()
}

#[test]
fn a_bind_with_ssl_parses_into_the_model() {
    let f = files();
    let d = s(&f.dir.0);
    let text = format!(
        "global\n  crt-base {d}\n  ca-base {d}\n  ssl-default-bind-options no-sslv3 no-tls-tickets ssl-min-ver TLSv1.2\n  ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256\n  tune.ssl.cachesize 0\n  tune.ssl.lifetime 600\n{}",
        frontend("bind 127.0.0.1:0 ssl crt site.pem ca-file clients.ca verify optional alpn http/1.1 strict-sni ciphersuites TLS_AES_128_GCM_SHA256 no-tlsv13")
    );
    let (m, msgs) = serving(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(msgs.is_empty(), "{msgs:?}");
    let t = tls_of(&m);
    assert_eq!(t.certs, [CertSource::Crt(f.dir.path("site.pem"))]);
    assert_eq!(t.ca_file, Some(f.dir.path("clients.ca")));
    assert_eq!(t.verify, Verify::Optional);
    assert_eq!(t.alpn, ["http/1.1"]);
    assert!(t.strict_sni && t.no_tls_tickets);
    assert_eq!(t.ciphers.as_deref(), Some("ECDHE-ECDSA-AES128-GCM-SHA256"));
    assert_eq!(t.ciphersuites.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
    assert_eq!(t.versions.min, Some(TlsVersion::Tls12));
    assert_eq!(t.versions.disabled, [TlsVersion::Sslv3, TlsVersion::Tls13]);
    assert_eq!((t.cache_size, t.lifetime), (0, Duration::from_secs(600)));
    assert!(m.frontends[0].binds.iter().all(|b| b.tls.is_some()));
    let _ = &f.ca;
}

#[test]
fn curves_and_ecdhe_reach_the_model() {
    let f = files();
    let crt = s(&f.dir.path("site.pem"));
    let text = format!(
        "global\n  ssl-default-bind-curves X25519\n{}",
        frontend(&format!("bind 127.0.0.1:0 ssl crt {crt} curves P-256:P-384 ecdhe X25519\n  bind 127.0.0.1:0 ssl crt {crt} ecdhe secp384r1\n  bind 127.0.0.1:0 ssl crt {crt}"))
    );
    let (m, msgs) = serving(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(msgs.is_empty(), "{msgs:?}");
    let curves: Vec<Option<&str>> = m.frontends[0]
        .binds
        .iter()
        .map(|b| b.tls.as_ref().and_then(|t| t.curves.as_deref()))
        .collect();
    assert_eq!(
        curves,
        [Some("P-256:P-384"), Some("secp384r1"), Some("X25519")]
    );
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {crt} curves X448"
    )));
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.cfg:7: 'curves X448' leaves no group")),
        "{msgs:?}"
    );
}

#[test]
fn h2_is_offered_and_a_plain_bind_stays_plain() {
    let f = files();
    let crt = s(&f.dir.path("site.pem"));
    let text = frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {crt} alpn h2,http/1.1\n  bind 127.0.0.1:0 proto h2"
    ));
    let (m, msgs) = serving(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(tls_of(&m).alpn, ["h2", "http/1.1"]);
    let plain = &m.frontends[0].binds[1];
    assert!(plain.tls.is_none());
    assert_eq!(plain.proto, Some(crate::config::model::BindProto::H2));
    assert!(msgs.is_empty(), "{msgs:?}");
}

#[test]
fn a_tls_bind_with_good_files_loads_once_per_line() {
    let f = files();
    let crt = s(&f.dir.path("site.pem"));
    let (m, msgs) = serving(&frontend(&format!(
        "bind 127.0.0.1:0,127.0.0.1:1 ssl crt {crt}"
    )))
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(msgs.is_empty(), "{msgs:?}");
    // One line with two addresses: two binds, both TLS.
    let binds = &m.frontends[0].binds;
    assert_eq!(binds.len(), 2);
    assert!(binds.iter().all(|b| b.tls.is_some()));
}

#[test]
fn bad_certificate_paths_are_file_line_errors() {
    let f = files();
    let missing = f.dir.path("missing.pem");
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {}",
        s(&missing)
    )));
    assert!(
        msgs.contains(&format!(
            "t.cfg:7: certificate file '{}' does not exist",
            s(&missing)
        )),
        "{msgs:?}"
    );
    let key_only = f.dir.write(
        "key-only.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {}",
        s(&key_only)
    )));
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.cfg:7: ") && m.contains("holds no certificate")),
        "{msgs:?}"
    );
    let other = Ca::new("x").leaf(&Leaf::new(&["x"], Alg::Ecdsa));
    let one = Ca::new("y").leaf(&Leaf::new(&["y"], Alg::Ecdsa));
    let mismatched = f.dir.write(
        "mismatch.pem",
        &format!("{}{}", one.cert_pem, other.key_pem),
    );
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {}",
        s(&mismatched)
    )));
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.cfg:7: the private key in ") && m.contains("does not match")),
        "{msgs:?}"
    );
    let msgs = errors(&frontend("bind 127.0.0.1:0 ssl crt /dev/null"));
    assert!(
        msgs.iter().any(|m| m
            == "t.cfg:7: certificate file '/dev/null' is not a regular file (a character device)"),
        "{msgs:?}"
    );
}

#[test]
fn an_expired_certificate_is_a_warning_with_its_dates() {
    let f = files();
    let old = f.ca.leaf(&Leaf {
        years: Some((2001, 2002)),
        ..Leaf::new(&["old.example"], Alg::Ecdsa)
    });
    let p = old.write_combined(&f.dir, "old.pem");
    let (_, msgs) = serving(&frontend(&format!("bind 127.0.0.1:0 ssl crt {}", s(&p))))
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with(&format!(
            "t.cfg:7: warning: certificate '{}' is expired (valid from",
            s(&p)
        )),
        "{msgs:?}"
    );
}

#[test]
fn bad_tls_option_values_are_file_line_errors() {
    let f = files();
    let crt = s(&f.dir.path("site.pem"));
    let cases: [(&str, &str); 11] = [
        (
            "verify maybe",
            "'verify maybe': expected none, optional or required",
        ),
        (
            "ssl-min-ver TLSv9",
            "'ssl-min-ver': expected one of SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, got 'TLSv9'",
        ),
        ("alpn h2,,http/1.1", "empty protocol name"),
        ("npn h2", "bind option 'npn' is not supported by ringlb yet"),
        (
            "crl-file /nonexistent/crl",
            "CRL file '/nonexistent/crl' does not exist",
        ),
        (
            "strict-snii",
            "unknown bind option 'strict-snii'; did you mean 'strict-sni'?",
        ),
        ("verify required", "'verify required' needs 'ca-file'"),
        (
            "ciphers RC4-MD5",
            "'ciphers RC4-MD5' leaves no cipher rustls offers",
        ),
        ("force-tlsv12 no-tlsv12", "no protocol version is left"),
        (
            "tls-ticket-keys /nonexistent/keys",
            "tls-ticket-keys file '/nonexistent/keys' does not exist",
        ),
        (
            "crt-list /nonexistent/list",
            "crt-list '/nonexistent/list' does not exist",
        ),
    ];
    for (opts, want) in cases {
        let msgs = errors(&frontend(&format!("bind 127.0.0.1:0 ssl crt {crt} {opts}")));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.cfg:7: ") && m.contains(want)),
            "{opts}: want {want}\ngot {msgs:?}"
        );
    }
    // `ssl-max-ver TLSv1.1` keeps TLS 1.0/1.1 named in the refusal.
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt {crt} ssl-max-ver TLSv1.1"
    )));
    let want = "t.cfg:7: the version options leave only TLSv1.1, which ringlb's TLS library (rustls) does not implement";
    assert!(msgs.iter().any(|m| m.starts_with(want)), "{msgs:?}");
}

#[test]
fn tls_options_need_ssl_and_ssl_needs_a_certificate() {
    let msgs = errors(&frontend("bind 127.0.0.1:0 crt /x.pem"));
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("t.cfg:7: bind option 'crt' needs 'ssl'")),
        "{msgs:?}"
    );
    let msgs = errors(&frontend("bind 127.0.0.1:0 ssl"));
    assert!(
        msgs.iter()
            .any(|m| m == "t.cfg:7: 'ssl' needs a certificate: add 'crt FILE' or 'crt-list FILE'"),
        "{msgs:?}"
    );
    let msgs = errors(&frontend("bind 127.0.0.1:0 ssl crt"));
    assert!(
        msgs.iter()
            .any(|m| m == "t.cfg:7: bind option 'crt' needs a value"),
        "{msgs:?}"
    );
}

#[test]
fn bad_ssl_globals_are_file_line_errors() {
    let cases: [(&str, &str); 4] = [
        (
            "ssl-default-bind-options no-sslv4",
            "'ssl-default-bind-options': unknown option 'no-sslv4'; did you mean",
        ),
        (
            "ssl-default-bind-options ssl-min-ver TLS1.2",
            "'ssl-default-bind-options': 'ssl-min-ver': expected one of",
        ),
        ("tune.ssl.cachesize lots", "is not a valid number"),
        ("crt-base", "'crt-base' needs a directory"),
    ];
    for (line, want) in cases {
        let msgs = errors(&format!(
            "global\n  {line}\n{}",
            frontend("bind 127.0.0.1:0")
        ));
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.cfg:2: ") && m.contains(want)),
            "{line}: want {want}\ngot {msgs:?}"
        );
    }
}

#[test]
fn crt_list_problems_name_the_list_and_its_line() {
    let f = files();
    let list = f.dir.write(
        "list",
        &format!("{} [ciphers X]\n", s(&f.dir.path("site.pem"))),
    );
    let msgs = errors(&frontend(&format!(
        "bind 127.0.0.1:0 ssl crt-list {}",
        s(&list)
    )));
    let want = format!(
        "t.cfg:7: crt-list '{}' line 1: per-certificate 'ciphers' is not supported",
        s(&list)
    );
    assert!(msgs.iter().any(|m| m.starts_with(&want)), "{msgs:?}");
    let good = f
        .dir
        .write("good", "site.pem [alpn http/1.1] site.example\n");
    let text = format!(
        "global\n  crt-base {}\n{}",
        s(&f.dir.0),
        frontend(&format!("bind 127.0.0.1:0 ssl crt-list {}", s(&good)))
    );
    let (m, msgs) = serving(&text).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(msgs.is_empty(), "{msgs:?}");
    assert_eq!(
        tls_of(&m).certs,
        [CertSource::CrtList(PathBuf::from(s(&good)))]
    );
}
