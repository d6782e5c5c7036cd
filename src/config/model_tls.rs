//! TLS settings of a `bind ... ssl` line, as plain data: paths already resolved against
//! `crt-base`/`ca-base`, the global `ssl-default-bind-*` defaults already merged in. `tls::`
//! turns this into rustls configurations; nothing here holds a key or opens a file.

use std::path::PathBuf;
use std::time::Duration;

/// HAProxy's `tune.ssl.cachesize` default (entries).
pub const DEFAULT_SSL_CACHESIZE: u32 = 20_000;
/// HAProxy's `tune.ssl.lifetime` default.
pub const DEFAULT_SSL_LIFETIME: Duration = Duration::from_secs(300);

/// Protocol versions as HAProxy names them (`ssl-min-ver TLSv1.2`), oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    Sslv3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    pub const ALL: [TlsVersion; 5] = [
        TlsVersion::Sslv3,
        TlsVersion::Tls10,
        TlsVersion::Tls11,
        TlsVersion::Tls12,
        TlsVersion::Tls13,
    ];

    /// The name in `ssl-min-ver`/`ssl-max-ver`.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Sslv3 => "SSLv3",
            TlsVersion::Tls10 => "TLSv1.0",
            TlsVersion::Tls11 => "TLSv1.1",
            TlsVersion::Tls12 => "TLSv1.2",
            TlsVersion::Tls13 => "TLSv1.3",
        }
    }

    pub fn from_name(name: &str) -> Option<TlsVersion> {
        TlsVersion::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The suffix of `no-XXX` / `force-XXX`: `sslv3`, `tlsv10` ... `tlsv13`.
    pub fn option_suffix(self) -> &'static str {
        match self {
            TlsVersion::Sslv3 => "sslv3",
            TlsVersion::Tls10 => "tlsv10",
            TlsVersion::Tls11 => "tlsv11",
            TlsVersion::Tls12 => "tlsv12",
            TlsVersion::Tls13 => "tlsv13",
        }
    }
}

/// The version options of a bind line or of `ssl-default-bind-options`, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionOptions {
    pub min: Option<TlsVersion>,
    pub max: Option<TlsVersion>,
    /// `no-tlsv1x`: versions switched off.
    pub disabled: Vec<TlsVersion>,
    /// `force-tlsv1x`: this version only (the last one written wins, as in HAProxy).
    pub force: Option<TlsVersion>,
}

impl VersionOptions {
    /// The bind's own options over the global defaults: HAProxy ORs the `no-` flags of both and
    /// lets a bind's `ssl-min-ver`/`ssl-max-ver`/`force-` replace the global one.
    pub fn over(&self, defaults: &VersionOptions) -> VersionOptions {
        let mut disabled = defaults.disabled.clone();
        disabled.extend(self.disabled.iter().copied());
        disabled.sort();
        disabled.dedup();
        VersionOptions {
            min: self.min.or(defaults.min),
            max: self.max.or(defaults.max),
            disabled,
            force: self.force.or(defaults.force),
        }
    }
}

/// `verify none|optional|required` (client certificates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// No certificate is asked for (HAProxy's default).
    #[default]
    None,
    /// Asked for; a missing one is accepted, a bad one refused.
    Optional,
    /// Asked for and required.
    Required,
}

impl Verify {
    pub fn from_name(name: &str) -> Option<Verify> {
        match name {
            "none" => Some(Verify::None),
            "optional" => Some(Verify::Optional),
            "required" => Some(Verify::Required),
            _ => None,
        }
    }
}

/// Where a bind's certificates come from, in the order written: the first certificate loaded
/// is the default one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertSource {
    /// `crt FILE|DIR`.
    Crt(PathBuf),
    /// `crt-list FILE`.
    CrtList(PathBuf),
}

/// Directories relative paths inside a crt-list are resolved against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bases {
    /// `crt-base`: certificate files.
    pub crt: Option<PathBuf>,
    /// `ca-base`: CA files.
    pub ca: Option<PathBuf>,
}

impl Bases {
    pub fn crt_path(&self, p: &str) -> PathBuf {
        join(self.crt.as_ref(), p)
    }

    pub fn ca_path(&self, p: &str) -> PathBuf {
        join(self.ca.as_ref(), p)
    }
}

/// Absolute paths ignore the base, as in HAProxy.
fn join(base: Option<&PathBuf>, p: &str) -> PathBuf {
    match base {
        Some(b) if !p.starts_with('/') => b.join(p),
        _ => PathBuf::from(p),
    }
}

/// The effective TLS settings of one bind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindTls {
    pub certs: Vec<CertSource>,
    pub bases: Bases,
    pub ca_file: Option<PathBuf>,
    /// `crl-file`: revoked client certificates (checked on the whole chain, as HAProxy does).
    pub crl_file: Option<PathBuf>,
    pub verify: Verify,
    /// ALPN protocols in order of preference (`alpn h2,http/1.1`); empty = no ALPN.
    pub alpn: Vec<String>,
    pub strict_sni: bool,
    /// `ciphers` (TLS 1.2, OpenSSL syntax), bind's or `ssl-default-bind-ciphers`.
    pub ciphers: Option<String>,
    /// `ciphersuites` (TLS 1.3, OpenSSL syntax), bind's or `ssl-default-bind-ciphersuites`.
    pub ciphersuites: Option<String>,
    /// `curves` (OpenSSL names, `:`-separated), or `ecdhe`'s one curve, or
    /// `ssl-default-bind-curves`; `None` = rustls' default groups.
    pub curves: Option<String>,
    pub versions: VersionOptions,
    pub no_tls_tickets: bool,
    /// `prefer-client-ciphers`: the client's cipher order instead of ours (HAProxy's default).
    pub prefer_client_ciphers: bool,
    /// `tls-ticket-keys FILE`; random keys when absent.
    pub ticket_keys: Option<PathBuf>,
    /// `tune.ssl.cachesize`: 0 turns the stateful session cache off.
    pub cache_size: u32,
    /// `tune.ssl.lifetime`: how long a session (and so a ticket) may be resumed.
    pub lifetime: Duration,
}

