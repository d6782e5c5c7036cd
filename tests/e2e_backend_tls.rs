//! Backend TLS end to end: ringlb connects to a TLS server started here (a rustls server on a
//! std thread, 127.0.0.1 port 0, certificates made by rcgen in the test), on both drivers.
//! The server answers every request with what its side of the handshake saw (SNI, ALPN,
//! client certificate) and counts its TLS connections, so the tests see verification, SNI,
//! ALPN, mutual TLS, pooled reuse and `check-ssl` from outside, as HAProxy 2.6 behaves:
//! a failed server handshake is a connect failure, retried, then 503 with state `SC`.

mod common;
#[allow(dead_code)]
#[path = "termination/proxies.rs"]
mod proxies;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

/// A test CA whose PEM is a `ca-file`.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

/// A certificate and its key, as PEM.
struct Leaf {
    cert: String,
    key: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(&self, names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// How the test TLS server is set up.
#[derive(Default)]
struct TlsSpec {
    /// Ask for a client certificate and require one from this CA.
    client_ca: Option<CertificateDer<'static>>,
    alpn: Vec<&'static str>,
}

/// A TLS HTTP/1.1 server: keep-alive, no bodies; each response names the SNI and ALPN it saw,
/// whether a client certificate came, and which of its TLS connections carried it.
struct TlsServer {
    addr: SocketAddr,
    /// Completed TLS handshakes.
    handshakes: Arc<AtomicUsize>,
}

impl TlsServer {
    fn start(leaf: &Leaf, spec: TlsSpec) -> TlsServer {
        let chain = vec![CertificateDer::from_pem_slice(leaf.cert.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match spec.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca).unwrap();
                let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .unwrap();
                builder.with_client_cert_verifier(v)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = spec.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let count = handshakes.clone();
        thread::spawn(move || {
            for sock in listener.incoming().flatten() {
                let (config, count) = (config.clone(), count.clone());
                thread::spawn(move || serve_tls(sock, config, count));
            }
        });
        TlsServer { addr, handshakes }
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

fn serve_tls(sock: TcpStream, config: Arc<ServerConfig>, count: Arc<AtomicUsize>) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(15)));
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    let facts = format!(
        "x-sni: {}\r\nx-alpn: {}\r\nx-client-cert: {}\r\nx-tls-conn: {n}\r\n",
        tls.conn.server_name().unwrap_or("-"),
        tls.conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_else(|| "-".into()),
        if tls.conn.peer_certificates().is_some() {
            "yes"
        } else {
            "no"
        },
    );
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
        if head.ends_with(b"\r\n\r\n") {
            let body = "tls ok\n";
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n{facts}\r\n{body}",
                body.len()
            );
            if tls
                .write_all(resp.as_bytes())
                .and_then(|_| tls.flush())
                .is_err()
            {
                return;
            }
            head.clear();
        }
    }
}

/// A directory with the test's PEM files.
struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: TempDir::new(),
        }
    }

    fn put(&self, name: &str, text: &str) -> PathBuf {
        self.dir.write(name, text)
    }
}

fn backend_cfg(server_line: &str) -> String {
    http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\n\
         backend be\n    {server_line}\n"
    ))
}

fn start(files: Files, server_line: &str, driver: &str, debug: bool) -> Ringlb {
    let cfg = backend_cfg(server_line);
    let path = files.dir.write("ringlb.cfg", &cfg);
    let args: Vec<String> = if debug { vec!["-d".into()] } else { Vec::new() };
    Ringlb::start_files_args(files.dir, &[path], &args, driver, &cfg)
}

both_drivers!(verified_server_answers_with_sni, |driver| {
    let ca = Ca::new("test ca");
    let server = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni str(backend.example)",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, false);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-sni"), Some("backend.example"));
    assert_eq!(r.header("x-alpn"), Some("-"));
    assert_eq!(r.text(), "tls ok\n");
});

both_drivers!(unknown_ca_is_503_sc_like_haproxy, |driver| {
    let ca = Ca::new("test ca");
    let other = Ca::new("other ca");
    let server = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let files = Files::new();
    let ca_file = files.put("other.pem", &other.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni str(backend.example)",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, true);
    let r = get_once(lb.addr("fe"), "/");
    // HAProxy 2.6, same setup: 503 after its retries, logged `SC--` with Tc -1.
    assert_eq!(r.status, 503, "{}", r.describe());
    assert_eq!(server.handshakes(), 0);
    assert!(
        lb.wait_for_output(" SC", Duration::from_secs(5)),
        "no SC record:\n{}",
        lb.output()
    );
});

both_drivers!(wrong_sni_name_fails_verification, |driver| {
    let ca = Ca::new("test ca");
    let server = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni str(wrong.example)",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, false);
    assert_eq!(get_once(lb.addr("fe"), "/").status, 503);
});

both_drivers!(no_sni_checks_only_the_chain, |driver| {
    // HAProxy: "When no name is found, the certificate's names are ignored".
    let ca = Ca::new("test ca");
    let server = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {}",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, false);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-sni"), Some("-"));
    // ... unless verifyhost names the certificate's expected name.
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} verifyhost other.example",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, false);
    assert_eq!(get_once(lb.addr("fe"), "/").status, 503);
});

