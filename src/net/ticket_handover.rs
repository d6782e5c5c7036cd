//! TLS ticket keys handed to the new process at a `-x` reload, after the listening sockets
//! (net/handover.rs), so that a client's session ticket from before the reload still resumes.
//! Only random keys travel: with `tls-ticket-keys FILE` both processes read the file.
//!
//! After the last batch of descriptors the old process writes one trailer on the same
//! connection: `MAGIC`, a u32 count of binds, then per bind its address as text (u16 length,
//! bytes) and its keys (u8 count, `SECRET_LEN` bytes each, the sealing one first), integers
//! native-endian like the rest of the exchange. An old process that predates the trailer
//! closes the connection instead: the new one reads end-of-file and uses fresh keys, as it
//! does on anything it cannot read. The keys cross the stats socket that already hands over
//! the listeners (`expose-fd listeners`), and only one of level admin: whoever holds them
//! can open every ticket (so the session secrets inside). Nothing is written to disk,
//! nothing is logged.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::tls::tickets::{KeySecret, Tickets, SECRET_LEN};

const MAGIC: &[u8; 8] = b"RLTKEYS1";
/// Bounds on what is read: beyond them the peer is not a ringlb speaking this trailer.
const MAX_BINDS: u32 = 4096;
const MAX_ADDR_LEN: usize = 128;
const MAX_KEYS: u8 = 8;

/// Every TLS bind's ticket producer in this process, by address (registered at start-up).
static BINDS: Mutex<Vec<(SocketAddr, Arc<Tickets>)>> = Mutex::new(Vec::new());

/// Records a bind's tickets for a later `_getsocks` (those from a key file have no secrets
/// and are skipped when sending).
pub fn export(addr: SocketAddr, tickets: &Arc<Tickets>) {
    if let Ok(mut all) = BINDS.lock() {
        all.push((addr, Arc::clone(tickets)));
    }
}

/// Keys received from the old process, per bind address.
pub type Inherited = Vec<(SocketAddr, Vec<KeySecret>)>;

/// The trailer, as bytes (zeroed when dropped: it holds the keys).
fn encode() -> zeroize::Zeroizing<Vec<u8>> {
    let binds: Vec<(SocketAddr, Arc<Tickets>)> = BINDS
        .lock()
        .map(|b| {
            b.iter()
                .filter(|(_, t)| !t.secrets().is_empty())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut out = zeroize::Zeroizing::new(Vec::new());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(binds.len()).unwrap_or(0).to_ne_bytes());
    for (addr, t) in &binds {
        let a = addr.to_string();
        out.extend_from_slice(&u16::try_from(a.len()).unwrap_or(0).to_ne_bytes());
        out.extend_from_slice(a.as_bytes());
        let keys = &t.secrets()[..t.secrets().len().min(usize::from(MAX_KEYS))];
        out.push(u8::try_from(keys.len()).unwrap_or(0));
        for k in keys {
            out.extend_from_slice(k.bytes());
        }
    }
    out
}

/// The old process's side, after the descriptors. A failure here (a new process that does
/// not read the trailer and closed) changes nothing: the sockets went across already.
pub fn send(mut conn: impl Write) {
    let _ = conn.write_all(&encode());
}

/// The new process's side: the keys, or none for anything but a whole, well-formed trailer.
pub fn receive(conn: impl Read) -> Inherited {
    read_trailer(conn).unwrap_or_default()
}

fn read_trailer(mut r: impl Read) -> io::Result<Inherited> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(io::Error::other("not a ticket-key trailer"));
    }
    let binds = u32::from_ne_bytes(array(&mut r)?);
    if binds > MAX_BINDS {
        return Err(io::Error::other("too many binds"));
    }
    let mut out = Vec::new();
    for _ in 0..binds {
        let len = usize::from(u16::from_ne_bytes(array(&mut r)?));
        if len > MAX_ADDR_LEN {
            return Err(io::Error::other("address too long"));
        }
        let mut a = vec![0u8; len];
        r.read_exact(&mut a)?;
        let addr: Option<SocketAddr> = std::str::from_utf8(&a).ok().and_then(|s| s.parse().ok());
        let [n] = array::<1>(&mut r)?;
        if n > MAX_KEYS {
            return Err(io::Error::other("too many keys"));
        }
        let mut keys = Vec::new();
        for _ in 0..n {
            let mut k = zeroize::Zeroizing::new([0u8; SECRET_LEN]);
            r.read_exact(&mut k[..])?;
            keys.extend(KeySecret::from_bytes(&k[..]));
        }
        if let Some(addr) = addr {
            out.push((addr, keys));
        }
    }
    Ok(out)
}

fn array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keys_round_trip_and_old_tickets_open_in_the_new_set() {
        let old = Arc::new(Tickets::random(Duration::from_secs(300)).unwrap());
        let addr: SocketAddr = "127.0.0.1:4433".parse().unwrap();
        export(addr, &old);
        let got = receive(&encode()[..]);
        let (_, keys) = got.iter().find(|(a, _)| *a == addr).unwrap();
        let ticket = old.encrypt_at(b"session", 1000).unwrap();
        let new = Tickets::inherit(Duration::from_secs(300), keys).unwrap();
        assert_eq!(
            new.decrypt_at(&ticket, 1001).as_deref(),
            Some(&b"session"[..])
        );
        // The new process seals with a key of its own.
        let fresh = new.encrypt_at(b"x", 1000).unwrap();
        assert!(old.decrypt_at(&fresh, 1001).is_none());
        assert!(format!("{keys:?}").contains("KeySecret(..)"));
    }

    #[test]
    fn an_old_process_without_the_trailer_means_fresh_keys() {
        assert!(receive(&b""[..]).is_empty());
        assert!(receive(&b"garbage!garbage"[..]).is_empty());
        let mut cut = encode().to_vec();
        cut.truncate(10);
        assert!(receive(&cut[..]).is_empty());
    }
}
