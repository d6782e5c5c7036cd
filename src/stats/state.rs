//! A server's state as its `status` column spells it (`UP`, `UP 1/3`, `DOWN 1/2`, `NOLB`,
//! `DRAIN`, `MAINT (via be/s1)`, `no check` ...), read once here for every renderer: the
//! HTML row colours, `;up`, and the Prometheus exporter's one-hot `state` labels.

use super::fields::Field;
use super::snapshot::{ProxyStats, Row};

/// What a server's `status` string says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    Up,
    /// `UP 1/3`: up, but failing checks.
    GoingDown,
    /// `DOWN 1/2`: down, but passing checks.
    GoingUp,
    Down,
    Nolb,
    Drain,
    Maint,
    /// `no check`: never checked, so taken as up.
    NoCheck,
}

impl ServerState {
    /// None for a status this parser does not know (the renderers then show no state).
    pub fn parse(status: &str) -> Option<ServerState> {
        let transitional = status.contains('/');
        if status.starts_with("MAINT") {
            Some(ServerState::Maint)
        } else if status.starts_with("DRAIN") {
            Some(ServerState::Drain)
        } else if status.starts_with("NOLB") {
            Some(ServerState::Nolb)
        } else if status == "no check" {
            Some(ServerState::NoCheck)
        } else if status.starts_with("UP") {
            Some(if transitional {
                ServerState::GoingDown
            } else {
                ServerState::Up
            })
        } else if status.starts_with("DOWN") {
            Some(if transitional {
                ServerState::GoingUp
            } else {
                ServerState::Down
            })
        } else {
            None
        }
    }

    pub fn of(row: &Row) -> Option<ServerState> {
        ServerState::parse(row.text(Field::Status))
    }

    /// HAProxy's "running" servers (not stopped): what `;up`'s `UP (n/m)` counts.
    pub fn is_running(self) -> bool {
        !matches!(
            self,
            ServerState::Down | ServerState::GoingUp | ServerState::Maint
        )
    }

    /// What `;up` hides: servers in maintenance and servers down with no check passing.
    pub fn hidden_by_up_only(self) -> bool {
        matches!(self, ServerState::Down | ServerState::Maint)
    }

    /// The Prometheus exporter's `state` label value (`haproxy_server_status`).
    pub fn prom_label(self) -> &'static str {
        match self {
            ServerState::Up | ServerState::GoingDown | ServerState::NoCheck => "UP",
            ServerState::Down | ServerState::GoingUp => "DOWN",
            ServerState::Maint => "MAINT",
            ServerState::Drain => "DRAIN",
            ServerState::Nolb => "NOLB",
        }
    }
}

/// The exporter's server states, in its label order.
pub const PROM_SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];

/// The exporter's check states (`haproxy_server_check_status`), in its label order.
pub const PROM_CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];

/// The servers a report shows: all, or with `;up` those that are not down or in maintenance
/// (a status this module cannot read is shown).
pub fn server_shown(row: &Row, up_only: bool) -> bool {
    !up_only || !ServerState::of(row).is_some_and(ServerState::hidden_by_up_only)
}

/// The backend's `status` as `;up` prints it: `UP (running/all)`, so that the hidden servers
/// are still counted somewhere.
pub fn backend_status_up_only(px: &ProxyStats, backend: &Row) -> String {
    let running = px
        .servers
        .iter()
        .filter(|s| ServerState::of(s).is_some_and(ServerState::is_running))
        .count();
    format!(
        "{} ({}/{})",
        backend.text(Field::Status),
        running,
        px.servers.len()
    )
}

/// Whether a report shows this proxy: `stats scope` lists names (all when empty).
pub fn proxy_in_scope(px: &ProxyStats, scope: &[String]) -> bool {
    scope.is_empty() || scope.contains(&px.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parses_haproxys_status_strings() {
        use ServerState::*;
        for (status, state, prom, hidden) in [
            ("UP", Up, "UP", false),
            ("UP 1/3", GoingDown, "UP", false),
            ("DOWN 1/2", GoingUp, "DOWN", false),
            ("DOWN", Down, "DOWN", true),
            ("DOWN (agent)", Down, "DOWN", true),
            ("NOLB", Nolb, "NOLB", false),
            ("NOLB 1/3", Nolb, "NOLB", false),
            ("DRAIN", Drain, "DRAIN", false),
            ("DRAIN (agent)", Drain, "DRAIN", false),
            ("MAINT", Maint, "MAINT", true),
            ("MAINT (via be/s1)", Maint, "MAINT", true),
            ("MAINT (resolution)", Maint, "MAINT", true),
            ("no check", NoCheck, "UP", false),
        ] {
            let st = ServerState::parse(status);
            assert_eq!(st, Some(state), "{status}");
            assert_eq!(state.prom_label(), prom, "{status}");
            assert_eq!(state.hidden_by_up_only(), hidden, "{status}");
        }
        assert_eq!(ServerState::parse("OPEN"), None);
    }
}
