//! OpenSSL cipher strings (`ciphers`, `ciphersuites` and their `ssl-default-bind-*` globals)
//! mapped onto the suites rustls offers: TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305, and
//! the three TLS 1.3 suites.
//!
//! HAProxy hands the string to OpenSSL, which ignores names it does not know and fails only
//! when nothing usable is left ("unable to set SSL cipher list"). ringlb does the same, but
//! says what it dropped: names matching no rustls suite give a warning naming the suites that
//! will be used; a list that leaves none is an error listing the ones rustls has.
//!
//! TLS 1.2 strings understand the usual syntax: `A:B` (also `,` or spaces), `!X` (never),
//! `-X` (remove for now), `+X` (move to the end), `@STRENGTH`/`@SECLEVEL=n` (ignored), and
//! aliases joined with `+` (`ECDHE+AESGCM`) over the tags of each suite below.

use rustls::crypto::aws_lc_rs::cipher_suite as cs;
use rustls::SupportedCipherSuite;

/// TLS 1.2 suites: OpenSSL name, suite, OpenSSL aliases that select it.
const TLS12: [(&str, SupportedCipherSuite, &[&str]); 6] = [
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        &["ECDSA", "aECDSA", "AES", "AES256", "AESGCM", "SHA384"],
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        &["aRSA", "AES", "AES256", "AESGCM", "SHA384"],
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        &["ECDSA", "aECDSA", "CHACHA20", "SHA256"],
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        &["aRSA", "CHACHA20", "SHA256"],
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        &["ECDSA", "aECDSA", "AES", "AES128", "AESGCM", "SHA256"],
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        &["aRSA", "AES", "AES128", "AESGCM", "SHA256"],
    ),
];
/// Aliases every rustls TLS 1.2 suite belongs to.
const COMMON_TAGS: [&str; 10] = [
    "ALL", "DEFAULT", "HIGH", "SECURE", "ECDHE", "EECDH", "kECDHE", "kEECDH", "AEAD", "TLSv1.2",
];

const TLS13: [(&str, SupportedCipherSuite); 3] = [
    ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
];

/// Suites chosen from a list, in preference order, and what was dropped.
#[derive(Debug)]
pub struct Choice {
    pub suites: Vec<SupportedCipherSuite>,
    /// Set when some names matched nothing rustls has.
    pub warning: Option<String>,
}

/// `ciphers` (TLS 1.2); `None` = rustls' defaults.
pub fn tls12(keyword: &str, list: Option<&str>) -> Result<Choice, String> {
    let Some(list) = list else {
        return Ok(defaults(false));
    };
    let mut order: Vec<usize> = Vec::new();
    let mut banned: Vec<usize> = Vec::new();
    let mut unmatched: Vec<&str> = Vec::new();
    for term in terms(list) {
        apply_term(term, &mut order, &mut banned, &mut unmatched);
    }
    let suites = order.iter().map(|&i| TLS12[i].1).collect();
    finish(keyword, list, suites, &unmatched, TLS12.iter().map(|t| t.0))
}

/// `ciphersuites` (TLS 1.3): plain names, as OpenSSL reads them.
pub fn tls13(keyword: &str, list: Option<&str>) -> Result<Choice, String> {
    let Some(list) = list else {
        return Ok(defaults(true));
    };
    let mut suites = Vec::new();
    let mut unmatched = Vec::new();
    for term in terms(list) {
        match TLS13.iter().find(|t| t.0 == term) {
            Some(t) if !suites.contains(&t.1) => suites.push(t.1),
            Some(_) => {}
            None => unmatched.push(term),
        }
    }
    finish(keyword, list, suites, &unmatched, TLS13.iter().map(|t| t.0))
}

/// rustls' default suites of one protocol version, in rustls' order.
fn defaults(tls13: bool) -> Choice {
    let suites = rustls::crypto::aws_lc_rs::DEFAULT_CIPHER_SUITES
        .iter()
        .filter(|s| s.tls13().is_some() == tls13)
        .copied()
        .collect();
    Choice {
        suites,
        warning: None,
    }
}

fn terms(list: &str) -> impl Iterator<Item = &str> {
    list.split([':', ',', ' ']).filter(|t| !t.is_empty())
}

fn apply_term<'a>(
    term: &'a str,
    order: &mut Vec<usize>,
    banned: &mut Vec<usize>,
    unmatched: &mut Vec<&'a str>,
) {
    if term.starts_with('@') {
        return;
    }
    let (op, name) = match term.as_bytes().first() {
        Some(b'!' | b'-' | b'+') => (&term[..1], &term[1..]),
        _ => ("", term),
    };
    let matching: Vec<usize> = (0..TLS12.len()).filter(|&i| selects(name, i)).collect();
    match op {
        "!" => {
            order.retain(|i| !matching.contains(i));
            banned.extend(matching);
        }
        "-" => order.retain(|i| !matching.contains(i)),
        "+" => {
            let moved: Vec<usize> = order
                .iter()
                .copied()
                .filter(|i| matching.contains(i))
                .collect();
            order.retain(|i| !matching.contains(i));
            order.extend(moved);
        }
        _ if matching.is_empty() => unmatched.push(term),
        _ => {
            let new: Vec<usize> = matching
                .into_iter()
                .filter(|i| !order.contains(i) && !banned.contains(i))
                .collect();
            order.extend(new);
        }
    }
}

/// Does `name` (an OpenSSL name or `+`-joined aliases) select TLS 1.2 suite `i`?
fn selects(name: &str, i: usize) -> bool {
    let (openssl, _, tags) = TLS12[i];
    name == openssl
        || name
            .split('+')
            .all(|part| tags.contains(&part) || COMMON_TAGS.contains(&part))
}

fn finish<'a>(
    keyword: &str,
    list: &str,
    suites: Vec<SupportedCipherSuite>,
    unmatched: &[&str],
    known: impl Iterator<Item = &'a str>,
) -> Result<Choice, String> {
    if suites.is_empty() {
        let known: Vec<&str> = known.collect();
        return Err(format!(
            "'{keyword} {list}' leaves no cipher rustls offers; it has {}",
            known.join(":")
        ));
    }
    let warning = (!unmatched.is_empty()).then(|| {
        format!(
            "'{keyword}': {} match no cipher rustls offers and are ignored; using {}",
            unmatched.join(", "),
            names(&suites).join(":")
        )
    });
    Ok(Choice { suites, warning })
}

/// OpenSSL names of chosen suites, for messages.
pub fn names(suites: &[SupportedCipherSuite]) -> Vec<&'static str> {
    suites
        .iter()
        .filter_map(|s| {
            TLS12
                .iter()
                .map(|t| (t.0, t.1))
                .chain(TLS13)
                .find(|t| t.1.suite() == s.suite())
                .map(|t| t.0)
        })
        .collect()
}
