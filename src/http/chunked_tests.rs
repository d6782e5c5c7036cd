//! Unit tests for chunked.rs.

use super::*;

/// Outcome of decoding `pieces` in order: (consumed, done, payload) or the error reason.
type Outcome = Result<(usize, bool, Vec<u8>), &'static str>;

fn decode_pieces(pieces: &[&[u8]], max_trailer: usize) -> Outcome {
    let mut dec = ChunkedDecoder::new_with_limit(max_trailer);
    let mut ranges = Vec::new();
    let (mut consumed, mut payload) = (0, Vec::new());
    for piece in pieces {
        let p = dec.feed(piece, &mut ranges).map_err(|e| {
            assert_eq!(e.status, 400);
            e.reason
        })?;
        assert!(p.consumed <= piece.len());
        assert!(
            p.done || p.consumed == piece.len(),
            "stopped early without being done"
        );
        for r in &ranges {
            payload.extend_from_slice(&piece[r.clone()]);
        }
        consumed += p.consumed;
        if p.done {
            return Ok((consumed, true, payload));
        }
    }
    Ok((consumed, false, payload))
}

fn decode(msg: &[u8]) -> Outcome {
    decode_pieces(&[msg], 16384)
}

const VALID: &[&[u8]] = &[
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"A\r\n0123456789\r\n00\r\n\r\n",
    b"a;ext=1;flag; q=\"x;\\\"y\" \r\n0123456789\r\n0;last\r\n\r\n",
    b"3  \r\nabc\r\n0 ;x=y\r\n\r\n",
    b"1\r\nZ\r\n0\r\nX-Trailer: a b\r\nEmpty:\r\n\r\n",
    b"0000000000000003\r\nabc\r\n0\r\n\r\n",
    // RFC 9112 `1*HEXDIG`: leading zeros past 16 digits (HAProxy 2.6 accepts them too).
    b"00000000000000000000000000000000000000005\r\nhello\r\n0000000000000000000\r\n\r\n",
];

