//! TLS for the end-to-end tests: certificates made with rcgen into a `TempDir`, a rustls
//! client over a real TCP socket (what it negotiated, which certificate it saw, whether the
//! handshake resumed), and the `curl` / `openssl s_client` command lines as real clients.
//!
//! The rustls client exists for what the CLIs cannot report reliably: the handshake kind
//! (full or resumed) across many connections sharing one session store, and exact control of
//! the signature schemes offered.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind,
    ProtocolVersion, RootCertStore, SignatureScheme, StreamOwned,
};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rsa,
    Ecdsa,
}

/// A test CA: signs server and client leaves; its PEM is a `ca-file` and a client's trust root.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
    /// The CA's key, for tools that sign as the CA (`openssl ocsp`).
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server leaf: SANs `names`, subject `CN=cn`.
    pub fn server(&self, cn: &str, names: &[&str], alg: Alg) -> Issued {
        self.leaf(cn, names, alg, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client leaf with subject `CN=cn`.
    pub fn client(&self, cn: &str) -> Issued {
        self.leaf(cn, &[], Alg::Ecdsa, ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A server leaf with a chosen serial number (for OCSP).
    pub fn server_serial(&self, cn: &str, names: &[&str], serial: u64) -> Issued {
        self.leaf_with(
            cn,
            names,
            Alg::Ecdsa,
            ExtendedKeyUsagePurpose::ServerAuth,
            Some(serial),
        )
    }

    /// A client leaf with a chosen serial number (for CRLs).
    pub fn client_serial(&self, cn: &str, serial: u64) -> Issued {
        self.leaf_with(
            cn,
            &[],
            Alg::Ecdsa,
            ExtendedKeyUsagePurpose::ClientAuth,
            Some(serial),
        )
    }

    /// A CRL of this CA revoking `serials`, as PEM.
    pub fn crl(&self, serials: &[u64]) -> String {
        let then = rcgen::date_time_ymd(2020, 1, 1);
        let params = rcgen::CertificateRevocationListParams {
            this_update: then,
            next_update: rcgen::date_time_ymd(2990, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|&n| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(n),
                    revocation_time: then,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }

    fn leaf(&self, cn: &str, names: &[&str], alg: Alg, eku: ExtendedKeyUsagePurpose) -> Issued {
        self.leaf_with(cn, names, alg, eku, None)
    }

    fn leaf_with(
        &self,
        cn: &str,
        names: &[&str],
        alg: Alg,
        eku: ExtendedKeyUsagePurpose,
        serial: Option<u64>,
    ) -> Issued {
        let key = KeyPair::generate_for(match alg {
            Alg::Rsa => &PKCS_RSA_SHA256,
            Alg::Ecdsa => &PKCS_ECDSA_P256_SHA256,
        })
        .unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![eku];
        params.serial_number = serial.map(rcgen::SerialNumber::from);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            cn: cn.to_string(),
        }
    }

    pub fn write(&self, dir: &TempDir, name: &str) -> String {
        dir.write(name, &self.pem).display().to_string()
    }
}

pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    pub cn: String,
}

impl Issued {
    /// HAProxy's usual `crt` file: certificate then key; returns its path.
    pub fn write_combined(&self, dir: &TempDir, name: &str) -> String {
        let p = dir.write(name, format!("{}{}", self.cert_pem, self.key_pem));
        p.display().to_string()
    }

    /// Certificate and key in two files (for curl / openssl `-cert` / `-key`).
    pub fn write_pair(&self, dir: &TempDir, stem: &str) -> (String, String) {
        let c = dir.write(&format!("{stem}.crt"), &self.cert_pem);
        let k = dir.write(&format!("{stem}.key"), &self.key_pem);
        (c.display().to_string(), k.display().to_string())
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// What a rustls test client offers.
pub struct ClientSpec<'a> {
    pub ca: &'a Ca,
    pub rsa_only: bool,
    pub alpn: &'a [&'a str],
    pub versions: &'a [&'static rustls::SupportedProtocolVersion],
    pub client_cert: Option<&'a Issued>,
    /// Shared across connections for resumption; a fresh one when `None`.
    pub sessions: Option<Arc<dyn ClientSessionStore>>,
}

impl<'a> ClientSpec<'a> {
    pub fn new(ca: &'a Ca) -> ClientSpec<'a> {
        ClientSpec {
            ca,
            rsa_only: false,
            alpn: &[],
            versions: rustls::ALL_VERSIONS,
            client_cert: None,
            sessions: None,
        }
    }

    pub fn config(&self, sni: bool) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let verifier = Arc::new(Verifier {
            inner,
            rsa_only: self.rsa_only,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(self.versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut c = match self.client_cert {
            Some(id) => builder
                .with_client_auth_cert(vec![id.der.clone()], id.key())
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        c.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        c.enable_sni = sni;
        if let Some(s) = &self.sessions {
            c.resumption = rustls::client::Resumption::store(s.clone());
        }
        Arc::new(c)
    }
}

/// A session store to share between connections (resumption tests).
pub fn session_store() -> Arc<dyn ClientSessionStore> {
    Arc::new(ClientSessionMemoryCache::new(256))
}

/// The chain is verified against the test CA; a name mismatch is let through so that a test
/// can see *which* certificate a default or wildcard choice served and compare it.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    rsa_only: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let all = self.inner.supported_verify_schemes();
        if !self.rsa_only {
            return all;
        }
        all.into_iter()
            .filter(|s| {
                matches!(
                    s,
                    SignatureScheme::RSA_PKCS1_SHA256
                        | SignatureScheme::RSA_PKCS1_SHA384
                        | SignatureScheme::RSA_PKCS1_SHA512
                        | SignatureScheme::RSA_PSS_SHA256
                        | SignatureScheme::RSA_PSS_SHA384
                        | SignatureScheme::RSA_PSS_SHA512
                )
            })
            .collect()
    }
}

/// One TLS connection from the rustls client.
pub struct Tls {
    pub s: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

/// What a finished handshake negotiated.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub version: Option<ProtocolVersion>,
    pub alpn: Option<String>,
    pub kind: Option<HandshakeKind>,
    pub leaf: Option<CertificateDer<'static>>,
}

impl Tls {
    /// Connects and completes the handshake; `sni` is both the name sent (when `Some`) and
    /// the name checked.
    pub fn connect(addr: SocketAddr, cfg: Arc<ClientConfig>, sni: &str) -> io::Result<Tls> {
        Tls::connect_after(addr, b"", cfg, sni)
    }

    /// `connect`, sending `preface` in the clear first (a PROXY protocol header).
    pub fn connect_after(
        addr: SocketAddr,
        preface: &[u8],
        cfg: Arc<ClientConfig>,
        sni: &str,
    ) -> io::Result<Tls> {
        let mut tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        io::Write::write_all(&mut tcp, preface)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(sni.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let conn = ClientConnection::new(cfg, name).map_err(io::Error::other)?;
        let mut s = StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(Tls { s, buf: Vec::new() })
    }

    pub fn negotiated(&self) -> Negotiated {
        let c = &self.s.conn;
        Negotiated {
            version: c.protocol_version(),
            alpn: c
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            kind: c.handshake_kind(),
            leaf: c.peer_certificates().and_then(|c| c.first().cloned()),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.s.write_all(bytes)?;
        self.s.flush()
    }

    /// Sends a GET with `Host: host` and reads the response.
    pub fn get(&mut self, host: &str, path: &str) -> io::Result<TlsResponse> {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())?;
        self.read_response()
    }

    /// A response framed by Content-Length (what the test backends send), or to EOF.
    pub fn read_response(&mut self) -> io::Result<TlsResponse> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("EOF before a response head: {:?}", lossy(&self.buf)),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end);
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let length = head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        });
        let body = match length {
            Some(n) => {
                while self.buf.len() < n {
                    if self.fill()? == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
                    }
                }
                self.buf.drain(..n).collect()
            }
            None => {
                while self.fill()? > 0 {}
                std::mem::take(&mut self.buf)
            }
        };
        Ok(TlsResponse { status, head, body })
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16384];
        match self.s.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(n)
            }
            // A peer that closes without close_notify: treat as EOF like HTTP/1 clients do.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            Err(e) => Err(e),
        }
    }
}

