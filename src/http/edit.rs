//! Head edits made by rules, kept beside the parsed head instead of rewriting it.
//!
//! A parsed head is ranges into the read buffer; `HeadEdits` says what changes: the header list
//! (untouched lines by index, new or rewritten lines owned), the method, the target, the status.
//! The head writers consult it while copying, so a request no rule touched is never copied or
//! re-parsed, and one that was edited is written once. Fetches read through `Head::headers`
//! to see the edited state, so a rule sees what the rules before it did.

use super::parse::Header;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// The original header at this index.
    Orig(usize),
    New(Vec<u8>, Vec<u8>),
}

#[derive(Clone, Debug, Default)]
pub struct HeadEdits {
    /// `lines` replaces the original header list (set on the first header edit).
    active: bool,
    lines: Vec<Line>,
    pub method: Option<Vec<u8>>,
    pub target: Option<Vec<u8>>,
    pub status: Option<u16>,
    pub reason: Option<Vec<u8>>,
}

/// A parsed head: the buffer and its header ranges.
#[derive(Clone, Copy)]
pub struct Head<'a> {
    pub buf: &'a [u8],
    pub headers: &'a [Header],
}

impl<'a> Head<'a> {
    fn orig(&self, i: usize) -> (&'a [u8], &'a [u8]) {
        match self.headers.get(i) {
            Some(h) => (
                self.buf.get(h.name.clone()).unwrap_or_default(),
                self.buf.get(h.value.clone()).unwrap_or_default(),
            ),
            None => (b"", b""),
        }
    }
}

/// The header lines of a head, through its edits when there are any; allocation-free.
#[derive(Clone)]
pub struct HeaderLines<'a> {
    head: Head<'a>,
    lines: Option<&'a [Line]>,
    i: usize,
}

impl<'a> HeaderLines<'a> {
    pub fn new(head: Head<'a>, edits: Option<&'a HeadEdits>) -> Self {
        HeaderLines {
            head,
            lines: edits.filter(|e| e.active).map(|e| e.lines.as_slice()),
            i: 0,
        }
    }
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.i;
        self.i += 1;
        match self.lines {
            Some(lines) => match lines.get(i)? {
                Line::Orig(o) => Some(self.head.orig(*o)),
                Line::New(n, v) => Some((n.as_slice(), v.as_slice())),
            },
            None => (i < self.head.headers.len()).then(|| self.head.orig(i)),
        }
    }
}

impl HeadEdits {
    /// Forgets every edit, keeping the line list's capacity.
    pub fn clear(&mut self) {
        self.active = false;
        self.lines.clear();
        self.method = None;
        self.target = None;
        self.status = None;
        self.reason = None;
    }

    pub fn is_empty(&self) -> bool {
        !self.active
            && self.method.is_none()
            && self.target.is_none()
            && self.status.is_none()
            && self.reason.is_none()
    }

    /// Whether the header list was edited (the writers then take it from here).
    pub fn headers_edited(&self) -> bool {
        self.active
    }

    fn activate(&mut self, head: Head) {
        if !self.active {
            self.active = true;
            self.lines.clear();
            self.lines.extend((0..head.headers.len()).map(Line::Orig));
        }
    }

    /// Every header line as (name, value), edits applied.
    pub fn headers<'s>(&'s self, head: Head<'s>) -> HeaderLines<'s> {
        HeaderLines::new(head, Some(self))
    }

    pub fn add(&mut self, head: Head, name: &[u8], value: Vec<u8>) {
        self.activate(head);
        self.lines.push(Line::New(name.to_vec(), value));
    }

    pub fn del(&mut self, head: Head, name: &[u8]) {
        self.activate(head);
        self.lines.retain(|l| {
            let n = match l {
                Line::Orig(i) => head.orig(*i).0,
                Line::New(n, _) => n.as_slice(),
            };
            !n.eq_ignore_ascii_case(name)
        });
    }

    pub fn set(&mut self, head: Head, name: &[u8], value: Vec<u8>) {
        self.del(head, name);
        self.lines.push(Line::New(name.to_vec(), value));
    }

    /// Rewrites the value of every `name` line for which `f` returns a new value.
    pub fn replace(
        &mut self,
        head: Head,
        name: &[u8],
        mut f: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    ) {
        self.activate(head);
        for l in self.lines.iter_mut() {
            let (n, v) = match l {
                Line::Orig(i) => head.orig(*i),
                Line::New(n, v) => (n.as_slice(), v.as_slice()),
            };
            if !n.eq_ignore_ascii_case(name) {
                continue;
            }
            if let Some(new) = f(v) {
                *l = Line::New(n.to_vec(), new);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(buf: &[u8]) -> Vec<Header> {
        // "a: 1\r\nb: 2\r\na: 3\r\n" laid out by hand.
        let mut out = Vec::new();
        let mut pos = 0;
        for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
            out.push(Header {
                name: pos..pos + colon,
                value: pos + colon + 2..pos + line.len() - 1,
            });
            pos += line.len() + 1;
        }
        out
    }

    fn list(e: &HeadEdits, h: Head) -> Vec<String> {
        e.headers(h)
            .map(|(n, v)| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(n),
                    String::from_utf8_lossy(v)
                )
            })
            .collect()
    }

    #[test]
    fn edits_apply_in_order() {
        let buf = b"a: 1\r\nb: 2\r\nA: 3\r\n";
        let hs = head(buf);
        let h = Head { buf, headers: &hs };
        let mut e = HeadEdits::default();
        assert_eq!(list(&e, h), ["a=1", "b=2", "A=3"]);
        e.set(h, b"a", b"x".to_vec());
        assert_eq!(list(&e, h), ["b=2", "a=x"]);
        e.add(h, b"c", b"y".to_vec());
        e.replace(h, b"B", |v| Some([v, b"!"].concat()));
        assert_eq!(list(&e, h), ["b=2!", "a=x", "c=y"]);
        e.del(h, b"A");
        assert_eq!(list(&e, h), ["b=2!", "c=y"]);
        e.clear();
        assert!(e.is_empty());
        assert_eq!(list(&e, h).len(), 3);
    }
}
