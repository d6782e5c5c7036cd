//! Choosing the certificate for a handshake, with HAProxy's rules: the client's SNI is matched
//! case-insensitively against each certificate's names (its crt-list filters, else its DNS
//! SANs, else its CN); `*.example.com` stands for exactly one label; an exact name beats a
//! wildcard; `!name` filters exclude names from an entry; with no SNI or an unknown one the
//! first certificate loaded answers, unless `strict-sni` (then none does and the handshake
//! fails). When RSA and ECDSA certificates share a name, ECDSA is chosen if the client's
//! signature schemes allow it.
//!
//! The maps are built once and never change: every core holds the same `CertStore` in an `Arc`
//! and a lookup takes no lock.

use super::certs::{self, LoadedCert};
use super::crt_list::{self, CrtListEntry, EntryOptions};
use super::TlsError;
use crate::config::files;
use crate::config::model_tls::{BindTls, CertSource};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{SignatureAlgorithm, SignatureScheme};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One certificate as the bind sees it.
#[derive(Debug)]
pub struct Entry {
    pub cert: LoadedCert,
    /// crt-list per-entry options (empty for `crt`).
    pub options: EntryOptions,
    /// `!name` filters, lowercased.
    negated: Vec<String>,
}

/// Every certificate of one bind, indexed by name.
#[derive(Debug)]
pub struct CertStore {
    entries: Vec<Entry>,
    /// Exact names -> entries in load order.
    exact: HashMap<String, Vec<usize>>,
    /// `*.example.com` filed under `example.com`.
    wildcard: HashMap<String, Vec<usize>>,
    /// The first certificate and those with exactly its names (its RSA/ECDSA twin).
    default_group: Vec<usize>,
    strict_sni: bool,
}

impl CertStore {
    /// Indexes certificates given in load order, each with its crt-list line if any.
    pub fn new(certs: Vec<(LoadedCert, Option<CrtListEntry>)>, strict_sni: bool) -> CertStore {
        let mut store = CertStore {
            entries: Vec::new(),
            exact: HashMap::new(),
            wildcard: HashMap::new(),
            default_group: Vec::new(),
            strict_sni,
        };
        for (cert, line) in certs {
            store.add(cert, line);
        }
        store.default_group = store.twins_of_first();
        store
    }

    fn add(&mut self, cert: LoadedCert, line: Option<CrtListEntry>) {
        let index = self.entries.len();
        let (filters, negated, options) = match line {
            Some(l) => (l.filters, l.negated, l.options),
            None => (Vec::new(), Vec::new(), EntryOptions::default()),
        };
        let names = if filters.is_empty() {
            cert.names()
        } else {
            filters
        };
        // `!*`: the entry answers no name of its own (a fallback only).
        if !negated.iter().any(|n| n == "*") {
            for name in names {
                let map = match name.strip_prefix("*.") {
                    Some(parent) => self.wildcard.entry(parent.to_string()),
                    None => self.exact.entry(name),
                };
                map.or_default().push(index);
            }
        }
        self.entries.push(Entry {
            cert,
            options,
            negated,
        });
    }

