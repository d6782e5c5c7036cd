//! The checker's view of each server for reports (stats page, CSV, metrics): state, last
//! check, transitions and downtime. Written by the checker thread after each check, read by
//! the core that renders a report; one mutex, never taken on the request path.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::model::{Backend, BackendId, Model, Server, ServerId};

/// What a server slot holds: a configured server, one the runtime API added, or nothing
/// (a slot kept for `add server`, or one `del server` emptied).
#[derive(Clone, Debug)]
pub enum SlotUse {
    Configured,
    Added(Arc<Server>),
    Empty,
}

/// One server's last known check state.
#[derive(Clone, Debug)]
pub struct CheckState {
    /// The server has `check` (else its state is its configuration's: "no check").
    pub checked: bool,
    pub up: bool,
    /// HAProxy's rise/fall counter, 0 to rise+fall-1.
    pub health: u32,
    pub rise: u32,
    pub fall: u32,
    /// The last check's result (`L4OK`, `L7STS` ...), its HTTP code, its duration and text.
    pub status: Option<&'static str>,
    pub code: Option<u16>,
    pub duration: Option<Duration>,
    /// The reason in words (`check_desc`: "Layer4 connection problem") and what the check
    /// saw (`last_chk`: "Connection refused", the response's reason), empty when nothing.
    pub desc: String,
    pub info: String,
    /// When the last check ran.
    pub last_check: Option<Instant>,
    /// When the state last changed (start-up counts as a change, as in HAProxy).
    pub last_change: Instant,
    /// Time spent down before `down_since`, and since when it is down now.
    pub downtime: Duration,
    pub down_since: Option<Instant>,
    /// Failed checks (`chkfail`) and transitions to DOWN (`chkdown`).
    pub failed: u64,
    pub went_down: u64,
    /// Percent of the weight in effect (slow start).
    pub weight_pct: u8,
    /// The operator's state (runtime API): maintenance (a `disabled` server starts in it),
    /// draining, and the weight set.
    pub maint: bool,
    pub drain: bool,
    pub admin_weight: u32,
    /// Probes run (`disable health` pauses them).
    pub check_enabled: bool,
    /// The server's address and maxconn now: the configured ones, or the runtime API's.
    pub addr: std::net::SocketAddr,
    pub maxconn: Option<u32>,
    /// The check's own address and port (configured `addr`/`port`, or the runtime API's).
    pub check_addr: Option<std::net::IpAddr>,
    pub check_port: Option<u16>,
    /// Whose slot this is.
    pub slot: SlotUse,
}

/// The servers a backend has now, with their slot index and state: the configured ones
/// not deleted, then the added ones.
pub fn live_servers<'a>(
    b: &'a Backend,
    states: Option<&'a [CheckState]>,
) -> impl Iterator<Item = (usize, &'a Server, Option<&'a CheckState>)> + 'a {
    (0..b.slot_count()).filter_map(move |si| {
        let st = states.and_then(|l| l.get(si));
        let srv = match st.map(|c| &c.slot) {
            Some(SlotUse::Added(a)) => Some(&**a),
            Some(SlotUse::Empty) => None,
            Some(SlotUse::Configured) | None => b.servers.get(si),
        }?;
        Some((si, srv, st))
    })
}

impl CheckState {
    /// A configured server's state at start.
    fn configured(s: &Server, now: Instant) -> Self {
        let check = s.check.filter(|_| !s.disabled);
        let (rise, fall) = check.map_or((0, 0), |c| (c.rise, c.fall));
        let start = s.start;
        CheckState {
            checked: check.is_some(),
            up: !s.disabled && !start.down,
            // A server in maintenance (or down) from the start is down since then.
            down_since: (start.maint || start.down).then_some(now),
            // Down from a state file: no check passed yet (HAProxy: health 0).
            health: if start.down { 0 } else { rise },
            rise,
            fall,
            status: None,
            code: None,
            duration: None,
            desc: String::new(),
            info: String::new(),
            last_check: None,
            last_change: now,
            downtime: Duration::ZERO,
            failed: 0,
            went_down: 0,
            weight_pct: 100,
            maint: start.maint,
            drain: start.drain,
            admin_weight: start.weight,
            check_enabled: start.checks_enabled,
            addr: s.addr,
            maxconn: s.maxconn,
            check_addr: check.and_then(|c| c.addr),
            check_port: check.and_then(|c| c.port),
            slot: SlotUse::Configured,
        }
    }

    /// A slot kept for `add server`.
    fn empty(now: Instant) -> Self {
        let placeholder = Server::placeholder();
        CheckState {
            slot: SlotUse::Empty,
            ..CheckState::configured(&placeholder, now)
        }
    }

