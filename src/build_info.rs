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
