//! A bind's rustls `ServerConfig`s from its plain `BindTls`.
//!
//! Two steps, matching what is shared and what is not: `Shared::load` reads the files once
//! (certificates, CA files, ticket keys) into immutable values every core holds in an `Arc`;
//! `BindConfig::build` makes the configs from them, once per core.
//!
//! Resumption: stateless tickets (`tickets.rs`) are the cross-core mechanism, so with tickets on
//! there is no stateful cache at all (it would hit 1/N of the time and take a lock per
//! handshake). With `no-tls-tickets`, each core gets its own stateful cache of
//! `tune.ssl.cachesize` entries (rustls' memory cache: its Mutex is never contended, since only
//! that core's handshakes touch it); `tune.ssl.cachesize 0` turns that off too.
//!
//! A crt-list line with its own `alpn`/`verify`/`ca-file` gets its own config: the accept path
//! reads the ClientHello first (rustls' `Acceptor`) and asks `BindConfig::for_hello` which
//! config answers it.

use super::certs;
use super::resolve::{self, CertStore};
use super::tickets::Tickets;
use super::{alpn_bytes, ciphers, groups, provider, versions, TlsError};
use crate::config::model_tls::{BindTls, Verify};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateRevocationListDer;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{
    ClientHello, NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// What every core of one bind shares: loaded once, never changed.
#[derive(Debug)]
pub struct Shared {
    pub store: Arc<CertStore>,
    /// `None` with `no-tls-tickets`.
    pub tickets: Option<Arc<Tickets>>,
    /// The bind's `ca-file`.
    roots: Option<Arc<RootCertStore>>,
    /// The bind's `crl-file`.
    crls: Vec<CertificateRevocationListDer<'static>>,
    /// Per crt-list entry: its own `ca-file`, if it names one.
    entry_roots: Vec<Option<Arc<RootCertStore>>>,
    provider: Arc<CryptoProvider>,
    /// Protocol versions to offer.
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl Shared {
    /// Reads every file the bind names; every problem is reported, warnings pushed.
    pub fn load(tls: &BindTls, warnings: &mut Vec<String>) -> Result<Shared, Vec<TlsError>> {
        let mut errors = Vec::new();
        let provider = keep(suites_provider(tls, warnings), &mut errors);
        let versions = versions::resolve(&tls.versions).map_err(TlsError::Config);
        let versions = keep(versions, &mut errors).map(|(v, warning)| {
            warnings.extend(warning);
            v
        });
        let roots = keep(load_roots(tls), &mut errors).flatten();
        let tickets = keep(load_tickets(tls), &mut errors).flatten();
        let crls = keep(load_crls(tls, warnings), &mut errors).unwrap_or_default();
        // Certificates are still checked when the cipher list failed, with the default suites.
        let key_provider = provider
            .clone()
            .unwrap_or_else(|| Arc::new(super::provider()));
        let store = match resolve::load(tls, &key_provider, warnings) {
            Ok(s) => Some(s),
            Err(list) => {
                errors.extend(list);
                None
            }
        };
        let entry_roots = store
            .as_ref()
            .map(|s| entry_roots(s, &mut errors))
            .unwrap_or_default();
        match (store, provider, versions) {
            (Some(store), Some(provider), Some(versions)) if errors.is_empty() => Ok(Shared {
                store: Arc::new(store),
                tickets,
                roots,
                crls,
                entry_roots,
                provider,
                versions,
            }),
            _ => Err(errors),
        }
    }
}

/// The value, or `None` with the error kept: every problem of a bind is reported at once.
fn keep<T>(r: Result<T, TlsError>, errors: &mut Vec<TlsError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

/// aws-lc-rs with the cipher suites `ciphers`/`ciphersuites` choose, in that order, and the
/// groups `curves` chooses.
fn suites_provider(
    tls: &BindTls,
    warnings: &mut Vec<String>,
) -> Result<Arc<CryptoProvider>, TlsError> {
    let t13 =
        ciphers::tls13("ciphersuites", tls.ciphersuites.as_deref()).map_err(TlsError::Config)?;
    let t12 = ciphers::tls12("ciphers", tls.ciphers.as_deref()).map_err(TlsError::Config)?;
    let (kx, kx_warning) = groups::resolve(tls.curves.as_deref()).map_err(TlsError::Config)?;
    warnings.extend(t13.warning);
    warnings.extend(t12.warning);
    warnings.extend(kx_warning);
    let mut p = provider();
    p.cipher_suites = t13.suites.into_iter().chain(t12.suites).collect();
    if !kx.is_empty() {
        p.kx_groups = kx;
    }
    Ok(Arc::new(p))
}

fn load_roots(tls: &BindTls) -> Result<Option<Arc<RootCertStore>>, TlsError> {
    match (&tls.ca_file, tls.verify) {
        (Some(path), _) => Ok(Some(Arc::new(ca(path)?))),
        (None, Verify::None) => Ok(None),
        // HAProxy refuses this too: a client certificate cannot be checked without CAs.
        (None, v) => Err(TlsError::Config(format!(
            "'verify {}' needs 'ca-file' to check client certificates against",
            verify_name(v)
        ))),
    }
}

fn ca(path: &Path) -> Result<RootCertStore, TlsError> {
    certs::load_ca(path).map_err(TlsError::Cert)
}

fn load_crls(
    tls: &BindTls,
    warnings: &mut Vec<String>,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let Some(path) = &tls.crl_file else {
        return Ok(Vec::new());
    };
    if tls.verify == Verify::None {
        warnings.push(
            "'crl-file' has no effect with 'verify none' (no client certificate is asked for)"
                .into(),
        );
    }
    certs::load_crls(path).map_err(TlsError::Cert)
}

fn load_tickets(tls: &BindTls) -> Result<Option<Arc<Tickets>>, TlsError> {
    if tls.no_tls_tickets {
        return Ok(None);
    }
    let t = match &tls.ticket_keys {
        Some(path) => Tickets::from_file(path, tls.lifetime),
        None => Tickets::random(tls.lifetime),
    };
    t.map(|t| Some(Arc::new(t))).map_err(TlsError::Tickets)
}

fn entry_roots(store: &CertStore, errors: &mut Vec<TlsError>) -> Vec<Option<Arc<RootCertStore>>> {
    store
        .entries()
        .iter()
        .map(|e| match &e.options.ca_file {
            Some(path) => match ca(path) {
                Ok(r) => Some(Arc::new(r)),
                Err(err) => {
                    errors.push(err);
                    None
                }
            },
            None => None,
        })
        .collect()
}

fn verify_name(v: Verify) -> &'static str {
    match v {
        Verify::None => "none",
        Verify::Optional => "optional",
        Verify::Required => "required",
    }
}

/// One core's configs for one bind.
#[derive(Debug, Clone)]
pub struct BindConfig {
    pub default: Arc<ServerConfig>,
    /// Per certificate entry: its own config when its crt-list line overrides something.
    per_entry: Vec<Option<Arc<ServerConfig>>>,
    /// The same configs offering no ALPN, for a client whose ALPN list shares nothing with
    /// the bind's: HAProxy goes on without ALPN then, where rustls would refuse the handshake.
    default_no_alpn: Arc<ServerConfig>,
    per_entry_no_alpn: Vec<Option<Arc<ServerConfig>>>,
    store: Arc<CertStore>,
}

/// `c` offering no ALPN protocol.
fn without_alpn(c: &Arc<ServerConfig>) -> Arc<ServerConfig> {
    let mut bare = ServerConfig::clone(c);
    bare.alpn_protocols.clear();
    Arc::new(bare)
}

impl BindConfig {
    /// Builds the configs of one core from what the bind shares.
    pub fn build(tls: &BindTls, shared: &Shared) -> Result<BindConfig, TlsError> {
        let default = Arc::new(config(tls, shared, &Overrides::bind(tls, shared))?);
        let mut per_entry = Vec::new();
        for (i, e) in shared.store.entries().iter().enumerate() {
            if e.options.is_empty() {
                per_entry.push(None);
                continue;
            }
            let o = Overrides::entry(tls, shared, i);
            per_entry.push(Some(Arc::new(config(tls, shared, &o)?)));
        }
        let per_entry_no_alpn = per_entry
            .iter()
            .map(|c| c.as_ref().map(without_alpn))
            .collect();
        Ok(BindConfig {
            default_no_alpn: without_alpn(&default),
            default,
            per_entry,
            per_entry_no_alpn,
            store: shared.store.clone(),
        })
    }

    /// The config that answers this ClientHello: its certificate entry's own, or the bind's;
    /// without ALPN when the client offers protocols and none of them is the config's.
    pub fn for_hello(&self, hello: &ClientHello<'_>) -> Arc<ServerConfig> {
        let entry = self
            .store
            .lookup(hello.server_name(), hello.signature_schemes());
        let own = entry.and_then(|i| self.per_entry.get(i).cloned().flatten());
        let config = own.as_ref().unwrap_or(&self.default);
        if !no_common_alpn(hello, &config.alpn_protocols) {
            return config.clone();
        }
        match own {
            Some(_) => entry
                .and_then(|i| self.per_entry_no_alpn.get(i).cloned().flatten())
                .unwrap_or_else(|| self.default_no_alpn.clone()),
            None => self.default_no_alpn.clone(),
        }
    }
}

/// The client offers ALPN protocols and the server offers some, none in common.
fn no_common_alpn(hello: &ClientHello<'_>, ours: &[Vec<u8>]) -> bool {
    if ours.is_empty() {
        return false;
    }
    match hello.alpn() {
        Some(mut offered) => !offered.any(|p| ours.iter().any(|o| o.as_slice() == p)),
        None => false,
    }
}

/// What may differ between a bind's config and a crt-list entry's.
struct Overrides<'a> {
    alpn: &'a [String],
    verify: Verify,
    roots: Option<Arc<RootCertStore>>,
}

impl<'a> Overrides<'a> {
    fn bind(tls: &'a BindTls, shared: &Shared) -> Self {
        Overrides {
            alpn: &tls.alpn,
            verify: tls.verify,
            roots: shared.roots.clone(),
        }
    }

    fn entry(tls: &'a BindTls, shared: &'a Shared, i: usize) -> Self {
        let e = &shared.store.entries()[i].options;
        let own_roots = shared.entry_roots.get(i).cloned().flatten();
        Overrides {
            alpn: e.alpn.as_deref().unwrap_or(&tls.alpn),
            verify: e.verify.unwrap_or(tls.verify),
            roots: own_roots.or_else(|| shared.roots.clone()),
        }
    }
}

fn config(tls: &BindTls, shared: &Shared, o: &Overrides) -> Result<ServerConfig, TlsError> {
    let verifier = client_verifier(o, shared)?;
    let mut c = ServerConfig::builder_with_provider(shared.provider.clone())
        .with_protocol_versions(&shared.versions)
        .map_err(|e| TlsError::Config(format!("TLS versions and ciphers do not fit: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(shared.store.clone());
    c.alpn_protocols = alpn_bytes(o.alpn);
    // HAProxy (OpenSSL's SSL_OP_CIPHER_SERVER_PREFERENCE) uses the server's cipher order
    // unless `prefer-client-ciphers`.
    c.ignore_client_order = !tls.prefer_client_ciphers;
    sessions(&mut c, tls, shared);
    Ok(c)
}

fn client_verifier(
    o: &Overrides,
    shared: &Shared,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let roots = match (o.verify, &o.roots) {
        (Verify::None, _) => return Ok(WebPkiClientVerifier::no_client_auth()),
        (_, Some(r)) => r.clone(),
        (v, None) => {
            return Err(TlsError::Config(format!(
                "'verify {}' needs 'ca-file' to check client certificates against",
                verify_name(v)
            )))
        }
    };
    // With CRLs, webpki checks the whole chain and refuses an unknown status: what HAProxy
    // (OpenSSL's CRL_CHECK | CRL_CHECK_ALL) does.
    let builder = WebPkiClientVerifier::builder_with_provider(roots, shared.provider.clone())
        .with_crls(shared.crls.iter().cloned());
    let builder = match o.verify {
        Verify::Optional => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| TlsError::Config(format!("client certificate verification: {e}")))
}

/// Tickets when on; else a per-core stateful cache unless `tune.ssl.cachesize 0`.
fn sessions(c: &mut ServerConfig, tls: &BindTls, shared: &Shared) {
    if let Some(t) = &shared.tickets {
        c.ticketer = t.clone();
        c.session_storage = Arc::new(NoServerSessionStorage {});
        return;
    }
    if tls.cache_size > 0 {
        let size = usize::try_from(tls.cache_size).unwrap_or(usize::MAX);
        c.session_storage = ServerSessionMemoryCache::new(size);
        return;
    }
    c.session_storage = Arc::new(NoServerSessionStorage {});
    // Nothing could resume: TLS 1.3 tickets would only cost a round of encryption.
    c.send_tls13_tickets = 0;
}

/// Everything a bind's TLS settings would build, checked without keeping it: what `ringlb -c`
/// runs. Returns the warnings and the errors (warnings are kept when there are errors too).
pub fn check(tls: &BindTls) -> (Vec<String>, Vec<TlsError>) {
    let mut warnings = Vec::new();
    let errors = match Shared::load(tls, &mut warnings) {
        Ok(shared) => BindConfig::build(tls, &shared).err().into_iter().collect(),
        Err(errors) => errors,
    };
    (warnings, errors)
}
