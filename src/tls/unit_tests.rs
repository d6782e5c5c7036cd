//! Unit tests of the pieces: certificate files and their errors, crt-list lines, ticket keys,
//! cipher and version mapping.

use super::certs::{self, CertError};
use super::crt_list;
use super::resolve::matches_wildcard;
use super::testutil::*;
use super::tickets::{self, TicketError, Tickets};
use super::{ciphers, provider, versions};
use crate::config::model_tls::{Bases, TlsVersion, Verify, VersionOptions};
use std::path::Path;
use std::time::Duration;

fn load(path: &Path) -> (Result<certs::LoadedCert, CertError>, Vec<String>) {
    let mut warnings = Vec::new();
    let r = certs::load_cert_file(path, &provider(), &mut warnings);
    (r, warnings)
}

fn error(path: &Path) -> String {
    match load(path).0 {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_combined_pem_loads_with_its_names() {
    let dir = TempDir::new("combined");
    let ca = Ca::new("ca");
    let leaf = ca.leaf(&Leaf {
        cn: Some("Site"),
        ..Leaf::new(&["WWW.Example.com", "example.com"], Alg::Rsa)
    });
    let (r, warnings) = load(&leaf.write_combined(&dir, "site.pem"));
    let cert = r.unwrap();
    assert_eq!(cert.dns_names, ["www.example.com", "example.com"]);
    assert_eq!(cert.common_name.as_deref(), Some("site"));
    assert_eq!(cert.names(), ["www.example.com", "example.com"]);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(cert.key.ocsp.is_none());
}

#[test]
fn the_key_may_sit_beside_in_file_key() {
    let dir = TempDir::new("keyfile");
    let leaf = Ca::new("ca").leaf(&Leaf::new(&["a.example"], Alg::Ecdsa));
    let cert = dir.write("a.pem", &leaf.cert_pem);
    let want = format!(
        "certificate '{0}' has no private key: none in the file nor in '{0}.key'",
        s(&cert)
    );
    assert_eq!(error(&cert), want);
    dir.write("a.pem.key", &leaf.key_pem);
    assert!(load(&cert).0.is_ok());
}

#[test]
fn file_problems_name_the_file() {
    let dir = TempDir::new("bad");
    let missing = dir.path("missing.pem");
    assert_eq!(
        error(&missing),
        format!("certificate file '{}' does not exist", s(&missing))
    );
    assert_eq!(
        error(Path::new("/dev/null")),
        "certificate file '/dev/null' is not a regular file (a character device)"
    );
    let empty = dir.write("empty.pem", "");
    assert!(error(&empty).contains("holds no certificate"));
    let garbage = dir.write(
        "garbage.pem",
        "-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n",
    );
    assert!(error(&garbage).starts_with(&format!("'{}' is not valid PEM", s(&garbage))));
    let only_key = dir.write(
        "key-only.pem",
        &Ca::new("ca").leaf(&Leaf::new(&["a"], Alg::Ecdsa)).key_pem,
    );
    assert!(error(&only_key).contains("holds no certificate"));
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let dir = TempDir::new("mismatch");
    let ca = Ca::new("ca");
    let one = ca.leaf(&Leaf::new(&["one.example"], Alg::Ecdsa));
    let two = ca.leaf(&Leaf::new(&["two.example"], Alg::Ecdsa));
    let p = dir.write("one.pem", &format!("{}{}", one.cert_pem, two.key_pem));
    assert_eq!(
        error(&p),
        format!(
            "the private key in '{0}' does not match certificate '{0}'",
            s(&p)
        )
    );
}

#[test]
fn expired_and_future_certificates_load_with_a_warning() {
    let dir = TempDir::new("dates");
    let ca = Ca::new("ca");
    for (years, state) in [
        ((2001, 2002), "is expired"),
        ((2990, 2991), "is not yet valid"),
    ] {
        let leaf = ca.leaf(&Leaf {
            years: Some(years),
            ..Leaf::new(&["old.example"], Alg::Ecdsa)
        });
        let p = leaf.write_combined(&dir, "dated.pem");
        let (r, warnings) = load(&p);
        assert!(r.is_ok());
        let w = warnings.join("\n");
        assert!(
            w.contains(&format!("certificate '{}' {state}", s(&p))),
            "{w}"
        );
        assert!(
            w.contains(&years.0.to_string()) && w.contains(&years.1.to_string()),
            "{w}"
        );
    }
}

#[test]
fn a_directory_loads_its_certificates_in_name_order() {
    let dir = TempDir::new("dir");
    let ca = Ca::new("ca");
    let b = ca.leaf(&Leaf::new(&["b.example"], Alg::Ecdsa));
    let a = ca.leaf(&Leaf::new(&["a.example"], Alg::Ecdsa));
    dir.write("b.pem", &b.cert_pem);
    dir.write("b.pem.key", &b.key_pem);
    a.write_combined(&dir, "a.pem");
    dir.write("a.pem.ocsp", "");
    dir.write("a.pem.issuer", &ca.pem);
    dir.write(".hidden", "not a certificate");
    let mut warnings = Vec::new();
    let certs = certs::load_crt(&dir.0, &provider(), &mut warnings).unwrap_or_else(|e| {
        panic!(
            "{:?}",
            e.iter().map(ToString::to_string).collect::<Vec<_>>()
        )
    });
    let names: Vec<Vec<String>> = certs.iter().map(|c| c.names()).collect();
    assert_eq!(names, [["a.example"], ["b.example"]]);
    let empty = TempDir::new("emptydir");
    let err = certs::load_crt(&empty.0, &provider(), &mut warnings)
        .err()
        .unwrap();
    assert!(err[0].to_string().contains("holds no certificate file"));
}

#[test]
fn an_ocsp_response_beside_the_certificate_is_stapled() {
    let dir = TempDir::new("ocsp");
    let leaf = Ca::new("ca").leaf(&Leaf::new(&["a.example"], Alg::Ecdsa));
    let p = leaf.write_combined(&dir, "a.pem");
    // Any DER SEQUENCE: rustls staples it as it is.
    let der = [0x30, 0x03, 0x0a, 0x01, 0x00];
    std::fs::write(dir.path("a.pem.ocsp"), der).unwrap();
    assert_eq!(load(&p).0.unwrap().key.ocsp.as_deref(), Some(&der[..]));
    std::fs::write(dir.path("a.pem.ocsp"), b"text").unwrap();
    let (r, warnings) = load(&p);
    assert!(r.unwrap().key.ocsp.is_none());
    assert!(warnings[0].contains("is not DER"));
}

#[test]
fn ca_files_load_from_a_file_or_a_directory() {
    let dir = TempDir::new("ca");
    let (one, two) = (Ca::new("one"), Ca::new("two"));
    let bundle = dir.write("bundle.pem", &format!("{}{}", one.pem, two.pem));
    assert_eq!(certs::load_ca(&bundle).unwrap().len(), 2);
    let sub = TempDir::new("cadir");
    sub.write("one.crt", &one.pem);
    sub.write("two.pem", &two.pem);
    sub.write("readme.txt", "ignored");
    assert_eq!(certs::load_ca(&sub.0).unwrap().len(), 2);
    let none = dir.write("none.pem", "nothing here\n");
    assert!(certs::load_ca(&none)
        .unwrap_err()
        .to_string()
        .contains("holds no certificate"));
}

#[test]
fn crt_list_lines_parse_with_filters_and_options() {
    let bases = Bases {
        crt: Some("/certs".into()),
        ca: Some("/cas".into()),
    };
    let text = "# comment\n\ncert1.pem !*\n/abs/cert2.pem [alpn h2,http/1.1 verify optional ca-file c.pem] A.Example.com *.b.example !X.b.example\n";
    let entries = crt_list::parse(text, Path::new("l"), &bases).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].cert, Path::new("/certs/cert1.pem"));
    assert_eq!(entries[0].negated, ["*"]);
    assert_eq!(entries[0].line, 3);
    let e = &entries[1];
    assert_eq!(e.cert, Path::new("/abs/cert2.pem"));
    assert_eq!(e.filters, ["a.example.com", "*.b.example"]);
    assert_eq!(e.negated, ["x.b.example"]);
    assert_eq!(e.options.alpn, Some(vec!["h2".into(), "http/1.1".into()]));
    assert_eq!(e.options.verify, Some(Verify::Optional));
    assert_eq!(e.options.ca_file.as_deref(), Some(Path::new("/cas/c.pem")));
}

