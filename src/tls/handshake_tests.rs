//! Real rustls handshakes between a `ClientConnection` and a `ServerConnection` built from
//! `BindTls`, over in-memory byte transfer.

use super::server_config::{BindConfig, Shared};
use super::testutil::*;
use super::tickets;
use crate::config::model_tls::{BindTls, CertSource, TlsVersion, Verify};
use rustls::{ProtocolVersion, ServerConfig};
use std::path::PathBuf;
use std::sync::Arc;

fn bind(certs: &[&PathBuf]) -> BindTls {
    BindTls::with_certs(
        certs
            .iter()
            .map(|p| CertSource::Crt((*p).clone()))
            .collect(),
    )
}

fn server(tls: &BindTls) -> Arc<ServerConfig> {
    let mut warnings = Vec::new();
    let shared = Shared::load(tls, &mut warnings).unwrap_or_else(|e| panic!("{e:?}"));
    BindConfig::build(tls, &shared).unwrap().default
}

fn hello(ca: &Ca, sni: Option<&str>, server: &Arc<ServerConfig>) -> Outcome {
    connect(ClientSpec::new(ca, sni).config(), sni, server.clone())
}

/// Three named certificates, a wildcard, and a default loaded first.
struct SniSetup {
    _dir: TempDir,
    ca: Ca,
    default: Issued,
    a: Issued,
    b: Issued,
    c: Issued,
    wild: Issued,
    tls: BindTls,
}

fn sni_setup() -> SniSetup {
    let dir = TempDir::new("sni");
    let ca = Ca::new("test ca");
    let default = ca.leaf(&Leaf::new(&["default.example.net"], Alg::Ecdsa));
    let a = ca.leaf(&Leaf::new(&["a.example.com"], Alg::Ecdsa));
    let b = ca.leaf(&Leaf::new(&["b.example.com", "b2.example.org"], Alg::Ecdsa));
    let c = ca.leaf(&Leaf {
        cn: Some("C.Example.Org"),
        ..Leaf::new(&[], Alg::Ecdsa)
    });
    let wild = ca.leaf(&Leaf::new(&["*.example.com"], Alg::Ecdsa));
    let paths = [
        default.write_combined(&dir, "0-default.pem"),
        a.write_combined(&dir, "a.pem"),
        b.write_combined(&dir, "b.pem"),
        c.write_combined(&dir, "c.pem"),
        wild.write_combined(&dir, "wild.pem"),
    ];
    let tls = bind(&paths.iter().collect::<Vec<_>>());
    SniSetup {
        _dir: dir,
        ca,
        default,
        a,
        b,
        c,
        wild,
        tls,
    }
}

#[test]
fn sni_picks_exact_then_wildcard_then_default() {
    let t = sni_setup();
    let srv = server(&t.tls);
    let cases: [(Option<&str>, &Issued); 9] = [
        (Some("a.example.com"), &t.a),
        (Some("A.EXAMPLE.COM"), &t.a),
        (Some("b2.example.org"), &t.b),
        (Some("c.example.org"), &t.c),
        (Some("x.example.com"), &t.wild),
        // One label only: a deeper name and the bare parent are not the wildcard's.
        (Some("deep.x.example.com"), &t.default),
        (Some("example.com"), &t.default),
        (Some("unknown.example.net"), &t.default),
        (None, &t.default),
    ];
    for (sni, want) in cases {
        let out = hello(&t.ca, sni, &srv);
        assert!(out.result.is_ok(), "{sni:?}: {:?}", out.result);
        assert!(
            out.served() == Some(want.der.clone()),
            "{sni:?}: wrong certificate"
        );
    }
}

#[test]
fn strict_sni_refuses_unknown_and_missing_names() {
    let mut t = sni_setup();
    t.tls.strict_sni = true;
    let srv = server(&t.tls);
    assert!(hello(&t.ca, Some("a.example.com"), &srv).result.is_ok());
    assert!(hello(&t.ca, Some("x.example.com"), &srv).result.is_ok());
    assert!(hello(&t.ca, Some("unknown.example.net"), &srv)
        .result
        .is_err());
    assert!(hello(&t.ca, None, &srv).result.is_err());
}

