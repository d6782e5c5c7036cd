//! The start of a TLS connection, without I/O: bytes from the client go in until its
//! ClientHello is complete; then the config the hello calls for (its crt-list entry's own, or
//! the bind's) starts the `ServerConnection`. The client stream type drives this with whatever
//! it read from the socket; on `Refused` it writes the alert bytes and closes.

use super::server_config::BindConfig;
use rustls::server::Acceptor;
use rustls::ServerConnection;

/// What a step of accepting came to.
pub enum Progress {
    /// The ClientHello is not complete yet: read more and feed again.
    NeedMore,
    /// The connection, with the ClientHello processed; its first flight is ready to write.
    Ready(Box<ServerConnection>),
}

/// A handshake refused before it started (not TLS at all, a malformed or unacceptable hello).
#[derive(Debug)]
pub struct Refused {
    pub error: rustls::Error,
    /// A TLS alert for the client, possibly empty: write it, then close.
    pub alert: Vec<u8>,
}

/// One client connection before its ClientHello is complete.
pub struct Accepting<'a> {
    acceptor: Acceptor,
    configs: &'a BindConfig,
}

impl<'a> Accepting<'a> {
    pub fn new(configs: &'a BindConfig) -> Self {
        Accepting {
            acceptor: Acceptor::default(),
            configs,
        }
    }

    /// Feeds client bytes; consumes what it reads from `bytes` (what is left after `Ready`
    /// belongs to the connection: pass it to its `read_tls`).
    pub fn feed(&mut self, bytes: &mut &[u8]) -> Result<Progress, Refused> {
        while !bytes.is_empty() {
            if let Err(e) = self.acceptor.read_tls(bytes) {
                let error = rustls::Error::General(format!("reading the ClientHello: {e}"));
                return Err(Refused {
                    error,
                    alert: Vec::new(),
                });
            }
            if let Some(conn) = self.try_accept()? {
                return Ok(Progress::Ready(Box::new(conn)));
            }
        }
        Ok(Progress::NeedMore)
    }

    fn try_accept(&mut self) -> Result<Option<ServerConnection>, Refused> {
        let accepted = match self.acceptor.accept() {
            Ok(Some(a)) => a,
            Ok(None) => return Ok(None),
            Err((error, alert)) => return Err(refused(error, alert)),
        };
        let config = self.configs.for_hello(&accepted.client_hello());
        accepted
            .into_connection(config)
            .map(Some)
            .map_err(|(error, alert)| refused(error, alert))
    }
}

fn refused(error: rustls::Error, mut alert: rustls::server::AcceptedAlert) -> Refused {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail; an alert lost here only makes the close less polite.
    let _ = alert.write_all(&mut bytes);
    Refused {
        error,
        alert: bytes,
    }
}