both_drivers!(verify_none_takes_any_certificate, |driver| {
    let stranger = Ca::new("nobody we know");
    let server = TlsServer::start(&stranger.leaf(&["elsewhere.example"]), TlsSpec::default());
    let line = format!(
        "server s1 {} ssl verify none sni str(backend.example)",
        server.addr
    );
    let lb = start(Files::new(), &line, driver, false);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-sni"), Some("backend.example"));
});

both_drivers!(sni_from_the_host_header, |driver| {
    let ca = Ca::new("test ca");
    let leaf = ca.leaf(&["a.example", "b.example"]);
    let server = TlsServer::start(&leaf, TlsSpec::default());
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni req.hdr(host)",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, false);
    let fe = lb.addr("fe");
    for host in ["a.example", "b.example:8443"] {
        let mut c = Client::connect(fe);
        c.send(format!("GET / HTTP/1.1\r\nhost: {host}\r\n\r\n"));
        let r = c.read_response();
        assert_eq!(r.status, 200, "{host}: {}", r.describe());
        let want = host.split(':').next().unwrap();
        assert_eq!(r.header("x-sni"), Some(want), "{host}");
    }
    // A name the certificate does not carry fails verification.
    let mut c = Client::connect(fe);
    c.send("GET / HTTP/1.1\r\nhost: c.example\r\n\r\n");
    assert_eq!(c.read_response().status, 503);
});

both_drivers!(alpn_is_offered, |driver| {
    let stranger = Ca::new("ca");
    let spec = TlsSpec {
        alpn: vec!["http/1.1"],
        ..TlsSpec::default()
    };
    let server = TlsServer::start(&stranger.leaf(&["x.example"]), spec);
    let line = format!("server s1 {} ssl verify none alpn http/1.1", server.addr);
    let lb = start(Files::new(), &line, driver, false);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-alpn"), Some("http/1.1"));
});

both_drivers!(client_certificate_for_mutual_tls, |driver| {
    let server_ca = Ca::new("server ca");
    let client_ca = Ca::new("client ca");
    let spec = TlsSpec {
        client_ca: Some(client_ca.der.clone()),
        ..TlsSpec::default()
    };
    let server = TlsServer::start(&server_ca.leaf(&["backend.example"]), spec);
    let client = client_ca.leaf(&["ringlb.example"]);
    let files = Files::new();
    let ca_file = files.put("ca.pem", &server_ca.pem);
    let crt = files.put("client.pem", &format!("{}{}", client.cert, client.key));
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni str(backend.example) crt {}",
        server.addr,
        ca_file.display(),
        crt.display()
    );
    let lb = start(files, &line, driver, false);
    let r = get_once(lb.addr("fe"), "/");
    assert_eq!(r.status, 200, "{}", r.describe());
    assert_eq!(r.header("x-client-cert"), Some("yes"));
    // Without `crt` the server refuses the handshake. In TLS 1.3 the client's side of it is
    // over before the server judges the certificate, so the refusal comes as the response is
    // awaited: HAProxy 2.6 answers 502 and logs `SH--` (checked with openssl s_server
    // -Verify 1 behind it); so does ringlb.
    let files = Files::new();
    let ca_file = files.put("ca.pem", &server_ca.pem);
    let line = format!(
        "server s1 {} ssl verify required ca-file {} sni str(backend.example)",
        server.addr,
        ca_file.display()
    );
    let lb = start(files, &line, driver, true);
    assert_eq!(get_once(lb.addr("fe"), "/").status, 502);
    assert!(
        lb.wait_for_output(" SH", Duration::from_secs(5)),
        "no SH record:\n{}",
        lb.output()
    );
});

both_drivers!(pooled_tls_connection_is_reused, |driver| {
    let ca = Ca::new("ca");
    let server = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let cfg = format!(
        "global\n    nbthread 1\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n    http-reuse always\n\n\
         frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\n\
         backend be\n    server s1 {} ssl verify none sni str(backend.example)\n",
        server.addr
    );
    let lb = Ringlb::start(&cfg, driver);
    let fe = lb.addr("fe");
    let first = get_once(fe, "/one");
    let second = get_once(fe, "/two");
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(
        server.handshakes(),
        1,
        "the second client reused the pooled connection"
    );
    assert_eq!(second.header("x-tls-conn"), Some("1"));
});

