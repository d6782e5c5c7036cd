//! Message framing facts read from header fields: Content-Length, Transfer-Encoding, Connection,
//! Upgrade, Expect, Host. One pass over the headers, no allocation. The decision tables that turn
//! these facts into a `BodyKind` live in parse.rs (they differ for requests and responses).

use super::parse::Header;
use std::ops::Range;

/// What the framing-relevant headers of one message say.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// The single agreed value of all Content-Length fields.
    pub content_length: Option<u64>,
    pub te: TransferCodings,
    pub conn_close: bool,
    pub conn_keep_alive: bool,
    pub conn_upgrade: bool,
    pub has_upgrade: bool,
    pub expect_continue: bool,
    pub host: Option<Range<usize>>,
    pub host_count: usize,
}

/// The transfer codings of all Transfer-Encoding fields taken as one list, in order.
#[derive(Debug, Default)]
pub(crate) struct TransferCodings {
    pub present: bool,
    /// Number of codings seen. As in HAProxy 2.6, an empty list member counts as a coding
    /// (other than chunked), except a trailing one (`chunked,`): see `transfer_codings`.
    pub count: usize,
    pub chunked_count: usize,
    pub last_is_chunked: bool,
}

impl TransferCodings {
    /// Codings other than chunked were listed (gzip, identity, unknown ones).
    pub fn has_other_codings(&self) -> bool {
        self.count > self.chunked_count
    }
}

/// Reads every header once and gathers the facts; errors are reasons for an `HttpError`.
pub(crate) fn scan(buf: &[u8], headers: &[Header], facts: &mut Facts) -> Result<(), &'static str> {
    for h in headers {
        let name = buf.get(h.name.clone()).unwrap_or_default();
        let value = buf.get(h.value.clone()).unwrap_or_default();
        // Dispatch on length first: most headers are none of these and cost one compare.
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => {
                facts.host_count += 1;
                facts.host.get_or_insert(h.value.clone());
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                facts.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => facts.has_upgrade = true,
            10 if name.eq_ignore_ascii_case(b"connection") => connection_tokens(value, facts),
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                content_length(value, &mut facts.content_length)?
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                transfer_codings(value, &mut facts.te)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Trims optional white space (SP / HTAB) on both sides.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(a), Some(b)) => s.get(a..=b).unwrap_or_default(),
        _ => &[],
    }
}

/// The non-empty, trimmed elements of a comma-separated list value.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|s| !s.is_empty())
}

/// RFC 9110 5.6.2 tchar.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn connection_tokens(value: &[u8], facts: &mut Facts) {
    for token in list_items(value) {
        if token.eq_ignore_ascii_case(b"close") {
            facts.conn_close = true;
        } else if token.eq_ignore_ascii_case(b"keep-alive") {
            facts.conn_keep_alive = true;
        } else if token.eq_ignore_ascii_case(b"upgrade") {
            facts.conn_upgrade = true;
        }
    }
}

const CL_INVALID: &str = "invalid Content-Length";

/// Content-Length = 1*DIGIT; a comma list of identical values is collapsed (RFC 9110 8.6), and so
/// are repeated fields with identical values. Signs, hex, inner spaces, empty values: rejected.
fn content_length(value: &[u8], acc: &mut Option<u64>) -> Result<(), &'static str> {
    for item in value.split(|&b| b == b',') {
        let n = parse_decimal(trim_ows(item)).ok_or(CL_INVALID)?;
        match acc {
            Some(prev) if *prev != n => return Err("conflicting Content-Length values"),
            _ => *acc = Some(n),
        }
    }
    Ok(())
}

/// 1*DIGIT into a u64, None on anything else or on overflow.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(10)?;
        acc.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes no parameters.
///
/// RFC 9110 5.6.1 lets a recipient skip empty list members; HAProxy 2.6 does not, and neither
/// do we, since a server that skips them and one that does not would frame the body
/// differently: an empty member counts as a coding other than chunked (`, chunked` is then
/// refused like `gzip, chunked`, `chunked, , x` like `chunked, x`). Only an empty last member
/// of a field is ignored (`chunked,`, or an empty field), as HAProxy does.
fn transfer_codings(value: &[u8], te: &mut TransferCodings) -> Result<(), &'static str> {
    te.present = true;
    let mut members = value.split(|&b| b == b',').map(trim_ows).peekable();
    while let Some(item) = members.next() {
        if item.is_empty() {
            if members.peek().is_some() {
                te.count += 1;
                te.last_is_chunked = false;
            }
            continue;
        }
        let (name, params) = match item.iter().position(|&b| b == b';') {
            Some(i) => (trim_ows(item.get(..i).unwrap_or_default()), true),
            None => (item, false),
        };
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err("invalid Transfer-Encoding");
        }
        te.count += 1;
        te.last_is_chunked = name.eq_ignore_ascii_case(b"chunked");
        if te.last_is_chunked {
            if params {
                return Err("invalid Transfer-Encoding");
            }
            te.chunked_count += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_strict() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b"99999999999999999999999"), None);
        for bad in [&b""[..], b"+5", b"-5", b"0x5", b"5 5", b"5a", b" 5"] {
            assert_eq!(parse_decimal(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn content_length_lists() {
        let mut acc = None;
        assert!(content_length(b"5, 5,5", &mut acc).is_ok());
        assert_eq!(acc, Some(5));
        assert!(content_length(b"5", &mut acc).is_ok());
        assert!(content_length(b"6", &mut acc).is_err());
        for bad in [&b""[..], b"5,", b",5", b"5,,5", b"5, 6"] {
            assert!(content_length(bad, &mut None).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn transfer_coding_lists() {
        let mut te = TransferCodings::default();
        transfer_codings(b"gzip;q=1 , Chunked", &mut te).unwrap();
        assert_eq!(
            (te.count, te.chunked_count, te.last_is_chunked),
            (2, 1, true)
        );
        assert!(te.has_other_codings());
        for bad in [&b"chunked;x=1"[..], b"chun ked", b"\"chunked\"", b";x"] {
            assert!(transfer_codings(bad, &mut TransferCodings::default()).is_err());
        }
        let mut te = TransferCodings::default();
        transfer_codings(b"", &mut te).unwrap();
        assert_eq!((te.present, te.count), (true, 0));
    }

    /// (count, chunked_count, last_is_chunked) of one field value.
    fn codings(value: &[u8]) -> (usize, usize, bool) {
        let mut te = TransferCodings::default();
        transfer_codings(value, &mut te).unwrap();
        (te.count, te.chunked_count, te.last_is_chunked)
    }

    #[test]
    fn empty_transfer_coding_members_count_like_haproxy() {
        assert_eq!(codings(b"chunked,"), (1, 1, true));
        assert_eq!(codings(b"chunked , "), (1, 1, true));
        assert_eq!(codings(b", chunked"), (2, 1, true));
        assert_eq!(codings(b",,chunked"), (3, 1, true));
        assert_eq!(codings(b"chunked, , x"), (3, 1, false));
        assert_eq!(codings(b"chunked, ,"), (2, 1, false));
        assert_eq!(codings(b"chunked,,"), (2, 1, false));
        assert_eq!(codings(b","), (1, 0, false));
        assert_eq!(codings(b" "), (0, 0, false));
    }

    #[test]
    fn ows_and_lists() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b"  "), b"");
        let items: Vec<&[u8]> = list_items(b" a, ,b ,").collect();
        assert_eq!(items, vec![&b"a"[..], b"b"]);
    }
}
