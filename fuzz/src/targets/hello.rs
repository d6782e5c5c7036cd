//! The ClientHello reader behind `req.ssl_sni` & co. (`rules::hello`): never a panic, a name
//! found lies inside the input, and what more bytes cannot change does not change when they
//! come (SNI routing decides on the first record alone).

use ringlb::rules::hello::{has_ec_ext, hello_type, sni, version, Read};

pub fn run(data: &[u8]) {
    let first = sni(data);
    if let Read::Found(name) = first {
        let inside = data.windows(name.len()).any(|w| w == name);
        assert!(
            inside && !name.is_empty(),
            "a name that is not in the input"
        );
    }
    let _ = (version(data), hello_type(data), has_ec_ext(data));
    let mut more = data.to_vec();
    more.extend_from_slice(b"\x16\x03\x01 trailing bytes");
    match first {
        Read::Found(n) => assert_eq!(sni(&more), Read::Found(n), "found, then changed"),
        Read::No => assert_eq!(sni(&more), Read::No, "refused, then found"),
        Read::More => {}
    }
}
