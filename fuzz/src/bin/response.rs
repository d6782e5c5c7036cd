//! AFL target: a response head for each request method. See targets/response.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| ringlb_fuzz::targets::response::run(data));
}
