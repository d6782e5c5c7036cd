//! Certificate files as HAProxy reads them: `crt FILE|DIR` (PEM with the chain and the private
//! key in one file, or the key in `FILE.key` beside it; an OCSP response in `FILE.ocsp`), and
//! `ca-file` (CA certificates for client certificates). Every problem is a `CertError` value
//! naming the file; an expired or not-yet-valid certificate is a warning with its dates.

use crate::config::files::{self, FileError};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A certificate file holds a chain of a few certificates and a key; a CA file may be a whole
/// system bundle (about 200 KB). Anything larger is a wrong path, not a certificate.
pub const CERT_FILE_LIMIT: u64 = 8 << 20;

/// Names reserved beside a certificate: `crt DIR` skips them, as HAProxy does.
const RESERVED_SUFFIXES: [&str; 4] = [".key", ".ocsp", ".issuer", ".sctl"];
/// What `ca-file DIR` loads, as HAProxy does.
const CA_SUFFIXES: [&str; 3] = [".pem", ".crt", ".cer"];
const CRT: &str = "certificate file";
/// First byte of a DER SEQUENCE: every OCSP response starts with it.
const DER_SEQUENCE: u8 = 0x30;

/// Why a certificate or CA file cannot be used. `Display` is a complete sentence fragment that
/// starts with what the file is and its name.
#[derive(Debug)]
pub enum CertError {
    /// Missing, unreadable, not a regular file, too large; `what` says which file it is
    /// ("certificate file", "CA file", "key file", "OCSP response").
    File {
        what: &'static str,
        path: PathBuf,
        problem: FileError,
    },
    /// A directory given to `crt` holds no certificate file.
    EmptyDir(PathBuf),
    /// The PEM text could not be parsed.
    BadPem {
        path: PathBuf,
        detail: String,
    },
    NoCertificate(PathBuf),
    /// A `crl-file` without any `X509 CRL` block.
    NoCrl(PathBuf),
    /// Neither the file nor `FILE.key` beside it holds a private key.
    NoKey {
        path: PathBuf,
        key_path: PathBuf,
    },
    /// The key is of a kind the crypto provider cannot load.
    BadKey {
        path: PathBuf,
        detail: String,
    },
    /// The leaf certificate cannot be parsed as X.509.
    BadCertificate {
        path: PathBuf,
        detail: String,
    },
    KeyMismatch {
        path: PathBuf,
        key_path: PathBuf,
    },
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::File {
                what,
                path,
                problem,
            } => write!(f, "{what} '{}' {problem}", path.display()),
            CertError::EmptyDir(p) => write!(
                f,
                "certificate directory '{}' holds no certificate file",
                p.display()
            ),
            CertError::BadPem { path, detail } => {
                write!(f, "'{}' is not valid PEM: {detail}", path.display())
            }
            CertError::NoCertificate(p) => write!(
                f,
                "'{}' holds no certificate (no '-----BEGIN CERTIFICATE-----' block)",
                p.display()
            ),
            CertError::NoCrl(p) => write!(
                f,
                "CRL file '{}' holds no revocation list (no '-----BEGIN X509 CRL-----' block)",
                p.display()
            ),
            CertError::NoKey { path, key_path } => write!(
                f,
                "certificate '{}' has no private key: none in the file nor in '{}'",
                path.display(),
                key_path.display()
            ),
            CertError::BadKey { path, detail } => write!(
                f,
                "the private key for '{}' cannot be used: {detail}",
                path.display()
            ),
            CertError::BadCertificate { path, detail } => write!(
                f,
                "certificate '{}' cannot be parsed: {detail}",
                path.display()
            ),
            CertError::KeyMismatch { path, key_path } => write!(
                f,
                "the private key in '{}' does not match certificate '{}'",
                key_path.display(),
                path.display()
            ),
        }
    }
}

/// One usable certificate: its chain and key for rustls, and the names it answers to.
#[derive(Clone, Debug)]
pub struct LoadedCert {
    pub path: PathBuf,
    pub key: Arc<CertifiedKey>,
    /// Subject alternative DNS names, lowercased.
    pub dns_names: Vec<String>,
    /// The subject's common name, lowercased (used only when there is no DNS SAN).
    pub common_name: Option<String>,
}

impl LoadedCert {
    /// The names SNI is matched against: the DNS SANs, or the CN when there is none.
    pub fn names(&self) -> Vec<String> {
        if self.dns_names.is_empty() {
            self.common_name.iter().cloned().collect()
        } else {
            self.dns_names.clone()
        }
    }
}

