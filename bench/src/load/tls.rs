//! TLS for the load generator: the client settings (`--tls`, `--ca`, `--insecure`, `--sni`,
//! `--tls-resume`) and a TLS stream over monoio's `TcpStream`.
//!
//! The stream drives rustls' buffered `ClientConnection` by hand over monoio's owned-buffer
//! reads and writes: ciphertext is read into the stream's own buffer and fed to rustls, plaintext
//! is copied into the caller's buffer, so the client loop above (`client.rs`) sees the same
//! `read(Vec<u8>)` / `write_all(Bytes)` as on a plain connection.
//!
//! Sessions: without `--tls-resume` every connection is a new client (no resumption at all:
//! each handshake is a full one). With it, every connection of the load keeps its own session
//! store, so each reconnect offers the ticket of its own previous connection, like a returning
//! client; one store shared by many connections would run dry (rustls keeps a few tickets per
//! server name and a TLS 1.3 ticket is used once) and mix full handshakes into the figures.

use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, SignatureScheme,
};

/// Ciphertext read per TCP read: a little more than one full TLS record.
const TLS_READ_BUF: usize = 18 * 1024;
/// Sessions a connection's own store keeps under `--tls-resume` (it needs one at a time).
const SESSIONS_PER_CONN: usize = 4;

/// What the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct TlsOpts {
    pub enabled: bool,
    /// PEM file of the CA certificates that verify the server.
    pub ca: Option<String>,
    /// Accept any server certificate (the handshake signature is still checked).
    pub insecure: bool,
    /// Server name for SNI and verification (default: the URL's host).
    pub sni: Option<String>,
    /// New connections resume the previous connection's session (tickets kept).
    pub resume: bool,
}

/// The client side of TLS, built once per run and shared by every thread.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
    resume: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TlsClient({:?}, resume {})", self.name, self.resume)
    }
}

impl TlsClient {
    /// Builds the client from the options; `host` is the URL's host (the default name).
    pub fn new(opts: &TlsOpts, host: &str) -> Result<TlsClient, String> {
        let provider = Arc::new(provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?;
        let mut config = match (&opts.ca, opts.insecure) {
            (Some(_), true) => return Err("--ca and --insecure exclude each other".to_string()),
            (None, false) => {
                return Err("--tls needs --ca FILE (verify the server) or --insecure".to_string())
            }
            (Some(path), false) => builder
                .with_root_certificates(roots(path)?)
                .with_no_client_auth(),
            (None, true) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
                .with_no_client_auth(),
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.resumption = if opts.resume {
            Resumption::in_memory_sessions(SESSIONS_PER_CONN)
        } else {
            Resumption::disabled()
        };
        let name_text = opts.sni.clone().unwrap_or_else(|| strip_brackets(host));
        let name = ServerName::try_from(name_text.clone())
            .map_err(|_| format!("--sni {name_text}: not a DNS name or an IP address"))?;
        Ok(TlsClient {
            config: Arc::new(config),
            name,
            resume: opts.resume,
        })
    }

    /// The config of one connection of the load: its own session store with `--tls-resume`.
    pub fn for_connection(&self) -> Arc<ClientConfig> {
        if !self.resume {
            return self.config.clone();
        }
        let mut c = (*self.config).clone();
        c.resumption = Resumption::in_memory_sessions(SESSIONS_PER_CONN);
        Arc::new(c)
    }

    pub fn name(&self) -> &ServerName<'static> {
        &self.name
    }
}

/// aws-lc-rs with X25519 and P-256 only: rustls would offer the X25519MLKEM768 hybrid first,
/// which ringlb (rustls) accepts and OpenSSL 3.0 (HAProxy 2.6, nginx 1.22 on Debian 12) does
/// not, so ringlb would pay for a post-quantum key exchange the others skip. Everyone gets X25519.
fn provider() -> CryptoProvider {
    let mut p = aws_lc_rs::default_provider();
    p.kx_groups = vec![aws_lc_rs::kx_group::X25519, aws_lc_rs::kx_group::SECP256R1];
    p
}

fn roots(path: &str) -> Result<rustls::RootCertStore, String> {
    let mut store = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("--ca {path}: {e}"))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("--ca {path}: {e}"))?;
        store
            .add(cert)
            .map_err(|e| format!("--ca {path}: a certificate rustls cannot use: {e}"))?;
    }
    if store.is_empty() {
        return Err(format!("--ca {path}: no PEM certificate in it"));
    }
    Ok(store)
}

