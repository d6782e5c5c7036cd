//! The fuzz target bodies: bytes in, assertions out. Each `run(data)` panics (a finding) when
//! an invariant breaks, not only when the code under test panics. They use ringlb's public API
//! only, and are compiled twice: into the AFL binaries (fuzz/src/bin/) and, by path, into
//! tests/fuzz_corpus.rs, which replays fuzz/corpus/<target>/ in `cargo test`.
//!
//! ```text
//!  request   parse_request -> head invariants, split arrival, forwarded head re-parsed,
//!            then the chunked body behind the head (chunked::check)
//!  chunked   ChunkedDecoder fed whole, byte by byte and in pseudo-random pieces: same result
//!  response  parse_response for every request method -> invariants, forwarded head re-parsed
//!  config    config::load_str -> Model or errors, never a panic; the caller confines the thread
//!            (sandbox.rs) so file names in the text cannot reach outside a temp dir
//! ```

pub mod chunked;
pub mod config;
pub mod head;
pub mod pending;
pub mod request;
pub mod response;
pub mod sandbox;

/// The names `scripts/fuzz.sh` and the corpus folders use, with what each target does.
pub const TARGETS: &[(&str, &str)] = &[
    (
        "request",
        "request head + framing, then the chunked body when the head says chunked",
    ),
    (
        "chunked",
        "chunked decoder alone, whole vs split input (must agree)",
    ),
    ("response", "response head, once per request method"),
    ("config", "configuration text -> Model or file:line errors"),
];

/// Runs the named target on one input; false for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "request" => request::run(data),
        "chunked" => chunked::run(data),
        "response" => response::run(data),
        "config" => config::run(data),
        _ => return false,
    }
    true
}