/// `crt PATH`: a file, or every certificate file of a directory in name order.
pub fn load_crt(
    path: &Path,
    provider: &CryptoProvider,
    warnings: &mut Vec<String>,
) -> Result<Vec<LoadedCert>, Vec<CertError>> {
    if !path.is_dir() {
        return load_cert_file(path, provider, warnings)
            .map(|c| vec![c])
            .map_err(|e| vec![e]);
    }
    let files = list_dir(path, |name| {
        !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
    })
    .map_err(|e| vec![e])?;
    if files.is_empty() {
        return Err(vec![CertError::EmptyDir(path.to_path_buf())]);
    }
    let (mut certs, mut errors) = (Vec::new(), Vec::new());
    for f in files {
        match load_cert_file(&f, provider, warnings) {
            Ok(c) => certs.push(c),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(certs)
    } else {
        Err(errors)
    }
}

/// The regular, non-hidden files of `dir` whose name `keep` accepts, sorted by name.
fn list_dir(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, CertError> {
    let entries = std::fs::read_dir(dir).map_err(|e| CertError::File {
        what: "directory",
        path: dir.to_path_buf(),
        problem: FileError::Io(e),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| !n.starts_with('.') && keep(&n))
        })
        .filter(|p| files::check_regular(p).is_ok())
        .collect();
    files.sort();
    Ok(files)
}

/// One PEM file: its chain, its key (or `FILE.key`'s), its OCSP response if `FILE.ocsp` exists.
pub fn load_cert_file(
    path: &Path,
    provider: &CryptoProvider,
    warnings: &mut Vec<String>,
) -> Result<LoadedCert, CertError> {
    let (pem, encrypted) = read_pem(CRT, path)?;
    let chain = certificates(&pem);
    if chain.is_empty() {
        return Err(CertError::NoCertificate(path.to_path_buf()));
    }
    let (key_der, key_path) = match private_key(&pem) {
        Some(k) => (k, path.to_path_buf()),
        None if encrypted => return Err(encrypted_key(path)),
        None => key_beside(path)?,
    };
    let signing = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| CertError::BadKey {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let leaf = chain[0].clone();
    let mut key = CertifiedKey::new(chain, signing);
    check_keys(&key, path, &key_path)?;
    key.ocsp = load_ocsp(path, warnings)?;
    let (dns_names, common_name) = leaf_facts(&leaf, path, warnings)?;
    Ok(LoadedCert {
        path: path.to_path_buf(),
        key: Arc::new(key),
        dns_names,
        common_name,
    })
}

/// PEM sections of a file, in order (blocks of other kinds, like DH parameters, skipped).
type Pem = Vec<(SectionKind, Vec<u8>)>;

/// The PEM sections of a file, and whether it holds an encrypted private key (which the PEM
/// reader skips as an unknown kind: it deserves its own message).
fn read_pem(what: &'static str, path: &Path) -> Result<(Pem, bool), CertError> {
    let bytes = files::read_bounded(path, CERT_FILE_LIMIT).map_err(|problem| CertError::File {
        what,
        path: path.to_path_buf(),
        problem,
    })?;
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes)
        .collect::<Result<Pem, pem::Error>>()
        .map_err(|e| CertError::BadPem {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let encrypted = contains(&bytes, ENCRYPTED_KEY) || contains(&bytes, ENCRYPTED_LEGACY);
    Ok((sections, encrypted))
}

/// PKCS#8 encrypted keys, and OpenSSL's legacy encrypted PEM header.
const ENCRYPTED_KEY: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_LEGACY: &[u8] = b"Proc-Type: 4,ENCRYPTED";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn encrypted_key(path: &Path) -> CertError {
    CertError::BadKey {
        path: path.to_path_buf(),
        detail:
            "it is encrypted; store it unencrypted (HAProxy cannot ask for a passphrase either)"
                .into(),
    }
}

fn certificates(pem: &[(SectionKind, Vec<u8>)]) -> Vec<CertificateDer<'static>> {
    pem.iter()
        .filter(|(k, _)| *k == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect()
}

/// The first private key of any of the three PEM kinds HAProxy accepts.
fn private_key(pem: &[(SectionKind, Vec<u8>)]) -> Option<PrivateKeyDer<'static>> {
    pem.iter().find_map(|(kind, der)| match kind {
        SectionKind::PrivateKey => Some(PrivateKeyDer::Pkcs8(der.clone().into())),
        SectionKind::RsaPrivateKey => Some(PrivateKeyDer::Pkcs1(der.clone().into())),
        SectionKind::EcPrivateKey => Some(PrivateKeyDer::Sec1(der.clone().into())),
        _ => None,
    })
}

/// HAProxy's fallback: the key in `FILE.key`.
fn key_beside(path: &Path) -> Result<(PrivateKeyDer<'static>, PathBuf), CertError> {
    let key_path = with_suffix(path, ".key");
    let no_key = || CertError::NoKey {
        path: path.to_path_buf(),
        key_path: key_path.clone(),
    };
    match files::check_regular(&key_path) {
        Err(FileError::Missing) => return Err(no_key()),
        Err(problem) => {
            return Err(CertError::File {
                what: "key file",
                path: key_path,
                problem,
            })
        }
        Ok(()) => {}
    }
    let (pem, encrypted) = read_pem("key file", &key_path)?;
    let key = match private_key(&pem) {
        Some(k) => k,
        None if encrypted => return Err(encrypted_key(&key_path)),
        None => return Err(no_key()),
    };
    Ok((key, key_path))
}

/// `a/b.pem` + `.key` = `a/b.pem.key` (appended, not replacing the extension, as HAProxy).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// A key the provider cannot compare (no public key exposed) is accepted: rustls would fail
/// the handshake loudly rather than sign with a wrong key.
fn check_keys(key: &CertifiedKey, path: &Path, key_path: &Path) -> Result<(), CertError> {
    use rustls::{Error, InconsistentKeys};
    match key.keys_match() {
        Ok(()) | Err(Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
        Err(Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(CertError::KeyMismatch {
                path: path.to_path_buf(),
                key_path: key_path.to_path_buf(),
            })
        }
        Err(e) => Err(CertError::BadCertificate {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }),
    }
}

/// `FILE.ocsp`: optional; empty means "no response yet" (HAProxy's reading). A file that is not
/// DER at all is ignored with a warning rather than stapled: clients would reject it.
fn load_ocsp(path: &Path, warnings: &mut Vec<String>) -> Result<Option<Vec<u8>>, CertError> {
    let ocsp_path = with_suffix(path, ".ocsp");
    if matches!(files::check_regular(&ocsp_path), Err(FileError::Missing)) {
        return Ok(None);
    }
    let der =
        files::read_bounded(&ocsp_path, CERT_FILE_LIMIT).map_err(|problem| CertError::File {
            what: "OCSP response",
            path: ocsp_path.clone(),
            problem,
        })?;
    match der.first() {
        None => Ok(None),
        Some(&DER_SEQUENCE) => Ok(Some(der)),
        Some(_) => {
            warnings.push(format!(
                "OCSP response '{}' is not DER; it is ignored (no stapling for '{}')",
                ocsp_path.display(),
                path.display()
            ));
            Ok(None)
        }
    }
}

/// The leaf's DNS SANs and CN (lowercased), and a warning when it is outside its validity.
fn leaf_facts(
    leaf: &CertificateDer<'_>,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<(Vec<String>, Option<String>), CertError> {
    let bad = |detail: String| CertError::BadCertificate {
        path: path.to_path_buf(),
        detail,
    };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).map_err(|e| bad(e.to_string()))?;
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(bad(format!("subject alternative names: {e}"))),
    };
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_ascii_lowercase);
    let v = cert.validity();
    if let Some(w) = validity_warning(path, v.not_before.timestamp(), v.not_after.timestamp()) {
        warnings.push(format!(
            "{w} (valid from {} to {})",
            v.not_before, v.not_after
        ));
    }
    Ok((dns_names, common_name))
}