/// `[::1]` -> `::1`: the URL's authority brackets IPv6 addresses; ServerName does not.
fn strip_brackets(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// `--insecure`: any certificate chain is accepted, but the handshake signature is verified
/// with the certificate's key, so the client does the work a real client does.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a TLS connection could not be set up.
#[derive(Debug)]
pub enum HandshakeError {
    /// The TCP connection failed or broke during the handshake.
    Io(io::Error),
    /// rustls refused: a bad certificate, an alert from the server, a protocol error.
    Tls(rustls::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "{e}"),
            HandshakeError::Tls(e) => write!(f, "tls: {e}"),
        }
    }
}

/// One TLS connection: the TCP stream, rustls' state, and the ciphertext not yet fed to it.
pub struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
    /// Ciphertext read from TCP; `rbuf[rpos..]` is not yet given to rustls.
    rbuf: Vec<u8>,
    rpos: usize,
    /// Ciphertext waiting to be written (kept to reuse its allocation).
    wbuf: Vec<u8>,
    /// Plaintext rustls holds for us (from its last `process_new_packets`).
    plain: usize,
    peer_closed: bool,
}

impl TlsStream {
    /// Runs the handshake on `tcp`; returns the stream and whether the session was resumed.
    pub async fn handshake(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<(TlsStream, bool), HandshakeError> {
        let mut tls = ClientConnection::new(config, name).map_err(HandshakeError::Tls)?;
        // A large POST body is handed to rustls in one write; the default 64 KiB limit would
        // make that write short.
        tls.set_buffer_limit(None);
        let mut s = TlsStream {
            tcp,
            tls,
            rbuf: Vec::with_capacity(TLS_READ_BUF),
            rpos: 0,
            wbuf: Vec::new(),
            plain: 0,
            peer_closed: false,
        };
        while s.tls.is_handshaking() {
            s.flush().await.map_err(HandshakeError::Io)?;
            if !s.tls.is_handshaking() {
                break;
            }
            if s.rpos < s.rbuf.len() {
                s.feed_tls()?;
                continue;
            }
            match s.fill().await {
                Ok(0) => {
                    return Err(HandshakeError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "closed during the TLS handshake",
                    )))
                }
                Ok(_) => s.feed_tls()?,
                Err(e) => return Err(HandshakeError::Io(e)),
            }
        }
        // The client's Finished (and nothing else is pending): send it now, so a connection
        // that then idles has completed its handshake.
        s.flush().await.map_err(HandshakeError::Io)?;
        let resumed = s.tls.handshake_kind() == Some(HandshakeKind::Resumed);
        Ok((s, resumed))
    }

    /// Encrypts `buf` and writes it all.
    pub async fn write_all(&mut self, buf: Bytes) -> monoio::BufResult<usize, Bytes> {
        if let Err(e) = self.tls.writer().write_all(&buf) {
            return (Err(e), buf);
        }
        match self.flush().await {
            Ok(()) => (Ok(buf.len()), buf),
            Err(e) => (Err(e), buf),
        }
    }

    /// Appends plaintext to `buf` (into its spare capacity, as a TCP read would); 0 at the end
    /// of the stream (close_notify or the TCP connection closed).
    pub async fn read(&mut self, mut buf: Vec<u8>) -> monoio::BufResult<usize, Vec<u8>> {
        loop {
            if self.plain > 0 {
                return match self.take_plain(&mut buf) {
                    Ok(n) => (Ok(n), buf),
                    Err(e) => (Err(e), buf),
                };
            }
            if self.peer_closed {
                return (Ok(0), buf);
            }
            if self.rpos < self.rbuf.len() {
                if let Err(e) = self.feed() {
                    return (Err(e), buf);
                }
                continue;
            }
            match self.fill().await {
                // TCP closed without close_notify: the end of the stream all the same; an
                // HTTP response framed by close ends here, any other is reported truncated.
                Ok(0) => return (Ok(0), buf),
                Ok(_) => {}
                Err(e) => return (Err(e), buf),
            }
        }
    }

    /// Copies at most the spare capacity of `buf` from rustls' plaintext.
    fn take_plain(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let old = buf.len();
        let n = self.plain.min(buf.capacity() - old);
        // Only the bytes about to be overwritten are initialised.
        buf.resize(old + n, 0);
        let got = self.tls.reader().read(&mut buf[old..]);
        let got = match got {
            Ok(k) => k,
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        };
        buf.truncate(old + got);
        self.plain -= got;
        Ok(got)
    }

    /// Reads ciphertext from TCP into `rbuf` (when all of it was fed); bytes read, 0 at EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        let mut buf = std::mem::take(&mut self.rbuf);
        buf.clear();
        self.rpos = 0;
        if buf.capacity() < TLS_READ_BUF {
            // Also restores a buffer lost to a cancelled read (a timeout drops the op with it).
            buf.reserve(TLS_READ_BUF);
        }
        let (res, buf) = self.tcp.read(buf).await;
        self.rbuf = buf;
        res
    }

    /// Gives `rbuf[rpos..]` to rustls until it yields plaintext or takes it all.
    fn feed(&mut self) -> io::Result<()> {
        self.feed_tls().map_err(|e| match e {
            HandshakeError::Io(e) => e,
            HandshakeError::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        })
    }

    /// `feed`, keeping rustls' own error apart (a failed handshake is counted as `tls`).
    fn feed_tls(&mut self) -> Result<(), HandshakeError> {
        while self.rpos < self.rbuf.len() {
            let mut rest = &self.rbuf[self.rpos..];
            let n = self.tls.read_tls(&mut rest).map_err(HandshakeError::Io)?;
            self.rpos += n;
            let state = self
                .tls
                .process_new_packets()
                .map_err(HandshakeError::Tls)?;
            self.plain = state.plaintext_bytes_to_read();
            self.peer_closed = state.peer_has_closed();
            if self.plain > 0 || self.peer_closed || n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Writes whatever rustls has to send (handshake messages, records, alerts).
    async fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            let mut out = std::mem::take(&mut self.wbuf);
            out.clear();
            while self.tls.wants_write() {
                self.tls.write_tls(&mut out)?;
            }
            let (res, out) = self.tcp.write_all(out).await;
            self.wbuf = out;
            res?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_way_to_verify() {
        let mut o = TlsOpts {
            enabled: true,
            ..TlsOpts::default()
        };
        assert!(TlsClient::new(&o, "127.0.0.1").is_err());
        o.insecure = true;
        assert!(TlsClient::new(&o, "127.0.0.1").is_ok());
        o.ca = Some("/nonexistent/ca.pem".to_string());
        assert!(TlsClient::new(&o, "127.0.0.1").is_err());
        o.insecure = false;
        let e = TlsClient::new(&o, "127.0.0.1").unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn server_name_from_host_or_sni() {
        let o = TlsOpts {
            enabled: true,
            insecure: true,
            ..TlsOpts::default()
        };
        let c = TlsClient::new(&o, "[::1]").unwrap();
        assert!(matches!(c.name(), ServerName::IpAddress(_)));
        let o = TlsOpts {
            sni: Some("bench.test".to_string()),
            ..o
        };
        let c = TlsClient::new(&o, "127.0.0.1").unwrap();
        assert!(matches!(c.name(), ServerName::DnsName(_)));
        let o = TlsOpts {
            sni: Some("bad name!".to_string()),
            ..o
        };
        assert!(TlsClient::new(&o, "127.0.0.1").is_err());
    }
}
