//! Incremental, validating decoder for the chunked transfer coding (RFC 9112 7.1).
//!
//! This decoder tells the proxy how many bytes belong to the message (so that pipelined bytes
//! after it stay put), where the payload data is (to de-chunk for HTTP/1.0 clients), and the
//! message in canonical form (`feed_canonical`), which is what the proxy forwards. It is strict
//! where lenient parsers disagree, because such disagreements are what request smuggling
//! exploits: bare LF, empty sizes, sizes past u64 and malformed extensions are refused (HAProxy
//! 2.6 accepts bare LF here; we do not).
//!
//! The canonical form is what the next hop can only read one way: each size line as
//! `{size:x}\r\n`, without the leading zeros (RFC 9112 allows any number: a parser that caps the
//! digits would frame the body differently), white space or extensions it may have had; data,
//! the CRLF after it and the trailers as received (validated); chunk boundaries kept. A size
//! line that already has that form stays as it came (hex digits in either case), so a
//! canonical body comes out as one range of its input, forwarded without a copy.
//!
//! Input may arrive split anywhere, down to one byte at a time, with identical results (the
//! canonical form too, but for the case of the hex digits of a size line cut between two
//! feeds, which is written anew). Every loop iteration consumes at least one byte or ends the
//! call.

use super::framing::is_tchar;
use super::parse::{bad_request, HttpError, DEFAULT_MAX_HEAD};
use std::ops::Range;

/// Bound on one size line, extensions and CRLF included. It also bounds leading zeros, which
/// RFC 9112 allows in any number (`chunk-size = 1*HEXDIG`): only the value must fit in a u64.
const MAX_SIZE_LINE: usize = 4096;

/// One part of the canonical form of the bytes a `feed_canonical` call consumed, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Input bytes that go on as they are: payload data, size lines already canonical, the
    /// CRLF after data, trailer lines and the final CRLF.
    Input(Range<usize>),
    /// A size line written anew: `{size:x}\r\n`.
    Size(u64),
    /// The CRLF after a chunk's data, when its CR came in an earlier feed.
    Crlf,
}

/// The length of the input prefix that is the whole canonical form of `pieces`, when it is
/// one (the bytes can go on without a copy): `Some(0)` when there is nothing to send.
pub fn verbatim_len(pieces: &[Piece]) -> Option<usize> {
    match pieces {
        [] => Some(0),
        [Piece::Input(r)] if r.start == 0 => Some(r.end),
        _ => None,
    }
}

/// Appends the canonical bytes of `pieces` (found in `input`) to `out`.
pub fn write_pieces(pieces: &[Piece], input: &[u8], out: &mut Vec<u8>) {
    use std::io::Write;
    for piece in pieces {
        match piece {
            Piece::Input(r) => out.extend_from_slice(input.get(r.clone()).unwrap_or(&[])),
            // Writing into a Vec cannot fail.
            Piece::Size(n) => {
                let _ = write!(out, "{n:x}\r\n");
            }
            Piece::Crlf => out.extend_from_slice(b"\r\n"),
        }
    }
}

/// Where a feed reports what it found, in input order: the payload data only
/// (`Vec<Range<usize>>`), or the canonical form (`Vec<Piece>`).
trait Report {
    fn data(&mut self, r: Range<usize>);
    fn framing(&mut self, p: Piece);
}

impl Report for Vec<Range<usize>> {
    fn data(&mut self, r: Range<usize>) {
        self.push(r);
    }

    fn framing(&mut self, _: Piece) {}
}

impl Report for Vec<Piece> {
    fn data(&mut self, r: Range<usize>) {
        self.framing(Piece::Input(r));
    }

    /// Input ranges that touch are merged: a canonical feed is one range.
    fn framing(&mut self, p: Piece) {
        if let (Some(Piece::Input(last)), Piece::Input(r)) = (self.last_mut(), &p) {
            if last.end == r.start {
                last.end = r.end;
                return;
            }
        }
        self.push(p);
    }
}