both_drivers!(check_ssl_marks_up_and_down, |driver| {
    let ca = Ca::new("ca");
    let tls = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let plain = HttpBackend::start("plain");
    let cfg = http_cfg(&format!(
        "frontend fe\n    bind 127.0.0.1:0\n    default_backend be\n\n\
         backend be\n    option httpchk GET /health\n    \
         default-server check inter 1s fall 1 rise 1 verify none check-sni backend.example\n    \
         server tls {} ssl\n    server plain {} check-ssl\n",
        tls.addr, plain.addr
    ));
    let lb = Ringlb::start(&cfg, driver);
    // The plain server's check is a TLS handshake it cannot answer: it goes down.
    assert!(
        lb.wait_for_output("Server be/plain is DOWN", Duration::from_secs(5)),
        "{}",
        lb.output()
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !lb.output().contains("Server be/tls is DOWN"),
        "{}",
        lb.output()
    );
    assert!(tls.handshakes() >= 2, "checks went over TLS");
    // Only the TLS server takes traffic now.
    for _ in 0..4 {
        let r = get_once(lb.addr("fe"), "/");
        assert_eq!(r.status, 200, "{}", r.describe());
        assert_eq!(r.header("x-sni"), Some("-"), "traffic has no sni");
    }
});

#[test]
fn config_errors_name_the_server_line() {
    let cfg = backend_cfg("server s1 127.0.0.1:1 ssl");
    let r = Ringlb::check(&cfg);
    assert_ne!(r.code, Some(0));
    assert!(
        r.output
            .contains("verify is enabled by default but no CA file specified"),
        "{}",
        r.output
    );
    let cfg = backend_cfg("server s1 127.0.0.1:1 ssl verify required ca-file /nonexistent/ca.pem");
    let r = Ringlb::check(&cfg);
    assert_ne!(r.code, Some(0));
    let line = format!("{}:", r.path.display());
    assert!(
        r.output.contains(&line) && r.output.contains("/nonexistent/ca.pem"),
        "{}",
        r.output
    );
    let cfg = backend_cfg("server s1 127.0.0.1:1 ssl verify none sni res.hdr(x)");
    let r = Ringlb::check(&cfg);
    assert_ne!(r.code, Some(0));
    assert!(r.output.contains("response fetch"), "{}", r.output);
    let cfg = format!(
        "global\n    ssl-server-verify none\n    ssl-default-server-options ssl-min-ver TLSv1.2 no-ssl-reuse\n    \
         ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256\n{}",
        backend_cfg("server s1 127.0.0.1:1 ssl")
    );
    let r = Ringlb::check(&cfg);
    assert_eq!(r.code, Some(0), "{}", r.output);
}