impl BindTls {
    /// Settings with HAProxy's defaults and the given certificates (for tests and builders).
    pub fn with_certs(certs: Vec<CertSource>) -> BindTls {
        BindTls {
            certs,
            bases: Bases::default(),
            ca_file: None,
            crl_file: None,
            verify: Verify::None,
            alpn: Vec::new(),
            strict_sni: false,
            ciphers: None,
            ciphersuites: None,
            curves: None,
            versions: VersionOptions::default(),
            no_tls_tickets: false,
            prefer_client_ciphers: false,
            ticket_keys: None,
            cache_size: DEFAULT_SSL_CACHESIZE,
            lifetime: DEFAULT_SSL_LIFETIME,
        }
    }
}

/// The `global` TLS settings that binds inherit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalTls {
    /// `ssl-default-bind-options`: versions.
    pub bind_versions: VersionOptions,
    /// `ssl-default-bind-options no-tls-tickets`.
    pub bind_no_tls_tickets: bool,
    /// `ssl-default-bind-options strict-sni`.
    pub bind_strict_sni: bool,
    /// `ssl-default-bind-options prefer-client-ciphers`.
    pub bind_prefer_client_ciphers: bool,
    pub bind_ciphers: Option<String>,
    pub bind_ciphersuites: Option<String>,
    pub bind_curves: Option<String>,
    pub cache_size: u32,
    pub lifetime: Duration,
    pub bases: Bases,
    /// `ssl-default-server-options`: versions of TLS connections to servers.
    pub server_versions: VersionOptions,
    /// `ssl-default-server-options no-ssl-reuse` / `no-tls-tickets`.
    pub server_no_ssl_reuse: bool,
    pub server_no_tls_tickets: bool,
    pub server_ciphers: Option<String>,
    pub server_ciphersuites: Option<String>,
    /// `ssl-server-verify none|required`; HAProxy's default is required.
    pub server_verify: bool,
}

impl Default for GlobalTls {
    fn default() -> Self {
        GlobalTls {
            bind_versions: VersionOptions::default(),
            bind_no_tls_tickets: false,
            bind_strict_sni: false,
            bind_prefer_client_ciphers: false,
            bind_ciphers: None,
            bind_ciphersuites: None,
            bind_curves: None,
            cache_size: DEFAULT_SSL_CACHESIZE,
            lifetime: DEFAULT_SSL_LIFETIME,
            bases: Bases::default(),
            server_versions: VersionOptions::default(),
            server_no_ssl_reuse: false,
            server_no_tls_tickets: false,
            server_ciphers: None,
            server_ciphersuites: None,
            server_verify: true,
        }
    }
}

/// The TLS settings of a `server` line (`ssl`, `check-ssl` and the options they use), as plain
/// data: paths resolved against `ca-base`/`crt-base`, the `ssl-default-server-*` globals merged
/// in by validation. Present when the server's traffic or its checks use TLS.
#[derive(Clone, Debug, Default)]
pub struct ServerTls {
    /// `ssl`: the proxied traffic is TLS (without it, only the checks are: `check-ssl`).
    pub ssl: bool,
    /// `verify required` (true) or `verify none`; `None` until validation applies
    /// `ssl-server-verify` (HAProxy's default: required).
    pub verify: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub crl_file: Option<PathBuf>,
    /// `crt`: the client certificate (and key) offered when the server asks for one.
    pub crt: Option<PathBuf>,
    pub sni: Option<ServerSni>,
    /// `verifyhost`: the name the certificate must carry when no SNI was sent.
    pub verifyhost: Option<String>,
    pub alpn: Vec<String>,
    /// `check-sni`: the SNI of health checks (a plain string, as in HAProxy).
    pub check_sni: Option<String>,
    /// `check-alpn`; empty = the server's `alpn`.
    pub check_alpn: Vec<String>,
    pub ciphers: Option<String>,
    pub ciphersuites: Option<String>,
    pub versions: VersionOptions,
    /// `no-ssl-reuse`: every connection makes a full handshake.
    pub no_ssl_reuse: bool,
    /// `no-tls-tickets`: TLS 1.2 resumes by session id only.
    pub no_tls_tickets: bool,
}

impl ServerTls {
    /// Whether the server's certificate is checked (HAProxy's default when nothing says).
    pub fn verifies(&self) -> bool {
        self.verify.unwrap_or(true)
    }
}

/// `sni EXPR`: the name sent in the SNI extension (and checked against the certificate).
#[derive(Clone, Debug)]
pub enum ServerSni {
    /// `str(NAME)` (or `env(VAR)`): one name for every connection.
    Fixed(String),
    /// A request fetch such as `req.hdr(host)`: evaluated per request once the http-request
    /// rules ran (the backend evaluates each distinct one once per request).
    Request(Box<SniExpr>),
}

/// A request-dependent `sni` expression.
#[derive(Clone, Debug)]
pub struct SniExpr {
    /// As written, which also tells identical expressions of a backend's servers apart.
    pub text: String,
    pub expr: super::model_rules::Expr,
    /// Its place in `Backend::sni_exprs` (set by validation).
    pub slot: usize,
}
