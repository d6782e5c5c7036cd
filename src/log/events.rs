//! Event messages besides requests and health checks: what HAProxy 2.6 logs when a soft stop
//! (SIGUSR1) has ended, per proxy, at `warning`:
//! `Proxy www stopped (cumulated conns: FE: 3, BE: 0).` (FE: connections the frontend took;
//! BE: requests the backend took; a listen section has both.)

use super::LogHub;
use crate::config::model::Model;
use crate::config::model_log::LEVEL_WARNING;
use crate::stats::shared::StatsShared;

/// Sends each proxy's `stopped` line to its log targets, frontends first, then backends
/// (a listen section once, with its frontend).
pub fn proxies_stopped(hub: &LogHub, model: &Model, stats: &StatsShared) {
    let fe_total = |i: usize| -> u64 {
        stats
            .cores
            .iter()
            .filter_map(|c| c.frontends.get(i))
            .map(|p| p.stot.get())
            .sum()
    };
    let be_total = |i: usize| -> u64 {
        stats
            .cores
            .iter()
            .filter_map(|c| c.backends.get(i))
            .map(|p| p.stot.get())
            .sum()
    };
    for (id, fe) in model.frontend_ids().zip(&model.frontends) {
        let listen = model
            .backend_ids()
            .zip(&model.backends)
            .find(|(_, b)| b.listen_frontend && b.name == fe.name);
        let be = listen.map_or(0, |(b, _)| be_total(b.index()));
        let msg = format!(
            "Proxy {} stopped (cumulated conns: FE: {}, BE: {be}).",
            fe.name,
            fe_total(id.index())
        );
        hub.event(hub.plan.frontend(id), LEVEL_WARNING, &msg);
    }
    for (id, be) in model.backend_ids().zip(&model.backends) {
        if be.listen_frontend {
            continue;
        }
        let msg = format!(
            "Proxy {} stopped (cumulated conns: FE: 0, BE: {}).",
            be.name,
            be_total(id.index())
        );
        hub.event(hub.plan.backend(id), LEVEL_WARNING, &msg);
    }
}
