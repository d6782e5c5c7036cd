//! What the build was: set by Cargo's build script (src/build.rs), "unknown" where it could
//! not tell (a tarball build without git). Shown by `ringlb -vv`; the release date is
//! `show info`'s `Release_date` (HAProxy's field, which hatop requires).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("RINGLB_GIT_COMMIT");
/// The commit's date as YYYY/MM/DD, HAProxy's layout.
pub const RELEASE_DATE: &str = env!("RINGLB_RELEASE_DATE");
pub const RUSTC_VERSION: &str = env!("RINGLB_RUSTC_VERSION");
pub const TARGET: &str = env!("RINGLB_TARGET");
pub const PROFILE: &str = env!("RINGLB_PROFILE");
/// ringlb's own Cargo features, space-separated ("none" without any).
pub const FEATURES: &str = env!("RINGLB_FEATURES");

/// The build lines of `-vv`.
pub fn lines() -> Vec<String> {
    vec![
        format!("Git commit: {GIT_COMMIT}"),
        format!("Release date: {RELEASE_DATE}"),
        format!("Built with: {RUSTC_VERSION}"),
        format!("Target: {TARGET} ({PROFILE} profile)"),
        format!("Cargo features: {FEATURES}"),
        // Compiled in unconditionally (Cargo.toml): both monoio drivers, TLS with aws-lc-rs.
        "Compiled in: monoio io_uring and legacy (epoll) drivers, rustls with aws-lc-rs, HTTP/2 (h2)".into(),
    ]
}

/// The HAProxy version ringlb answers for in `.if version_atleast()` / `version_before()`: the
/// 2.6 release whose behaviour it is checked against (the one the tests run beside).
pub const HAPROXY_COMPAT_VERSION: &str = "2.6.12";

/// The OpenSSL version `.if openssl_version_atleast()` / `_before()` answer for: ringlb's TLS is
/// rustls, which offers configurations what OpenSSL 3.0 does (TLS 1.3, ciphersuites, curves).
pub const OPENSSL_COMPAT_VERSION: &str = "3.0.0";

/// The TLS library's name for `.if ssllib_name_startswith()`.
pub const SSL_LIBRARY_NAME: &str = "rustls";

/// HAProxy's build feature names as `.if feature(NAME)` answers them, `true` where ringlb has
/// what the feature gives a configuration. `OPENSSL`: rustls plays its role (`ssl` binds and
/// servers). Names not listed are false, as in HAProxy.
pub const HAPROXY_FEATURES: &[(&str, bool)] = &[
    ("EPOLL", true),
    ("THREAD", true),
    ("CPU_AFFINITY", true),
    ("OPENSSL", true),
    ("GETADDRINFO", true),
    ("PROMEX", true),
    ("SYSTEMD", true),
    ("LINUX_SPLICE", false),
    ("LINUX_TPROXY", false),
    ("TPROXY", false),
    ("TFO", false),
    ("LUA", false),
    ("PCRE", false),
    ("PCRE2", false),
    ("PCRE_JIT", false),
    ("PCRE2_JIT", false),
    ("ZLIB", false),
    ("SLZ", false),
    ("QUIC", false),
    ("NS", false),
    ("NETFILTER", false),
    ("OT", false),
];

/// `-vv`'s "Feature list", in HAProxy's `+NAME -NAME` layout.
pub fn feature_list() -> String {
    HAPROXY_FEATURES
        .iter()
        .map(|(n, on)| format!("{}{n}", if *on { '+' } else { '-' }))
        .collect::<Vec<_>>()
        .join(" ")
}
