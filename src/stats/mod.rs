//! Stats: what the stats page, `;csv`, `;json` and the Prometheus exporter report.
//!
//! ```text
//!  fields.rs     HAProxy 2.6's stats columns in its order (`Field`)
//!  snapshot.rs   the report as plain data: `Snapshot` -> `ProxyStats` -> `Row` (one cell per
//!                `Field`), latency `Distribution`s, the per-core view, `ProcessInfo`
//!  state.rs      a server's state read from its status column; `;up` and `stats scope`
//!  csv.rs        `;csv`, HAProxy's byte for byte
//!  json.rs       `;json`, HAProxy's typed fields; one table of each field's type and tags
//!  html.rs       the stats page: HAProxy's tables and colours, plus latency percentiles and cores
//!  prom.rs       `/metrics`, HAProxy's exporter's families (one table: family -> Field), then ringlb_*
//!  sample.rs     (tests) a snapshot read from HAProxy's own output, in testdata/
//!
//!  counters.rs   each core's own counters (single-writer atomics), `Rate`, `Gauge`
//!  tally.rs      events -> counts: connections, handshakes, finished records
//!  latency.rs    per-core hdrhistograms, published once a second, merged for reports
//!  shared.rs     `StatsShared` (every core's counters, the checker's table, published
//!                histograms) and `CoreStats`, one core's handle on it
//!  collect.rs    all of the above -> `Snapshot`, on demand, on the core serving the report
//! ```
//!
//! Counters are core-local: each core writes only its own (serve/record's `end_request`),
//! and a report merges every core's on demand; nothing on the request path is shared.

pub mod collect;
pub mod counters;
pub mod csv;
pub mod fields;
pub mod html;
pub mod json;
pub mod latency;
pub mod prom;
#[cfg(test)]
pub mod sample;
pub mod service;
pub mod shared;
pub mod snapshot;
pub mod state;
mod tally;

pub use tally::QueueMark;

use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Log lines sent and dropped (a slow sink), kept by the log module.
#[derive(Debug, Default)]
pub struct LogCounts {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
}

/// How one report is rendered: the proxy's `stats` settings and the request's `;` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// `stats uri`: where the page is (links and the `;` options are built on it).
    pub uri: String,
    /// `stats hide-version`: no version or release date on the page.
    pub hide_version: bool,
    /// `stats show-legends`: explain the columns and the states.
    pub show_legends: bool,
    /// `stats show-node [NAME]`: the node's name (the host name when none was given).
    pub show_node: Option<String>,
    /// `stats show-desc [TEXT]`: a description under the title.
    pub show_desc: Option<String>,
    /// `stats refresh DELAY`, unless the request said `;norefresh`.
    pub refresh: Option<Duration>,
    /// `;up`: only servers that are up.
    pub up_only: bool,
    /// `stats scope NAME` lines: only these proxies (all when empty).
    pub scope: Vec<String>,
}
