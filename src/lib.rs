//! ringlb: a thread-per-core io_uring L4/L7 load balancer that reads HAProxy configuration files.
//!
//! How a request flows through the modules:
//!
//! ```text
//!  haproxy-style .cfg files
//!        |  config::load()      syntax (tokens with file:line) -> keywords -> validate -> Model
//!        v
//!  Model (plain, immutable, Send)          main.rs: command line, -c, exit codes
//!        |  launch::run()       one pinned thread per core, each with its own monoio runtime
//!        v
//!  worker::Worker (one per core)           owns its listeners, connections, pools, counters
//!    listener.rs  SO_REUSEPORT socket per bind, accept loop, maxconn gate
//!    balance.rs   core-local server choice (roundrobin, leastconn, hashes, ...)
//!    pool.rs      core-local idle backend connections
//!    limits.rs    process-wide maxconn counters (global, frontend, server): the only shared
//!                 counters, atomics touched per connection, or per request on servers with maxconn
//!  health::      checker.rs (one thread probing servers) -> HealthEvent over crossbeam to
//!                every core -> view.rs (the core's balancer slots); observe.rs (live errors back)
//!  http::        parse.rs (framing rules on top of httparse), chunked.rs, head.rs (rewrite),
//!                edit.rs (rule edits the head writers apply), body.rs (streaming bodies),
//!                errors.rs (error pages): framing only, no sockets
//!  serve::       accept.rs (one client connection, by mode), tcp.rs (mode tcp relay), the
//!                mode http pipeline (idle -> request -> exchange -> response), route.rs (what a
//!                frontend and its backend decide together, resolved in one place), record/ (how
//!                each request ended: status, bytes, timers, termination state; consumed at
//!                one place, `record::end_request`: `ringlb -d` prints it; logs, counters and
//!                histograms plug in there)
//!  rules::       the rule engine: fetch.rs, conv.rs, matcher.rs (ACLs, use_backend),
//!                logformat.rs, auth.rs (userlists), action.rs (rule lists), reply.rs,
//!                normalize.rs (normalize-uri)
//!  tls::         rustls building blocks from a bind's `BindTls`: certs.rs (crt, crt-list,
//!                ca-file, OCSP), resolve.rs (SNI -> certificate), tickets.rs (session tickets
//!                every core opens), server_config.rs (ServerConfig per core); no sockets yet:
//!                the handshake plugs into the client stream type
//! ```
//!
//! What crosses threads: the `Model` (in an `Arc`, read-only), health events and passive reports
//! (crossbeam channels), the maxconn atomics, and, later, stats snapshots. Nothing on the request
//! path takes a lock.

pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod io;
pub mod launch;
pub mod net;
pub mod process;
pub mod rules;
pub mod serve;
pub mod tls;
pub mod worker;
