//! AFL target: a request head, then the chunked body behind it. See targets/request.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| ringlb_fuzz::targets::request::run(data));
}
