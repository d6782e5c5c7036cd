//! The HTTP/1 responses the pipeline sends (heads, answers, error pages) read back into what
//! HTTP/2 sends: a status and fields (connection-specific ones dropped, RFC 9113 8.2.2), how
//! the body is framed, and chunked trailers as a field map.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Fields that mean something only to one HTTP/1 connection.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// How the body after a head is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// One response head read from HTTP/1 bytes.
pub struct Head {
    pub status: StatusCode,
    pub fields: HeaderMap,
    pub framing: Framing,
    /// Bytes of the head, final empty line included.
    pub len: usize,
}

/// Heads larger than this many fields are refused (ringlb wrote them: never in practice).
const MAX_FIELDS: usize = 256;

/// Parses a complete response head at the start of `bytes`: `Ok(None)` when incomplete.
/// `head_request`: the request was HEAD (no body follows whatever the head says).
pub fn parse_head(bytes: &[u8], head_request: bool) -> Result<Option<Head>, ()> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut r = httparse::Response::new(&mut slots);
    let len = match r.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = r
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(())?;
    let mut fields = HeaderMap::with_capacity(r.headers.len());
    let mut framing = Framing::UntilClose;
    for h in r.headers.iter() {
        let is = |n: &str| h.name.eq_ignore_ascii_case(n);
        if is("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked") {
            framing = Framing::Chunked;
        }
        if is("content-length") && framing != Framing::Chunked {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            framing = Framing::Length(n.ok_or(())?);
        }
        if HOP_BY_HOP.iter().any(|n| is(n)) {
            continue;
        }
        // A field h2 cannot carry (never written by ringlb or accepted from a server) is left
        // out. `from_bytes` lowercases the name.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            fields.append(n, v);
        }
    }
    let bodiless = head_request || status.is_informational() || status == 204 || status == 304;
    if bodiless {
        framing = Framing::None;
    }
    Ok(Some(Head {
        status,
        fields,
        framing,
        len,
    }))
}

/// The trailer fields of a chunked body, from the bytes between its last chunk's size line
/// and the final empty line (`name: value\r\n` lines); fields h2 cannot carry are left out.
pub fn parse_trailers(lines: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].to_ascii_lowercase();
        let value = line[colon + 1..].trim_ascii();
        if HOP_BY_HOP.contains(&std::str::from_utf8(&name).unwrap_or("")) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_bytes(value),
        ) {
            map.append(n, v);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_go_and_framing_is_read() {
        let bytes = b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
        let h = parse_head(bytes, false)
            .ok()
            .flatten()
            .map(|h| (h.status, h.framing, h.len, h.fields));
        let Some((status, framing, len, fields)) = h else {
            panic!("no head");
        };
        assert_eq!(
            (status.as_u16(), framing, len),
            (200, Framing::Length(5), bytes.len() - 5)
        );
        assert!(fields.get("connection").is_none());
        assert_eq!(fields.get("x-a").map(|v| v.as_bytes()), Some(&b"b"[..]));
        assert_eq!(
            fields.get("content-length").map(|v| v.as_bytes()),
            Some(&b"5"[..])
        );
    }

    #[test]
    fn chunked_head_and_bodiless_statuses() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let h = parse_head(chunked, false)
            .ok()
            .flatten()
            .map(|h| (h.framing, h.fields.len()));
        assert_eq!(h, Some((Framing::Chunked, 0)));
        let h = parse_head(chunked, true).ok().flatten().map(|h| h.framing);
        assert_eq!(h, Some(Framing::None), "HEAD");
        let h = parse_head(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
            false,
        );
        assert_eq!(h.ok().flatten().map(|h| h.framing), Some(Framing::None));
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\n", false),
            Ok(None)
        ));
    }

    #[test]
    fn trailers() {
        let t = parse_trailers(b"Grpc-Status: 0\r\nx-t:  v \r\nConnection: x\r\n");
        assert_eq!(t.get("grpc-status").map(|v| v.as_bytes()), Some(&b"0"[..]));
        assert_eq!(t.get("x-t").map(|v| v.as_bytes()), Some(&b"v"[..]));
        assert_eq!(t.len(), 2);
    }
}
