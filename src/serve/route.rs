//! The route a request takes: its frontend and, once `use_backend` has chosen, its backend, and
//! every setting that the two decide together.
//!
//! HAProxy lets most proxy settings be written in a frontend, a backend or both, and each has
//! its own rule for which copy wins (the stricter connection mode, the backend's errorfile
//! first, the backend's tunnel timeout over the frontend's client timeout, ...). Those rules
//! live here and nowhere else: the pipeline stages ask the `Route` instead of looking at the
//! `Frontend` and the `Backend` side by side.
//!
//! A `Route` is a few borrowed pointers, built per request at no cost; its answers are computed
//! when asked, exactly as the stages computed them before. Before `use_backend` a request's
//! route is its frontend alone (`Route::frontend_only`), as a HAProxy stream's backend is its
//! frontend until the switching rules pick one: each rule then reads the frontend's setting.

use std::time::Duration;

use crate::config::model::{Backend, ErrorFiles, ForwardFor, Frontend, HttpConnMode};

#[derive(Clone, Copy, Debug)]
pub struct Route<'a> {
    fe: &'a Frontend,
    be: Option<&'a Backend>,
    /// The backend's errorfiles then the frontend's; only the first entry without a backend.
    errorfiles: [&'a ErrorFiles; 2],
}

/// The idle timeouts of a tunnel (mode tcp, or HTTP after an upgrade or CONNECT), per side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelTimeouts {
    /// How long the client side may stay quiet: `timeout tunnel`, else `timeout client`.
    pub client: Option<Duration>,
    /// How long the server side may stay quiet: `timeout tunnel`, else `timeout server`.
    pub server: Option<Duration>,
}

impl<'a> Route<'a> {
    /// A request routed from `fe` to `be`.
    pub fn new(fe: &'a Frontend, be: &'a Backend) -> Self {
        Route {
            fe,
            be: Some(be),
            errorfiles: [&be.errorfiles, &fe.errorfiles],
        }
    }

    /// A request (or a connection between requests) before `use_backend` chose a backend.
    pub fn frontend_only(fe: &'a Frontend) -> Self {
        Route {
            fe,
            be: None,
            errorfiles: [&fe.errorfiles, &fe.errorfiles],
        }
    }