#[test]
fn crt_list_refuses_options_it_cannot_apply_per_certificate() {
    let text = "a.pem [ciphers ECDHE-RSA-AES128-GCM-SHA256] a.example\nb.pem [alpn h2\nc.pem [verify maybe]\nd.pem [bogus 1]\n";
    let errors = crt_list::parse(text, Path::new("list"), &Bases::default()).unwrap_err();
    let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(
        msgs[0].starts_with("crt-list 'list' line 1: per-certificate 'ciphers' is not supported")
    );
    assert!(msgs[1].contains("line 2: '[' opens SSL options that no ']' closes"));
    assert!(msgs[2].contains("line 3: 'verify maybe'"));
    assert!(msgs[3].contains("line 4: unknown SSL option 'bogus'"));
}

#[test]
fn wildcards_match_one_label() {
    assert!(matches_wildcard("*.example.com", "www.example.com"));
    assert!(!matches_wildcard("*.example.com", "example.com"));
    assert!(!matches_wildcard("*.example.com", "a.b.example.com"));
    assert!(!matches_wildcard("www.example.com", "www.example.com"));
}

const LIFETIME: Duration = Duration::from_secs(300);
const NOW: u64 = 1_700_000_000;

#[test]
fn tickets_open_within_their_lifetime_only() {
    let t = Tickets::random(LIFETIME).unwrap();
    let ticket = t.encrypt_at(b"session", NOW).unwrap();
    assert_eq!(
        t.decrypt_at(&ticket, NOW + 300).as_deref(),
        Some(&b"session"[..])
    );
    assert_eq!(t.decrypt_at(&ticket, NOW + 301), None);
    assert_eq!(
        t.decrypt_at(&ticket, NOW - 3600),
        None,
        "issued in the future"
    );
    let mut forged = ticket.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(t.decrypt_at(&forged, NOW), None);
    assert_eq!(t.decrypt_at(&ticket[..20], NOW), None);
    assert_eq!(t.decrypt_at(&[], NOW), None);
    // Two tickets of one session differ (fresh nonces).
    assert_ne!(t.encrypt_at(b"session", NOW), Some(ticket));
}

