//! End-to-end harness: the real `ringlb` binary, real backends and a raw client, all on
//! loopback with kernel-chosen ports.
//!
//! - `Ringlb` writes a config into its own temp dir, runs `ringlb -f FILE -db`, waits for the
//!   `ready` line on stderr (bounded) and maps proxy names to the addresses it printed.
//! - `HttpBackend` / `TcpEchoBackend` are std-thread servers that count what they accept, so
//!   tests can assert on what the proxy did (reuse, queueing, requests that must never arrive).
//!   `RawBackend` answers with scripted bytes, for what a server may send wrong.
//! - `Client` speaks HTTP/1.1 byte by byte and parses responses itself: the tests are black-box
//!   and must not trust the crate's own parser to check the crate.
//!
//! Every socket has a timeout and every wait has a deadline: a broken proxy fails a test in
//! seconds instead of hanging CI.
#![allow(dead_code)]

mod api;
mod backend;
mod client;
mod connect_server;
/// Not glob-exported: several test files keep their own HAProxy runner of the same names.
pub mod haproxy;
mod load;
mod process;
mod raw_backend;
mod rule_configs;
mod tls;
mod tools;
mod wire;

// Each test file uses a different part of the harness.
#[allow(unused_imports)]
pub use api::*;
#[allow(unused_imports)]
pub use backend::*;
#[allow(unused_imports)]
pub use client::*;
#[allow(unused_imports)]
pub use connect_server::*;
#[allow(unused_imports)]
pub use load::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use raw_backend::*;
#[allow(unused_imports)]
pub use rule_configs::*;
#[allow(unused_imports)]
pub use tls::*;
#[allow(unused_imports)]
pub use tools::*;
#[allow(unused_imports)]
pub use wire::*;

use std::time::Duration;

/// How long ringlb may take to print `ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default read/write timeout of the test client: far above any legitimate wait in the suite.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Backends give up on a silent peer after this long, so their threads never outlive a test.
pub(crate) const BACKEND_IO_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest head the parsers here accept (the proxy's own limits are far lower).
pub(crate) const MAX_HEAD: usize = 1 << 20;

/// Generates one test per monoio driver: `NAME::io_uring` and `NAME::legacy`.
/// (A module instead of `NAME_io_uring`: `macro_rules!` cannot build identifiers without a
/// crate; `cargo test io_uring` / `cargo test legacy` still selects one driver.)
macro_rules! both_drivers {
    ($name:ident, |$driver:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn scenario($driver: &'static str) $body
            #[test]
            fn io_uring() {
                scenario("io_uring")
            }
            #[test]
            fn legacy() {
                scenario("legacy")
            }
        }
    };
}
pub(crate) use both_drivers;

/// The `global` and `defaults` sections most tests share, followed by `rest`.
pub fn http_cfg(rest: &str) -> String {
    format!(
        "global\n    nbthread 2\n\ndefaults\n    mode http\n    timeout connect 1s\n    \
         timeout client 5s\n    timeout server 5s\n\n{rest}\n"
    )
}