    fn twins_of_first(&self) -> Vec<usize> {
        let Some(first) = self.entries.first() else {
            return Vec::new();
        };
        let names = first.cert.names();
        (0..self.entries.len())
            .filter(|&i| i == 0 || self.entries[i].cert.names() == names)
            .collect()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry for a client's SNI and signature schemes; `None` refuses the handshake.
    pub fn lookup(&self, sni: Option<&str>, schemes: &[SignatureScheme]) -> Option<usize> {
        if let Some(name) = sni {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(i) = self.by_name(&name, schemes) {
                return Some(i);
            }
        }
        if self.strict_sni {
            return None;
        }
        self.choose(&self.default_group, schemes)
    }

    fn by_name(&self, name: &str, schemes: &[SignatureScheme]) -> Option<usize> {
        let usable = |list: Option<&Vec<usize>>| -> Vec<usize> {
            list.into_iter()
                .flatten()
                .copied()
                .filter(|&i| !self.excluded(i, name))
                .collect()
        };
        let exact = usable(self.exact.get(name));
        if let Some(i) = self.choose(&exact, schemes) {
            return Some(i);
        }
        let (_, parent) = name.split_once('.')?;
        self.choose(&usable(self.wildcard.get(parent)), schemes)
    }

    /// Does a `!filter` of entry `i` exclude `name`?
    fn excluded(&self, i: usize, name: &str) -> bool {
        self.entries[i]
            .negated
            .iter()
            .any(|n| n == name || matches_wildcard(n, name))
    }

    /// ECDSA first when the client can verify it, then any key it can verify, then the first
    /// (the handshake will then fail on schemes, with rustls' message).
    fn choose(&self, candidates: &[usize], schemes: &[SignatureScheme]) -> Option<usize> {
        let key = |i: usize| &self.entries[i].cert.key.key;
        let usable = |i: &&usize| key(**i).choose_scheme(schemes).is_some();
        let ecdsa = |i: &&usize| {
            matches!(
                key(**i).algorithm(),
                SignatureAlgorithm::ECDSA | SignatureAlgorithm::ED25519
            )
        };
        candidates
            .iter()
            .filter(usable)
            .find(ecdsa)
            .or_else(|| candidates.iter().find(usable))
            .or(candidates.first())
            .copied()
    }
}

/// `*.example.com` matches `www.example.com`, not `example.com` nor `a.b.example.com`.
pub fn matches_wildcard(pattern: &str, name: &str) -> bool {
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(parent), Some((label, rest))) => !label.is_empty() && rest == parent,
        _ => false,
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let i = self.lookup(hello.server_name(), hello.signature_schemes())?;
        Some(self.entries[i].cert.key.clone())
    }
}

/// Loads every certificate of a bind, in the order written; all problems are reported.
pub fn load(
    tls: &BindTls,
    provider: &CryptoProvider,
    warnings: &mut Vec<String>,
) -> Result<CertStore, Vec<TlsError>> {
    let (mut certs, mut errors) = (Vec::new(), Vec::new());
    for source in &tls.certs {
        match source {
            CertSource::Crt(path) => match certs::load_crt(path, provider, warnings) {
                Ok(list) => certs.extend(list.into_iter().map(|c| (c, None))),
                Err(e) => errors.extend(e.into_iter().map(TlsError::Cert)),
            },
            CertSource::CrtList(path) => {
                load_list(path, tls, provider, warnings, &mut certs, &mut errors)
            }
        }
    }
    if certs.is_empty() && errors.is_empty() {
        errors.push(TlsError::Config(
            "'ssl' needs a certificate: add 'crt FILE' or 'crt-list FILE'".into(),
        ));
    }
    if errors.is_empty() {
        Ok(CertStore::new(certs, tls.strict_sni))
    } else {
        Err(errors)
    }
}

fn load_list(
    path: &Path,
    tls: &BindTls,
    provider: &CryptoProvider,
    warnings: &mut Vec<String>,
    certs: &mut Vec<(LoadedCert, Option<CrtListEntry>)>,
    errors: &mut Vec<TlsError>,
) {
    let text = match files::read_text(path, certs::CERT_FILE_LIMIT) {
        Ok(t) => t,
        Err(problem) => {
            let msg = format!("crt-list '{}' {problem}", path.display());
            return errors.push(TlsError::Config(msg));
        }
    };
    let entries = match crt_list::parse(&text, path, &tls.bases) {
        Ok(e) => e,
        Err(list) => return errors.extend(list.into_iter().map(TlsError::CrtList)),
    };
    if entries.is_empty() {
        let msg = format!("crt-list '{}' names no certificate", path.display());
        return errors.push(TlsError::Config(msg));
    }
    for entry in entries {
        match certs::load_crt(&entry.cert, provider, warnings) {
            Ok(list) => certs.extend(list.into_iter().map(|c| (c, Some(entry.clone())))),
            Err(e) => errors.extend(e.into_iter().map(TlsError::Cert)),
        }
    }
}