    pub fn frontend(&self) -> &'a Frontend {
        self.fe
    }

    pub fn backend(&self) -> Option<&'a Backend> {
        self.be
    }

    /// A `listen` section routing to itself: one proxy, whose rules run once, not twice.
    pub fn same_proxy(&self) -> bool {
        self.be
            .is_some_and(|be| be.listen_frontend && be.name == self.fe.name)
    }

    /// The name HAProxy gives the proxy answering (an `auth` realm by default): the backend's,
    /// or the frontend's before routing.
    pub fn proxy_name(&self) -> &'a str {
        self.be.map_or(&self.fe.name, |be| &be.name)
    }

    /// How the connections live: the stricter of the frontend's and the backend's mode.
    pub fn conn_mode(&self) -> HttpConnMode {
        self.be
            .map_or(self.fe.conn_mode, |be| self.fe.conn_mode.max(be.conn_mode))
    }

    /// Whether the client connection may stay open after this request: the client asked for
    /// it (`asked`, from its version and `Connection` header), the route does not close, and
    /// the worker is not stopping.
    pub fn client_keep_alive(&self, asked: bool, stopping: bool) -> bool {
        asked && self.conn_mode() != HttpConnMode::Close && !stopping
    }

    /// Whether server connections may outlive a request (only under `http-keep-alive` on both
    /// sides; `http-server-close` and `httpclose` close them).
    pub fn server_keep_alive(&self) -> bool {
        self.conn_mode() == HttpConnMode::KeepAlive
    }

    /// Where an error page is looked for, in order: the backend's errorfiles, then the
    /// frontend's (HAProxy's own page comes after them; see `error_page`).
    pub fn errorfiles(&self) -> &[&'a ErrorFiles] {
        let n = if self.be.is_some() { 2 } else { 1 };
        &self.errorfiles[..n]
    }

    /// The configured `errorfile` for `status`, the backend's before the frontend's.
    pub fn errorfile(&self, status: u16) -> Option<&'a [u8]> {
        self.errorfiles()
            .iter()
            .find_map(|files| files.get(&status))
            .map(|bytes| &**bytes)
    }

    /// The error page for `status`: an `errorfile` when one is configured, else HAProxy's.
    pub fn error_page(&self, status: u16) -> Vec<u8> {
        match self.errorfile(status) {
            Some(bytes) => bytes.to_vec(),
            None => crate::http::error_response(status).to_vec(),
        }
    }

    /// `option forwardfor`: the backend's, else the frontend's.
    pub fn forwardfor(&self) -> Option<&'a ForwardFor> {
        self.be
            .and_then(|be| be.forwardfor.as_ref())
            .or(self.fe.forwardfor.as_ref())
    }

    /// `option originalto`: the backend's, else the frontend's.
    pub fn originalto(&self) -> Option<&'a ForwardFor> {
        self.be
            .and_then(|be| be.originalto.as_ref())
            .or(self.fe.originalto.as_ref())
    }

    /// How long `http-request tarpit` holds a request: the backend's `timeout tarpit`, else its
    /// `timeout connect`, else the frontend's two in the same order (HAProxy 2.6).
    pub fn tarpit(&self) -> Option<Duration> {
        self.be
            .and_then(|be| be.timeouts.tarpit.or(be.timeouts.connect))
            .or(self.fe.timeouts.tarpit)
            .or(self.fe.timeouts.connect)
    }

    /// A tunnel's idle timeouts: the backend's `timeout tunnel` on both sides when set, else
    /// the frontend's `timeout client` on the client side and the backend's `timeout server`
    /// on the server side, as HAProxy does. Before routing there is no server side.
    pub fn tunnel_timeouts(&self) -> TunnelTimeouts {
        let tunnel = self.be.and_then(|be| be.timeouts.tunnel);
        TunnelTimeouts {
            client: tunnel.or(self.fe.timeouts.client),
            server: tunnel.or(self.be.and_then(|be| be.timeouts.server)),
        }
    }

    /// How long a request body may stall once its head went to the server. HAProxy 2.6
    /// (streaming the body, as ringlb always does) waits for the server's answer under `timeout
    /// server` and does not apply `timeout client` or `timeout http-request` meanwhile: a
    /// stalled body gets 504 when `timeout server` fires. Without `timeout server` HAProxy
    /// waits forever; ringlb answers 408 at `timeout client` instead (`stalled_body_status`).
    pub fn stalled_body_limit(&self) -> Option<Duration> {
        self.be
            .and_then(|be| be.timeouts.server)
            .or(self.fe.timeouts.client)
    }

    /// The status of a stalled request body (see `stalled_body_limit`).
    pub fn stalled_body_status(&self) -> u16 {
        if self.be.is_some_and(|be| be.timeouts.server.is_some()) {
            504
        } else {
            408
        }
    }

    /// How long a request head may take to arrive: the frontend's `timeout http-request`,
    /// else its `timeout client` (HAProxy; the head is read before any backend is known).
    pub fn head_limit(&self) -> Option<Duration> {
        let t = &self.fe.timeouts;
        t.http_request.or(t.client)
    }

    /// How long a keep-alive client connection may wait for its next request: the frontend's
    /// `timeout http-keep-alive`, else the head limit (HAProxy).
    pub fn keep_alive_limit(&self) -> Option<Duration> {
        self.fe.timeouts.http_keep_alive.or(self.head_limit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Model;

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    fn model(sections: &str) -> Model {
        let cfg = format!("defaults\n mode http\n timeout connect 1s\n timeout client 2s\n timeout server 3s\n{sections}");
        crate::config::load_str("route.cfg", &cfg)
            .map_err(|e| format!("{e:?}"))
            .unwrap()
            .model
    }

    /// The frontend named `fe` and the backend named `be`.
    fn pair<'m>(m: &'m Model, fe: &str, be: &str) -> (&'m Frontend, &'m Backend) {
        let f = m.frontends.iter().find(|f| f.name == fe).unwrap();
        let b = m.backends.iter().find(|b| b.name == be).unwrap();
        (f, b)
    }

    /// An errorfile whose body is `body`, written for the test.
    fn page(body: &str) -> String {
        let dir = std::env::temp_dir().join(format!("ringlb-route-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.http", body.trim_end_matches('!')));
        let body = format!(
            "HTTP/1.0 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    }

    #[test]
    fn connection_mode_is_the_stricter_of_the_two() {
        let m = model(
            "frontend ka\n bind 127.0.0.1:0\n default_backend close\n\
             frontend sc\n bind 127.0.0.1:0\n option http-server-close\n default_backend ka\n\
             backend close\n option httpclose\n server s 127.0.0.1:1\n\
             backend ka\n server s 127.0.0.1:1\n",
        );
        let (fe, be) = pair(&m, "ka", "close");
        let r = Route::new(fe, be);
        assert_eq!(r.conn_mode(), HttpConnMode::Close);
        assert!(!r.client_keep_alive(true, false));
        assert!(!r.server_keep_alive());
        let (fe, be) = pair(&m, "sc", "ka");
        let r = Route::new(fe, be);
        assert_eq!(r.conn_mode(), HttpConnMode::ServerClose);
        assert!(r.client_keep_alive(true, false));
        assert!(!r.client_keep_alive(false, false), "the client did not ask");
        assert!(!r.client_keep_alive(true, true), "the worker is stopping");
        assert!(!r.server_keep_alive());
        assert_eq!(
            Route::frontend_only(fe).conn_mode(),
            HttpConnMode::ServerClose
        );
        let (fe, be) = pair(&m, "ka", "ka");
        assert!(Route::new(fe, be).server_keep_alive());
    }

    #[test]
    fn errorfiles_backend_then_frontend_then_haproxys() {
        let (fe_page, be_page) = (page("frontend"), page("backend!"));
        let m = model(&format!(
            "frontend f\n bind 127.0.0.1:0\n errorfile 503 {fe_page}\n errorfile 504 {fe_page}\n default_backend b\n\
             backend b\n errorfile 503 {be_page}\n server s 127.0.0.1:1\n\
             backend plain\n server s 127.0.0.1:1\n"
        ));
        let (fe, be) = pair(&m, "f", "b");
        let r = Route::new(fe, be);
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        assert!(text(r.error_page(503)).ends_with("backend!"));
        assert!(text(r.error_page(504)).ends_with("frontend"));
        assert_eq!(r.error_page(502), crate::http::error_response(502).to_vec());
        assert_eq!(r.errorfiles().len(), 2);
        let alone = Route::frontend_only(fe);
        assert!(text(alone.error_page(503)).ends_with("frontend"));
        assert_eq!(alone.errorfiles().len(), 1);
        let (fe, plain) = pair(&m, "f", "plain");
        assert!(text(Route::new(fe, plain).error_page(503)).ends_with("frontend"));
    }

    #[test]
    fn forwardfor_and_originalto_backend_over_frontend() {
        let m = model(
            "frontend f\n bind 127.0.0.1:0\n option forwardfor header x-fe\n option originalto header x-fe-to\n default_backend b\n\
             backend b\n option forwardfor header x-be\n server s 127.0.0.1:1\n\
             backend plain\n server s 127.0.0.1:1\n",
        );
        // Through the frontend's default_backend, as a request matching no use_backend goes.
        let fe = &m.frontends[0];
        let be = fe.default_backend.and_then(|id| m.backend(id)).unwrap();
        assert_eq!(be.name, "b");
        let r = Route::new(fe, be);
        assert_eq!(r.forwardfor().unwrap().header, "x-be");
        assert_eq!(r.originalto().unwrap().header, "x-fe-to");
        let (fe, plain) = pair(&m, "f", "plain");
        let r = Route::new(fe, plain);
        assert_eq!(r.forwardfor().unwrap().header, "x-fe");
        assert_eq!(
            Route::frontend_only(fe).forwardfor().unwrap().header,
            "x-fe"
        );
    }

    #[test]
    fn tarpit_backend_tarpit_connect_then_frontend_tarpit_connect() {
        let m = model(
            "frontend f\n bind 127.0.0.1:0\n timeout tarpit 7s\n default_backend b\n\
             backend b\n timeout tarpit 5s\n server s 127.0.0.1:1\n\
             backend c\n server s 127.0.0.1:1\n\
             defaults\n mode http\n timeout connect 9s\n timeout client 2s\n\
             frontend g\n bind 127.0.0.1:0\n default_backend d\n\
             defaults\n mode http\n timeout client 2s\n timeout server 3s\n\
             backend d\n server s 127.0.0.1:1\n",
        );
        let (f, b) = pair(&m, "f", "b");
        assert_eq!(Route::new(f, b).tarpit(), secs(5), "backend's tarpit");
        let (f, c) = pair(&m, "f", "c");
        assert_eq!(Route::new(f, c).tarpit(), secs(1), "backend's connect");
        assert_eq!(
            Route::frontend_only(f).tarpit(),
            secs(7),
            "frontend's tarpit"
        );
        let (g, d) = pair(&m, "g", "d");
        assert_eq!(Route::new(g, d).tarpit(), secs(9), "frontend's connect");
        assert_eq!(
            Route::new(f, d).tarpit(),
            secs(7),
            "frontend's tarpit, routed"
        );
    }

    #[test]
    fn tunnel_timeouts_tunnel_else_client_and_server() {
        let m = model(
            "frontend f\n bind 127.0.0.1:0\n default_backend t\n\
             backend t\n timeout tunnel 8s\n server s 127.0.0.1:1\n\
             backend plain\n server s 127.0.0.1:1\n",
        );
        let (fe, t) = pair(&m, "f", "t");
        let tunnel = TunnelTimeouts {
            client: secs(8),
            server: secs(8),
        };
        assert_eq!(Route::new(fe, t).tunnel_timeouts(), tunnel);
        let (fe, plain) = pair(&m, "f", "plain");
        let fallback = TunnelTimeouts {
            client: secs(2),
            server: secs(3),
        };
        assert_eq!(Route::new(fe, plain).tunnel_timeouts(), fallback);
    }

    #[test]
    fn stalled_body_waits_under_timeout_server_else_client() {
        let m = model(
            "frontend f\n bind 127.0.0.1:0\n default_backend b\n\
             backend b\n server s 127.0.0.1:1\n\
             defaults\n mode http\n timeout connect 1s\n timeout client 2s\n\
             backend noserver\n server s 127.0.0.1:1\n",
        );
        let (fe, be) = pair(&m, "f", "b");
        let r = Route::new(fe, be);
        assert_eq!(
            (r.stalled_body_limit(), r.stalled_body_status()),
            (secs(3), 504)
        );
        let (fe, be) = pair(&m, "f", "noserver");
        let r = Route::new(fe, be);
        assert_eq!(
            (r.stalled_body_limit(), r.stalled_body_status()),
            (secs(2), 408)
        );
    }

    #[test]
    fn head_and_keep_alive_limits_are_the_frontends() {
        let m = model(
            "frontend f\n bind 127.0.0.1:0\n timeout http-request 4s\n timeout http-keep-alive 6s\n default_backend b\n\
             frontend g\n bind 127.0.0.1:0\n default_backend b\n\
             backend b\n timeout http-request 9s\n timeout http-keep-alive 9s\n server s 127.0.0.1:1\n",
        );
        let (f, b) = pair(&m, "f", "b");
        let r = Route::new(f, b);
        assert_eq!((r.head_limit(), r.keep_alive_limit()), (secs(4), secs(6)));
        let (g, b) = pair(&m, "g", "b");
        let r = Route::frontend_only(g);
        assert_eq!((r.head_limit(), r.keep_alive_limit()), (secs(2), secs(2)));
        assert_eq!(Route::new(g, b).head_limit(), secs(2));
    }

    #[test]
    fn a_listen_routing_to_itself_is_one_proxy() {
        let m = model(
            "listen l\n bind 127.0.0.1:0\n server s 127.0.0.1:1\n\
             backend other\n server s 127.0.0.1:1\n\
             frontend f\n bind 127.0.0.1:0\n default_backend l\n",
        );
        let (l_fe, l_be) = pair(&m, "l", "l");
        assert_eq!(
            l_fe.default_backend
                .map(|id| m.backend(id).unwrap().name.as_str()),
            Some("l")
        );
        let r = Route::new(l_fe, l_be);
        assert!(r.same_proxy());
        assert_eq!(r.proxy_name(), "l");
        let (_, other) = pair(&m, "l", "other");
        assert!(!Route::new(l_fe, other).same_proxy());
        let (f, l_be) = pair(&m, "f", "l");
        let r = Route::new(f, l_be);
        assert!(!r.same_proxy(), "another frontend routing to a listen");
        assert_eq!(r.proxy_name(), "l");
        assert_eq!(Route::frontend_only(f).proxy_name(), "f");
        assert!(!Route::frontend_only(l_fe).same_proxy());
    }
}
