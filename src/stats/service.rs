//! The requests ringlb answers itself with what it knows: the stats page (`stats uri`,
//! `;csv`, `;json`, `;norefresh`, `;up`), `monitor-uri`, and the Prometheus exporter
//! (`http-request use-service prometheus-exporter`). Each becomes a complete response
//! (`rules::reply::Answer`) that the request level writes like a rule's answer.

use std::sync::Arc;

use base64::Engine;

use super::{collect, csv, html, json, prom, RenderOptions};
use crate::config::model::{ErrorFiles, StatsPage};
use crate::rules::reply::{self, Answer};
use crate::worker::Worker;

/// What answers a request instead of a server.
#[derive(Clone, Debug)]
pub enum Intercept {
    /// `monitor-uri`: "Service ready".
    Monitor,
    /// The stats page of a proxy.
    Stats(Arc<StatsPage>),
    /// `use-service prometheus-exporter`.
    Prometheus,
}

/// HAProxy 2.6's `monitor-uri` page.
const MONITOR_BODY: &str = "<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n";

/// The request is for the stats page: its URI starts with `stats uri` (HAProxy compares the
/// prefix only, so `/stats;csv` and `/stats?x` are the page too).
pub fn is_stats_request(page: &StatsPage, target: &[u8]) -> bool {
    compared_part(&page.uri, target).starts_with(page.uri.as_bytes())
}

/// The request is for `monitor-uri`: the whole URI equals it.
pub fn is_monitor_request(uri: &str, target: &[u8]) -> bool {
    compared_part(uri, target) == uri.as_bytes()
}

/// What `stats uri` and `monitor-uri` are compared with: as HAProxy 2.6 does, a URI that
/// starts with `/` meets the target's path and query, also in an absolute-form target (every
/// HTTP/2 request's, serve/h2/head.rs); any other is compared with the whole target.
fn compared_part<'t>(uri: &str, target: &'t [u8]) -> &'t [u8] {
    if uri.starts_with('/') {
        crate::http::origin_form(target)
    } else {
        target
    }
}

/// What the request asked of the stats page after the prefix (`;csv;norefresh` ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub format: Format,
    pub norefresh: bool,
    pub up_only: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Html,
    Csv,
    Json,
}

/// Reads the `;` options after the page's URI, as HAProxy does (unknown ones are ignored).
pub fn page_request(page: &StatsPage, target: &[u8]) -> PageRequest {
    let rest = target.get(page.uri.len()..).unwrap_or(&[]);
    let mut out = PageRequest::default();
    for opt in rest.split(|&b| b == b';').skip(1) {
        // An option ends where a query or another separator starts.
        let word = opt.split(|&b| b == b'?' || b == b'&').next().unwrap_or(&[]);
        match word {
            b"csv" => out.format = Format::Csv,
            b"json" => out.format = Format::Json,
            b"norefresh" => out.norefresh = true,
            b"up" => out.up_only = true,
            _ => {}
        }
    }
    out
}

/// The user and password of an `Authorization: Basic` value are one of the page's users.
pub fn authorized(page: &StatsPage, authorization: Option<&[u8]>) -> bool {
    if page.users.is_empty() {
        return true;
    }
    let Some(value) = authorization else {
        return false;
    };
    let value = value.trim_ascii();
    let Some(cred) = value
        .get(..6)
        .filter(|s| s.eq_ignore_ascii_case(b"basic "))
        .and_then(|_| value.get(6..))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(cred.trim_ascii()) else {
        return false;
    };
    page.users
        .iter()
        .any(|(u, p)| decoded == format!("{u}:{p}").as_bytes())
}

/// The answer to an intercepted request.
pub fn answer(
    w: &Worker,
    what: &Intercept,
    target: &[u8],
    authorization: Option<&[u8]>,
    errorfiles: &[&ErrorFiles],
) -> Answer {
    match what {
        Intercept::Monitor => ok("text/html", None, MONITOR_BODY.as_bytes()),
        Intercept::Prometheus => metrics(w, target, errorfiles),
        Intercept::Stats(page) => {
            if !authorized(page, authorization) {
                return reply::auth(&page.realm, errorfiles);
            }
            stats_page(w, page, target)
        }
    }
}

