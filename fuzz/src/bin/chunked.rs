//! AFL target: the chunked decoder, whole and split. See targets/chunked.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| ringlb_fuzz::targets::chunked::run(data));
}