    /// A server `add server` just put in a slot: in maintenance, its checks (if any) not
    /// run until `enable health`, which is when reports show them (HAProxy 2.6).
    pub fn added(s: Arc<Server>, now: Instant) -> Self {
        let check = s.check;
        CheckState {
            checked: false,
            up: true,
            maint: true,
            down_since: Some(now),
            check_enabled: false,
            check_addr: check.and_then(|c| c.addr),
            check_port: check.and_then(|c| c.port),
            ..CheckState::configured(&s, now)
        }
        .with_slot(SlotUse::Added(s))
    }

    fn with_slot(mut self, slot: SlotUse) -> Self {
        self.slot = slot;
        self
    }

    /// Total time down, counting the current outage.
    pub fn downtime_at(&self, now: Instant) -> Duration {
        self.downtime
            + self
                .down_since
                .map_or(Duration::ZERO, |d| now.saturating_duration_since(d))
    }
}

/// HAProxy's short check status for a probe's reason.
pub fn status_code(reason: &str, ok: bool) -> &'static str {
    match reason {
        "Layer4 check passed" => "L4OK",
        "Layer4 timeout" => "L4TOUT",
        "Layer4 connection problem" => "L4CON",
        "Layer6 check passed" => "L6OK",
        "Layer6 timeout" => "L6TOUT",
        "Layer6 invalid response" => "L6RSP",
        "Layer7 check passed" => "L7OK",
        "Layer7 timeout" => "L7TOUT",
        "Layer7 invalid response" => "L7RSP",
        "Layer7 wrong status" => "L7STS",
        _ if ok => "L7OK",
        _ => "SOCKERR",
    }
}

/// Every server's state, per backend, per server.
pub struct CheckTable {
    servers: Mutex<Vec<Vec<CheckState>>>,
}

impl CheckTable {
    pub fn new(model: &Model) -> Self {
        let now = Instant::now();
        let servers = model
            .backends
            .iter()
            .map(|b| {
                let empty = (0..b.dynamic_slots).map(|_| CheckState::empty(now));
                b.servers
                    .iter()
                    .map(|s| CheckState::configured(s, now))
                    .chain(empty)
                    .collect()
            })
            .collect();
        CheckTable {
            servers: Mutex::new(servers),
        }
    }

    /// A copy of one backend's servers' states.
    pub fn read_backend(&self, backend: BackendId) -> Vec<CheckState> {
        self.servers
            .lock()
            .ok()
            .and_then(|s| s.get(backend.index()).cloned())
            .unwrap_or_default()
    }

    /// A copy of every server's state.
    pub fn read(&self) -> Vec<Vec<CheckState>> {
        self.servers.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Applies `f` to one server's state and returns what it returns (the checker after a
    /// check; the runtime API for a server's address and maxconn).
    pub fn update_with<T>(
        &self,
        backend: BackendId,
        server: ServerId,
        f: impl FnOnce(&mut CheckState) -> T,
    ) -> Option<T> {
        let mut all = self.servers.lock().ok()?;
        all.get_mut(backend.index())?.get_mut(server.index()).map(f)
    }

    /// Applies `f` to one server's state (the checker, after a check).
    pub fn update(&self, backend: BackendId, server: ServerId, f: impl FnOnce(&mut CheckState)) {
        if let Ok(mut all) = self.servers.lock() {
            if let Some(s) = all
                .get_mut(backend.index())
                .and_then(|l| l.get_mut(server.index()))
            {
                f(s);
            }
        }
    }
}

/// What one check changed: its result, and the server's state after it.
pub struct CheckResult<'a> {
    pub ok: bool,
    pub reason: &'a str,
    pub code: Option<u16>,
    pub info: Option<&'a str>,
    pub took: Duration,
    pub health: u32,
    pub up: bool,
    pub weight_pct: u8,
}

impl CheckState {
    /// An operator's change; entering or leaving maintenance is a state change (downtime).
    pub fn set_admin(&mut self, maint: bool, drain: bool, weight: u32, now: Instant) {
        if maint != self.maint {
            self.last_change = now;
            if maint {
                self.went_down += 1;
                self.down_since.get_or_insert(now);
            } else if self.up || !self.checked {
                if let Some(d) = self.down_since.take() {
                    self.downtime += now.saturating_duration_since(d);
                }
            }
        }
        self.maint = maint;
        self.drain = drain;
        self.admin_weight = weight;
    }

    /// Records a check and the transition it caused, if any.
    pub fn apply(&mut self, r: &CheckResult<'_>, now: Instant) {
        self.status = Some(status_code(r.reason, r.ok));
        self.code = r.code;
        self.duration = Some(r.took);
        self.desc = r.reason.to_string();
        self.info = r.info.unwrap_or("").to_string();
        self.last_check = Some(now);
        self.health = r.health;
        self.weight_pct = r.weight_pct;
        if !r.ok {
            self.failed += 1;
        }
        if r.up != self.up {
            self.last_change = now;
            if r.up {
                if let Some(d) = self.down_since.take() {
                    self.downtime += now.saturating_duration_since(d);
                }
            } else {
                self.went_down += 1;
                self.down_since = Some(now);
            }
            self.up = r.up;
        }
    }
}
