use super::*;
use std::sync::Arc;

/// A real ClientHello, as rustls sends it, with `sni` (none for an address).
fn client_hello(sni: &str) -> Vec<u8> {
    let provider = Arc::new(crate::tls::provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let mut c = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut out = Vec::new();
    c.write_tls(&mut out).unwrap();
    out
}

#[test]
fn reads_sni_version_type_and_groups_from_a_real_hello() {
    let h = client_hello("app.example");
    assert_eq!(sni(&h), Read::Found(&b"app.example"[..]));
    assert_eq!(hello_type(&h), Read::Found(1));
    assert_eq!(version(&h), Read::Found(0x0003_0003));
    assert_eq!(has_ec_ext(&h), Read::Found(true));
    // Every prefix is "more", never a wrong answer.
    for cut in 0..h.len() {
        assert_eq!(sni(&h[..cut]), Read::More, "cut at {cut}");
    }
    assert_eq!(hello_type(&h[..5]), Read::More);
    assert_eq!(hello_type(&h[..6]), Read::Found(1));
}

#[test]
fn no_sni_for_an_address_or_for_other_protocols() {
    let h = client_hello("127.0.0.1");
    assert_eq!(sni(&h), Read::No);
    assert_eq!(sni(b"GET / HTTP/1.1\r\n\r\n"), Read::No);
    assert_eq!(hello_type(b"GET / HTTP/1.1\r\n"), Read::No);
    assert_eq!(version(b"SSH-2.0-OpenSSH_9\r\n"), Read::No);
}

#[test]
fn lying_lengths_are_refused_not_followed() {
    let h = client_hello("app.example");
    // The handshake claims more than its record holds.
    let mut long = h.clone();
    long[6] = 0xff;
    assert_eq!(sni(&long), Read::No);
    // A record length beyond HAProxy's bound.
    let mut huge = h.clone();
    huge[3] = 0xff;
    assert_eq!(sni(&huge), Read::No);
}

#[test]
fn arbitrary_bytes_never_panic() {
    let h = client_hello("app.example");
    let mut x: u32 = 7;
    for _ in 0..3000 {
        let mut m = h.clone();
        for _ in 0..4 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (x >> 8) as usize % m.len();
            m[at] = (x >> 20) as u8;
        }
        let _ = (sni(&m), version(&m), hello_type(&m), has_ec_ext(&m));
    }
}
