//! The launcher's copy of every server's state, for the SIGHUP dump.
//!
//! The checker broadcasts each state change to every core; the launcher subscribes like one
//! more core and keeps the latest state per server, so a dump reads its own table and never
//! asks a worker or the checker anything. Servers start as the checker starts them: UP, except
//! `disabled` ones (DOWN, as HAProxy 2.6 prints them); without checks a state never changes.

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::config::model::{Backend, Model};
use crate::health::HealthEvent;

pub struct ServerStates {
    model: Arc<Model>,
    /// Per backend, per server: up.
    up: Vec<Vec<bool>>,
}

impl ServerStates {
    pub fn new(model: Arc<Model>) -> Self {
        let up = model
            .backends
            .iter()
            .map(|b| {
                b.servers
                    .iter()
                    .map(|s| !s.start.maint && !s.start.down)
                    .collect()
            })
            .collect();
        ServerStates { model, up }
    }

    pub fn apply(&mut self, ev: HealthEvent) {
        if let Some(slot) = self
            .up
            .get_mut(ev.backend.index())
            .and_then(|b| b.get_mut(ev.server.index()))
        {
            *slot = ev.up;
        }
    }

    /// Applies every event waiting on `events`.
    pub fn catch_up(&mut self, events: &Receiver<HealthEvent>) {
        while let Ok(ev) = events.try_recv() {
            self.apply(ev);
        }
    }

    /// HAProxy 2.6's SIGHUP dump, in its words: one line per server, then one per proxy.
    /// HAProxy also prints connection counts ("Conn: 0 act, 0 pend, 0 tot."); ringlb's are
    /// per core and not merged yet, so the lines stop before them.
    pub fn dump(&self) -> Vec<String> {
        let mut lines = vec!["SIGHUP received, dumping servers states.".to_string()];
        let listens = |name: &str| {
            self.model
                .backends
                .iter()
                .any(|b| b.listen_frontend && b.name == name)
        };
        for fe in &self.model.frontends {
            if !listens(&fe.name) {
                lines.push(format!("SIGHUP: Proxy {} has no servers.", fe.name));
            }
        }
        for (bi, be) in self.model.backend_ids().zip(&self.model.backends) {
            let up = self.up.get(bi.index()).map(Vec::as_slice).unwrap_or(&[]);
            for (s, &is_up) in be.servers.iter().zip(up) {
                let state = if is_up { "UP" } else { "DOWN" };
                lines.push(format!("SIGHUP: Server {}/{} is {state}.", be.name, s.name));
            }
            lines.push(proxy_line(be, up));
        }
        lines
    }
}

/// HAProxy's summary line for a proxy with servers (weight 0 does not count as available).
fn proxy_line(be: &Backend, up: &[bool]) -> String {
    if be.servers.is_empty() {
        return format!("SIGHUP: Proxy {} has no servers.", be.name);
    }
    let (mut active, mut backup) = (0, 0);
    for (s, _) in be
        .servers
        .iter()
        .zip(up)
        .filter(|(s, &u)| u && s.weight > 0)
    {
        if s.backup {
            backup += 1;
        } else {
            active += 1;
        }
    }
    match (active, backup) {
        (0, 0) => format!("SIGHUP: Proxy {} has no server available !", be.name),
        (0, _) => format!("SIGHUP: Proxy {} is running on backup servers !", be.name),
        _ => format!(
            "SIGHUP: Proxy {} has {active} active servers and {backup} backup servers available.",
            be.name
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{BackendId, ServerId};

    fn model(cfg: &str) -> Arc<Model> {
        let loaded = crate::config::load_str("states.cfg", cfg).unwrap_or_else(|d| {
            panic!(
                "{}",
                d.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        Arc::new(loaded.model)
    }

    #[test]
    fn dump_names_each_server_and_follows_events() {
        let m = model(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    \
             timeout server 1s\nfrontend fe\n    bind 127.0.0.1:0\n    default_backend app\n\
             backend app\n    server s1 127.0.0.1:1 check\n    server s2 127.0.0.1:2 disabled\n    \
             server b1 127.0.0.1:3 backup\n",
        );
        let mut st = ServerStates::new(m);
        let text = st.dump().join("\n");
        assert!(text.contains("SIGHUP: Proxy fe has no servers."), "{text}");
        assert!(text.contains("SIGHUP: Server app/s1 is UP."), "{text}");
        assert!(text.contains("SIGHUP: Server app/s2 is DOWN."), "{text}");
        assert!(
            text.contains("SIGHUP: Proxy app has 1 active servers and 1 backup servers available."),
            "{text}"
        );
        st.apply(HealthEvent {
            backend: BackendId::new(0),
            server: ServerId::new(0),
            up: false,
            weight_pct: 100,
            weight: 1,
        });
        let text = st.dump().join("\n");
        assert!(text.contains("SIGHUP: Server app/s1 is DOWN."), "{text}");
        assert!(
            text.contains("SIGHUP: Proxy app is running on backup servers !"),
            "{text}"
        );
    }
}
