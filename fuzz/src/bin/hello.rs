//! AFL target: the ClientHello reader. See targets/hello.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| ringlb_fuzz::targets::hello::run(data));
}
