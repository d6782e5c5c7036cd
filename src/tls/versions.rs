//! Protocol versions from `ssl-min-ver`/`ssl-max-ver`/`no-tlsv1x`/`force-tlsv1x` (bind and
//! `ssl-default-bind-options` merged before this). rustls implements TLS 1.2 and 1.3 only:
//! SSLv3, TLS 1.0 and 1.1 are never offered, so `no-sslv3` changes nothing, a range that also
//! names them gets a warning, and one that names only them is refused by name.

use crate::config::model_tls::{TlsVersion, VersionOptions};
use rustls::SupportedProtocolVersion;

/// HAProxy's default `ssl-min-ver`.
const DEFAULT_MIN: TlsVersion = TlsVersion::Tls12;
const DEFAULT_MAX: TlsVersion = TlsVersion::Tls13;

/// The rustls versions to offer, and a warning about asked-for versions it lacks.
pub type Versions = (Vec<&'static SupportedProtocolVersion>, Option<String>);

pub fn resolve(v: &VersionOptions) -> Result<Versions, String> {
    let wanted = wanted(v)?;
    let (offered, lacking): (Vec<TlsVersion>, Vec<TlsVersion>) = wanted
        .iter()
        .partition(|v| matches!(v, TlsVersion::Tls12 | TlsVersion::Tls13));
    let lacking_names = || {
        lacking
            .iter()
            .map(|v| v.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if offered.is_empty() {
        return Err(format!(
            "the version options leave only {}, which ringlb's TLS library (rustls) does not implement; it offers TLSv1.2 and TLSv1.3",
            lacking_names()
        ));
    }
    let warning = (!lacking.is_empty()).then(|| {
        format!(
            "{} will not be offered: rustls implements only TLSv1.2 and TLSv1.3",
            lacking_names()
        )
    });
    let rustls_versions = offered
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            _ => &rustls::version::TLS13,
        })
        .collect();
    Ok((rustls_versions, warning))
}

/// Every version the options allow, oldest first; an error when they allow none.
fn wanted(v: &VersionOptions) -> Result<Vec<TlsVersion>, String> {
    let (min, max) = match v.force {
        Some(f) => (f, f),
        // A lone `ssl-max-ver` below the default minimum means "up to that one": say that it
        // leaves versions rustls lacks, not that the minimum is above it.
        None => {
            let max = v.max.unwrap_or(DEFAULT_MAX);
            (v.min.unwrap_or(DEFAULT_MIN.min(max)), max)
        }
    };
    if min > max {
        return Err(format!(
            "ssl-min-ver {} is above ssl-max-ver {}",
            min.name(),
            max.name()
        ));
    }
    let list: Vec<TlsVersion> = TlsVersion::ALL
        .into_iter()
        .filter(|x| (min..=max).contains(x) && !v.disabled.contains(x))
        .collect();
    if list.is_empty() {
        let off: Vec<String> = v
            .disabled
            .iter()
            .map(|d| format!("no-{}", d.option_suffix()))
            .collect();
        return Err(format!(
            "no protocol version is left between {} and {} once {} apply",
            min.name(),
            max.name(),
            off.join(" ")
        ));
    }
    Ok(list)
}
