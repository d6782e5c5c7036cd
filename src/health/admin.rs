//! Operator changes to servers from the runtime API (`disable server`, `set server ... state
//! ready|drain|maint`, `set server ... weight`): sent to the checker thread, which owns every
//! server's state, and broadcast from there to every core like a health transition.
//!
//! Beside server changes, an `AdminCmd` carries what the checker passes on to every core as it
//! is (`CoreCmd`: a new address, sessions to shut, counters to clear, a `show sess` request)
//! and the frontend and global maxconn changes (atomics in `ConnLimits`).
//!
//! A server takes requests when it is not in maintenance and its checks (if any) say UP; its
//! weight in effect is 0 while it drains (no new requests; those in flight finish), else the
//! weight the operator set (the configured one at start).

use std::cell::Cell;

use std::net::{IpAddr, SocketAddr};

use crate::config::model::{BackendId, FrontendId, Model, Server, ServerId};
use crate::worker::control::CoreCmd;

/// The state an operator asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminState {
    Ready,
    Drain,
    Maint,
}

/// One change, for one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    State(AdminState),
    Weight(u32),
    /// `enable health` / `disable health`: probes run or pause (checked servers only).
    Health(bool),
    /// `set server B/S addr`: new connections and checks go there.
    Addr(SocketAddr),
    /// `set maxconn server`: `None` is no limit (HAProxy's 0).
    MaxConn(Option<u32>),
    /// `shutdown sessions server`.
    Shutdown,
    /// `set server B/S check-addr|check-port`: where probes go (each `None` leaves that part
    /// as it is; a port of 0 is the server's own again).
    CheckTarget(Option<IpAddr>, Option<u16>),
}

/// One change, for one server.
#[derive(Clone, Copy, Debug)]
pub struct ServerCmd {
    pub backend: BackendId,
    pub server: ServerId,
    pub change: Change,
}

/// What the runtime API sends the checker.
#[derive(Clone, Debug)]
pub enum AdminCmd {
    Server(ServerCmd),
    /// `set maxconn global N`.
    GlobalMaxConn(u32),
    /// `set maxconn frontend F N` (0 accepts nothing, as in HAProxy).
    FrontendMaxConn(FrontendId, u32),
    /// Passed on to every core as it is.
    Cores(CoreCmd),
    /// `add server B/NAME ...`: the checker's reply goes back on `reply`.
    AddServer {
        backend: BackendId,
        cfg: Box<Server>,
        reply: crossbeam_channel::Sender<String>,
    },
    /// `del server B/S`.
    DelServer {
        backend: BackendId,
        server: ServerId,
        reply: crossbeam_channel::Sender<String>,
    },
}

/// One server's operator state, kept by the checker.
pub struct Admin {
    pub maint: Cell<bool>,
    pub drain: Cell<bool>,
    pub weight: Cell<u32>,
}

impl Admin {
    /// A server's start state.
    pub fn of(s: &Server) -> Self {
        Admin {
            maint: Cell::new(s.start.maint),
            drain: Cell::new(s.start.drain),
            weight: Cell::new(s.start.weight),
        }
    }

    /// A server `add server` put in the slot starts over from its own start state.
    pub fn reset(&self, s: &Server) {
        self.maint.set(s.start.maint);
        self.drain.set(s.start.drain);
        self.weight.set(s.start.weight);
    }

    /// The weight the cores use before slow start: 0 while draining.
    pub fn weight_in_effect(&self) -> u32 {
        if self.drain.get() {
            0
        } else {
            self.weight.get()
        }
    }

    pub fn apply(&self, c: Change) {
        match c {
            Change::State(AdminState::Ready) => {
                self.maint.set(false);
                self.drain.set(false);
            }
            Change::State(AdminState::Drain) => {
                self.maint.set(false);
                self.drain.set(true);
            }
            Change::State(AdminState::Maint) => self.maint.set(true),
            Change::Weight(w) => self.weight.set(w),
            // The checker's own state, or the cores', not the operator's (checker.rs).
            Change::Health(_)
            | Change::Addr(_)
            | Change::MaxConn(_)
            | Change::Shutdown
            | Change::CheckTarget(..) => {}
        }
    }
}

/// Every server's operator state, per backend, per server, from its start state: a `disabled`
/// server starts in maintenance, as in HAProxy, and a state file may carry more over a reload.
pub fn table(model: &Model) -> Vec<Vec<Admin>> {
    model
        .backends
        .iter()
        .map(|b| {
            // A slot kept for `add server`: in maintenance until a server fills it.
            let empty = (0..b.dynamic_slots).map(|_| Admin::of(&Server::placeholder()));
            b.servers.iter().map(Admin::of).chain(empty).collect()
        })
        .collect()
}

/// HAProxy's largest server weight.
pub const MAX_WEIGHT: u32 = 256;

/// `set server B/S weight N[%]`: the new weight, from the configured one for a percentage.
pub fn parse_weight(text: &str, configured: u32) -> Result<u32, &'static str> {
    let (num, pct) = match text.strip_suffix('%') {
        Some(n) => (n, true),
        None => (text, false),
    };
    let n: u32 = num
        .parse()
        .map_err(|_| "Require <weight> or <weight%>.\n")?;
    let w = if pct { configured * n / 100 } else { n };
    if w > MAX_WEIGHT {
        return Err("Absolute weight can only be between 0 and 256 inclusive.\n");
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_absolute_and_relative() {
        assert_eq!(parse_weight("10", 4), Ok(10));
        assert_eq!(parse_weight("50%", 4), Ok(2));
        assert!(parse_weight("300", 1).is_err());
        assert!(parse_weight("x", 1).is_err());
    }

    #[test]
    fn drain_weighs_nothing_and_ready_restores() {
        let a = Admin {
            maint: Cell::new(false),
            drain: Cell::new(false),
            weight: Cell::new(3),
        };
        a.apply(Change::State(AdminState::Drain));
        assert_eq!(a.weight_in_effect(), 0);
        a.apply(Change::State(AdminState::Maint));
        assert!(a.maint.get());
        a.apply(Change::State(AdminState::Ready));
        assert!(!a.maint.get() && !a.drain.get());
        assert_eq!(a.weight_in_effect(), 3);
    }
}