/// One request over TLS to `addr`, sending `sni`, trusting `ca`; the response's text.
fn tls_get(addr: SocketAddr, sni: &str, ca: &Ca) -> String {
    let mut roots = RootCertStore::empty();
    roots.add(ca.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    tls.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    // The server keeps the connection open: read until the body's last byte.
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"tls ok\n") {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

both_drivers!(tcp_mode_passes_the_client_sni_on, |driver| {
    // HAProxy's manual: "a typical use case is to send the SNI received from the client in a
    // bridged TCP/SSL scenario, using the ssl_fc_sni sample fetch".
    let ca = Ca::new("ca");
    let server = TlsServer::start(&ca.leaf(&["a.example"]), TlsSpec::default());
    let front = ca.leaf(&["a.example"]);
    let files = Files::new();
    let crt = files.put("front.pem", &format!("{}{}", front.cert, front.key));
    let ca_file = files.put("ca.pem", &ca.pem);
    let cfg = format!(
        "global\n    nbthread 2\n\ndefaults\n    mode tcp\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\n\
         frontend fe\n    bind 127.0.0.1:0 ssl crt {}\n    default_backend be\n\n\
         backend be\n    server s1 {} ssl verify required ca-file {} sni ssl_fc_sni\n",
        crt.display(),
        server.addr,
        ca_file.display()
    );
    let path = files.dir.write("ringlb.cfg", &cfg);
    let lb = Ringlb::start_files(files.dir, &[path], driver, &cfg);
    let text = tls_get(lb.addr("fe"), "a.example", &ca);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("x-sni: a.example"), "{text}");
});

/// The two-letter termination state of the log line for `path` (HAProxy's httplog, or
/// ringlb -d's record in the same layout).
fn state_of(lines: &[String], path: &str) -> Option<String> {
    let want = format!("GET {path} ");
    let line = lines.iter().find(|l| l.contains(&want))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    // HAProxy's four termination flags, e.g. `SC--`, `sC--`, `----`.
    let flags = |f: &&str| f.len() == 4 && f.bytes().all(|b| b == b'-' || b.is_ascii_alphabetic());
    let at = fields.iter().position(flags)?;
    Some(fields[at][..2].to_string())
}

both_drivers!(server_tls_failures_match_haproxy, |driver| {
    if !proxies::haproxy_or_skip() {
        return;
    }
    let ca = Ca::new("ca");
    let other = Ca::new("other");
    let client_ca = Ca::new("client ca");
    let good = TlsServer::start(&ca.leaf(&["backend.example"]), TlsSpec::default());
    let wants_cert = TlsServer::start(
        &ca.leaf(&["backend.example"]),
        TlsSpec {
            client_ca: Some(client_ca.der.clone()),
            ..TlsSpec::default()
        },
    );
    let plain = HttpBackend::start("plain");
    let files = Files::new();
    let ca_file = files.put("ca.pem", &ca.pem);
    let other_file = files.put("other.pem", &other.pem);
    let sections = |bind: &str| {
        format!(
            "frontend fe\n    bind {bind}\n    use_backend unknown_ca if {{ path /unknown_ca }}\n    \
             use_backend plain if {{ path /plain }}\n    use_backend no_crt if {{ path /no_crt }}\n    \
             default_backend ok\n\n\
             backend ok\n    server s1 {good} ssl verify required ca-file {ca} sni str(backend.example)\n\n\
             backend unknown_ca\n    server s1 {good} ssl verify required ca-file {other} sni str(backend.example)\n\n\
             backend plain\n    server s1 {plain} ssl verify none\n\n\
             backend no_crt\n    server s1 {wants} ssl verify required ca-file {ca} sni str(backend.example)\n",
            good = good.addr,
            plain = plain.addr,
            wants = wants_cert.addr,
            ca = ca_file.display(),
            other = other_file.display(),
        )
    };
    let cfg = |bind: &str| {
        format!(
            "global\n    log stdout format raw local0\n\ndefaults\n    mode http\n    log global\n    \
             option httplog\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n{}",
            sections(bind)
        )
    };
    let haproxy = loop {
        let port = proxies::free_port();
        if let Some(h) = proxies::Haproxy::start(&cfg(&format!("127.0.0.1:{port}")), port) {
            break (h, SocketAddr::from(([127, 0, 0, 1], port)));
        }
    };
    let ringlb_cfg = cfg("127.0.0.1:0");
    let path = files.dir.write("ringlb.cfg", &ringlb_cfg);
    let lb = Ringlb::start_files_args(files.dir, &[path], &["-d".into()], driver, &ringlb_cfg);
    let paths = ["/ok", "/unknown_ca", "/plain", "/no_crt"];
    let statuses =
        |fe: SocketAddr| -> Vec<u16> { paths.iter().map(|p| get_once(fe, p).status).collect() };
    let theirs = statuses(haproxy.1);
    let ours = statuses(lb.addr("fe"));
    // A server that never answers the ClientHello (plain HTTP behind `ssl`) stalls the
    // handshake until `timeout connect`: 503 `sC`. A refused client certificate: HAProxy
    // answers 502 `SH` when the alert comes after its side of the handshake ended, which is
    // usual, and 503 `SC` when the alert wins that race; ringlb's side ends first every time.
    assert_eq!(ours, [200, 503, 503, 502], "statuses for {paths:?}");
    assert_eq!(theirs[..3], ours[..3], "HAProxy's statuses for {paths:?}");
    assert!([502, 503].contains(&theirs[3]), "HAProxy {theirs:?}");
    for p in paths {
        let deadline = Instant::now() + Duration::from_secs(5);
        let (mut h, mut r) = (None, None);
        while h.is_none() || r.is_none() {
            if Instant::now() > deadline {
                break;
            }
            h = state_of(&haproxy.0.lines.lock().unwrap(), p);
            r = state_of(
                &lb.output().lines().map(String::from).collect::<Vec<_>>(),
                p,
            );
            thread::sleep(Duration::from_millis(20));
        }
        let h = h.unwrap_or_else(|| {
            let lines = haproxy.0.lines.lock().unwrap().join("\n");
            panic!("no HAProxy line for {p}:\n{lines}")
        });
        if p == "/no_crt" {
            assert!(["SH", "SC"].contains(&h.as_str()), "HAProxy {h}");
            assert_eq!(r.as_deref(), Some("SH"), "{}", lb.output());
        } else {
            assert_eq!(r, Some(h), "termination state for {p}\n{}", lb.output());
        }
    }
});
