//! Test helpers: certificates made with rcgen, rustls clients, and a handshake over in-memory
//! byte transfer (no sockets).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    ServerConfig, ServerConnection, SignatureScheme,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Where a test client's verifier records the OCSP response it was given.
pub type Seen = Arc<Mutex<Option<Vec<u8>>>>;

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ringlb-tls-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rsa,
    Ecdsa,
}

fn alg(a: Alg) -> &'static SignatureAlgorithm {
    match a {
        Alg::Rsa => &PKCS_RSA_SHA256,
        Alg::Ecdsa => &PKCS_ECDSA_P256_SHA256,
    }
}

/// A test CA: signs leaves, and its PEM is a `ca-file`.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
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
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf for `names` (SANs; a CN only when `cn` is given), valid now unless `years` says
    /// otherwise: `(from, to)`.
    pub fn leaf(&self, spec: &Leaf) -> Issued {
        let key = KeyPair::generate_for(alg(spec.alg)).unwrap();
        let names: Vec<String> = spec.names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        if let Some(cn) = spec.cn {
            params.distinguished_name.push(DnType::CommonName, cn);
        }
        params.serial_number = spec.serial.map(rcgen::SerialNumber::from);
        if let Some((from, to)) = spec.years {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

impl Ca {
    /// A CRL of this CA revoking the given serial numbers, as PEM.
    pub fn crl(&self, revoked: &[u64]) -> String {
        let now = rcgen::date_time_ymd(2020, 1, 1);
        let params = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update: rcgen::date_time_ymd(2990, 1, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|&n| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from(n),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }
}

pub struct Leaf<'a> {
    pub names: &'a [&'a str],
    pub cn: Option<&'a str>,
    pub alg: Alg,
    pub years: Option<(i32, i32)>,
    pub serial: Option<u64>,
}

impl<'a> Leaf<'a> {
    pub fn new(names: &'a [&'a str], alg: Alg) -> Leaf<'a> {
        Leaf {
            names,
            cn: None,
            alg,
            years: None,
            serial: None,
        }
    }
}

pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Issued {
    /// Writes HAProxy's usual file: chain then key.
    pub fn write_combined(&self, dir: &TempDir, name: &str) -> PathBuf {
        dir.write(name, &format!("{}{}", self.cert_pem, self.key_pem))
    }

    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.der.clone()]
    }

    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }
}

/// What the client side of a test offers.
pub struct ClientSpec<'a> {
    pub ca: &'a Ca,
    pub sni: Option<&'a str>,
    /// Keep only these signature schemes (e.g. RSA only); `None` = all.
    pub schemes: Option<fn(SignatureScheme) -> bool>,
    pub alpn: &'a [&'a str],
    pub versions: &'a [&'static rustls::SupportedProtocolVersion],
    pub client_cert: Option<&'a Issued>,
}