#[test]
fn ecdsa_or_rsa_by_what_the_client_offers() {
    let dir = TempDir::new("dual");
    let ca = Ca::new("test ca");
    // RSA first: load order must not decide when the client can take ECDSA.
    let rsa = ca.leaf(&Leaf::new(&["dual.example.com"], Alg::Rsa));
    let ecdsa = ca.leaf(&Leaf::new(&["dual.example.com"], Alg::Ecdsa));
    let tls = bind(&[
        &rsa.write_combined(&dir, "rsa.pem"),
        &ecdsa.write_combined(&dir, "ecdsa.pem"),
    ]);
    let srv = server(&tls);
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12]] {
        for sni in [Some("dual.example.com"), None] {
            let any = ClientSpec {
                versions,
                ..ClientSpec::new(&ca, sni)
            };
            let out = connect(any.config(), sni, srv.clone());
            assert!(out.result.is_ok(), "{:?}", out.result);
            assert!(out.served() == Some(ecdsa.der.clone()), "ECDSA expected");
            let rsa_client = ClientSpec {
                schemes: Some(rsa_only),
                versions,
                ..ClientSpec::new(&ca, sni)
            };
            let out = connect(rsa_client.config(), sni, srv.clone());
            assert!(out.result.is_ok(), "{:?}", out.result);
            assert!(out.served() == Some(rsa.der.clone()), "RSA expected");
        }
    }
}

/// One ECDSA certificate for `host.example.com` in a fresh directory.
fn one_cert(tag: &str) -> (TempDir, Ca, BindTls) {
    let dir = TempDir::new(tag);
    let ca = Ca::new("test ca");
    let leaf = ca.leaf(&Leaf::new(&["host.example.com"], Alg::Ecdsa));
    let tls = bind(&[&leaf.write_combined(&dir, "host.pem")]);
    (dir, ca, tls)
}

const HOST: Option<&str> = Some("host.example.com");

#[test]
fn alpn_follows_the_bind_list() {
    let (_dir, ca, mut tls) = one_cert("alpn");
    tls.alpn = vec!["h2".into(), "http/1.1".into()];
    let srv = server(&tls);
    let cases: [(&[&str], Option<&[u8]>); 4] = [
        (&["http/1.1", "h2"], Some(b"h2")),
        (&["http/1.1"], Some(b"http/1.1")),
        (&["h2"], Some(b"h2")),
        (&[], None),
    ];
    for (offered, want) in cases {
        let spec = ClientSpec {
            alpn: offered,
            ..ClientSpec::new(&ca, HOST)
        };
        let out = connect(spec.config(), HOST, srv.clone());
        assert!(out.result.is_ok(), "{offered:?}: {:?}", out.result);
        assert_eq!(out.server.alpn_protocol(), want, "{offered:?}");
    }
    // No protocol in common: one rustls config refuses (RFC 7301's no_application_protocol);
    // the accept path's `for_hello` picks the config without ALPN instead, as HAProxy goes on.
    let spec = ClientSpec {
        alpn: &["h3"],
        ..ClientSpec::new(&ca, HOST)
    };
    assert!(connect(spec.config(), HOST, srv).result.is_err());
    let mut warnings = Vec::new();
    let shared = Shared::load(&tls, &mut warnings).unwrap_or_else(|e| panic!("{e:?}"));
    let configs = BindConfig::build(&tls, &shared).unwrap();
    let out = via_for_hello(&configs, spec.config(), "host.example.com");
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(out.server.alpn_protocol(), None);
    // A client with a protocol in common still gets it through the same path.
    let both = ClientSpec {
        alpn: &["h3", "http/1.1"],
        ..ClientSpec::new(&ca, HOST)
    };
    let out = via_for_hello(&configs, both.config(), "host.example.com");
    assert_eq!(out.server.alpn_protocol(), Some(&b"http/1.1"[..]));
}

/// A handshake with the config `for_hello` picks for the client's hello, as the accept path.
fn via_for_hello(configs: &BindConfig, client: Arc<rustls::ClientConfig>, sni: &str) -> Outcome {
    let mut acceptor = rustls::server::Acceptor::default();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let mut c = rustls::ClientConnection::new(client.clone(), name).unwrap();
    let mut hello_bytes = Vec::new();
    c.write_tls(&mut hello_bytes).unwrap();
    acceptor.read_tls(&mut &hello_bytes[..]).unwrap();
    let accepted = acceptor.accept().ok().flatten().unwrap();
    let cfg = configs.for_hello(&accepted.client_hello());
    connect(client, Some(sni), cfg)
}

