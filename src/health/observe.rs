//! Passive health (`observe layer4|layer7`): what live traffic says about a server.
//!
//! Each core counts consecutive errors per server itself and sends the checker one report per
//! error, plus one "recovered" report when a success ends a run of errors: a healthy server
//! costs the request path nothing but a counter check. The checker adds the cores' reports up
//! and applies `on-error` once `error-limit` consecutive errors are reached (checker.rs).

use super::view::HealthView;
use crate::config::model::{BackendId, ServerId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A connection to the server succeeded (ends a run of errors under layer4 only).
    ConnectOk,
    /// A response with a good status (ends a run of errors under layer7).
    ResponseOk,
    /// A connection to the server failed (layer4 and layer7).
    ConnectFailed,
    /// A response with a status HAProxy counts as an error: 500-599 but 501 and 505 (layer7).
    BadStatus(u16),
    /// No usable response (invalid, timed out, closed early) (layer7).
    BadResponse,
}

impl Outcome {
    /// HAProxy's wording for the last error in "Detected N consecutive errors, last one was: ...".
    pub fn describe(self) -> String {
        match self {
            Outcome::ConnectOk | Outcome::ResponseOk => "no error".into(),
            Outcome::ConnectFailed => "Connection error".into(),
            Outcome::BadStatus(s) => format!("Wrong HTTP response (status {s})"),
            Outcome::BadResponse => "Invalid or missing HTTP response".into(),
        }
    }

    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::ConnectOk | Outcome::ResponseOk)
    }

    /// Whether this outcome means anything at the observed layer (HAProxy's analyze table:
    /// layer4 looks at connections only; layer7 at responses and failed connections, and a
    /// mere successful connect does not end a run of bad responses).
    fn counts_at(self, layer7: bool) -> bool {
        match self {
            Outcome::ConnectOk => !layer7,
            Outcome::ConnectFailed => true,
            Outcome::ResponseOk | Outcome::BadStatus(_) | Outcome::BadResponse => layer7,
        }
    }

    /// Classifies a response status as `observe layer7` does.
    pub fn of_status(status: u16) -> Outcome {
        if (100..=499).contains(&status) || status == 501 || status == 505 {
            Outcome::ResponseOk
        } else {
            Outcome::BadStatus(status)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    pub backend: BackendId,
    pub server: ServerId,
    pub outcome: Outcome,
}

impl HealthView {
    /// Records what one exchange with a server showed, when that server is observed at the
    /// outcome's layer.
    pub fn observe(
        &self,
        obs: Option<crate::config::model::Observe>,
        backend: BackendId,
        server: ServerId,
        outcome: Outcome,
    ) {
        let Some(obs) = obs else {
            return;
        };
        if !outcome.counts_at(obs.layer7) {
            return;
        }
        let Some(count) = self.error_count(backend, server) else {
            return;
        };
        if outcome.is_ok() {
            if count.get() > 0 {
                count.set(0);
                self.send(Report {
                    backend,
                    server,
                    outcome,
                });
            }
            return;
        }
        count.set(count.get().saturating_add(1));
        self.send(Report {
            backend,
            server,
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer7_status_classes() {
        assert_eq!(Outcome::of_status(200), Outcome::ResponseOk);
        assert_eq!(Outcome::of_status(404), Outcome::ResponseOk);
        assert_eq!(Outcome::of_status(501), Outcome::ResponseOk);
        assert_eq!(Outcome::of_status(505), Outcome::ResponseOk);
        assert_eq!(Outcome::of_status(500), Outcome::BadStatus(500));
        assert_eq!(Outcome::of_status(503), Outcome::BadStatus(503));
    }
}
