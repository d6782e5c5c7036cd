//! AFL target: the PROXY protocol header parser. See targets/proxy.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| ringlb_fuzz::targets::proxy::run(data));
}
