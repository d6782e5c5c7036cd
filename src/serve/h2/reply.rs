//! The response side of one HTTP/2 stream: the HTTP/1 bytes the pipeline sends (heads, whole
//! answers, bodies in HTTP/1 framing) become HEADERS, DATA and trailers under the stream's
//! flow control.
//!
//! Back-pressure: DATA goes only as far as the client's window allows (`reserve_capacity`,
//! then `poll_capacity`) and h2 buffers at most its send buffer per stream, so a stream whose
//! client reads slowly waits here, in its own task, and the connection's other streams go on.
//! The wait for capacity is bounded by `timeout client`: a client that never opens its window
//! gets this stream reset (a `cD`-like record), not a stream held forever.

use std::future::poll_fn;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, SendStream};

use super::resp::{self, Framing};
use crate::http::body::BodyError;
use crate::http::ChunkedDecoder;
use crate::io::timed;

/// Room asked of h2 per stream at a time: one frame's worth at the default frame size, four
/// at most in flight.
const CHUNK: usize = 64 * 1024;

/// Where the response is.
enum State {
    /// No final head yet: `head` holds what came of it.
    Head(SendResponse<Bytes>),
    /// The final head went; its body is being sent.
    Body(SendStream<Bytes>),
    /// The stream ended (or was reset).
    Done,
}

/// The body's framing, as it is being decoded.
enum Decode {
    Length(u64),
    Chunked {
        decoder: Box<ChunkedDecoder>,
        /// The bytes since the last chunk's payload: at the end, its size line, the trailer
        /// fields and the final empty line.
        tail: Vec<u8>,
    },
    UntilClose,
}

pub struct Reply {
    state: State,
    head: Vec<u8>,
    decode: Decode,
    head_request: bool,
    limit: Option<Duration>,
    max_trailer: usize,
    /// Payload bytes sent in DATA frames.
    pub sent: u64,
}

/// What decoding some body bytes did.
pub struct Fed {
    /// Input bytes that belonged to the body.
    pub consumed: usize,
    pub done: bool,
}

impl Reply {
    pub fn new(
        respond: SendResponse<Bytes>,
        head_request: bool,
        limit: Option<Duration>,
        max_trailer: usize,
    ) -> Self {
        Reply {
            state: State::Head(respond),
            head: Vec::new(),
            decode: Decode::UntilClose,
            head_request,
            limit,
            max_trailer,
            sent: 0,
        }
    }

