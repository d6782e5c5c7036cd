//! TLS termination end to end: the real binary with `bind ... ssl crt FILE`, certificates
//! generated here, real clients (`curl`, `openssl s_client`, and a rustls client where a CLI
//! cannot report what is checked: handshake kind, exact signature schemes), real backends.
//! Every test runs on both monoio drivers. The TLS fetches in rules: `e2e_tls_fetches.rs`.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{HandshakeKind, ProtocolVersion};

/// A CA, one ECDSA certificate for `site.example`, a backend and ringlb with `opts` (which
/// name the certificate as `{crt}`).
struct Site {
    pki: Pki,
    backend: HttpBackend,
    lb: Ringlb,
    leaf: Issued,
}

impl Site {
    fn start(opts: &str, driver: &str) -> Site {
        Site::start_global(opts, "", driver)
    }

    fn start_global(opts: &str, global: &str, driver: &str) -> Site {
        let pki = Pki::new();
        let (leaf, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
        let backend = HttpBackend::start("s1");
        let opts = opts.replace("{crt}", &crt).replace("{ca}", &pki.ca_file);
        let lb = Ringlb::start(&tls_cfg(&opts, backend.addr, global), driver);
        Site {
            pki,
            backend,
            lb,
            leaf,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.lb.addr("fe")
    }

    fn client(&self) -> ClientSpec<'_> {
        ClientSpec::new(&self.pki.ca)
    }

    fn connect(&self, spec: &ClientSpec) -> Tls {
        Tls::connect(self.addr(), spec.config(true), "site.example")
            .unwrap_or_else(|e| panic!("TLS handshake: {e}\n--- ringlb ---\n{}", self.lb.output()))
    }

    fn curl(&self, path: &str, extra: &[&str]) -> CliRun {
        curl(self.addr(), "site.example", path, &self.pki.ca_file, extra)
    }
}

/// Handshake, then one GET: the status, or why there was none. With TLS 1.3 a refused client
/// certificate shows only after the client's handshake is done, on the first read.
fn try_get(
    addr: SocketAddr,
    cfg: std::sync::Arc<rustls::ClientConfig>,
    sni: &str,
) -> Result<u16, String> {
    let mut t = Tls::connect(addr, cfg, sni).map_err(|e| format!("handshake: {e}"))?;
    t.get(sni, "/")
        .map(|r| r.status)
        .map_err(|e| format!("request: {e}"))
}

// Versions

both_drivers!(tls12_and_tls13_negotiated_and_limited, |driver| {
    // Default: TLS 1.3 with every client.
    let site = Site::start("crt {crt}", driver);
    let t = site.connect(&site.client());
    assert_eq!(t.negotiated().version, Some(ProtocolVersion::TLSv1_3));
    let c = site.curl("/", &[]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(c.curl_tls().contains("TLSv1.3"), "{}", c.curl_tls());
    // A client that stops at 1.2 still gets in.
    let c = site.curl("/", &["--tls-max", "1.2"]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(c.curl_tls().contains("TLSv1.2"), "{}", c.curl_tls());
    drop(site);

    // ssl-max-ver TLSv1.2: every client lands on 1.2; a 1.3-only client is refused.
    let site = Site::start("crt {crt} ssl-max-ver TLSv1.2", driver);
    let t = site.connect(&site.client());
    assert_eq!(t.negotiated().version, Some(ProtocolVersion::TLSv1_2));
    let c = site.curl("/", &[]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(c.curl_tls().contains("TLSv1.2"), "{}", c.curl_tls());
    let only13 = ClientSpec {
        versions: &[&rustls::version::TLS13],
        ..site.client()
    };
    assert!(try_get(site.addr(), only13.config(true), "site.example").is_err());
    let s = s_client(
        site.addr(),
        &["-servername", "site.example", "-tls1_3"],
        b"",
    );
    assert!(
        !s.ok && s.brief("Protocol version").is_none(),
        "{}",
        s.all()
    );
    let s = s_client(
        site.addr(),
        &["-servername", "site.example", "-tls1_2"],
        b"",
    );
    assert_eq!(
        s.brief("Protocol version").as_deref(),
        Some("TLSv1.2"),
        "{}",
        s.all()
    );
    drop(site);

    // ssl-min-ver TLSv1.3: a client that stops at 1.2 is refused.
    let site = Site::start("crt {crt} ssl-min-ver TLSv1.3", driver);
    let only12 = ClientSpec {
        versions: &[&rustls::version::TLS12],
        ..site.client()
    };
    assert!(try_get(site.addr(), only12.config(true), "site.example").is_err());
    let c = site.curl("/", &["--tls-max", "1.2"]);
    assert_eq!(c.code(), 0, "curl limited to 1.2 must fail: {}", c.all());
    let c = site.curl("/", &[]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(c.curl_tls().contains("TLSv1.3"), "{}", c.curl_tls());
    // TLS 1.0 and 1.1 are never offered (rustls has neither).
    let s = s_client(
        site.addr(),
        &["-servername", "site.example", "-tls1_1"],
        b"",
    );
    assert!(!s.ok, "{}", s.all());
});

// Certificate selection

/// Which certificate (subject CN) the server showed for `sni` (`None`: send no SNI).
fn served_cn(addr: SocketAddr, ca: &Ca, sni: Option<&str>) -> Result<String, String> {
    let spec = ClientSpec::new(ca);
    let t = Tls::connect(
        addr,
        spec.config(sni.is_some()),
        sni.unwrap_or("no-sni.invalid"),
    )
    .map_err(|e| e.to_string())?;
    let leaf = t.negotiated().leaf.ok_or("no certificate")?;
    Ok(subject_cn(&leaf))
}

both_drivers!(
    sni_chooses_among_certificates_wildcard_and_default,
    |driver| {
        let pki = Pki::new();
        let (_, def) = pki.server("default", "default", &["default.example"], Alg::Ecdsa);
        let (_, a) = pki.server("a", "a", &["a.example"], Alg::Ecdsa);
        let (_, b) = pki.server("b", "b", &["b.example"], Alg::Rsa);
        let (_, wild) = pki.server("wild", "wild", &["*.wild.example"], Alg::Ecdsa);
        let backend = HttpBackend::start("s1");
        let lb = Ringlb::start(
            &tls_cfg(
                &format!("crt {def} crt {a} crt {b} crt {wild}"),
                backend.addr,
                "",
            ),
            driver,
        );
        let addr = lb.addr("fe");
        let cn = |sni| served_cn(addr, &pki.ca, sni).unwrap();
        assert_eq!(cn(Some("a.example")), "a");
        assert_eq!(cn(Some("b.example")), "b");
        assert_eq!(cn(Some("A.EXAMPLE")), "a", "SNI matching ignores case");
        assert_eq!(cn(Some("x.wild.example")), "wild");
        // A wildcard covers one label only; unknown names and no SNI get the first certificate.
        assert_eq!(cn(Some("deep.x.wild.example")), "default");
        assert_eq!(cn(Some("unknown.example")), "default");
        assert_eq!(cn(None), "default");
        // Real clients: curl verifies the name, openssl reports the subject.
        for host in ["a.example", "b.example", "y.wild.example"] {
            let c = curl(addr, host, "/", &pki.ca_file, &[]);
            assert_eq!(c.code(), 200, "{host}: {}", c.all());
        }
        let s = s_client(
            addr,
            &["-servername", "b.example", "-CAfile", &pki.ca_file],
            b"",
        );
        assert_eq!(
            s.brief("Peer certificate").as_deref(),
            Some("CN = b"),
            "{}",
            s.all()
        );
        let s = s_client(addr, &["-noservername", "-CAfile", &pki.ca_file], b"");
        assert_eq!(
            s.brief("Peer certificate").as_deref(),
            Some("CN = default"),
            "{}",
            s.all()
        );
    }
);

both_drivers!(strict_sni_refuses_missing_and_unknown_names, |driver| {
    let site = Site::start("crt {crt} strict-sni", driver);
    assert_eq!(
        served_cn(site.addr(), &site.pki.ca, Some("site.example")).unwrap(),
        "site"
    );
    let none = served_cn(site.addr(), &site.pki.ca, None);
    assert!(none.is_err(), "no SNI under strict-sni: {none:?}");
    let unknown = served_cn(site.addr(), &site.pki.ca, Some("other.example"));
    assert!(
        unknown.is_err(),
        "unknown SNI under strict-sni: {unknown:?}"
    );
    let s = s_client(site.addr(), &["-noservername"], b"");
    assert!(s.brief("Protocol version").is_none(), "{}", s.all());
    let c = site.curl("/", &[]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert_eq!(
        site.backend.requests(),
        1,
        "only the curl request got through"
    );
});

both_drivers!(rsa_and_ecdsa_certificates_for_one_name, |driver| {
    let pki = Pki::new();
    let (rsa, rsa_file) = pki.server("dual-rsa", "dual-rsa", &["dual.example"], Alg::Rsa);
    let (ecdsa, ecdsa_file) = pki.server("dual-ecdsa", "dual-ecdsa", &["dual.example"], Alg::Ecdsa);
    let backend = HttpBackend::start("s1");
    // RSA first, so an ECDSA answer cannot be "the first one loaded".
    let lb = Ringlb::start(
        &tls_cfg(
            &format!("crt {rsa_file} crt {ecdsa_file}"),
            backend.addr,
            "",
        ),
        driver,
    );
    let addr = lb.addr("fe");
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let both = ClientSpec {
            versions,
            ..ClientSpec::new(&pki.ca)
        };
        let t = Tls::connect(addr, both.config(true), "dual.example").unwrap();
        assert_eq!(
            t.negotiated().leaf.as_ref(),
            Some(&ecdsa.der),
            "{versions:?}"
        );
        let rsa_only = ClientSpec {
            rsa_only: true,
            ..both
        };
        let t = Tls::connect(addr, rsa_only.config(true), "dual.example").unwrap();
        assert_eq!(t.negotiated().leaf.as_ref(), Some(&rsa.der), "{versions:?}");
    }
    let args = ["-servername", "dual.example", "-CAfile", &pki.ca_file];
    let s = s_client(addr, &args, b"");
    assert_eq!(
        s.brief("Peer certificate").as_deref(),
        Some("CN = dual-ecdsa"),
        "{}",
        s.all()
    );
    let s = s_client(
        addr,
        &[&args[..], &["-sigalgs", "RSA-PSS+SHA256"]].concat(),
        b"",
    );
    assert_eq!(
        s.brief("Peer certificate").as_deref(),
        Some("CN = dual-rsa"),
        "{}",
        s.all()
    );
    assert_eq!(
        s.brief("Signature type").as_deref(),
        Some("RSA-PSS"),
        "{}",
        s.all()
    );
});

// Client certificates

both_drivers!(client_certificates_none_optional_required, |driver| {
    let pki = Pki::new();
    let good = pki.ca.client("alice");
    let stranger_ca = Ca::new("another CA");
    let stranger = stranger_ca.client("mallory");
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let backend = HttpBackend::start("s1");
    let outcome = |verify: &str, cert: Option<&Issued>| {
        let lb = Ringlb::start(
            &tls_cfg(
                &format!("crt {crt} ca-file {} verify {verify}", pki.ca_file),
                backend.addr,
                "",
            ),
            driver,
        );
        let spec = ClientSpec {
            client_cert: cert,
            ..ClientSpec::new(&pki.ca)
        };
        try_get(lb.addr("fe"), spec.config(true), "site.example")
    };
    for verify in ["none", "optional", "required"] {
        let ok = |r: &Result<u16, String>| r == &Ok(200);
        let none = outcome(verify, None);
        let good_r = outcome(verify, Some(&good));
        let bad_r = outcome(verify, Some(&stranger));
        assert!(ok(&good_r), "verify {verify}, good cert: {good_r:?}");
        match verify {
            "none" => {
                assert!(ok(&none), "verify none, no cert: {none:?}");
                // Not asked for, so never looked at.
                assert!(ok(&bad_r), "verify none, other CA: {bad_r:?}");
            }
            "optional" => {
                assert!(ok(&none), "verify optional, no cert: {none:?}");
                assert!(!ok(&bad_r), "verify optional, other CA: {bad_r:?}");
            }
            _ => {
                assert!(!ok(&none), "verify required, no cert: {none:?}");
                assert!(!ok(&bad_r), "verify required, other CA: {bad_r:?}");
            }
        }
    }
    // curl with a client certificate, against verify required.
    let lb = Ringlb::start(
        &tls_cfg(
            &format!("crt {crt} ca-file {} verify required", pki.ca_file),
            backend.addr,
            "",
        ),
        driver,
    );
    let (cert, key) = good.write_pair(&pki.dir, "alice");
    let c = curl(
        lb.addr("fe"),
        "site.example",
        "/",
        &pki.ca_file,
        &["--cert", &cert, "--key", &key],
    );
    assert_eq!(c.code(), 200, "{}", c.all());
    let c = curl(lb.addr("fe"), "site.example", "/", &pki.ca_file, &[]);
    assert_ne!(c.code(), 200, "curl without a certificate: {}", c.all());
    let _ = stranger_ca;
});

// ALPN

both_drivers!(alpn_http11_and_h2_held_back, |driver| {
    let site = Site::start("crt {crt} alpn http/1.1", driver);
    let spec = ClientSpec {
        alpn: &["h2", "http/1.1"],
        ..site.client()
    };
    let mut t = site.connect(&spec);
    assert_eq!(t.negotiated().alpn.as_deref(), Some("http/1.1"));
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    drop(site);

    let site = Site::start("crt {crt} alpn h2,http/1.1", driver);
    let spec = ClientSpec {
        alpn: &["h2", "http/1.1"],
        ..site.client()
    };
    assert!(
        !site.lb.output().contains("h2 is not offered"),
        "h2 is served:\n{}",
        site.lb.output()
    );
    let t = site.connect(&spec);
    assert_eq!(t.negotiated().alpn.as_deref(), Some("h2"));
    drop(t);
    // A client offering only http/1.1 gets it on the same bind.
    let spec = ClientSpec {
        alpn: &["http/1.1"],
        ..site.client()
    };
    let mut t = site.connect(&spec);
    assert_eq!(t.negotiated().alpn.as_deref(), Some("http/1.1"));
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    // curl asks for h2 by default over https, and gets it (serve/h2/).
    let c = site.curl("/", &["--http2"]);
    assert_eq!(c.code(), 200, "{}", c.all());
    assert!(
        c.stderr.contains("ALPN: server accepted h2"),
        "{}",
        c.stderr
    );
    let s = s_client_args(
        site.addr(),
        &["-servername", "site.example", "-alpn", "h2,http/1.1"],
        b"",
    );
    assert_eq!(
        s.brief("ALPN protocol").as_deref(),
        Some("h2"),
        "{}",
        s.all()
    );
});

// Resumption

/// Opens `n` connections sharing one session store; returns how many of those after the
/// first resumed, each doing one request (the tickets arrive with the first response).
fn resumed_share(addr: SocketAddr, spec: &ClientSpec, n: usize) -> (usize, usize) {
    let cfg = spec.config(true);
    let mut resumed = 0;
    for i in 0..n {
        let mut t = Tls::connect(addr, cfg.clone(), "site.example").expect("handshake");
        assert_eq!(t.get("site.example", "/").expect("request").status, 200);
        let kind = t.negotiated().kind;
        if i == 0 {
            assert_eq!(kind, Some(HandshakeKind::Full));
        } else if kind == Some(HandshakeKind::Resumed) {
            resumed += 1;
        }
    }
    (resumed, n - 1)
}

/// Reconnects per resumption test: with 2 cores a per-core cache would resume about half.
const RECONNECTS: usize = 60;

both_drivers!(resumption_across_cores, |driver| {
    let site = Site::start("crt {crt}", driver);
    for (name, versions) in [
        ("TLSv1.3", &[&rustls::version::TLS13][..]),
        ("TLSv1.2", &[&rustls::version::TLS12][..]),
    ] {
        let spec = ClientSpec {
            versions,
            sessions: Some(session_store()),
            ..site.client()
        };
        let (resumed, of) = resumed_share(site.addr(), &spec, RECONNECTS);
        eprintln!("{driver} {name}: {resumed}/{of} reconnections resumed over 2 cores");
        // Every reconnect should resume; one lost ticket is tolerated, half would mean a
        // per-core cache.
        assert!(resumed + 1 >= of, "{name}: only {resumed}/{of} resumed");
    }
    // Control: without tickets or a cache nothing resumes, so the count above means something.
    drop(site);
    let site = Site::start_global(
        "crt {crt} no-tls-tickets",
        "    tune.ssl.cachesize 0",
        driver,
    );
    let spec = ClientSpec {
        sessions: Some(session_store()),
        ..site.client()
    };
    let (resumed, of) = resumed_share(site.addr(), &spec, 6);
    assert_eq!(
        resumed, 0,
        "no-tls-tickets + cachesize 0 still resumed {resumed}/{of}"
    );
});

/// HAProxy's key-file format: base64 lines of 80 bytes (name, AES key, HMAC key).
fn ticket_key_file(dir: &TempDir, name: &str) -> String {
    use base64::Engine;
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    let mut text = String::new();
    for _ in 0..3 {
        let mut key = [0u8; 80];
        random.read_exact(&mut key).unwrap();
        text.push_str(&base64::engine::general_purpose::STANDARD.encode(key));
        text.push('\n');
    }
    dir.write(name, text).display().to_string()
}

both_drivers!(ticket_keys_file_resumes_on_a_second_process, |driver| {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let keys = ticket_key_file(&pki.dir, "tickets.key");
    let other_keys = ticket_key_file(&pki.dir, "other.key");
    let backend = HttpBackend::start("s1");
    let start = |keys: &str| {
        Ringlb::start(
            &tls_cfg(
                &format!("crt {crt} tls-ticket-keys {keys}"),
                backend.addr,
                "",
            ),
            driver,
        )
    };
    let spec = ClientSpec {
        sessions: Some(session_store()),
        ..ClientSpec::new(&pki.ca)
    };
    let cfg = spec.config(true);
    let first = start(&keys);
    let mut t = Tls::connect(first.addr("fe"), cfg.clone(), "site.example").unwrap();
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    assert_eq!(t.negotiated().kind, Some(HandshakeKind::Full));
    drop(t);
    drop(first);
    // Another process, the same key file: the ticket from the first one resumes.
    let second = start(&keys);
    let mut t = Tls::connect(second.addr("fe"), cfg.clone(), "site.example").unwrap();
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    assert_eq!(
        t.negotiated().kind,
        Some(HandshakeKind::Resumed),
        "a ticket sealed by the first process with the same keys"
    );
    drop(t);
    drop(second);
    // A process with other keys cannot open it: a full handshake, still served.
    let third = start(&other_keys);
    let mut t = Tls::connect(third.addr("fe"), cfg, "site.example").unwrap();
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    assert_eq!(t.negotiated().kind, Some(HandshakeKind::Full));
});

// Bad and slow clients

/// Reads until EOF or reset: how long that took, and what came before it.
fn time_to_close(s: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    s.set_read_timeout(Some(limit)).unwrap();
    let t0 = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (t0.elapsed(), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (t0.elapsed(), got)
            }
            Err(e) => panic!("not closed within {limit:?}: {e}"),
        }
    }
}

/// The first 40 bytes of a real ClientHello (from rustls), so the server has something to
/// wait on.
fn half_client_hello(ca: &Ca) -> Vec<u8> {
    let cfg = ClientSpec::new(ca).config(true);
    let mut c = rustls::ClientConnection::new(cfg, "site.example".try_into().unwrap()).unwrap();
    let mut out = Vec::new();
    c.write_tls(&mut out).unwrap();
    out.truncate(40);
    out
}

both_drivers!(stalled_handshake_closed_by_timeout_client, |driver| {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let backend = HttpBackend::start("s1");
    let cfg = tls_cfg(&format!("crt {crt}"), backend.addr, "")
        .replace("timeout client 5s", "timeout client 1s");
    let lb = Ringlb::start(&cfg, driver);
    let addr = lb.addr("fe");
    let half = half_client_hello(&pki.ca);
    for (what, bytes) in [("nothing", &[][..]), ("half a ClientHello", &half[..])] {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(bytes).unwrap();
        let (took, _) = time_to_close(&mut s, Duration::from_secs(5));
        assert!(
            took >= Duration::from_millis(700) && took < Duration::from_secs(3),
            "{what}: closed after {took:?}, timeout client is 1s"
        );
    }
    assert_eq!(backend.connections(), 0);
});

both_drivers!(
    plain_http_on_tls_port_closed_without_disturbing_others,
    |driver| {
        let site = Site::start("crt {crt}", driver);
        let mut good = site.connect(&site.client());
        assert_eq!(good.get("site.example", "/one").unwrap().status, 200);
        let mut plain = Client::connect(site.addr());
        plain.send("GET / HTTP/1.1\r\nHost: site.example\r\n\r\n");
        let (took, got) = time_to_close(&mut plain.conn.stream, Duration::from_secs(4));
        // At once: not after `timeout client` (5 s here).
        assert!(took < Duration::from_secs(1), "closed after {took:?}");
        // At most a TLS alert record (content type 21), never an HTTP answer.
        assert!(
            got.is_empty() || got[0] == 21,
            "plain HTTP on the TLS port got {:?}",
            lossy(&got)
        );
        // The good client's connection is untouched and a new one works too.
        assert_eq!(good.get("site.example", "/two").unwrap().status, 200);
        let mut again = site.connect(&site.client());
        assert_eq!(again.get("site.example", "/three").unwrap().status, 200);
        assert_eq!(site.backend.requests(), 3);
    }
);

// Traffic

both_drivers!(large_bodies_and_keep_alive_through_tls, |driver| {
    let site = Site::start("crt {crt}", driver);
    let mut t = site.connect(&site.client());
    const MB: usize = 1 << 20;
    let body = pattern(MB);
    let mut req =
        format!("POST /echo HTTP/1.1\r\nHost: site.example\r\nContent-Length: {MB}\r\n\r\n")
            .into_bytes();
    req.extend_from_slice(&body);
    t.send(&req).unwrap();
    let r = t.read_response().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), MB);
    assert!(r.body == body, "the upload came back changed");
    let r = t.get("site.example", &format!("/size/{MB}")).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body == pattern(MB), "the download arrived changed");
    // More requests on the same TLS connection.
    for i in 0..5 {
        let r = t.get("site.example", &format!("/k{i}")).unwrap();
        assert_eq!(r.status, 200, "request {i}: {}", r.head);
    }
    assert_eq!(site.backend.requests(), 7);
    // curl also reuses one connection for several URLs.
    let port = site.addr().port();
    let c = site.curl("/c1", &[&format!("https://site.example:{port}/c2")]);
    assert!(c.stdout.matches("code=200").count() == 2, "{}", c.all());
    assert!(
        c.stderr.contains("Re-using existing connection"),
        "{}",
        c.stderr
    );
    let _ = &site.leaf;
});