#[test]
fn ticket_key_file_round_trip_and_rotation() {
    let dir = TempDir::new("keys");
    let text = tickets::random_key_file(5).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let file = |name: &str, range: std::ops::Range<usize>| {
        let p = dir.write(name, &(lines[range].join("\n") + "\n"));
        Tickets::from_file(&p, LIFETIME).unwrap()
    };
    // Keys 0..3 in use, 1 seals; after appending key 3: 1..4 in use, 2 seals.
    let (old, new, newer) = (file("a", 0..3), file("b", 0..4), file("c", 0..5));
    let sealed_by_old = old.encrypt_at(b"s", NOW).unwrap();
    let sealed_by_new = new.encrypt_at(b"s", NOW).unwrap();
    assert!(
        new.decrypt_at(&sealed_by_old, NOW).is_some(),
        "previous key still opens"
    );
    assert!(
        old.decrypt_at(&sealed_by_new, NOW).is_some(),
        "next key already opens"
    );
    assert!(
        newer.decrypt_at(&sealed_by_old, NOW).is_none(),
        "key 1 has left the set"
    );
    assert!(newer.decrypt_at(&sealed_by_new, NOW).is_some());
    // Another load of the same file is the same keys: another core.
    assert!(file("b2", 0..4).decrypt_at(&sealed_by_new, NOW).is_some());
}

