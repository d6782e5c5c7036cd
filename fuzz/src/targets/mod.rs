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
//!  proxy     PROXY protocol header parser: prefixes partial, nothing read past a header
//!  hello     TLS ClientHello reader (req.ssl_sni ...): bounded, stable once decided
//!  config    config::load_str -> Model or errors, never a panic; the caller confines the thread
//!            (sandbox.rs) so file names in the text cannot reach outside a temp dir
//! ```

pub mod chunked;
pub mod config;
pub mod head;
pub mod hello;
pub mod pending;
pub mod proxy;
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
    (
        "proxy",
        "PROXY protocol v1/v2 header: prefixes partial, never past the header",
    ),
    (
        "hello",
        "TLS ClientHello for req.ssl_sni & co.: bounded, stable once decided",
    ),
];

/// Runs the named target on one input; false for an unknown name.
pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "request" => request::run(data),
        "chunked" => chunked::run(data),
        "response" => response::run(data),
        "config" => config::run(data),
        "proxy" => proxy::run(data),
        "hello" => hello::run(data),
        _ => return false,
    }
    true
}