pub struct TlsResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl TlsResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    /// A header the backend reports having received (its description body).
    pub fn seen_header(&self, name: &str) -> Option<String> {
        let text = lossy(&self.body);
        let prefix = format!("header {}: ", name.to_ascii_lowercase());
        text.lines().find_map(|l| {
            let lower = l.to_ascii_lowercase();
            lower
                .starts_with(&prefix)
                .then(|| l[prefix.len()..].to_string())
        })
    }
}

/// The subject CN of a DER certificate.
pub fn subject_cn(der: &CertificateDer<'_>) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).expect("parse leaf");
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .unwrap_or("")
        .to_string();
    cn
}

// Command-line clients

/// What a command-line client printed and how it exited.
pub struct CliRun {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// The longest a CLI client may run: far above a loopback handshake.
const CLI_TIMEOUT: Duration = Duration::from_secs(10);

fn run_cli(program: &str, args: &[String], stdin: &[u8]) -> CliRun {
    let mut child = Command::new("timeout")
        .arg(CLI_TIMEOUT.as_secs().to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {program}: {e} (is it installed?)"));
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    let out = child.wait_with_output().expect("wait for the client");
    CliRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `curl -v https://HOST:PORT/PATH` resolved to `addr`, trusting `ca_file`; extra args after.
/// stdout holds the body followed by a last line `code=NNN`.
pub fn curl(addr: SocketAddr, host: &str, path: &str, ca_file: &str, extra: &[&str]) -> CliRun {
    let port = addr.port();
    let mut args: Vec<String> = [
        "-sS",
        "-v",
        "--max-time",
        "8",
        "--cacert",
        ca_file,
        "--resolve",
        &format!("{host}:{port}:127.0.0.1"),
        "-w",
        "\ncode=%{http_code}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(format!("https://{host}:{port}{path}"));
    run_cli("curl", &args, b"")
}

impl CliRun {
    /// The `code=NNN` curl printed (0 when it got no response).
    pub fn code(&self) -> u16 {
        self.stdout
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("code="))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
    }

    /// curl's `SSL connection using TLSv1.3 / ...` line.
    pub fn curl_tls(&self) -> String {
        self.stderr
            .lines()
            .find(|l| l.contains("SSL connection using"))
            .unwrap_or("")
            .to_string()
    }

    /// A field of `openssl s_client -brief`: `Protocol version`, `Peer certificate`, ...
    pub fn brief(&self, field: &str) -> Option<String> {
        self.all().lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == field).then(|| v.trim().to_string())
        })
    }
}

