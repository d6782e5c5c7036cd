use super::*;

const MAX: usize = 16384;

fn addrs(src: &str, dst: &str) -> Addrs {
    Addrs {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
    }
}

#[test]
fn v1_tcp4_and_tcp6_give_the_client_addresses() {
    let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET /";
    assert_eq!(
        parse(line, MAX),
        Parse::Done(
            Header::Proxy(addrs("192.0.2.1:56324", "198.51.100.2:443")),
            45
        )
    );
    let line = b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n";
    assert_eq!(
        parse(line, MAX),
        Parse::Done(
            Header::Proxy(addrs("[2001:db8::1]:1", "[::1]:65535")),
            line.len()
        )
    );
}

#[test]
fn v1_unknown_keeps_the_connection_addresses() {
    assert_eq!(
        parse(b"PROXY UNKNOWN\r\n", MAX),
        Parse::Done(Header::Local, 15)
    );
    let line = b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n";
    assert_eq!(parse(line, MAX), Parse::Done(Header::Local, line.len()));
}

#[test]
fn v1_prefixes_are_partial() {
    for cut in 1..44 {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
        assert_eq!(parse(&line[..cut], MAX), Parse::Partial, "cut at {cut}");
    }
}

#[test]
fn v1_malformed_lines_are_refused() {
    let bad: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 9\r\n",
        b"PROXY TCP4 192.0.2.1  198.51.100.2 56324 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 +1 443\r\n",
        b"PROXY TCP4 192.0.2.01 198.51.100.2 1 443\r\n",
        b"PROXY TCP4 ::1 198.51.100.2 1 443\r\n",
        b"PROXY TCP6 192.0.2.1 ::1 1 443\r\n",
        b"PROXY UDP4 192.0.2.1 198.51.100.2 1 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 443\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 443\rX\n",
        b"proxy TCP4 192.0.2.1 198.51.100.2 1 443\r\n",
    ];
    for b in bad {
        assert!(
            matches!(parse(b, MAX), Parse::Invalid(_)),
            "{:?} accepted",
            String::from_utf8_lossy(b)
        );
    }
    let long = [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 100]].concat();
    assert!(matches!(parse(&long, MAX), Parse::Invalid(_)));
}

#[test]
fn v2_round_trips_what_send_proxy_v2_sends() {
    for (s, d) in [
        ("192.0.2.1:56324", "198.51.100.2:443"),
        ("[2001:db8::1]:1", "[::1]:80"),
    ] {
        let a = addrs(s, d);
        let mut h = encode_v2(Some(a), None);
        let len = h.len();
        h.extend_from_slice(b"payload");
        assert_eq!(parse(&h, MAX), Parse::Done(Header::Proxy(a), len));
        for cut in 1..len {
            assert_eq!(parse(&h[..cut], MAX), Parse::Partial, "cut at {cut}");
        }
    }
    let local = encode_v2(None, None);
    assert_eq!(parse(&local, MAX), Parse::Done(Header::Local, 16));
}

#[test]
fn v2_carries_the_client_alpn() {
    let a = addrs("192.0.2.1:1", "192.0.2.2:2");
    let h = encode_v2(Some(a), Some(b"h2"));
    assert_eq!(&h[28..], &[0x01, 0, 2, b'h', b'2']);
    assert_eq!(parse(&h, MAX), Parse::Done(Header::Proxy(a), h.len()));
}

#[test]
fn v2_mixed_families_go_as_mapped_ipv6() {
    let a = addrs("192.0.2.1:5", "[2001:db8::2]:6");
    let h = encode_v2(Some(a), None);
    let Parse::Done(Header::Proxy(got), _) = parse(&h, MAX) else {
        panic!("not parsed");
    };
    assert_eq!(got.src, "[::ffff:192.0.2.1]:5".parse().unwrap());
}