both_drivers!(mode_tcp_terminates_tls_then_relays, |driver| {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let echo = TcpEchoBackend::start();
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nlisten fe\n    bind 127.0.0.1:0 ssl crt {crt}\n    \
         server e {}\n",
        echo.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let spec = ClientSpec::new(&pki.ca);
    let mut t = Tls::connect(lb.addr("fe"), spec.config(true), "site.example").unwrap();
    let msg = pattern(100_000);
    t.send(&msg).unwrap();
    let mut got = vec![0u8; msg.len()];
    t.s.read_exact(&mut got).unwrap();
    assert!(got == msg, "the echo through TLS came back changed");
    // close_notify ends the client's side: the backend sees EOF and says bye.
    t.s.conn.send_close_notify();
    t.s.flush().unwrap();
    let mut rest = Vec::new();
    let _ = t.s.read_to_end(&mut rest);
    assert_eq!(lossy(&rest), "bye", "half-close through TLS");
    assert_eq!(echo.connections(), 1);
    // openssl s_client as a plain TLS pipe.
    let s = s_client(
        lb.addr("fe"),
        &[
            "-servername",
            "site.example",
            "-CAfile",
            &pki.ca_file,
            "-quiet",
        ],
        b"hello\n",
    );
    assert!(s.stdout.contains("hello"), "{}", s.all());
});