/// Where, in the current feed's input, the framing element being read began; `None` when it
/// began in an earlier feed (it is then written anew).
#[derive(Default)]
struct Marks {
    size_line: Option<usize>,
    data_cr: Option<usize>,
}

/// What one `feed` call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// How many input bytes belong to this message (forward exactly these).
    pub consumed: usize,
    /// The last chunk, the trailers and the final CRLF were consumed.
    pub done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size.
    Size,
    /// White space between the size and ';' or CR.
    SizeWs,
    /// Chunk extensions, outside a quoted string.
    Ext,
    ExtQuoted,
    /// After a backslash inside a quoted string.
    ExtEscape,
    /// CR of the size line seen.
    SizeLf,
    /// `left` payload bytes to go.
    Data,
    DataCr,
    DataLf,
    /// Start of a trailer line, or of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// The chunk size being read, then the payload bytes left in the chunk.
    left: u64,
    /// A hex digit of the current size line was seen.
    has_digit: bool,
    /// The size line so far has no leading zero, white space or extension.
    size_canonical: bool,
    line_len: usize,
    trailer_len: usize,
    max_trailer: usize,
    /// Once failed, always failed: the message cannot be resynchronised.
    failed: Option<&'static str>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder whose trailers may take up to the default head size (16384 bytes).
    pub fn new() -> Self {
        Self::new_with_limit(DEFAULT_MAX_HEAD)
    }

    /// `max_trailer`: bytes allowed for the trailer section, final CRLF included.
    pub fn new_with_limit(max_trailer: usize) -> Self {
        ChunkedDecoder {
            state: State::Size,
            left: 0,
            has_digit: false,
            size_canonical: true,
            line_len: 0,
            trailer_len: 0,
            max_trailer,
            failed: None,
        }
    }

    /// The whole message has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the next bytes. Pushes the byte ranges (within `input`) that are chunk payload data
    /// into `data` (cleared first). Errors carry status 400; map them to 502 for responses.
    pub fn feed(
        &mut self,
        input: &[u8],
        data: &mut Vec<Range<usize>>,
    ) -> Result<Progress, HttpError> {
        data.clear();
        self.run(input, data)
    }

    /// Feeds the next bytes like `feed`, and puts the canonical form of the bytes consumed into
    /// `pieces` (cleared first): what to forward instead of them.
    pub fn feed_canonical(
        &mut self,
        input: &[u8],
        pieces: &mut Vec<Piece>,
    ) -> Result<Progress, HttpError> {
        pieces.clear();
        self.run(input, pieces)
    }

    fn run(&mut self, input: &[u8], out: &mut impl Report) -> Result<Progress, HttpError> {
        if let Some(reason) = self.failed {
            return Err(bad_request(reason));
        }
        let mut marks = Marks::default();
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            match self.state {
                State::Done => break,
                State::Data => {
                    // `left` > 0 in Data, so this always advances.
                    let avail = input.len() - i;
                    let take = usize::try_from(self.left).map_or(avail, |l| l.min(avail));
                    out.data(i..i + take);
                    i += take;
                    self.left -= take as u64;
                    if self.left == 0 {
                        self.state = State::DataCr;
                    }
                }
                before => {
                    if let Err(reason) = self.step(b) {
                        self.failed = Some(reason);
                        return Err(bad_request(reason));
                    }
                    self.report_framing(before, i, &mut marks, out);
                    i += 1;
                }
            }
        }
        Ok(Progress {
            consumed: i,
            done: self.is_done(),
        })
    }

    /// After framing byte `i` moved the decoder from `before`: what goes into the canonical
    /// form. Size lines and the CRLF after data are reported once complete, trailer bytes as
    /// they come (they go on as received).
    fn report_framing(&self, before: State, i: usize, marks: &mut Marks, out: &mut impl Report) {
        use State::*;
        match (before, self.state) {
            (Size, Size) if self.line_len == 1 => marks.size_line = Some(i),
            (SizeLf, Data | TrailerStart) => match marks.size_line {
                Some(start) if self.size_canonical => out.framing(Piece::Input(start..i + 1)),
                _ => out.framing(Piece::Size(self.left)),
            },
            (DataCr, DataLf) => marks.data_cr = Some(i),
            (DataLf, Size) => match marks.data_cr.take() {
                Some(cr) => out.framing(Piece::Input(cr..i + 1)),
                None => out.framing(Piece::Crlf),
            },
            (TrailerStart | TrailerName | TrailerValue | TrailerLf | FinalLf, _) => {
                out.framing(Piece::Input(i..i + 1))
            }
            _ => {}
        }
    }

    /// One byte of framing (everything but payload data).
    fn step(&mut self, b: u8) -> Result<(), &'static str> {
        use State::*;
        if matches!(
            self.state,
            Size | SizeWs | Ext | ExtQuoted | ExtEscape | SizeLf
        ) {
            self.line_len += 1;
            if self.line_len > MAX_SIZE_LINE {
                return Err("chunk size line too long");
            }
        }
        if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValue | TrailerLf | FinalLf
        ) {
            self.trailer_len += 1;
            if self.trailer_len > self.max_trailer {
                return Err("chunked trailers too large");
            }
        }
        self.state = match (self.state, b) {
            (Size, _) if b.is_ascii_hexdigit() => return self.size_digit(b),
            (Size, _) if !self.has_digit => return Err("invalid chunk size"),
            (Size | SizeWs | Ext, b'\n') => return Err("chunk size line not ended by CRLF"),
            (Size | SizeWs, b' ' | b'\t') => SizeWs,
            (Size | SizeWs, b';') => Ext,
            (Size | SizeWs | Ext, b'\r') => SizeLf,
            (Size | SizeWs, _) => return Err("invalid chunk size"),
            (Ext, b'"') => ExtQuoted,
            (Ext, b';' | b'=' | b' ' | b'\t') => Ext,
            (Ext, _) if is_tchar(b) => Ext,
            (ExtQuoted, b'"') => Ext,
            (ExtQuoted, b'\\') => ExtEscape,
            (ExtQuoted | ExtEscape, _) if is_text(b) => ExtQuoted,
            (Ext | ExtQuoted | ExtEscape, _) => return Err("invalid chunk extension"),
            (SizeLf, b'\n') if self.left == 0 => TrailerStart,
            (SizeLf, b'\n') => Data,
            (SizeLf, _) => return Err("chunk size line not ended by CRLF"),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => {
                self.has_digit = false;
                self.size_canonical = true;
                self.line_len = 0;
                Size
            }
            (DataCr | DataLf, _) => return Err("chunk data not followed by CRLF"),
            (TrailerStart, b'\r') => FinalLf,
            (TrailerStart | TrailerName, _) if is_tchar(b) => TrailerName,
            (TrailerName, b':') => TrailerValue,
            (TrailerValue, b'\r') => TrailerLf,
            (TrailerValue, _) if is_text(b) => TrailerValue,
            (TrailerLf, b'\n') => TrailerStart,
            (TrailerStart | TrailerName | TrailerValue | TrailerLf, _) => {
                return Err("invalid chunked trailer")
            }
            (FinalLf, b'\n') => Done,
            (FinalLf, _) => return Err("chunked message not ended by CRLF"),
            // Data and Done never reach step().
            (Data | Done, _) => return Err("chunked decoder misuse"),
        };
        if matches!(self.state, SizeWs | Ext) {
            self.size_canonical = false;
        }
        Ok(())
    }

    fn size_digit(&mut self, b: u8) -> Result<(), &'static str> {
        // Shifting in one more digit would push set bits out of the u64.
        const TOP_DIGIT: u64 = 0xf << 60;
        if self.left & TOP_DIGIT != 0 {
            return Err("chunk size too large");
        }
        let d = (b as char).to_digit(16).ok_or("invalid chunk size")?;
        if self.has_digit && self.left == 0 {
            // Every digit so far was a zero: a leading one.
            self.size_canonical = false;
        }
        self.left = (self.left << 4) | u64::from(d);
        self.has_digit = true;
        Ok(())
    }
}

/// HTAB, SP, VCHAR, obs-text: what may appear in a field value or a quoted string.
fn is_text(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