impl<'a> ClientSpec<'a> {
    pub fn new(ca: &'a Ca, sni: Option<&'a str>) -> ClientSpec<'a> {
        ClientSpec {
            ca,
            sni,
            schemes: None,
            alpn: &[],
            versions: rustls::ALL_VERSIONS,
            client_cert: None,
        }
    }

    pub fn config(&self) -> Arc<ClientConfig> {
        self.config_seeing_ocsp().0
    }

    /// The client config, and where its verifier puts the OCSP response the server staples.
    pub fn config_seeing_ocsp(&self) -> (Arc<ClientConfig>, Seen) {
        let seen = Arc::new(Mutex::new(None));
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der.clone()).unwrap();
        let provider = Arc::new(super::provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let verifier = Arc::new(Filtered {
            inner,
            keep: self.schemes,
            ocsp: seen.clone(),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(self.versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut c = match self.client_cert {
            Some(id) => builder.with_client_auth_cert(id.chain(), id.key()).unwrap(),
            None => builder.with_no_client_auth(),
        };
        c.alpn_protocols = self.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        // Without SNI rustls sends none only when told (an IP address name also has none).
        c.enable_sni = self.sni.is_some();
        (Arc::new(c), seen)
    }
}

/// The server verifier with the signature schemes the client offers narrowed.
#[derive(Debug)]
struct Filtered {
    inner: Arc<WebPkiServerVerifier>,
    keep: Option<fn(SignatureScheme) -> bool>,
    ocsp: Seen,
}

impl ServerCertVerifier for Filtered {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !ocsp.is_empty() {
            if let Ok(mut seen) = self.ocsp.lock() {
                *seen = Some(ocsp.to_vec());
            }
        }
        // Tests compare the certificate served with the one expected; a default certificate
        // served for another name must get through to be compared.
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
        match self.keep {
            Some(keep) => all.into_iter().filter(|s| keep(*s)).collect(),
            None => all,
        }
    }
}

pub fn rsa_only(s: SignatureScheme) -> bool {
    matches!(
        s,
        SignatureScheme::RSA_PKCS1_SHA256
            | SignatureScheme::RSA_PKCS1_SHA384
            | SignatureScheme::RSA_PKCS1_SHA512
            | SignatureScheme::RSA_PSS_SHA256
            | SignatureScheme::RSA_PSS_SHA384
            | SignatureScheme::RSA_PSS_SHA512
    )
}

/// A finished (or failed) in-memory handshake.
pub struct Outcome {
    pub client: ClientConnection,
    pub server: ServerConnection,
    pub result: Result<(), rustls::Error>,
}

impl Outcome {
    /// The leaf certificate the server presented.
    pub fn served(&self) -> Option<CertificateDer<'static>> {
        self.client
            .peer_certificates()
            .and_then(|c| c.first().cloned())
    }

    pub fn resumed(&self) -> bool {
        self.server.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }
}

/// Connects a client made from `client` to a server made from `server`, moving bytes in memory
/// until both are done or one fails; the server's post-handshake tickets reach the client.
pub fn connect(client: Arc<ClientConfig>, sni: Option<&str>, server: Arc<ServerConfig>) -> Outcome {
    let name = match sni {
        Some(n) => ServerName::try_from(n.to_string()).unwrap(),
        // Any name works when SNI is off; certificate name checks then use it.
        None => ServerName::try_from("no-sni.invalid").unwrap(),
    };
    let mut c = ClientConnection::new(client, name).unwrap();
    let mut s = ServerConnection::new(server).unwrap();
    let result = pump(&mut c, &mut s);
    Outcome {
        client: c,
        server: s,
        result,
    }
}

/// At most this many flights: a TLS handshake needs 2-3, plus tickets.
const MAX_ROUNDS: usize = 10;

fn pump(c: &mut ClientConnection, s: &mut ServerConnection) -> Result<(), rustls::Error> {
    for _ in 0..MAX_ROUNDS {
        let to_server = drain(|b| c.write_tls(b));
        if !to_server.is_empty() {
            s.read_tls(&mut &to_server[..]).unwrap();
            if let Err(e) = s.process_new_packets() {
                // Let the client see the alert, as a real peer would.
                let alert = drain(|b| s.write_tls(b));
                let _ = c.read_tls(&mut &alert[..]);
                let _ = c.process_new_packets();
                return Err(e);
            }
        }
        let to_client = drain(|b| s.write_tls(b));
        if !to_client.is_empty() {
            c.read_tls(&mut &to_client[..]).unwrap();
            c.process_new_packets()?;
        }
        if to_server.is_empty() && to_client.is_empty() && !c.is_handshaking() {
            return Ok(());
        }
    }
    Err(rustls::Error::General("handshake did not finish".into()))
}

fn drain(mut write: impl FnMut(&mut Vec<u8>) -> std::io::Result<usize>) -> Vec<u8> {
    let mut out = Vec::new();
    while write(&mut out).unwrap() > 0 {}
    out
}

/// A file path as a string, for configs.
pub fn s(p: &Path) -> String {
    p.display().to_string()
}
