//! A TLS ClientHello read from the bytes a client sent first, without terminating TLS (SNI
//! routing in mode tcp): bounded by the record it sits in, never reading outside the slice,
//! never panicking. Only the first record is read, as HAProxy 2.6's `req.ssl_*` fetches do.

/// What the bytes held so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum Read<T> {
    Found(T),
    /// Not TLS, not a ClientHello, or malformed: no value, and more bytes will not change it.
    No,
    /// Cut short: more bytes may give a value.
    More,
}

const HANDSHAKE: u8 = 0x16;
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
/// HAProxy's bound on a record's length (2^14 plus room for compression and padding).
const MAX_RECORD: usize = (1 << 14) + 2048;

/// `req.ssl_hello_type`: the first handshake message's type.
pub fn hello_type(buf: &[u8]) -> Read<u8> {
    if buf.len() < 6 {
        return Read::More;
    }
    if buf[0] != HANDSHAKE || buf[1] != 3 {
        return Read::No;
    }
    Read::Found(buf[5])
}

/// `req.ssl_ver`: the ClientHello's version (not the record's), major * 65536 + minor.
pub fn version(buf: &[u8]) -> Read<i64> {
    if buf.len() < 11 {
        return Read::More;
    }
    let rec_len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    if buf[0] != HANDSHAKE || buf[1] < 3 || !(6..=MAX_RECORD).contains(&rec_len) {
        return Read::No;
    }
    Read::Found(i64::from(buf[9]) << 16 | i64::from(buf[10]))
}

/// The extensions of the ClientHello in the first record, once that record is complete.
fn extensions(buf: &[u8]) -> Read<&[u8]> {
    if buf.len() < 5 {
        return Read::More;
    }
    let rec_len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    if buf[0] != HANDSHAKE || buf[1] != 3 || rec_len > MAX_RECORD {
        return Read::No;
    }
    let Some(rec) = buf.get(5..5 + rec_len) else {
        return Read::More;
    };
    match hello_extensions(rec) {
        Some(e) => Read::Found(e),
        None => Read::No,
    }
}

/// Walks a ClientHello message to its extensions block; `None` when it is not one, or its
/// lengths do not fit.
fn hello_extensions(rec: &[u8]) -> Option<&[u8]> {
    let mut r = Cursor(rec);
    if r.u8()? != CLIENT_HELLO {
        return None;
    }
    let len = r.u24()?;
    // A ClientHello split over records: HAProxy does not reassemble them either.
    let mut m = Cursor(r.take(len)?);
    m.take(2 + 32)?; // version, random
    let sid = usize::from(m.u8()?);
    m.take(sid)?;
    let suites = usize::from(m.u16()?);
    m.take(suites)?;
    let comp = usize::from(m.u8()?);
    m.take(comp)?;
    if m.0.is_empty() {
        return Some(&[]);
    }
    let ext = usize::from(m.u16()?);
    m.take(ext)
}

/// The extension of type `t`, if present.
fn find_ext(mut exts: &[u8], t: u16) -> Option<&[u8]> {
    while !exts.is_empty() {
        let mut c = Cursor(exts);
        let ty = c.u16()?;
        let len = usize::from(c.u16()?);
        let body = c.take(len)?;
        if ty == t {
            return Some(body);
        }
        exts = c.0;
    }
    None
}

/// `req.ssl_sni`: the first host name of the server_name extension.
pub fn sni(buf: &[u8]) -> Read<&[u8]> {
    let exts = match extensions(buf) {
        Read::Found(e) => e,
        Read::No => return Read::No,
        Read::More => return Read::More,
    };
    let Some(body) = find_ext(exts, EXT_SERVER_NAME) else {
        return Read::No;
    };
    let mut c = Cursor(body);
    let Some(list) = c.u16().and_then(|l| c.take(usize::from(l))) else {
        return Read::No;
    };
    let mut l = Cursor(list);
    while let (Some(kind), Some(len)) = (l.u8(), l.u16()) {
        let Some(name) = l.take(usize::from(len)) else {
            return Read::No;
        };
        if kind == 0 && !name.is_empty() {
            return Read::Found(name);
        }
    }
    Read::No
}

/// `req.ssl_ec_ext`: the ClientHello offers the supported-groups extension.
pub fn has_ec_ext(buf: &[u8]) -> Read<bool> {
    match extensions(buf) {
        Read::Found(e) => Read::Found(find_ext(e, EXT_SUPPORTED_GROUPS).is_some()),
        Read::No => Read::No,
        Read::More => Read::More,
    }
}

/// Bounds-checked big-endian reads off the front of a slice.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        self.take(3)
            .map(|b| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
}

#[cfg(test)]
mod tests;
