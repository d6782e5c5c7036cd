//! ringlb: a thread-per-core io_uring L4/L7 load balancer that reads HAProxy configuration files.
//!
//! Start here. Every module, in the order a request meets them:
//!
//! ```text
//!  main.rs, cli   the command line (-f, -c, -d, -D ...), exit codes; build_info: -vv's build facts
//!  config::       haproxy-style .cfg files -> Model: syntax.rs (tokens with file:line, the
//!                 .if/.endif blocks applied by blocks.rs) ->
//!                 keywords.rs (one table of every keyword: where it may appear, its parser,
//!                 or why it is refused) -> validate.rs -> model.rs (plain, immutable, Send);
//!                 catalog/ holds the tables of fetches, converters, actions, server options
//!                 and balance algorithms; server_state.rs: the servers' states a reload
//!                 left in a server-state-file, applied before any thread starts
//!  launch::       one pinned thread per core, each with its own monoio runtime (io_uring, or
//!                 the legacy epoll driver); signals, soft stop, the health checker thread;
//!                 handover.rs: `-x`, the old process's listeners spread over the cores
//!  process::      daemon mode, pidfile, user/group, the old process's stop on reload
//!  master::       master-worker mode (-W, -Ws, `master-worker`): a master that serves no
//!                 traffic, re-executes this binary as its worker, reloads on SIGUSR2 by a
//!                 `-x` hand-over between workers, the master CLI (-S), sd_notify
//!  worker::       one Worker per core: listeners and accept loops, balancers, backend pools,
//!                 connect/retry/queue, maxconn counters (the only cross-core atomics)
//!  net::          sockets and streams: SO_REUSEPORT listeners; `Stream`, the one connection
//!                 type (TCP; an in-memory pair for in-process tests); `Dialer`;
//!                 proxy_proto.rs: the PROXY protocol (`accept-proxy`, `send-proxy*`);
//!                 handover.rs: `_getsocks` / `-x`, listeners passed with SCM_RIGHTS, then
//!                 ticket_handover.rs: the TLS binds' random ticket keys
//!  serve::        a client connection's life: accept.rs, tcp.rs (mode tcp relay), h1.rs (the
//!                 HTTP/1 connection level), h2/ (HTTP/2: one task per stream, by ALPN or
//!                 `proto h2`), then per request a `Session` (request ->
//!                 exchange -> response, its `Route`, its record) behind the `Downstream`
//!                 interface
//!  http::         HTTP/1.1 framing only, no sockets: parse.rs, chunked.rs, head.rs (rewrite),
//!                 edit.rs (rule edits), body.rs (streaming bodies), errors.rs (error pages)
//!  rules::        the rule engine: fetch.rs, conv.rs, matcher.rs (ACLs, use_backend),
//!                 content.rs + hello.rs (tcp-request/tcp-response rules, SNI without TLS),
//!                 logformat.rs, auth.rs (userlists), action.rs (rule lists), reply.rs,
//!                 normalize.rs (normalize-uri)
//!  health::       checker.rs (one thread probing servers) -> HealthEvent over crossbeam to
//!                 every core -> view.rs (the core's balancer slots); observe.rs (live errors)
//!  tls::          rustls building blocks from a bind's `BindTls`: certs.rs (crt, crt-list,
//!                 ca-file, crl-file, OCSP), resolve.rs (SNI -> certificate), tickets.rs (tickets
//!                 every core opens), server_config.rs (ServerConfig per core), accept.rs
//!                 (ClientHello -> connection), facts.rs (ssl_fc_* / ssl_c_* values);
//!                 client_config.rs (a `server ... ssl`'s ClientConfig per core)
//!  log::          access and event logs: per-core batches (core.rs) -> one logger thread
//!                 (thread.rs) that frames (syslog.rs) and sends to UDP / unix / stdout targets
//!  stats::        counters.rs (each core's own, single-writer), tally.rs (events -> counts),
//!                 latency.rs (hdrhistograms, published each second), collect.rs (all cores ->
//!                 `Snapshot` on demand), csv/json/html/prom.rs (HAProxy's formats),
//!                 service.rs (the stats page, monitor-uri, the Prometheus exporter)
//!  api::          the runtime API (`stats socket`): its own threads, blocking sockets, the
//!                 commands (`show info`, `show stat`, `show servers state`, `show sess`, ...)
//!                 over stats::; changes go through the checker thread to every core
//!                 (health/admin.rs -> worker/control.rs, each core's live sessions in
//!                 worker/sessions.rs); `add server` fills a server slot every core kept
//!                 free at start (config::model `dynamic_slots`, worker/dynamic.rs)
//!  io             owned-buffer helpers (`ReadBuf`, timed I/O) shared by http, serve and tcp
//! ```
//!
//! Where the next capabilities plug in:
//! - **TLS**: a `net::Stream` variant, handshaken on the accepting core (`tls::accept` then
//!   a rustls `ServerConnection` from `tls::server_config`); everything above
//!   the stream (relay, HTTP/1, sessions) is unchanged. Backend TLS: the same `TlsStream`
//!   on its client side, opened by `Dialer::connect_tls` from `worker::connect` with the
//!   core's own `tls::client_config` for that server (`server ... ssl`).
//! - **HTTP/2**: `serve/h2/`, a second connection level beside `serve/h1.rs` (the `h2` crate
//!   over ringlb's own poll adapter on `net::Stream`, no tokio runtime), whose streams each
//!   implement `serve::downstream::Downstream` and drive the same `Session` pipeline; the
//!   connection and all its streams stay on the accepting core.
//! - **Stats and logs**: every request ends in one `serve::record::RequestRecord`, consumed at
//!   one place (`record::end_request`): the core's counters and histograms (`stats::`,
//!   merged across cores on demand by the core serving a report) and the worker's
//!   `record::Sink` (logs).
//!
//! What crosses threads: the `Model` (in an `Arc`, read-only), health events, runtime API
//! commands and passive reports (crossbeam channels), the maxconn atomics, each core's stats counters (written by that core
//! only, read by reports) and the checker's table and published histograms (mutexes taken
//! by the checker, once a second by each core, and by reports: never per request). Nothing on the request
//! path takes a lock.

pub mod api;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod health;
pub mod http;
pub mod io;
pub mod launch;
pub mod log;
pub mod master;
pub mod net;
pub mod process;
pub mod rules;
pub mod serve;
pub mod stats;
pub mod tls;
pub mod worker;
