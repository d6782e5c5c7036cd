//! Stateless session tickets that resume on any core. With SO_REUSEPORT a returning client
//! lands on a random core, so a per-core session cache would hit 1/N of the time; a ticket
//! carries the session itself, sealed with a key every core holds.
//!
//! A ticket is `key name (16) | nonce (12) | AES-256-GCM(issued-at (8, big-endian seconds) |
//! rustls' session state)`, the key name as associated data. The name picks the key, so a
//! ticket sealed under an older key still opens while that key is in the set. Keys never change
//! inside a `Tickets`: rotation builds a new one (it will arrive by message), so sealing and
//! opening take no lock. `tune.ssl.lifetime` bounds a ticket's age when it is opened.
//!
//! Keys are random at start, or read from HAProxy's `tls-ticket-keys FILE`: one base64 line of
//! 48 or 80 bytes per key (16-byte name, then AES and HMAC keys), all of one size, at least 3;
//! the last 3 are used, the second-to-last seals (so a key appended ahead of time is already
//! accepted when the next reload makes it the sealing one). The AES-256-GCM key is derived from
//! each line's secret bytes with HKDF-SHA256: the file format is HAProxy's, the tickets are not
//! (HAProxy seals with AES-CBC + HMAC), so a ticket does not move between the two.

use crate::config::files;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The key name at the front of every ticket and of every key-file line.
pub const NAME_LEN: usize = 16;
/// HAProxy's TLS_TICKETS_NO: keys in use from a key file.
pub const KEYS_IN_USE: usize = 3;
/// Key-file line sizes: name + AES-128 + HMAC-128 keys, or name + AES-256 + HMAC-256 keys.
const LINE_SIZES: [usize; 2] = [48, 80];
const TAG_LEN: usize = 16;
const ISSUED_LEN: usize = 8;
/// Tickets opened on another core may carry a clock a little ahead of ours.
const CLOCK_SKEW_SECS: u64 = 60;
const HKDF_INFO: &[u8] = b"ringlb session ticket AES-256-GCM";
/// A key file holds a few lines; anything larger is a wrong path.
const KEY_FILE_LIMIT: u64 = 64 << 10;

#[derive(Debug)]
pub enum TicketError {
    File {
        path: PathBuf,
        problem: String,
    },
    /// A line that is not base64 of 48 or 80 bytes, or whose size differs from the first.
    BadLine {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    TooFew {
        path: PathBuf,
        found: usize,
    },
    /// The crypto library failed (random generator, key derivation): what it was doing.
    Crypto(&'static str),
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TicketError::File { path, problem } => {
                write!(f, "tls-ticket-keys file '{}' {problem}", path.display())
            }
            TicketError::BadLine { path, line, detail } => write!(
                f,
                "tls-ticket-keys file '{}' line {line}: {detail}",
                path.display()
            ),
            TicketError::TooFew { path, found } => write!(
                f,
                "tls-ticket-keys file '{}' holds {found} key(s); at least {KEYS_IN_USE} are needed (the last {KEYS_IN_USE} are used, the second-to-last seals new tickets)",
                path.display()
            ),
            TicketError::Crypto(what) => write!(f, "TLS ticket keys: {what} failed"),
        }
    }
}

struct TicketKey {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
}

/// The bytes of a random key (its name, then the secret the AES key is derived from), kept
/// only to hand the keys to the next process at a `-x` reload (net/ticket_handover.rs), so a
/// ticket issued before the reload resumes after it. In memory only: never written, never
/// printed (Debug shows nothing), zeroed when dropped.
#[derive(Clone)]
pub struct KeySecret(zeroize::Zeroizing<[u8; SECRET_LEN]>);

/// A random key's bytes: a 16-byte name and a 32-byte secret.
pub const SECRET_LEN: usize = NAME_LEN + 32;

impl fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySecret(..)")
    }
}

impl KeySecret {
    pub fn from_bytes(b: &[u8]) -> Option<KeySecret> {
        let mut k = zeroize::Zeroizing::new([0u8; SECRET_LEN]);
        k.copy_from_slice(b.get(..SECRET_LEN).filter(|_| b.len() == SECRET_LEN)?);
        Some(KeySecret(k))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0[..]
    }

    fn random(rng: &SystemRandom) -> Result<KeySecret, TicketError> {
        let mut k = zeroize::Zeroizing::new([0u8; SECRET_LEN]);
        rng.fill(&mut k[..])
            .map_err(|_| TicketError::Crypto("the system random generator"))?;
        Ok(KeySecret(k))
    }
}

/// A ticket producer: an immutable key set, one key sealing, all of them opening.
pub struct Tickets {
    keys: Vec<TicketKey>,
    /// Random keys' bytes, the sealing one first, for the next process; empty with a key
    /// file (the next process reads the file itself).
    secrets: Vec<KeySecret>,
    sealing: usize,
    lifetime: Duration,
    rng: SystemRandom,
}