both_drivers!(pipelined_requests_in_one_tls_write, |driver| {
    // Three requests in one TLS record: the decrypted bytes past the first request must wait
    // in the stream's buffer for the next one, not be lost.
    let site = Site::start("crt {crt}", driver);
    let mut t = site.connect(&site.client());
    let reqs: String = (0..3)
        .map(|i| format!("GET /p{i} HTTP/1.1\r\nHost: site.example\r\n\r\n"))
        .collect();
    t.send(reqs.as_bytes()).unwrap();
    for i in 0..3 {
        let r = t.read_response().unwrap();
        assert_eq!(r.status, 200);
        assert!(
            lossy(&r.body).contains(&format!("target /p{i}\n")),
            "response {i} out of order: {}",
            lossy(&r.body)
        );
    }
});

/// Parallel clients for the concurrency test: well above the 2 cores, below any limit.
const PARALLEL_CLIENTS: usize = 24;

both_drivers!(
    concurrent_tls_clients_each_get_their_own_answers,
    |driver| {
        let site = Site::start("crt {crt}", driver);
        let addr = site.addr();
        let cfg = site.client().config(true);
        let workers: Vec<_> = (0..PARALLEL_CLIENTS)
        .map(|c| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                for conn in 0..3 {
                    let mut t = Tls::connect(addr, cfg.clone(), "site.example")
                        .unwrap_or_else(|e| panic!("client {c} conn {conn}: {e}"));
                    for r in 0..3 {
                        let body = pattern(20_000 + c * 100 + r);
                        let mut req = format!(
                            "POST /echo HTTP/1.1\r\nHost: site.example\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        req.extend_from_slice(&body);
                        t.send(&req).unwrap();
                        let got = t.read_response().unwrap();
                        assert_eq!(got.status, 200);
                        assert!(got.body == body, "client {c} got another client's body");
                    }
                }
            })
        })
        .collect();
        for w in workers {
            w.join().expect("a client thread failed");
        }
        assert_eq!(site.backend.requests(), PARALLEL_CLIENTS * 9);
    }
);

