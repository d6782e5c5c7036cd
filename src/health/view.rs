//! One core's view of server health: events from the checker applied to this core's balancers.
//!
//! The worker calls `apply` before every pick and on a short tick, so a state change reaches
//! the request path within one tick even on an idle core. `try_recv` on an empty crossbeam
//! channel is a couple of atomic loads: cheap enough for every request.

use std::cell::Cell;

use crossbeam_channel::{Receiver, Sender};

use super::observe::Report;
use super::HealthEvent;
use crate::config::model::{BackendId, Model, ServerId};
use crate::worker::BackendRt;

/// What a worker receives from the launcher: its end of the event broadcast and a sender for
/// passive reports.
pub struct HealthLink {
    pub events: Receiver<HealthEvent>,
    pub reports: Sender<Report>,
    /// Runtime API commands for this core (worker/control.rs), passed on by the checker.
    pub control: Receiver<crate::worker::control::CoreCmd>,
}

pub struct HealthView {
    link: HealthLink,
    /// Consecutive live-traffic errors this core saw, per backend and server (see observe.rs).
    errors: Vec<Vec<Cell<u32>>>,
}

impl HealthView {
    pub fn new(link: HealthLink, model: &Model) -> Self {
        let errors = model
            .backends
            .iter()
            .map(|b| b.slot_ids().map(|_| Cell::new(0)).collect())
            .collect();
        HealthView { link, errors }
    }

    /// Applies every pending event to this core's balancer slots.
    pub fn apply(&self, backends: &[BackendRt]) {
        while let Ok(ev) = self.link.events.try_recv() {
            let Some(b) = backends.get(ev.backend.index()) else {
                continue;
            };
            let Some(slot) = b.balancer.slot(ev.server) else {
                continue;
            };
            slot.usable.set(ev.up);
            slot.weight_pct.set(ev.weight_pct);
            slot.weight.set(ev.weight);
            if ev.up {
                // A server that came back may take queued requests.
                b.balancer.freed.notify_all();
            } else {
                // Idle connections to a down server would only fail later.
                b.pool.clear_server(ev.server);
            }
        }
    }

    /// The next runtime API command for this core, if one waits.
    pub fn next_control(&self) -> Option<crate::worker::control::CoreCmd> {
        self.link.control.try_recv().ok()
    }

    /// This core's count of consecutive errors on one server.
    pub(super) fn error_count(&self, backend: BackendId, server: ServerId) -> Option<&Cell<u32>> {
        self.errors.get(backend.index())?.get(server.index())
    }

    pub(super) fn send(&self, r: Report) {
        // Full channel: the checker is behind; dropping a report only delays detection.
        let _ = self.link.reports.try_send(r);
    }
}
