//! A TLS server's rustls `ClientConfig` from its plain `ServerTls` (`server ... ssl verify
//! ca-file crt sni alpn ciphers ...`), built once per server on each core that connects to it
//! (the worker cores, the checker thread), so that a connection only clones that core's own
//! `Arc<ClientConfig>`: no reference count shared with another core is touched per connection.
//!
//! Verification follows HAProxy 2.6 (`verify`, `verifyhost` in its manual): with `verify
//! required`, the chain must lead to a `ca-file` CA (and pass `crl-file`); the certificate's
//! names must match the SNI sent, or, when no SNI was sent, `verifyhost`; with neither, the
//! names are not checked. A connection without SNI is made with the server's IP address as
//! rustls' server name: rustls sends no SNI for an address, and `Verifier` below knows it
//! stands for "no name".
//!
//! Resumption: each config keeps rustls' in-memory session store (per core, so its lock is
//! never contended); `no-ssl-reuse` turns it off, `no-tls-tickets` limits TLS 1.2 to session ids.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption, Tls12Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};

use super::{alpn_bytes, certs, ciphers, provider, versions, TlsError};
use crate::config::model_tls::ServerTls;

/// What a server's TLS connections are built from on one core.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The proxied traffic's config (`alpn`).
    pub traffic: Arc<ClientConfig>,
    /// The health checks' config (`check-alpn`, else the same as `traffic`).
    pub check: Arc<ClientConfig>,
    /// `check-sni`.
    pub check_sni: Option<ServerName<'static>>,
}

impl ClientTls {
    /// Reads the server's files and builds its configs; warnings (ciphers rustls lacks...) are
    /// pushed.
    pub fn build(tls: &ServerTls, warnings: &mut Vec<String>) -> Result<ClientTls, Vec<TlsError>> {
        let mut errors = Vec::new();
        let base = base_config(tls, warnings, &mut errors);
        let check_sni = match &tls.check_sni {
            Some(name) => match server_name(name) {
                Some(n) => Some(n),
                None => {
                    errors.push(TlsError::Config(format!(
                        "'check-sni {name}' is not a valid host name"
                    )));
                    None
                }
            },
            None => None,
        };
        let (Some(base), true) = (base, errors.is_empty()) else {
            return Err(errors);
        };
        let with_alpn = |alpn: &[String]| {
            let mut c = base.clone();
            c.alpn_protocols = alpn_bytes(alpn);
            Arc::new(c)
        };
        let traffic = with_alpn(&tls.alpn);
        let check = if tls.check_alpn.is_empty() {
            traffic.clone()
        } else {
            with_alpn(&tls.check_alpn)
        };
        Ok(ClientTls {
            traffic,
            check,
            check_sni,
        })
    }
}

/// A name for SNI: a DNS name (an IP address or an invalid name is never sent).
pub fn server_name(name: &str) -> Option<ServerName<'static>> {
    match ServerName::try_from(name.to_string()) {
        Ok(n @ ServerName::DnsName(_)) => Some(n),
        _ => None,
    }
}

fn base_config(
    tls: &ServerTls,
    warnings: &mut Vec<String>,
    errors: &mut Vec<TlsError>,
) -> Option<ClientConfig> {
    let provider = keep(suites_provider(tls, warnings), errors);
    let versions = keep(
        versions::resolve(&tls.versions).map_err(TlsError::Config),
        errors,
    )
    .map(|(v, warning)| {
        warnings.extend(warning);
        v
    });
    let key_provider = provider
        .clone()
        .unwrap_or_else(|| Arc::new(super::provider()));
    let verifier = keep(verifier(tls, &key_provider), errors);
    let client_cert = keep(client_cert(tls, &key_provider, warnings), errors);
    let (provider, versions, verifier, client_cert) =
        (provider?, versions?, verifier?, client_cert?);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError::Config(format!("TLS versions and ciphers do not fit: {e}")));
    let builder = keep(builder, errors)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut c = match client_cert {
        Some(key) => builder.with_client_cert_resolver(Arc::new(OneCert(key))),
        None => builder.with_no_client_auth(),
    };
    c.resumption = resumption(tls);
    Some(c)
}

