//! TLS facts in rules, end to end: `ssl_fc*` and `ssl_c_*` fetches copied into request
//! headers and read back from what the backend received, `redirect scheme https unless
//! { ssl_fc }` on a plain bind beside the TLS one. Certificates are generated here; clients
//! are a rustls client and curl; both monoio drivers.

mod common;

use common::*;
use rustls::HandshakeKind;
use std::net::SocketAddr;

// TLS fetches in rules: what the backend sees

/// A plain and a TLS bind (`verify optional` against the test CA); rules copy the TLS facts
/// into request headers, and plain requests are redirected to https.
fn fetch_cfg(crt: &str, ca: &str, backend: SocketAddr) -> String {
    format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0\n    \
         bind 127.0.0.1:0 ssl crt {crt} ca-file {ca} verify optional alpn http/1.1\n    \
         http-request redirect scheme https unless {{ ssl_fc }}\n    \
         http-request set-header X-SSL %[ssl_fc]\n    \
         http-request set-header X-SNI %[ssl_fc_sni]\n    \
         http-request set-header X-Proto %[ssl_fc_protocol]\n    \
         http-request set-header X-ALPN %[ssl_fc_alpn]\n    \
         http-request set-header X-Reused %[ssl_fc_session_reused]\n    \
         http-request set-header X-Cert-Used %[ssl_c_used]\n    \
         http-request set-header X-Cert-Verify %[ssl_c_verify]\n    \
         http-request set-header X-Cert-DN %[ssl_c_s_dn]\n    \
         http-request set-header X-Cert-CN %[ssl_c_s_dn(CN)]\n    \
         http-request set-header X-Cert-Issuer %[ssl_c_i_dn(CN)]\n    \
         default_backend be\n\nbackend be\n    server s1 {backend}\n"
    )
}

both_drivers!(tls_fetches_reach_the_backend_as_headers, |driver| {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let alice = pki.ca.client("alice");
    let backend = HttpBackend::start("s1");
    let lb = Ringlb::start(&fetch_cfg(&crt, &pki.ca_file, backend.addr), driver);
    let addrs = lb.addrs("fe");
    assert_eq!(addrs.len(), 2, "{}", lb.output());
    let (plain, tls) = (addrs[0], addrs[1]);

    // Plain HTTP: redirected by `redirect scheme https unless { ssl_fc }`, never forwarded.
    let mut c = Client::connect(plain);
    c.send("GET /a?b=1 HTTP/1.1\r\nHost: site.example\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 302, "{}", r.describe());
    assert_eq!(r.header("location"), Some("https://site.example/a?b=1"));
    assert_eq!(backend.requests(), 0);

    // TLS 1.3 with a client certificate, then a resumed connection without one.
    let store = session_store();
    let spec = ClientSpec {
        versions: &[&rustls::version::TLS13],
        alpn: &["http/1.1"],
        client_cert: Some(&alice),
        sessions: Some(store.clone()),
        ..ClientSpec::new(&pki.ca)
    };
    let mut t = Tls::connect(tls, spec.config(true), "site.example").unwrap();
    let r = t.get("site.example", "/first").unwrap();
    assert_eq!(r.status, 200, "{}", r.head);
    let seen = |name: &str| r.seen_header(name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(seen("x-ssl"), "1");
    assert_eq!(seen("x-sni"), "site.example");
    assert_eq!(seen("x-proto"), "TLSv1.3");
    assert_eq!(seen("x-alpn"), "http/1.1");
    assert_eq!(seen("x-reused"), "0");
    assert_eq!(seen("x-cert-used"), "1");
    assert_eq!(seen("x-cert-verify"), "0");
    assert_eq!(seen("x-cert-dn"), "/CN=alice");
    assert_eq!(seen("x-cert-cn"), "alice");
    assert_eq!(seen("x-cert-issuer"), "ringlb test CA");
    drop(t);

    let spec = ClientSpec {
        versions: &[&rustls::version::TLS12],
        sessions: Some(session_store()),
        ..ClientSpec::new(&pki.ca)
    };
    let cfg = spec.config(true);
    let mut t = Tls::connect(tls, cfg.clone(), "site.example").unwrap();
    let r = t.get("site.example", "/tls12").unwrap();
    assert_eq!(r.seen_header("x-proto").as_deref(), Some("TLSv1.2"));
    assert_eq!(r.seen_header("x-cert-used").as_deref(), Some("0"));
    assert_eq!(
        r.seen_header("x-alpn").as_deref(),
        Some(""),
        "no ALPN offered"
    );
    assert_eq!(r.seen_header("x-reused").as_deref(), Some("0"));
    drop(t);
    let mut t = Tls::connect(tls, cfg, "site.example").unwrap();
    assert_eq!(t.negotiated().kind, Some(HandshakeKind::Resumed));
    let r = t.get("site.example", "/again").unwrap();
    assert_eq!(r.seen_header("x-reused").as_deref(), Some("1"));

    // curl, without SNI (an IP address): ssl_fc_sni is empty.
    let c = curl(
        tls,
        "site.example",
        "/curl",
        &pki.ca_file,
        &[&format!("https://127.0.0.1:{}/ip", tls.port()), "-k"],
    );
    assert_eq!(c.stdout.matches("code=200").count(), 2, "{}", c.all());
    assert!(
        c.stdout.contains("header X-SNI: site.example\n"),
        "{}",
        c.stdout
    );
    assert!(c.stdout.contains("header X-SNI: \n"), "{}", c.stdout);
});

/// HAProxy 2.6 names the resumption fetch `ssl_fc_is_resumed` (ringlb's older
/// `ssl_fc_session_reused` is an alias HAProxy lacks).
#[test]
fn ssl_fc_is_resumed_as_in_haproxy() {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let backend = HttpBackend::start("s1");
    let cfg = tls_cfg(&format!("crt {crt}"), backend.addr, "").replace(
        "    default_backend be",
        "    http-request set-header X-Resumed %[ssl_fc_is_resumed]\n    default_backend be",
    );
    let lb = Ringlb::start(&cfg, "io_uring");
    let spec = ClientSpec {
        sessions: Some(session_store()),
        ..ClientSpec::new(&pki.ca)
    };
    let cfg = spec.config(true);
    for expected in ["0", "1"] {
        let mut t = Tls::connect(lb.addr("fe"), cfg.clone(), "site.example").unwrap();
        let r = t.get("site.example", "/").unwrap();
        assert_eq!(r.seen_header("x-resumed").as_deref(), Some(expected));
    }
}
