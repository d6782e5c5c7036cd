//! Server health: active checks off the request path, passive observation of live traffic.
//!
//! ```text
//!  checker.rs  one thread, its own monoio runtime: one task per checked server probes it on
//!              schedule (inter / fastinter / downinter, spread-checks), runs HAProxy's rise/fall
//!              state machine, logs transitions and broadcasts a HealthEvent to every core;
//!              checker/dynamic.rs: `add server`, `del server` (slots filled, emptied)
//!  admin.rs    the runtime API's changes, as the checker receives them
//!  table.rs    each server slot's state for reports (what the slot holds, last check)
//!  probe.rs    one probe: TCP connect, HTTP request + expectations, or a tcp-check sequence
//!  view.rs     per core: drains its crossbeam Receiver into the core's Balancer slots
//!              (`usable`, `weight_pct`), lock-free; `pick` skips down servers
//!  observe.rs  per core: live-traffic errors (`observe layer4|layer7`) sent to the checker with
//!              try_send, never blocking a request
//! ```
//!
//! Only plain data crosses threads (`HealthEvent`, `observe::Report`, the runtime API's
//! `admin::AdminCmd`, passed on to each core as `worker::control::CoreCmd`). The checker never
//! touches a worker's state and workers never wait on the checker.

pub mod admin;
pub mod checker;
pub mod observe;
pub mod probe;
pub mod table;
pub mod view;

use crate::config::model::{BackendId, Model, ServerId};

/// A server's state as every core should see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    pub backend: BackendId,
    pub server: ServerId,
    pub up: bool,
    /// Percent of `weight` in effect (below 100 during `slowstart`).
    pub weight_pct: u8,
    /// The server's weight before slow start: configured, set by an operator, 0 draining.
    pub weight: u32,
}

/// Whether any server is checked or observed: without that no checker thread starts.
pub fn needed(model: &Model) -> bool {
    // The runtime API changes servers through the checker too.
    !model.global.stats_sockets.is_empty()
        || model
            .backends
            .iter()
            .flat_map(|b| &b.servers)
            .any(|s| s.check.is_some() && !s.disabled)
}
