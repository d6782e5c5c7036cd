//! The PROXY protocol header parser (`net::proxy_proto::parse`): never a panic, and the
//! invariants `read_header` relies on to read not one byte past a header: a header found is
//! within the input and found the same with nothing after it, and every shorter prefix of it
//! is `Partial` (so the reader never consumes a byte of what follows).

use ringlb::net::proxy_proto::{parse, Parse};

/// `tune.bufsize`'s default, the bound on a v2 header.
const MAX_V2: usize = 16384;

pub fn run(data: &[u8]) {
    match parse(data, MAX_V2) {
        Parse::Done(h, len) => {
            assert!(len <= data.len(), "header longer than the input");
            assert_eq!(parse(&data[..len], MAX_V2), Parse::Done(h, len));
            for cut in 0..len {
                assert_eq!(
                    parse(&data[..cut], MAX_V2),
                    Parse::Partial,
                    "prefix {cut} of a header"
                );
            }
        }
        Parse::Partial => {
            for cut in 0..data.len() {
                assert_eq!(
                    parse(&data[..cut], MAX_V2),
                    Parse::Partial,
                    "prefix {cut} of a partial"
                );
            }
        }
        Parse::Invalid(_) => {}
    }
}
