//! `crt-list FILE`: one certificate per line, `CERTFILE [[SSL OPTIONS]] [[!]SNI FILTER ...]`,
//! `#` comments and blank lines ignored. Per-entry options: `alpn`, `verify` and `ca-file` (the
//! ones a certificate choice can change without renegotiating ciphers or versions); the others
//! HAProxy knows are refused by name.

use crate::config::model_tls::{Bases, Verify};
use std::fmt;
use std::path::{Path, PathBuf};

/// Per-entry options HAProxy accepts that ringlb does not apply per certificate.
const REFUSED_OPTIONS: [&str; 11] = [
    "allow-0rtt",
    "ca-verify-file",
    "ciphers",
    "ciphersuites",
    "crl-file",
    "curves",
    "ecdhe",
    "no-ca-names",
    "npn",
    "ssl-min-ver",
    "ssl-max-ver",
];

/// What a crt-list line may override for its certificate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryOptions {
    pub alpn: Option<Vec<String>>,
    pub verify: Option<Verify>,
    pub ca_file: Option<PathBuf>,
}

impl EntryOptions {
    pub fn is_empty(&self) -> bool {
        self == &EntryOptions::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrtListEntry {
    /// 1-based line in the crt-list file.
    pub line: u32,
    pub cert: PathBuf,
    pub options: EntryOptions,
    /// SNI filters (lowercased); empty = the certificate's own names.
    pub filters: Vec<String>,
    /// `!name` filters (lowercased, without the `!`): names this entry never answers.
    pub negated: Vec<String>,
}

/// A problem on one line of a crt-list file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrtListError {
    pub path: PathBuf,
    pub line: u32,
    pub message: String,
}

impl fmt::Display for CrtListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crt-list '{}' line {}: {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

/// Parses a crt-list's text; every bad line is reported.
pub fn parse(
    text: &str,
    list: &Path,
    bases: &Bases,
) -> Result<Vec<CrtListEntry>, Vec<CrtListError>> {
    let (mut entries, mut errors) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed, line, bases) {
            Ok(e) => entries.push(e),
            Err(message) => errors.push(CrtListError {
                path: list.to_path_buf(),
                line,
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

fn parse_line(text: &str, line: u32, bases: &Bases) -> Result<CrtListEntry, String> {
    let (cert, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let (options, filters) = split_options(rest.trim())?;
    let options = parse_options(&options, bases)?;
    let (mut positive, mut negated) = (Vec::new(), Vec::new());
    for f in filters.split_whitespace() {
        match f.strip_prefix('!') {
            Some("") => return Err("'!' must be followed by a name or '*'".into()),
            Some(n) => negated.push(n.to_ascii_lowercase()),
            None => positive.push(f.to_ascii_lowercase()),
        }
    }
    Ok(CrtListEntry {
        line,
        cert: bases.crt_path(cert),
        options,
        filters: positive,
        negated,
    })
}

/// `[alpn h2 verify none] a.example.com` -> (`["alpn","h2","verify","none"]`, `a.example.com`).
fn split_options(rest: &str) -> Result<(Vec<String>, &str), String> {
    let Some(inner) = rest.strip_prefix('[') else {
        return Ok((Vec::new(), rest));
    };
    let Some((opts, after)) = inner.split_once(']') else {
        return Err("'[' opens SSL options that no ']' closes".into());
    };
    Ok((
        opts.split_whitespace().map(String::from).collect(),
        after.trim(),
    ))
}

fn parse_options(words: &[String], bases: &Bases) -> Result<EntryOptions, String> {
    let mut out = EntryOptions::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("'{w}' needs a value"))
        };
        match w.as_str() {
            "alpn" => out.alpn = Some(super::alpn_list(&value()?)?),
            "verify" => {
                let v = value()?;
                out.verify = Some(Verify::from_name(&v).ok_or_else(|| {
                    format!("'verify {v}': expected none, optional or required")
                })?);
            }
            "ca-file" => out.ca_file = Some(bases.ca_path(&value()?)),
            o if REFUSED_OPTIONS.contains(&o) => {
                return Err(format!(
                    "per-certificate '{o}' is not supported by ringlb yet (only alpn, verify and ca-file are); set it on the bind line instead"
                ))
            }
            o => return Err(format!("unknown SSL option '{o}' in '[...]'")),
        }
    }
    Ok(out)
}