/// Runs openssl (bounded), panicking with its output when it fails.
fn openssl(dir: &TempDir, args: &[&str]) {
    let out = std::process::Command::new("timeout")
        .arg("10")
        .arg("openssl")
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

both_drivers!(ocsp_response_beside_the_certificate_is_stapled, |driver| {
    let pki = Pki::new();
    let dir = &pki.dir;
    let leaf = pki.ca.server_serial("site", &["site.example"], 0x1234);
    let crt = leaf.write_combined(dir, "site.pem");
    dir.write("site.crt", &leaf.cert_pem);
    dir.write("ca.key", &pki.ca.key_pem);
    // A "good" OCSP response signed by the CA itself, made offline with openssl's responder.
    dir.write("index.txt", "V\t491231235959Z\t\t1234\tunknown\t/CN=site\n");
    openssl(
        dir,
        &[
            "ocsp", "-issuer", "ca.pem", "-cert", "site.crt", "-reqout", "req.der",
        ],
    );
    openssl(
        dir,
        &[
            "ocsp",
            "-index",
            "index.txt",
            "-rsigner",
            "ca.pem",
            "-rkey",
            "ca.key",
            "-CA",
            "ca.pem",
            "-reqin",
            "req.der",
            "-respout",
            "site.pem.ocsp",
            "-ndays",
            "7",
        ],
    );
    let backend = HttpBackend::start("s1");
    let lb = Ringlb::start(&tls_cfg(&format!("crt {crt}"), backend.addr, ""), driver);
    let s = s_client_args(
        lb.addr("fe"),
        &[
            "-servername",
            "site.example",
            "-CAfile",
            &pki.ca_file,
            "-status",
        ],
        b"",
    );
    assert!(
        s.stdout.contains("OCSP Response Status: successful")
            && s.stdout.contains("Cert Status: good"),
        "no stapled OCSP response:\n{}\n--- ringlb ---\n{}",
        s.all(),
        lb.output()
    );
});

/// Idle connections held open on the TLS port while a good client connects: more than any
/// per-core accept backlog a serial handshake loop could hide behind.
const SILENT_CONNECTIONS: usize = 40;

both_drivers!(
    silent_and_trickling_handshakes_do_not_block_others,
    |driver| {
        let site = Site::start("crt {crt}", driver);
        // Connections that say nothing, and one that sends its ClientHello a byte at a time.
        let silent: Vec<TcpStream> = (0..SILENT_CONNECTIONS)
            .map(|_| TcpStream::connect(site.addr()).unwrap())
            .collect();
        let t0 = Instant::now();
        let mut good = site.connect(&site.client());
        assert_eq!(good.get("site.example", "/").unwrap().status, 200);
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "a good client waited {:?} behind {SILENT_CONNECTIONS} silent ones",
            t0.elapsed()
        );
        drop(silent);

        let cfg = site.client().config(true);
        let conn = rustls::ClientConnection::new(cfg, "site.example".try_into().unwrap()).unwrap();
        let tcp = TcpStream::connect(site.addr()).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        let mut hello = Vec::new();
        s.conn.write_tls(&mut hello).unwrap();
        for b in &hello {
            s.sock.write_all(std::slice::from_ref(b)).unwrap();
            thread::sleep(Duration::from_millis(1));
        }
        while s.conn.is_handshaking() {
            s.conn
                .complete_io(&mut s.sock)
                .expect("handshake after a trickled ClientHello");
        }
        s.write_all(b"GET /trickle HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        assert!(
            lossy(&answer).starts_with("HTTP/1.1 200"),
            "{}",
            lossy(&answer)
        );
    }
);

both_drivers!(idle_keep_alive_tls_connection_closed_by_timeout, |driver| {
    let pki = Pki::new();
    let (_, crt) = pki.server("site", "site", &["site.example"], Alg::Ecdsa);
    let backend = HttpBackend::start("s1");
    let cfg = tls_cfg(&format!("crt {crt}"), backend.addr, "").replace(
        "timeout client 5s",
        "timeout client 5s\n    timeout http-keep-alive 300ms",
    );
    let lb = Ringlb::start(&cfg, driver);
    let spec = ClientSpec::new(&pki.ca);
    let mut t = Tls::connect(lb.addr("fe"), spec.config(true), "site.example").unwrap();
    assert_eq!(t.get("site.example", "/").unwrap().status, 200);
    let t0 = Instant::now();
    let mut rest = Vec::new();
    // EOF (with or without close_notify) once the keep-alive timeout passes.
    let _ = t.s.read_to_end(&mut rest);
    let took = t0.elapsed();
    assert!(rest.is_empty(), "{}", lossy(&rest));
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(2),
        "idle TLS connection closed after {took:?}, timeout http-keep-alive is 300ms"
    );
});