/// "is expired" / "is not yet valid", judged against the clock now.
fn validity_warning(path: &Path, not_before: i64, not_after: i64) -> Option<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let state = if now > not_after {
        "is expired"
    } else if now < not_before {
        "is not yet valid"
    } else {
        return None;
    };
    Some(format!("certificate '{}' {state}", path.display()))
}

/// `ca-file PATH`: the CA certificates of a PEM file, or of the `.pem`/`.crt`/`.cer` files of a
/// directory.
pub fn load_ca(path: &Path) -> Result<RootCertStore, CertError> {
    let files = if path.is_dir() {
        list_dir(path, |n| CA_SUFFIXES.iter().any(|s| n.ends_with(s)))?
    } else {
        vec![path.to_path_buf()]
    };
    let mut roots = RootCertStore::empty();
    for f in &files {
        let certs = certificates(&read_pem("CA file", f)?.0);
        if certs.is_empty() {
            return Err(CertError::NoCertificate(f.clone()));
        }
        for c in certs {
            roots.add(c).map_err(|e| CertError::BadCertificate {
                path: f.clone(),
                detail: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(CertError::NoCertificate(path.to_path_buf()));
    }
    Ok(roots)
}

/// `crl-file PATH`: the revocation lists of a PEM file (HAProxy wants one per CA of the chain).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, CertError> {
    let (pem, _) = read_pem("CRL file", path)?;
    let crls: Vec<_> = pem
        .into_iter()
        .filter(|(k, _)| *k == SectionKind::Crl)
        .map(|(_, der)| CertificateRevocationListDer::from(der))
        .collect();
    if crls.is_empty() {
        return Err(CertError::NoCrl(path.to_path_buf()));
    }
    Ok(crls)
}