/// `openssl s_client -brief -connect addr` with `args`, sending `stdin` (an HTTP request, or
/// nothing) and closing.
pub fn s_client(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> CliRun {
    s_client_args(addr, &[&["-brief"], args].concat(), stdin)
}

/// `openssl s_client` without `-brief`: the long report, which alone names the ALPN result
/// (`ALPN protocol: ...` / `No ALPN negotiated`).
pub fn s_client_args(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> CliRun {
    let mut a: Vec<String> = vec!["s_client".into(), "-connect".into(), addr.to_string()];
    a.extend(args.iter().map(|s| s.to_string()));
    run_cli("openssl", &a, stdin)
}

/// A directory of test certificates: one CA and whatever files a test writes beside it.
pub struct Pki {
    pub dir: TempDir,
    pub ca: Ca,
    pub ca_file: String,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new();
        let ca = Ca::new("ringlb test CA");
        let ca_file = ca.write(&dir, "ca.pem");
        Pki { dir, ca, ca_file }
    }

    /// A server certificate for `names` written as `FILE.pem` (cert + key); returns the path.
    pub fn server(&self, file: &str, cn: &str, names: &[&str], alg: Alg) -> (Issued, String) {
        let c = self.ca.server(cn, names, alg);
        let p = c.write_combined(&self.dir, &format!("{file}.pem"));
        (c, p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs `scripts/make-certs.sh DIR` (the script users run): `key.ca`, `key.pem`, `client.pem`.
pub fn make_certs(dir: &std::path::Path) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make-certs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("run scripts/make-certs.sh");
    assert!(
        out.status.success(),
        "make-certs.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["key.ca", "key.pem", "client.pem"] {
        assert!(dir.join(f).is_file(), "make-certs.sh did not write {f}");
    }
}

/// A frontend `fe` with one TLS bind (`opts` after `ssl`) in front of backend `be`.
pub fn tls_cfg(opts: &str, backend: SocketAddr, global: &str) -> String {
    format!(
        "global\n    nbthread 2\n{global}\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\nfrontend fe\n    bind 127.0.0.1:0 ssl {opts}\n    \
         default_backend be\n\nbackend be\n    server s1 {backend}\n"
    )
}