fn keep<T>(r: Result<T, TlsError>, errors: &mut Vec<TlsError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn resumption(tls: &ServerTls) -> Resumption {
    if tls.no_ssl_reuse {
        return Resumption::disabled();
    }
    let r = Resumption::default();
    if tls.no_tls_tickets {
        r.tls12_resumption(Tls12Resumption::SessionIdOnly)
    } else {
        r
    }
}

/// aws-lc-rs with the suites `ciphers`/`ciphersuites` (or their `ssl-default-server-*`) choose.
fn suites_provider(
    tls: &ServerTls,
    warnings: &mut Vec<String>,
) -> Result<Arc<CryptoProvider>, TlsError> {
    let t13 =
        ciphers::tls13("ciphersuites", tls.ciphersuites.as_deref()).map_err(TlsError::Config)?;
    let t12 = ciphers::tls12("ciphers", tls.ciphers.as_deref()).map_err(TlsError::Config)?;
    warnings.extend(t13.warning);
    warnings.extend(t12.warning);
    let mut p = provider();
    p.cipher_suites = t13.suites.into_iter().chain(t12.suites).collect();
    Ok(Arc::new(p))
}

fn verifier(
    tls: &ServerTls,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
    let webpki = match (&tls.ca_file, tls.verifies()) {
        (Some(path), true) => {
            let roots = certs::load_ca(path).map_err(TlsError::Cert)?;
            let crls = match &tls.crl_file {
                Some(p) => certs::load_crls(p).map_err(TlsError::Cert)?,
                None => Vec::new(),
            };
            let v = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .with_crls(crls)
                .build()
                .map_err(|e| TlsError::Config(format!("server certificate verification: {e}")))?;
            Some(v)
        }
        (None, true) => {
            return Err(TlsError::Config(
                "'verify required' needs 'ca-file' to check the server's certificate against"
                    .into(),
            ))
        }
        (_, false) => None,
    };
    let verifyhost = match &tls.verifyhost {
        Some(h) => Some(server_name(h).ok_or_else(|| {
            TlsError::Config(format!("'verifyhost {h}' is not a valid host name"))
        })?),
        None => None,
    };
    Ok(Arc::new(Verifier {
        webpki,
        verifyhost,
        provider: provider.clone(),
    }))
}

fn client_cert(
    tls: &ServerTls,
    provider: &CryptoProvider,
    warnings: &mut Vec<String>,
) -> Result<Option<Arc<CertifiedKey>>, TlsError> {
    let Some(path) = &tls.crt else {
        return Ok(None);
    };
    let loaded = certs::load_cert_file(path, provider, warnings).map_err(TlsError::Cert)?;
    Ok(Some(loaded.key))
}

/// `crt FILE`: the one client certificate, offered whenever the server asks.
#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesClientCert for OneCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// HAProxy's server certificate check (see the module notes). `webpki` is `None` with
/// `verify none`: any certificate is taken, though the handshake's signatures are still
/// checked against its key.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    verifyhost: Option<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
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
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        // An address as the name: no SNI was sent (see the module notes).
        let sni_sent = matches!(server_name, ServerName::DnsName(_));
        let name = match (&self.verifyhost, sni_sent) {
            (_, true) => server_name,
            (Some(host), false) => host,
            (None, false) => {
                // The chain is checked before the names: a name mismatch means the chain
                // passed, and without a name to check that is all HAProxy asks.
                return match webpki.verify_server_cert(
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp,
                    now,
                ) {
                    Err(rustls::Error::InvalidCertificate(
                        CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. },
                    )) => Ok(ServerCertVerified::assertion()),
                    r => r,
                };
            }
        };
        webpki.verify_server_cert(end_entity, intermediates, name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Everything a server's TLS settings would build, checked without keeping it (`ringlb -c`):
/// the warnings and the errors.
pub fn check(tls: &ServerTls) -> (Vec<String>, Vec<TlsError>) {
    let mut warnings = Vec::new();
    let errors = ClientTls::build(tls, &mut warnings)
        .err()
        .unwrap_or_default();
    (warnings, errors)
}