#[test]
fn ticket_key_files_are_checked() {
    let p = Path::new("keys");
    let err = |text: &str| match Tickets::from_text(text, p, LIFETIME) {
        Ok(_) => panic!("accepted {text:?}"),
        Err(e) => e,
    };
    let k48 = "A".repeat(64);
    let k80 = format!("{}=", "A".repeat(107));
    assert!(Tickets::from_text(&format!("{k48}\n{k48}\n\n{k48}\n"), p, LIFETIME).is_ok());
    assert!(matches!(
        err(&format!("{k80}\n{k80}\n")),
        TicketError::TooFew { found: 2, .. }
    ));
    let mixed = err(&format!("{k80}\n{k48}\n{k80}\n")).to_string();
    assert!(
        mixed.contains("line 2") && mixed.contains("cannot be mixed"),
        "{mixed}"
    );
    assert!(err("not base64!\n")
        .to_string()
        .contains("line 1: not base64"));
    assert!(err("AAAA\n").to_string().contains("48 or 80 bytes"));
    let missing = Tickets::from_file(Path::new("/nonexistent/keys"), LIFETIME).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "tls-ticket-keys file '/nonexistent/keys' does not exist"
    );
}

#[test]
fn openssl_cipher_names_map_to_rustls_suites() {
    let c = ciphers::tls12(
        "ciphers",
        Some("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"),
    )
    .unwrap();
    assert_eq!(
        ciphers::names(&c.suites),
        [
            "ECDHE-RSA-AES128-GCM-SHA256",
            "ECDHE-ECDSA-AES256-GCM-SHA384"
        ]
    );
    assert!(c.warning.is_none());
    // Names rustls lacks are dropped with a warning naming what remains.
    let c = ciphers::tls12(
        "ciphers",
        Some("ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:..."),
    )
    .unwrap();
    assert_eq!(c.suites.len(), 1);
    let w = c.warning.unwrap();
    assert!(
        w.contains("AES128-SHA, ...") && w.contains("using ECDHE-RSA-AES128-GCM-SHA256"),
        "{w}"
    );
    // Aliases and exclusions.
    let c = ciphers::tls12("ciphers", Some("ECDHE+AESGCM:!aRSA:@STRENGTH")).unwrap();
    assert_eq!(
        ciphers::names(&c.suites),
        [
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-ECDSA-AES128-GCM-SHA256"
        ]
    );
    let c = ciphers::tls12("ciphers", Some("HIGH:!aNULL:!MD5")).unwrap();
    assert_eq!(c.suites.len(), 6);
    assert!(c.warning.is_none());
    let e = ciphers::tls12("ciphers", Some("RC4-MD5:DES-CBC3-SHA")).unwrap_err();
    assert!(
        e.contains("leaves no cipher rustls offers; it has ECDHE-ECDSA-AES256-GCM-SHA384"),
        "{e}"
    );
    let c = ciphers::tls13(
        "ciphersuites",
        Some("TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256"),
    )
    .unwrap();
    assert_eq!(ciphers::names(&c.suites), ["TLS_AES_128_GCM_SHA256"]);
    assert!(c.warning.unwrap().contains("TLS_AES_128_CCM_SHA256"));
    assert!(ciphers::tls13("ciphersuites", Some("TLS_AES_128_CCM_8_SHA256")).is_err());
    assert_eq!(
        ciphers::tls13("ciphersuites", None).unwrap().suites.len(),
        3
    );
}

fn versions(v: VersionOptions) -> Result<(Vec<u16>, Option<String>), String> {
    versions::resolve(&v).map(|(list, w)| (list.iter().map(|v| u16::from(v.version)).collect(), w))
}