/// The `scope=` values of a query (`/metrics?scope=server&scope=backend`), as HAProxy reads
/// them; `None` when there is none (everything is exported).
pub fn metric_scopes(target: &[u8]) -> Option<Vec<String>> {
    let query = target.splitn(2, |&b| b == b'?').nth(1)?;
    let scopes: Vec<String> = query
        .split(|&b| b == b'&')
        .filter_map(|kv| kv.strip_prefix(b"scope="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    (!scopes.is_empty()).then_some(scopes)
}

fn metrics(w: &Worker, target: &[u8], errorfiles: &[&ErrorFiles]) -> Answer {
    let snap = collect::snapshot(w);
    let body = match metric_scopes(target) {
        None => prom::render(&snap),
        Some(scopes) if scopes.iter().all(|s| prom::is_valid_scope(s)) => {
            let refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
            prom::render_scoped(&snap, &refs)
        }
        // HAProxy answers an unknown scope with 400.
        Some(_) => return reply::error_page(400, errorfiles),
    };
    ok("text/plain; version=0.0.4", None, body.as_bytes())
}

fn stats_page(w: &Worker, page: &StatsPage, target: &[u8]) -> Answer {
    let req = page_request(page, target);
    let refresh = page.refresh.filter(|_| !req.norefresh);
    let opts = RenderOptions {
        uri: page.uri.clone(),
        hide_version: page.hide_version,
        show_legends: page.show_legends,
        // An empty name or text: the global `node` / `description` (html.rs reads them).
        show_node: page.show_node.clone(),
        show_desc: page.show_desc.clone(),
        refresh,
        up_only: req.up_only,
        scope: page.scope.clone(),
    };
    let snap = collect::snapshot(w);
    let refresh_s = refresh.map(|d| d.as_secs().max(1));
    match req.format {
        Format::Csv => ok(
            "text/plain",
            refresh_s,
            csv::render(&snap, &opts).as_bytes(),
        ),
        Format::Json => ok(
            "application/json",
            refresh_s,
            json::render(&snap, &opts).as_bytes(),
        ),
        Format::Html => ok(
            "text/html",
            refresh_s,
            html::render(&snap, &opts).as_bytes(),
        ),
    }
}

/// A 200 with HAProxy's headers for its own pages.
fn ok(content_type: &str, refresh: Option<u64>, body: &[u8]) -> Answer {
    let mut bytes = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncache-control: no-cache\r\ncontent-type: {content_type}\r\n",
        body.len()
    )
    .into_bytes();
    if let Some(r) = refresh {
        bytes.extend_from_slice(format!("refresh: {r}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    Answer {
        bytes,
        framed: true,
        close: false,
        tarpit: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(users: &[(&str, &str)]) -> StatsPage {
        StatsPage {
            uri: "/stats".into(),
            realm: "HAProxy Statistics".into(),
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            refresh: None,
            hide_version: false,
            show_legends: false,
            show_node: None,
            show_desc: None,
            scope: Vec::new(),
        }
    }

    #[test]
    fn options_after_the_prefix() {
        let p = page(&[]);
        assert!(is_stats_request(&p, b"/stats;csv"));
        assert!(is_stats_request(&p, b"/statsx"));
        assert!(!is_stats_request(&p, b"/stat"));
        // An absolute-form target (HTTP/1 through a proxy, every HTTP/2 request) meets the
        // page by its path, as in HAProxy 2.6.
        assert!(is_stats_request(&p, b"http://lb.example:8080/stats;csv"));
        assert!(!is_stats_request(&p, b"http://lb.example/other"));
        let r = page_request(&p, b"/stats;csv;norefresh;up");
        assert_eq!(
            r,
            PageRequest {
                format: Format::Csv,
                norefresh: true,
                up_only: true
            }
        );
        assert_eq!(page_request(&p, b"/stats;json").format, Format::Json);
        assert_eq!(page_request(&p, b"/stats").format, Format::Html);
    }

    #[test]
    fn basic_credentials() {
        let p = page(&[("id", "password")]);
        let b64 = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(authorized(&p, Some(b64("id:password").as_bytes())));
        assert!(!authorized(&p, Some(b64("id:wrong").as_bytes())));
        assert!(!authorized(&p, Some(b64("id:passwordx").as_bytes())));
        assert!(!authorized(&p, Some(b64("idx:password").as_bytes())));
        assert!(!authorized(&p, None));
        assert!(!authorized(&p, Some(b"Bearer abc")));
        assert!(authorized(&page(&[]), None));
    }

    #[test]
    fn metric_scopes_from_the_query() {
        assert_eq!(metric_scopes(b"/metrics"), None);
        assert_eq!(metric_scopes(b"/metrics?x=1"), None);
        assert_eq!(
            metric_scopes(b"/metrics?scope=server&scope=backend"),
            Some(vec!["server".to_string(), "backend".to_string()])
        );
    }

    #[test]
    fn monitor_matches_the_whole_uri() {
        assert!(is_monitor_request("/healthz", b"/healthz"));
        assert!(!is_monitor_request("/healthz", b"/healthz?x"));
        assert!(is_monitor_request(
            "/healthz",
            b"HTTPS://lb.example/healthz"
        ));
        assert!(!is_monitor_request(
            "/healthz",
            b"http://lb.example/healthz?x"
        ));
    }
}