impl fmt::Debug for Tickets {
    // Never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tickets")
            .field("keys", &self.keys.len())
            .field("sealing", &self.sealing)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl Tickets {
    /// One random key, for a process without `tls-ticket-keys`; build it once and share it.
    pub fn random(lifetime: Duration) -> Result<Tickets, TicketError> {
        Tickets::inherit(lifetime, &[])
    }

    /// A fresh random key that seals, and the old process's keys (`-x` reload) that still
    /// open its tickets: at most `KEYS_IN_USE` in all, so each reload rotates the oldest out.
    pub fn inherit(lifetime: Duration, old: &[KeySecret]) -> Result<Tickets, TicketError> {
        let rng = SystemRandom::new();
        let mut secrets = vec![KeySecret::random(&rng)?];
        secrets.extend(old.iter().take(KEYS_IN_USE - 1).cloned());
        Ok(Tickets {
            keys: secrets
                .iter()
                .map(|k| derive_key(k.bytes()))
                .collect::<Result<_, _>>()?,
            secrets,
            sealing: 0,
            lifetime,
            rng,
        })
    }

    /// The random keys to hand to the next process, the sealing one first (none with a key
    /// file).
    pub fn secrets(&self) -> &[KeySecret] {
        &self.secrets
    }

    /// Keys from a `tls-ticket-keys` file.
    pub fn from_file(path: &Path, lifetime: Duration) -> Result<Tickets, TicketError> {
        let text = files::read_text(path, KEY_FILE_LIMIT).map_err(|problem| TicketError::File {
            path: path.to_path_buf(),
            problem,
        })?;
        Tickets::from_text(&text, path, lifetime)
    }

    /// Keys from the text of a key file (`path` names it in errors).
    pub fn from_text(text: &str, path: &Path, lifetime: Duration) -> Result<Tickets, TicketError> {
        let lines = decode_lines(text, path)?;
        if lines.len() < KEYS_IN_USE {
            return Err(TicketError::TooFew {
                path: path.to_path_buf(),
                found: lines.len(),
            });
        }
        let in_use = &lines[lines.len() - KEYS_IN_USE..];
        Ok(Tickets {
            keys: in_use
                .iter()
                .map(|l| derive_key(l))
                .collect::<Result<_, _>>()?,
            secrets: Vec::new(),
            sealing: KEYS_IN_USE - 2,
            lifetime,
            rng: SystemRandom::new(),
        })
    }

    /// Seals `plain` as issued at `now` (seconds since the epoch).
    pub fn encrypt_at(&self, plain: &[u8], now: u64) -> Option<Vec<u8>> {
        let key = self.keys.get(self.sealing)?;
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + ISSUED_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&key.name);
        out.extend_from_slice(&nonce);
        let mut body = Vec::with_capacity(ISSUED_LEN + plain.len() + TAG_LEN);
        body.extend_from_slice(&now.to_be_bytes());
        body.extend_from_slice(plain);
        let nonce = Nonce::assume_unique_for_key(nonce);
        key.aead
            .seal_in_place_append_tag(nonce, Aad::from(&key.name), &mut body)
            .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    /// Opens a ticket at `now`; `None` for an unknown key, a forgery or an expired ticket.
    pub fn decrypt_at(&self, ticket: &[u8], now: u64) -> Option<Vec<u8>> {
        if ticket.len() < NAME_LEN + NONCE_LEN + ISSUED_LEN + TAG_LEN {
            return None;
        }
        let (name, rest) = ticket.split_at(NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = self.keys.iter().find(|k| k.name[..] == *name)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = sealed.to_vec();
        let plain = key
            .aead
            .open_in_place(nonce, Aad::from(name), &mut body)
            .ok()?;
        let (issued, session) = plain.split_at(ISSUED_LEN);
        let issued = u64::from_be_bytes(issued.try_into().ok()?);
        self.fresh(issued, now).then(|| session.to_vec())
    }

    fn fresh(&self, issued: u64, now: u64) -> bool {
        issued <= now.saturating_add(CLOCK_SKEW_SECS)
            && now.saturating_sub(issued) <= self.lifetime.as_secs()
    }
}

/// Seconds since the epoch (0 if the clock is before it: tickets then simply fail to open).
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl rustls::server::ProducesTickets for Tickets {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        u32::try_from(self.lifetime.as_secs()).unwrap_or(u32::MAX)
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.encrypt_at(plain, now_secs())
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.decrypt_at(cipher, now_secs())
    }
}

/// Non-blank lines, base64-decoded, all of the first line's size.
fn decode_lines(text: &str, path: &Path) -> Result<Vec<Vec<u8>>, TicketError> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let bad = |detail: String| TicketError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            detail,
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| bad(format!("not base64: {e}")))?;
        if !LINE_SIZES.contains(&bytes.len()) {
            return Err(bad(format!(
                "a key is 48 or 80 bytes (AES-128 or AES-256), this one is {}",
                bytes.len()
            )));
        }
        if let Some(first) = lines.first().filter(|f| f.len() != bytes.len()) {
            return Err(bad(format!(
                "{} bytes where the first key is {}: sizes cannot be mixed",
                bytes.len(),
                first.len()
            )));
        }
        lines.push(bytes);
    }
    Ok(lines)
}

/// A line's name is its first 16 bytes; its AES-256-GCM key is HKDF-SHA256 of the rest.
fn derive_key(line: &[u8]) -> Result<TicketKey, TicketError> {
    let (name_bytes, secret) = line.split_at(NAME_LEN);
    let mut name = [0u8; NAME_LEN];
    name.copy_from_slice(name_bytes);
    let prk = Salt::new(HKDF_SHA256, &name).extract(secret);
    let okm = prk
        .expand(&[HKDF_INFO], &AES_256_GCM)
        .map_err(|_| TicketError::Crypto("deriving a ticket key"))?;
    let key = UnboundKey::from(okm);
    Ok(TicketKey {
        name,
        aead: LessSafeKey::new(key),
    })
}

/// Writes `n` random 80-byte keys in the key-file format (for tests and `ringlb` tooling).
pub fn random_key_file(n: usize) -> Result<String, TicketError> {
    let rng = SystemRandom::new();
    let mut out = String::new();
    for _ in 0..n {
        let mut line = [0u8; 80];
        rng.fill(&mut line)
            .map_err(|_| TicketError::Crypto("the system random generator"))?;
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(line));
        out.push('\n');
    }
    Ok(out)
}