#[test]
fn version_options_map_to_rustls_or_are_refused_by_name() {
    const V12: u16 = 0x0303;
    const V13: u16 = 0x0304;
    let d = VersionOptions::default();
    assert_eq!(versions(d.clone()), Ok((vec![V12, V13], None)));
    let no_sslv3 = VersionOptions {
        disabled: vec![TlsVersion::Sslv3],
        ..d.clone()
    };
    assert_eq!(versions(no_sslv3), Ok((vec![V12, V13], None)));
    let force13 = VersionOptions {
        force: Some(TlsVersion::Tls13),
        ..d.clone()
    };
    assert_eq!(versions(force13), Ok((vec![V13], None)));
    let from10 = VersionOptions {
        min: Some(TlsVersion::Tls10),
        ..d.clone()
    };
    let (list, w) = versions(from10).unwrap();
    assert_eq!(list, [V12, V13]);
    assert!(w
        .unwrap()
        .starts_with("TLSv1.0, TLSv1.1 will not be offered"));
    let old_only = VersionOptions {
        max: Some(TlsVersion::Tls11),
        min: Some(TlsVersion::Tls10),
        ..d.clone()
    };
    let e = versions(old_only).unwrap_err();
    assert!(e.contains("leave only TLSv1.0, TLSv1.1"), "{e}");
    let none = VersionOptions {
        disabled: vec![TlsVersion::Tls12, TlsVersion::Tls13],
        ..d.clone()
    };
    assert!(versions(none).unwrap_err().contains("no-tlsv12 no-tlsv13"));
    let inverted = VersionOptions {
        min: Some(TlsVersion::Tls13),
        max: Some(TlsVersion::Tls12),
        ..d
    };
    assert!(versions(inverted).unwrap_err().contains("is above"));
}

#[test]
fn other_pem_blocks_beside_the_certificate_are_skipped() {
    let dir = TempDir::new("dh");
    let leaf = Ca::new("ca").leaf(&Leaf::new(&["a.example"], Alg::Ecdsa));
    // HAProxy's files often carry DH parameters (rustls negotiates ECDHE only).
    let dh = "-----BEGIN DH PARAMETERS-----\nMAYCAQACAQI=\n-----END DH PARAMETERS-----\n";
    let p = dir.write("a.pem", &format!("{}{dh}{}", leaf.cert_pem, leaf.key_pem));
    assert!(load(&p).0.is_ok());
}

#[test]
fn an_encrypted_key_is_named_as_such() {
    let dir = TempDir::new("enc");
    let leaf = Ca::new("ca").leaf(&Leaf::new(&["a.example"], Alg::Ecdsa));
    let enc = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAYCAQACAQI=\n-----END ENCRYPTED PRIVATE KEY-----\n";
    let p = dir.write("a.pem", &format!("{}{enc}", leaf.cert_pem));
    assert!(error(&p).contains("is encrypted"), "{}", error(&p));
}

#[test]
fn openssl_curve_names_map_to_rustls_groups() {
    use rustls::NamedGroup;
    let (groups, warning) = super::groups::resolve(Some("P-384:X25519:prime256v1")).unwrap();
    let names: Vec<NamedGroup> = groups.iter().map(|g| g.name()).collect();
    assert_eq!(
        names,
        [
            NamedGroup::secp384r1,
            NamedGroup::X25519,
            NamedGroup::secp256r1
        ]
    );
    assert!(warning.is_none());
    let (groups, warning) = super::groups::resolve(Some("X448:P-521:X25519")).unwrap();
    assert_eq!(groups.len(), 1);
    assert!(warning.unwrap().contains("X448, P-521 not offered"));
    let e = super::groups::resolve(Some("X448")).err().unwrap();
    assert!(
        e.contains("leaves no group rustls offers; it has X25519:P-256"),
        "{e}"
    );
    assert!(super::groups::resolve(None).unwrap().0.is_empty());
}

#[test]
fn crl_files_need_a_revocation_list() {
    let dir = TempDir::new("crlfile");
    let ca = Ca::new("ca");
    let good = dir.write("ok.crl", &ca.crl(&[1, 2]));
    assert_eq!(certs::load_crls(&good).unwrap().len(), 1);
    let bad = dir.write("bad.crl", &ca.pem);
    assert_eq!(
        certs::load_crls(&bad).unwrap_err().to_string(),
        format!(
            "CRL file '{}' holds no revocation list (no '-----BEGIN X509 CRL-----' block)",
            s(&bad)
        )
    );
}
