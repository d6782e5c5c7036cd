//! Requests ringlb answers itself instead of a server: `monitor-uri` (checked first, before
//! any rule, as HAProxy does), a proxy's stats page (after that proxy's `http-request`
//! rules), `use-service prometheus-exporter` (a rule).

use std::sync::Arc;

use super::downstream::Downstream;
use super::record::{self, RuleAnswer};
use super::route::Route;
use super::{Early, Next, Session};
use crate::config::model::StatsPage;
use crate::stats::service::{self, Intercept};

impl<'a, D: Downstream> Session<'a, D> {
    fn target(&self) -> &[u8] {
        self.conn
            .head_bytes()
            .get(self.req.target.clone())
            .unwrap_or(&[])
    }

    /// The request is for the frontend's `monitor-uri`.
    pub(super) fn is_monitor_request(&self) -> bool {
        self.fe
            .monitor_uri
            .as_deref()
            .is_some_and(|u| service::is_monitor_request(u, self.target()))
    }

    /// `Err` when `page` (the stats page of the proxy whose rules just ran) is asked for.
    pub(super) fn check_stats(
        &self,
        page: Option<&Arc<StatsPage>>,
        route: Route<'_>,
    ) -> Result<(), Early> {
        match page {
            Some(p) if service::is_stats_request(p, self.target()) => {
                let keep_alive = route.client_keep_alive(self.req.keep_alive, self.w.is_stopping());
                Err(Early::Intercept(
                    Intercept::Stats(Arc::clone(p)),
                    keep_alive,
                ))
            }
            _ => Ok(()),
        }
    }

    /// Answers an intercepted request and records it as HAProxy logs it: `LR`, the server
    /// named `<STATS>` or `<PROMEX>`; a monitor request is not logged at all.
    pub(super) async fn intercept(&mut self, what: Intercept, client_keep_alive: bool) -> Next {
        self.rec
            .end(record::rule_answered(RuleAnswer::Local, false));
        self.rec.service = match what {
            Intercept::Monitor => Some("<MONITOR>"),
            Intercept::Stats(_) => Some("<STATS>"),
            Intercept::Prometheus => Some("<PROMEX>"),
        };
        if let Some(c) = self.w.stats.mine() {
            if let Some(fe) = c.frontends.get(self.rec.frontend.index()) {
                fe.intercepted.inc();
            }
        }
        let route = match self.rec.backend.and_then(|b| self.w.model.backend(b)) {
            Some(be) => Route::new(self.fe, be),
            None => self.unrouted(),
        };
        let buf = self.conn.head_bytes();
        let auth = crate::http::header_value(buf, &self.req.headers, "authorization");
        let answer = service::answer(self.w, &what, self.target(), auth, route.errorfiles());
        self.answer(answer, None, client_keep_alive).await
    }
}