const INVALID: &[(&[u8], &str)] = &[
    (b"\r\n\r\n", "invalid chunk size"),
    (b";x\r\n\r\n", "invalid chunk size"),
    (b" 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
    (b"+5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
    (b"0x5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
    (b"5g\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
    (b"5 5\r\nhello\r\n0\r\n\r\n", "invalid chunk size"),
    (b"10000000000000000\r\n", "chunk size too large"),
    (b"000010000000000000005\r\n", "chunk size too large"),
    (
        b"5\nhello\r\n0\r\n\r\n",
        "chunk size line not ended by CRLF",
    ),
    (b"5\rhello\r\n", "chunk size line not ended by CRLF"),
    (b"5\r\nhello\n0\r\n\r\n", "chunk data not followed by CRLF"),
    (b"5\r\nhelloXX0\r\n\r\n", "chunk data not followed by CRLF"),
    (b"5\r\nhello\r0\r\n\r\n", "chunk data not followed by CRLF"),
    (b"5;a\x00b\r\nhello\r\n", "invalid chunk extension"),
    (b"5;a=\"b\r\nhello\r\n", "invalid chunk extension"),
    (b"5;a(b)\r\nhello\r\n", "invalid chunk extension"),
    (b"0\r\n\n", "invalid chunked trailer"),
    (b"0\r\nX : a\r\n\r\n", "invalid chunked trailer"),
    (b"0\r\nX: a\r\n b\r\n\r\n", "invalid chunked trailer"),
    (b"0\r\nX: a\x00\r\n\r\n", "invalid chunked trailer"),
    (b"0\r\nX: a\nY: b\r\n\r\n", "invalid chunked trailer"),
    (b"0\r\n: a\r\n\r\n", "invalid chunked trailer"),
    (b"0\r\n\rX", "chunked message not ended by CRLF"),
];

#[test]
fn valid_messages() {
    assert_eq!(
        decode(VALID[1]),
        Ok((VALID[1].len(), true, b"hello".to_vec()))
    );
    assert_eq!(decode(VALID[2]).unwrap().2, b"hello world");
    assert_eq!(decode(VALID[4]).unwrap().2, b"0123456789");
    for msg in VALID {
        assert_eq!(
            decode(msg).map(|o| (o.0, o.1)),
            Ok((msg.len(), true)),
            "{msg:?}"
        );
    }
}

#[test]
fn leading_zeros_keep_the_value() {
    let msg = [&b"0"[..].repeat(40), &b"5\r\nhello\r\n0\r\n\r\n"[..]].concat();
    assert_eq!(decode(&msg), Ok((msg.len(), true, b"hello".to_vec())));
    // u64::MAX behind zeros is a valid size (the message is then incomplete, not refused).
    let mut dec = ChunkedDecoder::new();
    let p = dec
        .feed(b"000000000000000000ffffffffffffffff\r\n", &mut Vec::new())
        .unwrap();
    assert!(!p.done);
    // Zeros are bounded by the size line limit, CRLF included.
    let mut zeros = b"0".repeat(MAX_SIZE_LINE - 3);
    zeros.extend_from_slice(b"5\r\nhello\r\n0\r\n\r\n");
    assert!(decode(&zeros).is_ok());
    let too_many = [&b"0"[..], &zeros].concat();
    assert_eq!(decode(&too_many), Err("chunk size line too long"));
}

#[test]
fn invalid_messages() {
    for (msg, reason) in INVALID {
        assert_eq!(decode(msg), Err(*reason), "{msg:?}");
    }
}

#[test]
fn stops_at_the_end_of_the_message() {
    let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    assert_eq!(decode(input), Ok((13, true, b"abc".to_vec())));
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    dec.feed(input, &mut data).unwrap();
    assert_eq!(
        dec.feed(b"more", &mut data),
        Ok(Progress {
            consumed: 0,
            done: true
        })
    );
    assert!(data.is_empty());
}

#[test]
fn every_split_point_gives_the_same_result() {
    let all = VALID.iter().copied().chain(INVALID.iter().map(|(m, _)| *m));
    for msg in all {
        let whole = decode(msg);
        for cut in 0..=msg.len() {
            let (a, b) = msg.split_at(cut);
            assert_eq!(decode_pieces(&[a, b], 16384), whole, "{msg:?} cut at {cut}");
        }
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        assert_eq!(decode_pieces(&bytes, 16384), whole, "{msg:?} byte by byte");
    }
}

#[test]
fn incomplete_messages_are_not_done() {
    let msg = VALID[6];
    for cut in 0..msg.len() {
        let (consumed, done, _) = decode(&msg[..cut]).unwrap();
        assert_eq!((consumed, done), (cut, false));
    }
}

#[test]
fn huge_chunk_is_streamed() {
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    let p = dec.feed(b"FFFFFFFFFFFFFFFF\r\nabc", &mut data).unwrap();
    assert_eq!((p.consumed, p.done), (21, false));
    assert_eq!((data.len(), data.first()), (1, Some(&(18..21))));
    let p = dec.feed(&[b'x'; 4096], &mut data).unwrap();
    assert_eq!(p.consumed, 4096);
    assert_eq!((data.len(), data.first()), (1, Some(&(0..4096))));
}

#[test]
fn errors_stick() {
    let mut dec = ChunkedDecoder::new();
    let mut data = Vec::new();
    let e = dec.feed(b"z", &mut data).unwrap_err();
    assert_eq!(dec.feed(b"0\r\n\r\n", &mut data), Err(e));
}

#[test]
fn bounded_size_line_and_trailers() {
    let mut line = b"1;".to_vec();
    line.resize(MAX_SIZE_LINE - 2, b'a'); // the CRLF makes it exactly the bound
    assert!(decode(&[line.as_slice(), b"\r\nZ\r\n0\r\n\r\n"].concat()).is_ok());
    line.push(b'a');
    let too_long = [line.as_slice(), b"\r\nZ\r\n0\r\n\r\n"].concat();
    assert_eq!(decode(&too_long), Err("chunk size line too long"));

    let msg = b"0\r\nX: 12345\r\n\r\n"; // 12 trailer bytes with the final CRLF
    assert!(decode_pieces(&[msg], 12).is_ok());
    assert_eq!(decode_pieces(&[msg], 11), Err("chunked trailers too large"));
}

#[test]
fn mutated_messages_never_panic_and_split_the_same() {
    let mut rng = crate::http::parse::tests::Rng(0x2545_f491_4f6c_dd1d);
    for i in 0..20_000 {
        let seed = VALID[i % VALID.len()];
        let msg = rng.mutate(seed);
        let whole = decode(&msg);
        let cut = (rng.next() as usize) % (msg.len() + 1);
        let (a, b) = msg.split_at(cut);
        assert_eq!(decode_pieces(&[a, b], 16384), whole, "{msg:?} cut at {cut}");
    }
}

// The canonical form (`feed_canonical`): what the proxy forwards.

/// The canonical bytes of `pieces` fed in order, and whether each feed's form was one range
/// of its input (no copy needed).
fn canonical_pieces(pieces: &[&[u8]]) -> Result<(Vec<u8>, Vec<bool>), &'static str> {
    let mut dec = ChunkedDecoder::new();
    let mut found = Vec::new();
    let (mut out, mut verbatim) = (Vec::new(), Vec::new());
    for piece in pieces {
        let p = dec
            .feed_canonical(piece, &mut found)
            .map_err(|e| e.reason)?;
        verbatim.push(verbatim_len(&found).is_some());
        write_pieces(&found, &piece[..p.consumed], &mut out);
        if p.done {
            break;
        }
    }
    Ok((out, verbatim))
}

fn canonical(msg: &[u8]) -> Vec<u8> {
    canonical_pieces(&[msg]).unwrap().0
}

#[test]
fn canonical_form_drops_zeros_white_space_and_extensions() {
    for (msg, want) in [
        (
            &b"00000000000000000000005\r\nhello\r\n0000\r\n\r\n"[..],
            &b"5\r\nhello\r\n0\r\n\r\n"[..],
        ),
        (
            b"5;foo=bar;q=\"x;y\"\r\nhello\r\n0;end\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        (b"3  \r\nabc\r\n0 ;x=y\r\n\r\n", b"3\r\nabc\r\n0\r\n\r\n"),
        (
            b"0A\r\n0123456789\r\n00\r\n\r\n",
            b"a\r\n0123456789\r\n0\r\n\r\n",
        ),
        // Trailers go on as received.
        (
            b"01\r\nZ\r\n0;x\r\nX-Trailer: a b\r\nEmpty:\r\n\r\n",
            b"1\r\nZ\r\n0\r\nX-Trailer: a b\r\nEmpty:\r\n\r\n",
        ),
        // u64::MAX behind zeros: the size stays whole.
        (b"0000ffffffffffffffff\r\n", b"ffffffffffffffff\r\n"),
    ] {
        assert_eq!(lossy(&canonical(msg)), lossy(want), "{}", lossy(msg));
    }
}

#[test]
fn canonical_input_goes_on_as_one_range() {
    for msg in [
        &b"5\r\nhello\r\n0\r\n\r\n"[..],
        b"1\r\na\r\n1\r\nb\r\n2\r\ncd\r\nA\r\n0123456789\r\n0\r\nX: 1\r\n\r\n",
        b"10\r\n0123456789abcdef\r\n0\r\n\r\n",
    ] {
        let mut found = Vec::new();
        let p = ChunkedDecoder::new()
            .feed_canonical(msg, &mut found)
            .unwrap();
        assert!(p.done);
        assert_eq!(found, [Piece::Input(0..msg.len())], "{}", lossy(msg));
    }
    // Across reads too, wherever the cut falls but inside a size line or a data CRLF.
    let msg = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    for cut in [3, 5, 8, 10, 13, 16, 19, 21, 24, 25] {
        let (a, b) = msg.split_at(cut);
        let (out, verbatim) = canonical_pieces(&[a, b]).unwrap();
        assert_eq!(out, msg, "cut at {cut}");
        assert_eq!(verbatim, [true, true], "cut at {cut}");
    }
}

#[test]
fn canonical_form_is_the_same_wherever_the_input_is_cut() {
    for msg in VALID {
        let whole = canonical(msg);
        assert!(whole.len() <= msg.len(), "{}", lossy(msg));
        // A fixed point that carries the same payload.
        assert_eq!(canonical(&whole), whole, "{}", lossy(msg));
        assert_eq!(decode(&whole).unwrap().2, decode(msg).unwrap().2);
        for cut in 0..=msg.len() {
            let (a, b) = msg.split_at(cut);
            let (split, _) = canonical_pieces(&[a, b]).unwrap();
            // A size line cut in two is written anew, its hex digits in lower case.
            assert_eq!(
                split.to_ascii_lowercase(),
                whole.to_ascii_lowercase(),
                "{} cut at {cut}",
                lossy(msg)
            );
        }
        let bytes: Vec<&[u8]> = msg.chunks(1).collect();
        let (split, _) = canonical_pieces(&bytes).unwrap();
        assert_eq!(split.to_ascii_lowercase(), whole.to_ascii_lowercase());
    }
}

#[test]
fn mutated_messages_have_a_canonical_fixed_point() {
    let mut rng = crate::http::parse::tests::Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..20_000 {
        let msg = rng.mutate(VALID[i % VALID.len()]);
        let Ok((_, true, payload)) = decode(&msg) else {
            continue;
        };
        let out = canonical(&msg);
        assert_eq!(canonical(&out), out, "{}", lossy(&msg));
        assert_eq!(decode(&out).unwrap().2, payload, "{}", lossy(&msg));
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