#[test]
fn tls12_and_tls13_as_the_version_options_allow() {
    let (_dir, ca, mut tls) = one_cert("versions");
    let v12: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let v13: &[&'static rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let version = |srv: &Arc<ServerConfig>, versions| {
        let spec = ClientSpec {
            versions,
            ..ClientSpec::new(&ca, HOST)
        };
        let out = connect(spec.config(), HOST, srv.clone());
        out.result.ok().and(out.server.protocol_version())
    };
    let srv = server(&tls);
    assert_eq!(version(&srv, v12), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(version(&srv, v13), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(
        version(&srv, rustls::ALL_VERSIONS),
        Some(ProtocolVersion::TLSv1_3)
    );
    tls.versions.force = Some(TlsVersion::Tls12);
    let srv = server(&tls);
    assert_eq!(version(&srv, v12), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(version(&srv, v13), None);
    tls.versions.force = None;
    tls.versions.min = Some(TlsVersion::Tls13);
    let srv = server(&tls);
    assert_eq!(version(&srv, v12), None);
    assert_eq!(version(&srv, v13), Some(ProtocolVersion::TLSv1_3));
}

#[test]
fn client_certificates_none_optional_required() {
    let (dir, ca, mut tls) = one_cert("clientauth");
    let client_ca = Ca::new("client ca");
    let good = client_ca.leaf(&Leaf::new(&["client.example.com"], Alg::Ecdsa));
    let bad = Ca::new("other ca").leaf(&Leaf::new(&["client.example.com"], Alg::Ecdsa));
    tls.ca_file = Some(dir.write("clients.ca", &client_ca.pem));
    let attempt = |srv: &Arc<ServerConfig>, cert: Option<&Issued>| {
        let spec = ClientSpec {
            client_cert: cert,
            ..ClientSpec::new(&ca, HOST)
        };
        let out = connect(spec.config(), HOST, srv.clone());
        out.result
            .map(|()| out.server.peer_certificates().is_some())
    };
    // none: nothing asked, nothing seen.
    let srv = server(&tls);
    assert_eq!(attempt(&srv, None).ok(), Some(false));
    assert_eq!(attempt(&srv, Some(&good)).ok(), Some(false));
    // optional: a missing certificate passes, a bad one does not.
    tls.verify = Verify::Optional;
    let srv = server(&tls);
    assert_eq!(attempt(&srv, None).ok(), Some(false));
    assert_eq!(attempt(&srv, Some(&good)).ok(), Some(true));
    assert!(attempt(&srv, Some(&bad)).is_err());
    // required: a missing one fails too.
    tls.verify = Verify::Required;
    let srv = server(&tls);
    assert!(attempt(&srv, None).is_err());
    assert_eq!(attempt(&srv, Some(&good)).ok(), Some(true));
    assert!(attempt(&srv, Some(&bad)).is_err());
}

/// Two "cores": configs built from two separate loads of the same bind.
fn two_cores(tls: &BindTls) -> (Arc<ServerConfig>, Arc<ServerConfig>) {
    (server(tls), server(tls))
}

#[test]
fn a_ticket_from_one_core_resumes_on_another_with_the_same_keys() {
    let (dir, ca, mut tls) = one_cert("resume");
    tls.ticket_keys = Some(dir.write("keys", &tickets::random_key_file(3).unwrap()));
    for versions in [&[&rustls::version::TLS13][..], &[&rustls::version::TLS12]] {
        let (core_a, core_b) = two_cores(&tls);
        let spec = ClientSpec {
            versions,
            ..ClientSpec::new(&ca, HOST)
        };
        // One client config: it keeps the tickets it receives.
        let client = spec.config();
        let first = connect(client.clone(), HOST, core_a);
        assert!(first.result.is_ok() && !first.resumed());
        let second = connect(client, HOST, core_b);
        assert!(second.result.is_ok(), "{:?}", second.result);
        assert!(
            second.resumed(),
            "{versions:?}: not resumed on the other core"
        );
    }
}

#[test]
fn a_ticket_does_not_resume_under_other_keys_or_without_tickets() {
    let (dir, ca, mut tls) = one_cert("noresume");
    tls.ticket_keys = Some(dir.write("keys-a", &tickets::random_key_file(3).unwrap()));
    let core_a = server(&tls);
    tls.ticket_keys = Some(dir.write("keys-b", &tickets::random_key_file(3).unwrap()));
    let core_b = server(&tls);
    let client = ClientSpec::new(&ca, HOST).config();
    assert!(connect(client.clone(), HOST, core_a).result.is_ok());
    let second = connect(client, HOST, core_b);
    assert!(
        second.result.is_ok(),
        "a full handshake follows a refused ticket"
    );
    assert!(!second.resumed());
    // Random keys (no tls-ticket-keys) are per load: two loads do not share them.
    tls.ticket_keys = None;
    let (a, b) = two_cores(&tls);
    let client = ClientSpec::new(&ca, HOST).config();
    assert!(connect(client.clone(), HOST, a.clone()).result.is_ok());
    assert!(
        connect(client.clone(), HOST, a).resumed(),
        "same load resumes"
    );
    assert!(
        !connect(client, HOST, b).resumed(),
        "another load's keys differ"
    );
    // no-tls-tickets and no cache: nothing resumes, even on the same core.
    tls.no_tls_tickets = true;
    tls.cache_size = 0;
    let srv = server(&tls);
    let client = ClientSpec::new(&ca, HOST).config();
    assert!(connect(client.clone(), HOST, srv.clone()).result.is_ok());
    assert!(!connect(client, HOST, srv).resumed());
}

#[test]
fn no_tls_tickets_keeps_a_per_core_cache() {
    let (_dir, ca, mut tls) = one_cert("cache");
    tls.no_tls_tickets = true;
    let (a, b) = two_cores(&tls);
    let client = ClientSpec::new(&ca, HOST).config();
    assert!(connect(client.clone(), HOST, a.clone()).result.is_ok());
    assert!(
        connect(client.clone(), HOST, a).resumed(),
        "same core resumes"
    );
    assert!(
        !connect(client, HOST, b).resumed(),
        "another core's cache is its own"
    );
}

#[test]
fn crt_list_filters_and_per_entry_alpn() {
    let dir = TempDir::new("crtlist");
    let ca = Ca::new("test ca");
    let fallback = ca.leaf(&Leaf::new(&["fallback.example.com"], Alg::Ecdsa));
    let wild = ca.leaf(&Leaf::new(&["*.domain.tld"], Alg::Ecdsa));
    let secure = ca.leaf(&Leaf::new(&["secure.domain.tld"], Alg::Ecdsa));
    fallback.write_combined(&dir, "fallback.pem");
    wild.write_combined(&dir, "wild.pem");
    secure.write_combined(&dir, "secure.pem");
    let list = format!(
        "# HAProxy's example, in our files\n{0}/fallback.pem !*\n{0}/wild.pem *.domain.tld !secure.domain.tld\n\n{0}/secure.pem [alpn http/1.1] secure.domain.tld\n",
        s(&dir.0)
    );
    let mut tls = BindTls::with_certs(vec![CertSource::CrtList(dir.write("list", &list))]);
    tls.alpn = vec!["h2".into(), "http/1.1".into()];
    let mut warnings = Vec::new();
    let shared = Shared::load(&tls, &mut warnings).unwrap_or_else(|e| panic!("{e:?}"));
    let configs = BindConfig::build(&tls, &shared).unwrap();
    let srv = configs.default.clone();
    // `!*`: the first entry answers only as the default, even for its own name.
    let cases: [(Option<&str>, &Issued); 4] = [
        (Some("www.domain.tld"), &wild),
        (Some("secure.domain.tld"), &secure),
        (Some("fallback.example.com"), &fallback),
        (None, &fallback),
    ];
    for (sni, want) in cases {
        let out = hello(&ca, sni, &srv);
        assert!(out.result.is_ok(), "{sni:?}: {:?}", out.result);
        assert!(out.served() == Some(want.der.clone()), "{sni:?}");
    }
    // The entry's own ALPN list applies through `for_hello` (what the accept path calls).
    let alpn_for = |sni: &str| {
        let spec = ClientSpec {
            alpn: &["h2", "http/1.1"],
            ..ClientSpec::new(&ca, Some(sni))
        };
        via_for_hello(&configs, spec.config(), sni)
            .server
            .alpn_protocol()
            .map(<[u8]>::to_vec)
    };
    assert_eq!(alpn_for("secure.domain.tld"), Some(b"http/1.1".to_vec()));
    assert_eq!(alpn_for("www.domain.tld"), Some(b"h2".to_vec()));
}

#[test]
fn crt_list_per_entry_verify_and_ca_file() {
    let dir = TempDir::new("entryverify");
    let ca = Ca::new("test ca");
    let client_ca = Ca::new("client ca");
    ca.leaf(&Leaf::new(&["open.example.com"], Alg::Ecdsa))
        .write_combined(&dir, "open.pem");
    ca.leaf(&Leaf::new(&["locked.example.com"], Alg::Ecdsa))
        .write_combined(&dir, "locked.pem");
    dir.write("clients.ca", &client_ca.pem);
    let list = dir.write(
        "list",
        "open.pem\nlocked.pem [verify required ca-file clients.ca]\n",
    );
    let mut tls = BindTls::with_certs(vec![CertSource::CrtList(list)]);
    tls.bases.crt = Some(dir.0.clone());
    tls.bases.ca = Some(dir.0.clone());
    let mut warnings = Vec::new();
    let shared = Shared::load(&tls, &mut warnings).unwrap_or_else(|e| panic!("{e:?}"));
    let configs = BindConfig::build(&tls, &shared).unwrap();
    let good = client_ca.leaf(&Leaf::new(&["client.example.com"], Alg::Ecdsa));
    let attempt = |sni: &str, cert: Option<&Issued>| {
        let spec = ClientSpec {
            client_cert: cert,
            ..ClientSpec::new(&ca, Some(sni))
        };
        let client = spec.config();
        let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
        let mut c = rustls::ClientConnection::new(client.clone(), name).unwrap();
        let mut bytes = Vec::new();
        c.write_tls(&mut bytes).unwrap();
        let mut acceptor = rustls::server::Acceptor::default();
        acceptor.read_tls(&mut &bytes[..]).unwrap();
        let accepted = acceptor.accept().ok().flatten().unwrap();
        let cfg = configs.for_hello(&accepted.client_hello());
        connect(client, Some(sni), cfg).result
    };
    assert!(attempt("open.example.com", None).is_ok());
    assert!(
        attempt("locked.example.com", None).is_err(),
        "its entry requires a certificate"
    );
    assert!(attempt("locked.example.com", Some(&good)).is_ok());
}

#[test]
fn an_ocsp_response_is_stapled_when_asked() {
    let (dir, ca, tls) = one_cert("staple");
    let der = [0x30, 0x03, 0x0a, 0x01, 0x00];
    std::fs::write(dir.path("host.pem.ocsp"), der).unwrap();
    let srv = server(&tls);
    let spec = ClientSpec::new(&ca, HOST);
    let (client, seen) = spec.config_seeing_ocsp();
    let out = connect(client, HOST, srv);
    assert!(out.result.is_ok(), "{:?}", out.result);
    assert_eq!(seen.lock().unwrap().as_deref(), Some(&der[..]));
}

#[test]
fn curves_choose_the_key_exchange_group() {
    let (_dir, ca, mut tls) = one_cert("curves");
    let group = |tls: &BindTls| {
        let out = hello(&ca, HOST, &server(tls));
        assert!(out.result.is_ok(), "{:?}", out.result);
        out.server.negotiated_key_exchange_group().map(|g| g.name())
    };
    assert_eq!(group(&tls), Some(rustls::NamedGroup::X25519));
    tls.curves = Some("P-384".into());
    assert_eq!(group(&tls), Some(rustls::NamedGroup::secp384r1));
}

#[test]
fn a_revoked_client_certificate_is_refused() {
    let (dir, ca, mut tls) = one_cert("crl");
    let client_ca = Ca::new("client ca");
    let leaf = |serial| {
        client_ca.leaf(&Leaf {
            serial: Some(serial),
            ..Leaf::new(&["client.example.com"], Alg::Ecdsa)
        })
    };
    let (good, revoked) = (leaf(7), leaf(42));
    tls.ca_file = Some(dir.write("clients.ca", &client_ca.pem));
    tls.crl_file = Some(dir.write("clients.crl", &client_ca.crl(&[42])));
    tls.verify = Verify::Optional;
    let srv = server(&tls);
    let attempt = |cert: Option<&Issued>| {
        let spec = ClientSpec {
            client_cert: cert,
            ..ClientSpec::new(&ca, HOST)
        };
        connect(spec.config(), HOST, srv.clone()).result
    };
    assert!(attempt(Some(&good)).is_ok());
    assert!(attempt(Some(&revoked)).is_err());
    assert!(
        attempt(None).is_ok(),
        "optional: no certificate is still fine"
    );
}

#[test]
fn accepting_picks_the_config_and_refuses_plain_http() {
    use super::accept::{Accepting, Progress};
    let (_dir, ca, tls) = one_cert("accept");
    let mut warnings = Vec::new();
    let shared = Shared::load(&tls, &mut warnings).unwrap();
    let configs = BindConfig::build(&tls, &shared).unwrap();
    let name = rustls::pki_types::ServerName::try_from("host.example.com").unwrap();
    let mut client =
        rustls::ClientConnection::new(ClientSpec::new(&ca, HOST).config(), name).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    // The hello in two pieces: the first is not enough.
    let mut accepting = Accepting::new(&configs);
    let (a, b) = hello.split_at(hello.len() / 2);
    assert!(matches!(
        accepting.feed(&mut &a[..]),
        Ok(Progress::NeedMore)
    ));
    let mut rest = b;
    let Ok(Progress::Ready(mut server)) = accepting.feed(&mut rest) else {
        panic!("the ClientHello was complete");
    };
    assert!(rest.is_empty());
    let mut flight = Vec::new();
    server.write_tls(&mut flight).unwrap();
    client.read_tls(&mut &flight[..]).unwrap();
    assert!(client.process_new_packets().is_ok());
    // Plain HTTP on a TLS port: refused at once.
    let mut accepting = Accepting::new(&configs);
    let refused = accepting.feed(&mut &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]);
    assert!(refused.is_err());
}

#[test]
fn facts_say_what_the_handshake_was() {
    use super::facts::ConnFacts;
    let (dir, ca, mut tls) = one_cert("facts");
    let client_ca = Ca::new("Client CA");
    let client = client_ca.leaf(&Leaf {
        cn: Some("alice"),
        serial: Some(0x1234),
        years: Some((2020, 2990)),
        ..Leaf::new(&["alice.example.com"], Alg::Ecdsa)
    });
    tls.ca_file = Some(dir.write("clients.ca", &client_ca.pem));
    tls.verify = Verify::Optional;
    tls.alpn = vec!["http/1.1".into()];
    tls.ciphersuites = Some("TLS_AES_256_GCM_SHA384".into());
    let spec = ClientSpec {
        client_cert: Some(&client),
        alpn: &["http/1.1"],
        ..ClientSpec::new(&ca, HOST)
    };
    let out = connect(spec.config(), HOST, server(&tls));
    assert!(out.result.is_ok(), "{:?}", out.result);
    let f = ConnFacts::of(&out.server);
    assert_eq!(f.sni.as_deref(), Some("host.example.com"));
    assert_eq!(f.protocol, Some("TLSv1.3"));
    assert_eq!(f.cipher, Some("TLS_AES_256_GCM_SHA384"));
    assert_eq!(f.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(!f.resumed);
    let c = f.client.unwrap();
    assert_eq!((c.verify, c.subject_dn.as_str()), (0, "/CN=alice"));
    assert_eq!(c.issuer_dn, "/CN=Client CA");
    assert_eq!(c.serial, [0x12, 0x34]);
    assert_eq!(c.sha1.len(), 20);
    assert_eq!(
        (c.not_before.as_str(), c.not_after.as_str()),
        ("200101000000Z", "29900101000000Z")
    );
    // TLS 1.2 names its suite the OpenSSL way.
    let spec = ClientSpec {
        versions: &[&rustls::version::TLS12],
        ..ClientSpec::new(&ca, HOST)
    };
    tls.verify = Verify::None;
    let out = connect(spec.config(), HOST, server(&tls));
    let f = ConnFacts::of(&out.server);
    assert_eq!(f.protocol, Some("TLSv1.2"));
    assert_eq!(f.cipher, Some("ECDHE-ECDSA-AES256-GCM-SHA384"));
    assert!(f.client.is_none());
}
