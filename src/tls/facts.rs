//! What a finished handshake tells the rules, in the forms HAProxy's fetches give: `ssl_fc_*`
//! (the connection) and `ssl_c_*` (the client certificate). Computed once per connection from
//! the `ServerConnection`, then read by fetches without touching rustls again.

use super::ciphers;
use rustls::pki_types::CertificateDer;
use rustls::{HandshakeKind, ProtocolVersion, ServerConnection};
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::time::ASN1Time;
use x509_parser::x509::X509Name;

/// OpenSSL's X509_V_OK: rustls only completes a handshake whose certificate verified.
const X509_V_OK: u32 = 0;

/// The `ssl_fc_*` facts of one TLS connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnFacts {
    /// `ssl_fc_sni`, lowercased by rustls.
    pub sni: Option<String>,
    /// `ssl_fc_protocol`: `TLSv1.2`, `TLSv1.3`.
    pub protocol: Option<&'static str>,
    /// `ssl_fc_cipher`, in OpenSSL's naming (`ECDHE-RSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`).
    pub cipher: Option<&'static str>,
    /// `ssl_fc_alpn`.
    pub alpn: Option<Vec<u8>>,
    /// `ssl_fc_session_reused`.
    pub resumed: bool,
    /// `ssl_c_*`, when the client sent a certificate.
    pub client: Option<ClientCertFacts>,
}

/// The `ssl_c_*` facts of a client certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientCertFacts {
    /// `ssl_c_verify`: OpenSSL's code (0: verified).
    pub verify: u32,
    /// `ssl_c_s_dn`, OpenSSL's one-line form: `/C=FR/O=Example/CN=client`.
    pub subject_dn: String,
    /// `ssl_c_i_dn`.
    pub issuer_dn: String,
    /// `ssl_c_serial`: the serial number's bytes (binary, as HAProxy gives it).
    pub serial: Vec<u8>,
    /// `ssl_c_sha1`: SHA-1 of the certificate's DER (binary).
    pub sha1: Vec<u8>,
    /// `ssl_c_notbefore`/`ssl_c_notafter`: `YYMMDDhhmmssZ` (or `YYYYMMDDhhmmssZ` after 2049), as
    /// the certificate encodes them.
    pub not_before: String,
    pub not_after: String,
}

impl ConnFacts {
    /// The facts of a connection whose handshake is complete.
    pub fn of(conn: &ServerConnection) -> ConnFacts {
        ConnFacts {
            sni: conn.server_name().map(str::to_string),
            protocol: conn.protocol_version().and_then(protocol_name),
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|s| ciphers::names(&[s]).first().copied()),
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
            client: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(ClientCertFacts::of),
        }
    }
}

fn protocol_name(v: ProtocolVersion) -> Option<&'static str> {
    match v {
        ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
        ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
        _ => None,
    }
}

impl ClientCertFacts {
    /// `None` when the certificate cannot be parsed (rustls verified it, so this does not happen
    /// with a real handshake).
    pub fn of(der: &CertificateDer<'_>) -> Option<ClientCertFacts> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        let v = cert.validity();
        Some(ClientCertFacts {
            verify: X509_V_OK,
            subject_dn: one_line(cert.subject()),
            issuer_dn: one_line(cert.issuer()),
            serial: cert.raw_serial().to_vec(),
            sha1: digest.as_ref().to_vec(),
            not_before: asn1_time(&v.not_before),
            not_after: asn1_time(&v.not_after),
        })
    }
}

/// OpenSSL's `X509_NAME_oneline` form, which HAProxy's `ssl_c_s_dn` gives by default.
fn one_line(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for attr in name.iter_attributes() {
        let key = oid2abbrev(attr.attr_type(), oid_registry())
            .map(str::to_string)
            .unwrap_or_else(|_| attr.attr_type().to_id_string());
        let value = attr.as_str().unwrap_or("");
        out.push('/');
        out.push_str(&key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// UTCTime `YYMMDDhhmmssZ` for years 1950-2049, else GeneralizedTime `YYYYMMDDhhmmssZ`.
fn asn1_time(t: &ASN1Time) -> String {
    const DAY: i64 = 86_400;
    let secs = t.timestamp();
    let (days, rem) = (secs.div_euclid(DAY), secs.rem_euclid(DAY));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if (1950..2050).contains(&y) {
        format!("{:02}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z", y % 100)
    } else {
        format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z")
    }
}

/// Days since 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar (the
/// classic era-based conversion: 400-year eras of 146097 days, years starting in March).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways_of_the_centuries() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = |secs| asn1_time(&ASN1Time::from_timestamp(secs).unwrap());
        assert_eq!(t(1_704_067_200), "240101000000Z");
        assert_eq!(t(2_556_143_999), "20501231235959Z");
    }
}
