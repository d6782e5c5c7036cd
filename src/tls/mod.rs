//! TLS termination building blocks, on rustls with the aws-lc-rs provider. Everything here is
//! built from a bind's plain `config::model_tls::BindTls` and needs no socket: the handshake
//! plugs into the client stream type (plain | tls | in-memory) later, driving a rustls
//! `ServerConnection` made from `BindConfig`.
//!
//! ```text
//!  BindTls (plain data from the config)
//!     |  server_config::Shared::load      once per bind, shared by every core in Arcs:
//!     |    certs.rs     crt FILE|DIR, FILE.key, FILE.ocsp, ca-file  -> LoadedCert / roots
//!     |    crt_list.rs  crt-list lines: filters, !filters, [alpn verify ca-file]
//!     |    resolve.rs   CertStore: SNI -> certificate (exact > wildcard > default, ECDSA/RSA)
//!     |    tickets.rs   Tickets: AES-256-GCM session tickets any core can open
//!     |    ciphers.rs, groups.rs, versions.rs   OpenSSL names, version options -> rustls
//!     v
//!  server_config::BindConfig::build       once per core: Arc<ServerConfig> (+ per crt-list entry)
//!     |
//!  accept::Accepting                      per connection: bytes in until the ClientHello is
//!                                         complete -> ServerConnection from the right config
//!  facts::ConnFacts                       after the handshake: ssl_fc_* / ssl_c_* for the rules
//!
//!  ServerTls (a `server ... ssl` line)    -> client_config::ClientTls::build, once per server
//!                                            per core: ClientConfig for traffic and checks
//! ```
//!
//! What must not happen here: I/O on the request path, locks on a handshake (the maps and
//! keys are immutable; rotation builds new ones), a panic on any input.

pub mod accept;
pub mod certs;
pub mod ciphers;
pub mod client_config;
pub mod crt_list;
pub mod facts;
pub mod groups;
pub mod resolve;
pub mod server_config;
pub mod tickets;
pub mod versions;

#[cfg(test)]
mod handshake_tests;
#[cfg(test)]
pub(crate) mod testutil;
#[cfg(test)]
mod unit_tests;

use std::fmt;

/// The longest ALPN protocol name the TLS extension can carry.
const ALPN_MAX: usize = 255;

/// A problem with a bind's TLS settings or files; `Display` names the file when there is one.
#[derive(Debug)]
pub enum TlsError {
    Cert(certs::CertError),
    CrtList(crt_list::CrtListError),
    Tickets(tickets::TicketError),
    /// A setting that cannot be honoured (versions, ciphers, verify without ca-file...).
    Config(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Cert(e) => e.fmt(f),
            TlsError::CrtList(e) => e.fmt(f),
            TlsError::Tickets(e) => e.fmt(f),
            TlsError::Config(s) => f.write_str(s),
        }
    }
}

/// aws-lc-rs with rustls' default suites and groups (what every config starts from).
pub fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// `h2,http/1.1` -> `["h2", "http/1.1"]`; empty or over-long names are refused.
pub fn alpn_list(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(|p| match p.len() {
            0 => Err(format!("'alpn {text}': empty protocol name")),
            n if n > ALPN_MAX => Err(format!(
                "'alpn': protocol name '{p}' is longer than {ALPN_MAX} bytes"
            )),
            _ => Ok(p.to_string()),
        })
        .collect()
}

fn alpn_bytes(list: &[String]) -> Vec<Vec<u8>> {
    list.iter().map(|p| p.as_bytes().to_vec()).collect()
}
