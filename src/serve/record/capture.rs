//! `capture request header`, `capture response header` and `http-request capture`: the values
//! a request keeps for its log line (`%hr`, `%hs`), cut at their `len` and with the bytes
//! HAProxy encodes in captures written `#XX` (controls, `"`, `#`, `{`, `|`, `}`, non-ASCII).

use std::fmt::Write;

use crate::config::model_log::{CaptureOf, Captures};
use crate::http::parse::Header;

/// One request's captured values, in the order of the frontend's captures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureValues {
    pub request: Vec<Option<String>>,
    pub response: Vec<Option<String>>,
}

impl CaptureValues {
    /// Empty slots for `c`.
    pub fn new(c: &Captures) -> Self {
        CaptureValues {
            request: vec![None; c.request.len()],
            response: vec![None; c.response.len()],
        }
    }

    pub fn side(&self, request: bool) -> &[Option<String>] {
        if request {
            &self.request
        } else {
            &self.response
        }
    }

    /// Fills the header slots of one side from a parsed head (`buf` holds its bytes).
    pub fn headers(&mut self, c: &Captures, request: bool, buf: &[u8], headers: &[Header]) {
        let (specs, slots) = if request {
            (&c.request, &mut self.request)
        } else {
            (&c.response, &mut self.response)
        };
        for (spec, slot) in specs.iter().zip(slots.iter_mut()) {
            if let CaptureOf::Header(name) = &spec.what {
                if let Some(v) = crate::http::header_value(buf, headers, name) {
                    *slot = Some(encode(v, spec.len));
                }
            }
        }
    }

    /// `http-request capture`: stores `value` in request slot `slot`.
    pub fn sample(&mut self, c: &Captures, slot: usize, value: &[u8]) {
        if let (Some(spec), Some(s)) = (c.request.get(slot), self.request.get_mut(slot)) {
            *s = Some(encode(value, spec.len));
        }
    }
}

/// The first `len` bytes of `v`, HAProxy's encoded bytes as `#XX`.
pub fn encode(v: &[u8], len: usize) -> String {
    let v = v.get(..len).unwrap_or(v);
    let mut out = String::with_capacity(v.len());
    for &b in v {
        if !(0x20..0x7f).contains(&b) || matches!(b, b'"' | b'#' | b'{' | b'|' | b'}') {
            let _ = write!(out, "#{b:02X}");
        } else {
            out.push(char::from(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encoded_as_haproxy() {
        assert_eq!(super::encode(b"a\"b|c{d}", 5), "a#22b#7Cc");
        assert_eq!(super::encode(b"curl/7.88", 5), "curl/");
    }
}