    /// Bytes the pipeline sends: a head (interim ones included), or a whole answer, or (after
    /// the final head) more of the body in the head's framing.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), BodyError> {
        if !matches!(self.state, State::Head(_)) {
            self.feed(bytes).await?;
            return Ok(());
        }
        self.head.extend_from_slice(bytes);
        loop {
            let parsed =
                resp::parse_head(&self.head, self.head_request).map_err(|()| BodyError::Server)?;
            let Some(h) = parsed else {
                return Ok(());
            };
            let rest = self.head.split_off(h.len);
            self.head.clear();
            if h.status.is_informational() {
                self.interim(h)?;
                self.head = rest;
                continue;
            }
            self.final_head(h)?;
            self.feed(&rest).await?;
            return Ok(());
        }
    }

    /// An interim response (100, 103): sent as its own HEADERS, except 101 (h2 has none).
    fn interim(&mut self, h: resp::Head) -> Result<(), BodyError> {
        let State::Head(respond) = &mut self.state else {
            return Ok(());
        };
        if h.status == http::StatusCode::SWITCHING_PROTOCOLS {
            return Ok(());
        }
        let mut r = http::Response::new(());
        *r.status_mut() = h.status;
        *r.headers_mut() = h.fields;
        respond.send_informational(r).map_err(|_| BodyError::Client)
    }

    fn final_head(&mut self, h: resp::Head) -> Result<(), BodyError> {
        let State::Head(mut respond) = std::mem::replace(&mut self.state, State::Done) else {
            return Ok(());
        };
        let empty = matches!(h.framing, Framing::None | Framing::Length(0));
        self.set_framing(h.framing);
        let mut r = http::Response::new(());
        *r.status_mut() = h.status;
        *r.headers_mut() = h.fields;
        let tx = respond
            .send_response(r, empty)
            .map_err(|_| BodyError::Client)?;
        if !empty {
            self.state = State::Body(tx);
        }
        Ok(())
    }

    /// The framing the pipeline says the body has (`body_from`'s kind), over the head's.
    pub fn set_framing(&mut self, f: Framing) {
        self.decode = match f {
            Framing::None => Decode::Length(0),
            Framing::Length(n) => Decode::Length(n),
            Framing::Chunked => Decode::Chunked {
                decoder: Box::new(ChunkedDecoder::new_with_limit(self.max_trailer)),
                tail: Vec::new(),
            },
            Framing::UntilClose => Decode::UntilClose,
        };
    }

    /// Decodes body bytes and sends their payload; at the body's end, ends the stream.
    pub async fn feed(&mut self, bytes: &[u8]) -> Result<Fed, BodyError> {
        let mut ranges: Vec<Range<usize>> = Vec::new();
        let (consumed, done) = match &mut self.decode {
            Decode::Length(left) => {
                let n = (*left).min(bytes.len() as u64) as usize;
                *left -= n as u64;
                ranges.push(0..n);
                (n, *left == 0)
            }
            Decode::UntilClose => {
                ranges.push(0..bytes.len());
                (bytes.len(), false)
            }
            Decode::Chunked { decoder, tail } => {
                let p = decoder
                    .feed(bytes, &mut ranges)
                    .map_err(|_| BodyError::Server)?;
                keep_tail(tail, bytes, &ranges, p.consumed, self.max_trailer);
                (p.consumed, p.done)
            }
        };
        for r in ranges {
            self.data(bytes.get(r).unwrap_or(&[])).await?;
        }
        if done {
            self.end()?;
        }
        Ok(Fed { consumed, done })
    }

    /// Sends payload as DATA, as the client's window opens.
    async fn data(&mut self, mut bytes: &[u8]) -> Result<(), BodyError> {
        let State::Body(tx) = &mut self.state else {
            return Ok(());
        };
        while !bytes.is_empty() {
            tx.reserve_capacity(bytes.len().min(CHUNK));
            let cap = match timed(self.limit, poll_fn(|cx| tx.poll_capacity(cx))).await {
                Err(_) => return Err(BodyError::ClientStalled),
                Ok(Some(Ok(n))) => n,
                Ok(_) => return Err(BodyError::Client),
            };
            let n = cap.min(bytes.len());
            if n == 0 {
                continue;
            }
            let (now, rest) = bytes.split_at(n);
            tx.send_data(Bytes::copy_from_slice(now), false)
                .map_err(|_| BodyError::Client)?;
            self.sent += n as u64;
            bytes = rest;
        }
        Ok(())
    }

    /// Ends the stream: with the trailers of a chunked body, else an empty DATA frame.
    pub fn end(&mut self) -> Result<(), BodyError> {
        let State::Body(mut tx) = std::mem::replace(&mut self.state, State::Done) else {
            return Ok(());
        };
        let trailers = match &self.decode {
            Decode::Chunked { tail, .. } => resp::parse_trailers(after_size_line(tail)),
            _ => http::HeaderMap::new(),
        };
        let r = if trailers.is_empty() {
            tx.send_data(Bytes::new(), true)
        } else {
            tx.send_trailers(trailers)
        };
        r.map_err(|_| BodyError::Client)
    }

    /// The pipeline is done with the stream: a response cut short is reset, so the client
    /// does not take it for whole.
    pub fn finish(&mut self) {
        self.reset(Reason::INTERNAL_ERROR);
    }

    /// Resets the stream unless its response ended.
    pub fn reset(&mut self, reason: Reason) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Head(mut respond) => respond.send_reset(reason),
            State::Body(mut tx) => tx.send_reset(reason),
            State::Done => {}
        }
    }
}

/// Keeps the bytes of a chunked body after its last payload range (`tail`), bounded: what ends
/// the body there is the last chunk's size line, the trailers and the final empty line.
fn keep_tail(tail: &mut Vec<u8>, bytes: &[u8], data: &[Range<usize>], consumed: usize, max: usize) {
    let from = match data.last() {
        Some(r) => {
            tail.clear();
            r.end
        }
        None => 0,
    };
    let more = bytes.get(from..consumed).unwrap_or(&[]);
    if tail.len() + more.len() <= max + 64 {
        tail.extend_from_slice(more);
    }
}

/// The trailer lines of a chunked body's end (`CRLF`? `0[;ext] CRLF` fields `CRLF`).
fn after_size_line(tail: &[u8]) -> &[u8] {
    let t = tail.strip_prefix(b"\r\n").unwrap_or(tail);
    match t.iter().position(|&b| b == b'\n') {
        Some(i) => &t[i + 1..],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_chunked_body_gives_its_trailers() {
        let body = b"5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut ranges = Vec::new();
        let mut tail = Vec::new();
        // Fed in two parts, split inside the trailers.
        let (a, b) = body.split_at(18);
        let p = d.feed(a, &mut ranges).unwrap_or_else(|e| panic!("{e:?}"));
        keep_tail(&mut tail, a, &ranges, p.consumed, 1024);
        let rest = &a[p.consumed..];
        let mut second = rest.to_vec();
        second.extend_from_slice(b);
        let p = d
            .feed(&second, &mut ranges)
            .unwrap_or_else(|e| panic!("{e:?}"));
        keep_tail(&mut tail, &second, &ranges, p.consumed, 1024);
        assert!(p.done);
        let t = resp::parse_trailers(after_size_line(&tail));
        assert_eq!(t.get("x-sum").map(|v| v.as_bytes()), Some(&b"1"[..]));
    }
}
