//! The chunked decoder alone, and the property the proxy relies on: however the input is split
//! across reads (whole, one byte at a time, pseudo-random pieces), the decoder consumes the same
//! bytes, yields the same payload, ends at the same place and fails with the same reason.
//! Within each call: `consumed` never exceeds the input, a call that is not done consumes all
//! of it, payload ranges lie inside the input, in order, without overlap; after the end no
//! more bytes are taken; after a failure every call fails the same way. A small trailer limit
//! changes the result only into "trailers too large". The canonical form the proxy forwards
//! (`feed_canonical`) is the same however the input is split (but for the case of hex digits
//! written anew), never longer than the input, carries the same payload, and is canonical
//! already (a fixed point).

use ringlb::http::chunked::{write_pieces, ChunkedDecoder};
use std::ops::Range;

/// Trailers limit of the default decoder (tune.bufsize) and a small one.
const DEFAULT_TRAILER_LIMIT: usize = 16384;
const SMALL_TRAILER_LIMIT: usize = 8;
const TRAILERS_TOO_LARGE: &str = "chunked trailers too large";
/// Pseudo-random splittings tried per input, on top of whole and byte by byte.
const RANDOM_SPLITS: u64 = 3;

/// (consumed, done, payload) or the failure reason.
pub type Outcome = Result<(usize, bool, Vec<u8>), &'static str>;

pub fn run(data: &[u8]) {
    check(data);
}

/// All the properties above, for one input.
pub fn check(data: &[u8]) {
    let whole = decode(data, &[data.len()], DEFAULT_TRAILER_LIMIT);
    if let Ok((consumed, _, payload)) = &whole {
        assert!(*consumed <= data.len());
        assert!(
            payload.len() <= *consumed,
            "more payload than bytes consumed"
        );
    }
    let bytewise = decode(data, &vec![1; data.len()], DEFAULT_TRAILER_LIMIT);
    assert_eq!(bytewise, whole, "one byte at a time differs from whole");
    for seed in 0..RANDOM_SPLITS {
        let pieces = random_pieces(data, seed);
        let split = decode(data, &pieces, DEFAULT_TRAILER_LIMIT);
        assert_eq!(split, whole, "split {pieces:?} differs from whole");
    }
    if let Ok((consumed, true, payload)) = &whole {
        check_canonical(&data[..*consumed], payload);
    }
    let small = decode(data, &[data.len()], SMALL_TRAILER_LIMIT);
    if small != whole {
        assert_eq!(
            small,
            Err(TRAILERS_TOO_LARGE),
            "a small trailer limit changed more than that"
        );
    }
}

/// Feeds `data` cut into pieces of the given lengths (the last one takes the rest).
pub fn decode(data: &[u8], lengths: &[usize], max_trailer: usize) -> Outcome {
    let mut dec = ChunkedDecoder::new_with_limit(max_trailer);
    let mut ranges = Vec::new();
    let (mut at, mut payload) = (0, Vec::new());
    let mut consumed = 0;
    for (k, &len) in lengths.iter().enumerate() {
        let end = if k + 1 == lengths.len() {
            data.len()
        } else {
            (at + len).min(data.len())
        };
        let piece = &data[at..end];
        at = end;
        let progress = match dec.feed(piece, &mut ranges) {
            Ok(p) => p,
            Err(e) => return failed(&mut dec, e.status, e.reason),
        };
        assert!(progress.consumed <= piece.len(), "consumed more than given");
        assert_eq!(progress.done, dec.is_done());
        assert!(
            progress.done || progress.consumed == piece.len(),
            "stopped early, not done"
        );
        assert_payload_ranges(&ranges, progress.consumed);
        for r in &ranges {
            payload.extend_from_slice(&piece[r.clone()]);
        }
        consumed += progress.consumed;
        if progress.done {
            let more = dec.feed(b"0\r\n\r\n", &mut ranges).map(|p| p.consumed);
            assert_eq!(more, Ok(0), "took bytes after the end of the message");
            return Ok((consumed, true, payload));
        }
    }
    Ok((consumed, false, payload))
}

/// The canonical form of a complete message, fed whole, byte by byte and in random pieces.
fn check_canonical(msg: &[u8], payload: &[u8]) {
    let whole = canonical(msg, &[msg.len()]);
    assert!(
        whole.len() <= msg.len(),
        "canonical form longer than the input"
    );
    assert_eq!(
        canonical(&whole, &[whole.len()]),
        whole,
        "not a fixed point"
    );
    let again = decode(&whole, &[whole.len()], DEFAULT_TRAILER_LIMIT);
    assert_eq!(
        again,
        Ok((whole.len(), true, payload.to_vec())),
        "payload changed"
    );
    let splits = [vec![1; msg.len()], random_pieces(msg, 0)];
    for pieces in splits {
        let split = canonical(msg, &pieces);
        assert_eq!(
            split.to_ascii_lowercase(),
            whole.to_ascii_lowercase(),
            "split {pieces:?} gives another canonical form"
        );
    }
}

/// The canonical bytes of a complete message fed in pieces of the given lengths.
fn canonical(msg: &[u8], lengths: &[usize]) -> Vec<u8> {
    let mut dec = ChunkedDecoder::new();
    let (mut found, mut out, mut at) = (Vec::new(), Vec::new(), 0);
    for &len in lengths {
        let piece = &msg[at..(at + len).min(msg.len())];
        at += piece.len();
        let p = dec
            .feed_canonical(piece, &mut found)
            .expect("a valid message fails when re-decoded");
        write_pieces(&found, &piece[..p.consumed], &mut out);
    }
    out
}

/// A failed decoder stays failed, with the same reason; refusals are 400s.
fn failed(dec: &mut ChunkedDecoder, status: u16, reason: &'static str) -> Outcome {
    assert_eq!(status, 400, "chunked refusal that is not a 400 ({reason})");
    let again = dec
        .feed(b"0\r\n\r\n", &mut Vec::new())
        .map_err(|e| e.reason);
    assert_eq!(again, Err(reason), "a failed decoder recovered");
    Err(reason)
}

fn assert_payload_ranges(ranges: &[Range<usize>], consumed: usize) {
    let mut end = 0;
    for r in ranges {
        assert!(
            end <= r.start && r.start < r.end && r.end <= consumed,
            "payload range {r:?}"
        );
        end = r.end;
    }
}

/// Piece lengths from a small xorshift seeded with the input and `seed`: deterministic, so a
/// finding replays.
fn random_pieces(data: &[u8], seed: u64) -> Vec<usize> {
    let mut x = data.iter().fold(0x9e37_79b9_7f4a_7c15 ^ seed, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) | 1;
    let mut left = data.len();
    let mut pieces = Vec::new();
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 1 + (x % 16) as usize;
        pieces.push(len.min(left));
        left -= len.min(left);
    }
    pieces.push(0);
    pieces
}