#[test]
fn v2_tlvs_are_skipped_and_checked() {
    let a = addrs("192.0.2.1:1", "192.0.2.2:2");
    let mut h = encode_v2(Some(a), None);
    // ALPN "h2", then a NOOP of 3 bytes.
    h.extend_from_slice(&[0x01, 0, 2, b'h', b'2', 0x04, 0, 3, 0, 0, 0]);
    let body = (h.len() - 16) as u16;
    h[14..16].copy_from_slice(&body.to_be_bytes());
    assert_eq!(parse(&h, MAX), Parse::Done(Header::Proxy(a), h.len()));
    // A TLV running past the end.
    let mut cut = h.clone();
    cut[30] = 9;
    assert!(matches!(parse(&cut, MAX), Parse::Invalid(_)));
    // A TLV header cut short at the end.
    let mut short = encode_v2(Some(a), None);
    short.extend_from_slice(&[0x04, 0]);
    let body = (short.len() - 16) as u16;
    short[14..16].copy_from_slice(&body.to_be_bytes());
    assert!(matches!(parse(&short, MAX), Parse::Invalid(_)));
}

#[test]
fn v2_crc32c_is_verified() {
    let a = addrs("192.0.2.1:1", "192.0.2.2:2");
    let mut h = encode_v2(Some(a), None);
    h.extend_from_slice(&[TLV_CRC32C, 0, 4, 0, 0, 0, 0]);
    let body = (h.len() - 16) as u16;
    h[14..16].copy_from_slice(&body.to_be_bytes());
    let crc = crc32c(&h);
    let at = h.len() - 4;
    h[at..].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(parse(&h, MAX), Parse::Done(Header::Proxy(a), h.len()));
    h[at] ^= 1;
    assert_eq!(parse(&h, MAX), Parse::Invalid("PROXY v2 CRC32C mismatch"));
}

#[test]
fn crc32c_matches_the_standard_check_value() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn v2_bad_version_command_or_length_are_refused() {
    let a = addrs("192.0.2.1:1", "192.0.2.2:2");
    let good = encode_v2(Some(a), None);
    let mut v = good.clone();
    v[12] = 0x11;
    assert!(matches!(parse(&v, MAX), Parse::Invalid(_)));
    let mut c = good.clone();
    c[12] = 0x22;
    assert!(matches!(parse(&c, MAX), Parse::Invalid(_)));
    let mut short = good.clone();
    short[15] = 4;
    short.truncate(20);
    assert!(matches!(parse(&short, MAX), Parse::Invalid(_)));
    let mut huge = good;
    huge[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    assert!(matches!(parse(&huge, MAX), Parse::Invalid(_)));
}

#[test]
fn v2_other_families_keep_the_connection_addresses() {
    let mut unix = V2_SIG.to_vec();
    unix.extend_from_slice(&[0x21, 0x31, 0, 216]);
    unix.extend_from_slice(&[0u8; 216]);
    assert_eq!(parse(&unix, 1024), Parse::Done(Header::Local, 232));
}

#[test]
fn encode_v1_writes_the_spec_lines() {
    assert_eq!(
        encode_v1(Some(addrs("192.0.2.1:56324", "198.51.100.2:443"))),
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"
    );
    assert_eq!(encode_v1(None), b"PROXY UNKNOWN\r\n");
    let round = encode_v1(Some(addrs("[2001:db8::1]:1", "[::1]:2")));
    assert!(matches!(
        parse(&round, MAX),
        Parse::Done(Header::Proxy(_), _)
    ));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: every prefix of many pseudo-random inputs.
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        let mut buf = Vec::new();
        let start: &[u8] = if x.is_multiple_of(2) {
            V2_SIG
        } else {
            b"PROXY "
        };
        buf.extend_from_slice(start);
        for _ in 0..(x % 120) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            buf.push((x >> 16) as u8);
        }
        for cut in 0..buf.len() {
            let _ = parse(&buf[..cut], 300);
        }
        x = x.wrapping_add(7);
    }
}
